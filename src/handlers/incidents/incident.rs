//! Incident records: started from a response plan (by hand or by a trigger), deduplicated
//! while OPEN, updated, resolved and deleted. Every change that matters to responders also
//! lands on the incident's timeline.

use super::errors::{invalid, not_found};
use super::filters::{self, Form};
use super::records::{DEDUPE, DedupeBody, EVENT, INCIDENT, IncidentBody, PlanBody, RELATED, TAGS};
use super::related::{add, check_distinct};
use super::replication::require_active;
use super::timeline::{CREATED, UPDATED, automatic, update_data};
use super::{ClientToken, IncidentsService, list_page, plan, principal, save, tags};
use super::{plan::chat_channel, time_key};
use crate::domain::arn::{Arn, incidents_arn, new_id};
use crate::engine::engagement::{self, Start};
use crate::engine::error::EngineError;
use crate::engine::records::Message;
use crate::shapes::incidents::*;
use crate::shapes::{Context, Timestamp};
use crate::storage::{ListQuery, Reader, Record, StoreError, Tx};
use serde_json::{Value, json};

/// The source of an incident started by hand rather than by a trigger.
pub const MANUAL_SOURCE: &str = "aws.ssm-incidents.custom";

async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    arn: &str,
) -> Result<(Record, IncidentBody), Error> {
    let rec = r
        .get(INCIDENT, &ctx.account_id, arn)
        .await?
        .ok_or_else(|| not_found(ResourceType::IncidentRecord, arn))?;
    let body = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

/// The OPEN incident holding this dedupe string, if any.
async fn open_duplicate(
    tx: &mut dyn Tx,
    ctx: &Context,
    dedupe: &str,
) -> Result<Option<(Record, IncidentBody)>, Error> {
    let Some(idx) = tx.get(DEDUPE, &ctx.account_id, dedupe).await? else {
        return Ok(None);
    };
    let target: DedupeBody = serde_json::from_str(&idx.body)?;
    let Some(rec) = tx
        .get(INCIDENT, &ctx.account_id, &target.incident_arn)
        .await?
    else {
        return Ok(None);
    };
    let body: IncidentBody = serde_json::from_str(&rec.body)?;
    let open = body.record.status == Some(IncidentRecordStatus::Open);
    Ok(open.then_some((rec, body)))
}

/// Points the dedupe string at this incident. False when a concurrent start indexed the
/// string first: that transaction's incident is the one to merge into.
async fn index_dedupe(
    tx: &mut dyn Tx,
    ctx: &Context,
    dedupe: &str,
    arn: &str,
    now: i64,
) -> Result<bool, Error> {
    let body = DedupeBody {
        incident_arn: arn.to_string(),
    };
    let rec = Record {
        kind: DEDUPE.into(),
        account: ctx.account_id.clone(),
        id: dedupe.to_string(),
        parent: Some(arn.to_string()),
        sort: dedupe.to_string(),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    };
    // One look at the entry decides. An entry for another OPEN incident means a concurrent
    // start committed first: lose the race and merge on retry. A stale entry (its incident
    // resolved or gone) is deleted by the incident it names, never by key, so an entry that
    // another start committed after this look survives, and the insert below then conflicts
    // on the primary key: concurrent starts always meet.
    if let Some(entry) = tx.get(DEDUPE, &ctx.account_id, dedupe).await? {
        let target: DedupeBody = serde_json::from_str(&entry.body)?;
        if target.incident_arn != arn {
            let open = match tx
                .get(INCIDENT, &ctx.account_id, &target.incident_arn)
                .await?
            {
                Some(rec) => {
                    let b: IncidentBody = serde_json::from_str(&rec.body)?;
                    b.record.status == Some(IncidentRecordStatus::Open)
                }
                None => false,
            };
            if open {
                return Ok(false);
            }
        }
        tx.delete_children(DEDUPE, &ctx.account_id, &target.incident_arn)
            .await?;
    }
    match tx.insert(&rec).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Removes the dedupe index entry when it points at this incident.
async fn unindex_dedupe(tx: &mut dyn Tx, ctx: &Context, body: &IncidentBody) -> Result<(), Error> {
    let (Some(d), Some(arn)) = (&body.record.dedupe_string, &body.record.arn) else {
        return Ok(());
    };
    if let Some(idx) = tx.get(DEDUPE, &ctx.account_id, d).await?
        && idx.parent.as_deref() == Some(arn.as_str())
    {
        tx.delete(DEDUPE, &ctx.account_id, d).await?;
    }
    Ok(())
}

fn trigger_data(ctx: &Context, input: &StartIncidentInput, source: &str) -> Value {
    let t = input.trigger_details.clone().unwrap_or_default();
    json!({
        "createdBy": principal(ctx),
        "source": source,
        "triggerArn": t.trigger_arn,
        "triggerTimestamp": t.timestamp,
        "rawData": t.raw_data,
    })
}

/// A start absorbed by an OPEN incident with the same dedupe string: its related items join
/// that incident and the timeline notes the repeated trigger.
async fn merge(
    tx: &mut dyn Tx,
    ctx: &Context,
    input: &StartIncidentInput,
    existing: &IncidentBody,
    source: &str,
    now: i64,
) -> Result<String, Error> {
    let arn = existing.record.arn.clone().unwrap_or_default();
    for item in input.related_items.iter().flatten() {
        match add(tx, ctx, &arn, item, now).await {
            Ok(_) | Err(Error::ConflictException(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let title = existing.record.title.clone().unwrap_or_default();
    let data = update_data(
        ctx,
        &title,
        vec![(
            "deduplicatedTrigger",
            Value::Null,
            trigger_data(ctx, input, source),
        )],
    );
    automatic::<Error>(tx, ctx, &arn, UPDATED, data, now).await?;
    Ok(arn)
}

/// Attempts at a start that lost a dedupe race; the next attempt merges into the winner.
const START_ATTEMPTS: usize = 3;

pub async fn start(
    svc: &IncidentsService,
    ctx: Context,
    input: StartIncidentInput,
) -> Result<StartIncidentOutput, Error> {
    for _ in 0..START_ATTEMPTS {
        if let Some(out) = start_once(svc, &ctx, &input).await? {
            return Ok(out);
        }
    }
    Err(super::errors::conflict(
        Some(ResourceType::IncidentRecord),
        input.response_plan_arn.as_deref().unwrap_or_default(),
        "concurrent starts with the same dedupe string; retry",
        Some(svc.clock.now_ms() + 100),
    ))
}

/// One transaction of StartIncident; None when it lost a dedupe race and was rolled back.
async fn start_once(
    svc: &IncidentsService,
    ctx: &Context,
    input: &StartIncidentInput,
) -> Result<Option<StartIncidentOutput>, Error> {
    let plan_arn = input.response_plan_arn.clone().unwrap_or_default();
    let related = input.related_items.clone().unwrap_or_default();
    check_distinct("relatedItems", &related)?;
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        ctx,
        "StartIncident",
        input.client_token.as_deref(),
        input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    require_active(tx.as_mut(), ctx, now).await?;
    if let Some(arn) = guard.replayed(tx.as_mut()).await? {
        return Ok(Some(StartIncidentOutput {
            incident_record_arn: Some(arn),
        }));
    }
    let (_, p): (_, PlanBody) = plan::load(tx.as_mut(), ctx, &plan_arn).await?;
    let template = p.incident_template.clone().unwrap_or_default();
    let trigger = input.trigger_details.clone();
    let source = trigger
        .as_ref()
        .and_then(|t| t.source.clone())
        .unwrap_or_else(|| MANUAL_SOURCE.to_string());
    let dedupe = template.dedupe_string.clone().filter(|d| !d.is_empty());
    if let Some(d) = &dedupe
        && let Some((_, existing)) = open_duplicate(tx.as_mut(), ctx, d).await?
    {
        let arn = merge(tx.as_mut(), ctx, input, &existing, &source, now).await?;
        guard.remember(tx.as_mut(), &arn).await?;
        tx.commit().await?;
        return Ok(Some(StartIncidentOutput {
            incident_record_arn: Some(arn),
        }));
    }
    let plan_name = p.name.clone().unwrap_or_default();
    let arn = incidents_arn(
        &ctx.account_id,
        "incident-record",
        &format!("{plan_name}/{}", new_id()),
    );
    let record = IncidentRecord {
        arn: Some(arn.clone()),
        automation_executions: None,
        chat_channel: p.chat_channel.clone(),
        creation_time: Some(Timestamp::from_millis(now)),
        dedupe_string: Some(dedupe.clone().unwrap_or_else(new_id)),
        impact: input.impact.or(template.impact),
        incident_record_source: Some(IncidentRecordSource {
            created_by: Some(principal(ctx)),
            invoked_by: None,
            resource_arn: trigger.as_ref().and_then(|t| t.trigger_arn.clone()),
            source: Some(source.clone()),
        }),
        last_modified_by: Some(principal(ctx)),
        last_modified_time: Some(Timestamp::from_millis(now)),
        notification_targets: template.notification_targets.clone(),
        resolved_time: None,
        status: Some(IncidentRecordStatus::Open),
        summary: template.summary.clone(),
        title: input.title.clone().or(template.title.clone()),
    };
    let body = IncidentBody {
        record,
        plan_arn: plan_arn.clone(),
        dedupe_indexed: dedupe.is_some(),
    };
    tx.insert(&Record {
        kind: INCIDENT.into(),
        account: ctx.account_id.clone(),
        id: arn.clone(),
        parent: Some(plan_arn.clone()),
        sort: time_key(now),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    if let Some(d) = &dedupe
        && !index_dedupe(tx.as_mut(), ctx, d, &arn, now).await?
    {
        return Ok(None);
    }
    if let Some(t) = template.incident_tags.clone().filter(|t| !t.is_empty()) {
        tags::write(tx.as_mut(), ctx, &arn, ResourceType::IncidentRecord, t, now).await?;
    }
    for item in &related {
        add(tx.as_mut(), ctx, &arn, item, now).await?;
    }
    let mut data = trigger_data(ctx, input, &source);
    data["title"] = json!(body.record.title);
    data["impact"] = json!(body.record.impact);
    data["responsePlanArn"] = json!(plan_arn);
    automatic::<Error>(tx.as_mut(), ctx, &arn, CREATED, data, now).await?;
    let engaged = engage(svc, tx.as_mut(), ctx, &arn, &body.record, &p, now).await?;
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    if engaged {
        svc.wake.notify_one();
    }
    Ok(Some(StartIncidentOutput {
        incident_record_arn: Some(arn),
    }))
}

/// Starts one engagement per contact the response plan names, with the incident's title and
/// summary, and notes each on the timeline. A contact that no longer exists is noted there too
/// instead of failing the start. Returns whether anything was engaged.
async fn engage(
    svc: &IncidentsService,
    tx: &mut dyn Tx,
    ctx: &Context,
    arn: &str,
    record: &IncidentRecord,
    plan: &PlanBody,
    now: i64,
) -> Result<bool, Error> {
    let title = record.title.clone().unwrap_or_default();
    let impact = record.impact.unwrap_or_default();
    let mut engaged = false;
    for contact in plan.engagements.iter().flatten() {
        let region = Arn::parse(contact)
            .map(|a| a.region)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| ctx.region.clone());
        let message = Message {
            sender: principal(ctx),
            subject: format!("Incident: {title}"),
            content: record.summary.clone().unwrap_or_else(|| title.clone()),
            public_subject: Some(format!("Incident (impact {impact})")),
            public_content: Some(title.clone()),
            incident_id: Some(arn.to_string()),
            chat_topics: record
                .chat_channel
                .as_ref()
                .and_then(|c| c.chatbot_sns.clone())
                .unwrap_or_default(),
        };
        let start = Start {
            region,
            contact_arn: contact.clone(),
            message,
        };
        match engagement::start(tx, &ctx.account_id, start, now, svc.durations).await {
            Ok(engagement_arn) => {
                let data = json!({"contactArn": contact, "engagementArn": engagement_arn});
                automatic::<Error>(tx, ctx, arn, super::PAGE_EVENT, data, now).await?;
                engaged = true;
            }
            Err(EngineError::NotFound { .. }) => {
                tracing::warn!(incident = %arn, contact = %contact, "response plan names a contact that does not exist; not engaged");
                let data =
                    json!({"contactArn": contact, "error": "contact not found; not engaged"});
                automatic::<Error>(tx, ctx, arn, super::PAGE_EVENT, data, now).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(engaged)
}

pub async fn get(
    svc: &IncidentsService,
    ctx: Context,
    input: GetIncidentRecordInput,
) -> Result<GetIncidentRecordOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (_, body) = load(r.as_mut(), &ctx, &arn).await?;
    Ok(GetIncidentRecordOutput {
        incident_record: Some(body.record),
    })
}

const FILTER_KEYS: &[(&str, Form)] = &[
    ("creationTime", Form::Time),
    ("impact", Form::Integers),
    ("status", Form::Strings),
    ("createdBy", Form::Strings),
];

/// Newest first; the creation-time filter narrows the scan itself.
pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListIncidentRecordsInput,
) -> Result<ListIncidentRecordsOutput, Error> {
    let f = filters::parse(&input.filters.unwrap_or_default(), FILTER_KEYS)?;
    let scope = format!("incidents/{}", ctx.account_id);
    let (sort_min, sort_max) = f.bounds();
    let q = ListQuery {
        kind: INCIDENT.into(),
        account: ctx.account_id.clone(),
        sort_min,
        sort_max,
        descending: true,
        ..Default::default()
    };
    let mut r = svc.store.read().await?;
    let p = list_page(
        r.as_mut(),
        q,
        &scope,
        input.next_token.as_deref(),
        input.max_results,
        |rec| {
            let b: IncidentBody = serde_json::from_str(&rec.body).ok()?;
            let i = b.record;
            let status = i.status.as_ref().map(|s| s.as_str()).unwrap_or_default();
            let created_by = i
                .incident_record_source
                .as_ref()
                .and_then(|s| s.created_by.as_deref())
                .unwrap_or_default();
            let keep = f.integer_matches("impact", i.impact.unwrap_or_default())
                && f.string_matches("status", &[status])
                && f.string_matches("createdBy", &[created_by]);
            keep.then_some(IncidentRecordSummary {
                arn: i.arn,
                creation_time: i.creation_time,
                impact: i.impact,
                incident_record_source: i.incident_record_source,
                resolved_time: i.resolved_time,
                status: i.status,
                title: i.title,
            })
        },
    )
    .await?;
    Ok(ListIncidentRecordsOutput {
        incident_record_summaries: Some(p.items),
        next_token: p.next,
    })
}

pub async fn update(
    svc: &IncidentsService,
    ctx: Context,
    input: UpdateIncidentRecordInput,
) -> Result<UpdateIncidentRecordOutput, Error> {
    let arn = input.arn.clone().unwrap_or_default();
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "UpdateIncidentRecord",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if guard.replayed(tx.as_mut()).await?.is_some() {
        return Ok(UpdateIncidentRecordOutput {});
    }
    let (mut rec, mut body) = load(tx.as_mut(), &ctx, &arn).await?;
    let old = body.record.clone();
    let i = input.clone();
    let r = &mut body.record;
    let mut changes: Vec<(&str, Value, Value)> = Vec::new();
    if let Some(t) = i.title.filter(|t| Some(t) != old.title.as_ref()) {
        changes.push(("title", json!(old.title), json!(t)));
        r.title = Some(t);
    }
    if let Some(s) = i.summary.filter(|s| Some(s) != old.summary.as_ref()) {
        changes.push(("summary", json!(old.summary), json!(s)));
        r.summary = Some(s);
    }
    if let Some(n) = i.impact.filter(|n| Some(*n) != old.impact) {
        changes.push(("impact", json!(old.impact), json!(n)));
        r.impact = Some(n);
    }
    if let Some(n) = i.notification_targets {
        changes.push((
            "notificationTargets",
            json!(old.notification_targets),
            json!(n),
        ));
        r.notification_targets = Some(n);
    }
    if i.chat_channel.is_some() {
        r.chat_channel = chat_channel(i.chat_channel);
        changes.push((
            "chatChannel",
            json!(old.chat_channel),
            json!(r.chat_channel),
        ));
    }
    let mut reopened = false;
    let mut resolved = false;
    if let Some(s) = i.status.filter(|s| Some(s) != old.status.as_ref()) {
        changes.push(("status", json!(old.status), json!(s)));
        match s {
            IncidentRecordStatus::Resolved => {
                r.resolved_time = Some(Timestamp::from_millis(now));
                resolved = true;
            }
            _ => {
                r.resolved_time = None;
                reopened = true;
            }
        }
        r.status = Some(s);
    }
    r.last_modified_by = Some(principal(&ctx));
    r.last_modified_time = Some(Timestamp::from_millis(now));
    if body.dedupe_indexed {
        if body.record.status == Some(IncidentRecordStatus::Resolved) {
            unindex_dedupe(tx.as_mut(), &ctx, &body).await?;
        } else if reopened {
            let d = body.record.dedupe_string.clone().unwrap_or_default();
            // Another OPEN incident may hold the string by now; then this one stays unindexed.
            if open_duplicate(tx.as_mut(), &ctx, &d).await?.is_none() {
                index_dedupe(tx.as_mut(), &ctx, &d, &arn, now).await?;
            }
        }
    }
    save(tx.as_mut(), &mut rec, &body, now).await?;
    if resolved {
        // Nobody needs to be paged for an incident that is over.
        engagement::stop_for_incident(tx.as_mut(), &ctx.account_id, &arn, "incident resolved", now)
            .await?;
    }
    if !changes.is_empty() {
        let title = body.record.title.clone().unwrap_or_default();
        let data = update_data(&ctx, &title, changes);
        automatic::<Error>(tx.as_mut(), &ctx, &arn, UPDATED, data, now).await?;
    }
    guard.remember(tx.as_mut(), "").await?;
    tx.commit().await?;
    Ok(UpdateIncidentRecordOutput {})
}

/// Deleting a missing incident succeeds, as in AWS. Its timeline, related items and tags go
/// with it.
pub async fn delete(
    svc: &IncidentsService,
    ctx: Context,
    input: DeleteIncidentRecordInput,
) -> Result<DeleteIncidentRecordOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    if Arn::parse(&arn).is_none_or(|a| a.resource_type != "incident-record") {
        return Err(invalid(format!("arn: {arn} is not an incident record ARN")));
    }
    let mut tx = svc.store.begin().await?;
    if let Some(rec) = tx.get(INCIDENT, &ctx.account_id, &arn).await? {
        let body: IncidentBody = serde_json::from_str(&rec.body)?;
        unindex_dedupe(tx.as_mut(), &ctx, &body).await?;
        tx.delete(INCIDENT, &ctx.account_id, &arn).await?;
        tx.delete_children(EVENT, &ctx.account_id, &arn).await?;
        tx.delete_children(RELATED, &ctx.account_id, &arn).await?;
        tx.delete(TAGS, &ctx.account_id, &arn).await?;
    }
    tx.commit().await?;
    Ok(DeleteIncidentRecordOutput {})
}
