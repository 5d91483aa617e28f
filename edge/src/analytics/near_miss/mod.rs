//! Near-miss (traffic conflict) detection with surrogate safety measures: TTC, PET, DRAC.

pub mod aggregate;
pub mod config;
pub mod engine;
pub mod geometry;
pub mod measures;
pub mod pet;

#[cfg(test)]
mod tests;

pub use aggregate::{HourlyNearMiss, NearMissAggregate, TierCounts};
pub use config::{ConflictAngles, NearMissConfig, SeverityConfig};
pub use engine::{Conflict, ConflictParty, NearMissEngine};
pub use measures::{ConflictType, Severity};
