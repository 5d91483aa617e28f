//! GNSS geotagging: every road-damage event carries where, when, which way, how fast, and how sure.
//!
//! Pipeline: a source ([`source`]: serial tty, TCP/gpsd, or a log file) reads bytes, [`lines`]
//! frames them with a bounded buffer, [`nmea`] parses each line (checksum first), [`assembler`]
//! merges one receiver epoch's GGA/RMC/VTG/GSA/GST into a [`GnssFix`], and [`state`]'s
//! [`GnssHandle`] holds the latest one for whoever makes an event. Recorded drives use
//! [`replay::FixTrack`] instead, indexed by the video's timeline.
//!
//! Design rules, and why:
//!
//! - **No fix means no position, and says why.** [`GnssHandle::current`] returns
//!   `Result<GnssFix, NoFix>`. A stale position is worse than none: a bus moves ~14 m/s, so a fix a
//!   few seconds old puts the pothole in the wrong street, and a consumer cannot tell it is wrong.
//!   Fixes older than `max_age` (default 2 s, measured from when the fix was *received*) are
//!   [`NoFix::Stale`]; the receiver's "no fix" (GGA quality 0, RMC status `V`, mode `N`, GSA fix
//!   type 1) is [`NoFix::NoFix`]; no receiver / no data are their own reasons, so the dashboard can
//!   tell a cable fault from an antenna in a tunnel.
//! - **Heading is dropped at low speed.** Course over ground is computed from motion; below
//!   `min_heading_speed_mps` (default 0.5 m/s) it is noise that swings through the compass while
//!   the bus stands at a stop, so `heading_deg` is `None` there rather than a confident wrong value.
//! - **Uncertainty model.** `uncertainty_m` is a horizontal ~1-sigma radius: the receiver's own
//!   estimate from GST (`sqrt(lat_sigma² + lon_sigma²)`) when it sends one (it knows about
//!   multipath and corrections); otherwise `HDOP × UERE` with a configurable user-equivalent range
//!   error (default 4 m, typical for a single-frequency receiver in open sky, optimistic in urban
//!   canyons); otherwise a pessimistic constant per fix quality. `uncertainty_source` tells which.
//!   Enable GST on receivers that support it (u-blox: CFG-MSGOUT-NMEA_ID_GST; Quectel: PQTMCFGMSG).
//! - **Hostile input is normal.** Wrong baud rates, binary protocols, half lines after a reconnect
//!   and flipped bits all happen on buses. Parsing never panics, lines are length-bounded, and every
//!   rejected line is counted ([`Counters`]) instead of stopping the source.

pub mod assembler;
pub mod config;
pub mod fix;
pub mod lines;
pub mod nmea;
pub mod replay;
mod rfc3339;
pub mod source;
pub mod state;

#[cfg(test)]
mod tests;

pub use assembler::{AssemblerOptions, Counters, EpochOutcome, FixAssembler};
pub use config::{GnssConfig, GnssSourceConfig, Pace};
pub use fix::{FixQuality, GnssFix, ModeIndicator, NoFix, UncertaintyModel, UncertaintySource};
pub use nmea::{parse, Nmea, NmeaError, ParseOptions, Sentence};
pub use replay::{FixTrack, ReplayError, TrackOptions};
pub use source::{spawn_source, spawn_source_with, Backoff, GnssSourceTask, SourceError};
pub use state::{GnssHandle, GnssState, GnssStatus};

/// A handle sized by the config's `max_age_ms`.
pub fn handle_for(config: &GnssConfig) -> GnssHandle {
    GnssHandle::new(config.max_age())
}
