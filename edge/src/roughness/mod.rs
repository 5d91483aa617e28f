//! Ride roughness of the roads a bus drives: an IRI estimate per 100 m segment and impact events,
//! from a vertical accelerometer (or the vertical axis of an IMU) on the vehicle body.
//!
//! # Method
//!
//! The International Roughness Index (IRI, m/km) is defined on a *road profile*: the rectified
//! suspension stroke rate of a reference quarter car (the "golden car") driven over it at
//! 80 km/h (`quarter_car`). A bus measures the *response* of its own body instead, at 20-60 km/h.
//! We connect the two through the same quarter-car model:
//!
//! 1. The vertical acceleration is band-passed to 0.5-20 Hz (`filter`), which removes gravity,
//!    mounting tilt and drift, so sensors with or without gravity compensation both work.
//! 2. Each sample is placed on the odometer from the latest motion update and its power is
//!    normalised for speed: on ISO 8608 roads (waviness 2) the profile slope is white, so the
//!    body-acceleration RMS grows as `sqrt(v)` while IRI does not depend on speed.
//! 3. Per segment, `IRI = vehicle_gain · gain · rms_norm^β` with `gain, β, γ` fitted by
//!    `Calibration::fit` on simulated golden-car rides over generated ISO 8608 class A..E roads
//!    at 20-60 km/h (`calibration`, `profile`). The shipped constants come from that fit.
//! 4. Segments are flagged invalid (with a reason) when data has gaps, motion is stale, too
//!    much was driven slowly, or too little was covered; their numbers should not be mapped.
//! 5. Impacts: peaks of the same band-passed signal above a speed-normalised threshold
//!    (`impact`), with a refractory period so a pothole's two edges count once.
//!
//! Validation (`tests`): on roads generated with other seeds than the calibration, the per-100 m
//! estimate recovers the golden car's true IRI of the same stretch with R² ≥ 0.9 (linear scale;
//! measured 0.996, per-segment RMS relative error about 4 %) across classes A..E and 20-60 km/h,
//! with 0.02 m/s² sensor noise and a gravity offset; 5 cm potholes on a class B road are flagged
//! within ±5 m (measured within 1.3 m) at 20, 40 and 60 km/h.
//!
//! # Limits
//!
//! - The calibration is exact for the golden car only. A bus has other suspension dynamics, so
//!   estimates are "golden-car-equivalent" up to `vehicle_gain`, which must be measured per
//!   vehicle type on sections of known IRI (profiler survey). Seat or floor mounting, loading
//!   and tyre pressure also change it.
//! - The speed normalisation assumes w = 2 roads. Roads dominated by short waves (cobbles,
//!   corrugation) or by isolated features (speed humps, joints) break it; speed humps in
//!   particular raise a segment's estimate and also show up as impacts.
//! - Speed below `min_speed_mps` and the filter warm-up are excluded; city segments with long
//!   slow stretches come out invalid rather than wrong.
//! - Distance comes from the motion updates (odometer or integrated GNSS speed); segment
//!   boundaries are as accurate as that odometer.

pub mod calibration;
pub mod config;
pub mod estimator;
pub mod filter;
pub mod impact;
mod linalg;
pub mod profile;
pub mod quarter_car;
pub mod source;

#[cfg(test)]
mod tests;

pub use calibration::{Calibration, CalibrationError, CalibrationPlan, CalibrationSample, FitReport, SensorModel};
pub use config::{Axis, ClassThresholds, ImpactConfig, Pace, RoughnessConfig, SourceConfig, SourceKind, Units};
pub use estimator::{EstimatorStats, InvalidReason, RoughnessClass, RoughnessEstimator, RoughnessSegment};
pub use impact::{ImpactDetector, ImpactEvent};
pub use source::{spawn_source, AccelSample, LineError, LineParser, SampleReader, SourceError, SourceStats};
