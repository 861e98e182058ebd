//! A Klaxon server on 127.0.0.1:0 per test, with a manual clock, a recording channel and real
//! AWS SDK clients pointed at it.

use aws_sdk_ssmcontacts::config::{BehaviorVersion, Credentials, Region};
use klaxon::app::{Options, Running, start};
use klaxon::config::{ActivationConfig, Config, CredentialConfig, Secret};
use klaxon::delivery::Registry;
use klaxon::delivery::recording::RecordingChannel;
use klaxon::domain::clock::{Clock, ManualClock, SystemClock};
use std::sync::Arc;

pub const KEY: &str = "AKIDKLAXONTEST1";
pub const SECRET: &str = "klaxon-test-secret-key-1";
pub const ACCOUNT: &str = "111122223333";
pub const KEY2: &str = "AKIDKLAXONTEST2";
pub const SECRET2: &str = "klaxon-test-secret-key-2";
pub const ACCOUNT2: &str = "444455556666";
pub const REGION: &str = "us-east-1";

pub struct TestApp {
    pub running: Running,
    pub clock: Arc<ManualClock>,
    pub sent: Arc<RecordingChannel>,
    pub config: Config,
    engine_loop: bool,
    // Kept so the data directory outlives the server.
    _dir: tempfile::TempDir,
}

/// SDK clients sign with the server's manual clock, so tests can move time by hours.
#[derive(Debug)]
struct ManualTime(Arc<ManualClock>);

impl aws_smithy_async::time::TimeSource for ManualTime {
    fn now(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_millis(self.0.now_ms().max(0) as u64)
    }
}

/// A last change to the configuration a test makes before the server starts.
pub type Configure = Box<dyn FnOnce(&mut Config)>;

pub struct Setup {
    pub database_url: Option<String>,
    pub time_scale: f64,
    pub log_channel: bool,
    /// Run the engine's own loop; otherwise tests step it with `tick`.
    pub engine_loop: bool,
    /// Deliver SMS through Twilio as configured here (other types to the log channel).
    pub twilio: Option<klaxon::config::TwilioConfig>,
    /// Deliver email through this SMTP server, and listen for replies on 127.0.0.1:0.
    pub smtp: Option<klaxon::config::SmtpConfig>,
    pub engine: Option<klaxon::config::EngineConfig>,
    /// Last changes to the configuration (chat services, SNS topics, chat users).
    pub configure: Option<Configure>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            database_url: None,
            time_scale: 1.0,
            log_channel: false,
            engine_loop: false,
            twilio: None,
            smtp: None,
            engine: None,
            configure: None,
        }
    }
}

pub fn cred(key: &str, secret: &str, account: &str) -> CredentialConfig {
    CredentialConfig {
        access_key_id: key.into(),
        secret_access_key: Some(Secret::new(secret)),
        secret_access_key_file: None,
        account_id: account.into(),
    }
}

/// The engine's defaults, with quick provider retries a few milliseconds apart: the quick
/// tries within a send wait in real time, and tests should not.
pub fn test_engine() -> klaxon::config::EngineConfig {
    klaxon::config::EngineConfig {
        provider_backoff_ms: 5,
        ..Default::default()
    }
}

pub async fn spawn() -> TestApp {
    spawn_with(Setup::default()).await
}

pub async fn spawn_with(setup: Setup) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        database_url: setup.database_url,
        time_scale: setup.time_scale,
        credentials: vec![cred(KEY, SECRET, ACCOUNT), cred(KEY2, SECRET2, ACCOUNT2)],
        activation: ActivationConfig::default(),
        twilio: setup.twilio.clone(),
        smtp: setup.smtp.clone(),
        engine: setup.engine.clone().unwrap_or_else(test_engine),
        inbound_smtp: setup
            .smtp
            .as_ref()
            .map(|_| klaxon::config::InboundSmtpConfig {
                listen: "127.0.0.1:0".into(),
            }),
        ..Config::default()
    };
    if let Some(f) = setup.configure {
        f(&mut config);
    }
    // Real SDK clients sign with the real time, so the manual clock starts there.
    let clock = ManualClock::new(SystemClock.now_ms());
    let sent = Arc::new(RecordingChannel::default());
    let delivery = if setup.log_channel || setup.twilio.is_some() || setup.smtp.is_some() {
        None
    } else {
        Some(Registry::all(sent.clone()))
    };
    let running = start(
        &config,
        Options {
            clock: clock.clone(),
            delivery,
            engine_loop: setup.engine_loop,
        },
    )
    .await
    .expect("server starts");
    TestApp {
        running,
        clock,
        sent,
        config,
        engine_loop: setup.engine_loop,
        _dir: dir,
    }
}

impl TestApp {
    /// Stops the server and starts a new one on the same data, clock and recording channel.
    pub async fn restart(self) -> TestApp {
        let TestApp {
            running,
            clock,
            sent,
            config,
            engine_loop,
            _dir,
        } = self;
        running.stop().await;
        let running = start(
            &config,
            Options {
                clock: clock.clone(),
                delivery: Some(Registry::all(sent.clone())),
                engine_loop,
            },
        )
        .await
        .expect("server restarts");
        TestApp {
            running,
            clock,
            sent,
            config,
            engine_loop,
            _dir,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.running.addr)
    }

    pub fn contacts(&self) -> aws_sdk_ssmcontacts::Client {
        self.contacts_as(KEY, SECRET)
    }

    pub fn contacts_as(&self, key: &str, secret: &str) -> aws_sdk_ssmcontacts::Client {
        let conf = aws_sdk_ssmcontacts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(key, secret, None, None, "test"))
            .endpoint_url(self.url())
            .time_source(ManualTime(self.clock.clone()))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_ssmcontacts::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_ssmcontacts::Client::from_conf(conf)
    }

    pub fn incidents(&self) -> aws_sdk_ssmincidents::Client {
        self.incidents_as(KEY, SECRET)
    }

    pub fn incidents_as(&self, key: &str, secret: &str) -> aws_sdk_ssmincidents::Client {
        let conf = aws_sdk_ssmincidents::Config::builder()
            .behavior_version(aws_sdk_ssmincidents::config::BehaviorVersion::latest())
            .region(aws_sdk_ssmincidents::config::Region::new(REGION))
            .credentials_provider(aws_sdk_ssmincidents::config::Credentials::new(
                key, secret, None, None, "test",
            ))
            .endpoint_url(self.url())
            .time_source(ManualTime(self.clock.clone()))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .retry_config(aws_sdk_ssmincidents::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_ssmincidents::Client::from_conf(conf)
    }

    /// Runs the engine at the manual clock's time, as its loop would.
    pub async fn tick(&self) -> klaxon::engine::TickReport {
        self.running
            .engine
            .tick(self.clock.now_ms())
            .await
            .expect("engine tick")
    }

    /// Moves the manual clock on and runs whatever fell due.
    pub async fn advance(&self, ms: i64) -> klaxon::engine::TickReport {
        self.clock.advance_ms(ms);
        self.tick().await
    }

    /// The code most recently sent to a channel (after the engine has sent what is queued).
    pub async fn last_code(&self, channel_arn: &str) -> String {
        self.tick().await;
        self.sent
            .sent()
            .iter()
            .rev()
            .find(|m| m.contact_channel_arn == channel_arn)
            .map(|m| m.code.clone())
            .expect("a code was sent to the channel")
    }
}

pub fn contact_arn(account: &str, alias: &str) -> String {
    format!("arn:aws:ssm-contacts:{REGION}:{account}:contact/{alias}")
}

/// A raw HTTP response: status, lowercase headers, body.
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: serde_json::Value,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends a request by hand, signed with Klaxon's own signer when `sign` names a service.
pub async fn raw(
    app: &TestApp,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    sign: Option<(&str, &str, &str, i64)>,
) -> Raw {
    use http_body_util::BodyExt;
    let host = app.running.addr.to_string();
    let mut hs: Vec<(String, String)> = headers
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    hs.push(("host".into(), host.clone()));
    if let Some((service, secret, region, now)) = sign {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        let extra = klaxon::wire::sigv4::sign(
            method, path, query, &hs, body, KEY, secret, region, service, now,
        );
        hs.extend(extra);
    }
    let mut req = hyper::Request::builder()
        .method(method)
        .uri(format!("http://{host}{path_and_query}"));
    for (n, v) in &hs {
        req = req.header(n.as_str(), v.as_str());
    }
    let req = req
        .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
            body,
        )))
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
            String::from_utf8_lossy(&bytes).into(),
        ))
    };
    Raw {
        status,
        headers,
        body,
    }
}

pub fn now_secs() -> i64 {
    SystemClock.now_ms() / 1000
}

/// The modeled error code of an SDK error, e.g. "ResourceNotFoundException".
pub fn code<E: aws_sdk_ssmcontacts::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

/// An unsigned GET (probes, /metrics): the body as text.
pub async fn get_text(app: &TestApp, path: &str) -> String {
    let r = raw(app, "GET", path, &[], b"", None).await;
    assert_eq!(r.status, 200, "GET {path}");
    match r.body {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    }
}
