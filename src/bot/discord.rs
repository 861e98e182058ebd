//! Discord's interactions endpoint (no gateway). Requests are checked with Ed25519 over
//! timestamp + body (serenity's verifier) and a five-minute freshness window; PING gets PONG;
//! `/klaxon <subcommand>` and button presses are carried out by the bot. Discord wants an
//! answer within 3 seconds: slow work is answered with a deferred response and the reply
//! follows through the interaction's webhook. `commands()` is the command set that
//! `klaxon discord register-commands` registers.

use super::command::{self, Command, OptionValue, ParseError, USAGE};
use super::post::discord_message;
use super::render::Platform;
use super::{Caller, Hooks, Reply};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use klaxon_discord::serenity::builder::{CreateCommand, CreateCommandOption};
use klaxon_discord::serenity::model::application::{
    CommandDataOptionValue, CommandOptionType, Interaction,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub struct DiscordHooks {
    pub verifier: klaxon_discord::Verifier,
    pub client: klaxon_discord::Client,
}

fn json_response(v: Value) -> Response {
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn message_response(reply: &Reply) -> Value {
    json!({ "type": 4, "data": discord_message(reply) })
}

/// `POST /hooks/discord/interactions`
pub async fn interactions(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(discord) = h.discord.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now_secs = h.clock.now_ms() / 1000;
    let ok = match (
        header(klaxon_discord::SIGNATURE_HEADER),
        header(klaxon_discord::TIMESTAMP_HEADER),
    ) {
        (Some(sig), Some(ts)) => discord.verifier.verify(sig, ts, &body, now_secs),
        _ => false,
    };
    if !ok {
        return (StatusCode::UNAUTHORIZED, "invalid request signature").into_response();
    }
    let incoming = match read_interaction(&body) {
        Ok(i) => i,
        Err(e) => {
            tracing::info!(error = %e, "unreadable Discord interaction");
            return (StatusCode::BAD_REQUEST, "unreadable interaction").into_response();
        }
    };
    match incoming {
        Incoming::Ping => json_response(json!({ "type": 1 })),
        Incoming::Help => json_response(message_response(&super::exec::help(Platform::Discord))),
        Incoming::Command {
            caller,
            parsed,
            token,
        } => {
            let bot = h.bot.clone();
            let work = async move {
                match parsed {
                    Ok(c) => bot.run(&caller, c).await,
                    Err(e) => super::exec::Bot::parse_failed(Platform::Discord, &e),
                }
            };
            answer(&h, discord, token, work).await
        }
        Incoming::Press {
            caller,
            action,
            token,
        } => {
            let bot = h.bot.clone();
            answer(&h, discord, token, async move {
                bot.press(&caller, &action).await
            })
            .await
        }
        Incoming::Other => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// An interaction's JSON body, read (after its signature was checked).
pub enum Incoming {
    Ping,
    /// `/klaxon` without a subcommand.
    Help,
    Command {
        caller: Caller,
        parsed: Result<Command, ParseError>,
        token: String,
    },
    Press {
        caller: Caller,
        action: String,
        token: String,
    },
    Other,
}

pub fn read_interaction(body: &[u8]) -> Result<Incoming, serde_json::Error> {
    Ok(match serde_json::from_slice::<Interaction>(body)? {
        Interaction::Ping(_) => Incoming::Ping,
        Interaction::Command(cmd) => {
            let Some(sub) = cmd.data.options.first() else {
                return Ok(Incoming::Help);
            };
            let mut opts = HashMap::new();
            if let CommandDataOptionValue::SubCommand(list) = &sub.value {
                for o in list {
                    match &o.value {
                        CommandDataOptionValue::String(s) => {
                            opts.insert(o.name.clone(), OptionValue::Str(s.clone()));
                        }
                        CommandDataOptionValue::Integer(n) => {
                            opts.insert(o.name.clone(), OptionValue::Int(*n));
                        }
                        _ => {}
                    }
                }
            }
            Incoming::Command {
                caller: caller_of(&cmd.user),
                parsed: command::from_options(&sub.name, &opts),
                token: cmd.token.clone(),
            }
        }
        Interaction::Component(c) => Incoming::Press {
            caller: caller_of(&c.user),
            action: c.data.custom_id.clone(),
            token: c.token.clone(),
        },
        _ => Incoming::Other,
    })
}

fn caller_of(user: &klaxon_discord::serenity::model::user::User) -> Caller {
    Caller {
        platform: Platform::Discord,
        user_id: user.id.get().to_string(),
        name: user
            .global_name
            .clone()
            .unwrap_or_else(|| user.name.clone()),
    }
}

async fn answer<F>(h: &Hooks, discord: Arc<DiscordHooks>, token: String, work: F) -> Response
where
    F: std::future::Future<Output = Reply> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(h.reply_within, &mut task).await {
        Ok(Ok(reply)) => json_response(message_response(&reply)),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Discord command task failed");
            json_response(message_response(&Reply::text(
                "Klaxon could not finish that; try again.",
            )))
        }
        Err(_) => {
            tokio::spawn(async move {
                let reply = task
                    .await
                    .unwrap_or_else(|_| Reply::text("Klaxon could not finish that; try again."));
                if let Err(e) = discord
                    .client
                    .followup(&token, &discord_message(&reply))
                    .await
                {
                    tracing::warn!(error = %e, "could not send the follow-up to Discord");
                }
            });
            json_response(json!({ "type": 5 }))
        }
    }
}

/// The `/klaxon` command with its subcommands, as Discord's bulk-overwrite body.
pub fn commands() -> Value {
    let s = |name: &str, desc: &str, required: bool| {
        CreateCommandOption::new(CommandOptionType::String, name, desc).required(required)
    };
    let impact = |required: bool| {
        CreateCommandOption::new(
            CommandOptionType::Integer,
            "impact",
            "1 (critical) to 5 (none)",
        )
        .min_int_value(1)
        .max_int_value(5)
        .required(required)
    };
    let incident = || {
        s(
            "incident",
            "Incident ARN or the first 8 characters of its id",
            true,
        )
    };
    let describe = |name: &str| -> String {
        USAGE
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, u)| u.trim_start_matches("/klaxon ").to_string())
            .unwrap_or_default()
            .chars()
            .take(100)
            .collect()
    };
    let sub = |name: &str, options: Vec<CreateCommandOption>| {
        options.into_iter().fold(
            CreateCommandOption::new(CommandOptionType::SubCommand, name, describe(name)),
            |acc, o| acc.add_sub_option(o),
        )
    };
    let klaxon = CreateCommand::new("klaxon")
        .description("Incidents and paging with Klaxon")
        .add_option(sub(
            "start",
            vec![
                s("plan", "Response plan name", true),
                s("title", "Incident title", true),
                impact(false),
            ],
        ))
        .add_option(sub("list", vec![]))
        .add_option(sub("show", vec![incident()]))
        .add_option(sub("resolve", vec![incident()]))
        .add_option(sub("impact", vec![incident(), impact(true)]))
        .add_option(sub("note", vec![incident(), s("text", "The note", true)]))
        .add_option(sub(
            "page",
            vec![
                s("contact", "Contact alias", true),
                s("message", "What to say", true),
            ],
        ))
        .add_option(sub(
            "ack",
            vec![s("code", "The page's 6-digit accept code", false)],
        ))
        .add_option(sub(
            "oncall",
            vec![s("contact", "On-call schedule alias", false)],
        ))
        .add_option(sub("engagements", vec![]))
        .add_option(sub("help", vec![]));
    serde_json::to_value(vec![klaxon]).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_set_has_every_subcommand_with_fixed_option_names() {
        let v = super::commands();
        let cmd = &v[0];
        assert_eq!(cmd["name"], "klaxon");
        let subs: Vec<&str> = cmd["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        let want: Vec<&str> = super::USAGE.iter().map(|(n, _)| *n).collect();
        assert_eq!(subs, want);
        let start = &cmd["options"][0];
        assert_eq!(start["type"], 1);
        let names: Vec<&str> = start["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["plan", "title", "impact"]);
        assert_eq!(start["options"][2]["type"], 4);
        for o in cmd["options"].as_array().unwrap() {
            let d = o["description"].as_str().unwrap();
            assert!(!d.is_empty() && d.chars().count() <= 100, "{d}");
        }
    }
}
