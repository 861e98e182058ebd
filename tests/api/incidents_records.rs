//! SSM Incidents records: starting, updating, listing and paging incidents, their timeline,
//! related items and findings.

use crate::helpers::*;
use crate::incidents_setup::{CHAT_SNS, SNS, err_code, plan, ready, template};
use aws_sdk_ssmincidents::Client;
use aws_sdk_ssmincidents::primitives::DateTime;
use aws_sdk_ssmincidents::types::{
    AttributeValueList, ChatChannel, Condition, EmptyChatChannel, EventReference, Filter,
    IncidentRecord, IncidentRecordStatus, IncidentTemplate, ItemIdentifier, ItemType, ItemValue,
    NotificationTargetItem, PagerDutyIncidentDetail, RelatedItem, RelatedItemsUpdate, SortOrder,
    TimelineEventSort, TriggerDetails,
};
use klaxon::domain::clock::Clock;
use std::collections::HashSet;

const MISSING_RECORD: &str =
    "arn:aws:ssm-incidents::111122223333:incident-record/rp-1/00000000-0000-0000-0000-000000000000";
const INSTANCE: &str = "arn:aws:ec2:us-east-1:111122223333:instance/i-0123456789abcdef0";

pub async fn started(c: &Client, plan_arn: &str) -> String {
    c.start_incident()
        .response_plan_arn(plan_arn)
        .send()
        .await
        .unwrap()
        .incident_record_arn
}

pub async fn record(c: &Client, arn: &str) -> IncidentRecord {
    c.get_incident_record()
        .arn(arn)
        .send()
        .await
        .unwrap()
        .incident_record
        .unwrap()
}

fn now_s(app: &TestApp) -> i64 {
    app.clock.now_ms() / 1000
}

fn identifier(t: ItemType, v: ItemValue) -> ItemIdentifier {
    ItemIdentifier::builder()
        .r#type(t)
        .value(v)
        .build()
        .unwrap()
}

fn item(t: ItemType, v: ItemValue, title: &str) -> RelatedItem {
    RelatedItem::builder()
        .identifier(identifier(t, v))
        .title(title)
        .build()
}

fn equals_strings(key: &str, values: &[&str]) -> Filter {
    Filter::builder()
        .key(key)
        .condition(Condition::Equals(AttributeValueList::StringValues(
            values.iter().map(|v| v.to_string()).collect(),
        )))
        .build()
        .unwrap()
}

fn equals_ints(key: &str, values: &[i32]) -> Filter {
    Filter::builder()
        .key(key)
        .condition(Condition::Equals(AttributeValueList::IntegerValues(
            values.to_vec(),
        )))
        .build()
        .unwrap()
}

fn after(key: &str, t: DateTime) -> Filter {
    Filter::builder()
        .key(key)
        .condition(Condition::After(t))
        .build()
        .unwrap()
}

fn before(key: &str, t: DateTime) -> Filter {
    Filter::builder()
        .key(key)
        .condition(Condition::Before(t))
        .build()
        .unwrap()
}

/// The ARNs ListIncidentRecords returns for these filters (one page of up to 100).
async fn listed(c: &Client, filters: Vec<Filter>) -> Vec<String> {
    c.list_incident_records()
        .set_filters(Some(filters))
        .send()
        .await
        .unwrap()
        .incident_record_summaries
        .into_iter()
        .map(|s| s.arn)
        .collect()
}

// ---------------------------------------------------------------- incident records

#[tokio::test]
async fn start_incident_copies_the_response_plan_template() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let plan_arn = c
        .create_response_plan()
        .name("rp-1")
        .incident_template(
            IncidentTemplate::builder()
                .title("Database down")
                .impact(2)
                .summary("The primary database does not answer")
                .notification_targets(NotificationTargetItem::SnsTopicArn(SNS.into()))
                .build()
                .unwrap(),
        )
        .chat_channel(ChatChannel::ChatbotSns(vec![CHAT_SNS.into()]))
        .send()
        .await
        .unwrap()
        .arn;
    let arn = started(&c, &plan_arn).await;
    let id = arn
        .strip_prefix("arn:aws:ssm-incidents::111122223333:incident-record/rp-1/")
        .expect("incident-record/<plan name>/<uuid>");
    assert_eq!(id.len(), 36, "{arn}");

    let r = record(&c, &arn).await;
    assert_eq!(r.arn, arn);
    assert_eq!(r.title, "Database down");
    assert_eq!(r.impact, 2);
    assert_eq!(
        r.summary.as_deref(),
        Some("The primary database does not answer")
    );
    assert_eq!(
        r.notification_targets,
        Some(vec![NotificationTargetItem::SnsTopicArn(SNS.into())])
    );
    assert_eq!(
        r.chat_channel,
        Some(ChatChannel::ChatbotSns(vec![CHAT_SNS.into()]))
    );
    assert_eq!(r.status, IncidentRecordStatus::Open);
    assert_eq!(r.resolved_time, None);
    assert!((r.creation_time.secs() - now_s(&app)).abs() <= 1);
    assert!((r.last_modified_time.secs() - now_s(&app)).abs() <= 1);
    assert!(!r.last_modified_by.is_empty());
    assert!(
        !r.dedupe_string.is_empty(),
        "generated when the template has none"
    );
    let source = r.incident_record_source.unwrap();
    assert_eq!(source.source, "aws.ssm-incidents.custom");
    assert!(!source.created_by.is_empty());

    // Without a dedupe string in the template every start is a new incident.
    let other = started(&c, &plan_arn).await;
    assert_ne!(other, arn);
}

#[tokio::test]
async fn start_incident_title_and_impact_override_the_template() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let arn = c
        .start_incident()
        .response_plan_arn(&p)
        .title("Checkout errors")
        .impact(1)
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    let r = record(&c, &arn).await;
    assert_eq!((r.title.as_str(), r.impact), ("Checkout errors", 1));
}

#[tokio::test]
async fn trigger_details_name_the_source_and_resource() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let alarm = "arn:aws:cloudwatch:us-east-1:111122223333:alarm:a";
    let arn = c
        .start_incident()
        .response_plan_arn(&p)
        .trigger_details(
            TriggerDetails::builder()
                .source("aws.cloudwatch")
                .timestamp(DateTime::from_secs(now_s(&app) - 60))
                .trigger_arn(alarm)
                .raw_data(r#"{"state":"ALARM"}"#)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    let source = record(&c, &arn).await.incident_record_source.unwrap();
    assert_eq!(source.source, "aws.cloudwatch");
    assert_eq!(source.resource_arn.as_deref(), Some(alarm));
    assert!(!source.created_by.is_empty());
}

#[tokio::test]
async fn a_client_token_replays_the_same_incident() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let start = |token: &str, title: &str| {
        c.start_incident()
            .response_plan_arn(&p)
            .client_token(token)
            .title(title)
            .send()
    };
    let first = start("tok-1", "A").await.unwrap().incident_record_arn;
    let replay = start("tok-1", "A").await.unwrap().incident_record_arn;
    assert_eq!(first, replay);
    assert_eq!(listed(&c, vec![]).await, vec![first.clone()]);
    assert_eq!(
        err_code(start("tok-1", "B")).await,
        "ConflictException",
        "same token, other input"
    );
    assert_eq!(listed(&c, vec![]).await, vec![first]);
}

#[tokio::test]
async fn a_dedupe_string_merges_starts_into_the_open_incident() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = c
        .create_response_plan()
        .name("rp-1")
        .incident_template(
            IncidentTemplate::builder()
                .title("t")
                .impact(3)
                .dedupe_string("db-down")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap()
        .arn;
    let first = started(&c, &p).await;
    app.clock.advance_ms(1_000);
    let second = started(&c, &p).await;
    assert_eq!(second, first, "merged into the open incident");
    assert_eq!(record(&c, &first).await.dedupe_string, "db-down");

    c.update_incident_record()
        .arn(&first)
        .status(IncidentRecordStatus::Resolved)
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(1_000);
    let third = started(&c, &p).await;
    assert_ne!(third, first, "a resolved incident takes no more starts");
    assert_eq!(listed(&c, vec![]).await, vec![third, first]);
}

#[tokio::test]
async fn start_incident_rejects_unknown_plans_and_bad_impact() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    assert_eq!(
        err_code(
            c.start_incident()
                .response_plan_arn(crate::incidents_setup::plan_arn(ACCOUNT, "ghost"))
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err_code(c.start_incident().response_plan_arn(&p).impact(9).send()).await,
        "ValidationException"
    );
    assert!(listed(&c, vec![]).await.is_empty());
}

#[tokio::test]
async fn related_items_given_at_start_get_generated_ids() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let runbook = item(
        ItemType::Attachment,
        ItemValue::Url("https://example.com/runbook".into()),
        "Runbook",
    );
    let host = item(
        ItemType::InvolvedResource,
        ItemValue::Arn(INSTANCE.into()),
        "Host",
    );
    let arn = c
        .start_incident()
        .response_plan_arn(&p)
        .related_items(runbook.clone())
        .related_items(host.clone())
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    let items = c
        .list_related_items()
        .incident_record_arn(&arn)
        .send()
        .await
        .unwrap()
        .related_items;
    assert_eq!(items.len(), 2);
    for (want, kind) in [(&runbook, "ATTACHMENT"), (&host, "INVOLVED_RESOURCE")] {
        let got = items
            .iter()
            .find(|i| i.identifier == want.identifier)
            .unwrap_or_else(|| panic!("{kind} is listed: {items:?}"));
        assert_eq!(got.title, want.title);
        let id = got.generated_id.as_deref().expect("a generated id");
        let pattern = regex::Regex::new(&format!("^related-item/{kind}/[0-9A-F]{{32}}$")).unwrap();
        assert!(pattern.is_match(id), "{id}");
    }
}

#[tokio::test]
async fn update_incident_record_changes_fields_and_resolves() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = c
        .create_response_plan()
        .name("rp-1")
        .incident_template(template("Database down", 3))
        .chat_channel(ChatChannel::ChatbotSns(vec![CHAT_SNS.into()]))
        .send()
        .await
        .unwrap()
        .arn;
    let arn = started(&c, &p).await;
    let before = record(&c, &arn).await;
    assert!(before.chat_channel.is_some());

    app.clock.advance_ms(5_000);
    let other_sns = "arn:aws:sns:us-east-1:111122223333:other";
    c.update_incident_record()
        .arn(&arn)
        .title("Database degraded")
        .summary("Replica lag only")
        .impact(4)
        .notification_targets(NotificationTargetItem::SnsTopicArn(other_sns.into()))
        .chat_channel(ChatChannel::Empty(EmptyChatChannel::builder().build()))
        .status(IncidentRecordStatus::Resolved)
        .send()
        .await
        .unwrap();
    let r = record(&c, &arn).await;
    assert_eq!(r.title, "Database degraded");
    assert_eq!(r.summary.as_deref(), Some("Replica lag only"));
    assert_eq!(r.impact, 4);
    assert_eq!(
        r.notification_targets,
        Some(vec![NotificationTargetItem::SnsTopicArn(other_sns.into())])
    );
    assert_eq!(r.chat_channel, None);
    assert_eq!(r.status, IncidentRecordStatus::Resolved);
    let resolved = r.resolved_time.expect("resolvedTime is set");
    assert!((resolved.secs() - now_s(&app)).abs() <= 1);
    assert!(r.last_modified_time.secs() >= before.last_modified_time.secs() + 4);
    assert_eq!(r.creation_time, before.creation_time);

    // A partial update keeps everything else.
    c.update_incident_record()
        .arn(&arn)
        .impact(5)
        .send()
        .await
        .unwrap();
    let r = record(&c, &arn).await;
    assert_eq!((r.title.as_str(), r.impact), ("Database degraded", 5));
    assert_eq!(r.status, IncidentRecordStatus::Resolved);

    assert_eq!(
        err_code(
            c.update_incident_record()
                .arn(MISSING_RECORD)
                .title("x")
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn deleting_an_incident_record_is_idempotent() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let arn = started(&c, &p).await;
    c.delete_incident_record().arn(&arn).send().await.unwrap();
    assert_eq!(
        err_code(c.get_incident_record().arn(&arn).send()).await,
        "ResourceNotFoundException"
    );
    c.delete_incident_record()
        .arn(&arn)
        .send()
        .await
        .expect("deleting a missing record succeeds");
    assert!(listed(&c, vec![]).await.is_empty());
}

#[tokio::test]
async fn incident_records_list_newest_first_with_summaries() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let mut arns = Vec::new();
    for _ in 0..3 {
        arns.push(started(&c, &p).await);
        app.clock.advance_ms(1_000);
    }
    let out = c
        .list_incident_records()
        .send()
        .await
        .unwrap()
        .incident_record_summaries;
    let got: Vec<&str> = out.iter().map(|s| s.arn.as_str()).collect();
    assert_eq!(got, vec![&arns[2], &arns[1], &arns[0]]);
    let s = &out[0];
    assert_eq!(s.title, "t");
    assert_eq!(s.impact, 3);
    assert_eq!(s.status, IncidentRecordStatus::Open);
    assert_eq!(s.resolved_time, None);
    assert_eq!(s.creation_time, record(&c, &arns[2]).await.creation_time);
    assert_eq!(
        s.incident_record_source.as_ref().unwrap().source,
        "aws.ssm-incidents.custom"
    );
}

#[tokio::test]
async fn incident_record_filters_combine_values_with_or_and_filters_with_and() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let start = |impact: i32| {
        c.start_incident()
            .response_plan_arn(&p)
            .impact(impact)
            .send()
    };
    let a = start(1).await.unwrap().incident_record_arn;
    app.clock.advance_ms(10_000);
    let b = start(2).await.unwrap().incident_record_arn;
    c.update_incident_record()
        .arn(&b)
        .status(IncidentRecordStatus::Resolved)
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(10_000);
    let cc = start(3).await.unwrap().incident_record_arn;
    let a_rec = record(&c, &a).await;
    let a_ms = a_rec.creation_time.to_millis().unwrap();

    assert_eq!(
        listed(&c, vec![equals_strings("status", &["OPEN"])]).await,
        vec![cc.clone(), a.clone()]
    );
    assert_eq!(
        listed(&c, vec![equals_strings("status", &["RESOLVED"])]).await,
        vec![b.clone()]
    );
    assert_eq!(
        listed(&c, vec![equals_ints("impact", &[1, 2])]).await,
        vec![b.clone(), a.clone()],
        "OR across values"
    );
    assert_eq!(
        listed(
            &c,
            vec![
                after("creationTime", DateTime::from_millis(a_ms + 5_000)),
                before("creationTime", DateTime::from_millis(a_ms + 15_000)),
            ]
        )
        .await,
        vec![b.clone()],
        "AND across filters"
    );
    assert_eq!(
        listed(
            &c,
            vec![after("creationTime", DateTime::from_millis(a_ms + 5_000))]
        )
        .await,
        vec![cc.clone(), b.clone()]
    );
    assert_eq!(
        listed(
            &c,
            vec![
                equals_strings("status", &["OPEN"]),
                equals_ints("impact", &[3, 4])
            ]
        )
        .await,
        vec![cc.clone()]
    );
    let me = a_rec.incident_record_source.unwrap().created_by;
    assert_eq!(
        listed(&c, vec![equals_strings("createdBy", &[me.as_str()])]).await,
        vec![cc.clone(), b.clone(), a.clone()]
    );
    assert!(
        listed(
            &c,
            vec![equals_strings(
                "createdBy",
                &["arn:aws:iam::999999999999:user/nobody"]
            )]
        )
        .await
        .is_empty()
    );
}

#[tokio::test]
async fn malformed_incident_record_filters_are_rejected() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let bad = [
        equals_strings("color", &["red"]),
        equals_strings("impact", &["1"]),
        equals_strings("creationTime", &["2024-01-01"]),
    ];
    for f in bad {
        let key = f.key.clone();
        assert_eq!(
            err_code(c.list_incident_records().filters(f).send()).await,
            "ValidationException",
            "{key}"
        );
    }
    assert_eq!(
        err_code(
            c.list_incident_records()
                .next_token("not-a-token-this-server-issued")
                .send()
        )
        .await,
        "ValidationException"
    );
}

async fn walk(c: &Client, size: i32) -> (Vec<usize>, Vec<String>) {
    let mut sizes = Vec::new();
    let mut arns = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_incident_records()
            .max_results(size)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        sizes.push(out.incident_record_summaries.len());
        arns.extend(out.incident_record_summaries.into_iter().map(|s| s.arn));
        token = out.next_token;
        if token.is_none() {
            return (sizes, arns);
        }
        assert!(sizes.len() < 20, "paging never ends");
    }
}

#[tokio::test]
async fn incident_records_page_once_each_while_records_come_and_go() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let mut all = Vec::new();
    for _ in 0..7 {
        all.push(started(&c, &p).await);
        app.clock.advance_ms(1_000);
    }
    let newest_first: Vec<String> = all.iter().rev().cloned().collect();
    let (sizes, arns) = walk(&c, 3).await;
    assert_eq!(sizes, vec![3, 3, 1]);
    assert_eq!(arns, newest_first);

    // Now change the set between pages.
    let first = c
        .list_incident_records()
        .max_results(3)
        .send()
        .await
        .unwrap();
    let mut seen: Vec<String> = first
        .incident_record_summaries
        .into_iter()
        .map(|s| s.arn)
        .collect();
    assert_eq!(seen, newest_first[..3].to_vec());
    let mut token = first.next_token;
    let mut added = Vec::new();
    let mut pages = 1;
    while let Some(t) = token {
        if pages == 1 {
            for _ in 0..2 {
                added.push(started(&c, &p).await);
                app.clock.advance_ms(1_000);
            }
            // The oldest record has not been seen yet.
            c.delete_incident_record()
                .arn(&all[0])
                .send()
                .await
                .unwrap();
        }
        let out = c
            .list_incident_records()
            .max_results(3)
            .next_token(t)
            .send()
            .await
            .unwrap();
        seen.extend(out.incident_record_summaries.into_iter().map(|s| s.arn));
        token = out.next_token;
        pages += 1;
        assert!(pages < 20, "paging never ends");
    }
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no record twice: {seen:?}");
    for arn in &all[1..] {
        assert_eq!(
            seen.iter().filter(|s| *s == arn).count(),
            1,
            "{arn} existed for the whole walk"
        );
    }
    for arn in &added {
        assert!(seen.iter().filter(|s| *s == arn).count() <= 1);
    }
}

// ---------------------------------------------------------------- timeline

async fn event_types(c: &Client, incident: &str, order: SortOrder) -> Vec<(String, String)> {
    c.list_timeline_events()
        .incident_record_arn(incident)
        .sort_by(TimelineEventSort::EventTime)
        .sort_order(order)
        .max_results(100)
        .send()
        .await
        .unwrap()
        .event_summaries
        .into_iter()
        .map(|e| (e.event_id, e.event_type))
        .collect()
}

#[tokio::test]
async fn starting_and_updating_an_incident_writes_automatic_timeline_events() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = started(&c, &p).await;
    let at_start = event_types(&c, &inc, SortOrder::Ascending).await;
    assert!(
        at_start
            .iter()
            .any(|(_, t)| t.starts_with("SSM Incident Record")),
        "{at_start:?}"
    );
    let known: HashSet<String> = at_start.iter().map(|(id, _)| id.clone()).collect();

    app.clock.advance_ms(1_000);
    c.update_incident_record()
        .arn(&inc)
        .status(IncidentRecordStatus::Resolved)
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(1_000);
    c.update_incident_record()
        .arn(&inc)
        .impact(1)
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(1_000);
    c.update_incident_record()
        .arn(&inc)
        .title("Renamed")
        .send()
        .await
        .unwrap();

    let updates: Vec<String> = event_types(&c, &inc, SortOrder::Ascending)
        .await
        .into_iter()
        .filter(|(id, t)| !known.contains(id) && t == "SSM Incident Record Update")
        .map(|(id, _)| id)
        .collect();
    assert_eq!(updates.len(), 3, "one event per update");
    for (id, attribute) in updates.iter().zip(["status", "impact", "title"]) {
        let event = c
            .get_timeline_event()
            .incident_record_arn(&inc)
            .event_id(id)
            .send()
            .await
            .unwrap()
            .event
            .unwrap();
        let data: serde_json::Value =
            serde_json::from_str(&event.event_data).expect("automatic event data is JSON");
        assert!(
            data.to_string().to_lowercase().contains(attribute),
            "{attribute} in {data}"
        );
    }
}

#[tokio::test]
async fn a_custom_timeline_event_is_created_read_updated_and_deleted() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = c
        .start_incident()
        .response_plan_arn(&p)
        .related_items(item(
            ItemType::InvolvedResource,
            ItemValue::Arn(INSTANCE.into()),
            "Host",
        ))
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    let gid = c
        .list_related_items()
        .incident_record_arn(&inc)
        .send()
        .await
        .unwrap()
        .related_items[0]
        .generated_id
        .clone()
        .unwrap();

    let when = DateTime::from_secs(now_s(&app) - 120);
    let refs = vec![
        EventReference::Resource(inc.clone()),
        EventReference::RelatedItemId(gid.clone()),
    ];
    let created = c
        .create_timeline_event()
        .incident_record_arn(&inc)
        .event_type("Custom Event")
        .event_data("Rolled back the deploy")
        .event_time(when)
        .set_event_references(Some(refs.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(created.incident_record_arn, inc);
    let id = created.event_id;
    assert!(!id.is_empty());

    let get = || async {
        c.get_timeline_event()
            .incident_record_arn(&inc)
            .event_id(&id)
            .send()
            .await
            .unwrap()
            .event
            .unwrap()
    };
    let ev = get().await;
    assert_eq!(ev.event_id, id);
    assert_eq!(ev.incident_record_arn, inc);
    assert_eq!(ev.event_type, "Custom Event");
    assert_eq!(ev.event_data, "Rolled back the deploy");
    assert_eq!(ev.event_time.secs(), when.secs());
    assert!((ev.event_updated_time.secs() - now_s(&app)).abs() <= 1);
    assert_eq!(ev.event_references, Some(refs));

    app.clock.advance_ms(5_000);
    let later = DateTime::from_secs(now_s(&app) - 60);
    c.update_timeline_event()
        .incident_record_arn(&inc)
        .event_id(&id)
        .event_data("Rolled back the deploy to v41")
        .event_time(later)
        .event_references(EventReference::Resource(INSTANCE.into()))
        .send()
        .await
        .unwrap();
    let updated = get().await;
    assert_eq!(updated.event_data, "Rolled back the deploy to v41");
    assert_eq!(updated.event_time.secs(), later.secs());
    assert_eq!(
        updated.event_references,
        Some(vec![EventReference::Resource(INSTANCE.into())]),
        "references are replaced"
    );
    assert!(updated.event_updated_time.secs() >= ev.event_updated_time.secs() + 4);
    assert_eq!(updated.event_type, "Custom Event");

    let note = c
        .create_timeline_event()
        .incident_record_arn(&inc)
        .event_type("Note")
        .event_data("Customers notified")
        .event_time(DateTime::from_secs(now_s(&app)))
        .event_references(EventReference::Resource(inc.clone()))
        .send()
        .await
        .unwrap()
        .event_id;
    assert_ne!(note, id);

    c.delete_timeline_event()
        .incident_record_arn(&inc)
        .event_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        err_code(
            c.get_timeline_event()
                .incident_record_arn(&inc)
                .event_id(&id)
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    c.delete_timeline_event()
        .incident_record_arn(&inc)
        .event_id(&id)
        .send()
        .await
        .expect("deleting a missing event succeeds");
}

#[tokio::test]
async fn timeline_event_errors() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = started(&c, &p).await;
    let now = DateTime::from_secs(now_s(&app));
    assert_eq!(
        err_code(
            c.create_timeline_event()
                .incident_record_arn(&inc)
                .event_type("Foo")
                .event_data("x")
                .event_time(now)
                .send()
        )
        .await,
        "ValidationException",
        "only Custom Event and Note can be created"
    );
    assert_eq!(
        err_code(
            c.create_timeline_event()
                .incident_record_arn(MISSING_RECORD)
                .event_type("Custom Event")
                .event_data("x")
                .event_time(now)
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    let unknown = "00000000-0000-0000-0000-000000000000";
    assert_eq!(
        err_code(
            c.get_timeline_event()
                .incident_record_arn(&inc)
                .event_id(unknown)
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err_code(
            c.update_timeline_event()
                .incident_record_arn(&inc)
                .event_id(unknown)
                .event_data("x")
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    let (automatic, _) = event_types(&c, &inc, SortOrder::Ascending)
        .await
        .into_iter()
        .find(|(_, t)| t.starts_with("SSM Incident Record"))
        .expect("the start event");
    assert_eq!(
        err_code(
            c.update_timeline_event()
                .incident_record_arn(&inc)
                .event_id(&automatic)
                .event_data("rewritten")
                .send()
        )
        .await,
        "ValidationException",
        "automatic events are read-only"
    );
    assert_eq!(
        err_code(
            c.delete_timeline_event()
                .incident_record_arn(&inc)
                .event_id(&automatic)
                .send()
        )
        .await,
        "ValidationException",
        "automatic events cannot be deleted"
    );
}

#[tokio::test]
async fn a_timeline_client_token_replays_the_same_event() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = started(&c, &p).await;
    let when = DateTime::from_secs(now_s(&app) - 10);
    let create = || {
        c.create_timeline_event()
            .incident_record_arn(&inc)
            .event_type("Custom Event")
            .event_data("once")
            .event_time(when)
            .client_token("tok-event")
            .send()
    };
    let first = create().await.unwrap().event_id;
    let again = create().await.unwrap().event_id;
    assert_eq!(first, again);
    let custom = c
        .list_timeline_events()
        .incident_record_arn(&inc)
        .filters(equals_strings("eventType", &["Custom Event"]))
        .send()
        .await
        .unwrap()
        .event_summaries;
    assert_eq!(custom.len(), 1);
}

#[tokio::test]
async fn timeline_events_sort_filter_and_page() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = started(&c, &p).await;
    let now = now_s(&app);
    let bucket = "arn:aws:s3:::incident-evidence";
    let create = |event_type: &str, ago: i64, reference: Option<&str>| {
        c.create_timeline_event()
            .incident_record_arn(&inc)
            .event_type(event_type)
            .event_data(format!("{ago} seconds ago"))
            .event_time(DateTime::from_secs(now - ago))
            .set_event_references(reference.map(|r| vec![EventReference::Resource(r.into())]))
            .send()
    };
    let e30 = create("Custom Event", 30, None).await.unwrap().event_id;
    let e10 = create("Custom Event", 10, None).await.unwrap().event_id;
    let e20 = create("Custom Event", 20, None).await.unwrap().event_id;
    let note40 = create("Note", 40, Some(bucket)).await.unwrap().event_id;

    // Default order: newest event time first.
    let all = c
        .list_timeline_events()
        .incident_record_arn(&inc)
        .send()
        .await
        .unwrap()
        .event_summaries;
    assert_eq!(all.len(), 5, "four created plus the start event");
    let times: Vec<i64> = all.iter().map(|e| e.event_time.secs()).collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "DESCENDING by default");
    assert_eq!(all.last().unwrap().event_id, note40);

    let custom = |order: SortOrder| {
        c.list_timeline_events()
            .incident_record_arn(&inc)
            .sort_by(TimelineEventSort::EventTime)
            .sort_order(order)
            .filters(equals_strings("eventType", &["Custom Event"]))
            .send()
    };
    let ids = |out: Vec<aws_sdk_ssmincidents::types::EventSummary>| -> Vec<String> {
        out.into_iter().map(|e| e.event_id).collect()
    };
    assert_eq!(
        ids(custom(SortOrder::Descending).await.unwrap().event_summaries),
        vec![e10.clone(), e20.clone(), e30.clone()]
    );
    assert_eq!(
        ids(custom(SortOrder::Ascending).await.unwrap().event_summaries),
        vec![e30.clone(), e20.clone(), e10.clone()]
    );

    let window = c
        .list_timeline_events()
        .incident_record_arn(&inc)
        .filters(after("eventTime", DateTime::from_secs(now - 25)))
        .filters(before("eventTime", DateTime::from_secs(now - 5)))
        .send()
        .await
        .unwrap()
        .event_summaries;
    assert_eq!(ids(window), vec![e10.clone(), e20.clone()]);

    let referencing = c
        .list_timeline_events()
        .incident_record_arn(&inc)
        .filters(equals_strings("eventReference", &[bucket]))
        .send()
        .await
        .unwrap()
        .event_summaries;
    assert_eq!(referencing.len(), 1);
    assert_eq!(referencing[0].event_id, note40);
    assert_eq!(
        referencing[0].event_references,
        Some(vec![EventReference::Resource(bucket.into())])
    );

    let mut paged = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = c
            .list_timeline_events()
            .incident_record_arn(&inc)
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        assert!(out.event_summaries.len() <= 2);
        paged.extend(out.event_summaries.into_iter().map(|e| e.event_id));
        pages += 1;
        token = out.next_token;
        if token.is_none() {
            break;
        }
        assert!(pages < 10, "paging never ends");
    }
    assert_eq!(pages, 3);
    assert_eq!(paged, ids(all), "pages follow the listing order");
}

// ---------------------------------------------------------------- related items

#[tokio::test]
async fn related_items_are_added_listed_and_removed() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = started(&c, &p).await;
    let metric = item(
        ItemType::Metric,
        ItemValue::MetricDefinition(
            r#"{"namespace":"AWS/RDS","metricName":"CPUUtilization"}"#.into(),
        ),
        "CPU",
    );
    let runbook = item(
        ItemType::Attachment,
        ItemValue::Url("https://example.com/runbook".into()),
        "Runbook",
    );
    let host = item(
        ItemType::InvolvedResource,
        ItemValue::Arn(INSTANCE.into()),
        "Host",
    );
    let pager = item(
        ItemType::Other,
        ItemValue::PagerDutyIncidentDetail(
            PagerDutyIncidentDetail::builder()
                .id("PD12345")
                .auto_resolve(true)
                .secret_id("pagerduty-secret")
                .build()
                .unwrap(),
        ),
        "PagerDuty incident",
    );
    let add = |i: &RelatedItem| {
        c.update_related_items()
            .incident_record_arn(&inc)
            .related_items_update(RelatedItemsUpdate::ItemToAdd(i.clone()))
            .send()
    };
    for i in [&metric, &runbook, &host, &pager] {
        add(i).await.unwrap();
    }
    let list = || async {
        c.list_related_items()
            .incident_record_arn(&inc)
            .send()
            .await
            .unwrap()
            .related_items
    };
    let items = list().await;
    assert_eq!(items.len(), 4);
    for (want, kind) in [
        (&metric, "METRIC"),
        (&runbook, "ATTACHMENT"),
        (&host, "INVOLVED_RESOURCE"),
        (&pager, "OTHER"),
    ] {
        let got = items
            .iter()
            .find(|i| i.identifier == want.identifier)
            .unwrap_or_else(|| panic!("{kind} is listed: {items:?}"));
        assert_eq!(got.title, want.title);
        let id = got.generated_id.as_deref().expect("a generated id");
        let pattern = regex::Regex::new(&format!("^related-item/{kind}/[0-9A-F]{{32}}$")).unwrap();
        assert!(pattern.is_match(id), "{id}");
    }

    assert_eq!(
        err_code(add(&metric)).await,
        "ConflictException",
        "the same identifier twice"
    );

    let remove = |id: ItemIdentifier| {
        c.update_related_items()
            .incident_record_arn(&inc)
            .related_items_update(RelatedItemsUpdate::ItemToRemove(id))
            .send()
    };
    remove(runbook.identifier.clone().unwrap()).await.unwrap();
    let items = list().await;
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|i| i.identifier != runbook.identifier));
    assert_eq!(
        err_code(remove(runbook.identifier.clone().unwrap())).await,
        "ResourceNotFoundException"
    );

    assert_eq!(
        err_code(
            c.update_related_items()
                .incident_record_arn(MISSING_RECORD)
                .related_items_update(RelatedItemsUpdate::ItemToAdd(metric.clone()))
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
}

// ---------------------------------------------------------------- findings

#[tokio::test]
async fn findings_are_empty_and_unknown_ids_come_back_as_errors() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let p = plan(&c, "rp-1").await;
    let inc = started(&c, &p).await;
    let found = c
        .list_incident_findings()
        .incident_record_arn(&inc)
        .send()
        .await
        .unwrap();
    assert!(found.findings.is_empty());
    assert_eq!(found.next_token, None);
    assert_eq!(
        err_code(
            c.list_incident_findings()
                .incident_record_arn(MISSING_RECORD)
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );

    let got = c
        .batch_get_incident_findings()
        .incident_record_arn(&inc)
        .finding_ids("f1")
        .finding_ids("f2")
        .send()
        .await
        .unwrap();
    assert!(got.findings.is_empty());
    let mut ids: Vec<&str> = got.errors.iter().map(|e| e.finding_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, vec!["f1", "f2"]);
    for e in &got.errors {
        assert!(!e.code.is_empty() && !e.message.is_empty(), "{e:?}");
    }
}
