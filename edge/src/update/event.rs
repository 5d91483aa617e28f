//! The `model_status` event: which model each slot serves, from the start and through every update step.
//!
//! The retained `…/update/status` message only holds the latest step of the latest offer; these events
//! are the durable history (through the outbox, numbered like every event), so the city platform can say
//! which model version produced which detections, and when an update was rejected or rolled back.
//! Transfer progress is not an event (the retained status has it); a step the device already reported
//! (a retained offer seen again after a reconnect) is not reported twice.

use std::collections::HashMap;
use std::time::SystemTime;

use parking_lot::Mutex;
use schemars::JsonSchema;
use serde::Serialize;

use super::status::{Status, UpdateState};
use crate::events::{Emitter, EventBody};

/// Reasons longer than this are cut (an error chain can be long; events are bounded).
const MAX_REASON_CHARS: usize = 500;

/// Where a model slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelState {
    /// Loaded at the daemon's start (the configured model, or an update installed earlier).
    Loaded,
    /// An offer was accepted; its chunks are arriving.
    Receiving,
    /// The bundle is being checked (digest, signature, contents, self-test).
    Verifying,
    /// Checked and about to be swapped in.
    Staged,
    /// Serving (after its watch window, or already serving when offered again).
    Active,
    /// Swapped in and taken out again; `previous_version` serves.
    RolledBack,
    /// Refused; `reason` says why.
    Rejected,
}

impl From<UpdateState> for ModelState {
    fn from(s: UpdateState) -> Self {
        match s {
            UpdateState::Receiving => ModelState::Receiving,
            UpdateState::Verifying => ModelState::Verifying,
            UpdateState::Staged => ModelState::Staged,
            UpdateState::Active => ModelState::Active,
            UpdateState::RolledBack => ModelState::RolledBack,
            UpdateState::Rejected => ModelState::Rejected,
        }
    }
}

/// The body of a `model_status` event.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ModelStatusReport {
    /// The model slot (its key under `[models]`); empty for an offer that could not be read at all.
    pub model: String,
    /// The version this step is about.
    pub version: String,
    /// sha256 (hex) of the update bundle; null for the model named in the configuration.
    pub digest: Option<String>,
    pub state: ModelState,
    /// Why (a rejection, a rollback, "already active").
    pub reason: Option<String>,
    /// The version served before (after a rollback: the one serving again).
    pub previous_version: Option<String>,
}

impl ModelStatusReport {
    /// A slot's model as loaded at start.
    pub fn loaded(model: &str, version: &str, digest: &str) -> Self {
        Self {
            model: model.to_string(),
            version: version.to_string(),
            digest: (!digest.is_empty()).then(|| digest.to_string()),
            state: ModelState::Loaded,
            reason: None,
            previous_version: None,
        }
    }

    /// The event form of an update step.
    pub fn from_status(st: &Status) -> Self {
        Self {
            model: st.model.clone(),
            version: st.version.clone(),
            digest: (!st.digest.is_empty()).then(|| st.digest.clone()),
            state: st.state.into(),
            reason: st.reason.as_deref().map(|r| match r.char_indices().nth(MAX_REASON_CHARS) {
                Some((cut, _)) => format!("{}…", &r[..cut]),
                None => r.to_string(),
            }),
            previous_version: st.previous_version.clone(),
        }
    }
}

/// Turns update steps into events, once each.
pub struct ModelEvents {
    /// Taken away at shutdown ([`close`](Self::close)) so that the event channel can close.
    emitter: Mutex<Option<Emitter>>,
    /// Per slot, the last step reported (progress left out).
    last: Mutex<HashMap<String, ModelStatusReport>>,
}

impl ModelEvents {
    pub fn new(emitter: Option<Emitter>) -> Self {
        Self { emitter: Mutex::new(emitter), last: Mutex::new(HashMap::new()) }
    }

    /// Stops reporting (the daemon is stopping; later steps stay in the retained status only).
    pub fn close(&self) {
        self.emitter.lock().take();
    }

    /// Emits a slot's model as loaded at start.
    pub fn loaded(&self, ev: ModelStatusReport) {
        if let Some(emitter) = self.emitter.lock().as_ref() {
            self.last.lock().insert(ev.model.clone(), ev.clone());
            emitter.emit(SystemTime::now(), EventBody::ModelStatus(ev));
        }
    }

    /// Emits the step unless it repeats the slot's last one. Returns whether it did.
    pub fn report(&self, st: &Status) -> bool {
        let emitter = self.emitter.lock();
        let Some(emitter) = emitter.as_ref() else { return false };
        let mut ev = ModelStatusReport::from_status(st);
        if ev.state == ModelState::Receiving {
            // Progress and per-chunk complaints stay in the retained status: one event per transfer.
            ev.reason = None;
        }
        let mut last = self.last.lock();
        if last.get(&ev.model) == Some(&ev) {
            return false;
        }
        last.insert(ev.model.clone(), ev.clone());
        emitter.emit(SystemTime::now(), EventBody::ModelStatus(ev));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Draft;

    fn status(state: UpdateState, version: &str, reason: Option<&str>) -> Status {
        Status {
            format: super::super::status::STATUS_FORMAT.into(),
            device: "pole-1".into(),
            model: "people".into(),
            version: version.into(),
            digest: "ab".repeat(32),
            state,
            reason: reason.map(String::from),
            progress: None,
            previous_version: None,
            at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn drain(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Draft>) -> Vec<ModelStatusReport> {
        let mut out = Vec::new();
        while let Ok(d) = rx.try_recv() {
            match d.numbered(0).data {
                EventBody::ModelStatus(r) => out.push(r),
                other => panic!("not a model status: {other:?}"),
            }
        }
        out
    }

    #[test]
    fn each_step_is_reported_once_and_progress_is_not_an_event() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ev = ModelEvents::new(Some(Emitter::new("pole-1".into(), tx)));
        assert!(ev.report(&status(UpdateState::Receiving, "2.0.0", None).with_progress(0, 10)));
        assert!(!ev.report(&status(UpdateState::Receiving, "2.0.0", None).with_progress(5, 10)));
        assert!(!ev.report(&status(UpdateState::Receiving, "2.0.0", Some("chunk 3: bad digest")).with_progress(5, 10)));
        assert!(ev.report(&status(UpdateState::Verifying, "2.0.0", None)));
        assert!(ev.report(&status(UpdateState::Active, "2.0.0", None)));
        // A retained offer seen again after a reconnect.
        assert!(ev.report(&status(UpdateState::Active, "2.0.0", Some("already active"))));
        assert!(!ev.report(&status(UpdateState::Active, "2.0.0", Some("already active"))));
        let got = drain(&mut rx);
        let states: Vec<ModelState> = got.iter().map(|r| r.state).collect();
        assert_eq!(states, [ModelState::Receiving, ModelState::Verifying, ModelState::Active, ModelState::Active]);
        assert_eq!(got[0].digest.as_deref(), Some("ab".repeat(32).as_str()));
        assert_eq!(got[3].reason.as_deref(), Some("already active"));
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let long = "検".repeat(MAX_REASON_CHARS + 20);
        let r = ModelStatusReport::from_status(&status(UpdateState::Rejected, "2.0.0", Some(&long)));
        let reason = r.reason.unwrap();
        assert_eq!(reason.chars().count(), MAX_REASON_CHARS + 1);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn without_an_emitter_or_after_close_nothing_is_reported() {
        assert!(!ModelEvents::new(None).report(&status(UpdateState::Rejected, "2.0.0", Some("bad signature"))));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let ev = ModelEvents::new(Some(Emitter::new("pole-1".into(), tx)));
        ev.close();
        assert!(!ev.report(&status(UpdateState::Rejected, "2.0.0", Some("bad signature"))));
        assert!(rx.try_recv().is_err(), "the channel is closed once the emitter is gone");
    }

    #[test]
    fn the_configured_model_has_no_digest() {
        let r = ModelStatusReport::loaded("people", "1.0.0", "");
        assert_eq!((r.state, r.digest), (ModelState::Loaded, None));
        assert_eq!(ModelStatusReport::loaded("people", "2.0.0", "ff").digest.as_deref(), Some("ff"));
    }
}
