//! Counters the daemon exports as metrics and in its health event.

use serde::Serialize;

use crate::outbox::record::Priority;

/// One value per priority class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PerPriority<T> {
    pub high: T,
    pub normal: T,
    pub low: T,
}

impl<T> PerPriority<T> {
    pub fn get(&self, p: Priority) -> &T {
        match p {
            Priority::High => &self.high,
            Priority::Normal => &self.normal,
            Priority::Low => &self.low,
        }
    }

    pub fn get_mut(&mut self, p: Priority) -> &mut T {
        match p {
            Priority::High => &mut self.high,
            Priority::Normal => &mut self.normal,
            Priority::Low => &mut self.low,
        }
    }
}

impl PerPriority<u64> {
    pub fn total(&self) -> u64 {
        self.high + self.normal + self.low
    }
}

/// Why a record left the outbox without being acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// `max_bytes` reached (evicted, or the incoming record itself was dropped).
    Full,
    /// Older than `max_age_s`.
    Expired,
    /// Failed its checksum or format check; moved to the quarantine table.
    Corrupt,
    /// Made room while the disk guard held the outbox at its size (free space below `min_free_bytes`).
    DiskLow,
}

/// Drop counters since `Outbox::open` (monotonic within a process, like any metric counter).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DropCounters {
    pub full: PerPriority<u64>,
    pub expired: PerPriority<u64>,
    /// Corrupt records found while reading; the priority is the store row's when it is valid,
    /// `low` otherwise.
    pub corrupt: PerPriority<u64>,
    pub disk_low: PerPriority<u64>,
}

impl DropCounters {
    pub fn get_mut(&mut self, reason: DropReason) -> &mut PerPriority<u64> {
        match reason {
            DropReason::Full => &mut self.full,
            DropReason::Expired => &mut self.expired,
            DropReason::Corrupt => &mut self.corrupt,
            DropReason::DiskLow => &mut self.disk_low,
        }
    }
}

/// A snapshot of the outbox.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    /// Records stored (including in-flight ones).
    pub records: u64,
    /// Encoded record bytes stored; what `max_bytes` bounds.
    pub bytes: u64,
    pub depth: PerPriority<u64>,
    pub bytes_by_priority: PerPriority<u64>,
    /// `enqueued_at_ms` of the oldest stored record, if any.
    pub oldest_enqueued_at_ms: Option<u64>,
    /// Records handed out by `checkout_batch` and not yet acked or released.
    pub in_flight: u64,
    pub dropped: DropCounters,
    /// Corrupt records found since open (sum of `dropped.corrupt`).
    pub corrupt: u64,
    /// Pushes refused because a single record exceeded `max_record_bytes` (or the topic limit).
    pub refused_oversize: u64,
    /// Times `open` found an unreadable store file and moved it aside (0 or 1 per process).
    pub store_files_quarantined: u64,
    /// Group-commit checkpoints that failed (`Batch` only); each is retried next interval.
    pub sync_failures: u64,
    /// Free bytes on the store's filesystem at the last check (None: not checked or unreadable).
    pub disk_free_bytes: Option<u64>,
    /// The disk guard holds the outbox at its size (see `min_free_bytes`).
    pub disk_low: bool,
}

impl OutboxStats {
    /// Age of the oldest stored record at `now_ms` (0 if the clock is behind it).
    pub fn oldest_age_ms(&self, now_ms: u64) -> Option<u64> {
        self.oldest_enqueued_at_ms.map(|t| now_ms.saturating_sub(t))
    }
}

/// What one push or `enforce_limits` call dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DropReport {
    pub expired: PerPriority<u64>,
    pub full: PerPriority<u64>,
    pub bytes_freed: u64,
}

impl DropReport {
    pub fn total(&self) -> u64 {
        self.expired.total() + self.full.total()
    }
}

/// Result of a push that did not fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored under `id`; `evicted` older records were dropped to make room (counted in stats).
    Stored { id: u64, evicted: u64 },
    /// The outbox is full of records this one may not displace; it was dropped (counted in stats
    /// as `Full` at its priority).
    Dropped,
}

impl PushOutcome {
    pub fn id(&self) -> Option<u64> {
        match self {
            PushOutcome::Stored { id, .. } => Some(*id),
            PushOutcome::Dropped => None,
        }
    }
}
