//! Crowd analytics: counts, density, Fruin level of service, alerts, flow, vehicle occupancy.

pub mod config;
pub mod engine;
pub mod level;
pub mod occupancy;

#[cfg(test)]
mod tests;

pub use config::{CrowdConfig, OccupancyConfig};
pub use engine::{CrowdAggregate, CrowdEngine, CrowdNow, LevelChange, LevelScale};
pub use level::{AlertLevel, Los};
pub use occupancy::{occupancy_status, OccupancyStatus};
