//! Ultralytics YOLOv8/YOLO11 heads: `[1,4+C,N]` (or transposed `[1,N,4+C]`), rows cx,cy,w,h in input
//! pixels then C class scores (already sigmoid), no objectness.

use super::{dim_may_be, pick_one, push, shape_str, Candidate, TensorView};
use crate::infer::detection::BBox;
use crate::infer::signature::TensorInfo;

#[derive(Debug, Clone)]
pub struct Yolov8 {
    pub classes: usize,
}

impl Yolov8 {
    pub fn plan(tensor: Option<&str>, classes: usize, outputs: &[TensorInfo]) -> Result<(Self, String), String> {
        let k = 4 + classes;
        let fits = |o: &TensorInfo| match o.shape.as_slice() {
            [b, x, y] => dim_may_be(*b, 1) && (dim_may_be(*x, k) || dim_may_be(*y, k)),
            _ => false,
        };
        let expectation = format!("[1,{k},N] or [1,N,{k}] (4 box values + {classes} classes from the manifest)");
        let o = pick_one("yolov8", tensor, outputs, fits, &expectation)?;
        Ok((Self { classes }, o.name.clone()))
    }

    pub fn decode(&self, t: TensorView<'_>, min_score: f32, out: &mut Vec<Candidate>) -> Result<(), String> {
        let k = 4 + self.classes;
        match *t.shape {
            // Channels first is what Ultralytics exports; it wins when both dimensions equal 4+C.
            [1, x, n] if x == k => self.decode_channels_first(t.data, n, min_score, out),
            [1, n, y] if y == k => {
                for r in t.data.chunks_exact(k) {
                    let (class, score) = best(&r[4..]);
                    if score >= min_score {
                        push(out, class, score, centre_box(r[0], r[1], r[2], r[3]));
                    }
                }
                let _ = n;
            }
            _ => return Err(format!("expected [1,{k},N] or [1,N,{k}] for {} classes, got {}", self.classes, shape_str(t.shape))),
        }
        Ok(())
    }

    /// Columns are anchors: scan class rows contiguously (cache friendly) keeping each anchor's best.
    fn decode_channels_first(&self, data: &[f32], n: usize, min_score: f32, out: &mut Vec<Candidate>) {
        let mut best_score = vec![f32::NEG_INFINITY; n];
        let mut best_class = vec![0u32; n];
        for c in 0..self.classes {
            let row = &data[(4 + c) * n..(5 + c) * n];
            for ((s, bc), &v) in best_score.iter_mut().zip(best_class.iter_mut()).zip(row) {
                if v > *s {
                    *s = v;
                    *bc = c as u32;
                }
            }
        }
        for i in 0..n {
            if best_score[i] >= min_score {
                let b = centre_box(data[i], data[n + i], data[2 * n + i], data[3 * n + i]);
                push(out, best_class[i], best_score[i], b);
            }
        }
    }
}

/// Index and value of the highest score (NaN never wins).
pub(super) fn best(scores: &[f32]) -> (u32, f32) {
    let mut b = (0u32, f32::NEG_INFINITY);
    for (i, &s) in scores.iter().enumerate() {
        if s > b.1 {
            b = (i as u32, s);
        }
    }
    b
}

pub(super) fn centre_box(cx: f32, cy: f32, w: f32, h: f32) -> BBox {
    BBox::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_first_and_transposed_agree() {
        // 3 anchors, 2 classes: anchor 1 is class 1 at 0.8 around (50,60) 20x10.
        #[rustfmt::skip]
        let cf = [
            0.0, 50.0, 9.0,   // cx
            0.0, 60.0, 9.0,   // cy
            4.0, 20.0, 2.0,   // w
            4.0, 10.0, 2.0,   // h
            0.1, 0.3, 0.2,    // class 0
            0.2, 0.8, 0.1,    // class 1
        ];
        let d = Yolov8 { classes: 2 };
        let mut a = Vec::new();
        d.decode(TensorView::new(&[1, 6, 3], &cf).unwrap(), 0.5, &mut a).unwrap();
        assert_eq!(a, vec![Candidate { class: 1, score: 0.8, bbox: BBox::new(40.0, 55.0, 60.0, 65.0) }]);
        let tr: Vec<f32> = (0..3).flat_map(|i| (0..6).map(move |c| cf[c * 3 + i])).collect();
        let mut b = Vec::new();
        d.decode(TensorView::new(&[1, 3, 6], &tr).unwrap(), 0.5, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn class_count_mismatch_is_explained() {
        let outputs = [TensorInfo::new("output0", vec![Some(1), Some(85), Some(8400)])];
        let err = Yolov8::plan(None, 80, &outputs).unwrap_err();
        assert!(err.contains("[1,84,N]") && err.contains("\"output0\" [1,85,8400]"), "{err}");
        assert!(Yolov8::plan(None, 81, &outputs).is_ok());
        let d = Yolov8 { classes: 80 };
        assert!(d.decode(TensorView::new(&[1, 85, 1], &[0.0; 85]).unwrap(), 0.5, &mut Vec::new()).is_err());
    }
}
