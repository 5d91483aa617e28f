//! Level scales with hysteresis and a minimum dwell time, so a density hovering at a boundary
//! does not flap between levels.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Fruin walkway level of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Los {
    A,
    B,
    C,
    D,
    E,
    F,
}

impl Los {
    pub fn from_index(i: usize) -> Self {
        [Los::A, Los::B, Los::C, Los::D, Los::E, Los::F][i.min(5)]
    }

    /// "A".."F", as serialised.
    pub fn as_str(&self) -> &'static str {
        ["A", "B", "C", "D", "E", "F"][*self as usize]
    }
}

/// Crowd-safety alert level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertLevel {
    Normal,
    Caution,
    Danger,
}

impl AlertLevel {
    pub fn from_index(i: usize) -> Self {
        [AlertLevel::Normal, AlertLevel::Caution, AlertLevel::Danger][i.min(2)]
    }
}

/// Density thresholds (people/m²) at which each LOS level above A starts.
pub fn los_density_thresholds(m2_per_person: &[f64; 5]) -> Vec<f64> {
    m2_per_person.iter().map(|a| 1.0 / a).collect()
}

/// Level of a value on ascending thresholds without hysteresis.
pub fn raw_level(value: f64, thresholds: &[f64]) -> usize {
    thresholds.iter().take_while(|&&th| value >= th).count()
}

/// A level reported as changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub from: usize,
    pub to: usize,
    /// When the new level was first reached (the change is reported `min_duration_s` later).
    pub since: f64,
}

/// Hysteretic level tracker over ascending thresholds: level `k` is entered at
/// `value >= thresholds[k-1]` and left downwards only at `value < thresholds[k-1] · (1 − margin)`;
/// a new level is reported once it has held for `min_duration_s`.
#[derive(Debug, Clone)]
pub struct LevelTracker {
    thresholds: Vec<f64>,
    margin: f64,
    min_duration_s: f64,
    current: usize,
    candidate: Option<(usize, f64)>,
}

impl LevelTracker {
    pub fn new(thresholds: Vec<f64>, margin: f64, min_duration_s: f64) -> Self {
        Self { thresholds, margin, min_duration_s, current: 0, candidate: None }
    }

    pub fn level(&self) -> usize {
        self.current
    }

    fn target(&self, v: f64) -> usize {
        let mut k = self.current;
        while k < self.thresholds.len() && v >= self.thresholds[k] {
            k += 1;
        }
        if k > self.current {
            return k;
        }
        while k > 0 && v < self.thresholds[k - 1] * (1.0 - self.margin) {
            k -= 1;
        }
        k
    }

    pub fn update(&mut self, t: f64, value: f64) -> Option<Transition> {
        if !value.is_finite() || !t.is_finite() {
            return None;
        }
        let target = self.target(value);
        if target == self.current {
            self.candidate = None;
            return None;
        }
        let since = match self.candidate {
            // Keep the clock while the value stays on the same side of the current level.
            Some((c, s)) if (c > self.current) == (target > self.current) => s,
            _ => t,
        };
        self.candidate = Some((target, since));
        if t - since >= self.min_duration_s {
            let from = self.current;
            self.current = target;
            self.candidate = None;
            return Some(Transition { from, to: target, since });
        }
        None
    }
}
