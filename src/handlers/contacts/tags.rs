//! Tags on contacts (and, once they exist, rotations): at most 50 per resource, keys unique,
//! tagging an existing key overwrites its value.

use super::ContactsService;
use super::errors::{not_found, quota};
use super::records::{CONTACT, RT_CONTACT, TAGS, TagsBody};
use crate::domain::arn::Arn;
use crate::shapes::Context;
use crate::shapes::contacts::*;
use crate::storage::{Reader, Record, Tx, upsert};

pub const MAX_TAGS: usize = 50;

/// The record kind a taggable ARN names, if it is one of ours.
fn taggable_kind(arn: &str) -> Option<&'static str> {
    let a = Arn::parse(arn)?;
    if a.service != "ssm-contacts" {
        return None;
    }
    match a.resource_type.as_str() {
        "contact" => Some(CONTACT),
        "rotation" => Some("rotation"),
        _ => None,
    }
}

async fn must_exist(r: &mut dyn Reader, ctx: &Context, arn: &str) -> Result<(), Error> {
    let kind = taggable_kind(arn).ok_or_else(|| not_found(RT_CONTACT, arn))?;
    match r.get(kind, &ctx.account_id, arn).await? {
        Some(_) => Ok(()),
        None => Err(not_found(
            if kind == CONTACT {
                RT_CONTACT
            } else {
                "ROTATION"
            },
            arn,
        )),
    }
}

async fn read(r: &mut dyn Reader, ctx: &Context, arn: &str) -> Result<TagsBody, Error> {
    Ok(match r.get(TAGS, &ctx.account_id, arn).await? {
        Some(rec) => serde_json::from_str(&rec.body)?,
        None => TagsBody::default(),
    })
}

pub fn merged(mut current: Vec<Tag>, new: Vec<Tag>) -> Vec<Tag> {
    for t in new {
        match current.iter_mut().find(|c| c.key == t.key) {
            Some(c) => c.value = t.value,
            None => current.push(t),
        }
    }
    current.sort_by(|a, b| a.key.cmp(&b.key));
    current
}

pub async fn write(
    tx: &mut dyn Tx,
    ctx: &Context,
    arn: &str,
    body: TagsBody,
    now: i64,
) -> Result<(), Error> {
    if body.tags.len() > MAX_TAGS {
        return Err(quota(
            RT_CONTACT,
            arn,
            "tags-per-resource",
            format!("a resource can have at most {MAX_TAGS} tags"),
        ));
    }
    if body.tags.is_empty() {
        tx.delete(TAGS, &ctx.account_id, arn).await?;
        return Ok(());
    }
    let rec = Record {
        kind: TAGS.into(),
        account: ctx.account_id.clone(),
        id: arn.to_string(),
        parent: None,
        sort: arn.to_string(),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    };
    upsert(tx, &rec).await?;
    Ok(())
}

pub async fn tag(
    svc: &ContactsService,
    ctx: Context,
    input: TagResourceRequest,
) -> Result<TagResourceResult, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    must_exist(tx.as_mut(), &ctx, &arn).await?;
    let current = read(tx.as_mut(), &ctx, &arn).await?;
    let body = TagsBody {
        tags: merged(current.tags, input.tags.unwrap_or_default()),
    };
    write(tx.as_mut(), &ctx, &arn, body, now).await?;
    tx.commit().await?;
    Ok(TagResourceResult {})
}

pub async fn untag(
    svc: &ContactsService,
    ctx: Context,
    input: UntagResourceRequest,
) -> Result<UntagResourceResult, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let keys = input.tag_keys.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    must_exist(tx.as_mut(), &ctx, &arn).await?;
    let mut body = read(tx.as_mut(), &ctx, &arn).await?;
    body.tags
        .retain(|t| !t.key.as_ref().is_some_and(|k| keys.contains(k)));
    write(tx.as_mut(), &ctx, &arn, body, now).await?;
    tx.commit().await?;
    Ok(UntagResourceResult {})
}

pub async fn list(
    svc: &ContactsService,
    ctx: Context,
    input: ListTagsForResourceRequest,
) -> Result<ListTagsForResourceResult, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    must_exist(r.as_mut(), &ctx, &arn).await?;
    Ok(ListTagsForResourceResult {
        tags: Some(read(r.as_mut(), &ctx, &arn).await?.tags),
    })
}
