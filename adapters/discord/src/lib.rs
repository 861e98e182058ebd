//! Discord over HTTP only (no gateway): interactions verified with serenity's Ed25519
//! interactions-endpoint verifier and parsed into serenity's model; responses built with
//! serenity's builders, which serialise to Discord's wire JSON. Posting goes through a small
//! reqwest client with a configurable base URL (tests point it at a local fake): serenity's own
//! HTTP client would bring a second reqwest and rustls and a websocket stack into the build.

pub use serenity;

use serenity::interactions_endpoint::Verifier as Ed25519;

pub const DEFAULT_API_BASE_URL: &str = "https://discord.com/api/v10";
pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";
/// Discord gives no freshness rule; a signed request older than this is treated as a replay.
pub const MAX_AGE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error)]
pub enum DiscordError {
    #[error("Discord is unavailable: {0}")]
    Temporary(String),
    #[error("Discord refused the request: {0}")]
    Rejected(String),
    #[error("public_key must be 64 hex digits of an Ed25519 key")]
    BadKey,
}

#[derive(Clone)]
pub struct Verifier(Ed25519);

impl Verifier {
    pub fn new(public_key_hex: &str) -> Result<Verifier, DiscordError> {
        let bytes: [u8; 32] = hex::decode(public_key_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(DiscordError::BadKey)?;
        Ed25519::try_new(bytes)
            .map(Verifier)
            .map_err(|_| DiscordError::BadKey)
    }

    /// Whether `signature` (hex) signs `timestamp ++ body` and the timestamp (Unix seconds) is
    /// within `MAX_AGE_SECS` of `now_secs`.
    pub fn verify(&self, signature: &str, timestamp: &str, body: &[u8], now_secs: i64) -> bool {
        let fresh = timestamp
            .parse::<i64>()
            .is_ok_and(|t| (now_secs - t).abs() <= MAX_AGE_SECS);
        fresh && self.0.verify(signature, timestamp, body).is_ok()
    }
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    application_id: String,
    bot_token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("application_id", &self.application_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(
        base_url: &str,
        application_id: &str,
        bot_token: &str,
        timeout: std::time::Duration,
    ) -> Result<Client, DiscordError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| DiscordError::Temporary(e.to_string()))?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            application_id: application_id.to_string(),
            bot_token: bot_token.to_string(),
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
        bot_auth: bool,
    ) -> Result<serde_json::Value, DiscordError> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base_url))
            .json(body);
        if bot_auth {
            req = req.header("authorization", format!("Bot {}", self.bot_token));
        }
        let resp = req
            .send()
            .await
            .map_err(|e| DiscordError::Temporary(e.without_url().to_string()))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
        } else if status.as_u16() == 429 || status.is_server_error() {
            Err(DiscordError::Temporary(format!("HTTP {status}")))
        } else {
            let detail: String = text.chars().take(200).collect();
            Err(DiscordError::Rejected(format!("HTTP {status}: {detail}")))
        }
    }

    /// Posts a message to a channel as the bot.
    pub async fn create_message(
        &self,
        channel_id: &str,
        body: &serde_json::Value,
    ) -> Result<(), DiscordError> {
        let path = format!("/channels/{channel_id}/messages");
        self.send(reqwest::Method::POST, &path, body, true)
            .await
            .map(|_| ())
    }

    /// A follow-up message to an interaction (after a deferred response); the interaction token
    /// in the URL is the credential.
    pub async fn followup(
        &self,
        interaction_token: &str,
        body: &serde_json::Value,
    ) -> Result<(), DiscordError> {
        let path = format!("/webhooks/{}/{interaction_token}", self.application_id);
        self.send(reqwest::Method::POST, &path, body, false)
            .await
            .map(|_| ())
    }

    /// Replaces the application's global commands with `commands` (bulk overwrite).
    pub async fn register_commands(
        &self,
        commands: &serde_json::Value,
    ) -> Result<serde_json::Value, DiscordError> {
        let path = format!("/applications/{}/commands", self.application_id);
        self.send(reqwest::Method::PUT, &path, commands, true).await
    }
}
