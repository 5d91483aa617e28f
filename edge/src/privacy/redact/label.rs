//! The redaction label: a JPEG comment (COM segment) in every redacted image that says which regions were
//! destroyed, by which redactor and models.
//!
//! It travels with the image wherever it goes (dashboard, outbox, MQTT, a consumer's archive), so anyone
//! holding a snapshot can audit it: run their own person and face detectors and check that nothing is
//! found outside the listed regions. It reveals nothing the image does not show: the destroyed areas
//! are plain to see.
//!
//! ```text
//! FF D8 | FF FE <len> kaiteki-redaction-v1 {"redactor":…,"width":640,"height":480,"regions":[["face",10,20,40,60],…]} | …
//! ```

use serde::{Deserialize, Serialize};

use super::redacted::RedactionInfo;

/// The comment starts with this, then one space, then the JSON.
pub const LABEL_FORMAT: &str = "kaiteki-redaction-v1";

/// A COM segment holds at most 65 533 bytes of text; labels larger than this list no regions.
const MAX_COMMENT: usize = 65_533;

/// What the comment says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedactionLabel {
    pub redactor: String,
    pub object_model: String,
    pub face_model: String,
    /// The JPEG's size, pixels: the regions' coordinate space.
    pub width: u32,
    pub height: u32,
    /// `[label, x1, y1, x2, y2]` per destroyed region, whole pixels (rounded outwards).
    pub regions: Vec<(String, u32, u32, u32, u32)>,
    /// True when there were too many regions to list (the image is redacted all the same).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl RedactionLabel {
    pub fn of(info: &RedactionInfo) -> Self {
        let regions = info
            .regions
            .iter()
            .map(|r| {
                let b = &r.bbox;
                (r.label.clone(), b.x1.floor().max(0.0) as u32, b.y1.floor().max(0.0) as u32, b.x2.ceil() as u32, b.y2.ceil() as u32)
            })
            .collect();
        Self {
            redactor: info.redactor.clone(),
            object_model: info.object_model.clone(),
            face_model: info.face_model.clone(),
            width: info.width,
            height: info.height,
            regions,
            truncated: false,
        }
    }

    /// The comment's bytes (at most [`MAX_COMMENT`]).
    pub fn to_comment(&self) -> Vec<u8> {
        let text = |l: &RedactionLabel| format!("{LABEL_FORMAT} {}", serde_json::to_string(l).unwrap_or_default()).into_bytes();
        let full = text(self);
        if full.len() <= MAX_COMMENT {
            return full;
        }
        text(&RedactionLabel { regions: Vec::new(), truncated: true, ..self.clone() })
    }

    /// Whether pixel (`x`, `y`) lies in a listed region.
    pub fn covers(&self, x: f32, y: f32) -> bool {
        self.regions.iter().any(|(_, x1, y1, x2, y2)| x >= *x1 as f32 && x <= *x2 as f32 && y >= *y1 as f32 && y <= *y2 as f32)
    }
}

/// The JPEG with `comment` as a COM segment right after its start-of-image marker.
pub fn with_comment(jpeg: &[u8], comment: &[u8]) -> Option<Vec<u8>> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) || comment.len() > MAX_COMMENT {
        return None;
    }
    let len = (comment.len() + 2) as u16;
    let mut out = Vec::with_capacity(jpeg.len() + comment.len() + 4);
    out.extend_from_slice(&jpeg[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(&jpeg[2..]);
    Some(out)
}

/// Reads the redaction label of a JPEG: the first COM segment before the image data that starts with
/// [`LABEL_FORMAT`]. None for an image without one (not from this redactor) or a malformed file.
pub fn read_label(jpeg: &[u8]) -> Option<RedactionLabel> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    // Walk the marker segments up to the start of scan.
    while i + 4 <= jpeg.len() {
        if jpeg[i] != 0xFF {
            return None;
        }
        let marker = jpeg[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            return None;
        }
        let len = u16::from_be_bytes([jpeg[i + 2], jpeg[i + 3]]) as usize;
        if len < 2 || i + 2 + len > jpeg.len() {
            return None;
        }
        let body = &jpeg[i + 4..i + 2 + len];
        if marker == 0xFE {
            if let Some(json) = body.strip_prefix(LABEL_FORMAT.as_bytes()).and_then(|r| r.strip_prefix(b" ")) {
                return serde_json::from_slice(json).ok();
            }
        }
        i += 2 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::BBox;
    use crate::privacy::redact::redacted::{RedactedRegion, RegionKind};

    fn info(n: usize) -> RedactionInfo {
        RedactionInfo {
            width: 640,
            height: 480,
            source_width: 1280,
            source_height: 960,
            quality: 75,
            regions: (0..n)
                .map(|i| RedactedRegion { kind: RegionKind::Face, label: "face".into(), score: 0.9, bbox: BBox::new(10.4, 20.0 + i as f32, 40.2, 60.7) })
                .collect(),
            redactor: "kaiteki-redact/1".into(),
            object_model: "centernet@1".into(),
            face_model: "blazeface@1".into(),
        }
    }

    fn tiny_jpeg() -> Vec<u8> {
        let mut buf = Vec::new();
        image::codecs::jpeg::JpegEncoder::new(&mut buf).encode(&[128u8; 8 * 8 * 3], 8, 8, image::ExtendedColorType::Rgb8).unwrap();
        buf
    }

    #[test]
    fn the_label_round_trips_and_the_image_still_decodes() {
        let label = RedactionLabel::of(&info(2));
        assert_eq!(label.regions[0], ("face".to_string(), 10, 20, 41, 61), "rounded outwards");
        let jpeg = with_comment(&tiny_jpeg(), &label.to_comment()).unwrap();
        assert_eq!(read_label(&jpeg), Some(label.clone()));
        assert!(label.covers(10.0, 20.0) && label.covers(41.0, 61.0) && !label.covers(42.0, 30.0));
        let img = image::load_from_memory_with_format(&jpeg, image::ImageFormat::Jpeg).expect("a labelled JPEG decodes");
        assert_eq!((img.width(), img.height()), (8, 8));
    }

    #[test]
    fn images_without_a_label_and_broken_files_give_none() {
        assert_eq!(read_label(&tiny_jpeg()), None);
        assert_eq!(read_label(b""), None);
        assert_eq!(read_label(&[0xFF, 0xD8, 0xFF, 0xFE, 0x00]), None);
        assert_eq!(read_label(&[0xFF, 0xD8, 0xFF, 0xFE, 0xFF, 0xFF, b'k']), None, "a length past the end");
        let other = with_comment(&tiny_jpeg(), b"made with something else").unwrap();
        assert_eq!(read_label(&other), None);
        let bad_json = with_comment(&tiny_jpeg(), format!("{LABEL_FORMAT} {{not json").as_bytes()).unwrap();
        assert_eq!(read_label(&bad_json), None);
        assert_eq!(with_comment(b"GIF89a", b"x"), None);
    }

    #[test]
    fn too_many_regions_to_list_say_so() {
        let label = RedactionLabel::of(&info(3000));
        let comment = label.to_comment();
        assert!(comment.len() <= MAX_COMMENT);
        let jpeg = with_comment(&tiny_jpeg(), &comment).unwrap();
        let back = read_label(&jpeg).unwrap();
        assert!(back.truncated && back.regions.is_empty());
    }

    proptest::proptest! {
        #[test]
        fn read_label_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
            let mut jpeg = vec![0xFF, 0xD8];
            jpeg.extend(bytes);
            let _ = read_label(&jpeg);
        }
    }
}
