//! Wiring: from a `Config` to a listening server. Tests use `start` with a manual clock and a
//! recording channel; `main` uses it with the system clock and the configured channels.

use crate::bot::post::{DiscordPoster, SlackPoster};
use crate::config::Config;
use crate::delivery::chat::{ChatPoster, ChatRoutes};
use crate::delivery::email::SmtpEmail;
use crate::delivery::twilio::{TwilioSms, TwilioVoice};
use crate::delivery::{Registry, log::LogChannel};
use crate::domain::clock::{Clock, Durations};
use crate::engine::Engine;
use crate::engine::records::OPEN_ENGAGEMENT;
use crate::handlers::contacts::ContactsService;
use crate::handlers::incidents::IncidentsService;
use crate::inbound::{self, twilio::TwilioHooks};
use crate::metrics::Metrics;
use crate::storage::{self, Store};
use crate::wire::{self, credentials};
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Response, StatusCode};
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{Notify, oneshot, watch};
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
    #[error("delivery provider: {0}")]
    Provider(String),
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
    /// Whether the engine runs its own loop, or only when a test calls `Engine::tick`.
    pub engine_loop: bool,
}

pub struct Running {
    pub addr: SocketAddr,
    pub credentials_file: Option<PathBuf>,
    pub outbox: PathBuf,
    pub store: Arc<dyn Store>,
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// Where the inbound SMTP listener took its port, when `[inbound_smtp]` is configured.
    pub inbound_smtp: Option<SocketAddr>,
    /// Reloads the `[tls]` certificate and key (the files are also watched), when configured.
    pub tls: Option<crate::tls::Reloader>,
    smtp_task: Option<JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    engine_stop: watch::Sender<bool>,
    engine_task: Option<JoinHandle<()>>,
    /// The watchdog and scheduled backups: ended at shutdown.
    ops_tasks: Vec<JoinHandle<()>>,
    /// Behind [tls], the loopback listener the bot's SDK calls: ended after the main listener.
    self_task: Option<JoinHandle<()>>,
    grace: std::time::Duration,
}

impl Running {
    /// Stops accepting, lets requests and engine steps (sends already handed to a provider)
    /// in flight finish for up to `[server] shutdown_grace_secs`, gives back the timer leases so
    /// another node or the next start takes the work at once, then returns.
    pub async fn stop(mut self) {
        for t in self.ops_tasks.drain(..) {
            t.abort();
        }
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = self.engine_stop.send(true);
        let deadline = tokio::time::Instant::now() + self.grace;
        if tokio::time::timeout_at(deadline, &mut self.task)
            .await
            .is_err()
        {
            tracing::warn!(
                grace_secs = self.grace.as_secs(),
                "requests still in flight after the shutdown grace; closing them"
            );
            self.task.abort();
        }
        if let Some(t) = self.smtp_task.take() {
            t.abort();
        }
        if let Some(t) = self.self_task.take() {
            t.abort();
        }
        if let Some(mut t) = self.engine_task.take()
            && tokio::time::timeout_at(deadline, &mut t).await.is_err()
        {
            tracing::warn!(
                grace_secs = self.grace.as_secs(),
                "engine steps still running after the shutdown grace; their sends will be retried with the same idempotency key"
            );
            t.abort();
            let _ = t.await;
        }
        self.engine.release_leases().await;
    }

    /// Runs until `signal` completes, then shuts down gracefully.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> std::io::Result<()> {
        tokio::select! {
            r = &mut self.task => return r.unwrap_or(Ok(())),
            _ = signal => {}
        }
        tracing::info!("shutting down: finishing requests and sends in flight");
        self.stop().await;
        tracing::info!("stopped");
        Ok(())
    }
}

fn with_request_id(mut resp: Response<Body>) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(&wire::request_id()) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

async fn healthz() -> Response<Body> {
    with_request_id(Response::new(Body::from("ok\n")))
}

#[derive(Clone)]
struct Probes {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    /// The engine whose loop must be claiming timers for `/readyz`; none when tests step it.
    engine: Option<Arc<Engine>>,
}

/// Why this server should not be sent traffic, if it should not: the database is unreachable,
/// or the engine is not claiming timers. (Migrations are done before the listener opens.)
pub async fn not_ready(store: &dyn Store, engine: Option<&Engine>) -> Option<String> {
    if let Err(e) = store.ping().await {
        return Some(format!("the database is unreachable: {e}"));
    }
    engine.and_then(|e| e.not_claiming())
}

async fn readyz(State(p): State<Probes>) -> Response<Body> {
    let (status, body) = match not_ready(p.store.as_ref(), p.engine.as_deref()).await {
        None => (StatusCode::OK, serde_json::json!({"ready": true})),
        Some(reason) => {
            tracing::warn!(%reason, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"ready": false, "reason": reason}),
            )
        }
    };
    let mut r = Response::new(Body::from(format!("{body}\n")));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    with_request_id(r)
}

async fn metrics(State(p): State<Probes>) -> Response<Body> {
    let now = p.clock.now_ms();
    let counts = p.store.timer_counts(now).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot count timers for /metrics");
        crate::storage::TimerCounts {
            all: -1,
            due: -1,
            oldest_due_ms: None,
        }
    });
    let open = p.store.count(OPEN_ENGAGEMENT).await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot count engagements for /metrics");
        -1
    });
    let oldest = counts
        .oldest_due_ms
        .map(|t| ((now - t).max(0)) / 1000)
        .unwrap_or(0);
    let text = p.metrics.render(
        &[
            (
                "klaxon_open_engagements",
                "Engagements started and not stopped.",
                open,
            ),
            (
                "klaxon_timers",
                "Engine timers waiting (stages, retries, sends).",
                counts.all,
            ),
            (
                "klaxon_due_timers",
                "Engine timers due now and not yet run.",
                counts.due,
            ),
            (
                "klaxon_oldest_due_timer_seconds",
                "How long the oldest due timer (a send, a stage, a retry) has waited; 0 when none is due.",
                oldest,
            ),
        ],
        &[(
            "klaxon_database_errors_total",
            "Storage errors in this process (the database failing, not a duplicate record).",
            crate::storage::database_errors(),
        )],
    );
    let mut resp = Response::new(Body::from(text));
    resp.headers_mut().insert(
        "content-type",
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    with_request_id(resp)
}

/// Where incident updates go: the Slack and Discord channels `[[sns.topics]]` names.
fn chat_routes(config: &Config) -> Result<ChatRoutes, AppError> {
    let timeout = std::time::Duration::from_millis(config.engine.send_timeout_ms as u64);
    let slack: Option<Arc<dyn ChatPoster>> = match &config.slack {
        Some(s) => Some(Arc::new(SlackPoster(slack_client(s, timeout)?))),
        None => None,
    };
    let discord: Option<Arc<dyn ChatPoster>> = match &config.discord {
        Some(d) => Some(Arc::new(DiscordPoster(discord_client(d, timeout)?))),
        None => None,
    };
    Ok(ChatRoutes::new(&config.sns.topics, slack, discord))
}

fn slack_client(
    s: &crate::config::SlackConfig,
    timeout: std::time::Duration,
) -> Result<klaxon_slack::Client, AppError> {
    let token = s
        .bot_token()
        .map_err(|e| AppError::Provider(e.to_string()))?;
    klaxon_slack::Client::new(&s.api_base_url, token.expose(), timeout)
        .map_err(|e| AppError::Provider(e.to_string()))
}

pub fn discord_client(
    d: &crate::config::DiscordConfig,
    timeout: std::time::Duration,
) -> Result<klaxon_discord::Client, AppError> {
    let token = d
        .bot_token()
        .map_err(|e| AppError::Provider(e.to_string()))?;
    klaxon_discord::Client::new(&d.api_base_url, &d.application_id, token.expose(), timeout)
        .map_err(|e| AppError::Provider(e.to_string()))
}

fn chat_hooks(
    config: &Config,
    bot: crate::bot::exec::Bot,
    api: Arc<wire::Api>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    wake: Arc<Notify>,
) -> Result<crate::bot::Hooks, AppError> {
    let timeout = std::time::Duration::from_millis(config.engine.send_timeout_ms as u64);
    let slack = match &config.slack {
        Some(s) => {
            let token = s
                .bot_token()
                .map_err(|e| AppError::Provider(e.to_string()))?;
            let client = klaxon_slack::Client::new(&s.api_base_url, token.expose(), timeout)
                .map_err(|e| AppError::Provider(e.to_string()))?;
            Some(Arc::new(crate::bot::slack::SlackHooks {
                signing_secret: s
                    .signing_secret()
                    .map_err(|e| AppError::Provider(e.to_string()))?,
                client,
            }))
        }
        None => None,
    };
    let discord = match &config.discord {
        Some(d) => Some(Arc::new(crate::bot::discord::DiscordHooks {
            verifier: klaxon_discord::Verifier::new(&d.public_key)
                .map_err(|e| AppError::Provider(e.to_string()))?,
            client: discord_client(d, timeout)?,
        })),
        None => None,
    };
    let sns = Some(Arc::new(
        crate::bot::sns::SnsHooks::new(&config.sns).map_err(AppError::Provider)?,
    ));
    Ok(crate::bot::Hooks {
        bot: Arc::new(bot),
        slack,
        discord,
        sns,
        api,
        store,
        clock,
        wake,
        reply_within: std::time::Duration::from_millis(config.bot.reply_within_ms),
    })
}

/// The channels the configuration names; every type without a provider uses the log channel.
fn configured_channels(config: &Config, outbox: &std::path::Path) -> Result<Registry, AppError> {
    let mut registry = Registry::all(Arc::new(LogChannel::new(outbox.to_path_buf())));
    match &config.twilio {
        Some(t) => {
            let token = t.token().map_err(|e| AppError::Provider(e.to_string()))?;
            let timeout = std::time::Duration::from_millis(config.engine.send_timeout_ms as u64);
            let client = klaxon_twilio::Client::new(
                &t.api_base_url,
                &t.account_sid,
                token.expose(),
                timeout,
            )
            .map_err(|e| AppError::Provider(e.to_string()))?;
            registry.sms = Arc::new(TwilioSms::new(
                client.clone(),
                &t.from_number,
                &t.public_base_url,
            ));
            registry.voice = Arc::new(TwilioVoice::new(client, &t.from_number, &t.public_base_url));
        }
        None => tracing::warn!("no [twilio] section: SMS and voice pages go to the log channel"),
    }
    match &config.smtp {
        Some(m) => {
            let timeout = std::time::Duration::from_millis(config.engine.send_timeout_ms as u64);
            registry.email = Arc::new(SmtpEmail::new(m, timeout).map_err(AppError::Provider)?);
        }
        None => tracing::warn!("no [smtp] section: EMAIL pages go to the log channel"),
    }
    Ok(registry)
}

fn router(
    api: Arc<wire::Api>,
    probes: Probes,
    twilio: Option<TwilioHooks>,
    chat: crate::bot::Hooks,
    ingest: Option<Arc<crate::ingest::Ingest>>,
    console: Option<Arc<crate::console::Console>>,
    operator_token: crate::config::Secret,
) -> Router {
    let mut r = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(probes);
    if let Some(hooks) = twilio {
        r = r.merge(
            Router::new()
                .route("/hooks/twilio/sms", post(inbound::twilio::sms))
                .route("/hooks/twilio/status", post(inbound::twilio::status))
                .route("/hooks/twilio/voice", post(inbound::twilio::voice))
                .with_state(hooks),
        );
    }
    if let Some(ingest) = ingest {
        r = r.merge(crate::ingest::routes(ingest));
    }
    if let Some(console) = console {
        r = r.merge(crate::console::routes(console));
    }
    r.merge(crate::bot::routes(chat))
        .merge(crate::operator::routes(api.clone(), operator_token))
        .fallback_service(axum::routing::any(wire::handle).with_state(api))
}

pub async fn start(config: &Config, opts: Options) -> Result<Running, AppError> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| AppError::DataDir {
        path: config.data_dir.display().to_string(),
        source,
    })?;
    let (keys, credentials_file) = credentials::load(config)?;
    let store = storage::open(&config.database_url()).await?;
    let outbox = config.data_dir.join("outbox.jsonl");
    crate::engine::message::configure(config.templates_dir.as_deref())
        .map_err(AppError::Provider)?;
    // Several dependencies can enable different rustls providers; choose one before any TLS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    crate::bot::render::configure(config.templates_dir.as_deref()).map_err(AppError::Provider)?;
    let mut delivery = match opts.delivery {
        Some(d) => d,
        None => configured_channels(config, &outbox)?,
    };
    delivery.chat = chat_routes(config)?;
    let durations = Durations {
        time_scale: config.time_scale,
    };
    let metrics = Arc::new(Metrics::default());
    let wake = Arc::new(Notify::new());
    let engine = Engine::new(
        store.clone(),
        opts.clock.clone(),
        delivery,
        durations,
        metrics.clone(),
        config.engine.clone(),
        wake.clone(),
    );
    let api = Arc::new(wire::Api {
        keys,
        regions: config.regions.clone(),
        clock: opts.clock.clone(),
        max_body_bytes: config.max_body_bytes,
        metrics: metrics.clone(),
        contacts: ContactsService {
            store: store.clone(),
            clock: opts.clock.clone(),
            wake: wake.clone(),
            durations,
            activation: config.activation.clone(),
        },
        incidents: IncidentsService {
            store: store.clone(),
            clock: opts.clock.clone(),
            durations,
            wake: wake.clone(),
        },
    });
    let first_key = api.keys.first();
    let ingest = if config.integrations.is_empty() {
        None
    } else {
        let account = first_key
            .as_ref()
            .and_then(|(id, _)| api.keys.get(id))
            .map(|k| k.account_id.clone());
        Some(Arc::new(
            crate::ingest::Ingest::new(config, api.clone(), metrics.clone(), account)
                .map_err(|e| AppError::Provider(e.to_string()))?,
        ))
    };
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
    // With `[tls]` the listener speaks HTTPS only.
    let (listener, tls) = match &config.tls {
        None => (crate::tls::Bound::Plain(listener), None),
        Some(t) => {
            let (https, reloader) =
                crate::tls::listen(listener, t).map_err(|e| AppError::Listen {
                    addr: config.listen.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            (crate::tls::Bound::Https(https), Some(reloader))
        }
    };
    let probes = Probes {
        store: store.clone(),
        metrics: metrics.clone(),
        clock: opts.clock.clone(),
        engine: opts.engine_loop.then(|| engine.clone()),
    };
    let twilio = match &config.twilio {
        Some(t) => Some(TwilioHooks {
            api: api.clone(),
            engine: engine.clone(),
            auth_token: t.token().map_err(|e| AppError::Provider(e.to_string()))?,
            public_base_url: t.public_base_url.clone(),
        }),
        None => None,
    };
    let (inbound_smtp, smtp_task) = match &config.inbound_smtp {
        Some(i) => {
            let (addr, task) = inbound::email::listen(&i.listen, api.clone())
                .await
                .map_err(|source| AppError::Listen {
                    addr: i.listen.clone(),
                    source,
                })?;
            tracing::info!(listen = %addr, "inbound SMTP listener for replies to pages");
            (Some(addr), Some(task))
        }
        None => (None, None),
    };
    // The bot calls this server through the AWS SDK. Behind [tls] the certificate names the
    // public host, not the loopback address, so those calls go to a plain listener of their own
    // on 127.0.0.1 (signed like every call; nothing else is served there).
    let (self_listener, self_addr) = if config.tls.is_some() && config.bot.endpoint_url.is_empty() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|source| AppError::Listen {
                addr: "127.0.0.1:0".into(),
                source,
            })?;
        let a = l.local_addr().map_err(|source| AppError::Listen {
            addr: "127.0.0.1:0".into(),
            source,
        })?;
        (Some(l), a)
    } else {
        (None, addr)
    };
    let bot = crate::bot::sdk::build(config, self_addr, first_key, opts.clock.clone())
        .map_err(|e| AppError::Provider(e.to_string()))?;
    let chat = chat_hooks(
        config,
        bot,
        api.clone(),
        store.clone(),
        opts.clock.clone(),
        wake,
    )?;
    let operator_token =
        crate::operator::token(&config.data_dir).map_err(|source| AppError::DataDir {
            path: crate::operator::token_path(&config.data_dir)
                .display()
                .to_string(),
            source,
        })?;
    let console = if config.console.enabled {
        Some(Arc::new(
            crate::console::Console::new(
                api.clone(),
                store.clone(),
                config.console.clone(),
                config.templates_dir.as_deref(),
            )
            .map_err(|e| AppError::Provider(e.to_string()))?,
        ))
    } else {
        None
    };
    let app = router(api, probes, twilio, chat, ingest, console, operator_token);
    let (engine_stop, stopped) = watch::channel(false);
    let engine_task = opts
        .engine_loop
        .then(|| tokio::spawn(engine.clone().run(stopped)));
    let mut ops_tasks = Vec::new();
    if opts.engine_loop {
        if let Some(w) = &config.watchdog {
            ops_tasks.push(tokio::spawn(crate::ops::watchdog::run(
                w.clone(),
                store.clone(),
                engine.clone(),
            )));
        }
        if let Some(b) = &config.backup {
            ops_tasks.push(tokio::spawn(crate::ops::schedule::run(
                b.clone(),
                config.database_url(),
                config.data_dir.clone(),
                opts.clock.clone(),
            )));
        }
    }
    let self_task = self_listener.map(|l| {
        let app = app
            .clone()
            .into_make_service_with_connect_info::<SocketAddr>();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(l, app).await {
                tracing::error!(error = %e, "the bot's loopback listener stopped");
            }
        })
    });
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // The console limits sign-in attempts per client address.
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let stop = async {
            let _ = rx.await;
        };
        match listener {
            crate::tls::Bound::Plain(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
            crate::tls::Bound::Https(l) => axum::serve(l, app).with_graceful_shutdown(stop).await,
        }
    });
    Ok(Running {
        addr,
        credentials_file,
        outbox,
        store,
        engine,
        metrics,
        inbound_smtp,
        tls,
        smtp_task,
        shutdown: Some(tx),
        task,
        engine_stop,
        engine_task,
        ops_tasks,
        self_task,
        grace: std::time::Duration::from_secs(config.server.shutdown_grace_secs),
    })
}
