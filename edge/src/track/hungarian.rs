//! Minimum-cost assignment (Hungarian method, Kuhn 1955 / Munkres 1957) in the O(n²m)
//! shortest-augmenting-path form with potentials (Jonker & Volgenant 1987 style).

/// Solves a rectangular assignment; `cost` is row-major `rows x cols`. Returns, for each row,
/// the assigned column (every row gets one when rows <= cols; with rows > cols some rows get
/// `None`). Non-finite costs are treated as prohibitively large.
pub fn assign(cost: &[f64], rows: usize, cols: usize) -> Vec<Option<usize>> {
    if rows == 0 || cols == 0 || cost.len() < rows * cols {
        return vec![None; rows];
    }
    if rows > cols {
        // Solve the transpose so the row side is the smaller one.
        let t: Vec<f64> = (0..cols * rows).map(|k| cost[(k % rows) * cols + k / rows]).collect();
        let col_to_row = assign(&t, cols, rows);
        let mut out = vec![None; rows];
        for (c, r) in col_to_row.into_iter().enumerate() {
            if let Some(r) = r {
                out[r] = Some(c);
            }
        }
        return out;
    }
    let big = cost.iter().filter(|c| c.is_finite()).fold(0.0f64, |a, c| a.max(c.abs())) * 4.0 + 1.0;
    let c = |i: usize, j: usize| {
        let v = cost[i * cols + j];
        if v.is_finite() {
            v
        } else {
            big
        }
    };
    // 1-based arrays as in the classic formulation; p[j] = row matched to column j.
    let (n, m) = (rows, cols);
    let mut u = vec![0.0f64; n + 1];
    let mut v = vec![0.0f64; m + 1];
    let mut p = vec![0usize; m + 1];
    let mut way = vec![0usize; m + 1];
    let mut minv = vec![0.0f64; m + 1];
    let mut used = vec![false; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0usize;
        minv.iter_mut().for_each(|x| *x = f64::INFINITY);
        used.iter_mut().for_each(|x| *x = false);
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = f64::INFINITY;
            let mut j1 = 0usize;
            for j in 1..=m {
                if !used[j] {
                    let cur = c(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            if j1 == 0 {
                break; // cannot happen with finite costs; guards against NaN poisoning
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut out = vec![None; n];
    for j in 1..=m {
        if p[j] != 0 {
            out[p[j] - 1] = Some(j - 1);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute(cost: &[f64], n: usize) -> f64 {
        fn rec(cost: &[f64], n: usize, row: usize, used: &mut Vec<bool>) -> f64 {
            if row == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..n {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost[row * n + j] + rec(cost, n, row + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        rec(cost, n, 0, &mut vec![false; n])
    }

    #[test]
    fn optimal_against_brute_force() {
        let mut s = 12345u64;
        for _ in 0..200 {
            let n = 1 + (s % 6) as usize;
            let cost: Vec<f64> = (0..n * n)
                .map(|_| {
                    s ^= s << 13;
                    s ^= s >> 7;
                    s ^= s << 17;
                    (s % 1000) as f64 / 10.0
                })
                .collect();
            let a = assign(&cost, n, n);
            let total: f64 = a.iter().enumerate().map(|(i, j)| cost[i * n + j.unwrap()]).sum();
            assert!((total - brute(&cost, n)).abs() < 1e-9);
        }
    }

    #[test]
    fn rectangular_and_degenerate() {
        // 3 rows, 2 cols: the expensive row stays unassigned.
        let cost = [1.0, 9.0, 9.0, 1.0, 5.0, 5.0];
        assert_eq!(assign(&cost, 3, 2), vec![Some(0), Some(1), None]);
        assert_eq!(assign(&[], 0, 3), Vec::<Option<usize>>::new());
        assert_eq!(assign(&[f64::NAN, 1.0], 1, 2), vec![Some(1)]);
    }
}
