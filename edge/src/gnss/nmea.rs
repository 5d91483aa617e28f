//! NMEA 0183 sentence parser: one line in, one typed sentence (or a precise error) out.
//!
//! Only the sentences a geotag needs are decoded (GGA, RMC, VTG, GSA, GST); every other well-formed
//! sentence is [`NmeaError::UnknownSentence`], which the assembler counts and otherwise ignores.
//! The parser never panics and never allocates more than the (bounded) line it is given: receivers
//! and serial links produce garbage (baud mismatch, cable noise, a half line at start-up) and none
//! of it may take the daemon down.
//!
//! Empty fields are normal — a receiver without a fix sends `$GPGGA,,,,,,0,00,99.99,,,,,,*48` — so
//! every measured value is an `Option` and an empty field is `None`, never an error.

use thiserror::Error;
use time::{Date, Month, Time};

use super::fix::{FixQuality, ModeIndicator};

/// Longest line accepted by default. NMEA 0183 limits a sentence to 82 characters including `$`
/// and CR LF, but several receivers exceed it (long GSA with many satellites, NMEA 4.11 extra
/// fields), so some slack is allowed while still bounding the work done per line.
pub const DEFAULT_MAX_LINE: usize = 120;

/// How strict the parser is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Reject a sentence without `*hh`. On by default: a serial link with a wrong baud rate or
    /// noise produces plausible-looking lines, and the checksum is the only integrity check NMEA has.
    pub require_checksum: bool,
    /// Lines longer than this (after trimming CR/LF) are [`NmeaError::TooLong`].
    pub max_len: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self { require_checksum: true, max_len: DEFAULT_MAX_LINE }
    }
}

/// Why a line is not a usable sentence.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NmeaError {
    #[error("line is longer than {max} characters ({len})")]
    TooLong { len: usize, max: usize },
    #[error("not an NMEA sentence (no leading '$', non-ASCII or malformed address field)")]
    NotNmea,
    #[error("checksum mismatch: computed {expected:02X}, sentence says {found:02X}")]
    BadChecksum { expected: u8, found: u8 },
    #[error("checksum field is not two hex digits: {0:?}")]
    MalformedChecksum(String),
    #[error("sentence has no '*hh' checksum")]
    MissingChecksum,
    #[error("unsupported sentence type {0:?}")]
    UnknownSentence(String),
    #[error("sentence {sentence} has too few fields ({found}, needs {needed})")]
    TooFewFields { sentence: &'static str, found: usize, needed: usize },
    #[error("field {name} has an invalid value {value:?}")]
    Field { name: &'static str, value: String },
}

/// A decoded sentence plus the talker that sent it (`GP` GPS, `GN` multi-constellation, `GL`
/// GLONASS, `GA` Galileo, `BD`/`GB` BeiDou, `GQ` QZSS, ...). The talker does not change the meaning
/// of the fields, so it is kept only for diagnostics.
#[derive(Debug, Clone, PartialEq)]
pub struct Nmea {
    pub talker: [u8; 2],
    pub sentence: Sentence,
}

impl Nmea {
    /// Talker id as text (always two ASCII characters).
    pub fn talker_str(&self) -> &str {
        std::str::from_utf8(&self.talker).unwrap_or("??")
    }
}

/// The sentence types that matter for a geotag.
#[derive(Debug, Clone, PartialEq)]
pub enum Sentence {
    Gga(Gga),
    Rmc(Rmc),
    Vtg(Vtg),
    Gsa(Gsa),
    Gst(Gst),
}

/// Global positioning system fix data: the quality, altitude and precision of a fix.
#[derive(Debug, Clone, PartialEq)]
pub struct Gga {
    pub time: Option<Time>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Field 6, 0-8. 0 means no fix.
    pub quality: FixQuality,
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    /// Altitude above mean sea level in metres.
    pub altitude_m: Option<f64>,
}

/// Recommended minimum data: the only sentence carrying the date, plus validity, speed and course.
#[derive(Debug, Clone, PartialEq)]
pub struct Rmc {
    pub time: Option<Time>,
    /// `A` = valid, `V` = warning (no usable fix).
    pub valid: bool,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub speed_knots: Option<f64>,
    /// Course over ground, degrees true.
    pub course_deg: Option<f64>,
    pub date: Option<Date>,
    /// Positioning mode (NMEA 2.3+); `None` for older receivers.
    pub mode: Option<ModeIndicator>,
}

/// Course and speed over ground.
#[derive(Debug, Clone, PartialEq)]
pub struct Vtg {
    pub course_true_deg: Option<f64>,
    pub speed_knots: Option<f64>,
    pub speed_kmh: Option<f64>,
    pub mode: Option<ModeIndicator>,
}

/// Fix type as reported in GSA field 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsaFixType {
    NoFix,
    Fix2d,
    Fix3d,
}

/// DOP and active satellites.
#[derive(Debug, Clone, PartialEq)]
pub struct Gsa {
    pub fix_type: Option<GsaFixType>,
    pub pdop: Option<f64>,
    pub hdop: Option<f64>,
    pub vdop: Option<f64>,
}

/// Pseudorange error statistics: the receiver's own estimate of its position error (1 sigma, m).
#[derive(Debug, Clone, PartialEq)]
pub struct Gst {
    pub time: Option<Time>,
    pub rms: Option<f64>,
    pub lat_sigma_m: Option<f64>,
    pub lon_sigma_m: Option<f64>,
    pub alt_sigma_m: Option<f64>,
}

/// XOR of every byte between `$` and `*`, as NMEA defines it.
pub fn checksum(body: &[u8]) -> u8 {
    body.iter().fold(0u8, |acc, b| acc ^ b)
}

/// Parses one line (trailing CR/LF and surrounding whitespace tolerated).
pub fn parse(line: &str, opts: &ParseOptions) -> Result<Nmea, NmeaError> {
    let line = line.trim();
    if line.len() > opts.max_len {
        return Err(NmeaError::TooLong { len: line.len(), max: opts.max_len });
    }
    if !line.is_ascii() {
        return Err(NmeaError::NotNmea);
    }
    let Some(rest) = line.strip_prefix('$') else {
        return Err(NmeaError::NotNmea);
    };
    let body = match rest.rsplit_once('*') {
        Some((body, sum)) => {
            let found = parse_hex_byte(sum).ok_or_else(|| NmeaError::MalformedChecksum(sum.to_string()))?;
            let expected = checksum(body.as_bytes());
            if expected != found {
                return Err(NmeaError::BadChecksum { expected, found });
            }
            body
        }
        None if opts.require_checksum => return Err(NmeaError::MissingChecksum),
        None => rest,
    };
    let mut fields = body.split(',');
    let address = fields.next().unwrap_or("");
    let fields: Vec<&str> = fields.collect();
    if address.len() < 3 || !address.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(NmeaError::NotNmea);
    }
    // Proprietary sentences ($PUBX, $PMTK...) have no talker id; they are well formed but unused.
    if address.starts_with('P') || address.len() != 5 {
        return Err(NmeaError::UnknownSentence(address.to_string()));
    }
    let (talker, kind) = address.split_at(2);
    let talker = [talker.as_bytes()[0], talker.as_bytes()[1]];
    let sentence = match kind {
        "GGA" => Sentence::Gga(parse_gga(&fields)?),
        "RMC" => Sentence::Rmc(parse_rmc(&fields)?),
        "VTG" => Sentence::Vtg(parse_vtg(&fields)?),
        "GSA" => Sentence::Gsa(parse_gsa(&fields)?),
        "GST" => Sentence::Gst(parse_gst(&fields)?),
        other => return Err(NmeaError::UnknownSentence(other.to_string())),
    };
    Ok(Nmea { talker, sentence })
}

fn parse_hex_byte(s: &str) -> Option<u8> {
    if s.len() != 2 {
        return None;
    }
    u8::from_str_radix(s, 16).ok()
}

fn need(sentence: &'static str, fields: &[&str], needed: usize) -> Result<(), NmeaError> {
    if fields.len() < needed {
        return Err(NmeaError::TooFewFields { sentence, found: fields.len(), needed });
    }
    Ok(())
}

fn field_err(name: &'static str, value: &str) -> NmeaError {
    NmeaError::Field { name, value: value.to_string() }
}

fn get<'a>(fields: &[&'a str], i: usize) -> &'a str {
    fields.get(i).copied().unwrap_or("")
}

/// A finite decimal number; empty is `None`. Rejects `inf`, `NaN` and exponents, which Rust's float
/// parser would otherwise accept.
fn opt_f64(name: &'static str, s: &str) -> Result<Option<f64>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    let ok_chars = s.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'+');
    match s.parse::<f64>() {
        Ok(v) if ok_chars && v.is_finite() => Ok(Some(v)),
        _ => Err(field_err(name, s)),
    }
}

/// Like [`opt_f64`] but rejects negative values (speeds, DOPs, sigmas).
fn opt_nonneg(name: &'static str, s: &str) -> Result<Option<f64>, NmeaError> {
    match opt_f64(name, s)? {
        Some(v) if v < 0.0 => Err(field_err(name, s)),
        v => Ok(v),
    }
}

/// Course in degrees, normalised to [0, 360).
fn opt_course(name: &'static str, s: &str) -> Result<Option<f64>, NmeaError> {
    match opt_f64(name, s)? {
        Some(v) if !(0.0..=360.0).contains(&v) => Err(field_err(name, s)),
        Some(v) => Ok(Some(v % 360.0)),
        None => Ok(None),
    }
}

fn opt_u8(name: &'static str, s: &str) -> Result<Option<u8>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(field_err(name, s));
    }
    s.parse::<u8>().map(Some).map_err(|_| field_err(name, s))
}

/// `hhmmss` with optional fraction (`123519`, `123519.00`, `123519.123`).
fn opt_time(s: &str) -> Result<Option<Time>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    let err = || field_err("time", s);
    let (hms, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    if hms.len() != 6 || !hms.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(err());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| hms.get(r).and_then(|x| x.parse::<u8>().ok()).ok_or_else(err);
    let (h, m, sec) = (num(0..2)?, num(2..4)?, num(4..6)?);
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    // A leap second (ss = 60) is folded onto :59 rather than rejected.
    let sec = sec.min(59);
    Time::from_hms_nano(h, m, sec, nanos).map(Some).map_err(|_| err())
}

/// `ddmmyy`. Two-digit years: 80-99 are 19xx, 00-79 are 20xx (GPS did not exist before 1980).
fn opt_date(s: &str) -> Result<Option<Date>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    let err = || field_err("date", s);
    if s.len() != 6 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let num = |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u8>().ok()).ok_or_else(err);
    let (d, m, y) = (num(0..2)?, num(2..4)?, num(4..6)?);
    let year = if y >= 80 { 1900 + i32::from(y) } else { 2000 + i32::from(y) };
    let month = Month::try_from(m).map_err(|_| err())?;
    Date::from_calendar_date(year, month, d).map(Some).map_err(|_| err())
}

/// `ddmm.mmmm` / `dddmm.mmmm` plus hemisphere. Both empty is `None`; one without the other is an error.
fn opt_coord(
    name: &'static str,
    value: &str,
    hemi: &str,
    deg_digits: usize,
    positive: &str,
    negative: &str,
    max_deg: f64,
) -> Result<Option<f64>, NmeaError> {
    if value.is_empty() && hemi.is_empty() {
        return Ok(None);
    }
    let err = || field_err(name, value);
    let (int_part, _) = value.split_once('.').unwrap_or((value, ""));
    if int_part.len() != deg_digits + 2 || !value.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(err());
    }
    let deg: f64 = value.get(..deg_digits).and_then(|d| d.parse().ok()).ok_or_else(err)?;
    let min: f64 = value.get(deg_digits..).and_then(|m| m.parse().ok()).ok_or_else(err)?;
    if !(0.0..60.0).contains(&min) {
        return Err(err());
    }
    let v = deg + min / 60.0;
    if v > max_deg {
        return Err(err());
    }
    if hemi == positive {
        Ok(Some(v))
    } else if hemi == negative {
        Ok(Some(-v))
    } else {
        Err(NmeaError::Field { name: "hemisphere", value: hemi.to_string() })
    }
}

fn lat(fields: &[&str], i: usize) -> Result<Option<f64>, NmeaError> {
    opt_coord("latitude", get(fields, i), get(fields, i + 1), 2, "N", "S", 90.0)
}

fn lon(fields: &[&str], i: usize) -> Result<Option<f64>, NmeaError> {
    opt_coord("longitude", get(fields, i), get(fields, i + 1), 3, "E", "W", 180.0)
}

fn opt_mode(s: &str) -> Result<Option<ModeIndicator>, NmeaError> {
    if s.is_empty() {
        return Ok(None);
    }
    ModeIndicator::from_nmea(s).map(Some).ok_or_else(|| field_err("mode", s))
}

fn parse_gga(f: &[&str]) -> Result<Gga, NmeaError> {
    need("GGA", f, 9)?;
    let q = get(f, 5);
    let quality = if q.is_empty() {
        FixQuality::Invalid
    } else {
        opt_u8("quality", q)?.and_then(FixQuality::from_gga).ok_or_else(|| field_err("quality", q))?
    };
    Ok(Gga {
        time: opt_time(get(f, 0))?,
        lat: lat(f, 1)?,
        lon: lon(f, 3)?,
        quality,
        satellites: opt_u8("satellites", get(f, 6))?,
        hdop: opt_nonneg("hdop", get(f, 7))?,
        altitude_m: opt_f64("altitude", get(f, 8))?,
    })
}

fn parse_rmc(f: &[&str]) -> Result<Rmc, NmeaError> {
    need("RMC", f, 9)?;
    let valid = match get(f, 1) {
        "A" => true,
        "V" | "" => false,
        other => return Err(field_err("status", other)),
    };
    Ok(Rmc {
        time: opt_time(get(f, 0))?,
        valid,
        lat: lat(f, 2)?,
        lon: lon(f, 4)?,
        speed_knots: opt_nonneg("speed_knots", get(f, 6))?,
        course_deg: opt_course("course", get(f, 7))?,
        date: opt_date(get(f, 8))?,
        mode: opt_mode(get(f, 11))?,
    })
}

fn parse_vtg(f: &[&str]) -> Result<Vtg, NmeaError> {
    need("VTG", f, 8)?;
    Ok(Vtg {
        course_true_deg: opt_course("course_true", get(f, 0))?,
        speed_knots: opt_nonneg("speed_knots", get(f, 4))?,
        speed_kmh: opt_nonneg("speed_kmh", get(f, 6))?,
        mode: opt_mode(get(f, 8))?,
    })
}

fn parse_gsa(f: &[&str]) -> Result<Gsa, NmeaError> {
    need("GSA", f, 17)?;
    let t = get(f, 1);
    let fix_type = match t {
        "" => None,
        "1" => Some(GsaFixType::NoFix),
        "2" => Some(GsaFixType::Fix2d),
        "3" => Some(GsaFixType::Fix3d),
        other => return Err(field_err("fix_type", other)),
    };
    Ok(Gsa {
        fix_type,
        pdop: opt_nonneg("pdop", get(f, 14))?,
        hdop: opt_nonneg("hdop", get(f, 15))?,
        vdop: opt_nonneg("vdop", get(f, 16))?,
    })
}

fn parse_gst(f: &[&str]) -> Result<Gst, NmeaError> {
    need("GST", f, 8)?;
    Ok(Gst {
        time: opt_time(get(f, 0))?,
        rms: opt_nonneg("rms", get(f, 1))?,
        lat_sigma_m: opt_nonneg("lat_sigma", get(f, 5))?,
        lon_sigma_m: opt_nonneg("lon_sigma", get(f, 6))?,
        alt_sigma_m: opt_nonneg("alt_sigma", get(f, 7))?,
    })
}
