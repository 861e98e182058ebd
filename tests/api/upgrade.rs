//! Databases written by earlier versions of Klaxon open in this one and read back the same
//! through the API; a database from a newer Klaxon is refused. The fixtures under
//! tests/fixtures/upgrade/ are kept as they were written: add one each time the schema
//! changes (`KLAXON_WRITE_FIXTURE=tests/fixtures/upgrade/<version>-schema<N> cargo test --test
//! api upgrade::this_version` writes the SQLite file, the PostgreSQL dump and the expected
//! read-back).

use crate::engagements::{active_channel, channel_stage, contact_stage, set_plan};
use crate::helpers::*;
use crate::rotations::{daily, rotation, schedule};
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{ChannelType, ContactType, Plan};
use klaxon::domain::clock::Clock;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every item of a paginated List operation.
macro_rules! all {
    ($request:expr) => {
        $request
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .unwrap()
    };
}

/// Every record the API shows, by a stable name, as the SDK prints it (request ids left out).
pub type Snapshot = BTreeMap<String, String>;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade")
}

fn printed(v: &impl std::fmt::Debug) -> String {
    let text = format!("{v:?}");
    let re = regex::Regex::new(r#", _request_id: (Some\("[^"]*"\)|None)"#).unwrap();
    re.replace_all(&text, "").into_owned()
}

/// One of everything: people with channels and plans, an escalation plan, a rotation with an
/// override in an on-call schedule, tags, a replication set, a response plan that engages, an
/// incident with a note and a related item, engagements with pages and receipts (one read).
pub async fn populate(app: &TestApp) {
    let c = app.contacts();
    let akua = crate::channels::personal(app, "akuam").await;
    let jdoe = crate::channels::personal(app, "jdoe").await;
    let sms = active_channel(app, &akua, ChannelType::Sms, "+12065550100").await;
    let email = active_channel(app, &akua, ChannelType::Email, "akua@example.com").await;
    set_plan(
        app,
        &akua,
        vec![
            channel_stage(5, &[(&sms, 1)]),
            channel_stage(0, &[(&email, 0)]),
        ],
    )
    .await;
    let jsms = active_channel(app, &jdoe, ChannelType::Sms, "+12065550101").await;
    set_plan(app, &jdoe, vec![channel_stage(0, &[(&jsms, 0)])]).await;
    let esc = c
        .create_contact()
        .alias("checkout-escalation")
        .r#type(ContactType::Escalation)
        .plan(
            Plan::builder()
                .set_stages(Some(vec![
                    contact_stage(10, &[(&akua, true)]),
                    contact_stage(0, &[(&jdoe, false)]),
                ]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn;
    let now = app.clock.now_ms();
    let day = 86_400_000;
    let rot = rotation(
        app,
        "primary",
        &[&akua, &jdoe],
        now - 3 * day,
        "Europe/Berlin",
        daily(9),
    )
    .await;
    c.create_rotation_override()
        .rotation_id(&rot)
        .new_contact_ids(&jdoe)
        .start_time(DateTime::from_millis(now + day))
        .end_time(DateTime::from_millis(now + day + 3_600_000))
        .send()
        .await
        .unwrap();
    schedule(app, "primary-oncall", &[&rot]).await;
    c.tag_resource()
        .resource_arn(&akua)
        .tags(
            aws_sdk_ssmcontacts::types::Tag::builder()
                .key("team")
                .value("payments")
                .build(),
        )
        .send()
        .await
        .unwrap();

    crate::incidents_setup::ready(app).await;
    let i = app.incidents();
    let plan = i
        .create_response_plan()
        .name("checkout")
        .display_name("Checkout")
        .incident_template(crate::incidents_setup::template("Checkout is down", 2))
        .engagements(&esc)
        .tags("team", "payments")
        .send()
        .await
        .unwrap()
        .arn;
    let inc = i
        .start_incident()
        .response_plan_arn(&plan)
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    i.create_timeline_event()
        .incident_record_arn(&inc)
        .event_type("Note")
        .event_data("Rolled back the deploy")
        .event_time(aws_sdk_ssmincidents::primitives::DateTime::from_millis(
            app.clock.now_ms(),
        ))
        .send()
        .await
        .unwrap();
    i.update_related_items()
        .incident_record_arn(&inc)
        .related_items_update(aws_sdk_ssmincidents::types::RelatedItemsUpdate::ItemToAdd(
            aws_sdk_ssmincidents::types::RelatedItem::builder()
                .identifier(
                    aws_sdk_ssmincidents::types::ItemIdentifier::builder()
                        .r#type(aws_sdk_ssmincidents::types::ItemType::Other)
                        .value(aws_sdk_ssmincidents::types::ItemValue::Url(
                            "https://status.example.com".into(),
                        ))
                        .build()
                        .unwrap(),
                )
                .title("Status page")
                .build(),
        ))
        .send()
        .await
        .unwrap();
    app.tick().await;
    let direct = crate::engagements::engage(app, &jdoe).await;
    app.tick().await;
    let page = crate::engagements::only_page(app, &direct).await;
    c.accept_page()
        .page_id(&page)
        .accept_type(aws_sdk_ssmcontacts::types::AcceptType::Read)
        .accept_code("000000")
        .accept_code_validation(aws_sdk_ssmcontacts::types::AcceptCodeValidation::Ignore)
        .send()
        .await
        .unwrap();
}

/// Reads every contact, channel, plan, rotation, override, engagement, page, receipt,
/// replication set, response plan, incident, timeline event and related item of the account.
pub async fn snapshot(app: &TestApp) -> Snapshot {
    let mut out = Snapshot::new();
    let c = app.contacts();
    let contacts = all!(c.list_contacts());
    for contact in &contacts {
        let arn = &contact.contact_arn;
        let got = c.get_contact().contact_id(arn).send().await.unwrap();
        out.insert(format!("contact {arn}"), printed(&got));
        let tags = c
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .unwrap();
        out.insert(format!("tags {arn}"), printed(&tags.tags));
        let channels = all!(c.list_contact_channels().contact_id(arn));
        for ch in channels {
            let arn = ch.contact_channel_arn.clone();
            let got = c
                .get_contact_channel()
                .contact_channel_id(&arn)
                .send()
                .await
                .unwrap();
            out.insert(format!("channel {arn}"), printed(&got));
        }
    }
    let rotations = all!(c.list_rotations());
    for r in rotations {
        let arn = r.rotation_arn.clone();
        let got = c.get_rotation().rotation_id(&arn).send().await.unwrap();
        out.insert(format!("rotation {arn}"), printed(&got));
        let overrides = c
            .list_rotation_overrides()
            .rotation_id(&arn)
            .start_time(DateTime::from_millis(0))
            .end_time(DateTime::from_millis(4_000_000_000_000))
            .send()
            .await
            .unwrap();
        out.insert(
            format!("overrides {arn}"),
            printed(&overrides.rotation_overrides),
        );
    }
    let engagements = all!(c.list_engagements());
    for e in engagements {
        let arn = e.engagement_arn.clone();
        let got = c
            .describe_engagement()
            .engagement_id(&arn)
            .send()
            .await
            .unwrap();
        out.insert(format!("engagement {arn}"), printed(&got));
        let pages = all!(c.list_pages_by_engagement().engagement_id(&arn));
        for p in pages {
            let arn = p.page_arn.clone();
            let got = c.describe_page().page_id(&arn).send().await.unwrap();
            out.insert(format!("page {arn}"), printed(&got));
            let receipts = all!(c.list_page_receipts().page_id(&arn));
            out.insert(format!("receipts {arn}"), printed(&receipts));
        }
    }
    let i = app.incidents();
    let sets = i.list_replication_sets().send().await.unwrap();
    for arn in sets.replication_set_arns {
        let got = i.get_replication_set().arn(&arn).send().await.unwrap();
        out.insert(format!("replication set {arn}"), printed(&got));
    }
    let plans = all!(i.list_response_plans());
    for p in plans {
        let got = i.get_response_plan().arn(&p.arn).send().await.unwrap();
        out.insert(format!("response plan {}", p.arn), printed(&got));
    }
    let incidents = all!(i.list_incident_records());
    for inc in incidents {
        let arn = inc.arn.clone();
        let got = i.get_incident_record().arn(&arn).send().await.unwrap();
        out.insert(format!("incident {arn}"), printed(&got));
        let events = all!(i.list_timeline_events().incident_record_arn(&arn));
        for e in events {
            let got = i
                .get_timeline_event()
                .incident_record_arn(&arn)
                .event_id(&e.event_id)
                .send()
                .await
                .unwrap();
            out.insert(format!("event {arn} {}", e.event_id), printed(&got));
        }
        let related = all!(i.list_related_items().incident_record_arn(&arn));
        out.insert(format!("related {arn}"), printed(&related));
    }
    out
}

/// The kinds of record a snapshot holds, with how many of each.
pub fn kinds(s: &Snapshot) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for k in s.keys() {
        let kind = k.rsplit_once(" arn:").map(|(kind, _)| kind).unwrap_or(k);
        *n.entry(kind.to_string()).or_default() += 1;
    }
    n
}

/// The server whose database is a copy of `file` (SQLite) or the given URL (PostgreSQL), and
/// the directory it lives in.
async fn open_sqlite_copy(file: &Path) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("klaxon.db");
    std::fs::copy(file, &db).unwrap();
    let app = spawn_with(Setup {
        database_url: Some(format!("sqlite://{}", db.display())),
        ..Setup::default()
    })
    .await;
    (app, dir)
}

fn expected(name: &str) -> Snapshot {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn assert_same(got: &Snapshot, want: &Snapshot) {
    for (k, v) in want {
        assert_eq!(got.get(k), Some(v), "{k} read back differently");
    }
    let extra: Vec<&String> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "records that were not in the fixture: {extra:?}"
    );
}

/// Runs statements on a SQLite file through a connection of its own (behind Klaxon's back).
async fn sqlite_exec(db: &Path, statements: &[&str]) {
    let url = format!("sqlite://{}", db.display());
    let mut c = <sqlx::SqliteConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(s.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

/// Loads a pg_dump of a Klaxon database into the empty database at `url`; pg_dump's psql
/// meta-commands (such as restrict) are not SQL and are left out.
async fn load_dump(url: &str, dump: &str) {
    let sql: String = dump
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
}

/// This version's databases, as the fixture of a later version will keep them: written, closed,
/// and read back the same by a new server (SQLite: the file; PostgreSQL: its pg_dump loaded into
/// another database). With `KLAXON_WRITE_FIXTURE=DIR` the files are kept there as a new fixture.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_version_writes_databases_that_read_back_the_same() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = std::env::var("KLAXON_WRITE_FIXTURE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| scratch.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("klaxon.db");
    let _ = std::fs::remove_file(&db);
    let app = spawn_with(Setup {
        database_url: Some(format!("sqlite://{}", db.display())),
        ..Setup::default()
    })
    .await;
    populate(&app).await;
    let snap = snapshot(&app).await;
    let at = app.clock.now_ms();
    app.running.stop().await;
    sqlite_exec(&db, &["PRAGMA wal_checkpoint(TRUNCATE)"]).await;
    std::fs::write(
        dir.join("expected.json"),
        serde_json::to_string_pretty(&snap).unwrap(),
    )
    .unwrap();
    let (again, _copy) = open_sqlite_copy(&db).await;
    again.clock.set_ms(at);
    assert_same(&snapshot(&again).await, &snap);

    let Some(url) = crate::storage::postgres_url().await else {
        return;
    };
    let (source, source_name) = crate::storage::fresh_database(&url)
        .await
        .expect("a database of its own");
    let app = spawn_with(Setup {
        database_url: Some(source.clone()),
        ..Setup::default()
    })
    .await;
    populate(&app).await;
    let snap = snapshot(&app).await;
    let at = app.clock.now_ms();
    app.running.stop().await;
    let dump = std::process::Command::new("pg_dump")
        .args(["--no-owner", "--no-privileges", "--inserts", &source])
        .output()
        .expect("pg_dump runs");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    crate::storage::drop_database(&url, &source_name).await;
    std::fs::write(dir.join("postgres.sql"), &dump.stdout).unwrap();
    std::fs::write(
        dir.join("expected-postgres.json"),
        serde_json::to_string_pretty(&snap).unwrap(),
    )
    .unwrap();
    let (target, target_name) = crate::storage::fresh_database(&url)
        .await
        .expect("a database of its own");
    load_dump(&target, &String::from_utf8(dump.stdout).unwrap()).await;
    let again = spawn_with(Setup {
        database_url: Some(target),
        ..Setup::default()
    })
    .await;
    again.clock.set_ms(at);
    assert_same(&snapshot(&again).await, &snap);
    again.running.stop().await;
    crate::storage::drop_database(&url, &target_name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_klaxon_0_1_0_opens_and_reads_back_every_record() {
    let (app, _dir) = open_sqlite_copy(&fixtures().join("0.1.0-schema2/klaxon.db")).await;
    let want = expected("0.1.0-schema2/expected.json");
    let got = snapshot(&app).await;
    assert_same(&got, &want);
    let n = kinds(&got);
    for kind in [
        "contact",
        "channel",
        "rotation",
        "overrides",
        "engagement",
        "page",
        "receipts",
        "replication set",
        "response plan",
        "incident",
        "related",
        "event",
        "tags",
    ] {
        assert!(n.get(kind).copied().unwrap_or(0) > 0, "no {kind} in {n:?}");
    }
    // The old database takes writes and pages again.
    let c = app.contacts();
    let esc = got
        .keys()
        .find(|k| k.starts_with("contact ") && k.ends_with("contact/checkout-escalation"))
        .unwrap()
        .trim_start_matches("contact ")
        .to_string();
    let eng = crate::engagements::engage(&app, &esc).await;
    app.tick().await;
    let pages = c
        .list_pages_by_engagement()
        .engagement_id(&eng)
        .send()
        .await
        .unwrap()
        .pages;
    assert_eq!(pages.len(), 1, "{pages:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_from_klaxon_0_1_0_opens_and_reads_back_every_record() {
    let Some(url) = crate::storage::postgres_url().await else {
        return;
    };
    let (db_url, name) = crate::storage::fresh_database(&url)
        .await
        .expect("a database of its own");
    let dump = std::fs::read_to_string(fixtures().join("0.1.0-schema2/postgres.sql")).unwrap();
    load_dump(&db_url, &dump).await;
    let app = spawn_with(Setup {
        database_url: Some(db_url),
        ..Setup::default()
    })
    .await;
    let got = snapshot(&app).await;
    assert_same(&got, &expected("0.1.0-schema2/expected-postgres.json"));
    assert!(kinds(&got).len() > 10);
    app.running.stop().await;
    crate::storage::drop_database(&url, &name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_a_newer_klaxon_is_refused_without_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("klaxon.db");
    std::fs::copy(fixtures().join("0.1.0-schema2/klaxon.db"), &db).unwrap();
    sqlite_exec(
        &db,
        &[
            "INSERT INTO schema_migrations (version, applied_ms) VALUES (99, 0)",
            "PRAGMA wal_checkpoint(TRUNCATE)",
        ],
    )
    .await;
    let before = std::fs::read(&db).unwrap();
    let url = format!("sqlite://{}", db.display());
    let err = match klaxon::storage::open(&url).await {
        Ok(_) => panic!("a newer database was opened"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("schema version 99") && err.contains("up to 2"),
        "{err}"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "the file was written");
    let plan = klaxon::storage::migration_plan(&url).await;
    assert!(plan.is_err());
}
