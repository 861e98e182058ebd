use std::collections::HashMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use regex::Regex;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id,
};

use crate::{Envelope, SnsError};

/// HTTPS, an SNS host of a region (GovCloud and China included) and SNS's certificate file
/// name. Stricter than AWS's own validators (`sns\.[a-zA-Z0-9\-]{3,}\.amazonaws\.com`), which
/// also take `sns.s3.amazonaws.com` — the S3 bucket named `sns`, whose owner could host a
/// certificate of their own.
pub const DEFAULT_CERT_URL_PATTERN: &str = r"^https://sns\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+\.amazonaws\.com(\.cn)?/SimpleNotificationService-[0-9a-zA-Z]+\.pem$";

/// The same hosts as [`DEFAULT_CERT_URL_PATTERN`]; a SubscribeURL is a query on the root path.
pub const DEFAULT_SUBSCRIBE_URL_PATTERN: &str = r"^https://sns\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]+\.amazonaws\.com(\.cn)?/\?Action=ConfirmSubscription&.*$";

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// SNS certificates are about 2 KiB; the cap keeps an allowed but misbehaving URL from
/// streaming without end.
const MAX_CERT_BYTES: usize = 16 * 1024;

/// Only certificates that parsed are cached, and only from allowed URLs, so the cache stays
/// tiny in practice; the cap just bounds it.
const MAX_CACHED_CERTS: usize = 64;

/// Checks SNS signatures and confirms subscriptions.
///
/// Certificates are used as leaf certificates only: neither their chain nor their validity
/// dates are checked. The trust comes from where they are fetched, over HTTPS (with the usual
/// WebPKI checks of that connection) from a URL the pattern allows, which is all AWS's own
/// validators do. A fixed certificate is trusted as given.
#[derive(Debug)]
pub struct Verifier {
    certs: Certs,
    subscribe_url_pattern: Regex,
    timeout: Duration,
    /// Built on first use, because building it panics unless the application has installed a
    /// rustls crypto provider, and a verifier with a fixed certificate may never need it.
    http: OnceLock<reqwest::Client>,
}

type Cache = Mutex<HashMap<String, Arc<CertificateDer<'static>>>>;

#[derive(Debug)]
enum Certs {
    Fixed(Arc<CertificateDer<'static>>),
    Fetched { pattern: Regex, cache: Cache },
}

impl Verifier {
    /// Uses this certificate for every message, whatever its SigningCertURL says; for tests
    /// and for networks that cannot reach SNS.
    pub fn with_cert_pem(pem: &[u8]) -> Result<Verifier, SnsError> {
        Ok(Verifier {
            certs: Certs::Fixed(Arc::new(parse_cert_pem(pem)?)),
            subscribe_url_pattern: compile(DEFAULT_SUBSCRIBE_URL_PATTERN)?,
            timeout: DEFAULT_TIMEOUT,
            http: OnceLock::new(),
        })
    }

    /// Fetches each message's certificate from its SigningCertURL, if the URL matches
    /// `cert_url_pattern` (a regex that must match the whole URL), and keeps it for later
    /// messages naming the same URL.
    pub fn fetching(cert_url_pattern: &str, timeout: Duration) -> Result<Verifier, SnsError> {
        Ok(Verifier {
            certs: Certs::Fetched {
                pattern: compile(cert_url_pattern)?,
                cache: Mutex::new(HashMap::new()),
            },
            subscribe_url_pattern: compile(DEFAULT_SUBSCRIBE_URL_PATTERN)?,
            timeout,
            http: OnceLock::new(),
        })
    }

    /// Replaces [`DEFAULT_SUBSCRIBE_URL_PATTERN`], e.g. to confirm against a local fake of SNS.
    pub fn with_subscribe_url_pattern(mut self, pattern: &str) -> Result<Self, SnsError> {
        self.subscribe_url_pattern = compile(pattern)?;
        Ok(self)
    }

    /// The timeout of each certificate fetch and subscription confirmation.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.http = OnceLock::new();
        self
    }

    /// Whether [`Verifier::verify`] would fetch a certificate from this URL. Always true with a
    /// fixed certificate, which makes the SigningCertURL irrelevant.
    ///
    /// Patterns are matched against the URL as parsed and normalized, which is what gets
    /// requested, and URLs with user info are refused whatever the pattern.
    pub fn cert_url_allowed(&self, url: &str) -> bool {
        match &self.certs {
            Certs::Fixed(_) => true,
            Certs::Fetched { pattern, .. } => allowed(pattern, url).is_some(),
        }
    }

    /// Whether [`Verifier::confirm_subscription`] would request this SubscribeURL.
    pub fn subscribe_url_allowed(&self, url: &str) -> bool {
        allowed(&self.subscribe_url_pattern, url).is_some()
    }

    /// Checks the envelope's signature: SignatureVersion 1 is RSA PKCS#1 v1.5 with SHA-1,
    /// 2 the same with SHA-256, both over [`Envelope::string_to_sign`].
    pub async fn verify(&self, env: &Envelope) -> Result<(), SnsError> {
        let algorithm: &'static dyn SignatureVerificationAlgorithm =
            match env.signature_version.as_str() {
                "1" => &RSA_PKCS1_2048_8192_SHA1,
                "2" => webpki::ring::RSA_PKCS1_2048_8192_SHA256,
                other => return Err(SnsError::UnsupportedSignatureVersion(other.to_string())),
            };
        let signed = env.string_to_sign()?;
        let signature = STANDARD
            .decode(env.signature.as_bytes())
            .map_err(|_| SnsError::Malformed("Signature is not base64".to_string()))?;
        let held = self.cert_for(&env.signing_cert_url).await?;
        let der: &CertificateDer<'_> = &held;
        let cert = webpki::EndEntityCert::try_from(der)
            .map_err(|e| SnsError::BadCertificate(e.to_string()))?;
        cert.verify_signature(algorithm, signed.as_bytes(), &signature)
            .map_err(|_| SnsError::BadSignature)
    }

    /// Requests the SubscribeURL, which is how SNS wants a subscription confirmed; a 2xx answer
    /// means it is. Only call it for an envelope that [`Verifier::verify`] accepted and whose
    /// topic is wanted.
    pub async fn confirm_subscription(&self, env: &Envelope) -> Result<(), SnsError> {
        let raw = env
            .subscribe_url
            .as_deref()
            .ok_or_else(|| SnsError::Malformed("no SubscribeURL".to_string()))?;
        let url = allowed(&self.subscribe_url_pattern, raw)
            .ok_or_else(|| SnsError::SubscribeUrlRefused(raw.to_string()))?;
        let http = self.http().map_err(SnsError::Confirm)?;
        let response = http
            .get(url)
            .send()
            .await
            .map_err(|e| SnsError::Confirm(describe(e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SnsError::Confirm(format!("SNS answered {status}")))
        }
    }

    async fn cert_for(&self, raw: &str) -> Result<Arc<CertificateDer<'static>>, SnsError> {
        let (pattern, cache) = match &self.certs {
            Certs::Fixed(cert) => return Ok(cert.clone()),
            Certs::Fetched { pattern, cache } => (pattern, cache),
        };
        let url = allowed(pattern, raw).ok_or_else(|| SnsError::CertUrlRefused(raw.to_string()))?;
        let cached = lock(cache).get(url.as_str()).cloned();
        if let Some(cert) = cached {
            return Ok(cert);
        }
        let key = url.as_str().to_string();
        let pem = self
            .fetch_pem(url)
            .await
            .map_err(|e| SnsError::CertFetch(format!("{key}: {e}")))?;
        let cert = Arc::new(parse_cert_pem(&pem)?);
        let mut cache = lock(cache);
        if cache.len() >= MAX_CACHED_CERTS {
            cache.clear();
        }
        cache.insert(key, cert.clone());
        Ok(cert)
    }

    async fn fetch_pem(&self, url: reqwest::Url) -> Result<Vec<u8>, String> {
        let mut response = self.http()?.get(url).send().await.map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered {status}"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_CERT_BYTES {
                return Err(format!("answer is over {MAX_CERT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// Redirects are off so that a URL the pattern allowed cannot send the request elsewhere.
    fn http(&self) -> Result<&reqwest::Client, String> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(describe)?;
        Ok(self.http.get_or_init(|| http))
    }
}

/// Anchored so that a pattern written without `^…$` cannot match a URL that merely contains
/// an allowed one.
fn compile(pattern: &str) -> Result<Regex, SnsError> {
    Regex::new(&format!("^(?:{pattern})$")).map_err(|e| SnsError::BadPattern(e.to_string()))
}

fn allowed(pattern: &Regex, raw: &str) -> Option<reqwest::Url> {
    let url = reqwest::Url::parse(raw).ok()?;
    let no_user_info = url.username().is_empty() && url.password().is_none();
    (no_user_info && pattern.is_match(url.as_str())).then_some(url)
}

/// Parsed once here so that a certificate webpki cannot read is refused when it is loaded,
/// not at every message.
fn parse_cert_pem(pem: &[u8]) -> Result<CertificateDer<'static>, SnsError> {
    let der =
        CertificateDer::from_pem_slice(pem).map_err(|e| SnsError::BadCertificate(e.to_string()))?;
    webpki::EndEntityCert::try_from(&der).map_err(|e| SnsError::BadCertificate(e.to_string()))?;
    Ok(der)
}

/// The cache holds only finished entries, so one left by a panicking thread is still good.
fn lock(cache: &Cache) -> std::sync::MutexGuard<'_, HashMap<String, Arc<CertificateDer<'static>>>> {
    cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// reqwest's own message leaves out the cause (a timeout, a refused connection, a TLS error).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// RSA PKCS#1 v1.5 with SHA-1 for SignatureVersion 1, which webpki does not offer; ring still
/// verifies it.
#[derive(Debug)]
struct RsaPkcs1Sha1;

static RSA_PKCS1_2048_8192_SHA1: RsaPkcs1Sha1 = RsaPkcs1Sha1;

impl SignatureVerificationAlgorithm for RsaPkcs1Sha1 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
            public_key,
        )
        .verify(message, signature)
        .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        AlgorithmIdentifier::from_slice(SHA1_WITH_RSA_ENCRYPTION)
    }
}

/// sha1WithRSAEncryption (1.2.840.113549.1.1.5) with NULL parameters, as the contents of an
/// AlgorithmIdentifier; webpki only puts it in error messages.
const SHA1_WITH_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    fn fixture(name: &str) -> Envelope {
        let body: &[u8] = match name {
            "notification-v1" => include_bytes!("../testdata/notification-v1.json"),
            "notification-v2" => include_bytes!("../testdata/notification-v2.json"),
            "subscription-confirmation-v1" => {
                include_bytes!("../testdata/subscription-confirmation-v1.json")
            }
            "subscription-confirmation-v2" => {
                include_bytes!("../testdata/subscription-confirmation-v2.json")
            }
            _ => unreachable!("no fixture {name}"),
        };
        Envelope::parse(body).unwrap()
    }

    fn fixed() -> Verifier {
        Verifier::with_cert_pem(testing::test_cert_pem().as_bytes()).unwrap()
    }

    #[tokio::test]
    async fn committed_fixtures_verify() {
        let verifier = fixed();
        for name in [
            "notification-v1",
            "notification-v2",
            "subscription-confirmation-v1",
            "subscription-confirmation-v2",
        ] {
            let result = verifier.verify(&fixture(name)).await;
            assert!(result.is_ok(), "{name}: {result:?}");
        }
    }

    #[tokio::test]
    async fn a_changed_message_fails() {
        let verifier = fixed();
        for name in ["notification-v1", "notification-v2"] {
            let mut env = fixture(name);
            env.message.push('!');
            let result = verifier.verify(&env).await;
            assert!(
                matches!(result, Err(SnsError::BadSignature)),
                "{name}: {result:?}"
            );
        }
        let mut env = fixture("notification-v2");
        env.subject = None;
        let result = verifier.verify(&env).await;
        assert!(matches!(result, Err(SnsError::BadSignature)), "{result:?}");
    }

    #[tokio::test]
    async fn the_version_picks_the_hash() {
        let mut env = fixture("notification-v1");
        env.signature_version = "2".to_string();
        let result = fixed().verify(&env).await;
        assert!(matches!(result, Err(SnsError::BadSignature)), "{result:?}");
    }

    #[tokio::test]
    async fn an_unknown_signature_version_fails() {
        let mut env = fixture("notification-v2");
        env.signature_version = "3".to_string();
        let result = fixed().verify(&env).await;
        assert!(
            matches!(&result, Err(SnsError::UnsupportedSignatureVersion(v)) if v == "3"),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn a_foreign_cert_url_is_refused_without_fetching() {
        let verifier =
            Verifier::fetching(DEFAULT_CERT_URL_PATTERN, Duration::from_secs(1)).unwrap();
        let mut env = fixture("notification-v2");
        env.signing_cert_url = "https://sns.us-east-1.amazonaws.com.evil.example/x.pem".to_string();
        let result = verifier.verify(&env).await;
        assert!(
            matches!(result, Err(SnsError::CertUrlRefused(_))),
            "{result:?}"
        );
        assert!(verifier.http.get().is_none());
    }

    #[tokio::test]
    async fn a_foreign_subscribe_url_is_refused_without_fetching() {
        let verifier = fixed();
        let mut env = fixture("subscription-confirmation-v2");
        env.subscribe_url = Some("https://evil.example/?Action=ConfirmSubscription".to_string());
        let result = verifier.confirm_subscription(&env).await;
        assert!(
            matches!(result, Err(SnsError::SubscribeUrlRefused(_))),
            "{result:?}"
        );
        assert!(verifier.http.get().is_none());
    }

    #[test]
    fn the_default_patterns_take_only_sns_hosts() {
        let verifier = Verifier::fetching(DEFAULT_CERT_URL_PATTERN, DEFAULT_TIMEOUT).unwrap();
        for url in [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-9c64.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-9c64.pem",
            "HTTPS://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
        ] {
            assert!(verifier.cert_url_allowed(url), "{url}");
        }
        for url in [
            "http://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
            "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
            "https://user@sns.us-east-1.amazonaws.com/x.pem",
            "https://evil.example\\@sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            "https://s3.amazonaws.com/x.pem",
            "https://sns.s3.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.s3-accelerate.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem",
            "https://sns.us-east-1.amazonaws.com/x.pem.txt",
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "not a url",
        ] {
            assert!(!verifier.cert_url_allowed(url), "{url}");
        }
        assert!(verifier.subscribe_url_allowed(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=x"
        ));
        assert!(
            !verifier.subscribe_url_allowed("https://evil.example/?Action=ConfirmSubscription")
        );
    }

    #[test]
    fn patterns_are_anchored() {
        let verifier = fixed()
            .with_subscribe_url_pattern(r"http://127\.0\.0\.1:\d+/confirm")
            .unwrap();
        assert!(verifier.subscribe_url_allowed("http://127.0.0.1:8080/confirm"));
        assert!(!verifier.subscribe_url_allowed("http://127.0.0.1:8080/confirm/more"));
        assert!(!verifier.subscribe_url_allowed("http://evil.example/http://127.0.0.1:1/confirm"));
        assert!(matches!(
            fixed().with_subscribe_url_pattern("("),
            Err(SnsError::BadPattern(_))
        ));
    }

    #[test]
    fn a_bad_certificate_is_refused_up_front() {
        assert!(matches!(
            Verifier::with_cert_pem(b"not a certificate"),
            Err(SnsError::BadCertificate(_))
        ));
    }

    #[test]
    fn a_fixed_certificate_ignores_the_cert_url() {
        assert!(fixed().cert_url_allowed("https://anything.example/"));
    }
}
