//! Running Klaxon for real: SIGTERM during paging, backups taken while it pages and restored to
//! an equal server, `migrate --check`, `/readyz`, the log format and the watchdog.

use crate::crash::{client, outbox, pages, start_until_refused, three_channel_contact, until};
use crate::helpers::*;
use crate::process::{free_addr, serve, serve_as};
use crate::upgrade::{Snapshot, populate, snapshot};
use klaxon::domain::clock::Clock;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn klaxon(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(args)
        .env_remove("KLAXON_CONFIG")
        .output()
        .expect("klaxon runs")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sigterm(server: &mut crate::process::Server) -> std::process::ExitStatus {
    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let started = Instant::now();
    loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            return status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "klaxon did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn all_engagements(c: &aws_sdk_ssmcontacts::Client) -> usize {
    c.list_engagements()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_paging_exits_0_and_loses_or_doubles_no_page() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut server = serve(dir.path(), &addr).await;
    let c = client(&addr);
    let contact = three_channel_contact(&c, dir.path()).await;
    let starter = start_until_refused(&c, &contact, "sigterm-test");
    until(dir.path(), "paging under way", |l| pages(l).len() >= 30).await;
    let status = sigterm(&mut server);
    assert!(status.success(), "exit status after SIGTERM: {status:?}");
    starter.await.unwrap();
    let log = std::fs::read_to_string(dir.path().join("klaxon.log")).unwrap();
    assert!(!log.contains("panicked"), "{log}");

    let _server = serve(dir.path(), &addr).await;
    let engagements = all_engagements(&client(&addr)).await;
    until(dir.path(), "every page after the restart", |l| {
        let keys = pages(l);
        let unique: std::collections::HashSet<&String> = keys.iter().collect();
        unique.len() >= engagements * 3
    })
    .await;
    let mut times: HashMap<String, usize> = HashMap::new();
    for k in pages(&outbox(dir.path())) {
        *times.entry(k).or_default() += 1;
    }
    assert_eq!(
        times.len(),
        engagements * 3,
        "every stage of every engagement paged"
    );
    let doubled: Vec<_> = times.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "sent twice across the SIGTERM: {doubled:?}"
    );
}

/// Records of the restored server are records of the source (none invented), those the
/// paging load did not touch are equal, and each page's receipts are the source's or the first
/// of them (the backup came before the rest).
fn assert_restored(restored: &Snapshot, source: &Snapshot, before: &Snapshot) {
    for (k, v) in before {
        assert_eq!(restored.get(k), Some(v), "{k} before the backup");
    }
    for (k, v) in restored {
        let Some(now) = source.get(k) else {
            panic!("{k} is in the backup but not in the source");
        };
        if k.starts_with("receipts ") {
            let stem = v.trim_end_matches(']');
            assert!(now.starts_with(stem), "{k}: {v} is not a prefix of {now}");
        } else if !(k.starts_with("page ") || k.starts_with("engagement ")) {
            assert_eq!(v, now, "{k}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_while_paging_restores_to_an_equal_server_that_pages_what_was_open() {
    use aws_sdk_ssmcontacts::types::{AcceptCodeValidation, AcceptType};
    let app = spawn().await;
    populate(&app).await;
    let before = snapshot(&app).await;
    let (load, _, _) = crate::engagements::person(&app, "load", 10).await;
    // Engagements start and pages are acknowledged while the backup is taken.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker = tokio::spawn({
        let (c, stop, app_engine) = (app.contacts(), stop.clone(), app.running.engine.clone());
        let clock = app.clock.clone();
        async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || n < 20 {
                let eng = c
                    .start_engagement()
                    .contact_id(&load)
                    .sender("load")
                    .subject(format!("load {n}"))
                    .content("c")
                    .send()
                    .await
                    .unwrap()
                    .engagement_arn;
                app_engine
                    .tick(klaxon::domain::clock::Clock::now_ms(clock.as_ref()))
                    .await
                    .unwrap();
                if n % 2 == 0 {
                    let pages = c
                        .list_pages_by_engagement()
                        .engagement_id(&eng)
                        .send()
                        .await
                        .unwrap()
                        .pages;
                    for p in pages {
                        c.accept_page()
                            .page_id(&p.page_arn)
                            .accept_type(AcceptType::Read)
                            .accept_code("000000")
                            .accept_code_validation(AcceptCodeValidation::Ignore)
                            .send()
                            .await
                            .unwrap();
                    }
                }
                n += 1;
            }
            n
        }
    });
    until_engagements(&app, 5).await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("paging.backup");
    let data = app.config.data_dir.to_str().unwrap().to_string();
    let out = klaxon(&[
        "backup",
        "--data-dir",
        &data,
        "--to",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("backup written"), "{}", text(&out));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let started = worker.await.unwrap();
    assert!(started >= 20);
    let source = snapshot(&app).await;

    // A non-empty directory and a file that is not a backup are refused in words.
    let out = klaxon(&[
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--data-dir",
        &data,
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("is not empty"), "{}", text(&out));
    let restored_dir = tempfile::tempdir().unwrap();
    let target = restored_dir.path().join("data");
    let target_s = target.to_str().unwrap();
    let not = restored_dir.path().join("notes.txt");
    std::fs::write(&not, "not a backup").unwrap();
    let out = klaxon(&[
        "restore",
        "--from",
        not.to_str().unwrap(),
        "--data-dir",
        target_s,
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("is not a Klaxon backup"),
        "{}",
        text(&out)
    );

    let out = klaxon(&[
        "restore",
        "--from",
        file.to_str().unwrap(),
        "--data-dir",
        target_s,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = spawn_with(Setup {
        database_url: Some(format!("sqlite://{}", target.join("klaxon.db").display())),
        ..Setup::default()
    })
    .await;
    // The restored server's time goes on from the source's (replication sets settle by time).
    let behind = app.clock.now_ms() - restored.clock.now_ms();
    restored.clock.advance_ms(behind.max(0));
    let got = snapshot(&restored).await;
    assert_restored(&got, &source, &before);
    let in_backup = got.keys().filter(|k| k.starts_with("engagement ")).count();
    assert!(
        in_backup
            > before
                .keys()
                .filter(|k| k.starts_with("engagement "))
                .count()
    );

    // The restored server goes on paging: the unacknowledged load pages reach their email
    // stage 10 minutes on.
    restored.clock.advance_ms(11 * 60_000);
    restored.tick().await;
    let emails = restored
        .sent
        .sent()
        .into_iter()
        .filter(|m| {
            m.kind == klaxon::delivery::MessageKind::Page
                && m.delivery_address == "load@example.com"
        })
        .count();
    assert!(emails > 0, "the restored server paged nothing");
}

async fn until_engagements(app: &TestApp, n: usize) {
    let started = Instant::now();
    while all_engagements(&app.contacts()).await < n {
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_backups_restore_and_keep_the_newest() {
    let app = spawn().await;
    populate(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let config = klaxon::config::BackupConfig {
        dir: dir.path().join("backups"),
        every_minutes: 60,
        keep: 2,
    };
    let db = app.config.data_dir.join("klaxon.db");
    let mut taken = Vec::new();
    for n in 0..3 {
        let (file, bytes, removed) =
            klaxon::ops::schedule::take(&config, &db, &app.config.data_dir, 1_000 + n)
                .await
                .unwrap();
        assert!(bytes > 0);
        assert_eq!(removed, if n == 2 { 1 } else { 0 });
        taken.push(file);
    }
    assert!(!taken[0].exists() && taken[1].exists() && taken[2].exists());
    let target = dir.path().join("restored");
    let out = klaxon(&[
        "restore",
        "--from",
        taken[2].to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let restored = spawn_with(Setup {
        database_url: Some(format!("sqlite://{}", target.join("klaxon.db").display())),
        ..Setup::default()
    })
    .await;
    restored.clock.set_ms(app.clock.now_ms());
    assert_eq!(snapshot(&restored).await, snapshot(&app).await);
    // With PostgreSQL, klaxon backup points at pg_dump.
    let out = klaxon(&[
        "backup",
        "--database-url",
        "postgres://klaxon@127.0.0.1:1/none",
        "--to",
        dir.path().join("pg.backup").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("pg_dump"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_check_says_what_a_start_would_run_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = klaxon(&["migrate", "--check", "--data-dir", data]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("schema version 0; would run migration(s) 1, 2 to reach version 2"),
        "{}",
        text(&out)
    );
    assert!(
        !dir.path().join("klaxon.db").exists(),
        "--check created the database"
    );
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/upgrade/0.1.0-schema2/klaxon.db"),
        dir.path().join("klaxon.db"),
    )
    .unwrap();
    let out = klaxon(&["migrate", "--check", "--data-dir", data]);
    assert!(
        text(&out).contains("schema version 2 is current"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_in_json_and_names_a_lost_database() {
    let app = spawn().await;
    let r = raw(&app, "GET", "/readyz", &[], b"", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::json!({"ready": true}));

    let Some(url) = crate::storage::postgres_url().await else {
        return;
    };
    let (db, name) = crate::storage::fresh_database(&url)
        .await
        .expect("a database of its own");
    let app = spawn_with(Setup {
        database_url: Some(db),
        ..Setup::default()
    })
    .await;
    assert_eq!(
        raw(&app, "GET", "/readyz", &[], b"", None).await.status,
        200
    );
    crate::storage::drop_database(&url, &name).await;
    let r = raw(&app, "GET", "/readyz", &[], b"", None).await;
    assert_eq!(r.status, 503);
    assert_eq!(r.body["ready"], false);
    let reason = r.body["reason"].as_str().unwrap();
    assert!(reason.contains("database is unreachable"), "{reason}");
    assert_eq!(
        raw(&app, "GET", "/healthz", &[], b"", None).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_colour_codes_off_a_terminal_and_json_lines_parse() {
    for (format, json) in [("text", false), ("json", true)] {
        let dir = tempfile::tempdir().unwrap();
        let addr = free_addr();
        let config = format!("log_format = \"{format}\"\n");
        let mut server = serve_as(dir.path(), &addr, &config, (KEY, SECRET, ACCOUNT), "info").await;
        let c = client(&addr);
        c.list_contacts().send().await.unwrap();
        assert!(sigterm(&mut server).success());
        let log = std::fs::read_to_string(dir.path().join("klaxon.log")).unwrap();
        assert!(
            !log.contains('\u{1b}'),
            "escape codes in the {format} log:\n{log}"
        );
        assert!(log.contains("klaxon is serving"), "{log}");
        assert!(!log.contains(SECRET), "the secret was logged");
        if json {
            for line in log.lines().filter(|l| !l.is_empty()) {
                let v: serde_json::Value = serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
                assert!(
                    v["timestamp"].is_string() && v["level"].is_string(),
                    "{line}"
                );
            }
        }
    }
}

type Calls = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// An outside checker that records the method of every call to `/ping/<token>`; its URL.
async fn checker() -> (Calls, String) {
    use axum::routing::any;
    let calls = Calls::default();
    let app = axum::Router::new().route(
        "/ping/{token}",
        any({
            let calls = calls.clone();
            move |method: axum::http::Method| async move {
                calls.lock().unwrap().push(method.to_string());
                "OK"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/ping/5f2c", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (calls, url)
}

/// A server with its engine loop running and a watchdog calling `url` every second.
async fn watched(url: String, database_url: Option<String>) -> TestApp {
    spawn_with(Setup {
        engine_loop: true,
        database_url,
        configure: Some(Box::new(move |c| {
            c.watchdog = Some(klaxon::config::WatchdogConfig {
                url,
                every_secs: 1,
                method: klaxon::config::WatchdogMethod::Post,
            });
        })),
        ..Setup::default()
    })
    .await
}

async fn until_calls(calls: &Calls, n: usize) {
    let started = Instant::now();
    while calls.lock().unwrap().len() < n {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the watchdog did not call: {:?}",
            calls.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_calls_its_checker_while_the_server_is_ready() {
    let (calls, url) = checker().await;
    let app = watched(url, None).await;
    until_calls(&calls, 2).await;
    assert!(calls.lock().unwrap().iter().all(|m| m == "POST"));
    // A stopped server calls no more.
    app.running.stop().await;
    let n = calls.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(calls.lock().unwrap().len(), n);
}

/// A server that lost its database is not ready, and its watchdog falls silent: the silence
/// is what the outside checker alarms on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_falls_silent_when_the_database_is_gone() {
    let Some(base) = crate::storage::postgres_url().await else {
        return;
    };
    let (db, name) = crate::storage::fresh_database(&base)
        .await
        .expect("a database of its own");
    let (calls, url) = checker().await;
    let app = watched(url, Some(db)).await;
    until_calls(&calls, 1).await;
    crate::storage::drop_database(&base, &name).await;
    let r = raw(&app, "GET", "/readyz", &[], b"", None).await;
    assert_eq!(r.status, 503);
    // One call may have been under way when the database went.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let n = calls.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(
        calls.lock().unwrap().len(),
        n,
        "an unready server called its checker"
    );
}
