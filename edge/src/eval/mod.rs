//! `kaiteki eval`: how well a road-damage detector scores on a labelled dataset, with the metric of the
//! Crowdsensing-based Road Damage Detection Challenge 2022 (CRDDC'2022, dataset RDD2022,
//! arXiv:2209.08538): F1 over all images, a prediction counting when its IoU with a ground-truth box of
//! the same label is above 0.5, at most 5 predictions per image. See [`score`] for the exact rules.
//!
//! The model is a closure ([`evaluate`]'s `predict`), so the metric and the dataset readers are tested
//! without any model, and the CLI plugs in a real detector.

pub mod dataset;
mod report;
pub mod score;
mod voc;
mod yolo;

#[cfg(test)]
mod tests;

use std::time::Instant;

use serde::Serialize;

pub use dataset::{Dataset, DatasetError, Format, GtBox, Sample};
pub use report::{ClassReport, Report};
pub use score::{Counts, ScoreOptions, Scorer};

/// An axis-aligned box in image pixels (x right, y down), `x1 <= x2`, `y1 <= y2`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rect {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl Rect {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    pub fn area(&self) -> f64 {
        f64::from(self.x2 - self.x1).max(0.0) * f64::from(self.y2 - self.y1).max(0.0)
    }

    /// Intersection over union, in f64 so that a threshold of exactly 0.5 is decided exactly for boxes
    /// on whole pixels; 0 for disjoint or empty boxes. Boxes are continuous (a box from 0 to 10 is 10
    /// wide), not the inclusive `+1` pixel convention of the old VOC devkit.
    pub fn iou(&self, other: &Rect) -> f64 {
        let ix = (f64::from(self.x2.min(other.x2)) - f64::from(self.x1.max(other.x1))).max(0.0);
        let iy = (f64::from(self.y2.min(other.y2)) - f64::from(self.y1.max(other.y1))).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union > 0.0 {
            inter / union
        } else {
            0.0
        }
    }

    pub fn is_finite(&self) -> bool {
        self.x1.is_finite() && self.y1.is_finite() && self.x2.is_finite() && self.y2.is_finite()
    }
}

/// One detection of the model under evaluation, in the pixels of the image it was given.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pred {
    pub label: String,
    pub score: f32,
    pub bbox: Rect,
}

/// Why an evaluation stopped. Dataset problems are found before the first image is run.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}: cannot read the image: {source}", path = .path.display())]
    Image { path: std::path::PathBuf, source: image::ImageError },
    #[error("{path}: the model failed: {source}", path = .path.display())]
    Predict { path: std::path::PathBuf, source: Box<dyn std::error::Error + Send + Sync> },
}

/// Runs `predict` on every image of `dataset` (in file name order) and scores its predictions against
/// the ground truth. YOLO labels are turned into pixels with each image's real size.
pub fn evaluate<F, E>(dataset: &Dataset, options: &ScoreOptions, mut predict: F) -> Result<Report, EvalError>
where
    F: FnMut(&image::RgbImage) -> Result<Vec<Pred>, E>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let start = Instant::now();
    let mut scorer = Scorer::new(options.clone());
    let mut images_with_gt = 0;
    for (i, sample) in dataset.samples.iter().enumerate() {
        let img = image::open(&sample.image).map_err(|source| EvalError::Image { path: sample.image.clone(), source })?.to_rgb8();
        if let Some((w, h)) = sample.size_mismatch(img.width(), img.height()) {
            tracing::warn!(
                image = %sample.image.display(),
                annotated = %format!("{w}x{h}"),
                real = %format!("{}x{}", img.width(), img.height()),
                "the annotation is for another image size: its boxes may be misplaced"
            );
        }
        let gt = sample.ground_truth(img.width(), img.height());
        if !gt.is_empty() {
            images_with_gt += 1;
        }
        let preds = predict(&img).map_err(|e| EvalError::Predict { path: sample.image.clone(), source: e.into() })?;
        scorer.add_image(&preds, &gt);
        if (i + 1) % 100 == 0 {
            tracing::info!(done = i + 1, of = dataset.samples.len(), "evaluating");
        }
    }
    let elapsed = start.elapsed();
    Ok(Report::new(dataset, scorer, images_with_gt, elapsed))
}
