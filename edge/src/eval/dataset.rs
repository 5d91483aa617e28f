//! Labelled datasets on disk, in the two forms road-damage data comes in:
//!
//! - **Pascal VOC** (how RDD2022 is published): `images/*.jpg` and one XML per image, matched by file stem,
//!   in `annotations/xmls/`, `annotations/` or next to the image.
//! - **YOLO** (what Ultralytics trains on): `images/…` and `labels/…/<stem>.txt` (same relative path, or
//!   directly in `labels/`), lines `class cx cy w h` normalised to 0..1, class names from `classes.txt`
//!   (or `obj.names`) or the `names:` of `data.yaml`/`dataset.yaml`, in the dataset folder or `labels/`.
//!
//! Every annotation is read and checked when the dataset is opened, so a malformed file is reported (file
//! and line) before any time is spent running a model. An image without an annotation file has no ground
//! truth: every prediction on it is a false positive.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use super::{voc, yolo, Rect};

/// Annotation files larger than this are refused: real ones are a few KB, and an unbounded read of a
/// wrong file (a video named .xml) should not exhaust memory.
pub(crate) const MAX_ANNOTATION_BYTES: u64 = 4 << 20;
/// Folder depth searched below `images/` (Ultralytics splits such as `images/train/` need one level).
const MAX_DEPTH: usize = 8;
const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// The on-disk form of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// VOC if there are XML annotations, YOLO if there is a `labels/` folder (both: an error).
    Auto,
    Voc,
    Yolo,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Voc => "voc",
            Format::Yolo => "yolo",
        }
    }
}

/// A problem with the dataset; annotation errors name the file and the line.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}", path = .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}", path = .path.display())]
    Annotation { path: PathBuf, line: usize, message: String },
    #[error("{path}: {message}", path = .path.display())]
    Layout { path: PathBuf, message: String },
}

impl DatasetError {
    pub(crate) fn at(path: &Path, line: usize, message: impl Into<String>) -> Self {
        DatasetError::Annotation { path: path.to_path_buf(), line, message: message.into() }
    }

    fn layout(path: &Path, message: impl Into<String>) -> Self {
        DatasetError::Layout { path: path.to_path_buf(), message: message.into() }
    }
}

/// One ground-truth object.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GtBox {
    pub label: String,
    pub bbox: Rect,
}

/// Ground truth as stored: VOC boxes are in pixels, YOLO boxes are fractions of the image size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Boxes {
    Pixels(Vec<GtBox>),
    Normalised(Vec<GtBox>),
}

/// One image and its ground truth.
#[derive(Debug, Clone)]
pub struct Sample {
    pub image: PathBuf,
    /// The annotation file, None when the image has none (no ground truth).
    pub annotation: Option<PathBuf>,
    pub(crate) boxes: Boxes,
    /// The image size the annotation claims (VOC `<size>`), checked against the real image.
    pub(crate) annotated_size: Option<(u32, u32)>,
}

impl Sample {
    /// A sample with boxes in pixels (tests and callers that build datasets in memory).
    pub fn new(image: PathBuf, gt: Vec<GtBox>) -> Self {
        Sample { image, annotation: None, boxes: Boxes::Pixels(gt), annotated_size: None }
    }

    /// The ground truth in pixels of an image of `width` x `height`.
    pub fn ground_truth(&self, width: u32, height: u32) -> Vec<GtBox> {
        match &self.boxes {
            Boxes::Pixels(b) => b.clone(),
            Boxes::Normalised(b) => {
                let (w, h) = (width as f32, height as f32);
                b.iter()
                    .map(|g| GtBox { label: g.label.clone(), bbox: Rect::new(g.bbox.x1 * w, g.bbox.y1 * h, g.bbox.x2 * w, g.bbox.y2 * h) })
                    .collect()
            }
        }
    }

    /// The size the annotation claims, when it claims one that differs from the real `width` x `height`
    /// (pixel boxes would then be misplaced).
    pub fn size_mismatch(&self, width: u32, height: u32) -> Option<(u32, u32)> {
        self.annotated_size.filter(|&s| s != (width, height) && s != (0, 0))
    }

    /// Number of ground-truth objects (all labels).
    pub fn objects(&self) -> usize {
        match &self.boxes {
            Boxes::Pixels(b) | Boxes::Normalised(b) => b.len(),
        }
    }
}

/// A dataset folder, read and checked.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub root: PathBuf,
    /// The format actually read (never [`Format::Auto`]).
    pub format: Format,
    /// Images in path order, each with its ground truth.
    pub samples: Vec<Sample>,
    /// Annotation files that match no image (usually a sign of mixed-up folders).
    pub unmatched_annotations: usize,
}

impl Dataset {
    /// Reads the dataset at `root` in `format` (or detects it).
    pub fn open(root: &Path, format: Format) -> Result<Dataset, DatasetError> {
        if !root.is_dir() {
            return Err(DatasetError::layout(root, "not a folder"));
        }
        let images_dir = root.join("images");
        let images = if images_dir.is_dir() { list_images(&images_dir, MAX_DEPTH)? } else { list_images(root, 0)? };
        let image_root = if images_dir.is_dir() { images_dir } else { root.to_path_buf() };
        if images.is_empty() {
            return Err(DatasetError::layout(root, "no images (.jpg, .jpeg, .png) in images/ or in the folder itself"));
        }
        let voc_dirs = voc_dirs(root);
        let labels_dir = root.join("labels");
        let format = match format {
            Format::Auto => {
                let has_voc = voc_dirs.iter().any(|d| has_xml(d)) || images.iter().any(|i| i.with_extension("xml").is_file());
                match (has_voc, labels_dir.is_dir()) {
                    (true, true) => {
                        return Err(DatasetError::layout(root, "both XML annotations and labels/: say which with --format voc|yolo"));
                    }
                    (true, false) => Format::Voc,
                    (false, true) => Format::Yolo,
                    (false, false) => {
                        return Err(DatasetError::layout(
                            root,
                            "no annotations found (annotations/xmls/*.xml, annotations/*.xml, *.xml next to the images, or \
                             labels/*.txt); use --format voc|yolo to evaluate images without ground truth",
                        ));
                    }
                }
            }
            f => f,
        };
        let (samples, unmatched) = match format {
            Format::Yolo => read_yolo(root, &image_root, &labels_dir, images)?,
            _ => read_voc(&voc_dirs, images)?,
        };
        if unmatched > 0 {
            tracing::warn!(root = %root.display(), unmatched, "annotation files that match no image");
        }
        Ok(Dataset { root: root.to_path_buf(), format, samples, unmatched_annotations: unmatched })
    }

    /// Ground-truth objects of all labels in all images.
    pub fn objects(&self) -> usize {
        self.samples.iter().map(Sample::objects).sum()
    }
}

/// Image files below `dir` (down to `depth` folders deeper), sorted. Symlinked folders are not followed.
fn list_images(dir: &Path, depth: usize) -> Result<Vec<PathBuf>, DatasetError> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, level)) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| DatasetError::Io { path: d.clone(), source })?;
        for entry in entries {
            let entry = entry.map_err(|source| DatasetError::Io { path: d.clone(), source })?;
            let path = entry.path();
            let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if hidden {
                continue;
            }
            if is_dir {
                if level < depth {
                    stack.push((path, level + 1));
                }
            } else if has_extension(&path, &IMAGE_EXTENSIONS) && path.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn has_extension(path: &Path, exts: &[&str]) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Where VOC XML files may be, in order of preference (after "next to the image").
fn voc_dirs(root: &Path) -> Vec<PathBuf> {
    [root.join("annotations").join("xmls"), root.join("annotations"), root.join("Annotations")].into_iter().filter(|d| d.is_dir()).collect()
}

fn has_xml(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|it| it.flatten().any(|e| has_extension(&e.path(), &["xml"]))).unwrap_or(false)
}

/// XML files directly in `dir`, by stem.
fn xml_by_stem(dir: &Path) -> Result<BTreeMap<String, PathBuf>, DatasetError> {
    let mut map = BTreeMap::new();
    let entries = std::fs::read_dir(dir).map_err(|source| DatasetError::Io { path: dir.to_path_buf(), source })?;
    for entry in entries.flatten() {
        let path = entry.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).map(str::to_string);
        match stem {
            Some(stem) if has_extension(&path, &["xml"]) && path.is_file() => {
                map.insert(stem, path);
            }
            _ => {}
        }
    }
    Ok(map)
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

fn read_voc(dirs: &[PathBuf], images: Vec<PathBuf>) -> Result<(Vec<Sample>, usize), DatasetError> {
    let maps = dirs.iter().map(|d| xml_by_stem(d)).collect::<Result<Vec<_>, _>>()?;
    let mut used = HashSet::new();
    let mut samples = Vec::with_capacity(images.len());
    for image in images {
        let beside = image.with_extension("xml");
        let xml = if beside.is_file() { Some(beside) } else { maps.iter().find_map(|m| m.get(&stem(&image)).cloned()) };
        let mut size = None;
        let boxes = match &xml {
            Some(path) => {
                used.insert(path.clone());
                let text = read_annotation(path)?;
                let ann = voc::parse(path, &text)?;
                size = ann.size;
                ann.objects.into_iter().map(|o| GtBox { label: o.name, bbox: o.bbox }).collect()
            }
            None => Vec::new(),
        };
        samples.push(Sample { image, annotation: xml, boxes: Boxes::Pixels(boxes), annotated_size: size });
    }
    let all: HashSet<&PathBuf> = maps.iter().flat_map(|m| m.values()).collect();
    let unmatched = all.iter().filter(|p| !used.contains(**p)).count();
    Ok((samples, unmatched))
}

fn read_yolo(root: &Path, image_root: &Path, labels: &Path, images: Vec<PathBuf>) -> Result<(Vec<Sample>, usize), DatasetError> {
    let names = yolo::find_names(root, labels)?;
    let mut samples = Vec::with_capacity(images.len());
    let mut used = 0;
    for image in images {
        let rel = image.strip_prefix(image_root).unwrap_or(&image).with_extension("txt");
        let candidates = [labels.join(&rel), labels.join(format!("{}.txt", stem(&image)))];
        let txt = candidates.into_iter().find(|p| p.is_file());
        let boxes = match &txt {
            Some(path) => {
                used += 1;
                yolo::parse_labels(path, &read_annotation(path)?, &names)?
            }
            None => Vec::new(),
        };
        samples.push(Sample { image, annotation: txt, boxes: Boxes::Normalised(boxes), annotated_size: None });
    }
    let total = count_txt(labels, MAX_DEPTH);
    Ok((samples, total.saturating_sub(used)))
}

/// Label files below `dir` (class list files excluded).
fn count_txt(dir: &Path, depth: usize) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                if depth > 0 {
                    count_txt(&p, depth - 1)
                } else {
                    0
                }
            } else {
                usize::from(has_extension(&p, &["txt"]) && p.file_name().is_some_and(|n| n != "classes.txt"))
            }
        })
        .sum()
}

/// Reads an annotation file as text (lossy UTF-8: some tools write Latin-1), bounded in size.
pub(crate) fn read_annotation(path: &Path) -> Result<String, DatasetError> {
    use std::io::Read;
    let io = |source| DatasetError::Io { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::new();
    file.take(MAX_ANNOTATION_BYTES + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > MAX_ANNOTATION_BYTES {
        return Err(DatasetError::at(path, 1, format!("larger than {} MiB: not an annotation file", MAX_ANNOTATION_BYTES >> 20)));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
