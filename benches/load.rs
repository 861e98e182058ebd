//! Request rate and latency of signed API calls against the release `klaxon` binary on
//! loopback (SQLite), with an unsigned `/healthz` baseline measured in the same run; plus
//! start-up time and resident memory. Run with `cargo bench --bench load`.
//! `KLAXON_BENCH_SECS` sets the length of each measurement (default 3 s).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const KEY: &str = "AKIDBENCH";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "123456789012";

/// Aliases stay unique across every measurement of the run.
static SEQ: AtomicU64 = AtomicU64::new(1);

type Http = Client<HttpConnector, Full<Bytes>>;

#[derive(Clone, Copy)]
enum Op {
    Healthz,
    /// Creates the contact that GetContact reads.
    Seed,
    GetContact,
    CreateContact,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn rss_kb(pid: u32) -> u64 {
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

fn request(addr: &str, op: Op, seq: u64) -> hyper::Request<Full<Bytes>> {
    let (target, body) = match op {
        Op::Healthz => {
            return hyper::Request::get(format!("http://{addr}/healthz"))
                .body(Full::new(Bytes::new()))
                .unwrap();
        }
        Op::Seed => (
            "SSMContacts.CreateContact",
            "{\"Alias\":\"bench\",\"Type\":\"PERSONAL\",\"Plan\":{\"Stages\":[]}}".to_string(),
        ),
        Op::GetContact => (
            "SSMContacts.GetContact",
            format!("{{\"ContactId\":\"arn:aws:ssm-contacts:us-east-1:{ACCOUNT}:contact/bench\"}}"),
        ),
        Op::CreateContact => (
            "SSMContacts.CreateContact",
            format!(
                "{{\"Alias\":\"b-{seq}-{}\",\"Type\":\"PERSONAL\",\"Plan\":{{\"Stages\":[]}}}}",
                std::process::id()
            ),
        ),
    };
    let headers = vec![
        ("host".to_string(), addr.to_string()),
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        ("x-amz-target".to_string(), target.to_string()),
    ];
    let signed = klaxon::wire::sigv4::sign(
        "POST",
        "/",
        "",
        &headers,
        body.as_bytes(),
        KEY,
        SECRET,
        "us-east-1",
        "ssm-contacts",
        now_secs(),
    );
    let mut b = hyper::Request::post(format!("http://{addr}/"));
    for (n, v) in headers.iter().chain(signed.iter()) {
        b = b.header(n.as_str(), v.as_str());
    }
    b.body(Full::new(Bytes::from(body))).unwrap()
}

struct Result {
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
}

async fn measure(client: &Http, addr: &str, op: Op, concurrency: usize, secs: f64) -> Result {
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, addr, errors) = (client.clone(), addr.to_string(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let n = SEQ.fetch_add(1, Ordering::Relaxed);
                let t = Instant::now();
                match client.request(request(&addr, op, n)).await {
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
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    };
    Result {
        rate: all.len() as f64 / elapsed,
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let secs: f64 = std::env::var("KLAXON_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let client: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(128)
        .build_http();

    let t0 = Instant::now();
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_klaxon"))
            .args(["serve", "--listen", &addr, "--data-dir"])
            .arg(dir.path())
            .env("KLAXON_ACCESS_KEY_ID", KEY)
            .env("KLAXON_SECRET_ACCESS_KEY", SECRET)
            .env("KLAXON_ACCOUNT_ID", ACCOUNT)
            .env("KLAXON_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the klaxon binary starts"),
    );
    let startup = loop {
        if let Ok(r) = client.request(request(&addr, Op::Healthz, 0)).await
            && r.status().is_success()
        {
            break t0.elapsed();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "server did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.0.id();
    let idle_rss = rss_kb(pid);

    let resp = client.request(request(&addr, Op::Seed, 0)).await.unwrap();
    assert!(resp.status().is_success(), "seed contact created");

    println!(
        "klaxon load benchmark: release binary, SQLite, loopback, {secs} s per measurement, 2-core machine shared by client and server"
    );
    println!(
        "start-up to first healthy /healthz: {:.0} ms",
        startup.as_secs_f64() * 1000.0
    );
    println!(
        "idle RSS after start-up: {:.1} MB",
        idle_rss as f64 / 1024.0
    );
    println!(
        "{:<14} {:>5} {:>10} {:>9} {:>9} {:>7} {:>9}",
        "operation", "conc", "req/s", "p50 ms", "p99 ms", "errors", "vs health"
    );
    for conc in [1usize, 16, 64] {
        let base = measure(&client, &addr, Op::Healthz, conc, secs).await;
        for (name, op) in [
            ("healthz", Op::Healthz),
            ("GetContact", Op::GetContact),
            ("CreateContact", Op::CreateContact),
        ] {
            let r = if matches!(op, Op::Healthz) {
                Result {
                    rate: base.rate,
                    p50_us: base.p50_us,
                    p99_us: base.p99_us,
                    errors: base.errors,
                }
            } else {
                measure(&client, &addr, op, conc, secs).await
            };
            println!(
                "{name:<14} {conc:>5} {:>10.0} {:>9.2} {:>9.2} {:>7} {:>8.0}%",
                r.rate,
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
                r.errors,
                100.0 * r.rate / base.rate
            );
        }
    }
    println!("RSS after load: {:.1} MB", rss_kb(pid) as f64 / 1024.0);
}
