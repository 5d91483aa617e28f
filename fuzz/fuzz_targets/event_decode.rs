//! The consumer-side event decoder (`kaiteki::events::decode_event`) on arbitrary messages.
//!
//! Input: the topic, a newline, the payload (the seeds in `fuzz/seeds/event_decode/` are real events in
//! this form). An input without a newline is all payload, on the topic of a `scene_summary` event.
//! Besides not panicking, every accepted message must be on the event's own topic and re-encode to a
//! message that decodes to the same event.
#![no_main]

use kaiteki::events::decode_event;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const DEFAULT_TOPIC: &str = "kaiteki/v1/pole-01/events/scene_summary";

fuzz_target!(|input: &[u8]| {
    let (topic, payload) = match input.iter().position(|&b| b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&input[..i]), &input[i + 1..]),
        None => (DEFAULT_TOPIC.into(), input),
    };
    let Ok(ev) = decode_event(&topic, payload) else { return };
    assert_eq!(ev.topic(), topic, "accepted on a topic that is not the event's own");
    let bytes = ev.to_json().expect("an accepted event re-encodes");
    let again = decode_event(&topic, &bytes).unwrap_or_else(|e| panic!("the re-encoded event is rejected: {e}"));
    assert_eq!(
        (&again.device_id, again.kind, again.id, again.seq, again.observed_at),
        (&ev.device_id, ev.kind, ev.id, ev.seq, ev.observed_at)
    );
    assert!(same_json(&again.data, &ev.data), "data changed: {} vs {}", ev.data, again.data);
});

/// Equal up to what a JSON text round trip keeps: serde_json (without its `float_roundtrip` feature)
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
