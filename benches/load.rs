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

#[derive(Clone, Copy)]
enum Op {
    Healthz,
    GetContact,
    CreateContact,
}

fn request(s: &Signer, op: Op, seq: u64) -> common::Request {
    match op {
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
        let base = measure(&client, move |n| request(&s, Op::Healthz, n), conc, secs).await;
        for (name, op) in [
            ("healthz", Op::Healthz),
            ("GetContact", Op::GetContact),
            ("CreateContact", Op::CreateContact),
        ] {
            let r = if matches!(op, Op::Healthz) {
                base
            } else {
                let s = signer.clone();
                measure(&client, move |n| request(&s, op, n), conc, secs).await
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
