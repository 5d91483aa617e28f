//! Second-order IIR sections (bilinear-transform Butterworth, RBJ "Audio EQ cookbook" form) and
//! the band-pass the estimator and the impact detector share.

/// Band of the ride signal, Hz. Below 0.5 Hz is gravity, tilt and sensor drift (the body
/// resonance of cars and buses sits at 1-1.5 Hz); above 20 Hz is engine and structure vibration.
/// The calibration was fitted with this band, so it is a constant, not a setting.
pub const BAND_LOW_HZ: f64 = 0.5;
pub const BAND_HIGH_HZ: f64 = 20.0;
/// Lowest sample rate the calibration holds for (the band's top must stay below Nyquist).
pub const MIN_RATE_HZ: f64 = 50.0;

#[derive(Debug, Clone)]
pub struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    z: [f64; 2],
}

impl Biquad {
    fn new(b: [f64; 3], a0: f64, a: [f64; 2]) -> Self {
        Self { b: b.map(|v| v / a0), a: a.map(|v| v / a0), z: [0.0; 2] }
    }

    pub fn lowpass(cutoff_hz: f64, rate_hz: f64) -> Self {
        let (cw, alpha) = Self::prewarp(cutoff_hz, rate_hz);
        let b1 = 1.0 - cw;
        Self::new([b1 / 2.0, b1, b1 / 2.0], 1.0 + alpha, [-2.0 * cw, 1.0 - alpha])
    }

    pub fn highpass(cutoff_hz: f64, rate_hz: f64) -> Self {
        let (cw, alpha) = Self::prewarp(cutoff_hz, rate_hz);
        let b1 = 1.0 + cw;
        Self::new([b1 / 2.0, -b1, b1 / 2.0], 1.0 + alpha, [-2.0 * cw, 1.0 - alpha])
    }

    fn prewarp(cutoff_hz: f64, rate_hz: f64) -> (f64, f64) {
        let w0 = std::f64::consts::TAU * cutoff_hz / rate_hz;
        (w0.cos(), w0.sin() / (2.0 * std::f64::consts::FRAC_1_SQRT_2))
    }

    /// Transposed direct form II.
    #[inline]
    pub fn process(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.z[0];
        self.z[0] = self.b[1] * x - self.a[0] * y + self.z[1];
        self.z[1] = self.b[2] * x - self.a[1] * y;
        y
    }

    pub fn reset(&mut self) {
        self.z = [0.0; 2];
    }
}

/// 0.5-20 Hz band-pass (2nd-order Butterworth high-pass then low-pass). The first sample after a
/// reset is taken as the offset and subtracted, so a gravity component of 1 g (or a mounting
/// tilt) does not ring through the high-pass: the estimator works whether or not the sensor
/// removes gravity.
#[derive(Debug, Clone)]
pub struct RideBand {
    hp: Biquad,
    lp: Biquad,
    offset: Option<f64>,
}

impl RideBand {
    pub fn new(rate_hz: f64) -> Self {
        let rate = rate_hz.max(MIN_RATE_HZ);
        let high = BAND_HIGH_HZ.min(0.45 * rate);
        Self { hp: Biquad::highpass(BAND_LOW_HZ, rate), lp: Biquad::lowpass(high, rate), offset: None }
    }

    #[inline]
    pub fn process(&mut self, x: f64) -> f64 {
        let off = *self.offset.get_or_insert(x);
        self.lp.process(self.hp.process(x - off))
    }

    pub fn reset(&mut self) {
        self.hp.reset();
        self.lp.reset();
        self.offset = None;
    }
}
