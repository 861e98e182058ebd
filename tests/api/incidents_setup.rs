//! SSM Incidents set-up: the replication set, response plans, tags and resource policies.

use crate::helpers::*;
use aws_sdk_ssmincidents::Client;
use aws_sdk_ssmincidents::client::Waiters;
use aws_sdk_ssmincidents::error::ProvideErrorMetadata;
use aws_sdk_ssmincidents::types::{
    Action, AddRegionAction, ChatChannel, DeleteRegionAction, DynamicSsmParameterValue,
    EmptyChatChannel, IncidentTemplate, Integration, NotificationTargetItem,
    PagerDutyConfiguration, PagerDutyIncidentConfiguration, RegionMapInputValue, RegionStatus,
    ReplicationSetStatus, SsmAutomation, SsmTargetAccount, UpdateReplicationSetAction,
    VariableType,
};
use klaxon::domain::clock::Clock;
use std::collections::HashMap;
use std::time::Duration;

pub const SNS: &str = "arn:aws:sns:us-east-1:111122223333:incident-updates";
pub const CHAT_SNS: &str = "arn:aws:sns:us-east-1:111122223333:chat";

/// The modeled error code of any SSM Incidents SDK error.
pub fn ecode<E: ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

/// Awaits a call that must fail and returns its error code.
pub async fn err_code<O, E>(call: impl std::future::Future<Output = Result<O, E>>) -> String
where
    O: std::fmt::Debug,
    E: ProvideErrorMetadata + std::fmt::Debug,
{
    match call.await {
        Ok(o) => panic!("expected an error, got {o:?}"),
        Err(e) => ecode(&e),
    }
}

/// Creates the account's replication set in us-east-1 and lets it settle (2 s of server time).
pub async fn ready(app: &TestApp) -> String {
    let arn = app
        .incidents()
        .create_replication_set()
        .regions("us-east-1", RegionMapInputValue::builder().build())
        .send()
        .await
        .unwrap()
        .arn;
    app.clock.advance_ms(3_000);
    arn
}

pub fn template(title: &str, impact: i32) -> IncidentTemplate {
    IncidentTemplate::builder()
        .title(title)
        .impact(impact)
        .build()
        .unwrap()
}

/// A response plan with template title "t" and impact 3.
pub async fn plan(client: &Client, name: &str) -> String {
    client
        .create_response_plan()
        .name(name)
        .incident_template(template("t", 3))
        .send()
        .await
        .unwrap()
        .arn
}

pub fn plan_arn(account: &str, name: &str) -> String {
    format!("arn:aws:ssm-incidents::{account}:response-plan/{name}")
}

pub fn restart_action() -> Action {
    Action::SsmAutomation(
        SsmAutomation::builder()
            .document_name("AWS-Restart")
            .role_arn("arn:aws:iam::111122223333:role/r")
            .document_version("3")
            .target_account(SsmTargetAccount::ResponsePlanOwnerAccount)
            .parameters("InstanceId", vec!["i-0123456789abcdef0".to_string()])
            .dynamic_parameters(
                "incidentArn",
                DynamicSsmParameterValue::Variable(VariableType::IncidentRecordArn),
            )
            .build()
            .unwrap(),
    )
}

pub fn pagerduty() -> Integration {
    Integration::PagerDutyConfiguration(
        PagerDutyConfiguration::builder()
            .name("pd-main")
            .secret_id("pagerduty-secret")
            .pager_duty_incident_configuration(
                PagerDutyIncidentConfiguration::builder()
                    .service_id("PSERVICE1")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    )
}

fn full_template() -> IncidentTemplate {
    IncidentTemplate::builder()
        .title("Database down")
        .impact(2)
        .summary("The primary database does not answer")
        .dedupe_string("db-down")
        .incident_tags("service", "db")
        .incident_tags("tier", "1")
        .notification_targets(NotificationTargetItem::SnsTopicArn(SNS.into()))
        .build()
        .unwrap()
}

fn tag_map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

async fn tags_of(c: &Client, arn: &str) -> HashMap<String, String> {
    c.list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .unwrap()
        .tags
}

// ---------------------------------------------------------------- replication set

#[tokio::test]
async fn replication_set_is_creating_until_it_settles_then_active() {
    let app = spawn().await;
    let c = app.incidents();
    let arn = c
        .create_replication_set()
        .regions("us-east-1", RegionMapInputValue::builder().build())
        .send()
        .await
        .unwrap()
        .arn;
    let id = arn
        .strip_prefix("arn:aws:ssm-incidents::111122223333:replication-set/")
        .expect("replication-set/<uuid>");
    assert_eq!(id.len(), 36, "{arn}");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{arn}");

    let set = c
        .get_replication_set()
        .arn(&arn)
        .send()
        .await
        .unwrap()
        .replication_set
        .unwrap();
    assert_eq!(set.arn.as_deref(), Some(arn.as_str()));
    assert_eq!(set.status, ReplicationSetStatus::Creating);
    assert_eq!(set.region_map.len(), 1);
    let region = &set.region_map["us-east-1"];
    assert_eq!(region.status, RegionStatus::Creating);
    assert_eq!(
        region.sse_kms_key_id.as_deref(),
        Some("DefaultKey"),
        "a region created without a key uses the AWS-owned key, named as AWS names it"
    );
    let now = app.clock.now_ms() / 1000;
    assert!((region.status_update_date_time.secs() - now).abs() <= 2);
    assert!((set.created_time.secs() - now).abs() <= 2);
    assert!(!set.created_by.is_empty());
    assert!(!set.last_modified_by.is_empty());
    assert!(!set.deletion_protected);

    app.clock.advance_ms(3_000);
    let set = c
        .get_replication_set()
        .arn(&arn)
        .send()
        .await
        .unwrap()
        .replication_set
        .unwrap();
    assert_eq!(set.status, ReplicationSetStatus::Active);
    assert_eq!(set.region_map["us-east-1"].status, RegionStatus::Active);

    // The SDK waiter polls GetReplicationSet; the first poll already sees ACTIVE.
    c.wait_until_wait_for_replication_set_active()
        .arn(&arn)
        .wait(Duration::from_secs(5))
        .await
        .expect("the replication set is active");

    let listed = c
        .list_replication_sets()
        .send()
        .await
        .unwrap()
        .replication_set_arns;
    assert_eq!(listed, vec![arn.clone()]);
}

#[tokio::test]
async fn one_replication_set_per_account_with_at_most_three_regions() {
    let app = spawn().await;
    let c = app.incidents();
    let too_many = c
        .create_replication_set()
        .regions("us-east-1", RegionMapInputValue::builder().build())
        .regions("us-east-2", RegionMapInputValue::builder().build())
        .regions("us-west-1", RegionMapInputValue::builder().build())
        .regions("us-west-2", RegionMapInputValue::builder().build())
        .send();
    assert_eq!(err_code(too_many).await, "ValidationException");
    assert!(
        c.list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns
            .is_empty()
    );

    let arn = ready(&app).await;
    let again = c
        .create_replication_set()
        .regions("us-west-2", RegionMapInputValue::builder().build())
        .send();
    assert_eq!(err_code(again).await, "ConflictException");
    assert_eq!(
        c.list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns,
        vec![arn]
    );
}

#[tokio::test]
async fn another_account_sees_no_replication_set() {
    let app = spawn().await;
    let arn = ready(&app).await;
    let theirs = app.incidents_as(KEY2, SECRET2);
    assert!(
        theirs
            .list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns
            .is_empty()
    );
    assert_eq!(
        err_code(theirs.get_replication_set().arn(&arn).send()).await,
        "ResourceNotFoundException"
    );
    let unknown =
        "arn:aws:ssm-incidents::111122223333:replication-set/00000000-0000-0000-0000-000000000000";
    assert_eq!(
        err_code(app.incidents().get_replication_set().arn(unknown).send()).await,
        "ResourceNotFoundException"
    );
}

fn add_region(name: &str) -> UpdateReplicationSetAction {
    UpdateReplicationSetAction::AddRegionAction(
        AddRegionAction::builder()
            .region_name(name)
            .build()
            .unwrap(),
    )
}

fn delete_region(name: &str) -> UpdateReplicationSetAction {
    UpdateReplicationSetAction::DeleteRegionAction(
        DeleteRegionAction::builder()
            .region_name(name)
            .build()
            .unwrap(),
    )
}

#[tokio::test]
async fn regions_are_added_and_removed_within_the_limits() {
    let app = spawn().await;
    let c = app.incidents();
    let arn = ready(&app).await;
    let get = || async {
        c.get_replication_set()
            .arn(&arn)
            .send()
            .await
            .unwrap()
            .replication_set
            .unwrap()
    };

    let keyed = UpdateReplicationSetAction::AddRegionAction(
        AddRegionAction::builder()
            .region_name("us-west-2")
            .sse_kms_key_id("arn:aws:kms:us-west-2:111122223333:key/incidents")
            .build()
            .unwrap(),
    );
    c.update_replication_set()
        .arn(&arn)
        .actions(keyed)
        .send()
        .await
        .unwrap();
    let set = get().await;
    assert_eq!(set.region_map.len(), 2);
    assert_eq!(
        set.region_map["us-west-2"].sse_kms_key_id.as_deref(),
        Some("arn:aws:kms:us-west-2:111122223333:key/incidents"),
        "a given key is kept"
    );
    assert_eq!(set.region_map["us-west-2"].status, RegionStatus::Creating);
    assert_eq!(set.region_map["us-east-1"].status, RegionStatus::Active);
    assert_eq!(set.status, ReplicationSetStatus::Updating);
    let pending = c
        .update_replication_set()
        .arn(&arn)
        .actions(add_region("eu-west-1"))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match pending {
        aws_sdk_ssmincidents::operation::update_replication_set::UpdateReplicationSetError::ConflictException(e) => {
            assert!(e.retry_after.is_some(), "a pending change names when to retry")
        }
        other => panic!("a change while one is pending is a conflict, got {other:?}"),
    }
    app.clock.advance_ms(3_000);
    let set = get().await;
    assert_eq!(set.status, ReplicationSetStatus::Active);
    assert_eq!(set.region_map["us-west-2"].status, RegionStatus::Active);

    let dup = c
        .update_replication_set()
        .arn(&arn)
        .actions(add_region("us-west-2"))
        .send();
    assert_eq!(
        err_code(dup).await,
        "ValidationException",
        "already present"
    );

    c.update_replication_set()
        .arn(&arn)
        .actions(add_region("eu-west-1"))
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(3_000);
    assert_eq!(get().await.region_map.len(), 3);
    let fourth = c
        .update_replication_set()
        .arn(&arn)
        .actions(add_region("ap-south-1"))
        .send();
    assert_eq!(
        err_code(fourth).await,
        "ValidationException",
        "a 4th region"
    );

    let absent = c
        .update_replication_set()
        .arn(&arn)
        .actions(delete_region("sa-east-1"))
        .send();
    assert_eq!(
        err_code(absent).await,
        "ValidationException",
        "not in the set"
    );

    c.update_replication_set()
        .arn(&arn)
        .actions(delete_region("us-west-2"))
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(3_000);
    let set = get().await;
    assert_eq!(set.status, ReplicationSetStatus::Active);
    let mut regions: Vec<_> = set.region_map.keys().cloned().collect();
    regions.sort();
    assert_eq!(regions, vec!["eu-west-1", "us-east-1"]);

    c.update_replication_set()
        .arn(&arn)
        .actions(delete_region("eu-west-1"))
        .send()
        .await
        .unwrap();
    app.clock.advance_ms(3_000);
    let last = c
        .update_replication_set()
        .arn(&arn)
        .actions(delete_region("us-east-1"))
        .send();
    assert_eq!(
        err_code(last).await,
        "ValidationException",
        "the last region"
    );
    let set = get().await;
    assert_eq!(set.region_map.keys().collect::<Vec<_>>(), vec!["us-east-1"]);
}

#[tokio::test]
async fn deletion_protection_blocks_delete_and_delete_removes_all_data() {
    let app = spawn().await;
    let c = app.incidents();
    let arn = ready(&app).await;
    plan(&c, "rp-1").await;

    c.update_deletion_protection()
        .arn(&arn)
        .deletion_protected(true)
        .send()
        .await
        .unwrap();
    let set = c
        .get_replication_set()
        .arn(&arn)
        .send()
        .await
        .unwrap()
        .replication_set
        .unwrap();
    assert!(set.deletion_protected);
    assert_eq!(
        err_code(c.delete_replication_set().arn(&arn).send()).await,
        "ValidationException"
    );
    assert_eq!(
        c.list_response_plans()
            .send()
            .await
            .unwrap()
            .response_plan_summaries
            .len(),
        1,
        "a refused delete changes nothing"
    );

    c.update_deletion_protection()
        .arn(&arn)
        .deletion_protected(false)
        .send()
        .await
        .unwrap();
    c.delete_replication_set().arn(&arn).send().await.unwrap();
    assert_eq!(
        err_code(c.get_replication_set().arn(&arn).send()).await,
        "ResourceNotFoundException"
    );
    assert!(
        c.list_replication_sets()
            .send()
            .await
            .unwrap()
            .replication_set_arns
            .is_empty()
    );
    assert!(
        c.list_response_plans()
            .send()
            .await
            .unwrap()
            .response_plan_summaries
            .is_empty(),
        "all Incident Manager data goes with the replication set"
    );
}

#[tokio::test]
async fn nothing_can_be_created_before_the_replication_set_is_active() {
    let app = spawn().await;
    let c = app.incidents();
    let create = || {
        c.create_response_plan()
            .name("rp-1")
            .incident_template(template("t", 3))
            .send()
    };
    let start = || {
        c.start_incident()
            .response_plan_arn(plan_arn(ACCOUNT, "rp-1"))
            .send()
    };
    assert_eq!(err_code(create()).await, "ValidationException", "no set");
    assert_eq!(err_code(start()).await, "ValidationException", "no set");

    c.create_replication_set()
        .regions("us-east-1", RegionMapInputValue::builder().build())
        .send()
        .await
        .unwrap();
    assert_eq!(err_code(create()).await, "ValidationException", "CREATING");
    assert_eq!(err_code(start()).await, "ValidationException", "CREATING");

    app.clock.advance_ms(3_000);
    let arn = create().await.unwrap().arn;
    assert_eq!(arn, plan_arn(ACCOUNT, "rp-1"));
    start().await.unwrap();
}

// ---------------------------------------------------------------- response plans

#[tokio::test]
async fn a_response_plan_returns_every_field_it_was_created_with() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let oncall = crate::channels::personal(&app, "oncall").await;
    let lead = crate::channels::personal(&app, "lead").await;
    let arn = c
        .create_response_plan()
        .name("rp-1")
        .display_name("Database response")
        .incident_template(full_template())
        .chat_channel(ChatChannel::ChatbotSns(vec![CHAT_SNS.into()]))
        .engagements(&oncall)
        .engagements(&lead)
        .actions(restart_action())
        .integrations(pagerduty())
        .tags("team", "sre")
        .send()
        .await
        .unwrap()
        .arn;
    assert_eq!(
        arn,
        "arn:aws:ssm-incidents::111122223333:response-plan/rp-1"
    );

    let got = c.get_response_plan().arn(&arn).send().await.unwrap();
    assert_eq!(got.arn, arn);
    assert_eq!(got.name, "rp-1");
    assert_eq!(got.display_name.as_deref(), Some("Database response"));
    assert_eq!(got.incident_template, Some(full_template()));
    assert_eq!(
        got.chat_channel,
        Some(ChatChannel::ChatbotSns(vec![CHAT_SNS.into()]))
    );
    assert_eq!(got.engagements, Some(vec![oncall, lead]));
    assert_eq!(got.actions, Some(vec![restart_action()]));
    assert_eq!(got.integrations, Some(vec![pagerduty()]));
    assert_eq!(tags_of(&c, &arn).await, tag_map(&[("team", "sre")]));
}

#[tokio::test]
async fn engagements_name_existing_contacts_and_at_most_five() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let create = |name: &str, engagements: Vec<String>| {
        c.create_response_plan()
            .name(name)
            .incident_template(template("t", 3))
            .set_engagements(Some(engagements))
            .send()
    };
    let ghost = contact_arn(ACCOUNT, "ghost");
    assert_eq!(
        err_code(create("rp-ghost", vec![ghost])).await,
        "ValidationException",
        "an unknown contact of the caller's account"
    );

    let mut six = Vec::new();
    for i in 0..6 {
        six.push(crate::channels::personal(&app, &format!("person-{i}")).await);
    }
    assert_eq!(
        err_code(create("rp-six", six.clone())).await,
        "ValidationException",
        "more than 5 engagements"
    );
    let arn = create("rp-five", six[..5].to_vec()).await.unwrap().arn;
    let got = c.get_response_plan().arn(&arn).send().await.unwrap();
    assert_eq!(got.engagements, Some(six[..5].to_vec()));

    // Another account's contacts cannot be looked up here, so they are taken as given.
    let foreign = contact_arn(ACCOUNT2, "elsewhere");
    let arn = create("rp-foreign", vec![foreign.clone()])
        .await
        .unwrap()
        .arn;
    let got = c.get_response_plan().arn(&arn).send().await.unwrap();
    assert_eq!(got.engagements, Some(vec![foreign]));
}

#[tokio::test]
async fn response_plan_names_are_unique_and_inputs_validated() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    plan(&c, "rp-1").await;
    let create = |name: &str, impact: i32| {
        c.create_response_plan()
            .name(name)
            .incident_template(template("t", impact))
            .send()
    };
    assert_eq!(err_code(create("rp-1", 3)).await, "ConflictException");
    assert_eq!(err_code(create("rp 2", 3)).await, "ValidationException");
    assert_eq!(err_code(create("rp-2", 0)).await, "ValidationException");
    assert_eq!(err_code(create("rp-2", 6)).await, "ValidationException");
    let names: Vec<String> = c
        .list_response_plans()
        .send()
        .await
        .unwrap()
        .response_plan_summaries
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["rp-1"]);
    create("rp_2", 5).await.unwrap();
}

#[tokio::test]
async fn an_empty_chat_channel_is_no_chat_channel() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let arn = c
        .create_response_plan()
        .name("rp-quiet")
        .incident_template(template("t", 3))
        .chat_channel(ChatChannel::Empty(EmptyChatChannel::builder().build()))
        .send()
        .await
        .unwrap()
        .arn;
    let got = c.get_response_plan().arn(&arn).send().await.unwrap();
    assert_eq!(got.chat_channel, None);
}

#[tokio::test]
async fn update_response_plan_changes_only_what_it_names() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let first = crate::channels::personal(&app, "first").await;
    let second = crate::channels::personal(&app, "second").await;
    let arn = c
        .create_response_plan()
        .name("rp-1")
        .display_name("Before")
        .incident_template(full_template())
        .chat_channel(ChatChannel::ChatbotSns(vec![CHAT_SNS.into()]))
        .engagements(&first)
        .actions(restart_action())
        .integrations(pagerduty())
        .send()
        .await
        .unwrap()
        .arn;
    let get = || async { c.get_response_plan().arn(&arn).send().await.unwrap() };
    let before = get().await;

    c.update_response_plan()
        .arn(&arn)
        .display_name("After")
        .send()
        .await
        .unwrap();
    let after = get().await;
    assert_eq!(after.display_name.as_deref(), Some("After"));
    assert_eq!(after.incident_template, before.incident_template);
    assert_eq!(after.chat_channel, before.chat_channel);
    assert_eq!(after.engagements, before.engagements);
    assert_eq!(after.actions, before.actions);
    assert_eq!(after.integrations, before.integrations);

    let other_sns = "arn:aws:sns:us-east-1:111122223333:other";
    c.update_response_plan()
        .arn(&arn)
        .incident_template_title("Cache down")
        .incident_template_impact(4)
        .incident_template_summary("The cache does not answer")
        .incident_template_dedupe_string("cache-down")
        .incident_template_notification_targets(NotificationTargetItem::SnsTopicArn(
            other_sns.into(),
        ))
        .incident_template_tags("owner", "cache-team")
        .send()
        .await
        .unwrap();
    let t = get().await.incident_template.unwrap();
    assert_eq!(t.title, "Cache down");
    assert_eq!(t.impact, 4);
    assert_eq!(t.summary.as_deref(), Some("The cache does not answer"));
    assert_eq!(t.dedupe_string.as_deref(), Some("cache-down"));
    assert_eq!(
        t.notification_targets,
        Some(vec![NotificationTargetItem::SnsTopicArn(other_sns.into())])
    );
    assert_eq!(
        t.incident_tags,
        Some(tag_map(&[("owner", "cache-team")])),
        "the tag map replaces the old one"
    );

    c.update_response_plan()
        .arn(&arn)
        .set_incident_template_tags(Some(HashMap::new()))
        .send()
        .await
        .unwrap();
    let t = get().await.incident_template.unwrap();
    assert!(
        t.incident_tags.unwrap_or_default().is_empty(),
        "an empty map clears the template tags"
    );
    assert_eq!(t.title, "Cache down", "the rest of the template stays");

    c.update_response_plan()
        .arn(&arn)
        .chat_channel(ChatChannel::Empty(EmptyChatChannel::builder().build()))
        .engagements(&second)
        .send()
        .await
        .unwrap();
    let after = get().await;
    assert_eq!(after.chat_channel, None);
    assert_eq!(after.engagements, Some(vec![second]));
    assert_eq!(after.display_name.as_deref(), Some("After"));

    let missing = c
        .update_response_plan()
        .arn(plan_arn(ACCOUNT, "nope"))
        .display_name("x")
        .send();
    assert_eq!(err_code(missing).await, "ResourceNotFoundException");
}

#[tokio::test]
async fn response_plans_list_by_name_and_page() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    for name in ["rp-c", "rp-a", "rp-e", "rp-b", "rp-d"] {
        c.create_response_plan()
            .name(name)
            .display_name(format!("Plan {name}"))
            .incident_template(template("t", 3))
            .send()
            .await
            .unwrap();
    }
    let all = c
        .list_response_plans()
        .send()
        .await
        .unwrap()
        .response_plan_summaries;
    let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["rp-a", "rp-b", "rp-c", "rp-d", "rp-e"]);
    assert_eq!(all[0].arn, plan_arn(ACCOUNT, "rp-a"));
    assert_eq!(all[0].display_name.as_deref(), Some("Plan rp-a"));

    let items = c
        .list_response_plans()
        .max_results(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    let paged: Vec<&str> = items.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(paged, names, "every plan exactly once, in order");

    let mut pages: Vec<Vec<String>> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_response_plans()
            .max_results(2)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        pages.push(
            out.response_plan_summaries
                .into_iter()
                .map(|s| s.name)
                .collect(),
        );
        token = out.next_token;
        if token.is_none() {
            break;
        }
        assert!(pages.len() < 5, "paging never ends");
    }
    assert_eq!(
        pages,
        vec![vec!["rp-a", "rp-b"], vec!["rp-c", "rp-d"], vec!["rp-e"]]
    );

    for bad in [0, 101] {
        let e = err_code(c.list_response_plans().max_results(bad).send()).await;
        assert_eq!(e, "ValidationException", "maxResults {bad}");
    }
}

#[tokio::test]
async fn deleting_a_response_plan_is_idempotent() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let arn = plan(&c, "rp-1").await;
    c.delete_response_plan().arn(&arn).send().await.unwrap();
    assert_eq!(
        err_code(c.get_response_plan().arn(&arn).send()).await,
        "ResourceNotFoundException"
    );
    c.delete_response_plan()
        .arn(&arn)
        .send()
        .await
        .expect("deleting a missing plan succeeds");
    assert!(
        c.list_response_plans()
            .send()
            .await
            .unwrap()
            .response_plan_summaries
            .is_empty()
    );
}

// ---------------------------------------------------------------- tags

#[tokio::test]
async fn tags_on_plans_incident_records_and_the_replication_set() {
    let app = spawn().await;
    let c = app.incidents();
    let set = ready(&app).await;
    let arn = c
        .create_response_plan()
        .name("rp-1")
        .incident_template(
            IncidentTemplate::builder()
                .title("t")
                .impact(3)
                .incident_tags("service", "db")
                .build()
                .unwrap(),
        )
        .tags("team", "sre")
        .send()
        .await
        .unwrap()
        .arn;
    assert_eq!(tags_of(&c, &arn).await, tag_map(&[("team", "sre")]));

    c.tag_resource()
        .resource_arn(&arn)
        .tags("team", "ops")
        .tags("tier", "1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, &arn).await,
        tag_map(&[("team", "ops"), ("tier", "1")]),
        "an existing key is overwritten"
    );
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("tier")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &arn).await, tag_map(&[("team", "ops")]));

    // A taggable resource without tags lists an empty map.
    assert!(tags_of(&c, &set).await.is_empty());
    c.tag_resource()
        .resource_arn(&set)
        .tags("env", "prod")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &set).await, tag_map(&[("env", "prod")]));
    let bare = plan(&c, "rp-bare").await;
    assert!(tags_of(&c, &bare).await.is_empty());

    // The template's incident tags become the record's tags.
    let record = c
        .start_incident()
        .response_plan_arn(&arn)
        .send()
        .await
        .unwrap()
        .incident_record_arn;
    assert_eq!(tags_of(&c, &record).await, tag_map(&[("service", "db")]));
    c.tag_resource()
        .resource_arn(&record)
        .tags("severity", "high")
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&record)
        .tag_keys("service")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, &record).await, tag_map(&[("severity", "high")]));

    let ghost = plan_arn(ACCOUNT, "ghost");
    assert_eq!(
        err_code(c.list_tags_for_resource().resource_arn(&ghost).send()).await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err_code(c.tag_resource().resource_arn(&ghost).tags("a", "b").send()).await,
        "ResourceNotFoundException"
    );
}

#[tokio::test]
async fn reserved_tag_keys_and_the_tag_quota_are_enforced() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let arn = c
        .create_response_plan()
        .name("rp-1")
        .incident_template(template("t", 3))
        .tags("team", "sre")
        .send()
        .await
        .unwrap()
        .arn;
    assert_eq!(
        err_code(
            c.tag_resource()
                .resource_arn(&arn)
                .tags("aws:x", "v")
                .send()
        )
        .await,
        "ValidationException"
    );
    let many: HashMap<String, String> = (0..50).map(|i| (format!("k{i}"), "v".into())).collect();
    let e = err_code(
        c.tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(many))
            .send(),
    )
    .await;
    assert_eq!(e, "ServiceQuotaExceededException", "51 tags in total");
    assert_eq!(tags_of(&c, &arn).await, tag_map(&[("team", "sre")]));
}

// ---------------------------------------------------------------- resource policies

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"share","Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":["ssm-incidents:GetResponsePlan","ssm-incidents:StartIncident"],"Resource":"arn:aws:ssm-incidents:*:111122223333:response-plan/rp-1"}]}"#;

#[tokio::test]
async fn resource_policies_are_put_listed_and_deleted() {
    let app = spawn().await;
    let c = app.incidents();
    ready(&app).await;
    let arn = plan(&c, "rp-1").await;
    let list = || async {
        c.get_resource_policies()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap()
            .resource_policies
    };
    assert!(list().await.is_empty());

    let first = c
        .put_resource_policy()
        .resource_arn(&arn)
        .policy(POLICY)
        .send()
        .await
        .unwrap()
        .policy_id;
    assert!(!first.is_empty());
    let got = list().await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].policy_id, first);
    assert_eq!(got[0].policy_document, POLICY);
    assert!(!got[0].ram_resource_share_region.is_empty());

    // Every put adds a policy.
    let second = c
        .put_resource_policy()
        .resource_arn(&arn)
        .policy(POLICY.replace("share", "share-2"))
        .send()
        .await
        .unwrap()
        .policy_id;
    assert_ne!(first, second);
    let mut ids: Vec<String> = list().await.into_iter().map(|p| p.policy_id).collect();
    ids.sort();
    let mut want = vec![first.clone(), second.clone()];
    want.sort();
    assert_eq!(ids, want);

    c.delete_resource_policy()
        .resource_arn(&arn)
        .policy_id(&first)
        .send()
        .await
        .unwrap();
    let left: Vec<String> = list().await.into_iter().map(|p| p.policy_id).collect();
    assert_eq!(left, vec![second.clone()]);
    c.delete_resource_policy()
        .resource_arn(&arn)
        .policy_id(&second)
        .send()
        .await
        .unwrap();
    assert!(list().await.is_empty());

    assert_eq!(
        err_code(
            c.delete_resource_policy()
                .resource_arn(&arn)
                .policy_id(&first)
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err_code(
            c.put_resource_policy()
                .resource_arn(plan_arn(ACCOUNT, "ghost"))
                .policy(POLICY)
                .send()
        )
        .await,
        "ResourceNotFoundException"
    );
    assert_eq!(
        err_code(
            c.put_resource_policy()
                .resource_arn(&arn)
                .policy("this is not json")
                .send()
        )
        .await,
        "ValidationException"
    );
}
