//! Vehicle-interior passenger counts to GTFS-Realtime `VehiclePosition.OccupancyStatus`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::OccupancyConfig;
use crate::ground::VehicleCapacity;

/// GTFS-Realtime OccupancyStatus (gtfs-realtime.proto), serialised with the enum value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OccupancyStatus {
    Empty,
    ManySeatsAvailable,
    FewSeatsAvailable,
    StandingRoomOnly,
    CrushedStandingRoomOnly,
    Full,
    NotAcceptingPassengers,
}

pub fn occupancy_status(count: u32, cap: &VehicleCapacity, cfg: &OccupancyConfig) -> OccupancyStatus {
    let total = cap.seated.saturating_add(cap.standing);
    let c = count as f64;
    if let Some(f) = cfg.not_accepting_fraction {
        if total > 0 && c >= f * total as f64 {
            return OccupancyStatus::NotAcceptingPassengers;
        }
    }
    if count >= total {
        return if count == 0 { OccupancyStatus::Empty } else { OccupancyStatus::Full };
    }
    if count >= cap.seated {
        // All seats taken: standing only; crushed once standing space is mostly used.
        let standees = (count - cap.seated) as f64;
        return if cap.standing > 0 && standees / cap.standing as f64 >= cfg.crushed_standing_fraction {
            OccupancyStatus::CrushedStandingRoomOnly
        } else {
            OccupancyStatus::StandingRoomOnly
        };
    }
    let seated_share = c / cap.seated.max(1) as f64;
    if seated_share <= cfg.empty_max_fraction {
        OccupancyStatus::Empty
    } else if seated_share < cfg.many_seats_max_fraction {
        OccupancyStatus::ManySeatsAvailable
    } else {
        OccupancyStatus::FewSeatsAvailable
    }
}
