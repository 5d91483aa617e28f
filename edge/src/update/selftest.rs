//! The self-test set shipped in a bundle: a few frames and the detections the new model must produce on
//! them before it replaces the running one. Catches a broken export, wrong preprocessing or a mislabelled
//! class list on the device itself, where it matters.
//!
//! `selftest/expected.json`:
//!
//! ```json
//! {"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"frame0.png",
//!   "detections":[{"label":"person","box":[x,y,w,h],"min_score":0.3}],"allow_extra":true}]}
//! ```
//!
//! Boxes are in frame pixels, `x,y` the top-left corner. Running the model is the daemon's job; this
//! module parses the set and judges the results ([`check_frame`]).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::update::error::{io_at, UpdateError};
use crate::update::names::clip;

/// Value of `format`.
pub const SELFTEST_FORMAT: &str = "kaiteki-selftest-v1";
/// Name of the expectations file inside the self-test folder.
pub const EXPECTED_FILE: &str = "expected.json";
/// Bounds on the set, so a bundle cannot make the device test for hours.
pub const MAX_EXPECTED_BYTES: u64 = 1 << 20;
pub const MAX_FRAMES: usize = 64;
pub const MAX_DETECTIONS_PER_FRAME: usize = 256;

/// The whole `expected.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSet {
    pub format: String,
    /// Minimum IoU for a detection to match an expected box.
    pub iou: f32,
    pub frames: Vec<ExpectedFrame>,
}

/// Expectations for one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedFrame {
    /// Image file name inside the self-test folder (a plain `.png`/`.jpg`/`.jpeg` name, no folders).
    pub image: String,
    pub detections: Vec<ExpectedDetection>,
    /// Whether detections beyond the expected ones are acceptable (default true: a better model may well
    /// find more).
    #[serde(default = "default_true")]
    pub allow_extra: bool,
}

fn default_true() -> bool {
    true
}

/// One detection that must be found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedDetection {
    pub label: String,
    /// `[x, y, w, h]` in frame pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
    pub min_score: f32,
}

/// A detection the model produced on a self-test frame (`bbox` is `[x, y, w, h]` in frame pixels).
#[derive(Debug, Clone, PartialEq)]
pub struct Got {
    pub label: String,
    pub bbox: [f32; 4],
    pub score: f32,
}

/// A validated self-test set on disk.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfTest {
    /// The self-test folder (holds `expected.json` and the frames).
    pub dir: PathBuf,
    pub expected: ExpectedSet,
}

impl SelfTest {
    /// Each frame's image path with its expectations.
    pub fn frames(&self) -> impl Iterator<Item = (PathBuf, &ExpectedFrame)> {
        self.expected.frames.iter().map(|f| (self.dir.join(&f.image), f))
    }
}

/// Whether `name` is an acceptable frame file name: one plain component of `[A-Za-z0-9._-]`, not hidden,
/// ending in `.png`, `.jpg` or `.jpeg`.
pub fn is_valid_image_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && (lower.ends_with(".png") || lower.ends_with(".jpg") || lower.ends_with(".jpeg"))
}

/// Parses and validates `expected.json` (without touching the file system).
pub fn parse_expected(bytes: &[u8]) -> Result<ExpectedSet, UpdateError> {
    let set: ExpectedSet = serde_json::from_slice(bytes).map_err(|e| UpdateError::SelfTest(format!("{EXPECTED_FILE}: {e}")))?;
    let err = |m: String| Err(UpdateError::SelfTest(format!("{EXPECTED_FILE}: {m}")));
    if set.format != SELFTEST_FORMAT {
        return err(format!("format: expected {SELFTEST_FORMAT}, found {}", clip(&set.format)));
    }
    if !(set.iou > 0.0 && set.iou <= 1.0) {
        return err(format!("iou {} is outside (0, 1]", set.iou));
    }
    if set.frames.is_empty() || set.frames.len() > MAX_FRAMES {
        return err(format!("{} frames, expected 1..={MAX_FRAMES}", set.frames.len()));
    }
    for (f, frame) in set.frames.iter().enumerate() {
        if !is_valid_image_name(&frame.image) {
            return err(format!("frames[{f}].image {} is not a plain .png/.jpg/.jpeg file name", clip(&frame.image)));
        }
        if frame.detections.len() > MAX_DETECTIONS_PER_FRAME {
            return err(format!("frames[{f}] ({}) has {} detections, limit {MAX_DETECTIONS_PER_FRAME}", frame.image, frame.detections.len()));
        }
        for (d, det) in frame.detections.iter().enumerate() {
            let at = format!("frames[{f}] ({}) detections[{d}]", frame.image);
            if det.label.is_empty() || det.label.len() > 64 {
                return err(format!("{at}.label must be 1-64 bytes"));
            }
            let [x, y, w, h] = det.bbox;
            if ![x, y, w, h].iter().all(|v| v.is_finite()) || w <= 0.0 || h <= 0.0 {
                return err(format!("{at}.box {:?} must be finite with positive width and height", det.bbox));
            }
            if !(0.0..=1.0).contains(&det.min_score) {
                return err(format!("{at}.min_score {} is outside [0, 1]", det.min_score));
            }
        }
    }
    Ok(set)
}

/// Loads `<dir>/expected.json` and checks every frame it names exists as a regular file (not a symlink)
/// directly in `dir`.
pub fn load(dir: &Path) -> Result<SelfTest, UpdateError> {
    let path = dir.join(EXPECTED_FILE);
    let mut bytes = Vec::new();
    File::open(&path)
        .and_then(|f| f.take(MAX_EXPECTED_BYTES + 1).read_to_end(&mut bytes))
        .map_err(io_at("reading", &path))?;
    if bytes.len() as u64 > MAX_EXPECTED_BYTES {
        return Err(UpdateError::SelfTest(format!("{EXPECTED_FILE} is larger than {MAX_EXPECTED_BYTES} bytes")));
    }
    let expected = parse_expected(&bytes)?;
    for frame in &expected.frames {
        let image = dir.join(&frame.image);
        match fs::symlink_metadata(&image) {
            Ok(m) if m.is_file() => {}
            Ok(_) => return Err(UpdateError::SelfTest(format!("frame {} is not a regular file", frame.image))),
            Err(_) => return Err(UpdateError::SelfTest(format!("frame {} named in {EXPECTED_FILE} is missing", frame.image))),
        }
    }
    Ok(SelfTest { dir: dir.to_path_buf(), expected })
}

/// Intersection over union of two `[x, y, w, h]` boxes (0 for degenerate boxes).
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let (ax2, ay2, bx2, by2) = (a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]);
    let iw = (ax2.min(bx2) - a[0].max(b[0])).max(0.0);
    let ih = (ay2.min(by2) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = a[2].max(0.0) * a[3].max(0.0) + b[2].max(0.0) * b[3].max(0.0) - inter;
    if union > 0.0 && inter.is_finite() {
        inter / union
    } else {
        0.0
    }
}

fn fmt_box(b: &[f32; 4]) -> String {
    format!("[{:.0},{:.0},{:.0},{:.0}]", b[0], b[1], b[2], b[3])
}

/// Checks one frame's detections against its expectations. Greedy one-to-one matching by IoU, highest
/// first; a pair qualifies when the labels are equal, the score is at least `min_score` and the IoU at
/// least `iou`. Every expected detection must be matched; with `allow_extra = false` every detection must
/// be matched too. The error names each unmatched expected detection with the best candidate seen.
pub fn check_frame(expected: &ExpectedFrame, got: &[Got], iou_threshold: f32) -> Result<(), String> {
    let mut pairs = Vec::new();
    for (e, exp) in expected.detections.iter().enumerate() {
        for (g, det) in got.iter().enumerate() {
            let overlap = iou(&exp.bbox, &det.bbox);
            if det.label == exp.label && det.score >= exp.min_score && overlap >= iou_threshold {
                pairs.push((overlap, e, g));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    let mut exp_matched = vec![false; expected.detections.len()];
    let mut got_matched = vec![false; got.len()];
    for (_, e, g) in pairs {
        if !exp_matched[e] && !got_matched[g] {
            exp_matched[e] = true;
            got_matched[g] = true;
        }
    }

    let mut problems = Vec::new();
    for (exp, _) in expected.detections.iter().zip(&exp_matched).filter(|(_, &m)| !m) {
        let wanted = format!("expected {} at {} (min_score {}) not found", exp.label, fmt_box(&exp.bbox), exp.min_score);
        // Best candidate: the same label if any, otherwise any label (a likely class-list mix-up).
        let best = |same_label: bool| {
            got.iter()
                .filter(|g| (g.label == exp.label) == same_label)
                .map(|g| (iou(&exp.bbox, &g.bbox), g))
                .max_by(|a, b| a.0.total_cmp(&b.0))
        };
        let detail = match best(true).or_else(|| best(false)) {
            Some((overlap, g)) => format!(
                "best candidate: {} at {} IoU {overlap:.2} score {:.2}",
                g.label,
                fmt_box(&g.bbox),
                g.score
            ),
            None => "no detections".to_string(),
        };
        problems.push(format!("{wanted}; {detail}"));
    }
    if !expected.allow_extra {
        let extras: Vec<String> = got
            .iter()
            .zip(&got_matched)
            .filter(|(_, &m)| !m)
            .map(|(g, _)| format!("{} at {} score {:.2}", g.label, fmt_box(&g.bbox), g.score))
            .collect();
        if !extras.is_empty() {
            let shown = extras.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            let more = if extras.len() > 5 { format!(" and {} more", extras.len() - 5) } else { String::new() };
            problems.push(format!("{} unexpected detections (allow_extra is false): {shown}{more}", extras.len()));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {}", expected.image, problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(label: &str, bbox: [f32; 4], min_score: f32) -> ExpectedDetection {
        ExpectedDetection { label: label.into(), bbox, min_score }
    }

    fn got(label: &str, bbox: [f32; 4], score: f32) -> Got {
        Got { label: label.into(), bbox, score }
    }

    fn frame(allow_extra: bool) -> ExpectedFrame {
        ExpectedFrame {
            image: "frame0.png".into(),
            detections: vec![det("person", [10.0, 10.0, 50.0, 100.0], 0.3), det("car", [200.0, 50.0, 80.0, 40.0], 0.5)],
            allow_extra,
        }
    }

    #[test]
    fn matches() {
        let g = vec![got("car", [202.0, 52.0, 80.0, 40.0], 0.9), got("person", [12.0, 8.0, 50.0, 100.0], 0.6)];
        check_frame(&frame(false), &g, 0.5).unwrap();
        let mut more = g.clone();
        more.push(got("dog", [0.0, 0.0, 5.0, 5.0], 0.9));
        check_frame(&frame(true), &more, 0.5).unwrap();
    }

    #[test]
    fn missing_detection_is_named() {
        let g = vec![got("car", [202.0, 52.0, 80.0, 40.0], 0.9), got("person", [40.0, 40.0, 50.0, 100.0], 0.9)];
        let e = check_frame(&frame(true), &g, 0.5).unwrap_err();
        assert!(e.starts_with("frame0.png: expected person at [10,10,50,100] (min_score 0.3) not found; best candidate: person"), "{e}");
        assert!(e.contains("IoU 0.16 score 0.90"), "{e}");
        // Low score is not enough either.
        let g = vec![got("car", [200.0, 50.0, 80.0, 40.0], 0.9), got("person", [10.0, 10.0, 50.0, 100.0], 0.1)];
        let e = check_frame(&frame(true), &g, 0.5).unwrap_err();
        assert!(e.contains("expected person") && e.contains("score 0.10"), "{e}");
        let e = check_frame(&frame(true), &[], 0.5).unwrap_err();
        assert!(e.contains("no detections"), "{e}");
    }

    #[test]
    fn wrong_label_fails() {
        let g = vec![got("car", [200.0, 50.0, 80.0, 40.0], 0.9), got("bicycle", [10.0, 10.0, 50.0, 100.0], 0.9)];
        let e = check_frame(&frame(true), &g, 0.5).unwrap_err();
        assert!(e.contains("expected person") && e.contains("best candidate: bicycle") && e.contains("IoU 1.00"), "{e}");
    }

    #[test]
    fn extras_rejected_when_not_allowed() {
        let g = vec![
            got("car", [200.0, 50.0, 80.0, 40.0], 0.9),
            got("person", [10.0, 10.0, 50.0, 100.0], 0.9),
            got("person", [11.0, 10.0, 50.0, 100.0], 0.8),
        ];
        let e = check_frame(&frame(false), &g, 0.5).unwrap_err();
        assert!(e.contains("1 unexpected detections (allow_extra is false): person at [11,10,50,100]"), "{e}");
        check_frame(&frame(true), &g, 0.5).unwrap();
    }

    #[test]
    fn parse_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let json = br#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"frame0.png","detections":[{"label":"person","box":[1,2,3,4],"min_score":0.3}]}]}"#;
        fs::write(dir.path().join(EXPECTED_FILE), json).unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("frame0.png") && e.contains("missing"), "{e}");
        fs::write(dir.path().join("frame0.png"), b"png").unwrap();
        let st = load(dir.path()).unwrap();
        assert!(st.expected.frames[0].allow_extra);
        assert_eq!(st.frames().next().unwrap().0, dir.path().join("frame0.png"));

        for (bad, needle) in [
            (r#"{"format":"x","iou":0.5,"frames":[]}"#, "format"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0,"frames":[]}"#, "iou"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[]}"#, "0 frames"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"../x.png","detections":[]}]}"#, "frames[0].image"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"/etc/x.png","detections":[]}]}"#, "frames[0].image"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"a.txt","detections":[]}]}"#, "frames[0].image"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"a.png","detections":[{"label":"p","box":[0,0,0,1],"min_score":0.3}]}]}"#, "detections[0].box"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"a.png","detections":[{"label":"p","box":[0,0,1,1],"min_score":2}]}]}"#, "min_score"),
            (r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[],"extra":1}"#, "unknown field `extra`"),
        ] {
            let e = parse_expected(bad.as_bytes()).unwrap_err().to_string();
            assert!(e.starts_with("selftest: ") && e.contains(needle), "{needle}: {e}");
        }
        #[cfg(unix)]
        {
            std::fs::remove_file(dir.path().join("frame0.png")).unwrap();
            std::os::unix::fs::symlink("/etc/passwd", dir.path().join("frame0.png")).unwrap();
            assert!(load(dir.path()).unwrap_err().to_string().contains("not a regular file"));
        }
    }
}
