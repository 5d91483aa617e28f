//! The daemon's configuration: one TOML file describing the device, its cameras, models, analytics,
//! MQTT, HTTP and storage.
//!
//! Loading happens in two steps, so that `kaiteki check` can list *every* problem at once:
//! 1. [`load`] parses the file into typed structs; syntax errors, unknown keys and wrong types stop it
//!    with a located [`Diagnostic`] (serde stops at the first such error).
//! 2. [`Config::validate`] checks meaning (references to pipelines and models, ranges, files and their
//!    checksums) and returns all problems, each with its place in the file.
//!
//! Config structs of the stages live beside their code (e.g. `mqtt::MqttConfig`) and are gathered here.

pub mod diagnostic;
pub mod model;
pub mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

pub use diagnostic::Diagnostic;
pub use model::ModelConfig;

use crate::http::HttpConfig;
use crate::mqtt::MqttConfig;
use crate::source::camera::CameraConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// This appliance's id: used in MQTT topics and every event. Letters, digits, `-` and `_`, at most 64.
    #[schemars(with = "String")]
    pub device_id: toml::Spanned<String>,
    /// Folder holding the pipeline definitions (`<name>.toml`). Relative paths are relative to this
    /// config file. Default: `pipelines` beside the config file, else `/usr/share/kaiteki/pipelines`.
    #[serde(default)]
    #[schemars(with = "Option<PathBuf>")]
    pub pipelines_dir: Option<toml::Spanned<PathBuf>>,
    /// Models by id; cameras refer to them by that id.
    #[serde(default)]
    pub models: BTreeMap<String, ModelConfig>,
    /// Cameras by id (letters, digits, `-`, `_`): the id appears in topics and metrics.
    #[serde(default)]
    pub cameras: BTreeMap<String, CameraConfig>,
    #[serde(default)]
    pub mqtt: MqttConfig,
    #[serde(default)]
    pub http: HttpConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    /// Operator, contact and purpose for the privacy manifest (`/api/privacy`, MQTT `…/privacy`).
    #[serde(default)]
    pub privacy: crate::privacy::PrivacyConfig,
    /// GNSS receiver (serial NMEA, gpsd, a log file) or a recorded drive's NMEA log replayed with its
    /// video: positions for road damage. Absent: no positions (and events say so).
    #[serde(default)]
    pub gnss: Option<crate::gnss::GnssConfig>,
    /// Ride roughness from an accelerometer (IRI per segment, impacts); needs `[gnss]` for distance.
    #[serde(default)]
    pub roughness: Option<crate::roughness::RoughnessConfig>,
    /// Redacted still images (road-damage evidence): off by default, enabled per analytic
    /// (`[cameras.<id>.road_damage] snapshot = true`).
    #[serde(default)]
    pub snapshots: crate::privacy::SnapshotConfig,
    /// Signed model updates pushed over MQTT (`kaiteki model …`): trusted keys, groups, rollback.
    #[serde(default)]
    pub updates: crate::update::config::UpdatesConfig,
    /// The `health` event: how often the device reports its own state.
    #[serde(default)]
    pub health: crate::health::report::HealthConfig,
}

/// Where the appliance keeps its state (sequence numbers, outbox, records).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// State folder; relative paths are relative to the config file. Default `/var/lib/kaiteki`
    /// (systemd's StateDirectory).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// The durable event outbox in `<state_dir>/outbox`: bounds, fsync and drop policy.
    #[serde(default)]
    pub outbox: crate::outbox::OutboxConfig,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self { state_dir: default_state_dir(), outbox: Default::default() }
    }
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("/var/lib/kaiteki")
}

/// A parsed config together with where it came from, for resolving relative paths and locating errors.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub text: String,
    pub config: Config,
}

/// Parses a config file. Stops at the first syntax or type error (with its place).
pub fn load(path: &Path) -> Result<LoadedConfig, Diagnostic> {
    let (config, text) = diagnostic::load_toml::<Config>(path)?;
    Ok(LoadedConfig { path: path.to_path_buf(), text, config })
}

impl LoadedConfig {
    /// The folder of the config file: base of relative paths.
    pub fn base_dir(&self) -> PathBuf {
        self.path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    /// Resolves a path written in the config relative to the config file's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir().join(p)
        }
    }

    pub fn pipelines_dir(&self) -> PathBuf {
        if let Some(dir) = &self.config.pipelines_dir {
            return self.resolve(dir.get_ref());
        }
        let beside = self.base_dir().join("pipelines");
        if beside.is_dir() {
            return beside;
        }
        // A config in `config/` of a source checkout finds `pipelines/` one level up.
        let above = self.base_dir().join("../pipelines");
        if above.is_dir() {
            return above;
        }
        PathBuf::from("/usr/share/kaiteki/pipelines")
    }

    /// A model manifest for the redactor: the configured one (resolved against the config's folder), else
    /// `name` in `models/` beside the config, one level up (a source checkout), or the installed models.
    pub fn redaction_model(&self, configured: Option<&Path>, name: &str) -> PathBuf {
        if let Some(p) = configured {
            return self.resolve(p);
        }
        for dir in [self.base_dir().join("models"), self.base_dir().join("../models")] {
            if dir.join(name).is_file() {
                return dir.join(name);
            }
        }
        PathBuf::from("/usr/share/kaiteki/models").join(name)
    }

    /// The roughness settings with the accelerometer path resolved against the config file's folder.
    pub fn roughness(&self) -> Option<crate::roughness::RoughnessConfig> {
        let mut r = self.config.roughness.clone()?;
        r.source.path = self.resolve(&r.source.path);
        Some(r)
    }

    /// The GNSS settings with file paths resolved against the config file's folder.
    pub fn gnss(&self) -> Option<crate::gnss::GnssConfig> {
        use crate::gnss::GnssSourceConfig as S;
        let mut g = self.config.gnss.clone()?;
        match &mut g.source {
            S::Serial { path, .. } | S::File { path, .. } | S::Replay { path, .. } => *path = self.resolve(path),
            S::Tcp { .. } => {}
        }
        Some(g)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.resolve(&self.config.storage.state_dir)
    }

    /// A diagnostic at the place of a spanned value.
    pub fn diag_at<T>(&self, spanned: &toml::Spanned<T>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.path, &self.text, spanned.span(), message)
    }

    /// A diagnostic at the first occurrence of `needle` in the file (for values without a span, such as
    /// map keys), or without place when not found.
    pub fn diag_near(&self, needle: &str, message: impl Into<String>) -> Diagnostic {
        match self.text.find(needle) {
            Some(start) => Diagnostic::at(&self.path, &self.text, start..start + needle.len(), message),
            None => Diagnostic::new(&self.path, message),
        }
    }
}

/// JSON Schema of the configuration file (`kaiteki config schema`).
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Config)).unwrap_or(serde_json::Value::Null)
}

/// Ids used in MQTT topics and metric labels must be safe there.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
