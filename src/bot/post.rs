//! Replies and channel updates as Slack Block Kit (slack-morphism's types) and Discord
//! messages (serenity's builders), and the posters that carry updates to channels.

use super::exec::{ack_action, resolve_action};
use super::render::{Platform, render};
use super::{Button, Reply};
use crate::delivery::DeliveryError;
use crate::delivery::chat::ChatPoster;
use async_trait::async_trait;
use klaxon_discord::serenity::builder::{CreateActionRow, CreateButton};
use klaxon_discord::serenity::model::application::ButtonStyle;
use klaxon_slack::slack_morphism::prelude::*;
use serde_json::{Value, json};

/// Slack refuses section text over 3,000 characters; Discord content over 2,000.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

pub fn slack_blocks(reply: &Reply) -> Vec<SlackBlock> {
    let text = SlackBlockText::MarkDown(SlackBlockMarkDownText::new(clip(&reply.text, 2900)));
    let mut blocks: Vec<SlackBlock> = vec![SlackSectionBlock::new().with_text(text).into()];
    if !reply.buttons.is_empty() {
        let elements: Vec<SlackActionBlockElement> = reply
            .buttons
            .iter()
            .take(25)
            .map(|b| {
                let style = if b.danger {
                    SlackBlockButtonStyle::Danger
                } else {
                    SlackBlockButtonStyle::Primary
                };
                SlackBlockButtonElement::new(SlackBlockPlainTextOnly::from(clip(&b.label, 75)))
                    .with_action_id(SlackActionId(b.action.clone()))
                    .with_value(b.action.clone())
                    .with_style(style)
                    .into()
            })
            .collect();
        blocks.push(SlackActionsBlock::new(elements).into());
    }
    blocks
}

/// A Slack message body: `text` is the notification fallback, `blocks` what is shown.
pub fn slack_message(reply: &Reply) -> Value {
    json!({ "text": clip(&reply.text, 2900), "blocks": slack_blocks(reply) })
}

pub fn discord_components(buttons: &[Button]) -> Vec<CreateActionRow> {
    buttons
        .chunks(5)
        .take(5)
        .map(|row| {
            CreateActionRow::Buttons(
                row.iter()
                    .map(|b| {
                        let style = if b.danger {
                            ButtonStyle::Danger
                        } else {
                            ButtonStyle::Primary
                        };
                        CreateButton::new(b.action.clone())
                            .label(clip(&b.label, 80))
                            .style(style)
                    })
                    .collect(),
            )
        })
        .collect()
}

/// A Discord message body, with mentions off so text from an incident cannot ping anyone.
pub fn discord_message(reply: &Reply) -> Value {
    json!({
        "content": clip(&reply.text, 2000),
        "components": discord_components(&reply.buttons),
        "allowed_mentions": { "parse": [] },
    })
}

/// An update (AWS Chatbot custom notification) in the bot's words, with an Acknowledge button
/// for a page and a Resolve button while the incident is open.
pub fn update_reply(platform: Platform, update: &Value) -> Reply {
    let content = &update["content"];
    let text = render(
        platform,
        "chat/update.md",
        minijinja::context! {
            title => content["title"].as_str().unwrap_or("Update"),
            description => content["description"].as_str().unwrap_or(""),
        },
    );
    let ctx = &update["metadata"]["additionalContext"];
    let mut buttons = Vec::new();
    if let Some(page) = ctx["pageArn"].as_str() {
        let alias = page.rsplit('/').nth(1).unwrap_or_default();
        buttons.push(Button {
            label: format!("Acknowledge ({alias})"),
            action: ack_action(page),
            danger: false,
        });
    }
    if let Some(incident) = ctx["incidentArn"].as_str()
        && ctx["incidentOpen"].as_bool() == Some(true)
    {
        buttons.push(Button {
            label: "Resolve".into(),
            action: resolve_action(incident),
            danger: true,
        });
    }
    // An update from SNS may carry ARNs too long for a button id (Discord allows 100).
    buttons.retain(|b| b.action.len() <= 100);
    Reply { text, buttons }
}

fn delivery_error_slack(e: klaxon_slack::SlackError) -> DeliveryError {
    match e {
        klaxon_slack::SlackError::Temporary(m) => DeliveryError::Temporary(m),
        klaxon_slack::SlackError::Rejected(m) => DeliveryError::Permanent(m),
    }
}

fn delivery_error_discord(e: klaxon_discord::DiscordError) -> DeliveryError {
    match e {
        klaxon_discord::DiscordError::Temporary(m) => DeliveryError::Temporary(m),
        other => DeliveryError::Permanent(other.to_string()),
    }
}

pub struct SlackPoster(pub klaxon_slack::Client);

#[async_trait]
impl ChatPoster for SlackPoster {
    async fn post(&self, channel: &str, update: &Value) -> Result<(), DeliveryError> {
        let mut body = slack_message(&update_reply(Platform::Slack, update));
        body["channel"] = json!(channel);
        self.0
            .post_message(&body)
            .await
            .map(|_| ())
            .map_err(delivery_error_slack)
    }
}

pub struct DiscordPoster(pub klaxon_discord::Client);

#[async_trait]
impl ChatPoster for DiscordPoster {
    async fn post(&self, channel: &str, update: &Value) -> Result<(), DeliveryError> {
        let body = discord_message(&update_reply(Platform::Discord, update));
        self.0
            .create_message(channel, &body)
            .await
            .map_err(delivery_error_discord)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_renders_with_its_buttons_on_both_platforms() {
        let update = crate::engine::chat::notification(
            "Paging akuam: <Checkout> down",
            "Sent by sms (cli).",
            "page.sent",
            "arn:aws:ssm-incidents::111122223333:incident-record/checkout/0191b3c4-aaaa",
            Some("arn:aws:ssm-contacts:us-east-1:111122223333:page/akuam/p1"),
            true,
        );
        let slack = slack_message(&update_reply(Platform::Slack, &update));
        assert_eq!(slack["blocks"][0]["text"]["type"], "mrkdwn");
        assert!(slack["text"].as_str().unwrap().contains("&lt;Checkout&gt;"));
        let buttons = &slack["blocks"][1]["elements"];
        assert_eq!(buttons[0]["action_id"], "ack:akuam/p1");
        assert_eq!(buttons[0]["type"], "button");
        assert_eq!(buttons[1]["action_id"], "resolve:checkout/0191b3c4-aaaa");
        assert_eq!(buttons[1]["style"], "danger");
        let discord = discord_message(&update_reply(Platform::Discord, &update));
        assert!(
            discord["content"]
                .as_str()
                .unwrap()
                .starts_with("**Paging akuam")
        );
        assert_eq!(discord["components"][0]["type"], 1);
        assert_eq!(
            discord["components"][0]["components"][0]["custom_id"],
            "ack:akuam/p1"
        );
        assert_eq!(discord["allowed_mentions"]["parse"], json!([]));
        let resolved = crate::engine::chat::notification(
            "Incident resolved",
            "",
            "incident.resolved",
            "arn:x/y",
            None,
            false,
        );
        assert!(update_reply(Platform::Slack, &resolved).buttons.is_empty());
    }
}
