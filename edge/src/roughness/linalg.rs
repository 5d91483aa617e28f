//! The two bits of dense linear algebra the module needs: a small matrix exponential (exact
//! discretisation of the quarter car) and a least-squares solve (calibration fit).

pub type Mat<const N: usize> = [[f64; N]; N];

fn mul<const N: usize>(a: &Mat<N>, b: &Mat<N>) -> Mat<N> {
    let mut out = [[0.0; N]; N];
    for i in 0..N {
        for k in 0..N {
            let aik = a[i][k];
            if aik == 0.0 {
                continue;
            }
            for j in 0..N {
                out[i][j] += aik * b[k][j];
            }
        }
    }
    out
}

/// `exp(m)` by scaling and squaring with a degree-18 Taylor series: the norm is scaled below
/// 0.5 first, where the truncation error is far below f64 precision. Plenty for the 6×6
/// matrices here.
pub fn expm<const N: usize>(m: &Mat<N>) -> Mat<N> {
    let norm = m.iter().map(|r| r.iter().map(|v| v.abs()).sum::<f64>()).fold(0.0, f64::max);
    let mut squarings = 0;
    let mut scale = 1.0;
    while norm * scale > 0.5 && squarings < 64 {
        scale *= 0.5;
        squarings += 1;
    }
    let mut a = *m;
    for row in a.iter_mut() {
        for v in row.iter_mut() {
            *v *= scale;
        }
    }
    let mut result = [[0.0; N]; N];
    let mut term = [[0.0; N]; N];
    for i in 0..N {
        result[i][i] = 1.0;
        term[i][i] = 1.0;
    }
    for k in 1..=18 {
        term = mul(&term, &a);
        let inv = 1.0 / k as f64;
        for row in term.iter_mut() {
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
        for i in 0..N {
            for j in 0..N {
                result[i][j] += term[i][j];
            }
        }
    }
    for _ in 0..squarings {
        result = mul(&result, &result);
    }
    result
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` when (nearly)
/// singular.
pub fn solve<const N: usize>(mut a: Mat<N>, mut b: [f64; N]) -> Option<[f64; N]> {
    let scale = a.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    if !(scale > 0.0 && scale.is_finite()) {
        return None;
    }
    for col in 0..N {
        let pivot = (col..N).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() <= 1e-12 * scale {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, bottom) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (r, row) in bottom.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (v, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *v -= f * p;
            }
            b[col + 1 + r] -= f * b[col];
        }
    }
    let mut x = [0.0; N];
    for row in (0..N).rev() {
        let mut s = b[row];
        for k in row + 1..N {
            s -= a[row][k] * x[k];
        }
        x[row] = s / a[row][row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}
