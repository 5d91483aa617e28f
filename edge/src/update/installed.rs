//! Which bundle each model slot runs, kept in the state folder so an update survives a restart:
//! `<state>/models/<slot>/active.json`, written atomically (temporary file, fsync, rename) only after
//! the new model serves. Installed bundles live beside it in `<version>-<digest prefix>/`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::UpdateError;

/// One installed model version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledModel {
    pub version: String,
    /// sha256 of the bundle it came from (hex); empty for the model in the configuration.
    pub digest: String,
    /// The manifest to load (absolute).
    pub manifest: PathBuf,
}

/// What a slot runs now, and what it ran before (the rollback target).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveRecord {
    pub active: InstalledModel,
    pub previous: Option<InstalledModel>,
    /// The active model is still in its watch window. A daemon that restarts in this state serves
    /// `previous` instead: the new model has not proven itself, and its retained offer installs and
    /// watches it again.
    #[serde(default)]
    pub watching: bool,
}

impl ActiveRecord {
    /// What to serve at start, and whether that is a fall-back from an unfinished watch.
    pub fn to_serve(&self) -> (&InstalledModel, bool) {
        match (&self.previous, self.watching) {
            (Some(prev), true) => (prev, true),
            _ => (&self.active, false),
        }
    }
}

pub fn slot_dir(state_dir: &Path, slot: &str) -> PathBuf {
    state_dir.join("models").join(slot)
}

fn record_path(state_dir: &Path, slot: &str) -> PathBuf {
    slot_dir(state_dir, slot).join("active.json")
}

/// The slot's record; `Ok(None)` when no update was ever installed. A record whose manifest is gone
/// is an error (the caller falls back to the configured model and says so).
pub fn load(state_dir: &Path, slot: &str) -> Result<Option<ActiveRecord>, UpdateError> {
    let path = record_path(state_dir, slot);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(UpdateError::Io { context: format!("reading {}", path.display()), source: e }),
    };
    let rec: ActiveRecord = serde_json::from_slice(&bytes)
        .map_err(|e| UpdateError::Invalid(format!("{}: {e}", path.display())))?;
    if !rec.active.manifest.is_file() {
        return Err(UpdateError::Invalid(format!("{}: manifest {} is missing", path.display(), rec.active.manifest.display())));
    }
    Ok(Some(rec))
}

/// Replaces the slot's record atomically.
pub fn store(state_dir: &Path, slot: &str, rec: &ActiveRecord) -> Result<(), UpdateError> {
    let dir = slot_dir(state_dir, slot);
    std::fs::create_dir_all(&dir).map_err(|e| UpdateError::Io { context: format!("creating {}", dir.display()), source: e })?;
    let text = serde_json::to_vec_pretty(rec).map_err(|e| UpdateError::Invalid(e.to_string()))?;
    super::receive::write_atomic(&dir, "active.json", "active.json.tmp", &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_missing_manifest() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path(), "people").unwrap(), None);
        let manifest = dir.path().join("m.toml");
        std::fs::write(&manifest, "x").unwrap();
        let rec = ActiveRecord {
            active: InstalledModel { version: "2.0.0".into(), digest: "ab".repeat(32), manifest: manifest.clone() },
            previous: Some(InstalledModel { version: "1.0.0".into(), digest: String::new(), manifest: manifest.clone() }),
            watching: false,
        };
        assert_eq!(rec.to_serve(), (&rec.active, false));
        let probation = ActiveRecord { watching: true, ..rec.clone() };
        assert_eq!(probation.to_serve(), (rec.previous.as_ref().unwrap(), true));
        store(dir.path(), "people", &rec).unwrap();
        assert_eq!(load(dir.path(), "people").unwrap(), Some(rec));
        std::fs::remove_file(&manifest).unwrap();
        let e = load(dir.path(), "people").unwrap_err().to_string();
        assert!(e.contains("m.toml is missing"), "{e}");
        std::fs::write(record_path(dir.path(), "people"), "{not json").unwrap();
        assert!(load(dir.path(), "people").is_err());
    }
}
