//! Road-user kinds and their ground footprints.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What kind of road user a track is, for safety analytics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoadUserKind {
    Pedestrian,
    Cyclist,
    Car,
    Motorcycle,
    Bus,
    Truck,
}

/// Plan-view size of a road user, metres along (length) and across (width) its heading.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Footprint {
    pub length: f64,
    pub width: f64,
}

impl RoadUserKind {
    /// COCO label names (as in the model manifest) to kinds; `None` for everything else.
    pub fn from_coco_label(label: &str) -> Option<Self> {
        match label.trim().to_ascii_lowercase().as_str() {
            "person" | "pedestrian" => Some(Self::Pedestrian),
            "bicycle" | "cyclist" => Some(Self::Cyclist),
            "car" => Some(Self::Car),
            "motorcycle" | "motorbike" => Some(Self::Motorcycle),
            "bus" => Some(Self::Bus),
            "truck" => Some(Self::Truck),
            _ => None,
        }
    }

    /// Typical footprints: passenger car 4.5 x 1.8 m, city bus 12 x 2.5 m, rigid truck 8 x 2.5 m,
    /// bicycle with rider 1.8 x 0.6 m, motorcycle 2.2 x 0.8 m, standing pedestrian 0.5 x 0.5 m
    /// (Fruin's body ellipse is 0.61 x 0.46 m).
    pub fn footprint(self) -> Footprint {
        let (length, width) = match self {
            Self::Pedestrian => (0.5, 0.5),
            Self::Cyclist => (1.8, 0.6),
            Self::Car => (4.5, 1.8),
            Self::Motorcycle => (2.2, 0.8),
            Self::Bus => (12.0, 2.5),
            Self::Truck => (8.0, 2.5),
        };
        Footprint { length, width }
    }

    /// Whether the kind is a vehicle (anything that is not a pedestrian).
    pub fn is_vehicle(self) -> bool {
        self != Self::Pedestrian
    }

    /// Process noise (m/s² acceleration std) for ground smoothing: how abruptly the kind can
    /// change velocity. Emergency braking is ~7-8 m/s² for cars; pedestrians change pace and
    /// direction at ~1-2 m/s².
    pub fn accel_noise(self) -> f64 {
        match self {
            Self::Pedestrian => 1.5,
            Self::Cyclist => 2.0,
            Self::Car | Self::Motorcycle => 4.0,
            Self::Bus | Self::Truck => 3.0,
        }
    }
}
