//! What every detector produces, whatever the model: labelled, scored boxes in frame pixels.

use std::sync::Arc;

use serde::Serialize;

/// An axis-aligned box in pixel coordinates of the frame it was found in (x right, y down).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct BBox {
    pub x1: f32,
    pub y1: f32,
    pub x2: f32,
    pub y2: f32,
}

impl BBox {
    pub fn new(x1: f32, y1: f32, x2: f32, y2: f32) -> Self {
        Self { x1, y1, x2, y2 }
    }

    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    pub fn centre(&self) -> (f32, f32) {
        ((self.x1 + self.x2) * 0.5, (self.y1 + self.y2) * 0.5)
    }

    /// Where a road user touches the ground: the middle of the box's bottom edge.
    pub fn bottom_centre(&self) -> (f32, f32) {
        ((self.x1 + self.x2) * 0.5, self.y2)
    }

    /// Intersection over union; 0 for disjoint or empty boxes.
    pub fn iou(&self, other: &BBox) -> f32 {
        let ix = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let iy = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = ix * iy;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// Clamp to an image of the given size.
    pub fn clamp(&self, width: f32, height: f32) -> BBox {
        BBox {
            x1: self.x1.clamp(0.0, width),
            y1: self.y1.clamp(0.0, height),
            x2: self.x2.clamp(0.0, width),
            y2: self.y2.clamp(0.0, height),
        }
    }

    /// Grow by a fraction of the box's own size on every side (used by redaction margins).
    pub fn expand(&self, fraction: f32) -> BBox {
        let dx = self.width() * fraction;
        let dy = self.height() * fraction;
        BBox { x1: self.x1 - dx, y1: self.y1 - dy, x2: self.x2 + dx, y2: self.y2 + dy }
    }

    pub fn is_finite(&self) -> bool {
        self.x1.is_finite() && self.y1.is_finite() && self.x2.is_finite() && self.y2.is_finite()
    }
}

/// One object found in one frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// Index into the model manifest's class list.
    pub class_id: u32,
    /// The manifest's name for that class (shared, so cloning detections is cheap).
    pub label: Arc<str>,
    pub score: f32,
    pub bbox: BBox,
}
