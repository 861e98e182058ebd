use crate::helpers::*;

const CT: (&str, &str) = ("content-type", "application/x-amz-json-1.1");

fn signed() -> Option<(&'static str, &'static str, &'static str, i64)> {
    Some(("ssm-contacts", SECRET, REGION, now_secs()))
}

#[tokio::test]
async fn contacts_errors_carry_type_message_and_modeled_members() {
    let app = spawn().await;
    let body = format!("{{\"ContactId\":\"{}\"}}", contact_arn(ACCOUNT, "nobody"));
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.GetContact")],
        body.as_bytes(),
        signed(),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["__type"], "ResourceNotFoundException");
    assert_eq!(r.body["ResourceId"], contact_arn(ACCOUNT, "nobody"));
    assert_eq!(r.body["ResourceType"], "CONTACT");
    assert!(r.body["Message"].is_string());
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    assert!(r.header("x-amzn-requestid").is_some_and(|v| v.len() == 36));
    assert_eq!(r.header("content-type"), Some("application/x-amz-json-1.1"));

    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.CreateContact")],
        br#"{"Alias":"a","Type":"ROBOT","Plan":{}}"#,
        signed(),
    )
    .await;
    assert_eq!(r.body["__type"], "ValidationException");
    assert_eq!(r.body["Reason"], "FIELD_VALIDATION_FAILED");
    assert_eq!(r.body["Fields"][0]["Name"], "Type");

    let r = raw(&app, "POST", "/", &[CT, ("x-amz-target", "SSMContacts.CreateContact")], br#"{"Alias":"a","Type":"PERSONAL","Plan":{"Stages":[{"DurationInMinutes":"five","Targets":[]}]}}"#, signed()).await;
    assert_eq!(r.body["__type"], "ValidationException");
    assert_eq!(r.body["Reason"], "CANNOT_PARSE");
    assert!(
        r.body["Fields"][0]["Name"]
            .as_str()
            .unwrap()
            .contains("DurationInMinutes")
    );

    let r = raw(&app, "POST", "/", &[CT, ("x-amz-target", "SSMContacts.AcceptPage")], br#"{"PageId":"arn:aws:ssm-contacts:us-east-1:111122223333:page/a/b","AcceptType":"READ","AcceptCode":"123456"}"#, signed()).await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("ResourceNotFoundException"))
    );
    assert_eq!(r.body["ResourceType"], "PAGE");
    assert_eq!(
        r.body["ResourceId"],
        "arn:aws:ssm-contacts:us-east-1:111122223333:page/a/b"
    );

    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.ListRotations")],
        b"{}",
        signed(),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["Rotations"], serde_json::json!([]));
}

#[tokio::test]
async fn malformed_requests_get_a_400_in_the_aws_shape() {
    let app = spawn().await;
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.Explode")],
        b"{}",
        signed(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "Other.ListContacts")],
        b"{}",
        signed(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("UnknownOperationException"))
    );
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.ListContacts")],
        b"{not json",
        signed(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.ListContacts")],
        b"[1,2]",
        signed(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let r = raw(
        &app,
        "POST",
        "/",
        &[
            ("content-type", "text/plain"),
            ("x-amz-target", "SSMContacts.ListContacts"),
        ],
        b"{}",
        signed(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("SerializationException"))
    );
    let big = vec![b' '; 2 * 1024 * 1024];
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.ListContacts")],
        &big,
        signed(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (400, Some("ValidationException"))
    );
    // Still serving after all of that.
    let r = raw(
        &app,
        "POST",
        "/",
        &[CT, ("x-amz-target", "SSMContacts.ListContacts")],
        b"",
        signed(),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn incidents_routes_answer_in_the_rest_json_error_shape() {
    let app = spawn().await;
    let arn = "arn%3Aaws%3Assm-incidents%3A%3A111122223333%3Aresponse-plan%2Frp";
    let r = raw(
        &app,
        "DELETE",
        &format!("/tags/{arn}?tagKeys=a&tagKeys=b%20c"),
        &[],
        b"",
        Some(("ssm-incidents", SECRET, REGION, now_secs())),
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (404, Some("ResourceNotFoundException")),
        "the encoded label routes to UntagResource"
    );
    assert_eq!(
        r.body["resourceIdentifier"],
        "arn:aws:ssm-incidents::111122223333:response-plan/rp"
    );
    assert!(r.body.get("__type").is_none());
    let r = raw(
        &app,
        "POST",
        "/noSuchOperation",
        &[],
        b"",
        Some(("ssm-incidents", SECRET, REGION, now_secs())),
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (400, Some("UnknownOperationException"))
    );
    let r = raw(
        &app,
        "POST",
        "/startIncident",
        &[("content-type", "application/json")],
        b"{}",
        Some(("ssm-incidents", SECRET, REGION, now_secs())),
    )
    .await;
    assert_eq!(
        (r.status, r.header("x-amzn-errortype")),
        (400, Some("ValidationException")),
        "validation before dispatch"
    );

    // The real SDK parses these errors, labels and all.
    let e = app
        .incidents()
        .list_tags_for_resource()
        .resource_arn("arn:aws:ssm-incidents::111122223333:response-plan/rp")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_ssmincidents::error::ProvideErrorMetadata::code(&e),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn probes_need_no_signature_and_reveal_nothing() {
    let app = spawn().await;
    let r = raw(&app, "GET", "/healthz", &[], b"", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, serde_json::Value::String("ok\n".into()));
    assert!(r.header("x-amzn-requestid").is_some());
    let r = raw(&app, "GET", "/readyz", &[], b"", None).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_log_channel_writes_the_outbox() {
    let app = spawn_with(Setup {
        log_channel: true,
        ..Setup::default()
    })
    .await;
    let contact = crate::channels::personal(&app, "outbox").await;
    let ch = crate::channels::channel(
        &app,
        &contact,
        aws_sdk_ssmcontacts::types::ChannelType::Sms,
        "+12065550123",
        false,
    )
    .await;
    app.tick().await;
    let text = std::fs::read_to_string(&app.running.outbox).unwrap();
    let line: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["kind"], "ACTIVATION");
    assert_eq!(line["contactChannelArn"], ch);
    assert_eq!(line["channelType"], "SMS");
    assert_eq!(line["deliveryAddress"], "+12065550123");
    assert!(line["pageArn"].is_null() && line["engagementArn"].is_null());
    assert!(line["sentTime"].as_f64().unwrap() > 1.7e9);
    let code_sent = line["code"].as_str().unwrap().to_string();
    assert!(line["body"].as_str().unwrap().contains(&code_sent));
    assert!(line["subject"].is_string());
    app.contacts()
        .activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(code_sent)
        .send()
        .await
        .unwrap();
}
