//! Slack: request signatures checked with slack-morphism's verifier (HMAC-SHA256 of
//! `v0:{timestamp}:{body}`, constant-time, 5-minute window), and a small Web API client whose
//! base URL is configurable so tests can point it at a local fake. Messages are slack-morphism's
//! Block Kit types, serialised as they are; posting goes through reqwest rather than the crate's
//! hyper connector, which would add a second HTTP stack and Socket Mode to the build.

pub use slack_morphism;

use slack_morphism::prelude::SlackSigningSecret;
use slack_morphism::signature_verifier::SlackEventSignatureVerifier;

pub const DEFAULT_API_BASE_URL: &str = "https://slack.com/api";
pub const SIGNATURE_HEADER: &str = SlackEventSignatureVerifier::SLACK_SIGNED_HASH_HEADER;
pub const TIMESTAMP_HEADER: &str = SlackEventSignatureVerifier::SLACK_SIGNED_TIMESTAMP;

#[derive(Debug, thiserror::Error)]
pub enum SlackError {
    /// Worth retrying: the network, a 429, a 5xx or Slack's `ratelimited`.
    #[error("Slack is unavailable: {0}")]
    Temporary(String),
    /// Slack refused the request (unknown channel, bad token, bad blocks).
    #[error("Slack refused the request: {0}")]
    Rejected(String),
}

/// Whether a request carries a valid signature made within the last five minutes (by the
/// system clock, which is what Slack signs with). The body must be the raw bytes received.
pub fn verify(signing_secret: &str, signature: &str, timestamp: &str, body: &[u8]) -> bool {
    let Ok(body) = std::str::from_utf8(body) else {
        return false;
    };
    SlackEventSignatureVerifier::new(&SlackSigningSecret::new(signing_secret.to_string()))
        .verify(signature, body, timestamp)
        .is_ok()
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    bot_token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Envelope {
    ok: bool,
    error: Option<String>,
    ts: Option<String>,
}

impl Client {
    pub fn new(
        base_url: &str,
        bot_token: &str,
        timeout: std::time::Duration,
    ) -> Result<Client, SlackError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SlackError::Temporary(e.to_string()))?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            bot_token: bot_token.to_string(),
        })
    }

    /// `chat.postMessage`; returns the message's `ts`.
    pub async fn post_message(&self, body: &serde_json::Value) -> Result<String, SlackError> {
        let url = format!("{}/chat.postMessage", self.base_url);
        let resp = self
            .http
            .post(&url)
            .bearer_auth(&self.bot_token)
            .json(body)
            .send()
            .await
            .map_err(|e| SlackError::Temporary(e.without_url().to_string()))?;
        let status = resp.status();
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(SlackError::Temporary(format!("HTTP {status}")));
        }
        let env: Envelope = resp
            .json()
            .await
            .map_err(|e| SlackError::Temporary(format!("HTTP {status}: {}", e.without_url())))?;
        match (env.ok, env.error) {
            (true, _) => Ok(env.ts.unwrap_or_default()),
            (false, Some(e)) if e == "ratelimited" || e == "service_unavailable" => {
                Err(SlackError::Temporary(e))
            }
            (false, e) => Err(SlackError::Rejected(
                e.unwrap_or_else(|| status.to_string()),
            )),
        }
    }

    /// Posts to an interaction's or a command's `response_url` (no token: the URL is the
    /// credential, valid for 30 minutes).
    pub async fn respond(
        &self,
        response_url: &str,
        body: &serde_json::Value,
    ) -> Result<(), SlackError> {
        let resp = self
            .http
            .post(response_url)
            .json(body)
            .send()
            .await
            .map_err(|e| SlackError::Temporary(e.without_url().to_string()))?;
        let status = resp.status();
        if status.is_success() {
            Ok(())
        } else if status.as_u16() == 429 || status.is_server_error() {
            Err(SlackError::Temporary(format!("HTTP {status}")))
        } else {
            Err(SlackError::Rejected(format!("HTTP {status}")))
        }
    }
}

/// Signs a request as Slack does (`v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`); for
/// tests and local fakes.
pub fn sign(signing_secret: &str, timestamp: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(signing_secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(format!("v0:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}
