use crate::helpers::*;
use aws_sdk_ssmcontacts::types::{
    ChannelTargetInfo, ContactTargetInfo, ContactType, Plan, Stage, Tag, Target,
};

fn empty_plan() -> Plan {
    Plan::builder().set_stages(Some(vec![])).build()
}

#[tokio::test]
async fn contact_lifecycle_create_get_update_list_delete() {
    let app = spawn().await;
    let c = app.contacts();
    let arn = c
        .create_contact()
        .alias("akuam")
        .display_name("Akua Mansa")
        .r#type(ContactType::Personal)
        .plan(empty_plan())
        .tags(Tag::builder().key("team").value("sre").build())
        .send()
        .await
        .unwrap()
        .contact_arn;
    assert_eq!(arn, contact_arn(ACCOUNT, "akuam"));

    let got = c.get_contact().contact_id(&arn).send().await.unwrap();
    assert_eq!(got.alias, "akuam");
    assert_eq!(got.display_name.as_deref(), Some("Akua Mansa"));
    assert_eq!(got.r#type, ContactType::Personal);
    assert_eq!(got.plan.unwrap().stages.unwrap().len(), 0);

    // A plan can name the contact's own channels once they exist.
    let ch = c
        .create_contact_channel()
        .contact_id(&arn)
        .name("email")
        .r#type(aws_sdk_ssmcontacts::types::ChannelType::Email)
        .delivery_address(
            aws_sdk_ssmcontacts::types::ContactChannelAddress::builder()
                .simple_address("akua@example.com")
                .build(),
        )
        .defer_activation(true)
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    let plan = Plan::builder()
        .stages(
            Stage::builder()
                .duration_in_minutes(5)
                .targets(
                    Target::builder()
                        .channel_target_info(
                            ChannelTargetInfo::builder()
                                .contact_channel_id(&ch)
                                .retry_interval_in_minutes(1)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build();
    c.update_contact()
        .contact_id(&arn)
        .display_name("Akua M")
        .plan(plan)
        .send()
        .await
        .unwrap();
    let got = c.get_contact().contact_id(&arn).send().await.unwrap();
    assert_eq!(got.display_name.as_deref(), Some("Akua M"));
    let stages = got.plan.unwrap().stages.unwrap();
    assert_eq!(stages[0].duration_in_minutes, 5);
    assert_eq!(
        stages[0].targets[0]
            .channel_target_info
            .as_ref()
            .unwrap()
            .contact_channel_id,
        ch
    );

    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(
        (tags[0].key.as_deref(), tags[0].value.as_deref()),
        (Some("team"), Some("sre"))
    );

    // Deleting the contact deletes its channels.
    c.delete_contact().contact_id(&arn).send().await.unwrap();
    let e = c
        .get_contact()
        .contact_id(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = c
        .get_contact_channel()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception(), "{e:?}");
    let e = c
        .delete_contact()
        .contact_id(&arn)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_resource_not_found_exception());
}

#[tokio::test]
async fn duplicate_alias_conflicts_and_idempotency_token_replays() {
    let app = spawn().await;
    let c = app.contacts();
    let create = |token: &str, name: &str| {
        c.create_contact()
            .alias("dup")
            .display_name(name)
            .r#type(ContactType::Personal)
            .plan(empty_plan())
            .idempotency_token(token)
            .send()
    };
    let first = create("tok-1", "A").await.unwrap().contact_arn;
    let replay = create("tok-1", "A").await.unwrap().contact_arn;
    assert_eq!(first, replay, "same token, same request: same result");
    let e = create("tok-2", "A").await.unwrap_err().into_service_error();
    match e {
        aws_sdk_ssmcontacts::operation::create_contact::CreateContactError::ConflictException(
            x,
        ) => {
            assert_eq!(x.resource_id, first);
            assert_eq!(x.resource_type, "CONTACT");
        }
        other => panic!("expected ConflictException, got {other:?}"),
    }
    let e = create("tok-1", "B").await.unwrap_err().into_service_error();
    assert!(
        e.is_conflict_exception(),
        "same token with other parameters: {e:?}"
    );
    assert_eq!(
        c.list_contacts()
            .send()
            .await
            .unwrap()
            .contacts
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn invalid_input_is_a_validation_exception_naming_the_field() {
    let app = spawn().await;
    let c = app.contacts();
    let e = c
        .create_contact()
        .alias("Not Valid")
        .r#type(ContactType::Personal)
        .plan(empty_plan())
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    let aws_sdk_ssmcontacts::operation::create_contact::CreateContactError::ValidationException(v) =
        e
    else {
        panic!("expected ValidationException, got {e:?}")
    };
    assert_eq!(v.reason.unwrap().as_str(), "FIELD_VALIDATION_FAILED");
    assert_eq!(v.fields.unwrap()[0].name, "Alias");

    // Input validation runs before the existence check.
    let e = c
        .get_contact()
        .contact_id("not-an-arn")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_validation_exception(), "{e:?}");

    // Stage length limit, and a channel that does not exist.
    let bad_stage = Plan::builder()
        .stages(
            Stage::builder()
                .duration_in_minutes(31)
                .set_targets(Some(vec![]))
                .build()
                .unwrap(),
        )
        .build();
    let e = c
        .create_contact()
        .alias("x")
        .r#type(ContactType::Escalation)
        .plan(bad_stage)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let missing = format!(
        "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:contact-channel/x/00000000-0000-0000-0000-000000000000"
    );
    let plan = Plan::builder()
        .stages(
            Stage::builder()
                .duration_in_minutes(1)
                .targets(
                    Target::builder()
                        .channel_target_info(
                            ChannelTargetInfo::builder()
                                .contact_channel_id(missing)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build();
    let e = c
        .create_contact()
        .alias("x")
        .r#type(ContactType::Personal)
        .plan(plan)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    let aws_sdk_ssmcontacts::operation::create_contact::CreateContactError::ValidationException(v) =
        e
    else {
        panic!()
    };
    assert!(v.fields.unwrap()[0].name.contains("ContactChannelId"));
    assert!(
        c.list_contacts()
            .send()
            .await
            .unwrap()
            .contacts
            .unwrap()
            .is_empty(),
        "nothing half-made"
    );
}

#[tokio::test]
async fn escalation_plans_and_schedules_reference_existing_contacts_and_rotations() {
    let app = spawn().await;
    let c = app.contacts();
    for alias in ["p1", "p2"] {
        c.create_contact()
            .alias(alias)
            .r#type(ContactType::Personal)
            .plan(empty_plan())
            .send()
            .await
            .unwrap();
    }
    let target = |alias: &str, essential: bool| {
        Target::builder()
            .contact_target_info(
                ContactTargetInfo::builder()
                    .contact_id(contact_arn(ACCOUNT, alias))
                    .is_essential(essential)
                    .build()
                    .unwrap(),
            )
            .build()
    };
    let plan = Plan::builder()
        .stages(
            Stage::builder()
                .duration_in_minutes(0)
                .targets(target("p1", true))
                .build()
                .unwrap(),
        )
        .stages(
            Stage::builder()
                .duration_in_minutes(10)
                .targets(target("p2", false))
                .build()
                .unwrap(),
        )
        .build();
    let esc = c
        .create_contact()
        .alias("esc")
        .r#type(ContactType::Escalation)
        .plan(plan)
        .send()
        .await
        .unwrap()
        .contact_arn;
    let got = c.get_contact().contact_id(&esc).send().await.unwrap();
    assert_eq!(got.plan.unwrap().stages.unwrap().len(), 2);

    let nested = Plan::builder()
        .stages(
            Stage::builder()
                .duration_in_minutes(1)
                .targets(target("esc", true))
                .build()
                .unwrap(),
        )
        .build();
    let e = c
        .create_contact()
        .alias("esc2")
        .r#type(ContactType::Escalation)
        .plan(nested)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let ghost = Plan::builder()
        .stages(
            Stage::builder()
                .duration_in_minutes(1)
                .targets(target("ghost", true))
                .build()
                .unwrap(),
        )
        .build();
    let e = c
        .create_contact()
        .alias("esc3")
        .r#type(ContactType::Escalation)
        .plan(ghost)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let sched = Plan::builder()
        .rotation_ids(format!(
            "arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:rotation/none"
        ))
        .build();
    let e = c
        .create_contact()
        .alias("sched")
        .r#type(ContactType::OncallSchedule)
        .plan(sched)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}

#[tokio::test]
async fn list_contacts_pages_filters_and_ends_without_a_token() {
    let app = spawn().await;
    let c = app.contacts();
    for i in 0..7 {
        let t = if i % 2 == 0 {
            ContactType::Personal
        } else {
            ContactType::Escalation
        };
        let plan = if t == ContactType::Escalation {
            Plan::builder()
                .stages(
                    Stage::builder()
                        .duration_in_minutes(1)
                        .set_targets(Some(vec![]))
                        .build()
                        .unwrap(),
                )
                .build()
        } else {
            empty_plan()
        };
        c.create_contact()
            .alias(format!("team-{i}"))
            .r#type(t)
            .plan(plan)
            .send()
            .await
            .unwrap();
    }
    c.create_contact()
        .alias("other")
        .r#type(ContactType::Personal)
        .plan(empty_plan())
        .send()
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let r = c
            .list_contacts()
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        let items = r.contacts.unwrap();
        pages += 1;
        if r.next_token.is_some() {
            assert_eq!(items.len(), 3, "pages before the last are full");
        }
        seen.extend(items.into_iter().map(|x| x.alias));
        token = r.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 8);

    let r = c
        .list_contacts()
        .alias_prefix("team-")
        .r#type(ContactType::Escalation)
        .max_results(2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.contacts.as_ref().unwrap().len(), 2);
    let next = c
        .list_contacts()
        .alias_prefix("team-")
        .r#type(ContactType::Escalation)
        .max_results(2)
        .next_token(r.next_token.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(next.contacts.unwrap().len(), 1);
    assert!(next.next_token.is_none(), "the last page carries no token");

    let all: Vec<String> = c
        .list_contacts()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.alias)
        .collect();
    assert_eq!(all.len(), 8);
    let e = c
        .list_contacts()
        .next_token("bm90LWEtdG9rZW4")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}

#[tokio::test]
async fn contact_policy_and_tags() {
    let app = spawn().await;
    let c = app.contacts();
    let arn = c
        .create_contact()
        .alias("pol")
        .r#type(ContactType::Personal)
        .plan(empty_plan())
        .send()
        .await
        .unwrap()
        .contact_arn;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"444455556666"},"Action":"ssm-contacts:GetContact","Resource":"*"}]}"#;
    c.put_contact_policy()
        .contact_arn(&arn)
        .policy(policy)
        .send()
        .await
        .unwrap();
    let got = c
        .get_contact_policy()
        .contact_arn(&arn)
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy.as_deref(), Some(policy));
    let e = c
        .put_contact_policy()
        .contact_arn(&arn)
        .policy("not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");

    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("a").value("1").build())
        .tags(Tag::builder().key("b").value("2").build())
        .send()
        .await
        .unwrap();
    c.tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("a").value("9").build())
        .send()
        .await
        .unwrap();
    c.untag_resource()
        .resource_arn(&arn)
        .tag_keys("b")
        .send()
        .await
        .unwrap();
    let tags = c
        .list_tags_for_resource()
        .resource_arn(&arn)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].value.as_deref(), Some("9"));

    let many: Vec<Tag> = (0..50)
        .map(|i| Tag::builder().key(format!("k{i}")).value("v").build())
        .collect();
    let e = c
        .tag_resource()
        .resource_arn(&arn)
        .set_tags(Some(many))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "ServiceQuotaExceededException",
        "51 tags in total"
    );
    let e = c
        .list_tags_for_resource()
        .resource_arn(contact_arn(ACCOUNT, "ghost"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
}

#[tokio::test]
async fn contacts_work_on_postgres_too() {
    let Some(url) = crate::storage::postgres_url().await else {
        return;
    };
    let app = spawn_with(Setup {
        database_url: Some(url),
        ..Setup::default()
    })
    .await;
    let c = app.contacts();
    // Accounts are shared with other runs on the same database, so the alias is unique.
    let alias = format!("pg-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let arn = c
        .create_contact()
        .alias(&alias)
        .r#type(ContactType::Personal)
        .plan(empty_plan())
        .send()
        .await
        .unwrap()
        .contact_arn;
    let e = c
        .create_contact()
        .alias(&alias)
        .r#type(ContactType::Personal)
        .plan(empty_plan())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ConflictException");
    assert_eq!(
        c.get_contact().contact_id(&arn).send().await.unwrap().alias,
        alias
    );
    let listed = c
        .list_contacts()
        .alias_prefix(&alias)
        .send()
        .await
        .unwrap()
        .contacts
        .unwrap();
    assert_eq!(listed.len(), 1);
    c.delete_contact().contact_id(&arn).send().await.unwrap();
}
