//! Online IRI estimation per distance segment from vertical body acceleration and motion.
//!
//! Each accelerometer sample is band-passed (0.5-20 Hz, gravity and offsets removed, see
//! `filter`), placed on the odometer by extrapolating the latest motion update, and its power
//! `a²` is normalised for speed: `a² / (v / v_ref)^(2γ)`. When the distance crosses the end of
//! the current segment, the segment's speed-normalised RMS becomes an IRI estimate through the
//! calibration (`IRI = vehicle_gain · gain · rms_norm^β`) and a `RoughnessSegment` is emitted.
//! Impact events come from the same band-passed signal.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::calibration::Calibration;
use super::config::{ClassThresholds, RoughnessConfig};
use super::filter::RideBand;
use super::impact::{ImpactDetector, ImpactEvent};

/// Condition class from the configured IRI thresholds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoughnessClass {
    Good,
    Fair,
    Poor,
    VeryPoor,
}

impl RoughnessClass {
    pub fn from_iri(iri_m_per_km: f64, t: &ClassThresholds) -> Self {
        if iri_m_per_km < t.good_max {
            Self::Good
        } else if iri_m_per_km < t.fair_max {
            Self::Fair
        } else if iri_m_per_km < t.poor_max {
            Self::Poor
        } else {
            Self::VeryPoor
        }
    }
}

/// Why a segment's estimate should not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    /// Accelerometer samples paused longer than `max_gap_s` inside the segment.
    Gap,
    /// Motion updates were missing or older than `max_motion_age_s`.
    StaleMotion,
    /// Too much of the segment was driven below `min_speed_mps`.
    LowSpeed,
    /// Too little of the segment was covered by usable samples (warm-up, a distance jump).
    TooFewSamples,
    /// The odometer went backwards; the segment was cut short.
    DistanceReset,
    /// Cut short by `flush` (end of data).
    Partial,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RoughnessSegment {
    pub start_distance_m: f64,
    pub length_m: f64,
    pub start_t_s: f64,
    pub end_t_s: f64,
    /// Estimated IRI, m/km (0 when no sample was usable).
    pub iri_m_per_km: f64,
    pub class: RoughnessClass,
    /// Time-weighted mean speed over the segment, m/s.
    pub mean_speed_mps: f64,
    /// RMS of the band-passed acceleration of the usable samples, m/s² (not speed-normalised).
    pub accel_rms_mps2: f64,
    /// Accelerometer samples in the segment, and how many of them were usable.
    pub samples: u32,
    pub used_samples: u32,
    /// Fraction of the length covered by usable samples.
    pub coverage: f64,
    pub impacts: u32,
    pub valid: bool,
    pub invalid_reason: Option<InvalidReason>,
}

/// What one `push_accel` produced.
#[derive(Debug, Clone, Default, PartialEq)]
#[must_use]
pub struct Emitted {
    pub segment: Option<RoughnessSegment>,
    pub impact: Option<ImpactEvent>,
}

/// Counters for health metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EstimatorStats {
    pub accel_samples: u64,
    /// Non-finite values or timestamps not after the previous one.
    pub rejected_accel: u64,
    pub rejected_motion: u64,
    pub gaps: u64,
    /// Samples that arrived with no fresh motion and so have no distance.
    pub unplaced_samples: u64,
    pub distance_resets: u64,
    pub segments: u64,
    pub impacts: u64,
}

#[derive(Debug, Clone, Copy)]
struct Motion {
    t_s: f64,
    speed_mps: f64,
    distance_m: f64,
}

#[derive(Debug, Clone)]
struct Accumulator {
    start_m: f64,
    end_m: f64,
    start_t: f64,
    end_t: f64,
    last_d: f64,
    power: f64,
    a2: f64,
    samples: u32,
    used: u32,
    duration: f64,
    speed_time: f64,
    covered_m: f64,
    low_speed_m: f64,
    gap: bool,
    stale: bool,
    impacts: u32,
}

impl Accumulator {
    fn new(start_m: f64, end_m: f64, t: f64, d: f64) -> Self {
        Self {
            start_m,
            end_m,
            start_t: t,
            end_t: t,
            last_d: d,
            power: 0.0,
            a2: 0.0,
            samples: 0,
            used: 0,
            duration: 0.0,
            speed_time: 0.0,
            covered_m: 0.0,
            low_speed_m: 0.0,
            gap: false,
            stale: false,
            impacts: 0,
        }
    }
}

/// The online estimator. Timestamps are seconds on any monotonic clock shared by
/// `push_accel` and `push_motion`; distance is a cumulative odometer in metres (wheel odometry
/// or integrated GNSS speed).
#[derive(Debug, Clone)]
pub struct RoughnessEstimator {
    cfg: RoughnessConfig,
    cal: Calibration,
    band: RideBand,
    impacts: ImpactDetector,
    motion: Option<Motion>,
    last_t: Option<f64>,
    run_start_t: f64,
    origin_m: Option<f64>,
    seg: Option<Accumulator>,
    stats: EstimatorStats,
}

impl RoughnessEstimator {
    /// `cfg` should have passed `validate()`; invalid numbers make segments invalid or
    /// meaningless but never panic.
    pub fn new(cfg: &RoughnessConfig, cal: Calibration) -> Self {
        Self {
            band: RideBand::new(cfg.source.rate_hz),
            impacts: ImpactDetector::new(cfg.impact.clone()),
            cfg: cfg.clone(),
            cal,
            motion: None,
            last_t: None,
            run_start_t: f64::NEG_INFINITY,
            origin_m: None,
            seg: None,
            stats: EstimatorStats::default(),
        }
    }

    pub fn stats(&self) -> EstimatorStats {
        self.stats
    }

    /// Latest speed and odometer reading at time `t_s`.
    pub fn push_motion(&mut self, t_s: f64, speed_mps: f64, distance_m: f64) {
        if !(t_s.is_finite() && speed_mps.is_finite() && speed_mps >= 0.0 && distance_m.is_finite()) {
            self.stats.rejected_motion += 1;
            return;
        }
        if self.motion.is_some_and(|m| t_s < m.t_s) {
            self.stats.rejected_motion += 1;
            return;
        }
        self.motion = Some(Motion { t_s, speed_mps, distance_m });
    }

    /// One vertical acceleration sample (m/s², with or without gravity).
    pub fn push_accel(&mut self, t_s: f64, az_mps2: f64) -> Emitted {
        let mut out = Emitted::default();
        if !(t_s.is_finite() && az_mps2.is_finite()) || self.last_t.is_some_and(|lt| t_s <= lt) {
            self.stats.rejected_accel += 1;
            return out;
        }
        self.stats.accel_samples += 1;
        let dt = self.last_t.map_or(0.0, |lt| t_s - lt);
        self.last_t = Some(t_s);
        let gap = dt > self.cfg.max_gap_s;
        if gap || self.run_start_t == f64::NEG_INFINITY {
            if gap {
                self.stats.gaps += 1;
                if let Some(s) = self.seg.as_mut() {
                    s.gap = true;
                }
            }
            self.band.reset();
            self.impacts.reset();
            self.run_start_t = t_s;
        }
        let a = self.band.process(az_mps2);

        let motion = self.motion.filter(|m| (t_s - m.t_s).abs() <= self.cfg.max_motion_age_s);
        let Some(m) = motion else {
            self.stats.unplaced_samples += 1;
            if let Some(s) = self.seg.as_mut() {
                s.stale = true;
            }
            return out;
        };
        let d = m.distance_m + m.speed_mps * (t_s - m.t_s);
        let v = m.speed_mps;

        out.segment = self.place(t_s, d);
        if let Some(ev) = self.impacts.process(t_s, d, a, v) {
            self.stats.impacts += 1;
            if let Some(s) = self.seg.as_mut() {
                s.impacts += 1;
            }
            out.impact = Some(ev);
        }

        let warm = t_s - self.run_start_t >= self.cfg.warmup_s;
        let norm = self.cal.speed_norm(v);
        let Some(s) = self.seg.as_mut() else { return out };
        let dd = if gap || dt == 0.0 { 0.0 } else { (d - s.last_d).clamp(0.0, self.cfg.segment_m) };
        s.last_d = d;
        s.end_t = t_s;
        s.samples = s.samples.saturating_add(1);
        s.duration += dt;
        s.speed_time += v * dt;
        if v < self.cfg.min_speed_mps {
            s.low_speed_m += dd;
        } else if warm && norm > 0.0 {
            s.power += a * a / norm;
            s.a2 += a * a;
            s.used = s.used.saturating_add(1);
            s.covered_m += dd;
        }
        out
    }

    /// Closes the segment in progress (end of data, shutdown). It is marked `Partial` unless it
    /// happened to be complete.
    pub fn flush(&mut self) -> (Option<RoughnessSegment>, Option<ImpactEvent>) {
        let impact = self.impacts.flush();
        let seg = self.seg.take().map(|s| {
            let length = (s.last_d - s.start_m).clamp(0.0, self.cfg.segment_m);
            let complete = length >= self.cfg.segment_m * 0.999;
            self.finish(s, length, (!complete).then_some(InvalidReason::Partial))
        });
        (seg, impact)
    }

    /// Moves to the segment containing distance `d`, returning the one that closed.
    fn place(&mut self, t_s: f64, d: f64) -> Option<RoughnessSegment> {
        let len = self.cfg.segment_m;
        if !(len > 0.0 && len.is_finite()) {
            return None;
        }
        let mut closed = None;
        if let Some(s) = self.seg.take() {
            if d < s.start_m - 1.0 {
                // Odometer reset: report what we had, restart the grid at the new reading.
                self.stats.distance_resets += 1;
                let length = (s.last_d - s.start_m).clamp(0.0, len);
                closed = Some(self.finish(s, length, Some(InvalidReason::DistanceReset)));
                self.origin_m = None;
            } else if d >= s.end_m {
                closed = Some(self.finish(s, len, None));
            } else {
                self.seg = Some(s);
                return None;
            }
        }
        let origin = *self.origin_m.get_or_insert(d);
        let k = ((d - origin) / len).floor().max(0.0);
        let start = origin + k * len;
        self.seg = Some(Accumulator::new(start, start + len, t_s, d));
        closed
    }

    fn finish(&mut self, s: Accumulator, length_m: f64, forced: Option<InvalidReason>) -> RoughnessSegment {
        self.stats.segments += 1;
        let rms_norm = if s.used > 0 { (s.power / s.used as f64).sqrt() } else { 0.0 };
        let accel_rms = if s.used > 0 { (s.a2 / s.used as f64).sqrt() } else { 0.0 };
        let iri = if s.used > 0 { self.cfg.vehicle_gain * self.cal.iri(rms_norm) } else { 0.0 };
        let iri = if iri.is_finite() { iri } else { 0.0 };
        let mean_speed = if s.duration > 0.0 { s.speed_time / s.duration } else { 0.0 };
        let coverage = if length_m > 0.0 { (s.covered_m / length_m).min(1.0) } else { 0.0 };
        // A reset explains everything; otherwise data problems are named before a cut-short end.
        let reason = (forced == Some(InvalidReason::DistanceReset)).then_some(InvalidReason::DistanceReset).or_else(|| {
            if s.gap {
                Some(InvalidReason::Gap)
            } else if s.stale {
                Some(InvalidReason::StaleMotion)
            } else if forced.is_some() {
                forced
            } else if coverage < self.cfg.min_coverage {
                // Name the main cause of the missing distance.
                let missing = (length_m - s.covered_m).max(0.0);
                let low = s.low_speed_m >= 0.5 * missing;
                Some(if low { InvalidReason::LowSpeed } else { InvalidReason::TooFewSamples })
            } else {
                None
            }
        });
        RoughnessSegment {
            start_distance_m: s.start_m,
            length_m,
            start_t_s: s.start_t,
            end_t_s: s.end_t,
            iri_m_per_km: iri,
            class: RoughnessClass::from_iri(iri, &self.cfg.classes),
            mean_speed_mps: mean_speed,
            accel_rms_mps2: accel_rms,
            samples: s.samples,
            used_samples: s.used,
            coverage,
            impacts: s.impacts,
            valid: reason.is_none(),
            invalid_reason: reason,
        }
    }
}
