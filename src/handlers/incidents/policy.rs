//! Resource policies on response plans, kept verbatim: in AWS they share a plan with other
//! accounts through RAM; Klaxon stores them so tooling that manages them keeps working.

use super::errors::{invalid, not_found};
use super::records::{POLICY, RESPONSE_PLAN};
use super::{IncidentsService, list_page, must_exist};
use crate::domain::arn::creation_sort_key;
use crate::shapes::Context;
use crate::shapes::incidents::*;
use crate::storage::{ListQuery, Record};

pub async fn put(
    svc: &IncidentsService,
    ctx: Context,
    input: PutResourcePolicyInput,
) -> Result<PutResourcePolicyOutput, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let policy = input.policy.unwrap_or_default();
    if !serde_json::from_str::<serde_json::Value>(&policy).is_ok_and(|v| v.is_object()) {
        return Err(invalid("policy: must be a JSON policy document"));
    }
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    must_exist(
        tx.as_mut(),
        &ctx,
        RESPONSE_PLAN,
        ResourceType::ResponsePlan,
        &arn,
    )
    .await?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let body = ResourcePolicy {
        policy_document: Some(policy),
        policy_id: Some(id.clone()),
        ram_resource_share_region: Some(ctx.region.clone()),
    };
    tx.insert(&Record {
        kind: POLICY.into(),
        account: ctx.account_id.clone(),
        id: id.clone(),
        parent: Some(arn),
        sort: creation_sort_key(now),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    tx.commit().await?;
    Ok(PutResourcePolicyOutput {
        policy_id: Some(id),
    })
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: GetResourcePoliciesInput,
) -> Result<GetResourcePoliciesOutput, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let scope = format!("policies/{arn}");
    let q = ListQuery {
        kind: POLICY.into(),
        account: ctx.account_id.clone(),
        parent: Some(arn.clone()),
        ..Default::default()
    };
    let mut r = svc.store.read().await?;
    must_exist(
        r.as_mut(),
        &ctx,
        RESPONSE_PLAN,
        ResourceType::ResponsePlan,
        &arn,
    )
    .await?;
    let p = list_page(
        r.as_mut(),
        q,
        &scope,
        input.next_token.as_deref(),
        input.max_results,
        |rec| serde_json::from_str::<ResourcePolicy>(&rec.body).ok(),
    )
    .await?;
    Ok(GetResourcePoliciesOutput {
        next_token: p.next,
        resource_policies: Some(p.items),
    })
}

pub async fn delete(
    svc: &IncidentsService,
    ctx: Context,
    input: DeleteResourcePolicyInput,
) -> Result<DeleteResourcePolicyOutput, Error> {
    let arn = input.resource_arn.unwrap_or_default();
    let id = input.policy_id.unwrap_or_default();
    let mut tx = svc.store.begin().await?;
    must_exist(
        tx.as_mut(),
        &ctx,
        RESPONSE_PLAN,
        ResourceType::ResponsePlan,
        &arn,
    )
    .await?;
    match tx.get(POLICY, &ctx.account_id, &id).await? {
        Some(rec) if rec.parent.as_deref() == Some(arn.as_str()) => {
            tx.delete(POLICY, &ctx.account_id, &id).await?;
        }
        _ => return Err(not_found(ResourceType::ResourcePolicy, &id)),
    }
    tx.commit().await?;
    Ok(DeleteResourcePolicyOutput {})
}
