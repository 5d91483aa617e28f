//! Crowd thresholds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Crowd analytics settings.
///
/// Fruin walkway level of service (J. J. Fruin, "Pedestrian Planning and Design", Metropolitan
/// Association of Urban Designers and Environmental Planners, New York, 1971) is defined in
/// ft²/person: A ≥ 35, B 25-35, C 15-25, D 10-15, E 5-10, F < 5. In m² that is 3.25, 2.32, 1.39,
/// 0.93, 0.46 (the often-quoted 3.3 / 2.3 / 1.4 / 0.9 / 0.5 are these rounded; the exact
/// conversions are the defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CrowdConfig {
    /// Lower bounds of space per person (m²/person) for levels A, B, C, D, E; below the last is F.
    pub los_m2_per_person: [f64; 5],
    /// Density (people/m²) at which the caution alert starts: above ~2 p/m² free walking is no
    /// longer possible; Japanese event-safety practice treats it as the point to start crowd
    /// control.
    pub caution_density: f64,
    /// Density (people/m²) of the danger alert: ≥ 5 p/m² is the crowd-crush risk regime
    /// (involuntary contact, pressure transmission; cf. Fruin 1993, "The causes and prevention
    /// of crowd disasters", and the 2001 Akashi footbridge accident report).
    pub danger_density: f64,
    /// A level is left only when the density falls this fraction below its entry threshold.
    pub hysteresis_fraction: f64,
    /// A new level must persist this long before it is reported.
    pub min_duration_s: f64,
    /// Aggregation period (FIWARE CrowdFlowObserved records), seconds.
    pub aggregate_period_s: f64,
    /// A person changes inside/outside status only when this far past the zone edge (metres),
    /// so jitter at the edge does not count as flow.
    pub edge_margin_m: f64,
    /// The same margin for uncalibrated (image-space) zones, pixels.
    pub edge_margin_px: f64,
    pub occupancy: OccupancyConfig,
    /// Evidence: when a zone's level of service rises to this level or worse, a redacted snapshot of
    /// that frame is kept (and published with `[snapshots] publish`); the `crowd_level` event names it.
    /// Off by default; needs `[snapshots] enabled`. Every person and vehicle in it is destroyed.
    pub snapshot_from: Option<super::Los>,
}

impl Default for CrowdConfig {
    fn default() -> Self {
        Self {
            los_m2_per_person: [3.252, 2.323, 1.394, 0.929, 0.465],
            caution_density: 2.0,
            danger_density: 5.0,
            hysteresis_fraction: 0.1,
            min_duration_s: 10.0,
            aggregate_period_s: 60.0,
            edge_margin_m: 0.3,
            edge_margin_px: 4.0,
            occupancy: OccupancyConfig::default(),
            snapshot_from: None,
        }
    }
}

/// Mapping of vehicle-interior counts to GTFS-Realtime `OccupancyStatus`. The GTFS-RT reference
/// leaves the boundaries to the producer; these defaults are documented choices.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OccupancyConfig {
    /// EMPTY while passengers ≤ this fraction of the seats ("few or no passengers").
    pub empty_max_fraction: f64,
    /// MANY_SEATS_AVAILABLE while passengers < this fraction of the seats.
    pub many_seats_max_fraction: f64,
    /// CRUSHED_STANDING_ROOM_ONLY once standees ≥ this fraction of standing capacity.
    pub crushed_standing_fraction: f64,
    /// NOT_ACCEPTING_PASSENGERS at or above this fraction of total capacity, if set (counts
    /// alone cannot see a closed door, so this is off by default).
    pub not_accepting_fraction: Option<f64>,
}

impl Default for OccupancyConfig {
    fn default() -> Self {
        Self { empty_max_fraction: 0.1, many_seats_max_fraction: 0.5, crushed_standing_fraction: 0.8, not_accepting_fraction: None }
    }
}

impl CrowdConfig {
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        let l = &self.los_m2_per_person;
        if !l.iter().all(|v| v.is_finite() && *v > 0.0) || !l.windows(2).all(|w| w[0] > w[1]) {
            p.push(format!("crowd.los_m2_per_person must be positive and strictly decreasing (A..E), got {l:?}"));
        }
        if !(self.caution_density > 0.0 && self.caution_density < self.danger_density && self.danger_density.is_finite()) {
            p.push(format!(
                "crowd.caution_density ({}) must be positive and below crowd.danger_density ({})",
                self.caution_density, self.danger_density
            ));
        }
        if !(0.0..1.0).contains(&self.hysteresis_fraction) {
            p.push(format!("crowd.hysteresis_fraction must be within [0, 1), got {}", self.hysteresis_fraction));
        }
        if !(self.min_duration_s >= 0.0 && self.min_duration_s.is_finite()) {
            p.push(format!("crowd.min_duration_s must be zero or positive, got {}", self.min_duration_s));
        }
        if !(self.aggregate_period_s >= 1.0 && self.aggregate_period_s.is_finite()) {
            p.push(format!("crowd.aggregate_period_s must be at least 1 s, got {}", self.aggregate_period_s));
        }
        if !(self.edge_margin_m >= 0.0 && self.edge_margin_px >= 0.0) {
            p.push("crowd.edge_margin_m and crowd.edge_margin_px must be zero or positive".into());
        }
        let o = &self.occupancy;
        if !(0.0 <= o.empty_max_fraction && o.empty_max_fraction < o.many_seats_max_fraction && o.many_seats_max_fraction <= 1.0) {
            p.push("crowd.occupancy needs 0 <= empty_max_fraction < many_seats_max_fraction <= 1".into());
        }
        if !(0.0 < o.crushed_standing_fraction && o.crushed_standing_fraction <= 1.0) {
            p.push("crowd.occupancy.crushed_standing_fraction must be within (0, 1]".into());
        }
        p
    }
}
