//! Impact events (potholes, broken joints, kerbs) from peaks of the band-passed vertical body
//! acceleration.
//!
//! The severity of a sample is `|a| / (g · (v / v_ref)^e)`: the acceleration in g, divided by how
//! much ordinary roughness grows with speed (`e = 0.5` for ISO 8608 w = 2 roads), so one
//! threshold serves 20-60 km/h. After the first crossing the largest severity within `window_s`
//! is the event; crossings within `refractory_s` of it belong to the same impact (the entry and
//! exit edge of a pothole, the body rebound).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::config::ImpactConfig;

const G: f64 = 9.806_65;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ImpactEvent {
    /// Time of the peak, s (the sample timestamps' clock).
    pub t_s: f64,
    /// Odometer distance at the peak, m. The body peak trails the road feature by the
    /// suspension's response time (tens of ms, i.e. under 2 m at 60 km/h).
    pub distance_m: f64,
    /// Band-passed vertical acceleration at the peak, m/s² (signed: negative is downward).
    pub peak_mps2: f64,
    /// Speed-normalised severity, g at the reference speed; comparable across speeds.
    pub severity: f64,
    pub speed_mps: f64,
}

#[derive(Debug, Clone)]
pub struct ImpactDetector {
    cfg: ImpactConfig,
    pending: Option<(f64, ImpactEvent)>,
    quiet_until_s: f64,
}

impl ImpactDetector {
    pub fn new(cfg: ImpactConfig) -> Self {
        Self { cfg, pending: None, quiet_until_s: f64::NEG_INFINITY }
    }

    /// Severity of acceleration `a_mps2` at `speed_mps`; 0 below the minimum speed.
    pub fn severity(&self, a_mps2: f64, speed_mps: f64) -> f64 {
        if !(speed_mps >= self.cfg.min_speed_mps && speed_mps > 0.0) {
            return 0.0;
        }
        let scale = (speed_mps / self.cfg.reference_speed_mps).powf(self.cfg.speed_exponent);
        let s = a_mps2.abs() / (G * scale);
        if s.is_finite() {
            s
        } else {
            0.0
        }
    }

    /// Feeds one band-passed sample; returns an event once its window has closed.
    pub fn process(&mut self, t_s: f64, distance_m: f64, a_mps2: f64, speed_mps: f64) -> Option<ImpactEvent> {
        let severity = self.severity(a_mps2, speed_mps);
        let here = ImpactEvent { t_s, distance_m, peak_mps2: a_mps2, severity, speed_mps };
        if let Some((t0, best)) = self.pending.as_mut() {
            if t_s - *t0 <= self.cfg.window_s {
                if severity > best.severity {
                    *best = here;
                }
                return None;
            }
            let done = *best;
            self.pending = None;
            self.quiet_until_s = done.t_s + self.cfg.refractory_s;
            return Some(done);
        }
        if t_s >= self.quiet_until_s && severity >= self.cfg.threshold_g {
            self.pending = Some((t_s, here));
        }
        None
    }

    /// Drops a peak in progress (after a data gap its window means nothing).
    pub fn reset(&mut self) {
        self.pending = None;
    }

    /// Emits a peak in progress (end of data).
    pub fn flush(&mut self) -> Option<ImpactEvent> {
        self.pending.take().map(|(_, e)| e)
    }
}
