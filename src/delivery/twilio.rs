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
