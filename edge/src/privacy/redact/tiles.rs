//! Where the face detector looks: square windows at several scales over the frame.
//!
//! A face detector with a 192–256 px input cannot see a 40 px face in a 3000 px photo resized to its input
//! (it would be 3 px there). So it also runs on windows: the smallest the size of the model input (faces
//! at native resolution), each next scale twice as large, and finally squares as large as the frame's
//! short side (the "whole frame" pass without squashing the aspect ratio). Windows of one scale overlap by
//! `overlap` of their side, so a face smaller than that overlap is whole in at least one window.

/// A window in frame pixels (integer, inside the frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

/// Window sides in frame pixels, smallest first: `model_side · 2^k` while clearly below the short side,
/// then the short side itself.
pub fn scales(width: u32, height: u32, model_side: u32) -> Vec<u32> {
    let short = width.min(height);
    let mut sides = Vec::new();
    let mut s = model_side.max(1);
    // A window within 4/3 of the short side adds little over the short-side pass.
    while (s as u64) * 4 < (short as u64) * 3 {
        sides.push(s);
        s = s.saturating_mul(2);
    }
    sides.push(short);
    sides
}

/// Square windows of `side` (clipped to the frame) covering the frame with `overlap` (0..0.9) between
/// neighbours; the last window of a row/column is aligned with the frame's edge.
pub fn grid(width: u32, height: u32, side: u32, overlap: f32) -> Vec<Tile> {
    let side = side.clamp(1, width.max(height));
    let xs = starts(width, side, overlap);
    let ys = starts(height, side, overlap);
    let mut tiles = Vec::with_capacity(xs.len() * ys.len());
    for &y in &ys {
        for &x in &xs {
            tiles.push(Tile { x, y, w: side.min(width - x), h: side.min(height - y) });
        }
    }
    tiles
}

fn starts(len: u32, side: u32, overlap: f32) -> Vec<u32> {
    if len <= side {
        return vec![0];
    }
    let overlap = if overlap.is_finite() { overlap.clamp(0.0, 0.9) } else { 0.25 };
    let step = ((side as f32 * (1.0 - overlap)).floor() as u32).max(1);
    let last = len - side;
    let mut v: Vec<u32> = (0..).map(|i: u32| i.saturating_mul(step)).take_while(|&s| s < last).collect();
    v.push(last);
    v
}

/// The window above a person's box where the head is: a square as wide as the box (at least 30 % of its
/// height, for people seen side-on), starting a little above the box, clipped to the frame.
pub fn head_window(b: &crate::infer::BBox, width: u32, height: u32) -> Option<Tile> {
    let side = b.width().max(0.3 * b.height());
    if !(side.is_finite() && side >= 8.0) {
        return None;
    }
    let (cx, _) = b.centre();
    let x1 = (cx - side * 0.5).max(0.0);
    let y1 = (b.y1 - 0.1 * side).max(0.0);
    let x2 = (cx + side * 0.5).min(width as f32);
    let y2 = (y1 + side).min(height as f32);
    let (x, y) = (x1.floor() as u32, y1.floor() as u32);
    let (w, h) = ((x2.ceil() as u32).saturating_sub(x), (y2.ceil() as u32).saturating_sub(y));
    (w >= 8 && h >= 8 && x + w <= width && y + h <= height).then_some(Tile { x, y, w, h })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::BBox;

    #[test]
    fn scales_double_up_to_the_short_side() {
        assert_eq!(scales(3000, 2171, 256), vec![256, 512, 1024, 2171]);
        assert_eq!(scales(768, 576, 256), vec![256, 576]);
        assert_eq!(scales(200, 100, 256), vec![100]);
    }

    #[test]
    fn grid_covers_the_frame_with_overlap() {
        let t = grid(768, 576, 256, 0.25);
        let xs: Vec<u32> = t.iter().filter(|t| t.y == 0).map(|t| t.x).collect();
        assert_eq!(xs, vec![0, 192, 384, 512]);
        let ys: Vec<u32> = t.iter().filter(|t| t.x == 0).map(|t| t.y).collect();
        assert_eq!(ys, vec![0, 192, 320]);
        assert!(t.iter().all(|t| t.w == 256 && t.h == 256 && t.x + t.w <= 768 && t.y + t.h <= 576));
        // Short-side windows slide along the long side only.
        assert_eq!(grid(768, 576, 576, 0.25), vec![Tile { x: 0, y: 0, w: 576, h: 576 }, Tile { x: 192, y: 0, w: 576, h: 576 }]);
        // Tiny frames and odd overlaps give one clipped window, never a panic.
        assert_eq!(grid(10, 5, 256, f32::NAN), vec![Tile { x: 0, y: 0, w: 10, h: 5 }]);
        assert_eq!(grid(1000, 1, 1, 0.99).len(), 1000);
    }

    #[test]
    fn head_window_sits_on_top_of_the_person() {
        let t = head_window(&BBox::new(100.0, 50.0, 140.0, 170.0), 640, 480).unwrap();
        assert_eq!(t, Tile { x: 100, y: 46, w: 40, h: 40 });
        assert!(head_window(&BBox::new(0.0, 0.0, 2.0, 2.0), 640, 480).is_none());
        assert!(head_window(&BBox::new(f32::NAN, 0.0, 2.0, 2.0), 640, 480).is_none());
        let edge = head_window(&BBox::new(620.0, 0.0, 700.0, 100.0), 640, 480).unwrap();
        assert!(edge.x + edge.w <= 640);
    }
}
