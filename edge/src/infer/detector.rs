//! The one [`Detector`] implementation: manifest + engine + preprocessing + decoding.

use std::time::Instant;

use super::backend::{self, Backend, OwnedTensor};
use super::config::BackendConfig;
use super::decode::{Candidate, DecodePlan, TensorView};
use super::detection::Detection;
use super::manifest::Manifest;
use super::nms::{nms, top_n};
use super::preprocess::Preprocessor;
use super::{DetectParams, Detector, InferError, StageTimes};
use crate::source::frame::FrameView;

/// Raw candidates kept for NMS (the best ones), bounding its quadratic cost on noisy frames.
const MAX_NMS_INPUT: usize = 10_000;

pub(crate) struct ModelDetector {
    manifest: Manifest,
    model_id: String,
    backend: Box<dyn Backend>,
    plan: DecodePlan,
    pre: Preprocessor,
    // Buffers reused from frame to frame.
    input: Vec<f32>,
    outputs: Vec<OwnedTensor>,
    candidates: Vec<Candidate>,
}

impl ModelDetector {
    pub(crate) fn load(manifest: Manifest, cfg: &BackendConfig) -> Result<Self, InferError> {
        let (backend, plan) = backend::open(&manifest, cfg)?;
        Ok(Self {
            model_id: manifest.model_id(),
            pre: Preprocessor::new(&manifest.input),
            manifest,
            backend,
            plan,
            input: Vec::new(),
            outputs: Vec::new(),
            candidates: Vec::new(),
        })
    }
}

fn check_fraction(what: &str, v: f32) -> Result<f32, InferError> {
    if v > 0.0 && v <= 1.0 {
        Ok(v)
    } else {
        Err(InferError::Params(format!("{what} must be in (0, 1], got {v}")))
    }
}

impl Detector for ModelDetector {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn backend_name(&self) -> &str {
        self.backend.name()
    }

    fn detect(&mut self, frame: FrameView<'_>, params: DetectParams) -> Result<(Vec<Detection>, StageTimes), InferError> {
        let min_score = check_fraction("min_score", params.min_score.unwrap_or(self.manifest.thresholds.score))?;
        let nms_iou = check_fraction("nms_iou", params.nms_iou.unwrap_or(self.manifest.thresholds.nms_iou))?;

        let t0 = Instant::now();
        let transform = self.pre.run(frame, &mut self.input);
        let t1 = Instant::now();
        self.backend.run(&self.input, &mut self.outputs)?;
        let t2 = Instant::now();

        let views = self
            .outputs
            .iter()
            .map(|t| TensorView::new(&t.shape, &t.data))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| InferError::Inference("an output's data does not match its shape".into()))?;
        self.candidates.clear();
        self.plan.decode(&views, min_score, &mut self.candidates)?;

        let (fw, fh) = (frame.width as f32, frame.height as f32);
        let in_frame: Vec<Candidate> = self
            .candidates
            .iter()
            .filter_map(|c| {
                let bbox = transform.to_frame(c.bbox).clamp(fw, fh);
                // Boxes that lie entirely in letterbox padding collapse to nothing here.
                (bbox.is_finite() && bbox.width() > 0.0 && bbox.height() > 0.0).then_some(Candidate { bbox, ..*c })
            })
            .collect();
        let kept = nms(top_n(in_frame, MAX_NMS_INPUT), nms_iou, self.manifest.output.max_detections);
        let classes = &self.manifest.classes;
        let detections = kept
            .into_iter()
            .filter_map(|c| {
                let label = classes.get(c.class as usize)?.clone();
                Some(Detection { class_id: c.class, label, score: c.score, bbox: c.bbox })
            })
            .collect();
        let t3 = Instant::now();
        Ok((detections, StageTimes { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 }))
    }
}
