//! Settings of the ride-roughness pipeline: the accelerometer source, segmenting, validity rules,
//! the IRI class boundaries, impact detection and the per-vehicle gain.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::filter::MIN_RATE_HZ;

/// Where the samples come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A recorded CSV file (replay, tests).
    File,
    /// A character device or FIFO producing CSV lines (e.g. a USB-serial IMU bridge).
    Device,
}

/// How a file source is replayed; devices are always read as fast as they produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// Sleep so samples come out at the rate of their timestamps.
    Realtime,
    /// As fast as the consumer takes them.
    Fast,
}

/// Units of the acceleration values in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Units {
    /// Standard gravity, 9.80665 m/s².
    G,
    Mps2,
}

impl Units {
    pub fn to_mps2(self) -> f64 {
        match self {
            Units::G => 9.806_65,
            Units::Mps2 => 1.0,
        }
    }
}

/// Which sensor axis points up (towards the roof), with sign: `"-z"` for a sensor mounted upside
/// down. The sign matters only for the sign of reported peaks; roughness uses magnitudes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
pub enum Axis {
    #[serde(rename = "x")]
    X,
    #[serde(rename = "y")]
    Y,
    #[serde(rename = "z")]
    Z,
    #[serde(rename = "-x")]
    NegX,
    #[serde(rename = "-y")]
    NegY,
    #[serde(rename = "-z")]
    NegZ,
}

impl Axis {
    /// Index into `[ax, ay, az]`.
    pub fn index(self) -> usize {
        match self {
            Axis::X | Axis::NegX => 0,
            Axis::Y | Axis::NegY => 1,
            Axis::Z | Axis::NegZ => 2,
        }
    }

    pub fn sign(self) -> f64 {
        match self {
            Axis::X | Axis::Y | Axis::Z => 1.0,
            Axis::NegX | Axis::NegY | Axis::NegZ => -1.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    pub kind: SourceKind,
    pub path: PathBuf,
    /// Nominal sample rate, Hz: gives the time of `az`-only lines and sizes the filters. At least
    /// 50 Hz (the 0.5-20 Hz analysis band must sit below Nyquist).
    pub rate_hz: f64,
    pub axis: Axis,
    pub units: Units,
    pub pace: Pace,
    /// Longer lines are counted as bad and skipped (a device spewing garbage without newlines
    /// must not grow memory).
    pub max_line_bytes: usize,
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self {
            kind: SourceKind::Device,
            path: PathBuf::new(),
            rate_hz: 100.0,
            axis: Axis::Z,
            units: Units::Mps2,
            pace: Pace::Fast,
            max_line_bytes: 256,
        }
    }
}

/// Upper IRI bounds (m/km) of the condition classes; above `poor_max` is very poor.
///
/// Defaults follow the World Bank paved-road condition bands used with HDM-4 and RONET
/// (good < 4, fair 4-6, poor 6-10, very poor > 10 m/km; Archondo-Callao, "Road Network
/// Evaluation Tools", World Bank SSATP 2004). City streets are rougher than highways at equal
/// serviceability, so operators may widen them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClassThresholds {
    pub good_max: f64,
    pub fair_max: f64,
    pub poor_max: f64,
}

impl Default for ClassThresholds {
    fn default() -> Self {
        Self { good_max: 4.0, fair_max: 6.0, poor_max: 10.0 }
    }
}

/// Impact (pothole, joint, kerb) detection on the band-passed vertical acceleration.
///
/// A peak is flagged when `|a| / (g · (v / reference_speed_mps)^speed_exponent) ≥ threshold_g`.
/// On ISO 8608 (w = 2) roads the RMS body acceleration grows about as `v^0.5` (white slope
/// spectrum, see `calibration`), so the default exponent keeps the false-alarm rate on ordinary
/// roughness about the same at every speed. Default threshold 0.5 g, from the simulations in the
/// tests: a 5 cm × 0.5 m pothole scores 1.0-1.7 at 20-60 km/h; 1 km of class C road (IRI ≈ 9)
/// gives no false impacts, class D (IRI ≈ 17) 30-45 per km and class E a hundred or more.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ImpactConfig {
    pub threshold_g: f64,
    pub reference_speed_mps: f64,
    pub speed_exponent: f64,
    /// After a flagged peak, further peaks within this time are part of the same impact (both
    /// edges of a pothole, the body rebound).
    pub refractory_s: f64,
    /// The peak is the largest value within this window after the first threshold crossing.
    pub window_s: f64,
    /// Below this speed nothing is flagged (doors, passengers boarding, kneeling suspension).
    pub min_speed_mps: f64,
}

impl Default for ImpactConfig {
    fn default() -> Self {
        Self { threshold_g: 0.5, reference_speed_mps: 10.0, speed_exponent: 0.5, refractory_s: 0.5, window_s: 0.15, min_speed_mps: 3.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct RoughnessConfig {
    pub enabled: bool,
    pub source: SourceConfig,
    /// Reporting interval of travelled distance, m (100 m is the usual IRI reporting length).
    pub segment_m: f64,
    /// Samples slower than this are not used for IRI (the speed normalisation is fitted for
    /// 20-80 km/h; creeping buses mostly measure their own suspension).
    pub min_speed_mps: f64,
    /// A segment is valid only if the samples used cover at least this fraction of its length.
    pub min_coverage: f64,
    /// A pause between accelerometer samples longer than this is a gap: the segment is invalid
    /// and the filters restart.
    pub max_gap_s: f64,
    /// Motion (speed/odometer) older than this is stale: samples are not used.
    pub max_motion_age_s: f64,
    /// Samples in this time after a (re)start are not used while the filters settle.
    pub warmup_s: f64,
    pub classes: ClassThresholds,
    pub impact: ImpactConfig,
    /// Multiplies the IRI estimate. The built-in calibration is for the IRI reference quarter car;
    /// a bus has a different suspension, so each vehicle type needs a scale factor measured by
    /// driving a section of known IRI (from a profiler survey) and taking the ratio.
    pub vehicle_gain: f64,
}

impl Default for RoughnessConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            source: SourceConfig::default(),
            segment_m: 100.0,
            min_speed_mps: 5.0,
            min_coverage: 0.75,
            max_gap_s: 0.1,
            max_motion_age_s: 2.0,
            warmup_s: 2.0,
            classes: ClassThresholds::default(),
            impact: ImpactConfig::default(),
            vehicle_gain: 1.0,
        }
    }
}

impl RoughnessConfig {
    /// One message per bad field, naming it.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        let mut positive = |name: &str, v: f64| {
            if !(v.is_finite() && v > 0.0) {
                p.push(format!("roughness.{name} must be a positive number, got {v}"));
            }
        };
        positive("segment_m", self.segment_m);
        positive("max_gap_s", self.max_gap_s);
        positive("max_motion_age_s", self.max_motion_age_s);
        positive("vehicle_gain", self.vehicle_gain);
        positive("impact.threshold_g", self.impact.threshold_g);
        positive("impact.reference_speed_mps", self.impact.reference_speed_mps);
        positive("impact.window_s", self.impact.window_s);
        for (name, v) in [
            ("min_speed_mps", self.min_speed_mps),
            ("warmup_s", self.warmup_s),
            ("impact.speed_exponent", self.impact.speed_exponent),
            ("impact.refractory_s", self.impact.refractory_s),
            ("impact.min_speed_mps", self.impact.min_speed_mps),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                p.push(format!("roughness.{name} must be zero or positive, got {v}"));
            }
        }
        if !(self.min_coverage > 0.0 && self.min_coverage <= 1.0) {
            p.push(format!("roughness.min_coverage must be in (0, 1], got {}", self.min_coverage));
        }
        let c = &self.classes;
        if !(c.good_max > 0.0 && c.good_max < c.fair_max && c.fair_max < c.poor_max && c.poor_max.is_finite()) {
            p.push(format!(
                "roughness.classes must satisfy 0 < good_max ({}) < fair_max ({}) < poor_max ({})",
                c.good_max, c.fair_max, c.poor_max
            ));
        }
        let s = &self.source;
        if !(s.rate_hz.is_finite() && s.rate_hz >= MIN_RATE_HZ && s.rate_hz <= 10_000.0) {
            p.push(format!("roughness.source.rate_hz must be between {MIN_RATE_HZ} and 10000, got {}", s.rate_hz));
        }
        if self.enabled && s.path.as_os_str().is_empty() {
            p.push("roughness.source.path must be set when roughness is enabled".to_string());
        }
        if !(16..=65_536).contains(&s.max_line_bytes) {
            p.push(format!("roughness.source.max_line_bytes must be between 16 and 65536, got {}", s.max_line_bytes));
        }
        p
    }
}
