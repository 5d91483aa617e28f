//! Per-camera state and counters, shared between the camera thread, the inference worker, metrics and
//! the HTTP API. Lock-free counters; a small mutex for the state and last error.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use parking_lot::Mutex;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    Connecting,
    Streaming,
    Backoff,
    /// A file played to its end and does not loop.
    Finished,
    Stopped,
}

impl CameraState {
    pub const ALL: [CameraState; 5] =
        [CameraState::Connecting, CameraState::Streaming, CameraState::Backoff, CameraState::Finished, CameraState::Stopped];

    pub fn as_str(&self) -> &'static str {
        match self {
            CameraState::Connecting => "connecting",
            CameraState::Streaming => "streaming",
            CameraState::Backoff => "backoff",
            CameraState::Finished => "finished",
            CameraState::Stopped => "stopped",
        }
    }
}

#[derive(Debug)]
struct StateInner {
    state: CameraState,
    since: SystemTime,
    last_error: Option<String>,
}

#[derive(Debug)]
pub struct CameraStatus {
    pub id: String,
    inner: Mutex<StateInner>,
    /// Frames that entered the pipeline's queue (before any drop).
    pub frames_in: AtomicU64,
    /// Frames delivered by the appsink to the daemon.
    pub frames_delivered: AtomicU64,
    /// Frames dropped because inference was busy (live sources).
    pub frames_dropped_busy: AtomicU64,
    /// Frames the analytics saw (inferred, or gated with reused detections).
    pub frames_processed: AtomicU64,
    /// Frames on which the model actually ran.
    pub frames_inferred: AtomicU64,
    pub reconnects: AtomicU64,
    /// Frames per second processed, ×1000 (an atomic integer is enough precision).
    fps_milli: AtomicU64,
    /// Frames that left the queue towards conversion and the appsink (which never drops).
    pub queue_out: AtomicU64,
    /// Frames the leaky queue dropped, as of the last update.
    queue_dropped: AtomicU64,
}

impl CameraStatus {
    pub fn new(id: &str) -> Self {
        Self {
            id: id.to_string(),
            inner: Mutex::new(StateInner { state: CameraState::Connecting, since: SystemTime::now(), last_error: None }),
            frames_in: AtomicU64::new(0),
            frames_delivered: AtomicU64::new(0),
            frames_dropped_busy: AtomicU64::new(0),
            frames_processed: AtomicU64::new(0),
            frames_inferred: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            fps_milli: AtomicU64::new(0),
            queue_out: AtomicU64::new(0),
            queue_dropped: AtomicU64::new(0),
        }
    }

    pub fn set_state(&self, state: CameraState) {
        let mut g = self.inner.lock();
        if g.state != state {
            g.state = state;
            g.since = SystemTime::now();
        }
        if state == CameraState::Streaming {
            g.last_error = None;
        }
    }

    pub fn set_error(&self, err: impl Into<String>) {
        self.inner.lock().last_error = Some(err.into());
    }

    pub fn state(&self) -> CameraState {
        self.inner.lock().state
    }

    /// Frames lost anywhere before analytics: dropped by the leaky queue (live sources) or while inference
    /// was busy.
    pub fn frames_dropped(&self) -> u64 {
        self.queue_dropped.load(Ordering::Relaxed) + self.frames_dropped_busy.load(Ordering::Relaxed)
    }

    /// Updates a leaky queue's drop count from its counters. The pad probes count a frame just before it
    /// is enqueued and just after it is dequeued, so up to two frames in transit are in neither `out`
    /// nor the level: they are not counted as dropped (`TRANSIT`), which keeps the total from ever
    /// having to go back, at the price of under-counting real drops by at most two.
    pub fn update_queue_drops(&self, queue_level: impl FnOnce() -> u64) {
        const TRANSIT: u64 = 2;
        let input = self.frames_in.load(Ordering::Acquire);
        let level = queue_level();
        let out = self.queue_out.load(Ordering::Acquire);
        let dropped = input.saturating_sub(out).saturating_sub(level).saturating_sub(TRANSIT);
        self.queue_dropped.fetch_max(dropped, Ordering::Relaxed);
    }

    pub fn set_fps(&self, fps: f64) {
        self.fps_milli.store((fps.max(0.0) * 1000.0) as u64, Ordering::Relaxed);
    }

    pub fn fps(&self) -> f64 {
        self.fps_milli.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn snapshot(&self) -> CameraSnapshot {
        let g = self.inner.lock();
        CameraSnapshot {
            id: self.id.clone(),
            state: g.state,
            since: g.since.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            last_error: g.last_error.clone(),
            frames_in: self.frames_in.load(Ordering::Relaxed),
            frames_processed: self.frames_processed.load(Ordering::Relaxed),
            frames_inferred: self.frames_inferred.load(Ordering::Relaxed),
            frames_dropped: self.frames_dropped(),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            fps: self.fps(),
        }
    }
}

/// What `/api/status` shows of a camera.
#[derive(Debug, Clone, Serialize)]
pub struct CameraSnapshot {
    pub id: String,
    pub state: CameraState,
    /// Unix time (s) of the last state change.
    pub since: f64,
    pub last_error: Option<String>,
    pub frames_in: u64,
    pub frames_processed: u64,
    pub frames_inferred: u64,
    pub frames_dropped: u64,
    pub reconnects: u64,
    pub fps: f64,
}
