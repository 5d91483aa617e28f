//! Gated IoU association: candidate pairs (same class group, IoU above the gate) are split into
//! connected components and each component is solved optimally by the Hungarian method. Traffic
//! scenes are sparse (a box overlaps only its neighbours), so components stay tiny and the
//! O(n³) solve never sees the whole frame.

use crate::infer::BBox;

use super::hungarian;

/// One side of the association: a box and its class-group key.
#[derive(Debug, Clone, Copy)]
pub struct Item {
    pub bbox: BBox,
    pub group: u64,
}

/// Returns matched `(track_index, detection_index)` pairs, maximising total IoU.
pub fn associate(tracks: &[Item], dets: &[Item], min_iou: f32) -> Vec<(usize, usize)> {
    let min_iou = min_iou.max(1e-6);
    let mut edges: Vec<(usize, usize, f32)> = Vec::new();
    for (ti, t) in tracks.iter().enumerate() {
        for (di, d) in dets.iter().enumerate() {
            if t.group != d.group {
                continue;
            }
            // Cheap rejection before the IoU division.
            if t.bbox.x2 < d.bbox.x1 || d.bbox.x2 < t.bbox.x1 || t.bbox.y2 < d.bbox.y1 || d.bbox.y2 < t.bbox.y1 {
                continue;
            }
            let iou = t.bbox.iou(&d.bbox);
            if iou >= min_iou {
                edges.push((ti, di, iou));
            }
        }
    }
    if edges.is_empty() {
        return Vec::new();
    }
    // Union-find over nodes: tracks 0..T, detections T..T+D.
    let nt = tracks.len();
    let mut parent: Vec<usize> = (0..nt + dets.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for &(ti, di, _) in &edges {
        let (a, b) = (find(&mut parent, ti), find(&mut parent, nt + di));
        if a != b {
            parent[a] = b;
        }
    }
    // Group edges by component root.
    let mut by_root: std::collections::HashMap<usize, Vec<(usize, usize, f32)>> = std::collections::HashMap::new();
    for &e in &edges {
        let r = find(&mut parent, e.0);
        by_root.entry(r).or_default().push(e);
    }
    let mut out = Vec::new();
    for (_, comp) in by_root {
        if comp.len() == 1 {
            out.push((comp[0].0, comp[0].1));
            continue;
        }
        let mut rows: Vec<usize> = comp.iter().map(|e| e.0).collect();
        let mut cols: Vec<usize> = comp.iter().map(|e| e.1).collect();
        rows.sort_unstable();
        rows.dedup();
        cols.sort_unstable();
        cols.dedup();
        // Non-edges cost more than any real pairing (1 - IoU <= 1) so they are only used when
        // unavoidable, and are dropped afterwards.
        let mut cost = vec![2.0f64; rows.len() * cols.len()];
        for &(ti, di, iou) in &comp {
            let r = rows.binary_search(&ti).unwrap_or(0);
            let c = cols.binary_search(&di).unwrap_or(0);
            cost[r * cols.len() + c] = 1.0 - iou as f64;
        }
        for (r, c) in hungarian::assign(&cost, rows.len(), cols.len()).into_iter().enumerate() {
            if let Some(c) = c {
                if cost[r * cols.len() + c] < 1.5 {
                    out.push((rows[r], cols[c]));
                }
            }
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_not_greedy_and_class_gated() {
        let b = |x: f32| BBox::new(x, 0.0, x + 10.0, 10.0);
        // Greedy would give t0 -> d0 (IoU high) and leave t1 unmatched; optimal matches both.
        let tracks = [Item { bbox: b(0.0), group: 1 }, Item { bbox: b(4.0), group: 1 }];
        let dets = [Item { bbox: b(2.0), group: 1 }, Item { bbox: b(-3.0), group: 1 }];
        let m = associate(&tracks, &dets, 0.3);
        assert_eq!(m, vec![(0, 1), (1, 0)]);
        // Different class group never associates.
        let dets = [Item { bbox: b(0.0), group: 2 }];
        assert!(associate(&tracks, &dets, 0.1).is_empty());
    }
}
