//! Errors as AWS clients parse them. awsJson1_1: `__type` in the body (and the
//! `X-Amzn-ErrorType` header, which some SDKs read first), message member `Message`.
//! restJson1: the `X-Amzn-ErrorType` header, message member `message`.

use super::sigv4::SigError;
use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    AwsJson,
    RestJson,
}

impl Protocol {
    pub fn content_type(self) -> &'static str {
        match self {
            Protocol::AwsJson => "application/x-amz-json-1.1",
            Protocol::RestJson => "application/json",
        }
    }

    fn message_member(self) -> &'static str {
        match self {
            Protocol::AwsJson => "Message",
            Protocol::RestJson => "message",
        }
    }
}

/// An error ready to be written: its wire name, HTTP status and modeled members.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorReply {
    pub type_name: String,
    pub status: u16,
    pub body: Map<String, Value>,
}

impl ErrorReply {
    pub fn new(
        protocol: Protocol,
        type_name: &str,
        status: u16,
        message: impl Into<String>,
    ) -> ErrorReply {
        let mut body = Map::new();
        body.insert(
            protocol.message_member().into(),
            Value::String(message.into()),
        );
        ErrorReply {
            type_name: type_name.into(),
            status,
            body,
        }
    }

    pub fn from_modeled(type_name: &str, status: u16, body: Value) -> ErrorReply {
        let body = match body {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        ErrorReply {
            type_name: type_name.into(),
            status,
            body,
        }
    }

    pub fn serialization(protocol: Protocol, message: impl Into<String>) -> ErrorReply {
        ErrorReply::new(protocol, "SerializationException", 400, message)
    }

    pub fn internal(protocol: Protocol) -> ErrorReply {
        ErrorReply::new(
            protocol,
            "InternalServerException",
            500,
            "An internal error occurred; see the server log.",
        )
    }

    pub fn auth(protocol: Protocol, e: &SigError) -> ErrorReply {
        let (name, status) = match e {
            SigError::Missing => ("MissingAuthenticationTokenException", 403),
            SigError::Incomplete(_) => ("IncompleteSignatureException", 400),
            SigError::UnknownKey => ("UnrecognizedClientException", 403),
            SigError::Mismatch
            | SigError::Expired { .. }
            | SigError::NotYetCurrent { .. }
            | SigError::WrongService(_)
            | SigError::WrongRegion => ("InvalidSignatureException", 403),
        };
        ErrorReply::new(protocol, name, status, e.to_string())
    }

    pub fn into_response(self, protocol: Protocol, request_id: &str) -> Response<Body> {
        let mut body = self.body;
        if protocol == Protocol::AwsJson {
            body.insert("__type".into(), Value::String(self.type_name.clone()));
        }
        let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_else(|_| b"{}".to_vec());
        let mut resp = Response::new(Body::from(bytes));
        *resp.status_mut() = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let h = resp.headers_mut();
        h.insert(
            "content-type",
            HeaderValue::from_static(protocol.content_type()),
        );
        if let Ok(v) = HeaderValue::from_str(&self.type_name) {
            h.insert("x-amzn-errortype", v);
        }
        if let Ok(v) = HeaderValue::from_str(request_id) {
            h.insert("x-amzn-requestid", v);
        }
        resp
    }
}
