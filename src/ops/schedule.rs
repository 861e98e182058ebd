//! `[backup]`: the server takes a backup of its own SQLite database every `every_minutes` into
//! `dir`, keeping the newest `keep`. A failed backup is logged and tried again at the next turn.

use super::backup;
use crate::config::BackupConfig;
use crate::domain::clock::Clock;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub async fn run(
    config: BackupConfig,
    database_url: String,
    data_dir: PathBuf,
    clock: Arc<dyn Clock>,
) {
    let db = match backup::sqlite_path(&database_url) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "[backup] does not apply to this database");
            return;
        }
    };
    let mut every = tokio::time::interval(Duration::from_secs(config.every_minutes * 60));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is at once; the first backup waits a whole period after start.
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = std::fs::create_dir_all(&config.dir) {
            tracing::error!(dir = %config.dir.display(), error = %e, "cannot create the backup directory");
            continue;
        }
        let now = clock.now_ms();
        let to = config.dir.join(backup::scheduled_name(now));
        let started = std::time::Instant::now();
        match backup::create(&db, &data_dir, &to, now).await {
            Ok(s) => {
                tracing::info!(file = %to.display(), bytes = s.bytes, ms = started.elapsed().as_millis() as u64, "backup taken");
                match backup::prune(&config.dir, config.keep) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "older backups removed"),
                    Err(e) => tracing::warn!(error = %e, "cannot remove older backups"),
                }
            }
            Err(e) => tracing::error!(file = %to.display(), error = %e, "backup failed"),
        }
    }
}
