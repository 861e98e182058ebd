//! The engagement engine on the real clock. Prints:
//! - StartEngagement → first `Channel::send` latency p50/p99, one engagement at a time while
//!   1, 100 and 1,000 engagements are open (their next stages waiting), and for 100 and 1,000
//!   engagements started at once (in-process server, SQLite then PostgreSQL, a channel that
//!   timestamps sends);
//! - timer lateness p50/p99: stage 1 of every measured engagement, due 1 s after its start
//!   (a 1-minute stage at time scale 60; the open engagements' stages are 30 s);
//! - engagements started per second at 16 clients and RSS with 10,000 open engagements (the
//!   release binary as a child process, SQLite, log channel);
//! - on PostgreSQL: how long after a node dies mid-send another node has finished its work.
//!
//! Run with `cargo bench --bench engine`. `KLAXON_BENCH_SECS` sets the rate measurement
//! (default 3 s); `KLAXON_BENCH_POSTGRES` the database for the takeover run.

mod common;

use common::bursts::{
    ACCOUNT, KEY, SECRET, TIME_SCALE, Timing, background, burst, burst_runs, config, contact,
    drop_scratch, line, outcome, scratch_database, server,
};
use common::{Figures, Signer, call, client, free_addr, measure, rss_kb, start_server};
use klaxon::app::{Options, start};
use klaxon::config::EngineConfig;
use klaxon::delivery::Registry;
use klaxon::domain::clock::{Durations, SystemClock};
use klaxon::engine::Engine;
use klaxon::metrics::Metrics;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

async fn latency_runs(backend: &str, database_url: Option<String>) {
    let (running, timing, http, signer, _dir) = server(database_url).await;
    let c = contact(&http, &signer, &timing, "bench-oncall", 1).await;
    let bg = contact(&http, &signer, &timing, "bench-background", 30).await;
    println!(
        "StartEngagement -> first Channel::send, stage-1 timer lateness ({backend}, in-process, engine loop on the real clock)"
    );
    let mut open = 0;
    for n in [1, 100, 1000] {
        background(&http, &signer, &bg, n - open).await;
        open = n;
        // Measure against open engagements, not against the sends of their first stage.
        while running
            .store
            .timer_counts(klaxon::domain::clock::Clock::now_ms(&SystemClock))
            .await
            .unwrap()
            .due
            > 0
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let mut started = Vec::new();
        for _ in 0..50 {
            started.extend(burst(&http, &signer, &c, 1).await);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let (first, late) = outcome(&http, &signer, &timing, &started).await;
        line(
            &format!("one at a time (x50), {n} open engagements"),
            &first,
            &late,
        );
    }
    running.stop().await;
}

/// Rate of StartEngagement and the memory of the release binary holding 10,000 open engagements.
async fn process_runs() {
    let dir = tempfile::tempdir().unwrap();
    let http = client();
    let addr = free_addr();
    let signer = Arc::new(Signer {
        addr: addr.clone(),
        key: KEY.into(),
        secret: SECRET.into(),
    });
    let env = [
        ("KLAXON_ACCESS_KEY_ID", KEY),
        ("KLAXON_SECRET_ACCESS_KEY", SECRET),
        ("KLAXON_ACCOUNT_ID", ACCOUNT),
    ];
    let (server, _) = start_server(&http, &signer, dir.path(), &[], &env).await;
    let pid = server.0.id();
    let c = common::waiting_contact(&http, &signer, "rss", 2).await;
    let idle = rss_kb(pid);
    let make = {
        let (signer, c) = (signer.clone(), c.clone());
        move |n: u64| {
            signer.contacts(
                "StartEngagement",
                json!({"ContactId": c, "Sender": "bench", "Subject": format!("s{n}"), "Content": "c"}).to_string(),
            )
        }
    };
    let f: Figures = measure(&http, make.clone(), 16, common::secs_per_measurement()).await;
    println!(
        "StartEngagement, 16 clients, release binary, SQLite: {:.0}/s  p50 {:.2} ms  p99 {:.2} ms  errors {}",
        f.rate,
        f.p50_us as f64 / 1000.0,
        f.p99_us as f64 / 1000.0,
        f.errors
    );
    let mut open = count_open(&http, &addr).await;
    while open < 10_000 {
        let n = (10_000 - open).min(1_000) as f64;
        let left = Arc::new(AtomicUsize::new(n as usize));
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let (http, make, left) = (http.clone(), make.clone(), left.clone());
            tasks.push(tokio::spawn(async move {
                while left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| x.checked_sub(1))
                    .is_ok()
                {
                    let (status, _) = call(&http, make(0)).await;
                    assert_eq!(status, 200);
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        open = count_open(&http, &addr).await;
    }
    println!(
        "RSS: idle {:.1} MB; with {open} open engagements {:.1} MB",
        idle as f64 / 1024.0,
        rss_kb(pid) as f64 / 1024.0
    );
}

async fn count_open(http: &common::Http, addr: &str) -> usize {
    let req = hyper::Request::get(format!("http://{addr}/metrics"))
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    let resp = http.request(req).await.unwrap();
    use http_body_util::BodyExt;
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("klaxon_open_engagements "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Two nodes with their loops on the real clock; one hangs mid-send and is killed. How long
/// until the survivor has delivered everything?
async fn takeover_run() {
    let base = std::env::var("KLAXON_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Some((url, name)) = scratch_database(&base).await else {
        println!("takeover: PostgreSQL not reachable at the bench URL; skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let api_timing = Arc::new(Timing::default());
    let running = start(
        &config(dir.path(), Some(url.clone())),
        Options {
            clock: Arc::new(SystemClock),
            delivery: Some(Registry::all(api_timing.clone())),
            engine_loop: false,
        },
    )
    .await
    .unwrap();
    let http = client();
    let signer = Arc::new(Signer {
        addr: running.addr.to_string(),
        key: KEY.into(),
        secret: SECRET.into(),
    });
    let node = |channel: Arc<Timing>| {
        let url = url.clone();
        async move {
            Engine::new(
                klaxon::storage::open(&url).await.unwrap(),
                Arc::new(SystemClock),
                Registry::all(channel),
                Durations {
                    time_scale: TIME_SCALE,
                },
                Arc::new(Metrics::default()),
                EngineConfig {
                    max_sends_per_channel_per_minute: 0,
                    ..EngineConfig::default()
                },
                Arc::new(Notify::new()),
            )
        }
    };
    // The API node's engine only activates the channel; then the two workers take over.
    let activation = node(api_timing.clone()).await;
    let c = {
        let h = http.clone();
        let s = signer.clone();
        let t = api_timing.clone();
        let a = activation.clone();
        let pump = tokio::spawn(async move {
            loop {
                let _ = a
                    .tick(klaxon::domain::clock::Clock::now_ms(&SystemClock))
                    .await;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        let c = contact(&h, &s, &t, "takeover", 1).await;
        pump.abort();
        c
    };
    let hanging = Arc::new(Timing {
        hang: true,
        ..Timing::default()
    });
    let survivor_channel = Arc::new(Timing::default());
    let (dying, survivor) = (
        node(hanging.clone()).await,
        node(survivor_channel.clone()).await,
    );
    let (_stop_a, stop_rx_a) = tokio::sync::watch::channel(false);
    let (_stop_b, stop_rx_b) = tokio::sync::watch::channel(false);
    let dying_task = tokio::spawn(dying.clone().run(stop_rx_a));
    let survivor_task = tokio::spawn(survivor.clone().run(stop_rx_b));
    let started = burst(&http, &signer, &c, 200).await;
    while hanging.count.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    dying_task.abort();
    let killed = Instant::now();
    let stuck = hanging.count.load(Ordering::SeqCst);
    let want = started.len() * 2;
    while survivor_channel.count.load(Ordering::SeqCst) < want {
        assert!(
            killed.elapsed() < Duration::from_secs(30),
            "survivor did not finish"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    println!(
        "takeover (PostgreSQL, lease {} ms): a node died with {stuck} sends in flight; the other node had delivered all {want} sends {:.2} s later",
        EngineConfig::default().lease_ms,
        killed.elapsed().as_secs_f64()
    );
    survivor_task.abort();
    running.stop().await;
    drop_scratch(&base, &name).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    latency_runs("SQLite", None).await;
    burst_runs("SQLite", None).await;
    let pg = std::env::var("KLAXON_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match scratch_database(&pg).await {
        Some((url, name)) => {
            latency_runs("PostgreSQL", Some(url)).await;
            drop_scratch(&pg, &name).await;
        }
        None => println!("PostgreSQL not reachable at the bench URL; its latency run skipped"),
    }
    match scratch_database(&pg).await {
        Some((url, name)) => {
            burst_runs("PostgreSQL", Some(url)).await;
            drop_scratch(&pg, &name).await;
        }
        None => println!("PostgreSQL not reachable at the bench URL; its latency run skipped"),
    }
    process_runs().await;
    takeover_run().await;
}
