//! One integration binary: scenarios through real AWS SDK clients, the aws CLI and raw HTTP
//! against a Klaxon server on 127.0.0.1:0.

mod activation;
mod channels;
mod chat;
mod cli;
mod codegen;
mod console;
mod contacts;
mod crash;
mod email;
mod engagements;
mod engine_nodes;
mod helpers;
mod import;
mod incidents_records;
mod incidents_setup;
mod incidents_wire;
mod ingest;
mod malformed;
mod operations;
mod outage;
mod process;
mod prometheus;
mod rotations;
mod sigv4;
mod storage;
mod tenancy;
mod terraform;
mod tls;
mod twilio;
mod upgrade;
mod wire;
