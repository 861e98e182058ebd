//! `klaxon import aws` of 1,000 contacts with 2,000 channels, 50 rotations and 100 escalation
//! plans from a stand-in source (a Klaxon in this process, filled through its API), into a
//! fresh data directory (no server listening, so the import runs one in-process): wall time
//! and rate of the first run, then of a second run that finds everything unchanged.
//! Run with `cargo bench --bench import`.

mod common;

use common::{Signer, client, contacts_ok};
use klaxon::config::Config;
use serde_json::json;
use std::time::Instant;

const KEY: &str = "AKIDBENCHIMPORTSRC";
const SECRET: &str = "bench-secret-src";
const ACCOUNT: &str = "100000000021";
const KEY2: &str = "AKIDBENCHIMPORTDST";
const SECRET2: &str = "bench-secret-dst";
const ACCOUNT2: &str = "100000000022";
const CONTACTS: usize = 1000;
const ROTATIONS: usize = 50;
const ESCALATIONS: usize = 100;

async fn fill(http: &common::Http, s: &Signer) -> usize {
    let mut arns = Vec::new();
    for i in 0..CONTACTS {
        let arn = contacts_ok(
            http,
            s,
            "CreateContact",
            json!({
            "Alias": format!("person-{i}"), "DisplayName": format!("Person {i}"),
            "Type": "PERSONAL", "Plan": {"Stages": []}}),
        )
        .await["ContactArn"]
            .as_str()
            .unwrap()
            .to_string();
        for (name, kind, addr) in [
            ("sms", "SMS", format!("+1555{i:07}")),
            ("email", "EMAIL", format!("person-{i}@example.com")),
        ] {
            contacts_ok(
                http,
                s,
                "CreateContactChannel",
                json!({
                "ContactId": arn, "Name": name, "Type": kind,
                "DeliveryAddress": {"SimpleAddress": addr}, "DeferActivation": true}),
            )
            .await;
        }
        arns.push(arn);
    }
    let start = common::now_secs() - 86_400;
    for r in 0..ROTATIONS {
        let members: Vec<&String> = (0..5).map(|k| &arns[(r * 5 + k) % CONTACTS]).collect();
        contacts_ok(
            http,
            s,
            "CreateRotation",
            json!({
            "Name": format!("rotation {r}"), "ContactIds": members, "StartTime": start,
            "TimeZoneId": "Europe/Berlin",
            "Recurrence": {"NumberOfOnCalls": 1, "RecurrenceMultiplier": 1,
                           "DailySettings": [{"HourOfDay": 9, "MinuteOfHour": 0}]}}),
        )
        .await;
    }
    for e in 0..ESCALATIONS {
        let stages: Vec<serde_json::Value> = (0..3)
            .map(|k| {
                json!({"DurationInMinutes": 5, "Targets": [{"ContactTargetInfo": {
                "ContactId": arns[(e * 3 + k) % CONTACTS], "IsEssential": false}}]})
            })
            .collect();
        contacts_ok(
            http,
            s,
            "CreateContact",
            json!({
            "Alias": format!("escalation-{e}"), "Type": "ESCALATION", "Plan": {"Stages": stages}}),
        )
        .await;
    }
    CONTACTS * 3 + ROTATIONS + ESCALATIONS
}

fn import(source: &str, dir: &std::path::Path) -> (f64, String) {
    let t0 = Instant::now();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args([
            "import",
            "aws",
            "--listen",
            &common::free_addr(),
            "--data-dir",
        ])
        .arg(dir)
        .args([
            "--source-endpoint-url",
            source,
            "--source-region",
            "us-east-1",
        ])
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_PROFILE")
        .env("KLAXON_ACCESS_KEY_ID", KEY2)
        .env("KLAXON_SECRET_ACCESS_KEY", SECRET2)
        .env("KLAXON_ACCOUNT_ID", ACCOUNT2)
        .env("KLAXON_LOG", "warn")
        .output()
        .expect("the klaxon binary runs");
    let secs = t0.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, stdout)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let src_dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: src_dir.path().to_path_buf(),
        credentials: vec![common::credential(KEY, SECRET, ACCOUNT)],
        ..Config::default()
    };
    let (running, s) = common::in_process(&config).await;
    let http = client();
    let t0 = Instant::now();
    let n = fill(&http, &s).await;
    println!(
        "source filled: {CONTACTS} contacts, {} channels, {ROTATIONS} rotations, {ESCALATIONS} escalation plans in {:.1} s",
        CONTACTS * 2,
        t0.elapsed().as_secs_f64()
    );
    let source = format!("http://{}", s.addr);
    let dst = tempfile::tempdir().unwrap();
    let d = dst.path().to_path_buf();
    let src = source.clone();
    let (first, out) = tokio::task::spawn_blocking(move || import(&src, &d))
        .await
        .unwrap();
    print!("{out}");
    println!(
        "import: {first:.2} s wall ({:.0} resources/s; target < 30 s)",
        n as f64 / first
    );
    let d = dst.path().to_path_buf();
    let (again, out) = tokio::task::spawn_blocking(move || import(&source, &d))
        .await
        .unwrap();
    print!("{out}");
    println!(
        "re-run, all unchanged: {again:.2} s wall ({:.0} resources/s; target < 10 s)",
        n as f64 / again
    );
    running.stop().await;
}
