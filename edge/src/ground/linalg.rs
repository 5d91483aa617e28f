//! The little dense linear algebra the DLT needs: 3x3 matrices and a symmetric eigen-solver.
//! Hand-written to avoid a heavy dependency; sizes are fixed and tiny.

/// Row-major 3x3 matrix.
pub type Mat3 = [[f64; 3]; 3];

pub fn mat3_mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

pub fn mat3_det(m: &Mat3) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

/// Inverse by adjugate; `None` when the determinant is (relatively) zero or not finite.
pub fn mat3_inv(m: &Mat3) -> Option<Mat3> {
    let det = mat3_det(m);
    let scale = m.iter().flatten().fold(0.0f64, |a, v| a.max(v.abs()));
    if !det.is_finite() || scale == 0.0 || det.abs() <= 1e-12 * scale.powi(3) {
        return None;
    }
    let c = |r0: usize, r1: usize, c0: usize, c1: usize| m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0];
    let adj = [
        [c(1, 2, 1, 2), -c(0, 2, 1, 2), c(0, 1, 1, 2)],
        [-c(1, 2, 0, 2), c(0, 2, 0, 2), -c(0, 1, 0, 2)],
        [c(1, 2, 0, 1), -c(0, 2, 0, 1), c(0, 1, 0, 1)],
    ];
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = adj[i][j] / det;
        }
    }
    Some(r)
}

/// Eigen-decomposition of a symmetric N x N matrix by cyclic Jacobi rotations (Golub & Van Loan,
/// Matrix Computations, §8.5). Returns eigenvalues and column eigenvectors (`vecs[row][col]`),
/// sorted by ascending eigenvalue. Jacobi is slow for big N but exact-ish and robust for N = 9.
pub fn symmetric_eigen<const N: usize>(mut a: [[f64; N]; N]) -> ([f64; N], [[f64; N]; N]) {
    let mut v = [[0.0; N]; N];
    for (i, row) in v.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..N).flat_map(|i| (0..N).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i][j] * a[i][j]).sum();
        let total: f64 = a.iter().flatten().map(|x| x * x).sum();
        if !(off > 1e-30 * total.max(f64::MIN_POSITIVE)) {
            break;
        }
        for p in 0..N {
            for q in (p + 1)..N {
                if a[p][q] == 0.0 {
                    continue;
                }
                let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..N {
                    let akp = a[k][p];
                    let akq = a[k][q];
                    a[k][p] = c * akp - s * akq;
                    a[k][q] = s * akp + c * akq;
                }
                for k in 0..N {
                    let apk = a[p][k];
                    let aqk = a[q][k];
                    a[p][k] = c * apk - s * aqk;
                    a[q][k] = s * apk + c * aqk;
                }
                for row in v.iter_mut() {
                    let vkp = row[p];
                    let vkq = row[q];
                    row[p] = c * vkp - s * vkq;
                    row[q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: [usize; N] = [0; N];
    for (i, o) in order.iter_mut().enumerate() {
        *o = i;
    }
    order.sort_by(|&i, &j| a[i][i].total_cmp(&a[j][j]));
    let mut vals = [0.0; N];
    let mut vecs = [[0.0; N]; N];
    for (new, &old) in order.iter().enumerate() {
        vals[new] = a[old][old];
        for r in 0..N {
            vecs[r][new] = v[r][old];
        }
    }
    (vals, vecs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_recovers_known_spectrum() {
        // A = Q diag(1,2,3) Q^T with a rotation Q: eigenvalues must come back sorted.
        let (c, s) = (0.6f64, 0.8f64);
        let q = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]];
        let d = [[3.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0]];
        let qt = [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]];
        let a = mat3_mul(&mat3_mul(&q, &d), &qt);
        let (vals, vecs) = symmetric_eigen(a);
        assert!((vals[0] - 1.0).abs() < 1e-12 && (vals[1] - 2.0).abs() < 1e-12 && (vals[2] - 3.0).abs() < 1e-12);
        // Eigenvector of 1 is Q's second column (up to sign).
        assert!((vecs[0][0].abs() - s).abs() < 1e-9 && (vecs[1][0].abs() - c).abs() < 1e-9);
    }

    #[test]
    fn inverse_rejects_singular() {
        assert!(mat3_inv(&[[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]]).is_none());
        let m = [[2.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 3.0]];
        let i = mat3_inv(&m).unwrap();
        let p = mat3_mul(&m, &i);
        for r in 0..3 {
            for c in 0..3 {
                assert!((p[r][c] - if r == c { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
    }
}
