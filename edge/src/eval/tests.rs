//! Tests of the metric on hand-made cases, of the readers on good and broken files, and of a whole
//! evaluation over a dataset generated here whose score is known by construction.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::dataset::DatasetError;
use super::*;

fn r(x1: f32, y1: f32, x2: f32, y2: f32) -> Rect {
    Rect::new(x1, y1, x2, y2)
}

fn pred(label: &str, score: f32, b: Rect) -> Pred {
    Pred { label: label.into(), score, bbox: b }
}

fn gt(label: &str, b: Rect) -> GtBox {
    GtBox { label: label.into(), bbox: b }
}

fn counts(tp: u64, fp: u64, fn_: u64) -> Counts {
    Counts { tp, fp, fn_ }
}

fn score_one(preds: &[Pred], gts: &[GtBox]) -> Scorer {
    let mut s = Scorer::new(ScoreOptions::default());
    s.add_image(preds, gts);
    s
}

// ---------------------------------------------------------------------------------------------- metric

#[test]
fn iou_of_exactly_one_half_is_not_a_match() {
    let g = [gt("D00", r(0.0, 0.0, 10.0, 10.0))];
    let half = r(0.0, 0.0, 10.0, 5.0);
    assert_eq!(half.iou(&g[0].bbox), 0.5);
    assert_eq!(score_one(&[pred("D00", 0.9, half)], &g).overall(), counts(0, 1, 1));
    let above = r(0.0, 0.0, 10.0, 5.01);
    assert!(above.iou(&g[0].bbox) > 0.5);
    assert_eq!(score_one(&[pred("D00", 0.9, above)], &g).overall(), counts(1, 0, 0));
}

#[test]
fn a_label_mismatch_is_a_false_positive_and_a_false_negative() {
    let b = r(10.0, 10.0, 50.0, 50.0);
    let s = score_one(&[pred("D10", 0.9, b)], &[gt("D00", b)]);
    let per: Vec<_> = s.per_label().collect();
    assert_eq!(per[0], ("D00", counts(0, 0, 1)));
    assert_eq!(per[1], ("D10", counts(0, 1, 0)));
    assert_eq!(s.overall(), counts(0, 1, 1));
}

#[test]
fn only_the_five_best_scored_predictions_count() {
    // Seven damages, seven perfect predictions given in a scrambled score order.
    let boxes: Vec<Rect> = (0..7).map(|i| r(i as f32 * 100.0, 0.0, i as f32 * 100.0 + 50.0, 50.0)).collect();
    let gts: Vec<GtBox> = boxes.iter().map(|&b| gt("D40", b)).collect();
    let scores = [0.3, 0.9, 0.5, 0.1, 0.8, 0.7, 0.6];
    let preds: Vec<Pred> = boxes.iter().zip(scores).map(|(&b, s)| pred("D40", s, b)).collect();
    let mut s = Scorer::new(ScoreOptions::default());
    let image = s.add_image(&preds, &gts);
    assert_eq!(image, counts(5, 0, 2));
    assert_eq!(s.truncated(), 2);
    // The two dropped are the 0.3 and 0.1 ones: their damages are the missed ones.
    let kept_only: Vec<Pred> = preds.iter().filter(|p| p.score >= 0.5).cloned().collect();
    assert_eq!(score_one(&kept_only, &gts).overall(), counts(5, 0, 2));
}

#[test]
fn other_labels_do_not_use_up_the_five_slots() {
    let b = r(0.0, 0.0, 40.0, 40.0);
    let mut preds: Vec<Pred> = (0..5).map(|i| pred("D43", 0.99, r(i as f32 * 50.0 + 100.0, 0.0, i as f32 * 50.0 + 140.0, 40.0))).collect();
    preds.push(pred("D00", 0.2, b));
    let s = score_one(&preds, &[gt("D00", b), gt("Repair", b)]);
    assert_eq!(s.overall(), counts(1, 0, 0));
    assert_eq!((s.truncated(), s.ignored_predictions(), s.ignored_gt()), (0, 5, 1));
}

#[test]
fn a_duplicate_prediction_is_one_true_and_one_false_positive() {
    let b = r(10.0, 10.0, 60.0, 40.0);
    let s = score_one(&[pred("D20", 0.9, b), pred("D20", 0.8, b)], &[gt("D20", b)]);
    assert_eq!(s.overall(), counts(1, 1, 0));
}

#[test]
fn matching_is_greedy_by_score() {
    // The higher-scored prediction takes the only damage even though the other fits it better.
    let g = r(0.0, 0.0, 100.0, 100.0);
    let s = score_one(&[pred("D00", 0.5, g), pred("D00", 0.9, r(0.0, 0.0, 100.0, 60.0))], &[gt("D00", g)]);
    assert_eq!(s.overall(), counts(1, 1, 0));
}

#[test]
fn each_prediction_takes_its_best_unmatched_box() {
    let a = r(0.0, 0.0, 100.0, 100.0);
    let b = r(20.0, 0.0, 120.0, 100.0);
    // Both predictions overlap both damages; each must get one.
    let s = score_one(
        &[pred("D00", 0.9, r(18.0, 0.0, 118.0, 100.0)), pred("D00", 0.8, r(2.0, 0.0, 102.0, 100.0))],
        &[gt("D00", a), gt("D00", b)],
    );
    assert_eq!(s.overall(), counts(2, 0, 0));
}

#[test]
fn empty_images_and_undefined_ratios() {
    let s = score_one(&[], &[]);
    assert_eq!(s.overall(), counts(0, 0, 0));
    let c = s.overall();
    assert_eq!((c.precision(), c.recall(), c.f1()), (None, None, None));
    // Predictions on an image without damage are all false positives.
    let s = score_one(&[pred("D40", 0.7, r(0.0, 0.0, 5.0, 5.0))], &[]);
    assert_eq!(s.overall(), counts(0, 1, 0));
    assert_eq!((s.overall().precision(), s.overall().recall(), s.overall().f1()), (Some(0.0), None, Some(0.0)));
}

#[test]
fn non_finite_predictions_are_ignored() {
    let b = r(0.0, 0.0, 10.0, 10.0);
    let s = score_one(&[pred("D00", f32::NAN, b), pred("D00", 0.9, r(0.0, 0.0, f32::INFINITY, 10.0))], &[gt("D00", b)]);
    assert_eq!(s.overall(), counts(0, 0, 1));
    assert_eq!(s.ignored_predictions(), 2);
}

#[test]
fn f1_is_the_micro_average_over_images() {
    let b = r(0.0, 0.0, 10.0, 10.0);
    let far = r(50.0, 50.0, 60.0, 60.0);
    let mut s = Scorer::new(ScoreOptions::default());
    s.add_image(&[pred("D00", 0.9, b), pred("D00", 0.8, far)], &[gt("D00", b)]);
    s.add_image(&[pred("D10", 0.9, b)], &[gt("D10", b), gt("D10", far)]);
    s.add_image(&[pred("D20", 0.9, b)], &[gt("D20", b), gt("D40", far)]);
    let c = s.overall();
    assert_eq!(c, counts(3, 1, 2));
    assert_eq!(c.precision(), Some(0.75));
    assert_eq!(c.recall(), Some(0.6));
    let f1 = c.f1().unwrap();
    assert!((f1 - 2.0 * 0.75 * 0.6 / 1.35).abs() < 1e-12, "{f1}");
}

#[test]
fn labels_under_evaluation_are_configurable() {
    let b = r(0.0, 0.0, 10.0, 10.0);
    let opts = ScoreOptions { labels: vec!["D40".into()], ..ScoreOptions::default() };
    let mut s = Scorer::new(opts);
    s.add_image(&[pred("D00", 0.9, b), pred("D40", 0.9, b)], &[gt("D00", b), gt("D40", b)]);
    assert_eq!(s.overall(), counts(1, 0, 0));
    assert_eq!((s.ignored_predictions(), s.ignored_gt()), (1, 1));
}

// ------------------------------------------------------------------------------------------ VOC reader

const VOC_GOOD: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE annotation [ <!ENTITY x "y"> ]>
<!-- written by a labelling tool -->
<annotation verified="yes">
  <folder>images</folder>
  <filename>Japan_000042.jpg</filename>
  <size><width>600</width><height>600</height><depth>3</depth></size>
  <object>
    <name>D00</name>
    <pose>Unspecified</pose><truncated>0</truncated><difficult>0</difficult>
    <bndbox><xmin>10</xmin><ymin>20.5</ymin><xmax>110</xmax><ymax>220</ymax></bndbox>
    <part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></part>
  </object>
  <object>
    <name><![CDATA[D40]]></name>
    <bndbox>
      <xmin> 300 </xmin> <ymin>300</ymin>
      <xmax>400</xmax> <ymax>350</ymax>
    </bndbox>
    <attributes><attribute name="a" value='>'/></attributes>
  </object>
  <object><name>Block &amp; crack&#33;</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>1</xmax><ymax>1</ymax></bndbox></object>
</annotation>
"#;

fn voc(text: &str) -> Result<voc::VocAnnotation, DatasetError> {
    voc::parse(Path::new("a.xml"), text)
}

#[test]
fn voc_reads_the_rdd2022_subset_and_ignores_the_rest() {
    let a = voc(VOC_GOOD).unwrap();
    assert_eq!(a.size, Some((600, 600)));
    let got: Vec<(&str, Rect)> = a.objects.iter().map(|o| (o.name.as_str(), o.bbox)).collect();
    assert_eq!(
        got,
        vec![("D00", r(10.0, 20.5, 110.0, 220.0)), ("D40", r(300.0, 300.0, 400.0, 350.0)), ("Block & crack!", r(0.0, 0.0, 1.0, 1.0))]
    );
    assert!(voc("<annotation/>").unwrap().objects.is_empty());
}

fn voc_err(text: &str) -> (usize, String) {
    match voc(text) {
        Err(DatasetError::Annotation { line, message, .. }) => (line, message),
        other => panic!("expected an annotation error, got {other:?}"),
    }
}

#[test]
fn voc_errors_name_the_line() {
    let missing = VOC_GOOD.replace("<xmax>400</xmax>", "");
    let (line, msg) = voc_err(&missing);
    assert_eq!(line, 14, "{msg}");
    assert!(msg.contains("D40") && msg.contains("xmax"), "{msg}");

    let (line, msg) = voc_err(&VOC_GOOD.replace("<ymin>300</ymin>", "<ymin>3OO</ymin>"));
    assert_eq!(line, 17);
    assert!(msg.contains("ymin") && msg.contains("3OO"), "{msg}");

    let (line, msg) = voc_err("<annotation>\n<object>\n<name>D00</name>\n</annotation>");
    assert_eq!(line, 4);
    assert!(msg.contains("</annotation> closes <object> opened at line 2"), "{msg}");

    let (_, msg) = voc_err("<annotation>\n<object><name>D00</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>0</xmax><ymax>2</ymax></bndbox></object></annotation>");
    assert!(msg.contains("inverted"), "{msg}");
    let (line, msg) = voc_err("<annotation>\n\n<object><bndbox/></object></annotation>");
    assert_eq!(line, 3);
    assert!(msg.contains("without a <name>"), "{msg}");
    assert!(voc_err("<annotation><object><name>D00</name></object></annotation>").1.contains("without a <bndbox>"));
    assert!(voc_err("").1.contains("no XML element"));
    assert!(voc_err("just text").1.contains("no XML element"));
    assert!(voc_err("<annotation>").1.contains("never closed"));
    assert!(voc_err("<annotation><!-- oops</annotation>").1.contains("unterminated <!--"));
    assert!(voc_err("<annotation><size x=\"1></annotation>").1.contains("unterminated tag"));
    assert!(voc_err("<a></a><b></b>").1.contains("after the end of the root"));
    assert!(voc_err("</a>").1.contains("closes nothing"));
    let deep = "<a>".repeat(100) + &"</a>".repeat(100);
    assert!(voc_err(&deep).1.contains("deeper"));
}

#[test]
fn entities_are_decoded_minimally() {
    assert_eq!(voc::decode_entities("a&lt;b&gt;c&amp;d&quot;e&apos;f&#65;&#x42;"), "a<b>c&d\"e'fAB");
    assert_eq!(voc::decode_entities("R&D &unknown; & &#xZZ; &#99999999;"), "R&D &unknown; & &#xZZ; &#99999999;");
}

// ----------------------------------------------------------------------------------------- YOLO reader

fn names4() -> Vec<String> {
    ["D00", "D10", "D20", "D40"].iter().map(|s| s.to_string()).collect()
}

#[test]
fn yolo_labels_are_normalised_boxes_or_polygons() {
    let text = "# comment\n0 0.5 0.5 0.2 0.4\n\n3 0.1 0.1 0.2 0.2 # pothole\n2 0.1 0.2 0.3 0.2 0.3 0.6 0.1 0.6\n";
    let got = yolo::parse_labels(Path::new("l.txt"), text, &names4()).unwrap();
    assert_eq!(got[0], gt("D00", r(0.4, 0.3, 0.6, 0.7)));
    assert_eq!(got[1].label, "D40");
    assert_eq!(got[2], gt("D20", r(0.1, 0.2, 0.3, 0.6)));
}

fn yolo_err(text: &str) -> (usize, String) {
    match yolo::parse_labels(Path::new("l.txt"), text, &names4()) {
        Err(DatasetError::Annotation { line, message, .. }) => (line, message),
        other => panic!("expected an annotation error, got {other:?}"),
    }
}

#[test]
fn yolo_label_errors_name_the_line() {
    assert_eq!(yolo_err("0 0.5 0.5 0.1 0.1\n7 0.5 0.5 0.1 0.1").0, 2);
    assert!(yolo_err("7 0.5 0.5 0.1 0.1").1.contains("only 4 class names"));
    assert!(yolo_err("x 0.5 0.5 0.1 0.1").1.contains("not a whole number"));
    assert!(yolo_err("-1 0.5 0.5 0.1 0.1").1.contains("not a whole number"));
    assert!(yolo_err("0 0.5 0.5 0.1").1.contains("got 3 numbers"));
    assert!(yolo_err("0 0.5 0.5 0.1 nan").1.contains("not a number"));
    assert!(yolo_err("0 320 240 64 48").1.contains("not pixels"));
    assert!(yolo_err("0 0.5 0.5 -0.01 0.1").1.contains("negative"));
}

fn yaml(text: &str) -> Result<Vec<String>, DatasetError> {
    yolo::parse_yaml_names(Path::new("data.yaml"), text)
}

#[test]
fn data_yaml_names_in_every_simple_form() {
    let want = names4();
    let forms = [
        "path: .\ntrain: images\nnames: [D00, D10, 'D20', \"D40\"]  # RDD\nnc: 4\n",
        "names: [D00, D10,\n  D20, D40]\n",
        "names:\n  - D00\n  - D10 # transverse\n  - 'D20'\n  - D40\nnc: 4\n",
        "names:\n- D00\n- D10\n- D20\n- D40\n",
        "nc: 4\nnames:\n  0: D00\n  1: D10\n\n  3: D40\n  2: \"D20\"\ntrain: x\n",
        "names: {0: D00, 1: D10, 2: D20, 3: D40}\n",
    ];
    for f in forms {
        assert_eq!(yaml(f).unwrap(), want, "{f}");
    }
    for (bad, why) in [
        ("nc: 4\n", "no top-level `names:`"),
        ("names: D00\n", "must be a list"),
        ("names:\nnc: 4\n", "empty"),
        ("names:\n  0: a\n  2: c\n", "no class id 1"),
        ("names:\n  0: a\n  0: b\n", "given twice"),
        ("names:\n  x: a\n", "not a number"),
        ("names: [a, b\n", "never closed"),
    ] {
        let e = yaml(bad).unwrap_err().to_string();
        assert!(e.contains(why), "{bad:?}: {e}");
    }
}

#[test]
fn classes_txt_is_one_name_a_line() {
    let p = Path::new("classes.txt");
    assert_eq!(yolo::parse_names_list(p, "D00\nD10\r\nD20\nD40\n\n").unwrap(), names4());
    let e = yolo::parse_names_list(p, "D00\n\nD20\n").unwrap_err().to_string();
    assert!(e.contains("classes.txt:2") && e.contains("blank"), "{e}");
}

// ------------------------------------------------------------------------- datasets and whole runs

/// Patch colours of the generated roads, one per class (D00, D10, D20, D40).
const COLOURS: [[u8; 3]; 4] = [[220, 20, 20], [20, 200, 20], [20, 20, 220], [10, 10, 10]];
const ROAD: [u8; 3] = [128, 128, 128];

/// A labelled box: label, x, y, w, h.
type Labelled = (&'static str, u32, u32, u32, u32);

/// One generated image: size, painted patches (class, x, y, w, h), labelled boxes (label, x, y, w, h) or
/// None for "no annotation file".
struct Road {
    file: &'static str,
    size: (u32, u32),
    painted: Vec<(usize, u32, u32, u32, u32)>,
    labelled: Option<Vec<Labelled>>,
}

/// The dataset whose score is known by construction:
/// D00 TP 1 FP 1 FN 0; D10 TP 0 FP 2 FN 2; D20 TP 1; D40 TP 1 → TP 3, FP 3, FN 2, F1 = 6/11.
fn roads() -> Vec<Road> {
    vec![
        // Two found damages and one labelled but not painted (a miss).
        Road {
            file: "a.png",
            size: (200, 160),
            painted: vec![(0, 16, 16, 40, 32), (3, 120, 80, 32, 32)],
            labelled: Some(vec![("D00", 16, 16, 40, 32), ("D40", 120, 80, 32, 32), ("D10", 96, 16, 32, 24)]),
        },
        // A found damage, a painted one nobody labelled (false alarm), a label of another class (ignored).
        Road {
            file: "b.jpg",
            size: (200, 160),
            painted: vec![(2, 32, 64, 48, 40), (1, 128, 24, 40, 24)],
            labelled: Some(vec![("D20", 32, 64, 48, 40), ("D43", 8, 8, 8, 8)]),
        },
        // No annotation file at all: the patch is a false alarm.
        Road { file: "c.png", size: (120, 100), painted: vec![(0, 48, 48, 32, 24)], labelled: None },
        // Annotated, empty, nothing painted.
        Road { file: "d.png", size: (64, 64), painted: vec![], labelled: Some(vec![]) },
        // Painted and labelled, but 20 px apart: IoU 0.14, one false alarm and one miss.
        Road { file: "e.jpg", size: (160, 160), painted: vec![(1, 40, 40, 40, 40)], labelled: Some(vec![("D10", 60, 60, 40, 40)]) },
    ]
}

const KNOWN: [(&str, Counts); 4] = [
    ("D00", Counts { tp: 1, fp: 1, fn_: 0 }),
    ("D10", Counts { tp: 0, fp: 2, fn_: 2 }),
    ("D20", Counts { tp: 1, fp: 0, fn_: 0 }),
    ("D40", Counts { tp: 1, fp: 0, fn_: 0 }),
];

fn paint(road: &Road) -> image::RgbImage {
    let mut img = image::RgbImage::from_pixel(road.size.0, road.size.1, image::Rgb(ROAD));
    for &(c, x, y, w, h) in &road.painted {
        for yy in y..y + h {
            for xx in x..x + w {
                img.put_pixel(xx, yy, image::Rgb(COLOURS[c]));
            }
        }
    }
    img
}

fn save(img: &image::RgbImage, path: &Path) {
    if path.extension().is_some_and(|e| e == "jpg") {
        let mut out = std::fs::File::create(path).unwrap();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95).encode_image(img).unwrap();
    } else {
        img.save(path).unwrap();
    }
}

fn voc_xml(road: &Road, labels: &[Labelled]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\"?>\n<annotation>\n  <filename>{}</filename>\n  <size><width>{}</width><height>{}</height><depth>3</depth></size>\n",
        road.file, road.size.0, road.size.1
    );
    for (l, x, y, w, h) in labels {
        s += &format!(
            "  <object>\n    <name>{l}</name>\n    <difficult>0</difficult>\n    <bndbox><xmin>{x}</xmin><ymin>{y}</ymin><xmax>{}</xmax><ymax>{}</ymax></bndbox>\n  </object>\n",
            x + w,
            y + h
        );
    }
    s + "</annotation>\n"
}

const YOLO_NAMES: [&str; 5] = ["D00", "D10", "D20", "D40", "D43"];

fn yolo_txt(road: &Road, labels: &[Labelled]) -> String {
    let (iw, ih) = (road.size.0 as f64, road.size.1 as f64);
    labels
        .iter()
        .map(|&(l, x, y, w, h)| {
            let c = YOLO_NAMES.iter().position(|n| *n == l).unwrap();
            let (cx, cy) = ((x as f64 + w as f64 / 2.0) / iw, (y as f64 + h as f64 / 2.0) / ih);
            format!("{c} {cx:.6} {cy:.6} {:.6} {:.6}\n", w as f64 / iw, h as f64 / ih)
        })
        .collect()
}

/// Writes the roads as a VOC (RDD2022 layout) or YOLO dataset under `root`.
fn write_dataset(root: &Path, format: Format) {
    std::fs::create_dir_all(root.join("images")).unwrap();
    let ann = match format {
        Format::Yolo => root.join("labels"),
        _ => root.join("annotations").join("xmls"),
    };
    std::fs::create_dir_all(&ann).unwrap();
    for road in roads() {
        save(&paint(&road), &root.join("images").join(road.file));
        let Some(labels) = &road.labelled else { continue };
        let stem = Path::new(road.file).file_stem().unwrap().to_str().unwrap();
        match format {
            Format::Yolo => std::fs::write(ann.join(format!("{stem}.txt")), yolo_txt(&road, labels)).unwrap(),
            _ => std::fs::write(ann.join(format!("{stem}.xml")), voc_xml(&road, labels)).unwrap(),
        }
    }
    if format == Format::Yolo {
        std::fs::write(root.join("data.yaml"), format!("path: .\nval: images\nnames: [{}]\n", YOLO_NAMES.join(", "))).unwrap();
    }
}

/// Finds the painted patches by colour: 4-connected components of each class colour (tolerant of JPEG),
/// at least 16 pixels, boxed. What the fixture model does, without the model.
fn colour_predictor(img: &image::RgbImage) -> Result<Vec<Pred>, std::convert::Infallible> {
    let classify = |p: &image::Rgb<u8>| -> Option<usize> {
        let [r, g, b] = p.0.map(i32::from);
        if r.max(g).max(b) < 50 {
            Some(3)
        } else if r - g.max(b) > 100 {
            Some(0)
        } else if g - r.max(b) > 100 {
            Some(1)
        } else if b - r.max(g) > 100 {
            Some(2)
        } else {
            None
        }
    };
    let (w, h) = img.dimensions();
    let mut seen = vec![false; (w * h) as usize];
    let mut out = Vec::new();
    for y0 in 0..h {
        for x0 in 0..w {
            let Some(class) = classify(img.get_pixel(x0, y0)) else { continue };
            if seen[(y0 * w + x0) as usize] {
                continue;
            }
            let (mut x1, mut y1, mut x2, mut y2, mut n) = (x0, y0, x0, y0, 0);
            let mut stack = vec![(x0, y0)];
            seen[(y0 * w + x0) as usize] = true;
            while let Some((x, y)) = stack.pop() {
                n += 1;
                (x1, y1, x2, y2) = (x1.min(x), y1.min(y), x2.max(x), y2.max(y));
                let around = [(x.wrapping_sub(1), y), (x + 1, y), (x, y.wrapping_sub(1)), (x, y + 1)];
                for (nx, ny) in around {
                    if nx < w && ny < h && !seen[(ny * w + nx) as usize] && classify(img.get_pixel(nx, ny)) == Some(class) {
                        seen[(ny * w + nx) as usize] = true;
                        stack.push((nx, ny));
                    }
                }
            }
            if n >= 16 {
                let label = ["D00", "D10", "D20", "D40"][class];
                out.push(pred(label, 0.9, r(x1 as f32, y1 as f32, x2 as f32 + 1.0, y2 as f32 + 1.0)));
            }
        }
    }
    Ok(out)
}

fn check_known(report: &Report) {
    let got: Vec<(&str, Counts)> = report.classes.iter().map(|c| (c.label.as_str(), c.counts)).collect();
    assert_eq!(got, KNOWN.to_vec(), "{report}");
    assert_eq!(report.overall.counts, counts(3, 3, 2));
    assert!((report.f1() - 6.0 / 11.0).abs() < 1e-12, "{}", report.f1());
    assert_eq!(report.images, 5);
    assert_eq!(report.images_with_gt, 3);
    assert_eq!(report.ignored_gt, 1);
}

#[test]
fn a_generated_voc_dataset_scores_as_constructed() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), Format::Voc);
    let ds = Dataset::open(dir.path(), Format::Auto).unwrap();
    assert_eq!(ds.format, Format::Voc);
    assert_eq!(ds.samples.len(), 5);
    assert!(ds.samples[2].annotation.is_none(), "c.png has no annotation");
    let report = evaluate(&ds, &ScoreOptions::default(), colour_predictor).unwrap();
    check_known(&report);
    let table = report.to_string();
    assert!(table.contains("F1 0.5455") && table.contains("D10") && table.contains("(voc, 5 images, 3 with ground truth)"), "{table}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["overall"]["tp"], 3);
    assert_eq!(json["overall"]["fn"], 2);
    assert_eq!(json["classes"][1]["precision"], 0.0);
    assert_eq!(json["classes"][2]["f1"], 1.0);
    assert_eq!(json["format"], "voc");
}

#[test]
fn the_same_dataset_in_yolo_form_scores_the_same() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), Format::Yolo);
    let ds = Dataset::open(dir.path(), Format::Auto).unwrap();
    assert_eq!(ds.format, Format::Yolo);
    let report = evaluate(&ds, &ScoreOptions::default(), colour_predictor).unwrap();
    check_known(&report);
    // classes.txt works too, and wins over data.yaml.
    std::fs::write(dir.path().join("classes.txt"), YOLO_NAMES.join("\n")).unwrap();
    check_known(&evaluate(&Dataset::open(dir.path(), Format::Yolo).unwrap(), &ScoreOptions::default(), colour_predictor).unwrap());
}

#[test]
fn voc_files_are_found_next_to_images_and_in_annotations() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), Format::Voc);
    let xmls = dir.path().join("annotations").join("xmls");
    // a.xml beside its image, b.xml directly in annotations/, the rest where they were.
    std::fs::rename(xmls.join("a.xml"), dir.path().join("images").join("a.xml")).unwrap();
    std::fs::rename(xmls.join("b.xml"), dir.path().join("annotations").join("b.xml")).unwrap();
    std::fs::write(xmls.join("orphan.xml"), "<annotation/>").unwrap();
    let ds = Dataset::open(dir.path(), Format::Auto).unwrap();
    assert_eq!(ds.unmatched_annotations, 1);
    check_known(&evaluate(&ds, &ScoreOptions::default(), colour_predictor).unwrap());
}

#[test]
fn dataset_layout_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let open_err = |f| Dataset::open(root, f).unwrap_err().to_string();
    assert!(open_err(Format::Auto).contains("no images"), "{}", open_err(Format::Auto));
    std::fs::create_dir_all(root.join("images")).unwrap();
    save(&paint(&roads().remove(0)), &root.join("images").join("a.png"));
    let e = open_err(Format::Auto);
    assert!(e.contains("no annotations found") && e.contains("--format"), "{e}");
    // Told the format, images without annotations are simply images without damage.
    let ds = Dataset::open(root, Format::Voc).unwrap();
    assert_eq!(ds.objects(), 0);
    std::fs::create_dir_all(root.join("labels")).unwrap();
    let e = open_err(Format::Auto);
    assert!(e.contains("class names"), "{e}");
    std::fs::create_dir_all(root.join("annotations")).unwrap();
    std::fs::write(root.join("annotations").join("a.xml"), "<annotation>\n<object>\n</annotation>").unwrap();
    assert!(open_err(Format::Auto).contains("both XML annotations and labels/"));
    let e = open_err(Format::Voc);
    assert!(e.contains(&format!("{}:3: ", root.join("annotations").join("a.xml").display())), "{e}");
    assert!(Dataset::open(&root.join("nowhere"), Format::Auto).unwrap_err().to_string().contains("not a folder"));
}

#[test]
fn oversized_annotations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("big.xml");
    std::fs::write(&p, vec![b' '; (dataset::MAX_ANNOTATION_BYTES + 1) as usize]).unwrap();
    assert!(dataset::read_annotation(&p).unwrap_err().to_string().contains("not an annotation file"));
}

#[test]
fn model_and_image_failures_name_the_image() {
    let dir = tempfile::tempdir().unwrap();
    write_dataset(dir.path(), Format::Voc);
    let ds = Dataset::open(dir.path(), Format::Voc).unwrap();
    let e = evaluate(&ds, &ScoreOptions::default(), |_| Err::<Vec<Pred>, _>("engine on fire")).unwrap_err();
    assert!(matches!(e, EvalError::Predict { .. }));
    assert!(e.to_string().contains("a.png: the model failed: engine on fire"), "{e}");
    std::fs::write(dir.path().join("images").join("a.png"), b"not a png").unwrap();
    let e = evaluate(&ds, &ScoreOptions::default(), colour_predictor).unwrap_err();
    assert!(matches!(e, EvalError::Image { .. }) && e.to_string().contains("a.png"), "{e}");
}

#[test]
fn an_in_memory_dataset_needs_no_files_but_images() {
    let dir = tempfile::tempdir().unwrap();
    let road = roads().remove(0);
    let path: PathBuf = dir.path().join("x.png");
    save(&paint(&road), &path);
    let gts = road.labelled.unwrap().iter().map(|&(l, x, y, w, h)| gt(l, r(x as f32, y as f32, (x + w) as f32, (y + h) as f32))).collect();
    let ds = Dataset { root: dir.path().into(), format: Format::Voc, samples: vec![Sample::new(path, gts)], unmatched_annotations: 0 };
    let report = evaluate(&ds, &ScoreOptions::default(), colour_predictor).unwrap();
    assert_eq!(report.overall.counts, counts(2, 0, 1));
}

// ---------------------------------------------------------------------------------- never panics

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn voc_parser_never_panics_on_any_text(s in "\\PC*") {
        let _ = voc(&s);
    }

    #[test]
    fn voc_parser_never_panics_on_xml_like_text(parts in proptest::collection::vec(
        prop_oneof![
            proptest::sample::select(vec![
                "<annotation>", "</annotation>", "<object>", "</object>", "<name>", "</name>", "<bndbox>",
                "</bndbox>", "<xmin>", "</xmin>", "<xmax>", "</xmax>", "<size>", "<width>", "</width>", "<!--",
                "-->", "<![CDATA[", "]]>", "<?", "<!", "&", "&#x", ";", "/>", "\"", "\n",
            ]).prop_map(String::from),
            "[0-9.eE+-]{0,6}",
            "\\PC{0,4}",
        ],
        0..60,
    )) {
        let _ = voc(&parts.concat());
    }

    #[test]
    fn yolo_parsers_never_panic(s in "\\PC*", lines in proptest::collection::vec("[0-9 .eE+-]{0,24}", 0..8)) {
        let names = names4();
        let _ = yolo::parse_labels(Path::new("l.txt"), &s, &names);
        let _ = yolo::parse_labels(Path::new("l.txt"), &lines.join("\n"), &names);
        let _ = yolo::parse_yaml_names(Path::new("d.yaml"), &s);
        let _ = yolo::parse_yaml_names(Path::new("d.yaml"), &format!("names:{}", lines.join("\n ")));
        let _ = yolo::parse_names_list(Path::new("c.txt"), &s);
    }

    #[test]
    fn counts_always_add_up(
        preds in proptest::collection::vec((0usize..5, 0.0f32..1.0, 0.0f32..50.0, 0.0f32..50.0, 0.0f32..30.0, 0.0f32..30.0), 0..12),
        gts in proptest::collection::vec((0usize..5, 0.0f32..50.0, 0.0f32..50.0, 0.0f32..30.0, 0.0f32..30.0), 0..8),
    ) {
        let labels = ["D00", "D10", "D20", "D40", "D43"];
        let preds: Vec<Pred> = preds.iter().map(|&(l, s, x, y, w, h)| pred(labels[l], s, r(x, y, x + w, y + h))).collect();
        let gts: Vec<GtBox> = gts.iter().map(|&(l, x, y, w, h)| gt(labels[l], r(x, y, x + w, y + h))).collect();
        let c = score_one(&preds, &gts).overall();
        let scored_preds = preds.iter().filter(|p| p.label != "D43").count().min(5) as u64;
        let scored_gt = gts.iter().filter(|g| g.label != "D43").count() as u64;
        prop_assert_eq!(c.tp + c.fp, scored_preds);
        prop_assert_eq!(c.tp + c.fn_, scored_gt);
        if let Some(f1) = c.f1() {
            prop_assert!((0.0..=1.0).contains(&f1));
        }
    }
}
