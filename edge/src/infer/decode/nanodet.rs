//! NanoDet (GFL head). Per stride s: grid gw×gh = ceil(W/s)×ceil(H/s), n = gw·gh cells (row-major);
//! scores `[1,n,C]` (sigmoid applied) and side distributions `[1,n,4·(reg_max+1)]`: softmax per side,
//! expectation × s = distances l,t,r,b from the cell centre ((col+0.5)s, (row+0.5)s).

use super::yolov8::best;
use super::{push, shape_str, Candidate, TensorView};
use crate::infer::detection::BBox;
use crate::infer::manifest::InputSpec;
use crate::infer::signature::TensorInfo;

#[derive(Debug, Clone)]
pub struct Level {
    pub stride: u32,
    pub grid_w: usize,
    pub grid_h: usize,
}

#[derive(Debug, Clone)]
pub struct Nanodet {
    pub levels: Vec<Level>,
    pub reg_max: usize,
    pub classes: usize,
}

impl Nanodet {
    /// Output order: scores then distributions of each level, levels in `strides` order.
    pub fn plan(
        strides: &[u32],
        reg_max: u32,
        input: &InputSpec,
        classes: usize,
        outputs: &[TensorInfo],
    ) -> Result<(Self, Vec<String>), String> {
        let bins = 4 * (reg_max as usize + 1);
        if bins == classes {
            return Err(format!("cannot tell scores from box distributions: both have {classes} values per cell"));
        }
        let mut used = vec![false; outputs.len()];
        let mut names = Vec::new();
        let mut levels = Vec::new();
        for &s in strides {
            let grid_w = (input.width as usize).div_ceil(s as usize);
            let grid_h = (input.height as usize).div_ceil(s as usize);
            let n = grid_w * grid_h;
            for (what, k) in [("scores", classes), ("box distributions", bins)] {
                let want = [Some(1), Some(n), Some(k)];
                let Some(i) = (0..outputs.len()).find(|&i| !used[i] && outputs[i].shape == want) else {
                    let list = outputs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
                    return Err(format!(
                        "nanodet stride {s} needs {what} [1,{n},{k}] ({grid_w}x{grid_h} cells for a {}x{} input, {classes} classes, reg_max {reg_max}); model outputs are {list}",
                        input.width, input.height
                    ));
                };
                used[i] = true;
                names.push(outputs[i].name.clone());
            }
            levels.push(Level { stride: s, grid_w, grid_h });
        }
        Ok((Self { levels, reg_max: reg_max as usize, classes }, names))
    }

    pub fn decode(&self, tensors: &[TensorView<'_>], min_score: f32, out: &mut Vec<Candidate>) -> Result<(), String> {
        let bins = self.reg_max + 1;
        for (level, pair) in self.levels.iter().zip(tensors.chunks_exact(2)) {
            let (scores, dists) = (pair[0], pair[1]);
            let n = level.grid_w * level.grid_h;
            if scores.shape != [1, n, self.classes] || dists.shape != [1, n, 4 * bins] {
                return Err(format!(
                    "stride {}: expected [1,{n},{}] and [1,{n},{}], got {} and {}",
                    level.stride,
                    self.classes,
                    4 * bins,
                    shape_str(scores.shape),
                    shape_str(dists.shape)
                ));
            }
            let s = level.stride as f32;
            for (cell, (sc, d)) in scores.data.chunks_exact(self.classes).zip(dists.data.chunks_exact(4 * bins)).enumerate() {
                let (class, score) = best(sc);
                if !(score >= min_score) {
                    continue;
                }
                let cx = ((cell % level.grid_w) as f32 + 0.5) * s;
                let cy = ((cell / level.grid_w) as f32 + 0.5) * s;
                let mut side = [0f32; 4];
                for (v, logits) in side.iter_mut().zip(d.chunks_exact(bins)) {
                    *v = expectation(logits) * s;
                }
                push(out, class, score, BBox::new(cx - side[0], cy - side[1], cx + side[2], cy + side[3]));
            }
        }
        Ok(())
    }
}

/// Σ i·softmax(logits)_i, numerically stable.
fn expectation(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let (mut sum, mut weighted) = (0f32, 0f32);
    for (i, &l) in logits.iter().enumerate() {
        let e = (l - max).exp();
        sum += e;
        weighted += e * i as f32;
    }
    weighted / sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::manifest::{ColourOrder, Layout, Resize};

    fn input(w: u32, h: u32) -> InputSpec {
        InputSpec {
            name: "in".into(),
            layout: Layout::Nchw,
            width: w,
            height: h,
            colour: ColourOrder::Bgr,
            resize: Resize::Stretch,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn expectation_of_one_hot_and_uniform() {
        assert!((expectation(&[0.0, 0.0, 50.0, 0.0]) - 2.0).abs() < 1e-4);
        assert!((expectation(&[1.0; 5]) - 2.0).abs() < 1e-5);
    }

    #[test]
    fn decodes_a_known_cell() {
        // 32x16 input, strides [8,16]: grids 4x2 (8 cells) and 2x1 (2 cells); reg_max 3 (4 bins), 2 classes.
        let outs = [
            TensorInfo::new("a", vec![Some(1), Some(8), Some(16)]),
            TensorInfo::new("b", vec![Some(1), Some(2), Some(2)]),
            TensorInfo::new("c", vec![Some(1), Some(8), Some(2)]),
            TensorInfo::new("d", vec![Some(1), Some(2), Some(16)]),
        ];
        let (d, names) = Nanodet::plan(&[8, 16], 3, &input(32, 16), 2, &outs).unwrap();
        assert_eq!(names, vec!["c", "a", "b", "d"]);
        // Stride 8, cell 6 = row 1, col 2: centre (20, 12). Distances l=1,t=2,r=3,b=0 bins (×8).
        let mut scores8 = vec![0.0f32; 16];
        scores8[6 * 2 + 1] = 0.9;
        let mut dists8 = vec![0.0f32; 8 * 16];
        for (side, bin) in [1usize, 2, 3, 0].iter().enumerate() {
            dists8[6 * 16 + side * 4 + bin] = 100.0;
        }
        let (scores16, dists16) = (vec![0.0f32; 4], vec![0.0f32; 32]);
        let (s1, s2, s3, s4) = ([1, 8, 2], [1, 8, 16], [1, 2, 2], [1, 2, 16]);
        let views = [
            TensorView::new(&s1, &scores8).unwrap(),
            TensorView::new(&s2, &dists8).unwrap(),
            TensorView::new(&s3, &scores16).unwrap(),
            TensorView::new(&s4, &dists16).unwrap(),
        ];
        let mut out = Vec::new();
        d.decode(&views, 0.5, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class, 1);
        let b = out[0].bbox;
        for (got, want) in [(b.x1, 12.0), (b.y1, -4.0), (b.x2, 44.0), (b.y2, 12.0)] {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
    }

    #[test]
    fn plan_names_the_missing_tensor() {
        let outs = [TensorInfo::new("a", vec![Some(1), Some(2704), Some(80)])];
        let err = Nanodet::plan(&[8], 10, &input(416, 416), 80, &outs).unwrap_err();
        assert!(err.contains("box distributions [1,2704,44]"), "{err}");
    }
}
