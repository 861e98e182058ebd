//! Signing with a committed test key, for tests here and in crates that use this one.
//!
//! The key and its self-signed certificate are fixtures because ring cannot generate RSA keys.
//! ring cannot sign with SHA-1 either, so SignatureVersion 1 is covered only by the
//! pre-signed JSON in `testdata/`, which `testdata/gen_fixtures.py` wrote along with the key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::pem::PemObject;

use crate::Envelope;

/// A SigningCertURL that [`crate::DEFAULT_CERT_URL_PATTERN`] allows; the committed
/// notification fixtures carry it too.
pub const TEST_CERT_URL: &str = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000000000test.pem";

/// The self-signed certificate of [`test_key_pkcs8_der`], for [`crate::Verifier::with_cert_pem`].
pub fn test_cert_pem() -> &'static str {
    include_str!("../testdata/sns-test-cert.pem")
}

/// An RSA-2048 key as PKCS#8 DER.
pub fn test_key_pkcs8_der() -> Vec<u8> {
    PrivatePkcs8KeyDer::from_pem_slice(include_bytes!("../testdata/sns-test-key.pk8.pem"))
        .expect("the committed test key is a PKCS#8 PEM")
        .secret_pkcs8_der()
        .to_vec()
}

/// An unsigned Notification, ready for [`sign_v2`].
pub fn notification(
    topic_arn: &str,
    message_id: &str,
    subject: Option<&str>,
    message: &str,
) -> Envelope {
    Envelope {
        r#type: "Notification".to_string(),
        message_id: message_id.to_string(),
        topic_arn: topic_arn.to_string(),
        subject: subject.map(str::to_string),
        message: message.to_string(),
        timestamp: "2024-01-01T00:00:00.000Z".to_string(),
        signature_version: "2".to_string(),
        signature: String::new(),
        signing_cert_url: TEST_CERT_URL.to_string(),
        subscribe_url: None,
        token: None,
        unsubscribe_url: None,
    }
}

/// The envelope signed as SNS does with SignatureVersion 2 (RSA PKCS#1 v1.5, SHA-256).
///
/// Panics if the key is not an RSA PKCS#8 key of at least 2048 bits, or if the envelope lacks
/// what its `Type` signs.
pub fn sign_v2(mut env: Envelope, key_pkcs8_der: &[u8]) -> Envelope {
    env.signature_version = "2".to_string();
    let signed = env
        .string_to_sign()
        .expect("sign_v2 needs an envelope with a known Type and the fields it signs");
    let key = RsaKeyPair::from_pkcs8(key_pkcs8_der)
        .expect("sign_v2 needs an RSA PKCS#8 key of at least 2048 bits");
    let mut signature = vec![0u8; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed.as_bytes(),
        &mut signature,
    )
    .expect("signing into a buffer of the modulus length succeeds");
    env.signature = STANDARD.encode(&signature);
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SnsError, Verifier};

    #[tokio::test]
    async fn sign_v2_round_trips() {
        let verifier = Verifier::with_cert_pem(test_cert_pem().as_bytes()).unwrap();
        let env = sign_v2(
            notification(
                "arn:aws:sns:eu-west-1:123456789012:alarms",
                "9f2d5c1e-0000-4000-8000-000000000001",
                Some("ALARM: \"cpu\" in EU (Ireland)"),
                "{\"AlarmName\":\"cpu\",\"NewStateValue\":\"ALARM\"}",
            ),
            &test_key_pkcs8_der(),
        );
        assert_eq!(env.signature_version, "2");
        verifier.verify(&env).await.unwrap();

        let posted = Envelope::parse(env.to_json().as_bytes()).unwrap();
        verifier.verify(&posted).await.unwrap();

        let mut tampered = posted;
        tampered.topic_arn = "arn:aws:sns:eu-west-1:123456789012:other".to_string();
        let result = verifier.verify(&tampered).await;
        assert!(matches!(result, Err(SnsError::BadSignature)), "{result:?}");
    }

    #[test]
    fn the_test_cert_url_is_allowed_by_default() {
        let verifier =
            Verifier::fetching(crate::DEFAULT_CERT_URL_PATTERN, crate::DEFAULT_TIMEOUT).unwrap();
        assert!(verifier.cert_url_allowed(TEST_CERT_URL));
    }
}
