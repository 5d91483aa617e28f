//! Combines the sentences of one receiver epoch into one [`GnssFix`] (or [`NoFix`]).
//!
//! A receiver prints a burst of sentences per epoch (u-blox: RMC, VTG, GGA, GSA, GSV..., GST;
//! Quectel similar) and each carries part of the picture: only RMC has the date, only GGA has the
//! quality/altitude/satellites, only GST has the receiver's own error estimate. An epoch is the run
//! of sentences sharing one UTC time of day; sentences without a time (VTG, GSA) belong to the
//! epoch in progress. A new epoch starts when the time changes or a sentence type repeats.
//!
//! Latency matters more than completeness: an epoch is emitted as soon as it has the sentences the
//! stream has shown it carries (GGA and/or RMC), and emitted again, improved, when a later sentence
//! of the same epoch (VTG, GSA, GST) arrives. Consumers simply keep the latest outcome.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime, PrimitiveDateTime, Time};

use super::fix::{
    horizontal_uncertainty, FixQuality, GnssFix, ModeIndicator, NoFix, UncertaintyModel, DEFAULT_MIN_HEADING_SPEED_MPS,
    KNOTS_TO_MPS,
};
use super::nmea::{self, Gga, Gsa, GsaFixType, Gst, NmeaError, ParseOptions, Rmc, Sentence, Vtg};

/// How sentences are turned into fixes.
#[derive(Debug, Clone, PartialEq)]
pub struct AssemblerOptions {
    pub parse: ParseOptions,
    pub uncertainty: UncertaintyModel,
    /// Course over ground is dropped below this speed (see [`DEFAULT_MIN_HEADING_SPEED_MPS`]).
    pub min_heading_speed_mps: f64,
    /// Copied into every fix's `source`.
    pub source: String,
}

impl Default for AssemblerOptions {
    fn default() -> Self {
        Self {
            parse: ParseOptions::default(),
            uncertainty: UncertaintyModel::default(),
            min_heading_speed_mps: DEFAULT_MIN_HEADING_SPEED_MPS,
            source: String::new(),
        }
    }
}

/// What happened to the input, for the dashboard and for diagnosing a wrong baud rate or cable.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Counters {
    /// Sentences decoded (GGA, RMC, VTG, GSA, GST).
    pub sentences_ok: u64,
    /// Well-formed sentences of other types (GSV, GLL, proprietary...), ignored.
    pub unknown_types: u64,
    pub bad_checksum: u64,
    pub missing_checksum: u64,
    /// Sentences with a valid checksum but an undecodable field.
    pub parse_errors: u64,
    /// Lines that are not NMEA at all (no `$`, binary, gpsd JSON is not counted here).
    pub not_nmea: u64,
    /// Lines longer than the limit (including those cut off by the line reader).
    pub too_long: u64,
    pub invalid_utf8: u64,
    /// Epochs emitted, and how many of those had a fix.
    pub epochs: u64,
    pub fixes: u64,
}

/// The result of one epoch: its UTC time when known, and the fix or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochOutcome {
    pub utc: Option<OffsetDateTime>,
    pub fix: Result<GnssFix, NoFix>,
}

#[derive(Debug, Default)]
struct Epoch {
    tod: Option<Time>,
    gga: Option<Gga>,
    rmc: Option<Rmc>,
    vtg: Option<Vtg>,
    gsa: Option<Gsa>,
    gst: Option<Gst>,
    emitted: bool,
}

impl Epoch {
    fn has_any(&self) -> bool {
        self.gga.is_some() || self.rmc.is_some()
    }
}

/// Stateful sentence-to-fix combiner; one per input stream.
#[derive(Debug)]
pub struct FixAssembler {
    opts: AssemblerOptions,
    epoch: Epoch,
    /// Last (date, time of day) seen in an RMC, to date epochs whose RMC has not arrived yet.
    last_date: Option<(Date, Time)>,
    seen_gga: bool,
    seen_rmc: bool,
    counters: Counters,
}

impl FixAssembler {
    pub fn new(opts: AssemblerOptions) -> Self {
        Self {
            opts,
            epoch: Epoch::default(),
            last_date: None,
            seen_gga: false,
            seen_rmc: false,
            counters: Counters::default(),
        }
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The line reader dropped a line that had no newline within the length limit.
    pub fn note_oversized(&mut self) {
        self.counters.too_long += 1;
    }

    /// Feeds one raw line (bytes as read); invalid UTF-8 is counted and skipped.
    pub fn push_bytes(&mut self, line: &[u8]) -> Vec<EpochOutcome> {
        match std::str::from_utf8(line) {
            Ok(s) => self.push_line(s),
            Err(_) => {
                self.counters.invalid_utf8 += 1;
                Vec::new()
            }
        }
    }

    /// Feeds one line. Returns the outcomes that became available (usually zero or one; two when a
    /// line closes an unfinished epoch and completes the new one).
    pub fn push_line(&mut self, line: &str) -> Vec<EpochOutcome> {
        let trimmed = line.trim();
        // Blank lines and gpsd's JSON reports are part of normal traffic, not errors.
        if trimmed.is_empty() || trimmed.starts_with('{') {
            return Vec::new();
        }
        match nmea::parse(trimmed, &self.opts.parse) {
            Ok(n) => {
                self.counters.sentences_ok += 1;
                self.push_sentence(n.sentence)
            }
            Err(e) => {
                let c = &mut self.counters;
                match e {
                    NmeaError::BadChecksum { .. } | NmeaError::MalformedChecksum(_) => c.bad_checksum += 1,
                    NmeaError::MissingChecksum => c.missing_checksum += 1,
                    NmeaError::UnknownSentence(_) => c.unknown_types += 1,
                    NmeaError::TooLong { .. } => c.too_long += 1,
                    NmeaError::NotNmea => c.not_nmea += 1,
                    NmeaError::Field { .. } | NmeaError::TooFewFields { .. } => {
                        tracing::debug!(error = %e, "unusable NMEA sentence");
                        c.parse_errors += 1
                    }
                }
                Vec::new()
            }
        }
    }

    /// Feeds one decoded sentence.
    pub fn push_sentence(&mut self, s: Sentence) -> Vec<EpochOutcome> {
        let mut out = Vec::new();
        let (tod, repeats) = match &s {
            Sentence::Gga(g) => (g.time, self.epoch.gga.is_some()),
            Sentence::Rmc(r) => (r.time, self.epoch.rmc.is_some()),
            Sentence::Gst(g) => (g.time, self.epoch.gst.is_some()),
            Sentence::Vtg(_) => (None, self.epoch.vtg.is_some()),
            Sentence::Gsa(_) => (None, self.epoch.gsa.is_some()),
        };
        let time_changed = matches!((tod, self.epoch.tod), (Some(a), Some(b)) if a != b);
        if repeats || time_changed {
            out.extend(self.close_epoch());
        }
        if self.epoch.tod.is_none() {
            self.epoch.tod = tod;
        }
        match s {
            Sentence::Gga(g) => {
                self.seen_gga = true;
                self.epoch.gga = Some(g);
            }
            Sentence::Rmc(r) => {
                self.seen_rmc = true;
                if let (Some(d), Some(t)) = (r.date, r.time) {
                    self.last_date = Some((d, t));
                }
                self.epoch.rmc = Some(r);
            }
            Sentence::Vtg(v) => self.epoch.vtg = Some(v),
            Sentence::Gsa(g) => self.epoch.gsa = Some(g),
            Sentence::Gst(g) => self.epoch.gst = Some(g),
        }
        let e = &self.epoch;
        let ready = e.has_any() && (!self.seen_gga || e.gga.is_some()) && (!self.seen_rmc || e.rmc.is_some());
        if ready {
            out.push(self.emit());
        }
        out
    }

    /// End of input: emits the epoch in progress if it was never emitted.
    pub fn flush(&mut self) -> Option<EpochOutcome> {
        self.close_epoch()
    }

    fn close_epoch(&mut self) -> Option<EpochOutcome> {
        let out = if !self.epoch.emitted && self.epoch.has_any() { Some(self.emit()) } else { None };
        self.epoch = Epoch::default();
        out
    }

    fn emit(&mut self) -> EpochOutcome {
        let first = !self.epoch.emitted;
        self.epoch.emitted = true;
        let utc = self.epoch_utc();
        let fix = self.build(utc);
        if first {
            self.counters.epochs += 1;
            if fix.is_ok() {
                self.counters.fixes += 1;
            }
        }
        EpochOutcome { utc, fix }
    }

    /// Absolute UTC of the current epoch. The date comes from this epoch's RMC, or else from the
    /// last RMC, moved by a day when the time of day wrapped around midnight since then.
    fn epoch_utc(&self) -> Option<OffsetDateTime> {
        let tod = self.epoch.tod?;
        let date = match self.epoch.rmc.as_ref().and_then(|r| r.date) {
            Some(d) => d,
            None => {
                let (d, last_tod) = self.last_date?;
                let delta = tod - last_tod;
                if delta < -Duration::hours(12) {
                    d.next_day()?
                } else if delta > Duration::hours(12) {
                    d.previous_day()?
                } else {
                    d
                }
            }
        };
        Some(PrimitiveDateTime::new(date, tod).assume_utc())
    }

    fn build(&self, utc: Option<OffsetDateTime>) -> Result<GnssFix, NoFix> {
        let e = &self.epoch;
        let gga_quality = e.gga.as_ref().map(|g| g.quality);
        let rmc_mode = e.rmc.as_ref().and_then(|r| r.mode);
        let no_fix = || NoFix::NoFix { quality: gga_quality.unwrap_or(FixQuality::Invalid) };
        if gga_quality == Some(FixQuality::Invalid)
            || e.rmc.as_ref().is_some_and(|r| !r.valid)
            || rmc_mode == Some(ModeIndicator::NotValid)
            || e.vtg.as_ref().and_then(|v| v.mode) == Some(ModeIndicator::NotValid)
            || e.gsa.as_ref().and_then(|g| g.fix_type) == Some(GsaFixType::NoFix)
        {
            return Err(no_fix());
        }
        let quality = gga_quality.or(rmc_mode.map(ModeIndicator::quality)).unwrap_or(FixQuality::Gps);
        let gga_pos = e.gga.as_ref().and_then(|g| g.lat.zip(g.lon));
        let rmc_pos = e.rmc.as_ref().and_then(|r| r.lat.zip(r.lon));
        let Some((lat, lon)) = gga_pos.or(rmc_pos) else {
            return Err(NoFix::Invalid { detail: "fix reported valid but without coordinates".into() });
        };
        let Some(utc) = utc else {
            if e.tod.is_none() {
                return Err(NoFix::Invalid { detail: "fix without a UTC time".into() });
            }
            return Err(NoFix::NoDate);
        };
        let speed_mps = e
            .rmc
            .as_ref()
            .and_then(|r| r.speed_knots)
            .map(|k| k * KNOTS_TO_MPS)
            .or_else(|| e.vtg.as_ref().and_then(|v| v.speed_kmh).map(|k| k / 3.6))
            .or_else(|| e.vtg.as_ref().and_then(|v| v.speed_knots).map(|k| k * KNOTS_TO_MPS));
        let course = e.rmc.as_ref().and_then(|r| r.course_deg).or(e.vtg.as_ref().and_then(|v| v.course_true_deg));
        let heading_deg = match speed_mps {
            Some(s) if s >= self.opts.min_heading_speed_mps => course,
            _ => None,
        };
        let hdop = e.gga.as_ref().and_then(|g| g.hdop).or(e.gsa.as_ref().and_then(|g| g.hdop));
        let sigmas = e.gst.as_ref().and_then(|g| g.lat_sigma_m.zip(g.lon_sigma_m));
        let (uncertainty_m, uncertainty_source) = horizontal_uncertainty(&self.opts.uncertainty, quality, sigmas, hdop);
        Ok(GnssFix {
            utc,
            lat,
            lon,
            altitude_m: e.gga.as_ref().and_then(|g| g.altitude_m),
            quality,
            satellites: e.gga.as_ref().and_then(|g| g.satellites),
            hdop,
            speed_mps,
            heading_deg,
            uncertainty_m,
            uncertainty_source,
            source: self.opts.source.clone(),
        })
    }
}
