//! Tests of the GNSS module. Sentences are u-blox/Quectel style; checksums are computed by
//! [`s`] except for the literal well-known sentences, which carry their published checksums.

use std::io::Write;
use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use time::macros::datetime;

use super::assembler::{AssemblerOptions, EpochOutcome, FixAssembler};
use super::config::{GnssConfig, GnssSourceConfig, Pace};
use super::fix::{FixQuality, GnssFix, ModeIndicator, NoFix, UncertaintySource, KNOTS_TO_MPS};
use super::lines::{Framed, LineFramer};
use super::nmea::{checksum, parse, GsaFixType, NmeaError, ParseOptions, Sentence};
use super::replay::{FixTrack, TrackOptions};
use super::source::{spawn_source_with, Backoff, GPSD_WATCH};
use super::state::{GnssHandle, GnssState};

/// `$body*HH\r\n` with the correct checksum.
fn s(body: &str) -> String {
    format!("${body}*{:02X}\r\n", checksum(body.as_bytes()))
}

fn opts() -> ParseOptions {
    ParseOptions::default()
}

fn close(a: f64, b: f64, eps: f64) -> bool {
    (a - b).abs() <= eps
}

const GGA_LITERAL: &str = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47";
const RMC_LITERAL: &str = "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A";
const VTG_LITERAL: &str = "$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48";
const GSA_LITERAL: &str = "$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39";
const GGA_NOFIX_UBLOX: &str = "$GPGGA,,,,,,0,00,99.99,,,,,,*48";

// ---------------------------------------------------------------- parser

#[test]
fn literal_gga() {
    let n = parse(GGA_LITERAL, &opts()).unwrap();
    assert_eq!(n.talker_str(), "GP");
    let Sentence::Gga(g) = n.sentence else { panic!("not GGA") };
    assert_eq!(g.time, Some(time::macros::time!(12:35:19)));
    assert!(close(g.lat.unwrap(), 48.0 + 7.038 / 60.0, 1e-9));
    assert!(close(g.lon.unwrap(), 11.0 + 31.0 / 60.0, 1e-9));
    assert_eq!(g.quality, FixQuality::Gps);
    assert_eq!(g.satellites, Some(8));
    assert_eq!(g.hdop, Some(0.9));
    assert_eq!(g.altitude_m, Some(545.4));
}

#[test]
fn literal_rmc() {
    let Sentence::Rmc(r) = parse(RMC_LITERAL, &opts()).unwrap().sentence else { panic!("not RMC") };
    assert!(r.valid);
    assert_eq!(r.speed_knots, Some(22.4));
    assert_eq!(r.course_deg, Some(84.4));
    assert_eq!(r.date, Some(time::macros::date!(1994 - 03 - 23)));
    assert_eq!(r.mode, None, "pre-2.3 RMC has no mode indicator");
}

#[test]
fn literal_vtg_and_gsa() {
    let Sentence::Vtg(v) = parse(VTG_LITERAL, &opts()).unwrap().sentence else { panic!("not VTG") };
    assert_eq!(v.course_true_deg, Some(54.7));
    assert_eq!(v.speed_knots, Some(5.5));
    assert_eq!(v.speed_kmh, Some(10.2));
    let Sentence::Gsa(g) = parse(GSA_LITERAL, &opts()).unwrap().sentence else { panic!("not GSA") };
    assert_eq!(g.fix_type, Some(GsaFixType::Fix3d));
    assert_eq!((g.pdop, g.hdop, g.vdop), (Some(2.5), Some(1.3), Some(2.1)));
}

#[test]
fn literal_ublox_no_fix_gga_is_all_none() {
    let Sentence::Gga(g) = parse(GGA_NOFIX_UBLOX, &opts()).unwrap().sentence else { panic!("not GGA") };
    assert_eq!(g.quality, FixQuality::Invalid);
    assert_eq!((g.time, g.lat, g.lon, g.altitude_m), (None, None, None, None));
    assert_eq!(g.hdop, Some(99.99));
}

#[test]
fn gst_parses_sigmas() {
    let line = s("GNGST,082356.00,1.8,,,,1.7,1.3,2.2");
    let Sentence::Gst(g) = parse(&line, &opts()).unwrap().sentence else { panic!("not GST") };
    assert_eq!((g.lat_sigma_m, g.lon_sigma_m, g.alt_sigma_m), (Some(1.7), Some(1.3), Some(2.2)));
    assert_eq!(g.rms, Some(1.8));
}

#[test]
fn any_talker_is_accepted() {
    for talker in ["GP", "GN", "GL", "GA", "BD", "GB", "GQ"] {
        let line = s(&format!("{talker}GGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"));
        let n = parse(&line, &opts()).unwrap();
        assert_eq!(n.talker_str(), talker);
        assert!(matches!(n.sentence, Sentence::Gga(_)));
    }
}

#[test]
fn nmea41_rmc_with_mode_and_nav_status() {
    let line = s("GNRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,D,V");
    let Sentence::Rmc(r) = parse(&line, &opts()).unwrap().sentence else { panic!("not RMC") };
    assert_eq!(r.mode, Some(ModeIndicator::Differential));
    assert_eq!(r.date, Some(time::macros::date!(2002 - 12 - 09)));
}

#[test]
fn southern_western_hemispheres_are_negative() {
    let line = s("GPGGA,120000,3351.000,S,15112.000,W,1,05,1.0,10.0,M,,M,,");
    let Sentence::Gga(g) = parse(&line, &opts()).unwrap().sentence else { panic!() };
    assert!(close(g.lat.unwrap(), -(33.0 + 51.0 / 60.0), 1e-9));
    assert!(close(g.lon.unwrap(), -(151.0 + 12.0 / 60.0), 1e-9));
}

#[test]
fn bad_checksum_is_reported_precisely() {
    let bad = GGA_LITERAL.replace("*47", "*48");
    assert_eq!(parse(&bad, &opts()), Err(NmeaError::BadChecksum { expected: 0x47, found: 0x48 }));
    // A flipped digit in the body.
    let flipped = GGA_LITERAL.replace("545.4", "545.5");
    assert!(matches!(parse(&flipped, &opts()), Err(NmeaError::BadChecksum { .. })));
    assert!(matches!(parse("$GPGGA,1*4", &opts()), Err(NmeaError::MalformedChecksum(_))));
    assert!(matches!(parse("$GPGGA,1*ZZ", &opts()), Err(NmeaError::MalformedChecksum(_))));
}

#[test]
fn lowercase_checksum_and_crlf_are_fine() {
    let line = format!("{}\r\n", RMC_LITERAL.replace("*6A", "*6a"));
    assert!(parse(&line, &opts()).is_ok());
}

#[test]
fn missing_checksum_rejected_by_default_accepted_by_option() {
    let body = GGA_LITERAL.split('*').next().unwrap();
    assert_eq!(parse(body, &opts()), Err(NmeaError::MissingChecksum));
    let lax = ParseOptions { require_checksum: false, ..opts() };
    assert!(matches!(parse(body, &lax).unwrap().sentence, Sentence::Gga(_)));
}

#[test]
fn garbage_and_other_sentences() {
    for g in ["", "hello", "GPGGA,123519*47", "$", "$*00", "$GP*17", "\u{0}\u{1}\u{2}", "$GPGGA,ü*00", "$G,P*00"] {
        assert!(parse(g, &opts()).is_err(), "{g:?} should be rejected");
    }
    assert!(
        matches!(parse(&s("GPGSV,3,1,11,03,03,111,00"), &opts()), Err(NmeaError::UnknownSentence(t)) if t == "GSV")
    );
    assert!(matches!(parse(&s("PUBX,00,081350.00"), &opts()), Err(NmeaError::UnknownSentence(t)) if t == "PUBX"));
    let long = s(&format!("GPGGA,{}", "1,".repeat(80)));
    assert!(matches!(parse(&long, &opts()), Err(NmeaError::TooLong { .. })));
}

#[test]
fn field_errors_name_the_field() {
    let cases = [
        ("GPGGA,123519,4861.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", "latitude"),
        ("GPGGA,123519,9100.000,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", "latitude"),
        ("GPGGA,123519,4807.038,X,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", "hemisphere"),
        ("GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,", "quality"),
        ("GPGGA,126019,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,", "time"),
        ("GPGGA,123519,4807.038,N,01131.000,E,1,08,inf,545.4,M,46.9,M,,", "hdop"),
        ("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,NaN,M,46.9,M,,", "altitude"),
        ("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,003.1,W", "date"),
        ("GPRMC,123519,X,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W", "status"),
        ("GPRMC,123519,A,4807.038,N,01131.000,E,-2,084.4,230394,003.1,W", "speed_knots"),
        ("GPRMC,123519,A,4807.038,N,01131.000,E,2,400,230394,003.1,W", "course"),
        ("GPRMC,123519,A,4807.038,N,01131.000,E,2,40,230394,,,Q", "mode"),
    ];
    for (body, field) in cases {
        match parse(&s(body), &opts()) {
            Err(NmeaError::Field { name, .. }) => assert_eq!(name, field, "{body}"),
            other => panic!("{body}: expected a {field} field error, got {other:?}"),
        }
    }
}

#[test]
fn truncated_lines_are_errors_not_panics() {
    for full in [GGA_LITERAL, RMC_LITERAL, VTG_LITERAL, GSA_LITERAL] {
        for cut in 0..full.len() {
            assert!(parse(&full[..cut], &opts()).is_err(), "{:?}", &full[..cut]);
        }
    }
    // Correctly checksummed but too few fields (a receiver cut short).
    assert!(matches!(parse(&s("GPGGA,123519,4807.038,N"), &opts()), Err(NmeaError::TooFewFields { .. })));
}

#[test]
fn fractional_seconds_and_leap_second() {
    let Sentence::Gga(g) = parse(&s("GPGGA,235960.50,,,,,0,00,,,,,,,"), &opts()).unwrap().sentence else { panic!() };
    assert_eq!(g.time, Some(time::Time::from_hms_milli(23, 59, 59, 500).unwrap()));
}

// ---------------------------------------------------------------- assembler

fn asm() -> FixAssembler {
    FixAssembler::new(AssemblerOptions { source: "test".into(), ..AssemblerOptions::default() })
}

fn feed(a: &mut FixAssembler, lines: &[String]) -> Vec<EpochOutcome> {
    lines.iter().flat_map(|l| a.push_line(l)).collect()
}

/// One u-blox style epoch at `hhmmss.ss` on `ddmmyy`, moving at `knots` on `course`.
fn ublox_epoch(tod: &str, date: &str, lat: &str, lon: &str, knots: f64, course: f64) -> Vec<String> {
    vec![
        s(&format!("GNRMC,{tod},A,{lat},N,{lon},E,{knots:.3},{course:.2},{date},,,A,V")),
        s(&format!("GNVTG,{course:.2},T,,M,{knots:.3},N,{:.3},K,A", knots * 1.852)),
        s(&format!("GNGGA,{tod},{lat},N,{lon},E,1,12,0.80,520.3,M,47.1,M,,")),
        s("GNGSA,A,3,05,07,13,14,15,17,19,30,,,,,1.52,0.80,1.29,1"),
        s("GPGSV,3,1,11,05,35,309,38,07,29,060,40,13,63,248,44,14,41,147,41"),
        s(&format!("GNGLL,{lat},N,{lon},E,{tod},A,A")),
    ]
}

#[test]
fn ublox_epoch_becomes_one_fix() {
    let mut a = asm();
    let out = feed(&mut a, &ublox_epoch("101530.00", "150624", "5130.00000", "00007.50000", 20.0, 87.5));
    let fix = out.last().unwrap().fix.clone().unwrap();
    assert_eq!(fix.utc, datetime!(2024-06-15 10:15:30 UTC));
    assert!(close(fix.lat, 51.5, 1e-9) && close(fix.lon, 0.125, 1e-9));
    assert_eq!(fix.quality, FixQuality::Gps);
    assert_eq!(fix.satellites, Some(12));
    assert_eq!(fix.altitude_m, Some(520.3));
    assert!(close(fix.speed_mps.unwrap(), 20.0 * KNOTS_TO_MPS, 1e-9));
    assert_eq!(fix.heading_deg, Some(87.5));
    assert_eq!(fix.uncertainty_source, UncertaintySource::Hdop);
    assert!(close(fix.uncertainty_m, 0.8 * 4.0, 1e-9));
    assert_eq!(fix.source, "test");
    let c = a.counters();
    assert_eq!((c.sentences_ok, c.unknown_types, c.bad_checksum, c.parse_errors), (4, 2, 0, 0));
}

#[test]
fn gst_gives_the_uncertainty() {
    let mut a = asm();
    let mut lines = ublox_epoch("101530.00", "150624", "5130.00000", "00007.50000", 20.0, 87.5);
    lines.push(s("GNGST,101530.00,2.1,,,,1.2,1.6,2.5"));
    let fix = feed(&mut a, &lines).last().unwrap().fix.clone().unwrap();
    assert_eq!(fix.uncertainty_source, UncertaintySource::Gst);
    assert!(close(fix.uncertainty_m, 2.0, 1e-9));
}

#[test]
fn quality_default_when_no_hdop_and_rmc_only_receivers_work() {
    let mut a = asm();
    let out = feed(&mut a, &[s("GPRMC,120000,A,4807.038,N,01131.000,E,10.0,45.0,010125,,,D")]);
    let fix = out[0].fix.clone().unwrap();
    assert_eq!(fix.quality, FixQuality::Dgps);
    assert_eq!(fix.uncertainty_source, UncertaintySource::QualityDefault);
    assert_eq!(fix.uncertainty_m, FixQuality::Dgps.default_uncertainty_m());
}

#[test]
fn heading_is_dropped_when_standing() {
    let mut a = asm();
    let out = feed(&mut a, &ublox_epoch("101530.00", "150624", "5130.00000", "00007.50000", 0.5, 211.0));
    let fix = out.last().unwrap().fix.clone().unwrap();
    assert!(fix.speed_mps.unwrap() < 0.5);
    assert_eq!(fix.heading_deg, None);
}

#[test]
fn no_fix_epochs_are_no_fix() {
    let mut a = asm();
    let out = feed(
        &mut a,
        &[s("GPRMC,,V,,,,,,,,,,N"), GGA_NOFIX_UBLOX.to_string(), s("GPGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99")],
    );
    assert!(!out.is_empty());
    for o in &out {
        assert_eq!(o.fix, Err(NoFix::NoFix { quality: FixQuality::Invalid }));
    }
    // Time known, fix not: RMC V with a date and time.
    let mut a = asm();
    let out = feed(&mut a, &[s("GPRMC,101530.00,V,,,,,,,150624,,,N"), s("GPGGA,101530.00,,,,,0,03,25.0,,,,,,")]);
    let last = out.last().unwrap();
    assert_eq!(last.utc, Some(datetime!(2024-06-15 10:15:30 UTC)));
    assert!(matches!(last.fix, Err(NoFix::NoFix { .. })));
}

#[test]
fn rmc_valid_but_gga_quality_zero_is_no_fix() {
    let mut a = asm();
    let out = feed(
        &mut a,
        &[
            s("GPRMC,101530,A,5130.000,N,00007.500,E,1.0,10.0,150624,,,A"),
            s("GPGGA,101530,5130.000,N,00007.500,E,0,04,2.0,10.0,M,,M,,"),
        ],
    );
    assert!(matches!(out.last().unwrap().fix, Err(NoFix::NoFix { .. })));
}

#[test]
fn gga_without_any_rmc_has_no_date() {
    let mut a = asm();
    let out = feed(&mut a, &[GGA_LITERAL.to_string()]);
    assert_eq!(out[0].fix, Err(NoFix::NoDate));
    assert_eq!(out[0].utc, None);
}

#[test]
fn midnight_rollover_dates_the_gga_of_the_next_day() {
    let mut a = asm();
    // Quectel order here: GGA before RMC, so the new day's GGA is dated from the previous RMC.
    let mut lines = Vec::new();
    for (tod, date) in [("235959.00", "311224"), ("000000.00", "010125")] {
        lines.push(s(&format!("GPGGA,{tod},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")));
        lines.push(s(&format!("GPRMC,{tod},A,4807.038,N,01131.000,E,10.0,90.0,{date},,,A")));
    }
    // Then the RMCs stop (dropped on a noisy link): later epochs are dated from the last RMC date,
    // across the next midnight too.
    for tod in ["000001.00", "000002.00"] {
        lines.push(s(&format!("GPGGA,{tod},4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,")));
    }
    let mut out = feed(&mut a, &lines);
    out.extend(a.flush());
    let times: Vec<_> = out.iter().filter_map(|o| o.fix.as_ref().ok().map(|f| f.utc)).collect();
    assert!(times.contains(&datetime!(2024-12-31 23:59:59 UTC)));
    assert!(times.contains(&datetime!(2025-01-01 00:00:00 UTC)));
    assert!(times.contains(&datetime!(2025-01-01 00:00:01 UTC)), "{times:?}");
    assert!(times.contains(&datetime!(2025-01-01 00:00:02 UTC)), "{times:?}");
    assert!(!times.contains(&datetime!(2024-12-31 00:00:00 UTC)), "rolled back a day: {times:?}");
}

#[test]
fn gga_after_midnight_is_dated_from_the_rmc_before_it() {
    let mut a = asm();
    let mut out = feed(
        &mut a,
        &[
            s("GPRMC,235959.50,A,4807.038,N,01131.000,E,10.0,90.0,311224,,,A"),
            s("GPGGA,235959.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"),
            // The next epoch's GGA arrives, its RMC is lost.
            s("GPGGA,000000.50,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"),
        ],
    );
    out.extend(a.flush());
    assert_eq!(out.last().unwrap().utc, Some(datetime!(2025-01-01 00:00:00.5 UTC)));
    assert!(out.last().unwrap().fix.is_ok());
}

#[test]
fn mixed_talkers_in_one_epoch() {
    let mut a = asm();
    let out = feed(
        &mut a,
        &[
            s("GNRMC,101530,A,5130.000,N,00007.500,E,10.0,45.0,150624,,,A"),
            s("GPGGA,101530,5130.000,N,00007.500,E,2,09,1.1,12.0,M,,M,,"),
            s("BDGSA,A,3,01,02,03,,,,,,,,,,2.0,1.1,1.7"),
        ],
    );
    let fix = out.last().unwrap().fix.clone().unwrap();
    assert_eq!(fix.quality, FixQuality::Dgps);
    assert_eq!(fix.satellites, Some(9));
}

#[test]
fn counters_count_each_kind_of_bad_line() {
    let mut a = asm();
    a.push_line(&GGA_LITERAL.replace("*47", "*00"));
    a.push_line(GGA_LITERAL.split('*').next().unwrap());
    a.push_line(&s("GPGSV,1,1,00"));
    a.push_line(&s("GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,abc,M,46.9,M,,"));
    a.push_line("garbage");
    a.push_line("{\"class\":\"VERSION\"}");
    a.push_bytes(b"$GPGGA,\xff\xfe*00");
    a.note_oversized();
    let c = a.counters();
    assert_eq!(
        (
            c.bad_checksum,
            c.missing_checksum,
            c.unknown_types,
            c.parse_errors,
            c.not_nmea,
            c.invalid_utf8,
            c.too_long,
            c.sentences_ok
        ),
        (1, 1, 1, 1, 1, 1, 1, 0)
    );
}

// ---------------------------------------------------------------- fix / serde

fn sample_fix() -> GnssFix {
    let mut a = asm();
    let out = feed(&mut a, &ublox_epoch("101530.25", "150624", "5130.00000", "00007.50000", 20.0, 87.5));
    out.last().unwrap().fix.clone().unwrap()
}

#[test]
fn fix_serialises_rfc3339_and_round_trips() {
    let fix = sample_fix();
    let json = serde_json::to_value(&fix).unwrap();
    assert_eq!(json["utc"], "2024-06-15T10:15:30.25Z");
    assert_eq!(json["quality"], "gps");
    let back: GnssFix = serde_json::from_value(json).unwrap();
    assert_eq!(back, fix);
    let offset: GnssFix = serde_json::from_value(serde_json::json!({
        "utc": "2024-06-15T12:15:30+02:00", "lat": 1.0, "lon": 2.0, "altitude_m": null, "quality": "rtk_fixed",
        "satellites": null, "hdop": null, "speed_mps": null, "heading_deg": null, "uncertainty_m": 0.5,
        "uncertainty_source": "quality_default", "source": "x"
    }))
    .unwrap();
    assert_eq!(offset.utc, datetime!(2024-06-15 10:15:30 UTC));
    assert!(serde_json::from_value::<GnssFix>(serde_json::json!({"utc": "yesterday"})).is_err());
}

#[test]
fn no_fix_serialises_with_reason_and_reads_well() {
    let v = serde_json::to_value(NoFix::Stale { age_ms: 3100 }).unwrap();
    assert_eq!(v, serde_json::json!({"reason": "stale", "age_ms": 3100}));
    assert_eq!(NoFix::Stale { age_ms: 3100 }.to_string(), "last GNSS fix is stale (3100 ms old)");
    assert_eq!(
        serde_json::to_value(NoFix::NoFix { quality: FixQuality::Invalid }).unwrap(),
        serde_json::json!({"reason": "no_fix", "quality": "invalid"})
    );
    assert_eq!(NoFix::NoReceiver.to_string(), "no GNSS receiver");
}

// ---------------------------------------------------------------- state

fn outcome(fix: GnssFix) -> EpochOutcome {
    EpochOutcome { utc: Some(fix.utc), fix: Ok(fix) }
}

#[test]
fn stale_fix_is_never_returned() {
    let h = GnssHandle::new(Duration::from_secs(2));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(h.current(t0), Err(NoFix::NoReceiver));
    h.set_connected(true, "test");
    assert_eq!(h.current(t0), Err(NoFix::NoData));
    h.publish(outcome(sample_fix()), t0);
    assert!(h.current(t0 + Duration::from_millis(1999)).is_ok());
    assert_eq!(h.current(t0 + Duration::from_millis(2500)), Err(NoFix::Stale { age_ms: 2500 }));
    // A clock that jumped far back cannot make an old fix look fresh.
    assert!(matches!(h.current(t0 - Duration::from_secs(3600)), Err(NoFix::Stale { .. })));
    assert!(h.current(t0 - Duration::from_millis(500)).is_ok());
    // Receiver gone and fix old: the root cause is reported.
    h.set_connected(false, "test");
    assert_eq!(h.current(t0 + Duration::from_secs(10)), Err(NoFix::NoReceiver));
}

#[test]
fn status_summarises_for_the_dashboard() {
    let h = GnssHandle::new(Duration::from_secs(2));
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(h.status(t0).state, GnssState::NoReceiver);
    h.set_connected(true, "gpsd:127.0.0.1:2947");
    h.note_line(t0, &Default::default());
    h.publish(outcome(sample_fix()), t0);
    let st = h.status(t0 + Duration::from_millis(300));
    assert_eq!(st.state, GnssState::Fix);
    assert_eq!(st.satellites, Some(12));
    assert_eq!(st.last_sentence_age_ms, Some(300));
    let json = serde_json::to_value(h.status(t0 + Duration::from_secs(5))).unwrap();
    assert_eq!(json["state"], "stale");
    assert_eq!(json["reason"], "last GNSS fix is stale (5000 ms old)");
    assert_eq!(json["source"], "gpsd:127.0.0.1:2947");
    h.publish(EpochOutcome { utc: None, fix: Err(NoFix::NoFix { quality: FixQuality::Invalid }) }, t0);
    assert_eq!(h.status(t0).state, GnssState::NoFix);
}

// ---------------------------------------------------------------- config

#[test]
fn config_parses_with_defaults_and_rejects_unknown_fields() {
    let cfg: GnssConfig = serde_json::from_value(serde_json::json!({"source": {"kind": "tcp"}})).unwrap();
    assert_eq!(cfg.source, GnssSourceConfig::Tcp { address: "127.0.0.1:2947".into(), gpsd: true });
    assert_eq!((cfg.max_age_ms, cfg.uere_m, cfg.require_checksum), (2000, 4.0, true));
    assert!(cfg.validate().is_empty(), "{:?}", cfg.validate());
    let file: GnssConfig = serde_json::from_value(
        serde_json::json!({"source": {"kind": "file", "path": "/x.nmea", "pace": "fast", "loop": true}}),
    )
    .unwrap();
    assert_eq!(file.source, GnssSourceConfig::File { path: "/x.nmea".into(), pace: Pace::Fast, looped: true });
    assert!(serde_json::from_value::<GnssConfig>(serde_json::json!({"source": {"kind": "tcp"}, "maxage": 1})).is_err());
    assert!(
        serde_json::from_value::<GnssConfig>(serde_json::json!({"source": {"kind": "tcp", "adress": "x:1"}})).is_err()
    );
    assert!(serde_json::from_value::<GnssConfig>(serde_json::json!({"source": {"kind": "usb"}})).is_err());
    let schema = serde_json::to_string(&schemars::schema_for!(GnssConfig)).unwrap();
    assert!(schema.contains("max_age_ms") && schema.contains("replay"));
}

#[test]
fn validate_lists_every_problem_with_its_field() {
    let mut cfg = GnssConfig::with_source(GnssSourceConfig::Serial { path: "/dev/does-not-exist".into(), baud: 1234 });
    cfg.max_age_ms = 0;
    cfg.uere_m = f64::NAN;
    let errs = cfg.validate();
    for field in ["gnss.source.path", "gnss.source.baud", "gnss.max_age_ms", "gnss.uere_m"] {
        assert!(errs.iter().any(|e| e.starts_with(field)), "{field} missing in {errs:?}");
    }
    for bad in ["nohost", "host:0", "host:99999", ":2947", "bad host:1"] {
        let cfg = GnssConfig::with_source(GnssSourceConfig::Tcp { address: bad.into(), gpsd: true });
        assert!(cfg.validate().iter().any(|e| e.starts_with("gnss.source.address")), "{bad}");
    }
    for good in ["gpsd.local:2947", "[::1]:2947", "10.0.0.1:10110"] {
        let cfg = GnssConfig::with_source(GnssSourceConfig::Tcp { address: good.into(), gpsd: false });
        assert!(cfg.validate().is_empty(), "{good}");
    }
    let dir = tempfile::tempdir().unwrap();
    let cfg = GnssConfig::with_source(GnssSourceConfig::Replay { path: dir.path().into(), max_gap_ms: 0 });
    let errs = cfg.validate();
    assert!(
        errs.iter().any(|e| e.contains("is not a file"))
            && errs.iter().any(|e| e.starts_with("gnss.source.max_gap_ms"))
    );
}

// ---------------------------------------------------------------- replay

/// A 1 Hz drive log: (tod, lat minutes, course, knots, fix?) per epoch on 2024-06-15.
fn drive_log(epochs: &[(&str, f64, f64, f64, bool)]) -> String {
    let mut log = String::new();
    for &(tod, lat_min, course, knots, ok) in epochs {
        let lat = format!("51{lat_min:08.5}");
        if ok {
            log += &s(&format!("GPRMC,{tod},A,{lat},N,00007.50000,W,{knots:.2},{course:.1},150624,,,A"));
            log += &s(&format!("GPGGA,{tod},{lat},N,00007.50000,W,1,10,1.0,30.0,M,,M,,"));
        } else {
            log += &s(&format!("GPRMC,{tod},V,,,,,,,150624,,,N"));
            log += &s(&format!("GPGGA,{tod},,,,,0,02,,,,,,,"));
        }
    }
    log
}

#[test]
fn replay_interpolates_between_fixes() {
    let log = drive_log(&[
        ("101500.00", 30.0, 350.0, 20.0, true),
        ("101501.00", 30.01, 10.0, 30.0, true),
        ("101502.00", 30.02, 20.0, 30.0, true),
    ]);
    let track = FixTrack::from_reader(log.as_bytes(), &TrackOptions::default()).unwrap();
    assert_eq!(track.len(), 3);
    assert_eq!(track.origin(), Some(datetime!(2024-06-15 10:15:00 UTC)));
    let first = track.at_offset(Duration::ZERO).unwrap();
    assert!(close(first.lat, 51.5, 1e-9));
    assert!(close(first.lon, -0.125, 1e-9));
    let mid = track.at_offset(Duration::from_millis(500)).unwrap();
    assert_eq!(mid.utc, datetime!(2024-06-15 10:15:00.5 UTC));
    assert!(close(mid.lat, 51.0 + 30.005 / 60.0, 1e-9));
    assert!(close(mid.speed_mps.unwrap(), 25.0 * KNOTS_TO_MPS, 1e-9));
    // 350 -> 10 passes through north: 0, not 180.
    let h = mid.heading_deg.unwrap();
    assert!(wrap_dist(h, 0.0) < 1e-9, "{h}");
    let quarter = track.at_offset(Duration::from_millis(1250)).unwrap();
    assert!(close(quarter.heading_deg.unwrap(), 12.5, 1e-9));
    assert!(track.at_offset(Duration::from_secs(2)).is_ok());
    assert!(matches!(track.at_offset(Duration::from_millis(2001)), Err(NoFix::OutsideTrack { .. })));
    assert!(matches!(track.at_time(datetime!(2024-06-15 10:14:59 UTC)), Err(NoFix::OutsideTrack { offset_ms: -1000 })));
}

#[test]
fn replay_gaps_and_no_fix_epochs_have_no_position() {
    let log = drive_log(&[
        ("101500.00", 30.0, 90.0, 20.0, true),
        ("101501.00", 30.01, 90.0, 20.0, false),
        ("101502.00", 30.02, 90.0, 20.0, true),
        ("101510.00", 30.10, 90.0, 20.0, true),
    ]);
    let track = FixTrack::from_reader(log.as_bytes(), &TrackOptions::default()).unwrap();
    assert!(matches!(track.at_offset(Duration::from_millis(500)), Err(NoFix::NoFix { .. })));
    assert!(matches!(track.at_offset(Duration::from_millis(1000)), Err(NoFix::NoFix { .. })));
    assert!(matches!(track.at_offset(Duration::from_millis(1500)), Err(NoFix::NoFix { .. })));
    assert!(track.at_offset(Duration::from_millis(2000)).is_ok());
    assert_eq!(track.at_offset(Duration::from_millis(5000)), Err(NoFix::Gap { gap_ms: 8000 }));
    assert!(track.at_offset(Duration::from_secs(10)).is_ok());
}

#[test]
fn replay_origin_skips_leading_no_fix_and_sorts() {
    let a = drive_log(&[("101500.00", 30.0, 90.0, 20.0, false)]);
    let b = drive_log(&[("101502.00", 30.02, 90.0, 20.0, true)]);
    let c = drive_log(&[("101501.00", 30.01, 90.0, 20.0, true)]);
    // Out-of-order blocks (a concatenated log) still come out sorted.
    let log = format!("{a}{b}garbage line\n{c}");
    let track = FixTrack::from_reader(log.as_bytes(), &TrackOptions::default()).unwrap();
    assert_eq!(track.origin(), Some(datetime!(2024-06-15 10:15:01 UTC)));
    assert!(track.points().windows(2).all(|w| w[0].utc < w[1].utc));
    assert_eq!(track.counters().not_nmea, 1);
    let empty = FixTrack::from_reader(&b""[..], &TrackOptions::default()).unwrap();
    assert_eq!(empty.at_offset(Duration::ZERO), Err(NoFix::NoData));
}

#[test]
fn replay_from_config_and_missing_file() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(drive_log(&[("101500.00", 30.0, 90.0, 20.0, true)]).as_bytes()).unwrap();
    let cfg = GnssConfig::with_source(GnssSourceConfig::Replay { path: f.path().into(), max_gap_ms: 2000 });
    let track = FixTrack::from_config(&cfg).unwrap();
    assert!(track.at_offset(Duration::ZERO).unwrap().source.starts_with("replay:"));
    assert!(FixTrack::from_path("/nonexistent/drive.nmea", &TrackOptions::default()).is_err());
}

// ---------------------------------------------------------------- line framing

#[test]
fn framer_joins_chunks_and_drops_oversized_lines() {
    let mut fr = LineFramer::new(16);
    let mut got: Vec<Option<Vec<u8>>> = Vec::new();
    let mut sink = |f: Framed<'_>| {
        got.push(match f {
            Framed::Line(l) => Some(l.to_vec()),
            Framed::Oversized => None,
        })
    };
    fr.push(b"ab", &mut sink);
    fr.push(b"c\nde", &mut sink);
    fr.push(&[b'x'; 40], &mut sink);
    fr.push(&[b'y'; 40], &mut sink);
    fr.push(b"\nok\nlast", &mut sink);
    fr.finish(&mut sink);
    assert_eq!(got, vec![Some(b"abc".to_vec()), None, Some(b"ok".to_vec()), Some(b"last".to_vec())]);
}

// ---------------------------------------------------------------- sources

fn wait_for<T>(mut f: impl FnMut() -> Option<T>, what: &str) -> T {
    let end = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn wait_for_async<T>(mut f: impl FnMut() -> Option<T>, what: &str) -> T {
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(tokio::time::Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast_backoff() -> Backoff {
    Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(200),
        idle_timeout: Duration::from_secs(30),
    }
}

/// Accepts one connection, checks for the gpsd WATCH command, sends one epoch; returns the stream.
async fn serve_gpsd_once(listener: &tokio::net::TcpListener, lat_min: f64) -> tokio::net::TcpStream {
    // readable/try_read rather than AsyncReadExt: the crate's tokio has no `io-util` feature.
    let (conn, _) = listener.accept().await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < GPSD_WATCH.len() {
        tokio::time::timeout(Duration::from_secs(5), conn.readable()).await.unwrap().unwrap();
        match conn.try_read(&mut buf) {
            Ok(0) => panic!("client closed before sending WATCH"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, GPSD_WATCH);
    let mut msg = String::from("{\"class\":\"VERSION\",\"release\":\"3.25\"}\r\n");
    msg += &drive_log(&[("101500.00", lat_min, 90.0, 20.0, true)]);
    let mut sent = 0;
    while sent < msg.len() {
        conn.writable().await.unwrap();
        match conn.try_write(&msg.as_bytes()[sent..]) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_gpsd_source_watches_yields_fixes_and_reconnects() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = GnssConfig::with_source(GnssSourceConfig::Tcp { address: addr.to_string(), gpsd: true });
    let handle = GnssHandle::new(Duration::from_secs(60));
    let task = spawn_source_with(&cfg, handle.clone(), fast_backoff()).unwrap();

    let conn = serve_gpsd_once(&listener, 30.0).await;
    let fix = wait_for_async(|| handle.current(SystemTime::now()).ok(), "first fix").await;
    assert!(close(fix.lat, 51.5, 1e-9));
    assert_eq!(fix.source, format!("gpsd:{addr}"));
    assert!(handle.status(SystemTime::now()).connected);

    // gpsd goes away: listener and connection closed, the source notices.
    drop(conn);
    drop(listener);
    wait_for_async(|| (!handle.status(SystemTime::now()).connected).then_some(()), "disconnect").await;
    // Let a few reconnect attempts fail against the closed port.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let _conn = serve_gpsd_once(&listener, 31.0).await;
    let fix = wait_for_async(
        || handle.current(SystemTime::now()).ok().filter(|f| close(f.lat, 51.0 + 31.0 / 60.0, 1e-9)),
        "fix after reconnect",
    )
    .await;
    assert_eq!(fix.quality, FixQuality::Gps);
    task.stop();
    wait_for_async(|| task.is_finished().then_some(()), "task stop").await;
}

#[test]
fn file_source_survives_oversized_and_invalid_lines() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(&vec![b'A'; 100_000]).unwrap();
    f.write_all(b"\n\xff\xfe\xfd\n$GPGGA,garbage*00\n").unwrap();
    f.write_all(drive_log(&[("101500.00", 30.0, 90.0, 20.0, true), ("101501.00", 30.01, 90.0, 20.0, true)]).as_bytes())
        .unwrap();
    let mut cfg =
        GnssConfig::with_source(GnssSourceConfig::File { path: f.path().into(), pace: Pace::Fast, looped: false });
    cfg.max_age_ms = 60_000;
    let handle = GnssHandle::new(cfg.max_age());
    let task = spawn_source_with(&cfg, handle.clone(), fast_backoff()).unwrap();
    wait_for(|| task.is_finished().then_some(()), "file source end");
    let fix = handle.current(SystemTime::now()).unwrap();
    assert_eq!(fix.utc, datetime!(2024-06-15 10:15:01 UTC));
    let st = handle.status(SystemTime::now());
    assert_eq!(st.counters.too_long, 1);
    assert_eq!(st.counters.invalid_utf8, 1);
    assert_eq!(st.counters.bad_checksum, 1);
    assert_eq!(st.counters.fixes, 2);
    assert!(!st.connected, "a finished, non-looping file is no longer a receiver");
}

#[test]
fn file_source_realtime_is_paced_by_sentence_times() {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(
        drive_log(&[
            ("101500.00", 30.0, 90.0, 20.0, true),
            ("101500.20", 30.01, 90.0, 20.0, true),
            ("101500.40", 30.02, 90.0, 20.0, true),
        ])
        .as_bytes(),
    )
    .unwrap();
    let cfg =
        GnssConfig::with_source(GnssSourceConfig::File { path: f.path().into(), pace: Pace::Realtime, looped: false });
    let handle = GnssHandle::new(Duration::from_secs(60));
    let start = std::time::Instant::now();
    let task = spawn_source_with(&cfg, handle.clone(), fast_backoff()).unwrap();
    wait_for(|| task.is_finished().then_some(()), "file source end");
    assert!(start.elapsed() >= Duration::from_millis(380), "{:?}", start.elapsed());
    assert_eq!(handle.current(SystemTime::now()).unwrap().utc, datetime!(2024-06-15 10:15:00.4 UTC));
}

#[test]
fn serial_source_reads_a_device_path() {
    // A regular file stands in for the tty: stty fails (logged), the reader still reads it.
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(drive_log(&[("101500.00", 30.0, 90.0, 20.0, true)]).as_bytes()).unwrap();
    let cfg = GnssConfig::with_source(GnssSourceConfig::Serial { path: f.path().into(), baud: 9600 });
    let handle = GnssHandle::new(Duration::from_secs(60));
    let task = spawn_source_with(&cfg, handle.clone(), fast_backoff()).unwrap();
    let fix = wait_for(|| handle.current(SystemTime::now()).ok(), "serial fix");
    assert!(fix.source.starts_with("serial:"));
    task.stop();
    wait_for(|| task.is_finished().then_some(()), "serial stop");
}

#[test]
fn replay_config_is_not_a_live_source() {
    let cfg = GnssConfig::with_source(GnssSourceConfig::Replay { path: "/x".into(), max_gap_ms: 2000 });
    assert!(spawn_source_with(&cfg, GnssHandle::new(Duration::from_secs(2)), Backoff::default()).is_err());
    // Outside a runtime the TCP source is an error, not a panic.
    let cfg = GnssConfig::with_source(GnssSourceConfig::Tcp { address: "127.0.0.1:2947".into(), gpsd: true });
    assert!(matches!(
        spawn_source_with(&cfg, GnssHandle::new(Duration::from_secs(2)), Backoff::default()),
        Err(super::source::SourceError::NoRuntime)
    ));
}

// ---------------------------------------------------------------- fuzzing

fn valid_sentences() -> Vec<String> {
    let mut v: Vec<String> =
        [GGA_LITERAL, RMC_LITERAL, VTG_LITERAL, GSA_LITERAL, GGA_NOFIX_UBLOX].iter().map(|x| x.to_string()).collect();
    v.extend(ublox_epoch("101530.00", "150624", "5130.00000", "00007.50000", 20.0, 87.5));
    v.push(s("GNGST,101530.00,2.1,,,,1.2,1.6,2.5"));
    v
}

/// Re-checksums a mutated line so the mutation reaches the field parsers.
fn rechecksum(line: &str) -> String {
    let body = line.trim().trim_start_matches('$');
    let body = body.rsplit_once('*').map_or(body, |(b, _)| b);
    s(body)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_any_string(line in ".{0,200}") {
        let _ = parse(&line, &ParseOptions::default());
        let _ = parse(&line, &ParseOptions { require_checksum: false, max_len: 1000 });
    }

    #[test]
    fn nmea_like_strings_never_panic(line in "\\$[A-Z]{2}(GGA|RMC|VTG|GSA|GST)[,0-9.NSEWAVMTK-]{0,90}(\\*[0-9A-F]{2})?") {
        let _ = parse(&line, &ParseOptions { require_checksum: false, ..ParseOptions::default() });
        let _ = parse(&rechecksum(&line), &ParseOptions::default());
    }

    #[test]
    fn assembler_never_panics_on_any_bytes(lines in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..150), 0..20)) {
        let mut a = asm();
        for l in &lines {
            let _ = a.push_bytes(l);
        }
        let _ = a.flush();
    }

    #[test]
    fn mutated_valid_sentences_never_panic(
        idx in 0usize..12,
        edits in proptest::collection::vec((any::<usize>(), any::<char>(), 0u8..3), 1..6),
    ) {
        let all = valid_sentences();
        let mut line: Vec<char> = all[idx % all.len()].trim().chars().collect();
        for (pos, c, op) in edits {
            let p = if line.is_empty() { 0 } else { pos % line.len() };
            match op {
                0 if !line.is_empty() => line[p] = c,
                1 if !line.is_empty() => { line.remove(p); }
                _ => line.insert(p, c),
            }
        }
        let line: String = line.into_iter().collect();
        let mut a = asm();
        let _ = a.push_line(&line);
        let _ = a.push_line(&rechecksum(&line));
        let _ = a.flush();
    }

    #[test]
    fn framer_is_bounded_and_loses_no_short_line(chunks in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(b'\n'), Just(b'a')], 0..64), 0..20)) {
        let mut fr = LineFramer::new(16);
        let all: Vec<u8> = chunks.concat();
        let mut lines = 0usize;
        for c in &chunks {
            fr.push(c, |f| if let Framed::Line(l) = f { assert!(l.len() <= 16); lines += 1; });
        }
        let expected = all.split(|&b| b == b'\n').count() - 1;
        let long = all.split(|&b| b == b'\n').take(expected).filter(|l| l.len() > 16).count();
        prop_assert_eq!(lines + long, expected);
    }

    #[test]
    fn rfc3339_round_trips(secs in -2_000_000_000i64..4_000_000_000i64, nanos in 0u32..1_000_000_000) {
        let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap() + time::Duration::nanoseconds(i64::from(nanos));
        let text = t.format(&time::format_description::well_known::Rfc3339).unwrap();
        prop_assert_eq!(super::rfc3339::parse(&text), Some(t));
    }
}

/// Angular distance in degrees.
fn wrap_dist(a: f64, b: f64) -> f64 {
    let d = (a - b).rem_euclid(360.0);
    d.min(360.0 - d)
}
