//! Per-device event sequence numbers: strictly increasing across restarts and, unless the machine
//! itself went down, without gaps, so a consumer can tell a lost event from a restart.
//!
//! The outbox writer assigns the numbers, one at a time in storage order, and the outbox records the
//! last number stored in the same transaction as its event ([`Outbox::push_event`]). Separately,
//! blocks of numbers are reserved durably (fsynced) in `<state>/seq`, with the boot id and, after a
//! clean stop, the exact next number. At start:
//!
//! * **clean stop**: resume at the recorded next number;
//! * **kill -9, panic or OOM in this boot**: the outbox's last stored number is exact (its commit is
//!   in the page cache, which outlived the process), so resume right after it. Numbers handed out
//!   after it never reached the disk, so no consumer can have seen them;
//! * **power loss or kernel crash** (unclean stop in an earlier boot): the outbox may have lost its
//!   newest commits, which may have been published already, so resume after the reserved block. The
//!   numbers in between are reported as possibly missing ([`SeqAllocator::skipped`], logged), and
//!   no number is ever issued twice.
//!
//! [`Outbox::push_event`]: crate::outbox::Outbox::push_event

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;

const BLOCK: u64 = 1024;
const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";

/// What `<state>/seq` says. Old files hold only the reserved end.
#[derive(Debug, Default, PartialEq)]
struct SeqFile {
    reserved: u64,
    boot: Option<String>,
    /// Present only after a clean stop: the next number to issue.
    next: Option<u64>,
}

impl SeqFile {
    fn parse(text: &str) -> Result<SeqFile, String> {
        let mut f = SeqFile::default();
        for token in text.split_whitespace() {
            let (key, value) = token.split_once('=').unwrap_or(("reserved", token));
            let number = || value.parse::<u64>().map_err(|e| format!("{key} = {value:?} is not a sequence number: {e}"));
            match key {
                "reserved" => f.reserved = number()?,
                "next" => f.next = Some(number()?),
                "boot" => f.boot = Some(value.to_string()),
                _ => return Err(format!("unknown entry {token:?}")),
            }
        }
        Ok(f)
    }

    fn render(&self) -> String {
        let mut s = format!("reserved={}", self.reserved);
        if let Some(b) = &self.boot {
            s += &format!(" boot={b}");
        }
        if let Some(n) = self.next {
            s += &format!(" next={n}");
        }
        s
    }
}

struct State {
    next: u64,
    reserved: u64,
}

pub struct SeqAllocator {
    state: Mutex<State>,
    file: Option<PathBuf>,
    boot: Option<String>,
    skipped: Option<Range<u64>>,
}

impl SeqAllocator {
    /// Opens (or creates) the counter file in `state_dir`. `last_stored`: the outbox's
    /// [`last_event_seq`](crate::outbox::Outbox::last_event_seq).
    pub fn open(state_dir: &Path, last_stored: Option<u64>) -> std::io::Result<Self> {
        let boot = std::fs::read_to_string(BOOT_ID).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        Self::open_in_boot(state_dir, last_stored, boot)
    }

    fn open_in_boot(state_dir: &Path, last_stored: Option<u64>, boot: Option<String>) -> std::io::Result<Self> {
        std::fs::create_dir_all(state_dir)?;
        let path = state_dir.join("seq");
        let file = match std::fs::read_to_string(&path) {
            Ok(s) => SeqFile::parse(&s).map_err(|e| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => SeqFile { next: Some(0), ..SeqFile::default() },
            Err(e) => return Err(e),
        };
        let after_stored = last_stored.map_or(0, |l| l.saturating_add(1));
        let same_boot = boot.is_some() && file.boot == boot;
        let (start, skipped) = match (file.next, last_stored) {
            (Some(next), _) => (next.max(after_stored), None),
            (None, Some(_)) if same_boot => (after_stored, None),
            (None, _) => {
                let start = file.reserved.max(after_stored);
                (start, (after_stored < start).then(|| after_stored..start))
            }
        };
        if let Some(r) = &skipped {
            tracing::warn!(
                from = r.start,
                to = r.end - 1,
                "the previous run did not stop cleanly and the machine restarted since: event numbers \
                 in this range may be missing (published before a power loss, or never used)"
            );
        }
        let alloc = Self { state: Mutex::new(State { next: start, reserved: start }), file: Some(path), boot, skipped };
        alloc.reserve(&mut alloc.state.lock(), start + BLOCK)?;
        Ok(alloc)
    }

    /// A counter that is not persisted (tests, `kaiteki detect`).
    pub fn in_memory() -> Self {
        Self { state: Mutex::new(State { next: 0, reserved: u64::MAX }), file: None, boot: None, skipped: None }
    }

    /// Numbers that may be missing because the previous run ended with the machine (see the module docs).
    pub fn skipped(&self) -> Option<Range<u64>> {
        self.skipped.clone()
    }

    fn write(&self, contents: &SeqFile) -> std::io::Result<()> {
        let Some(file) = &self.file else { return Ok(()) };
        let tmp = file.with_extension("tmp");
        let mut f = std::fs::File::create(&tmp)?;
        writeln!(f, "{}", contents.render())?;
        f.sync_all()?;
        std::fs::rename(&tmp, file)?;
        if let Some(dir) = file.parent() {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    }

    fn reserve(&self, state: &mut State, end: u64) -> std::io::Result<()> {
        self.write(&SeqFile { reserved: end, boot: self.boot.clone(), next: None })?;
        state.reserved = end;
        Ok(())
    }

    pub fn next(&self) -> u64 {
        let mut state = self.state.lock();
        let n = state.next;
        state.next += 1;
        if state.next >= state.reserved {
            if let Err(e) = self.reserve(&mut state, n + 1 + BLOCK) {
                // Continue: numbers stay monotonic within this process; only monotonicity after a power
                // loss is at risk, and the operator is told.
                tracing::error!(error = %e, "cannot persist the event sequence counter");
                state.reserved = state.next;
            }
        }
        n
    }

    /// Records a clean stop: the next run continues at the next number, without a gap. Call after the
    /// last event was stored.
    pub fn close(&self) -> std::io::Result<()> {
        let state = self.state.lock();
        self.write(&SeqFile { reserved: state.reserved, boot: self.boot.clone(), next: Some(state.next) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path, last: Option<u64>, boot: &str) -> SeqAllocator {
        SeqAllocator::open_in_boot(dir, last, Some(boot.to_string())).unwrap()
    }

    fn take(a: &SeqAllocator, n: usize) -> Vec<u64> {
        (0..n).map(|_| a.next()).collect()
    }

    #[test]
    fn a_clean_stop_continues_without_a_gap() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(dir.path(), None, "b1");
        let first = take(&a, 2000);
        assert_eq!(first, (0..2000).collect::<Vec<_>>());
        a.close().unwrap();
        // Even in another boot, and with the outbox's record behind (acks are not what it tracks).
        let b = open(dir.path(), Some(1500), "b2");
        assert_eq!(b.next(), 2000);
        assert_eq!(b.skipped(), None);
    }

    #[test]
    fn a_kill_in_the_same_boot_resumes_after_the_last_stored_number() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(dir.path(), None, "b1");
        take(&a, 1500);
        drop(a); // no close(): killed. 1499 was handed out but the outbox only stored up to 1497.
        let b = open(dir.path(), Some(1497), "b1");
        assert_eq!(b.next(), 1498);
        assert_eq!(b.skipped(), None);
    }

    #[test]
    fn a_power_loss_skips_the_reserved_block_and_reports_it() {
        let dir = tempfile::tempdir().unwrap();
        let a = open(dir.path(), None, "b1");
        take(&a, 1500);
        drop(a);
        // After the power cut the outbox rolled back to 1400, but 1401..1499 may have been published.
        let b = open(dir.path(), Some(1400), "b2");
        let n = b.next();
        assert!(n >= 1500, "a number that may have been published is issued again: {n}");
        assert_eq!(b.skipped(), Some(1401..n));
        // Unknown boot ids count as another boot.
        drop(b);
        let c = SeqAllocator::open_in_boot(dir.path(), Some(n), None).unwrap();
        assert!(c.next() > n);
    }

    #[test]
    fn old_single_number_files_are_read_as_the_reserved_end() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("seq"), "4096\n").unwrap();
        let a = open(dir.path(), Some(3000), "b1");
        assert_eq!(a.next(), 4096);
    }

    #[test]
    fn monotonic_across_many_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let mut last = None;
        for round in 0..6u64 {
            let a = open(dir.path(), last, if round % 2 == 0 { "b1" } else { "b2" });
            let got = take(&a, 700);
            if let Some(l) = last {
                assert!(got[0] > l, "round {round}: {} after {l}", got[0]);
            }
            assert!(got.windows(2).all(|w| w[1] == w[0] + 1));
            last = got.last().copied();
            if round % 3 == 0 {
                a.close().unwrap();
            }
        }
    }

    #[test]
    fn garbage_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("seq"), "banana").unwrap();
        let err = SeqAllocator::open(dir.path(), None).err().unwrap();
        assert!(err.to_string().contains("not a sequence number"), "{err}");
    }
}
