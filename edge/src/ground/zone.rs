//! Zones resolved against the camera's calibration: ready for membership tests.

use serde::Serialize;

use super::config::{VehicleCapacity, ZoneConfig, ZoneKind, ZoneSpace};
use super::{GroundError, GroundPlane, Polygon};

/// Why a zone could not be resolved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ZoneError {
    #[error("zone '{id}': {source}")]
    Polygon { id: String, source: GroundError },
    #[error("zone '{id}' is drawn in ground metres but the camera has no calibration")]
    NeedsCalibration { id: String },
    #[error("zone '{id}' is a vehicle_interior zone without `capacity`")]
    MissingCapacity { id: String },
}

/// A zone with its polygon on the ground (when calibrated) and/or in the image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Zone {
    pub id: String,
    pub name: Option<String>,
    pub kind: ZoneKind,
    /// Polygon in ground metres; `None` for an image zone of an uncalibrated camera.
    pub ground: Option<Polygon>,
    /// Polygon in image pixels when the zone was drawn in the image (kept for uncalibrated use).
    pub image: Option<Polygon>,
    pub capacity: Option<VehicleCapacity>,
}

impl Zone {
    pub fn resolve(cfg: &ZoneConfig, plane: Option<&GroundPlane>) -> Result<Self, ZoneError> {
        let perr = |source| ZoneError::Polygon { id: cfg.id.clone(), source };
        if cfg.kind == ZoneKind::VehicleInterior && cfg.capacity.is_none() {
            return Err(ZoneError::MissingCapacity { id: cfg.id.clone() });
        }
        let (ground, image) = match cfg.space {
            ZoneSpace::Ground => {
                if plane.is_none() {
                    return Err(ZoneError::NeedsCalibration { id: cfg.id.clone() });
                }
                (Some(Polygon::new(cfg.polygon.clone()).map_err(perr)?), None)
            }
            ZoneSpace::Image => {
                let image = Polygon::new(cfg.polygon.clone()).map_err(perr)?;
                let ground = match plane {
                    None => None,
                    Some(p) => {
                        let mut pts = Vec::with_capacity(cfg.polygon.len());
                        for (index, v) in cfg.polygon.iter().enumerate() {
                            let g = p.image_to_ground(v[0], v[1]).ok_or(GroundError::PolygonVertexBeyondHorizon { index }).map_err(perr)?;
                            pts.push([g.0, g.1]);
                        }
                        // A homography maps lines to lines, so a simple image polygon below the
                        // horizon stays simple on the ground; Polygon::new re-checks anyway.
                        Some(Polygon::new(pts).map_err(perr)?)
                    }
                };
                (ground, Some(image))
            }
        };
        Ok(Self { id: cfg.id.clone(), name: cfg.name.clone(), kind: cfg.kind, ground, image, capacity: cfg.capacity })
    }

    /// Area in m² when the zone is known on the ground.
    pub fn area_m2(&self) -> Option<f64> {
        self.ground.as_ref().map(Polygon::area)
    }
}
