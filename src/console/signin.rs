//! Signing in with an access key id and its secret (the API's own credentials), and out.

use super::request::{self, COOKIE, field, redirect, safe_next};
use super::{Console, session};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// The same words and status for an unknown key and a wrong secret: the page must not tell
/// which keys exist.
const REFUSED: &str = "Those credentials were not accepted. Check the access key ID and the \
                       secret access key.";

pub async fn home(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    match c.session(req.headers()).await {
        Ok(Some(_)) => redirect("/console/incidents"),
        Ok(None) => redirect("/console/sign-in"),
        Err(r) => r,
    }
}

fn next_of(req_query: Option<&str>) -> Option<String> {
    let pairs = crate::wire::form::form(req_query.unwrap_or_default().as_bytes());
    pairs.into_iter().find(|(k, _)| k == "next").map(|(_, v)| v)
}

fn sign_in_page(
    c: &Console,
    status: StatusCode,
    next: &str,
    key: &str,
    error: Option<&str>,
) -> Response<Body> {
    c.page(
        status,
        "console/sign_in.html",
        None,
        json!({"next": next, "access_key_id": key, "error": error}),
    )
}

pub async fn form(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    let next = next_of(req.uri().query());
    let next = safe_next(next.as_deref()).to_string();
    match c.session(req.headers()).await {
        Ok(Some(_)) => redirect(&next),
        Ok(None) => sign_in_page(&c, StatusCode::OK, &next, "", None),
        Err(r) => r,
    }
}

fn digest(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Whether the secret is the key's; an unknown key costs the same comparison.
fn credentials_ok(c: &Console, key_id: &str, secret: &str) -> Option<String> {
    let given = digest(secret);
    let (expected, account) = match c.api.keys.get(key_id) {
        Some(k) => (digest(k.secret.expose()), Some(k.account_id.clone())),
        None => (digest("klaxon: no such key"), None),
    };
    let same: bool = given.ct_eq(&expected).into();
    if same { account } else { None }
}

fn session_cookie(c: &Console, value: &str, max_age_secs: i64) -> HeaderValue {
    let secure = if c.settings.secure_cookies {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("klaxon_session=; Path=/console; Max-Age=0"))
}

pub async fn sign_in(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let now = c.clock.now_ms();
    if !c.limiter.allow(request::client_ip(&parts), now) {
        return c.refused(
            None,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-in attempts from this address. Wait a minute, then try again.",
        );
    }
    let form = match request::read_form(body).await {
        Ok(f) => f,
        Err(m) => return c.refused(None, StatusCode::PAYLOAD_TOO_LARGE, m),
    };
    let next = safe_next(field(&form, "next")).to_string();
    if !request::same_origin(&parts.headers) {
        return c.refused(
            None,
            StatusCode::FORBIDDEN,
            "This sign-in form did not come from this console.",
        );
    }
    let key_id = field(&form, "access_key_id").unwrap_or_default().trim();
    let secret = field(&form, "secret_access_key").unwrap_or_default();
    let Some(account) = credentials_ok(&c, key_id, secret) else {
        tracing::info!(key = %key_id, "console sign-in refused");
        return sign_in_page(&c, StatusCode::UNAUTHORIZED, &next, key_id, Some(REFUSED));
    };
    let hours = c.settings.session_hours;
    match session::open(c.store.as_ref(), key_id, &account, now, hours).await {
        Ok((token, _)) => {
            tracing::info!(key = %key_id, account = %account, "console sign-in");
            let mut r = redirect(&next);
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&c, &token, i64::from(hours) * 3600),
            );
            r
        }
        Err(e) => c.error_page(None, e.into()),
    }
}

pub async fn sign_out(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    let (who, _, _) = match c.poster(req).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    if let Err(e) = session::close(c.store.as_ref(), &who).await {
        return c.error_page(Some(&who), e.into());
    }
    let mut r = redirect("/console/sign-in");
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie(&c, "", 0));
    r
}

pub async fn not_found(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    let (parts, _) = req.into_parts();
    let who = match c.viewer(&parts).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    c.refused(
        Some(&who),
        StatusCode::NOT_FOUND,
        "There is no console page at this address.",
    )
}
