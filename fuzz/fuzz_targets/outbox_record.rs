//! The outbox record format (`kaiteki::outbox::decode_record`) on arbitrary bytes.
//!
//! Each input is decoded twice: as it is, and with its last four bytes replaced by the CRC-32 of the
//! rest (computed here, bit by bit, independently of the crate's table), so that the checks behind the
//! checksum (priority, flags, UTF-8 topic) are reached by more than the seeds.
//!
//! Properties: no panic; the format has exactly one encoding per record (every header byte is either
//! checked or copied into the record), so whatever decodes re-encodes to the same bytes; and a
//! record whose length fields are right and whose CRC was fixed here never fails its checksum.
#![no_main]

use kaiteki::outbox::{decode_record, encode, encoded_len, RecordError, RECORD_OVERHEAD};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let _ = check(input);
    if input.len() >= RECORD_OVERHEAD {
        let mut fixed = input.to_vec();
        let body = fixed.len() - 4;
        let crc = crc32(&fixed[..body]);
        fixed[body..].copy_from_slice(&crc.to_le_bytes());
        if let Err(RecordError::ChecksumMismatch { stored, computed }) = check(&fixed) {
            panic!("CRC-32 disagrees with an independent implementation: stored {stored:#010x}, computed {computed:#010x}");
        }
    }
});

fn check(bytes: &[u8]) -> Result<(), RecordError> {
    let record = decode_record(bytes)?;
    assert_eq!(encoded_len(record.topic.len(), record.payload.len()), bytes.len() as u64);
    assert!(encode(&record) == bytes, "a decoded record re-encodes to other bytes: {record:?}");
    Ok(())
}

/// CRC-32 (IEEE, reflected, as zlib), bitwise.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}
