//! Amazon SNS HTTP(S) deliveries: parsing the JSON envelope, checking its signature
//! (SignatureVersion 1 and 2), and confirming subscriptions.
//!
//! Verification is built on ring and rustls-webpki because rustls already brings both into the
//! tree, so checking signatures adds no crates.
//!
//! SNS posts with `Content-Type: text/plain`, so hand [`Envelope::parse`] the raw body rather
//! than going through a JSON extractor. The `x-amz-sns-*` headers are not signed: trust the
//! envelope's `Type` and `TopicArn` only after [`Verifier::verify`] accepts it, and check the
//! topic against the ones you expect. A body posted with `x-amz-sns-rawdelivery: true` carries
//! no envelope and cannot be verified.

mod envelope;
pub mod testing;
mod verifier;

pub use envelope::Envelope;
pub use verifier::{
    DEFAULT_CERT_URL_PATTERN, DEFAULT_SUBSCRIBE_URL_PATTERN, DEFAULT_TIMEOUT, Verifier,
};

#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    /// Not an SNS envelope, or one missing a field its `Type` signs.
    #[error("malformed SNS message: {0}")]
    Malformed(String),
    #[error("unsupported SignatureVersion {0:?}")]
    UnsupportedSignatureVersion(String),
    /// The SigningCertURL does not match the pattern, so it was never fetched: anyone can
    /// sign a message with a certificate of their own and point at it.
    #[error("refused to fetch a signing certificate from {0}")]
    CertUrlRefused(String),
    /// The only failure that says nothing about the message; answering 5xx makes SNS retry.
    #[error("could not fetch the signing certificate: {0}")]
    CertFetch(String),
    #[error("unusable signing certificate: {0}")]
    BadCertificate(String),
    #[error("the signature does not match the message")]
    BadSignature,
    /// The SubscribeURL does not match the pattern; fetching it anyway would let a sender
    /// make this server request any URL.
    #[error("refused to confirm a subscription at {0}")]
    SubscribeUrlRefused(String),
    #[error("could not confirm the subscription: {0}")]
    Confirm(String),
    #[error("bad URL pattern: {0}")]
    BadPattern(String),
}
