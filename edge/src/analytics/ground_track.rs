//! Confirmed image tracks lifted to the ground plane with smoothed metric velocity and heading.
//!
//! Position is the bottom centre of the (already Kalman-filtered) box projected through the
//! homography. A second constant-velocity Kalman filter in metres smooths it; its measurement
//! noise is the configured pixel jitter pushed through the homography's local Jacobian, so a
//! far-away user (many metres per pixel) is smoothed more than a near one. That keeps detector
//! jitter of a few pixels from turning into phantom speeds and near-misses.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::ground::GroundPlane;
use crate::infer::BBox;
use crate::track::kalman::Axis;
use crate::track::{Track, TrackId};

use super::road_user::RoadUserKind;

/// A road user's state on the ground.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroundKinematics {
    /// Metres east / north of the calibration origin.
    pub east: f64,
    pub north: f64,
    /// Smoothed velocity, m/s east / north.
    pub v_east: f64,
    pub v_north: f64,
    pub speed_mps: f64,
    /// Compass heading of motion, degrees clockwise from north; `None` until the user has
    /// moved faster than the heading threshold at least once.
    pub heading_deg: Option<f64>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

impl GroundKinematics {
    /// Heading as a math angle (radians counter-clockwise from east), for geometry.
    pub fn heading_rad(&self) -> Option<f64> {
        self.heading_deg.map(|h| (90.0 - h).to_radians())
    }
}

/// A confirmed track with its road-user kind and (when calibrated) ground kinematics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroundTrack {
    pub id: TrackId,
    #[serde(skip)]
    pub serial: u64,
    pub class_id: u32,
    pub label: Arc<str>,
    /// `None` for classes that are not road users (they are still tracked and published).
    pub kind: Option<RoadUserKind>,
    pub bbox: BBox,
    pub score: f32,
    pub ground: Option<GroundKinematics>,
}

#[derive(Debug, Clone)]
struct State {
    ex: Axis,
    ny: Axis,
    last_t: f64,
    heading_deg: Option<f64>,
}

/// Smoothing parameters for ground tracks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundSmoothing {
    /// Detector box jitter, pixels (1 sigma).
    pub pixel_noise_px: f64,
    /// Below this speed the heading is held, not recomputed from noise.
    pub heading_min_speed_mps: f64,
    /// States unseen this long are dropped.
    pub max_age_s: f64,
}

/// Keeps one ground filter per track.
#[derive(Debug, Clone)]
pub struct GroundTracker {
    params: GroundSmoothing,
    states: HashMap<u64, State>,
}

impl GroundTracker {
    pub fn new(params: GroundSmoothing) -> Self {
        Self { params, states: HashMap::new() }
    }

    pub fn update(&mut self, t: f64, tracks: &[Track], plane: Option<&GroundPlane>, kind_of: impl Fn(&Track) -> Option<RoadUserKind>) -> Vec<GroundTrack> {
        let mut out = Vec::with_capacity(tracks.len());
        for tr in tracks {
            let kind = kind_of(tr);
            let ground = plane.and_then(|p| self.lift(t, tr, kind, p));
            out.push(GroundTrack {
                id: tr.id,
                serial: tr.serial,
                class_id: tr.class_id,
                label: tr.label.clone(),
                kind,
                bbox: tr.bbox,
                score: tr.score,
                ground,
            });
        }
        let max_age = self.params.max_age_s;
        self.states.retain(|_, s| t - s.last_t <= max_age && t >= s.last_t - 1.0);
        out
    }

    fn lift(&mut self, t: f64, tr: &Track, kind: Option<RoadUserKind>, plane: &GroundPlane) -> Option<GroundKinematics> {
        let (bx, by) = tr.bbox.bottom_centre();
        let (bx, by) = (bx as f64, by as f64);
        let (e, n) = plane.image_to_ground(bx, by)?;
        if !e.is_finite() || !n.is_finite() {
            return None;
        }
        let j = plane.metres_per_pixel(bx, by)?;
        let s2 = self.params.pixel_noise_px.powi(2);
        // Diagonal of J Σ Jᵀ with isotropic pixel noise; a floor keeps the filter well-posed.
        let r_e = (s2 * (j[0][0].powi(2) + j[0][1].powi(2))).max(1e-4);
        let r_n = (s2 * (j[1][0].powi(2) + j[1][1].powi(2))).max(1e-4);
        let q = kind.map_or(3.0, RoadUserKind::accel_noise).powi(2);
        let st = self.states.entry(tr.serial).or_insert_with(|| State {
            ex: Axis::new(e, r_e.sqrt(), 5.0),
            ny: Axis::new(n, r_n.sqrt(), 5.0),
            last_t: t,
            heading_deg: None,
        });
        let dt = (t - st.last_t).max(0.0);
        st.ex.predict(dt, q);
        st.ny.predict(dt, q);
        st.ex.update(e, r_e);
        st.ny.update(n, r_n);
        st.last_t = t;
        let (ve, vn) = (st.ex.v, st.ny.v);
        let speed = (ve * ve + vn * vn).sqrt();
        if speed >= self.params.heading_min_speed_mps {
            st.heading_deg = Some(ve.atan2(vn).to_degrees().rem_euclid(360.0));
        }
        let (lat, lon) = plane.to_wgs84(st.ex.x, st.ny.x).map_or((None, None), |(a, b)| (Some(a), Some(b)));
        Some(GroundKinematics { east: st.ex.x, north: st.ny.x, v_east: ve, v_north: vn, speed_mps: speed, heading_deg: st.heading_deg, lat, lon })
    }
}
