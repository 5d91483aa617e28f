//! Installer-facing configuration: calibration correspondences and zones.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One surveyed correspondence: a pixel in the camera image and the same spot on the ground.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrationPoint {
    /// Pixel (x right, y down) in the full-resolution frame the detector sees.
    pub image: [f64; 2],
    /// Ground position in metres (east, north) in the site's local frame.
    pub ground: [f64; 2],
}

/// WGS84 position of the local frame's origin.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnchorConfig {
    /// Latitude in degrees (north positive).
    pub lat: f64,
    /// Longitude in degrees (east positive).
    pub lon: f64,
}

/// Image <-> ground calibration of one camera (at least 4 points; 6-10 spread over the area of
/// interest are recommended so the least-squares fit averages out clicking errors).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalibrationConfig {
    pub points: Vec<CalibrationPoint>,
    /// Where ground (0, 0) is on the globe; without it outputs carry local metres only.
    #[serde(default)]
    pub anchor: Option<AnchorConfig>,
}

/// Which coordinates a zone polygon is drawn in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSpace {
    /// Metres (east, north) in the calibration's ground frame.
    Ground,
    /// Pixels of the camera image (as drawn on a snapshot); projected to the ground when the
    /// camera is calibrated.
    #[default]
    Image,
}

/// What a zone is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ZoneKind {
    /// Pedestrian area: people count, density, Fruin level of service, flow.
    Crowd,
    /// Road area where near-misses are recorded (if any conflict zone exists, only conflicts
    /// inside one are reported).
    Conflict,
    /// Vehicle interior (bus, tram car): occupancy status against the configured capacity.
    VehicleInterior,
}

/// Passenger capacity of a vehicle interior zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct VehicleCapacity {
    pub seated: u32,
    pub standing: u32,
}

/// A named polygon of interest.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// Stable identifier used in every output about this zone.
    pub id: String,
    /// Human-readable name for dashboards.
    #[serde(default)]
    pub name: Option<String>,
    /// Vertices in order (either winding), at least 3, not repeating the first at the end.
    pub polygon: Vec<[f64; 2]>,
    #[serde(default)]
    pub space: ZoneSpace,
    pub kind: ZoneKind,
    /// Required for `vehicle_interior` zones, ignored otherwise.
    #[serde(default)]
    pub capacity: Option<VehicleCapacity>,
}
