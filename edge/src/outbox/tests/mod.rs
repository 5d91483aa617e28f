//! Outbox tests against a real store in a temp dir.

mod api;
mod corrupt;
mod crash;
mod limits;

use std::path::Path;

use crate::outbox::{FsyncPolicy, InFlight, Outbox, OutboxConfig, OutboxRecord, Priority, PushOutcome};

pub(super) const T0: u64 = 1_700_000_000_000;

pub(super) fn batch_cfg() -> OutboxConfig {
    OutboxConfig { fsync: FsyncPolicy::Batch { interval_ms: 1000 }, ..OutboxConfig::default() }
}

pub(super) fn open(dir: &Path) -> Outbox {
    Outbox::open(dir, batch_cfg()).expect("open outbox")
}

/// Pushes a record whose payload names it, returning the assigned id.
pub(super) fn push(ob: &Outbox, p: Priority, tag: &str, now_ms: u64) -> u64 {
    match ob.push(p, &format!("t/{tag}"), tag.as_bytes(), false, now_ms).expect("push") {
        PushOutcome::Stored { id, .. } => id,
        PushOutcome::Dropped => panic!("push of {tag} was dropped"),
    }
}

pub(super) fn ids(recs: &[OutboxRecord]) -> Vec<u64> {
    recs.iter().map(|r| r.id).collect()
}

pub(super) fn tags(recs: &[OutboxRecord]) -> Vec<String> {
    recs.iter().map(|r| String::from_utf8_lossy(&r.payload).into_owned()).collect()
}

pub(super) fn all(ob: &Outbox) -> Vec<OutboxRecord> {
    ob.peek_batch(usize::MAX, InFlight::Include).expect("peek")
}
