//! Lossless delivery end to end: a real broker, the real daemon and its on-disk outbox.
//!
//! The daemon summarises a test-pattern video every 0.1 s of stream time and plays it as fast as it can,
//! which makes real scene-summary events at hundreds per second: 10 100 per play of the file. Through a
//! 30-second broker outage with a kill -9 of the daemon in the middle (the restarted daemon plays the file
//! again from the start), every sequence number that reached the outbox must arrive at least once, and
//! copies of one event must carry the same id. A second test fills a tiny outbox
//! while the broker is away: the drop policy is applied, counted and reported, and the camera keeps its
//! frame rate. Two more run against a broker whose ACL denies some of the device's topics: over MQTT 5
//! the refused events stay in the outbox and arrive once the ACL is fixed; over MQTT 3.1.1 the broker
//! acknowledges them anyway and they are lost, which is why 5 is the default.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::*;

const DEVICE: &str = "e2e-delivery";
const TARGET_EVENTS: u64 = 10_000;

struct Play {
    looping: bool,
    realtime: bool,
}

/// The daemon's config: `storage_extra` goes after `[storage]`, `mqtt_extra` into `[mqtt]`.
fn config(dir: &Path, video: &Path, broker_port: u16, http: u16, play: Play, storage_extra: &str, mqtt_extra: &str) -> PathBuf {
    let cfg = format!(
        r#"
device_id = "{DEVICE}"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
{storage_extra}
[models.fixture]
manifest = "{manifest}"
backend = "tract"
threads = 1
[cameras.pattern]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "fixture"
loop = {looping}
realtime = {realtime}
# Inference on one frame in 101 (a debug build runs the model at ~20 frames/s): the events come from the
# summary windows, which close on every other frame whether or not the model ran.
[cameras.pattern.detect]
gate = {{ mode = "change", changed_fraction = 1.0, pixel_delta = 255, max_skip = 100 }}
[cameras.pattern.summary]
interval_s = 0.1
[mqtt]
port = {broker_port}
{mqtt_extra}
[http]
listen = "127.0.0.1:{http}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.join("state").display(),
        manifest = repo_path("models/fixtures/rdd_fixture_yolov8.toml"),
        video = video.display(),
        looping = play.looping,
        realtime = play.realtime,
    );
    let path = dir.join("delivery.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// (seq, id) of every event received so far: mostly scene summaries, plus the `model_status` of each
/// start (and `health` when a camera changes state); all share one numbering.
fn received(sub: &Subscriber) -> Vec<(u64, String)> {
    sub.events()
        .iter()
        .map(|e| (e["seq"].as_u64().expect("seq"), e["id"].as_str().expect("id").to_string()))
        .collect()
}

fn max_seq(sub: &Subscriber) -> Option<u64> {
    received(sub).iter().map(|(s, _)| *s).max()
}

#[test]
fn ten_thousand_events_survive_a_broker_outage_and_a_kill_9() {
    let dir = test_dir();
    let port = free_port();
    let broker = Broker::start_persistent(dir.path(), port);
    let sub = Subscriber::start_persistent(port, &format!("kaiteki/v1/{DEVICE}/events/#"), "e2e-delivery-consumer");
    // 10 fps with 0.1 s windows: a summary every other frame, so 10 100 per play.
    let video = test_pattern_video(dir.path(), "pattern", 2 * 10_100, 10, 96, 64);
    let http = free_port();
    let cfg = config(dir.path(), &video, port, http, Play { looping: false, realtime: false }, "", "");
    let mut daemon = start_daemon(dir.path(), &cfg, &[]);

    // Connected and delivering.
    wait_until(Duration::from_secs(120), || (received(&sub).len() >= 1500).then_some(()))
        .unwrap_or_else(|| panic!("fewer than 1500 events in 120 s: {}", daemon.log_text()));
    let before_outage = received(&sub).len();

    // The outage: 30 s without a broker. In its middle the daemon is killed (-9) and started again.
    let outage = Instant::now();
    broker.stop();
    // The kill lands while the file is still playing, once the outbox holds a few thousand events (or
    // after 20 s on a slow machine).
    let mut stored = 0.0;
    while outage.elapsed() < Duration::from_secs(20) && stored < 3000.0 {
        std::thread::sleep(Duration::from_millis(100));
        stored = metric(&http_get(http, "/metrics").map(|(_, b)| b).unwrap_or_default(), "outbox_records", "");
    }
    let (_, st) = http_get(http, "/api/status").unwrap();
    assert!(st.contains("\"streaming\""), "the file ended before the kill; make it longer: {st}");
    assert!(stored > 500.0, "the outbox should hold the outage's events, holds {stored}");
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    let mut daemon = start_daemon(dir.path(), &cfg, &[]);
    std::thread::sleep(Duration::from_secs(30).saturating_sub(outage.elapsed()));
    let _broker = Broker::start_persistent(dir.path(), port);

    // After the outage: the file plays to its end and the outbox drains.
    wait_until(Duration::from_secs(300), || {
        let (_, body) = http_get(http, "/api/status")?;
        let st: serde_json::Value = serde_json::from_str(&body).ok()?;
        (st["cameras"][0]["state"] == "finished" && st["outbox"]["depth"] == 0).then_some(())
    })
    .unwrap_or_else(|| {
        panic!("not played and drained in 300 s: {:?} {}", http_get(http, "/api/status"), daemon.log_text())
    });
    let restart_log = daemon.log_text();
    assert!(restart_log.contains("outbox holds events from before the restart"), "{restart_log}");
    daemon.terminate();
    let exit = daemon.wait_exit(Duration::from_secs(60)).unwrap_or_else(|| panic!("no exit: {}", daemon.log_text()));
    assert!(exit.success(), "{exit:?}: {}", daemon.log_text());
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "{log}");

    // The daemon's own record of what it stored, from its state folder.
    let outbox = kaiteki::outbox::Outbox::open(&dir.path().join("state/outbox"), Default::default()).unwrap();
    let last = outbox.last_event_seq().unwrap().expect("the outbox recorded the last event number");
    let left = outbox.stats().records;
    drop(outbox);
    // Nothing was left undelivered; give the consumer a moment for the last acknowledged ones.
    assert_eq!(left, 0, "events left in the outbox after a clean stop with the broker up");
    wait_until(Duration::from_secs(20), || (max_seq(&sub)? >= last).then_some(()))
        .unwrap_or_else(|| panic!("the last stored event {last} never arrived (max {:?})", max_seq(&sub)));

    let got = received(&sub);
    let mut ids: BTreeMap<u64, BTreeSet<String>> = BTreeMap::new();
    for (seq, id) in &got {
        ids.entry(*seq).or_default().insert(id.clone());
    }
    let missing: Vec<u64> = (0..=last).filter(|s| !ids.contains_key(s)).collect();
    assert!(missing.is_empty(), "{} of {} sequence numbers never arrived, first {:?}", missing.len(), last + 1, &missing[..missing.len().min(20)]);
    assert!(last + 1 >= TARGET_EVENTS, "only {} events", last + 1);
    assert_eq!(ids.keys().next_back(), Some(&last), "an event numbered after the last stored one");
    // Copies (redeliveries after the reconnects and the kill) are recognisable: one id per number, one
    // number per id.
    let conflicting: Vec<_> = ids.iter().filter(|(_, v)| v.len() > 1).take(5).collect();
    assert!(conflicting.is_empty(), "one sequence number, several ids: {conflicting:?}");
    let distinct_ids: BTreeSet<&String> = got.iter().map(|(_, id)| id).collect();
    assert_eq!(distinct_ids.len(), ids.len(), "one id under several sequence numbers");
    let duplicates = got.len() - ids.len();
    eprintln!(
        "delivered {} events (numbers 0..={last}) with {duplicates} duplicate copies; {before_outage} before the \
         outage, {stored} in the outbox at the kill",
        ids.len()
    );
    // The committed schema holds for a sample of them (validating all 10 000 would only cost time).
    for ev in sub.on_topic("/events/scene_summary").iter().step_by(97) {
        assert_valid_event(ev);
    }
    // A clean stop records where numbering continues: the next run starts right after `last`.
    let seq_file = std::fs::read_to_string(dir.path().join("state/seq")).unwrap();
    assert!(seq_file.contains(&format!("next={}", last + 1)), "{seq_file}");
}

/// `kaiteki_<name>` (or `kaiteki_<name>_total`) samples from a Prometheus text page, summed over the
/// lines containing `filter`.
fn metric(page: &str, name: &str, filter: &str) -> f64 {
    let full = format!("kaiteki_{name}");
    page.lines()
        .filter(|l| l.starts_with(&full) && l.contains(filter))
        // The name itself or a counter's `_total`, not a longer name that starts the same.
        .filter(|l| {
            let rest = &l[full.len()..];
            let rest = rest.strip_prefix("_total").unwrap_or(rest);
            rest.starts_with(['{', ' '])
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn a_full_outbox_drops_by_policy_counts_it_and_keeps_the_frame_rate() {
    let dir = test_dir();
    // No broker at all: everything stays in the outbox, which holds only a few dozen summaries.
    let dead_port = free_port();
    let video = test_pattern_video(dir.path(), "pattern25", 50, 25, 160, 120);
    let http = free_port();
    let cfg = config(dir.path(), &video, dead_port, http, Play { looping: true, realtime: true }, "[storage.outbox]\nmax_bytes = 20000\nmax_record_bytes = 4096\n", "");
    let mut daemon = start_daemon(dir.path(), &cfg, &[]);
    let page = || http_get(http, "/metrics").map(|(_, b)| b);

    // Full and dropping: 25 fps with 0.1 s windows is ~8 summaries a second of ~0.7 kB each.
    wait_until(Duration::from_secs(60), || {
        let p = page()?;
        (metric(&p, "outbox_dropped", "reason=\"full\"") > 0.0).then_some(())
    })
    .unwrap_or_else(|| panic!("no drop counted in 60 s: {}\n{}", page().unwrap_or_default(), daemon.log_text()));
    // While it drops, the camera plays at the file's real rate.
    let processed = |p: &str| metric(p, "camera_frames_processed", "camera=\"pattern\"");
    let (p0, t0) = (processed(&page().unwrap()), Instant::now());
    std::thread::sleep(Duration::from_secs(8));
    let p1 = page().unwrap();
    let fps = (processed(&p1) - p0) / t0.elapsed().as_secs_f64();
    assert!(fps > 22.0 && fps < 27.5, "the camera analysed {fps:.1} frames/s of a 25 fps file while the outbox was full");
    let dropped = metric(&p1, "outbox_dropped", "reason=\"full\"");
    assert!(dropped >= 20.0, "only {dropped} drops counted in 8 s of a full outbox");
    // The bound holds, and the drop is reported where operators look: the status API and the log.
    let bytes = metric(&p1, "outbox_bytes", "");
    assert!(bytes <= 20000.0, "outbox holds {bytes} bytes over its 20000-byte bound");
    let (_, status) = http_get(http, "/api/status").unwrap();
    let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_else(|e| panic!("{e}: {status}"));
    let full = status.pointer("/outbox/dropped/full").unwrap_or_else(|| panic!("no outbox drops in /api/status: {status}"));
    let reported: u64 = ["high", "normal", "low"].iter().filter_map(|p| full[p].as_u64()).sum();
    assert!(reported as f64 >= dropped, "/api/status reports {reported} drops, the metrics {dropped}: {status}");
    let log = daemon.log_text();
    assert!(log.contains("outbox full"), "{log}");
    daemon.terminate();
    assert!(daemon.wait_exit(Duration::from_secs(30)).is_some_and(|s| s.success()), "{}", daemon.log_text());
    assert!(!daemon.log_text().contains("panicked"));
}

/// A daemon for the broker-refusal tests: a short looping test pattern, NGSI-LD on (its Device and
/// PrivacyObject entities go to `…/ngsi-ld/…`, which the broker's ACL denies), refused records offered
/// again every 2 s.
fn acl_config(dir: &Path, port: u16, http: u16, protocol: &str) -> PathBuf {
    let video = test_pattern_video(dir, "acl", 100, 10, 320, 240);
    let mqtt = format!("protocol = \"{protocol}\"\nngsi_ld = true\nrefused_retry_s = 2");
    config(dir, &video, port, http, Play { looping: true, realtime: true }, "", &mqtt)
}

/// A broker whose ACL lets the device publish its status, privacy manifest and events, not NGSI-LD.
fn acl_broker(dir: &Path, ngsi_allowed: bool) -> (Broker, PathBuf) {
    let acl = dir.join("acl");
    write_acl(&acl, ngsi_allowed);
    let broker = Broker::start_with(dir, &format!("acl_file {}\nlog_type all\n", acl.display()));
    (broker, acl)
}

fn write_acl(path: &Path, ngsi_allowed: bool) {
    let mut text = format!(
        "topic read kaiteki/v1/#\ntopic write kaiteki/v1/{DEVICE}/status\ntopic write kaiteki/v1/{DEVICE}/privacy\n\
         topic write kaiteki/v1/{DEVICE}/events/#\n"
    );
    if ngsi_allowed {
        text.push_str(&format!("topic write kaiteki/v1/{DEVICE}/ngsi-ld/#\n"));
    }
    std::fs::write(path, text).unwrap();
}

fn mqtt_status(http: u16) -> Option<serde_json::Value> {
    let (_, body) = http_get(http, "/api/status")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    Some(v)
}

#[test]
fn publications_the_broker_refuses_stay_in_the_outbox_over_mqtt_5() {
    let dir = test_dir();
    let (broker, acl) = acl_broker(dir.path(), false);
    let sub = Subscriber::start(broker.port, &format!("kaiteki/v1/{DEVICE}/#"));
    let http = free_port();
    let mut daemon = start_daemon(dir.path(), &acl_config(dir.path(), broker.port, http, "5"), &[]);

    // Events flow; the two NGSI-LD entities are refused (MQTT 5 reason NotAuthorized), counted, and kept.
    let st = wait_until(Duration::from_secs(60), || {
        let v = mqtt_status(http)?;
        (v["mqtt"]["refused"].as_u64()? >= 2 && !sub.on_topic("/events/scene_summary").is_empty()).then_some(v)
    })
    .unwrap_or_else(|| panic!("no refusal counted: {:?}\n{}", mqtt_status(http), daemon.log_text()));
    assert!(st["mqtt"]["last_error"].as_str().unwrap_or("").contains("NotAuthorized"), "{st}");
    assert!(st["outbox"]["depth"].as_u64().unwrap() >= 2, "the refused entities must stay in the outbox: {st}");
    assert!(daemon.log_text().contains("the broker refused a publication"), "{}", daemon.log_text());
    let (_, metrics) = http_get(http, "/metrics").unwrap();
    assert!(metrics.lines().any(|l| l.starts_with("kaiteki_mqtt_refused_total ") && !l.ends_with(" 0")), "{metrics}");
    assert!(sub.messages.lock().unwrap().iter().all(|(t, _, _)| !t.contains("/ngsi-ld/")), "the broker let NGSI-LD through");

    // The operator fixes the ACL (mosquitto rereads it on SIGHUP): the kept entities arrive, nothing lost.
    write_acl(&acl, true);
    let _ = Command::new("kill").arg("-HUP").arg(broker.proc.pid().to_string()).status();
    let device = wait_until(Duration::from_secs(30), || sub.on_topic("/ngsi-ld/Device").into_iter().next())
        .unwrap_or_else(|| panic!("the refused Device entity never arrived: {}", daemon.log_text()));
    assert_eq!(device["id"], format!("urn:ngsi-ld:Device:{DEVICE}"));
    assert!(wait_until(Duration::from_secs(30), || (!sub.on_topic("/ngsi-ld/PrivacyObject").is_empty()).then_some(())).is_some());
    daemon.terminate();
    assert!(!daemon.log_text().contains("panicked"));
}

#[test]
fn over_mqtt_3_1_1_the_same_refusals_are_acknowledged_and_lost() {
    // Why MQTT 5 is the default: a 3.1.1 broker acknowledges a publication its ACL denies like any other.
    let dir = test_dir();
    let (broker, _) = acl_broker(dir.path(), false);
    let sub = Subscriber::start(broker.port, &format!("kaiteki/v1/{DEVICE}/#"));
    let http = free_port();
    let mut daemon = start_daemon(dir.path(), &acl_config(dir.path(), broker.port, http, "3.1.1"), &[]);
    wait_until(Duration::from_secs(60), || (sub.on_topic("/events/scene_summary").len() >= 3).then_some(()))
        .unwrap_or_else(|| panic!("no events over 3.1.1: {}", daemon.log_text()));
    assert_eq!(mqtt_status(http).unwrap()["mqtt"]["refused"], 0, "3.1.1 cannot tell a refusal");
    daemon.terminate();
    assert!(daemon.wait_exit(Duration::from_secs(20)).is_some());
    let log = broker.proc.log_text();
    assert!(log.contains("Denied PUBLISH"), "the broker did not deny anything: {log}");
    // The clean stop drained the outbox: the denied entities were deleted as if delivered.
    let outbox = kaiteki::outbox::Outbox::open(&dir.path().join("state/outbox"), Default::default()).unwrap();
    assert_eq!(outbox.stats().records, 0, "the denied records were acknowledged and deleted");
    assert!(sub.messages.lock().unwrap().iter().all(|(t, _, _)| !t.contains("/ngsi-ld/")), "and never delivered");
}
