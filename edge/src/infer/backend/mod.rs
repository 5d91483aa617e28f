//! Inference engines. Each opens a model file, reports its real inputs/outputs, is checked against the
//! manifest (input name/shape, decoder outputs) before it is accepted, and then runs frames.

pub mod ort;
pub mod trt_cache;
#[cfg(feature = "tract")]
pub mod tract;

use super::config::{BackendConfig, BackendKind};
use super::decode::DecodePlan;
use super::manifest::Manifest;
use super::signature::{check_input, ModelSignature};
use super::InferError;

/// One output tensor copied out of the engine (row-major f32); reused between frames.
#[derive(Debug, Clone, Default)]
pub struct OwnedTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A loaded model in one engine.
pub trait Backend: Send {
    /// "ort/cpu", "ort/cuda", "tract/cpu"…
    fn name(&self) -> &str;
    /// Runs one input tensor (the manifest's input shape) and fills `out` with the plan's outputs, in order.
    fn run(&mut self, input: &[f32], out: &mut Vec<OwnedTensor>) -> Result<(), InferError>;
}

/// Opens the manifest's model with the configured engine and plans its decoding.
pub fn open(manifest: &Manifest, cfg: &BackendConfig) -> Result<(Box<dyn Backend>, DecodePlan), InferError> {
    match cfg.backend {
        BackendKind::Ort => {
            let (b, plan) = ort::OrtBackend::open(manifest, cfg)?;
            Ok((Box::new(b), plan))
        }
        #[cfg(feature = "tract")]
        BackendKind::Tract => {
            let (b, plan) = tract::TractBackend::open(manifest)?;
            Ok((Box::new(b), plan))
        }
        #[cfg(not(feature = "tract"))]
        BackendKind::Tract => Err(InferError::BackendNotBuilt("tract")),
    }
}

/// The manifest-versus-model check both engines run at load.
pub(crate) fn plan_for(manifest: &Manifest, sig: &ModelSignature) -> Result<DecodePlan, InferError> {
    let mismatch = |detail: String| InferError::ModelMismatch { model: manifest.model_path().to_path_buf(), detail };
    check_input(&manifest.input, sig).map_err(mismatch)?;
    DecodePlan::new(&manifest.output.decoder, &manifest.input, manifest.classes.len(), &sig.outputs).map_err(mismatch)
}
