//! SMS through Twilio. Twilio reports delivery to `<public_base_url>/hooks/twilio/status`.

use super::{Channel, DeliveryError, OutboundMessage};
use async_trait::async_trait;
use klaxon_twilio::{Client, TwilioError};

pub struct TwilioSms {
    client: Client,
    from: String,
    status_callback: String,
}

impl TwilioSms {
    pub fn new(client: Client, from: &str, public_base_url: &str) -> TwilioSms {
        TwilioSms {
            client,
            from: from.to_string(),
            status_callback: format!(
                "{}/hooks/twilio/status",
                public_base_url.trim_end_matches('/')
            ),
        }
    }
}

fn delivery_error(e: TwilioError) -> DeliveryError {
    match e {
        TwilioError::Temporary(m) => DeliveryError::Temporary(m),
        TwilioError::Rejected(m) => DeliveryError::Permanent(m),
    }
}

#[async_trait]
impl Channel for TwilioSms {
    fn name(&self) -> &'static str {
        "twilio-sms"
    }

    async fn send(&self, msg: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        self.client
            .send_sms(
                &self.from,
                &msg.delivery_address,
                &msg.body,
                Some(&self.status_callback),
            )
            .await
            .map_err(delivery_error)
    }
}

/// Voice calls through Twilio: the call says the page and gathers one key; 1 acknowledges
/// (`/hooks/twilio/voice`), any other key repeats the message. Activation codes are read out.
pub struct TwilioVoice {
    client: Client,
    from: String,
    public_base_url: String,
}

impl TwilioVoice {
    pub fn new(client: Client, from: &str, public_base_url: &str) -> TwilioVoice {
        TwilioVoice {
            client,
            from: from.to_string(),
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
        }
    }
}

/// The gather webhook URL of a call (its pages and channel ride in the signed query; a bundled
/// call names every page it carries, and key 1 acknowledges them all).
pub fn voice_action(public_base_url: &str, pages: &[String], channel_arn: &str) -> String {
    let enc = |s: &str| {
        percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let pages: String = pages.iter().map(|p| format!("page={}&", enc(p))).collect();
    format!(
        "{}/hooks/twilio/voice?{pages}channel={}",
        public_base_url.trim_end_matches('/'),
        enc(channel_arn)
    )
}

/// TwiML that says `text` and, for a page, gathers one key.
pub fn voice_twiml(text: &str, action: Option<&str>) -> String {
    let say = klaxon_twilio::escape_xml(text);
    match action {
        Some(url) => {
            let url = klaxon_twilio::escape_xml(url);
            format!(
                "<Response><Gather numDigits=\"1\" method=\"POST\" action=\"{url}\"><Say>{say}</Say><Say>Press 1 to acknowledge. Press any other key to hear this again.</Say></Gather><Redirect method=\"POST\">{url}</Redirect></Response>"
            )
        }
        None => {
            format!("<Response><Say>{say}</Say><Pause length=\"1\"/><Say>{say}</Say></Response>")
        }
    }
}

#[async_trait]
impl Channel for TwilioVoice {
    fn name(&self) -> &'static str {
        "twilio-voice"
    }

    async fn send(&self, msg: &OutboundMessage, _: i64) -> Result<String, DeliveryError> {
        let pages = match (&msg.page_arn, msg.bundled_pages.is_empty()) {
            (_, false) => msg.bundled_pages.clone(),
            (Some(p), true) => vec![p.clone()],
            (None, true) => Vec::new(),
        };
        let action = (!pages.is_empty())
            .then(|| voice_action(&self.public_base_url, &pages, &msg.contact_channel_arn));
        let twiml = voice_twiml(&msg.body, action.as_deref());
        let callback = format!("{}/hooks/twilio/status", self.public_base_url);
        self.client
            .place_call(&self.from, &msg.delivery_address, &twiml, Some(&callback))
            .await
            .map_err(delivery_error)
    }
}
