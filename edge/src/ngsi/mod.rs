//! FIWARE NGSI-LD output: turns `kaiteki.event.v1` envelopes into NGSI-LD entities (normalized form, JSON-LD
//! with `@context`) shaped after the FIWARE Smart Data Models, plus the `Device` and `PrivacyObject` entities
//! that describe the appliance itself.
//!
//! | event kind         | NGSI-LD type          | subCategory / notes                                        |
//! |--------------------|-----------------------|------------------------------------------------------------|
//! | `road_damage`      | `Alert` (traffic)     | D40 → `pothole`; cracks and others → `hazardOnRoad`        |
//! | `near_miss`        | `Alert` (traffic)     | `hazardOnRoad` (the spec has no near-miss value)           |
//! | `crowd_level`      | `Alert` (security)    | `crowdRisk`, only when the level got worse (`rising`)      |
//! | `crowd_minute`     | `CrowdFlowObserved`   |                                                            |
//! | `near_miss_hourly` | `TrafficFlowObserved` | `intensity`: vehicles (cyclists included); the rest `kaiteki:`|
//! | `scene_summary`    | none                  | per-frame presence is not a flow count (see `map.rs`)      |
//! | `roughness`, `road_impact`, `damage_mark` | none |                                                |
//!
//! Sources (Smart Data Models, read at these commits):
//! - Alert: <https://github.com/smart-data-models/dataModel.Alert/blob/master/Alert/schema.json> and
//!   `alert-schema.json` (Common-Alert: `category`, `severity` enums) — commit 30e367c08e58, schema 0.0.3.
//! - CrowdFlowObserved, TrafficFlowObserved:
//!   <https://github.com/smart-data-models/dataModel.Transportation/blob/master/CrowdFlowObserved/schema.json>,
//!   <https://github.com/smart-data-models/dataModel.Transportation/blob/master/TrafficFlowObserved/schema.json>
//!   — commit 6aee14bc6803.
//! - Device, PrivacyObject: <https://github.com/smart-data-models/dataModel.Device/blob/master/Device/schema.json>,
//!   `device-schema.json` (Device-Commons enums), `PrivacyObject/schema.json` — commit 96e38834eda5.
//! - NGSI-LD normalized form and core context: ETSI GS CIM 009 (v1.8 core context URL below).
//!
//! Attributes outside the models carry a `kaiteki:` prefix, as in the privacy manifest, so consumers can tell
//! them from the models' own; the prefix is declared in each entity's `@context` ([`KAITEKI_NAMESPACE`]). The matching JSON Schemas are under `schemas/ngsi-ld/`.

mod map;
#[cfg(test)]
mod tests;

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub use map::to_entities;

/// The ETSI NGSI-LD core context (v1.8).
/// Every entity type this module emits (the MQTT egress allow-list uses it).
pub const ENTITY_TYPES: [&str; 5] = ["Alert", "CrowdFlowObserved", "TrafficFlowObserved", "Device", "PrivacyObject"];

pub const CORE_CONTEXT: &str = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld";
/// Smart Data Models context of the Alert subject.
pub const ALERT_CONTEXT: &str = "https://raw.githubusercontent.com/smart-data-models/dataModel.Alert/master/context.jsonld";
/// Smart Data Models context of the Transportation subject (CrowdFlowObserved, TrafficFlowObserved).
pub const TRANSPORTATION_CONTEXT: &str =
    "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/master/context.jsonld";
/// The namespace of the `kaiteki:` attributes (the terms are described in `schemas/ngsi-ld/README.md`).
/// Declared in every entity's `@context`, so a JSON-LD processor expands `kaiteki:riskIndex` to a full IRI
/// instead of reading `kaiteki:` as a URI scheme.
pub const KAITEKI_NAMESPACE: &str = "https://kaiteki.example/ngsi-ld/v1/terms#";

/// Smart Data Models context of the Device subject (Device, PrivacyObject).
pub const DEVICE_CONTEXT: &str = "https://raw.githubusercontent.com/smart-data-models/dataModel.Device/master/context.jsonld";

/// What a conversion needs beyond the event itself.
#[derive(Debug, Clone, PartialEq)]
pub struct NgsiContext {
    /// This appliance's `device_id`; envelopes from another device are refused.
    pub device_id: String,
    /// Where the appliance is (WGS84 longitude, latitude), used as `location` of entities whose event has no
    /// position of its own (crowd alerts, crowd and traffic flow observations). `None`: no `location`.
    pub device_location: Option<(f64, f64)>,
    /// NGSI-LD id of the `RoadSegment` the camera watches, for `refRoadSegment` of flow observations.
    pub ref_road_segment: Option<String>,
}

impl NgsiContext {
    pub fn new(device_id: impl Into<String>) -> Self {
        Self { device_id: device_id.into(), device_location: None, ref_road_segment: None }
    }
}

/// One NGSI-LD entity, ready to be sent (`body` holds `id`, `type`, the attributes and `@context`).
#[derive(Debug, Clone, PartialEq)]
pub struct Entity {
    pub entity_type: &'static str,
    pub id: String,
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NgsiError {
    #[error("envelope is not a JSON object")]
    NotAnObject,
    #[error("unsupported envelope schema {0:?} (expected \"kaiteki.event.v1\")")]
    UnsupportedSchema(String),
    #[error("unknown event kind {0:?}")]
    UnknownKind(String),
    #[error("missing field `{0}`")]
    Missing(String),
    #[error("field `{field}` has the wrong type (expected {expected})")]
    WrongType { field: String, expected: &'static str },
    #[error("field `{field}` is out of range or invalid: {reason}")]
    Invalid { field: String, reason: String },
    #[error("event from device {envelope:?}, but this context is for {context:?}")]
    DeviceMismatch { envelope: String, context: String },
}

/// Field access on an object with error paths (`data.position.lat`).
pub(crate) struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    pub(crate) fn root(v: &'a Value) -> Result<Self, NgsiError> {
        v.as_object().map(|map| Obj { map, path: String::new() }).ok_or(NgsiError::NotAnObject)
    }

    fn name(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The value, `None` when absent or null.
    pub(crate) fn opt(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn req(&self, key: &str) -> Result<&'a Value, NgsiError> {
        self.opt(key).ok_or_else(|| NgsiError::Missing(self.name(key)))
    }

    fn wrong(&self, key: &str, expected: &'static str) -> NgsiError {
        NgsiError::WrongType { field: self.name(key), expected }
    }

    pub(crate) fn obj(&self, key: &str) -> Result<Obj<'a>, NgsiError> {
        let v = self.req(key)?;
        v.as_object().map(|map| Obj { map, path: self.name(key) }).ok_or_else(|| self.wrong(key, "object"))
    }

    pub(crate) fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, NgsiError> {
        match self.opt(key) {
            None => Ok(None),
            Some(_) => self.obj(key).map(Some),
        }
    }

    pub(crate) fn str(&self, key: &str) -> Result<&'a str, NgsiError> {
        self.req(key)?.as_str().ok_or_else(|| self.wrong(key, "string"))
    }

    pub(crate) fn opt_str(&self, key: &str) -> Result<Option<&'a str>, NgsiError> {
        match self.opt(key) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or_else(|| self.wrong(key, "string")),
        }
    }

    /// A finite number.
    pub(crate) fn f64(&self, key: &str) -> Result<f64, NgsiError> {
        self.req(key)?.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.wrong(key, "number"))
    }

    pub(crate) fn opt_f64(&self, key: &str) -> Result<Option<f64>, NgsiError> {
        match self.opt(key) {
            None => Ok(None),
            Some(_) => self.f64(key).map(Some),
        }
    }

    pub(crate) fn u64(&self, key: &str) -> Result<u64, NgsiError> {
        self.req(key)?.as_u64().ok_or_else(|| self.wrong(key, "non-negative integer"))
    }

    pub(crate) fn bool(&self, key: &str) -> Result<bool, NgsiError> {
        self.req(key)?.as_bool().ok_or_else(|| self.wrong(key, "boolean"))
    }

    pub(crate) fn time(&self, key: &str) -> Result<OffsetDateTime, NgsiError> {
        let s = self.str(key)?;
        OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|e| NgsiError::Invalid { field: self.name(key), reason: format!("not RFC 3339 ({e})") })
    }

    /// A WGS84 position object `{lat, lon, …}` → (lon, lat), range-checked.
    pub(crate) fn lon_lat(&self) -> Result<(f64, f64), NgsiError> {
        let (lat, lon) = (self.f64("lat")?, self.f64("lon")?);
        check_lon_lat(lon, lat, &self.path)?;
        Ok((lon, lat))
    }
}

pub(crate) fn check_lon_lat(lon: f64, lat: f64, path: &str) -> Result<(), NgsiError> {
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return Err(NgsiError::Invalid { field: path.to_string(), reason: format!("lat {lat} / lon {lon} out of range") });
    }
    Ok(())
}

/// Refuses ids that would break a URN (`urn:ngsi-ld:<Type>:<device>:<event>`).
pub(crate) fn check_id_part(field: &str, s: &str) -> Result<(), NgsiError> {
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if ok {
        Ok(())
    } else {
        Err(NgsiError::Invalid { field: field.to_string(), reason: format!("{s:?} cannot be part of a URN") })
    }
}

/// RFC 3339 in UTC with a `Z` (NGSI-LD `observedAt` and DateTime values).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).unwrap_or_default()
}

/// `{"type":"Property","value":v}`, with `observedAt` when given.
pub(crate) fn prop(value: Value, observed_at: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), json!("Property"));
    m.insert("value".into(), value);
    if let Some(t) = observed_at {
        m.insert("observedAt".into(), json!(t));
    }
    Value::Object(m)
}

/// A Property with a unit (UN/CEFACT common code).
pub(crate) fn prop_unit(value: Value, unit_code: &str, observed_at: Option<&str>) -> Value {
    let mut p = prop(value, observed_at);
    p["unitCode"] = json!(unit_code);
    p
}

/// A DateTime Property value as JSON-LD typed literal (as in the Smart Data Models normalized examples).
pub(crate) fn date_prop(t: &str) -> Value {
    prop(json!({ "@type": "DateTime", "@value": t }), None)
}

pub(crate) fn geo_point(lon: f64, lat: f64, observed_at: Option<&str>) -> Value {
    let mut p = json!({ "type": "GeoProperty", "value": { "type": "Point", "coordinates": [lon, lat] } });
    if let Some(t) = observed_at {
        p["observedAt"] = json!(t);
    }
    p
}

pub(crate) fn rel(object: &str) -> Value {
    json!({ "type": "Relationship", "object": object })
}

pub(crate) fn device_urn(device_id: &str) -> String {
    format!("urn:ngsi-ld:Device:{device_id}")
}

/// Builds the entity body: `id`, `type`, the attributes, then `@context`.
pub(crate) fn entity(entity_type: &'static str, id: String, attrs: Map<String, Value>, domain_context: &str) -> Entity {
    let mut body = Map::new();
    body.insert("id".into(), json!(id));
    body.insert("type".into(), json!(entity_type));
    body.extend(attrs);
    body.insert("@context".into(), json!([CORE_CONTEXT, domain_context, { "kaiteki": KAITEKI_NAMESPACE }]));
    Entity { entity_type, id, body: Value::Object(body) }
}

/// The appliance as a Smart Data Models `Device` (dataModel.Device/Device, required: `id`, `type`,
/// `controlledProperty`). `location` is (lon, lat) WGS84; `observed_at` stamps `dateLastValueReported`.
pub fn device_entity(
    device_id: &str,
    software_version: &str,
    location: Option<(f64, f64)>,
    observed_at: Option<OffsetDateTime>,
) -> Result<Entity, NgsiError> {
    check_id_part("device_id", device_id)?;
    let mut a = Map::new();
    a.insert("name".into(), prop(json!(device_id), None));
    a.insert(
        "description".into(),
        prop(json!("Kaiteki Edge camera analytics appliance (video analysed on the device, never published)"), None),
    );
    // Device-Commons enums: category ⊂ {sensor, multimedia, …}; controlledProperty ⊂ {trafficFlow, occupancy,
    // motion, speed, location, …}.
    a.insert("deviceCategory".into(), prop(json!(["sensor", "multimedia"]), None));
    a.insert("controlledProperty".into(), prop(json!(["trafficFlow", "occupancy", "motion", "speed", "location"]), None));
    a.insert("supportedProtocol".into(), prop(json!(["mqtt", "http"]), None));
    a.insert("softwareVersion".into(), prop(json!(software_version), None));
    a.insert("deviceState".into(), prop(json!("ok"), None));
    if let Some((lon, lat)) = location {
        check_lon_lat(lon, lat, "location")?;
        a.insert("location".into(), geo_point(lon, lat, None));
    }
    if let Some(t) = observed_at {
        a.insert("dateLastValueReported".into(), date_prop(&rfc3339(t)));
    }
    Ok(entity("Device", device_urn(device_id), a, DEVICE_CONTEXT))
}

/// The privacy manifest (`/api/privacy`, `crate::privacy::manifest::PrivacyManifest` serialised) as a Smart Data
/// Models `PrivacyObject` (dataModel.Device/PrivacyObject). The manifest's model attributes become Properties,
/// `refDevice` a Relationship, and the `kaiteki:` facts stay `kaiteki:` Properties. `owner` and `contactPoint`
/// (GSMA-Commons / schema.org) are kept.
pub fn privacy_entity(manifest: &Value) -> Result<Entity, NgsiError> {
    let m = Obj::root(manifest)?;
    let id = m.str("id")?;
    if m.str("type")? != "PrivacyObject" {
        return Err(NgsiError::Invalid { field: "type".into(), reason: "expected \"PrivacyObject\"".into() });
    }
    let dev = id.strip_prefix("urn:ngsi-ld:PrivacyObject:").ok_or_else(|| NgsiError::Invalid {
        field: "id".into(),
        reason: "expected urn:ngsi-ld:PrivacyObject:<device_id>".into(),
    })?;
    check_id_part("id", dev)?;
    let ref_device = m.str("refDevice")?;
    if !ref_device.starts_with("urn:ngsi-ld:Device:") {
        return Err(NgsiError::Invalid { field: "refDevice".into(), reason: "expected urn:ngsi-ld:Device:…".into() });
    }
    let mut a = Map::new();
    a.insert("refDevice".into(), rel(ref_device));
    for key in ["name", "description", "purpose", "retentionPeriod", "legitimateInterest", "crossborderTransfer"] {
        a.insert(key.into(), prop(json!(m.str(key)?), None));
    }
    a.insert("isPersonalData".into(), prop(json!(m.bool("isPersonalData")?), None));
    for key in ["category", "owner", "recipientList"] {
        let v = m.opt(key).ok_or_else(|| NgsiError::Missing(key.into()))?;
        let ok = v.as_array().is_some_and(|xs| xs.iter().all(Value::is_string));
        if !ok {
            return Err(NgsiError::WrongType { field: key.into(), expected: "array of strings" });
        }
        a.insert(key.into(), prop(v.clone(), None));
    }
    if let Some(c) = m.opt_str("contactPoint")? {
        a.insert("contactPoint".into(), prop(json!(c), None));
    }
    for (key, v) in m.map.iter().filter(|(k, _)| k.starts_with("kaiteki:")) {
        a.insert(key.clone(), prop(v.clone(), None));
    }
    Ok(entity("PrivacyObject", id.to_string(), a, DEVICE_CONTEXT))
}
