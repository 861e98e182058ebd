//! SMS through Twilio, against a local fake of Twilio's Messages API that records what it is
//! sent, answers as Twilio does and can fail on demand; replies and status callbacks are posted
//! to Klaxon signed exactly as Twilio signs them.

use crate::engagements::{channel_stage, is_read, paged, set_plan};
use crate::helpers::*;
use aws_sdk_ssmcontacts::types::{
    ActivationStatus, ChannelType, ContactChannelAddress, ReceiptType,
};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use klaxon::config::{Secret, TwilioConfig};
use klaxon::domain::clock::Clock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-test-auth-token";
const PUBLIC: &str = "https://klaxon.example.com";
const FROM: &str = "+15005550006";
const PHONE: &str = "+12065550142";

#[derive(Default)]
pub(crate) struct Fake {
    pub messages: Mutex<Vec<Vec<(String, String)>>>,
    pub failing: AtomicBool,
    /// Answer this many requests with a 503 first.
    pub fail_next: AtomicUsize,
    /// Refuse every message as Twilio refuses an invalid To number (400, code 21211).
    pub rejecting: AtomicBool,
    /// Requests answered with a failure (503 or 400).
    pub refused: AtomicUsize,
    pub count: AtomicUsize,
    pub bad_auth: AtomicUsize,
}

pub(crate) fn form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let d = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (d(k), d(v))
        })
        .collect()
}

async fn messages(
    State(fake): State<Arc<Fake>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    use base64::Engine;
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    );
    if account != SID || auth != want {
        fake.bad_auth.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"code": 20003, "message": "Authenticate"}"#.into(),
        );
    }
    let blip = fake
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if fake.rejecting.load(Ordering::SeqCst) {
        fake.refused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::BAD_REQUEST,
            r#"{"code": 21211, "message": "The 'To' number +12065550142 is not a valid phone number.", "status": 400}"#.into(),
        );
    }
    if blip || fake.failing.load(Ordering::SeqCst) {
        fake.refused.fetch_add(1, Ordering::SeqCst);
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"code": 20503, "message": "Service Unavailable"}"#.into(),
        );
    }
    fake.messages.lock().unwrap().push(form(&body));
    let n = fake.count.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::CREATED,
        format!(r#"{{"sid": "SM{n:032}", "status": "queued"}}"#),
    )
}

/// Calls are recorded with the messages; their SIDs start with CA.
async fn calls(
    State(fake): State<Arc<Fake>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: String,
) -> (StatusCode, String) {
    let (status, answer) = messages(State(fake), Path(account), headers, body).await;
    (status, answer.replace("\"SM", "\"CA"))
}

pub(crate) async fn fake_twilio() -> (Arc<Fake>, String) {
    let fake = Arc::new(Fake::default());
    let app = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/{account}/Messages.json",
            post(messages),
        )
        .route("/2010-04-01/Accounts/{account}/Calls.json", post(calls))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, format!("http://{addr}"))
}

pub(crate) fn field(m: &[(String, String)], k: &str) -> String {
    m.iter()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

pub(crate) fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_string()
}

pub(crate) async fn app_with_twilio() -> (TestApp, Arc<Fake>) {
    app_with_twilio_engine(test_engine()).await
}

pub(crate) async fn app_with_twilio_engine(
    engine: klaxon::config::EngineConfig,
) -> (TestApp, Arc<Fake>) {
    let (fake, url) = fake_twilio().await;
    let app = spawn_with(Setup {
        engine: Some(engine),
        twilio: Some(twilio_config(&url)),
        ..Setup::default()
    })
    .await;
    (app, fake)
}

/// Klaxon's [twilio] section for the fake at `url`.
pub(crate) fn twilio_config(url: &str) -> TwilioConfig {
    TwilioConfig {
        account_sid: SID.into(),
        auth_token: Some(Secret::new(TOKEN)),
        auth_token_file: None,
        from_number: FROM.into(),
        api_base_url: url.to_string(),
        public_base_url: PUBLIC.into(),
    }
}

/// Posts a webhook to Klaxon signed as Twilio signs it (or with the given signature).
pub(crate) async fn webhook(
    app: &TestApp,
    path: &str,
    params: &[(&str, &str)],
    forged: Option<&str>,
) -> Raw {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = match forged {
        Some(s) => s.to_string(),
        None => klaxon_twilio::signature(TOKEN, &format!("{PUBLIC}{path}"), &owned),
    };
    let body: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
    if !signature.is_empty() {
        headers.push(("x-twilio-signature", signature.as_str()));
    }
    raw(app, "POST", path, &headers, body.as_bytes(), None).await
}

pub(crate) async fn reply(app: &TestApp, text: &str) -> Raw {
    webhook(
        app,
        "/hooks/twilio/sms",
        &[
            ("From", PHONE),
            ("To", FROM),
            ("Body", text),
            ("MessageSid", "SMin"),
        ],
        None,
    )
    .await
}

/// A contact whose SMS channel was activated with the code Twilio carried; plan: SMS at once,
/// retried every minute.
pub(crate) async fn texted_contact(app: &TestApp, fake: &Fake) -> (String, String) {
    let c = app.contacts();
    let contact = crate::channels::personal(app, "texted").await;
    let sms = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("phone")
        .r#type(ChannelType::Sms)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address(PHONE)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    app.tick().await;
    let activation = fake.messages.lock().unwrap().last().cloned().unwrap();
    assert_eq!(field(&activation, "To"), PHONE);
    assert_eq!(field(&activation, "From"), FROM);
    assert_eq!(
        field(&activation, "StatusCallback"),
        format!("{PUBLIC}/hooks/twilio/status")
    );
    c.activate_contact_channel()
        .contact_channel_id(&sms)
        .activation_code(six_digits(&field(&activation, "Body")))
        .send()
        .await
        .unwrap();
    set_plan(app, &contact, vec![channel_stage(10, &[(&sms, 1)])]).await;
    (contact, sms)
}

pub(crate) async fn receipts(app: &TestApp, page: &str) -> Vec<ReceiptType> {
    app.contacts()
        .list_page_receipts()
        .page_id(page)
        .send()
        .await
        .unwrap()
        .receipts
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.receipt_type)
        .collect()
}

#[tokio::test]
async fn an_sms_page_is_acknowledged_by_replying_with_its_code_or_ack() {
    let (app, fake) = app_with_twilio().await;
    let (contact, _) = texted_contact(&app, &fake).await;
    let page = paged(&app, &contact).await;
    let sms = fake.messages.lock().unwrap().last().cloned().unwrap();
    assert!(field(&sms, "Body").contains("Checkout alert: Check your email"));
    let code = six_digits(&field(&sms, "Body"));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = reply(&app, wrong).await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .as_str()
            .unwrap()
            .contains("<Message>That code does not match")
    );
    assert!(!is_read(&app, &page).await);
    let r = reply(&app, &format!("on it, {code}")).await;
    assert!(r.header("content-type").unwrap().starts_with("text/xml"));
    assert!(
        r.body
            .as_str()
            .unwrap()
            .contains("Acknowledged: Checkout is down"),
        "{:?}",
        r.body
    );
    assert!(is_read(&app, &page).await);
    assert_eq!(
        receipts(&app, &page).await,
        vec![ReceiptType::Sent, ReceiptType::Read]
    );

    let second = paged(&app, &contact).await;
    let r = reply(&app, "ACK").await;
    assert!(r.body.as_str().unwrap().contains("Acknowledged"));
    assert!(is_read(&app, &second).await);
    let r = reply(&app, "ack").await;
    assert!(r.body.as_str().unwrap().contains("no open page"));
    let r = reply(&app, "help").await;
    assert!(r.body.as_str().unwrap().contains("STOP"));
    assert_eq!(
        fake.bad_auth.load(Ordering::SeqCst),
        0,
        "Klaxon authenticated every call"
    );
}

#[tokio::test]
async fn forged_or_missing_signatures_are_refused_and_change_nothing() {
    let (app, fake) = app_with_twilio().await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    let page = paged(&app, &contact).await;
    let code = six_digits(&field(
        &fake.messages.lock().unwrap().last().cloned().unwrap(),
        "Body",
    ));
    let params = [("From", PHONE), ("Body", code.as_str())];
    let r = webhook(
        &app,
        "/hooks/twilio/sms",
        &params,
        Some("bm90IGEgc2lnbmF0dXJl"),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = webhook(&app, "/hooks/twilio/sms", &params, Some("")).await;
    assert_eq!(r.status, 403);
    let r = webhook(
        &app,
        "/hooks/twilio/sms",
        &[("From", PHONE), ("Body", "STOP")],
        Some("x"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(!is_read(&app, &page).await);
    let status = app
        .contacts()
        .get_contact_channel()
        .contact_channel_id(&sms)
        .send()
        .await
        .unwrap();
    assert_eq!(status.activation_status, Some(ActivationStatus::Activated));
}

#[tokio::test]
async fn stop_deactivates_the_number_and_start_sends_a_new_activation_code() {
    let (app, fake) = app_with_twilio().await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    paged(&app, &contact).await;
    let r = reply(&app, "STOP").await;
    assert!(
        r.body
            .as_str()
            .unwrap()
            .contains("will not page this number")
    );
    let c = app.contacts();
    let got = c
        .get_contact_channel()
        .contact_channel_id(&sms)
        .send()
        .await
        .unwrap();
    assert_eq!(got.activation_status, Some(ActivationStatus::NotActivated));
    let before = fake.messages.lock().unwrap().len();
    paged(&app, &contact).await;
    assert_eq!(
        fake.messages.lock().unwrap().len(),
        before,
        "a stopped number is not paged"
    );

    let r = reply(&app, "START").await;
    assert!(r.body.as_str().unwrap().contains("activation code"));
    app.tick().await;
    let last = fake.messages.lock().unwrap().last().cloned().unwrap();
    assert!(field(&last, "Body").contains("activation code"));
    c.activate_contact_channel()
        .contact_channel_id(&sms)
        .activation_code(six_digits(&field(&last, "Body")))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn status_callbacks_record_delivered_and_error_and_an_outage_is_retried_once_each() {
    let (app, fake) = app_with_twilio().await;
    let (contact, _) = texted_contact(&app, &fake).await;
    let page = paged(&app, &contact).await;
    let sid = format!("SM{:032}", fake.count.load(Ordering::SeqCst) - 1);
    let r = webhook(
        &app,
        "/hooks/twilio/status",
        &[("MessageSid", &sid), ("MessageStatus", "delivered")],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        receipts(&app, &page).await,
        vec![ReceiptType::Sent, ReceiptType::Delivered]
    );
    assert!(
        app.contacts()
            .describe_page()
            .page_id(&page)
            .send()
            .await
            .unwrap()
            .delivery_time
            .is_some()
    );

    // Undelivered later: an ERROR receipt, and the plan's one-minute retry sends again.
    let r = webhook(
        &app,
        "/hooks/twilio/status",
        &[
            ("MessageSid", &sid),
            ("MessageStatus", "undelivered"),
            ("ErrorCode", "30003"),
        ],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        receipts(&app, &page).await.last(),
        Some(&ReceiptType::Error)
    );
    let before = fake.messages.lock().unwrap().len();
    app.advance(60_000).await;
    assert_eq!(fake.messages.lock().unwrap().len(), before + 1);

    // Twilio down for a while: each send is tried again with backoff; once Twilio is back
    // every page is delivered exactly once, after one ERROR receipt each.
    fake.failing.store(true, Ordering::SeqCst);
    let mut pages = Vec::new();
    for _ in 0..3 {
        pages.push(paged(&app, &contact).await);
    }
    app.advance(60_000).await;
    fake.failing.store(false, Ordering::SeqCst);
    let before = fake.messages.lock().unwrap().len();
    app.advance(60_000).await;
    assert_eq!(fake.messages.lock().unwrap().len(), before + 3);
    app.advance(10 * 60_000).await;
    assert_eq!(
        fake.messages.lock().unwrap().len(),
        before + 3,
        "nothing twice"
    );
    for p in &pages {
        let r = receipts(&app, p).await;
        assert_eq!(
            r.iter().filter(|t| **t == ReceiptType::Sent).count(),
            1,
            "{r:?}"
        );
        assert_eq!(
            r.iter().filter(|t| **t == ReceiptType::Error).count(),
            1,
            "{r:?}"
        );
    }
}

#[tokio::test]
async fn a_voice_page_is_acknowledged_by_pressing_1() {
    let (app, fake) = app_with_twilio().await;
    let c = app.contacts();
    let contact = crate::channels::personal(&app, "caller").await;
    let voice = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("phone")
        .r#type(ChannelType::Voice)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address(PHONE)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    app.tick().await;
    let call = fake.messages.lock().unwrap().last().cloned().unwrap();
    let twiml = field(&call, "Twiml");
    assert!(
        twiml.starts_with("<Response><Say>") && !twiml.contains("<Gather"),
        "{twiml}"
    );
    // The activation code is read out digit by digit.
    let spoken: String = twiml
        .split("is ")
        .nth(1)
        .unwrap()
        .chars()
        .take(11)
        .filter(|c| c.is_ascii_digit())
        .collect();
    c.activate_contact_channel()
        .contact_channel_id(&voice)
        .activation_code(spoken)
        .send()
        .await
        .unwrap();
    set_plan(&app, &contact, vec![channel_stage(10, &[(&voice, 0)])]).await;

    let page = paged(&app, &contact).await;
    let call = fake.messages.lock().unwrap().last().cloned().unwrap();
    let twiml = field(&call, "Twiml");
    assert!(twiml.contains("<Gather numDigits=\"1\""), "{twiml}");
    let action = twiml
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let path = action.strip_prefix(PUBLIC).unwrap().to_string();
    let r = webhook(&app, &path, &[("CallSid", "CA1"), ("Digits", "2")], None).await;
    assert!(
        r.body.as_str().unwrap().contains("<Gather"),
        "another key repeats the page"
    );
    assert!(!is_read(&app, &page).await);
    let r = webhook(
        &app,
        &path,
        &[("CallSid", "CA1"), ("Digits", "1")],
        Some("forged"),
    )
    .await;
    assert_eq!(r.status, 403);
    let r = webhook(&app, &path, &[("CallSid", "CA1"), ("Digits", "1")], None).await;
    assert!(r.body.as_str().unwrap().contains("Acknowledged"));
    assert!(is_read(&app, &page).await);

    let sid = format!("CA{:032}", fake.count.load(Ordering::SeqCst) - 1);
    let r = webhook(
        &app,
        "/hooks/twilio/status",
        &[("CallSid", &sid), ("CallStatus", "completed")],
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        receipts(&app, &page).await,
        vec![ReceiptType::Sent, ReceiptType::Read, ReceiptType::Delivered]
    );
}

#[tokio::test]
async fn a_provider_blip_is_retried_within_the_send() {
    let (app, fake) = app_with_twilio().await;
    let (contact, _) = texted_contact(&app, &fake).await;
    let before = fake.messages.lock().unwrap().len();
    fake.fail_next.store(2, Ordering::SeqCst);
    let page = paged(&app, &contact).await;
    assert_eq!(fake.messages.lock().unwrap().len(), before + 1);
    assert_eq!(
        fake.fail_next.load(Ordering::SeqCst),
        0,
        "both 503s were met"
    );
    assert_eq!(
        receipts(&app, &page).await,
        vec![ReceiptType::Sent],
        "no ERROR for a blip"
    );
}

#[tokio::test]
async fn the_sweep_forgets_replies_older_than_the_retention_and_keeps_fresh_ones() {
    let (app, fake) = app_with_twilio().await;
    let (contact, _) = texted_contact(&app, &fake).await;
    let stale = paged(&app, &contact).await;
    let store = app.running.store.clone();
    let indexed = store.count("sent-to").await.unwrap();
    assert!(
        indexed >= 2,
        "the activation code and the page were indexed"
    );
    klaxon::engine::prune::arm(store.as_ref(), app.clock.now_ms())
        .await
        .unwrap();

    app.advance(8 * 24 * 3_600_000).await;
    assert_eq!(store.count("sent-to").await.unwrap(), 0);
    assert_eq!(store.count("provider-message").await.unwrap(), 0);
    assert_eq!(store.count("reply-token").await.unwrap(), 0);
    let r = reply(&app, "ack").await;
    assert!(
        r.body.as_str().unwrap().contains("no open page"),
        "{:?}",
        r.body
    );
    assert!(!is_read(&app, &stale).await);

    let fresh = paged(&app, &contact).await;
    app.advance(24 * 3_600_000).await;
    assert!(
        store.count("sent-to").await.unwrap() >= 1,
        "a day-old entry survives the sweep that ran meanwhile"
    );
    let r = reply(&app, "ack").await;
    assert!(
        r.body.as_str().unwrap().contains("Acknowledged"),
        "{:?}",
        r.body
    );
    assert!(is_read(&app, &fresh).await);
}
