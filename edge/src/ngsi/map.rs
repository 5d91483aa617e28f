//! The per-kind mappings from `kaiteki.event.v1` envelopes to NGSI-LD entities.
//!
//! Times: `observed_at` is the capture time of the frame that produced the event. Aggregates carry their
//! window in stream seconds; the window is placed on the wall clock so that it ends at `observed_at`
//! (`dateObservedFrom = observed_at − (end − start)`), an approximation within one frame interval.

use serde_json::{json, Map, Value};
use time::{Duration, OffsetDateTime};

use super::*;

const SCHEMA_VERSION: &str = "kaiteki.event.v1";

/// The event kinds of `kaiteki.event.v1` (`schemas/events/`).
const KNOWN_KINDS: &[&str] = &[
    "scene_summary",
    "near_miss",
    "near_miss_hourly",
    "crowd_level",
    "crowd_minute",
    "damage_mark",
    "road_damage",
    "roughness",
    "road_impact",
    "health",
    "model_status",
];

/// Converts one event envelope into the NGSI-LD entities it maps to (none for kinds without a Smart Data
/// Models counterpart). Malformed or foreign envelopes are an error; nothing here panics.
pub fn to_entities(envelope: &Value, ctx: &NgsiContext) -> Result<Vec<Entity>, NgsiError> {
    let env = Obj::root(envelope)?;
    let schema = env.str("schema")?;
    if schema != SCHEMA_VERSION {
        return Err(NgsiError::UnsupportedSchema(schema.to_string()));
    }
    let kind = env.str("kind")?;
    if !KNOWN_KINDS.contains(&kind) {
        return Err(NgsiError::UnknownKind(kind.to_string()));
    }
    let ev = Event::parse(&env, ctx)?;
    let data = env.obj("data")?;
    match kind {
        "road_damage" => road_damage(&ev, &data).map(|e| vec![e]),
        "near_miss" => near_miss(&ev, &data).map(|e| e.into_iter().collect()),
        "crowd_level" => crowd_level(&ev, &data).map(|e| e.into_iter().collect()),
        "crowd_minute" => crowd_minute(&ev, &data).map(|e| vec![e]),
        "near_miss_hourly" => near_miss_hourly(&ev, &data).map(|e| vec![e]),
        "roughness" => roughness(&ev, &data).map(|e| e.into_iter().collect()),
        "road_impact" => road_impact(&ev, &data).map(|e| e.into_iter().collect()),
        // scene_summary: `counts` are objects per frame (mean/min/max presence), not vehicles passing, so they
        // cannot honestly fill TrafficFlowObserved `intensity` ("total number of vehicles detected during this
        // observation period"); damage_mark is a crew's note on a record (its Alert follows as road_damage);
        // health and model_status describe the device, not the city. The data is still checked above.
        _ => Ok(Vec::new()),
    }
}

/// The envelope fields every mapping uses.
struct Event<'a> {
    id: &'a str,
    device_id: &'a str,
    observed_at: OffsetDateTime,
    at: String,
    ctx: &'a NgsiContext,
}

impl<'a> Event<'a> {
    fn parse(env: &Obj<'a>, ctx: &'a NgsiContext) -> Result<Self, NgsiError> {
        let id = env.str("id")?;
        check_id_part("id", id)?;
        env.u64("seq")?;
        let device_id = env.str("device_id")?;
        check_id_part("device_id", device_id)?;
        if device_id != ctx.device_id {
            return Err(NgsiError::DeviceMismatch { envelope: device_id.into(), context: ctx.device_id.clone() });
        }
        let observed_at = env.time("observed_at")?;
        Ok(Self { id, device_id, observed_at, at: rfc3339(observed_at), ctx })
    }

    fn urn(&self, entity_type: &str) -> String {
        format!("urn:ngsi-ld:{entity_type}:{}:{}", self.device_id, self.id)
    }

    fn p(&self, v: Value) -> Value {
        prop(v, Some(&self.at))
    }

    /// The wall-clock window ending at `observed_at` that lasted `seconds`.
    fn window(&self, field: &str, start_s: f64, end_s: f64) -> Result<(String, String), NgsiError> {
        let len = end_s - start_s;
        if !(0.0..=366.0 * 86_400.0).contains(&len) {
            return Err(NgsiError::Invalid { field: field.into(), reason: format!("window of {len} s") });
        }
        let from = self.observed_at - Duration::seconds_f64(len);
        Ok((rfc3339(from), self.at.clone()))
    }

    /// Attributes every Alert carries.
    fn alert_attrs(&self, category: &str, sub_category: &str, severity: &str, description: String) -> Map<String, Value> {
        let mut a = Map::new();
        a.insert("category".into(), self.p(json!(category)));
        a.insert("subCategory".into(), self.p(json!(sub_category)));
        a.insert("severity".into(), self.p(json!(severity)));
        a.insert("description".into(), self.p(json!(description)));
        a.insert("dateIssued".into(), date_prop(&self.at));
        a.insert("validFrom".into(), date_prop(&self.at));
        a.insert("alertSource".into(), rel(&device_urn(self.device_id)));
        a
    }

    /// Flow-observation period attributes (CrowdFlowObserved / TrafficFlowObserved).
    fn period_attrs(&self, a: &mut Map<String, Value>, from: &str, to: &str) {
        // `dateObserved` may be an ISO 8601 interval per both specs; From/To are the broker-friendly split.
        a.insert("dateObserved".into(), self.p(json!(format!("{from}/{to}"))));
        a.insert("dateObservedFrom".into(), date_prop(from));
        a.insert("dateObservedTo".into(), date_prop(to));
        a.insert("refDevice".into(), rel(&device_urn(self.device_id)));
        if let Some(seg) = &self.ctx.ref_road_segment {
            a.insert("refRoadSegment".into(), rel(seg));
        }
        if let Some((lon, lat)) = self.ctx.device_location {
            a.insert("location".into(), geo_point(lon, lat, None));
        }
    }
}

/// RDD2020 class → Alert `subCategory`. The Alert enum has `pothole`; it has nothing for cracks, so cracks
/// (D00 longitudinal, D10 transverse, D20 alligator) and any other class become `hazardOnRoad`, the closest
/// allowed value, with the class itself in `kaiteki:damageClass`.
pub fn damage_sub_category(class: &str) -> &'static str {
    match class {
        "D40" => "pothole",
        _ => "hazardOnRoad",
    }
}

fn damage_name(class: &str) -> &'static str {
    match class {
        "D00" => "longitudinal crack",
        "D10" => "transverse crack",
        "D20" => "alligator cracking",
        "D40" => "pothole",
        _ => "road damage",
    }
}

/// Triage → Alert `severity` (enum informational, low, medium, high, critical).
fn triage_severity(triage: &str) -> Result<&'static str, NgsiError> {
    match triage {
        "repair_needed" => Ok("high"),
        "damage_no_repair" => Ok("low"),
        "none" => Ok("informational"),
        other => Err(NgsiError::Invalid { field: "data.triage".into(), reason: format!("unknown triage {other:?}") }),
    }
}

fn road_damage(ev: &Event, d: &Obj) -> Result<Entity, NgsiError> {
    let class = d.str("class")?;
    let record = d.str("record_id")?;
    let status = d.str("status")?;
    let triage = d.str("triage")?;
    let change = d.str("change")?;
    let severity = triage_severity(triage)?;
    let size = d.opt_obj("severity")?.map(|s| -> Result<_, NgsiError> {
        Ok((s.f64("size_m")?, s.str("unit")?.to_string(), s.u64("bin")?))
    });
    let size = size.transpose()?;
    let mut description = format!("{} ({class}), record {record}: {change}, status {status}, triage {triage}", damage_name(class));
    if let Some((v, unit, _)) = &size {
        description.push_str(&format!(", size {v:.2} {unit}"));
    }
    let mut a = ev.alert_attrs("traffic", damage_sub_category(class), severity, description);
    // Position: the record's mean position, else the triggering observation's.
    let pos = match d.opt_obj("position")? {
        Some(p) => Some(p.lon_lat()?),
        None => match d.opt_obj("observation")? {
            Some(o) => o.opt_obj("position")?.map(|p| p.lon_lat()).transpose()?,
            None => None,
        },
    };
    if let Some((lon, lat)) = pos {
        a.insert("location".into(), geo_point(lon, lat, Some(&ev.at)));
    }
    if matches!(status, "repaired" | "false_positive") {
        a.insert("validTo".into(), date_prop(&ev.at));
    }
    a.insert("kaiteki:damageClass".into(), ev.p(json!(class)));
    a.insert("kaiteki:recordId".into(), ev.p(json!(record)));
    a.insert("kaiteki:recordStatus".into(), ev.p(json!(status)));
    a.insert("kaiteki:change".into(), ev.p(json!(change)));
    a.insert("kaiteki:triage".into(), ev.p(json!(triage)));
    a.insert("kaiteki:confidence".into(), ev.p(json!(d.f64("confidence")?)));
    a.insert("kaiteki:camera".into(), ev.p(json!(d.str("camera")?)));
    if let Some((v, unit, bin)) = size {
        let code = if unit.contains('²') || unit.contains("2") { "MTK" } else { "MTR" };
        a.insert("kaiteki:damageSize".into(), prop_unit(json!(v), code, Some(&ev.at)));
        a.insert("kaiteki:severityBin".into(), ev.p(json!(bin)));
    }
    Ok(entity("Alert", ev.urn("Alert"), a, ALERT_CONTEXT))
}

/// A conflict between two road users. The Alert subCategory enum has no near-miss value; `hazardOnRoad` is the
/// closest (a dangerous situation on the road, nobody hurt), the conflict type in `kaiteki:conflictType`.
/// Tier `none` is never published as a conflict; such an event gives no Alert.
fn near_miss(ev: &Event, d: &Obj) -> Result<Option<Entity>, NgsiError> {
    let conflict = d.str("conflict_type")?;
    let tier = d.str("severity")?;
    let severity = match tier {
        "critical" => "critical",
        "serious" => "high",
        "none" => return Ok(None),
        other => {
            return Err(NgsiError::Invalid { field: "data.severity".into(), reason: format!("unknown tier {other:?}") })
        }
    };
    let users = d.opt("users").and_then(Value::as_array).ok_or(NgsiError::WrongType {
        field: "data.users".into(),
        expected: "array",
    })?;
    let mut kinds = Vec::with_capacity(2);
    for (i, u) in users.iter().enumerate() {
        let u = u.as_object().ok_or(NgsiError::WrongType { field: format!("data.users[{i}]"), expected: "object" })?;
        let k = u.get("kind").and_then(Value::as_str).ok_or(NgsiError::WrongType {
            field: format!("data.users[{i}].kind"),
            expected: "string",
        })?;
        kinds.push(k);
    }
    let ttc = d.opt_f64("min_ttc_s")?;
    let pet = d.opt_f64("pet_s")?;
    let drac = d.opt_f64("max_drac_mps2")?;
    let mut description = format!("{tier} {} conflict between {}", conflict.replace('_', "-"), kinds.join(" and "));
    if let Some(t) = ttc {
        description.push_str(&format!(", min TTC {t:.2} s"));
    }
    if let Some(t) = pet {
        description.push_str(&format!(", PET {t:.2} s"));
    }
    let mut a = ev.alert_attrs("traffic", "hazardOnRoad", severity, description);
    match (d.opt_f64("lat")?, d.opt_f64("lon")?) {
        (Some(lat), Some(lon)) => {
            check_lon_lat(lon, lat, "data")?;
            a.insert("location".into(), geo_point(lon, lat, Some(&ev.at)));
        }
        (None, None) => {}
        _ => return Err(NgsiError::Invalid { field: "data.lat/lon".into(), reason: "only one of lat, lon".into() }),
    }
    a.insert("kaiteki:conflictType".into(), ev.p(json!(conflict)));
    a.insert("kaiteki:roadUsers".into(), ev.p(json!(kinds)));
    if let Some(t) = ttc {
        a.insert("kaiteki:minTtc".into(), prop_unit(json!(t), "SEC", Some(&ev.at)));
    }
    if let Some(t) = pet {
        a.insert("kaiteki:pet".into(), prop_unit(json!(t), "SEC", Some(&ev.at)));
    }
    if let Some(x) = drac {
        a.insert("kaiteki:maxDrac".into(), prop_unit(json!(x), "MSK", Some(&ev.at)));
    }
    if let Some(z) = d.opt_str("zone_id")? {
        a.insert("kaiteki:zoneId".into(), ev.p(json!(z)));
    }
    a.insert("kaiteki:camera".into(), ev.p(json!(d.str("camera")?)));
    Ok(Some(entity("Alert", ev.urn("Alert"), a, ALERT_CONTEXT)))
}

/// Severity of a crowd level (Fruin LOS A–F, or the alert scale normal/caution/danger).
fn level_severity(level: &str) -> Result<&'static str, NgsiError> {
    Ok(match level {
        "A" | "B" | "normal" => "informational",
        "C" => "low",
        "D" => "medium",
        "E" | "caution" => "high",
        "F" | "danger" => "critical",
        other => return Err(NgsiError::Invalid { field: "data.to".into(), reason: format!("unknown level {other:?}") }),
    })
}

/// A crowd level entered: an Alert `crowdRisk` when the level got worse; an easing gives none. The Alert
/// `category` enum has no crowd value: crowd safety is filed under `security`.
fn crowd_level(ev: &Event, d: &Obj) -> Result<Option<Entity>, NgsiError> {
    let to = d.str("to")?;
    let from = d.str("from")?;
    let scale = d.str("scale")?;
    let severity = level_severity(to)?;
    level_severity(from)?;
    if !d.bool("rising")? {
        return Ok(None);
    }
    let zone = d.str("zone_id")?;
    let count = d.u64("count")?;
    let density = d.f64("density_ppm2")?;
    let scale_name = if scale == "los" { "level of service" } else { "crowd alert level" };
    let description = format!("zone {zone}: {scale_name} {from} → {to}, {count} people, {density:.2} people/m²");
    let mut a = ev.alert_attrs("security", "crowdRisk", severity, description);
    if let Some((lon, lat)) = ev.ctx.device_location {
        a.insert("location".into(), geo_point(lon, lat, None));
    }
    a.insert("kaiteki:zoneId".into(), ev.p(json!(zone)));
    a.insert("kaiteki:levelScale".into(), ev.p(json!(scale)));
    a.insert("kaiteki:level".into(), ev.p(json!(to)));
    a.insert("kaiteki:previousLevel".into(), ev.p(json!(from)));
    a.insert("kaiteki:peopleCount".into(), ev.p(json!(count)));
    a.insert("kaiteki:density".into(), ev.p(json!(density)));
    a.insert("kaiteki:camera".into(), ev.p(json!(d.str("camera")?)));
    Ok(Some(entity("Alert", ev.urn("Alert"), a, ALERT_CONTEXT)))
}

fn crowd_minute(ev: &Event, d: &Obj) -> Result<Entity, NgsiError> {
    let (from, to) = ev.window("data.dateObservedFrom", d.f64("dateObservedFrom")?, d.f64("dateObservedTo")?)?;
    let mut a = Map::new();
    ev.period_attrs(&mut a, &from, &to);
    a.insert("peopleCount".into(), ev.p(json!(d.u64("peopleCount")?)));
    let occ = d.f64("occupancy")?;
    if !(0.0..=1.0).contains(&occ) {
        return Err(NgsiError::Invalid { field: "data.occupancy".into(), reason: format!("{occ} not in 0..1") });
    }
    a.insert("occupancy".into(), ev.p(json!(occ)));
    a.insert("congested".into(), ev.p(json!(d.bool("congested")?)));
    if let Some(v) = d.opt_f64("averageCrowdSpeed")? {
        // The model's unit is km/h; the event's is m/s.
        a.insert("averageCrowdSpeed".into(), prop_unit(json!(v.max(0.0) * 3.6), "KMH", Some(&ev.at)));
    }
    if let Some(dir) = d.opt_str("direction")? {
        if !matches!(dir, "inbound" | "outbound") {
            return Err(NgsiError::Invalid { field: "data.direction".into(), reason: format!("{dir:?}") });
        }
        a.insert("direction".into(), ev.p(json!(dir)));
    }
    // averageHeadwayTime: not measured by the appliance, so absent.
    a.insert("kaiteki:zoneId".into(), ev.p(json!(d.str("zoneId")?)));
    a.insert("kaiteki:camera".into(), ev.p(json!(d.str("camera")?)));
    a.insert("kaiteki:peopleCountMin".into(), ev.p(json!(d.u64("peopleCountMin")?)));
    a.insert("kaiteki:peopleCountMean".into(), ev.p(json!(d.f64("peopleCountMean")?)));
    a.insert("kaiteki:peopleCountMax".into(), ev.p(json!(d.u64("peopleCountMax")?)));
    a.insert("kaiteki:flowIn".into(), ev.p(json!(d.u64("flowIn")?)));
    a.insert("kaiteki:flowOut".into(), ev.p(json!(d.u64("flowOut")?)));
    if let Some(x) = d.opt_f64("densityMean")? {
        a.insert("kaiteki:densityMean".into(), ev.p(json!(x)));
    }
    if let Some(x) = d.opt_f64("densityMax")? {
        a.insert("kaiteki:densityMax".into(), ev.p(json!(x)));
    }
    if let Some(x) = d.opt_str("levelOfService")? {
        a.insert("kaiteki:levelOfService".into(), ev.p(json!(x)));
    }
    if let Some(x) = d.opt_str("occupancyStatus")? {
        a.insert("kaiteki:occupancyStatus".into(), ev.p(json!(x)));
    }
    Ok(entity("CrowdFlowObserved", ev.urn("CrowdFlowObserved"), a, TRANSPORTATION_CONTEXT))
}

/// The hour's conflicts and exposure as a TrafficFlowObserved. `intensity` ("total number of vehicles detected
/// during this observation period") counts the distinct vehicles: every road-user kind but pedestrians
/// (bicycles are vehicles, 軽車両, under the Road Traffic Act). `kaiteki:roadUsers` counts everyone.
fn near_miss_hourly(ev: &Event, d: &Obj) -> Result<Entity, NgsiError> {
    let (from, to) = ev.window("data.period_start", d.f64("period_start")?, d.f64("period_end")?)?;
    let mut a = Map::new();
    ev.period_attrs(&mut a, &from, &to);
    let by_kind = d.obj("road_users_by_kind")?;
    let mut kinds = Map::new();
    let mut vehicles = 0u64;
    for (k, v) in by_kind.map.iter() {
        let n = v.as_u64().ok_or(NgsiError::WrongType { field: format!("data.road_users_by_kind.{k}"), expected: "count" })?;
        if k != "pedestrian" {
            vehicles += n;
        }
        kinds.insert(k.clone(), json!(n));
    }
    a.insert("intensity".into(), ev.p(json!(vehicles)));
    a.insert("kaiteki:roadUsers".into(), ev.p(json!(d.u64("road_users")?)));
    a.insert("kaiteki:roadUsersByKind".into(), ev.p(Value::Object(kinds)));
    a.insert("kaiteki:conflicts".into(), ev.p(json!(d.u64("conflicts")?)));
    a.insert("kaiteki:riskIndex".into(), ev.p(json!(d.f64("risk_index")?)));
    let by_type = d.obj("by_type")?;
    let mut types = Map::new();
    for t in ["rear_end", "lane_change", "crossing"] {
        if let Some(c) = by_type.opt_obj(t)? {
            types.insert(t.into(), json!({ "serious": c.u64("serious")?, "critical": c.u64("critical")? }));
        }
    }
    a.insert("kaiteki:conflictsByType".into(), ev.p(Value::Object(types)));
    let by_users = d.obj("by_users")?;
    let mut users = Map::new();
    for (k, v) in by_users.map.iter() {
        let n = v.as_u64().ok_or(NgsiError::WrongType { field: format!("data.by_users.{k}"), expected: "count" })?;
        users.insert(k.clone(), json!(n));
    }
    a.insert("kaiteki:conflictsByUsers".into(), ev.p(Value::Object(users)));
    a.insert("kaiteki:camera".into(), ev.p(json!(d.str("camera")?)));
    Ok(entity("TrafficFlowObserved", ev.urn("TrafficFlowObserved"), a, TRANSPORTATION_CONTEXT))
}

/// A rough road segment (class poor or very poor, from a valid estimate) as an Alert `hazardOnRoad`, placed at
/// the segment's middle. Good and fair segments, and estimates marked invalid, are not alerts: the city
/// platform gets them as `roughness` events for its road condition map, not as hazards.
fn roughness(ev: &Event, d: &Obj) -> Result<Option<Entity>, NgsiError> {
    let class = d.str("class")?;
    let severity = match class {
        "very_poor" => "high",
        "poor" => "medium",
        "good" | "fair" => return Ok(None),
        other => return Err(NgsiError::Invalid { field: "data.class".into(), reason: format!("unknown class {other:?}") }),
    };
    if !d.bool("valid")? {
        return Ok(None);
    }
    let iri = d.f64("iri_m_per_km")?;
    let length = d.f64("length_m")?;
    let (start, end) = (d.opt_obj("start")?.map(|p| p.lon_lat()).transpose()?, d.opt_obj("end")?.map(|p| p.lon_lat()).transpose()?);
    let description = format!("Rough road: IRI {iri:.1} m/km ({}) over {length:.0} m", class.replace('_', " "));
    let mut a = ev.alert_attrs("traffic", "hazardOnRoad", severity, description);
    let middle = match (start, end) {
        (Some((lon1, lat1)), Some((lon2, lat2))) => Some(((lon1 + lon2) / 2.0, (lat1 + lat2) / 2.0)),
        (one, other) => one.or(other),
    };
    if let Some((lon, lat)) = middle {
        a.insert("location".into(), geo_point(lon, lat, Some(&ev.at)));
    }
    a.insert("kaiteki:iri".into(), ev.p(json!(iri)));
    a.insert("kaiteki:roughnessClass".into(), ev.p(json!(class)));
    a.insert("kaiteki:segmentLength".into(), prop_unit(json!(length), "MTR", Some(&ev.at)));
    a.insert("kaiteki:meanSpeed".into(), prop_unit(json!(d.f64("mean_speed_mps")?), "MTS", Some(&ev.at)));
    Ok(Some(entity("Alert", ev.urn("Alert"), a, ALERT_CONTEXT)))
}

/// A sharp jolt felt by the vehicle as an Alert `hazardOnRoad` where it happened (a pothole or a broken joint:
/// the accelerometer cannot tell which, so not `pothole`). Severity `high` from 1 g at the reference speed,
/// else `medium` (every impact is at least the detection threshold). Without a position there is no Alert.
fn road_impact(ev: &Event, d: &Obj) -> Result<Option<Entity>, NgsiError> {
    let Some(pos) = d.opt_obj("position")? else { return Ok(None) };
    let (lon, lat) = pos.lon_lat()?;
    let g = d.f64("severity")?;
    let speed = d.f64("speed_mps")?;
    let severity = if g >= 1.0 { "high" } else { "medium" };
    let description = format!("Sharp jolt felt by the vehicle: {g:.2} g at the reference speed (driving {:.0} km/h)", speed * 3.6);
    let mut a = ev.alert_attrs("traffic", "hazardOnRoad", severity, description);
    a.insert("location".into(), geo_point(lon, lat, Some(&ev.at)));
    a.insert("kaiteki:impactSeverity".into(), ev.p(json!(g)));
    a.insert("kaiteki:peakAcceleration".into(), prop_unit(json!(d.f64("peak_mps2")?), "MSK", Some(&ev.at)));
    a.insert("kaiteki:speed".into(), prop_unit(json!(speed), "MTS", Some(&ev.at)));
    Ok(Some(entity("Alert", ev.urn("Alert"), a, ALERT_CONTEXT)))
}
