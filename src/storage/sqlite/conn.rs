//! One SQLite connection driven through libsqlite3 on the calling thread.
//!
//! Why not sqlx here: sqlx-sqlite runs every statement on the connection's own worker thread,
//! one cross-thread round trip each; a write transaction of a dozen statements paid a dozen
//! hops behind the single writer. The writer connection is instead owned by a lock
//! (`writer.rs`), and whoever holds the lock runs its statements right where it is: a
//! transaction is one unit on one thread, and the statements are prepared once and cached.

use super::super::{Result, StoreError};
use super::checkpoint::{self, Signal};
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_int};
use std::path::Path;
use std::ptr::NonNull;

/// A value bound to a statement's `?N`.
pub(crate) enum Value<'a> {
    Text(&'a str),
    Int(i64),
    Null,
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Value<'a> {
        Value::Text(s)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(s: &'a String) -> Value<'a> {
        Value::Text(s)
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(s: &'a Option<String>) -> Value<'a> {
        s.as_deref().map_or(Value::Null, Value::Text)
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Value::Int(n)
    }
}

pub(crate) struct Conn {
    db: NonNull<ffi::sqlite3>,
    statements: HashMap<String, NonNull<ffi::sqlite3_stmt>>,
    /// The WAL hook's argument; freed after the handle closes (fields drop after `drop`).
    wal_hook: Option<Box<Signal>>,
}

// SAFETY: the bundled SQLite is built thread-safe, and a Conn is only ever used by the one
// thread that holds the writer's lock at the time.
unsafe impl Send for Conn {}

/// A row being read; valid until the next step of its statement.
pub(crate) struct Row {
    stmt: NonNull<ffi::sqlite3_stmt>,
}

impl Row {
    pub(crate) fn int(&self, i: c_int) -> i64 {
        // SAFETY: the statement is positioned on a row (sqlite3_step returned SQLITE_ROW).
        unsafe { ffi::sqlite3_column_int64(self.stmt.as_ptr(), i) }
    }

    pub(crate) fn opt_text(&self, i: c_int) -> Option<String> {
        // SAFETY: as in `int`; the text pointer is read before anything else touches the row,
        // and its length comes from sqlite3_column_bytes called after sqlite3_column_text.
        unsafe {
            let p = ffi::sqlite3_column_text(self.stmt.as_ptr(), i);
            if p.is_null() {
                return None;
            }
            let n = ffi::sqlite3_column_bytes(self.stmt.as_ptr(), i) as usize;
            let bytes = std::slice::from_raw_parts(p, n);
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }

    pub(crate) fn text(&self, i: c_int) -> String {
        self.opt_text(i).unwrap_or_default()
    }
}

impl Conn {
    /// Opens the file read-write with Klaxon's settings (see `SqliteStore::open`).
    pub(crate) fn open(path: &Path) -> Result<Conn> {
        let mut conn = Conn::open_with(
            path,
            ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_NOMUTEX,
        )?;
        conn.exec("PRAGMA journal_mode = WAL")?;
        conn.exec("PRAGMA synchronous = NORMAL")?;
        conn.exec("PRAGMA foreign_keys = ON")?;
        // Every write is a savepoint (group commit), and a savepoint journals each page it
        // changes: kept in memory that journal costs a copy, on disk it cost two thirds of
        // all page writes.
        conn.exec("PRAGMA temp_store = MEMORY")?;
        // The write connection's page cache holds the B-tree pages every write walks through
        // (64 MiB, against 2 MiB by default).
        conn.exec("PRAGMA cache_size = -65536")?;
        Ok(conn)
    }

    /// Opens the file for reading only, settings as the file has them (a backup's reader).
    pub(crate) fn open_read_only(path: &Path) -> Result<Conn> {
        Conn::open_with(path, ffi::SQLITE_OPEN_READONLY | ffi::SQLITE_OPEN_NOMUTEX)
    }

    fn open_with(path: &Path, flags: c_int) -> Result<Conn> {
        let name = CString::new(path.to_string_lossy().as_bytes())
            .map_err(|_| StoreError::Url(path.display().to_string()))?;
        let mut db = std::ptr::null_mut();
        // SAFETY: name is NUL-terminated; db receives a handle (closed in Drop) even on failure.
        let rc = unsafe { ffi::sqlite3_open_v2(name.as_ptr(), &mut db, flags, std::ptr::null()) };
        let Some(db) = NonNull::new(db) else {
            return Err(StoreError::Sqlite {
                code: rc,
                message: "out of memory opening the database".into(),
            });
        };
        let conn = Conn {
            db,
            statements: HashMap::new(),
            wal_hook: None,
        };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error(rc));
        }
        // SAFETY: db is open.
        unsafe { ffi::sqlite3_busy_timeout(conn.db.as_ptr(), 10_000) };
        Ok(conn)
    }

    fn error(&self, rc: c_int) -> StoreError {
        // SAFETY: db is open; errmsg returns a NUL-terminated string owned by SQLite.
        let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(self.db.as_ptr())) }
            .to_string_lossy()
            .into_owned();
        if rc & 0xff != ffi::SQLITE_CONSTRAINT {
            super::super::count_error();
        }
        StoreError::Sqlite { code: rc, message }
    }

    /// Hands checkpoints to the checkpoint thread: after a commit leaves the WAL at
    /// `checkpoint::THRESHOLD_PAGES` or more, `signal` is asked instead of checkpointing here.
    /// (This replaces SQLite's automatic checkpoint, itself a WAL hook.)
    pub(crate) fn checkpoint_elsewhere(&mut self, signal: Signal) {
        extern "C" fn hook(
            arg: *mut std::ffi::c_void,
            _: *mut ffi::sqlite3,
            _: *const std::ffi::c_char,
            pages: c_int,
        ) -> c_int {
            // SAFETY: arg is the Box<Signal> kept in the Conn until after sqlite3_close.
            unsafe { &*(arg as *const Signal) }.committed(pages);
            ffi::SQLITE_OK
        }
        let boxed = Box::new(signal);
        let arg = &*boxed as *const Signal as *mut std::ffi::c_void;
        // SAFETY: db is open; arg outlives the handle (see the field's comment).
        unsafe { ffi::sqlite3_wal_hook(self.db.as_ptr(), Some(hook), arg) };
        self.wal_hook = Some(boxed);
    }

    /// Checkpoints here when the WAL has grown past `checkpoint::RESET_PAGES` (see there);
    /// called by the writer between groups, with no transaction open.
    pub(crate) fn checkpoint_if_long(&mut self) {
        if self
            .wal_hook
            .as_ref()
            .is_some_and(|s| s.wal_pages() >= checkpoint::RESET_PAGES)
        {
            if let Err(e) = self.exec("PRAGMA wal_checkpoint(PASSIVE)") {
                tracing::warn!(error = %e, "WAL checkpoint failed; the next one will try again");
            }
            if let Some(s) = &self.wal_hook {
                s.committed(0);
            }
        }
    }

    /// Whether no transaction is open (SQLite ends one by itself after some errors).
    pub(crate) fn autocommit(&self) -> bool {
        // SAFETY: db is open.
        unsafe { ffi::sqlite3_get_autocommit(self.db.as_ptr()) != 0 }
    }

    /// Copies the whole database into `dest` (a new file) with SQLite's online backup API,
    /// `pages` pages a step, inside one read transaction of this connection: the copy is the
    /// database at the moment the transaction began, however the writer goes on meanwhile.
    /// `between` runs after each step (to flush what was written, say).
    pub(crate) fn copy_to(
        &mut self,
        dest: &Path,
        pages: c_int,
        mut between: impl FnMut(&Path),
    ) -> Result<()> {
        let mut out = Conn::open_with(
            dest,
            ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_NOMUTEX,
        )?;
        out.exec("PRAGMA journal_mode = OFF")?;
        out.exec("PRAGMA synchronous = OFF")?;
        self.exec("BEGIN")?;
        let copied = self.step_backup(&mut out, pages, &mut between, dest);
        let _ = self.exec("COMMIT");
        copied?;
        drop(out);
        Ok(())
    }

    fn step_backup(
        &mut self,
        out: &mut Conn,
        pages: c_int,
        between: &mut impl FnMut(&Path),
        dest: &Path,
    ) -> Result<()> {
        // The read transaction starts at its first read: take it before the first step.
        self.run("SELECT COUNT(*) FROM sqlite_master", &[], |_| ())?;
        let main = c"main";
        // SAFETY: both handles are open and outlive the backup object, finished below.
        let b = unsafe {
            ffi::sqlite3_backup_init(
                out.db.as_ptr(),
                main.as_ptr(),
                self.db.as_ptr(),
                main.as_ptr(),
            )
        };
        if b.is_null() {
            return Err(out.error(unsafe { ffi::sqlite3_errcode(out.db.as_ptr()) }));
        }
        let rc = loop {
            // SAFETY: b is a live backup object.
            let rc = unsafe { ffi::sqlite3_backup_step(b, pages) };
            match rc {
                ffi::SQLITE_OK => between(dest),
                ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => {
                    std::thread::sleep(std::time::Duration::from_millis(10))
                }
                other => break other,
            }
        };
        // SAFETY: b is live; finish frees it.
        let finished = unsafe { ffi::sqlite3_backup_finish(b) };
        match (rc, finished) {
            (ffi::SQLITE_DONE, ffi::SQLITE_OK) => Ok(()),
            (ffi::SQLITE_DONE, f) => Err(out.error(f)),
            (r, _) => Err(out.error(r)),
        }
    }

    /// Runs SQL without parameters or results (transaction control, pragmas).
    pub(crate) fn exec(&mut self, sql: &str) -> Result<()> {
        self.run(sql, &[], |_| ()).map(|_| ())
    }

    /// Runs a statement; returns the rows it changed.
    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        self.run(sql, params, |_| ())?;
        // SAFETY: db is open.
        Ok(unsafe { ffi::sqlite3_changes64(self.db.as_ptr()) } as u64)
    }

    /// Runs a statement and maps each row it returns.
    pub(crate) fn query<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        map: impl FnMut(&Row) -> T,
    ) -> Result<Vec<T>> {
        self.run(sql, params, map)
    }

    fn statement(&mut self, sql: &str) -> Result<NonNull<ffi::sqlite3_stmt>> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(*s);
        }
        let mut stmt = std::ptr::null_mut();
        // SAFETY: db is open; the SQL is passed with its length, so it needs no NUL.
        let rc = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast(),
                sql.len() as c_int,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &mut stmt,
                std::ptr::null_mut(),
            )
        };
        if rc != ffi::SQLITE_OK {
            return Err(self.error(rc));
        }
        let stmt = NonNull::new(stmt).ok_or_else(|| StoreError::Sqlite {
            code: rc,
            message: format!("empty statement: {sql}"),
        })?;
        self.statements.insert(sql.to_string(), stmt);
        Ok(stmt)
    }

    fn run<T>(
        &mut self,
        sql: &str,
        params: &[Value],
        mut map: impl FnMut(&Row) -> T,
    ) -> Result<Vec<T>> {
        let stmt = self.statement(sql)?;
        let s = stmt.as_ptr();
        // Resets the statement on every path out, so it never holds a read lock or a binding.
        struct Reset(*mut ffi::sqlite3_stmt);
        impl Drop for Reset {
            fn drop(&mut self) {
                // SAFETY: the statement is alive (finalized only when the Conn drops).
                unsafe {
                    ffi::sqlite3_reset(self.0);
                    ffi::sqlite3_clear_bindings(self.0);
                }
            }
        }
        let _reset = Reset(s);
        for (i, p) in params.iter().enumerate() {
            let i = i as c_int + 1;
            // SAFETY: s is a live statement; SQLITE_TRANSIENT makes SQLite copy the text.
            let rc = unsafe {
                match p {
                    Value::Text(t) => ffi::sqlite3_bind_text64(
                        s,
                        i,
                        t.as_ptr().cast(),
                        t.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Value::Int(n) => ffi::sqlite3_bind_int64(s, i, *n),
                    Value::Null => ffi::sqlite3_bind_null(s, i),
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error(rc));
            }
        }
        let mut out = Vec::new();
        let row = Row { stmt };
        loop {
            // SAFETY: s is a live statement with every parameter bound.
            match unsafe { ffi::sqlite3_step(s) } {
                ffi::SQLITE_ROW => out.push(map(&row)),
                ffi::SQLITE_DONE => return Ok(out),
                rc => return Err(self.error(rc)),
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // SAFETY: nothing uses the statements or the handle after this.
        unsafe {
            for s in self.statements.values() {
                ffi::sqlite3_finalize(s.as_ptr());
            }
            ffi::sqlite3_close(self.db.as_ptr());
        }
    }
}
