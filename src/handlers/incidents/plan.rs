//! Response plans: the incident template, chat channel, engagements, automation actions and
//! integrations an incident starts from. Actions and integrations are stored and returned as
//! given; Klaxon does not run SSM automation or call PagerDuty.

use super::errors::{conflict, invalid, not_found};
use super::records::{POLICY, PlanBody, RESPONSE_PLAN, TAGS};
use super::replication::require_active;
use super::{ClientToken, IncidentsService, list_page, save, tags};
use crate::domain::arn::{Arn, incidents_arn};
use crate::handlers::contacts::records::CONTACT;
use crate::shapes::Context;
use crate::shapes::incidents::*;
use crate::storage::{ListQuery, Reader, Record, StoreError};

/// `{"empty": {}}` means "no chat channel"; it is kept as absent so it never reads back as `{}`.
pub fn chat_channel(c: Option<ChatChannel>) -> Option<ChatChannel> {
    c.filter(|c| c.chatbot_sns.is_some())
}

/// Engagements must name contacts that exist when they are in the caller's own account;
/// contacts of other accounts (shared through policies in AWS) cannot be checked here.
async fn check_engagements(
    r: &mut dyn Reader,
    ctx: &Context,
    engagements: &[String],
) -> Result<(), Error> {
    for (i, arn) in engagements.iter().enumerate() {
        let own = Arn::parse(arn).is_some_and(|a| a.account == ctx.account_id);
        if own && r.get(CONTACT, &ctx.account_id, arn).await?.is_none() {
            return Err(invalid(format!(
                "engagements[{i}]: contact {arn} does not exist"
            )));
        }
    }
    Ok(())
}

pub async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    arn: &str,
) -> Result<(Record, PlanBody), Error> {
    let rec = r
        .get(RESPONSE_PLAN, &ctx.account_id, arn)
        .await?
        .ok_or_else(|| not_found(ResourceType::ResponsePlan, arn))?;
    let body = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

pub async fn create(
    svc: &IncidentsService,
    ctx: Context,
    input: CreateResponsePlanInput,
) -> Result<CreateResponsePlanOutput, Error> {
    let now = svc.clock.now_ms();
    let name = input.name.clone().unwrap_or_default();
    let arn = incidents_arn(&ctx.account_id, "response-plan", &name);
    let guard = ClientToken::new(
        &ctx,
        "CreateResponsePlan",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    require_active(tx.as_mut(), &ctx, now).await?;
    if let Some(arn) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateResponsePlanOutput { arn: Some(arn) });
    }
    let engagements = input.engagements.clone().unwrap_or_default();
    check_engagements(tx.as_mut(), &ctx, &engagements).await?;
    let body = PlanBody {
        actions: input.actions.clone(),
        arn: Some(arn.clone()),
        chat_channel: chat_channel(input.chat_channel.clone()),
        display_name: input.display_name.clone(),
        engagements: Some(engagements),
        incident_template: input.incident_template.clone(),
        integrations: input.integrations.clone(),
        name: Some(name.clone()),
    };
    let rec = Record {
        kind: RESPONSE_PLAN.into(),
        account: ctx.account_id.clone(),
        id: arn.clone(),
        parent: None,
        sort: name.clone(),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    };
    match tx.insert(&rec).await {
        Err(StoreError::Conflict) => {
            return Err(conflict(
                Some(ResourceType::ResponsePlan),
                &arn,
                format!("a response plan named {name} already exists"),
                None,
            ));
        }
        other => other?,
    }
    if let Some(t) = input.tags.clone().filter(|t| !t.is_empty()) {
        tags::write(tx.as_mut(), &ctx, &arn, ResourceType::ResponsePlan, t, now).await?;
    }
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    Ok(CreateResponsePlanOutput { arn: Some(arn) })
}

pub async fn get(
    svc: &IncidentsService,
    ctx: Context,
    input: GetResponsePlanInput,
) -> Result<GetResponsePlanOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    Ok(load(r.as_mut(), &ctx, &arn).await?.1)
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListResponsePlansInput,
) -> Result<ListResponsePlansOutput, Error> {
    let scope = format!("response-plans/{}", ctx.account_id);
    let q = ListQuery {
        kind: RESPONSE_PLAN.into(),
        account: ctx.account_id.clone(),
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
            let b: PlanBody = serde_json::from_str(&rec.body).ok()?;
            Some(ResponsePlanSummary {
                arn: b.arn,
                display_name: b.display_name,
                name: b.name,
            })
        },
    )
    .await?;
    Ok(ListResponsePlansOutput {
        next_token: p.next,
        response_plan_summaries: Some(p.items),
    })
}

pub async fn update(
    svc: &IncidentsService,
    ctx: Context,
    input: UpdateResponsePlanInput,
) -> Result<UpdateResponsePlanOutput, Error> {
    let arn = input.arn.clone().unwrap_or_default();
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "UpdateResponsePlan",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if guard.replayed(tx.as_mut()).await?.is_some() {
        return Ok(UpdateResponsePlanOutput {});
    }
    let (mut rec, mut b) = load(tx.as_mut(), &ctx, &arn).await?;
    let i = input.clone();
    if let Some(e) = i.engagements {
        check_engagements(tx.as_mut(), &ctx, &e).await?;
        b.engagements = Some(e);
    }
    if i.display_name.is_some() {
        b.display_name = i.display_name;
    }
    if i.chat_channel.is_some() {
        b.chat_channel = chat_channel(i.chat_channel);
    }
    if i.actions.is_some() {
        b.actions = i.actions;
    }
    if i.integrations.is_some() {
        b.integrations = i.integrations;
    }
    let t = b.incident_template.get_or_insert_with(Default::default);
    if i.incident_template_title.is_some() {
        t.title = i.incident_template_title;
    }
    if i.incident_template_impact.is_some() {
        t.impact = i.incident_template_impact;
    }
    if i.incident_template_summary.is_some() {
        t.summary = i.incident_template_summary;
    }
    if i.incident_template_dedupe_string.is_some() {
        t.dedupe_string = i.incident_template_dedupe_string;
    }
    if i.incident_template_notification_targets.is_some() {
        t.notification_targets = i.incident_template_notification_targets;
    }
    if let Some(tags) = i.incident_template_tags {
        t.incident_tags = Some(tags).filter(|m| !m.is_empty());
    }
    save(tx.as_mut(), &mut rec, &b, now).await?;
    guard.remember(tx.as_mut(), "").await?;
    tx.commit().await?;
    Ok(UpdateResponsePlanOutput {})
}

/// Deleting a missing plan succeeds, as in AWS; incidents started from it are kept.
pub async fn delete(
    svc: &IncidentsService,
    ctx: Context,
    input: DeleteResponsePlanInput,
) -> Result<DeleteResponsePlanOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    let mut tx = svc.store.begin().await?;
    if tx.delete(RESPONSE_PLAN, &ctx.account_id, &arn).await? {
        tx.delete(TAGS, &ctx.account_id, &arn).await?;
        tx.delete_children(POLICY, &ctx.account_id, &arn).await?;
    }
    tx.commit().await?;
    Ok(DeleteResponsePlanOutput {})
}
