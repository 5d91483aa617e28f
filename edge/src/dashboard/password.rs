//! Argon2id password hashes (PHC strings) and `kaiteki user add`.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::dashboard::config::{Role, MAX_NAME_LEN};

/// Longest accepted password; bounds the work an anonymous client can ask for.
pub const MAX_PASSWORD_LEN: usize = 1024;
/// Shortest password `user add` accepts.
pub const MIN_PASSWORD_LEN: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password is empty")]
    Empty,
    #[error("the password is shorter than {MIN_PASSWORD_LEN} characters")]
    TooShort,
    #[error("the password is longer than {MAX_PASSWORD_LEN} bytes")]
    TooLong,
    #[error("invalid user name: {0}")]
    BadName(String),
    #[error("hashing failed: {0}")]
    Hash(String),
}

/// An Argon2id PHC string with a fresh random salt and the crate's default (OWASP) parameters.
pub fn hash_password(plain: &str) -> Result<String, PasswordError> {
    if plain.is_empty() {
        return Err(PasswordError::Empty);
    }
    if plain.len() > MAX_PASSWORD_LEN {
        return Err(PasswordError::TooLong);
    }
    Argon2::default()
        .hash_password(plain.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `plain` matches the PHC string. A malformed hash never matches.
/// Slow on purpose (tens of ms): call it from a blocking task.
pub fn verify_password(plain: &str, phc: &str) -> bool {
    if plain.len() > MAX_PASSWORD_LEN {
        return false;
    }
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default().verify_password(plain.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Checks that a configured hash is an Argon2 PHC string.
pub(crate) fn parse_hash(phc: &str) -> Result<(), String> {
    let h = PasswordHash::new(phc).map_err(|e| format!("is not a PHC string ({e})"))?;
    let alg = h.algorithm.as_str();
    if !alg.starts_with("argon2") {
        return Err(format!("uses `{alg}`, expected argon2id (create it with `kaiteki user add`)"));
    }
    Ok(())
}

/// User names: 1 to 64 of `A-Z a-z 0-9 . _ -`, so they are safe in logs, TOML and events.
pub(crate) fn valid_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(format!("a user name has 1 to {MAX_NAME_LEN} characters"));
    }
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("`{c}` is not allowed in a user name (letters, digits, . _ - only)"));
    }
    Ok(())
}

/// What `kaiteki user add` prints: a TOML snippet to paste into the config (under `[http.dashboard]`).
pub fn user_add(name: &str, role: Role, password: &str) -> Result<String, PasswordError> {
    valid_name(name).map_err(PasswordError::BadName)?;
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(if password.is_empty() { PasswordError::Empty } else { PasswordError::TooShort });
    }
    let hash = hash_password(password)?;
    // Name and PHC string contain no characters that need TOML escaping (checked above / base64).
    Ok(format!(
        "[[http.dashboard.users]]\nname = \"{name}\"\nrole = \"{}\"\npassword_hash = \"{hash}\"\n",
        role.as_str()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_round_trips_and_rejects_wrong_password() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsf", &h));
        assert!(!verify_password("x", "not a hash"));
        assert!(parse_hash(&h).is_ok());
        assert!(parse_hash("plain").is_err());
    }

    #[test]
    fn user_add_checks_name_and_password() {
        let s = user_add("crew-1", Role::Crew, "longenough").unwrap();
        assert!(s.contains("name = \"crew-1\"") && s.contains("role = \"crew\""), "{s}");
        assert!(matches!(user_add("a b", Role::Crew, "longenough"), Err(PasswordError::BadName(_))));
        assert!(matches!(user_add("a", Role::Admin, "short"), Err(PasswordError::TooShort)));
    }
}
