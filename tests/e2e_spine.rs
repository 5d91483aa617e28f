//! The spine end to end: real video through GStreamer, a real ONNX model through both backends, events
//! over a real mosquitto broker, the HTTP API; RTSP reconnect; `check`, `detect` and bad input.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

/// The heavy tests (whole video through a model, RTSP) each want both cores: run them one at a time so
/// each finishes in predictable time on a 2-core CI machine.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(|e| e.into_inner())
}

/// A daemon config for the sample video played as fast as inference allows (every frame, none dropped).
fn file_config(dir: &std::path::Path, broker_port: u16, http_port: u16, backend: &str, gate: &str) -> std::path::PathBuf {
    let cfg = format!(
        r#"
device_id = "e2e-{backend}"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.people]
manifest = "{manifest}"
backend = "{backend}"
threads = 2
[cameras.campus]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "people"
realtime = false
[cameras.campus.detect]
classes = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
gate = {gate}
[cameras.campus.summary]
interval_s = 10
{analytics}
[mqtt]
port = {broker_port}
[http]
listen = "127.0.0.1:{http_port}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.join("state").display(),
        manifest = repo_path("models/centernet_human_512.toml"),
        video = media("vtest.avi").display(),
        analytics = vtest_analytics("campus"),
    );
    let path = dir.join(format!("kaiteki-{backend}.toml"));
    std::fs::write(&path, cfg).unwrap();
    path
}

fn summaries_through_broker(backend: &str, gate: &str) -> Vec<serde_json::Value> {
    let _heavy = heavy();
    let dir = test_dir();
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "kaiteki/v1/#");
    let http = free_port();
    let cfg = file_config(dir.path(), broker.port, http, backend, gate);
    let mut daemon = start_daemon(dir.path(), &cfg, &["--until-sources-end"]);

    // While it runs, the HTTP API reports the camera and the model.
    let status = wait_until(Duration::from_secs(60), || {
        let (code, body) = http_get(http, "/api/status")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        (code == 200 && v["cameras"][0]["frames_processed"].as_u64()? > 5).then_some(v)
    })
    .unwrap_or_else(|| panic!("no status from the daemon: {}", daemon.log_text()));
    assert_eq!(status["device_id"], format!("e2e-{backend}"));
    assert!(status["models"][0]["backend"].as_str().unwrap().starts_with(backend), "{status}");
    let (code, metrics) = http_get(http, "/metrics").unwrap();
    assert_eq!(code, 200);
    for name in ["kaiteki_camera_fps", "kaiteki_camera_frames_dropped_total", "kaiteki_inference_seconds_bucket", "kaiteki_queue_depth"] {
        assert!(metrics.contains(name), "metric {name} missing:\n{metrics}");
    }
    assert_eq!(http_get(http, "/healthz").unwrap().0, 200);

    let exit = daemon.wait_exit(Duration::from_secs(300)).unwrap_or_else(|| panic!("daemon did not finish: {}", daemon.log_text()));
    assert!(exit.success(), "daemon failed: {}", daemon.log_text());
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "{log}");
    std::thread::sleep(Duration::from_millis(500));

    // Retained status: online while running, offline after a clean exit.
    let statuses = sub.on_topic(&format!("e2e-{backend}/status"));
    assert!(statuses.iter().any(|s| s["state"] == "online"), "{statuses:?}");
    assert_eq!(statuses.last().unwrap()["state"], "offline", "{statuses:?}");

    let events = sub.on_topic("/events/scene_summary");
    // 795 frames at 10 fps = 79.5 s of video: 7 full 10-second windows.
    assert_eq!(events.len(), 7, "expected 7 summaries, got {}: {log}", events.len());
    let mut seqs = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for e in &events {
        assert_eq!(e["schema"], "kaiteki.event.v1");
        assert_eq!(e["kind"], "scene_summary");
        assert_eq!(e["device_id"], format!("e2e-{backend}"));
        assert!(ids.insert(e["id"].as_str().unwrap().to_string()), "duplicate id");
        assert_eq!(e["id"].as_str().unwrap().as_bytes()[14], b'7', "not a UUIDv7: {}", e["id"]);
        seqs.push(e["seq"].as_u64().unwrap());
        let d = &e["data"];
        assert_eq!(d["camera"], "campus");
        assert!(d["model_id"].as_str().unwrap().contains("centernet"), "{d}");
        assert_eq!(d["frames_dropped_total"], 0, "realtime=false must not drop frames: {d}");
        // No raw detections, boxes or pixels in a summary.
        let text = e.to_string();
        assert!(!text.contains("bbox") && !text.contains("\"box\""), "{text}");
    }
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "sequence numbers must increase: {seqs:?}");

    // Crowding on the road zone: one full minute of video gives one CrowdFlowObserved-shaped aggregate
    // with a plausible count; at a few people on hundreds of square metres the level is Fruin A and,
    // with hysteresis and a minimum duration, does not flap.
    let minutes = sub.on_topic("/events/crowd_minute");
    assert!(!minutes.is_empty(), "no crowd_minute event: {log}");
    let m = &minutes[0]["data"];
    assert_eq!(m["camera"], "campus");
    assert_eq!(m["zoneId"], "road");
    let mean = m["peopleCountMean"].as_f64().unwrap_or_else(|| panic!("{m}"));
    assert!((1.0..=8.0).contains(&mean), "people in the road zone: {m}");
    assert_eq!(m["levelOfService"], "A", "{m}");
    let levels = sub.on_topic("/events/crowd_level");
    assert!(levels.len() <= 1, "crowd level flapped: {levels:?}");

    // Every message on an `/events/` topic matches the committed schema of its kind, and nothing but a
    // snapshot carries image bytes.
    let validated = sub.assert_events_valid();
    assert_validated(&validated, &["scene_summary", "crowd_minute"]);
    events
}

fn assert_people_counts_plausible(events: &[serde_json::Value]) {
    // vtest.avi shows 3 to 7 pedestrians at a time (counted by eye on sampled frames).
    for e in events {
        let p = &e["data"]["counts"]["person"];
        let mean = p["mean"].as_f64().unwrap_or_else(|| panic!("no person count: {e}"));
        assert!((2.5..=7.5).contains(&mean), "mean people per frame {mean} outside 3-7: {e}");
        assert!(p["max"].as_u64().unwrap() <= 9, "implausible maximum: {e}");
        assert!(p["min"].as_u64().unwrap() >= 1, "implausible minimum: {e}");
    }
}

#[test]
fn ort_summaries_arrive_with_plausible_counts() {
    let events = summaries_through_broker("ort", r#"{ mode = "every_frame" }"#);
    assert_people_counts_plausible(&events);
    let frames: u64 = events.iter().map(|e| e["data"]["frames_processed"].as_u64().unwrap()).sum();
    let inferred: u64 = events.iter().map(|e| e["data"]["frames_inferred"].as_u64().unwrap()).sum();
    assert_eq!(frames, inferred, "every_frame infers every frame");
    assert!(frames >= 700, "{frames} frames in 7 windows");
}

#[test]
fn tract_summaries_arrive_with_plausible_counts() {
    // tract (pure Rust, single-threaded here) is several times slower than ONNX Runtime: a coarse change
    // gate (10 % of the thumbnail changed, and at least once a second of video) keeps this test within a
    // couple of minutes on 2 cores and exercises gating end to end.
    let events = summaries_through_broker("tract", r#"{ mode = "change", changed_fraction = 0.1, max_skip = 9 }"#);
    assert_people_counts_plausible(&events);
    let frames: u64 = events.iter().map(|e| e["data"]["frames_processed"].as_u64().unwrap()).sum();
    let inferred: u64 = events.iter().map(|e| e["data"]["frames_inferred"].as_u64().unwrap()).sum();
    assert!(inferred * 10 >= frames && inferred < frames, "gate: {inferred} inferred of {frames}");
}

#[test]
fn rtsp_camera_reconnects_and_memory_stays_flat() {
    let _heavy = heavy();
    let dir = test_dir();
    let rtsp_port = free_port();
    let start_server = |name: &str| {
        // Debian's interpreter: it has the GObject bindings (python3-gi) that setup-system.sh installs.
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(repo_root().join("tests/support/rtsp_server.py")).arg(rtsp_port.to_string()).arg(media("vtest.avi"));
        let p = spawn_logged(cmd, dir.path().join(name));
        assert!(wait_for_port(rtsp_port, Duration::from_secs(20)), "RTSP server did not start: {}", p.log_text());
        p
    };
    let mut server = start_server("rtsp1.log");
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "kaiteki/v1/e2e-rtsp/events/#");
    let http = free_port();
    let cfg = format!(
        r#"
device_id = "e2e-rtsp"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.people]
manifest = "{manifest}"
threads = 2
[cameras.street]
pipeline = "rtsp"
params = {{ uri = "rtsp://127.0.0.1:{rtsp_port}/cam", protocol = "tcp", latency_ms = 100, timeout_us = 2000000 }}
model = "people"
stall_timeout_s = 3
reconnect = {{ initial_ms = 200, max_ms = 1000 }}
[cameras.street.summary]
interval_s = 2
[health]
report_interval_s = 10
[mqtt]
port = {broker}
[http]
listen = "127.0.0.1:{http}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.path().join("state").display(),
        manifest = repo_path("models/centernet_human_512.toml"),
        broker = broker.port,
    );
    let cfg_path = dir.path().join("rtsp.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let daemon = start_daemon(dir.path(), &cfg_path, &[]);

    let camera = |field: &str| -> Option<serde_json::Value> {
        let (_, body) = http_get(http, "/api/status")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some(v["cameras"][0][field].clone())
    };
    let processed = || camera("frames_processed").and_then(|v| v.as_u64()).unwrap_or(0);
    wait_until(Duration::from_secs(60), || (processed() > 20).then_some(()))
        .unwrap_or_else(|| panic!("no frames over RTSP: {}\n{}", daemon.log_text(), server.log_text()));
    assert_eq!(camera("state").unwrap(), "streaming");

    // The camera goes away: the daemon notices and backs off, and its memory does not grow.
    drop(server);
    wait_until(Duration::from_secs(30), || (camera("state")? != "streaming").then_some(()))
        .unwrap_or_else(|| panic!("camera loss not noticed: {}", daemon.log_text()));
    let (_, h) = http_get(http, "/healthz").unwrap();
    assert!(h.contains("degraded") || h.contains("ok"), "{h}");
    std::thread::sleep(Duration::from_secs(3));
    let rss_start = daemon.rss_kib().expect("rss");
    let mut rss_max = rss_start;
    for _ in 0..12 {
        std::thread::sleep(Duration::from_secs(1));
        rss_max = rss_max.max(daemon.rss_kib().unwrap_or(0));
    }
    let reconnects = camera("reconnects").and_then(|v| v.as_u64()).unwrap_or(0);
    assert!(reconnects >= 3, "expected repeated reconnect attempts while down, got {reconnects}");
    assert!(rss_max <= rss_start + 8 * 1024, "memory grew while the camera was down: {rss_start} -> {rss_max} KiB");

    // It comes back: streaming resumes.
    let before = processed();
    server = start_server("rtsp2.log");
    wait_until(Duration::from_secs(60), || (processed() > before + 20).then_some(()))
        .unwrap_or_else(|| panic!("did not resume after the server came back: {}", daemon.log_text()));
    assert_eq!(camera("state").unwrap(), "streaming");
    assert!(!daemon.log_text().contains("panicked"));
    drop(server);

    // The outage, as `health` events: one when the camera went down, one when it came back (not one per
    // reconnect attempt), and the periodic reports around them.
    let changes = wait_until(Duration::from_secs(10), || {
        let c: Vec<serde_json::Value> = sub.on_topic("/events/health").into_iter().filter(|e| e["data"]["trigger"] == "change").collect();
        (c.len() >= 2).then_some(c)
    })
    .unwrap_or_else(|| panic!("no health changes: {:#?}", sub.on_topic("/events/health")));
    assert_eq!(changes.len(), 2, "one change down, one back up: {changes:#?}");
    let (down, up) = (&changes[0]["data"], &changes[1]["data"]);
    assert_eq!(down["healthy"], false, "{down}");
    assert_eq!(down["problems"][0], "camera street is not streaming (reconnecting)", "{down}");
    assert_eq!(up["healthy"], true, "{up}");
    assert!(up["cameras"][0]["reconnects"].as_u64().unwrap() >= 3, "{up}");
    let periodic = sub.on_topic("/events/health").into_iter().filter(|e| e["data"]["trigger"] == "interval").count();
    // ~25 s of run with the interval restarting at each change: at least one periodic report.
    assert!(periodic >= 1, "expected periodic reports every 10 s, got none");
    sub.assert_events_valid();
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn check(config: &std::path::Path) -> (bool, String) {
    let out = Command::new(kaiteki_bin()).arg("check").arg("-c").arg(config).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout))
}

fn good_config(manifest: &str) -> String {
    format!(
        r#"device_id = "check-me"
pipelines_dir = "{pipelines}"

[models.people]
manifest = "{manifest}"

[cameras.cam1]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "people"
"#,
        pipelines = repo_path("pipelines"),
        video = media("vtest.avi").display(),
    )
}

#[test]
fn check_accepts_a_good_config_and_names_every_problem() {
    let dir = test_dir();
    let manifest = repo_path("models/centernet_human_512.toml");
    let good = write(dir.path(), "good.toml", &good_config(&manifest));
    let (ok, out) = check(&good);
    assert!(ok, "{out}");

    // Jetson pipelines are validated here (syntax, parameters) though their elements only exist there.
    let jetson = good_config(&manifest).replace("pipeline = \"file\"", "pipeline = \"jetson-csi\"").replace(
        &format!("params = {{ uri = \"file://{}\" }}", media("vtest.avi").display()),
        "params = { sensor_id = 0, width = 1920, height = 1080, fps = 30 }",
    );
    let p = write(dir.path(), "jetson.toml", &jetson);
    let (ok, out) = check(&p);
    assert!(ok && out.contains("needs Jetson elements not present here"), "{out}");
    let p = write(dir.path(), "jetson-bad.toml", &jetson.replace("fps = 30", "fps = 1000"));
    let (ok, out) = check(&p);
    assert!(!ok && out.contains("out of range"), "{out}");

    // Unknown key: located at its line.
    let text = good_config(&manifest).replace("model = \"people\"", "model = \"people\"\nframerate = 5");
    let p = write(dir.path(), "unknown.toml", &text);
    let (ok, out) = check(&p);
    let line = text.lines().position(|l| l.starts_with("framerate")).unwrap() + 1;
    assert!(!ok);
    assert!(out.contains(&format!("unknown.toml:{line}:")) && out.contains("unknown field `framerate`"), "{out}");

    // Wrong type.
    let text = good_config(&manifest).replace("[models.people]", "[http]\nlisten = 8080\n\n[models.people]");
    let p = write(dir.path(), "type.toml", &text);
    let (ok, out) = check(&p);
    assert!(!ok && out.contains("type.toml:") && out.contains("expected a string"), "{out}");

    // Missing model file, wrong sha256, malformed pipeline, impossible threshold: all reported at once.
    let bad_manifest_dir = dir.path().join("m");
    std::fs::create_dir_all(&bad_manifest_dir).unwrap();
    let mtext = std::fs::read_to_string(&manifest).unwrap();
    let sha_line = mtext.lines().find(|l| l.starts_with("sha256")).expect("manifest has sha256").to_string();
    std::fs::copy(repo_root().join("models/centernet_human_512.onnx"), bad_manifest_dir.join("centernet_human_512.onnx")).unwrap();
    let wrong_sha = write(&bad_manifest_dir, "wrong_sha.toml", &mtext.replace(&sha_line, &format!("sha256 = \"{}\"", "0".repeat(64))));
    let missing = write(&bad_manifest_dir, "missing.toml", &mtext.replace("centernet_human_512.onnx", "nowhere.onnx"));
    let pdir = dir.path().join("pipelines");
    std::fs::create_dir_all(&pdir).unwrap();
    std::fs::copy(repo_root().join("pipelines/file.toml"), pdir.join("file.toml")).unwrap();
    write(&pdir, "broken.toml", "live = true\nsource = 'videotestsrc ! ! nosuchelement'\n");
    let text = format!(
        r#"device_id = "check-me"
pipelines_dir = "{pdir}"

[models.a]
manifest = "{wrong_sha}"

[models.b]
manifest = "{missing}"

[cameras.cam1]
pipeline = "broken"
model = "a"

[cameras.cam1.detect]
min_score = 1.5

[cameras.cam2]
pipeline = "file"
params = {{ uri = "file:///no/such/video.mp4" }}
model = "b"
"#,
        pdir = pdir.display(),
        wrong_sha = wrong_sha.display(),
        missing = missing.display()
    );
    let p = write(dir.path(), "many.toml", &text);
    let (ok, out) = check(&p);
    assert!(!ok, "{out}");
    let min_score_line = text.lines().position(|l| l.starts_with("min_score")).unwrap() + 1;
    assert!(out.contains(&format!("many.toml:{min_score_line}:")) && out.contains("min_score = 1.5"), "{out}");
    assert!(out.contains("wrong_sha.toml:") && out.contains("sha256"), "{out}");
    assert!(out.contains("missing.toml:") && out.contains("nowhere.onnx"), "{out}");
    assert!(out.contains("broken.toml:2:") && out.contains("cannot build this pipeline"), "{out}");
    assert!(out.contains("/no/such/video.mp4 does not exist"), "{out}");
    assert!(out.contains("problems"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
}

fn detect(args: &[&str]) -> std::process::Output {
    Command::new(kaiteki_bin()).arg("detect").env("ORT_DYLIB_PATH", ort_lib()).args(args).output().unwrap()
}

#[test]
fn detect_finds_the_bicycle_and_the_truck_and_streams_video() {
    let manifest = repo_path("models/centernet_human_512.toml");
    for backend in ["ort", "tract"] {
        let out = detect(&["--model", &manifest, "--backend", backend, media("dog.jpg").to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        let labels: Vec<&str> = line["detections"].as_array().unwrap().iter().map(|d| d["label"].as_str().unwrap()).collect();
        assert!(labels.contains(&"bicycle"), "{backend}: {labels:?}");
        assert!(labels.contains(&"truck") || labels.contains(&"car"), "{backend}: {labels:?}");
        let bike = line["detections"].as_array().unwrap().iter().find(|d| d["label"] == "bicycle").unwrap();
        let b: Vec<f64> = bike["box"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        // dog.jpg is 768x576; the bicycle spans most of its middle.
        assert!(b[0] < 250.0 && b[2] > 450.0 && b[1] < 250.0 && b[3] > 350.0, "{backend}: bicycle box {b:?}");
    }
    let out = detect(&["--model", &manifest, "--max-frames", "5", media("vtest.avi").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[4]["frame"], 4);
    assert!(lines.iter().all(|l| l["detections"].as_array().unwrap().iter().filter(|d| d["label"] == "person").count() >= 2));
}

#[test]
fn bad_inputs_give_clear_errors_not_panics() {
    let dir = test_dir();
    let manifest = repo_path("models/centernet_human_512.toml");
    // A corrupt video.
    let junk: Vec<u8> = (0..200_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let video = dir.path().join("corrupt.avi");
    std::fs::write(&video, &junk).unwrap();
    let out = detect(&["--model", &manifest, video.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("error:") && !err.contains("panicked"), "{err}");

    // A model file that is not ONNX, with a manifest whose checksum matches it.
    let mdir = dir.path().join("m");
    std::fs::create_dir_all(&mdir).unwrap();
    std::fs::write(mdir.join("centernet_human_512.onnx"), &junk[..4096]).unwrap();
    let sha = {
        use std::fmt::Write;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&junk[..4096]);
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let mtext = std::fs::read_to_string(&manifest).unwrap();
    let sha_line = mtext.lines().find(|l| l.starts_with("sha256")).unwrap().to_string();
    let not_onnx = write(&mdir, "not_onnx.toml", &mtext.replace(&sha_line, &format!("sha256 = \"{sha}\"")));
    for backend in ["ort", "tract"] {
        let out = detect(&["--model", not_onnx.to_str().unwrap(), "--backend", backend, media("dog.jpg").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("error:") && !err.contains("panicked"), "{backend}: {err}");
    }

    // A manifest that lies about the input.
    std::fs::copy(repo_root().join("models/centernet_human_512.onnx"), mdir.join("centernet_human_512.onnx")).unwrap();
    let liar = write(&mdir, "liar.toml", &mtext.replace("tower_0/images:0", "images"));
    let out = detect(&["--model", liar.to_str().unwrap(), media("dog.jpg").to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("images") && err.contains("tower_0/images:0") && !err.contains("panicked"), "{err}");
}

#[test]
fn a_looping_file_plays_on_without_restarting_its_pipeline() {
    let _heavy = heavy();
    let dir = test_dir();
    let broker = Broker::start(dir.path());
    let http = free_port();
    let cfg = file_config(dir.path(), broker.port, http, "ort", r#"{ mode = "change", changed_fraction = 0.1, max_skip = 9 }"#);
    let text = std::fs::read_to_string(&cfg).unwrap().replace("realtime = false", "realtime = false\nloop = true");
    std::fs::write(&cfg, text).unwrap();
    let daemon = start_daemon(dir.path(), &cfg, &[]);
    let camera = || -> Option<serde_json::Value> {
        let (_, body) = http_get(http, "/api/status")?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        Some(v["cameras"][0].clone())
    };
    // vtest.avi has 795 frames: past 900 the file has looped.
    let cam = wait_until(Duration::from_secs(240), || camera().filter(|c| c["frames_processed"].as_u64() > Some(900)))
        .unwrap_or_else(|| panic!("the file did not loop: {:?}\n{}", camera(), daemon.log_text()));
    assert_eq!(cam["state"], "streaming", "{cam}");
    assert_eq!(cam["reconnects"], 0, "looping must seek, not rebuild the pipeline: {cam}");
    assert!(daemon.log_text().contains("end of file, looping"), "{}", daemon.log_text());
}
