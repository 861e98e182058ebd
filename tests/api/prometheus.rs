//! The shipped alerting rules (config/prometheus/klaxon.rules.yml) against a real Prometheus
//! (Debian's `prometheus`) scraping a test Klaxon: when sends fail, KlaxonProviderSendsFailing
//! becomes active (pending: its `for: 5m` is left to `promtool test rules`), and the rules
//! about a healthy server stay quiet. Under CI=true a missing Prometheus fails the test.

use crate::engagements::{engage, person};
use crate::helpers::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn prometheus() -> Option<String> {
    let bin = std::env::var("KLAXON_PROMETHEUS").unwrap_or_else(|_| "prometheus".into());
    let found = std::process::Command::new(&bin)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(bin);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but Prometheus is not installed (apt-get install prometheus)"
    );
    eprintln!(
        "SKIPPED: Prometheus is not installed (apt-get install prometheus); the rules were not run live"
    );
    None
}

struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn active_alerts(base: &str) -> Vec<serde_json::Value> {
    let Ok(r) = reqwest::get(format!("{base}/api/v1/alerts")).await else {
        return Vec::new();
    };
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    v["data"]["alerts"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_with_the_shipped_rules_sees_failing_sends() {
    let Some(bin) = prometheus() else {
        return;
    };
    let app = spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prometheus/klaxon.rules.yml");
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: klaxon\n    static_configs:\n      - targets: ['{}']\n",
            rules.display(),
            app.running.addr
        ),
    )
    .unwrap();
    let addr = crate::process::free_addr();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let _prom = Killed(
        std::process::Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts"),
    );
    let base = format!("http://{addr}");

    let (contact, _, _) = person(&app, "akuam", 10).await;
    app.sent.fail_next_sends(true);
    let started = Instant::now();
    let failing = loop {
        // Pages keep failing while Prometheus scrapes: the failure counter keeps rising.
        engage(&app, &contact).await;
        app.tick().await;
        let alerts = active_alerts(&base).await;
        if let Some(a) = alerts
            .iter()
            .find(|a| a["labels"]["alertname"] == "KlaxonProviderSendsFailing")
        {
            break a.clone();
        }
        let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no KlaxonProviderSendsFailing within a minute: {alerts:?}\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(failing["labels"]["channel_type"], "SMS", "{failing}");
    assert_eq!(failing["labels"]["job"], "klaxon", "{failing}");
    assert!(
        ["pending", "firing"].contains(&failing["state"].as_str().unwrap()),
        "{failing}"
    );
    let others: Vec<_> = active_alerts(&base)
        .await
        .into_iter()
        .map(|a| a["labels"]["alertname"].as_str().unwrap().to_string())
        .filter(|n| n != "KlaxonProviderSendsFailing")
        .collect();
    assert!(others.is_empty(), "a healthy Klaxon raised {others:?}");
}
