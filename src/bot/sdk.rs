//! The bot's AWS SDK clients: pointed at this Klaxon (its address and first credentials) unless
//! `[bot]` names another endpoint and keys, such as AWS itself. They sign with the server's
//! clock, so a test that moves time moves the bot with it.

use super::exec::Bot;
use crate::config::{Config, ConfigError};
use crate::domain::clock::Clock;
use aws_smithy_http_client::tls;
use std::net::SocketAddr;
use std::sync::Arc;

struct ServerTime(Arc<dyn Clock>);

impl std::fmt::Debug for ServerTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerTime")
    }
}

impl aws_smithy_async::time::TimeSource for ServerTime {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.0.now_ms().max(0) as u64)
    }
}

/// Where and as whom a pair of SSM Contacts and SSM Incidents clients talks: the bot and the
/// importer (both ends) build theirs here.
pub struct Endpoint<'a> {
    /// None: the SDK's own endpoint for the region (AWS itself).
    pub url: Option<&'a str>,
    pub region: &'a str,
    pub credentials: aws_sdk_ssmcontacts::config::Credentials,
    /// Signs with this clock instead of the system's.
    pub clock: Option<Arc<dyn Clock>>,
}

pub fn clients(e: Endpoint<'_>) -> (aws_sdk_ssmcontacts::Client, aws_sdk_ssmincidents::Client) {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut contacts = aws_sdk_ssmcontacts::Config::builder()
        .behavior_version(aws_sdk_ssmcontacts::config::BehaviorVersion::latest())
        .region(aws_sdk_ssmcontacts::config::Region::new(
            e.region.to_string(),
        ))
        .credentials_provider(e.credentials.clone())
        .http_client(http.clone());
    let mut incidents = aws_sdk_ssmincidents::Config::builder()
        .behavior_version(aws_sdk_ssmincidents::config::BehaviorVersion::latest())
        .region(aws_sdk_ssmincidents::config::Region::new(
            e.region.to_string(),
        ))
        .credentials_provider(e.credentials)
        .http_client(http);
    if let Some(url) = e.url {
        contacts = contacts.endpoint_url(url);
        incidents = incidents.endpoint_url(url);
    }
    if let Some(clock) = e.clock {
        contacts = contacts.time_source(ServerTime(clock.clone()));
        incidents = incidents.time_source(ServerTime(clock));
    }
    (
        aws_sdk_ssmcontacts::Client::from_conf(contacts.build()),
        aws_sdk_ssmincidents::Client::from_conf(incidents.build()),
    )
}

/// `first_key`: this Klaxon's first (configured or generated) access key and secret.
pub fn build(
    cfg: &Config,
    addr: SocketAddr,
    first_key: Option<(String, String)>,
    clock: Arc<dyn Clock>,
) -> Result<Bot, ConfigError> {
    let b = &cfg.bot;
    let endpoint = if b.endpoint_url.is_empty() {
        let host = if addr.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], addr.port()))
        } else {
            addr
        };
        format!("http://{host}")
    } else {
        b.endpoint_url.clone()
    };
    let (key, secret) = match (&b.access_key_id, b.secret_key()?) {
        (Some(k), Some(s)) => (k.clone(), s.expose().to_string()),
        _ => first_key.ok_or_else(|| {
            ConfigError::Invalid("[bot] needs access_key_id and secret_access_key".into())
        })?,
    };
    let region = b
        .region
        .clone()
        .or_else(|| cfg.regions.first().cloned())
        .unwrap_or_else(|| "us-east-1".into());
    let (contacts, incidents) = clients(Endpoint {
        url: Some(&endpoint),
        region: &region,
        credentials: aws_sdk_ssmcontacts::config::Credentials::new(
            &key,
            &secret,
            None,
            None,
            "klaxon-bot",
        ),
        clock: Some(clock.clone()),
    });
    Ok(Bot {
        incidents,
        contacts,
        users: cfg.chat.users.clone(),
        now_ms: Arc::new(move || clock.now_ms()),
    })
}
