//! Per-device monotonic sequence numbers that survive restarts.
//!
//! Numbers are reserved in blocks: before handing out numbers of a block, the block's end is written
//! durably to `<state>/seq`. After a crash the next process starts after the reserved end, so numbers
//! never repeat or go back (a gap of at most one block is the price of not writing per event).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

const BLOCK: u64 = 1024;

pub struct SeqAllocator {
    next: AtomicU64,
    reserved_end: Mutex<u64>,
    file: Option<PathBuf>,
}

impl SeqAllocator {
    /// Opens (or creates) the counter file in `state_dir`.
    pub fn open(state_dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(state_dir)?;
        let file = state_dir.join("seq");
        let start = match std::fs::read_to_string(&file) {
            Ok(s) => s.trim().parse::<u64>().map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: not a sequence number: {e}", file.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        let alloc = Self { next: AtomicU64::new(start), reserved_end: Mutex::new(start), file: Some(file) };
        alloc.reserve(start + BLOCK)?;
        Ok(alloc)
    }

    /// A counter that is not persisted (tests, `kaiteki detect`).
    pub fn in_memory() -> Self {
        Self { next: AtomicU64::new(0), reserved_end: Mutex::new(u64::MAX), file: None }
    }

    fn reserve(&self, end: u64) -> std::io::Result<()> {
        let mut reserved = self.reserved_end.lock();
        if let Some(file) = &self.file {
            let tmp = file.with_extension("tmp");
            let mut f = std::fs::File::create(&tmp)?;
            writeln!(f, "{end}")?;
            f.sync_all()?;
            std::fs::rename(&tmp, file)?;
        }
        *reserved = end;
        Ok(())
    }

    pub fn next(&self) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let reserved = *self.reserved_end.lock();
        if n + 1 >= reserved {
            if let Err(e) = self.reserve(n + 1 + BLOCK) {
                // Continue: numbers stay monotonic within this process; only crash-restart monotonicity is
                // at risk, and the operator is told.
                tracing::error!(error = %e, "cannot persist the event sequence counter");
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let a = SeqAllocator::open(dir.path()).unwrap();
        let first: Vec<u64> = (0..2000).map(|_| a.next()).collect();
        assert!(first.windows(2).all(|w| w[1] == w[0] + 1));
        drop(a);
        let b = SeqAllocator::open(dir.path()).unwrap();
        assert!(b.next() > *first.last().unwrap());
    }

    #[test]
    fn garbage_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("seq"), "banana").unwrap();
        let err = SeqAllocator::open(dir.path()).err().unwrap();
        assert!(err.to_string().contains("not a sequence number"), "{err}");
    }
}
