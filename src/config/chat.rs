//! The chat bot's settings: where its AWS SDK clients point, the Slack and Discord apps, SNS
//! topics (alarms that start incidents, channels that get an incident's updates) and which chat
//! user is which contact.

use super::{ConfigError, Secret};
use serde::Deserialize;
use std::path::PathBuf;

/// A secret given inline or in a file; neither is fine (the feature is off), both is not.
pub(super) fn secret(
    section: &str,
    name: &str,
    inline: &Option<Secret>,
    file: &Option<PathBuf>,
) -> Result<Option<Secret>, ConfigError> {
    match (inline, file) {
        (Some(s), None) => Ok(Some(s.clone())),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map(|t| Some(Secret::new(t.trim())))
            .map_err(|source| ConfigError::Read {
                path: f.display().to_string(),
                source,
            }),
        (None, None) => Ok(None),
        (Some(_), Some(_)) => Err(ConfigError::Invalid(format!(
            "[{section}] takes one of {name} and {name}_file, not both"
        ))),
    }
}

/// The bot's AWS SDK clients. An empty endpoint_url means this Klaxon (with its first
/// credentials unless keys are given here).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct BotConfig {
    pub endpoint_url: String,
    /// How long a slash command may take before its answer is deferred (Slack and Discord give
    /// 3 s): then the reply follows through Slack's response_url or Discord's webhook.
    pub reply_within_ms: u64,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub secret_access_key_file: Option<PathBuf>,
}

impl Default for BotConfig {
    fn default() -> Self {
        BotConfig {
            endpoint_url: String::new(),
            reply_within_ms: 2500,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            secret_access_key_file: None,
        }
    }
}

impl BotConfig {
    pub fn secret_key(&self) -> Result<Option<Secret>, ConfigError> {
        secret(
            "bot",
            "secret_access_key",
            &self.secret_access_key,
            &self.secret_access_key_file,
        )
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    #[serde(default)]
    pub bot_token: Option<Secret>,
    #[serde(default)]
    pub bot_token_file: Option<PathBuf>,
    #[serde(default)]
    pub signing_secret: Option<Secret>,
    #[serde(default)]
    pub signing_secret_file: Option<PathBuf>,
    #[serde(default = "default_slack_api")]
    pub api_base_url: String,
}

fn default_slack_api() -> String {
    "https://slack.com/api".into()
}

impl SlackConfig {
    pub fn bot_token(&self) -> Result<Secret, ConfigError> {
        secret("slack", "bot_token", &self.bot_token, &self.bot_token_file)?
            .ok_or_else(|| ConfigError::Invalid("[slack] needs bot_token or bot_token_file".into()))
    }

    pub fn signing_secret(&self) -> Result<Secret, ConfigError> {
        secret(
            "slack",
            "signing_secret",
            &self.signing_secret,
            &self.signing_secret_file,
        )?
        .ok_or_else(|| {
            ConfigError::Invalid("[slack] needs signing_secret or signing_secret_file".into())
        })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    pub application_id: String,
    pub public_key: String,
    #[serde(default)]
    pub bot_token: Option<Secret>,
    #[serde(default)]
    pub bot_token_file: Option<PathBuf>,
    #[serde(default = "default_discord_api")]
    pub api_base_url: String,
}

fn default_discord_api() -> String {
    "https://discord.com/api/v10".into()
}

impl DiscordConfig {
    pub fn bot_token(&self) -> Result<Secret, ConfigError> {
        secret(
            "discord",
            "bot_token",
            &self.bot_token,
            &self.bot_token_file,
        )?
        .ok_or_else(|| ConfigError::Invalid("[discord] needs bot_token or bot_token_file".into()))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct SnsConfig {
    /// Signing certificates are fetched only from URLs matching this (anchored) pattern.
    pub cert_url_pattern: String,
    /// A PEM certificate used instead of fetching one.
    pub cert_file: Option<PathBuf>,
    /// Subscriptions are confirmed only at SubscribeURLs matching this (anchored) pattern.
    pub subscribe_url_pattern: String,
    pub topics: Vec<SnsTopic>,
}

impl Default for SnsConfig {
    fn default() -> Self {
        SnsConfig {
            cert_url_pattern: klaxon_sns::DEFAULT_CERT_URL_PATTERN.into(),
            cert_file: None,
            subscribe_url_pattern: klaxon_sns::DEFAULT_SUBSCRIBE_URL_PATTERN.into(),
            topics: Vec::new(),
        }
    }
}

/// An SNS topic ARN is the address of a chat destination: alarms on it start incidents with
/// `response_plan`; an incident whose chat channel names it has its updates posted to the
/// Slack and Discord channels here.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SnsTopic {
    pub topic_arn: String,
    #[serde(default)]
    pub response_plan: Option<String>,
    #[serde(default)]
    pub slack_channel: Option<String>,
    #[serde(default)]
    pub discord_channel_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    pub users: Vec<ChatUser>,
}

/// A chat user who is a Klaxon contact: what they acknowledge and who they page as.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChatUser {
    pub contact: String,
    #[serde(default)]
    pub slack_user_id: Option<String>,
    #[serde(default)]
    pub discord_user_id: Option<String>,
}
