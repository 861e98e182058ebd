use crate::channels::{channel, personal};
use crate::helpers::*;
use aws_sdk_ssmcontacts::types::{ChannelType, Tag};

#[tokio::test]
async fn an_account_never_reads_or_changes_another_accounts_resources() {
    let app = spawn().await;
    let mine = app.contacts();
    let theirs = app.contacts_as(KEY2, SECRET2);
    let contact = personal(&app, "shared-alias").await;
    let ch = channel(&app, &contact, ChannelType::Email, "a@example.com", true).await;

    // The other account sees nothing, and cannot change or delete anything by ARN.
    assert!(
        theirs
            .list_contacts()
            .send()
            .await
            .unwrap()
            .contacts
            .unwrap()
            .is_empty()
    );
    for e in [
        code(
            &theirs
                .get_contact()
                .contact_id(&contact)
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &theirs
                .update_contact()
                .contact_id(&contact)
                .display_name("x")
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &theirs
                .delete_contact()
                .contact_id(&contact)
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &theirs
                .get_contact_channel()
                .contact_channel_id(&ch)
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &theirs
                .delete_contact_channel()
                .contact_channel_id(&ch)
                .send()
                .await
                .unwrap_err(),
        ),
        code(
            &theirs
                .tag_resource()
                .resource_arn(&contact)
                .tags(Tag::builder().key("k").value("v").build())
                .send()
                .await
                .unwrap_err(),
        ),
    ] {
        assert_eq!(e, "ResourceNotFoundException");
    }
    // The same alias is free in the other account, with that account in its ARN.
    let other = theirs
        .create_contact()
        .alias("shared-alias")
        .r#type(aws_sdk_ssmcontacts::types::ContactType::Personal)
        .plan(
            aws_sdk_ssmcontacts::types::Plan::builder()
                .set_stages(Some(vec![]))
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_arn;
    assert_eq!(other, contact_arn(ACCOUNT2, "shared-alias"));
    assert!(
        mine.get_contact()
            .contact_id(&contact)
            .send()
            .await
            .unwrap()
            .display_name
            .is_none()
    );
    assert_eq!(
        mine.list_contact_channels()
            .contact_id(&contact)
            .send()
            .await
            .unwrap()
            .contact_channels
            .len(),
        1
    );
}
