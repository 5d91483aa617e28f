//! Per-camera analytics on top of tracking: ground tracks, near-miss detection, crowd levels, road damage.

pub mod config;
pub mod crowd;
mod facade;
pub mod ground_track;
pub mod near_miss;
pub mod road_damage;
pub mod road_user;

#[cfg(test)]
mod tests;

pub use config::AnalyticsConfig;
pub use crowd::{CrowdAggregate, CrowdConfig, CrowdNow, LevelChange};
pub use facade::{AnalyticsError, AnalyticsOutput, SceneAnalytics};
pub use ground_track::{GroundKinematics, GroundTrack};
pub use near_miss::{Conflict, NearMissAggregate, NearMissConfig};
pub use road_user::{Footprint, RoadUserKind};
