//! Email through an SMTP server (lettre). A page's email carries a Reply-To address unique to
//! the page, so a reply acknowledges it without guessing which page it answers.

use super::{Channel, DeliveryError, OutboundMessage};
use crate::config::{SmtpConfig, SmtpTls};
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct SmtpEmail {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    reply_domain: String,
}

/// The Reply-To address of a page's emails.
pub fn reply_address(token: &str, reply_domain: &str) -> String {
    format!("page+{token}@{reply_domain}")
}

impl SmtpEmail {
    pub fn new(cfg: &SmtpConfig, timeout: std::time::Duration) -> Result<SmtpEmail, String> {
        let builder = match cfg.tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)
                .map_err(|e| e.to_string())?,
            SmtpTls::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host).map_err(|e| e.to_string())?
            }
        };
        let mut builder = builder.port(cfg.port).timeout(Some(timeout));
        if let Some(user) = &cfg.username {
            let password = cfg
                .password()
                .map_err(|e| e.to_string())?
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        let from: Mailbox = cfg.from.parse().map_err(|e| format!("[smtp] from: {e}"))?;
        Ok(SmtpEmail {
            transport: builder.build(),
            from,
            reply_domain: cfg.reply_domain.clone(),
        })
    }
}

#[async_trait]
impl Channel for SmtpEmail {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, msg: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        let to: Mailbox = msg
            .delivery_address
            .parse()
            .map_err(|e| DeliveryError::Permanent(format!("bad address: {e}")))?;
        let message_id = format!("<{}@{}>", msg.idempotency_key, self.reply_domain);
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(msg.subject.clone())
            .message_id(Some(message_id.clone()));
        if let Some(token) = &msg.reply_token {
            let reply: Mailbox = reply_address(token, &self.reply_domain)
                .parse()
                .map_err(|e| DeliveryError::Permanent(format!("bad reply domain: {e}")))?;
            b = b.reply_to(reply);
        }
        let email = match &msg.html {
            Some(html) => b.multipart(MultiPart::alternative_plain_html(
                msg.body.clone(),
                html.clone(),
            )),
            None => b.header(ContentType::TEXT_PLAIN).body(msg.body.clone()),
        }
        .map_err(|e| DeliveryError::Permanent(e.to_string()))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(message_id),
            Err(e) if e.is_permanent() => Err(DeliveryError::Permanent(e.to_string())),
            Err(e) => Err(DeliveryError::Temporary(e.to_string())),
        }
    }
}
