//! Health of the appliance: Prometheus metrics, the systemd notify/watchdog protocol and the `health` event.

pub mod logbuf;
pub mod metrics;
pub mod notify;
pub mod report;

pub use metrics::Metrics;
