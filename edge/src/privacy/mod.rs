//! Privacy by construction, and saying so: what the appliance detects, publishes and keeps.
//!
//! [`redact`] is the only way from a raw frame to an image that may leave the process
//! ([`RedactedImage`]).

pub mod manifest;
pub mod redact;

pub use manifest::{PrivacyConfig, PrivacyManifest};
pub use redact::{Method, RedactError, RedactOptions, RedactedImage, RedactedRegion, RedactionInfo, Redactor, RegionKind};
