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

use common::pct;

use async_trait::async_trait;
use common::{
    Figures, Signer, call, client, contacts_ok, free_addr, measure, rss_kb, start_server,
};
use klaxon::app::{Options, start};
use klaxon::config::{Config, EngineConfig};
use klaxon::delivery::{Channel, DeliveryError, MessageKind, OutboundMessage, Registry};
use klaxon::domain::clock::{Durations, SystemClock};
use klaxon::engine::Engine;
use klaxon::metrics::Metrics;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const KEY: &str = "AKIDBENCHENGINE";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "100000000009";
/// One minute of a plan is this many real milliseconds.
const TIME_SCALE: f64 = 60.0;
const MINUTE_MS: i64 = 1_000;

/// Remembers when each message was handed over, by page and stage.
#[derive(Default)]
struct Timing {
    sends: Mutex<Vec<(OutboundMessage, Instant, i64)>>,
    count: AtomicUsize,
    hang: bool,
}

#[async_trait]
impl Channel for Timing {
    fn name(&self) -> &'static str {
        "timing"
    }
    async fn send(&self, msg: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        if self.hang {
            self.count.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        let wall = klaxon::domain::clock::Clock::now_ms(&SystemClock);
        self.sends
            .lock()
            .unwrap()
            .push((msg.clone(), Instant::now(), wall));
        self.count.fetch_add(1, Ordering::SeqCst);
        Ok("t".into())
    }
}

fn config(dir: &std::path::Path, database_url: Option<String>) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        database_url,
        time_scale: TIME_SCALE,
        // Thousands of pages go to one channel here.
        engine: klaxon::config::EngineConfig {
            max_sends_per_channel_per_minute: 0,
            ..Default::default()
        },
        credentials: vec![common::credential(KEY, SECRET, ACCOUNT)],
        ..Config::default()
    }
}

/// A contact whose plan sends SMS at once and again one (scaled) minute later; returns its ARN.
async fn contact(
    http: &common::Http,
    signer: &Signer,
    timing: &Timing,
    alias: &str,
    minutes: i32,
) -> String {
    let arn = contacts_ok(
        http,
        signer,
        "CreateContact",
        json!({"Alias": alias, "Type": "PERSONAL", "Plan": {"Stages": []}}),
    )
    .await["ContactArn"]
        .as_str()
        .unwrap()
        .to_string();
    let ch = contacts_ok(http, signer, "CreateContactChannel", json!({"ContactId": arn, "Name": "sms", "Type": "SMS", "DeliveryAddress": {"SimpleAddress": "+12065550100"}})).await["ContactChannelArn"]
        .as_str()
        .unwrap()
        .to_string();
    let code = loop {
        let found = timing
            .sends
            .lock()
            .unwrap()
            .iter()
            .find(|(m, _, _)| m.kind == MessageKind::Activation && m.contact_channel_arn == ch)
            .map(|(m, _, _)| m.code.clone());
        if let Some(c) = found {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    contacts_ok(
        http,
        signer,
        "ActivateContactChannel",
        json!({"ContactChannelId": ch, "ActivationCode": code}),
    )
    .await;
    let target =
        json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
    contacts_ok(
        http,
        signer,
        "UpdateContact",
        json!({"ContactId": arn, "Plan": {"Stages": [
            {"DurationInMinutes": minutes, "Targets": [target]},
            {"DurationInMinutes": 0, "Targets": [target]},
        ]}}),
    )
    .await;
    arn
}

/// Starts `n` engagements at once; returns (engagement ARN, request start) pairs.
async fn burst(
    http: &common::Http,
    signer: &Arc<Signer>,
    contact: &str,
    n: usize,
) -> Vec<(String, Instant)> {
    let mut tasks = Vec::new();
    for i in 0..n {
        let (http, signer, contact) = (http.clone(), signer.clone(), contact.to_string());
        tasks.push(tokio::spawn(async move {
            let body = json!({"ContactId": contact, "Sender": "bench", "Subject": format!("s{i}"), "Content": "c"});
            let t = Instant::now();
            let out = contacts_ok(&http, &signer, "StartEngagement", body).await;
            (out["EngagementArn"].as_str().unwrap().to_string(), t)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Waits until both stages of every engagement were sent. Returns the first-send latencies
/// (from the request's start, as the caller sees it) and the lateness of each stage-1 send
/// against its due time (the engagement's StartTime on the server + one scaled minute).
async fn outcome(
    http: &common::Http,
    signer: &Signer,
    timing: &Timing,
    started: &[(String, Instant)],
) -> (Vec<f64>, Vec<f64>) {
    let want: HashMap<&str, Instant> = started.iter().map(|(a, t)| (a.as_str(), *t)).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    let (first, stage1) = loop {
        let sends = timing.sends.lock().unwrap().clone();
        let mut first = Vec::new();
        let mut stage1 = Vec::new();
        for (m, at, wall_ms) in sends.iter() {
            let Some(t0) = m.engagement_arn.as_deref().and_then(|e| want.get(e)) else {
                continue;
            };
            let key0 = klaxon::engine::outbox::page_attempt_id(
                m.page_arn.as_deref().unwrap(),
                0,
                &m.contact_channel_arn,
                1,
            );
            if m.idempotency_key == klaxon::engine::outbox::idempotency_key(&key0) {
                first.push(at.duration_since(*t0).as_secs_f64() * 1000.0);
            } else {
                stage1.push((m.engagement_arn.clone().unwrap(), *wall_ms));
            }
        }
        if first.len() == started.len() && stage1.len() == started.len() {
            break (first, stage1);
        }
        assert!(
            Instant::now() < deadline,
            "engine did not finish: {} / {} / {}",
            first.len(),
            stage1.len(),
            started.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut late = Vec::new();
    for (eng, wall_ms) in stage1 {
        let d = contacts_ok(
            http,
            signer,
            "DescribeEngagement",
            json!({"EngagementId": eng}),
        )
        .await;
        let start_ms = (d["StartTime"].as_f64().unwrap() * 1000.0).round() as i64;
        late.push((wall_ms - start_ms - MINUTE_MS) as f64);
    }
    (first, late)
}

fn line(label: &str, first: &[f64], late: &[f64]) {
    println!(
        "  {label:<42} first send p50 {:8.2} ms  p99 {:8.2} ms | stage-1 lateness p50 {:8.2} ms  p99 {:8.2} ms",
        pct(first.to_vec(), 0.5),
        pct(first.to_vec(), 0.99),
        pct(late.to_vec(), 0.5),
        pct(late.to_vec(), 0.99)
    );
}

/// Opens `n` engagements of a contact with long stages, so they stay open with timers waiting.
async fn background(http: &common::Http, signer: &Arc<Signer>, contact: &str, n: usize) {
    let mut left = n;
    while left > 0 {
        let k = left.min(100);
        burst(http, signer, contact, k).await;
        left -= k;
    }
}

/// An in-process server with its engine loop on the real clock and a timing channel.
async fn server(
    database_url: Option<String>,
) -> (
    klaxon::app::Running,
    Arc<Timing>,
    common::Http,
    Arc<Signer>,
    tempfile::TempDir,
) {
    let dir = tempfile::tempdir().unwrap();
    let timing = Arc::new(Timing::default());
    let running = start(
        &config(dir.path(), database_url),
        Options {
            clock: Arc::new(SystemClock),
            delivery: Some(Registry::all(timing.clone())),
            engine_loop: true,
        },
    )
    .await
    .unwrap();
    let signer = Arc::new(Signer {
        addr: running.addr.to_string(),
        key: KEY.into(),
        secret: SECRET.into(),
    });
    (running, timing, client(), signer, dir)
}

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
            .1
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

/// Engagements started all at once, on a fresh server whose engine has nothing else to do.
async fn burst_runs(backend: &str, database_url: Option<String>) {
    let (running, timing, http, signer, _dir) = server(database_url).await;
    let c = contact(&http, &signer, &timing, "bench-burst", 1).await;
    println!("engagements started at once ({backend})");
    for n in [100, 1000] {
        let t = Instant::now();
        let started = burst(&http, &signer, &c, n).await;
        let accepted = t.elapsed().as_secs_f64();
        let (first, late) = outcome(&http, &signer, &timing, &started).await;
        line(
            &format!("{n} started at once ({:.0} starts/s)", n as f64 / accepted),
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
    let c = contacts_ok(
        &http,
        &signer,
        "CreateContact",
        json!({"Alias": "rss", "Type": "PERSONAL", "Plan": {"Stages": []}}),
    )
    .await["ContactArn"]
        .as_str()
        .unwrap()
        .to_string();
    let ch = contacts_ok(&http, &signer, "CreateContactChannel", json!({"ContactId": c, "Name": "m", "Type": "EMAIL", "DeliveryAddress": {"SimpleAddress": "rss@example.com"}, "DeferActivation": true})).await["ContactChannelArn"]
        .as_str()
        .unwrap()
        .to_string();
    // Thirty-minute stages: every engagement stays open with its next stage waiting as a timer.
    let target =
        json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
    contacts_ok(
        &http,
        &signer,
        "UpdateContact",
        json!({"ContactId": c, "Plan": {"Stages": [
            {"DurationInMinutes": 30, "Targets": [target]},
            {"DurationInMinutes": 30, "Targets": [target]},
            {"DurationInMinutes": 0, "Targets": [target]},
        ]}}),
    )
    .await;
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

async fn scratch_database(base: &str) -> Option<(String, String)> {
    let admin = sqlx::PgPool::connect(base).await.ok()?;
    let name = format!("klaxon_bench_engine_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin)
        .await
        .ok()?;
    Some((format!("{}/{name}", base.rsplit_once('/')?.0), name))
}

async fn drop_scratch(base: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(base).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
    }
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
