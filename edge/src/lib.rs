//! Kaiteki Edge: the daemon of a privacy-first smart-city video analytics appliance.
//!
//! Data flows one way: `source` (GStreamer cameras) -> `infer` (ONNX detectors) -> `runtime` (gating,
//! per-camera analytics) -> `events` (typed, versioned) -> `mqtt` / `http`. `config` gathers the
//! settings of every stage; `health` exports metrics.

pub mod analytics;
pub mod config;
pub mod dashboard;
pub mod eval;
pub mod events;
pub mod gnss;
pub mod ground;
pub mod health;
pub mod http;
pub mod infer;
pub mod mqtt;
pub mod ngsi;
pub mod outbox;
pub mod privacy;
pub mod roughness;
pub mod runtime;
pub mod source;
pub mod track;
pub mod update;
