//! The one way out: every message Klaxon sends (a page to a channel, an activation code) is a
//! delivery attempt row, written in the transaction that decided to send it, with a `send`
//! timer due when it should go. The attempt's id is its idempotency key, handed to the
//! `Channel` so a provider can drop a repeat.
//!
//! States, and what happens to a row in each when the process dies:
//!
//! - `PENDING`: decided, not yet begun. Its timer is free or leased; if the node holding the
//!   lease dies, the lease runs out and another node (or this one after a restart) claims the
//!   timer and sends. Nothing is lost and nothing has gone out yet.
//! - `SENDING`: committed just before `Channel::send` is called, while the node holds the
//!   timer's lease. If the node dies now, nobody knows whether the provider got the message:
//!   when the lease runs out the next claimer sends again with the same idempotency key. This
//!   is the only duplicate the design allows: at most one per attempt per crash.
//! - `SENT` / `ERROR`: the outcome, written together with the page's receipt (and, after an
//!   error, the next attempt when the plan retries) in the transaction that deletes the timer
//!   under the lease. A crash before that commit leaves the row `SENDING` (see above).
//! - `CANCELLED`: the page was acknowledged or stopped (or the channel deactivated) before the
//!   send began. Final.
//!
//! A node that lost its lease (it stalled for longer than the lease while others were alive)
//! cannot commit the outcome: its transaction rolls back and the new holder resends.

use super::Engine;
use super::error::{EngineError, Result};
use super::records::{
    ATTEMPT, AttemptBody, AttemptState, GLOBAL, PAGE, PROVIDER_MESSAGE, PageBody, PageState,
    ProviderMessageBody, Purpose, ReceiptBody, SENT_TO, SentToBody, T_SEND, insert, save,
};
use crate::delivery::{ChannelKind, MessageKind, OutboundMessage};
use crate::domain::arn::creation_sort_key;
use crate::handlers::contacts::records::{CHANNEL, ChannelBody};
use crate::storage::{Record, Timer, Tx, upsert};

/// After this many claims of one send (each ended by a crash or a failed commit), give up.
const MAX_CLAIMS: i64 = 8;

/// Writes a PENDING attempt and its send timer due at `due_ms`.
pub async fn enqueue(
    tx: &mut dyn Tx,
    account: &str,
    id: &str,
    body: &AttemptBody,
    due_ms: i64,
) -> Result<()> {
    let parent = body.page_arn.clone().or(Some(body.channel_arn.clone()));
    let sort = creation_sort_key(body.created_ms);
    insert(
        tx,
        (ATTEMPT, account, id),
        parent,
        &sort,
        body,
        body.created_ms,
    )
    .await?;
    tx.schedule(&Timer::new(account, T_SEND, id, 0, due_ms))
        .await?;
    Ok(())
}

/// The attempt id of a page's send: stable for (page, stage, channel, attempt number).
pub fn page_attempt_id(page_arn: &str, stage: i32, channel_arn: &str, attempt: i32) -> String {
    format!("{page_arn}|{stage}|{channel_arn}|{attempt}")
}

/// An activation code on its way to a channel.
pub struct ActivationMessage<'a> {
    pub channel_arn: &'a str,
    pub channel: &'a ChannelBody,
    pub subject: String,
    pub text: String,
    pub html: Option<String>,
    pub code: &'a str,
}

/// Queues an activation code for a channel; sent as soon as the engine runs.
pub async fn enqueue_activation(
    tx: &mut dyn Tx,
    account: &str,
    m: ActivationMessage<'_>,
    now: i64,
) -> Result<()> {
    let ActivationMessage {
        channel_arn,
        channel,
        subject,
        text,
        html,
        code,
    } = m;
    let id = format!("{channel_arn}|activation|{}", uuid::Uuid::now_v7());
    let body = AttemptBody {
        state: AttemptState::Pending,
        purpose: Purpose::Activation,
        page_arn: None,
        engagement_arn: None,
        engagement_start_ms: None,
        channel_arn: channel_arn.to_string(),
        channel_type: channel.channel_type.clone(),
        address: channel.address.clone(),
        stage: 0,
        attempt: 1,
        retry_minutes: 0,
        code: Some(code.to_string()),
        subject,
        text,
        html,
        created_ms: now,
        sends_begun: 0,
        sent_ms: None,
        provider_id: None,
        error: None,
        reply_token: None,
    };
    enqueue(tx, account, &id, &body, now).await
}

async fn finish(mut tx: Box<dyn Tx>, t: &Timer, owner: &str) -> Result<()> {
    if !tx.finish_timer(&t.id, owner).await? {
        return Err(EngineError::LeaseLost);
    }
    tx.commit().await?;
    Ok(())
}

async fn load_page(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
) -> Result<Option<(Record, PageBody)>> {
    match tx.get(PAGE, account, arn).await? {
        Some(rec) => {
            let body = serde_json::from_str(&rec.body)?;
            Ok(Some((rec, body)))
        }
        None => Ok(None),
    }
}

/// Runs one `send` timer through the state machine above.
pub async fn process(engine: &Engine, t: &Timer, now: i64) -> Result<()> {
    let owner = engine.node.as_str();
    let mut tx = engine.store.begin().await?;
    if !tx.hold_timer(&t.id, owner).await? {
        return Err(EngineError::LeaseLost);
    }
    let Some(mut rec) = tx.get(ATTEMPT, &t.account, &t.subject).await? else {
        return finish(tx, t, owner).await;
    };
    let mut a: AttemptBody = serde_json::from_str(&rec.body)?;
    if !matches!(a.state, AttemptState::Pending | AttemptState::Sending) {
        return finish(tx, t, owner).await;
    }
    if a.purpose == Purpose::Page {
        let page = match &a.page_arn {
            Some(arn) => load_page(tx.as_mut(), &t.account, arn).await?,
            None => None,
        };
        if !page.is_some_and(|(_, p)| p.state == PageState::Open) {
            a.state = AttemptState::Cancelled;
            save(tx.as_mut(), &mut rec, &a, now).await?;
            return finish(tx, t, owner).await;
        }
    }
    if t.claims > MAX_CLAIMS {
        tracing::error!(attempt = %t.subject, claims = t.claims, "giving up on a send that was interrupted again and again");
        let error = format!("abandoned after {} interrupted sends", t.claims - 1);
        return conclude(engine, tx, t, rec, a, Err(error), now).await;
    }
    if let Err(until_ms) = engine.take_send_slot(&a.channel_arn, now) {
        return Err(EngineError::RateLimited { until_ms });
    }
    if a.state == AttemptState::Sending {
        tracing::warn!(attempt = %t.subject, "resending an attempt whose earlier send was interrupted");
    }
    a.state = AttemptState::Sending;
    a.sends_begun += 1;
    save(tx.as_mut(), &mut rec, &a, now).await?;
    tx.commit().await?;

    let Some(kind) = ChannelKind::parse(&a.channel_type) else {
        let tx = engine.store.begin().await?;
        let error = format!("unknown channel type {}", a.channel_type);
        return conclude(engine, tx, t, rec, a, Err(error), now).await;
    };
    let msg = OutboundMessage {
        kind: match a.purpose {
            Purpose::Page => MessageKind::Page,
            Purpose::Activation => MessageKind::Activation,
        },
        contact_channel_arn: a.channel_arn.clone(),
        channel_type: kind,
        delivery_address: a.address.clone(),
        code: a.code.clone().unwrap_or_default(),
        page_arn: a.page_arn.clone(),
        engagement_arn: a.engagement_arn.clone(),
        subject: a.subject.clone(),
        body: a.text.clone(),
        html: a.html.clone(),
        idempotency_key: idempotency_key(&t.subject),
        reply_token: a.reply_token.clone(),
    };
    let outcome = send_with_retries(engine, &msg, now)
        .await
        .map_err(|e| e.to_string());
    let done = engine.clock.now_ms().max(now);
    engine
        .metrics
        .sent(&a.channel_type, outcome.is_ok(), a.purpose == Purpose::Page);
    if outcome.is_ok()
        && a.stage == 0
        && a.attempt == 1
        && let Some(start) = a.engagement_start_ms
    {
        engine.metrics.first_send(done - start);
    }
    let tx = engine.store.begin().await?;
    conclude(engine, tx, t, rec, a, outcome, done).await
}

/// One send, tried again after a short backoff when the provider fails temporarily (5xx, 429,
/// network, no answer): a blip at the provider should not cost a whole retry interval. Every
/// try carries the same idempotency key.
async fn send_with_retries(
    engine: &Engine,
    msg: &OutboundMessage,
    now: i64,
) -> std::result::Result<String, crate::delivery::DeliveryError> {
    use crate::delivery::DeliveryError;
    // A provider that never answers must not hold this node's lease (and a slot) forever.
    let limit = std::time::Duration::from_millis(engine.config.send_timeout_ms.max(1) as u64);
    let mut tries = 0;
    loop {
        let sent = tokio::time::timeout(
            limit,
            engine.delivery.send(msg, engine.clock.now_ms().max(now)),
        )
        .await
        .unwrap_or_else(|_| {
            Err(DeliveryError::Temporary(format!(
                "no answer within {} ms",
                limit.as_millis()
            )))
        });
        match sent {
            Err(DeliveryError::Temporary(why)) if tries < engine.config.provider_retries => {
                tries += 1;
                let wait = engine.config.provider_backoff_ms.max(0) << (tries - 1);
                tracing::info!(error = %why, retry_in_ms = wait, "provider failed for now; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
            }
            other => return other,
        }
    }
}

/// A short, stable, opaque key for an attempt id (ids hold ARNs; providers limit key length).
pub fn idempotency_key(attempt_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(attempt_id.as_bytes())[..16])
}

/// Records SENT or ERROR, the page's receipt and any retry, and deletes the timer.
async fn conclude(
    engine: &Engine,
    mut tx: Box<dyn Tx>,
    t: &Timer,
    mut rec: Record,
    mut a: AttemptBody,
    outcome: std::result::Result<String, String>,
    now: i64,
) -> Result<()> {
    let ok = outcome.is_ok();
    match outcome {
        Ok(provider_id) => {
            a.state = AttemptState::Sent;
            a.sent_ms = Some(now);
            a.provider_id = Some(provider_id);
            if a.purpose == Purpose::Activation {
                forget_code(&mut a);
            }
        }
        Err(e) => {
            tracing::warn!(attempt = %t.subject, channel = %a.channel_arn, error = %e, "send failed");
            a.state = AttemptState::Error;
            a.error = Some(e);
            if a.purpose == Purpose::Activation {
                forget_code(&mut a);
            }
        }
    }
    save(tx.as_mut(), &mut rec, &a, now).await?;
    if ok {
        index_sent(tx.as_mut(), t, &rec, &a, now).await?;
    }
    if a.purpose == Purpose::Page
        && let Some(page_arn) = a.page_arn.clone()
        && let Some((mut prec, mut page)) = load_page(tx.as_mut(), &t.account, &page_arn).await?
    {
        page.receipts.push(ReceiptBody {
            channel_arn: Some(a.channel_arn.clone()),
            receipt_type: if ok { "SENT" } else { "ERROR" }.into(),
            info: Some(if ok {
                format!("attempt {} (stage {})", a.attempt, a.stage)
            } else {
                a.error.clone().unwrap_or_default()
            }),
            time_ms: now,
        });
        if ok {
            if page.sent_ms.is_none() && page.read_ms.is_none() {
                announce_page(tx.as_mut(), &t.account, &page_arn, &page, &a, now).await?;
            }
            page.sent_ms.get_or_insert(now);
        } else {
            retry(engine, tx.as_mut(), &t.account, &page_arn, &page, &a, now).await?;
        }
        save(tx.as_mut(), &mut prec, &page, now).await?;
    }
    finish(tx, t, &engine.node).await
}

/// A page of an incident with chat channels: its first send is posted there, with a button
/// to acknowledge it.
async fn announce_page(
    tx: &mut dyn Tx,
    account: &str,
    page_arn: &str,
    page: &PageBody,
    a: &AttemptBody,
    now: i64,
) -> Result<()> {
    let m = &page.message;
    let (Some(incident), false) = (&m.incident_id, m.chat_topics.is_empty()) else {
        return Ok(());
    };
    let alias = page_arn.rsplit('/').nth(1).unwrap_or_default();
    let update = super::chat::notification(
        &format!("Paging {alias}: {}", m.subject),
        &format!(
            "Sent by {} ({}).",
            a.channel_type.to_ascii_lowercase(),
            m.sender
        ),
        "page.sent",
        incident,
        Some(page_arn),
        true,
    );
    super::chat::enqueue::<EngineError>(tx, account, &m.chat_topics, &update, now).await
}

/// Remembers what went out to a number or email address, and the provider's id of a message, so replies
/// and status callbacks (which name only those) find the page and the attempt.
async fn index_sent(
    tx: &mut dyn Tx,
    t: &Timer,
    rec: &Record,
    a: &AttemptBody,
    now: i64,
) -> Result<()> {
    if a.channel_type != "VOICE" {
        let address = if a.channel_type == "EMAIL" {
            a.address.to_ascii_lowercase()
        } else {
            a.address.clone()
        };
        let body = SentToBody {
            account: t.account.clone(),
            attempt_id: rec.id.clone(),
            channel_arn: a.channel_arn.clone(),
            page_arn: a.page_arn.clone(),
        };
        let id = format!("{address}|{}", rec.id);
        upsert(tx, &index(SENT_TO, &id, Some(address), &body, now)?).await?;
    }
    if let Some(sid) = &a.provider_id {
        let body = ProviderMessageBody {
            account: t.account.clone(),
            attempt_id: rec.id.clone(),
        };
        upsert(tx, &index(PROVIDER_MESSAGE, sid, None, &body, now)?).await?;
    }
    Ok(())
}

fn index<T: serde::Serialize>(
    kind: &str,
    id: &str,
    parent: Option<String>,
    body: &T,
    now: i64,
) -> Result<Record> {
    Ok(Record {
        kind: kind.into(),
        account: GLOBAL.into(),
        id: id.into(),
        parent,
        sort: creation_sort_key(now),
        body: serde_json::to_string(body)?,
        created_ms: now,
        updated_ms: now,
    })
}

/// Queues the next attempt when the plan retries this channel and the page is still open.
async fn retry(
    engine: &Engine,
    tx: &mut dyn Tx,
    account: &str,
    page_arn: &str,
    page: &PageBody,
    a: &AttemptBody,
    now: i64,
) -> Result<()> {
    if a.retry_minutes <= 0
        || a.attempt >= engine.config.max_send_attempts
        || page.state != PageState::Open
    {
        return Ok(());
    }
    let active = match tx.get(CHANNEL, account, &a.channel_arn).await? {
        Some(c) => serde_json::from_str::<ChannelBody>(&c.body)?.activated,
        None => false,
    };
    if !active {
        return Ok(());
    }
    let next = AttemptBody {
        state: AttemptState::Pending,
        attempt: a.attempt + 1,
        sends_begun: 0,
        sent_ms: None,
        provider_id: None,
        error: None,
        created_ms: now,
        ..a.clone()
    };
    let id = page_attempt_id(page_arn, a.stage, &a.channel_arn, next.attempt);
    let due = now + engine.durations.scaled_ms(a.retry_minutes as i64 * 60);
    enqueue(tx, account, &id, &next, due).await
}

/// Once an activation code has gone out (or failed), only its hash on the channel remains:
/// the stored words would otherwise keep the code readable in the database.
fn forget_code(a: &mut AttemptBody) {
    a.code = None;
    a.text = String::new();
    a.html = None;
}

/// What the provider later reported about a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Delivered,
    Failed(String),
}

/// Applies a provider's delivery report: a DELIVERED receipt, or an ERROR receipt and a retry
/// when the plan retries. Returns false when the message is not one of ours.
pub async fn report(engine: &Engine, provider_id: &str, report: Report, now: i64) -> Result<bool> {
    let mut tx = engine.store.begin().await?;
    let Some(index) = tx.get(PROVIDER_MESSAGE, GLOBAL, provider_id).await? else {
        return Ok(false);
    };
    let ProviderMessageBody {
        account,
        attempt_id,
    } = serde_json::from_str(&index.body)?;
    let Some(mut rec) = tx.get(ATTEMPT, &account, &attempt_id).await? else {
        return Ok(false);
    };
    let mut a: AttemptBody = serde_json::from_str(&rec.body)?;
    let page = match &a.page_arn {
        Some(arn) => load_page(tx.as_mut(), &account, arn).await?,
        None => None,
    };
    match (&report, page) {
        (Report::Delivered, Some((mut prec, mut p))) => {
            p.receipts.push(ReceiptBody {
                channel_arn: Some(a.channel_arn.clone()),
                receipt_type: "DELIVERED".into(),
                info: Some("delivered (provider report)".into()),
                time_ms: now,
            });
            p.delivery_ms.get_or_insert(now);
            save(tx.as_mut(), &mut prec, &p, now).await?;
        }
        (Report::Failed(why), page) => {
            a.state = AttemptState::Error;
            a.error = Some(why.clone());
            save(tx.as_mut(), &mut rec, &a, now).await?;
            if let Some((mut prec, mut p)) = page {
                p.receipts.push(ReceiptBody {
                    channel_arn: Some(a.channel_arn.clone()),
                    receipt_type: "ERROR".into(),
                    info: Some(why.clone()),
                    time_ms: now,
                });
                let page_arn = prec.id.clone();
                retry(engine, tx.as_mut(), &account, &page_arn, &p, &a, now).await?;
                save(tx.as_mut(), &mut prec, &p, now).await?;
            }
        }
        (Report::Delivered, None) => {}
    }
    tx.commit().await?;
    engine.wake();
    Ok(true)
}
