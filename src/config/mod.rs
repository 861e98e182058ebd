//! Configuration: one TOML file (every key is documented in `config/klaxon.example.toml`),
//! overridden by `KLAXON_*` environment variables, overridden by command-line flags.

mod chat;
mod console;
mod ops;

pub use chat::{BotConfig, ChatConfig, ChatUser, DiscordConfig, SlackConfig, SnsConfig, SnsTopic};
pub use console::ConsoleConfig;
pub use ops::{BackupConfig, LogFormat, ServerConfig, TlsConfig, WatchdogConfig, WatchdogMethod};
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A secret value; never printed.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CredentialConfig {
    pub access_key_id: String,
    #[serde(default)]
    pub secret_access_key: Option<Secret>,
    #[serde(default)]
    pub secret_access_key_file: Option<PathBuf>,
    pub account_id: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ActivationConfig {
    pub code_ttl_secs: i64,
    pub max_failed_attempts: u32,
    pub lockout_secs: i64,
    pub max_sends_per_window: u32,
    pub send_window_secs: i64,
}

impl Default for ActivationConfig {
    fn default() -> Self {
        ActivationConfig {
            code_ttl_secs: 15 * 60,
            max_failed_attempts: 5,
            lockout_secs: 15 * 60,
            max_sends_per_window: 5,
            send_window_secs: 10 * 60,
        }
    }
}

/// Twilio for SMS (and voice): the account, the number messages come from, where the API is
/// and the public URL Twilio calls back (webhook signatures are computed over it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TwilioConfig {
    pub account_sid: String,
    #[serde(default)]
    pub auth_token: Option<Secret>,
    #[serde(default)]
    pub auth_token_file: Option<PathBuf>,
    pub from_number: String,
    #[serde(default = "default_twilio_api")]
    pub api_base_url: String,
    /// The top-level `public_base_url` when not given.
    #[serde(default)]
    pub public_base_url: String,
}

fn default_twilio_api() -> String {
    "https://api.twilio.com".into()
}

impl TwilioConfig {
    /// The auth token, from the file when one is named.
    pub fn token(&self) -> Result<Secret, ConfigError> {
        match (&self.auth_token, &self.auth_token_file) {
            (Some(t), None) => Ok(t.clone()),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map(|t| Secret::new(t.trim()))
                .map_err(|source| ConfigError::Read {
                    path: f.display().to_string(),
                    source,
                }),
            _ => Err(ConfigError::Invalid(
                "[twilio] needs exactly one of auth_token and auth_token_file".into(),
            )),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    #[default]
    Starttls,
    Tls,
    None,
}

/// Outbound email through an SMTP server; `reply_domain` receives replies (point its MX at the
/// inbound listener) at per-page addresses `page+<token>@reply_domain`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default)]
    pub tls: SmtpTls,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<Secret>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
    pub from: String,
    pub reply_domain: String,
}

fn default_smtp_port() -> u16 {
    587
}

impl SmtpConfig {
    pub fn password(&self) -> Result<Option<Secret>, ConfigError> {
        match (&self.password, &self.password_file) {
            (Some(p), None) => Ok(Some(p.clone())),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map(|p| Some(Secret::new(p.trim())))
                .map_err(|source| ConfigError::Read {
                    path: f.display().to_string(),
                    source,
                }),
            (None, None) => Ok(None),
            _ => Err(ConfigError::Invalid(
                "[smtp] takes password or password_file, not both".into(),
            )),
        }
    }
}

/// The embedded SMTP listener that takes replies to pages.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InboundSmtpConfig {
    pub listen: String,
}

/// The engagement engine's timing. Leases are wall-clock and never scaled by `time_scale`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct EngineConfig {
    /// How long a claimed timer stays with a node without renewal; a dead node's work moves
    /// to the others this long after its last renewal (renewals come every third of it).
    pub lease_ms: i64,
    /// The longest the engine sleeps without looking at the store (a lost notification, or
    /// another node's work to take over).
    pub poll_ms: i64,
    /// Sends to one channel for one page stage, first try included, when the plan retries.
    pub max_send_attempts: i32,
    /// Timers claimed at once.
    pub batch: i64,
    /// A send that has not finished after this long counts as a failed send (and is retried
    /// when the plan says so).
    pub send_timeout_ms: i64,
    /// Quick tries of one send within the send when the provider fails temporarily (5xx, 429,
    /// network, timeout), after `provider_backoff_ms`, doubling. After them the send is tried
    /// again later, the wait doubling up to `provider_backoff_max_ms`, until the page closes.
    pub provider_retries: u32,
    pub provider_backoff_ms: i64,
    pub provider_backoff_max_ms: i64,
    /// Accepted sends to one contact channel per minute on one node (0 = no limit); pages
    /// beyond it wait for the window and go out together as one message.
    pub max_sends_per_channel_per_minute: u32,
    /// How long a reply (SMS, email) can still find the page it answers: the inbound indexes
    /// are swept of entries older than this.
    pub inbound_index_days: i64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            lease_ms: 3_000,
            poll_ms: 1_000,
            max_send_attempts: 5,
            batch: 256,
            send_timeout_ms: 30_000,
            provider_retries: 2,
            provider_backoff_ms: 200,
            provider_backoff_max_ms: 30_000,
            max_sends_per_channel_per_minute: 20,
            inbound_index_days: 7,
        }
    }
}

/// A monitoring tool's way in (PagerDuty Events API v2, Opsgenie Alert API, Alertmanager
/// webhook): its key, and the response plan its incidents start from.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IntegrationConfig {
    pub name: String,
    #[serde(default)]
    pub key: Option<Secret>,
    #[serde(default)]
    pub key_file: Option<PathBuf>,
    /// The SSM Incidents response plan, by name.
    pub response_plan: String,
    /// Events accepted per minute; PagerDuty documents 120 per routing key.
    #[serde(default = "default_rate_per_minute")]
    pub rate_per_minute: u32,
    /// The account the plan belongs to; the first configured credential's account by default.
    #[serde(default)]
    pub account_id: Option<String>,
    /// The region incidents are started in; the first of `regions` by default.
    #[serde(default)]
    pub region: Option<String>,
}

fn default_rate_per_minute() -> u32 {
    120
}

/// Keys shorter than this are refused: they are the only thing guarding the doors.
pub const MIN_INTEGRATION_KEY: usize = 20;

impl IntegrationConfig {
    /// The key, from the file when one is named (trimmed of the newline editors add).
    pub fn secret(&self) -> Result<Secret, ConfigError> {
        match (&self.key, &self.key_file) {
            (Some(k), None) => Ok(k.clone()),
            (None, Some(f)) => std::fs::read_to_string(f)
                .map(|k| Secret::new(k.trim()))
                .map_err(|e| {
                    ConfigError::Invalid(format!(
                        "[[integrations]] {}: cannot read key_file {}: {e}",
                        self.name,
                        f.display()
                    ))
                }),
            _ => Err(ConfigError::Invalid(format!(
                "[[integrations]] {} needs exactly one of key and key_file",
                self.name
            ))),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub regions: Vec<String>,
    pub time_scale: f64,
    pub max_body_bytes: usize,
    pub log: String,
    pub log_format: LogFormat,
    /// Where people and providers reach Klaxon (behind a proxy, say): every link Klaxon writes
    /// to itself starts with it.
    pub public_base_url: Option<String>,
    pub tls: Option<TlsConfig>,
    pub server: ServerConfig,
    pub backup: Option<BackupConfig>,
    pub watchdog: Option<WatchdogConfig>,
    pub credentials: Vec<CredentialConfig>,
    pub activation: ActivationConfig,
    pub engine: EngineConfig,
    pub twilio: Option<TwilioConfig>,
    pub smtp: Option<SmtpConfig>,
    pub inbound_smtp: Option<InboundSmtpConfig>,
    /// Files here replace the shipped templates of the same name (e.g. `page/sms.txt`).
    pub templates_dir: Option<PathBuf>,
    pub bot: BotConfig,
    pub slack: Option<SlackConfig>,
    pub discord: Option<DiscordConfig>,
    pub sns: SnsConfig,
    pub chat: ChatConfig,
    pub integrations: Vec<IntegrationConfig>,
    pub console: ConsoleConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:7700".into(),
            data_dir: PathBuf::from("data"),
            database_url: None,
            regions: vec!["us-east-1".into()],
            time_scale: 1.0,
            max_body_bytes: 1024 * 1024,
            log: "info".into(),
            log_format: LogFormat::Text,
            public_base_url: None,
            tls: None,
            server: ServerConfig::default(),
            backup: None,
            watchdog: None,
            credentials: Vec::new(),
            activation: ActivationConfig::default(),
            engine: EngineConfig::default(),
            twilio: None,
            smtp: None,
            inbound_smtp: None,
            templates_dir: None,
            bot: BotConfig::default(),
            slack: None,
            discord: None,
            sns: SnsConfig::default(),
            chat: ChatConfig::default(),
            integrations: Vec::new(),
            console: ConsoleConfig::default(),
        }
    }
}

/// Command-line values that take precedence over file and environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub time_scale: Option<f64>,
}

impl Config {
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::from_toml(&text, &path.display().to_string())
    }

    /// A configuration file's text, not yet validated (`origin` names it in errors).
    pub fn from_toml(text: &str, origin: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })
    }

    /// File (if any), then `KLAXON_*` variables from `env`, then flags; validated.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
        flags: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut c = match file {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        c.apply_env(env)?;
        if let Some(v) = &flags.listen {
            c.listen = v.clone();
        }
        if let Some(v) = &flags.data_dir {
            c.data_dir = v.clone();
        }
        if let Some(v) = &flags.database_url {
            c.database_url = Some(v.clone());
        }
        if let Some(v) = flags.time_scale {
            c.time_scale = v;
        }
        if let (Some(t), Some(base)) = (&mut c.twilio, &c.public_base_url)
            && t.public_base_url.is_empty()
        {
            t.public_base_url = base.clone();
        }
        c.validate()?;
        Ok(c)
    }

    fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        if let Some(v) = env("KLAXON_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = env("KLAXON_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = env("KLAXON_DATABASE_URL") {
            self.database_url = Some(v);
        }
        if let Some(v) = env("KLAXON_REGIONS") {
            self.regions = v
                .split(',')
                .map(|r| r.trim().to_string())
                .filter(|r| !r.is_empty())
                .collect();
        }
        if let Some(v) = env("KLAXON_TIME_SCALE") {
            self.time_scale = v.parse().map_err(|_| {
                ConfigError::Invalid(format!("KLAXON_TIME_SCALE={v:?} is not a number"))
            })?;
        }
        if let Some(v) = env("KLAXON_LOG") {
            self.log = v;
        }
        if let Some(key) = env("KLAXON_ACCESS_KEY_ID") {
            let account_id = env("KLAXON_ACCOUNT_ID").ok_or_else(|| {
                ConfigError::Invalid(
                    "KLAXON_ACCESS_KEY_ID is set but KLAXON_ACCOUNT_ID is not".into(),
                )
            })?;
            let secret_access_key = env("KLAXON_SECRET_ACCESS_KEY").map(Secret::new);
            let secret_access_key_file = env("KLAXON_SECRET_ACCESS_KEY_FILE").map(PathBuf::from);
            self.credentials.push(CredentialConfig {
                access_key_id: key,
                secret_access_key,
                secret_access_key_file,
                account_id,
            });
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(format!(
                "listen = {:?} is not an address like 127.0.0.1:7700",
                self.listen
            ));
        }
        if self.regions.is_empty() {
            return bad("regions must name at least one region".into());
        }
        if !(self.time_scale.is_finite() && self.time_scale > 0.0) {
            return bad(format!(
                "time_scale = {} must be a positive number",
                self.time_scale
            ));
        }
        if self.max_body_bytes < 1024 {
            return bad("max_body_bytes must be at least 1024".into());
        }
        if let Some(url) = &self.database_url
            && !(url.starts_with("sqlite://")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://"))
        {
            return bad(format!(
                "database_url {} must start with sqlite:// or postgres://",
                crate::storage::redact_url(url)
            ));
        }
        for c in &self.credentials {
            if c.access_key_id.len() < 3
                || !c.access_key_id.chars().all(|x| x.is_ascii_alphanumeric())
            {
                return bad(format!(
                    "access key id {:?} must be at least 3 letters or digits",
                    c.access_key_id
                ));
            }
            if c.account_id.len() != 12 || !c.account_id.chars().all(|x| x.is_ascii_digit()) {
                return bad(format!(
                    "account id for key {} must be 12 digits",
                    c.access_key_id
                ));
            }
            if c.secret_access_key.is_none() == c.secret_access_key_file.is_none() {
                return bad(format!(
                    "key {} needs exactly one of secret_access_key and secret_access_key_file",
                    c.access_key_id
                ));
            }
        }
        let a = &self.activation;
        if a.code_ttl_secs <= 0
            || a.lockout_secs <= 0
            || a.send_window_secs <= 0
            || a.max_failed_attempts == 0
            || a.max_sends_per_window == 0
        {
            return bad("activation limits must all be positive".into());
        }
        ops::validate(
            self.tls.as_ref(),
            self.backup.as_ref(),
            self.watchdog.as_ref(),
            self.public_base_url.as_deref(),
        )?;
        if let Some(t) = &self.twilio {
            t.token()?;
            if !t.public_base_url.starts_with("http://")
                && !t.public_base_url.starts_with("https://")
            {
                return bad(
                    "[twilio] public_base_url (or the top-level public_base_url) must be the http(s) URL Twilio calls back".into(),
                );
            }
            if !t.from_number.starts_with('+') {
                return bad(
                    "[twilio] from_number must be an E.164 number such as +12065550100".into(),
                );
            }
        }
        if let Some(m) = &self.smtp {
            m.password()?;
            if !m.from.contains('@') || m.reply_domain.is_empty() || m.reply_domain.contains('@') {
                return bad(
                    "[smtp] from must be an email address and reply_domain a domain".into(),
                );
            }
        }
        if let Some(i) = &self.inbound_smtp
            && i.listen.parse::<std::net::SocketAddr>().is_err()
        {
            return bad(format!(
                "[inbound_smtp] listen = {:?} is not an address",
                i.listen
            ));
        }
        // Renders every template once, so a broken override stops the start (and check-config).
        crate::engine::message::load(self.templates_dir.as_deref())
            .map_err(ConfigError::Invalid)?;
        crate::bot::render::load(self.templates_dir.as_deref()).map_err(ConfigError::Invalid)?;
        let e = &self.engine;
        if e.lease_ms < 100
            || e.poll_ms < 10
            || e.max_send_attempts < 1
            || e.batch < 1
            || e.send_timeout_ms < 1
            || e.provider_retries > 10
            || e.provider_backoff_ms < 0
            || e.provider_backoff_max_ms < e.provider_backoff_ms.max(1)
        {
            return bad("engine: lease_ms >= 100, poll_ms >= 10, max_send_attempts, batch and send_timeout_ms >= 1, provider_retries <= 10, provider_backoff_ms >= 0, provider_backoff_max_ms >= provider_backoff_ms and >= 1".into());
        }
        self.validate_chat()?;
        self.console.validate()?;
        self.validate_integrations()
    }

    fn validate_integrations(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        let mut keys: Vec<Secret> = Vec::new();
        for (i, g) in self.integrations.iter().enumerate() {
            let name = &g.name;
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return bad(format!(
                    "[[integrations]] name {name:?} must be letters, digits, - and _"
                ));
            }
            if self.integrations[..i].iter().any(|o| &o.name == name) {
                return bad(format!("[[integrations]] {name} is named twice"));
            }
            let key = g.secret()?;
            if key.expose().chars().count() < MIN_INTEGRATION_KEY {
                return bad(format!(
                    "[[integrations]] {name}: the key must be at least {MIN_INTEGRATION_KEY} characters"
                ));
            }
            if keys.contains(&key) {
                return bad(format!(
                    "[[integrations]] {name}: the key is another integration's too"
                ));
            }
            keys.push(key);
            if g.response_plan.is_empty() {
                return bad(format!("[[integrations]] {name} needs a response_plan"));
            }
            if g.rate_per_minute == 0 {
                return bad(format!(
                    "[[integrations]] {name}: rate_per_minute must be positive"
                ));
            }
            if let Some(a) = &g.account_id
                && (a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
            {
                return bad(format!(
                    "[[integrations]] {name}: account_id must be 12 digits"
                ));
            }
            if let Some(r) = &g.region
                && !self.regions.contains(r)
            {
                return bad(format!(
                    "[[integrations]] {name}: region {r} is not one of regions"
                ));
            }
        }
        Ok(())
    }

    fn validate_chat(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.bot.access_key_id.is_some() != self.bot.secret_key()?.is_some() {
            return bad("[bot] access_key_id goes with secret_access_key (or _file)".into());
        }
        if self.bot.reply_within_ms > 2900 {
            return bad("[bot] reply_within_ms must stay under Slack's and Discord's 3 s".into());
        }
        if !self.bot.endpoint_url.is_empty()
            && !self.bot.endpoint_url.starts_with("http://")
            && !self.bot.endpoint_url.starts_with("https://")
        {
            return bad(
                "[bot] endpoint_url must be an http(s) URL, or empty for this Klaxon".into(),
            );
        }
        if let Some(s) = &self.slack {
            s.bot_token()?;
            s.signing_secret()?;
        }
        if let Some(d) = &self.discord {
            d.bot_token()?;
            if d.public_key.len() != 64 || !d.public_key.chars().all(|c| c.is_ascii_hexdigit()) {
                return bad("[discord] public_key must be the application's 64 hex digits".into());
            }
            if d.application_id.is_empty() || !d.application_id.chars().all(|c| c.is_ascii_digit())
            {
                return bad("[discord] application_id must be the application's numeric id".into());
            }
        }
        if regex::Regex::new(&self.sns.cert_url_pattern).is_err() {
            return bad("[sns] cert_url_pattern is not a regular expression".into());
        }
        if let Some(f) = &self.sns.cert_file
            && let Err(source) = std::fs::metadata(f)
        {
            return Err(ConfigError::Read {
                path: f.display().to_string(),
                source,
            });
        }
        for t in &self.sns.topics {
            if !t.topic_arn.starts_with("arn:") || t.topic_arn.split(':').count() != 6 {
                return bad(format!(
                    "[[sns.topics]] topic_arn {:?} is not an SNS topic ARN",
                    t.topic_arn
                ));
            }
            if t.slack_channel.is_some() && self.slack.is_none() {
                return bad(format!(
                    "[[sns.topics]] {} names a slack_channel but there is no [slack] section",
                    t.topic_arn
                ));
            }
            if t.discord_channel_id.is_some() && self.discord.is_none() {
                return bad(format!(
                    "[[sns.topics]] {} names a discord_channel_id but there is no [discord] section",
                    t.topic_arn
                ));
            }
        }
        for u in &self.chat.users {
            if u.slack_user_id.is_none() && u.discord_user_id.is_none() {
                return bad(format!(
                    "[[chat.users]] {} needs slack_user_id or discord_user_id",
                    u.contact
                ));
            }
        }
        Ok(())
    }

    /// The database the server uses: the configured URL or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("klaxon.db").display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn layers_file_env_and_flags() {
        let dir = std::env::temp_dir().join(format!("klaxon-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("k.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nregions = [\"eu-west-1\"]\n[[credentials]]\naccess_key_id = \"AKID1\"\nsecret_access_key = \"s\"\naccount_id = \"111122223333\"\n").unwrap();
        let e = [
            ("KLAXON_TIME_SCALE", "60"),
            ("KLAXON_LISTEN", "127.0.0.1:9001"),
        ];
        let flags = Overrides {
            listen: Some("127.0.0.1:9002".into()),
            ..Default::default()
        };
        let c = Config::load(Some(&file), &env(&e), &flags).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9002");
        assert_eq!(c.time_scale, 60.0);
        assert_eq!(c.regions, ["eu-west-1"]);
        assert_eq!(c.credentials.len(), 1);
        assert!(
            !format!("{c:?}").contains("\"s\""),
            "secrets are not printed"
        );
    }

    #[test]
    fn rejects_bad_values_with_a_reason() {
        let none = Overrides::default();
        let err = Config::load(
            None,
            &env(&[("KLAXON_ACCESS_KEY_ID", "AK"), ("KLAXON_ACCOUNT_ID", "1")]),
            &none,
        );
        assert!(err.is_err());
        let err = Config::load(None, &env(&[("KLAXON_TIME_SCALE", "0")]), &none).unwrap_err();
        assert!(err.to_string().contains("time_scale"));
        let c = Config::load(None, &env(&[]), &none).unwrap();
        assert_eq!(c.database_url(), "sqlite://data/klaxon.db");
    }

    #[test]
    fn integrations_are_checked_by_name() {
        let dir = std::env::temp_dir().join(format!("klaxon-int-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let load = |text: &str| {
            let file = dir.join("i.toml");
            std::fs::write(&file, text).unwrap();
            Config::load(Some(&file), &env(&[]), &Overrides::default())
        };
        let one = |name: &str, key: &str| {
            format!("[[integrations]]\nname = \"{name}\"\nkey = \"{key}\"\nresponse_plan = \"p\"\n")
        };
        let long = "k".repeat(24);
        let c = load(&one("prom", &long)).unwrap();
        assert_eq!(c.integrations[0].rate_per_minute, 120);
        assert!(!format!("{c:?}").contains(&long), "keys are not printed");
        let cases = [
            (format!("{}{}", one("prom", &long), one("prom", &"j".repeat(24))), "prom is named twice"),
            (one("shorty", "short"), "shorty: the key must be at least 20"),
            (
                "[[integrations]]\nname = \"filed\"\nkey_file = \"/nonexistent/k\"\nresponse_plan = \"p\"\n".into(),
                "filed: cannot read key_file",
            ),
            (
                format!("{}surprise = 1\n", one("prom", &long)),
                "unknown field",
            ),
        ];
        for (text, want) in cases {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
            assert!(!err.contains(&long));
        }
    }

    #[test]
    fn chat_sections_are_checked() {
        let dir = std::env::temp_dir().join(format!("klaxon-chat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let load = |text: &str| {
            let file = dir.join("c.toml");
            std::fs::write(&file, text).unwrap();
            Config::load(Some(&file), &env(&[]), &Overrides::default())
        };
        let slack = "[slack]\nbot_token = \"xoxb\"\nsigning_secret = \"s\"\n";
        let topic = "[[sns.topics]]\ntopic_arn = \"arn:aws:sns:us-east-1:111122223333:t\"\nslack_channel = \"C1\"\n";
        let c = load(&format!(
            "{slack}{topic}[[chat.users]]\ncontact = \"akuam\"\nslack_user_id = \"U1\"\n"
        ))
        .unwrap();
        assert_eq!(c.sns.topics[0].slack_channel.as_deref(), Some("C1"));
        assert_eq!(c.bot.reply_within_ms, 2500);
        assert!(!format!("{c:?}").contains("xoxb"), "tokens are not printed");
        let cases = [
            (topic.to_string(), "no [slack] section"),
            (
                format!("{slack}[[sns.topics]]\ntopic_arn = \"t\"\n"),
                "not an SNS topic ARN",
            ),
            ("[slack]\nbot_token = \"x\"\n".to_string(), "signing_secret"),
            (
                "[discord]\napplication_id = \"1\"\npublic_key = \"zz\"\nbot_token = \"t\"\n"
                    .to_string(),
                "public_key",
            ),
            (
                "[[chat.users]]\ncontact = \"a\"\n".to_string(),
                "slack_user_id or discord_user_id",
            ),
            (
                "[bot]\naccess_key_id = \"AK\"\n".to_string(),
                "access_key_id goes with",
            ),
            ("[bot]\nreply_within_ms = 5000\n".to_string(), "3 s"),
            (
                "[sns]\ncert_url_pattern = \"(\"\n".to_string(),
                "cert_url_pattern",
            ),
        ];
        for (text, want) in cases {
            let err = load(&text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
