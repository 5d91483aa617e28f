//! Hourly per-site near-miss aggregates and a risk index.

use std::collections::{BTreeMap, HashMap};

use schemars::JsonSchema;
use serde::Serialize;

use super::engine::Conflict;
use super::measures::{ConflictType, Severity};
use crate::analytics::RoadUserKind;

#[derive(Debug, Clone, Default, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct TierCounts {
    pub serious: u32,
    pub critical: u32,
}

/// Conflicts of one hour of stream time.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct NearMissAggregate {
    /// Stream-time bounds of the hour (seconds; hours aligned to multiples of 3600).
    pub period_start: f64,
    pub period_end: f64,
    /// Distinct road users (tracks with a ground position) seen in the hour: the exposure.
    pub road_users: u32,
    /// The same by kind (a track counts under the kind it was first seen as).
    pub road_users_by_kind: BTreeMap<RoadUserKind, u32>,
    pub conflicts: u32,
    pub by_type: BTreeMap<ConflictType, TierCounts>,
    /// Counts by user-kind pair, e.g. "car/pedestrian" (kinds sorted).
    pub by_users: BTreeMap<String, u32>,
    /// Severity-weighted conflicts per 100 road users: `100 · (serious + 3 · critical) /
    /// max(road_users, 1)`. A project-defined exposure-normalised index (not a standard):
    /// comparable between hours and sites with similar traffic mix, 0 when nothing happened.
    pub risk_index: f64,
}

/// Accumulates one hour at a time; emits when stream time enters a new hour.
#[derive(Debug, Clone, Default)]
pub struct HourlyNearMiss {
    bucket: Option<i64>,
    users: HashMap<u64, RoadUserKind>,
    by_type: BTreeMap<ConflictType, TierCounts>,
    by_users: BTreeMap<String, u32>,
    conflicts: u32,
}

const HOUR: f64 = 3600.0;

impl HourlyNearMiss {
    /// Advances to time `t`; returns the finished hour when `t` is in a later one. A jump of
    /// several hours emits only the hour that had data (no flood of empty records).
    pub fn advance(&mut self, t: f64) -> Option<NearMissAggregate> {
        if !t.is_finite() {
            return None;
        }
        let b = (t / HOUR).floor() as i64;
        match self.bucket {
            None => {
                self.bucket = Some(b);
                None
            }
            Some(cur) if b != cur => {
                let agg = self.snapshot(cur);
                *self = Self { bucket: Some(b), ..Default::default() };
                Some(agg)
            }
            Some(_) => None,
        }
    }

    pub fn observe_user(&mut self, serial: u64, kind: RoadUserKind) {
        self.users.entry(serial).or_insert(kind);
    }

    pub fn record(&mut self, c: &Conflict) {
        self.conflicts += 1;
        let e = self.by_type.entry(c.conflict_type).or_default();
        match c.severity {
            Severity::Critical => e.critical += 1,
            Severity::Serious => e.serious += 1,
            Severity::None => {}
        }
        let mut k = [format!("{:?}", c.users[0].kind).to_lowercase(), format!("{:?}", c.users[1].kind).to_lowercase()];
        k.sort();
        *self.by_users.entry(format!("{}/{}", k[0], k[1])).or_default() += 1;
    }

    fn snapshot(&self, bucket: i64) -> NearMissAggregate {
        let (s, c) = self.by_type.values().fold((0u32, 0u32), |acc, v| (acc.0 + v.serious, acc.1 + v.critical));
        let users = self.users.len() as u32;
        let mut by_kind = BTreeMap::new();
        for kind in self.users.values() {
            *by_kind.entry(*kind).or_default() += 1;
        }
        NearMissAggregate {
            period_start: bucket as f64 * HOUR,
            period_end: (bucket + 1) as f64 * HOUR,
            road_users: users,
            road_users_by_kind: by_kind,
            conflicts: self.conflicts,
            by_type: self.by_type.clone(),
            by_users: self.by_users.clone(),
            risk_index: 100.0 * (s as f64 + 3.0 * c as f64) / users.max(1) as f64,
        }
    }
}
