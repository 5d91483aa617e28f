//! Health of the appliance: Prometheus metrics (and, later, stall detection and the systemd watchdog).

pub mod logbuf;
pub mod metrics;

pub use metrics::Metrics;
