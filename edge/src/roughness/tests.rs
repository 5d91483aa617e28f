//! Tests of the roughness module: the quarter car against closed forms, ISO 8608 road IRI against
//! theory, the estimator's validation from the issue (R² ≥ 0.9 against the true IRI of each
//! 100 m segment), pothole flagging, the estimator's validity rules, the parser and the config.

use std::io::Cursor;

use proptest::prelude::*;

use super::calibration::{self, pair_with_truth, plan_road, simulate_drive, simulate_samples};
use super::profile::{generate, inject_pothole, Iso8608Class, ProfileSpec, RoadProfile};
use super::quarter_car::{iri, iri_gain, iri_segments, simulate_ride, QuarterCar, IRI_SMOOTHING_M};
use super::*;

const KMH: f64 = 1.0 / 3.6;

fn sinusoid(amplitude: f64, n: f64, length_m: f64, dx: f64) -> RoadProfile {
    let samples = (length_m / dx) as usize + 1;
    let heights = (0..samples).map(|i| amplitude * (std::f64::consts::TAU * n * i as f64 * dx).sin()).collect();
    RoadProfile { dx_m: dx, heights_m: heights }
}

/// Gain of the trailing `k`-sample moving average at spatial frequency `n`.
fn moving_average_gain(n: f64, dx: f64) -> f64 {
    let k = (IRI_SMOOTHING_M / dx).round();
    let x = std::f64::consts::PI * n * dx;
    ((k * x).sin() / (k * x.sin())).abs()
}

/// IRI (m/km) of a stationary Gaussian w = 2 profile from the frequency response:
/// `sqrt(2/π) · σ`, with `σ² = ∫ |H(n)|² Gs dn` over the generated band and `Gs = (2π n0)² Gd(n0)`.
fn theoretical_iri(gd_n0: f64, dx: f64) -> f64 {
    let (lo, hi) = (0.01f64.ln(), 10f64.ln());
    let steps = 20_000;
    let gs = (std::f64::consts::TAU * Iso8608Class::N0).powi(2) * gd_n0;
    let mut var = 0.0;
    for i in 0..steps {
        let n = (lo + (hi - lo) * (i as f64 + 0.5) / steps as f64).exp();
        let dn = n * (hi - lo) / steps as f64;
        var += (iri_gain(n) * moving_average_gain(n, dx)).powi(2) * gs * dn;
    }
    1000.0 * (2.0 / std::f64::consts::PI).sqrt() * var.sqrt()
}

fn r_squared(pairs: &[(f64, f64)]) -> f64 {
    let mean = pairs.iter().map(|p| p.0).sum::<f64>() / pairs.len() as f64;
    let ss_tot: f64 = pairs.iter().map(|p| (p.0 - mean).powi(2)).sum();
    let ss_res: f64 = pairs.iter().map(|p| (p.0 - p.1).powi(2)).sum();
    1.0 - ss_res / ss_tot
}

// ---------------------------------------------------------------- quarter car and IRI

#[test]
fn flat_and_constant_slope_roads_have_zero_iri() {
    assert_eq!(iri(&vec![0.0; 2001], 0.05), 0.0);
    // A 2 % grade: the car starts on the 11 m initial slope, so nothing moves relative.
    let ramp: Vec<f64> = (0..2001).map(|i| 0.02 * i as f64 * 0.05).collect();
    assert!(iri(&ramp, 0.05) < 1e-9, "ramp IRI {}", iri(&ramp, 0.05));
    assert_eq!(iri(&[], 0.05), 0.0);
    assert_eq!(iri(&[1.0], 0.05), 0.0);
    assert!(iri_segments(&[0.0, 1.0], 0.0, 100.0).is_empty());
}

/// Steady state on a sinusoid: the relative slope is a sinusoid of amplitude
/// `|H(n)| · A · 2πn`, whose mean absolute value is `2/π` of that.
#[test]
fn sinusoid_iri_matches_closed_form() {
    let dx = 0.05;
    for (n, amp) in [(0.05, 0.01), (0.1, 0.005), (0.4, 0.001), (1.0, 0.0005)] {
        let p = sinusoid(amp, n, 600.0, dx);
        let segs = iri_segments(&p.heights_m, dx, 100.0);
        // Skip the first 200 m (initial transient); whole cycles in each 100 m segment.
        let sim = segs[2..6].iter().sum::<f64>() / 4.0;
        let expected = 1000.0 * iri_gain(n) * moving_average_gain(n, dx) * amp * std::f64::consts::TAU * n * 2.0 / std::f64::consts::PI;
        assert!((sim / expected - 1.0).abs() < 0.01, "n={n}: simulated {sim:.4} vs closed form {expected:.4}");
    }
}

/// The first-order-hold discretisation is exact for the piecewise-linear road: a ride stepped
/// every 0.05 m (100 Hz × 2 sub-steps at 10 m/s) and every 0.025 m (400 Hz) agree to rounding.
#[test]
fn ride_simulation_is_step_independent() {
    let road = generate(&ProfileSpec::new(Iso8608Class::C, 200.0, 3));
    let a = simulate_ride(&QuarterCar::GOLDEN, &road, 10.0, 100.0);
    let b = simulate_ride(&QuarterCar::GOLDEN, &road, 10.0, 400.0);
    let n = a.rel_vel_mps.len().min(b.rel_vel_mps.len() / 4);
    assert!(n > 1500);
    let max_rel = a.rel_vel_mps[..n].iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let max_diff = (0..n).map(|k| (a.rel_vel_mps[k] - b.rel_vel_mps[4 * k]).abs()).fold(0.0, f64::max);
    assert!(max_diff < 1e-9 * max_rel.max(1.0), "relative velocity differs by {max_diff}");
}

/// IRI of generated ISO 8608 roads against the theory (and so against the class boundaries).
///
/// For w = 2 the profile slope is white with `Gs = (2π n0)² Gd(n0)`, so IRI is proportional to
/// `sqrt(Gd(n0))`; integrating the golden car's response gives IRI ≈ 0.555 · sqrt(Gd(n0) / 10⁻⁶)
/// m/km, i.e. about 2.2 (A), 4.4 (B), 8.8 (C), 17.5 (D), 35 (E) m/km at the class means and a
/// factor √2 either way at the class limits (A < 3.1, B 3.1-6.2, C 6.2-12.4, D 12.4-24.8,
/// E 24.8-49.6 m/km, with the 250 mm smoothing). This matches the √Gd law and the ×2 per class
/// reported when ISO 8608 classes are related to IRI (Múčka, "Simulated road profiles according
/// to ISO 8608 in vibration analysis", J. Testing and Evaluation 46(1), 2018; Loprencipe &
/// Zoccali, J. Modern Transportation 25, 2017), and shows that even class A is only "good" by the
/// World Bank paved-road bands: ISO 8608 classes are rougher than typical highways.
#[test]
fn iso8608_class_iri_matches_theory() {
    let mut report = Vec::new();
    for class in Iso8608Class::ALL {
        let theory = theoretical_iri(class.gd_n0(), 0.05);
        let sims: Vec<f64> = (1..=3u64)
            .map(|seed| {
                let p = generate(&ProfileSpec::new(class, 2000.0, seed * 10 + class.index() as u64));
                iri(&p.heights_m, p.dx_m)
            })
            .collect();
        let mean = sims.iter().sum::<f64>() / sims.len() as f64;
        report.push(format!("{}: theory {theory:.2}, simulated {sims:.2?}", class.letter()));
        assert!((mean / theory - 1.0).abs() < 0.12, "class {}: mean IRI {mean:.2} vs theory {theory:.2}", class.letter());
        for s in &sims {
            let bounds = (theory / 2f64.sqrt(), theory * 2f64.sqrt());
            assert!(*s > bounds.0 && *s < bounds.1, "class {} IRI {s:.2} outside its class range {bounds:.2?}", class.letter());
        }
    }
    println!("ISO 8608 IRI (m/km): {}", report.join("; "));
    // The closed-form constant quoted above.
    let k = theoretical_iri(1e-6, 0.05);
    assert!((k - 0.55).abs() < 0.02, "IRI per sqrt(Gd/1e-6) = {k:.4}");
}

// ---------------------------------------------------------------- calibration and validation

/// Re-runs the calibration fit and checks the shipped constants are what it produces.
#[test]
fn calibration_constants_reproduce() {
    let cfg = RoughnessConfig::default();
    let samples = simulate_samples(&CalibrationPlan::default(), &cfg);
    assert!(samples.len() >= 400, "only {} calibration segments", samples.len());
    let fit = Calibration::fit(&samples).expect("fit");
    let c = fit.calibration;
    println!("calibration fit: {c:?}, log R² {:.4}, {} segments", fit.r2_log, fit.samples);
    let d = Calibration::DEFAULT;
    assert!((c.gain / d.gain - 1.0).abs() < 0.01, "gain {} vs shipped {}", c.gain, d.gain);
    assert!((c.rms_exponent - d.rms_exponent).abs() < 0.01, "β {} vs shipped {}", c.rms_exponent, d.rms_exponent);
    assert!((c.speed_exponent - d.speed_exponent).abs() < 0.01, "γ {} vs shipped {}", c.speed_exponent, d.speed_exponent);
    // Theory says β = 1 and γ ≈ 0.5 for w = 2 roads (γ a little higher from the tyre footprint
    // and the band's top, see `calibration`).
    assert!((c.rms_exponent - 1.0).abs() < 0.05 && (0.45..0.75).contains(&c.speed_exponent), "{c:?}");
}

#[test]
fn calibration_fit_rejects_degenerate_input() {
    assert!(matches!(Calibration::fit(&[]), Err(CalibrationError::TooFewSamples(0))));
    let same = [CalibrationSample { accel_rms_mps2: 1.0, speed_mps: 10.0, iri_m_per_km: 3.0 }; 10];
    assert!(Calibration::fit(&same).is_err());
    let nan = [CalibrationSample { accel_rms_mps2: f64::NAN, speed_mps: 10.0, iri_m_per_km: 3.0 }; 10];
    assert!(matches!(Calibration::fit(&nan), Err(CalibrationError::TooFewSamples(0))));
}

/// The validation of the issue: estimator vs true IRI per 100 m segment, classes A..E, 3 roads
/// each (seeds disjoint from the calibration's), 1 km each, 20-60 km/h, sensor noise 0.02 m/s²
/// and a 1 g offset, motion at 10 Hz.
#[test]
fn estimator_recovers_iri_r2() {
    let cfg = RoughnessConfig::default();
    let mut pairs = Vec::new();
    let mut per_class = Vec::new();
    for class in Iso8608Class::ALL {
        let mut class_pairs = Vec::new();
        for seed in 1..=3u64 {
            let (road, truth) = plan_road(class, seed, 1000.0, cfg.segment_m);
            for (i, kmh) in [20.0, 30.0, 40.0, 50.0, 60.0].into_iter().enumerate() {
                let sensor = SensorModel { seed: seed * 100 + i as u64, ..SensorModel::default() };
                let mut est = RoughnessEstimator::new(&cfg, Calibration::DEFAULT);
                let drive = simulate_drive(&road, kmh * KMH, &sensor, &mut est);
                let got: Vec<(f64, f64)> = pair_with_truth(&drive, &truth, cfg.segment_m).map(|(s, t)| (t, s.iri_m_per_km)).collect();
                assert!(got.len() >= 8, "class {} seed {seed} {kmh} km/h: only {} valid segments", class.letter(), got.len());
                class_pairs.extend(got);
            }
        }
        let n = class_pairs.len() as f64;
        let true_mean = class_pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let est_mean = class_pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let rel_err = (class_pairs.iter().map(|p| ((p.1 - p.0) / p.0).powi(2)).sum::<f64>() / n).sqrt();
        per_class.push(format!("{}: true {true_mean:.2} est {est_mean:.2} rms rel err {:.1}%", class.letter(), 100.0 * rel_err));
        pairs.extend(class_pairs);
    }
    let r2 = r_squared(&pairs);
    let log_pairs: Vec<(f64, f64)> = pairs.iter().map(|p| (p.0.ln(), p.1.ln())).collect();
    println!("validation: {} segments, R² {r2:.4} (log scale {:.4}); {}", pairs.len(), r_squared(&log_pairs), per_class.join("; "));
    assert!(r2 >= 0.9, "R² {r2}");
    // Not only dominated by class E: the log-scale fit must hold too.
    assert!(r_squared(&log_pairs) >= 0.9, "log R² {}", r_squared(&log_pairs));
}

/// 5 cm deep, 0.5 m long potholes on a class B road: each is flagged within ±5 m at 20, 40 and
/// 60 km/h, and at most one impact elsewhere per km.
#[test]
fn potholes_are_flagged() {
    let cfg = RoughnessConfig::default();
    let mut road = generate(&ProfileSpec::new(Iso8608Class::B, 1000.0, 77));
    let holes = [150.0, 420.0, 610.0, 880.0];
    for &x in &holes {
        inject_pothole(&mut road, x, 0.05, 0.5);
    }
    for kmh in [20.0, 40.0, 60.0] {
        let mut est = RoughnessEstimator::new(&cfg, Calibration::DEFAULT);
        let drive = simulate_drive(&road, kmh * KMH, &SensorModel::default(), &mut est);
        let found: Vec<String> = drive.impacts.iter().map(|e| format!("{:.1} m sev {:.2}", e.distance_m, e.severity)).collect();
        for &x in &holes {
            assert!(
                drive.impacts.iter().any(|e| (e.distance_m - x).abs() <= 5.0),
                "{kmh} km/h: pothole at {x} m not flagged; impacts {found:?}"
            );
        }
        let false_alarms = drive.impacts.iter().filter(|e| holes.iter().all(|x| (e.distance_m - x).abs() > 5.0)).count();
        println!("{kmh} km/h impacts: {found:?}");
        assert!(false_alarms <= 1, "{kmh} km/h: {false_alarms} false impacts: {found:?}");
        let counted: u32 = drive.segments.iter().map(|s| s.impacts).sum();
        assert_eq!(counted as usize, drive.impacts.len());
    }
}

/// Clean class A..C roads (no potholes, IRI up to ~9 m/km) at 20-60 km/h: at most one impact
/// per km. (Classes D and E, IRI 17-35 m/km, are rough enough to trip it often.)
#[test]
fn plain_roads_have_few_impacts() {
    let cfg = RoughnessConfig::default();
    for class in [Iso8608Class::A, Iso8608Class::B, Iso8608Class::C] {
        let road = generate(&ProfileSpec::new(class, 1000.0, 5));
        for kmh in [20.0, 40.0, 60.0] {
            let mut est = RoughnessEstimator::new(&cfg, Calibration::DEFAULT);
            let drive = simulate_drive(&road, kmh * KMH, &SensorModel::default(), &mut est);
            assert!(drive.impacts.len() <= 1, "class {} {kmh} km/h: {:?}", class.letter(), drive.impacts);
        }
    }
}

// ---------------------------------------------------------------- estimator behaviour

fn drive_plain(road: &RoadProfile, kmh: f64, sensor: SensorModel) -> Vec<RoughnessSegment> {
    let mut est = RoughnessEstimator::new(&RoughnessConfig::default(), Calibration::DEFAULT);
    simulate_drive(road, kmh * KMH, &sensor, &mut est).segments
}

#[test]
fn gravity_offset_does_not_matter() {
    let road = generate(&ProfileSpec::new(Iso8608Class::C, 500.0, 9));
    let with = drive_plain(&road, 40.0, SensorModel::default());
    let without = drive_plain(&road, 40.0, SensorModel { offset_mps2: 0.0, ..SensorModel::default() });
    let tilted = drive_plain(&road, 40.0, SensorModel { offset_mps2: -9.7, ..SensorModel::default() });
    assert_eq!(with.len(), without.len());
    for ((a, b), c) in with.iter().zip(&without).zip(&tilted) {
        assert!((a.iri_m_per_km - b.iri_m_per_km).abs() < 1e-6 * a.iri_m_per_km.max(1.0));
        assert!((a.iri_m_per_km - c.iri_m_per_km).abs() < 1e-6 * a.iri_m_per_km.max(1.0));
    }
}

#[test]
fn segments_tile_the_distance() {
    let road = generate(&ProfileSpec::new(Iso8608Class::B, 1000.0, 4));
    let segs = drive_plain(&road, 30.0, SensorModel::default());
    for (i, s) in segs.iter().enumerate() {
        assert!((s.start_distance_m - 100.0 * i as f64).abs() < 1e-9);
    }
    assert!(segs.len() >= 9);
    // The first one holds the filter warm-up; the rest are complete and valid.
    assert!(segs[1..9].iter().all(|s| s.valid && s.length_m == 100.0 && s.coverage > 0.95), "{segs:#?}");
    let last = segs.last().expect("segments");
    assert!(last.valid || last.invalid_reason == Some(InvalidReason::Partial), "{last:?}");
}

#[test]
fn low_speed_gap_stale_and_reset_are_flagged() {
    let cfg = RoughnessConfig::default();
    let mut rng = profile::SplitMix64::new(1);
    let mut run = |speed: f64, gap_at: Option<f64>, motion_until: f64, reset_at: Option<f64>| {
        let mut est = RoughnessEstimator::new(&cfg, Calibration::DEFAULT);
        let mut segs = Vec::new();
        let mut offset = 0.0;
        for k in 0..20_000u32 {
            let t = k as f64 / 100.0;
            if gap_at.is_some_and(|g| t > g && t < g + 0.5) {
                continue;
            }
            if reset_at.is_some_and(|r| t >= r) {
                offset = -speed * reset_at.unwrap_or(0.0) - 50.0;
            }
            if k % 10 == 0 && t < motion_until {
                est.push_motion(t, speed, speed * t + offset);
            }
            segs.extend(est.push_accel(t, 9.81 + 0.3 * rng.next_gaussian()).segment);
        }
        segs.extend(est.flush().0);
        segs
    };
    let slow = run(3.0, None, f64::INFINITY, None);
    assert!(!slow.is_empty() && slow.iter().all(|s| s.invalid_reason == Some(InvalidReason::LowSpeed)), "{slow:#?}");
    let gap = run(10.0, Some(55.0), f64::INFINITY, None);
    assert!(gap
        .iter()
        .any(|s| s.invalid_reason == Some(InvalidReason::Gap) && s.start_distance_m <= 550.0 && s.start_distance_m + 100.0 > 550.0));
    assert!(gap.iter().filter(|s| s.valid).count() >= 15);
    let stale = run(10.0, None, 55.0, None);
    assert!(stale.iter().any(|s| s.invalid_reason == Some(InvalidReason::StaleMotion)), "{stale:#?}");
    let reset = run(10.0, None, f64::INFINITY, Some(75.0));
    assert!(reset.iter().any(|s| s.invalid_reason == Some(InvalidReason::DistanceReset)));
    assert!(reset.iter().filter(|s| s.valid).count() >= 15);
}

#[test]
fn estimator_survives_garbage() {
    let mut est = RoughnessEstimator::new(&RoughnessConfig::default(), Calibration::DEFAULT);
    est.push_motion(f64::NAN, 1.0, 0.0);
    est.push_motion(0.0, -1.0, 0.0);
    est.push_motion(0.0, f64::INFINITY, 0.0);
    assert_eq!(est.stats().rejected_motion, 3);
    let _ = est.push_accel(f64::NAN, 1.0);
    let _ = est.push_accel(0.0, f64::INFINITY);
    let _ = est.push_accel(1.0, 0.0);
    let _ = est.push_accel(1.0, 0.0);
    let _ = est.push_accel(0.5, 0.0);
    let s = est.stats();
    assert_eq!((s.rejected_accel, s.accel_samples, s.unplaced_samples), (4, 1, 1));
    // A broken config must not panic either.
    let cfg = RoughnessConfig { segment_m: 0.0, max_gap_s: f64::NAN, ..RoughnessConfig::default() };
    let mut est = RoughnessEstimator::new(&cfg, Calibration::DEFAULT);
    for k in 0..1000 {
        est.push_motion(k as f64 * 0.01, 10.0, k as f64 * 0.1);
        let _ = est.push_accel(k as f64 * 0.01, 1e300);
    }
    let _ = est.flush();
}

#[test]
fn classes_follow_thresholds() {
    let t = ClassThresholds::default();
    assert_eq!(RoughnessClass::from_iri(1.0, &t), RoughnessClass::Good);
    assert_eq!(RoughnessClass::from_iri(4.0, &t), RoughnessClass::Fair);
    assert_eq!(RoughnessClass::from_iri(7.0, &t), RoughnessClass::Poor);
    assert_eq!(RoughnessClass::from_iri(10.0, &t), RoughnessClass::VeryPoor);
}

#[test]
fn impact_detector_refractory_and_speed_normalisation() {
    let mut d = ImpactDetector::new(ImpactConfig::default());
    // Same acceleration: more severe at low speed than at high speed.
    assert!(d.severity(3.0, 5.0) > d.severity(3.0, 20.0));
    assert_eq!(d.severity(3.0, 1.0), 0.0);
    let mut events = Vec::new();
    for k in 0..300 {
        let t = k as f64 * 0.01;
        // Two spikes 0.2 s apart (one impact), another 2 s later.
        let a = if k == 100 || k == 120 || k == 300 - 1 {
            -5.0
        } else if k == 101 {
            6.0
        } else {
            0.0
        };
        events.extend(d.process(t, t * 10.0, a, 10.0));
    }
    events.extend(d.flush());
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].peak_mps2, 6.0);
}

// ---------------------------------------------------------------- source and parser

fn src_cfg(axis: Axis, units: Units) -> SourceConfig {
    SourceConfig { axis, units, rate_hz: 100.0, ..SourceConfig::default() }
}

#[test]
fn parser_formats_units_and_axis() {
    let mut p = LineParser::new(Axis::Z, Units::Mps2, 100.0);
    assert_eq!(p.parse("t_s,ax,ay,az"), Ok(None), "header");
    assert_eq!(p.parse("# comment"), Ok(None));
    assert_eq!(p.parse("   "), Ok(None));
    assert_eq!(p.parse("1.5, 0.1, 0.2, 9.8"), Ok(Some(AccelSample { t_s: 1.5, az_mps2: 9.8 })));
    let mut p = LineParser::new(Axis::NegY, Units::G, 50.0);
    assert_eq!(p.parse("2.0,0.1,-1.0,0.3"), Ok(Some(AccelSample { t_s: 2.0, az_mps2: 9.806_65 })));
    // Untimed lines: time from the data-line index, bad lines included.
    let mut p = LineParser::new(Axis::NegZ, Units::G, 50.0);
    assert_eq!(p.parse("0.5"), Ok(Some(AccelSample { t_s: 0.0, az_mps2: -0.5 * 9.806_65 })));
    assert_eq!(p.parse("x"), Err(LineError::BadNumber(0)));
    let s = p.parse("0.1,0.2,1.0").expect("ok").expect("sample");
    assert_eq!(s.t_s, 2.0 / 50.0);
    assert_eq!(s.az_mps2, -9.806_65);
    assert_eq!(p.parse("1,2"), Err(LineError::FieldCount(2)));
    assert_eq!(p.parse("1,2,3,4,5"), Err(LineError::FieldCount(5)));
    assert_eq!(p.parse("1,nan,3,4"), Err(LineError::NonFinite(1)));
    assert_eq!(p.parse("-1,0,0,1"), Err(LineError::NegativeTime));
    assert_eq!(p.parse("1,,3,4"), Err(LineError::BadNumber(1)));
}

#[test]
fn reader_skips_and_counts_bad_lines() {
    let mut data = b"t,ax,ay,az\n0.00,0,0,9.8\r\n0.01,0,0,oops\n".to_vec();
    data.extend(std::iter::repeat_n(b'7', 1000));
    data.extend(b"\n\xff\xfe,1\n0.02,0,0,9.9\n0.03,0,0,10.0");
    let mut r = SampleReader::new(Cursor::new(data), &src_cfg(Axis::Z, Units::Mps2));
    let got: Vec<AccelSample> = r.by_ref().collect::<Result<_, _>>().expect("io");
    assert_eq!(got.iter().map(|s| s.az_mps2).collect::<Vec<_>>(), vec![9.8, 9.9, 10.0]);
    assert_eq!(r.stats(), SourceStats { lines: 7, samples: 3, bad_lines: 3 });
}

#[test]
fn file_source_streams_into_channel() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("imu.csv");
    let mut text = String::from("t_s,ax,ay,az\n");
    for k in 0..500 {
        text.push_str(&format!("{},0,0,{}\n", k as f64 * 0.001, if k % 100 == 7 { "bad" } else { "1.0" }));
    }
    std::fs::write(&path, text).expect("write");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let (stats, got, elapsed) = rt.block_on(async {
        for pace in [Pace::Fast, Pace::Realtime] {
            let cfg = SourceConfig { kind: SourceKind::File, path: path.clone(), pace, units: Units::G, ..SourceConfig::default() };
            let (tx, mut rx) = tokio::sync::mpsc::channel(16);
            let start = std::time::Instant::now();
            let task = spawn_source(cfg, tx);
            let mut got = Vec::new();
            while let Some(s) = rx.recv().await {
                got.push(s);
            }
            let stats = task.await.expect("join").expect("source");
            if pace == Pace::Realtime {
                return (stats, got, start.elapsed());
            }
            assert_eq!(got.len(), 495);
        }
        unreachable!()
    });
    assert_eq!(got.len(), 495);
    assert_eq!(stats.bad_lines, 5);
    assert!((got[1].az_mps2 - 9.806_65).abs() < 1e-12);
    assert!(elapsed.as_secs_f64() >= 0.45, "realtime replay of 0.5 s took {elapsed:?}");
    // A missing path is an error, not a panic.
    let missing = SourceConfig { path: dir.path().join("nope"), ..SourceConfig::default() };
    let (tx, _rx) = tokio::sync::mpsc::channel(1);
    let res = rt.block_on(async { spawn_source(missing, tx).await }).expect("join");
    assert!(matches!(res, Err(SourceError::Open { .. })));
}

proptest! {
    #[test]
    fn parser_never_panics(line in ".{0,80}", n in prop::collection::vec(-1e9f64..1e9, 0..6)) {
        let mut p = LineParser::new(Axis::NegX, Units::G, 100.0);
        let _ = p.parse(&line);
        let joined = n.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",");
        let _ = p.parse(&joined);
    }

    #[test]
    fn reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), max in 16usize..64) {
        let cfg = SourceConfig { max_line_bytes: max, ..SourceConfig::default() };
        let mut r = SampleReader::new(Cursor::new(bytes), &cfg);
        for s in r.by_ref() {
            prop_assert!(s.is_ok());
        }
        prop_assert!(r.stats().samples + r.stats().bad_lines <= r.stats().lines);
    }
}

// ---------------------------------------------------------------- config

#[test]
fn config_defaults_validate_and_roundtrip() {
    let cfg = RoughnessConfig::default();
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let json = serde_json::to_string(&cfg).expect("serialise");
    let back: RoughnessConfig = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, cfg);
    let partial: RoughnessConfig = serde_json::from_str(
        r#"{"enabled": true, "source": {"kind": "file", "path": "/tmp/x.csv", "axis": "-z", "units": "g", "pace": "realtime"}}"#,
    )
    .expect("partial");
    assert_eq!(partial.source.axis, Axis::NegZ);
    assert!(partial.validate().is_empty());
    assert!(serde_json::from_str::<RoughnessConfig>(r#"{"segment_metres": 50}"#).is_err());
    assert!(serde_json::from_str::<RoughnessConfig>(r#"{"source": {"axis": "w"}}"#).is_err());
    let schema = serde_json::to_string(&schemars::schema_for!(RoughnessConfig)).expect("schema");
    assert!(schema.contains("vehicle_gain") && schema.contains("-z"));
}

#[test]
fn config_validate_names_bad_fields() {
    let mut cfg =
        RoughnessConfig { enabled: true, segment_m: 0.0, vehicle_gain: f64::NAN, min_coverage: 1.5, ..RoughnessConfig::default() };
    cfg.source.rate_hz = 10.0;
    cfg.source.max_line_bytes = 1;
    cfg.classes.fair_max = 1.0;
    cfg.impact.threshold_g = -1.0;
    cfg.impact.refractory_s = f64::INFINITY;
    let problems = cfg.validate().join("\n");
    for field in [
        "segment_m",
        "vehicle_gain",
        "min_coverage",
        "source.rate_hz",
        "source.max_line_bytes",
        "source.path",
        "classes",
        "impact.threshold_g",
        "impact.refractory_s",
    ] {
        assert!(problems.contains(&format!("roughness.{field}")), "{field} not named in:\n{problems}");
    }
}

#[test]
fn pothole_injection_and_profile_edges() {
    let mut p = RoadProfile { dx_m: 0.05, heights_m: vec![0.0; 100] };
    inject_pothole(&mut p, 1.0, 0.05, 0.5);
    assert_eq!(p.heights_m.iter().filter(|h| **h < 0.0).count(), 10);
    assert_eq!(p.heights_m[20], -0.05);
    inject_pothole(&mut p, 1e12, 0.05, 0.5);
    inject_pothole(&mut p, f64::NAN, 0.05, 0.5);
    inject_pothole(&mut p, -10.0, 0.05, 0.5);
    assert_eq!(p.heights_m.iter().filter(|h| **h < 0.0).count(), 10);
    assert!(generate(&ProfileSpec { length_m: -1.0, ..ProfileSpec::new(Iso8608Class::A, 1.0, 1) }).heights_m.is_empty());
    assert_eq!(RoadProfile { dx_m: 0.05, heights_m: vec![] }.height_at(3.0), 0.0);
    let _ = calibration::REFERENCE_SPEED_MPS;
}
