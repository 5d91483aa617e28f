//! Events into the durable outbox. Every event is on disk (per the outbox's fsync policy) before any sink
//! sees it; sinks read from the outbox and delete only what was acknowledged.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;

use crate::events::{Envelope, Topics};
use crate::outbox::Outbox;

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Writes events to the outbox in arrival order and wakes the sink. Returns when the event channel closes
/// (all producers gone). Writes run on the blocking pool, one at a time, so order is kept and the async
/// side never waits on the disk.
pub async fn store_events(
    mut events: UnboundedReceiver<Envelope>,
    outbox: Arc<Outbox>,
    topics: Topics,
    wake: Arc<Notify>,
    ngsi: Option<crate::ngsi::NgsiContext>,
    mut on_event: impl FnMut(&Envelope) + Send,
) {
    while let Some(env) = events.recv().await {
        on_event(&env);
        if let Some(ctx) = &ngsi {
            store_entities(&outbox, &topics, &env, ctx).await;
        }
        let ob = outbox.clone();
        let topic = topics.event(env.kind);
        let priority = env.kind.priority();
        let payload = env.to_json();
        let seq = env.seq;
        let res = tokio::task::spawn_blocking(move || ob.push(priority, &topic, &payload, false, now_ms())).await;
        match res {
            Ok(Ok(outcome)) => {
                if outcome.id().is_none() {
                    tracing::warn!(seq, "outbox full of higher-priority events: event dropped (counted)");
                }
            }
            Ok(Err(e)) => tracing::error!(seq, error = %e, "cannot store event in the outbox"),
            Err(e) => tracing::error!(seq, error = %e, "outbox writer task failed"),
        }
        wake.notify_one();
    }
    if let Err(e) = outbox.flush() {
        tracing::error!(error = %e, "cannot flush the outbox");
    }
}

/// The event as NGSI-LD entities, into the outbox beside it (same priority). A mapping failure costs
/// the entities, never the event.
async fn store_entities(outbox: &Arc<Outbox>, topics: &Topics, env: &Envelope, ctx: &crate::ngsi::NgsiContext) {
    let value = serde_json::to_value(env).unwrap_or_default();
    let entities = match crate::ngsi::to_entities(&value, ctx) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(seq = env.seq, kind = env.kind.as_str(), error = %e, "no NGSI-LD entity for this event");
            return;
        }
    };
    let priority = env.kind.priority();
    for entity in entities {
        let (ob, topic, payload) = (outbox.clone(), topics.ngsi(entity.entity_type), entity.body.to_string().into_bytes());
        match tokio::task::spawn_blocking(move || ob.push(priority, &topic, &payload, false, now_ms())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "cannot store an NGSI-LD entity in the outbox"),
            Err(e) => tracing::error!(error = %e, "outbox writer task failed"),
        }
    }
}

/// The Device and PrivacyObject entities, retained, once at start.
pub fn store_static_entities(outbox: &Outbox, topics: &Topics, device_id: &str, privacy: &serde_json::Value) {
    let entities = [
        crate::ngsi::device_entity(device_id, env!("CARGO_PKG_VERSION"), None, Some(time::OffsetDateTime::now_utc())),
        crate::ngsi::privacy_entity(privacy),
    ];
    for entity in entities {
        match entity {
            Ok(e) => {
                let payload = e.body.to_string().into_bytes();
                if let Err(err) = outbox.push(crate::outbox::Priority::Normal, &topics.ngsi(e.entity_type), &payload, true, now_ms()) {
                    tracing::error!(error = %err, "cannot store an NGSI-LD entity in the outbox");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot build a static NGSI-LD entity"),
        }
    }
}
