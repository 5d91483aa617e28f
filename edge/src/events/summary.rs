//! Scene summary: per camera, every N seconds of stream time, how many objects of each class were in
//! view (mean, min and max over the frames analysed), with frame counters and the model that saw them.

use std::collections::BTreeMap;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::infer::Detection;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryConfig {
    /// Seconds of stream time per summary (0 disables summaries).
    #[serde(default = "default_interval")]
    #[schemars(with = "f64")]
    pub interval_s: toml::Spanned<f64>,
    /// Classes to count; empty counts every class the model reports.
    #[serde(default)]
    pub classes: Vec<String>,
}

fn default_interval() -> toml::Spanned<f64> {
    toml::Spanned::new(0..0, 10.0)
}

impl Default for SummaryConfig {
    fn default() -> Self {
        Self { interval_s: default_interval(), classes: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ClassCount {
    pub mean: f64,
    pub min: u32,
    pub max: u32,
}

/// The data of a `scene_summary` event.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SceneSummary {
    pub camera: String,
    /// Stream time (s) of the window's first and last frame.
    pub window_start_s: f64,
    pub window_end_s: f64,
    pub frames_processed: u64,
    pub frames_inferred: u64,
    /// Frames lost since the camera started (leaky queue or busy inference), cumulative.
    pub frames_dropped_total: u64,
    pub model_id: String,
    /// Objects per frame, by class label, over the window's processed frames.
    pub counts: BTreeMap<String, ClassCount>,
}

#[derive(Debug, Default)]
struct Acc {
    sum: u64,
    min: u32,
    max: u32,
}

/// Accumulates per-frame counts and closes a window every `interval`.
#[derive(Debug)]
pub struct SummaryWindow {
    camera: String,
    interval: Option<Duration>,
    classes: Vec<String>,
    start: Option<Duration>,
    last: Duration,
    frames: u64,
    inferred: u64,
    acc: BTreeMap<String, Acc>,
}

impl SummaryWindow {
    pub fn new(camera: &str, cfg: &SummaryConfig) -> Self {
        let secs = *cfg.interval_s.get_ref();
        Self {
            camera: camera.to_string(),
            interval: (secs > 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs)),
            classes: cfg.classes.clone(),
            start: None,
            last: Duration::ZERO,
            frames: 0,
            inferred: 0,
            acc: BTreeMap::new(),
        }
    }

    /// Adds one analysed frame. Returns a summary when this frame closes a window.
    pub fn add(
        &mut self,
        t: Duration,
        inferred: bool,
        detections: &[Detection],
        model_id: &str,
        dropped_total: u64,
    ) -> Option<SceneSummary> {
        let interval = self.interval?;
        // A stream that jumped back (new file, reconnect) starts a new window.
        if self.start.is_some_and(|s| t < s) {
            self.reset();
        }
        let start = *self.start.get_or_insert(t);
        let mut per_frame: BTreeMap<&str, u32> = BTreeMap::new();
        for d in detections {
            if self.classes.is_empty() || self.classes.iter().any(|c| c.as_str() == &*d.label) {
                *per_frame.entry(&d.label).or_default() += 1;
            }
        }
        for c in &self.classes {
            per_frame.entry(c.as_str()).or_default();
        }
        // Classes absent from this frame but seen earlier in the window count as 0 here.
        for (label, acc) in self.acc.iter_mut() {
            if !per_frame.contains_key(label.as_str()) {
                acc.min = 0;
            }
        }
        for (label, n) in per_frame {
            let first_seen = !self.acc.contains_key(label);
            let acc = self.acc.entry(label.to_string()).or_default();
            if first_seen {
                acc.min = if self.frames == 0 { n } else { 0 };
            } else {
                acc.min = acc.min.min(n);
            }
            acc.max = acc.max.max(n);
            acc.sum += u64::from(n);
        }
        self.frames += 1;
        self.inferred += u64::from(inferred);
        self.last = t;
        if t.saturating_sub(start) + Duration::from_micros(1) < interval {
            return None;
        }
        let frames = self.frames.max(1);
        let summary = SceneSummary {
            camera: self.camera.clone(),
            window_start_s: start.as_secs_f64(),
            window_end_s: t.as_secs_f64(),
            frames_processed: self.frames,
            frames_inferred: self.inferred,
            frames_dropped_total: dropped_total,
            model_id: model_id.to_string(),
            counts: self
                .acc
                .iter()
                .map(|(k, a)| (k.clone(), ClassCount { mean: a.sum as f64 / frames as f64, min: a.min, max: a.max }))
                .collect(),
        };
        self.reset();
        Some(summary)
    }

    fn reset(&mut self) {
        self.start = None;
        self.frames = 0;
        self.inferred = 0;
        self.acc.clear();
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::BBox;
    use std::sync::Arc;

    fn det(label: &str) -> Detection {
        Detection { class_id: 0, label: Arc::from(label), score: 0.9, bbox: BBox::new(0.0, 0.0, 1.0, 1.0) }
    }

    #[test]
    fn window_statistics() {
        let cfg = SummaryConfig { interval_s: toml::Spanned::new(0..0, 1.0), classes: vec![] };
        let mut w = SummaryWindow::new("cam", &cfg);
        let frames = [vec![det("person"), det("person")], vec![det("person"), det("car")], vec![det("person"), det("person"), det("person")]];
        let mut out = None;
        for (i, dets) in frames.iter().enumerate() {
            out = w.add(Duration::from_millis(500 * i as u64), true, dets, "m", 0);
        }
        let s = out.expect("window closes at 1 s");
        assert_eq!(s.frames_processed, 3);
        let p = &s.counts["person"];
        assert_eq!((p.min, p.max), (1, 3));
        assert!((p.mean - 2.0).abs() < 1e-9);
        let c = &s.counts["car"];
        assert_eq!((c.min, c.max), (0, 1));
        assert!((c.mean - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn class_filter_reports_zero_counts() {
        let cfg = SummaryConfig { interval_s: toml::Spanned::new(0..0, 0.5), classes: vec!["bus".into()] };
        let mut w = SummaryWindow::new("cam", &cfg);
        assert!(w.add(Duration::ZERO, true, &[det("person")], "m", 0).is_none());
        let s = w.add(Duration::from_millis(600), true, &[det("person")], "m", 0).unwrap();
        assert_eq!(s.counts.len(), 1);
        assert_eq!(s.counts["bus"], ClassCount { mean: 0.0, min: 0, max: 0 });
    }
}
