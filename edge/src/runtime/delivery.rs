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
    mut on_event: impl FnMut(&Envelope) + Send,
) {
    while let Some(env) = events.recv().await {
        on_event(&env);
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
