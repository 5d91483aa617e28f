//! Privacy by construction, and saying so: what the appliance detects, publishes and keeps.
//!
//! [`redact`] is the only way from a raw frame to an image that may leave the process
//! ([`RedactedImage`]); [`snapshot`] keeps a bounded number of them on disk.

pub mod manifest;
pub mod redact;
pub mod snapshot;

pub use manifest::{PrivacyConfig, PrivacyManifest};
pub use redact::{read_label, Method, RedactError, RedactionLabel, RedactOptions, RedactedImage, RedactedRegion, RedactionInfo, Redactor, RegionKind};
pub use snapshot::{SnapshotConfig, SnapshotStore};
