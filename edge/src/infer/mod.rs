//! Object detection with ONNX models described by a manifest (`models/*.toml`).
//!
//! Pipeline per frame: [`preprocess`] (resize + layout + colour + normalisation in one pass) →
//! [`backend`] (ONNX Runtime or tract) → [`decode`] (model-specific output parsing) → map back to frame
//! pixels → [`nms`]. Everything a model needs to be run is in its [`Manifest`]; the manifest is checked
//! against the model's real inputs and outputs at load, so a lying manifest fails early and loudly.

pub mod backend;
pub mod config;
pub mod decode;
pub mod detection;
mod detector;
mod error;
pub mod manifest;
pub mod nms;
pub mod preprocess;
pub mod signature;

use std::path::Path;
use std::time::Duration;

pub use config::{BackendConfig, BackendKind, OrtConfig, Provider};
pub use detection::{BBox, Detection};
pub use error::InferError;
pub use manifest::Manifest;

/// Wall time of the three stages of one [`Detector::detect`] call.
#[derive(Debug, Clone, Copy, Default)]
pub struct StageTimes {
    pub preprocess: Duration,
    pub inference: Duration,
    pub postprocess: Duration,
}

/// Per-call overrides (None = manifest default).
#[derive(Debug, Clone, Copy, Default)]
pub struct DetectParams {
    pub min_score: Option<f32>,
    pub nms_iou: Option<f32>,
}

/// A loaded model, ready to find objects in frames.
pub trait Detector: Send {
    fn manifest(&self) -> &Manifest;
    /// Stable id for events/metrics, e.g. "centernet-coco@1.0.0+sha256:1a2b3c4d".
    fn model_id(&self) -> &str;
    /// Which backend/provider actually runs, e.g. "ort/cpu", "ort/tensorrt", "tract/cpu".
    fn backend_name(&self) -> &str;
    /// Detections in frame pixels: clamped, finite, above the score threshold, class-wise NMS applied.
    fn detect(
        &mut self,
        frame: crate::source::frame::FrameView<'_>,
        params: DetectParams,
    ) -> Result<(Vec<Detection>, StageTimes), InferError>;
}

/// Loads the manifest at `manifest_path`, opens its model with the configured backend and checks that the
/// model really has the inputs and outputs the manifest describes.
pub fn load_detector(manifest_path: &Path, cfg: &BackendConfig) -> Result<Box<dyn Detector>, InferError> {
    let manifest = Manifest::load(manifest_path).map_err(InferError::Manifest)?;
    load_detector_from_manifest(manifest, cfg)
}

/// Like [`load_detector`] for an already loaded (e.g. [`Manifest::load_with_file`]) manifest.
pub fn load_detector_from_manifest(manifest: Manifest, cfg: &BackendConfig) -> Result<Box<dyn Detector>, InferError> {
    Ok(Box::new(detector::ModelDetector::load(manifest, cfg)?))
}
