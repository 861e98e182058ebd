//! What the fuzz targets share: splitting one input into several fields, and running the
//! (immediately ready) futures of the decoders.

use std::future::Future;
use std::sync::OnceLock;

/// Cuts `data` at the first `n - 1` newlines: the fields of a structured input. Missing fields
/// are empty, so every input is usable.
pub fn fields(data: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = data;
    for _ in 1..n {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                out.push(&rest[..i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest);
                rest = &[];
            }
        }
    }
    out.push(rest);
    out
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn block_on<F: Future>(f: F) -> F::Output {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
    })
    .block_on(f)
}

pub fn context() -> klaxon::shapes::Context {
    klaxon::shapes::Context {
        account_id: "111122223333".into(),
        region: "us-east-1".into(),
        access_key_id: "AKIDFUZZ".into(),
        request_id: "fuzz".into(),
    }
}
