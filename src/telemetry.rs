//! Logging set-up. Secrets never reach a log line: they are kept in `Secret`, whose Debug
//! output is redacted, and request bodies are not logged. Colour codes only go to a terminal
//! (a log file or the journal would keep the escape sequences), and `log_format = "json"`
//! writes one JSON object per line for log shippers.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(default_filter: &str, format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("KLAXON_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stdout().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
}
