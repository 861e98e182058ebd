//! The console's pages from the minijinja templates in `templates/console/` (built in; files of
//! the same name under `templates_dir` replace them), and its stylesheet and script. Templates
//! end in `.html`, so every value written into them is HTML-escaped.

use super::session::Session;
use super::{Console, ConsoleError};
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderValue, Response, StatusCode, header};
use minijinja::Environment;
use serde_json::{Value, json};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "console/base.html",
        include_str!("../../templates/console/base.html"),
    ),
    (
        "console/sign_in.html",
        include_str!("../../templates/console/sign_in.html"),
    ),
    (
        "console/incidents.html",
        include_str!("../../templates/console/incidents.html"),
    ),
    (
        "console/incident.html",
        include_str!("../../templates/console/incident.html"),
    ),
    (
        "console/engagement.html",
        include_str!("../../templates/console/engagement.html"),
    ),
    (
        "console/oncall.html",
        include_str!("../../templates/console/oncall.html"),
    ),
    (
        "console/contacts.html",
        include_str!("../../templates/console/contacts.html"),
    ),
    (
        "console/contact.html",
        include_str!("../../templates/console/contact.html"),
    ),
    (
        "console/engagements.html",
        include_str!("../../templates/console/engagements.html"),
    ),
    (
        "console/message.html",
        include_str!("../../templates/console/message.html"),
    ),
];

const ASSETS: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../templates/console/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../templates/console/console.js"),
    ),
];

pub struct Views {
    env: Environment<'static>,
    assets: Vec<(&'static str, &'static str, String)>,
}

impl Views {
    pub fn load(dir: Option<&std::path::Path>) -> Result<Views, ConsoleError> {
        let mut env = Environment::new();
        for (name, shipped) in TEMPLATES {
            let text =
                crate::templates::source(dir, name, shipped).map_err(ConsoleError::Internal)?;
            env.add_template_owned(name.to_string(), text)?;
        }
        let mut assets = Vec::new();
        for (name, kind, shipped) in ASSETS {
            let text = crate::templates::source(dir, &format!("console/{name}"), shipped)
                .map_err(ConsoleError::Internal)?;
            assets.push((*name, *kind, text));
        }
        Ok(Views { env, assets })
    }
}

/// `/console/static/<file>`: the stylesheet and the script, cacheable for an hour.
pub async fn asset(
    axum::extract::State(c): axum::extract::State<std::sync::Arc<Console>>,
    Path(file): Path<String>,
) -> Response<Body> {
    match c.views.assets.iter().find(|(name, _, _)| *name == file) {
        Some((_, kind, text)) => {
            let mut r = Response::new(Body::from(text.clone()));
            let h = r.headers_mut();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            );
            r
        }
        None => c.refused(
            None,
            StatusCode::NOT_FOUND,
            "There is no such console file.",
        ),
    }
}

impl Console {
    /// A page from its template; `ctx` is merged over what every page has (who is signed in,
    /// the CSRF token for its forms).
    pub fn page(
        &self,
        status: StatusCode,
        template: &str,
        who: Option<&Session>,
        mut ctx: Value,
    ) -> Response<Body> {
        let base = json!({
            "signed_in": who.is_some(),
            "key": who.map(|w| w.access_key_id.clone()),
            "account": who.map(|w| w.account_id.clone()),
            "csrf": who.map(|w| w.csrf.clone()),
        });
        if let (Some(c), Value::Object(b)) = (ctx.as_object_mut(), base) {
            for (k, v) in b {
                c.entry(k).or_insert(v);
            }
        }
        let html = self
            .views
            .env
            .get_template(template)
            .and_then(|t| t.render(minijinja::Value::from_serialize(&ctx)));
        match html {
            Ok(html) => {
                let mut r = Response::new(Body::from(html));
                *r.status_mut() = status;
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                );
                r
            }
            Err(e) => {
                let e = ConsoleError::from(e);
                tracing::error!(error = %e, "console page cannot be rendered");
                let mut r = Response::new(Body::from(
                    "The console cannot show this page: its template is broken. The server log \
                     has the details.\n",
                ));
                *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
        }
    }

    /// A page that says, in words, why nothing was shown or done.
    pub fn refused(
        &self,
        who: Option<&Session>,
        status: StatusCode,
        words: &str,
    ) -> Response<Body> {
        let title = match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            s if s.is_server_error() => "Server error",
            _ => "Not done",
        };
        self.page(
            status,
            "console/message.html",
            who,
            json!({"title": title, "message": words}),
        )
    }

    pub fn error_page(&self, who: Option<&Session>, e: ConsoleError) -> Response<Body> {
        if e.status().is_server_error() {
            tracing::error!(error = %e, "console page failed");
        }
        let status = if e.is_not_found() {
            StatusCode::NOT_FOUND
        } else {
            e.status()
        };
        self.refused(who, status, &e.words())
    }
}
