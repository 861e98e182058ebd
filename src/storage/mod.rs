//! Durable state behind one trait, with an SQLite (embedded default) and a PostgreSQL backend.
//!
//! Resources are records: a kind, the owning account (the tenant), an id, an optional parent
//! (the owning contact, or the region for top-level resources), a sort key for stable keyset
//! pagination, and a JSON body the handlers own. Every mutating request runs in one `Tx`.

pub mod cache;
pub mod conformance;
pub mod migrations;
pub mod postgres;
mod sql;
pub mod sqlite;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with the same (kind, account, id) already exists.
    #[error("record already exists")]
    Conflict,
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// An error from the SQLite write connection (driven through libsqlite3 directly).
    #[error("sqlite error {code}: {message}")]
    Sqlite { code: i32, message: String },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("unsupported database url: {0}")]
    Url(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> StoreError {
        count_error();
        StoreError::Database(e)
    }
}

/// Storage errors since the process started (`klaxon_database_errors_total`): failures of the
/// database itself, not a record that already exists.
static DATABASE_ERRORS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub(crate) fn count_error() {
    DATABASE_ERRORS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

pub fn database_errors() -> u64 {
    DATABASE_ERRORS.load(std::sync::atomic::Ordering::Relaxed)
}

pub type Result<T> = std::result::Result<T, StoreError>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub kind: String,
    pub account: String,
    pub id: String,
    pub parent: Option<String>,
    pub sort: String,
    pub body: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// One page of a keyset scan over a kind in an account, ordered by (sort, id).
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub kind: String,
    pub account: String,
    pub parent: Option<String>,
    /// Only records whose sort key starts with this.
    pub sort_prefix: Option<String>,
    /// Only records whose sort key is at least this.
    pub sort_min: Option<String>,
    /// Only records whose sort key is below this.
    pub sort_max: Option<String>,
    /// Resume strictly after this (sort, id) in the scan's direction.
    pub after: Option<(String, String)>,
    /// Newest-first lists scan (sort, id) from the top down.
    pub descending: bool,
    pub limit: i64,
}

/// The SELECT a ListQuery stands for, with `placeholder(n)` spelling the n-th bind
/// (`?n` in SQLite, `$n` in Postgres); binds are returned in order, the limit last.
pub(crate) fn list_sql(
    columns: &str,
    q: &ListQuery,
    placeholder: fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut binds: Vec<String> = vec![q.kind.clone(), q.account.clone()];
    let mut sql = format!(
        "SELECT {columns} FROM records WHERE kind = {} AND account = {}",
        placeholder(1),
        placeholder(2)
    );
    let mut push = |sql: &mut String, clause: &str, values: Vec<String>| {
        let mut clause = clause.to_string();
        for v in values {
            binds.push(v);
            clause = clause.replacen("{}", &placeholder(binds.len()), 1);
        }
        sql.push_str(&clause);
    };
    if let Some(p) = &q.parent {
        push(&mut sql, " AND parent = {}", vec![p.clone()]);
    }
    if let Some(p) = q.sort_prefix.as_ref().filter(|p| !p.is_empty()) {
        push(
            &mut sql,
            " AND sort >= {} AND sort < {}",
            vec![p.clone(), prefix_end(p)],
        );
    }
    if let Some(m) = &q.sort_min {
        push(&mut sql, " AND sort >= {}", vec![m.clone()]);
    }
    if let Some(m) = &q.sort_max {
        push(&mut sql, " AND sort < {}", vec![m.clone()]);
    }
    let (cmp, order) = if q.descending {
        ("<", "ORDER BY sort DESC, id DESC")
    } else {
        (">", "ORDER BY sort, id")
    };
    if let Some((s, i)) = &q.after {
        push(
            &mut sql,
            &format!(" AND (sort, id) {cmp} ({{}}, {{}})"),
            vec![s.clone(), i.clone()],
        );
    }
    sql.push_str(&format!(" {order} LIMIT {}", placeholder(binds.len() + 1)));
    (sql, binds)
}

/// A piece of engine work due at `due_ms`. Ids are derived from what the work is, so the same
/// step can never be scheduled twice; a node claims due timers under a lease, and the
/// transaction that applies the work deletes the timer only while it still holds the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub id: String,
    pub account: String,
    pub kind: String,
    pub subject: String,
    pub step: i64,
    pub due_ms: i64,
    /// How often the timer has been claimed, this claim included.
    pub claims: i64,
}

impl Timer {
    pub fn new(account: &str, kind: &str, subject: &str, step: i64, due_ms: i64) -> Timer {
        Timer {
            id: format!("{kind}|{subject}|{step}"),
            account: account.to_string(),
            kind: kind.to_string(),
            subject: subject.to_string(),
            step,
            due_ms,
            claims: 0,
        }
    }
}

#[async_trait]
pub trait Reader: Send {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>>;
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>>;
}

/// A write transaction: nothing is visible to others until `commit`; dropping it rolls back.
#[async_trait]
pub trait Tx: Reader {
    async fn insert(&mut self, r: &Record) -> Result<()>;
    /// Inserts a record whose id was just made, so it cannot exist yet. A backend may hold the
    /// row back and send it with the transaction's next statement (PostgreSQL sends the rows
    /// held back together, in one round trip); a conflict is then reported by that statement
    /// or by `commit`, never lost.
    async fn insert_new(&mut self, r: &Record) -> Result<()> {
        self.insert(r).await
    }
    /// Replaces body, parent, sort and updated time; false when the record does not exist.
    async fn update(&mut self, r: &Record) -> Result<bool>;
    async fn delete(&mut self, kind: &str, account: &str, id: &str) -> Result<bool>;
    async fn delete_children(&mut self, kind: &str, account: &str, parent: &str) -> Result<u64>;
    /// Removes every record of a kind in an account.
    async fn delete_all(&mut self, kind: &str, account: &str) -> Result<u64>;
    /// Adds a timer; false when one with the same id exists (the step is already scheduled).
    async fn schedule(&mut self, t: &Timer) -> Result<bool>;
    /// Schedules `t`, or, when a timer with its id exists, keeps that one and locks it until
    /// this transaction ends: a step finishing that timer meanwhile either sees this
    /// transaction's writes or leaves the timer to be scheduled anew.
    async fn ensure_timer(&mut self, t: &Timer) -> Result<()>;
    /// Deletes a claimed timer; false when `owner` no longer holds its lease, in which case
    /// the caller must roll back: another node has taken the work over.
    async fn finish_timer(&mut self, id: &str, owner: &str) -> Result<bool>;
    /// Whether `owner` still holds the timer's lease; on Postgres the row stays locked until
    /// the transaction ends, so no other node can claim it meanwhile.
    async fn hold_timer(&mut self, id: &str, owner: &str) -> Result<bool>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

#[async_trait]
pub trait Store: Send + Sync {
    /// A consistent read view for one request.
    async fn read(&self) -> Result<Box<dyn Reader>>;
    async fn begin(&self) -> Result<Box<dyn Tx>>;
    async fn ping(&self) -> Result<()>;
    fn backend(&self) -> &'static str;

    /// Leases up to `limit` due timers whose lease is free or expired to `owner`, oldest first.
    async fn claim_timers(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Timer>>;
    /// Extends every lease `owner` holds; a live node calls this well within the lease.
    async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<u64>;
    /// Gives a claimed timer back to be tried again at `due_ms` (after a failure).
    async fn postpone_timer(&self, id: &str, owner: &str, due_ms: i64) -> Result<bool>;
    /// Gives back every lease `owner` holds, so other nodes can take the work at once.
    async fn release_leases(&self, owner: &str) -> Result<u64>;
    /// When the engine next has something to look at: the earliest free timer's due time or
    /// the earliest lease expiry, whichever comes first.
    async fn next_timer_ms(&self) -> Result<Option<i64>>;
    async fn timer_counts(&self, now_ms: i64) -> Result<TimerCounts>;
    /// Records of a kind across all accounts.
    async fn count(&self, kind: &str) -> Result<i64>;
    /// Forwards other nodes' "new work" signals to `wake`; a single-node store has none.
    async fn listen(&self, wake: std::sync::Arc<tokio::sync::Notify>) -> Result<()> {
        let _ = wake;
        Ok(())
    }
}

/// The timers waiting, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerCounts {
    pub all: i64,
    /// Due at the time asked about and not yet finished.
    pub due: i64,
    /// The earliest due time among those.
    pub oldest_due_ms: Option<i64>,
}

/// Every record a query matches, read in batches of `q.limit` (for sets bounded by quotas or by
/// one engagement, never for a user-facing list: those page).
pub async fn list_all(r: &mut dyn Reader, mut q: ListQuery) -> Result<Vec<Record>> {
    if q.limit <= 0 {
        q.limit = 500;
    }
    let mut out = Vec::new();
    loop {
        let batch = r.list(&q).await?;
        let full = batch.len() as i64 == q.limit;
        if let Some(last) = batch.last() {
            q.after = Some((last.sort.clone(), last.id.clone()));
        }
        out.extend(batch);
        if !full {
            return Ok(out);
        }
    }
}

/// Inserts the record, or replaces it when one with the same id exists.
pub async fn upsert(tx: &mut dyn Tx, r: &Record) -> Result<()> {
    match tx.insert(r).await {
        Err(StoreError::Conflict) => tx.update(r).await.map(|_| ()),
        other => other,
    }
}

/// Opens the store a URL names: `sqlite://PATH` or `postgres://…`; migrations run before it returns.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        // The SQLite file is this process's alone, so single-record reads can be cached
        // coherently (cache.rs); PostgreSQL is shared by nodes and is read every time.
        Ok(std::sync::Arc::new(cache::CachedStore::new(
            sqlite::SqliteStore::open(std::path::Path::new(path)).await?,
        )))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(std::sync::Arc::new(
            postgres::PostgresStore::open(url).await?,
        ))
    } else {
        Err(StoreError::Url(redact_url(url)))
    }
}

/// What opening the database at `url` would migrate, read without changing it (and refused,
/// like a start, when a newer Klaxon wrote it).
pub async fn migration_plan(url: &str) -> Result<migrations::Plan> {
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = std::path::Path::new(path);
        if !path.exists() {
            return migrations::Plan::new(migrations::SQLITE, &[]);
        }
        sqlite::plan(path, migrations::SQLITE).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::plan(url).await
    } else {
        Err(StoreError::Url(redact_url(url)))
    }
}

/// A database URL with any password removed, safe to log or return.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{user}:***@{}", &url[..s], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// The smallest string greater than every string with this prefix, for range scans.
pub(crate) fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
    }
}
