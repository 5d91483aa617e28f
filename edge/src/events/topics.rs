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
}
