//! Events into the durable outbox. Every event is on disk (per the outbox's fsync policy) before any sink
//! sees it; sinks read from the outbox and delete only what was acknowledged.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::Notify;

use crate::events::seq::SeqAllocator;
use crate::events::{Draft, Envelope, Topics};
use crate::outbox::Outbox;
use crate::privacy::RedactedImage;

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Numbers events and writes them to the outbox in arrival order, then wakes the sink. Returns when the
/// event channel closes (all producers gone), after a flush. Writes run on the blocking pool, one at a
/// time, so order is kept and the async side never waits on the disk.
///
/// This is the only place numbers are assigned: each is taken right before its event's push, and the
/// outbox stores it with the event, so the numbers on disk have no holes even after a kill -9 (see
/// [`crate::events::seq`]). An event the outbox drops by policy keeps its number (a counted hole).
pub async fn store_events(
    mut events: UnboundedReceiver<Draft>,
    outbox: Arc<Outbox>,
    seq: Arc<SeqAllocator>,
    topics: Topics,
    wake: Arc<Notify>,
    ngsi: Option<crate::ngsi::NgsiContext>,
    mut on_event: impl FnMut(&Envelope) + Send,
) {
    while let Some(draft) = events.recv().await {
        let (ob, numbers) = (outbox.clone(), seq.clone());
        let topic = topics.event(draft.kind());
        let priority = draft.kind().priority();
        let res = tokio::task::spawn_blocking(move || {
            let env = draft.numbered(numbers.next());
            let outcome = ob.push_event(priority, &topic, &env.to_json(), now_ms(), env.seq);
            (env, outcome)
        })
        .await;
        let env = match res {
            Ok((env, outcome)) => {
                match outcome {
                    Ok(o) if o.id().is_none() => {
                        tracing::warn!(seq = env.seq, "outbox full of higher-priority events: event dropped (counted)")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(seq = env.seq, error = %e, "cannot store event in the outbox"),
                }
                env
            }
            Err(e) => {
                tracing::error!(error = %e, "outbox writer task failed");
                continue;
            }
        };
        on_event(&env);
        if let Some(ctx) = &ngsi {
            store_entities(&outbox, &topics, &env, ctx).await;
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

/// A redacted snapshot (road-damage evidence of `record_id`) into the outbox, on `…/snapshots/{record_id}`.
/// Taking a [`RedactedImage`] is the point: nothing else can be published as an image.
pub fn store_snapshot(outbox: &Outbox, topics: &Topics, record_id: &str, img: &RedactedImage) {
    let Some(topic) = topics.snapshot(record_id) else {
        tracing::error!(record = record_id, "snapshot not published: the record id cannot be a topic level");
        return;
    };
    match outbox.push(crate::outbox::Priority::Normal, &topic, img.jpeg(), false, now_ms()) {
        Ok(o) if o.id().is_some() => tracing::debug!(record = record_id, bytes = img.jpeg().len(), "snapshot queued for MQTT"),
        Ok(_) => tracing::warn!(record = record_id, "outbox full: snapshot dropped (counted)"),
        Err(e) => tracing::error!(record = record_id, error = %e, "cannot store a snapshot in the outbox"),
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
