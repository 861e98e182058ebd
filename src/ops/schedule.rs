//! `[backup]`: the server takes a backup of its own SQLite database every `every_minutes` into
//! `dir`, keeping the newest `keep`. A failed backup is logged and tried again at the next turn.

use super::backup::{self, BackupError};
use crate::config::BackupConfig;
use crate::domain::clock::Clock;
use std::path::{Path, PathBuf};
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
        let started = std::time::Instant::now();
        match take(&config, &db, &data_dir, clock.now_ms()).await {
            Ok((to, bytes, removed)) => tracing::info!(
                file = %to.display(),
                bytes,
                removed,
                ms = started.elapsed().as_millis() as u64,
                "backup taken"
            ),
            Err(e) => tracing::error!(dir = %config.dir.display(), error = %e, "backup failed"),
        }
    }
}

/// One scheduled backup: the file written, its size, and how many older ones were removed.
pub async fn take(
    config: &BackupConfig,
    db: &Path,
    data_dir: &Path,
    now_ms: i64,
) -> Result<(PathBuf, u64, usize), BackupError> {
    std::fs::create_dir_all(&config.dir).map_err(|source| BackupError::Io {
        path: config.dir.display().to_string(),
        source,
    })?;
    let to = config.dir.join(backup::scheduled_name(now_ms));
    let s = backup::create(db, data_dir, &to, now_ms).await?;
    let removed = backup::prune(&config.dir, config.keep)?;
    Ok((to, s.bytes, removed))
}
