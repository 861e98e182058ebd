//! The single write connection, its lock, and group commit.
//!
//! Each logical transaction is a savepoint inside a physical transaction. When it commits
//! while other writers are queued for the lock, it releases its savepoint and waits: the
//! physical COMMIT is issued by the last writer of the group (the one that finds nobody
//! waiting, or the group full), and only then is every member answered. So a write is
//! acknowledged only after the commit that holds it, and a burst of writers pays one COMMIT.
//!
//! The invariant that keeps a group from being stranded: while a physical transaction is open
//! and the lock is free, `waiting` counts someone who will take the lock. A writer counts
//! itself before it queues and uncounts itself once it holds the lock; a queued writer that
//! is cancelled hands its count to a task that takes the lock in its place and finishes.

use super::super::{Result, StoreError};
use super::conn::Conn;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

/// Transactions sharing one physical commit, at most: bounds how long the first waits.
const MAX_GROUP: usize = 32;

type Ack = oneshot::Sender<std::result::Result<(), (i32, String)>>;

pub(crate) struct State {
    pub(crate) conn: Conn,
    /// A physical transaction is open (BEGIN IMMEDIATE issued, COMMIT not yet).
    open: bool,
    /// Logical transactions whose savepoints were released into the open one.
    pending: Vec<Ack>,
}

#[derive(Clone)]
pub(crate) struct Writer {
    state: Arc<Mutex<State>>,
    waiting: Arc<AtomicUsize>,
}

/// Holds the lock with a savepoint open; dropping it rolls the savepoint back.
pub(crate) struct Held {
    guard: Option<OwnedMutexGuard<State>>,
    waiting: Arc<AtomicUsize>,
}

/// A writer's place in the queue; uncounted by whoever ends up holding the lock for it.
struct Queued {
    writer: Option<Writer>,
}

impl Drop for Queued {
    fn drop(&mut self) {
        let Some(w) = self.writer.take() else {
            return;
        };
        // Cancelled while queued: take the lock in its place, so an open group still ends.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let mut g = w.state.clone().lock_owned().await;
                w.waiting.fetch_sub(1, Ordering::SeqCst);
                finish_if_last(&mut g, &w.waiting);
            });
        } else {
            w.waiting.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn sqlite_err(e: &StoreError) -> (i32, String) {
    match e {
        StoreError::Sqlite { code, message } => (*code, message.clone()),
        other => (-1, other.to_string()),
    }
}

/// Commits the open physical transaction when nobody else will: answers the group.
fn finish_if_last(g: &mut State, waiting: &AtomicUsize) -> Option<Result<()>> {
    if !g.open || (waiting.load(Ordering::SeqCst) > 0 && g.pending.len() < MAX_GROUP) {
        return None;
    }
    Some(commit_group(g))
}

fn commit_group(g: &mut State) -> Result<()> {
    g.open = false;
    let done = if g.conn.autocommit() {
        // SQLite rolled the physical transaction back by itself (an I/O error, a full disk).
        Err(StoreError::Sqlite {
            code: -1,
            message: "the transaction was rolled back by the database".into(),
        })
    } else {
        g.conn.exec("COMMIT").inspect_err(|_| {
            let _ = g.conn.exec("ROLLBACK");
        })
    };
    let answer = done.as_ref().map(|_| ()).map_err(sqlite_err);
    for ack in g.pending.drain(..) {
        let _ = ack.send(answer.clone());
    }
    g.conn.checkpoint_if_long();
    done
}

impl Writer {
    pub(crate) fn new(conn: Conn) -> Writer {
        Writer {
            state: Arc::new(Mutex::new(State {
                conn,
                open: false,
                pending: Vec::new(),
            })),
            waiting: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Waits for the lock and opens a savepoint (and a physical transaction if none is open).
    pub(crate) async fn begin(&self) -> Result<Held> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut queued = Queued {
            writer: Some(self.clone()),
        };
        let guard = self.state.clone().lock_owned().await;
        queued.writer = None;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        let mut held = Held {
            guard: Some(guard),
            waiting: self.waiting.clone(),
        };
        let g = held.state();
        if g.open && g.conn.autocommit() {
            // The open group was lost to an error inside SQLite; its members learn it now.
            let _ = commit_group(g);
        }
        if !g.open {
            if let Err(e) = g.conn.exec("BEGIN IMMEDIATE") {
                held.guard = None;
                return Err(e);
            }
            g.open = true;
        }
        if let Err(e) = g.conn.exec("SAVEPOINT w") {
            let g = held.guard.take();
            if let Some(mut g) = g {
                finish_if_last(&mut g, &self.waiting);
            }
            return Err(e);
        }
        Ok(held)
    }
}

impl Held {
    pub(crate) fn state(&mut self) -> &mut State {
        self.guard.as_mut().expect("held until commit or drop")
    }

    pub(crate) fn conn(&mut self) -> &mut Conn {
        &mut self.state().conn
    }

    /// Releases the savepoint and returns once a physical commit holding it has succeeded.
    pub(crate) async fn commit(mut self) -> Result<()> {
        self.conn().exec("RELEASE w")?;
        let mut g = self.guard.take().expect("held until commit or drop");
        if let Some(done) = finish_if_last(&mut g, &self.waiting) {
            return done;
        }
        let (ack, answer) = oneshot::channel();
        g.pending.push(ack);
        drop(g);
        match answer.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err((code, message))) => Err(StoreError::Sqlite { code, message }),
            Err(_) => Err(StoreError::Sqlite {
                code: -1,
                message: "the group commit was abandoned".into(),
            }),
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(mut g) = self.guard.take() else {
            return;
        };
        let undone = g
            .conn
            .exec("ROLLBACK TO w")
            .and_then(|_| g.conn.exec("RELEASE w"));
        if undone.is_err() {
            // The savepoint could not be undone alone: nothing of the group is committed.
            let _ = g.conn.exec("ROLLBACK");
            let _ = commit_group(&mut g);
        }
        finish_if_last(&mut g, &self.waiting);
    }
}
