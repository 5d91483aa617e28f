//! The MQTT sink: publishes outbox records at QoS 1 and deletes each one only when the broker has
//! acknowledged it (PUBACK).
//!
//! rumqttc's `publish()` does not return the packet id (rumqtt issues #349, #1007), so acknowledgements
//! are tied to records by order: this task is the only publisher on its client, it notes each record id
//! in a FIFO as it hands the publication to the client, and the event loop reports
//! `Outgoing::Publish(pkid)` in that same order. `Incoming::PubAck(pkid)` then names the record.
//!
//! Each connection gets a fresh client: after a drop, nothing is retransmitted from rumqttc's memory
//! (which would break the FIFO); instead everything unacknowledged is released in the outbox and sent
//! again. Delivery is therefore at-least-once across outages and restarts; consumers deduplicate by the
//! event's `id`.
//!
//! Over MQTT 5 (the default, see [`super::link`]) a PUBACK can refuse a publication (e.g. the broker's ACL
//! denies the topic). The record is then kept, not deleted: it is set aside for the rest of the connection
//! (so the others keep flowing), counted, logged with the broker's reason, and offered again every
//! `[mqtt] refused_retry_s` and after every reconnect, until the broker takes it or the outbox's bounds
//! drop it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use super::link::{LinkClient, LinkEvent, LinkLoop};
use super::{MqttConfig, MqttStatus};
use crate::events::Topics;
use crate::health::Metrics;
use crate::outbox::Outbox;
use crate::source::backoff::Backoff;

/// Publications in flight (sent, not yet acknowledged) per connection.
const WINDOW: usize = 64;


fn status_payload(device_id: &str, online: bool) -> Vec<u8> {
    serde_json::json!({
        "state": if online { "online" } else { "offline" },
        "device_id": device_id,
        "version": env!("CARGO_PKG_VERSION"),
    })
    .to_string()
    .into_bytes()
}

pub struct Sink {
    pub cfg: MqttConfig,
    pub device_id: String,
    pub topics: Topics,
    pub outbox: Arc<Outbox>,
    pub wake: Arc<Notify>,
    pub metrics: Arc<Metrics>,
    pub status: Arc<MqttStatus>,
    /// Retained on `…/privacy` at every connection.
    pub privacy: Vec<u8>,
    /// Becomes true when the daemon stops: drain what can be sent, say `offline`, disconnect.
    pub stop: watch::Receiver<bool>,
}

enum ConnEnd {
    Lost(String),
    Stopped,
}

impl Sink {
    fn link(&self) -> Result<(LinkClient, LinkLoop), super::tls::MqttTlsError> {
        let client_id = self.cfg.client_id.clone().unwrap_or_else(|| format!("kaiteki-{}", self.device_id));
        let status = self.topics.status();
        super::link::connect(
            &self.cfg,
            super::link::Session {
                client_id,
                will_topic: &status,
                will_payload: status_payload(&self.device_id, false),
                max_packet_bytes: 2 << 20,
                queue: WINDOW * 2 + 8,
            },
        )
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs until stopped. Returns after a final drain attempt when the link is up.
    pub async fn run(mut self) {
        let mut backoff = Backoff::new(
            Duration::from_millis(self.cfg.reconnect_initial_ms),
            Duration::from_millis(self.cfg.reconnect_max_ms),
        );
        loop {
            let end = match self.link() {
                Ok((client, eventloop)) => self.connection(client, eventloop).await,
                // Unusable TLS files (checked at start, so changed since): no plain-TCP fall-back.
                Err(e) => ConnEnd::Lost(e.to_string()),
            };
            match end {
                ConnEnd::Stopped => break,
                ConnEnd::Lost(e) => {
                    self.outbox.release_all();
                    let was = self.status.connected.swap(false, Ordering::Relaxed);
                    self.metrics.mqtt_connected.set(0);
                    *self.status.last_error.lock() = Some(e.clone());
                    let delay = backoff.next_delay();
                    if was || backoff.attempts() <= 1 {
                        tracing::warn!(host = %self.cfg.host, port = *self.cfg.port.get_ref(), error = %e, retry_ms = delay.as_millis() as u64, "MQTT link down; events stay in the outbox");
                    } else {
                        tracing::debug!(error = %e, retry_ms = delay.as_millis() as u64, "MQTT reconnect failed");
                    }
                    if self.stopping() {
                        tracing::info!(pending = self.outbox.stats().records, "stopping while the broker is unreachable; events stay in the outbox");
                        break;
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(delay) => {}
                        _ = self.stop.changed() => {}
                    }
                    if self.stopping() && !self.status.connected.load(Ordering::Relaxed) {
                        tracing::info!(pending = self.outbox.stats().records, "stopping while the broker is unreachable; events stay in the outbox");
                        break;
                    }
                    continue;
                }
            }
        }
    }

    async fn connection(&mut self, client: LinkClient, mut el: LinkLoop) -> ConnEnd {
        // Wait for the CONNACK (or the first error).
        loop {
            match el.poll().await {
                Ok(LinkEvent::ConnAck(Ok(()))) => break,
                Ok(LinkEvent::ConnAck(Err(code))) => return ConnEnd::Lost(format!("broker refused the connection: {code}")),
                Ok(_) => {}
                Err(e) => return ConnEnd::Lost(e),
            }
        }
        self.status.connected.store(true, Ordering::Relaxed);
        self.metrics.mqtt_connected.set(1);
        *self.status.last_error.lock() = None;
        tracing::info!(host = %self.cfg.host, port = *self.cfg.port.get_ref(), "connected to the MQTT broker");

        // (record id, topic) in publish order (no id: a status message, not from the outbox).
        let mut order: VecDeque<(Option<u64>, String)> = VecDeque::new();
        let mut by_pkid: HashMap<u16, (Option<u64>, String)> = HashMap::new();
        // Records the broker refused on this connection: kept checked out (not sent again) until the next
        // retry or reconnect.
        let mut refused: Vec<u64> = Vec::new();
        let retry_every = Duration::from_secs(self.cfg.refused_retry_s.max(1));
        let mut retry_refused = tokio::time::interval_at(tokio::time::Instant::now() + retry_every, retry_every);
        let mut in_flight = 0usize;
        let mut offline_sent = false;
        let mut offline_acked = false;

        order.push_back((None, self.topics.status()));
        if let Err(e) = client.try_publish(self.topics.status(), true, status_payload(&self.device_id, true)) {
            return ConnEnd::Lost(format!("cannot queue the status message: {e}"));
        }
        order.push_back((None, self.topics.privacy()));
        if let Err(e) = client.try_publish(self.topics.privacy(), true, self.privacy.clone()) {
            return ConnEnd::Lost(format!("cannot queue the privacy manifest: {e}"));
        }
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let drain_deadline = tokio::time::sleep(Duration::from_secs(3600 * 24 * 365));
        tokio::pin!(drain_deadline);
        let mut draining = false;
        loop {
            // Top up the window from the outbox.
            while !draining && in_flight < WINDOW {
                let outbox = self.outbox.clone();
                let want = WINDOW - in_flight;
                let batch = match tokio::task::spawn_blocking(move || outbox.checkout_batch(want)).await {
                    Ok(Ok(b)) => b,
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "cannot read the outbox");
                        break;
                    }
                    Err(_) => break,
                };
                if batch.is_empty() {
                    break;
                }
                for r in batch {
                    if !self.topics.admits(&r.topic, &r.payload) {
                        // The egress allow-list: only events, NGSI-LD entities, status, privacy and redacted
                        // JPEG snapshots leave.
                        tracing::error!(topic = %r.topic, record = r.id, "egress refused: not an allowed topic or payload; record dropped");
                        if let Err(e) = self.outbox.ack(r.id) {
                            tracing::error!(error = %e, record = r.id, "cannot delete a refused record");
                        }
                        continue;
                    }
                    order.push_back((Some(r.id), r.topic.clone()));
                    if let Err(e) = client.try_publish(r.topic, r.retain, r.payload) {
                        return ConnEnd::Lost(format!("MQTT client queue refused a publication: {e}"));
                    }
                    in_flight += 1;
                    self.status.published.fetch_add(1, Ordering::Relaxed);
                    self.metrics.mqtt_published.inc();
                }
            }
            self.status.queued.store(self.outbox.stats().records, Ordering::Relaxed);

            // Stopping: send what is stored (bounded in time), then `offline`, then disconnect.
            if self.stopping() && !draining {
                draining = true;
                drain_deadline.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(10));
            }
            if draining {
                // Refused records stay for the next start; waiting for them would only delay the stop.
                let empty = in_flight == 0 && self.outbox.stats().records <= refused.len() as u64;
                if (empty || drain_deadline.is_elapsed()) && !offline_sent {
                    order.push_back((None, self.topics.status()));
                    let _ = client.try_publish(self.topics.status(), true, status_payload(&self.device_id, false));
                    offline_sent = true;
                }
                if offline_acked {
                    client.try_disconnect();
                    // Let the DISCONNECT go out.
                    let _ = tokio::time::timeout(Duration::from_millis(500), async {
                        loop {
                            if el.poll().await.is_err() {
                                break;
                            }
                        }
                    })
                    .await;
                    self.status.connected.store(false, Ordering::Relaxed);
                    return ConnEnd::Stopped;
                }
            }

            tokio::select! {
                ev = el.poll() => match ev {
                    Ok(LinkEvent::Sent(pkid)) => {
                        let sent = order.pop_front().unwrap_or((None, String::new()));
                        by_pkid.insert(pkid, sent);
                    }
                    Ok(LinkEvent::PubAck { pkid, outcome }) => {
                        match (by_pkid.remove(&pkid), outcome) {
                            (Some((Some(rid), _)), Ok(())) => {
                                in_flight = in_flight.saturating_sub(1);
                                if let Err(e) = self.outbox.ack(rid) {
                                    tracing::error!(error = %e, record = rid, "cannot delete an acknowledged record");
                                }
                                self.status.acked.fetch_add(1, Ordering::Relaxed);
                                self.metrics.mqtt_acked.inc();
                            }
                            (Some((Some(rid), topic)), Err(reason)) => {
                                in_flight = in_flight.saturating_sub(1);
                                refused.push(rid);
                                self.status.refused.fetch_add(1, Ordering::Relaxed);
                                self.metrics.mqtt_refused.inc();
                                let why = format!("broker refused a publication on {topic}: {reason}");
                                // One error per topic and connection; the count is in the metrics.
                                let mut last = self.status.last_error.lock();
                                if last.as_deref() != Some(why.as_str()) {
                                    tracing::error!(%topic, %reason, record = rid, "the broker refused a publication; the event stays in the outbox and is offered again");
                                }
                                *last = Some(why);
                            }
                            (Some((None, topic)), outcome) => {
                                if let Err(reason) = outcome {
                                    tracing::error!(%topic, %reason, "the broker refused the device's retained message");
                                }
                                if offline_sent {
                                    offline_acked = true;
                                }
                            }
                            (None, _) => tracing::debug!(pkid, "PUBACK for an unknown packet id"),
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        if draining && offline_sent {
                            return ConnEnd::Stopped;
                        }
                        return ConnEnd::Lost(e);
                    }
                },
                _ = retry_refused.tick() => {
                    if !refused.is_empty() {
                        tracing::info!(records = refused.len(), "offering the refused records to the broker again");
                        for rid in refused.drain(..) {
                            self.outbox.release(rid);
                        }
                    }
                }
                _ = self.wake.notified() => {}
                _ = tick.tick() => {}
                _ = self.stop.changed() => {}
                _ = &mut drain_deadline, if draining && !offline_sent => {}
            }
        }
    }
}
