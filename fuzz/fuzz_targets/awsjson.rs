//! awsJson1_1: the target header's operation and the JSON body, through the generated decoder
//! and validator (the operations themselves are not run), and the error mapping.
#![no_main]

use klaxon::shapes::contacts::Api;
use libfuzzer_sys::fuzz_target;

struct Decoding;
impl Api for Decoding {}

fuzz_target!(|data: &[u8]| {
    let f = klaxon_fuzz::fields(data, 2);
    let target = format!("SSMContacts.{}", klaxon_fuzz::text(f[0]));
    if let Some(op) = klaxon::wire::awsjson::operation(&target) {
        let _ = klaxon_fuzz::block_on(klaxon::wire::awsjson::call(
            &Decoding,
            klaxon_fuzz::context(),
            op,
            f[1],
        ));
    }
});
