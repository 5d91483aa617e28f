//! The event schema v1 as JSON Schema (draft 2020-12): one document per kind describing the whole
//! envelope with that kind's `data`. The documents are committed under `schemas/events/` and written by
//! `kaiteki schema events --out-dir schemas/events`.
//!
//! The `data` schemas are derived (schemars, serialisation contract) from the very types the daemon
//! serialises, so they follow the code; a unit test keeps the committed files identical to this
//! generator, and the end-to-end tests validate every event they receive over MQTT against the files.
//! Schemas are strict where the serialisation is fixed: every field the daemon always writes is
//! required, enums are string enums and structs admit no other fields (`additionalProperties: false`).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::envelope::{EventKind, Scoped, SCHEMA_VERSION};

/// Where the documents say they live (`$id`): `<BASE_URL><kind>.schema.json`.
pub const BASE_URL: &str = "https://kaiteki.example/schemas/events/v1/";

/// The meta-schema the documents are written against.
pub const DRAFT_2020_12: &str = "https://json-schema.org/draft/2020-12/schema";

/// A UUIDv7 as `Uuid` serialises it (hyphenated, lowercase).
const UUID_V7_PATTERN: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$";

/// Schema stand-in for an `OffsetDateTime` serialised as RFC 3339 text:
/// `#[schemars(with = "crate::events::schema::DateTime")]`.
pub struct DateTime;

impl JsonSchema for DateTime {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "DateTime".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        schemars::json_schema!({ "type": "string", "format": "date-time" })
    }
}

/// `<kind>.schema.json`.
pub fn file_name(kind: EventKind) -> String {
    format!("{}.schema.json", kind.as_str())
}

/// The `$id` of a kind's document.
pub fn schema_id(kind: EventKind) -> String {
    format!("{BASE_URL}{}", file_name(kind))
}

/// What an event of this kind reports (the documents' descriptions).
fn about(kind: EventKind) -> &'static str {
    match kind {
        EventKind::SceneSummary => {
            "Per camera, every configured interval of stream time: objects in view by class (mean, min and max \
             over the frames analysed), frame counters and the model that saw them."
        }
        EventKind::NearMiss => {
            "One conflict between two road users (a closed encounter): type, severity, the surrogate safety \
             measures (TTC, PET, DRAC) and where it happened."
        }
        EventKind::NearMissHourly => {
            "Per camera and hour of stream time: conflicts by type and severity and by road-user pair, the road \
             users seen (exposure) and the risk index."
        }
        EventKind::CrowdLevel => {
            "A crowd zone entered a new level (Fruin level of service A-F or crowd-safety alert), confirmed \
             with hysteresis."
        }
        EventKind::CrowdMinute => {
            "One-minute aggregate of a crowd zone, shaped like FIWARE CrowdFlowObserved (camelCase fields)."
        }
        EventKind::DamageMark => {
            "A crew member's mark on a road-damage record (verified, false positive, repaired), made on the \
             dashboard."
        }
        EventKind::RoadDamage => {
            "A road-damage record after a change (created, observed again, possibly repaired, marked), with \
             the observation that caused it where there was one."
        }
        EventKind::Roughness => {
            "Ride roughness (IRI estimate) of one road segment from the accelerometer, with where the segment \
             starts and ends."
        }
        EventKind::RoadImpact => "A sharp vertical jolt felt by the vehicle (pothole, broken joint), and where.",
        EventKind::Health => {
            "The device's own state, every [health] report_interval_s and when a camera becomes unhealthy or \
             recovers: cameras, models, outbox, broker link and machine (load, memory, temperature)."
        }
        EventKind::ModelStatus => {
            "The model of one model slot: loaded at start, then each step of a model update (receiving, \
             verifying, staged, active, rolled back, rejected), once each."
        }
    }
}

/// The schema of a kind's `data`: the type `EventBody` holds for it.
fn data_schema(kind: EventKind, generator: &mut SchemaGenerator) -> Schema {
    use crate::analytics::{road_damage::RoadDamageEvent, Conflict, CrowdAggregate, LevelChange, NearMissAggregate};
    use crate::runtime::roughness::{ImpactReport, RoughnessReport};
    match kind {
        EventKind::SceneSummary => generator.subschema_for::<super::summary::SceneSummary>(),
        EventKind::NearMiss => generator.subschema_for::<Scoped<Conflict>>(),
        EventKind::NearMissHourly => generator.subschema_for::<Scoped<NearMissAggregate>>(),
        EventKind::CrowdLevel => generator.subschema_for::<Scoped<LevelChange>>(),
        EventKind::CrowdMinute => generator.subschema_for::<Scoped<CrowdAggregate>>(),
        EventKind::DamageMark => generator.subschema_for::<crate::dashboard::DamageMark>(),
        EventKind::RoadDamage => generator.subschema_for::<RoadDamageEvent>(),
        EventKind::Roughness => generator.subschema_for::<RoughnessReport>(),
        EventKind::RoadImpact => generator.subschema_for::<ImpactReport>(),
        EventKind::Health => generator.subschema_for::<crate::health::report::HealthReport>(),
        EventKind::ModelStatus => generator.subschema_for::<crate::update::event::ModelStatusReport>(),
    }
}

/// The JSON Schema of a whole event of `kind`: the envelope with `kind` fixed and `data` that kind's body.
pub fn event_schema(kind: EventKind) -> Value {
    let mut generator = SchemaSettings::draft2020_12().for_serialize().into_generator();
    let data = data_schema(kind, &mut generator).to_value();
    let defs = generator.take_definitions(true);
    let name = kind.as_str();
    let mut doc = json!({
        "$schema": DRAFT_2020_12,
        "$id": schema_id(kind),
        "title": format!("Kaiteki event `{name}` ({SCHEMA_VERSION})"),
        "description": format!(
            "{} Published on `kaiteki/v1/{{device_id}}/events/{name}` (QoS 1, not retained), one event per message. \
             Delivery is at least once: deduplicate by `id`; `seq` is per device monotonic.",
            about(kind)
        ),
        "type": "object",
        "properties": {
            "schema": {
                "description": "Version of the event schema; consumers switch on it.",
                "const": SCHEMA_VERSION,
            },
            "kind": {
                "description": "The event kind; also the last level of the topic.",
                "const": name,
            },
            "id": {
                "description": "Unique id of the event (UUIDv7, time-ordered). A redelivered event carries the same id.",
                "type": "string",
                "format": "uuid",
                "pattern": UUID_V7_PATTERN,
            },
            "seq": {
                "description": "Per-device sequence number: assigned in increasing order and never repeated, across \
                                restarts (gaps are possible). Delivery order can differ: safety events leave the \
                                outbox first.",
                "type": "integer",
                "minimum": 0,
            },
            "device_id": {
                "description": "The publishing device (`device_id` in its configuration).",
                "type": "string",
            },
            "observed_at": {
                "description": "When the observation was made (RFC 3339).",
                "type": "string",
                "format": "date-time",
            },
            "data": data,
        },
        "required": ["schema", "kind", "id", "seq", "device_id", "observed_at", "data"],
        "additionalProperties": false,
    });
    if !defs.is_empty() {
        doc["$defs"] = Value::Object(defs);
    }
    sorted(doc)
}

/// A document as committed: pretty-printed, keys sorted, with a trailing newline.
pub fn render(kind: EventKind) -> String {
    // Serialising a `Value` cannot fail.
    let mut text = serde_json::to_string_pretty(&event_schema(kind)).unwrap_or_default();
    text.push('\n');
    text
}

/// Writes `<kind>.schema.json` for every kind into `dir` (created if missing); returns the paths written.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    EventKind::ALL
        .iter()
        .map(|&kind| {
            let path = dir.join(file_name(kind));
            std::fs::write(&path, render(kind))?;
            Ok(path)
        })
        .collect()
}

/// Object keys in sorted order at every level, whatever map serde_json was built with, so the output is
/// the same in every build.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect::<Map<String, Value>>())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use serde_json::{json, Value};
    use time::macros::datetime;

    use super::*;
    use crate::analytics::crowd::{LevelScale, Los, OccupancyStatus};
    use crate::analytics::near_miss::{ConflictParty, ConflictType, Severity as Tier, TierCounts};
    use crate::analytics::road_damage::{
        Change, DamageRecord, Observation, Position, RecordStatus, RoadDamageEvent, Severity, SizeMetric, Triage,
    };
    use crate::analytics::{Conflict, CrowdAggregate, LevelChange, NearMissAggregate, RoadUserKind};
    use crate::dashboard::{DamageMark, MarkStatus};
    use crate::events::summary::{ClassCount, SceneSummary};
    use crate::events::{Emitter, EventBody};
    use crate::roughness::{ImpactEvent, InvalidReason, RoughnessClass, RoughnessSegment};
    use crate::runtime::roughness::{ImpactReport, RoughnessReport, RoutePoint};
    use crate::track::TrackId;

    const REGENERATE: &str = "regenerate with `cargo run -p kaiteki -- schema events --out-dir schemas/events` \
                              (from the repository root) and commit the result";

    fn committed_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas/events")
    }

    fn validator(kind: EventKind) -> jsonschema::Validator {
        jsonschema::options()
            .should_validate_formats(true)
            .build(&event_schema(kind))
            .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", kind.as_str()))
    }

    /// Every error as `pointer: message`.
    fn errors(v: &jsonschema::Validator, instance: &Value) -> Vec<String> {
        v.iter_errors(instance).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }

    /// One event of `kind` as the daemon serialises it, from real payload types with realistic values.
    fn sample(kind: EventKind) -> Value {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let emitter = Emitter::new(Arc::from("pole-01"), tx);
        let observed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_777_629_600);
        serde_json::from_slice(&emitter.draft(observed, sample_body(kind)).numbered(7).to_json()).expect("an envelope is JSON")
    }

    /// The body of [`sample`]: real payload types with realistic values (also the decoder's test events).
    pub(crate) fn sample_body(kind: EventKind) -> EventBody {
        let at = datetime!(2026-05-01 10:00:00.25 UTC);
        let body = match kind {
            EventKind::SceneSummary => EventBody::SceneSummary(SceneSummary {
                camera: "campus".into(),
                window_start_s: 0.0,
                window_end_s: 10.0,
                frames_processed: 100,
                frames_inferred: 41,
                frames_dropped_total: 0,
                model_id: "centernet-coco@1.0.0".into(),
                counts: BTreeMap::from([("person".into(), ClassCount { mean: 4.6, min: 3, max: 6 })]),
            }),
            EventKind::NearMiss => {
                let party = |id: u64, label: &str, kind: RoadUserKind, heading: Option<f64>| ConflictParty {
                    id: TrackId(id),
                    class_id: 0,
                    label: Arc::from(label),
                    kind,
                    speed_mps: 8.5,
                    heading_deg: heading,
                };
                EventBody::NearMiss(Scoped::new(
                    "junction",
                    Conflict {
                        conflict_type: ConflictType::Crossing,
                        severity: Tier::Critical,
                        users: [party(0x1f, "car", RoadUserKind::Car, Some(90.0)), party(7, "person", RoadUserKind::Pedestrian, None)],
                        approaching_id: Some(TrackId(0x1f)),
                        first_through_id: None,
                        t_start: 2.0,
                        t_end: 4.5,
                        t_min_ttc: Some(3.1),
                        min_ttc_s: Some(1.2),
                        pet_s: None,
                        max_drac_mps2: Some(5.8),
                        heading_difference_deg: 88.0,
                        position: [-4.0, 1.5],
                        lat: None,
                        lon: None,
                        zone_id: Some("crossing-north".into()),
                    },
                ))
            }
            EventKind::NearMissHourly => EventBody::NearMissHourly(Scoped::new(
                "junction",
                NearMissAggregate {
                    period_start: 0.0,
                    period_end: 3600.0,
                    road_users: 120,
                    road_users_by_kind: BTreeMap::from([(RoadUserKind::Pedestrian, 80), (RoadUserKind::Car, 40)]),
                    conflicts: 2,
                    by_type: BTreeMap::from([(ConflictType::Crossing, TierCounts { serious: 1, critical: 1 })]),
                    by_users: BTreeMap::from([("car/pedestrian".into(), 2)]),
                    risk_index: 3.3,
                },
            )),
            EventKind::CrowdLevel => EventBody::CrowdLevel(Scoped::new(
                "campus",
                LevelChange {
                    zone_id: "road".into(),
                    scale: LevelScale::Los,
                    from: "A".into(),
                    to: "B".into(),
                    rising: true,
                    since: 12.0,
                    t: 17.0,
                    count: 14,
                    density_ppm2: 0.35,
                    snapshot: Some("crowd-0193a2b4c5d67e8f9a0b1c2d3e4f5a6b".into()),
                },
            )),
            EventKind::CrowdMinute => EventBody::CrowdMinute(Scoped::new(
                "campus",
                CrowdAggregate {
                    zone_id: "road".into(),
                    date_observed_from: 0.0,
                    date_observed_to: 60.0,
                    people_count: 9,
                    people_count_min: 2,
                    people_count_mean: 4.2,
                    people_count_max: 7,
                    density_mean: Some(0.05),
                    density_max: None,
                    occupancy: 1.0,
                    average_crowd_speed: Some(1.3),
                    congested: false,
                    direction: Some("inbound".into()),
                    flow_in: 3,
                    flow_out: 1,
                    level_of_service: Some(Los::A),
                    occupancy_status: Some(OccupancyStatus::ManySeatsAvailable),
                },
            )),
            EventKind::DamageMark => EventBody::DamageMark(DamageMark {
                record_id: "rd-0193".into(),
                status: MarkStatus::Repaired,
                user: "crew1".into(),
                note: Some("patched \"today\" ✓".into()),
                at,
            }),
            EventKind::RoadDamage => {
                let severity = Severity {
                    metric: SizeMetric::Diameter,
                    size_m: 0.5,
                    unit: "m".into(),
                    width_m: 0.5,
                    length_m: 0.4,
                    area_m2: 0.2,
                    bin: 2,
                };
                let position = Position { lat: 35.68, lon: 139.76, uncertainty_m: 1.2 };
                EventBody::RoadDamage(RoadDamageEvent {
                    change: Change::Created,
                    record: DamageRecord {
                        record_id: "rd-0193".into(),
                        class: "D40".into(),
                        status: RecordStatus::Open,
                        triage: Triage::RepairNeeded,
                        severity: Some(severity.clone()),
                        position: Some(position),
                        confidence: 0.8,
                        observations: 1,
                        passes_seen: 1,
                        passes_missed: 0,
                        first_seen: at,
                        last_seen: at,
                        camera: "bus".into(),
                        snapshot: Some("/api/dash/snapshots/rd-0193".into()),
                    },
                    observation: Some(Observation {
                        class: "D40".into(),
                        frames: 16,
                        confidence: 0.8,
                        severity: Some(severity),
                        triage: Triage::RepairNeeded,
                        position: Some(position),
                        no_position: None,
                        heading_deg: Some(0.0),
                        speed_mps: Some(8.0),
                        first_seen: at,
                        last_seen: at,
                        t_last: 3.0,
                    }),
                })
            }
            EventKind::Roughness => EventBody::Roughness(RoughnessReport {
                segment: RoughnessSegment {
                    start_distance_m: 0.0,
                    length_m: 100.0,
                    start_t_s: 0.0,
                    end_t_s: 12.5,
                    iri_m_per_km: 2.4,
                    class: RoughnessClass::Fair,
                    mean_speed_mps: 8.0,
                    accel_rms_mps2: 0.6,
                    samples: 1250,
                    used_samples: 1200,
                    coverage: 0.96,
                    impacts: 0,
                    valid: false,
                    invalid_reason: Some(InvalidReason::Partial),
                },
                start: Some(RoutePoint { lat: 35.68, lon: 139.76 }),
                end: None,
            }),
            EventKind::RoadImpact => EventBody::RoadImpact(ImpactReport {
                impact: ImpactEvent { t_s: 4.2, distance_m: 33.6, peak_mps2: -14.0, severity: 1.1, speed_mps: 8.0 },
                position: Some(RoutePoint { lat: 35.68, lon: 139.76 }),
                heading_deg: Some(0.0),
            }),
            EventKind::Health => {
                use crate::health::report::*;
                EventBody::Health(HealthReport {
                    trigger: HealthTrigger::Change,
                    version: "0.1.0".into(),
                    uptime_s: 3600.5,
                    healthy: false,
                    problems: vec!["camera gate-3 is not streaming (reconnecting)".into()],
                    cameras: vec![CameraHealth {
                        camera: "gate-3".into(),
                        state: "backoff".into(),
                        fps: 0.0,
                        frames_processed: 36_000,
                        frames_dropped: 12,
                        reconnects: 3,
                    }],
                    models: vec![ModelHealth { name: "people".into(), model_id: "centernet-coco@1.0.0".into(), backend: "tract".into() }],
                    outbox: OutboxHealth { records: 120, bytes: 64_000, oldest_age_s: Some(42.5), dropped: 0, disk_free_bytes: Some(8 << 30) },
                    mqtt_connected: false,
                    system: SystemHealth { load_1m: Some(1.25), mem_available_bytes: Some(3 << 30), rss_bytes: Some(180 << 20), temperature_c: None },
                })
            }
            EventKind::ModelStatus => EventBody::ModelStatus(crate::update::event::ModelStatusReport {
                model: "people".into(),
                version: "2.0.0".into(),
                digest: Some("ab".repeat(32)),
                state: crate::update::event::ModelState::RolledBack,
                reason: Some("detections fell to 10% of the previous model's".into()),
                previous_version: Some("1.0.0".into()),
            }),
        };
        assert_eq!(body.kind(), kind, "sample of the wrong kind");
        body
    }

    #[test]
    fn the_kind_list_is_complete() {
        // Exhaustive: a new kind fails to compile here until it is added to `EventKind::ALL` too.
        let index = |k: EventKind| match k {
            EventKind::SceneSummary => 0,
            EventKind::NearMiss => 1,
            EventKind::NearMissHourly => 2,
            EventKind::CrowdLevel => 3,
            EventKind::CrowdMinute => 4,
            EventKind::DamageMark => 5,
            EventKind::RoadDamage => 6,
            EventKind::Roughness => 7,
            EventKind::RoadImpact => 8,
            EventKind::Health => 9,
            EventKind::ModelStatus => 10,
        };
        let indices: Vec<usize> = EventKind::ALL.iter().map(|&k| index(k)).collect();
        assert_eq!(indices, (0..11).collect::<Vec<_>>());
    }

    #[test]
    fn committed_schemas_are_what_the_generator_writes() {
        let dir = committed_dir();
        let mut expected = Vec::new();
        for kind in EventKind::ALL {
            let name = file_name(kind);
            let committed = std::fs::read_to_string(dir.join(&name))
                .unwrap_or_else(|e| panic!("schemas/events/{name}: {e}; {REGENERATE}"));
            assert!(committed == render(kind), "schemas/events/{name} differs from the event types: {REGENERATE}");
            expected.push(name);
        }
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".schema.json"))
            .collect();
        present.sort();
        expected.sort();
        assert_eq!(present, expected, "schemas/events/ holds a schema of no current kind: delete it");
    }

    #[test]
    fn documents_are_draft_2020_12_with_ids() {
        for kind in EventKind::ALL {
            let doc = event_schema(kind);
            assert_eq!(doc["$schema"], DRAFT_2020_12);
            assert_eq!(doc["$id"], format!("https://kaiteki.example/schemas/events/v1/{}.schema.json", kind.as_str()));
            assert_eq!(doc["properties"]["kind"]["const"], kind.as_str());
            assert_eq!(doc["properties"]["schema"]["const"], SCHEMA_VERSION);
            assert!(doc["title"].is_string() && doc["description"].as_str().is_some_and(|d| d.contains("at least once")));
            assert!(jsonschema::meta::is_valid(&doc), "{}: not a valid draft 2020-12 schema", kind.as_str());
        }
    }

    /// Strictness: every object schema says what else it admits (nothing, for a struct; typed values, for a
    /// map), so an unknown field in a payload fails validation.
    #[test]
    fn every_object_schema_is_closed() {
        fn walk(v: &Value, at: &str, open: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    let is_object = m.get("type") == Some(&json!("object")) || m.contains_key("properties");
                    if is_object && !m.contains_key("additionalProperties") {
                        open.push(at.to_string());
                    }
                    if m.contains_key("properties") && m.get("additionalProperties") != Some(&json!(false)) {
                        open.push(format!("{at} (has properties)"));
                    }
                    for (k, v) in m {
                        walk(v, &format!("{at}/{k}"), open);
                    }
                }
                Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| walk(v, &format!("{at}/{i}"), open)),
                _ => {}
            }
        }
        for kind in EventKind::ALL {
            let mut open = Vec::new();
            walk(&event_schema(kind), "", &mut open);
            assert!(open.is_empty(), "{}: open object schemas at {open:?}", kind.as_str());
        }
    }

    #[test]
    fn real_payloads_of_every_kind_validate_against_their_own_schema_only() {
        for kind in EventKind::ALL {
            let event = sample(kind);
            let errs = errors(&validator(kind), &event);
            assert!(errs.is_empty(), "{} sample rejected:\n{}\n{event:#}", kind.as_str(), errs.join("\n"));
            for other in EventKind::ALL.into_iter().filter(|&o| o != kind) {
                assert!(!validator(other).is_valid(&event), "{} schema accepts a {} event", other.as_str(), kind.as_str());
            }
        }
    }

    #[test]
    fn invalid_envelopes_are_rejected_with_pointers() {
        let v = validator(EventKind::NearMiss);
        let good = sample(EventKind::NearMiss);
        assert!(v.is_valid(&good));
        let rejected = |edit: &dyn Fn(&mut Value), pointer: &str| {
            let mut ev = good.clone();
            edit(&mut ev);
            let errs = errors(&v, &ev);
            assert!(errs.iter().any(|e| e.starts_with(&format!("{pointer}:"))), "expected an error at {pointer:?}, got {errs:?}");
        };
        rejected(&|ev| drop(ev.as_object_mut().unwrap().remove("seq")), "");
        rejected(&|ev| ev["seq"] = json!(-1), "/seq");
        rejected(&|ev| ev["kind"] = json!("crowd_level"), "/kind");
        rejected(&|ev| ev["schema"] = json!("kaiteki.event.v2"), "/schema");
        rejected(&|ev| ev["id"] = json!("not-a-uuid"), "/id");
        rejected(&|ev| ev["observed_at"] = json!("yesterday"), "/observed_at");
        rejected(&|ev| ev["extra"] = json!(1), "");
        rejected(&|ev| ev["data"]["bbox"] = json!([0, 0, 10, 10]), "/data");
        rejected(&|ev| ev["data"]["users"][0]["face"] = json!("…"), "/data/users/0");
        rejected(&|ev| ev["data"]["severity"] = json!("catastrophic"), "/data/severity");
        rejected(&|ev| drop(ev["data"].as_object_mut().unwrap().remove("min_ttc_s")), "/data");
        rejected(&|ev| ev["data"]["users"][0]["id"] = json!(42), "/data/users/0/id");
    }
}
