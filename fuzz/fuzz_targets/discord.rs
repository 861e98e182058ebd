//! Discord: the Ed25519 signature and timestamp check, interaction JSON into commands and
//! button presses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fuzz_target!(|data: &[u8]| {
    static VERIFIER: OnceLock<klaxon_discord::Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        klaxon_discord::Verifier::new(
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        )
        .expect("a valid key")
    });
    let f = klaxon_fuzz::fields(data, 3);
    let _ = verifier.verify(
        &klaxon_fuzz::text(f[0]),
        &klaxon_fuzz::text(f[1]),
        f[2],
        1_790_000_000,
    );
    let _ = klaxon::bot::discord::read_interaction(f[2]);
});
