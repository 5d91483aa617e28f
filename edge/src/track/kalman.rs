//! Constant-velocity Kalman filter on a box (cx, cy, w, h).
//!
//! The SORT/ByteTrack filter has block-diagonal F, H, Q and R (each coordinate only couples with
//! its own velocity), so it is exactly four independent 2-state filters. Running them separately
//! is cheaper than an 8x8 filter and numerically identical. Time is continuous: the process noise
//! is the white-noise-acceleration model (Bar-Shalom, Li & Kirubarajan, "Estimation with
//! Applications to Tracking and Navigation", §6.2.2), scaled by the box height like ByteTrack.

/// Position/velocity filter for one coordinate.
#[derive(Debug, Clone, Copy)]
pub struct Axis {
    pub x: f64,
    pub v: f64,
    p: [f64; 3], // symmetric covariance: [pxx, pxv, pvv]
}

impl Axis {
    pub fn new(x: f64, pos_std: f64, vel_std: f64) -> Self {
        Self { x, v: 0.0, p: [pos_std * pos_std, 0.0, vel_std * vel_std] }
    }

    /// Propagates by `dt` seconds with acceleration spectral density `q` (units²/s³).
    pub fn predict(&mut self, dt: f64, q: f64) {
        if !(dt > 0.0) {
            return;
        }
        self.x += self.v * dt;
        let [pxx, pxv, pvv] = self.p;
        let (dt2, dt3) = (dt * dt, dt * dt * dt);
        self.p = [pxx + 2.0 * dt * pxv + dt2 * pvv + q * dt3 / 3.0, pxv + dt * pvv + q * dt2 / 2.0, pvv + q * dt];
    }

    /// Fuses a position measurement with variance `r`.
    pub fn update(&mut self, z: f64, r: f64) {
        let [pxx, pxv, pvv] = self.p;
        let s = pxx + r;
        if !(s > 0.0) || !z.is_finite() {
            return;
        }
        let (kx, kv) = (pxx / s, pxv / s);
        let innov = z - self.x;
        self.x += kx * innov;
        self.v += kv * innov;
        self.p = [(1.0 - kx) * pxx, (1.0 - kx) * pxv, pvv - kv * pxv];
    }

    #[allow(dead_code)]
    pub fn pos_var(&self) -> f64 {
        self.p[0]
    }
}

/// Four axis filters for (cx, cy, w, h).
#[derive(Debug, Clone, Copy)]
pub struct BoxFilter {
    pub axes: [Axis; 4],
    meas_rel: f64,
    accel_rel: f64,
}

impl BoxFilter {
    pub fn new(z: [f64; 4], meas_rel: f64, accel_rel: f64) -> Self {
        let h = z[3].max(1.0);
        // ByteTrack initialises position std at 2x measurement std and velocity std generously.
        let pos = 2.0 * meas_rel * h;
        let vel = 2.0 * h; // up to ~2 box heights per second of unknown initial motion
        Self { axes: z.map(|v| Axis::new(v, pos, vel)), meas_rel, accel_rel }
    }

    pub fn predict(&mut self, dt: f64) {
        let h = self.axes[3].x.max(1.0);
        let qc = (self.accel_rel * h).powi(2);
        // Size changes much more slowly than position in traffic scenes.
        let qs = (0.25 * self.accel_rel * h).powi(2);
        for (i, a) in self.axes.iter_mut().enumerate() {
            a.predict(dt, if i < 2 { qc } else { qs });
        }
        // Keep the size physical during long coasting.
        for i in 2..4 {
            if self.axes[i].x < 1.0 {
                self.axes[i].x = 1.0;
                self.axes[i].v = 0.0;
            }
        }
    }

    pub fn update(&mut self, z: [f64; 4]) {
        let h = z[3].max(1.0);
        let r = (self.meas_rel * h).powi(2);
        for (a, zi) in self.axes.iter_mut().zip(z) {
            a.update(zi, r);
        }
    }

    /// (cx, cy, w, h)
    pub fn state(&self) -> [f64; 4] {
        [self.axes[0].x, self.axes[1].x, self.axes[2].x.max(1.0), self.axes[3].x.max(1.0)]
    }

    pub fn velocity(&self) -> [f64; 2] {
        [self.axes[0].v, self.axes[1].v]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_constant_velocity() {
        let mut a = Axis::new(0.0, 1.0, 10.0);
        let q = 1.0;
        for k in 1..=60 {
            a.predict(1.0 / 30.0, q);
            a.update(5.0 * k as f64 / 30.0, 0.01);
        }
        assert!((a.v - 5.0).abs() < 0.05, "{}", a.v);
        assert!((a.x - 10.0).abs() < 0.05);
        // Negative or NaN dt must not move or poison the state.
        let before = a.x;
        a.predict(-1.0, q);
        a.predict(f64::NAN, q);
        a.update(f64::NAN, 1.0);
        assert_eq!(a.x, before);
    }
}
