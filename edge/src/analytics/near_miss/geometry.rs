//! Plan-view geometry of footprints: oriented rectangles, their Minkowski sum, time of first
//! contact under constant velocities, and overlap tests.
//!
//! Users are oriented rectangles (length along heading). Under constant velocity and heading the
//! rectangles only translate, so contact happens when the relative position enters the Minkowski
//! sum A ⊕ (−B), a convex polygon of at most 8 vertices; the first entry time of a ray into a
//! convex polygon is exact (Cyrus & Beck 1978 clipping). This is the SSAM/Laureshyn
//! (Laureshyn et al. 2010, AAP 42(6)) "extended TTC" with true shapes rather than discs, which
//! matters for side-by-side vehicles where a disc would see phantom contact.

pub type P2 = [f64; 2];

/// Corners of a rectangle centred at `c`, `heading` radians CCW from east, counter-clockwise.
pub fn rect(c: P2, heading: f64, length: f64, width: f64) -> [P2; 4] {
    let (s, co) = heading.sin_cos();
    let (hl, hw) = (length / 2.0, width / 2.0);
    let u = [co * hl, s * hl];
    let v = [-s * hw, co * hw];
    [
        [c[0] + u[0] + v[0], c[1] + u[1] + v[1]],
        [c[0] - u[0] + v[0], c[1] - u[1] + v[1]],
        [c[0] - u[0] - v[0], c[1] - u[1] - v[1]],
        [c[0] + u[0] - v[0], c[1] + u[1] - v[1]],
    ]
}

fn cross(o: P2, a: P2, b: P2) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Convex hull (Andrew's monotone chain), counter-clockwise, no collinear points.
pub fn convex_hull(mut pts: Vec<P2>) -> Vec<P2> {
    pts.retain(|p| p[0].is_finite() && p[1].is_finite());
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut lower: Vec<P2> = Vec::new();
    for &p in &pts {
        while lower.len() >= 2 && cross(lower[lower.len() - 2], lower[lower.len() - 1], p) <= 0.0 {
            lower.pop();
        }
        lower.push(p);
    }
    let mut upper: Vec<P2> = Vec::new();
    for &p in pts.iter().rev() {
        while upper.len() >= 2 && cross(upper[upper.len() - 2], upper[upper.len() - 1], p) <= 0.0 {
            upper.pop();
        }
        upper.push(p);
    }
    lower.pop();
    upper.pop();
    lower.extend(upper);
    lower
}

/// A ⊕ (−B) for shapes given relative to their own centres.
pub fn minkowski_difference(a: &[P2], b: &[P2]) -> Vec<P2> {
    let mut pts = Vec::with_capacity(a.len() * b.len());
    for p in a {
        for q in b {
            pts.push([p[0] - q[0], p[1] - q[1]]);
        }
    }
    convex_hull(pts)
}

/// First `t >= 0` at which `p0 + v t` is inside the convex CCW polygon, if ever.
pub fn ray_entry(poly: &[P2], p0: P2, v: P2) -> Option<f64> {
    if poly.len() < 3 {
        return None;
    }
    let (mut t_in, mut t_out) = (0.0f64, f64::INFINITY);
    for i in 0..poly.len() {
        let a = poly[i];
        let b = poly[(i + 1) % poly.len()];
        // Outward normal of a CCW edge.
        let n = [b[1] - a[1], -(b[0] - a[0])];
        let num = n[0] * (p0[0] - a[0]) + n[1] * (p0[1] - a[1]); // > 0 outside this edge
        let den = n[0] * v[0] + n[1] * v[1];
        if den.abs() < 1e-12 {
            if num > 0.0 {
                return None; // parallel and outside
            }
            continue;
        }
        let t = -num / den;
        if den < 0.0 {
            t_in = t_in.max(t);
        } else {
            t_out = t_out.min(t);
        }
        if t_in > t_out {
            return None;
        }
    }
    (t_in.is_finite()).then_some(t_in)
}

/// Separating-axis overlap test of two convex polygons.
pub fn convex_overlap(a: &[P2], b: &[P2]) -> bool {
    for poly in [a, b] {
        for i in 0..poly.len() {
            let p = poly[i];
            let q = poly[(i + 1) % poly.len()];
            let axis = [q[1] - p[1], p[0] - q[0]];
            let proj = |s: &[P2]| {
                s.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    let d = v[0] * axis[0] + v[1] * axis[1];
                    (lo.min(d), hi.max(d))
                })
            };
            let (alo, ahi) = proj(a);
            let (blo, bhi) = proj(b);
            if ahi < blo || bhi < alo {
                return false;
            }
        }
    }
    true
}

/// Whether a point lies inside a convex CCW polygon.
pub fn convex_contains(poly: &[P2], p: P2) -> bool {
    poly.len() >= 3 && (0..poly.len()).all(|i| cross(poly[i], poly[(i + 1) % poly.len()], p) >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttc_of_axis_aligned_boxes() {
        let a = rect([0.0, 0.0], 0.0, 4.0, 2.0);
        let b = rect([0.0, 0.0], 0.0, 4.0, 2.0);
        let m = minkowski_difference(&a, &b);
        assert_eq!(m.len(), 4);
        // B 20 m ahead closing at 5 m/s: gap 20 - 4 = 16 m -> 3.2 s.
        let t = ray_entry(&m, [20.0, 0.0], [-5.0, 0.0]).unwrap();
        assert!((t - 3.2).abs() < 1e-12);
        // Moving away or passing 3 m aside (half widths sum 2): never.
        assert!(ray_entry(&m, [20.0, 0.0], [5.0, 0.0]).is_none());
        assert!(ray_entry(&m, [20.0, 3.0], [-5.0, 0.0]).is_none());
        assert_eq!(ray_entry(&m, [1.0, 0.0], [5.0, 0.0]), Some(0.0));
        assert!(convex_overlap(&a, &rect([3.9, 1.9], 0.0, 4.0, 2.0)));
        assert!(!convex_overlap(&a, &rect([5.0, 0.0], 0.0, 1.0, 1.0)));
    }
}
