//! Health of the appliance: Prometheus metrics and the systemd notify/watchdog protocol.

pub mod logbuf;
pub mod metrics;
pub mod notify;

pub use metrics::Metrics;
