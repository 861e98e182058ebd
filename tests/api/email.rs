//! Email pages through a real SMTP server (aiosmtpd from PyPI, writing a maildir), and replies
//! sent by a real SMTP client (lettre) to Klaxon's inbound listener.

use crate::engagements::{channel_stage, is_read, paged, set_plan};
use crate::helpers::*;
use aws_sdk_ssmcontacts::types::{ChannelType, ContactChannelAddress};
use klaxon::config::{SmtpConfig, SmtpTls};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const ADDRESS: &str = "akua@example.com";
const REPLY_DOMAIN: &str = "reply.klaxon.test";

struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// aiosmtpd on a free port, or None (SKIPPED) when it is not installed; under CI=true a
/// missing aiosmtpd is a failure: `.ci/run` installs it.
async fn smtp_server() -> Option<SmtpServer> {
    let installed = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !installed {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but aiosmtpd is not installed"
        );
        eprintln!(
            "SKIPPED: aiosmtpd is not installed (pip install aiosmtpd); the email tests did not run"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = spawn_aiosmtpd(port, &maildir);
    wait_listening(port).await;
    Some(SmtpServer {
        child,
        port,
        maildir,
        _dir: dir,
    })
}

fn spawn_aiosmtpd(port: u16, maildir: &Path) -> Child {
    Command::new("python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{port}"),
            "-c",
            "aiosmtpd.handlers.Mailbox",
        ])
        .arg(maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 runs")
}

async fn wait_listening(port: u16) {
    let started = std::time::Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "aiosmtpd did not start"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

impl SmtpServer {
    /// The server goes away: connections to its port are refused.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    async fn start_again(&mut self) {
        self.child = spawn_aiosmtpd(self.port, &self.maildir);
        wait_listening(self.port).await;
    }
}

fn smtp_config(smtp: &SmtpServer) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".into(),
        port: smtp.port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        password_file: None,
        from: "Klaxon <klaxon@example.com>".into(),
        reply_domain: REPLY_DOMAIN.into(),
    }
}

/// A contact whose email channel was activated with the code the SMTP server received.
async fn emailed_contact(app: &TestApp, smtp: &SmtpServer) -> (String, String) {
    let c = app.contacts();
    let contact = crate::channels::personal(app, "akuam").await;
    let email = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("mail")
        .r#type(ChannelType::Email)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address(ADDRESS)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    app.tick().await;
    let (_, body, _) = text_of(received(&smtp.maildir).last().expect("the activation code"));
    c.activate_contact_channel()
        .contact_channel_id(&email)
        .activation_code(six_digits(&body))
        .send()
        .await
        .unwrap();
    set_plan(app, &contact, vec![channel_stage(30, &[(&email, 0)])]).await;
    (contact, email)
}

#[tokio::test]
async fn an_smtp_server_that_refuses_connections_then_returns_gets_every_email_once() {
    let Some(mut smtp) = smtp_server().await else {
        return;
    };
    let app = spawn_with(Setup {
        smtp: Some(smtp_config(&smtp)),
        ..Setup::default()
    })
    .await;
    let (contact, _) = emailed_contact(&app, &smtp).await;
    app.advance(60_001).await;
    let before = received(&smtp.maildir).len();
    smtp.stop();
    let mut pages = Vec::new();
    for _ in 0..5 {
        pages.push(paged(&app, &contact).await);
    }
    for _ in 0..12 {
        app.advance(10_000).await;
    }
    assert_eq!(received(&smtp.maildir).len(), before);
    for p in &pages {
        assert_eq!(receipt_types(&app, p).await, vec!["ERROR"]);
    }
    smtp.start_again().await;
    app.advance(30_000).await;
    let mails = received(&smtp.maildir);
    assert_eq!(
        mails.len(),
        before + 5,
        "every email once the server is back"
    );
    let mut codes: Vec<String> = mails[before..]
        .iter()
        .map(|m| six_digits(&text_of(m).1))
        .collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 5);
    app.advance(10 * 60_000).await;
    assert_eq!(received(&smtp.maildir).len(), before + 5, "nothing twice");
    for p in &pages {
        assert_eq!(receipt_types(&app, p).await, vec!["ERROR", "SENT"]);
    }
}

#[tokio::test]
async fn pages_held_by_the_rate_limit_come_in_one_email_and_ack_all_acknowledges_them() {
    let Some(smtp) = smtp_server().await else {
        return;
    };
    let app = spawn_with(Setup {
        smtp: Some(smtp_config(&smtp)),
        engine: Some(klaxon::config::EngineConfig {
            max_sends_per_channel_per_minute: 2,
            ..test_engine()
        }),
        ..Setup::default()
    })
    .await;
    let (contact, _) = emailed_contact(&app, &smtp).await;
    app.advance(60_001).await;
    let before = received(&smtp.maildir).len();
    let mut pages = Vec::new();
    for _ in 0..5 {
        pages.push(paged(&app, &contact).await);
    }
    assert_eq!(received(&smtp.maildir).len(), before + 2);
    app.advance(60_000).await;
    let mails = received(&smtp.maildir);
    assert_eq!(mails.len(), before + 3, "the other three together");
    let raw = mails.last().unwrap();
    let (subject, body, reply_to) = text_of(raw);
    assert!(
        subject.starts_with("3 more pages: Checkout is down"),
        "{subject}"
    );
    assert_eq!(body.matches("Checkout is down").count(), 3, "{body}");
    assert!(html_of(raw).is_some_and(|h| h.contains("<li>")));
    // A reply that quotes the "ack all" instruction but does not say it acknowledges one page.
    let reply_to = reply_to.unwrap();
    send_reply(&app, ADDRESS, &reply_to, &format!("looking\n> {body}")).await;
    let mut read = 0;
    for p in &pages {
        read += is_read(&app, p).await as usize;
    }
    assert_eq!(read, 1, "the reply token's own page only");
    send_reply(&app, ADDRESS, &reply_to, "ack all\n\nthanks").await;
    for p in &pages {
        assert!(is_read(&app, p).await, "{p}");
    }
}

async fn receipt_types(app: &TestApp, page: &str) -> Vec<String> {
    app.contacts()
        .list_page_receipts()
        .page_id(page)
        .send()
        .await
        .unwrap()
        .receipts
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.receipt_type.as_str().to_string())
        .collect()
}

/// The messages the SMTP server has stored, oldest first.
fn received(maildir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn text_of(raw: &[u8]) -> (String, String, Option<String>) {
    let m = mail_parser::MessageParser::default().parse(raw).unwrap();
    let reply_to = m
        .reply_to()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string);
    (
        m.subject().unwrap_or("").to_string(),
        m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
        reply_to,
    )
}

/// The HTML part of a multipart/alternative message (None for any other shape).
fn html_of(raw: &[u8]) -> Option<String> {
    use mail_parser::MimeHeaders;
    let m = mail_parser::MessageParser::default().parse(raw).unwrap();
    let ct = m.content_type()?;
    let alternative = ct.ctype().eq_ignore_ascii_case("multipart")
        && ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("alternative"));
    (alternative && m.html_body_count() == 1 && m.text_body_count() == 1)
        .then(|| m.body_html(0).map(|h| h.into_owned()))
        .flatten()
}

fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_string()
}

async fn send_reply(app: &TestApp, from: &str, to: &str, body: &str) {
    let port = app.running.inbound_smtp.unwrap().port();
    let mailer = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .build();
    let email = Message::builder()
        .from(from.parse().unwrap())
        .to(to.parse().unwrap())
        .subject("Re: Checkout is down")
        .body(body.to_string())
        .unwrap();
    mailer
        .send(email)
        .await
        .expect("Klaxon's listener takes the reply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_pages_are_acknowledged_by_replying() {
    let Some(smtp) = smtp_server().await else {
        return;
    };
    let app = spawn_with(Setup {
        smtp: Some(SmtpConfig {
            host: "127.0.0.1".into(),
            port: smtp.port,
            tls: SmtpTls::None,
            username: None,
            password: None,
            password_file: None,
            from: "Klaxon <klaxon@example.com>".into(),
            reply_domain: REPLY_DOMAIN.into(),
        }),
        ..Setup::default()
    })
    .await;
    let c = app.contacts();
    let contact = crate::channels::personal(&app, "akuam").await;
    let email = c
        .create_contact_channel()
        .contact_id(&contact)
        .name("mail")
        .r#type(ChannelType::Email)
        .delivery_address(
            ContactChannelAddress::builder()
                .simple_address(ADDRESS)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .contact_channel_arn;
    app.tick().await;
    let mails = received(&smtp.maildir);
    assert_eq!(
        mails.len(),
        1,
        "the activation code went through the SMTP server"
    );
    let (subject, body, _) = text_of(&mails[0]);
    assert!(subject.contains("activation code"));
    c.activate_contact_channel()
        .contact_channel_id(&email)
        .activation_code(six_digits(&body))
        .send()
        .await
        .unwrap();
    set_plan(&app, &contact, vec![channel_stage(10, &[(&email, 0)])]).await;

    // A reply to the page's Reply-To address acknowledges it.
    let page = paged(&app, &contact).await;
    let raw = received(&smtp.maildir).pop().unwrap();
    let (subject, body, reply_to) = text_of(&raw);
    assert_eq!(subject, "Checkout is down");
    assert!(body.contains("Error rate 40%"));
    let html = html_of(&raw).expect("a text part and an HTML part");
    assert!(
        html.contains("<strong")
            && html.contains("Error rate 40%")
            && html.contains(&six_digits(&body)),
        "{html}"
    );
    let reply_to = reply_to.expect("a per-page Reply-To");
    assert!(
        reply_to.starts_with("page+") && reply_to.ends_with(REPLY_DOMAIN),
        "{reply_to}"
    );
    assert!(!is_read(&app, &page).await);
    send_reply(&app, ADDRESS, &reply_to, "on it").await;
    assert!(is_read(&app, &page).await);

    // A mail from the paged address carrying the code acknowledges too.
    let second = paged(&app, &contact).await;
    let (_, body, _) = text_of(received(&smtp.maildir).last().unwrap());
    send_reply(
        &app,
        "Akua <akua@example.com>",
        "klaxon@example.com",
        "nothing to see",
    )
    .await;
    assert!(
        !is_read(&app, &second).await,
        "no code, no reply token: dropped"
    );
    send_reply(
        &app,
        "Akua <AKUA@example.com>",
        "klaxon@example.com",
        &format!("ack {}", six_digits(&body)),
    )
    .await;
    assert!(is_read(&app, &second).await);

    // A guessed token does nothing; junk and oversized mail do not stop the listener.
    let third = paged(&app, &contact).await;
    send_reply(
        &app,
        ADDRESS,
        &format!("page+0123456789abcdef@{REPLY_DOMAIN}"),
        "guess",
    )
    .await;
    assert!(!is_read(&app, &third).await);
    let port = app.running.inbound_smtp.unwrap().port();
    let mut raw = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    use tokio::io::AsyncWriteExt;
    raw.write_all(b"HELO x\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n\x00\xff\xfe not mime\r\n.\r\nQUIT\r\n").await.unwrap();
    drop(raw);
    // Over a megabyte of data is refused with 552, and the session ends cleanly.
    let mut big = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut session =
        b"HELO x\r\nMAIL FROM:<akua@example.com>\r\nRCPT TO:<klaxon@example.com>\r\nDATA\r\n"
            .to_vec();
    for _ in 0..1200 {
        session.extend_from_slice(&[b'x'; 998]);
        session.extend_from_slice(b"\r\n");
    }
    session.extend_from_slice(b".\r\nQUIT\r\n");
    big.write_all(&session).await.unwrap();
    let mut answer = Vec::new();
    use tokio::io::AsyncReadExt;
    big.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("552"), "{answer}");
    let (_, body, _) = text_of(received(&smtp.maildir).last().unwrap());
    send_reply(&app, ADDRESS, "klaxon@example.com", &six_digits(&body)).await;
    assert!(is_read(&app, &third).await, "the listener still works");
}
