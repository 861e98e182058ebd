//! Twilio webhooks: the form body, the X-Twilio-Signature check, and the reply words (codes,
//! ACK ALL) an SMS carries.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = klaxon_fuzz::fields(data, 3);
    let params = klaxon::wire::form::form(f[2]);
    let url = format!(
        "https://klaxon.example.com/hooks/twilio/sms{}",
        klaxon_fuzz::text(f[0])
    );
    let _ = klaxon_twilio::verify("fuzz-token", &url, &params, &klaxon_fuzz::text(f[1]));
    let _ = klaxon_twilio::signature("fuzz-token", &url, &params);
    for (_, v) in &params {
        let _ = klaxon::inbound::asks_all(v);
        let _ = klaxon::inbound::codes(v);
    }
});
