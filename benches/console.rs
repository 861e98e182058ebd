//! The web console's time to first byte, against the release binary on SQLite: the incident
//! list with 1,000 incidents (500 open, 500 resolved), and an incident page whose timeline has
//! 500 events (its first page of 100 and its last page), each measured 300 times one after
//! another, with a signed-in session cookie; /healthz alongside as the floor.
//! Run with `cargo bench --bench console`.

mod common;

use common::{Http, Request, Signer, call, client, free_addr, pct, start_server};
use http_body_util::{BodyExt, Full};
use std::time::Instant;

const KEY: &str = "AKIDBENCHCONSOLE";
const SECRET: &str = "bench-console-secret";
const ACCOUNT: &str = "100000000007";
const INCIDENTS: usize = 1_000;
const EVENTS: usize = 500;
const RUNS: usize = 300;

fn get(addr: &str, path: &str, cookie: &str) -> Request {
    hyper::Request::builder()
        .uri(format!("http://{addr}{path}"))
        .header("cookie", cookie)
        .body(Full::default())
        .unwrap()
}

async fn incidents_ok(
    http: &Http,
    s: &Signer,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, out) = call(http, s.incidents(path, body.to_string())).await;
    assert!(status < 300, "{path}: {status} {out}");
    out
}

async fn sign_in(http: &Http, addr: &str) -> String {
    let req = hyper::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}/console/sign-in"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::from(format!(
            "access_key_id={KEY}&secret_access_key={SECRET}"
        )))
        .unwrap();
    let resp = http.request(req).await.unwrap();
    assert_eq!(resp.status(), 303);
    let set = resp.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// Milliseconds to the response head (TTFB) and to the last byte, `RUNS` times.
async fn ttfb(
    http: &Http,
    addr: &str,
    path: &str,
    cookie: &str,
    expect: &str,
) -> (Vec<f64>, Vec<f64>) {
    let (mut first, mut last) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let t = Instant::now();
        let resp = http.request(get(addr, path, cookie)).await.unwrap();
        first.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(resp.status(), 200, "{path}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        last.push(t.elapsed().as_secs_f64() * 1000.0);
        assert!(
            std::str::from_utf8(&body).unwrap().contains(expect),
            "{path} lacks {expect}"
        );
    }
    (first, last)
}

fn row(name: &str, (first, last): (Vec<f64>, Vec<f64>)) {
    println!(
        "  {name:<44} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        pct(first.clone(), 0.5),
        pct(first, 0.99),
        pct(last.clone(), 0.5),
        pct(last, 0.99)
    );
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let http = client();
    let s = Signer {
        addr: addr.clone(),
        key: KEY.into(),
        secret: SECRET.into(),
    };
    let env = [
        ("KLAXON_ACCESS_KEY_ID", KEY),
        ("KLAXON_SECRET_ACCESS_KEY", SECRET),
        ("KLAXON_ACCOUNT_ID", ACCOUNT),
    ];
    let (_server, _) = start_server(&http, &s, dir.path(), &["--time-scale", "1000"], &env).await;
    incidents_ok(
        &http,
        &s,
        "/createReplicationSet",
        serde_json::json!({"regions": {"us-east-1": {}}}),
    )
    .await;
    // time_scale 1000 shortens the 2 s settle time to 2 ms.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    incidents_ok(
        &http,
        &s,
        "/createResponsePlan",
        serde_json::json!({"name": "bench", "incidentTemplate": {"title": "bench", "impact": 3}}),
    )
    .await;
    let seeding = Instant::now();
    let mut arns = Vec::new();
    for i in 0..INCIDENTS {
        let out = incidents_ok(
            &http,
            &s,
            "/startIncident",
            serde_json::json!({
                "responsePlanArn": format!("arn:aws:ssm-incidents::{ACCOUNT}:response-plan/bench"),
                "title": format!("Incident {i}: checkout errors"),
                "impact": 1 + (i % 5),
            }),
        )
        .await;
        arns.push(out["incidentRecordArn"].as_str().unwrap().to_string());
    }
    for arn in &arns[..INCIDENTS / 2] {
        incidents_ok(
            &http,
            &s,
            "/updateIncidentRecord",
            serde_json::json!({"arn": arn, "status": "RESOLVED"}),
        )
        .await;
    }
    let busy = arns.last().unwrap().clone();
    let now = common::now_secs();
    for i in 1..EVENTS {
        incidents_ok(
            &http,
            &s,
            "/createTimelineEvent",
            serde_json::json!({
                "incidentRecordArn": busy, "eventTime": now + i as i64,
                "eventType": "Custom Event", "eventData": format!("\"step {i} of the rollback\""),
            }),
        )
        .await;
    }
    println!(
        "seeded {INCIDENTS} incidents ({} resolved) and a {EVENTS}-event timeline through the API in {:.1} s",
        INCIDENTS / 2,
        seeding.elapsed().as_secs_f64()
    );
    let cookie = sign_in(&http, &addr).await;
    let page = format!(
        "/console/incidents/{}",
        busy.split_once(":incident-record/").unwrap().1
    );
    // The token of the timeline's last page, as the page's "Later events" link gives it.
    let mut last_page = page.clone();
    loop {
        let resp = http.request(get(&addr, &last_page, &cookie)).await.unwrap();
        let body = String::from_utf8(
            resp.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .to_vec(),
        )
        .unwrap();
        let Some(end) = body.find(">Later events</a>") else {
            break;
        };
        let start = body[..end].rfind("href=\"").unwrap() + 6;
        let href = &body[start..end];
        last_page = href[..href.find('"').unwrap()]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/");
    }
    for _ in 0..20 {
        ttfb(&http, &addr, "/console/incidents", &cookie, "Incident 999").await;
    }
    println!("\nconsole pages, {RUNS} sequential requests each (ms)");
    println!(
        "  {:<44} {:>8} {:>8} {:>8} {:>8}",
        "page", "TTFB p50", "TTFB p99", "full p50", "full p99"
    );
    row(
        "/healthz (floor)",
        ttfb(&http, &addr, "/healthz", &cookie, "ok").await,
    );
    row(
        "/console/incidents (1,000 incidents)",
        ttfb(&http, &addr, "/console/incidents", &cookie, "Incident 999").await,
    );
    row(
        "incident page, first 100 of 500 events",
        ttfb(&http, &addr, &page, &cookie, "step 98 of").await,
    );
    row(
        "incident page, last page of 500 events",
        ttfb(&http, &addr, &last_page, &cookie, "step 499 of").await,
    );
    row(
        "/console/engagements",
        ttfb(
            &http,
            &addr,
            "/console/engagements",
            &cookie,
            "Running engagements",
        )
        .await,
    );
}
