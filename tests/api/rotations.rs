//! Rotations, overrides and on-call schedules through aws-sdk-ssmcontacts: CRUD and errors,
//! shifts and previews, and engagements of an on-call schedule paging whoever is on call, before
//! and after a hand-off, across a daylight-saving change and under an override.

use crate::channels::personal;
use crate::engagements::{active_channel, channel_stage, contact_stage, pages_sent, set_plan};
use crate::helpers::*;
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{
    ChannelType, ContactType, CoverageTime, DayOfWeek, HandOffTime, Plan, PreviewOverride,
    RecurrenceSettings, ShiftType, Tag, WeeklySetting,
};
use klaxon::domain::clock::Clock;

const HOUR: i64 = 3_600_000;

fn at(hour: i32, minute: i32) -> HandOffTime {
    HandOffTime::builder()
        .hour_of_day(hour)
        .minute_of_hour(minute)
        .build()
}

pub fn daily(hour: i32) -> RecurrenceSettings {
    RecurrenceSettings::builder()
        .number_of_on_calls(1)
        .recurrence_multiplier(1)
        .daily_settings(at(hour, 0))
        .build()
        .unwrap()
}

/// Epoch milliseconds of a local time in a zone.
fn local(tz: &str, y: i16, mo: i8, d: i8, h: i8) -> i64 {
    jiff::tz::TimeZone::get(tz)
        .unwrap()
        .to_timestamp(jiff::civil::date(y, mo, d).at(h, 0, 0, 0))
        .unwrap()
        .as_millisecond()
}

pub async fn rotation(
    app: &TestApp,
    name: &str,
    members: &[&str],
    start: i64,
    tz: &str,
    r: RecurrenceSettings,
) -> String {
    app.contacts()
        .create_rotation()
        .name(name)
        .set_contact_ids(Some(members.iter().map(|m| m.to_string()).collect()))
        .start_time(DateTime::from_millis(start))
        .time_zone_id(tz)
        .recurrence(r)
        .send()
        .await
        .unwrap()
        .rotation_arn
}

pub async fn schedule(app: &TestApp, alias: &str, rotations: &[&str]) -> String {
    app.contacts()
        .create_contact()
        .alias(alias)
        .r#type(ContactType::OncallSchedule)
        .plan(
            Plan::builder()
                .set_rotation_ids(Some(rotations.iter().map(|r| r.to_string()).collect()))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn
}

/// A personal contact with one activated SMS channel paged at once.
async fn responder(app: &TestApp, alias: &str) -> String {
    let c = personal(app, alias).await;
    let sms = active_channel(app, &c, ChannelType::Sms, "+12065550100").await;
    set_plan(app, &c, vec![channel_stage(5, &[(&sms, 0)])]).await;
    c
}

async fn engage(app: &TestApp, contact: &str) -> String {
    let eng = app
        .contacts()
        .start_engagement()
        .contact_id(contact)
        .sender("s")
        .subject("x")
        .content("c")
        .send()
        .await
        .unwrap()
        .engagement_arn;
    app.tick().await;
    eng
}

fn last_paged(app: &TestApp) -> String {
    let page = pages_sent(app).last().unwrap().page_arn.clone().unwrap();
    page.split(":page/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn rotations_are_created_read_listed_updated_and_deleted() {
    let app = spawn().await;
    let c = app.contacts();
    let a = personal(&app, "rot-a").await;
    let b = personal(&app, "rot-b").await;
    let weekly = RecurrenceSettings::builder()
        .number_of_on_calls(1)
        .recurrence_multiplier(2)
        .weekly_settings(
            WeeklySetting::builder()
                .day_of_week(DayOfWeek::Mon)
                .hand_off_time(at(9, 0))
                .build()
                .unwrap(),
        )
        .shift_coverages(
            DayOfWeek::Mon,
            vec![
                CoverageTime::builder()
                    .start(at(9, 0))
                    .end(at(17, 0))
                    .build(),
            ],
        )
        .build()
        .unwrap();
    // Whole seconds: the wire carries seconds as a JSON number.
    let start = (app.clock.now_ms() / 1000) * 1000 - 24 * HOUR;
    let arn = app
        .contacts()
        .create_rotation()
        .name("primary oncall")
        .contact_ids(&a)
        .contact_ids(&b)
        .start_time(DateTime::from_millis(start))
        .time_zone_id("Europe/London")
        .recurrence(weekly.clone())
        .tags(Tag::builder().key("team").value("payments").build())
        .idempotency_token("rot-1")
        .send()
        .await
        .unwrap()
        .rotation_arn;
    assert!(arn.starts_with(&format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:rotation/"
    )));
    let again = c
        .create_rotation()
        .name("primary oncall")
        .contact_ids(&a)
        .contact_ids(&b)
        .start_time(DateTime::from_millis(start))
        .time_zone_id("Europe/London")
        .recurrence(weekly.clone())
        .tags(Tag::builder().key("team").value("payments").build())
        .idempotency_token("rot-1")
        .send()
        .await
        .unwrap()
        .rotation_arn;
    assert_eq!(again, arn, "the token replays");
    let got = c.get_rotation().rotation_id(&arn).send().await.unwrap();
    assert_eq!(got.name, "primary oncall");
    assert_eq!(got.contact_ids, vec![a.clone(), b.clone()]);
    assert_eq!(got.time_zone_id, "Europe/London");
    assert_eq!(got.start_time.to_millis().unwrap(), start);
    assert_eq!(got.recurrence.unwrap().recurrence_multiplier, 2);
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags[0].key.as_deref(), Some("team"));

    rotation(&app, "secondary", &[&b], start, "UTC", daily(9)).await;

    // Without a StartTime, none is reported back (Terraform reads back what it wrote); the
    // rotation still hands off from when it was created.
    let unstarted = c
        .create_rotation()
        .name("unstarted")
        .contact_ids(&a)
        .contact_ids(&b)
        .time_zone_id("UTC")
        .recurrence(daily(9))
        .send()
        .await
        .unwrap()
        .rotation_arn;
    let got = c
        .get_rotation()
        .rotation_id(&unstarted)
        .send()
        .await
        .unwrap();
    assert_eq!(got.start_time.secs(), 0, "no StartTime on the wire");
    let shifts = c
        .list_rotation_shifts()
        .rotation_id(&unstarted)
        .start_time(DateTime::from_millis(app.clock.now_ms()))
        .end_time(DateTime::from_millis(app.clock.now_ms() + 72 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_shifts
        .unwrap_or_default();
    assert!(!shifts.is_empty(), "its shifts start where Klaxon decided");
    c.update_rotation()
        .rotation_id(&unstarted)
        .start_time(DateTime::from_millis(start))
        .recurrence(daily(9))
        .send()
        .await
        .unwrap();
    let got = c
        .get_rotation()
        .rotation_id(&unstarted)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.start_time.to_millis().unwrap(),
        start,
        "a given start is kept"
    );
    c.delete_rotation()
        .rotation_id(&unstarted)
        .send()
        .await
        .unwrap();

    let listed = c
        .list_rotations()
        .rotation_name_prefix("prim")
        .send()
        .await
        .unwrap()
        .rotations;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].rotation_arn, arn);
    let all = c.list_rotations().max_results(1).send().await.unwrap();
    assert_eq!(all.rotations.len(), 1);
    assert!(all.next_token.is_some());

    c.update_rotation()
        .rotation_id(&arn)
        .contact_ids(&b)
        .time_zone_id("Asia/Kolkata")
        .recurrence(daily(8))
        .send()
        .await
        .unwrap();
    let got = c.get_rotation().rotation_id(&arn).send().await.unwrap();
    assert_eq!(
        (got.contact_ids, got.time_zone_id.as_str()),
        (vec![b.clone()], "Asia/Kolkata")
    );

    // A member cannot be deleted while a rotation lists it; the error names the rotation.
    let e = c.delete_contact().contact_id(&b).send().await.unwrap_err();
    match e.into_service_error() {
        aws_sdk_ssmcontacts::operation::delete_contact::DeleteContactError::ConflictException(
            x,
        ) => {
            let deps = x.dependent_entities.unwrap();
            assert!(deps[0].dependent_resource_ids.contains(&arn));
        }
        other => panic!("{other:?}"),
    }

    // Deleting the rotation takes it out of the schedules that list it.
    let sched = schedule(&app, "payments-oncall", &[&arn]).await;
    c.delete_rotation().rotation_id(&arn).send().await.unwrap();
    let plan = c
        .get_contact()
        .contact_id(&sched)
        .send()
        .await
        .unwrap()
        .plan
        .unwrap();
    assert!(plan.rotation_ids.unwrap_or_default().is_empty());
    assert_eq!(
        code(&c.get_rotation().rotation_id(&arn).send().await.unwrap_err()),
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn rotation_errors_are_validation_or_not_found() {
    let app = spawn().await;
    let c = app.contacts();
    let a = personal(&app, "err-a").await;
    let now = app.clock.now_ms();
    let create = |tz: &str, r: RecurrenceSettings, member: &str| {
        c.create_rotation()
            .name("r")
            .contact_ids(member)
            .start_time(DateTime::from_millis(now))
            .time_zone_id(tz)
            .recurrence(r)
            .send()
    };
    assert_eq!(
        code(&create("PST", daily(9), &a).await.unwrap_err()),
        "ValidationException"
    );
    assert_eq!(
        code(&create("Mars/Olympus", daily(9), &a).await.unwrap_err()),
        "ValidationException"
    );
    let none = RecurrenceSettings::builder()
        .number_of_on_calls(1)
        .recurrence_multiplier(1)
        .build()
        .unwrap();
    assert_eq!(
        code(&create("UTC", none, &a).await.unwrap_err()),
        "ValidationException"
    );
    let two = RecurrenceSettings::builder()
        .number_of_on_calls(1)
        .recurrence_multiplier(1)
        .daily_settings(at(9, 0))
        .weekly_settings(
            WeeklySetting::builder()
                .day_of_week(DayOfWeek::Mon)
                .hand_off_time(at(9, 0))
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    assert_eq!(
        code(&create("UTC", two, &a).await.unwrap_err()),
        "ValidationException"
    );
    let ghost = contact_arn(ACCOUNT, "ghost");
    assert_eq!(
        code(&create("UTC", daily(9), &ghost).await.unwrap_err()),
        "ResourceNotFoundException"
    );
    let esc = c
        .create_contact()
        .alias("err-esc")
        .r#type(ContactType::Escalation)
        .plan(
            Plan::builder()
                .stages(contact_stage(5, &[(&a, true)]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn;
    assert_eq!(
        code(&create("UTC", daily(9), &esc).await.unwrap_err()),
        "ValidationException"
    );

    let r = rotation(&app, "r", &[&a], now, "UTC", daily(9)).await;
    let e = c
        .create_rotation_override()
        .rotation_id(&r)
        .new_contact_ids(&a)
        .start_time(DateTime::from_millis(now + HOUR))
        .end_time(DateTime::from_millis(now))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let missing = format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:rotation/00000000-0000-0000-0000-000000000000"
    );
    let e = c
        .list_rotation_shifts()
        .rotation_id(&missing)
        .end_time(DateTime::from_millis(now + HOUR))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .get_rotation_override()
        .rotation_id(&r)
        .rotation_override_id("00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .list_rotation_shifts()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(now))
        .end_time(DateTime::from_millis(now - 1))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}

#[tokio::test]
async fn shifts_overrides_and_previews() {
    let app = spawn().await;
    let c = app.contacts();
    let (a, b, x) = (
        personal(&app, "sh-a").await,
        personal(&app, "sh-b").await,
        personal(&app, "sh-x").await,
    );
    let start = local("UTC", 2026, 1, 1, 9);
    let r = rotation(&app, "days", &[&a, &b], start, "UTC", daily(9)).await;
    let shifts = c
        .list_rotation_shifts()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(start + 4 * 24 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_shifts
        .unwrap();
    let who: Vec<&str> = shifts
        .iter()
        .map(|s| s.contact_ids.as_ref().unwrap()[0].as_str())
        .collect();
    assert_eq!(who, [a.as_str(), b.as_str(), a.as_str(), b.as_str()]);
    assert!(shifts.iter().all(|s| s.r#type == Some(ShiftType::Regular)));
    let paged = c
        .list_rotation_shifts()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(start + 4 * 24 * HOUR))
        .max_results(3)
        .send()
        .await
        .unwrap();
    assert_eq!(paged.rotation_shifts.unwrap().len(), 3);
    let rest = c
        .list_rotation_shifts()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(start + 4 * 24 * HOUR))
        .next_token(paged.next_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.rotation_shifts.unwrap().len(), 1);
    assert!(rest.next_token.is_none());

    let o = c
        .create_rotation_override()
        .rotation_id(&r)
        .new_contact_ids(&x)
        .start_time(DateTime::from_millis(start + 12 * HOUR))
        .end_time(DateTime::from_millis(start + 36 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_override_id;
    let got = c
        .get_rotation_override()
        .rotation_id(&r)
        .rotation_override_id(&o)
        .send()
        .await
        .unwrap();
    assert_eq!(got.new_contact_ids.unwrap(), vec![x.clone()]);
    assert_eq!(got.rotation_arn.as_deref(), Some(r.as_str()));
    let shifts = c
        .list_rotation_shifts()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(start + 48 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_shifts
        .unwrap();
    let view: Vec<(i64, String, bool)> = shifts
        .iter()
        .map(|s| {
            (
                (s.start_time.to_millis().unwrap() - start) / HOUR,
                s.contact_ids.as_ref().unwrap()[0].clone(),
                s.r#type == Some(ShiftType::Overridden),
            )
        })
        .collect();
    assert_eq!(
        view,
        vec![
            (0, a.clone(), false),
            (12, x.clone(), true),
            (24, x.clone(), true),
            (36, b.clone(), false)
        ]
    );
    assert_eq!(
        shifts[1]
            .shift_details
            .as_ref()
            .unwrap()
            .overridden_contact_ids,
        vec![a.clone()]
    );
    let listed = c
        .list_rotation_overrides()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(start + 24 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_overrides
        .unwrap();
    assert_eq!(listed.len(), 1);
    let later = c
        .list_rotation_overrides()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start + 40 * HOUR))
        .end_time(DateTime::from_millis(start + 50 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_overrides
        .unwrap();
    assert!(later.is_empty());
    c.delete_rotation_override()
        .rotation_id(&r)
        .rotation_override_id(&o)
        .send()
        .await
        .unwrap();
    let shifts = c
        .list_rotation_shifts()
        .rotation_id(&r)
        .start_time(DateTime::from_millis(start))
        .end_time(DateTime::from_millis(start + 48 * HOUR))
        .send()
        .await
        .unwrap()
        .rotation_shifts
        .unwrap();
    assert_eq!(
        shifts.len(),
        2,
        "the override is gone: regular shifts again"
    );

    let preview = c
        .list_preview_rotation_shifts()
        .members("alice")
        .members("bob")
        .time_zone_id("America/New_York")
        .recurrence(daily(9))
        .rotation_start_time(DateTime::from_millis(local(
            "America/New_York",
            2027,
            3,
            12,
            9,
        )))
        .start_time(DateTime::from_millis(local(
            "America/New_York",
            2027,
            3,
            12,
            9,
        )))
        .end_time(DateTime::from_millis(local(
            "America/New_York",
            2027,
            3,
            16,
            9,
        )))
        .overrides(
            PreviewOverride::builder()
                .new_members("carol")
                .start_time(DateTime::from_millis(local(
                    "America/New_York",
                    2027,
                    3,
                    15,
                    9,
                )))
                .end_time(DateTime::from_millis(local(
                    "America/New_York",
                    2027,
                    3,
                    16,
                    9,
                )))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .rotation_shifts
        .unwrap();
    let lengths: Vec<i64> = preview
        .iter()
        .map(|s| (s.end_time.to_millis().unwrap() - s.start_time.to_millis().unwrap()) / HOUR)
        .collect();
    assert_eq!(
        lengths,
        vec![24, 23, 24, 24],
        "the shift over the DST change is 23 h"
    );
    let who: Vec<&str> = preview
        .iter()
        .map(|s| s.contact_ids.as_ref().unwrap()[0].as_str())
        .collect();
    assert_eq!(who, ["alice", "bob", "alice", "carol"]);
}

#[tokio::test]
async fn an_on_call_schedule_pages_whoever_is_on_call_across_hand_offs_dst_and_overrides() {
    let app = spawn().await;
    let tz = "America/New_York";
    // Hand-offs at 09:00 New York time; New York springs forward on 2027-03-14.
    app.clock.set_ms(local(tz, 2027, 3, 13, 12));
    let a = responder(&app, "ny-a").await;
    let b = responder(&app, "ny-b").await;
    let x = responder(&app, "ny-x").await;
    let r = rotation(
        &app,
        "ny",
        &[&a, &b],
        local(tz, 2027, 3, 10, 9),
        tz,
        daily(9),
    )
    .await;
    let sched = schedule(&app, "ny-oncall", &[&r]).await;

    // 2027-03-13 12:00: the shift since 03-13 09:00 (the fourth) is b's.
    let eng = engage(&app, &sched).await;
    assert_eq!(last_paged(&app), "ny-b");
    let page = pages_sent(&app).last().unwrap().page_arn.clone().unwrap();
    let path = app
        .contacts()
        .list_page_resolutions()
        .page_id(&page)
        .send()
        .await
        .unwrap()
        .page_resolutions;
    assert_eq!(path.len(), 2);
    assert_eq!(
        (path[0].contact_arn.as_str(), &path[0].r#type),
        (sched.as_str(), &ContactType::OncallSchedule)
    );
    assert_eq!(path[1].contact_arn, b);
    app.contacts()
        .stop_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap();

    // 08:30 EDT on the change day is 12:30 UTC: still b. A fixed -05:00 would make 13:30 UTC
    // 08:30 too; with the DST change it is 09:30 and a's turn.
    app.clock.set_ms(local(tz, 2027, 3, 14, 8) + HOUR / 2);
    engage(&app, &sched).await;
    assert_eq!(last_paged(&app), "ny-b");
    app.clock.set_ms(local(tz, 2027, 3, 14, 9) + HOUR / 2);
    assert_eq!(
        app.clock.now_ms() % (24 * HOUR),
        13 * HOUR + HOUR / 2,
        "09:30 EDT is 13:30 UTC"
    );
    engage(&app, &sched).await;
    assert_eq!(last_paged(&app), "ny-a");

    // An override changes who is paged.
    let now = app.clock.now_ms();
    app.contacts()
        .create_rotation_override()
        .rotation_id(&r)
        .new_contact_ids(&x)
        .start_time(DateTime::from_millis(now - HOUR))
        .end_time(DateTime::from_millis(now + HOUR))
        .send()
        .await
        .unwrap();
    engage(&app, &sched).await;
    assert_eq!(last_paged(&app), "ny-x");

    // An escalation plan may target the schedule; the essential flag applies to whoever it
    // resolved to.
    let esc = app
        .contacts()
        .create_contact()
        .alias("ny-escalation")
        .r#type(ContactType::Escalation)
        .plan(
            Plan::builder()
                .stages(contact_stage(10, &[(&sched, true)]))
                .stages(contact_stage(10, &[(&b, true)]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn;
    let before = pages_sent(&app).len();
    engage(&app, &esc).await;
    let sent = pages_sent(&app);
    assert_eq!(sent.len(), before + 1);
    assert_eq!(last_paged(&app), "ny-x");
    let page = sent.last().unwrap().page_arn.clone().unwrap();
    let path = app
        .contacts()
        .list_page_resolutions()
        .page_id(&page)
        .send()
        .await
        .unwrap()
        .page_resolutions;
    let types: Vec<&ContactType> = path.iter().map(|p| &p.r#type).collect();
    assert_eq!(
        types,
        [
            &ContactType::Escalation,
            &ContactType::OncallSchedule,
            &ContactType::Personal
        ]
    );
    app.contacts()
        .accept_page()
        .page_id(&page)
        .accept_type(aws_sdk_ssmcontacts::types::AcceptType::Read)
        .accept_code(&sent.last().unwrap().code)
        .send()
        .await
        .unwrap();
    app.advance(10 * 60_000).await;
    assert_eq!(
        pages_sent(&app).len(),
        before + 1,
        "the essential acknowledgement stopped the escalation"
    );
}
