//! Road damage end to end: a generated bus drive (video of a road with painted damage, and the
//! drive's NMEA log), the fixture RDD model (models/fixtures, a real ONNX graph in YOLOv8 layout), a
//! real broker and the real daemon, three passes over the same street.

#[allow(dead_code)]
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::drive::*;
use support::*;

fn config(dir: &Path, video: &Path, nmea: &Path, broker: u16, http: u16) -> PathBuf {
    let text = format!(
        r#"
device_id = "e2e-bus"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.rdd]
manifest = "{manifest}"
backend = "tract"
threads = 1
[cameras.bus]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "rdd"
realtime = false
[cameras.bus.detect]
gate = {{ mode = "every_frame" }}
[cameras.bus.road_damage]
missed_passes = 1
snapshot = true
[cameras.bus.road_damage.calibration]
points = {points}
[snapshots]
enabled = true
publish = true
max_bytes = 60000
object_model = "{objects}"
face_model = "{faces}"
[gnss]
source = {{ kind = "replay", path = "{nmea}" }}
[roughness]
enabled = true
segment_m = {segment}
min_speed_mps = 3.0
source = {{ kind = "file", path = "{accel}", rate_hz = 100.0, pace = "fast" }}
[mqtt]
port = {broker}
ngsi_ld = true
[http]
listen = "127.0.0.1:{http}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.join("state").display(),
        manifest = repo_path("models/fixtures/rdd_fixture_yolov8.toml"),
        video = video.display(),
        nmea = nmea.display(),
        accel = dir.join("accel.csv").display(),
        segment = SEGMENT_M,
        points = calibration_points(),
        objects = repo_path("models/centernet_human_512.toml"),
        faces = repo_path("models/blazeface_full_range_192.toml"),
    );
    let p = dir.join("bus.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// One pass: runs the daemon over a video until it ends; returns the `road_damage` events published
/// (and the subscriber, for the other kinds). Every event of the pass is validated against the committed
/// schema of its kind, and no payload may carry image bytes.
fn pass(dir: &Path, video: &Path, nmea: &Path) -> Vec<serde_json::Value> {
    pass_with(dir, video, nmea).0
}

fn pass_with(dir: &Path, video: &Path, nmea: &Path) -> (Vec<serde_json::Value>, Subscriber) {
    let broker = Broker::start(dir);
    let sub = Subscriber::start(broker.port, "kaiteki/v1/#");
    let cfg = config(dir, video, nmea, broker.port, free_port());
    let mut daemon = start_daemon(dir, &cfg, &["--until-sources-end"]);
    let exit = daemon.wait_exit(Duration::from_secs(300)).unwrap_or_else(|| panic!("daemon did not finish: {}", daemon.log_text()));
    let log = daemon.log_text();
    assert!(exit.success(), "daemon failed: {log}");
    assert!(!log.contains("panicked"), "{log}");
    std::thread::sleep(Duration::from_millis(500));
    assert_validated(&sub.assert_events_valid(), &["road_damage"]);
    (sub.on_topic("/events/road_damage"), sub)
}

fn by_class<'a>(events: &'a [serde_json::Value], class: &str) -> Vec<&'a serde_json::Value> {
    events.iter().filter(|e| e["data"]["class"] == class).collect()
}

#[test]
fn three_passes_one_record_per_damage_joined_then_possibly_repaired() {
    let dir = test_dir();
    let nmea = nmea_log(dir.path());
    let full = render_video(dir.path(), "full", &street());
    let mut patched = street();
    patched.remove(1); // the transverse crack (D10) was repaired before the third pass
    let patched = render_video(dir.path(), "patched", &patched);

    let (_, iri_truth) = accel_log(dir.path());

    // Pass 1: one record per damage, despite each being seen on ~16 frames.
    let (first, sub) = pass_with(dir.path(), &full, &nmea);
    // The drive's three kinds of event, each checked against its schema.
    assert_validated(&sub.assert_events_valid(), &["road_damage", "roughness", "road_impact"]);
    assert_eq!(first.len(), 3, "{first:#?}");
    let m_per_deg_lat = 110_950.0;
    let m_per_deg_lon = m_per_deg_lat * LAT0.to_radians().cos();
    let mut ids = std::collections::HashMap::new();
    for d in street() {
        let evs = by_class(&first, d.class);
        assert_eq!(evs.len(), 1, "{}: {first:#?}", d.class);
        let e = evs[0];
        assert_eq!(e["schema"], "kaiteki.event.v1");
        let data = &e["data"];
        assert_eq!(data["change"], "created", "{data}");
        assert!(data["observation"]["frames"].as_u64().unwrap() >= 8, "{data}");
        // Geotagged within a metre and a half of where it was painted.
        let (lat, lon) = (data["position"]["lat"].as_f64().unwrap(), data["position"]["lon"].as_f64().unwrap());
        let dn = (lat - LAT0) * m_per_deg_lat - d.north;
        let de = (lon - LON0) * m_per_deg_lon - d.east;
        assert!(dn.hypot(de) < 1.5, "{}: {dn:.2} m north, {de:.2} m east off: {data}", d.class);
        assert!(data["position"]["uncertainty_m"].as_f64().unwrap() > 0.0);
        assert!((data["observation"]["speed_mps"].as_f64().unwrap() - SPEED).abs() < 0.2, "{data}");
        assert_eq!(data["observation"]["heading_deg"].as_f64().unwrap().round(), 0.0);
        // Size on the ground plane, through the detector's box.
        let size = data["severity"]["size_m"].as_f64().unwrap();
        assert!((size - d.size).abs() < 0.15 * d.size + 0.05, "{}: size {size} vs {}: {data}", d.class, d.size);
        ids.insert(d.class, data["record_id"].as_str().unwrap().to_string());
    }
    // The same records as NGSI-LD Alerts for the city data platform, plus the Device and PrivacyObject.
    let alerts = sub.on_topic("/ngsi-ld/Alert");
    assert!(alerts.len() >= 3, "{alerts:#?}");
    for a in &alerts {
        assert_valid_ngsi(a);
    }
    let pothole_alert = alerts.iter().find(|a| a["subCategory"]["value"] == "pothole").unwrap_or_else(|| panic!("no pothole Alert: {alerts:#?}"));
    assert_eq!(pothole_alert["category"]["value"], "traffic", "{pothole_alert}");
    let id = pothole_alert["id"].as_str().unwrap();
    assert!(id.starts_with("urn:ngsi-ld:Alert:e2e-bus:"), "{id}");
    let c = &pothole_alert["location"]["value"]["coordinates"];
    let (lon, lat) = (c[0].as_f64().unwrap(), c[1].as_f64().unwrap());
    let d40 = street().into_iter().find(|d| d.class == "D40").unwrap();
    let off = ((lat - LAT0) * m_per_deg_lat - d40.north).hypot((lon - LON0) * m_per_deg_lon - d40.east);
    assert!(off < 1.5, "GeoJSON [lon, lat] of the pothole is {off:.2} m off: {pothole_alert}");
    for ty in ["Device", "PrivacyObject"] {
        let e = sub.on_topic(&format!("/ngsi-ld/{ty}"));
        assert_eq!(e.len(), 1, "{ty}: {e:#?}");
        assert_valid_ngsi(&e[0]);
    }
    let pothole = &by_class(&first, "D40")[0]["data"];
    assert_eq!(pothole["triage"], "repair_needed", "a 0.5 m pothole needs repair: {pothole}");

    // The same drive's accelerometer: per-segment IRI near the road's true IRI, and the pothole felt
    // where it was painted.
    let segments = sub.on_topic("/events/roughness");
    let valid: Vec<_> = segments.iter().map(|e| &e["data"]).filter(|d| d["valid"] == true).collect();
    // An isolated pothole inflates an RMS-based estimate (a documented limit): compare the others.
    let smooth: Vec<_> = valid
        .iter()
        .filter(|d| {
            let start = d["start_distance_m"].as_f64().unwrap();
            !(start..start + d["length_m"].as_f64().unwrap()).contains(&POTHOLE_NORTH_M)
        })
        .collect();
    assert!(!smooth.is_empty(), "no valid roughness segment away from the pothole: {segments:#?}");
    for d in &smooth {
        let i = (d["start_distance_m"].as_f64().unwrap() / SEGMENT_M).round() as usize;
        let (est, truth) = (d["iri_m_per_km"].as_f64().unwrap(), iri_truth[i]);
        assert!((est / truth - 1.0).abs() < 0.35, "segment {i}: IRI {est:.2} estimated, {truth:.2} true: {d}");
        assert!(d["start"]["lat"].as_f64().is_some(), "segment without a position: {d}");
    }
    let impacts = sub.on_topic("/events/road_impact");
    assert!(!impacts.is_empty(), "the pothole was not felt");
    let near: Vec<_> = impacts
        .iter()
        .filter(|e| ((e["data"]["position"]["lat"].as_f64().unwrap_or(0.0) - LAT0) * m_per_deg_lat - POTHOLE_NORTH_M).abs() < 5.0)
        .collect();
    assert_eq!(near.len(), 1, "one impact at the pothole: {impacts:#?}");

    // Evidence: each new record got a redacted, size-bounded JPEG, stored and named in the record.
    let snaps = dir.path().join("state/snapshots");
    let jpegs: Vec<_> = std::fs::read_dir(&snaps).unwrap().flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "jpg")).collect();
    assert_eq!(jpegs.len(), 3, "{jpegs:?}");
    for j in &jpegs {
        let bytes = std::fs::read(j).unwrap();
        assert!(bytes.len() <= 60_000 && bytes.starts_with(&[0xFF, 0xD8]), "{}: {} bytes", j.display(), bytes.len());
        assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 320);
    }
    let db = rusqlite::Connection::open(dir.path().join("state/road_damage.sqlite")).unwrap();
    let bodies: Vec<String> = db.prepare("SELECT body FROM records").unwrap().query_map([], |r| r.get(0)).unwrap().flatten().collect();
    assert_eq!(bodies.len(), 3);
    for b in &bodies {
        let v: serde_json::Value = serde_json::from_str(b).unwrap();
        let path = v["snapshot"].as_str().unwrap_or_else(|| panic!("record without snapshot: {v}"));
        let id = path.strip_prefix("/api/dash/snapshots/").unwrap();
        assert!(snaps.join(format!("{id}.jpg")).is_file(), "{path}");
    }
    drop(db);
    // Published too (`publish = true`): on `…/snapshots/{record_id}`, the very JPEG kept on the device,
    // one per record and nothing else under that branch.
    let published: Vec<(String, Vec<u8>)> = sub
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, _, _)| t.contains("/snapshots/"))
        .map(|(t, p, _)| (t.clone(), p.clone()))
        .collect();
    let stored: Vec<Vec<u8>> = jpegs.iter().map(|j| std::fs::read(j).unwrap()).collect();
    let mut records: Vec<&str> = published.iter().map(|(t, _)| t.rsplit('/').next().unwrap()).collect();
    records.sort();
    records.dedup();
    let mut expected: Vec<&str> = ids.values().map(String::as_str).collect();
    expected.sort();
    assert_eq!(records, expected, "one published snapshot per record");
    for (topic, jpeg) in &published {
        assert!(topic.starts_with("kaiteki/v1/e2e-bus/snapshots/"), "{topic}");
        assert!(stored.contains(jpeg), "{topic}: the published JPEG is not one of the redacted snapshots kept");
    }

    // Pass 2: the same street again joins the same records.
    let second = pass(dir.path(), &full, &nmea);
    assert_eq!(second.len(), 3, "{second:#?}");
    for e in &second {
        let d = &e["data"];
        assert_eq!(d["change"], "observed", "{d}");
        assert_eq!(d["record_id"].as_str().unwrap(), ids[d["class"].as_str().unwrap()], "{d}");
        assert_eq!(d["observations"], 2, "{d}");
    }

    // Pass 3: the repaired crack is missed on its pass and becomes "possibly repaired".
    let third = pass(dir.path(), &patched, &nmea);
    let repaired: Vec<_> = third.iter().filter(|e| e["data"]["change"] == "possibly_repaired").collect();
    assert_eq!(repaired.len(), 1, "{third:#?}");
    assert_eq!(repaired[0]["data"]["record_id"].as_str().unwrap(), ids["D10"]);
    assert_eq!(repaired[0]["data"]["status"], "possibly_repaired");
    let observed: Vec<_> = third.iter().filter(|e| e["data"]["change"] == "observed").collect();
    assert_eq!(observed.len(), 2, "{third:#?}");
    assert!(third.iter().all(|e| e["data"]["change"] != "created"), "{third:#?}");
}
