//! Everything that can go wrong loading or running a detector.

use std::path::PathBuf;

use crate::config::diagnostic::Diagnostic;

#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The manifest file itself is wrong (every problem, each with its place).
    #[error("invalid model manifest:\n{}", list(.0))]
    Manifest(Vec<Diagnostic>),
    /// The model file exists but does not have the inputs/outputs its manifest describes.
    #[error("model {} does not match its manifest: {detail}", .model.display())]
    ModelMismatch { model: PathBuf, detail: String },
    /// The model file could not be parsed or prepared by the backend (not ONNX, unsupported operator…).
    #[error("cannot load model {} with {backend}: {reason}", .model.display())]
    ModelLoad { model: PathBuf, backend: &'static str, reason: String },
    /// The ONNX Runtime shared library is missing or unusable.
    #[error("ONNX Runtime library: {0}")]
    Runtime(String),
    /// A requested execution provider cannot run this model here; never silently replaced by the CPU.
    #[error("execution provider {provider}: {reason}")]
    Provider { provider: String, reason: String },
    /// The configured backend is not compiled into this build.
    #[error("backend {0:?} is not available in this build (enable the cargo feature of the same name)")]
    BackendNotBuilt(&'static str),
    /// The backend failed while running a frame.
    #[error("inference failed: {0}")]
    Inference(String),
    /// Output tensors at run time do not fit the decoder.
    #[error("decoder {decoder}: {detail}")]
    Decode { decoder: &'static str, detail: String },
    /// Parameter out of range (e.g. a min_score override of 1.5).
    #[error("invalid detection parameter: {0}")]
    Params(String),
}

fn list(diags: &[Diagnostic]) -> String {
    diags.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
}
