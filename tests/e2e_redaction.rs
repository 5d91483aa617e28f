//! Redaction end to end: the real daemon plays the street video (`vtest.avi`) and the group photo
//! (`solvay_conference_1927.jpg`, through `pipelines/image.toml`) with crowd evidence snapshots enabled and
//! published, and every snapshot that reaches a real broker is checked as a city consumer could check it:
//! the person detector (at a low threshold) and the face detector (over the redactor's windows) run on
//! the published JPEG, and nothing they find may lie outside the regions its redaction label lists.
//! Every other payload of the run is checked for image bytes.

#[allow(dead_code)]
mod support;

use std::path::Path;
use std::time::Duration;

use kaiteki::infer::{load_detector, BackendConfig, BackendKind, DetectParams, Detection, Detector, OrtConfig, Provider};
use kaiteki::privacy::redact::faces;
use kaiteki::privacy::{read_label, RedactionLabel};
use kaiteki::source::frame::FrameView;
use support::*;

const DEVICE: &str = "e2e-redaction";

/// Scores at which the check looks: lower than the events use, so a half-destroyed person still counts.
const PERSON_SCORE: f32 = 0.3;
const FACE_SCORE: f32 = 0.5;

fn backend() -> BackendConfig {
    BackendConfig { backend: BackendKind::Ort, threads: Some(2), ort: OrtConfig { library: Some(ort_lib()), providers: vec![Provider::Cpu] } }
}

struct Checkers {
    persons: Box<dyn Detector>,
    faces: Box<dyn Detector>,
}

impl Checkers {
    fn new() -> Self {
        let load = |m: &str| load_detector(&repo_root().join(m), &backend()).unwrap_or_else(|e| panic!("{m}: {e}"));
        Self { persons: load("models/centernet_human_512.toml"), faces: load("models/blazeface_full_range_192.toml") }
    }

    /// People and faces found on a published JPEG whose centre is outside every listed region, and how
    /// many were found in all.
    fn leaks(&mut self, jpeg: &[u8], label: &RedactionLabel) -> (Vec<Detection>, usize) {
        let img = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg).expect("a published snapshot decodes").to_rgb8();
        assert_eq!((img.width(), img.height()), (label.width, label.height), "the label describes another size");
        let view = FrameView::new(img.width(), img.height(), img.width() as usize * 3, img.as_raw()).expect("frame");
        let (people, _) = self.persons.detect(view, DetectParams { min_score: Some(PERSON_SCORE), nms_iou: None }).expect("person detector runs");
        let people: Vec<Detection> = people.into_iter().filter(|d| &*d.label == "person").collect();
        let side = self.faces.manifest().input.width;
        let windows = faces::windows(img.width(), img.height(), side, 0.25, &[]);
        let found_faces = faces::find(self.faces.as_mut(), view, &windows, FACE_SCORE).expect("face detector runs");
        let total = people.len() + found_faces.len();
        let leaks = people
            .into_iter()
            .chain(found_faces)
            .filter(|d| {
                let (cx, cy) = d.bbox.centre();
                !label.covers(cx, cy)
            })
            .collect();
        (leaks, total)
    }
}

fn config(dir: &Path, broker: u16, http: u16, camera: &str) -> std::path::PathBuf {
    let text = format!(
        r#"
device_id = "{DEVICE}"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.people]
manifest = "{manifest}"
backend = "ort"
threads = 2
{camera}
[snapshots]
enabled = true
publish = true
object_model = "{objects}"
face_model = "{faces}"
[health]
report_interval_s = 0
[mqtt]
port = {broker}
[http]
listen = "127.0.0.1:{http}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.join("state").display(),
        manifest = repo_path("models/centernet_human_512.toml"),
        objects = repo_path("models/centernet_human_512.toml"),
        faces = repo_path("models/blazeface_full_range_192.toml"),
    );
    let p = dir.join("redaction.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// Crowd thresholds low enough that a handful of people in a large zone rise through the levels, with
/// evidence from level B on (the defaults are Fruin's, and a street this empty never leaves A).
fn crowd(camera: &str) -> String {
    format!(
        r#"[cameras.{camera}.analytics.crowd]
los_m2_per_person = [400.0, 200.0, 100.0, 50.0, 25.0]
min_duration_s = 0.0
hysteresis_fraction = 0.05
snapshot_from = "B"
"#
    )
}

/// Runs the daemon until its source ends; returns the published snapshots (topic id, JPEG) and the
/// subscriber. Every message of the run carries image bytes only on a snapshot topic, and every event
/// matches its schema.
fn run(dir: &Path, camera_toml: &str) -> (Vec<(String, Vec<u8>)>, Subscriber) {
    let broker = Broker::start(dir);
    let sub = Subscriber::start(broker.port, &format!("kaiteki/v1/{DEVICE}/#"));
    let http = free_port();
    let cfg = config(dir, broker.port, http, camera_toml);
    let mut daemon = start_daemon(dir, &cfg, &["--until-sources-end"]);
    let exit = daemon.wait_exit(Duration::from_secs(400)).unwrap_or_else(|| panic!("daemon did not finish: {}", daemon.log_text()));
    let log = daemon.log_text();
    assert!(exit.success(), "daemon failed: {log}");
    assert!(!log.contains("panicked"), "{log}");
    std::thread::sleep(Duration::from_millis(500));
    let validated = sub.assert_events_valid();
    assert_validated(&validated, &["crowd_level"]);
    let prefix = format!("kaiteki/v1/{DEVICE}/snapshots/");
    let snapshots: Vec<(String, Vec<u8>)> = sub
        .messages
        .lock()
        .unwrap()
        .iter()
        .filter_map(|(t, p, _)| t.strip_prefix(&prefix).map(|id| (id.to_string(), p.clone())))
        .collect();
    drop(broker);
    (snapshots, sub)
}

/// Checks every published snapshot; returns (regions, detections found) over all of them.
fn check_snapshots(tag: &str, snapshots: &[(String, Vec<u8>)], sub: &Subscriber) -> (usize, usize) {
    let levels = sub.on_topic("/events/crowd_level");
    let mut checkers = Checkers::new();
    let (mut regions, mut found) = (0, 0);
    for (id, jpeg) in snapshots {
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "{tag} {id}: not a JPEG");
        // Each snapshot is the evidence of one crowd_level event, which names it.
        let event = levels.iter().find(|e| e["data"]["snapshot"] == id.as_str());
        let event = event.unwrap_or_else(|| panic!("{tag} {id}: no crowd_level event names this snapshot"));
        assert_eq!(event["data"]["rising"], true, "{event}");
        let label = read_label(jpeg).unwrap_or_else(|| panic!("{tag} {id}: no redaction label"));
        assert!(!label.truncated, "{tag} {id}");
        if let Some(dir) = std::env::var_os("KAITEKI_DEBUG_DIR") {
            // To look at what was published (and at what an auditor found).
            std::fs::write(Path::new(&dir).join(format!("{tag}-{id}.jpg")), jpeg).expect("debug copy written");
        }
        let (leaks, total) = checkers.leaks(jpeg, &label);
        eprintln!("{tag} {id}: {} bytes, {} regions, {total} detections on the published image, {} outside", jpeg.len(), label.regions.len(), leaks.len());
        assert!(leaks.is_empty(), "{tag} {id}: found outside the redacted regions: {leaks:#?}");
        regions += label.regions.len();
        found += total;
    }
    (regions, found)
}

#[test]
fn published_snapshots_of_the_street_video_show_no_one() {
    let dir = test_dir();
    let camera = format!(
        r#"[cameras.street]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "people"
realtime = false
[cameras.street.detect]
classes = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
{analytics}{crowd}"#,
        video = media("vtest.avi").display(),
        analytics = vtest_analytics("street"),
        crowd = crowd("street"),
    );
    let (snapshots, sub) = run(dir.path(), &camera);
    assert!(!snapshots.is_empty(), "no snapshot published; crowd levels: {:#?}", sub.on_topic("/events/crowd_level"));
    let (regions, _) = check_snapshots("vtest", &snapshots, &sub);
    // Pedestrians are in every frame of the video: each snapshot destroyed some.
    assert!(regions >= snapshots.len(), "{regions} regions over {} snapshots", snapshots.len());
}

#[test]
fn a_published_snapshot_of_the_group_photo_shows_no_face() {
    let dir = test_dir();
    // The photo as a 4-second still, its whole area one crowd zone on an assumed 30 m × 22 m plane.
    let camera = format!(
        r#"[cameras.photo]
pipeline = "image"
params = {{ uri = "file://{photo}", frames = 20, fps = 5 }}
model = "people"
realtime = false
# The seated rows score low at CenterNet's 512 px input: detect and track them from 0.25, so the hall's
# level rises (the redactor runs at its own, lower, threshold regardless).
[cameras.photo.detect]
min_score = 0.25
[cameras.photo.analytics.tracker]
high_score = 0.25
new_track_score = 0.25
[cameras.photo.analytics.calibration]
points = [
  {{ image = [0, 2171], ground = [0, 0] }},
  {{ image = [3000, 2171], ground = [30, 0] }},
  {{ image = [3000, 0], ground = [30, 22] }},
  {{ image = [0, 0], ground = [0, 22] }},
]
[[cameras.photo.analytics.zones]]
id = "hall"
kind = "crowd"
space = "image"
polygon = [[0, 0], [3000, 0], [3000, 2171], [0, 2171]]
{crowd}"#,
        photo = media("solvay_conference_1927.jpg").display(),
        crowd = crowd("photo"),
    );
    let (snapshots, sub) = run(dir.path(), &camera);
    assert!(!snapshots.is_empty(), "no snapshot published; crowd levels: {:#?}", sub.on_topic("/events/crowd_level"));
    check_snapshots("solvay", &snapshots, &sub);
    // 29 people sit for the photo: their faces are listed as destroyed (the redactor finds 26-29).
    let label = read_label(&snapshots[0].1).unwrap();
    let faces = label.regions.iter().filter(|r| r.0 == "face").count();
    assert!(faces >= 26, "only {faces} face regions on a photo of 29 people");
}
