//! Redacted snapshots: their configuration and a bounded on-disk store.
//!
//! The store accepts only [`RedactedImage`]s, so nothing raw can be kept by mistake. It lives in its own
//! folder under the state dir, writes atomically (temp file, fsync, rename, fsync of the folder: a crash
//! leaves either the whole JPEG or nothing) and drops the oldest snapshots past a count, a byte total and
//! an age, so a busy camera can never fill the disk.

use std::collections::VecDeque;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::Deserialize;
use uuid::Uuid;

use super::redact::{Method, RedactOptions, RedactedImage, DEFAULT_OBJECT_CLASSES};

/// The redactor's person/vehicle detector when `object_model` is not set (found beside the config or installed).
pub const DEFAULT_OBJECT_MODEL: &str = "centernet_human_512.toml";
/// The redactor's face detector when `face_model` is not set.
pub const DEFAULT_FACE_MODEL: &str = "blazeface_full_range_192.toml";

/// `[snapshots]`: redacted still images (dashboard calibration stills, road-damage evidence…). Off by
/// default: an appliance only keeps images when its operator says so.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SnapshotConfig {
    pub enabled: bool,
    /// Largest JPEG in bytes; quality is lowered until an image fits, else it is not produced.
    pub max_bytes: usize,
    /// Longest side in pixels; larger frames are downscaled first.
    pub max_side: u32,
    /// Object boxes grow by this fraction of their size on every side before being destroyed.
    pub margin: f32,
    /// The same for faces (more: hair, ears and chin lie outside a face box).
    pub face_margin: f32,
    /// Object detector threshold for redaction: low on purpose, a missed person is a leak.
    pub object_min_score: f32,
    /// Face detector threshold.
    pub face_min_score: f32,
    /// Object-model labels destroyed.
    pub object_classes: Vec<String>,
    /// "fill" (solid grey, default, safest) or "pixelate" (coarse quantised blocks) for people and
    /// vehicles; faces are always filled.
    pub method: Method,
    /// Keep at most this many snapshots on disk…
    pub retention_count: usize,
    /// …none older than this…
    pub retention_hours: u32,
    /// …and at most this many bytes in all.
    pub retention_bytes: u64,
    /// Manifest of the person/vehicle detector the redactor runs (relative to the config file).
    /// Default: `centernet_human_512.toml` in the models folder beside the config, or the installed one.
    pub object_model: Option<PathBuf>,
    /// Manifest of the face detector. Default: `blazeface_full_range_192.toml`, found the same way.
    pub face_model: Option<PathBuf>,
    /// Also publish each road-damage evidence snapshot over MQTT, on `…/snapshots/{record_id}` (the
    /// redacted JPEG itself as the payload, QoS 1, through the outbox like every event). Off by default:
    /// images leave the box only when the operator says so.
    pub publish: bool,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        let r = RedactOptions::default();
        Self {
            enabled: false,
            max_bytes: r.max_bytes,
            max_side: r.max_side,
            margin: r.margin,
            face_margin: r.face_margin,
            object_min_score: r.object_min_score,
            face_min_score: r.face_min_score,
            object_classes: DEFAULT_OBJECT_CLASSES.iter().map(|s| s.to_string()).collect(),
            method: r.method,
            retention_count: 200,
            retention_hours: 72,
            retention_bytes: 50_000_000,
            object_model: None,
            face_model: None,
            publish: false,
        }
    }
}

impl SnapshotConfig {
    /// The redactor's options from this configuration.
    pub fn redact_options(&self) -> RedactOptions {
        RedactOptions {
            object_classes: self.object_classes.clone(),
            object_min_score: self.object_min_score,
            face_min_score: self.face_min_score,
            margin: self.margin,
            face_margin: self.face_margin,
            method: self.method,
            max_bytes: self.max_bytes,
            max_side: self.max_side,
            ..RedactOptions::default()
        }
    }

    pub fn retention(&self) -> Retention {
        Retention {
            count: self.retention_count,
            age: Duration::from_secs(u64::from(self.retention_hours) * 3600),
            bytes: self.retention_bytes,
        }
    }

    /// Every out-of-range value, in words (for `kaiteki check`); empty when all is well.
    pub fn problems(&self) -> Vec<String> {
        let mut p = self.redact_options().problems();
        if self.retention_count == 0 {
            p.push("retention_count must be at least 1".into());
        }
        if self.retention_hours == 0 {
            p.push("retention_hours must be at least 1".into());
        }
        if self.publish && !self.enabled {
            p.push("publish = true needs enabled = true (there is nothing to publish otherwise)".into());
        }
        if self.retention_bytes < self.max_bytes as u64 {
            p.push(format!("retention_bytes ({}) must hold at least one snapshot of max_bytes ({})", self.retention_bytes, self.max_bytes));
        }
        p
    }
}

/// Bounds of a [`SnapshotStore`]; past any of them the oldest snapshots go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub count: usize,
    pub age: Duration,
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("snapshot store {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("snapshot of {bytes} bytes exceeds the store's total of {limit} bytes")]
    TooLarge { bytes: u64, limit: u64 },
}

#[derive(Debug, Clone)]
struct Entry {
    id: Uuid,
    bytes: u64,
    created: SystemTime,
}

/// A folder of redacted JPEGs named `<uuid v7>.jpg` (time-ordered ids), bounded by a [`Retention`].
#[derive(Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
    limits: Retention,
    /// Oldest first.
    entries: VecDeque<Entry>,
    total: u64,
}

const TMP_PREFIX: &str = ".tmp-";

impl SnapshotStore {
    /// Opens (creating) `dir`, e.g. `<state_dir>/snapshots`: indexes the snapshots already there, removes
    /// temp files a crash left behind and applies the bounds. Files it did not write are left alone.
    pub fn open(dir: &Path, limits: Retention) -> Result<Self, SnapshotError> {
        let io = |source| SnapshotError::Io { path: dir.to_path_buf(), source };
        fs::create_dir_all(dir).map_err(io)?;
        let mut entries = Vec::new();
        for e in fs::read_dir(dir).map_err(io)? {
            let e = e.map_err(io)?;
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(e.path());
                continue;
            }
            let Some(id) = name.strip_suffix(".jpg").and_then(|s| Uuid::parse_str(s).ok()) else { continue };
            let Some(created) = created_at(&id) else { continue };
            let bytes = e.metadata().map_err(io)?.len();
            entries.push(Entry { id, bytes, created });
        }
        entries.sort_by_key(|e| e.id);
        let total = entries.iter().map(|e| e.bytes).sum();
        let mut store = Self { dir: dir.to_path_buf(), limits, entries: entries.into(), total };
        store.prune_at(SystemTime::now())?;
        Ok(store)
    }

    /// Stores a redacted image atomically and returns its id; older snapshots past the bounds are removed.
    pub fn put(&mut self, img: &RedactedImage) -> Result<Uuid, SnapshotError> {
        let bytes = img.jpeg().len() as u64;
        if bytes > self.limits.bytes {
            return Err(SnapshotError::TooLarge { bytes, limit: self.limits.bytes });
        }
        let id = Uuid::now_v7();
        let path = self.path_of(&id);
        let tmp = self.dir.join(format!("{TMP_PREFIX}{id}.jpg"));
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| SnapshotError::Io { path: p, source }
        };
        let write = || -> std::io::Result<()> {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(img.jpeg())?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            // The rename itself must survive a power cut.
            fs::File::open(&self.dir)?.sync_all()
        };
        if let Err(e) = write() {
            let _ = fs::remove_file(&tmp);
            return Err(io(&path)(e));
        }
        self.entries.push_back(Entry { id, bytes, created: created_at(&id).unwrap_or_else(SystemTime::now) });
        self.total += bytes;
        self.prune_at(SystemTime::now())?;
        Ok(id)
    }

    /// The JPEG of a stored snapshot (None if unknown or already dropped).
    pub fn get(&self, id: &Uuid) -> Option<Vec<u8>> {
        self.entries.iter().any(|e| e.id == *id).then(|| fs::read(self.path_of(id)).ok()).flatten()
    }

    /// Ids of stored snapshots, oldest first.
    pub fn ids(&self) -> Vec<Uuid> {
        self.entries.iter().map(|e| e.id).collect()
    }

    pub fn total_bytes(&self) -> u64 {
        self.total
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Drops the oldest snapshots while over the count or byte bound, and any older than the age bound at
    /// `now`.
    pub fn prune_at(&mut self, now: SystemTime) -> Result<(), SnapshotError> {
        while let Some(oldest) = self.entries.front() {
            let too_old = now.duration_since(oldest.created).is_ok_and(|age| age > self.limits.age);
            if !(too_old || self.entries.len() > self.limits.count || self.total > self.limits.bytes) {
                break;
            }
            let path = self.path_of(&oldest.id);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(SnapshotError::Io { path, source }),
            }
            self.total = self.total.saturating_sub(oldest.bytes);
            self.entries.pop_front();
        }
        Ok(())
    }

    fn path_of(&self, id: &Uuid) -> PathBuf {
        self.dir.join(format!("{id}.jpg"))
    }
}

/// Creation time from a v7 id's timestamp; None for other ids (not ours).
fn created_at(id: &Uuid) -> Option<SystemTime> {
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::redact::tests::sample_image;

    fn limits(count: usize, bytes: u64) -> Retention {
        Retention { count, age: Duration::from_secs(3600), bytes }
    }

    #[test]
    fn config_defaults_are_off_and_sane_and_unknown_keys_fail() {
        let c: SnapshotConfig = toml::from_str("").unwrap();
        assert!(!c.enabled);
        assert_eq!(c, SnapshotConfig::default());
        assert!(c.problems().is_empty(), "{:?}", c.problems());
        assert_eq!(c.redact_options(), RedactOptions::default());
        let c: SnapshotConfig = toml::from_str("enabled = true\nmethod = \"pixelate\"\nmargin = 0.2").unwrap();
        assert_eq!((c.enabled, c.method, c.margin), (true, Method::Pixelate, 0.2));
        assert!(toml::from_str::<SnapshotConfig>("method = \"blur\"").is_err());
        assert!(toml::from_str::<SnapshotConfig>("retention = 3").is_err());
        let bad = SnapshotConfig { retention_count: 0, retention_bytes: 10, ..SnapshotConfig::default() };
        assert_eq!(bad.problems().len(), 2, "{:?}", bad.problems());
        let schema = serde_json::to_string(&schemars::schema_for!(SnapshotConfig)).unwrap();
        assert!(schema.contains("retention_hours") && schema.contains("pixelate"));
    }

    #[test]
    fn store_keeps_the_newest_within_count_and_bytes_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let snaps = dir.path().join("snapshots");
        let img = sample_image(64, 48);
        let size = img.jpeg().len() as u64;
        let mut store = SnapshotStore::open(&snaps, limits(3, 1_000_000)).unwrap();
        let ids: Vec<Uuid> = (0..5).map(|_| store.put(&img).unwrap()).collect();
        assert_eq!(store.ids(), ids[2..].to_vec());
        assert_eq!(store.total_bytes(), 3 * size);
        assert_eq!(store.get(&ids[4]).unwrap(), img.jpeg());
        assert!(store.get(&ids[0]).is_none());
        assert_eq!(fs::read_dir(&snaps).unwrap().count(), 3);

        // A crash's leftover temp file is removed; a foreign file is left alone; a tighter byte bound applies.
        fs::write(snaps.join(".tmp-crashed.jpg"), b"half").unwrap();
        fs::write(snaps.join("README"), b"not ours").unwrap();
        let store = SnapshotStore::open(&snaps, limits(10, 2 * size)).unwrap();
        assert_eq!(store.ids(), ids[3..].to_vec());
        assert!(!snaps.join(".tmp-crashed.jpg").exists() && snaps.join("README").exists());
    }

    #[test]
    fn store_drops_by_age_and_refuses_what_can_never_fit() {
        let dir = tempfile::tempdir().unwrap();
        let img = sample_image(32, 32);
        let mut store = SnapshotStore::open(dir.path(), limits(10, 1_000_000)).unwrap();
        store.put(&img).unwrap();
        store.put(&img).unwrap();
        store.prune_at(SystemTime::now() + Duration::from_secs(1800)).unwrap();
        assert_eq!(store.ids().len(), 2);
        store.prune_at(SystemTime::now() + Duration::from_secs(7200)).unwrap();
        assert!(store.ids().is_empty() && store.total_bytes() == 0);

        let mut tiny = SnapshotStore::open(&dir.path().join("tiny"), limits(10, 10)).unwrap();
        assert!(matches!(tiny.put(&img), Err(SnapshotError::TooLarge { .. })));
    }
}
