//! Shared state of the dashboard routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::dashboard::config::{DashboardConfig, UserConfig};
use crate::dashboard::feed::Feed;
use crate::dashboard::marks::MarkSink;
use crate::dashboard::ratelimit::LoginLimiter;
use crate::dashboard::session::SessionStore;

/// Verified instead of a real hash when the user name is unknown, so that unknown and known names
/// take the same time (argon2id, the crate's default parameters, like real hashes).
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$hyZuchjvOQ6ubnEMpi3/rw$zUspjzNwUrJIsystObNDBHMjTGmzawvaqZqW/OHas7c";

pub struct DashState {
    pub cfg: DashboardConfig,
    pub users: HashMap<String, UserConfig>,
    pub sessions: SessionStore,
    pub limiter: LoginLimiter,
    pub feed: Arc<Feed>,
    pub marks: MarkSink,
}

impl DashState {
    pub fn new(cfg: DashboardConfig, feed: Arc<Feed>, marks: MarkSink) -> Self {
        for p in cfg.problems() {
            tracing::warn!("dashboard config: {p}");
        }
        if cfg.users.is_empty() {
            tracing::warn!("dashboard: no users configured (add some with `kaiteki user add`); nobody can log in");
        }
        let users = cfg.users.iter().map(|u| (u.name.clone(), u.clone())).collect();
        Self {
            sessions: SessionStore::new(Duration::from_secs(cfg.session_ttl_s.clamp(60, 7 * 24 * 3600))),
            limiter: LoginLimiter::new(cfg.login_rate_limit.max_attempts, cfg.login_rate_limit.window_s),
            users,
            cfg,
            feed,
            marks,
        }
    }
}
