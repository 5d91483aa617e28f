//! Models that output final rows `[x1,y1,x2,y2,score,class]` (CenterNet here, RT-DETR/YOLOv10-style exports).

use super::{dim_may_be, pick_one, push, shape_str, Candidate, TensorView};
use crate::infer::detection::BBox;
use crate::infer::manifest::{BoxFormat, Coords, InputSpec};
use crate::infer::signature::TensorInfo;

#[derive(Debug, Clone)]
pub struct EndToEnd {
    pub box_format: BoxFormat,
    /// Multipliers from the output's units to input pixels.
    pub unit: (f32, f32),
    pub classes: usize,
}

const EXPECTATION: &str = "[1,N,6] or [N,6] rows (x1,y1,x2,y2,score,class)";

impl EndToEnd {
    pub fn plan(
        tensor: Option<&str>,
        box_format: BoxFormat,
        coords: Coords,
        input: &InputSpec,
        classes: usize,
        outputs: &[TensorInfo],
    ) -> Result<(Self, String), String> {
        let fits = |o: &TensorInfo| match o.shape.as_slice() {
            [b, _, k] => dim_may_be(*b, 1) && k.is_none_or(|k| k >= 6),
            [_, k] => k.is_none_or(|k| k >= 6),
            _ => false,
        };
        let o = pick_one("end_to_end", tensor, outputs, fits, EXPECTATION)?;
        let unit = match coords {
            Coords::InputPixels => (1.0, 1.0),
            Coords::Normalised => (input.width as f32, input.height as f32),
        };
        Ok((Self { box_format, unit, classes }, o.name.clone()))
    }

    pub fn decode(&self, t: TensorView<'_>, min_score: f32, out: &mut Vec<Candidate>) -> Result<(), String> {
        let k = match t.shape {
            [1, _, k] | [_, k] if *k >= 6 => *k,
            _ => return Err(format!("expected {EXPECTATION}, got {}", shape_str(t.shape))),
        };
        let mut foreign = 0usize;
        for r in t.data.chunks_exact(k) {
            let score = r[4];
            if !(score >= min_score) {
                continue;
            }
            let class = r[5];
            if !(class >= 0.0 && (class as usize) < self.classes) || class.fract() != 0.0 {
                foreign += 1;
                continue;
            }
            let (a, b, c, d) = (r[0] * self.unit.0, r[1] * self.unit.1, r[2] * self.unit.0, r[3] * self.unit.1);
            let bbox = match self.box_format {
                BoxFormat::Xyxy => BBox::new(a, b, c, d),
                BoxFormat::Cxcywh => BBox::new(a - c / 2.0, b - d / 2.0, a + c / 2.0, b + d / 2.0),
            };
            push(out, class as u32, score, bbox);
        }
        if foreign > 0 {
            // A class index beyond the manifest's list means the class list does not belong to this model.
            tracing::warn!(rows = foreign, classes = self.classes, "end_to_end rows with a class index outside the manifest's class list were dropped");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::manifest::{ColourOrder, Layout, Resize};

    fn input() -> InputSpec {
        InputSpec {
            name: "in".into(),
            layout: Layout::Nhwc,
            width: 100,
            height: 50,
            colour: ColourOrder::Rgb,
            resize: Resize::Stretch,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn decodes_rows_and_filters_scores_and_classes() {
        let d = EndToEnd { box_format: BoxFormat::Xyxy, unit: (1.0, 1.0), classes: 3 };
        #[rustfmt::skip]
        let data = [
            10.0, 20.0, 30.0, 40.0, 0.9, 2.0,
            1.0, 1.0, 2.0, 2.0, 0.1, 0.0,      // low score
            1.0, 1.0, 2.0, 2.0, 0.9, 7.0,      // class outside the list
            5.0, 5.0, 5.0, 9.0, 0.9, 0.0,      // empty box
            f32::NAN, 1.0, 2.0, 2.0, 0.9, 0.0, // not finite
        ];
        let shape = [1, 5, 6];
        let mut out = Vec::new();
        d.decode(TensorView::new(&shape, &data).unwrap(), 0.5, &mut out).unwrap();
        assert_eq!(out, vec![Candidate { class: 2, score: 0.9, bbox: BBox::new(10.0, 20.0, 30.0, 40.0) }]);
    }

    #[test]
    fn normalised_centre_boxes() {
        let outputs = [TensorInfo::new("dets", vec![None, Some(6)])];
        let (d, name) = EndToEnd::plan(None, BoxFormat::Cxcywh, Coords::Normalised, &input(), 2, &outputs).unwrap();
        assert_eq!(name, "dets");
        let data = [0.5, 0.5, 0.2, 0.4, 0.8, 1.0];
        let mut out = Vec::new();
        d.decode(TensorView::new(&[1, 6], &data).unwrap(), 0.5, &mut out).unwrap();
        assert_eq!(out[0].bbox, BBox::new(40.0, 15.0, 60.0, 35.0));
    }

    #[test]
    fn plan_explains_unfit_outputs() {
        let outputs = [TensorInfo::new("heat", vec![Some(1), Some(128), Some(128), Some(80)])];
        let err = EndToEnd::plan(None, BoxFormat::Xyxy, Coords::InputPixels, &input(), 80, &outputs).unwrap_err();
        assert!(err.contains("\"heat\" [1,128,128,80]"), "{err}");
        let d = EndToEnd { box_format: BoxFormat::Xyxy, unit: (1.0, 1.0), classes: 3 };
        assert!(d.decode(TensorView::new(&[2, 3], &[0.0; 6]).unwrap(), 0.5, &mut Vec::new()).is_err());
    }
}
