//! What every console request needs before its page: the signed-in session (or a trip to the
//! sign-in page), and for a form post its body, its origin and its CSRF token checked.

use super::Console;
use super::session::{self, Session};
use axum::body::{Body, to_bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use subtle::ConstantTimeEq;

pub const COOKIE: &str = "klaxon_session";
/// A console form is a few fields; anything larger is not one of ours.
const MAX_FORM_BYTES: usize = 64 * 1024;

pub type Form = Vec<(String, String)>;

pub fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The query string's pairs.
pub fn query(parts: &Parts) -> Form {
    crate::wire::form::form(parts.uri.query().unwrap_or_default().as_bytes())
}

/// The words for `?done=…` after an action: fixed sentences, never the query's own text.
pub fn done_words(q: &Form) -> Option<&'static str> {
    Some(match field(q, "done")? {
        "started" => "Incident started.",
        "note" => "Note added.",
        "resolved" => "Incident resolved.",
        "impact" => "Impact changed.",
        "acknowledged" => "Page acknowledged.",
        "stopped" => "Engagement stopped.",
        _ => return None,
    })
}

pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub fn client_ip(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
}

/// A browser names the page a form was posted from; one from another site is refused even
/// before its CSRF token is looked at. Tools that send no Origin rely on the token alone.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .unwrap_or_default();
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

pub fn redirect(location: &str) -> Response<Body> {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Only a path inside the console, so a sign-in link cannot send someone elsewhere.
pub fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with("/console/")
                && !n.contains("//")
                && !n.contains('\\')
                && n.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            n
        }
        _ => "/console/incidents",
    }
}

/// The page a form was posted from, for the way back after signing in (a form's action path
/// answers POST only).
fn page_of(action: &str) -> &str {
    const ACTIONS: &[&str] = &["/note", "/resolve", "/impact", "/acknowledge", "/stop"];
    match ACTIONS.iter().find_map(|a| action.strip_suffix(a)) {
        Some(page) => page,
        None if action == "/console/sign-out" => "/console/incidents",
        None => action,
    }
}

fn to_sign_in(parts: &Parts) -> Response<Body> {
    let here = if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/console/incidents")
    } else {
        page_of(parts.uri.path())
    };
    let next: String =
        percent_encoding::utf8_percent_encode(here, percent_encoding::NON_ALPHANUMERIC).to_string();
    redirect(&format!("/console/sign-in?next={next}"))
}

impl Console {
    /// The session the request's cookie names, while it lasts and its key is still configured
    /// for the same account.
    pub async fn session(&self, headers: &HeaderMap) -> Result<Option<Session>, Response<Body>> {
        let Some(token) = cookie(headers, COOKIE) else {
            return Ok(None);
        };
        let found = session::find(self.store.as_ref(), &token, self.clock.now_ms())
            .await
            .map_err(|e| self.error_page(None, e.into()))?;
        Ok(found.filter(|s| {
            self.api
                .keys
                .get(&s.access_key_id)
                .is_some_and(|k| k.account_id == s.account_id)
        }))
    }

    /// For a page: who is signed in, or the answer that sends them to sign in.
    pub async fn viewer(&self, parts: &Parts) -> Result<Session, Response<Body>> {
        match self.session(&parts.headers).await? {
            Some(s) => Ok(s),
            None => Err(to_sign_in(parts)),
        }
    }

    /// A page for whoever is signed in: its context from `build` (given the session and the
    /// query), or the refusal in words.
    pub async fn view(
        &self,
        req: Request,
        template: &str,
        build: impl AsyncFnOnce(&Session, &Form) -> Result<serde_json::Value, super::ConsoleError>,
    ) -> Response<Body> {
        let (parts, _) = req.into_parts();
        let who = match self.viewer(&parts).await {
            Ok(w) => w,
            Err(r) => return r,
        };
        match build(&who, &query(&parts)).await {
            Ok(ctx) => self.page(StatusCode::OK, template, Some(&who), ctx),
            Err(e) => self.error_page(Some(&who), e),
        }
    }

    /// For a form post: who is signed in and the form, once its origin and CSRF token are
    /// right. A post that fails here has changed nothing.
    pub async fn poster(&self, req: Request) -> Result<(Session, Form, Parts), Response<Body>> {
        let (parts, body) = req.into_parts();
        let who = self.viewer(&parts).await?;
        let form = read_form(body)
            .await
            .map_err(|m| self.refused(Some(&who), StatusCode::PAYLOAD_TOO_LARGE, m))?;
        let token = field(&form, "csrf_token").unwrap_or_default();
        let token_ok: bool = token.as_bytes().ct_eq(who.csrf.as_bytes()).into();
        if !same_origin(&parts.headers) || !token_ok {
            return Err(self.refused(
                Some(&who),
                StatusCode::FORBIDDEN,
                "This form did not come from a page of this console session, so nothing was \
                 changed. Reload the page and try again.",
            ));
        }
        Ok((who, form, parts))
    }
}

pub async fn read_form(body: Body) -> Result<Form, &'static str> {
    let bytes = to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| "The form is larger than the console accepts.")?;
    Ok(crate::wire::form::form(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_console() {
        assert_eq!(safe_next(Some("/console/oncall")), "/console/oncall");
        for bad in [
            "https://evil.example/",
            "//evil.example/console/",
            "/console//evil",
            "/console/\\evil",
            "/metrics",
        ] {
            assert_eq!(safe_next(Some(bad)), "/console/incidents", "{bad}");
        }
    }

    #[test]
    fn a_post_signed_out_comes_back_to_the_page_it_was_made_on() {
        assert_eq!(
            page_of("/console/incidents/checkout/1-2/note"),
            "/console/incidents/checkout/1-2"
        );
        assert_eq!(
            page_of("/console/engagements/acknowledge"),
            "/console/engagements"
        );
        assert_eq!(page_of("/console/incidents"), "/console/incidents");
        assert_eq!(page_of("/console/sign-out"), "/console/incidents");
    }

    #[test]
    fn an_origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:7700"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:7700"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; klaxon_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "klaxon"), None);
    }
}
