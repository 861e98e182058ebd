//! The write path against the machine's own floor. Prints, in one run:
//! - the anchor: a bare in-process SQLite commit loop (libsqlite3 directly, no sqlx; WAL,
//!   synchronous=NORMAL, one small row per transaction);
//! - StartEngagement/s and CreateContact/s at 16 clients (in-process server, SQLite, then
//!   PostgreSQL when reachable), each also as a ratio to the anchor;
//! - 100 and 1,000 engagements started at once: first page p50/p99 after the request's start,
//!   stage-1 timer lateness p50/p99.
//!
//! Run with `cargo bench --bench write`. `KLAXON_BENCH_SECS` sets each rate measurement
//! (default 3 s); `KLAXON_BENCH_POSTGRES` the PostgreSQL server.

mod common;

use common::bursts::{ACCOUNT, burst_runs, config, drop_scratch, scratch_database};
use common::{Figures, Signer, client, measure};
use libsqlite3_sys as ffi;
use serde_json::json;
use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::Instant;

fn exec(db: *mut ffi::sqlite3, sql: &str) {
    let sql = CString::new(sql).unwrap();
    // SAFETY: db is an open connection used by this thread alone; sql is NUL-terminated.
    let rc = unsafe {
        ffi::sqlite3_exec(
            db,
            sql.as_ptr(),
            None,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, ffi::SQLITE_OK, "{}", unsafe {
        CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy()
    });
}

/// Commits of one small row each per second, straight through libsqlite3 on one thread.
fn anchor(secs: f64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = CString::new(dir.path().join("anchor.db").to_str().unwrap()).unwrap();
    let mut db = std::ptr::null_mut();
    // SAFETY: the handle is used only on this thread and closed before it returns.
    unsafe {
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE;
        assert_eq!(
            ffi::sqlite3_open_v2(path.as_ptr(), &mut db, flags, std::ptr::null()),
            ffi::SQLITE_OK
        );
    }
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "PRAGMA synchronous = NORMAL");
    exec(db, "PRAGMA foreign_keys = ON");
    exec(
        db,
        "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)",
    );
    let insert = CString::new("INSERT INTO t (body) VALUES (?1)").unwrap();
    let body = "{\"Alias\":\"bench\",\"Type\":\"PERSONAL\"}";
    let mut stmt = std::ptr::null_mut();
    // SAFETY: as above; the statement is finalized before the connection closes.
    unsafe {
        assert_eq!(
            ffi::sqlite3_prepare_v2(db, insert.as_ptr(), -1, &mut stmt, std::ptr::null_mut()),
            ffi::SQLITE_OK
        );
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < secs {
        exec(db, "BEGIN IMMEDIATE");
        // SAFETY: as above; SQLITE_TRANSIENT makes SQLite copy the bound text.
        unsafe {
            ffi::sqlite3_bind_text(
                stmt,
                1,
                body.as_ptr().cast(),
                body.len() as i32,
                ffi::SQLITE_TRANSIENT(),
            );
            assert_eq!(ffi::sqlite3_step(stmt), ffi::SQLITE_DONE);
            ffi::sqlite3_reset(stmt);
        }
        exec(db, "COMMIT");
        n += 1;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    // SAFETY: nothing uses the statement or the connection after this.
    unsafe {
        ffi::sqlite3_finalize(stmt);
        ffi::sqlite3_close(db);
    }
    rate
}

fn report(label: &str, f: &Figures, anchor: f64) {
    println!(
        "  {label:<44} {:>8.0}/s  p50 {:6.2} ms  p99 {:6.2} ms  errors {}  = {:.3} x anchor",
        f.rate,
        f.p50_us as f64 / 1000.0,
        f.p99_us as f64 / 1000.0,
        f.errors,
        f.rate / anchor
    );
}

/// StartEngagement and CreateContact at 16 clients against an in-process server.
async fn rates(backend: &str, database_url: Option<String>, anchor: f64) {
    let dir = tempfile::tempdir().unwrap();
    let (running, signer) = common::in_process(&config(dir.path(), database_url)).await;
    let signer = Arc::new(signer);
    let http = client();
    let c = common::waiting_contact(&http, &signer, "rate", 1).await;
    let secs = common::secs_per_measurement();
    let start = {
        let (signer, c) = (signer.clone(), c.clone());
        move |n: u64| {
            signer.contacts(
                "StartEngagement",
                json!({"ContactId": c, "Sender": "bench", "Subject": format!("s{n}"), "Content": "c"}).to_string(),
            )
        }
    };
    let f = measure(&http, start, 16, secs).await;
    report(
        &format!("StartEngagement, 16 clients, {backend}"),
        &f,
        anchor,
    );
    let create = {
        let signer: Arc<Signer> = signer.clone();
        let run = uuid::Uuid::new_v4().simple().to_string();
        move |n: u64| {
            signer.contacts(
                "CreateContact",
                format!(
                    "{{\"Alias\":\"w-{run}-{n}\",\"Type\":\"PERSONAL\",\"Plan\":{{\"Stages\":[]}}}}"
                ),
            )
        }
    };
    let f = measure(&http, create, 16, secs).await;
    report(&format!("CreateContact, 16 clients, {backend}"), &f, anchor);
    running.stop().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs = common::secs_per_measurement();
    let a = tokio::task::spawn_blocking(move || anchor(secs))
        .await
        .unwrap();
    println!(
        "write benchmark, account {ACCOUNT}, {secs} s per rate, 2-core machine shared by client and server"
    );
    println!(
        "  anchor: bare libsqlite3 commit loop (WAL, synchronous=NORMAL, one row per commit): {a:.0} commits/s"
    );
    rates("SQLite", None, a).await;
    burst_runs("SQLite", None).await;
    let pg = std::env::var("KLAXON_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match scratch_database(&pg).await {
        Some((url, name)) => {
            rates("PostgreSQL", Some(url), a).await;
            drop_scratch(&pg, &name).await;
        }
        None => println!("PostgreSQL not reachable at the bench URL; its runs skipped"),
    }
}
