//! Server-side sessions: random 256-bit tokens in an HttpOnly SameSite=Strict cookie, each with its own
//! CSRF token and an absolute expiry. The store keys sessions by SHA-256 of the token, so neither map
//! lookups nor a memory dump reveal usable tokens.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{header, HeaderMap};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use crate::dashboard::config::Role;

pub const SESSION_COOKIE: &str = "kaiteki_session";
pub const LOGIN_CSRF_COOKIE: &str = "kaiteki_login_csrf";
/// Bound on concurrent sessions; the oldest goes first when full.
const MAX_SESSIONS: usize = 1000;

#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
    pub expires: Instant,
    /// Unix seconds, for the UI.
    pub expires_unix: i64,
}

pub struct SessionStore {
    map: Mutex<HashMap<[u8; 32], Session>>,
    ttl: Duration,
}

/// 256 random bits from the OS, hex-encoded (64 characters).
pub fn random_token() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(hex::encode(b))
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality whose time does not depend on where the inputs differ (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A well-formed token: exactly 64 lowercase hex digits. Anything else is rejected before lookup.
pub fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The value of cookie `name` in the request, if present once or more (first wins).
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A `Set-Cookie` value for a token cookie; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}")
}

impl SessionStore {
    pub fn new(ttl: Duration) -> Self {
        Self { map: Mutex::new(HashMap::new()), ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session; returns its cookie token.
    pub fn create(&self, user: &str, role: Role) -> Result<(String, Session), getrandom::Error> {
        let token = random_token()?;
        let csrf = random_token()?;
        let now = Instant::now();
        let unix = time::OffsetDateTime::now_utc().unix_timestamp();
        let s = Session {
            user: user.to_string(),
            role,
            csrf,
            expires: now + self.ttl,
            expires_unix: unix.saturating_add(i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX)),
        };
        let mut m = self.map.lock();
        m.retain(|_, s| s.expires > now);
        if m.len() >= MAX_SESSIONS {
            if let Some(oldest) = m.iter().min_by_key(|(_, s)| s.expires).map(|(k, _)| *k) {
                m.remove(&oldest);
            }
        }
        m.insert(key(&token), s.clone());
        Ok((token, s))
    }

    /// The live session for a cookie token; expired sessions are dropped on sight.
    pub fn get(&self, token: &str) -> Option<Session> {
        if !well_formed(token) {
            return None;
        }
        let k = key(token);
        let mut m = self.map.lock();
        match m.get(&k) {
            Some(s) if s.expires > Instant::now() => Some(s.clone()),
            Some(_) => {
                m.remove(&k);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, token: &str) {
        if well_formed(token) {
            self.map.lock().remove(&key(token));
        }
    }

    pub fn session_of(&self, headers: &HeaderMap) -> Option<Session> {
        cookie(headers, SESSION_COOKIE).and_then(|t| self.get(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_and_tokens_are_checked() {
        let st = SessionStore::new(Duration::from_millis(50));
        let (t, s) = st.create("ann", Role::Crew).unwrap();
        assert!(well_formed(&t) && well_formed(&s.csrf) && t != s.csrf);
        assert_eq!(st.get(&t).unwrap().user, "ann");
        assert!(st.get("nope").is_none());
        std::thread::sleep(Duration::from_millis(60));
        assert!(st.get(&t).is_none());
    }

    #[test]
    fn cookie_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, "a=1; kaiteki_session=abc ; b=2".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
    }
}
