//! Where on the globe a damage is: the camera's ground point plus the vehicle's GNSS pose (vehicle
//! mounting) or the calibration's anchor (fixed mounting).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ground::Wgs84Anchor;

/// The vehicle's position and motion at one frame, from a GNSS fix that was current for that frame.
/// There is deliberately no "last known" fallback: a stale position would put damage on the wrong street.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pose {
    pub lat: f64,
    pub lon: f64,
    /// Course over ground, degrees clockwise from true north; `None` when standing still.
    pub heading_deg: Option<f64>,
    pub speed_mps: Option<f64>,
    /// Horizontal position uncertainty of the fix (m).
    pub uncertainty_m: f64,
}

/// Why an observation has no position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "reason", content = "detail")]
pub enum NoPosition {
    /// No GNSS fix for the frame (the text says why: no receiver, no fix, stale…).
    NoFix(String),
    /// A fix, but no heading (vehicle too slow), so the camera's view cannot be turned onto the map.
    NoHeading,
    /// The camera has no calibration, so image points have no ground position.
    NotCalibrated,
    /// The damage is above the calibrated horizon.
    OffGround,
}

impl std::fmt::Display for NoPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoPosition::NoFix(why) => write!(f, "no GNSS fix: {why}"),
            NoPosition::NoHeading => f.write_str("no heading (vehicle too slow)"),
            NoPosition::NotCalibrated => f.write_str("camera not calibrated"),
            NoPosition::OffGround => f.write_str("above the calibrated ground plane"),
        }
    }
}

/// A WGS84 position with its 1-sigma-like horizontal uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Position {
    pub lat: f64,
    pub lon: f64,
    pub uncertainty_m: f64,
}

/// Relative uncertainty of a ground point from the homography: grows with distance from the camera
/// (a pixel covers more ground further away). 3 % of the distance is typical of a good calibration.
const GROUND_REL_ERR: f64 = 0.03;

/// A vehicle-frame offset (x right, y forward) as (east, north) metres for a heading in degrees
/// clockwise from north: forward points along the heading.
pub fn vehicle_to_enu(heading_deg: f64, x: f64, y: f64) -> (f64, f64) {
    let h = heading_deg.to_radians();
    (x * h.cos() + y * h.sin(), -x * h.sin() + y * h.cos())
}

/// Vehicle frame (x right, y forward, metres from the antenna) to WGS84 with the pose.
pub fn vehicle_to_wgs84(pose: &Pose, x: f64, y: f64) -> Result<Position, NoPosition> {
    let (east, north) = vehicle_to_enu(pose.heading_deg.ok_or(NoPosition::NoHeading)?, x, y);
    let anchor = Wgs84Anchor::new(pose.lat, pose.lon).map_err(|e| NoPosition::NoFix(e.to_string()))?;
    let (lat, lon) = anchor.to_wgs84(east, north);
    let range = (x * x + y * y).sqrt();
    Ok(Position { lat, lon, uncertainty_m: (pose.uncertainty_m.powi(2) + (GROUND_REL_ERR * range).powi(2)).sqrt() })
}

/// WGS84 to the vehicle frame at the pose (inverse of [`vehicle_to_wgs84`]).
pub fn wgs84_to_vehicle(pose: &Pose, lat: f64, lon: f64) -> Option<(f64, f64)> {
    let h = pose.heading_deg?.to_radians();
    let anchor = Wgs84Anchor::new(pose.lat, pose.lon).ok()?;
    let (east, north) = anchor.to_local(lat, lon);
    Some((east * h.cos() - north * h.sin(), east * h.sin() + north * h.cos()))
}

/// Distance in metres between two WGS84 points (local tangent plane; fine at merge radii).
pub fn distance_m(a_lat: f64, a_lon: f64, b_lat: f64, b_lon: f64) -> f64 {
    match Wgs84Anchor::new(a_lat, a_lon) {
        Ok(anchor) => {
            let (e, n) = anchor.to_local(b_lat, b_lon);
            (e * e + n * n).sqrt()
        }
        Err(_) => f64::INFINITY,
    }
}
