//! The MQTT topic tree. Everything a device publishes or listens to lives under
//! `{prefix}/{device_id}/` (prefix default `kaiteki/v1`):
//!
//! | topic | direction | retained | QoS | content |
//! |---|---|---|---|---|
//! | `…/status` | device → | yes | 1 | `{"state":"online"|"offline",…}`; `offline` is the last will |
//! | `…/events/{kind}` | device → | no | 1 | one [`Envelope`](super::Envelope) per message; kinds: `scene_summary`, `near_miss`, `near_miss_hourly`, `crowd_level`, `crowd_minute`, `damage_mark`, `road_damage`, `roughness`, `road_impact` (`health`, `model_status` planned) |
//! | `…/privacy` | device → | yes | 1 | the privacy manifest |
//! | `…/snapshots/{event_id}` | device → | no | 1 | a redacted JPEG, only where enabled |
//! | `…/model/offer` | → device | yes | 1 | a signed model update offer |
//! | `…/model/chunks/{version}/{n}` | → device | no | 1 | update bundle chunks |
//! | `…/model/status` | device → | yes | 1 | update progress and result |
//! | `{prefix}/groups/{group}/model/offer` | → devices | yes | 1 | a fleet-wide offer |
//! | `…/ngsi-ld/{entity_type}` | device → | no | 1 | NGSI-LD entities for the city data platform (optional) |
//!
//! Only the `events`, `status`, `privacy` and `model/status` branches exist today; the others are
//! reserved here so that later features keep the tree coherent.

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
            _ => false,
        }
    }
}

#[cfg(test)]
mod egress_tests {
    use super::*;

    #[test]
    fn only_known_topics_leave_the_device() {
        let t = Topics::new("kaiteki/v1", "pole-1");
        for ok in ["kaiteki/v1/pole-1/status", "kaiteki/v1/pole-1/privacy", "kaiteki/v1/pole-1/events/near_miss", "kaiteki/v1/pole-1/ngsi-ld/Alert"] {
            assert!(t.allows(ok), "{ok}");
        }
        for bad in [
            "kaiteki/v1/pole-1/frames/raw",
            "kaiteki/v1/pole-1/events/raw_frame",
            "kaiteki/v1/pole-1/events/near_miss/extra",
            "kaiteki/v1/pole-2/events/near_miss",
            "kaiteki/v1/pole-1/ngsi-ld/Camera",
            "elsewhere/pole-1/status",
            "kaiteki/v1/pole-1",
        ] {
            assert!(!t.allows(bad), "{bad}");
        }
    }
}
