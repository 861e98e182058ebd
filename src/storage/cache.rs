//! A read-through cache of single records in front of the embedded SQLite store.
//!
//! Why: a `get` through sqlx-sqlite hops from the tokio worker to the connection's own thread
//! and back; under load that hop, not SQL, is most of a read's cost. Single-record reads (Get*
//! of both services, and the lookups inside writes) are the most frequent calls, so they are
//! answered from memory when the record is there.
//!
//! Why it stays correct: the SQLite file belongs to this one process, and every write goes
//! through `begin()`. A transaction notes each key it writes; when it commits, those keys are
//! dropped from the cache before `commit` returns, so any read that starts after a write was
//! answered sees it. A read that misses fetches from the database and keeps the row only if no
//! commit happened meanwhile (a write epoch checked under the cache's lock), so a slow reader
//! can never put back a value that a concurrent commit replaced. Lists always go to the
//! database. PostgreSQL is shared by several nodes and is never cached.

use super::{ListQuery, Reader, Record, Result, Store, Timer, Tx};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Records kept at most; when full the cache starts over (cheap, and rare at this size).
const CAPACITY: usize = 50_000;

fn key(kind: &str, account: &str, id: &str) -> String {
    format!("{kind}\u{0}{account}\u{0}{id}")
}

#[derive(Default)]
struct Cache {
    map: HashMap<String, Record>,
    /// Bumped by every commit that wrote records.
    epoch: u64,
}

pub struct CachedStore<S: Store> {
    inner: Arc<S>,
    cache: Arc<RwLock<Cache>>,
}

impl<S: Store> CachedStore<S> {
    pub fn new(inner: S) -> CachedStore<S> {
        CachedStore {
            inner: Arc::new(inner),
            cache: Arc::new(RwLock::new(Cache::default())),
        }
    }
}

fn lookup(cache: &RwLock<Cache>, k: &str) -> (Option<Record>, u64) {
    let c = cache.read().unwrap_or_else(|p| p.into_inner());
    (c.map.get(k).cloned(), c.epoch)
}

fn remember(cache: &RwLock<Cache>, k: String, r: &Record, seen_epoch: u64) {
    let mut c = cache.write().unwrap_or_else(|p| p.into_inner());
    if c.epoch != seen_epoch {
        return;
    }
    if c.map.len() >= CAPACITY {
        c.map.clear();
    }
    c.map.insert(k, r.clone());
}

/// A read view that touches the database only on a miss or a list.
struct CachedReader<S: Store> {
    store: Arc<S>,
    cache: Arc<RwLock<Cache>>,
    conn: Option<Box<dyn Reader>>,
}

impl<S: Store> CachedReader<S> {
    async fn conn(&mut self) -> Result<&mut Box<dyn Reader>> {
        if self.conn.is_none() {
            self.conn = Some(self.store.read().await?);
        }
        Ok(self.conn.as_mut().expect("just opened"))
    }
}

#[async_trait]
impl<S: Store + 'static> Reader for CachedReader<S> {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
        let k = key(kind, account, id);
        let (hit, epoch) = lookup(&self.cache, &k);
        if hit.is_some() {
            return Ok(hit);
        }
        let found = self.conn().await?.get(kind, account, id).await?;
        if let Some(r) = &found {
            remember(&self.cache, k, r, epoch);
        }
        Ok(found)
    }

    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        self.conn().await?.list(q).await
    }
}

struct Forget {
    cache: Arc<RwLock<Cache>>,
    changes: Vec<Change>,
}

impl Drop for Forget {
    fn drop(&mut self) {
        if self.changes.is_empty() {
            return;
        }
        let mut c = self.cache.write().unwrap_or_else(|p| p.into_inner());
        for change in &self.changes {
            match change {
                Change::Key(k) => {
                    c.map.remove(k);
                }
                Change::All => c.map.clear(),
            }
        }
        c.epoch += 1;
    }
}

enum Change {
    Key(String),
    /// Many records went at once (a whole kind, or a parent's children).
    All,
}

/// A write transaction that forgets the records it wrote from the cache when it commits.
struct CachedTx {
    inner: Box<dyn Tx>,
    cache: Arc<RwLock<Cache>>,
    changes: Vec<Change>,
}

#[async_trait]
impl Reader for CachedTx {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
        // Inside a write the transaction's own view counts (it may hold uncommitted writes).
        self.inner.get(kind, account, id).await
    }
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        self.inner.list(q).await
    }
}

#[async_trait]
impl Tx for CachedTx {
    async fn insert(&mut self, r: &Record) -> Result<()> {
        self.changes
            .push(Change::Key(key(&r.kind, &r.account, &r.id)));
        self.inner.insert(r).await
    }
    async fn update(&mut self, r: &Record) -> Result<bool> {
        self.changes
            .push(Change::Key(key(&r.kind, &r.account, &r.id)));
        self.inner.update(r).await
    }
    async fn delete(&mut self, kind: &str, account: &str, id: &str) -> Result<bool> {
        self.changes.push(Change::Key(key(kind, account, id)));
        self.inner.delete(kind, account, id).await
    }
    async fn delete_children(&mut self, kind: &str, account: &str, parent: &str) -> Result<u64> {
        self.changes.push(Change::All);
        self.inner.delete_children(kind, account, parent).await
    }
    async fn delete_all(&mut self, kind: &str, account: &str) -> Result<u64> {
        self.changes.push(Change::All);
        self.inner.delete_all(kind, account).await
    }
    async fn schedule(&mut self, t: &Timer) -> Result<bool> {
        self.inner.schedule(t).await
    }
    async fn ensure_timer(&mut self, t: &Timer) -> Result<()> {
        self.inner.ensure_timer(t).await
    }
    async fn finish_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        self.inner.finish_timer(id, owner).await
    }
    async fn hold_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        self.inner.hold_timer(id, owner).await
    }
    async fn commit(self: Box<Self>) -> Result<()> {
        let CachedTx {
            inner,
            cache,
            changes,
        } = *self;
        // The keys are forgotten when the guard drops: after the commit, after a failed commit
        // (whether it reached the file is not known for sure), and also when the caller's
        // future is dropped mid-commit while the database finishes it anyway.
        let _forget = Forget { cache, changes };
        inner.commit().await
    }
}

#[async_trait]
impl<S: Store + 'static> Store for CachedStore<S> {
    async fn read(&self) -> Result<Box<dyn Reader>> {
        Ok(Box::new(CachedReader {
            store: self.inner.clone(),
            cache: self.cache.clone(),
            conn: None,
        }))
    }
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(CachedTx {
            inner: self.inner.begin().await?,
            cache: self.cache.clone(),
            changes: Vec::new(),
        }))
    }
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }
    async fn claim_timers(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Timer>> {
        self.inner
            .claim_timers(owner, now_ms, lease_until_ms, limit)
            .await
    }
    async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<u64> {
        self.inner.renew_leases(owner, lease_until_ms).await
    }
    async fn postpone_timer(&self, id: &str, owner: &str, due_ms: i64) -> Result<bool> {
        self.inner.postpone_timer(id, owner, due_ms).await
    }
    async fn release_leases(&self, owner: &str) -> Result<u64> {
        self.inner.release_leases(owner).await
    }
    async fn next_timer_ms(&self) -> Result<Option<i64>> {
        self.inner.next_timer_ms().await
    }
    async fn timer_counts(&self, now_ms: i64) -> Result<super::TimerCounts> {
        self.inner.timer_counts(now_ms).await
    }
    async fn count(&self, kind: &str) -> Result<i64> {
        self.inner.count(kind).await
    }
    async fn listen(&self, wake: Arc<tokio::sync::Notify>) -> Result<()> {
        self.inner.listen(wake).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(body: &str) -> Record {
        Record {
            kind: "k".into(),
            account: "a".into(),
            id: "i".into(),
            parent: None,
            sort: String::new(),
            body: body.into(),
            created_ms: 0,
            updated_ms: 0,
        }
    }

    fn invalidate(cache: &RwLock<Cache>, k: &str) {
        let mut c = cache.write().unwrap();
        c.map.remove(k);
        c.epoch += 1;
    }

    #[test]
    fn a_read_that_raced_a_commit_does_not_refill_the_cache() {
        let cache = RwLock::new(Cache::default());
        let k = key("k", "a", "i");
        // A reader misses and goes to the database, which still has the old row...
        let (hit, seen) = lookup(&cache, &k);
        assert!(hit.is_none());
        // ...a writer commits a new value and forgets the key...
        invalidate(&cache, &k);
        // ...and the reader's late refill with the old row is refused.
        remember(&cache, k.clone(), &rec("old"), seen);
        assert!(lookup(&cache, &k).0.is_none());
        // A read that started after the commit fills it.
        let (_, seen) = lookup(&cache, &k);
        remember(&cache, k.clone(), &rec("new"), seen);
        assert_eq!(lookup(&cache, &k).0.unwrap().body, "new");
    }
}
