//! Crowd math, hysteresis, flow and occupancy.

use std::sync::Arc;

use super::level::{los_density_thresholds, raw_level, LevelTracker};
use super::*;
use crate::analytics::ground_track::{GroundKinematics, GroundTrack};
use crate::analytics::road_user::RoadUserKind;
use crate::ground::{Polygon, VehicleCapacity, Zone, ZoneKind};
use crate::infer::BBox;
use crate::track::TrackId;

fn ped(serial: u64, e: f64, n: f64) -> GroundTrack {
    GroundTrack {
        id: TrackId(serial),
        serial,
        class_id: 0,
        label: Arc::from("person"),
        kind: Some(RoadUserKind::Pedestrian),
        bbox: BBox::new(0.0, 0.0, 1.0, 1.0),
        score: 0.9,
        ground: Some(GroundKinematics { east: e, north: n, v_east: 1.0, v_north: 0.0, speed_mps: 1.0, heading_deg: Some(90.0), lat: None, lon: None }),
    }
}

fn square_zone(side: f64) -> Zone {
    Zone {
        id: "z".into(),
        name: None,
        kind: ZoneKind::Crowd,
        ground: Some(Polygon::new(vec![[0.0, 0.0], [side, 0.0], [side, side], [0.0, side]]).unwrap()),
        image: None,
        capacity: None,
    }
}

#[test]
fn fruin_levels_from_density() {
    let th = los_density_thresholds(&CrowdConfig::default().los_m2_per_person);
    // 4 m²/person -> A; 2.0 -> C; 1.0 -> D; 0.7 -> E; 0.3 -> F.
    assert_eq!(Los::from_index(raw_level(1.0 / 4.0, &th)), Los::A);
    assert_eq!(Los::from_index(raw_level(1.0 / 2.5, &th)), Los::B);
    assert_eq!(Los::from_index(raw_level(1.0 / 2.0, &th)), Los::C);
    assert_eq!(Los::from_index(raw_level(1.0 / 1.0, &th)), Los::D);
    assert_eq!(Los::from_index(raw_level(1.0 / 0.7, &th)), Los::E);
    assert_eq!(Los::from_index(raw_level(1.0 / 0.3, &th)), Los::F);
}

#[test]
fn hysteresis_and_min_duration_prevent_flapping() {
    let mut l = LevelTracker::new(vec![2.0, 5.0], 0.1, 5.0);
    let mut changes = Vec::new();
    // Oscillating 2.05 <-> 1.95 every second never holds the caution level long enough.
    for k in 0..30 {
        let v = if k % 2 == 0 { 2.05 } else { 1.95 };
        if let Some(tr) = l.update(k as f64, v) {
            changes.push((k, tr.from, tr.to));
        }
    }
    assert!(changes.is_empty(), "{changes:?}");
    // Held above 2.0 for 5 s: entered once...
    for k in 30..36 {
        if let Some(tr) = l.update(k as f64, 2.05) {
            changes.push((k, tr.from, tr.to));
        }
    }
    // ...and dips to 1.85 (above the 2.0 * 0.9 = 1.8 exit level) do not leave it.
    for k in 36..60 {
        let v = if k % 2 == 0 { 2.05 } else { 1.85 };
        if let Some(tr) = l.update(k as f64, v) {
            changes.push((k, tr.from, tr.to));
        }
    }
    assert_eq!(changes, vec![(35, 0, 1)]);
    // A single-second spike above danger is not reported (min duration).
    assert!(l.update(60.0, 6.0).is_none());
    assert!(l.update(61.0, 2.1).is_none());
    // Falling clearly below 1.8 for 5 s leaves caution.
    let mut left = None;
    for k in 62..70 {
        left = left.or(l.update(k as f64, 1.0));
    }
    assert_eq!(left.map(|t| (t.from, t.to)), Some((1, 0)));
    assert!(l.update(80.0, f64::NAN).is_none());
}

#[test]
fn counts_density_levels_flow_and_aggregate() {
    let cfg = CrowdConfig { min_duration_s: 1.0, ..Default::default() };
    let mut e = CrowdEngine::new(cfg, &[square_zone(2.0)]); // 4 m²
    // 10 people inside -> 2.5 p/m² (caution, LOS F); one walks out across the edge at t = 30.
    let mut changes = Vec::new();
    let mut aggs = Vec::new();
    for k in 0..700 {
        let t = k as f64 / 10.0;
        let mut tracks: Vec<GroundTrack> = (0..9).map(|i| ped(i, 0.2 + 0.18 * i as f64, 1.0)).collect();
        let x = if t < 30.0 { 1.0 } else { 1.0 + (t - 30.0) * 1.0 };
        tracks.push(ped(100, x, 1.5));
        let f = e.update(t, &tracks);
        changes.extend(f.changes);
        aggs.extend(f.aggregates);
    }
    let now = e.now();
    assert_eq!(now[0].count, 9);
    assert!((now[0].density_ppm2.unwrap() - 2.25).abs() < 1e-12);
    assert_eq!(now[0].flow_out_total, 1);
    assert_eq!(now[0].flow_in_total, 0);
    assert!(changes.iter().any(|c| c.scale == LevelScale::Alert && c.to == "caution" && c.rising));
    assert!(changes.iter().any(|c| c.scale == LevelScale::Los && c.to == "F"));
    assert_eq!(aggs.len(), 1, "one finished minute");
    let a = &aggs[0];
    assert_eq!((a.people_count, a.people_count_min, a.people_count_max, a.flow_out), (10, 9, 10, 1));
    assert_eq!(a.direction.as_deref(), Some("outbound"));
    assert!(a.congested);
    let json = serde_json::to_value(a).unwrap();
    assert!(json.get("peopleCount").is_some() && json.get("dateObservedFrom").is_some());
}

#[test]
fn edge_jitter_is_not_flow() {
    let mut e = CrowdEngine::new(CrowdConfig::default(), &[square_zone(4.0)]);
    for k in 0..300 {
        // Standing on the edge x = 4 with ±0.1 m jitter.
        let x = 4.0 + if k % 2 == 0 { 0.1 } else { -0.1 };
        e.update(k as f64 / 10.0, &[ped(1, x, 2.0)]);
    }
    let now = e.now();
    assert_eq!(now[0].flow_in_total + now[0].flow_out_total, 0);
}

#[test]
fn gtfs_occupancy_mapping() {
    let cap = VehicleCapacity { seated: 40, standing: 30 };
    let o = OccupancyConfig::default();
    assert_eq!(occupancy_status(0, &cap, &o), OccupancyStatus::Empty);
    assert_eq!(occupancy_status(4, &cap, &o), OccupancyStatus::Empty);
    assert_eq!(occupancy_status(10, &cap, &o), OccupancyStatus::ManySeatsAvailable);
    assert_eq!(occupancy_status(30, &cap, &o), OccupancyStatus::FewSeatsAvailable);
    assert_eq!(occupancy_status(40, &cap, &o), OccupancyStatus::StandingRoomOnly);
    assert_eq!(occupancy_status(64, &cap, &o), OccupancyStatus::CrushedStandingRoomOnly);
    assert_eq!(occupancy_status(70, &cap, &o), OccupancyStatus::Full);
    let strict = OccupancyConfig { not_accepting_fraction: Some(1.0), ..o.clone() };
    assert_eq!(occupancy_status(75, &cap, &strict), OccupancyStatus::NotAcceptingPassengers);
    assert_eq!(occupancy_status(0, &VehicleCapacity { seated: 0, standing: 0 }, &o), OccupancyStatus::Empty);
    assert_eq!(serde_json::to_string(&OccupancyStatus::ManySeatsAvailable).unwrap(), "\"MANY_SEATS_AVAILABLE\"");
}
