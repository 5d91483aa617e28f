//! The snapshot worker: turns new road-damage records' best views and crowd-level rises into redacted
//! evidence (and each camera's first frame into the admin calibration view's still), off the
//! inference threads (a redaction takes up to seconds: person and face detectors over tiles).
//!
//! The raw frame goes into [`Redactor::redact`] and nowhere else; only the [`RedactedImage`] it returns is
//! stored (bounded, on disk), shown on the dashboard and, with `[snapshots] publish = true`, put in the
//! outbox for MQTT. A redaction that fails keeps nothing.
//!
//! [`RedactedImage`]: crate::privacy::RedactedImage

use std::sync::Arc;

use anyhow::Context;

use crate::analytics::road_damage::{SharedRecords, SnapshotJob, SnapshotTarget};
use crate::config::LoadedConfig;
use crate::infer::{load_detector, BackendConfig};
use crate::privacy::{Redactor, SnapshotStore};

/// Jobs waiting for the redactor; more are skipped (and logged), frames are never held up.
const QUEUE: usize = 4;

/// Where published snapshots go (`[snapshots] publish = true`).
pub struct Publish {
    pub outbox: Arc<crate::outbox::Outbox>,
    pub topics: crate::events::Topics,
}

/// Loads the redactor's models and starts the worker. Returns the job sender for the analytics.
pub fn start(
    loaded: &LoadedConfig,
    backend: &BackendConfig,
    records: Option<SharedRecords>,
    feed: Arc<crate::dashboard::Feed>,
    publish: Option<Publish>,
) -> anyhow::Result<(crossbeam_channel::Sender<SnapshotJob>, std::thread::JoinHandle<()>)> {
    let cfg = &loaded.config.snapshots;
    let object_path = loaded.redaction_model(cfg.object_model.as_deref(), crate::privacy::snapshot::DEFAULT_OBJECT_MODEL);
    let face_path = loaded.redaction_model(cfg.face_model.as_deref(), crate::privacy::snapshot::DEFAULT_FACE_MODEL);
    let objects = load_detector(&object_path, backend).with_context(|| format!("snapshots: cannot load {}", object_path.display()))?;
    let faces = load_detector(&face_path, backend).with_context(|| format!("snapshots: cannot load {}", face_path.display()))?;
    let mut redactor = Redactor::new(objects, faces, cfg.redact_options()).map_err(|e| anyhow::anyhow!("snapshots: {e}"))?;
    let dir = loaded.state_dir().join("snapshots");
    let mut store = SnapshotStore::open(&dir, cfg.retention()).map_err(|e| anyhow::anyhow!("snapshots in {}: {e}", dir.display()))?;
    let (tx, rx) = crossbeam_channel::bounded::<SnapshotJob>(QUEUE);
    let handle = std::thread::Builder::new()
        .name("snapshots".into())
        .spawn(move || {
            for job in rx {
                let what = match &job.target {
                    SnapshotTarget::Record(id) => format!("record {id}"),
                    SnapshotTarget::CalibrationStill(cam) => format!("calibration still of {cam}"),
                    SnapshotTarget::CrowdLevel(id) => format!("crowd evidence {id}"),
                };
                let img = match redactor.redact(job.frame.view()) {
                    Ok(img) => img,
                    Err(e) => {
                        tracing::warn!(error = %e, "{what}: snapshot not taken (redaction failed; nothing kept)");
                        continue;
                    }
                };
                drop(job.frame);
                let (record_id, publish_as) = match job.target {
                    SnapshotTarget::CalibrationStill(cam) => {
                        feed.set_calibration_still(&cam, &img);
                        tracing::info!(camera = %cam, regions = img.regions().len(), "redacted calibration still set");
                        continue;
                    }
                    SnapshotTarget::Record(id) => (Some(id.clone()), id),
                    SnapshotTarget::CrowdLevel(id) => (None, id),
                };
                let id = match store.put(&img) {
                    Ok(id) => id.to_string(),
                    Err(e) => {
                        tracing::warn!(snapshot = %publish_as, error = %e, "snapshot not stored");
                        continue;
                    }
                };
                feed.put_snapshot(&id, &img);
                if let Some(p) = &publish {
                    crate::runtime::delivery::store_snapshot(&p.outbox, &p.topics, &publish_as, &img);
                }
                let rec = record_id.as_ref().and_then(|record_id| {
                    let records = records.as_ref()?;
                    let mut r = records.lock();
                    r.set_snapshot(record_id, format!("/api/dash/snapshots/{id}"));
                    r.get(record_id).cloned()
                });
                if let Some(rec) = rec {
                    feed.upsert_damage_record(serde_json::to_value(&rec).unwrap_or_default());
                }
                tracing::info!(what = %what, snapshot = %id, regions = img.regions().len(), bytes = img.jpeg().len(), "redacted snapshot kept");
            }
        })
        .context("cannot start the snapshot thread")?;
    Ok((tx, handle))
}
