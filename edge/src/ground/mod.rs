//! Ground plane geometry: image <-> ground homography, WGS84 anchoring, polygons and zones.

pub mod config;
mod error;
mod geo;
mod homography;
mod linalg;
mod plane;
mod polygon;
mod zone;

#[cfg(test)]
mod tests;

pub use config::{AnchorConfig, CalibrationConfig, CalibrationPoint, VehicleCapacity, ZoneConfig, ZoneKind, ZoneSpace};
pub use error::GroundError;
pub use geo::Wgs84Anchor;
pub use homography::estimate as estimate_homography;
pub use linalg::Mat3;
pub use plane::{calibrate, GroundPlane, ReprojectionReport};
pub use polygon::{EdgeCrossing, Polygon};
#[allow(unused_imports)]
pub(crate) use polygon::segment_intersection;
pub use zone::{Zone, ZoneError};
