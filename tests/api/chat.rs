//! The chat-ops bot end to end: a fake Slack Web API and a fake Discord HTTP API that record
//! what Klaxon posts (and can fail on demand), requests to Klaxon signed exactly as Slack
//! (signing secret) and Discord (Ed25519) sign them, and SNS messages signed with a test
//! certificate. Outcomes are checked through the AWS SDK.

use crate::engagements::{is_read, person};
use crate::helpers::*;
use crate::incidents_setup::ready;
use aws_sdk_ssmincidents::types::{ChatChannel, IncidentRecordStatus, IncidentTemplate};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use ed25519_dalek::{Signer, SigningKey};
use klaxon::config::{ChatUser, Config, DiscordConfig, Secret, SlackConfig, SnsTopic};
use klaxon::domain::clock::Clock;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const SLACK_TOKEN: &str = "xoxb-test-token";
const DISCORD_TOKEN: &str = "discord-bot-token";
const APP_ID: &str = "1234567890";
const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:incidents";
const ALARMS: &str = "arn:aws:sns:us-east-1:111122223333:alarms";
const CHANNEL: &str = "C0INCIDENTS";
const DISCORD_CHANNEL: &str = "998877665544";

#[derive(Default)]
struct Fake {
    /// (path, body) of every call, in arrival order.
    calls: Mutex<Vec<(String, Value)>>,
    slack_down: AtomicBool,
    /// Slack answers `channel_not_found`, as for a channel the bot cannot post to.
    slack_refuses: AtomicBool,
    bad_auth: AtomicUsize,
    arrived: Notify,
}

impl Fake {
    fn record(&self, path: String, body: Value) {
        self.calls.lock().unwrap().push((path, body));
        self.arrived.notify_one();
    }

    fn posts_to(&self, prefix: &str) -> Vec<Value> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p.starts_with(prefix))
            .map(|(_, b)| b.clone())
            .collect()
    }

    /// Waits (on arrivals, not on a timer) until `n` calls under `prefix` have come.
    async fn wait_for(&self, prefix: &str, n: usize) -> Vec<Value> {
        loop {
            let arrived = self.arrived.notified();
            let got = self.posts_to(prefix);
            if got.len() >= n {
                return got;
            }
            tokio::time::timeout(std::time::Duration::from_secs(10), arrived)
                .await
                .unwrap_or_else(|_| panic!("{n} calls to {prefix} (have {})", got.len()));
        }
    }
}

fn text_of(v: &Value) -> String {
    v["text"]
        .as_str()
        .or(v["content"].as_str())
        .unwrap_or_default()
        .to_string()
}

async fn slack_post_message(
    State(f): State<Arc<Fake>>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {SLACK_TOKEN}"))
    {
        f.bad_auth.fetch_add(1, Ordering::SeqCst);
    }
    if f.slack_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "down".into());
    }
    if f.slack_refuses.load(Ordering::SeqCst) {
        return (
            StatusCode::OK,
            json!({"ok": false, "error": "channel_not_found"}).to_string(),
        );
    }
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    f.record("slack:post".into(), v.clone());
    let ok = json!({"ok": true, "channel": v["channel"], "ts": "1700000000.000100"});
    (StatusCode::OK, ok.to_string())
}

async fn slack_response(
    State(f): State<Arc<Fake>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    f.record(
        format!("slack:response:{id}"),
        serde_json::from_str(&body).unwrap_or(Value::Null),
    );
    StatusCode::OK
}

async fn discord_message(
    State(f): State<Arc<Fake>>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Bot {DISCORD_TOKEN}"))
    {
        f.bad_auth.fetch_add(1, Ordering::SeqCst);
    }
    f.record(
        format!("discord:channel:{channel}"),
        serde_json::from_str(&body).unwrap_or(Value::Null),
    );
    (
        StatusCode::OK,
        json!({"id": "1", "channel_id": channel}).to_string(),
    )
}

async fn discord_followup(
    State(f): State<Arc<Fake>>,
    Path((app, token)): Path<(String, String)>,
    body: String,
) -> (StatusCode, String) {
    f.record(
        format!("discord:followup:{app}:{token}"),
        serde_json::from_str(&body).unwrap_or(Value::Null),
    );
    (StatusCode::OK, json!({"id": "2"}).to_string())
}

async fn discord_commands(
    State(f): State<Arc<Fake>>,
    Path(app): Path<String>,
    body: String,
) -> (StatusCode, String) {
    f.record(
        format!("discord:commands:{app}"),
        serde_json::from_str(&body).unwrap_or(Value::Null),
    );
    (StatusCode::OK, body)
}

async fn sns_confirm(State(f): State<Arc<Fake>>, uri: axum::http::Uri) -> StatusCode {
    f.record("sns:confirm".into(), json!(uri.query().unwrap_or_default()));
    StatusCode::OK
}

async fn sns_cert(State(f): State<Arc<Fake>>) -> &'static str {
    f.record("sns:cert".into(), Value::Null);
    klaxon_sns::testing::test_cert_pem()
}

async fn fake() -> (Arc<Fake>, String) {
    let f = Arc::new(Fake::default());
    let app = axum::Router::new()
        .route("/slack/api/chat.postMessage", post(slack_post_message))
        .route("/slack/response/{id}", post(slack_response))
        .route("/discord/api/channels/{id}/messages", post(discord_message))
        .route(
            "/discord/api/webhooks/{app}/{token}",
            post(discord_followup),
        )
        .route(
            "/discord/api/applications/{app}/commands",
            put(discord_commands),
        )
        .route("/sns/confirm", get(sns_confirm))
        .route("/sns/cert.pem", get(sns_cert))
        .with_state(f.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (f, url)
}

fn discord_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

struct Chat {
    app: TestApp,
    fake: Arc<Fake>,
    url: String,
    _cert_dir: tempfile::TempDir,
}

async fn chat_app() -> Chat {
    chat_app_with(|_| {}).await
}

/// A Klaxon with Slack, Discord, SNS topics and chat users pointed at a fresh fake, then `extra`.
async fn chat_app_with(extra: impl FnOnce(&mut Config) + 'static) -> Chat {
    let (fake, url) = fake().await;
    let cert_dir = tempfile::tempdir().unwrap();
    let cert = cert_dir.path().join("sns.pem");
    std::fs::write(&cert, klaxon_sns::testing::test_cert_pem()).unwrap();
    let u = url.clone();
    let app = spawn_with(Setup {
        configure: Some(Box::new(move |c: &mut Config| {
            c.slack = Some(SlackConfig {
                bot_token: Some(Secret::new(SLACK_TOKEN)),
                bot_token_file: None,
                signing_secret: Some(Secret::new(SIGNING_SECRET)),
                signing_secret_file: None,
                api_base_url: format!("{u}/slack/api"),
            });
            c.discord = Some(DiscordConfig {
                application_id: APP_ID.into(),
                public_key: hex::encode(discord_key().verifying_key().to_bytes()),
                bot_token: Some(Secret::new(DISCORD_TOKEN)),
                bot_token_file: None,
                api_base_url: format!("{u}/discord/api"),
            });
            c.sns.cert_file = Some(cert);
            c.sns.subscribe_url_pattern = r"^http://127\.0\.0\.1:\d+/sns/confirm\?.*$".into();
            c.sns.topics = vec![
                SnsTopic {
                    topic_arn: TOPIC.into(),
                    response_plan: None,
                    slack_channel: Some(CHANNEL.into()),
                    discord_channel_id: Some(DISCORD_CHANNEL.into()),
                },
                SnsTopic {
                    topic_arn: ALARMS.into(),
                    response_plan: Some("checkout".into()),
                    slack_channel: None,
                    discord_channel_id: None,
                },
            ];
            c.chat.users = vec![
                ChatUser {
                    contact: "akuam".into(),
                    slack_user_id: Some("U0AKUA".into()),
                    discord_user_id: Some("80351110224678912".into()),
                },
                ChatUser {
                    contact: "jdoe".into(),
                    slack_user_id: Some("U0JDOE".into()),
                    discord_user_id: None,
                },
            ];
            extra(c);
        })),
        ..Setup::default()
    })
    .await;
    Chat {
        app,
        fake,
        url,
        _cert_dir: cert_dir,
    }
}

/// A replication set and the response plan `checkout`, whose incidents post to TOPIC.
async fn checkout_plan(app: &TestApp) -> String {
    ready(app).await;
    app.incidents()
        .create_response_plan()
        .name("checkout")
        .incident_template(
            IncidentTemplate::builder()
                .title("Checkout")
                .impact(3)
                .build()
                .unwrap(),
        )
        .chat_channel(ChatChannel::ChatbotSns(vec![TOPIC.into()]))
        .send()
        .await
        .unwrap()
        .arn
}

fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn now_secs() -> i64 {
    klaxon::domain::clock::SystemClock.now_ms() / 1000
}

async fn slack_signed(app: &TestApp, path: &str, body: &str, ts: i64, secret: &str) -> Raw {
    let ts = ts.to_string();
    let sig = klaxon_slack::sign(secret, &ts, body.as_bytes());
    raw(
        app,
        "POST",
        path,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-slack-signature", &sig),
            ("x-slack-request-timestamp", &ts),
        ],
        body.as_bytes(),
        None,
    )
    .await
}

async fn slash(c: &Chat, user: &str, text: &str) -> Raw {
    let body = format!(
        "token=x&team_id=T0001&team_domain=example&channel_id={CHANNEL}&channel_name=incidents&user_id={user}&user_name={}&command=%2Fklaxon&text={}&response_url={}&trigger_id=13345224609.738474920.8088930838d88f008e0",
        user.to_lowercase(),
        enc(text),
        enc(&format!("{}/slack/response/{user}", c.url)),
    );
    slack_signed(
        &c.app,
        "/hooks/slack/commands",
        &body,
        now_secs(),
        SIGNING_SECRET,
    )
    .await
}

async fn press(c: &Chat, user: &str, action: &str) -> Raw {
    let payload = json!({
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.to_lowercase(), "team_id": "T0001"},
        "api_app_id": "A0KLAXON",
        "token": "x",
        "container": {"type": "message", "message_ts": "1700000000.000100", "channel_id": CHANNEL, "is_ephemeral": false},
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
        "channel": {"id": CHANNEL, "name": "incidents"},
        "response_url": format!("{}/slack/response/press-{user}", c.url),
        "actions": [{"type": "button", "action_id": action, "block_id": "b1", "value": action,
                     "text": {"type": "plain_text", "text": "x"}, "action_ts": "1700000001.000200"}],
    });
    let body = format!("payload={}", enc(&payload.to_string()));
    slack_signed(
        &c.app,
        "/hooks/slack/interactions",
        &body,
        now_secs(),
        SIGNING_SECRET,
    )
    .await
}

fn buttons(reply: &Value) -> Vec<String> {
    reply["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_string))
        .collect()
}

async fn incidents(app: &TestApp) -> Vec<aws_sdk_ssmincidents::types::IncidentRecordSummary> {
    app.incidents()
        .list_incident_records()
        .send()
        .await
        .unwrap()
        .incident_record_summaries
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_start_posts_to_the_channel_and_the_resolve_button_resolves() {
    let c = chat_app().await;
    checkout_plan(&c.app).await;

    let r = slash(&c, "U0AKUA", "start checkout impact=2 Checkout is down").await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["response_type"], "in_channel");
    assert!(
        text_of(&r.body).contains("Checkout is down"),
        "{:?}",
        r.body
    );
    let list = incidents(&c.app).await;
    assert_eq!(list.len(), 1);
    let incident = &list[0];
    assert_eq!(incident.title, "Checkout is down");
    assert_eq!(incident.impact, 2);
    assert_eq!(
        incident.incident_record_source.as_ref().unwrap().source,
        "klaxon.slack"
    );
    let resolve = format!(
        "resolve:checkout/{}",
        incident.arn.rsplit('/').next().unwrap()
    );
    assert_eq!(buttons(&r.body), vec![resolve.clone()]);

    c.app.tick().await;
    let posts = c.fake.wait_for("slack:post", 1).await;
    assert_eq!(posts[0]["channel"], CHANNEL);
    assert!(
        text_of(&posts[0]).contains("Incident started: Checkout is down"),
        "{:?}",
        posts[0]
    );
    let discord = c
        .fake
        .wait_for(&format!("discord:channel:{DISCORD_CHANNEL}"), 1)
        .await;
    assert!(text_of(&discord[0]).starts_with("**Incident started: Checkout is down**"));

    // Who acted is on the timeline.
    let events = c
        .app
        .incidents()
        .list_timeline_events()
        .incident_record_arn(&incident.arn)
        .send()
        .await
        .unwrap()
        .event_summaries;
    assert!(events.iter().any(|e| e.event_type == "Custom Event"));

    assert_eq!(press(&c, "U0JDOE", &resolve).await.status, 200);
    let outcome = c.fake.wait_for("slack:response:press-U0JDOE", 1).await;
    assert!(
        text_of(&outcome[0]).contains("RESOLVED"),
        "{:?}",
        outcome[0]
    );
    assert_eq!(
        incidents(&c.app).await[0].status,
        IncidentRecordStatus::Resolved
    );
    c.app.tick().await;
    let posts = c.fake.wait_for("slack:post", 2).await;
    assert!(
        text_of(&posts[1]).contains("Incident resolved: Checkout is down"),
        "{:?}",
        posts[1]
    );
    assert!(
        buttons(&posts[1]).is_empty(),
        "no Resolve button once resolved"
    );
    assert_eq!(c.fake.bad_auth.load(Ordering::SeqCst), 0);
}

/// Behind `[tls]` the listener speaks HTTPS only, and the bot's own SDK calls still reach the
/// API (through its loopback listener): a slash command over HTTPS lists incidents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_tls_a_slack_command_still_reaches_the_api_through_the_bot() {
    let pki = crate::tls::Pki::new();
    let (cert, key) = pki.issue("server", 1, crate::tls::KeyKind::EcPkcs8);
    let tls = pki.install(&cert, &key);
    let c = chat_app_with(move |cfg| cfg.tls = Some(tls)).await;
    let body = format!(
        "token=x&team_id=T0001&team_domain=example&channel_id={CHANNEL}&channel_name=incidents&user_id=U0AKUA&user_name=akua&command=%2Fklaxon&text=list&response_url={}&trigger_id=1.2.3",
        enc(&format!("{}/slack/response/U0AKUA", c.url)),
    );
    let ts = now_secs().to_string();
    let sig = klaxon_slack::sign(SIGNING_SECRET, &ts, body.as_bytes());
    let (_, _, resp) = crate::tls::https_request(
        c.app.running.addr,
        &pki.ca(),
        "POST",
        "/hooks/slack/commands",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-slack-signature", &sig),
            ("x-slack-request-timestamp", &ts),
        ],
        body.as_bytes(),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("No open incidents."), "{resp}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_stale_and_unsigned_slack_requests_change_nothing() {
    let c = chat_app().await;
    checkout_plan(&c.app).await;
    let body = format!(
        "user_id=U0AKUA&user_name=akua&text={}&response_url={}",
        enc("start checkout Down"),
        enc(&format!("{}/slack/response/x", c.url))
    );
    let forged = slack_signed(
        &c.app,
        "/hooks/slack/commands",
        &body,
        now_secs(),
        "not-the-secret",
    )
    .await;
    assert_eq!(forged.status, 401);
    let stale = slack_signed(
        &c.app,
        "/hooks/slack/commands",
        &body,
        now_secs() - 600,
        SIGNING_SECRET,
    )
    .await;
    assert_eq!(stale.status, 401);
    let unsigned = raw(
        &c.app,
        "POST",
        "/hooks/slack/commands",
        &[],
        body.as_bytes(),
        None,
    )
    .await;
    assert_eq!(unsigned.status, 401);
    let tampered = {
        let ts = now_secs().to_string();
        let sig = klaxon_slack::sign(SIGNING_SECRET, &ts, body.as_bytes());
        let other = body.replace("Down", "Up");
        raw(
            &c.app,
            "POST",
            "/hooks/slack/commands",
            &[
                ("x-slack-signature", &sig),
                ("x-slack-request-timestamp", &ts),
            ],
            other.as_bytes(),
            None,
        )
        .await
    };
    assert_eq!(tampered.status, 401);
    assert!(incidents(&c.app).await.is_empty());

    let r = slash(&c, "U0AKUA", "start checkout").await;
    assert_eq!(r.body["response_type"], "ephemeral");
    assert!(
        text_of(&r.body).contains("title is missing") && text_of(&r.body).contains("/klaxon start")
    );
    let r = slash(&c, "U0AKUA", "start nosuchplan Down").await;
    assert!(
        text_of(&r.body).contains("no response plan named nosuchplan"),
        "{:?}",
        r.body
    );
    let r = slash(&c, "U0AKUA", "show 0000ffff").await;
    assert!(
        text_of(&r.body).contains("no incident whose id starts with 0000ffff"),
        "{:?}",
        r.body
    );
    // Input echoed back cannot ping the channel.
    let r = slash(&c, "U0AKUA", "show <!channel>").await;
    let text = text_of(&r.body);
    assert!(
        text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"),
        "{text}"
    );
    assert!(incidents(&c.app).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_from_slack_and_acknowledging_by_button_or_code() {
    let c = chat_app().await;
    person(&c.app, "akuam", 5).await;
    crate::channels::personal(&c.app, "jdoe").await;

    let r = slash(&c, "U0JDOE", "page akuam checkout latency is up").await;
    assert!(text_of(&r.body).contains("Paging akuam"), "{:?}", r.body);
    let ack = buttons(&r.body);
    assert_eq!(ack.len(), 1);
    assert!(ack[0].starts_with("ack:akuam/"));
    let page_id = ack[0].rsplit('/').next().unwrap().to_string();
    let page = format!("arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:page/akuam/{page_id}");
    let pages = c
        .app
        .contacts()
        .list_pages_by_contact()
        .contact_id(contact_arn(ACCOUNT, "akuam"))
        .send()
        .await
        .unwrap()
        .pages;
    assert_eq!(pages[0].page_arn, page);
    assert_eq!(pages[0].sender, "u0jdoe", "the chat user is the Sender");
    c.app.tick().await;

    // Someone else's button press is refused, naming whose page it is.
    press(&c, "U0JDOE", &ack[0]).await;
    let refused = c.fake.wait_for("slack:response:press-U0JDOE", 1).await;
    assert!(
        text_of(&refused[0]).contains("This page is for akuam"),
        "{:?}",
        refused[0]
    );
    press(&c, "U0NOBODY", &ack[0]).await;
    let unlinked = c.fake.wait_for("slack:response:press-U0NOBODY", 1).await;
    assert!(
        text_of(&unlinked[0]).contains("not linked"),
        "{:?}",
        unlinked[0]
    );
    assert!(!is_read(&c.app, &page).await);
    press(&c, "U0AKUA", &ack[0]).await;
    let done = c.fake.wait_for("slack:response:press-U0AKUA", 1).await;
    assert!(
        text_of(&done[0]).contains("akuam acknowledged"),
        "{:?}",
        done[0]
    );
    assert!(is_read(&c.app, &page).await);

    // `ack <code>` with the code the SMS carried.
    let r = slash(&c, "U0JDOE", "page akuam again").await;
    let second = buttons(&r.body)[0].rsplit('/').next().unwrap().to_string();
    c.app.tick().await;
    let code = c.app.sent.sent().last().unwrap().code.clone();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = slash(&c, "U0AKUA", &format!("ack {wrong}")).await;
    assert!(text_of(&r.body).contains("has the code"), "{:?}", r.body);
    let r = slash(&c, "U0AKUA", &format!("ack {code}")).await;
    assert!(
        text_of(&r.body).contains("Acknowledged akuam's page"),
        "{:?}",
        r.body
    );
    assert!(
        is_read(
            &c.app,
            &format!("arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:page/akuam/{second}")
        )
        .await
    );
    let r = slash(&c, "U0AKUA", "ack").await;
    assert!(text_of(&r.body).contains("no open page"), "{:?}", r.body);
    let r = slash(&c, "U0AKUA", "engagements").await;
    assert!(
        text_of(&r.body).contains("Engagements still running (2)"),
        "{:?}",
        r.body
    );
}

fn discord_request(c: &Chat, body: &Value) -> (String, String, String) {
    let ts = (c.app.clock.now_ms() / 1000).to_string();
    let body = body.to_string();
    let sig = discord_key().sign(format!("{ts}{body}").as_bytes());
    (hex::encode(sig.to_bytes()), ts, body)
}

async fn discord(c: &Chat, body: &Value) -> Raw {
    let (sig, ts, body) = discord_request(c, body);
    raw(
        &c.app,
        "POST",
        "/hooks/discord/interactions",
        &[
            ("content-type", "application/json"),
            ("x-signature-ed25519", &sig),
            ("x-signature-timestamp", &ts),
        ],
        body.as_bytes(),
        None,
    )
    .await
}

fn discord_user() -> Value {
    json!({"id": "80351110224678912", "username": "akua", "discriminator": "0", "global_name": "Akua", "avatar": null})
}

fn command(sub: &str, options: Value) -> Value {
    json!({
        "id": "1150000000000000001", "application_id": APP_ID, "type": 2, "token": "tok-cmd",
        "version": 1, "locale": "en-US", "entitlements": [], "attachment_size_limit": 26214400,
        "channel_id": DISCORD_CHANNEL, "user": discord_user(),
        "data": {"id": "1150000000000000002", "name": "klaxon", "type": 1,
                 "options": [{"name": sub, "type": 1, "options": options}]},
    })
}

fn component(custom_id: &str) -> Value {
    json!({
        "id": "1150000000000000003", "application_id": APP_ID, "type": 3, "token": "tok-button",
        "version": 1, "locale": "en-US", "entitlements": [], "attachment_size_limit": 26214400,
        "channel_id": DISCORD_CHANNEL, "user": discord_user(),
        "message": {"id": "1150000000000000004", "channel_id": DISCORD_CHANNEL,
                    "author": {"id": APP_ID, "username": "klaxon", "discriminator": "0", "avatar": null, "bot": true},
                    "content": "x", "timestamp": "2026-11-30T12:00:00.000000+00:00", "edited_timestamp": null,
                    "tts": false, "mention_everyone": false, "mentions": [], "mention_roles": [],
                    "attachments": [], "embeds": [], "pinned": false, "type": 0},
        "data": {"custom_id": custom_id, "component_type": 2},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_ping_command_and_button_with_ed25519_signatures() {
    let c = chat_app().await;
    checkout_plan(&c.app).await;
    let ping = json!({"id": "1", "application_id": APP_ID, "type": 1, "token": "t", "version": 1});
    let r = discord(&c, &ping).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"type": 1})));

    let (sig, ts, body) = discord_request(&c, &ping);
    let mut bad = sig.clone().into_bytes();
    bad[0] = if bad[0] == b'a' { b'b' } else { b'a' };
    let forged = raw(
        &c.app,
        "POST",
        "/hooks/discord/interactions",
        &[
            ("x-signature-ed25519", std::str::from_utf8(&bad).unwrap()),
            ("x-signature-timestamp", &ts),
        ],
        body.as_bytes(),
        None,
    )
    .await;
    assert_eq!(forged.status, 401);
    let stale_ts = (c.app.clock.now_ms() / 1000 - 600).to_string();
    let stale_sig = hex::encode(
        discord_key()
            .sign(format!("{stale_ts}{body}").as_bytes())
            .to_bytes(),
    );
    let stale = raw(
        &c.app,
        "POST",
        "/hooks/discord/interactions",
        &[
            ("x-signature-ed25519", &stale_sig),
            ("x-signature-timestamp", &stale_ts),
        ],
        body.as_bytes(),
        None,
    )
    .await;
    assert_eq!(stale.status, 401);
    let start = command(
        "start",
        json!([
            {"name": "plan", "type": 3, "value": "checkout"},
            {"name": "title", "type": 3, "value": "Payments failing"},
            {"name": "impact", "type": 4, "value": 1},
        ]),
    );
    let (_, ts, body) = discord_request(&c, &start);
    let unsigned = raw(
        &c.app,
        "POST",
        "/hooks/discord/interactions",
        &[("x-signature-timestamp", &ts)],
        body.as_bytes(),
        None,
    )
    .await;
    assert_eq!(unsigned.status, 401);
    assert!(incidents(&c.app).await.is_empty());

    let r = discord(&c, &start).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["type"], 4);
    assert!(
        r.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("**Payments failing**"),
        "{:?}",
        r.body
    );
    let list = incidents(&c.app).await;
    assert_eq!((list.len(), list[0].impact), (1, 1));
    assert_eq!(
        list[0].incident_record_source.as_ref().unwrap().source,
        "klaxon.discord"
    );
    let resolve = r.body["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(resolve.starts_with("resolve:"));

    let r = discord(&c, &command("impact", json!([{"name": "incident", "type": 3, "value": &resolve.rsplit('/').next().unwrap()[..8]}, {"name": "impact", "type": 4, "value": 9}]))).await;
    assert!(
        r.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("/klaxon impact"),
        "{:?}",
        r.body
    );

    let r = discord(&c, &component(&resolve)).await;
    assert_eq!(r.body["type"], 4, "{:?}", r.body);
    assert!(
        r.body["data"]["content"]
            .as_str()
            .unwrap()
            .contains("RESOLVED")
    );
    assert_eq!(
        incidents(&c.app).await[0].status,
        IncidentRecordStatus::Resolved
    );

    // The command set registers through the HTTP API.
    let client = klaxon::app::discord_client(
        c.app.config.discord.as_ref().unwrap(),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    client
        .register_commands(&klaxon::bot::discord::commands())
        .await
        .unwrap();
    let registered = c
        .fake
        .wait_for(&format!("discord:commands:{APP_ID}"), 1)
        .await;
    assert_eq!(registered[0][0]["name"], "klaxon");
    assert_eq!(registered[0][0]["options"].as_array().unwrap().len(), 11);
}

fn alarm(state: &str) -> String {
    json!({
        "AlarmName": "checkout-5xx", "AlarmDescription": "5xx above 5%", "AWSAccountId": "111122223333",
        "NewStateValue": state, "NewStateReason": "Threshold Crossed: 1 datapoint [12.0] was greater than 5.0",
        "StateChangeTime": "2026-11-30T12:00:00.000+0000", "Region": "US East (N. Virginia)",
        "AlarmArn": "arn:aws:cloudwatch:us-east-1:111122223333:alarm:checkout-5xx", "OldStateValue": "OK",
        "Trigger": {"MetricName": "5XXError", "Namespace": "AWS/ApiGateway"},
    })
    .to_string()
}

async fn sns(c: &Chat, env: &klaxon_sns::Envelope) -> Raw {
    let body = env.to_json();
    raw(
        &c.app,
        "POST",
        "/hooks/sns",
        &[
            ("content-type", "text/plain; charset=UTF-8"),
            ("x-amz-sns-message-type", &env.r#type),
            ("x-amz-sns-topic-arn", &env.topic_arn),
        ],
        body.as_bytes(),
        None,
    )
    .await
}

fn signed(topic: &str, id: &str, message: &str) -> klaxon_sns::Envelope {
    let env = klaxon_sns::testing::notification(topic, id, Some("ALARM"), message);
    klaxon_sns::testing::sign_v2(env, &klaxon_sns::testing::test_key_pkcs8_der())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudwatch_alarm_via_sns_starts_one_incident_however_often_it_arrives() {
    let c = chat_app().await;
    checkout_plan(&c.app).await;
    let first = signed(
        ALARMS,
        "6e1b2c1d-0000-4000-8000-000000000001",
        &alarm("ALARM"),
    );
    assert_eq!(sns(&c, &first).await.status, 200);
    assert_eq!(
        sns(&c, &first).await.status,
        200,
        "a redelivery is accepted"
    );
    let again = signed(
        ALARMS,
        "6e1b2c1d-0000-4000-8000-000000000002",
        &alarm("ALARM"),
    );
    assert_eq!(sns(&c, &again).await.status, 200);
    let list = incidents(&c.app).await;
    assert_eq!(list.len(), 1, "one incident for the alarm");
    let source = list[0].incident_record_source.as_ref().unwrap();
    assert_eq!(source.source, "aws.cloudwatch");
    assert_eq!(
        source.resource_arn.as_deref(),
        Some("arn:aws:cloudwatch:us-east-1:111122223333:alarm:checkout-5xx")
    );
    assert!(list[0].title.starts_with("checkout-5xx: Threshold Crossed"));
    let ok = signed(ALARMS, "6e1b2c1d-0000-4000-8000-000000000003", &alarm("OK"));
    assert_eq!(sns(&c, &ok).await.status, 200);
    assert_eq!(incidents(&c.app).await.len(), 1);

    // Forged, unsigned and unknown-topic messages change nothing.
    let mut forged = signed(
        ALARMS,
        "6e1b2c1d-0000-4000-8000-000000000004",
        &alarm("ALARM"),
    );
    forged.message = forged.message.replace("checkout-5xx", "other-alarm");
    assert_eq!(sns(&c, &forged).await.status, 403);
    let mut unsigned = forged.clone();
    unsigned.signature = String::new();
    assert_ne!(sns(&c, &unsigned).await.status, 200);
    let stranger = signed(
        "arn:aws:sns:us-east-1:111122223333:other",
        "6e1b2c1d-0000-4000-8000-000000000005",
        &alarm("ALARM"),
    );
    assert_eq!(sns(&c, &stranger).await.status, 403);
    assert_eq!(incidents(&c.app).await.len(), 1);

    // A subscription is confirmed for a configured topic only.
    let confirm = |topic: &str, id: &str| {
        let mut env =
            klaxon_sns::testing::notification(topic, id, None, "You have chosen to subscribe");
        env.r#type = "SubscriptionConfirmation".into();
        env.subject = None;
        env.token = Some("2336412f37fb687f5d51e6e2425dacbba".into());
        env.subscribe_url = Some(format!(
            "{}/sns/confirm?Action=ConfirmSubscription&Token=2336412f",
            c.url
        ));
        klaxon_sns::testing::sign_v2(env, &klaxon_sns::testing::test_key_pkcs8_der())
    };
    assert_eq!(
        sns(
            &c,
            &confirm("arn:aws:sns:us-east-1:111122223333:other", "c-1")
        )
        .await
        .status,
        403
    );
    assert_eq!(sns(&c, &confirm(TOPIC, "c-2")).await.status, 200);
    assert_eq!(c.fake.posts_to("sns:confirm").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_outage_then_recovery_delivers_every_update_once_in_order() {
    let c = chat_app().await;
    checkout_plan(&c.app).await;
    c.fake.slack_down.store(true, Ordering::SeqCst);
    slash(&c, "U0AKUA", "start checkout First").await;
    let arn = incidents(&c.app).await[0].arn.clone();
    let short = &arn.rsplit('/').next().unwrap()[..8];
    slash(&c, "U0AKUA", &format!("impact {short} 1")).await;
    slash(&c, "U0AKUA", &format!("note {short} rolled back")).await;
    slash(&c, "U0AKUA", &format!("resolve {short}")).await;
    // Chatbot-format notifications from AWS join the same queue, once per MessageId.
    let chatbot = json!({"version": "1.0", "source": "custom",
        "content": {"textType": "client-markdown", "title": "From AWS", "description": "via SNS"}})
    .to_string();
    let n = signed(TOPIC, "7f000000-0000-4000-8000-000000000001", &chatbot);
    assert_eq!(sns(&c, &n).await.status, 200);
    assert_eq!(sns(&c, &n).await.status, 200);

    for _ in 0..6 {
        c.app.advance(60_000).await;
    }
    assert!(c.fake.posts_to("slack:post").is_empty());
    let want = [
        "Incident started: First",
        "Incident updated: First",
        "Note on First",
        "Incident resolved: First",
        "From AWS",
    ];
    let discord: Vec<String> = c
        .fake
        .posts_to(&format!("discord:channel:{DISCORD_CHANNEL}"))
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(
        discord.len(),
        want.len(),
        "Slack being down holds up only Slack: {discord:#?}"
    );
    for (got, want) in discord.iter().zip(want) {
        assert!(got.contains(want), "{got:?} should contain {want:?}");
    }

    c.fake.slack_down.store(false, Ordering::SeqCst);
    for _ in 0..12 {
        c.app.advance(300_000).await;
    }
    let posts: Vec<String> = c.fake.posts_to("slack:post").iter().map(text_of).collect();
    assert_eq!(posts.len(), want.len(), "{posts:#?}");
    for (got, want) in posts.iter().zip(want) {
        assert!(got.contains(want), "{got:?} should contain {want:?}");
    }
    let discord: Vec<String> = c
        .fake
        .posts_to(&format!("discord:channel:{DISCORD_CHANNEL}"))
        .iter()
        .map(text_of)
        .collect();
    assert_eq!(discord.len(), want.len(), "{discord:#?}");
    assert_eq!(c.app.running.store.count("chat-update").await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incident_page_is_posted_with_its_button_and_ses_mail_acknowledges_a_page() {
    let c = chat_app().await;
    let (akua, _, _) = person(&c.app, "akuam", 5).await;
    ready(&c.app).await;
    c.app
        .incidents()
        .create_response_plan()
        .name("payments")
        .incident_template(
            IncidentTemplate::builder()
                .title("Payments")
                .impact(2)
                .build()
                .unwrap(),
        )
        .chat_channel(ChatChannel::ChatbotSns(vec![TOPIC.into()]))
        .engagements(&akua)
        .send()
        .await
        .unwrap();
    slash(&c, "U0JDOE", "start payments Card payments failing").await;
    c.app.tick().await;
    let posts = c.fake.wait_for("slack:post", 2).await;
    assert!(text_of(&posts[0]).contains("Incident started"));
    assert!(
        text_of(&posts[1]).contains("Paging akuam: Incident: Card payments failing"),
        "{:?}",
        posts[1]
    );
    let ack = buttons(&posts[1]);
    assert!(
        ack[0].starts_with("ack:akuam/") && ack[1].starts_with("resolve:"),
        "{ack:?}"
    );
    press(&c, "U0AKUA", &ack[0]).await;
    c.fake.wait_for("slack:response:press-U0AKUA", 1).await;
    c.app.tick().await;
    let posts = c.fake.wait_for("slack:post", 3).await;
    assert!(
        text_of(&posts[2]).contains("Page acknowledged: Card payments failing"),
        "{:?}",
        posts[2]
    );
    assert!(text_of(&posts[2]).contains("akuam acknowledged"));

    // An email reply that SES received and published to the topic acknowledges a page.
    let r = slash(&c, "U0JDOE", "page akuam disk full").await;
    let page = buttons(&r.body)[0].rsplit('/').next().unwrap().to_string();
    let page = format!("arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:page/akuam/{page}");
    c.app.tick().await;
    c.app.advance(5 * 60_000).await;
    let email = c
        .app
        .sent
        .sent()
        .into_iter()
        .rfind(|m| m.page_arn.as_deref() == Some(page.as_str()) && m.reply_token.is_some())
        .expect("the page's email");
    let to = format!("page+{}@replies.example.com", email.reply_token.unwrap());
    let mime =
        format!("From: akuam@example.com\r\nTo: {to}\r\nSubject: Re: disk full\r\n\r\non it\r\n");
    use base64::Engine as _;
    let ses = json!({
        "notificationType": "Received",
        "mail": {"source": "akuam@example.com", "destination": [to], "messageId": "ses-1"},
        "receipt": {"recipients": [to], "action": {"type": "SNS", "topicArn": TOPIC, "encoding": "BASE64"}},
        "content": base64::engine::general_purpose::STANDARD.encode(mime),
    });
    assert!(!is_read(&c.app, &page).await);
    let n = signed(
        TOPIC,
        "5e5e0000-0000-4000-8000-000000000001",
        &ses.to_string(),
    );
    assert_eq!(sns(&c, &n).await.status, 200);
    assert!(is_read(&c.app, &page).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_commands_are_answered_at_once_and_followed_up() {
    // Every command counts as slow: the answer is deferred and the reply follows.
    let c = chat_app_with(|c| c.bot.reply_within_ms = 0).await;
    let r = slash(&c, "U0AKUA", "list").await;
    assert_eq!(text_of(&r.body), "Working on it…");
    let late = c.fake.wait_for("slack:response:U0AKUA", 1).await;
    assert!(
        text_of(&late[0]).contains("No open incidents"),
        "{:?}",
        late[0]
    );
    assert_eq!(late[0]["response_type"], "in_channel");

    let r = discord(&c, &command("list", json!([]))).await;
    assert_eq!(r.body, json!({"type": 5}));
    let follow = c
        .fake
        .wait_for(&format!("discord:followup:{APP_ID}:tok-cmd"), 1)
        .await;
    assert!(
        text_of(&follow[0]).contains("No open incidents"),
        "{:?}",
        follow[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oncall_names_who_is_on_call_now_and_next() {
    use crate::rotations::{daily, rotation, schedule};
    let c = chat_app().await;
    let r = slash(&c, "U0AKUA", "oncall").await;
    assert!(
        text_of(&r.body).contains("No on-call schedules"),
        "{:?}",
        r.body
    );
    let a = crate::channels::personal(&c.app, "akuam").await;
    let b = crate::channels::personal(&c.app, "jdoe").await;
    let start = c.app.clock.now_ms() - 10 * 86_400_000;
    let rot = rotation(&c.app, "primary rota", &[&a, &b], start, "UTC", daily(9)).await;
    schedule(&c.app, "primary", &[&rot]).await;
    let r = slash(&c, "U0AKUA", "oncall primary").await;
    let text = text_of(&r.body);
    assert!(
        text.contains("*primary*") && text.contains("primary rota"),
        "{text}"
    );
    let now_akua = text.contains("now akuam") && text.contains("next jdoe");
    let now_jdoe = text.contains("now jdoe") && text.contains("next akuam");
    assert!(now_akua ^ now_jdoe, "{text}");
    assert_eq!(text_of(&slash(&c, "U0AKUA", "oncall").await.body), text);
    let r = slash(&c, "U0AKUA", "oncall akuam").await;
    assert!(
        text_of(&r.body).contains("akuam is not an on-call schedule"),
        "{:?}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_that_refuses_updates_is_passed_over_without_holding_others_up() {
    let c = chat_app().await;
    checkout_plan(&c.app).await;
    c.fake.slack_refuses.store(true, Ordering::SeqCst);
    slash(&c, "U0AKUA", "start checkout Refused").await;
    let arn = incidents(&c.app).await[0].arn.clone();
    let short = &arn.rsplit('/').next().unwrap()[..8];
    slash(&c, "U0AKUA", &format!("note {short} first note")).await;
    c.app.tick().await;
    c.app.advance(1_000).await;
    let discord = c
        .fake
        .posts_to(&format!("discord:channel:{DISCORD_CHANNEL}"));
    assert_eq!(discord.len(), 2, "{discord:#?}");
    assert!(c.fake.posts_to("slack:post").is_empty());
    assert_eq!(
        c.app.running.store.count("chat-update").await.unwrap(),
        0,
        "nothing is left waiting on a channel that refuses"
    );
    c.fake.slack_refuses.store(false, Ordering::SeqCst);
    slash(&c, "U0AKUA", &format!("note {short} second note")).await;
    c.app.tick().await;
    let slack: Vec<String> = c.fake.posts_to("slack:post").iter().map(text_of).collect();
    assert_eq!(slack.len(), 1, "{slack:#?}");
    assert!(slack[0].contains("second note"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sns_signing_certificate_is_fetched_only_from_allowed_urls_and_cached() {
    let c = chat_app_with(|c| {
        c.sns.cert_file = None;
        c.sns.cert_url_pattern = r"^http://127\.0\.0\.1:[0-9]+/sns/cert\.pem$".into();
    })
    .await;
    checkout_plan(&c.app).await;
    let at = |mut env: klaxon_sns::Envelope, url: String| {
        // SigningCertURL is not part of what is signed.
        env.signing_cert_url = url;
        env
    };
    let evil = at(
        signed(
            ALARMS,
            "6e1b2c1d-0000-4000-8000-00000000000a",
            &alarm("ALARM"),
        ),
        format!("{}/sns/evil.pem", c.url),
    );
    assert_eq!(sns(&c, &evil).await.status, 403);
    assert!(
        c.fake.posts_to("sns:cert").is_empty(),
        "nothing fetched from a refused URL"
    );
    assert!(incidents(&c.app).await.is_empty());

    for id in [
        "6e1b2c1d-0000-4000-8000-00000000000b",
        "6e1b2c1d-0000-4000-8000-00000000000c",
    ] {
        let env = at(
            signed(ALARMS, id, &alarm("ALARM")),
            format!("{}/sns/cert.pem", c.url),
        );
        assert_eq!(sns(&c, &env).await.status, 200);
    }
    assert_eq!(incidents(&c.app).await.len(), 1);
    assert_eq!(
        c.fake.posts_to("sns:cert").len(),
        1,
        "the certificate is fetched once and cached"
    );
}
