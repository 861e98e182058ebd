//! AWS Signature Version 4, header form: pure functions to build the canonical request and
//! the signature, and `verify` which checks a received request against a known secret.
//! The same functions sign requests in the benchmark client.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Allowed difference between the request's date and ours.
pub const MAX_SKEW_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    #[error("Missing Authentication Token")]
    Missing,
    #[error("{0}")]
    Incomplete(String),
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."
    )]
    Mismatch,
    #[error("Signature expired: {request} is now earlier than {earliest} ({now} - 15 min.)")]
    Expired {
        request: String,
        earliest: String,
        now: String,
    },
    #[error("Signature not yet current: {request} is still later than {latest} ({now} + 15 min.)")]
    NotYetCurrent {
        request: String,
        latest: String,
        now: String,
    },
    #[error("Credential should be scoped to correct service: '{0}'.")]
    WrongService(String),
    #[error("Credential should be scoped to a valid region.")]
    WrongRegion,
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl AuthHeader {
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

pub fn parse_authorization(value: &str) -> Result<AuthHeader, SigError> {
    let bad = |m: &str| SigError::Incomplete(format!("Authorization header is malformed: {m}"));
    let rest = value
        .strip_prefix(ALGORITHM)
        .ok_or_else(|| bad("only AWS4-HMAC-SHA256 is supported"))?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let credential = credential.ok_or_else(|| bad("missing Credential"))?;
    let signed = signed.ok_or_else(|| bad("missing SignedHeaders"))?;
    let signature = signature.ok_or_else(|| bad("missing Signature"))?;
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, term] = parts[..] else {
        return Err(bad(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    };
    if term != "aws4_request" || date.len() != 8 || key.is_empty() {
        return Err(bad(
            "Credential must be KEY/DATE/REGION/SERVICE/aws4_request",
        ));
    }
    Ok(AuthHeader {
        access_key: key.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Percent-encodes everything but the unreserved set (and `/` when asked), as SigV4 requires.
fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Non-S3 services sign the path encoded twice: the path as sent (already encoded once) is
/// encoded again, so `%3A` on the wire is `%253A` in the canonical request.
pub fn canonical_path(raw_path: &str) -> String {
    if raw_path.is_empty() {
        "/".into()
    } else {
        uri_encode(raw_path, true)
    }
}

pub fn canonical_query(raw_query: &str) -> String {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut pairs: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&decode(k), false), uri_encode(&decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_header_value(v: &str) -> String {
    v.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `headers` are (name, value) as received; names are matched case-insensitively.
pub fn canonical_request(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    signed_headers: &[String],
    payload_sha256: &str,
) -> String {
    let mut lines = String::new();
    for name in signed_headers {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_header_value(v))
            .collect();
        lines.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!(
        "{method}\n{}\n{}\n{lines}\n{}\n{payload_sha256}",
        canonical_path(raw_path),
        canonical_query(raw_query),
        signed_headers.join(";")
    )
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Vec<u8> {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

pub fn signature(signing_key: &[u8], string_to_sign: &str) -> String {
    hex::encode(hmac(signing_key, string_to_sign.as_bytes()))
}

/// Parses `YYYYMMDDTHHMMSSZ` into epoch seconds.
pub fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

pub fn format_amz_date(epoch_secs: i64) -> String {
    let days = epoch_secs.div_euclid(86_400);
    let secs = epoch_secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// Howard Hinnant's days-from-civil algorithms (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

/// What the server expects of a request before it will look up the key.
pub struct Expectation<'a> {
    pub service: &'a str,
    pub regions: &'a [String],
    pub now_secs: i64,
}

/// A request as received: method, raw (still percent-encoded) path and query, headers, body.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub raw_path: &'a str,
    pub raw_query: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Checks everything that does not need the secret; returns the parsed header and its date.
pub fn precheck(req: &SignedRequest<'_>, exp: &Expectation<'_>) -> Result<AuthHeader, SigError> {
    let auth = header(req.headers, "authorization").ok_or(SigError::Missing)?;
    let auth = parse_authorization(auth)?;
    let amz_date = header(req.headers, "x-amz-date").ok_or_else(|| {
        SigError::Incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
                .into(),
        )
    })?;
    let when = parse_amz_date(amz_date).ok_or_else(|| {
        SigError::Incomplete(format!("X-Amz-Date {amz_date:?} is not YYYYMMDDTHHMMSSZ"))
    })?;
    if !amz_date.starts_with(&auth.date) {
        return Err(SigError::Incomplete(
            "Credential date does not match X-Amz-Date".into(),
        ));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(SigError::Incomplete(
            "'Host' must be a signed header".into(),
        ));
    }
    if auth.service != exp.service {
        return Err(SigError::WrongService(exp.service.to_string()));
    }
    if !exp.regions.contains(&auth.region) {
        return Err(SigError::WrongRegion);
    }
    if when < exp.now_secs - MAX_SKEW_SECS {
        return Err(SigError::Expired {
            request: amz_date.to_string(),
            earliest: format_amz_date(exp.now_secs - MAX_SKEW_SECS),
            now: format_amz_date(exp.now_secs),
        });
    }
    if when > exp.now_secs + MAX_SKEW_SECS {
        return Err(SigError::NotYetCurrent {
            request: amz_date.to_string(),
            latest: format_amz_date(exp.now_secs + MAX_SKEW_SECS),
            now: format_amz_date(exp.now_secs),
        });
    }
    Ok(auth)
}

/// Recomputes the signature with `secret` and compares in constant time.
pub fn verify(req: &SignedRequest<'_>, auth: &AuthHeader, secret: &str) -> Result<(), SigError> {
    let amz_date = header(req.headers, "x-amz-date").unwrap_or_default();
    let payload = sha256_hex(req.body);
    if let Some(claimed) = header(req.headers, "x-amz-content-sha256")
        && claimed != payload
    {
        return Err(SigError::Mismatch);
    }
    let creq = canonical_request(
        req.method,
        req.raw_path,
        req.raw_query,
        req.headers,
        &auth.signed_headers,
        &payload,
    );
    let sts = string_to_sign(amz_date, &auth.scope(), &creq);
    let expected = signature(
        &signing_key(secret, &auth.date, &auth.region, &auth.service),
        &sts,
    );
    if bool::from(expected.as_bytes().ct_eq(auth.signature.as_bytes())) {
        Ok(())
    } else {
        Err(SigError::Mismatch)
    }
}

/// Signs a request (for Klaxon's own clients: the benchmark and tests). Returns the headers to add.
#[allow(clippy::too_many_arguments)]
pub fn sign(
    method: &str,
    raw_path: &str,
    raw_query: &str,
    headers: &[(String, String)],
    body: &[u8],
    access_key: &str,
    secret: &str,
    region: &str,
    service: &str,
    now_secs: i64,
) -> Vec<(String, String)> {
    let amz_date = format_amz_date(now_secs);
    let mut all: Vec<(String, String)> = headers.to_vec();
    all.push(("x-amz-date".into(), amz_date.clone()));
    let mut signed: Vec<String> = all.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    signed.sort();
    signed.dedup();
    let creq = canonical_request(
        method,
        raw_path,
        raw_query,
        &all,
        &signed,
        &sha256_hex(body),
    );
    let scope = format!("{}/{region}/{service}/aws4_request", &amz_date[..8]);
    let sig = signature(
        &signing_key(secret, &amz_date[..8], region, service),
        &string_to_sign(&amz_date, &scope, &creq),
    );
    vec![
        ("x-amz-date".into(), amz_date),
        (
            "authorization".into(),
            format!(
                "{ALGORITHM} Credential={access_key}/{scope}, SignedHeaders={}, Signature={sig}",
                signed.join(";")
            ),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example credentials and date of AWS's published SigV4 test suite.
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    const DATE: &str = "20150830T123600Z";

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn suite_signature(method: &str, path: &str, query: &str) -> String {
        let headers = h(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]);
        let signed = vec!["host".to_string(), "x-amz-date".to_string()];
        let creq = canonical_request(method, path, query, &headers, &signed, &sha256_hex(b""));
        let sts = string_to_sign(DATE, "20150830/us-east-1/service/aws4_request", &creq);
        signature(
            &signing_key(SECRET, "20150830", "us-east-1", "service"),
            &sts,
        )
    }

    #[test]
    fn suite_get_vanilla() {
        let headers = h(&[("Host", "example.amazonaws.com"), ("X-Amz-Date", DATE)]);
        let signed = vec!["host".to_string(), "x-amz-date".to_string()];
        assert_eq!(
            canonical_request("GET", "/", "", &headers, &signed, &sha256_hex(b"")),
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            suite_signature("GET", "/", ""),
            "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn suite_post_vanilla() {
        assert_eq!(
            suite_signature("POST", "/", ""),
            "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
    }

    #[test]
    fn suite_query_order_key_case() {
        assert_eq!(
            canonical_query("Param2=value2&Param1=value1"),
            "Param1=value1&Param2=value2"
        );
        assert_eq!(
            suite_signature("GET", "/", "Param2=value2&Param1=value1"),
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
        );
    }

    #[test]
    fn iam_signing_key_example() {
        assert_eq!(
            hex::encode(signing_key(SECRET, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
    }

    #[test]
    fn labels_are_encoded_twice() {
        assert_eq!(
            canonical_path("/tags/arn%3Aaws%3Afoo%2Fbar"),
            "/tags/arn%253Aaws%253Afoo%252Fbar"
        );
        assert_eq!(
            canonical_query("tagKeys=a&tagKeys=b%20c"),
            "tagKeys=a&tagKeys=b%20c"
        );
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date(DATE), Some(1_440_938_160));
        assert_eq!(format_amz_date(1_440_938_160), DATE);
        assert_eq!(parse_amz_date("2015-08-30T12:36:00Z"), None);
    }

    fn request<'a>(headers: &'a [(String, String)], body: &'a [u8]) -> SignedRequest<'a> {
        SignedRequest {
            method: "POST",
            raw_path: "/",
            raw_query: "",
            headers,
            body,
        }
    }

    #[test]
    fn sign_then_verify_and_reject_tampering() {
        let now = 1_700_000_000;
        let base = h(&[
            ("host", "127.0.0.1:1"),
            ("content-type", "application/x-amz-json-1.1"),
        ]);
        let mut headers = base.clone();
        headers.extend(sign(
            "POST",
            "/",
            "",
            &base,
            b"{}",
            "AKID",
            "secret",
            "us-east-1",
            "ssm-contacts",
            now,
        ));
        let regions = vec!["us-east-1".to_string()];
        let exp = Expectation {
            service: "ssm-contacts",
            regions: &regions,
            now_secs: now,
        };
        let auth = precheck(&request(&headers, b"{}"), &exp).unwrap();
        verify(&request(&headers, b"{}"), &auth, "secret").unwrap();
        assert_eq!(
            verify(&request(&headers, b"{ }"), &auth, "secret"),
            Err(SigError::Mismatch)
        );
        assert_eq!(
            verify(&request(&headers, b"{}"), &auth, "other"),
            Err(SigError::Mismatch)
        );

        let wrong_service = Expectation {
            service: "ssm-incidents",
            ..exp
        };
        assert!(matches!(
            precheck(&request(&headers, b"{}"), &wrong_service),
            Err(SigError::WrongService(_))
        ));
        let later = Expectation {
            service: "ssm-contacts",
            regions: &regions,
            now_secs: now + 16 * 60,
        };
        assert!(matches!(
            precheck(&request(&headers, b"{}"), &later),
            Err(SigError::Expired { .. })
        ));
        let earlier = Expectation {
            service: "ssm-contacts",
            regions: &regions,
            now_secs: now - 16 * 60,
        };
        assert!(matches!(
            precheck(&request(&headers, b"{}"), &earlier),
            Err(SigError::NotYetCurrent { .. })
        ));
        let other_region = vec!["eu-west-1".to_string()];
        let exp = Expectation {
            service: "ssm-contacts",
            regions: &other_region,
            now_secs: now,
        };
        assert_eq!(
            precheck(&request(&headers, b"{}"), &exp),
            Err(SigError::WrongRegion)
        );
        assert_eq!(
            precheck(&request(&base, b"{}"), &exp),
            Err(SigError::Missing)
        );
    }
}
