//! SNS: the HTTP envelope, the string to sign, the signature check against a certificate
//! file (no fetching), and the classification of the message inside.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static VERIFIER: OnceLock<klaxon_sns::Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        klaxon_sns::Verifier::with_cert_pem(klaxon_sns::testing::test_cert_pem().as_bytes())
            .expect("the test certificate")
    });
    if let Ok(env) = klaxon_sns::Envelope::parse(data) {
        let _ = env.string_to_sign();
        let _ = klaxon_fuzz::block_on(verifier.verify(&env));
        if let Ok(message) = serde_json::from_str::<serde_json::Value>(&env.message) {
            let _ = klaxon::bot::sns::classify(&message);
        }
    }
    if let Ok(message) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = klaxon::bot::sns::classify(&message);
    }
});
