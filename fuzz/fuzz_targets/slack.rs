//! Slack: the request signature, slash command form bodies (and the `/klaxon` text in them),
//! interaction payloads (form-encoded JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = klaxon_fuzz::fields(data, 3);
    let _ = klaxon_slack::verify(
        "fuzz-signing-secret",
        &klaxon_fuzz::text(f[0]),
        &klaxon_fuzz::text(f[1]),
        f[2],
    );
    let _ = klaxon::bot::slack::read_command(f[2]);
    let _ = klaxon::bot::slack::read_press(f[2]);
});
