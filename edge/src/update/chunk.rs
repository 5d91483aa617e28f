//! The binary chunk message: one retained MQTT message per slice of the bundle.
//!
//! ```text
//! b"KTC1" | index: u32 BE | total: u32 BE | sha256(data): 32 bytes | data
//! ```
//!
//! Each chunk carries the sha256 of its own data so a corrupted or tampered chunk is rejected on arrival
//! (and re-fetched) instead of poisoning the assembled file, whose digest is only known at the end.

use std::io::Read;

use sha2::{Digest, Sha256};

use crate::update::error::UpdateError;
use crate::update::offer::Offer;

/// Magic prefix of every chunk message.
pub const CHUNK_MAGIC: &[u8; 4] = b"KTC1";
/// Bytes before the data: magic, index, total, sha256.
pub const CHUNK_HEADER_LEN: usize = 4 + 4 + 4 + 32;

/// Why a chunk message was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    #[error("chunk message is {len} bytes, shorter than the {CHUNK_HEADER_LEN}-byte header")]
    TooShort { len: usize },
    #[error("chunk message has bad magic {found:02x?} (expected \"KTC1\")")]
    BadMagic { found: [u8; 4] },
    #[error("chunk {index}: total {total} does not match the offer's {expected} chunks")]
    TotalMismatch { index: u32, total: u32, expected: u32 },
    #[error("chunk {index}: index out of range (the offer has {total} chunks)")]
    IndexOutOfRange { index: u32, total: u32 },
    #[error("chunk {index}: data is {len} bytes, expected {expected}")]
    WrongLength { index: u32, len: usize, expected: usize },
    #[error("chunk {index}: data sha256 mismatch (tampered or corrupted chunk)")]
    DigestMismatch { index: u32 },
}

/// A decoded, verified chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub index: u32,
    pub total: u32,
    pub data: Vec<u8>,
}

impl Chunk {
    /// The wire bytes (computes the data's sha256).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(CHUNK_HEADER_LEN + self.data.len());
        out.extend_from_slice(CHUNK_MAGIC);
        out.extend_from_slice(&self.index.to_be_bytes());
        out.extend_from_slice(&self.total.to_be_bytes());
        out.extend_from_slice(&Sha256::digest(&self.data));
        out.extend_from_slice(&self.data);
        out
    }

    /// Decodes a chunk message and checks it against the offer: magic, total, index, exact length and the
    /// data's sha256.
    pub fn decode(bytes: &[u8], offer: &Offer) -> Result<Chunk, ChunkError> {
        if bytes.len() < CHUNK_HEADER_LEN {
            return Err(ChunkError::TooShort { len: bytes.len() });
        }
        let (header, data) = bytes.split_at(CHUNK_HEADER_LEN);
        let magic = [header[0], header[1], header[2], header[3]];
        if &magic != CHUNK_MAGIC {
            return Err(ChunkError::BadMagic { found: magic });
        }
        let index = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let total = u32::from_be_bytes([header[8], header[9], header[10], header[11]]);
        if total != offer.chunks {
            return Err(ChunkError::TotalMismatch { index, total, expected: offer.chunks });
        }
        let expected = offer.chunk_len(index).ok_or(ChunkError::IndexOutOfRange { index, total })?;
        if data.len() != expected {
            return Err(ChunkError::WrongLength { index, len: data.len(), expected });
        }
        if Sha256::digest(data).as_slice() != &header[12..44] {
            return Err(ChunkError::DigestMismatch { index });
        }
        Ok(Chunk { index, total, data: data.to_vec() })
    }
}

/// Splits a bundle into chunks of `chunk_size` bytes (push side). Reads everything into memory, which is
/// fine for the publishing tool; the device never calls this.
pub fn split<R: Read>(mut reader: R, chunk_size: u32) -> Result<Vec<Chunk>, UpdateError> {
    if chunk_size == 0 {
        return Err(UpdateError::Invalid("chunk_size must be at least 1".into()));
    }
    let mut datas = Vec::new();
    loop {
        let mut data = Vec::with_capacity(chunk_size as usize);
        (&mut reader)
            .take(u64::from(chunk_size))
            .read_to_end(&mut data)
            .map_err(|e| UpdateError::Io { context: "reading bundle to split".into(), source: e })?;
        if data.is_empty() {
            break;
        }
        let short = data.len() < chunk_size as usize;
        datas.push(data);
        if short {
            break;
        }
    }
    let total = u32::try_from(datas.len())
        .map_err(|_| UpdateError::Invalid(format!("{} chunks do not fit in a u32", datas.len())))?;
    Ok(datas
        .into_iter()
        .enumerate()
        .map(|(i, data)| Chunk { index: i as u32, total, data })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::offer::test_offer as offer_for;
    use proptest::prelude::*;

    /// The offer for `bundle()` in 300-byte chunks, built once (signing is slow in unoptimised builds).
    fn fixed_offer() -> &'static Offer {
        static OFFER: std::sync::OnceLock<Offer> = std::sync::OnceLock::new();
        OFFER.get_or_init(|| offer_for(&bundle(), 300))
    }

    fn bundle() -> Vec<u8> {
        (0..1000u32).map(|i| (i * 7 % 251) as u8).collect()
    }

    #[test]
    fn split_encode_decode_roundtrip() {
        let b = bundle();
        let offer = offer_for(&b, 300);
        let chunks = split(&b[..], 300).unwrap();
        assert_eq!(chunks.len(), 4);
        assert_eq!(chunks[3].data.len(), 100);
        let mut joined = Vec::new();
        for c in &chunks {
            let back = Chunk::decode(&c.encode(), &offer).unwrap();
            assert_eq!(&back, c);
            joined.extend_from_slice(&back.data);
        }
        assert_eq!(joined, b);
        // Exact multiple: no empty trailing chunk.
        assert_eq!(split(&b[..500], 250).unwrap().len(), 2);
        assert!(split(&b[..], 0).is_err());
    }

    #[test]
    fn rejections_name_the_chunk() {
        let b = bundle();
        let offer = offer_for(&b, 300);
        let chunks = split(&b[..], 300).unwrap();
        let mut wire = chunks[2].encode();
        let last = wire.len() - 1;
        wire[last] ^= 1;
        let e = Chunk::decode(&wire, &offer).unwrap_err();
        assert_eq!(e, ChunkError::DigestMismatch { index: 2 });
        assert!(e.to_string().starts_with("chunk 2: data sha256 mismatch"), "{e}");

        // Wrong length: a full-size chunk where the last one must be short, and a truncated middle one.
        let long_last = Chunk { index: 3, total: 4, data: vec![0; 300] };
        let e = Chunk::decode(&long_last.encode(), &offer).unwrap_err();
        assert_eq!(e, ChunkError::WrongLength { index: 3, len: 300, expected: 100 });
        let short = Chunk { index: 1, total: 4, data: vec![0; 299] };
        assert!(matches!(Chunk::decode(&short.encode(), &offer), Err(ChunkError::WrongLength { index: 1, .. })));

        let bad_total = Chunk { total: 5, ..chunks[0].clone() };
        assert!(matches!(Chunk::decode(&bad_total.encode(), &offer), Err(ChunkError::TotalMismatch { .. })));
        let bad_index = Chunk { index: 4, ..chunks[0].clone() };
        assert!(matches!(Chunk::decode(&bad_index.encode(), &offer), Err(ChunkError::IndexOutOfRange { index: 4, .. })));
        let mut bad_magic = chunks[0].encode();
        bad_magic[0] = b'X';
        assert!(matches!(Chunk::decode(&bad_magic, &offer), Err(ChunkError::BadMagic { .. })));
        assert!(matches!(Chunk::decode(b"KTC1", &offer), Err(ChunkError::TooShort { len: 4 })));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn decode_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = Chunk::decode(&bytes, fixed_offer());
        }

        #[test]
        fn decode_flipped_chunks_never_panics_and_rejects(
            which in 0usize..4, at in any::<prop::sample::Index>(), mask in 1u8..=255
        ) {
            let b = bundle();
            let offer = fixed_offer();
            let mut wire = split(&b[..], 300).unwrap()[which].encode();
            let i = at.index(wire.len());
            wire[i] ^= mask;
            // Any change is caught except one that turns the index into another index with the same length
            // (the data hash does not cover the index; the caller checks it against the chunk topic, and the
            // assembled digest catches the rest).
            if let Ok(c) = Chunk::decode(&wire, offer) {
                prop_assert!((4..8).contains(&i));
                prop_assert_eq!(c.data, split(&b[..], 300).unwrap()[which].data.clone());
            }
        }

        #[test]
        fn decode_truncated_or_extended_never_panics(which in 0usize..4, cut in 0usize..400, extra in 0usize..4) {
            let b = bundle();
            let offer = fixed_offer();
            let mut wire = split(&b[..], 300).unwrap()[which].encode();
            wire.truncate(cut.min(wire.len()));
            wire.extend(std::iter::repeat_n(0u8, extra));
            let _ = Chunk::decode(&wire, offer);
        }
    }
}
