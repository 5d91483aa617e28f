//! The redactor: the one way from a raw frame to bytes that may leave the process.
//!
//! Per frame, on the raw pixels: the object detector (run at a low threshold: a missed person is a privacy
//! leak, a false one only a grey box) finds people and vehicles; the face detector runs on multi-scale
//! windows and on each person's head window so that small and distant faces are found too. Every box is
//! grown by a margin, clamped and destroyed on a copy of the frame (objects by `method`, faces always
//! filled), and the copy is encoded as a size-bounded JPEG. If any detector fails, nothing is produced:
//! the redactor fails closed.

mod encode;
pub mod faces;
mod redacted;
pub mod mask;
pub mod tiles;

use std::time::{Duration, Instant};

use image::RgbImage;

use self::encode::{encode, JpegBounds};
use self::mask::{Canvas, Rect, FILL_RGB};
use crate::infer::{BBox, DetectParams, Detection, Detector, InferError};
use crate::source::frame::FrameView;

pub use self::encode::QUALITIES;
pub use self::redacted::{RedactedImage, RedactedRegion, RedactionInfo, RegionKind};

/// Redactor version written into every [`RedactionInfo`].
pub const REDACTOR_VERSION: &str = "kaiteki-redact/1";

/// How people and vehicles are destroyed (faces are always filled).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Solid grey: nothing survives. The default.
    #[default]
    Fill,
    /// Coarse, quantised blocks (see `mask`): keeps the scene readable, not the people.
    Pixelate,
}

impl Method {
    fn name(self) -> &'static str {
        match self {
            Method::Fill => "fill",
            Method::Pixelate => "pixelate",
        }
    }
}

/// Everything the redactor needs besides its two detectors.
#[derive(Debug, Clone, PartialEq)]
pub struct RedactOptions {
    /// Object-detector labels whose boxes are destroyed.
    pub object_classes: Vec<String>,
    /// Object detector threshold: low on purpose (recall over precision).
    pub object_min_score: f32,
    pub face_min_score: f32,
    /// Each object box grows by this fraction of its width/height on every side.
    pub margin: f32,
    /// The same for faces (hair, ears and chin lie outside a face detector's box).
    pub face_margin: f32,
    pub method: Method,
    /// Overlap between neighbouring face-detector windows (fraction of the window side).
    pub tile_overlap: f32,
    /// Also search faces in the upper part of each person box.
    pub faces_in_people: bool,
    pub max_bytes: usize,
    pub max_side: u32,
}

/// Labels destroyed by default: people and road users (their plates included).
pub const DEFAULT_OBJECT_CLASSES: [&str; 6] = ["person", "bicycle", "car", "motorcycle", "bus", "truck"];

impl Default for RedactOptions {
    fn default() -> Self {
        Self {
            object_classes: DEFAULT_OBJECT_CLASSES.iter().map(|s| s.to_string()).collect(),
            object_min_score: 0.15,
            face_min_score: 0.5,
            margin: 0.15,
            face_margin: 0.3,
            method: Method::Fill,
            tile_overlap: 0.25,
            faces_in_people: true,
            max_bytes: 200_000,
            max_side: 1280,
        }
    }
}

impl RedactOptions {
    /// Every out-of-range value, in words (empty when all is well). Class names are checked against the
    /// object model by [`Redactor::new`].
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (what, v) in [("object_min_score", self.object_min_score), ("face_min_score", self.face_min_score)] {
            if !(v > 0.0 && v <= 1.0) {
                problems.push(format!("{what} must be in (0, 1], got {v}"));
            }
        }
        for (what, v, hi) in [("margin", self.margin, 2.0), ("face_margin", self.face_margin, 2.0), ("tile_overlap", self.tile_overlap, 0.9)] {
            if !(v >= 0.0 && v <= hi) {
                problems.push(format!("{what} must be in [0, {hi}], got {v}"));
            }
        }
        if self.object_classes.is_empty() {
            problems.push("object_classes must not be empty".into());
        }
        if self.max_bytes < MIN_MAX_BYTES {
            problems.push(format!("max_bytes must be at least {MIN_MAX_BYTES}, got {}", self.max_bytes));
        }
        if self.max_side < MIN_MAX_SIDE {
            problems.push(format!("max_side must be at least {MIN_MAX_SIDE}, got {}", self.max_side));
        }
        problems
    }
}

/// Smallest accepted `max_bytes`: below this even a thumbnail does not fit.
pub const MIN_MAX_BYTES: usize = 4096;
/// Smallest accepted `max_side`.
pub const MIN_MAX_SIDE: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// Bad options or a detector that cannot do the job (e.g. a class it does not know).
    #[error("redactor configuration: {0}")]
    Config(String),
    /// A detector failed on this frame: no image is produced (fail closed).
    #[error("{stage} detector failed, no image produced: {source}")]
    Detector { stage: &'static str, source: InferError },
    #[error("JPEG encoding failed: {0}")]
    Encode(String),
    /// Even the lowest quality at `max_side` is larger than `max_bytes`.
    #[error("redacted image does not fit {max_bytes} bytes ({width}x{height}: {smallest} bytes at the lowest quality)")]
    TooLarge { max_bytes: usize, smallest: usize, width: u32, height: u32 },
}

/// A region to destroy, in frame pixels, before margins.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub kind: RegionKind,
    pub detection: Detection,
}

/// Wall time of one [`Redactor::redact`] call by stage.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactTimes {
    pub objects: Duration,
    pub faces: Duration,
    pub face_windows: usize,
    pub mask_and_encode: Duration,
}

/// Turns raw frames into [`RedactedImage`]s. Holds its two detectors; one per worker thread.
pub struct Redactor {
    objects: Box<dyn Detector>,
    faces: Box<dyn Detector>,
    /// `wanted[class_id]`: is this object class destroyed.
    wanted: Vec<bool>,
    person: Option<u32>,
    opts: RedactOptions,
    id: String,
    last_times: RedactTimes,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("id", &self.id)
            .field("objects", &self.objects.model_id())
            .field("faces", &self.faces.model_id())
            .finish()
    }
}

impl Redactor {
    /// Checks the options against the detectors: every class in `object_classes` must be one of the object
    /// model's labels, fractions in range, bounds non-zero.
    pub fn new(objects: Box<dyn Detector>, faces: Box<dyn Detector>, opts: RedactOptions) -> Result<Self, RedactError> {
        let mut problems = Vec::new();
        let classes = &objects.manifest().classes;
        let mut wanted = vec![false; classes.len()];
        for name in &opts.object_classes {
            match classes.iter().position(|c| &**c == name.as_str()) {
                Some(i) => wanted[i] = true,
                None => problems.push(format!("object model {} has no class {name:?}", objects.model_id())),
            }
        }
        problems.extend(opts.problems());
        if !problems.is_empty() {
            return Err(RedactError::Config(problems.join("; ")));
        }
        let person = classes.iter().position(|c| &**c == "person").map(|i| i as u32);
        let id = format!(
            "{REDACTOR_VERSION} objects:{} faces:fill margin:{}/{}",
            opts.method.name(),
            opts.margin,
            opts.face_margin
        );
        Ok(Self { objects, faces, wanted, person, opts, id, last_times: RedactTimes::default() })
    }

    /// "kaiteki-redact/1 objects:fill faces:fill margin:0.15/0.3".
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn options(&self) -> &RedactOptions {
        &self.opts
    }

    /// Stage times of the last [`Redactor::redact`] / [`Redactor::find`] call.
    pub fn last_times(&self) -> RedactTimes {
        self.last_times
    }

    /// Everything that will be destroyed in `frame`, in frame pixels, before margins. An error if either
    /// detector fails.
    pub fn find(&mut self, frame: FrameView<'_>) -> Result<Vec<Found>, RedactError> {
        let t0 = Instant::now();
        let params = DetectParams { min_score: Some(self.opts.object_min_score), nms_iou: None };
        let (dets, _) = self.objects.detect(frame, params).map_err(|source| RedactError::Detector { stage: "object", source })?;
        let objects: Vec<Detection> =
            dets.into_iter().filter(|d| self.wanted.get(d.class_id as usize).copied().unwrap_or(false)).collect();
        let t1 = Instant::now();

        let people: Vec<BBox> = match self.person {
            Some(p) if self.opts.faces_in_people => objects.iter().filter(|d| d.class_id == p).map(|d| d.bbox).collect(),
            _ => Vec::new(),
        };
        let input = &self.faces.manifest().input;
        let side = input.width.max(input.height);
        let windows = faces::windows(frame.width, frame.height, side, self.opts.tile_overlap, &people);
        let found_faces = faces::find(self.faces.as_mut(), frame, &windows, self.opts.face_min_score)
            .map_err(|source| RedactError::Detector { stage: "face", source })?;
        let t2 = Instant::now();
        self.last_times = RedactTimes { objects: t1 - t0, faces: t2 - t1, face_windows: windows.len(), mask_and_encode: Duration::ZERO };

        let mut found: Vec<Found> = objects.into_iter().map(|detection| Found { kind: RegionKind::Object, detection }).collect();
        found.extend(found_faces.into_iter().map(|detection| Found { kind: RegionKind::Face, detection }));
        Ok(found)
    }

    /// Detects, destroys and encodes. The only way to a [`RedactedImage`]. Fails closed: any detector
    /// error, and no image at all.
    pub fn redact(&mut self, frame: FrameView<'_>) -> Result<RedactedImage, RedactError> {
        let found = self.find(frame)?;
        let t0 = Instant::now();
        let (w, h) = (frame.width, frame.height);
        let mut pixels = frame.to_packed();
        let mut regions: Vec<(RegionKind, &Detection, Rect)> = Vec::with_capacity(found.len());
        {
            let mut canvas = Canvas { width: w, height: h, data: &mut pixels };
            // Objects first, faces last, so a face inside a pixelated body ends up filled.
            for kind in [RegionKind::Object, RegionKind::Face] {
                for f in found.iter().filter(|f| f.kind == kind) {
                    let margin = if kind == RegionKind::Face { self.opts.face_margin } else { self.opts.margin };
                    let Some(rect) = grown_rect(&f.detection.bbox, margin, w, h) else { continue };
                    match (kind, self.opts.method) {
                        (RegionKind::Object, Method::Pixelate) => canvas.pixelate(rect),
                        _ => canvas.fill(rect, FILL_RGB),
                    }
                    regions.push((kind, &f.detection, rect));
                }
            }
        }
        let img = RgbImage::from_raw(w, h, pixels).ok_or_else(|| RedactError::Encode("frame buffer size mismatch".into()))?;
        let enc = encode(img, JpegBounds { max_bytes: self.opts.max_bytes, max_side: self.opts.max_side })?;
        let (sx, sy) = (enc.width as f32 / w as f32, enc.height as f32 / h as f32);
        let regions = regions
            .into_iter()
            .map(|(kind, d, r)| RedactedRegion {
                kind,
                label: d.label.to_string(),
                score: d.score,
                bbox: BBox::new(r.x1 as f32 * sx, r.y1 as f32 * sy, r.x2 as f32 * sx, r.y2 as f32 * sy),
            })
            .collect();
        let info = RedactionInfo {
            width: enc.width,
            height: enc.height,
            source_width: w,
            source_height: h,
            quality: enc.quality,
            regions,
            redactor: self.id.clone(),
            object_model: self.objects.model_id().to_string(),
            face_model: self.faces.model_id().to_string(),
        };
        self.last_times.mask_and_encode = t0.elapsed();
        Ok(RedactedImage::new(enc.jpeg, info))
    }
}

/// The detection grown by `margin` on every side, clamped to the frame and rounded outwards to whole
/// pixels; None when nothing of it is inside the frame or it is not finite.
fn grown_rect(b: &BBox, margin: f32, w: u32, h: u32) -> Option<Rect> {
    let g = b.expand(margin).clamp(w as f32, h as f32);
    if !g.is_finite() || g.width() <= 0.0 || g.height() <= 0.0 {
        return None;
    }
    // Float→int casts saturate; the clamp above keeps them in 0..=w/h.
    Some(Rect { x1: g.x1.floor() as u32, y1: g.y1.floor() as u32, x2: (g.x2.ceil() as u32).min(w), y2: (g.y2.ceil() as u32).min(h) })
}

#[cfg(test)]
pub(crate) mod tests;
