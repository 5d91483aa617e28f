//! The disk guard: the outbox must never be what fills the appliance's disk.
//!
//! An outbox that grows until the filesystem is full takes the journal, the model updates and SQLite's
//! own WAL down with it, and the appliance stops working at the very moment it needs to keep events.
//! So when the free space under the store falls below `min_free_bytes`, the outbox stops growing: its
//! byte bound becomes what it holds now, and the usual drop policy applies (the oldest records of the
//! lowest class make room, their pages are reused by SQLite, the file does not grow). Drops made for
//! this reason are counted as `disk_low`. The free space is read at most once a second.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often the free space is read again.
const RECHECK: Duration = Duration::from_secs(1);

/// Free bytes available to this (unprivileged) process on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> Option<u64> {
    let st = rustix::fs::statvfs(path).ok()?;
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

type FreeFn = Box<dyn Fn(&Path) -> Option<u64> + Send>;

pub(crate) struct DiskGuard {
    dir: PathBuf,
    min_free: u64,
    free: FreeFn,
    checked: Option<(Instant, Option<u64>)>,
    /// Whether the last reading was below the minimum (for the log: once per episode).
    low: bool,
}

impl DiskGuard {
    pub fn new(dir: &Path, min_free: u64) -> Self {
        Self::with_probe(dir, min_free, Box::new(free_bytes))
    }

    pub fn with_probe(dir: &Path, min_free: u64, free: FreeFn) -> Self {
        Self { dir: dir.to_path_buf(), min_free, free, checked: None, low: false }
    }

    /// The last reading of the free space (None: not read yet, or unreadable).
    pub fn last_free(&self) -> Option<u64> {
        self.checked.and_then(|(_, f)| f)
    }

    pub fn is_low(&self) -> bool {
        self.low
    }

    /// Whether the outbox must stop growing now. An unreadable free space does not stop it (the
    /// failure is logged once): losing events to a broken probe would be worse.
    pub fn must_not_grow(&mut self, now: Instant) -> bool {
        if self.min_free == 0 {
            return false;
        }
        let stale = self.checked.is_none_or(|(at, _)| now.duration_since(at) >= RECHECK);
        if stale {
            let free = (self.free)(&self.dir);
            if free.is_none() && self.checked.is_none_or(|(_, f)| f.is_some()) {
                tracing::warn!(dir = %self.dir.display(), "cannot read the free disk space; the outbox disk guard is inactive");
            }
            self.checked = Some((now, free));
            let low = free.is_some_and(|f| f < self.min_free);
            if low != self.low {
                if low {
                    tracing::warn!(free_bytes = free, min_free_bytes = self.min_free, dir = %self.dir.display(),
                        "disk almost full: the outbox stops growing and drops its oldest, lowest-priority events to make room (counted as disk_low)");
                } else {
                    tracing::info!(free_bytes = free, "disk space recovered: the outbox may grow again");
                }
                self.low = low;
            }
        }
        self.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn reads_the_real_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|f| f > 0));
        assert_eq!(free_bytes(&dir.path().join("missing")), None);
    }

    #[test]
    fn low_only_below_the_minimum_and_rechecked_each_second() {
        let free = Arc::new(AtomicU64::new(10_000));
        let f = free.clone();
        let mut g = DiskGuard::with_probe(Path::new("/x"), 5_000, Box::new(move |_| Some(f.load(Ordering::Relaxed))));
        let t0 = Instant::now();
        assert!(!g.must_not_grow(t0));
        free.store(4_000, Ordering::Relaxed);
        assert!(!g.must_not_grow(t0 + Duration::from_millis(500)), "cached for a second");
        assert!(g.must_not_grow(t0 + Duration::from_millis(1000)));
        assert_eq!(g.last_free(), Some(4_000));
        free.store(6_000, Ordering::Relaxed);
        assert!(!g.must_not_grow(t0 + Duration::from_millis(2000)));
    }

    #[test]
    fn off_at_zero_and_open_when_unreadable() {
        let mut off = DiskGuard::with_probe(Path::new("/x"), 0, Box::new(|_| Some(0)));
        assert!(!off.must_not_grow(Instant::now()));
        let mut blind = DiskGuard::with_probe(Path::new("/x"), 5_000, Box::new(|_| None));
        assert!(!blind.must_not_grow(Instant::now()));
    }
}
