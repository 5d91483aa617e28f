//! A generated intersection near-miss for the near-miss and dashboard tests: a top-down video of a car
//! (red patch) driving east towards a pedestrian (green patch) crossing its lane northwards, braking
//! hard and stopping 2 m short of the crossing line. The fixture model
//! (models/fixtures/traffic_fixture_yolov8.toml) reads the patches as `car` and `person`.
//!
//! Ground: x east, y north, metres; the image shows x in [-20, 20], y in [0, 40] at 8 px/m.
//! Truth, under the analytic's constant-velocity model: the pair is on a collision course from the first
//! frame ([`true_ttc`]), and the car never reaches the pedestrian's path (so there is no
//! post-encroachment time).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

pub const W: u32 = 320;
pub const H: u32 = 320;
pub const PX_PER_M: f64 = 8.0;
pub const FPS: u32 = 10;
/// Seven seconds: approach, stop, and the pedestrian walking on out of the car's way.
pub const FRAMES: u32 = 70;

/// The car's lane (y of its centre line) and the pedestrian's path (x).
pub const LANE_Y: f64 = 20.0;
pub const PATH_X: f64 = 0.0;
pub const CAR_SPEED: f64 = 8.0;
const CAR_X0: f64 = -19.0;
const CAR_DECEL: f64 = 6.0;
/// Where the car's centre stops (its painted front is 1.5 m ahead of that).
pub const CAR_STOP_X: f64 = -4.5;
const WALK_SPEED: f64 = 1.4;
/// When the pedestrian's centre crosses the lane's centre line.
const WALK_CROSS_T: f64 = 2.6;

/// Painted sizes (metres): car 3 x 1.75, pedestrian 1 x 1 (patches the fixture finds: 24x14 and 8x8 px).
const CAR_LEN: f64 = 3.0;
const CAR_WID: f64 = 1.75;
const PED: f64 = 1.0;

pub fn car_x(t: f64) -> f64 {
    let brake_dist = CAR_SPEED * CAR_SPEED / (2.0 * CAR_DECEL);
    let t_brake = (CAR_STOP_X - brake_dist - CAR_X0) / CAR_SPEED;
    if t <= t_brake {
        CAR_X0 + CAR_SPEED * t
    } else {
        let tb = (t - t_brake).min(CAR_SPEED / CAR_DECEL);
        CAR_X0 + CAR_SPEED * t_brake + CAR_SPEED * tb - 0.5 * CAR_DECEL * tb * tb
    }
}

pub fn car_speed(t: f64) -> f64 {
    let brake_dist = CAR_SPEED * CAR_SPEED / (2.0 * CAR_DECEL);
    let t_brake = (CAR_STOP_X - brake_dist - CAR_X0) / CAR_SPEED;
    (CAR_SPEED - CAR_DECEL * (t - t_brake).max(0.0)).max(0.0)
}

/// The true time to collision at `t` under the analytic's model: both users keep their velocity, the
/// car is 4.5 x 1.8 m and the pedestrian 0.5 x 0.5 m (the analytic's footprints), each standing at the
/// bottom centre of its painted box. `None`: not on a collision course.
pub fn true_ttc(t: f64) -> Option<f64> {
    let (car, walker_y0) = ([car_x(t), LANE_Y - CAR_WID / 2.0], walker_y(t) - PED / 2.0);
    let v = car_speed(t);
    (0..10_000).map(|k| f64::from(k) * 0.001).find(|tau| {
        let dx = PATH_X - (car[0] + v * tau);
        let dy = (walker_y0 + WALK_SPEED * tau) - car[1];
        dx.abs() < (4.5 + 0.5) / 2.0 && dy.abs() < (1.8 + 0.5) / 2.0
    })
}

pub fn walker_y(t: f64) -> f64 {
    LANE_Y - WALK_SPEED * (WALK_CROSS_T - t)
}

/// `[cameras.<camera>.analytics.calibration]` of this top-down camera (image corners to ground).
pub fn calibration_points() -> String {
    let cal = |px: f64, py: f64| format!("{{ image = [{px}, {py}], ground = [{}, {}] }}", px / PX_PER_M - 20.0, (f64::from(H) - py) / PX_PER_M);
    format!("[{}, {}, {}, {}]", cal(0.0, 320.0), cal(320.0, 320.0), cal(320.0, 0.0), cal(0.0, 0.0))
}

/// Renders the scene to an AVI (MJPEG) with GStreamer.
pub fn render_video(dir: &Path, name: &str) -> PathBuf {
    let fdir = dir.join(format!("{name}-frames"));
    std::fs::create_dir_all(&fdir).unwrap();
    for i in 0..FRAMES {
        let t = f64::from(i) / f64::from(FPS);
        let (cx, py) = (car_x(t), walker_y(t));
        let img = image::RgbImage::from_fn(W, H, |px, pyx| {
            let x = (f64::from(px) + 0.5) / PX_PER_M - 20.0;
            let y = (f64::from(H) - f64::from(pyx) - 0.5) / PX_PER_M;
            if (x - cx).abs() < CAR_LEN / 2.0 && (y - LANE_Y).abs() < CAR_WID / 2.0 {
                return image::Rgb([220, 20, 20]);
            }
            if (x - PATH_X).abs() < PED / 2.0 && (y - py).abs() < PED / 2.0 {
                return image::Rgb([20, 200, 20]);
            }
            // Zebra crossing stripes along the pedestrian's path, lane edges, asphalt.
            if (x - PATH_X).abs() < 1.5 && (y - LANE_Y).abs() < 3.5 && (y * 2.0).rem_euclid(2.0) < 1.0 {
                return image::Rgb([225, 225, 225]);
            }
            if ((y - LANE_Y).abs() - 3.5).abs() < 0.08 {
                return image::Rgb([235, 235, 235]);
            }
            let g = (118.0 + ((x * 5.3).sin() * (y * 4.1).cos() * 6.0)) as u8;
            image::Rgb([g, g, g])
        });
        img.save(fdir.join(format!("f{i:05}.png"))).unwrap();
    }
    super::drive::encode_png_frames(&fdir, FPS, &dir.join(format!("{name}.avi")))
}
