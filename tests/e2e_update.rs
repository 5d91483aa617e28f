//! Signed model updates end to end: the operator CLI (`kaiteki model keygen | pack | sign | push`), a real
//! mosquitto broker and the daemon running CenterNet on vtest.avi. Each bad update is refused with a
//! status that says why while CenterNet keeps serving; NanoDet (../shared/data/models) then arrives in
//! pieces (a truncated transfer, a tampered chunk, a broker restart in the middle) and is swapped in
//! without a restart; a model that stops finding anything is rolled back by itself; a kill -9 in the
//! middle of a transfer resumes after the restart, and one during a watch window falls back to the
//! proven model and watches the new one again.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::*;

const DEVICE: &str = "e2e-update";

fn kaiteki(args: &[&str]) -> String {
    let out = Command::new(kaiteki_bin()).env("ORT_DYLIB_PATH", ort_lib()).args(args).output().unwrap();
    assert!(out.status.success(), "kaiteki {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A manifest and its model file side by side in `dir/name/`, with the manifest's name and classes
/// optionally changed (the classes keep their count, so the model still matches).
fn model_dir(dir: &Path, name: &str, manifest: &Path, onnx: &Path, classes: Option<&str>) -> PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    let mut text = std::fs::read_to_string(manifest).unwrap();
    let file = onnx.file_name().unwrap().to_str().unwrap();
    if let Some(c) = classes {
        let start = text.find("names = [").unwrap();
        let end = start + text[start..].find(']').unwrap() + 1;
        text.replace_range(start..end, &format!("names = [{c}]"));
    }
    let m = d.join("model.toml");
    std::fs::write(&m, text).unwrap();
    std::fs::copy(onnx, d.join(file)).unwrap();
    m
}

/// Packs and signs with `key`; returns the bundle.
fn bundle(dir: &Path, name: &str, version: &str, manifest: &Path, selftest: Option<&Path>, key: &Path) -> PathBuf {
    let out = dir.join(format!("{name}.ktb"));
    let mut args = vec!["model", "pack", "--slot", "people", "--version", version, "--manifest", s(manifest), "--out", s(&out)];
    if let Some(t) = selftest {
        args.extend(["--selftest", s(t)]);
    }
    kaiteki(&args);
    kaiteki(&["model", "sign", "--key", s(key), s(&out)]);
    out
}

fn push(port: u16, bundle: &Path, extra: &[&str]) {
    let p = port.to_string();
    let mut args = vec!["model", "push", "--port", &p, "--device", DEVICE, "--chunk-size", "262144"];
    args.extend_from_slice(extra);
    args.push(s(bundle));
    kaiteki(&args);
}

fn statuses(sub: &Subscriber) -> Vec<serde_json::Value> {
    sub.on_topic(&format!("{DEVICE}/update/status"))
}

/// The first status for `version` in one of `states` after the first `skip` statuses.
fn wait_status(sub: &Subscriber, daemon: &Proc, skip: usize, version: &str, states: &[&str], secs: u64) -> serde_json::Value {
    wait_until(Duration::from_secs(secs), || {
        statuses(sub).into_iter().skip(skip).find(|v| v["version"] == version && states.iter().any(|s| v["state"] == *s))
    })
    .unwrap_or_else(|| panic!("no {states:?} status for {version}; statuses: {:#?}\n{}", statuses(sub), daemon.log_text()))
}

fn serving(http: u16) -> String {
    let (_, body) = http_get(http, "/api/status").unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    v["cameras"][0]["model"].as_str().unwrap_or("").to_string()
}

fn config(dir: &Path, broker: u16, http: u16, trusted: &str) -> PathBuf {
    let cfg = format!(
        r#"
device_id = "{DEVICE}"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.people]
manifest = "{manifest}"
backend = "ort"
threads = 2
[cameras.campus]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "people"
loop = true
[cameras.campus.detect]
classes = ["person"]
{analytics}
[mqtt]
port = {broker}
[http]
listen = "127.0.0.1:{http}"
[updates]
enabled = true
watch_s = 6
rollback = {{ min_frames = 5 }}
[[updates.trusted_keys]]
key = "{trusted}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.join("state").display(),
        manifest = repo_path("models/centernet_human_512.toml"),
        video = media("vtest.avi").display(),
        analytics = vtest_analytics("campus"),
    );
    let path = dir.join("update.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

#[test]
fn signed_updates_are_verified_swapped_rolled_back_and_resumed() {
    let dir = test_dir();
    let d = dir.path();
    let mut broker = Broker::start(d);
    let port = broker.port;
    let sub = Subscriber::start(port, &format!("kaiteki/v1/{DEVICE}/#"));
    let http = free_port();

    // Keys: the operator's (trusted by the device) and a stranger's.
    kaiteki(&["model", "keygen", "--name", "ops", "--out-dir", s(d)]);
    kaiteki(&["model", "keygen", "--name", "rogue", "--out-dir", s(d)]);
    let (ops, rogue) = (d.join("ops.key"), d.join("rogue.key"));
    let ops_pub = std::fs::read_to_string(d.join("ops.pub")).unwrap();
    let ops_line = ops_pub.lines().nth(1).unwrap().trim().to_string();

    // Models: NanoDet (the update), the RDD fixture (wrong classes), the fixture relabelled as road users
    // (loads and passes every check, but finds nothing on a real street: it must be rolled back).
    let nanodet_onnx = shared_data().join("models/nanodet_human_416.onnx");
    let nanodet = model_dir(d, "nanodet", &repo_root().join("models/nanodet_human_416.toml"), &nanodet_onnx, None);
    let fixture_onnx = repo_root().join("models/fixtures/rdd_fixture_yolov8.onnx");
    let rdd = model_dir(d, "rdd", &repo_root().join("models/fixtures/rdd_fixture_yolov8.toml"), &fixture_onnx, None);
    let blind = model_dir(d, "blind", &repo_root().join("models/fixtures/rdd_fixture_yolov8.toml"), &fixture_onnx, Some(r#""person", "bicycle", "car", "truck""#));

    // Self-tests made the operator's way: run the model centrally, keep what it found.
    let dog = media("dog.jpg");
    let found = kaiteki(&["detect", "--model", s(&nanodet), s(&dog)]);
    let line: serde_json::Value = serde_json::from_str(found.lines().last().unwrap()).unwrap();
    let best = &line["detections"][0];
    let b: Vec<f64> = best["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    let selftest = |name: &str, label: &str, bbox: [f64; 4]| {
        let t = d.join(name);
        std::fs::create_dir_all(&t).unwrap();
        std::fs::copy(&dog, t.join("dog.jpg")).unwrap();
        let expected = serde_json::json!({"format": "kaiteki-selftest-v1", "iou": 0.5, "frames": [
            {"image": "dog.jpg", "detections": [{"label": label, "box": bbox, "min_score": 0.2}]}]});
        std::fs::write(t.join("expected.json"), expected.to_string()).unwrap();
        t
    };
    let good_test = selftest("selftest-good", best["label"].as_str().unwrap(), [b[0], b[1], b[2] - b[0], b[3] - b[1]]);
    let bad_test = selftest("selftest-bad", "person", [0.0, 0.0, 40.0, 40.0]);

    let cfg = config(d, port, http, &ops_line);
    let mut daemon = start_daemon(d, &cfg, &[]);
    wait_until(Duration::from_secs(60), || serving(http).starts_with("centernet").then_some(()))
        .unwrap_or_else(|| panic!("CenterNet is not serving: {}", daemon.log_text()));

    // 1. A signature that does not verify with the key it names.
    let forged = bundle(d, "forged", "2.0.0", &nanodet, Some(&good_test), &rogue);
    let sig_path = PathBuf::from(format!("{}.sig", forged.display()));
    let mut sig: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&sig_path).unwrap()).unwrap();
    let ops_id = kaiteki(&["model", "verify", "--trust", s(&d.join("ops.pub")), s(&bundle(d, "probe", "0.0.1", &nanodet, None, &ops))]);
    let ops_id = ops_id.trim().rsplit(' ').next().unwrap().to_string();
    sig["key_id"] = ops_id.clone().into();
    std::fs::write(&sig_path, sig.to_string()).unwrap();
    push(port, &forged, &[]);
    let st = wait_status(&sub, &daemon, 0, "2.0.0", &["rejected"], 30);
    assert!(st["reason"].as_str().unwrap().contains(&format!("bad signature by key {ops_id}")), "{st}");

    // 2. Signed by a key the device does not trust.
    let n = statuses(&sub).len();
    let stranger = bundle(d, "stranger", "2.0.0", &nanodet, Some(&good_test), &rogue);
    push(port, &stranger, &[]);
    let st = wait_status(&sub, &daemon, n, "2.0.0", &["rejected"], 30);
    assert!(st["reason"].as_str().unwrap().contains("signature by unknown key"), "{st}");

    // 3. Older than what runs (CenterNet's manifest says 1.0.0), without the operator's explicit consent.
    let n = statuses(&sub).len();
    let old = bundle(d, "old", "0.9.0", &nanodet, None, &ops);
    push(port, &old, &[]);
    let st = wait_status(&sub, &daemon, n, "0.9.0", &["rejected"], 30);
    assert!(st["reason"].as_str().unwrap().contains("downgrade from 1.0.0 to 0.9.0 refused"), "{st}");

    // 4. A model whose classes the crowd analytics cannot use.
    let n = statuses(&sub).len();
    let wrong = bundle(d, "rdd", "1.1.0", &rdd, None, &ops);
    push(port, &wrong, &[]);
    let st = wait_status(&sub, &daemon, n, "1.1.0", &["rejected"], 60);
    assert!(st["reason"].as_str().unwrap().contains("camera campus needs class `person`"), "{st}");

    // 5. A model that fails its self-test.
    let n = statuses(&sub).len();
    let failing = bundle(d, "failing", "1.2.0", &nanodet, Some(&bad_test), &ops);
    push(port, &failing, &[]);
    let st = wait_status(&sub, &daemon, n, "1.2.0", &["rejected"], 60);
    assert!(st["reason"].as_str().unwrap().contains("self-test failed on dog.jpg"), "{st}");
    assert!(serving(http).starts_with("centernet"), "CenterNet must still serve: {}", serving(http));

    // 6. NanoDet 2.0.0, the hard way: the first ten chunks only, then a tampered chunk, then a broker
    //    restart (which loses every retained message), then the whole bundle again.
    let n = statuses(&sub).len();
    let good = bundle(d, "nanodet", "2.0.0", &nanodet, Some(&good_test), &ops);
    push(port, &good, &["--chunks", "0-9"]);
    let st = wait_status(&sub, &daemon, n, "2.0.0", &["receiving"], 30);
    let total = st["progress"]["total"].as_u64().unwrap();
    assert!(total > 20, "{st}");
    wait_until(Duration::from_secs(20), || statuses(&sub).iter().skip(n).any(|v| v["progress"]["have"] == 10).then_some(()))
        .unwrap_or_else(|| panic!("ten chunks not reported: {:#?}", statuses(&sub)));
    {
        // Chunk 10 with one byte of its data flipped (the topic and header are right).
        use kaiteki::update::chunk::split;
        let bytes = std::fs::read(&good).unwrap();
        let mut enc = split(&bytes[..], 262_144).unwrap().remove(10).encode();
        let last = enc.len() - 1;
        enc[last] ^= 0xff;
        let digest = hex_sha256(&bytes);
        publish_raw(port, &format!("kaiteki/v1/updates/{digest}/chunks/10"), enc);
    }
    let st = wait_until(Duration::from_secs(20), || {
        statuses(&sub).into_iter().skip(n).find(|v| v["reason"].as_str().is_some_and(|r| r.contains("chunk 10")))
    })
    .unwrap_or_else(|| panic!("tampered chunk not reported: {:#?}", statuses(&sub)));
    assert_eq!(st["state"], "receiving", "{st}");
    assert!(serving(http).starts_with("centernet"));
    drop(broker);
    std::thread::sleep(Duration::from_secs(1));
    broker = Broker::start_on(d, port);
    let n_restart = statuses(&sub).len();
    wait_until(Duration::from_secs(30), || daemon.log_text().contains("model updates: connected").then_some(())).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    push(port, &good, &[]);
    let active = wait_status(&sub, &daemon, n, "2.0.0", &["active"], 90);
    // Resumed, not restarted: progress after the broker restart starts above the ten chunks kept on disk.
    let first_after = statuses(&sub)
        .into_iter()
        .skip(n_restart)
        .find_map(|v| v["progress"]["have"].as_u64())
        .unwrap_or(total);
    assert!(first_after > 10, "the transfer started over: first progress after the restart {first_after}");
    let reason = active["reason"].as_str().unwrap();
    let gap_ms: f64 = reason.split("detection gap ").nth(1).and_then(|r| r.split(' ').next()).and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no detection gap in {active}"));
    assert!(gap_ms < 1000.0, "detection gap {gap_ms} ms: {active}");
    assert_eq!(active["previous_version"], "1.0.0", "{active}");
    wait_until(Duration::from_secs(10), || serving(http).starts_with("nanodet").then_some(()))
        .unwrap_or_else(|| panic!("NanoDet is not serving: {}", serving(http)));
    let passed = wait_until(Duration::from_secs(60), || {
        statuses(&sub).into_iter().skip(n).find(|v| v["state"] == "active" && v["reason"].as_str().is_some_and(|r| r.contains("watch window passed")))
    })
    .unwrap_or_else(|| panic!("no watch verdict: {:#?}\n{}", statuses(&sub), daemon.log_text()));
    println!("NanoDet active: {passed}");
    println!("detection gap during the swap: {gap_ms} ms");

    // 7. A model that stops finding anything after activation: rolled back to NanoDet by itself.
    let n = statuses(&sub).len();
    let blind_b = bundle(d, "blind", "3.0.0", &blind, None, &ops);
    push(port, &blind_b, &[]);
    let st = wait_status(&sub, &daemon, n, "3.0.0", &["rolled_back"], 90);
    assert!(st["reason"].as_str().unwrap().contains("rolled back to 2.0.0: detection rate fell"), "{st}");
    wait_until(Duration::from_secs(10), || serving(http).starts_with("nanodet").then_some(()))
        .unwrap_or_else(|| panic!("NanoDet is not back: {}", serving(http)));

    // 8. kill -9 in the middle of a transfer: the restarted daemon serves NanoDet 2.0.0 (recorded as
    //    active), resumes the transfer from disk and installs 3.1.0.
    let n = statuses(&sub).len();
    let next = bundle(d, "nanodet31", "3.1.0", &nanodet, None, &ops);
    push(port, &next, &["--chunks", "0-19"]);
    wait_until(Duration::from_secs(30), || statuses(&sub).iter().skip(n).any(|v| v["version"] == "3.1.0" && v["progress"]["have"] == 20).then_some(()))
        .unwrap_or_else(|| panic!("twenty chunks not reported: {:#?}", statuses(&sub)));
    let _ = Command::new("kill").arg("-9").arg(daemon.pid().to_string()).status();
    let _ = daemon.wait_exit(Duration::from_secs(10));
    let log1 = daemon.log_text();
    assert!(!log1.contains("panicked"), "{log1}");
    let n = statuses(&sub).len();
    daemon = start_daemon(d, &cfg, &[]);
    wait_until(Duration::from_secs(60), || serving(http).starts_with("nanodet").then_some(()))
        .unwrap_or_else(|| panic!("after the restart NanoDet 2.0.0 must serve: {} {}", serving(http), daemon.log_text()));
    let resumed = wait_status(&sub, &daemon, n, "3.1.0", &["receiving"], 30);
    assert!(resumed["progress"]["have"].as_u64().unwrap() >= 20, "the transfer restarted from zero: {resumed}");
    push(port, &next, &["--chunks", &format!("20-{}", total + 10)]);
    wait_status(&sub, &daemon, n, "3.1.0", &["active"], 90);

    // 9. kill -9 during 3.1.0's watch window: it has not proven itself, so the restarted daemon serves
    //    2.0.0 again, and the retained offer installs and watches 3.1.0 once more.
    let _ = Command::new("kill").arg("-9").arg(daemon.pid().to_string()).status();
    let _ = daemon.wait_exit(Duration::from_secs(10));
    let n = statuses(&sub).len();
    daemon = start_daemon(d, &cfg, &[]);
    wait_until(Duration::from_secs(60), || daemon.log_text().contains("serving the previous model").then_some(()))
        .unwrap_or_else(|| panic!("no fall-back to 2.0.0 after a restart in the watch window: {}", daemon.log_text()));
    wait_status(&sub, &daemon, n, "3.1.0", &["staged"], 60);
    let done = wait_until(Duration::from_secs(60), || {
        statuses(&sub).into_iter().skip(n).find(|v| v["version"] == "3.1.0" && v["reason"].as_str().is_some_and(|r| r.contains("watch window passed")))
    })
    .unwrap_or_else(|| panic!("3.1.0 was not watched again: {:#?}\n{}", statuses(&sub), daemon.log_text()));
    assert_eq!(done["previous_version"], "2.0.0", "{done}");

    daemon.terminate();
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "{log}");

    // 10. The same history as `model_status` events, numbered and kept by the outbox: what each start
    //     loaded, and each step once (progress and a retained offer seen again are not repeated).
    std::thread::sleep(Duration::from_millis(500));
    let events = sub.on_topic("/events/model_status");
    for e in &events {
        assert_valid_event(e);
    }
    let data: Vec<&serde_json::Value> = events.iter().map(|e| &e["data"]).collect();
    let has = |version: &str, state: &str| data.iter().any(|d| d["model"] == "people" && d["version"] == version && d["state"] == state);
    assert!(has("1.0.0", "loaded"), "the first start's model: {data:#?}");
    assert!(data.iter().any(|d| d["state"] == "loaded" && d["version"] == "2.0.0" && d["digest"].is_string()), "the restart's model, from a bundle: {data:#?}");
    for (version, state) in [("2.0.0", "rejected"), ("2.0.0", "receiving"), ("2.0.0", "verifying"), ("2.0.0", "active"), ("3.0.0", "rolled_back"), ("3.1.0", "staged")] {
        assert!(has(version, state), "no {state} event for {version}: {data:#?}");
    }
    let rolled = data.iter().find(|d| d["state"] == "rolled_back").unwrap();
    assert_eq!(rolled["previous_version"], "2.0.0", "{rolled}");
    for pair in data.windows(2) {
        assert_ne!(pair[0], pair[1], "a step reported twice in a row");
    }
    let receiving = data.iter().filter(|d| d["state"] == "receiving").count();
    assert!(receiving < statuses(&sub).iter().filter(|v| v["state"] == "receiving").count(), "progress must not be an event");
    drop(broker);
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

fn publish_raw(port: u16, topic: &str, payload: Vec<u8>) {
    let mut opts = rumqttc::MqttOptions::new(format!("test-pub-{}", free_port()), "127.0.0.1", port);
    opts.set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut conn) = rumqttc::Client::new(opts, 10);
    client.publish(topic, rumqttc::QoS::AtLeastOnce, true, payload).unwrap();
    for ev in conn.iter() {
        if let Ok(rumqttc::Event::Incoming(rumqttc::Incoming::PubAck(_))) = ev {
            break;
        }
        if ev.is_err() {
            panic!("cannot publish the tampered chunk: {ev:?}");
        }
    }
}
