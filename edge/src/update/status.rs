//! The update status a device publishes (retained) on `<prefix>/<device>/update/status`, so the fleet
//! operator sees where each device is and why an update was refused, without logging into it.
//!
//! ```json
//! {"format":"kaiteki-update-status-v1","device":"pole-17","model":"people","version":"2.0.0",
//!  "digest":"<64 hex>","state":"receiving","progress":{"have":3,"total":10},"at":"2025-01-01T00:00:00Z"}
//! ```

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::update::error::UpdateError;
use crate::update::offer::Offer;

/// Value of `format`.
pub const STATUS_FORMAT: &str = "kaiteki-update-status-v1";

/// Where an update is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpdateState {
    /// Chunks are arriving (see `progress`).
    Receiving,
    /// The assembled bundle is being checked (digest, signature, contents, self-test).
    Verifying,
    /// Checked and ready to swap in.
    Staged,
    /// Running.
    Active,
    /// Swapped in, then taken out again (e.g. failed health checks); `previous_version` is running.
    RolledBack,
    /// Refused; `reason` says why.
    Rejected,
}

/// `have` of `total` chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusProgress {
    pub have: u32,
    pub total: u32,
}

/// The status message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Status {
    pub format: String,
    pub device: String,
    pub model: String,
    pub version: String,
    pub digest: String,
    pub state: UpdateState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<StatusProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl Status {
    /// A status about `offer`, stamped now.
    pub fn for_offer(device: &str, offer: &Offer, state: UpdateState) -> Status {
        Status {
            format: STATUS_FORMAT.to_string(),
            device: device.to_string(),
            model: offer.model.clone(),
            version: offer.version.to_string(),
            digest: offer.digest_hex(),
            state,
            reason: None,
            progress: None,
            previous_version: None,
            at: OffsetDateTime::now_utc(),
        }
    }

    /// Adds the reason (typically an [`UpdateError`]'s message).
    pub fn with_reason(mut self, reason: impl Into<String>) -> Status {
        self.reason = Some(reason.into());
        self
    }

    /// Adds transfer progress.
    pub fn with_progress(mut self, have: u32, total: u32) -> Status {
        self.progress = Some(StatusProgress { have, total });
        self
    }

    /// Adds the version that was running before (or is running again after a rollback).
    pub fn with_previous_version(mut self, version: impl Into<String>) -> Status {
        self.previous_version = Some(version.into());
        self
    }

    /// The topic: `<prefix>/<device>/update/status`.
    pub fn topic(prefix: &str, device: &str) -> String {
        format!("{prefix}/{device}/update/status")
    }

    /// The JSON payload.
    pub fn to_json(&self) -> String {
        // Strings, integers and an RFC 3339 time in 0000..=9999 cannot fail to serialise; fall back to an
        // empty object rather than panic.
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_string())
    }

    /// Parses a status payload (for tools and tests).
    pub fn parse(bytes: &[u8]) -> Result<Status, UpdateError> {
        let status: Status = serde_json::from_slice(bytes).map_err(|e| UpdateError::Invalid(format!("status message: {e}")))?;
        if status.format != STATUS_FORMAT {
            return Err(UpdateError::Invalid(format!("status message: format is {:?}, expected {STATUS_FORMAT}", status.format)));
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::keys::{generate, sign_digest, KeyId};
    use crate::update::offer::Target;

    #[test]
    fn roundtrip() {
        let key = generate().unwrap();
        let offer = Offer {
            model: "people".into(),
            version: semver::Version::new(2, 0, 0),
            digest: [1; 32],
            size: 10,
            chunk_size: 10,
            chunks: 1,
            key_id: KeyId::of(&key.verifying_key()),
            signature: sign_digest(&key, &[1; 32]),
            allow_downgrade: false,
            target: Target::Device("pole-17".into()),
        };
        let mut s = Status::for_offer("pole-17", &offer, UpdateState::RolledBack)
            .with_reason("bad signature by key 0123456789abcdef")
            .with_progress(1, 1)
            .with_previous_version("1.0.0");
        s.at = time::macros::datetime!(2025-01-02 03:04:05 UTC);
        let json = s.to_json();
        assert!(json.contains("\"state\":\"rolled_back\""), "{json}");
        assert!(json.contains("\"at\":\"2025-01-02T03:04:05Z\""), "{json}");
        assert_eq!(Status::parse(json.as_bytes()).unwrap(), s);
        let bare = Status { reason: None, progress: None, previous_version: None, ..s };
        assert!(!bare.to_json().contains("reason"));
        assert_eq!(Status::topic("k", "pole-17"), "k/pole-17/update/status");
        assert!(Status::parse(br#"{"format":"x"}"#).is_err());
    }
}
