//! A real `klaxon serve` process on a free port with its data in a directory of the test's: for
//! tests that kill it or drive it with other programs (Terraform).

use crate::helpers::{ACCOUNT, KEY, SECRET};
use std::path::Path;
use std::process::{Child, Command};
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
    let config = format!("[engine]\nmax_sends_per_channel_per_minute = 0\n{extra}");
    serve_as(dir, addr, &config, (KEY, SECRET, ACCOUNT), "warn").await
}

/// `klaxon serve` with this whole configuration file, acting for one key, logging at `log`.
pub async fn serve_as(
    dir: &Path,
    addr: &str,
    toml: &str,
    (key, secret, account): (&str, &str, &str),
    log: &str,
) -> Server {
    let config = dir.join("klaxon.toml");
    std::fs::write(&config, toml).unwrap();
    let log_file = std::fs::File::create(dir.join("klaxon.log")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_klaxon"))
        .args(["serve", "--listen", addr, "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir)
        .env("KLAXON_ACCESS_KEY_ID", key)
        .env("KLAXON_SECRET_ACCESS_KEY", secret)
        .env("KLAXON_ACCOUNT_ID", account)
        .env("KLAXON_LOG", log)
        // Kept beside the data: a test can read what the server logged (a panic, say).
        .stdout(log_file.try_clone().unwrap())
        .stderr(log_file)
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
