//! The MQTT sink: publishes outbox records at QoS 1, deletes them on PUBACK (over MQTT 5, only on a PUBACK
//! that does not refuse them), keeps a retained device status with a last will.

pub mod config;
pub mod link;
pub mod publisher;
pub mod tls;

use std::sync::atomic::{AtomicBool, AtomicU64};

pub use config::MqttConfig;
pub use publisher::Sink;

/// Link state shared with `/api/status`.
#[derive(Debug, Default)]
pub struct MqttStatus {
    pub connected: AtomicBool,
    pub published: AtomicU64,
    pub acked: AtomicU64,
    /// Publications the broker refused (MQTT 5 PUBACK reason); their records stay in the outbox.
    pub refused: AtomicU64,
    pub queued: AtomicU64,
    pub last_error: parking_lot::Mutex<Option<String>>,
}
