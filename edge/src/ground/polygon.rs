//! Simple polygons on a plane (ground metres or image pixels): area, containment, edge crossings.

use serde::Serialize;

use super::GroundError;

/// A simple (non-self-intersecting) polygon; vertices in order, either winding, not closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Polygon {
    vertices: Vec<[f64; 2]>,
    area: f64,
}

/// Which edge a movement crossed and in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EdgeCrossing {
    /// Index `i` of the edge from vertex `i` to vertex `i + 1` (wrapping).
    pub edge: usize,
    /// True when the movement went from outside to inside.
    pub inward: bool,
}

fn cross(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Proper or touching intersection of segments p1p2 and q1q2, as the parameter along p1p2.
pub(crate) fn segment_intersection(p1: [f64; 2], p2: [f64; 2], q1: [f64; 2], q2: [f64; 2]) -> Option<(f64, f64)> {
    let r = [p2[0] - p1[0], p2[1] - p1[1]];
    let s = [q2[0] - q1[0], q2[1] - q1[1]];
    let denom = r[0] * s[1] - r[1] * s[0];
    if denom.abs() < 1e-15 {
        return None; // parallel or degenerate: treated as no crossing
    }
    let qp = [q1[0] - p1[0], q1[1] - p1[1]];
    let t = (qp[0] * s[1] - qp[1] * s[0]) / denom;
    let u = (qp[0] * r[1] - qp[1] * r[0]) / denom;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some((t, u))
}

impl Polygon {
    /// Validates: at least 3 finite vertices, non-zero area, no crossing edges.
    pub fn new(vertices: Vec<[f64; 2]>) -> Result<Self, GroundError> {
        let n = vertices.len();
        if n < 3 {
            return Err(GroundError::PolygonTooFewVertices(n));
        }
        if let Some(index) = vertices.iter().position(|v| !v[0].is_finite() || !v[1].is_finite()) {
            return Err(GroundError::PolygonNonFinite { index });
        }
        for a in 0..n {
            for b in (a + 1)..n {
                // Adjacent edges share a vertex; skip them (and the wrap-around pair).
                if b == a + 1 || (a == 0 && b == n - 1) {
                    continue;
                }
                if segment_intersection(vertices[a], vertices[(a + 1) % n], vertices[b], vertices[(b + 1) % n]).is_some() {
                    return Err(GroundError::PolygonSelfIntersecting { a, b });
                }
            }
        }
        let area = shoelace(&vertices).abs();
        let extent = bbox_diag(&vertices);
        if !(area > 1e-9 * extent * extent) {
            return Err(GroundError::PolygonDegenerate);
        }
        Ok(Self { vertices, area })
    }

    pub fn vertices(&self) -> &[[f64; 2]] {
        &self.vertices
    }

    /// Area by the shoelace formula (always positive).
    pub fn area(&self) -> f64 {
        self.area
    }

    /// Even-odd ray casting; points exactly on the boundary may fall either way.
    pub fn contains(&self, x: f64, y: f64) -> bool {
        if !x.is_finite() || !y.is_finite() {
            return false;
        }
        let mut inside = false;
        let n = self.vertices.len();
        let mut j = n - 1;
        for i in 0..n {
            let (xi, yi) = (self.vertices[i][0], self.vertices[i][1]);
            let (xj, yj) = (self.vertices[j][0], self.vertices[j][1]);
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    /// Distance from a point to the nearest edge (positive inside and outside alike).
    pub fn boundary_distance(&self, x: f64, y: f64) -> f64 {
        let n = self.vertices.len();
        (0..n)
            .map(|i| point_segment_distance([x, y], self.vertices[i], self.vertices[(i + 1) % n]))
            .fold(f64::INFINITY, f64::min)
    }

    /// Signed distance: positive inside, negative outside. Used for membership with a margin.
    pub fn signed_distance(&self, x: f64, y: f64) -> f64 {
        let d = self.boundary_distance(x, y);
        if self.contains(x, y) {
            d
        } else {
            -d
        }
    }

    /// The first edge crossed moving from `a` to `b`, if the move changes inside/outside status.
    /// For flow counting: a crossing in and straight back out in one step is not reported.
    pub fn crossing(&self, a: [f64; 2], b: [f64; 2]) -> Option<EdgeCrossing> {
        let was = self.contains(a[0], a[1]);
        let is = self.contains(b[0], b[1]);
        if was == is {
            return None;
        }
        let n = self.vertices.len();
        let edge = (0..n)
            .filter_map(|i| segment_intersection(a, b, self.vertices[i], self.vertices[(i + 1) % n]).map(|(t, _)| (i, t)))
            .min_by(|x, y| x.1.total_cmp(&y.1))
            .map(|(i, _)| i)
            .unwrap_or(0);
        Some(EdgeCrossing { edge, inward: is })
    }
}

pub(crate) fn point_segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let ab = [b[0] - a[0], b[1] - a[1]];
    let len2 = ab[0] * ab[0] + ab[1] * ab[1];
    let t = if len2 > 0.0 { (((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1]) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let q = [a[0] + t * ab[0], a[1] + t * ab[1]];
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2)).sqrt()
}

fn shoelace(v: &[[f64; 2]]) -> f64 {
    let n = v.len();
    0.5 * (0..n).map(|i| cross([0.0, 0.0], v[i], v[(i + 1) % n])).sum::<f64>()
}

fn bbox_diag(v: &[[f64; 2]]) -> f64 {
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in v {
        for k in 0..2 {
            lo[k] = lo[k].min(p[k]);
            hi[k] = hi[k].max(p[k]);
        }
    }
    ((hi[0] - lo[0]).powi(2) + (hi[1] - lo[1]).powi(2)).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_contains_crossing() {
        let sq = Polygon::new(vec![[0.0, 0.0], [4.0, 0.0], [4.0, 3.0], [0.0, 3.0]]).unwrap();
        assert_eq!(sq.area(), 12.0);
        assert!(sq.contains(1.0, 1.0) && !sq.contains(5.0, 1.0) && !sq.contains(f64::NAN, 1.0));
        let c = sq.crossing([-1.0, 1.0], [1.0, 1.0]).unwrap();
        assert_eq!(c, EdgeCrossing { edge: 3, inward: true });
        let c = sq.crossing([2.0, 2.0], [2.0, 5.0]).unwrap();
        assert_eq!(c, EdgeCrossing { edge: 2, inward: false });
        assert!(sq.crossing([1.0, 1.0], [2.0, 2.0]).is_none());
        assert!((sq.signed_distance(1.0, 1.0) - 1.0).abs() < 1e-12);
        assert!((sq.signed_distance(-0.5, 1.0) + 0.5).abs() < 1e-12);
        // Clockwise winding gives the same area.
        let cw = Polygon::new(vec![[0.0, 3.0], [4.0, 3.0], [4.0, 0.0], [0.0, 0.0]]).unwrap();
        assert_eq!(cw.area(), 12.0);
    }

    #[test]
    fn rejects_bad_polygons() {
        assert_eq!(Polygon::new(vec![[0.0, 0.0], [1.0, 0.0]]), Err(GroundError::PolygonTooFewVertices(2)));
        assert_eq!(Polygon::new(vec![[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), Err(GroundError::PolygonDegenerate));
        assert!(matches!(
            Polygon::new(vec![[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),
            Err(GroundError::PolygonSelfIntersecting { .. })
        ));
        assert_eq!(
            Polygon::new(vec![[0.0, 0.0], [1.0, f64::NAN], [1.0, 0.0]]),
            Err(GroundError::PolygonNonFinite { index: 1 })
        );
    }
}
