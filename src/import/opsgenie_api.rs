//! Opsgenie's REST API (v2) as far as the import reads it: the JSON shapes of its User,
//! Contact, Notification Rule, Schedule (with rotations), Schedule Override and Escalation
//! APIs, and a client that pages through every list and waits out rate limiting.

use crate::config::Secret;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

pub const DEFAULT_URL: &str = "https://api.opsgenie.com";

/// Rate-limited answers are retried this many times before the request counts as failed.
const MAX_RETRIES: u32 = 8;
const PAGE: usize = 100;

#[derive(Debug, Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct One<T> {
    data: T,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub username: String,
    pub full_name: Option<String>,
    pub time_zone: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactStatus {
    #[serde(default)]
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Contact {
    pub id: String,
    pub method: String,
    pub to: String,
    pub status: Option<ContactStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRule {
    pub id: String,
    pub name: Option<String>,
    pub action_type: String,
    pub order: Option<i64>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimeAmount {
    pub time_amount: i64,
    pub time_unit: Option<String>,
}

impl TimeAmount {
    pub fn minutes(&self) -> i64 {
        match self.time_unit.as_deref() {
            Some("hours") => self.time_amount.saturating_mul(60),
            Some("days") => self.time_amount.saturating_mul(24 * 60),
            _ => self.time_amount,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactMeta {
    pub method: String,
    pub to: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub send_after: Option<TimeAmount>,
    pub contact: ContactMeta,
    pub enabled: Option<bool>,
}

/// A user, team, escalation, schedule or `none` named in a rotation, override or rule.
#[derive(Debug, Clone, Deserialize)]
pub struct Participant {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: Option<String>,
    pub username: Option<String>,
    pub name: Option<String>,
}

impl Participant {
    pub fn label(&self) -> String {
        let who = self
            .username
            .clone()
            .or_else(|| self.name.clone())
            .or_else(|| self.id.clone())
            .unwrap_or_default();
        format!("{} {who}", self.kind)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restriction {
    pub start_day: Option<String>,
    pub end_day: Option<String>,
    pub start_hour: i32,
    #[serde(default)]
    pub start_min: i32,
    pub end_hour: i32,
    #[serde(default)]
    pub end_min: i32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TimeRestriction {
    /// `time-of-day` (one `restriction`) or `weekday-and-time-of-day` (`restrictions`).
    #[serde(rename = "type")]
    pub kind: String,
    pub restriction: Option<Restriction>,
    pub restrictions: Option<Vec<Restriction>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    pub id: String,
    pub name: Option<String>,
    pub start_date: String,
    pub end_date: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub length: Option<u32>,
    #[serde(default)]
    pub participants: Vec<Participant>,
    pub time_restriction: Option<TimeRestriction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub timezone: Option<String>,
    pub enabled: Option<bool>,
    #[serde(default)]
    pub rotations: Vec<Rotation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Named {
    pub id: Option<String>,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Override {
    pub alias: String,
    pub user: Participant,
    pub start_date: String,
    pub end_date: String,
    #[serde(default)]
    pub rotations: Vec<Named>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EscalationRule {
    pub condition: Option<String>,
    pub notify_type: Option<String>,
    pub delay: TimeAmount,
    pub recipient: Participant,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Escalation {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub rules: Vec<EscalationRule>,
}

pub struct Api {
    http: reqwest::Client,
    base: String,
    key: Secret,
}

fn backoff(attempt: u32, retry_after: Option<&reqwest::header::HeaderValue>) -> Duration {
    let told = retry_after
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    told.unwrap_or_else(|| Duration::from_millis(250 << attempt.min(6)))
}

impl Api {
    pub fn new(base: &str, key: Secret) -> Api {
        // reqwest is built without a default TLS provider; the server's own (ring) is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Api {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_string(),
            key,
        }
    }

    async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let mut attempt = 0;
        loop {
            let resp = self
                .http
                .get(url)
                .header(
                    reqwest::header::AUTHORIZATION,
                    format!("GenieKey {}", self.key.expose()),
                )
                .send()
                .await
                .map_err(|e| format!("GET {}: {e}", strip_query(url)))?;
            let status = resp.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS && attempt < MAX_RETRIES {
                let wait = backoff(attempt, resp.headers().get(reqwest::header::RETRY_AFTER));
                attempt += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            if !status.is_success() {
                let body = resp.text().await.unwrap_or_default();
                return Err(format!(
                    "GET {}: {status} {}",
                    strip_query(url),
                    body.chars().take(200).collect::<String>()
                ));
            }
            return resp
                .json()
                .await
                .map_err(|e| format!("GET {}: unexpected answer: {e}", strip_query(url)));
        }
    }

    /// Every item of a paged list, following `paging.next` until a page comes back empty or
    /// without one.
    async fn list<T: DeserializeOwned>(&self, path: &str) -> Result<Vec<T>, String> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{}{path}{sep}offset=0&limit={PAGE}", self.base);
        let mut out = Vec::new();
        loop {
            let page: Page<T> = self.get(&url).await?;
            let empty = page.data.is_empty();
            out.extend(page.data);
            match page.paging.and_then(|p| p.next) {
                // The key goes with every request: only to the API it was given for.
                Some(next) if !empty && next != url && next.starts_with(&self.base) => url = next,
                _ => return Ok(out),
            }
        }
    }

    pub async fn users(&self) -> Result<Vec<User>, String> {
        self.list("/v2/users").await
    }

    pub async fn contacts(&self, user: &str) -> Result<Vec<Contact>, String> {
        self.list(&format!("/v2/users/{user}/contacts")).await
    }

    pub async fn notification_rules(&self, user: &str) -> Result<Vec<NotificationRule>, String> {
        self.list(&format!("/v2/users/{user}/notification-rules"))
            .await
    }

    /// A rule with its steps (the list gives the rules without them).
    pub async fn notification_rule(
        &self,
        user: &str,
        rule: &str,
    ) -> Result<NotificationRule, String> {
        let one: One<NotificationRule> = self
            .get(&format!(
                "{}/v2/users/{user}/notification-rules/{rule}",
                self.base
            ))
            .await?;
        Ok(one.data)
    }

    pub async fn schedules(&self) -> Result<Vec<Schedule>, String> {
        self.list("/v2/schedules?expand=rotation").await
    }

    pub async fn overrides(&self, schedule: &str) -> Result<Vec<Override>, String> {
        self.list(&format!("/v2/schedules/{schedule}/overrides"))
            .await
    }

    pub async fn escalations(&self) -> Result<Vec<Escalation>, String> {
        self.list("/v2/escalations").await
    }
}

/// A URL for messages: the path only, since queries are noise here.
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}
