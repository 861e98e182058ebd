//! The `/klaxon` command line, as typed in Slack, and Discord's options for the same
//! subcommands.
#![no_main]

use klaxon::bot::command::{self, OptionValue};
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|data: &[u8]| {
    let text = klaxon_fuzz::text(data);
    let _ = command::parse(&text);
    let mut words = text.split_whitespace();
    let sub = words.next().unwrap_or("");
    let mut opts = HashMap::new();
    while let (Some(k), Some(v)) = (words.next(), words.next()) {
        let value = match v.parse::<i64>() {
            Ok(n) => OptionValue::Int(n),
            Err(_) => OptionValue::Str(v.to_string()),
        };
        opts.insert(k.to_string(), value);
    }
    let _ = command::from_options(sub, &opts);
});
