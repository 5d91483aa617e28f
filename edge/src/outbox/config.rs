//! Outbox bounds and durability settings (the `[outbox]` config section).

use schemars::JsonSchema;
use serde::Deserialize;

use crate::outbox::error::OutboxError;

const MIB: u64 = 1024 * 1024;

/// Bounds and durability of the outbox. Every field has a default.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Upper bound on the stored record bytes (encoded records, not the file size). Default 256 MiB.
    pub max_bytes: u64,
    /// Records older than this are dropped by `enforce_limits`. Default 7 days.
    pub max_age_s: u64,
    /// A single record (topic + payload + 31 bytes framing) larger than this is refused. Default 1 MiB.
    pub max_record_bytes: u64,
    /// When a push returns, how durable is it. Default: `batch` with 1000 ms (see the module docs
    /// for the measurement behind that choice).
    pub fsync: FsyncPolicy,
    /// What to do when a push would exceed `max_bytes`.
    pub drop_policy: DropPolicy,
    /// The disk guard: below this much free space on the store's filesystem the outbox stops growing
    /// and makes room by its drop policy instead (drops counted as `disk_low`). 0 turns it off.
    /// Default 256 MiB.
    pub min_free_bytes: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_bytes: 256 * MIB,
            max_age_s: 7 * 24 * 3600,
            max_record_bytes: MIB,
            fsync: FsyncPolicy::default(),
            drop_policy: DropPolicy::default(),
            min_free_bytes: 256 * MIB,
        }
    }
}

impl OutboxConfig {
    /// Rejects settings that would make every push fail or the age limit meaningless.
    pub fn validate(&self) -> Result<(), OutboxError> {
        let bad = |m: String| Err(OutboxError::InvalidConfig(m));
        if self.max_record_bytes == 0 || self.max_bytes == 0 {
            return bad("max_bytes and max_record_bytes must be positive".into());
        }
        if self.max_record_bytes > self.max_bytes {
            return bad(format!(
                "max_record_bytes ({}) must not exceed max_bytes ({})",
                self.max_record_bytes, self.max_bytes
            ));
        }
        if self.max_age_s == 0 {
            return bad("max_age_s must be positive".into());
        }
        if let FsyncPolicy::Batch { interval_ms: 0 } = self.fsync {
            return bad("fsync batch interval_ms must be positive (use `always` for per-push fsync)".into());
        }
        Ok(())
    }

    pub(crate) fn max_age_ms(&self) -> u64 {
        self.max_age_s.saturating_mul(1000)
    }
}

/// When a successful push is durable.
///
/// In TOML: `fsync = "always"` or `fsync = { batch = { interval_ms = 1000 } }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FsyncPolicy {
    /// fsync before each push returns: survives power loss. About 200–300 pushes/s on the
    /// reference machine (one fsync per push).
    Always,
    /// Group commit: each push is written to the OS before it returns (survives kill -9 of the
    /// daemon at any time); a background thread fsyncs every `interval_ms`, so power loss or a
    /// kernel crash loses at most about the last `interval_ms` of pushes (plus one fsync's duration).
    Batch { interval_ms: u64 },
}

impl Default for FsyncPolicy {
    fn default() -> Self {
        FsyncPolicy::Batch { interval_ms: 1000 }
    }
}

/// What a push does when the outbox is at `max_bytes`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DropPolicy {
    /// Evict the oldest records of the lowest priority first, then the next class up, never a
    /// class above the incoming record's: an incoming record that could only fit by evicting
    /// higher-priority records is dropped itself. So a near-miss is never lost to make room for a
    /// summary, and the newest high-priority event is always kept.
    #[default]
    DropOldestLowestPriority,
    /// Keep what is stored and drop the incoming record.
    RejectNew,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_deny_unknown() {
        let c: OutboxConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, OutboxConfig::default());
        c.validate().unwrap();
        assert!(serde_json::from_str::<OutboxConfig>(r#"{"max_byte": 1}"#).is_err());
        let c: OutboxConfig =
            serde_json::from_str(r#"{"fsync": {"batch": {"interval_ms": 250}}, "drop_policy": "reject_new"}"#).unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Batch { interval_ms: 250 });
        assert_eq!(c.drop_policy, DropPolicy::RejectNew);
        let c: OutboxConfig = serde_json::from_str(r#"{"fsync": "always"}"#).unwrap();
        assert_eq!(c.fsync, FsyncPolicy::Always);
        assert!(serde_json::from_str::<OutboxConfig>(r#"{"fsync": {"batch": {"interval": 5}}}"#).is_err());
        let bad = OutboxConfig { max_record_bytes: 10, max_bytes: 5, ..OutboxConfig::default() };
        assert!(bad.validate().is_err());
        let _schema = schemars::schema_for!(OutboxConfig);
    }
}
