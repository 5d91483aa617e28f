//! The result of an evaluation: serialisable (`--json`, for CI and dashboards) and printable as a table
//! (for people).

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::score::{Counts, ScoreOptions, Scorer};
use super::Dataset;

/// Figures for one label, or for all labels together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassReport {
    pub label: String,
    #[serde(flatten)]
    pub counts: Counts,
    /// Ground-truth boxes of this label (TP + FN).
    pub gt: u64,
    /// None when undefined (no predictions, no ground truth, neither).
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

impl ClassReport {
    pub fn new(label: &str, counts: Counts) -> Self {
        ClassReport {
            label: label.to_string(),
            counts,
            gt: counts.gt(),
            precision: counts.precision(),
            recall: counts.recall(),
            f1: counts.f1(),
        }
    }
}

/// A whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// "crddc2022-f1": the metric, so stored reports say what they measured.
    pub metric: &'static str,
    /// The model (`Detector::model_id`), filled in by the caller that knows it.
    pub model: Option<String>,
    /// The backend that ran it, e.g. "tract/cpu".
    pub backend: Option<String>,
    pub dataset: String,
    pub format: &'static str,
    pub images: usize,
    /// Images with at least one ground-truth box (any label).
    pub images_with_gt: usize,
    pub options: ScoreOptions,
    /// All evaluated labels together (micro average): the CRDDC score is `overall.f1`.
    pub overall: ClassReport,
    pub classes: Vec<ClassReport>,
    /// Predictions beyond the per-image limit, not scored.
    pub truncated_predictions: u64,
    /// Predictions and ground-truth boxes of labels not under evaluation.
    pub ignored_predictions: u64,
    pub ignored_gt: u64,
    /// Wall time of the whole run (reading images and inference included).
    pub elapsed_s: f64,
    pub images_per_s: f64,
}

impl Report {
    pub(crate) fn new(dataset: &Dataset, scorer: Scorer, images_with_gt: usize, elapsed: Duration) -> Self {
        let elapsed_s = elapsed.as_secs_f64();
        let images = dataset.samples.len();
        Report {
            metric: "crddc2022-f1",
            model: None,
            backend: None,
            dataset: dataset.root.display().to_string(),
            format: dataset.format.name(),
            images,
            images_with_gt,
            overall: ClassReport::new("all", scorer.overall()),
            classes: scorer.per_label().map(|(l, c)| ClassReport::new(l, c)).collect(),
            truncated_predictions: scorer.truncated(),
            ignored_predictions: scorer.ignored_predictions(),
            ignored_gt: scorer.ignored_gt(),
            options: scorer.options().clone(),
            elapsed_s,
            images_per_s: if elapsed_s > 0.0 { images as f64 / elapsed_s } else { 0.0 },
        }
    }

    /// The CRDDC'2022 score (overall F1), 0 when undefined (nothing predicted and nothing to find).
    pub fn f1(&self) -> f64 {
        self.overall.f1.unwrap_or(0.0)
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// The human table.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = &self.model {
            writeln!(f, "model    {m} on {}", self.backend.as_deref().unwrap_or("?"))?;
        }
        writeln!(f, "dataset  {} ({}, {} images, {} with ground truth)", self.dataset, self.format, self.images, self.images_with_gt)?;
        writeln!(
            f,
            "metric   CRDDC'2022 F1: IoU > {}, at most {} predictions per image, micro average",
            self.options.iou_threshold, self.options.max_predictions_per_image
        )?;
        writeln!(f)?;
        writeln!(f, "{:<8} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}", "label", "gt", "tp", "fp", "fn", "precision", "recall", "f1")?;
        for c in self.classes.iter().chain(std::iter::once(&self.overall)) {
            if std::ptr::eq(c, &self.overall) {
                writeln!(f, "{}", "-".repeat(70))?;
            }
            writeln!(
                f,
                "{:<8} {:>7} {:>7} {:>7} {:>7} {:>9} {:>9} {:>9}",
                c.label,
                c.gt,
                c.counts.tp,
                c.counts.fp,
                c.counts.fn_,
                pct(c.precision),
                pct(c.recall),
                pct(c.f1)
            )?;
        }
        writeln!(f)?;
        writeln!(f, "F1 {:.4}", self.f1())?;
        if self.truncated_predictions + self.ignored_predictions + self.ignored_gt > 0 {
            writeln!(
                f,
                "not scored: {} predictions over the per-image limit, {} predictions and {} ground-truth boxes of other labels",
                self.truncated_predictions, self.ignored_predictions, self.ignored_gt
            )?;
        }
        write!(f, "{} images in {:.1} s ({:.1} images/s)", self.images, self.elapsed_s, self.images_per_s)
    }
}
