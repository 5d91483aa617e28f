//! One inference worker per model: takes frames from every camera that uses the model, runs the gate and
//! the detector, and feeds per-camera analytics. A failing or panicking model call costs one frame, never
//! the worker.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::analytics::road_damage::RoadDamageAnalytic;
use crate::analytics::SceneAnalytics;
use crate::events::envelope::Scoped;
use crate::events::summary::SummaryWindow;
use crate::events::{Emitter, EventBody};
use crate::health::metrics::{KindLabels, ModelLabels, StageLabels};
use crate::health::Metrics;
use crate::infer::{DetectParams, Detection, Detector};
use crate::source::status::CameraStatus;
use crate::source::Frame;

use super::gate::Gate;
use super::pose::PoseSource;

/// Per-camera state inside a worker.
pub struct CameraSlot {
    pub status: Arc<CameraStatus>,
    pub gate: Gate,
    pub min_score: Option<f32>,
    pub classes: Vec<String>,
    pub summary: SummaryWindow,
    pub analytics: Option<SceneAnalytics>,
    pub road_damage: Option<RoadDamageAnalytic>,
    /// Where this camera is on the globe at each frame (GNSS), for road damage.
    pub pose: Arc<PoseSource>,
    /// Redacted stills: the first frame goes to the admin calibration view (None: snapshots off).
    stills: Option<crossbeam_channel::Sender<crate::analytics::road_damage::SnapshotJob>>,
    /// Crowd evidence: frames where a zone rose to this level of service or worse are redacted and kept.
    pub crowd_evidence: Option<(crate::analytics::crowd::Los, crossbeam_channel::Sender<crate::analytics::road_damage::SnapshotJob>)>,
    last: Vec<Detection>,
    fps: FpsMeter,
}

impl CameraSlot {
    pub fn new(
        stills: Option<crossbeam_channel::Sender<crate::analytics::road_damage::SnapshotJob>>,
        status: Arc<CameraStatus>,
        gate: Gate,
        min_score: Option<f32>,
        classes: Vec<String>,
        summary: SummaryWindow,
    ) -> Self {
        Self {
            stills,
            crowd_evidence: None,
            status,
            gate,
            min_score,
            classes,
            summary,
            analytics: None,
            road_damage: None,
            pose: Arc::new(PoseSource::None),
            last: Vec::new(),
            fps: FpsMeter::new(),
        }
    }
}

pub struct ModelWorker {
    pub name: String,
    pub detector: Box<dyn Detector>,
    pub frames: crossbeam_channel::Receiver<Frame>,
    pub cameras: HashMap<Arc<str>, CameraSlot>,
    pub emitter: Emitter,
    pub metrics: Arc<Metrics>,
    pub shutdown: Arc<AtomicBool>,
    pub feed: Arc<crate::dashboard::Feed>,
    /// Where model updates swap the detector between two frames.
    pub swap: super::hot_swap::SwapPoint,
}

impl ModelWorker {
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name(format!("infer-{}", self.name)).spawn(move || self.run())
    }

    fn run(mut self) {
        let queue = crate::health::metrics::QueueLabels { queue: format!("frames_{}", self.name) };
        loop {
            let mut control = None;
            let mut timed_out = false;
            let mut frame = None;
            let mut gone = false;
            crossbeam_channel::select! {
                recv(self.frames) -> msg => match msg {
                    Ok(f) => frame = Some(f),
                    Err(_) => gone = true,
                },
                recv(self.swap.receiver()) -> msg => match msg {
                    Ok(c) => control = Some(c),
                    Err(_) => self.swap.disconnect(),
                },
                default(Duration::from_millis(200)) => timed_out = true,
            }
            if let Some(c) = control {
                self.swap.apply(c, &mut self.detector);
            }
            if let Some(frame) = frame {
                self.metrics.queue_depth.get_or_create(&queue).set(self.frames.len() as i64);
                self.process(frame);
            }
            if gone || (timed_out && self.shutdown.load(Ordering::Relaxed) && self.frames.is_empty()) {
                break;
            }
        }
        tracing::debug!(model = %self.name, "inference worker stopped");
    }

    fn process(&mut self, frame: Frame) {
        let Some(slot) = self.cameras.get_mut(&frame.camera) else {
            return;
        };
        let view = frame.view();
        if let Some(tx) = slot.stills.take() {
            use crate::analytics::road_damage::{SnapshotJob, SnapshotTarget};
            if let Some(still) = Frame::copy_of(frame.camera.clone(), view) {
                // A full queue skips the still; the camera never waits for the redactor.
                let _ = tx.try_send(SnapshotJob { target: SnapshotTarget::CalibrationStill(frame.camera.to_string()), frame: still });
            }
        }
        let inferred = slot.gate.should_infer(view);
        if inferred {
            let params = DetectParams { min_score: slot.min_score, nms_iou: None };
            let detector = &mut self.detector;
            let started = Instant::now();
            let result = std::panic::catch_unwind(AssertUnwindSafe(|| detector.detect(view, params)));
            let model = self.detector.model_id().to_string();
            match result {
                Ok(Ok((dets, times))) => {
                    self.swap.record_ok(dets.len(), started.elapsed());
                    for (stage, d) in [("preprocess", times.preprocess), ("inference", times.inference), ("postprocess", times.postprocess)]
                    {
                        self.metrics
                            .inference_seconds
                            .get_or_create(&StageLabels { model: model.clone(), stage: stage.to_string() })
                            .observe(d.as_secs_f64());
                    }
                    slot.last = if slot.classes.is_empty() {
                        dets
                    } else {
                        dets.into_iter().filter(|d| slot.classes.iter().any(|c| c.as_str() == &*d.label)).collect()
                    };
                }
                Ok(Err(e)) => {
                    self.swap.record_error();
                    self.metrics.inference_errors.get_or_create(&ModelLabels { model }).inc();
                    tracing::warn!(camera = %frame.camera, error = %e, "inference failed; frame skipped");
                    return;
                }
                Err(_) => {
                    self.swap.record_error();
                    self.metrics.inference_errors.get_or_create(&ModelLabels { model }).inc();
                    tracing::error!(camera = %frame.camera, "inference panicked; frame skipped");
                    return;
                }
            }
            slot.status.frames_inferred.fetch_add(1, Ordering::Relaxed);
            if let Some(rd) = slot.road_damage.as_mut() {
                let pose = slot.pose.pose(frame.pts, frame.captured_at);
                let out = rd.update(frame.pts.as_secs_f64(), frame.captured_at, view, &slot.last, pose);
                for ev in out.events {
                    self.metrics.events_emitted.get_or_create(&KindLabels { kind: "road_damage".into() }).inc();
                    self.emitter.emit(frame.captured_at, EventBody::RoadDamage(ev));
                }
            }
            // Tracking needs real observations: gated frames (reused detections) are not fed to it.
            if let Some(analytics) = slot.analytics.as_mut() {
                let t0 = std::time::Instant::now();
                let out = analytics.update(frame.pts.as_secs_f64(), &slot.last);
                self.metrics
                    .inference_seconds
                    .get_or_create(&StageLabels { model: self.detector.model_id().to_string(), stage: "analytics".into() })
                    .observe(t0.elapsed().as_secs_f64());
                if slot.fps.frames == 0 {
                    // About once a second: the dashboard's "zone levels now".
                    let zones: Vec<serde_json::Value> = analytics
                        .crowd_now()
                        .into_iter()
                        .map(|z| {
                            let mut v = serde_json::to_value(&z).unwrap_or_default();
                            if let Some(o) = v.as_object_mut() {
                                o.insert("camera".into(), frame.camera.to_string().into());
                                o.insert("scale".into(), "los".into());
                                if let Some(los) = o.get("los").cloned() {
                                    o.insert("level".into(), los);
                                }
                            }
                            v
                        })
                        .collect();
                    self.feed.set_crowd_now(serde_json::json!({ "zones": zones }));
                }
                let cam = &*frame.camera;
                let mut out = out;
                if let Some((level, tx)) = &slot.crowd_evidence {
                    for change in out.crowd_level_changes.iter_mut().filter(|c| c.rose_to(*level)) {
                        change.snapshot = crowd_snapshot(tx, &frame, view);
                    }
                }
                let mut bodies: Vec<EventBody> = Vec::new();
                bodies.extend(out.conflicts_closed.into_iter().map(|c| EventBody::NearMiss(Scoped::new(cam, c))));
                bodies.extend(out.crowd_level_changes.into_iter().map(|c| EventBody::CrowdLevel(Scoped::new(cam, c))));
                bodies.extend(out.crowd_minute.into_iter().map(|c| EventBody::CrowdMinute(Scoped::new(cam, c))));
                bodies.extend(out.hourly_near_miss.into_iter().map(|c| EventBody::NearMissHourly(Scoped::new(cam, c))));
                for body in bodies {
                    self.metrics.events_emitted.get_or_create(&KindLabels { kind: body.kind().as_str().into() }).inc();
                    self.emitter.emit(frame.captured_at, body);
                }
            }
        }
        slot.status.frames_processed.fetch_add(1, Ordering::Relaxed);
        if let Some(fps) = slot.fps.tick() {
            slot.status.set_fps(fps);
        }
        let dropped = slot.status.frames_dropped();
        if let Some(summary) = slot.summary.add(frame.pts, inferred, &slot.last, self.detector.model_id(), dropped) {
            self.metrics.events_emitted.get_or_create(&KindLabels { kind: "scene_summary".into() }).inc();
            self.emitter.emit(frame.captured_at, EventBody::SceneSummary(summary));
        }
    }
}

/// Hands a copy of the frame to the redactor as crowd evidence; the id it will be kept (and published)
/// under, or None when the redactor's queue is full (the camera never waits for it).
fn crowd_snapshot(
    tx: &crossbeam_channel::Sender<crate::analytics::road_damage::SnapshotJob>,
    frame: &Frame,
    view: crate::source::frame::FrameView<'_>,
) -> Option<String> {
    use crate::analytics::road_damage::{SnapshotJob, SnapshotTarget};
    let copy = Frame::copy_of(frame.camera.clone(), view)?;
    let id = format!("crowd-{}", uuid::Uuid::now_v7().simple());
    match tx.try_send(SnapshotJob { target: SnapshotTarget::CrowdLevel(id.clone()), frame: copy }) {
        Ok(()) => Some(id),
        Err(_) => {
            tracing::warn!(camera = %frame.camera, "crowd evidence skipped: the redactor is busy");
            None
        }
    }
}

/// Frames per second over roughly one-second windows of wall time.
struct FpsMeter {
    start: Instant,
    frames: u32,
}

impl FpsMeter {
    fn new() -> Self {
        Self { start: Instant::now(), frames: 0 }
    }

    fn tick(&mut self) -> Option<f64> {
        self.frames += 1;
        let elapsed = self.start.elapsed();
        if elapsed < Duration::from_secs(1) {
            return None;
        }
        let fps = f64::from(self.frames) / elapsed.as_secs_f64();
        self.start = Instant::now();
        self.frames = 0;
        Some(fps)
    }
}
