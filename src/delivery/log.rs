//! The log channel: writes each message to the log and appends it as one JSON line to
//! `<data-dir>/outbox.jsonl`, where an operator (or a test) can read codes without a provider.

use super::{Channel, DeliveryError, OutboundMessage};
use async_trait::async_trait;
use serde_json::json;
use std::path::PathBuf;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

pub struct LogChannel {
    path: PathBuf,
    // Serializes appends so concurrent sends never interleave within a line.
    lock: Mutex<()>,
}

impl LogChannel {
    pub fn new(path: PathBuf) -> LogChannel {
        LogChannel {
            path,
            lock: Mutex::new(()),
        }
    }
}

#[async_trait]
impl Channel for LogChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn send(
        &self,
        msg: &OutboundMessage,
        sent_time_ms: i64,
    ) -> Result<String, DeliveryError> {
        let line = json!({
            "kind": msg.kind,
            "contactChannelArn": msg.contact_channel_arn,
            "channelType": msg.channel_type,
            "deliveryAddress": msg.delivery_address,
            "code": msg.code,
            "pageArn": msg.page_arn,
            "engagementArn": msg.engagement_arn,
            "subject": msg.subject,
            "body": msg.body,
            "sentTime": sent_time_ms as f64 / 1000.0,
            "idempotencyKey": msg.idempotency_key,
        });
        tracing::info!(
            kind = ?msg.kind,
            channel = %msg.contact_channel_arn,
            address = %msg.delivery_address,
            subject = %msg.subject,
            "log channel delivered a message (see the outbox file for its text)"
        );
        let _guard = self.lock.lock().await;
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| DeliveryError::Temporary(format!("{}: {e}", self.path.display())))?;
        f.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| DeliveryError::Temporary(format!("{}: {e}", self.path.display())))?;
        f.flush()
            .await
            .map_err(|e| DeliveryError::Temporary(e.to_string()))?;
        Ok(format!("log-{}", msg.idempotency_key))
    }
}
