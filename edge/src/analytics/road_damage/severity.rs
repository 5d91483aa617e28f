//! Size on the ground, severity bin and triage of one damage.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::{ClassRule, SizeMetric};
use crate::ground::GroundPlane;
use crate::infer::BBox;

/// A box's footprint on the ground plane (metres).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GroundSize {
    /// Extent across the image (across the road for a forward-looking vehicle camera).
    pub width_m: f64,
    /// Extent along the image's vertical (along the road for a vehicle camera).
    pub length_m: f64,
    /// Area of the projected box.
    pub area_m2: f64,
}

impl GroundSize {
    /// Projects the four corners of `b` to the ground. `None` when a corner is above the horizon.
    pub fn of_box(plane: &GroundPlane, b: &BBox) -> Option<GroundSize> {
        let p = |x: f32, y: f32| plane.image_to_ground(f64::from(x), f64::from(y));
        let (bl, br, tr, tl) = (p(b.x1, b.y2)?, p(b.x2, b.y2)?, p(b.x2, b.y1)?, p(b.x1, b.y1)?);
        let d = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        let mid = |a: (f64, f64), b: (f64, f64)| ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let width_m = (d(bl, br) + d(tl, tr)) / 2.0;
        let length_m = d(mid(bl, br), mid(tl, tr));
        let quad = [bl, br, tr, tl];
        let twice: f64 = (0..4).map(|i| {
            let (a, b) = (quad[i], quad[(i + 1) % 4]);
            a.0 * b.1 - b.0 * a.1
        }).sum();
        let s = GroundSize { width_m, length_m, area_m2: twice.abs() / 2.0 };
        (s.width_m.is_finite() && s.length_m.is_finite() && s.area_m2.is_finite()).then_some(s)
    }

    pub fn metric(&self, m: SizeMetric) -> f64 {
        match m {
            SizeMetric::Diameter => self.width_m.max(self.length_m),
            SizeMetric::Length => self.length_m,
            SizeMetric::Width => self.width_m,
            SizeMetric::Area => self.area_m2,
        }
    }
}

/// The three-level triage crews work with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Triage {
    /// Found, but below the size that counts as damage (or size unknown: no calibration).
    None,
    DamageNoRepair,
    RepairNeeded,
}

/// Severity as published: the measured size under the class's metric and its bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Severity {
    pub metric: SizeMetric,
    /// Size under `metric` (m, or m² for area).
    pub size_m: f64,
    pub unit: String,
    pub width_m: f64,
    pub length_m: f64,
    pub area_m2: f64,
    pub bin: usize,
}

impl Severity {
    pub fn assess(rule: &ClassRule, size: &GroundSize) -> (Severity, Triage) {
        let v = size.metric(rule.metric);
        let bin = rule.bins.iter().filter(|e| v >= **e).count();
        let triage = if v >= rule.repair_at {
            Triage::RepairNeeded
        } else if v >= rule.damage_at {
            Triage::DamageNoRepair
        } else {
            Triage::None
        };
        let round = |x: f64| (x * 1000.0).round() / 1000.0;
        (
            Severity {
                metric: rule.metric,
                size_m: round(v),
                unit: rule.metric.unit().to_string(),
                width_m: round(size.width_m),
                length_m: round(size.length_m),
                area_m2: round(size.area_m2),
                bin,
            },
            triage,
        )
    }
}
