//! Pair encounters: one conflict record per pair-encounter, open while the TTC is under the
//! threshold, closed when it ends, with PET attached when the second user reaches the conflict
//! area. Crossing pairs that never were on a collision course (the first had already left) are
//! reported from PET alone.

use std::collections::HashMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Serialize;

use super::config::NearMissConfig;
use super::measures::{a_is_approaching, classify, drac, heading_difference_deg, severity, ttc, ConflictType, Mover, Severity};
use super::pet::{pet_on_arrival, Trail};
use crate::analytics::ground_track::GroundTrack;
use crate::analytics::road_user::RoadUserKind;
use crate::ground::{GroundPlane, Polygon};
use crate::track::TrackId;

/// One of the two users in a conflict, as seen at the most severe moment.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ConflictParty {
    pub id: TrackId,
    pub class_id: u32,
    pub label: Arc<str>,
    pub kind: RoadUserKind,
    pub speed_mps: f64,
    pub heading_deg: Option<f64>,
}

/// A closed near-miss.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Conflict {
    pub conflict_type: ConflictType,
    pub severity: Severity,
    pub users: [ConflictParty; 2],
    /// The user who would have had to brake (larger approach speed), when TTC was defined.
    pub approaching_id: Option<TrackId>,
    /// The user who passed the conflict area first, when PET was measured.
    pub first_through_id: Option<TrackId>,
    /// Stream time the encounter opened / closed (seconds).
    pub t_start: f64,
    pub t_end: f64,
    pub t_min_ttc: Option<f64>,
    pub min_ttc_s: Option<f64>,
    pub pet_s: Option<f64>,
    pub max_drac_mps2: Option<f64>,
    /// Angle between the users' directions when the encounter opened: the manoeuvre that
    /// created the conflict (a cut-in that straightens out is still a lane change).
    pub heading_difference_deg: f64,
    /// Ground position (east, north metres): midpoint at minimum TTC, or the path crossing.
    pub position: [f64; 2],
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Conflict zone containing the position, when conflict zones are configured.
    pub zone_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Snap {
    track: GroundTrack,
    mover: Mover,
    kind: RoadUserKind,
    last_seen: f64,
}

#[derive(Debug, Clone)]
struct Encounter {
    t_start: f64,
    last_under: f64,
    min_ttc: Option<f64>,
    t_min_ttc: Option<f64>,
    position: [f64; 2],
    angle: f64,
    parties: Option<[ConflictParty; 2]>,
    approaching: Option<TrackId>,
    max_drac: Option<f64>,
    pet: Option<(f64, TrackId)>,
    closed_at: Option<f64>,
}

#[derive(Debug, Clone, Default)]
struct PairState {
    open: Option<Encounter>,
    pending: Option<Encounter>,
    last_pet_t: Option<f64>,
}

/// Near-miss detection for one camera.
#[derive(Debug, Clone)]
pub struct NearMissEngine {
    cfg: NearMissConfig,
    users: HashMap<u64, Snap>,
    trails: HashMap<u64, Trail>,
    pairs: HashMap<(u64, u64), PairState>,
}

fn party(s: &Snap) -> ConflictParty {
    ConflictParty {
        id: s.track.id,
        class_id: s.track.class_id,
        label: s.track.label.clone(),
        kind: s.kind,
        speed_mps: s.mover.speed(),
        heading_deg: s.track.ground.and_then(|g| g.heading_deg),
    }
}

impl NearMissEngine {
    pub fn new(cfg: NearMissConfig) -> Self {
        Self { cfg, users: HashMap::new(), trails: HashMap::new(), pairs: HashMap::new() }
    }

    /// Trails must cover the PET wait plus the passage of a long vehicle.
    fn trail_keep_s(&self) -> f64 {
        self.cfg.pet_wait_s + 5.0
    }

    fn eligible(&self, a: &Snap, b: &Snap) -> bool {
        if !self.cfg.include_pedestrian_pairs && a.kind == RoadUserKind::Pedestrian && b.kind == RoadUserKind::Pedestrian {
            return false;
        }
        let d = (a.mover.pos[0] - b.mover.pos[0]).hypot(a.mover.pos[1] - b.mover.pos[1]);
        if !(d <= self.cfg.max_range_m) {
            return false;
        }
        // A conflict needs a moving vehicle; among pedestrians (when enabled), a moving one.
        let moving_vehicle = |s: &Snap| (s.kind.is_vehicle() || a.kind == b.kind) && s.mover.speed() >= self.cfg.min_speed_mps;
        moving_vehicle(a) || moving_vehicle(b)
    }

    /// Angle between the users' directions; a stationary user's held heading is used, and
    /// a user that never moved is taken as crossing (its orientation is unknown).
    fn angle(a: &Snap, b: &Snap) -> f64 {
        let dir = |s: &Snap| if s.mover.speed() > 0.3 { Some(s.mover.vel[1].atan2(s.mover.vel[0])) } else { s.mover.heading };
        match (dir(a), dir(b)) {
            (Some(x), Some(y)) => heading_difference_deg(x, y),
            _ => 90.0,
        }
    }

    /// Feeds one frame of ground tracks; returns conflicts closed in this frame.
    pub fn update(&mut self, t: f64, tracks: &[GroundTrack], plane: Option<&GroundPlane>, zones: &[(String, Polygon)]) -> Vec<Conflict> {
        let mut out = Vec::new();
        if !self.cfg.enabled || !t.is_finite() {
            return out;
        }
        let keep = self.trail_keep_s();
        for tr in tracks {
            let (Some(kind), Some(g)) = (tr.kind, tr.ground) else { continue };
            let fp = kind.footprint();
            let mover = Mover { pos: [g.east, g.north], vel: [g.v_east, g.v_north], heading: g.heading_rad(), footprint: fp };
            self.users.insert(tr.serial, Snap { track: tr.clone(), mover, kind, last_seen: t });
            let trail = self.trails.entry(tr.serial).or_insert_with(|| Trail::new(fp));
            trail.footprint = fp;
            trail.push(t, [g.east, g.north], keep);
        }
        let mut present: Vec<u64> = tracks.iter().filter(|tr| self.users.get(&tr.serial).is_some_and(|s| s.last_seen == t)).map(|tr| tr.serial).collect();
        present.sort_unstable();
        present.dedup();

        for i in 0..present.len() {
            for j in (i + 1)..present.len() {
                let key = (present[i], present[j]);
                let (a, b) = (&self.users[&key.0], &self.users[&key.1]);
                if !self.eligible(a, b) {
                    continue;
                }
                let ttc_now = ttc(&a.mover, &b.mover);
                let under = ttc_now.filter(|&x| x < self.cfg.ttc_open_s);
                let pet = pet_on_arrival(&self.trails[&key.0], &self.trails[&key.1]);
                if under.is_none() && pet.is_none() && !self.pairs.contains_key(&key) {
                    continue;
                }
                let angle = Self::angle(a, b);
                let parties = [party(a), party(b)];
                let mid = [(a.mover.pos[0] + b.mover.pos[0]) / 2.0, (a.mover.pos[1] + b.mover.pos[1]) / 2.0];
                let approaching = if a_is_approaching(&a.mover, &b.mover) { a.track.id } else { b.track.id };
                let drac_now = under.and_then(|x| drac(&a.mover, &b.mover, x));
                let (id_a, id_b) = (a.track.id, b.track.id);
                let cfg = self.cfg.clone();
                let st = self.pairs.entry(key).or_default();

                if let Some(x) = under {
                    let e = st.open.get_or_insert_with(|| Encounter {
                        t_start: t,
                        last_under: t,
                        min_ttc: None,
                        t_min_ttc: None,
                        position: mid,
                        angle,
                        parties: None,
                        approaching: None,
                        max_drac: None,
                        pet: None,
                        closed_at: None,
                    });
                    e.last_under = t;
                    if e.min_ttc.is_none_or(|m| x < m) {
                        e.min_ttc = Some(x);
                        e.t_min_ttc = Some(t);
                        e.position = mid;
                        e.parties = Some(parties.clone());
                        e.approaching = Some(approaching);
                    }
                    if let Some(d) = drac_now {
                        e.max_drac = Some(e.max_drac.map_or(d, |m: f64| m.max(d)));
                    }
                } else if let Some(e) = st.open.as_ref() {
                    if t - e.last_under > cfg.close_grace_s {
                        let Some(mut e) = st.open.take() else { continue };
                        e.closed_at = Some(t);
                        if e.pet.is_none() && classify(e.angle, &cfg.angles) != ConflictType::RearEnd {
                            // Wait for the second user to reach the conflict area.
                            if let Some(old) = st.pending.replace(e) {
                                out.extend(finalize(&cfg, old, plane, zones));
                            }
                        } else {
                            out.extend(finalize(&cfg, e, plane, zones));
                        }
                    }
                }

                if let Some(p) = pet {
                    if st.last_pet_t.is_some_and(|lt| t - lt < 2.0) {
                        continue; // same passage seen again through jitter
                    }
                    st.last_pet_t = Some(t);
                    let first = if p.a_first { id_a } else { id_b };
                    if let Some(e) = st.open.as_mut() {
                        e.pet = Some((p.pet_s, first));
                    } else if let Some(mut e) = st.pending.take() {
                        e.pet = Some((p.pet_s, first));
                        out.extend(finalize(&cfg, e, plane, zones));
                    } else if p.pet_s < cfg.severity.pet_serious_s {
                        let e = Encounter {
                            t_start: p.t_second_enter,
                            last_under: t,
                            min_ttc: None,
                            t_min_ttc: None,
                            position: p.point,
                            angle,
                            parties: Some(parties),
                            approaching: None,
                            max_drac: None,
                            pet: Some((p.pet_s, first)),
                            closed_at: Some(t),
                        };
                        out.extend(finalize(&cfg, e, plane, zones));
                    }
                }
            }
        }

        // Pending PET waits that ran out, and pairs whose users left.
        let cfg = self.cfg.clone();
        let users = &self.users;
        let gone = |s: u64| users.get(&s).is_none_or(|u| t - u.last_seen > 1.0);
        self.pairs.retain(|&(a, b), st| {
            let left = gone(a) || gone(b);
            if let Some(e) = st.pending.as_ref() {
                if left || e.closed_at.is_some_and(|c| t - c > cfg.pet_wait_s) {
                    if let Some(e) = st.pending.take() {
                        out.extend(finalize(&cfg, e, plane, zones));
                    }
                }
            }
            if left {
                if let Some(mut e) = st.open.take() {
                    e.closed_at = Some(t);
                    out.extend(finalize(&cfg, e, plane, zones));
                }
            }
            !left && (st.open.is_some() || st.pending.is_some() || st.last_pet_t.is_some_and(|lt| t - lt < 2.0))
        });
        self.users.retain(|_, u| t - u.last_seen <= keep && u.last_seen <= t + 1.0);
        let users = &self.users;
        self.trails.retain(|s, _| users.contains_key(s));
        out
    }

    /// Ends every open encounter (e.g. at shutdown) and returns the resulting conflicts.
    pub fn flush(&mut self, t: f64, plane: Option<&GroundPlane>, zones: &[(String, Polygon)]) -> Vec<Conflict> {
        let mut out = Vec::new();
        for (_, mut st) in self.pairs.drain() {
            for mut e in [st.open.take(), st.pending.take()].into_iter().flatten() {
                e.closed_at.get_or_insert(t);
                out.extend(finalize(&self.cfg, e, plane, zones));
            }
        }
        out
    }
}

/// Turns a finished encounter into a conflict if it is severe and long enough.
fn finalize(cfg: &NearMissConfig, e: Encounter, plane: Option<&GroundPlane>, zones: &[(String, Polygon)]) -> Option<Conflict> {
    let parties = e.parties?;
    let pet = e.pet.map(|p| p.0);
    if e.min_ttc.is_some() && e.last_under - e.t_start < cfg.min_duration_s && pet.is_none_or(|p| p >= cfg.severity.pet_serious_s) {
        return None; // a blip of TTC without a confirming PET
    }
    let sev = severity(e.min_ttc, pet, e.max_drac, &cfg.severity);
    if sev == Severity::None {
        return None;
    }
    let zone_id = if zones.is_empty() {
        None
    } else {
        Some(zones.iter().find(|(_, p)| p.contains(e.position[0], e.position[1]))?.0.clone())
    };
    let (lat, lon) = plane.and_then(|p| p.to_wgs84(e.position[0], e.position[1])).map_or((None, None), |(a, b)| (Some(a), Some(b)));
    Some(Conflict {
        conflict_type: classify(e.angle, &cfg.angles),
        severity: sev,
        users: parties,
        approaching_id: e.approaching,
        first_through_id: e.pet.map(|p| p.1),
        t_start: e.t_start,
        t_end: e.closed_at.unwrap_or(e.last_under),
        t_min_ttc: e.t_min_ttc,
        min_ttc_s: e.min_ttc,
        pet_s: pet,
        max_drac_mps2: e.max_drac,
        heading_difference_deg: e.angle,
        position: e.position,
        lat,
        lon,
        zone_id,
    })
}
