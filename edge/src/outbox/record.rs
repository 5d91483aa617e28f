//! The on-disk record format: versioned, length-checked, CRC-32 protected.
//!
//! Layout (all integers little-endian), version 1:
//!
//! ```text
//! offset size field
//!      0    2 magic "KO"
//!      2    1 format version (1)
//!      3    1 priority (0 = low, 1 = normal, 2 = high)
//!      4    1 flags (bit 0 = retain; other bits must be 0)
//!      5    8 id
//!     13    8 enqueued_at_ms
//!     21    2 topic length T
//!     23    4 payload length P
//!     27    T topic (UTF-8)
//!   27+T    P payload
//! 27+T+P    4 CRC-32 (IEEE) of every preceding byte
//! ```
//!
//! The store keeps this blob as the record's value; the CRC catches torn writes, bit rot and
//! values written by something other than this module. [`decode_record`] never panics on any
//! input (there is a proptest for that), so it can be fuzzed directly.

use serde::{Deserialize, Serialize};

use crate::outbox::crc32::crc32;

const MAGIC: [u8; 2] = *b"KO";
/// Current record format version.
pub const FORMAT_VERSION: u8 = 1;
const HEADER_LEN: usize = 27;
const CRC_LEN: usize = 4;
/// Bytes a record takes on top of its topic and payload.
pub const RECORD_OVERHEAD: usize = HEADER_LEN + CRC_LEN;
/// MQTT limits topic names to 65 535 bytes, and so does the 16-bit length field.
pub const MAX_TOPIC_LEN: usize = u16::MAX as usize;
const FLAG_RETAIN: u8 = 0b1;

/// Delivery class. Higher classes drain first; within a class delivery is in push order.
/// When the outbox is full the lowest class is dropped first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    /// Scene summaries, health.
    Low,
    /// Crowd, roughness, model status.
    Normal,
    /// Near-misses, road damage.
    High,
}

impl Priority {
    /// All classes in delivery order (highest first).
    pub const DELIVERY_ORDER: [Priority; 3] = [Priority::High, Priority::Normal, Priority::Low];
    /// All classes in eviction order (lowest first).
    pub const EVICTION_ORDER: [Priority; 3] = [Priority::Low, Priority::Normal, Priority::High];

    /// The byte stored on disk (also the store's `priority` column).
    pub fn code(self) -> u8 {
        match self {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
        }
    }

    /// Inverse of [`Priority::code`].
    pub fn from_code(code: u8) -> Option<Priority> {
        match code {
            0 => Some(Priority::Low),
            1 => Some(Priority::Normal),
            2 => Some(Priority::High),
            _ => None,
        }
    }

    /// Index into per-priority arrays (`Low` = 0).
    pub(crate) fn index(self) -> usize {
        self.code() as usize
    }
}

/// One queued MQTT publication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRecord {
    /// Store-assigned, strictly increasing across restarts; never reused.
    pub id: u64,
    pub priority: Priority,
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
    /// Caller-supplied clock at push time (Unix ms); used for the age limit.
    pub enqueued_at_ms: u64,
}

/// Why bytes are not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is {len} bytes, shorter than the {min}-byte minimum")]
    TooShort { len: usize, min: usize },
    #[error("record magic is {found:02x?}, expected \"KO\"")]
    BadMagic { found: [u8; 2] },
    #[error("record format version {0} is not supported (this build reads version {FORMAT_VERSION})")]
    UnsupportedVersion(u8),
    #[error("record checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    ChecksumMismatch { stored: u32, computed: u32 },
    #[error("record length {actual} does not match the {declared} bytes its header declares")]
    LengthMismatch { declared: u64, actual: usize },
    #[error("record has unknown priority code {0}")]
    UnknownPriority(u8),
    #[error("record has unknown flag bits {0:#04x}")]
    UnknownFlags(u8),
    #[error("record topic is not valid UTF-8")]
    TopicNotUtf8,
    #[error("record {field} is {in_record} but the store row says {in_store}")]
    RowMismatch { field: &'static str, in_record: u64, in_store: u64 },
}

/// Size the encoded record will have for this topic and payload.
pub fn encoded_len(topic_len: usize, payload_len: usize) -> u64 {
    RECORD_OVERHEAD as u64 + topic_len as u64 + payload_len as u64
}

/// Serialises a record. The caller guarantees `topic.len() <= MAX_TOPIC_LEN` and
/// `payload.len() <= u32::MAX` (the outbox checks both, and its record-size limit is far lower).
pub(crate) fn encode_record(
    id: u64,
    priority: Priority,
    topic: &str,
    payload: &[u8],
    retain: bool,
    enqueued_at_ms: u64,
) -> Vec<u8> {
    debug_assert!(topic.len() <= MAX_TOPIC_LEN && payload.len() <= u32::MAX as usize);
    let mut out = Vec::with_capacity(RECORD_OVERHEAD + topic.len() + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(priority.code());
    out.push(if retain { FLAG_RETAIN } else { 0 });
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&enqueued_at_ms.to_le_bytes());
    out.extend_from_slice(&(topic.len() as u16).to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(topic.as_bytes());
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Encodes an [`OutboxRecord`] (for tests, tools and fuzz seeds).
pub fn encode(record: &OutboxRecord) -> Vec<u8> {
    encode_record(record.id, record.priority, &record.topic, &record.payload, record.retain, record.enqueued_at_ms)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Parses and verifies a record. Never panics, whatever the input.
pub fn decode_record(bytes: &[u8]) -> Result<OutboxRecord, RecordError> {
    let min = RECORD_OVERHEAD;
    if bytes.len() < min {
        return Err(RecordError::TooShort { len: bytes.len(), min });
    }
    let magic = [bytes[0], bytes[1]];
    if magic != MAGIC {
        return Err(RecordError::BadMagic { found: magic });
    }
    if bytes[2] != FORMAT_VERSION {
        return Err(RecordError::UnsupportedVersion(bytes[2]));
    }
    // Length before checksum: a torn record is usually short, and this names that precisely.
    let topic_len = u16::from_le_bytes([bytes[21], bytes[22]]) as u64;
    let payload_len = u32::from_le_bytes([bytes[23], bytes[24], bytes[25], bytes[26]]) as u64;
    let declared = RECORD_OVERHEAD as u64 + topic_len + payload_len;
    if declared != bytes.len() as u64 {
        return Err(RecordError::LengthMismatch { declared, actual: bytes.len() });
    }
    let body_end = bytes.len() - CRC_LEN;
    let stored = u32::from_le_bytes([bytes[body_end], bytes[body_end + 1], bytes[body_end + 2], bytes[body_end + 3]]);
    let computed = crc32(&bytes[..body_end]);
    if stored != computed {
        return Err(RecordError::ChecksumMismatch { stored, computed });
    }
    let priority = Priority::from_code(bytes[3]).ok_or(RecordError::UnknownPriority(bytes[3]))?;
    let flags = bytes[4];
    if flags & !FLAG_RETAIN != 0 {
        return Err(RecordError::UnknownFlags(flags));
    }
    // Lengths were checked against bytes.len() above, so these slices are in bounds.
    let topic_end = HEADER_LEN + topic_len as usize;
    let topic = std::str::from_utf8(&bytes[HEADER_LEN..topic_end]).map_err(|_| RecordError::TopicNotUtf8)?;
    Ok(OutboxRecord {
        id: le_u64(bytes, 5),
        priority,
        topic: topic.to_owned(),
        payload: bytes[topic_end..body_end].to_vec(),
        retain: flags & FLAG_RETAIN != 0,
        enqueued_at_ms: le_u64(bytes, 13),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> OutboxRecord {
        OutboxRecord {
            id: 42,
            priority: Priority::High,
            topic: "kaiteki/dev1/events/near_miss".into(),
            payload: br#"{"event_id":"x"}"#.to_vec(),
            retain: true,
            enqueued_at_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let r = sample();
        let bytes = encode(&r);
        assert_eq!(bytes.len() as u64, encoded_len(r.topic.len(), r.payload.len()));
        assert_eq!(&bytes[..3], b"KO\x01");
        assert_eq!(decode_record(&bytes), Ok(r));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(decode_record(&b).is_err(), "flip of byte {i} bit {bit} went undetected");
            }
        }
    }

    #[test]
    fn truncation_is_reported_as_such() {
        let bytes = encode(&sample());
        assert!(matches!(decode_record(&bytes[..10]), Err(RecordError::TooShort { .. })));
        assert!(matches!(decode_record(&bytes[..bytes.len() - 1]), Err(RecordError::LengthMismatch { .. })));
    }

    fn any_priority() -> impl Strategy<Value = Priority> {
        prop_oneof![Just(Priority::Low), Just(Priority::Normal), Just(Priority::High)]
    }

    proptest! {
        #[test]
        fn decode_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = decode_record(&bytes);
        }

        #[test]
        fn decode_never_panics_on_mutated_records(
            id in any::<u64>(), at in any::<u64>(), p in any_priority(), retain in any::<bool>(),
            topic in "[a-z/_0-9]{0,40}", payload in proptest::collection::vec(any::<u8>(), 0..200),
            cut in any::<usize>(), pos in any::<usize>(), byte in any::<u8>(),
        ) {
            let mut bytes = encode_record(id, p, &topic, &payload, retain, at);
            // Header-aware garbage reaches the deeper checks that random bytes rarely do.
            let i = pos % bytes.len();
            bytes[i] = byte;
            let _ = decode_record(&bytes);
            let _ = decode_record(&bytes[..cut % (bytes.len() + 1)]);
        }

        #[test]
        fn round_trips(
            id in any::<u64>(), at in any::<u64>(), p in any_priority(), retain in any::<bool>(),
            topic in "\\PC{0,30}", payload in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let r = OutboxRecord { id, priority: p, topic, payload, retain, enqueued_at_ms: at };
            prop_assert_eq!(decode_record(&encode(&r)), Ok(r));
        }

        #[test]
        fn truncations_are_errors(payload in proptest::collection::vec(any::<u8>(), 0..100), cut in any::<usize>()) {
            let bytes = encode_record(1, Priority::Low, "t", &payload, false, 0);
            let cut = cut % bytes.len();
            prop_assert!(decode_record(&bytes[..cut]).is_err());
        }
    }
}
