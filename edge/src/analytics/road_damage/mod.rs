//! Road damage from a camera on a bus (or a pole): RDD2022 classes (D00 longitudinal crack, D10
//! transverse crack, D20 alligator crack, D40 pothole) from any detector whose manifest names them.
//!
//! Per frame: detections of damage labels above their class's score, inside the road region, are
//! tracked ([`crate::track`]), so one damage seen over many frames becomes one [`Observation`] when its
//! track ends: its class, best score, median size on the ground ([`severity`]), triage, and position
//! ([`geotag`]: GNSS pose plus the calibrated ground offset). Observations go to the [`records`] store,
//! which joins later passes to the same record and notices passes that no longer see it.

pub mod config;
pub mod geotag;
pub mod records;
pub mod severity;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use parking_lot::Mutex;
use time::OffsetDateTime;

pub use config::{ClassRule, Mounting, RoadDamageConfig, SizeMetric};
pub use geotag::{NoPosition, Pose, Position};
pub use records::{Change, DamageRecord, Observation, RecordError, RecordStatus, RecordStore, RoadDamageEvent};
pub use severity::{GroundSize, Severity, Triage};

use crate::ground::{GroundPlane, Polygon, Wgs84Anchor};
use crate::infer::{BBox, Detection};
use crate::source::FrameView;
use crate::track::Tracker;

/// The records of the appliance, shared by its cameras and the dashboard's marks.
pub type SharedRecords = Arc<Mutex<RecordStore>>;

/// How far around the vehicle records are checked for being in view (m): beyond any camera's reach.
const VIEW_RADIUS_M: f64 = 80.0;
/// The ground tracking origin moves to the vehicle when it is this far away and nothing is tracked
/// (keeps centimetre coordinates well inside f32 precision).
const ORIGIN_RESET_M: f64 = 2000.0;

#[derive(Debug, thiserror::Error)]
#[error("road_damage configuration has {} problem(s): {}", .0.len(), .0.join("; "))]
pub struct InvalidConfig(pub Vec<String>);

/// A new record's best view, to be redacted into evidence off the inference thread. Holds raw pixels:
/// it goes to the redactor and nowhere else.
pub struct SnapshotJob {
    pub target: SnapshotTarget,
    pub frame: crate::source::Frame,
}

/// What a redacted still is for.
pub enum SnapshotTarget {
    /// Evidence of a new road-damage record.
    Record(String),
    /// The admin calibration view's still of a camera.
    CalibrationStill(String),
    /// Evidence of a crowd level (`crowd.snapshot_from`), under this snapshot id.
    CrowdLevel(String),
}

/// What one tracked damage gathered so far.
struct Accum {
    /// A copy of the frame with the best score (only when snapshots are on).
    still: Option<crate::source::Frame>,
    frames: u32,
    best_score: f32,
    best_box: BBox,
    label: Arc<str>,
    sizes: Vec<GroundSize>,
    positions: Vec<Position>,
    no_position: Option<NoPosition>,
    heading_deg: Option<f64>,
    speed_mps: Option<f64>,
    first_wall: SystemTime,
    last_wall: SystemTime,
    t_last: f64,
}

/// Everything one frame produced: record changes to publish, and the box of each new record's best
/// view (for an optional redacted evidence snapshot).
#[derive(Debug, Default)]
pub struct RoadDamageOutput {
    pub events: Vec<RoadDamageEvent>,
}

/// The road-damage analytic of one camera.
pub struct RoadDamageAnalytic {
    cfg: RoadDamageConfig,
    camera: String,
    plane: Option<GroundPlane>,
    roi: Option<Polygon>,
    tracker: Tracker,
    accum: HashMap<u64, Accum>,
    store: SharedRecords,
    fixed_window_start: Option<f64>,
    /// Origin of the ground tracking space (see [`Self::track_space`]).
    origin: Option<Wgs84Anchor>,
    world_space: bool,
    /// Where new records' best views go for redaction (None: snapshots off for this camera).
    snapshots: Option<crossbeam_channel::Sender<SnapshotJob>>,
}

impl RoadDamageAnalytic {
    pub fn new(camera: &str, cfg: RoadDamageConfig, store: SharedRecords) -> Result<Self, InvalidConfig> {
        let problems = cfg.validate();
        if !problems.is_empty() {
            return Err(InvalidConfig(problems));
        }
        let plane = match &cfg.calibration {
            Some(c) => Some(GroundPlane::from_config(c).map_err(|e| InvalidConfig(vec![format!("calibration: {e}")]))?),
            None => None,
        };
        let roi = match &cfg.roi {
            Some(r) => Some(Polygon::new(r.clone()).map_err(|e| InvalidConfig(vec![format!("roi: {e}")]))?),
            None => None,
        };
        Ok(Self {
            tracker: Tracker::new(cfg.tracker.clone()),
            camera: camera.to_string(),
            plane,
            roi,
            accum: HashMap::new(),
            store,
            fixed_window_start: None,
            origin: None,
            world_space: false,
            snapshots: None,
            cfg,
        })
    }

    /// Sends each new record's best view to `tx` (a bounded channel: a busy redactor skips snapshots,
    /// never frames).
    pub fn with_snapshots(mut self, tx: crossbeam_channel::Sender<SnapshotJob>) -> Self {
        self.snapshots = Some(tx);
        self
    }

    pub fn config(&self) -> &RoadDamageConfig {
        &self.cfg
    }

    fn in_roi(&self, x: f64, y: f64) -> bool {
        self.roi.as_ref().is_none_or(|r| r.contains(x, y))
    }

    /// Position of an image point at this frame.
    fn locate(&self, px: f64, py: f64, pose: &Result<Pose, NoPosition>) -> Result<Position, NoPosition> {
        let plane = self.plane.as_ref().ok_or(NoPosition::NotCalibrated)?;
        let (x, y) = plane.image_to_ground(px, py).ok_or(NoPosition::OffGround)?;
        match self.cfg.mounting {
            Mounting::Vehicle => geotag::vehicle_to_wgs84(pose.as_ref().map_err(Clone::clone)?, x, y),
            Mounting::Fixed => {
                let (lat, lon) = plane.to_wgs84(x, y).ok_or(NoPosition::NotCalibrated)?;
                Ok(Position { lat, lon, uncertainty_m: 0.5 + 0.03 * (x * x + y * y).sqrt() })
            }
        }
    }

    /// Where detections are tracked this frame. Damage does not move, the vehicle does: at bus speeds a
    /// pothole crosses the image in about a second, too fast for image-space IoU matching at 10 fps. With
    /// a pose, boxes are mapped onto the ground around a fixed origin (centimetres east/south), where
    /// damage stands still and tracking is easy. Without one, tracking falls back to image pixels.
    fn track_space(&mut self, pose: &Result<Pose, NoPosition>) -> Option<(Pose, Wgs84Anchor)> {
        if self.cfg.mounting != Mounting::Vehicle || self.plane.is_none() {
            return None;
        }
        let pose = pose.as_ref().ok().filter(|p| p.heading_deg.is_some())?;
        let far = self.origin.is_some_and(|o| geotag::distance_m(o.lat, o.lon, pose.lat, pose.lon) > ORIGIN_RESET_M);
        if self.origin.is_none() || (far && self.tracker.live_tracks() == 0) {
            self.origin = Wgs84Anchor::new(pose.lat, pose.lon).ok();
        }
        Some((*pose, self.origin?))
    }

    /// A box in the tracking space: image pixels, or centimetres east/south of the origin.
    fn to_space(&self, b: &BBox, space: &Option<(Pose, Wgs84Anchor)>) -> Option<BBox> {
        let Some((pose, origin)) = space else { return Some(*b) };
        let plane = self.plane.as_ref()?;
        let heading = pose.heading_deg?;
        let (pe, pn) = origin.to_local(pose.lat, pose.lon);
        let mut out = BBox::new(f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for (px, py) in [(b.x1, b.y1), (b.x2, b.y1), (b.x2, b.y2), (b.x1, b.y2)] {
            let (x, y) = plane.image_to_ground(f64::from(px), f64::from(py))?;
            let (e, n) = geotag::vehicle_to_enu(heading, x, y);
            let (cx, cy) = (((pe + e) * 100.0) as f32, (-(pn + n) * 100.0) as f32);
            out = BBox::new(out.x1.min(cx), out.y1.min(cy), out.x2.max(cx), out.y2.max(cy));
        }
        out.is_finite().then_some(out)
    }

    /// Processes one inferred frame at stream time `t` (seconds). `pose` is the vehicle's pose for this
    /// frame, or why there is none (ignored for fixed cameras).
    pub fn update(
        &mut self,
        t: f64,
        wall: SystemTime,
        view: FrameView<'_>,
        detections: &[Detection],
        pose: Result<Pose, NoPosition>,
    ) -> RoadDamageOutput {
        let frame = (view.width, view.height);
        let mut out = RoadDamageOutput::default();
        if !t.is_finite() {
            return out;
        }
        let damage: Vec<&Detection> = detections
            .iter()
            .filter(|d| self.cfg.classes.get(&*d.label).is_some_and(|r| d.score >= r.min_score))
            .filter(|d| {
                let (cx, cy) = d.bbox.centre();
                self.in_roi(f64::from(cx), f64::from(cy))
            })
            .collect();
        let space = self.track_space(&pose);
        let shared = self.store.clone();
        let mut store = shared.lock();
        if space.is_some() != self.world_space {
            // The tracking space changed (fix gained or lost): tracks of the old space end here.
            self.world_space = space.is_some();
            self.tracker = Tracker::new(self.cfg.tracker.clone());
            let all: Vec<u64> = self.accum.keys().copied().collect();
            self.finish(&mut store, all, &mut out);
        }
        // Each detection in tracking space, with its image box kept for measuring.
        let mapped: Vec<(Detection, BBox)> = damage
            .iter()
            .filter_map(|d| self.to_space(&d.bbox, &space).map(|b| (Detection { bbox: b, ..(*d).clone() }, d.bbox)))
            .collect();
        let in_space: Vec<Detection> = mapped.iter().map(|(d, _)| d.clone()).collect();
        let tracks = self.tracker.update(t, &in_space).to_vec();
        for tr in tracks.iter().filter(|tr| tr.time_since_update == 0.0) {
            // The detection this track took this frame: the best overlap in tracking space.
            let Some((det, image_box)) = mapped
                .iter()
                .map(|(d, ib)| (d.bbox.iou(&tr.bbox), d, ib))
                .filter(|(iou, _, _)| *iou > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, d, ib)| (d, *ib))
            else {
                continue;
            };
            let (cx, cy) = image_box.centre();
            let located = self.locate(f64::from(cx), f64::from(cy), &pose);
            let size = self.plane.as_ref().and_then(|p| GroundSize::of_box(p, &image_box));
            let a = self.accum.entry(tr.serial).or_insert_with(|| Accum {
                still: None,
                frames: 0,
                best_score: 0.0,
                best_box: image_box,
                label: tr.label.clone(),
                sizes: Vec::new(),
                positions: Vec::new(),
                no_position: None,
                heading_deg: None,
                speed_mps: None,
                first_wall: wall,
                last_wall: wall,
                t_last: t,
            });
            a.frames += 1;
            a.label = tr.label.clone();
            if det.score >= a.best_score {
                a.best_score = det.score;
                a.best_box = image_box;
                if self.snapshots.is_some() && self.cfg.snapshot {
                    a.still = crate::source::Frame::copy_of(Arc::from(self.camera.as_str()), view);
                }
            }
            a.sizes.extend(size);
            match located {
                Ok(p) => a.positions.push(p),
                Err(why) => a.no_position = Some(why),
            }
            if let Ok(p) = &pose {
                a.heading_deg = p.heading_deg;
                a.speed_mps = p.speed_mps;
            }
            a.last_wall = wall;
            a.t_last = t;
        }
        // Tracks the tracker has let go of are finished damage sightings.
        let live: std::collections::HashSet<u64> = self.tracker.live_serials().collect();
        let done: Vec<u64> = self.accum.keys().filter(|s| !live.contains(s)).copied().collect();
        self.finish(&mut store, done, &mut out);
        out.events.extend(self.passes(&mut store, t, frame, &pose));
        out
    }

    /// Turns finished tracks into observations and hands them to the records.
    fn finish(&mut self, store: &mut RecordStore, serials: Vec<u64>, out: &mut RoadDamageOutput) {
        for serial in serials {
            let Some(mut a) = self.accum.remove(&serial) else { continue };
            if a.frames < self.cfg.min_frames {
                continue;
            }
            let still = a.still.take();
            if let Some(obs) = self.observation(a) {
                let ev = store.observe(obs, &self.camera, self.cfg.merge_radius_m);
                if let (Some(tx), Some(frame), Change::Created) = (&self.snapshots, still, ev.change) {
                    let target = SnapshotTarget::Record(ev.record.record_id.clone());
                    if tx.try_send(SnapshotJob { target, frame }).is_err() {
                        tracing::warn!(record = %ev.record.record_id, "snapshot skipped: the redactor is busy");
                    }
                }
                out.events.push(ev);
            }
        }
    }

    fn observation(&self, a: Accum) -> Option<Observation> {
        let rule = self.cfg.classes.get(&*a.label)?;
        let size = median_size(a.sizes);
        let (severity, triage) = match &size {
            Some(s) => {
                let (sev, tri) = Severity::assess(rule, s);
                (Some(sev), tri)
            }
            None => (None, Triage::None),
        };
        let position = mean_position(&a.positions);
        Some(Observation {
            class: a.label.to_string(),
            frames: a.frames,
            confidence: (a.best_score * 1000.0).round() / 1000.0,
            severity,
            triage,
            no_position: if position.is_none() { Some(a.no_position.map(|n| n.to_string()).unwrap_or_else(|| "unknown".into())) } else { None },
            position,
            heading_deg: a.heading_deg,
            speed_mps: a.speed_mps,
            first_seen: OffsetDateTime::from(a.first_wall),
            last_seen: OffsetDateTime::from(a.last_wall),
            t_last: a.t_last,
        })
    }

    fn passes(&mut self, store: &mut RecordStore, t: f64, frame: (u32, u32), pose: &Result<Pose, NoPosition>) -> Vec<RoadDamageEvent> {
        let Some(plane) = self.plane.as_ref() else { return Vec::new() };
        // A track must have ended before a pass is judged: wait for the tracker's patience plus a frame or two.
        let grace = self.cfg.tracker.max_age_s + 1.0;
        let (w, h) = (f64::from(frame.0), f64::from(frame.1));
        let visible = |px: f64, py: f64| px >= 0.0 && py >= 0.0 && px < w && py < h && self.roi.as_ref().is_none_or(|r| r.contains(px, py));
        match self.cfg.mounting {
            Mounting::Vehicle => {
                let Ok(pose) = pose else {
                    // Without a pose nothing is known to be in view; open passes end after the grace.
                    return store.passes(t, None, VIEW_RADIUS_M, grace, self.cfg.missed_passes, |_| false);
                };
                store.passes(t, Some((pose.lat, pose.lon)), VIEW_RADIUS_M, grace, self.cfg.missed_passes, |r| {
                    r.position
                        .and_then(|p| geotag::wgs84_to_vehicle(pose, p.lat, p.lon))
                        .and_then(|(x, y)| plane.ground_to_image(x, y))
                        .is_some_and(|(px, py)| visible(px, py))
                })
            }
            Mounting::Fixed => {
                // A fixed camera always sees its records: each window of operation is one pass.
                let start = *self.fixed_window_start.get_or_insert(t);
                if t - start < self.cfg.fixed_pass_s {
                    return Vec::new();
                }
                self.fixed_window_start = Some(t);
                let Some(anchor) = plane.anchor else { return Vec::new() };
                let mut ev = store.passes(t + 2.0 * grace + self.cfg.fixed_pass_s, None, 0.0, grace, self.cfg.missed_passes, |_| false);
                ev.extend(store.passes(t, Some((anchor.lat, anchor.lon)), VIEW_RADIUS_M * 4.0, self.cfg.fixed_pass_s * 2.0, self.cfg.missed_passes, |r| {
                    r.camera == self.camera
                        && r.position
                            .and_then(|p| plane.from_wgs84(p.lat, p.lon))
                            .and_then(|(e, n)| plane.ground_to_image(e, n))
                            .is_some_and(|(px, py)| visible(px, py))
                }));
                ev
            }
        }
    }
}

/// Median of each dimension: robust against the first and last frames, where the box is cut by the
/// image edge or the damage is far away.
fn median_size(mut sizes: Vec<GroundSize>) -> Option<GroundSize> {
    if sizes.is_empty() {
        return None;
    }
    let mid = sizes.len() / 2;
    let mut pick = |f: fn(&GroundSize) -> f64| {
        sizes.sort_by(|a, b| f(a).total_cmp(&f(b)));
        f(&sizes[mid])
    };
    Some(GroundSize { width_m: pick(|s| s.width_m), length_m: pick(|s| s.length_m), area_m2: pick(|s| s.area_m2) })
}

/// Inverse-variance weighted mean of per-frame positions; the uncertainty is the median one (per-frame
/// GNSS errors are strongly correlated, so averaging does not shrink them).
fn mean_position(ps: &[Position]) -> Option<Position> {
    if ps.is_empty() {
        return None;
    }
    let (mut wsum, mut lat, mut lon) = (0.0, 0.0, 0.0);
    for p in ps {
        let w = 1.0 / p.uncertainty_m.max(0.1).powi(2);
        wsum += w;
        lat += w * p.lat;
        lon += w * p.lon;
    }
    let mut u: Vec<f64> = ps.iter().map(|p| p.uncertainty_m).collect();
    u.sort_by(f64::total_cmp);
    let round = |x: f64| (x * 1e7).round() / 1e7;
    Some(Position { lat: round(lat / wsum), lon: round(lon / wsum), uncertainty_m: (u[u.len() / 2] * 100.0).round() / 100.0 })
}
