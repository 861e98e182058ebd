//! A channel at its rate limit: a page that finds no free slot is held (a `HELD` record under
//! the channel) instead of waiting alone, and the channel's bundle timer sends every held page
//! as one message as soon as the window allows ("3 more pages: …"). Each page keeps its own
//! code, receipts and reply indexes, so a code acknowledges its page and ACK ALL all of them.
//!
//! One timer per channel (its id names the channel) sends held pages, so no two steps send the
//! same one. Holding a page schedules that timer or, when it exists, locks it until the holding
//! transaction ends (`Tx::ensure_timer`); a bundle step takes the same lock before it reads
//! the held pages and again before it finishes, so a page held meanwhile is either in the
//! bundle or finds the timer scheduled again.

use super::Engine;
use super::error::{EngineError, Result};
use super::message::{self, BundleItem};
use super::outbox::{self, Outcome, idempotency_key, record_outcome, reschedule};
use super::records::{
    ATTEMPT, AttemptBody, AttemptState, HELD, PAGE, PageBody, PageState, T_BUNDLE, save,
};
use crate::delivery::{ChannelKind, MessageKind, OutboundMessage};
use crate::domain::arn::creation_sort_key;
use crate::storage::{ListQuery, Record, Timer, Tx, upsert};

/// The most pages one message carries; more wait for the next slot.
const MAX_BUNDLE: i64 = 100;

/// Holds a page's attempt for its channel's bundle, due when the window frees a slot, and
/// ends the attempt's own timer.
pub async fn hold(
    engine: &Engine,
    mut tx: Box<dyn Tx>,
    t: &Timer,
    mut rec: Record,
    mut a: AttemptBody,
    until_ms: i64,
    now: i64,
) -> Result<()> {
    a.held = true;
    save(tx.as_mut(), &mut rec, &a, now).await?;
    upsert(
        tx.as_mut(),
        &Record {
            kind: HELD.into(),
            account: t.account.clone(),
            id: rec.id.clone(),
            parent: Some(a.channel_arn.clone()),
            sort: creation_sort_key(a.created_ms),
            body: "{}".into(),
            created_ms: now,
            updated_ms: now,
        },
    )
    .await?;
    tx.ensure_timer(&Timer::new(
        &t.account,
        T_BUNDLE,
        &a.channel_arn,
        0,
        until_ms,
    ))
    .await?;
    if !tx.finish_timer(&t.id, &engine.node).await? {
        return Err(EngineError::LeaseLost);
    }
    tx.commit().await?;
    Ok(())
}

struct Held {
    rec: Record,
    attempt: AttemptBody,
    page: PageBody,
}

/// The held pages still to send (oldest first); the others' hold records are dropped, and an
/// attempt whose page closed is cancelled.
async fn held_pages(tx: &mut dyn Tx, t: &Timer, now: i64) -> Result<Vec<Held>> {
    let holds = tx
        .list(&ListQuery {
            kind: HELD.into(),
            account: t.account.clone(),
            parent: Some(t.subject.clone()),
            limit: MAX_BUNDLE,
            ..ListQuery::default()
        })
        .await?;
    let mut out = Vec::new();
    for h in holds {
        let attempt = match tx.get(ATTEMPT, &t.account, &h.id).await? {
            Some(rec) => Some((serde_json::from_str::<AttemptBody>(&rec.body)?, rec)),
            None => None,
        };
        let Some((mut a, mut rec)) = attempt.filter(|(a, _)| {
            a.held && matches!(a.state, AttemptState::Pending | AttemptState::Sending)
        }) else {
            tx.delete(HELD, &t.account, &h.id).await?;
            continue;
        };
        let page = match &a.page_arn {
            Some(arn) => match tx.get(PAGE, &t.account, arn).await? {
                Some(p) => Some(serde_json::from_str::<PageBody>(&p.body)?),
                None => None,
            },
            None => None,
        };
        match page.filter(|p| p.state == PageState::Open) {
            Some(page) => out.push(Held {
                rec,
                attempt: a,
                page,
            }),
            None => {
                a.state = AttemptState::Cancelled;
                a.held = false;
                save(tx, &mut rec, &a, now).await?;
                tx.delete(HELD, &t.account, &h.id).await?;
            }
        }
    }
    Ok(out)
}

/// The one message that carries every held page; a single held page goes out as itself.
fn bundled_message(held: &[Held], kind: ChannelKind) -> Option<OutboundMessage> {
    let first = &held.first()?.attempt;
    if held.len() == 1 {
        return outbox::message_of(first, &held[0].rec.id);
    }
    let items: Vec<BundleItem<'_>> = held
        .iter()
        .map(|h| BundleItem {
            message: &h.page.message,
            code: h.attempt.code.as_deref().unwrap_or_default(),
            page_arn: h.attempt.page_arn.as_deref().unwrap_or_default(),
        })
        .collect();
    let ids: Vec<&str> = held.iter().map(|h| h.rec.id.as_str()).collect();
    Some(OutboundMessage {
        kind: MessageKind::Page,
        contact_channel_arn: first.channel_arn.clone(),
        channel_type: kind,
        delivery_address: first.address.clone(),
        code: first.code.clone().unwrap_or_default(),
        page_arn: first.page_arn.clone(),
        engagement_arn: first.engagement_arn.clone(),
        subject: message::bundle_subject(&items),
        body: message::bundle_text(kind, &items),
        html: message::bundle_html(kind, &items),
        idempotency_key: idempotency_key(&ids.join("\n")),
        reply_token: first.reply_token.clone(),
        bundled_pages: held
            .iter()
            .filter_map(|h| h.attempt.page_arn.clone())
            .collect(),
    })
}

/// Runs a channel's bundle timer: sends its held pages together when a slot is free.
pub async fn process(engine: &Engine, t: &Timer, now: i64) -> Result<()> {
    let owner = engine.node.as_str();
    let mut tx = engine.store.begin().await?;
    if !tx.hold_timer(&t.id, owner).await? {
        return Err(EngineError::LeaseLost);
    }
    let mut held = held_pages(tx.as_mut(), t, now).await?;
    let Some(first) = held.first() else {
        if !tx.finish_timer(&t.id, owner).await? {
            return Err(EngineError::LeaseLost);
        }
        tx.commit().await?;
        return Ok(());
    };
    let channel_type = first.attempt.channel_type.clone();
    if let Err(until_ms) = engine.take_send_slot(&t.subject, now) {
        return reschedule(tx, t, owner, until_ms).await;
    }
    for h in held.iter_mut() {
        h.attempt.state = AttemptState::Sending;
        h.attempt.sends_begun += 1;
        save(tx.as_mut(), &mut h.rec, &h.attempt, now).await?;
    }
    tx.commit().await?;

    let outcome = match ChannelKind::parse(&channel_type).and_then(|k| bundled_message(&held, k)) {
        Some(msg) => outbox::deliver(engine, &msg, now).await,
        None => Outcome::Rejected(format!("unknown channel type {channel_type}")),
    };
    if !matches!(outcome, Outcome::Accepted(_)) {
        engine.release_send_slot(&t.subject, now);
    }
    engine.metrics.sent(&channel_type, outcome.label(), true);
    let done = engine.clock.now_ms().max(now);

    let mut tx = engine.store.begin().await?;
    if !tx.hold_timer(&t.id, owner).await? {
        return Err(EngineError::LeaseLost);
    }
    let ids: Vec<String> = held.iter().map(|h| h.rec.id.clone()).collect();
    let mut failures = 0;
    for h in held.iter_mut() {
        let others: Vec<String> = ids.iter().filter(|i| **i != h.rec.id).cloned().collect();
        let again = matches!(outcome, Outcome::Temporary(_));
        h.attempt.held = again;
        record_outcome(
            engine,
            tx.as_mut(),
            &t.account,
            (&mut h.rec, &mut h.attempt),
            &outcome,
            &others,
            done,
        )
        .await?;
        if again {
            failures = failures.max(h.attempt.temp_failures);
        } else {
            tx.delete(HELD, &t.account, &h.rec.id).await?;
        }
    }
    if failures > 0 {
        let due = done + engine.provider_backoff_ms(failures);
        return reschedule(tx, t, owner, due).await;
    }
    let more = tx
        .list(&ListQuery {
            kind: HELD.into(),
            account: t.account.clone(),
            parent: Some(t.subject.clone()),
            limit: 1,
            ..ListQuery::default()
        })
        .await?;
    if more.is_empty() {
        if !tx.finish_timer(&t.id, owner).await? {
            return Err(EngineError::LeaseLost);
        }
        tx.commit().await?;
        Ok(())
    } else {
        // Pages held while this bundle was out (or beyond MAX_BUNDLE) go in the next one.
        reschedule(tx, t, owner, done).await
    }
}
