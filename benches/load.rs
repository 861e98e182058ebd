//! Request rate and latency of signed API calls against the release `klaxon` binary on
//! loopback (SQLite), with an unsigned `/healthz` baseline measured in the same run; plus
//! start-up time and resident memory. Run with `cargo bench --bench load`.
//! `KLAXON_BENCH_SECS` sets the length of each measurement (default 3 s).

mod common;

use common::{Signer, call, client, free_addr, measure, rss_kb, start_server};
use std::sync::Arc;
use std::time::Duration;

const KEY: &str = "AKIDBENCH";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "123456789012";

#[derive(Clone)]
enum Op {
    Healthz,
    GetContact,
    GetContactChannel(Arc<String>),
    CreateContact,
}

/// A read's request signed once per second and reused, as wrk replays one signed request: the
/// server still checks every signature, but the client's own signing cost (HMACs on the same
/// two cores) stays out of the server's figure.
struct Presigned {
    cache: std::sync::Mutex<Option<(i64, common::Request)>>,
}

fn copy(r: &common::Request) -> common::Request {
    let mut out = hyper::Request::builder()
        .method(r.method().clone())
        .uri(r.uri().clone())
        .body(r.body().clone())
        .unwrap();
    *out.headers_mut() = r.headers().clone();
    out
}

impl Presigned {
    fn get(&self, make: impl FnOnce() -> common::Request) -> common::Request {
        let now = common::now_secs();
        let mut c = self.cache.lock().unwrap();
        match &*c {
            Some((at, r)) if *at == now => copy(r),
            _ => {
                let r = make();
                let out = copy(&r);
                *c = Some((now, r));
                out
            }
        }
    }
}

fn request(s: &Signer, op: &Op, seq: u64) -> common::Request {
    match op {
        Op::GetContactChannel(arn) => s.contacts(
            "GetContactChannel",
            format!("{{\"ContactChannelId\":\"{arn}\"}}"),
        ),
        Op::Healthz => s.healthz(),
        Op::GetContact => s.contacts(
            "GetContact",
            format!("{{\"ContactId\":\"arn:aws:ssm-contacts:us-east-1:{ACCOUNT}:contact/bench\"}}"),
        ),
        Op::CreateContact => s.contacts(
            "CreateContact",
            format!(
                "{{\"Alias\":\"b-{seq}-{}\",\"Type\":\"PERSONAL\",\"Plan\":{{\"Stages\":[]}}}}",
                std::process::id()
            ),
        ),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let secs = common::secs_per_measurement();
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(Signer {
        addr: free_addr(),
        key: KEY.into(),
        secret: SECRET.into(),
    });
    let client = client();
    let env = [
        ("KLAXON_ACCESS_KEY_ID", KEY),
        ("KLAXON_SECRET_ACCESS_KEY", SECRET),
        ("KLAXON_ACCOUNT_ID", ACCOUNT),
    ];
    let (server, startup) = start_server(&client, &signer, dir.path(), &[], &env).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.0.id();
    let idle_rss = rss_kb(pid);

    let seed = signer.contacts(
        "CreateContact",
        "{\"Alias\":\"bench\",\"Type\":\"PERSONAL\",\"Plan\":{\"Stages\":[]}}".to_string(),
    );
    assert_eq!(call(&client, seed).await.0, 200, "seed contact created");
    let channel = signer.contacts(
        "CreateContactChannel",
        format!("{{\"ContactId\":\"arn:aws:ssm-contacts:us-east-1:{ACCOUNT}:contact/bench\",\"Name\":\"mail\",\"Type\":\"EMAIL\",\"DeliveryAddress\":{{\"SimpleAddress\":\"bench@example.com\"}},\"DeferActivation\":true}}"),
    );
    let (status, body) = call(&client, channel).await;
    assert_eq!(status, 200, "seed channel created: {body}");
    let channel = Arc::new(body["ContactChannelArn"].as_str().unwrap().to_string());

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
        let s = signer.clone();
        let base = measure(&client, move |n| request(&s, &Op::Healthz, n), conc, secs).await;
        for (name, op) in [
            ("healthz", Op::Healthz),
            ("GetContact", Op::GetContact),
            ("GetContactChan", Op::GetContactChannel(channel.clone())),
            ("CreateContact", Op::CreateContact),
        ] {
            let r = match op {
                Op::Healthz => base,
                Op::CreateContact => {
                    let s = signer.clone();
                    measure(&client, move |n| request(&s, &op, n), conc, secs).await
                }
                _ => {
                    let s = signer.clone();
                    let p = Presigned {
                        cache: std::sync::Mutex::new(None),
                    };
                    measure(&client, move |n| p.get(|| request(&s, &op, n)), conc, secs).await
                }
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
    drop(server);
    bare_commits(secs).await;
}

/// The floor under CreateContact: one-row write transactions straight through sqlx on an SQLite
/// file with Klaxon's settings (WAL, synchronous=NORMAL, one writer connection, BEGIN
/// IMMEDIATE), no HTTP, no SigV4, no JSON; and the same with synchronous=FULL (an fsync per
/// commit) for comparison.
async fn bare_commits(secs: f64) {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    for (label, sync) in [
        ("NORMAL", SqliteSynchronous::Normal),
        ("FULL", SqliteSynchronous::Full),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let opts = SqliteConnectOptions::new()
            .filename(dir.path().join("bare.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(sync)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        for conc in [1usize, 16, 64] {
            let deadline = std::time::Instant::now() + Duration::from_secs_f64(secs);
            let started = std::time::Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..conc {
                let pool = pool.clone();
                tasks.push(tokio::spawn(async move {
                    let mut lat = Vec::new();
                    while std::time::Instant::now() < deadline {
                        let t = std::time::Instant::now();
                        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                        sqlx::query("INSERT INTO t (body) VALUES (?1)")
                            .bind("{\"Alias\":\"bench\",\"Type\":\"PERSONAL\"}")
                            .execute(&mut *tx)
                            .await
                            .unwrap();
                        tx.commit().await.unwrap();
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    lat
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.unwrap());
            }
            let f = common::Figures::from_latencies(all, started.elapsed().as_secs_f64(), 0);
            println!(
                "bare SQLite commit loop, synchronous={label:<6} {conc:>3} tasks: {:>8.0} commits/s p50 {:.2} ms p99 {:.2} ms",
                f.rate,
                f.p50_us as f64 / 1000.0,
                f.p99_us as f64 / 1000.0
            );
        }
    }
}
