//! SQLite backend: one file in WAL mode. Writes go through a single connection with
//! `BEGIN IMMEDIATE`, so concurrent requests queue instead of failing with SQLITE_BUSY;
//! reads use a separate pool and never wait for writers.

use super::{
    ListQuery, Reader, Record, Result, Store, StoreError, Timer, Tx, list_sql, migrations,
};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, Sqlite, SqliteConnection, SqlitePool, Transaction};
use std::path::Path;
use std::time::Duration;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Migration(format!("{}: {e}", dir.display())))?;
        }
        let opts = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        migrate(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(opts.read_only(true))
            .await?;
        Ok(SqliteStore { writer, reader })
    }
}

async fn migrate(pool: &SqlitePool) -> Result<()> {
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)")
        .execute(&mut *tx)
        .await?;
    for (version, sql) in migrations::SQLITE {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT version FROM schema_migrations WHERE version = ?1")
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        if done.is_some() {
            continue;
        }
        for stmt in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            sqlx::query(AssertSqlSafe(stmt.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migration(format!("version {version}: {e}")))?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)")
            .bind(version)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

const COLUMNS: &str = "kind, account, id, parent, sort, body, created_ms, updated_ms";

fn row(r: &SqliteRow) -> Result<Record> {
    Ok(Record {
        kind: r.try_get("kind")?,
        account: r.try_get("account")?,
        id: r.try_get("id")?,
        parent: r.try_get("parent")?,
        sort: r.try_get("sort")?,
        body: r.try_get("body")?,
        created_ms: r.try_get("created_ms")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

async fn get(
    c: &mut SqliteConnection,
    kind: &str,
    account: &str,
    id: &str,
) -> Result<Option<Record>> {
    let r = sqlx::query("SELECT kind, account, id, parent, sort, body, created_ms, updated_ms FROM records WHERE kind = ?1 AND account = ?2 AND id = ?3")
        .bind(kind)
        .bind(account)
        .bind(id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(row).transpose()
}

async fn list(c: &mut SqliteConnection, q: &ListQuery) -> Result<Vec<Record>> {
    let (sql, binds) = list_sql(COLUMNS, q, |n| format!("?{n}"));
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.bind(q.limit).fetch_all(c).await?;
    rows.iter().map(row).collect()
}

struct ReadConn(PoolConnection<Sqlite>);
struct WriteTx(Transaction<'static, Sqlite>);

#[async_trait]
impl Reader for ReadConn {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
        get(&mut self.0, kind, account, id).await
    }
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        list(&mut self.0, q).await
    }
}

#[async_trait]
impl Reader for WriteTx {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
        get(&mut self.0, kind, account, id).await
    }
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        list(&mut self.0, q).await
    }
}

#[async_trait]
impl Tx for WriteTx {
    async fn insert(&mut self, r: &Record) -> Result<()> {
        let done = sqlx::query("INSERT INTO records (kind, account, id, parent, sort, body, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (kind, account, id) DO NOTHING")
            .bind(&r.kind)
            .bind(&r.account)
            .bind(&r.id)
            .bind(&r.parent)
            .bind(&r.sort)
            .bind(&r.body)
            .bind(r.created_ms)
            .bind(r.updated_ms)
            .execute(&mut *self.0)
            .await?;
        // ON CONFLICT DO NOTHING keeps a Postgres transaction usable after a duplicate.
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn update(&mut self, r: &Record) -> Result<bool> {
        let done = sqlx::query("UPDATE records SET parent = ?4, sort = ?5, body = ?6, updated_ms = ?7 WHERE kind = ?1 AND account = ?2 AND id = ?3")
            .bind(&r.kind)
            .bind(&r.account)
            .bind(&r.id)
            .bind(&r.parent)
            .bind(&r.sort)
            .bind(&r.body)
            .bind(r.updated_ms)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete(&mut self, kind: &str, account: &str, id: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM records WHERE kind = ?1 AND account = ?2 AND id = ?3")
            .bind(kind)
            .bind(account)
            .bind(id)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_children(&mut self, kind: &str, account: &str, parent: &str) -> Result<u64> {
        let done =
            sqlx::query("DELETE FROM records WHERE kind = ?1 AND account = ?2 AND parent = ?3")
                .bind(kind)
                .bind(account)
                .bind(parent)
                .execute(&mut *self.0)
                .await?;
        Ok(done.rows_affected())
    }

    async fn delete_all(&mut self, kind: &str, account: &str) -> Result<u64> {
        let done = sqlx::query("DELETE FROM records WHERE kind = ?1 AND account = ?2")
            .bind(kind)
            .bind(account)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected())
    }

    async fn schedule(&mut self, t: &Timer) -> Result<bool> {
        let done = sqlx::query("INSERT INTO timers (id, account, kind, subject, step, due_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (id) DO NOTHING")
            .bind(&t.id)
            .bind(&t.account)
            .bind(&t.kind)
            .bind(&t.subject)
            .bind(t.step)
            .bind(t.due_ms)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn ensure_timer(&mut self, t: &Timer) -> Result<()> {
        // Write transactions are serialised (BEGIN IMMEDIATE): keeping an existing timer is enough.
        self.schedule(t).await.map(|_| ())
    }

    async fn finish_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM timers WHERE id = ?1 AND lease_owner = ?2")
            .bind(id)
            .bind(owner)
            .execute(&mut *self.0)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn hold_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE timers SET claims = claims WHERE id = ?1 AND lease_owner = ?2")
                .bind(id)
                .bind(owner)
                .execute(&mut *self.0)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await?;
        Ok(())
    }
}

fn timer_row(r: &SqliteRow) -> Result<Timer> {
    Ok(Timer {
        id: r.try_get("id")?,
        account: r.try_get("account")?,
        kind: r.try_get("kind")?,
        subject: r.try_get("subject")?,
        step: r.try_get("step")?,
        due_ms: r.try_get("due_ms")?,
        claims: r.try_get("claims")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self) -> Result<Box<dyn Reader>> {
        Ok(Box::new(ReadConn(self.reader.acquire().await?)))
    }
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(WriteTx(
            self.writer.begin_with("BEGIN IMMEDIATE").await?,
        )))
    }
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn claim_timers(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Timer>> {
        // One statement on the single writer connection: the claim is atomic.
        let rows = sqlx::query("UPDATE timers SET lease_owner = ?1, lease_until_ms = ?3, claims = claims + 1 WHERE id IN (SELECT id FROM timers WHERE due_ms <= ?2 AND (lease_owner IS NULL OR lease_until_ms <= ?2) ORDER BY due_ms, id LIMIT ?4) RETURNING id, account, kind, subject, step, due_ms, claims")
            .bind(owner)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(limit)
            .fetch_all(&self.writer)
            .await?;
        let mut timers = rows.iter().map(timer_row).collect::<Result<Vec<_>>>()?;
        timers.sort_by(|a, b| (a.due_ms, &a.id).cmp(&(b.due_ms, &b.id)));
        Ok(timers)
    }

    async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<u64> {
        let done = sqlx::query("UPDATE timers SET lease_until_ms = ?2 WHERE lease_owner = ?1")
            .bind(owner)
            .bind(lease_until_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected())
    }

    async fn postpone_timer(&self, id: &str, owner: &str, due_ms: i64) -> Result<bool> {
        let done = sqlx::query("UPDATE timers SET due_ms = ?3, lease_owner = NULL, lease_until_ms = NULL WHERE id = ?1 AND lease_owner = ?2")
            .bind(id)
            .bind(owner)
            .bind(due_ms)
            .execute(&self.writer)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE timers SET lease_owner = NULL, lease_until_ms = NULL WHERE lease_owner = ?1",
        )
        .bind(owner)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected())
    }

    async fn next_timer_ms(&self) -> Result<Option<i64>> {
        let free: Option<i64> =
            sqlx::query_scalar("SELECT MIN(due_ms) FROM timers WHERE lease_owner IS NULL")
                .fetch_one(&self.reader)
                .await?;
        let leased: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(lease_until_ms) FROM timers WHERE lease_owner IS NOT NULL",
        )
        .fetch_one(&self.reader)
        .await?;
        Ok(free.into_iter().chain(leased).min())
    }

    async fn timer_counts(&self, now_ms: i64) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_ms <= ?1 THEN 1 ELSE 0 END), 0) FROM timers",
        )
        .bind(now_ms)
        .fetch_one(&self.reader)
        .await?;
        Ok((row.try_get(0)?, row.try_get(1)?))
    }

    async fn count(&self, kind: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM records WHERE kind = ?1")
                .bind(kind)
                .fetch_one(&self.reader)
                .await?,
        )
    }
}
