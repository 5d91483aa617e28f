//! Greedy class-wise non-maximum suppression.

use super::decode::Candidate;

/// Keeps the best-scoring box of each overlapping same-class group: a box is dropped when it overlaps a
/// kept box of the same class with IoU > `iou`. Returns at most `limit` boxes, best first.
pub fn nms(mut boxes: Vec<Candidate>, iou: f32, limit: usize) -> Vec<Candidate> {
    // total_cmp: NaN scores cannot reach here (decoders drop them), but must not panic either.
    boxes.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Candidate> = Vec::with_capacity(limit.min(boxes.len()));
    for c in boxes {
        if kept.len() >= limit {
            break;
        }
        if kept.iter().all(|k| k.class != c.class || k.bbox.iou(&c.bbox) <= iou) {
            kept.push(c);
        }
    }
    kept
}

/// Keeps only the `n` best candidates (unordered) so NMS stays cheap when a low threshold lets
/// thousands of raw boxes through.
pub fn top_n(mut boxes: Vec<Candidate>, n: usize) -> Vec<Candidate> {
    if boxes.len() > n && n > 0 {
        boxes.select_nth_unstable_by(n - 1, |a, b| b.score.total_cmp(&a.score));
        boxes.truncate(n);
    } else if n == 0 {
        boxes.clear();
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::BBox;

    fn c(class: u32, score: f32, x: f32) -> Candidate {
        Candidate { class, score, bbox: BBox::new(x, 0.0, x + 10.0, 10.0) }
    }

    #[test]
    fn suppresses_overlaps_of_the_same_class_only() {
        let out = nms(vec![c(0, 0.5, 1.0), c(0, 0.9, 0.0), c(1, 0.8, 0.0), c(0, 0.7, 50.0)], 0.5, 10);
        let got: Vec<(u32, f32)> = out.iter().map(|d| (d.class, d.score)).collect();
        assert_eq!(got, vec![(0, 0.9), (1, 0.8), (0, 0.7)]);
    }

    #[test]
    fn iou_at_threshold_is_kept_and_limit_applies() {
        // Boxes x 0..10 and 5..15: IoU = 50/150 = 1/3.
        let out = nms(vec![c(0, 0.9, 0.0), c(0, 0.8, 5.0)], 1.0 / 3.0 + 1e-6, 10);
        assert_eq!(out.len(), 2);
        let out = nms(vec![c(0, 0.9, 0.0), c(0, 0.8, 5.0)], 0.3, 10);
        assert_eq!(out.len(), 1);
        let out = nms((0..10).map(|i| c(i, 0.5, 0.0)).collect(), 0.5, 3);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn top_n_keeps_the_best() {
        let mut out = top_n((0..100).map(|i| c(0, i as f32 / 100.0, 0.0)).collect(), 3);
        out.sort_by(|a, b| b.score.total_cmp(&a.score));
        assert_eq!(out.iter().map(|d| d.score).collect::<Vec<_>>(), vec![0.99, 0.98, 0.97]);
    }
}
