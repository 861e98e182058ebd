//! Outbound messages and the channels that carry them. With no provider configured every
//! channel type goes to the log channel, so a fresh install works without any account.

pub mod chat;
pub mod email;
pub mod log;
pub mod recording;
pub mod twilio;

use async_trait::async_trait;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum MessageKind {
    Activation,
    Page,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ChannelKind {
    Sms,
    Voice,
    Email,
}

impl ChannelKind {
    pub fn parse(s: &str) -> Option<ChannelKind> {
        match s {
            "SMS" => Some(ChannelKind::Sms),
            "VOICE" => Some(ChannelKind::Voice),
            "EMAIL" => Some(ChannelKind::Email),
            _ => None,
        }
    }
}

/// One message to one contact channel. `idempotency_key` is stable across retries of the same
/// send, so a provider (or our outbox) can drop a duplicate.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundMessage {
    pub kind: MessageKind,
    pub contact_channel_arn: String,
    pub channel_type: ChannelKind,
    pub delivery_address: String,
    pub code: String,
    pub page_arn: Option<String>,
    pub engagement_arn: Option<String>,
    pub subject: String,
    pub body: String,
    /// An email's HTML part, sent beside `body` as multipart/alternative.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub idempotency_key: String,
    /// For a page's email: the token of its per-page Reply-To address.
    pub reply_token: Option<String>,
    /// For pages held back by the channel's rate limit and sent together: every page the
    /// message carries (`page_arn` is the first of them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bundled_pages: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later (network, provider 5xx, rate limit).
    #[error("temporary delivery failure: {0}")]
    Temporary(String),
    /// Will not succeed as sent (bad address, rejected by provider).
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    /// Returns the provider's message id.
    async fn send(&self, msg: &OutboundMessage, sent_time_ms: i64)
    -> Result<String, DeliveryError>;
}

/// Which channel carries which channel type.
#[derive(Clone)]
pub struct Registry {
    pub sms: Arc<dyn Channel>,
    pub voice: Arc<dyn Channel>,
    pub email: Arc<dyn Channel>,
    pub chat: chat::ChatRoutes,
}

impl Registry {
    pub fn all(channel: Arc<dyn Channel>) -> Registry {
        Registry {
            sms: channel.clone(),
            voice: channel.clone(),
            email: channel,
            chat: chat::ChatRoutes::default(),
        }
    }

    pub fn for_kind(&self, kind: ChannelKind) -> &Arc<dyn Channel> {
        match kind {
            ChannelKind::Sms => &self.sms,
            ChannelKind::Voice => &self.voice,
            ChannelKind::Email => &self.email,
        }
    }

    pub async fn send(&self, msg: &OutboundMessage, now_ms: i64) -> Result<String, DeliveryError> {
        self.for_kind(msg.channel_type).send(msg, now_ms).await
    }
}
