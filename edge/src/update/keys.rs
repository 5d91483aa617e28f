//! Ed25519 keys for signing model bundles: generation, the key file formats, key ids and the trust store.
//!
//! Key files are small text files with a versioned header so a key can never be mistaken for another kind
//! of secret, and so that a public key pasted into the daemon config is recognisable:
//!
//! ```text
//! kaiteki-ed25519-private-v1        kaiteki-ed25519-public-v1
//! <base64 32-byte seed>             <base64 32-byte key>
//! ```
//!
//! What is signed is never the raw bundle digest but [`SIGNING_DOMAIN`] followed by the 32-byte sha256 of
//! the whole bundle file, so a signature made with these keys cannot be replayed as a signature over
//! anything else (another protocol, another kind of file).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::update::error::{io_at, UpdateError};
use crate::update::names::{clip, is_lower_hex, is_valid_name};

/// First line of a private key file.
pub const PRIVATE_HEADER: &str = "kaiteki-ed25519-private-v1";
/// First line of a public key file.
pub const PUBLIC_HEADER: &str = "kaiteki-ed25519-public-v1";
/// Domain separation prefix of every signed message (see the module docs).
pub const SIGNING_DOMAIN: &[u8] = b"kaiteki-model-bundle-v1\0";
/// Key files are tiny; anything larger is not a key file (and is not read into memory).
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Short identifier of a public key: the first 8 bytes of sha256(public key bytes), shown as 16 lowercase
/// hex characters. Carried in signatures and offers so the device can pick the key (and report which key
/// it does not know) without trying every trusted key.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        let hash = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&hash[..8]);
        KeyId(id)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = String;

    /// Parses exactly 16 lowercase hex characters.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !is_lower_hex(s, 16) {
            return Err(format!("key id {} is not 16 lowercase hex characters", clip(s)));
        }
        let mut id = [0u8; 8];
        hex::decode_to_slice(s, &mut id).map_err(|e| format!("key id {}: {e}", clip(s)))?;
        Ok(KeyId(id))
    }
}

/// Generates a new signing key from the operating system's random source.
pub fn generate() -> Result<SigningKey, UpdateError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| UpdateError::Random(e.to_string()))?;
    let key = SigningKey::from_bytes(&seed);
    // Best effort: do not leave the seed on the stack longer than needed.
    seed.fill(0);
    Ok(key)
}

/// The message that is actually signed: [`SIGNING_DOMAIN`] ++ digest.
pub fn signed_message(digest: &[u8; 32]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(SIGNING_DOMAIN.len() + 32);
    msg.extend_from_slice(SIGNING_DOMAIN);
    msg.extend_from_slice(digest);
    msg
}

/// Signs a bundle digest (domain-separated).
pub fn sign_digest(key: &SigningKey, digest: &[u8; 32]) -> Signature {
    key.sign(&signed_message(digest))
}

/// Text of a private key file.
pub fn private_key_text(key: &SigningKey) -> String {
    format!("{PRIVATE_HEADER}\n{}\n", B64.encode(key.to_bytes()))
}

/// Text of a public key file.
pub fn public_key_text(key: &VerifyingKey) -> String {
    format!("{PUBLIC_HEADER}\n{}\n", B64.encode(key.as_bytes()))
}

/// Splits key file text into its header and its single base64 line; tolerant of CRLF and trailing blank
/// lines, nothing else.
fn split_key_text<'a>(text: &'a str, what: &str, header: &'static str) -> Result<&'a str, UpdateError> {
    let mut lines = text.lines().map(str::trim_end).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    if first != header {
        return Err(UpdateError::KeyHeader { what: what.to_string(), expected: header, found: clip(first) });
    }
    let body = lines.next().ok_or_else(|| UpdateError::KeyBase64 {
        what: what.to_string(),
        reason: "the key line after the header is missing".to_string(),
    })?;
    if lines.next().is_some() {
        return Err(UpdateError::KeyBase64 {
            what: what.to_string(),
            reason: "unexpected extra lines after the key".to_string(),
        });
    }
    Ok(body.trim())
}

/// Decodes base64 into exactly 32 bytes.
fn decode_32(b64: &str, what: &str) -> Result<[u8; 32], UpdateError> {
    let bytes = B64
        .decode(b64.trim())
        .map_err(|e| UpdateError::KeyBase64 { what: what.to_string(), reason: e.to_string() })?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| UpdateError::KeyLength {
        what: what.to_string(),
        got: bytes.len(),
        expected: 32,
    })
}

/// Builds a verifying key, rejecting invalid and weak (small-order) points: a weak key would accept
/// signatures anyone can forge.
fn verifying_key(bytes: &[u8; 32], what: &str) -> Result<VerifyingKey, UpdateError> {
    let key = VerifyingKey::from_bytes(bytes)
        .map_err(|e| UpdateError::KeyInvalid { what: what.to_string(), reason: e.to_string() })?;
    if key.is_weak() {
        return Err(UpdateError::KeyInvalid { what: what.to_string(), reason: "weak (small-order) key".into() });
    }
    Ok(key)
}

/// Parses the text of a private key file.
pub fn parse_signing_key(text: &str) -> Result<SigningKey, UpdateError> {
    parse_signing_key_named(text, "private key")
}

fn parse_signing_key_named(text: &str, what: &str) -> Result<SigningKey, UpdateError> {
    let body = split_key_text(text, what, PRIVATE_HEADER)?;
    let mut seed = decode_32(body, what)?;
    let key = SigningKey::from_bytes(&seed);
    seed.fill(0);
    Ok(key)
}

/// Parses the text of a public key file.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, UpdateError> {
    parse_public_key_named(text, "public key")
}

fn parse_public_key_named(text: &str, what: &str) -> Result<VerifyingKey, UpdateError> {
    let body = split_key_text(text, what, PUBLIC_HEADER)?;
    verifying_key(&decode_32(body, what)?, what)
}

/// Reads a small text file, refusing anything too large to be a key file.
fn read_key_file(path: &Path) -> Result<String, UpdateError> {
    let len = fs::metadata(path).map_err(io_at("reading key file", path))?.len();
    if len > MAX_KEY_FILE_BYTES {
        return Err(UpdateError::KeyLength {
            what: format!("key file {}", path.display()),
            got: usize::try_from(len).unwrap_or(usize::MAX),
            expected: 32,
        });
    }
    fs::read_to_string(path).map_err(io_at("reading key file", path))
}

/// Reads a private key file. Warns when the file is readable by group or others.
pub fn read_signing_key(path: &Path) -> Result<SigningKey, UpdateError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = fs::metadata(path) {
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "private key file is accessible by group or others");
            }
        }
    }
    let text = read_key_file(path)?;
    parse_signing_key_named(&text, &format!("private key file {}", path.display()))
}

/// Reads a public key file.
pub fn read_public_key(path: &Path) -> Result<VerifyingKey, UpdateError> {
    let text = read_key_file(path)?;
    parse_public_key_named(&text, &format!("public key file {}", path.display()))
}

/// Where [`write_keypair`] put the keys.
#[derive(Debug, Clone)]
pub struct KeyPairFiles {
    pub private: PathBuf,
    pub public: PathBuf,
    pub key_id: KeyId,
}

/// Generates a key pair and writes `<dir>/<name>.key` (mode 0600) and `<dir>/<name>.pub`. Refuses to
/// overwrite either file: replacing a signing key by accident would lock out every device that trusts it.
pub fn write_keypair(dir: &Path, name: &str) -> Result<KeyPairFiles, UpdateError> {
    if !is_valid_name(name) {
        return Err(UpdateError::Invalid(format!(
            "key name {} must be 1-64 letters, digits, `-` or `_`",
            clip(name)
        )));
    }
    let private = dir.join(format!("{name}.key"));
    let public = dir.join(format!("{name}.pub"));
    for path in [&private, &public] {
        if fs::symlink_metadata(path).is_ok() {
            return Err(UpdateError::KeyExists(path.clone()));
        }
    }
    let key = generate()?;
    let verifying = key.verifying_key();
    write_new(&private, private_key_text(&key).as_bytes(), 0o600)?;
    write_new(&public, public_key_text(&verifying).as_bytes(), 0o644)?;
    Ok(KeyPairFiles { private, public, key_id: KeyId::of(&verifying) })
}

/// Creates a file that must not exist yet, with the given mode from the start (no window in which a
/// private key is world-readable), and syncs it.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), UpdateError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            UpdateError::KeyExists(path.to_path_buf())
        } else {
            UpdateError::io("creating key file", path, e)
        }
    })?;
    file.write_all(contents).map_err(io_at("writing key file", path))?;
    file.sync_all().map_err(io_at("syncing key file", path))
}

/// A trusted public key as written in the daemon config:
///
/// ```toml
/// [[update.trusted_keys]]
/// id = "0123456789abcdef"          # optional; checked against the key when given
/// key = "base64 of the 32-byte key, or the whole .pub file text"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub id: Option<String>,
    pub key: String,
}

/// The set of public keys a device accepts bundles from. Several keys may be trusted at once so a signing
/// key can be rotated: ship the new key to the fleet, start signing with it, then drop the old one.
#[derive(Debug, Clone, Default)]
pub struct TrustStore {
    keys: BTreeMap<KeyId, VerifyingKey>,
}

impl TrustStore {
    /// An empty store (trusts nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the store from config entries; each `id`, when given, must equal the key's computed id, and
    /// no key may appear twice.
    pub fn from_config(entries: &[TrustedKey]) -> Result<Self, UpdateError> {
        let mut store = Self::new();
        for (n, entry) in entries.iter().enumerate() {
            let what = format!("trusted key #{}", n + 1);
            let text = entry.key.trim();
            let key = if text.starts_with(PUBLIC_HEADER) {
                parse_public_key_named(text, &what)?
            } else {
                verifying_key(&decode_32(text, &what)?, &what)?
            };
            let computed = KeyId::of(&key);
            if let Some(given) = &entry.id {
                if given.trim() != computed.to_string() {
                    return Err(UpdateError::TrustedKeyIdMismatch { given: clip(given), computed: computed.to_string() });
                }
            }
            if store.keys.insert(computed, key).is_some() {
                return Err(UpdateError::DuplicateTrustedKey(computed.to_string()));
            }
        }
        Ok(store)
    }

    /// Adds a key; returns its id.
    pub fn add(&mut self, key: VerifyingKey) -> KeyId {
        let id = KeyId::of(&key);
        self.keys.insert(id, key);
        id
    }

    /// The trusted key ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &KeyId> {
        self.keys.keys()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Checks `signature` over the domain-separated `digest` with the trusted key `key_id`. Uses strict
    /// verification (no malleable signatures, no small-order components).
    pub fn verify(&self, key_id: &KeyId, digest: &[u8; 32], signature: &Signature) -> Result<(), UpdateError> {
        let key = self.keys.get(key_id).ok_or_else(|| UpdateError::UnknownKey(key_id.to_string()))?;
        key.verify_strict(&signed_message(digest), signature)
            .map_err(|_| UpdateError::BadSignature(key_id.to_string()))
    }
}

impl TryFrom<Vec<TrustedKey>> for TrustStore {
    type Error = UpdateError;

    fn try_from(entries: Vec<TrustedKey>) -> Result<Self, Self::Error> {
        Self::from_config(&entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(key: &SigningKey, id: Option<String>) -> TrustedKey {
        TrustedKey { id, key: B64.encode(key.verifying_key().as_bytes()) }
    }

    #[test]
    fn key_text_roundtrip() {
        let key = generate().unwrap();
        let back = parse_signing_key(&private_key_text(&key)).unwrap();
        assert_eq!(back.to_bytes(), key.to_bytes());
        let public = parse_public_key(&public_key_text(&key.verifying_key())).unwrap();
        assert_eq!(public, key.verifying_key());
        assert_eq!(KeyId::of(&public).to_string().len(), 16);
        let id: KeyId = KeyId::of(&public).to_string().parse().unwrap();
        assert_eq!(id, KeyId::of(&public));
    }

    #[test]
    fn key_text_errors_are_precise() {
        let key = generate().unwrap();
        let public = public_key_text(&key.verifying_key());
        let e = parse_signing_key(&public).unwrap_err().to_string();
        assert!(e.contains("wrong header") && e.contains(PRIVATE_HEADER), "{e}");
        let e = parse_public_key(&format!("{PUBLIC_HEADER}\n!!!notbase64\n")).unwrap_err().to_string();
        assert!(e.contains("bad base64"), "{e}");
        let e = parse_public_key(&format!("{PUBLIC_HEADER}\n{}\n", B64.encode([1u8; 31]))).unwrap_err().to_string();
        assert!(e.contains("31 bytes, expected 32"), "{e}");
        let e = parse_public_key(PUBLIC_HEADER).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
        let e = parse_public_key(&format!("{public}extra\n")).unwrap_err().to_string();
        assert!(e.contains("extra lines"), "{e}");
        // CRLF is fine.
        assert!(parse_public_key(&public.replace('\n', "\r\n")).is_ok());
    }

    #[test]
    fn write_keypair_files() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_keypair(dir.path(), "release").unwrap();
        let sk = read_signing_key(&files.private).unwrap();
        let pk = read_public_key(&files.public).unwrap();
        assert_eq!(sk.verifying_key(), pk);
        assert_eq!(files.key_id, KeyId::of(&pk));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&files.private).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let e = write_keypair(dir.path(), "release").unwrap_err();
        assert!(matches!(e, UpdateError::KeyExists(_)), "{e}");
        assert!(write_keypair(dir.path(), "../evil").is_err());
        // The public key file text is accepted as a trusted key, too.
        let text = fs::read_to_string(&files.public).unwrap();
        let store = TrustStore::from_config(&[TrustedKey { id: Some(files.key_id.to_string()), key: text }]).unwrap();
        assert_eq!(store.len(), 1);
    }

    #[test]
    fn trust_store_verify() {
        let a = generate().unwrap();
        let b = generate().unwrap();
        let store = TrustStore::from_config(&[trusted(&a, None), trusted(&b, Some(KeyId::of(&b.verifying_key()).to_string()))]).unwrap();
        let digest = [7u8; 32];
        for k in [&a, &b] {
            let sig = sign_digest(k, &digest);
            store.verify(&KeyId::of(&k.verifying_key()), &digest, &sig).unwrap();
        }
        let sig = sign_digest(&a, &digest);
        let e = store.verify(&KeyId::of(&a.verifying_key()), &[8u8; 32], &sig).unwrap_err();
        assert!(matches!(e, UpdateError::BadSignature(_)), "{e}");
        // A signature over the bare digest (no domain prefix) is not accepted.
        let raw = a.sign(&digest);
        assert!(store.verify(&KeyId::of(&a.verifying_key()), &digest, &raw).is_err());
        let c = generate().unwrap();
        let e = store.verify(&KeyId::of(&c.verifying_key()), &digest, &sign_digest(&c, &digest)).unwrap_err();
        assert!(e.to_string().starts_with("signature by unknown key "), "{e}");
    }

    #[test]
    fn trusted_key_config_errors() {
        let a = generate().unwrap();
        let e = TrustStore::from_config(&[trusted(&a, Some("0123456789abcdef".into()))]).unwrap_err();
        assert!(matches!(e, UpdateError::TrustedKeyIdMismatch { .. }), "{e}");
        assert!(e.to_string().contains("0123456789abcdef"), "{e}");
        let e = TrustStore::from_config(&[trusted(&a, None), trusted(&a, None)]).unwrap_err();
        assert!(matches!(e, UpdateError::DuplicateTrustedKey(_)), "{e}");
        let e = TrustStore::from_config(&[TrustedKey { id: None, key: "AAAA".into() }]).unwrap_err();
        assert!(e.to_string().starts_with("trusted key #1: key is 3 bytes"), "{e}");
        let cfg: Result<TrustedKey, _> = toml::from_str("key = \"x\"\nbogus = 1\n");
        assert!(cfg.unwrap_err().to_string().contains("bogus"));
    }
}
