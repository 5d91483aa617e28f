//! `kaiteki eval` end to end: the fixture road-damage model (models/fixtures/rdd_fixture_yolov8, which
//! finds flat colour patches) over a dataset generated here, through both backends and both annotation
//! formats. The score is known by construction, so any drift in preprocessing, decoding, NMS, the
//! dataset readers or the metric shows up as a wrong number.

mod support;

use std::process::Command;

use support::*;

fn eval(dataset: &std::path::Path, backend: &str) -> serde_json::Value {
    let out = Command::new(kaiteki_bin())
        .arg("eval")
        .args(["--model", &repo_path("models/fixtures/rdd_fixture_yolov8.toml")])
        .args(["--backend", backend, "--threads", "1", "--json", "--dataset"])
        .arg(dataset)
        .env("ORT_DYLIB_PATH", ort_lib())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "kaiteki eval failed: {stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn check(report: &serde_json::Value, what: &str) {
    for (i, (label, tp, fp, fn_)) in rdd_gen::EXPECTED.iter().enumerate() {
        let c = &report["classes"][i];
        assert_eq!(c["label"], *label, "{what}: {report:#}");
        assert_eq!(
            (c["tp"].as_u64(), c["fp"].as_u64(), c["fn"].as_u64()),
            (Some(*tp), Some(*fp), Some(*fn_)),
            "{what} {label}: {report:#}"
        );
    }
    assert_eq!(
        (report["overall"]["tp"].as_u64(), report["overall"]["fp"].as_u64(), report["overall"]["fn"].as_u64()),
        (Some(5), Some(3), Some(2))
    );
    let f1 = report["overall"]["f1"].as_f64().unwrap();
    assert!((f1 - rdd_gen::EXPECTED_F1).abs() < 1e-9, "{what}: F1 {f1}");
    assert_eq!(report["images"], 5);
    assert_eq!(report["ignored_gt"], 1, "the D43 box is not evaluated");
}

#[test]
fn eval_scores_the_fixture_model_as_constructed() {
    let dir = test_dir();
    let voc = dir.path().join("voc");
    let yolo = dir.path().join("yolo");
    rdd_gen::write(&voc, false);
    rdd_gen::write(&yolo, true);
    check(&eval(&voc, "tract"), "voc/tract");
    check(&eval(&yolo, "tract"), "yolo/tract");
    check(&eval(&voc, "ort"), "voc/ort");
}

#[test]
fn eval_explains_a_broken_annotation() {
    let dir = test_dir();
    rdd_gen::write(dir.path(), false);
    std::fs::write(dir.path().join("annotations/xmls/road_000.xml"), "<annotation>\n<object><name>D00</name>\n</annotation>\n").unwrap();
    let out = Command::new(kaiteki_bin())
        .args(["eval", "--model", &repo_path("models/fixtures/rdd_fixture_yolov8.toml"), "--backend", "tract", "--dataset"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("road_000.xml:3:") && stderr.contains("closes <object>"), "{stderr}");
}

mod rdd_gen {
    //! A road-damage dataset whose CRDDC score under the fixture model (models/fixtures/rdd_fixture_yolov8)
    //! is known by construction: flat colour patches on grey roads, Pascal VOC (RDD2022 layout) or YOLO.
    //! Patches keep to the fixture's guarantee (<= 30 px and >= 64 px apart in 320-px input pixels).

    use std::path::Path;

    /// D00 red, D10 green, D20 blue, D40 black.
    pub const COLOURS: [[u8; 3]; 4] = [[220, 20, 20], [20, 200, 20], [20, 20, 220], [10, 10, 10]];
    pub const NAMES: [&str; 5] = ["D00", "D10", "D20", "D40", "D43"];

    pub struct Road {
        pub file: &'static str,
        pub size: u32,
        /// (class, x, y, w, h) painted.
        pub painted: &'static [(usize, u32, u32, u32, u32)],
        /// (label, x, y, w, h) annotated; None: no annotation file.
        pub labelled: Option<&'static [(&'static str, u32, u32, u32, u32)]>,
    }

    /// Expected: D00 TP 2 FP 1 FN 0; D10 TP 0 FP 2 FN 1; D20 TP 1 FP 0 FN 1; D40 TP 2 FP 0 FN 0;
    /// overall TP 5 FP 3 FN 2, F1 = 10/15 = 2/3.
    pub const ROADS: [Road; 5] = [
        // Two found damages, one annotated but not painted (FN D10).
        Road {
            file: "road_000.png",
            size: 320,
            painted: &[(0, 40, 40, 30, 20), (3, 200, 200, 24, 24)],
            labelled: Some(&[("D00", 40, 40, 30, 20), ("D40", 200, 200, 24, 24), ("D10", 200, 40, 20, 20)]),
        },
        // JPEG. A found damage, a painted patch nobody annotated (FP D10), a label not evaluated (D43).
        Road {
            file: "road_001.jpg",
            size: 320,
            painted: &[(2, 50, 150, 30, 30), (1, 220, 60, 28, 16)],
            labelled: Some(&[("D20", 50, 150, 30, 30), ("D43", 10, 10, 20, 20)]),
        },
        // 640x640: stretched to 320 by the model's preprocessing. Two found damages.
        Road {
            file: "road_002.png",
            size: 640,
            painted: &[(3, 100, 100, 50, 50), (0, 400, 400, 60, 40)],
            labelled: Some(&[("D40", 100, 100, 50, 50), ("D00", 400, 400, 60, 40)]),
        },
        // No annotation file: the patch is a false alarm (FP D00).
        Road { file: "road_003.png", size: 320, painted: &[(0, 100, 100, 20, 20)], labelled: None },
        // Found where annotated, but the annotation says another class (FP D10, FN D20).
        Road { file: "road_004.png", size: 320, painted: &[(1, 150, 150, 30, 30)], labelled: Some(&[("D20", 150, 150, 30, 30)]) },
    ];

    /// (label, tp, fp, fn) per evaluated label.
    pub const EXPECTED: [(&str, u64, u64, u64); 4] = [("D00", 2, 1, 0), ("D10", 0, 2, 1), ("D20", 1, 0, 1), ("D40", 2, 0, 0)];
    pub const EXPECTED_F1: f64 = 2.0 / 3.0;

    fn paint(road: &Road) -> image::RgbImage {
        let mut img = image::RgbImage::from_pixel(road.size, road.size, image::Rgb([128, 128, 128]));
        for &(c, x, y, w, h) in road.painted {
            for yy in y..y + h {
                for xx in x..x + w {
                    img.put_pixel(xx, yy, image::Rgb(COLOURS[c]));
                }
            }
        }
        img
    }

    /// Writes the dataset under `root` as VOC (`yolo == false`: images/ + annotations/xmls/) or YOLO
    /// (images/ + labels/ + data.yaml).
    pub fn write(root: &Path, yolo: bool) {
        let images = root.join("images");
        let ann = if yolo { root.join("labels") } else { root.join("annotations").join("xmls") };
        std::fs::create_dir_all(&images).unwrap();
        std::fs::create_dir_all(&ann).unwrap();
        for road in &ROADS {
            let img = paint(road);
            let path = images.join(road.file);
            if road.file.ends_with(".jpg") {
                let mut f = std::fs::File::create(&path).unwrap();
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut f, 95).encode_image(&img).unwrap();
            } else {
                img.save(&path).unwrap();
            }
            let Some(labels) = road.labelled else { continue };
            let stem = road.file.split('.').next().unwrap();
            let s = road.size as f64;
            let text: String = if yolo {
                labels
                    .iter()
                    .map(|&(l, x, y, w, h)| {
                        let c = NAMES.iter().position(|n| *n == l).unwrap();
                        let (x, y, w, h) = (x as f64 / s, y as f64 / s, w as f64 / s, h as f64 / s);
                        format!("{c} {:.6} {:.6} {w:.6} {h:.6}\n", x + w / 2.0, y + h / 2.0)
                    })
                    .collect()
            } else {
                let objects: String = labels
                    .iter()
                    .map(|&(l, x, y, w, h)| {
                        format!(
                            "<object><name>{l}</name><bndbox><xmin>{x}</xmin><ymin>{y}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox></object>\n",
                            x + w,
                            y + h
                        )
                    })
                    .collect();
                format!("<annotation><filename>{}</filename><size><width>{s}</width><height>{s}</height><depth>3</depth></size>\n{objects}</annotation>\n", road.file)
            };
            let ext = if yolo { "txt" } else { "xml" };
            std::fs::write(ann.join(format!("{stem}.{ext}")), text).unwrap();
        }
        if yolo {
            std::fs::write(root.join("data.yaml"), format!("path: .\nval: images\nnames: [{}]\n", NAMES.join(", "))).unwrap();
        }
    }
}
