//! `[models.<id>]`: which manifest, on which inference backend.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::infer::{BackendConfig, BackendKind, OrtConfig};

/// One model the cameras can use.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model manifest (`models/*.toml`), relative to the config file.
    #[schemars(with = "PathBuf")]
    pub manifest: toml::Spanned<PathBuf>,
    /// Inference backend: `ort` (ONNX Runtime; CUDA/TensorRT capable) or `tract` (pure Rust, CPU).
    #[serde(default)]
    pub backend: BackendKind,
    /// Intra-op threads (ort); default: all cores.
    #[serde(default)]
    pub threads: Option<usize>,
    /// ONNX Runtime settings: library path and execution providers.
    #[serde(default)]
    pub ort: OrtConfig,
}

impl ModelConfig {
    pub fn backend_config(&self) -> BackendConfig {
        BackendConfig { backend: self.backend, threads: self.threads, ort: self.ort.clone() }
    }
}
