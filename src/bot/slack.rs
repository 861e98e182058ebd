//! Slack's slash command and interactivity endpoints. Every request is checked against the
//! signing secret (HMAC-SHA256 of `v0:{timestamp}:{body}`, within five minutes) before anything
//! else; a bad or missing signature is a 401 and changes nothing. Slack wants an answer within
//! 3 seconds: the command's reply comes in the answer when the SDK calls are done by then,
//! otherwise the answer says so and the reply follows through the request's `response_url`.

use super::command::{self, Command, ParseError};
use super::post::slack_message;
use super::render::Platform;
use super::{Caller, Hooks, Reply};
use crate::wire::form::form;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use klaxon_slack::slack_morphism::prelude::SlackInteractionEvent;
use serde_json::{Value, json};

pub struct SlackHooks {
    pub signing_secret: crate::config::Secret,
    pub client: klaxon_slack::Client,
}

fn verified(s: &SlackHooks, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match (
        header(klaxon_slack::SIGNATURE_HEADER),
        header(klaxon_slack::TIMESTAMP_HEADER),
    ) {
        (Some(sig), Some(ts)) => klaxon_slack::verify(s.signing_secret.expose(), sig, ts, body),
        _ => false,
    }
}

fn json_response(v: Value) -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn reply_body(reply: &Reply, public: bool) -> Value {
    let mut v = slack_message(reply);
    v["response_type"] = json!(if public { "in_channel" } else { "ephemeral" });
    v
}

fn param(params: &[(String, String)], name: &str) -> String {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Runs `work`; answers with its reply when it is done within the hook's patience, otherwise at
/// once with a holding message, sending the reply to `response_url` when it comes.
async fn answer<F>(
    h: &Hooks,
    slack: std::sync::Arc<SlackHooks>,
    response_url: String,
    public: bool,
    work: F,
) -> Response
where
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(h.reply_within, &mut task).await {
        Ok(Ok(reply)) => json_response(reply_body(&reply, public)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "slash command task failed");
            json_response(reply_body(
                &Reply::text("Klaxon could not finish that; try again."),
                false,
            ))
        }
        Err(_) => {
            tokio::spawn(async move {
                let reply = match task.await {
                    Ok(r) => r,
                    Err(_) => Reply::text("Klaxon could not finish that; try again."),
                };
                if let Err(e) = slack
                    .client
                    .respond(&response_url, &reply_body(&reply, public))
                    .await
                {
                    tracing::warn!(error = %e, "could not send the late reply to Slack");
                }
            });
            json_response(json!({"response_type": "ephemeral", "text": "Working on it…"}))
        }
    }
}

/// A slash command's form body, read (after its signature was checked).
pub struct SlashCommand {
    pub caller: Caller,
    pub command: Result<Command, ParseError>,
    pub response_url: String,
}

pub fn read_command(body: &[u8]) -> SlashCommand {
    let params = form(body);
    let caller = Caller {
        platform: Platform::Slack,
        user_id: param(&params, "user_id"),
        name: Some(param(&params, "user_name"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| param(&params, "user_id")),
    };
    SlashCommand {
        caller,
        command: command::parse(&param(&params, "text")),
        response_url: param(&params, "response_url"),
    }
}

/// A button press: who pressed which button, and where the outcome goes.
pub struct Press {
    pub caller: Caller,
    pub action: String,
    pub response_url: String,
}

/// An interaction's form body (its `payload` field holds the JSON): a press, nothing to do
/// (another kind of interaction, or one missing what a press needs), or unreadable.
pub fn read_press(body: &[u8]) -> Result<Option<Press>, serde_json::Error> {
    let params = form(body);
    let event: SlackInteractionEvent = serde_json::from_str(&param(&params, "payload"))?;
    let SlackInteractionEvent::BlockActions(ev) = event else {
        return Ok(None);
    };
    let Some(user) = ev.user.clone() else {
        return Ok(None);
    };
    let caller = Caller {
        platform: Platform::Slack,
        user_id: user.id.0.clone(),
        name: user
            .username
            .clone()
            .or(user.name.clone())
            .unwrap_or_else(|| user.id.0.clone()),
    };
    let Some(action) = ev
        .actions
        .as_ref()
        .and_then(|a| a.first())
        .map(|a| a.action_id.0.clone())
    else {
        return Ok(None);
    };
    let Some(response_url) = ev.response_url.as_ref().map(|u| u.0.to_string()) else {
        return Ok(None);
    };
    Ok(Some(Press {
        caller,
        action,
        response_url,
    }))
}

/// `POST /hooks/slack/commands`
pub async fn commands(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(slack) = h.slack.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !verified(&slack, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, "bad or missing Slack signature").into_response();
    }
    let SlashCommand {
        caller,
        command,
        response_url,
    } = read_command(&body);
    let cmd = match command {
        Ok(c) => c,
        Err(e) => {
            return json_response(reply_body(
                &super::exec::Bot::parse_failed(Platform::Slack, &e),
                false,
            ));
        }
    };
    let public = !matches!(cmd, Command::Help);
    let bot = h.bot.clone();
    answer(&h, slack, response_url, public, async move {
        bot.run(&caller, cmd).await
    })
    .await
}

/// `POST /hooks/slack/interactions`: button presses (`block_actions`).
pub async fn interactions(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(slack) = h.slack.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !verified(&slack, &headers, &body) {
        return (StatusCode::UNAUTHORIZED, "bad or missing Slack signature").into_response();
    }
    let Press {
        caller,
        action,
        response_url,
    } = match read_press(&body) {
        Ok(Some(p)) => p,
        Ok(None) => return StatusCode::OK.into_response(),
        Err(e) => {
            tracing::info!(error = %e, "unreadable Slack interaction");
            return (StatusCode::BAD_REQUEST, "unreadable interaction payload").into_response();
        }
    };
    // Slack shows nothing for the button's own answer; the outcome goes to the channel.
    let bot = h.bot.clone();
    tokio::spawn(async move {
        let reply = bot.press(&caller, &action).await;
        let mut body = reply_body(&reply, true);
        body["replace_original"] = json!(false);
        if let Err(e) = slack.client.respond(&response_url, &body).await {
            tracing::warn!(error = %e, "could not send the button's outcome to Slack");
        }
    });
    StatusCode::OK.into_response()
}
