//! Provider outages and alert storms against the fake Twilio: a page is never given up while
//! it is open, a rejection is final, plan retries are for messages that did not arrive, and a
//! channel at its rate limit gets its waiting pages together.

use crate::engagements::{channel_stage, contact_stage, engage, is_read, only_page, set_plan};
use crate::helpers::*;
use crate::twilio::{
    Fake, app_with_twilio_engine, field, receipts, reply, texted_contact, webhook,
};
use aws_sdk_ssmcontacts::types::{
    ChannelType, ContactChannelAddress, ContactType, Plan, ReceiptType,
};
use klaxon::config::EngineConfig;
use klaxon::domain::clock::Clock;
use std::sync::atomic::Ordering;

const MIN: i64 = 60_000;

fn bodies(fake: &Fake) -> Vec<String> {
    fake.messages
        .lock()
        .unwrap()
        .iter()
        .map(|m| field(m, "Body"))
        .collect()
}

fn codes(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|w| w.len() == 6)
        .map(str::to_string)
        .collect()
}

/// Receipt types and their info, in order.
async fn receipt_infos(app: &TestApp, page: &str) -> Vec<(ReceiptType, String)> {
    app.contacts()
        .list_page_receipts()
        .page_id(page)
        .send()
        .await
        .unwrap()
        .receipts
        .unwrap_or_default()
        .into_iter()
        .map(|r| (r.receipt_type, r.receipt_info.unwrap_or_default()))
        .collect()
}

async fn metrics(app: &TestApp) -> String {
    let r = raw(app, "GET", "/metrics", &[], b"", None).await;
    r.body.as_str().unwrap_or_default().to_string()
}

/// 20 pages started during a ten-minute 503 outage all reach the phone once it is over,
/// exactly once each, with one ERROR and one SENT receipt; `retry` is the plan's interval.
async fn outage_of_ten_minutes(retry: i32) {
    let (app, fake) = app_with_twilio_engine(test_engine()).await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    set_plan(&app, &contact, vec![channel_stage(30, &[(&sms, retry)])]).await;
    app.advance(MIN + 1).await; // the activation code's slot has passed
    let before = fake.messages.lock().unwrap().len();
    fake.failing.store(true, Ordering::SeqCst);
    let mut engagements = Vec::new();
    for _ in 0..20 {
        engagements.push(engage(&app, &contact).await);
    }
    app.tick().await;
    for _ in 0..20 {
        app.advance(MIN / 2).await;
    }
    assert_eq!(
        fake.messages.lock().unwrap().len(),
        before,
        "nothing got through"
    );
    assert!(
        fake.refused.load(Ordering::SeqCst) > 20 * 10,
        "every page kept trying through the outage"
    );
    fake.failing.store(false, Ordering::SeqCst);
    // The backoff is capped at 30 s: one cap's worth of time drains everything.
    app.advance(MIN / 2).await;
    app.advance(1).await;
    let sent = bodies(&fake)[before..].to_vec();
    assert_eq!(sent.len(), 20, "every page, once: {sent:?}");
    let mut all_codes: Vec<String> = sent.iter().flat_map(|b| codes(b)).collect();
    all_codes.sort();
    all_codes.dedup();
    assert_eq!(all_codes.len(), 20, "twenty different pages");
    app.advance(30 * MIN).await;
    assert_eq!(
        fake.messages.lock().unwrap().len(),
        before + 20,
        "nothing twice"
    );
    for e in &engagements {
        let page = only_page(&app, e).await;
        let r = receipt_infos(&app, &page).await;
        let types: Vec<ReceiptType> = r.iter().map(|(t, _)| t.clone()).collect();
        assert_eq!(types, vec![ReceiptType::Error, ReceiptType::Sent], "{r:?}");
        assert!(
            r[0].1.contains("503") && r[0].1.contains("still trying"),
            "{:?}",
            r[0].1
        );
    }
    let m = metrics(&app).await;
    assert!(
        m.contains("klaxon_sends_total{channel_type=\"SMS\",purpose=\"page\",outcome=\"error\"}"),
        "{m}"
    );
}

#[tokio::test]
async fn a_ten_minute_outage_loses_no_page_with_a_retry_interval() {
    outage_of_ten_minutes(1).await;
}

#[tokio::test]
async fn a_ten_minute_outage_loses_no_page_without_a_retry_interval() {
    outage_of_ten_minutes(0).await;
}

#[tokio::test]
async fn a_page_closed_during_an_outage_stops_being_tried() {
    let (app, fake) = app_with_twilio_engine(test_engine()).await;
    let (contact, _) = texted_contact(&app, &fake).await;
    fake.failing.store(true, Ordering::SeqCst);
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    app.advance(MIN).await;
    app.contacts()
        .stop_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap();
    let refused = fake.refused.load(Ordering::SeqCst);
    app.advance(MIN).await;
    app.advance(MIN).await;
    assert_eq!(
        fake.refused.load(Ordering::SeqCst),
        refused,
        "a stopped page is not tried again"
    );
    fake.failing.store(false, Ordering::SeqCst);
    let before = fake.messages.lock().unwrap().len();
    app.advance(MIN).await;
    assert_eq!(fake.messages.lock().unwrap().len(), before);
    assert!(!receipts(&app, &page).await.contains(&ReceiptType::Sent));
}

#[tokio::test]
async fn a_permanent_rejection_is_final_and_counted() {
    let (app, fake) = app_with_twilio_engine(test_engine()).await;
    let (contact, _) = texted_contact(&app, &fake).await;
    fake.rejecting.store(true, Ordering::SeqCst);
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    assert_eq!(
        fake.refused.load(Ordering::SeqCst),
        1,
        "one try, no quick retries"
    );
    for _ in 0..10 {
        app.advance(MIN).await;
    }
    assert_eq!(fake.refused.load(Ordering::SeqCst), 1, "never tried again");
    let r = receipt_infos(&app, &page).await;
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].0, ReceiptType::Error);
    assert!(
        r[0].1.contains("21211") && r[0].1.contains("not a valid phone number"),
        "{:?}",
        r[0].1
    );
    let m = metrics(&app).await;
    assert!(
        m.contains(
            "klaxon_sends_total{channel_type=\"SMS\",purpose=\"page\",outcome=\"rejected\"} 1"
        ),
        "{m}"
    );
}

#[tokio::test]
async fn an_undelivered_message_is_retried_per_the_plan_up_to_max_send_attempts() {
    let (app, fake) = app_with_twilio_engine(EngineConfig {
        max_send_attempts: 3,
        ..test_engine()
    })
    .await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    set_plan(&app, &contact, vec![channel_stage(30, &[(&sms, 2)])]).await;
    let before = fake.messages.lock().unwrap().len();
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    for n in 1..=3 {
        let sid = format!("SM{:032}", fake.count.load(Ordering::SeqCst) - 1);
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
        app.advance(2 * MIN - 1).await;
        let sent = fake.messages.lock().unwrap().len() - before;
        assert_eq!(sent, n.min(3), "not before the plan's interval");
        app.advance(1).await;
        let sent = fake.messages.lock().unwrap().len() - before;
        assert_eq!(sent, (n + 1).min(3), "after the interval, at most 3 sends");
    }
    let types = receipts(&app, &page).await;
    assert_eq!(
        types.iter().filter(|t| **t == ReceiptType::Sent).count(),
        3,
        "{types:?}"
    );
    assert_eq!(
        types.iter().filter(|t| **t == ReceiptType::Error).count(),
        3,
        "{types:?}"
    );
}

#[tokio::test]
async fn a_storm_of_sixty_pages_goes_out_in_bundles_within_the_limit_and_ack_all_closes_them() {
    let (app, fake) = app_with_twilio_engine(test_engine()).await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    set_plan(&app, &contact, vec![channel_stage(30, &[(&sms, 1)])]).await;
    app.advance(MIN + 1).await;
    let before = fake.messages.lock().unwrap().len();
    let mut engagements = Vec::new();
    for _ in 0..60 {
        engagements.push(engage(&app, &contact).await);
    }
    app.tick().await;
    let first_window = fake.messages.lock().unwrap().len() - before;
    assert_eq!(first_window, 20, "the limit's worth at once");
    app.advance(MIN - 1).await;
    assert_eq!(fake.messages.lock().unwrap().len() - before, 20);
    app.advance(1).await;
    let sent = bodies(&fake)[before..].to_vec();
    assert_eq!(
        sent.len(),
        21,
        "the forty others in one message: {:?}",
        sent.last()
    );
    let bundle = sent.last().unwrap();
    assert!(
        bundle.starts_with("40 more pages: Checkout alert (code "),
        "{bundle}"
    );
    assert!(bundle.contains("ACK ALL"), "{bundle}");
    app.advance(5 * MIN).await;
    assert_eq!(
        fake.messages.lock().unwrap().len() - before,
        21,
        "nothing twice"
    );

    let mut pages = Vec::new();
    for e in &engagements {
        let page = only_page(&app, e).await;
        let r = receipts(&app, &page).await;
        assert_eq!(
            r,
            vec![ReceiptType::Sent],
            "every page has its SENT receipt"
        );
        pages.push(page);
    }
    // A code in the bundle acknowledges its page alone.
    let listed = codes(bundle);
    assert_eq!(listed.len(), 20, "twenty listed by name, the rest counted");
    let r = reply(&app, &format!("on it {}", listed[3])).await;
    assert!(
        r.body.as_str().unwrap().contains("Acknowledged"),
        "{:?}",
        r.body
    );
    let mut read = 0;
    for p in &pages {
        read += is_read(&app, p).await as usize;
    }
    assert_eq!(read, 1);
    let r = reply(&app, "ACK ALL").await;
    assert!(
        r.body.as_str().unwrap().contains("Acknowledged 59 pages"),
        "{:?}",
        r.body
    );
    for p in &pages {
        assert!(is_read(&app, p).await, "{p}");
    }
    let r = reply(&app, "ack all").await;
    assert!(
        r.body.as_str().unwrap().contains("no open page"),
        "{:?}",
        r.body
    );
}

#[tokio::test]
async fn failed_tries_do_not_use_up_the_rate_limit() {
    let (app, fake) = app_with_twilio_engine(EngineConfig {
        max_sends_per_channel_per_minute: 3,
        ..test_engine()
    })
    .await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    set_plan(&app, &contact, vec![channel_stage(30, &[(&sms, 0)])]).await;
    app.advance(MIN + 1).await;
    let before = fake.messages.lock().unwrap().len();
    fake.failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        engage(&app, &contact).await;
    }
    for _ in 0..6 {
        app.advance(5_000).await;
    }
    fake.failing.store(false, Ordering::SeqCst);
    app.advance(30_000).await;
    assert_eq!(
        fake.messages.lock().unwrap().len() - before,
        3,
        "dozens of failed tries within the minute, and still three slots"
    );
}

#[tokio::test]
async fn an_outage_of_one_channel_does_not_hold_up_the_escalation() {
    let (app, fake) = app_with_twilio_engine(test_engine()).await;
    let (first, _) = texted_contact(&app, &fake).await;
    let second = crate::channels::personal(&app, "second").await;
    let email = app
        .contacts()
        .create_contact_channel()
        .contact_id(&second)
        .name("mail")
        .r#type(ChannelType::Email)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address("second@example.com")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    app.tick().await;
    // With Twilio configured, email goes to the log channel.
    let code = std::fs::read_to_string(&app.running.outbox)
        .unwrap()
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["contactChannelArn"] == email.as_str())
        .find_map(|l| l["code"].as_str().map(str::to_string))
        .expect("the activation code went to the log channel");
    app.contacts()
        .activate_contact_channel()
        .contact_channel_id(&email)
        .activation_code(code)
        .send()
        .await
        .unwrap();
    set_plan(&app, &second, vec![channel_stage(30, &[(&email, 0)])]).await;
    let escalation = app
        .contacts()
        .create_contact()
        .alias("escalate")
        .r#type(ContactType::Escalation)
        .plan(
            Plan::builder()
                .set_stages(Some(vec![
                    contact_stage(5, &[(&first, true)]),
                    contact_stage(5, &[(&second, true)]),
                ]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn;
    fake.failing.store(true, Ordering::SeqCst);
    let eng = engage(&app, &escalation).await;
    let start = app.clock.now_ms();
    app.tick().await;
    for _ in 0..9 {
        app.advance(30_000).await;
    }
    app.advance(29_999).await;
    let pages = app
        .contacts()
        .list_pages_by_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap()
        .pages;
    assert_eq!(pages.len(), 1, "the second stage is not due yet");
    app.advance(1).await;
    let pages = app
        .contacts()
        .list_pages_by_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap()
        .pages;
    assert_eq!(pages.len(), 2, "the second stage ran on time");
    let second_page = pages
        .iter()
        .find(|p| p.contact_arn == second)
        .unwrap()
        .page_arn
        .clone();
    let sent = app
        .contacts()
        .describe_page()
        .page_id(&second_page)
        .send()
        .await
        .unwrap()
        .sent_time
        .expect("the email went out while the SMS provider was down");
    let sent_ms = sent.secs() * 1000 + i64::from(sent.subsec_nanos() / 1_000_000);
    assert!(
        (sent_ms - start - 5 * MIN).abs() <= 1,
        "{}",
        sent_ms - start
    );
}

#[tokio::test]
async fn the_rate_limit_window_and_the_backoff_scale_with_time_scale() {
    let (fake, url) = crate::twilio::fake_twilio().await;
    let app = spawn_with(Setup {
        time_scale: 60.0,
        engine: Some(EngineConfig {
            max_sends_per_channel_per_minute: 2,
            provider_backoff_max_ms: 60_000,
            ..test_engine()
        }),
        twilio: Some(crate::twilio::twilio_config(&url)),
        ..Setup::default()
    })
    .await;
    let (contact, sms) = texted_contact(&app, &fake).await;
    set_plan(&app, &contact, vec![channel_stage(30, &[(&sms, 0)])]).await;
    app.advance(1_001).await; // a plan minute is a second: the activation's slot has passed
    let before = fake.messages.lock().unwrap().len();
    for _ in 0..3 {
        engage(&app, &contact).await;
    }
    app.tick().await;
    assert_eq!(fake.messages.lock().unwrap().len() - before, 2);
    app.advance(1_000).await;
    assert_eq!(
        fake.messages.lock().unwrap().len() - before,
        3,
        "the third after one scaled minute, not a wall-clock one"
    );
    // The longest backoff, a minute, is a second here.
    fake.failing.store(true, Ordering::SeqCst);
    engage(&app, &contact).await;
    app.tick().await;
    for _ in 0..20 {
        app.advance(250).await;
    }
    fake.failing.store(false, Ordering::SeqCst);
    app.advance(1_000).await;
    assert_eq!(fake.messages.lock().unwrap().len() - before, 4);
}
