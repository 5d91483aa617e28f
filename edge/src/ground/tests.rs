//! Homography recovery and rejection tests against a synthetic pinhole camera.

use super::*;

/// A pinhole camera 8 m above ground at (0, -10), looking north, tilted 30° down, 1920x1080.
fn camera_project(x: f64, y: f64) -> (f64, f64) {
    let th = 30f64.to_radians();
    let (f, cx, cy) = (1000.0, 960.0, 540.0);
    let c = [0.0, -10.0, 8.0];
    let d = [x - c[0], y - c[1], -c[2]];
    let xc = d[0];
    let yc = -th.sin() * d[1] - th.cos() * d[2];
    let zc = th.cos() * d[1] - th.sin() * d[2];
    (f * xc / zc + cx, f * yc / zc + cy)
}

/// Deterministic pseudo-noise in [-1, 1] (no rand dependency needed for tests).
fn noise(i: u64) -> f64 {
    let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z as f64 / u64::MAX as f64) * 2.0 - 1.0
}

fn correspondences(grid: &[(f64, f64)], px_noise: f64) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
    let mut img = Vec::new();
    let mut gnd = Vec::new();
    for (i, &(x, y)) in grid.iter().enumerate() {
        let (u, v) = camera_project(x, y);
        img.push([u + px_noise * noise(2 * i as u64), v + px_noise * noise(2 * i as u64 + 1)]);
        gnd.push([x, y]);
    }
    (img, gnd)
}

#[test]
fn exact_four_points_recover_transform() {
    let (img, gnd) = correspondences(&[(-5.0, 5.0), (5.0, 5.0), (6.0, 25.0), (-6.0, 25.0)], 0.0);
    let p = GroundPlane::fit(&img, &gnd, None).unwrap();
    for &(x, y) in &[(0.0, 10.0), (3.0, 18.0), (-4.0, 7.0)] {
        let (u, v) = camera_project(x, y);
        let (gx, gy) = p.image_to_ground(u, v).unwrap();
        assert!((gx - x).abs() < 1e-6 && (gy - y).abs() < 1e-6, "{gx},{gy} vs {x},{y}");
        let (u2, v2) = p.ground_to_image(x, y).unwrap();
        assert!((u2 - u).abs() < 1e-5 && (v2 - v).abs() < 1e-5);
    }
    let r = p.reprojection(&img, &gnd);
    assert!(r.ground_max_m < 1e-6 && r.image_max_px < 1e-5);
}

#[test]
fn noisy_least_squares_error_bound() {
    let grid: Vec<(f64, f64)> = (0..5).flat_map(|i| (0..4).map(move |j| (-8.0 + 4.0 * i as f64, 4.0 + 6.0 * j as f64))).collect();
    let (img, gnd) = correspondences(&grid, 1.0); // ±1 px clicking noise
    let cfg = CalibrationConfig {
        points: img.iter().zip(&gnd).map(|(i, g)| CalibrationPoint { image: *i, ground: *g }).collect(),
        anchor: None,
    };
    let (p, report) = calibrate(&cfg).unwrap();
    assert_eq!(report.points, 20);
    // ±1 px at ≤ 30 m with f = 1000 is a few cm; the fit must stay within 0.1 m everywhere
    // inside the calibrated area and report a sub-pixel-ish RMS.
    assert!(report.image_rms_px < 1.5, "{report:?}");
    assert!(report.ground_max_m < 0.15, "{report:?}");
    for &(x, y) in &[(0.0, 10.0), (7.0, 20.0), (-7.0, 5.0), (2.0, 21.0)] {
        let (u, v) = camera_project(x, y);
        let (gx, gy) = p.image_to_ground(u, v).unwrap();
        assert!(((gx - x).powi(2) + (gy - y).powi(2)).sqrt() < 0.1, "{gx},{gy} vs {x},{y}");
    }
    // Above the horizon (tilt 30° => horizon at v = 540 - 1000 tan 30° ≈ -37) nothing maps.
    assert!(p.image_to_ground(960.0, -200.0).is_none());
    assert!(p.image_to_ground(960.0, 1000.0).is_some());
}

#[test]
fn degenerate_inputs_are_rejected() {
    let (img, gnd) = correspondences(&[(-5.0, 5.0), (5.0, 5.0), (6.0, 25.0)], 0.0);
    assert_eq!(GroundPlane::fit(&img, &gnd, None), Err(GroundError::TooFewPoints(3)));
    let (img, gnd) = correspondences(&[(0.0, 5.0), (0.0, 10.0), (0.0, 15.0), (0.0, 20.0), (0.0, 25.0)], 0.0);
    assert_eq!(GroundPlane::fit(&img, &gnd, None), Err(GroundError::Collinear { space: "image" }));
    // Three of four collinear on the ground: not in general position.
    let (img, gnd) = correspondences(&[(-5.0, 5.0), (0.0, 5.0), (5.0, 5.0), (0.0, 25.0)], 0.0);
    assert!(matches!(GroundPlane::fit(&img, &gnd, None), Err(GroundError::Collinear { .. })));
    let (img, gnd) = correspondences(&[(-5.0, 5.0), (-5.0, 5.0), (5.0, 5.0), (0.0, 25.0)], 0.0);
    assert_eq!(GroundPlane::fit(&img, &gnd, None), Err(GroundError::Duplicate { a: 0, b: 1, space: "image" }));
    let (mut img, gnd) = correspondences(&[(-5.0, 5.0), (5.0, 5.0), (6.0, 25.0), (-6.0, 25.0)], 0.0);
    img[2][1] = f64::NAN;
    assert_eq!(GroundPlane::fit(&img, &gnd, None), Err(GroundError::NonFinite { index: 2 }));
    // Swapped ground points of a 4-point set fold the plane (one point maps behind the horizon)
    // or give a self-inconsistent fit: either way it must not be accepted silently as exact.
    let (img, mut gnd) = correspondences(&[(-5.0, 5.0), (5.0, 5.0), (6.0, 25.0), (-6.0, 25.0)], 0.0);
    gnd.swap(0, 2);
    if let Ok(p) = GroundPlane::fit(&img, &gnd, None) {
        let (u, v) = camera_project(0.0, 15.0);
        let g = p.image_to_ground(u, v);
        assert!(g.map_or(true, |(x, y)| (x.powi(2) + (y - 15.0).powi(2)).sqrt() > 1.0));
    }
}

#[test]
fn image_zone_projects_to_ground() {
    let grid = [(-5.0, 5.0), (5.0, 5.0), (6.0, 25.0), (-6.0, 25.0)];
    let (img, gnd) = correspondences(&grid, 0.0);
    let p = GroundPlane::fit(&img, &gnd, Some(Wgs84Anchor::new(35.0, 139.0).unwrap())).unwrap();
    let corners = [(-2.0, 10.0), (2.0, 10.0), (2.0, 15.0), (-2.0, 15.0)];
    let poly: Vec<[f64; 2]> = corners.iter().map(|&(x, y)| { let (u, v) = camera_project(x, y); [u, v] }).collect();
    let cfg = ZoneConfig { id: "plaza".into(), name: None, polygon: poly, space: ZoneSpace::Image, kind: ZoneKind::Crowd, capacity: None };
    let z = Zone::resolve(&cfg, Some(&p)).unwrap();
    assert!((z.area_m2().unwrap() - 20.0).abs() < 1e-6);
    let uncal = Zone::resolve(&cfg, None).unwrap();
    assert!(uncal.area_m2().is_none() && uncal.image.is_some());
    let gcfg = ZoneConfig { space: ZoneSpace::Ground, ..cfg.clone() };
    assert_eq!(Zone::resolve(&gcfg, None), Err(ZoneError::NeedsCalibration { id: "plaza".into() }));
    let (lat, lon) = p.to_wgs84(0.0, 0.0).unwrap();
    assert_eq!((lat, lon), (35.0, 139.0));
}
