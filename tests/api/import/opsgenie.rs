//! `klaxon import opsgenie`: a fake Opsgenie API (the JSON shapes of Opsgenie's User, Contact,
//! Notification Rule, Schedule, Schedule Override and Escalation APIs, two items a page, one
//! 429 on the first request) is imported into a running Klaxon, then checked through the SDK;
//! the imported rotations must name the same person on call as the Opsgenie schedule would.

use super::{Dest, dest, row};
use crate::helpers::*;
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{ActivationStatus, ContactType};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

const API_KEY: &str = "og-test-key-5d1e";
const PAGE: usize = 2;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

struct Fake {
    base: String,
    data: Data,
    limited: AtomicBool,
    requests: AtomicUsize,
}

#[derive(Clone)]
struct Data {
    users: Vec<Value>,
    contacts: Vec<(String, Vec<Value>)>,
    rules: Vec<(String, Value)>,
    schedules: Vec<Value>,
    overrides: Vec<Value>,
    escalations: Vec<Value>,
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

fn user(id: &str, username: &str, name: &str) -> Value {
    json!({"id": id, "username": username, "fullName": name, "role": {"id": "User", "name": "User"},
           "timeZone": "Europe/Berlin", "locale": "en_US", "blocked": false, "verified": true,
           "createdAt": "2024-01-01T00:00:00.000Z"})
}

fn contact(id: &str, method: &str, to: &str, enabled: bool) -> Value {
    json!({"id": id, "method": method, "to": to, "status": {"enabled": enabled}, "applyOrder": 0})
}

fn participant(id: &str, username: &str) -> Value {
    json!({"type": "user", "id": id, "username": username})
}

/// Rotation starts: ten days ago at 09:00 UTC, so the window checked is well into them.
fn data(start: i64, now: i64) -> Data {
    let alice = participant("u-alice", "alice@example.com");
    let bob = participant("u-bob", "bob@example.com");
    let carol = participant("u-carol", "carol@example.com");
    let rule = json!({"id": "nr-1", "name": "New alert", "actionType": "create-alert", "order": 1,
        "enabled": true, "notificationTime": [], "steps": [
            {"id": "st-1", "sendAfter": {"timeAmount": 0, "timeUnit": "minutes"},
             "contact": {"method": "sms", "to": "1-5550100"}, "enabled": true},
            {"id": "st-2", "sendAfter": {"timeAmount": 5, "timeUnit": "minutes"},
             "contact": {"method": "email", "to": "alice@example.com"}, "enabled": true}]});
    let ov_start = (now / DAY + 2) * DAY;
    Data {
        users: vec![
            user("u-alice", "alice@example.com", "Alice Adams"),
            user("u-bob", "bob@example.com", "Bob O'Brien"),
            user("u-carol", "carol@example.com", "Carol Chen"),
            user("u-alice2", "Alice@other.example.org", "Alice Other"),
        ],
        contacts: vec![
            (
                "u-alice".into(),
                vec![
                    contact("c-1", "sms", "1-5550100", true),
                    contact("c-2", "email", "alice@example.com", true),
                ],
            ),
            (
                "u-bob".into(),
                vec![contact("c-3", "voice", "44-7700900123", true)],
            ),
            (
                "u-carol".into(),
                vec![contact("c-4", "sms", "1-5550199", false)],
            ),
            (
                "u-alice2".into(),
                vec![contact("c-5", "email", "alice@other.example.org", true)],
            ),
        ],
        rules: vec![("u-alice".into(), rule)],
        schedules: vec![
            json!({"id": "s-1", "name": "Primary", "description": "first line",
            "timezone": "UTC", "enabled": true, "ownerTeam": {"id": "t-1", "name": "ops"},
            "rotations": [
              {"id": "r-daily", "name": "days", "startDate": iso(start), "type": "daily", "length": 1,
               "participants": [alice.clone(), bob.clone(), carol.clone()]},
              {"id": "r-weekly", "name": "office", "startDate": iso(start), "type": "weekly", "length": 1,
               "participants": [bob.clone(), alice.clone()],
               "timeRestriction": {"type": "time-of-day",
                  "restriction": {"startHour": 9, "startMin": 0, "endHour": 17, "endMin": 0}}},
              {"id": "r-hourly", "name": "hours", "startDate": iso(start), "type": "hourly", "length": 4,
               "participants": [alice.clone(), bob.clone()]},
              {"id": "r-team", "name": "teams", "startDate": iso(start), "type": "daily", "length": 1,
               "participants": [alice.clone(), {"type": "team", "id": "t-1", "name": "ops"}]}
            ]}),
        ],
        overrides: vec![
            json!({"_parent": {"id": "s-1", "name": "Primary", "enabled": true},
            "alias": "cover-1", "user": bob.clone(), "startDate": iso(ov_start),
            "endDate": iso(ov_start + DAY), "rotations": [{"id": "r-daily", "name": "days"}]}),
        ],
        escalations: vec![
            json!({"id": "e-1", "name": "Critical", "description": "wake people",
            "ownerTeam": {"id": "t-1", "name": "ops"}, "rules": [
              {"condition": "if-not-acked", "notifyType": "default",
               "delay": {"timeAmount": 0, "timeUnit": "minutes"}, "recipient": alice.clone()},
              {"condition": "if-not-acked", "notifyType": "default",
               "delay": {"timeAmount": 10, "timeUnit": "minutes"},
               "recipient": {"type": "schedule", "id": "s-1", "name": "Primary"}},
              {"condition": "if-not-acked", "notifyType": "default",
               "delay": {"timeAmount": 45, "timeUnit": "minutes"}, "recipient": bob.clone()},
              {"condition": "if-not-acked", "notifyType": "default",
               "delay": {"timeAmount": 50, "timeUnit": "minutes"},
               "recipient": {"type": "team", "id": "t-1", "name": "ops"}}],
            "repeat": {"waitInterval": 0, "count": 0, "resetRecipientStates": false, "closeAlertAfterAll": false}}),
        ],
    }
}

fn json_response(v: Value) -> Response {
    ([("content-type", "application/json")], v.to_string()).into_response()
}

fn page(f: &Fake, path: &str, extra: &str, items: &[Value], offset: usize) -> Response {
    let chunk: Vec<Value> = items.iter().skip(offset).take(PAGE).cloned().collect();
    let mut paging = json!({"first": format!("{}{path}?{extra}offset=0&limit={PAGE}", f.base)});
    if offset + PAGE < items.len() {
        paging["next"] = json!(format!(
            "{}{path}?{extra}offset={}&limit={PAGE}",
            f.base,
            offset + PAGE
        ));
    }
    json_response(
        json!({"data": chunk, "paging": paging, "totalCount": items.len(),
                      "took": 0.01, "requestId": "rq"}),
    )
}

async fn answer(State(f): State<Arc<Fake>>, headers: HeaderMap, uri: Uri) -> Response {
    f.requests.fetch_add(1, Ordering::SeqCst);
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("GenieKey {API_KEY}"))
    {
        return (StatusCode::UNAUTHORIZED, "{\"message\":\"no key\"}").into_response();
    }
    if !f.limited.swap(true, Ordering::SeqCst) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "0")],
            "{\"message\":\"slow down\"}",
        )
            .into_response();
    }
    let q = uri.query().unwrap_or("");
    let offset = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("offset="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let path = uri.path();
    let parts: Vec<&str> = path.trim_start_matches("/v2/").split('/').collect();
    let d = &f.data;
    let empty = Vec::new();
    match parts.as_slice() {
        ["users"] => page(&f, path, "", &d.users, offset),
        ["users", id, "contacts"] => {
            let c = d
                .contacts
                .iter()
                .find(|x| x.0 == *id)
                .map_or(&empty, |x| &x.1);
            page(&f, path, "", c, offset)
        }
        ["users", id, "notification-rules"] => {
            let rules: Vec<Value> = d
                .rules
                .iter()
                .filter(|x| x.0 == *id)
                .map(|x| {
                    let mut r = x.1.clone();
                    r.as_object_mut().unwrap().remove("steps");
                    r
                })
                .collect();
            page(&f, path, "", &rules, offset)
        }
        ["users", id, "notification-rules", rule] => {
            match d.rules.iter().find(|x| x.0 == *id && x.1["id"] == *rule) {
                Some(r) => json_response(json!({"data": r.1, "took": 0.01, "requestId": "rq"})),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        ["schedules"] => page(&f, path, "expand=rotation&", &d.schedules, offset),
        ["schedules", _, "overrides"] => page(&f, path, "", &d.overrides, offset),
        ["escalations"] => page(&f, path, "", &d.escalations, offset),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn fake(data: Data) -> Arc<Fake> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let f = Arc::new(Fake {
        base: format!("http://{}", listener.local_addr().unwrap()),
        data,
        limited: AtomicBool::new(false),
        requests: AtomicUsize::new(0),
    });
    let app = axum::Router::new().fallback(answer).with_state(f.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    f
}

struct Run {
    ok: bool,
    stdout: String,
}

async fn import(f: &Fake, d: &Dest, extra: &[&str]) -> Run {
    let key = d.dir.path().join("opsgenie.key");
    std::fs::write(&key, format!("{API_KEY}\n")).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_klaxon"));
    cmd.args(["import", "opsgenie", "--listen", &d.addr, "--config"])
        .arg(d.config())
        .arg("--data-dir")
        .arg(d.dir.path())
        .args(["--api-url", &f.base, "--api-key-file"])
        .arg(&key)
        .args(extra)
        .env("KLAXON_ACCESS_KEY_ID", KEY2)
        .env("KLAXON_SECRET_ACCESS_KEY", SECRET2)
        .env("KLAXON_ACCOUNT_ID", ACCOUNT2)
        .env("KLAXON_LOG", "warn");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stdout.contains(API_KEY) && !stderr.contains(API_KEY),
        "the key was printed"
    );
    eprintln!("{stdout}{stderr}");
    Run {
        ok: out.status.success(),
        stdout,
    }
}

fn arn(alias: &str) -> String {
    format!(
        "arn:aws:ssm-contacts:{}:{ACCOUNT2}:contact/{alias}",
        super::TARGET_REGION
    )
}

/// Who Opsgenie puts on call in a rotation at `t`: turns of `length` days or weeks from the
/// start, in participant order, only inside the time restriction; an override wins.
fn expected(f: &Data, rotation: &str, t: i64) -> Option<String> {
    let r = f.schedules[0]["rotations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rotation)?;
    for ov in &f.overrides {
        let (s, e) = (ms(&ov["startDate"]), ms(&ov["endDate"]));
        let applies = ov["rotations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == rotation);
        if applies && s <= t && t < e {
            return Some(
                ov["user"]["username"]
                    .as_str()?
                    .split('@')
                    .next()?
                    .to_string(),
            );
        }
    }
    if let Some(tr) = r.get("timeRestriction") {
        let x = &tr["restriction"];
        let minute = t.rem_euclid(DAY) / 60_000;
        let from = x["startHour"].as_i64()? * 60 + x["startMin"].as_i64()?;
        let to = x["endHour"].as_i64()? * 60 + x["endMin"].as_i64()?;
        if minute < from || minute >= to {
            return None;
        }
    }
    let turn = r["length"].as_i64()? * if r["type"] == "weekly" { 7 * DAY } else { DAY };
    let people = r["participants"].as_array()?;
    let i = ((t - ms(&r["startDate"])) / turn) as usize % people.len();
    Some(
        people[i]["username"]
            .as_str()?
            .split('@')
            .next()?
            .to_string(),
    )
}

fn ms(v: &Value) -> i64 {
    v.as_str()
        .unwrap()
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_millisecond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_setup_moves_into_a_running_klaxon() {
    let now = jiff::Timestamp::now().as_millisecond();
    let start = (now / DAY - 10) * DAY + 9 * HOUR;
    let data = data(start, now);
    let f = fake(data.clone()).await;
    let d = dest(true).await;
    let c = d.contacts();

    let dry = import(&f, &d, &["--dry-run"]).await;
    assert!(dry.ok, "{}", dry.stdout);
    assert!(
        dry.stdout.contains("would create contact alice"),
        "{}",
        dry.stdout
    );
    let listed = c.list_contacts().send().await.unwrap();
    assert!(listed.contacts().is_empty(), "a dry run created contacts");
    assert!(
        c.list_rotations()
            .send()
            .await
            .unwrap()
            .rotations()
            .is_empty()
    );

    let first = import(&f, &d, &[]).await;
    assert!(first.ok, "{}", first.stdout);
    assert!(f.limited.load(Ordering::SeqCst));
    assert_eq!(
        row(&first.stdout, "contact"),
        [6, 0, 0, 0, 0],
        "{}",
        first.stdout
    );
    assert_eq!(row(&first.stdout, "contact-channel"), [5, 0, 0, 0, 0]);
    assert_eq!(row(&first.stdout, "rotation"), [2, 0, 0, 2, 0]);
    assert_eq!(row(&first.stdout, "rotation-override"), [1, 0, 0, 0, 0]);
    assert!(
        first
            .stdout
            .contains("hourly rotations have no AWS counterpart"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("participant team ops is not importable"),
        "{}",
        first.stdout
    );
    assert!(
        first
            .stdout
            .contains("recipient team ops is not importable"),
        "{}",
        first.stdout
    );
    assert!(first.stdout.contains("clamped to 30"), "{}", first.stdout);

    // Contacts: aliases from the usernames' local parts, made unique.
    let mut aliases: Vec<(String, ContactType)> = c
        .list_contacts()
        .send()
        .await
        .unwrap()
        .contacts()
        .iter()
        .map(|x| (x.alias.clone(), x.r#type.clone()))
        .collect();
    aliases.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        aliases,
        vec![
            ("alice".into(), ContactType::Personal),
            ("alice-2".into(), ContactType::Personal),
            ("bob".into(), ContactType::Personal),
            ("carol".into(), ContactType::Personal),
            ("critical".into(), ContactType::Escalation),
            ("primary".into(), ContactType::OncallSchedule),
        ]
    );
    let alice = c
        .get_contact()
        .contact_id(arn("alice"))
        .send()
        .await
        .unwrap();
    assert_eq!(alice.display_name.as_deref(), Some("Alice Adams"));
    // A name AWS's DisplayName pattern refuses keeps its letters; the person and their
    // rotations come across.
    let bob = c.get_contact().contact_id(arn("bob")).send().await.unwrap();
    assert_eq!(bob.display_name.as_deref(), Some("Bob OBrien"));

    // Channels: E.164 numbers, enabled methods active at once, a disabled one not.
    let chans = c
        .list_contact_channels()
        .contact_id(arn("alice"))
        .send()
        .await
        .unwrap();
    let mut got: Vec<(String, String, ActivationStatus)> = chans
        .contact_channels()
        .iter()
        .map(|x| {
            (
                x.name.clone(),
                x.delivery_address
                    .as_ref()
                    .unwrap()
                    .simple_address
                    .clone()
                    .unwrap(),
                x.activation_status.clone(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            (
                "email".into(),
                "alice@example.com".into(),
                ActivationStatus::Activated
            ),
            (
                "sms".into(),
                "+15550100".into(),
                ActivationStatus::Activated
            ),
        ]
    );
    let carol = c
        .list_contact_channels()
        .contact_id(arn("carol"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        carol.contact_channels()[0].activation_status,
        ActivationStatus::NotActivated
    );

    // Alice's plan: her notification rule's steps, SMS at once, email five minutes on.
    let by_name = |n: &str| {
        chans
            .contact_channels()
            .iter()
            .find(|x| x.name == n)
            .unwrap()
            .contact_channel_arn
            .clone()
    };
    let stages = alice.plan.unwrap().stages.unwrap_or_default();
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0].duration_in_minutes, 5);
    assert_eq!(
        stages[0].targets[0]
            .channel_target_info
            .as_ref()
            .unwrap()
            .contact_channel_id,
        by_name("sms")
    );
    assert_eq!(
        stages[1].targets[0]
            .channel_target_info
            .as_ref()
            .unwrap()
            .contact_channel_id,
        by_name("email")
    );

    // The escalation: one stage per rule, waits as gaps between the delays, 40 clamped to 30.
    let esc = c
        .get_contact()
        .contact_id(arn("critical"))
        .send()
        .await
        .unwrap();
    let stages = esc.plan.unwrap().stages.unwrap_or_default();
    let waits: Vec<i32> = stages.iter().map(|s| s.duration_in_minutes).collect();
    assert_eq!(waits, vec![10, 30, 0]);
    let target = |i: usize| {
        stages[i].targets[0]
            .contact_target_info
            .as_ref()
            .unwrap()
            .contact_id
            .clone()
    };
    assert_eq!(target(0), Some(arn("alice")));
    assert_eq!(target(1), Some(arn("primary")));
    assert_eq!(target(2), Some(arn("bob")));

    // The schedule contact names both imported rotations, which keep the time zone.
    let sched = c
        .get_contact()
        .contact_id(arn("primary"))
        .send()
        .await
        .unwrap();
    let rotation_ids = sched.plan.unwrap().rotation_ids.unwrap_or_default();
    assert_eq!(rotation_ids.len(), 2);
    let rotations = c.list_rotations().send().await.unwrap();
    let rot = |name: &str| {
        rotations
            .rotations()
            .iter()
            .find(|r| r.name == name)
            .unwrap()
            .clone()
    };
    for (name, source) in [("Primary days", "r-daily"), ("Primary office", "r-weekly")] {
        let r = rot(name);
        assert!(rotation_ids.contains(&r.rotation_arn));
        assert_eq!(r.time_zone_id.as_deref(), Some("UTC"));
        let shifts = c
            .list_rotation_shifts()
            .rotation_id(&r.rotation_arn)
            .start_time(DateTime::from_millis(now))
            .end_time(DateTime::from_millis(now + 14 * DAY))
            .send()
            .await
            .unwrap();
        let alias_of = |a: &str| a.rsplit('/').next().unwrap().to_string();
        let mut t = (now / HOUR + 1) * HOUR + HOUR / 2;
        while t < now + 14 * DAY {
            let on = shifts
                .rotation_shifts()
                .iter()
                .find(|s| {
                    s.start_time.to_millis().unwrap() <= t && t < s.end_time.to_millis().unwrap()
                })
                .and_then(|s| s.contact_ids().first().map(|x| alias_of(x)));
            assert_eq!(on, expected(&data, source, t), "{name} at {}", iso(t));
            t += HOUR;
        }
    }
    let ovs = c
        .list_rotation_overrides()
        .rotation_id(rot("Primary days").rotation_arn)
        .start_time(DateTime::from_millis(now))
        .end_time(DateTime::from_millis(now + 30 * DAY))
        .send()
        .await
        .unwrap();
    assert_eq!(ovs.rotation_overrides().len(), 1);

    // A second run changes nothing.
    let again = import(&f, &d, &[]).await;
    assert!(again.ok, "{}", again.stdout);
    assert_eq!(
        row(&again.stdout, "contact"),
        [0, 0, 6, 0, 0],
        "{}",
        again.stdout
    );
    assert_eq!(row(&again.stdout, "contact-channel"), [0, 0, 5, 0, 0]);
    assert_eq!(row(&again.stdout, "rotation"), [0, 0, 2, 2, 0]);
    assert_eq!(row(&again.stdout, "rotation-override"), [0, 0, 1, 0, 0]);
}
