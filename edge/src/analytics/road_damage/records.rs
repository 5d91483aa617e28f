//! Road-damage records: one per damage on the road, whatever the number of frames, passes, days or
//! buses that saw it. Kept on disk (SQLite, one JSON row per record) so that a record found on Monday
//! is joined by Tuesday's pass after any number of restarts.
//!
//! Joining: a new observation joins the nearest record of the same class within the merge radius that
//! is still open (a record a crew marked `repaired` is closed; damage seen there again is new damage).
//! Passes: while the vehicle's camera has a record's place in view, that is a pass; a pass without an
//! observation of it is a miss, and `missed_passes` misses in a row make it `possibly_repaired`.

use std::collections::HashMap;
use std::path::Path;

use rusqlite::{params, Connection};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::geotag::{distance_m, Position};
use super::severity::{Severity, Triage};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    Open,
    /// Not seen on several passes over its place: a crew should check.
    PossiblyRepaired,
    /// Marked by a crew.
    Verified,
    FalsePositive,
    Repaired,
}

impl RecordStatus {
    /// Closed records are kept for history but never joined or passed again.
    pub fn is_closed(self) -> bool {
        matches!(self, RecordStatus::Repaired)
    }
}

/// What happened to a record, published with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Observed,
    PossiblyRepaired,
    Marked,
}

/// One damage on the road, as stored and as published in `road_damage` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DamageRecord {
    pub record_id: String,
    /// Damage class label (D00, D10, D20, D40, …).
    pub class: String,
    pub status: RecordStatus,
    pub triage: Triage,
    /// The largest severity observed (damage grows; a smaller reading is usually a worse view).
    pub severity: Option<Severity>,
    /// Mean position of its observations; `None` when none had a position.
    pub position: Option<Position>,
    /// Highest detector score of any observation.
    pub confidence: f32,
    pub observations: u32,
    pub passes_seen: u32,
    /// Passes in a row without an observation.
    pub passes_missed: u32,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::schema::DateTime")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::schema::DateTime")]
    pub last_seen: OffsetDateTime,
    /// Camera of the latest observation.
    pub camera: String,
    /// Dashboard path of the redacted evidence snapshot, where snapshots are enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
}

/// One damage seen over consecutive frames of one pass (one track).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Observation {
    pub class: String,
    pub frames: u32,
    pub confidence: f32,
    pub severity: Option<Severity>,
    pub triage: Triage,
    pub position: Option<Position>,
    /// Why there is no position (no fix, no heading, not calibrated…); never a stale fix instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_position: Option<String>,
    pub heading_deg: Option<f64>,
    pub speed_mps: Option<f64>,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::schema::DateTime")]
    pub first_seen: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schemars(with = "crate::events::schema::DateTime")]
    pub last_seen: OffsetDateTime,
    /// Stream time of the last frame (process-local; for pass bookkeeping only).
    #[serde(skip)]
    pub t_last: f64,
}

/// The data of a `road_damage` event: the record after the change, and the observation that caused it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct RoadDamageEvent {
    pub change: Change,
    #[serde(flatten)]
    pub record: DamageRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("road-damage records {path}: {source}")]
    Db { path: String, source: rusqlite::Error },
    #[error("no road-damage record `{0}`")]
    NotFound(String),
}

/// An ongoing pass over a record's place (stream time of the camera).
#[derive(Debug, Clone, Copy)]
struct Pass {
    start: f64,
    last_in_view: f64,
    seen: bool,
}

/// ~110 m x ~90 m grid cells (0.001°) for finding records near a point without a full scan.
fn cell(lat: f64, lon: f64) -> (i64, i64) {
    ((lat * 1000.0).floor() as i64, (lon * 1000.0).floor() as i64)
}

pub struct RecordStore {
    conn: Option<Connection>,
    path: String,
    records: HashMap<String, DamageRecord>,
    grid: HashMap<(i64, i64), Vec<String>>,
    passes: HashMap<String, Pass>,
    /// Stream time of each record's latest observation (this process only).
    last_obs_t: HashMap<String, f64>,
    max_records: usize,
    /// Records dropped to stay under `max_records`.
    pub evicted: u64,
}

impl RecordStore {
    /// Opens (creating) `<dir>/road_damage.sqlite` and loads every record. Rows that do not parse are
    /// logged and skipped, never fatal: one bad row must not lose the others.
    pub fn open(dir: &Path, max_records: usize) -> Result<Self, RecordError> {
        let file = dir.join("road_damage.sqlite");
        let path = file.display().to_string();
        let db = |source| RecordError::Db { path: path.clone(), source };
        let conn = Connection::open(&file).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        conn.execute("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, body TEXT NOT NULL)", []).map_err(db)?;
        let mut store = Self::empty(max_records);
        store.path = path.clone();
        {
            let mut stmt = conn.prepare("SELECT id, body FROM records").map_err(db)?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(db)?;
            for row in rows {
                let (id, body) = row.map_err(db)?;
                match serde_json::from_str::<DamageRecord>(&body) {
                    Ok(rec) if rec.record_id == id => store.index(rec),
                    Ok(_) => tracing::warn!(%id, "road-damage record with a mismatching id skipped"),
                    Err(e) => tracing::warn!(%id, error = %e, "unreadable road-damage record skipped"),
                }
            }
        }
        store.conn = Some(conn);
        Ok(store)
    }

    /// A store that keeps records in memory only (tests, `kaiteki detect`).
    pub fn in_memory(max_records: usize) -> Self {
        Self::empty(max_records)
    }

    fn empty(max_records: usize) -> Self {
        Self {
            conn: None,
            path: String::new(),
            records: HashMap::new(),
            grid: HashMap::new(),
            passes: HashMap::new(),
            last_obs_t: HashMap::new(),
            max_records: max_records.max(1),
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&DamageRecord> {
        self.records.get(id)
    }

    /// Every record, oldest first.
    pub fn all(&self) -> Vec<DamageRecord> {
        let mut v: Vec<DamageRecord> = self.records.values().cloned().collect();
        v.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.record_id.cmp(&b.record_id)));
        v
    }

    fn index(&mut self, rec: DamageRecord) {
        if let Some(p) = rec.position {
            self.grid.entry(cell(p.lat, p.lon)).or_default().push(rec.record_id.clone());
        }
        self.records.insert(rec.record_id.clone(), rec);
    }

    fn unindex(&mut self, id: &str) -> Option<DamageRecord> {
        let rec = self.records.remove(id)?;
        if let Some(p) = rec.position {
            if let Some(ids) = self.grid.get_mut(&cell(p.lat, p.lon)) {
                ids.retain(|x| x != id);
            }
        }
        Some(rec)
    }

    fn persist(&self, rec: &DamageRecord) {
        let Some(conn) = &self.conn else { return };
        let body = match serde_json::to_string(rec) {
            Ok(b) => b,
            Err(e) => return tracing::error!(error = %e, "cannot encode a road-damage record"),
        };
        if let Err(e) = conn.execute("INSERT OR REPLACE INTO records (id, body) VALUES (?1, ?2)", params![rec.record_id, body]) {
            // The record stays in memory and is published; it is written again at its next change.
            tracing::error!(path = %self.path, error = %e, "cannot store a road-damage record");
        }
    }

    fn delete(&self, id: &str) {
        if let Some(conn) = &self.conn {
            if let Err(e) = conn.execute("DELETE FROM records WHERE id = ?1", params![id]) {
                tracing::error!(path = %self.path, error = %e, "cannot delete a road-damage record");
            }
        }
    }

    /// Record ids within `radius` metres of a point (any class, any status).
    pub fn near(&self, lat: f64, lon: f64, radius: f64) -> Vec<&DamageRecord> {
        let (ci, cj) = cell(lat, lon);
        // A cell is at least ~70 m wide below 50° latitude; look as many cells out as the radius needs.
        let reach = ((radius / 70.0).ceil() as i64).clamp(1, 20);
        let mut out = Vec::new();
        for i in ci - reach..=ci + reach {
            for j in cj - reach..=cj + reach {
                for id in self.grid.get(&(i, j)).into_iter().flatten() {
                    if let Some(r) = self.records.get(id) {
                        if let Some(p) = r.position {
                            if distance_m(lat, lon, p.lat, p.lon) <= radius {
                                out.push(r);
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Adds an observation: joins the nearest open record of its class within `merge_radius_m`, or
    /// creates a record.
    pub fn observe(&mut self, obs: Observation, camera: &str, merge_radius_m: f64) -> RoadDamageEvent {
        let join = obs.position.and_then(|p| {
            self.near(p.lat, p.lon, merge_radius_m)
                .into_iter()
                .filter(|r| r.class == obs.class && !r.status.is_closed())
                .filter_map(|r| r.position.map(|q| (distance_m(p.lat, p.lon, q.lat, q.lon), r.record_id.clone())))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, id)| id)
        });
        let (rec, change) = match join.and_then(|id| self.unindex(&id)) {
            Some(mut rec) => {
                rec.observations = rec.observations.saturating_add(1);
                rec.confidence = rec.confidence.max(obs.confidence);
                rec.last_seen = rec.last_seen.max(obs.last_seen);
                rec.camera = camera.to_string();
                if let (Some(old), Some(new)) = (rec.position, obs.position) {
                    rec.position = Some(merge_positions(old, rec.observations - 1, new));
                }
                let bigger = match (&rec.severity, &obs.severity) {
                    (Some(old), Some(new)) => new.size_m > old.size_m,
                    (None, Some(_)) => true,
                    _ => false,
                };
                if bigger {
                    rec.severity = obs.severity.clone();
                    rec.triage = rec.triage.max(obs.triage);
                }
                if rec.status == RecordStatus::PossiblyRepaired {
                    rec.status = RecordStatus::Open;
                }
                rec.passes_missed = 0;
                (rec, Change::Observed)
            }
            None => (
                DamageRecord {
                    record_id: Uuid::now_v7().to_string(),
                    class: obs.class.clone(),
                    status: RecordStatus::Open,
                    triage: obs.triage,
                    severity: obs.severity.clone(),
                    position: obs.position,
                    confidence: obs.confidence,
                    observations: 1,
                    passes_seen: 0,
                    passes_missed: 0,
                    first_seen: obs.first_seen,
                    last_seen: obs.last_seen,
                    camera: camera.to_string(),
                    snapshot: None,
                },
                Change::Created,
            ),
        };
        let id = rec.record_id.clone();
        self.last_obs_t.insert(id.clone(), obs.t_last);
        if let Some(p) = self.passes.get_mut(&id) {
            p.seen = true;
        }
        self.persist(&rec);
        self.index(rec.clone());
        if change == Change::Created {
            self.evict_over_limit();
        }
        RoadDamageEvent { change, record: rec, observation: Some(obs) }
    }

    /// Pass bookkeeping for one frame at stream time `t`: `in_view` says whether a record's place is in
    /// the camera's view now (only records near `around` are asked). A pass ends once its record has
    /// been out of view for `grace_s` (long enough for a track still in flight to be finalised).
    pub fn passes(
        &mut self,
        t: f64,
        around: Option<(f64, f64)>,
        view_radius_m: f64,
        grace_s: f64,
        missed_limit: u32,
        in_view: impl Fn(&DamageRecord) -> bool,
    ) -> Vec<RoadDamageEvent> {
        if let Some((lat, lon)) = around {
            let visible: Vec<String> = self
                .near(lat, lon, view_radius_m)
                .into_iter()
                .filter(|r| !r.status.is_closed() && r.status != RecordStatus::FalsePositive)
                .filter(|r| in_view(r))
                .map(|r| r.record_id.clone())
                .collect();
            for id in visible {
                self.passes.entry(id).and_modify(|p| p.last_in_view = t).or_insert(Pass { start: t, last_in_view: t, seen: false });
            }
        }
        let ended: Vec<(String, Pass)> =
            self.passes.iter().filter(|(_, p)| t - p.last_in_view > grace_s || t < p.start).map(|(k, p)| (k.clone(), *p)).collect();
        let mut out = Vec::new();
        for (id, pass) in ended {
            self.passes.remove(&id);
            let seen = pass.seen || self.last_obs_t.get(&id).is_some_and(|&o| o >= pass.start - grace_s && o <= pass.last_in_view + grace_s);
            let Some(mut rec) = self.records.get(&id).cloned() else { continue };
            let mut change = None;
            if seen {
                rec.passes_seen = rec.passes_seen.saturating_add(1);
                rec.passes_missed = 0;
            } else {
                rec.passes_missed = rec.passes_missed.saturating_add(1);
                if rec.passes_missed >= missed_limit && matches!(rec.status, RecordStatus::Open | RecordStatus::Verified) {
                    rec.status = RecordStatus::PossiblyRepaired;
                    change = Some(Change::PossiblyRepaired);
                }
            }
            self.persist(&rec);
            self.records.insert(id, rec.clone());
            if let Some(change) = change {
                out.push(RoadDamageEvent { change, record: rec, observation: None });
            }
        }
        out
    }

    /// A crew's verdict from the dashboard.
    pub fn mark(&mut self, id: &str, status: RecordStatus) -> Result<RoadDamageEvent, RecordError> {
        let rec = self.records.get_mut(id).ok_or_else(|| RecordError::NotFound(id.to_string()))?;
        rec.status = status;
        if status != RecordStatus::PossiblyRepaired {
            rec.passes_missed = 0;
        }
        let rec = rec.clone();
        if status.is_closed() {
            self.passes.remove(id);
        }
        self.persist(&rec);
        Ok(RoadDamageEvent { change: Change::Marked, record: rec, observation: None })
    }

    /// Sets the dashboard path of a record's redacted snapshot.
    pub fn set_snapshot(&mut self, id: &str, path: String) {
        if let Some(rec) = self.records.get_mut(id) {
            rec.snapshot = Some(path);
            let rec = rec.clone();
            self.persist(&rec);
        }
    }

    fn evict_over_limit(&mut self) {
        while self.records.len() > self.max_records {
            // Closed and false-positive records go first, then the least recently seen.
            let victim = self
                .records
                .values()
                .min_by_key(|r| (!matches!(r.status, RecordStatus::Repaired | RecordStatus::FalsePositive), r.last_seen))
                .map(|r| r.record_id.clone());
            let Some(id) = victim else { break };
            self.unindex(&id);
            self.passes.remove(&id);
            self.last_obs_t.remove(&id);
            self.delete(&id);
            self.evicted += 1;
            tracing::warn!(record = %id, max = self.max_records, "road-damage record store full: oldest record dropped");
        }
    }
}

/// Running mean of `n` earlier positions with a new one; the uncertainty is the better of the two,
/// not shrunk further: GNSS errors of passes minutes apart are correlated.
fn merge_positions(old: Position, n: u32, new: Position) -> Position {
    let n = f64::from(n.max(1));
    Position {
        lat: (old.lat * n + new.lat) / (n + 1.0),
        lon: (old.lon * n + new.lon) / (n + 1.0),
        uncertainty_m: old.uncertainty_m.min(new.uncertainty_m),
    }
}
