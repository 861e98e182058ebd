//! The chat-ops bot: `/klaxon` in Slack and Discord, buttons, incident channel updates and SNS.
//! Commands are parsed by `command` (pure), carried out by `exec` through the AWS SDK clients
//! only (`sdk` builds them), and worded by `render`. `slack`, `discord` and `sns` are the HTTP
//! endpoints; `post` turns a channel update into a Slack or Discord message.

pub mod command;
pub mod discord;
pub mod exec;
pub mod post;
pub mod render;
pub mod sdk;
pub mod slack;
pub mod sns;

use crate::domain::clock::Clock;
use crate::storage::Store;
use render::Platform;
use std::sync::Arc;
use std::time::Duration;

/// What the chat endpoints share.
#[derive(Clone)]
pub struct Hooks {
    pub bot: Arc<exec::Bot>,
    pub slack: Option<Arc<slack::SlackHooks>>,
    pub discord: Option<Arc<discord::DiscordHooks>>,
    pub sns: Option<Arc<sns::SnsHooks>>,
    /// For SES mail delivered through SNS, handled as the SMTP listener handles replies.
    pub api: Arc<crate::wire::Api>,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub wake: Arc<tokio::sync::Notify>,
    /// How long a command may take before the answer is deferred (Slack and Discord allow 3 s).
    pub reply_within: Duration,
}

pub fn routes(h: Hooks) -> axum::Router {
    use axum::routing::post;
    axum::Router::new()
        .route("/hooks/slack/commands", post(slack::commands))
        .route("/hooks/slack/interactions", post(slack::interactions))
        .route("/hooks/discord/interactions", post(discord::interactions))
        .route("/hooks/sns", post(sns::receive))
        .with_state(h)
}

/// Who typed the command or pressed the button.
#[derive(Debug, Clone)]
pub struct Caller {
    pub platform: Platform,
    pub user_id: String,
    /// The chat user's display name, used as the engagement's Sender and on the timeline.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub label: String,
    /// `ack:<alias>/<page id>` or `resolve:<incident id>`.
    pub action: String,
    pub danger: bool,
}

/// What the bot answers: words and buttons, the same for both platforms.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub text: String,
    pub buttons: Vec<Button>,
}

impl Reply {
    pub fn text(s: impl Into<String>) -> Reply {
        Reply {
            text: s.into(),
            buttons: Vec::new(),
        }
    }
}
