//! Incident updates on their way to chat, through the same durable timers as pages. An update
//! is one record per SNS topic, written in the transaction that made the change it reports, so
//! it is neither lost nor invented. The engine posts it to every Slack and Discord channel the
//! topic maps to, remembering after each post where it has gone, so a retry after a chat outage
//! skips the channels that already have it; only a crash between a post and that note can
//! repeat one post, as with an SMS in flight. Updates of one topic go out in the order they were
//! made: an update waits while an earlier one of its topic is still pending.
//!
//! An update is an AWS Chatbot custom notification (`version` 1.0, `source` custom), the same
//! shape that arrives from AWS on `/hooks/sns`, so one renderer serves both.

use super::Engine;
use super::error::{EngineError, Result};
use super::records::T_CHAT;
use crate::domain::arn::creation_sort_key;
use crate::storage::{ListQuery, Record, StoreError, Timer, Tx};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

pub const CHAT_UPDATE: &str = "chat-update";
/// An update that could not be posted for this long is dropped (and logged).
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
        let sort = creation_sort_key(now);
        let id = format!("{topic}|{sort}");
        let body = UpdateBody {
            topic_arn: topic.clone(),
            update: update.clone(),
            done: Vec::new(),
            attempts: 0,
            created_ms: now,
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
    let mut tx = engine.store.begin().await?;
    let Some(rec) = tx.get(CHAT_UPDATE, &t.account, &t.subject).await? else {
        return finish(engine, tx, t).await;
    };
    let mut body: UpdateBody = serde_json::from_str(&rec.body)?;
    let first = tx
        .list(&ListQuery {
            kind: CHAT_UPDATE.into(),
            account: t.account.clone(),
            parent: Some(body.topic_arn.clone()),
            limit: 1,
            ..ListQuery::default()
        })
        .await?;
    if first.first().is_some_and(|f| f.id != rec.id) {
        return Err(EngineError::Deferred {
            until_ms: now + WAIT_MS,
        });
    }
    let targets = engine.delivery.chat.targets(&body.topic_arn).to_vec();
    if targets.is_empty() || now - body.created_ms > GIVE_UP_MS {
        if !targets.is_empty() {
            tracing::error!(topic = %body.topic_arn, error = ?body.last_error, "giving up on a chat update after a day of failures");
        }
        tx.delete(CHAT_UPDATE, &t.account, &rec.id).await?;
        return finish(engine, tx, t).await;
    }
    drop(tx);
    let timeout = std::time::Duration::from_millis(engine.config.send_timeout_ms.max(1) as u64);
    // A channel that is down does not keep the update from the others; the next update of the
    // topic waits until this one has reached them all.
    let mut failed = false;
    for target in targets {
        let key = target.key();
        if body.done.contains(&key) {
            continue;
        }
        let posted =
            tokio::time::timeout(timeout, engine.delivery.chat.post(&target, &body.update))
                .await
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r.map_err(|e| e.to_string()));
        let mut tx = engine.store.begin().await?;
        if !tx.hold_timer(&t.id, &engine.node).await? {
            return Err(EngineError::LeaseLost);
        }
        match posted {
            Ok(()) => {
                body.done.push(key);
                save(tx.as_mut(), rec.clone(), &body, now).await?;
                tx.commit().await?;
            }
            Err(e) => {
                tracing::warn!(topic = %body.topic_arn, target = %key, error = %e, "chat post failed; will retry");
                body.last_error = Some(e);
                save(tx.as_mut(), rec.clone(), &body, now).await?;
                tx.commit().await?;
                failed = true;
            }
        }
    }
    if failed {
        body.attempts += 1;
        let mut tx = engine.store.begin().await?;
        if !tx.hold_timer(&t.id, &engine.node).await? {
            return Err(EngineError::LeaseLost);
        }
        save(tx.as_mut(), rec.clone(), &body, now).await?;
        tx.commit().await?;
        let backoff = (1000i64 << body.attempts.clamp(0, 9)).min(300_000);
        return Err(EngineError::Deferred {
            until_ms: now + backoff,
        });
    }
    let mut tx = engine.store.begin().await?;
    tx.delete(CHAT_UPDATE, &t.account, &rec.id).await?;
    finish(engine, tx, t).await
}
