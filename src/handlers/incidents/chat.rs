//! Which timeline events are worth a message in the incident's chat channels, and their words:
//! the incident started; its impact, status or title changed; a note; a page acknowledged.
//! Written in the same transaction as the event, through the engine's chat outbox.

use super::ACK_EVENT;
use super::records::{INCIDENT, IncidentBody};
use super::timeline::{CREATED, UPDATED};
use crate::engine::chat::{enqueue, notification};
use crate::shapes::incidents::IncidentRecordStatus;
use crate::storage::{StoreError, Tx};
use serde_json::Value;

/// The incident's chat topics (its chatChannel's SNS topic ARNs).
pub fn topics(body: &IncidentBody) -> Vec<String> {
    body.record
        .chat_channel
        .as_ref()
        .and_then(|c| c.chatbot_sns.clone())
        .unwrap_or_default()
}

fn short(arn: &str) -> String {
    arn.rsplit('/')
        .next()
        .unwrap_or(arn)
        .chars()
        .take(8)
        .collect()
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// The words of an event, or None when the event is not posted.
fn words(
    body: &IncidentBody,
    event_type: &str,
    data: &str,
) -> Option<(String, String, &'static str)> {
    let r = &body.record;
    let title = r.title.clone().unwrap_or_default();
    let arn = r.arn.clone().unwrap_or_default();
    let impact = r.impact.unwrap_or_default();
    let parsed: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    match event_type {
        CREATED => Some((
            format!("Incident started: {title}"),
            format!("Impact {impact} · `{}`", short(&arn)),
            "incident.started",
        )),
        UPDATED => {
            let mut lines = Vec::new();
            let mut resolved = None;
            for a in parsed["modifiedAttributes"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (old, new) = (&a["oldValue"], &a["newValue"]);
                match a["attributeName"].as_str() {
                    Some("impact") => lines.push(format!("Impact {} → {}", plain(old), plain(new))),
                    Some("title") => lines.push(format!("Title: {}", plain(new))),
                    Some("status") => {
                        resolved = Some(new.as_str() == Some("RESOLVED"));
                        lines.push(format!("Status {} → {}", plain(old), plain(new)));
                    }
                    _ => {}
                }
            }
            if lines.is_empty() {
                return None;
            }
            let (head, kind) = match resolved {
                Some(true) => ("Incident resolved", "incident.resolved"),
                Some(false) => ("Incident reopened", "incident.reopened"),
                None => ("Incident updated", "incident.updated"),
            };
            Some((format!("{head}: {title}"), lines.join("\n"), kind))
        }
        "Note" => Some((
            format!("Note on {title}"),
            data.to_string(),
            "incident.note",
        )),
        ACK_EVENT => {
            let who = parsed["contactArn"]
                .as_str()
                .map(short_alias)
                .unwrap_or_default();
            Some((
                format!("Page acknowledged: {title}"),
                format!("{who} acknowledged the page."),
                "page.acknowledged",
            ))
        }
        _ => None,
    }
}

fn short_alias(contact_arn: &str) -> String {
    contact_arn
        .rsplit('/')
        .next()
        .unwrap_or(contact_arn)
        .to_string()
}

/// Queues the event's update for the incident's chat topics, if it is one worth posting.
pub async fn announce<E: From<StoreError> + From<serde_json::Error>>(
    tx: &mut dyn Tx,
    account: &str,
    incident_arn: &str,
    event_type: &str,
    data: &str,
    now: i64,
) -> Result<(), E> {
    // Most events are not posted; those cost no read of the incident.
    if ![CREATED, UPDATED, "Note", ACK_EVENT].contains(&event_type) {
        return Ok(());
    }
    let Some(rec) = tx.get(INCIDENT, account, incident_arn).await? else {
        return Ok(());
    };
    let Ok(body) = serde_json::from_str::<IncidentBody>(&rec.body) else {
        return Ok(());
    };
    let topics = topics(&body);
    if topics.is_empty() {
        return Ok(());
    }
    let Some((title, description, kind)) = words(&body, event_type, data) else {
        return Ok(());
    };
    let open = body.record.status == Some(IncidentRecordStatus::Open);
    let update = notification(&title, &description, kind, incident_arn, None, open);
    enqueue::<E>(tx, account, &topics, &update, now).await
}
