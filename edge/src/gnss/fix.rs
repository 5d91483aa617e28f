//! What a geotag is made of: a [`GnssFix`], or the [`NoFix`] reason why there is none.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Knots to metres per second (1852 m / 3600 s).
pub const KNOTS_TO_MPS: f64 = 1852.0 / 3600.0;

/// Below this speed the course over ground is dropped by default: it is derived from successive
/// positions/Doppler, and when the vehicle stands still it is noise that spins around the compass.
pub const DEFAULT_MIN_HEADING_SPEED_MPS: f64 = 0.5;

/// Default user-equivalent range error (1 sigma, metres) multiplied by HDOP when the receiver
/// does not report its own error estimate (GST). 4 m is a typical figure for a single-frequency
/// consumer receiver in open sky; in urban canyons the real error is often larger, which is why
/// receivers that can emit GST should have it enabled.
pub const DEFAULT_UERE_M: f64 = 4.0;

/// Fix quality, following the GGA quality field (0-8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FixQuality {
    /// 0: no fix.
    Invalid,
    /// 1: autonomous GNSS.
    Gps,
    /// 2: differential (SBAS or DGPS corrections).
    Dgps,
    /// 3: PPS / precise (military) fix.
    Pps,
    /// 4: RTK with integer ambiguities fixed (centimetre level).
    RtkFixed,
    /// 5: RTK float (decimetre level).
    RtkFloat,
    /// 6: dead reckoning: the receiver extrapolates without satellites.
    Estimated,
    /// 7: position entered by hand.
    Manual,
    /// 8: simulator output.
    Simulation,
}

impl FixQuality {
    /// From the GGA quality digit; `None` for values outside 0-8.
    pub fn from_gga(q: u8) -> Option<Self> {
        Some(match q {
            0 => Self::Invalid,
            1 => Self::Gps,
            2 => Self::Dgps,
            3 => Self::Pps,
            4 => Self::RtkFixed,
            5 => Self::RtkFloat,
            6 => Self::Estimated,
            7 => Self::Manual,
            8 => Self::Simulation,
            _ => return None,
        })
    }

    /// Whether this quality carries a position at all.
    pub fn is_fix(self) -> bool {
        self != Self::Invalid
    }

    /// Horizontal 1-sigma guess when neither GST nor HDOP is known. Deliberately pessimistic: an
    /// uncertainty that is too small makes a damage report point at the wrong lane or house.
    pub fn default_uncertainty_m(self) -> f64 {
        match self {
            Self::RtkFixed => 0.5,
            Self::RtkFloat => 2.0,
            Self::Dgps => 5.0,
            Self::Gps | Self::Pps | Self::Simulation | Self::Invalid => 15.0,
            Self::Estimated => 50.0,
            Self::Manual => 100.0,
        }
    }
}

impl fmt::Display for FixQuality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::Invalid => "invalid",
            Self::Gps => "gps",
            Self::Dgps => "dgps",
            Self::Pps => "pps",
            Self::RtkFixed => "rtk_fixed",
            Self::RtkFloat => "rtk_float",
            Self::Estimated => "estimated",
            Self::Manual => "manual",
            Self::Simulation => "simulation",
        };
        f.write_str(s)
    }
}

/// NMEA 2.3+ positioning mode indicator (RMC, VTG, GLL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModeIndicator {
    Autonomous,
    Differential,
    Estimated,
    RtkFloat,
    Manual,
    NotValid,
    Precise,
    RtkFixed,
    Simulator,
}

impl ModeIndicator {
    /// From the single-letter field.
    pub fn from_nmea(s: &str) -> Option<Self> {
        Some(match s {
            "A" => Self::Autonomous,
            "D" => Self::Differential,
            "E" => Self::Estimated,
            "F" => Self::RtkFloat,
            "M" => Self::Manual,
            "N" => Self::NotValid,
            "P" => Self::Precise,
            "R" => Self::RtkFixed,
            "S" => Self::Simulator,
            _ => return None,
        })
    }

    /// The equivalent GGA quality, for receivers that only send RMC.
    pub fn quality(self) -> FixQuality {
        match self {
            Self::Autonomous => FixQuality::Gps,
            Self::Differential => FixQuality::Dgps,
            Self::Estimated => FixQuality::Estimated,
            Self::RtkFloat => FixQuality::RtkFloat,
            Self::Manual => FixQuality::Manual,
            Self::NotValid => FixQuality::Invalid,
            Self::Precise => FixQuality::Pps,
            Self::RtkFixed => FixQuality::RtkFixed,
            Self::Simulator => FixQuality::Simulation,
        }
    }
}

/// Where a fix's `uncertainty_m` came from, so a consumer can tell a measured error from a guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UncertaintySource {
    /// The receiver's own error estimate (GST lat/lon sigma).
    Gst,
    /// HDOP x configured UERE.
    Hdop,
    /// A fixed pessimistic value per fix quality.
    QualityDefault,
}

/// How horizontal uncertainty is estimated; see [`horizontal_uncertainty`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UncertaintyModel {
    /// User-equivalent range error in metres (1 sigma), multiplied by HDOP.
    pub uere_m: f64,
}

impl Default for UncertaintyModel {
    fn default() -> Self {
        Self { uere_m: DEFAULT_UERE_M }
    }
}

/// Horizontal 1-sigma-ish uncertainty in metres, best source first: GST's
/// `sqrt(lat_sigma² + lon_sigma²)` (the receiver knows its multipath and corrections), else
/// `HDOP × UERE` (geometry times a typical ranging error), else a pessimistic default by quality.
pub fn horizontal_uncertainty(
    model: &UncertaintyModel,
    quality: FixQuality,
    gst_sigmas: Option<(f64, f64)>,
    hdop: Option<f64>,
) -> (f64, UncertaintySource) {
    if let Some((la, lo)) = gst_sigmas {
        let u = la.hypot(lo);
        if u.is_finite() && u > 0.0 {
            return (u, UncertaintySource::Gst);
        }
    }
    if let Some(h) = hdop {
        let u = h * model.uere_m;
        // HDOP 99.99 is what receivers print when they have no geometry at all.
        if u.is_finite() && u > 0.0 && h < 99.0 {
            return (u, UncertaintySource::Hdop);
        }
    }
    (quality.default_uncertainty_m(), UncertaintySource::QualityDefault)
}

/// One position fix, everything a geotagged event needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct GnssFix {
    /// UTC time of the fix (the receiver's epoch, not the time it was read), RFC 3339.
    #[serde(with = "super::rfc3339")]
    #[schemars(with = "String")]
    pub utc: OffsetDateTime,
    /// Latitude, degrees WGS84, north positive.
    pub lat: f64,
    /// Longitude, degrees WGS84, east positive.
    pub lon: f64,
    /// Altitude above mean sea level, metres.
    pub altitude_m: Option<f64>,
    pub quality: FixQuality,
    /// Satellites used in the solution.
    pub satellites: Option<u8>,
    pub hdop: Option<f64>,
    /// Speed over ground, m/s.
    pub speed_mps: Option<f64>,
    /// Course over ground, degrees true [0, 360). `None` below the minimum heading speed (0.5 m/s
    /// by default): a standing bus's course is noise, and a wrong heading would place a damage
    /// report on the wrong side of the road.
    pub heading_deg: Option<f64>,
    /// Horizontal position uncertainty, metres (about 1 sigma).
    pub uncertainty_m: f64,
    pub uncertainty_source: UncertaintySource,
    /// Which receiver produced the fix (device path, address or file).
    pub source: String,
}

/// Why there is no position. Serialised as `{"reason": "stale", "age_ms": 3100}` etc.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum NoFix {
    /// No GNSS source is configured or it cannot be opened/connected.
    NoReceiver,
    /// The source is open but no usable sentence has arrived (recently).
    NoData,
    /// The receiver reports that it has no fix.
    NoFix { quality: FixQuality },
    /// The last fix is older than the allowed maximum age.
    Stale { age_ms: u64 },
    /// A position arrived but no UTC date is known yet (no RMC received).
    NoDate,
    /// The requested time is outside a recorded track.
    OutsideTrack { offset_ms: i64 },
    /// The requested time falls in a gap between recorded fixes wider than allowed.
    Gap { gap_ms: u64 },
    /// The receiver's data is inconsistent (e.g. "valid" without coordinates).
    Invalid { detail: String },
}

impl fmt::Display for NoFix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoReceiver => write!(f, "no GNSS receiver"),
            Self::NoData => write!(f, "GNSS receiver sends no data"),
            Self::NoFix { quality } => write!(f, "GNSS receiver has no fix (quality {quality})"),
            Self::Stale { age_ms } => write!(f, "last GNSS fix is stale ({age_ms} ms old)"),
            Self::NoDate => write!(f, "GNSS date not known yet (waiting for RMC)"),
            Self::OutsideTrack { offset_ms } => write!(f, "time {offset_ms} ms is outside the recorded GNSS track"),
            Self::Gap { gap_ms } => write!(f, "gap of {gap_ms} ms in the recorded GNSS track"),
            Self::Invalid { detail } => write!(f, "invalid GNSS data: {detail}"),
        }
    }
}

impl std::error::Error for NoFix {}
