//! `kaiteki eval --model MANIFEST --dataset DIR`: the CRDDC'2022 score (F1, IoU > 0.5, at most 5
//! predictions per image) of a road-damage model over a labelled dataset (RDD2022 Pascal VOC or YOLO
//! txt). Prints a table, or the report as JSON with `--json`; see `kaiteki::eval` for the exact rules.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use kaiteki::eval::{evaluate, Dataset, Format, Pred, Rect, ScoreOptions};
use kaiteki::source::FrameView;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Model, backend and `--min-score` (the F1 depends on the threshold: try a few).
    #[command(flatten)]
    model: super::model_args::ModelArgs,
    /// Dataset folder: images/ with annotations/xmls/ (RDD2022, Pascal VOC) or labels/ (YOLO).
    #[arg(long)]
    dataset: PathBuf,
    /// Annotation format (auto: VOC if there are XML files, YOLO if there is a labels/ folder).
    #[arg(long, value_enum, default_value = "auto")]
    format: FormatArg,
    /// Labels under evaluation (others are ignored in predictions and ground truth).
    #[arg(long, value_delimiter = ',', default_value = "D00,D10,D20,D40")]
    labels: Vec<String>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Auto,
    Voc,
    Yolo,
}

pub fn eval(a: EvalArgs) -> anyhow::Result<ExitCode> {
    let params = a.model.params()?;
    let labels: Vec<String> = a.labels.iter().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    if labels.is_empty() {
        bail!("--labels: give at least one label, e.g. D00,D10,D20,D40");
    }
    let format = match a.format {
        FormatArg::Auto => Format::Auto,
        FormatArg::Voc => Format::Voc,
        FormatArg::Yolo => Format::Yolo,
    };
    // The dataset first: a broken annotation should not wait for a model to load.
    let dataset = Dataset::open(&a.dataset, format).context("cannot read the dataset")?;
    let mut detector = a.model.load()?;
    eprintln!(
        "model {} on {}; dataset {} ({}, {} images, {} objects)",
        detector.model_id(),
        detector.backend_name(),
        dataset.root.display(),
        dataset.format.name(),
        dataset.samples.len(),
        dataset.objects()
    );
    let classes = &detector.manifest().classes;
    let unknown: Vec<&str> = labels.iter().filter(|l| !classes.iter().any(|c| &**c == l.as_str())).map(String::as_str).collect();
    if !unknown.is_empty() {
        eprintln!("warning: the model has no class {unknown:?}: those labels can only be missed");
    }

    let options = ScoreOptions { labels, ..ScoreOptions::default() };
    let model_id = detector.model_id().to_string();
    let backend = detector.backend_name().to_string();
    let mut report = evaluate(&dataset, &options, |img: &image::RgbImage| -> anyhow::Result<Vec<Pred>> {
        let (w, h) = img.dimensions();
        let view = FrameView::new(w, h, w as usize * 3, img.as_raw()).context("image has no pixels")?;
        let (dets, _) = detector.detect(view, params)?;
        Ok(dets
            .into_iter()
            .map(|d| Pred { label: d.label.to_string(), score: d.score, bbox: Rect::new(d.bbox.x1, d.bbox.y1, d.bbox.x2, d.bbox.y2) })
            .collect())
    })?;
    report.model = Some(model_id);
    report.backend = Some(backend);

    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
