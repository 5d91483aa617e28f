//! Planar homography estimation by the normalised Direct Linear Transform.
//!
//! Hartley & Zisserman, "Multiple View Geometry in Computer Vision", 2nd ed., Alg. 4.2: translate
//! each point set to its centroid and scale it to mean distance √2, solve the homogeneous least
//! squares `min ||A h||, ||h|| = 1` (the smallest eigenvector of AᵀA, equivalent to the smallest
//! right singular vector of A), then undo the normalisation. With more than 4 points this is the
//! algebraic least-squares fit.

use super::linalg::{mat3_inv, mat3_mul, symmetric_eigen, Mat3};
use super::GroundError;

/// Applies a homography; `None` when the point maps to (or beyond) infinity.
pub fn apply(h: &Mat3, x: f64, y: f64) -> Option<(f64, f64, f64)> {
    let w = h[2][0] * x + h[2][1] * y + h[2][2];
    let u = h[0][0] * x + h[0][1] * y + h[0][2];
    let v = h[1][0] * x + h[1][1] * y + h[1][2];
    if !w.is_finite() || w.abs() < 1e-12 {
        return None;
    }
    let (a, b) = (u / w, v / w);
    (a.is_finite() && b.is_finite()).then_some((a, b, w))
}

/// Similarity that maps the points' centroid to the origin and their mean distance to √2.
fn normaliser(pts: &[[f64; 2]]) -> Mat3 {
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p[1]).sum::<f64>() / n;
    let mean_d = pts.iter().map(|p| ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt()).sum::<f64>() / n;
    let s = if mean_d > 0.0 { std::f64::consts::SQRT_2 / mean_d } else { 1.0 };
    [[s, 0.0, -s * cx], [0.0, s, -s * cy], [0.0, 0.0, 1.0]]
}

fn transform(t: &Mat3, p: [f64; 2]) -> [f64; 2] {
    [t[0][0] * p[0] + t[0][2], t[1][1] * p[1] + t[1][2]]
}

/// Ratio of the smaller to the larger principal spread of a point set: 0 for collinear points.
fn planarity(pts: &[[f64; 2]]) -> f64 {
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p[1]).sum::<f64>() / n;
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in pts {
        let (dx, dy) = (p[0] - cx, p[1] - cy);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    let tr = sxx + syy;
    let det = sxx * syy - sxy * sxy;
    let disc = ((tr * tr / 4.0) - det).max(0.0).sqrt();
    let (l1, l2) = (tr / 2.0 + disc, tr / 2.0 - disc);
    if l1 <= 0.0 {
        0.0
    } else {
        (l2.max(0.0) / l1).sqrt()
    }
}

/// Whether three points are collinear relative to the set's scale.
fn collinear3(a: [f64; 2], b: [f64; 2], c: [f64; 2], scale: f64) -> bool {
    let cr = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]);
    cr.abs() < 1e-6 * scale * scale
}

/// Checks that a point set can define a homography: finite, distinct, not collinear, and for a
/// minimal set of 4, no three on a line (then the four are not in general position).
fn check_points(pts: &[[f64; 2]], space: &'static str) -> Result<(), GroundError> {
    let diag = {
        let t = normaliser(pts);
        // Normalised mean distance is √2, so the scale back to input units is 1/s.
        std::f64::consts::SQRT_2 / t[0][0]
    };
    let eps = 1e-9 * diag.max(1e-300);
    for a in 0..pts.len() {
        for b in (a + 1)..pts.len() {
            if (pts[a][0] - pts[b][0]).abs() <= eps && (pts[a][1] - pts[b][1]).abs() <= eps {
                return Err(GroundError::Duplicate { a, b, space });
            }
        }
    }
    if planarity(pts) < 1e-4 {
        return Err(GroundError::Collinear { space });
    }
    if pts.len() == 4 {
        for skip in 0..4 {
            let tri: Vec<[f64; 2]> = (0..4).filter(|&i| i != skip).map(|i| pts[i]).collect();
            if collinear3(tri[0], tri[1], tri[2], diag) {
                return Err(GroundError::Collinear { space });
            }
        }
    }
    Ok(())
}

/// Estimates `H` with `ground ~ H · image` from paired points (at least 4).
pub fn estimate(image: &[[f64; 2]], ground: &[[f64; 2]]) -> Result<Mat3, GroundError> {
    let n = image.len().min(ground.len());
    if n < 4 {
        return Err(GroundError::TooFewPoints(n));
    }
    let (image, ground) = (&image[..n], &ground[..n]);
    for i in 0..n {
        if !image[i].iter().chain(ground[i].iter()).all(|v| v.is_finite()) {
            return Err(GroundError::NonFinite { index: i });
        }
    }
    check_points(image, "image")?;
    check_points(ground, "ground")?;

    let ti = normaliser(image);
    let tg = normaliser(ground);
    // Accumulate AᵀA directly (9x9): two rows per correspondence.
    let mut ata = [[0.0f64; 9]; 9];
    for i in 0..n {
        let [u, v] = transform(&ti, image[i]);
        let [x, y] = transform(&tg, ground[i]);
        let r1 = [-u, -v, -1.0, 0.0, 0.0, 0.0, x * u, x * v, x];
        let r2 = [0.0, 0.0, 0.0, -u, -v, -1.0, y * u, y * v, y];
        for r in [r1, r2] {
            for a in 0..9 {
                for b in 0..9 {
                    ata[a][b] += r[a] * r[b];
                }
            }
        }
    }
    let (vals, vecs) = symmetric_eigen(ata);
    // A unique solution needs a one-dimensional null space: the second-smallest eigenvalue must
    // be clearly non-zero (normalised data keeps these on a common scale).
    let largest = vals[8].abs().max(1e-300);
    if !(vals[1] / largest > 1e-12) {
        return Err(GroundError::Singular(vals[1] / largest));
    }
    let hn: Mat3 = [
        [vecs[0][0], vecs[1][0], vecs[2][0]],
        [vecs[3][0], vecs[4][0], vecs[5][0]],
        [vecs[6][0], vecs[7][0], vecs[8][0]],
    ];
    let tg_inv = mat3_inv(&tg).ok_or(GroundError::Singular(0.0))?;
    let mut h = mat3_mul(&mat3_mul(&tg_inv, &hn), &ti);
    // Fix the scale: unit Frobenius norm with a positive H[2][2] where possible.
    let norm = h.iter().flatten().map(|v| v * v).sum::<f64>().sqrt();
    let sign = if h[2][2] < 0.0 { -1.0 } else { 1.0 };
    if !(norm > 0.0) || !norm.is_finite() {
        return Err(GroundError::Singular(0.0));
    }
    for v in h.iter_mut().flatten() {
        *v *= sign / norm;
    }
    if mat3_inv(&h).is_none() {
        return Err(GroundError::Singular(super::linalg::mat3_det(&h)));
    }
    Ok(h)
}
