//! [`RedactedImage`]: the only image type allowed to leave the process.
//!
//! Its fields are private and its one constructor is visible to the redactor alone, so holding a
//! `RedactedImage` proves the pixels went through [`Redactor::redact`](super::Redactor::redact). It has no
//! `Deserialize`, no `Default` and no `From<Vec<u8>>`: bytes from elsewhere cannot become one.
//!
//! ```compile_fail
//! // Outside the redactor a RedactedImage cannot be built: its fields are private.
//! let img = kaiteki::privacy::RedactedImage { jpeg: vec![0xFF, 0xD8, 0xFF], info: todo!() };
//! ```
//!
//! ```compile_fail
//! // Nor converted from bytes.
//! let img: kaiteki::privacy::RedactedImage = vec![0xFFu8, 0xD8, 0xFF].into();
//! ```
//!
//! ```compile_fail
//! // A raw frame cannot be serialised (it implements neither Serialize nor Clone).
//! use std::{sync::Arc, time::Duration};
//! let frame = kaiteki::source::frame::Frame::from_rgb(Arc::from("cam"), 0, Duration::ZERO, 1, 1, vec![0; 3]).unwrap();
//! let bytes = serde_json::to_vec(&frame);
//! ```
//!
//! The same code with the redacted metadata in place of the frame compiles (so the failures above are the
//! privacy guarantees, not typos):
//!
//! ```no_run
//! use std::{sync::Arc, time::Duration};
//! fn publish(img: &kaiteki::privacy::RedactedImage) -> Vec<u8> {
//!     let _meta = serde_json::to_vec(img.info()).unwrap();
//!     img.jpeg().to_vec()
//! }
//! let frame = kaiteki::source::frame::Frame::from_rgb(Arc::from("cam"), 0, Duration::ZERO, 1, 1, vec![0; 3]).unwrap();
//! let _geometry = format!("{frame:?}");
//! ```

use std::fmt;

use serde::Serialize;

use crate::infer::BBox;

/// Why a region was destroyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RegionKind {
    /// A face (face detector, whole frame, tiles or a person's upper part).
    Face,
    /// A person, bicycle, vehicle… (object detector); `label` says which.
    Object,
}

/// One destroyed region, in pixels of the output JPEG (after any downscale).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedactedRegion {
    pub kind: RegionKind,
    /// The detector's label ("face", "person", "car"…).
    pub label: String,
    pub score: f32,
    /// The destroyed area (detection grown by the margin, clamped, rounded outwards to whole pixels).
    pub bbox: BBox,
}

/// What a redacted image is, without its pixels: safe to log and publish as metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RedactionInfo {
    /// JPEG size in pixels.
    pub width: u32,
    pub height: u32,
    /// Size of the frame the image was made from.
    pub source_width: u32,
    pub source_height: u32,
    pub quality: u8,
    pub regions: Vec<RedactedRegion>,
    /// Redactor version and its settings in short, e.g. "kaiteki-redact/1 fill+pixelate".
    pub redactor: String,
    pub object_model: String,
    pub face_model: String,
}

impl RedactionInfo {
    /// Whether output pixel (`x`, `y`) lies in a destroyed region (edges included).
    pub fn covers(&self, x: f32, y: f32) -> bool {
        self.regions.iter().any(|r| x >= r.bbox.x1 && x <= r.bbox.x2 && y >= r.bbox.y1 && y <= r.bbox.y2)
    }
}

/// A JPEG whose people, faces and vehicles have been irreversibly destroyed, size-bounded.
#[derive(Clone)]
pub struct RedactedImage {
    jpeg: Vec<u8>,
    info: RedactionInfo,
}

impl RedactedImage {
    /// Only the redactor builds these.
    pub(super) fn new(jpeg: Vec<u8>, info: RedactionInfo) -> Self {
        Self { jpeg, info }
    }

    /// The JPEG bytes (at most the redactor's `max_bytes`).
    pub fn jpeg(&self) -> &[u8] {
        &self.jpeg
    }

    /// The JPEG bytes, for sinks that take ownership (e.g. the dashboard's `put_snapshot`).
    pub fn into_jpeg(self) -> Vec<u8> {
        self.jpeg
    }

    pub fn info(&self) -> &RedactionInfo {
        &self.info
    }

    pub fn width(&self) -> u32 {
        self.info.width
    }

    pub fn height(&self) -> u32 {
        self.info.height
    }

    pub fn regions(&self) -> &[RedactedRegion] {
        &self.info.regions
    }
}

impl fmt::Debug for RedactedImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedactedImage").field("bytes", &self.jpeg.len()).field("info", &self.info).finish()
    }
}
