//! Group commit for `FsyncPolicy::Batch`: a background thread that checkpoints the WAL every
//! `interval_ms` through its own connection.
//!
//! A checkpoint fsyncs the WAL (making every commit so far power-loss durable) and copies it into
//! the main file. Doing that here keeps the fsync, and the page copy, off the push path: in WAL
//! mode a checkpointer never blocks the writer. This is the one place the outbox reads a real
//! clock; nothing in the tests depends on it.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::outbox::error::{store, OutboxError};

#[derive(Default)]
struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    failures: AtomicU64,
}

pub(crate) struct Syncer {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

fn checkpoint(conn: &Connection, shared: &Shared) {
    // PASSIVE: never waits for the writer; frames committed meanwhile go in the next round.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
        shared.failures.fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "outbox group-commit checkpoint failed; will retry");
    }
}

impl Syncer {
    /// Opens the second connection here so a failure surfaces from `Outbox::open`.
    pub fn spawn(path: &Path, interval: Duration) -> Result<Syncer, OutboxError> {
        let conn = Connection::open(path).map_err(store("open the sync connection"))?;
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("outbox-sync".into())
            .spawn(move || {
                let s = &*thread_shared;
                let mut stopped = s.stop.lock().unwrap_or_else(|p| p.into_inner());
                loop {
                    // A stop requested while we were checkpointing must not wait a full interval.
                    if !*stopped {
                        stopped = s.wake.wait_timeout(stopped, interval).unwrap_or_else(|p| p.into_inner()).0;
                    }
                    let last = *stopped;
                    drop(stopped);
                    checkpoint(&conn, s);
                    if last {
                        return;
                    }
                    stopped = s.stop.lock().unwrap_or_else(|p| p.into_inner());
                }
            })
            .map_err(|source| OutboxError::SpawnSyncer { source })?;
        Ok(Syncer { shared, handle: Some(handle) })
    }

    /// Checkpoints that failed so far.
    pub fn failures(&self) -> u64 {
        self.shared.failures.load(Ordering::Relaxed)
    }
}

impl Drop for Syncer {
    /// Stops the thread after one last checkpoint.
    fn drop(&mut self) {
        *self.shared.stop.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
        if let Some(h) = self.handle.take() {
            if h.join().is_err() {
                tracing::error!("outbox sync thread panicked");
            }
        }
    }
}
