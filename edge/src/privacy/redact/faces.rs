//! Finding faces of every size: the face detector over multi-scale windows and inside people's head
//! windows, merged into one list in frame pixels.

use super::tiles::{self, Tile};
use crate::infer::{BBox, DetectParams, Detection, Detector, InferError};
use crate::source::frame::FrameView;

/// Windows smaller than this are not worth a model run (and bound the window count).
const MIN_WINDOW: u32 = 32;
/// At most this many windows per frame: a bound on cost whatever the frame size.
pub const MAX_WINDOWS: usize = 1024;
/// Duplicate faces from overlapping windows/scales are merged above this IoU.
const MERGE_IOU: f32 = 0.3;

/// A sub-image of `frame` without copying: same stride, data starting at the window's corner.
pub fn crop<'a>(frame: FrameView<'a>, t: Tile) -> Option<FrameView<'a>> {
    if t.w == 0 || t.h == 0 || t.x.checked_add(t.w)? > frame.width || t.y.checked_add(t.h)? > frame.height {
        return None;
    }
    let start = (t.y as usize).checked_mul(frame.stride)?.checked_add(t.x as usize * 3)?;
    FrameView::new(t.w, t.h, frame.stride, frame.data.get(start..)?)
}

/// All windows the face detector runs on for a frame, smallest scale first, plus the head windows of
/// `people`. Truncated to [`MAX_WINDOWS`] by dropping the smallest scales first (never the whole-frame one).
pub fn windows(width: u32, height: u32, model_side: u32, overlap: f32, people: &[BBox]) -> Vec<Tile> {
    let mut per_scale: Vec<Vec<Tile>> = tiles::scales(width, height, model_side.max(MIN_WINDOW))
        .into_iter()
        .map(|side| tiles::grid(width, height, side, overlap))
        .collect();
    let heads: Vec<Tile> = people.iter().filter_map(|b| tiles::head_window(b, width, height)).collect();
    let mut total = per_scale.iter().map(Vec::len).sum::<usize>() + heads.len();
    while total > MAX_WINDOWS && per_scale.len() > 1 {
        total -= per_scale.remove(0).len();
    }
    let mut all: Vec<Tile> = per_scale.into_iter().flatten().collect();
    all.extend(heads);
    all.truncate(MAX_WINDOWS);
    all
}

/// Runs `faces` on every window and returns merged faces in frame pixels (best first).
pub fn find(faces: &mut dyn Detector, frame: FrameView<'_>, windows: &[Tile], min_score: f32) -> Result<Vec<Detection>, InferError> {
    let params = DetectParams { min_score: Some(min_score), nms_iou: None };
    let mut found: Vec<Detection> = Vec::new();
    for &t in windows {
        let Some(view) = crop(frame, t) else { continue };
        let (dets, _) = faces.detect(view, params)?;
        found.extend(dets.into_iter().map(|mut d| {
            d.bbox = BBox::new(d.bbox.x1 + t.x as f32, d.bbox.y1 + t.y as f32, d.bbox.x2 + t.x as f32, d.bbox.y2 + t.y as f32);
            d
        }));
    }
    Ok(merge(found))
}

/// One box per face: boxes of the same face seen in several windows/scales are merged into their
/// enclosing box (never dropped: the destroyed area must cover every detection), keeping the best score.
pub fn merge(mut found: Vec<Detection>) -> Vec<Detection> {
    found.sort_unstable_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<Detection> = Vec::with_capacity(found.len());
    for d in found {
        match kept.iter_mut().find(|k| same_face(&k.bbox, &d.bbox)) {
            Some(k) => k.bbox = union(&k.bbox, &d.bbox),
            None => kept.push(d),
        }
    }
    kept
}

/// Overlapping enough to be one face: IoU above [`MERGE_IOU`], or one mostly inside the other (a face cut
/// by a window's edge inside the whole face).
fn same_face(a: &BBox, b: &BBox) -> bool {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    let inter = ix * iy;
    let smaller = a.area().min(b.area());
    a.iou(b) > MERGE_IOU || (smaller > 0.0 && inter / smaller > 0.6)
}

fn union(a: &BBox, b: &BBox) -> BBox {
    BBox::new(a.x1.min(b.x1), a.y1.min(b.y1), a.x2.max(b.x2), a.y2.max(b.y2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn face(score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection { class_id: 0, label: Arc::from("face"), score, bbox: BBox::new(x1, y1, x2, y2) }
    }

    #[test]
    fn crop_is_a_view_of_the_right_pixels() {
        // 4x3 frame, stride 13 (one padding byte); pixel (x,y) has red = 10y + x.
        let mut data = vec![0u8; 13 * 3];
        for y in 0..3 {
            for x in 0..4 {
                data[y * 13 + x * 3] = (10 * y + x) as u8;
            }
        }
        let f = FrameView::new(4, 3, 13, &data).unwrap();
        let c = crop(f, Tile { x: 1, y: 1, w: 3, h: 2 }).unwrap();
        assert_eq!((c.width, c.height), (3, 2));
        assert_eq!(c.row(0)[0], 11);
        assert_eq!(c.row(1)[6], 23);
        assert!(crop(f, Tile { x: 2, y: 0, w: 3, h: 1 }).is_none());
        assert!(crop(f, Tile { x: u32::MAX, y: 0, w: 3, h: 1 }).is_none());
    }

    #[test]
    fn merge_keeps_one_box_covering_all_views_of_a_face() {
        let merged = merge(vec![
            face(0.6, 10.0, 10.0, 30.0, 30.0),
            face(0.9, 12.0, 8.0, 32.0, 28.0),
            face(0.7, 10.0, 10.0, 18.0, 30.0), // cut by a window edge, inside the face
            face(0.8, 100.0, 100.0, 120.0, 120.0),
        ]);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].score, 0.9);
        assert_eq!(merged[0].bbox, BBox::new(10.0, 8.0, 32.0, 30.0));
        assert_eq!(merged[1].bbox, BBox::new(100.0, 100.0, 120.0, 120.0));
    }

    #[test]
    fn window_count_is_bounded_and_keeps_the_large_scales() {
        let w = windows(20_000, 20_000, 32, 0.5, &[]);
        assert!(w.len() <= MAX_WINDOWS);
        assert!(w.iter().any(|t| t.w == 20_000));
        let w = windows(768, 576, 256, 0.25, &[BBox::new(100.0, 100.0, 140.0, 220.0)]);
        assert_eq!(w.len(), 12 + 2 + 1);
    }
}
