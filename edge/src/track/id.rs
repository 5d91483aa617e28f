//! Unlinkable public track ids.
//!
//! Every id space has a random 64-bit salt that is redrawn every `rotate_s` seconds of stream
//! time (at most an hour). Public ids are `mix(salt + counter)` through a bijective 64-bit mixer
//! (SplitMix64 finaliser, Steele et al., OOPSLA 2014): unique within an epoch, and without the
//! secret salt an id says nothing about ids of another epoch or another process.

use std::fmt;

use serde::{Serialize, Serializer};

/// A public track id, shown as 16 lowercase hex characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackId(pub u64);

impl fmt::Display for TrackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl Serialize for TrackId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for TrackId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TrackId".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A public track id: 16 lowercase hex characters, unique within a salt epoch (at most an hour); unlinkable across epochs.",
            "type": "string",
            "pattern": "^[0-9a-f]{16}$"
        })
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// 64 random bits from the OS-seeded keys of std's `RandomState` (SipHash keyed from the OS RNG
/// once per thread, then incremented), stirred with a process counter and the clock. No RNG
/// crate is needed for salts; swap in `rand::random::<u64>()` here if the crate gains `rand`.
fn os_random_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// Issues public ids and rotates their salt on stream time.
#[derive(Debug, Clone)]
pub struct IdSpace {
    salt: u64,
    counter: u64,
    epoch_start: Option<f64>,
    rotate_s: f64,
    generation: u64,
    /// Deterministic salt sequence for tests; `None` draws from the OS.
    seeded: Option<u64>,
}

impl IdSpace {
    /// Random salts; `rotate_s` is clamped into (0, 3600].
    pub fn new(rotate_s: f64) -> Self {
        Self::build(rotate_s, None)
    }

    /// Reproducible salts derived from `seed` (tests and replays only).
    pub fn with_seed(rotate_s: f64, seed: u64) -> Self {
        Self::build(rotate_s, Some(seed))
    }

    fn build(rotate_s: f64, seeded: Option<u64>) -> Self {
        let rotate_s = if rotate_s.is_finite() && rotate_s > 0.0 { rotate_s.min(3600.0) } else { 3600.0 };
        let mut s = Self { salt: 0, counter: 0, epoch_start: None, rotate_s, generation: 0, seeded };
        s.salt = s.draw_salt();
        s
    }

    fn draw_salt(&mut self) -> u64 {
        match self.seeded.as_mut() {
            Some(state) => {
                *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                mix(*state)
            }
            None => os_random_u64(),
        }
    }

    /// Starts a new epoch when `rotate_s` has elapsed (or stream time jumped backwards, e.g. a
    /// restarted source). Returns true when ids rotated and live tracks must be re-labelled.
    pub fn maybe_rotate(&mut self, t: f64) -> bool {
        if !t.is_finite() {
            return false;
        }
        match self.epoch_start {
            None => {
                self.epoch_start = Some(t);
                false
            }
            Some(start) if t - start >= self.rotate_s || t < start => {
                self.salt = self.draw_salt();
                self.counter = 0;
                self.generation += 1;
                self.epoch_start = Some(t);
                true
            }
            Some(_) => false,
        }
    }

    pub fn next_id(&mut self) -> TrackId {
        self.counter += 1;
        TrackId(mix(self.salt.wrapping_add(self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15))))
    }

    /// How many rotations have happened (0 for the first epoch).
    pub fn generation(&self) -> u64 {
        self.generation
    }
}
