//! The one alert-event model the three doors translate into, and what an event does. Every
//! effect goes through the SSM Incidents and SSM Contacts operations (validated as if they came
//! over the wire), so an alert behaves exactly like a StartIncident, an AcceptPage or an
//! UpdateIncidentRecord would.

use super::index;
use super::{Ingest, IngestError, Integration};
use crate::shapes::Context;
use crate::shapes::runtime::DispatchError;
use crate::shapes::{contacts, incidents};
use serde_json::{Value, json};

/// Which door an event came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    PagerDuty,
    Opsgenie,
    Alertmanager,
}

impl Door {
    pub fn name(self) -> &'static str {
        match self {
            Door::PagerDuty => "pagerduty",
            Door::Opsgenie => "opsgenie",
            Door::Alertmanager => "alertmanager",
        }
    }

    /// `triggerDetails.source` of the incidents it starts.
    pub fn source(self) -> &'static str {
        match self {
            Door::PagerDuty => "klaxon.pagerduty",
            Door::Opsgenie => "klaxon.opsgenie",
            Door::Alertmanager => "klaxon.alertmanager",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Trigger,
    Acknowledge,
    Resolve,
    /// Opsgenie's update of an alert's message (title) or description (summary).
    Update {
        title: Option<String>,
        summary: Option<String>,
    },
}

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Trigger => "trigger",
            Action::Acknowledge => "acknowledge",
            Action::Resolve => "resolve",
            Action::Update { .. } => "update",
        }
    }
}

/// What an event is about: the sender's key (dedup_key, alias, groupKey), or an incident named
/// directly (Opsgenie's `identifierType=id`).
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Key(String),
    Incident(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    pub url: String,
    pub title: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AlertEvent {
    pub door: Door,
    pub action: Action,
    pub target: Target,
    /// None: the door had no usable title, and a default one is used.
    pub title: Option<String>,
    pub summary: Option<String>,
    /// None: the plan's impact.
    pub impact: Option<i32>,
    pub links: Vec<Link>,
    /// The event as sent, without its key.
    pub raw: Value,
    pub timestamp_ms: Option<i64>,
    /// Cosmetic faults the event was accepted with (for the metric): "severity", "summary".
    pub defaulted: Vec<&'static str>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Started(String),
    Repeated(String),
    Acknowledged(String),
    Resolved(String),
    Updated(String),
    /// Nothing open for the key: an acknowledge or resolve that came too late, or twice.
    NoIncident,
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Started(_) => "started",
            Outcome::Repeated(_) => "repeated",
            Outcome::Acknowledged(_) => "acknowledged",
            Outcome::Resolved(_) => "resolved",
            Outcome::Updated(_) => "updated",
            Outcome::NoIncident => "no_incident",
        }
    }
}

/// PagerDuty's severities, also Alertmanager's `severity` label (`page` is its loudest).
pub fn severity_impact(word: &str) -> Option<i32> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" | "page" => Some(1),
        "error" => Some(2),
        "warning" => Some(3),
        "info" => Some(4),
        _ => None,
    }
}

/// Opsgenie's P1–P5.
pub fn priority_impact(p: &str) -> Option<i32> {
    match p.trim().to_ascii_uppercase().as_str() {
        "P1" => Some(1),
        "P2" => Some(2),
        "P3" => Some(3),
        "P4" => Some(4),
        "P5" => Some(5),
        _ => None,
    }
}

/// Cuts to at most `max` characters, for the operations' length limits.
pub fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

const TITLE_MAX: usize = 200;
const SUMMARY_MAX: usize = 8000;
const RAW_MAX: usize = 10_000;
const LINK_TITLE_MAX: usize = 200;
const URL_MAX: usize = 1000;

fn context(integ: &Integration) -> Context {
    Context {
        account_id: integ.account.clone(),
        region: integ.region.clone(),
        access_key_id: format!("integration-{}", integ.name),
        request_id: crate::wire::request_id(),
    }
}

/// An operation's refusal in words: the modeled error's code and message, else a validation
/// failure of what this door built.
fn operation_error<E: std::fmt::Display>(
    op: &str,
    e: DispatchError<E>,
    modeled: impl FnOnce(&E) -> (&'static str, Value),
) -> IngestError {
    match e {
        DispatchError::Service(e) => {
            let (code, body) = modeled(&e);
            IngestError::Operation {
                op: op.to_string(),
                code,
                // awsJson names the member `Message`, restJson `message`.
                message: body["Message"]
                    .as_str()
                    .or(body["message"].as_str())
                    .unwrap_or_default()
                    .to_string(),
            }
        }
        other => IngestError::Operation {
            op: op.to_string(),
            code: "ValidationException",
            message: other.to_string(),
        },
    }
}

async fn incidents_op(
    ing: &Ingest,
    ctx: &Context,
    op: &str,
    input: Value,
) -> Result<Value, IngestError> {
    let out = incidents::dispatch(&ing.api.incidents, ctx.clone(), op, input)
        .await
        .map_err(|e| operation_error(op, e, |e| (e.type_name(), e.body())))?;
    Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
}

async fn contacts_op(
    ing: &Ingest,
    ctx: &Context,
    op: &str,
    input: Value,
) -> Result<Value, IngestError> {
    let out = contacts::dispatch(&ing.api.contacts, ctx.clone(), op, input)
        .await
        .map_err(|e| operation_error(op, e, |e| (e.type_name(), e.body())))?;
    Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
}

fn plan_arn(integ: &Integration) -> String {
    crate::domain::arn::incidents_arn(&integ.account, "response-plan", &integ.plan)
}

/// Whether the incident is OPEN; a missing one counts as closed.
async fn is_open(ing: &Ingest, ctx: &Context, arn: &str) -> Result<bool, IngestError> {
    match incidents_op(ing, ctx, "GetIncidentRecord", json!({"arn": arn})).await {
        Ok(v) => Ok(v["incidentRecord"]["status"].as_str() == Some("OPEN")),
        Err(IngestError::Operation {
            code: "ResourceNotFoundException",
            ..
        }) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The open incident the event is about, if there is one.
async fn open_incident(
    ing: &Ingest,
    ctx: &Context,
    integ: &Integration,
    target: &Target,
) -> Result<Option<String>, IngestError> {
    let arn = match target {
        Target::Incident(id) => crate::domain::arn::incidents_arn(
            &integ.account,
            "incident-record",
            &format!("{}/{id}", integ.plan),
        ),
        Target::Key(key) => {
            let store = ing.api.incidents.store.as_ref();
            match index::head(store, &integ.account, &index::key_id(&integ.name, key)).await? {
                Some(h) => h.incident_arn,
                None => return Ok(None),
            }
        }
    };
    Ok(is_open(ing, ctx, &arn).await?.then_some(arn))
}

fn start_input(integ: &Integration, ev: &AlertEvent, token: &str, now: i64) -> Value {
    let title = ev
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("Alert from {} ({})", integ.name, ev.door.name()));
    let mut raw = ev.raw.to_string();
    if raw.chars().count() > RAW_MAX {
        raw = clip(&raw, RAW_MAX);
    }
    let mut seen = Vec::new();
    let related: Vec<Value> = ev
        .links
        .iter()
        .filter(|l| l.url.starts_with("http://") || l.url.starts_with("https://"))
        .filter(|l| l.url.len() <= URL_MAX)
        .filter(|l| {
            let fresh = !seen.contains(&l.url);
            seen.push(l.url.clone());
            fresh
        })
        .take(10)
        .map(|l| {
            let mut item = json!({"identifier": {"type": "OTHER", "value": {"url": l.url}}});
            if let Some(t) = l.title.as_deref().filter(|t| !t.is_empty()) {
                item["title"] = json!(clip(t, LINK_TITLE_MAX));
            }
            item
        })
        .collect();
    let when = ev.timestamp_ms.unwrap_or(now);
    let mut input = json!({
        "responsePlanArn": plan_arn(integ),
        "title": clip(&title, TITLE_MAX),
        "clientToken": token,
        "triggerDetails": {
            "source": ev.door.source(),
            "timestamp": when as f64 / 1000.0,
            "rawData": raw,
        },
    });
    if let Some(i) = ev.impact {
        input["impact"] = json!(i);
    }
    if !related.is_empty() {
        input["relatedItems"] = json!(related);
    }
    input
}

/// Does what the event asks.
pub async fn apply(
    ing: &Ingest,
    integ: &Integration,
    ev: &AlertEvent,
) -> Result<Outcome, IngestError> {
    let ctx = context(integ);
    match &ev.action {
        Action::Trigger => trigger(ing, &ctx, integ, ev).await,
        Action::Acknowledge => {
            let Some(arn) = open_incident(ing, &ctx, integ, &ev.target).await? else {
                return Ok(Outcome::NoIncident);
            };
            acknowledge(ing, &ctx, integ, ev.door, &arn).await?;
            Ok(Outcome::Acknowledged(arn))
        }
        Action::Resolve => {
            let Some(arn) = open_incident(ing, &ctx, integ, &ev.target).await? else {
                return Ok(Outcome::NoIncident);
            };
            incidents_op(
                ing,
                &ctx,
                "UpdateIncidentRecord",
                json!({"arn": arn, "status": "RESOLVED"}),
            )
            .await?;
            Ok(Outcome::Resolved(arn))
        }
        Action::Update { title, summary } => {
            let Some(arn) = open_incident(ing, &ctx, integ, &ev.target).await? else {
                return Ok(Outcome::NoIncident);
            };
            let mut input = json!({"arn": arn});
            if let Some(t) = title.as_deref().filter(|t| !t.trim().is_empty()) {
                input["title"] = json!(clip(t, TITLE_MAX));
            }
            if let Some(s) = summary {
                input["summary"] = json!(clip(s, SUMMARY_MAX));
            }
            incidents_op(ing, &ctx, "UpdateIncidentRecord", input).await?;
            Ok(Outcome::Updated(arn))
        }
    }
}

/// Tries of a start whose generation another node moved past meanwhile.
const TRIGGER_ATTEMPTS: usize = 3;

async fn trigger(
    ing: &Ingest,
    ctx: &Context,
    integ: &Integration,
    ev: &AlertEvent,
) -> Result<Outcome, IngestError> {
    let key = match &ev.target {
        Target::Key(k) => k.clone(),
        Target::Incident(_) => {
            return Err(IngestError::Invalid {
                field: "identifier",
                message: "a trigger needs a key".into(),
            });
        }
    };
    let store = ing.api.incidents.store.as_ref();
    let id = index::key_id(&integ.name, &key);
    for _ in 0..TRIGGER_ATTEMPTS {
        // The common case, a repeat, costs two reads and no transaction.
        let head = index::head(store, &integ.account, &id).await?;
        if let Some(h) = &head
            && is_open(ing, ctx, &h.incident_arn).await?
        {
            repeat(ing, ctx, integ, ev.door, &h.incident_arn).await;
            return Ok(Outcome::Repeated(h.incident_arn.clone()));
        }
        let generation = head.map(|h| h.generation + 1).unwrap_or(1);
        let token = index::client_token(&id, generation);
        let now = ing.clock.now_ms();
        let mine = start_input(integ, ev, &token, now);
        // Every node that races on this generation starts the very same input, so the client
        // token replays one incident to all of them.
        let input = index::claim(store, &integ.account, &id, generation, &mine, now).await?;
        let arn = start(ing, ctx, input).await?;
        index::advance(
            store,
            &integ.account,
            &id,
            generation,
            &arn,
            ing.clock.now_ms(),
        )
        .await?;
        if is_open(ing, ctx, &arn).await? {
            if !input_is(&mine, store, &integ.account, &id, generation).await {
                return Ok(Outcome::Repeated(arn));
            }
            // StartIncident takes no summary; the description joins the incident right after.
            if let Some(s) = ev.summary.as_deref().filter(|s| !s.trim().is_empty()) {
                let input = json!({"arn": arn, "summary": clip(s, SUMMARY_MAX)});
                if let Err(e) = incidents_op(ing, ctx, "UpdateIncidentRecord", input).await {
                    tracing::warn!(incident = %arn, error = %e, "could not set the summary of an alert's incident");
                }
            }
            return Ok(Outcome::Started(arn));
        }
    }
    Err(IngestError::Busy)
}

/// Whether this node's input is the one that won the claim (it then reports the start).
async fn input_is(
    mine: &Value,
    store: &dyn crate::storage::Store,
    account: &str,
    id: &str,
    generation: i64,
) -> bool {
    index::claimed(store, account, id, generation)
        .await
        .ok()
        .flatten()
        .is_some_and(|v| &v == mine)
}

/// StartIncident; a node that loses the commit race to another with the same token sees the
/// winner's incident on the next try.
async fn start(ing: &Ingest, ctx: &Context, input: Value) -> Result<String, IngestError> {
    let mut last = None;
    for _ in 0..3 {
        match incidents_op(ing, ctx, "StartIncident", input.clone()).await {
            Ok(v) => {
                return v["incidentRecordArn"]
                    .as_str()
                    .map(str::to_string)
                    .ok_or(IngestError::Busy);
            }
            Err(e @ IngestError::Operation { code, .. })
                if code == "InternalServerException" || code == "ConflictException" =>
            {
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(IngestError::Busy))
}

/// Notes a repeated trigger on the timeline, at most once a minute per incident.
async fn repeat(ing: &Ingest, ctx: &Context, integ: &Integration, door: Door, arn: &str) {
    let now = ing.clock.now_ms();
    let Some(count) = ing.repeats.note(arn, now) else {
        return;
    };
    let data = json!({
        "event": "Alert repeated",
        "integration": integ.name,
        "api": door.name(),
        "count": count,
    });
    let input = json!({
        "incidentRecordArn": arn,
        "eventTime": now as f64 / 1000.0,
        "eventType": "Custom Event",
        "eventData": data.to_string(),
    });
    if let Err(e) = incidents_op(ing, ctx, "CreateTimelineEvent", input).await {
        tracing::warn!(incident = %arn, integration = %integ.name, error = %e, "could not note a repeated alert");
    }
}

/// AcceptPage READ for every unread page of the incident's running engagements.
async fn acknowledge(
    ing: &Ingest,
    ctx: &Context,
    integ: &Integration,
    door: Door,
    arn: &str,
) -> Result<usize, IngestError> {
    let mut engagements = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut input = json!({"IncidentId": arn});
        if let Some(t) = &token {
            input["NextToken"] = json!(t);
        }
        let out = contacts_op(ing, ctx, "ListEngagements", input).await?;
        for e in out["Engagements"].as_array().into_iter().flatten() {
            if e["StopTime"].is_null()
                && let Some(a) = e["EngagementArn"].as_str()
            {
                engagements.push(a.to_string());
            }
        }
        token = out["NextToken"].as_str().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    let note = format!("acknowledged through {} ({})", integ.name, door.name());
    let mut read = 0;
    for e in &engagements {
        let mut token: Option<String> = None;
        loop {
            let mut input = json!({"EngagementId": e});
            if let Some(t) = &token {
                input["NextToken"] = json!(t);
            }
            let out = contacts_op(ing, ctx, "ListPagesByEngagement", input).await?;
            for p in out["Pages"].as_array().into_iter().flatten() {
                let Some(page) = p["PageArn"].as_str().filter(|_| p["ReadTime"].is_null()) else {
                    continue;
                };
                let accept = json!({
                    "PageId": page,
                    "AcceptType": "READ",
                    "AcceptCode": "000000",
                    "AcceptCodeValidation": "IGNORE",
                    "Note": note,
                });
                match contacts_op(ing, ctx, "AcceptPage", accept).await {
                    Ok(_) => read += 1,
                    Err(e) => {
                        tracing::warn!(page = %page, error = %e, "could not acknowledge a page for an alert")
                    }
                }
            }
            token = out["NextToken"].as_str().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
    }
    let data = json!({
        "event": "Alert acknowledged",
        "integration": integ.name,
        "api": door.name(),
        "pages": read,
    });
    let input = json!({
        "incidentRecordArn": arn,
        "eventTime": ing.clock.now_ms() as f64 / 1000.0,
        "eventType": "Custom Event",
        "eventData": data.to_string(),
    });
    incidents_op(ing, ctx, "CreateTimelineEvent", input).await?;
    Ok(read)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_and_priorities_map_to_impacts() {
        assert_eq!(severity_impact("critical"), Some(1));
        assert_eq!(severity_impact("Page"), Some(1));
        assert_eq!(severity_impact("error"), Some(2));
        assert_eq!(severity_impact("warning"), Some(3));
        assert_eq!(severity_impact("info"), Some(4));
        assert_eq!(severity_impact("{{ .CommonLabels.severity }}"), None);
        assert_eq!(priority_impact("p2"), Some(2));
        assert_eq!(priority_impact("P5"), Some(5));
        assert_eq!(priority_impact("P6"), None);
    }

    #[test]
    fn clips_by_characters() {
        assert_eq!(clip("héllo", 2), "hé");
    }
}
