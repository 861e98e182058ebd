//! SSM Incidents under load, on SQLite and on PostgreSQL: StartIncident and
//! ListIncidentRecords at 16 concurrent clients, and the latency of every page of a
//! ListIncidentRecords walk over 1 k and over 100 k incident records (keyset paging should
//! keep a page's cost independent of how many records there are or how deep the page is).
//! Run with `cargo bench --bench incidents`. `KLAXON_BENCH_SECS` sets the length of each
//! rate measurement (default 3 s); `KLAXON_BENCH_POSTGRES` the server database (default
//! postgres://postgres@127.0.0.1:5432/test), in which a scratch database is created and dropped.

mod common;

use common::{Figures, Signer, call, client, free_addr, measure, start_server};
use klaxon::handlers::incidents::records::{INCIDENT, IncidentBody};
use klaxon::handlers::incidents::time_key;
use klaxon::shapes::Timestamp;
use klaxon::shapes::incidents::{IncidentRecord, IncidentRecordSource, IncidentRecordStatus};
use klaxon::storage::Record;
use sqlx::Connection;
use std::sync::Arc;
use std::time::Instant;

const SECRET: &str = "bench-secret";
/// The account that takes the concurrent load, then the two fixed-size accounts for the walk.
const LOAD: (&str, &str) = ("AKIDBENCHLOAD", "100000000000");
const SMALL: (&str, &str, usize) = ("AKIDBENCHSMALL", "100000000001", 1_000);
const LARGE: (&str, &str, usize) = ("AKIDBENCHLARGE", "100000000002", 100_000);

fn signer(addr: &str, key: &str) -> Arc<Signer> {
    Arc::new(Signer {
        addr: addr.into(),
        key: key.into(),
        secret: SECRET.into(),
    })
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let mut toml = String::from("time_scale = 1000.0\n");
    for (key, account) in [(LOAD.0, LOAD.1), (SMALL.0, SMALL.1), (LARGE.0, LARGE.1)] {
        toml.push_str(&format!(
            "[[credentials]]\naccess_key_id = \"{key}\"\nsecret_access_key = \"{SECRET}\"\naccount_id = \"{account}\"\n"
        ));
    }
    let path = dir.join("bench.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

/// Writes `n` incident records straight into the store: seeding 100 k through the API would
/// take longer than the measurement it serves.
async fn seed(url: &str, account: &str, n: usize) {
    let store = klaxon::storage::open(url).await.expect("store opens");
    let start = 1_700_000_000_000i64;
    let mut tx = store.begin().await.unwrap();
    for i in 0..n {
        let created = start + i as i64 * 1000;
        let arn = format!(
            "arn:aws:ssm-incidents::{account}:incident-record/bench/{}",
            uuid::Uuid::new_v4()
        );
        let record = IncidentRecord {
            arn: Some(arn.clone()),
            creation_time: Some(Timestamp::from_millis(created)),
            dedupe_string: Some(uuid::Uuid::new_v4().to_string()),
            impact: Some(1 + (i % 5) as i32),
            incident_record_source: Some(IncidentRecordSource {
                created_by: Some(format!("arn:aws:iam::{account}:user/bench")),
                source: Some("aws.ssm-incidents.custom".into()),
                ..Default::default()
            }),
            last_modified_by: Some(format!("arn:aws:iam::{account}:user/bench")),
            last_modified_time: Some(Timestamp::from_millis(created)),
            status: Some(IncidentRecordStatus::Open),
            title: Some(format!("seeded incident {i}")),
            ..Default::default()
        };
        let body = IncidentBody {
            record,
            plan_arn: format!("arn:aws:ssm-incidents::{account}:response-plan/bench"),
            dedupe_indexed: false,
        };
        tx.insert(&Record {
            kind: INCIDENT.into(),
            account: account.into(),
            id: arn,
            parent: Some(body.plan_arn.clone()),
            sort: time_key(created),
            body: serde_json::to_string(&body).unwrap(),
            created_ms: created,
            updated_ms: created,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
}

/// Per-page latency of walking every page (100 records each), `rounds` times.
async fn walk(client: &common::Http, s: &Signer, expected: usize, rounds: usize) -> Figures {
    let mut lat = Vec::new();
    let started = Instant::now();
    for _ in 0..rounds {
        let mut token: Option<String> = None;
        let mut seen = 0;
        loop {
            let body = match &token {
                Some(t) => format!("{{\"maxResults\":100,\"nextToken\":\"{t}\"}}"),
                None => "{\"maxResults\":100}".to_string(),
            };
            let t = Instant::now();
            let (status, out) = call(client, s.incidents("/listIncidentRecords", body)).await;
            lat.push(t.elapsed().as_micros() as u64);
            assert_eq!(status, 200, "{out}");
            seen += out["incidentRecordSummaries"].as_array().unwrap().len();
            match out["nextToken"].as_str() {
                Some(t) => token = Some(t.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "the walk sees every record once");
    }
    Figures::from_latencies(lat, started.elapsed().as_secs_f64(), 0)
}

async fn setup_incidents(client: &common::Http, s: &Signer) {
    let (status, out) = call(
        client,
        s.incidents(
            "/createReplicationSet",
            "{\"regions\":{\"us-east-1\":{}}}".into(),
        ),
    )
    .await;
    assert_eq!(status, 201, "{out}");
    // time_scale 1000 shortens the 2 s settle time to 2 ms.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (status, out) = call(
        client,
        s.incidents(
            "/createResponsePlan",
            "{\"name\":\"bench\",\"incidentTemplate\":{\"title\":\"bench\",\"impact\":3}}".into(),
        ),
    )
    .await;
    assert_eq!(status, 201, "{out}");
}

fn row(name: &str, f: &Figures) {
    println!(
        "  {name:<34} {:>9.0} {:>9.2} {:>9.2} {:>7}",
        f.rate,
        f.p50_us as f64 / 1000.0,
        f.p99_us as f64 / 1000.0,
        f.errors
    );
}

async fn run(backend: &str, database_url: &str, secs: f64) {
    let dir = tempfile::tempdir().unwrap();
    let seeding = Instant::now();
    seed(database_url, SMALL.1, SMALL.2).await;
    seed(database_url, LARGE.1, LARGE.2).await;
    let seed_secs = seeding.elapsed().as_secs_f64();
    let addr = free_addr();
    let client = client();
    let load = signer(&addr, LOAD.0);
    let cfg = config(dir.path());
    let (_server, _) = start_server(
        &client,
        &load,
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--database-url",
            database_url,
        ],
        &[],
    )
    .await;
    setup_incidents(&client, &load).await;
    println!(
        "{backend}: seeded {} + {} records directly in {seed_secs:.1} s",
        SMALL.2, LARGE.2
    );
    println!(
        "  {:<34} {:>9} {:>9} {:>9} {:>7}",
        "measurement", "req/s", "p50 ms", "p99 ms", "errors"
    );
    let s = load.clone();
    let start = measure(
        &client,
        move |n| {
            s.incidents(
                "/startIncident",
                format!(
                    "{{\"responsePlanArn\":\"arn:aws:ssm-incidents::{}:response-plan/bench\",\"title\":\"load {n}\"}}",
                    LOAD.1
                ),
            )
        },
        16,
        secs,
    )
    .await;
    row("StartIncident, 16 clients", &start);
    let s = load.clone();
    let list = measure(
        &client,
        move |_| s.incidents("/listIncidentRecords", "{\"maxResults\":100}".into()),
        16,
        secs,
    )
    .await;
    row("ListIncidentRecords(100), 16 clients", &list);
    let small = walk(&client, &signer(&addr, SMALL.0), SMALL.2, 20).await;
    row("page of a 1 k walk, 1 client", &small);
    let large = walk(&client, &signer(&addr, LARGE.0), LARGE.2, 1).await;
    row("page of a 100 k walk, 1 client", &large);
}

/// A scratch database on the Postgres server, or why there is none.
async fn scratch_database(admin_url: &str) -> Result<(String, String), String> {
    let name = format!("klaxon_bench_{}", std::process::id());
    let mut c = sqlx::postgres::PgConnection::connect(admin_url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut c)
        .await
        .map_err(|e| e.to_string())?;
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b)
        .unwrap_or(admin_url);
    Ok((format!("{base}/{name}"), name))
}

async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut c) = sqlx::postgres::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut c)
        .await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let secs = common::secs_per_measurement();
    println!(
        "klaxon incidents benchmark: release binary, loopback, {secs} s per rate measurement, 2-core machine shared by client, server and database"
    );
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    run("SQLite", &sqlite, secs).await;

    let admin = std::env::var("KLAXON_BENCH_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    match scratch_database(&admin).await {
        Ok((url, name)) => {
            run("PostgreSQL", &url, secs).await;
            drop_database(&admin, &name).await;
        }
        Err(e) => println!("PostgreSQL: skipped, no scratch database ({e})"),
    }
}
