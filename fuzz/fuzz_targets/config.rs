//! The TOML configuration file, parsed and validated.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(config) = klaxon::config::Config::from_toml(text, "fuzz.toml")
    {
        let _ = config.validate();
    }
});
