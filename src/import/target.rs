//! The Klaxon an import writes into, reached through its API like any client: the server
//! listening on the configured address when there is one, or else one started in this process
//! on the same configuration (on a free loopback port) for the length of the run.

use super::ImportError;
use crate::app::{Options, Running};
use crate::config::{Config, Secret};
use crate::domain::clock::SystemClock;
use crate::wire::credentials;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub struct Target {
    pub contacts: aws_sdk_ssmcontacts::Client,
    pub incidents: aws_sdk_ssmincidents::Client,
    pub account: String,
    pub region: String,
    pub endpoint: String,
    operator_token: Secret,
    http: reqwest::Client,
    /// The in-process server, when no server was running.
    own: Option<Running>,
}

fn loopback(listen: &str) -> Option<SocketAddr> {
    let mut a: SocketAddr = listen.parse().ok()?;
    if a.ip().is_unspecified() {
        a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    (a.port() != 0).then_some(a)
}

async fn listening(addr: SocketAddr) -> bool {
    matches!(
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await,
        Ok(Ok(_))
    )
}

impl Target {
    /// Connects to the running server, or starts one in this process.
    pub async fn connect(config: &Config) -> Result<Target, ImportError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (keys, _) =
            credentials::load(config).map_err(|e| ImportError::Config(e.to_string()))?;
        let (key, secret) = keys
            .first()
            .ok_or_else(|| ImportError::Config("no API credentials".into()))?;
        let account = keys
            .get(&key)
            .map(|k| k.account_id.clone())
            .unwrap_or_default();
        let region = config
            .regions
            .first()
            .cloned()
            .unwrap_or_else(|| "us-east-1".into());
        let (addr, own) = match loopback(&config.listen) {
            Some(a) if listening(a).await => (a, None),
            _ => {
                let mut local = config.clone();
                local.listen = "127.0.0.1:0".into();
                let running = crate::app::start(
                    &local,
                    Options {
                        clock: Arc::new(SystemClock),
                        delivery: None,
                        engine_loop: true,
                    },
                )
                .await
                .map_err(|e| ImportError::Target(e.to_string()))?;
                (running.addr, Some(running))
            }
        };
        let endpoint = format!("http://{addr}");
        let operator_token = crate::operator::token(&config.data_dir)
            .map_err(|e| ImportError::Config(format!("operator token: {e}")))?;
        let (contacts, incidents) = crate::bot::sdk::clients(crate::bot::sdk::Endpoint {
            url: Some(&endpoint),
            region: &region,
            credentials: aws_sdk_ssmcontacts::config::Credentials::new(
                &key,
                &secret,
                None,
                None,
                "klaxon-import",
            ),
            clock: None,
        });
        Ok(Target {
            contacts,
            incidents,
            account,
            region,
            endpoint,
            operator_token,
            http: reqwest::Client::new(),
            own,
        })
    }

    /// Whether this run started its own server (no server was listening).
    pub fn in_process(&self) -> bool {
        self.own.is_some()
    }

    /// Activates a channel without a code through the operator route; the server logs the
    /// activation as the import's.
    pub async fn activate(&self, channel_arn: &str) -> Result<(), String> {
        let resp = self
            .http
            .post(format!(
                "{}{}",
                self.endpoint,
                crate::operator::ACTIVATE_PATH
            ))
            .header(crate::operator::TOKEN_HEADER, self.operator_token.expose())
            .json(&serde_json::json!({
                "contactChannelArn": channel_arn,
                "actor": "klaxon import",
            }))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let body = resp.text().await.unwrap_or_default();
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(
                "the running server's operator token differs from this data directory's: \
                 give the import the server's --data-dir"
                    .into(),
            );
        }
        Err(format!("operator activation: {status} {body}"))
    }

    /// Lets the in-process server (if any) send what the import queued, then stops it.
    pub async fn finish(self) {
        if let Some(r) = self.own {
            use crate::domain::clock::Clock;
            if let Err(e) = r.engine.tick(SystemClock.now_ms()).await {
                tracing::warn!(error = %e, "the in-process server could not send what was queued");
            }
            r.stop().await;
        }
    }
}
