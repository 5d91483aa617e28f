//! Accelerometer sample sources: a CSV line parser, a bounded line reader over any `BufRead`,
//! and a blocking-thread task that streams a file or character device into a tokio channel.
//!
//! Accepted lines (comma-separated, spaces around fields ignored):
//! - `t_s,ax,ay,az` — timestamped three-axis sample;
//! - `ax,ay,az` or `az` — untimed; the time is `index / rate_hz`, where `index` counts data lines
//!   (bad ones included, so a corrupted line does not shift the clock of the rest).
//!
//! The configured `axis` (with sign) picks the vertical component; for single-value lines the
//! value is that axis. `units` converts g to m/s². Blank lines, `#` comments and a first line
//! that starts with a letter (a header) are skipped silently; any other unparsable or overlong
//! line is counted and skipped — never fatal.
//!
//! The reader runs on a blocking thread (`spawn_blocking`) because character devices are read
//! with blocking I/O and the crate does not enable tokio's `fs`/`io-util` features. Dropping the
//! receiver stops it at the next sample (a device that sends nothing keeps the thread parked in
//! `read` until it does or closes).

use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::config::{Axis, Pace, SourceConfig, SourceKind, Units};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccelSample {
    pub t_s: f64,
    /// Vertical (upward-positive) acceleration, m/s², gravity included if the sensor includes it.
    pub az_mps2: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LineError {
    #[error("expected 1, 3 or 4 comma-separated fields, got {0}")]
    FieldCount(usize),
    #[error("field {0} is not a number")]
    BadNumber(usize),
    #[error("field {0} is not finite")]
    NonFinite(usize),
    #[error("timestamp is negative")]
    NegativeTime,
    #[error("line longer than the configured maximum")]
    TooLong,
    #[error("line is not valid UTF-8")]
    NotUtf8,
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("cannot open accelerometer source {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("reading accelerometer source {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
}

/// Counters of a source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub lines: u64,
    pub samples: u64,
    pub bad_lines: u64,
}

/// Turns lines into samples; keeps the untimed-line counter.
#[derive(Debug, Clone)]
pub struct LineParser {
    axis: Axis,
    scale: f64,
    rate_hz: f64,
    index: u64,
    seen_line: bool,
}

impl LineParser {
    pub fn new(axis: Axis, units: Units, rate_hz: f64) -> Self {
        Self { axis, scale: units.to_mps2() * axis.sign(), rate_hz, index: 0, seen_line: false }
    }

    pub fn from_config(cfg: &SourceConfig) -> Self {
        Self::new(cfg.axis, cfg.units, cfg.rate_hz)
    }

    /// `Ok(None)` for lines that carry no sample by design (blank, comment, header).
    pub fn parse(&mut self, line: &str) -> Result<Option<AccelSample>, LineError> {
        let line = line.trim();
        let first = !self.seen_line;
        if line.is_empty() || line.starts_with('#') {
            return Ok(None);
        }
        self.seen_line = true;
        if first && line.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Ok(None);
        }
        let index = self.index;
        self.index += 1;
        let mut vals = [0.0f64; 4];
        let mut n = 0usize;
        for field in line.split(',') {
            if n == 4 {
                return Err(LineError::FieldCount(line.split(',').count()));
            }
            let v: f64 = field.trim().parse().map_err(|_| LineError::BadNumber(n))?;
            if !v.is_finite() {
                return Err(LineError::NonFinite(n));
            }
            vals[n] = v;
            n += 1;
        }
        let untimed_t = || index as f64 / self.rate_hz;
        let (t_s, raw) = match n {
            1 => (untimed_t(), vals[0]),
            3 => (untimed_t(), vals[self.axis.index()]),
            4 => (vals[0], vals[1 + self.axis.index()]),
            other => return Err(LineError::FieldCount(other)),
        };
        if t_s < 0.0 {
            return Err(LineError::NegativeTime);
        }
        if !t_s.is_finite() {
            return Err(LineError::NonFinite(0));
        }
        Ok(Some(AccelSample { t_s, az_mps2: raw * self.scale }))
    }
}

/// Reads one line of at most `max` bytes into `buf` (without the newline). `Ok(None)` at end of
/// input; `Ok(Some(true))` when the line was longer than `max` (its bytes are discarded up to the
/// newline, so memory stays bounded).
fn read_bounded_line<R: BufRead>(r: &mut R, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<bool>> {
    buf.clear();
    let mut too_long = false;
    let mut got_any = false;
    loop {
        let avail = match r.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(got_any.then_some(too_long));
        }
        got_any = true;
        let (chunk, consumed, done) = match avail.iter().position(|&b| b == b'\n') {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        if !too_long {
            if buf.len() + chunk.len() > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(chunk);
            }
        }
        r.consume(consumed);
        if done {
            return Ok(Some(too_long));
        }
    }
}

/// Pulls samples out of any buffered reader, skipping and counting bad lines.
#[derive(Debug)]
pub struct SampleReader<R> {
    reader: R,
    parser: LineParser,
    max_line_bytes: usize,
    buf: Vec<u8>,
    stats: SourceStats,
}

impl<R: BufRead> SampleReader<R> {
    pub fn new(reader: R, cfg: &SourceConfig) -> Self {
        Self {
            reader,
            parser: LineParser::from_config(cfg),
            max_line_bytes: cfg.max_line_bytes,
            buf: Vec::with_capacity(cfg.max_line_bytes.min(4096)),
            stats: SourceStats::default(),
        }
    }

    pub fn stats(&self) -> SourceStats {
        self.stats
    }

    /// The next good sample; `Ok(None)` at end of input.
    pub fn next_sample(&mut self) -> io::Result<Option<AccelSample>> {
        loop {
            let Some(too_long) = read_bounded_line(&mut self.reader, &mut self.buf, self.max_line_bytes)? else {
                return Ok(None);
            };
            self.stats.lines += 1;
            let parsed = if too_long {
                Err(LineError::TooLong)
            } else {
                let bytes = self.buf.strip_suffix(b"\r").unwrap_or(&self.buf);
                match std::str::from_utf8(bytes) {
                    Ok(s) => self.parser.parse(s),
                    Err(_) => Err(LineError::NotUtf8),
                }
            };
            match parsed {
                Ok(Some(s)) => {
                    self.stats.samples += 1;
                    return Ok(Some(s));
                }
                Ok(None) => {}
                Err(e) => {
                    self.stats.bad_lines += 1;
                    // Log the first few, then every 1000th: a broken device must not flood logs.
                    if self.stats.bad_lines <= 5 || self.stats.bad_lines.is_multiple_of(1000) {
                        tracing::debug!(
                            line = self.stats.lines,
                            bad_lines = self.stats.bad_lines,
                            "roughness source: skipping bad line: {e}"
                        );
                    }
                }
            }
        }
    }
}

impl<R: BufRead> Iterator for SampleReader<R> {
    type Item = io::Result<AccelSample>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_sample().transpose()
    }
}

/// Longest a realtime replay sleeps for one sample; a larger timestamp jump re-anchors the clock.
const MAX_PACE_SLEEP: Duration = Duration::from_secs(1);

/// Streams the configured source into `tx` on a blocking thread until end of input or until the
/// receiver is dropped. Must be called inside a tokio runtime.
pub fn spawn_source(cfg: SourceConfig, tx: mpsc::Sender<AccelSample>) -> JoinHandle<Result<SourceStats, SourceError>> {
    tokio::task::spawn_blocking(move || run_source(&cfg, &tx))
}

fn run_source(cfg: &SourceConfig, tx: &mpsc::Sender<AccelSample>) -> Result<SourceStats, SourceError> {
    let file = std::fs::File::open(&cfg.path).map_err(|source| SourceError::Open { path: cfg.path.clone(), source })?;
    let mut reader = SampleReader::new(BufReader::new(file), cfg);
    let pace = cfg.kind == SourceKind::File && cfg.pace == Pace::Realtime;
    // Pacing keeps wall time and sample time in step from the first sample; going backwards in
    // sample time just sends at once.
    let mut clock: Option<(Instant, f64)> = None;
    loop {
        let sample = match reader.next_sample() {
            Ok(Some(s)) => s,
            Ok(None) => break,
            Err(source) => return Err(SourceError::Read { path: cfg.path.clone(), source }),
        };
        if pace {
            let (start, t0) = *clock.get_or_insert((Instant::now(), sample.t_s));
            let due = Duration::try_from_secs_f64(sample.t_s - t0).unwrap_or(Duration::ZERO);
            let ahead = due.saturating_sub(start.elapsed());
            if ahead > MAX_PACE_SLEEP {
                // A jump forward in the recording: re-anchor instead of sleeping through it.
                clock = Some((Instant::now(), sample.t_s));
            } else if !ahead.is_zero() {
                std::thread::sleep(ahead);
            }
        }
        if tx.blocking_send(sample).is_err() {
            break;
        }
    }
    let stats = reader.stats();
    if stats.bad_lines > 0 {
        tracing::warn!(path = %cfg.path.display(), bad_lines = stats.bad_lines, lines = stats.lines, "roughness source skipped bad lines");
    }
    Ok(stats)
}
