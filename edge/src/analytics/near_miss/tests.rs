//! Near-miss measures against closed-form answers on analytic trajectories.

use std::sync::Arc;

use super::engine::NearMissEngine;
use super::measures::{classify, drac, ttc, ConflictType, Mover, Severity};
use super::*;
use crate::analytics::ground_track::{GroundKinematics, GroundTrack};
use crate::analytics::road_user::RoadUserKind;
use crate::infer::BBox;
use crate::track::TrackId;

fn gt(serial: u64, kind: RoadUserKind, pos: [f64; 2], vel: [f64; 2]) -> GroundTrack {
    let speed = vel[0].hypot(vel[1]);
    let heading_deg = (speed > 0.1).then(|| vel[0].atan2(vel[1]).to_degrees().rem_euclid(360.0));
    GroundTrack {
        id: TrackId(serial),
        serial,
        class_id: 0,
        label: Arc::from(format!("{kind:?}").to_lowercase()),
        kind: Some(kind),
        bbox: BBox::new(0.0, 0.0, 1.0, 1.0),
        score: 0.9,
        ground: Some(GroundKinematics { east: pos[0], north: pos[1], v_east: vel[0], v_north: vel[1], speed_mps: speed, heading_deg, lat: None, lon: None }),
    }
}

fn mover(kind: RoadUserKind, pos: [f64; 2], vel: [f64; 2]) -> Mover {
    Mover { pos, vel, heading: Some(vel[1].atan2(vel[0])), footprint: kind.footprint() }
}

fn within(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

/// Runs the engine over `dur` seconds at 30 Hz with state functions of time for two users.
fn run(dur: f64, users: &[(RoadUserKind, &dyn Fn(f64) -> ([f64; 2], [f64; 2]))], cfg: NearMissConfig) -> Vec<Conflict> {
    let mut e = NearMissEngine::new(cfg);
    let mut out = Vec::new();
    let n = (dur * 30.0) as usize;
    for k in 0..=n {
        let t = k as f64 / 30.0;
        let tracks: Vec<GroundTrack> = users.iter().enumerate().map(|(i, (kind, f))| { let (p, v) = f(t); gt(i as u64 + 1, *kind, p, v) }).collect();
        out.extend(e.update(t, &tracks, None, &[]));
    }
    out.extend(e.flush(dur, None, &[]));
    out
}

#[test]
fn closed_form_ttc_and_drac() {
    // Rear-end: follower 15 m/s, leader 10 m/s, centres 30 m apart: gap 30 - 4.5 = 25.5 m.
    let f = mover(RoadUserKind::Car, [0.0, 0.0], [15.0, 0.0]);
    let l = mover(RoadUserKind::Car, [30.0, 0.0], [10.0, 0.0]);
    let t = ttc(&f, &l).unwrap();
    assert!((t - 25.5 / 5.0).abs() < 1e-9, "{t}");
    assert!((drac(&f, &l, t).unwrap() - 25.0 / (2.0 * 25.5)).abs() < 1e-9);
    // Perpendicular crossing at 10 m/s each from 30 m: contact when the x-gap closes to
    // (4.5 + 1.8) / 2 = 3.15 m, i.e. t = (30 - 3.15) / 10.
    let a = mover(RoadUserKind::Car, [-30.0, 0.0], [10.0, 0.0]);
    let b = mover(RoadUserKind::Car, [0.0, -30.0], [0.0, 10.0]);
    assert!((ttc(&a, &b).unwrap() - 2.685).abs() < 1e-9);
    // Adjacent lanes 3.5 m apart never touch (half widths sum 1.8 m).
    let p = mover(RoadUserKind::Car, [0.0, 3.5], [20.0, 0.0]);
    assert!(ttc(&a, &p).is_none());
    assert_eq!(classify(10.0, &ConflictAngles::default()), ConflictType::RearEnd);
    assert_eq!(classify(40.0, &ConflictAngles::default()), ConflictType::LaneChange);
    assert_eq!(classify(90.0, &ConflictAngles::default()), ConflictType::Crossing);
    assert_eq!(classify(170.0, &ConflictAngles::default()), ConflictType::Crossing);
}

#[test]
fn rear_end_with_braking_matches_closed_form() {
    // Leader 10 m/s. Follower 15 m/s until the bumper gap is 3 m, then brakes at 6 m/s² to
    // 10 m/s. Closed form: min TTC = 3 / 5 = 0.6 s at braking onset, max DRAC = 5² / (2·3).
    let gap0 = 25.0; // initial bumper gap
    let t_b = (gap0 - 3.0) / 5.0;
    let follower = move |t: f64| -> ([f64; 2], [f64; 2]) {
        if t <= t_b {
            ([15.0 * t, 0.0], [15.0, 0.0])
        } else {
            let tau = (t - t_b).min(5.0 / 6.0);
            let extra = (t - t_b - tau).max(0.0);
            let x = 15.0 * t_b + 15.0 * tau - 3.0 * tau * tau + 10.0 * extra;
            ([x, 0.0], [15.0 - 6.0 * tau, 0.0])
        }
    };
    let leader = move |t: f64| ([gap0 + 4.5 + 10.0 * t, 0.0], [10.0, 0.0]);
    let cs = run(t_b + 4.0, &[(RoadUserKind::Car, &follower), (RoadUserKind::Car, &leader)], NearMissConfig::default());
    assert_eq!(cs.len(), 1, "{cs:#?}");
    let c = &cs[0];
    assert_eq!(c.conflict_type, ConflictType::RearEnd);
    assert_eq!(c.severity, Severity::Critical);
    // Closed form on the analytic trajectory: during braking the bumper gap is
    // g(τ) = 3 − 5τ + 3τ² and the closing speed w(τ) = 5 − 6τ, so TTC = g/w and DRAC = w²/(2g);
    // their extrema are taken over τ densely (TTC still falls briefly after braking starts).
    let taus = (0..=8000).map(|i| i as f64 * (5.0 / 6.0) / 8000.0).filter(|&x| 5.0 - 6.0 * x > 1e-6);
    let (mut ttc_cf, mut drac_cf) = (f64::INFINITY, 0.0f64);
    for tau in taus {
        let (g, w) = (3.0 - 5.0 * tau + 3.0 * tau * tau, 5.0 - 6.0 * tau);
        ttc_cf = ttc_cf.min(g / w);
        drac_cf = drac_cf.max(w * w / (2.0 * g));
    }
    let min_ttc = c.min_ttc_s.unwrap();
    assert!(within(min_ttc, ttc_cf, 0.05), "min TTC {min_ttc} vs closed form {ttc_cf}");
    let drac_max = c.max_drac_mps2.unwrap();
    assert!(within(drac_max, drac_cf, 0.05), "DRAC {drac_max} vs closed form {drac_cf}");
    assert_eq!(c.approaching_id, Some(TrackId(1)));
}

/// Car east at 10 m/s from x = -40; second user north along x = 0, entering the conflict area
/// `delay` after the car left it. Conflict area: |x| <= W2/2, |y| <= 0.9 (car half width).
fn crossing(second: RoadUserKind, v2: f64, delay: f64) -> (Vec<Conflict>, f64) {
    let car = |t: f64| ([-40.0 + 10.0 * t, 0.0], [10.0, 0.0]);
    let fp2 = second.footprint();
    let car_exit = (40.0 + fp2.width / 2.0 + 2.25) / 10.0;
    let enter = car_exit + delay;
    // Second user's front reaches y = -0.9 at `enter`.
    let y_enter = -0.9 - fp2.length / 2.0;
    let other = move |t: f64| ([0.0, y_enter + v2 * (t - enter)], [0.0, v2]);
    let cfg = NearMissConfig::default();
    (run(enter + 6.0, &[(RoadUserKind::Car, &car), (second, &other)], cfg), delay)
}

#[test]
fn crossing_pet_matches_closed_form() {
    for (kind, v) in [(RoadUserKind::Car, 10.0), (RoadUserKind::Pedestrian, 1.4), (RoadUserKind::Cyclist, 5.0)] {
        let (cs, pet) = crossing(kind, v, 0.8);
        assert_eq!(cs.len(), 1, "{kind:?}: {cs:#?}");
        let c = &cs[0];
        let got = c.pet_s.unwrap();
        assert!(within(got, pet, 0.05), "{kind:?}: PET {got} vs {pet}");
        assert_eq!(c.conflict_type, ConflictType::Crossing);
        assert_eq!(c.severity, Severity::Critical);
        assert_eq!(c.first_through_id, Some(TrackId(1)));
        assert!(c.position[0].abs() < 0.5 && c.position[1].abs() < 0.5, "{:?}", c.position);
    }
    let (cs, pet) = crossing(RoadUserKind::Car, 10.0, 1.2);
    assert_eq!(cs.len(), 1);
    assert!(within(cs[0].pet_s.unwrap(), pet, 0.05));
    assert_eq!(cs[0].severity, Severity::Serious);
}

#[test]
fn passing_three_seconds_apart_is_no_near_miss() {
    for kind in [RoadUserKind::Car, RoadUserKind::Pedestrian] {
        let (cs, _) = crossing(kind, if kind == RoadUserKind::Car { 10.0 } else { 1.4 }, 3.0);
        assert!(cs.is_empty(), "{kind:?}: {cs:#?}");
    }
}

#[test]
fn parallel_lanes_raise_nothing() {
    let a = |t: f64| ([10.0 * t, 0.0], [10.0, 0.0]);
    let b = |t: f64| ([-20.0 + 13.0 * t, 3.5], [13.0, 0.0]);
    // Slightly converging (2°) but never within a car width before passing.
    let c = |t: f64| ([-20.0 + 14.0 * t, -3.6 + 0.02 * t], [14.0, 0.02]);
    let cs = run(12.0, &[(RoadUserKind::Car, &a), (RoadUserKind::Car, &b), (RoadUserKind::Bus, &c)], NearMissConfig::default());
    assert!(cs.is_empty(), "{cs:#?}");
}

#[test]
fn pedestrian_pairs_ignored_by_default_and_hourly_rollup() {
    let a = |t: f64| ([-5.0 + 1.5 * t, 0.0], [1.5, 0.0]);
    let b = |t: f64| ([5.0 - 1.5 * t, 0.1], [-1.5, 0.0]);
    assert!(run(6.0, &[(RoadUserKind::Pedestrian, &a), (RoadUserKind::Pedestrian, &b)], NearMissConfig::default()).is_empty());
    let cfg = NearMissConfig { include_pedestrian_pairs: true, ..Default::default() };
    assert!(!run(6.0, &[(RoadUserKind::Pedestrian, &a), (RoadUserKind::Pedestrian, &b)], cfg).is_empty());

    let (cs, _) = crossing(RoadUserKind::Car, 10.0, 0.5);
    let mut h = HourlyNearMiss::default();
    assert!(h.advance(10.0).is_none());
    h.observe_user(1, RoadUserKind::Car);
    h.observe_user(2, RoadUserKind::Pedestrian);
    h.observe_user(1, RoadUserKind::Truck);
    h.record(&cs[0]);
    let agg = h.advance(3600.5).unwrap();
    assert_eq!((agg.period_start, agg.period_end, agg.conflicts, agg.road_users), (0.0, 3600.0, 1, 2));
    let by_kind: Vec<(RoadUserKind, u32)> = agg.road_users_by_kind.into_iter().collect();
    assert_eq!(by_kind, [(RoadUserKind::Pedestrian, 1), (RoadUserKind::Car, 1)], "a track counts under its first kind");
    assert_eq!(agg.by_type[&ConflictType::Crossing].critical, 1);
    assert_eq!(agg.by_users["car/car"], 1);
    assert!((agg.risk_index - 150.0).abs() < 1e-9);
}

/// A pedestrian crosses in front of a car that has just turned right. The car comes north at 8 m/s,
/// turns on a 10 m arc and heads east; the pedestrian walks north across the car's new lane and clears
/// it `pet` seconds before the car's front reaches the crossing. The conflict area is where the two
/// paths' footprint bands overlap, so PET has a closed form from the footprints.
#[test]
fn pedestrian_in_front_of_a_turning_car() {
    let (v, r, xp, walk) = (8.0, 10.0, 14.0, 1.4);
    let t1 = 20.0 / v;
    let t2 = t1 + std::f64::consts::FRAC_PI_2 * r / v;
    let car = move |t: f64| -> ([f64; 2], [f64; 2]) {
        if t < t1 {
            ([-r, -20.0 + v * t], [0.0, v])
        } else if t < t2 {
            let th = (t - t1) * v / r;
            ([-r * th.cos(), r * th.sin()], [v * th.sin(), v * th.cos()])
        } else {
            ([v * (t - t2), r], [v, 0.0])
        }
    };
    let fc = RoadUserKind::Car.footprint();
    let fp = RoadUserKind::Pedestrian.footprint();
    for pet in [0.8, 1.3] {
        // The car's front reaches the pedestrian's band |x - xp| <= width/2 at `enter`.
        let enter = t2 + (xp - fp.width / 2.0 - fc.length / 2.0) / v;
        let exit = enter - pet;
        // The pedestrian's rear leaves the car's band |y - r| <= car width / 2 at `exit`.
        let y_exit = r + fc.width / 2.0 + fp.length / 2.0;
        let ped = move |t: f64| ([xp, y_exit + walk * (t - exit)], [0.0, walk]);
        let cs = run(enter + 4.0, &[(RoadUserKind::Car, &car), (RoadUserKind::Pedestrian, &ped)], NearMissConfig::default());
        assert_eq!(cs.len(), 1, "PET {pet}: {cs:#?}");
        let c = &cs[0];
        let got = c.pet_s.expect("PET measured");
        assert!(within(got, pet, 0.05), "PET {got} vs closed form {pet}");
        assert_eq!(c.first_through_id, Some(TrackId(2)), "the pedestrian crossed first");
        let expected = if pet < 1.0 { Severity::Critical } else { Severity::Serious };
        assert_eq!(c.severity, expected, "PET {pet}");
        // The position is the midpoint of the two users at minimum TTC (the car, straightened after the
        // turn, closing on the pedestrian): on the car's new lane, between the turn's exit and the crossing.
        assert!(c.min_ttc_s.is_some(), "the approach after the turn has a TTC");
        assert!((c.position[1] - r).abs() < 1.5 && (0.0..=xp).contains(&c.position[0]), "{:?}", c.position);
    }
}
