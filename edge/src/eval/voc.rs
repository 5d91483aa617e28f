//! A small, bounded, tolerant reader for the Pascal VOC annotation subset RDD2022 uses:
//! `annotation/size/{width,height}` and `annotation/object/{name, bndbox/{xmin,ymin,xmax,ymax}}`.
//!
//! Not a general XML parser (no crate needed for this much): it skips the prolog, comments, DOCTYPE and
//! processing instructions, reads attributes without using them, accepts CDATA, decodes the five
//! predefined entities and numeric character references, and ignores every element it does not know
//! (`pose`, `truncated`, `difficult`, VOC `part`s with their own `name` and `bndbox`, …). Problems are
//! reported with their line. Depth and object count are bounded; the caller bounds the file size.

use std::path::Path;

use super::dataset::DatasetError;
use super::Rect;

const MAX_DEPTH: usize = 64;
const MAX_OBJECTS: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct VocObject {
    pub name: String,
    pub bbox: Rect,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct VocAnnotation {
    /// `<size>` width and height when both are present and numeric.
    pub size: Option<(u32, u32)>,
    pub objects: Vec<VocObject>,
}

/// An `<object>` being read.
#[derive(Default)]
struct ObjectBuilder {
    line: usize,
    name: Option<String>,
    /// xmin, ymin, xmax, ymax.
    coords: [Option<f32>; 4],
    has_bndbox: bool,
}

/// An open element: its name, its text so far and the line it started on.
struct Open {
    name: String,
    text: String,
    line: usize,
}

/// Line numbers of byte offsets visited in increasing order, in linear total time.
struct Lines<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl Lines<'_> {
    fn at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset > self.offset {
            self.line += self.text.as_bytes()[self.offset..offset].iter().filter(|&&b| b == b'\n').count();
            self.offset = offset;
        }
        self.line
    }
}

pub(crate) fn parse(path: &Path, text: &str) -> Result<VocAnnotation, DatasetError> {
    let err = |line: usize, msg: String| DatasetError::at(path, line, msg);
    let mut lines = Lines { text, offset: 0, line: 1 };
    let mut stack: Vec<Open> = Vec::new();
    let mut seen_root = false;
    let mut out = VocAnnotation::default();
    let mut object: Option<ObjectBuilder> = None;
    let (mut width, mut height) = (None, None);
    let mut i = 0;
    while i < text.len() {
        let Some(lt) = text[i..].find('<').map(|p| p + i) else {
            append_text(&mut stack, &text[i..]);
            break;
        };
        append_text(&mut stack, &text[i..lt]);
        let line = lines.at(lt);
        let rest = &text[lt..];
        // Skipped constructs: (opening, closing).
        let skip = [("<!--", "-->"), ("<?", "?>")].into_iter().find(|(open, _)| rest.starts_with(open));
        if let Some((open, close)) = skip {
            let end = rest[open.len()..].find(close).ok_or_else(|| err(line, format!("unterminated {open}")))?;
            i = lt + open.len() + end + close.len();
            continue;
        }
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let end = body.find("]]>").ok_or_else(|| err(line, "unterminated CDATA section".into()))?;
            if let Some(top) = stack.last_mut() {
                top.text.push_str(&body[..end]);
            }
            i = lt + "<![CDATA[".len() + end + "]]>".len();
            continue;
        }
        if rest.starts_with("<!") {
            // DOCTYPE and friends, possibly with an internal subset in brackets.
            i = lt + skip_declaration(rest).ok_or_else(|| err(line, "unterminated <! declaration".into()))?;
            continue;
        }
        let end = tag_end(rest).ok_or_else(|| err(line, "unterminated tag (no closing '>')".into()))?;
        let tag = &rest[1..end];
        i = lt + end + 1;
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            let open = stack.pop().ok_or_else(|| err(line, format!("</{name}> closes nothing")))?;
            if open.name != name {
                return Err(err(line, format!("</{name}> closes <{}> opened at line {}", open.name, open.line)));
            }
            close(path, &stack, open, &mut object, &mut out, (&mut width, &mut height))?;
            continue;
        }
        let self_closing = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag.split(|c: char| c.is_whitespace()).next().unwrap_or("");
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')) {
            return Err(err(line, format!("bad tag <{}>", truncate(tag))));
        }
        if stack.is_empty() && seen_root {
            return Err(err(line, format!("<{name}> after the end of the root element")));
        }
        seen_root = true;
        if stack.len() >= MAX_DEPTH {
            return Err(err(line, format!("elements nested deeper than {MAX_DEPTH}")));
        }
        let open = Open { name: name.to_string(), text: String::new(), line };
        if stack.len() == 1 && name == "object" {
            if out.objects.len() >= MAX_OBJECTS {
                return Err(err(line, format!("more than {MAX_OBJECTS} objects")));
            }
            object = Some(ObjectBuilder { line, ..ObjectBuilder::default() });
        }
        if self_closing {
            close(path, &stack, open, &mut object, &mut out, (&mut width, &mut height))?;
        } else {
            stack.push(open);
        }
    }
    if let Some(open) = stack.last() {
        return Err(err(lines.at(text.len()), format!("<{}> opened at line {} is never closed", open.name, open.line)));
    }
    if !seen_root {
        return Err(err(1, "no XML element: not a Pascal VOC annotation".into()));
    }
    if let (Some(w), Some(h)) = (width, height) {
        out.size = Some((w, h));
    }
    Ok(out)
}

/// Text goes to the innermost open element only (the leaves are what we read).
fn append_text(stack: &mut [Open], text: &str) {
    if let Some(top) = stack.last_mut() {
        top.text.push_str(text);
    }
}

/// Handles the end of element `open`, whose ancestors are `parents` (root first).
fn close(
    path: &Path,
    parents: &[Open],
    open: Open,
    object: &mut Option<ObjectBuilder>,
    out: &mut VocAnnotation,
    size: (&mut Option<u32>, &mut Option<u32>),
) -> Result<(), DatasetError> {
    // Path below the root element, e.g. ["object", "bndbox"] for xmin.
    let under: Vec<&str> = parents.iter().skip(1).map(|o| o.name.as_str()).collect();
    let text = || decode_entities(open.text.trim());
    match (under.as_slice(), open.name.as_str()) {
        ([], "object") => {
            if let Some(b) = object.take() {
                out.objects.push(finish_object(path, b)?);
            }
        }
        (["object"], "name") => {
            if let Some(b) = object.as_mut() {
                b.name = Some(text());
            }
        }
        (["object"], "bndbox") => {
            if let Some(b) = object.as_mut() {
                b.has_bndbox = true;
            }
        }
        (["object", "bndbox"], c @ ("xmin" | "ymin" | "xmax" | "ymax")) => {
            let v = text();
            let n = v
                .parse::<f32>()
                .ok()
                .filter(|n| n.is_finite())
                .ok_or_else(|| DatasetError::at(path, open.line, format!("<{c}> must be a number, got {:?}", truncate(&v))))?;
            if let Some(b) = object.as_mut() {
                let i = ["xmin", "ymin", "xmax", "ymax"].iter().position(|x| x == &c).unwrap_or(0);
                b.coords[i] = Some(n);
            }
        }
        // The size is informational: a bad one is ignored rather than refused.
        (["size"], "width") => *size.0 = text().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u32),
        (["size"], "height") => *size.1 = text().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).map(|v| v as u32),
        _ => {}
    }
    Ok(())
}

fn finish_object(path: &Path, b: ObjectBuilder) -> Result<VocObject, DatasetError> {
    let err = |msg: String| DatasetError::at(path, b.line, msg);
    let name = b.name.filter(|n| !n.is_empty()).ok_or_else(|| err("<object> without a <name>".into()))?;
    if !b.has_bndbox {
        return Err(err(format!("<object> {name:?} without a <bndbox>")));
    }
    let mut c = [0.0f32; 4];
    for (i, (v, tag)) in b.coords.iter().zip(["xmin", "ymin", "xmax", "ymax"]).enumerate() {
        c[i] = v.ok_or_else(|| err(format!("<object> {name:?}: <bndbox> without <{tag}>")))?;
    }
    if c[2] < c[0] || c[3] < c[1] {
        return Err(err(format!("<object> {name:?}: inverted box xmin {} ymin {} xmax {} ymax {}", c[0], c[1], c[2], c[3])));
    }
    Ok(VocObject { name, bbox: Rect::new(c[0], c[1], c[2], c[3]) })
}

/// Offset of the `>` that ends the tag starting at `s[0] == '<'`, skipping quoted attribute values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '>') => return Some(i),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

/// Length of a `<!…>` declaration, including a bracketed internal subset.
fn skip_declaration(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '>' if depth == 0 => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `&lt; &gt; &amp; &quot; &apos; &#NN; &#xNN;`; anything else is kept as written.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&semi| semi <= 12).and_then(|semi| {
            let ch = match &rest[1..semi] {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                e => e
                    .strip_prefix("#x")
                    .or_else(|| e.strip_prefix("#X"))
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .or_else(|| e.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            ch.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// At most 40 characters of `s`, for messages.
pub(crate) fn truncate(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
