//! The shared, cheap-to-read current GNSS state: the source task writes, event producers and the
//! dashboard read.
//!
//! Freshness is decided at read time, not write time: a fix that was perfect when it arrived is
//! [`NoFix::Stale`] once it is older than `max_age`, so a receiver that dies or a cable that falls
//! out can never leave its last position attached to new damage reports.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::assembler::{Counters, EpochOutcome};
use super::fix::{FixQuality, GnssFix, NoFix};

/// Default maximum age of a fix handed out as current.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(2);

#[derive(Debug, Default)]
struct Inner {
    /// The source has an open device/connection/file.
    connected: bool,
    source: String,
    last_sentence_at: Option<SystemTime>,
    /// Latest epoch outcome and when it was received (system clock of this machine).
    last: Option<(SystemTime, Result<GnssFix, NoFix>)>,
    counters: Counters,
}

/// Cloneable handle to the current GNSS state (an `Arc<RwLock<..>>`; reads take the lock for a
/// few field copies only).
#[derive(Debug, Clone)]
pub struct GnssHandle {
    inner: Arc<RwLock<Inner>>,
    max_age: Duration,
}

/// Coarse state for the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GnssState {
    NoReceiver,
    NoData,
    NoFix,
    Fix,
    Stale,
}

/// Serialisable summary for the dashboard and the HTTP API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GnssStatus {
    pub state: GnssState,
    /// Human-readable reason when `state` is not `fix`.
    pub reason: Option<String>,
    pub source: String,
    pub connected: bool,
    pub quality: Option<FixQuality>,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    pub uncertainty_m: Option<f64>,
    pub last_sentence_age_ms: Option<u64>,
    pub last_fix_age_ms: Option<u64>,
    pub counters: Counters,
}

impl GnssHandle {
    /// A handle with nothing received yet; `current` says [`NoFix::NoReceiver`] until a source
    /// connects.
    pub fn new(max_age: Duration) -> Self {
        Self { inner: Arc::new(RwLock::new(Inner::default())), max_age }
    }

    pub fn max_age(&self) -> Duration {
        self.max_age
    }

    // A poisoned lock only means a writer panicked mid-update of plain data; the data is still
    // usable, and refusing to read it would turn one bug into a dead geotagger.
    fn read<R>(&self, f: impl FnOnce(&Inner) -> R) -> R {
        let g = self.inner.read().unwrap_or_else(|p| p.into_inner());
        f(&g)
    }

    fn write<R>(&self, f: impl FnOnce(&mut Inner) -> R) -> R {
        let mut g = self.inner.write().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Source side: the device/connection is open (`true`) or lost (`false`).
    pub fn set_connected(&self, connected: bool, source: &str) {
        self.write(|i| {
            i.connected = connected;
            if i.source != source {
                i.source = source.to_string();
            }
        });
    }

    /// Source side: a line arrived (valid or not) and the counters after it.
    pub fn note_line(&self, now: SystemTime, counters: &Counters) {
        self.write(|i| {
            i.last_sentence_at = Some(now);
            if i.counters != *counters {
                i.counters = counters.clone();
            }
        });
    }

    /// Source side: an epoch was assembled.
    pub fn publish(&self, outcome: EpochOutcome, now: SystemTime) {
        self.write(|i| i.last = Some((now, outcome.fix)));
    }

    /// The fix to attach to an event happening at `now`, or why there is none. Never returns a
    /// fix received more than `max_age` before `now`. If the system clock jumped backwards by more
    /// than `max_age` since the fix arrived, the fix is treated as stale too (its age cannot be
    /// trusted).
    pub fn current(&self, now: SystemTime) -> Result<GnssFix, NoFix> {
        self.read(|i| {
            let Some((at, last)) = &i.last else {
                return Err(if i.connected { NoFix::NoData } else { NoFix::NoReceiver });
            };
            match age(*at, now, self.max_age) {
                Some(_) => last.clone(),
                None if !i.connected => Err(NoFix::NoReceiver),
                None if last.is_ok() => Err(NoFix::Stale { age_ms: age_ms(*at, now) }),
                None => Err(NoFix::NoData),
            }
        })
    }

    /// Summary for the dashboard.
    pub fn status(&self, now: SystemTime) -> GnssStatus {
        let current = self.current(now);
        self.read(|i| {
            let state = match &current {
                Ok(_) => GnssState::Fix,
                Err(NoFix::NoReceiver) => GnssState::NoReceiver,
                Err(NoFix::Stale { .. }) => GnssState::Stale,
                Err(NoFix::NoData) => GnssState::NoData,
                Err(_) => GnssState::NoFix,
            };
            let fix = current.as_ref().ok();
            GnssStatus {
                state,
                reason: current.as_ref().err().map(|e| e.to_string()),
                source: i.source.clone(),
                connected: i.connected,
                quality: fix.map(|f| f.quality),
                satellites: fix.and_then(|f| f.satellites),
                hdop: fix.and_then(|f| f.hdop),
                uncertainty_m: fix.map(|f| f.uncertainty_m),
                last_sentence_age_ms: i.last_sentence_at.map(|t| age_ms(t, now)),
                last_fix_age_ms: match &i.last {
                    Some((t, Ok(_))) => Some(age_ms(*t, now)),
                    _ => None,
                },
                counters: i.counters.clone(),
            }
        })
    }
}

/// Age of something received at `at`, if it is still within `max_age` (a clock step backwards of
/// up to `max_age` is tolerated as age zero).
fn age(at: SystemTime, now: SystemTime, max_age: Duration) -> Option<Duration> {
    match now.duration_since(at) {
        Ok(d) if d <= max_age => Some(d),
        Ok(_) => None,
        Err(e) if e.duration() <= max_age => Some(Duration::ZERO),
        Err(_) => None,
    }
}

fn age_ms(at: SystemTime, now: SystemTime) -> u64 {
    let d = now.duration_since(at).unwrap_or_else(|e| e.duration());
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
