//! The redactor: the one way from a raw frame to bytes that may leave the process.
//!
//! Per frame, on the raw pixels: the object detector (run at a low threshold: a missed person is a privacy
//! leak, a false one only a grey box) finds people and vehicles; the face detector runs on multi-scale
//! windows and on each person's head window so that small and distant faces are found too. Every box is
//! grown by a margin, clamped and destroyed on a copy of the frame (objects by `method`, faces always
//! filled), and the copy is encoded as a size-bounded JPEG that lists the destroyed regions in a comment
//! ([`label`]), so that anyone holding it can audit it. If any detector fails, nothing is produced: the
//! redactor fails closed.

mod encode;
pub mod faces;
pub mod label;
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
pub use self::label::{read_label, RedactionLabel};
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
            // Below the 0.5 at which the tests audit published snapshots: re-encoding moves scores a little,
            // and a face just under the redactor's threshold must not come out just over an auditor's.
            face_min_score: 0.35,
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
    /// The detectors still found something outside the destroyed regions of the encoded image.
    #[error("redaction check failed: {found} detection(s) outside the destroyed regions after {rounds} extra round(s); no image produced")]
    Unverified { found: usize, rounds: u32 },
}

/// Extra rounds of destroy-and-encode the output check may ask for before the redactor gives up.
pub const VERIFY_ROUNDS: u32 = 2;

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
    /// Masking, encoding and the output check (which runs both detectors again).
    pub mask_and_encode: Duration,
    /// Extra rounds the output check asked for (0: the first encoding passed).
    pub verify_rounds: u32,
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
        self.last_times =
            RedactTimes { objects: t1 - t0, faces: t2 - t1, face_windows: windows.len(), mask_and_encode: Duration::ZERO, verify_rounds: 0 };

        let mut found: Vec<Found> = objects.into_iter().map(|detection| Found { kind: RegionKind::Object, detection }).collect();
        found.extend(found_faces.into_iter().map(|detection| Found { kind: RegionKind::Face, detection }));
        Ok(found)
    }

    /// Detects, destroys, encodes, and checks its own output. The only way to a [`RedactedImage`]. Fails
    /// closed: any detector error, and no image at all.
    ///
    /// The check: both detectors run again on the decoded JPEG, as anyone auditing a published snapshot
    /// would. Destroying regions and re-encoding changes the picture a little, and a face just under the
    /// threshold, or a face-like pattern at the edge of a filled box, can then score above it; whatever
    /// is found outside the destroyed regions is destroyed too and the image encoded again, up to
    /// [`VERIFY_ROUNDS`] times. An image that still fails is not produced.
    pub fn redact(&mut self, frame: FrameView<'_>) -> Result<RedactedImage, RedactError> {
        let mut found = self.find(frame)?;
        let first = self.last_times;
        let t0 = Instant::now();
        let (w, h) = (frame.width, frame.height);
        // The output size is known before encoding, so the label (in output pixels) can be made first and
        // its bytes taken off the JPEG's budget: the labelled file stays within `max_bytes`.
        let (ew, eh) = encode::fit(w, h, self.opts.max_side);
        let (sx, sy) = (ew as f32 / w as f32, eh as f32 / h as f32);
        let mut round = 0;
        loop {
            let (jpeg, info) = self.paint_and_encode(frame, &found, (ew, eh))?;
            let leaks = self.leaks(&jpeg, &info)?;
            if leaks.is_empty() {
                self.last_times = RedactTimes { mask_and_encode: t0.elapsed(), verify_rounds: round, ..first };
                return Ok(RedactedImage::new(jpeg, info));
            }
            if round == VERIFY_ROUNDS {
                return Err(RedactError::Unverified { found: leaks.len(), rounds: round });
            }
            round += 1;
            tracing::debug!(round, found = leaks.len(), "redaction check found more to destroy on the encoded image");
            // Back into frame pixels, destroyed like the others on the next round.
            found.extend(leaks.into_iter().map(|mut f| {
                let b = f.detection.bbox;
                f.detection.bbox = BBox::new(b.x1 / sx, b.y1 / sy, b.x2 / sx, b.y2 / sy);
                f
            }));
        }
    }

    /// Destroys `found` on a copy of the frame and encodes it, labelled, within the bounds.
    fn paint_and_encode(&self, frame: FrameView<'_>, found: &[Found], (ew, eh): (u32, u32)) -> Result<(Vec<u8>, RedactionInfo), RedactError> {
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
        let (sx, sy) = (ew as f32 / w as f32, eh as f32 / h as f32);
        let regions = regions
            .into_iter()
            .map(|(kind, d, r)| RedactedRegion {
                kind,
                label: d.label.to_string(),
                score: d.score,
                bbox: BBox::new(r.x1 as f32 * sx, r.y1 as f32 * sy, r.x2 as f32 * sx, r.y2 as f32 * sy),
            })
            .collect();
        let mut info = RedactionInfo {
            width: ew,
            height: eh,
            source_width: w,
            source_height: h,
            quality: 0,
            regions,
            redactor: self.id.clone(),
            object_model: self.objects.model_id().to_string(),
            face_model: self.faces.model_id().to_string(),
        };
        let comment = label::RedactionLabel::of(&info).to_comment();
        let budget = self.opts.max_bytes.saturating_sub(comment.len() + 4);
        let enc = encode(img, JpegBounds { max_bytes: budget, max_side: self.opts.max_side }).map_err(|e| match e {
            // Said in terms of the whole file, label included.
            RedactError::TooLarge { smallest, width, height, .. } => {
                RedactError::TooLarge { max_bytes: self.opts.max_bytes, smallest: smallest + comment.len() + 4, width, height }
            }
            other => other,
        })?;
        debug_assert_eq!((enc.width, enc.height), (ew, eh));
        info.quality = enc.quality;
        let jpeg = label::with_comment(&enc.jpeg, &comment).ok_or_else(|| RedactError::Encode("cannot label the JPEG".into()))?;
        Ok((jpeg, info))
    }

    /// What the detectors find on the encoded image whose centre is outside every destroyed region, in
    /// output pixels.
    fn leaks(&mut self, jpeg: &[u8], info: &RedactionInfo) -> Result<Vec<Found>, RedactError> {
        let decoded = image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
            .map_err(|e| RedactError::Encode(format!("the encoded image does not decode: {e}")))?
            .to_rgb8();
        let (w, h) = decoded.dimensions();
        let view = FrameView::new(w, h, w as usize * 3, decoded.as_raw())
            .ok_or_else(|| RedactError::Encode("decoded image has an unexpected size".into()))?;
        let found = self.find(view)?;
        Ok(found
            .into_iter()
            .filter(|f| {
                let (cx, cy) = f.detection.bbox.centre();
                !info.covers(cx, cy)
            })
            .collect())
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
