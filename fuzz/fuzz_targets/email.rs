//! Inbound email (MIME): sender, recipients with their reply tokens, text, and the reply
//! words in it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let f = klaxon_fuzz::fields(data, 3);
    let mail = klaxon::inbound::email::read_mail(
        &klaxon_fuzz::text(f[0]),
        vec![klaxon_fuzz::text(f[1])],
        f[2],
    );
    for r in &mail.recipients {
        let _ = klaxon::inbound::email::reply_token(r);
    }
    let _ = klaxon::inbound::asks_all(&mail.text);
    let _ = klaxon::inbound::codes(&mail.words);
});
