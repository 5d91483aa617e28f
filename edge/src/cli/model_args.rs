//! The model flags shared by the tools that run one model on files (`detect`, `eval`).

use std::path::PathBuf;

use anyhow::{bail, Context};

use kaiteki::infer::{load_detector, BackendConfig, BackendKind, DetectParams, Detector, OrtConfig};

#[derive(clap::Args)]
pub struct ModelArgs {
    /// Model manifest (models/*.toml).
    #[arg(long)]
    pub model: PathBuf,
    /// Inference backend.
    #[arg(long, value_enum, default_value = "ort")]
    backend: BackendArg,
    /// ONNX Runtime library (default: ORT_DYLIB_PATH, then /usr/lib/kaiteki/libonnxruntime.so).
    #[arg(long)]
    ort_library: Option<PathBuf>,
    #[arg(long)]
    threads: Option<usize>,
    /// Minimum score (default: the manifest's).
    #[arg(long)]
    min_score: Option<f32>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum BackendArg {
    Ort,
    Tract,
}

impl ModelArgs {
    /// The per-call detection parameters; refuses an impossible `--min-score` before anything is loaded.
    pub fn params(&self) -> anyhow::Result<DetectParams> {
        if let Some(s) = self.min_score {
            if !(s > 0.0 && s <= 1.0) {
                bail!("--min-score {s}: must be in (0, 1]");
            }
        }
        Ok(DetectParams { min_score: self.min_score, nms_iou: None })
    }

    /// Loads the model with the chosen backend.
    pub fn load(&self) -> anyhow::Result<Box<dyn Detector>> {
        let cfg = BackendConfig {
            backend: match self.backend {
                BackendArg::Ort => BackendKind::Ort,
                BackendArg::Tract => BackendKind::Tract,
            },
            threads: self.threads,
            ort: OrtConfig { library: self.ort_library.clone(), ..OrtConfig::default() },
        };
        load_detector(&self.model, &cfg).with_context(|| format!("cannot load model {}", self.model.display()))
    }
}
