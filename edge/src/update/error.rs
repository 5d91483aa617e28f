//! The update error type. Every message is written to be shown verbatim as the `reason` of a
//! `rejected` status (see `status.rs`), so each names the offending key, file, field or value.

use std::io;
use std::path::{Path, PathBuf};

use crate::update::chunk::ChunkError;
use crate::update::offer::OfferError;

/// Why an update step failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// A file system operation failed; `context` says what was being done to which path.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },

    // ---- keys and trust ----
    /// A key file or key text does not start with the expected header line.
    #[error("{what}: wrong header: expected `{expected}`, found {found}")]
    KeyHeader { what: String, expected: &'static str, found: String },
    /// The key line is not valid base64.
    #[error("{what}: bad base64: {reason}")]
    KeyBase64 { what: String, reason: String },
    /// The decoded key has the wrong number of bytes.
    #[error("{what}: key is {got} bytes, expected {expected}")]
    KeyLength { what: String, got: usize, expected: usize },
    /// The bytes do not form a usable Ed25519 public key.
    #[error("{what}: not a valid Ed25519 public key: {reason}")]
    KeyInvalid { what: String, reason: String },
    /// `write_keypair` never replaces an existing key.
    #[error("refusing to overwrite existing key file {}", .0.display())]
    KeyExists(PathBuf),
    /// The operating system's random source failed while generating a key.
    #[error("random number generator failed: {0}")]
    Random(String),
    /// A configured trusted key's `id` does not match the key itself (a copy-paste error, most likely).
    #[error("trusted key id {given} does not match its key (the key's id is {computed})")]
    TrustedKeyIdMismatch { given: String, computed: String },
    /// The same key is configured twice.
    #[error("trusted key {0} is configured more than once")]
    DuplicateTrustedKey(String),
    /// Signed by a key this device does not trust.
    #[error("signature by unknown key {0}")]
    UnknownKey(String),
    /// The signature does not verify with the named (trusted) key.
    #[error("bad signature by key {0}")]
    BadSignature(String),
    /// The detached signature file is malformed.
    #[error("signature file: {0}")]
    SignatureFile(String),

    // ---- digests and versions ----
    /// The bundle's sha256 differs from the digest that was signed or offered.
    #[error("digest mismatch: {claimed_by} says {expected}, bundle is {actual}")]
    DigestMismatch { claimed_by: &'static str, expected: String, actual: String },
    /// The reassembled transfer does not hash to the offered digest (the store is reset).
    #[error("assembled bundle digest mismatch: offer says {expected}, assembled file is {actual}")]
    AssembledDigestMismatch { expected: String, actual: String },
    /// `finish` was called before every chunk arrived.
    #[error("transfer incomplete: {have} of {total} chunks received")]
    Incomplete { have: u32, total: u32 },
    /// The offered version is older than the installed one and the offer does not allow a downgrade.
    #[error("downgrade from {from} to {to} refused (allow_downgrade not set)")]
    Downgrade { from: String, to: String },

    // ---- bundle contents ----
    /// A file or the whole bundle exceeds the configured limits.
    #[error("bundle too large: {what} is {size} bytes, limit {limit}")]
    BundleTooLarge { what: String, size: u64, limit: u64 },
    /// The bundle lists or contains more files than allowed.
    #[error("bundle has too many files: {count}, limit {limit}")]
    TooManyFiles { count: usize, limit: usize },
    /// A path that could escape the extraction folder or is otherwise not allowed.
    #[error("unsafe path in bundle: {0}")]
    UnsafePath(String),
    /// A tar entry that is not a regular file (symlink, hard link, device, directory, ...).
    #[error("unsupported entry in bundle: {path} is a {kind} (only regular files are allowed)")]
    UnsupportedEntry { path: String, kind: String },
    /// A tar entry that bundle.toml does not list.
    #[error("file in bundle is not listed in bundle.toml: {0}")]
    UnlistedFile(String),
    /// A file bundle.toml lists but the tar does not contain.
    #[error("file listed in bundle.toml is missing from the bundle: {0}")]
    MissingFile(String),
    /// The same path appears twice (in the tar or in bundle.toml).
    #[error("duplicate file in bundle: {0}")]
    DuplicateFile(String),
    /// A file's size differs from bundle.toml.
    #[error("size mismatch for {path}: bundle.toml says {listed} bytes, file is {actual}")]
    FileSizeMismatch { path: String, listed: u64, actual: u64 },
    /// A file's sha256 differs from bundle.toml.
    #[error("sha256 mismatch for {path}: bundle.toml says {listed}, file is {actual}")]
    FileDigestMismatch { path: String, listed: String, actual: String },
    /// bundle.toml is missing, not first, malformed or has an invalid field.
    #[error("bundle.toml: {0}")]
    BundleMeta(String),
    /// The model manifest is unusable (for packing or inside a bundle).
    #[error("model manifest {path}: {reason}")]
    Manifest { path: String, reason: String },
    /// The self-test set is malformed or references missing frames.
    #[error("selftest: {0}")]
    SelfTest(String),
    /// Bad arguments to pack, keygen or the receiver (not input from the network).
    #[error("invalid input: {0}")]
    Invalid(String),

    // ---- transfer ----
    /// The offer message is invalid.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// A chunk message is invalid.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
}

impl UpdateError {
    /// An I/O error with what was being done and to which path.
    pub fn io(what: &str, path: &Path, source: io::Error) -> Self {
        UpdateError::Io { context: format!("{what} {}", path.display()), source }
    }
}

/// `map_err` shorthand: `file.read(..).map_err(io_at("reading", &path))?`.
pub(crate) fn io_at<'a>(what: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> UpdateError + 'a {
    move |e| UpdateError::io(what, path, e)
}
