//! Backups of a large SQLite database under paging load. Prints:
//! - the database's size and how it was filled (records through the storage layer);
//! - StartEngagement → first send p50/p99 at 100 engagements/s without a backup, and the same
//!   load while `klaxon backup` runs (its duration and the backup file's size);
//! - how long the restore of that file takes;
//! - start-up of the restored database, and of a copy one schema version behind (the timers
//!   table dropped and its migration unrecorded), which the start migrates forward.
//!
//! Run with `cargo bench --bench backup`. `KLAXON_BENCH_BACKUP_MB` sets the size (1024).

mod common;

use common::bursts::{ACCOUNT, burst, contact, outcome, server};
use common::pct;
use klaxon::domain::clock::{Clock, SystemClock};
use klaxon::storage::Record;
use std::time::{Duration, Instant};

const RATE: u64 = 100;

async fn fill(store: &dyn klaxon::storage::Store, mb: u64) -> u64 {
    let body = "x".repeat(1000);
    let rows = mb * 1000;
    let batch = 5_000;
    let mut n = 0;
    while n < rows {
        let mut tx = store.begin().await.unwrap();
        for _ in 0..batch.min(rows - n) {
            let id = format!("{n:012}");
            tx.insert(&Record {
                kind: "bench-filler".into(),
                account: ACCOUNT.into(),
                id: id.clone(),
                parent: Some(format!("p{}", n % 1000)),
                sort: id,
                body: body.clone(),
                created_ms: 0,
                updated_ms: 0,
            })
            .await
            .unwrap();
            n += 1;
        }
        tx.commit().await.unwrap();
    }
    rows
}

/// Starts RATE engagements a second, paced, until `until` says stop (after at least `min`).
async fn paced(
    http: &common::Http,
    signer: &std::sync::Arc<common::Signer>,
    c: &str,
    min: Duration,
    until: impl Fn() -> bool,
) -> Vec<(String, Instant)> {
    let every = Duration::from_micros(1_000_000 / RATE);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let started = Instant::now();
    let mut tasks = Vec::new();
    while started.elapsed() < min || !until() {
        tick.tick().await;
        let (http, signer, c) = (http.clone(), signer.clone(), c.to_string());
        tasks.push(tokio::spawn(
            async move { burst(&http, &signer, &c, 1).await },
        ));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.extend(t.await.unwrap());
    }
    out
}

fn size(path: &std::path::Path) -> u64 {
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mb: u64 = std::env::var("KLAXON_BENCH_BACKUP_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let (running, timing, http, signer, dir) = server(None).await;
    let db = dir.path().join("klaxon.db");
    let t = Instant::now();
    let rows = fill(running.store.as_ref(), mb).await;
    println!(
        "database: {rows} records of 1 kB written in {:.1} s; {:.0} MB on disk",
        t.elapsed().as_secs_f64(),
        size(&db) as f64 / 1e6
    );
    let c = contact(&http, &signer, &timing, "bench-backup", 1).await;

    let quiet = paced(&http, &signer, &c, Duration::from_secs(10), || true).await;
    let (first, _) = outcome(&http, &signer, &timing, &quiet).await;
    println!(
        "  {RATE} engagements/s, no backup       : {} started, first send p50 {:7.2} ms  p99 {:7.2} ms",
        quiet.len(),
        pct(first.clone(), 0.5),
        pct(first.clone(), 0.99)
    );
    let quiet_p99 = pct(first, 0.99);

    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("bench.backup");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let backup = tokio::spawn({
        let (db, data, file, done) = (
            db.clone(),
            dir.path().to_path_buf(),
            file.clone(),
            done.clone(),
        );
        async move {
            let t = Instant::now();
            let s = klaxon::ops::backup::create(&db, &data, &file, SystemClock.now_ms())
                .await
                .unwrap();
            done.store(true, std::sync::atomic::Ordering::SeqCst);
            (t.elapsed(), s.bytes)
        }
    });
    let during = paced(&http, &signer, &c, Duration::from_secs(10), || {
        done.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    let (took, bytes) = backup.await.unwrap();
    let (first, _) = outcome(&http, &signer, &timing, &during).await;
    let p99 = pct(first.clone(), 0.99);
    println!(
        "  {RATE} engagements/s, during backup   : {} started, first send p50 {:7.2} ms  p99 {:7.2} ms ({:.2}x the quiet p99; target 2x)",
        during.len(),
        pct(first, 0.5),
        p99,
        p99 / quiet_p99
    );
    println!(
        "  backup of {:.0} MB: {:.1} s, file {:.0} MB",
        size(&db) as f64 / 1e6,
        took.as_secs_f64(),
        bytes as f64 / 1e6
    );
    running.stop().await;

    let restored = tempfile::tempdir().unwrap();
    let data = restored.path().join("data");
    let rdb = data.join("klaxon.db");
    let t = Instant::now();
    klaxon::ops::backup::restore(&file, &data, &rdb, false).unwrap();
    println!("  restore: {:.1} s", t.elapsed().as_secs_f64());
    drop(std::fs::remove_file(&file));

    let url = format!("sqlite://{}", rdb.display());
    let t = Instant::now();
    let store = klaxon::storage::open(&url).await.unwrap();
    println!(
        "  start-up (open, migrations checked) of the restored database: {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    drop(store);
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query("DROP TABLE timers")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("DELETE FROM schema_migrations WHERE version = 2")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let t = Instant::now();
    let store = klaxon::storage::open(&url).await.unwrap();
    println!(
        "  start-up of the same database one schema version behind (migration 2 applied): {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    drop(store);
}
