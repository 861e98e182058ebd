//! `POST /hooks/sns`: Amazon SNS deliveries for the topics in `[[sns.topics]]`. Every message
//! is verified (SignatureVersion 1 and 2, the certificate fetched only from a URL matching
//! `cert_url_pattern`, or `cert_file`) before anything is done with it. Subscriptions are
//! confirmed only for configured topics. A notification is
//! - a CloudWatch alarm: in ALARM state it starts an incident with the topic's response plan
//!   (once per alarm while its incident is open, once per message however often delivered);
//! - an AWS Chatbot notification (what AWS Incident Manager and others publish): posted to the
//!   topic's chat channels through the durable chat outbox, like Klaxon's own updates;
//! - an SES inbound-mail notification: the mail is handled as a reply to a page.

use super::Hooks;
use super::exec::AlarmOutcome;
use crate::config::SnsTopic;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use klaxon_sns::{Envelope, SnsError};
use serde_json::Value;

pub struct SnsHooks {
    pub verifier: klaxon_sns::Verifier,
    pub topics: Vec<SnsTopic>,
}

impl SnsHooks {
    pub fn new(cfg: &crate::config::SnsConfig) -> Result<SnsHooks, String> {
        let verifier = match &cfg.cert_file {
            Some(f) => {
                let pem = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
                klaxon_sns::Verifier::with_cert_pem(&pem)
            }
            None => {
                klaxon_sns::Verifier::fetching(&cfg.cert_url_pattern, klaxon_sns::DEFAULT_TIMEOUT)
            }
        }
        .and_then(|v| v.with_subscribe_url_pattern(&cfg.subscribe_url_pattern))
        .map_err(|e| format!("[sns] {e}"))?;
        Ok(SnsHooks {
            verifier,
            topics: cfg.topics.clone(),
        })
    }
}

/// What kind of message a notification carries.
#[derive(Debug, PartialEq)]
pub enum Payload {
    Alarm { state: String },
    Chatbot,
    SesMail,
    Other,
}

pub fn classify(message: &Value) -> Payload {
    if let (Some(_), Some(state)) = (
        message["AlarmName"].as_str(),
        message["NewStateValue"].as_str(),
    ) {
        return Payload::Alarm {
            state: state.to_string(),
        };
    }
    if message["version"].as_str() == Some("1.0") && message["content"].is_object() {
        return Payload::Chatbot;
    }
    if message["notificationType"].as_str() == Some("Received") && message["content"].is_string() {
        return Payload::SesMail;
    }
    Payload::Other
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_string()).into_response()
}

pub async fn receive(State(h): State<Hooks>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(sns) = h.sns.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if headers
        .get("x-amz-sns-rawdelivery")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return refuse(
            StatusCode::BAD_REQUEST,
            "raw message delivery carries no signature; turn it off",
        );
    }
    let env = match Envelope::parse(&body) {
        Ok(e) => e,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let Some(topic) = sns
        .topics
        .iter()
        .find(|t| t.topic_arn == env.topic_arn)
        .cloned()
    else {
        tracing::info!(topic = %env.topic_arn, "SNS message for a topic that is not configured; refused");
        return refuse(StatusCode::FORBIDDEN, "topic not configured");
    };
    match sns.verifier.verify(&env).await {
        Ok(()) => {}
        Err(SnsError::CertFetch(e)) => {
            tracing::warn!(error = %e, "cannot fetch the SNS signing certificate");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "signing certificate unavailable",
            );
        }
        Err(e) => {
            tracing::info!(topic = %env.topic_arn, error = %e, "SNS message refused");
            return refuse(StatusCode::FORBIDDEN, "signature check failed");
        }
    }
    match env.r#type.as_str() {
        "SubscriptionConfirmation" => match sns.verifier.confirm_subscription(&env).await {
            Ok(()) => {
                tracing::info!(topic = %env.topic_arn, "SNS subscription confirmed");
                StatusCode::OK.into_response()
            }
            Err(e) => {
                tracing::warn!(topic = %env.topic_arn, error = %e, "SNS subscription not confirmed");
                refuse(StatusCode::BAD_GATEWAY, "subscription not confirmed")
            }
        },
        "Notification" => notification(&h, &topic, &env).await,
        _ => StatusCode::OK.into_response(),
    }
}

async fn notification(h: &Hooks, topic: &SnsTopic, env: &Envelope) -> Response {
    let message: Value = serde_json::from_str(&env.message).unwrap_or(Value::Null);
    match classify(&message) {
        Payload::Alarm { state } if state == "ALARM" => {
            let Some(plan) = &topic.response_plan else {
                tracing::info!(topic = %topic.topic_arn, "alarm on a topic without a response_plan; ignored");
                return StatusCode::OK.into_response();
            };
            match h
                .bot
                .start_from_alarm(plan, &message, &env.message, &env.message_id)
                .await
            {
                Ok(AlarmOutcome::Started(arn)) => {
                    tracing::info!(incident = %arn, alarm = ?message["AlarmArn"], "alarm started an incident");
                    StatusCode::OK.into_response()
                }
                Ok(AlarmOutcome::AlreadyOpen(arn)) => {
                    tracing::info!(incident = %arn, "alarm repeated while its incident is open");
                    StatusCode::OK.into_response()
                }
                Err(e) => {
                    // A 5xx makes SNS deliver again later; the client token keeps it to one incident.
                    tracing::warn!(error = %e, "could not start an incident from an alarm");
                    refuse(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "could not start the incident",
                    )
                }
            }
        }
        Payload::Alarm { .. } => StatusCode::OK.into_response(),
        Payload::Chatbot => {
            let account = topic.topic_arn.split(':').nth(4).unwrap_or_default();
            let now = h.clock.now_ms();
            match crate::engine::chat::enqueue_once(
                h.store.as_ref(),
                account,
                &env.message_id,
                &topic.topic_arn,
                &message,
                now,
            )
            .await
            {
                Ok(_) => {
                    h.wake.notify_one();
                    StatusCode::OK.into_response()
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not queue a chat notification");
                    refuse(StatusCode::SERVICE_UNAVAILABLE, "try again")
                }
            }
        }
        Payload::SesMail => {
            let content = message["content"].as_str().unwrap_or_default();
            let raw = if message["receipt"]["action"]["encoding"].as_str() == Some("BASE64") {
                match base64::engine::general_purpose::STANDARD.decode(content.trim()) {
                    Ok(b) => b,
                    Err(_) => return refuse(StatusCode::BAD_REQUEST, "content is not base64"),
                }
            } else {
                content.as_bytes().to_vec()
            };
            let from = message["mail"]["source"].as_str().unwrap_or_default();
            let recipients: Vec<String> = message["receipt"]["recipients"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect();
            crate::inbound::email::handle_message(&h.api, from, recipients, &raw).await;
            StatusCode::OK.into_response()
        }
        Payload::Other => {
            tracing::info!(topic = %topic.topic_arn, "SNS notification of no known kind; ignored");
            StatusCode::OK.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notifications_are_told_apart() {
        let alarm = json!({"AlarmName": "cpu", "NewStateValue": "ALARM", "AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:cpu"});
        assert_eq!(
            classify(&alarm),
            Payload::Alarm {
                state: "ALARM".into()
            }
        );
        let chatbot = json!({"version": "1.0", "source": "custom", "content": {"title": "t"}});
        assert_eq!(classify(&chatbot), Payload::Chatbot);
        let ses = json!({"notificationType": "Received", "content": "From: a@b\r\n\r\nhi", "receipt": {}});
        assert_eq!(classify(&ses), Payload::SesMail);
        assert_eq!(classify(&json!({"hello": 1})), Payload::Other);
        assert_eq!(classify(&Value::Null), Payload::Other);
    }
}
