use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::*;

const DEV: &str = "pole-1";
const EVENT_ID: &str = "01890a5d-ac96-774b-bcce-b302099a8057";
const AT: &str = "2026-05-01T10:00:00.25Z";

/// `schemas/<sub>` beside the crate (scratch) or at the repository root (edge crate).
fn schema_dir(sub: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    [root.join("../schemas").join(sub), root.join("schemas").join(sub)]
        .into_iter()
        .find(|p| p.is_dir())
        .unwrap_or_else(|| panic!("schemas/{sub} not found"))
}

fn validator(path: PathBuf) -> jsonschema::Validator {
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(jsonschema::meta::is_valid(&doc), "{}: not a valid schema", path.display());
    jsonschema::options().should_validate_formats(true).build(&doc).unwrap()
}

fn assert_valid(v: &jsonschema::Validator, instance: &Value, what: &str) {
    let errs: Vec<String> = v.iter_errors(instance).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errs.is_empty(), "{what}: {errs:#?}\n{instance:#}");
}

fn check_entity(e: &Entity, ty: &str) {
    assert_eq!(e.entity_type, ty);
    assert_eq!(e.body["type"], ty);
    assert_eq!(e.body["id"], e.id.as_str());
    assert_valid(&validator(schema_dir("ngsi-ld").join(format!("{ty}.schema.json"))), &e.body, ty);
}

fn envelope(kind: &str, data: Value) -> Value {
    let env = json!({"schema": "kaiteki.event.v1", "kind": kind, "id": EVENT_ID, "seq": 42,
                     "device_id": DEV, "observed_at": AT, "data": data});
    // The test envelope must itself be a valid event of its kind.
    assert_valid(&validator(schema_dir("events").join(format!("{kind}.schema.json"))), &env, kind);
    env
}

fn ctx() -> NgsiContext {
    NgsiContext { device_id: DEV.into(), device_location: Some((139.6917, 35.6895)), ref_road_segment: None }
}

fn road_damage_data(class: &str, triage: &str) -> Value {
    let sev = json!({"metric": "diameter", "size_m": 0.42, "unit": "m", "width_m": 0.4, "length_m": 0.42,
                     "area_m2": 0.13, "bin": 2});
    json!({"change": "created", "record_id": "rd-000017", "class": class, "status": "open", "triage": triage,
           "severity": sev, "position": {"lat": 35.6581, "lon": 139.7017, "uncertainty_m": 2.5},
           "confidence": 0.81, "observations": 1, "passes_seen": 1, "passes_missed": 0,
           "first_seen": "2026-05-01T09:59:58Z", "last_seen": AT, "camera": "front",
           "observation": {"class": class, "frames": 6, "confidence": 0.81, "severity": sev, "triage": triage,
               "position": {"lat": 35.6581, "lon": 139.7017, "uncertainty_m": 2.5}, "heading_deg": 92.0,
               "speed_mps": 8.3, "first_seen": "2026-05-01T09:59:58Z", "last_seen": AT}})
}

fn near_miss_data(lat: Value, lon: Value) -> Value {
    json!({"camera": "north", "conflict_type": "crossing", "severity": "critical",
           "users": [{"id": "0123456789abcdef", "class_id": 2, "label": "car", "kind": "car", "speed_mps": 9.1, "heading_deg": 90.0},
                     {"id": "fedcba9876543210", "class_id": 0, "label": "person", "kind": "pedestrian", "speed_mps": 1.3, "heading_deg": 0.0}],
           "approaching_id": "0123456789abcdef", "first_through_id": "fedcba9876543210",
           "t_start": 100.0, "t_end": 103.5, "t_min_ttc": 102.0, "min_ttc_s": 0.9, "pet_s": 0.7,
           "max_drac_mps2": 4.2, "heading_difference_deg": 88.0, "position": [3.5, 12.0],
           "lat": lat, "lon": lon, "zone_id": "crosswalk-1"})
}

fn crowd_level_data(rising: bool) -> Value {
    json!({"camera": "plaza", "zone_id": "gate", "scale": "alert", "from": "normal", "to": "danger",
           "rising": rising, "since": 50.0, "t": 52.0, "count": 140, "density_ppm2": 4.1})
}

fn crowd_minute_data() -> Value {
    json!({"camera": "plaza", "zoneId": "gate", "dateObservedFrom": 0.0, "dateObservedTo": 60.0,
           "peopleCount": 85, "peopleCountMin": 10, "peopleCountMean": 22.5, "peopleCountMax": 40,
           "densityMean": 0.8, "densityMax": 1.6, "occupancy": 0.97, "averageCrowdSpeed": 1.2, "congested": false,
           "direction": "inbound", "flowIn": 50, "flowOut": 30, "levelOfService": "C", "occupancyStatus": null})
}

fn near_miss_hourly_data() -> Value {
    json!({"camera": "north", "period_start": 7200.0, "period_end": 10800.0, "road_users": 830,
           "road_users_by_kind": {"pedestrian": 300, "cyclist": 80, "car": 400, "bus": 20, "truck": 30}, "conflicts": 3,
           "by_type": {"crossing": {"serious": 1, "critical": 1}, "rear_end": {"serious": 1, "critical": 0}},
           "by_users": {"car/pedestrian": 2, "car/car": 1}, "risk_index": 0.6})
}

fn scene_summary_data() -> Value {
    json!({"camera": "north", "window_start_s": 0.0, "window_end_s": 10.0, "frames_processed": 100,
           "frames_inferred": 100, "frames_dropped_total": 0, "model_id": "yolo11n",
           "counts": {"car": {"mean": 2.5, "min": 1, "max": 4}}})
}

fn coords(e: &Entity) -> (f64, f64) {
    let c = &e.body["location"]["value"]["coordinates"];
    (c[0].as_f64().unwrap(), c[1].as_f64().unwrap())
}

fn one(env: &Value) -> Entity {
    let mut v = to_entities(env, &ctx()).unwrap();
    assert_eq!(v.len(), 1, "{v:#?}");
    v.remove(0)
}

#[test]
fn road_damage_pothole_alert() {
    let e = one(&envelope("road_damage", road_damage_data("D40", "repair_needed")));
    check_entity(&e, "Alert");
    assert_eq!(e.id, format!("urn:ngsi-ld:Alert:{DEV}:{EVENT_ID}"));
    assert_eq!(e.body["category"]["value"], "traffic");
    assert_eq!(e.body["subCategory"]["value"], "pothole");
    assert_eq!(e.body["severity"]["value"], "high");
    assert_eq!(coords(&e), (139.7017, 35.6581), "GeoJSON order is [lon, lat]");
    assert_eq!(e.body["location"]["type"], "GeoProperty");
    assert_eq!(e.body["category"]["observedAt"], AT);
    assert_eq!(e.body["dateIssued"]["value"]["@value"], AT);
    assert_eq!(e.body["alertSource"], json!({"type": "Relationship", "object": "urn:ngsi-ld:Device:pole-1"}));
    assert_eq!(e.body["@context"], json!([CORE_CONTEXT, ALERT_CONTEXT, {"kaiteki": KAITEKI_NAMESPACE}]));
    assert!(e.body["description"]["value"].as_str().unwrap().contains("pothole"));
}

#[test]
fn road_damage_cracks_and_triage() {
    for (class, triage, sev) in [("D00", "damage_no_repair", "low"), ("D10", "none", "informational"), ("D20", "repair_needed", "high")] {
        let e = one(&envelope("road_damage", road_damage_data(class, triage)));
        check_entity(&e, "Alert");
        assert_eq!(e.body["subCategory"]["value"], "hazardOnRoad");
        assert_eq!(e.body["severity"]["value"], sev);
        assert_eq!(e.body["kaiteki:damageClass"]["value"], class);
    }
    // No position anywhere: no location, still valid.
    let mut d = road_damage_data("D40", "repair_needed");
    d["position"] = Value::Null;
    d["observation"]["position"] = Value::Null;
    d["observation"]["no_position"] = json!("no fix");
    let e = one(&envelope("road_damage", d));
    check_entity(&e, "Alert");
    assert!(e.body.get("location").is_none());
    // A repaired record closes the alert.
    let mut d = road_damage_data("D40", "repair_needed");
    d["status"] = json!("repaired");
    d["change"] = json!("marked");
    let e = one(&envelope("road_damage", d));
    check_entity(&e, "Alert");
    assert_eq!(e.body["validTo"]["value"]["@value"], AT);
}

#[test]
fn near_miss_alert() {
    let e = one(&envelope("near_miss", near_miss_data(json!(35.001), json!(139.002))));
    check_entity(&e, "Alert");
    assert_eq!(e.id, format!("urn:ngsi-ld:Alert:{DEV}:{EVENT_ID}"));
    assert_eq!(e.body["subCategory"]["value"], "hazardOnRoad");
    assert_eq!(e.body["severity"]["value"], "critical");
    assert_eq!(coords(&e), (139.002, 35.001));
    assert_eq!(e.body["location"]["observedAt"], AT);
    assert_eq!(e.body["kaiteki:conflictType"]["value"], "crossing");
    assert_eq!(e.body["kaiteki:minTtc"]["unitCode"], "SEC");
    // Not georeferenced: no location.
    let e = one(&envelope("near_miss", near_miss_data(Value::Null, Value::Null)));
    check_entity(&e, "Alert");
    assert!(e.body.get("location").is_none());
}

#[test]
fn crowd_level_alert_only_when_rising() {
    let e = one(&envelope("crowd_level", crowd_level_data(true)));
    check_entity(&e, "Alert");
    assert_eq!(e.body["subCategory"]["value"], "crowdRisk");
    assert_eq!(e.body["category"]["value"], "security");
    assert_eq!(e.body["severity"]["value"], "critical");
    assert_eq!(coords(&e), (139.6917, 35.6895));
    let mut d = crowd_level_data(false);
    d["from"] = json!("danger");
    d["to"] = json!("caution");
    assert!(to_entities(&envelope("crowd_level", d), &ctx()).unwrap().is_empty());
}

#[test]
fn crowd_minute_flow() {
    let e = one(&envelope("crowd_minute", crowd_minute_data()));
    check_entity(&e, "CrowdFlowObserved");
    assert_eq!(e.id, format!("urn:ngsi-ld:CrowdFlowObserved:{DEV}:{EVENT_ID}"));
    assert_eq!(e.body["peopleCount"]["value"], 85);
    assert_eq!(e.body["peopleCount"]["observedAt"], AT);
    assert_eq!(e.body["congested"]["value"], false);
    assert_eq!(e.body["dateObservedFrom"]["value"]["@value"], "2026-05-01T09:59:00.25Z");
    assert_eq!(e.body["dateObservedTo"]["value"]["@value"], AT);
    assert_eq!(e.body["dateObserved"]["value"], format!("2026-05-01T09:59:00.25Z/{AT}"));
    let kmh = e.body["averageCrowdSpeed"]["value"].as_f64().unwrap();
    assert!((kmh - 4.32).abs() < 1e-9);
    assert_eq!(e.body["refDevice"]["object"], "urn:ngsi-ld:Device:pole-1");
    assert_eq!(e.body["@context"], json!([CORE_CONTEXT, TRANSPORTATION_CONTEXT, {"kaiteki": KAITEKI_NAMESPACE}]));
    // With a road segment configured.
    let c = NgsiContext { ref_road_segment: Some("urn:ngsi-ld:RoadSegment:seg-7".into()), ..ctx() };
    let e = to_entities(&envelope("crowd_minute", crowd_minute_data()), &c).unwrap().remove(0);
    check_entity(&e, "CrowdFlowObserved");
    assert_eq!(e.body["refRoadSegment"]["object"], "urn:ngsi-ld:RoadSegment:seg-7");
}

#[test]
fn near_miss_hourly_traffic_flow() {
    let e = one(&envelope("near_miss_hourly", near_miss_hourly_data()));
    check_entity(&e, "TrafficFlowObserved");
    assert_eq!(e.id, format!("urn:ngsi-ld:TrafficFlowObserved:{DEV}:{EVENT_ID}"));
    assert_eq!(e.body["dateObservedFrom"]["value"]["@value"], "2026-05-01T09:00:00.25Z");
    assert_eq!(e.body["kaiteki:roadUsers"]["value"], 830);
    assert_eq!(e.body["intensity"]["value"], 530, "vehicles: everyone but the 300 pedestrians");
    assert_eq!(e.body["kaiteki:roadUsersByKind"]["value"]["cyclist"], 80);
    // The `kaiteki:` prefix is declared, so JSON-LD expands it.
    assert_eq!(e.body["@context"][2]["kaiteki"], crate::ngsi::KAITEKI_NAMESPACE);
}

fn roughness_data(class: &str, valid: bool) -> Value {
    json!({"start_distance_m": 200.0, "length_m": 100.0, "start_t_s": 20.0, "end_t_s": 30.0, "iri_m_per_km": 11.5,
           "class": class, "mean_speed_mps": 10.0, "accel_rms_mps2": 1.2, "samples": 1000, "used_samples": 990,
           "coverage": 0.99, "impacts": 1, "valid": valid, "invalid_reason": null,
           "start": {"lat": 35.60, "lon": 140.10}, "end": {"lat": 35.61, "lon": 140.12}})
}

#[test]
fn rough_segments_and_impacts_are_road_hazard_alerts() {
    let e = one(&envelope("roughness", roughness_data("very_poor", true)));
    check_entity(&e, "Alert");
    assert_eq!((e.body["subCategory"]["value"].as_str(), e.body["severity"]["value"].as_str()), (Some("hazardOnRoad"), Some("high")));
    let c = &e.body["location"]["value"]["coordinates"];
    assert!((c[0].as_f64().unwrap() - 140.11).abs() < 1e-9 && (c[1].as_f64().unwrap() - 35.605).abs() < 1e-9, "the middle: {c}");
    assert_eq!(e.body["kaiteki:iri"]["value"], 11.5);
    assert_eq!(one(&envelope("roughness", roughness_data("poor", true))).body["severity"]["value"], "medium");

    let impact = json!({"t_s": 1.0, "distance_m": 10.0, "peak_mps2": -14.0, "severity": 1.2, "speed_mps": 12.0,
                        "position": {"lat": 35.0, "lon": 140.0}, "heading_deg": 10.0});
    let e = one(&envelope("road_impact", impact));
    check_entity(&e, "Alert");
    assert_eq!(e.body["severity"]["value"], "high");
    assert_eq!(e.body["kaiteki:peakAcceleration"]["unitCode"], "MSK");
    assert_eq!(e.body["location"]["value"]["coordinates"], json!([140.0, 35.0]));
    let bad = json!({"t_s": 1.0, "distance_m": 10.0, "peak_mps2": -14.0, "severity": 1.2, "speed_mps": 12.0,
                     "position": {"lat": 95.0, "lon": 140.0}, "heading_deg": null});
    assert!(to_entities(&envelope("road_impact", bad), &ctx()).is_err(), "an impossible latitude is refused");
}

#[test]
fn unmapped_kinds_give_nothing() {
    let data = [
        ("scene_summary", scene_summary_data()),
        ("damage_mark", json!({"record_id": "rd-1", "status": "verified", "user": "crew", "note": null, "at": AT})),
        ("road_impact", json!({"t_s": 1.0, "distance_m": 10.0, "peak_mps2": -9.0, "severity": 0.8, "speed_mps": 12.0,
                               "position": null, "heading_deg": null})),
        ("roughness", roughness_data("fair", true)),
        ("roughness", roughness_data("very_poor", false)),
    ];
    for (kind, d) in data {
        assert!(to_entities(&envelope(kind, d), &ctx()).unwrap().is_empty(), "{kind}");
    }
}

#[test]
fn device_and_privacy_entities() {
    let t = time::macros::datetime!(2026-05-01 10:00:00 UTC);
    let e = device_entity(DEV, "0.1.0", Some((139.6917, 35.6895)), Some(t)).unwrap();
    check_entity(&e, "Device");
    assert_eq!(e.id, "urn:ngsi-ld:Device:pole-1");
    assert_eq!(coords(&e), (139.6917, 35.6895));
    assert_eq!(e.body["@context"], json!([CORE_CONTEXT, DEVICE_CONTEXT, {"kaiteki": KAITEKI_NAMESPACE}]));
    assert!(device_entity("bad id", "0.1.0", None, None).is_err());
    assert!(device_entity(DEV, "0.1.0", Some((35.0, 139.0)), None).is_err(), "lat out of range");

    // As `PrivacyManifest::build` serialises it.
    let manifest = json!({
        "id": "urn:ngsi-ld:PrivacyObject:pole-1", "type": "PrivacyObject", "refDevice": "urn:ngsi-ld:Device:pole-1",
        "name": "pole-1", "description": "Camera analytics appliance", "purpose": "Road safety",
        "category": ["sensor", "multimedia"], "owner": ["City of Example"], "contactPoint": "privacy@example.org",
        "isPersonalData": false, "retentionPeriod": "video frames: not stored", "legitimateInterest": "Public task",
        "crossborderTransfer": "None", "recipientList": ["city data platform"],
        "kaiteki:detects": ["person", "car"], "kaiteki:publishes": ["near_miss"], "kaiteki:rawVideoLeavesDevice": false,
        "kaiteki:faceRecognition": false, "kaiteki:licencePlateReading": false,
        "kaiteki:appearanceFeaturesStored": false, "kaiteki:trackIdRotation": "hourly"});
    let e = privacy_entity(&manifest).unwrap();
    check_entity(&e, "PrivacyObject");
    assert_eq!(e.id, "urn:ngsi-ld:PrivacyObject:pole-1");
    assert_eq!(e.body["refDevice"], json!({"type": "Relationship", "object": "urn:ngsi-ld:Device:pole-1"}));
    assert_eq!(e.body["kaiteki:faceRecognition"]["value"], false);
    for (k, v) in [("id", json!(7)), ("type", json!("Device")), ("isPersonalData", json!("no")), ("owner", json!("x"))] {
        let mut m = manifest.clone();
        m[k] = v;
        assert!(privacy_entity(&m).is_err(), "{k}");
    }
    assert_eq!(privacy_entity(&json!([1])), Err(NgsiError::NotAnObject));
}

#[test]
fn schemas_reject_off_spec_values() {
    let e = one(&envelope("road_damage", road_damage_data("D40", "repair_needed")));
    let v = validator(schema_dir("ngsi-ld").join("Alert.schema.json"));
    for (k, bad) in [("subCategory", json!("nearMiss")), ("severity", json!("severe")), ("category", json!("crowd"))] {
        let mut b = e.body.clone();
        b[k]["value"] = bad;
        assert!(!v.is_valid(&b), "{k}");
    }
    let mut b = e.body.clone();
    b["location"]["value"]["coordinates"] = json!([35.6581, 239.7017]);
    assert!(!v.is_valid(&b), "lat out of range");
}

#[test]
fn malformed_envelopes_are_errors() {
    let good = envelope("near_miss", near_miss_data(json!(35.0), json!(139.0)));
    let mut no_data = good.clone();
    no_data.as_object_mut().unwrap().remove("data");
    assert_eq!(to_entities(&no_data, &ctx()), Err(NgsiError::Missing("data".into())));
    let mut unknown = good.clone();
    unknown["kind"] = json!("weather");
    assert_eq!(to_entities(&unknown, &ctx()), Err(NgsiError::UnknownKind("weather".into())));
    let mut v2 = good.clone();
    v2["schema"] = json!("kaiteki.event.v2");
    assert!(matches!(to_entities(&v2, &ctx()), Err(NgsiError::UnsupportedSchema(_))));
    let mut lat = good.clone();
    lat["data"]["lat"] = json!("35.0");
    assert!(matches!(to_entities(&lat, &ctx()), Err(NgsiError::WrongType { .. })));
    let mut far = good.clone();
    far["data"]["lat"] = json!(135.0);
    assert!(matches!(to_entities(&far, &ctx()), Err(NgsiError::Invalid { .. })));
    let mut half = good.clone();
    half["data"]["lon"] = Value::Null;
    assert!(to_entities(&half, &ctx()).is_err());
    let mut when = good.clone();
    when["observed_at"] = json!("yesterday");
    assert!(matches!(to_entities(&when, &ctx()), Err(NgsiError::Invalid { .. })));
    let mut urn = good.clone();
    urn["id"] = json!("a b");
    assert!(to_entities(&urn, &ctx()).is_err());
    assert!(matches!(to_entities(&good, &NgsiContext::new("pole-2")), Err(NgsiError::DeviceMismatch { .. })));
    assert_eq!(to_entities(&json!("x"), &ctx()), Err(NgsiError::NotAnObject));
    // Kind mismatching its data.
    let mut wrong = good.clone();
    wrong["kind"] = json!("road_damage");
    assert!(to_entities(&wrong, &ctx()).is_err());
    for e in [no_data, unknown, lat] {
        let msg = to_entities(&e, &ctx()).unwrap_err().to_string();
        assert!(!msg.is_empty());
    }
}

/// Every field (nested ones too) removed, or replaced by null / a number / a string / an array / an object /
/// a boolean: never a panic.
#[test]
fn fuzz_no_panic() {
    fn paths(v: &Value, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        if let Some(m) = v.as_object() {
            for (k, x) in m {
                let mut p = prefix.clone();
                p.push(k.clone());
                out.push(p.clone());
                paths(x, p, out);
            }
        }
    }
    fn at<'a>(v: &'a mut Value, path: &[String]) -> &'a mut Value {
        path.iter().fold(v, |v, k| &mut v[k.as_str()])
    }
    let samples = [
        envelope("road_damage", road_damage_data("D40", "repair_needed")),
        envelope("near_miss", near_miss_data(json!(35.0), json!(139.0))),
        envelope("crowd_level", crowd_level_data(true)),
        envelope("crowd_minute", crowd_minute_data()),
        envelope("near_miss_hourly", near_miss_hourly_data()),
        envelope("scene_summary", scene_summary_data()),
    ];
    let replacements = [Value::Null, json!(-1), json!(1e308), json!("x"), json!([]), json!({}), json!(true)];
    let mut runs = 0;
    for s in &samples {
        let mut ps = Vec::new();
        paths(s, Vec::new(), &mut ps);
        for p in &ps {
            let (last, parent) = p.split_last().unwrap();
            let mut removed = s.clone();
            at(&mut removed, parent).as_object_mut().unwrap().remove(last);
            let _ = to_entities(&removed, &ctx());
            for r in &replacements {
                let mut m = s.clone();
                *at(&mut m, p) = r.clone();
                if let Ok(es) = to_entities(&m, &ctx()) {
                    for e in es {
                        assert!(e.id.starts_with("urn:ngsi-ld:"));
                    }
                }
                runs += 1;
            }
        }
    }
    assert!(runs > 300, "{runs}");
}
