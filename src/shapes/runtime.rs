//! Hand-written support for the generated shapes: timestamps, validation helpers, the request
//! context handed to every operation, and the decode/encode steps of dispatch.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Who is calling and where: the authenticated account is the tenant of every resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub account_id: String,
    pub region: String,
    pub access_key_id: String,
    pub request_id: String,
}

/// An instant on the wire: epoch seconds as a JSON number, fractions kept to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 % 1000 == 0 {
            s.serialize_i64(self.0 / 1000)
        } else {
            s.serialize_f64(self.0 as f64 / 1000.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let secs = f64::deserialize(d)?;
        if !secs.is_finite() || secs.abs() > 1e13 {
            return Err(serde::de::Error::custom("timestamp out of range"));
        }
        Ok(Timestamp((secs * 1000.0).round() as i64))
    }
}

/// One violated constraint, named by its member path (`Plan.Stages[0].DurationInMinutes`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub name: String,
    pub message: String,
}

impl FieldError {
    pub fn new(name: &str, message: impl Into<String>) -> Self {
        FieldError {
            name: name.to_string(),
            message: message.into(),
        }
    }
    pub fn missing(path: &str) -> Self {
        Self::new(path, "is required")
    }
    pub fn not_one_of(path: &str, value: &str, allowed: &[&str]) -> Self {
        Self::new(
            path,
            format!("value {value:?} is not one of [{}]", allowed.join(", ")),
        )
    }
}

/// Summarises field errors the way AWS does: a count, then each field and what is wrong.
pub fn describe(fields: &[FieldError]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|f| format!("{}: {}", f.name, f.message))
        .collect();
    format!(
        "{} validation error(s) detected: {}",
        fields.len(),
        parts.join("; ")
    )
}

pub trait Validate {
    fn validate(&self, path: &str, out: &mut Vec<FieldError>);
}

pub fn join(path: &str, member: &str) -> String {
    if path.is_empty() {
        member.to_string()
    } else {
        format!("{path}.{member}")
    }
}

pub fn compile_pattern(p: &str) -> regex::Regex {
    regex::Regex::new(p).unwrap_or_else(|e| panic!("model pattern {p:?} does not compile: {e}"))
}

pub fn check_length(
    v: &str,
    min: Option<i64>,
    max: Option<i64>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let n = v.chars().count() as i64;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        out.push(FieldError::new(
            path,
            format!("length {n} is outside {}", bounds(min, max)),
        ));
    }
}

pub fn check_pattern(
    v: &str,
    re: &regex::Regex,
    pattern: &str,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if !re.is_match(v) {
        out.push(FieldError::new(
            path,
            format!("does not match the pattern {pattern}"),
        ));
    }
}

pub fn check_not_prefix(v: &str, prefix: &str, path: &str, out: &mut Vec<FieldError>) {
    if v.starts_with(prefix) {
        out.push(FieldError::new(
            path,
            format!("must not start with {prefix:?}"),
        ));
    }
}

pub fn check_range(
    v: i64,
    min: Option<i64>,
    max: Option<i64>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if min.is_some_and(|m| v < m) || max.is_some_and(|m| v > m) {
        out.push(FieldError::new(
            path,
            format!("value {v} is outside {}", bounds(min, max)),
        ));
    }
}

pub fn check_count(
    n: usize,
    min: Option<i64>,
    max: Option<i64>,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let n = n as i64;
    if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
        out.push(FieldError::new(
            path,
            format!("has {n} items, allowed {}", bounds(min, max)),
        ));
    }
}

pub fn check_union(set: usize, path: &str, out: &mut Vec<FieldError>) {
    if set != 1 {
        let name = if path.is_empty() { "input" } else { path };
        out.push(FieldError::new(
            name,
            format!("exactly one member must be set, found {set}"),
        ));
    }
}

fn bounds(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) => format!("{a}..={b}"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(b)) => format!("<= {b}"),
        (None, None) => "any".into(),
    }
}

/// Why a request did not reach (or came back from) its handler.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError<E> {
    #[error("cannot parse the request: {0}")]
    Decode(String),
    #[error("{} validation error(s)", .0.len())]
    Invalid(Vec<FieldError>),
    #[error("unknown operation {0}")]
    UnknownOperation(String),
    #[error("{0}")]
    Service(E),
    #[error("cannot encode the response: {0}")]
    Encode(String),
}

pub fn decode<T: DeserializeOwned, E>(v: serde_json::Value) -> Result<T, DispatchError<E>> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        DispatchError::Decode(if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })
}

pub fn check<T: Validate, E>(input: &T) -> Result<(), DispatchError<E>> {
    let mut out = Vec::new();
    input.validate("", &mut out);
    if out.is_empty() {
        Ok(())
    } else {
        Err(DispatchError::Invalid(out))
    }
}

pub fn encode<T: Serialize, E>(output: &T) -> Result<Vec<u8>, DispatchError<E>> {
    serde_json::to_vec(output).map_err(|e| DispatchError::Encode(e.to_string()))
}

/// How a restJson1 label or query parameter becomes a JSON member before decoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    String,
    List,
    Integer,
    Boolean,
}

#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub member: &'static str,
    pub wire: &'static str,
    pub kind: QueryKind,
}

/// One restJson1 operation binding, generated from the model's `http` trait.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    pub operation: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub status: u16,
    pub labels: &'static [Param],
    pub query: &'static [Param],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_model_pattern_compiles() {
        for p in super::super::contacts::PATTERNS
            .iter()
            .chain(super::super::incidents::PATTERNS)
        {
            regex::Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
    }

    #[test]
    fn timestamps_accept_fractions_and_emit_numbers() {
        let t: Timestamp = serde_json::from_str("1704164645.678").unwrap();
        assert_eq!(t.millis(), 1_704_164_645_678);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1704164645.678");
        let t: Timestamp = serde_json::from_str("1704164645").unwrap();
        assert_eq!(serde_json::to_string(&t).unwrap(), "1704164645");
        assert!(serde_json::from_str::<Timestamp>("\"x\"").is_err());
    }
}
