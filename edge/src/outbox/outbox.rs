//! [`Outbox`]: the thread-safe handle, with the bookkeeping the store does not do for us
//! (per-class counters, in-flight set, eviction decisions, drop accounting).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::outbox::config::{DropPolicy, FsyncPolicy, OutboxConfig};
use crate::outbox::disk::DiskGuard;
use crate::outbox::error::{store, OutboxError};
use crate::outbox::record::{decode_record, encode_record, encoded_len, OutboxRecord, Priority, RecordError, MAX_TOPIC_LEN};
use crate::outbox::stats::{DropCounters, DropReason, DropReport, OutboxStats, PerPriority, PushOutcome};
use crate::outbox::store::{is_corruption, RowMeta, Store};
use crate::outbox::syncer::Syncer;

/// File name of the store inside the outbox directory.
pub const STORE_FILE: &str = "outbox.sqlite";

/// Whether [`Outbox::peek_batch`] returns records that are checked out (in flight).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InFlight {
    /// Everything stored, in delivery order.
    Include,
    /// Only records not currently checked out.
    Exclude,
}

/// A durable, bounded, priority-ordered queue of MQTT publications. See the module docs.
pub struct Outbox {
    cfg: OutboxConfig,
    path: PathBuf,
    /// Group-commit thread (`Batch` only).
    syncer: Option<Syncer>,
    inner: Mutex<Inner>,
}

struct Inner {
    store: Store,
    next_id: u64,
    depth: PerPriority<u64>,
    bytes: PerPriority<u64>,
    /// (id, enqueued_at_ms) of each class's oldest record; refreshed from the store when it leaves.
    oldest: PerPriority<Option<(u64, u64)>>,
    in_flight: HashMap<u64, Priority>,
    disk: DiskGuard,
    dropped: DropCounters,
    refused_oversize: u64,
    store_files_quarantined: u64,
}

impl Inner {
    fn total_bytes(&self) -> u64 {
        self.bytes.total()
    }

    /// Accounts for rows that left the store; `reason` None means acknowledged.
    fn forget(&mut self, rows: &[RowMeta], reason: Option<DropReason>) -> Result<(), OutboxError> {
        let mut touched = [false; 3];
        for m in rows {
            self.in_flight.remove(&m.id);
            let p = u8::try_from(m.priority_code).ok().and_then(Priority::from_code);
            if let Some(p) = p {
                let d = self.depth.get_mut(p);
                *d = d.saturating_sub(1);
                let b = self.bytes.get_mut(p);
                *b = b.saturating_sub(m.size);
                if self.oldest.get(p).is_some_and(|(id, _)| id == m.id) {
                    touched[p.index()] = true;
                }
            }
            if let Some(reason) = reason {
                // Rows with an unknown class are counted as low: they could never be delivered anyway.
                *self.dropped.get_mut(reason).get_mut(p.unwrap_or(Priority::Low)) += 1;
            }
        }
        for p in Priority::DELIVERY_ORDER {
            if touched[p.index()] {
                *self.oldest.get_mut(p) = self.store.oldest(p).map_err(store("find the oldest record"))?;
            }
        }
        Ok(())
    }

    fn quarantine(&mut self, meta: RowMeta, err: &RecordError) -> Result<(), OutboxError> {
        tracing::error!(id = meta.id, error = %err, "corrupt outbox record moved to quarantine; it will not be delivered");
        self.store.set_full_sync(false).map_err(store("set sync mode"))?;
        self.store.quarantine(meta.id, &err.to_string()).map_err(store("quarantine a corrupt record"))?;
        self.forget(&[meta], Some(DropReason::Corrupt))
    }

    fn sync_now(&mut self) -> Result<(), OutboxError> {
        self.store.checkpoint().map_err(store("fsync (checkpoint)"))
    }
}

fn row_matches(rec: &OutboxRecord, meta: &RowMeta) -> Result<(), RecordError> {
    let checks: [(&'static str, u64, u64); 3] = [
        ("id", rec.id, meta.id),
        ("priority", rec.priority.code() as u64, meta.priority_code.max(0) as u64),
        ("enqueued_at_ms", rec.enqueued_at_ms.min(i64::MAX as u64), meta.enqueued_at_ms),
    ];
    for (field, in_record, in_store) in checks {
        if in_record != in_store {
            return Err(RecordError::RowMismatch { field, in_record, in_store });
        }
    }
    Ok(())
}

/// Opens the store, moving an unreadable file aside (and starting empty) rather than failing:
/// the daemon must keep running and keep new events even if the disk mangled old ones.
fn open_store(path: &Path, autocheckpoint_pages: u32) -> Result<(Store, u64), OutboxError> {
    match Store::open(path, autocheckpoint_pages) {
        Ok(s) => Ok((s, 0)),
        Err(e) if is_corruption(&e) => {
            let mut n = 0u32;
            let aside = loop {
                let candidate = path.with_extension(format!("sqlite.corrupt-{n}"));
                if !candidate.exists() {
                    break candidate;
                }
                n += 1;
            };
            tracing::error!(path = %path.display(), aside = %aside.display(), error = %e,
                "outbox store is corrupt; moving it aside and starting an empty outbox");
            std::fs::rename(path, &aside).map_err(|source| OutboxError::QuarantineStore { path: path.into(), source })?;
            for suffix in ["-wal", "-shm"] {
                let side = PathBuf::from(format!("{}{suffix}", path.display()));
                if side.exists() {
                    let to = PathBuf::from(format!("{}{suffix}", aside.display()));
                    std::fs::rename(&side, to).map_err(|source| OutboxError::QuarantineStore { path: side, source })?;
                }
            }
            Ok((Store::open(path, autocheckpoint_pages).map_err(store("open a fresh store"))?, 1))
        }
        Err(e) => Err(OutboxError::Store { op: "open the store", source: e }),
    }
}

impl Outbox {
    /// Opens (creating `dir` and the store if needed) and recovers whatever was committed before a
    /// crash; unacknowledged records become deliverable again.
    pub fn open(dir: &Path, cfg: OutboxConfig) -> Result<Outbox, OutboxError> {
        cfg.validate()?;
        std::fs::create_dir_all(dir).map_err(|source| OutboxError::CreateDir { path: dir.into(), source })?;
        let path = dir.join(STORE_FILE);
        // Always: SQLite's default (1000 pages, ~4 MiB). Batch: the sync thread checkpoints; a
        // commit only does it inline if the WAL reaches 64 MiB (sync thread stuck or failing).
        let autocheckpoint_pages = match cfg.fsync {
            FsyncPolicy::Always => 1000,
            FsyncPolicy::Batch { .. } => 16_384,
        };
        let (opened, store_files_quarantined) = open_store(&path, autocheckpoint_pages)?;
        let mut inner = Inner {
            store: opened,
            next_id: 0,
            depth: PerPriority::default(),
            bytes: PerPriority::default(),
            oldest: PerPriority::default(),
            in_flight: HashMap::new(),
            disk: DiskGuard::new(dir, cfg.min_free_bytes),
            dropped: DropCounters::default(),
            refused_oversize: 0,
            store_files_quarantined,
        };
        inner.store.set_full_sync(false).map_err(store("set sync mode"))?;
        for meta in inner.store.rows_with_unknown_priority().map_err(store("scan for invalid rows"))? {
            let err = RecordError::UnknownPriority(meta.priority_code.clamp(0, 255) as u8);
            inner.quarantine(meta, &err)?;
        }
        for p in Priority::DELIVERY_ORDER {
            let (count, bytes) = inner.store.totals(p).map_err(store("count records"))?;
            *inner.depth.get_mut(p) = count;
            *inner.bytes.get_mut(p) = bytes;
            *inner.oldest.get_mut(p) = inner.store.oldest(p).map_err(store("find the oldest record"))?;
        }
        let next = inner.store.next_id().map_err(store("read the id sequence"))?;
        inner.next_id = u64::try_from(next).map_err(|_| OutboxError::IdSpaceExhausted)?;
        tracing::info!(path = %path.display(), records = inner.depth.total(), bytes = inner.total_bytes(),
            next_id = inner.next_id, "outbox opened");
        let syncer = match cfg.fsync {
            FsyncPolicy::Always => None,
            FsyncPolicy::Batch { interval_ms } => Some(Syncer::spawn(&path, Duration::from_millis(interval_ms))?),
        };
        Ok(Outbox { cfg, path, syncer, inner: Mutex::new(inner) })
    }

    /// The store file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn config(&self) -> &OutboxConfig {
        &self.cfg
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the store half-written (every change is one
        // SQLite transaction), so keep going with the data rather than poisoning the daemon.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Appends a record. When this returns `Stored`, the record is committed: durable against
    /// kill -9 always, and against power loss immediately (`Always`) or within `interval_ms`
    /// (`Batch`). May evict older, lower-or-equal-priority records to stay within `max_bytes`.
    pub fn push(
        &self,
        priority: Priority,
        topic: &str,
        payload: &[u8],
        retain: bool,
        now_ms: u64,
    ) -> Result<PushOutcome, OutboxError> {
        self.push_with_seq(priority, topic, payload, retain, now_ms, None)
    }

    /// [`push`](Self::push) for an event carrying sequence number `seq`: a stored record also
    /// records `seq` as [`last_event_seq`](Self::last_event_seq), atomically with the record, so
    /// after a kill -9 the numbering resumes right after the last event that reached the disk.
    pub fn push_event(&self, priority: Priority, topic: &str, payload: &[u8], now_ms: u64, seq: u64) -> Result<PushOutcome, OutboxError> {
        self.push_with_seq(priority, topic, payload, false, now_ms, Some(seq))
    }

    /// The sequence number of the newest event stored by [`push_event`](Self::push_event), even if
    /// it was delivered and deleted since; None for a new (or quarantined) store.
    pub fn last_event_seq(&self) -> Result<Option<u64>, OutboxError> {
        self.lock().store.last_seq().map_err(store("read the last event sequence number"))
    }

    fn push_with_seq(
        &self,
        priority: Priority,
        topic: &str,
        payload: &[u8],
        retain: bool,
        now_ms: u64,
        seq: Option<u64>,
    ) -> Result<PushOutcome, OutboxError> {
        let size = encoded_len(topic.len(), payload.len());
        let mut inner = self.lock();
        if topic.len() > MAX_TOPIC_LEN {
            inner.refused_oversize += 1;
            return Err(OutboxError::TopicTooLong { len: topic.len() });
        }
        if size > self.cfg.max_record_bytes {
            inner.refused_oversize += 1;
            return Err(OutboxError::RecordTooLarge { size, max: self.cfg.max_record_bytes });
        }
        // The disk guard: when the disk is almost full, the outbox may not grow past what it holds.
        let disk_low = inner.disk.must_not_grow(std::time::Instant::now());
        let limit = if disk_low { self.cfg.max_bytes.min(inner.total_bytes()) } else { self.cfg.max_bytes };
        let reason = if disk_low && limit < self.cfg.max_bytes { DropReason::DiskLow } else { DropReason::Full };
        let over = (inner.total_bytes() + size).saturating_sub(limit);
        let evict = if over == 0 {
            Vec::new()
        } else {
            let candidates = match self.cfg.drop_policy {
                DropPolicy::RejectNew => Vec::new(),
                DropPolicy::DropOldestLowestPriority => {
                    inner.store.eviction_candidates(priority, over).map_err(store("choose records to evict"))?
                }
            };
            if candidates.iter().map(|m| m.size).sum::<u64>() < over {
                // Only higher classes (or nothing) could make room: the incoming record loses.
                *inner.dropped.get_mut(reason).get_mut(priority) += 1;
                tracing::warn!(?priority, topic, ?reason, "outbox full: dropping the incoming record");
                return Ok(PushOutcome::Dropped);
            }
            candidates
        };
        let id = inner.next_id;
        if id > i64::MAX as u64 {
            return Err(OutboxError::IdSpaceExhausted);
        }
        let body = encode_record(id, priority, topic, payload, retain, now_ms);
        let meta = RowMeta { id, priority_code: priority.code() as i64, size, enqueued_at_ms: now_ms.min(i64::MAX as u64) };
        inner.store.set_full_sync(self.cfg.fsync == FsyncPolicy::Always).map_err(store("set sync mode"))?;
        inner.store.insert(meta, &body, &evict, seq).map_err(store("append a record"))?;
        inner.next_id = id + 1;
        *inner.depth.get_mut(priority) += 1;
        *inner.bytes.get_mut(priority) += size;
        if inner.oldest.get(priority).is_none() {
            *inner.oldest.get_mut(priority) = Some((id, meta.enqueued_at_ms));
        }
        if !evict.is_empty() {
            tracing::warn!(evicted = evict.len(), "outbox full: evicted the oldest lowest-priority records");
        }
        inner.forget(&evict, Some(reason))?;
        Ok(PushOutcome::Stored { id, evicted: evict.len() as u64 })
    }

    /// Up to `max` records in delivery order (class High, Normal, Low; push order within a class)
    /// without changing anything except that corrupt records met on the way are quarantined.
    pub fn peek_batch(&self, max: usize, in_flight: InFlight) -> Result<Vec<OutboxRecord>, OutboxError> {
        self.fetch(max, in_flight == InFlight::Exclude, false)
    }

    /// Like `peek_batch(max, InFlight::Exclude)`, and marks the returned records in flight, so the
    /// publisher can keep a window of unacknowledged publications while pushes continue. In-flight
    /// state is memory only: after a restart every unacknowledged record is delivered again.
    pub fn checkout_batch(&self, max: usize) -> Result<Vec<OutboxRecord>, OutboxError> {
        self.fetch(max, true, true)
    }

    fn fetch(&self, max: usize, exclude_in_flight: bool, mark: bool) -> Result<Vec<OutboxRecord>, OutboxError> {
        let mut inner = self.lock();
        let mut out = Vec::with_capacity(max.min(1024));
        for p in Priority::DELIVERY_ORDER {
            let skipped_here = if exclude_in_flight { inner.in_flight.values().filter(|q| **q == p).count() } else { 0 };
            let mut cursor = 0u64;
            while out.len() < max {
                // Ask for enough rows to step over this class's in-flight ones in one query.
                let limit = (max - out.len()).saturating_add(skipped_here).min(4096);
                let rows = inner.store.page(p, cursor, limit).map_err(store("read records"))?;
                let Some(last) = rows.last() else { break };
                cursor = last.meta.id;
                for row in rows {
                    if out.len() >= max {
                        break;
                    }
                    if exclude_in_flight && inner.in_flight.contains_key(&row.meta.id) {
                        continue;
                    }
                    match decode_record(&row.body).and_then(|r| row_matches(&r, &row.meta).map(|()| r)) {
                        Ok(rec) => out.push(rec),
                        Err(e) => inner.quarantine(row.meta, &e)?,
                    }
                }
            }
        }
        if mark {
            for r in &out {
                inner.in_flight.insert(r.id, r.priority);
            }
        }
        Ok(out)
    }

    /// The broker acknowledged `id`: delete it. Acking an unknown id (already acked, evicted or
    /// expired) is not an error. Not fsynced by itself: a lost ack only causes a redelivery.
    pub fn ack(&self, id: u64) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        inner.in_flight.remove(&id);
        inner.store.set_full_sync(false).map_err(store("set sync mode"))?;
        match inner.store.delete(id).map_err(store("delete an acknowledged record"))? {
            Some(meta) => inner.forget(&[meta], None),
            None => {
                tracing::debug!(id, "ack for a record no longer in the outbox");
                Ok(())
            }
        }
    }

    /// Acks several ids in one transaction (cheaper than one `ack` each).
    pub fn ack_many(&self, ids: &[u64]) -> Result<(), OutboxError> {
        let mut inner = self.lock();
        for id in ids {
            inner.in_flight.remove(id);
        }
        inner.store.set_full_sync(false).map_err(store("set sync mode"))?;
        let gone = inner.store.delete_many(ids).map_err(store("delete acknowledged records"))?;
        inner.forget(&gone, None)
    }

    /// Publishing `id` failed (or will not be confirmed): make it deliverable again.
    pub fn release(&self, id: u64) {
        self.lock().in_flight.remove(&id);
    }

    /// The connection dropped: everything checked out becomes deliverable again.
    pub fn release_all(&self) {
        self.lock().in_flight.clear();
    }

    /// Drops records older than `max_age_s` and, if the store is above `max_bytes` (e.g. the limit
    /// was lowered), the oldest lowest-priority records until it fits. Call periodically.
    pub fn enforce_limits(&self, now_ms: u64) -> Result<DropReport, OutboxError> {
        let mut inner = self.lock();
        let mut report = DropReport::default();
        inner.store.set_full_sync(false).map_err(store("set sync mode"))?;
        if let Some(cutoff) = now_ms.checked_sub(self.cfg.max_age_ms()) {
            let expired = inner.store.delete_enqueued_before(cutoff).map_err(store("drop expired records"))?;
            tally(&mut report, &expired, DropReason::Expired);
            if !expired.is_empty() {
                tracing::warn!(dropped = expired.len(), "outbox: dropped records older than max_age_s");
            }
            inner.forget(&expired, Some(DropReason::Expired))?;
        }
        let over = inner.total_bytes().saturating_sub(self.cfg.max_bytes);
        if over > 0 {
            let victims = inner.store.eviction_candidates(Priority::High, over).map_err(store("choose records to evict"))?;
            let ids: Vec<u64> = victims.iter().map(|m| m.id).collect();
            let gone = inner.store.delete_many(&ids).map_err(store("evict records"))?;
            tally(&mut report, &gone, DropReason::Full);
            tracing::warn!(dropped = gone.len(), "outbox: over max_bytes, evicted the oldest lowest-priority records");
            inner.forget(&gone, Some(DropReason::Full))?;
        }
        Ok(report)
    }

    /// Makes everything committed so far durable now (e.g. at shutdown; `Drop` does it too).
    pub fn flush(&self) -> Result<(), OutboxError> {
        self.lock().sync_now()
    }

    pub fn stats(&self) -> OutboxStats {
        let inner = self.lock();
        let oldest = Priority::DELIVERY_ORDER.iter().filter_map(|p| inner.oldest.get(*p).map(|(_, t)| t)).min();
        OutboxStats {
            records: inner.depth.total(),
            bytes: inner.total_bytes(),
            depth: inner.depth,
            bytes_by_priority: inner.bytes,
            oldest_enqueued_at_ms: oldest,
            in_flight: inner.in_flight.len() as u64,
            dropped: inner.dropped,
            corrupt: inner.dropped.corrupt.total(),
            refused_oversize: inner.refused_oversize,
            store_files_quarantined: inner.store_files_quarantined,
            sync_failures: self.syncer.as_ref().map_or(0, Syncer::failures),
            disk_free_bytes: inner.disk.last_free(),
            disk_low: inner.disk.is_low(),
        }
    }

    /// Replaces the disk guard's free-space probe (tests simulate a filling disk).
    #[cfg(test)]
    pub(crate) fn set_disk_probe(&self, min_free: u64, probe: Box<dyn Fn(&Path) -> Option<u64> + Send>) {
        let dir = self.path.parent().unwrap_or(Path::new(".")).to_path_buf();
        self.lock().disk = DiskGuard::with_probe(&dir, min_free, probe);
    }

    #[cfg(test)]
    pub(crate) fn with_store<R>(&self, f: impl FnOnce(&Store) -> R) -> R {
        f(&self.lock().store)
    }
}

fn tally(report: &mut DropReport, rows: &[RowMeta], reason: DropReason) {
    for m in rows {
        let p = u8::try_from(m.priority_code).ok().and_then(Priority::from_code).unwrap_or(Priority::Low);
        let slot = match reason {
            DropReason::Expired => &mut report.expired,
            _ => &mut report.full,
        };
        *slot.get_mut(p) += 1;
        report.bytes_freed += m.size;
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        // The sync thread does a last checkpoint and stops; then one more through the writer.
        drop(self.syncer.take());
        if let Err(e) = self.lock().sync_now() {
            tracing::error!(error = %e, "outbox: final fsync at close failed");
        }
    }
}

const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Outbox>();
};
