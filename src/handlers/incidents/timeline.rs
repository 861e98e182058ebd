//! Timeline events of an incident: the ones Klaxon writes itself (creation, changes of
//! status, impact and title, related items) and the caller's `Custom Event` and `Note`.

use super::errors::{invalid, not_found};
use super::filters::{self, Form};
use super::records::{EVENT, EventBody, INCIDENT};
use super::{ClientToken, IncidentsService, list_page, must_exist, principal, save, time_key};
use crate::domain::arn::new_id;
use crate::shapes::incidents::*;
use crate::shapes::{Context, Timestamp};
use crate::storage::{ListQuery, Reader, Record, StoreError, Tx};
use serde_json::{Value, json};

/// Event types a caller may create, update or delete.
pub const CALLER_TYPES: &[&str] = &["Custom Event", "Note"];
pub const CREATED: &str = "SSM Incident Record Create";
pub const UPDATED: &str = "SSM Incident Record Update";
/// 9999-12-31T23:59:59Z: later instants do not fit the fixed-width sort key.
const MAX_EVENT_MS: i64 = 253_402_300_799_000;

fn check_type(field: &str, t: &str) -> Result<(), Error> {
    if CALLER_TYPES.contains(&t) {
        Ok(())
    } else {
        Err(invalid(format!(
            "{field}: {t:?} is not one of [{}]",
            CALLER_TYPES.join(", ")
        )))
    }
}

fn check_time(t: Timestamp) -> Result<(), Error> {
    if (0..=MAX_EVENT_MS).contains(&t.millis()) {
        Ok(())
    } else {
        Err(invalid(
            "eventTime: must lie between 1970-01-01 and 9999-12-31",
        ))
    }
}

/// The eventData of an automatic update event, shaped like the ones AWS writes.
pub fn update_data(ctx: &Context, title: &str, changes: Vec<(&str, Value, Value)>) -> Value {
    let attrs: Vec<Value> = changes
        .into_iter()
        .map(|(name, old, new)| json!({"attributeName": name, "oldValue": old, "newValue": new}))
        .collect();
    json!({"modifiedBy": principal(ctx), "modifiedAttributes": attrs, "incidentTitle": title})
}

/// Adds an event to an incident inside the caller's transaction; returns its id.
pub async fn record<E: From<StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    ctx: &Context,
    incident_arn: &str,
    event: TimelineEvent,
    automatic: bool,
    now: i64,
) -> Result<String, E> {
    let id = new_id();
    let time = event.event_time.unwrap_or(Timestamp::from_millis(now));
    let body = EventBody {
        event: TimelineEvent {
            event_id: Some(id.clone()),
            event_time: Some(time),
            event_updated_time: Some(Timestamp::from_millis(now)),
            incident_record_arn: Some(incident_arn.to_string()),
            ..event
        },
        automatic,
    };
    tx.insert(&Record {
        kind: EVENT.into(),
        account: ctx.account_id.clone(),
        id: id.clone(),
        parent: Some(incident_arn.to_string()),
        sort: time_key(time.millis()),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    let event_type = body.event.event_type.as_deref().unwrap_or_default();
    let data = body.event.event_data.as_deref().unwrap_or_default();
    super::chat::announce::<E>(tx, &ctx.account_id, incident_arn, event_type, data, now).await?;
    Ok(id)
}

/// Writes an automatic event at `now`.
pub async fn automatic<E: From<StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    ctx: &Context,
    incident_arn: &str,
    event_type: &str,
    data: Value,
    now: i64,
) -> Result<(), E> {
    let event = TimelineEvent {
        event_type: Some(event_type.to_string()),
        event_data: Some(data.to_string()),
        event_time: Some(Timestamp::from_millis(now)),
        ..Default::default()
    };
    record::<E>(tx, ctx, incident_arn, event, true, now).await?;
    Ok(())
}

async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    incident_arn: &str,
    event_id: &str,
) -> Result<Option<(Record, EventBody)>, Error> {
    match r.get(EVENT, &ctx.account_id, event_id).await? {
        Some(rec) if rec.parent.as_deref() == Some(incident_arn) => {
            let body = serde_json::from_str(&rec.body)?;
            Ok(Some((rec, body)))
        }
        _ => Ok(None),
    }
}

pub async fn create(
    svc: &IncidentsService,
    ctx: Context,
    input: CreateTimelineEventInput,
) -> Result<CreateTimelineEventOutput, Error> {
    let incident = input.incident_record_arn.clone().unwrap_or_default();
    check_type("eventType", input.event_type.as_deref().unwrap_or_default())?;
    check_time(input.event_time.unwrap_or_default())?;
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "CreateTimelineEvent",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if let Some(id) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateTimelineEventOutput {
            event_id: Some(id),
            incident_record_arn: Some(incident),
        });
    }
    must_exist(
        tx.as_mut(),
        &ctx,
        INCIDENT,
        ResourceType::IncidentRecord,
        &incident,
    )
    .await?;
    let event = TimelineEvent {
        event_data: input.event_data,
        event_references: input.event_references,
        event_time: input.event_time,
        event_type: input.event_type,
        ..Default::default()
    };
    let id = record::<Error>(tx.as_mut(), &ctx, &incident, event, false, now).await?;
    guard.remember(tx.as_mut(), &id).await?;
    tx.commit().await?;
    Ok(CreateTimelineEventOutput {
        event_id: Some(id),
        incident_record_arn: Some(incident),
    })
}

pub async fn get(
    svc: &IncidentsService,
    ctx: Context,
    input: GetTimelineEventInput,
) -> Result<GetTimelineEventOutput, Error> {
    let incident = input.incident_record_arn.unwrap_or_default();
    let id = input.event_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (_, body) = load(r.as_mut(), &ctx, &incident, &id)
        .await?
        .ok_or_else(|| not_found(ResourceType::TimelineEvent, &id))?;
    Ok(GetTimelineEventOutput {
        event: Some(body.event),
    })
}

pub async fn update(
    svc: &IncidentsService,
    ctx: Context,
    input: UpdateTimelineEventInput,
) -> Result<UpdateTimelineEventOutput, Error> {
    let incident = input.incident_record_arn.clone().unwrap_or_default();
    let id = input.event_id.clone().unwrap_or_default();
    if let Some(t) = &input.event_type {
        check_type("eventType", t)?;
    }
    if let Some(t) = input.event_time {
        check_time(t)?;
    }
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "UpdateTimelineEvent",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if guard.replayed(tx.as_mut()).await?.is_some() {
        return Ok(UpdateTimelineEventOutput {});
    }
    let (mut rec, mut body) = load(tx.as_mut(), &ctx, &incident, &id)
        .await?
        .ok_or_else(|| not_found(ResourceType::TimelineEvent, &id))?;
    if body.automatic {
        return Err(invalid(format!(
            "eventId: {id} was written by Incident Manager; only {} events can be updated",
            CALLER_TYPES.join(" and ")
        )));
    }
    let e = &mut body.event;
    if input.event_data.is_some() {
        e.event_data = input.event_data;
    }
    if input.event_type.is_some() {
        e.event_type = input.event_type;
    }
    if let Some(t) = input.event_time {
        e.event_time = Some(t);
        rec.sort = time_key(t.millis());
    }
    if input.event_references.is_some() {
        e.event_references = input.event_references;
    }
    e.event_updated_time = Some(Timestamp::from_millis(now));
    save(tx.as_mut(), &mut rec, &body, now).await?;
    guard.remember(tx.as_mut(), "").await?;
    tx.commit().await?;
    Ok(UpdateTimelineEventOutput {})
}

/// Deleting a missing event succeeds, as in AWS.
pub async fn delete(
    svc: &IncidentsService,
    ctx: Context,
    input: DeleteTimelineEventInput,
) -> Result<DeleteTimelineEventOutput, Error> {
    let incident = input.incident_record_arn.unwrap_or_default();
    let id = input.event_id.unwrap_or_default();
    let mut tx = svc.store.begin().await?;
    if let Some((_, body)) = load(tx.as_mut(), &ctx, &incident, &id).await? {
        if body.automatic {
            return Err(invalid(format!(
                "eventId: {id} was written by Incident Manager and cannot be deleted"
            )));
        }
        tx.delete(EVENT, &ctx.account_id, &id).await?;
    }
    tx.commit().await?;
    Ok(DeleteTimelineEventOutput {})
}

const FILTER_KEYS: &[(&str, Form)] = &[
    ("eventTime", Form::Time),
    ("eventType", Form::Strings),
    ("eventReference", Form::Strings),
];

fn references(e: &TimelineEvent) -> Vec<&str> {
    e.event_references
        .iter()
        .flatten()
        .filter_map(|r| r.resource.as_deref().or(r.related_item_id.as_deref()))
        .collect()
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListTimelineEventsInput,
) -> Result<ListTimelineEventsOutput, Error> {
    let incident = input.incident_record_arn.unwrap_or_default();
    let f = filters::parse(&input.filters.unwrap_or_default(), FILTER_KEYS)?;
    let descending = !matches!(input.sort_order, Some(SortOrder::Ascending));
    let scope = format!(
        "timeline/{incident}/{}",
        if descending { "desc" } else { "asc" }
    );
    let (sort_min, sort_max) = f.bounds();
    let q = ListQuery {
        kind: EVENT.into(),
        account: ctx.account_id.clone(),
        parent: Some(incident.clone()),
        sort_min,
        sort_max,
        descending,
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
            let b: EventBody = serde_json::from_str(&rec.body).ok()?;
            let e = b.event;
            let kind = e.event_type.as_deref().unwrap_or_default();
            if !f.string_matches("eventType", &[kind])
                || !f.string_matches("eventReference", &references(&e))
            {
                return None;
            }
            Some(EventSummary {
                event_id: e.event_id,
                event_references: e.event_references,
                event_time: e.event_time,
                event_type: e.event_type,
                event_updated_time: e.event_updated_time,
                incident_record_arn: e.incident_record_arn,
            })
        },
    )
    .await?;
    Ok(ListTimelineEventsOutput {
        event_summaries: Some(p.items),
        next_token: p.next,
    })
}
