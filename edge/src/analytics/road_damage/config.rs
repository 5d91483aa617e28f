//! `[cameras.<id>.road_damage]`: which labels are damage, where the road is, how big is bad, and how
//! records are merged across passes.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ground::{CalibrationConfig, GroundPlane, Polygon};
use crate::track::TrackerConfig;

/// How the camera is mounted, which decides where a damage is on the globe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Mounting {
    /// On a vehicle: the calibration's ground frame is the vehicle's, in metres, x to the right and
    /// y forward, origin at the GNSS antenna; positions come from the GNSS fix and heading.
    #[default]
    Vehicle,
    /// On a pole: the calibration's ground frame is east/north metres around its `anchor`.
    Fixed,
}

/// What the size of a damage class is measured as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SizeMetric {
    /// Largest extent on the ground (potholes).
    Diameter,
    /// Extent along the road (longitudinal cracks).
    Length,
    /// Extent across the road (transverse cracks).
    Width,
    /// Ground area in m² (alligator cracking).
    Area,
}

impl SizeMetric {
    pub fn unit(&self) -> &'static str {
        match self {
            SizeMetric::Area => "m2",
            _ => "m",
        }
    }
}

/// Triage of one class, in the spirit of My City Report's three answers (no damage / damage, no
/// repair needed / repair needed): below `damage_at` a detection is recorded but triaged `none`; at or
/// above `repair_at` it is `repair_needed`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassRule {
    /// Minimum detector score for this class (0, 1].
    pub min_score: f32,
    pub metric: SizeMetric,
    /// Size (m, or m² for `area`) from which the damage counts as damage.
    pub damage_at: f64,
    /// Size from which repair is needed.
    pub repair_at: f64,
    /// Upper edges of the severity bins (ascending); bin = number of edges at or below the size,
    /// so `[0.2, 0.5]` gives bins 0 (< 0.2), 1 (0.2-0.5) and 2 (>= 0.5).
    #[serde(default)]
    pub bins: Vec<f64>,
}

fn rule(min_score: f32, metric: SizeMetric, damage_at: f64, repair_at: f64, bins: &[f64]) -> ClassRule {
    ClassRule { min_score, metric, damage_at, repair_at, bins: bins.to_vec() }
}

/// The RDD2022 classes and starting thresholds. The sizes follow common municipal practice
/// (potholes from about 10 cm across matter, from about 30 cm need a patch; cracks are judged by
/// length, alligator cracking by area); each city tunes them in config.
pub fn default_classes() -> BTreeMap<String, ClassRule> {
    BTreeMap::from([
        ("D00".to_string(), rule(0.4, SizeMetric::Length, 0.3, 2.0, &[0.5, 2.0])),
        ("D10".to_string(), rule(0.4, SizeMetric::Width, 0.3, 1.5, &[0.5, 1.5])),
        ("D20".to_string(), rule(0.4, SizeMetric::Area, 0.1, 0.5, &[0.25, 1.0])),
        ("D40".to_string(), rule(0.35, SizeMetric::Diameter, 0.1, 0.3, &[0.2, 0.5])),
    ])
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RoadDamageConfig {
    pub mounting: Mounting,
    /// Detector labels that are road damage, with their rules. Labels not listed are ignored, so a
    /// model may have other classes. Default: D00, D10, D20, D40.
    pub classes: BTreeMap<String, ClassRule>,
    /// Road surface in image pixels; a detection counts only when its box centre is inside. Default:
    /// the whole frame.
    pub roi: Option<Vec<[f64; 2]>>,
    /// Image <-> ground calibration. Vehicle mounting: ground frame x right, y forward, metres from
    /// the GNSS antenna. Without it sizes and positions are unknown (and said so in the events).
    pub calibration: Option<CalibrationConfig>,
    /// Tracking of damage across frames (one damage seen over many frames is one observation).
    pub tracker: TrackerConfig,
    /// A track must be seen in this many frames to become an observation.
    pub min_frames: u32,
    /// A new observation joins an existing record of the same class within this distance.
    pub merge_radius_m: f64,
    /// A record not seen on this many consecutive passes over its place becomes `possibly_repaired`.
    pub missed_passes: u32,
    /// Fixed cameras have no passes; each window of this many seconds of operation counts as one.
    pub fixed_pass_s: f64,
    /// Most records kept on disk; past it the oldest closed records go first, then the oldest.
    pub max_records: usize,
    /// Keep a redacted snapshot of each new record's best view as evidence (needs `[snapshots]`).
    pub snapshot: bool,
}

impl Default for RoadDamageConfig {
    fn default() -> Self {
        let tracker = TrackerConfig {
            // Damage does not move on its own: the ego-motion moves it steadily down the image.
            min_hits: 2,
            max_age_s: 0.6,
            ..TrackerConfig::default()
        };
        Self {
            mounting: Mounting::Vehicle,
            classes: default_classes(),
            roi: None,
            calibration: None,
            tracker,
            min_frames: 2,
            merge_radius_m: 6.0,
            missed_passes: 3,
            fixed_pass_s: 3600.0,
            max_records: 50_000,
            snapshot: false,
        }
    }
}

impl RoadDamageConfig {
    /// Every problem, each naming its field.
    pub fn validate(&self) -> Vec<String> {
        let mut p = self.tracker.validate().into_iter().map(|e| format!("tracker: {e}")).collect::<Vec<_>>();
        if self.classes.is_empty() {
            p.push("classes: at least one damage label is needed".into());
        }
        for (label, r) in &self.classes {
            if !(r.min_score > 0.0 && r.min_score <= 1.0) {
                p.push(format!("classes.{label}.min_score {}: must be in (0, 1]", r.min_score));
            }
            if !(r.damage_at.is_finite() && r.damage_at >= 0.0) {
                p.push(format!("classes.{label}.damage_at {}: must be >= 0", r.damage_at));
            }
            if !(r.repair_at.is_finite() && r.repair_at >= r.damage_at) {
                p.push(format!("classes.{label}.repair_at {}: must be >= damage_at ({})", r.repair_at, r.damage_at));
            }
            if r.bins.iter().any(|b| !b.is_finite() || *b < 0.0) || r.bins.windows(2).any(|w| w[0] >= w[1]) {
                p.push(format!("classes.{label}.bins {:?}: must be ascending sizes >= 0", r.bins));
            }
        }
        if let Some(roi) = &self.roi {
            if let Err(e) = Polygon::new(roi.clone()) {
                p.push(format!("roi: {e}"));
            }
        }
        match &self.calibration {
            Some(c) => {
                if let Err(e) = GroundPlane::from_config(c) {
                    p.push(format!("calibration: {e}"));
                }
                if self.mounting == Mounting::Fixed && c.anchor.is_none() {
                    p.push("calibration.anchor: a fixed camera needs its WGS84 anchor to place damage on the map".into());
                }
                if self.mounting == Mounting::Vehicle && c.anchor.is_some() {
                    p.push("calibration.anchor: a vehicle camera is placed by GNSS; remove the anchor (or set mounting = \"fixed\")".into());
                }
            }
            None => {}
        }
        if self.min_frames == 0 {
            p.push("min_frames: must be at least 1".into());
        }
        if !(self.merge_radius_m.is_finite() && self.merge_radius_m > 0.0 && self.merge_radius_m <= 100.0) {
            p.push(format!("merge_radius_m {}: must be in (0, 100]", self.merge_radius_m));
        }
        if self.missed_passes == 0 {
            p.push("missed_passes: must be at least 1".into());
        }
        if !(self.fixed_pass_s.is_finite() && self.fixed_pass_s >= 60.0) {
            p.push(format!("fixed_pass_s {}: must be at least 60", self.fixed_pass_s));
        }
        if self.max_records == 0 {
            p.push("max_records: must be at least 1".into());
        }
        p
    }
}
