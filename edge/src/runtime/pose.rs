//! Where a camera is at a frame: the GNSS pose for the frame's capture time (live receivers) or its
//! stream time (a recorded drive's NMEA log replayed with its video).

use std::time::{Duration, SystemTime};

use crate::analytics::road_damage::{NoPosition, Pose};
use crate::gnss::{FixTrack, GnssFix, GnssHandle, NoFix};

pub enum PoseSource {
    /// No GNSS configured.
    None,
    /// A receiver (serial, gpsd, file) feeding a handle; the fix must be current at capture time.
    Live(GnssHandle),
    /// A recorded drive: the log's first fix is the video's first frame.
    Replay(FixTrack),
}

impl PoseSource {
    /// The pose for a frame, or why there is none. Never an old fix passed off as current.
    pub fn pose(&self, pts: Duration, captured_at: SystemTime) -> Result<Pose, NoPosition> {
        let fix = match self {
            PoseSource::None => return Err(NoPosition::NoFix("no GNSS receiver configured".into())),
            PoseSource::Live(h) => h.current(captured_at),
            PoseSource::Replay(track) => track.at_offset(pts),
        };
        fix.map(|f| to_pose(&f)).map_err(|e: NoFix| NoPosition::NoFix(e.to_string()))
    }
}

fn to_pose(f: &GnssFix) -> Pose {
    Pose { lat: f.lat, lon: f.lon, heading_deg: f.heading_deg, speed_mps: f.speed_mps, uncertainty_m: f.uncertainty_m }
}
