//! Closed-form drives: a top-down camera on a bus driving north over known damage.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;

use super::*;
use crate::ground::{CalibrationConfig, CalibrationPoint};
use crate::infer::{BBox, Detection};
use crate::source::FrameView;

static BLANK: [u8; 320 * 320 * 3] = [0; 320 * 320 * 3];

/// Image 320x320; ground x in [-4, 4] m (right), y in [2, 10] m ahead; 40 px per metre.
fn calibration() -> CalibrationConfig {
    let pt = |x: f64, y: f64| CalibrationPoint { image: [160.0 + x * 40.0, 320.0 - (y - 2.0) * 40.0], ground: [x, y] };
    CalibrationConfig { points: vec![pt(-4.0, 2.0), pt(4.0, 2.0), pt(4.0, 10.0), pt(-4.0, 10.0), pt(0.0, 6.0)], anchor: None }
}

fn cfg(missed: u32) -> RoadDamageConfig {
    RoadDamageConfig { calibration: Some(calibration()), missed_passes: missed, ..RoadDamageConfig::default() }
}

const LAT0: f64 = 35.6074;
const LON0: f64 = 140.1065;
const M_PER_DEG_LAT: f64 = 110_950.0;

/// One damage on the road: north of the route start (m), east offset (m), diameter (m), class.
struct Damage {
    north: f64,
    east: f64,
    size: f64,
    class: &'static str,
}

fn label(class: &str) -> Arc<str> {
    Arc::from(class)
}

/// Drives 120 m north at `speed` m/s, 10 frames/s, detecting the damage that is in view.
fn drive(a: &mut RoadDamageAnalytic, t0: f64, wall0: SystemTime, speed: f64, damage: &[Damage], fix: bool) -> Vec<RoadDamageEvent> {
    let mut events = Vec::new();
    let frames = (120.0 / speed * 10.0) as usize;
    for i in 0..frames + 30 {
        let dt = i as f64 / 10.0;
        let north = (speed * dt).min(120.0);
        let pose = Pose { lat: LAT0 + north / M_PER_DEG_LAT, lon: LON0, heading_deg: Some(0.0), speed_mps: Some(speed), uncertainty_m: 1.5 };
        let mut dets = Vec::new();
        for d in damage {
            let y = d.north - north;
            let (cx, cy) = (160.0 + d.east * 40.0, 320.0 - (y - 2.0) * 40.0);
            let half = d.size * 20.0;
            let b = BBox::new((cx - half) as f32, (cy - half) as f32, (cx + half) as f32, (cy + half) as f32).clamp(320.0, 320.0);
            if b.width() > 4.0 && b.height() > 4.0 {
                dets.push(Detection { class_id: 3, label: label(d.class), score: 0.8, bbox: b });
            }
        }
        let p = if fix { Ok(pose) } else { Err(NoPosition::NoFix("no receiver".into())) };
        let out = a.update(t0 + dt, wall0 + Duration::from_secs_f64(dt), FrameView::new(320, 320, 960, &BLANK).unwrap(), &dets, p);
        events.extend(out.events);
    }
    events
}

fn store() -> SharedRecords {
    Arc::new(Mutex::new(RecordStore::in_memory(1000)))
}

fn damages() -> Vec<Damage> {
    vec![
        Damage { north: 40.0, east: 0.5, size: 0.6, class: "D40" },
        Damage { north: 70.0, east: -1.0, size: 0.15, class: "D40" },
        Damage { north: 90.0, east: 1.0, size: 1.0, class: "D10" },
    ]
}

#[test]
fn one_record_per_damage_then_joined_then_possibly_repaired() {
    let records = store();
    let mut a = RoadDamageAnalytic::new("bus", cfg(1), records.clone()).unwrap();
    let now = SystemTime::now();
    let first = drive(&mut a, 0.0, now, 5.0, &damages(), true);
    let created: Vec<_> = first.iter().filter(|e| e.change == Change::Created).collect();
    assert_eq!(created.len(), 3, "{first:#?}");
    assert_eq!(records.lock().len(), 3);
    for e in &created {
        let obs = e.observation.as_ref().unwrap();
        assert!(obs.frames >= 10, "one observation spans the frames of one pass: {obs:?}");
        assert!(obs.position.is_some());
    }
    // Positions within a metre of the truth.
    let big = created.iter().find(|e| e.record.class == "D40" && e.record.severity.as_ref().unwrap().size_m > 0.4).unwrap();
    let p = big.record.position.unwrap();
    let d = geotag::distance_m(p.lat, p.lon, LAT0 + 40.0 / M_PER_DEG_LAT, LON0 + 0.5 / (M_PER_DEG_LAT * LAT0.to_radians().cos()));
    assert!(d < 1.0, "position off by {d} m");
    // Severity through the ground plane: 0.6 m pothole, repair needed; 0.15 m: damage, no repair.
    let sev = big.record.severity.as_ref().unwrap();
    assert!((sev.size_m - 0.6).abs() < 0.05, "{sev:?}");
    assert_eq!(big.record.triage, Triage::RepairNeeded);
    let small = created.iter().find(|e| e.record.class == "D40" && e.record.severity.as_ref().unwrap().size_m < 0.4).unwrap();
    assert_eq!(small.record.triage, Triage::DamageNoRepair);

    // Second pass, another day, at another speed: joins the same records.
    let second = drive(&mut a, 1000.0, now + Duration::from_secs(86_400), 8.0, &damages(), true);
    assert!(second.iter().all(|e| e.change != Change::Created), "{second:#?}");
    assert_eq!(second.iter().filter(|e| e.change == Change::Observed).count(), 3);
    assert_eq!(records.lock().len(), 3);
    assert!(records.lock().all().iter().all(|r| r.observations == 2 && r.passes_seen >= 1), "{:#?}", records.lock().all());

    // Third pass: the small pothole was patched.
    let mut left = damages();
    left.remove(1);
    let third = drive(&mut a, 2000.0, now + Duration::from_secs(2 * 86_400), 5.0, &left, true);
    let gone: Vec<_> = third.iter().filter(|e| e.change == Change::PossiblyRepaired).collect();
    assert_eq!(gone.len(), 1, "{third:#?}");
    assert_eq!(gone[0].record.record_id, small.record.record_id);
    assert_eq!(gone[0].record.status, RecordStatus::PossiblyRepaired);
    assert_eq!(records.lock().len(), 3);
}

#[test]
fn misses_must_be_consecutive_and_a_sighting_reopens() {
    let records = store();
    let mut a = RoadDamageAnalytic::new("bus", cfg(2), records.clone()).unwrap();
    let now = SystemTime::now();
    let one = [Damage { north: 50.0, east: 0.0, size: 0.5, class: "D40" }];
    drive(&mut a, 0.0, now, 5.0, &one, true);
    let miss1 = drive(&mut a, 100.0, now, 5.0, &[], true);
    assert!(miss1.is_empty(), "one miss is not enough: {miss1:?}");
    assert_eq!(records.lock().all()[0].passes_missed, 1);
    let miss2 = drive(&mut a, 200.0, now, 5.0, &[], true);
    assert_eq!(miss2.len(), 1);
    assert_eq!(miss2[0].record.status, RecordStatus::PossiblyRepaired);
    let back = drive(&mut a, 300.0, now, 5.0, &one, true);
    assert_eq!(back.iter().filter(|e| e.change == Change::Observed).count(), 1);
    assert_eq!(records.lock().all()[0].status, RecordStatus::Open);
}

#[test]
fn no_fix_means_no_position_and_no_pass() {
    let records = store();
    let mut a = RoadDamageAnalytic::new("bus", cfg(1), records.clone()).unwrap();
    // Without a pose damage is tracked in image pixels, which needs slow apparent motion.
    let ev = drive(&mut a, 0.0, SystemTime::now(), 1.0, &damages()[..1], false);
    assert_eq!(ev.len(), 1);
    let obs = ev[0].observation.as_ref().unwrap();
    assert!(obs.position.is_none() && ev[0].record.position.is_none());
    assert_eq!(obs.no_position.as_deref(), Some("no GNSS fix: no receiver"));
    // Severity is still measured: it needs the calibration, not the fix.
    assert!(obs.severity.is_some());
}

#[test]
fn roi_and_class_thresholds_filter() {
    let records = store();
    let mut c = cfg(1);
    // Only the left half of the image is road.
    c.roi = Some(vec![[0.0, 0.0], [160.0, 0.0], [160.0, 320.0], [0.0, 320.0]]);
    let mut a = RoadDamageAnalytic::new("bus", c, records.clone()).unwrap();
    let dmg = [
        Damage { north: 40.0, east: -2.0, size: 0.5, class: "D40" },
        Damage { north: 60.0, east: 2.0, size: 0.5, class: "D40" },
        Damage { north: 80.0, east: -2.0, size: 0.5, class: "car" },
    ];
    let ev = drive(&mut a, 0.0, SystemTime::now(), 5.0, &dmg, true);
    assert_eq!(ev.len(), 1, "{ev:#?}");
    let mut c = cfg(1);
    c.classes.get_mut("D40").unwrap().min_score = 0.9;
    let mut a = RoadDamageAnalytic::new("bus", c, store()).unwrap();
    assert!(drive(&mut a, 0.0, SystemTime::now(), 5.0, &dmg, true).is_empty());
}

#[test]
fn records_persist_and_marks_close_them() {
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let id = {
        let records = Arc::new(Mutex::new(RecordStore::open(dir.path(), 100).unwrap()));
        let mut a = RoadDamageAnalytic::new("bus", cfg(1), records.clone()).unwrap();
        let ev = drive(&mut a, 0.0, now, 5.0, &damages()[..1], true);
        ev[0].record.record_id.clone()
    };
    let records = Arc::new(Mutex::new(RecordStore::open(dir.path(), 100).unwrap()));
    assert_eq!(records.lock().len(), 1);
    // After a restart the next pass still joins the stored record.
    let mut a = RoadDamageAnalytic::new("bus", cfg(1), records.clone()).unwrap();
    let ev = drive(&mut a, 0.0, now, 5.0, &damages()[..1], true);
    assert_eq!(ev.iter().filter(|e| e.change == Change::Observed && e.record.record_id == id).count(), 1);
    // Repaired by a crew: closed; the same damage seen again is new damage.
    let m = records.lock().mark(&id, RecordStatus::Repaired).unwrap();
    assert_eq!(m.change, Change::Marked);
    let ev = drive(&mut a, 500.0, now, 5.0, &damages()[..1], true);
    assert_eq!(ev.iter().filter(|e| e.change == Change::Created).count(), 1);
    assert!(records.lock().mark("nope", RecordStatus::Verified).is_err());
    drop(a);
    let reopened = RecordStore::open(dir.path(), 100).unwrap();
    assert_eq!(reopened.len(), 2);
    assert_eq!(reopened.get(&id).unwrap().status, RecordStatus::Repaired);
}

#[test]
fn store_is_bounded_and_skips_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    {
        let records = Arc::new(Mutex::new(RecordStore::open(dir.path(), 2).unwrap()));
        let mut a = RoadDamageAnalytic::new("bus", cfg(1), records.clone()).unwrap();
        drive(&mut a, 0.0, SystemTime::now(), 5.0, &damages(), true);
        assert_eq!(records.lock().len(), 2);
        assert_eq!(records.lock().evicted, 1);
    }
    let conn = rusqlite::Connection::open(dir.path().join("road_damage.sqlite")).unwrap();
    conn.execute("INSERT INTO records (id, body) VALUES ('x', 'not json')", []).unwrap();
    drop(conn);
    assert_eq!(RecordStore::open(dir.path(), 10).unwrap().len(), 2);
}

#[test]
fn config_problems_are_named() {
    let mut c = cfg(0);
    c.merge_radius_m = -1.0;
    c.classes.get_mut("D40").unwrap().repair_at = 0.01;
    c.roi = Some(vec![[0.0, 0.0], [1.0, 1.0]]);
    let p = c.validate();
    for needle in ["missed_passes", "merge_radius_m", "classes.D40.repair_at", "roi"] {
        assert!(p.iter().any(|x| x.contains(needle)), "{needle} not in {p:?}");
    }
    assert!(RoadDamageAnalytic::new("bus", c, store()).is_err());
}

#[test]
fn vehicle_frame_round_trip_with_heading() {
    let pose = Pose { lat: LAT0, lon: LON0, heading_deg: Some(90.0), speed_mps: Some(5.0), uncertainty_m: 1.0 };
    // Heading east: 10 m ahead is 10 m east.
    let p = geotag::vehicle_to_wgs84(&pose, 0.0, 10.0).unwrap();
    assert!((p.lat - LAT0).abs() < 1e-7 && p.lon > LON0);
    let (x, y) = geotag::wgs84_to_vehicle(&pose, p.lat, p.lon).unwrap();
    assert!(x.abs() < 1e-6 && (y - 10.0).abs() < 1e-6);
    let standing = Pose { heading_deg: None, ..pose };
    assert_eq!(geotag::vehicle_to_wgs84(&standing, 0.0, 10.0), Err(NoPosition::NoHeading));
}

#[test]
fn fixed_camera_places_damage_by_its_anchor_and_counts_windows_as_passes() {
    let mut cal = calibration();
    cal.anchor = Some(crate::ground::AnchorConfig { lat: LAT0, lon: LON0 });
    let c = RoadDamageConfig { mounting: Mounting::Fixed, calibration: Some(cal), missed_passes: 1, fixed_pass_s: 60.0, ..RoadDamageConfig::default() };
    let records = store();
    let mut a = RoadDamageAnalytic::new("pole", c, records.clone()).unwrap();
    let now = SystemTime::now();
    // A 0.5 m pothole 6 m north, 1 m east of the anchor: seen for 30 s, then patched.
    let (cx, cy) = (160.0 + 40.0, 320.0 - (6.0 - 2.0) * 40.0);
    let det = Detection { class_id: 3, label: label("D40"), score: 0.8, bbox: BBox::new(cx - 10.0, cy - 10.0, cx + 10.0, cy + 10.0) };
    let mut events = Vec::new();
    for i in 0..1900 {
        let t = f64::from(i) / 10.0;
        let dets = if t < 30.0 { vec![det.clone()] } else { Vec::new() };
        let view = FrameView::new(320, 320, 960, &BLANK).unwrap();
        events.extend(a.update(t, now + Duration::from_secs_f64(t), view, &dets, Err(NoPosition::NoFix("none".into()))).events);
    }
    let created: Vec<_> = events.iter().filter(|e| e.change == Change::Created).collect();
    assert_eq!(created.len(), 1, "{events:#?}");
    let p = created[0].record.position.expect("a fixed camera places damage by its anchor");
    let d = geotag::distance_m(p.lat, p.lon, LAT0 + 6.0 / M_PER_DEG_LAT, LON0 + 1.0 / (M_PER_DEG_LAT * LAT0.to_radians().cos()));
    assert!(d < 0.5, "{d} m off");
    // The window after it was last seen has no sighting: possibly repaired, once.
    let gone: Vec<_> = events.iter().filter(|e| e.change == Change::PossiblyRepaired).collect();
    assert_eq!(gone.len(), 1, "{events:#?}");
}
