//! The engagement engine on the real clock. Prints:
//! - StartEngagement → first `Channel::send` latency p50/p99 for 1 (repeated), 100 and 1,000
//!   engagements started at once (in-process server, SQLite, a channel that timestamps sends);
//! - timer lateness p50/p99: stage 1 of every engagement above, due 100 ms after its start
//!   (a 1-minute stage at time scale 600);
//! - engagements started per second at 16 clients and RSS with 10,000 open engagements (the
//!   release binary as a child process, SQLite, log channel);
//! - on PostgreSQL: how long after a node dies mid-send another node has finished its work.
//!
//! Run with `cargo bench --bench engine`. `KLAXON_BENCH_SECS` sets the rate measurement
//! (default 3 s); `KLAXON_BENCH_POSTGRES` the database for the takeover run.

mod common;

use async_trait::async_trait;
use common::{Figures, Signer, call, client, free_addr, measure, rss_kb, start_server};
use klaxon::app::{Options, start};
use klaxon::config::{Config, CredentialConfig, EngineConfig, Secret};
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

/// Remembers when each message was handed over, by page and stage.
#[derive(Default)]
struct Timing {
    sends: Mutex<Vec<(OutboundMessage, Instant)>>,
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
        self.sends
            .lock()
            .unwrap()
            .push((msg.clone(), Instant::now()));
        self.count.fetch_add(1, Ordering::SeqCst);
        Ok("t".into())
    }
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

fn config(dir: &std::path::Path, database_url: Option<String>) -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.to_path_buf(),
        database_url,
        time_scale: 600.0,
        credentials: vec![CredentialConfig {
            access_key_id: KEY.into(),
            secret_access_key: Some(Secret::new(SECRET)),
            secret_access_key_file: None,
            account_id: ACCOUNT.into(),
        }],
        ..Config::default()
    }
}

async fn ok(
    http: &common::Http,
    signer: &Signer,
    op: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, out) = call(http, signer.contacts(op, body.to_string())).await;
    assert_eq!(status, 200, "{op}: {out}");
    out
}

/// A contact whose plan sends SMS at once and again one (scaled) minute later; returns its ARN.
async fn contact(http: &common::Http, signer: &Signer, timing: &Timing, alias: &str) -> String {
    let arn = ok(
        http,
        signer,
        "CreateContact",
        json!({"Alias": alias, "Type": "PERSONAL", "Plan": {"Stages": []}}),
    )
    .await["ContactArn"]
        .as_str()
        .unwrap()
        .to_string();
    let ch = ok(http, signer, "CreateContactChannel", json!({"ContactId": arn, "Name": "sms", "Type": "SMS", "DeliveryAddress": {"SimpleAddress": "+12065550100"}})).await["ContactChannelArn"]
        .as_str()
        .unwrap()
        .to_string();
    let code = loop {
        let found = timing
            .sends
            .lock()
            .unwrap()
            .iter()
            .find(|(m, _)| m.kind == MessageKind::Activation && m.contact_channel_arn == ch)
            .map(|(m, _)| m.code.clone());
        if let Some(c) = found {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    ok(
        http,
        signer,
        "ActivateContactChannel",
        json!({"ContactChannelId": ch, "ActivationCode": code}),
    )
    .await;
    let target =
        json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
    ok(
        http,
        signer,
        "UpdateContact",
        json!({"ContactId": arn, "Plan": {"Stages": [
            {"DurationInMinutes": 1, "Targets": [target]},
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
            let out = ok(&http, &signer, "StartEngagement", body).await;
            (out["EngagementArn"].as_str().unwrap().to_string(), t)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Waits until both stages of every engagement were sent; returns (first-send ms, lateness ms).
async fn outcome(timing: &Timing, started: &[(String, Instant)]) -> (Vec<f64>, Vec<f64>) {
    let want: HashMap<&str, Instant> = started.iter().map(|(a, t)| (a.as_str(), *t)).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sends = timing.sends.lock().unwrap().clone();
        let mut first = Vec::new();
        let mut late = Vec::new();
        for (m, at) in sends.iter() {
            let Some(t0) = m.engagement_arn.as_deref().and_then(|e| want.get(e)) else {
                continue;
            };
            let ms = at.duration_since(*t0).as_secs_f64() * 1000.0;
            if m.idempotency_key
                == klaxon::engine::outbox::idempotency_key(&format!(
                    "{}|0|{}|1",
                    m.page_arn.as_deref().unwrap(),
                    m.contact_channel_arn
                ))
            {
                first.push(ms);
            } else {
                late.push(ms - 100.0);
            }
        }
        if first.len() == started.len() && late.len() == started.len() {
            return (first, late);
        }
        assert!(
            Instant::now() < deadline,
            "engine did not finish: {} / {} / {}",
            first.len(),
            late.len(),
            started.len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn latency_runs() {
    let dir = tempfile::tempdir().unwrap();
    let timing = Arc::new(Timing::default());
    let running = start(
        &config(dir.path(), None),
        Options {
            clock: Arc::new(SystemClock),
            delivery: Some(Registry::all(timing.clone())),
            engine_loop: true,
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
    let c = contact(&http, &signer, &timing, "bench-oncall").await;
    println!(
        "StartEngagement -> first Channel::send (SQLite, in-process, engine loop on the real clock)"
    );
    let mut lateness = Vec::new();
    let mut singles = Vec::new();
    for _ in 0..50 {
        singles.extend(burst(&http, &signer, &c, 1).await);
        outcome(&timing, &singles[singles.len() - 1..]).await;
    }
    let (first, late) = outcome(&timing, &singles).await;
    lateness.extend(late);
    println!(
        "  1 at a time (x50):   p50 {:7.2} ms  p99 {:7.2} ms",
        pct(first.clone(), 0.5),
        pct(first, 0.99)
    );
    for n in [100, 1000] {
        let t = Instant::now();
        let started = burst(&http, &signer, &c, n).await;
        let accepted = t.elapsed().as_secs_f64();
        let (first, late) = outcome(&timing, &started).await;
        lateness.extend(late);
        println!(
            "  {n:>4} at once:        p50 {:7.2} ms  p99 {:7.2} ms   ({:.0} StartEngagement/s while bursting)",
            pct(first.clone(), 0.5),
            pct(first, 0.99),
            n as f64 / accepted
        );
    }
    println!(
        "timer lateness (stage 1 due 100 ms after start, {} timers): p50 {:.2} ms  p99 {:.2} ms",
        lateness.len(),
        pct(lateness.clone(), 0.5),
        pct(lateness, 0.99)
    );
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
    let c = ok(
        &http,
        &signer,
        "CreateContact",
        json!({"Alias": "rss", "Type": "PERSONAL", "Plan": {"Stages": []}}),
    )
    .await["ContactArn"]
        .as_str()
        .unwrap()
        .to_string();
    let ch = ok(&http, &signer, "CreateContactChannel", json!({"ContactId": c, "Name": "m", "Type": "EMAIL", "DeliveryAddress": {"SimpleAddress": "rss@example.com"}, "DeferActivation": true})).await["ContactChannelArn"]
        .as_str()
        .unwrap()
        .to_string();
    // Thirty-minute stages: every engagement stays open with its next stage waiting as a timer.
    let target =
        json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
    ok(
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

/// Two nodes with their loops on the real clock; one hangs mid-send and is killed. How long
/// until the survivor has delivered everything?
async fn takeover_run() {
    let base = std::env::var("KLAXON_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let Ok(admin) = sqlx::PgPool::connect(&base).await else {
        println!("takeover: PostgreSQL not reachable at the bench URL; skipped");
        return;
    };
    let name = format!("klaxon_bench_engine_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin)
        .await
        .unwrap();
    let url = format!("{}/{name}", base.rsplit_once('/').unwrap().0);
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
                Durations { time_scale: 600.0 },
                Arc::new(Metrics::default()),
                EngineConfig::default(),
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
        let c = contact(&h, &s, &t, "takeover").await;
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
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .execute(&admin)
    .await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    latency_runs().await;
    process_runs().await;
    takeover_run().await;
}
