//! Instantaneous surrogate safety measures between two users under constant velocity.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::{ConflictAngles, SeverityConfig};
use super::geometry::{minkowski_difference, ray_entry, rect, P2};
use crate::analytics::road_user::Footprint;

/// A user's plan-view state for the measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mover {
    pub pos: P2,
    pub vel: P2,
    /// Radians CCW from east; `None` when unknown (never moved): a width x width square is used,
    /// since a stationary user's orientation cannot be seen from its motion.
    pub heading: Option<f64>,
    pub footprint: Footprint,
}

impl Mover {
    /// Footprint corners relative to the centre.
    pub fn shape(&self) -> [P2; 4] {
        match self.heading {
            Some(h) => rect([0.0, 0.0], h, self.footprint.length, self.footprint.width),
            None => rect([0.0, 0.0], 0.0, self.footprint.width, self.footprint.width),
        }
    }

    pub fn speed(&self) -> f64 {
        self.vel[0].hypot(self.vel[1])
    }
}

/// Time to collision: seconds until the footprints first touch if both keep their velocity.
/// `Some(0)` when they already overlap and are not separating; `None` when they never touch.
pub fn ttc(a: &Mover, b: &Mover) -> Option<f64> {
    let m = minkowski_difference(&a.shape(), &b.shape());
    let d = [b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]];
    let v = [b.vel[0] - a.vel[0], b.vel[1] - a.vel[1]];
    let t = ray_entry(&m, d, v)?;
    if t == 0.0 && d[0] * v[0] + d[1] * v[1] > 0.0 {
        return None; // overlapping but moving apart: a past contact, not a future one
    }
    t.is_finite().then_some(t)
}

/// Deceleration rate to avoid the crash (Cooper & Ferguson 1976; Almqvist et al. 1991):
/// the relative motion must be cancelled over the remaining distance, `|v_rel|² / (2 · gap)`
/// with `gap = |v_rel| · TTC`, i.e. `|v_rel| / (2 · TTC)`. For a rear-end approach this is the
/// classic `(v_F − v_L)² / (2 · gap)`. Undefined (`None`) at TTC = 0.
pub fn drac(a: &Mover, b: &Mover, ttc: f64) -> Option<f64> {
    if !(ttc > 0.0) {
        return None;
    }
    let v = [b.vel[0] - a.vel[0], b.vel[1] - a.vel[1]];
    Some(v[0].hypot(v[1]) / (2.0 * ttc))
}

/// Which of the two is approaching the other (larger velocity component towards the other):
/// the user who would have to brake. Returns true for `a`.
pub fn a_is_approaching(a: &Mover, b: &Mover) -> bool {
    let d = [b.pos[0] - a.pos[0], b.pos[1] - a.pos[1]];
    let ca = a.vel[0] * d[0] + a.vel[1] * d[1];
    let cb = -(b.vel[0] * d[0] + b.vel[1] * d[1]);
    ca >= cb
}

/// Conflict type by the angle between headings (SSAM).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConflictType {
    RearEnd,
    LaneChange,
    Crossing,
}

/// Angle between two headings in degrees, 0..=180.
pub fn heading_difference_deg(h1: f64, h2: f64) -> f64 {
    let d = (h1 - h2).to_degrees().rem_euclid(360.0);
    if d > 180.0 {
        360.0 - d
    } else {
        d
    }
}

pub fn classify(angle_deg: f64, angles: &ConflictAngles) -> ConflictType {
    if angle_deg < angles.rear_end_max_deg {
        ConflictType::RearEnd
    } else if angle_deg < angles.crossing_min_deg {
        ConflictType::LaneChange
    } else {
        ConflictType::Crossing
    }
}

/// Severity tiers, ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Below every threshold (reported only in diagnostics, never as a conflict).
    None,
    Serious,
    Critical,
}

/// The worst tier any measure reaches.
pub fn severity(min_ttc: Option<f64>, pet: Option<f64>, max_drac: Option<f64>, s: &SeverityConfig) -> Severity {
    let mut out = Severity::None;
    if let Some(t) = min_ttc {
        if t < s.ttc_critical_s {
            out = out.max(Severity::Critical);
        } else if t < s.ttc_serious_s {
            out = out.max(Severity::Serious);
        }
    }
    if let Some(p) = pet {
        if p < s.pet_critical_s {
            out = out.max(Severity::Critical);
        } else if p < s.pet_serious_s {
            out = out.max(Severity::Serious);
        }
    }
    if let Some(d) = max_drac {
        if d >= s.drac_critical_mps2 {
            out = out.max(Severity::Critical);
        }
    }
    out
}
