//! Klaxon: a self-hosted incident manager that speaks the AWS SSM Contacts and SSM Incidents
//! wire protocols. See ARCHITECTURE in the README for the rooms of the code.

pub mod app;
pub mod bot;
pub mod config;
pub mod console;
pub mod delivery;
pub mod domain;
pub mod engine;
pub mod handlers;
pub mod import;
pub mod inbound;
pub mod ingest;
pub mod metrics;
pub mod operator;
pub mod ops;
pub mod shapes;
pub mod storage;
pub mod telemetry;
pub mod templates;
pub mod tls;
pub mod wire;
