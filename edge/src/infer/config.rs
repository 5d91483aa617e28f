//! Backend selection, part of the daemon configuration (`[models.<id>]` table).

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

/// Which inference engine runs a model, and how.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields, default)]
pub struct BackendConfig {
    /// "ort" (ONNX Runtime, default) or "tract" (pure Rust, CPU only).
    pub backend: BackendKind,
    /// Intra-op threads; None = backend default (all cores). Ignored by tract.
    pub threads: Option<usize>,
    /// ONNX Runtime settings (ignored by tract).
    pub ort: OrtConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Ort,
    Tract,
}

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct OrtConfig {
    /// libonnxruntime.so; else env ORT_DYLIB_PATH; else /usr/lib/kaiteki/libonnxruntime.so.
    pub library: Option<PathBuf>,
    /// Execution providers in order of preference. A GPU provider that cannot be used is an error,
    /// unless a later entry of the list can run the model (a deliberate fallback).
    pub providers: Vec<Provider>,
}

impl Default for OrtConfig {
    fn default() -> Self {
        Self { library: None, providers: vec![Provider::Cpu] }
    }
}

/// One ONNX Runtime execution provider.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Provider {
    Cpu,
    Cuda {
        #[serde(default)]
        device_id: i32,
    },
    #[serde(rename = "tensorrt")]
    TensorRt {
        #[serde(default)]
        device_id: i32,
        /// Where built engines are cached (building one takes minutes); None disables the cache.
        #[serde(default = "default_engine_cache")]
        engine_cache: Option<PathBuf>,
        #[serde(default = "default_true")]
        fp16: bool,
    },
}

impl Provider {
    /// Short name used in `backend_name()` ("ort/<short>") and messages.
    pub fn short_name(&self) -> &'static str {
        match self {
            Provider::Cpu => "cpu",
            Provider::Cuda { .. } => "cuda",
            Provider::TensorRt { .. } => "tensorrt",
        }
    }
}

fn default_engine_cache() -> Option<PathBuf> {
    Some(PathBuf::from("/var/lib/kaiteki/trt"))
}

fn default_true() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn providers_parse_as_tagged_tables() {
        let cfg: BackendConfig = toml::from_str(
            r#"
            backend = "ort"
            threads = 2
            [ort]
            providers = [{ kind = "tensorrt", fp16 = false }, { kind = "cuda", device_id = 1 }, { kind = "cpu" }]
            "#,
        )
        .unwrap();
        assert_eq!(cfg.threads, Some(2));
        assert_eq!(
            cfg.ort.providers,
            vec![
                Provider::TensorRt { device_id: 0, engine_cache: default_engine_cache(), fp16: false },
                Provider::Cuda { device_id: 1 },
                Provider::Cpu
            ]
        );
    }

    #[test]
    fn defaults_to_ort_on_cpu() {
        let cfg: BackendConfig = toml::from_str("").unwrap();
        assert_eq!(cfg.backend, BackendKind::Ort);
        assert_eq!(cfg.ort.providers, vec![Provider::Cpu]);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        assert!(toml::from_str::<BackendConfig>("[ort]\nprovider = []").is_err());
        assert!(toml::from_str::<BackendConfig>("[ort]\nproviders = [{ kind = \"cuda\", device = 0 }]").is_err());
        assert!(toml::from_str::<BackendConfig>("backend = \"onnx\"").is_err());
    }
}
