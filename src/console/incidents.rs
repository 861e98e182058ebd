//! `/console/incidents`: open and resolved incidents and the Start incident form; and one
//! incident's page with its timeline, related items and engagements, and its actions (note,
//! impact, resolve).

use super::engagements;
use super::ops::Caller;
use super::request::{done_words, field, redirect};
use super::session::Session;
use super::view::{self, ms};
use super::{Console, ConsoleError};
use crate::shapes::incidents::*;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::Response;
use serde_json::{Value, json};
use std::sync::Arc;

const OPEN_PAGE: i32 = 100;
const RESOLVED_PAGE: i32 = 50;
const EVENTS_PAGE: i32 = 100;

pub fn impact_word(impact: i32) -> &'static str {
    match impact {
        1 => "Critical",
        2 => "High",
        3 => "Medium",
        4 => "Low",
        5 => "No impact",
        _ => "Unknown",
    }
}

fn impacts() -> Value {
    Value::Array(
        (1..=5)
            .map(|i| json!({"value": i, "word": format!("{i} — {}", impact_word(i))}))
            .collect(),
    )
}

/// The console path of an incident ARN (`…:incident-record/<plan>/<uuid>`).
pub fn href(arn: &str) -> Option<String> {
    let rest = arn.split_once(":incident-record/")?.1;
    let (plan, id) = rest.split_once('/')?;
    Some(format!(
        "/console/incidents/{}/{}",
        view::segment(plan),
        view::segment(id)
    ))
}

fn status_filter(status: &str) -> Filter {
    Filter {
        key: Some("status".into()),
        condition: Some(Condition {
            equals: Some(AttributeValueList {
                string_values: Some(vec![status.into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
    }
}

fn row(s: &IncidentRecordSummary, now: i64) -> Value {
    let arn = s.arn.clone().unwrap_or_default();
    let created = ms(s.creation_time).unwrap_or(now);
    json!({
        "href": href(&arn),
        "title": s.title,
        "impact": s.impact,
        "impact_word": impact_word(s.impact.unwrap_or_default()),
        "status": s.status.as_ref().map(|x| x.as_str().to_string()),
        "age": view::span(now - created),
        "created_iso": view::iso(created),
        "created_utc": view::utc(created),
        "resolved_utc": ms(s.resolved_time).map(view::utc),
    })
}

async fn records(
    caller: &Caller<'_>,
    status: &str,
    max: i32,
    token: Option<&str>,
) -> Result<ListIncidentRecordsOutput, ConsoleError> {
    caller
        .incidents(
            "ListIncidentRecords",
            &ListIncidentRecordsInput {
                filters: Some(vec![status_filter(status)]),
                max_results: Some(max),
                next_token: token.filter(|t| !t.is_empty()).map(str::to_string),
            },
        )
        .await
}

async fn list_ctx(
    c: &Console,
    who: &Session,
    q: &super::request::Form,
) -> Result<Value, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let now = c.clock.now_ms();
    let status = match field(q, "status") {
        Some("open") => "open",
        Some("resolved") => "resolved",
        _ => "all",
    };
    let mut ctx = json!({"status": status, "impacts": impacts()});
    if status != "resolved" {
        let out = records(&caller, "OPEN", OPEN_PAGE, field(q, "open_next")).await?;
        let mut rows = out.incident_record_summaries.unwrap_or_default();
        // Worst first, newest first within an impact (the list comes newest first).
        rows.sort_by_key(|r| r.impact.unwrap_or(i32::MAX));
        ctx["open"] = rows.iter().map(|r| row(r, now)).collect();
        ctx["open_next"] = json!(out.next_token);
    }
    if status != "open" {
        let out = records(
            &caller,
            "RESOLVED",
            RESOLVED_PAGE,
            field(q, "resolved_next"),
        )
        .await?;
        let rows = out.incident_record_summaries.unwrap_or_default();
        ctx["resolved"] = rows.iter().map(|r| row(r, now)).collect();
        ctx["resolved_next"] = json!(out.next_token);
    }
    let plans: ListResponsePlansOutput = caller
        .incidents(
            "ListResponsePlans",
            &ListResponsePlansInput {
                max_results: Some(100),
                next_token: None,
            },
        )
        .await?;
    ctx["plans"] = plans
        .response_plan_summaries
        .unwrap_or_default()
        .iter()
        .map(|p| {
            json!({
                "arn": p.arn,
                "name": p.display_name.clone().filter(|d| !d.is_empty()).or(p.name.clone()),
            })
        })
        .collect();
    ctx["done"] = json!(done_words(q));
    Ok(ctx)
}

fn with_error(mut ctx: Value, e: &ConsoleError) -> Value {
    ctx["error"] = json!(e.words());
    ctx
}

pub async fn list(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    c.view(req, "console/incidents.html", async |who, q| {
        list_ctx(&c, who, q).await
    })
    .await
}

fn optional_int(form: &super::request::Form, name: &str) -> Result<Option<i32>, ConsoleError> {
    match field(form, name).map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| ConsoleError::Refused {
            code: "ValidationException".into(),
            message: format!("{name}: {v:?} is not a number"),
            status: 400,
        }),
    }
}

async fn start_incident(
    c: &Console,
    who: &Session,
    form: &super::request::Form,
) -> Result<String, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let plan = field(form, "response_plan").unwrap_or_default().trim();
    if plan.is_empty() {
        return Err(ConsoleError::Refused {
            code: "ValidationException".into(),
            message: "response_plan: choose the response plan to start the incident from".into(),
            status: 400,
        });
    }
    let plan = if plan.starts_with("arn:") {
        plan.to_string()
    } else {
        caller.plan_arn(plan)
    };
    let title = field(form, "title")
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    let out: StartIncidentOutput = caller
        .incidents(
            "StartIncident",
            &StartIncidentInput {
                response_plan_arn: Some(plan),
                title,
                impact: optional_int(form, "impact")?,
                ..Default::default()
            },
        )
        .await?;
    let arn = out.incident_record_arn.unwrap_or_default();
    Ok(href(&arn).unwrap_or_else(|| "/console/incidents".into()))
}

pub async fn start(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    let (who, form, _) = match c.poster(req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    match start_incident(&c, &who, &form).await {
        Ok(path) => redirect(&format!("{path}?done=started")),
        Err(e) => match list_ctx(&c, &who, &Vec::new()).await {
            Ok(ctx) => c.page(
                e.status(),
                "console/incidents.html",
                Some(&who),
                with_error(ctx, &e),
            ),
            Err(e2) => c.error_page(Some(&who), e2),
        },
    }
}

/// A timeline event in words: what happened and the detail its data holds.
fn event_words(event_type: &str, data: &str) -> (String, String) {
    let parsed: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let alias = |v: &Value| v.as_str().map(view::tail).unwrap_or("someone").to_string();
    match event_type {
        super::super::handlers::incidents::PAGE_EVENT => (
            "Page sent".into(),
            format!("{} was paged.", alias(&parsed["contactArn"])),
        ),
        super::super::handlers::incidents::ACK_EVENT => (
            "Page acknowledged".into(),
            format!("{} acknowledged the page.", alias(&parsed["contactArn"])),
        ),
        "SSM Incident Record Create" => {
            let mut words = Vec::new();
            if let Some(plan) = parsed["responsePlanArn"].as_str() {
                words.push(format!("from response plan {}", view::tail(plan)));
            }
            if let Some(i) = parsed["impact"].as_i64() {
                words.push(format!("impact {i}"));
            }
            if let Some(by) = parsed["createdBy"].as_str() {
                words.push(format!("by {}", view::tail(by)));
            }
            if let Some(source) = parsed["source"].as_str() {
                words.push(format!("source {source}"));
            }
            ("Incident started".into(), words.join(", "))
        }
        "SSM Incident Record Update" => {
            let changes: Vec<String> = parsed["modifiedAttributes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    format!(
                        "{}: {} → {}",
                        a["attributeName"].as_str().unwrap_or("?"),
                        plain(&a["oldValue"]),
                        plain(&a["newValue"])
                    )
                })
                .collect();
            let detail = if changes.is_empty() {
                flatten(&parsed, data)
            } else {
                changes.join("; ")
            };
            ("Incident updated".into(), detail)
        }
        "Note" => ("Note".into(), data.to_string()),
        "Custom Event" if parsed["action"].is_string() => (
            "Action".into(),
            format!(
                "{} ({}): {}",
                parsed["actor"].as_str().unwrap_or("someone"),
                parsed["via"].as_str().unwrap_or("chat"),
                parsed["action"].as_str().unwrap_or_default()
            ),
        ),
        "Custom Event" => ("Event".into(), flatten(&parsed, data)),
        other => (other.to_string(), flatten(&parsed, data)),
    }
}

fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "none".into(),
        other => other.to_string(),
    }
}

/// A JSON object's members as `key: value` pairs; other data as it came.
fn flatten(parsed: &Value, raw: &str) -> String {
    match parsed.as_object() {
        Some(o) => o
            .iter()
            .map(|(k, v)| format!("{k}: {}", plain(v)))
            .collect::<Vec<_>>()
            .join("; "),
        None => raw.to_string(),
    }
}

/// Only web addresses become links; anything else (an ARN, a `javascript:` text) is shown.
fn link(value: &ItemValue) -> (Option<String>, String) {
    if let Some(u) = &value.url {
        let lower = u.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            return (Some(u.clone()), u.clone());
        }
        return (None, u.clone());
    }
    if let Some(a) = &value.arn {
        return (href(a), a.clone());
    }
    if let Some(p) = &value.pager_duty_incident_detail {
        return (
            None,
            format!("PagerDuty incident {}", p.id.clone().unwrap_or_default()),
        );
    }
    (None, value.metric_definition.clone().unwrap_or_default())
}

async fn incident_ctx(
    c: &Console,
    who: &Session,
    plan: &str,
    id: &str,
    q: &super::request::Form,
) -> Result<Value, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let now = c.clock.now_ms();
    let arn = caller.incident_arn(plan, id);
    let rec: GetIncidentRecordOutput = caller
        .incidents(
            "GetIncidentRecord",
            &GetIncidentRecordInput {
                arn: Some(arn.clone()),
            },
        )
        .await
        .map_err(|e| {
            if e.is_not_found() {
                ConsoleError::NotFound(format!("There is no incident {plan}/{id} in this account."))
            } else {
                e
            }
        })?;
    let r = rec.incident_record.unwrap_or_default();
    let events: ListTimelineEventsOutput = caller
        .incidents(
            "ListTimelineEvents",
            &ListTimelineEventsInput {
                incident_record_arn: Some(arn.clone()),
                sort_by: Some(TimelineEventSort::EventTime),
                sort_order: Some(SortOrder::Ascending),
                max_results: Some(EVENTS_PAGE),
                next_token: field(q, "events")
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
                filters: None,
            },
        )
        .await?;
    let mut timeline = Vec::new();
    for s in events.event_summaries.unwrap_or_default() {
        let got: GetTimelineEventOutput = caller
            .incidents(
                "GetTimelineEvent",
                &GetTimelineEventInput {
                    event_id: s.event_id.clone(),
                    incident_record_arn: Some(arn.clone()),
                },
            )
            .await?;
        let e = got.event.unwrap_or_default();
        let t = ms(e.event_time).unwrap_or_default();
        let (what, detail) = event_words(
            e.event_type.as_deref().unwrap_or_default(),
            e.event_data.as_deref().unwrap_or_default(),
        );
        timeline.push(json!({
            "iso": view::iso(t), "utc": view::utc(t), "what": what, "detail": detail,
            "type": e.event_type,
        }));
    }
    let related: ListRelatedItemsOutput = caller
        .incidents(
            "ListRelatedItems",
            &ListRelatedItemsInput {
                incident_record_arn: Some(arn.clone()),
                max_results: Some(100),
                next_token: None,
            },
        )
        .await?;
    let related: Vec<Value> = related
        .related_items
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let ident = item.identifier.clone().unwrap_or_default();
            let (href, text) = link(&ident.value.unwrap_or_default());
            json!({
                "title": item.title.clone().filter(|t| !t.is_empty()).unwrap_or(text.clone()),
                "type": ident.r#type.map(|t| t.as_str().to_string()),
                "href": href, "text": text,
            })
        })
        .collect();
    let engagements = engagements::for_incident(&caller, &arn, now).await?;
    let created = ms(r.creation_time).unwrap_or(now);
    let open = r.status.as_ref().map(|s| s.as_str()) == Some("OPEN");
    let base = href(&arn).unwrap_or_default();
    Ok(json!({
        "incident": {
            "arn": arn, "title": r.title, "impact": r.impact,
            "impact_word": impact_word(r.impact.unwrap_or_default()),
            "status": r.status.as_ref().map(|s| s.as_str().to_string()),
            "open": open, "summary": r.summary,
            "created_iso": view::iso(created), "created_utc": view::utc(created),
            "age": view::span(now - created),
            "resolved_utc": ms(r.resolved_time).map(view::utc),
            "source": r.incident_record_source.as_ref().and_then(|s| s.source.clone()),
            "modified_by": r.last_modified_by,
        },
        "base": base,
        "timeline": timeline,
        "events_next": events.next_token,
        "related": related,
        "engagements": engagements,
        "impacts": impacts(),
        "done": done_words(q),
    }))
}

pub async fn show(
    State(c): State<Arc<Console>>,
    Path((plan, id)): Path<(String, String)>,
    req: Request,
) -> Response<Body> {
    c.view(req, "console/incident.html", async |who, q| {
        incident_ctx(&c, who, &plan, &id, q).await
    })
    .await
}

/// Runs an action on the incident, then shows its page: after a redirect when it was done,
/// with the refusal's words when it was not.
async fn act(
    c: Arc<Console>,
    plan: String,
    id: String,
    req: Request,
    action: impl AsyncFnOnce(
        &Caller<'_>,
        &str,
        &super::request::Form,
    ) -> Result<&'static str, ConsoleError>,
) -> Response<Body> {
    let (who, form, _) = match c.poster(req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let arn = caller.incident_arn(&plan, &id);
    match action(&caller, &arn, &form).await {
        Ok(done) => redirect(&format!("{}?done={done}", href(&arn).unwrap_or_default())),
        Err(e) => match incident_ctx(&c, &who, &plan, &id, &Vec::new()).await {
            Ok(ctx) => c.page(
                e.status(),
                "console/incident.html",
                Some(&who),
                with_error(ctx, &e),
            ),
            Err(e2) => c.error_page(Some(&who), e2),
        },
    }
}

pub async fn note(
    State(c): State<Arc<Console>>,
    Path((plan, id)): Path<(String, String)>,
    req: Request,
) -> Response<Body> {
    let now = c.clock.now_ms();
    act(c, plan, id, req, async move |caller, arn, form| {
        let text = field(form, "text").unwrap_or_default().trim();
        if text.is_empty() {
            return Err(ConsoleError::Refused {
                code: "ValidationException".into(),
                message: "text: write the note first".into(),
                status: 400,
            });
        }
        let _: Value = caller
            .incidents(
                "CreateTimelineEvent",
                &CreateTimelineEventInput {
                    incident_record_arn: Some(arn.to_string()),
                    event_time: Some(crate::shapes::Timestamp::from_millis(now)),
                    event_type: Some("Note".into()),
                    event_data: Some(format!("{text} — {} (console)", caller.ctx.access_key_id)),
                    ..Default::default()
                },
            )
            .await?;
        Ok("note")
    })
    .await
}

pub async fn resolve(
    State(c): State<Arc<Console>>,
    Path((plan, id)): Path<(String, String)>,
    req: Request,
) -> Response<Body> {
    act(c, plan, id, req, async |caller, arn, _| {
        let _: Value = caller
            .incidents(
                "UpdateIncidentRecord",
                &UpdateIncidentRecordInput {
                    arn: Some(arn.to_string()),
                    status: Some(IncidentRecordStatus::Resolved),
                    ..Default::default()
                },
            )
            .await?;
        Ok("resolved")
    })
    .await
}

pub async fn impact(
    State(c): State<Arc<Console>>,
    Path((plan, id)): Path<(String, String)>,
    req: Request,
) -> Response<Body> {
    act(c, plan, id, req, async |caller, arn, form| {
        let impact = optional_int(form, "impact")?.ok_or_else(|| ConsoleError::Refused {
            code: "ValidationException".into(),
            message: "impact: choose an impact from 1 (critical) to 5 (no impact)".into(),
            status: 400,
        })?;
        let _: Value = caller
            .incidents(
                "UpdateIncidentRecord",
                &UpdateIncidentRecordInput {
                    arn: Some(arn.to_string()),
                    impact: Some(impact),
                    ..Default::default()
                },
            )
            .await?;
        Ok("impact")
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_incident_arn_becomes_its_console_path() {
        assert_eq!(
            href("arn:aws:ssm-incidents::111122223333:incident-record/checkout/0b9e-11").as_deref(),
            Some("/console/incidents/checkout/0b9e-11")
        );
        assert_eq!(href("arn:aws:ssm-incidents::1:response-plan/x"), None);
    }

    #[test]
    fn only_web_addresses_become_links() {
        let v = |u: &str| ItemValue {
            url: Some(u.into()),
            ..Default::default()
        };
        assert_eq!(
            link(&v("https://grafana.example/d/1")).0.as_deref(),
            Some("https://grafana.example/d/1")
        );
        assert_eq!(link(&v("javascript:alert(1)")).0, None);
        assert_eq!(link(&v("JavaScript:alert(1)")).1, "JavaScript:alert(1)");
    }

    #[test]
    fn timeline_events_read_as_words() {
        let (what, detail) = event_words(
            "SSM Incident Record Update",
            r#"{"modifiedAttributes":[{"attributeName":"impact","oldValue":3,"newValue":1}]}"#,
        );
        assert_eq!(
            (what.as_str(), detail.as_str()),
            ("Incident updated", "impact: 3 → 1")
        );
        let (what, detail) = event_words(
            crate::handlers::incidents::ACK_EVENT,
            r#"{"contactArn":"arn:aws:ssm-contacts:us-east-1:1:contact/akuam"}"#,
        );
        assert_eq!(what, "Page acknowledged");
        assert_eq!(detail, "akuam acknowledged the page.");
    }
}
