//! Near-miss thresholds. Defaults come from the surrogate-safety literature; every one is
//! configurable because sites and policies differ.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Severity tier boundaries.
///
/// - TTC < 1.5 s critical: van der Horst, "A time-based analysis of road user behaviour in
///   normal and critical encounters", PhD thesis, TU Delft 1990; TTC < 3 s serious is the
///   usual upper bound for a traffic conflict (e.g. Hayward 1972 used 1 s, Sayed & Zein 1999
///   and most SSAM studies 1.5-3 s).
/// - PET < 1 s critical, < 1.5 s serious (Allen et al. 1978 definition of PET; 1-1.5 s tiers
///   as in Peesapati et al. 2013, "Can post encroachment time substitute intersection
///   characteristics in crash prediction models?"). Smaller PET is more severe, so the
///   smaller threshold is the critical one.
/// - DRAC ≥ 3.4 m/s² critical: the AASHTO comfortable-deceleration limit used as the DRAC
///   threshold by Archer (2005, "Indicators for traffic safety assessment and prediction",
///   KTH) after Cooper & Ferguson (1976).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SeverityConfig {
    pub ttc_serious_s: f64,
    pub ttc_critical_s: f64,
    pub pet_serious_s: f64,
    pub pet_critical_s: f64,
    pub drac_critical_mps2: f64,
}

impl Default for SeverityConfig {
    fn default() -> Self {
        Self { ttc_serious_s: 3.0, ttc_critical_s: 1.5, pet_serious_s: 1.5, pet_critical_s: 1.0, drac_critical_mps2: 3.4 }
    }
}

/// Conflict-type boundaries on the angle between the users' headings, after the FHWA Surrogate
/// Safety Assessment Model (Gettman et al., FHWA-HRT-08-051, 2008): rear-end below 30°,
/// crossing above 85°, lane change in between.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ConflictAngles {
    pub rear_end_max_deg: f64,
    pub crossing_min_deg: f64,
}

impl Default for ConflictAngles {
    fn default() -> Self {
        Self { rear_end_max_deg: 30.0, crossing_min_deg: 85.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NearMissConfig {
    pub enabled: bool,
    /// An encounter opens while the TTC is below this (normally the serious TTC tier).
    pub ttc_open_s: f64,
    /// An encounter closes after the TTC has been above `ttc_open_s` (or undefined) this long.
    pub close_grace_s: f64,
    /// An encounter must stay open at least this long to be reported (one-frame blips are
    /// detector noise).
    pub min_duration_s: f64,
    /// How long a closed crossing/lane-change encounter waits for the second user to reach the
    /// conflict area so its PET can be attached.
    pub pet_wait_s: f64,
    /// Users slower than this count as stationary: a conflict needs a vehicle (non-pedestrian)
    /// moving at least this fast, and heading is held below it.
    pub min_speed_mps: f64,
    /// Pedestrian-pedestrian pairs are ignored unless this is set.
    pub include_pedestrian_pairs: bool,
    /// Pairs further apart than this (centre distance, metres) are not evaluated.
    pub max_range_m: f64,
    /// Detector box jitter in pixels (1 sigma), used to weight ground measurements.
    pub pixel_noise_px: f64,
    pub severity: SeverityConfig,
    pub angles: ConflictAngles,
}

impl Default for NearMissConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ttc_open_s: 3.0,
            close_grace_s: 0.3,
            min_duration_s: 0.2,
            pet_wait_s: 5.0,
            min_speed_mps: 1.0,
            include_pedestrian_pairs: false,
            max_range_m: 60.0,
            pixel_noise_px: 3.0,
            severity: SeverityConfig::default(),
            angles: ConflictAngles::default(),
        }
    }
}

impl NearMissConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        let pos = |name: &str, v: f64, p: &mut Vec<String>| {
            if !(v.is_finite() && v > 0.0) {
                p.push(format!("near_miss.{name} must be a positive number, got {v}"));
            }
        };
        pos("ttc_open_s", self.ttc_open_s, &mut p);
        pos("max_range_m", self.max_range_m, &mut p);
        pos("pixel_noise_px", self.pixel_noise_px, &mut p);
        for (name, v) in [("close_grace_s", self.close_grace_s), ("min_duration_s", self.min_duration_s), ("pet_wait_s", self.pet_wait_s), ("min_speed_mps", self.min_speed_mps)] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!("near_miss.{name} must be zero or positive, got {v}"));
            }
        }
        let s = &self.severity;
        pos("severity.ttc_critical_s", s.ttc_critical_s, &mut p);
        pos("severity.pet_critical_s", s.pet_critical_s, &mut p);
        pos("severity.drac_critical_mps2", s.drac_critical_mps2, &mut p);
        if !(s.ttc_critical_s <= s.ttc_serious_s) {
            p.push(format!("near_miss.severity.ttc_critical_s ({}) must not exceed ttc_serious_s ({})", s.ttc_critical_s, s.ttc_serious_s));
        }
        if !(s.pet_critical_s <= s.pet_serious_s) {
            p.push(format!("near_miss.severity.pet_critical_s ({}) must not exceed pet_serious_s ({})", s.pet_critical_s, s.pet_serious_s));
        }
        if !(s.ttc_serious_s <= self.ttc_open_s) {
            p.push(format!("near_miss.severity.ttc_serious_s ({}) above ttc_open_s ({}) can never be reached", s.ttc_serious_s, self.ttc_open_s));
        }
        let a = &self.angles;
        if !(0.0 <= a.rear_end_max_deg && a.rear_end_max_deg <= a.crossing_min_deg && a.crossing_min_deg <= 180.0) {
            p.push(format!(
                "near_miss.angles must satisfy 0 <= rear_end_max_deg ({}) <= crossing_min_deg ({}) <= 180",
                a.rear_end_max_deg, a.crossing_min_deg
            ));
        }
        p
    }
}
