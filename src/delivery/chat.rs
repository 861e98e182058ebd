//! Chat channels that receive incident updates. An SNS topic ARN is the address: `[[sns.topics]]`
//! maps each topic to Slack and Discord channels, and a poster per platform carries the update.

use super::DeliveryError;
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatTarget {
    Slack(String),
    Discord(String),
}

impl ChatTarget {
    /// A stable name for the target, kept in an update's record of where it has been posted.
    pub fn key(&self) -> String {
        match self {
            ChatTarget::Slack(c) => format!("slack:{c}"),
            ChatTarget::Discord(c) => format!("discord:{c}"),
        }
    }
}

/// Posts one update (an AWS Chatbot custom notification, as JSON) to one channel.
#[async_trait]
pub trait ChatPoster: Send + Sync {
    async fn post(&self, channel: &str, update: &serde_json::Value) -> Result<(), DeliveryError>;
}

#[derive(Clone, Default)]
pub struct ChatRoutes {
    by_topic: HashMap<String, Vec<ChatTarget>>,
    pub slack: Option<Arc<dyn ChatPoster>>,
    pub discord: Option<Arc<dyn ChatPoster>>,
}

impl ChatRoutes {
    pub fn new(
        topics: &[crate::config::SnsTopic],
        slack: Option<Arc<dyn ChatPoster>>,
        discord: Option<Arc<dyn ChatPoster>>,
    ) -> ChatRoutes {
        let mut by_topic: HashMap<String, Vec<ChatTarget>> = HashMap::new();
        for t in topics {
            let targets = by_topic.entry(t.topic_arn.clone()).or_default();
            if let Some(c) = &t.slack_channel {
                targets.push(ChatTarget::Slack(c.clone()));
            }
            if let Some(c) = &t.discord_channel_id {
                targets.push(ChatTarget::Discord(c.clone()));
            }
        }
        ChatRoutes {
            by_topic,
            slack,
            discord,
        }
    }

    pub fn targets(&self, topic: &str) -> &[ChatTarget] {
        self.by_topic.get(topic).map(Vec::as_slice).unwrap_or(&[])
    }

    pub async fn post(
        &self,
        target: &ChatTarget,
        update: &serde_json::Value,
    ) -> Result<(), DeliveryError> {
        let (poster, channel) = match target {
            ChatTarget::Slack(c) => (&self.slack, c),
            ChatTarget::Discord(c) => (&self.discord, c),
        };
        match poster {
            Some(p) => p.post(channel, update).await,
            None => Err(DeliveryError::Permanent(format!(
                "no chat service is configured for {}",
                target.key()
            ))),
        }
    }
}
