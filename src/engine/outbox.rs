//! The one way out: every message Klaxon sends (a page to a channel, an activation code) is a
//! delivery attempt row, written in the transaction that decided to send it, with a `send`
//! timer due when it should go. The attempt's id is its idempotency key, handed to the
//! `Channel` so a provider can drop a repeat.
//!
//! States, and what happens to a row in each when the process dies:
//!
//! - `PENDING`: decided, not yet sent. Its timer is free or leased; if the node holding the
//!   lease dies, the lease runs out and another node (or this one after a restart) claims the
//!   timer and sends. The claim is committed before the send begins and counts it
//!   (`Timer::claims`): a claimer that finds `claims > 1` knows an earlier send may have
//!   reached the provider and resends with the same idempotency key. This is the only
//!   duplicate the design allows: at most one per attempt per crash.
//! - `SENDING`: a bundled attempt whose message is being handed over (`bundle.rs` commits it
//!   before the send); after a crash it is resent like a pending one.
//! - `SENT` / `ERROR`: the outcome, written together with the page's receipt (and, after an
//!   error, the next attempt when the plan retries) in the transaction that deletes the timer
//!   under the lease, the one write of a send. A crash before that commit leaves the row
//!   `PENDING` with its timer claimed (see above).
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
        temp_failures: 0,
        held: false,
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

/// What became of one send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message: its message id.
    Accepted(String),
    /// The provider failed for now (5xx, 429, network, no answer): the send is tried again.
    Temporary(String),
    /// The provider refused the message as sent (a bad number, a mailbox that does not exist).
    Rejected(String),
}

impl Outcome {
    /// The `outcome` label of `klaxon_sends_total`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Accepted(_) => "sent",
            Outcome::Temporary(_) => "error",
            Outcome::Rejected(_) => "rejected",
        }
    }
}

/// Whether an attempt is still worth sending: its page is open and, once a try has failed,
/// its channel is still activated.
async fn still_wanted(tx: &mut dyn Tx, account: &str, a: &AttemptBody) -> Result<bool> {
    if a.purpose != Purpose::Page {
        return Ok(true);
    }
    let open = match &a.page_arn {
        Some(arn) => load_page(tx, account, arn)
            .await?
            .is_some_and(|(_, p)| p.state == PageState::Open),
        None => false,
    };
    if !open || a.temp_failures == 0 {
        return Ok(open);
    }
    Ok(match tx.get(CHANNEL, account, &a.channel_arn).await? {
        Some(c) => serde_json::from_str::<ChannelBody>(&c.body)?.activated,
        None => false,
    })
}

/// Runs one `send` timer through the state machine above.
///
/// A send that goes out writes once, after the provider answered: the claim that leased the
/// timer is the durable mark that a send may have begun (a claimer after a crash sees
/// `claims > 1` and resends with the same key), so the transaction that decided to send
/// ends having written nothing, and the lock is not held while the provider is called.
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
    // A held attempt is sent by its channel's bundle timer, never by its own.
    if !matches!(a.state, AttemptState::Pending | AttemptState::Sending) || a.held {
        return finish(tx, t, owner).await;
    }
    if !still_wanted(tx.as_mut(), &t.account, &a).await? {
        a.state = AttemptState::Cancelled;
        save(tx.as_mut(), &mut rec, &a, now).await?;
        return finish(tx, t, owner).await;
    }
    if t.claims > MAX_CLAIMS {
        tracing::error!(attempt = %t.subject, claims = t.claims, "giving up on a send that was interrupted again and again");
        let error = format!("abandoned after {} interrupted sends", t.claims - 1);
        return conclude(engine, tx, t, rec, a, Outcome::Rejected(error), now).await;
    }
    if let Err(until_ms) = engine.take_send_slot(&a.channel_arn, now) {
        return match a.purpose {
            Purpose::Page => super::bundle::hold(engine, tx, t, rec, a, until_ms, now).await,
            Purpose::Activation => reschedule(tx, t, owner, until_ms).await,
        };
    }
    drop(tx);
    if t.claims > 1 {
        tracing::warn!(attempt = %t.subject, claims = t.claims, "resending an attempt whose earlier send may have been interrupted");
    }

    let outcome = match message_of(&a, &t.subject) {
        Some(msg) => deliver(engine, &msg, now).await,
        None => Outcome::Rejected(format!("unknown channel type {}", a.channel_type)),
    };
    if !matches!(outcome, Outcome::Accepted(_)) {
        engine.release_send_slot(&a.channel_arn, now);
    }
    let done = engine.clock.now_ms().max(now);
    engine
        .metrics
        .sent(&a.channel_type, outcome.label(), a.purpose == Purpose::Page);
    if matches!(outcome, Outcome::Accepted(_))
        && a.stage == 0
        && a.attempt == 1
        && let Some(start) = a.engagement_start_ms
    {
        engine.metrics.first_send(done - start);
    }
    // Nobody else changes a pending attempt while its timer is leased (a held one belongs to
    // the bundle timer), so the outcome is written over the row as read above.
    let tx = engine.store.begin().await?;
    a.sends_begun += 1;
    conclude(engine, tx, t, rec, a, outcome, done).await
}

/// The message an attempt sends on its own; `None` for a channel type Klaxon cannot send to.
pub fn message_of(a: &AttemptBody, attempt_id: &str) -> Option<OutboundMessage> {
    Some(OutboundMessage {
        kind: match a.purpose {
            Purpose::Page => MessageKind::Page,
            Purpose::Activation => MessageKind::Activation,
        },
        contact_channel_arn: a.channel_arn.clone(),
        channel_type: ChannelKind::parse(&a.channel_type)?,
        delivery_address: a.address.clone(),
        code: a.code.clone().unwrap_or_default(),
        page_arn: a.page_arn.clone(),
        engagement_arn: a.engagement_arn.clone(),
        subject: a.subject.clone(),
        body: a.text.clone(),
        html: a.html.clone(),
        idempotency_key: idempotency_key(attempt_id),
        reply_token: a.reply_token.clone(),
        bundled_pages: Vec::new(),
    })
}

/// Gives a claimed timer back as a fresh one due at `due_ms`, in the transaction that holds
/// its lease: a send that waits (for the provider, for the rate limit) is not an interrupted
/// send, so its claims start over.
pub(super) async fn reschedule(
    mut tx: Box<dyn Tx>,
    t: &Timer,
    owner: &str,
    due_ms: i64,
) -> Result<()> {
    if !tx.finish_timer(&t.id, owner).await? {
        return Err(EngineError::LeaseLost);
    }
    tx.schedule(&Timer::new(&t.account, &t.kind, &t.subject, t.step, due_ms))
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Hands a message to its channel. A temporary failure (5xx, 429, network, no answer) is tried
/// again at once a few times after a short backoff, so a blip at the provider leaves no trace;
/// every try carries the same idempotency key. What still fails is tried again later
/// (`Outcome::Temporary`).
pub async fn deliver(engine: &Engine, msg: &OutboundMessage, now: i64) -> Outcome {
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
            Ok(id) => return Outcome::Accepted(id),
            Err(DeliveryError::Permanent(why)) => return Outcome::Rejected(why),
            Err(DeliveryError::Temporary(why)) if tries < engine.config.provider_retries => {
                tries += 1;
                let wait = engine
                    .durations
                    .scale_ms(engine.config.provider_backoff_ms.max(0) << (tries - 1));
                tracing::info!(error = %why, retry_in_ms = wait, "provider failed for now; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(wait as u64)).await;
            }
            Err(DeliveryError::Temporary(why)) => return Outcome::Temporary(why),
        }
    }
}

/// A short, stable, opaque key for an attempt id (ids hold ARNs; providers limit key length).
pub fn idempotency_key(attempt_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(attempt_id.as_bytes())[..16])
}

/// Records what became of the send and deletes the timer, or gives it back for a later try.
async fn conclude(
    engine: &Engine,
    mut tx: Box<dyn Tx>,
    t: &Timer,
    mut rec: Record,
    mut a: AttemptBody,
    outcome: Outcome,
    now: i64,
) -> Result<()> {
    let again = record_outcome(
        engine,
        tx.as_mut(),
        &t.account,
        (&mut rec, &mut a),
        &outcome,
        &[],
        now,
    )
    .await?;
    if again {
        let due = now + engine.provider_backoff_ms(a.temp_failures);
        return reschedule(tx, t, &engine.node, due).await;
    }
    finish(tx, t, &engine.node).await
}

/// Writes what became of one attempt's send: its state, the page's receipt, the reply indexes
/// of an accepted message (`bundled`: the other attempts that went out in the same message).
/// Returns true when the attempt is to be tried again later.
///
/// A series of temporary failures gets one ERROR receipt, at its start; the send is tried
/// again until the page closes, without using up the plan's retries. A rejection is final.
pub(super) async fn record_outcome(
    engine: &Engine,
    tx: &mut dyn Tx,
    account: &str,
    (rec, a): (&mut Record, &mut AttemptBody),
    outcome: &Outcome,
    bundled: &[String],
    now: i64,
) -> Result<bool> {
    let mut again = false;
    let info = match outcome {
        Outcome::Accepted(provider_id) => {
            a.state = AttemptState::Sent;
            a.sent_ms = Some(now);
            a.provider_id = Some(provider_id.clone());
            a.error = None;
            let info = match bundled.len() {
                0 => format!("attempt {} (stage {})", a.attempt, a.stage),
                n => format!(
                    "attempt {} (stage {}), one message with {} other pages",
                    a.attempt, a.stage, n
                ),
            };
            Some(("SENT", info))
        }
        Outcome::Temporary(why) => {
            a.temp_failures += 1;
            a.error = Some(why.clone());
            let give_up = a.purpose == Purpose::Activation
                && a.temp_failures >= engine.config.max_send_attempts;
            if give_up {
                tracing::warn!(channel = %a.channel_arn, error = %why, "activation code not delivered; giving up");
                a.state = AttemptState::Error;
            } else {
                tracing::warn!(channel = %a.channel_arn, error = %why, failures = a.temp_failures, "provider failed for now; the send will be tried again");
                a.state = AttemptState::Pending;
                again = true;
            }
            (a.temp_failures == 1).then(|| {
                (
                    "ERROR",
                    format!("provider unavailable ({why}), still trying"),
                )
            })
        }
        Outcome::Rejected(why) => {
            tracing::warn!(channel = %a.channel_arn, error = %why, "the provider rejected the message; not retried");
            a.state = AttemptState::Error;
            a.error = Some(why.clone());
            Some(("ERROR", why.clone()))
        }
    };
    if a.purpose == Purpose::Activation && !again {
        forget_code(a);
    }
    save(tx, rec, a, now).await?;
    if let Outcome::Accepted(_) = outcome {
        index_sent(tx, account, &rec.id, a, bundled, now).await?;
    }
    if a.purpose == Purpose::Page
        && let Some(page_arn) = a.page_arn.clone()
        && let Some((mut prec, mut page)) = load_page(tx, account, &page_arn).await?
        && let Some((receipt_type, info)) = info
    {
        page.receipts.push(ReceiptBody {
            channel_arn: Some(a.channel_arn.clone()),
            receipt_type: receipt_type.into(),
            info: Some(info),
            time_ms: now,
        });
        if let Outcome::Accepted(_) = outcome {
            if page.sent_ms.is_none() && page.read_ms.is_none() {
                announce_page(tx, account, &page_arn, &page, a, now).await?;
            }
            page.sent_ms.get_or_insert(now);
        }
        save(tx, &mut prec, &page, now).await?;
    }
    Ok(again)
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
    account: &str,
    attempt_id: &str,
    a: &AttemptBody,
    bundled: &[String],
    now: i64,
) -> Result<()> {
    if a.channel_type != "VOICE" {
        let address = if a.channel_type == "EMAIL" {
            a.address.to_ascii_lowercase()
        } else {
            a.address.clone()
        };
        let body = SentToBody {
            account: account.to_string(),
            attempt_id: attempt_id.to_string(),
            channel_arn: a.channel_arn.clone(),
            page_arn: a.page_arn.clone(),
        };
        let id = format!("{address}|{attempt_id}");
        upsert(tx, &index(SENT_TO, &id, Some(address), &body, now)?).await?;
    }
    if let Some(sid) = &a.provider_id {
        let body = ProviderMessageBody {
            account: account.to_string(),
            attempt_id: attempt_id.to_string(),
            bundled: bundled.to_vec(),
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
        temp_failures: 0,
        held: false,
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
        bundled,
    } = serde_json::from_str(&index.body)?;
    let mut found = false;
    // A bundled message carried several pages: the report is about each of them.
    for id in std::iter::once(&attempt_id).chain(bundled.iter()) {
        found |= report_attempt(engine, tx.as_mut(), &account, id, &report, now).await?;
    }
    if !found {
        return Ok(false);
    }
    tx.commit().await?;
    engine.wake();
    Ok(true)
}

async fn report_attempt(
    engine: &Engine,
    tx: &mut dyn Tx,
    account: &str,
    attempt_id: &str,
    report: &Report,
    now: i64,
) -> Result<bool> {
    let Some(mut rec) = tx.get(ATTEMPT, account, attempt_id).await? else {
        return Ok(false);
    };
    let mut a: AttemptBody = serde_json::from_str(&rec.body)?;
    let page = match &a.page_arn {
        Some(arn) => load_page(tx, account, arn).await?,
        None => None,
    };
    match (report, page) {
        (Report::Delivered, Some((mut prec, mut p))) => {
            p.receipts.push(ReceiptBody {
                channel_arn: Some(a.channel_arn.clone()),
                receipt_type: "DELIVERED".into(),
                info: Some("delivered (provider report)".into()),
                time_ms: now,
            });
            p.delivery_ms.get_or_insert(now);
            save(tx, &mut prec, &p, now).await?;
        }
        (Report::Failed(why), page) => {
            a.state = AttemptState::Error;
            a.error = Some(why.clone());
            save(tx, &mut rec, &a, now).await?;
            if let Some((mut prec, mut p)) = page {
                p.receipts.push(ReceiptBody {
                    channel_arn: Some(a.channel_arn.clone()),
                    receipt_type: "ERROR".into(),
                    info: Some(why.clone()),
                    time_ms: now,
                });
                let page_arn = prec.id.clone();
                retry(engine, tx, account, &page_arn, &p, &a, now).await?;
                save(tx, &mut prec, &p, now).await?;
            }
        }
        (Report::Delivered, None) => {}
    }
    Ok(true)
}
