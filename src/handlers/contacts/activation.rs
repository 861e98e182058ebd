//! Proving a channel reaches its owner: a six-digit code is sent to the address and must be
//! given back. Codes expire; repeated wrong codes lock activation for a while so guessing a
//! million codes is impractical; sending is rate-limited so a channel cannot be spammed.

use super::channel::{contact_alias, load};
use super::errors::{invalid, quota};
use super::records::{ChannelBody, RT_CHANNEL};
use super::{ContactsService, save};
use crate::delivery::ChannelKind;
use crate::domain::codes::{code_matches, hash_code, new_code};
use crate::engine::message::{activation_html, activation_subject, activation_text};
use crate::engine::outbox::{ActivationMessage, enqueue_activation};
use crate::shapes::Context;
use crate::shapes::contacts::*;
use crate::storage::Tx;

/// Makes a fresh code for the channel (stored as a hash) if the send rate allows it.
pub fn issue_code(
    svc: &ContactsService,
    arn: &str,
    b: &mut ChannelBody,
    now: i64,
) -> Result<String, Error> {
    let cfg = &svc.activation;
    let window = svc.durations.scaled_ms(cfg.send_window_secs);
    b.activation.sent_ms.retain(|t| *t + window > now);
    if b.activation.sent_ms.len() >= cfg.max_sends_per_window as usize {
        return Err(quota(
            RT_CHANNEL,
            arn,
            "activation-codes-per-window",
            format!(
                "at most {} activation codes can be sent to a channel in {} seconds; try again later",
                cfg.max_sends_per_window, cfg.send_window_secs
            ),
        ));
    }
    let code = new_code();
    b.activation.sent_ms.push(now);
    b.activation.code_hash = Some(hash_code(arn, &code));
    b.activation.expires_ms = now + svc.durations.scaled_ms(cfg.code_ttl_secs);
    Ok(code)
}

/// Queues the code for delivery through the outbox, inside the caller's transaction; it goes
/// out once the transaction commits and the engine is woken.
pub async fn queue_code(
    svc: &ContactsService,
    tx: &mut dyn Tx,
    account: &str,
    (arn, b): (&str, &ChannelBody),
    alias: &str,
    code: &str,
    now: i64,
) -> Result<(), Error> {
    let kind = ChannelKind::parse(&b.channel_type).unwrap_or(ChannelKind::Email);
    let minutes = svc.activation.code_ttl_secs / 60;
    let m = ActivationMessage {
        channel_arn: arn,
        channel: b,
        subject: activation_subject(alias),
        text: activation_text(kind, &b.name, alias, code, minutes),
        html: activation_html(kind, &b.name, alias, code, minutes),
        code,
    };
    enqueue_activation(tx, account, m, now).await?;
    Ok(())
}

pub async fn send(
    svc: &ContactsService,
    ctx: Context,
    input: SendActivationCodeRequest,
) -> Result<SendActivationCodeResult, Error> {
    let id = input.contact_channel_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut b) = load(tx.as_mut(), &ctx, &id).await?;
    let code = issue_code(svc, &rec.id, &mut b, now)?;
    save(tx.as_mut(), &mut rec, &b, now).await?;
    let alias = contact_alias(tx.as_mut(), &ctx, &b.contact_arn).await?;
    queue_code(
        svc,
        tx.as_mut(),
        &ctx.account_id,
        (&rec.id, &b),
        &alias,
        &code,
        now,
    )
    .await?;
    tx.commit().await?;
    svc.wake.notify_one();
    Ok(SendActivationCodeResult {})
}

pub async fn activate(
    svc: &ContactsService,
    ctx: Context,
    input: ActivateContactChannelRequest,
) -> Result<ActivateContactChannelResult, Error> {
    let id = input.contact_channel_id.unwrap_or_default();
    let code = input.activation_code.unwrap_or_default();
    let now = svc.clock.now_ms();
    let cfg = &svc.activation;
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut b) = load(tx.as_mut(), &ctx, &id).await?;
    if b.activation.locked_until_ms > now {
        let secs = (b.activation.locked_until_ms - now + 999) / 1000;
        return Err(invalid(
            "ActivationCode",
            format!("too many wrong codes; activation is locked for {secs} more seconds"),
        ));
    }
    let live = b
        .activation
        .code_hash
        .as_deref()
        .filter(|_| b.activation.expires_ms > now);
    match live {
        Some(hash) if code_matches(&rec.id, &code, hash) => {
            b.activated = true;
            b.activation.code_hash = None;
            b.activation.failed_attempts = 0;
            b.activated_by = None;
        }
        _ => {
            b.activation.failed_attempts += 1;
            if b.activation.failed_attempts >= cfg.max_failed_attempts {
                b.activation.failed_attempts = 0;
                b.activation.locked_until_ms = now + svc.durations.scaled_ms(cfg.lockout_secs);
            }
            save(tx.as_mut(), &mut rec, &b, now).await?;
            tx.commit().await?;
            let why = if live.is_some() {
                "is not the code sent to this channel"
            } else {
                "has expired or was never sent; request a new one"
            };
            return Err(invalid("ActivationCode", why));
        }
    }
    save(tx.as_mut(), &mut rec, &b, now).await?;
    tx.commit().await?;
    Ok(ActivateContactChannelResult {})
}

pub async fn deactivate(
    svc: &ContactsService,
    ctx: Context,
    input: DeactivateContactChannelRequest,
) -> Result<DeactivateContactChannelResult, Error> {
    let id = input.contact_channel_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut b) = load(tx.as_mut(), &ctx, &id).await?;
    b.activated = false;
    b.activated_by = None;
    save(tx.as_mut(), &mut rec, &b, now).await?;
    tx.commit().await?;
    Ok(DeactivateContactChannelResult {})
}

/// Marks a channel activated without a code, for an operator action that carried over a channel
/// its owner had already proven (`klaxon import`). Only the operator route reaches this; no
/// API operation does. Returns whether the channel was already active.
pub async fn activate_by_operator(
    svc: &ContactsService,
    ctx: &Context,
    id: &str,
    actor: &str,
) -> Result<bool, Error> {
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut b) = load(tx.as_mut(), ctx, id).await?;
    if b.activated {
        return Ok(true);
    }
    b.activated = true;
    b.activation.code_hash = None;
    b.activation.failed_attempts = 0;
    b.activated_by = Some(actor.to_string());
    save(tx.as_mut(), &mut rec, &b, now).await?;
    tx.commit().await?;
    tracing::info!(channel = %rec.id, actor, "contact channel activated by an operator action, without a code");
    Ok(false)
}
