//! Real models on real images with the real runtimes. Needs the shared data folder and ONNX Runtime's
//! library; a missing one fails with a message saying how to get it (never a silent skip).

use std::path::PathBuf;

use kaiteki::infer::{
    load_detector, load_detector_from_manifest, BBox, BackendConfig, BackendKind, DetectParams, Detection, InferError,
    Manifest, OrtConfig, Provider,
};
use kaiteki::source::frame::FrameView;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn shared_data() -> PathBuf {
    let dir = std::env::var_os("KAITEKI_SHARED_DATA").map(PathBuf::from).unwrap_or_else(|| root().join("../../shared/data"));
    assert!(
        dir.join("models").is_dir() && dir.join("media").is_dir(),
        "shared test data not found at {} (set KAITEKI_SHARED_DATA to the folder holding models/ and media/)",
        dir.display()
    );
    dir
}

fn ort_library() -> PathBuf {
    let lib = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).unwrap_or_else(|| {
        root().join("../.deps/onnxruntime").join(std::env::consts::ARCH).join("libonnxruntime.so")
    });
    assert!(lib.is_file(), "ONNX Runtime library not found at {} (run `make deps` or scripts/fetch-onnxruntime.sh, or set ORT_DYLIB_PATH)", lib.display());
    lib
}

fn ort(providers: Vec<Provider>) -> BackendConfig {
    BackendConfig { backend: BackendKind::Ort, threads: Some(2), ort: OrtConfig { library: Some(ort_library()), providers } }
}

fn tract() -> BackendConfig {
    BackendConfig { backend: BackendKind::Tract, ..BackendConfig::default() }
}

fn centernet_manifest() -> PathBuf {
    root().join("../models/centernet_human_512.toml")
}

fn nanodet_manifest() -> Manifest {
    let model = shared_data().join("models/nanodet_human_416.onnx");
    Manifest::load_with_file(&root().join("../models/nanodet_human_416.toml"), &model)
        .unwrap_or_else(|d| panic!("nanodet manifest: {d:?}"))
}

struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn load(name: &str) -> Image {
        let path = shared_data().join("media").join(name);
        let img = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8();
        Image { width: img.width(), height: img.height(), rgb: img.into_raw() }
    }

    fn view(&self) -> FrameView<'_> {
        FrameView::new(self.width, self.height, self.width as usize * 3, &self.rgb).expect("valid frame")
    }
}

fn print(tag: &str, dets: &[Detection]) {
    for d in dets {
        let b = d.bbox;
        eprintln!("{tag}: {:>10} {:.2} [{:.0},{:.0},{:.0},{:.0}]", d.label, d.score, b.x1, b.y1, b.x2, b.y2);
    }
}

/// dog.jpg (768x576): a bicycle around x 120-570, y 120-430 and a pickup truck around x 460-690, y 70-170.
fn assert_dog_scene(tag: &str, dets: &[Detection]) {
    let bicycle = BBox::new(120.0, 120.0, 570.0, 430.0);
    let truck = BBox::new(460.0, 70.0, 690.0, 170.0);
    let found = |labels: &[&str], want: &BBox| dets.iter().any(|d| labels.contains(&&*d.label) && d.bbox.iou(want) > 0.6);
    assert!(found(&["bicycle"], &bicycle), "{tag}: no bicycle near {bicycle:?} in {dets:#?}");
    assert!(found(&["truck", "car"], &truck), "{tag}: no truck/car near {truck:?} in {dets:#?}");
    for d in dets {
        let b = d.bbox;
        assert!(b.is_finite() && b.x1 >= 0.0 && b.y1 >= 0.0 && b.x2 <= 768.0 && b.y2 <= 576.0, "{tag}: {d:?}");
    }
}

#[test]
fn centernet_on_ort_and_tract_finds_the_bicycle_and_truck_and_they_agree() {
    let img = Image::load("dog.jpg");
    let mut on_ort = load_detector(&centernet_manifest(), &ort(vec![Provider::Cpu])).expect("ort loads centernet");
    let mut on_tract = load_detector(&centernet_manifest(), &tract()).expect("tract loads centernet");
    assert_eq!(on_ort.backend_name(), "ort/cpu");
    assert_eq!(on_tract.backend_name(), "tract/cpu");
    assert!(on_ort.model_id().starts_with("centernet-coco@1.0.0+sha256:e0b6e05f"), "{}", on_ort.model_id());

    let (a, ta) = on_ort.detect(img.view(), DetectParams::default()).unwrap();
    let (b, tb) = on_tract.detect(img.view(), DetectParams::default()).unwrap();
    print("ort", &a);
    print("tract", &b);
    eprintln!("ort {ta:?}\ntract {tb:?}");
    assert_dog_scene("ort", &a);
    assert_dog_scene("tract", &b);

    assert_eq!(a.len(), b.len(), "ort and tract disagree on the number of detections");
    for d in &a {
        assert!(
            b.iter().any(|e| e.class_id == d.class_id && e.bbox.iou(&d.bbox) > 0.9 && (e.score - d.score).abs() < 0.05),
            "tract has no match for ort's {d:?}"
        );
    }
}

#[test]
fn detect_params_override_the_manifest() {
    let img = Image::load("dog.jpg");
    let mut det = load_detector(&centernet_manifest(), &ort(vec![Provider::Cpu])).unwrap();
    let (strict, _) = det.detect(img.view(), DetectParams { min_score: Some(0.99), nms_iou: None }).unwrap();
    let (loose, _) = det.detect(img.view(), DetectParams { min_score: Some(0.1), nms_iou: None }).unwrap();
    assert!(strict.len() < loose.len(), "{} !< {}", strict.len(), loose.len());
    assert!(loose.iter().all(|d| d.score >= 0.1));
    let err = det.detect(img.view(), DetectParams { min_score: Some(1.5), nms_iou: None }).unwrap_err();
    assert!(matches!(err, InferError::Params(_)), "{err}");
}

#[test]
fn nanodet_on_ort_finds_the_bicycle_and_truck() {
    let img = Image::load("dog.jpg");
    let mut det = load_detector_from_manifest(nanodet_manifest(), &ort(vec![Provider::Cpu])).expect("ort loads nanodet");
    let (dets, t) = det.detect(img.view(), DetectParams::default()).unwrap();
    print("nanodet", &dets);
    eprintln!("nanodet {t:?}");
    assert_dog_scene("nanodet", &dets);
}

#[test]
fn kite_has_people() {
    let img = Image::load("kite.jpg");
    let mut det = load_detector(&centernet_manifest(), &ort(vec![Provider::Cpu])).unwrap();
    let (dets, _) = det.detect(img.view(), DetectParams::default()).unwrap();
    let people = dets.iter().filter(|d| &*d.label == "person").count();
    assert!(people >= 3, "only {people} people in kite.jpg: {dets:#?}");
}

/// A temp dir with `model` bytes as m.onnx and the centernet manifest edited by `edit`.
fn temp_model(model: &[u8], edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.onnx"), model).unwrap();
    let text = std::fs::read_to_string(centernet_manifest()).unwrap();
    let sha = hex::encode(sha2::Sha256::digest(model));
    let text = text
        .replace("file = \"centernet_human_512.onnx\"", "file = \"m.onnx\"")
        .replace("e0b6e05fcdb1f99022ac582134566a1c16ec18d3dd6273473f51d3182be5fe47", &sha);
    let path = dir.path().join("m.toml");
    std::fs::write(&path, edit(text)).unwrap();
    (dir, path)
}

#[test]
fn a_file_that_is_not_onnx_is_an_error_not_a_panic() {
    let (_dir, manifest) = temp_model(b"GIF89a definitely not a protobuf graph \x00\xff\x13", |t| t);
    for cfg in [ort(vec![Provider::Cpu]), tract()] {
        let err = load_detector(&manifest, &cfg).err().expect("garbage must not load");
        eprintln!("{:?}: {err}", cfg.backend);
        assert!(matches!(err, InferError::ModelLoad { .. }), "{err}");
    }
}

#[test]
fn a_lying_manifest_is_rejected_naming_the_difference() {
    let real = std::fs::read(root().join("../models/centernet_human_512.onnx")).unwrap();
    let (_dir, manifest) = temp_model(&real, |t| {
        t.replace("name = \"tower_0/images:0\"", "name = \"images\"").replace("width = 512", "width = 416")
    });
    for cfg in [ort(vec![Provider::Cpu]), tract()] {
        let err = load_detector(&manifest, &cfg).err().expect("lying manifest must not load");
        let msg = err.to_string();
        eprintln!("{:?}: {msg}", cfg.backend);
        assert!(matches!(err, InferError::ModelMismatch { .. }), "{msg}");
        assert!(msg.contains("model input is \"tower_0/images:0\""), "{msg}");
        assert!(msg.contains("manifest says \"images\" NHWC 416x512"), "{msg}");
    }
    // Right input, but the output is not what the decoder reads (YOLOv8 needs [1,4+80,N]).
    let (_dir, manifest) = temp_model(&real, |t| {
        t.replace("decoder = \"end_to_end\"\ntensor = \"tower_0/detections\"\nbox_format = \"xyxy\"\ncoords = \"input_pixels\"", "decoder = \"yolov8\"")
    });
    let msg = load_detector(&manifest, &ort(vec![Provider::Cpu])).err().expect("wrong decoder must not load").to_string();
    assert!(msg.contains("yolov8 expects an output [1,84,N]") && msg.contains("tower_0/detections"), "{msg}");
}

#[test]
fn a_gpu_provider_that_cannot_run_fails_loudly() {
    // The test library is a CPU build: CUDA alone must fail, not quietly run on the CPU.
    let err = load_detector(&centernet_manifest(), &ort(vec![Provider::Cuda { device_id: 0 }])).err().expect("no CUDA here");
    let msg = err.to_string();
    eprintln!("{msg}");
    assert!(matches!(err, InferError::Provider { .. }), "{msg}");
    assert!(msg.contains("cuda"), "{msg}");
    // A deliberate fallback later in the list is fine and is reported as what really runs.
    let det = load_detector(
        &centernet_manifest(),
        &ort(vec![Provider::TensorRt { device_id: 0, engine_cache: None, fp16: true }, Provider::Cuda { device_id: 0 }, Provider::Cpu]),
    )
    .unwrap();
    assert_eq!(det.backend_name(), "ort/cpu");
}

#[test]
fn a_missing_manifest_model_file_is_a_located_manifest_error() {
    let (dir, manifest) = temp_model(b"x", |t| t);
    std::fs::remove_file(dir.path().join("m.onnx")).unwrap();
    let err = load_detector(&manifest, &tract()).err().unwrap();
    eprintln!("{err}");
    assert!(matches!(&err, InferError::Manifest(d) if d[0].place.is_some()), "{err}");
}
