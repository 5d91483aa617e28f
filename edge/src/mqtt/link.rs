//! One connection of the publisher, over MQTT 5 (the default) or MQTT 3.1.1 (`[mqtt] protocol`).
//!
//! Why 5: a 3.1.1 broker has no way to refuse a QoS 1 publication. Mosquitto answers a publication its
//! ACL denies with an ordinary PUBACK (measured here with mosquitto 2.0: the broker logs "Denied PUBLISH …
//! Sending PUBACK (rc135)", and a 3.1.1 client receives RC 0), so the outbox would delete an event that
//! never reached anyone. Under MQTT 5 the PUBACK carries the reason (0x87 not authorised, 0x97 quota
//! exceeded, …) and the record stays in the outbox. 3.1.1 remains for brokers without MQTT 5.

use rumqttc::v5::mqttbytes::v5 as v5b;
use rumqttc::Outgoing;
use schemars::JsonSchema;
use serde::Deserialize;

use super::MqttConfig;

/// `[mqtt] protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
pub enum Protocol {
    /// MQTT 5: the broker's refusals reach the device (see the module docs).
    #[default]
    #[serde(rename = "5")]
    V5,
    /// MQTT 3.1.1, for brokers without MQTT 5. A publication the broker denies is acknowledged like any
    /// other, and lost.
    #[serde(rename = "3.1.1")]
    V311,
}

/// What the event loop reported, in the terms the publisher needs.
#[derive(Debug, PartialEq, Eq)]
pub enum LinkEvent {
    /// CONNACK: accepted, or refused with the broker's reason.
    ConnAck(Result<(), String>),
    /// A publication left, with this packet id (in the order they were queued).
    Sent(u16),
    /// The broker's PUBACK: `Err` holds its reason for refusing the publication (MQTT 5 only).
    PubAck { pkid: u16, outcome: Result<(), String> },
    Other,
}

/// The will and size limits every publisher connection has.
pub struct Session<'a> {
    pub client_id: String,
    pub will_topic: &'a str,
    pub will_payload: Vec<u8>,
    pub max_packet_bytes: usize,
    pub queue: usize,
}

pub enum LinkClient {
    V5(rumqttc::v5::AsyncClient),
    V311(rumqttc::AsyncClient),
}

pub enum LinkLoop {
    V5(Box<rumqttc::v5::EventLoop>),
    V311(Box<rumqttc::EventLoop>),
}

/// A fresh client and event loop (nothing is sent until the loop is polled). A clean session: the outbox,
/// not the broker, carries unacknowledged publications across drops.
pub fn connect(cfg: &MqttConfig, s: Session<'_>) -> Result<(LinkClient, LinkLoop), super::tls::MqttTlsError> {
    match cfg.protocol {
        Protocol::V5 => {
            let mut o = cfg.client_options_v5(s.client_id)?;
            o.set_clean_start(true);
            o.set_last_will(v5b::LastWill::new(s.will_topic, s.will_payload, rumqttc::v5::mqttbytes::QoS::AtLeastOnce, true, None));
            o.set_max_packet_size(Some(s.max_packet_bytes as u32));
            let (c, l) = rumqttc::v5::AsyncClient::new(o, s.queue);
            Ok((LinkClient::V5(c), LinkLoop::V5(Box::new(l))))
        }
        Protocol::V311 => {
            let mut o = cfg.client_options(s.client_id)?;
            o.set_clean_session(true);
            o.set_last_will(rumqttc::LastWill::new(s.will_topic, s.will_payload, rumqttc::QoS::AtLeastOnce, true));
            o.set_max_packet_size(s.max_packet_bytes, s.max_packet_bytes);
            let (c, l) = rumqttc::AsyncClient::new(o, s.queue);
            Ok((LinkClient::V311(c), LinkLoop::V311(Box::new(l))))
        }
    }
}

impl LinkClient {
    /// Queues a QoS 1 publication without waiting.
    pub fn try_publish(&self, topic: String, retain: bool, payload: Vec<u8>) -> Result<(), String> {
        match self {
            LinkClient::V5(c) => c.try_publish(topic, rumqttc::v5::mqttbytes::QoS::AtLeastOnce, retain, payload).map_err(|e| e.to_string()),
            LinkClient::V311(c) => c.try_publish(topic, rumqttc::QoS::AtLeastOnce, retain, payload).map_err(|e| e.to_string()),
        }
    }

    /// Queues a DISCONNECT; a full queue only means the connection ends without one.
    pub fn try_disconnect(&self) {
        match self {
            LinkClient::V5(c) => drop(c.try_disconnect()),
            LinkClient::V311(c) => drop(c.try_disconnect()),
        }
    }
}

impl LinkLoop {
    pub async fn poll(&mut self) -> Result<LinkEvent, String> {
        match self {
            LinkLoop::V5(l) => {
                use rumqttc::v5::Event;
                match l.poll().await.map_err(|e| e.to_string())? {
                    Event::Incoming(v5b::Packet::ConnAck(ack)) => Ok(LinkEvent::ConnAck(match ack.code {
                        v5b::ConnectReturnCode::Success => Ok(()),
                        code => Err(format!("{code:?}")),
                    })),
                    Event::Incoming(v5b::Packet::PubAck(ack)) => Ok(LinkEvent::PubAck { pkid: ack.pkid, outcome: puback_outcome(&ack) }),
                    Event::Outgoing(Outgoing::Publish(pkid)) => Ok(LinkEvent::Sent(pkid)),
                    _ => Ok(LinkEvent::Other),
                }
            }
            LinkLoop::V311(l) => {
                use rumqttc::{Event, Incoming};
                match l.poll().await.map_err(|e| e.to_string())? {
                    Event::Incoming(Incoming::ConnAck(ack)) => Ok(LinkEvent::ConnAck(match ack.code {
                        rumqttc::ConnectReturnCode::Success => Ok(()),
                        code => Err(format!("{code:?}")),
                    })),
                    Event::Incoming(Incoming::PubAck(ack)) => Ok(LinkEvent::PubAck { pkid: ack.pkid, outcome: Ok(()) }),
                    Event::Outgoing(Outgoing::Publish(pkid)) => Ok(LinkEvent::Sent(pkid)),
                    _ => Ok(LinkEvent::Other),
                }
            }
        }
    }
}

/// Success, or why the broker refused. "No matching subscribers" is a success: the broker took it (a
/// consumer with a persistent session may not be connected right now).
fn puback_outcome(ack: &v5b::PubAck) -> Result<(), String> {
    match ack.reason {
        v5b::PubAckReason::Success | v5b::PubAckReason::NoMatchingSubscribers => Ok(()),
        reason => {
            let detail = ack.properties.as_ref().and_then(|p| p.reason_string.as_deref()).map(|s| format!(": {s}")).unwrap_or_default();
            Err(format!("{reason:?}{detail}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_their_reason_and_no_subscriber_is_not_one() {
        let ack = |reason| v5b::PubAck { pkid: 3, reason, properties: None };
        assert_eq!(puback_outcome(&ack(v5b::PubAckReason::Success)), Ok(()));
        assert_eq!(puback_outcome(&ack(v5b::PubAckReason::NoMatchingSubscribers)), Ok(()));
        assert_eq!(puback_outcome(&ack(v5b::PubAckReason::NotAuthorized)), Err("NotAuthorized".into()));
        let with_text = v5b::PubAck {
            pkid: 3,
            reason: v5b::PubAckReason::QuotaExceeded,
            properties: Some(v5b::PubAckProperties { reason_string: Some("slow down".into()), user_properties: vec![] }),
        };
        assert_eq!(puback_outcome(&with_text), Err("QuotaExceeded: slow down".into()));
    }

    #[test]
    fn the_protocol_is_5_unless_configured() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default)]
            protocol: Protocol,
        }
        assert_eq!(toml::from_str::<T>("").unwrap().protocol, Protocol::V5);
        assert_eq!(toml::from_str::<T>(r#"protocol = "3.1.1""#).unwrap().protocol, Protocol::V311);
        assert!(toml::from_str::<T>(r#"protocol = "4""#).is_err());
    }
}
