//! The words of a page. SMS carries the public (insecure) subject and content when the
//! engagement has them; voice and email carry the secure ones. Every message names the accept
//! code and how to use it, because acknowledging is the one thing the reader must be able to do.

use super::records::Message;
use crate::delivery::ChannelKind;

pub fn page_subject(kind: ChannelKind, m: &Message) -> String {
    match kind {
        ChannelKind::Sms => m
            .public_subject
            .clone()
            .unwrap_or_else(|| m.subject.clone()),
        _ => m.subject.clone(),
    }
}

pub fn page_text(kind: ChannelKind, m: &Message, code: &str, page_arn: &str) -> String {
    match kind {
        ChannelKind::Sms => {
            let subject = m.public_subject.as_deref().unwrap_or(&m.subject);
            let content = m.public_content.as_deref().unwrap_or(&m.content);
            format!(
                "{subject}: {content}\nReply {code} to acknowledge. (from {})",
                m.sender
            )
        }
        ChannelKind::Voice => format!(
            "This is Klaxon with a page from {}. {}. {}. Your acknowledgement code is {}.",
            m.sender,
            m.subject,
            m.content,
            spaced_digits(code)
        ),
        ChannelKind::Email => format!(
            "{}\n\n{}\n\nSent by {}.\nAcknowledge with code {code}, for example:\n  aws ssm-contacts accept-page --page-id {page_arn} --accept-type READ --accept-code {code}\n",
            m.subject, m.content, m.sender
        ),
    }
}

pub fn activation_subject(alias: &str) -> String {
    format!("Klaxon activation code for {alias}")
}

pub fn activation_text(
    kind: ChannelKind,
    channel_name: &str,
    alias: &str,
    code: &str,
    minutes: i64,
) -> String {
    let shown = match kind {
        ChannelKind::Voice => spaced_digits(code),
        _ => code.to_string(),
    };
    format!(
        "Your Klaxon activation code for contact channel \"{channel_name}\" of {alias} is {shown}. It expires in {minutes} minutes."
    )
}

/// Digits read out one by one.
fn spaced_digits(code: &str) -> String {
    code.chars().map(String::from).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(public: bool) -> Message {
        Message {
            sender: "cli".into(),
            subject: "secret subject".into(),
            content: "secret content".into(),
            public_subject: public.then(|| "public subject".into()),
            public_content: public.then(|| "public content".into()),
            incident_id: None,
        }
    }

    #[test]
    fn sms_prefers_public_text_and_every_kind_names_the_code() {
        let sms = page_text(ChannelKind::Sms, &msg(true), "123456", "arn:p");
        assert!(sms.contains("public subject: public content") && sms.contains("123456"));
        assert!(!sms.contains("secret"));
        let sms = page_text(ChannelKind::Sms, &msg(false), "123456", "arn:p");
        assert!(sms.contains("secret subject"));
        let voice = page_text(ChannelKind::Voice, &msg(true), "123456", "arn:p");
        assert!(voice.contains("1 2 3 4 5 6") && voice.contains("secret content"));
        let email = page_text(ChannelKind::Email, &msg(true), "123456", "arn:p");
        assert!(email.contains("--accept-code 123456") && email.contains("arn:p"));
        assert_eq!(page_subject(ChannelKind::Sms, &msg(true)), "public subject");
        assert_eq!(
            page_subject(ChannelKind::Email, &msg(true)),
            "secret subject"
        );
    }
}
