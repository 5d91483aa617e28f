//! MediaPipe BlazeFace (SSD-style single-class face detector).
//!
//! Anchors are laid out level by level; within a level cell by cell (row-major) and `per_cell` anchors per
//! cell, each centred at ((col+0.5)/grid, (row+0.5)/grid) of the input, with a fixed unit size (MediaPipe's
//! `fixed_anchor_size`). Per anchor the model gives one score logit and a regressor row whose first four
//! values are dx, dy, w, h in input pixels (dx, dy from the anchor centre); the rest are six keypoints,
//! unused here. The model's outputs come either concatenated over levels (`[1,N,1]` + `[1,N,K]`, e.g.
//! full_range_192) or one pair per level (`[1,n_l,1]` + `[1,n_l,K]`, e.g. back_256); both are found by shape,
//! so a manifest only states the anchor grid.

use super::{push, shape_str, Candidate, TensorView};
use crate::infer::detection::BBox;
use crate::infer::manifest::{AnchorLevel, InputSpec};
use crate::infer::signature::TensorInfo;

/// MediaPipe clips logits to ±100 before the sigmoid; beyond that the score is 0 or 1 anyway.
const LOGIT_CLIP: f32 = 100.0;

/// Anchor centres of all levels in output order, in input pixels.
#[derive(Debug, Clone)]
pub struct Blazeface {
    centres: Vec<(f32, f32)>,
    /// Anchors per output pair: one entry (all anchors) or one per level.
    chunks: Vec<usize>,
    /// Values per regressor row (≥ 4).
    row: usize,
}

impl Blazeface {
    /// Output order: scores then regressors of each chunk (one chunk for concatenated outputs, else one per
    /// level in manifest order). Exactly one class is expected.
    pub fn plan(
        levels: &[AnchorLevel],
        input: &InputSpec,
        classes: usize,
        outputs: &[TensorInfo],
    ) -> Result<(Self, Vec<String>), String> {
        if classes != 1 {
            return Err(format!("blazeface detects one class (face), the manifest lists {classes}"));
        }
        let centres = anchor_centres(levels, input.width, input.height);
        let per_level: Vec<usize> = levels.iter().map(|l| l.grid as usize * l.grid as usize * l.per_cell as usize).collect();
        let total = centres.len();
        let list = || outputs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");

        // Concatenated outputs first: that is one pair, unambiguous.
        let mut tried = Vec::new();
        for chunks in [vec![total], per_level.clone()] {
            if tried.contains(&chunks) {
                continue;
            }
            if let Some((names, row)) = pick_pairs(&chunks, outputs) {
                return Ok((Self { centres, chunks, row }, names));
            }
            tried.push(chunks);
        }
        let wanted = per_level.iter().map(|n| format!("[1,{n},1] + [1,{n},K≥4]")).collect::<Vec<_>>().join(", ");
        Err(format!(
            "blazeface anchors need scores and regressors [1,{total},1] + [1,{total},K≥4] (all levels) or per level {wanted}; model outputs are {}",
            list()
        ))
    }

    pub fn decode(&self, tensors: &[TensorView<'_>], min_score: f32, out: &mut Vec<Candidate>) -> Result<(), String> {
        let mut anchor = 0usize;
        for (&n, pair) in self.chunks.iter().zip(tensors.chunks_exact(2)) {
            let (scores, boxes) = (pair[0], pair[1]);
            if scores.shape != [1, n, 1] || boxes.shape != [1, n, self.row] {
                return Err(format!(
                    "expected [1,{n},1] and [1,{n},{}], got {} and {}",
                    self.row,
                    shape_str(scores.shape),
                    shape_str(boxes.shape)
                ));
            }
            for (i, (&logit, r)) in scores.data.iter().zip(boxes.data.chunks_exact(self.row)).enumerate() {
                let score = sigmoid(logit);
                if score.is_nan() || score < min_score {
                    continue;
                }
                let Some(&(ax, ay)) = self.centres.get(anchor + i) else {
                    return Err("more regressor rows than anchors".into());
                };
                let (cx, cy) = (ax + r[0], ay + r[1]);
                let (hw, hh) = (r[2] * 0.5, r[3] * 0.5);
                push(out, 0, score, BBox::new(cx - hw, cy - hh, cx + hw, cy + hh));
            }
            anchor += n;
        }
        Ok(())
    }
}

/// For each chunk size n, an unused `[1,n,1]` and an unused `[1,n,K]` (K ≥ 4, the same K for all chunks).
fn pick_pairs(chunks: &[usize], outputs: &[TensorInfo]) -> Option<(Vec<String>, usize)> {
    let mut used = vec![false; outputs.len()];
    let mut names = Vec::new();
    let mut row = None;
    for &n in chunks {
        let s = (0..outputs.len()).find(|&i| !used[i] && outputs[i].shape == [Some(1), Some(n), Some(1)])?;
        used[s] = true;
        let b = (0..outputs.len()).find(|&i| {
            !used[i]
                && matches!(outputs[i].shape.as_slice(), [Some(1), Some(m), Some(k)] if *m == n && *k >= 4 && row.is_none_or(|r| r == *k))
        })?;
        used[b] = true;
        row = outputs[b].shape.get(2).copied().flatten();
        names.push(outputs[s].name.clone());
        names.push(outputs[b].name.clone());
    }
    Some((names, row?))
}

/// Anchor centres in input pixels, in the model's output order.
pub fn anchor_centres(levels: &[AnchorLevel], width: u32, height: u32) -> Vec<(f32, f32)> {
    let mut centres = Vec::new();
    for l in levels {
        let g = l.grid as f32;
        for row in 0..l.grid {
            for col in 0..l.grid {
                let c = ((col as f32 + 0.5) / g * width as f32, (row as f32 + 0.5) / g * height as f32);
                centres.extend(std::iter::repeat_n(c, l.per_cell as usize));
            }
        }
    }
    centres
}

fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit.clamp(-LOGIT_CLIP, LOGIT_CLIP)).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::manifest::{ColourOrder, Layout, Resize};

    fn input(side: u32) -> InputSpec {
        InputSpec {
            name: "input".into(),
            layout: Layout::Nhwc,
            width: side,
            height: side,
            colour: ColourOrder::Rgb,
            resize: Resize::Stretch,
            scale: 1.0 / 127.5,
            mean: [1.0; 3],
            std: [1.0; 3],
        }
    }

    fn level(grid: u32, per_cell: u32) -> AnchorLevel {
        AnchorLevel { grid, per_cell }
    }

    fn info(name: &str, n: usize, k: usize) -> TensorInfo {
        TensorInfo::new(name, vec![Some(1), Some(n), Some(k)])
    }

    #[test]
    fn anchors_are_row_major_cells_with_consecutive_per_cell_copies() {
        let c = anchor_centres(&[level(2, 2), level(1, 3)], 64, 64);
        assert_eq!(c.len(), 2 * 2 * 2 + 3);
        assert_eq!(&c[..4], &[(16.0, 16.0), (16.0, 16.0), (48.0, 16.0), (48.0, 16.0)]);
        assert_eq!(c[4], (16.0, 48.0));
        assert_eq!(&c[8..], &[(32.0, 32.0); 3]);
    }

    #[test]
    fn per_level_outputs_decode_with_the_right_anchor() {
        // Like back_256 scaled down: 32-px input, levels 4x4x2 (32 anchors) and 2x2x6 (24 anchors).
        let levels = [level(4, 2), level(2, 6)];
        let outs = [info("box_a", 32, 16), info("sc_b", 24, 1), info("sc_a", 32, 1), info("box_b", 24, 16)];
        let (d, names) = Blazeface::plan(&levels, &input(32), 1, &outs).unwrap();
        assert_eq!(names, vec!["sc_a", "box_a", "sc_b", "box_b"]);

        let (mut sa, mut ba, mut sb, mut bb) = (vec![-10.0f32; 32], vec![0.0f32; 32 * 16], vec![-10.0f32; 24], vec![0.0f32; 24 * 16]);
        // Level 0, cell row 1 col 2 (centre (20, 12)), second anchor: index (1*4+2)*2+1 = 13.
        sa[13] = 2.0;
        ba[13 * 16..13 * 16 + 4].copy_from_slice(&[1.0, -2.0, 8.0, 6.0]);
        // Level 1, cell row 1 col 0 (centre (8, 24)), anchor 5: index (1*2+0)*6+5 = 17; logit 0 = score 0.5.
        sb[17] = 0.0;
        bb[17 * 16..17 * 16 + 4].copy_from_slice(&[0.0, 0.0, 4.0, 4.0]);
        let (s1, s2, s3, s4) = ([1, 32, 1], [1, 32, 16], [1, 24, 1], [1, 24, 16]);
        let views = [
            TensorView::new(&s1, &sa).unwrap(),
            TensorView::new(&s2, &ba).unwrap(),
            TensorView::new(&s3, &sb).unwrap(),
            TensorView::new(&s4, &bb).unwrap(),
        ];
        let mut out = Vec::new();
        d.decode(&views, 0.4, &mut out).unwrap();
        assert_eq!(out.len(), 2, "{out:?}");
        let want = [(sigmoid(2.0), BBox::new(17.0, 7.0, 25.0, 13.0)), (0.5, BBox::new(6.0, 22.0, 10.0, 26.0))];
        for (c, (score, b)) in out.iter().zip(want) {
            assert_eq!(c.class, 0);
            assert!((c.score - score).abs() < 1e-6, "{c:?}");
            assert_eq!(c.bbox, b);
        }
        // Raising the threshold drops the 0.5 one; logits far beyond the clip stay finite.
        out.clear();
        sa[0] = 1e30;
        let views = [
            TensorView::new(&s1, &sa).unwrap(),
            TensorView::new(&s2, &ba).unwrap(),
            TensorView::new(&s3, &sb).unwrap(),
            TensorView::new(&s4, &bb).unwrap(),
        ];
        d.decode(&views, 0.6, &mut out).unwrap();
        // Anchor 0 has a zero-size box: not usable, dropped.
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn concatenated_outputs_like_full_range() {
        let levels = [level(3, 1)];
        let outs = [info("reg", 9, 16), info("cls", 9, 1)];
        let (d, names) = Blazeface::plan(&levels, &input(30), 1, &outs).unwrap();
        assert_eq!(names, vec!["cls", "reg"]);
        let mut scores = vec![-5.0f32; 9];
        let mut regs = vec![0.0f32; 9 * 16];
        scores[8] = 5.0; // cell row 2 col 2: centre (25, 25)
        regs[8 * 16..8 * 16 + 4].copy_from_slice(&[-1.0, 1.0, 10.0, 4.0]);
        let (s1, s2) = ([1, 9, 1], [1, 9, 16]);
        let views = [TensorView::new(&s1, &scores).unwrap(), TensorView::new(&s2, &regs).unwrap()];
        let mut out = Vec::new();
        d.decode(&views, 0.5, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].bbox, BBox::new(19.0, 24.0, 29.0, 28.0));
        // Wrong run-time shape is an error, not a panic.
        let bad = [1, 8, 1];
        let views = [TensorView::new(&bad, &scores[..8]).unwrap(), TensorView::new(&s2, &regs).unwrap()];
        assert!(d.decode(&views, 0.5, &mut out).is_err());
    }

    #[test]
    fn plan_explains_a_mismatch() {
        let err = Blazeface::plan(&[level(16, 2), level(8, 6)], &input(256), 1, &[info("x", 896, 1)]).unwrap_err();
        assert!(err.contains("[1,896,1] + [1,896,K≥4]") && err.contains("[1,512,1]"), "{err}");
        assert!(Blazeface::plan(&[level(16, 2)], &input(256), 2, &[]).unwrap_err().contains("one class"));
    }
}
