//! Login rate limiting: failed attempts per client address and per user name in a sliding window.
//! Both are checked before the (slow) password check, so a locked-out client costs almost nothing.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Bound on tracked addresses/names, so a flood of made-up names cannot grow memory without limit.
const MAX_KEYS: usize = 10_000;

pub struct LoginLimiter {
    max: usize,
    window: Duration,
    by_ip: Mutex<HashMap<IpAddr, VecDeque<Instant>>>,
    by_name: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_attempts: u32, window_s: u64) -> Self {
        Self {
            max: usize::try_from(max_attempts.max(1)).unwrap_or(usize::MAX),
            window: Duration::from_secs(window_s.max(1)),
            by_ip: Mutex::new(HashMap::new()),
            by_name: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` when either the address or the name has used up its attempts.
    pub fn check(&self, ip: IpAddr, name: &str) -> Result<(), u64> {
        let now = Instant::now();
        let a = blocked_for(&mut self.by_ip.lock(), &ip, self.max, self.window, now);
        let b = blocked_for(&mut self.by_name.lock(), name, self.max, self.window, now);
        match a.max(b) {
            0 => Ok(()),
            s => Err(s),
        }
    }

    pub fn failed(&self, ip: IpAddr, name: &str) {
        let now = Instant::now();
        record(&mut self.by_ip.lock(), ip, self.window, now);
        record(&mut self.by_name.lock(), name.to_string(), self.window, now);
    }

    /// A correct password clears the name's failures (the address keeps its own).
    pub fn succeeded(&self, name: &str) {
        self.by_name.lock().remove(name);
    }
}

fn prune(q: &mut VecDeque<Instant>, window: Duration, now: Instant) {
    while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
        q.pop_front();
    }
}

/// Seconds until one more attempt is allowed (0: allowed now).
fn blocked_for<K, Q>(m: &mut HashMap<K, VecDeque<Instant>>, k: &Q, max: usize, window: Duration, now: Instant) -> u64
where
    K: Hash + Eq + std::borrow::Borrow<Q>,
    Q: Hash + Eq + ?Sized,
{
    let Some(q) = m.get_mut(k) else { return 0 };
    prune(q, window, now);
    if q.len() < max {
        return 0;
    }
    // Allowed again once enough of the oldest attempts have left the window.
    let pivot = q[q.len() - max];
    let left = window.saturating_sub(now.duration_since(pivot));
    left.as_secs() + u64::from(left.subsec_nanos() > 0)
}

fn record<K: Hash + Eq + Clone>(m: &mut HashMap<K, VecDeque<Instant>>, k: K, window: Duration, now: Instant) {
    if m.len() >= MAX_KEYS {
        m.retain(|_, q| {
            prune(q, window, now);
            !q.is_empty()
        });
        if m.len() >= MAX_KEYS {
            // Still full of live entries: forget the stalest one rather than grow or reset everyone.
            let stalest = m.iter().min_by_key(|(_, q)| q.back().copied()).map(|(k, _)| k.clone());
            if let Some(old) = stalest {
                m.remove(&old);
            }
        }
    }
    let q = m.entry(k).or_default();
    q.push_back(now);
    // Never keep more than needed to decide.
    while q.len() > 64 {
        q.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_per_ip_and_name() {
        let l = LoginLimiter::new(3, 60);
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let ip2: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert!(l.check(ip, "ann").is_ok());
            l.failed(ip, "ann");
        }
        let s = l.check(ip, "bob").unwrap_err();
        assert!((59..=60).contains(&s), "{s}");
        // Same name from another address: blocked by name.
        assert!(l.check(ip2, "ann").is_err());
        assert!(l.check(ip2, "bob").is_ok());
        l.succeeded("ann");
        assert!(l.check(ip2, "ann").is_ok());
    }
}
