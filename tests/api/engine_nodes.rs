//! Several engine instances on one PostgreSQL database: they share the due work without ever
//! sending the same attempt twice, and when one dies mid-send the others finish its work once
//! its leases run out.

use crate::channels::personal;
use crate::engagements::{active_channel, channel_stage, set_plan};
use crate::helpers::*;
use crate::storage::{drop_database, fresh_database, postgres_url};
use async_trait::async_trait;
use aws_sdk_ssmcontacts::types::ChannelType;
use klaxon::config::EngineConfig;
use klaxon::delivery::recording::RecordingChannel;
use klaxon::delivery::{Channel, DeliveryError, MessageKind, OutboundMessage, Registry};
use klaxon::domain::clock::{Clock, Durations};
use klaxon::engine::Engine;
use klaxon::metrics::Metrics;
use klaxon::storage::postgres::PostgresStore;
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Notify;

/// A fresh Postgres database with a server on it, or None (skipped outside CI).
async fn postgres_app() -> Option<(TestApp, String, String, String)> {
    let url = postgres_url().await?;
    let Some((fresh, name)) = fresh_database(&url).await else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no fresh database could be made"
        );
        eprintln!("SKIPPED: cannot create a database; multi-node engine tests did not run");
        return None;
    };
    let app = spawn_with(Setup {
        database_url: Some(fresh.clone()),
        ..Setup::default()
    })
    .await;
    Some((app, url, fresh, name))
}

async fn node(app: &TestApp, url: &str, channel: Arc<dyn Channel>) -> Arc<Engine> {
    // Small pools: this file's tests run side by side under the server's connection limit.
    let store = Arc::new(PostgresStore::open_sized(url, 4).await.unwrap());
    Engine::new(
        store,
        app.clock.clone() as Arc<dyn Clock>,
        Registry::all(channel),
        Durations { time_scale: 1.0 },
        Arc::new(Metrics::default()),
        EngineConfig {
            batch: 16,
            // Hundreds of pages go to each of five channels here.
            max_sends_per_channel_per_minute: 0,
            ..EngineConfig::default()
        },
        Arc::new(Notify::new()),
    )
}

/// Contacts with an activated SMS channel each, then `n` engagements spread over them.
async fn engagements(app: &TestApp, n: usize) -> Vec<String> {
    let mut contacts = Vec::new();
    for i in 0..5 {
        let c = personal(app, &format!("node-{i}")).await;
        let sms = active_channel(app, &c, ChannelType::Sms, "+12065550100").await;
        set_plan(app, &c, vec![channel_stage(5, &[(&sms, 0)])]).await;
        contacts.push(c);
    }
    let client = app.contacts();
    let mut arns = Vec::new();
    for i in 0..n {
        let out = client
            .start_engagement()
            .contact_id(&contacts[i % contacts.len()])
            .sender("race")
            .subject(format!("engagement {i}"))
            .content("c")
            .send()
            .await
            .unwrap();
        arns.push(out.engagement_arn);
    }
    arns
}

fn page_keys(sent: &[OutboundMessage]) -> Vec<String> {
    sent.iter()
        .filter(|m| m.kind == MessageKind::Page)
        .map(|m| m.idempotency_key.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_500_engagements_without_a_duplicate_or_a_loss() {
    let Some((app, url, fresh, name)) = postgres_app().await else {
        return;
    };
    let arns = engagements(&app, 500).await;
    let sent = Arc::new(RecordingChannel::default());
    let (a, b, c) = (
        node(&app, &fresh, sent.clone()).await,
        node(&app, &fresh, sent.clone()).await,
        node(&app, &fresh, sent.clone()).await,
    );
    let now = app.clock.now_ms();
    let (ra, rb, rc) = tokio::join!(
        tokio::spawn({
            let a = a.clone();
            async move { a.tick(now).await.unwrap() }
        }),
        tokio::spawn({
            let b = b.clone();
            async move { b.tick(now).await.unwrap() }
        }),
        tokio::spawn({
            let c = c.clone();
            async move { c.tick(now).await.unwrap() }
        }),
    );
    let (ra, rb, rc) = (ra.unwrap(), rb.unwrap(), rc.unwrap());
    eprintln!(
        "work split: {} / {} / {} timers",
        ra.processed, rb.processed, rc.processed
    );
    assert_eq!(ra.failed + rb.failed + rc.failed, 0);
    let keys = page_keys(&sent.sent());
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 500, "every engagement paged");
    assert_eq!(unique.len(), 500, "no attempt sent twice");
    let paged: HashSet<String> = sent
        .sent()
        .iter()
        .filter_map(|m| m.engagement_arn.clone())
        .collect();
    assert_eq!(paged, arns.into_iter().collect::<HashSet<_>>());
    assert_eq!(a.tick(now).await.unwrap().processed, 0);
    drop_database(&url, &name).await;
}

/// A channel that never finishes a send: the node using it hangs mid-send until it is killed.
#[derive(Default)]
struct Hanging {
    begun: AtomicUsize,
    signal: Notify,
}

#[async_trait]
impl Channel for Hanging {
    fn name(&self) -> &'static str {
        "hanging"
    }
    async fn send(&self, _: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        self.begun.fetch_add(1, Ordering::SeqCst);
        self.signal.notify_one();
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_node_dies_mid_send_the_others_finish_its_work_after_the_lease() {
    let Some((app, url, fresh, name)) = postgres_app().await else {
        return;
    };
    engagements(&app, 200).await;
    let hanging = Arc::new(Hanging::default());
    let dying = node(&app, &fresh, hanging.clone()).await;
    let now = app.clock.now_ms();
    let task = tokio::spawn({
        let dying = dying.clone();
        async move { dying.tick(now).await }
    });
    while hanging.begun.load(Ordering::SeqCst) < 16 {
        hanging.signal.notified().await;
    }
    task.abort();
    let _ = task.await;
    let in_flight = hanging.begun.load(Ordering::SeqCst);

    let sent = Arc::new(RecordingChannel::default());
    let (b, c) = (
        node(&app, &fresh, sent.clone()).await,
        node(&app, &fresh, sent.clone()).await,
    );
    let (rb, rc) = tokio::join!(b.tick(now), c.tick(now));
    let before_expiry = rb.unwrap().processed + rc.unwrap().processed;
    assert_eq!(
        page_keys(&sent.sent()).len(),
        200 - in_flight,
        "the dead node's claims wait for its lease"
    );
    assert!(before_expiry > 0);

    app.clock.advance_ms(EngineConfig::default().lease_ms + 1);
    let later = app.clock.now_ms();
    let (rb, rc) = tokio::join!(b.tick(later), c.tick(later));
    assert_eq!(rb.unwrap().processed + rc.unwrap().processed, in_flight);
    let keys = page_keys(&sent.sent());
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), 200, "all delivered by the survivors");
    assert_eq!(unique.len(), 200, "once each");
    drop_database(&url, &name).await;
}

/// Counts sends and wakes a waiter on each.
#[derive(Default)]
struct Signalling {
    sent: AtomicUsize,
    signal: Notify,
}

#[async_trait]
impl Channel for Signalling {
    fn name(&self) -> &'static str {
        "signalling"
    }
    async fn send(&self, _: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        self.sent.fetch_add(1, Ordering::SeqCst);
        self.signal.notify_one();
        Ok("ok".into())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_started_on_one_node_wakes_another_through_the_database() {
    let Some((app, url, fresh, name)) = postgres_app().await else {
        return;
    };
    let contact = personal(&app, "notify").await;
    let sms = active_channel(&app, &contact, ChannelType::Sms, "+12065550100").await;
    set_plan(&app, &contact, vec![channel_stage(5, &[(&sms, 0)])]).await;
    // The other node runs its own loop on the real clock with a one-minute fallback poll, so
    // only the notification can make it pick the page up within the timeout below.
    let seen = Arc::new(Signalling::default());
    let other = Engine::new(
        Arc::new(PostgresStore::open_sized(&fresh, 4).await.unwrap()),
        Arc::new(klaxon::domain::clock::SystemClock),
        Registry::all(seen.clone()),
        Durations { time_scale: 1.0 },
        Arc::new(Metrics::default()),
        EngineConfig {
            poll_ms: 60_000,
            ..EngineConfig::default()
        },
        Arc::new(Notify::new()),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let looping = tokio::spawn(other.clone().run(stopped));
    // The first page may be found by the loop's first look at the store; after it the loop
    // sleeps, so the second can only be picked up through the notification.
    for n in 1..=2 {
        let started = std::time::Instant::now();
        app.contacts()
            .start_engagement()
            .contact_id(&contact)
            .sender("s")
            .subject(format!("page {n}"))
            .content("c")
            .send()
            .await
            .unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while seen.sent.load(Ordering::SeqCst) < n {
                seen.signal.notified().await;
            }
        })
        .await
        .expect("the other node was woken by the notification");
        eprintln!(
            "page {n} picked up by the other node after {:?}",
            started.elapsed()
        );
    }
    let _ = stop.send(true);
    looping.await.unwrap();
    drop_database(&url, &name).await;
}
