//! Meaning checks behind `kaiteki check` and daemon start: references, ranges, files and checksums,
//! pipeline definitions. Returns every problem, each located in the file it concerns.

use std::collections::BTreeSet;

use super::{is_valid_id, Diagnostic, LoadedConfig};
use crate::infer::manifest::Manifest;
use crate::source::pipeline_def::{definition_path, Platform, PipelineDef};

/// Result of a full check: problems (errors) and notes (things that are fine but worth knowing).
#[derive(Debug, Default)]
pub struct Report {
    pub problems: Vec<Diagnostic>,
    pub notes: Vec<String>,
}

impl LoadedConfig {
    /// Checks everything the config references without starting anything.
    /// `probe_gstreamer`: also build each pipeline (without playing it) to catch unknown elements and
    /// bad syntax; needs GStreamer initialised.
    pub fn validate(&self, probe_gstreamer: bool) -> Report {
        let mut r = Report::default();
        let cfg = &self.config;
        if !is_valid_id(cfg.device_id.get_ref()) {
            r.problems.push(self.diag_at(
                &cfg.device_id,
                format!("device_id `{}` must be 1-64 letters, digits, `-` or `_` (it is used in MQTT topics)", cfg.device_id.get_ref()),
            ));
        }
        if cfg.cameras.values().all(|c| !c.enabled) {
            r.problems.push(Diagnostic::new(&self.path, "no enabled camera: add a [cameras.<id>] table"));
        }

        // Models: each manifest must load (file exists, checksum matches, values in range).
        let mut manifests = std::collections::BTreeMap::new();
        for (name, m) in &cfg.models {
            if !is_valid_id(name) {
                r.problems.push(self.diag_near(&format!("[models.{name}"), format!("model id `{name}` must be letters, digits, `-` or `_`")));
            }
            let path = self.resolve(m.manifest.get_ref());
            if !path.is_file() {
                r.problems.push(self.diag_at(&m.manifest, format!("model manifest {} does not exist", path.display())));
                continue;
            }
            match Manifest::load(&path) {
                Ok(manifest) => {
                    manifests.insert(name.clone(), manifest);
                }
                Err(errs) => r.problems.extend(errs),
            }
            if let Some(t) = m.threads {
                if t == 0 || t > 256 {
                    r.problems.push(self.diag_near(&format!("[models.{name}"), format!("model {name}: threads = {t} must be 1-256")));
                }
            }
        }

        let pipelines_dir = self.pipelines_dir();
        let mut used_models = BTreeSet::new();
        if let Some(t) = &cfg.http.tls {
            let t = crate::http::tls::TlsConfig { cert: self.resolve(&t.cert), key: self.resolve(&t.key) };
            if let Err(e) = crate::http::tls::acceptor(&t) {
                r.problems.push(self.diag_near("[http.tls", format!("http.tls: {e}")));
            }
        }
        for problem in cfg.snapshots.problems() {
            r.problems.push(self.diag_near("[snapshots", format!("snapshots: {problem}")));
        }
        if cfg.snapshots.enabled {
            for (what, configured, name) in [
                ("object_model", cfg.snapshots.object_model.as_deref(), crate::privacy::snapshot::DEFAULT_OBJECT_MODEL),
                ("face_model", cfg.snapshots.face_model.as_deref(), crate::privacy::snapshot::DEFAULT_FACE_MODEL),
            ] {
                let path = self.redaction_model(configured, name);
                if let Err(errs) = Manifest::load(&path) {
                    let why: Vec<String> = errs.iter().map(|d| d.to_string()).collect();
                    r.problems.push(self.diag_near("[snapshots", format!("snapshots.{what} {}: {}", path.display(), why.join("; "))));
                }
            }
        }
        if cfg.snapshots.publish {
            // A snapshot goes through the outbox as one record: topic + JPEG + framing must fit.
            let record = cfg.snapshots.max_bytes as u64 + 31 + 256;
            if record > cfg.storage.outbox.max_record_bytes {
                r.problems.push(self.diag_near(
                    "[snapshots",
                    format!(
                        "snapshots.publish: a snapshot of max_bytes ({}) does not fit the outbox's max_record_bytes ({})",
                        cfg.snapshots.max_bytes, cfg.storage.outbox.max_record_bytes
                    ),
                ));
            }
            if !cfg.mqtt.enabled {
                r.notes.push("snapshots.publish is set but [mqtt] is disabled: snapshots stay on the device".into());
            }
        }
        if cfg.cameras.values().any(|c| c.road_damage.as_ref().is_some_and(|rd| rd.snapshot)) && !cfg.snapshots.enabled {
            r.notes.push("road_damage.snapshot is set but [snapshots] enabled = false: no snapshots are taken".into());
        }
        if cfg.cameras.values().any(|c| c.analytics.as_ref().is_some_and(|a| a.crowd.snapshot_from.is_some())) && !cfg.snapshots.enabled {
            r.notes.push("analytics.crowd.snapshot_from is set but [snapshots] enabled = false: no snapshots are taken".into());
        }
        if let Some(t) = cfg.mqtt.tls.as_ref().filter(|_| cfg.mqtt.enabled) {
            if let Err(e) = t.resolved(|p| self.resolve(p)).client_config() {
                r.problems.push(self.diag_near("[mqtt.tls", e.to_string()));
            }
        }
        for problem in self.config.health.problems() {
            r.problems.push(self.diag_near("[health", problem));
        }
        for problem in self.config.updates.validate() {
            r.problems.push(self.diag_near("[updates", problem));
        }
        if self.config.updates.enabled && !self.config.mqtt.enabled {
            r.problems.push(self.diag_near("[updates", "updates need [mqtt] (offers and chunks arrive over MQTT)"));
        }
        if let Some(rough) = self.roughness().filter(|r| r.enabled) {
            for problem in rough.validate() {
                r.problems.push(self.diag_near("[roughness", format!("roughness: {problem}")));
            }
            if cfg.gnss.is_none() {
                r.problems.push(self.diag_near("[roughness", "roughness needs [gnss]: segments are measured in distance travelled"));
            }
        }
        if let Some(g) = &self.gnss() {
            for problem in g.validate() {
                r.problems.push(self.diag_near("[gnss", problem));
            }
        }
        for (id, cam) in &cfg.cameras {
            let here = |msg: String| self.diag_near(&format!("[cameras.{id}"), msg);
            if !is_valid_id(id) {
                r.problems.push(here(format!("camera id `{id}` must be 1-64 letters, digits, `-` or `_`")));
            }
            // Model reference and thresholds.
            let model = cam.model.get_ref();
            used_models.insert(model.clone());
            let manifest = manifests.get(model);
            if !cfg.models.contains_key(model) {
                let known: Vec<_> = cfg.models.keys().map(String::as_str).collect();
                r.problems.push(self.diag_at(&cam.model, format!("no model `{model}` (defined: {})", known.join(", "))));
            }
            if let Some(s) = &cam.detect.min_score {
                let v = *s.get_ref();
                if !(v > 0.0 && v <= 1.0) {
                    r.problems.push(self.diag_at(s, format!("min_score = {v} is impossible: a score threshold must be in (0, 1]")));
                }
            }
            if let Some(m) = manifest {
                for c in cam.detect.classes.iter().chain(&cam.summary.classes) {
                    if !m.classes.iter().any(|k| &**k == c.as_str()) {
                        r.problems.push(here(format!("camera {id}: class `{c}` is not a class of model `{model}`")));
                    }
                }
            }
            let interval = *cam.summary.interval_s.get_ref();
            if !(interval.is_finite() && interval >= 0.0) || (interval > 0.0 && interval < 0.1) {
                r.problems.push(self.diag_at(&cam.summary.interval_s, format!("summary interval_s = {interval}: use 0 (off) or at least 0.1 s")));
            }
            let stall = *cam.stall_timeout_s.get_ref();
            if !(stall.is_finite() && stall >= 0.5) {
                r.problems.push(self.diag_at(&cam.stall_timeout_s, format!("stall_timeout_s = {stall}: must be at least 0.5 s")));
            }
            if cam.queue_frames == 0 || cam.queue_frames > 100 {
                r.problems.push(here(format!("camera {id}: queue_frames = {} must be 1-100", cam.queue_frames)));
            }
            if cam.reconnect.initial_ms == 0 || cam.reconnect.max_ms < cam.reconnect.initial_ms {
                r.problems.push(here(format!("camera {id}: reconnect needs 0 < initial_ms <= max_ms")));
            }
            if let Some([w, h]) = cam.scale_to {
                if w == 0 || h == 0 || w > 8192 || h > 8192 {
                    r.problems.push(here(format!("camera {id}: scale_to [{w}, {h}] must be 1-8192 pixels")));
                }
            }

            if let Some(a) = &cam.analytics {
                for problem in a.validate() {
                    r.problems.push(here(format!("camera {id}: analytics: {problem}")));
                }
                if let Some(Ok(rep)) = a.calibration_report() {
                    r.notes.push(format!(
                        "camera {id}: calibration from {} points: reprojection error {:.3} m RMS, {:.3} m max (point {}); {:.1} px RMS",
                        rep.points, rep.ground_rms_m, rep.ground_max_m, rep.worst_point + 1, rep.image_rms_px
                    ));
                }
            }

            if let Some(rd) = &cam.road_damage {
                let here = |msg: String| self.diag_near(&format!("[cameras.{id}.road_damage"), msg);
                for problem in rd.validate() {
                    r.problems.push(here(format!("camera {id}: road_damage: {problem}")));
                }
                if let Some(m) = manifest {
                    if !rd.classes.keys().any(|c| m.classes.iter().any(|k| &**k == c.as_str())) {
                        let want: Vec<&str> = rd.classes.keys().map(String::as_str).collect();
                        r.problems.push(here(format!(
                            "camera {id}: road_damage: model `{model}` has none of the damage classes {} (its classes: {})",
                            want.join(", "),
                            m.classes.iter().take(8).map(|c| &**c).collect::<Vec<_>>().join(", ")
                        )));
                    }
                }
                if rd.calibration.is_none() {
                    r.notes.push(format!("camera {id}: road_damage without calibration: no sizes, no triage and no positions"));
                }
            }

            // Pipeline definition and parameters.
            let Some(def_path) = definition_path(&pipelines_dir, cam.pipeline.get_ref()) else {
                r.problems.push(self.diag_at(&cam.pipeline, format!("pipeline name `{}` must be letters, digits, `-` or `_`", cam.pipeline.get_ref())));
                continue;
            };
            if !def_path.is_file() {
                r.problems.push(self.diag_at(
                    &cam.pipeline,
                    format!("no pipeline definition `{}` ({} does not exist)", cam.pipeline.get_ref(), def_path.display()),
                ));
                continue;
            }
            let def = match PipelineDef::load(&def_path) {
                Ok((d, _)) => d,
                Err(e) => {
                    r.problems.push(e);
                    continue;
                }
            };
            if cam.looping && def.live {
                r.problems.push(here(format!("camera {id}: `loop` applies to files only; pipeline `{}` is live", cam.pipeline.get_ref())));
            }
            let launch = match def.render(&cam.params, cam.tail_options(def.live)) {
                Ok(l) => l,
                Err(errs) => {
                    for e in errs {
                        r.problems.push(here(format!("camera {id}: {e}")));
                    }
                    continue;
                }
            };
            if let Some(crate::source::pipeline_def::ParamValue::Str(uri)) = cam.params.get("uri") {
                if let Some(path) = uri.strip_prefix("file://") {
                    if !std::path::Path::new(path).is_file() {
                        r.problems.push(here(format!("camera {id}: video file {path} does not exist")));
                    }
                }
            }
            if probe_gstreamer {
                match gstreamer::parse::launch(&launch) {
                    Ok(p) => {
                        let _ = gstreamer::prelude::ElementExt::set_state(&p, gstreamer::State::Null);
                    }
                    Err(e) => {
                        let missing = e.matches(gstreamer::ParseError::NoSuchElement);
                        if missing && def.platform == Platform::Jetson {
                            r.notes.push(format!(
                                "camera {id}: pipeline `{}` needs Jetson elements not present here ({e}); checked syntax and parameters only",
                                cam.pipeline.get_ref()
                            ));
                        } else {
                            r.problems.push(Diagnostic::at(
                                &def_path,
                                &std::fs::read_to_string(&def_path).unwrap_or_default(),
                                def.source.span(),
                                format!("camera {id}: GStreamer cannot build this pipeline: {e}"),
                            ));
                        }
                    }
                }
            }
        }
        for name in cfg.models.keys() {
            if !used_models.contains(name) {
                r.notes.push(format!("model `{name}` is not used by any camera"));
            }
        }

        for p in cfg.http.dashboard.problems() {
            r.problems.push(self.diag_near("[http.dashboard", format!("dashboard: {p}")));
        }

        // Network endpoints.
        if let Err(e) = cfg.http.listen_addr() {
            r.problems.push(self.diag_at(&cfg.http.listen, e));
        }
        if *cfg.mqtt.port.get_ref() == 0 {
            r.problems.push(self.diag_at(&cfg.mqtt.port, "mqtt port 0 is not a port"));
        }
        if cfg.mqtt.topic_prefix.is_empty() || cfg.mqtt.topic_prefix.contains(['#', '+']) {
            r.problems.push(self.diag_near("topic_prefix", "mqtt topic_prefix must be non-empty and contain no wildcards"));
        }
        r
    }
}
