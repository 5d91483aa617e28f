//! Installer-facing GNSS settings.
//!
//! ```toml
//! [gnss]
//! source = { kind = "serial", path = "/dev/ttyACM0", baud = 9600 }
//! # source = { kind = "tcp", address = "127.0.0.1:2947", gpsd = true }
//! # source = { kind = "file", path = "drive.nmea", pace = "realtime", loop = false }
//! # source = { kind = "replay", path = "drive.nmea" }   # synced to a recorded video's timeline
//! max_age_ms = 2000
//! uere_m = 4.0
//! require_checksum = true
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::assembler::AssemblerOptions;
use super::fix::{UncertaintyModel, DEFAULT_MIN_HEADING_SPEED_MPS, DEFAULT_UERE_M};
use super::nmea::{ParseOptions, DEFAULT_MAX_LINE};

/// Baud rates a serial GNSS receiver can be set to (termios standard rates from 4800 up).
pub const STANDARD_BAUDS: &[u32] = &[4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600];

/// How a file source is played back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pace {
    /// Paced by the sentence times, as if the receiver were live (bench tests, demos).
    #[default]
    Realtime,
    /// As fast as it can be read (tests).
    Fast,
}

/// Where NMEA comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum GnssSourceConfig {
    /// A receiver on a serial/USB tty. The baud rate is applied with `stty` when the port is
    /// opened (see `source.rs`); USB CDC-ACM receivers ignore it.
    Serial {
        path: PathBuf,
        #[serde(default = "default_baud")]
        baud: u32,
    },
    /// A TCP NMEA stream: gpsd (sends `?WATCH` to ask for NMEA) or a raw NMEA-over-TCP server.
    Tcp {
        #[serde(default = "default_address")]
        address: String,
        #[serde(default = "yes")]
        gpsd: bool,
    },
    /// A recorded `.nmea` log played as if it were a live receiver.
    File {
        path: PathBuf,
        #[serde(default)]
        pace: Pace,
        #[serde(default, rename = "loop")]
        looped: bool,
    },
    /// A recorded log read whole and synced to a recorded video's timeline (offset 0 = first fix).
    Replay {
        path: PathBuf,
        /// Widest gap between two fixes that is still interpolated.
        #[serde(default = "default_max_gap_ms")]
        max_gap_ms: u64,
    },
}

/// GNSS settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GnssConfig {
    pub source: GnssSourceConfig,
    /// A fix older than this is never attached to an event (it is reported as stale).
    #[serde(default = "default_max_age_ms")]
    pub max_age_ms: u64,
    /// User-equivalent range error in metres; uncertainty = HDOP x UERE when the receiver sends no
    /// GST error estimate.
    #[serde(default = "default_uere")]
    pub uere_m: f64,
    /// Reject sentences without a `*hh` checksum.
    #[serde(default = "yes")]
    pub require_checksum: bool,
    /// Course over ground is dropped below this speed (it is noise when standing).
    #[serde(default = "default_min_heading_speed")]
    pub min_heading_speed_mps: f64,
}

fn default_baud() -> u32 {
    9600
}
fn default_address() -> String {
    "127.0.0.1:2947".to_string()
}
fn yes() -> bool {
    true
}
fn default_max_gap_ms() -> u64 {
    2000
}
fn default_max_age_ms() -> u64 {
    2000
}
fn default_uere() -> f64 {
    DEFAULT_UERE_M
}
fn default_min_heading_speed() -> f64 {
    DEFAULT_MIN_HEADING_SPEED_MPS
}

impl GnssConfig {
    /// A config with defaults for everything but the source.
    pub fn with_source(source: GnssSourceConfig) -> Self {
        Self {
            source,
            max_age_ms: default_max_age_ms(),
            uere_m: default_uere(),
            require_checksum: true,
            min_heading_speed_mps: default_min_heading_speed(),
        }
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_millis(self.max_age_ms)
    }

    /// A human-readable name of the source, used as `GnssFix::source`.
    pub fn source_name(&self) -> String {
        match &self.source {
            GnssSourceConfig::Serial { path, .. } => format!("serial:{}", path.display()),
            GnssSourceConfig::Tcp { address, gpsd: true } => format!("gpsd:{address}"),
            GnssSourceConfig::Tcp { address, gpsd: false } => format!("tcp:{address}"),
            GnssSourceConfig::File { path, .. } => format!("file:{}", path.display()),
            GnssSourceConfig::Replay { path, .. } => format!("replay:{}", path.display()),
        }
    }

    /// Parser/assembler settings derived from this config.
    pub fn assembler_options(&self) -> AssemblerOptions {
        AssemblerOptions {
            parse: ParseOptions { require_checksum: self.require_checksum, max_len: DEFAULT_MAX_LINE },
            uncertainty: UncertaintyModel { uere_m: self.uere_m },
            min_heading_speed_mps: self.min_heading_speed_mps,
            source: self.source_name(),
        }
    }

    /// Every problem, each prefixed with the field it is about; empty when the config is usable.
    pub fn validate(&self) -> Vec<String> {
        let mut errs = Vec::new();
        match &self.source {
            GnssSourceConfig::Serial { path, baud } => {
                check_exists(&mut errs, "gnss.source.path", path);
                if !STANDARD_BAUDS.contains(baud) {
                    errs.push(format!("gnss.source.baud: {baud} is not a standard rate ({STANDARD_BAUDS:?})"));
                }
            }
            GnssSourceConfig::Tcp { address, .. } => {
                if let Err(e) = check_address(address) {
                    errs.push(format!("gnss.source.address: {address:?} {e}"));
                }
            }
            GnssSourceConfig::File { path, .. } => check_file(&mut errs, "gnss.source.path", path),
            GnssSourceConfig::Replay { path, max_gap_ms } => {
                check_file(&mut errs, "gnss.source.path", path);
                if *max_gap_ms == 0 {
                    errs.push("gnss.source.max_gap_ms: must be greater than 0".to_string());
                }
            }
        }
        if self.max_age_ms == 0 {
            errs.push("gnss.max_age_ms: must be greater than 0 (0 would reject every fix)".to_string());
        } else if self.max_age_ms > 60_000 {
            errs.push(format!(
                "gnss.max_age_ms: {} ms is more than 60 s; a bus moves hundreds of metres in that time",
                self.max_age_ms
            ));
        }
        if !(self.uere_m.is_finite() && self.uere_m > 0.0 && self.uere_m <= 100.0) {
            errs.push(format!("gnss.uere_m: {} must be a number in (0, 100]", self.uere_m));
        }
        if !(self.min_heading_speed_mps.is_finite() && self.min_heading_speed_mps >= 0.0) {
            errs.push(format!("gnss.min_heading_speed_mps: {} must be >= 0", self.min_heading_speed_mps));
        }
        errs
    }
}

fn check_exists(errs: &mut Vec<String>, field: &str, path: &Path) {
    if !path.exists() {
        errs.push(format!("{field}: {} does not exist", path.display()));
    }
}

fn check_file(errs: &mut Vec<String>, field: &str, path: &Path) {
    if !path.exists() {
        errs.push(format!("{field}: {} does not exist", path.display()));
    } else if !path.is_file() {
        errs.push(format!("{field}: {} is not a file", path.display()));
    }
}

/// `host:port` or `[v6]:port`, port 1-65535, no DNS lookup (the name may not resolve until the
/// network is up).
fn check_address(address: &str) -> Result<(), &'static str> {
    if address.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let (host, port) = address.rsplit_once(':').ok_or("is not host:port")?;
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err("has no valid port (1-65535)"),
    }
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if host_ok {
        Ok(())
    } else {
        Err("has an invalid host name")
    }
}
