//! ListRotationShifts for a one-year window of a daily rotation with 30 members and 50
//! overrides, for a rotation that started 10 years ago and one that started yesterday: the
//! cost must not depend on the rotation's age. Measured through the API (signed requests to an
//! in-process server on SQLite) and for the shift calculator alone.
//! Run with `cargo bench --bench rotations`.

mod common;

use common::pct;

use common::{client, contacts_ok};
use klaxon::config::Config;
use klaxon::domain::clock::{Clock, SystemClock};
use serde_json::json;
use std::time::Instant;

const KEY: &str = "AKIDBENCHROTATION";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "100000000010";
const DAY: i64 = 86_400_000;
const CALLS: usize = 200;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        credentials: vec![common::credential(KEY, SECRET, ACCOUNT)],
        ..Config::default()
    };
    let (running, s) = common::in_process(&config).await;
    let http = client();
    let mut members = Vec::new();
    for i in 0..30 {
        let out = contacts_ok(
            &http,
            &s,
            "CreateContact",
            json!({"Alias": format!("m{i}"), "Type": "PERSONAL", "Plan": {"Stages": []}}),
        )
        .await;
        members.push(out["ContactArn"].as_str().unwrap().to_string());
    }
    let now = SystemClock.now_ms() / 1000 * 1000;
    println!(
        "ListRotationShifts, one-year window, daily rotation, 30 members, 50 overrides ({CALLS} calls each)"
    );
    for (label, started) in [
        ("started 10 years ago", now - 3652 * DAY),
        ("started yesterday", now - DAY),
    ] {
        let rotation = contacts_ok(&http, &s, "CreateRotation", json!({
            "Name": label, "ContactIds": members, "StartTime": started as f64 / 1000.0,
            "TimeZoneId": "America/New_York",
            "Recurrence": {"NumberOfOnCalls": 1, "RecurrenceMultiplier": 1, "DailySettings": [{"HourOfDay": 9, "MinuteOfHour": 0}]},
        }))
        .await["RotationArn"]
            .as_str()
            .unwrap()
            .to_string();
        for k in 0..50i64 {
            let from = now + k * 7 * DAY + DAY / 3;
            contacts_ok(
                &http,
                &s,
                "CreateRotationOverride",
                json!({
                    "RotationId": rotation, "NewContactIds": [members[(k % 30) as usize]],
                    "StartTime": from as f64 / 1000.0, "EndTime": (from + DAY) as f64 / 1000.0,
                }),
            )
            .await;
        }
        let body = json!({"RotationId": rotation, "StartTime": now as f64 / 1000.0, "EndTime": (now + 365 * DAY) as f64 / 1000.0, "MaxResults": 1024});
        let mut api = Vec::new();
        let mut shifts = 0;
        for _ in 0..CALLS {
            let t = Instant::now();
            let out = contacts_ok(&http, &s, "ListRotationShifts", body.clone()).await;
            api.push(t.elapsed().as_secs_f64() * 1000.0);
            shifts = out["RotationShifts"].as_array().unwrap().len();
        }
        let store = running.store.clone();
        let mut r = store.read().await.unwrap();
        let (rot, overrides) = klaxon::handlers::contacts::records::calculator_for::<
            klaxon::engine::error::EngineError,
        >(r.as_mut(), ACCOUNT, &rotation)
        .await
        .unwrap()
        .unwrap();
        let mut pure = Vec::new();
        for _ in 0..CALLS {
            let t = Instant::now();
            let n = klaxon::domain::rotation::shifts(&rot, &overrides, now, now + 365 * DAY).len();
            pure.push(t.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(n, shifts);
        }
        println!(
            "  {label:<22} {shifts} shifts | API p50 {:.2} ms p99 {:.2} ms | calculator p50 {:.3} ms p99 {:.3} ms",
            pct(api.clone(), 0.5),
            pct(api, 0.99),
            pct(pure.clone(), 0.5),
            pct(pure, 0.99)
        );
    }
    running.stop().await;
}
