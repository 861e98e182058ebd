//! The web console under `/console/`: server-rendered pages for responders. It signs people in
//! with the API's own access keys and acts only through the API's operations (`ops`), as the
//! signed-in key; its own records are the sessions (`session`).

mod contacts;
mod engagements;
mod error;
mod incidents;
mod limit;
mod oncall;
mod ops;
mod render;
mod request;
mod session;
mod signin;
mod view;

use crate::config::ConsoleConfig;
use crate::domain::clock::Clock;
use crate::storage::Store;
use crate::wire::Api;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, Response};
use axum::routing::{get, post};
use std::sync::Arc;

pub use error::ConsoleError;

pub struct Console {
    api: Arc<Api>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    settings: ConsoleConfig,
    views: render::Views,
    limiter: limit::Limiter,
}

impl Console {
    pub fn new(
        api: Arc<Api>,
        store: Arc<dyn Store>,
        settings: ConsoleConfig,
        templates_dir: Option<&std::path::Path>,
    ) -> Result<Console, ConsoleError> {
        let clock = api.clock.clone();
        let limiter = limit::Limiter::new(settings.sign_in_attempts_per_minute);
        Ok(Console {
            views: render::Views::load(templates_dir)?,
            api,
            store,
            clock,
            settings,
            limiter,
        })
    }
}

/// Every console answer carries these, so a page can be neither framed nor made to run a
/// script it did not load from here.
async fn security_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if !h.contains_key("cache-control") {
        h.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    resp
}

pub fn routes(console: Arc<Console>) -> Router {
    Router::new()
        .route("/console", get(signin::home))
        .route("/console/", get(signin::home))
        .route("/console/sign-in", get(signin::form).post(signin::sign_in))
        .route("/console/sign-out", post(signin::sign_out))
        .route("/console/static/{file}", get(render::asset))
        .route(
            "/console/incidents",
            get(incidents::list).post(incidents::start),
        )
        .route("/console/incidents/{plan}/{id}", get(incidents::show))
        .route("/console/incidents/{plan}/{id}/note", post(incidents::note))
        .route(
            "/console/incidents/{plan}/{id}/resolve",
            post(incidents::resolve),
        )
        .route(
            "/console/incidents/{plan}/{id}/impact",
            post(incidents::impact),
        )
        .route("/console/oncall", get(oncall::show))
        .route("/console/contacts", get(contacts::list))
        .route("/console/contacts/{alias}", get(contacts::show))
        .route("/console/engagements", get(engagements::list))
        .route(
            "/console/engagements/acknowledge",
            post(engagements::acknowledge),
        )
        .route("/console/engagements/stop", post(engagements::stop))
        .route("/console/{*rest}", axum::routing::any(signin::not_found))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(console)
}
