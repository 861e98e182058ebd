//! The API's front door: one handler for both services. It reads the body (bounded), verifies
//! SigV4 for the addressed service, then hands the request to the protocol codec. It knows
//! HTTP and the wire formats, not incidents.

pub mod awsjson;
pub mod credentials;
pub mod errors;
pub mod form;
pub mod restjson;
pub mod sigv4;

use crate::domain::clock::Clock;
use crate::handlers::contacts::ContactsService;
use crate::handlers::incidents::IncidentsService;
use crate::shapes::{Context, contacts, incidents};
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use credentials::KeyRing;
use errors::{ErrorReply, Protocol};
use std::sync::Arc;
use std::time::Instant;

pub struct Api {
    pub keys: KeyRing,
    pub regions: Vec<String>,
    pub clock: Arc<dyn Clock>,
    pub max_body_bytes: usize,
    pub metrics: Arc<crate::metrics::Metrics>,
    pub contacts: ContactsService,
    pub incidents: IncidentsService,
}

fn ok_response(protocol: Protocol, status: u16, body: Vec<u8>, request_id: &str) -> Response<Body> {
    let empty = status == 204;
    let mut resp = Response::new(if empty {
        Body::empty()
    } else {
        Body::from(body)
    });
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let h = resp.headers_mut();
    if !empty {
        h.insert(
            "content-type",
            HeaderValue::from_static(protocol.content_type()),
        );
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}

/// Verifies the signature and returns who is calling.
fn authenticate(
    api: &Api,
    service: &str,
    parts: &axum::http::request::Parts,
    body: &[u8],
    request_id: &str,
) -> Result<Context, sigv4::SigError> {
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let req = sigv4::SignedRequest {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body,
    };
    let exp = sigv4::Expectation {
        service,
        regions: &api.regions,
        now_secs: api.clock.now_ms().div_euclid(1000),
    };
    let auth = sigv4::precheck(&req, &exp)?;
    let key = api
        .keys
        .get(&auth.access_key)
        .ok_or(sigv4::SigError::UnknownKey)?;
    sigv4::verify(&req, &auth, key.secret.expose())?;
    Ok(Context {
        account_id: key.account_id.clone(),
        region: auth.region,
        access_key_id: auth.access_key,
        request_id: request_id.to_string(),
    })
}

pub async fn handle(State(api): State<Arc<Api>>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id();
    let (parts, body) = req.into_parts();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let protocol = if target.is_some() {
        Protocol::AwsJson
    } else {
        Protocol::RestJson
    };
    let service = match protocol {
        Protocol::AwsJson => contacts::SIGNING_NAME,
        Protocol::RestJson => incidents::SIGNING_NAME,
    };
    let result = serve(
        &api,
        protocol,
        service,
        target.as_deref(),
        parts,
        body,
        &request_id,
    )
    .await;
    let (operation, outcome, resp) = match result {
        Ok((op, status, bytes)) => (
            op,
            "success".to_string(),
            ok_response(protocol, status, bytes, &request_id),
        ),
        Err((op, e)) => {
            if e.status >= 500 {
                tracing::error!(%request_id, error_type = %e.type_name, "request failed");
            }
            let outcome = e.type_name.to_string();
            (op, outcome, e.into_response(protocol, &request_id))
        }
    };
    api.metrics.api(
        service,
        operation.unwrap_or("-"),
        &outcome,
        started.elapsed().as_secs_f64(),
    );
    tracing::debug!(
        %request_id,
        service,
        operation = operation.unwrap_or("-"),
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "api request"
    );
    resp
}

type Served = Result<(Option<&'static str>, u16, Vec<u8>), (Option<&'static str>, ErrorReply)>;

async fn serve(
    api: &Api,
    protocol: Protocol,
    service: &str,
    target: Option<&str>,
    parts: axum::http::request::Parts,
    body: Body,
    request_id: &str,
) -> Served {
    let fail = |e: ErrorReply| Err((None, e));
    let body = match to_bytes(body, api.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => {
            return fail(ErrorReply::new(
                protocol,
                "ValidationException",
                400,
                format!("request body is larger than {} bytes", api.max_body_bytes),
            ));
        }
    };
    let ctx = match authenticate(api, service, &parts, &body, request_id) {
        Ok(c) => c,
        Err(e) => return fail(ErrorReply::auth(protocol, &e)),
    };
    match protocol {
        Protocol::AwsJson => {
            let target = target.unwrap_or_default();
            let op = awsjson::operation(target)
                .and_then(|op| contacts::OPERATIONS.iter().copied().find(|o| *o == op));
            let Some(op) = op else {
                return fail(ErrorReply::new(
                    protocol,
                    "UnknownOperationException",
                    400,
                    format!("Unknown operation {target:?}"),
                ));
            };
            if parts.method != axum::http::Method::POST || parts.uri.path() != "/" {
                return fail(ErrorReply::new(
                    protocol,
                    "UnknownOperationException",
                    400,
                    "awsJson1_1 requests are POST /",
                ));
            }
            let content_type = parts
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok());
            if !awsjson::content_type_ok(content_type) {
                return fail(ErrorReply::serialization(
                    protocol,
                    format!(
                        "Content-Type must be {}, got {:?}",
                        protocol.content_type(),
                        content_type.unwrap_or("")
                    ),
                ));
            }
            match awsjson::call(&api.contacts, ctx, op, &body).await {
                Ok(bytes) => Ok((Some(op), 200, bytes)),
                Err(e) => Err((Some(op), e)),
            }
        }
        Protocol::RestJson => {
            let Some((route, labels)) =
                restjson::find_route(parts.method.as_str(), parts.uri.path())
            else {
                return fail(ErrorReply::new(
                    protocol,
                    "UnknownOperationException",
                    400,
                    format!("No operation at {} {}", parts.method, parts.uri.path()),
                ));
            };
            let op = Some(route.operation);
            let input = match restjson::build_input(
                route,
                labels,
                parts.uri.query().unwrap_or(""),
                &body,
            ) {
                Ok(v) => v,
                Err(e) => return Err((op, e)),
            };
            match restjson::call(&api.incidents, ctx, route, input).await {
                Ok(bytes) => Ok((op, route.status, bytes)),
                Err(e) => Err((op, e)),
            }
        }
    }
}

/// A request id (UUID v4 form) from the thread's random generator: `Uuid::new_v4` asks the
/// kernel for randomness on every call, which showed in the profile of the read path.
pub fn request_id() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .to_string()
}
