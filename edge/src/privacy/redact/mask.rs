//! Destroying the pixels of a region, in place, on an owned copy of the frame.
//!
//! Two methods:
//! - **fill**: every pixel becomes one constant colour. Nothing of the region survives; the default, and
//!   always used for faces.
//! - **pixelate**: the region is cut into blocks of at least `max(16 px, longer side / 6)`, each block
//!   becomes its mean colour, and that mean is quantised to 8 levels per channel (3 bits). A region keeps at
//!   most 6×6 blocks × 9 bits: the coarse colour layout (clothes, car paint), not a face or a plate. Why this
//!   is irreversible enough: de-pixelation and recognition attacks (e.g. McPherson, Shokri & Shmatikov 2016,
//!   "Defeating Image Obfuscation with Deep Learning") need fine blocks (≤ 8–16 px on a face) and the exact
//!   block means, which carry sub-level detail; here a face inside a person box is at most a couple of
//!   blocks, the means are rounded to 3 bits, and the JPEG that follows smooths block edges further. Faces
//!   found by the face detector are filled regardless.

use std::ops::Range;

/// Solid colour of filled regions: neutral grey, visibly "removed" on any background.
pub const FILL_RGB: [u8; 3] = [128, 128, 128];
/// Smallest pixelation block, in frame pixels.
pub const MIN_BLOCK: u32 = 16;
/// At most this many blocks along a region's longer side.
pub const MAX_BLOCKS_PER_SIDE: u32 = 6;
/// Quantisation step of block means (256 / 32 = 8 levels per channel).
const LEVEL: u32 = 32;

/// A packed RGB8 image being redacted (`data.len() == width * height * 3`).
pub struct Canvas<'a> {
    pub width: u32,
    pub height: u32,
    pub data: &'a mut [u8],
}

/// An integer pixel rectangle, half-open, inside the canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x1: u32,
    pub y1: u32,
    pub x2: u32,
    pub y2: u32,
}

impl Canvas<'_> {
    fn rows(&self, r: Rect) -> impl Iterator<Item = Range<usize>> + '_ {
        let w = self.width as usize;
        (r.y1..r.y2).map(move |y| (y as usize * w + r.x1 as usize) * 3..(y as usize * w + r.x2 as usize) * 3)
    }

    fn clip(&self, r: Rect) -> Option<Rect> {
        let c = Rect { x1: r.x1.min(self.width), y1: r.y1.min(self.height), x2: r.x2.min(self.width), y2: r.y2.min(self.height) };
        (c.x2 > c.x1 && c.y2 > c.y1 && self.data.len() >= self.width as usize * self.height as usize * 3).then_some(c)
    }

    /// Sets every pixel of `r` to `rgb`.
    pub fn fill(&mut self, r: Rect, rgb: [u8; 3]) {
        let Some(r) = self.clip(r) else { return };
        let rows: Vec<Range<usize>> = self.rows(r).collect();
        for range in rows {
            for px in self.data[range].chunks_exact_mut(3) {
                px.copy_from_slice(&rgb);
            }
        }
    }

    /// Replaces `r` by quantised block means (see the module doc).
    pub fn pixelate(&mut self, r: Rect) {
        let Some(r) = self.clip(r) else { return };
        let b = block_size(r.x2 - r.x1, r.y2 - r.y1);
        let mut by = r.y1;
        while by < r.y2 {
            let mut bx = r.x1;
            while bx < r.x2 {
                let block = Rect { x1: bx, y1: by, x2: (bx + b).min(r.x2), y2: (by + b).min(r.y2) };
                let mean = self.mean(block);
                self.fill(block, mean.map(quantise));
                bx = block.x2;
            }
            by = (by + b).min(r.y2);
        }
    }

    fn mean(&self, r: Rect) -> [u32; 3] {
        let mut sum = [0u64; 3];
        for range in self.rows(r) {
            for px in self.data[range].chunks_exact(3) {
                for c in 0..3 {
                    sum[c] += px[c] as u64;
                }
            }
        }
        let n = ((r.x2 - r.x1) as u64 * (r.y2 - r.y1) as u64).max(1);
        sum.map(|s| (s / n) as u32)
    }
}

/// Block side for a region of `w`×`h`: at least [`MIN_BLOCK`], and large enough that the longer side has at
/// most [`MAX_BLOCKS_PER_SIDE`] blocks.
pub fn block_size(w: u32, h: u32) -> u32 {
    MIN_BLOCK.max(w.max(h).div_ceil(MAX_BLOCKS_PER_SIDE))
}

/// The centre of the mean's 32-wide level: 8 possible values per channel.
fn quantise(v: u32) -> u8 {
    ((v.min(255) / LEVEL) * LEVEL + LEVEL / 2) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: u32, h: u32) -> Vec<u8> {
        // Deterministic, high-entropy pixels.
        let mut x = 0x2545F491u32;
        (0..w * h * 3)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect()
    }

    #[test]
    fn fill_changes_exactly_the_rectangle() {
        let (w, h) = (20, 10);
        let orig = noise(w, h);
        let mut data = orig.clone();
        Canvas { width: w, height: h, data: &mut data }.fill(Rect { x1: 3, y1: 2, x2: 7, y2: 5 }, FILL_RGB);
        for y in 0..h {
            for x in 0..w {
                let i = ((y * w + x) * 3) as usize;
                let inside = (3..7).contains(&x) && (2..5).contains(&y);
                if inside {
                    assert_eq!(&data[i..i + 3], &FILL_RGB);
                } else {
                    assert_eq!(&data[i..i + 3], &orig[i..i + 3]);
                }
            }
        }
        // Out-of-canvas and empty rectangles are clipped or ignored, never a panic.
        Canvas { width: w, height: h, data: &mut data }.fill(Rect { x1: 18, y1: 8, x2: 99, y2: 99 }, [1, 2, 3]);
        assert_eq!(&data[((9 * w + 19) * 3) as usize..][..3], &[1, 2, 3]);
        Canvas { width: w, height: h, data: &mut data }.fill(Rect { x1: 5, y1: 5, x2: 5, y2: 9 }, [9, 9, 9]);
    }

    #[test]
    fn pixelate_leaves_few_coarse_quantised_blocks() {
        let (w, h) = (200, 150);
        let mut data = noise(w, h);
        let r = Rect { x1: 10, y1: 10, x2: 190, y2: 130 }; // 180x120: block max(16, 30) = 30
        assert_eq!(block_size(180, 120), 30);
        assert_eq!(block_size(40, 20), 16);
        Canvas { width: w, height: h, data: &mut data }.pixelate(r);
        let mut blocks = std::collections::BTreeSet::new();
        for y in r.y1..r.y2 {
            for x in r.x1..r.x2 {
                let i = ((y * w + x) * 3) as usize;
                let px = [data[i], data[i + 1], data[i + 2]];
                assert!(px.iter().all(|v| v % 32 == 16), "{px:?} not quantised");
                // Constant within each 30-px block.
                let (bx, by) = ((x - r.x1) / 30, (y - r.y1) / 30);
                let j = (((r.y1 + by * 30) * w + r.x1 + bx * 30) * 3) as usize;
                assert_eq!(px, [data[j], data[j + 1], data[j + 2]]);
                blocks.insert((bx, by));
            }
        }
        assert_eq!(blocks.len(), 6 * 4);
    }
}
