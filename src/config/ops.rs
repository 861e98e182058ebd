//! Running Klaxon for real: `[tls]`, `[server]`, `[backup]`, `[watchdog]` and the log format.

use super::ConfigError;
use serde::Deserialize;
use std::path::PathBuf;

/// HTTPS on the listener: a PEM certificate chain and its private key (PKCS#8, RSA or EC).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// How long SIGTERM waits for requests and sends in flight before the process exits anyway.
    pub shutdown_grace_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            shutdown_grace_secs: 20,
        }
    }
}

/// Backups taken by the server itself (SQLite only): every `every_minutes` into `dir`,
/// keeping the newest `keep`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackupConfig {
    pub dir: PathBuf,
    #[serde(default = "default_backup_minutes")]
    pub every_minutes: u64,
    #[serde(default = "default_backup_keep")]
    pub keep: usize,
}

fn default_backup_minutes() -> u64 {
    60
}

fn default_backup_keep() -> usize {
    24
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "UPPERCASE")]
pub enum WatchdogMethod {
    #[default]
    Get,
    Post,
}

/// An outside checker Klaxon calls while it is healthy, so its silence raises an alarm elsewhere.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WatchdogConfig {
    pub url: String,
    #[serde(default = "default_watchdog_secs")]
    pub every_secs: u64,
    #[serde(default)]
    pub method: WatchdogMethod,
}

fn default_watchdog_secs() -> u64 {
    60
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

pub fn validate(
    tls: Option<&TlsConfig>,
    backup: Option<&BackupConfig>,
    watchdog: Option<&WatchdogConfig>,
    public_base_url: Option<&str>,
) -> Result<(), ConfigError> {
    let bad = |m: String| Err(ConfigError::Invalid(m));
    if let Some(t) = tls {
        crate::tls::load_pair(&t.cert_file, &t.key_file)
            .map_err(|e| ConfigError::Invalid(format!("[tls] {e}")))?;
    }
    if let Some(b) = backup
        && (b.every_minutes == 0 || b.keep == 0)
    {
        return bad("[backup] every_minutes and keep must be at least 1".into());
    }
    if let Some(w) = watchdog {
        if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
            return bad(format!("[watchdog] url {:?} must be an http(s) URL", w.url));
        }
        if w.every_secs == 0 {
            return bad("[watchdog] every_secs must be at least 1".into());
        }
    }
    if let Some(u) = public_base_url
        && !(u.starts_with("http://") || u.starts_with("https://"))
    {
        return bad(format!(
            "public_base_url {u:?} must be the http(s) URL people and providers reach Klaxon at"
        ));
    }
    Ok(())
}
