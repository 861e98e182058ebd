//! Tags on response plans, incident records and the replication set: a key → value map of at
//! most 50 entries; tagging an existing key overwrites its value.

use super::IncidentsService;
use super::errors::{not_found, quota};
use super::records::{INCIDENT, REPLICATION_SET, RESPONSE_PLAN, TAGS, TagMap};
use crate::domain::arn::Arn;
use crate::shapes::Context;
use crate::shapes::incidents::*;
use crate::storage::{Reader, Record, Tx, upsert};

pub const MAX_TAGS: usize = 50;

/// The record kind and resource type a taggable ARN names, if it is one of ours.
fn taggable(arn: &str) -> Option<(&'static str, ResourceType)> {
    let a = Arn::parse(arn)?;
    if a.service != "ssm-incidents" {
        return None;
    }
    match a.resource_type.as_str() {
        "response-plan" => Some((RESPONSE_PLAN, ResourceType::ResponsePlan)),
        "incident-record" => Some((INCIDENT, ResourceType::IncidentRecord)),
        "replication-set" => Some((REPLICATION_SET, ResourceType::ReplicationSet)),
        _ => None,
    }
}

/// The resource type of a taggable ARN that exists, else ResourceNotFoundException.
async fn must_exist(r: &mut dyn Reader, ctx: &Context, arn: &str) -> Result<ResourceType, Error> {
    let Some((kind, rt)) = taggable(arn) else {
        return Err(not_found(ResourceType::ResponsePlan, arn));
    };
    super::must_exist(r, ctx, kind, rt.clone(), arn).await?;
    Ok(rt)
}

pub async fn read(r: &mut dyn Reader, ctx: &Context, arn: &str) -> Result<TagMap, Error> {
    Ok(match r.get(TAGS, &ctx.account_id, arn).await? {
        Some(rec) => serde_json::from_str(&rec.body)?,
        None => TagMap::new(),
    })
}

/// Replaces the resource's tags with `tags`.
pub async fn write(
    tx: &mut dyn Tx,
    ctx: &Context,
    arn: &str,
    rt: ResourceType,
    tags: TagMap,
    now: i64,
) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(quota(
            rt,
            arn,
            "tags-per-resource",
            format!("a resource can have at most {MAX_TAGS} tags"),
        ));
    }
    if tags.is_empty() {
        tx.delete(TAGS, &ctx.account_id, arn).await?;
        return Ok(());
    }
    let rec = Record {
        kind: TAGS.into(),
        account: ctx.account_id.clone(),
        id: arn.to_string(),
        parent: None,
        sort: arn.to_string(),
        body: serde_json::to_string(&tags)?,
        created_ms: now,
        updated_ms: now,
    };
    upsert(tx, &rec).await?;
    Ok(())
}

pub async fn tag(
    svc: &IncidentsService,
    ctx: Context,
    input: TagResourceRequest,
) -> Result<TagResourceResponse, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let rt = must_exist(tx.as_mut(), &ctx, &arn).await?;
    let mut tags = read(tx.as_mut(), &ctx, &arn).await?;
    tags.extend(input.tags.unwrap_or_default());
    write(tx.as_mut(), &ctx, &arn, rt, tags, now).await?;
    tx.commit().await?;
    Ok(TagResourceResponse {})
}

pub async fn untag(
    svc: &IncidentsService,
    ctx: Context,
    input: UntagResourceRequest,
) -> Result<UntagResourceResponse, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let keys = input.tag_keys.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let rt = must_exist(tx.as_mut(), &ctx, &arn).await?;
    let mut tags = read(tx.as_mut(), &ctx, &arn).await?;
    tags.retain(|k, _| !keys.contains(k));
    write(tx.as_mut(), &ctx, &arn, rt, tags, now).await?;
    tx.commit().await?;
    Ok(UntagResourceResponse {})
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResponse, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    must_exist(r.as_mut(), &ctx, &arn).await?;
    Ok(ListTagsForResourceResponse {
        tags: Some(read(r.as_mut(), &ctx, &arn).await?),
    })
}
