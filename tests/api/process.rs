//! A real `klaxon serve` process on a free port with its data in a directory of the test's: for
//! tests that kill it or drive it with other programs (Terraform).

use crate::helpers::{ACCOUNT, KEY, SECRET};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

pub async fn serve(dir: &Path, addr: &str) -> Server {
    serve_with(dir, addr, "").await
}

/// `klaxon serve` with `extra` appended to its [engine] section (and any sections after it).
pub async fn serve_with(dir: &Path, addr: &str, extra: &str) -> Server {
    // Hundreds of pages go to each channel here: no per-channel rate limit.
    let config = dir.join("klaxon.toml");
    std::fs::write(
        &config,
        format!("[engine]\nmax_sends_per_channel_per_minute = 0\n{extra}"),
    )
    .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(["serve", "--listen", addr, "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir)
        .env("KLAXON_ACCESS_KEY_ID", KEY)
        .env("KLAXON_SECRET_ACCESS_KEY", SECRET)
        .env("KLAXON_ACCOUNT_ID", ACCOUNT)
        .env("KLAXON_LOG", "warn")
        .stdout(Stdio::null())
        // Kept beside the data: a test can read what the server logged (a panic, say).
        .stderr(std::fs::File::create(dir.join("klaxon.log")).unwrap())
        .spawn()
        .expect("klaxon starts");
    let server = Server(child);
    let started = Instant::now();
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "klaxon did not listen"
        );
        tokio::task::yield_now().await;
    }
    server
}
