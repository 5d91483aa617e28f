//! The privacy manifest: purpose, operator and contact, what is detected, what is published, retention,
//! and the explicit absence of face recognition and plate reading. Served at `/api/privacy`, published
//! retained on `…/privacy`, shown on the dashboard.
//!
//! Shaped like the FIWARE Smart Data Models `PrivacyObject` (dataModel.Device, "Information about privacy
//! for an IoT device": `id`, `type`, `refDevice`, `name`, `description`, `purpose`, `category`, `owner`,
//! `isPersonalData`, `retentionPeriod`, `legitimateInterest`, `crossborderTransfer`, `recipientList`),
//! with the appliance-specific facts under `kaiteki:`-prefixed keys so NGSI-LD consumers can tell them
//! from the model's own attributes.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `[privacy]`: who runs the appliance and why. Everything else in the manifest is derived from the
/// configuration, so it cannot drift from what the appliance really does.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// Why the data is collected, in words a passer-by understands.
    #[serde(default = "default_purpose")]
    pub purpose: String,
    /// Who operates the appliance (the data controller).
    #[serde(default = "default_operator")]
    pub operator: String,
    /// Where people can ask questions or object (e-mail, phone or URL).
    #[serde(default = "default_contact")]
    pub contact: String,
    #[serde(default = "default_interest")]
    pub legitimate_interest: String,
    /// Who receives the events.
    #[serde(default = "default_recipients")]
    pub recipients: Vec<String>,
}

fn default_purpose() -> String {
    "Counting road users, finding dangerous spots (near-misses), measuring crowding and surveying road damage \
     for road safety and maintenance."
        .into()
}
fn default_operator() -> String {
    "(not configured: set privacy.operator)".into()
}
fn default_contact() -> String {
    "(not configured: set privacy.contact)".into()
}
fn default_interest() -> String {
    "Public task: safe and well-maintained public roads and spaces.".into()
}
fn default_recipients() -> Vec<String> {
    vec!["city data platform".into()]
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        Self {
            purpose: default_purpose(),
            operator: default_operator(),
            contact: default_contact(),
            legitimate_interest: default_interest(),
            recipients: default_recipients(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PrivacyManifest {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(rename = "refDevice")]
    pub ref_device: String,
    pub name: String,
    pub description: String,
    pub purpose: String,
    pub category: Vec<&'static str>,
    pub owner: Vec<String>,
    #[serde(rename = "contactPoint")]
    pub contact_point: String,
    /// Published events describe groups and objects, not identifiable people.
    #[serde(rename = "isPersonalData")]
    pub is_personal_data: bool,
    #[serde(rename = "retentionPeriod")]
    pub retention_period: String,
    #[serde(rename = "legitimateInterest")]
    pub legitimate_interest: String,
    #[serde(rename = "crossborderTransfer")]
    pub crossborder_transfer: &'static str,
    #[serde(rename = "recipientList")]
    pub recipient_list: Vec<String>,
    /// Object classes the models look for.
    #[serde(rename = "kaiteki:detects")]
    pub detects: Vec<String>,
    /// Event kinds this configuration can publish.
    #[serde(rename = "kaiteki:publishes")]
    pub publishes: Vec<&'static str>,
    #[serde(rename = "kaiteki:rawVideoLeavesDevice")]
    pub raw_video_leaves_device: bool,
    #[serde(rename = "kaiteki:faceRecognition")]
    pub face_recognition: bool,
    #[serde(rename = "kaiteki:licencePlateReading")]
    pub plate_reading: bool,
    #[serde(rename = "kaiteki:appearanceFeaturesStored")]
    pub appearance_features_stored: bool,
    #[serde(rename = "kaiteki:trackIdRotation")]
    pub track_id_rotation: String,
}

impl PrivacyManifest {
    /// Derives the manifest from the running configuration.
    pub fn build(
        cfg: &PrivacyConfig,
        device_id: &str,
        detects: Vec<String>,
        publishes: Vec<&'static str>,
        outbox_max_age_s: u64,
    ) -> Self {
        let days = outbox_max_age_s as f64 / 86_400.0;
        PrivacyManifest {
            id: format!("urn:ngsi-ld:PrivacyObject:{device_id}"),
            kind: "PrivacyObject",
            ref_device: format!("urn:ngsi-ld:Device:{device_id}"),
            name: device_id.to_string(),
            description: "Camera analytics appliance: video is analysed on the device and discarded; only \
                          anonymous counts, levels, conflicts and damage records are published, and, where \
                          the operator turned it on (kaiteki:publishes lists redacted_snapshot), evidence \
                          snapshots of road damage or crowding in which every person, vehicle and face was \
                          destroyed."
                .into(),
            purpose: cfg.purpose.clone(),
            category: vec!["sensor", "multimedia"],
            owner: vec![cfg.operator.clone()],
            contact_point: cfg.contact.clone(),
            is_personal_data: false,
            retention_period: format!(
                "video frames: not stored (processed in memory, then discarded); events: kept on the device only \
                 until the broker acknowledges them, at most {days:.1} days; track ids: in memory, rotated at least hourly"
            ),
            legitimate_interest: cfg.legitimate_interest.clone(),
            crossborder_transfer: "None",
            recipient_list: cfg.recipients.clone(),
            detects,
            publishes,
            raw_video_leaves_device: false,
            face_recognition: false,
            plate_reading: false,
            appearance_features_stored: false,
            track_id_rotation: "random per process, rotated at least every 3600 s".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaped_like_privacy_object() {
        let m = PrivacyManifest::build(&PrivacyConfig::default(), "pole-7", vec!["person".into()], vec!["scene_summary"], 7 * 86_400);
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(v["type"], "PrivacyObject");
        assert_eq!(v["id"], "urn:ngsi-ld:PrivacyObject:pole-7");
        assert_eq!(v["refDevice"], "urn:ngsi-ld:Device:pole-7");
        assert_eq!(v["isPersonalData"], false);
        assert_eq!(v["kaiteki:faceRecognition"], false);
        assert_eq!(v["kaiteki:licencePlateReading"], false);
        assert!(v["retentionPeriod"].as_str().unwrap().contains("7.0 days"));
    }
}
