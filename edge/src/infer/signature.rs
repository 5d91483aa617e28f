//! What a model file really takes and returns, as reported by a backend, and the check of the manifest's
//! input description against it.

use std::fmt;

use super::manifest::{InputSpec, Layout};

/// A named tensor with its shape; `None` for a dimension the model leaves dynamic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub shape: Vec<Option<usize>>,
}

impl TensorInfo {
    pub fn new(name: impl Into<String>, shape: Vec<Option<usize>>) -> Self {
        Self { name: name.into(), shape }
    }

    /// Whether a concrete `shape` fits this (possibly partly dynamic) shape.
    pub fn accepts(&self, shape: &[usize]) -> bool {
        self.shape.len() == shape.len() && self.shape.iter().zip(shape).all(|(a, b)| a.is_none_or(|a| a == *b))
    }
}

impl fmt::Display for TensorInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.name, ShapeFmt(&self.shape))
    }
}

/// `[1,3,?,?]`
pub struct ShapeFmt<'a>(pub &'a [Option<usize>]);

impl fmt::Display for ShapeFmt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.0.iter().map(|d| d.map_or("?".to_string(), |d| d.to_string())).collect();
        write!(f, "[{}]", dims.join(","))
    }
}

/// A model's inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct ModelSignature {
    pub inputs: Vec<TensorInfo>,
    pub outputs: Vec<TensorInfo>,
}

impl ModelSignature {
    pub fn describe_outputs(&self) -> String {
        self.outputs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
    }
}

fn describe_spec(spec: &InputSpec) -> String {
    let layout = match spec.layout {
        Layout::Nhwc => "NHWC",
        Layout::Nchw => "NCHW",
    };
    format!("{:?} {layout} {}x{}", spec.name, spec.width, spec.height)
}

/// Checks that the model has exactly one input, named and shaped as the manifest says.
/// The error text names both sides, e.g. `model input is "x" [1,3,416,416], manifest says "images" NHWC 512x512`.
pub fn check_input(spec: &InputSpec, sig: &ModelSignature) -> Result<(), String> {
    let [input] = sig.inputs.as_slice() else {
        let list: Vec<String> = sig.inputs.iter().map(|i| i.to_string()).collect();
        return Err(format!(
            "model has {} inputs ({}), manifest describes one image input {}",
            sig.inputs.len(),
            list.join(", "),
            describe_spec(spec)
        ));
    };
    let expected = spec.shape();
    if input.name != spec.name || !input.accepts(&expected) {
        return Err(format!("model input is {input}, manifest says {}", describe_spec(spec)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::manifest::{ColourOrder, Resize};

    fn spec() -> InputSpec {
        InputSpec {
            name: "tower_0/images:0".into(),
            layout: Layout::Nhwc,
            width: 512,
            height: 512,
            colour: ColourOrder::Rgb,
            resize: Resize::Stretch,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn mismatch_names_both_sides() {
        let sig = ModelSignature {
            inputs: vec![TensorInfo::new("x", vec![Some(1), Some(3), Some(416), Some(416)])],
            outputs: vec![],
        };
        let err = check_input(&spec(), &sig).unwrap_err();
        assert_eq!(err, r#"model input is "x" [1,3,416,416], manifest says "tower_0/images:0" NHWC 512x512"#);
    }

    #[test]
    fn dynamic_dimensions_accept_the_manifest_size() {
        let sig = ModelSignature {
            inputs: vec![TensorInfo::new("tower_0/images:0", vec![None, None, None, Some(3)])],
            outputs: vec![],
        };
        assert_eq!(check_input(&spec(), &sig), Ok(()));
        let sig = ModelSignature {
            inputs: vec![TensorInfo::new("tower_0/images:0", vec![None, None, Some(3)])],
            outputs: vec![],
        };
        assert!(check_input(&spec(), &sig).is_err());
    }
}
