//! The CRDDC'2022 score: F1 with IoU > 0.5.
//!
//! Source: the Crowdsensing-based Road Damage Detection Challenge 2022 that published RDD2022 (Arya et
//! al., "RDD2022: A multi-national image dataset for automatic Road Damage Detection", arXiv:2209.08538;
//! the challenge summary, arXiv:2211.11362; the rules of its predecessors at rdd2020.sekilab.global):
//! only D00, D10, D20 and D40 count; a submission lists at most 5 boxes per image ("we will only take
//! the first 5 into consideration"); a box is correct when the label matches and its IoU with the ground
//! truth passes 0.5; the ranking is the F1-score over the whole test set. Precisely, as computed here:
//!
//! 1. Per image, predictions and ground truth of labels outside the evaluated list (default D00, D10,
//!    D20, D40; RDD2022 also has D43, D44, D50, Repair…) are dropped, as are predictions with a
//!    non-finite score or box.
//! 2. The remaining predictions are sorted by score (highest first; ties keep the model's order) and only
//!    the first 5 are kept: what a submission written in score order would hold.
//! 3. Greedy matching in that order: a prediction is a true positive if some ground-truth box of the same
//!    label not yet matched has IoU strictly greater than 0.5 with it (the one with the highest IoU is
//!    taken); otherwise it is a false positive. Each ground-truth box matches at most once, so duplicates
//!    are false positives. Unmatched ground-truth boxes are false negatives. (The 2020 rules word it "IoU
//!    0.5 or more"; the two differ only for an IoU of exactly 0.5, which real detections almost never
//!    hit; this tool is strict, `> 0.5`, and says so in its report.)
//! 4. Counts are summed over all images (micro average): P = TP/(TP+FP), R = TP/(TP+FN),
//!    F1 = 2PR/(P+R) = 2TP/(2TP+FP+FN). Per-label figures use the same counts restricted to one label.
//!    A ratio with a zero denominator is undefined (`None`), not 0 or 1.

use serde::Serialize;

use super::{GtBox, Pred};

/// The CRDDC'2022 labels: longitudinal crack, transverse crack, alligator crack, pothole.
pub const CRDDC_LABELS: [&str; 4] = ["D00", "D10", "D20", "D40"];

/// What is scored and how; [`ScoreOptions::default`] is the CRDDC'2022 metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreOptions {
    /// Labels under evaluation, in report order.
    pub labels: Vec<String>,
    /// Predictions kept per image (highest scores).
    pub max_predictions_per_image: usize,
    /// A match needs IoU strictly greater than this.
    pub iou_threshold: f64,
}

impl Default for ScoreOptions {
    fn default() -> Self {
        Self { labels: CRDDC_LABELS.iter().map(|s| s.to_string()).collect(), max_predictions_per_image: 5, iou_threshold: 0.5 }
    }
}

/// True positives, false positives and false negatives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Counts {
    pub tp: u64,
    pub fp: u64,
    #[serde(rename = "fn")]
    pub fn_: u64,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    /// Ground-truth boxes (matched or not).
    pub fn gt(&self) -> u64 {
        self.tp + self.fn_
    }

    /// Predictions scored (after truncation).
    pub fn predictions(&self) -> u64 {
        self.tp + self.fp
    }

    pub fn precision(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> Option<f64> {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> Option<f64> {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Accumulates counts image by image.
#[derive(Debug, Clone)]
pub struct Scorer {
    options: ScoreOptions,
    /// Per label of `options.labels`.
    counts: Vec<Counts>,
    /// Predictions dropped by the per-image limit.
    truncated: u64,
    /// Predictions and ground-truth boxes of labels not under evaluation.
    ignored_predictions: u64,
    ignored_gt: u64,
}

impl Scorer {
    pub fn new(options: ScoreOptions) -> Self {
        let counts = vec![Counts::default(); options.labels.len()];
        Self { options, counts, truncated: 0, ignored_predictions: 0, ignored_gt: 0 }
    }

    pub fn options(&self) -> &ScoreOptions {
        &self.options
    }

    /// Scores one image; returns that image's counts (all labels together).
    pub fn add_image(&mut self, preds: &[Pred], gt: &[GtBox]) -> Counts {
        let label_index = |l: &str| self.options.labels.iter().position(|x| x == l);
        let mut p: Vec<(usize, &Pred)> = preds
            .iter()
            .filter_map(|p| label_index(&p.label).map(|i| (i, p)))
            .filter(|(_, p)| p.score.is_finite() && p.bbox.is_finite())
            .collect();
        let g: Vec<(usize, &GtBox)> = gt.iter().filter_map(|g| label_index(&g.label).map(|i| (i, g))).collect();
        self.ignored_predictions += (preds.len() - p.len()) as u64;
        self.ignored_gt += (gt.len() - g.len()) as u64;
        // Stable: equal scores keep the model's order.
        p.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
        if p.len() > self.options.max_predictions_per_image {
            self.truncated += (p.len() - self.options.max_predictions_per_image) as u64;
            p.truncate(self.options.max_predictions_per_image);
        }
        let mut matched = vec![false; g.len()];
        let mut image = Counts::default();
        for (label, pred) in p {
            let best = g
                .iter()
                .enumerate()
                .filter(|(j, (gl, _))| *gl == label && !matched[*j])
                .map(|(j, (_, gt))| (j, pred.bbox.iou(&gt.bbox)))
                .filter(|&(_, iou)| iou > self.options.iou_threshold)
                .max_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((j, _)) = best {
                matched[j] = true;
                self.counts[label].tp += 1;
                image.tp += 1;
            } else {
                self.counts[label].fp += 1;
                image.fp += 1;
            }
        }
        for (j, (label, _)) in g.iter().enumerate() {
            if !matched[j] {
                self.counts[*label].fn_ += 1;
                image.fn_ += 1;
            }
        }
        image
    }

    /// Counts per label, in `options.labels` order.
    pub fn per_label(&self) -> impl Iterator<Item = (&str, Counts)> + '_ {
        self.options.labels.iter().map(String::as_str).zip(self.counts.iter().copied())
    }

    /// All labels together (micro average).
    pub fn overall(&self) -> Counts {
        let mut c = Counts::default();
        for x in &self.counts {
            c.add(*x);
        }
        c
    }

    pub fn truncated(&self) -> u64 {
        self.truncated
    }

    pub fn ignored_predictions(&self) -> u64 {
        self.ignored_predictions
    }

    pub fn ignored_gt(&self) -> u64 {
        self.ignored_gt
    }
}
