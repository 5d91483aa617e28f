//! The redactor with scripted detectors: what is destroyed, fail-closed behaviour, size bounds.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::infer::{InferError, Manifest, StageTimes};

/// A detector that returns fixed boxes (frame pixels) or fails, with a real (parsed) manifest.
pub(crate) struct Scripted {
    manifest: Manifest,
    id: String,
    boxes: Vec<(u32, BBox)>,
    fail: bool,
    /// Address and stride of the whole frame's buffer, to tell where a window view lies in it.
    base: (usize, usize),
}

impl Scripted {
    pub(crate) fn new(dir: &Path, name: &str, classes: &[&str], boxes: Vec<(u32, BBox)>, fail: bool) -> Box<Self> {
        let model = dir.join(format!("{name}.onnx"));
        std::fs::write(&model, name.as_bytes()).unwrap();
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(name.as_bytes()));
        let names = classes.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(", ");
        let text = format!(
            "name = \"{name}\"\nversion = \"0\"\nfile = \"{name}.onnx\"\nsha256 = \"{sha}\"\n\
             [input]\nname = \"in\"\nlayout = \"nhwc\"\nwidth = 128\nheight = 128\ncolour = \"rgb\"\n\
             [output]\ndecoder = \"yolov8\"\n[thresholds]\nscore = 0.5\nnms_iou = 0.5\n[classes]\nnames = [{names}]\n"
        );
        let manifest = Manifest::parse(&dir.join(format!("{name}.toml")), &text, None).unwrap();
        Box::new(Self { id: manifest.model_id(), manifest, boxes, fail, base: (0, 0) })
    }

    /// Boxes are given in pixels of the frame backed by `data` (row stride `stride`).
    pub(crate) fn over(mut self: Box<Self>, data: &[u8], stride: usize) -> Box<Self> {
        self.base = (data.as_ptr() as usize, stride);
        self
    }
}

impl Detector for Scripted {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    fn model_id(&self) -> &str {
        &self.id
    }
    fn backend_name(&self) -> &str {
        "scripted"
    }
    fn detect(&mut self, frame: FrameView<'_>, params: DetectParams) -> Result<(Vec<Detection>, StageTimes), InferError> {
        if self.fail {
            return Err(InferError::Inference("scripted failure".into()));
        }
        // Only boxes wholly inside this view, in its coordinates: like a real detector looking at a window.
        let offset = (frame.data.as_ptr() as usize).saturating_sub(self.base.0);
        let stride = self.base.1.max(1);
        let (x0, y0) = (((offset % stride) / 3) as f32, (offset / stride) as f32);
        let (x1, y1) = (x0 + frame.width as f32, y0 + frame.height as f32);
        let min = params.min_score.unwrap_or(0.5);
        let dets = self
            .boxes
            .iter()
            .filter(|(_, b)| b.x1 >= x0 && b.y1 >= y0 && b.x2 <= x1 && b.y2 <= y1 && min <= 0.9)
            .map(|&(class, b)| Detection {
                class_id: class,
                label: self.manifest.classes[class as usize].clone(),
                score: 0.9,
                bbox: BBox::new(b.x1 - x0, b.y1 - y0, b.x2 - x0, b.y2 - y0),
            })
            .collect();
        Ok((dets, StageTimes::default()))
    }
}

const COCO6: [&str; 8] = ["person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck"];

fn noise(w: u32, h: u32) -> Vec<u8> {
    let mut x = 0x9E37_79B9u32;
    (0..w * h * 3)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 3) as u8
        })
        .collect()
}

fn redactor(
    dir: &Path,
    frame: FrameView<'_>,
    objects: Vec<(u32, BBox)>,
    faces: Vec<(u32, BBox)>,
    fail: (bool, bool),
    opts: RedactOptions,
) -> Redactor {
    let o = Scripted::new(dir, "objects", &COCO6, objects, fail.0).over(frame.data, frame.stride);
    let f = Scripted::new(dir, "faces", &["face"], faces, fail.1).over(frame.data, frame.stride);
    Redactor::new(o, f, opts).unwrap()
}

#[test]
fn fails_closed_when_either_detector_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = noise(320, 240);
    let frame = FrameView::new(320, 240, 960, &data).unwrap();
    for (fail, stage) in [((true, false), "object"), ((false, true), "face")] {
        let mut r = redactor(dir.path(), frame, vec![], vec![], fail, RedactOptions::default());
        match r.redact(frame) {
            Err(RedactError::Detector { stage: s, .. }) => assert_eq!(s, stage),
            other => panic!("{stage} failure must yield no image, got {other:?}"),
        }
    }
}

#[test]
fn found_regions_are_destroyed_with_margins_and_reported_in_output_pixels() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (640u32, 480u32);
    let data = noise(w, h);
    let frame = FrameView::new(w, h, w as usize * 3, &data).unwrap();
    let person = BBox::new(100.0, 100.0, 200.0, 300.0);
    let dog = BBox::new(400.0, 300.0, 500.0, 400.0); // class 4 "airplane" here: not in the redacted classes
    let face = BBox::new(20.0, 20.0, 60.0, 60.0);
    let opts = RedactOptions { max_side: 320, ..RedactOptions::default() };
    let mut r = redactor(dir.path(), frame, vec![(0, person), (4, dog)], vec![(0, face)], (false, false), opts);
    let img = r.redact(frame).unwrap();
    assert_eq!((img.width(), img.height()), (320, 240));
    assert!(img.jpeg().len() <= 200_000 && img.jpeg().starts_with(&[0xFF, 0xD8, 0xFF]));
    let info = img.info();
    assert_eq!((info.source_width, info.source_height), (640, 480));
    assert!(info.redactor.starts_with(REDACTOR_VERSION), "{}", info.redactor);
    assert!(info.object_model.starts_with("objects@0+sha256:") && info.face_model.starts_with("faces@0+sha256:"));

    // Person grown by 15 % (15 px, 30 px) then halved; the face (found in several windows, merged) by 30 %.
    let person_out = info.regions.iter().find(|r| r.kind == RegionKind::Object).unwrap();
    assert_eq!(person_out.label, "person");
    assert_eq!(person_out.bbox, BBox::new(42.5, 35.0, 107.5, 165.0));
    let faces: Vec<_> = info.regions.iter().filter(|r| r.kind == RegionKind::Face).collect();
    assert_eq!(faces.len(), 1, "{:?}", info.regions);
    assert_eq!(faces[0].bbox, BBox::new(4.0, 4.0, 36.0, 36.0));
    assert_eq!(info.regions.len(), 2, "the airplane-class box is not redacted");

    // Decoded: both regions are flat grey (JPEG noise aside), the rest is still noise.
    let dec = image::load_from_memory(img.jpeg()).unwrap().to_rgb8();
    // Points inside regions away from their edges' 16-px JPEG blocks (no ringing).
    let grey = |x: u32, y: u32| dec.get_pixel(x, y).0.iter().all(|&v| (v as i32 - 128).abs() <= 6);
    for (x, y) in [(56, 56), (72, 100), (88, 140), (20, 20), (24, 24)] {
        assert!(grey(x, y), "({x},{y}) not filled: {:?}", dec.get_pixel(x, y));
    }
    let not_grey = [(250, 100), (300, 200), (225, 175)].iter().filter(|&&(x, y)| !grey(x, y)).count();
    assert_eq!(not_grey, 3);
}

#[test]
fn pixelate_applies_to_objects_but_faces_are_still_filled() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (320u32, 240u32);
    let data = noise(w, h);
    let frame = FrameView::new(w, h, w as usize * 3, &data).unwrap();
    let person = BBox::new(40.0, 40.0, 200.0, 220.0);
    let face = BBox::new(100.0, 50.0, 130.0, 80.0);
    let opts = RedactOptions { method: Method::Pixelate, max_bytes: 500_000, ..RedactOptions::default() };
    let mut r = redactor(dir.path(), frame, vec![(0, person)], vec![(0, face)], (false, false), opts);
    let img = r.redact(frame).unwrap();
    assert!(r.id().contains("objects:pixelate"));
    let dec = image::load_from_memory(img.jpeg()).unwrap().to_rgb8();
    // Inside the face: grey. Inside the body, away from the face: quantised block colours (levels 16+32k).
    assert!(dec.get_pixel(115, 65).0.iter().all(|&v| (v as i32 - 128).abs() <= 6));
    // (72,168) is inside the 35-px block [51,86)x[153,188) and its JPEG block.
    let px = dec.get_pixel(72, 168).0;
    assert!(px.iter().all(|&v| ((v as i32 - 16) % 32).abs() <= 6 || ((v as i32 - 16) % 32) >= 26), "{px:?}");
}

#[test]
fn a_huge_noisy_frame_is_bounded_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (4000u32, 3000u32);
    let data = noise(w, h);
    let frame = FrameView::new(w, h, w as usize * 3, &data).unwrap();
    // Downscaled to 1280x960 first, then the quality is lowered until it fits 200 kB.
    let mut r = redactor(dir.path(), frame, vec![], vec![], (false, false), RedactOptions::default());
    let img = r.redact(frame).unwrap();
    assert_eq!((img.width(), img.height()), (1280, 960));
    assert!(img.jpeg().len() <= 200_000 && img.info().quality < QUALITIES[0], "{:?}", img);
    // A bound it cannot meet even at the lowest quality: refused, never a larger image.
    let opts = RedactOptions { max_bytes: 20_000, ..RedactOptions::default() };
    let mut r = redactor(dir.path(), frame, vec![], vec![], (false, false), opts);
    match r.redact(frame) {
        Err(RedactError::TooLarge { max_bytes: 20_000, smallest, width: 1280, height: 960 }) => assert!(smallest > 20_000),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    let opts = RedactOptions { max_bytes: 1_000_000, max_side: 640, ..RedactOptions::default() };
    let mut r = redactor(dir.path(), frame, vec![], vec![], (false, false), opts);
    let img = r.redact(frame).unwrap();
    assert_eq!((img.width(), img.height()), (640, 480));
    assert!(img.jpeg().len() <= 1_000_000);
}

#[test]
fn options_are_checked_against_the_models() {
    let dir = tempfile::tempdir().unwrap();
    let o = Scripted::new(dir.path(), "objects", &COCO6, vec![], false);
    let f = Scripted::new(dir.path(), "faces", &["face"], vec![], false);
    let opts = RedactOptions {
        object_classes: vec!["person".into(), "pedestrian".into()],
        margin: -0.1,
        object_min_score: 0.0,
        max_bytes: 10,
        ..RedactOptions::default()
    };
    let err = Redactor::new(o, f, opts).unwrap_err().to_string();
    for want in ["no class \"pedestrian\"", "margin must be in [0, 2]", "object_min_score must be in (0, 1]", "max_bytes"] {
        assert!(err.contains(want), "{want:?} missing in {err}");
    }
    assert!(RedactOptions::default().problems().is_empty());
    let nan = RedactOptions { face_margin: f32::NAN, ..RedactOptions::default() };
    assert_eq!(nan.problems().len(), 1);
}

#[test]
fn grown_rect_clamps_and_rounds_outwards() {
    assert_eq!(grown_rect(&BBox::new(10.2, 10.7, 20.1, 20.0), 0.0, 100, 100), Some(Rect { x1: 10, y1: 10, x2: 21, y2: 20 }));
    assert_eq!(grown_rect(&BBox::new(-50.0, 90.0, 10.0, 200.0), 0.5, 100, 100), Some(Rect { x1: 0, y1: 35, x2: 40, y2: 100 }));
    assert_eq!(grown_rect(&BBox::new(200.0, 200.0, 300.0, 300.0), 0.1, 100, 100), None);
    assert_eq!(grown_rect(&BBox::new(f32::NAN, 0.0, 1.0, 1.0), 0.1, 100, 100), None);
    let _ = Arc::<str>::from("keep imports honest");
}

/// A real redacted image of a `w`×`h` gradient (for tests of its consumers).
pub(crate) fn sample_image(w: u32, h: u32) -> RedactedImage {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = (0..w * h * 3).map(|i| (i % 251) as u8).collect();
    let frame = FrameView::new(w, h, w as usize * 3, &data).unwrap();
    redactor(dir.path(), frame, vec![], vec![], (false, false), RedactOptions::default()).redact(frame).unwrap()
}

/// An object detector that finds nothing on the raw frame and, on any other image (the encoded output
/// the redactor checks), a person at `at` (output pixels), moved `step` px right on every call: what a
/// pattern created by the redaction itself looks like to the redactor's own check.
struct AppearsOnOutput {
    inner: Box<Scripted>,
    raw: std::ops::Range<usize>,
    at: BBox,
    step: f32,
    calls: u32,
}

impl Detector for AppearsOnOutput {
    fn manifest(&self) -> &Manifest {
        self.inner.manifest()
    }
    fn model_id(&self) -> &str {
        self.inner.model_id()
    }
    fn backend_name(&self) -> &str {
        "scripted"
    }
    fn detect(&mut self, frame: FrameView<'_>, _: DetectParams) -> Result<(Vec<Detection>, StageTimes), InferError> {
        if self.raw.contains(&(frame.data.as_ptr() as usize)) {
            return Ok((Vec::new(), StageTimes::default()));
        }
        let dx = self.step * self.calls as f32;
        self.calls += 1;
        let b = BBox::new(self.at.x1 + dx, self.at.y1, self.at.x2 + dx, self.at.y2);
        Ok((vec![Detection { class_id: 0, label: Arc::from("person"), score: 0.9, bbox: b }], StageTimes::default()))
    }
}

fn appears_on_output(dir: &Path, data: &[u8], step: f32) -> Box<AppearsOnOutput> {
    let inner = Scripted::new(dir, "objects", &COCO6, vec![], false);
    let raw = data.as_ptr() as usize..data.as_ptr() as usize + data.len();
    Box::new(AppearsOnOutput { inner, raw, at: BBox::new(200.0, 40.0, 240.0, 120.0), step, calls: 0 })
}

#[test]
fn what_the_check_finds_on_the_encoded_image_is_destroyed_too() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (640u32, 480u32);
    let data = noise(w, h);
    let frame = FrameView::new(w, h, w as usize * 3, &data).unwrap();
    let faces = Scripted::new(dir.path(), "faces", &["face"], vec![], false).over(&data, w as usize * 3);
    // Output at half size: the check's box (output pixels) must come back to frame pixels.
    let opts = RedactOptions { max_side: 320, ..RedactOptions::default() };
    let mut r = Redactor::new(appears_on_output(dir.path(), &data, 0.0), faces, opts).unwrap();
    let img = r.redact(frame).unwrap();
    assert_eq!(r.last_times().verify_rounds, 1);
    let regions = img.regions();
    assert_eq!(regions.len(), 1, "{regions:?}");
    // The person grown by 15 % in frame pixels (400..480 → 388..492 wide, 80..240 → 56..264), then halved.
    assert_eq!(regions[0].bbox, BBox::new(194.0, 28.0, 246.0, 132.0));
    let label = read_label(img.jpeg()).expect("labelled");
    assert!(label.covers(220.0, 80.0));
    let dec = image::load_from_memory(img.jpeg()).unwrap().to_rgb8();
    assert!(dec.get_pixel(220, 80).0.iter().all(|&v| (v as i32 - 128).abs() <= 6), "not filled: {:?}", dec.get_pixel(220, 80));
}

#[test]
fn an_output_that_keeps_failing_the_check_is_not_produced() {
    let dir = tempfile::tempdir().unwrap();
    let data = noise(320, 240);
    let frame = FrameView::new(320, 240, 960, &data).unwrap();
    let faces = Scripted::new(dir.path(), "faces", &["face"], vec![], false).over(&data, 960);
    // Every check finds a person somewhere new.
    let mut r = Redactor::new(appears_on_output(dir.path(), &data, 60.0), faces, RedactOptions::default()).unwrap();
    match r.redact(frame) {
        Err(RedactError::Unverified { found: 1, rounds }) => assert_eq!(rounds, VERIFY_ROUNDS),
        other => panic!("expected no image, got {other:?}"),
    }
}
