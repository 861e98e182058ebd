//! restJson1 for SSM Incidents: the operation comes from method + path (generated route
//! table), members from the URI label, the query string and the JSON body.

use super::errors::{ErrorReply, Protocol};
use crate::shapes::incidents::{self, ROUTES};
use crate::shapes::runtime::{Param, QueryKind, Route};
use crate::shapes::{Context, DispatchError};
use serde_json::{Map, Value};

const P: Protocol = Protocol::RestJson;

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Matches on the raw path so that an encoded `/` inside a label never splits it.
pub fn find_route(
    method: &str,
    raw_path: &str,
) -> Option<(&'static Route, Vec<(&'static Param, String)>)> {
    for route in ROUTES {
        if !route.method.eq_ignore_ascii_case(method) {
            continue;
        }
        match route.path.find('{') {
            None if route.path == raw_path => return Some((route, Vec::new())),
            None => {}
            Some(open) => {
                let prefix = &route.path[..open];
                let Some(rest) = raw_path.strip_prefix(prefix) else {
                    continue;
                };
                if rest.is_empty() || rest.contains('/') {
                    continue;
                }
                let param = route.labels.first()?;
                return Some((route, vec![(param, decode(rest))]));
            }
        }
    }
    None
}

fn query_value(kind: QueryKind, values: Vec<String>, name: &str) -> Result<Value, ErrorReply> {
    let one = || values.last().cloned().unwrap_or_default();
    Ok(match kind {
        QueryKind::List => Value::Array(values.into_iter().map(Value::String).collect()),
        QueryKind::String => Value::String(one()),
        QueryKind::Integer => Value::from(one().parse::<i64>().map_err(|_| {
            ErrorReply::new(
                P,
                "ValidationException",
                400,
                format!("query parameter {name} must be an integer"),
            )
        })?),
        QueryKind::Boolean => Value::Bool(match one().as_str() {
            "true" => true,
            "false" => false,
            _ => {
                return Err(ErrorReply::new(
                    P,
                    "ValidationException",
                    400,
                    format!("query parameter {name} must be true or false"),
                ));
            }
        }),
    })
}

/// Merges body, label and query members into one JSON object for the generated decoder.
pub fn build_input(
    route: &Route,
    labels: Vec<(&Param, String)>,
    raw_query: &str,
    body: &[u8],
) -> Result<Value, ErrorReply> {
    let mut input: Map<String, Value> = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                return Err(ErrorReply::serialization(
                    P,
                    "request body must be a JSON object",
                ));
            }
            Err(e) => {
                return Err(ErrorReply::serialization(
                    P,
                    format!("request body is not valid JSON: {e}"),
                ));
            }
        }
    };
    for (param, value) in labels {
        input.insert(param.member.into(), Value::String(value));
    }
    for param in route.query {
        let values: Vec<String> = raw_query
            .split('&')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (decode(k) == param.wire).then(|| decode(v))
            })
            .collect();
        if !values.is_empty() {
            input.insert(
                param.member.into(),
                query_value(param.kind, values, param.wire)?,
            );
        }
    }
    Ok(Value::Object(input))
}

pub async fn call<A: incidents::Api>(
    api: &A,
    ctx: Context,
    route: &Route,
    input: Value,
) -> Result<Vec<u8>, ErrorReply> {
    incidents::dispatch(api, ctx, route.operation, input)
        .await
        .map_err(error)
}

pub fn error(e: DispatchError<incidents::Error>) -> ErrorReply {
    match e {
        DispatchError::Decode(m) => ErrorReply::new(P, "ValidationException", 400, m),
        DispatchError::Invalid(fields) => ErrorReply::new(
            P,
            "ValidationException",
            400,
            crate::shapes::runtime::describe(&fields),
        ),
        DispatchError::UnknownOperation(op) => ErrorReply::new(
            P,
            "UnknownOperationException",
            400,
            format!("Unknown operation {op:?}"),
        ),
        DispatchError::Service(e) => ErrorReply::from_modeled(e.type_name(), e.status(), e.body()),
        DispatchError::Encode(m) => {
            tracing::error!(error = %m, "cannot encode an incidents response");
            ErrorReply::internal(P)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_labels_and_repeated_query_keys() {
        let (route, labels) = find_route(
            "DELETE",
            "/tags/arn%3Aaws%3Assm-incidents%3A%3A111122223333%3Aresponse-plan%2Frp",
        )
        .unwrap();
        assert_eq!(route.operation, "UntagResource");
        assert_eq!(
            labels[0].1,
            "arn:aws:ssm-incidents::111122223333:response-plan/rp"
        );
        let input = build_input(route, labels, "tagKeys=a&tagKeys=b%20c", b"").unwrap();
        assert_eq!(input["tagKeys"], serde_json::json!(["a", "b c"]));
        assert_eq!(
            input["resourceArn"],
            "arn:aws:ssm-incidents::111122223333:response-plan/rp"
        );

        let (route, _) = find_route("GET", "/getIncidentRecord").unwrap();
        assert_eq!(route.operation, "GetIncidentRecord");
        let input = build_input(route, vec![], "arn=arn%3Aaws%3Ax", b"").unwrap();
        assert_eq!(input["arn"], "arn:aws:x");
        assert!(find_route("GET", "/tags/a/b").is_none());
        assert!(find_route("PUT", "/startIncident").is_none());
        assert_eq!(
            find_route("POST", "/createResponsePlan").unwrap().0.status,
            201
        );
    }
}
