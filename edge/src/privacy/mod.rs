//! Privacy by construction, and saying so: what the appliance detects, publishes and keeps.

pub mod manifest;

pub use manifest::{PrivacyConfig, PrivacyManifest};
