//! Wiring: from a `Config` to a listening server. Tests use `start` with a manual clock and a
//! recording channel; `main` uses it with the system clock and the configured channels.

use crate::config::Config;
use crate::delivery::{Registry, log::LogChannel};
use crate::domain::clock::{Clock, Durations};
use crate::handlers::contacts::ContactsService;
use crate::handlers::incidents::IncidentsService;
use crate::storage::{self, Store};
use crate::wire::{self, credentials};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Response, StatusCode};
use axum::routing::get;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] storage::StoreError),
    #[error(transparent)]
    Credentials(#[from] credentials::CredentialError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
}

pub struct Options {
    pub clock: Arc<dyn Clock>,
    /// Channels to deliver through; `None` means the log channel for every type.
    pub delivery: Option<Registry>,
}

pub struct Running {
    pub addr: SocketAddr,
    pub credentials_file: Option<PathBuf>,
    pub outbox: PathBuf,
    pub store: Arc<dyn Store>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops accepting, lets in-flight requests finish, then returns.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Runs until `signal` completes, then shuts down gracefully.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        tokio::select! {
            r = &mut self.task => return r.unwrap_or(Ok(())),
            _ = signal => {}
        }
        tracing::info!("shutting down: finishing in-flight requests");
        self.stop().await;
        Ok(())
    }
}

fn with_request_id(mut resp: Response<Body>) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

async fn healthz() -> Response<Body> {
    with_request_id(Response::new(Body::from("ok\n")))
}

async fn readyz(State(store): State<Arc<dyn Store>>) -> Response<Body> {
    let resp = match store.ping().await {
        Ok(()) => Response::new(Body::from("ready\n")),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let mut r = Response::new(Body::from("not ready\n"));
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            r
        }
    };
    with_request_id(resp)
}

pub fn router(api: Arc<wire::Api>, store: Arc<dyn Store>) -> Router {
    let probes = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(store);
    probes.fallback_service(axum::routing::any(wire::handle).with_state(api))
}

pub async fn start(config: &Config, opts: Options) -> Result<Running, AppError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| AppError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let (keys, credentials_file) = credentials::load(config)?;
    let store = storage::open(&config.database_url()).await?;
    let outbox = config.data_dir.join("outbox.jsonl");
    let delivery = opts
        .delivery
        .unwrap_or_else(|| Registry::all(Arc::new(LogChannel::new(outbox.clone()))));
    let durations = Durations {
        time_scale: config.time_scale,
    };
    let api = Arc::new(wire::Api {
        keys,
        regions: config.regions.clone(),
        clock: opts.clock.clone(),
        max_body_bytes: config.max_body_bytes,
        contacts: ContactsService {
            store: store.clone(),
            clock: opts.clock.clone(),
            delivery,
            durations,
            activation: config.activation.clone(),
        },
        incidents: IncidentsService {
            store: store.clone(),
            clock: opts.clock.clone(),
            durations,
        },
    });
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|source| AppError::Listen {
            addr: config.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| AppError::Listen {
        addr: config.listen.clone(),
        source,
    })?;
    let app = router(api, store.clone());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await
    });
    Ok(Running {
        addr,
        credentials_file,
        outbox,
        store,
        shutdown: Some(tx),
        task,
    })
}
