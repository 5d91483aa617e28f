//! `[updates]`: which keys this device trusts, which fleet groups it belongs to, the size limits of a
//! transfer, and when a freshly activated model is rolled back.

use schemars::JsonSchema;
use serde::Deserialize;

use super::keys::{TrustStore, TrustedKey};
use super::offer::OfferLimits;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatesConfig {
    /// Listen for model updates over MQTT (needs `[mqtt]`). Off by default.
    #[serde(default)]
    pub enabled: bool,
    /// Public keys whose signatures are accepted; several at once so keys can be rotated. Each is
    /// `{ key = "<the .pub file's text or its base64 line>", id = "<optional key id, checked>" }`.
    #[serde(default)]
    #[schemars(with = "Vec<TrustedKeySchema>")]
    pub trusted_keys: Vec<TrustedKey>,
    /// Fleet groups this device takes offers for (`<prefix>/groups/<group>/update/offer`), besides its
    /// own `<prefix>/<device>/update/offer`.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Largest bundle accepted, MiB.
    #[serde(default = "default_max_bundle_mib")]
    pub max_bundle_mib: u64,
    /// After the swap, the new model is watched this long and rolled back if it degrades.
    #[serde(default = "default_watch_s")]
    pub watch_s: f64,
    #[serde(default)]
    pub rollback: RollbackPolicy,
}

/// Schema stand-in for [`TrustedKey`] (which lives with the key code).
#[derive(JsonSchema)]
#[allow(dead_code)]
struct TrustedKeySchema {
    key: String,
    id: Option<String>,
}

/// When the watch window rolls a new model back. Rates are compared with what the previous model did
/// on the same cameras before the swap.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackPolicy {
    /// Failed inference calls over all calls, above which the new model is rolled back.
    pub max_error_rate: f64,
    /// Mean inference time of the new model over the old one's, above which it is rolled back.
    pub max_latency_ratio: f64,
    /// Detections per frame of the new model over the old one's, below which it is rolled back
    /// (only judged when the old model found at least `min_baseline_detections` per frame).
    pub min_detection_ratio: f64,
    pub min_baseline_detections: f64,
    /// Frames the new model must have inferred before the window can pass or fail on rates.
    pub min_frames: u64,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        Self { max_error_rate: 0.1, max_latency_ratio: 4.0, min_detection_ratio: 0.3, min_baseline_detections: 0.5, min_frames: 20 }
    }
}

fn default_max_bundle_mib() -> u64 {
    512
}
fn default_watch_s() -> f64 {
    60.0
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            trusted_keys: Vec::new(),
            groups: Vec::new(),
            max_bundle_mib: default_max_bundle_mib(),
            watch_s: default_watch_s(),
            rollback: RollbackPolicy::default(),
        }
    }
}

impl UpdatesConfig {
    pub fn trust_store(&self) -> Result<TrustStore, super::UpdateError> {
        TrustStore::from_config(&self.trusted_keys)
    }

    pub fn offer_limits(&self) -> OfferLimits {
        OfferLimits { max_bundle_bytes: self.max_bundle_mib.saturating_mul(1 << 20), ..OfferLimits::default() }
    }

    /// Every problem, each naming its field.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !self.enabled {
            return p;
        }
        match self.trust_store() {
            Ok(t) if t.is_empty() => p.push("updates.trusted_keys: no key configured, so no update could ever be accepted".into()),
            Ok(_) => {}
            Err(e) => p.push(format!("updates.trusted_keys: {e}")),
        }
        for g in &self.groups {
            if !super::names::is_valid_name(g) {
                p.push(format!("updates.groups: `{g}` must be 1-64 letters, digits, `-` or `_`"));
            }
        }
        if self.max_bundle_mib == 0 {
            p.push("updates.max_bundle_mib must be at least 1".into());
        }
        if !(self.watch_s.is_finite() && self.watch_s >= 0.0) {
            p.push(format!("updates.watch_s must be zero or positive, got {}", self.watch_s));
        }
        let r = &self.rollback;
        for (name, v) in [("max_error_rate", r.max_error_rate), ("max_latency_ratio", r.max_latency_ratio), ("min_detection_ratio", r.min_detection_ratio), ("min_baseline_detections", r.min_baseline_detections)] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!("updates.rollback.{name} must be zero or positive, got {v}"));
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> UpdatesConfig {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn validation_names_each_problem() {
        assert!(parse("").validate().is_empty(), "off by default, nothing to check");
        let p = parse("enabled = true").validate();
        assert!(p.iter().any(|m| m.contains("no key configured")), "{p:?}");
        let p = parse("enabled = true\ngroups = [\"bus es\"]\nwatch_s = -1\nmax_bundle_mib = 0\n[[trusted_keys]]\nkey = \"not base64!\"").validate();
        for want in ["updates.trusted_keys", "`bus es`", "watch_s", "max_bundle_mib"] {
            assert!(p.iter().any(|m| m.contains(want)), "{want} missing in {p:?}");
        }
        assert!(toml::from_str::<UpdatesConfig>("enabled = true\nsurprise = 1").is_err(), "unknown fields are refused");
        let limits = parse("max_bundle_mib = 3").offer_limits();
        assert_eq!(limits.max_bundle_bytes, 3 << 20);
    }
}
