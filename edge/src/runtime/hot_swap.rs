//! Swapping a model under a running inference worker, between two frames, without stopping its cameras.
//!
//! The new detector is loaded and checked elsewhere (model loading takes seconds); the worker only
//! exchanges two boxes between frames, so the detection gap is one frame's inference time. The worker
//! hands the old detector back, so that a rollback is another swap and never a reload.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;

use super::ModelInfo;
use crate::infer::Detector;

/// Running counters of one model slot, reset by every swap (so they describe the model now serving).
#[derive(Debug, Default)]
pub struct ModelHealth {
    inferred: AtomicU64,
    errors: AtomicU64,
    detections: AtomicU64,
    latency_us: AtomicU64,
    /// Detection gap of the last swap: from the old model's last inference to the new one's first
    /// (µs; 0 until the new model has inferred once).
    last_gap_us: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HealthSnapshot {
    pub inferred: u64,
    pub errors: u64,
    pub detections: u64,
    pub latency_us: u64,
}

impl HealthSnapshot {
    /// Failed calls over all calls.
    pub fn error_rate(&self) -> f64 {
        let calls = self.inferred + self.errors;
        if calls == 0 {
            0.0
        } else {
            self.errors as f64 / calls as f64
        }
    }

    /// Detections per inferred frame.
    pub fn detection_rate(&self) -> f64 {
        if self.inferred == 0 {
            0.0
        } else {
            self.detections as f64 / self.inferred as f64
        }
    }

    /// Mean inference latency (whole detect call), seconds.
    pub fn mean_latency_s(&self) -> f64 {
        if self.inferred == 0 {
            0.0
        } else {
            self.latency_us as f64 / self.inferred as f64 / 1e6
        }
    }
}

impl ModelHealth {
    pub fn record_ok(&self, detections: usize, latency: Duration) {
        self.inferred.fetch_add(1, Ordering::Relaxed);
        self.detections.fetch_add(detections as u64, Ordering::Relaxed);
        self.latency_us.fetch_add(latency.as_micros().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
    }

    pub fn record_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HealthSnapshot {
        HealthSnapshot {
            inferred: self.inferred.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            detections: self.detections.load(Ordering::Relaxed),
            latency_us: self.latency_us.load(Ordering::Relaxed),
        }
    }

    /// Zeroes the counters and returns what they held.
    fn take(&self) -> HealthSnapshot {
        HealthSnapshot {
            inferred: self.inferred.swap(0, Ordering::Relaxed),
            errors: self.errors.swap(0, Ordering::Relaxed),
            detections: self.detections.swap(0, Ordering::Relaxed),
            latency_us: self.latency_us.swap(0, Ordering::Relaxed),
        }
    }

    /// The detection gap of the last swap, once the new model has inferred.
    pub fn last_gap(&self) -> Option<Duration> {
        match self.last_gap_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }
}

/// What the worker receives between frames.
pub enum Control {
    Swap { detector: Box<dyn Detector>, reply: crossbeam_channel::Sender<Swapped> },
}

/// The worker's answer to a swap.
pub struct Swapped {
    /// The detector that served until now (kept for a rollback).
    pub old: Box<dyn Detector>,
    /// What the old detector did since it was swapped in (or since the start).
    pub old_health: HealthSnapshot,
}

/// The worker side: applies swaps and keeps the counters.
pub struct SwapPoint {
    control: crossbeam_channel::Receiver<Control>,
    health: Arc<ModelHealth>,
    info: Arc<RwLock<ModelInfo>>,
    last_inference: Option<Instant>,
    swapped_at: Option<Instant>,
}

impl SwapPoint {
    /// The control channel, for `select!` in the worker loop.
    pub fn receiver(&self) -> &crossbeam_channel::Receiver<Control> {
        &self.control
    }

    /// After the control side is gone (daemon without updates), a channel that never fires, so the
    /// worker's `select!` does not spin on a disconnected receiver.
    pub fn disconnect(&mut self) {
        self.control = crossbeam_channel::never();
    }

    pub fn apply(&mut self, control: Control, current: &mut Box<dyn Detector>) {
        match control {
            Control::Swap { detector, reply } => {
                let old = std::mem::replace(current, detector);
                let old_health = self.health.take();
                self.health.last_gap_us.store(0, Ordering::Relaxed);
                {
                    let mut info = self.info.write();
                    info.model_id = current.model_id().to_string();
                    info.backend = current.backend_name().to_string();
                }
                tracing::info!(model = %self.info.read().name, from = old.model_id(), to = current.model_id(), "model swapped");
                self.swapped_at = Some(self.last_inference.unwrap_or_else(Instant::now));
                if let Err(crossbeam_channel::SendError(Swapped { old: back, .. })) = reply.send(Swapped { old, old_health }) {
                    // Nobody waits for the answer any more: keep serving the new model, drop the old.
                    drop(back);
                }
            }
        }
    }

    pub fn record_ok(&mut self, detections: usize, latency: Duration) {
        let now = Instant::now();
        self.health.record_ok(detections, latency);
        if let Some(from) = self.swapped_at.take() {
            let gap = now.duration_since(from).as_micros().clamp(1, u128::from(u64::MAX)) as u64;
            self.health.last_gap_us.store(gap, Ordering::Relaxed);
        }
        self.last_inference = Some(now);
    }

    pub fn record_error(&mut self) {
        self.health.record_error();
    }
}

/// The control side of one model slot: what the update agent holds.
#[derive(Clone)]
pub struct ModelHandle {
    pub name: String,
    control: crossbeam_channel::Sender<Control>,
    pub health: Arc<ModelHealth>,
    pub info: Arc<RwLock<ModelInfo>>,
}

#[derive(Debug, thiserror::Error)]
pub enum SwapError {
    #[error("the inference worker of model `{0}` is not running")]
    WorkerGone(String),
    #[error("the inference worker of model `{0}` did not take the new model within {1:?}")]
    Timeout(String, Duration),
}

impl ModelHandle {
    /// Hands `detector` to the worker and waits for the old one back.
    pub fn swap(&self, detector: Box<dyn Detector>, timeout: Duration) -> Result<Swapped, SwapError> {
        let (tx, rx) = crossbeam_channel::bounded(1);
        self.control
            .send(Control::Swap { detector, reply: tx })
            .map_err(|_| SwapError::WorkerGone(self.name.clone()))?;
        rx.recv_timeout(timeout).map_err(|e| match e {
            crossbeam_channel::RecvTimeoutError::Timeout => SwapError::Timeout(self.name.clone(), timeout),
            crossbeam_channel::RecvTimeoutError::Disconnected => SwapError::WorkerGone(self.name.clone()),
        })
    }
}

/// One slot's two ends.
pub fn slot(info: ModelInfo) -> (ModelHandle, SwapPoint) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let health = Arc::new(ModelHealth::default());
    let info = Arc::new(RwLock::new(info));
    let name = info.read().name.clone();
    (
        ModelHandle { name, control: tx, health: health.clone(), info: info.clone() },
        SwapPoint { control: rx, health, info, last_inference: None, swapped_at: None },
    )
}
