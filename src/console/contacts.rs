//! `/console/contacts` and `/console/contacts/<alias>`: contacts, escalation plans and on-call
//! schedules; a contact's channels with their activation, its plan stage by stage, and the
//! pages it was sent lately.

use super::oncall::name_of;
use super::ops::Caller;
use super::request::field;
use super::view::{self, ms};
use super::{Console, ConsoleError};
use crate::shapes::contacts::*;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const LIST_PAGE: i32 = 100;
const RECENT_PAGES: i32 = 20;

fn type_word(t: Option<&ContactType>) -> &'static str {
    match t {
        Some(ContactType::Personal) => "Person",
        Some(ContactType::Escalation) => "Escalation plan",
        Some(ContactType::OncallSchedule) => "On-call schedule",
        _ => "Contact",
    }
}

fn contact_href(alias: &str) -> String {
    format!("/console/contacts/{}", view::segment(alias))
}

async fn list_ctx(
    c: &Console,
    who: &super::session::Session,
    q: &super::request::Form,
) -> Result<Value, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let out: ListContactsResult = caller
        .contacts(
            "ListContacts",
            &ListContactsRequest {
                max_results: Some(LIST_PAGE),
                next_token: field(q, "next")
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
                ..Default::default()
            },
        )
        .await?;
    let rows: Vec<Value> = out
        .contacts
        .unwrap_or_default()
        .iter()
        .map(|ct| {
            let alias = ct.alias.clone().unwrap_or_default();
            json!({
                "alias": alias, "href": contact_href(&alias),
                "display_name": ct.display_name,
                "type": type_word(ct.r#type.as_ref()),
            })
        })
        .collect();
    Ok(json!({"contacts": rows, "next": out.next_token}))
}

pub async fn list(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    c.view(req, "console/contacts.html", async |who, q| {
        list_ctx(&c, who, q).await
    })
    .await
}

async fn rotation_name(caller: &Caller<'_>, id: &str) -> String {
    let got: Result<GetRotationResult, _> = caller
        .contacts(
            "GetRotation",
            &GetRotationRequest {
                rotation_id: Some(id.to_string()),
            },
        )
        .await;
    match got {
        Ok(r) => format!(
            "{} ({})",
            r.name.unwrap_or_default(),
            r.time_zone_id.unwrap_or_default()
        ),
        Err(_) => view::tail(id).to_string(),
    }
}

fn stage_view(i: usize, s: &Stage, channels: &HashMap<String, String>) -> Value {
    let targets: Vec<Value> = s
        .targets
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|t| match (&t.channel_target_info, &t.contact_target_info) {
            (Some(ch), _) => {
                let arn = ch.contact_channel_id.clone().unwrap_or_default();
                json!({
                    "text": channels.get(&arn).cloned().unwrap_or_else(|| view::tail(&arn).to_string()),
                    "retry": ch.retry_interval_in_minutes,
                })
            }
            (None, Some(ct)) => {
                let alias = ct.contact_id.as_deref().map(view::tail).unwrap_or_default().to_string();
                json!({
                    "text": alias, "href": contact_href(&alias),
                    "essential": ct.is_essential.unwrap_or(false),
                })
            }
            _ => json!({"text": "?"}),
        })
        .collect();
    json!({
        "number": i + 1,
        "minutes": s.duration_in_minutes.unwrap_or_default(),
        "targets": targets,
    })
}

async fn contact_ctx(
    c: &Console,
    who: &super::session::Session,
    alias: &str,
) -> Result<Value, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let now = c.clock.now_ms();
    let arn = caller.contact_arn(alias);
    let got: GetContactResult = caller
        .contacts(
            "GetContact",
            &GetContactRequest {
                contact_id: Some(arn.clone()),
            },
        )
        .await
        .map_err(|e| {
            if e.is_not_found() {
                ConsoleError::NotFound(format!("There is no contact {alias} in this account."))
            } else {
                e
            }
        })?;
    let personal = got.r#type == Some(ContactType::Personal);
    let mut channels = Vec::new();
    let mut channel_names = HashMap::new();
    if personal {
        let out: ListContactChannelsResult = caller
            .contacts(
                "ListContactChannels",
                &ListContactChannelsRequest {
                    contact_id: Some(arn.clone()),
                    max_results: Some(100),
                    next_token: None,
                },
            )
            .await?;
        for ch in out.contact_channels.unwrap_or_default() {
            let kind = ch
                .r#type
                .as_ref()
                .map(|t| t.as_str().to_string())
                .unwrap_or_default();
            let name = ch.name.clone().unwrap_or_default();
            if let Some(a) = &ch.contact_channel_arn {
                channel_names.insert(a.clone(), format!("{name} ({kind})"));
            }
            channels.push(json!({
                "name": name, "type": kind,
                "address": ch.delivery_address.and_then(|d| d.simple_address),
                "activated": ch.activation_status == Some(ActivationStatus::Activated),
            }));
        }
    }
    let plan = got.plan.clone().unwrap_or_default();
    let stages: Vec<Value> = plan
        .stages
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, s)| stage_view(i, s, &channel_names))
        .collect();
    let mut rotations = Vec::new();
    for id in plan.rotation_ids.unwrap_or_default() {
        rotations.push(rotation_name(&caller, &id).await);
    }
    let pages: ListPagesByContactResult = caller
        .contacts(
            "ListPagesByContact",
            &ListPagesByContactRequest {
                contact_id: Some(arn.clone()),
                max_results: Some(RECENT_PAGES),
                next_token: None,
            },
        )
        .await?;
    let pages: Vec<Value> = pages
        .pages
        .unwrap_or_default()
        .iter()
        .map(|p| {
            let sent = ms(p.sent_time);
            json!({
                "sent_utc": sent.map(view::utc), "sent_iso": sent.map(view::iso),
                "age": sent.map(|t| view::span(now - t)),
                "sender": p.sender.as_deref().map(view::tail),
                "read_utc": ms(p.read_time).map(view::utc),
                "incident_href": p.incident_id.as_deref().and_then(super::incidents::href),
            })
        })
        .collect();
    let summary = Contact {
        alias: got.alias.clone(),
        display_name: got.display_name.clone(),
        ..Default::default()
    };
    Ok(json!({
        "contact": {
            "alias": got.alias, "name": name_of(&summary), "arn": arn,
            "type": type_word(got.r#type.as_ref()), "personal": personal,
        },
        "channels": channels,
        "stages": stages,
        "rotations": rotations,
        "pages": pages,
    }))
}

pub async fn show(
    State(c): State<Arc<Console>>,
    Path(alias): Path<String>,
    req: Request,
) -> Response<Body> {
    c.view(req, "console/contact.html", async |who, _| {
        contact_ctx(&c, who, &alias).await
    })
    .await
}
