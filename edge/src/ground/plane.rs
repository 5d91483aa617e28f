//! The calibrated ground plane of one camera: image pixels <-> local metres <-> WGS84.

use serde::Serialize;

use super::config::CalibrationConfig;
use super::homography::{apply, estimate};
use super::linalg::{mat3_inv, Mat3};
use super::{GroundError, Wgs84Anchor};

/// A camera's ground plane: `h` maps image pixels to ground metres (east, north), `h_inv` back.
#[derive(Debug, Clone, PartialEq)]
pub struct GroundPlane {
    pub h: Mat3,
    pub h_inv: Mat3,
    pub anchor: Option<Wgs84Anchor>,
    /// Sign of the homogeneous scale for image points in front of the camera; points with the
    /// other sign lie above the horizon and have no ground position.
    front_sign: f64,
}

/// How well the homography reproduces its own calibration points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReprojectionReport {
    pub points: usize,
    /// Image -> ground error in metres.
    pub ground_rms_m: f64,
    pub ground_max_m: f64,
    /// Ground -> image error in pixels.
    pub image_rms_px: f64,
    pub image_max_px: f64,
    /// Index of the worst point (by ground error), to point an installer at a bad click.
    pub worst_point: usize,
    /// Per-point ground errors in metres, in configuration order.
    pub ground_errors_m: Vec<f64>,
}

impl GroundPlane {
    /// Fits a plane to correspondences; `image[i]` (pixels) matches `ground[i]` (metres E, N).
    pub fn fit(image: &[[f64; 2]], ground: &[[f64; 2]], anchor: Option<Wgs84Anchor>) -> Result<Self, GroundError> {
        let h = estimate(image, ground)?;
        let h_inv = mat3_inv(&h).ok_or(GroundError::Singular(0.0))?;
        let ws: Vec<f64> = image.iter().map(|p| h[2][0] * p[0] + h[2][1] * p[1] + h[2][2]).collect();
        let front_sign = if ws.iter().filter(|w| **w > 0.0).count() * 2 >= ws.len() { 1.0 } else { -1.0 };
        // All calibration points are on the visible ground; a sign flip means a mismatched pair.
        if let Some(index) = ws.iter().position(|w| w * front_sign <= 0.0) {
            return Err(GroundError::BehindHorizon { index });
        }
        Ok(Self { h, h_inv, anchor, front_sign })
    }

    /// Builds the plane from configuration (points and optional anchor).
    pub fn from_config(cfg: &CalibrationConfig) -> Result<Self, GroundError> {
        let image: Vec<[f64; 2]> = cfg.points.iter().map(|p| p.image).collect();
        let ground: Vec<[f64; 2]> = cfg.points.iter().map(|p| p.ground).collect();
        let anchor = cfg.anchor.as_ref().map(|a| Wgs84Anchor::new(a.lat, a.lon)).transpose()?;
        Self::fit(&image, &ground, anchor)
    }

    /// Ground (east, north) metres of an image point; `None` at or above the horizon.
    pub fn image_to_ground(&self, px: f64, py: f64) -> Option<(f64, f64)> {
        let (x, y, w) = apply(&self.h, px, py)?;
        (w * self.front_sign > 0.0).then_some((x, y))
    }

    /// Image pixel of a ground point; `None` when it would be behind the camera.
    pub fn ground_to_image(&self, east: f64, north: f64) -> Option<(f64, f64)> {
        let (u, v, _) = apply(&self.h_inv, east, north)?;
        // Round-trip check of the side: the image point must map forward in front of the camera.
        let w = self.h[2][0] * u + self.h[2][1] * v + self.h[2][2];
        (w * self.front_sign > 0.0).then_some((u, v))
    }

    /// Local Jacobian d(ground)/d(pixel) at an image point (metres per pixel), by central
    /// differences; used to turn pixel noise into metres at each distance.
    pub fn metres_per_pixel(&self, px: f64, py: f64) -> Option<[[f64; 2]; 2]> {
        let d = 0.5;
        let (xr, yr) = self.image_to_ground(px + d, py)?;
        let (xl, yl) = self.image_to_ground(px - d, py)?;
        let (xd, yd) = self.image_to_ground(px, py + d)?;
        let (xu, yu) = self.image_to_ground(px, py - d)?;
        Some([[(xr - xl) / (2.0 * d), (xd - xu) / (2.0 * d)], [(yr - yl) / (2.0 * d), (yd - yu) / (2.0 * d)]])
    }

    pub fn to_wgs84(&self, east: f64, north: f64) -> Option<(f64, f64)> {
        self.anchor.map(|a| a.to_wgs84(east, north))
    }

    pub fn from_wgs84(&self, lat: f64, lon: f64) -> Option<(f64, f64)> {
        self.anchor.map(|a| a.to_local(lat, lon))
    }

    /// Errors of this plane on the given correspondences (normally its calibration points).
    pub fn reprojection(&self, image: &[[f64; 2]], ground: &[[f64; 2]]) -> ReprojectionReport {
        let n = image.len().min(ground.len());
        let mut ge = Vec::with_capacity(n);
        let mut ie = Vec::with_capacity(n);
        for i in 0..n {
            let g = self
                .image_to_ground(image[i][0], image[i][1])
                .map(|(x, y)| ((x - ground[i][0]).powi(2) + (y - ground[i][1]).powi(2)).sqrt())
                .unwrap_or(f64::INFINITY);
            let p = self
                .ground_to_image(ground[i][0], ground[i][1])
                .map(|(u, v)| ((u - image[i][0]).powi(2) + (v - image[i][1]).powi(2)).sqrt())
                .unwrap_or(f64::INFINITY);
            ge.push(g);
            ie.push(p);
        }
        let rms = |v: &[f64]| if v.is_empty() { 0.0 } else { (v.iter().map(|e| e * e).sum::<f64>() / v.len() as f64).sqrt() };
        let max = |v: &[f64]| v.iter().copied().fold(0.0f64, f64::max);
        let worst_point = ge.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i).unwrap_or(0);
        ReprojectionReport {
            points: n,
            ground_rms_m: rms(&ge),
            ground_max_m: max(&ge),
            image_rms_px: rms(&ie),
            image_max_px: max(&ie),
            worst_point,
            ground_errors_m: ge,
        }
    }
}

/// Fits a plane from configuration and reports its reprojection error on the same points.
pub fn calibrate(cfg: &CalibrationConfig) -> Result<(GroundPlane, ReprojectionReport), GroundError> {
    let plane = GroundPlane::from_config(cfg)?;
    let image: Vec<[f64; 2]> = cfg.points.iter().map(|p| p.image).collect();
    let ground: Vec<[f64; 2]> = cfg.points.iter().map(|p| p.ground).collect();
    let report = plane.reprojection(&image, &ground);
    Ok((plane, report))
}
