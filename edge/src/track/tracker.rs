//! ByteTrack-style multi-object tracker (Zhang et al., ECCV 2022): high-score detections are
//! associated first, then low-score ones continue tracks that found nothing, which keeps
//! partially occluded objects alive without creating tracks from clutter.

use std::sync::Arc;

use serde::Serialize;

use crate::infer::{BBox, Detection};

use super::associate::{associate, Item};
use super::id::{IdSpace, TrackId};
use super::kalman::BoxFilter;
use super::TrackerConfig;

/// A confirmed track as published after a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Track {
    pub id: TrackId,
    /// Process-local key that survives id rotation; for joining state inside the process only,
    /// never published.
    #[serde(skip)]
    pub serial: u64,
    pub class_id: u32,
    pub label: Arc<str>,
    /// Filtered box (Kalman posterior) in frame pixels.
    pub bbox: BBox,
    /// Score of the detection that last updated the track.
    pub score: f32,
    /// Seconds since the track was born.
    pub age: f64,
    pub hits: u32,
    /// Seconds since the last matched detection (0 for tracks updated this frame).
    pub time_since_update: f64,
    /// Velocity of the box centre in pixels per second (x right, y down).
    pub velocity_px: [f32; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Tentative,
    Confirmed,
    Lost,
}

#[derive(Debug, Clone)]
struct Internal {
    serial: u64,
    id: TrackId,
    state: State,
    kf: BoxFilter,
    born: f64,
    last_update: f64,
    hits: u32,
    score: f32,
    /// Accumulated detection score per class, for a stable class under group association.
    votes: Vec<(u32, Arc<str>, f32)>,
}

impl Internal {
    fn class(&self) -> (u32, Arc<str>) {
        self.votes
            .iter()
            .max_by(|a, b| a.2.total_cmp(&b.2))
            .map(|v| (v.0, v.1.clone()))
            .unwrap_or((0, Arc::from("")))
    }

    fn bbox(&self) -> BBox {
        let [cx, cy, w, h] = self.kf.state();
        BBox::new((cx - w / 2.0) as f32, (cy - h / 2.0) as f32, (cx + w / 2.0) as f32, (cy + h / 2.0) as f32)
    }

    fn vote(&mut self, d: &Detection) {
        match self.votes.iter_mut().find(|v| v.0 == d.class_id) {
            Some(v) => v.2 += d.score,
            None => self.votes.push((d.class_id, d.label.clone(), d.score)),
        }
    }
}

fn measurement(b: &BBox) -> [f64; 4] {
    let (cx, cy) = b.centre();
    [cx as f64, cy as f64, b.width() as f64, b.height() as f64]
}

/// The tracker of one video stream.
#[derive(Debug, Clone)]
pub struct Tracker {
    cfg: TrackerConfig,
    ids: IdSpace,
    tracks: Vec<Internal>,
    next_serial: u64,
    last_t: Option<f64>,
    output: Vec<Track>,
}

impl Tracker {
    pub fn new(cfg: TrackerConfig) -> Self {
        let ids = IdSpace::new(cfg.rotate_s);
        Self::with_ids(cfg, ids)
    }

    /// With a caller-provided id space (e.g. `IdSpace::with_seed` in tests).
    pub fn with_ids(cfg: TrackerConfig, ids: IdSpace) -> Self {
        Self { cfg, ids, tracks: Vec::new(), next_serial: 1, last_t: None, output: Vec::new() }
    }

    pub fn config(&self) -> &TrackerConfig {
        &self.cfg
    }

    /// Number of live tracks in any state (tentative, confirmed, coasting).
    pub fn live_tracks(&self) -> usize {
        self.tracks.len()
    }

    /// Serials of all live tracks, including ones coasting unseen.
    pub fn live_serials(&self) -> impl Iterator<Item = u64> + '_ {
        self.tracks.iter().map(|t| t.serial)
    }

    /// Rotation generation of the id space.
    pub fn id_generation(&self) -> u64 {
        self.ids.generation()
    }

    fn group(&self, class_id: u32) -> u64 {
        match self.cfg.class_groups.iter().position(|g| g.contains(&class_id)) {
            Some(i) => (1u64 << 32) | i as u64,
            None => class_id as u64,
        }
    }

    fn item(&self, t: &Internal) -> Item {
        Item { bbox: t.bbox(), group: self.group(t.class().0) }
    }

    /// Processes one frame at stream time `t` (seconds) and returns the confirmed tracks that
    /// were matched in this frame. A non-finite `t` is ignored (empty result, no state change).
    pub fn update(&mut self, t: f64, detections: &[Detection]) -> &[Track] {
        self.output.clear();
        if !t.is_finite() {
            return &self.output;
        }
        // Time that jumps backwards (source restart) is treated as no elapsed time.
        let dt = self.last_t.map_or(0.0, |l| (t - l).max(0.0));
        self.last_t = Some(t);
        if self.ids.maybe_rotate(t) {
            for tr in &mut self.tracks {
                tr.id = self.ids.next_id();
            }
        }
        for tr in &mut self.tracks {
            tr.kf.predict(dt);
        }

        let cfg = &self.cfg;
        let valid = |d: &&Detection| {
            d.bbox.is_finite() && d.score.is_finite() && d.bbox.width() >= cfg.min_box_px && d.bbox.height() >= cfg.min_box_px
        };
        let (mut high, mut low): (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
        for (i, d) in detections.iter().enumerate().filter(|(_, d)| valid(d)) {
            if d.score >= cfg.high_score {
                high.push(i);
            } else if d.score >= cfg.low_score {
                low.push(i);
            }
        }
        let det_items = |idx: &[usize], me: &Self| -> Vec<Item> {
            idx.iter().map(|&i| Item { bbox: detections[i].bbox, group: me.group(detections[i].class_id) }).collect()
        };

        // Stage 1: confirmed and lost tracks against high-score detections.
        let pool: Vec<usize> = (0..self.tracks.len()).filter(|&i| self.tracks[i].state != State::Tentative).collect();
        let pool_items: Vec<Item> = pool.iter().map(|&i| self.item(&self.tracks[i])).collect();
        let m1 = associate(&pool_items, &det_items(&high, self), self.cfg.match_iou_high);
        let mut matched_track = vec![false; self.tracks.len()];
        let mut used_high = vec![false; high.len()];
        let mut matches: Vec<(usize, usize)> = Vec::new(); // (track index, detection index)
        for (p, h) in m1 {
            matched_track[pool[p]] = true;
            used_high[h] = true;
            matches.push((pool[p], high[h]));
        }

        // Stage 2: still-unmatched tracks that were tracked last frame against low-score boxes.
        let rest: Vec<usize> = pool.iter().copied().filter(|&i| !matched_track[i] && self.tracks[i].state == State::Confirmed).collect();
        let rest_items: Vec<Item> = rest.iter().map(|&i| self.item(&self.tracks[i])).collect();
        for (r, l) in associate(&rest_items, &det_items(&low, self), self.cfg.match_iou_low) {
            matched_track[rest[r]] = true;
            matches.push((rest[r], low[l]));
        }

        // Stage 3: tentative tracks against the remaining high-score detections.
        let tent: Vec<usize> = (0..self.tracks.len()).filter(|&i| self.tracks[i].state == State::Tentative).collect();
        let free_high: Vec<usize> = (0..high.len()).filter(|&h| !used_high[h]).collect();
        let tent_items: Vec<Item> = tent.iter().map(|&i| self.item(&self.tracks[i])).collect();
        let free_items: Vec<Item> = free_high.iter().map(|&h| Item { bbox: detections[high[h]].bbox, group: self.group(detections[high[h]].class_id) }).collect();
        for (a, b) in associate(&tent_items, &free_items, self.cfg.match_iou_tentative) {
            matched_track[tent[a]] = true;
            used_high[free_high[b]] = true;
            matches.push((tent[a], high[free_high[b]]));
        }

        for (ti, di) in matches {
            let d = &detections[di];
            let tr = &mut self.tracks[ti];
            tr.kf.update(measurement(&d.bbox));
            tr.hits = tr.hits.saturating_add(1);
            tr.last_update = t;
            tr.score = d.score;
            tr.vote(d);
            if tr.state == State::Lost || (tr.state == State::Tentative && tr.hits >= self.cfg.min_hits) {
                tr.state = State::Confirmed;
            }
        }

        // Unmatched: tentative tracks die at once (ByteTrack), confirmed ones coast as lost.
        let max_age = self.cfg.max_age_s;
        let mut keep = Vec::with_capacity(self.tracks.len());
        for (i, mut tr) in std::mem::take(&mut self.tracks).into_iter().enumerate() {
            if !matched_track[i] {
                if tr.state == State::Tentative {
                    continue;
                }
                tr.state = State::Lost;
                if t - tr.last_update > max_age {
                    continue;
                }
            }
            keep.push(tr);
        }
        self.tracks = keep;

        // Births from confident leftovers.
        for (h, &di) in high.iter().enumerate() {
            if used_high[h] || self.tracks.len() >= self.cfg.max_tracks {
                continue;
            }
            let d = &detections[di];
            if d.score < self.cfg.new_track_score {
                continue;
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            let state = if self.cfg.min_hits <= 1 { State::Confirmed } else { State::Tentative };
            self.tracks.push(Internal {
                serial,
                id: self.ids.next_id(),
                state,
                kf: BoxFilter::new(measurement(&d.bbox), self.cfg.measurement_noise_rel, self.cfg.accel_noise_rel),
                born: t,
                last_update: t,
                hits: 1,
                score: d.score,
                votes: vec![(d.class_id, d.label.clone(), d.score)],
            });
        }

        for tr in &self.tracks {
            if tr.state == State::Confirmed && tr.last_update == t {
                let (class_id, label) = tr.class();
                let v = tr.kf.velocity();
                self.output.push(Track {
                    id: tr.id,
                    serial: tr.serial,
                    class_id,
                    label,
                    bbox: tr.bbox(),
                    score: tr.score,
                    age: t - tr.born,
                    hits: tr.hits,
                    time_since_update: 0.0,
                    velocity_px: [v[0] as f32, v[1] as f32],
                });
            }
        }
        &self.output
    }
}
