//! Per-zone people counting, density, levels, flow and periodic aggregates.

use std::collections::{HashMap, HashSet};

use schemars::JsonSchema;
use serde::Serialize;

use super::config::CrowdConfig;
use super::level::{los_density_thresholds, AlertLevel, LevelTracker, Los};
use super::occupancy::{occupancy_status, OccupancyStatus};
use crate::analytics::ground_track::GroundTrack;
use crate::analytics::road_user::RoadUserKind;
use crate::ground::{Zone, ZoneKind};

/// Which scale a level change is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LevelScale {
    /// Fruin walkway level of service A-F.
    Los,
    /// Crowd-safety alert: normal / caution / danger.
    Alert,
}

/// A level entered (and the previous one left) in a zone.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct LevelChange {
    pub zone_id: String,
    pub scale: LevelScale,
    /// "A".."F" for LOS, "normal" / "caution" / "danger" for alerts.
    #[schemars(extend("enum" = ["A", "B", "C", "D", "E", "F", "normal", "caution", "danger"]))]
    pub from: String,
    #[schemars(extend("enum" = ["A", "B", "C", "D", "E", "F", "normal", "caution", "danger"]))]
    pub to: String,
    /// True when the level got worse.
    pub rising: bool,
    /// Stream time the new level was first reached, and when the change was confirmed.
    pub since: f64,
    pub t: f64,
    pub count: u32,
    pub density_ppm2: f64,
    /// Id of the redacted snapshot taken of this moment (`crowd.snapshot_from`); published on
    /// `…/snapshots/{id}` with `[snapshots] publish`. Absent when none was taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

impl LevelChange {
    /// A rise to `level` of service or worse.
    pub fn rose_to(&self, level: super::Los) -> bool {
        self.rising && self.scale == LevelScale::Los && self.to.as_str() >= level.as_str()
    }
}

/// Current state of a zone, for dashboards.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrowdNow {
    pub zone_id: String,
    pub name: Option<String>,
    pub kind: ZoneKind,
    pub t: f64,
    pub count: u32,
    /// People per m²; `None` for zones without a ground area (uncalibrated camera).
    pub density_ppm2: Option<f64>,
    pub los: Option<Los>,
    pub alert: Option<AlertLevel>,
    pub occupancy: Option<OccupancyStatus>,
    pub flow_in_total: u64,
    pub flow_out_total: u64,
}

/// One aggregation period of a zone, shaped after FIWARE Smart Data Models
/// `CrowdFlowObserved` (field names camelCase as in the data model; times are stream seconds
/// that the daemon converts to ISO 8601 `dateObservedFrom` / `dateObservedTo`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct CrowdAggregate {
    pub zone_id: String,
    pub date_observed_from: f64,
    pub date_observed_to: f64,
    /// Distinct people seen in the zone during the period (FIWARE `peopleCount`).
    pub people_count: u32,
    pub people_count_min: u32,
    pub people_count_mean: f64,
    pub people_count_max: u32,
    pub density_mean: Option<f64>,
    pub density_max: Option<f64>,
    /// Fraction of the period the zone held anyone (FIWARE `occupancy`, 0..1).
    pub occupancy: f64,
    /// Mean ground speed of people in the zone, m/s (FIWARE `averageCrowdSpeed`).
    pub average_crowd_speed: Option<f64>,
    /// Whether the caution density was reached at any time (FIWARE `congested`).
    pub congested: bool,
    /// Net direction of flow: "inbound" / "outbound" (FIWARE `direction`), `None` if balanced.
    #[schemars(extend("enum" = ["inbound", "outbound", null]))]
    pub direction: Option<String>,
    pub flow_in: u32,
    pub flow_out: u32,
    /// Worst level of service during the period.
    pub level_of_service: Option<Los>,
    /// GTFS-RT status at the mean count (vehicle-interior zones).
    pub occupancy_status: Option<OccupancyStatus>,
}

#[derive(Debug, Clone, Default)]
struct Acc {
    start: Option<f64>,
    last: f64,
    frames: u32,
    occupied: u32,
    sum: f64,
    min: u32,
    max: u32,
    density_sum: f64,
    density_max: f64,
    speed_sum: f64,
    speed_n: u32,
    flow_in: u32,
    flow_out: u32,
    people: HashSet<u64>,
    congested: bool,
    worst_los: Option<Los>,
}

#[derive(Debug, Clone)]
struct ZoneState {
    zone: Zone,
    members: HashMap<u64, (bool, f64)>,
    los: Option<LevelTracker>,
    alert: Option<LevelTracker>,
    count: u32,
    density: Option<f64>,
    flow_in_total: u64,
    flow_out_total: u64,
    bucket: Option<i64>,
    acc: Acc,
    t: f64,
}

/// Crowd analytics over a camera's crowd and vehicle-interior zones.
#[derive(Debug, Clone)]
pub struct CrowdEngine {
    cfg: CrowdConfig,
    zones: Vec<ZoneState>,
}

pub struct CrowdFrame {
    pub changes: Vec<LevelChange>,
    pub aggregates: Vec<CrowdAggregate>,
}

fn los_name(i: usize) -> String {
    format!("{:?}", Los::from_index(i))
}

fn alert_name(i: usize) -> String {
    format!("{:?}", AlertLevel::from_index(i)).to_lowercase()
}

impl CrowdEngine {
    pub fn new(cfg: CrowdConfig, zones: &[Zone]) -> Self {
        let zones = zones
            .iter()
            .filter(|z| matches!(z.kind, ZoneKind::Crowd | ZoneKind::VehicleInterior))
            .map(|z| {
                let has_area = z.area_m2().is_some() && z.kind == ZoneKind::Crowd;
                ZoneState {
                    zone: z.clone(),
                    members: HashMap::new(),
                    los: has_area.then(|| LevelTracker::new(los_density_thresholds(&cfg.los_m2_per_person), cfg.hysteresis_fraction, cfg.min_duration_s)),
                    alert: has_area.then(|| LevelTracker::new(vec![cfg.caution_density, cfg.danger_density], cfg.hysteresis_fraction, cfg.min_duration_s)),
                    count: 0,
                    density: None,
                    flow_in_total: 0,
                    flow_out_total: 0,
                    bucket: None,
                    acc: Acc::default(),
                    t: f64::NAN,
                }
            })
            .collect();
        Self { cfg, zones }
    }

    pub fn update(&mut self, t: f64, tracks: &[GroundTrack]) -> CrowdFrame {
        let mut frame = CrowdFrame { changes: Vec::new(), aggregates: Vec::new() };
        if !t.is_finite() {
            return frame;
        }
        let people: Vec<&GroundTrack> = tracks.iter().filter(|t| t.kind == Some(RoadUserKind::Pedestrian)).collect();
        for z in &mut self.zones {
            // Period roll-over first, so this frame counts into the new period.
            let b = (t / self.cfg.aggregate_period_s).floor() as i64;
            if z.bucket.is_some_and(|cur| cur != b) {
                if let Some(a) = finish(z, &self.cfg) {
                    frame.aggregates.push(a);
                }
            }
            z.bucket = Some(b);
            z.t = t;

            let mut count = 0u32;
            let mut speed_sum = 0.0;
            let mut speed_n = 0u32;
            for p in &people {
                let sd = match (&z.zone.ground, p.ground, &z.zone.image) {
                    (Some(poly), Some(g), _) => Some((poly.signed_distance(g.east, g.north), self.cfg.edge_margin_m)),
                    (None, _, Some(img)) => {
                        let (x, y) = p.bbox.bottom_centre();
                        Some((img.signed_distance(x as f64, y as f64), self.cfg.edge_margin_px))
                    }
                    _ => None,
                };
                let Some((sd, margin)) = sd else { continue };
                if !sd.is_finite() {
                    continue;
                }
                let entry = z.members.entry(p.serial).or_insert((sd > 0.0, t));
                let was = entry.0;
                if was && sd < -margin {
                    entry.0 = false;
                    z.flow_out_total += 1;
                    z.acc.flow_out += 1;
                } else if !was && sd > margin {
                    entry.0 = true;
                    z.flow_in_total += 1;
                    z.acc.flow_in += 1;
                }
                entry.1 = t;
                if entry.0 {
                    count += 1;
                    z.acc.people.insert(p.serial);
                    if let Some(g) = p.ground {
                        speed_sum += g.speed_mps;
                        speed_n += 1;
                    }
                }
            }
            z.members.retain(|_, m| t - m.1 <= 2.0 && m.1 <= t);
            z.count = count;
            z.density = z.zone.area_m2().filter(|a| *a > 0.0).map(|a| count as f64 / a);

            let acc = &mut z.acc;
            acc.start.get_or_insert(t);
            acc.last = t;
            acc.frames += 1;
            acc.occupied += (count > 0) as u32;
            acc.sum += count as f64;
            acc.min = if acc.frames == 1 { count } else { acc.min.min(count) };
            acc.max = acc.max.max(count);
            acc.speed_sum += speed_sum;
            acc.speed_n += speed_n;
            if let Some(d) = z.density {
                acc.density_sum += d;
                acc.density_max = acc.density_max.max(d);
                acc.congested |= d >= self.cfg.caution_density;
                let raw = Los::from_index(super::level::raw_level(d, &los_density_thresholds(&self.cfg.los_m2_per_person)));
                acc.worst_los = Some(acc.worst_los.map_or(raw, |w| w.max(raw)));
            }

            if let Some(d) = z.density {
                for (scale, tracker) in [(LevelScale::Los, z.los.as_mut()), (LevelScale::Alert, z.alert.as_mut())] {
                    let Some(tracker) = tracker else { continue };
                    if let Some(tr) = tracker.update(t, d) {
                        let name = if scale == LevelScale::Los { los_name } else { alert_name };
                        frame.changes.push(LevelChange {
                            zone_id: z.zone.id.clone(),
                            scale,
                            from: name(tr.from),
                            to: name(tr.to),
                            rising: tr.to > tr.from,
                            since: tr.since,
                            t,
                            count,
                            density_ppm2: d,
                            snapshot: None,
                        });
                    }
                }
            }
        }
        frame
    }

    pub fn now(&self) -> Vec<CrowdNow> {
        self.zones
            .iter()
            .map(|z| CrowdNow {
                zone_id: z.zone.id.clone(),
                name: z.zone.name.clone(),
                kind: z.zone.kind,
                t: z.t,
                count: z.count,
                density_ppm2: z.density,
                los: z.los.as_ref().map(|l| Los::from_index(l.level())),
                alert: z.alert.as_ref().map(|l| AlertLevel::from_index(l.level())),
                occupancy: z.zone.capacity.map(|c| occupancy_status(z.count, &c, &self.cfg.occupancy)),
                flow_in_total: z.flow_in_total,
                flow_out_total: z.flow_out_total,
            })
            .collect()
    }
}

fn finish(z: &mut ZoneState, cfg: &CrowdConfig) -> Option<CrowdAggregate> {
    let acc = std::mem::take(&mut z.acc);
    let start = acc.start?;
    let frames = acc.frames.max(1) as f64;
    let mean = acc.sum / frames;
    let period_end = z.bucket.map_or(acc.last, |b| (b + 1) as f64 * cfg.aggregate_period_s);
    let has_area = z.zone.area_m2().is_some();
    Some(CrowdAggregate {
        zone_id: z.zone.id.clone(),
        date_observed_from: start,
        date_observed_to: period_end.max(acc.last),
        people_count: acc.people.len() as u32,
        people_count_min: acc.min,
        people_count_mean: mean,
        people_count_max: acc.max,
        density_mean: has_area.then(|| acc.density_sum / frames),
        density_max: has_area.then_some(acc.density_max),
        occupancy: acc.occupied as f64 / frames,
        average_crowd_speed: (acc.speed_n > 0).then(|| acc.speed_sum / acc.speed_n as f64),
        congested: acc.congested,
        direction: match acc.flow_in.cmp(&acc.flow_out) {
            std::cmp::Ordering::Greater => Some("inbound".into()),
            std::cmp::Ordering::Less => Some("outbound".into()),
            std::cmp::Ordering::Equal => None,
        },
        flow_in: acc.flow_in,
        flow_out: acc.flow_out,
        level_of_service: acc.worst_los,
        occupancy_status: z.zone.capacity.map(|c| occupancy_status(mean.round() as u32, &c, &cfg.occupancy)),
    })
}
