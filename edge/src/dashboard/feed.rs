//! What the daemon feeds the dashboard: the latest overview, bounded rings of recent events by kind,
//! road-damage records, crowding now, logs, the config check, the privacy manifest, redacted stills.
//! The daemon writes; the dashboard reads (and adds crew marks). Every change is also broadcast to
//! the SSE stream as one JSON line `{"type": …, "data": …}`.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::dashboard::marks::DamageMark;

/// Event kinds the dashboard keeps (others are still broadcast, and kept in a small `other` ring).
pub const EVENT_KINDS: [&str; 5] = ["near_miss", "crowd_level", "crowd_minute", "road_damage", "scene_summary"];

const OTHER: &str = "other";
const LOG_LINES: usize = 500;
const LOG_LINE_MAX: usize = 2000;
const MAX_DAMAGE_RECORDS: usize = 5000;
const MAX_MARKS_PER_RECORD: usize = 50;
const MAX_SNAPSHOTS: usize = 200;
const MAX_STILLS: usize = 64;
/// Largest JPEG kept (a redacted still is tens of KB).
pub const MAX_JPEG_BYTES: usize = 2 << 20;

fn capacity(kind: &str) -> usize {
    match kind {
        "near_miss" => 2000,
        // One per zone per minute: a day for four zones.
        "crowd_minute" => 6000,
        "crowd_level" | "road_damage" | "scene_summary" => 1000,
        _ => 200,
    }
}

#[derive(Default)]
struct Inner {
    overview: Option<Value>,
    events: HashMap<&'static str, VecDeque<Value>>,
    damage: HashMap<String, Value>,
    damage_order: VecDeque<String>,
    crowd_now: Option<Value>,
    logs: VecDeque<String>,
    check: Option<Vec<String>>,
    privacy: Option<Value>,
    snapshots: HashMap<String, Arc<Vec<u8>>>,
    snapshot_order: VecDeque<String>,
    stills: HashMap<String, Arc<Vec<u8>>>,
}

pub struct Feed {
    inner: RwLock<Inner>,
    tx: broadcast::Sender<String>,
}

impl Default for Feed {
    fn default() -> Self {
        Self::new()
    }
}

impl Feed {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(256);
        Self { inner: RwLock::new(Inner::default()), tx }
    }

    /// The live stream the SSE route forwards.
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }

    fn broadcast(&self, kind: &str, data: &Value) {
        // Serialising costs something; the overview changes every second even with nobody watching.
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(json!({"type": kind, "data": data}).to_string());
        }
    }

    /// Stores an event envelope (`{"schema","kind","id","seq","device_id","observed_at","data"}`) in
    /// the ring of its kind and broadcasts it. A `road_damage` event also upserts its record.
    pub fn push_event(&self, envelope: Value) {
        let kind = envelope.get("kind").and_then(Value::as_str).unwrap_or(OTHER);
        let key: &'static str = EVENT_KINDS.iter().find(|k| **k == kind).copied().unwrap_or(OTHER);
        if key == "road_damage" {
            if let Some(rec) = envelope.get("data").filter(|d| d.get("record_id").is_some()) {
                self.upsert_damage_record(rec.clone());
            }
        }
        self.broadcast("event", &envelope);
        let mut g = self.inner.write();
        let ring = g.events.entry(key).or_default();
        if ring.len() >= capacity(key) {
            ring.pop_front();
        }
        ring.push_back(envelope);
    }

    /// Cameras (id, state, fps, model…), models, outbox depth, broker link, GNSS fix, uptime.
    pub fn set_overview(&self, v: Value) {
        self.broadcast("overview", &v);
        self.inner.write().overview = Some(v);
    }

    /// Crowd level per zone now: `{"zones": [{zone_id, level, scale, count, density_ppm2, …}]}`.
    pub fn set_crowd_now(&self, v: Value) {
        self.broadcast("crowd_now", &v);
        self.inner.write().crowd_now = Some(v);
    }

    /// Inserts or replaces a road-damage record by `record_id`. Crew marks survive a replacement, and
    /// so does a status the new record does not carry.
    pub fn upsert_damage_record(&self, mut v: Value) {
        let Some(id) = v.get("record_id").and_then(Value::as_str).map(str::to_string) else {
            tracing::warn!("dashboard: road-damage record without record_id ignored");
            return;
        };
        {
            let mut g = self.inner.write();
            if let Some(old) = g.damage.get(&id) {
                if let (Some(obj), Some(marks)) = (v.as_object_mut(), old.get("marks")) {
                    obj.entry("marks").or_insert_with(|| marks.clone());
                    if let Some(st) = old.get("status") {
                        obj.entry("status").or_insert_with(|| st.clone());
                    }
                }
            } else {
                g.damage_order.push_back(id.clone());
                if g.damage_order.len() > MAX_DAMAGE_RECORDS {
                    if let Some(gone) = g.damage_order.pop_front() {
                        g.damage.remove(&gone);
                    }
                }
            }
            g.damage.insert(id, v.clone());
        }
        self.broadcast("damage", &v);
    }

    /// Applies a crew mark to its record (status + mark history). `None`: no such record.
    pub(crate) fn apply_mark(&self, m: &DamageMark) -> Option<Value> {
        let rec = {
            let mut g = self.inner.write();
            let rec = g.damage.get_mut(&m.record_id)?;
            let obj = rec.as_object_mut()?;
            obj.insert("status".into(), json!(m.status.as_str()));
            let marks = obj.entry("marks").or_insert_with(|| json!([]));
            if let Some(a) = marks.as_array_mut() {
                a.push(m.to_json());
                if a.len() > MAX_MARKS_PER_RECORD {
                    a.remove(0);
                }
            }
            rec.clone()
        };
        self.broadcast("damage", &rec);
        Some(rec)
    }

    pub fn push_log(&self, mut line: String) {
        if line.len() > LOG_LINE_MAX {
            let mut cut = LOG_LINE_MAX;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
        }
        self.broadcast("log", &Value::String(line.clone()));
        let mut g = self.inner.write();
        if g.logs.len() >= LOG_LINES {
            g.logs.pop_front();
        }
        g.logs.push_back(line);
    }

    /// The result of the config check (`kaiteki check`): one sentence per problem, empty when fine.
    pub fn set_check_result(&self, problems: Vec<String>) {
        self.inner.write().check = Some(problems);
    }

    /// The privacy manifest: what is processed, what leaves the device, what is never stored.
    pub fn set_privacy(&self, v: Value) {
        self.inner.write().privacy = Some(v);
    }

    /// A redacted JPEG for a road-damage record, served at `/api/dash/snapshots/{id}` to logged-in users.
    /// Put the same path in the record's `snapshot` field. Only the redactor's output type is accepted: no
    /// raw frame can reach the dashboard.
    pub fn put_snapshot(&self, id: &str, img: &crate::privacy::RedactedImage) {
        let jpeg = img.jpeg();
        if jpeg.len() > MAX_JPEG_BYTES || !is_jpeg(jpeg) {
            tracing::warn!(id, "dashboard: snapshot is not a JPEG under 2 MiB; ignored");
            return;
        }
        let mut g = self.inner.write();
        if g.snapshots.insert(id.to_string(), Arc::new(jpeg.to_vec())).is_none() {
            g.snapshot_order.push_back(id.to_string());
            if g.snapshot_order.len() > MAX_SNAPSHOTS {
                if let Some(gone) = g.snapshot_order.pop_front() {
                    g.snapshots.remove(&gone);
                }
            }
        }
    }

    /// A redacted still of a camera for the admin calibration view (people, vehicles and faces destroyed).
    pub fn set_calibration_still(&self, camera: &str, img: &crate::privacy::RedactedImage) {
        let jpeg = img.jpeg();
        if jpeg.len() > MAX_JPEG_BYTES || !is_jpeg(jpeg) {
            tracing::warn!(camera, "dashboard: calibration still is not a JPEG under 2 MiB; ignored");
            return;
        }
        let mut g = self.inner.write();
        if g.stills.len() < MAX_STILLS || g.stills.contains_key(camera) {
            g.stills.insert(camera.to_string(), Arc::new(jpeg.to_vec()));
        }
    }

    // Readers for the routes.

    pub(crate) fn overview(&self) -> Option<Value> {
        self.inner.read().overview.clone()
    }

    /// The newest `limit` events of a kind, oldest first.
    pub(crate) fn recent(&self, kind: &str, limit: usize) -> Vec<Value> {
        let g = self.inner.read();
        let Some(ring) = g.events.get(kind) else { return Vec::new() };
        ring.iter().skip(ring.len().saturating_sub(limit)).cloned().collect()
    }

    pub(crate) fn damage_records(&self) -> Vec<Value> {
        let g = self.inner.read();
        g.damage_order.iter().filter_map(|id| g.damage.get(id).cloned()).collect()
    }

    pub(crate) fn damage_record(&self, id: &str) -> Option<Value> {
        self.inner.read().damage.get(id).cloned()
    }

    pub(crate) fn crowd_now(&self) -> Option<Value> {
        self.inner.read().crowd_now.clone()
    }

    pub(crate) fn logs(&self) -> Vec<String> {
        self.inner.read().logs.iter().cloned().collect()
    }

    pub(crate) fn check_result(&self) -> Option<Vec<String>> {
        self.inner.read().check.clone()
    }

    pub(crate) fn privacy(&self) -> Option<Value> {
        self.inner.read().privacy.clone()
    }

    pub(crate) fn snapshot(&self, id: &str) -> Option<Arc<Vec<u8>>> {
        self.inner.read().snapshots.get(id).cloned()
    }

    pub(crate) fn still(&self, camera: &str) -> Option<Arc<Vec<u8>>> {
        self.inner.read().stills.get(camera).cloned()
    }

    pub(crate) fn still_cameras(&self) -> Vec<String> {
        let mut v: Vec<String> = self.inner.read().stills.keys().cloned().collect();
        v.sort();
        v
    }
}

fn is_jpeg(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xD8, 0xFF])
}
