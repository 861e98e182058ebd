//! PostgreSQL backend for teams that run several Klaxon nodes against one database.

use super::sql::{self, COLUMNS, POSTGRES as SQL};
use super::{
    ListQuery, Reader, Record, Result, Store, StoreError, Timer, TimerCounts, Tx, list_sql,
    migrations,
};
use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool, Postgres, Row, Transaction};
use std::sync::LazyLock;
use std::time::Duration;

pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn open(url: &str) -> Result<PostgresStore> {
        PostgresStore::open_sized(url, 16).await
    }

    /// With at most `max_connections` connections (several engines in one test process share
    /// the server's connection limit).
    pub async fn open_sized(url: &str, max_connections: u32) -> Result<PostgresStore> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        migrate(&pool).await?;
        Ok(PostgresStore { pool })
    }
}

/// Each pending migration in its own transaction, under an advisory lock held for the whole
/// run so that nodes starting together migrate once.
async fn migrate(pool: &PgPool) -> Result<()> {
    let mut c = pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(7261636)")
        .execute(&mut *c)
        .await?;
    let result = migrate_locked(&mut c).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(7261636)")
        .execute(&mut *c)
        .await;
    result
}

async fn migrate_locked(c: &mut PgConnection) -> Result<()> {
    sqlx::query("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_ms BIGINT NOT NULL)")
        .execute(&mut *c)
        .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *c)
        .await?;
    let plan = migrations::Plan::new(migrations::POSTGRES, &applied)?;
    for (version, sql) in migrations::POSTGRES
        .iter()
        .filter(|(v, _)| plan.pending.contains(v))
    {
        let mut tx = c.begin().await?;
        for stmt in migrations::statements(sql) {
            sqlx::query(AssertSqlSafe(stmt.to_string()))
                .execute(&mut *tx)
                .await
                .map_err(|e| StoreError::Migration(format!("migration {version} failed: {e}")))?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_ms) VALUES ($1, (extract(epoch from now()) * 1000)::bigint)")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}

/// What a start would migrate, read without changing the database.
pub async fn plan(url: &str) -> Result<migrations::Plan> {
    let mut c = PgConnection::connect(url).await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
        .fetch_one(&mut c)
        .await?;
    let applied: Vec<i64> = if exists {
        sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut c)
            .await?
    } else {
        Vec::new()
    };
    let _ = c.close().await;
    migrations::Plan::new(migrations::POSTGRES, &applied)
}

async fn get(c: &mut PgConnection, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
    let r = sqlx::query(SQL.get)
        .bind(kind)
        .bind(account)
        .bind(id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(sql::record).transpose()
}

async fn list(c: &mut PgConnection, q: &ListQuery) -> Result<Vec<Record>> {
    let (sql, binds) = list_sql(COLUMNS, q, sql::dollar);
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.bind(q.limit).fetch_all(c).await?;
    rows.iter().map(sql::record).collect()
}

struct ReadConn(PoolConnection<Postgres>);
struct WriteTx {
    tx: Transaction<'static, Postgres>,
    /// New records held back by `insert_new`, sent with the next statement.
    held: Vec<Record>,
    /// The wake-up for other nodes is queued (Postgres delivers it once, at commit).
    notified: bool,
}

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
        self.flush().await?;
        get(&mut self.tx, kind, account, id).await
    }
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        self.flush().await?;
        list(&mut self.tx, q).await
    }
}

/// Several new records in one statement: parallel arrays, one per column.
const INSERT_MANY: &str = "INSERT INTO records (kind, account, id, parent, sort, body, created_ms, updated_ms) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[]) ON CONFLICT (kind, account, id) DO NOTHING";

impl WriteTx {
    /// Sends the records `insert_new` held back, all in one round trip.
    async fn flush(&mut self) -> Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let held = std::mem::take(&mut self.held);
        if let [r] = held.as_slice() {
            return insert(&mut self.tx, r).await;
        }
        let column = |f: fn(&Record) -> String| held.iter().map(f).collect::<Vec<String>>();
        let done = sqlx::query(INSERT_MANY)
            .bind(column(|r| r.kind.clone()))
            .bind(column(|r| r.account.clone()))
            .bind(column(|r| r.id.clone()))
            .bind(held.iter().map(|r| r.parent.clone()).collect::<Vec<_>>())
            .bind(column(|r| r.sort.clone()))
            .bind(column(|r| r.body.clone()))
            .bind(held.iter().map(|r| r.created_ms).collect::<Vec<_>>())
            .bind(held.iter().map(|r| r.updated_ms).collect::<Vec<_>>())
            .execute(&mut *self.tx)
            .await?;
        if done.rows_affected() < held.len() as u64 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }
}

async fn insert(c: &mut PgConnection, r: &Record) -> Result<()> {
    let done = sqlx::query(SQL.insert)
        .bind(&r.kind)
        .bind(&r.account)
        .bind(&r.id)
        .bind(&r.parent)
        .bind(&r.sort)
        .bind(&r.body)
        .bind(r.created_ms)
        .bind(r.updated_ms)
        .execute(c)
        .await?;
    // ON CONFLICT DO NOTHING keeps a Postgres transaction usable after a duplicate.
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict);
    }
    Ok(())
}

#[async_trait]
impl Tx for WriteTx {
    async fn insert(&mut self, r: &Record) -> Result<()> {
        self.flush().await?;
        insert(&mut self.tx, r).await
    }

    async fn insert_new(&mut self, r: &Record) -> Result<()> {
        self.held.push(r.clone());
        Ok(())
    }

    async fn update(&mut self, r: &Record) -> Result<bool> {
        self.flush().await?;
        let done = sqlx::query(SQL.update)
            .bind(&r.kind)
            .bind(&r.account)
            .bind(&r.id)
            .bind(&r.parent)
            .bind(&r.sort)
            .bind(&r.body)
            .bind(r.updated_ms)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete(&mut self, kind: &str, account: &str, id: &str) -> Result<bool> {
        self.flush().await?;
        let done = sqlx::query(SQL.delete)
            .bind(kind)
            .bind(account)
            .bind(id)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn delete_children(&mut self, kind: &str, account: &str, parent: &str) -> Result<u64> {
        self.flush().await?;
        let done = sqlx::query(SQL.delete_children)
            .bind(kind)
            .bind(account)
            .bind(parent)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn delete_all(&mut self, kind: &str, account: &str) -> Result<u64> {
        self.flush().await?;
        let done = sqlx::query(SQL.delete_all)
            .bind(kind)
            .bind(account)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected())
    }

    async fn schedule(&mut self, t: &Timer) -> Result<bool> {
        self.flush().await?;
        if self.notified {
            let done = sqlx::query(SQL.schedule)
                .bind(&t.id)
                .bind(&t.account)
                .bind(&t.kind)
                .bind(&t.subject)
                .bind(t.step)
                .bind(t.due_ms)
                .execute(&mut *self.tx)
                .await?;
            return Ok(done.rows_affected() > 0);
        }
        // The transaction's first new timer queues the wake-up for the other nodes' engines in
        // the same round trip; the notification is delivered at commit.
        let inserted = sqlx::query(SCHEDULE_NOTIFY.as_str())
            .bind(&t.id)
            .bind(&t.account)
            .bind(&t.kind)
            .bind(&t.subject)
            .bind(t.step)
            .bind(t.due_ms)
            .bind(WORK_CHANNEL)
            .fetch_optional(&mut *self.tx)
            .await?
            .is_some();
        self.notified = inserted;
        Ok(inserted)
    }

    async fn ensure_timer(&mut self, t: &Timer) -> Result<()> {
        self.flush().await?;
        // The no-op update takes the existing row's lock: it waits for a transaction that is
        // finishing the timer, and then inserts afresh if that one deleted it.
        const UPSERT: &str = "INSERT INTO timers (id, account, kind, subject, step, due_ms, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (id) DO UPDATE SET due_ms = timers.due_ms";
        let sql = if self.notified {
            UPSERT.to_string()
        } else {
            format!("WITH up AS ({UPSERT} RETURNING 1) SELECT pg_notify($7, '')::TEXT FROM up")
        };
        let mut q = sqlx::query(AssertSqlSafe(sql))
            .bind(&t.id)
            .bind(&t.account)
            .bind(&t.kind)
            .bind(&t.subject)
            .bind(t.step)
            .bind(t.due_ms);
        if !self.notified {
            q = q.bind(WORK_CHANNEL);
        }
        q.fetch_all(&mut *self.tx).await?;
        self.notified = true;
        Ok(())
    }

    async fn finish_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        self.flush().await?;
        let done = sqlx::query(SQL.finish_timer)
            .bind(id)
            .bind(owner)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn hold_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        self.flush().await?;
        let done =
            sqlx::query("UPDATE timers SET claims = claims WHERE id = $1 AND lease_owner = $2")
                .bind(id)
                .bind(owner)
                .execute(&mut *self.tx)
                .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn commit(mut self: Box<Self>) -> Result<()> {
        self.flush().await?;
        self.tx.commit().await?;
        Ok(())
    }
}

/// SKIP LOCKED lets nodes claim side by side without waiting on each other's rows.
static CLAIM: LazyLock<String> =
    LazyLock::new(|| sql::dollars(&sql::claim(" FOR UPDATE SKIP LOCKED")));

/// `schedule`, queueing the wake-up ($7 names the channel) when the timer is new.
static SCHEDULE_NOTIFY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH ins AS ({} RETURNING 1) SELECT pg_notify($7, '')::TEXT FROM ins",
        SQL.schedule
    )
});

/// The LISTEN/NOTIFY channel on which a node announces new timers.
const WORK_CHANNEL: &str = "klaxon_timers";

fn timer_row(r: &PgRow) -> Result<Timer> {
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
impl Store for PostgresStore {
    async fn read(&self) -> Result<Box<dyn Reader>> {
        Ok(Box::new(ReadConn(self.pool.acquire().await?)))
    }
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(WriteTx {
            tx: self.pool.begin().await?,
            held: Vec::new(),
            notified: false,
        }))
    }
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn claim_timers(
        &self,
        owner: &str,
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
    ) -> Result<Vec<Timer>> {
        let rows = sqlx::query(CLAIM.as_str())
            .bind(owner)
            .bind(now_ms)
            .bind(lease_until_ms)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut timers = rows.iter().map(timer_row).collect::<Result<Vec<_>>>()?;
        timers.sort_by(|a, b| (a.due_ms, &a.id).cmp(&(b.due_ms, &b.id)));
        Ok(timers)
    }

    async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<u64> {
        let done = sqlx::query(SQL.renew_leases)
            .bind(owner)
            .bind(lease_until_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn postpone_timer(&self, id: &str, owner: &str, due_ms: i64) -> Result<bool> {
        let done = sqlx::query(SQL.postpone_timer)
            .bind(id)
            .bind(owner)
            .bind(due_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        let done = sqlx::query(SQL.release_leases)
            .bind(owner)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn next_timer_ms(&self) -> Result<Option<i64>> {
        let row = sqlx::query(SQL.next_timer).fetch_one(&self.pool).await?;
        let free: Option<i64> = row.try_get(0)?;
        let leased: Option<i64> = row.try_get(1)?;
        Ok(free.into_iter().chain(leased).min())
    }

    async fn timer_counts(&self, now_ms: i64) -> Result<TimerCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*)::BIGINT, COUNT(*) FILTER (WHERE due_ms <= $1)::BIGINT, MIN(due_ms) FILTER (WHERE due_ms <= $1) FROM timers",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(TimerCounts {
            all: row.try_get(0)?,
            due: row.try_get(1)?,
            oldest_due_ms: row.try_get(2)?,
        })
    }

    async fn count(&self, kind: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*)::BIGINT FROM records WHERE kind = $1")
                .bind(kind)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn listen(&self, wake: std::sync::Arc<tokio::sync::Notify>) -> Result<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(WORK_CHANNEL).await?;
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(e) => {
                        // recv reconnects on its own; wake anyway so nothing waits on a lost signal.
                        tracing::warn!(error = %e, "lost the database notification channel; reconnecting");
                        wake.notify_one();
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(())
    }
}
