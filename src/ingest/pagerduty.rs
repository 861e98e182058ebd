//! PagerDuty Events API v2: `POST /v2/enqueue`, answered in PagerDuty's own shapes so that
//! every tool with a PagerDuty integration (Alertmanager, Grafana, Zabbix, Datadog…) works by
//! changing its URL. Only an event that cannot be acted on is refused; a missing or odd
//! severity, summary or source is defaulted and counted.

use super::event::{Action, AlertEvent, Door, Link, Target, severity_impact};
use super::{Ingest, IngestError, MAX_EVENT_BYTES, read_body};
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

fn answer(status: StatusCode, body: Value) -> Response {
    super::json_response(status, &body)
}

pub fn invalid(errors: &[String]) -> Response {
    answer(
        StatusCode::BAD_REQUEST,
        json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    )
}

fn throttled() -> Response {
    answer(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}),
    )
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// RFC 3339 (what PagerDuty documents for `payload.timestamp`) to milliseconds.
pub fn parse_time(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Reads an event (already known to be JSON with an integration found for its key) into the
/// shared model; Err names the field that makes it impossible to act on.
pub fn translate(body: &Value) -> Result<(AlertEvent, Option<String>), String> {
    let action = match body["event_action"].as_str() {
        Some("trigger") => Action::Trigger,
        Some("acknowledge") => Action::Acknowledge,
        Some("resolve") => Action::Resolve,
        Some(_) => {
            return Err(
                "'event_action' is invalid (must be one of: trigger, acknowledge, resolve)".into(),
            );
        }
        None => return Err("'event_action' is missing or blank".into()),
    };
    let dedup = text(&body["dedup_key"]);
    let (key, generated) = match (&action, dedup) {
        (_, Some(k)) => (k, None),
        (Action::Trigger, None) => {
            let k = uuid::Uuid::new_v4().simple().to_string();
            (k.clone(), Some(k))
        }
        _ => return Err("'dedup_key' is missing or blank".into()),
    };
    let payload = &body["payload"];
    let mut defaulted = Vec::new();
    let summary = text(&payload["summary"]);
    let source = text(&payload["source"]);
    let impact = payload["severity"].as_str().and_then(severity_impact);
    if action == Action::Trigger {
        if impact.is_none() {
            defaulted.push("severity");
        }
        if summary.is_none() {
            defaulted.push("summary");
        }
        if source.is_none() {
            defaulted.push("source");
        }
    }
    let title = summary.or_else(|| source.as_ref().map(|s| format!("Alert from {s}")));
    let mut links = Vec::new();
    for l in body["links"].as_array().into_iter().flatten() {
        if let Some(href) = text(&l["href"]) {
            links.push(Link {
                url: href,
                title: text(&l["text"]),
            });
        }
    }
    for i in body["images"].as_array().into_iter().flatten() {
        if let Some(href) = text(&i["href"]).or_else(|| text(&i["src"])) {
            links.push(Link {
                url: href,
                title: text(&i["alt"]),
            });
        }
    }
    if let Some(url) = text(&body["client_url"]) {
        links.push(Link {
            url,
            title: text(&body["client"]),
        });
    }
    let mut raw = body.clone();
    if let Some(o) = raw.as_object_mut() {
        o.remove("routing_key");
    }
    let ev = AlertEvent {
        door: Door::PagerDuty,
        action,
        target: Target::Key(key),
        title,
        summary: None,
        impact,
        links,
        raw,
        timestamp_ms: parse_time(&payload["timestamp"]),
        defaulted,
    };
    Ok((ev, generated))
}

pub async fn enqueue(State(ing): State<Arc<Ingest>>, body: Body) -> Response {
    let door = Door::PagerDuty;
    let Some(bytes) = read_body(body, MAX_EVENT_BYTES).await else {
        ing.refused(door, "too_large");
        return invalid(&["Event object is larger than 512 KB".into()]);
    };
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        ing.refused(door, "not_json");
        return invalid(&["Event object is not valid JSON".into()]);
    };
    if !body.is_object() {
        ing.refused(door, "not_json");
        return invalid(&["Event object must be a JSON object".into()]);
    }
    let Some(key) = body["routing_key"].as_str().filter(|k| !k.is_empty()) else {
        ing.refused(door, "no_key");
        return invalid(&["'routing_key' is missing or blank".into()]);
    };
    let Some(integ) = ing.find(key) else {
        ing.refused(door, "unknown_key");
        return invalid(&["'routing_key' is not a routing key of this Klaxon".into()]);
    };
    if !ing.admit(integ, door) {
        return throttled();
    }
    let (ev, _) = match translate(&body) {
        Ok(t) => t,
        Err(why) => {
            ing.metrics
                .alert_event(&integ.name, door.name(), "-", "invalid");
            tracing::info!(integration = %integ.name, api = door.name(), reason = %why, "alert event refused");
            return invalid(&[why]);
        }
    };
    let Target::Key(dedup_key) = ev.target.clone() else {
        return invalid(&["'dedup_key' is missing or blank".into()]);
    };
    match ing.handle(integ, &ev).await {
        Ok(_) => answer(
            StatusCode::ACCEPTED,
            json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
        ),
        Err(IngestError::Invalid { message, .. }) => invalid(&[message]),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"status": "error", "message": format!("Klaxon could not act on the event: {e}")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_without_dedup_key_gets_one_and_cosmetic_faults_are_defaulted() {
        let (ev, generated) = translate(&json!({
            "routing_key": "secret-routing-key-000000",
            "event_action": "trigger",
            "payload": {"severity": "{{ .CommonLabels.severity }}"},
            "links": [{"href": "https://grafana.example/d/1", "text": "dash"}],
        }))
        .unwrap();
        let key = generated.expect("a generated dedup_key");
        assert_eq!(ev.target, Target::Key(key));
        assert_eq!(ev.impact, None);
        assert_eq!(ev.defaulted, vec!["severity", "summary", "source"]);
        assert!(
            ev.raw.get("routing_key").is_none(),
            "the key stays out of rawData"
        );
        assert_eq!(ev.links[0].url, "https://grafana.example/d/1");
    }

    #[test]
    fn events_that_cannot_be_acted_on_name_the_field() {
        let e = translate(&json!({"event_action": "resolve"})).unwrap_err();
        assert!(e.contains("dedup_key"), "{e}");
        let e = translate(&json!({"event_action": "snooze"})).unwrap_err();
        assert!(e.contains("event_action"), "{e}");
        let e = translate(&json!({})).unwrap_err();
        assert!(e.contains("event_action"), "{e}");
    }

    #[test]
    fn severity_and_timestamp_are_read() {
        let (ev, _) = translate(&json!({
            "event_action": "trigger", "dedup_key": "k",
            "payload": {"summary": "Disk full", "source": "db1", "severity": "warning",
                        "timestamp": "2024-01-02T03:04:05.678Z"},
        }))
        .unwrap();
        assert_eq!(ev.impact, Some(3));
        assert_eq!(ev.title.as_deref(), Some("Disk full"));
        assert_eq!(ev.timestamp_ms, Some(1_704_164_645_678));
        assert!(ev.defaulted.is_empty());
    }
}
