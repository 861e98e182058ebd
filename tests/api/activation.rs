use crate::channels::{channel, personal};
use crate::helpers::*;
use aws_sdk_ssmcontacts::types::{ActivationStatus, ChannelType};

async fn status(app: &TestApp, ch: &str) -> ActivationStatus {
    app.contacts()
        .get_contact_channel()
        .contact_channel_id(ch)
        .send()
        .await
        .unwrap()
        .activation_status
        .unwrap()
}

#[tokio::test]
async fn a_new_channel_gets_a_code_and_only_that_code_activates_it() {
    let app = spawn().await;
    let c = app.contacts();
    let contact = personal(&app, "akuam").await;
    let ch = channel(
        &app,
        &contact,
        ChannelType::Email,
        "akua@example.com",
        false,
    )
    .await;
    assert!(
        app.sent.sent().is_empty(),
        "queued, not sent inside the request"
    );
    app.tick().await;
    let sent = app.sent.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].delivery_address, "akua@example.com");
    assert!(sent[0].body.contains(&sent[0].code));
    let code_sent = app.last_code(&ch).await;
    assert_eq!(code_sent.len(), 6);

    let wrong = if code_sent == "000000" {
        "111111"
    } else {
        "000000"
    };
    let e = c
        .activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(wrong)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert_eq!(status(&app, &ch).await, ActivationStatus::NotActivated);

    c.activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(&code_sent)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&app, &ch).await, ActivationStatus::Activated);
    c.deactivate_contact_channel()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&app, &ch).await, ActivationStatus::NotActivated);
}

#[tokio::test]
async fn deferred_activation_sends_nothing_until_asked() {
    let app = spawn().await;
    let contact = personal(&app, "later").await;
    let ch = channel(&app, &contact, ChannelType::Sms, "+447700900123", true).await;
    assert!(app.sent.sent().is_empty());
    app.contacts()
        .send_activation_code()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap();
    let code_sent = app.last_code(&ch).await;
    app.contacts()
        .activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(code_sent)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&app, &ch).await, ActivationStatus::Activated);
}

/// `--time-scale 60` turns the 15-minute code lifetime and lockout into 15 seconds, so the
/// manual clock can pass them without leaving the SDK's signature window.
async fn fast() -> TestApp {
    spawn_with(Setup {
        time_scale: 60.0,
        ..Setup::default()
    })
    .await
}

#[tokio::test]
async fn codes_expire_and_a_new_code_replaces_the_old() {
    let app = fast().await;
    let c = app.contacts();
    let contact = personal(&app, "exp").await;
    let ch = channel(&app, &contact, ChannelType::Voice, "+12065550199", false).await;
    let old = app.last_code(&ch).await;
    app.clock.advance_ms(16_000);
    let e = c
        .activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(&old)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(format!("{e:?}").contains("expired"), "{e:?}");

    c.send_activation_code()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap();
    let new = app.last_code(&ch).await;
    if old != new {
        let e = c
            .activate_contact_channel()
            .contact_channel_id(&ch)
            .activation_code(&old)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            code(&e),
            "ValidationException",
            "a replaced code no longer works"
        );
    }
    c.activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&app, &ch).await, ActivationStatus::Activated);
}

#[tokio::test]
async fn the_lock_ends_after_its_time() {
    let app = fast().await;
    let c = app.contacts();
    let contact = personal(&app, "patient").await;
    let ch = channel(&app, &contact, ChannelType::Email, "p@example.com", false).await;
    let right = app.last_code(&ch).await;
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    for _ in 0..5 {
        c.activate_contact_channel()
            .contact_channel_id(&ch)
            .activation_code(wrong)
            .send()
            .await
            .unwrap_err();
    }
    assert!(
        c.activate_contact_channel()
            .contact_channel_id(&ch)
            .activation_code(&right)
            .send()
            .await
            .is_err()
    );
    app.clock.advance_ms(16_000);
    c.send_activation_code()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap();
    let fresh = app.last_code(&ch).await;
    c.activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(&fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&app, &ch).await, ActivationStatus::Activated);
}

#[tokio::test]
async fn repeated_wrong_codes_lock_activation_but_resends_stay_allowed() {
    let app = spawn().await;
    let c = app.contacts();
    let contact = personal(&app, "brute").await;
    let ch = channel(
        &app,
        &contact,
        ChannelType::Email,
        "brute@example.com",
        false,
    )
    .await;
    let right = app.last_code(&ch).await;
    let wrong = if right == "999999" {
        "999998"
    } else {
        "999999"
    };
    for _ in 0..5 {
        let e = c
            .activate_contact_channel()
            .contact_channel_id(&ch)
            .activation_code(wrong)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException");
    }
    let e = c
        .activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(&right)
        .send()
        .await
        .unwrap_err();
    assert!(
        format!("{e:?}").contains("locked"),
        "the right code is refused while locked: {e:?}"
    );
    assert_eq!(status(&app, &ch).await, ActivationStatus::NotActivated);

    // A few resends within a minute are fine (creation sent one; four more reach the limit of five).
    for _ in 0..4 {
        c.send_activation_code()
            .contact_channel_id(&ch)
            .send()
            .await
            .unwrap();
    }
    let e = c
        .send_activation_code()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ServiceQuotaExceededException");
}

#[tokio::test]
async fn a_failed_delivery_keeps_the_channel_and_resend_recovers() {
    let app = spawn().await;
    let c = app.contacts();
    let contact = personal(&app, "flaky").await;
    app.sent.fail_next_sends(true);
    let ch = channel(&app, &contact, ChannelType::Sms, "+12065550142", false).await;
    assert_eq!(status(&app, &ch).await, ActivationStatus::NotActivated);
    // The code is queued; the failed send is recorded, not retried, and not reported as sent.
    c.send_activation_code()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap();
    let report = app.tick().await;
    assert_eq!(report.processed, 2);
    assert!(app.sent.sent().is_empty());
    let metrics = crate::helpers::get_text(&app, "/metrics").await;
    assert!(
        metrics.contains(
            "klaxon_sends_total{channel_type=\"SMS\",purpose=\"activation\",outcome=\"error\"} 2"
        ),
        "{metrics}"
    );
    assert_eq!(
        app.tick().await.processed,
        0,
        "no retry of an activation code"
    );

    app.sent.fail_next_sends(false);
    c.send_activation_code()
        .contact_channel_id(&ch)
        .send()
        .await
        .unwrap();
    let sent = app.last_code(&ch).await;
    c.activate_contact_channel()
        .contact_channel_id(&ch)
        .activation_code(sent)
        .send()
        .await
        .unwrap();
    assert_eq!(status(&app, &ch).await, ActivationStatus::Activated);
}
