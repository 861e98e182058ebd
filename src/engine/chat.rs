//! Incident updates on their way to chat, through the same durable timers as pages. An update
//! is one record per SNS topic, written in the transaction that made the change it reports, so
//! it is neither lost nor invented. The engine posts it to every Slack and Discord channel the
//! topic maps to, remembering after each post where it has gone, so a retry after a chat outage
//! skips the channels that already have it. A post can be repeated only when its outcome was
//! not recorded: a crash or a lost lease between the post and the note, or a post that timed
//! out after the chat service had taken it, as with an SMS in flight. Each channel gets a
//! topic's updates in the order they were made: an update waits for a channel while an earlier
//! one still lacks that channel; a channel that is down holds up only itself, and one that
//! refuses an update outright (no such channel, bot not invited) is passed over.
//!
//! An update is an AWS Chatbot custom notification (`version` 1.0, `source` custom), the same
//! shape that arrives from AWS on `/hooks/sns`, so one renderer serves both.

use super::Engine;
use super::error::{EngineError, Result};
use super::records::T_CHAT;
use crate::delivery::DeliveryError;
use crate::delivery::chat::ChatTarget;
use crate::domain::arn::creation_sort_key;
use crate::storage::{ListQuery, Record, StoreError, Timer, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::HashSet;

pub const CHAT_UPDATE: &str = "chat-update";
/// An update whose posts have failed for this long is dropped (and logged).
const GIVE_UP_MS: i64 = 24 * 3_600_000;
/// How often a waiting update looks again for the earlier one to be gone.
const WAIT_MS: i64 = 250;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpdateBody {
    pub topic_arn: String,
    pub update: Value,
    /// Targets (`ChatTarget::key`) that have it.
    pub done: Vec<String>,
    pub attempts: i32,
    pub created_ms: i64,
    /// When posting first failed; an update failing for a day is given up.
    #[serde(default)]
    pub first_failure_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// An update in AWS Chatbot's custom notification format.
pub fn notification(
    title: &str,
    description: &str,
    event_type: &str,
    incident_arn: &str,
    page_arn: Option<&str>,
    open: bool,
) -> Value {
    let mut context = json!({ "incidentArn": incident_arn, "incidentOpen": open });
    if let Some(p) = page_arn {
        context["pageArn"] = json!(p);
    }
    json!({
        "version": "1.0",
        "source": "custom",
        "id": uuid::Uuid::now_v7().to_string(),
        "content": { "textType": "client-markdown", "title": title, "description": description },
        "metadata": {
            "threadId": incident_arn,
            "eventType": event_type,
            "additionalContext": context,
        },
    })
}

/// Queues `update` for each topic, inside the caller's transaction.
pub async fn enqueue<E: From<StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    account: &str,
    topics: &[String],
    update: &Value,
    now: i64,
) -> std::result::Result<(), E> {
    for topic in topics {
        // Taken inside the transaction (and time-ordered): updates of one topic sort in the
        // order their transactions got to write, not in the order the requests came in.
        let sort = uuid::Uuid::now_v7().to_string();
        let id = format!("{topic}|{sort}");
        let body = UpdateBody {
            topic_arn: topic.clone(),
            update: update.clone(),
            done: Vec::new(),
            attempts: 0,
            created_ms: now,
            first_failure_ms: None,
            last_error: None,
        };
        tx.insert(&Record {
            kind: CHAT_UPDATE.into(),
            account: account.into(),
            id: id.clone(),
            parent: Some(topic.clone()),
            sort,
            body: serde_json::to_string(&body)?,
            created_ms: now,
            updated_ms: now,
        })
        .await?;
        tx.schedule(&Timer::new(account, T_CHAT, &id, 0, now))
            .await?;
    }
    Ok(())
}

/// Marks SNS messages already taken, so a redelivery is not posted twice (swept with the
/// inbound indexes).
pub const SNS_MESSAGE: &str = "sns-message";

/// Queues an update that arrived as SNS message `message_id`, once however often it arrives.
/// Returns whether it was new.
pub async fn enqueue_once(
    store: &dyn crate::storage::Store,
    account: &str,
    message_id: &str,
    topic: &str,
    update: &Value,
    now: i64,
) -> Result<bool> {
    let mut tx = store.begin().await?;
    let marker = Record {
        kind: SNS_MESSAGE.into(),
        account: super::records::GLOBAL.into(),
        id: message_id.into(),
        parent: Some(topic.into()),
        sort: creation_sort_key(now),
        body: "{}".into(),
        created_ms: now,
        updated_ms: now,
    };
    match tx.insert(&marker).await {
        Err(StoreError::Conflict) => return Ok(false),
        other => other?,
    }
    enqueue::<EngineError>(tx.as_mut(), account, &[topic.to_string()], update, now).await?;
    tx.commit().await?;
    Ok(true)
}

async fn save(tx: &mut dyn Tx, mut rec: Record, body: &UpdateBody, now: i64) -> Result<()> {
    rec.body = serde_json::to_string(body)?;
    rec.updated_ms = now;
    tx.update(&rec).await?;
    Ok(())
}

async fn finish(engine: &Engine, mut tx: Box<dyn Tx>, t: &Timer) -> Result<()> {
    if !tx.finish_timer(&t.id, &engine.node).await? {
        return Err(EngineError::LeaseLost);
    }
    tx.commit().await?;
    Ok(())
}

pub async fn process(engine: &Engine, t: &Timer, now: i64) -> Result<()> {
    // Everything up to the posts only reads, so an update waiting its turn never takes the
    // write lock.
    let mut r = engine.store.read().await?;
    let Some(rec) = r.get(CHAT_UPDATE, &t.account, &t.subject).await? else {
        return finish(engine, engine.store.begin().await?, t).await;
    };
    let mut body: UpdateBody = serde_json::from_str(&rec.body)?;
    let pending: Vec<ChatTarget> = engine
        .delivery
        .chat
        .targets(&body.topic_arn)
        .iter()
        .filter(|target| !body.done.contains(&target.key()))
        .cloned()
        .collect();
    let failing_for = body.first_failure_ms.map(|f| now - f).unwrap_or(0);
    if pending.is_empty() || failing_for > engine.durations.scale_ms(GIVE_UP_MS) {
        if !pending.is_empty() {
            tracing::error!(topic = %body.topic_arn, error = ?body.last_error, "giving up on a chat update after a day of failures");
        }
        let mut tx = engine.store.begin().await?;
        tx.delete(CHAT_UPDATE, &t.account, &rec.id).await?;
        return finish(engine, tx, t).await;
    }
    // In order per channel: an earlier update of the topic that a channel still lacks keeps
    // this one from that channel, and from that channel only.
    let earlier = r
        .list(&ListQuery {
            kind: CHAT_UPDATE.into(),
            account: t.account.clone(),
            parent: Some(body.topic_arn.clone()),
            sort_max: Some(rec.sort.clone()),
            limit: 500,
            ..ListQuery::default()
        })
        .await?;
    drop(r);
    let mut blocked = HashSet::new();
    for e in &earlier {
        if let Ok(b) = serde_json::from_str::<UpdateBody>(&e.body) {
            for target in &pending {
                if !b.done.contains(&target.key()) {
                    blocked.insert(target.key());
                }
            }
        }
    }
    let timeout = std::time::Duration::from_millis(engine.config.send_timeout_ms.max(1) as u64);
    let (mut waiting, mut failed) = (false, false);
    for target in pending {
        let key = target.key();
        if blocked.contains(&key) {
            waiting = true;
            continue;
        }
        let posted =
            match tokio::time::timeout(timeout, engine.delivery.chat.post(&target, &body.update))
                .await
            {
                Ok(r) => r,
                Err(_) => Err(DeliveryError::Temporary("timed out".into())),
            };
        match posted {
            Ok(()) => body.done.push(key),
            Err(DeliveryError::Permanent(e)) => {
                // Retrying cannot help (no such channel, the bot not in it, a bad token): the
                // channel is passed over so the updates behind this one are not held up.
                tracing::error!(topic = %body.topic_arn, target = %key, error = %e, "chat service refused an update; skipped for this channel");
                body.last_error = Some(e);
                body.done.push(key);
            }
            Err(DeliveryError::Temporary(e)) => {
                tracing::warn!(topic = %body.topic_arn, target = %key, error = %e, "chat post failed; will retry");
                body.first_failure_ms.get_or_insert(now);
                body.last_error = Some(e);
                failed = true;
            }
        }
        let mut tx = engine.store.begin().await?;
        if !tx.hold_timer(&t.id, &engine.node).await? {
            return Err(EngineError::LeaseLost);
        }
        save(tx.as_mut(), rec.clone(), &body, now).await?;
        tx.commit().await?;
    }
    if failed {
        body.attempts += 1;
        let mut tx = engine.store.begin().await?;
        if !tx.hold_timer(&t.id, &engine.node).await? {
            return Err(EngineError::LeaseLost);
        }
        save(tx.as_mut(), rec.clone(), &body, now).await?;
        tx.commit().await?;
        let backoff = engine
            .durations
            .scale_ms((1000i64 << body.attempts.clamp(0, 9)).min(300_000));
        return Err(EngineError::Deferred {
            until_ms: now + backoff,
        });
    }
    if waiting {
        return Err(EngineError::Deferred {
            until_ms: now + WAIT_MS,
        });
    }
    let mut tx = engine.store.begin().await?;
    tx.delete(CHAT_UPDATE, &t.account, &rec.id).await?;
    finish(engine, tx, t).await
}
