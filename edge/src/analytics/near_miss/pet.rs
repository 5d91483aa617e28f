//! Post-encroachment time (Allen, Shin & Cooper 1978): the time from the first user leaving the
//! conflict area to the second user entering it.
//!
//! The conflict area is where the two users' swept corridors overlap: around the point X where
//! their centre paths cross, the parallelogram `X ± W_B/(2 sinθ)·u_A ± W_A/(2 sinθ)·u_B` (u the
//! path directions, W the widths, θ the crossing angle). Occupancy is footprint-vs-area overlap
//! along each user's recorded trail, with the entry/exit instants refined by bisection between
//! samples. PET is evaluated when the second user's centre reaches X, from trails alone, so it
//! needs no prediction. Paths crossing at less than `MIN_CROSSING_DEG` (following / parallel
//! users) have no defined conflict area and get no PET.

use std::collections::VecDeque;

use super::geometry::{convex_overlap, rect, P2};
use crate::analytics::road_user::Footprint;
use crate::ground::segment_intersection;

const MIN_CROSSING_DEG: f64 = 20.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t: f64,
    pub pos: P2,
}

/// Recent positions of one user.
#[derive(Debug, Clone)]
pub struct Trail {
    pub samples: VecDeque<Sample>,
    pub footprint: Footprint,
}

impl Trail {
    pub fn new(footprint: Footprint) -> Self {
        Self { samples: VecDeque::new(), footprint }
    }

    pub fn push(&mut self, t: f64, pos: P2, keep_s: f64) {
        if let Some(last) = self.samples.back() {
            if t <= last.t {
                return;
            }
        }
        self.samples.push_back(Sample { t, pos });
        while self.samples.front().is_some_and(|s| t - s.t > keep_s) {
            self.samples.pop_front();
        }
    }

    /// Position and direction at time `t` by linear interpolation on segment `i` (i, i+1).
    fn at(&self, i: usize, t: f64) -> (P2, f64) {
        let a = self.samples[i];
        let b = self.samples[i + 1];
        let f = if b.t > a.t { ((t - a.t) / (b.t - a.t)).clamp(0.0, 1.0) } else { 0.0 };
        let p = [a.pos[0] + f * (b.pos[0] - a.pos[0]), a.pos[1] + f * (b.pos[1] - a.pos[1])];
        (p, (b.pos[1] - a.pos[1]).atan2(b.pos[0] - a.pos[0]))
    }

    fn overlaps(&self, i: usize, t: f64, area: &[P2]) -> bool {
        let (p, h) = self.at(i, t);
        convex_overlap(&rect(p, h, self.footprint.length, self.footprint.width), area)
    }

    /// Bisects the instant on segment `i` where overlap switches.
    fn refine(&self, i: usize, area: &[P2], inside_at_start: bool) -> f64 {
        let (mut lo, mut hi) = (self.samples[i].t, self.samples[i + 1].t);
        for _ in 0..20 {
            let mid = 0.5 * (lo + hi);
            if self.overlaps(i, mid, area) == inside_at_start {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        0.5 * (lo + hi)
    }

    /// Last time the footprint left `area` (None if it never overlapped in the trail).
    /// Returns `Some(f64::INFINITY)` when it still overlaps at the newest sample.
    fn exit_time(&self, area: &[P2]) -> Option<f64> {
        let n = self.samples.len();
        if n < 2 {
            return None;
        }
        if self.overlaps(n - 2, self.samples[n - 1].t, area) {
            return Some(f64::INFINITY);
        }
        for i in (0..n - 1).rev() {
            if self.overlaps(i, self.samples[i].t, area) {
                return Some(self.refine(i, area, true));
            }
        }
        None
    }

    /// First time the footprint entered `area` in the current, ongoing occupancy.
    fn entry_time(&self, area: &[P2]) -> Option<f64> {
        let n = self.samples.len();
        if n < 2 {
            return None;
        }
        for i in (0..n - 1).rev() {
            if !self.overlaps(i, self.samples[i].t, area) {
                return Some(self.refine(i, area, false));
            }
        }
        Some(self.samples[0].t) // inside for the whole trail: entry is at least that early
    }
}

/// A resolved PET between a first and a second user.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PetResult {
    pub pet_s: f64,
    /// Where the centre paths cross.
    pub point: P2,
    /// True when user `a` (first argument of [`pet_on_arrival`]) passed first.
    pub a_first: bool,
    /// Time the second user entered the area.
    pub t_second_enter: f64,
}

/// Checks whether `second`'s newest step crossed `first`'s recorded path and, if so, returns
/// the PET with `first` as the earlier user.
fn arrival(first: &Trail, second: &Trail) -> Option<(f64, P2, f64)> {
    let n2 = second.samples.len();
    let n1 = first.samples.len();
    if n2 < 2 || n1 < 2 {
        return None;
    }
    let (s0, s1) = (second.samples[n2 - 2].pos, second.samples[n2 - 1].pos);
    // Newest first: the most recent passage of `first` over this point is the relevant one.
    for i in (0..n1 - 1).rev() {
        let (q0, q1) = (first.samples[i].pos, first.samples[i + 1].pos);
        let Some((ts, _)) = segment_intersection(s0, s1, q0, q1) else { continue };
        let x = [s0[0] + ts * (s1[0] - s0[0]), s0[1] + ts * (s1[1] - s0[1])];
        let ua = unit([q1[0] - q0[0], q1[1] - q0[1]])?;
        let ub = unit([s1[0] - s0[0], s1[1] - s0[1]])?;
        let sin = (ua[0] * ub[1] - ua[1] * ub[0]).abs();
        if sin < MIN_CROSSING_DEG.to_radians().sin() {
            return None;
        }
        let a = second.footprint.width / (2.0 * sin);
        let b = first.footprint.width / (2.0 * sin);
        let area = [
            [x[0] + a * ua[0] + b * ub[0], x[1] + a * ua[1] + b * ub[1]],
            [x[0] - a * ua[0] + b * ub[0], x[1] - a * ua[1] + b * ub[1]],
            [x[0] - a * ua[0] - b * ub[0], x[1] - a * ua[1] - b * ub[1]],
            [x[0] + a * ua[0] - b * ub[0], x[1] + a * ua[1] - b * ub[1]],
        ];
        let exit = first.exit_time(&area)?;
        let enter = second.entry_time(&area)?;
        let pet = if exit.is_infinite() { 0.0 } else { (enter - exit).max(0.0) };
        return Some((pet, x, enter));
    }
    None
}

fn unit(v: P2) -> Option<P2> {
    let n = v[0].hypot(v[1]);
    (n > 1e-9).then(|| [v[0] / n, v[1] / n])
}

/// PET if either user's newest step has just crossed the other's path.
pub fn pet_on_arrival(a: &Trail, b: &Trail) -> Option<PetResult> {
    if let Some((pet_s, point, t)) = arrival(a, b) {
        return Some(PetResult { pet_s, point, a_first: true, t_second_enter: t });
    }
    arrival(b, a).map(|(pet_s, point, t)| PetResult { pet_s, point, a_first: false, t_second_enter: t })
}
