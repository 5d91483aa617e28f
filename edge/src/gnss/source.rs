//! Tasks that read NMEA from a serial tty, a TCP (gpsd) connection or a file and feed a
//! [`GnssHandle`].
//!
//! Nothing a source reads can stop it: bad lines are counted, oversized lines are dropped without
//! buffering them, invalid UTF-8 is counted, and I/O errors lead to reopening/reconnecting with a
//! capped exponential backoff.
//!
//! Serial and file sources run on their own OS thread (blocking reads; tokio's `fs`/`io-util`
//! features are not needed and a tty read that never returns cannot hold up the runtime's
//! shutdown). The TCP source is a tokio task using `readable`/`try_read` (only the `net` feature).
//!
//! Serial baud rate: set by running `stty -F <path> <baud> raw -echo clocal` when the port is opened (no
//! libc/termios dependency). If `stty` is missing or fails (not a tty, USB CDC-ACM receivers that
//! ignore it) a warning is logged and the port is read as it is, so the systemd unit may equally set
//! it with `ExecStartPre=stty -F /dev/ttyACM0 9600 raw -echo clocal`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use thiserror::Error;
use time::OffsetDateTime;
use tokio::net::TcpStream;

use super::assembler::{AssemblerOptions, EpochOutcome, FixAssembler};
use super::config::{GnssConfig, GnssSourceConfig, Pace};
use super::lines::{Framed, LineFramer};
use super::state::GnssHandle;

/// The command gpsd needs before it streams NMEA.
pub const GPSD_WATCH: &[u8] = b"?WATCH={\"enable\":true,\"nmea\":true};\n";

/// Lines longer than this (bytes, before the newline) are dropped by the line reader.
pub const MAX_LINE_BYTES: usize = 256;

/// Timings of reconnects; public so tests can shorten them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    /// A connection that delivers nothing for this long is considered dead and reopened (half-open
    /// TCP connections, a gpsd whose device vanished).
    pub idle_timeout: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

impl Backoff {
    fn next(&self, current: Duration) -> Duration {
        (current * 2).min(self.max)
    }
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("a replay source is not a live source; load it with FixTrack::from_path")]
    NotLive,
    #[error("the TCP GNSS source must be started inside a tokio runtime")]
    NoRuntime,
    #[error("could not start the GNSS source thread: {0}")]
    Spawn(#[from] std::io::Error),
}

/// A running source. Dropping it does not stop it; call [`GnssSourceTask::stop`].
#[derive(Debug)]
pub struct GnssSourceTask {
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl GnssSourceTask {
    /// Asks the source to stop. The TCP task is aborted at once; a reader thread stops after its
    /// current read returns (a silent tty may block it until the next byte or process exit).
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = &self.task {
            t.abort();
        }
    }

    pub fn is_finished(&self) -> bool {
        match (&self.task, &self.thread) {
            (Some(t), _) => t.is_finished(),
            (_, Some(t)) => t.is_finished(),
            _ => true,
        }
    }
}

/// Starts the source described by `config`, feeding `handle`. Must be called inside a tokio
/// runtime (the TCP source is a tokio task).
pub fn spawn_source(config: &GnssConfig, handle: GnssHandle) -> Result<GnssSourceTask, SourceError> {
    spawn_source_with(config, handle, Backoff::default())
}

/// [`spawn_source`] with explicit reconnect timings.
pub fn spawn_source_with(
    config: &GnssConfig,
    handle: GnssHandle,
    backoff: Backoff,
) -> Result<GnssSourceTask, SourceError> {
    let stop = Arc::new(AtomicBool::new(false));
    let opts = config.assembler_options();
    let mut task = GnssSourceTask { stop: stop.clone(), task: None, thread: None };
    match &config.source {
        GnssSourceConfig::Serial { path, baud } => {
            let (path, baud) = (path.clone(), *baud);
            let t = std::thread::Builder::new()
                .name("gnss-serial".into())
                .spawn(move || run_serial(&path, baud, opts, handle, stop, backoff))?;
            task.thread = Some(t);
        }
        GnssSourceConfig::Tcp { address, gpsd } => {
            let (address, gpsd) = (address.clone(), *gpsd);
            let rt = tokio::runtime::Handle::try_current().map_err(|_| SourceError::NoRuntime)?;
            task.task = Some(rt.spawn(run_tcp(address, gpsd, opts, handle, stop, backoff)));
        }
        GnssSourceConfig::File { path, pace, looped } => {
            let (path, pace, looped) = (path.clone(), *pace, *looped);
            let t = std::thread::Builder::new()
                .name("gnss-file".into())
                .spawn(move || run_file(&path, pace, looped, opts, handle, stop))?;
            task.thread = Some(t);
        }
        GnssSourceConfig::Replay { .. } => return Err(SourceError::NotLive),
    }
    Ok(task)
}

/// Line framing + assembly + publishing, shared by all sources.
struct Pump {
    framer: LineFramer,
    asm: FixAssembler,
    handle: GnssHandle,
}

impl Pump {
    fn new(opts: AssemblerOptions, handle: GnssHandle) -> Self {
        Self { framer: LineFramer::new(MAX_LINE_BYTES), asm: FixAssembler::new(opts), handle }
    }

    /// Frames and assembles a chunk; returns the outcomes without publishing them.
    fn feed(&mut self, chunk: &[u8]) -> Vec<EpochOutcome> {
        let mut out = Vec::new();
        let mut lines = 0usize;
        let asm = &mut self.asm;
        self.framer.push(chunk, |f| {
            lines += 1;
            match f {
                Framed::Line(l) => out.extend(asm.push_bytes(l)),
                Framed::Oversized => asm.note_oversized(),
            }
        });
        if lines > 0 {
            self.handle.note_line(SystemTime::now(), self.asm.counters());
        }
        out
    }

    fn finish(&mut self) -> Vec<EpochOutcome> {
        let mut out = Vec::new();
        let asm = &mut self.asm;
        self.framer.finish(|f| {
            if let Framed::Line(l) = f {
                out.extend(asm.push_bytes(l));
            }
        });
        out.extend(self.asm.flush());
        self.handle.note_line(SystemTime::now(), self.asm.counters());
        out
    }

    fn publish_all(&self, outcomes: Vec<EpochOutcome>) {
        for o in outcomes {
            self.handle.publish(o, SystemTime::now());
        }
    }
}

/// Sleeps up to `d` in short slices so a stop request is honoured quickly; false when stopped.
fn sleep_unless_stopped(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= end {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(100)));
    }
}

fn configure_baud(path: &Path, baud: u32) {
    let result = std::process::Command::new("stty")
        .arg("-F")
        .arg(path)
        // clocal: ignore modem control lines, or opening the port can block waiting for carrier.
        .args([baud.to_string().as_str(), "raw", "-echo", "clocal"])
        .output();
    match result {
        Ok(o) if o.status.success() => tracing::debug!(path = %path.display(), baud, "serial port configured"),
        Ok(o) => tracing::warn!(
            path = %path.display(), baud,
            stderr = %String::from_utf8_lossy(&o.stderr).trim(),
            "stty failed; reading the port with its current settings"
        ),
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "stty not available; reading the port as is"),
    }
}

fn run_serial(
    path: &Path,
    baud: u32,
    opts: AssemblerOptions,
    handle: GnssHandle,
    stop: Arc<AtomicBool>,
    backoff: Backoff,
) {
    let name = opts.source.clone();
    let mut pump = Pump::new(opts, handle.clone());
    let mut delay = backoff.initial;
    let mut buf = [0u8; 1024];
    while !stop.load(Ordering::Relaxed) {
        configure_baud(path, baud);
        match std::fs::File::open(path) {
            Ok(mut file) => {
                tracing::info!(path = %path.display(), "GNSS serial port open");
                handle.set_connected(true, &name);
                pump.framer.reset();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            delay = backoff.initial;
                            let out = pump.feed(&buf[..n]);
                            pump.publish_all(out);
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            tracing::warn!(path = %path.display(), error = %e, "GNSS serial read failed");
                            break;
                        }
                    }
                }
                handle.set_connected(false, &name);
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot open GNSS serial port"),
        }
        if !sleep_unless_stopped(delay, &stop) {
            break;
        }
        delay = backoff.next(delay);
    }
    handle.set_connected(false, &name);
}

async fn run_tcp(
    address: String,
    gpsd: bool,
    opts: AssemblerOptions,
    handle: GnssHandle,
    stop: Arc<AtomicBool>,
    backoff: Backoff,
) {
    let name = opts.source.clone();
    let mut pump = Pump::new(opts, handle.clone());
    let mut delay = backoff.initial;
    let mut failures: u32 = 0;
    while !stop.load(Ordering::Relaxed) {
        let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(address.as_str())).await;
        match connect {
            Ok(Ok(stream)) => {
                failures = 0;
                tracing::info!(%address, gpsd, "GNSS TCP source connected");
                handle.set_connected(true, &name);
                pump.framer.reset();
                match serve_tcp(&stream, gpsd, &mut pump, &stop, backoff.idle_timeout).await {
                    Ok(true) => delay = backoff.initial,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(%address, error = %e, "GNSS TCP connection lost"),
                }
                handle.set_connected(false, &name);
            }
            Ok(Err(e)) => {
                failures += 1;
                // The first failure is worth a warning, the hundredth is not.
                if failures == 1 {
                    tracing::warn!(%address, error = %e, "cannot connect to GNSS TCP source; retrying");
                } else {
                    tracing::debug!(%address, error = %e, failures, "GNSS TCP connect failed");
                }
            }
            Err(_) => tracing::warn!(%address, "GNSS TCP connect timed out"),
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::time::sleep(delay).await;
        delay = backoff.next(delay);
    }
    handle.set_connected(false, &name);
}

/// Reads one connection until EOF, error, idle timeout or stop. `Ok(true)` when it delivered data
/// (so the backoff restarts from its initial delay).
async fn serve_tcp(
    stream: &TcpStream,
    gpsd: bool,
    pump: &mut Pump,
    stop: &AtomicBool,
    idle: Duration,
) -> std::io::Result<bool> {
    if gpsd {
        let mut sent = 0;
        while sent < GPSD_WATCH.len() {
            stream.writable().await?;
            match stream.try_write(&GPSD_WATCH[sent..]) {
                Ok(n) => sent += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
    }
    let mut got_data = false;
    let mut buf = vec![0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        match tokio::time::timeout(idle, stream.readable()).await {
            Err(_) => {
                tracing::warn!(idle_s = idle.as_secs(), "GNSS TCP source idle; reconnecting");
                return Ok(got_data);
            }
            Ok(r) => r?,
        }
        match stream.try_read(&mut buf) {
            Ok(0) => return Ok(got_data),
            Ok(n) => {
                got_data = true;
                let out = pump.feed(&buf[..n]);
                pump.publish_all(out);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got_data)
}

/// Paces file playback by the epochs' UTC times.
struct Pacer {
    base: Option<(OffsetDateTime, Instant)>,
}

impl Pacer {
    /// Waits until `utc` is due; a jump backwards or of more than a minute (log splice, loop)
    /// restarts the clock instead of waiting. False when stopped.
    fn wait(&mut self, utc: OffsetDateTime, stop: &AtomicBool) -> bool {
        let Some((u0, i0)) = self.base else {
            self.base = Some((utc, Instant::now()));
            return true;
        };
        let ahead = utc - u0;
        let elapsed = i0.elapsed();
        match Duration::try_from(ahead) {
            Ok(d) if d <= elapsed + Duration::from_secs(60) => sleep_unless_stopped(d.saturating_sub(elapsed), stop),
            _ => {
                self.base = Some((utc, Instant::now()));
                true
            }
        }
    }
}

fn run_file(
    path: &PathBuf,
    pace: Pace,
    looped: bool,
    opts: AssemblerOptions,
    handle: GnssHandle,
    stop: Arc<AtomicBool>,
) {
    let name = opts.source.clone();
    let mut buf = [0u8; 4096];
    'passes: while !stop.load(Ordering::Relaxed) {
        let mut file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot open GNSS log");
                break;
            }
        };
        handle.set_connected(true, &name);
        // A fresh assembler per pass: the log's times restart and must not be taken as a rollover.
        let mut pump = Pump::new(opts.clone(), handle.clone());
        let mut pacer = Pacer { base: None };
        let emit = |pump: &Pump, out: Vec<EpochOutcome>, pacer: &mut Pacer| -> bool {
            for o in out {
                // (A match rather than nested ifs: the crate is edition 2021, without let chains.)
                let on_time = match (pace, o.utc) {
                    (Pace::Realtime, Some(utc)) => pacer.wait(utc, &stop),
                    _ => true,
                };
                if !on_time {
                    return false;
                }
                pump.handle.publish(o, SystemTime::now());
            }
            true
        };
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let out = pump.feed(&buf[..n]);
                    if !emit(&pump, out, &mut pacer) {
                        break 'passes;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "GNSS log read failed");
                    break;
                }
            }
        }
        let out = pump.finish();
        // The pause between passes also keeps a log without usable times from spinning a core.
        if !emit(&pump, out, &mut pacer) || !looped || !sleep_unless_stopped(Duration::from_secs(1), &stop) {
            break;
        }
    }
    handle.set_connected(false, &name);
}
