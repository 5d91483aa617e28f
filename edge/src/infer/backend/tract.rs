//! tract: pure-Rust CPU inference, no native library needed.
//!
//! `BackendConfig::threads` is ignored: tract runs each model on the calling thread.

use std::sync::Arc;

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::GenericFactoid;

use super::{plan_for, Backend, OwnedTensor};
use crate::infer::decode::DecodePlan;
use crate::infer::manifest::Manifest;
use crate::infer::signature::{ModelSignature, TensorInfo};
use crate::infer::InferError;

pub struct TractBackend {
    plan: Arc<TypedSimplePlan>,
    input_shape: [usize; 4],
}

impl TractBackend {
    pub fn open(manifest: &Manifest) -> Result<(Self, DecodePlan), InferError> {
        let path = manifest.model_path();
        let load_err = |e: anyhow::Error| InferError::ModelLoad { model: path.to_path_buf(), backend: "tract", reason: format!("{e:#}") };
        let mut model = tract_onnx::onnx().model_for_path(path).map_err(load_err)?;

        // The declared input is checked before the manifest's shape is imposed on it.
        let inputs = input_infos(&model).map_err(load_err)?;
        let shape = manifest.input.shape();
        let probe = ModelSignature { inputs, outputs: Vec::new() };
        let mismatch = |detail: String| InferError::ModelMismatch { model: path.to_path_buf(), detail };
        crate::infer::signature::check_input(&manifest.input, &probe).map_err(mismatch)?;

        model.set_input_fact(0, f32::fact(shape).into()).map_err(load_err)?;
        let mut typed = model.into_typed().map_err(load_err)?;
        let outputs = output_infos(&typed).map_err(load_err)?;
        let sig = ModelSignature { inputs: probe.inputs, outputs };
        let decode = plan_for(manifest, &sig)?;

        // Keep only what the decoder reads, so tract does not compute the rest.
        let mut wanted = Vec::new();
        for name in decode.outputs() {
            let i = sig.outputs.iter().position(|o| &o.name == name).ok_or_else(|| mismatch(format!("output {name:?} vanished")))?;
            let outlet = typed.output_outlets().map_err(load_err)?[i];
            wanted.push(outlet);
        }
        typed.select_output_outlets(&wanted).map_err(load_err)?;
        let plan = typed.into_optimized().and_then(|m| m.into_runnable()).map_err(load_err)?;
        tracing::info!(model = %path.display(), backend = "tract/cpu", "model loaded");
        Ok((Self { plan, input_shape: shape }, decode))
    }
}

fn input_infos(model: &InferenceModel) -> TractResult<Vec<TensorInfo>> {
    let mut infos = Vec::new();
    for (i, outlet) in model.input_outlets()?.iter().enumerate() {
        let fact = model.input_fact(i)?;
        let shape = fact
            .shape
            .dims()
            .map(|d| match d {
                GenericFactoid::Only(d) => d.to_i64().ok().and_then(|d| usize::try_from(d).ok()),
                GenericFactoid::Any => None,
            })
            .collect();
        infos.push(TensorInfo::new(model.node(outlet.node).name.clone(), shape));
    }
    Ok(infos)
}

fn output_infos(model: &TypedModel) -> TractResult<Vec<TensorInfo>> {
    let mut infos = Vec::new();
    for &outlet in model.output_outlets()? {
        // ONNX graph output names are kept as outlet labels; the node name is the fallback.
        let name = model.outlet_label(outlet).unwrap_or(&model.node(outlet.node).name).to_string();
        let fact = model.outlet_fact(outlet)?;
        let shape = fact.shape.iter().map(|d| d.to_i64().ok().and_then(|d| usize::try_from(d).ok())).collect();
        infos.push(TensorInfo::new(name, shape));
    }
    Ok(infos)
}

impl Backend for TractBackend {
    fn name(&self) -> &str {
        "tract/cpu"
    }

    fn run(&mut self, input: &[f32], out: &mut Vec<OwnedTensor>) -> Result<(), InferError> {
        let fail = |e: anyhow::Error| InferError::Inference(format!("{e:#}"));
        let tensor = Tensor::from_shape(&self.input_shape, input).map_err(fail)?;
        let results = self.plan.run(tvec!(tensor.into_tvalue())).map_err(fail)?;
        out.resize_with(results.len(), OwnedTensor::default);
        for (value, dst) in results.iter().zip(out.iter_mut()) {
            let view = value.try_as_plain_ram().map_err(fail)?;
            let data = view.as_slice::<f32>().map_err(fail)?;
            dst.shape.clear();
            dst.shape.extend_from_slice(value.shape());
            dst.data.clear();
            dst.data.extend_from_slice(data);
        }
        Ok(())
    }
}
