//! End-to-end through the façade: detections in, analytics out.

use std::sync::Arc;

use super::*;
use crate::ground::{CalibrationConfig, CalibrationPoint, ZoneConfig, ZoneKind, ZoneSpace};
use crate::infer::{BBox, Detection};

/// Top-down camera: 20 px per metre, ground origin at pixel (100, 800), north up.
fn calibration() -> CalibrationConfig {
    let pt = |e: f64, n: f64| CalibrationPoint { image: [100.0 + 20.0 * e, 800.0 - 20.0 * n], ground: [e, n] };
    CalibrationConfig { points: vec![pt(0.0, 0.0), pt(40.0, 0.0), pt(40.0, 30.0), pt(0.0, 30.0), pt(20.0, 15.0)], anchor: None }
}

fn person_at(e: f64, n: f64, jx: f64, jy: f64) -> Detection {
    let (u, v) = (100.0 + 20.0 * e + jx, 800.0 - 20.0 * n + jy);
    Detection { class_id: 0, label: Arc::from("person"), score: 0.9, bbox: BBox::new((u - 10.0) as f32, (v - 40.0) as f32, (u + 10.0) as f32, v as f32) }
}

fn jitter(k: u64) -> f64 {
    let mut z = k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z ^= z >> 29;
    z = z.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 32;
    (z as f64 / u64::MAX as f64) * 6.0 - 3.0 // ±3 px
}

#[test]
fn jittered_slow_pedestrians_raise_no_near_miss() {
    let mut cfg = AnalyticsConfig { calibration: Some(calibration()), ..Default::default() };
    cfg.near_miss.include_pedestrian_pairs = true;
    cfg.zones.push(ZoneConfig { id: "plaza".into(), name: None, polygon: vec![[5.0, 5.0], [25.0, 5.0], [25.0, 20.0], [5.0, 20.0]], space: ZoneSpace::Ground, kind: ZoneKind::Crowd, capacity: None });
    let mut sa = SceneAnalytics::new(cfg, None).unwrap();
    let mut conflicts = 0;
    let (mut err2, mut n) = (0.0f64, 0usize);
    for k in 0..(30 * 60) {
        let t = k as f64 / 30.0;
        // Two people 3 m apart strolling towards each other's side at 0.5 m/s, slightly offset.
        let dets = [
            person_at(10.0 + 0.5 * t.min(10.0), 10.0, jitter(4 * k), jitter(4 * k + 1)),
            person_at(10.0 + 0.5 * t.min(10.0), 13.0, jitter(4 * k + 2), jitter(4 * k + 3)),
        ];
        let out = sa.update(t, &dets);
        conflicts += out.conflicts_closed.len();
        for g in out.tracks.iter().filter_map(|g| g.ground) {
            if t > 2.0 && !(9.8..12.0).contains(&t) {
                err2 += (g.speed_mps - if t < 10.0 { 0.5 } else { 0.0 }).powi(2);
                n += 1;
            }
        }
    }
    assert_eq!(conflicts, 0);
    // ±3 px = ±0.15 m of jitter must not look like running: RMS speed error well under walking.
    let rms = (err2 / n.max(1) as f64).sqrt();
    eprintln!("ground speed RMS error under ±3 px jitter: {rms:.3} m/s");
    assert!(rms < 0.25, "speed RMS error {rms}");
    let now = sa.crowd_now();
    assert_eq!(now[0].count, 2);
    assert!((now[0].density_ppm2.unwrap() - 2.0 / 300.0).abs() < 1e-9);
}

#[test]
fn validation_names_every_problem() {
    let mut cfg = AnalyticsConfig::default();
    cfg.tracker.rotate_s = 7200.0;
    cfg.crowd.caution_density = 6.0;
    cfg.zones.push(ZoneConfig { id: "a".into(), name: None, polygon: vec![[0.0, 0.0], [1.0, 0.0]], space: ZoneSpace::Image, kind: ZoneKind::Crowd, capacity: None });
    cfg.zones.push(ZoneConfig { id: "a".into(), name: None, polygon: vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]], space: ZoneSpace::Ground, kind: ZoneKind::Crowd, capacity: None });
    let p = cfg.validate();
    assert!(p.iter().any(|s| s.contains("tracker.rotate_s")), "{p:?}");
    assert!(p.iter().any(|s| s.contains("crowd.caution_density")), "{p:?}");
    assert!(p.iter().any(|s| s.contains("zones[0]") && s.contains("at least 3")), "{p:?}");
    assert!(p.iter().any(|s| s.contains("zones[1]") && s.contains("already used")), "{p:?}");
    assert!(p.iter().any(|s| s.contains("zones[1]") && s.contains("no calibration")), "{p:?}");
    assert!(matches!(SceneAnalytics::new(cfg, None), Err(AnalyticsError::Invalid(_))));

    let good = AnalyticsConfig { calibration: Some(calibration()), ..Default::default() };
    assert!(good.validate().is_empty(), "{:?}", good.validate());
    let r = good.calibration_report().unwrap().unwrap();
    assert!(r.ground_max_m < 1e-6);
    // Deserialises from JSON with defaults and rejects unknown fields.
    let cfg: AnalyticsConfig = serde_json::from_str(r#"{"zones": [], "near_miss": {"ttc_open_s": 2.5}}"#).unwrap();
    assert_eq!(cfg.near_miss.ttc_open_s, 2.5);
    assert!(serde_json::from_str::<AnalyticsConfig>(r#"{"bogus": 1}"#).is_err());
    let schema = schemars::schema_for!(AnalyticsConfig);
    assert!(serde_json::to_string(&schema).unwrap().contains("ttc_open_s"));
}
