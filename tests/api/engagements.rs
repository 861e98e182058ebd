//! The engagement engine through aws-sdk-ssmcontacts: plans run stage by stage on a manual
//! clock, pages carry accept codes, acknowledgements stop paging, retries follow the plan, and
//! a restart resumes where the engine was.

use crate::channels::channel;
use crate::helpers::*;
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{
    AcceptCodeValidation, AcceptType, ChannelTargetInfo, ChannelType, ContactTargetInfo,
    ContactType, Plan, ReceiptType, Stage, Target, TimeRange,
};
use klaxon::delivery::{MessageKind, OutboundMessage};
use klaxon::domain::clock::Clock;

const MIN: i64 = 60_000;

/// A channel that has been through activation.
pub async fn active_channel(app: &TestApp, contact: &str, t: ChannelType, address: &str) -> String {
    let ch = channel(app, contact, t, address, false).await;
    let code = app.last_code(&ch).await;
    app.contacts()
        .activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(code)
        .send()
        .await
        .unwrap();
    ch
}

pub fn channel_stage(minutes: i32, channels: &[(&str, i32)]) -> Stage {
    Stage::builder()
        .duration_in_minutes(minutes)
        .set_targets(Some(
            channels
                .iter()
                .map(|(c, retry)| {
                    Target::builder()
                        .channel_target_info(
                            ChannelTargetInfo::builder()
                                .contact_channel_id(*c)
                                .retry_interval_in_minutes(*retry)
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect(),
        ))
        .build()
        .unwrap()
}

pub fn contact_stage(minutes: i32, contacts: &[(&str, bool)]) -> Stage {
    Stage::builder()
        .duration_in_minutes(minutes)
        .set_targets(Some(
            contacts
                .iter()
                .map(|(c, essential)| {
                    Target::builder()
                        .contact_target_info(
                            ContactTargetInfo::builder()
                                .contact_id(*c)
                                .is_essential(*essential)
                                .build()
                                .unwrap(),
                        )
                        .build()
                })
                .collect(),
        ))
        .build()
        .unwrap()
}

pub async fn set_plan(app: &TestApp, contact: &str, stages: Vec<Stage>) {
    app.contacts()
        .update_contact()
        .contact_id(contact)
        .plan(Plan::builder().set_stages(Some(stages)).build())
        .send()
        .await
        .unwrap();
}

/// A personal contact with an activated SMS and email channel: stage 0 SMS, then email after
/// `minutes`.
pub async fn person(app: &TestApp, alias: &str, minutes: i32) -> (String, String, String) {
    let contact = crate::channels::personal(app, alias).await;
    let sms = active_channel(app, &contact, ChannelType::Sms, "+12065550100").await;
    let email = active_channel(
        app,
        &contact,
        ChannelType::Email,
        &format!("{alias}@example.com"),
    )
    .await;
    set_plan(
        app,
        &contact,
        vec![
            channel_stage(minutes, &[(&sms, 0)]),
            channel_stage(0, &[(&email, 0)]),
        ],
    )
    .await;
    (contact, sms, email)
}

pub async fn engage(app: &TestApp, contact: &str) -> String {
    app.contacts()
        .start_engagement()
        .contact_id(contact)
        .sender("cli")
        .subject("Checkout is down")
        .content("Error rate 40% on checkout-api")
        .public_subject("Checkout alert")
        .public_content("Check your email")
        .send()
        .await
        .unwrap()
        .engagement_arn
}

/// Engages the contact, runs the engine, and returns the engagement's one page.
pub async fn paged(app: &TestApp, contact: &str) -> String {
    let eng = engage(app, contact).await;
    app.tick().await;
    only_page(app, &eng).await
}

pub async fn is_read(app: &TestApp, page: &str) -> bool {
    describe_page(app, page).await.read_time.is_some()
}

pub fn pages_sent(app: &TestApp) -> Vec<OutboundMessage> {
    app.sent
        .sent()
        .into_iter()
        .filter(|m| m.kind == MessageKind::Page)
        .collect()
}

pub async fn only_page(app: &TestApp, engagement: &str) -> String {
    let pages = pages_of(app, engagement).await;
    assert_eq!(pages.len(), 1, "{pages:?}");
    pages[0].page_arn.clone()
}

async fn pages_of(app: &TestApp, engagement: &str) -> Vec<aws_sdk_ssmcontacts::types::Page> {
    app.contacts()
        .list_pages_by_engagement()
        .engagement_id(engagement)
        .send()
        .await
        .unwrap()
        .pages
}

async fn describe_page(
    app: &TestApp,
    page: &str,
) -> aws_sdk_ssmcontacts::operation::describe_page::DescribePageOutput {
    app.contacts()
        .describe_page()
        .page_id(page)
        .send()
        .await
        .unwrap()
}

async fn describe_engagement(
    app: &TestApp,
    engagement: &str,
) -> aws_sdk_ssmcontacts::operation::describe_engagement::DescribeEngagementOutput {
    app.contacts()
        .describe_engagement()
        .engagement_id(engagement)
        .send()
        .await
        .unwrap()
}

async fn receipt_types(app: &TestApp, page: &str) -> Vec<ReceiptType> {
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

async fn accept(
    app: &TestApp,
    page: &str,
    code: &str,
    v: Option<AcceptCodeValidation>,
) -> Result<(), String> {
    app.contacts()
        .accept_page()
        .page_id(page)
        .accept_type(AcceptType::Read)
        .accept_code(code)
        .note("on it")
        .set_accept_code_validation(v)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code_of(&e))
}

fn code_of<E: aws_sdk_ssmcontacts::error::ProvideErrorMetadata>(e: &E) -> String {
    code(e)
}

#[tokio::test]
async fn a_personal_plan_pages_its_activated_channels_stage_by_stage() {
    let app = spawn().await;
    let (contact, sms, email) = person(&app, "akuam", 5).await;
    // A channel that was never activated is in stage 0 too: it must never be paged.
    let idle = channel(&app, &contact, ChannelType::Voice, "+12065550199", true).await;
    set_plan(
        &app,
        &contact,
        vec![
            channel_stage(5, &[(&sms, 0), (&idle, 0)]),
            channel_stage(0, &[(&email, 0)]),
        ],
    )
    .await;
    let eng = engage(&app, &contact).await;
    assert!(eng.starts_with(&format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:engagement/akuam/"
    )));
    app.tick().await;
    let sent = pages_sent(&app);
    assert_eq!(
        sent.len(),
        1,
        "stage 0 at once, only the activated SMS channel"
    );
    assert_eq!(sent[0].contact_channel_arn, sms);
    assert_eq!(sent[0].engagement_arn.as_deref(), Some(eng.as_str()));
    assert!(
        sent[0].body.contains("Checkout alert: Check your email"),
        "SMS carries the public text"
    );
    assert!(sent[0].body.contains(&sent[0].code) && sent[0].code.len() == 6);
    let page = only_page(&app, &eng).await;
    assert!(page.starts_with(&format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:page/akuam/"
    )));
    assert_eq!(sent[0].page_arn.as_deref(), Some(page.as_str()));

    let d = describe_page(&app, &page).await;
    assert_eq!(d.engagement_arn, eng);
    assert_eq!(d.contact_arn, contact);
    assert_eq!(
        (d.sender.as_str(), d.subject.as_str()),
        ("cli", "Checkout is down")
    );
    assert_eq!(d.public_content.as_deref(), Some("Check your email"));
    assert!(d.sent_time.is_some() && d.read_time.is_none() && d.delivery_time.is_none());
    assert_eq!(receipt_types(&app, &page).await, vec![ReceiptType::Sent]);

    app.advance(5 * MIN - 1).await;
    assert_eq!(pages_sent(&app).len(), 1, "stage 1 waits its full duration");
    app.advance(1).await;
    let sent = pages_sent(&app);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].contact_channel_arn, email);
    assert_eq!(sent[1].code, sent[0].code, "one page, one accept code");
    assert!(
        sent[1].body.contains("Error rate 40%"),
        "email carries the secure content"
    );
    assert_eq!(
        app.advance(60 * MIN).await.processed,
        0,
        "the plan has ended"
    );

    let e = describe_engagement(&app, &eng).await;
    assert_eq!(
        (e.contact_arn.as_str(), e.sender.as_str()),
        (contact.as_str(), "cli")
    );
    assert_eq!(e.public_subject.as_deref(), Some("Checkout alert"));
    assert!(e.start_time.is_some() && e.stop_time.is_none());
    let by_contact = app
        .contacts()
        .list_pages_by_contact()
        .contact_id(&contact)
        .send()
        .await
        .unwrap()
        .pages;
    assert_eq!(by_contact.len(), 1);
    assert_eq!(by_contact[0].page_arn, page);
    let path = app
        .contacts()
        .list_page_resolutions()
        .page_id(&page)
        .send()
        .await
        .unwrap()
        .page_resolutions;
    assert_eq!(path.len(), 1);
    assert_eq!(
        (path[0].contact_arn.as_str(), &path[0].r#type),
        (contact.as_str(), &ContactType::Personal)
    );
}

#[tokio::test]
async fn acknowledging_in_stage_zero_stops_stage_one() {
    let app = spawn().await;
    let (contact, _, _) = person(&app, "ackme", 5).await;
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    let code_sent = pages_sent(&app)[0].code.clone();
    accept(&app, &page, &code_sent, None).await.unwrap();
    app.advance(5 * MIN).await;
    assert_eq!(
        pages_sent(&app).len(),
        1,
        "no email after the acknowledgement"
    );
    let d = describe_page(&app, &page).await;
    assert!(d.read_time.is_some());
    let receipts = app
        .contacts()
        .list_page_receipts()
        .page_id(&page)
        .send()
        .await
        .unwrap()
        .receipts
        .unwrap();
    let read = receipts
        .iter()
        .find(|r| r.receipt_type == ReceiptType::Read)
        .unwrap();
    assert_eq!(read.receipt_info.as_deref(), Some("on it"));
    // Acknowledging again is harmless.
    accept(&app, &page, &code_sent, None).await.unwrap();
}

#[tokio::test]
async fn wrong_codes_change_nothing_under_enforce_and_ignore_accepts_any() {
    let app = spawn().await;
    let (contact, sms, _) = person(&app, "codes", 5).await;
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    let right = pages_sent(&app)[0].code.clone();
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        accept(&app, &page, wrong, None).await.unwrap_err(),
        "ValidationException"
    );
    assert_eq!(
        accept(&app, &page, wrong, Some(AcceptCodeValidation::Enforce))
            .await
            .unwrap_err(),
        "ValidationException"
    );
    let e = app
        .contacts()
        .accept_page()
        .page_id(&page)
        .accept_type(AcceptType::Read)
        .accept_code(wrong)
        .send()
        .await
        .unwrap_err();
    let raw = e
        .raw_response()
        .map(|r| String::from_utf8_lossy(r.body().bytes().unwrap_or_default()).to_string());
    assert!(
        raw.unwrap_or_default().contains("AcceptCode"),
        "the error names the field"
    );
    assert_eq!(
        receipt_types(&app, &page).await,
        vec![ReceiptType::Sent],
        "nothing recorded"
    );
    let d = describe_page(&app, &page).await;
    assert!(d.read_time.is_none() && d.delivery_time.is_none());

    // DELIVERED records delivery and keeps paging.
    app.contacts()
        .accept_page()
        .page_id(&page)
        .contact_channel_id(&sms)
        .accept_type(AcceptType::Delivered)
        .accept_code(&right)
        .send()
        .await
        .unwrap();
    let d = describe_page(&app, &page).await;
    assert!(d.delivery_time.is_some() && d.read_time.is_none());

    accept(&app, &page, wrong, Some(AcceptCodeValidation::Ignore))
        .await
        .unwrap();
    let d = describe_page(&app, &page).await;
    assert!(d.read_time.is_some());
    assert_eq!(
        receipt_types(&app, &page).await,
        vec![ReceiptType::Sent, ReceiptType::Delivered, ReceiptType::Read]
    );
    app.advance(5 * MIN).await;
    assert_eq!(pages_sent(&app).len(), 1);
}

#[tokio::test]
async fn an_escalation_plan_engages_stage_by_stage_until_an_essential_contact_acknowledges() {
    let app = spawn().await;
    let (alice, _, _) = person(&app, "alice", 2).await;
    let (bob, _, _) = person(&app, "bob", 2).await;
    let (carol, _, _) = person(&app, "carol", 2).await;
    let esc = app
        .contacts()
        .create_contact()
        .alias("checkout-escalation")
        .r#type(ContactType::Escalation)
        .plan(
            Plan::builder()
                .stages(contact_stage(10, &[(&alice, false)]))
                .stages(contact_stage(10, &[(&bob, true)]))
                .stages(contact_stage(10, &[(&carol, true)]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn;
    let eng = engage(&app, &esc).await;
    assert!(eng.contains(":engagement/checkout-escalation/"));
    app.tick().await;
    let sent = pages_sent(&app);
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0]
            .page_arn
            .as_deref()
            .unwrap()
            .contains(":page/alice/")
    );

    // Alice is not essential: her acknowledgement stops her own paging only.
    let alice_page = sent[0].page_arn.clone().unwrap();
    accept(&app, &alice_page, &sent[0].code, None)
        .await
        .unwrap();
    app.advance(2 * MIN).await;
    assert_eq!(
        pages_sent(&app).len(),
        1,
        "alice's email stage does not run"
    );
    app.advance(8 * MIN).await;
    let sent = pages_sent(&app);
    assert_eq!(sent.len(), 2, "the escalation went on to bob");
    let bob_page = sent[1].page_arn.clone().unwrap();
    assert!(bob_page.contains(":page/bob/"));
    assert_eq!(sent[1].engagement_arn.as_deref(), Some(eng.as_str()));
    assert_ne!(sent[1].code, sent[0].code, "each page has its own code");
    let path = app
        .contacts()
        .list_page_resolutions()
        .page_id(&bob_page)
        .send()
        .await
        .unwrap()
        .page_resolutions;
    assert_eq!(path.len(), 2);
    assert_eq!(path[0].contact_arn, esc);
    assert_eq!(path[0].r#type, ContactType::Escalation);
    assert_eq!(path[0].stage_index, Some(1));
    assert_eq!(path[1].contact_arn, bob);

    // Bob is essential: nothing after him.
    accept(&app, &bob_page, &sent[1].code, None).await.unwrap();
    app.advance(30 * MIN).await;
    assert_eq!(pages_sent(&app).len(), 2, "carol is never paged");
    let pages = pages_of(&app, &eng).await;
    assert_eq!(pages.len(), 2, "no page record for carol");
    let carol_pages = app
        .contacts()
        .list_pages_by_contact()
        .contact_id(&carol)
        .send()
        .await
        .unwrap()
        .pages;
    assert!(carol_pages.is_empty());
}

#[tokio::test]
async fn stop_engagement_ends_paging_with_stop_receipts_and_keeps_the_first_stop_time() {
    let app = spawn().await;
    let (contact, _, _) = person(&app, "stopme", 5).await;
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    app.clock.advance_ms(MIN);
    app.contacts()
        .stop_engagement()
        .engagement_id(&eng)
        .reason("fixed by deploy")
        .send()
        .await
        .unwrap();
    let first = describe_engagement(&app, &eng).await.stop_time.unwrap();
    app.advance(10 * MIN).await;
    assert_eq!(pages_sent(&app).len(), 1, "stage 1 never runs");
    let receipts = app
        .contacts()
        .list_page_receipts()
        .page_id(&page)
        .send()
        .await
        .unwrap()
        .receipts
        .unwrap();
    let stop = receipts.last().unwrap();
    assert_eq!(stop.receipt_type, ReceiptType::Stop);
    assert_eq!(stop.receipt_info.as_deref(), Some("fixed by deploy"));
    app.contacts()
        .stop_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap();
    let again = describe_engagement(&app, &eng).await.stop_time.unwrap();
    assert_eq!(first, again);
    assert_eq!(
        receipt_types(&app, &page).await,
        vec![ReceiptType::Sent, ReceiptType::Stop]
    );
}

#[tokio::test]
async fn a_channel_failing_for_now_is_tried_again_until_it_goes_through_whatever_the_interval() {
    let app = spawn().await;
    let contact = crate::channels::personal(&app, "flaky").await;
    let sms = active_channel(&app, &contact, ChannelType::Sms, "+12065550100").await;
    let email = active_channel(&app, &contact, ChannelType::Email, "flaky@example.com").await;
    set_plan(
        &app,
        &contact,
        vec![channel_stage(30, &[(&sms, 2), (&email, 0)])],
    )
    .await;
    app.sent.fail_next_sends(true);
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let page = only_page(&app, &eng).await;
    assert_eq!(
        receipt_types(&app, &page).await,
        vec![ReceiptType::Error, ReceiptType::Error]
    );
    for _ in 0..20 {
        app.advance(MIN / 4).await;
    }
    assert!(pages_sent(&app).is_empty());
    assert_eq!(
        receipt_types(&app, &page).await,
        vec![ReceiptType::Error, ReceiptType::Error],
        "one ERROR per channel for the whole series of failures"
    );
    app.sent.fail_next_sends(false);
    app.advance(MIN).await;
    let mut sent: Vec<String> = pages_sent(&app)
        .iter()
        .map(|m| m.contact_channel_arn.clone())
        .collect();
    sent.sort();
    let mut want = vec![sms.clone(), email.clone()];
    want.sort();
    assert_eq!(sent, want, "both channels, retry interval 2 and 0 alike");
    assert_eq!(app.advance(60 * MIN).await.processed, 0);
    let types = receipt_types(&app, &page).await;
    assert_eq!(
        types,
        vec![
            ReceiptType::Error,
            ReceiptType::Error,
            ReceiptType::Sent,
            ReceiptType::Sent
        ]
    );
    let d = describe_page(&app, &page).await;
    assert!(d.sent_time.is_some());
}

#[tokio::test]
async fn idempotency_tokens_replay_and_unknown_ids_are_not_found() {
    let app = spawn().await;
    let (contact, _, _) = person(&app, "idem", 5).await;
    let start = |token: &str, subject: &str| {
        app.contacts()
            .start_engagement()
            .contact_id(&contact)
            .sender("s")
            .subject(subject)
            .content("c")
            .idempotency_token(token)
            .send()
    };
    let a = start("tok-1", "x").await.unwrap().engagement_arn;
    let b = start("tok-1", "x").await.unwrap().engagement_arn;
    assert_eq!(a, b);
    assert_eq!(
        code(&start("tok-1", "other").await.unwrap_err()),
        "ConflictException"
    );
    app.tick().await;
    assert_eq!(pages_sent(&app).len(), 1, "the replay paged nobody");

    let missing_eng = format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:engagement/idem/00000000-0000-0000-0000-000000000000"
    );
    let missing_page = format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:page/idem/00000000-0000-0000-0000-000000000000"
    );
    let c = app.contacts();
    let e = c
        .describe_engagement()
        .engagement_id(&missing_eng)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    match e.into_service_error() {
        aws_sdk_ssmcontacts::operation::describe_engagement::DescribeEngagementError::ResourceNotFoundException(nf) => {
            assert_eq!((nf.resource_id.as_str(), nf.resource_type.as_str()), (missing_eng.as_str(), "ENGAGEMENT"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        code(
            &c.stop_engagement()
                .engagement_id(&missing_eng)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &c.list_pages_by_engagement()
                .engagement_id(&missing_eng)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &c.describe_page()
                .page_id(&missing_page)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &c.list_page_receipts()
                .page_id(&missing_page)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &c.list_page_resolutions()
                .page_id(&missing_page)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &c.accept_page()
                .page_id(&missing_page)
                .accept_type(AcceptType::Read)
                .accept_code("123456")
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    assert_eq!(
        code(
            &c.list_pages_by_contact()
                .contact_id(contact_arn(ACCOUNT, "nobody"))
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
    let e = c
        .start_engagement()
        .contact_id(contact_arn(ACCOUNT, "nobody"))
        .sender("s")
        .subject("x")
        .content("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .start_engagement()
        .contact_id(&contact)
        .sender("s")
        .subject("")
        .content("c")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    // Another account sees none of it.
    let other = app.contacts_as(KEY2, SECRET2);
    assert_eq!(
        code(
            &other
                .describe_engagement()
                .engagement_id(&a)
                .send()
                .await
                .unwrap_err()
        ),
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn list_engagements_pages_and_filters_by_incident_and_time() {
    let app = spawn().await;
    let contact = crate::channels::personal(&app, "quiet").await;
    let t0 = app.clock.now_ms();
    let mut arns = Vec::new();
    for i in 0..5 {
        let mut req = app
            .contacts()
            .start_engagement()
            .contact_id(&contact)
            .sender("s")
            .subject("x")
            .content("c");
        if i % 2 == 0 {
            req = req.incident_id("incident-42");
        }
        arns.push(req.send().await.unwrap().engagement_arn);
        app.clock.advance_ms(1_000);
    }
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let out = app
            .contacts()
            .list_engagements()
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(out.engagements.len() <= 2);
        seen.extend(out.engagements.into_iter().map(|e| e.engagement_arn));
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, arns, "oldest first, every engagement once");
    let by_incident = app
        .contacts()
        .list_engagements()
        .incident_id("incident-42")
        .send()
        .await
        .unwrap()
        .engagements;
    assert_eq!(by_incident.len(), 3);
    assert!(
        by_incident
            .iter()
            .all(|e| e.incident_id.as_deref() == Some("incident-42"))
    );
    let range = TimeRange::builder()
        .start_time(DateTime::from_millis(t0 + 1_000))
        .end_time(DateTime::from_millis(t0 + 3_000))
        .build();
    let in_range = app
        .contacts()
        .list_engagements()
        .time_range_value(range)
        .send()
        .await
        .unwrap()
        .engagements;
    let got: Vec<_> = in_range.into_iter().map(|e| e.engagement_arn).collect();
    assert_eq!(got, arns[1..4].to_vec());
    // A contact with nothing to page still gets its engagement and its page; nothing is sent.
    let page = only_page(&app, &arns[0]).await;
    app.tick().await;
    assert!(pages_sent(&app).is_empty());
    let d = describe_page(&app, &page).await;
    assert!(d.sent_time.is_none());
}

#[tokio::test]
async fn a_restart_between_stages_fires_the_next_stage_once() {
    let app = spawn().await;
    let (contact, _, email) = person(&app, "restart", 5).await;
    let eng = engage(&app, &contact).await;
    app.tick().await;
    assert_eq!(pages_sent(&app).len(), 1);
    let app = app.restart().await;
    app.advance(5 * MIN).await;
    let sent = pages_sent(&app);
    assert_eq!(
        sent.len(),
        2,
        "stage 1 after the restart, stage 0 not again"
    );
    assert_eq!(sent[1].contact_channel_arn, email);
    assert_eq!(app.advance(10 * MIN).await.processed, 0);
    let page = only_page(&app, &eng).await;
    assert_eq!(
        receipt_types(&app, &page).await,
        vec![ReceiptType::Sent, ReceiptType::Sent]
    );
}

#[tokio::test]
async fn metrics_report_sends_first_send_latency_and_open_engagements() {
    let app = spawn().await;
    let (contact, _, _) = person(&app, "metered", 5).await;
    let eng = engage(&app, &contact).await;
    app.tick().await;
    let text = get_text(&app, "/metrics").await;
    assert!(
        text.contains("klaxon_engagement_first_send_seconds_count 1"),
        "{text}"
    );
    assert!(text.contains("klaxon_open_engagements 1"), "{text}");
    assert!(
        text.contains(
            "klaxon_sends_total{channel_type=\"SMS\",purpose=\"page\",outcome=\"sent\"} 1"
        )
    );
    assert!(
        text.contains("klaxon_timers 1"),
        "the email stage waits: {text}"
    );
    assert!(text.contains("operation=\"StartEngagement\",outcome=\"success\""));
    app.contacts()
        .stop_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap();
    let text = get_text(&app, "/metrics").await;
    assert!(text.contains("klaxon_open_engagements 0"), "{text}");
}

#[tokio::test]
async fn start_incident_engages_the_plans_contacts_and_writes_the_timeline() {
    use aws_sdk_ssmincidents::types::IncidentRecordStatus;
    let app = spawn().await;
    let (contact, _, _) = person(&app, "oncall-lead", 5).await;
    crate::incidents_setup::ready(&app).await;
    let inc = app.incidents();
    let plan = inc
        .create_response_plan()
        .name("checkout")
        .incident_template(crate::incidents_setup::template("Checkout is down", 1))
        .engagements(&contact)
        .send()
        .await
        .unwrap()
        .arn;
    let incident = inc
        .start_incident()
        .response_plan_arn(&plan)
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    app.tick().await;
    let sent = pages_sent(&app);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].body.contains("Checkout is down"));
    let engagements = app
        .contacts()
        .list_engagements()
        .incident_id(&incident)
        .send()
        .await
        .unwrap()
        .engagements;
    assert_eq!(engagements.len(), 1);
    assert_eq!(engagements[0].contact_arn, contact);
    let page = only_page(&app, &engagements[0].engagement_arn).await;
    let d = describe_page(&app, &page).await;
    assert_eq!(d.incident_id.as_deref(), Some(incident.as_str()));
    accept(&app, &page, &sent[0].code, None).await.unwrap();

    let events = inc
        .list_timeline_events()
        .incident_record_arn(&incident)
        .send()
        .await
        .unwrap()
        .event_summaries;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert!(
        types.contains(&"SSM Contacts Page for Incident"),
        "{types:?}"
    );
    assert!(
        types.contains(&"SSM Contacts Page Acknowledgement for Incident"),
        "{types:?}"
    );

    // Resolving the incident stops its engagements.
    let second = inc
        .start_incident()
        .response_plan_arn(&plan)
        .title("again")
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    app.tick().await;
    inc.update_incident_record()
        .arn(&second)
        .status(IncidentRecordStatus::Resolved)
        .send()
        .await
        .unwrap();
    let engs = app
        .contacts()
        .list_engagements()
        .incident_id(&second)
        .send()
        .await
        .unwrap()
        .engagements;
    assert_eq!(engs.len(), 1);
    assert!(engs[0].stop_time.is_some());
    app.advance(5 * MIN).await;
    assert_eq!(
        pages_sent(&app).len(),
        2,
        "no email stage for the resolved incident"
    );
}

/// SMS sends wait for a gate; email goes straight through.
#[derive(Default)]
struct Gate {
    sms_begun: tokio::sync::Notify,
    open: tokio::sync::Notify,
    emails: std::sync::Mutex<Vec<OutboundMessage>>,
    email_seen: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl klaxon::delivery::Channel for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    async fn send(
        &self,
        m: &OutboundMessage,
        _: i64,
    ) -> Result<String, klaxon::delivery::DeliveryError> {
        if m.channel_type == klaxon::delivery::ChannelKind::Sms {
            self.sms_begun.notify_one();
            self.open.notified().await;
        } else {
            self.emails.lock().unwrap().push(m.clone());
            self.email_seen.notify_one();
        }
        Ok("gate".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_send_does_not_hold_up_other_pages() {
    use std::sync::Arc;
    let app = spawn().await;
    let slow = crate::channels::personal(&app, "slow").await;
    let sms = active_channel(&app, &slow, ChannelType::Sms, "+12065550100").await;
    set_plan(&app, &slow, vec![channel_stage(5, &[(&sms, 0)])]).await;
    let fast = crate::channels::personal(&app, "fast").await;
    let email = active_channel(&app, &fast, ChannelType::Email, "fast@example.com").await;
    set_plan(&app, &fast, vec![channel_stage(5, &[(&email, 0)])]).await;

    // A second engine with its own loop on the same store delivers through the gate.
    let gate = Arc::new(Gate::default());
    let engine = klaxon::engine::Engine::new(
        app.running.store.clone(),
        app.clock.clone(),
        klaxon::delivery::Registry::all(gate.clone()),
        klaxon::domain::clock::Durations { time_scale: 1.0 },
        Arc::new(klaxon::metrics::Metrics::default()),
        klaxon::config::EngineConfig::default(),
        Arc::new(tokio::sync::Notify::new()),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let looping = tokio::spawn(engine.clone().run(stopped));
    let wait = std::time::Duration::from_secs(10);

    engage(&app, &slow).await;
    engine.wake();
    tokio::time::timeout(wait, gate.sms_begun.notified())
        .await
        .expect("the SMS send began");
    engage(&app, &fast).await;
    engine.wake();
    tokio::time::timeout(wait, async {
        while gate.emails.lock().unwrap().is_empty() {
            gate.email_seen.notified().await;
        }
    })
    .await
    .expect("the email went out while the SMS send was still hanging");
    assert_eq!(gate.emails.lock().unwrap()[0].contact_channel_arn, email);

    gate.open.notify_one();
    let _ = stop.send(true);
    looping.await.unwrap();
    let page = only_page(&app, &engage_arn_of(&app, &slow).await).await;
    assert_eq!(receipt_types(&app, &page).await, vec![ReceiptType::Sent]);
}

async fn engage_arn_of(app: &TestApp, contact: &str) -> String {
    let pages = app
        .contacts()
        .list_pages_by_contact()
        .contact_id(contact)
        .send()
        .await
        .unwrap()
        .pages;
    pages[0].engagement_arn.clone()
}

#[tokio::test]
async fn sends_beyond_a_channels_rate_limit_wait_for_the_minute() {
    let app = spawn_with(Setup {
        engine: Some(klaxon::config::EngineConfig {
            max_sends_per_channel_per_minute: 2,
            ..Default::default()
        }),
        ..Setup::default()
    })
    .await;
    let contact = crate::channels::personal(&app, "limited").await;
    let sms = active_channel(&app, &contact, ChannelType::Sms, "+12065550100").await;
    set_plan(&app, &contact, vec![channel_stage(30, &[(&sms, 0)])]).await;
    app.clock.advance_ms(MIN + 1); // the activation code's slot has passed
    let mut pages = Vec::new();
    for _ in 0..3 {
        pages.push(engage(&app, &contact).await);
    }
    app.tick().await;
    assert_eq!(pages_sent(&app).len(), 2, "two in the first minute");
    app.advance(MIN - 1).await;
    assert_eq!(pages_sent(&app).len(), 2);
    app.advance(1).await;
    assert_eq!(
        pages_sent(&app).len(),
        3,
        "the third once the minute has passed"
    );
    for eng in &pages {
        let page = only_page(&app, eng).await;
        assert_eq!(
            receipt_types(&app, &page).await,
            vec![ReceiptType::Sent],
            "held back, not failed"
        );
    }
}

#[tokio::test]
async fn page_receipts_page_with_next_token() {
    let app = spawn().await;
    let (contact, _, _) = person(&app, "receipts", 1).await;
    let page = paged(&app, &contact).await;
    app.advance(MIN).await;
    app.contacts()
        .stop_engagement()
        .engagement_id(pages_sent(&app)[0].engagement_arn.clone().unwrap())
        .send()
        .await
        .unwrap();
    let c = app.contacts();
    let first = c
        .list_page_receipts()
        .page_id(&page)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(first.receipts.as_ref().unwrap().len(), 2);
    let token = first.next_token.expect("a third receipt follows");
    let rest = c
        .list_page_receipts()
        .page_id(&page)
        .next_token(token)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.receipts.unwrap()[0].receipt_type, ReceiptType::Stop);
    assert!(rest.next_token.is_none());
    let e = c
        .list_page_receipts()
        .page_id(&page)
        .next_token("bm90LWEtdG9rZW4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}
