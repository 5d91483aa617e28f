//! Prometheus metrics served at `/metrics`.
//!
//! Hot-path counters live as atomics in `CameraStatus` (the camera thread must not take locks per frame);
//! they are copied into the registry when `/metrics` is scraped ([`Metrics::refresh`]).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::Mutex;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::source::status::{CameraState, CameraStatus};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraLabels {
    pub camera: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CameraStateLabels {
    pub camera: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub model: String,
    pub stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    pub model: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    cameras: Mutex<Vec<Arc<CameraStatus>>>,
    frames_in: Family<CameraLabels, Counter>,
    frames_dropped: Family<CameraLabels, Counter>,
    frames_processed: Family<CameraLabels, Counter>,
    frames_inferred: Family<CameraLabels, Counter>,
    reconnects: Family<CameraLabels, Counter>,
    fps: Family<CameraLabels, Gauge<f64, AtomicU64>>,
    camera_state: Family<CameraStateLabels, Gauge>,
    pub inference_seconds: Family<StageLabels, Histogram>,
    pub inference_errors: Family<ModelLabels, Counter>,
    pub queue_depth: Family<QueueLabels, Gauge>,
    pub events_emitted: Family<KindLabels, Counter>,
    pub mqtt_published: Counter,
    pub mqtt_acked: Counter,
    pub mqtt_refused: Counter,
    pub mqtt_connected: Gauge,
    outbox: Mutex<Option<Arc<crate::outbox::Outbox>>>,
    outbox_records: Family<PriorityLabels, Gauge>,
    outbox_bytes: Gauge,
    outbox_disk_free_bytes: Gauge,
    outbox_oldest_age_s: Gauge<f64, AtomicU64>,
    outbox_dropped: Family<DropLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PriorityLabels {
    pub priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    pub reason: String,
    pub priority: String,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut r = Registry::with_prefix("kaiteki");
        let m = Metrics {
            registry: Mutex::new(Registry::default()),
            cameras: Mutex::new(Vec::new()),
            frames_in: Family::default(),
            frames_dropped: Family::default(),
            frames_processed: Family::default(),
            frames_inferred: Family::default(),
            reconnects: Family::default(),
            fps: Family::default(),
            camera_state: Family::default(),
            inference_seconds: Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.0005, 2.0, 14))),
            inference_errors: Family::default(),
            queue_depth: Family::default(),
            events_emitted: Family::default(),
            mqtt_published: Counter::default(),
            mqtt_acked: Counter::default(),
            mqtt_refused: Counter::default(),
            mqtt_connected: Gauge::default(),
            outbox: Mutex::new(None),
            outbox_records: Family::default(),
            outbox_bytes: Gauge::default(),
            outbox_disk_free_bytes: Gauge::default(),
            outbox_oldest_age_s: Gauge::default(),
            outbox_dropped: Family::default(),
        };
        r.register("camera_frames_in", "Frames that entered the camera pipeline's queue", m.frames_in.clone());
        r.register("camera_frames_dropped", "Frames lost before analytics (leaky queue, busy inference)", m.frames_dropped.clone());
        r.register("camera_frames_processed", "Frames analysed (inferred or gated)", m.frames_processed.clone());
        r.register("camera_frames_inferred", "Frames the model ran on", m.frames_inferred.clone());
        r.register("camera_reconnects", "Pipeline restarts after errors, stalls or end of stream", m.reconnects.clone());
        r.register("camera_fps", "Frames analysed per second", m.fps.clone());
        r.register("camera_state", "1 for the camera's current state", m.camera_state.clone());
        r.register("inference_seconds", "Time per inference stage (preprocess, inference, postprocess)", m.inference_seconds.clone());
        r.register("inference_errors", "Inference calls that failed", m.inference_errors.clone());
        r.register("queue_depth", "Items waiting in internal queues", m.queue_depth.clone());
        r.register("events_emitted", "Events produced, by kind", m.events_emitted.clone());
        r.register("mqtt_published", "Events handed to the MQTT client", m.mqtt_published.clone());
        r.register("mqtt_acked", "Publications acknowledged by the broker (PUBACK)", m.mqtt_acked.clone());
        r.register(
            "mqtt_refused",
            "Publications the broker refused (MQTT 5 PUBACK reason code); their events stay in the outbox",
            m.mqtt_refused.clone(),
        );
        r.register("mqtt_connected", "1 while connected to the broker", m.mqtt_connected.clone());
        r.register("outbox_records", "Events stored in the outbox, by priority", m.outbox_records.clone());
        r.register("outbox_bytes", "Encoded bytes stored in the outbox", m.outbox_bytes.clone());
        r.register(
            "outbox_disk_free_bytes",
            "Free bytes on the outbox's filesystem (below [storage.outbox] min_free_bytes it stops growing)",
            m.outbox_disk_free_bytes.clone(),
        );
        r.register("outbox_oldest_age_seconds", "Age of the oldest undelivered event", m.outbox_oldest_age_s.clone());
        r.register("outbox_dropped", "Events dropped by the outbox's bounds, by reason and priority", m.outbox_dropped.clone());
        *m.registry.lock() = r;
        Arc::new(m)
    }

    pub fn set_outbox(&self, outbox: Arc<crate::outbox::Outbox>) {
        *self.outbox.lock() = Some(outbox);
    }

    pub fn add_camera(&self, status: Arc<CameraStatus>) {
        self.cameras.lock().push(status);
    }

    /// Copies the cameras' atomic counters into the registry.
    pub fn refresh(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        fn set(c: &Counter, v: u64) {
            let cur = c.get();
            if v > cur {
                c.inc_by(v - cur);
            }
        }
        if let Some(ob) = self.outbox.lock().as_ref() {
            use crate::outbox::Priority;
            let st = ob.stats();
            for (p, name) in [(Priority::High, "high"), (Priority::Normal, "normal"), (Priority::Low, "low")] {
                let pl = PriorityLabels { priority: name.to_string() };
                self.outbox_records.get_or_create(&pl).set(*st.depth.get(p) as i64);
                for (reason, per) in [
                    ("full", &st.dropped.full),
                    ("expired", &st.dropped.expired),
                    ("corrupt", &st.dropped.corrupt),
                    ("disk_low", &st.dropped.disk_low),
                ] {
                    let dl = DropLabels { reason: reason.to_string(), priority: name.to_string() };
                    set(&self.outbox_dropped.get_or_create(&dl), *per.get(p));
                }
            }
            self.outbox_bytes.set(st.bytes as i64);
            if let Some(free) = st.disk_free_bytes {
                self.outbox_disk_free_bytes.set(free.min(i64::MAX as u64) as i64);
            }
            let now = crate::runtime::delivery::now_ms();
            self.outbox_oldest_age_s.set(st.oldest_age_ms(now).unwrap_or(0) as f64 / 1000.0);
        }
        for cam in self.cameras.lock().iter() {
            let l = CameraLabels { camera: cam.id.clone() };
            set(&self.frames_in.get_or_create(&l), cam.frames_in.load(Relaxed));
            set(&self.frames_dropped.get_or_create(&l), cam.frames_dropped());
            set(&self.frames_processed.get_or_create(&l), cam.frames_processed.load(Relaxed));
            set(&self.frames_inferred.get_or_create(&l), cam.frames_inferred.load(Relaxed));
            set(&self.reconnects.get_or_create(&l), cam.reconnects.load(Relaxed));
            self.fps.get_or_create(&l).set(cam.fps());
            let now = cam.state();
            for s in CameraState::ALL {
                let sl = CameraStateLabels { camera: cam.id.clone(), state: s.as_str().to_string() };
                self.camera_state.get_or_create(&sl).set(i64::from(s == now));
            }
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        self.refresh();
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry.lock()) {
            tracing::error!(error = %e, "cannot encode metrics");
        }
        out
    }
}
