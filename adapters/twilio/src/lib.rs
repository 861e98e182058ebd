//! A small client for Twilio's Messages and Calls resources, with a configurable API base URL
//! (so tests can point it at a local fake), and verification of `X-Twilio-Signature`.
//!
//! The published `twilio` crate was not used: it hard-codes its base URL, does not escape TwiML
//! and drops the query string when it checks signatures.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

pub const DEFAULT_API_BASE_URL: &str = "https://api.twilio.com";

#[derive(Debug, thiserror::Error)]
pub enum TwilioError {
    /// Worth retrying: the network, a 429 or a 5xx.
    #[error("Twilio is unavailable: {0}")]
    Temporary(String),
    /// Twilio refused the request (a bad number, a blocked recipient, bad credentials).
    #[error("Twilio refused the request: {0}")]
    Rejected(String),
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

#[derive(serde::Deserialize)]
struct Created {
    sid: String,
}

#[derive(serde::Deserialize)]
struct Problem {
    message: Option<String>,
    code: Option<i64>,
}

impl Client {
    pub fn new(
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
        timeout: std::time::Duration,
    ) -> Result<Client, TwilioError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| TwilioError::Temporary(e.to_string()))?;
        Ok(Client {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            account_sid: account_sid.to_string(),
            auth_token: auth_token.to_string(),
        })
    }

    async fn create(&self, resource: &str, form: &[(&str, &str)]) -> Result<String, TwilioError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/{resource}.json",
            self.base_url, self.account_sid
        );
        let resp = self
            .http
            .post(&url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(form)
            .send()
            .await
            .map_err(|e| TwilioError::Temporary(e.without_url().to_string()))?;
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        if status.is_success() {
            return serde_json::from_slice::<Created>(&body)
                .map(|c| c.sid)
                .map_err(|e| TwilioError::Temporary(format!("unreadable answer: {e}")));
        }
        let problem = serde_json::from_slice::<Problem>(&body).ok();
        let what = match problem {
            Some(Problem {
                message: Some(m),
                code,
            }) => format!("{status}: {m} (code {})", code.unwrap_or_default()),
            _ => status.to_string(),
        };
        // Refused credentials are ours to fix, not the message's fault: keep trying meanwhile.
        if matches!(status.as_u16(), 401 | 403 | 429) || status.is_server_error() {
            Err(TwilioError::Temporary(what))
        } else {
            Err(TwilioError::Rejected(what))
        }
    }

    /// Sends an SMS; returns the message SID.
    pub async fn send_sms(
        &self,
        from: &str,
        to: &str,
        body: &str,
        status_callback: Option<&str>,
    ) -> Result<String, TwilioError> {
        let mut form = vec![("To", to), ("From", from), ("Body", body)];
        if let Some(cb) = status_callback {
            form.push(("StatusCallback", cb));
        }
        self.create("Messages", &form).await
    }

    /// Places a call that runs the given TwiML; returns the call SID.
    pub async fn place_call(
        &self,
        from: &str,
        to: &str,
        twiml: &str,
        status_callback: Option<&str>,
    ) -> Result<String, TwilioError> {
        let mut form = vec![("To", to), ("From", from), ("Twiml", twiml)];
        if let Some(cb) = status_callback {
            form.push(("StatusCallback", cb));
        }
        self.create("Calls", &form).await
    }
}

/// The signature Twilio sends for a request to `url` (the full public URL, query included)
/// with these form parameters: HMAC-SHA1 over the URL followed by every parameter name and
/// value, sorted by name, base64-encoded.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac =
        Hmac::<Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `header` is Twilio's signature for this request; compared in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    let want = signature(auth_token, url, params);
    bool::from(want.as_bytes().ct_eq(header.trim().as_bytes()))
}

/// Text made safe inside TwiML (XML) elements and attributes.
pub fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in Twilio's "Webhooks security" documentation.
    #[test]
    fn matches_twilios_documented_example() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let token = "12345";
        assert_eq!(
            signature(token, url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify(token, url, &params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="));
        assert!(!verify(
            token,
            "https://mycompany.com/myapp.php",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify(
            "other",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
    }

    #[test]
    fn twiml_text_is_escaped() {
        assert_eq!(escape_xml("<Say>&\"'"), "&lt;Say&gt;&amp;&quot;&apos;");
    }
}
