use crate::helpers::*;
use aws_sdk_ssmcontacts::types::{
    ActivationStatus, ChannelType, ContactChannelAddress, ContactType, Plan,
};

pub async fn personal(app: &TestApp, alias: &str) -> String {
    app.contacts()
        .create_contact()
        .alias(alias)
        .r#type(ContactType::Personal)
        .plan(Plan::builder().set_stages(Some(vec![])).build())
        .send()
        .await
        .unwrap()
        .contact_arn
}

pub async fn channel(
    app: &TestApp,
    contact: &str,
    t: ChannelType,
    address: &str,
    defer: bool,
) -> String {
    app.contacts()
        .create_contact_channel()
        .contact_id(contact)
        .name("primary")
        .r#type(t)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address(address)
                .build(),
        )
        .defer_activation(defer)
        .send()
        .await
        .unwrap()
        .contact_channel_arn
}

#[tokio::test]
async fn channel_lifecycle_and_arn_form() {
    let app = spawn().await;
    let c = app.contacts();
    let contact = personal(&app, "akuam").await;
    let sms = channel(&app, &contact, ChannelType::Sms, "+12065550100", true).await;
    let prefix = format!("arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:contact-channel/akuam/");
    let id = sms
        .strip_prefix(&prefix)
        .expect("contact-channel/<alias>/<uuid>");
    assert_eq!(id.len(), 36);
    assert_eq!(id, id.to_lowercase());

    let got = c
        .get_contact_channel()
        .contact_channel_id(&sms)
        .send()
        .await
        .unwrap();
    assert_eq!(got.contact_arn, contact);
    assert_eq!(got.r#type, ChannelType::Sms);
    assert_eq!(
        got.delivery_address.unwrap().simple_address.as_deref(),
        Some("+12065550100")
    );
    assert_eq!(got.activation_status, Some(ActivationStatus::NotActivated));

    let email = channel(&app, &contact, ChannelType::Email, "akua@example.com", true).await;
    c.update_contact_channel()
        .contact_channel_id(&email)
        .name("work email")
        .send()
        .await
        .unwrap();
    let list = c
        .list_contact_channels()
        .contact_id(&contact)
        .send()
        .await
        .unwrap();
    let names: Vec<_> = list
        .contact_channels
        .iter()
        .map(|x| x.name.clone())
        .collect();
    assert_eq!(names, ["primary", "work email"]);
    let page = c
        .list_contact_channels()
        .contact_id(&contact)
        .max_results(1)
        .send()
        .await
        .unwrap();
    assert_eq!(page.contact_channels.len(), 1);
    assert!(page.next_token.is_some());

    c.delete_contact_channel()
        .contact_channel_id(&sms)
        .send()
        .await
        .unwrap();
    let e = c
        .get_contact_channel()
        .contact_channel_id(&sms)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    match e {
        aws_sdk_ssmcontacts::operation::get_contact_channel::GetContactChannelError::ResourceNotFoundException(x) => {
            assert_eq!(x.resource_id, sms);
            assert_eq!(x.resource_type, "CONTACT_CHANNEL");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        c.list_contact_channels()
            .contact_id(&contact)
            .send()
            .await
            .unwrap()
            .contact_channels
            .len(),
        1
    );
}

#[tokio::test]
async fn channel_addresses_and_owners_are_checked() {
    let app = spawn().await;
    let c = app.contacts();
    let contact = personal(&app, "owner").await;
    let bad = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("sms")
        .r#type(ChannelType::Sms)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address("not-a-number")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "ValidationException");
    let bad = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("mail")
        .r#type(ChannelType::Email)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address("nobody")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&bad), "ValidationException");
    let ghost = contact_arn(ACCOUNT, "ghost");
    let e = c
        .create_contact_channel()
        .contact_id(&ghost)
        .name("mail")
        .r#type(ChannelType::Email)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address("a@example.com")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    let e = c
        .list_contact_channels()
        .contact_id(&ghost)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException");
    assert!(
        app.sent.sent().is_empty(),
        "nothing was sent for rejected channels"
    );
}
