//! Alert doors: PagerDuty trigger → incident started and first page handed to the channel,
//! p50/p99 (sequential); events accepted per second with distinct keys (each starts an incident
//! and an engagement) and with one repeated key (a lookup, no transaction). In-process server,
//! SQLite, engine loop on the real clock, a timing channel. Run with `cargo bench --bench ingest`.

mod common;

use async_trait::async_trait;
use bytes::Bytes;
use common::{Signer, call, client, pct};
use http_body_util::Full;
use klaxon::app::{Options, start};
use klaxon::config::{Config, IntegrationConfig, Secret};
use klaxon::delivery::{Channel, DeliveryError, MessageKind, OutboundMessage, Registry};
use klaxon::domain::clock::SystemClock;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const KEY: &str = "AKIDBENCHINGEST";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "100000000019";
const ROUTING: &str = "bench-routing-key-0123456789";
const N: usize = 200;

#[derive(Default)]
struct Timing {
    sends: Mutex<Vec<OutboundMessage>>,
    arrived: Notify,
}

#[async_trait]
impl Channel for Timing {
    fn name(&self) -> &'static str {
        "timing"
    }
    async fn send(&self, msg: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        self.sends.lock().unwrap().push(msg.clone());
        self.arrived.notify_waiters();
        Ok("t".into())
    }
}

impl Timing {
    fn has(&self, marker: &str) -> bool {
        self.sends.lock().unwrap().iter().any(|m| {
            m.kind != MessageKind::Activation
                && (m.subject.contains(marker) || m.body.contains(marker))
        })
    }
}

fn enqueue(addr: &str, key: &str, summary: &str) -> common::Request {
    let body = json!({
        "routing_key": ROUTING, "event_action": "trigger", "dedup_key": key,
        "payload": {"summary": summary, "source": "bench", "severity": "error"},
    });
    hyper::Request::post(format!("http://{addr}/v2/enqueue"))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

async fn contacts(
    http: &common::Http,
    s: &Signer,
    op: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, out) = call(http, s.contacts(op, body.to_string())).await;
    assert_eq!(status, 200, "{op}: {out}");
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let timing = Arc::new(Timing::default());
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        credentials: vec![common::credential(KEY, SECRET, ACCOUNT)],
        engine: klaxon::config::EngineConfig {
            max_sends_per_channel_per_minute: 0,
            ..Default::default()
        },
        integrations: vec![IntegrationConfig {
            name: "bench".into(),
            key: Some(Secret::new(ROUTING)),
            key_file: None,
            response_plan: "bench".into(),
            rate_per_minute: u32::MAX,
            account_id: None,
            region: None,
        }],
        log: "warn".into(),
        ..Config::default()
    };
    let running = start(
        &config,
        Options {
            clock: Arc::new(SystemClock),
            delivery: Some(Registry::all(timing.clone())),
            engine_loop: true,
        },
    )
    .await
    .unwrap();
    let addr = running.addr.to_string();
    let s = Signer {
        addr: addr.clone(),
        key: KEY.into(),
        secret: SECRET.into(),
    };
    let http = client();
    let contact = contacts(
        &http,
        &s,
        "CreateContact",
        json!({"Alias": "bench", "Type": "PERSONAL", "Plan": {"Stages": []}}),
    )
    .await["ContactArn"]
        .as_str()
        .unwrap()
        .to_string();
    let ch = contacts(&http, &s, "CreateContactChannel", json!({"ContactId": contact, "Name": "sms", "Type": "SMS", "DeliveryAddress": {"SimpleAddress": "+12065550100"}})).await["ContactChannelArn"].as_str().unwrap().to_string();
    let code = loop {
        let found = timing
            .sends
            .lock()
            .unwrap()
            .iter()
            .find(|m| m.kind == MessageKind::Activation && m.contact_channel_arn == ch)
            .map(|m| m.code.clone());
        if let Some(c) = found {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    contacts(
        &http,
        &s,
        "ActivateContactChannel",
        json!({"ContactChannelId": ch, "ActivationCode": code}),
    )
    .await;
    let target =
        json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
    contacts(&http, &s, "UpdateContact", json!({"ContactId": contact, "Plan": {"Stages": [{"DurationInMinutes": 30, "Targets": [target]}]}})).await;
    let (st, _) = call(
        &http,
        s.incidents(
            "/createReplicationSet",
            json!({"regions": {"us-east-1": {}}}).to_string(),
        ),
    )
    .await;
    assert_eq!(st, 201);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (st, body) = call(&http, s.incidents("/createResponsePlan", json!({"name": "bench", "incidentTemplate": {"title": "t", "impact": 3}, "engagements": [contact]}).to_string())).await;
    assert_eq!(st, 201, "{body}");

    let mut lat = Vec::with_capacity(N);
    for i in 0..N {
        let marker = format!("lat-{i}!");
        let t = Instant::now();
        let (st, out) = call(&http, enqueue(&addr, &format!("lat-{i}"), &marker)).await;
        assert_eq!(st, 202, "{out}");
        while !timing.has(&marker) {
            let _ =
                tokio::time::timeout(Duration::from_millis(50), timing.arrived.notified()).await;
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "PagerDuty trigger → incident started and first page sent ({N} sequential, SQLite): p50 {:.2} ms p99 {:.2} ms",
        pct(lat.clone(), 0.5),
        pct(lat, 0.99)
    );

    let secs = common::secs_per_measurement();
    let a = addr.clone();
    let f = common::measure(
        &http,
        move |n| enqueue(&a, &format!("d-{n}"), "distinct"),
        16,
        secs,
    )
    .await;
    println!(
        "events accepted, distinct keys (16 clients, {secs} s): {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {}",
        f.rate,
        f.p50_us as f64 / 1000.0,
        f.p99_us as f64 / 1000.0,
        f.errors
    );
    let (st, _) = call(&http, enqueue(&addr, "same", "same key")).await;
    assert_eq!(st, 202);
    let a = addr.clone();
    let f = common::measure(&http, move |_| enqueue(&a, "same", "same key"), 16, secs).await;
    println!(
        "events accepted, one repeated key (16 clients, {secs} s): {:.0}/s p50 {:.2} ms p99 {:.2} ms errors {}",
        f.rate,
        f.p50_us as f64 / 1000.0,
        f.p99_us as f64 / 1000.0,
        f.errors
    );
    running.stop().await;
}
