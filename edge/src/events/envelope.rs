//! The envelope every event carries: schema version, device id, per-device monotonic sequence number,
//! a unique id (UUIDv7, time-ordered) and the observation time.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use super::summary::SceneSummary;

/// Version of the event schema; consumers switch on it. Bumped on any incompatible change.
pub const SCHEMA_VERSION: &str = "kaiteki.event.v1";

/// The event kinds and their topic names (`kaiteki/v1/{device}/events/{kind}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    SceneSummary,
    NearMiss,
    NearMissHourly,
    CrowdLevel,
    CrowdMinute,
    /// A crew's mark on a road-damage record (verified, false positive, repaired), from the dashboard.
    DamageMark,
    /// A road-damage record created, observed again, or judged possibly repaired.
    RoadDamage,
    /// Ride roughness (IRI estimate) of one road segment, from the accelerometer.
    Roughness,
    /// A sharp vertical jolt felt by the vehicle (pothole, broken joint).
    RoadImpact,
    /// The device's own state: cameras, models, outbox, machine (periodic, and on changes).
    Health,
    /// A model slot's model: loaded at start, and every step of a model update.
    ModelStatus,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 11] = [
        EventKind::SceneSummary,
        EventKind::NearMiss,
        EventKind::NearMissHourly,
        EventKind::CrowdLevel,
        EventKind::CrowdMinute,
        EventKind::DamageMark,
        EventKind::RoadDamage,
        EventKind::Roughness,
        EventKind::RoadImpact,
        EventKind::Health,
        EventKind::ModelStatus,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EventKind::SceneSummary => "scene_summary",
            EventKind::NearMiss => "near_miss",
            EventKind::NearMissHourly => "near_miss_hourly",
            EventKind::CrowdLevel => "crowd_level",
            EventKind::CrowdMinute => "crowd_minute",
            EventKind::DamageMark => "damage_mark",
            EventKind::RoadDamage => "road_damage",
            EventKind::Roughness => "roughness",
            EventKind::RoadImpact => "road_impact",
            EventKind::Health => "health",
            EventKind::ModelStatus => "model_status",
        }
    }

    /// Delivery class in the outbox: safety-relevant events drain first, routine summaries last.
    pub fn priority(&self) -> crate::outbox::Priority {
        use crate::outbox::Priority;
        match self {
            EventKind::NearMiss | EventKind::RoadDamage => Priority::High,
            EventKind::CrowdLevel
            | EventKind::CrowdMinute
            | EventKind::NearMissHourly
            | EventKind::DamageMark
            | EventKind::Roughness
            | EventKind::RoadImpact
            | EventKind::ModelStatus => Priority::Normal,
            // Routine, and the next report supersedes it: the first to go when the outbox is full.
            EventKind::SceneSummary | EventKind::Health => Priority::Low,
        }
    }
}

/// The payload of an event, one variant per kind.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum EventBody {
    SceneSummary(SceneSummary),
    /// One conflict between two road users (closed encounter).
    NearMiss(Scoped<crate::analytics::Conflict>),
    /// Per-site hourly conflict counts and risk index.
    NearMissHourly(Scoped<crate::analytics::NearMissAggregate>),
    /// A zone entered or left a crowding level.
    CrowdLevel(Scoped<crate::analytics::LevelChange>),
    /// One-minute crowd aggregate of a zone (FIWARE CrowdFlowObserved-shaped).
    CrowdMinute(Scoped<crate::analytics::CrowdAggregate>),
    DamageMark(crate::dashboard::DamageMark),
    /// A road-damage record after a change, with the observation that caused it.
    RoadDamage(crate::analytics::road_damage::RoadDamageEvent),
    Roughness(crate::runtime::roughness::RoughnessReport),
    RoadImpact(crate::runtime::roughness::ImpactReport),
    Health(crate::health::report::HealthReport),
    ModelStatus(crate::update::event::ModelStatusReport),
}

impl EventBody {
    pub fn kind(&self) -> EventKind {
        match self {
            EventBody::SceneSummary(_) => EventKind::SceneSummary,
            EventBody::NearMiss(_) => EventKind::NearMiss,
            EventBody::NearMissHourly(_) => EventKind::NearMissHourly,
            EventBody::CrowdLevel(_) => EventKind::CrowdLevel,
            EventBody::CrowdMinute(_) => EventKind::CrowdMinute,
            EventBody::DamageMark(_) => EventKind::DamageMark,
            EventBody::RoadDamage(_) => EventKind::RoadDamage,
            EventBody::Roughness(_) => EventKind::Roughness,
            EventBody::RoadImpact(_) => EventKind::RoadImpact,
            EventBody::Health(_) => EventKind::Health,
            EventBody::ModelStatus(_) => EventKind::ModelStatus,
        }
    }
}

/// An analytics result of one camera: the camera id beside the result's own fields.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[schemars(deny_unknown_fields, rename = "Camera{T}")]
pub struct Scoped<T> {
    /// The camera id (its key under `[cameras]` in the config).
    pub camera: String,
    #[serde(flatten)]
    pub inner: T,
}

impl<T> Scoped<T> {
    pub fn new(camera: &str, inner: T) -> Self {
        Self { camera: camera.to_string(), inner }
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

/// An event before the outbox writer numbered it: everything of its [`Envelope`] except `seq`.
///
/// Numbers are assigned in storage order by the one writer ([`Draft::numbered`]), not by the many
/// producers, so that the numbers that reach the disk have no holes (see [`super::seq`]).
#[derive(Debug, Clone)]
pub struct Draft {
    id: Uuid,
    device_id: Arc<str>,
    observed_at: OffsetDateTime,
    data: EventBody,
}

impl Draft {
    pub fn kind(&self) -> EventKind {
        self.data.kind()
    }

    pub fn numbered(self, seq: u64) -> Envelope {
        Envelope {
            schema: SCHEMA_VERSION,
            kind: self.data.kind(),
            id: self.id,
            seq,
            device_id: self.device_id,
            observed_at: self.observed_at,
            data: self.data,
        }
    }
}

/// Wraps bodies into drafts (with ids) and hands them to the outbox writer, which numbers them.
#[derive(Clone)]
pub struct Emitter {
    device_id: Arc<str>,
    tx: tokio::sync::mpsc::UnboundedSender<Draft>,
}

impl Emitter {
    pub fn new(device_id: Arc<str>, tx: tokio::sync::mpsc::UnboundedSender<Draft>) -> Self {
        Self { device_id, tx }
    }

    pub fn draft(&self, observed_at: SystemTime, data: EventBody) -> Draft {
        Draft { id: Uuid::now_v7(), device_id: self.device_id.clone(), observed_at: OffsetDateTime::from(observed_at), data }
    }

    /// Queues an event for the outbox. Never blocks: the video pipeline must not wait on the disk or
    /// the network.
    pub fn emit(&self, observed_at: SystemTime, data: EventBody) {
        if self.tx.send(self.draft(observed_at, data)).is_err() {
            tracing::warn!("event dropped: the outbox writer is gone (shutting down)");
        }
    }
}
