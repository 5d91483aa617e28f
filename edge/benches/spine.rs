//! `make bench`: the spine's speed on the sample video, as ratios against baselines measured in the
//! same run. Not a test: it asserts nothing, it prints what it measured.
//!
//! Env: KAITEKI_BENCH_VIDEO (vtest.avi), KAITEKI_BENCH_MODEL (CenterNet manifest), ORT_DYLIB_PATH,
//! KAITEKI_BENCH_BASELINE (JSON printed by bench/baseline.py, optional), KAITEKI_BENCH_THREADS (2).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use kaiteki::infer::{load_detector, BackendConfig, BackendKind, DetectParams, Detector, StageTimes};
use kaiteki::source::Frame;

fn env_path(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(default))
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .unwrap_or(0.0)
        / 1024.0
}

/// Decodes the whole video to RGB as fast as possible; returns (frames, seconds) and keeps `keep` frames.
fn decode(video: &PathBuf, keep: usize) -> (u64, f64, Vec<Frame>) {
    let uri = gst::glib::filename_to_uri(std::fs::canonicalize(video).expect("video"), None).expect("uri");
    let p = gst::parse::launch(&format!(
        "uridecodebin uri=\"{uri}\" ! videoconvert ! video/x-raw,format=RGB ! appsink name=s sync=false max-buffers=4"
    ))
    .expect("pipeline")
    .downcast::<gst::Pipeline>()
    .expect("pipeline");
    let sink = p.by_name("s").unwrap().downcast::<gstreamer_app::AppSink>().unwrap();
    p.set_state(gst::State::Playing).expect("play");
    let t = Instant::now();
    let mut n = 0u64;
    let mut kept = Vec::new();
    let cam: Arc<str> = Arc::from("bench");
    while let Some(s) = sink.pull_sample().ok() {
        if kept.len() < keep {
            let info = gstreamer_video::VideoInfo::from_caps(s.caps().unwrap()).unwrap();
            let map = s.buffer().unwrap().map_readable().unwrap();
            let (w, h, stride) = (info.width(), info.height(), info.stride()[0] as usize);
            let mut data = Vec::with_capacity((w * h * 3) as usize);
            for y in 0..h as usize {
                data.extend_from_slice(&map[y * stride..y * stride + w as usize * 3]);
            }
            kept.push(Frame::from_rgb(cam.clone(), n, Duration::ZERO, w, h, data).unwrap());
        }
        n += 1;
    }
    let secs = t.elapsed().as_secs_f64();
    let _ = p.set_state(gst::State::Null);
    (n, secs, kept)
}

struct StageMeans {
    pre: f64,
    inf: f64,
    post: f64,
}

fn run_model(det: &mut dyn Detector, frames: &[Frame], rounds: usize) -> StageMeans {
    // Warm-up: first runs allocate and tune.
    for f in frames.iter().take(3) {
        let _ = det.detect(f.view(), DetectParams::default());
    }
    let mut sum = StageTimes::default();
    let mut n = 0u32;
    for _ in 0..rounds {
        for f in frames {
            let (_, t) = det.detect(f.view(), DetectParams::default()).expect("detect");
            sum.preprocess += t.preprocess;
            sum.inference += t.inference;
            sum.postprocess += t.postprocess;
            n += 1;
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0 / f64::from(n.max(1));
    StageMeans { pre: ms(sum.preprocess), inf: ms(sum.inference), post: ms(sum.postprocess) }
}

/// The real runtime (camera thread, gate, inference worker, summaries) over the whole file.
fn end_to_end(video: &PathBuf, manifest: &PathBuf, gate: &str, threads: usize) -> (f64, u64, u64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cfg = format!(
        r#"device_id = "bench"
pipelines_dir = "{}"
[storage]
state_dir = "{}"
[models.m]
manifest = "{}"
threads = {threads}
[cameras.c]
pipeline = "file"
params = {{ uri = "file://{}" }}
model = "m"
realtime = false
[cameras.c.detect]
gate = {gate}
[cameras.c.summary]
interval_s = 1
classes = ["person"]
"#,
        repo.join("pipelines").canonicalize().unwrap().display(),
        dir.path().display(),
        std::fs::canonicalize(manifest).unwrap().display(),
        std::fs::canonicalize(video).unwrap().display()
    );
    let path = dir.path().join("bench.toml");
    std::fs::write(&path, cfg).unwrap();
    let loaded = kaiteki::config::load(&path).expect("config");
    let t = Instant::now();
    let mut running = kaiteki::runtime::start(&loaded).expect("start");
    while !running.sources_done() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = t.elapsed().as_secs_f64();
    let cam = running.state.cameras[0].clone();
    let mut events = running.events.take().unwrap();
    running.stop_threads();
    let mut people = 0.0;
    let mut frames_in_summaries = 0.0;
    while let Ok(e) = events.try_recv() {
        let kaiteki::events::EventBody::SceneSummary(s) = e.data else { continue };
        if let Some(c) = s.counts.get("person") {
            people += c.mean * s.frames_processed as f64;
            frames_in_summaries += s.frames_processed as f64;
        }
    }
    let processed = cam.frames_processed.load(std::sync::atomic::Ordering::Relaxed);
    let inferred = cam.frames_inferred.load(std::sync::atomic::Ordering::Relaxed);
    (processed as f64 / secs, processed, inferred, people / frames_in_summaries.max(1.0))
}

fn main() {
    // `cargo bench` passes --bench; nothing else is accepted.
    let video = env_path("KAITEKI_BENCH_VIDEO", "../../shared/data/media/vtest.avi");
    let manifest = env_path("KAITEKI_BENCH_MODEL", concat!(env!("CARGO_MANIFEST_DIR"), "/../models/centernet_human_512.toml"));
    let threads: usize = std::env::var("KAITEKI_BENCH_THREADS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    gst::init().expect("gstreamer");
    println!("# kaiteki bench: {} with {}, {threads} threads", video.display(), manifest.display());

    let (n, secs, frames) = decode(&video, 40);
    let decode_ms = secs * 1000.0 / n as f64;
    println!("decode (GStreamer → RGB)           {decode_ms:8.2} ms/frame   ({n} frames)");

    let cfg = |b| BackendConfig { backend: b, threads: Some(threads), ..BackendConfig::default() };
    let mut ort = load_detector(&manifest, &cfg(BackendKind::Ort)).expect("ort");
    let o = run_model(ort.as_mut(), &frames, 2);
    println!("ort    preprocess / inference / post {:8.2} / {:.2} / {:.2} ms", o.pre, o.inf, o.post);
    let mut tract = load_detector(&manifest, &cfg(BackendKind::Tract)).expect("tract");
    let t = run_model(tract.as_mut(), &frames[..10], 1);
    println!("tract  preprocess / inference / post {:8.2} / {:.2} / {:.2} ms", t.pre, t.inf, t.post);
    println!("ratio  tract/ort inference time      {:8.2}x", t.inf / o.inf);
    drop(tract);
    drop(ort);

    let model_alone_fps = 1000.0 / o.inf;
    let (fps_all, frames_all, _, people_all) = end_to_end(&video, &manifest, r#"{ mode = "every_frame" }"#, threads);
    let (fps_gate, frames_gate, inferred_gate, people_gate) =
        end_to_end(&video, &manifest, r#"{ mode = "change", max_skip = 2 }"#, threads);
    println!("model alone (ort inference only)   {model_alone_fps:8.1} frames/s");
    println!("end to end, every frame            {fps_all:8.1} frames/s  ({frames_all} frames, {people_all:.2} people/frame)");
    println!("ratio  end-to-end / model alone    {:8.3}   (target >= 0.95)", fps_all / model_alone_fps);
    println!(
        "end to end, change gate            {fps_gate:8.1} frames/s  ({inferred_gate} of {frames_gate} inferred, {people_gate:.2} people/frame)"
    );
    println!("ratio  gated / every-frame fps     {:8.2}x", fps_gate / fps_all);
    println!("count difference gated vs every    {:8.2} %  (target within 5 %)", 100.0 * (people_gate - people_all) / people_all.max(1e-9));
    if let Some(b) = std::env::var_os("KAITEKI_BENCH_BASELINE").and_then(|p| std::fs::read_to_string(p).ok()) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&b) {
            let py = v["fps_end_to_end"].as_f64().unwrap_or(f64::NAN);
            println!(
                "python baseline (onnxruntime {} + OpenCV) {py:8.1} frames/s end to end, model alone {:.1}, {:.2} people/frame",
                v["onnxruntime"].as_str().unwrap_or("?"),
                v["fps_model_alone"].as_f64().unwrap_or(f64::NAN),
                v["mean_people"].as_f64().unwrap_or(f64::NAN)
            );
            println!("ratio  every-frame / python        {:8.2}x", fps_all / py);
            println!("ratio  gated / python              {:8.2}x   (target >= 1.3)", fps_gate / py);
        }
    } else {
        println!("python baseline: not run (set KAITEKI_BENCH_BASELINE; bench/run.sh does)");
    }
    println!("resident memory of this process    {:8.1} MiB", rss_mib());
}
