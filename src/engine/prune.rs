//! The inbound indexes (what was sent to a number or address, provider message ids, email reply
//! tokens, SNS message ids already taken) let a reply find its page. A reply weeks later has nothing left to acknowledge, so a
//! sweep deletes entries older than `[engine] inbound_index_days`. The sweep is one durable
//! timer that re-arms itself in the transaction that finishes it: on several nodes it runs on
//! one of them at a time, and a crash mid-sweep only means the next claim sweeps again.

use super::Engine;
use super::error::{EngineError, Result};
use super::records::{GLOBAL, PROVIDER_MESSAGE, REPLY_TOKEN, SENT_TO, T_PRUNE};
use crate::storage::{ListQuery, Store, Timer};

const SUBJECT: &str = "inbound-indexes";
/// Nominal seconds between sweeps.
const EVERY_SECS: i64 = 3600;
/// Deletions per transaction, so one sweep never holds the writer for long.
const BATCH: i64 = 500;

fn timer(due_ms: i64) -> Timer {
    Timer::new(GLOBAL, T_PRUNE, SUBJECT, 0, due_ms)
}

/// Makes sure a sweep is scheduled; does nothing when one already is (the timer id is fixed).
pub async fn arm(store: &dyn Store, now_ms: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    tx.schedule(&timer(now_ms)).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn process(engine: &Engine, t: &Timer, now: i64) -> Result<()> {
    let keep_ms = engine
        .durations
        .scaled_ms(engine.config.inbound_index_days.max(1) * 86_400);
    let cutoff = format!("{:016}", (now - keep_ms).max(0));
    let mut removed = 0u64;
    for kind in [
        SENT_TO,
        PROVIDER_MESSAGE,
        REPLY_TOKEN,
        super::chat::SNS_MESSAGE,
    ] {
        loop {
            let mut tx = engine.store.begin().await?;
            let old = tx
                .list(&ListQuery {
                    kind: kind.into(),
                    account: GLOBAL.into(),
                    sort_max: Some(cutoff.clone()),
                    limit: BATCH,
                    ..ListQuery::default()
                })
                .await?;
            for r in &old {
                tx.delete(kind, GLOBAL, &r.id).await?;
            }
            if !tx.hold_timer(&t.id, &engine.node).await? {
                return Err(EngineError::LeaseLost);
            }
            tx.commit().await?;
            removed += old.len() as u64;
            if (old.len() as i64) < BATCH {
                break;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "swept old entries of the inbound indexes");
    }
    let mut tx = engine.store.begin().await?;
    if !tx.finish_timer(&t.id, &engine.node).await? {
        return Err(EngineError::LeaseLost);
    }
    tx.schedule(&timer(now + engine.durations.scaled_ms(EVERY_SECS)))
        .await?;
    tx.commit().await?;
    Ok(())
}
