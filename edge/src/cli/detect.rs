//! `kaiteki detect --model MANIFEST INPUT`: the quickest way to try a model. Prints one JSON line per
//! frame (an image is one frame): `{"frame":0,"pts_s":0.0,"detections":[{"label":…,"score":…,"box":[x1,y1,x2,y2]}]}`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use gstreamer as gst;
use gstreamer::prelude::*;

use kaiteki::infer::{DetectParams, Detection, Detector};
use kaiteki::source::{Frame, FrameView};

#[derive(clap::Args)]
pub struct DetectArgs {
    #[command(flatten)]
    model: super::model_args::ModelArgs,
    /// Stop after this many frames of a video.
    #[arg(long)]
    max_frames: Option<u64>,
    /// Image (jpg, png) or video (anything GStreamer's decodebin plays).
    input: PathBuf,
}

#[derive(serde::Serialize)]
struct Line<'a> {
    frame: u64,
    pts_s: f64,
    detections: Vec<Out<'a>>,
}

#[derive(serde::Serialize)]
struct Out<'a> {
    label: &'a str,
    class_id: u32,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

pub fn detect(a: DetectArgs) -> anyhow::Result<ExitCode> {
    if !a.input.is_file() {
        bail!("{}: no such file", a.input.display());
    }
    let params = a.model.params()?;
    let mut detector = a.model.load()?;
    eprintln!("model {} on {}", detector.model_id(), detector.backend_name());
    let ext = a.input.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut out = std::io::stdout().lock();
    if matches!(ext.as_str(), "jpg" | "jpeg" | "png") {
        let img = image::open(&a.input).with_context(|| format!("cannot read image {}", a.input.display()))?.to_rgb8();
        let (w, h) = img.dimensions();
        let view = FrameView::new(w, h, w as usize * 3, img.as_raw()).context("image has no pixels")?;
        let (dets, _) = detector.detect(view, params)?;
        write_line(&mut out, 0, 0.0, &dets)?;
        return Ok(ExitCode::SUCCESS);
    }
    detect_video(&a.input, detector.as_mut(), params, a.max_frames, &mut out)
}

/// Writes one line; `Ok(false)` when the reader has gone away.
fn write_line(out: &mut impl Write, frame: u64, pts_s: f64, dets: &[Detection]) -> anyhow::Result<bool> {
    let line = Line {
        frame,
        pts_s,
        detections: dets
            .iter()
            .map(|d| Out { label: &d.label, class_id: d.class_id, score: d.score, bbox: [d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2] })
            .collect(),
    };
    let mut s = serde_json::to_string(&line)?;
    s.push('\n');
    match out.write_all(s.as_bytes()).and_then(|_| out.flush()) {
        Ok(()) => Ok(true),
        // The reader went away (`| head`): a normal way to stop.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn detect_video(
    input: &Path,
    detector: &mut dyn Detector,
    params: DetectParams,
    max_frames: Option<u64>,
    out: &mut impl Write,
) -> anyhow::Result<ExitCode> {
    kaiteki::source::init_gstreamer().context("cannot initialise GStreamer")?;
    let abs = std::fs::canonicalize(input)?;
    let uri = gst::glib::filename_to_uri(&abs, None).context("cannot turn the path into a URI")?;
    let launch = format!(
        "uridecodebin uri=\"{uri}\" ! videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false max-buffers=4 enable-last-sample=false"
    );
    let pipeline = gst::parse::launch(&launch)?.downcast::<gst::Pipeline>().map_err(|_| anyhow::anyhow!("not a pipeline"))?;
    let sink = pipeline
        .by_name("sink")
        .and_then(|e| e.downcast::<gstreamer_app::AppSink>().ok())
        .context("no appsink")?;
    let bus = pipeline.bus().context("no bus")?;
    let result = (|| -> anyhow::Result<ExitCode> {
        pipeline.set_state(gst::State::Playing).map_err(|_| bus_error(&bus).unwrap_or_else(|| anyhow::anyhow!("cannot play {}", input.display())))?;
        let camera: Arc<str> = Arc::from("detect");
        let mut n = 0u64;
        loop {
            if let Some(e) = bus_error(&bus) {
                return Err(e.context(format!("cannot decode {}", input.display())));
            }
            if max_frames.is_some_and(|m| n >= m) {
                return Ok(ExitCode::SUCCESS);
            }
            let Some(sample) = sink.try_pull_sample(gst::ClockTime::from_mseconds(500)) else {
                if sink.is_eos() {
                    if n == 0 {
                        bail!("{}: no video frames", input.display());
                    }
                    return Ok(ExitCode::SUCCESS);
                }
                continue;
            };
            let caps = sample.caps().context("sample without caps")?;
            let info = gstreamer_video::VideoInfo::from_caps(caps)?;
            let buffer = sample.buffer_owned().context("sample without buffer")?;
            let pts = buffer.pts().map(|t| Duration::from_nanos(t.nseconds())).unwrap_or_default();
            let stride = usize::try_from(info.stride()[0])?;
            let mapped = buffer.into_mapped_buffer_readable().map_err(|_| anyhow::anyhow!("cannot map a frame"))?;
            let frame = Frame::from_gst(camera.clone(), n, pts, info.width(), info.height(), stride, mapped)
                .context("frame with inconsistent size")?;
            let (dets, _) = detector.detect(frame.view(), params)?;
            if !write_line(out, n, pts.as_secs_f64(), &dets)? {
                return Ok(ExitCode::SUCCESS);
            }
            n += 1;
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}

fn bus_error(bus: &gst::Bus) -> Option<anyhow::Error> {
    while let Some(msg) = bus.pop() {
        if let gst::MessageView::Error(e) = msg.view() {
            return Some(anyhow::anyhow!("{} ({})", e.error(), e.debug().unwrap_or_default()));
        }
    }
    None
}
