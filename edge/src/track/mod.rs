//! Multi-object tracking of detections across frames (ByteTrack-class, no appearance features).

mod associate;
mod config;
mod hungarian;
mod id;
pub(crate) mod kalman;
mod tracker;

#[cfg(test)]
mod tests;

pub use config::TrackerConfig;
pub use hungarian::assign as hungarian_assign;
pub use id::{IdSpace, TrackId};
pub use tracker::{Track, Tracker};
