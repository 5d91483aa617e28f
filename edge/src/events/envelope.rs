//! The envelope every event carries: schema version, device id, per-device monotonic sequence number,
//! a unique id (UUIDv7, time-ordered) and the observation time.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::seq::SeqAllocator;
use super::summary::SceneSummary;

/// Version of the event schema; consumers switch on it. Bumped on any incompatible change.
pub const SCHEMA_VERSION: &str = "kaiteki.event.v1";

/// The event kinds and their topic names (`kaiteki/v1/{device}/events/{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SceneSummary,
}

impl EventKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::SceneSummary => "scene_summary",
        }
    }

    /// Delivery class in the outbox: safety-relevant events drain first, routine summaries last.
    pub fn priority(&self) -> crate::outbox::Priority {
        match self {
            EventKind::SceneSummary => crate::outbox::Priority::Low,
        }
    }
}

/// The payload of an event, one variant per kind.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventBody {
    SceneSummary(SceneSummary),
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::SceneSummary(_) => EventKind::SceneSummary,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Envelope {
    pub schema: &'static str,
    pub kind: EventKind,
    pub id: Uuid,
    pub seq: u64,
    pub device_id: Arc<str>,
    #[serde(with = "time::serde::rfc3339")]
    pub observed_at: OffsetDateTime,
    pub data: EventBody,
}

impl Envelope {
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data structures cannot fail; an empty payload would be refused downstream.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Wraps bodies into envelopes (assigning sequence numbers and ids) and hands them to the publisher.
#[derive(Clone)]
pub struct Emitter {
    device_id: Arc<str>,
    seq: Arc<SeqAllocator>,
    tx: tokio::sync::mpsc::UnboundedSender<Envelope>,
}

impl Emitter {
    pub fn new(device_id: Arc<str>, seq: Arc<SeqAllocator>, tx: tokio::sync::mpsc::UnboundedSender<Envelope>) -> Self {
        Self { device_id, seq, tx }
    }

    pub fn envelope(&self, observed_at: SystemTime, data: EventBody) -> Envelope {
        Envelope {
            schema: SCHEMA_VERSION,
            kind: data.kind(),
            id: Uuid::now_v7(),
            seq: self.seq.next(),
            device_id: self.device_id.clone(),
            observed_at: OffsetDateTime::from(observed_at),
            data,
        }
    }

    /// Queues an event for publication. Never blocks: the video pipeline must not wait on the network.
    pub fn emit(&self, observed_at: SystemTime, data: EventBody) {
        let env = self.envelope(observed_at, data);
        if self.tx.send(env).is_err() {
            tracing::warn!("event dropped: publisher is gone (shutting down)");
        }
    }
}
