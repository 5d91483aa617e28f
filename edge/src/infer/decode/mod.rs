//! Model outputs → candidate boxes in model-input pixels.
//!
//! At load, [`DecodePlan::new`] picks the output tensors a decoder needs (by name or by shape) and checks
//! them against the manifest (class count, strides…); at run time each decoder re-checks the actual
//! shapes, because a model with dynamic dimensions only shows its real shapes then.

pub mod blazeface;
pub mod end_to_end;
pub mod nanodet;
pub mod yolov5;
pub mod yolov8;

use super::detection::BBox;
use super::manifest::{DecoderSpec, InputSpec};
use super::signature::TensorInfo;
use super::InferError;

/// A detection before mapping to the frame and NMS; `bbox` is in model-input pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    pub class: u32,
    pub score: f32,
    pub bbox: BBox,
}

/// One output tensor as produced by a backend (row-major f32).
#[derive(Debug, Clone, Copy)]
pub struct TensorView<'a> {
    pub shape: &'a [usize],
    pub data: &'a [f32],
}

impl<'a> TensorView<'a> {
    /// Checks that `data` holds exactly the elements `shape` promises.
    pub fn new(shape: &'a [usize], data: &'a [f32]) -> Option<Self> {
        let n = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
        (n == data.len()).then_some(Self { shape, data })
    }
}

/// Shape as `[1,84,8400]` for messages.
pub(crate) fn shape_str(shape: &[usize]) -> String {
    format!("[{}]", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(","))
}

#[derive(Debug, Clone)]
enum Decoder {
    EndToEnd(end_to_end::EndToEnd),
    Yolov8(yolov8::Yolov8),
    Yolov5(yolov5::Yolov5),
    Nanodet(nanodet::Nanodet),
    Blazeface(blazeface::Blazeface),
}

/// The decoder of one model plus the outputs it reads, in the order [`DecodePlan::decode`] wants them.
#[derive(Debug, Clone)]
pub struct DecodePlan {
    decoder: Decoder,
    outputs: Vec<String>,
}

impl DecodePlan {
    /// Chooses output tensors among `outputs` for `spec`; the error explains what does not fit.
    pub fn new(spec: &DecoderSpec, input: &InputSpec, classes: usize, outputs: &[TensorInfo]) -> Result<Self, String> {
        let (decoder, outputs) = match spec {
            DecoderSpec::EndToEnd { tensor, box_format, coords } => {
                let (d, name) = end_to_end::EndToEnd::plan(tensor.as_deref(), *box_format, *coords, input, classes, outputs)?;
                (Decoder::EndToEnd(d), vec![name])
            }
            DecoderSpec::Yolov8 { tensor } => {
                let (d, name) = yolov8::Yolov8::plan(tensor.as_deref(), classes, outputs)?;
                (Decoder::Yolov8(d), vec![name])
            }
            DecoderSpec::Yolov5 { tensor } => {
                let (d, name) = yolov5::Yolov5::plan(tensor.as_deref(), classes, outputs)?;
                (Decoder::Yolov5(d), vec![name])
            }
            DecoderSpec::Nanodet { strides, reg_max } => {
                let (d, names) = nanodet::Nanodet::plan(strides, *reg_max, input, classes, outputs)?;
                (Decoder::Nanodet(d), names)
            }
            DecoderSpec::Blazeface { anchors } => {
                let (d, names) = blazeface::Blazeface::plan(anchors, input, classes, outputs)?;
                (Decoder::Blazeface(d), names)
            }
        };
        Ok(Self { decoder, outputs })
    }

    /// Names of the outputs to fetch from the backend, in decode order.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    pub fn name(&self) -> &'static str {
        match self.decoder {
            Decoder::EndToEnd(_) => "end_to_end",
            Decoder::Yolov8(_) => "yolov8",
            Decoder::Yolov5(_) => "yolov5",
            Decoder::Nanodet(_) => "nanodet",
            Decoder::Blazeface(_) => "blazeface",
        }
    }

    /// Appends candidates scoring at least `min_score` to `out`. Non-finite values are dropped.
    pub fn decode(&self, tensors: &[TensorView<'_>], min_score: f32, out: &mut Vec<Candidate>) -> Result<(), InferError> {
        if tensors.len() != self.outputs.len() {
            return Err(self.error(format!("expected {} output tensors, got {}", self.outputs.len(), tensors.len())));
        }
        let r = match &self.decoder {
            Decoder::EndToEnd(d) => d.decode(tensors[0], min_score, out),
            Decoder::Yolov8(d) => d.decode(tensors[0], min_score, out),
            Decoder::Yolov5(d) => d.decode(tensors[0], min_score, out),
            Decoder::Nanodet(d) => d.decode(tensors, min_score, out),
            Decoder::Blazeface(d) => d.decode(tensors, min_score, out),
        };
        r.map_err(|detail| self.error(detail))
    }

    fn error(&self, detail: String) -> InferError {
        InferError::Decode { decoder: self.name(), detail }
    }
}

/// Pushes a candidate if it is usable: finite box with positive area, finite score.
#[inline]
fn push(out: &mut Vec<Candidate>, class: u32, score: f32, bbox: BBox) {
    if score.is_finite() && bbox.is_finite() && bbox.x2 > bbox.x1 && bbox.y2 > bbox.y1 {
        out.push(Candidate { class, score, bbox });
    }
}

/// Picks the output a single-tensor decoder reads: the one named `wanted`, else the only one `fits`.
fn pick_one<'a>(
    decoder: &str,
    wanted: Option<&str>,
    outputs: &'a [TensorInfo],
    fits: impl Fn(&TensorInfo) -> bool,
    expectation: &str,
) -> Result<&'a TensorInfo, String> {
    let list = || outputs.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ");
    if let Some(name) = wanted {
        let Some(o) = outputs.iter().find(|o| o.name == name) else {
            return Err(format!("manifest names output {name:?}, model outputs are {}", list()));
        };
        if !fits(o) {
            return Err(format!("{decoder} expects {expectation}, model output is {o}"));
        }
        return Ok(o);
    }
    let fitting: Vec<&TensorInfo> = outputs.iter().filter(|o| fits(o)).collect();
    match fitting.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("{decoder} expects an output {expectation}, model outputs are {}", list())),
        _ => Err(format!(
            "several outputs fit {decoder} ({}); name one with `tensor` in [output]",
            fitting.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// Whether dimension `d` (None = dynamic) may equal `v`.
fn dim_may_be(d: Option<usize>, v: usize) -> bool {
    d.is_none_or(|d| d == v)
}
