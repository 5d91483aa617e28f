//! `make bench` (analytics part): tracker time per frame at 10, 100 and 500 objects, and the whole
//! per-camera analytics (tracking, ground plane, near-miss, crowding) per frame. Synthetic scenes of
//! objects moving in straight lines with ±2 px box noise; prints ratios against the 1 ms/frame target.

use std::sync::Arc;
use std::time::Instant;

use kaiteki::analytics::{AnalyticsConfig, SceneAnalytics};
use kaiteki::ground::{CalibrationConfig, CalibrationPoint, ZoneConfig, ZoneKind, ZoneSpace};
use kaiteki::infer::{BBox, Detection};
use kaiteki::track::{Tracker, TrackerConfig};

/// Deterministic noise in [-1, 1] (xorshift): the bench must measure the same scene every run.
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

fn scene(n: usize, frames: usize) -> Vec<Vec<Detection>> {
    let labels: [Arc<str>; 3] = [Arc::from("person"), Arc::from("car"), Arc::from("bicycle")];
    let mut noise = Noise(0x9E3779B97F4A7C15);
    let cols = (n as f32).sqrt().ceil() as usize;
    (0..frames)
        .map(|f| {
            (0..n)
                .map(|i| {
                    let (gx, gy) = ((i % cols) as f32, (i / cols) as f32);
                    let (vx, vy) = (((i * 7) % 5) as f32 - 2.0, ((i * 3) % 5) as f32 - 2.0);
                    let x = 20.0 + gx * 60.0 + vx * f as f32 * 0.5 + 2.0 * noise.next();
                    let y = 20.0 + gy * 90.0 + vy * f as f32 * 0.5 + 2.0 * noise.next();
                    let class = (i % 3) as u32;
                    Detection {
                        class_id: [0u32, 2, 1][class as usize],
                        label: labels[class as usize].clone(),
                        score: 0.5 + 0.4 * noise.next().abs(),
                        bbox: BBox::new(x, y, x + 30.0, y + 70.0),
                    }
                })
                .collect()
        })
        .collect()
}

fn per_frame_us(mut f: impl FnMut(f64, &[Detection]), frames: &[Vec<Detection>]) -> f64 {
    // Warm-up on the first frames, then time the whole sequence.
    for (i, d) in frames.iter().take(5).enumerate() {
        f(i as f64 * 0.1, d);
    }
    let t = Instant::now();
    for (i, d) in frames.iter().enumerate() {
        f(5.0 + i as f64 * 0.1, d);
    }
    t.elapsed().as_secs_f64() * 1e6 / frames.len() as f64
}

fn main() {
    println!("# kaiteki analytics bench (synthetic scenes, 10 fps)");
    for n in [10usize, 100, 500] {
        let frames = scene(n, 200);
        let mut tracker = Tracker::new(TrackerConfig::default());
        let us = per_frame_us(|t, d| { tracker.update(t, d); }, &frames);
        println!("tracker, {n:>3} objects            {us:9.1} us/frame   ratio to 1 ms target {:.3}", us / 1000.0);
    }
    let calibration = CalibrationConfig {
        points: vec![
            CalibrationPoint { image: [0.0, 1080.0], ground: [0.0, 0.0] },
            CalibrationPoint { image: [1920.0, 1080.0], ground: [20.0, 0.0] },
            CalibrationPoint { image: [1920.0, 0.0], ground: [30.0, 40.0] },
            CalibrationPoint { image: [0.0, 0.0], ground: [-10.0, 40.0] },
        ],
        anchor: None,
    };
    let zone = ZoneConfig {
        id: "plaza".into(),
        name: None,
        polygon: vec![[0.0, 0.0], [1920.0, 0.0], [1920.0, 1080.0], [0.0, 1080.0]],
        space: ZoneSpace::Image,
        kind: ZoneKind::Crowd,
        capacity: None,
    };
    for n in [10usize, 100] {
        let frames = scene(n, 200);
        let cfg = AnalyticsConfig { calibration: Some(calibration.clone()), zones: vec![zone.clone()], ..AnalyticsConfig::default() };
        let mut a = SceneAnalytics::new(cfg, None).expect("analytics config");
        let us = per_frame_us(|t, d| { a.update(t, d); }, &frames);
        println!("all analytics, {n:>3} objects      {us:9.1} us/frame   (tracking, ground, near-miss, crowd)");
    }
}
