//! `kill -9` of a real `klaxon serve` in the middle of paging, then a restart on the same data:
//! every page is delivered, and nothing is sent twice except what was in flight at the kill.
//! The plans' stages are 0 minutes long, so all work is due at once and the test waits for the
//! process to finish it, not for timers.

use crate::helpers::{ACCOUNT, KEY, REGION, SECRET};
use crate::process::{free_addr, serve, serve_with};
use aws_sdk_ssmcontacts::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_ssmcontacts::types::{
    ChannelTargetInfo, ChannelType, ContactChannelAddress, ContactType, Plan, Stage, Target,
};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

pub fn client(addr: &str) -> aws_sdk_ssmcontacts::Client {
    let conf = aws_sdk_ssmcontacts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(KEY, SECRET, None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build();
    aws_sdk_ssmcontacts::Client::from_conf(conf)
}

pub fn outbox(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("outbox.jsonl"))
        .unwrap_or_default()
        .lines()
        // A line cut short by the kill is not a delivered message.
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Polls the outbox until `done` holds (the process is working through due work).
pub async fn until(dir: &Path, what: &str, done: impl Fn(&[serde_json::Value]) -> bool) {
    let started = Instant::now();
    loop {
        if done(&outbox(dir)) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn pages(lines: &[serde_json::Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["kind"] == "PAGE")
        .map(|l| l["idempotencyKey"].as_str().unwrap().to_string())
        .collect()
}

/// A contact paged on three activated channels (SMS, email, voice), one 0-minute stage each,
/// activated through the codes the server's log channel wrote to `dir`'s outbox.
pub async fn three_channel_contact(c: &aws_sdk_ssmcontacts::Client, dir: &Path) -> String {
    let contact = c
        .create_contact()
        .alias("crash")
        .r#type(ContactType::Personal)
        .plan(Plan::builder().set_stages(Some(vec![])).build())
        .send()
        .await
        .unwrap()
        .contact_arn;
    let mut channels = Vec::new();
    for (t, address) in [
        (ChannelType::Sms, "+12065550100"),
        (ChannelType::Email, "crash@example.com"),
        (ChannelType::Voice, "+12065550101"),
    ] {
        let ch = c
            .create_contact_channel()
            .contact_id(&contact)
            .name("c")
            .r#type(t)
            .delivery_address(
                ContactChannelAddress::builder()
                    .simple_address(address)
                    .build(),
            )
            .send()
            .await
            .unwrap()
            .contact_channel_arn;
        until(dir, "an activation code", |l| {
            l.iter().any(|m| m["contactChannelArn"] == ch.as_str())
        })
        .await;
        let code = outbox(dir)
            .iter()
            .rev()
            .find(|m| m["contactChannelArn"] == ch.as_str())
            .unwrap()["code"]
            .as_str()
            .unwrap()
            .to_string();
        c.activate_contact_channel()
            .contact_channel_id(&ch)
            .activation_code(code)
            .send()
            .await
            .unwrap();
        channels.push(ch);
    }
    let stages = channels
        .iter()
        .map(|ch| {
            Stage::builder()
                .duration_in_minutes(0)
                .targets(
                    Target::builder()
                        .channel_target_info(
                            ChannelTargetInfo::builder()
                                .contact_channel_id(ch)
                                .retry_interval_in_minutes(0)
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap()
        })
        .collect();
    c.update_contact()
        .contact_id(&contact)
        .plan(Plan::builder().set_stages(Some(stages)).build())
        .send()
        .await
        .unwrap();
    contact
}

/// Starts up to 400 engagements of `contact` one after another, until the server stops
/// answering (it was killed or told to stop).
pub fn start_until_refused(
    c: &aws_sdk_ssmcontacts::Client,
    contact: &str,
    sender: &str,
) -> tokio::task::JoinHandle<()> {
    let (c, contact, sender) = (c.clone(), contact.to_string(), sender.to_string());
    tokio::spawn(async move {
        for i in 0..400 {
            let out = c
                .start_engagement()
                .contact_id(&contact)
                .sender(&sender)
                .subject(format!("page {i}"))
                .content("c")
                .send()
                .await;
            if out.is_err() {
                break;
            }
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_paging_then_restart_delivers_every_page_and_repeats_at_most_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let server = serve(dir.path(), &addr).await;
    let c = client(&addr);
    let contact = three_channel_contact(&c, dir.path()).await;

    // Engagements keep being started while the server is killed: some requests fail.
    let starter = start_until_refused(&c, &contact, "crash-test");
    until(dir.path(), "paging under way", |l| pages(l).len() >= 30).await;
    let mut server = server;
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    starter.await.unwrap();
    let before = pages(&outbox(dir.path())).len();

    let _server = serve(dir.path(), &addr).await;
    let resumed = client(&addr);
    let mut engagements = 0;
    let mut token = None;
    loop {
        let out = resumed
            .list_engagements()
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        engagements += out.engagements.len();
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    assert!(
        before < engagements * 3,
        "the kill came too late to test anything ({before} pages out)"
    );
    until(dir.path(), "every page after the restart", |l| {
        let keys = pages(l);
        let unique: std::collections::HashSet<&String> = keys.iter().collect();
        unique.len() >= engagements * 3
    })
    .await;
    let keys = pages(&outbox(dir.path()));
    let mut times: HashMap<&String, usize> = HashMap::new();
    for k in &keys {
        *times.entry(k).or_default() += 1;
    }
    assert_eq!(
        times.len(),
        engagements * 3,
        "three stages of every engagement"
    );
    let repeated = times.values().filter(|n| **n > 1).count();
    assert!(
        times.values().all(|n| *n <= 2),
        "an attempt was sent more than twice"
    );
    // Only sends in flight at the kill (claimed, handed to the channel, outcome not committed)
    // can repeat, and one node has at most one claimed batch in flight.
    let batch = klaxon::config::EngineConfig::default().batch as usize;
    assert!(
        repeated <= batch,
        "{repeated} attempts repeated after one kill"
    );
    eprintln!(
        "{before} of {} pages were out at the kill; {repeated} repeated after the restart",
        engagements * 3
    );
}

/// Every write that was answered is on disk: 16 clients create contacts until the server is
/// killed with SIGKILL; after a restart each contact whose CreateContact got an answer exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_keeps_every_answered_write() {
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let server = serve(dir.path(), &addr).await;
    let c = client(&addr);
    let answered = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (c, answered) = (c.clone(), answered.clone());
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let alias = format!("w{w}-{i}");
                let out = c
                    .create_contact()
                    .alias(&alias)
                    .r#type(ContactType::Personal)
                    .plan(Plan::builder().set_stages(Some(vec![])).build())
                    .send()
                    .await;
                match out {
                    Ok(_) => answered.lock().unwrap().push(alias),
                    Err(_) => break,
                }
            }
        }));
    }
    let started = Instant::now();
    while answered.lock().unwrap().len() < 300 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "writes are slow"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut server = server;
    server.0.kill().unwrap(); // SIGKILL, with writes in flight
    server.0.wait().unwrap();
    for w in writers {
        w.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();

    let _server = serve(dir.path(), &addr).await;
    let c = client(&addr);
    let mut missing = Vec::new();
    for alias in &answered {
        let arn = format!("arn:aws:ssm-contacts:{REGION}:{ACCOUNT}:contact/{alias}");
        if c.get_contact().contact_id(&arn).send().await.is_err() {
            missing.push(alias.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} answered writes lost: {missing:?}",
        missing.len(),
        answered.len()
    );
    eprintln!(
        "{} answered writes, all present after kill -9",
        answered.len()
    );
}

/// Polls `done` while the server process works (it runs on the real clock).
async fn poll(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Twilio answers 503 while pages are started and the server is killed; after a restart and
/// the provider's recovery every page reaches the phone, once (nothing was accepted before
/// the kill, so nothing can repeat).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_a_provider_outage_then_restart_loses_no_page() {
    use crate::twilio::{fake_twilio, field, six_digits};
    use std::sync::atomic::Ordering;
    let (fake, url) = fake_twilio().await;
    let dir = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let extra = format!(
        "provider_backoff_ms = 5\nprovider_backoff_max_ms = 200\n[twilio]\naccount_sid = \"AC0123456789abcdef0123456789abcdef\"\nauth_token = \"twilio-test-auth-token\"\nfrom_number = \"+15005550006\"\napi_base_url = \"{url}\"\npublic_base_url = \"https://klaxon.example.com\"\n"
    );
    let server = serve_with(dir.path(), &addr, &extra).await;
    let c = client(&addr);
    let contact = c
        .create_contact()
        .alias("outage")
        .r#type(ContactType::Personal)
        .plan(Plan::builder().set_stages(Some(vec![])).build())
        .send()
        .await
        .unwrap()
        .contact_arn;
    let sms = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("phone")
        .r#type(ChannelType::Sms)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address("+12065550142")
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    poll("the activation code", || {
        !fake.messages.lock().unwrap().is_empty()
    })
    .await;
    let code = six_digits(&field(&fake.messages.lock().unwrap()[0], "Body"));
    c.activate_contact_channel()
        .contact_channel_id(&sms)
        .activation_code(code)
        .send()
        .await
        .unwrap();
    c.update_contact()
        .contact_id(&contact)
        .plan(
            Plan::builder()
                .stages(
                    Stage::builder()
                        .duration_in_minutes(30)
                        .targets(
                            Target::builder()
                                .channel_target_info(
                                    ChannelTargetInfo::builder()
                                        .contact_channel_id(&sms)
                                        .retry_interval_in_minutes(0)
                                        .build()
                                        .unwrap(),
                                )
                                .build(),
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    fake.failing.store(true, Ordering::SeqCst);
    let mut engagements = Vec::new();
    for i in 0..20 {
        engagements.push(
            c.start_engagement()
                .contact_id(&contact)
                .sender("outage-test")
                .subject(format!("page {i}"))
                .content("c")
                .send()
                .await
                .unwrap()
                .engagement_arn,
        );
    }
    poll("every page to be refused a few times", || {
        fake.refused.load(Ordering::SeqCst) >= 20 * 4
    })
    .await;
    drop(server); // SIGKILL: Child::kill sends it
    assert_eq!(
        fake.messages.lock().unwrap().len(),
        1,
        "nothing got through"
    );
    let server = serve_with(dir.path(), &addr, &extra).await;
    fake.failing.store(false, Ordering::SeqCst);
    poll("every page after the restart", || {
        fake.messages.lock().unwrap().len() >= 21
    })
    .await;
    let c = client(&addr);
    for e in &engagements {
        let started = Instant::now();
        loop {
            let page = c
                .list_pages_by_engagement()
                .engagement_id(e)
                .send()
                .await
                .unwrap()
                .pages
                .remove(0)
                .page_arn;
            let receipts = c
                .list_page_receipts()
                .page_id(&page)
                .send()
                .await
                .unwrap()
                .receipts
                .unwrap_or_default();
            if receipts
                .iter()
                .any(|r| r.receipt_type == aws_sdk_ssmcontacts::types::ReceiptType::Sent)
            {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{page} never SENT"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let bodies: Vec<String> = fake.messages.lock().unwrap()[1..]
        .iter()
        .map(|m| field(m, "Body"))
        .collect();
    assert_eq!(bodies.len(), 20, "each page once: {bodies:?}");
    let mut subjects: Vec<&str> = bodies
        .iter()
        .map(|b| b.split(':').next().unwrap_or_default())
        .collect();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 20, "twenty different pages: {bodies:?}");
    drop(server);
}
