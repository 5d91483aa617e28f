//! Errors in files a user wrote, pointing at the place: `file:line:column: message`.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// One problem in one input file, with its place when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub place: Option<(usize, usize)>,
    pub message: String,
}

impl Diagnostic {
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self { file: file.into(), place: None, message: message.into() }
    }

    /// A problem at a byte span of `text`, the contents of `file`.
    pub fn at(file: impl Into<PathBuf>, text: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        Self { file: file.into(), place: Some(line_col(text, span.start)), message: message.into() }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Some((l, c)) => write!(f, "{}:{}:{}: {}", self.file.display(), l, c, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let mut line = 1;
    let mut line_start = 0;
    for (i, b) in text.as_bytes()[..offset].iter().enumerate() {
        if *b == b'\n' {
            line += 1;
            line_start = i + 1;
        }
    }
    let col = text.get(line_start..offset).map(|s| s.chars().count()).unwrap_or(0) + 1;
    (line, col)
}

/// Parses TOML into `T`, turning syntax and type errors (unknown keys included, with
/// `#[serde(deny_unknown_fields)]`) into a located [`Diagnostic`].
pub fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostic> {
    toml::from_str(text).map_err(|e| {
        // toml's message repeats the place as a snippet; keep only the first line, the explanation.
        let message = e.message().trim().to_string();
        match e.span() {
            Some(span) => Diagnostic::at(file, text, span, message),
            None => Diagnostic::new(file, message),
        }
    })
}

/// Reads and parses a TOML file.
pub fn load_toml<T: DeserializeOwned>(file: &Path) -> Result<(T, String), Diagnostic> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| Diagnostic::new(file, format!("cannot read: {e}")))?;
    let value = parse_toml(file, &text)?;
    Ok((value, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 9), (2, 4));
        assert_eq!(line_col(t, 1000), (3, 1));
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        a: u32,
    }

    #[test]
    fn unknown_key_is_located() {
        let err = parse_toml::<S>(Path::new("x.toml"), "a = 1\nb = 2\n").unwrap_err();
        assert_eq!(err.place.map(|p| p.0), Some(2), "{err}");
        assert!(err.message.contains("unknown field"), "{err}");
    }

    #[test]
    fn wrong_type_is_located() {
        let err = parse_toml::<S>(Path::new("x.toml"), "\na = \"one\"\n").unwrap_err();
        assert_eq!(err.place, Some((2, 5)), "{err}");
    }
}
