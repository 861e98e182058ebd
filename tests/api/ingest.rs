//! The alert doors black box: PagerDuty Events API v2, Opsgenie Alert API and Alertmanager's
//! webhook over HTTP, with the AWS SDK checking what they did; two nodes on one Postgres; and
//! a real Alertmanager with a receiver for each door.

use crate::helpers::{ACCOUNT, Raw, Setup, TestApp, raw, spawn_with};
use crate::incidents_setup::ready;
use aws_sdk_ssmincidents::types::{IncidentRecordStatus, IncidentTemplate};
use klaxon::config::{Config, IntegrationConfig, Secret};
use klaxon::domain::clock::Clock;
use serde_json::{Value, json};

pub const PD_KEY: &str = "pd-routing-key-0123456789abcdef";
pub const OG_KEY: &str = "og-genie-key-0123456789abcdef00";
pub const AM_KEY: &str = "am-bearer-key-0123456789abcdef0";

fn integration(name: &str, key: &str, plan: &str) -> IntegrationConfig {
    IntegrationConfig {
        name: name.into(),
        key: Some(Secret::new(key)),
        key_file: None,
        response_plan: plan.into(),
        rate_per_minute: 120,
        account_id: None,
        region: None,
    }
}

pub fn integrations(c: &mut Config) {
    c.integrations = vec![
        integration("prometheus", PD_KEY, "checkout"),
        integration("opsgenie-tools", OG_KEY, "checkout"),
        integration("alertmanager", AM_KEY, "checkout"),
        integration("orphan", "orphan-key-0123456789abcdef", "no-such-plan"),
    ];
}

async fn app() -> TestApp {
    spawn_with(Setup {
        configure: Some(Box::new(integrations)),
        ..Setup::default()
    })
    .await
}

/// A replication set, a contact with SMS and email, and the plan `checkout` that engages it.
pub async fn checkout(app: &TestApp) -> String {
    let (contact, _, _) = crate::engagements::person(app, "akuam", 5).await;
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
        .engagements(&contact)
        .send()
        .await
        .unwrap();
    contact
}

async fn post(app: &TestApp, path: &str, auth: Option<&str>, body: &[u8]) -> Raw {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(a) = auth {
        headers.push(("authorization", a));
    }
    raw(app, "POST", path, &headers, body, None).await
}

async fn pd(app: &TestApp, event: Value) -> Raw {
    post(app, "/v2/enqueue", None, event.to_string().as_bytes()).await
}

fn trigger(key: &str, summary: &str, severity: &str) -> Value {
    json!({
        "routing_key": PD_KEY, "event_action": "trigger", "dedup_key": key,
        "payload": {"summary": summary, "source": "db1.example.com", "severity": severity,
                    "custom_details": {"free": "12%"}},
        "links": [{"href": "https://grafana.example.com/d/db", "text": "Dashboard"}],
        "client": "Prometheus", "client_url": "https://prom.example.com",
    })
}

async fn incidents(app: &TestApp) -> Vec<aws_sdk_ssmincidents::types::IncidentRecordSummary> {
    app.incidents()
        .list_incident_records()
        .send()
        .await
        .unwrap()
        .incident_record_summaries()
        .to_vec()
}

async fn record(app: &TestApp, arn: &str) -> aws_sdk_ssmincidents::types::IncidentRecord {
    app.incidents()
        .get_incident_record()
        .arn(arn)
        .send()
        .await
        .unwrap()
        .incident_record
        .unwrap()
}

async fn timeline(app: &TestApp, arn: &str) -> Vec<(String, String)> {
    let events = app
        .incidents()
        .list_timeline_events()
        .incident_record_arn(arn)
        .send()
        .await
        .unwrap();
    let mut out = Vec::new();
    for e in events.event_summaries() {
        let full = app
            .incidents()
            .get_timeline_event()
            .incident_record_arn(arn)
            .event_id(e.event_id())
            .send()
            .await
            .unwrap()
            .event
            .unwrap();
        out.push((full.event_type().to_string(), full.event_data().to_string()));
    }
    out
}

async fn pages(app: &TestApp, contact: &str) -> Vec<aws_sdk_ssmcontacts::types::Page> {
    app.contacts()
        .list_pages_by_contact()
        .contact_id(contact)
        .send()
        .await
        .unwrap()
        .pages()
        .to_vec()
}

async fn engagements_running(app: &TestApp, incident: &str) -> usize {
    app.contacts()
        .list_engagements()
        .incident_id(incident)
        .send()
        .await
        .unwrap()
        .engagements()
        .iter()
        .filter(|e| e.stop_time().is_none())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_trigger_repeat_acknowledge_resolve_and_trigger_again() {
    let app = app().await;
    let contact = checkout(&app).await;

    let r = pd(
        &app,
        trigger("disk-db1", "Disk almost full on db1", "critical"),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(
        r.body,
        json!({"status": "success", "message": "Event processed", "dedup_key": "disk-db1"})
    );
    let list = incidents(&app).await;
    assert_eq!(list.len(), 1);
    let arn = list[0].arn().to_string();
    let i = record(&app, &arn).await;
    assert_eq!(i.title(), "Disk almost full on db1");
    assert_eq!(i.impact(), 1);
    assert_eq!(
        i.incident_record_source().unwrap().source(),
        "klaxon.pagerduty"
    );
    let tl = timeline(&app, &arn).await;
    let created = tl
        .iter()
        .find(|(t, _)| t == "SSM Incident Record Create")
        .map(|(_, d)| d.clone())
        .unwrap_or_else(|| format!("{tl:?}"));
    assert!(created.contains("12%"), "rawData is the event: {created}");
    assert!(
        !format!("{tl:?}").contains(PD_KEY),
        "the routing key stays out of the timeline"
    );
    let related = app
        .incidents()
        .list_related_items()
        .incident_record_arn(&arn)
        .send()
        .await
        .unwrap();
    let urls: Vec<String> = related
        .related_items()
        .iter()
        .filter_map(|r| r.identifier()?.value()?.as_url().ok().cloned())
        .collect();
    assert!(
        urls.contains(&"https://grafana.example.com/d/db".to_string())
            && urls.contains(&"https://prom.example.com".to_string()),
        "{urls:?}"
    );
    app.tick().await;
    assert!(
        app.sent
            .sent()
            .iter()
            .any(|m| format!("{} {}", m.subject, m.body).contains("Disk almost full on db1")),
        "the plan's contact is paged"
    );
    assert!(!pages(&app, &contact).await.is_empty());

    // Repeats: the same incident, one "Alert repeated" event however many arrive in a minute.
    for _ in 0..3 {
        let r = pd(
            &app,
            trigger("disk-db1", "Disk almost full on db1", "critical"),
        )
        .await;
        assert_eq!(r.status, 202);
    }
    assert_eq!(incidents(&app).await.len(), 1);
    let repeated = |tl: &[(String, String)]| {
        tl.iter()
            .filter(|(_, d)| d.contains("Alert repeated"))
            .count()
    };
    assert_eq!(repeated(&timeline(&app, &arn).await), 1);
    app.clock.advance_ms(61_000);
    pd(
        &app,
        trigger("disk-db1", "Disk almost full on db1", "critical"),
    )
    .await;
    let tl = timeline(&app, &arn).await;
    assert_eq!(repeated(&tl), 2);
    assert!(tl.iter().any(|(_, d)| d.contains("\"count\":4")), "{tl:?}");

    // Acknowledge: every open page READ, the timeline names the integration.
    let ack =
        json!({"routing_key": PD_KEY, "event_action": "acknowledge", "dedup_key": "disk-db1"});
    assert_eq!(pd(&app, ack).await.status, 202);
    let ps = pages(&app, &contact).await;
    assert!(ps.iter().all(|p| p.read_time().is_some()), "{ps:?}");
    assert!(
        timeline(&app, &arn)
            .await
            .iter()
            .any(|(_, d)| d.contains("Alert acknowledged") && d.contains("prometheus"))
    );

    // Resolve: RESOLVED, engagements stopped.
    let resolve =
        json!({"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": "disk-db1"});
    assert_eq!(pd(&app, resolve.clone()).await.status, 202);
    assert_eq!(
        record(&app, &arn).await.status(),
        &IncidentRecordStatus::Resolved
    );
    assert_eq!(engagements_running(&app, &arn).await, 0);
    assert_eq!(
        pd(&app, resolve).await.status,
        202,
        "a late resolve is fine"
    );

    // A trigger after the resolve starts a new incident.
    let r = pd(&app, trigger("disk-db1", "Disk full again", "warning")).await;
    assert_eq!(r.status, 202);
    let list = incidents(&app).await;
    assert_eq!(list.len(), 2);
    let newer = list.iter().find(|i| i.arn() != arn).unwrap();
    assert_eq!(newer.title(), "Disk full again");
    assert_eq!(newer.impact(), 3);

    let metrics = crate::helpers::get_text(&app, "/metrics").await;
    assert!(
        metrics.contains("klaxon_alert_events_total{integration=\"prometheus\",api=\"pagerduty\",action=\"trigger\",outcome=\"started\"} 2"),
        "{metrics}"
    );
    assert!(!metrics.contains(PD_KEY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pagerduty_refuses_what_cannot_be_acted_on_and_defaults_what_is_cosmetic() {
    let app = app().await;
    checkout(&app).await;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "JSON"),
        (
            json!({"event_action": "trigger", "payload": {"summary": "x"}})
                .to_string()
                .into_bytes(),
            "routing_key",
        ),
        (
            json!({"routing_key": "wrong-key-0123456789abcdef", "event_action": "trigger"})
                .to_string()
                .into_bytes(),
            "routing_key",
        ),
        (
            json!({"routing_key": PD_KEY, "event_action": "snooze", "dedup_key": "k"})
                .to_string()
                .into_bytes(),
            "event_action",
        ),
        (
            json!({"routing_key": PD_KEY, "event_action": "acknowledge"})
                .to_string()
                .into_bytes(),
            "dedup_key",
        ),
        (
            json!({"routing_key": PD_KEY, "event_action": "resolve"})
                .to_string()
                .into_bytes(),
            "dedup_key",
        ),
        (vec![b' '; 600 * 1024], "512 KB"),
    ];
    for (body, field) in cases {
        let r = post(&app, "/v2/enqueue", None, &body).await;
        assert_eq!(r.status, 400, "{field}: {:?}", r.body);
        assert_eq!(r.body["status"], "invalid event");
        assert_eq!(r.body["message"], "Event object is invalid");
        let errors = r.body["errors"].to_string();
        assert!(errors.contains(field), "{field}: {errors}");
        assert!(!errors.contains(PD_KEY));
    }
    assert!(incidents(&app).await.is_empty(), "nothing was started");

    // An unknown plan is an error answer, and nothing starts.
    let r = pd(
        &app,
        json!({"routing_key": "orphan-key-0123456789abcdef", "event_action": "trigger", "dedup_key": "o"}),
    )
    .await;
    assert_eq!(r.status, 500, "{:?}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("no-such-plan"));
    assert!(incidents(&app).await.is_empty());

    // No severity, summary or source: accepted with the plan's impact and a default title.
    let r = pd(
        &app,
        json!({"routing_key": PD_KEY, "event_action": "trigger", "payload": {"severity": "{{ .CommonLabels.severity }}"}}),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let generated = r.body["dedup_key"].as_str().unwrap().to_string();
    assert!(!generated.is_empty());
    let list = incidents(&app).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].impact(), 3, "the plan's impact");
    assert_eq!(list[0].title(), "Alert from prometheus (pagerduty)");
    let resolve = json!({"routing_key": PD_KEY, "event_action": "resolve", "dedup_key": generated});
    assert_eq!(pd(&app, resolve).await.status, 202);
    assert_eq!(
        incidents(&app).await[0].status(),
        &IncidentRecordStatus::Resolved
    );
    let metrics = crate::helpers::get_text(&app, "/metrics").await;
    assert!(
        metrics.contains("klaxon_alert_event_defaults_total{integration=\"prometheus\",api=\"pagerduty\",field=\"severity\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rate_limit_answers_429_until_the_next_minute() {
    let app = spawn_with(Setup {
        configure: Some(Box::new(|c: &mut Config| {
            let mut g = integration("prometheus", PD_KEY, "checkout");
            g.rate_per_minute = 3;
            c.integrations = vec![g];
        })),
        ..Setup::default()
    })
    .await;
    checkout(&app).await;
    let now = app.clock.now_ms();
    app.clock.advance_ms(60_000 - now.rem_euclid(60_000) + 1);
    for i in 0..3 {
        let r = pd(&app, trigger(&format!("k{i}"), "x", "info")).await;
        assert_eq!(r.status, 202);
    }
    let r = pd(&app, trigger("k9", "x", "info")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.body["status"], "throttle event");
    assert_eq!(incidents(&app).await.len(), 3);
    app.clock.advance_ms(60_000);
    assert_eq!(pd(&app, trigger("k9", "x", "info")).await.status, 202);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opsgenie_create_update_acknowledge_and_close() {
    let app = app().await;
    let contact = checkout(&app).await;
    let genie = format!("GenieKey {OG_KEY}");
    let create = json!({
        "message": "Checkout latency high", "alias": "checkout-latency",
        "description": "p99 over 2 s for 5 minutes", "priority": "P2",
        "details": {"region": "eu"}, "tags": ["web"], "entity": "checkout", "source": "grafana",
    });
    let r = post(
        &app,
        "/v2/alerts",
        Some(&genie),
        create.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    assert_eq!(r.body["result"], "Request will be processed");
    assert!(r.body["took"].is_number() && r.body["requestId"].is_string());
    let list = incidents(&app).await;
    assert_eq!(list.len(), 1);
    let arn = list[0].arn().to_string();
    let i = record(&app, &arn).await;
    assert_eq!((i.title(), i.impact()), ("Checkout latency high", 2));
    assert_eq!(i.summary(), Some("p99 over 2 s for 5 minutes"));
    assert_eq!(
        i.incident_record_source().unwrap().source(),
        "klaxon.opsgenie"
    );

    // Errors in Opsgenie's shapes, nothing created.
    let r = post(
        &app,
        "/v2/alerts",
        Some("GenieKey wrong-0123456789abcdefgh"),
        create.to_string().as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["message"], "Could not authenticate");
    let r = post(&app, "/v2/alerts", None, create.to_string().as_bytes()).await;
    assert_eq!(r.status, 401);
    let r = post(&app, "/v2/alerts", Some(&genie), br#"{"alias": "x"}"#).await;
    assert_eq!(r.status, 422, "{:?}", r.body);
    assert!(r.body["errors"]["message"].is_string(), "{:?}", r.body);
    let r = post(&app, "/v2/alerts", Some(&genie), b"{").await;
    assert_eq!(r.status, 422);
    let r = post(
        &app,
        "/v2/alerts/checkout-latency/close?identifierType=tiny",
        Some(&genie),
        b"",
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.body["errors"]["identifierType"].is_string());
    assert_eq!(incidents(&app).await.len(), 1);

    // Alertmanager's update_alerts: message and description become title and summary.
    let put = |path: &'static str, body: Value| {
        let genie = genie.clone();
        let app = &app;
        async move {
            raw(
                app,
                "PUT",
                path,
                &[
                    ("content-type", "application/json"),
                    ("authorization", &genie),
                ],
                body.to_string().as_bytes(),
                None,
            )
            .await
        }
    };
    let r = put(
        "/v2/alerts/checkout-latency/message?identifierType=alias",
        json!({"message": "Checkout latency very high"}),
    )
    .await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let r = put(
        "/v2/alerts/checkout-latency/description?identifierType=alias",
        json!({"description": "p99 over 5 s"}),
    )
    .await;
    assert_eq!(r.status, 202);
    let i = record(&app, &arn).await;
    assert_eq!(i.title(), "Checkout latency very high");
    assert_eq!(i.summary(), Some("p99 over 5 s"));

    app.tick().await;
    let r = post(
        &app,
        "/v2/alerts/checkout-latency/acknowledge?identifierType=alias",
        Some(&genie),
        br#"{"user": "akuam", "note": "looking"}"#,
    )
    .await;
    assert_eq!(r.status, 202);
    let ps = pages(&app, &contact).await;
    assert!(!ps.is_empty() && ps.iter().all(|p| p.read_time().is_some()));

    // Close by the incident's id (identifierType=id, Opsgenie's default).
    let id = arn.rsplit('/').next().unwrap();
    let r = post(&app, &format!("/v2/alerts/{id}/close"), Some(&genie), b"{}").await;
    assert_eq!(r.status, 202);
    assert_eq!(
        record(&app, &arn).await.status(),
        &IncidentRecordStatus::Resolved
    );
}

pub fn alertmanager_body(group: &str, status: &str) -> Value {
    json!({
        "version": "4", "groupKey": group, "truncatedAlerts": 0, "status": status,
        "receiver": "klaxon",
        "groupLabels": {"alertname": "HighErrorRate"},
        "commonLabels": {"alertname": "HighErrorRate", "job": "api", "severity": "warning"},
        "commonAnnotations": {"summary": "5xx above 5%", "description": "api is failing"},
        "externalURL": "http://alertmanager-host:9093",
        "alerts": [{
            "status": status, "labels": {"alertname": "HighErrorRate", "job": "api"},
            "annotations": {"summary": "5xx above 5%"},
            "startsAt": "2024-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus-host:9090/graph?g0.expr=rate", "fingerprint": "abc",
        }],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alertmanager_webhook_one_incident_per_group() {
    let app = app().await;
    checkout(&app).await;
    let bearer = format!("Bearer {AM_KEY}");
    let group = "{}:{alertname=\"HighErrorRate\"}";
    let firing = alertmanager_body(group, "firing").to_string();
    let r = post(
        &app,
        "/hooks/alertmanager",
        Some(&bearer),
        firing.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(
        post(
            &app,
            "/hooks/alertmanager",
            Some(&bearer),
            firing.as_bytes()
        )
        .await
        .status,
        200
    );
    let list = incidents(&app).await;
    assert_eq!(list.len(), 1);
    let arn = list[0].arn().to_string();
    let i = record(&app, &arn).await;
    assert_eq!((i.title(), i.impact()), ("5xx above 5%", 3));
    assert_eq!(i.summary(), Some("api is failing"));
    assert_eq!(
        i.incident_record_source().unwrap().source(),
        "klaxon.alertmanager"
    );
    let related = app
        .incidents()
        .list_related_items()
        .incident_record_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        related.related_items().len(),
        2,
        "externalURL and generatorURL"
    );

    let r = post(
        &app,
        "/hooks/alertmanager",
        Some("Bearer nope-0123456789abcdefghij"),
        firing.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = post(&app, "/hooks/alertmanager", None, firing.as_bytes()).await;
    assert_eq!(r.status, 401);
    let r = post(
        &app,
        "/hooks/alertmanager",
        Some(&bearer),
        br#"{"status": "firing"}"#,
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body["error"].as_str().unwrap().contains("groupKey"));
    let other = alertmanager_body("{}:{alertname=\"Other\"}", "firing").to_string();
    let r = post(&app, "/hooks/alertmanager", None, other.as_bytes()).await;
    assert_eq!(r.status, 401);
    assert_eq!(incidents(&app).await.len(), 1);

    let resolved = alertmanager_body(group, "resolved").to_string();
    let r = post(
        &app,
        "/hooks/alertmanager",
        Some(&bearer),
        resolved.as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        record(&app, &arn).await.status(),
        &IncidentRecordStatus::Resolved
    );
    assert_eq!(engagements_running(&app, &arn).await, 0);
    let _ = ACCOUNT;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_nodes_on_postgres_start_one_incident_for_one_key() {
    use crate::storage::{drop_database, fresh_database, postgres_url};
    let Some(url) = postgres_url().await else {
        return;
    };
    let Some((fresh, name)) = fresh_database(&url).await else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no fresh database could be made"
        );
        eprintln!("SKIPPED: cannot create a database; the two-node ingest test did not run");
        return;
    };
    let node = |fresh: String| {
        spawn_with(Setup {
            database_url: Some(fresh),
            configure: Some(Box::new(integrations)),
            ..Setup::default()
        })
    };
    let a = node(fresh.clone()).await;
    let b = node(fresh.clone()).await;
    b.clock.set_ms(a.clock.now_ms());
    checkout(&a).await;
    b.clock.set_ms(a.clock.now_ms());
    for round in 0..5 {
        let key = format!("race-{round}");
        let event = trigger(&key, "Both nodes at once", "error");
        let (ra, rb) = tokio::join!(pd(&a, event.clone()), pd(&b, event));
        assert_eq!(
            (ra.status, rb.status),
            (202, 202),
            "{:?} {:?}",
            ra.body,
            rb.body
        );
    }
    let list = incidents(&a).await;
    assert_eq!(list.len(), 5, "one incident per key: {list:#?}");
    a.running.stop().await;
    b.running.stop().await;
    drop_database(&url, &name).await;
}

/// Alertmanager's binary: `KLAXON_ALERTMANAGER`, Debian's `prometheus-alertmanager`, or
/// `alertmanager` on the PATH. None (SKIPPED) without one; under CI=true that fails instead.
fn alertmanager_binary() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var("KLAXON_ALERTMANAGER").unwrap_or_default(),
        "/usr/bin/prometheus-alertmanager".into(),
        "prometheus-alertmanager".into(),
        "alertmanager".into(),
    ];
    let found = candidates.iter().filter(|c| !c.is_empty()).find(|c| {
        std::process::Command::new(c.as_str())
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but Alertmanager is not installed (apt-get install prometheus-alertmanager)"
        );
        eprintln!(
            "SKIPPED: Alertmanager is not installed (apt-get install prometheus-alertmanager); the real-Alertmanager test did not run"
        );
    }
    found.map(std::path::PathBuf::from)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills Alertmanager when the test ends, however it ends.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn alertmanager_config(klaxon: &str) -> String {
    format!(
        r#"route:
  receiver: pd
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['door="pagerduty"']
      receiver: pd
    - matchers: ['door="opsgenie"']
      receiver: og
    - matchers: ['door="webhook"']
      receiver: wh
receivers:
  - name: pd
    pagerduty_configs:
      - routing_key: {PD_KEY}
        url: {klaxon}/v2/enqueue
        severity: '{{{{ .CommonLabels.severity }}}}'
        description: '{{{{ .CommonAnnotations.summary }}}}'
        send_resolved: true
  - name: og
    opsgenie_configs:
      - api_key: {OG_KEY}
        api_url: {klaxon}/
        message: '{{{{ .CommonAnnotations.summary }}}}'
        priority: P2
        update_alerts: true
        send_resolved: true
  - name: wh
    webhook_configs:
      - url: {klaxon}/hooks/alertmanager
        send_resolved: true
        http_config:
          authorization:
            credentials: {AM_KEY}
"#
    )
}

async fn post_alerts(client: &reqwest_like::Client, am: &str, alerts: &Value) -> u16 {
    client
        .post_json(&format!("{am}/api/v2/alerts"), alerts)
        .await
}

/// A minimal JSON POST over hyper (the test binary has no HTTP client crate beyond it).
mod reqwest_like {
    use http_body_util::BodyExt;

    pub struct Client(
        hyper_util::client::legacy::Client<
            hyper_util::client::legacy::connect::HttpConnector,
            http_body_util::Full<bytes::Bytes>,
        >,
    );

    impl Client {
        pub fn new() -> Client {
            Client(
                hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                    .build_http(),
            )
        }

        pub async fn post_json(&self, url: &str, body: &serde_json::Value) -> u16 {
            let req = hyper::Request::post(url)
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(bytes::Bytes::from(
                    body.to_string(),
                )))
                .unwrap();
            match self.0.request(req).await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let _ = r.into_body().collect().await;
                    s
                }
                Err(_) => 0,
            }
        }

        pub async fn ready(&self, url: &str) -> bool {
            let req = hyper::Request::get(url)
                .body(http_body_util::Full::new(bytes::Bytes::new()))
                .unwrap();
            matches!(self.0.request(req).await, Ok(r) if r.status().is_success())
        }
    }
}

fn am_alert(name: &str, door: &str, ends: Option<&str>) -> Value {
    let mut a = json!({
        "labels": {"alertname": name, "door": door, "severity": "critical"},
        "annotations": {"summary": format!("{name} through {door}")},
        "generatorURL": "http://prometheus-host:9090/graph",
    });
    if let Some(e) = ends {
        a["endsAt"] = json!(e);
    }
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_alertmanager_pages_through_all_three_receivers_and_resolves() {
    let Some(bin) = alertmanager_binary() else {
        return;
    };
    let app = app().await;
    checkout(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(&config, alertmanager_config(&app.url())).unwrap();
    let port = free_port();
    let am = format!("http://127.0.0.1:{port}");
    let child = std::process::Command::new(&bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("Alertmanager starts");
    let _child = Child(child);
    let client = reqwest_like::Client::new();
    // Alertmanager runs on real time: bounded polling for a protocol peer, not our timer.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !client.ready(&format!("{am}/-/ready")).await {
        assert!(
            std::time::Instant::now() < deadline,
            "Alertmanager did not become ready"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let doors = [
        ("DiskFull", "pagerduty", "klaxon.pagerduty"),
        ("QueueStuck", "opsgenie", "klaxon.opsgenie"),
        ("ErrorsHigh", "webhook", "klaxon.alertmanager"),
    ];
    let firing: Vec<Value> = doors.iter().map(|(n, d, _)| am_alert(n, d, None)).collect();
    assert_eq!(post_alerts(&client, &am, &json!(firing)).await, 200);

    let by_source = |list: &[aws_sdk_ssmincidents::types::IncidentRecordSummary], src: &str| {
        list.iter()
            .filter(|i| i.incident_record_source().map(|s| s.source()) == Some(src))
            .cloned()
            .collect::<Vec<_>>()
    };
    let list = loop {
        let list = incidents(&app).await;
        if doors
            .iter()
            .all(|(_, _, s)| !by_source(&list, s).is_empty())
        {
            break list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every receiver started an incident: {list:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    for (name, door, source) in doors {
        let mine = by_source(&list, source);
        assert_eq!(mine.len(), 1, "{door}: one incident per firing group");
        assert_eq!(mine[0].title(), format!("{name} through {door}"), "{door}");
        assert_eq!(mine[0].status(), &IncidentRecordStatus::Open);
    }
    assert_eq!(by_source(&list, "klaxon.pagerduty")[0].impact(), 1);
    assert_eq!(by_source(&list, "klaxon.opsgenie")[0].impact(), 2);
    assert_eq!(by_source(&list, "klaxon.alertmanager")[0].impact(), 1);

    let ended = "2000-01-01T00:00:00Z";
    let resolved: Vec<Value> = doors
        .iter()
        .map(|(n, d, _)| am_alert(n, d, Some(ended)))
        .collect();
    assert_eq!(post_alerts(&client, &am, &json!(resolved)).await, 200);
    loop {
        let list = incidents(&app).await;
        if list.len() == 3
            && list
                .iter()
                .all(|i| i.status() == &IncidentRecordStatus::Resolved)
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the resolved notifications did not resolve every incident: {list:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
