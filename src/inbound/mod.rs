//! Ways people answer pages from outside the API: Twilio SMS replies, key presses and delivery
//! reports, and email replies. Each finds the page from what the message names (the number or
//! address it came from, the code it carries, a reply token) and acknowledges it through the
//! same AcceptPage path the API uses, so the escalation and the incident timeline react alike.

pub mod email;
pub mod twilio;

use crate::domain::arn::Arn;
use crate::engine::records::{GLOBAL, PAGE, PageBody, PageState, SENT_TO, SentToBody};
use crate::shapes::Context;
use crate::shapes::contacts::{AcceptCodeValidation, AcceptPageRequest, AcceptType, Api};
use crate::storage::ListQuery;
use crate::wire;

/// Acts for the account that owns the page, as the named inbound source.
fn context(account: &str, arn: &str) -> Context {
    Context {
        account_id: account.to_string(),
        region: Arn::parse(arn).map(|a| a.region).unwrap_or_default(),
        access_key_id: "inbound".into(),
        request_id: uuid::Uuid::new_v4().to_string(),
    }
}

/// What was sent to this phone number or (lower-cased) email address, newest first.
async fn sent_to(api: &wire::Api, address: &str) -> Vec<SentToBody> {
    let q = ListQuery {
        kind: SENT_TO.into(),
        account: GLOBAL.into(),
        parent: Some(address.to_string()),
        descending: true,
        limit: 100,
        ..Default::default()
    };
    let Ok(mut r) = api.contacts.store.read().await else {
        return Vec::new();
    };
    r.list(&q)
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|rec| serde_json::from_str(&rec.body).ok())
        .collect()
}

async fn open_page(api: &wire::Api, s: &SentToBody) -> Option<(String, PageBody)> {
    let arn = s.page_arn.clone()?;
    let mut r = api.contacts.store.read().await.ok()?;
    let rec = r.get(PAGE, &s.account, &arn).await.ok()??;
    let page: PageBody = serde_json::from_str(&rec.body).ok()?;
    (page.state == PageState::Open).then_some((arn, page))
}

/// AcceptPage READ: with the page's code under ENFORCE, or without one (the reply channel is
/// the proof) under IGNORE.
async fn acknowledge(
    api: &wire::Api,
    s: &SentToBody,
    arn: &str,
    code: Option<&str>,
    note: &str,
) -> bool {
    let input = AcceptPageRequest {
        page_id: Some(arn.to_string()),
        contact_channel_id: Some(s.channel_arn.clone()).filter(|c| !c.is_empty()),
        accept_type: Some(AcceptType::Read),
        accept_code: Some(code.unwrap_or("000000").to_string()),
        accept_code_validation: Some(if code.is_some() {
            AcceptCodeValidation::Enforce
        } else {
            AcceptCodeValidation::Ignore
        }),
        note: Some(note.into()),
    };
    match api
        .contacts
        .accept_page(context(&s.account, arn), input)
        .await
    {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(page = %arn, error = ?e, "acknowledgement from outside the API failed");
            false
        }
    }
}

/// The channels (account, ARN) an address belongs to, each once.
fn channels(sent: &[SentToBody]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for s in sent {
        let key = (s.account.clone(), s.channel_arn.clone());
        if !out.contains(&key) {
            out.push(key);
        }
    }
    out
}

/// Whether a reply asks to acknowledge every open page: its first line of its own (not quoted)
/// is "ACK ALL", in any case.
pub fn asks_all(text: &str) -> bool {
    let Some(first) = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .filter(|l| !l.starts_with('>'))
    else {
        return false;
    };
    let words: Vec<String> = first
        .split(|c: char| c.is_whitespace() || c == '.' || c == '!')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    words.len() >= 2 && (words[0] == "ack" || words[0] == "ok") && words[1] == "all"
}

/// Acknowledges every open page sent to `address`; returns their subjects.
async fn acknowledge_all(api: &wire::Api, address: &str, note: &str) -> Vec<String> {
    let q = ListQuery {
        kind: SENT_TO.into(),
        account: GLOBAL.into(),
        parent: Some(address.to_string()),
        limit: 500,
        ..Default::default()
    };
    let sent: Vec<SentToBody> = match api.contacts.store.read().await {
        Ok(mut r) => crate::storage::list_all(r.as_mut(), q)
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|rec| serde_json::from_str(&rec.body).ok())
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut done: Vec<String> = Vec::new();
    let mut subjects = Vec::new();
    for s in &sent {
        let Some(arn) = &s.page_arn else { continue };
        if done.contains(arn) {
            continue;
        }
        done.push(arn.clone());
        if let Some((arn, page)) = open_page(api, s).await
            && acknowledge(api, s, &arn, Some(&page.code), note).await
        {
            subjects.push(page.message.subject);
        }
    }
    subjects
}

/// Six to ten digits standing alone in the text.
pub fn codes(body: &str) -> Vec<&str> {
    body.split(|c: char| !c.is_ascii_digit())
        .filter(|w| (6..=10).contains(&w.len()))
        .collect()
}

/// Acknowledges the newest open page sent to `address` whose code appears in `text`.
async fn acknowledge_by_code(
    api: &wire::Api,
    address: &str,
    text: &str,
    note: &str,
) -> Option<String> {
    let given = codes(text);
    if given.is_empty() {
        return None;
    }
    for s in sent_to(api, address).await {
        if let Some((arn, page)) = open_page(api, &s).await
            && given.contains(&page.code.as_str())
            && acknowledge(api, &s, &arn, Some(&page.code), note).await
        {
            return Some(page.message.subject);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_all_is_the_first_line_of_the_reply_only() {
        assert!(asks_all("ACK ALL"));
        assert!(asks_all("  ack all.\nthanks"));
        assert!(asks_all("Ok   All"));
        assert!(!asks_all("ack"));
        assert!(!asks_all(
            "on it\n> Reply \"ack all\" to acknowledge every open page"
        ));
        assert!(!asks_all("> ack all"));
        assert!(!asks_all("acknowledge all of them"));
    }

    #[test]
    fn finds_codes_standing_alone() {
        assert_eq!(
            codes("code: 123456, not 12345 or 12345678901"),
            vec!["123456"]
        );
    }
}
