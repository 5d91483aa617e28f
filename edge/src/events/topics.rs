//! The MQTT topic tree. Everything a device publishes or listens to lives under
//! `{prefix}/{device_id}/` (prefix default `kaiteki/v1`):
//!
//! | topic | direction | retained | QoS | content |
//! |---|---|---|---|---|
//! | `…/status` | device → | yes | 1 | `{"state":"online"|"offline",…}`; `offline` is the last will |
//! | `…/events/{kind}` | device → | no | 1 | one [`Envelope`](super::Envelope) per message; kinds: `scene_summary`, `near_miss`, `near_miss_hourly`, `crowd_level`, `crowd_minute`, `damage_mark`, `road_damage`, `roughness`, `road_impact`, `health`, `model_status` |
//! | `…/privacy` | device → | yes | 1 | the privacy manifest |
//! | `…/snapshots/{id}` | device → | no | 1 | a redacted, labelled JPEG (road-damage or crowd evidence), only with `[snapshots] publish = true` |
//! | `…/update/offer` | → device | yes | 1 | a signed model update offer |
//! | `{prefix}/updates/{digest}/chunks/{n}` | → devices | yes | 1 | update bundle chunks |
//! | `…/update/status` | device → | yes | 1 | update progress and result (each step also as a `model_status` event) |
//! | `{prefix}/groups/{group}/update/offer` | → devices | yes | 1 | a fleet-wide offer |
//! | `…/ngsi-ld/{entity_type}` | device → | no | 1 | NGSI-LD entities for the city data platform (optional) |
//!
//! The model-update topics are described in `crate::update`; they are not published through the outbox.

use super::EventKind;

#[derive(Debug, Clone)]
pub struct Topics {
    base: String,
}

impl Topics {
    pub fn new(prefix: &str, device_id: &str) -> Self {
        Self { base: format!("{}/{}", prefix.trim_end_matches('/'), device_id) }
    }

    pub fn event(&self, kind: EventKind) -> String {
        format!("{}/events/{}", self.base, kind.as_str())
    }

    pub fn status(&self) -> String {
        format!("{}/status", self.base)
    }

    pub fn privacy(&self) -> String {
        format!("{}/privacy", self.base)
    }

    /// `…/ngsi-ld/{Type}`: events as FIWARE NGSI-LD entities (`[mqtt] ngsi_ld = true`).
    pub fn ngsi(&self, entity_type: &str) -> String {
        format!("{}/ngsi-ld/{entity_type}", self.base)
    }

    /// `…/snapshots/{id}` (a road-damage record id or a crowd snapshot id), for an id of letters, digits,
    /// `-` and `_` (at most 64).
    pub fn snapshot(&self, record_id: &str) -> Option<String> {
        is_plain_id(record_id).then(|| format!("{}/snapshots/{record_id}", self.base))
    }

    /// The egress allow-list for one publication: the topic is allowed (see [`allows`](Self::allows)),
    /// and a snapshot's payload is a JPEG, nothing else.
    pub fn admits(&self, topic: &str, payload: &[u8]) -> bool {
        self.allows(topic) && (!self.is_snapshot(topic) || payload.starts_with(&[0xFF, 0xD8, 0xFF]))
    }

    fn is_snapshot(&self, topic: &str) -> bool {
        topic.strip_prefix(self.base.as_str()).is_some_and(|r| r.starts_with("/snapshots/"))
    }

    /// The egress allow-list: the device status, the privacy manifest, one of the event kinds, or one
    /// of the NGSI-LD entity types. The publisher refuses anything else, whatever put it in the outbox.
    pub fn allows(&self, topic: &str) -> bool {
        if topic == self.status() || topic == self.privacy() {
            return true;
        }
        let Some(rest) = topic.strip_prefix(self.base.as_str()).and_then(|r| r.strip_prefix('/')) else {
            return false;
        };
        match rest.split_once('/') {
            Some(("events", kind)) => super::EventKind::ALL.iter().any(|k| k.as_str() == kind),
            Some(("ngsi-ld", ty)) => crate::ngsi::ENTITY_TYPES.contains(&ty),
            Some(("snapshots", id)) => is_plain_id(id),
            _ => false,
        }
    }
}

fn is_plain_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod egress_tests {
    use super::*;

    #[test]
    fn only_known_topics_leave_the_device() {
        let t = Topics::new("kaiteki/v1", "pole-1");
        for ok in [
            "kaiteki/v1/pole-1/status",
            "kaiteki/v1/pole-1/privacy",
            "kaiteki/v1/pole-1/events/near_miss",
            "kaiteki/v1/pole-1/ngsi-ld/Alert",
            "kaiteki/v1/pole-1/snapshots/rd-0193a2b4-x_1",
        ] {
            assert!(t.allows(ok), "{ok}");
        }
        let jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10];
        assert!(t.admits("kaiteki/v1/pole-1/snapshots/r1", &jpeg));
        assert!(!t.admits("kaiteki/v1/pole-1/snapshots/r1", b"{\"pixels\":[1,2,3]}"), "a snapshot must be a JPEG");
        assert!(t.admits("kaiteki/v1/pole-1/events/near_miss", b"{}"));
        assert_eq!(t.snapshot("r1").as_deref(), Some("kaiteki/v1/pole-1/snapshots/r1"));
        assert_eq!(t.snapshot("../status"), None);
        assert_eq!(t.snapshot(""), None);
        for bad in [
            "kaiteki/v1/pole-1/frames/raw",
            "kaiteki/v1/pole-1/events/raw_frame",
            "kaiteki/v1/pole-1/events/near_miss/extra",
            "kaiteki/v1/pole-2/events/near_miss",
            "kaiteki/v1/pole-1/ngsi-ld/Camera",
            "elsewhere/pole-1/status",
            "kaiteki/v1/pole-1",
            "kaiteki/v1/pole-1/snapshots/a/b",
            "kaiteki/v1/pole-1/snapshots/",
            "kaiteki/v1/pole-1/snapshots/a+b",
        ] {
            assert!(!t.allows(bad), "{bad}");
        }
    }
}
