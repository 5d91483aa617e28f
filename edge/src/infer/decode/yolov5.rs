//! Ultralytics YOLOv5 heads: `[1,N,5+C]`, rows cx,cy,w,h,objectness then C class probabilities;
//! score = objectness × best class probability.

use super::yolov8::{best, centre_box};
use super::{dim_may_be, pick_one, push, shape_str, Candidate, TensorView};
use crate::infer::signature::TensorInfo;

#[derive(Debug, Clone)]
pub struct Yolov5 {
    pub classes: usize,
}

impl Yolov5 {
    pub fn plan(tensor: Option<&str>, classes: usize, outputs: &[TensorInfo]) -> Result<(Self, String), String> {
        let k = 5 + classes;
        let fits = |o: &TensorInfo| matches!(o.shape.as_slice(), [b, _, y] if dim_may_be(*b, 1) && dim_may_be(*y, k));
        let expectation = format!("[1,N,{k}] (4 box values + objectness + {classes} classes from the manifest)");
        let o = pick_one("yolov5", tensor, outputs, fits, &expectation)?;
        Ok((Self { classes }, o.name.clone()))
    }

    pub fn decode(&self, t: TensorView<'_>, min_score: f32, out: &mut Vec<Candidate>) -> Result<(), String> {
        let k = 5 + self.classes;
        if !matches!(*t.shape, [1, _, y] if y == k) {
            return Err(format!("expected [1,N,{k}] for {} classes, got {}", self.classes, shape_str(t.shape)));
        }
        for r in t.data.chunks_exact(k) {
            let obj = r[4];
            // Class probabilities are <= 1, so a low objectness cannot reach the threshold.
            if !(obj >= min_score) {
                continue;
            }
            let (class, p) = best(&r[5..]);
            let score = obj * p;
            if score >= min_score {
                push(out, class, score, centre_box(r[0], r[1], r[2], r[3]));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::detection::BBox;

    #[test]
    fn score_is_objectness_times_class() {
        #[rustfmt::skip]
        let data = [
            50.0, 60.0, 20.0, 10.0, 0.9, 0.1, 0.8,  // 0.72 class 1
            10.0, 10.0, 4.0, 4.0, 0.9, 0.5, 0.4,    // 0.45 < 0.5
            10.0, 10.0, 4.0, 4.0, 0.3, 1.0, 1.0,    // objectness too low
        ];
        let mut out = Vec::new();
        Yolov5 { classes: 2 }.decode(TensorView::new(&[1, 3, 7], &data).unwrap(), 0.5, &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].class, 1);
        assert!((out[0].score - 0.72).abs() < 1e-6);
        assert_eq!(out[0].bbox, BBox::new(40.0, 55.0, 60.0, 65.0));
    }

    #[test]
    fn plan_checks_class_count() {
        let outputs = [TensorInfo::new("output0", vec![Some(1), Some(25200), Some(85)])];
        assert!(Yolov5::plan(None, 80, &outputs).is_ok());
        let err = Yolov5::plan(None, 3, &outputs).unwrap_err();
        assert!(err.contains("[1,N,8]"), "{err}");
    }
}
