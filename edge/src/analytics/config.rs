//! Per-camera analytics configuration and its validation.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::crowd::CrowdConfig;
use super::near_miss::NearMissConfig;
use super::road_user::RoadUserKind;
use crate::ground::{calibrate, CalibrationConfig, GroundError, GroundPlane, ReprojectionReport, Zone, ZoneKind, ZoneSpace};
use crate::track::TrackerConfig;

#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsConfig {
    pub tracker: TrackerConfig,
    /// Image <-> ground calibration; without it only image-space counting works.
    pub calibration: Option<CalibrationConfig>,
    pub zones: Vec<crate::ground::ZoneConfig>,
    pub near_miss: NearMissConfig,
    pub crowd: CrowdConfig,
    /// Extra detector labels mapped to road-user kinds (COCO names are built in).
    pub kinds: BTreeMap<String, RoadUserKind>,
}

impl AnalyticsConfig {
    /// Every problem found, each naming the field or zone.
    pub fn validate(&self) -> Vec<String> {
        let mut p = self.tracker.validate();
        p.extend(self.near_miss.validate());
        p.extend(self.crowd.validate());
        let plane = match &self.calibration {
            Some(c) => match GroundPlane::from_config(c) {
                Ok(pl) => Some(pl),
                Err(e) => {
                    p.push(format!("calibration: {e}"));
                    None
                }
            },
            None => None,
        };
        let mut ids = BTreeMap::new();
        for (i, z) in self.zones.iter().enumerate() {
            if z.id.trim().is_empty() {
                p.push(format!("zones[{i}]: id must not be empty"));
            }
            if let Some(prev) = ids.insert(z.id.clone(), i) {
                p.push(format!("zones[{i}]: id '{}' already used by zones[{prev}]", z.id));
            }
            if z.space == ZoneSpace::Ground && self.calibration.is_some() && plane.is_none() {
                continue; // already reported as a calibration problem
            }
            if let Err(e) = Zone::resolve(z, plane.as_ref()) {
                p.push(format!("zones[{i}]: {e}"));
            }
            if z.kind != ZoneKind::VehicleInterior && z.capacity.is_some() {
                p.push(format!("zones[{i}] '{}': capacity is only used by vehicle_interior zones", z.id));
            }
        }
        if self.calibration.is_none() && self.near_miss.enabled && !self.zones.is_empty() && self.zones.iter().any(|z| z.kind == ZoneKind::Conflict) {
            p.push("near_miss needs a calibration: conflict zones are configured but calibration is missing".into());
        }
        p
    }

    /// The calibration's fit quality on its own points, if a calibration is configured.
    pub fn calibration_report(&self) -> Option<Result<ReprojectionReport, GroundError>> {
        self.calibration.as_ref().map(|c| calibrate(c).map(|(_, r)| r))
    }
}
