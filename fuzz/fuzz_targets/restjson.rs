//! restJson1: method and raw path through the router, labels, query string and body through
//! the input builder, the generated decoder and validator.
#![no_main]

use klaxon::shapes::incidents::Api;
use libfuzzer_sys::fuzz_target;

struct Decoding;
impl Api for Decoding {}

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];

fuzz_target!(|data: &[u8]| {
    let f = klaxon_fuzz::fields(data, 4);
    let method = METHODS[f[0].first().copied().unwrap_or(0) as usize % METHODS.len()];
    let path = klaxon_fuzz::text(f[1]);
    let query = klaxon_fuzz::text(f[2]);
    if let Some((route, labels)) = klaxon::wire::restjson::find_route(method, &path)
        && let Ok(input) = klaxon::wire::restjson::build_input(route, labels, &query, f[3])
    {
        let _ = klaxon_fuzz::block_on(klaxon::wire::restjson::call(
            &Decoding,
            klaxon_fuzz::context(),
            route,
            input,
        ));
    }
});
