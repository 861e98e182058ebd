//! Alertmanager's own webhook (payload version 4) at `POST /hooks/alertmanager`, with the key
//! as `Authorization: Bearer <key>` (`http_config.authorization` in the receiver). One incident
//! per `groupKey`: a firing notification triggers, a resolved one resolves; Alertmanager never
//! acknowledges. Its `externalURL` is built from its host name and may not resolve from here,
//! so it is only kept as a link.

use super::event::{Action, AlertEvent, Door, Link, Target, severity_impact};
use super::pagerduty::parse_time;
use super::{Ingest, IngestError, read_body};
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;

fn answer(status: StatusCode, body: Value) -> Response {
    super::json_response(status, &body)
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// `alertname (k=v, …)` from the group's labels, for groups without a summary annotation.
fn label_title(body: &Value) -> Option<String> {
    let labels = body["commonLabels"]
        .as_object()
        .filter(|l| !l.is_empty())
        .or_else(|| body["groupLabels"].as_object())?;
    let name = labels.get("alertname").and_then(Value::as_str);
    let rest: Vec<String> = labels
        .iter()
        .filter(|(k, _)| k.as_str() != "alertname")
        .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
        .collect();
    match (name, rest.is_empty()) {
        (Some(n), true) => Some(n.to_string()),
        (Some(n), false) => Some(format!("{n} ({})", rest.join(", "))),
        (None, false) => Some(rest.join(", ")),
        (None, true) => None,
    }
}

/// Reads a notification into the shared model; Err names the field that is missing.
pub fn translate(body: &Value) -> Result<AlertEvent, String> {
    let Some(group) = text(&body["groupKey"]) else {
        return Err("groupKey is missing".into());
    };
    let action = match body["status"].as_str() {
        Some("firing") => Action::Trigger,
        Some("resolved") => Action::Resolve,
        _ => return Err("status must be firing or resolved".into()),
    };
    let mut defaulted = Vec::new();
    let impact = body["commonLabels"]["severity"]
        .as_str()
        .and_then(severity_impact);
    let title = text(&body["commonAnnotations"]["summary"]).or_else(|| label_title(body));
    if action == Action::Trigger {
        if impact.is_none() {
            defaulted.push("severity");
        }
        if title.is_none() {
            defaulted.push("summary");
        }
    }
    let mut links = Vec::new();
    if let Some(url) = text(&body["externalURL"]) {
        links.push(Link {
            url,
            title: Some("Alertmanager".into()),
        });
    }
    let alerts = body["alerts"].as_array().cloned().unwrap_or_default();
    for a in &alerts {
        if let Some(url) = text(&a["generatorURL"]) {
            links.push(Link {
                url,
                title: text(&a["labels"]["alertname"]),
            });
        }
    }
    let started = alerts
        .iter()
        .filter_map(|a| parse_time(&a["startsAt"]))
        .min();
    Ok(AlertEvent {
        door: Door::Alertmanager,
        action,
        target: Target::Key(group),
        title,
        summary: text(&body["commonAnnotations"]["description"]),
        impact,
        links,
        raw: body.clone(),
        timestamp_ms: started,
        defaulted,
    })
}

pub async fn webhook(State(ing): State<Arc<Ingest>>, headers: HeaderMap, body: Body) -> Response {
    let door = Door::Alertmanager;
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("Bearer").then(|| key.trim())
        })
        .filter(|k| !k.is_empty());
    let Some(integ) = key.and_then(|k| ing.find(k)) else {
        ing.refused(
            door,
            if key.is_some() {
                "unknown_key"
            } else {
                "no_key"
            },
        );
        return answer(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or unknown bearer key"}),
        );
    };
    if !ing.admit(integ, door) {
        return answer(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": "too many notifications; retry later"}),
        );
    }
    let Some(bytes) = read_body(body, ing.max_webhook_bytes).await else {
        ing.metrics
            .alert_event(&integ.name, door.name(), "-", "too_large");
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({"error": format!("body larger than {} bytes", ing.max_webhook_bytes)}),
        );
    };
    let parsed = serde_json::from_slice::<Value>(&bytes)
        .map_err(|_| "body is not JSON".to_string())
        .and_then(|b| translate(&b));
    let ev = match parsed {
        Ok(ev) => ev,
        Err(why) => {
            ing.metrics
                .alert_event(&integ.name, door.name(), "-", "invalid");
            tracing::info!(integration = %integ.name, api = door.name(), reason = %why, "alert event refused");
            return answer(StatusCode::BAD_REQUEST, json!({"error": why}));
        }
    };
    match ing.handle(integ, &ev).await {
        Ok(o) => answer(
            StatusCode::OK,
            json!({"status": "success", "outcome": o.name()}),
        ),
        Err(IngestError::Invalid { message, .. }) => {
            answer(StatusCode::BAD_REQUEST, json!({"error": message}))
        }
        // A 5xx makes Alertmanager send the notification again.
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"error": format!("Klaxon could not act on the notification: {e}")}),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn firing() -> Value {
        json!({
            "version": "4", "groupKey": "{}:{alertname=\"HighLatency\"}", "status": "firing",
            "receiver": "klaxon", "groupLabels": {"alertname": "HighLatency"},
            "commonLabels": {"alertname": "HighLatency", "job": "api", "severity": "page"},
            "commonAnnotations": {}, "externalURL": "http://am-host:9093",
            "alerts": [{"status": "firing", "labels": {"alertname": "HighLatency"},
                        "startsAt": "2024-01-02T03:04:05Z", "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://prom:9090/graph?g0.expr=x"}],
        })
    }

    #[test]
    fn titles_come_from_the_summary_else_the_labels() {
        let ev = translate(&firing()).unwrap();
        assert_eq!(
            ev.title.as_deref(),
            Some("HighLatency (job=api, severity=page)")
        );
        assert_eq!(ev.impact, Some(1));
        assert_eq!(ev.action, Action::Trigger);
        assert_eq!(ev.links.len(), 2);
        let mut b = firing();
        b["commonAnnotations"]["summary"] = json!("p99 over 1 s");
        b["status"] = json!("resolved");
        let ev = translate(&b).unwrap();
        assert_eq!(ev.title.as_deref(), Some("p99 over 1 s"));
        assert_eq!(ev.action, Action::Resolve);
    }

    #[test]
    fn a_group_key_is_required() {
        let mut b = firing();
        b.as_object_mut().unwrap().remove("groupKey");
        assert!(translate(&b).unwrap_err().contains("groupKey"));
    }
}
