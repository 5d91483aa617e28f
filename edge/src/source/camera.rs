//! One camera: its config, and the thread that runs its GStreamer pipeline, hands RGB frames to
//! inference, and reconnects with capped exponential backoff when the stream fails.
//!
//! Memory stays flat while a camera is down: each attempt builds a fresh pipeline and drops it
//! completely (state NULL, last reference released) before waiting.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use schemars::JsonSchema;
use serde::Deserialize;

use super::backoff::Backoff;
use super::frame::Frame;
use super::pipeline_def::{ParamValue, TailOptions, QUEUE_NAME, SINK_NAME};
use super::status::{CameraState, CameraStatus};

/// `[cameras.<id>]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Name of a pipeline definition: `pipelines/<name>.toml` (file, rtsp, v4l2, jetson-csi, jetson-rtsp…).
    #[schemars(with = "String")]
    pub pipeline: toml::Spanned<String>,
    /// Parameters of that pipeline definition (e.g. `uri`).
    #[serde(default)]
    pub params: BTreeMap<String, ParamValue>,
    /// Id of the model (`[models.<id>]`) that runs on this camera.
    #[schemars(with = "String")]
    pub model: toml::Spanned<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Non-live sources: start again at the end of the file.
    #[serde(default, rename = "loop")]
    pub looping: bool,
    /// Non-live sources: play at the recorded rate (like a camera). `false` processes every frame as
    /// fast as inference allows, dropping none (benchmarks, batch analysis).
    #[serde(default = "yes")]
    pub realtime: bool,
    /// Frames the leaky queue holds before dropping the oldest (latency bound).
    #[serde(default = "default_queue_frames")]
    pub queue_frames: u32,
    /// Scale frames in the pipeline to this `[width, height]` before they reach the daemon.
    #[serde(default)]
    pub scale_to: Option<[u32; 2]>,
    #[serde(default)]
    pub reconnect: ReconnectConfig,
    /// A streaming camera that delivers no frame for this long is restarted.
    #[serde(default = "default_stall_s")]
    #[schemars(with = "f64")]
    pub stall_timeout_s: toml::Spanned<f64>,
    #[serde(default)]
    pub detect: crate::runtime::gate::DetectConfig,
    #[serde(default)]
    pub summary: crate::events::summary::SummaryConfig,
    /// Tracking, ground plane, zones, near-miss and crowding (`[cameras.<id>.analytics]`); off when absent.
    #[serde(default)]
    pub analytics: Option<crate::analytics::AnalyticsConfig>,
    /// Road damage (`[cameras.<id>.road_damage]`): damage labels, road region, calibration, triage,
    /// merging across passes; off when absent. Needs a model whose classes include damage labels.
    #[serde(default)]
    pub road_damage: Option<crate::analytics::road_damage::RoadDamageConfig>,
}

fn yes() -> bool {
    true
}
fn default_queue_frames() -> u32 {
    2
}
fn default_stall_s() -> toml::Spanned<f64> {
    toml::Spanned::new(0..0, 10.0)
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReconnectConfig {
    #[serde(default = "default_initial_ms")]
    pub initial_ms: u64,
    #[serde(default = "default_max_ms")]
    pub max_ms: u64,
}

fn default_initial_ms() -> u64 {
    500
}
fn default_max_ms() -> u64 {
    30_000
}

impl Default for ReconnectConfig {
    fn default() -> Self {
        Self { initial_ms: default_initial_ms(), max_ms: default_max_ms() }
    }
}

impl CameraConfig {
    /// An analytic of this camera keeps redacted evidence (road damage, crowd levels).
    pub fn takes_snapshots(&self) -> bool {
        self.road_damage.as_ref().is_some_and(|r| r.snapshot) || self.analytics.as_ref().is_some_and(|a| a.crowd.snapshot_from.is_some())
    }

    pub fn tail_options(&self, live: bool) -> TailOptions {
        // A leaky queue never blocks its upstream: right for live sources (old frames are worthless),
        // wrong for files, which would then be decoded as fast as possible and mostly dropped. A
        // real-time file is paced by the appsink's clock sync instead, which blocks the decoder.
        TailOptions {
            leaky: live,
            sync: !live && self.realtime,
            queue_frames: self.queue_frames,
            scale_to: self.scale_to.map(|[w, h]| (w, h)),
        }
    }
}

/// Everything a camera thread needs, resolved from config.
pub struct CameraRunner {
    pub id: Arc<str>,
    pub launch: String,
    pub live: bool,
    pub looping: bool,
    /// Drop frames when inference is busy (paced sources) instead of blocking the pipeline.
    pub leaky: bool,
    pub stall_timeout: Duration,
    pub reconnect: ReconnectConfig,
    pub status: Arc<CameraStatus>,
    pub frames: crossbeam_channel::Sender<Frame>,
    pub shutdown: Arc<AtomicBool>,
}

/// Why one pipeline run ended.
#[derive(Debug)]
enum RunEnd {
    Eos,
    Shutdown,
    /// Inference side is gone (daemon shutting down).
    ConsumerGone,
}

impl CameraRunner {
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new().name(format!("cam-{}", self.id)).spawn(move || self.run())
    }

    fn run(self) {
        let mut backoff = Backoff::new(
            Duration::from_millis(self.reconnect.initial_ms),
            Duration::from_millis(self.reconnect.max_ms),
        );
        let started = Instant::now();
        let mut seq = 0u64;
        let mut pts_offset = Duration::ZERO;
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                break;
            }
            self.status.set_state(CameraState::Connecting);
            let attempt_start = Instant::now();
            let mut last_pts = Duration::ZERO;
            let result = self.run_once(&mut seq, pts_offset, &mut last_pts);
            // Keep stream time increasing across loops and reconnects so analytics see one timeline.
            pts_offset = if self.live { started.elapsed() } else { pts_offset + last_pts + Duration::from_millis(1) };
            match result {
                Ok(RunEnd::Shutdown) | Ok(RunEnd::ConsumerGone) => break,
                Ok(RunEnd::Eos) if !self.live => {
                    if self.looping {
                        tracing::debug!(camera = %self.id, "end of file, looping");
                        backoff.reset();
                        continue;
                    }
                    tracing::info!(camera = %self.id, "end of file");
                    self.status.set_state(CameraState::Finished);
                    return;
                }
                Ok(RunEnd::Eos) => {
                    tracing::warn!(camera = %self.id, "live source ended the stream; reconnecting");
                    self.status.set_error("end of stream from a live source");
                }
                Err(e) => {
                    tracing::warn!(camera = %self.id, error = %e, "camera pipeline failed");
                    self.status.set_error(e);
                }
            }
            // A run that streamed for a while was a success: start the backoff from the beginning.
            if attempt_start.elapsed() > Duration::from_secs(30) {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            self.status.set_state(CameraState::Backoff);
            self.status.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!(camera = %self.id, delay_ms = delay.as_millis() as u64, attempt = backoff.attempts(), "reconnecting after backoff");
            let until = Instant::now() + delay;
            while Instant::now() < until {
                if self.shutdown.load(Ordering::Relaxed) {
                    self.status.set_state(CameraState::Stopped);
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.status.set_state(CameraState::Stopped);
    }

    fn run_once(&self, seq: &mut u64, mut pts_offset: Duration, last_pts: &mut Duration) -> Result<RunEnd, String> {
        let pipeline = gst::parse::launch(&self.launch)
            .map_err(|e| format!("cannot build pipeline: {e}"))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| "pipeline definition did not produce a pipeline".to_string())?;
        let guard = PipelineGuard(pipeline.clone());
        let sink = pipeline
            .by_name(SINK_NAME)
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or("pipeline has no appsink named kaiteki_sink")?;
        let queue = pipeline.by_name(QUEUE_NAME).ok_or("pipeline has no queue named kaiteki_queue")?;
        // Count frames into and out of the queue: the difference (less what it holds) is what it dropped.
        for (pad_name, into) in [("sink", true), ("src", false)] {
            if let Some(pad) = queue.static_pad(pad_name) {
                let status = self.status.clone();
                pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
                    let counter = if into { &status.frames_in } else { &status.queue_out };
                    counter.fetch_add(1, Ordering::Release);
                    gst::PadProbeReturn::Ok
                });
            }
        }
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            first_bus_error(&pipeline).unwrap_or_else(|| "pipeline refused to start".to_string())
        })?;
        let bus = pipeline.bus().ok_or("pipeline has no bus")?;
        let mut last_frame = Instant::now();
        let mut streaming = false;
        loop {
            if self.shutdown.load(Ordering::Relaxed) {
                drop(guard);
                return Ok(RunEnd::Shutdown);
            }
            while let Some(msg) = bus.pop() {
                match msg.view() {
                    gst::MessageView::Error(err) => {
                        let src = err.src().map(|s| s.path_string().to_string()).unwrap_or_default();
                        return Err(format!("{src}: {} ({})", err.error(), err.debug().unwrap_or_default()));
                    }
                    gst::MessageView::Eos(_) if self.looping && !self.live => {
                        // Loop in place: a flushing seek back to the start keeps the pipeline, its
                        // threads and buffers, instead of tearing everything down every pass.
                        if pipeline.seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::KEY_UNIT, gst::ClockTime::ZERO).is_err() {
                            return Ok(RunEnd::Eos);
                        }
                        pts_offset += *last_pts + Duration::from_millis(100);
                        tracing::debug!(camera = %self.id, "end of file, looping");
                    }
                    gst::MessageView::Eos(_) => return Ok(RunEnd::Eos),
                    _ => {}
                }
            }
            match sink.try_pull_sample(gst::ClockTime::from_mseconds(100)) {
                Some(sample) => {
                    last_frame = Instant::now();
                    if !streaming {
                        streaming = true;
                        self.status.set_state(CameraState::Streaming);
                        tracing::info!(camera = %self.id, "streaming");
                    }
                    self.status.frames_delivered.fetch_add(1, Ordering::Relaxed);
                    if self.live {
                        // Only a live source's queue is leaky; the others cannot drop.
                        self.status.update_queue_drops(|| u64::from(queue.property::<u32>("current-level-buffers")));
                    }
                    let Some(frame) = self.frame_from_sample(&sample, *seq, pts_offset, last_pts) else {
                        continue;
                    };
                    *seq += 1;
                    if self.leaky {
                        match self.frames.try_send(frame) {
                            Ok(()) => {}
                            Err(crossbeam_channel::TrySendError::Full(_)) => {
                                self.status.frames_dropped_busy.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(crossbeam_channel::TrySendError::Disconnected(_)) => return Ok(RunEnd::ConsumerGone),
                        }
                    } else {
                        // Blocking hand-off: back-pressure reaches the decoder, no frame is lost.
                        let mut pending = frame;
                        loop {
                            match self.frames.send_timeout(pending, Duration::from_millis(200)) {
                                Ok(()) => break,
                                Err(crossbeam_channel::SendTimeoutError::Timeout(f)) => {
                                    if self.shutdown.load(Ordering::Relaxed) {
                                        return Ok(RunEnd::Shutdown);
                                    }
                                    pending = f;
                                }
                                Err(crossbeam_channel::SendTimeoutError::Disconnected(_)) => {
                                    return Ok(RunEnd::ConsumerGone)
                                }
                            }
                        }
                        last_frame = Instant::now();
                    }
                }
                None => {
                    // A looping file's EOS arrives on the bus too and is handled there (seek).
                    if sink.is_eos() && !(self.looping && !self.live) {
                        return Ok(RunEnd::Eos);
                    }
                    if last_frame.elapsed() > self.stall_timeout {
                        return Err(format!("no frame for {:.1} s (stalled)", self.stall_timeout.as_secs_f64()));
                    }
                }
            }
        }
    }

    fn frame_from_sample(&self, sample: &gst::Sample, seq: u64, pts_offset: Duration, last_pts: &mut Duration) -> Option<Frame> {
        let caps = sample.caps()?;
        let info = gst_video::VideoInfo::from_caps(caps).ok()?;
        let buffer = sample.buffer_owned()?;
        let pts = buffer.pts().map(|t| Duration::from_nanos(t.nseconds())).unwrap_or(*last_pts);
        *last_pts = pts;
        let stride = usize::try_from(*info.stride().first()?).ok()?;
        let mapped = buffer.into_mapped_buffer_readable().ok()?;
        let frame = Frame::from_gst(self.id.clone(), seq, pts_offset + pts, info.width(), info.height(), stride, mapped);
        if frame.is_none() {
            tracing::warn!(camera = %self.id, "frame with inconsistent size dropped");
        }
        frame
    }
}

/// Sets the pipeline to NULL when dropped, whatever path the run took, so nothing leaks across
/// reconnects.
struct PipelineGuard(gst::Pipeline);

impl Drop for PipelineGuard {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

fn first_bus_error(pipeline: &gst::Pipeline) -> Option<String> {
    let bus = pipeline.bus()?;
    let msg = bus.timed_pop_filtered(gst::ClockTime::from_mseconds(500), &[gst::MessageType::Error])?;
    match msg.view() {
        gst::MessageView::Error(err) => Some(format!("{} ({})", err.error(), err.debug().unwrap_or_default())),
        _ => None,
    }
}
