//! Wiring: config -> cameras -> inference workers -> events -> MQTT, plus the HTTP server.
//!
//! Threads: GStreamer owns decoding; one thread per camera pulls frames from its appsink; one inference
//! worker thread per model serves all cameras that use it (bounded channel; live cameras drop frames
//! when it is busy, counted). Tokio runs the network side.

pub mod delivery;
pub mod gate;
pub mod hot_swap;
pub mod pose;
pub mod roughness;
pub mod snapshots;
pub mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::config::LoadedConfig;
use crate::events::seq::SeqAllocator;
use crate::events::{Draft, Emitter, Topics};
use crate::health::Metrics;
use crate::infer::load_detector;
use crate::mqtt::MqttStatus;
use crate::source::camera::CameraRunner;
use crate::source::pipeline_def::{definition_path, PipelineDef};
use crate::source::status::{CameraState, CameraStatus};

use gate::Gate;
use pose::PoseSource;
use worker::{CameraSlot, ModelWorker};

/// A loaded model, as `/api/status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelInfo {
    pub name: String,
    pub model_id: String,
    pub backend: String,
}

pub type SharedModelInfo = Arc<parking_lot::RwLock<ModelInfo>>;

/// State shared with the HTTP server.
pub struct AppState {
    pub device_id: String,
    pub started: Instant,
    pub cameras: Vec<Arc<CameraStatus>>,
    /// Updated in place when a model update swaps a detector.
    pub models: Vec<SharedModelInfo>,
    pub metrics: Arc<Metrics>,
    pub mqtt: Arc<MqttStatus>,
    pub outbox: Arc<crate::outbox::Outbox>,
    /// Which model each camera runs.
    pub camera_models: HashMap<String, SharedModelInfo>,
    /// What the crew dashboard shows.
    pub feed: Arc<crate::dashboard::Feed>,
    pub dashboard: crate::dashboard::DashboardConfig,
    /// Crew marks become events; see [`Running::stop_threads`] for why the emitter can be taken away.
    pub marks: crate::dashboard::MarkSink,
    pub privacy: crate::privacy::PrivacyManifest,
    /// The live GNSS receiver's state (None: no receiver, or a replay).
    pub gnss: Option<crate::gnss::GnssHandle>,
    pub records: Option<crate::analytics::road_damage::SharedRecords>,
}

/// The running daemon's threads and channels.
pub struct Running {
    pub state: Arc<AppState>,
    pub events: Option<tokio::sync::mpsc::UnboundedReceiver<Draft>>,
    /// Numbers the events as the outbox writer stores them; `close` it after the writer ended.
    pub seq: Arc<SeqAllocator>,
    pub topics: Topics,
    /// Per model slot: where model updates hand over a new detector.
    pub model_handles: HashMap<String, hot_swap::ModelHandle>,
    /// The model-update agent (`[updates] enabled`), for the caller to run on its async runtime.
    pub update_agent: Option<crate::update::agent::Agent>,
    shutdown: Arc<AtomicBool>,
    mark_emitter: Arc<parking_lot::Mutex<Option<Emitter>>>,
    camera_threads: Vec<std::thread::JoinHandle<()>>,
    worker_threads: Vec<std::thread::JoinHandle<()>>,
    gnss_task: Option<crate::gnss::GnssSourceTask>,
    /// Holds an emitter: aborted at shutdown so that the event channel can close.
    roughness_task: Option<tokio::task::JoinHandle<()>>,
    /// Ends when the analytics (holding its job senders) are gone.
    snapshot_thread: Option<std::thread::JoinHandle<()>>,
    /// Holds an emitter, like the roughness task.
    health_task: Option<tokio::task::JoinHandle<()>>,
    /// Model-update steps as events; closed at shutdown (the agent outlives the event channel).
    model_events: Arc<crate::update::event::ModelEvents>,
}

/// Loads models and starts cameras and inference workers. Call from a thread that may block.
pub fn start(loaded: &LoadedConfig) -> anyhow::Result<Running> {
    let cfg = &loaded.config;
    let device_id = cfg.device_id.get_ref().clone();
    crate::source::init_gstreamer().context("cannot initialise GStreamer")?;
    let state_dir = loaded.state_dir();
    let outbox_dir = state_dir.join("outbox");
    let outbox = Arc::new(
        crate::outbox::Outbox::open(&outbox_dir, cfg.storage.outbox.clone())
            .with_context(|| format!("cannot open the outbox in {}", outbox_dir.display()))?,
    );
    // After the outbox: numbering resumes after the last event it stored.
    let last_stored = outbox.last_event_seq().context("cannot read the outbox")?;
    let seq = Arc::new(
        SeqAllocator::open(&state_dir, last_stored)
            .with_context(|| format!("cannot open the event counter in {}", state_dir.display()))?,
    );
    let (events_tx, events_rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(Arc::from(device_id.as_str()), events_tx);
    let model_events = Arc::new(crate::update::event::ModelEvents::new(Some(emitter.clone())));
    let pending = outbox.stats().records;
    if pending > 0 {
        tracing::info!(pending, "outbox holds events from before the restart; they will be sent again");
    }
    let metrics = Metrics::new();
    metrics.set_outbox(outbox.clone());
    let shutdown = Arc::new(AtomicBool::new(false));
    let pipelines_dir = loaded.pipelines_dir();
    let (pose, gnss, gnss_task) = start_gnss(loaded)?;
    let records = open_records(cfg, &state_dir)?;
    let feed = Arc::new(crate::dashboard::Feed::new());
    let mut snapshot_thread = None;
    let snapshot_tx = if cfg.snapshots.enabled {
        // The redactor runs the backend of the first road-damage camera's model, else the first camera's.
        let backend = cfg
            .cameras
            .values()
            .filter(|c| c.enabled)
            .min_by_key(|c| c.road_damage.is_none())
            .and_then(|c| cfg.models.get(c.model.get_ref()))
            .map(|m| m.backend_config())
            .unwrap_or_default();
        let publish = (cfg.snapshots.publish && cfg.mqtt.enabled).then(|| snapshots::Publish {
            outbox: outbox.clone(),
            topics: Topics::new(&cfg.mqtt.topic_prefix, &device_id),
        });
        let published = publish.is_some();
        let (tx, handle) = snapshots::start(loaded, &backend, records.clone(), feed.clone(), publish)?;
        snapshot_thread = Some(handle);
        tracing::info!(published, "redacted snapshots on (calibration stills; road-damage and crowd evidence where enabled)");
        Some(tx)
    } else {
        None
    };

    // Frames of all cameras of one model go through one bounded channel: a short one, since a frame
    // waiting there is latency.
    let mut workers: HashMap<String, (crossbeam_channel::Sender<crate::source::Frame>, ModelWorker)> = HashMap::new();
    let mut models: Vec<SharedModelInfo> = Vec::new();
    let mut model_handles = HashMap::new();
    let mut update_slots = Vec::new();
    let mut runners = Vec::new();
    let mut statuses = Vec::new();
    let mut camera_models = HashMap::new();
    for (cam_id, cam) in &cfg.cameras {
        if !cam.enabled {
            continue;
        }
        let model_name = cam.model.get_ref();
        if !workers.contains_key(model_name) {
            let Some(model_cfg) = cfg.models.get(model_name) else {
                bail!("camera {cam_id}: no model `{model_name}`");
            };
            let configured = loaded.resolve(model_cfg.manifest.get_ref());
            // A model update installed earlier serves instead of the configured model.
            let installed = if cfg.updates.enabled {
                match crate::update::installed::load(&state_dir, model_name) {
                    Ok(Some(rec)) => {
                        let (serve, fell_back) = rec.to_serve();
                        if fell_back {
                            tracing::warn!(model = %model_name, unproven = %rec.active.version, serving = %serve.version,
                                "the daemon stopped during a new model's watch window: serving the previous model; the retained offer installs and watches it again");
                        }
                        Some(serve.clone())
                    }
                    Ok(None) => None,
                    Err(e) => {
                        tracing::error!(model = %model_name, error = %e, "installed model update unusable; serving the configured model");
                        None
                    }
                }
            } else {
                None
            };
            let manifest = installed.as_ref().map(|i| i.manifest.clone()).unwrap_or(configured);
            let detector = load_detector(&manifest, &model_cfg.backend_config())
                .with_context(|| format!("cannot load model `{model_name}` ({})", manifest.display()))?;
            // An installed update is known by its bundle's version (its manifest may say otherwise).
            let (version, digest) = match &installed {
                Some(i) => (i.version.as_str(), i.digest.as_str()),
                None => (detector.manifest().version.as_str(), ""),
            };
            model_events.loaded(crate::update::event::ModelStatusReport::loaded(model_name, version, digest));
            if cfg.updates.enabled {
                let current = installed.unwrap_or_else(|| crate::update::installed::InstalledModel {
                    version: detector.manifest().version.clone(),
                    digest: String::new(),
                    manifest: manifest.clone(),
                });
                update_slots.push((model_name.clone(), current, model_cfg.backend_config()));
            }
            tracing::info!(model = %model_name, id = detector.model_id(), backend = detector.backend_name(), "model loaded");
            let (handle, swap) = hot_swap::slot(ModelInfo {
                name: model_name.clone(),
                model_id: detector.model_id().to_string(),
                backend: detector.backend_name().to_string(),
            });
            models.push(handle.info.clone());
            model_handles.insert(model_name.clone(), handle);
            let (tx, rx) = crossbeam_channel::bounded(2);
            let worker = ModelWorker {
                name: model_name.clone(),
                detector,
                frames: rx,
                cameras: HashMap::new(),
                emitter: emitter.clone(),
                metrics: metrics.clone(),
                shutdown: shutdown.clone(),
                feed: feed.clone(),
                swap,
            };
            workers.insert(model_name.clone(), (tx, worker));
        }
        if let Some(info) = models.iter().find(|m| &m.read().name == model_name) {
            camera_models.insert(cam_id.clone(), info.clone());
        }
        let Some((tx, worker)) = workers.get_mut(model_name) else { continue };
        let def_path = definition_path(&pipelines_dir, cam.pipeline.get_ref())
            .with_context(|| format!("camera {cam_id}: invalid pipeline name"))?;
        let (def, _) = PipelineDef::load(&def_path).map_err(|d| anyhow::anyhow!("{d}"))?;
        let tail = cam.tail_options(def.live);
        let launch = def
            .render(&cam.params, tail)
            .map_err(|p| anyhow::anyhow!("camera {cam_id}: {}", p.join("; ")))?;
        tracing::debug!(camera = %cam_id, %launch, "pipeline");
        let status = Arc::new(CameraStatus::new(cam_id));
        metrics.add_camera(status.clone());
        statuses.push(status.clone());
        let id: Arc<str> = Arc::from(cam_id.as_str());
        worker.cameras.insert(
            id.clone(),
            CameraSlot::new(
                snapshot_tx.clone(),
                status.clone(),
                Gate::new(cam.detect.gate.clone()),
                cam.detect.min_score.as_ref().map(|s| *s.get_ref()),
                cam.detect.classes.clone(),
                crate::events::summary::SummaryWindow::new(cam_id, &cam.summary),
            ),
        );
        if let Some(rd) = &cam.road_damage {
            let Some(store) = records.clone() else { bail!("camera {cam_id}: road-damage records are not open") };
            let mut analytic = crate::analytics::road_damage::RoadDamageAnalytic::new(cam_id, rd.clone(), store)
                .map_err(|e| anyhow::anyhow!("camera {cam_id}: {e}"))?;
            if let (true, Some(tx)) = (rd.snapshot, &snapshot_tx) {
                analytic = analytic.with_snapshots(tx.clone());
            }
            if let Some(slot) = worker.cameras.get_mut(&id) {
                slot.road_damage = Some(analytic);
                slot.pose = pose.clone();
            }
        }
        if let Some(a) = &cam.analytics {
            let analytics = crate::analytics::SceneAnalytics::new(a.clone(), None)
                .map_err(|e| anyhow::anyhow!("camera {cam_id}: analytics: {e}"))?;
            if let Some(slot) = worker.cameras.get_mut(&id) {
                slot.analytics = Some(analytics);
                slot.crowd_evidence = a.crowd.snapshot_from.zip(snapshot_tx.clone());
            }
        }
        runners.push(CameraRunner {
            id,
            launch,
            live: def.live,
            looping: cam.looping,
            // Real-time files and live cameras drop frames when inference is busy; batch files wait.
            leaky: def.live || cam.realtime,
            stall_timeout: Duration::from_secs_f64(cam.stall_timeout_s.get_ref().max(0.5)),
            reconnect: cam.reconnect.clone(),
            status,
            frames: tx.clone(),
            shutdown: shutdown.clone(),
        });
    }
    let update_agent = if cfg.updates.enabled && cfg.mqtt.enabled {
        let slots = update_slots
            .into_iter()
            .filter_map(|(name, current, backend)| {
                let handle = model_handles.get(&name)?.clone();
                let needs = crate::update::requirements::Requirements::for_slot(cfg, &name);
                Some((name, crate::update::agent::Slot { handle, backend, needs, current }))
            })
            .collect();
        Some(crate::update::agent::Agent {
            cfg: cfg.updates.clone(),
            mqtt: cfg.mqtt.with_paths_resolved(|p| loaded.resolve(p)),
            device_id: device_id.clone(),
            state_dir: state_dir.clone(),
            slots,
            events: model_events.clone(),
        })
    } else {
        None
    };
    let mut roughness_task = None;
    if let Some(rough) = loaded.roughness().filter(|r| r.enabled) {
        if tokio::runtime::Handle::try_current().is_err() {
            bail!("roughness needs the async runtime (start() must run inside it)");
        }
        roughness_task = Some(roughness::spawn(rough, pose.clone(), emitter.clone()));
        tracing::info!("ride roughness started");
    }
    let mut worker_threads = Vec::new();
    for (_, (_tx, worker)) in workers {
        // The camera runners hold the senders; when they all end, the worker sees the channel close.
        worker_threads.push(worker.spawn().context("cannot start an inference thread")?);
    }
    let mut camera_threads = Vec::new();
    for r in runners {
        camera_threads.push(r.spawn().context("cannot start a camera thread")?);
    }
    let mqtt_cfg = &cfg.mqtt;
    // The dashboard's marks go out as events through an emitter that shutdown can take away, so that the
    // event channel closes once the cameras and workers are gone.
    let mark_emitter: Arc<parking_lot::Mutex<Option<Emitter>>> = Arc::new(parking_lot::Mutex::new(Some(emitter.clone())));
    let me = mark_emitter.clone();
    let mark_records = records.clone();
    let marks: crate::dashboard::MarkSink = Arc::new(move |m: crate::dashboard::DamageMark| {
        if let Some(store) = &mark_records {
            use crate::analytics::road_damage::RecordStatus;
            let status = match m.status {
                crate::dashboard::MarkStatus::Verified => RecordStatus::Verified,
                crate::dashboard::MarkStatus::FalsePositive => RecordStatus::FalsePositive,
                crate::dashboard::MarkStatus::Repaired => RecordStatus::Repaired,
            };
            if let Err(e) = store.lock().mark(&m.record_id, status) {
                tracing::warn!(error = %e, "crew mark on a record this device does not hold");
            }
        }
        match me.lock().as_ref() {
            Some(e) => e.emit(std::time::SystemTime::now(), crate::events::EventBody::DamageMark(m)),
            None => tracing::warn!(record = %m.record_id, "crew mark arrived during shutdown; not published"),
        }
    });
    if let Some(store) = &records {
        // The dashboard lists what earlier runs found.
        for rec in store.lock().all() {
            feed.upsert_damage_record(serde_json::to_value(&rec).unwrap_or_default());
        }
    }
    let mut detects: Vec<String> = cfg
        .cameras
        .values()
        .filter(|c| c.enabled)
        .flat_map(|c| c.detect.classes.iter().cloned())
        .collect();
    if detects.is_empty() {
        detects.push("every class of the configured models".into());
    }
    detects.sort();
    detects.dedup();
    let mut publishes = vec!["scene_summary"];
    if cfg.cameras.values().any(|c| c.analytics.is_some()) {
        publishes.extend(["near_miss", "near_miss_hourly", "crowd_level", "crowd_minute"]);
    }
    if cfg.cameras.values().any(|c| c.road_damage.is_some()) {
        publishes.push("road_damage");
    }
    if cfg.roughness.as_ref().is_some_and(|r| r.enabled) {
        publishes.extend(["roughness", "road_impact"]);
    }
    if !cfg.http.dashboard.users.is_empty() {
        publishes.push("damage_mark");
    }
    publishes.push("model_status");
    if cfg.health.report_interval_s > 0 {
        publishes.push("health");
    }
    if cfg.snapshots.enabled && cfg.snapshots.publish && cfg.cameras.values().any(|c| c.takes_snapshots()) {
        publishes.push("redacted_snapshot");
    }
    let privacy = crate::privacy::PrivacyManifest::build(
        &cfg.privacy,
        &device_id,
        detects,
        publishes,
        cfg.storage.outbox.max_age_s,
    );
    feed.set_privacy(serde_json::to_value(&privacy).unwrap_or_default());
    let state = Arc::new(AppState {
        device_id: device_id.clone(),
        started: Instant::now(),
        cameras: statuses,
        models,
        metrics,
        mqtt: Arc::new(MqttStatus::default()),
        outbox,
        camera_models,
        feed,
        dashboard: crate::dashboard::DashboardConfig {
            secure_cookies: Some(cfg.http.dashboard.secure_cookies.unwrap_or(cfg.http.tls.is_some())),
            ..cfg.http.dashboard.clone()
        },
        marks,
        privacy,
        gnss,
        records,
    });
    let health_task = match tokio::runtime::Handle::try_current() {
        Ok(_) => crate::health::report::spawn(cfg.health.clone(), state.clone(), emitter.clone()),
        Err(_) => None,
    };
    Ok(Running {
        state,
        events: Some(events_rx),
        seq,
        topics: Topics::new(&mqtt_cfg.topic_prefix, &device_id),
        model_handles,
        update_agent,
        shutdown,
        mark_emitter,
        camera_threads,
        worker_threads,
        gnss_task,
        roughness_task,
        snapshot_thread,
        health_task,
        model_events,
    })
}

/// The camera pose source from `[gnss]`: a live receiver (needs the tokio runtime entered) or a replay.
fn start_gnss(
    loaded: &LoadedConfig,
) -> anyhow::Result<(Arc<PoseSource>, Option<crate::gnss::GnssHandle>, Option<crate::gnss::GnssSourceTask>)> {
    let Some(g) = loaded.gnss() else { return Ok((Arc::new(PoseSource::None), None, None)) };
    if let crate::gnss::GnssSourceConfig::Replay { .. } = g.source {
        let track = crate::gnss::FixTrack::from_config(&g).context("cannot read the GNSS replay log")?;
        tracing::info!(fixes = track.len(), "GNSS replay loaded; positions follow the video timeline");
        return Ok((Arc::new(PoseSource::Replay(track)), None, None));
    }
    let handle = crate::gnss::handle_for(&g);
    let task = crate::gnss::spawn_source(&g, handle.clone()).context("cannot start the GNSS source")?;
    tracing::info!(source = %g.source_name(), "GNSS source started");
    Ok((Arc::new(PoseSource::Live(handle.clone())), Some(handle), Some(task)))
}

/// The road-damage records, when a camera looks for road damage.
fn open_records(
    cfg: &crate::config::Config,
    state_dir: &std::path::Path,
) -> anyhow::Result<Option<crate::analytics::road_damage::SharedRecords>> {
    let Some(max) = cfg.cameras.values().filter(|c| c.enabled).filter_map(|c| c.road_damage.as_ref()).map(|r| r.max_records).max() else {
        return Ok(None);
    };
    let store = crate::analytics::road_damage::RecordStore::open(state_dir, max)
        .with_context(|| format!("cannot open the road-damage records in {}", state_dir.display()))?;
    tracing::info!(records = store.len(), "road-damage records loaded");
    Ok(Some(Arc::new(parking_lot::Mutex::new(store))))
}

impl Running {
    /// True once every camera has finished (non-looping files played to the end) or stopped.
    pub fn sources_done(&self) -> bool {
        self.state.cameras.iter().all(|c| matches!(c.state(), CameraState::Finished | CameraState::Stopped))
    }

    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        self.shutdown.clone()
    }

    /// Stops cameras, lets the workers finish the frames in flight, and joins every thread.
    /// The event channel closes when the workers are gone, so the publisher can drain it.
    pub fn stop_threads(&mut self) {
        self.shutdown.store(true, Ordering::Relaxed);
        for t in self.camera_threads.drain(..) {
            let _ = t.join();
        }
        for t in self.worker_threads.drain(..) {
            let _ = t.join();
        }
        if let Some(t) = self.snapshot_thread.take() {
            let _ = t.join();
        }
        self.mark_emitter.lock().take();
        if let Some(t) = &self.gnss_task {
            t.stop();
        }
        if let Some(t) = self.roughness_task.take() {
            t.abort();
        }
        if let Some(t) = self.health_task.take() {
            t.abort();
        }
        self.model_events.close();
    }
}
