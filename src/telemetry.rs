//! Logging set-up. Secrets never reach a log line: they are kept in `Secret`, whose Debug
//! output is redacted, and request bodies are not logged.

use tracing_subscriber::EnvFilter;

pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("KLAXON_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
