//! Contacts: personal contacts, escalation plans and on-call schedules.

use super::errors::{conflict, invalid_fields, not_found};
use super::idempotency::IdempotencyToken;
use super::records::{
    CHANNEL, CONTACT, ChannelBody, ContactBody, POLICY, ROTATION, RT_CONTACT, TAGS, TagsBody,
};
use super::{ContactsService, page_size, resume_after, save};
use crate::domain::arn::contacts_arn;
use crate::domain::plan::{self, ContactKind, Known, PlanView, StageView, TargetView};
use crate::handlers::paging::page;
use crate::shapes::contacts::*;
use crate::shapes::{Context, FieldError};
use crate::storage::{ListQuery, Reader, Record, StoreError, Tx};

pub fn kind_of(t: &ContactType) -> ContactKind {
    match t {
        ContactType::Escalation => ContactKind::Escalation,
        ContactType::OncallSchedule => ContactKind::OncallSchedule,
        _ => ContactKind::Personal,
    }
}

pub async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    id: &str,
) -> Result<(Record, ContactBody), Error> {
    let rec = r
        .get(CONTACT, &ctx.account_id, id)
        .await?
        .ok_or_else(|| not_found(RT_CONTACT, id))?;
    let body: ContactBody = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

fn plan_view(plan: &Plan) -> PlanView {
    PlanView {
        stages: plan
            .stages
            .iter()
            .flatten()
            .map(|s| StageView {
                duration_minutes: s.duration_in_minutes.unwrap_or(0),
                targets: s
                    .targets
                    .iter()
                    .flatten()
                    .map(|t| match (&t.channel_target_info, &t.contact_target_info) {
                        (Some(ch), None) => {
                            TargetView::Channel(ch.contact_channel_id.clone().unwrap_or_default())
                        }
                        (
                            None,
                            Some(ContactTargetInfo {
                                contact_id: Some(c),
                                ..
                            }),
                        ) => TargetView::Contact(c.clone()),
                        _ => TargetView::Malformed,
                    })
                    .collect(),
            })
            .collect(),
        rotation_ids: plan.rotation_ids.clone().unwrap_or_default(),
    }
}

/// Checks the plan against what exists in this account, inside the caller's transaction.
async fn check_plan(
    tx: &mut dyn Tx,
    ctx: &Context,
    contact_arn: &str,
    kind: ContactKind,
    plan: &Plan,
) -> Result<(), Error> {
    let view = plan_view(plan);
    let mut known = Known::default();
    for stage in &view.stages {
        for t in &stage.targets {
            match t {
                TargetView::Channel(id) => {
                    if let Some(rec) = tx.get(CHANNEL, &ctx.account_id, id).await? {
                        let ch: ChannelBody = serde_json::from_str(&rec.body)?;
                        if ch.contact_arn == contact_arn {
                            known.own_channels.insert(id.clone());
                        }
                    }
                }
                TargetView::Contact(id) => {
                    if let Some(rec) = tx.get(CONTACT, &ctx.account_id, id).await? {
                        let c: ContactBody = serde_json::from_str(&rec.body)?;
                        known
                            .contacts
                            .insert(id.clone(), kind_of(&ContactType::parse(&c.contact_type)));
                    }
                }
                TargetView::Malformed => {}
            }
        }
    }
    for r in &view.rotation_ids {
        if tx.get(ROTATION, &ctx.account_id, r).await?.is_some() {
            known.rotations.insert(r.clone());
        }
    }
    let errs = plan::check_plan(kind, &view, &known);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(invalid_fields(
            errs.into_iter()
                .map(|(n, m)| FieldError::new(&n, m))
                .collect(),
        ))
    }
}

/// GetContact always returns a plan; AWS sends at least an empty stage list.
fn normalized(mut plan: Plan) -> Plan {
    if plan.stages.is_none() {
        plan.stages = Some(Vec::new());
    }
    plan
}

pub async fn create(
    svc: &ContactsService,
    ctx: Context,
    input: CreateContactRequest,
) -> Result<CreateContactResult, Error> {
    let alias = input.alias.clone().unwrap_or_default();
    let contact_type = input.r#type.clone().unwrap_or(ContactType::Personal);
    let arn = contacts_arn(&ctx.region, &ctx.account_id, "contact", &alias);
    let now = svc.clock.now_ms();
    let guard = IdempotencyToken::new(
        &ctx,
        "CreateContact",
        input.idempotency_token.as_deref(),
        &CreateContactRequest {
            idempotency_token: None,
            ..input.clone()
        },
        now,
    );

    let mut tx = svc.store.begin().await?;
    if let Some(done) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateContactResult {
            contact_arn: Some(done),
        });
    }
    let plan = normalized(input.plan.clone().unwrap_or_default());
    check_plan(tx.as_mut(), &ctx, &arn, kind_of(&contact_type), &plan).await?;
    let body = ContactBody {
        alias: alias.clone(),
        display_name: input.display_name.clone().filter(|d| !d.is_empty()),
        contact_type: contact_type.as_str().to_string(),
        plan,
    };
    let rec = Record {
        kind: CONTACT.into(),
        account: ctx.account_id.clone(),
        id: arn.clone(),
        parent: Some(ctx.region.clone()),
        sort: alias.clone(),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    };
    match tx.insert(&rec).await {
        Err(StoreError::Conflict) => {
            return Err(conflict(
                RT_CONTACT,
                &arn,
                format!("A contact with alias {alias} already exists"),
            ));
        }
        other => other?,
    }
    if let Some(tags) = input.tags.clone().filter(|t| !t.is_empty()) {
        super::tags::write(
            tx.as_mut(),
            &ctx,
            &arn,
            TagsBody {
                tags: super::tags::merged(Vec::new(), tags),
            },
            now,
        )
        .await?;
    }
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    Ok(CreateContactResult {
        contact_arn: Some(arn),
    })
}

pub async fn get(
    svc: &ContactsService,
    ctx: Context,
    input: GetContactRequest,
) -> Result<GetContactResult, Error> {
    let id = input.contact_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (rec, c) = load(r.as_mut(), &ctx, &id).await?;
    Ok(GetContactResult {
        contact_arn: Some(rec.id),
        alias: Some(c.alias),
        display_name: c.display_name,
        r#type: Some(ContactType::parse(&c.contact_type)),
        plan: Some(normalized(c.plan)),
    })
}

pub async fn update(
    svc: &ContactsService,
    ctx: Context,
    input: UpdateContactRequest,
) -> Result<UpdateContactResult, Error> {
    let id = input.contact_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut c) = load(tx.as_mut(), &ctx, &id).await?;
    if let Some(d) = input.display_name {
        c.display_name = Some(d).filter(|d| !d.is_empty());
    }
    if let Some(plan) = input.plan {
        let plan = normalized(plan);
        check_plan(
            tx.as_mut(),
            &ctx,
            &rec.id,
            kind_of(&ContactType::parse(&c.contact_type)),
            &plan,
        )
        .await?;
        c.plan = plan;
    }
    save(tx.as_mut(), &mut rec, &c, now).await?;
    tx.commit().await?;
    Ok(UpdateContactResult {})
}

pub async fn delete(
    svc: &ContactsService,
    ctx: Context,
    input: DeleteContactRequest,
) -> Result<DeleteContactResult, Error> {
    let id = input.contact_id.unwrap_or_default();
    let mut tx = svc.store.begin().await?;
    let (rec, _) = load(tx.as_mut(), &ctx, &id).await?;
    let rotations = super::rotation::rotations_of(tx.as_mut(), &ctx, &rec.id).await?;
    if !rotations.is_empty() {
        return Err(Error::ConflictException(ConflictException {
            message: Some(format!(
                "contact {} is a member of {} rotation(s); remove it from them first",
                rec.id,
                rotations.len()
            )),
            resource_id: Some(rec.id.clone()),
            resource_type: Some(RT_CONTACT.into()),
            dependent_entities: Some(vec![DependentEntity {
                relation_type: Some("ROTATION_MEMBER".into()),
                dependent_resource_ids: Some(rotations),
            }]),
        }));
    }
    tx.delete_children(CHANNEL, &ctx.account_id, &rec.id)
        .await?;
    tx.delete(TAGS, &ctx.account_id, &rec.id).await?;
    tx.delete(POLICY, &ctx.account_id, &rec.id).await?;
    tx.delete(CONTACT, &ctx.account_id, &rec.id).await?;
    tx.commit().await?;
    Ok(DeleteContactResult {})
}

pub async fn list(
    svc: &ContactsService,
    ctx: Context,
    input: ListContactsRequest,
) -> Result<ListContactsResult, Error> {
    let after = resume_after("contacts", input.next_token.as_deref())?;
    let q = ListQuery {
        kind: CONTACT.into(),
        account: ctx.account_id.clone(),
        parent: Some(ctx.region.clone()),
        sort_prefix: input.alias_prefix.clone(),
        after,
        limit: 0,
        ..Default::default()
    };
    let wanted = input.r#type.clone();
    let mut r = svc.store.read().await?;
    let p = page(
        r.as_mut(),
        q,
        "contacts",
        page_size(input.max_results),
        |rec| {
            let c: ContactBody = serde_json::from_str(&rec.body).ok()?;
            let t = ContactType::parse(&c.contact_type);
            if wanted.as_ref().is_some_and(|w| *w != t) {
                return None;
            }
            Some(Contact {
                contact_arn: Some(rec.id.clone()),
                alias: Some(c.alias),
                display_name: c.display_name,
                r#type: Some(t),
            })
        },
    )
    .await?;
    Ok(ListContactsResult {
        next_token: p.next,
        contacts: Some(p.items),
    })
}
