//! Contact channels: the SMS numbers, voice numbers and email addresses of a contact.

use super::activation::{issue_code, queue_code};
use super::errors::{conflict, invalid, not_found};
use super::idempotency::IdempotencyToken;
use super::records::{CHANNEL, CONTACT, ChannelBody, ContactBody, RT_CHANNEL, RT_CONTACT};
use super::{ContactsService, page_size, resume_after, save};
use crate::domain::address::{is_email, is_phone_number};
use crate::domain::arn::{contacts_arn, creation_sort_key, new_id};
use crate::handlers::paging::page;
use crate::shapes::Context;
use crate::shapes::contacts::*;
use crate::storage::{ListQuery, Reader, Record, StoreError};

pub async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    id: &str,
) -> Result<(Record, ChannelBody), Error> {
    let rec = r
        .get(CHANNEL, &ctx.account_id, id)
        .await?
        .ok_or_else(|| not_found(RT_CHANNEL, id))?;
    let body: ChannelBody = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

fn check_address(channel_type: &ChannelType, address: &str) -> Result<(), Error> {
    let ok = match channel_type {
        ChannelType::Sms | ChannelType::Voice => is_phone_number(address),
        ChannelType::Email => is_email(address),
        ChannelType::Unknown(_) => false,
    };
    if ok {
        return Ok(());
    }
    let want = match channel_type {
        ChannelType::Email => "an email address such as oncall@example.com",
        _ => "a phone number in E.164 form such as +12065550100",
    };
    Err(invalid(
        "DeliveryAddress.SimpleAddress",
        format!("must be {want}"),
    ))
}

fn status(b: &ChannelBody) -> ActivationStatus {
    if b.activated {
        ActivationStatus::Activated
    } else {
        ActivationStatus::NotActivated
    }
}

fn to_shape(rec: &Record, b: &ChannelBody) -> ContactChannel {
    ContactChannel {
        contact_channel_arn: Some(rec.id.clone()),
        contact_arn: Some(b.contact_arn.clone()),
        name: Some(b.name.clone()),
        r#type: Some(ChannelType::parse(&b.channel_type)),
        delivery_address: Some(ContactChannelAddress {
            simple_address: Some(b.address.clone()),
        }),
        activation_status: Some(status(b)),
    }
}

pub async fn create(
    svc: &ContactsService,
    ctx: Context,
    input: CreateContactChannelRequest,
) -> Result<CreateContactChannelResult, Error> {
    let contact_id = input.contact_id.clone().unwrap_or_default();
    let channel_type = input.r#type.clone().unwrap_or(ChannelType::Email);
    let address = input
        .delivery_address
        .as_ref()
        .and_then(|a| a.simple_address.clone());
    let Some(address) = address else {
        return Err(invalid("DeliveryAddress.SimpleAddress", "is required"));
    };
    check_address(&channel_type, &address)?;
    let now = svc.clock.now_ms();
    let guard = IdempotencyToken::new(
        &ctx,
        "CreateContactChannel",
        input.idempotency_token.as_deref(),
        &CreateContactChannelRequest {
            idempotency_token: None,
            ..input.clone()
        },
        now,
    );

    let mut tx = svc.store.begin().await?;
    if let Some(done) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateContactChannelResult {
            contact_channel_arn: Some(done),
        });
    }
    let contact = tx
        .get(CONTACT, &ctx.account_id, &contact_id)
        .await?
        .ok_or_else(|| not_found(RT_CONTACT, &contact_id))?;
    let c: ContactBody = serde_json::from_str(&contact.body)?;
    if c.contact_type != ContactType::Personal.as_str() {
        return Err(invalid(
            "ContactId",
            "only a personal contact has contact channels",
        ));
    }
    let arn = contacts_arn(
        &ctx.region,
        &ctx.account_id,
        "contact-channel",
        &format!("{}/{}", c.alias, new_id()),
    );
    let mut body = ChannelBody {
        contact_arn: contact.id.clone(),
        name: input.name.clone().unwrap_or_default(),
        channel_type: channel_type.as_str().to_string(),
        address,
        activated: false,
        activation: Default::default(),
        activated_by: None,
    };
    let code = if input.defer_activation == Some(true) {
        None
    } else {
        Some(issue_code(svc, &arn, &mut body, now)?)
    };
    let inserted = tx
        .insert(&Record {
            kind: CHANNEL.into(),
            account: ctx.account_id.clone(),
            id: arn.clone(),
            parent: Some(contact.id.clone()),
            sort: creation_sort_key(now),
            body: serde_json::to_string(&body)?,
            created_ms: now,
            updated_ms: now,
        })
        .await;
    match inserted {
        Err(StoreError::Conflict) => {
            return Err(conflict(
                RT_CHANNEL,
                &arn,
                "the contact channel already exists",
            ));
        }
        other => other?,
    }
    if let Some(code) = &code {
        queue_code(
            svc,
            tx.as_mut(),
            &ctx.account_id,
            (&arn, &body),
            &c.alias,
            code,
            now,
        )
        .await?;
    }
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    svc.wake.notify_one();
    Ok(CreateContactChannelResult {
        contact_channel_arn: Some(arn),
    })
}

pub async fn get(
    svc: &ContactsService,
    ctx: Context,
    input: GetContactChannelRequest,
) -> Result<GetContactChannelResult, Error> {
    let id = input.contact_channel_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (rec, b) = load(r.as_mut(), &ctx, &id).await?;
    let s = to_shape(&rec, &b);
    Ok(GetContactChannelResult {
        contact_arn: s.contact_arn,
        contact_channel_arn: s.contact_channel_arn,
        name: s.name,
        r#type: s.r#type,
        delivery_address: s.delivery_address,
        activation_status: s.activation_status,
    })
}

pub async fn update(
    svc: &ContactsService,
    ctx: Context,
    input: UpdateContactChannelRequest,
) -> Result<UpdateContactChannelResult, Error> {
    let id = input.contact_channel_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut b) = load(tx.as_mut(), &ctx, &id).await?;
    if let Some(name) = input.name {
        b.name = name;
    }
    let mut resend = None;
    if let Some(address) = input.delivery_address.and_then(|a| a.simple_address)
        && address != b.address
    {
        check_address(&ChannelType::parse(&b.channel_type), &address)?;
        // A new address is unproven: it must be activated again before it is paged.
        b.address = address;
        b.activated = false;
        b.activation.code_hash = None;
        match issue_code(svc, &rec.id, &mut b, now) {
            Ok(code) => resend = Some(code),
            Err(e) => {
                tracing::warn!(channel = %rec.id, error = %e, "no activation code sent for the new address")
            }
        }
    }
    save(tx.as_mut(), &mut rec, &b, now).await?;
    if let Some(code) = &resend {
        let alias = contact_alias(tx.as_mut(), &ctx, &b.contact_arn).await?;
        queue_code(
            svc,
            tx.as_mut(),
            &ctx.account_id,
            (&rec.id, &b),
            &alias,
            code,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    svc.wake.notify_one();
    Ok(UpdateContactChannelResult {})
}

pub async fn contact_alias(
    r: &mut dyn Reader,
    ctx: &Context,
    contact_arn: &str,
) -> Result<String, Error> {
    match r.get(CONTACT, &ctx.account_id, contact_arn).await? {
        Some(rec) => Ok(serde_json::from_str::<ContactBody>(&rec.body)?.alias),
        None => Ok(contact_arn
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string()),
    }
}

pub async fn delete(
    svc: &ContactsService,
    ctx: Context,
    input: DeleteContactChannelRequest,
) -> Result<DeleteContactChannelResult, Error> {
    let id = input.contact_channel_id.unwrap_or_default();
    let mut tx = svc.store.begin().await?;
    let (rec, _) = load(tx.as_mut(), &ctx, &id).await?;
    tx.delete(CHANNEL, &ctx.account_id, &rec.id).await?;
    tx.commit().await?;
    Ok(DeleteContactChannelResult {})
}

pub async fn list(
    svc: &ContactsService,
    ctx: Context,
    input: ListContactChannelsRequest,
) -> Result<ListContactChannelsResult, Error> {
    let contact_id = input.contact_id.unwrap_or_default();
    let scope = format!("channels:{contact_id}");
    let after = resume_after(&scope, input.next_token.as_deref())?;
    let mut r = svc.store.read().await?;
    if r.get(CONTACT, &ctx.account_id, &contact_id)
        .await?
        .is_none()
    {
        return Err(not_found(RT_CONTACT, &contact_id));
    }
    let q = ListQuery {
        kind: CHANNEL.into(),
        account: ctx.account_id.clone(),
        parent: Some(contact_id.clone()),
        sort_prefix: None,
        after,
        limit: 0,
        ..Default::default()
    };
    let p = page(r.as_mut(), q, &scope, page_size(input.max_results), |rec| {
        let b: ChannelBody = serde_json::from_str(&rec.body).ok()?;
        Some(to_shape(rec, &b))
    })
    .await?;
    Ok(ListContactChannelsResult {
        next_token: p.next,
        contact_channels: Some(p.items),
    })
}
