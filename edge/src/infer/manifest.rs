//! Model manifests (`models/*.toml`): what a model file is, how to feed it and how to read its outputs.
//!
//! [`Manifest::load`] reports every problem it finds at once, each at its place in the file, because a
//! user fixing a manifest should not have to iterate one error at a time.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::config::diagnostic::{parse_toml, Diagnostic};

/// Memory order of the model's input tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Nhwc,
    Nchw,
}

/// Channel order the model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColourOrder {
    Rgb,
    Bgr,
}

/// How a frame is brought to the model's input size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resize {
    /// Plain resize to the input size (aspect ratio not kept).
    Stretch,
    /// Keep aspect ratio, centre, pad the rest with `pad` (0..255, before normalisation).
    Letterbox { pad: u8 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ResizeKind {
    Stretch,
    Letterbox,
}

/// The model's image input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    pub name: String,
    pub layout: Layout,
    pub width: u32,
    pub height: u32,
    pub colour: ColourOrder,
    pub resize: Resize,
    /// Pixel value v (0..255) becomes `(v * scale - mean[c]) / std[c]`, c in the model's colour order.
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl InputSpec {
    /// The input tensor's shape in the manifest's layout, batch 1.
    pub fn shape(&self) -> [usize; 4] {
        let (w, h) = (self.width as usize, self.height as usize);
        match self.layout {
            Layout::Nhwc => [1, h, w, 3],
            Layout::Nchw => [1, 3, h, w],
        }
    }
}

/// Box encoding of end-to-end rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BoxFormat {
    Xyxy,
    Cxcywh,
}

/// Unit of end-to-end box coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coords {
    /// Pixels of the model input (e.g. 0..512).
    InputPixels,
    /// 0..1 of the model input's width/height.
    Normalised,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum DecoderKind {
    EndToEnd,
    Yolov8,
    Yolov5,
    Nanodet,
    Blazeface,
}

/// One level of SSD-style anchors: a `grid`×`grid` lattice over the input with `per_cell` anchors per cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorLevel {
    pub grid: u32,
    pub per_cell: u32,
}

/// How to turn the model's outputs into boxes.
#[derive(Debug, Clone, PartialEq)]
pub enum DecoderSpec {
    /// Rows `[x1,y1,x2,y2,score,class]` (or cx,cy,w,h), NMS may already be done in the graph.
    EndToEnd { tensor: Option<String>, box_format: BoxFormat, coords: Coords },
    /// Ultralytics v8/11: `[1,4+C,N]` or `[1,N,4+C]`, cx,cy,w,h in input pixels, no objectness.
    Yolov8 { tensor: Option<String> },
    /// Ultralytics v5: `[1,N,5+C]`, cx,cy,w,h,objectness, class probabilities.
    Yolov5 { tensor: Option<String> },
    /// NanoDet GFL head: per stride, scores `[1,n,C]` and distributions `[1,n,4*(reg_max+1)]`.
    Nanodet { strides: Vec<u32>, reg_max: u32 },
    /// MediaPipe BlazeFace: score logits and dx,dy,w,h regressors per anchor (see `decode::blazeface`).
    Blazeface { anchors: Vec<AnchorLevel> },
}

impl DecoderSpec {
    pub fn name(&self) -> &'static str {
        match self {
            DecoderSpec::EndToEnd { .. } => "end_to_end",
            DecoderSpec::Yolov8 { .. } => "yolov8",
            DecoderSpec::Yolov5 { .. } => "yolov5",
            DecoderSpec::Nanodet { .. } => "nanodet",
            DecoderSpec::Blazeface { .. } => "blazeface",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutputSpec {
    pub decoder: DecoderSpec,
    /// At most this many detections per frame (highest scores kept).
    pub max_detections: usize,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Keep detections scoring at least this (0, 1].
    pub score: f32,
    /// Same-class boxes overlapping more than this IoU are suppressed (0, 1].
    pub nms_iou: f32,
}

/// A validated model manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    pub sha256: String,
    pub licence: Option<String>,
    pub source: Option<String>,
    pub input: InputSpec,
    pub output: OutputSpec,
    pub thresholds: Thresholds,
    pub classes: Vec<Arc<str>>,
    manifest_path: PathBuf,
    model_path: PathBuf,
}

pub const DEFAULT_MAX_DETECTIONS: usize = 300;
const DEFAULT_LETTERBOX_PAD: u8 = 114;
const MAX_INPUT_SIDE: u32 = 8192;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    name: Spanned<String>,
    version: Spanned<String>,
    file: Spanned<PathBuf>,
    sha256: Spanned<String>,
    licence: Option<String>,
    source: Option<String>,
    input: RawInput,
    output: RawOutput,
    thresholds: RawThresholds,
    classes: Spanned<RawClasses>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    name: Spanned<String>,
    layout: Layout,
    width: Spanned<u32>,
    height: Spanned<u32>,
    colour: ColourOrder,
    resize: Option<ResizeKind>,
    pad_value: Option<Spanned<u8>>,
    scale: Option<Spanned<f32>>,
    mean: Option<Spanned<[f32; 3]>>,
    std: Option<Spanned<[f32; 3]>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    decoder: DecoderKind,
    tensor: Option<Spanned<String>>,
    box_format: Option<Spanned<BoxFormat>>,
    coords: Option<Spanned<Coords>>,
    strides: Option<Spanned<Vec<u32>>>,
    reg_max: Option<Spanned<u32>>,
    anchors: Option<Spanned<Vec<AnchorLevel>>>,
    max_detections: Option<Spanned<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    score: Spanned<f32>,
    nms_iou: Spanned<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClasses {
    names: Option<Spanned<Vec<String>>>,
    file: Option<Spanned<PathBuf>>,
}

/// Collects diagnostics for one manifest file.
struct Problems<'a> {
    file: &'a Path,
    text: &'a str,
    list: Vec<Diagnostic>,
}

impl Problems<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.list.push(Diagnostic::at(self.file, self.text, span, message));
    }
    fn nowhere(&mut self, message: impl Into<String>) {
        self.list.push(Diagnostic::new(self.file, message));
    }
}

impl Manifest {
    /// Loads and validates a manifest; the model file is `file` relative to the manifest's folder.
    pub fn load(path: &Path) -> Result<Manifest, Vec<Diagnostic>> {
        Self::load_inner(path, None)
    }

    /// Like [`Manifest::load`] but with the model file at `model_file` instead of the manifest's `file`
    /// (checksum still verified): for models kept outside the manifest's folder, e.g. shared test data.
    pub fn load_with_file(path: &Path, model_file: &Path) -> Result<Manifest, Vec<Diagnostic>> {
        Self::load_inner(path, Some(model_file))
    }

    /// Parses manifest text as if read from `path` (the model file is still looked up and hashed).
    pub fn parse(path: &Path, text: &str, model_file: Option<&Path>) -> Result<Manifest, Vec<Diagnostic>> {
        let raw: RawManifest = parse_toml(path, text).map_err(|d| vec![d])?;
        let mut p = Problems { file: path, text, list: Vec::new() };
        let manifest = validate(raw, path, model_file, &mut p);
        match manifest {
            Some(m) if p.list.is_empty() => Ok(m),
            _ => Err(p.list),
        }
    }

    fn load_inner(path: &Path, model_file: Option<&Path>) -> Result<Manifest, Vec<Diagnostic>> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![Diagnostic::new(path, format!("cannot read model manifest: {e}"))])?;
        Self::parse(path, &text, model_file)
    }

    /// The model file (absolute or relative to the current directory, as the manifest path was given).
    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    pub fn manifest_path(&self) -> &Path {
        &self.manifest_path
    }

    /// "name@version+sha256:<first 8 hex digits>", stable across machines.
    pub fn model_id(&self) -> String {
        format!("{}@{}+sha256:{}", self.name, self.version, &self.sha256[..8.min(self.sha256.len())])
    }
}

fn validate(raw: RawManifest, path: &Path, model_file: Option<&Path>, p: &mut Problems) -> Option<Manifest> {
    let dir = path.parent().unwrap_or(Path::new("."));
    for (field, value) in [("name", &raw.name), ("version", &raw.version)] {
        if value.get_ref().trim().is_empty() {
            p.at(value.span(), format!("`{field}` must not be empty"));
        }
    }

    let sha256 = raw.sha256.get_ref().to_ascii_lowercase();
    let sha_ok = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
    if !sha_ok {
        p.at(raw.sha256.span(), "`sha256` must be 64 hexadecimal digits");
    }
    let model_path = match model_file {
        Some(f) => f.to_path_buf(),
        None => dir.join(raw.file.get_ref()),
    };
    match file_sha256(&model_path) {
        Err(e) => p.at(raw.file.span(), format!("model file {}: {e}", model_path.display())),
        Ok(actual) if sha_ok && actual != sha256 => p.at(
            raw.sha256.span(),
            format!("sha256 mismatch for {}: manifest says {sha256}, file has {actual}", model_path.display()),
        ),
        Ok(_) => {}
    }

    let input = validate_input(raw.input, p);
    let output = validate_output(raw.output, p);
    let thresholds = validate_thresholds(&raw.thresholds, p);
    let classes = validate_classes(&raw.classes, dir, p);

    Some(Manifest {
        name: raw.name.into_inner(),
        version: raw.version.into_inner(),
        sha256,
        licence: raw.licence,
        source: raw.source,
        input: input?,
        output: output?,
        thresholds,
        classes: classes?,
        manifest_path: path.to_path_buf(),
        model_path,
    })
}

fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

fn validate_input(raw: RawInput, p: &mut Problems) -> Option<InputSpec> {
    if raw.name.get_ref().is_empty() {
        p.at(raw.name.span(), "input `name` must not be empty");
    }
    for side in [&raw.width, &raw.height] {
        let v = *side.get_ref();
        if v == 0 || v > MAX_INPUT_SIDE {
            p.at(side.span(), format!("input size must be 1..={MAX_INPUT_SIDE}, got {v}"));
        }
    }
    let resize = match (raw.resize.unwrap_or(ResizeKind::Stretch), &raw.pad_value) {
        (ResizeKind::Stretch, Some(pad)) => {
            p.at(pad.span(), "`pad_value` only applies to resize = \"letterbox\"");
            Resize::Stretch
        }
        (ResizeKind::Stretch, None) => Resize::Stretch,
        (ResizeKind::Letterbox, pad) => {
            Resize::Letterbox { pad: pad.as_ref().map(|s| *s.get_ref()).unwrap_or(DEFAULT_LETTERBOX_PAD) }
        }
    };
    let scale = raw.scale.as_ref().map(|s| *s.get_ref()).unwrap_or(1.0);
    if let Some(s) = &raw.scale {
        if !(scale.is_finite() && scale > 0.0) {
            p.at(s.span(), format!("`scale` must be a positive number, got {scale}"));
        }
    }
    let mean = raw.mean.as_ref().map(|s| *s.get_ref()).unwrap_or([0.0; 3]);
    if let Some(m) = &raw.mean {
        if mean.iter().any(|v| !v.is_finite()) {
            p.at(m.span(), "`mean` values must be finite");
        }
    }
    let std = raw.std.as_ref().map(|s| *s.get_ref()).unwrap_or([1.0; 3]);
    if let Some(s) = &raw.std {
        if std.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
            p.at(s.span(), format!("`std` values must be positive, got {std:?}"));
        }
    }
    Some(InputSpec {
        name: raw.name.into_inner(),
        layout: raw.layout,
        width: *raw.width.get_ref(),
        height: *raw.height.get_ref(),
        colour: raw.colour,
        resize,
        scale,
        mean,
        std,
    })
}

fn validate_output(raw: RawOutput, p: &mut Problems) -> Option<OutputSpec> {
    let decoder_name = match raw.decoder {
        DecoderKind::EndToEnd => "end_to_end",
        DecoderKind::Yolov8 => "yolov8",
        DecoderKind::Yolov5 => "yolov5",
        DecoderKind::Nanodet => "nanodet",
        DecoderKind::Blazeface => "blazeface",
    };
    // Keys that belong to another decoder are mistakes (likely a copied manifest), not silently ignored.
    let mut not_for = |key: &str, span: Option<Range<usize>>, allowed: &[DecoderKind]| {
        if let Some(span) = span {
            if !allowed.contains(&raw.decoder) {
                p.at(span, format!("`{key}` does not apply to decoder \"{decoder_name}\""));
            }
        }
    };
    use DecoderKind::*;
    not_for("tensor", raw.tensor.as_ref().map(|s| s.span()), &[EndToEnd, Yolov8, Yolov5]);
    not_for("box_format", raw.box_format.as_ref().map(|s| s.span()), &[EndToEnd]);
    not_for("coords", raw.coords.as_ref().map(|s| s.span()), &[EndToEnd]);
    not_for("strides", raw.strides.as_ref().map(|s| s.span()), &[Nanodet]);
    not_for("reg_max", raw.reg_max.as_ref().map(|s| s.span()), &[Nanodet]);
    not_for("anchors", raw.anchors.as_ref().map(|s| s.span()), &[Blazeface]);

    let tensor = raw.tensor.as_ref().map(|s| s.get_ref().clone());
    let decoder = match raw.decoder {
        EndToEnd => DecoderSpec::EndToEnd {
            tensor,
            box_format: raw.box_format.as_ref().map(|s| *s.get_ref()).unwrap_or(BoxFormat::Xyxy),
            coords: raw.coords.as_ref().map(|s| *s.get_ref()).unwrap_or(Coords::InputPixels),
        },
        Yolov8 => DecoderSpec::Yolov8 { tensor },
        Yolov5 => DecoderSpec::Yolov5 { tensor },
        Nanodet => {
            let strides = raw.strides.as_ref().map(|s| s.get_ref().clone()).unwrap_or_else(|| vec![8, 16, 32]);
            if let Some(s) = &raw.strides {
                if strides.is_empty() || strides.iter().any(|&v| v == 0 || v > 1024) {
                    p.at(s.span(), format!("`strides` must be a non-empty list of 1..=1024, got {strides:?}"));
                }
            }
            let reg_max = raw.reg_max.as_ref().map(|s| *s.get_ref()).unwrap_or(7);
            if let Some(r) = &raw.reg_max {
                if reg_max == 0 || reg_max > 64 {
                    p.at(r.span(), format!("`reg_max` must be 1..=64, got {reg_max}"));
                }
            }
            DecoderSpec::Nanodet { strides, reg_max }
        }
        Blazeface => DecoderSpec::Blazeface { anchors: validate_anchors(raw.anchors.as_ref(), p)? },
    };
    let max_detections = raw.max_detections.as_ref().map(|s| *s.get_ref()).unwrap_or(DEFAULT_MAX_DETECTIONS);
    if let Some(m) = &raw.max_detections {
        if max_detections == 0 || max_detections > 100_000 {
            p.at(m.span(), format!("`max_detections` must be 1..=100000, got {max_detections}"));
        }
    }
    Some(OutputSpec { decoder, max_detections })
}

/// Anchor levels are required for blazeface: the grid is not visible in the model's output shapes alone.
fn validate_anchors(raw: Option<&Spanned<Vec<AnchorLevel>>>, p: &mut Problems) -> Option<Vec<AnchorLevel>> {
    let Some(raw) = raw else {
        p.nowhere("decoder \"blazeface\" needs `anchors` in [output], e.g. [{grid = 16, per_cell = 2}, {grid = 8, per_cell = 6}]");
        return None;
    };
    let levels = raw.get_ref();
    if levels.is_empty() || levels.iter().any(|l| l.grid == 0 || l.grid > 1024 || l.per_cell == 0 || l.per_cell > 64) {
        p.at(raw.span(), "`anchors` must be a non-empty list of {grid = 1..=1024, per_cell = 1..=64}");
        return None;
    }
    Some(levels.clone())
}

fn validate_thresholds(raw: &RawThresholds, p: &mut Problems) -> Thresholds {
    for (key, v) in [("score", &raw.score), ("nms_iou", &raw.nms_iou)] {
        let x = *v.get_ref();
        if !(x > 0.0 && x <= 1.0) {
            p.at(v.span(), format!("`{key}` must be in (0, 1], got {x}"));
        }
    }
    Thresholds { score: *raw.score.get_ref(), nms_iou: *raw.nms_iou.get_ref() }
}

fn validate_classes(raw: &Spanned<RawClasses>, dir: &Path, p: &mut Problems) -> Option<Vec<Arc<str>>> {
    let (names, span) = match (&raw.get_ref().names, &raw.get_ref().file) {
        (Some(names), None) => (names.get_ref().clone(), names.span()),
        (None, Some(file)) => {
            let path = dir.join(file.get_ref());
            match std::fs::read_to_string(&path) {
                Ok(text) => (text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect(), file.span()),
                Err(e) => {
                    p.at(file.span(), format!("classes file {}: {e}", path.display()));
                    return None;
                }
            }
        }
        _ => {
            p.at(raw.span(), "[classes] needs exactly one of `names` (a list) or `file` (one name a line)");
            return None;
        }
    };
    if names.is_empty() {
        p.at(span, "the class list is empty");
        return None;
    }
    if let Some(i) = names.iter().position(|n| n.trim().is_empty()) {
        p.at(span.clone(), format!("class {i} has an empty name"));
    }
    if names.len() > u32::MAX as usize {
        p.nowhere("too many classes");
    }
    Some(names.into_iter().map(Arc::from).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL_BYTES: &[u8] = b"not really onnx, only hashed here";

    fn sha() -> String {
        hex::encode(Sha256::digest(MODEL_BYTES))
    }

    fn good(sha: &str) -> String {
        format!(
            r#"name = "test"
version = "1.0.0"
file = "m.onnx"
sha256 = "{sha}"

[input]
name = "images"
layout = "nchw"
width = 640
height = 480
colour = "rgb"
resize = "letterbox"
scale = 0.00392156862

[output]
decoder = "yolov8"

[thresholds]
score = 0.25
nms_iou = 0.45

[classes]
names = ["person", "car"]
"#
        )
    }

    fn load(text: &str) -> (tempfile::TempDir, Result<Manifest, Vec<Diagnostic>>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.onnx"), MODEL_BYTES).unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(&path, text).unwrap();
        let r = Manifest::load(&path);
        (dir, r)
    }

    fn places(diags: &[Diagnostic]) -> Vec<(Option<(usize, usize)>, String)> {
        diags.iter().map(|d| (d.place, d.message.clone())).collect()
    }

    #[test]
    fn a_good_manifest_loads() {
        let (dir, m) = load(&good(&sha()));
        let m = m.unwrap();
        assert_eq!(m.model_path(), dir.path().join("m.onnx"));
        assert_eq!(m.input.resize, Resize::Letterbox { pad: 114 });
        assert_eq!(m.input.shape(), [1, 3, 480, 640]);
        assert_eq!(m.output.decoder, DecoderSpec::Yolov8 { tensor: None });
        assert_eq!(m.output.max_detections, DEFAULT_MAX_DETECTIONS);
        assert_eq!(m.classes.len(), 2);
        assert_eq!(m.model_id(), format!("test@1.0.0+sha256:{}", &sha()[..8]));
    }

    #[test]
    fn every_problem_is_reported_at_its_place() {
        let text = good(&sha())
            .replace("score = 0.25", "score = 1.5")
            .replace("width = 640", "width = 0")
            .replace("names = [\"person\", \"car\"]", "names = []")
            .replace("decoder = \"yolov8\"", "decoder = \"yolov8\"\nreg_max = 7");
        let (_dir, r) = load(&text);
        let diags = r.unwrap_err();
        let got = places(&diags);
        assert_eq!(got.len(), 4, "{got:?}");
        assert!(got.contains(&(Some((9, 9)), "input size must be 1..=8192, got 0".into())), "{got:?}");
        assert!(got.contains(&(Some((17, 11)), "`reg_max` does not apply to decoder \"yolov8\"".into())), "{got:?}");
        assert!(got.contains(&(Some((20, 9)), "`score` must be in (0, 1], got 1.5".into())), "{got:?}");
        assert!(got.contains(&(Some((24, 9)), "the class list is empty".into())), "{got:?}");
        // Display form is file:line:col: message.
        assert!(diags[0].to_string().contains("m.toml:"), "{}", diags[0]);
    }

    #[test]
    fn checksum_mismatch_names_both_sums() {
        let wrong = "ab".repeat(32);
        let (_dir, r) = load(&good(&wrong));
        let got = places(&r.unwrap_err());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, Some((4, 10)));
        assert!(got[0].1.contains(&wrong) && got[0].1.contains(&sha()), "{}", got[0].1);
    }

    #[test]
    fn missing_model_and_classes_file_are_located() {
        let text = good(&sha())
            .replace("file = \"m.onnx\"", "file = \"gone.onnx\"")
            .replace("names = [\"person\", \"car\"]", "file = \"coco.names\"");
        let (_dir, r) = load(&text);
        let got = places(&r.unwrap_err());
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].0, Some((3, 8)));
        assert!(got[0].1.contains("gone.onnx"), "{}", got[0].1);
        assert_eq!(got[1].0, Some((23, 8)));
        assert!(got[1].1.starts_with("classes file"), "{}", got[1].1);
    }

    #[test]
    fn syntax_errors_and_unknown_keys_are_located() {
        let (_dir, r) = load(&good(&sha()).replace("colour = \"rgb\"", "color = \"rgb\""));
        let got = places(&r.unwrap_err());
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.map(|p| p.0), Some(11), "{got:?}");
        let (_dir, r) = load(&good("xyz"));
        assert!(places(&r.unwrap_err())[0].1.contains("64 hexadecimal"));
    }

    #[test]
    fn blazeface_needs_valid_anchors_and_other_decoders_refuse_them() {
        let face = |anchors: &str| good(&sha()).replace("decoder = \"yolov8\"", &format!("decoder = \"blazeface\"{anchors}"));
        let (_dir, m) = load(&face("\nanchors = [{ grid = 16, per_cell = 2 }, { grid = 8, per_cell = 6 }]"));
        let anchors = vec![AnchorLevel { grid: 16, per_cell: 2 }, AnchorLevel { grid: 8, per_cell: 6 }];
        assert_eq!(m.unwrap().output.decoder, DecoderSpec::Blazeface { anchors });
        let (_dir, r) = load(&face(""));
        assert!(places(&r.unwrap_err())[0].1.contains("needs `anchors`"));
        let (_dir, r) = load(&face("\nanchors = [{ grid = 0, per_cell = 2 }]"));
        assert!(places(&r.unwrap_err())[0].1.contains("non-empty list"));
        let (_dir, r) = load(&face("\nanchors = [{ grid = 4, cells = 2 }]"));
        assert!(r.is_err());
        let (_dir, r) = load(&good(&sha()).replace("decoder = \"yolov8\"", "decoder = \"yolov8\"\nanchors = [{ grid = 4, per_cell = 1 }]"));
        assert!(places(&r.unwrap_err())[0].1.contains("`anchors` does not apply to decoder \"yolov8\""));
    }

    #[test]
    fn model_file_override_is_still_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("elsewhere.onnx");
        std::fs::write(&other, MODEL_BYTES).unwrap();
        let path = dir.path().join("m.toml");
        std::fs::write(&path, good(&sha()).replace("m.onnx", "absent.onnx")).unwrap();
        assert_eq!(Manifest::load_with_file(&path, &other).unwrap().model_path(), other);
        std::fs::write(&other, b"tampered").unwrap();
        assert!(Manifest::load_with_file(&path, &other).is_err());
    }
}
