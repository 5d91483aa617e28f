//! Pipeline definitions: `pipelines/<name>.toml` files that describe a GStreamer source with typed
//! parameters. A camera names one and sets its parameters; the runtime appends the common tail
//! (leaky queue, colour conversion to RGB, appsink), so every source delivers frames the same way.
//!
//! ```toml
//! description = "RTSP camera"
//! live = true
//! platform = "any"          # or "jetson": elements that exist only there are not required here
//! source = 'rtspsrc location="{uri}" protocols={protocol} latency={latency_ms} ! decodebin'
//! convert = "videoconvert"  # the conversion to RGB; Jetson: "nvvidconv ! video/x-raw,format=BGRx ! videoconvert"
//! [params.uri]
//! type = "string"
//! required = true
//! [params.protocol]
//! type = "enum"
//! values = ["tcp", "udp"]
//! default = "tcp"
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;

use crate::config::diagnostic::{load_toml, Diagnostic};

/// A parameter value as written in a camera's `params` table.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ParamValue {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Bool(b) => write!(f, "{b}"),
            ParamValue::Int(i) => write!(f, "{i}"),
            ParamValue::Float(x) => write!(f, "{x}"),
            ParamValue::Str(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ParamType {
    String,
    Int,
    Bool,
    Enum,
}

/// Declaration of one parameter in a pipeline definition.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamDecl {
    #[serde(rename = "type")]
    pub kind: ParamType,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub default: Option<ParamValue>,
    #[serde(default)]
    pub description: String,
    /// Allowed values of an `enum` parameter.
    #[serde(default)]
    pub values: Vec<String>,
    /// Bounds of an `int` parameter.
    #[serde(default)]
    pub min: Option<i64>,
    #[serde(default)]
    pub max: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    /// Runs anywhere GStreamer's standard plugins exist.
    #[default]
    Any,
    /// Needs NVIDIA's Jetson plugins (nvarguscamerasrc, nvv4l2decoder, nvvidconv).
    Jetson,
}

/// One `pipelines/<name>.toml`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PipelineDef {
    #[serde(default)]
    pub description: String,
    /// Live sources (cameras, RTSP): an end of stream means the camera went away, so reconnect.
    /// Non-live sources (files): end of stream means stop, or loop when the camera asks for it.
    pub live: bool,
    #[serde(default)]
    pub platform: Platform,
    /// gst-launch syntax up to the decoded video; `{param}` placeholders are replaced.
    #[schemars(with = "String")]
    pub source: toml::Spanned<String>,
    /// Conversion into system-memory video that `videoconvert` accepts; default `videoconvert`.
    #[serde(default = "default_convert")]
    pub convert: String,
    #[serde(default)]
    pub params: BTreeMap<String, ParamDecl>,
}

fn default_convert() -> String {
    "videoconvert".to_string()
}

/// How the common tail behaves; decided by the camera config.
#[derive(Debug, Clone, Copy)]
pub struct TailOptions {
    /// Drop old frames instead of building latency (live cameras, real-time playback).
    pub leaky: bool,
    /// Pace delivery at the stream's clock (real-time playback of files).
    pub sync: bool,
    /// Frames the leaky queue holds before dropping the oldest.
    pub queue_frames: u32,
    /// Scale frames to this size in the pipeline (cheaper than afterwards), or keep the source size.
    pub scale_to: Option<(u32, u32)>,
}

/// Names the runtime looks up inside the built pipeline.
pub const QUEUE_NAME: &str = "kaiteki_queue";
pub const SINK_NAME: &str = "kaiteki_sink";

impl PipelineDef {
    pub fn load(path: &Path) -> Result<(PipelineDef, String), Diagnostic> {
        let (def, text): (PipelineDef, String) = load_toml(path)?;
        let mut problems = def.check_placeholders(path, &text);
        if let Some(first) = problems.drain(..).next() {
            return Err(first);
        }
        Ok((def, text))
    }

    /// Every `{name}` in `source` must be a declared parameter.
    fn check_placeholders(&self, path: &Path, text: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for name in placeholders(self.source.get_ref()) {
            if !self.params.contains_key(&name) {
                out.push(Diagnostic::at(
                    path,
                    text,
                    self.source.span(),
                    format!("placeholder {{{name}}} is not declared under [params]"),
                ));
            }
        }
        out
    }

    /// Checks a camera's parameters against the declarations and renders the full launch line.
    /// Returns every problem found (unknown, missing, mistyped, unsafe values).
    pub fn render(&self, params: &BTreeMap<String, ParamValue>, tail: TailOptions) -> Result<String, Vec<String>> {
        let mut problems = Vec::new();
        for name in params.keys() {
            if !self.params.contains_key(name) {
                let known: Vec<_> = self.params.keys().map(String::as_str).collect();
                problems.push(format!("unknown parameter `{name}` (this pipeline takes: {})", known.join(", ")));
            }
        }
        let mut values = BTreeMap::new();
        for (name, decl) in &self.params {
            let value = match params.get(name).or(decl.default.as_ref()) {
                Some(v) => v,
                None => {
                    if decl.required {
                        problems.push(format!("missing required parameter `{name}`: {}", decl.description));
                    }
                    continue;
                }
            };
            match check_value(name, decl, value) {
                Ok(s) => {
                    values.insert(name.clone(), s);
                }
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut line = substitute(self.source.get_ref(), &values);
        let leaky = if tail.leaky { 2 } else { 0 };
        let _ = write!(
            line,
            " ! queue name={QUEUE_NAME} leaky={leaky} max-size-buffers={} max-size-bytes=0 max-size-time=0 ! {}",
            tail.queue_frames.max(1),
            self.convert
        );
        if let Some((w, h)) = tail.scale_to {
            let _ = write!(line, " ! videoscale ! video/x-raw,width={w},height={h}");
        }
        let _ = write!(
            line,
            // The appsink never drops: only the leaky queue may, where it is counted.
            " ! videoconvert ! video/x-raw,format=RGB ! appsink name={SINK_NAME} max-buffers=2 drop=false sync={} enable-last-sample=false",
            tail.sync
        );
        Ok(line)
    }
}

fn check_value(name: &str, decl: &ParamDecl, value: &ParamValue) -> Result<String, String> {
    let s = match (decl.kind, value) {
        (ParamType::String, ParamValue::Str(s)) => s.clone(),
        (ParamType::Bool, ParamValue::Bool(b)) => b.to_string(),
        (ParamType::Int, ParamValue::Int(i)) => {
            if decl.min.is_some_and(|m| *i < m) || decl.max.is_some_and(|m| *i > m) {
                return Err(format!(
                    "parameter `{name}` = {i} is out of range [{}, {}]",
                    decl.min.map_or("-inf".into(), |m| m.to_string()),
                    decl.max.map_or("inf".into(), |m| m.to_string())
                ));
            }
            i.to_string()
        }
        (ParamType::Enum, ParamValue::Str(s)) => {
            if !decl.values.contains(s) {
                return Err(format!("parameter `{name}` = \"{s}\" is not one of {:?}", decl.values));
            }
            s.clone()
        }
        (kind, v) => return Err(format!("parameter `{name}` must be {kind:?} (lowercase in TOML), found `{v}`")),
    };
    // Values are pasted into a gst-launch line: forbid what could break out of a quoted property or chain
    // extra elements.
    if s.contains(['"', '\n', '\r', '!', '\0']) {
        return Err(format!("parameter `{name}` contains a character not allowed in a pipeline value (\", !, newline)"));
    }
    Ok(s)
}

fn placeholders(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) => {
                out.push(after[..end].to_string());
                rest = &after[end + 1..];
            }
            None => break,
        }
    }
    out
}

fn substitute(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Finds `<dir>/<name>.toml`; the name may not leave the folder.
pub fn definition_path(dir: &Path, name: &str) -> Option<PathBuf> {
    if !crate::config::is_valid_id(name) {
        return None;
    }
    Some(dir.join(format!("{name}.toml")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> PipelineDef {
        let text = r#"
live = true
source = 'rtspsrc location="{uri}" protocols={protocol} latency={latency_ms} ! decodebin'
[params.uri]
type = "string"
required = true
[params.protocol]
type = "enum"
values = ["tcp", "udp"]
default = "tcp"
[params.latency_ms]
type = "int"
default = 200
min = 0
max = 10000
"#;
        crate::config::diagnostic::parse_toml(Path::new("rtsp.toml"), text).unwrap()
    }

    fn tail() -> TailOptions {
        TailOptions { leaky: true, sync: false, queue_frames: 2, scale_to: None }
    }

    #[test]
    fn renders_with_defaults() {
        let mut p = BTreeMap::new();
        p.insert("uri".into(), ParamValue::Str("rtsp://127.0.0.1:8554/cam".into()));
        let line = def().render(&p, tail()).unwrap();
        assert!(line.starts_with(r#"rtspsrc location="rtsp://127.0.0.1:8554/cam" protocols=tcp latency=200 ! decodebin ! queue"#), "{line}");
        assert!(line.contains("leaky=2"), "{line}");
        assert!(line.ends_with("sync=false enable-last-sample=false"), "{line}");
    }

    #[test]
    fn reports_every_problem() {
        let mut p = BTreeMap::new();
        p.insert("protocol".into(), ParamValue::Str("sctp".into()));
        p.insert("latency_ms".into(), ParamValue::Int(-5));
        p.insert("bogus".into(), ParamValue::Bool(true));
        let errs = def().render(&p, tail()).unwrap_err();
        assert_eq!(errs.len(), 4, "{errs:?}");
        assert!(errs.iter().any(|e| e.contains("unknown parameter `bogus`")));
        assert!(errs.iter().any(|e| e.contains("missing required parameter `uri`")));
        assert!(errs.iter().any(|e| e.contains("not one of")));
        assert!(errs.iter().any(|e| e.contains("out of range")));
    }

    #[test]
    fn refuses_injection() {
        let mut p = BTreeMap::new();
        p.insert("uri".into(), ParamValue::Str("x\" ! filesink location=/etc/passwd".into()));
        assert!(def().render(&p, tail()).is_err());
    }

    #[test]
    fn undeclared_placeholder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("bad.toml");
        std::fs::write(&f, "live = false\nsource = 'filesrc location={path} ! decodebin'\n").unwrap();
        let err = PipelineDef::load(&f).unwrap_err();
        assert!(err.to_string().contains("bad.toml:2:"), "{err}");
        assert!(err.message.contains("{path}"), "{err}");
    }
}
