//! `[http.dashboard]` in the daemon config: users, session lifetime, cookie security, login limits.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DashboardConfig {
    /// Who may log in. Create entries with `kaiteki user add`. No users: nobody can log in.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Absolute session lifetime in seconds (default 8 hours, one shift).
    #[serde(default = "default_ttl")]
    pub session_ttl_s: u64,
    /// Mark cookies `Secure` (sent over HTTPS only). Default: on exactly when `[http.tls]` is
    /// configured, since browsers drop Secure cookies on plain HTTP; set it explicitly when TLS ends
    /// at a reverse proxy in front of the daemon.
    #[serde(default)]
    pub secure_cookies: Option<bool>,
    #[serde(default)]
    pub login_rate_limit: LoginRateLimit,
}

/// Failed logins allowed per client address and per user name within a sliding window.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRateLimit {
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_window")]
    pub window_s: u64,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    pub name: String,
    pub role: Role,
    /// Argon2 PHC string (`$argon2id$v=19$…`), never the password itself.
    pub password_hash: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Road-maintenance crews: every page, can mark road-damage records.
    Crew,
    /// Also sees the calibration view and the config check.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Crew => "crew",
            Role::Admin => "admin",
        }
    }
}

fn default_ttl() -> u64 {
    8 * 3600
}
fn default_max_attempts() -> u32 {
    5
}
fn default_window() -> u64 {
    300
}

impl Default for LoginRateLimit {
    fn default() -> Self {
        Self { max_attempts: default_max_attempts(), window_s: default_window() }
    }
}

impl Default for DashboardConfig {
    fn default() -> Self {
        Self {
            users: Vec::new(),
            session_ttl_s: default_ttl(),
            secure_cookies: None,
            login_rate_limit: LoginRateLimit::default(),
        }
    }
}

/// Longest accepted user name; also bounds what the rate limiter stores per name.
pub const MAX_NAME_LEN: usize = 64;

impl DashboardConfig {
    /// Problems with this section, one sentence each (empty when fine). For `kaiteki check`.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (i, u) in self.users.iter().enumerate() {
            if let Err(e) = crate::dashboard::password::valid_name(&u.name) {
                out.push(format!("http.dashboard.users[{i}]: {e}"));
            }
            if !seen.insert(u.name.as_str()) {
                out.push(format!("http.dashboard.users[{i}]: user `{}` is listed twice", u.name));
            }
            if let Err(e) = crate::dashboard::password::parse_hash(&u.password_hash) {
                out.push(format!("http.dashboard.users[{i}] (`{}`): password_hash {e}", u.name));
            }
        }
        if self.session_ttl_s < 60 || self.session_ttl_s > 7 * 24 * 3600 {
            out.push(format!("http.dashboard.session_ttl_s = {} must be between 60 and 604800", self.session_ttl_s));
        }
        if self.login_rate_limit.max_attempts == 0 {
            out.push("http.dashboard.login_rate_limit.max_attempts must be at least 1".into());
        }
        if self.login_rate_limit.window_s == 0 {
            out.push("http.dashboard.login_rate_limit.window_s must be at least 1".into());
        }
        out
    }
}
