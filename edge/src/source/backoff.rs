//! Capped exponential backoff with jitter, for reconnecting cameras (and the MQTT link).

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max: max.max(initial), attempt: 0 }
    }

    /// The next delay: initial * 2^attempt, capped, with ±20 % jitter so a fleet of boxes does not hammer
    /// a recovering server in lockstep.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.attempt.min(20);
        self.attempt = self.attempt.saturating_add(1);
        let base = self.initial.saturating_mul(1u32 << exp).min(self.max);
        let jitter = 0.8 + 0.4 * pseudo_random_unit();
        base.mul_f64(jitter).min(self.max)
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// A cheap non-cryptographic random number in [0, 1): jitter needs no quality.
fn pseudo_random_unit() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let d: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(d[0] <= Duration::from_millis(120) && d[0] >= Duration::from_millis(80), "{d:?}");
        assert!(d[3] >= Duration::from_millis(640), "{d:?}");
        assert!(d.iter().all(|x| *x <= Duration::from_secs(2)), "{d:?}");
        assert!(d[9] >= Duration::from_millis(1600), "{d:?}");
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(120));
    }
}
