//! The notification gateway: SMS pages per second through the Twilio adapter to a local fake
//! of Twilio's Messages API, emails per second to a local SMTP server (aiosmtpd, when
//! installed), and the latency of an inbound SMS reply until the page is READ (the webhook
//! answers after the acknowledgement is committed), and how fast 100 pages waiting out a
//! provider outage drain once it ends. In-process server, SQLite, engine loop on.
//! Run with `cargo bench --bench gateway`.

mod common;

use common::pct;

use axum::routing::post;
use common::{call, client, contacts_ok};
use klaxon::config::{Config, InboundSmtpConfig, Secret, SmtpConfig, SmtpTls, TwilioConfig};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "AKIDBENCHGATEWAY";
const SECRET: &str = "bench-secret";
const ACCOUNT: &str = "100000000011";
const TOKEN: &str = "bench-twilio-token";
const PUBLIC: &str = "https://klaxon.bench";
const PAGES: usize = 500;
const WAITING: usize = 100;
const OUTAGE_CAP_MS: i64 = 2_000;

#[derive(Default)]
struct Fake {
    bodies: Mutex<Vec<String>>,
    count: AtomicUsize,
    /// Answer 503 while set (a provider outage).
    failing: std::sync::atomic::AtomicBool,
    refused: AtomicUsize,
    /// When each message was accepted.
    accepted_at: Mutex<Vec<Instant>>,
}

async fn fake_twilio() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let f = fake.clone();
    let app = axum::Router::new().route(
        "/2010-04-01/Accounts/{account}/Messages.json",
        post(move |body: String| {
            let f = f.clone();
            async move {
                if f.failing.load(Ordering::SeqCst) {
                    f.refused.fetch_add(1, Ordering::SeqCst);
                    return (
                        axum::http::StatusCode::SERVICE_UNAVAILABLE,
                        r#"{"code": 20503, "message": "Service Unavailable"}"#.to_string(),
                    );
                }
                f.accepted_at.lock().unwrap().push(Instant::now());
                f.bodies.lock().unwrap().push(body);
                let n = f.count.fetch_add(1, Ordering::SeqCst);
                (
                    axum::http::StatusCode::CREATED,
                    format!(r#"{{"sid": "SM{n:032}"}}"#),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}"))
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap_or_default()
        .to_string()
}

async fn aiosmtpd() -> Option<(std::process::Child, u16, tempfile::TempDir)> {
    let dir = tempfile::tempdir().ok()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = std::process::Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(dir.path().join("mail"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if started.elapsed() > Duration::from_secs(10) {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Some((child, port, dir))
}

fn mails(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("mail/new"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (fake, url) = fake_twilio().await;
    let smtp = aiosmtpd().await;
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        credentials: vec![common::credential(KEY, SECRET, ACCOUNT)],
        twilio: Some(TwilioConfig {
            account_sid: "ACbench".into(),
            auth_token: Some(Secret::new(TOKEN)),
            auth_token_file: None,
            from_number: "+15005550006".into(),
            api_base_url: url,
            public_base_url: PUBLIC.into(),
        }),
        smtp: smtp.as_ref().map(|(_, port, _)| SmtpConfig {
            host: "127.0.0.1".into(),
            port: *port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            password_file: None,
            from: "klaxon@example.com".into(),
            reply_domain: "reply.bench".into(),
        }),
        // Hundreds of emails go to one channel here; the outage drain below waits out a 2 s cap.
        engine: klaxon::config::EngineConfig {
            max_sends_per_channel_per_minute: 0,
            provider_backoff_max_ms: OUTAGE_CAP_MS,
            ..Default::default()
        },
        inbound_smtp: Some(InboundSmtpConfig {
            listen: "127.0.0.1:0".into(),
        }),
        ..Config::default()
    };
    let (running, s) = common::in_process(&config).await;
    let http = client();

    // SMS: one contact per page so that every reply names exactly one open page.
    let phone = |i: usize| format!("+1206555{i:04}");
    let mut contacts = Vec::new();
    for i in 0..PAGES {
        let c = contacts_ok(
            &http,
            &s,
            "CreateContact",
            json!({"Alias": format!("sms{i}"), "Type": "PERSONAL", "Plan": {"Stages": []}}),
        )
        .await["ContactArn"]
            .as_str()
            .unwrap()
            .to_string();
        let ch = contacts_ok(&http, &s, "CreateContactChannel", json!({"ContactId": c, "Name": "p", "Type": "SMS", "DeliveryAddress": {"SimpleAddress": phone(i)}, "DeferActivation": true})).await["ContactChannelArn"].as_str().unwrap().to_string();
        contacts.push((c, ch));
    }
    // Activation codes through the fake, then the plans.
    for (_, ch) in &contacts {
        contacts_ok(
            &http,
            &s,
            "SendActivationCode",
            json!({"ContactChannelId": ch}),
        )
        .await;
    }
    while fake.count.load(Ordering::SeqCst) < PAGES {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let bodies = fake.bodies.lock().unwrap().clone();
    for (i, (c, ch)) in contacts.iter().enumerate() {
        let to = format!(
            "To={}",
            percent_encoding::utf8_percent_encode(&phone(i), percent_encoding::NON_ALPHANUMERIC)
        );
        let body = bodies.iter().find(|b| b.contains(&to)).unwrap();
        let text = body
            .split('&')
            .find_map(|p| p.strip_prefix("Body="))
            .map(decode)
            .unwrap();
        contacts_ok(
            &http,
            &s,
            "ActivateContactChannel",
            json!({"ContactChannelId": ch, "ActivationCode": code_in(&text)}),
        )
        .await;
        let target =
            json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
        contacts_ok(&http, &s, "UpdateContact", json!({"ContactId": c, "Plan": {"Stages": [{"DurationInMinutes": 5, "Targets": [target]}]}})).await;
    }
    let before = fake.count.load(Ordering::SeqCst);
    let t = Instant::now();
    let mut pages = Vec::new();
    for (c, _) in &contacts {
        let eng = contacts_ok(
            &http,
            &s,
            "StartEngagement",
            json!({"ContactId": c, "Sender": "bench", "Subject": "s", "Content": "c"}),
        )
        .await["EngagementArn"]
            .as_str()
            .unwrap()
            .to_string();
        pages.push(eng);
    }
    while fake.count.load(Ordering::SeqCst) < before + PAGES {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "SMS pages through the Twilio adapter to a local fake: {PAGES} in {secs:.2} s = {:.0}/s (StartEngagement calls included)",
        PAGES as f64 / secs
    );

    // Inbound SMS replies → READ: the webhook answers once the acknowledgement is committed.
    let bodies = fake.bodies.lock().unwrap().clone();
    let mut latencies = Vec::new();
    for i in 0..PAGES {
        let to = format!(
            "To={}",
            percent_encoding::utf8_percent_encode(&phone(i), percent_encoding::NON_ALPHANUMERIC)
        );
        let page_text = bodies.iter().rev().find(|b| b.contains(&to)).unwrap();
        let text = page_text
            .split('&')
            .find_map(|p| p.strip_prefix("Body="))
            .map(decode)
            .unwrap();
        let params = vec![
            ("From".to_string(), phone(i)),
            ("Body".to_string(), code_in(&text)),
        ];
        let sig = klaxon_twilio::signature(TOKEN, &format!("{PUBLIC}/hooks/twilio/sms"), &params);
        let form: String = params
            .iter()
            .map(|(k, v)| {
                format!(
                    "{k}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let req = hyper::Request::post(format!("http://{}/hooks/twilio/sms", running.addr))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", sig)
            .body(http_body_util::Full::new(bytes::Bytes::from(form)))
            .unwrap();
        let t = Instant::now();
        let (status, _) = call(&http, req).await;
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(status, 200);
    }
    println!(
        "inbound SMS reply → READ receipt committed ({PAGES} replies): p50 {:.2} ms p99 {:.2} ms",
        pct(latencies.clone(), 0.5),
        pct(latencies, 0.99)
    );

    // A provider outage: 100 pages keep being refused until their backoff reaches the cap,
    // then the provider recovers; how long until the last one is accepted, and how fast they go.
    fake.failing.store(true, Ordering::SeqCst);
    for (c, _) in contacts.iter().take(WAITING) {
        contacts_ok(
            &http,
            &s,
            "StartEngagement",
            json!({"ContactId": c, "Sender": "bench", "Subject": "outage", "Content": "c"}),
        )
        .await;
    }
    // 200 ms quick tries, then 0.8, 1.6, 2 (the cap), 2 …: after ~8 s every page waits a cap.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let refused = fake.refused.load(Ordering::SeqCst);
    let accepted_before = fake.count.load(Ordering::SeqCst);
    let recovered = Instant::now();
    fake.failing.store(false, Ordering::SeqCst);
    while fake.count.load(Ordering::SeqCst) < accepted_before + WAITING {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let times = fake.accepted_at.lock().unwrap()[accepted_before..].to_vec();
    let first = times.iter().min().unwrap().duration_since(recovered);
    let last = times.iter().max().unwrap().duration_since(recovered);
    let spread = (last - first).as_secs_f64().max(1e-3);
    println!(
        "provider outage, {WAITING} pages waiting ({refused} refused tries; backoff cap {OUTAGE_CAP_MS} ms): recovery → last page accepted {:.2} s ({:.2} s beyond the cap); first {:.2} s; draining at {:.0} sends/s",
        last.as_secs_f64(),
        last.as_secs_f64() - OUTAGE_CAP_MS as f64 / 1000.0,
        first.as_secs_f64(),
        (WAITING - 1) as f64 / spread
    );

    match smtp {
        Some((mut child, _, mdir)) => {
            let c = contacts_ok(
                &http,
                &s,
                "CreateContact",
                json!({"Alias": "mail", "Type": "PERSONAL", "Plan": {"Stages": []}}),
            )
            .await["ContactArn"]
                .as_str()
                .unwrap()
                .to_string();
            let ch = contacts_ok(&http, &s, "CreateContactChannel", json!({"ContactId": c, "Name": "m", "Type": "EMAIL", "DeliveryAddress": {"SimpleAddress": "bench@example.com"}})).await["ContactChannelArn"].as_str().unwrap().to_string();
            while mails(mdir.path()) < 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let activation = std::fs::read_dir(mdir.path().join("mail/new"))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path();
            let code = code_in(
                &String::from_utf8_lossy(&std::fs::read(activation).unwrap()).replace("=\r\n", ""),
            );
            contacts_ok(
                &http,
                &s,
                "ActivateContactChannel",
                json!({"ContactChannelId": ch, "ActivationCode": code}),
            )
            .await;
            let target =
                json!({"ChannelTargetInfo": {"ContactChannelId": ch, "RetryIntervalInMinutes": 0}});
            contacts_ok(&http, &s, "UpdateContact", json!({"ContactId": c, "Plan": {"Stages": [{"DurationInMinutes": 5, "Targets": [target]}]}})).await;
            let emails = 300;
            let t = Instant::now();
            for i in 0..emails {
                contacts_ok(&http, &s, "StartEngagement", json!({"ContactId": c, "Sender": "bench", "Subject": format!("s{i}"), "Content": "c"})).await;
            }
            while mails(mdir.path()) < emails + 1 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let secs = t.elapsed().as_secs_f64();
            println!(
                "emails to a local SMTP server (aiosmtpd): {emails} in {secs:.2} s = {:.0}/s (one SMTP connection per email)",
                emails as f64 / secs
            );
            let _ = child.kill();
        }
        None => println!("emails: aiosmtpd not installed (pip install aiosmtpd); skipped"),
    }
    running.stop().await;
}
