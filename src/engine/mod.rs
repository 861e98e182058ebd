//! The engagement engine: it runs the timers the store holds. Nothing here polls on a fixed
//! tick: the loop sleeps until the earliest timer (or lease expiry) or until it is woken by new
//! work — from this process, or from another node through the store's notifications — with a
//! bounded fallback poll in case a notification is lost.
//!
//! Several nodes may share one database: each claims due timers under a lease it keeps
//! renewing while it works; a node that dies stops renewing and its work is claimed by the
//! others once the lease runs out. Every state change is applied in a transaction that also
//! deletes the timer while still holding its lease, so a step is applied once. The outbox
//! (`outbox.rs`) documents the one place where a crash can repeat an outward effect.

pub mod engagement;
pub mod error;
pub mod message;
pub mod outbox;
pub mod page;
pub mod records;

use crate::config::EngineConfig;
use crate::delivery::Registry;
use crate::domain::clock::{Clock, Durations};
use crate::metrics::Metrics;
use crate::storage::{Store, Timer};
use error::{EngineError, Result};
use records::{T_PAGE_STAGE, T_SEND, T_STAGE};
use std::sync::Arc;
use tokio::sync::Notify;

/// Ends the lease renewer with the loop that owns it, also when the loop is aborted: a node
/// whose loop is gone must stop claiming to be alive.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct Engine {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub delivery: Registry,
    pub durations: Durations,
    pub metrics: Arc<Metrics>,
    pub config: EngineConfig,
    /// This node's name in timer leases.
    pub node: String,
    wake: Arc<Notify>,
}

/// What one `tick` did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TickReport {
    pub processed: usize,
    pub failed: usize,
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        delivery: Registry,
        durations: Durations,
        metrics: Arc<Metrics>,
        config: EngineConfig,
        wake: Arc<Notify>,
    ) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            clock,
            delivery,
            durations,
            metrics,
            config,
            node: format!("node-{}", uuid::Uuid::new_v4()),
            wake,
        })
    }

    /// Tells the loop that new work may be due.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Runs every timer due at `now` (and any work that running them makes due at `now`), then
    /// returns. Deterministic for a given store and `now`: tests step time with it.
    pub async fn tick(self: &Arc<Self>, now: i64) -> Result<TickReport> {
        let mut report = TickReport::default();
        loop {
            let lease_until = now + self.config.lease_ms;
            let batch = self
                .store
                .claim_timers(&self.node, now, lease_until, self.config.batch)
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
            let mut tasks = tokio::task::JoinSet::new();
            let mut running = std::collections::HashMap::new();
            for t in batch {
                let engine = self.clone();
                let timer = t.clone();
                let handle = tasks.spawn(async move { engine.process(&timer, now).await });
                running.insert(handle.id(), t);
            }
            while let Some(joined) = tasks.join_next_with_id().await {
                let (id, outcome) = match joined {
                    Ok((id, outcome)) => (id, outcome),
                    Err(e) => {
                        tracing::error!(error = %e, "engine task panicked");
                        (e.id(), Err(EngineError::Panicked))
                    }
                };
                match (running.remove(&id), outcome) {
                    (_, Ok(())) => report.processed += 1,
                    (Some(t), Err(e)) => {
                        report.failed += 1;
                        self.failed(&t, &e, now).await;
                    }
                    (None, Err(_)) => report.failed += 1,
                }
            }
        }
    }

    async fn failed(&self, t: &Timer, e: &EngineError, now: i64) {
        if matches!(e, EngineError::LeaseLost) {
            tracing::warn!(timer = %t.id, "another node took this timer over");
            return;
        }
        let backoff = (1000i64 << t.claims.clamp(0, 6)).min(60_000);
        tracing::error!(timer = %t.id, error = %e, retry_in_ms = backoff, "engine step failed; will retry");
        if let Err(e) = self
            .store
            .postpone_timer(&t.id, &self.node, now + backoff)
            .await
        {
            tracing::error!(timer = %t.id, error = %e, "cannot postpone the failed step; its lease will expire");
        }
    }

    async fn process(&self, t: &Timer, now: i64) -> Result<()> {
        let now = now.max(self.clock.now_ms());
        self.metrics.timer_lateness(now - t.due_ms);
        match t.kind.as_str() {
            T_SEND => outbox::process(self, t, now).await,
            T_STAGE | T_PAGE_STAGE => self.process_stage(t, now).await,
            other => {
                tracing::error!(timer = %t.id, kind = other, "unknown timer kind; dropped");
                let mut tx = self.store.begin().await?;
                tx.finish_timer(&t.id, &self.node).await?;
                tx.commit().await?;
                Ok(())
            }
        }
    }

    /// The next stage of an escalation plan, or of a contact's own plan within its page.
    async fn process_stage(&self, t: &Timer, now: i64) -> Result<()> {
        let mut tx = self.store.begin().await?;
        let idx = t.step.max(0) as usize;
        if t.kind == T_STAGE {
            match engagement::load(tx.as_mut(), &t.account, &t.subject).await {
                Ok((mut rec, mut eng)) => {
                    engagement::run_stage(
                        tx.as_mut(),
                        &t.account,
                        &t.subject,
                        &mut eng,
                        idx,
                        now,
                        self.durations,
                    )
                    .await?;
                    records::save(tx.as_mut(), &mut rec, &eng, now).await?;
                }
                Err(EngineError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        } else {
            match page::load(tx.as_mut(), &t.account, &t.subject).await {
                Ok((mut rec, mut p)) => {
                    page::run_stage(
                        tx.as_mut(),
                        &t.account,
                        &t.subject,
                        &mut p,
                        idx,
                        now,
                        self.durations,
                    )
                    .await?;
                    page::save(tx.as_mut(), &mut rec, &p, now).await?;
                }
                Err(EngineError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !tx.finish_timer(&t.id, &self.node).await? {
            return Err(EngineError::LeaseLost);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The background loop: tick, then sleep until the next timer, a wake-up, or the fallback
    /// poll, whichever is first. Leases are renewed alongside; on shutdown they are given back.
    pub async fn run(self: Arc<Self>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        if let Err(e) = self.store.listen(self.wake.clone()).await {
            tracing::warn!(error = %e, "no cross-node notifications; relying on the fallback poll");
        }
        let _renewer = AbortOnDrop({
            let engine = self.clone();
            tokio::spawn(async move {
                let every =
                    std::time::Duration::from_millis((engine.config.lease_ms / 3).max(1) as u64);
                loop {
                    tokio::time::sleep(every).await;
                    let until = engine.clock.now_ms() + engine.config.lease_ms;
                    if let Err(e) = engine.store.renew_leases(&engine.node, until).await {
                        tracing::warn!(error = %e, "cannot renew timer leases");
                    }
                }
            })
        });
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = self.clock.now_ms();
            let idle = match self.tick(now).await {
                Ok(r) => r.processed + r.failed == 0,
                Err(e) => {
                    tracing::warn!(error = %e, "engine tick failed");
                    true
                }
            };
            let next = self.store.next_timer_ms().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the next timer");
                None
            });
            let now = self.clock.now_ms();
            let mut wait = match next {
                Some(due) => (due - now).clamp(0, self.config.poll_ms),
                None => self.config.poll_ms,
            };
            // Due work that could not be claimed (a database hiccup): back off a little.
            if idle && wait == 0 {
                wait = 50;
            }
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_millis(wait as u64)) => {}
                _ = self.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        if let Err(e) = self.store.release_leases(&self.node).await {
            tracing::warn!(error = %e, "cannot release timer leases at shutdown");
        }
    }
}
