//! A channel that remembers what it was asked to send, and can be told to fail, for tests.

use super::{Channel, DeliveryError, OutboundMessage};
use async_trait::async_trait;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct RecordingChannel {
    sent: Mutex<Vec<OutboundMessage>>,
    fail: AtomicBool,
}

impl RecordingChannel {
    pub fn sent(&self) -> Vec<OutboundMessage> {
        self.sent.lock().map(|v| v.clone()).unwrap_or_default()
    }

    pub fn fail_next_sends(&self, fail: bool) {
        self.fail.store(fail, Ordering::SeqCst);
    }
}

#[async_trait]
impl Channel for RecordingChannel {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn send(
        &self,
        msg: &OutboundMessage,
        _sent_time_ms: i64,
    ) -> Result<String, DeliveryError> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(DeliveryError::Temporary(
                "recording channel told to fail".into(),
            ));
        }
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| DeliveryError::Temporary("poisoned".into()))?;
        sent.push(msg.clone());
        Ok(format!("rec-{}", sent.len()))
    }
}
