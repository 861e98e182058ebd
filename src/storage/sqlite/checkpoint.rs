//! WAL checkpoints on a thread of their own.
//!
//! Why: SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so it
//! ran on the writer, under the write lock, on a tokio worker, and paid the copy back into the
//! database file and its fsync there: every write queued behind it, and the worker served
//! nothing else meanwhile. The writer now only signals (its WAL hook); this thread runs a
//! PASSIVE checkpoint, which never blocks writers or readers, on its own connection.

use super::super::Result;
use super::conn::Conn;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// WAL pages after which a checkpoint is asked for (SQLite's own default).
pub(crate) const THRESHOLD_PAGES: i32 = 1000;

/// WAL pages after which the writer checkpoints itself, between two groups. The WAL file
/// starts over only when a write transaction begins with every frame copied back; under
/// steady load the writer begins its next group before this thread has caught up, and the
/// file grew without bound (1.2 GB in a 6 s benchmark). The writer's own checkpoint has only
/// the frames this thread has not copied yet, and the next group starts the file over.
pub(crate) const RESET_PAGES: i32 = 4 * THRESHOLD_PAGES;

#[derive(Default)]
struct Flags {
    wanted: bool,
    stop: bool,
}

/// The writer's side: asks for a checkpoint; dropping it ends the thread.
#[derive(Clone, Default)]
pub(crate) struct Signal(Arc<(Mutex<Flags>, Condvar)>, Arc<AtomicI32>);

impl Signal {
    /// Pages in the WAL after the writer's last commit.
    pub(crate) fn wal_pages(&self) -> i32 {
        self.1.load(Ordering::Relaxed)
    }

    /// Called by the writer's WAL hook after each commit.
    pub(crate) fn committed(&self, pages: i32) {
        self.1.store(pages, Ordering::Relaxed);
        if pages >= THRESHOLD_PAGES {
            self.ask();
        }
    }

    fn ask(&self) {
        let (flags, cv) = &*self.0;
        flags.lock().unwrap_or_else(|p| p.into_inner()).wanted = true;
        cv.notify_one();
    }

    fn stop(&self) {
        let (flags, cv) = &*self.0;
        flags.lock().unwrap_or_else(|p| p.into_inner()).stop = true;
        cv.notify_one();
    }

    /// Waits until a checkpoint is wanted (true) or the store is gone (false).
    fn wait(&self) -> bool {
        let (flags, cv) = &*self.0;
        let mut f = flags.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if f.stop {
                return false;
            }
            if f.wanted {
                f.wanted = false;
                return true;
            }
            f = cv
                .wait_timeout(f, Duration::from_secs(60))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// Owned by the store; stops the checkpoint thread when the store is dropped.
pub(crate) struct Checkpointer {
    signal: Signal,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.signal.stop();
    }
}

/// Starts the thread on its own connection to `path`; the returned signal goes to the writer.
pub(crate) fn start(path: &Path) -> Result<(Checkpointer, Signal)> {
    let mut conn = Conn::open(path)?;
    let signal = Signal::default();
    let theirs = signal.clone();
    std::thread::Builder::new()
        .name("klaxon-sqlite-checkpoint".into())
        .spawn(move || {
            while theirs.wait() {
                if let Err(e) = conn.exec("PRAGMA wal_checkpoint(PASSIVE)") {
                    tracing::warn!(error = %e, "WAL checkpoint failed; the next one will try again");
                }
            }
        })
        .map_err(|e| super::super::StoreError::Migration(format!("checkpoint thread: {e}")))?;
    Ok((
        Checkpointer {
            signal: signal.clone(),
        },
        signal,
    ))
}
