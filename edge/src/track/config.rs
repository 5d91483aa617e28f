//! Tracker tuning. Defaults follow ByteTrack (Zhang et al., "ByteTrack: Multi-Object Tracking by
//! Associating Every Detection Box", ECCV 2022) converted from frames to seconds.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct TrackerConfig {
    /// Detections at or above this score take part in the first association (ByteTrack
    /// `track_thresh` = 0.5).
    pub high_score: f32,
    /// Detections between this and `high_score` are only used to continue existing tracks
    /// (ByteTrack's second association; 0.1 in the paper).
    pub low_score: f32,
    /// A new track needs a detection at least this confident (ByteTrack: track_thresh + 0.1).
    pub new_track_score: f32,
    /// Minimum IoU for the first association (ByteTrack `match_thresh` 0.8 on 1-IoU => 0.2).
    pub match_iou_high: f32,
    /// Minimum IoU for the second, low-score association (ByteTrack: 0.5).
    pub match_iou_low: f32,
    /// Minimum IoU between a tentative track and a detection (ByteTrack: 0.3).
    pub match_iou_tentative: f32,
    /// Hits needed before a track is confirmed and published.
    pub min_hits: u32,
    /// Seconds a confirmed track may go unseen before it is deleted (ByteTrack's 30-frame
    /// buffer at 30 fps is 1 s).
    pub max_age_s: f64,
    /// Public ids are re-drawn from a fresh random salt after this many seconds of stream time
    /// (at most 3600, so ids never link a person across hours).
    pub rotate_s: f64,
    /// Classes that may associate with each other (e.g. [[2, 5, 7]] for car/bus/truck confusion
    /// in COCO). Classes in no group only associate with themselves.
    pub class_groups: Vec<Vec<u32>>,
    /// Boxes narrower or shorter than this (pixels) are ignored as noise.
    pub min_box_px: f32,
    /// Hard cap on live tracks, to bound work on a pathological detector output.
    pub max_tracks: usize,
    /// Relative measurement noise of the box (fraction of box height; ByteTrack 1/20).
    pub measurement_noise_rel: f64,
    /// Relative process acceleration noise of the box centre (box heights per s²).
    pub accel_noise_rel: f64,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            high_score: 0.5,
            low_score: 0.1,
            new_track_score: 0.6,
            match_iou_high: 0.2,
            match_iou_low: 0.5,
            match_iou_tentative: 0.3,
            min_hits: 2,
            max_age_s: 1.0,
            rotate_s: 3600.0,
            class_groups: Vec::new(),
            min_box_px: 2.0,
            max_tracks: 2000,
            measurement_noise_rel: 0.05,
            accel_noise_rel: 1.0,
        }
    }
}

impl TrackerConfig {
    /// Every problem, each naming its field.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        let unit = |name: &str, v: f32, p: &mut Vec<String>| {
            if !(0.0..=1.0).contains(&v) {
                p.push(format!("tracker.{name} must be within [0, 1], got {v}"));
            }
        };
        unit("high_score", self.high_score, &mut p);
        unit("low_score", self.low_score, &mut p);
        unit("new_track_score", self.new_track_score, &mut p);
        unit("match_iou_high", self.match_iou_high, &mut p);
        unit("match_iou_low", self.match_iou_low, &mut p);
        unit("match_iou_tentative", self.match_iou_tentative, &mut p);
        if self.low_score > self.high_score {
            p.push(format!("tracker.low_score ({}) must not exceed tracker.high_score ({})", self.low_score, self.high_score));
        }
        if self.min_hits == 0 {
            p.push("tracker.min_hits must be at least 1".into());
        }
        if !(self.max_age_s.is_finite() && self.max_age_s > 0.0) {
            p.push(format!("tracker.max_age_s must be a positive number of seconds, got {}", self.max_age_s));
        }
        if !(self.rotate_s.is_finite() && self.rotate_s > 0.0 && self.rotate_s <= 3600.0) {
            p.push(format!("tracker.rotate_s must be in (0, 3600] seconds so ids rotate at least hourly, got {}", self.rotate_s));
        }
        let mut seen = std::collections::BTreeMap::new();
        for (g, group) in self.class_groups.iter().enumerate() {
            for c in group {
                if let Some(prev) = seen.insert(*c, g) {
                    p.push(format!("tracker.class_groups: class {c} is in groups {prev} and {g}"));
                }
            }
        }
        if !(self.measurement_noise_rel.is_finite() && self.measurement_noise_rel > 0.0) {
            p.push("tracker.measurement_noise_rel must be positive".into());
        }
        if !(self.accel_noise_rel.is_finite() && self.accel_noise_rel > 0.0) {
            p.push("tracker.accel_noise_rel must be positive".into());
        }
        if self.max_tracks == 0 {
            p.push("tracker.max_tracks must be at least 1".into());
        }
        p
    }
}
