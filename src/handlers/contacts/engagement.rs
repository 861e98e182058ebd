//! Engagements through the API: start (with IdempotencyToken replay), stop, describe, list.
//! The engine does the work inside the request's transaction; the engine loop is woken after
//! the commit so the first sends go out at once.

use super::errors::invalid;
use super::idempotency::IdempotencyToken;
use super::{ContactsService, page_size, resume_after};
use crate::engine::engagement::{self, Start};
use crate::engine::records::{ENGAGEMENT, EngagementBody, Message, RT_ENGAGEMENT};
use crate::handlers::incidents::{PAGE_EVENT, engagement_event};
use crate::handlers::paging::page;
use crate::shapes::contacts::*;
use crate::shapes::{Context, Timestamp};
use crate::storage::{ListQuery, Record};
use serde_json::json;

pub async fn start(
    svc: &ContactsService,
    ctx: Context,
    input: StartEngagementRequest,
) -> Result<StartEngagementResult, Error> {
    let now = svc.clock.now_ms();
    let guard = IdempotencyToken::new(
        &ctx,
        "StartEngagement",
        input.idempotency_token.as_deref(),
        &StartEngagementRequest {
            idempotency_token: None,
            ..input.clone()
        },
        now,
    );
    let mut tx = svc.store.begin().await?;
    if let Some(done) = guard.replayed(tx.as_mut()).await? {
        return Ok(StartEngagementResult {
            engagement_arn: Some(done),
        });
    }
    let contact_arn = input.contact_id.clone().unwrap_or_default();
    let incident_id = input.incident_id.clone().filter(|i| !i.is_empty());
    let message = Message {
        sender: input.sender.clone().unwrap_or_default(),
        subject: input.subject.clone().unwrap_or_default(),
        content: input.content.clone().unwrap_or_default(),
        public_subject: input.public_subject.clone(),
        public_content: input.public_content.clone(),
        incident_id: incident_id.clone(),
        chat_topics: Vec::new(),
    };
    let start = Start {
        region: ctx.region.clone(),
        contact_arn: contact_arn.clone(),
        message,
    };
    let arn = engagement::start(tx.as_mut(), &ctx.account_id, start, now, svc.durations).await?;
    let data = json!({"contactArn": contact_arn, "engagementArn": arn});
    engagement_event::<Error>(
        tx.as_mut(),
        &ctx,
        incident_id.as_deref(),
        PAGE_EVENT,
        data,
        now,
    )
    .await?;
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    svc.wake.notify_one();
    Ok(StartEngagementResult {
        engagement_arn: Some(arn),
    })
}

pub async fn stop(
    svc: &ContactsService,
    ctx: Context,
    input: StopEngagementRequest,
) -> Result<StopEngagementResult, Error> {
    let id = input.engagement_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    engagement::stop(
        tx.as_mut(),
        &ctx.account_id,
        &id,
        input.reason.as_deref(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StopEngagementResult {})
}

fn body(rec: &Record) -> Result<EngagementBody, Error> {
    Ok(serde_json::from_str(&rec.body)?)
}

pub async fn describe(
    svc: &ContactsService,
    ctx: Context,
    input: DescribeEngagementRequest,
) -> Result<DescribeEngagementResult, Error> {
    let id = input.engagement_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let rec = r
        .get(ENGAGEMENT, &ctx.account_id, &id)
        .await?
        .ok_or_else(|| super::errors::not_found(RT_ENGAGEMENT, &id))?;
    let e = body(&rec)?;
    Ok(DescribeEngagementResult {
        contact_arn: Some(e.contact_arn),
        engagement_arn: Some(rec.id),
        sender: Some(e.message.sender),
        subject: Some(e.message.subject),
        content: Some(e.message.content),
        public_subject: e.message.public_subject,
        public_content: e.message.public_content,
        incident_id: e.message.incident_id,
        start_time: Some(Timestamp::from_millis(e.start_ms)),
        stop_time: e.stop_ms.map(Timestamp::from_millis),
    })
}

/// Oldest first. TimeRangeValue keeps engagements that started within it (both ends included).
pub async fn list(
    svc: &ContactsService,
    ctx: Context,
    input: ListEngagementsRequest,
) -> Result<ListEngagementsResult, Error> {
    let incident = input.incident_id.clone().filter(|i| !i.is_empty());
    let range = input.time_range_value.clone().unwrap_or_default();
    let (from, to) = (range.start_time, range.end_time);
    if let (Some(a), Some(b)) = (from, to)
        && a > b
    {
        return Err(invalid(
            "TimeRangeValue.EndTime",
            "must not be before StartTime",
        ));
    }
    let scope = format!("engagements:{}", incident.clone().unwrap_or_default());
    let after = resume_after(&scope, input.next_token.as_deref())?;
    let q = ListQuery {
        kind: ENGAGEMENT.into(),
        account: ctx.account_id.clone(),
        parent: incident,
        sort_min: from.map(|t| format!("{:016}", t.millis())),
        sort_max: to.map(|t| format!("{:016}", t.millis() + 1)),
        after,
        ..Default::default()
    };
    let mut r = svc.store.read().await?;
    let p = page(r.as_mut(), q, &scope, page_size(input.max_results), |rec| {
        let e = body(rec).ok()?;
        Some(Engagement {
            engagement_arn: Some(rec.id.clone()),
            contact_arn: Some(e.contact_arn),
            sender: Some(e.message.sender),
            incident_id: e.message.incident_id,
            start_time: Some(Timestamp::from_millis(e.start_ms)),
            stop_time: e.stop_ms.map(Timestamp::from_millis),
        })
    })
    .await?;
    Ok(ListEngagementsResult {
        next_token: p.next,
        engagements: Some(p.items),
    })
}
