//! Signed model updates: bundles, detached signatures, the MQTT offer/chunk transfer, resumable reception,
//! version policy, self-test expectations and the status report.
//!
//! The trust chain, in the order the device must apply it:
//!
//! 1. [`offer::Offer::parse`] strictly validates the retained offer (size limits, chunking, names) and
//!    [`offer::Offer::verify_signature`] checks its Ed25519 signature over the bundle digest with the
//!    [`keys::TrustStore`] *before a single chunk is fetched*.
//! 2. [`chunk::Chunk::decode`] checks each chunk against the offer (index, length, per-chunk sha256) and
//!    [`receive::Receiver`] stores it durably, so a transfer survives disconnects and reboots.
//! 3. [`receive::Receiver::finish`] checks the assembled file's sha256 against the offer digest.
//! 4. [`bundle::verify_file`] recomputes the digest and checks the signature once more on the file itself.
//! 5. Only then [`bundle::unpack`] extracts it (safe paths, size limits, per-file sha256), and
//!    [`version::check_version`] decides between upgrade, reinstall and (refused) downgrade.
//!
//! [`agent`] is the daemon side: it takes offers and chunks over MQTT, stages bundles ([`install`]),
//! swaps them in through `runtime::hot_swap`, watches them and rolls them back; [`installed`] keeps
//! what each model slot runs across restarts.

pub mod agent;
pub mod bundle;
pub mod chunk;
pub mod config;
pub mod error;
pub mod event;
pub mod install;
pub mod installed;
pub mod keys;
pub mod names;
pub mod offer;
pub mod receive;
pub mod requirements;
pub mod selftest;
pub mod status;
pub mod version;

pub use error::UpdateError;

#[cfg(test)]
mod tests;
