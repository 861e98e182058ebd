//! SSM Incidents on the wire: raw restJson1 statuses, bodies and headers; the aws CLI; Postgres.

use crate::helpers::*;
use crate::incidents_setup::{err_code, plan, ready};
use aws_sdk_ssmincidents::types::IncidentRecordStatus;
use serde_json::{Value, json};
use std::process::Command;

/// Percent-encodes everything but the unreserved characters, as botocore does for labels.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A signed SSM Incidents request; a JSON body is sent as application/json.
pub async fn call(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> Raw {
    let sign = Some(("ssm-incidents", SECRET, REGION, now_secs()));
    match body {
        Some(b) => {
            let bytes = serde_json::to_vec(&b).unwrap();
            raw(
                app,
                method,
                path,
                &[("content-type", "application/json")],
                &bytes,
                sign,
            )
            .await
        }
        None => raw(app, method, path, &[], b"", sign).await,
    }
}

async fn raw_plan(app: &TestApp, body: Value) -> String {
    let r = call(app, "POST", "/createResponsePlan", Some(body)).await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["arn"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn incidents_operations_answer_with_their_modeled_statuses() {
    let app = spawn().await;
    let r = call(
        &app,
        "POST",
        "/createReplicationSet",
        Some(json!({"regions": {"us-east-1": {}}})),
    )
    .await;
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert!(
        r.body["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:ssm-incidents::111122223333:replication-set/")
    );
    assert!(
        r.header("content-type")
            .is_some_and(|v| v.starts_with("application/json"))
    );
    assert!(r.header("x-amzn-requestid").is_some());
    app.clock.advance_ms(3_000);

    let plan = raw_plan(
        &app,
        json!({"name": "rp-wire", "incidentTemplate": {"title": "t", "impact": 3}}),
    )
    .await;
    assert_eq!(
        plan,
        "arn:aws:ssm-incidents::111122223333:response-plan/rp-wire"
    );

    let r = call(
        &app,
        "GET",
        &format!("/getResponsePlan?arn={}", enc(&plan)),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["name"], "rp-wire");
    assert_eq!(r.body["incidentTemplate"]["impact"], 3);

    let r = call(
        &app,
        "POST",
        "/startIncident",
        Some(json!({"responsePlanArn": plan})),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let incident = r.body["incidentRecordArn"].as_str().unwrap().to_string();

    let r = call(
        &app,
        "POST",
        "/updateIncidentRecord",
        Some(json!({"arn": incident, "status": "RESOLVED"})),
    )
    .await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    let r = call(
        &app,
        "GET",
        &format!("/getIncidentRecord?arn={}", enc(&incident)),
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["incidentRecord"]["status"], "RESOLVED");
    assert!(r.body["incidentRecord"]["resolvedTime"].is_number());
    assert!(r.body["incidentRecord"]["creationTime"].is_number());

    let r = call(
        &app,
        "POST",
        "/putResourcePolicy",
        Some(
            json!({"resourceArn": plan, "policy": "{\"Version\":\"2012-10-17\",\"Statement\":[]}"}),
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let policy_id = r.body["policyId"].as_str().unwrap().to_string();
    let r = call(
        &app,
        "POST",
        "/deleteResourcePolicy",
        Some(json!({"resourceArn": plan, "policyId": policy_id})),
    )
    .await;
    assert_eq!(r.status, 200, "{:?}", r.body);

    let r = call(
        &app,
        "POST",
        "/deleteResponsePlan",
        Some(json!({"arn": plan})),
    )
    .await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
}

#[tokio::test]
async fn incidents_errors_carry_the_error_type_header_and_a_message() {
    let app = spawn().await;
    ready(&app).await;
    let missing = "arn:aws:ssm-incidents::111122223333:response-plan/ghost";
    let r = call(
        &app,
        "GET",
        &format!("/getResponsePlan?arn={}", enc(missing)),
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let r = call(
        &app,
        "POST",
        "/createResponsePlan",
        Some(json!({"name": "rp-1", "incidentTemplate": {"title": "t", "impact": 9}})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.header("x-amzn-errortype"), Some("ValidationException"));
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let body = json!({"name": "rp-1", "incidentTemplate": {"title": "t", "impact": 3}});
    raw_plan(&app, body.clone()).await;
    let r = call(&app, "POST", "/createResponsePlan", Some(body)).await;
    assert_eq!(r.status, 409);
    assert_eq!(r.header("x-amzn-errortype"), Some("ConflictException"));
    assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));

    let r = call(
        &app,
        "POST",
        "/createReplicationSet",
        Some(json!({"regions": {"us-east-1": {}}})),
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (409, Some("ConflictException"))
    );
}

#[tokio::test]
async fn the_tags_route_takes_a_percent_encoded_arn() {
    let app = spawn().await;
    ready(&app).await;
    let plan = raw_plan(
        &app,
        json!({
            "name": "rp-tags",
            "incidentTemplate": {"title": "t", "impact": 3},
            "tags": {"a": "1", "b c": "2", "keep": "3"}
        }),
    )
    .await;
    let path = format!("/tags/{}", enc(&plan));
    assert!(path.contains("%3A") && path.contains("%2F"), "{path}");

    let r = call(&app, "GET", &path, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!({"tags": {"a": "1", "b c": "2", "keep": "3"}}));

    let r = call(
        &app,
        "DELETE",
        &format!("{path}?tagKeys=a&tagKeys=b%20c"),
        None,
    )
    .await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    let r = call(&app, "GET", &path, None).await;
    assert_eq!(r.body, json!({"tags": {"keep": "3"}}));

    let r = call(&app, "POST", &path, Some(json!({"tags": {"x": "y"}}))).await;
    assert_eq!((r.status, &r.body), (204, &Value::Null));
    let r = call(&app, "GET", &path, None).await;
    assert_eq!(r.body, json!({"tags": {"keep": "3", "x": "y"}}));

    // A plan without tags still answers with a tags object.
    let bare = raw_plan(
        &app,
        json!({"name": "rp-bare", "incidentTemplate": {"title": "t", "impact": 3}}),
    )
    .await;
    let r = call(&app, "GET", &format!("/tags/{}", enc(&bare)), None).await;
    assert_eq!((r.status, &r.body), (200, &json!({"tags": {}})));

    let r = call(
        &app,
        "GET",
        &format!(
            "/tags/{}",
            enc("arn:aws:ssm-incidents::111122223333:response-plan/ghost")
        ),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (404, Some("ResourceNotFoundException"))
    );
}

#[tokio::test]
async fn an_empty_chat_channel_never_appears_on_the_wire() {
    let app = spawn().await;
    ready(&app).await;
    let plan = raw_plan(
        &app,
        json!({
            "name": "rp-quiet",
            "incidentTemplate": {"title": "t", "impact": 3},
            "chatChannel": {"empty": {}}
        }),
    )
    .await;
    let get = format!("/getResponsePlan?arn={}", enc(&plan));
    let r = call(&app, "GET", &get, None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.get("chatChannel").is_none(), "{}", r.body);

    let sns = "arn:aws:sns:us-east-1:111122223333:chat";
    let r = call(
        &app,
        "POST",
        "/updateResponsePlan",
        Some(json!({"arn": plan, "chatChannel": {"chatbotSns": [sns]}})),
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&app, "GET", &get, None).await;
    assert_eq!(r.body["chatChannel"], json!({"chatbotSns": [sns]}));

    // The incident copies the channel; emptying it on the record removes the key there too.
    let r = call(
        &app,
        "POST",
        "/startIncident",
        Some(json!({"responsePlanArn": plan})),
    )
    .await;
    let incident = r.body["incidentRecordArn"].as_str().unwrap().to_string();
    let r = call(
        &app,
        "POST",
        "/updateIncidentRecord",
        Some(json!({"arn": incident, "chatChannel": {"empty": {}}})),
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(
        &app,
        "GET",
        &format!("/getIncidentRecord?arn={}", enc(&incident)),
        None,
    )
    .await;
    assert!(
        r.body["incidentRecord"].get("chatChannel").is_none(),
        "{}",
        r.body
    );

    let r = call(
        &app,
        "POST",
        "/updateResponsePlan",
        Some(json!({"arn": plan, "chatChannel": {"empty": {}}})),
    )
    .await;
    assert_eq!(r.status, 204, "{:?}", r.body);
    let r = call(&app, "GET", &get, None).await;
    assert!(r.body.get("chatChannel").is_none(), "{}", r.body);
}

#[tokio::test]
async fn a_chat_channel_with_both_members_is_a_validation_error() {
    let app = spawn().await;
    ready(&app).await;
    let r = call(
        &app,
        "POST",
        "/createResponsePlan",
        Some(json!({
            "name": "rp-both",
            "incidentTemplate": {"title": "t", "impact": 3},
            "chatChannel": {
                "chatbotSns": ["arn:aws:sns:us-east-1:111122223333:chat"],
                "empty": {}
            }
        })),
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (400, Some("ValidationException")),
        "{:?}",
        r.body
    );
    let r = call(&app, "POST", "/listResponsePlans", Some(json!({}))).await;
    assert_eq!(r.body["responsePlanSummaries"], json!([]));
}

// ---------------------------------------------------------------- aws CLI

fn aws_cli() -> Option<()> {
    match Command::new("aws").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => {
            eprintln!(
                "SKIPPED: the aws CLI is not installed; the ssm-incidents CLI round trip did not run"
            );
            None
        }
    }
}

fn aws(app: &TestApp, args: &[&str]) -> (bool, Value, String) {
    let out = Command::new("aws")
        .arg("ssm-incidents")
        .args(args)
        .args(["--endpoint-url", &app.url(), "--output", "json"])
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .expect("aws runs");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_manages_a_response_plan() {
    if aws_cli().is_none() {
        return;
    }
    let app = spawn().await;
    let run = |args: &[&str]| tokio::task::block_in_place(|| aws(&app, args));

    let (ok, out, err) = run(&["create-replication-set", "--regions", r#"{"us-east-1":{}}"#]);
    assert!(ok, "{err}");
    assert!(
        out["arn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:ssm-incidents::111122223333:replication-set/")
    );
    app.clock.advance_ms(3_000);

    let sns = "arn:aws:sns:us-east-1:111122223333:chat";
    let chat = format!(r#"{{"chatbotSns":["{sns}"]}}"#);
    let (ok, out, err) = run(&[
        "create-response-plan",
        "--name",
        "cli-plan",
        "--display-name",
        "Cli Plan",
        "--incident-template",
        r#"{"title":"Checkout down","impact":2,"summary":"s","incidentTags":{"team":"web"}}"#,
        "--chat-channel",
        &chat,
    ]);
    assert!(ok, "{err}");
    let arn = out["arn"].as_str().unwrap().to_string();
    assert_eq!(
        arn,
        "arn:aws:ssm-incidents::111122223333:response-plan/cli-plan"
    );

    let (ok, out, err) = run(&["get-response-plan", "--arn", &arn]);
    assert!(ok, "{err}");
    assert_eq!(out["arn"], arn.as_str());
    assert_eq!(out["name"], "cli-plan");
    assert_eq!(out["displayName"], "Cli Plan");
    assert_eq!(
        out["incidentTemplate"],
        json!({"title": "Checkout down", "impact": 2, "summary": "s", "incidentTags": {"team": "web"}})
    );
    assert_eq!(out["chatChannel"], json!({"chatbotSns": [sns]}));

    let (ok, _, err) = run(&[
        "update-response-plan",
        "--arn",
        &arn,
        "--display-name",
        "Renamed",
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["get-response-plan", "--arn", &arn]);
    assert!(ok, "{err}");
    assert_eq!(out["displayName"], "Renamed");
    assert_eq!(out["incidentTemplate"]["title"], "Checkout down");

    let (ok, out, err) = run(&["list-response-plans"]);
    assert!(ok, "{err}");
    assert_eq!(
        out["responsePlanSummaries"],
        json!([{"arn": arn, "name": "cli-plan", "displayName": "Renamed"}])
    );

    let (ok, _, err) = run(&["delete-response-plan", "--arn", &arn]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&["list-response-plans"]);
    assert!(ok, "{err}");
    assert_eq!(out["responsePlanSummaries"], json!([]));
    let (ok, _, err) = run(&["get-response-plan", "--arn", &arn]);
    assert!(!ok);
    assert!(err.contains("ResourceNotFoundException"), "{err}");
}

// ---------------------------------------------------------------- Postgres

#[tokio::test]
async fn incidents_work_on_postgres_too() {
    let Some(url) = crate::storage::postgres_url().await else {
        return;
    };
    let fresh = crate::storage::fresh_database(&url).await;
    let app = spawn_with(Setup {
        database_url: Some(
            fresh
                .as_ref()
                .map(|(u, _)| u.clone())
                .unwrap_or(url.clone()),
        ),
        ..Setup::default()
    })
    .await;
    let c = app.incidents();
    if fresh.is_none() {
        // Shared database: clear what an earlier run of this account left behind.
        for arn in c
            .list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns
        {
            c.update_deletion_protection()
                .arn(&arn)
                .deletion_protected(false)
                .send()
                .await
                .unwrap();
            c.delete_replication_set().arn(&arn).send().await.unwrap();
        }
    }

    let set = ready(&app).await;
    assert_eq!(
        c.list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns,
        vec![set.clone()]
    );
    assert_eq!(
        err_code(
            c.create_replication_set()
                .regions(
                    "us-west-2",
                    aws_sdk_ssmincidents::types::RegionMapInputValue::builder().build()
                )
                .send()
        )
        .await,
        "ConflictException"
    );
    let p = plan(&c, "rp-pg").await;
    assert_eq!(
        c.get_response_plan().arn(&p).send().await.unwrap().name,
        "rp-pg"
    );

    let mut all = Vec::new();
    for _ in 0..5 {
        all.push(crate::incidents_records::started(&c, &p).await);
        app.clock.advance_ms(1_000);
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_incident_records()
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        sizes.push(out.incident_record_summaries.len());
        seen.extend(out.incident_record_summaries.into_iter().map(|s| s.arn));
        token = out.next_token;
        if token.is_none() {
            break;
        }
        assert!(sizes.len() < 10, "paging never ends");
    }
    assert_eq!(sizes, vec![2, 2, 1]);
    all.reverse();
    assert_eq!(seen, all, "newest first, each once");

    let inc = &all[0];
    c.update_incident_record()
        .arn(inc)
        .status(IncidentRecordStatus::Resolved)
        .send()
        .await
        .unwrap();
    let event = c
        .create_timeline_event()
        .incident_record_arn(inc)
        .event_type("Custom Event")
        .event_data("on postgres")
        .event_time(aws_sdk_ssmincidents::primitives::DateTime::from_secs(
            now_secs(),
        ))
        .send()
        .await
        .unwrap()
        .event_id;
    let got = c
        .get_timeline_event()
        .incident_record_arn(inc)
        .event_id(&event)
        .send()
        .await
        .unwrap()
        .event
        .unwrap();
    assert_eq!(got.event_data, "on postgres");
    let types: Vec<String> = c
        .list_timeline_events()
        .incident_record_arn(inc)
        .send()
        .await
        .unwrap()
        .event_summaries
        .into_iter()
        .map(|e| e.event_type)
        .collect();
    assert!(types.iter().any(|t| t == "Custom Event"), "{types:?}");
    assert!(
        types.iter().any(|t| t == "SSM Incident Record Update"),
        "{types:?}"
    );

    c.update_deletion_protection()
        .arn(&set)
        .deletion_protected(false)
        .send()
        .await
        .unwrap();
    c.delete_replication_set().arn(&set).send().await.unwrap();
    assert!(
        c.list_incident_records()
            .send()
            .await
            .unwrap()
            .incident_record_summaries
            .is_empty()
    );
    drop(c);
    drop(app);
    if let Some((_, name)) = fresh {
        crate::storage::drop_database(&url, &name).await;
    }
}

/// Eight starts at once on a plan with a dedupe string: all answer with one incident.
async fn concurrent_starts_make_one_incident(app: &TestApp) {
    let c = app.incidents();
    ready(app).await;
    let template = aws_sdk_ssmincidents::types::IncidentTemplate::builder()
        .title("db down")
        .impact(1)
        .dedupe_string("db-primary")
        .build()
        .unwrap();
    let p = c
        .create_response_plan()
        .name("race")
        .incident_template(template)
        .send()
        .await
        .unwrap()
        .arn;
    let starts: Vec<_> = (0..8)
        .map(|i| {
            let (c, p) = (c.clone(), p.clone());
            tokio::spawn(async move {
                c.start_incident()
                    .response_plan_arn(p)
                    .title(format!("alarm {i}"))
                    .send()
                    .await
                    .map(|o| o.incident_record_arn)
            })
        })
        .collect();
    let mut arns = std::collections::HashSet::new();
    for s in starts {
        arns.insert(s.await.unwrap().expect("every start succeeds"));
    }
    assert_eq!(
        arns.len(),
        1,
        "one incident for one dedupe string: {arns:?}"
    );
    let listed = c
        .list_incident_records()
        .send()
        .await
        .unwrap()
        .incident_record_summaries;
    assert_eq!(listed.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_with_one_dedupe_string_make_one_incident_on_sqlite() {
    concurrent_starts_make_one_incident(&spawn().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_starts_with_one_dedupe_string_make_one_incident_on_postgres() {
    let Some(url) = crate::storage::postgres_url().await else {
        return;
    };
    let Some((fresh, name)) = crate::storage::fresh_database(&url).await else {
        panic!("this test needs a scratch database on {url}");
    };
    let app = spawn_with(Setup {
        database_url: Some(fresh),
        ..Setup::default()
    })
    .await;
    concurrent_starts_make_one_incident(&app).await;
    drop(app);
    crate::storage::drop_database(&url, &name).await;
}

#[tokio::test]
async fn incidents_survive_a_restart_on_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("klaxon.db").display());
    let setup = || Setup {
        database_url: Some(url.clone()),
        ..Setup::default()
    };
    let first = spawn_with(setup()).await;
    let c = first.incidents();
    let set = ready(&first).await;
    let p = plan(&c, "durable").await;
    let incident = c
        .start_incident()
        .response_plan_arn(&p)
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    first.running.stop().await;

    let second = spawn_with(setup()).await;
    let c = second.incidents();
    let got = c
        .get_incident_record()
        .arn(&incident)
        .send()
        .await
        .unwrap()
        .incident_record
        .unwrap();
    assert_eq!(got.title, "t");
    assert_eq!(got.status, IncidentRecordStatus::Open);
    assert_eq!(
        c.list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns,
        vec![set]
    );
    let events = c
        .list_timeline_events()
        .incident_record_arn(&incident)
        .send()
        .await
        .unwrap()
        .event_summaries;
    assert_eq!(events.len(), 1, "the creation event is kept");
}
