//! What the cameras of one model slot need from any model put into it: the classes their detection
//! filters name, `person` for crowd zones, road users for near-miss, RDD classes for road damage.
//! A model that cannot serve them is rejected before it is swapped in.

use std::collections::BTreeSet;

use crate::config::Config;
use crate::infer::Manifest;

/// One camera's need.
#[derive(Debug, Clone, PartialEq)]
enum Need {
    /// This exact label.
    Class(String),
    /// At least one of these labels.
    AnyOf(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Item {
    camera: String,
    need: Need,
    why: &'static str,
}

/// The needs of every camera that uses one model slot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Requirements {
    items: Vec<Item>,
}

const ROAD_USERS: [&str; 8] = ["person", "pedestrian", "bicycle", "car", "motorcycle", "bus", "truck", "cyclist"];
const RDD: [&str; 4] = ["D00", "D10", "D20", "D40"];

impl Requirements {
    /// From the configuration: what the enabled cameras of `slot` use.
    pub fn for_slot(cfg: &Config, slot: &str) -> Self {
        let mut items = Vec::new();
        for (cam_id, cam) in cfg.cameras.iter().filter(|(_, c)| c.enabled && c.model.get_ref() == slot) {
            let camera = cam_id.clone();
            for class in &cam.detect.classes {
                items.push(Item { camera: camera.clone(), need: Need::Class(class.clone()), why: "its detect.classes" });
            }
            if let Some(a) = &cam.analytics {
                if a.zones.iter().any(|z| z.kind == crate::ground::ZoneKind::Crowd) {
                    items.push(Item { camera: camera.clone(), need: Need::Class("person".into()), why: "crowd zones count people" });
                }
                let mut users: Vec<String> = ROAD_USERS.iter().map(|s| s.to_string()).collect();
                users.extend(a.kinds.keys().cloned());
                items.push(Item { camera: camera.clone(), need: Need::AnyOf(users), why: "tracking and near-miss need road users" });
            }
            if cam.road_damage.is_some() {
                items.push(Item {
                    camera: camera.clone(),
                    need: Need::AnyOf(RDD.iter().map(|s| s.to_string()).collect()),
                    why: "road damage needs RDD classes",
                });
            }
        }
        Self { items }
    }

    /// `Err` names every camera need the manifest's classes do not meet.
    pub fn check(&self, manifest: &Manifest) -> Result<(), String> {
        let have: BTreeSet<&str> = manifest.classes.iter().map(|c| &**c).collect();
        let mut missing = Vec::new();
        for it in &self.items {
            let ok = match &it.need {
                Need::Class(c) => have.contains(c.as_str()),
                Need::AnyOf(cs) => cs.iter().any(|c| have.contains(c.as_str())),
            };
            if !ok {
                let what = match &it.need {
                    Need::Class(c) => format!("class `{c}`"),
                    Need::AnyOf(cs) => format!("one of {}", cs.join(", ")),
                };
                missing.push(format!("camera {} needs {what} ({})", it.camera, it.why));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let mut classes: Vec<&str> = have.into_iter().collect();
        classes.truncate(12);
        Err(format!("model {} cannot serve this device: {}; its classes: {}", manifest.name, missing.join("; "), classes.join(", ")))
    }
}
