//! Twilio's webhooks. Every request is verified with `X-Twilio-Signature` over the public URL
//! Twilio called (`[twilio] public_base_url` + path + query) and the form parameters; a
//! missing or wrong signature is a 403 and changes nothing.
//!
//! An SMS reply containing the accept code of an open page sent to that number acknowledges
//! it (as AcceptPage READ would, escalation included); a bare `ack` acknowledges the most
//! recent open page sent there; STOP deactivates the number's channels, START sends them new
//! activation codes, HELP explains. Replies are TwiML `<Message>`s.

use super::{
    acknowledge, acknowledge_all, acknowledge_by_code, asks_all, channels, codes, context,
    open_page, sent_to,
};
use crate::config::Secret;
use crate::domain::arn::Arn;
use crate::engine::Engine;
use crate::engine::outbox::{Report, report};
use crate::engine::records::SentToBody;
use crate::shapes::contacts::{Api, DeactivateContactChannelRequest, SendActivationCodeRequest};
use crate::wire;
use crate::wire::form::form;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use std::sync::Arc;

#[derive(Clone)]
pub struct TwilioHooks {
    pub api: Arc<wire::Api>,
    pub engine: Arc<Engine>,
    pub auth_token: Secret,
    pub public_base_url: String,
}

const MAX_BODY: usize = 64 * 1024;

fn param<'a>(params: &'a [(String, String)], name: &str) -> &'a str {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = status;
    r
}

fn twiml(message: &str) -> Response<Body> {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
        klaxon_twilio::escape_xml(message)
    );
    let mut r = Response::new(Body::from(xml));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    r
}

/// The verified form parameters, or the 403/400 to answer with.
async fn verified(h: &TwilioHooks, req: Request) -> Result<Vec<(String, String)>, Response<Body>> {
    let (parts, body) = req.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return Err(text(StatusCode::PAYLOAD_TOO_LARGE, "too large\n"));
    };
    let params = form(&body);
    let url = format!(
        "{}{}",
        h.public_base_url.trim_end_matches('/'),
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let signature = parts
        .headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !klaxon_twilio::verify(h.auth_token.expose(), &url, &params, signature) {
        tracing::warn!(
            path = parts.uri.path(),
            "refused a Twilio webhook with a missing or wrong signature"
        );
        return Err(text(StatusCode::FORBIDDEN, "signature does not match\n"));
    }
    Ok(params)
}

const HELP: &str = "Klaxon pages: reply with the code from a page (or ACK for the latest page, ACK ALL for every open page) to acknowledge it. STOP ends pages to this number, START turns them back on.";

pub async fn sms(State(h): State<TwilioHooks>, req: Request) -> Response<Body> {
    let params = match verified(&h, req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let from = param(&params, "From").to_string();
    let body = param(&params, "Body").trim().to_string();
    let word = body.to_ascii_lowercase();
    let sent = sent_to(&h.api, &from).await;
    match word.as_str() {
        "stop" | "stopall" | "unsubscribe" | "cancel" | "end" | "quit" => {
            for (account, ch) in channels(&sent) {
                let input = DeactivateContactChannelRequest {
                    contact_channel_id: Some(ch.clone()),
                };
                if let Err(e) = h
                    .api
                    .contacts
                    .deactivate_contact_channel(context(&account, &ch), input)
                    .await
                {
                    tracing::warn!(channel = %ch, error = ?e, "STOP could not deactivate a channel");
                }
            }
            twiml("Klaxon will not page this number any more. Reply START to turn pages back on.")
        }
        "start" | "unstop" => {
            let mut sent_codes = 0;
            for (account, ch) in channels(&sent) {
                let input = SendActivationCodeRequest {
                    contact_channel_id: Some(ch.clone()),
                };
                if h.api
                    .contacts
                    .send_activation_code(context(&account, &ch), input)
                    .await
                    .is_ok()
                {
                    sent_codes += 1;
                }
            }
            if sent_codes > 0 {
                twiml(
                    "Klaxon sent a new activation code to this number; activate the channel with it to get pages again.",
                )
            } else {
                twiml(
                    "Klaxon has no contact channel for this number, or sent too many codes recently.",
                )
            }
        }
        "help" | "info" => twiml(HELP),
        _ if asks_all(&body) => {
            let acked = acknowledge_all(&h.api, &from, "acknowledged by SMS reply (ACK ALL)").await;
            match acked.len() {
                0 => twiml("There is no open page for this number to acknowledge."),
                1 => twiml(&format!("Acknowledged: {}", acked[0])),
                n => twiml(&format!("Acknowledged {n} pages.")),
            }
        }
        "ack" | "ok" => {
            for s in &sent {
                if let Some((arn, page)) = open_page(&h.api, s).await
                    && acknowledge(&h.api, s, &arn, None, "acknowledged by SMS reply").await
                {
                    return twiml(&format!("Acknowledged: {}", page.message.subject));
                }
            }
            twiml("There is no open page for this number to acknowledge.")
        }
        _ if codes(&body).is_empty() => twiml(HELP),
        _ => match acknowledge_by_code(&h.api, &from, &body, "acknowledged by SMS reply").await {
            Some(subject) => twiml(&format!("Acknowledged: {subject}")),
            None => twiml(
                "That code does not match an open page sent to this number. Reply ACK to acknowledge the latest one.",
            ),
        },
    }
}

fn voice_response(twiml: String) -> Response<Body> {
    let mut r = Response::new(Body::from(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>{twiml}"
    )));
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("text/xml"));
    r
}

/// The key pressed on a page's call: 1 acknowledges (READ) every page the call carries (one,
/// or several held back by the rate limit); anything else, or silence, says them again.
pub async fn voice(State(h): State<TwilioHooks>, req: Request) -> Response<Body> {
    let query: Vec<(String, String)> = form(req.uri().query().unwrap_or("").as_bytes());
    let params = match verified(&h, req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let pages: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "page")
        .map(|(_, v)| v.clone())
        .collect();
    let channel_arn = param(&query, "channel");
    let Some(account) = pages.first().and_then(|p| Arn::parse(p)).map(|a| a.account) else {
        return text(StatusCode::BAD_REQUEST, "no page\n");
    };
    let via = |page_arn: &str| SentToBody {
        account: account.clone(),
        attempt_id: String::new(),
        channel_arn: channel_arn.to_string(),
        page_arn: Some(page_arn.to_string()),
    };
    if param(&params, "Digits") == "1" {
        let mut acked = 0;
        for p in &pages {
            if acknowledge(
                &h.api,
                &via(p),
                p,
                None,
                "acknowledged by key 1 on the call",
            )
            .await
            {
                acked += 1;
            }
        }
        return if acked > 0 {
            voice_response("<Response><Say>Acknowledged. Goodbye.</Say><Hangup/></Response>".into())
        } else {
            voice_response(
                "<Response><Say>This page could not be acknowledged.</Say><Hangup/></Response>"
                    .into(),
            )
        };
    }
    let mut open = Vec::new();
    for p in &pages {
        if let Some((arn, page)) = open_page(&h.api, &via(p)).await {
            open.push((arn, page));
        }
    }
    let words = match open.as_slice() {
        [] => {
            return voice_response(
                "<Response><Say>This page is no longer open. Goodbye.</Say><Hangup/></Response>"
                    .into(),
            );
        }
        [(arn, page)] => crate::engine::message::page_text(
            crate::delivery::ChannelKind::Voice,
            &page.message,
            &page.code,
            arn,
        ),
        many => {
            let items: Vec<crate::engine::message::BundleItem<'_>> = many
                .iter()
                .map(|(arn, page)| crate::engine::message::BundleItem {
                    message: &page.message,
                    code: &page.code,
                    page_arn: arn,
                })
                .collect();
            crate::engine::message::bundle_text(crate::delivery::ChannelKind::Voice, &items)
        }
    };
    let still: Vec<String> = open.into_iter().map(|(arn, _)| arn).collect();
    let action = crate::delivery::twilio::voice_action(&h.public_base_url, &still, channel_arn);
    voice_response(crate::delivery::twilio::voice_twiml(&words, Some(&action)))
}

/// Message status callbacks: delivered → DELIVERED receipt; failed/undelivered → ERROR
/// receipt, retried per the plan.
pub async fn status(State(h): State<TwilioHooks>, req: Request) -> Response<Body> {
    let params = match verified(&h, req).await {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    // Messages report MessageStatus; calls report CallStatus when they end.
    let (sid, outcome) = match (param(&params, "MessageSid"), param(&params, "CallSid")) {
        (sid, _) if !sid.is_empty() => (
            sid,
            match param(&params, "MessageStatus") {
                "delivered" => Report::Delivered,
                s @ ("failed" | "undelivered") => Report::Failed(format!(
                    "{s} (Twilio error {})",
                    param(&params, "ErrorCode")
                )),
                _ => return text(StatusCode::NO_CONTENT, ""),
            },
        ),
        (_, sid) => (
            sid,
            match param(&params, "CallStatus") {
                "completed" => Report::Delivered,
                s @ ("busy" | "no-answer" | "failed" | "canceled") => {
                    Report::Failed(format!("call {s}"))
                }
                _ => return text(StatusCode::NO_CONTENT, ""),
            },
        ),
    };
    let now = h.engine.clock.now_ms();
    match report(&h.engine, sid, outcome, now).await {
        Ok(_) => text(StatusCode::NO_CONTENT, ""),
        Err(e) => {
            tracing::error!(error = %e, "cannot apply a Twilio status callback");
            text(StatusCode::INTERNAL_SERVER_ERROR, "try again\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms_and_finds_codes() {
        let f = form(b"From=%2B12065550100&Body=ok+123456+thanks&Empty=");
        assert_eq!(param(&f, "From"), "+12065550100");
        assert_eq!(param(&f, "Body"), "ok 123456 thanks");
        assert_eq!(param(&f, "Empty"), "");
        assert_eq!(
            codes("code: 123456, not 12345 or 12345678901"),
            vec!["123456"]
        );
    }
}
