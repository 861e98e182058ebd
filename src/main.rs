use clap::{Parser, Subcommand};
use klaxon::config::{Config, Overrides};
use klaxon::domain::clock::SystemClock;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Klaxon: a self-hosted incident manager that speaks the AWS SSM Contacts and SSM Incidents APIs.
#[derive(Parser)]
#[command(name = "klaxon", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct ConfigArg {
    /// TOML configuration file (every key is described in config/klaxon.example.toml).
    #[arg(long, env = "KLAXON_CONFIG")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (SQLite in the data directory and log-only delivery unless configured).
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Address to listen on, e.g. 127.0.0.1:7700.
        #[arg(long)]
        listen: Option<String>,
        /// Directory for the SQLite database, the outbox and generated credentials.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// postgres://user@host/db to use PostgreSQL instead of the embedded SQLite file.
        #[arg(long)]
        database_url: Option<String>,
        /// Divide every engine duration (code expiry, lockouts, stage lengths) by N, for demos.
        #[arg(long)]
        time_scale: Option<f64>,
    },
    /// Validate the configuration (file, KLAXON_* variables) without starting.
    CheckConfig {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Bring a set-up across from another incident manager (see the README's "Moving from …").
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Discord application set-up.
    Discord {
        #[command(subcommand)]
        command: DiscordCommand,
    },
    /// Write a consistent backup of a running (or stopped) server's SQLite database, with the
    /// credentials and operator files it needs, to one file; paging goes on meanwhile.
    Backup {
        #[command(flatten)]
        target: DatabaseArgs,
        /// The backup file to write (it must not exist).
        #[arg(long)]
        to: PathBuf,
    },
    /// Unpack a backup into an empty data directory (then `serve` it).
    Restore {
        #[command(flatten)]
        config: ConfigArg,
        /// The backup file `klaxon backup` wrote.
        #[arg(long)]
        from: PathBuf,
        /// The data directory to restore into (empty unless --force).
        #[arg(long)]
        data_dir: PathBuf,
        /// Replace what the data directory holds.
        #[arg(long)]
        force: bool,
    },
    /// Schema migrations of the database.
    Migrate {
        #[command(flatten)]
        target: DatabaseArgs,
        /// Say what a start would migrate, and change nothing.
        #[arg(long)]
        check: bool,
    },
}

/// The database a command works on: the same options as `serve`.
#[derive(clap::Args)]
struct DatabaseArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    database_url: Option<String>,
}

impl DatabaseArgs {
    fn load(self) -> Result<Config, String> {
        let flags = Overrides {
            data_dir: self.data_dir,
            database_url: self.database_url,
            ..Overrides::default()
        };
        Config::load(self.config.config.as_deref(), &env, &flags).map_err(|e| e.to_string())
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn backup(config: Config, to: PathBuf) -> Result<(), String> {
    use klaxon::ops::backup;
    let db = backup::sqlite_path(&config.database_url()).map_err(|e| e.to_string())?;
    let now = klaxon::domain::clock::Clock::now_ms(&SystemClock);
    let started = std::time::Instant::now();
    let s = runtime()?
        .block_on(backup::create(&db, &config.data_dir, &to, now))
        .map_err(|e| e.to_string())?;
    println!(
        "backup written to {} ({} bytes, schema version {}, {}) in {} ms",
        to.display(),
        s.bytes,
        s.schema_version,
        s.members.join(", "),
        started.elapsed().as_millis()
    );
    Ok(())
}

fn restore(config: Config, from: PathBuf, force: bool) -> Result<(), String> {
    use klaxon::ops::backup;
    let db = backup::sqlite_path(&config.database_url()).map_err(|e| e.to_string())?;
    let s = backup::restore(&from, &config.data_dir, &db, force).map_err(|e| e.to_string())?;
    println!(
        "restored {} into {} (schema version {}, {}); start it with: klaxon serve --data-dir {}",
        from.display(),
        config.data_dir.display(),
        s.schema_version,
        s.members.join(", "),
        config.data_dir.display()
    );
    Ok(())
}

fn migrate(config: Config, check: bool) -> Result<(), String> {
    let url = config.database_url();
    let rt = runtime()?;
    let plan = rt
        .block_on(klaxon::storage::migration_plan(&url))
        .map_err(|e| e.to_string())?;
    println!("{}: {}", klaxon::storage::redact_url(&url), plan.describe());
    if !check && !plan.pending.is_empty() {
        rt.block_on(klaxon::storage::open(&url))
            .map_err(|e| e.to_string())?;
        println!("migrated to schema version {}", plan.newest_known);
    }
    Ok(())
}

/// The Klaxon an import writes into: the same options as `serve`. A server already listening
/// on that address is written through; otherwise one is started in-process for the run.
#[derive(clap::Args)]
struct TargetArgs {
    #[command(flatten)]
    config: ConfigArg,
    #[arg(long)]
    listen: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    database_url: Option<String>,
    /// Print what would be created, changed or skipped, and change nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// From AWS Incident Manager (SSM Contacts and SSM Incidents), through the AWS API.
    Aws {
        #[command(flatten)]
        target: TargetArgs,
        /// The source's Region (default: AWS_REGION, AWS_DEFAULT_REGION, the profile's, us-east-1).
        #[arg(long)]
        source_region: Option<String>,
        /// A profile of the shared credentials file (default: AWS_PROFILE, else the environment's keys).
        #[arg(long)]
        source_profile: Option<String>,
        /// Another endpoint for the source (another Klaxon, say).
        #[arg(long)]
        source_endpoint_url: Option<String>,
        /// Send fresh activation codes to channels that were activated at the source, instead of
        /// carrying their activation over.
        #[arg(long)]
        reactivate: bool,
    },
    /// From Opsgenie, through its REST API.
    Opsgenie {
        #[command(flatten)]
        target: TargetArgs,
        /// Opsgenie's API (https://api.eu.opsgenie.com for the EU instance).
        #[arg(long, default_value = klaxon::import::opsgenie_api::DEFAULT_URL)]
        api_url: String,
        /// A file holding an API integration's key (read access to users and configuration).
        #[arg(long)]
        api_key_file: PathBuf,
        /// Send fresh activation codes to enabled contact methods instead of activating them.
        #[arg(long)]
        reactivate: bool,
    },
}

async fn import_aws(
    config: Config,
    source: klaxon::import::source::SourceOptions,
    opts: klaxon::import::aws::RunOptions,
) -> Result<(), String> {
    use klaxon::import::{Report, source, target::Target};
    let src = source::connect(&source, &env).map_err(|e| e.to_string())?;
    let dst = Target::connect(&config).await.map_err(|e| e.to_string())?;
    eprintln!(
        "importing from {} ({}) into {} (account {}, {}){}",
        source.endpoint_url.as_deref().unwrap_or("AWS"),
        src.region,
        dst.endpoint,
        dst.account,
        dst.region,
        if dst.in_process() {
            "; no server was listening, so one runs in-process for the import"
        } else {
            ""
        }
    );
    let mut report = Report::new(opts.dry_run);
    klaxon::import::aws::run(&src, &dst, opts, &mut report).await;
    dst.finish().await;
    print!("{}", report.table());
    match report.failed() {
        0 => Ok(()),
        n => Err(format!(
            "{n} resource(s) could not be imported (see FAILED above)"
        )),
    }
}

async fn import_opsgenie(
    config: Config,
    api_url: String,
    key_file: PathBuf,
    opts: klaxon::import::aws::RunOptions,
) -> Result<(), String> {
    use klaxon::import::{Report, opsgenie, opsgenie_api::Api, target::Target};
    let key = std::fs::read_to_string(&key_file)
        .map_err(|e| format!("--api-key-file {}: {e}", key_file.display()))?;
    let api = Api::new(&api_url, klaxon::config::Secret::new(key.trim()));
    let dst = Target::connect(&config).await.map_err(|e| e.to_string())?;
    eprintln!(
        "importing from Opsgenie ({api_url}) into {} (account {}, {}){}",
        dst.endpoint,
        dst.account,
        dst.region,
        if dst.in_process() {
            "; no server was listening, so one runs in-process for the import"
        } else {
            ""
        }
    );
    let src = match opsgenie::read(&api).await {
        Ok(s) => s,
        Err(e) => {
            dst.finish().await;
            return Err(format!("reading Opsgenie: {e}"));
        }
    };
    let mut report = Report::new(opts.dry_run);
    opsgenie::run(&src, &dst, opts, &mut report).await;
    dst.finish().await;
    print!("{}", report.table());
    match report.failed() {
        0 => Ok(()),
        n => Err(format!(
            "{n} resource(s) could not be imported (see FAILED above)"
        )),
    }
}

#[derive(Subcommand)]
enum DiscordCommand {
    /// Register the /klaxon command and its subcommands with Discord ([discord] in the config).
    RegisterCommands {
        #[command(flatten)]
        config: ConfigArg,
    },
}

async fn register_commands(config: Config) -> Result<(), String> {
    let Some(d) = &config.discord else {
        return Err("the configuration has no [discord] section".into());
    };
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = klaxon::app::discord_client(d, std::time::Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let registered = client
        .register_commands(&klaxon::bot::discord::commands())
        .await
        .map_err(|e| e.to_string())?;
    let names: Vec<String> = registered
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(|n| format!("/{n}")))
        .collect();
    println!(
        "registered {} with Discord application {}",
        names.join(", "),
        d.application_id
    );
    Ok(())
}

/// Loads the target's configuration as `serve` would and runs one importer on it.
fn run_import<F, Fut>(target: TargetArgs, reactivate: bool, import: F) -> Result<(), String>
where
    F: FnOnce(Config, klaxon::import::aws::RunOptions) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let flags = Overrides {
        listen: target.listen,
        data_dir: target.data_dir,
        database_url: target.database_url,
        time_scale: None,
    };
    let opts = klaxon::import::aws::RunOptions {
        dry_run: target.dry_run,
        reactivate,
    };
    let config =
        Config::load(target.config.config.as_deref(), &env, &flags).map_err(|e| e.to_string())?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?
        .block_on(import(config, opts))
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// SIGHUP re-reads what can change without a restart: the TLS certificate and key.
fn reload_on_hangup(tls: Option<klaxon::tls::Reloader>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            match &tls {
                Some(t) => {
                    tracing::info!("SIGHUP: reloading the TLS certificate");
                    let _ = t.reload();
                }
                None => tracing::info!("SIGHUP: nothing to reload (no [tls])"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = tls;
}

async fn serve(config: Config) -> Result<(), String> {
    klaxon::telemetry::init(&config.log, config.log_format);
    let started = std::time::Instant::now();
    let opts = klaxon::app::Options {
        clock: Arc::new(SystemClock),
        delivery: None,
        engine_loop: true,
    };
    let running = klaxon::app::start(&config, opts)
        .await
        .map_err(|e| e.to_string())?;
    reload_on_hangup(running.tls.clone());
    if let Some(path) = &running.credentials_file {
        tracing::info!(file = %path.display(), "using generated API credentials (mode 0600); see the README to use them with aws-cli");
    }
    tracing::info!(
        listen = %running.addr,
        database = running.store.backend(),
        outbox = %running.outbox.display(),
        startup_ms = started.elapsed().as_millis() as u64,
        "klaxon is serving SSM Contacts and SSM Incidents"
    );
    running
        .run_until(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            config,
            listen,
            data_dir,
            database_url,
            time_scale,
        } => {
            let flags = Overrides {
                listen,
                data_dir,
                database_url,
                time_scale,
            };
            match Config::load(config.config.as_deref(), &env, &flags) {
                Ok(c) => tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())
                    .and_then(|rt| rt.block_on(serve(c))),
                Err(e) => Err(e.to_string()),
            }
        }
        Command::CheckConfig { config } => Config::load(
            config.config.as_deref(),
            &env,
            &Overrides::default(),
        )
        .map(|c| {
            println!(
                "configuration is valid: listen {}, database {}, {} credential(s) configured{}",
                c.listen,
                klaxon::storage::redact_url(&c.database_url()),
                c.credentials.len(),
                if c.credentials.is_empty() {
                    " (one will be generated in the data directory)"
                } else {
                    ""
                }
            );
            for g in &c.integrations {
                // The plan lives in the database; an event names a missing one in its answer.
                println!(
                    "warning: integration {} starts incidents from response plan {:?}; make sure it exists (events get an error answer until it does)",
                    g.name, g.response_plan
                );
            }
        })
        .map_err(|e| e.to_string()),
        Command::Import {
            command:
                ImportCommand::Aws {
                    target,
                    source_region,
                    source_profile,
                    source_endpoint_url,
                    reactivate,
                },
        } => {
            let source = klaxon::import::source::SourceOptions {
                region: source_region,
                profile: source_profile,
                endpoint_url: source_endpoint_url,
            };
            run_import(target, reactivate, |c, opts| import_aws(c, source, opts))
        }
        Command::Import {
            command:
                ImportCommand::Opsgenie {
                    target,
                    api_url,
                    api_key_file,
                    reactivate,
                },
        } => {
            run_import(target, reactivate, |c, opts| {
                import_opsgenie(c, api_url, api_key_file, opts)
            })
        }
        Command::Backup { target, to } => target.load().and_then(|c| backup(c, to)),
        Command::Restore {
            config,
            from,
            data_dir,
            force,
        } => DatabaseArgs {
            config,
            data_dir: Some(data_dir),
            database_url: None,
        }
        .load()
        .and_then(|c| restore(c, from, force)),
        Command::Migrate { target, check } => target.load().and_then(|c| migrate(c, check)),
        Command::Discord {
            command: DiscordCommand::RegisterCommands { config },
        } => match Config::load(config.config.as_deref(), &env, &Overrides::default()) {
            Ok(c) => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
                .and_then(|rt| rt.block_on(register_commands(c))),
            Err(e) => Err(e.to_string()),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("klaxon: {e}");
            ExitCode::FAILURE
        }
    }
}
