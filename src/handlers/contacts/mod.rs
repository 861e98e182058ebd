//! SSM Contacts behaviour. Each file holds one resource group; this one wires them to the
//! generated `Api` trait.

pub mod activation;
mod channel;
mod contact;
mod engagement;
pub mod errors;
mod idempotency;
mod page;
mod policy;
pub mod records;
pub mod rotation;
mod tags;

use crate::config::ActivationConfig;
use crate::domain::clock::{Clock, Durations};
use crate::shapes::Context;
use crate::shapes::contacts::*;
use crate::storage::Store;
use std::sync::Arc;

pub struct ContactsService {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    /// Wakes the engine after a commit that queued work (pages, activation codes).
    pub wake: Arc<tokio::sync::Notify>,
    pub durations: Durations,
    pub activation: ActivationConfig,
}

/// Lists return this many items when the caller gives no (or a zero) MaxResults.
pub const DEFAULT_PAGE: usize = 100;

/// Writes a changed body back to its record within the caller's transaction.
pub async fn save<T: serde::Serialize>(
    tx: &mut dyn crate::storage::Tx,
    rec: &mut crate::storage::Record,
    body: &T,
    now: i64,
) -> Result<(), Error> {
    crate::handlers::save(tx, rec, body, now).await
}

/// The resume position a NextToken names, or a ValidationException for a foreign token.
pub fn resume_after(scope: &str, token: Option<&str>) -> Result<Option<(String, String)>, Error> {
    match token.filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => crate::handlers::paging::decode_token(scope, t)
            .map(Some)
            .ok_or_else(|| errors::invalid("NextToken", "is not a token this list returned")),
    }
}

pub fn page_size(max: Option<i32>) -> usize {
    match max {
        Some(n) if n > 0 => n as usize,
        _ => DEFAULT_PAGE,
    }
}

impl Api for ContactsService {
    async fn create_contact(
        &self,
        ctx: Context,
        input: CreateContactRequest,
    ) -> Result<CreateContactResult, Error> {
        contact::create(self, ctx, input).await
    }
    async fn get_contact(
        &self,
        ctx: Context,
        input: GetContactRequest,
    ) -> Result<GetContactResult, Error> {
        contact::get(self, ctx, input).await
    }
    async fn update_contact(
        &self,
        ctx: Context,
        input: UpdateContactRequest,
    ) -> Result<UpdateContactResult, Error> {
        contact::update(self, ctx, input).await
    }
    async fn delete_contact(
        &self,
        ctx: Context,
        input: DeleteContactRequest,
    ) -> Result<DeleteContactResult, Error> {
        contact::delete(self, ctx, input).await
    }
    async fn list_contacts(
        &self,
        ctx: Context,
        input: ListContactsRequest,
    ) -> Result<ListContactsResult, Error> {
        contact::list(self, ctx, input).await
    }
    async fn create_contact_channel(
        &self,
        ctx: Context,
        input: CreateContactChannelRequest,
    ) -> Result<CreateContactChannelResult, Error> {
        channel::create(self, ctx, input).await
    }
    async fn get_contact_channel(
        &self,
        ctx: Context,
        input: GetContactChannelRequest,
    ) -> Result<GetContactChannelResult, Error> {
        channel::get(self, ctx, input).await
    }
    async fn update_contact_channel(
        &self,
        ctx: Context,
        input: UpdateContactChannelRequest,
    ) -> Result<UpdateContactChannelResult, Error> {
        channel::update(self, ctx, input).await
    }
    async fn delete_contact_channel(
        &self,
        ctx: Context,
        input: DeleteContactChannelRequest,
    ) -> Result<DeleteContactChannelResult, Error> {
        channel::delete(self, ctx, input).await
    }
    async fn list_contact_channels(
        &self,
        ctx: Context,
        input: ListContactChannelsRequest,
    ) -> Result<ListContactChannelsResult, Error> {
        channel::list(self, ctx, input).await
    }
    async fn send_activation_code(
        &self,
        ctx: Context,
        input: SendActivationCodeRequest,
    ) -> Result<SendActivationCodeResult, Error> {
        activation::send(self, ctx, input).await
    }
    async fn activate_contact_channel(
        &self,
        ctx: Context,
        input: ActivateContactChannelRequest,
    ) -> Result<ActivateContactChannelResult, Error> {
        activation::activate(self, ctx, input).await
    }
    async fn deactivate_contact_channel(
        &self,
        ctx: Context,
        input: DeactivateContactChannelRequest,
    ) -> Result<DeactivateContactChannelResult, Error> {
        activation::deactivate(self, ctx, input).await
    }
    async fn put_contact_policy(
        &self,
        ctx: Context,
        input: PutContactPolicyRequest,
    ) -> Result<PutContactPolicyResult, Error> {
        policy::put(self, ctx, input).await
    }
    async fn get_contact_policy(
        &self,
        ctx: Context,
        input: GetContactPolicyRequest,
    ) -> Result<GetContactPolicyResult, Error> {
        policy::get(self, ctx, input).await
    }
    async fn tag_resource(
        &self,
        ctx: Context,
        input: TagResourceRequest,
    ) -> Result<TagResourceResult, Error> {
        tags::tag(self, ctx, input).await
    }
    async fn untag_resource(
        &self,
        ctx: Context,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResult, Error> {
        tags::untag(self, ctx, input).await
    }
    async fn list_tags_for_resource(
        &self,
        ctx: Context,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResult, Error> {
        tags::list(self, ctx, input).await
    }
    async fn start_engagement(
        &self,
        ctx: Context,
        input: StartEngagementRequest,
    ) -> Result<StartEngagementResult, Error> {
        engagement::start(self, ctx, input).await
    }
    async fn stop_engagement(
        &self,
        ctx: Context,
        input: StopEngagementRequest,
    ) -> Result<StopEngagementResult, Error> {
        engagement::stop(self, ctx, input).await
    }
    async fn describe_engagement(
        &self,
        ctx: Context,
        input: DescribeEngagementRequest,
    ) -> Result<DescribeEngagementResult, Error> {
        engagement::describe(self, ctx, input).await
    }
    async fn list_engagements(
        &self,
        ctx: Context,
        input: ListEngagementsRequest,
    ) -> Result<ListEngagementsResult, Error> {
        engagement::list(self, ctx, input).await
    }
    async fn describe_page(
        &self,
        ctx: Context,
        input: DescribePageRequest,
    ) -> Result<DescribePageResult, Error> {
        page::describe(self, ctx, input).await
    }
    async fn list_pages_by_engagement(
        &self,
        ctx: Context,
        input: ListPagesByEngagementRequest,
    ) -> Result<ListPagesByEngagementResult, Error> {
        page::list_by_engagement(self, ctx, input).await
    }
    async fn list_pages_by_contact(
        &self,
        ctx: Context,
        input: ListPagesByContactRequest,
    ) -> Result<ListPagesByContactResult, Error> {
        page::list_by_contact(self, ctx, input).await
    }
    async fn list_page_receipts(
        &self,
        ctx: Context,
        input: ListPageReceiptsRequest,
    ) -> Result<ListPageReceiptsResult, Error> {
        page::receipts(self, ctx, input).await
    }
    async fn list_page_resolutions(
        &self,
        ctx: Context,
        input: ListPageResolutionsRequest,
    ) -> Result<ListPageResolutionsResult, Error> {
        page::resolutions(self, ctx, input).await
    }
    async fn accept_page(
        &self,
        ctx: Context,
        input: AcceptPageRequest,
    ) -> Result<AcceptPageResult, Error> {
        page::accept(self, ctx, input).await
    }
    async fn create_rotation(
        &self,
        ctx: Context,
        input: CreateRotationRequest,
    ) -> Result<CreateRotationResult, Error> {
        rotation::create(self, ctx, input).await
    }
    async fn get_rotation(
        &self,
        ctx: Context,
        input: GetRotationRequest,
    ) -> Result<GetRotationResult, Error> {
        rotation::get(self, ctx, input).await
    }
    async fn update_rotation(
        &self,
        ctx: Context,
        input: UpdateRotationRequest,
    ) -> Result<UpdateRotationResult, Error> {
        rotation::update(self, ctx, input).await
    }
    async fn delete_rotation(
        &self,
        ctx: Context,
        input: DeleteRotationRequest,
    ) -> Result<DeleteRotationResult, Error> {
        rotation::delete(self, ctx, input).await
    }
    async fn list_rotations(
        &self,
        ctx: Context,
        input: ListRotationsRequest,
    ) -> Result<ListRotationsResult, Error> {
        rotation::list(self, ctx, input).await
    }
    async fn list_rotation_shifts(
        &self,
        ctx: Context,
        input: ListRotationShiftsRequest,
    ) -> Result<ListRotationShiftsResult, Error> {
        rotation::shifts(self, ctx, input).await
    }
    async fn list_preview_rotation_shifts(
        &self,
        ctx: Context,
        input: ListPreviewRotationShiftsRequest,
    ) -> Result<ListPreviewRotationShiftsResult, Error> {
        rotation::preview(self, ctx, input).await
    }
    async fn create_rotation_override(
        &self,
        ctx: Context,
        input: CreateRotationOverrideRequest,
    ) -> Result<CreateRotationOverrideResult, Error> {
        rotation::create_override(self, ctx, input).await
    }
    async fn get_rotation_override(
        &self,
        ctx: Context,
        input: GetRotationOverrideRequest,
    ) -> Result<GetRotationOverrideResult, Error> {
        rotation::get_override(self, ctx, input).await
    }
    async fn delete_rotation_override(
        &self,
        ctx: Context,
        input: DeleteRotationOverrideRequest,
    ) -> Result<DeleteRotationOverrideResult, Error> {
        rotation::delete_override(self, ctx, input).await
    }
    async fn list_rotation_overrides(
        &self,
        ctx: Context,
        input: ListRotationOverridesRequest,
    ) -> Result<ListRotationOverridesResult, Error> {
        rotation::list_overrides(self, ctx, input).await
    }
}
