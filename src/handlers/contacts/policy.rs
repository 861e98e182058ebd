//! Resource policies on contacts, kept verbatim (they govern cross-account sharing in AWS).

use super::ContactsService;
use super::contact::load;
use super::records::{POLICY, PolicyBody};
use crate::shapes::Context;
use crate::shapes::contacts::*;
use crate::storage::{Record, upsert};

pub async fn put(
    svc: &ContactsService,
    ctx: Context,
    input: PutContactPolicyRequest,
) -> Result<PutContactPolicyResult, Error> {
    let arn = input.contact_arn.unwrap_or_default();
    let policy = input.policy.unwrap_or_default();
    if serde_json::from_str::<serde_json::Value>(&policy)
        .map(|v| !v.is_object())
        .unwrap_or(true)
    {
        return Err(super::errors::invalid(
            "Policy",
            "must be a JSON policy document",
        ));
    }
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (contact, _) = load(tx.as_mut(), &ctx, &arn).await?;
    let rec = Record {
        kind: POLICY.into(),
        account: ctx.account_id.clone(),
        id: contact.id.clone(),
        parent: None,
        sort: contact.id.clone(),
        body: serde_json::to_string(&PolicyBody { policy })?,
        created_ms: now,
        updated_ms: now,
    };
    upsert(tx.as_mut(), &rec).await?;
    tx.commit().await?;
    Ok(PutContactPolicyResult {})
}

pub async fn get(
    svc: &ContactsService,
    ctx: Context,
    input: GetContactPolicyRequest,
) -> Result<GetContactPolicyResult, Error> {
    let arn = input.contact_arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (contact, _) = load(r.as_mut(), &ctx, &arn).await?;
    let policy = match r.get(POLICY, &ctx.account_id, &contact.id).await? {
        Some(rec) => Some(serde_json::from_str::<PolicyBody>(&rec.body)?.policy),
        None => None,
    };
    Ok(GetContactPolicyResult {
        contact_arn: Some(contact.id),
        policy,
    })
}
