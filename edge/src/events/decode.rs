//! Consumer-side decoding of published events: one MQTT message (topic and payload) in, a checked
//! [`ReceivedEvent`] or a precise [`DecodeError`] out.
//!
//! For the city data platform's Rust consumers and for our own tests. [`decode_event`] checks what the
//! envelope promises (see [`Envelope`](super::Envelope) and `schemas/events/*.schema.json`):
//!
//! * the topic is `{prefix}/{device_id}/events/{kind}` (prefix `kaiteki/v1` unless a [`Decoder`] says
//!   otherwise), with a valid device id (1-64 letters, digits, `-`, `_`) and a known kind;
//! * the payload is at most [`MAX_PAYLOAD_BYTES`] (the outbox's default record limit; raise it with
//!   [`Decoder::max_payload_bytes`] where `[outbox] max_record_bytes` was raised) and is one JSON object
//!   with no duplicate and no unknown keys (the envelope schemas admit no other fields);
//! * `schema` is [`SCHEMA_VERSION`]; another major version (`kaiteki.event.v2`) is
//!   [`DecodeError::UnsupportedSchema`], checked first so that a newer envelope is named as such rather
//!   than as a list of field errors;
//! * `kind` and `device_id` match the topic; `id` is a UUIDv7 in canonical form (lowercase, hyphenated,
//!   as the daemon writes it); `seq` is an unsigned 64-bit integer; `observed_at` is RFC 3339;
//! * `data` is a JSON object.
//!
//! `data` stays a [`serde_json::Value`]: the body types ([`EventBody`](super::EventBody) and what it
//! holds) are `Serialize` only, and the per-kind contents are specified by the JSON Schemas (validate
//! `data` against them where that matters). Decoding never panics, whatever the input: there is a
//! proptest here and a cargo-fuzz target (`fuzz/fuzz_targets/event_decode.rs`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use uuid::Uuid;

use super::envelope::{EventKind, SCHEMA_VERSION};

/// The topic prefix the daemon uses unless `[mqtt] topic_prefix` says otherwise.
pub const DEFAULT_PREFIX: &str = "kaiteki/v1";

/// Largest payload [`decode_event`] accepts: 1 MiB, the outbox's default `max_record_bytes` (which
/// also counts the topic and 31 bytes of framing, so no default daemon publishes more).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;

/// The schema family; `SCHEMA_VERSION` is this followed by the major version.
const SCHEMA_FAMILY: &str = "kaiteki.event.v";

/// Longest excerpt of received text quoted in an error (errors stay small whatever was received).
const EXCERPT_CHARS: usize = 80;

/// The envelope's fields, in the order they are checked.
const FIELDS: [&str; 7] = ["schema", "kind", "id", "seq", "device_id", "observed_at", "data"];

/// An event as a consumer received it, checked against the v1 envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedEvent {
    pub device_id: String,
    pub kind: EventKind,
    /// UUIDv7; a redelivered event carries the same id (deduplicate by it).
    pub id: Uuid,
    /// Per-device sequence number.
    pub seq: u64,
    pub observed_at: OffsetDateTime,
    /// The kind's body as JSON (always an object). Not typed: the body types are `Serialize` only; its
    /// schema is `schemas/events/<kind>.schema.json`.
    pub data: Value,
}

impl ReceivedEvent {
    /// The topic the daemon publishes this event on, under the default prefix.
    pub fn topic(&self) -> String {
        self.topic_under(DEFAULT_PREFIX)
    }

    /// The topic the daemon publishes this event on, under `prefix`.
    pub fn topic_under(&self, prefix: &str) -> String {
        super::Topics::new(prefix, &self.device_id).event(self.kind)
    }

    /// The event as the daemon serialises it (v1 envelope). Fails only for an `observed_at` that RFC
    /// 3339 cannot express (a year outside 0-9999), which no decoded event has.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// Serialises as the v1 envelope (`schema` included), so a decoded event re-encodes to what decodes
/// to it again.
impl Serialize for ReceivedEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            schema: &'static str,
            kind: EventKind,
            id: &'a Uuid,
            seq: u64,
            device_id: &'a str,
            #[serde(with = "time::serde::rfc3339")]
            observed_at: OffsetDateTime,
            data: &'a Value,
        }
        Wire {
            schema: SCHEMA_VERSION,
            kind: self.kind,
            id: &self.id,
            seq: self.seq,
            device_id: &self.device_id,
            observed_at: self.observed_at,
            data: &self.data,
        }
        .serialize(s)
    }
}

/// Where a value was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Topic,
    Payload,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Place::Topic => "topic",
            Place::Payload => "payload",
        })
    }
}

/// Why a message is not a valid event. Texts quoted from the input are cut to 80 characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("topic {topic:?} is not under the prefix {prefix:?}")]
    WrongPrefix { topic: String, prefix: String },
    #[error("topic {topic:?} is not an event topic: expected {prefix}/{{device_id}}/events/{{kind}}")]
    NotAnEventTopic { topic: String, prefix: String },
    #[error("device id {found:?} in the {place} is not 1-64 letters, digits, `-` or `_`")]
    InvalidDeviceId { place: Place, found: String },
    #[error("unknown event kind {found:?} in the {place}")]
    UnknownKind { place: Place, found: String },
    #[error("payload is {len} bytes, over the {max}-byte limit")]
    PayloadTooLarge { len: usize, max: usize },
    #[error("payload is not valid JSON at line {line}, column {column}: {message}")]
    InvalidJson { line: usize, column: usize, message: String },
    #[error("payload is {found}, expected a JSON object")]
    NotAnObject { found: String },
    #[error("payload has the field {field:?} more than once")]
    DuplicateField { field: String },
    #[error("payload has no {0:?} field")]
    MissingField(&'static str),
    #[error("payload has the unknown field {0:?} (the v1 envelope admits no other fields)")]
    UnknownField(String),
    #[error("payload field {field:?} is {found}, expected {expected}")]
    WrongType { field: &'static str, expected: &'static str, found: String },
    #[error("event schema {found:?} is not supported: this decoder reads {SCHEMA_VERSION}{}",
        .major.map(|m| format!(" (the event is major version {m})")).unwrap_or_default())]
    UnsupportedSchema {
        found: String,
        /// The major version, where `found` is `kaiteki.event.v<major>`.
        major: Option<u64>,
    },
    #[error("payload kind {:?} does not match the topic's kind {:?}", .payload.as_str(), .topic.as_str())]
    KindMismatch { topic: EventKind, payload: EventKind },
    #[error("payload device_id {payload:?} does not match the topic's device {topic:?}")]
    DeviceMismatch { topic: String, payload: String },
    #[error("payload id {found:?} is not a canonical UUID: {reason}")]
    InvalidId { found: String, reason: String },
    #[error("payload id {found:?} is a version {version} UUID, expected version 7")]
    IdNotV7 { found: String, version: usize },
    #[error("payload seq {found} is not an unsigned 64-bit integer")]
    InvalidSeq { found: String },
    #[error("payload observed_at {found:?} is not an RFC 3339 date-time: {reason}")]
    InvalidObservedAt { found: String, reason: String },
}

/// Decoding settings: the topic prefix and the payload size bound.
#[derive(Debug, Clone)]
pub struct Decoder {
    prefix: String,
    max_payload_bytes: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(DEFAULT_PREFIX)
    }
}

impl Decoder {
    /// A decoder for devices publishing under `prefix` (`[mqtt] topic_prefix`; a trailing `/` is
    /// ignored, as the daemon does).
    pub fn new(prefix: &str) -> Self {
        Self { prefix: prefix.trim_end_matches('/').to_string(), max_payload_bytes: MAX_PAYLOAD_BYTES }
    }

    /// Accept payloads of up to `max` bytes instead of [`MAX_PAYLOAD_BYTES`].
    pub fn max_payload_bytes(mut self, max: usize) -> Self {
        self.max_payload_bytes = max;
        self
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Decodes and checks one message. Never panics.
    pub fn decode(&self, topic: &str, payload: &[u8]) -> Result<ReceivedEvent, DecodeError> {
        let (device, kind) = self.parse_topic(topic)?;
        if payload.len() > self.max_payload_bytes {
            return Err(DecodeError::PayloadTooLarge { len: payload.len(), max: self.max_payload_bytes });
        }
        let top: TopLevel = serde_json::from_slice(payload).map_err(|e| DecodeError::InvalidJson {
            line: e.line(),
            column: e.column(),
            message: excerpt(&e.to_string()),
        })?;
        let entries = match top {
            TopLevel::Object(entries) => entries,
            TopLevel::Other(found) => return Err(DecodeError::NotAnObject { found: found.into() }),
            TopLevel::Duplicate(field) => return Err(DecodeError::DuplicateField { field: excerpt(&field) }),
        };
        let mut fields: [Option<Value>; FIELDS.len()] = Default::default();
        let mut unknown = None;
        for (key, value) in entries {
            match FIELDS.iter().position(|f| *f == key) {
                Some(i) => fields[i] = Some(value),
                None => unknown = unknown.or(Some(key)),
            }
        }
        let [schema, p_kind, id, seq, device_id, observed_at, data] = fields;

        // The version first: a newer envelope may differ in every other respect.
        check_schema(schema)?;
        if let Some(key) = unknown {
            return Err(DecodeError::UnknownField(excerpt(&key)));
        }
        let p_kind = string_field("kind", p_kind)?;
        let p_kind = parse_kind(&p_kind).ok_or_else(|| DecodeError::UnknownKind { place: Place::Payload, found: excerpt(&p_kind) })?;
        if p_kind != kind {
            return Err(DecodeError::KindMismatch { topic: kind, payload: p_kind });
        }
        let device_id = string_field("device_id", device_id)?;
        if device_id != device {
            return Err(DecodeError::DeviceMismatch { topic: device.to_string(), payload: excerpt(&device_id) });
        }
        let id = parse_id(&string_field("id", id)?)?;
        let seq = parse_seq(seq)?;
        let observed_at = parse_observed_at(&string_field("observed_at", observed_at)?)?;
        let data = match data {
            None => return Err(DecodeError::MissingField("data")),
            Some(v @ Value::Object(_)) => v,
            Some(other) => return Err(wrong_type("data", "a JSON object", &other)),
        };
        Ok(ReceivedEvent { device_id, kind, id, seq, observed_at, data })
    }

    /// `{prefix}/{device}/events/{kind}` → (device, kind).
    fn parse_topic<'t>(&self, topic: &'t str) -> Result<(&'t str, EventKind), DecodeError> {
        let rest = topic.strip_prefix(self.prefix.as_str()).and_then(|r| r.strip_prefix('/')).ok_or_else(|| {
            DecodeError::WrongPrefix { topic: excerpt(topic), prefix: self.prefix.clone() }
        })?;
        let mut levels = rest.split('/');
        let (Some(device), Some("events"), Some(kind), None) = (levels.next(), levels.next(), levels.next(), levels.next())
        else {
            return Err(DecodeError::NotAnEventTopic { topic: excerpt(topic), prefix: self.prefix.clone() });
        };
        if !crate::config::is_valid_id(device) {
            return Err(DecodeError::InvalidDeviceId { place: Place::Topic, found: excerpt(device) });
        }
        let kind = parse_kind(kind).ok_or_else(|| DecodeError::UnknownKind { place: Place::Topic, found: excerpt(kind) })?;
        Ok((device, kind))
    }
}

/// Decodes one message published under the default prefix (`kaiteki/v1`) with the default size bound.
/// See the module docs for what is checked.
pub fn decode_event(topic: &str, payload: &[u8]) -> Result<ReceivedEvent, DecodeError> {
    Decoder::default().decode(topic, payload)
}

/// The kind whose topic name (and `kind` value) is `name`.
pub fn parse_kind(name: &str) -> Option<EventKind> {
    EventKind::ALL.into_iter().find(|k| k.as_str() == name)
}

fn check_schema(schema: Option<Value>) -> Result<(), DecodeError> {
    let schema = string_field("schema", schema)?;
    if schema == SCHEMA_VERSION {
        return Ok(());
    }
    let major = schema
        .strip_prefix(SCHEMA_FAMILY)
        .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|m| m.parse::<u64>().ok());
    Err(DecodeError::UnsupportedSchema { found: excerpt(&schema), major })
}

fn string_field(field: &'static str, value: Option<Value>) -> Result<String, DecodeError> {
    match value {
        None => Err(DecodeError::MissingField(field)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(wrong_type(field, "a string", &other)),
    }
}

fn parse_id(text: &str) -> Result<Uuid, DecodeError> {
    let invalid = |reason: String| DecodeError::InvalidId { found: excerpt(text), reason };
    let id = Uuid::try_parse(text).map_err(|e| invalid(e.to_string()))?;
    // `try_parse` also takes the simple, braced, URN and uppercase forms; the daemon (and the schema's
    // pattern) use the lowercase hyphenated one only.
    if *text != *id.hyphenated().encode_lower(&mut Uuid::encode_buffer()) {
        return Err(invalid("not in lowercase hyphenated form".into()));
    }
    if id.get_variant() != uuid::Variant::RFC4122 {
        return Err(invalid(format!("variant {:?}, expected the RFC 9562 variant", id.get_variant())));
    }
    if id.get_version_num() != 7 {
        return Err(DecodeError::IdNotV7 { found: text.to_string(), version: id.get_version_num() });
    }
    Ok(id)
}

fn parse_seq(value: Option<Value>) -> Result<u64, DecodeError> {
    match value {
        None => Err(DecodeError::MissingField("seq")),
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| DecodeError::InvalidSeq { found: excerpt(&n.to_string()) }),
        Some(other) => Err(wrong_type("seq", "an unsigned integer", &other)),
    }
}

fn parse_observed_at(text: &str) -> Result<OffsetDateTime, DecodeError> {
    let t = OffsetDateTime::parse(text, &Rfc3339)
        .map_err(|e| DecodeError::InvalidObservedAt { found: excerpt(text), reason: e.to_string() })?;
    // What the parser accepts can be written back (year 0-9999, offset in whole minutes); checked
    // anyway, as the promise that every accepted event re-encodes rests on it.
    if t.format(&Rfc3339).is_err() {
        return Err(DecodeError::InvalidObservedAt { found: excerpt(text), reason: "cannot be written back as RFC 3339".into() });
    }
    Ok(t)
}

fn wrong_type(field: &'static str, expected: &'static str, found: &Value) -> DecodeError {
    DecodeError::WrongType { field, expected, found: describe(found) }
}

/// `a string "…"`, `a number 1.5`, `an object`, … for error messages.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({})", excerpt(&n.to_string())),
        Value::String(s) => format!("a string ({:?})", excerpt(s)),
        Value::Array(a) => format!("an array of {} items", a.len()),
        Value::Object(_) => "an object".into(),
    }
}

/// At most `EXCERPT_CHARS` characters of `s`, with `…` where it was cut.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// The payload's top level: an object's entries in order (so that duplicate keys are seen, which a
/// `serde_json::Map` would silently collapse), or what else it was.
enum TopLevel {
    Object(Vec<(String, Value)>),
    Duplicate(String),
    Other(&'static str),
}

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut duplicate = None;
        while let Some(key) = map.next_key::<String>()? {
            if duplicate.is_some() || entries.iter().any(|(k, _)| *k == key) {
                // Keep reading: a syntax error later in the payload is reported as such.
                duplicate = duplicate.or(Some(key));
                map.next_value::<IgnoredAny>()?;
            } else {
                let value = map.next_value::<Value>()?;
                entries.push((key, value));
            }
        }
        Ok(match duplicate {
            Some(key) => TopLevel::Duplicate(key),
            None => TopLevel::Object(entries),
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TopLevel, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(TopLevel::Other("a JSON array"))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a JSON boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a JSON number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a JSON number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a JSON number"))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("a JSON string"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<TopLevel, E> {
        Ok(TopLevel::Other("JSON null"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use proptest::prelude::*;
    use serde_json::json;
    use time::macros::datetime;

    use super::*;
    use crate::events::{Envelope, EventBody, Topics};

    const DEVICE: &str = "pole-01";

    /// Real bodies of every kind, built from the daemon's own types (the schema tests' samples).
    fn bodies() -> Vec<EventBody> {
        EventKind::ALL.into_iter().map(crate::events::schema::tests::sample_body).collect()
    }

    /// An envelope as the daemon builds it (same fields as `Emitter` fills in).
    fn envelope(data: EventBody, seq: u64) -> Envelope {
        Envelope {
            schema: SCHEMA_VERSION,
            kind: data.kind(),
            id: Uuid::now_v7(),
            seq,
            device_id: Arc::from(DEVICE),
            observed_at: datetime!(2026-05-01 10:00:00.123456789 UTC),
            data,
        }
    }

    /// (topic, payload) of a real near-enough `scene_summary` event.
    fn message() -> (String, Vec<u8>) {
        let env = envelope(bodies().remove(0), 7);
        (Topics::new(DEFAULT_PREFIX, DEVICE).event(env.kind), env.to_json())
    }

    fn payload_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Vec<u8> {
        let (_, payload) = message();
        let mut v: Value = serde_json::from_slice(&payload).unwrap();
        edit(v.as_object_mut().unwrap());
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn real_envelopes_of_the_daemon_round_trip() {
        for (i, body) in bodies().into_iter().enumerate() {
            let seq = u64::MAX - i as u64;
            // As the daemon writes it: through JSON text (an f32 0.8 is "0.8" there, 0.800000011920929 in
            // `to_value`).
            let expected_data: Value = serde_json::from_slice(&serde_json::to_vec(&body).unwrap()).unwrap();
            let env = envelope(body, seq);
            let topics = Topics::new(DEFAULT_PREFIX, DEVICE);
            let topic = topics.event(env.kind);
            assert!(topics.allows(&topic));
            let ev = decode_event(&topic, &env.to_json()).unwrap_or_else(|e| panic!("{topic}: {e}"));
            assert_eq!(ev.device_id, DEVICE);
            assert_eq!(ev.kind, env.kind);
            assert_eq!(ev.id, env.id);
            assert_eq!(ev.seq, seq);
            assert_eq!(ev.observed_at, env.observed_at);
            assert_eq!(ev.data, expected_data);
            assert_eq!(ev.topic(), topic);
            // Re-encoding gives the daemon's JSON back (as a value: `data` keys come out sorted).
            let json = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap();
            assert_eq!(json(&ev.to_json().unwrap()), json(&env.to_json()));
        }
    }

    #[test]
    fn every_kind_is_recognised_in_topic_and_payload() {
        for kind in EventKind::ALL {
            assert_eq!(parse_kind(kind.as_str()), Some(kind));
            let (_, payload) = message();
            let payload = String::from_utf8(payload).unwrap().replace("\"scene_summary\"", &format!("{:?}", kind.as_str()));
            let topic = format!("kaiteki/v1/{DEVICE}/events/{}", kind.as_str());
            assert_eq!(decode_event(&topic, payload.as_bytes()).map(|e| e.kind), Ok(kind));
        }
    }

    #[test]
    fn another_prefix() {
        let (_, payload) = message();
        let d = Decoder::new("city/fleet-a/");
        assert_eq!(d.prefix(), "city/fleet-a");
        let ev = d.decode("city/fleet-a/pole-01/events/scene_summary", &payload).unwrap();
        assert_eq!(ev.topic_under("city/fleet-a"), "city/fleet-a/pole-01/events/scene_summary");
        assert!(matches!(d.decode("kaiteki/v1/pole-01/events/scene_summary", &payload), Err(DecodeError::WrongPrefix { .. })));
    }

    #[test]
    fn malformed_topics_are_named() {
        let (_, payload) = message();
        let err = |topic: &str| decode_event(topic, &payload).unwrap_err();
        assert!(matches!(err("elsewhere/pole-01/events/scene_summary"), DecodeError::WrongPrefix { .. }));
        assert!(matches!(err("kaiteki/v1pole-01/events/scene_summary"), DecodeError::WrongPrefix { .. }));
        for t in [
            "kaiteki/v1/pole-01/status",
            "kaiteki/v1/pole-01/privacy",
            "kaiteki/v1/pole-01/ngsi-ld/Alert",
            "kaiteki/v1/pole-01/events/scene_summary/extra",
            "kaiteki/v1/pole-01/events",
            "kaiteki/v1/",
        ] {
            assert!(matches!(err(t), DecodeError::NotAnEventTopic { .. }), "{t}: {:?}", err(t));
        }
        assert_eq!(
            err("kaiteki/v1//events/scene_summary"),
            DecodeError::InvalidDeviceId { place: Place::Topic, found: String::new() }
        );
        assert_eq!(
            err("kaiteki/v1/pole+1/events/scene_summary"),
            DecodeError::InvalidDeviceId { place: Place::Topic, found: "pole+1".into() }
        );
        assert_eq!(
            err("kaiteki/v1/pole-01/events/raw_frame"),
            DecodeError::UnknownKind { place: Place::Topic, found: "raw_frame".into() }
        );
    }

    #[test]
    fn malformed_payloads_get_their_specific_error() {
        let (topic, good) = message();
        let decode = |payload: &[u8]| decode_event(&topic, payload).unwrap_err();
        let with = |edit: &dyn Fn(&mut serde_json::Map<String, Value>)| decode(&payload_with(edit));
        let set = |field: &'static str, v: Value| with(&move |m| drop(m.insert(field.into(), v.clone())));

        // Size, syntax, shape.
        assert_eq!(
            Decoder::default().max_payload_bytes(10).decode(&topic, &good).unwrap_err(),
            DecodeError::PayloadTooLarge { len: good.len(), max: 10 }
        );
        assert!(matches!(decode(&vec![b' '; MAX_PAYLOAD_BYTES + 1]), DecodeError::PayloadTooLarge { .. }));
        assert!(matches!(decode(&good[..good.len() - 1]), DecodeError::InvalidJson { .. }));
        assert!(matches!(decode(b""), DecodeError::InvalidJson { line: 1, column: 0, .. }));
        assert!(matches!(decode(b"{} trailing"), DecodeError::InvalidJson { .. }));
        assert!(matches!(decode(&[0xff, 0xfe]), DecodeError::InvalidJson { .. }));
        assert_eq!(decode(b"[1, {}]"), DecodeError::NotAnObject { found: "a JSON array".into() });
        assert_eq!(decode(b"null"), DecodeError::NotAnObject { found: "JSON null".into() });
        assert_eq!(decode(b"\"kaiteki.event.v1\""), DecodeError::NotAnObject { found: "a JSON string".into() });
        let mut dup = good.clone();
        dup.truncate(dup.len() - 1);
        dup.extend_from_slice(br#","kind":"near_miss"}"#);
        assert_eq!(decode(&dup), DecodeError::DuplicateField { field: "kind".into() });
        // Deep nesting is an error (serde_json's recursion limit), not a stack overflow.
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let e = decode(format!(r#"{{"data":{}}}"#, deep(100_000)).as_bytes());
        assert!(matches!(&e, DecodeError::InvalidJson { message, .. } if message.contains("recursion limit")), "{e:?}");
        assert!(matches!(decode(deep(100_000).as_bytes()), DecodeError::InvalidJson { .. } | DecodeError::NotAnObject { .. }));

        // Schema version, checked before anything else.
        assert_eq!(
            with(&|m| {
                m.insert("schema".into(), json!("kaiteki.event.v2"));
                m.insert("kind".into(), json!(42));
                m.insert("shiny".into(), json!(true));
            }),
            DecodeError::UnsupportedSchema { found: "kaiteki.event.v2".into(), major: Some(2) }
        );
        let msg = set("schema", json!("kaiteki.event.v2")).to_string();
        assert!(msg.contains("kaiteki.event.v1") && msg.contains("major version 2"), "{msg}");
        assert_eq!(set("schema", json!("kaiteki.event.v10")), DecodeError::UnsupportedSchema { found: "kaiteki.event.v10".into(), major: Some(10) });
        assert_eq!(set("schema", json!("other.v1")), DecodeError::UnsupportedSchema { found: "other.v1".into(), major: None });
        assert_eq!(set("schema", json!("kaiteki.event.v1.1")), DecodeError::UnsupportedSchema { found: "kaiteki.event.v1.1".into(), major: None });
        assert_eq!(set("schema", json!(1)), DecodeError::WrongType { field: "schema", expected: "a string", found: "a number (1)".into() });
        assert_eq!(with(&|m| drop(m.remove("schema"))), DecodeError::MissingField("schema"));

        // Fields present, known, typed.
        for field in ["kind", "id", "seq", "device_id", "observed_at", "data"] {
            assert_eq!(with(&|m| drop(m.remove(field))), DecodeError::MissingField(field), "{field}");
        }
        assert_eq!(set("bbox", json!([0, 0, 10, 10])), DecodeError::UnknownField("bbox".into()));
        assert_eq!(set("kind", json!(null)), DecodeError::WrongType { field: "kind", expected: "a string", found: "null".into() });
        assert_eq!(set("device_id", json!(["pole-01"])), DecodeError::WrongType { field: "device_id", expected: "a string", found: "an array of 1 items".into() });
        assert_eq!(set("data", json!("{}")), DecodeError::WrongType { field: "data", expected: "a JSON object", found: "a string (\"{}\")".into() });

        // Kind and device agree with the topic.
        assert_eq!(set("kind", json!("raw_frame")), DecodeError::UnknownKind { place: Place::Payload, found: "raw_frame".into() });
        assert_eq!(set("kind", json!("near_miss")), DecodeError::KindMismatch { topic: EventKind::SceneSummary, payload: EventKind::NearMiss });
        let msg = set("kind", json!("near_miss")).to_string();
        assert!(msg.contains("\"near_miss\"") && msg.contains("\"scene_summary\""), "{msg}");
        assert_eq!(set("device_id", json!("pole-02")), DecodeError::DeviceMismatch { topic: DEVICE.into(), payload: "pole-02".into() });

        // id: a canonical UUIDv7.
        assert!(matches!(set("id", json!("not-a-uuid")), DecodeError::InvalidId { .. }));
        let v4 = "2c5ea4c0-4067-41b6-9ab1-4e2c0e36a3c5";
        assert_eq!(set("id", json!(v4)), DecodeError::IdNotV7 { found: v4.into(), version: 4 });
        let v7 = Uuid::now_v7();
        for other_form in [v7.simple().to_string(), v7.urn().to_string(), v7.braced().to_string(), v7.hyphenated().to_string().to_uppercase()] {
            let e = set("id", json!(other_form));
            assert!(matches!(&e, DecodeError::InvalidId { reason, .. } if reason.contains("lowercase hyphenated")), "{other_form}: {e:?}");
        }
        let mut bytes = *v7.as_bytes();
        bytes[8] &= 0x3f; // NCS variant
        let e = set("id", json!(Uuid::from_bytes(bytes).to_string()));
        assert!(matches!(&e, DecodeError::InvalidId { reason, .. } if reason.contains("variant")), "{e:?}");

        // seq: an unsigned 64-bit integer.
        assert_eq!(set("seq", json!(-1)), DecodeError::InvalidSeq { found: "-1".into() });
        assert_eq!(set("seq", json!(1.5)), DecodeError::InvalidSeq { found: "1.5".into() });
        assert_eq!(set("seq", json!(7.0)), DecodeError::InvalidSeq { found: "7.0".into() });
        let mut huge = String::from_utf8(payload_with(|m| drop(m.insert("seq".into(), json!(0))))).unwrap();
        huge = huge.replace("\"seq\":0", "\"seq\":18446744073709551616");
        assert_eq!(decode(huge.as_bytes()), DecodeError::InvalidSeq { found: "1.8446744073709552e+19".into() });
        assert_eq!(set("seq", json!("7")), DecodeError::WrongType { field: "seq", expected: "an unsigned integer", found: "a string (\"7\")".into() });

        // observed_at: RFC 3339.
        for bad in ["yesterday", "2026-05-01T10:00:00", "2026-05-01", "2026-13-01T10:00:00Z", "2026-05-01T10:00:00+24:00", "1777629600"] {
            let e = set("observed_at", json!(bad));
            assert!(matches!(&e, DecodeError::InvalidObservedAt { found, .. } if found == bad), "{bad}: {e:?}");
        }
        assert!(matches!(set("observed_at", json!(1_777_629_600)), DecodeError::WrongType { field: "observed_at", .. }));
    }

    #[test]
    fn offsets_and_precision_of_observed_at_are_kept() {
        let (topic, _) = message();
        let p = payload_with(|m| drop(m.insert("observed_at".into(), json!("2026-05-01T19:00:00.5+09:00"))));
        let ev = decode_event(&topic, &p).unwrap();
        assert_eq!(ev.observed_at, datetime!(2026-05-01 10:00:00.5 UTC));
        assert_eq!(ev.observed_at.offset().whole_hours(), 9);
        assert_eq!(decode_event(&topic, &ev.to_json().unwrap()), Ok(ev));
        // RFC 3339 (section 5.6) lets a space stand for the `T`; re-encoding writes the `T`.
        let p = payload_with(|m| drop(m.insert("observed_at".into(), json!("2026-05-01 10:00:00Z"))));
        let ev = decode_event(&topic, &p).unwrap();
        assert!(String::from_utf8(ev.to_json().unwrap()).unwrap().contains("\"2026-05-01T10:00:00Z\""));
    }

    #[test]
    fn quoted_input_is_cut_short() {
        let (topic, _) = message();
        let long = "x".repeat(10_000);
        let e = decode_event(&topic, &payload_with(|m| drop(m.insert("device_id".into(), json!(long))))).unwrap_err();
        assert!(e.to_string().len() < 300, "{e}");
        let e = decode_event(&format!("{long}/events/near_miss"), b"{}").unwrap_err();
        assert!(e.to_string().len() < 300, "{e}");
    }

    /// Writes the fuzz seed corpora (`fuzz/seeds/`) from real encodings. Run after a format change:
    /// `cargo test -p kaiteki --lib events::decode::tests::write_fuzz_seeds -- --ignored`.
    #[test]
    #[ignore = "writes fuzz/seeds/; run by hand"]
    fn write_fuzz_seeds() {
        use crate::outbox::{encode, OutboxRecord, Priority};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
        let events = root.join("event_decode");
        let records = root.join("outbox_record");
        std::fs::create_dir_all(&events).unwrap();
        std::fs::create_dir_all(&records).unwrap();
        for (i, body) in bodies().into_iter().enumerate() {
            let mut env = envelope(body, 41 + i as u64);
            // Fixed ids, so that writing the seeds again changes nothing.
            env.id = uuid::Builder::from_unix_timestamp_millis(1_777_629_600_000 + i as u64, &[0x5e; 10]).into_uuid();
            let topic = Topics::new(DEFAULT_PREFIX, DEVICE).event(env.kind);
            // event_decode input: the topic, a newline, the payload.
            let mut input = format!("{topic}\n").into_bytes();
            input.extend_from_slice(&env.to_json());
            std::fs::write(events.join(format!("{}.txt", env.kind.as_str())), &input).unwrap();
            let record = OutboxRecord {
                id: 1000 + i as u64,
                priority: env.kind.priority(),
                topic,
                payload: env.to_json(),
                retain: false,
                enqueued_at_ms: 1_777_629_600_000,
            };
            std::fs::write(records.join(format!("{}.bin", env.kind.as_str())), encode(&record)).unwrap();
        }
        let status = OutboxRecord {
            id: 1,
            priority: Priority::High,
            topic: format!("{DEFAULT_PREFIX}/{DEVICE}/status"),
            payload: br#"{"state":"online","device_id":"pole-01"}"#.to_vec(),
            retain: true,
            enqueued_at_ms: 0,
        };
        std::fs::write(records.join("status_retained.bin"), encode(&status)).unwrap();
        let empty = OutboxRecord { id: u64::MAX, priority: Priority::Low, topic: String::new(), payload: Vec::new(), retain: false, enqueued_at_ms: u64::MAX };
        std::fs::write(records.join("empty.bin"), encode(&empty)).unwrap();
    }

    /// Numbers as equal as a JSON text round trip keeps them: serde_json without `float_roundtrip`
    /// may parse a 17-digit float one unit in the last place off, so floats compare within a few ULP.
    fn same_json(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) if x.is_f64() && y.is_f64() => {
                let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
                x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
            }
            (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
            }
            _ => a == b,
        }
    }

    /// What every accepted message must satisfy: it was on the event's own topic, and the event
    /// re-encodes to a message that decodes to the same event.
    fn check_accepted(topic: &str, ev: &ReceivedEvent) -> Result<(), TestCaseError> {
        prop_assert_eq!(ev.topic(), topic);
        prop_assert!(Topics::new(DEFAULT_PREFIX, &ev.device_id).allows(topic));
        let bytes = ev.to_json().map_err(|e| TestCaseError::fail(format!("accepted event does not re-encode: {e}")))?;
        let again = decode_event(topic, &bytes).map_err(|e| TestCaseError::fail(format!("re-encoded event rejected: {e}")))?;
        prop_assert_eq!((&again.device_id, again.kind, again.id, again.seq, again.observed_at), (&ev.device_id, ev.kind, ev.id, ev.seq, ev.observed_at));
        prop_assert!(same_json(&again.data, &ev.data), "data changed: {} vs {}", again.data, ev.data);
        Ok(())
    }

    fn any_topic() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("kaiteki/v1/pole-01/events/scene_summary".to_string()),
            "kaiteki/v1/[a-z0-9_+#/-]{0,12}/events/[a-z_]{0,16}",
            "\\PC{0,60}",
        ]
    }

    /// A JSON value to splice into an envelope field.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "\\PC{0,20}".prop_map(Value::String),
            Just(json!("kaiteki.event.v1")),
            Just(json!("kaiteki.event.v7")),
            Just(json!("scene_summary")),
            Just(json!("pole-01")),
            Just(json!(Uuid::now_v7().to_string())),
            Just(json!("2026-05-01T10:00:00Z")),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|z|[+-][0-9]{2}:[0-9]{2})".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn arbitrary_bytes_never_panic(topic in any_topic(), payload in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(ev) = decode_event(&topic, &payload) {
                check_accepted(&topic, &ev)?;
            }
        }

        #[test]
        fn mutated_payloads_never_panic_and_what_passes_revalidates(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
        ) {
            let (topic, mut bytes) = message();
            for (at, byte, op) in edits {
                if bytes.is_empty() { break; }
                let i = at.index(bytes.len());
                match op {
                    0 => bytes[i] = byte,
                    1 => { bytes.remove(i); }
                    _ => bytes.insert(i, byte),
                }
            }
            if let Ok(ev) = decode_event(&topic, &bytes) {
                check_accepted(&topic, &ev)?;
            }
        }

        #[test]
        fn spliced_fields_never_panic_and_what_passes_revalidates(
            field in prop::sample::select(vec!["schema", "kind", "id", "seq", "device_id", "observed_at", "data", "extra"]),
            value in any_json(),
            drop_it in any::<bool>(),
        ) {
            let (topic, _) = message();
            let bytes = payload_with(|m| {
                if drop_it { m.remove(field); } else { m.insert(field.into(), value.clone()); }
            });
            match decode_event(&topic, &bytes) {
                Ok(ev) => check_accepted(&topic, &ev)?,
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
}
