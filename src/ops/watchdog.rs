//! `[watchdog]`: while this server is ready, it calls an outside checker's URL every
//! `every_secs`, so that the checker (a second Klaxon's heartbeat, a healthchecks-style service,
//! Opsgenie's heartbeat ping) raises the alarm when the calls stop. An unready server stays
//! silent on purpose: silence is the signal.

use crate::config::{WatchdogConfig, WatchdogMethod};
use crate::engine::Engine;
use crate::storage::Store;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(config: WatchdogConfig, store: Arc<dyn Store>, engine: Arc<Engine>) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the watchdog cannot build its HTTP client; it will not call");
            return;
        }
    };
    let target = redacted(&config.url);
    let mut every = tokio::time::interval(Duration::from_secs(config.every_secs));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        every.tick().await;
        if let Some(reason) = crate::app::not_ready(store.as_ref(), Some(&engine)).await {
            tracing::warn!(%reason, "not ready: the watchdog call is skipped");
            continue;
        }
        let req = match config.method {
            WatchdogMethod::Get => client.get(&config.url),
            WatchdogMethod::Post => client.post(&config.url).body(""),
        };
        match req.send().await {
            Ok(r) if r.status().is_success() => {
                if failing {
                    tracing::info!(url = %target, "the watchdog's checker answers again");
                }
                failing = false;
            }
            Ok(r) => {
                tracing::warn!(url = %target, status = r.status().as_u16(), "the watchdog's checker refused the call");
                failing = true;
            }
            Err(e) => {
                tracing::warn!(url = %target, error = %without_url(&e), "the watchdog's checker is unreachable");
                failing = true;
            }
        }
    }
}

/// The URL without its path and query: checkers put their secret token there.
fn redacted(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?']).next().unwrap_or("");
            let host = host.rsplit('@').next().unwrap_or(host);
            format!("{scheme}://{host}/…")
        }
        None => "…".into(),
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut e = e.to_string();
    if let Some(start) = e.find(" for url (") {
        e.truncate(start);
    }
    e
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_logged_url_keeps_the_host_only() {
        assert_eq!(
            super::redacted("https://hc.example.com/ping/5f2c-secret?x=1"),
            "https://hc.example.com/…"
        );
        assert_eq!(
            super::redacted("https://user:pw@hc.example.com/p"),
            "https://hc.example.com/…"
        );
    }
}
