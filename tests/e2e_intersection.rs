//! Near-miss end to end: a real broker and the daemon on a generated intersection video
//! (tests/support/crossing.rs) in which a car brakes hard for a pedestrian on the crossing. The daemon
//! must detect both users, track them on the calibrated ground plane, and publish exactly one crossing
//! conflict between the car and the pedestrian, critical by TTC, placed where the car stopped short of
//! the crossing.

mod support;

use std::time::Duration;

use support::*;

const DEVICE: &str = "e2e-junction";

#[test]
fn a_car_braking_for_a_pedestrian_is_one_critical_crossing_conflict() {
    let dir = test_dir();
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "kaiteki/v1/#");
    let video = crossing::render_video(dir.path(), "junction");
    let cfg = format!(
        r#"
device_id = "{DEVICE}"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.traffic]
manifest = "{manifest}"
backend = "tract"
threads = 1
[cameras.junction]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "traffic"
realtime = false
[cameras.junction.detect]
gate = {{ mode = "every_frame" }}
[cameras.junction.analytics.calibration]
points = {points}
[mqtt]
port = {port}
[http]
listen = "127.0.0.1:{http}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.path().join("state").display(),
        manifest = repo_path("models/fixtures/traffic_fixture_yolov8.toml"),
        video = video.display(),
        points = crossing::calibration_points(),
        port = broker.port,
        http = free_port(),
    );
    let path = dir.path().join("junction.toml");
    std::fs::write(&path, cfg).unwrap();
    let mut daemon = start_daemon(dir.path(), &path, &[]);

    // The file ends after 7 s of video; the end of the stream closes every open encounter.
    let conflicts = wait_until(Duration::from_secs(90), || {
        let v = sub.on_topic("/events/near_miss");
        (!v.is_empty()).then_some(v)
    })
    .unwrap_or_else(|| panic!("no near_miss event: {}", daemon.log_text()));
    // Give a second, spurious conflict time to show up before counting.
    std::thread::sleep(Duration::from_secs(3));
    let conflicts = {
        let all = sub.on_topic("/events/near_miss");
        assert!(all.len() >= conflicts.len());
        all
    };
    assert_eq!(conflicts.len(), 1, "one encounter, one conflict: {conflicts:#?}");
    let ev = &conflicts[0];
    assert_eq!(ev["kind"], "near_miss", "{ev}");
    let c = &ev["data"];
    assert_eq!(c["camera"], "junction", "{c}");
    assert_eq!(c["conflict_type"], "crossing", "{c}");
    assert_eq!(c["severity"], "critical", "{c}");
    let mut labels: Vec<&str> = c["users"].as_array().unwrap().iter().map(|u| u["label"].as_str().unwrap()).collect();
    labels.sort();
    assert_eq!(labels, ["car", "person"], "{c}");
    // The users as seen at the most severe moment, against the scene's truth at that moment. The speed
    // filter lags hard braking (6 m/s²) a little, so the measured speed may be above the true one.
    let t = c["t_min_ttc"].as_f64().unwrap_or_else(|| panic!("no time of minimum TTC: {c}"));
    let car = c["users"].as_array().unwrap().iter().find(|u| u["label"] == "car").unwrap();
    let speed = car["speed_mps"].as_f64().unwrap();
    let true_speed = crossing::car_speed(t);
    assert!(speed > true_speed - 0.5 && speed < crossing::CAR_SPEED + 0.5, "car speed {speed} m/s at {t} s, truth {true_speed}: {c}");
    assert_eq!(c["approaching_id"], car["id"], "the car is the one that had to brake: {c}");
    let ttc = c["min_ttc_s"].as_f64().unwrap_or_else(|| panic!("no TTC: {c}"));
    let truth = crossing::true_ttc(t).unwrap_or_else(|| panic!("the scene has no collision course at {t} s: {c}"));
    assert!((ttc - truth).abs() < 0.3, "min TTC {ttc} s at {t} s, truth {truth} s: {c}");
    assert!(ttc < 1.5, "critical by TTC: {c}");
    assert!(c["pet_s"].is_null(), "the car never reached the crossing, so there is no PET: {c}");
    // The conflict point lies between the braking car and the crossing, on the lane.
    let pos = c["position"].as_array().unwrap();
    let (x, y) = (pos[0].as_f64().unwrap(), pos[1].as_f64().unwrap());
    assert!((-12.0..=1.0).contains(&x) && (y - crossing::LANE_Y).abs() < 2.5, "position ({x}, {y}): {c}");
    // Delivered from the outbox with the common envelope, as the committed schema describes it; no
    // payload carries image bytes.
    assert_eq!(ev["device_id"], DEVICE, "{ev}");
    assert!(ev["seq"].as_u64().is_some() && ev["id"].is_string(), "{ev}");
    assert_valid_event(ev);
    assert_validated(&sub.assert_events_valid(), &["near_miss"]);

    daemon.terminate();
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "{log}");
}
