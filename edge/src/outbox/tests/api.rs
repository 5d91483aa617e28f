//! Ordering, acks, in-flight window, reopen.

use std::sync::Arc;

use super::{all, ids, open, push, tags, T0};
use crate::outbox::{InFlight, Outbox, Priority};

#[test]
fn delivery_order_is_by_class_then_push_order() {
    let dir = tempfile::tempdir().unwrap();
    let ob = open(dir.path());
    for (p, tag) in [
        (Priority::Low, "l1"),
        (Priority::Normal, "n1"),
        (Priority::High, "h1"),
        (Priority::Low, "l2"),
        (Priority::High, "h2"),
        (Priority::Normal, "n2"),
    ] {
        push(&ob, p, tag, T0);
    }
    assert_eq!(tags(&all(&ob)), ["h1", "h2", "n1", "n2", "l1", "l2"]);
    assert_eq!(tags(&ob.peek_batch(3, InFlight::Include).unwrap()), ["h1", "h2", "n1"]);
    let recs = all(&ob);
    ob.ack(recs[0].id).unwrap();
    ob.ack(recs[2].id).unwrap();
    assert_eq!(tags(&all(&ob)), ["h2", "n2", "l1", "l2"]);
    let s = ob.stats();
    assert_eq!((s.records, s.depth.high, s.depth.normal, s.depth.low), (4, 1, 1, 2));
    assert_eq!(s.bytes, all(&ob).iter().map(|r| crate::outbox::encode(r).len() as u64).sum::<u64>());
    // Fields survive the store unchanged.
    let r = &all(&ob)[0];
    assert_eq!((r.topic.as_str(), r.retain, r.enqueued_at_ms, r.priority), ("t/h2", false, T0, Priority::High));
}

#[test]
fn ids_are_monotonic_across_reopen_even_after_acking_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut last = 0;
    for round in 0..3 {
        let ob = open(dir.path());
        for i in 0..4 {
            let id = push(&ob, Priority::Normal, &format!("r{round}-{i}"), T0);
            assert!(id > last, "id {id} not above {last}");
            last = id;
        }
        // Acking the highest id must not let it be reused (AUTOINCREMENT high-water mark).
        for r in all(&ob) {
            ob.ack(r.id).unwrap();
        }
        assert_eq!(ob.stats().records, 0);
    }
}

#[test]
fn unacked_records_come_back_in_order_after_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let ob = open(dir.path());
        for i in 0..20 {
            let p = [Priority::Low, Priority::Normal, Priority::High][i % 3];
            ob.push(p, &format!("t/{i}"), &vec![i as u8; i * 10], i % 2 == 0, T0 + i as u64).unwrap();
        }
        let out = ob.checkout_batch(5).unwrap();
        ob.ack(out[0].id).unwrap();
        all(&ob)
        // dropped here without acking the other 4 in-flight records
    };
    let ob = open(dir.path());
    assert_eq!(ob.stats().in_flight, 0);
    assert_eq!(all(&ob), before);
    assert_eq!(ob.checkout_batch(100).unwrap(), before, "previously in-flight records are delivered again");
    assert_eq!(before.len(), 19);
}

#[test]
fn in_flight_window_lets_pushes_continue_and_high_priority_jump_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let ob = open(dir.path());
    for i in 0..5 {
        push(&ob, Priority::Low, &format!("l{i}"), T0);
    }
    assert_eq!(tags(&ob.checkout_batch(2).unwrap()), ["l0", "l1"]);
    assert_eq!(tags(&ob.checkout_batch(2).unwrap()), ["l2", "l3"]);
    push(&ob, Priority::High, "h0", T0);
    assert_eq!(tags(&ob.checkout_batch(2).unwrap()), ["h0", "l4"]);
    assert!(ob.checkout_batch(2).unwrap().is_empty());
    assert_eq!(ob.stats().in_flight, 6);
    // Peek without excluding shows everything; with excluding, nothing.
    assert_eq!(all(&ob).len(), 6);
    assert!(ob.peek_batch(10, InFlight::Exclude).unwrap().is_empty());
    let l1 = all(&ob).into_iter().find(|r| r.payload == b"l1").unwrap();
    ob.release(l1.id);
    assert_eq!(tags(&ob.checkout_batch(10).unwrap()), ["l1"]);
    ob.ack(l1.id).unwrap();
    ob.ack(l1.id).unwrap(); // idempotent
    ob.ack(987_654).unwrap(); // unknown id is fine
    ob.release_all();
    assert_eq!(ob.stats().in_flight, 0);
    assert_eq!(tags(&ob.checkout_batch(10).unwrap()), ["h0", "l0", "l2", "l3", "l4"]);
    ob.ack_many(&ids(&all(&ob))).unwrap();
    let s = ob.stats();
    assert_eq!((s.records, s.bytes, s.in_flight, s.oldest_enqueued_at_ms), (0, 0, 0, None));
}

#[test]
fn oldest_age_tracks_acks() {
    let dir = tempfile::tempdir().unwrap();
    let ob = open(dir.path());
    let a = push(&ob, Priority::Low, "a", T0);
    push(&ob, Priority::High, "b", T0 + 5_000);
    assert_eq!(ob.stats().oldest_age_ms(T0 + 10_000), Some(10_000));
    ob.ack(a).unwrap();
    assert_eq!(ob.stats().oldest_age_ms(T0 + 10_000), Some(5_000));
}

#[test]
fn flush_and_close_leave_a_checkpointed_store() {
    let dir = tempfile::tempdir().unwrap();
    let ob = open(dir.path()); // batch: the sync thread runs
    push(&ob, Priority::Normal, "a", T0);
    ob.flush().unwrap();
    assert_eq!(ob.stats().sync_failures, 0);
    drop(ob); // joins the sync thread
    assert_eq!(tags(&all(&open(dir.path()))), ["a"]);
}

#[test]
fn concurrent_pushes_through_an_arc() {
    let dir = tempfile::tempdir().unwrap();
    let ob = Arc::new(open(dir.path()));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let ob = Arc::clone(&ob);
            std::thread::spawn(move || (0..50).map(|i| push(&ob, Priority::Normal, &format!("{t}-{i}"), T0)).collect::<Vec<_>>())
        })
        .collect();
    let mut got: Vec<u64> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    got.sort_unstable();
    got.dedup();
    assert_eq!(got.len(), 200);
    assert_eq!(ids(&all(&ob)), got, "delivery order within a class is id order");
    drop(ob);
    let _: Outbox = open(dir.path());
}
