//! A whole recorded NMEA log as a time-indexed track, to geotag a recorded video.
//!
//! The video's presentation timestamp is an offset from the start of recording; offset 0 is taken
//! to be the first fix of the log (both recorders start with the drive). Between two fixes at most
//! `max_gap` apart the position is interpolated (a bus at 50 km/h moves 14 m per second, so
//! nearest-epoch lookup would misplace damage by up to 7 m at 1 Hz); across wider gaps, in epochs
//! without a fix, and outside the log there is no position ([`NoFix`]), never an extrapolated one.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use thiserror::Error;
use time::OffsetDateTime;

use super::assembler::{AssemblerOptions, Counters, FixAssembler};
use super::config::{GnssConfig, GnssSourceConfig};
use super::fix::{GnssFix, NoFix};
use super::lines::{Framed, LineFramer};
use super::source::MAX_LINE_BYTES;

/// Default widest interpolated gap.
pub const DEFAULT_MAX_GAP: Duration = Duration::from_secs(2);

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot read GNSS log {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("GNSS config source is not a replay source")]
    NotReplay,
}

/// How a log is turned into a track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackOptions {
    pub assembler: AssemblerOptions,
    pub max_gap: Duration,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self { assembler: AssemblerOptions::default(), max_gap: DEFAULT_MAX_GAP }
    }
}

/// One epoch of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackPoint {
    pub utc: OffsetDateTime,
    pub fix: Result<GnssFix, NoFix>,
}

/// Epochs of a log sorted by UTC, one per distinct time (the most complete version of each).
#[derive(Debug, Clone)]
pub struct FixTrack {
    points: Vec<TrackPoint>,
    max_gap: Duration,
    origin: Option<OffsetDateTime>,
    counters: Counters,
}

impl FixTrack {
    /// Reads a whole log. Bad lines are skipped and counted (see [`FixTrack::counters`]); only an
    /// I/O error fails.
    pub fn from_reader(mut reader: impl Read, opts: &TrackOptions) -> std::io::Result<Self> {
        let mut asm = FixAssembler::new(opts.assembler.clone());
        let mut framer = LineFramer::new(MAX_LINE_BYTES);
        let mut outcomes = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            framer.push(&buf[..n], |f| match f {
                Framed::Line(l) => outcomes.extend(asm.push_bytes(l)),
                Framed::Oversized => asm.note_oversized(),
            });
        }
        framer.finish(|f| {
            if let Framed::Line(l) = f {
                outcomes.extend(asm.push_bytes(l));
            }
        });
        outcomes.extend(asm.flush());
        let mut with_time: Vec<TrackPoint> =
            outcomes.into_iter().filter_map(|o| o.utc.map(|utc| TrackPoint { utc, fix: o.fix })).collect();
        // Stable sort keeps the emission order within one epoch, so the last one is the most complete.
        with_time.sort_by_key(|p| p.utc);
        let mut points: Vec<TrackPoint> = Vec::with_capacity(with_time.len());
        for p in with_time {
            match points.last_mut() {
                Some(last) if last.utc == p.utc => *last = p,
                _ => points.push(p),
            }
        }
        let origin = points.iter().find(|p| p.fix.is_ok()).map(|p| p.utc);
        Ok(Self { points, max_gap: opts.max_gap, origin, counters: asm.counters().clone() })
    }

    /// Reads a log file.
    pub fn from_path(path: impl AsRef<Path>, opts: &TrackOptions) -> Result<Self, ReplayError> {
        let path = path.as_ref();
        let io = |source| ReplayError::Io { path: path.display().to_string(), source };
        let file = std::fs::File::open(path).map_err(io)?;
        Self::from_reader(std::io::BufReader::new(file), opts).map_err(io)
    }

    /// Loads the track a `kind = "replay"` config names.
    pub fn from_config(config: &GnssConfig) -> Result<Self, ReplayError> {
        let GnssSourceConfig::Replay { path, max_gap_ms } = &config.source else {
            return Err(ReplayError::NotReplay);
        };
        let opts = TrackOptions { assembler: config.assembler_options(), max_gap: Duration::from_millis(*max_gap_ms) };
        Self::from_path(path, &opts)
    }

    pub fn points(&self) -> &[TrackPoint] {
        &self.points
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// UTC of the first fix: offset 0 of [`FixTrack::at_offset`].
    pub fn origin(&self) -> Option<OffsetDateTime> {
        self.origin
    }

    /// Parse statistics of the log.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Position at `offset` after the first fix (a video PTS).
    pub fn at_offset(&self, offset: Duration) -> Result<GnssFix, NoFix> {
        let Some(origin) = self.origin else {
            return Err(NoFix::NoData);
        };
        let Ok(d) = time::Duration::try_from(offset) else {
            return Err(NoFix::OutsideTrack { offset_ms: i64::MAX });
        };
        match origin.checked_add(d) {
            Some(t) => self.at_time(t),
            None => Err(NoFix::OutsideTrack { offset_ms: i64::MAX }),
        }
    }

    /// Position at an absolute UTC time.
    pub fn at_time(&self, t: OffsetDateTime) -> Result<GnssFix, NoFix> {
        let outside = || NoFix::OutsideTrack {
            offset_ms: self.origin.map_or(0, |o| i64::try_from((t - o).whole_milliseconds()).unwrap_or(i64::MAX)),
        };
        if self.points.is_empty() {
            return Err(NoFix::NoData);
        }
        let idx = self.points.partition_point(|p| p.utc <= t);
        let Some(prev) = idx.checked_sub(1).and_then(|i| self.points.get(i)) else {
            return Err(outside());
        };
        if prev.utc == t {
            return prev.fix.clone();
        }
        let Some(next) = self.points.get(idx) else {
            return Err(outside());
        };
        let gap = next.utc - prev.utc;
        if gap > self.max_gap {
            let gap_ms = u64::try_from(gap.whole_milliseconds()).unwrap_or(u64::MAX);
            return Err(NoFix::Gap { gap_ms });
        }
        match (&prev.fix, &next.fix) {
            (Ok(a), Ok(b)) => {
                let f = (t - prev.utc).as_seconds_f64() / gap.as_seconds_f64();
                Ok(interpolate(a, b, f, t))
            }
            (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        }
    }
}

/// Wraps an angle difference to (-180, 180].
fn wrap180(d: f64) -> f64 {
    let r = d.rem_euclid(360.0);
    if r > 180.0 {
        r - 360.0
    } else {
        r
    }
}

fn lerp(a: f64, b: f64, f: f64) -> f64 {
    a + (b - a) * f
}

fn lerp_opt(a: Option<f64>, b: Option<f64>, f: f64) -> Option<f64> {
    Some(lerp(a?, b?, f))
}

/// Linear between two fixes: positions (longitude across the antimeridian too), speed, altitude;
/// heading along the shorter arc (350° -> 10° passes 0°, not 180°). The precision fields come from
/// the less certain of the two fixes, so interpolation never claims more than its inputs.
fn interpolate(a: &GnssFix, b: &GnssFix, f: f64, utc: OffsetDateTime) -> GnssFix {
    let worse = if b.uncertainty_m > a.uncertainty_m { b } else { a };
    let heading_deg = match (a.heading_deg, b.heading_deg) {
        (Some(ha), Some(hb)) => Some((ha + wrap180(hb - ha) * f).rem_euclid(360.0)),
        _ => None,
    };
    GnssFix {
        utc,
        lat: lerp(a.lat, b.lat, f),
        lon: wrap180(a.lon + wrap180(b.lon - a.lon) * f),
        altitude_m: lerp_opt(a.altitude_m, b.altitude_m, f),
        quality: worse.quality,
        satellites: worse.satellites,
        hdop: worse.hdop,
        speed_mps: lerp_opt(a.speed_mps, b.speed_mps, f),
        heading_deg,
        uncertainty_m: worse.uncertainty_m,
        uncertainty_source: worse.uncertainty_source,
        source: a.source.clone(),
    }
}
