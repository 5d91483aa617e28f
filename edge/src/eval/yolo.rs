//! YOLO (Ultralytics/Darknet) labels: `class cx cy w h` per line, normalised to the image size, and the
//! class names that give those numbers a meaning, read from `classes.txt`/`obj.names` (one a line) or the
//! `names:` entry of `data.yaml` (the simple YAML forms only: `[a, b]`, `{0: a, 1: b}`, `- a` lines,
//! `0: a` lines; parsed by hand, no YAML crate for one key).

use std::path::Path;

use super::dataset::{read_annotation, DatasetError, GtBox};
use super::voc::truncate;
use super::Rect;

/// Normalised coordinates this far outside 0..1 are rounding noise; further out, they are probably
/// pixels written into a YOLO file by mistake.
const SLACK: f32 = 0.05;

/// The class names of a YOLO dataset: the first of `classes.txt`, `obj.names`, `data.yaml`,
/// `dataset.yaml` found in `root`, then in `labels`.
pub(crate) fn find_names(root: &Path, labels: &Path) -> Result<Vec<String>, DatasetError> {
    for dir in [root, labels] {
        for file in ["classes.txt", "obj.names", "data.yaml", "dataset.yaml"] {
            let path = dir.join(file);
            if path.is_file() {
                let text = read_annotation(&path)?;
                let names = if file.ends_with(".yaml") { parse_yaml_names(&path, &text)? } else { parse_names_list(&path, &text)? };
                if names.is_empty() {
                    return Err(DatasetError::at(&path, 1, "no class names"));
                }
                return Ok(names);
            }
        }
    }
    Err(DatasetError::Layout {
        path: root.to_path_buf(),
        message: "YOLO labels need class names: classes.txt (one a line) or data.yaml (names:) in the dataset folder".into(),
    })
}

/// One name a line; blank lines at the end are ignored, blank lines in between are an error (they would
/// shift every following class id).
pub(crate) fn parse_names_list(path: &Path, text: &str) -> Result<Vec<String>, DatasetError> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let last = lines.iter().rposition(|l| !l.is_empty()).map_or(0, |i| i + 1);
    lines[..last]
        .iter()
        .enumerate()
        .map(|(i, l)| if l.is_empty() { Err(DatasetError::at(path, i + 1, "blank class name")) } else { Ok(l.to_string()) })
        .collect()
}

/// The `names:` entry of an Ultralytics dataset YAML.
pub(crate) fn parse_yaml_names(path: &Path, text: &str) -> Result<Vec<String>, DatasetError> {
    let lines: Vec<&str> = text.lines().collect();
    let (start, rest) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| l.strip_prefix("names:").map(|r| (i, strip_comment(r).trim())))
        .ok_or_else(|| DatasetError::at(path, 1, "no top-level `names:` entry"))?;
    let line_no = start + 1;
    if rest.starts_with('[') || rest.starts_with('{') {
        // A flow collection, possibly continued on the following lines.
        let close = if rest.starts_with('[') { ']' } else { '}' };
        let mut flow = rest.to_string();
        let mut j = start + 1;
        while !flow.contains(close) {
            let next = lines.get(j).ok_or_else(|| DatasetError::at(path, line_no, format!("`names:` never closed with {close}")))?;
            flow.push(' ');
            flow.push_str(strip_comment(next).trim());
            j += 1;
        }
        let end = flow.find(close).unwrap_or(flow.len());
        let items = split_flow(&flow[1..end]);
        return if close == ']' {
            Ok(items.iter().map(|s| unquote(s)).filter(|s| !s.is_empty()).collect())
        } else {
            indexed(path, line_no, items.iter().map(|s| (line_no, s.as_str())))
        };
    }
    if !rest.is_empty() {
        return Err(DatasetError::at(path, line_no, format!("`names:` must be a list or a map, got {:?}", truncate(rest))));
    }
    // Block form: `- name` or `0: name` lines below `names:`.
    let mut list = Vec::new();
    let mut map = Vec::new();
    for (j, raw) in lines.iter().enumerate().skip(start + 1) {
        let l = strip_comment(raw);
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        let indented = l.starts_with(' ') || l.starts_with('\t');
        if let Some(item) = t.strip_prefix('-').filter(|_| indented || t.starts_with("- ") || t == "-") {
            list.push(unquote(item.trim()));
        } else if indented {
            map.push((j + 1, t));
        } else {
            break;
        }
    }
    match (list.is_empty(), map.is_empty()) {
        (false, true) => Ok(list),
        (true, false) => indexed(path, line_no, map.into_iter()),
        (true, true) => Err(DatasetError::at(path, line_no, "`names:` is empty")),
        (false, false) => Err(DatasetError::at(path, line_no, "`names:` mixes `- name` and `id: name` entries")),
    }
}

/// `id: name` entries into a list; ids must be 0..n-1, each once.
fn indexed<'a>(path: &Path, line_no: usize, entries: impl Iterator<Item = (usize, &'a str)>) -> Result<Vec<String>, DatasetError> {
    let mut slots: Vec<Option<String>> = Vec::new();
    for (line, e) in entries {
        let (k, v) =
            e.split_once(':').ok_or_else(|| DatasetError::at(path, line, format!("expected `id: name`, got {:?}", truncate(e))))?;
        let id: usize = unquote(k.trim())
            .parse()
            .ok()
            .filter(|&id| id < 100_000)
            .ok_or_else(|| DatasetError::at(path, line, format!("class id {:?} is not a number", truncate(k.trim()))))?;
        if slots.len() <= id {
            slots.resize(id + 1, None);
        }
        if slots[id].replace(unquote(v.trim())).is_some() {
            return Err(DatasetError::at(path, line, format!("class id {id} given twice")));
        }
    }
    slots
        .into_iter()
        .enumerate()
        .map(|(i, s)| s.ok_or_else(|| DatasetError::at(path, line_no, format!("`names:` has no class id {i}"))))
        .collect()
}

/// Removes a ` # comment` (a `#` at the start or after a space, outside quotes).
fn strip_comment(l: &str) -> &str {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in l.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if prev.is_whitespace() => return &l[..i],
            _ => {}
        }
        prev = c;
    }
    l
}

/// Splits a flow collection's inside at commas outside quotes.
fn split_flow(s: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quote = None;
    for c in s.chars() {
        match (quote, c) {
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), _) if c == q => {
                quote = None;
                cur.push(c);
            }
            (None, ',') => items.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        items.push(cur.trim().to_string());
    }
    items
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_string();
        }
    }
    s.to_string()
}

/// Parses a label file: `class cx cy w h` (normalised), or `class x1 y1 x2 y2 x3 y3 …` (a segmentation
/// polygon, used as its bounding box). Blank lines and `#` comments are skipped. Boxes are returned in
/// 0..1 image fractions as x1,y1,x2,y2.
pub(crate) fn parse_labels(path: &Path, text: &str, names: &[String]) -> Result<Vec<GtBox>, DatasetError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let err = |msg: String| DatasetError::at(path, line, msg);
        let l = raw.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split_whitespace().collect();
        let class: usize = fields[0].parse().map_err(|_| err(format!("class id {:?} is not a whole number", truncate(fields[0]))))?;
        let label = names
            .get(class)
            .ok_or_else(|| err(format!("class id {class} but only {} class names (0..{})", names.len(), names.len().saturating_sub(1))))?;
        let values = fields[1..]
            .iter()
            .map(|f| f.parse::<f32>().ok().filter(|v| v.is_finite()).ok_or_else(|| err(format!("{:?} is not a number", truncate(f)))))
            .collect::<Result<Vec<f32>, _>>()?;
        if let Some(v) = values.iter().find(|v| !(-SLACK..=1.0 + SLACK).contains(*v)) {
            return Err(err(format!("{v} is outside 0..1: YOLO coordinates are fractions of the image size, not pixels")));
        }
        let bbox = match values.len() {
            4 => {
                let (cx, cy, w, h) = (values[0], values[1], values[2], values[3]);
                if w < 0.0 || h < 0.0 {
                    return Err(err(format!("negative size w {w} h {h}")));
                }
                Rect::new(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
            }
            n if n >= 6 && n % 2 == 0 => {
                let xs = values.iter().step_by(2);
                let ys = values.iter().skip(1).step_by(2);
                let (x1, x2) = xs.fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
                let (y1, y2) = ys.fold((f32::MAX, f32::MIN), |(a, b), &y| (a.min(y), b.max(y)));
                Rect::new(x1, y1, x2, y2)
            }
            n => return Err(err(format!("expected `class cx cy w h` (or a polygon), got {} numbers after the class", n))),
        };
        out.push(GtBox { label: label.clone(), bbox });
    }
    Ok(out)
}
