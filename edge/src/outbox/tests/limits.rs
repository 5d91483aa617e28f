//! Byte and age limits, drop accounting, oversized records.

use super::{all, batch_cfg, push, tags, T0};
use crate::outbox::{encoded_len, DropPolicy, Outbox, OutboxConfig, OutboxError, Priority, PushOutcome};

/// Every test record has a 3-byte tag: topic "t/xyz", payload "xyz".
const REC: u64 = 31 + 5 + 3;

fn small(n_records: u64) -> OutboxConfig {
    OutboxConfig { max_bytes: REC * n_records, max_record_bytes: REC * 2, ..batch_cfg() }
}

#[test]
fn full_outbox_evicts_oldest_of_lowest_class_first() {
    assert_eq!(encoded_len(5, 3), REC);
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path(), small(5)).unwrap();
    for (p, t) in [
        (Priority::High, "h00"),
        (Priority::Low, "l00"),
        (Priority::Normal, "n00"),
        (Priority::Low, "l01"),
        (Priority::High, "h01"),
    ] {
        push(&ob, p, t, T0);
    }
    // Full. A normal record evicts the oldest low one.
    let out = ob.push(Priority::Normal, "t/n01", b"n01", false, T0).unwrap();
    assert!(matches!(out, PushOutcome::Stored { evicted: 1, .. }));
    assert_eq!(tags(&all(&ob)), ["h00", "h01", "n00", "n01", "l01"]);
    // A high one evicts the next low one, then (next push) the oldest normal.
    push(&ob, Priority::High, "h02", T0);
    push(&ob, Priority::High, "h03", T0);
    assert_eq!(tags(&all(&ob)), ["h00", "h01", "h02", "h03", "n01"]);
    // A low record cannot displace anything of a higher class: it is dropped itself.
    assert_eq!(ob.push(Priority::Low, "t/l02", b"l02", false, T0).unwrap(), PushOutcome::Dropped);
    assert_eq!(tags(&all(&ob)), ["h00", "h01", "h02", "h03", "n01"]);
    let s = ob.stats();
    assert_eq!((s.dropped.full.low, s.dropped.full.normal, s.dropped.full.high), (3, 1, 0));
    assert_eq!((s.records, s.bytes), (5, 5 * REC));
    // All high: the oldest high goes, the newest high is always kept.
    push(&ob, Priority::High, "h04", T0);
    push(&ob, Priority::High, "h05", T0);
    assert_eq!(tags(&all(&ob)), ["h01", "h02", "h03", "h04", "h05"]);
    assert_eq!(ob.stats().dropped.full.high, 1);
    assert!(ob.stats().bytes <= 5 * REC);
}

#[test]
fn eviction_of_an_in_flight_record_is_harmless() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path(), small(2)).unwrap();
    let a = push(&ob, Priority::Low, "l00", T0);
    push(&ob, Priority::Low, "l01", T0);
    assert_eq!(ob.checkout_batch(1).unwrap()[0].id, a);
    push(&ob, Priority::Low, "l02", T0);
    assert_eq!(ob.stats().in_flight, 0);
    ob.ack(a).unwrap();
    assert_eq!(tags(&all(&ob)), ["l01", "l02"]);
}

#[test]
fn reject_new_policy_keeps_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig { drop_policy: DropPolicy::RejectNew, ..small(2) };
    let ob = Outbox::open(dir.path(), cfg).unwrap();
    push(&ob, Priority::Low, "l00", T0);
    push(&ob, Priority::Low, "l01", T0);
    assert_eq!(ob.push(Priority::High, "t/h00", b"h00", false, T0).unwrap(), PushOutcome::Dropped);
    assert_eq!(tags(&all(&ob)), ["l00", "l01"]);
    assert_eq!(ob.stats().dropped.full.high, 1);
}

#[test]
fn records_older_than_max_age_are_dropped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig { max_age_s: 60, ..batch_cfg() };
    let ob = Outbox::open(dir.path(), cfg).unwrap();
    push(&ob, Priority::High, "old-h", T0);
    push(&ob, Priority::Low, "old-l", T0 + 1);
    push(&ob, Priority::High, "new-h", T0 + 30_000);
    let none = ob.enforce_limits(T0 + 60_000).unwrap();
    assert_eq!(none.total(), 0, "exactly max_age old is kept");
    let r = ob.enforce_limits(T0 + 60_002).unwrap();
    assert_eq!((r.expired.high, r.expired.low, r.full.high), (1, 1, 0));
    assert_eq!(r.bytes_freed, encoded_len(7, 5) * 2);
    assert_eq!(tags(&all(&ob)), ["new-h"]);
    let s = ob.stats();
    assert_eq!((s.dropped.expired.high, s.dropped.expired.low, s.records), (1, 1, 1));
    assert_eq!(s.oldest_enqueued_at_ms, Some(T0 + 30_000));
}

#[test]
fn lowering_max_bytes_across_reopen_evicts_on_enforce() {
    let dir = tempfile::tempdir().unwrap();
    {
        let ob = Outbox::open(dir.path(), small(10)).unwrap();
        for (i, p) in [Priority::High, Priority::Low, Priority::Normal, Priority::Low].into_iter().enumerate() {
            push(&ob, p, &format!("x0{i}"), T0);
        }
    }
    let ob = Outbox::open(dir.path(), small(2)).unwrap();
    let r = ob.enforce_limits(T0).unwrap();
    assert_eq!((r.full.low, r.full.normal, r.full.high), (2, 0, 0));
    assert_eq!(tags(&all(&ob)), ["x00", "x02"]);
}

#[test]
fn oversized_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig { max_record_bytes: 1024, ..batch_cfg() };
    let ob = Outbox::open(dir.path(), cfg).unwrap();
    let payload = vec![0u8; 1024 - 31 - 3];
    assert!(ob.push(Priority::High, "a/b", &payload, false, T0).is_ok(), "exactly at the limit fits");
    let err = ob.push(Priority::High, "a/b", &[0u8; 1024 - 31 - 2], false, T0).unwrap_err();
    assert!(matches!(err, OutboxError::RecordTooLarge { size: 1025, max: 1024 }), "{err}");
    let long_topic = "x".repeat(70_000);
    assert!(matches!(ob.push(Priority::Low, &long_topic, b"", false, T0), Err(OutboxError::TopicTooLong { .. })));
    let s = ob.stats();
    assert_eq!((s.records, s.refused_oversize), (1, 2));
}

#[test]
fn invalid_config_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = OutboxConfig { max_record_bytes: 10, max_bytes: 5, ..OutboxConfig::default() };
    assert!(matches!(Outbox::open(dir.path(), cfg), Err(OutboxError::InvalidConfig(_))));
}

#[test]
fn low_disk_holds_the_outbox_at_its_size_and_counts_disk_low() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let ob = Outbox::open(dir.path(), small(100)).unwrap();
    let free = Arc::new(AtomicU64::new(1 << 30));
    let probe = free.clone();
    ob.set_disk_probe(1 << 20, Box::new(move |_| Some(probe.load(Ordering::Relaxed))));
    for t in ["l00", "n00", "l01", "h00"] {
        let p = match &t[..1] { "h" => Priority::High, "n" => Priority::Normal, _ => Priority::Low };
        push(&ob, p, t, T0);
    }
    assert!(!ob.stats().disk_low);
    // The disk fills (by someone else): the next check, a second later, holds the outbox at 4 records.
    free.store(1000, Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(1050));
    push(&ob, Priority::Normal, "n01", T0);
    assert_eq!(tags(&all(&ob)), ["h00", "n00", "n01", "l01"], "the oldest low record made room");
    push(&ob, Priority::High, "h01", T0);
    assert_eq!(tags(&all(&ob)), ["h00", "h01", "n00", "n01"]);
    // A low record cannot displace the higher classes: dropped.
    assert_eq!(ob.push(Priority::Low, "t/l02", b"l02", false, T0).unwrap(), PushOutcome::Dropped);
    let s = ob.stats();
    assert!(s.disk_low);
    assert_eq!(s.disk_free_bytes, Some(1000));
    assert_eq!((s.records, s.bytes), (4, 4 * REC), "the outbox did not grow");
    assert_eq!((s.dropped.disk_low.low, s.dropped.full.low), (3, 0), "{:?}", s.dropped);
    // Space comes back: it grows again.
    free.store(1 << 30, Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(1050));
    push(&ob, Priority::Low, "l03", T0);
    assert_eq!(ob.stats().records, 5);
    assert!(!ob.stats().disk_low);
}
