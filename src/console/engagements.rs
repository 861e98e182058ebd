//! `/console/engagements`: running engagements with their pages and receipts; Acknowledge on a
//! page (AcceptPage, READ) and Stop on an engagement. The incident page shows its engagements
//! the same way.

use super::ops::Caller;
use super::request::{done_words, field, redirect, safe_next};
use super::session::Session;
use super::view::{self, ms};
use super::{Console, ConsoleError};
use crate::shapes::contacts::*;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const LIST_PAGE: i32 = 100;
/// Pages of ListEngagements read to find running ones before offering "More".
const LIST_READS: usize = 5;

/// Channel ARN → its name, looked up once per page shown.
#[derive(Default)]
pub struct Channels(HashMap<String, String>);

impl Channels {
    pub async fn name(&mut self, caller: &Caller<'_>, arn: &str) -> String {
        if let Some(n) = self.0.get(arn) {
            return n.clone();
        }
        let got: Result<GetContactChannelResult, _> = caller
            .contacts(
                "GetContactChannel",
                &GetContactChannelRequest {
                    contact_channel_id: Some(arn.to_string()),
                },
            )
            .await;
        let name = match got {
            Ok(c) => format!(
                "{} ({})",
                c.name.unwrap_or_default(),
                c.r#type.map(|t| t.as_str().to_string()).unwrap_or_default()
            ),
            Err(_) => view::tail(arn).to_string(),
        };
        self.0.insert(arn.to_string(), name.clone());
        name
    }
}

async fn pages(
    caller: &Caller<'_>,
    engagement_arn: &str,
    channels: &mut Channels,
) -> Result<Vec<Value>, ConsoleError> {
    let out: ListPagesByEngagementResult = caller
        .contacts(
            "ListPagesByEngagement",
            &ListPagesByEngagementRequest {
                engagement_id: Some(engagement_arn.to_string()),
                max_results: Some(100),
                next_token: None,
            },
        )
        .await?;
    let mut shown = Vec::new();
    for p in out.pages.unwrap_or_default() {
        let page_arn = p.page_arn.clone().unwrap_or_default();
        let receipts: ListPageReceiptsResult = caller
            .contacts(
                "ListPageReceipts",
                &ListPageReceiptsRequest {
                    page_id: Some(page_arn.clone()),
                    max_results: Some(50),
                    next_token: None,
                },
            )
            .await?;
        let mut rs = Vec::new();
        for r in receipts.receipts.unwrap_or_default() {
            let channel = match &r.contact_channel_arn {
                Some(a) => Some(channels.name(caller, a).await),
                None => None,
            };
            let t = ms(r.receipt_time).unwrap_or_default();
            rs.push(json!({
                "type": r.receipt_type.map(|t| t.as_str().to_string()),
                "info": r.receipt_info, "channel": channel,
                "iso": view::iso(t), "utc": view::utc(t),
            }));
        }
        let sent = ms(p.sent_time);
        shown.push(json!({
            "arn": page_arn,
            "contact": p.contact_arn.as_deref().map(view::tail),
            "sent_utc": sent.map(view::utc), "sent_iso": sent.map(view::iso),
            "read_utc": ms(p.read_time).map(view::utc),
            "acknowledged": p.read_time.is_some(),
            "receipts": rs,
        }));
    }
    Ok(shown)
}

/// One engagement as a page shows it: what, to whom, since when, and its pages.
async fn engagement(
    caller: &Caller<'_>,
    e: &Engagement,
    now: i64,
    channels: &mut Channels,
) -> Result<Value, ConsoleError> {
    let arn = e.engagement_arn.clone().unwrap_or_default();
    let described: DescribeEngagementResult = caller
        .contacts(
            "DescribeEngagement",
            &DescribeEngagementRequest {
                engagement_id: Some(arn.clone()),
            },
        )
        .await?;
    let started = ms(e.start_time).unwrap_or(now);
    Ok(json!({
        "arn": arn,
        "contact": e.contact_arn.as_deref().map(view::tail),
        "contact_href": e.contact_arn.as_deref().map(|a| format!("/console/contacts/{}", view::segment(view::tail(a)))),
        "sender": e.sender.as_deref().map(view::tail),
        "subject": described.subject,
        "incident_href": e.incident_id.as_deref().and_then(super::incidents::href),
        "started_utc": view::utc(started), "started_iso": view::iso(started),
        "age": view::span(now - started),
        "running": e.stop_time.is_none(),
        "stopped_utc": ms(e.stop_time).map(view::utc),
        "pages": pages(caller, &arn, channels).await?,
    }))
}

/// Every engagement of an incident, running or stopped.
pub async fn for_incident(
    caller: &Caller<'_>,
    incident_arn: &str,
    now: i64,
) -> Result<Vec<Value>, ConsoleError> {
    let out: ListEngagementsResult = caller
        .contacts(
            "ListEngagements",
            &ListEngagementsRequest {
                incident_id: Some(incident_arn.to_string()),
                max_results: Some(LIST_PAGE),
                ..Default::default()
            },
        )
        .await?;
    let mut channels = Channels::default();
    let mut shown = Vec::new();
    for e in out.engagements.unwrap_or_default() {
        shown.push(engagement(caller, &e, now, &mut channels).await?);
    }
    Ok(shown)
}

async fn list_ctx(
    c: &Console,
    who: &super::session::Session,
    q: &super::request::Form,
) -> Result<Value, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let now = c.clock.now_ms();
    let mut token = field(q, "next")
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let mut running = Vec::new();
    for _ in 0..LIST_READS {
        let out: ListEngagementsResult = caller
            .contacts(
                "ListEngagements",
                &ListEngagementsRequest {
                    max_results: Some(LIST_PAGE),
                    next_token: token.take(),
                    ..Default::default()
                },
            )
            .await?;
        running.extend(
            out.engagements
                .unwrap_or_default()
                .into_iter()
                .filter(|e| e.stop_time.is_none()),
        );
        token = out.next_token;
        if token.is_none() || running.len() >= LIST_PAGE as usize {
            break;
        }
    }
    let mut channels = Channels::default();
    let mut shown = Vec::new();
    for e in &running {
        shown.push(engagement(&caller, e, now, &mut channels).await?);
    }
    Ok(json!({"engagements": shown, "next": token, "done": done_words(q)}))
}

pub async fn list(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    c.view(req, "console/engagements.html", async |who, q| {
        list_ctx(&c, who, q).await
    })
    .await
}

/// Where to go after an action: the page the form came from, inside the console.
fn back_to(form: &super::request::Form, done: &str) -> String {
    let back = match field(form, "back") {
        Some(b) => safe_next(Some(b)),
        None => "/console/engagements",
    };
    let sep = if back.contains('?') { '&' } else { '?' };
    format!("{back}{sep}done={done}")
}

/// Runs one SSM Contacts operation for a posted form, then goes back to where it came from.
async fn act<I: serde::Serialize>(
    c: &Console,
    req: Request,
    op: &str,
    done: &str,
    input: impl FnOnce(&Session, &super::request::Form) -> I,
) -> Response<Body> {
    let (who, form, _) = match c.poster(req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let res: Result<Value, _> = caller.contacts(op, &input(&who, &form)).await;
    match res {
        Ok(_) => redirect(&back_to(&form, done)),
        Err(e) => c.error_page(Some(&who), e),
    }
}

pub async fn acknowledge(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    act(&c, req, "AcceptPage", "acknowledged", |who, form| {
        AcceptPageRequest {
            page_id: field(form, "page_arn").map(str::to_string),
            accept_type: Some(AcceptType::Read),
            // The signed-in key stands in for the code, as an API caller's may.
            accept_code: Some("000000".into()),
            accept_code_validation: Some(AcceptCodeValidation::Ignore),
            note: Some(format!(
                "acknowledged by {} in the console",
                who.access_key_id
            )),
            contact_channel_id: None,
        }
    })
    .await
}

pub async fn stop(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    act(&c, req, "StopEngagement", "stopped", |who, form| {
        StopEngagementRequest {
            engagement_id: field(form, "engagement_arn").map(str::to_string),
            reason: Some(format!("stopped by {} in the console", who.access_key_id)),
        }
    })
    .await
}
