//! Small validators shared by the wire formats: names that end up in MQTT topics and file names, hex
//! digests, and clipping of untrusted values before they are quoted in error messages.

/// Longest value quoted verbatim in an error message; longer values are cut so a hostile payload cannot
/// turn a status `reason` into megabytes.
const CLIP_CHARS: usize = 80;

/// A model slot, device or group name: 1-64 ASCII letters, digits, `-` or `_`. The same rule as the
/// daemon's `device_id`, because these names become MQTT topic levels and directory names.
pub fn is_valid_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` is exactly `len` lowercase hex characters (the only spelling accepted on the wire, so
/// one digest has one topic).
pub fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Parses a 64-character lowercase hex sha256 digest.
pub fn parse_digest(s: &str) -> Option<[u8; 32]> {
    if !is_lower_hex(s, 64) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Quotes an untrusted value for an error message: escaped (no control characters reach logs or the
/// status topic) and clipped to a bounded length.
pub fn clip(s: &str) -> String {
    let mut out = String::new();
    for (n, c) in s.chars().enumerate() {
        if n == CLIP_CHARS {
            out.push('…');
            break;
        }
        out.extend(c.escape_debug());
    }
    format!("\"{out}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_name("people"));
        assert!(is_valid_name("pole-17_a"));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("a/b"));
        assert!(!is_valid_name("a+"));
        assert!(!is_valid_name(&"x".repeat(65)));
    }

    #[test]
    fn hex_and_clip() {
        assert!(parse_digest(&"ab".repeat(32)).is_some());
        assert!(parse_digest(&"AB".repeat(32)).is_none());
        assert!(parse_digest(&"ab".repeat(31)).is_none());
        assert_eq!(clip("a\nb"), "\"a\\nb\"");
        assert!(clip(&"y".repeat(500)).chars().count() < 90);
    }
}
