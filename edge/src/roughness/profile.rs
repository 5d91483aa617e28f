//! Synthetic road profiles after ISO 8608:2016 ("Mechanical vibration — Road surface profiles —
//! Reporting of measured data"), used to simulate rides for calibration, tests and benches.
//!
//! ISO 8608 models the one-sided displacement PSD as `Gd(n) = Gd(n0) · (n / n0)^-w` with
//! `n0 = 0.1 cycles/m` and waviness `w = 2`; the classes A..E have the geometric-mean values
//! `Gd(n0) = 16, 64, 256, 1024, 4096 × 10⁻⁶ m³` (each class spans a factor of 4, i.e. ×2 in
//! amplitude, around that mean).
//!
//! The profile is a sum of sinusoids with uniformly random phases (the usual "harmonic
//! superposition" method). The spatial frequencies are log-spaced between `n_min` and `n_max`
//! with a random position inside each band, so there is no exact repetition period and each band
//! carries the variance `Gd(n)·Δn` of the PSD over it. Defaults: 0.01..10 cycles/m (100 m..0.1 m
//! wavelengths, wider than the 0.011..2.83 cycles/m of the standard so that the 0.25 m tyre
//! footprint and the 1.3..30 m IRI band are both covered), 400 bands, samples every 0.05 m
//! (ASTM E1926 asks for at most 0.25 m for IRI; 0.05 m keeps a 0.5 m pothole at 10 samples).

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, well-mixed seeded PRNG. Simulation support
/// only — not for anything that needs unpredictability.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller).
    pub fn next_gaussian(&mut self) -> f64 {
        let u1 = self.next_f64().max(f64::MIN_POSITIVE);
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// ISO 8608 roughness class (A best .. E worst; F..H exist but are off-road).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Iso8608Class {
    A,
    B,
    C,
    D,
    E,
}

impl Iso8608Class {
    pub const ALL: [Iso8608Class; 5] = [Self::A, Self::B, Self::C, Self::D, Self::E];

    /// Reference spatial frequency n0 of ISO 8608, cycles/m.
    pub const N0: f64 = 0.1;

    /// Geometric-mean `Gd(n0)` of the class, m³.
    pub fn gd_n0(self) -> f64 {
        16e-6 * 4f64.powi(self.index() as i32)
    }

    pub fn index(self) -> usize {
        match self {
            Self::A => 0,
            Self::B => 1,
            Self::C => 2,
            Self::D => 3,
            Self::E => 4,
        }
    }

    pub fn letter(self) -> char {
        (b'A' + self.index() as u8) as char
    }
}

/// Heights sampled every `dx_m` from 0.
#[derive(Debug, Clone, PartialEq)]
pub struct RoadProfile {
    pub dx_m: f64,
    pub heights_m: Vec<f64>,
}

impl RoadProfile {
    /// Length covered by the samples, m.
    pub fn length_m(&self) -> f64 {
        self.heights_m.len().saturating_sub(1) as f64 * self.dx_m
    }

    /// Height at `x_m` by linear interpolation, clamped to the ends (0 for an empty profile).
    pub fn height_at(&self, x_m: f64) -> f64 {
        let n = self.heights_m.len();
        if n == 0 {
            return 0.0;
        }
        let pos = (x_m / self.dx_m).max(0.0);
        let i = pos.floor() as usize;
        if i + 1 >= n {
            return self.heights_m[n - 1];
        }
        let f = pos - i as f64;
        self.heights_m[i] * (1.0 - f) + self.heights_m[i + 1] * f
    }

    /// Moving average over `base_m` (ASTM E1926 smooths with a 250 mm base to mimic the tyre
    /// footprint before running the quarter car). Only full windows are kept, so the result is
    /// `k - 1` samples shorter and sample `j` is the mean of input samples `j..j + k`: the profile
    /// shifts by half a base (0.1 m), which is far below any reporting resolution. Returns a clone
    /// when the base is no longer than one sample or longer than the profile.
    pub fn moving_average(&self, base_m: f64) -> RoadProfile {
        let k = (base_m / self.dx_m).round().max(1.0) as usize;
        if k <= 1 || self.heights_m.len() < k {
            return self.clone();
        }
        let mut out = Vec::with_capacity(self.heights_m.len() + 1 - k);
        let mut acc: f64 = self.heights_m[..k - 1].iter().sum();
        for i in k - 1..self.heights_m.len() {
            acc += self.heights_m[i];
            out.push(acc / k as f64);
            acc -= self.heights_m[i + 1 - k];
        }
        RoadProfile { dx_m: self.dx_m, heights_m: out }
    }
}

/// What to generate. `ProfileSpec::new(class, length_m, seed)` gives the documented defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileSpec {
    pub class: Iso8608Class,
    /// Overrides the class's `Gd(n0)` (m³) when set, e.g. to sweep within a class.
    pub gd_n0: Option<f64>,
    pub length_m: f64,
    pub dx_m: f64,
    pub n_min: f64,
    pub n_max: f64,
    pub bands: usize,
    pub seed: u64,
}

impl ProfileSpec {
    pub fn new(class: Iso8608Class, length_m: f64, seed: u64) -> Self {
        Self { class, gd_n0: None, length_m, dx_m: 0.05, n_min: 0.01, n_max: 10.0, bands: 400, seed }
    }
}

/// Generates an ISO 8608 (w = 2) profile. Degenerate specs (non-positive length or spacing) give
/// an empty profile rather than a panic.
pub fn generate(spec: &ProfileSpec) -> RoadProfile {
    let dx = spec.dx_m;
    if !(dx > 0.0 && spec.length_m > 0.0 && spec.n_max > spec.n_min && spec.n_min > 0.0) || spec.bands == 0 {
        return RoadProfile { dx_m: dx.max(f64::MIN_POSITIVE), heights_m: Vec::new() };
    }
    let samples = (spec.length_m / dx).round() as usize + 1;
    let gd0 = spec.gd_n0.unwrap_or_else(|| spec.class.gd_n0());
    let mut rng = SplitMix64::new(spec.seed ^ 0x005E_ED0F_8608);
    let (lo, hi) = (spec.n_min.ln(), spec.n_max.ln());
    let step = (hi - lo) / spec.bands as f64;
    let mut heights = vec![0.0; samples];
    for b in 0..spec.bands {
        let n_lo = (lo + step * b as f64).exp();
        let n_hi = (lo + step * (b + 1) as f64).exp();
        let n = n_lo + (n_hi - n_lo) * rng.next_f64();
        let gd = gd0 * (n / Iso8608Class::N0).powi(-2);
        let amp = (2.0 * gd * (n_hi - n_lo)).sqrt();
        let phase = std::f64::consts::TAU * rng.next_f64();
        // Rotate a phasor instead of calling cos() per sample; drift over 10⁵ steps is ~1e-11.
        let (dsin, dcos) = (std::f64::consts::TAU * n * dx).sin_cos();
        let (mut s, mut c) = phase.sin_cos();
        for h in heights.iter_mut() {
            *h += amp * c;
            let c2 = c * dcos - s * dsin;
            s = s * dcos + c * dsin;
            c = c2;
        }
    }
    RoadProfile { dx_m: dx, heights_m: heights }
}

/// Lowers the profile by `depth_m` over `[position_m, position_m + length_m)`: a sharp-edged
/// pothole (the tyre footprint smoothing of the simulation rounds its edges). Out-of-range parts
/// are ignored.
pub fn inject_pothole(profile: &mut RoadProfile, position_m: f64, depth_m: f64, length_m: f64) {
    if !(position_m.is_finite() && depth_m.is_finite() && length_m.is_finite() && profile.dx_m > 0.0) {
        return;
    }
    let start = (position_m / profile.dx_m).ceil().max(0.0) as usize;
    let end = ((position_m + length_m) / profile.dx_m).ceil().max(0.0) as usize;
    let end = end.min(profile.heights_m.len());
    for h in profile.heights_m.iter_mut().take(end).skip(start) {
        *h -= depth_m;
    }
}
