//! Alerts in from monitoring tools, through three doors that already exist in those tools:
//! PagerDuty's Events API v2 (`POST /v2/enqueue`), Opsgenie's Alert API (`/v2/alerts…`) and
//! Alertmanager's webhook (`POST /hooks/alertmanager`). Each door only reads its wire format
//! into the shared `event::AlertEvent`; `event::apply` carries it out through the SSM
//! Incidents and Contacts operations, and `index` keeps the durable key → incident map.

pub mod alertmanager;
pub mod event;
pub mod index;
pub mod opsgenie;
pub mod pagerduty;

use crate::config::{Config, ConfigError, Secret};
use crate::domain::clock::Clock;
use crate::metrics::Metrics;
use axum::body::{Body, Bytes, to_bytes};
use event::{AlertEvent, Outcome};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use subtle::ConstantTimeEq;

/// PagerDuty refuses events over 512 KB; Opsgenie's requests are smaller still.
pub const MAX_EVENT_BYTES: usize = 512 * 1024;

/// How often a repeated trigger may land on an incident's timeline.
const REPEAT_NOTE_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The event cannot be acted on; `field` names what is wrong.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("{op} failed: {code}: {message}")]
    Operation {
        op: String,
        code: &'static str,
        message: String,
    },
    #[error("storage: {0}")]
    Store(#[from] crate::storage::StoreError),
    #[error("the key moved on while the incident was started; try again")]
    Busy,
}

impl IngestError {
    /// A fault of this Klaxon's set-up or state rather than of the event: the sender should
    /// retry (an unknown response plan is fixed by creating it).
    pub fn retryable(&self) -> bool {
        !matches!(self, IngestError::Invalid { .. })
    }
}

/// One configured integration, ready to answer.
pub struct Integration {
    pub name: String,
    key_digest: [u8; 32],
    pub plan: String,
    pub account: String,
    pub region: String,
    pub rate_per_minute: u32,
    window: Mutex<(i64, u32)>,
}

impl Integration {
    /// Whether one more event fits this minute.
    fn admit(&self, now: i64) -> bool {
        let Ok(mut w) = self.window.lock() else {
            return true;
        };
        let minute = now.div_euclid(60_000);
        if w.0 != minute {
            *w = (minute, 0);
        }
        if w.1 >= self.rate_per_minute {
            return false;
        }
        w.1 += 1;
        true
    }
}

/// When each incident last had a repeat noted, and how many repeats it has had, on this node.
#[derive(Default)]
pub struct Repeats(Mutex<HashMap<String, (u64, i64)>>);

impl Repeats {
    /// Counts a repeat; the count to note when a note is due.
    pub fn note(&self, incident: &str, now: i64) -> Option<u64> {
        let mut m = self.0.lock().ok()?;
        if m.len() > 10_000 {
            m.retain(|_, (_, last)| now - *last < REPEAT_NOTE_MS);
        }
        let e = m.entry(incident.to_string()).or_insert((0, i64::MIN));
        e.0 += 1;
        if e.1 == i64::MIN || now - e.1 >= REPEAT_NOTE_MS {
            e.1 = now;
            Some(e.0)
        } else {
            None
        }
    }
}

pub struct Ingest {
    pub api: Arc<crate::wire::Api>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    pub integrations: Vec<Integration>,
    pub repeats: Repeats,
    /// Alertmanager's webhook carries many alerts; it is bounded like the API.
    pub max_webhook_bytes: usize,
}

fn digest(s: &str) -> [u8; 32] {
    sha2::Sha256::digest(s.as_bytes()).into()
}

impl Ingest {
    pub fn new(
        config: &Config,
        api: Arc<crate::wire::Api>,
        metrics: Arc<Metrics>,
        default_account: Option<String>,
    ) -> Result<Ingest, ConfigError> {
        let mut integrations = Vec::new();
        for g in &config.integrations {
            let key: Secret = g.secret()?;
            let account = g
                .account_id
                .clone()
                .or_else(|| default_account.clone())
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "[[integrations]] {}: no account_id and no credentials to take one from",
                        g.name
                    ))
                })?;
            integrations.push(Integration {
                name: g.name.clone(),
                key_digest: digest(key.expose()),
                plan: g.response_plan.clone(),
                account,
                region: g
                    .region
                    .clone()
                    .or_else(|| config.regions.first().cloned())
                    .unwrap_or_default(),
                rate_per_minute: g.rate_per_minute,
                window: Mutex::new((i64::MIN, 0)),
            });
        }
        Ok(Ingest {
            clock: api.clock.clone(),
            api,
            metrics,
            integrations,
            repeats: Repeats::default(),
            max_webhook_bytes: config.max_body_bytes,
        })
    }

    /// The integration a key belongs to. Every key is compared, in constant time, by digest
    /// (so neither the match nor the key's length shows in the timing).
    pub fn find(&self, key: &str) -> Option<&Integration> {
        let d = digest(key);
        let mut found = None;
        for g in &self.integrations {
            if bool::from(g.key_digest.ct_eq(&d)) {
                found = Some(g);
            }
        }
        found
    }

    /// Counts the event, carries it out, counts what it came to.
    pub async fn handle(
        &self,
        integ: &Integration,
        ev: &AlertEvent,
    ) -> Result<Outcome, IngestError> {
        for field in &ev.defaulted {
            self.metrics
                .alert_default(&integ.name, ev.door.name(), field);
        }
        let res = event::apply(self, integ, ev).await;
        let outcome = match &res {
            Ok(o) => o.name(),
            Err(IngestError::Invalid { .. }) => "invalid",
            Err(_) => "error",
        };
        self.metrics
            .alert_event(&integ.name, ev.door.name(), ev.action.name(), outcome);
        match &res {
            Ok(o) => {
                tracing::info!(integration = %integ.name, api = ev.door.name(), action = ev.action.name(), outcome = o.name(), "alert event")
            }
            Err(e) => {
                tracing::warn!(integration = %integ.name, api = ev.door.name(), action = ev.action.name(), error = %e, "alert event failed")
            }
        }
        res
    }

    /// A refusal before any integration was found (no key, bad key, bad body): counted under
    /// integration "-" and logged without the key.
    pub fn refused(&self, door: event::Door, why: &str) {
        self.metrics.alert_event("-", door.name(), "-", why);
        tracing::info!(api = door.name(), reason = why, "alert event refused");
    }

    /// Whether the integration may take another event now; counts and logs a refusal.
    pub fn admit(&self, integ: &Integration, door: event::Door) -> bool {
        if integ.admit(self.clock.now_ms()) {
            return true;
        }
        self.metrics
            .alert_event(&integ.name, door.name(), "-", "rate_limited");
        tracing::info!(integration = %integ.name, api = door.name(), limit = integ.rate_per_minute, "alert event over the rate limit");
        false
    }
}

/// A JSON answer, in whichever door's shape `body` is.
pub fn json_response(
    status: axum::http::StatusCode,
    body: &serde_json::Value,
) -> axum::response::Response {
    let mut r = axum::response::Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        axum::http::HeaderValue::from_static("application/json"),
    );
    r
}

/// The body, or None when it is larger than `limit`.
pub async fn read_body(body: Body, limit: usize) -> Option<Bytes> {
    to_bytes(body, limit).await.ok()
}

pub fn routes(ingest: Arc<Ingest>) -> axum::Router {
    use axum::routing::{post, put};
    axum::Router::new()
        .route("/v2/enqueue", post(pagerduty::enqueue))
        .route("/v2/alerts", post(opsgenie::create))
        .route(
            "/v2/alerts/{identifier}/acknowledge",
            post(opsgenie::acknowledge),
        )
        .route("/v2/alerts/{identifier}/close", post(opsgenie::close))
        .route("/v2/alerts/{identifier}/message", put(opsgenie::message))
        .route(
            "/v2/alerts/{identifier}/description",
            put(opsgenie::description),
        )
        .route("/hooks/alertmanager", post(alertmanager::webhook))
        .with_state(ingest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_noted_once_a_minute_with_their_count() {
        let r = Repeats::default();
        assert_eq!(r.note("i", 1_000), Some(1));
        assert_eq!(r.note("i", 2_000), None);
        assert_eq!(r.note("i", 30_000), None);
        assert_eq!(r.note("i", 61_000), Some(4));
        assert_eq!(r.note("j", 61_000), Some(1));
    }

    #[test]
    fn the_rate_limit_is_per_minute() {
        let g = Integration {
            name: "n".into(),
            key_digest: digest("k"),
            plan: "p".into(),
            account: "111122223333".into(),
            region: "us-east-1".into(),
            rate_per_minute: 2,
            window: Mutex::new((i64::MIN, 0)),
        };
        assert!(g.admit(0));
        assert!(g.admit(1));
        assert!(!g.admit(59_999));
        assert!(g.admit(60_000));
    }
}
