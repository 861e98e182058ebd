//! SQLite backend: one file in WAL mode. Writes go through a single connection driven on the
//! caller's thread (conn.rs) behind one lock with group commit (writer.rs), so concurrent
//! requests queue instead of failing with SQLITE_BUSY; reads use a separate sqlx pool and
//! never wait for writers.

mod checkpoint;
mod conn;
mod writer;

use super::sql::{self, COLUMNS, SQLITE as SQL};
use super::{
    ListQuery, Reader, Record, Result, Store, StoreError, Timer, TimerCounts, Tx, list_sql,
    migrations,
};
use async_trait::async_trait;
use conn::{Conn, Row as RawRow, Value};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AssertSqlSafe, Connection, Row, Sqlite, SqliteConnection, SqlitePool};
use std::path::Path;
use std::sync::LazyLock;
use std::time::Duration;
use writer::{Held, Writer};

/// `update` when parent and sort are unchanged (same parameters as `sql::SQLITE.update`).
const UPDATE_BODY: &str = "UPDATE records SET body = ?6, updated_ms = ?7 WHERE kind = ?1 AND account = ?2 AND id = ?3 AND parent IS ?4 AND sort = ?5";

static CLAIM: LazyLock<String> = LazyLock::new(|| sql::claim(""));

pub struct SqliteStore {
    writer: Writer,
    reader: SqlitePool,
    _checkpointer: checkpoint::Checkpointer,
}

impl SqliteStore {
    pub async fn open(path: &Path) -> Result<SqliteStore> {
        SqliteStore::open_with(path, migrations::SQLITE).await
    }

    /// With another list of migrations (tests of upgrades use one that fails).
    pub(crate) async fn open_with(path: &Path, list: &[(i64, &str)]) -> Result<SqliteStore> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Migration(format!("{}: {e}", dir.display())))?;
        }
        // A database from a newer Klaxon is refused before any connection that could write.
        if path.exists() {
            plan(path, list).await?;
        }
        let mut conn = Conn::open(path)?;
        migrate(&mut conn, list)?;
        let (checkpointer, signal) = checkpoint::start(path)?;
        conn.checkpoint_elsewhere(signal);
        let reader = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(read_only(path))
            .await?;
        Ok(SqliteStore {
            writer: Writer::new(conn),
            reader,
            _checkpointer: checkpointer,
        })
    }
}

/// A consistent copy of the whole database at one moment, written to `to` (which must not
/// exist) while the server's writes go on: SQLite's backup API, stepped inside one read
/// transaction of a read-only connection of its own (which never takes the write lock), with
/// the copy flushed to disk every step, so that it never piles up gigabytes of dirty pages
/// that the kernel would make every writer, the server's included, wait for. It blocks for as
/// long as the copy takes: call it from a thread of its own (`ops::backup` does, at idle
/// priority).
pub fn copy_database(path: &Path, to: &Path) -> Result<()> {
    // 2,048 pages of 4 KiB: 8 MiB a step.
    Conn::open_read_only(path)?.copy_to(to, 2_048, |dest| {
        if let Ok(f) = std::fs::File::open(dest) {
            let _ = f.sync_data();
        }
    })
}

/// A connection that never writes: the journal mode is left as the file has it (the writer sets
/// WAL; a backup copy or an old file may not have it yet, and setting it would be a write).
fn read_only(path: &Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .read_only(true)
}

/// What opening the file would migrate, read without writing to it.
pub async fn plan(path: &Path, list: &[(i64, &str)]) -> Result<migrations::Plan> {
    let mut c = SqliteConnection::connect_with(&read_only(path)).await?;
    let has_table: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
    )
    .fetch_one(&mut c)
    .await?;
    let applied: Vec<i64> = if has_table > 0 {
        sqlx::query_scalar("SELECT version FROM schema_migrations")
            .fetch_all(&mut c)
            .await?
    } else {
        Vec::new()
    };
    let _ = c.close().await;
    migrations::Plan::new(list, &applied)
}

/// Each pending migration in its own transaction; the first that fails is rolled back and
/// named, and the ones after it do not run.
fn migrate(c: &mut Conn, list: &[(i64, &str)]) -> Result<()> {
    c.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)")?;
    let applied = c.query("SELECT version FROM schema_migrations", &[], |r| r.int(0))?;
    let plan = migrations::Plan::new(list, &applied)?;
    for (version, sql) in list.iter().filter(|(v, _)| plan.pending.contains(v)) {
        c.exec("BEGIN IMMEDIATE")?;
        match apply(c, *version, sql) {
            Ok(()) => c.exec("COMMIT")?,
            Err(e) => {
                let _ = c.exec("ROLLBACK");
                return Err(e);
            }
        }
        tracing::info!(version, "applied schema migration");
    }
    Ok(())
}

fn apply(c: &mut Conn, version: i64, sql: &str) -> Result<()> {
    for stmt in migrations::statements(sql) {
        c.exec(stmt)
            .map_err(|e| StoreError::Migration(format!("migration {version} failed: {e}")))?;
    }
    c.execute(
        "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, ?2)",
        &[Value::Int(version), Value::Int(now_ms())],
    )?;
    Ok(())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn get(
    c: &mut SqliteConnection,
    kind: &str,
    account: &str,
    id: &str,
) -> Result<Option<Record>> {
    let r = sqlx::query(SQL.get)
        .bind(kind)
        .bind(account)
        .bind(id)
        .fetch_optional(c)
        .await?;
    r.as_ref().map(sql::record).transpose()
}

async fn list(c: &mut SqliteConnection, q: &ListQuery) -> Result<Vec<Record>> {
    let (sql, binds) = list_sql(COLUMNS, q, sql::question);
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.bind(q.limit).fetch_all(c).await?;
    rows.iter().map(sql::record).collect()
}

struct ReadConn(PoolConnection<Sqlite>);
struct WriteTx(Held);

#[async_trait]
impl Reader for ReadConn {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
        get(&mut self.0, kind, account, id).await
    }
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        list(&mut self.0, q).await
    }
}

fn raw_record(r: &RawRow) -> Record {
    Record {
        kind: r.text(0),
        account: r.text(1),
        id: r.text(2),
        parent: r.opt_text(3),
        sort: r.text(4),
        body: r.text(5),
        created_ms: r.int(6),
        updated_ms: r.int(7),
    }
}

fn raw_timer(r: &RawRow) -> Timer {
    Timer {
        id: r.text(0),
        account: r.text(1),
        kind: r.text(2),
        subject: r.text(3),
        step: r.int(4),
        due_ms: r.int(5),
        claims: r.int(6),
    }
}

#[async_trait]
impl Reader for WriteTx {
    async fn get(&mut self, kind: &str, account: &str, id: &str) -> Result<Option<Record>> {
        let mut rows = self.0.conn().query(
            SQL.get,
            &[kind.into(), account.into(), id.into()],
            raw_record,
        )?;
        Ok(rows.pop())
    }
    async fn list(&mut self, q: &ListQuery) -> Result<Vec<Record>> {
        let (sql, binds) = list_sql(COLUMNS, q, sql::question);
        let mut params: Vec<Value> = binds.iter().map(Value::from).collect();
        params.push(Value::Int(q.limit));
        self.0.conn().query(&sql, &params, raw_record)
    }
}

#[async_trait]
impl Tx for WriteTx {
    async fn insert(&mut self, r: &Record) -> Result<()> {
        let n = self.0.conn().execute(
            SQL.insert,
            &[
                (&r.kind).into(),
                (&r.account).into(),
                (&r.id).into(),
                (&r.parent).into(),
                (&r.sort).into(),
                (&r.body).into(),
                r.created_ms.into(),
                r.updated_ms.into(),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn update(&mut self, r: &Record) -> Result<bool> {
        let params = [
            (&r.kind).into(),
            (&r.account).into(),
            (&r.id).into(),
            (&r.parent).into(),
            (&r.sort).into(),
            (&r.body).into(),
            r.updated_ms.into(),
        ];
        // Most updates change the body alone. SQLite rewrites the entries of every index on a
        // column an UPDATE assigns, even to the same value, so the body-only form leaves the
        // index pages alone; a moved parent or sort key takes the full form.
        if self.0.conn().execute(UPDATE_BODY, &params)? > 0 {
            return Ok(true);
        }
        Ok(self.0.conn().execute(SQL.update, &params)? > 0)
    }

    async fn delete(&mut self, kind: &str, account: &str, id: &str) -> Result<bool> {
        let n = self
            .0
            .conn()
            .execute(SQL.delete, &[kind.into(), account.into(), id.into()])?;
        Ok(n > 0)
    }

    async fn delete_children(&mut self, kind: &str, account: &str, parent: &str) -> Result<u64> {
        self.0.conn().execute(
            SQL.delete_children,
            &[kind.into(), account.into(), parent.into()],
        )
    }

    async fn delete_all(&mut self, kind: &str, account: &str) -> Result<u64> {
        self.0
            .conn()
            .execute(SQL.delete_all, &[kind.into(), account.into()])
    }

    async fn schedule(&mut self, t: &Timer) -> Result<bool> {
        let n = self.0.conn().execute(
            SQL.schedule,
            &[
                (&t.id).into(),
                (&t.account).into(),
                (&t.kind).into(),
                (&t.subject).into(),
                t.step.into(),
                t.due_ms.into(),
            ],
        )?;
        Ok(n > 0)
    }

    async fn ensure_timer(&mut self, t: &Timer) -> Result<()> {
        // Write transactions are serialised (one writer): keeping an existing timer is enough.
        self.schedule(t).await.map(|_| ())
    }

    async fn finish_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        let n = self
            .0
            .conn()
            .execute(SQL.finish_timer, &[id.into(), owner.into()])?;
        Ok(n > 0)
    }

    async fn hold_timer(&mut self, id: &str, owner: &str) -> Result<bool> {
        // Writes are serialised, so the lease cannot change hands before this one ends.
        let held = self.0.conn().query(
            "SELECT 1 FROM timers WHERE id = ?1 AND lease_owner = ?2",
            &[id.into(), owner.into()],
            |r| r.int(0),
        )?;
        Ok(!held.is_empty())
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await
    }
}

impl SqliteStore {
    /// One statement as its own transaction through the writer (and its group commit).
    async fn write_one<T>(&self, run: impl FnOnce(&mut Conn) -> Result<T> + Send) -> Result<T> {
        let mut held = self.writer.begin().await?;
        let out = run(held.conn())?;
        held.commit().await?;
        Ok(out)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn read(&self) -> Result<Box<dyn Reader>> {
        Ok(Box::new(ReadConn(self.reader.acquire().await?)))
    }
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(WriteTx(self.writer.begin().await?)))
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
        let mut timers = self
            .write_one(|c| {
                c.query(
                    &CLAIM,
                    &[
                        owner.into(),
                        now_ms.into(),
                        lease_until_ms.into(),
                        limit.into(),
                    ],
                    raw_timer,
                )
            })
            .await?;
        timers.sort_by(|a, b| (a.due_ms, &a.id).cmp(&(b.due_ms, &b.id)));
        Ok(timers)
    }

    async fn renew_leases(&self, owner: &str, lease_until_ms: i64) -> Result<u64> {
        self.write_one(|c| c.execute(SQL.renew_leases, &[owner.into(), lease_until_ms.into()]))
            .await
    }

    async fn postpone_timer(&self, id: &str, owner: &str, due_ms: i64) -> Result<bool> {
        let n = self
            .write_one(|c| {
                c.execute(
                    SQL.postpone_timer,
                    &[id.into(), owner.into(), due_ms.into()],
                )
            })
            .await?;
        Ok(n > 0)
    }

    async fn release_leases(&self, owner: &str) -> Result<u64> {
        self.write_one(|c| c.execute(SQL.release_leases, &[owner.into()]))
            .await
    }

    async fn next_timer_ms(&self) -> Result<Option<i64>> {
        let row = sqlx::query(SQL.next_timer).fetch_one(&self.reader).await?;
        let free: Option<i64> = row.try_get(0)?;
        let leased: Option<i64> = row.try_get(1)?;
        Ok(free.into_iter().chain(leased).min())
    }

    async fn timer_counts(&self, now_ms: i64) -> Result<TimerCounts> {
        let row = sqlx::query(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN due_ms <= ?1 THEN 1 ELSE 0 END), 0), MIN(CASE WHEN due_ms <= ?1 THEN due_ms END) FROM timers",
        )
        .bind(now_ms)
        .fetch_one(&self.reader)
        .await?;
        Ok(TimerCounts {
            all: row.try_get(0)?,
            due: row.try_get(1)?,
            oldest_due_ms: row.try_get(2)?,
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade/0.1.0-schema2/klaxon.db")
    }

    #[tokio::test]
    async fn a_failing_migration_leaves_the_file_as_it_was_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("klaxon.db");
        std::fs::copy(fixture(), &db).unwrap();
        let before = std::fs::read(&db).unwrap();
        let mut list = migrations::SQLITE.to_vec();
        list.push((
            3,
            "CREATE TABLE made_by_three (x INTEGER); UPDATE records SET body = 'lost'; INSERT INTO no_such_table VALUES (1)",
        ));
        let err = match SqliteStore::open_with(&db, &list).await {
            Ok(_) => panic!("the failing migration was applied"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("migration 3 failed"), "{err}");
        assert!(err.contains("no_such_table"), "{err}");
        assert_eq!(std::fs::read(&db).unwrap(), before, "the file changed");
        let plan = plan(&db, &list).await.unwrap();
        assert_eq!(plan.current, 2);
        assert_eq!(plan.pending, vec![3]);
        // Without the broken migration the same file opens and is as it was.
        let store = SqliteStore::open(&db).await.unwrap();
        let mut r = store.read().await.unwrap();
        let contacts = r
            .list(&ListQuery {
                kind: "contact".into(),
                account: "111122223333".into(),
                limit: 100,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert!(!contacts.is_empty());
        assert!(contacts.iter().all(|c| c.body != "lost"));
    }

    /// The copy is the database as it was when the copy began, though another connection
    /// commits between every step of it (new rows, changed rows, deleted rows).
    #[tokio::test]
    async fn a_copy_is_one_moment_while_writes_go_on_between_its_steps() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("k.db");
        let store = SqliteStore::open(&db).await.unwrap();
        let mut tx = store.begin().await.unwrap();
        for i in 0..500 {
            tx.insert(&Record {
                kind: "k".into(),
                account: "a".into(),
                id: format!("{i:04}"),
                parent: None,
                sort: format!("{i:04}"),
                body: "b".repeat(200),
                created_ms: 0,
                updated_ms: 0,
            })
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let mut other = Conn::open(&db).unwrap();
        let mut steps = 0;
        let copy = dir.path().join("copy.db");
        Conn::open_read_only(&db)
            .unwrap()
            .copy_to(&copy, 2, |_| {
                steps += 1;
                other
                    .exec(&format!(
                        "INSERT INTO records VALUES ('k', 'a', 'new{steps}', NULL, 'z', 'x', 0, 0)"
                    ))
                    .unwrap();
                other
                    .exec(&format!(
                        "UPDATE records SET body = 'changed' WHERE id = '{:04}'",
                        steps % 500
                    ))
                    .unwrap();
                other
                    .exec(&format!(
                        "DELETE FROM records WHERE id = '{:04}'",
                        499 - steps % 250
                    ))
                    .unwrap();
            })
            .unwrap();
        assert!(steps > 10, "the copy took {steps} steps");
        let copied = SqliteStore::open(&copy).await.unwrap();
        let mut r = copied.read().await.unwrap();
        let rows = crate::storage::list_all(
            r.as_mut(),
            ListQuery {
                kind: "k".into(),
                account: "a".into(),
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(rows.len(), 500);
        assert!(
            rows.iter()
                .all(|r| r.body == "b".repeat(200) && !r.id.starts_with("new"))
        );
    }

    #[tokio::test]
    async fn migrations_run_each_in_order_and_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("new.db");
        let store = SqliteStore::open(&db).await.unwrap();
        drop(store);
        let p = plan(&db, migrations::SQLITE).await.unwrap();
        assert_eq!(p.current, migrations::SQLITE.last().unwrap().0);
        assert!(p.pending.is_empty());
        assert!(p.describe().contains("is current"));
        let mut list = migrations::SQLITE.to_vec();
        list.push((3, "CREATE TABLE t3 (x INTEGER)"));
        list.push((4, "CREATE TABLE t4 (x INTEGER)"));
        assert_eq!(plan(&db, &list).await.unwrap().pending, vec![3, 4]);
        drop(SqliteStore::open_with(&db, &list).await.unwrap());
        assert!(plan(&db, &list).await.unwrap().pending.is_empty());
        drop(SqliteStore::open_with(&db, &list).await.unwrap());
    }
}
