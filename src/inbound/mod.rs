//! Webhooks through which people answer pages: Twilio SMS replies and delivery reports.

pub mod twilio;
