//! Deciding which frames need the model.
//!
//! Inference is the expensive stage. A fixed street camera sees long stretches where little changes, and
//! objects move a few pixels per frame at 10-30 fps, so re-running the model on every frame buys little.
//! The gate compares a small grey thumbnail of each frame with the one of the last *inferred* frame:
//! when the change is small, the previous detections are reused; `max_skip` bounds how stale they get.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::source::FrameView;

/// `[cameras.<id>.detect]`.
#[derive(Debug, Clone, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DetectConfig {
    /// Minimum score; default: the model manifest's threshold.
    #[serde(default)]
    #[schemars(with = "Option<f32>")]
    pub min_score: Option<toml::Spanned<f32>>,
    /// Keep only these classes (labels of the manifest); empty keeps all.
    #[serde(default)]
    pub classes: Vec<String>,
    #[serde(default)]
    pub gate: GateConfig,
}

/// Which frames run the model.
#[derive(Debug, Clone, Deserialize, JsonSchema, PartialEq)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum GateConfig {
    /// Run the model on every frame.
    EveryFrame,
    /// Skip frames that differ little from the last inferred one.
    Change {
        /// Fraction of thumbnail pixels whose grey level changed by more than `pixel_delta` above which
        /// the frame is inferred (0.0-1.0).
        #[serde(default = "default_changed_fraction")]
        changed_fraction: f32,
        /// Grey-level difference (0-255) that counts as a changed pixel; above sensor noise.
        #[serde(default = "default_pixel_delta")]
        pixel_delta: u8,
        /// Infer at least every `max_skip + 1` frames whatever the change.
        #[serde(default = "default_max_skip")]
        max_skip: u32,
    },
}

/// Measured on the sample street video: consecutive frames at 10 fps differ in 0.9 % (10th percentile) to
/// 3.3 % (99th) of thumbnail pixels while people walk, so the threshold sits above that per-frame noise and
/// change accumulates against the last inferred frame until it is crossed.
fn default_changed_fraction() -> f32 {
    0.03
}
fn default_pixel_delta() -> u8 {
    18
}
fn default_max_skip() -> u32 {
    2
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig::EveryFrame
    }
}

const THUMB_W: usize = 64;
const THUMB_H: usize = 48;

/// Per-camera gate state.
#[derive(Debug)]
pub struct Gate {
    cfg: GateConfig,
    reference: Option<Vec<u8>>,
    skipped: u32,
    thumb: Vec<u8>,
}

impl Gate {
    pub fn new(cfg: GateConfig) -> Self {
        Self { cfg, reference: None, skipped: 0, thumb: vec![0; THUMB_W * THUMB_H] }
    }

    /// True when the model should run on this frame.
    pub fn should_infer(&mut self, frame: FrameView<'_>) -> bool {
        let GateConfig::Change { changed_fraction, pixel_delta, max_skip } = self.cfg else {
            return true;
        };
        thumbnail(frame, &mut self.thumb);
        let infer = match &self.reference {
            None => true,
            Some(_) if self.skipped >= max_skip => true,
            Some(r) => {
                let changed = r.iter().zip(&self.thumb).filter(|(a, b)| a.abs_diff(**b) > pixel_delta).count();
                changed as f32 / self.thumb.len() as f32 > changed_fraction
            }
        };
        if infer {
            self.skipped = 0;
            match &mut self.reference {
                Some(r) => r.copy_from_slice(&self.thumb),
                None => self.reference = Some(self.thumb.clone()),
            }
        } else {
            self.skipped += 1;
        }
        infer
    }
}

/// Nearest-neighbour grey thumbnail: a few thousand pixel reads, negligible next to inference.
fn thumbnail(frame: FrameView<'_>, out: &mut [u8]) {
    let (w, h) = (frame.width as usize, frame.height as usize);
    for ty in 0..THUMB_H {
        let y = (ty * h + h / 2) / THUMB_H;
        let row = frame.row(y.min(h - 1) as u32);
        for tx in 0..THUMB_W {
            let x = ((tx * w + w / 2) / THUMB_W).min(w - 1);
            let p = &row[x * 3..x * 3 + 3];
            // ITU-R BT.601 luma in integer arithmetic.
            out[ty * THUMB_W + tx] = ((77 * p[0] as u32 + 150 * p[1] as u32 + 29 * p[2] as u32) >> 8) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(w: u32, h: u32, f: impl Fn(u32, u32) -> u8) -> Vec<u8> {
        let mut v = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let g = f(x, y);
                v.extend_from_slice(&[g, g, g]);
            }
        }
        v
    }

    #[test]
    fn static_scene_is_skipped_up_to_max_skip() {
        let mut g = Gate::new(GateConfig::Change { changed_fraction: 0.01, pixel_delta: 18, max_skip: 2 });
        let a = img(320, 240, |x, _| (x % 256) as u8);
        let v = FrameView::new(320, 240, 960, &a).unwrap();
        let decisions: Vec<bool> = (0..7).map(|_| g.should_infer(v)).collect();
        assert_eq!(decisions, vec![true, false, false, true, false, false, true]);
    }

    #[test]
    fn change_triggers_inference() {
        let mut g = Gate::new(GateConfig::Change { changed_fraction: 0.01, pixel_delta: 18, max_skip: 100 });
        let a = img(320, 240, |_, _| 100);
        let b = img(320, 240, |x, y| if x < 80 && y < 60 { 200 } else { 100 });
        assert!(g.should_infer(FrameView::new(320, 240, 960, &a).unwrap()));
        assert!(!g.should_infer(FrameView::new(320, 240, 960, &a).unwrap()));
        assert!(g.should_infer(FrameView::new(320, 240, 960, &b).unwrap()));
    }

    #[test]
    fn every_frame_always_infers() {
        let mut g = Gate::new(GateConfig::EveryFrame);
        let a = img(8, 8, |_, _| 0);
        assert!((0..5).all(|_| g.should_infer(FrameView::new(8, 8, 24, &a).unwrap())));
    }
}
