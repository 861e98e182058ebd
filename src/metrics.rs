//! Prometheus metrics in the text exposition format, kept in memory by this process. Each
//! series is documented in the README; gauges that describe shared state (open engagements,
//! timers) are read from the store at scrape time so every node reports the same truth.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Upper bounds in seconds, from sub-millisecond API calls to minutes-late timers.
const BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        let secs = secs.max(0.0);
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, le) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {}",
                self.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
            self.count
        );
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {}", self.sum);
        let _ = writeln!(out, "{name}_count{braces} {}", self.count);
    }
}

/// (integration, api, action, outcome)
type AlertKey = (String, &'static str, String, String);

#[derive(Default)]
pub struct Metrics {
    /// (service, operation, outcome) → latency
    api: Mutex<BTreeMap<(String, String, String), Histogram>>,
    first_send: Mutex<Histogram>,
    lateness: Mutex<Histogram>,
    /// (channel type, purpose, outcome) → count
    sends: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    /// (integration, api, action, outcome) → count
    alerts: Mutex<BTreeMap<AlertKey, u64>>,
    /// (integration, api, field) → events accepted with a default for a missing or unknown field
    alert_defaults: Mutex<BTreeMap<(String, &'static str, &'static str), u64>>,
    timers_claimed: std::sync::atomic::AtomicU64,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Metrics {
    pub fn api(&self, service: &str, operation: &str, outcome: &str, secs: f64) {
        if let Ok(mut m) = self.api.lock() {
            m.entry((service.into(), operation.into(), outcome.into()))
                .or_default()
                .observe(secs);
        }
    }

    /// From StartEngagement to a successful first-stage, first-attempt send.
    pub fn first_send(&self, ms: i64) {
        if let Ok(mut h) = self.first_send.lock() {
            h.observe(ms as f64 / 1000.0);
        }
    }

    /// How long after its due time a timer was run.
    pub fn timer_lateness(&self, ms: i64) {
        if let Ok(mut h) = self.lateness.lock() {
            h.observe(ms as f64 / 1000.0);
        }
    }

    /// One message handed to a channel; `outcome` is sent, error (failed for now) or rejected.
    pub fn sent(&self, channel_type: &str, outcome: &'static str, page: bool) {
        let purpose = if page { "page" } else { "activation" };
        if let Ok(mut m) = self.sends.lock() {
            *m.entry((channel_type.into(), purpose, outcome))
                .or_default() += 1;
        }
    }

    /// One event through an alert door (PagerDuty, Opsgenie, Alertmanager).
    pub fn alert_event(&self, integration: &str, api: &'static str, action: &str, outcome: &str) {
        if let Ok(mut m) = self.alerts.lock() {
            *m.entry((integration.into(), api, action.into(), outcome.into()))
                .or_default() += 1;
        }
    }

    /// Timers this node leased to run.
    pub fn timers_claimed(&self, n: u64) {
        self.timers_claimed
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// An alert accepted although `field` was missing or unknown (a default took its place).
    pub fn alert_default(&self, integration: &str, api: &'static str, field: &'static str) {
        if let Ok(mut m) = self.alert_defaults.lock() {
            *m.entry((integration.into(), api, field)).or_default() += 1;
        }
    }

    /// The exposition text; `gauges` and `counters` are (name, help, value) read by the caller.
    pub fn render(&self, gauges: &[(&str, &str, i64)], counters: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let claimed = self
            .timers_claimed
            .load(std::sync::atomic::Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP klaxon_timers_claimed_total Engine timers this node leased to run.\n# TYPE klaxon_timers_claimed_total counter\nklaxon_timers_claimed_total {claimed}"
        );
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        }
        out.push_str("# HELP klaxon_api_request_duration_seconds API requests by service, operation and outcome (success or the AWS error code).\n# TYPE klaxon_api_request_duration_seconds histogram\n");
        if let Ok(m) = self.api.lock() {
            for ((service, op, outcome), h) in m.iter() {
                let labels = format!(
                    "service=\"{}\",operation=\"{}\",outcome=\"{}\"",
                    escape(service),
                    escape(op),
                    escape(outcome)
                );
                h.render(&mut out, "klaxon_api_request_duration_seconds", &labels);
            }
        }
        out.push_str("# HELP klaxon_engagement_first_send_seconds From StartEngagement to each successful first send of its first stage.\n# TYPE klaxon_engagement_first_send_seconds histogram\n");
        if let Ok(h) = self.first_send.lock() {
            h.render(&mut out, "klaxon_engagement_first_send_seconds", "");
        }
        out.push_str("# HELP klaxon_timer_lateness_seconds How late engine timers (stages, retries, sends) ran after their due time.\n# TYPE klaxon_timer_lateness_seconds histogram\n");
        if let Ok(h) = self.lateness.lock() {
            h.render(&mut out, "klaxon_timer_lateness_seconds", "");
        }
        out.push_str("# HELP klaxon_sends_total Messages handed to a channel, by channel type, purpose and outcome.\n# TYPE klaxon_sends_total counter\n");
        if let Ok(m) = self.sends.lock() {
            for ((channel, purpose, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "klaxon_sends_total{{channel_type=\"{}\",purpose=\"{purpose}\",outcome=\"{outcome}\"}} {n}",
                    escape(channel)
                );
            }
        }
        out.push_str("# HELP klaxon_alert_events_total Events through the alert doors, by integration, api, action and outcome.\n# TYPE klaxon_alert_events_total counter\n");
        if let Ok(m) = self.alerts.lock() {
            for ((integration, api, action, outcome), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "klaxon_alert_events_total{{integration=\"{}\",api=\"{api}\",action=\"{}\",outcome=\"{}\"}} {n}",
                    escape(integration),
                    escape(action),
                    escape(outcome)
                );
            }
        }
        out.push_str("# HELP klaxon_alert_event_defaults_total Alert events accepted with a default for a missing or unknown field (severity, summary).\n# TYPE klaxon_alert_event_defaults_total counter\n");
        if let Ok(m) = self.alert_defaults.lock() {
            for ((integration, api, field), n) in m.iter() {
                let _ = writeln!(
                    out,
                    "klaxon_alert_event_defaults_total{{integration=\"{}\",api=\"{api}\",field=\"{field}\"}} {n}",
                    escape(integration)
                );
            }
        }
        for (name, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_cumulative_buckets_and_labels() {
        let m = Metrics::default();
        m.api("ssm-contacts", "GetContact", "success", 0.002);
        m.api("ssm-contacts", "GetContact", "success", 0.2);
        m.sent("SMS", "error", true);
        m.timer_lateness(30);
        let text = m.render(&[("klaxon_due_timers", "Timers due now.", 3)], &[]);
        assert!(text.contains("klaxon_api_request_duration_seconds_bucket{service=\"ssm-contacts\",operation=\"GetContact\",outcome=\"success\",le=\"0.0025\"} 1"));
        assert!(text.contains("klaxon_api_request_duration_seconds_bucket{service=\"ssm-contacts\",operation=\"GetContact\",outcome=\"success\",le=\"+Inf\"} 2"));
        assert!(text.contains(
            "klaxon_sends_total{channel_type=\"SMS\",purpose=\"page\",outcome=\"error\"} 1"
        ));
        assert!(text.contains("klaxon_timer_lateness_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("klaxon_timer_lateness_seconds_count 1"));
        assert!(text.contains("# TYPE klaxon_due_timers gauge\nklaxon_due_timers 3"));
    }
}
