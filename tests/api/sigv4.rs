use crate::helpers::*;

const CT: (&str, &str) = ("content-type", "application/x-amz-json-1.1");
const LIST: (&str, &str) = ("x-amz-target", "SSMContacts.ListContacts");

async fn list_contacts(app: &TestApp, sign: Option<(&str, &str, &str, i64)>) -> Raw {
    raw(app, "POST", "/", &[CT, LIST], b"{}", sign).await
}

#[tokio::test]
async fn a_correct_signature_is_accepted() {
    let app = spawn().await;
    let r = list_contacts(&app, Some(("ssm-contacts", SECRET, REGION, now_secs()))).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["Contacts"], serde_json::json!([]));
}

#[tokio::test]
async fn unsigned_requests_are_refused() {
    let app = spawn().await;
    let r = list_contacts(&app, None).await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["__type"], "MissingAuthenticationTokenException");
}

#[tokio::test]
async fn a_wrong_secret_is_refused() {
    let app = spawn().await;
    let r = list_contacts(
        &app,
        Some(("ssm-contacts", "not-the-secret", REGION, now_secs())),
    )
    .await;
    assert_eq!(
        (r.status, r.body["__type"].as_str()),
        (403, Some("InvalidSignatureException"))
    );
    assert!(
        !r.body.to_string().contains(SECRET),
        "the secret never appears in an error"
    );
    let e = app
        .contacts_as(KEY, "wrong")
        .list_contacts()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");
}

#[tokio::test]
async fn an_unknown_key_is_refused() {
    let app = spawn().await;
    let e = app
        .contacts_as("AKIDUNKNOWN", SECRET)
        .list_contacts()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");
}

#[tokio::test]
async fn stale_and_future_dates_are_refused() {
    let app = spawn().await;
    let r = list_contacts(
        &app,
        Some(("ssm-contacts", SECRET, REGION, now_secs() - 20 * 60)),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(r.body["__type"], "InvalidSignatureException");
    assert!(
        r.body["Message"]
            .as_str()
            .unwrap()
            .contains("Signature expired")
    );
    let r = list_contacts(
        &app,
        Some(("ssm-contacts", SECRET, REGION, now_secs() + 20 * 60)),
    )
    .await;
    assert_eq!(r.body["__type"], "InvalidSignatureException");
    // Within the window is fine.
    let r = list_contacts(
        &app,
        Some(("ssm-contacts", SECRET, REGION, now_secs() - 10 * 60)),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn the_scope_must_name_the_addressed_service_and_a_served_region() {
    let app = spawn().await;
    let r = list_contacts(&app, Some(("ssm-incidents", SECRET, REGION, now_secs()))).await;
    assert_eq!(r.body["__type"], "InvalidSignatureException");
    assert!(
        r.body["Message"]
            .as_str()
            .unwrap()
            .contains("'ssm-contacts'")
    );
    let r = list_contacts(
        &app,
        Some(("ssm-contacts", SECRET, "eu-west-1", now_secs())),
    )
    .await;
    assert_eq!(r.body["__type"], "InvalidSignatureException");
    let r = raw(
        &app,
        "POST",
        "/listResponsePlans",
        &[("content-type", "application/json")],
        b"{}",
        Some(("ssm-contacts", SECRET, REGION, now_secs())),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("x-amzn-errortype"),
        Some("InvalidSignatureException")
    );
}

#[tokio::test]
async fn a_tampered_body_is_refused() {
    let app = spawn().await;
    let now = now_secs();
    let host = app.running.addr.to_string();
    let hs = vec![
        ("host".to_string(), host),
        ("content-type".to_string(), CT.1.to_string()),
        ("x-amz-target".to_string(), LIST.1.to_string()),
    ];
    let signed = klaxon::wire::sigv4::sign(
        "POST",
        "/",
        "",
        &hs,
        b"{}",
        KEY,
        SECRET,
        REGION,
        "ssm-contacts",
        now,
    );
    let auth: Vec<(&str, &str)> = signed
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let mut headers = vec![CT, LIST];
    headers.extend(auth);
    let r = raw(&app, "POST", "/", &headers, b"{\"MaxResults\":1}", None).await;
    assert_eq!(r.body["__type"], "InvalidSignatureException");
}
