//! SSM Incidents behaviour. Each file holds one resource group; this one wires them to the
//! generated `Api` trait and keeps what they share.

mod chat;
pub mod errors;
mod filters;
mod findings;
mod incident;
mod plan;
mod policy;
pub mod records;
mod related;
mod replication;
mod tags;
mod timeline;

use crate::domain::clock::{Clock, Durations};
use crate::handlers::paging::{Page, page};
use crate::shapes::Context;
use crate::shapes::incidents::*;
use crate::storage::{ListQuery, Reader, Record, Store, Tx};
use std::sync::Arc;

pub struct IncidentsService {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub durations: Durations,
    /// Wakes the engine after a commit that started engagements.
    pub wake: Arc<tokio::sync::Notify>,
}

/// Timeline event types for engagements of an incident, as AWS names them.
pub const PAGE_EVENT: &str = "SSM Contacts Page for Incident";
pub const ACK_EVENT: &str = "SSM Contacts Page Acknowledgement for Incident";

/// Notes an engagement event on the timeline of the incident `incident_id` names, when it is an
/// incident record of the caller's account (IncidentId is free text to StartEngagement).
pub async fn engagement_event<E: From<crate::storage::StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    ctx: &Context,
    incident_id: Option<&str>,
    event_type: &str,
    data: serde_json::Value,
    now: i64,
) -> Result<bool, E> {
    let Some(id) = incident_id else {
        return Ok(false);
    };
    if tx
        .get(records::INCIDENT, &ctx.account_id, id)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    timeline::automatic::<E>(tx, ctx, id, event_type, data, now).await?;
    Ok(true)
}

/// Lists return this many items when the caller gives no maxResults.
pub const DEFAULT_PAGE: usize = 100;

fn page_size(max: Option<i32>, default: usize) -> usize {
    match max {
        Some(n) if n > 0 => n as usize,
        _ => default,
    }
}

/// The resume position a nextToken names, or a ValidationException for a foreign token.
fn resume_after(scope: &str, token: Option<&str>) -> Result<Option<(String, String)>, Error> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => crate::handlers::paging::decode_token(scope, t)
            .map(Some)
            .ok_or_else(|| errors::invalid("nextToken is not a token this list returned")),
    }
}

/// One page of a list operation: resumes after the caller's nextToken (which must come from
/// the same `scope`) and keeps what `keep` maps to `Some`.
pub async fn list_page<T>(
    r: &mut dyn Reader,
    mut q: ListQuery,
    scope: &str,
    token: Option<&str>,
    max: Option<i32>,
    keep: impl Fn(&Record) -> Option<T>,
) -> Result<Page<T>, Error> {
    q.after = resume_after(scope, token)?;
    Ok(page(r, q, scope, page_size(max, DEFAULT_PAGE), keep).await?)
}

/// ResourceNotFoundException unless the account has a `kind` record with this ARN.
pub async fn must_exist(
    r: &mut dyn Reader,
    ctx: &Context,
    kind: &str,
    resource_type: ResourceType,
    arn: &str,
) -> Result<(), Error> {
    match r.get(kind, &ctx.account_id, arn).await? {
        Some(_) => Ok(()),
        None => Err(errors::not_found(resource_type, arn)),
    }
}

/// The caller as incident records name it (`createdBy`, `lastModifiedBy`). Klaxon keys are
/// per account, so the access key id stands in for the IAM user name.
pub fn principal(ctx: &Context) -> String {
    format!("arn:aws:iam::{}:user/{}", ctx.account_id, ctx.access_key_id)
}

/// Fixed-width milliseconds, so that sort keys order like the instants they encode.
pub fn time_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

/// Writes a changed body back to its record within the caller's transaction.
pub async fn save<T: serde::Serialize>(
    tx: &mut dyn crate::storage::Tx,
    rec: &mut crate::storage::Record,
    body: &T,
    now: i64,
) -> Result<(), Error> {
    crate::handlers::save(tx, rec, body, now).await
}

impl Api for IncidentsService {
    async fn batch_get_incident_findings(
        &self,
        ctx: Context,
        input: BatchGetIncidentFindingsInput,
    ) -> Result<BatchGetIncidentFindingsOutput, Error> {
        findings::batch_get(self, ctx, input).await
    }

    async fn create_replication_set(
        &self,
        ctx: Context,
        input: CreateReplicationSetInput,
    ) -> Result<CreateReplicationSetOutput, Error> {
        replication::create(self, ctx, input).await
    }

    async fn create_response_plan(
        &self,
        ctx: Context,
        input: CreateResponsePlanInput,
    ) -> Result<CreateResponsePlanOutput, Error> {
        plan::create(self, ctx, input).await
    }

    async fn create_timeline_event(
        &self,
        ctx: Context,
        input: CreateTimelineEventInput,
    ) -> Result<CreateTimelineEventOutput, Error> {
        timeline::create(self, ctx, input).await
    }

    async fn delete_incident_record(
        &self,
        ctx: Context,
        input: DeleteIncidentRecordInput,
    ) -> Result<DeleteIncidentRecordOutput, Error> {
        incident::delete(self, ctx, input).await
    }

    async fn delete_replication_set(
        &self,
        ctx: Context,
        input: DeleteReplicationSetInput,
    ) -> Result<DeleteReplicationSetOutput, Error> {
        replication::delete(self, ctx, input).await
    }

    async fn delete_resource_policy(
        &self,
        ctx: Context,
        input: DeleteResourcePolicyInput,
    ) -> Result<DeleteResourcePolicyOutput, Error> {
        policy::delete(self, ctx, input).await
    }

    async fn delete_response_plan(
        &self,
        ctx: Context,
        input: DeleteResponsePlanInput,
    ) -> Result<DeleteResponsePlanOutput, Error> {
        plan::delete(self, ctx, input).await
    }

    async fn delete_timeline_event(
        &self,
        ctx: Context,
        input: DeleteTimelineEventInput,
    ) -> Result<DeleteTimelineEventOutput, Error> {
        timeline::delete(self, ctx, input).await
    }

    async fn get_incident_record(
        &self,
        ctx: Context,
        input: GetIncidentRecordInput,
    ) -> Result<GetIncidentRecordOutput, Error> {
        incident::get(self, ctx, input).await
    }

    async fn get_replication_set(
        &self,
        ctx: Context,
        input: GetReplicationSetInput,
    ) -> Result<GetReplicationSetOutput, Error> {
        replication::get(self, ctx, input).await
    }

    async fn get_resource_policies(
        &self,
        ctx: Context,
        input: GetResourcePoliciesInput,
    ) -> Result<GetResourcePoliciesOutput, Error> {
        policy::list(self, ctx, input).await
    }

    async fn get_response_plan(
        &self,
        ctx: Context,
        input: GetResponsePlanInput,
    ) -> Result<GetResponsePlanOutput, Error> {
        plan::get(self, ctx, input).await
    }

    async fn get_timeline_event(
        &self,
        ctx: Context,
        input: GetTimelineEventInput,
    ) -> Result<GetTimelineEventOutput, Error> {
        timeline::get(self, ctx, input).await
    }

    async fn list_incident_findings(
        &self,
        ctx: Context,
        input: ListIncidentFindingsInput,
    ) -> Result<ListIncidentFindingsOutput, Error> {
        findings::list(self, ctx, input).await
    }

    async fn list_incident_records(
        &self,
        ctx: Context,
        input: ListIncidentRecordsInput,
    ) -> Result<ListIncidentRecordsOutput, Error> {
        incident::list(self, ctx, input).await
    }

    async fn list_related_items(
        &self,
        ctx: Context,
        input: ListRelatedItemsInput,
    ) -> Result<ListRelatedItemsOutput, Error> {
        related::list(self, ctx, input).await
    }

    async fn list_replication_sets(
        &self,
        ctx: Context,
        input: ListReplicationSetsInput,
    ) -> Result<ListReplicationSetsOutput, Error> {
        replication::list(self, ctx, input).await
    }

    async fn list_response_plans(
        &self,
        ctx: Context,
        input: ListResponsePlansInput,
    ) -> Result<ListResponsePlansOutput, Error> {
        plan::list(self, ctx, input).await
    }

    async fn list_tags_for_resource(
        &self,
        ctx: Context,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, Error> {
        tags::list(self, ctx, input).await
    }

    async fn list_timeline_events(
        &self,
        ctx: Context,
        input: ListTimelineEventsInput,
    ) -> Result<ListTimelineEventsOutput, Error> {
        timeline::list(self, ctx, input).await
    }

    async fn put_resource_policy(
        &self,
        ctx: Context,
        input: PutResourcePolicyInput,
    ) -> Result<PutResourcePolicyOutput, Error> {
        policy::put(self, ctx, input).await
    }

    async fn start_incident(
        &self,
        ctx: Context,
        input: StartIncidentInput,
    ) -> Result<StartIncidentOutput, Error> {
        incident::start(self, ctx, input).await
    }

    async fn tag_resource(
        &self,
        ctx: Context,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, Error> {
        tags::tag(self, ctx, input).await
    }

    async fn untag_resource(
        &self,
        ctx: Context,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, Error> {
        tags::untag(self, ctx, input).await
    }

    async fn update_deletion_protection(
        &self,
        ctx: Context,
        input: UpdateDeletionProtectionInput,
    ) -> Result<UpdateDeletionProtectionOutput, Error> {
        replication::set_deletion_protection(self, ctx, input).await
    }

    async fn update_incident_record(
        &self,
        ctx: Context,
        input: UpdateIncidentRecordInput,
    ) -> Result<UpdateIncidentRecordOutput, Error> {
        incident::update(self, ctx, input).await
    }

    async fn update_related_items(
        &self,
        ctx: Context,
        input: UpdateRelatedItemsInput,
    ) -> Result<UpdateRelatedItemsOutput, Error> {
        related::update(self, ctx, input).await
    }

    async fn update_replication_set(
        &self,
        ctx: Context,
        input: UpdateReplicationSetInput,
    ) -> Result<UpdateReplicationSetOutput, Error> {
        replication::update(self, ctx, input).await
    }

    async fn update_response_plan(
        &self,
        ctx: Context,
        input: UpdateResponsePlanInput,
    ) -> Result<UpdateResponsePlanOutput, Error> {
        plan::update(self, ctx, input).await
    }

    async fn update_timeline_event(
        &self,
        ctx: Context,
        input: UpdateTimelineEventInput,
    ) -> Result<UpdateTimelineEventOutput, Error> {
        timeline::update(self, ctx, input).await
    }
}

/// The clientToken of one mutating call: an earlier call with the same token and input is
/// answered with its result; the same token with other input is a conflict.
pub struct ClientToken(crate::handlers::idempotency::Guard);

impl ClientToken {
    pub fn new<T: serde::Serialize>(
        ctx: &Context,
        operation: &'static str,
        token: Option<&str>,
        input: &T,
        now: i64,
    ) -> Self {
        ClientToken(crate::handlers::idempotency::Guard::new(
            &ctx.account_id,
            operation,
            token,
            input,
            now,
        ))
    }

    /// The result the first call with this token returned, if there was one.
    pub async fn replayed(&self, tx: &mut dyn Tx) -> Result<Option<String>, Error> {
        self.0.replayed(tx, |_| errors::token_reused()).await
    }

    pub async fn remember(&self, tx: &mut dyn Tx, result: &str) -> Result<(), Error> {
        self.0.remember(tx, result).await
    }
}
