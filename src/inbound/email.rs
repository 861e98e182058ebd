//! The embedded SMTP listener for replies to pages (mailin's SMTP state machine on tokio,
//! MIME through mail-parser). A message to a page's Reply-To address (`page+<token>@…`)
//! acknowledges that page; otherwise a message from a paged address that carries the page's
//! accept code does. Mail that matches nothing is logged and dropped; oversized, malformed or
//! abusive input ends that session, never the listener.

use super::{acknowledge, acknowledge_all, acknowledge_by_code, asks_all, sent_to};
use crate::engine::records::{GLOBAL, REPLY_TOKEN, ReplyTokenBody, SentToBody};
use crate::wire;
use mailin::{Action, Handler, Response, SessionBuilder, response};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Largest message accepted; a reply needs far less.
const MAX_MESSAGE: usize = 1024 * 1024;
/// Longest command or data line (RFC 5321 allows 1000 octets).
const MAX_LINE: u64 = 4096;

#[derive(Default)]
struct Transaction {
    from: String,
    recipients: Vec<String>,
    data: Vec<u8>,
    too_big: bool,
    done: Option<Mail>,
}

struct Mail {
    from: String,
    recipients: Vec<String>,
    data: Vec<u8>,
}

struct Collector(Arc<Mutex<Transaction>>);

impl Handler for Collector {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> Response {
        if let Ok(mut t) = self.0.lock() {
            *t = Transaction {
                from: from.to_string(),
                ..Transaction::default()
            };
        }
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        match self.0.lock() {
            Ok(mut t) if t.recipients.len() < 50 => {
                t.recipients.push(to.to_string());
                response::OK
            }
            _ => response::NO_STORAGE,
        }
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        if let Ok(mut t) = self.0.lock() {
            if t.data.len() + buf.len() > MAX_MESSAGE {
                t.too_big = true;
            } else {
                t.data.extend_from_slice(buf);
            }
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let Ok(mut t) = self.0.lock() else {
            return response::INTERNAL_ERROR;
        };
        if t.too_big {
            return response::NO_STORAGE;
        }
        let mail = Mail {
            from: std::mem::take(&mut t.from),
            recipients: std::mem::take(&mut t.recipients),
            data: std::mem::take(&mut t.data),
        };
        t.done = Some(mail);
        response::OK
    }
}

/// Binds the listener and serves it until the returned task is aborted.
pub async fn listen(
    addr: &str,
    api: Arc<wire::Api>,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => {
                    let api = api.clone();
                    tokio::spawn(async move {
                        if let Err(e) = session(stream, peer, api).await {
                            tracing::debug!(%peer, error = %e, "inbound SMTP session ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "inbound SMTP accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
    Ok((local, task))
}

async fn session(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    api: Arc<wire::Api>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let shared = Arc::new(Mutex::new(Transaction::default()));
    let mut smtp = SessionBuilder::new("klaxon").build(peer.ip(), Collector(shared.clone()));
    write.write_all(&smtp.greeting().buffer()?).await?;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 {
            return Ok(());
        }
        if !line.ends_with(b"\n") {
            write.write_all(b"500 Line too long\r\n").await?;
            return Ok(());
        }
        let res = smtp.process(&line);
        let done = shared.lock().ok().and_then(|mut t| t.done.take());
        if let Some(mail) = done {
            // Acknowledge before answering 250, so a client that saw 250 sees the page read.
            handle(&api, mail).await;
        }
        // After refusing a message mailin stays in its data state; end the session instead.
        let refused = matches!(res.code, 451 | 552 | 554);
        match res.action {
            _ if refused => {
                write.write_all(&res.buffer()?).await?;
                return Ok(());
            }
            Action::Reply | Action::UpgradeTls => write.write_all(&res.buffer()?).await?,
            Action::Close => {
                write.write_all(&res.buffer()?).await?;
                return Ok(());
            }
            Action::NoReply => {}
        }
    }
}

/// `page+<token>@…` → the token.
pub fn reply_token(address: &str) -> Option<&str> {
    let local = address.trim_matches(['<', '>']).split('@').next()?;
    local.strip_prefix("page+").filter(|t| !t.is_empty())
}

async fn handle(api: &wire::Api, mail: Mail) {
    handle_message(api, &mail.from, mail.recipients, &mail.data).await
}

/// What a received email says, as far as acknowledging a page goes.
pub struct ReadMail {
    /// Lowercase: the header's From, else the envelope's.
    pub sender: String,
    /// The envelope's recipients, then the header's To.
    pub recipients: Vec<String>,
    /// The first text part (or the HTML's text).
    pub text: String,
    /// Subject and text, where a page's code may be.
    pub words: String,
}

pub fn read_mail(from: &str, recipients: Vec<String>, data: &[u8]) -> ReadMail {
    let parsed = mail_parser::MessageParser::default().parse(data);
    let mut recipients = recipients;
    if let Some(to) = parsed.as_ref().and_then(|m| m.to()) {
        recipients.extend(to.iter().filter_map(|a| a.address().map(str::to_string)));
    }
    let sender = parsed
        .as_ref()
        .and_then(|m| m.from())
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(str::to_string)
        .unwrap_or_else(|| from.trim_matches(['<', '>']).to_string())
        .to_ascii_lowercase();
    let text = parsed
        .as_ref()
        .and_then(|m| m.body_text(0).map(|t| t.into_owned()))
        .unwrap_or_default();
    let subject = parsed.as_ref().and_then(|m| m.subject()).unwrap_or("");
    let words = format!("{subject}\n{text}");
    ReadMail {
        sender,
        recipients,
        text,
        words,
    }
}

/// A received email (from the SMTP listener, or from SES through SNS): acknowledges the page
/// it answers, if any.
pub async fn handle_message(api: &wire::Api, from: &str, recipients: Vec<String>, data: &[u8]) {
    let ReadMail {
        sender,
        recipients,
        text,
        words,
    } = read_mail(from, recipients, data);
    for r in &recipients {
        let Some(token) = reply_token(r) else {
            continue;
        };
        let index = match api.contacts.store.read().await {
            Ok(mut reader) => reader.get(REPLY_TOKEN, GLOBAL, token).await.ok().flatten(),
            Err(_) => None,
        };
        let Some(body) =
            index.and_then(|rec| serde_json::from_str::<ReplyTokenBody>(&rec.body).ok())
        else {
            continue;
        };
        // "ack all" counts only in a reply to a page's own address, from the address that
        // page went to: the token proves the message was received there.
        if asks_all(&text)
            && sent_to(api, &sender)
                .await
                .iter()
                .any(|s| s.page_arn.as_deref() == Some(body.page_arn.as_str()))
        {
            let acked =
                acknowledge_all(api, &sender, "acknowledged by email reply (ack all)").await;
            tracing::info!(%sender, pages = acked.len(), "pages acknowledged by an email reply (ack all)");
            if !acked.is_empty() {
                return;
            }
        }
        let via = SentToBody {
            account: body.account,
            attempt_id: String::new(),
            channel_arn: String::new(),
            page_arn: Some(body.page_arn.clone()),
        };
        if acknowledge(
            api,
            &via,
            &body.page_arn,
            None,
            "acknowledged by email reply",
        )
        .await
        {
            tracing::info!(page = %body.page_arn, "page acknowledged by email reply");
            return;
        }
    }
    match acknowledge_by_code(api, &sender, &words, "acknowledged by email with its code").await {
        Some(_) => tracing::info!(%sender, "page acknowledged by an emailed code"),
        None => {
            tracing::info!(%sender, recipients = recipients.len(), "inbound mail matched no open page; dropped")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_tokens_come_from_the_local_part() {
        assert_eq!(reply_token("page+abc123@reply.example.com"), Some("abc123"));
        assert_eq!(
            reply_token("<page+abc123@reply.example.com>"),
            Some("abc123")
        );
        assert_eq!(reply_token("page+@x"), None);
        assert_eq!(reply_token("someone@example.com"), None);
    }
}
