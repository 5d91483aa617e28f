//! ONNX Runtime through `ort` (loaded at run time from libonnxruntime.so, so one binary serves CPU-only
//! and GPU boxes).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ort::environment::Environment;
use ort::ep::{self, ExecutionProvider, ExecutionProviderDispatch};
use ort::session::Session;
use ort::value::{TensorRef, ValueType};

use super::{plan_for, Backend, OwnedTensor};
use crate::infer::config::{BackendConfig, Provider};
use crate::infer::decode::DecodePlan;
use crate::infer::manifest::Manifest;
use crate::infer::signature::{ModelSignature, TensorInfo};
use crate::infer::InferError;

/// Where the library is looked for when neither the config nor ORT_DYLIB_PATH names it.
pub const DEFAULT_LIBRARY: &str = "/usr/lib/kaiteki/libonnxruntime.so";

/// ONNX Runtime allows one environment per process; it is made on first use with the first library path.
static ENVIRONMENT: Mutex<Option<(PathBuf, Environment)>> = Mutex::new(None);

/// Which library file to load: config, else ORT_DYLIB_PATH, else [`DEFAULT_LIBRARY`].
pub fn library_path(configured: Option<&Path>) -> PathBuf {
    configured
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("ORT_DYLIB_PATH").filter(|v| !v.is_empty()).map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LIBRARY))
}

fn environment(configured: Option<&Path>) -> Result<Environment, InferError> {
    let path = library_path(configured);
    let mut guard = ENVIRONMENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((loaded, env)) = guard.as_ref() {
        if *loaded != path {
            tracing::warn!(loaded = %loaded.display(), requested = %path.display(), "ONNX Runtime is already loaded from another file; using it");
        }
        return Ok(env.clone());
    }
    if !path.is_file() {
        return Err(InferError::Runtime(format!(
            "{} not found; set [models.<id>.ort] library or ORT_DYLIB_PATH, or install it with `make deps` (scripts/fetch-onnxruntime.sh)",
            path.display()
        )));
    }
    let env = ort::init_from(&path)
        .map_err(|e| InferError::Runtime(format!("cannot load {}: {e}", path.display())))?
        .with_name("kaiteki")
        .build()
        .map_err(|e| InferError::Runtime(format!("cannot start ONNX Runtime from {}: {e}", path.display())))?;
    tracing::info!(library = %path.display(), "ONNX Runtime loaded");
    *guard = Some((path, env.clone()));
    Ok(env)
}

pub struct OrtBackend {
    session: Session,
    name: String,
    input_name: String,
    input_shape: [usize; 4],
    outputs: Vec<String>,
}

impl OrtBackend {
    pub fn open(manifest: &Manifest, cfg: &BackendConfig) -> Result<(Self, DecodePlan), InferError> {
        let env = environment(cfg.ort.library.as_deref())?;
        let model = manifest.model_path();
        let load_err = |e: String| InferError::ModelLoad { model: model.to_path_buf(), backend: "ort", reason: e };
        // ort's errors hold raw pointers (not Send/Sync), so they become strings at once.
        let mut builder = Session::builder(&env).map_err(|e| load_err(e.to_string()))?;
        if let Some(n) = cfg.threads {
            builder = builder.with_intra_threads(n).map_err(|e| load_err(e.to_string()))?;
        }
        let (builder, provider) = register_providers(builder, &cfg.ort.providers, manifest)?;
        let mut builder = builder;
        let session = builder.commit_from_file(model).map_err(|e| load_err(e.to_string()))?;
        let sig = signature(&session);
        let plan = plan_for(manifest, &sig)?;
        let name = format!("ort/{provider}");
        tracing::info!(model = %model.display(), backend = %name, "model loaded");
        Ok((
            Self {
                session,
                name,
                input_name: manifest.input.name.clone(),
                input_shape: manifest.input.shape(),
                outputs: plan.outputs().to_vec(),
            },
            plan,
        ))
    }
}

/// Registers the configured providers in order and returns the one that will run the model.
///
/// ONNX Runtime silently falls back to the CPU when a provider fails to register (ort issues #568/#569);
/// here every failure is checked: a provider that is not compiled into the library or fails to register
/// is skipped only if a later provider of the list can take over, and the last one failing is an error.
fn register_providers(
    mut builder: ort::session::builder::SessionBuilder,
    providers: &[Provider],
    manifest: &Manifest,
) -> Result<(ort::session::builder::SessionBuilder, &'static str), InferError> {
    if providers.is_empty() {
        return Err(InferError::Provider { provider: "(none)".into(), reason: "the provider list is empty; use [{ kind = \"cpu\" }]".into() });
    }
    let mut failures: Vec<String> = Vec::new();
    for p in providers {
        let attempt = match dispatch(p, manifest) {
            Ok(d) => match builder.with_execution_providers([d.error_on_failure()]) {
                Ok(b) => {
                    builder = b;
                    Ok(())
                }
                Err(e) => {
                    let reason = e.to_string();
                    builder = e.recover();
                    Err(reason)
                }
            },
            Err(reason) => Err(reason),
        };
        match attempt {
            Ok(()) => {
                if !failures.is_empty() {
                    tracing::warn!(provider = p.short_name(), skipped = %failures.join("; "), "preferred execution providers unavailable, using a fallback from the configured list");
                }
                return Ok((builder, p.short_name()));
            }
            Err(reason) => failures.push(format!("{}: {reason}", p.short_name())),
        }
    }
    let last = providers.last().map_or("(none)", Provider::short_name);
    Err(InferError::Provider { provider: last.into(), reason: format!("no configured provider can run the model ({})", failures.join("; ")) })
}

/// The ort provider for a configured one, or why this library cannot offer it.
#[cfg_attr(not(feature = "gpu"), allow(unused_variables))]
fn dispatch(p: &Provider, manifest: &Manifest) -> Result<ExecutionProviderDispatch, String> {
    #[cfg_attr(not(feature = "gpu"), allow(dead_code))]
    fn available<E: ExecutionProvider>() -> Result<(), String> {
        match E::is_available() {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{} is not built into this ONNX Runtime library (a GPU build is needed)", E::NAME)),
            Err(e) => Err(format!("cannot query {}: {e}", E::NAME)),
        }
    }
    match p {
        Provider::Cpu => Ok(ep::CPU::default().build()),
        #[cfg(feature = "gpu")]
        Provider::Cuda { device_id } => {
            available::<ep::CUDA>()?;
            Ok(ep::CUDA::default().with_device_id(*device_id).build())
        }
        #[cfg(feature = "gpu")]
        Provider::TensorRt { device_id, engine_cache, fp16 } => {
            available::<ep::TensorRT>()?;
            let mut trt = ep::TensorRT::default().with_device_id(*device_id).with_fp16(*fp16);
            if let Some(root) = engine_cache {
                // Keyed by model file and TensorRT version, so a stale engine is never loaded.
                let version = super::trt_cache::tensorrt_version();
                match version.map(|v| super::trt_cache::prepare(root, &manifest.name, &manifest.sha256, v, *fp16)) {
                    Some(Ok(dir)) => {
                        tracing::info!(folder = %dir.display(), tensorrt = version, "TensorRT engine cache");
                        trt = trt.with_engine_cache(true).with_engine_cache_path(dir.display());
                    }
                    Some(Err(e)) => tracing::warn!(root = %root.display(), error = %e,
                        "cannot prepare the TensorRT engine cache: engines are rebuilt at every start"),
                    None => tracing::warn!("cannot read the TensorRT version: engine cache off, engines are rebuilt at every start"),
                }
            }
            Ok(trt.build())
        }
        #[cfg(not(feature = "gpu"))]
        Provider::Cuda { .. } | Provider::TensorRt { .. } => {
            Err("this build of kaiteki has no GPU provider support (cargo feature `gpu`)".into())
        }
    }
}

fn signature(session: &Session) -> ModelSignature {
    let info = |o: &ort::value::Outlet| {
        let shape = match o.dtype() {
            ValueType::Tensor { shape, .. } => shape.iter().map(|&d| usize::try_from(d).ok()).collect(),
            // Not a tensor: an empty shape that no check accepts, so the mismatch gets reported.
            _ => Vec::new(),
        };
        TensorInfo::new(o.name(), shape)
    };
    ModelSignature {
        inputs: session.inputs().iter().map(info).collect(),
        outputs: session.outputs().iter().map(info).collect(),
    }
}

impl Backend for OrtBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self, input: &[f32], out: &mut Vec<OwnedTensor>) -> Result<(), InferError> {
        let fail = |e: String| InferError::Inference(e);
        let shape: Vec<i64> = self.input_shape.iter().map(|&d| d as i64).collect();
        let tensor = TensorRef::from_array_view((shape, input)).map_err(|e| fail(e.to_string()))?;
        let results = self
            .session
            .run(ort::inputs![self.input_name.as_str() => tensor])
            .map_err(|e| fail(e.to_string()))?;
        out.resize_with(self.outputs.len(), OwnedTensor::default);
        for (name, dst) in self.outputs.iter().zip(out.iter_mut()) {
            let value = results.get(name.as_str()).ok_or_else(|| fail(format!("output {name:?} missing")))?;
            let (shape, data) = value
                .try_extract_tensor::<f32>()
                .map_err(|e| fail(format!("output {name:?}: {e}")))?;
            dst.shape.clear();
            dst.shape.extend(shape.iter().map(|&d| d.max(0) as usize));
            dst.data.clear();
            dst.data.extend_from_slice(data);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_a_clear_error_not_a_panic() {
        let err = environment(Some(Path::new("/nonexistent/libonnxruntime.so"))).err().expect("no library there");
        let msg = err.to_string();
        assert!(msg.contains("/nonexistent/libonnxruntime.so not found"), "{msg}");
        assert!(msg.contains("fetch-onnxruntime.sh"), "{msg}");
    }

    #[test]
    fn configured_library_wins_over_the_environment() {
        assert_eq!(library_path(Some(Path::new("/opt/ort.so"))), PathBuf::from("/opt/ort.so"));
    }
}
