//! Opsgenie's Alert API: create (`POST /v2/alerts`), acknowledge and close
//! (`POST /v2/alerts/{identifier}/acknowledge|close`), and the message and description updates
//! Alertmanager's Opsgenie receiver sends with `update_alerts: true`. The key comes as
//! `Authorization: GenieKey <key>`; answers and errors are in Opsgenie's shapes.

use super::event::{Action, AlertEvent, Door, Target, priority_impact};
use super::{Ingest, IngestError, Integration, MAX_EVENT_BYTES, read_body};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

fn answer(status: StatusCode, mut body: Value, started: Instant) -> Response {
    body["took"] = json!((started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0);
    body["requestId"] = json!(crate::wire::request_id());
    super::json_response(status, &body)
}

fn unprocessable(field: &str, message: &str, started: Instant) -> Response {
    answer(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({
            "message": "Request body is not processable. Please check the errors.",
            "errors": {field: message},
        }),
        started,
    )
}

fn accepted(started: Instant) -> Response {
    answer(
        StatusCode::ACCEPTED,
        json!({"result": "Request will be processed"}),
        started,
    )
}

/// The integration the GenieKey names, or the 401/429 to answer.
fn authorize<'a>(
    ing: &'a Ingest,
    headers: &HeaderMap,
    started: Instant,
) -> Result<&'a Integration, Box<Response>> {
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, key) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("GenieKey").then(|| key.trim())
        });
    let unauthorized = || {
        answer(
            StatusCode::UNAUTHORIZED,
            json!({"message": "Could not authenticate"}),
            started,
        )
    };
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        ing.refused(Door::Opsgenie, "no_key");
        return Err(Box::new(unauthorized()));
    };
    let Some(integ) = ing.find(key) else {
        ing.refused(Door::Opsgenie, "unknown_key");
        return Err(Box::new(unauthorized()));
    };
    if !ing.admit(integ, Door::Opsgenie) {
        return Err(Box::new(answer(
            StatusCode::TOO_MANY_REQUESTS,
            json!({"message": "You are making too many requests! To avoid errors, we recommend you limit requests."}),
            started,
        )));
    }
    Ok(integ)
}

/// A JSON object body (an empty body counts as `{}`: acknowledge and close need none).
async fn object(body: Body, started: Instant) -> Result<Value, Response> {
    let Some(bytes) = read_body(body, MAX_EVENT_BYTES).await else {
        return Err(unprocessable(
            "body",
            "Request body is larger than 512 KB.",
            started,
        ));
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(unprocessable(
            "body",
            "Request body is not valid JSON.",
            started,
        )),
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Reads a create request into the shared model; Err is (field, message) for a 422.
pub fn translate_create(body: &Value) -> Result<AlertEvent, (&'static str, String)> {
    let Some(message) = text(&body["message"]) else {
        return Err(("message", "Message can not be empty.".into()));
    };
    let alias = match text(&body["alias"]) {
        Some(a) if a.chars().count() > 512 => {
            return Err((
                "alias",
                "Alias can not be longer than 512 characters.".into(),
            ));
        }
        Some(a) => a,
        // Opsgenie makes an alert without an alias its own; so does Klaxon.
        None => uuid::Uuid::new_v4().to_string(),
    };
    let mut defaulted = Vec::new();
    let impact = body["priority"].as_str().and_then(priority_impact);
    if impact.is_none() {
        defaulted.push("severity");
    }
    Ok(AlertEvent {
        door: Door::Opsgenie,
        action: Action::Trigger,
        target: Target::Key(alias),
        title: Some(message),
        summary: text(&body["description"]),
        impact,
        links: Vec::new(),
        raw: body.clone(),
        timestamp_ms: None,
        defaulted,
    })
}

async fn run(ing: &Ingest, integ: &Integration, ev: AlertEvent, started: Instant) -> Response {
    match ing.handle(integ, &ev).await {
        Ok(_) => accepted(started),
        Err(IngestError::Invalid { field, message }) => unprocessable(field, &message, started),
        Err(e) => answer(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"message": format!("Klaxon could not act on the request: {e}")}),
            started,
        ),
    }
}

pub async fn create(State(ing): State<Arc<Ingest>>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let integ = match authorize(&ing, &headers, started) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let body = match object(body, started).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match translate_create(&body) {
        Ok(ev) => run(&ing, integ, ev, started).await,
        Err((field, message)) => {
            ing.metrics
                .alert_event(&integ.name, Door::Opsgenie.name(), "trigger", "invalid");
            unprocessable(field, &message, started)
        }
    }
}

fn query(uri: &Uri) -> HashMap<String, String> {
    crate::wire::form::form(uri.query().unwrap_or_default().as_bytes())
        .into_iter()
        .collect()
}

/// The alert a path names under `identifierType` (Opsgenie's default is `id`).
fn target(
    identifier: &str,
    query: &HashMap<String, String>,
) -> Result<Target, (&'static str, String)> {
    match query
        .get("identifierType")
        .map(String::as_str)
        .unwrap_or("id")
    {
        "alias" => Ok(Target::Key(identifier.to_string())),
        "id" => Ok(Target::Incident(identifier.to_string())),
        "tiny" => Err((
            "identifierType",
            "Klaxon does not keep tiny ids; use identifierType=alias (or id, the incident's id)."
                .into(),
        )),
        other => Err((
            "identifierType",
            format!("identifierType {other:?} must be one of alias, id"),
        )),
    }
}

async fn follow_up(
    ing: Arc<Ingest>,
    headers: HeaderMap,
    identifier: String,
    query: HashMap<String, String>,
    body: Body,
    action: impl FnOnce(&Value) -> Result<Action, (&'static str, String)>,
) -> Response {
    let started = Instant::now();
    let integ = match authorize(&ing, &headers, started) {
        Ok(i) => i,
        Err(r) => return *r,
    };
    let body = match object(body, started).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let parsed = target(&identifier, &query).and_then(|t| Ok((t, action(&body)?)));
    let (target, action) = match parsed {
        Ok(p) => p,
        Err((field, message)) => {
            ing.metrics
                .alert_event(&integ.name, Door::Opsgenie.name(), "-", "invalid");
            return unprocessable(field, &message, started);
        }
    };
    let ev = AlertEvent {
        door: Door::Opsgenie,
        action,
        target,
        title: None,
        summary: None,
        impact: None,
        links: Vec::new(),
        raw: body,
        timestamp_ms: None,
        defaulted: Vec::new(),
    };
    run(&ing, integ, ev, started).await
}

pub async fn acknowledge(
    State(ing): State<Arc<Ingest>>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    follow_up(ing, headers, identifier, query(&uri), body, |_| {
        Ok(Action::Acknowledge)
    })
    .await
}

pub async fn close(
    State(ing): State<Arc<Ingest>>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    follow_up(ing, headers, identifier, query(&uri), body, |_| {
        Ok(Action::Resolve)
    })
    .await
}

pub async fn message(
    State(ing): State<Arc<Ingest>>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    follow_up(
        ing,
        headers,
        identifier,
        query(&uri),
        body,
        |b| match text(&b["message"]) {
            Some(m) => Ok(Action::Update {
                title: Some(m),
                summary: None,
            }),
            None => Err(("message", "Message can not be empty.".into())),
        },
    )
    .await
}

pub async fn description(
    State(ing): State<Arc<Ingest>>,
    Path(identifier): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    follow_up(ing, headers, identifier, query(&uri), body, |b| {
        Ok(Action::Update {
            title: None,
            summary: Some(b["description"].as_str().unwrap_or_default().to_string()),
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_reads_message_alias_and_priority() {
        let ev = translate_create(
            &json!({"message": "CPU high", "alias": "a1", "priority": "P2", "description": "d"}),
        )
        .unwrap();
        assert_eq!(ev.title.as_deref(), Some("CPU high"));
        assert_eq!(ev.target, Target::Key("a1".into()));
        assert_eq!(ev.impact, Some(2));
        assert_eq!(ev.summary.as_deref(), Some("d"));
        let (field, _) = translate_create(&json!({"alias": "a1"})).unwrap_err();
        assert_eq!(field, "message");
    }

    #[test]
    fn identifier_types() {
        let q = |t: &str| HashMap::from([("identifierType".to_string(), t.to_string())]);
        assert_eq!(target("x", &q("alias")).unwrap(), Target::Key("x".into()));
        assert_eq!(
            target("x", &HashMap::new()).unwrap(),
            Target::Incident("x".into())
        );
        assert_eq!(target("x", &q("tiny")).unwrap_err().0, "identifierType");
    }
}
