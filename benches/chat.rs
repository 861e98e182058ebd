//! The chat-ops bot: slash command → reply latency with the bot's SDK round trips included
//! (`list`: one SDK call; `start`: four), and incident update → chat post latency (an impact
//! change through the API until the fake Slack Web API receives the post, with the engine loop
//! on the real clock). In-process server, SQLite, a local fake of Slack's Web API.
//! Run with `cargo bench --bench chat`.

mod common;

use common::pct;

use axum::routing::post;
use bytes::Bytes;
use common::{call, client};
use http_body_util::Full;
use klaxon::config::{Config, Secret, SlackConfig, SnsTopic};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const KEY: &str = "AKIDBENCHCHAT";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "100000000012";
const SIGNING: &str = "bench-signing-secret";
const TOPIC: &str = "arn:aws:sns:us-east-1:100000000012:bench";
const N: usize = 200;

#[derive(Default)]
struct Fake {
    posts: AtomicUsize,
    arrived: Notify,
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn slash(addr: &str, text: &str) -> common::Request {
    let body = format!(
        "user_id=U0BENCH&user_name=bench&command=%2Fklaxon&text={}&response_url={}",
        enc(text),
        enc("http://127.0.0.1:9/unused")
    );
    let ts = common::now_secs().to_string();
    let sig = klaxon_slack::sign(SIGNING, &ts, body.as_bytes());
    hyper::Request::post(format!("http://{addr}/hooks/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-signature", sig)
        .header("x-slack-request-timestamp", ts)
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let fake = Arc::new(Fake::default());
    let f = fake.clone();
    let slack = axum::Router::new().route(
        "/api/chat.postMessage",
        post(move || {
            let f = f.clone();
            async move {
                f.posts.fetch_add(1, Ordering::SeqCst);
                f.arrived.notify_one();
                r#"{"ok": true, "channel": "C1", "ts": "1.1"}"#
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slack_url = format!("http://{}/api", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, slack).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        credentials: vec![common::credential(KEY, SECRET, ACCOUNT)],
        slack: Some(SlackConfig {
            bot_token: Some(Secret::new("xoxb-bench")),
            bot_token_file: None,
            signing_secret: Some(Secret::new(SIGNING)),
            signing_secret_file: None,
            api_base_url: slack_url,
        }),
        sns: klaxon::config::SnsConfig {
            topics: vec![SnsTopic {
                topic_arn: TOPIC.into(),
                response_plan: None,
                slack_channel: Some("C1".into()),
                discord_channel_id: None,
            }],
            ..Default::default()
        },
        ..Config::default()
    };
    let (running, s) = common::in_process(&config).await;
    let addr = running.addr.to_string();
    let http = client();
    let (st, _) = call(
        &http,
        s.incidents(
            "/createReplicationSet",
            json!({"regions": {"us-east-1": {}}}).to_string(),
        ),
    )
    .await;
    assert_eq!(st, 201, "replication set");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (st, body) = call(
        &http,
        s.incidents(
            "/createResponsePlan",
            json!({"name": "bench", "incidentTemplate": {"title": "t", "impact": 3},
                   "chatChannel": {"chatbotSns": [TOPIC]}})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(st, 201, "response plan: {body}");

    for (label, text) in [
        ("/klaxon list (1 SDK call)", "list"),
        (
            "/klaxon start (4 SDK calls)",
            "start bench impact=3 Bench incident",
        ),
    ] {
        let mut lat = Vec::with_capacity(N);
        for _ in 0..N {
            let t = Instant::now();
            let (st, body) = call(&http, slash(&addr, text)).await;
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(st, 200);
            assert_ne!(body["text"], "Working on it…", "answered inline");
        }
        println!(
            "slash command {label} → reply ({N} sequential): p50 {:.2} ms p99 {:.2} ms",
            pct(lat.clone(), 0.5),
            pct(lat, 0.99)
        );
    }

    // The last incident started above: change its impact and wait for the post.
    let (_, list) = call(
        &http,
        s.incidents("/listIncidentRecords", json!({"maxResults": 1}).to_string()),
    )
    .await;
    let arn = list["incidentRecordSummaries"][0]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    // Let the starts' own updates drain first.
    let queued = 2 * N;
    while fake.posts.load(Ordering::SeqCst) < queued / 2 {
        let _ = tokio::time::timeout(Duration::from_secs(30), fake.arrived.notified()).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut lat = Vec::with_capacity(N);
    for i in 0..N {
        let before = fake.posts.load(Ordering::SeqCst);
        let t = Instant::now();
        let (st, _) = call(
            &http,
            s.incidents(
                "/updateIncidentRecord",
                json!({"arn": arn, "impact": 1 + (i % 2) as i32 * 2}).to_string(),
            ),
        )
        .await;
        assert_eq!(st, 204);
        while fake.posts.load(Ordering::SeqCst) <= before {
            tokio::time::timeout(Duration::from_secs(30), fake.arrived.notified())
                .await
                .expect("the update is posted");
        }
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "incident update (UpdateIncidentRecord) → Slack chat.postMessage received ({N}): p50 {:.2} ms p99 {:.2} ms",
        pct(lat.clone(), 0.5),
        pct(lat, 0.99)
    );
    drop(running);
}
