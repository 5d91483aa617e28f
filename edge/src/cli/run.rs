//! `kaiteki run -c FILE`: the daemon.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};

use kaiteki::mqtt::Sink;

pub fn run(path: &Path, until_sources_end: bool) -> anyhow::Result<ExitCode> {
    let loaded = kaiteki::config::load(path).map_err(|d| anyhow::anyhow!("{d}"))?;
    kaiteki::source::init_gstreamer().context("cannot initialise GStreamer")?;
    let report = loaded.validate(true);
    for n in &report.notes {
        tracing::info!("{n}");
    }
    if !report.problems.is_empty() {
        for p in &report.problems {
            eprintln!("{p}");
        }
        bail!("the configuration has {} problem(s); `kaiteki check -c {}` lists them", report.problems.len(), path.display());
    }
    let http_addr = loaded.config.http.listen_addr().map_err(anyhow::Error::msg)?;
    // Certificate problems stop the start: silently falling back to plain HTTP would leak sessions.
    let http_tls = match &loaded.config.http.tls {
        Some(t) => {
            let t = kaiteki::http::tls::TlsConfig { cert: loaded.resolve(&t.cert), key: loaded.resolve(&t.key) };
            Some(kaiteki::http::tls::acceptor(&t).context("cannot set up HTTPS")?)
        }
        None => None,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("kaiteki-net")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // Entered so that start() can spawn the GNSS source's tasks on it.
    let _rt_guard = rt.enter();
    let mut running = kaiteki::runtime::start(&loaded)?;
    let state = running.state.clone();
    state.feed.set_check_result(report.notes.iter().map(|n| format!("note: {n}")).collect());
    let events = running.events.take().context("event channel already taken")?;
    let mqtt_cfg = loaded.config.mqtt.with_paths_resolved(|p| loaded.resolve(p));
    if let Some(t) = mqtt_cfg.tls.as_ref().filter(|_| mqtt_cfg.enabled) {
        // Checked now so that a bad file stops the start instead of failing every reconnect.
        t.client_config().context("cannot set up MQTT over TLS")?;
    }
    let http_enabled = loaded.config.http.enabled;
    let device_id = loaded.config.device_id.get_ref().clone();
    let topics = running.topics.clone();
    let notifier = kaiteki::health::notify::Notifier::from_env();
    let update_agent = running.update_agent.take();
    let seq = running.seq.clone();

    rt.block_on(async move {
        let wake = Arc::new(tokio::sync::Notify::new());
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let ngsi = mqtt_cfg.ngsi_ld.then(|| kaiteki::ngsi::NgsiContext::new(device_id.clone()));
        if ngsi.is_some() {
            let privacy = serde_json::to_value(&state.privacy).unwrap_or_default();
            kaiteki::runtime::delivery::store_static_entities(&state.outbox, &topics, &device_id, &privacy);
        }
        let store = tokio::spawn(kaiteki::runtime::delivery::store_events(
            events,
            state.outbox.clone(),
            seq.clone(),
            topics.clone(),
            wake.clone(),
            ngsi,
            {
                let feed = state.feed.clone();
                move |env: &kaiteki::events::Envelope| feed.push_event(serde_json::to_value(env).unwrap_or_default())
            },
        ));
        // The dashboard's overview, refreshed every second.
        let overview = {
            let s = state.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                let mut log_cursor = 0;
                loop {
                    tick.tick().await;
                    s.feed.set_overview(kaiteki::http::status_json(&s));
                    for line in kaiteki::health::logbuf::take_new(&mut log_cursor) {
                        s.feed.push_log(line);
                    }
                }
            })
        };
        let updates = update_agent.map(|a| tokio::spawn(a.run(stop_rx.clone())));
        let sink = if mqtt_cfg.enabled {
            Some(tokio::spawn(
                Sink {
                    cfg: mqtt_cfg,
                    device_id,
                    topics,
                    outbox: state.outbox.clone(),
                    wake: wake.clone(),
                    metrics: state.metrics.clone(),
                    status: state.mqtt.clone(),
                    privacy: serde_json::to_vec(&state.privacy).unwrap_or_default(),
                    stop: stop_rx,
                }
                .run(),
            ))
        } else {
            tracing::info!("MQTT disabled: events are kept in the outbox");
            None
        };
        let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
        let http = if http_enabled {
            let s = state.clone();
            Some(tokio::spawn(async move {
                if let Err(e) = kaiteki::http::serve(http_addr, s, http_tls, async {
                    let _ = http_stopped.await;
                })
                .await
                {
                    tracing::error!(error = %e, "HTTP server failed");
                }
            }))
        } else {
            None
        };

        // Everything is up: systemd's start timeout ends and its watchdog begins.
        if let Err(e) = notifier.ready() {
            tracing::warn!(error = %e, "cannot tell systemd the daemon is ready");
        }
        let _ = notifier.status(&format!("running: {} camera(s)", state.cameras.len()));
        let watchdog = kaiteki::health::notify::Watchdog::new(
            notifier.clone(),
            pipeline_progress(state.cameras.clone(), Duration::from_secs(30)),
        )
        .healthy_status(format!("running: {} camera(s)", state.cameras.len()))
        .spawn();

        wait_for_stop(&running, until_sources_end).await;
        let _ = notifier.stopping();
        let _ = notifier.status("stopping: stopping cameras, flushing the outbox");
        if let Some(w) = watchdog {
            w.abort();
        }
        tracing::info!("shutting down: stopping cameras, flushing events");
        let running = Arc::new(parking_lot::Mutex::new(running));
        let r = running.clone();
        let _ = tokio::task::spawn_blocking(move || r.lock().stop_threads()).await;
        overview.abort();
        // The workers are gone, so the event channel is closed: the store task ends after the last event.
        if store.await.is_ok() {
            // Every event is stored: the next start continues the numbering without a gap.
            if let Err(e) = seq.close() {
                tracing::warn!(error = %e, "cannot record the clean stop of the event counter");
            }
        }
        let _ = stop_tx.send(true);
        if let Some(sink) = sink {
            if tokio::time::timeout(Duration::from_secs(15), sink).await.is_err() {
                tracing::warn!("MQTT sink did not finish within 15 s; undelivered events stay in the outbox");
            }
        }
        if let Some(u) = updates {
            let _ = tokio::time::timeout(Duration::from_secs(5), u).await;
        }
        let _ = stop_http.send(());
        if let Some(h) = http {
            let _ = tokio::time::timeout(Duration::from_secs(5), h).await;
        }
    });
    Ok(ExitCode::SUCCESS)
}

/// The watchdog's progress check: every camera processed a frame within `window`, or is legitimately
/// not delivering (reconnect backoff, a finished file, stopped). The first `window` after start is grace.
fn pipeline_progress(
    cameras: Vec<Arc<kaiteki::source::status::CameraStatus>>,
    window: Duration,
) -> impl FnMut() -> Result<(), String> + Send + 'static {
    use kaiteki::source::status::CameraState;
    use std::sync::atomic::Ordering;
    let start = std::time::Instant::now();
    let mut last: Vec<(u64, std::time::Instant)> =
        cameras.iter().map(|c| (c.frames_processed.load(Ordering::Relaxed), start)).collect();
    move || {
        let now = std::time::Instant::now();
        for (c, (count, at)) in cameras.iter().zip(last.iter_mut()) {
            let n = c.frames_processed.load(Ordering::Relaxed);
            let state = c.state();
            if n != *count || matches!(state, CameraState::Backoff | CameraState::Finished | CameraState::Stopped) {
                (*count, *at) = (n, now);
            } else if now.duration_since(*at) > window {
                return Err(format!(
                    "camera {}: no frame processed for {} s (state {})",
                    c.id,
                    now.duration_since(*at).as_secs(),
                    state.as_str()
                ));
            }
        }
        Ok(())
    }
}

async fn wait_for_stop(running: &kaiteki::runtime::Running, until_sources_end: bool) {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot watch SIGTERM");
            return;
        }
    };
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => { tracing::info!("interrupted"); return; }
            _ = term.recv() => { tracing::info!("SIGTERM"); return; }
            _ = tick.tick() => {
                if until_sources_end && running.sources_done() {
                    tracing::info!("all sources ended");
                    return;
                }
            }
        }
    }
}
