//! SigV4: the Authorization header, X-Amz-Date, the raw path and query, through the precheck
//! and the signature check against a known secret.
#![no_main]

use klaxon::wire::sigv4;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = klaxon_fuzz::fields(data, 6);
    let auth = klaxon_fuzz::text(f[0]);
    let date = klaxon_fuzz::text(f[1]);
    let path = klaxon_fuzz::text(f[2]);
    let query = klaxon_fuzz::text(f[3]);
    let _ = sigv4::parse_authorization(&auth);
    let _ = sigv4::parse_amz_date(&date);
    let _ = sigv4::canonical_path(&path);
    let _ = sigv4::canonical_query(&query);
    let headers = vec![
        ("authorization".to_string(), auth),
        ("x-amz-date".to_string(), date),
        ("host".to_string(), klaxon_fuzz::text(f[4])),
    ];
    let req = sigv4::SignedRequest {
        method: "POST",
        raw_path: &path,
        raw_query: &query,
        headers: &headers,
        body: f[5],
    };
    let regions = vec!["us-east-1".to_string()];
    let exp = sigv4::Expectation {
        service: "ssm-contacts",
        regions: &regions,
        now_secs: 1_790_000_000,
    };
    if let Ok(parsed) = sigv4::precheck(&req, &exp) {
        let _ = sigv4::verify(&req, &parsed, "fuzz-secret");
    }
});
