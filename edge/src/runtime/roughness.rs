//! Ride roughness on the daemon: accelerometer samples plus GNSS motion into the estimator, and its
//! segments and impacts out as `roughness` and `road_impact` events.
//!
//! Clocks: the accelerometer's sample times are the timeline. A live receiver is read at the wall time
//! that corresponds to a sample (first sample = now); a replayed NMEA log is read at the sample's offset
//! from the first sample, so a recorded drive's two logs stay in step.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::Serialize;

use crate::analytics::road_damage::geotag::distance_m;
use crate::analytics::road_damage::Pose;
use crate::events::{Emitter, EventBody};
use crate::roughness::{spawn_source, Calibration, ImpactEvent, RoughnessConfig, RoughnessEstimator, RoughnessSegment};

use super::pose::PoseSource;

/// A point of the route: WGS84 degrees.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RoutePoint {
    pub lat: f64,
    pub lon: f64,
}

/// The data of a `roughness` event: one segment with where it starts and ends.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RoughnessReport {
    #[serde(flatten)]
    pub segment: RoughnessSegment,
    pub start: Option<RoutePoint>,
    pub end: Option<RoutePoint>,
}

/// The data of a `road_impact` event: a sharp vertical jolt (pothole, broken joint) and where.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ImpactReport {
    #[serde(flatten)]
    pub impact: ImpactEvent,
    pub position: Option<RoutePoint>,
    pub heading_deg: Option<f64>,
}

/// Motion is pushed to the estimator at most this often (sample time).
const MOTION_PERIOD_S: f64 = 0.1;
/// A position jump larger than this between two motion updates is a GNSS glitch, not travel.
const MAX_STEP_M: f64 = 10.0;
/// Route points kept for placing segment starts (m of travel).
const ROUTE_KEEP_M: f64 = 1000.0;

/// Starts the accelerometer source and the estimator on the tokio runtime the caller has entered.
pub fn spawn(cfg: RoughnessConfig, pose: Arc<PoseSource>, emitter: Emitter) -> tokio::task::JoinHandle<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(4096);
    let source = spawn_source(cfg.source.clone(), tx);
    tokio::spawn(async move {
        let mut route = Route::default();
        let mut est = RoughnessEstimator::new(&cfg, Calibration::DEFAULT);
        let mut origin: Option<(SystemTime, f64)> = None;
        let mut last_motion = f64::NEG_INFINITY;
        let mut last_pose: Option<Pose> = None;
        while let Some(s) = rx.recv().await {
            let (wall0, t0) = *origin.get_or_insert((SystemTime::now(), s.t_s));
            let offset = Duration::try_from_secs_f64(s.t_s - t0).unwrap_or(Duration::ZERO);
            let wall = wall0 + offset;
            if s.t_s - last_motion >= MOTION_PERIOD_S {
                last_motion = s.t_s;
                last_pose = pose.pose(offset, wall).ok();
                if let Some(p) = &last_pose {
                    route.advance(p.lat, p.lon);
                    est.push_motion(s.t_s, p.speed_mps.unwrap_or(0.0), route.odometer);
                }
            }
            let out = est.push_accel(s.t_s, s.az_mps2);
            if let Some(seg) = out.segment {
                emit_segment(&emitter, &route, seg, wall);
            }
            if let Some(impact) = out.impact {
                let position = last_pose.map(|p| RoutePoint { lat: p.lat, lon: p.lon });
                let heading_deg = last_pose.and_then(|p| p.heading_deg);
                emitter.emit(wall, EventBody::RoadImpact(ImpactReport { impact, position, heading_deg }));
            }
        }
        let (seg, impact) = est.flush();
        let now = SystemTime::now();
        if let Some(seg) = seg {
            emit_segment(&emitter, &route, seg, now);
        }
        if let Some(impact) = impact {
            emitter.emit(now, EventBody::RoadImpact(ImpactReport { impact, position: None, heading_deg: None }));
        }
        match source.await {
            Ok(Ok(stats)) => tracing::info!(?stats, "accelerometer source ended"),
            Ok(Err(e)) => tracing::error!(error = %e, "accelerometer source failed"),
            Err(e) => tracing::error!(error = %e, "accelerometer source task failed"),
        }
    })
}

fn emit_segment(emitter: &Emitter, route: &Route, segment: RoughnessSegment, wall: SystemTime) {
    let start = route.at(segment.start_distance_m);
    let end = route.at(segment.start_distance_m + segment.length_m);
    emitter.emit(wall, EventBody::Roughness(RoughnessReport { segment, start, end }));
}

/// Odometer from GNSS positions, and the recent route by distance.
#[derive(Default)]
struct Route {
    odometer: f64,
    last: Option<(f64, f64)>,
    points: VecDeque<(f64, RoutePoint)>,
}

impl Route {
    fn advance(&mut self, lat: f64, lon: f64) {
        if let Some((plat, plon)) = self.last {
            let step = distance_m(plat, plon, lat, lon);
            if step.is_finite() && step <= MAX_STEP_M {
                self.odometer += step;
            }
        }
        self.last = Some((lat, lon));
        self.points.push_back((self.odometer, RoutePoint { lat, lon }));
        while self.points.front().is_some_and(|(d, _)| self.odometer - d > ROUTE_KEEP_M) {
            self.points.pop_front();
        }
    }

    /// The route point nearest to an odometer reading (None when the route has no point within 20 m).
    fn at(&self, d: f64) -> Option<RoutePoint> {
        self.points
            .iter()
            .min_by(|a, b| (a.0 - d).abs().total_cmp(&(b.0 - d).abs()))
            .filter(|(pd, _)| (pd - d).abs() <= 20.0)
            .map(|(_, p)| *p)
    }
}
