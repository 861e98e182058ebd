//! An in-process server on the real clock whose channel timestamps every send, and the
//! engagement bursts measured against it (shared by the engine and write benchmarks).

use super::{Signer, client, contacts_ok, pct};
use async_trait::async_trait;
use klaxon::app::{Options, start};
use klaxon::config::Config;
use klaxon::delivery::{Channel, DeliveryError, MessageKind, OutboundMessage, Registry};
use klaxon::domain::clock::SystemClock;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const KEY: &str = "AKIDBENCHENGINE";
pub const SECRET: &str = "bench-secret";
pub const ACCOUNT: &str = "100000000009";
/// One minute of a plan is this many real milliseconds.
pub const TIME_SCALE: f64 = 60.0;
pub const MINUTE_MS: i64 = 1_000;

/// Remembers when each message was handed over, by page and stage.
#[derive(Default)]
pub struct Timing {
    pub sends: Mutex<Vec<(OutboundMessage, Instant, i64)>>,
    pub count: AtomicUsize,
    pub hang: bool,
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

pub fn config(dir: &std::path::Path, database_url: Option<String>) -> Config {
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
        credentials: vec![super::credential(KEY, SECRET, ACCOUNT)],
        ..Config::default()
    }
}

/// A contact whose plan sends SMS at once and again one (scaled) minute later; returns its ARN.
pub async fn contact(
    http: &super::Http,
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
pub async fn burst(
    http: &super::Http,
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
pub async fn outcome(
    http: &super::Http,
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

pub fn line(label: &str, first: &[f64], late: &[f64]) {
    println!(
        "  {label:<42} first send p50 {:8.2} ms  p99 {:8.2} ms | stage-1 lateness p50 {:8.2} ms  p99 {:8.2} ms",
        pct(first.to_vec(), 0.5),
        pct(first.to_vec(), 0.99),
        pct(late.to_vec(), 0.5),
        pct(late.to_vec(), 0.99)
    );
}

/// Opens `n` engagements of a contact with long stages, so they stay open with timers waiting.
pub async fn background(http: &super::Http, signer: &Arc<Signer>, contact: &str, n: usize) {
    let mut left = n;
    while left > 0 {
        let k = left.min(100);
        burst(http, signer, contact, k).await;
        left -= k;
    }
}

/// An in-process server with its engine loop on the real clock and a timing channel.
pub async fn server(
    database_url: Option<String>,
) -> (
    klaxon::app::Running,
    Arc<Timing>,
    super::Http,
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

/// Engagements started all at once, on a fresh server whose engine has nothing else to do.
pub async fn burst_runs(backend: &str, database_url: Option<String>) {
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

/// A fresh database on the server `base` names: (its URL, its name).
pub async fn scratch_database(base: &str) -> Option<(String, String)> {
    let admin = sqlx::PgPool::connect(base).await.ok()?;
    let name = format!("klaxon_bench_engine_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .execute(&admin)
        .await
        .ok()?;
    Some((format!("{}/{name}", base.rsplit_once('/')?.0), name))
}

pub async fn drop_scratch(base: &str, name: &str) {
    if let Ok(admin) = sqlx::PgPool::connect(base).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
        )))
        .execute(&admin)
        .await;
    }
}
