//! Size-bounded JPEG encoding: a redacted image never exceeds `max_side` pixels nor `max_bytes` bytes.
//!
//! The image is first downscaled so its longer side is at most `max_side` (a smaller image is the cheapest
//! way to fewer bytes, and snapshots do not need full camera resolution), then encoded at falling quality
//! until it fits. If even the lowest quality does not fit, the caller gets an error, never a larger image.

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{ExtendedColorType, RgbImage};

use super::RedactError;

/// Qualities tried in order; below 30 a JPEG is blocky enough to be useless for its purpose.
pub const QUALITIES: [u8; 7] = [85, 75, 65, 55, 45, 38, 30];

/// Bounds for one encoded image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JpegBounds {
    pub max_bytes: usize,
    pub max_side: u32,
}

/// An encoded image: bytes, its size, the quality that fit.
pub struct Encoded {
    pub jpeg: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub quality: u8,
}

/// The size `w`×`h` scaled so the longer side is at most `max_side` (aspect kept, each side ≥ 1).
pub fn fit(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= max_side || max_side == 0 {
        return (w, h);
    }
    let r = max_side as f64 / long as f64;
    let scale = |v: u32| ((v as f64 * r).round() as u32).clamp(1, max_side);
    (scale(w), scale(h))
}

/// Downscales (if needed) and encodes within `bounds`.
pub fn encode(img: RgbImage, bounds: JpegBounds) -> Result<Encoded, RedactError> {
    let (w, h) = fit(img.width(), img.height(), bounds.max_side);
    let img = if (w, h) == img.dimensions() { img } else { image::imageops::resize(&img, w, h, FilterType::Triangle) };
    let mut smallest = usize::MAX;
    let mut buf = Vec::new();
    for q in QUALITIES {
        buf.clear();
        JpegEncoder::new_with_quality(&mut buf, q)
            .encode(img.as_raw(), w, h, ExtendedColorType::Rgb8)
            .map_err(|e| RedactError::Encode(e.to_string()))?;
        if buf.len() <= bounds.max_bytes {
            return Ok(Encoded { jpeg: buf, width: w, height: h, quality: q });
        }
        smallest = smallest.min(buf.len());
    }
    Err(RedactError::TooLarge { max_bytes: bounds.max_bytes, smallest, width: w, height: h })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noisy(w: u32, h: u32) -> RgbImage {
        let mut x = 12345u32;
        RgbImage::from_fn(w, h, |_, _| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            image::Rgb([(x >> 16) as u8, (x >> 8) as u8, (x >> 24) as u8])
        })
    }

    #[test]
    fn fit_keeps_aspect_and_never_upscales() {
        assert_eq!(fit(3000, 2171, 1280), (1280, 926));
        assert_eq!(fit(640, 480, 1280), (640, 480));
        assert_eq!(fit(10_000, 1, 100), (100, 1));
    }

    #[test]
    fn noise_is_downscaled_then_quality_lowered_or_refused() {
        let bounds = JpegBounds { max_bytes: 12_000, max_side: 256 };
        let e = encode(noisy(1000, 500), bounds).unwrap();
        assert_eq!((e.width, e.height), (256, 128));
        assert!(e.jpeg.len() <= 12_000 && e.quality < QUALITIES[0], "{} bytes at q{}", e.jpeg.len(), e.quality);
        assert!(e.jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
        match encode(noisy(1000, 500), JpegBounds { max_bytes: 1000, max_side: 256 }) {
            Err(RedactError::TooLarge { max_bytes: 1000, smallest, .. }) => assert!(smallest > 1000),
            other => panic!("expected TooLarge, got {:?}", other.map(|e| e.jpeg.len())),
        }
    }
}
