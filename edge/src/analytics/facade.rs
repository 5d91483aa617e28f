//! The per-camera façade the daemon calls once per processed frame.

use serde::Serialize;

use super::config::AnalyticsConfig;
use super::crowd::{CrowdAggregate, CrowdEngine, CrowdNow, LevelChange};
use super::ground_track::{GroundSmoothing, GroundTrack, GroundTracker};
use super::near_miss::{Conflict, HourlyNearMiss, NearMissAggregate, NearMissEngine};
use super::road_user::RoadUserKind;
use crate::ground::{GroundError, GroundPlane, Polygon, Zone, ZoneError, ZoneKind};
use crate::infer::Detection;
use crate::track::{Track, Tracker};

#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("analytics configuration has {} problem(s): {}", .0.len(), .0.join("; "))]
    Invalid(Vec<String>),
    #[error("calibration: {0}")]
    Calibration(#[from] GroundError),
    #[error(transparent)]
    Zone(#[from] ZoneError),
}

/// Everything one frame produced.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AnalyticsOutput {
    pub t: f64,
    /// Confirmed tracks seen in this frame, with ground kinematics when calibrated.
    pub tracks: Vec<GroundTrack>,
    pub conflicts_closed: Vec<Conflict>,
    pub crowd_level_changes: Vec<LevelChange>,
    /// Finished aggregation periods (normally one per zone per minute).
    pub crowd_minute: Vec<CrowdAggregate>,
    /// Finished hours (at most one per frame).
    pub hourly_near_miss: Vec<NearMissAggregate>,
}

/// Tracking and analytics of one camera.
pub struct SceneAnalytics {
    cfg: AnalyticsConfig,
    tracker: Tracker,
    ground: Option<GroundPlane>,
    zones: Vec<Zone>,
    conflict_zones: Vec<(String, Polygon)>,
    ground_tracks: GroundTracker,
    near_miss: NearMissEngine,
    hourly: HourlyNearMiss,
    crowd: CrowdEngine,
}

impl SceneAnalytics {
    /// Builds the pipeline. With `ground == None` the plane is fitted from
    /// `cfg.calibration` when present. Invalid configuration is refused with every problem.
    pub fn new(cfg: AnalyticsConfig, ground: Option<GroundPlane>) -> Result<Self, AnalyticsError> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(AnalyticsError::Invalid(problems));
        }
        let ground = match (ground, &cfg.calibration) {
            (Some(g), _) => Some(g),
            (None, Some(c)) => Some(GroundPlane::from_config(c)?),
            (None, None) => None,
        };
        let zones = cfg.zones.iter().map(|z| Zone::resolve(z, ground.as_ref())).collect::<Result<Vec<_>, _>>()?;
        let conflict_zones = zones.iter().filter(|z| z.kind == ZoneKind::Conflict).filter_map(|z| z.ground.clone().map(|g| (z.id.clone(), g))).collect();
        let smoothing = GroundSmoothing {
            pixel_noise_px: cfg.near_miss.pixel_noise_px,
            heading_min_speed_mps: cfg.near_miss.min_speed_mps.max(0.3),
            max_age_s: cfg.tracker.max_age_s + 1.0,
        };
        Ok(Self {
            tracker: Tracker::new(cfg.tracker.clone()),
            ground_tracks: GroundTracker::new(smoothing),
            near_miss: NearMissEngine::new(cfg.near_miss.clone()),
            hourly: HourlyNearMiss::default(),
            crowd: CrowdEngine::new(cfg.crowd.clone(), &zones),
            ground,
            zones,
            conflict_zones,
            cfg,
        })
    }

    /// Processes one frame at stream time `t` (seconds, monotonic per stream).
    pub fn update(&mut self, t: f64, detections: &[Detection]) -> AnalyticsOutput {
        let mut out = AnalyticsOutput { t, ..Default::default() };
        if !t.is_finite() {
            return out;
        }
        if let Some(h) = self.hourly.advance(t) {
            out.hourly_near_miss.push(h);
        }
        let tracks: Vec<Track> = self.tracker.update(t, detections).to_vec();
        let kinds = &self.cfg.kinds;
        let kind_of = |tr: &Track| kinds.get(tr.label.as_ref()).copied().or_else(|| RoadUserKind::from_coco_label(&tr.label));
        out.tracks = self.ground_tracks.update(t, &tracks, self.ground.as_ref(), kind_of);
        for g in &out.tracks {
            if let (Some(kind), true) = (g.kind, g.ground.is_some()) {
                self.hourly.observe_user(g.serial, kind);
            }
        }
        if self.ground.is_some() {
            out.conflicts_closed = self.near_miss.update(t, &out.tracks, self.ground.as_ref(), &self.conflict_zones);
            for c in &out.conflicts_closed {
                self.hourly.record(c);
            }
        }
        let crowd = self.crowd.update(t, &out.tracks);
        out.crowd_level_changes = crowd.changes;
        out.crowd_minute = crowd.aggregates;
        out
    }

    /// Current per-zone crowd state for the dashboard.
    pub fn crowd_now(&self) -> Vec<CrowdNow> {
        self.crowd.now()
    }

    pub fn ground(&self) -> Option<&GroundPlane> {
        self.ground.as_ref()
    }

    pub fn zones(&self) -> &[Zone] {
        &self.zones
    }

    pub fn config(&self) -> &AnalyticsConfig {
        &self.cfg
    }
}
