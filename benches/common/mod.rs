//! What the load benchmarks share: the release server as a child process, signed requests,
//! and a closed-loop load generator that reports rate and latency percentiles.

#![allow(dead_code)]

pub mod bursts;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub type Http = Client<HttpConnector, Full<Bytes>>;
pub type Request = hyper::Request<Full<Bytes>>;

pub fn client() -> Http {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build_http()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn secs_per_measurement() -> f64 {
    std::env::var("KLAXON_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0)
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

pub struct Signer {
    pub addr: String,
    pub key: String,
    pub secret: String,
}

impl Signer {
    pub fn healthz(&self) -> Request {
        hyper::Request::get(format!("http://{}/healthz", self.addr))
            .body(Full::new(Bytes::new()))
            .unwrap()
    }

    /// An awsJson1_1 SSM Contacts call.
    pub fn contacts(&self, target: &str, body: String) -> Request {
        let headers = vec![
            ("host".to_string(), self.addr.clone()),
            (
                "content-type".to_string(),
                "application/x-amz-json-1.1".to_string(),
            ),
            ("x-amz-target".to_string(), format!("SSMContacts.{target}")),
        ];
        self.signed("POST", "/", headers, body, "ssm-contacts")
    }

    /// A restJson1 SSM Incidents call with a JSON body.
    pub fn incidents(&self, path: &str, body: String) -> Request {
        let headers = vec![
            ("host".to_string(), self.addr.clone()),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        self.signed("POST", path, headers, body, "ssm-incidents")
    }

    fn signed(
        &self,
        method: &str,
        path: &str,
        headers: Vec<(String, String)>,
        body: String,
        service: &str,
    ) -> Request {
        let signed = klaxon::wire::sigv4::sign(
            method,
            path,
            "",
            &headers,
            body.as_bytes(),
            &self.key,
            &self.secret,
            "us-east-1",
            service,
            now_secs(),
        );
        let mut b = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr));
        for (n, v) in headers.iter().chain(signed.iter()) {
            b = b.header(n.as_str(), v.as_str());
        }
        b.body(Full::new(Bytes::from(body))).unwrap()
    }
}

/// Sends one request; the status and the parsed JSON body (Null when empty).
/// A signed SSM Contacts call that must succeed (set-up, not measurement).
pub async fn contacts_ok(
    http: &Http,
    s: &Signer,
    op: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let (status, out) = call(http, s.contacts(op, body.to_string())).await;
    assert_eq!(status, 200, "{op}: {out}");
    out
}

/// A contact with one email channel (activation deferred) whose plan has `waiting` stages of 30
/// minutes before a last one: each engagement of it stays open with its next stage waiting as a
/// timer. Returns the contact's ARN.
pub async fn waiting_contact(http: &Http, s: &Signer, alias: &str, waiting: usize) -> String {
    let c = contacts_ok(
        http,
        s,
        "CreateContact",
        serde_json::json!({"Alias": alias, "Type": "PERSONAL", "Plan": {"Stages": []}}),
    )
    .await["ContactArn"]
        .as_str()
        .unwrap()
        .to_string();
    let ch = contacts_ok(
        http,
        s,
        "CreateContactChannel",
        serde_json::json!({"ContactId": c, "Name": "m", "Type": "EMAIL",
            "DeliveryAddress": {"SimpleAddress": format!("{alias}@example.com")},
            "DeferActivation": true}),
    )
    .await["ContactChannelArn"]
        .as_str()
        .unwrap()
        .to_string();
    let target = serde_json::json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
    let mut stages: Vec<serde_json::Value> = (0..waiting)
        .map(|_| serde_json::json!({"DurationInMinutes": 30, "Targets": [target]}))
        .collect();
    stages.push(serde_json::json!({"DurationInMinutes": 0, "Targets": [target]}));
    contacts_ok(
        http,
        s,
        "UpdateContact",
        serde_json::json!({"ContactId": c, "Plan": {"Stages": stages}}),
    )
    .await;
    c
}

pub async fn call(client: &Http, req: Request) -> (u16, serde_json::Value) {
    let resp = client.request(req).await.expect("request sent");
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

#[derive(Clone, Copy)]
pub struct Figures {
    pub rate: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub errors: u64,
}

impl Figures {
    pub fn from_latencies(mut all: Vec<u64>, elapsed_secs: f64, errors: u64) -> Figures {
        all.sort_unstable();
        let pct = |p: f64| {
            all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0)
        };
        Figures {
            rate: all.len() as f64 / elapsed_secs,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            errors,
        }
    }
}

/// Runs `concurrency` closed-loop clients for `secs`, each sending `make(n)` with a run-wide
/// sequence number `n`.
pub async fn measure<F>(client: &Http, make: F, concurrency: usize, secs: f64) -> Figures
where
    F: Fn(u64) -> Request + Send + Sync + 'static,
{
    static SEQ: AtomicU64 = AtomicU64::new(1);
    let make = Arc::new(make);
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, make, errors) = (client.clone(), make.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let n = SEQ.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match client.request(make(n)).await {
                    Ok(resp) => {
                        let status = resp.status();
                        let body = resp
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        if !status.is_success() && errors.fetch_add(1, Ordering::Relaxed) == 0 {
                            eprintln!("first error: {status} {}", String::from_utf8_lossy(&body));
                        }
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                lat.push(t.elapsed().as_micros() as u64);
            }
            lat
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    Figures::from_latencies(all, elapsed, errors.load(Ordering::Relaxed))
}

pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the release binary and waits until /healthz answers; returns it with its start-up time.
pub async fn start_server(
    client: &Http,
    signer: &Signer,
    data_dir: &std::path::Path,
    extra_args: &[&str],
    env: &[(&str, &str)],
) -> (Server, Duration) {
    let t0 = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_klaxon"));
    cmd.args(["serve", "--listen", &signer.addr, "--data-dir"])
        .arg(data_dir)
        .args(extra_args)
        .env("KLAXON_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let server = Server(cmd.spawn().expect("the klaxon binary starts"));
    loop {
        if let Ok(r) = client.request(signer.healthz()).await
            && r.status().is_success()
        {
            return (server, t0.elapsed());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "server did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// The `p` quantile (0..=1) of some figures; NaN when there are none.
pub fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 * p) as usize).min(v.len() - 1)]
}

/// One API key for the benchmark's account.
pub fn credential(key: &str, secret: &str, account: &str) -> klaxon::config::CredentialConfig {
    klaxon::config::CredentialConfig {
        access_key_id: key.into(),
        secret_access_key: Some(klaxon::config::Secret::new(secret)),
        secret_access_key_file: None,
        account_id: account.into(),
    }
}

/// The server in this process, on the real clock with its engine loop and configured delivery,
/// and a signer for its first credential.
pub async fn in_process(config: &klaxon::config::Config) -> (klaxon::app::Running, Signer) {
    let running = klaxon::app::start(
        config,
        klaxon::app::Options {
            clock: Arc::new(klaxon::domain::clock::SystemClock),
            delivery: None,
            engine_loop: true,
        },
    )
    .await
    .expect("server starts");
    let c = &config.credentials[0];
    let signer = Signer {
        addr: running.addr.to_string(),
        key: c.access_key_id.clone(),
        secret: c
            .secret_access_key
            .as_ref()
            .map(|s| s.expose().to_string())
            .unwrap_or_default(),
    };
    (running, signer)
}
