//! `klaxon import aws`: a first Klaxon stands in for AWS Incident Manager; the set-up is brought
//! into a second (`klaxon serve`, another account and Region) by the `klaxon` binary, then
//! compared field by field through the SDK. The import writes through the running server's
//! API, so the server (and its read cache) sees every change at once.

mod opsgenie;

use crate::channels::personal;
use crate::helpers::*;
use crate::incidents_setup::{pagerduty, ready, restart_action, template};
use crate::process::{Server, free_addr, serve_as};
use crate::rotations::{daily, rotation, schedule};
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{
    ActivationStatus, ChannelTargetInfo, ChannelType, ContactChannelAddress, ContactTargetInfo,
    ContactType, CoverageTime, DayOfWeek, HandOffTime, Plan, RecurrenceSettings, Stage, Tag,
    Target, WeeklySetting,
};
use aws_sdk_ssmincidents::types::ChatChannel;
use std::collections::HashMap;

const TARGET_REGION: &str = "eu-west-1";
const DAY: i64 = 86_400_000;

struct Dest {
    dir: tempfile::TempDir,
    addr: String,
    _server: Option<Server>,
}

impl Dest {
    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("klaxon.toml")
    }

    fn contacts(&self) -> aws_sdk_ssmcontacts::Client {
        use aws_sdk_ssmcontacts::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_ssmcontacts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(TARGET_REGION))
            .credentials_provider(Credentials::new(KEY2, SECRET2, None, None, "test"))
            .endpoint_url(format!("http://{}", self.addr))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_ssmcontacts::Client::from_conf(conf)
    }

    fn incidents(&self) -> aws_sdk_ssmincidents::Client {
        use aws_sdk_ssmincidents::config::{BehaviorVersion, Credentials, Region};
        let conf = aws_sdk_ssmincidents::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(TARGET_REGION))
            .credentials_provider(Credentials::new(KEY2, SECRET2, None, None, "test"))
            .endpoint_url(format!("http://{}", self.addr))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .build();
        aws_sdk_ssmincidents::Client::from_conf(conf)
    }

    fn outbox(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("outbox.jsonl")).unwrap_or_default()
    }
}

const TARGET_TOML: &str =
    "regions = [\"eu-west-1\"]\n[engine]\nmax_sends_per_channel_per_minute = 0\n";

async fn dest(running: bool) -> Dest {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    std::fs::write(dir.path().join("klaxon.toml"), TARGET_TOML).unwrap();
    let server = if running {
        Some(
            serve_as(
                dir.path(),
                &addr,
                TARGET_TOML,
                (KEY2, SECRET2, ACCOUNT2),
                "info",
            )
            .await,
        )
    } else {
        None
    };
    Dest {
        dir,
        addr,
        _server: server,
    }
}

struct Run {
    ok: bool,
    stdout: String,
}

/// `klaxon import aws` from `source` into `d`, as an operator would run it.
async fn import(source: &TestApp, d: &Dest, extra: &[&str]) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_klaxon"));
    cmd.args(["import", "aws", "--listen", &d.addr, "--config"])
        .arg(d.config())
        .arg("--data-dir")
        .arg(d.dir.path())
        .args([
            "--source-endpoint-url",
            &source.url(),
            "--source-region",
            REGION,
        ])
        .args(extra)
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_PROFILE")
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
        !stderr.contains(SECRET) && !stdout.contains(SECRET),
        "a key was printed"
    );
    eprintln!("{stdout}{stderr}");
    Run {
        ok: out.status.success(),
        stdout,
    }
}

/// The summary table's row for a kind: created, updated, unchanged, skipped, failed.
fn row(out: &str, kind: &str) -> [usize; 5] {
    let line = out
        .lines()
        .find(|l| l.split_whitespace().next() == Some(kind))
        .unwrap_or_else(|| panic!("no {kind} row in\n{out}"));
    let n: Vec<usize> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap())
        .collect();
    [n[0], n[1], n[2], n[3], n[4]]
}

fn to_target(arn: &str) -> String {
    arn.replace(
        &format!(":{REGION}:{ACCOUNT}:"),
        &format!(":{TARGET_REGION}:{ACCOUNT2}:"),
    )
    .replace(&format!("::{ACCOUNT}:"), &format!("::{ACCOUNT2}:"))
}

fn channel_stage(ch: &str) -> Stage {
    Stage::builder()
        .duration_in_minutes(5)
        .targets(
            Target::builder()
                .channel_target_info(
                    ChannelTargetInfo::builder()
                        .contact_channel_id(ch)
                        .retry_interval_in_minutes(1)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap()
}

fn contact_stage(contacts: &[&str]) -> Stage {
    let mut s = Stage::builder().duration_in_minutes(10);
    for c in contacts {
        s = s.targets(
            Target::builder()
                .contact_target_info(
                    ContactTargetInfo::builder()
                        .contact_id(*c)
                        .is_essential(true)
                        .build()
                        .unwrap(),
                )
                .build(),
        );
    }
    s.build().unwrap()
}

struct Source {
    app: TestApp,
    email: String,
}

/// A realistic set-up: contacts of every type with tags, activated and not-activated
/// channels, personal and escalation plans, two rotations (coverage, overrides), a schedule and
/// two response plans.
async fn source() -> Source {
    let app = spawn().await;
    ready(&app).await;
    let c = app.contacts();
    let akua = personal(&app, "akuam").await;
    c.update_contact()
        .contact_id(&akua)
        .display_name("Akua Mansa")
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .resource_arn(&akua)
        .tags(Tag::builder().key("team").value("payments").build())
        .send()
        .await
        .unwrap();
    let jdoe = personal(&app, "jdoe").await;
    let mk = |contact: String, name: &'static str, t: ChannelType, addr: &'static str| {
        let c = c.clone();
        async move {
            c.create_contact_channel()
                .contact_id(contact)
                .name(name)
                .r#type(t)
                .delivery_address(
                    ContactChannelAddress::builder()
                        .simple_address(addr)
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .contact_channel_arn
        }
    };
    let email = mk(
        akua.clone(),
        "akua-email",
        ChannelType::Email,
        "akua@example.com",
    )
    .await;
    let sms = mk(akua.clone(), "akua-sms", ChannelType::Sms, "+12065550100").await;
    let jsms = mk(jdoe.clone(), "jdoe-sms", ChannelType::Sms, "+12065550101").await;
    for ch in [&email, &jsms] {
        let code = app.last_code(ch).await;
        c.activate_contact_channel()
            .contact_channel_id(ch)
            .activation_code(code)
            .send()
            .await
            .unwrap();
    }
    c.update_contact()
        .contact_id(&akua)
        .plan(
            Plan::builder()
                .stages(channel_stage(&sms))
                .stages(channel_stage(&email))
                .build(),
        )
        .send()
        .await
        .unwrap();
    c.update_contact()
        .contact_id(&jdoe)
        .plan(Plan::builder().stages(channel_stage(&jsms)).build())
        .send()
        .await
        .unwrap();
    let start = app.clock_now() - 7 * DAY;
    let weekly = RecurrenceSettings::builder()
        .number_of_on_calls(1)
        .recurrence_multiplier(1)
        .weekly_settings(
            WeeklySetting::builder()
                .day_of_week(DayOfWeek::Mon)
                .hand_off_time(
                    HandOffTime::builder()
                        .hour_of_day(9)
                        .minute_of_hour(0)
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .shift_coverages(
            DayOfWeek::Mon,
            vec![
                CoverageTime::builder()
                    .start(
                        HandOffTime::builder()
                            .hour_of_day(9)
                            .minute_of_hour(0)
                            .build(),
                    )
                    .end(
                        HandOffTime::builder()
                            .hour_of_day(17)
                            .minute_of_hour(0)
                            .build(),
                    )
                    .build(),
            ],
        )
        .build()
        .unwrap();
    let r1 = rotation(
        &app,
        "primary",
        &[&akua, &jdoe],
        start,
        "Europe/London",
        weekly,
    )
    .await;
    let r2 = rotation(
        &app,
        "secondary",
        &[&jdoe, &akua],
        start,
        "America/New_York",
        daily(8),
    )
    .await;
    let now = app.clock_now();
    for (r, who, off) in [(&r1, &jdoe, 2), (&r1, &akua, 5), (&r2, &akua, 3)] {
        c.create_rotation_override()
            .rotation_id(r)
            .new_contact_ids(who)
            .start_time(DateTime::from_millis(now + off * DAY))
            .end_time(DateTime::from_millis(now + off * DAY + 4 * 3_600_000))
            .send()
            .await
            .unwrap();
    }
    let sched = schedule(&app, "checkout-oncall", &[&r1, &r2]).await;
    c.create_contact()
        .alias("checkout-escalation")
        .display_name("Checkout escalation")
        .r#type(ContactType::Escalation)
        .plan(
            Plan::builder()
                .stages(contact_stage(&[&sched]))
                .stages(contact_stage(&[&akua, &jdoe]))
                .build(),
        )
        .tags(Tag::builder().key("tier").value("1").build())
        .send()
        .await
        .unwrap();
    let esc = contact_arn(ACCOUNT, "checkout-escalation");
    let i = app.incidents();
    i.create_response_plan()
        .name("checkout")
        .display_name("Checkout down")
        .incident_template(template("Checkout is down", 2))
        .engagements(&esc)
        .chat_channel(ChatChannel::ChatbotSns(vec![
            "arn:aws:sns:us-east-1:111122223333:chat".into(),
        ]))
        .actions(restart_action())
        .integrations(pagerduty())
        .tags("service", "checkout")
        .send()
        .await
        .unwrap();
    i.create_response_plan()
        .name("search")
        .incident_template(template("Search is slow", 4))
        .engagements(&jdoe)
        .send()
        .await
        .unwrap();
    Source { app, email }
}

trait Now {
    fn clock_now(&self) -> i64;
}

impl Now for TestApp {
    fn clock_now(&self) -> i64 {
        use klaxon::domain::clock::Clock;
        self.clock.now_ms()
    }
}

/// Every source resource has its twin at the target, field by field, ARNs rewritten.
async fn compare(src: &TestApp, d: &Dest) {
    let (s, t) = (src.contacts(), d.contacts());
    let contacts = s.list_contacts().send().await.unwrap().contacts.unwrap();
    assert_eq!(contacts.len(), 4);
    let mut channel_map = HashMap::new();
    for c in &contacts {
        let tarn = to_target(&c.contact_arn);
        let tchs = t.list_contact_channels().contact_id(&tarn).send().await;
        let schs = s
            .list_contact_channels()
            .contact_id(&c.contact_arn)
            .send()
            .await
            .unwrap()
            .contact_channels;
        if let Ok(tchs) = tchs {
            for sc in &schs {
                let tc = tchs
                    .contact_channels
                    .iter()
                    .find(|x| x.name == sc.name)
                    .unwrap_or_else(|| panic!("channel {} missing", sc.name));
                assert_eq!(tc.r#type, sc.r#type);
                assert_eq!(tc.delivery_address, sc.delivery_address);
                assert_eq!(tc.activation_status, sc.activation_status, "{}", sc.name);
                assert_eq!(tc.contact_arn, tarn);
                channel_map.insert(
                    sc.contact_channel_arn.clone(),
                    tc.contact_channel_arn.clone(),
                );
            }
            assert_eq!(tchs.contact_channels.len(), schs.len());
        }
    }
    let srots = s.list_rotations().send().await.unwrap().rotations;
    let trots = t.list_rotations().send().await.unwrap().rotations;
    assert_eq!(srots.len(), 2);
    assert_eq!(trots.len(), 2);
    let now = src.clock_now();
    for sr in &srots {
        let tr = trots.iter().find(|x| x.name == sr.name).unwrap();
        assert!(tr.rotation_arn.starts_with(&format!(
            "arn:aws:ssm-contacts:{TARGET_REGION}:{ACCOUNT2}:rotation/"
        )));
        channel_map.insert(sr.rotation_arn.clone(), tr.rotation_arn.clone());
        let members: Vec<String> = sr.contact_ids().iter().map(|c| to_target(c)).collect();
        assert_eq!(tr.contact_ids(), members.as_slice());
        assert_eq!(tr.start_time, sr.start_time);
        assert_eq!(tr.time_zone_id, sr.time_zone_id);
        assert_eq!(tr.recurrence, sr.recurrence);
        let window = |c: &aws_sdk_ssmcontacts::Client, r: &str| {
            c.list_rotation_overrides()
                .rotation_id(r)
                .start_time(DateTime::from_millis(now))
                .end_time(DateTime::from_millis(now + 30 * DAY))
                .send()
        };
        let so = window(&s, &sr.rotation_arn)
            .await
            .unwrap()
            .rotation_overrides
            .unwrap_or_default();
        let to = window(&t, &tr.rotation_arn)
            .await
            .unwrap()
            .rotation_overrides
            .unwrap_or_default();
        assert_eq!(so.len(), to.len());
        for (a, b) in so.iter().zip(&to) {
            assert_eq!((a.start_time, a.end_time), (b.start_time, b.end_time));
            let want: Vec<String> = a.new_contact_ids.iter().map(|c| to_target(c)).collect();
            assert_eq!(b.new_contact_ids, want);
        }
        let stags = s
            .list_tags_for_resource()
            .resource_arn(&sr.rotation_arn)
            .send()
            .await
            .unwrap()
            .tags;
        let ttags = t
            .list_tags_for_resource()
            .resource_arn(&tr.rotation_arn)
            .send()
            .await
            .unwrap()
            .tags;
        assert_eq!(stags, ttags);
    }
    for c in &contacts {
        let tarn = to_target(&c.contact_arn);
        let sg = s
            .get_contact()
            .contact_id(&c.contact_arn)
            .send()
            .await
            .unwrap();
        let tg = t.get_contact().contact_id(&tarn).send().await.unwrap();
        assert_eq!(tg.contact_arn, tarn);
        assert_eq!(
            (&tg.alias, &tg.display_name, &tg.r#type),
            (&sg.alias, &sg.display_name, &sg.r#type)
        );
        let mut want = sg.plan.clone().unwrap();
        for st in want.stages.get_or_insert_with(Vec::new).iter_mut() {
            for tt in st.targets.iter_mut() {
                if let Some(ch) = tt.channel_target_info.as_mut() {
                    ch.contact_channel_id = channel_map[&ch.contact_channel_id].clone();
                }
                if let Some(ct) = tt.contact_target_info.as_mut() {
                    ct.contact_id = ct.contact_id.as_deref().map(to_target);
                }
            }
        }
        want.rotation_ids = want
            .rotation_ids
            .map(|v| v.iter().map(|r| channel_map[r].clone()).collect());
        let got = tg.plan.unwrap();
        assert_eq!(got.stages(), want.stages(), "{}", sg.alias);
        assert_eq!(got.rotation_ids(), want.rotation_ids(), "{}", sg.alias);
        let stags = s
            .list_tags_for_resource()
            .resource_arn(&c.contact_arn)
            .send()
            .await
            .unwrap()
            .tags;
        let ttags = t
            .list_tags_for_resource()
            .resource_arn(&tarn)
            .send()
            .await
            .unwrap()
            .tags;
        assert_eq!(stags, ttags, "{}", sg.alias);
    }
    let (si, ti) = (src.incidents(), d.incidents());
    let sets = ti
        .list_replication_sets()
        .send()
        .await
        .unwrap()
        .replication_set_arns;
    let set = ti
        .get_replication_set()
        .arn(&sets[0])
        .send()
        .await
        .unwrap()
        .replication_set
        .unwrap();
    assert_eq!(set.region_map.keys().collect::<Vec<_>>(), vec!["us-east-1"]);
    let plans = si
        .list_response_plans()
        .send()
        .await
        .unwrap()
        .response_plan_summaries;
    assert_eq!(plans.len(), 2);
    for p in plans {
        let sp = si.get_response_plan().arn(&p.arn).send().await.unwrap();
        let tarn = to_target(&p.arn);
        assert!(tarn.contains(ACCOUNT2));
        let tp = ti.get_response_plan().arn(&tarn).send().await.unwrap();
        assert_eq!(tp.name, sp.name);
        assert_eq!(tp.display_name, sp.display_name);
        assert_eq!(tp.incident_template, sp.incident_template);
        assert_eq!(tp.chat_channel, sp.chat_channel);
        assert_eq!(tp.actions, sp.actions);
        assert_eq!(tp.integrations, sp.integrations);
        let want: Vec<String> = sp.engagements().iter().map(|e| to_target(e)).collect();
        assert_eq!(tp.engagements(), want.as_slice());
        let st = si
            .list_tags_for_resource()
            .resource_arn(&p.arn)
            .send()
            .await
            .unwrap()
            .tags;
        let tt = ti
            .list_tags_for_resource()
            .resource_arn(&tarn)
            .send()
            .await
            .unwrap()
            .tags;
        assert_eq!(st, tt);
    }
}

async fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !ok() {
        assert!(started.elapsed().as_secs() < 20, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_setup_moves_into_a_running_klaxon_and_pages_at_once() {
    let src = source().await;
    let d = dest(true).await;
    // The running server reads (and caches) before the import: it must not serve stale records.
    let t = d.contacts();
    assert!(
        t.get_contact()
            .contact_id(to_target(&contact_arn(ACCOUNT, "akuam")))
            .send()
            .await
            .is_err()
    );

    let dry = import(&src.app, &d, &["--dry-run"]).await;
    assert!(dry.ok);
    assert!(
        dry.stdout.contains("would create contact akuam"),
        "{}",
        dry.stdout
    );
    assert!(
        t.list_contacts()
            .send()
            .await
            .unwrap()
            .contacts()
            .is_empty(),
        "a dry run changed nothing"
    );

    let first = import(&src.app, &d, &[]).await;
    assert!(first.ok, "{}", first.stdout);
    assert_eq!(row(&first.stdout, "contact"), [4, 0, 0, 0, 0]);
    assert_eq!(row(&first.stdout, "contact-channel"), [3, 0, 0, 0, 0]);
    assert_eq!(row(&first.stdout, "rotation"), [2, 0, 0, 0, 0]);
    assert_eq!(row(&first.stdout, "rotation-override"), [3, 0, 0, 0, 0]);
    assert_eq!(row(&first.stdout, "response-plan"), [2, 0, 0, 0, 0]);
    assert_eq!(row(&first.stdout, "replication-set"), [1, 0, 0, 0, 0]);
    compare(&src.app, &d).await;

    // The activated email pages at once, and no activation code went to anybody.
    assert!(!d.outbox().contains("\"ACTIVATION\""), "no codes were sent");
    let chans = t
        .list_contact_channels()
        .contact_id(to_target(&contact_arn(ACCOUNT, "akuam")))
        .send()
        .await
        .unwrap()
        .contact_channels;
    let email = chans.iter().find(|c| c.name == "akua-email").unwrap();
    let sms = chans.iter().find(|c| c.name == "akua-sms").unwrap();
    assert_eq!(email.activation_status, ActivationStatus::Activated);
    assert_eq!(sms.activation_status, ActivationStatus::NotActivated);
    assert_ne!(email.contact_channel_arn, src.email);
    // J. Doe's plan starts with the imported (activated) SMS channel.
    let jsms = t
        .list_contact_channels()
        .contact_id(to_target(&contact_arn(ACCOUNT, "jdoe")))
        .send()
        .await
        .unwrap()
        .contact_channels
        .remove(0);
    assert_eq!(jsms.activation_status, ActivationStatus::Activated);
    t.start_engagement()
        .contact_id(to_target(&contact_arn(ACCOUNT, "jdoe")))
        .sender("test")
        .subject("s")
        .content("c")
        .send()
        .await
        .unwrap();
    let arn = jsms.contact_channel_arn.clone();
    wait_for("the imported SMS channel is paged", || {
        d.outbox()
            .lines()
            .any(|l| l.contains("\"PAGE\"") && l.contains(&arn))
    })
    .await;
    let log = std::fs::read_to_string(d.dir.path().join("klaxon.log")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("activated by an operator action")
                && l.contains(&arn)
                && l.contains("klaxon import")),
        "the activation is attributed to the import in the log:\n{log}"
    );
    assert!(!log.contains(&std::fs::read_to_string(d.dir.path().join("operator.token")).unwrap()));

    // No API caller can skip activation: the operator route wants the data directory's token.
    let resp = reqwest_free_post(&d.addr, &sms.contact_channel_arn).await;
    assert_eq!(resp, 403);

    let second = import(&src.app, &d, &[]).await;
    assert!(second.ok);
    for kind in [
        "contact",
        "contact-channel",
        "rotation",
        "rotation-override",
        "response-plan",
        "replication-set",
    ] {
        let r = row(&second.stdout, kind);
        assert_eq!(
            (r[0], r[1], r[3], r[4]),
            (0, 0, 0, 0),
            "{kind} on a second run: {}",
            second.stdout
        );
    }

    // A change at the source is carried over by a third run, and the running server shows it.
    let s = src.app.contacts();
    s.update_contact()
        .contact_id(contact_arn(ACCOUNT, "jdoe"))
        .display_name("Jane Doe")
        .send()
        .await
        .unwrap();
    let third = import(&src.app, &d, &[]).await;
    assert!(third.ok);
    assert_eq!(row(&third.stdout, "contact"), [0, 1, 3, 0, 0]);
    let got = t
        .get_contact()
        .contact_id(to_target(&contact_arn(ACCOUNT, "jdoe")))
        .send()
        .await
        .unwrap();
    assert_eq!(got.display_name.as_deref(), Some("Jane Doe"));
    compare(&src.app, &d).await;

    // A dry run after another change reports it and changes nothing.
    s.update_contact()
        .contact_id(contact_arn(ACCOUNT, "jdoe"))
        .display_name("J. Doe")
        .send()
        .await
        .unwrap();
    let dry = import(&src.app, &d, &["--dry-run"]).await;
    assert!(dry.ok);
    assert!(
        dry.stdout.contains("would update contact jdoe"),
        "{}",
        dry.stdout
    );
    let got = t
        .get_contact()
        .contact_id(to_target(&contact_arn(ACCOUNT, "jdoe")))
        .send()
        .await
        .unwrap();
    assert_eq!(got.display_name.as_deref(), Some("Jane Doe"));
}

/// A POST to the operator route with API credentials' worth of nothing: no token.
async fn reqwest_free_post(addr: &str, channel: &str) -> u16 {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let req = hyper::Request::post(format!("http://{addr}{}", klaxon::operator::ACTIVATE_PATH))
        .header(klaxon::operator::TOKEN_HEADER, "guess")
        .body(Full::new(bytes::Bytes::from(
            serde_json::json!({"contactChannelArn": channel}).to_string(),
        )))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let _ = resp.into_body().collect().await;
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_no_server_running_the_import_runs_one_in_process_and_serve_finds_it_all() {
    let src = source().await;
    let d = dest(false).await;
    let first = import(&src.app, &d, &[]).await;
    assert!(first.ok, "{}", first.stdout);
    assert_eq!(row(&first.stdout, "contact"), [4, 0, 0, 0, 0]);
    let d = Dest {
        _server: Some(
            serve_as(
                d.dir.path(),
                &d.addr,
                TARGET_TOML,
                (KEY2, SECRET2, ACCOUNT2),
                "warn",
            )
            .await,
        ),
        ..d
    };
    compare(&src.app, &d).await;
}
