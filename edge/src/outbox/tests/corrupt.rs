//! Corrupt records and store files are reported, counted and skipped; the rest is delivered.

use rusqlite::Connection;

use super::{all, open, push, tags, T0};
use crate::outbox::{InFlight, Priority, STORE_FILE};

fn raw(dir: &std::path::Path) -> Connection {
    Connection::open(dir.join(STORE_FILE)).unwrap()
}

#[test]
fn corrupt_records_found_at_delivery_are_quarantined_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<u64> = {
        let ob = open(dir.path());
        (0..5).map(|i| push(&ob, Priority::Normal, &format!("r{i}"), T0)).collect()
    };
    {
        let c = raw(dir.path());
        // Garbage value, a single flipped bit (checksum), and a row whose body belongs to another id.
        c.execute("UPDATE records SET body = x'deadbeef' WHERE id = ?1", [ids[1] as i64]).unwrap();
        let mut body: Vec<u8> =
            c.query_row("SELECT body FROM records WHERE id = ?1", [ids[3] as i64], |r| r.get(0)).unwrap();
        body[30] ^= 0x01; // last topic byte, still valid UTF-8: only the checksum catches it
        c.execute("UPDATE records SET body = ?2 WHERE id = ?1", rusqlite::params![ids[3] as i64, body]).unwrap();
        let other: Vec<u8> =
            c.query_row("SELECT body FROM records WHERE id = ?1", [ids[0] as i64], |r| r.get(0)).unwrap();
        c.execute("UPDATE records SET body = ?2 WHERE id = ?1", rusqlite::params![ids[4] as i64, other]).unwrap();
    }
    let ob = open(dir.path());
    assert_eq!(ob.stats().records, 5, "corruption is found when records are read");
    assert_eq!(tags(&all(&ob)), ["r0", "r2"]);
    let s = ob.stats();
    assert_eq!((s.records, s.corrupt, s.dropped.corrupt.normal), (2, 3, 3));
    drop(ob);
    let c = raw(dir.path());
    let reasons: Vec<String> = c
        .prepare("SELECT reason FROM quarantine ORDER BY record_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(reasons.len(), 3);
    assert!(reasons[0].contains("shorter"), "{reasons:?}");
    assert!(reasons[1].contains("checksum"), "{reasons:?}");
    assert!(reasons[2].contains("id"), "{reasons:?}");
    drop(c);
    let ob = open(dir.path());
    assert_eq!(tags(&all(&ob)), ["r0", "r2"]);
    assert_eq!(ob.stats().corrupt, 0, "the counter is per process; the quarantined rows are gone");
}

#[test]
fn corruption_while_open_is_skipped_mid_batch() {
    let dir = tempfile::tempdir().unwrap();
    let ob = open(dir.path());
    let ids: Vec<u64> = (0..4).map(|i| push(&ob, Priority::High, &format!("h{i}"), T0)).collect();
    ob.with_store(|s| s.conn().execute("UPDATE records SET body = zeroblob(40) WHERE id = ?1", [ids[0] as i64]).unwrap());
    assert_eq!(tags(&ob.checkout_batch(2).unwrap()), ["h1", "h2"], "the batch is still filled");
    assert_eq!(tags(&ob.peek_batch(10, InFlight::Exclude).unwrap()), ["h3"]);
    assert_eq!(ob.stats().corrupt, 1);
}

#[test]
fn rows_with_an_unknown_priority_are_quarantined_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let ob = open(dir.path());
        push(&ob, Priority::Low, "ok", T0);
        push(&ob, Priority::Low, "bad", T0)
    };
    raw(dir.path()).execute("UPDATE records SET priority = 7 WHERE id = ?1", [id as i64]).unwrap();
    let ob = open(dir.path());
    assert_eq!(tags(&all(&ob)), ["ok"]);
    let s = ob.stats();
    assert_eq!((s.records, s.corrupt), (1, 1));
}

#[test]
fn an_unreadable_store_file_is_moved_aside_and_a_fresh_one_started() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(STORE_FILE), vec![0x5Au8; 8192]).unwrap();
    let ob = open(dir.path());
    assert_eq!(ob.stats().store_files_quarantined, 1);
    push(&ob, Priority::High, "after", T0);
    assert_eq!(tags(&all(&ob)), ["after"]);
    assert!(dir.path().join("outbox.sqlite.corrupt-0").exists());
}
