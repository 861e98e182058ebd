//! `[tls]`: HTTPS only on the listener, with certificates made by the openssl CLI, checked by
//! the aws CLI, botocore and a rustls client; a changed certificate file is served without a
//! restart, and a broken one keeps the old certificate.

use crate::helpers::*;
use klaxon::config::TlsConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the openssl CLI runs");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How a server key is generated and written.
#[derive(Clone, Copy)]
pub enum KeyKind {
    /// P-256, PKCS#8 ("PRIVATE KEY").
    EcPkcs8,
    /// P-256, SEC1 ("EC PRIVATE KEY").
    EcSec1,
    /// RSA 2048, PKCS#8.
    RsaPkcs8,
    /// RSA 2048, PKCS#1 ("RSA PRIVATE KEY").
    RsaPkcs1,
}

/// A throwaway CA in a temporary directory, issuing server certificates for 127.0.0.1.
pub struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        openssl(
            dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=Klaxon Test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(
            dir.path().join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n\
             keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n\
             subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n",
        )
        .unwrap();
        Pki { dir }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `name.pem` (signed by the CA, with this serial) and `name.key`.
    pub fn issue(&self, name: &str, serial: u32, kind: KeyKind) -> (PathBuf, PathBuf) {
        let d = self.dir.path();
        let key = format!("{name}.key");
        match kind {
            KeyKind::EcPkcs8 => openssl(
                d,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    &key,
                ],
            ),
            KeyKind::EcSec1 => openssl(
                d,
                &[
                    "ecparam",
                    "-name",
                    "prime256v1",
                    "-genkey",
                    "-noout",
                    "-out",
                    &key,
                ],
            ),
            KeyKind::RsaPkcs8 => openssl(
                d,
                &[
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                    "-out",
                    &key,
                ],
            ),
            KeyKind::RsaPkcs1 => openssl(d, &["genrsa", "-traditional", "-out", &key, "2048"]),
        }
        let marker = match kind {
            KeyKind::EcPkcs8 | KeyKind::RsaPkcs8 => "-----BEGIN PRIVATE KEY-----",
            KeyKind::EcSec1 => "-----BEGIN EC PRIVATE KEY-----",
            KeyKind::RsaPkcs1 => "-----BEGIN RSA PRIVATE KEY-----",
        };
        let text = std::fs::read_to_string(d.join(&key)).unwrap();
        assert!(text.starts_with(marker), "{key} is {marker}");
        let csr = format!("{name}.csr");
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &csr,
            ],
        );
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-set_serial",
                &serial.to_string(),
                "-days",
                "2",
                "-extfile",
                "server.ext",
                "-out",
                &format!("{name}.pem"),
            ],
        );
        (d.join(format!("{name}.pem")), d.join(key))
    }

    /// Where the server reads its pair from: copies that a test overwrites later.
    pub fn install(&self, cert: &Path, key: &Path) -> TlsConfig {
        let live = TlsConfig {
            cert_file: self.dir.path().join("live.pem"),
            key_file: self.dir.path().join("live.key"),
        };
        std::fs::copy(cert, &live.cert_file).unwrap();
        std::fs::copy(key, &live.key_file).unwrap();
        live
    }
}

async fn spawn_tls(tls: &TlsConfig) -> TestApp {
    let tls = tls.clone();
    spawn_with(Setup {
        configure: Some(Box::new(move |c| c.tls = Some(tls))),
        ..Setup::default()
    })
    .await
}

fn https_url(app: &TestApp) -> String {
    format!("https://{}", app.running.addr)
}

fn leaf_der(cert_file: &Path) -> Vec<u8> {
    CertificateDer::pem_file_iter(cert_file)
        .unwrap()
        .next()
        .expect("a certificate")
        .unwrap()
        .to_vec()
}

/// One HTTPS GET through rustls trusting only `ca`: the leaf certificate the server sent, the
/// protocol ALPN chose, and the response as text.
async fn https_get(addr: SocketAddr, ca: &Path, path: &str) -> (Vec<u8>, Vec<u8>, String) {
    https_request(addr, ca, "GET", path, &[], b"").await
}

/// One HTTPS request, as `https_get` but with any method, headers and body.
pub async fn https_request(
    addr: SocketAddr,
    ca: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Vec<u8>, Vec<u8>, String) {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("the TLS handshake succeeds");
    let (_, conn) = tls.get_ref();
    let leaf = conn.peer_certificates().unwrap()[0].to_vec();
    let alpn = conn.alpn_protocol().unwrap_or_default().to_vec();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str("\r\n");
    tls.write_all(head.as_bytes()).await.unwrap();
    tls.write_all(body).await.unwrap();
    let mut out = Vec::new();
    // A peer that closes without close_notify is fine here; what it sent before counts.
    let _ = tls.read_to_end(&mut out).await;
    (leaf, alpn, String::from_utf8_lossy(&out).into_owned())
}

/// Waits until a new connection is served `want`, at most ~10 s.
async fn wait_for_leaf(addr: SocketAddr, ca: &Path, want: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (leaf, _, _) = https_get(addr, ca, "/healthz").await;
        if leaf == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was not served within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn aws_cli_present() -> bool {
    match Command::new("aws").arg("--version").output().await {
        Ok(o) if o.status.success() => true,
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "CI=true but the aws CLI is not installed"
            );
            eprintln!("SKIPPED: the aws CLI is not installed; the HTTPS CLI check did not run");
            false
        }
    }
}

/// The aws CLI against `endpoint`, trusting `ca` when given (and never AWS_CA_BUNDLE).
async fn aws_https(endpoint: &str, ca: Option<&Path>, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new("aws");
    cmd.args(args)
        .args(["--endpoint-url", endpoint, "--output", "json"]);
    if let Some(ca) = ca {
        cmd.arg("--ca-bundle").arg(ca);
    }
    let out = cmd
        .env("AWS_ACCESS_KEY_ID", KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_MAX_ATTEMPTS", "1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_CA_BUNDLE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .await
        .expect("aws runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// boto3 when installed, else botocore (what boto3 is built on, and what the aws CLI brings).
const BOTO: &str = r#"
import json, sys
endpoint, ca, key, secret, region = sys.argv[1:6]
args = dict(region_name=region, endpoint_url=endpoint, verify=ca,
            aws_access_key_id=key, aws_secret_access_key=secret)
try:
    import boto3
    client = boto3.session.Session().client("ssm-contacts", **args)
except ImportError:
    import botocore.session
    client = botocore.session.get_session().create_client("ssm-contacts", **args)
print(json.dumps([c["Alias"] for c in client.list_contacts()["Contacts"]]))
"#;

#[tokio::test]
async fn the_aws_cli_and_botocore_reach_klaxon_over_https_with_the_ca() {
    let pki = Pki::new();
    let (cert, key) = pki.issue("server", 1, KeyKind::EcPkcs8);
    let app = spawn_tls(&pki.install(&cert, &key)).await;
    let (leaf, alpn, resp) = https_get(app.running.addr, &pki.ca(), "/healthz").await;
    assert_eq!(leaf, leaf_der(&cert));
    assert_eq!(alpn, b"http/1.1");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    if !aws_cli_present().await {
        return;
    }
    let url = https_url(&app);
    let (ok, out, err) = aws_https(
        &url,
        Some(&pki.ca()),
        &[
            "ssm-contacts",
            "create-contact",
            "--alias",
            "tls-user",
            "--display-name",
            "Tls User",
            "--type",
            "PERSONAL",
            "--plan",
            "{\"Stages\":[]}",
        ],
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains(&contact_arn(ACCOUNT, "tls-user")), "{out}");
    let (ok, out, err) = aws_https(&url, Some(&pki.ca()), &["ssm-contacts", "list-contacts"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("tls-user"), "{out}");

    // Without the CA the CLI refuses the certificate.
    let (ok, _, err) = aws_https(&url, None, &["ssm-contacts", "list-contacts"]).await;
    assert!(!ok);
    assert!(err.contains("CERTIFICATE_VERIFY_FAILED"), "{err}");

    let out = Command::new("python3")
        .arg("-c")
        .arg(BOTO)
        .arg(&url)
        .arg(pki.ca())
        .args([KEY, SECRET, REGION])
        .env_remove("AWS_CA_BUNDLE")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .await
        .expect("python3 runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let aliases: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(aliases, ["tls-user"]);
}

#[tokio::test]
async fn plain_http_is_not_served_on_the_tls_port_and_it_stops_gracefully() {
    let pki = Pki::new();
    let (cert, key) = pki.issue("server", 1, KeyKind::EcSec1);
    let app = spawn_tls(&pki.install(&cert, &key)).await;
    let addr = app.running.addr;

    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server closes a plain-HTTP connection");
    assert!(
        !out.starts_with(b"HTTP/"),
        "no HTTP in clear: {:?}",
        String::from_utf8_lossy(&out)
    );

    // Every route is on the HTTPS listener, the API's too.
    let (_, _, resp) = https_get(addr, &pki.ca(), "/readyz").await;
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    tokio::time::timeout(Duration::from_secs(10), app.running.stop())
        .await
        .expect("the HTTPS server stops");
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "the port is still open after stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_changed_certificate_file_is_served_without_a_restart() {
    let pki = Pki::new();
    let (one, one_key) = pki.issue("one", 1, KeyKind::RsaPkcs1);
    let (two, two_key) = pki.issue("two", 2, KeyKind::EcPkcs8);
    let (three, three_key) = pki.issue("three", 3, KeyKind::RsaPkcs8);
    let live = pki.install(&one, &one_key);
    let app = spawn_tls(&live).await;
    let addr = app.running.addr;
    let (leaf, _, _) = https_get(addr, &pki.ca(), "/healthz").await;
    assert_eq!(leaf, leaf_der(&one));

    // Renewed on disk (a new key too): the watcher picks it up.
    std::fs::copy(&two_key, &live.key_file).unwrap();
    std::fs::copy(&two, &live.cert_file).unwrap();
    wait_for_leaf(addr, &pki.ca(), &leaf_der(&two)).await;

    // The handle main calls on SIGHUP reloads at once; the chain may carry the CA too.
    let chain = [
        std::fs::read(&three).unwrap(),
        std::fs::read(pki.ca()).unwrap(),
    ]
    .concat();
    std::fs::write(&live.cert_file, chain).unwrap();
    std::fs::copy(&three_key, &live.key_file).unwrap();
    let reloader = app.running.tls.as_ref().expect("a TLS reloader");
    reloader.reload().expect("the new pair loads");
    let (leaf, _, resp) = https_get(addr, &pki.ca(), "/healthz").await;
    assert_eq!(leaf, leaf_der(&three));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

#[tokio::test]
async fn a_broken_certificate_file_keeps_the_old_certificate() {
    let pki = Pki::new();
    let (cert, key) = pki.issue("server", 7, KeyKind::RsaPkcs8);
    let live = pki.install(&cert, &key);
    let app = spawn_tls(&live).await;
    let addr = app.running.addr;

    std::fs::write(&live.cert_file, "this is not a certificate\n").unwrap();
    let err = app.running.tls.as_ref().unwrap().reload().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("no certificate in {}", live.cert_file.display())
    );
    // Past a poll of the watcher too: the old certificate is still served, and requests answer.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (leaf, _, resp) = https_get(addr, &pki.ca(), "/healthz").await;
    assert_eq!(leaf, leaf_der(&cert));
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");

    // A key that does not match the certificate is refused the same way.
    let (_, other_key) = pki.issue("other", 8, KeyKind::EcPkcs8);
    std::fs::copy(&cert, &live.cert_file).unwrap();
    std::fs::copy(&other_key, &live.key_file).unwrap();
    let err = app.running.tls.as_ref().unwrap().reload().unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    let (leaf, _, _) = https_get(addr, &pki.ca(), "/healthz").await;
    assert_eq!(leaf, leaf_der(&cert));
}
