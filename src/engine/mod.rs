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

pub mod bundle;
pub mod chat;
pub mod engagement;
pub mod error;
pub mod message;
pub mod outbox;
pub mod page;
pub mod prune;
pub mod records;

use crate::config::EngineConfig;
use crate::delivery::Registry;
use crate::domain::clock::{Clock, Durations};
use crate::metrics::Metrics;
use crate::storage::{Store, Timer};
use error::{EngineError, Result};
use records::{T_BUNDLE, T_CHAT, T_PAGE_STAGE, T_PRUNE, T_SEND, T_STAGE};
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
    /// Recent send times per contact channel, for the per-channel rate limit (per node).
    recent_sends: std::sync::Mutex<std::collections::HashMap<String, Vec<i64>>>,
    /// When the loop last went round having claimed (or had no room to claim); `/readyz` asks.
    loop_seen_ms: std::sync::atomic::AtomicI64,
}

type Joined = std::result::Result<(tokio::task::Id, Result<()>), tokio::task::JoinError>;

/// Steps under way, with the timer each task is running.
#[derive(Default)]
struct InFlight {
    tasks: tokio::task::JoinSet<Result<()>>,
    timers: std::collections::HashMap<tokio::task::Id, Timer>,
}

impl InFlight {
    fn spawn(&mut self, engine: &Arc<Engine>, t: Timer, now: i64) {
        let (engine, timer) = (engine.clone(), t.clone());
        let handle = self
            .tasks
            .spawn(async move { engine.process(&timer, now).await });
        self.timers.insert(handle.id(), t);
    }
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
            recent_sends: Default::default(),
            loop_seen_ms: std::sync::atomic::AtomicI64::new(i64::MIN),
        })
    }

    /// Why the background loop is not claiming timers, if it is not: never started, stopped,
    /// or no successful claim for longer than a few of its polls.
    pub fn not_claiming(&self) -> Option<String> {
        let seen = self.loop_seen_ms.load(std::sync::atomic::Ordering::Relaxed);
        if seen == i64::MIN {
            return Some("the engine has not claimed timers yet".into());
        }
        let quiet = self.clock.now_ms() - seen;
        let limit = (3 * self.config.poll_ms).max(10_000);
        (quiet > limit).then(|| {
            format!(
                "the engine has not claimed timers for {} ms (the database may be failing)",
                quiet
            )
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
            self.metrics.timers_claimed(batch.len() as u64);
            let mut flight = InFlight::default();
            for t in batch {
                flight.spawn(self, t, now);
            }
            while let Some(joined) = flight.tasks.join_next_with_id().await {
                self.settle(&mut flight, joined, now, &mut report).await;
            }
        }
    }

    /// Books a finished step: counts it, and gives a failed step's timer back for later.
    async fn settle(
        &self,
        flight: &mut InFlight,
        joined: Joined,
        now: i64,
        report: &mut TickReport,
    ) {
        let (id, outcome) = match joined {
            Ok((id, outcome)) => (id, outcome),
            Err(e) => {
                tracing::error!(error = %e, "engine task panicked");
                (e.id(), Err(EngineError::Panicked))
            }
        };
        match (flight.timers.remove(&id), outcome) {
            (_, Ok(())) => report.processed += 1,
            (Some(t), Err(e)) => {
                report.failed += 1;
                self.failed(&t, &e, now).await;
            }
            (None, Err(_)) => report.failed += 1,
        }
    }

    /// The rate limit's window: a minute, shortened by the time scale like every engine duration.
    pub fn send_window_ms(&self) -> i64 {
        self.durations.scale_ms(60_000)
    }

    /// Takes a send slot for the channel at `now`, or says when one frees up. A slot whose
    /// message the provider did not accept is given back with `release_send_slot`: only
    /// accepted messages count against the limit.
    pub fn take_send_slot(&self, channel: &str, now: i64) -> std::result::Result<(), i64> {
        let max = self.config.max_sends_per_channel_per_minute as usize;
        if max == 0 {
            return Ok(());
        }
        let window = self.send_window_ms();
        let Ok(mut recent) = self.recent_sends.lock() else {
            return Ok(());
        };
        // Forget channels that have been quiet for a window, so the map stays small.
        recent.retain(|_, times| times.iter().max().is_some_and(|t| *t > now - window));
        let times = recent.entry(channel.to_string()).or_default();
        times.retain(|t| *t > now - window);
        if times.len() >= max {
            let oldest = times.iter().min().copied().unwrap_or(now);
            return Err(oldest + window);
        }
        times.push(now);
        Ok(())
    }

    /// Gives back the slot taken at `taken_ms` for a message the provider did not accept.
    pub fn release_send_slot(&self, channel: &str, taken_ms: i64) {
        if self.config.max_sends_per_channel_per_minute == 0 {
            return;
        }
        if let Ok(mut recent) = self.recent_sends.lock()
            && let Some(times) = recent.get_mut(channel)
            && let Some(i) = times.iter().position(|t| *t == taken_ms)
        {
            times.swap_remove(i);
        }
    }

    /// How long to wait before the `n`th (1-based) later try of a send the provider failed
    /// for now: doubling from `provider_backoff_ms` past the quick tries, capped, scaled.
    pub fn provider_backoff_ms(&self, n: i32) -> i64 {
        let c = &self.config;
        let shift = (c.provider_retries as i64 + n.max(1) as i64).clamp(0, 30);
        let base = c.provider_backoff_ms.max(1);
        let wait = base
            .checked_shl(shift as u32)
            .unwrap_or(i64::MAX)
            .min(c.provider_backoff_max_ms);
        self.durations.scale_ms(wait)
    }

    async fn failed(&self, t: &Timer, e: &EngineError, now: i64) {
        if matches!(e, EngineError::LeaseLost) {
            tracing::warn!(timer = %t.id, "another node took this timer over");
            return;
        }
        if let EngineError::RateLimited { until_ms } | EngineError::Deferred { until_ms } = e {
            tracing::debug!(timer = %t.id, until_ms, "step held back: {e}");
            if let Err(e) = self
                .store
                .postpone_timer(&t.id, &self.node, *until_ms)
                .await
            {
                tracing::error!(timer = %t.id, error = %e, "cannot postpone the held-back send");
            }
            return;
        }
        let backoff = self
            .durations
            .scale_ms((1000i64 << t.claims.clamp(0, 6)).min(60_000));
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
            T_PRUNE => prune::process(self, t, now).await,
            T_CHAT => chat::process(self, t, now).await,
            T_BUNDLE => bundle::process(self, t, now).await,
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
        if let Err(e) = prune::arm(self.store.as_ref(), self.clock.now_ms()).await {
            tracing::warn!(error = %e, "cannot arm the sweep of the inbound indexes");
        }
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
        // Steps run side by side, up to `batch` at once; a slow send holds one slot, not the
        // claiming of everything else that falls due meanwhile.
        let mut flight = InFlight::default();
        let mut report = TickReport::default();
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = self.clock.now_ms();
            let room = self.config.batch - flight.timers.len() as i64;
            let mut claimed = 0;
            if room > 0 {
                let lease_until = now + self.config.lease_ms;
                match self
                    .store
                    .claim_timers(&self.node, now, lease_until, room)
                    .await
                {
                    Ok(batch) => {
                        claimed = batch.len() as i64;
                        self.metrics.timers_claimed(batch.len() as u64);
                        self.loop_seen_ms
                            .store(self.clock.now_ms(), std::sync::atomic::Ordering::Relaxed);
                        for t in batch {
                            flight.spawn(&self, t, now);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot claim timers"),
                }
            } else {
                self.loop_seen_ms
                    .store(now, std::sync::atomic::Ordering::Relaxed);
            }
            while let Some(joined) = flight.tasks.try_join_next_with_id() {
                self.settle(&mut flight, joined, now, &mut report).await;
            }
            if claimed > 0 && claimed == room {
                // A full claim: more may be due already.
                continue;
            }
            let wait = if room <= 0 {
                // Every slot is busy: only a finishing step (or shutdown) makes room.
                self.config.poll_ms
            } else {
                let next = self.store.next_timer_ms().await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "cannot read the next timer");
                    None
                });
                let now = self.clock.now_ms();
                match next {
                    // Due but not claimable now (a database hiccup, or a lease of ours that
                    // ran out while its step still runs): look again shortly, not in a spin.
                    Some(due) if due <= now && claimed == 0 => 50,
                    Some(due) => (due - now).clamp(0, self.config.poll_ms),
                    None => self.config.poll_ms,
                }
            };
            let sleep = tokio::time::sleep(std::time::Duration::from_millis(wait as u64));
            tokio::select! {
                _ = sleep, if room > 0 => {}
                _ = self.wake.notified(), if room > 0 => {}
                _ = shutdown.changed() => {}
                Some(joined) = flight.tasks.join_next_with_id(), if !flight.timers.is_empty() => {
                    self.settle(&mut flight, joined, self.clock.now_ms(), &mut report).await;
                }
            }
        }
        // Let the steps under way finish (sends are bounded by send_timeout_ms), then give back
        // whatever is still leased.
        while let Some(joined) = flight.tasks.join_next_with_id().await {
            self.settle(&mut flight, joined, self.clock.now_ms(), &mut report)
                .await;
        }
        self.release_leases().await;
        self.loop_seen_ms
            .store(i64::MIN, std::sync::atomic::Ordering::Relaxed);
    }

    /// Gives back every lease this node holds, so another node or the next start takes the
    /// work at once instead of after the lease runs out.
    pub async fn release_leases(&self) {
        match self.store.release_leases(&self.node).await {
            Ok(n) if n > 0 => tracing::info!(released = n, "gave back timer leases"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot release timer leases at shutdown"),
        }
    }
}
