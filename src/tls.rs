//! HTTPS on the listener (`[tls]`): a PEM certificate chain and its key, served to every
//! connection by a resolver whose certificate is swapped when the files change on disk (polled
//! every 2 s) or when `Reloader::reload` is called (SIGHUP). A broken new pair keeps the old one.

use crate::config::TlsConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client may take over its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate and key files are checked for a change.
const POLL_EVERY: Duration = Duration::from_secs(2);

/// What is wrong with a certificate/key pair; never carries key material.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot parse the PEM in {path}: {reason}")]
    Pem { path: String, reason: String },
    #[error("no certificate in {0}")]
    NoCertificate(String),
    #[error("no private key in {0}")]
    NoKey(String),
    #[error("the private key in {path} is not usable: {reason}")]
    BadKey { path: String, reason: String },
    #[error("the certificate in {path} is not usable: {reason}")]
    BadCertificate { path: String, reason: String },
    #[error("the key in {key} does not match the certificate in {cert}")]
    Mismatch { key: String, cert: String },
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Reads and checks a chain (leaf first) and its private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
pub fn load_pair(cert_file: &Path, key_file: &Path) -> Result<Arc<CertifiedKey>, TlsError> {
    let (cert, key) = (
        cert_file.display().to_string(),
        key_file.display().to_string(),
    );
    let pem_err = |path: &str, e: rustls::pki_types::pem::Error| TlsError::Pem {
        path: path.to_string(),
        reason: e.to_string(),
    };
    let chain = CertificateDer::pem_slice_iter(&read(cert_file)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(&cert, e))?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate(cert));
    }
    let der = match PrivateKeyDer::from_pem_slice(&read(key_file)?) {
        Ok(k) => k,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => return Err(TlsError::NoKey(key)),
        Err(e) => return Err(pem_err(&key, e)),
    };
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| TlsError::BadKey {
            path: key.clone(),
            reason: e.to_string(),
        })?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(rustls::Error::InconsistentKeys(_)) => return Err(TlsError::Mismatch { key, cert }),
        Err(e) => {
            return Err(TlsError::BadCertificate {
                path: cert,
                reason: e.to_string(),
            });
        }
    }
    Ok(Arc::new(certified))
}

/// Serves whichever certificate was loaded last.
#[derive(Debug)]
struct Resolver(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// The files' modification times and lengths, to notice a change.
type Stamp = [Option<(SystemTime, u64)>; 2];

/// Reloads the certificate and key from their files into the running listener.
#[derive(Clone)]
pub struct Reloader {
    cert_file: PathBuf,
    key_file: PathBuf,
    resolver: Arc<Resolver>,
    seen: Arc<Mutex<Stamp>>,
}

impl Reloader {
    fn stamp(&self) -> Stamp {
        [&self.cert_file, &self.key_file].map(|p| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        })
    }

    /// Loads the pair again and serves it from the next handshake on; when it cannot be
    /// loaded, logs why and keeps serving the old one.
    pub fn reload(&self) -> Result<(), TlsError> {
        *self.seen.lock().unwrap_or_else(PoisonError::into_inner) = self.stamp();
        match load_pair(&self.cert_file, &self.key_file) {
            Ok(k) => {
                *self
                    .resolver
                    .0
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = k;
                tracing::info!(cert_file = %self.cert_file.display(), "TLS certificate reloaded");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, "TLS certificate not reloaded; the old one stays");
                Err(e)
            }
        }
    }

    /// Reloads when either file changed since the last load.
    fn poll(&self) {
        let changed = *self.seen.lock().unwrap_or_else(PoisonError::into_inner) != self.stamp();
        if changed {
            let _ = self.reload();
        }
    }
}

type Stream = TlsStream<TcpStream>;

/// Finished handshakes, handed to `axum::serve` one by one.
pub struct Handshaken {
    rx: mpsc::Receiver<(Stream, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for Handshaken {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Stream, SocketAddr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop stops only once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

/// What `axum::serve` takes. The no-op `tap_io` is there because axum gives `ConnectInfo`
/// (`SocketAddr`) to a `TapIo` of any listener whose address is one, and to no other foreign
/// listener.
pub type Listener = axum::serve::TapIo<Handshaken, fn(&mut Stream)>;

/// The server's listener: plain TCP, or with `[tls]` HTTPS only.
pub enum Bound {
    Plain(TcpListener),
    Https(Listener),
}

/// HTTPS on `tcp`: loads the pair (an error if it is unusable), then accepts in the background,
/// each handshake in its own task, and watches the files for a change. The background task
/// ends when `axum::serve` drops the returned listener.
pub fn listen(tcp: TcpListener, config: &TlsConfig) -> Result<(Listener, Reloader), TlsError> {
    let key = load_pair(&config.cert_file, &config.key_file)?;
    let resolver = Arc::new(Resolver(RwLock::new(key)));
    let reloader = Reloader {
        cert_file: config.cert_file.clone(),
        key_file: config.key_file.clone(),
        resolver: resolver.clone(),
        seen: Arc::new(Mutex::new([None, None])),
    };
    *reloader.seen.lock().unwrap_or_else(PoisonError::into_inner) = reloader.stamp();
    let mut server = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let local = tcp.local_addr().map_err(|source| TlsError::Read {
        path: "the listening socket".into(),
        source,
    })?;
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(accept_loop(
        tcp,
        TlsAcceptor::from(Arc::new(server)),
        tx,
        reloader.clone(),
    ));
    let noop: fn(&mut Stream) = |_| {};
    let listener = axum::serve::ListenerExt::tap_io(Handshaken { rx, local }, noop);
    Ok((listener, reloader))
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(Stream, SocketAddr)>,
    reloader: Reloader,
) {
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (stream, peer) = tokio::select! {
            _ = tx.closed() => return,
            _ = poll.tick() => {
                reloader.poll();
                continue;
            }
            r = tcp.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    use std::io::ErrorKind::*;
                    if !matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
                        tracing::error!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn openssl(dir: &Path, args: &[&str]) {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A self-signed certificate `name.pem` with its EC key `name.key`.
    fn self_signed(dir: &Path, name: &str) {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={name}"),
            ],
        );
    }

    #[test]
    fn load_pair_names_the_file_and_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        self_signed(d, "a");
        self_signed(d, "b");
        let (a_pem, a_key, b_key) = (d.join("a.pem"), d.join("a.key"), d.join("b.key"));
        load_pair(&a_pem, &a_key).expect("a matching pair loads");

        let missing = d.join("missing.pem");
        let e = load_pair(&missing, &a_key).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("cannot read {}", missing.display())),
            "{e}"
        );

        let garbage = d.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let e = load_pair(&garbage, &a_key).unwrap_err().to_string();
        assert_eq!(e, format!("no certificate in {}", garbage.display()));

        // A certificate where the key should be: PEM, but no key in it.
        let e = load_pair(&a_pem, &a_pem).unwrap_err().to_string();
        assert_eq!(e, format!("no private key in {}", a_pem.display()));

        let e = load_pair(&a_pem, &b_key).unwrap_err().to_string();
        assert_eq!(
            e,
            format!(
                "the key in {} does not match the certificate in {}",
                b_key.display(),
                a_pem.display()
            )
        );
        let key_text = std::fs::read_to_string(&b_key).unwrap();
        let body = key_text.lines().nth(1).unwrap();
        assert!(!e.contains(body), "the error carries no key material");
    }
}
