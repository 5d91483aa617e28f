//! kill -9 of a writer process mid-stream: every push that returned Ok survives, the store opens
//! cleanly. The writer is this test binary re-run with an env var selecting `crash_writer_child`.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use crate::outbox::{FsyncPolicy, InFlight, Outbox, OutboxConfig, Priority, PushOutcome};

const DIR_VAR: &str = "KAITEKI_OUTBOX_CRASH_WRITER_DIR";
const POLICY_VAR: &str = "KAITEKI_OUTBOX_CRASH_WRITER_FSYNC";
/// Pushes the parent waits to see before it kills the writer.
const KILL_AFTER: usize = 300;

fn cfg(policy: &str) -> OutboxConfig {
    let fsync = if policy == "always" { FsyncPolicy::Always } else { FsyncPolicy::Batch { interval_ms: 50 } };
    OutboxConfig { fsync, ..OutboxConfig::default() }
}

/// Writer mode: a no-op unless the parent test set the env var.
#[test]
fn crash_writer_child() {
    let Ok(dir) = std::env::var(DIR_VAR) else { return };
    let policy = std::env::var(POLICY_VAR).unwrap_or_default();
    let ob = Outbox::open(std::path::Path::new(&dir), cfg(&policy)).unwrap();
    let out = std::io::stdout();
    let mut prev = None;
    // Bounded so a parent that died cannot leave it running forever.
    for i in 0..200_000u64 {
        let p = [Priority::Low, Priority::Normal, Priority::High][(i % 3) as usize];
        let payload = vec![(i % 251) as u8; 100 + (i as usize * 37) % 1900];
        let outcome = ob.push(p, &format!("crash/{i}"), &payload, false, 1_000 + i).unwrap();
        let PushOutcome::Stored { id, .. } = outcome else { panic!("dropped") };
        let mut o = out.lock();
        writeln!(o, "PUSHED {id}").unwrap();
        // Ack every third record; announce it first, so the parent knows it may be gone.
        if i % 3 == 2 {
            if let Some(prev) = prev {
                writeln!(o, "ACKING {prev}").unwrap();
                o.flush().unwrap();
                ob.ack(prev).unwrap();
            }
        }
        o.flush().unwrap();
        prev = Some(id);
    }
}

fn kill_writer_mid_stream(policy: &str) {
    let dir = tempfile::tempdir().unwrap();
    let module = module_path!().split_once("::").map_or(module_path!(), |(_, rest)| rest);
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([&format!("{module}::crash_writer_child"), "--exact", "--nocapture", "--test-threads=1"])
        .env(DIR_VAR, dir.path())
        .env(POLICY_VAR, policy)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut pushed, mut acking) = (BTreeSet::new(), BTreeSet::new());
    let mut record = |line: &str| {
        // libtest may print "test <name> ... " on the same line before the first one.
        if let Some((_, id)) = line.split_once("PUSHED ") {
            pushed.insert(id.parse::<u64>().unwrap());
        } else if let Some((_, id)) = line.split_once("ACKING ") {
            acking.insert(id.parse::<u64>().unwrap());
        }
    };
    let mut seen = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen += usize::from(line.contains("PUSHED "));
        record(&line);
        if seen >= KILL_AFTER {
            break;
        }
    }
    assert!(seen >= KILL_AFTER, "writer exited early after {seen} pushes");
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "writer should have been killed");
    for line in lines {
        record(&line.unwrap());
    }

    let ob = Outbox::open(dir.path(), cfg(policy)).expect("store opens cleanly after kill -9");
    let recs = ob.peek_batch(usize::MAX, InFlight::Include).unwrap();
    let present: BTreeSet<u64> = recs.iter().map(|r| r.id).collect();
    let missing: Vec<u64> = pushed.difference(&acking).filter(|id| !present.contains(id)).copied().collect();
    assert!(missing.is_empty(), "{policy}: pushes that returned Ok are gone: {missing:?}");
    let max_pushed = pushed.iter().max().copied().unwrap_or(0);
    // At most the push in progress at the kill may be there without having been reported.
    let unknown: Vec<u64> = present.iter().filter(|id| !pushed.contains(id) && **id != max_pushed + 1).copied().collect();
    assert!(unknown.is_empty(), "{policy}: ids never reported: {unknown:?} (max reported {max_pushed})");
    let s = ob.stats();
    assert_eq!((s.corrupt, s.store_files_quarantined), (0, 0));
    assert_eq!(s.records, recs.len() as u64);
    for p in Priority::DELIVERY_ORDER {
        let class: Vec<u64> = recs.iter().filter(|r| r.priority == p).map(|r| r.id).collect();
        assert!(class.windows(2).all(|w| w[0] < w[1]), "order within {p:?}");
    }
    // New ids continue above everything the dead writer used.
    let next = ob.push(Priority::High, "after", b"x", false, 0).unwrap().id().unwrap();
    assert!(next > max_pushed);
}

#[test]
fn kill_9_mid_stream_loses_nothing_acknowledged_fsync_always() {
    kill_writer_mid_stream("always");
}

#[test]
fn kill_9_mid_stream_loses_nothing_acknowledged_fsync_batch() {
    kill_writer_mid_stream("batch");
}
