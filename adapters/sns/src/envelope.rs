use serde::{Deserialize, Serialize};

use crate::SnsError;

/// The JSON body SNS posts to an HTTP(S) subscriber: a Notification, SubscriptionConfirmation
/// or UnsubscribeConfirmation. Nothing in it can be trusted before [`crate::Verifier::verify`]
/// accepts it. Fields SNS does not sign (such as `MessageAttributes`) are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Envelope {
    #[serde(rename = "Type")]
    pub r#type: String,
    #[serde(rename = "MessageId")]
    pub message_id: String,
    #[serde(rename = "TopicArn")]
    pub topic_arn: String,
    /// Absent when the publisher gave none, which changes the string to sign.
    #[serde(rename = "Subject", default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(rename = "Message")]
    pub message: String,
    #[serde(rename = "Timestamp")]
    pub timestamp: String,
    #[serde(rename = "SignatureVersion")]
    pub signature_version: String,
    #[serde(rename = "Signature")]
    pub signature: String,
    /// The `…Url` spellings are those of the copy Lambda receives; AWS's validators take both.
    #[serde(rename = "SigningCertURL", alias = "SigningCertUrl")]
    pub signing_cert_url: String,
    #[serde(
        rename = "SubscribeURL",
        alias = "SubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub subscribe_url: Option<String>,
    #[serde(rename = "Token", default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(
        rename = "UnsubscribeURL",
        alias = "UnsubscribeUrl",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub unsubscribe_url: Option<String>,
}

impl Envelope {
    pub fn parse(body: &[u8]) -> Result<Envelope, SnsError> {
        serde_json::from_slice(body).map_err(|e| SnsError::Malformed(e.to_string()))
    }

    /// The text SNS signs: each signed field as `Key\nValue\n`, keys in byte order. Which
    /// fields are signed depends on `Type`, so an unknown `Type` cannot be verified.
    pub fn string_to_sign(&self) -> Result<String, SnsError> {
        let mut s = String::with_capacity(self.message.len() + 512);
        add(&mut s, "Message", &self.message);
        add(&mut s, "MessageId", &self.message_id);
        match self.r#type.as_str() {
            "Notification" => {
                if let Some(subject) = &self.subject {
                    add(&mut s, "Subject", subject);
                }
                add(&mut s, "Timestamp", &self.timestamp);
            }
            "SubscriptionConfirmation" | "UnsubscribeConfirmation" => {
                add(
                    &mut s,
                    "SubscribeURL",
                    required(&self.subscribe_url, "SubscribeURL")?,
                );
                add(&mut s, "Timestamp", &self.timestamp);
                add(&mut s, "Token", required(&self.token, "Token")?);
            }
            other => return Err(SnsError::Malformed(format!("unknown Type {other:?}"))),
        }
        add(&mut s, "TopicArn", &self.topic_arn);
        add(&mut s, "Type", &self.r#type);
        Ok(s)
    }

    /// The envelope as SNS would post it, for tests and fakes.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an envelope of strings always serializes")
    }
}

fn add(s: &mut String, key: &str, value: &str) {
    s.push_str(key);
    s.push('\n');
    s.push_str(value);
    s.push('\n');
}

fn required<'a>(value: &'a Option<String>, key: &str) -> Result<&'a str, SnsError> {
    value
        .as_deref()
        .ok_or_else(|| SnsError::Malformed(format!("no {key}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notification(subject: Option<&str>) -> Envelope {
        Envelope {
            r#type: "Notification".to_string(),
            message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".to_string(),
            topic_arn: "arn:aws:sns:us-east-1:123456789012:MyTopic".to_string(),
            subject: subject.map(str::to_string),
            message: "Hello world!\nline two".to_string(),
            timestamp: "2012-05-02T00:54:06.655Z".to_string(),
            signature_version: "1".to_string(),
            signature: "c2lnbmF0dXJl".to_string(),
            signing_cert_url: "https://sns.us-east-1.amazonaws.com/x.pem".to_string(),
            subscribe_url: None,
            token: None,
            unsubscribe_url: Some(
                "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe".to_string(),
            ),
        }
    }

    fn confirmation() -> Envelope {
        Envelope::parse(include_bytes!(
            "../testdata/subscription-confirmation-v1.json"
        ))
        .unwrap()
    }

    /// The layout in the SNS developer guide's "Verifying the signatures of Amazon SNS messages".
    #[test]
    fn notification_with_subject() {
        assert_eq!(
            notification(Some("My First Message"))
                .string_to_sign()
                .unwrap(),
            "Message\nHello world!\nline two\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Subject\nMy First Message\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-east-1:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn notification_without_subject() {
        assert_eq!(
            notification(None).string_to_sign().unwrap(),
            "Message\nHello world!\nline two\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Timestamp\n2012-05-02T00:54:06.655Z\n\
             TopicArn\narn:aws:sns:us-east-1:123456789012:MyTopic\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn subscription_confirmation() {
        assert_eq!(
            confirmation().string_to_sign().unwrap(),
            "Message\nYou have chosen to subscribe to the topic \
             arn:aws:sns:us-east-1:123456789012:MyTopic.\n\
             To confirm the subscription, visit the SubscribeURL included in this message.\n\
             MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n\
             SubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription\
             &TopicArn=arn:aws:sns:us-east-1:123456789012:MyTopic\
             &Token=2336412f37fb687f5d51e6e2425c464de\n\
             Timestamp\n2012-04-26T20:45:04.751Z\n\
             Token\n2336412f37fb687f5d51e6e2425c464de\n\
             TopicArn\narn:aws:sns:us-east-1:123456789012:MyTopic\n\
             Type\nSubscriptionConfirmation\n"
        );
    }

    #[test]
    fn unsubscribe_confirmation_signs_the_same_fields() {
        let mut env = confirmation();
        let subscribe = env.string_to_sign().unwrap();
        env.r#type = "UnsubscribeConfirmation".to_string();
        assert_eq!(
            env.string_to_sign().unwrap(),
            subscribe.replace("SubscriptionConfirmation", "UnsubscribeConfirmation")
        );
    }

    #[test]
    fn what_cannot_be_signed_is_malformed() {
        let mut env = confirmation();
        env.token = None;
        assert!(matches!(env.string_to_sign(), Err(SnsError::Malformed(_))));
        let mut env = notification(None);
        env.r#type = "Other".to_string();
        assert!(matches!(env.string_to_sign(), Err(SnsError::Malformed(_))));
        assert!(matches!(
            Envelope::parse(br#"{"Type":"Notification"}"#),
            Err(SnsError::Malformed(_))
        ));
    }

    #[test]
    fn lambda_spellings_parse() {
        let json = confirmation()
            .to_json()
            .replace(r#""SigningCertURL":"#, r#""SigningCertUrl":"#)
            .replace(r#""SubscribeURL":"#, r#""SubscribeUrl":"#);
        assert!(json.contains(r#""SubscribeUrl":"#), "{json}");
        assert_eq!(Envelope::parse(json.as_bytes()).unwrap(), confirmation());
    }

    #[test]
    fn json_round_trips_with_sns_names() {
        let env = notification(None);
        let json = env.to_json();
        assert!(json.contains(r#""SigningCertURL":"#), "{json}");
        assert!(json.contains(r#""UnsubscribeURL":"#), "{json}");
        assert!(!json.contains("Subject"), "{json}");
        assert!(!json.contains("Token"), "{json}");
        assert_eq!(Envelope::parse(json.as_bytes()).unwrap(), env);
    }
}
