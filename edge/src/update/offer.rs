//! The update offer: a small retained JSON message that announces a signed bundle and how it is chunked.
//!
//! Published on `<prefix>/<device>/update/offer` or `<prefix>/groups/<group>/update/offer`:
//!
//! ```json
//! {"format":"kaiteki-update-offer-v1","model":"people","version":"2.0.0","digest":"<64 hex>","size":123,
//!  "chunk_size":65536,"chunks":2,"key_id":"<16 hex>","signature":"<base64>","allow_downgrade":false,
//!  "target":{"device":"pole-17"}}
//! ```
//!
//! The offer carries the bundle's signature, so the device verifies it (see [`Offer::verify_signature`])
//! before fetching any chunk: a forged offer costs one small message, never a download. Parsing is strict
//! (unknown fields, non-canonical hex and inconsistent chunking are rejected) because the offer arrives
//! from the network and sizes the on-disk transfer.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::Signature;
use semver::Version;
use serde::{Deserialize, Serialize};


use crate::update::bundle::{BundleMeta, SignatureFile};
use crate::update::error::UpdateError;
use crate::update::keys::{KeyId, TrustStore};
use crate::update::names::{clip, is_valid_name, parse_digest};

/// Value of the offer's `format` field.
pub const OFFER_FORMAT: &str = "kaiteki-update-offer-v1";
/// Largest accepted offer payload; a real one is under 1 KiB.
pub const MAX_OFFER_BYTES: usize = 16 * 1024;

/// Why an offer was rejected. Each message names the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OfferError {
    #[error("offer payload is {len} bytes, limit {MAX_OFFER_BYTES}")]
    TooLarge { len: usize },
    #[error("offer is not a JSON object: {0}")]
    Json(String),
    #[error("offer: unknown field {0}")]
    UnknownField(String),
    #[error("offer {field}: {problem}")]
    Field { field: &'static str, problem: &'static str },
    #[error("offer format: expected {OFFER_FORMAT}, found {0}")]
    Format(String),
    #[error("offer model: {0} is not 1-64 letters, digits, `-` or `_`")]
    Model(String),
    #[error("offer version: {value} is not a semver version: {reason}")]
    Version { value: String, reason: String },
    #[error("offer digest: {0} is not 64 lowercase hex characters")]
    Digest(String),
    #[error("offer size: {size} is outside 1..={max}")]
    Size { size: u64, max: u64 },
    #[error("offer chunk_size: {chunk_size} is outside 1..={max}")]
    ChunkSize { chunk_size: u64, max: u32 },
    #[error("offer chunks: {chunks} does not match size {size} / chunk_size {chunk_size} (expected {expected})")]
    Chunks { chunks: u64, size: u64, chunk_size: u64, expected: u64 },
    #[error("offer chunks: {chunks} exceeds the limit of {max}")]
    TooManyChunks { chunks: u64, max: u32 },
    #[error("offer key_id: {0}")]
    KeyId(String),
    #[error("offer signature: {0}")]
    Signature(String),
    #[error("offer target: {0}")]
    Target(String),
}

/// Limits applied to offers, from the daemon config. They bound disk use and the number of chunk
/// messages a device subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfferLimits {
    pub max_bundle_bytes: u64,
    pub max_chunk_bytes: u32,
    pub max_chunks: u32,
}

impl Default for OfferLimits {
    /// 512 MiB bundles, 1 MiB chunks (well under broker message limits), 65 536 chunks.
    fn default() -> Self {
        OfferLimits { max_bundle_bytes: 512 << 20, max_chunk_bytes: 1 << 20, max_chunks: 65_536 }
    }
}

/// Who an offer is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Device(String),
    Group(String),
}

/// The JSON shape (for writing; reading goes field by field so every error names its field).
#[derive(Serialize)]
struct WireOffer {
    format: String,
    model: String,
    version: String,
    digest: String,
    size: u64,
    chunk_size: u64,
    chunks: u64,
    key_id: String,
    signature: String,
    allow_downgrade: bool,
    target: Target,
}

/// Every field an offer may have.
const FIELDS: [&str; 11] = [
    "format", "model", "version", "digest", "size", "chunk_size", "chunks", "key_id", "signature",
    "allow_downgrade", "target",
];

type Object = serde_json::Map<String, serde_json::Value>;

fn field<'a>(obj: &'a Object, name: &'static str) -> Result<&'a serde_json::Value, OfferError> {
    obj.get(name).ok_or(OfferError::Field { field: name, problem: "missing" })
}

fn str_field<'a>(obj: &'a Object, name: &'static str) -> Result<&'a str, OfferError> {
    field(obj, name)?.as_str().ok_or(OfferError::Field { field: name, problem: "expected a string" })
}

fn u64_field(obj: &Object, name: &'static str) -> Result<u64, OfferError> {
    field(obj, name)?.as_u64().ok_or(OfferError::Field { field: name, problem: "expected a non-negative integer" })
}

fn parse_target(value: &serde_json::Value) -> Result<Target, OfferError> {
    let bad = |m: String| OfferError::Target(m);
    let obj = value.as_object().ok_or_else(|| bad("expected {\"device\":…} or {\"group\":…}".into()))?;
    let mut iter = obj.iter();
    let (Some((kind, name)), None) = (iter.next(), iter.next()) else {
        return Err(bad(format!("expected exactly one of `device` or `group`, found {} keys", obj.len())));
    };
    let name = name.as_str().ok_or_else(|| bad(format!("`{kind}` must be a string")))?;
    if !is_valid_name(name) {
        return Err(bad(format!("{} is not 1-64 letters, digits, `-` or `_`", clip(name))));
    }
    match kind.as_str() {
        "device" => Ok(Target::Device(name.to_string())),
        "group" => Ok(Target::Group(name.to_string())),
        other => Err(bad(format!("unknown key {} (expected `device` or `group`)", clip(other)))),
    }
}

/// A validated offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// Model slot in the daemon config (e.g. `people`).
    pub model: String,
    pub version: Version,
    /// sha256 of the whole bundle file.
    pub digest: [u8; 32],
    /// Bundle size in bytes.
    pub size: u64,
    pub chunk_size: u32,
    pub chunks: u32,
    pub key_id: KeyId,
    /// Signature over the digest (see `keys::SIGNING_DOMAIN`).
    pub signature: Signature,
    pub allow_downgrade: bool,
    pub target: Target,
}

/// Number of chunks of `chunk_size` needed for `size` bytes (0 when `chunk_size` is 0).
pub fn chunk_count(size: u64, chunk_size: u64) -> u64 {
    if chunk_size == 0 {
        0
    } else {
        size.div_ceil(chunk_size)
    }
}

impl Offer {
    /// Builds the offer for a signed bundle (push side); validated against `limits` like a received one.
    pub fn for_bundle(
        meta: &BundleMeta,
        sig: &SignatureFile,
        size: u64,
        chunk_size: u32,
        target: Target,
        allow_downgrade: bool,
        limits: &OfferLimits,
    ) -> Result<Offer, OfferError> {
        let chunks = chunk_count(size, u64::from(chunk_size));
        let offer = Offer {
            model: meta.model.clone(),
            version: meta.version.clone(),
            digest: sig.digest,
            size,
            chunk_size,
            chunks: u32::try_from(chunks).map_err(|_| OfferError::TooManyChunks { chunks, max: limits.max_chunks })?,
            key_id: sig.key_id,
            signature: sig.signature,
            allow_downgrade,
            target,
        };
        // Round-trip through the strict parser so both sides apply exactly the same rules.
        Offer::parse(offer.to_json().as_bytes(), limits)
    }

    /// Parses and validates an offer payload.
    pub fn parse(bytes: &[u8], limits: &OfferLimits) -> Result<Offer, OfferError> {
        if bytes.len() > MAX_OFFER_BYTES {
            return Err(OfferError::TooLarge { len: bytes.len() });
        }
        let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| OfferError::Json(e.to_string()))?;
        let obj = value.as_object().ok_or_else(|| OfferError::Json("the payload is not an object".into()))?;
        if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(OfferError::UnknownField(clip(unknown)));
        }
        let format = str_field(obj, "format")?;
        if format != OFFER_FORMAT {
            return Err(OfferError::Format(clip(format)));
        }
        let model = str_field(obj, "model")?;
        if !is_valid_name(model) {
            return Err(OfferError::Model(clip(model)));
        }
        let version_text = str_field(obj, "version")?;
        let version = Version::parse(version_text)
            .map_err(|e| OfferError::Version { value: clip(version_text), reason: e.to_string() })?;
        let digest_text = str_field(obj, "digest")?;
        let digest = parse_digest(digest_text).ok_or_else(|| OfferError::Digest(clip(digest_text)))?;
        let size = u64_field(obj, "size")?;
        if size == 0 || size > limits.max_bundle_bytes {
            return Err(OfferError::Size { size, max: limits.max_bundle_bytes });
        }
        let chunk_size = u64_field(obj, "chunk_size")?;
        if chunk_size == 0 || chunk_size > u64::from(limits.max_chunk_bytes) {
            return Err(OfferError::ChunkSize { chunk_size, max: limits.max_chunk_bytes });
        }
        let chunks = u64_field(obj, "chunks")?;
        let expected = chunk_count(size, chunk_size);
        if chunks != expected {
            return Err(OfferError::Chunks { chunks, size, chunk_size, expected });
        }
        if chunks > u64::from(limits.max_chunks) {
            return Err(OfferError::TooManyChunks { chunks, max: limits.max_chunks });
        }
        let key_id: KeyId = str_field(obj, "key_id")?.parse().map_err(OfferError::KeyId)?;
        let signature = parse_signature(str_field(obj, "signature")?).map_err(OfferError::Signature)?;
        // Optional, and false when absent: a downgrade must always be asked for explicitly.
        let allow_downgrade = match obj.get("allow_downgrade") {
            None => false,
            Some(v) => v.as_bool().ok_or(OfferError::Field { field: "allow_downgrade", problem: "expected true or false" })?,
        };
        let target = parse_target(field(obj, "target")?)?;
        Ok(Offer {
            model: model.to_string(),
            version,
            digest,
            size,
            // Both bounded above by u32 limits.
            chunk_size: u32::try_from(chunk_size)
                .map_err(|_| OfferError::ChunkSize { chunk_size, max: limits.max_chunk_bytes })?,
            chunks: u32::try_from(chunks).map_err(|_| OfferError::TooManyChunks { chunks, max: limits.max_chunks })?,
            key_id,
            signature,
            allow_downgrade,
            target,
        })
    }

    /// The JSON payload (compact, fields in the documented order).
    pub fn to_json(&self) -> String {
        let wire = WireOffer {
            format: OFFER_FORMAT.to_string(),
            model: self.model.clone(),
            version: self.version.to_string(),
            digest: self.digest_hex(),
            size: self.size,
            chunk_size: u64::from(self.chunk_size),
            chunks: u64::from(self.chunks),
            key_id: self.key_id.to_string(),
            signature: B64.encode(self.signature.to_bytes()),
            allow_downgrade: self.allow_downgrade,
            target: self.target.clone(),
        };
        // Serialising plain strings, integers and a bool cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// The bundle digest as 64 lowercase hex characters.
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }

    /// The detached signature this offer carries.
    pub fn signature_file(&self) -> SignatureFile {
        SignatureFile { key_id: self.key_id, digest: self.digest, signature: self.signature }
    }

    /// Checks the offer's signature over its digest with the trust store. Do this before fetching chunks.
    pub fn verify_signature(&self, trust: &TrustStore) -> Result<(), UpdateError> {
        trust.verify(&self.key_id, &self.digest, &self.signature)
    }

    /// Whether size, chunk size and chunk count agree (always true for a parsed offer; checked where a
    /// hand-built one could slip in).
    pub fn is_consistent(&self) -> bool {
        self.size > 0 && self.chunk_size > 0 && u64::from(self.chunks) == chunk_count(self.size, u64::from(self.chunk_size))
    }

    /// Whether `other` describes the same bytes chunked the same way (so received chunks stay valid).
    pub fn same_transfer(&self, other: &Offer) -> bool {
        self.digest == other.digest
            && self.size == other.size
            && self.chunk_size == other.chunk_size
            && self.chunks == other.chunks
    }

    /// Expected data length of chunk `index`, or `None` when the index is out of range. Every chunk is
    /// `chunk_size` bytes except the last, which holds the remainder.
    pub fn chunk_len(&self, index: u32) -> Option<usize> {
        if index >= self.chunks {
            return None;
        }
        let start = u64::from(index) * u64::from(self.chunk_size);
        // Checked: the fields are public, so a hand-built offer may be inconsistent.
        let len = self.size.checked_sub(start).filter(|&n| n > 0)?.min(u64::from(self.chunk_size));
        usize::try_from(len).ok()
    }

    /// Topic of one chunk: `<prefix>/updates/<digest>/chunks/<index>`.
    pub fn chunk_topic(&self, prefix: &str, index: u32) -> String {
        format!("{prefix}/updates/{}/chunks/{index}", self.digest_hex())
    }

    /// Subscription filter for all chunks: `<prefix>/updates/<digest>/chunks/+`.
    pub fn chunk_filter(&self, prefix: &str) -> String {
        format!("{prefix}/updates/{}/chunks/+", self.digest_hex())
    }

    /// The chunk index in a topic received on [`Offer::chunk_filter`], or `None` when the topic is not one
    /// of this offer's chunk topics. The daemon must check that it equals the decoded [`Chunk`]'s index:
    /// the per-chunk sha256 covers the data only.
    ///
    /// [`Chunk`]: crate::update::chunk::Chunk
    pub fn chunk_index_from_topic(&self, prefix: &str, topic: &str) -> Option<u32> {
        let rest = topic.strip_prefix(prefix)?.strip_prefix("/updates/")?;
        let rest = rest.strip_prefix(self.digest_hex().as_str())?.strip_prefix("/chunks/")?;
        if rest.is_empty() || rest.len() > 10 || !rest.bytes().all(|b| b.is_ascii_digit()) || (rest.len() > 1 && rest.starts_with('0')) {
            return None;
        }
        rest.parse().ok()
    }

    /// Offer topic for one device: `<prefix>/<device>/update/offer`.
    pub fn device_topic(prefix: &str, device: &str) -> String {
        format!("{prefix}/{device}/update/offer")
    }

    /// Offer topic for a group: `<prefix>/groups/<group>/update/offer`.
    pub fn group_topic(prefix: &str, group: &str) -> String {
        format!("{prefix}/groups/{group}/update/offer")
    }

    /// The topic this offer is published on, from its target.
    pub fn topic(&self, prefix: &str) -> String {
        match &self.target {
            Target::Device(d) => Self::device_topic(prefix, d),
            Target::Group(g) => Self::group_topic(prefix, g),
        }
    }
}

/// Decodes a base64 Ed25519 signature (exactly 64 bytes).
pub(crate) fn parse_signature(s: &str) -> Result<Signature, String> {
    let bytes = B64.decode(s).map_err(|e| format!("bad base64: {e}"))?;
    let arr = <[u8; 64]>::try_from(bytes.as_slice())
        .map_err(|_| format!("signature is {} bytes, expected 64", bytes.len()))?;
    Ok(Signature::from_bytes(&arr))
}

/// A signed offer for `bundle` (test helper shared by the chunk and receiver tests).
#[cfg(test)]
pub(crate) fn test_offer(bundle: &[u8], chunk_size: u32) -> Offer {
    use crate::update::keys::{generate, sign_digest};
    use sha2::{Digest, Sha256};
    let key = generate().unwrap();
    let digest: [u8; 32] = Sha256::digest(bundle).into();
    Offer {
        model: "people".into(),
        version: semver::Version::new(1, 0, 0),
        digest,
        size: bundle.len() as u64,
        chunk_size,
        chunks: bundle.len().div_ceil(chunk_size as usize) as u32,
        key_id: KeyId::of(&key.verifying_key()),
        signature: sign_digest(&key, &digest),
        allow_downgrade: false,
        target: Target::Device("d".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::keys::{generate, sign_digest};
    use proptest::prelude::*;

    /// Built once: key generation and signing are slow in unoptimised test builds.
    fn sample() -> Offer {
        static SAMPLE: std::sync::OnceLock<Offer> = std::sync::OnceLock::new();
        SAMPLE.get_or_init(make_sample).clone()
    }

    fn make_sample() -> Offer {
        let key = generate().unwrap();
        let digest = [0xab; 32];
        Offer {
            model: "people".into(),
            version: Version::parse("2.0.0").unwrap(),
            digest,
            size: 100_000,
            chunk_size: 65536,
            chunks: 2,
            key_id: KeyId::of(&key.verifying_key()),
            signature: sign_digest(&key, &digest),
            allow_downgrade: false,
            target: Target::Device("pole-17".into()),
        }
    }

    fn json_with(field: &str, value: serde_json::Value) -> Vec<u8> {
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn roundtrip_and_topics() {
        let o = sample();
        let json = o.to_json();
        assert!(json.starts_with("{\"format\":\"kaiteki-update-offer-v1\",\"model\":\"people\""), "{json}");
        assert!(json.contains("\"target\":{\"device\":\"pole-17\"}"), "{json}");
        let back = Offer::parse(json.as_bytes(), &OfferLimits::default()).unwrap();
        assert_eq!(back, o);
        let hex = o.digest_hex();
        assert_eq!(o.chunk_topic("kaiteki", 3), format!("kaiteki/updates/{hex}/chunks/3"));
        assert_eq!(o.chunk_filter("kaiteki"), format!("kaiteki/updates/{hex}/chunks/+"));
        assert_eq!(o.chunk_index_from_topic("kaiteki", &o.chunk_topic("kaiteki", 17)), Some(17));
        assert_eq!(o.chunk_index_from_topic("kaiteki", &format!("kaiteki/updates/{hex}/chunks/01")), None);
        assert_eq!(o.chunk_index_from_topic("kaiteki", &format!("kaiteki/updates/{hex}/chunks/")), None);
        assert_eq!(o.chunk_index_from_topic("other", &o.chunk_topic("kaiteki", 1)), None);
        assert_eq!(o.topic("kaiteki"), "kaiteki/pole-17/update/offer");
        let g = Offer { target: Target::Group("buses".into()), ..o.clone() };
        assert_eq!(g.topic("k"), "k/groups/buses/update/offer");
        assert!(g.to_json().contains("\"target\":{\"group\":\"buses\"}"));
        assert_eq!(o.chunk_len(0), Some(65536));
        assert_eq!(o.chunk_len(1), Some(100_000 - 65536));
        assert_eq!(o.chunk_len(2), None);
    }

    #[test]
    fn signature_check() {
        let o = sample();
        let mut trust = TrustStore::new();
        assert!(matches!(o.verify_signature(&trust), Err(UpdateError::UnknownKey(_))));
        let key = generate().unwrap();
        trust.add(key.verifying_key());
        let signed = Offer {
            key_id: KeyId::of(&key.verifying_key()),
            signature: sign_digest(&key, &o.digest),
            ..o.clone()
        };
        signed.verify_signature(&trust).unwrap();
        let forged = Offer { digest: [1; 32], ..signed };
        assert!(matches!(forged.verify_signature(&trust), Err(UpdateError::BadSignature(_))));
    }

    #[test]
    fn each_invalid_field_is_named() {
        use serde_json::json;
        let limits = OfferLimits::default();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (json_with("format", json!("kaiteki-update-offer-v2")), "offer format"),
            (json_with("model", json!("people/../x")), "offer model"),
            (json_with("model", json!("")), "offer model"),
            (json_with("version", json!("2.0")), "offer version"),
            (json_with("digest", json!("AB".repeat(32))), "offer digest"),
            (json_with("digest", json!("ab".repeat(31))), "offer digest"),
            (json_with("size", json!(0)), "offer size"),
            (json_with("size", json!(limits.max_bundle_bytes + 1)), "offer size"),
            (json_with("size", json!(-1)), "offer size: expected a non-negative integer"),
            (json_with("chunks", json!(2.0)), "offer chunks: expected a non-negative integer"),
            (json_with("chunk_size", json!(0)), "offer chunk_size"),
            (json_with("chunk_size", json!(u64::from(limits.max_chunk_bytes) + 1)), "offer chunk_size"),
            (json_with("chunks", json!(3)), "offer chunks"),
            (json_with("key_id", json!("xyz")), "offer key_id"),
            (json_with("signature", json!("AAAA")), "offer signature"),
            (json_with("signature", json!("***")), "offer signature"),
            (json_with("target", json!({"device": "a/b"})), "offer target"),
            (json_with("target", json!({"fleet": "x"})), "fleet"),
            (json_with("allow_downgrade", json!("yes")), "offer allow_downgrade: expected true or false"),
            (json_with("target", json!({"device": "a", "group": "b"})), "offer target: expected exactly one"),
            (json_with("target", json!("pole-17")), "offer target"),
            (json_with("model", json!(5)), "offer model: expected a string"),
            (json_with("extra", json!(1)), "offer: unknown field \"extra\""),
        ];
        for (bytes, needle) in cases {
            let e = Offer::parse(&bytes, &limits).unwrap_err().to_string();
            assert!(e.contains(needle), "expected {needle:?} in {e:?}");
        }
        let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        v.as_object_mut().unwrap().remove("digest");
        let e = Offer::parse(&serde_json::to_vec(&v).unwrap(), &limits).unwrap_err().to_string();
        assert_eq!(e, "offer digest: missing");
        let e = Offer::parse(&vec![b' '; MAX_OFFER_BYTES + 1], &limits).unwrap_err();
        assert!(matches!(e, OfferError::TooLarge { .. }));
        let small = OfferLimits { max_chunks: 1, ..limits };
        let e = Offer::parse(sample().to_json().as_bytes(), &small).unwrap_err().to_string();
        assert!(e.contains("offer chunks: 2 exceeds"), "{e}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parse_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = Offer::parse(&bytes, &OfferLimits::default());
        }

        #[test]
        fn parse_mutated_json_never_panics(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
        ) {
            let mut bytes = sample().to_json().into_bytes();
            for (at, byte, op) in edits {
                if bytes.is_empty() { break; }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => { bytes.remove(i); }
                    _ => bytes.insert(i, byte),
                }
            }
            let _ = Offer::parse(&bytes, &OfferLimits::default());
        }

        #[test]
        fn parse_arbitrary_numbers_never_panics(size in any::<u64>(), chunk_size in any::<u64>(), chunks in any::<u64>()) {
            let mut v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
            v["size"] = size.into();
            v["chunk_size"] = chunk_size.into();
            v["chunks"] = chunks.into();
            let limits = OfferLimits { max_bundle_bytes: u64::MAX, max_chunk_bytes: u32::MAX, max_chunks: u32::MAX };
            if let Ok(o) = Offer::parse(&serde_json::to_vec(&v).unwrap(), &limits) {
                prop_assert_eq!(u64::from(o.chunks), chunk_count(o.size, u64::from(o.chunk_size)));
            }
        }
    }
}
