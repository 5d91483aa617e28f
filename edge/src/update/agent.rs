//! The device side of model updates over MQTT.
//!
//! Its own MQTT client (`kaiteki-<device>-updates`, a clean session: offers and chunks are retained, so
//! every subscription gets them again) subscribes to the device's and
//! its groups' retained offers. An offer is checked (target, slot, signature, version) before a chunk is
//! fetched; chunks (retained on their own topics) are stored on disk as they come, so a transfer resumes
//! after a disconnect, a broker restart or a reboot. A complete bundle is staged off the async runtime
//! (verify, unpack, load, class check, self-test), swapped in between two frames, recorded as active,
//! then watched: if it degrades against the model it replaced, the old detector is swapped back. Every
//! step is reported, retained, on `<prefix>/<device>/update/status`, and as a `model_status` event.
//! Bundles that failed on the device are remembered by digest, so a retained offer does not make the
//! device retry them forever.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, QoS};
use tokio::sync::{mpsc, watch};

use super::chunk::Chunk;
use super::config::UpdatesConfig;
use super::install::{stage, Staged};
use super::installed::{self, ActiveRecord, InstalledModel};
use super::keys::TrustStore;
use super::offer::{Offer, Target};
use super::receive::{prune, Receiver};
use super::requirements::Requirements;
use super::status::{Status, UpdateState};
use super::version::{check_version, VersionDecision};
use crate::infer::BackendConfig;
use crate::mqtt::MqttConfig;
use crate::runtime::hot_swap::{HealthSnapshot, ModelHandle};
use crate::source::backoff::Backoff;

/// One model slot as the agent sees it.
pub struct Slot {
    pub handle: ModelHandle,
    pub backend: BackendConfig,
    pub needs: Requirements,
    /// What serves now (the configured model, or the last installed bundle).
    pub current: InstalledModel,
}

pub struct Agent {
    pub cfg: UpdatesConfig,
    pub mqtt: MqttConfig,
    pub device_id: String,
    pub state_dir: PathBuf,
    pub slots: BTreeMap<String, Slot>,
    /// Each step also as a `model_status` event.
    pub events: Arc<super::event::ModelEvents>,
}

/// Results of background installs, back to the MQTT loop.
enum Done {
    Finished { model: String, current: Option<InstalledModel>, refuse: Option<(String, String)> },
}

struct Transfer {
    offer: Offer,
    receiver: Receiver,
    last_reported: u32,
}

struct Ctx {
    device: String,
    prefix: String,
    client: AsyncClient,
    trust: Arc<TrustStore>,
    events: Arc<super::event::ModelEvents>,
}

impl Ctx {
    async fn report(&self, st: Status) {
        match st.state {
            UpdateState::Rejected | UpdateState::RolledBack => {
                tracing::warn!(model = %st.model, version = %st.version, state = ?st.state, reason = st.reason.as_deref().unwrap_or(""), "model update")
            }
            _ => tracing::info!(model = %st.model, version = %st.version, state = ?st.state, reason = st.reason.as_deref().unwrap_or(""), "model update"),
        }
        self.events.report(&st);
        let topic = Status::topic(&self.prefix, &self.device);
        if let Err(e) = self.client.publish(topic, QoS::AtLeastOnce, true, st.to_json().into_bytes()).await {
            tracing::warn!(error = %e, "cannot queue the update status");
        }
    }

    /// A status for an offer that could not be parsed at all.
    async fn report_unparsed(&self, reason: String) {
        let st = Status {
            format: super::status::STATUS_FORMAT.to_string(),
            device: self.device.clone(),
            model: String::new(),
            version: String::new(),
            digest: String::new(),
            state: UpdateState::Rejected,
            reason: Some(reason),
            progress: None,
            previous_version: None,
            at: time::OffsetDateTime::now_utc(),
        };
        self.report(st).await;
    }
}

/// Digests that failed on this device, with why (`<state>/updates/refused.json`).
struct Refused {
    dir: PathBuf,
    map: BTreeMap<String, String>,
}

const REFUSED_FILE: &str = "refused.json";

impl Refused {
    fn load(dir: PathBuf) -> Self {
        let map = std::fs::read(dir.join(REFUSED_FILE)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Self { dir, map }
    }

    fn add(&mut self, digest: String, reason: String) {
        self.map.insert(digest, reason);
        let written = serde_json::to_vec_pretty(&self.map)
            .map_err(|e| super::UpdateError::Invalid(e.to_string()))
            .and_then(|text| super::receive::write_atomic(&self.dir, REFUSED_FILE, "refused.json.tmp", &text));
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot record a refused update");
        }
    }
}

impl Agent {
    fn options(&self) -> Result<MqttOptions, crate::mqtt::tls::MqttTlsError> {
        let mut o = self.mqtt.client_options(format!("kaiteki-{}-updates", self.device_id))?;
        // Retained chunks are re-sent on every subscription anyway; a clean session keeps the broker from
        // queueing a second copy of everything for us while we are away.
        o.set_clean_session(true);
        let max = self.cfg.offer_limits().max_chunk_bytes as usize + 1024;
        o.set_max_packet_size(max.max(64 << 10), max.max(64 << 10));
        o.set_inflight(32);
        Ok(o)
    }

    /// Runs until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let trust = match self.cfg.trust_store() {
            Ok(t) => Arc::new(t),
            Err(e) => {
                tracing::error!(error = %e, "model updates disabled: the trusted keys are unusable");
                return;
            }
        };
        let prefix = self.mqtt.topic_prefix.clone();
        let updates_dir = self.state_dir.join("updates");
        if let Err(e) = std::fs::create_dir_all(&updates_dir) {
            tracing::error!(error = %e, dir = %updates_dir.display(), "model updates disabled: no folder for transfers");
            return;
        }
        let mut refused = Refused::load(updates_dir.clone());
        let mut offer_topics = vec![Offer::device_topic(&prefix, &self.device_id)];
        offer_topics.extend(self.cfg.groups.iter().map(|g| Offer::group_topic(&prefix, g)));
        let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
        let mut transfer: Option<Transfer> = None;
        // Slots with an install or watch under way, and the newest offer that arrived meanwhile.
        let mut busy: HashMap<String, Option<Vec<u8>>> = HashMap::new();
        let mut backoff = Backoff::new(Duration::from_millis(self.mqtt.reconnect_initial_ms), Duration::from_millis(self.mqtt.reconnect_max_ms));
        tracing::info!(topics = ?offer_topics, keys = trust.len(), "model updates: listening for offers");
        'connection: loop {
            let opts = match self.options() {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(error = %e, "model updates: cannot set up the broker connection");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff.next_delay()) => continue 'connection,
                        _ = stop.changed() => if *stop.borrow() { return; } else { continue 'connection },
                    }
                }
            };
            let (client, mut events) = AsyncClient::new(opts, 64);
            let ctx = Ctx { device: self.device_id.clone(), prefix: prefix.clone(), client: client.clone(), trust: trust.clone(), events: self.events.clone() };
            loop {
                tokio::select! {
                    _ = stop.changed() => {
                        if *stop.borrow() {
                            let _ = client.disconnect().await;
                            return;
                        }
                    }
                    Some(done) = done_rx.recv() => {
                        let Done::Finished { model, current, refuse } = done;
                        if let Some(slot) = self.slots.get_mut(&model) {
                            if let Some(cur) = current {
                                slot.current = cur;
                            }
                        }
                        if let Some((digest, reason)) = refuse {
                            refused.add(digest, reason);
                        }
                        if let Some(Some(next)) = busy.remove(&model) {
                            self.on_offer(&ctx, &next, &updates_dir, &mut transfer, &mut busy, &refused, &done_tx).await;
                        }
                    }
                    ev = events.poll() => match ev {
                        Ok(Event::Incoming(Incoming::ConnAck(_))) => {
                            backoff.reset();
                            tracing::info!("model updates: connected to the broker");
                            for t in &offer_topics {
                                let _ = client.subscribe(t.clone(), QoS::AtLeastOnce).await;
                            }
                            if let Some(tr) = &transfer {
                                let _ = client.subscribe(tr.offer.chunk_filter(&prefix), QoS::AtLeastOnce).await;
                            }
                        }
                        Ok(Event::Incoming(Incoming::Publish(p))) => {
                            if offer_topics.contains(&p.topic) {
                                if p.payload.is_empty() {
                                    continue; // a cleared offer
                                }
                                self.on_offer(&ctx, &p.payload, &updates_dir, &mut transfer, &mut busy, &refused, &done_tx).await;
                            } else if transfer.as_ref().is_some_and(|t| t.offer.chunk_index_from_topic(&prefix, &p.topic).is_some()) {
                                self.on_chunk(&ctx, &p.topic, &p.payload, &mut transfer, &mut busy, &done_tx).await;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            let wait = backoff.next_delay();
                            tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "model updates: broker connection lost");
                            tokio::select! {
                                _ = tokio::time::sleep(wait) => {}
                                _ = stop.changed() => if *stop.borrow() { return; },
                            }
                            continue 'connection;
                        }
                    }
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn on_offer(
        &mut self,
        ctx: &Ctx,
        payload: &[u8],
        updates_dir: &std::path::Path,
        transfer: &mut Option<Transfer>,
        busy: &mut HashMap<String, Option<Vec<u8>>>,
        refused: &Refused,
        done: &mpsc::UnboundedSender<Done>,
    ) {
        let offer = match Offer::parse(payload, &self.cfg.offer_limits()) {
            Ok(o) => o,
            Err(e) => return ctx.report_unparsed(format!("offer: {e}")).await,
        };
        let for_us = match &offer.target {
            Target::Device(d) => *d == self.device_id,
            Target::Group(g) => self.cfg.groups.contains(g),
        };
        if !for_us {
            return; // an offer on our topic addressed elsewhere: not ours to judge
        }
        let reject = |reason: String| Status::for_offer(&ctx.device, &offer, UpdateState::Rejected).with_reason(reason);
        let Some(slot) = self.slots.get(&offer.model) else {
            let names: Vec<&str> = self.slots.keys().map(|s| s.as_str()).collect();
            return ctx.report(reject(format!("no model slot `{}` on this device (slots: {})", offer.model, names.join(", ")))).await;
        };
        if let Some(b) = busy.get_mut(&offer.model) {
            // One install per slot at a time; the newest offer waits for the current one to end.
            *b = Some(payload.to_vec());
            return;
        }
        if let Err(e) = offer.verify_signature(&ctx.trust) {
            return ctx.report(reject(e.to_string())).await;
        }
        if slot.current.digest == offer.digest_hex() {
            return ctx.report(Status::for_offer(&ctx.device, &offer, UpdateState::Active).with_reason("already active")).await;
        }
        if let Some(why) = refused.map.get(&offer.digest_hex()) {
            return ctx.report(reject(format!("this bundle failed on this device before: {why}"))).await;
        }
        let current = semver::Version::parse(&slot.current.version).ok();
        match check_version(current.as_ref(), &offer.version, offer.allow_downgrade) {
            Ok(VersionDecision::Downgrade) => tracing::warn!(from = %slot.current.version, to = %offer.version, "downgrade allowed by the offer"),
            Ok(_) => {}
            Err(e) => return ctx.report(reject(e.to_string())).await,
        }
        if transfer.as_ref().is_some_and(|t| t.offer.same_transfer(&offer)) {
            return;
        }
        if let Some(old) = transfer.take() {
            let _ = ctx.client.unsubscribe(old.offer.chunk_filter(&ctx.prefix)).await;
        }
        let dir = Receiver::dir_for(updates_dir, &offer);
        if let Err(e) = prune(updates_dir, Some(&offer.digest_hex())) {
            tracing::warn!(error = %e, "cannot remove old transfers");
        }
        let receiver = match Receiver::open(&dir, &offer) {
            Ok(r) => r,
            Err(e) => return ctx.report(reject(format!("cannot store the transfer: {e}"))).await,
        };
        let p = receiver.progress();
        ctx.report(Status::for_offer(&ctx.device, &offer, UpdateState::Receiving).with_progress(p.have, p.total)).await;
        let complete = p.complete;
        *transfer = Some(Transfer { offer, receiver, last_reported: p.have });
        if complete {
            self.start_install(ctx, transfer, busy, done).await;
        } else if let Some(t) = transfer.as_ref() {
            let _ = ctx.client.subscribe(t.offer.chunk_filter(&ctx.prefix), QoS::AtLeastOnce).await;
        }
    }

    async fn on_chunk(
        &mut self,
        ctx: &Ctx,
        topic: &str,
        payload: &[u8],
        transfer: &mut Option<Transfer>,
        busy: &mut HashMap<String, Option<Vec<u8>>>,
        done: &mpsc::UnboundedSender<Done>,
    ) {
        let Some(t) = transfer.as_mut() else { return };
        if payload.is_empty() {
            return; // a cleared chunk
        }
        let index = t.offer.chunk_index_from_topic(&ctx.prefix, topic);
        let chunk = match Chunk::decode(payload, &t.offer) {
            Ok(c) if Some(c.index) == index => c,
            Ok(c) => {
                let why = format!("chunk on {topic} claims index {}; ignored", c.index);
                return ctx.report(Status::for_offer(&ctx.device, &t.offer, UpdateState::Receiving).with_reason(why)).await;
            }
            Err(e) => {
                let p = t.receiver.progress();
                let why = format!("{e}; waiting for a good copy");
                return ctx.report(Status::for_offer(&ctx.device, &t.offer, UpdateState::Receiving).with_progress(p.have, p.total).with_reason(why)).await;
            }
        };
        let p = match t.receiver.accept(&chunk) {
            Ok(p) => p,
            Err(e) => return ctx.report(Status::for_offer(&ctx.device, &t.offer, UpdateState::Rejected).with_reason(format!("cannot store chunk: {e}"))).await,
        };
        // Progress about every tenth of the transfer, not per chunk.
        if p.complete || p.have >= t.last_reported + (p.total / 10).max(1) {
            t.last_reported = p.have;
            ctx.report(Status::for_offer(&ctx.device, &t.offer, UpdateState::Receiving).with_progress(p.have, p.total)).await;
        }
        if p.complete {
            let _ = ctx.client.unsubscribe(t.offer.chunk_filter(&ctx.prefix)).await;
            self.start_install(ctx, transfer, busy, done).await;
        }
    }

    /// Hands a complete transfer to a background task: finish, stage, swap, watch.
    async fn start_install(
        &mut self,
        ctx: &Ctx,
        transfer: &mut Option<Transfer>,
        busy: &mut HashMap<String, Option<Vec<u8>>>,
        done: &mpsc::UnboundedSender<Done>,
    ) {
        let Some(mut t) = transfer.take() else { return };
        let Some(slot) = self.slots.get(&t.offer.model) else { return };
        busy.insert(t.offer.model.clone(), None);
        let offer = t.offer.clone();
        let client = ctx.client.clone();
        let (device, prefix, trust, events) = (ctx.device.clone(), ctx.prefix.clone(), ctx.trust.clone(), ctx.events.clone());
        let (handle, backend, needs, previous) = (slot.handle.clone(), slot.backend.clone(), slot.needs.clone(), slot.current.clone());
        let (state_dir, cfg, done) = (self.state_dir.clone(), self.cfg.clone(), done.clone());
        tokio::spawn(async move {
            let ctx = Ctx { device, prefix, client, trust, events };
            ctx.report(Status::for_offer(&ctx.device, &offer, UpdateState::Verifying)).await;
            let trust = ctx.trust.clone();
            let (o, sd) = (offer.clone(), state_dir.clone());
            let staged = tokio::task::spawn_blocking(move || {
                let path = t.receiver.finish().map_err(|e| e.to_string())?;
                stage(&path, &o, &trust, &sd, &backend, &needs)
            })
            .await
            .unwrap_or_else(|e| Err(format!("the install task failed: {e}")));
            let model = offer.model.clone();
            let result = match staged {
                Err(reason) => {
                    ctx.report(Status::for_offer(&ctx.device, &offer, UpdateState::Rejected).with_reason(reason.clone())).await;
                    // A bad assembly is a transfer problem worth retrying; anything else is the bundle's.
                    let refuse = (!reason.starts_with("assembled bundle digest mismatch")).then(|| (offer.digest_hex(), reason));
                    Done::Finished { model, current: None, refuse }
                }
                Ok(staged) => activate_and_watch(&ctx, &offer, staged, handle, previous, &state_dir, &cfg).await,
            };
            let _ = done.send(result);
        });
    }
}

/// Swaps the staged detector in, records it, watches it, and rolls it back if it degrades.
async fn activate_and_watch(
    ctx: &Ctx,
    offer: &Offer,
    staged: Staged,
    handle: ModelHandle,
    previous: InstalledModel,
    state_dir: &std::path::Path,
    cfg: &UpdatesConfig,
) -> Done {
    let model = offer.model.clone();
    let selftest = staged.selftest_frames;
    ctx.report(
        Status::for_offer(&ctx.device, offer, UpdateState::Staged)
            .with_reason(format!("verified, loaded, classes checked, self-test passed on {selftest} frame(s)")),
    )
    .await;
    let installed = staged.installed.clone();
    let h = handle.clone();
    let swapped = tokio::task::spawn_blocking(move || h.swap(staged.detector, Duration::from_secs(30)))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r.map_err(|e| e.to_string()));
    let swapped = match swapped {
        Ok(s) => s,
        Err(reason) => {
            ctx.report(Status::for_offer(&ctx.device, offer, UpdateState::Rejected).with_reason(reason.clone())).await;
            return Done::Finished { model, current: None, refuse: None };
        }
    };
    let record = ActiveRecord { active: installed.clone(), previous: Some(previous.clone()), watching: true };
    if let Err(e) = installed::store(state_dir, &model, &record) {
        tracing::error!(error = %e, "cannot record the active model; a restart would run the previous one");
    }
    // The detection gap: from the old model's last inference to the new one's first.
    let mut gap = None;
    for _ in 0..100 {
        if let Some(g) = handle.health.last_gap() {
            gap = Some(g);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let gap_text = gap.map(|g| format!("detection gap {} ms", g.as_millis())).unwrap_or_else(|| "no frame inferred yet".into());
    ctx.report(
        Status::for_offer(&ctx.device, offer, UpdateState::Active)
            .with_previous_version(previous.version.clone())
            .with_reason(format!("swapped without restart ({gap_text}); watching for {} s", cfg.watch_s)),
    )
    .await;
    let verdict = watch_window(&handle, &swapped.old_health, cfg).await;
    match verdict {
        Ok(summary) => {
            let record = ActiveRecord { watching: false, ..record };
            if let Err(e) = installed::store(state_dir, &model, &record) {
                tracing::error!(error = %e, "cannot record the end of the watch window");
            }
            ctx.report(
                Status::for_offer(&ctx.device, offer, UpdateState::Active)
                    .with_previous_version(previous.version.clone())
                    .with_reason(format!("watch window passed: {summary}; {gap_text}")),
            )
            .await;
            Done::Finished { model, current: Some(installed), refuse: None }
        }
        Err(why) => {
            let h = handle.clone();
            let back = tokio::task::spawn_blocking(move || h.swap(swapped.old, Duration::from_secs(30))).await;
            let restored = matches!(back, Ok(Ok(_)));
            if restored {
                let rec = ActiveRecord { active: previous.clone(), previous: None, watching: false };
                if let Err(e) = installed::store(state_dir, &model, &rec) {
                    tracing::error!(error = %e, "cannot record the rollback");
                }
            }
            let reason = if restored { format!("rolled back to {}: {why}", previous.version) } else { format!("{why}; the rollback swap failed too") };
            ctx.report(Status::for_offer(&ctx.device, offer, UpdateState::RolledBack).with_previous_version(previous.version.clone()).with_reason(reason.clone())).await;
            Done::Finished { model, current: restored.then_some(previous), refuse: Some((offer.digest_hex(), reason)) }
        }
    }
}

/// Compares the new model's counters with the old model's over the watch window. `Err` says why it
/// must be rolled back.
async fn watch_window(handle: &ModelHandle, old: &HealthSnapshot, cfg: &UpdatesConfig) -> Result<String, String> {
    let policy = &cfg.rollback;
    let end = tokio::time::Instant::now() + Duration::from_secs_f64(cfg.watch_s);
    loop {
        let now = handle.health.snapshot();
        let calls = now.inferred + now.errors;
        if calls >= policy.min_frames && now.error_rate() > policy.max_error_rate {
            return Err(format!("inference errors on {} of {} frames", now.errors, calls));
        }
        if tokio::time::Instant::now() >= end {
            return judge(&now, old, policy);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn judge(new: &HealthSnapshot, old: &HealthSnapshot, p: &super::config::RollbackPolicy) -> Result<String, String> {
    if new.inferred < p.min_frames {
        return Ok(format!("only {} frames inferred in the window, too few to judge", new.inferred));
    }
    if old.inferred > 0 && old.mean_latency_s() > 0.0 {
        let ratio = new.mean_latency_s() / old.mean_latency_s();
        if ratio > p.max_latency_ratio {
            return Err(format!(
                "inference took {:.0} ms per frame, {ratio:.1}x the previous model's {:.0} ms",
                new.mean_latency_s() * 1e3,
                old.mean_latency_s() * 1e3
            ));
        }
    }
    let (dn, dold) = (new.detection_rate(), old.detection_rate());
    if old.inferred >= p.min_frames && dold >= p.min_baseline_detections && dn < p.min_detection_ratio * dold {
        return Err(format!("detection rate fell to {dn:.2} per frame from the previous model's {dold:.2}"));
    }
    Ok(format!(
        "{} frames, {:.2} detections per frame (previous {dold:.2}), {:.0} ms per frame",
        new.inferred,
        dn,
        new.mean_latency_s() * 1e3
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::config::RollbackPolicy;

    fn snap(inferred: u64, detections: u64, ms: u64) -> HealthSnapshot {
        HealthSnapshot { inferred, errors: 0, detections, latency_us: inferred * ms * 1000 }
    }

    #[test]
    fn judge_rolls_back_on_detections_and_latency_only_with_evidence() {
        let p = RollbackPolicy::default();
        let old = snap(100, 500, 50);
        assert!(judge(&snap(50, 240, 55), &old, &p).is_ok());
        let e = judge(&snap(50, 0, 55), &old, &p).unwrap_err();
        assert!(e.contains("detection rate fell to 0.00 per frame from the previous model's 5.00"), "{e}");
        let e = judge(&snap(50, 240, 400), &old, &p).unwrap_err();
        assert!(e.contains("8.0x"), "{e}");
        // Too few frames to judge, and a baseline that found nothing, both pass.
        assert!(judge(&snap(5, 0, 55), &old, &p).unwrap().contains("too few"));
        assert!(judge(&snap(50, 0, 55), &snap(100, 10, 50), &p).is_ok());
    }
}
