//! The quarter-car model and the International Roughness Index.
//!
//! The IRI reference vehicle (the "golden car": Sayers, Gillespie & Queiroz, World Bank Technical
//! Paper 45/46, 1986; ASTM E1926) is a quarter car with parameters per unit sprung mass
//! `k1 = 653 s⁻²` (tyre), `k2 = 63.3 s⁻²` (suspension spring), `c = 6.0 s⁻¹` (damper), `μ = 0.15`
//! (unsprung/sprung mass ratio). With state `x = [zs, zs', zu, zu']` and road height `y`:
//!
//! ```text
//! zs'' = -k2 (zs - zu) - c (zs' - zu')
//! zu'' = ( k2 (zs - zu) + c (zs' - zu') + k1 (y - zu) ) / μ
//! ```
//!
//! The model is linear, so it is discretised exactly: with the road input linear between samples
//! (first-order hold), `x[k+1] = Φ x[k] + Γ0 y[k] + Γ1 (y[k+1] - y[k]) / h`, where `Φ, Γ0, Γ1`
//! are blocks of `exp(M h)` for the augmented matrix `M = [[A, B, 0], [0, 0, 1], [0, 0, 0]]`.
//! No step-size stability limit applies, and the result does not depend on the step (tested).
//!
//! IRI (ASTM E1926): smooth the profile with a 250 mm moving average, drive the golden car over
//! it at 80 km/h starting from the average slope of the first 11 m, and average the rectified
//! suspension stroke rate divided by speed, `|zs' - zu'| / v` (m/m), over the length; ×1000 for
//! m/km. Segment values are accumulated from one continuous run, as the standard recommends for
//! reporting intervals, so each segment does not restart the car.

use super::linalg::{expm, Mat};
use super::profile::RoadProfile;

/// IRI simulation speed, m/s (80 km/h).
pub const IRI_SPEED_MPS: f64 = 80.0 / 3.6;
/// Tyre-footprint smoothing base of ASTM E1926, m.
pub const IRI_SMOOTHING_M: f64 = 0.25;
/// Initialisation length of ASTM E1926, m.
pub const IRI_INIT_M: f64 = 11.0;

/// Quarter-car parameters per unit sprung mass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuarterCar {
    /// Tyre stiffness / sprung mass, s⁻².
    pub k1: f64,
    /// Suspension stiffness / sprung mass, s⁻².
    pub k2: f64,
    /// Damping / sprung mass, s⁻¹.
    pub c: f64,
    /// Unsprung / sprung mass.
    pub mu: f64,
}

impl QuarterCar {
    /// The IRI reference ("golden") car.
    pub const GOLDEN: QuarterCar = QuarterCar { k1: 653.0, k2: 63.3, c: 6.0, mu: 0.15 };

    fn system(&self) -> (Mat<4>, [f64; 4]) {
        let Self { k1, k2, c, mu } = *self;
        let a = [[0.0, 1.0, 0.0, 0.0], [-k2, -c, k2, c], [0.0, 0.0, 0.0, 1.0], [k2 / mu, c / mu, -(k1 + k2) / mu, -c / mu]];
        (a, [0.0, 0.0, 0.0, k1 / mu])
    }

    /// Exact first-order-hold discretisation for time step `h_s`.
    pub fn discretise(&self, h_s: f64) -> Discrete {
        let (a, b) = self.system();
        let mut m: Mat<6> = [[0.0; 6]; 6];
        for i in 0..4 {
            m[i][..4].copy_from_slice(&a[i]);
            m[i][4] = b[i];
        }
        m[4][5] = 1.0;
        for row in m.iter_mut() {
            for v in row.iter_mut() {
                *v *= h_s;
            }
        }
        let e = expm(&m);
        let mut phi = [[0.0; 4]; 4];
        let (mut g0, mut g1) = ([0.0; 4], [0.0; 4]);
        for i in 0..4 {
            phi[i].copy_from_slice(&e[i][..4]);
            g0[i] = e[i][4];
            // The last augmented state is the input rate y' = Δy / h: fold the 1/h in here so
            // `step` multiplies by Δy.
            g1[i] = e[i][5] / h_s;
        }
        Discrete { car: *self, h_s, phi, g0, g1 }
    }

    /// Sprung-mass vertical acceleration of a state, m/s².
    pub fn body_accel(&self, x: &[f64; 4]) -> f64 {
        -self.k2 * (x[0] - x[2]) - self.c * (x[1] - x[3])
    }
}

/// A discretised quarter car with a fixed step.
#[derive(Debug, Clone)]
pub struct Discrete {
    pub car: QuarterCar,
    pub h_s: f64,
    phi: Mat<4>,
    g0: [f64; 4],
    g1: [f64; 4],
}

impl Discrete {
    /// Advances `x` one step with the road going linearly from `y0` to `y1`.
    #[inline]
    pub fn step(&self, x: &mut [f64; 4], y0: f64, y1: f64) {
        let dy = y1 - y0;
        let mut n = [0.0; 4];
        for (i, ni) in n.iter_mut().enumerate() {
            let r = &self.phi[i];
            *ni = r[0] * x[0] + r[1] * x[1] + r[2] * x[2] + r[3] * x[3] + self.g0[i] * y0 + self.g1[i] * dy;
        }
        *x = n;
    }
}

/// State of a car travelling at `speed` on a plane of slope `slope` at height `y0`.
fn initial_state(y0: f64, slope: f64, speed: f64) -> [f64; 4] {
    [y0, slope * speed, y0, slope * speed]
}

fn init_slope(p: &RoadProfile) -> f64 {
    let span = IRI_INIT_M.min(p.length_m());
    if span <= 0.0 {
        0.0
    } else {
        (p.height_at(span) - p.height_at(0.0)) / span
    }
}

/// IRI (m/km) of a whole profile sampled every `dx_m`. 0 for fewer than two samples.
pub fn iri(heights_m: &[f64], dx_m: f64) -> f64 {
    let len = heights_m.len().saturating_sub(1) as f64 * dx_m;
    if len <= 0.0 {
        return 0.0;
    }
    iri_segments(heights_m, dx_m, len + dx_m).first().copied().unwrap_or(0.0)
}

/// IRI (m/km) per consecutive `segment_m` interval from the start, from one continuous run;
/// a trailing partial interval is included. Empty for degenerate input.
pub fn iri_segments(heights_m: &[f64], dx_m: f64, segment_m: f64) -> Vec<f64> {
    if heights_m.len() < 2 || !(dx_m > 0.0 && segment_m > 0.0) {
        return Vec::new();
    }
    let raw = RoadProfile { dx_m, heights_m: heights_m.to_vec() };
    let p = raw.moving_average(IRI_SMOOTHING_M);
    let v = IRI_SPEED_MPS;
    let sim = QuarterCar::GOLDEN.discretise(dx_m / v);
    let mut x = initial_state(p.heights_m[0], init_slope(&p), v);
    let per_seg = ((segment_m / dx_m).round() as usize).max(1);
    let mut out = Vec::new();
    let (mut acc, mut n) = (0.0, 0usize);
    for w in p.heights_m.windows(2) {
        sim.step(&mut x, w[0], w[1]);
        acc += (x[1] - x[3]).abs();
        n += 1;
        if n == per_seg {
            out.push(acc / n as f64 / v * 1000.0);
            acc = 0.0;
            n = 0;
        }
    }
    if n > 0 {
        out.push(acc / n as f64 / v * 1000.0);
    }
    out
}

/// A simulated ride: sensor-rate samples of the sprung-mass vertical acceleration.
#[derive(Debug, Clone, Default)]
pub struct Ride {
    pub rate_hz: f64,
    pub speed_mps: f64,
    /// Body acceleration (no gravity, no noise), m/s², sample k at `t = k / rate_hz`.
    pub accel_mps2: Vec<f64>,
    /// Suspension relative velocity `zs' - zu'`, m/s, same instants.
    pub rel_vel_mps: Vec<f64>,
}

impl Ride {
    pub fn time_s(&self, k: usize) -> f64 {
        k as f64 / self.rate_hz
    }

    pub fn distance_m(&self, k: usize) -> f64 {
        self.time_s(k) * self.speed_mps
    }
}

/// Drives `car` over `profile` at constant `speed_mps` and samples at `rate_hz`.
///
/// The profile is first smoothed by the 250 mm tyre footprint (as for IRI; this shifts positions
/// by 0.1 m, see `RoadProfile::moving_average`). Internally the car is
/// stepped at `rate_hz · m`, with `m` chosen so one step covers at most one profile sample, and
/// each output sample is the mean acceleration over its `m` sub-steps (a boxcar anti-alias
/// filter, like the averaging of a MEMS accelerometer's output data rate).
pub fn simulate_ride(car: &QuarterCar, profile: &RoadProfile, speed_mps: f64, rate_hz: f64) -> Ride {
    let mut ride = Ride { rate_hz, speed_mps, ..Ride::default() };
    if !(speed_mps > 0.0 && rate_hz > 0.0 && profile.dx_m > 0.0) || profile.heights_m.len() < 2 {
        return ride;
    }
    let p = profile.moving_average(IRI_SMOOTHING_M);
    let m = (speed_mps / (rate_hz * p.dx_m)).ceil().max(1.0) as usize;
    let h = 1.0 / (rate_hz * m as f64);
    let sim = car.discretise(h);
    let mut x = initial_state(p.heights_m[0], init_slope(&p), speed_mps);
    let samples = (p.length_m() / speed_mps * rate_hz).floor() as usize;
    ride.accel_mps2.reserve(samples + 1);
    ride.rel_vel_mps.reserve(samples + 1);
    ride.accel_mps2.push(car.body_accel(&x));
    ride.rel_vel_mps.push(x[1] - x[3]);
    let mut y_prev = p.heights_m[0];
    let mut step = 0usize;
    for _ in 0..samples {
        let mut acc = 0.0;
        for _ in 0..m {
            step += 1;
            let y = p.height_at(step as f64 * h * speed_mps);
            sim.step(&mut x, y_prev, y);
            y_prev = y;
            acc += car.body_accel(&x);
        }
        ride.accel_mps2.push(acc / m as f64);
        ride.rel_vel_mps.push(x[1] - x[3]);
    }
    ride
}

/// Steady-state amplitude of the relative-slope response `|(zs-zu)(n)| / |y(n)|` of the golden
/// car at 80 km/h to a sinusoidal profile of spatial frequency `n` (cycles/m). Used by tests to
/// check the time-domain simulation against the closed form.
pub fn iri_gain(n_cycles_per_m: f64) -> f64 {
    let QuarterCar { k1, k2, c, mu } = QuarterCar::GOLDEN;
    let w = std::f64::consts::TAU * n_cycles_per_m * IRI_SPEED_MPS;
    // Complex arithmetic on (re, im) pairs; s = jω.
    let s2 = -w * w;
    let a11 = (s2 + k2, c * w);
    let a12 = (-k2, -c * w);
    let a22 = (mu * s2 + k2 + k1, c * w);
    let cmul = |a: (f64, f64), b: (f64, f64)| (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0);
    let p = cmul(a11, a22);
    let q = cmul(a12, a12);
    let det = (p.0 - q.0, p.1 - q.1);
    // zs = -a12 k1 / det, zu = a11 k1 / det → zs - zu = -(a12 + a11) k1 / det.
    let num = (-(a12.0 + a11.0) * k1, -(a12.1 + a11.1) * k1);
    (num.0.hypot(num.1)) / det.0.hypot(det.1)
}
