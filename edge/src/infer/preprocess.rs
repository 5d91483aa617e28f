//! Frame → model input tensor in one pass: bilinear resize (stretch or letterbox), colour order, layout
//! and normalisation, reading the stride-aware RGB8 frame directly.
//!
//! Per-frame cost matters (10–30 fps on 2 small cores), so the source index/weight tables depend only
//! on the frame size and are computed once per size, and the inner loop is 4 loads + 3 lerps per channel.

use super::detection::BBox;
use super::manifest::{ColourOrder, InputSpec, Layout, Resize};
use crate::source::frame::FrameView;

/// How input-tensor pixels relate to frame pixels: `input = frame * scale + offset`, per axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    pub scale_x: f32,
    pub scale_y: f32,
    pub offset_x: f32,
    pub offset_y: f32,
}

impl Transform {
    /// Maps a box in model-input pixels back to frame pixels (not clamped).
    pub fn to_frame(&self, b: BBox) -> BBox {
        BBox {
            x1: (b.x1 - self.offset_x) / self.scale_x,
            y1: (b.y1 - self.offset_y) / self.scale_y,
            x2: (b.x2 - self.offset_x) / self.scale_x,
            y2: (b.y2 - self.offset_y) / self.scale_y,
        }
    }

    /// The transform for a frame of `fw`x`fh` into an input of `iw`x`ih`, plus the size of the resized
    /// (unpadded) region.
    pub fn new(resize: Resize, fw: u32, fh: u32, iw: u32, ih: u32) -> (Transform, u32, u32) {
        match resize {
            Resize::Stretch => (
                Transform { scale_x: iw as f32 / fw as f32, scale_y: ih as f32 / fh as f32, offset_x: 0.0, offset_y: 0.0 },
                iw,
                ih,
            ),
            Resize::Letterbox { .. } => {
                let r = (iw as f32 / fw as f32).min(ih as f32 / fh as f32);
                let rw = ((fw as f32 * r).round() as u32).clamp(1, iw);
                let rh = ((fh as f32 * r).round() as u32).clamp(1, ih);
                let ox = (iw - rw) / 2;
                let oy = (ih - rh) / 2;
                (
                    Transform {
                        scale_x: rw as f32 / fw as f32,
                        scale_y: rh as f32 / fh as f32,
                        offset_x: ox as f32,
                        offset_y: oy as f32,
                    },
                    rw,
                    rh,
                )
            }
        }
    }
}

/// One output coordinate's two source samples (byte offsets for x, row numbers for y) and the weight of
/// the second.
#[derive(Debug, Clone, Copy)]
struct Tap {
    i0: usize,
    i1: usize,
    w: f32,
}

/// Half-pixel-centre bilinear taps (as OpenCV/PIL), edge-clamped.
fn taps(src: u32, dst: u32, step: usize) -> Vec<Tap> {
    let ratio = src as f32 / dst as f32;
    let last = src as usize - 1;
    (0..dst)
        .map(|d| {
            let s = ((d as f32 + 0.5) * ratio - 0.5).max(0.0);
            let i0 = (s.floor() as usize).min(last);
            let i1 = (i0 + 1).min(last);
            Tap { i0: i0 * step, i1: i1 * step, w: s - i0 as f32 }
        })
        .collect()
}

struct Tables {
    frame: (u32, u32),
    transform: Transform,
    /// Resized region inside the input: origin and size.
    region: (usize, usize, usize, usize),
    xs: Vec<Tap>,
    ys: Vec<Tap>,
}

/// Turns frames into input tensors for one model input; keeps its tables and the padding between calls.
pub struct Preprocessor {
    spec: InputSpec,
    /// value = pixel * gain[c] + bias[c], c in the model's channel order.
    gain: [f32; 3],
    bias: [f32; 3],
    /// Frame channel feeding model channel c.
    src_channel: [usize; 3],
    tables: Option<Tables>,
}

impl Preprocessor {
    pub fn new(spec: &InputSpec) -> Self {
        let gain = std::array::from_fn(|c| spec.scale / spec.std[c]);
        let bias = std::array::from_fn(|c| -spec.mean[c] / spec.std[c]);
        let src_channel = match spec.colour {
            ColourOrder::Rgb => [0, 1, 2],
            ColourOrder::Bgr => [2, 1, 0],
        };
        Self { spec: spec.clone(), gain, bias, src_channel, tables: None }
    }

    /// Number of f32 values in the input tensor.
    pub fn len(&self) -> usize {
        self.spec.shape().iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the input tensor for `frame` into `out` (resized to [`Preprocessor::len`]) and returns how
    /// to map boxes back to the frame.
    pub fn run(&mut self, frame: FrameView<'_>, out: &mut Vec<f32>) -> Transform {
        let n = self.len();
        let fresh = out.len() != n;
        if fresh {
            out.resize(n, 0.0);
        }
        let size = (frame.width, frame.height);
        let tables = match self.tables.take() {
            Some(t) if t.frame == size && !fresh => t,
            _ => {
                let t = self.build_tables(size);
                // The padding never changes for a given frame size, so it is written only here.
                if let Resize::Letterbox { pad } = self.spec.resize {
                    self.fill_padding(pad, out);
                }
                t
            }
        };
        self.resize_into(&tables, frame, out);
        let transform = tables.transform;
        self.tables = Some(tables);
        transform
    }

    fn build_tables(&self, (fw, fh): (u32, u32)) -> Tables {
        let (transform, rw, rh) = Transform::new(self.spec.resize, fw, fh, self.spec.width, self.spec.height);
        Tables {
            frame: (fw, fh),
            transform,
            region: (transform.offset_x as usize, transform.offset_y as usize, rw as usize, rh as usize),
            xs: taps(fw, rw, 3),
            ys: taps(fh, rh, 1),
        }
    }

    fn fill_padding(&self, pad: u8, out: &mut [f32]) {
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let plane = w * h;
        for c in 0..3 {
            let v = pad as f32 * self.gain[c] + self.bias[c];
            match self.spec.layout {
                Layout::Nchw => out[c * plane..(c + 1) * plane].fill(v),
                Layout::Nhwc => out.iter_mut().skip(c).step_by(3).for_each(|x| *x = v),
            }
        }
    }

    fn resize_into(&self, t: &Tables, frame: FrameView<'_>, out: &mut [f32]) {
        let (ox, oy, _, _) = t.region;
        let (w, h) = (self.spec.width as usize, self.spec.height as usize);
        let plane = w * h;
        let [c0, c1, c2] = self.src_channel;
        let (g, b) = (self.gain, self.bias);
        for (ry, ty) in t.ys.iter().enumerate() {
            // Tables come from this frame's size, so rows and offsets are in range.
            let r0 = frame.row(ty.i0 as u32);
            let r1 = frame.row(ty.i1 as u32);
            let wy = ty.w;
            let y = oy + ry;
            let px = |tx: &Tap, c: usize| -> f32 {
                let a0 = r0[tx.i0 + c] as f32;
                let a1 = r0[tx.i1 + c] as f32;
                let b0 = r1[tx.i0 + c] as f32;
                let b1 = r1[tx.i1 + c] as f32;
                let top = a0 + (a1 - a0) * tx.w;
                let bot = b0 + (b1 - b0) * tx.w;
                top + (bot - top) * wy
            };
            match self.spec.layout {
                Layout::Nhwc => {
                    let start = (y * w + ox) * 3;
                    let row = &mut out[start..start + t.xs.len() * 3];
                    for (o, tx) in row.chunks_exact_mut(3).zip(&t.xs) {
                        o[0] = px(tx, c0) * g[0] + b[0];
                        o[1] = px(tx, c1) * g[1] + b[1];
                        o[2] = px(tx, c2) * g[2] + b[2];
                    }
                }
                Layout::Nchw => {
                    let start = y * w + ox;
                    let (p0, rest) = out.split_at_mut(plane);
                    let (p1, p2) = rest.split_at_mut(plane);
                    let n = t.xs.len();
                    let (p0, p1, p2) = (&mut p0[start..start + n], &mut p1[start..start + n], &mut p2[start..start + n]);
                    for (i, tx) in t.xs.iter().enumerate() {
                        p0[i] = px(tx, c0) * g[0] + b[0];
                        p1[i] = px(tx, c1) * g[1] + b[1];
                        p2[i] = px(tx, c2) * g[2] + b[2];
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(layout: Layout, colour: ColourOrder, resize: Resize, w: u32, h: u32) -> InputSpec {
        InputSpec {
            name: "in".into(),
            layout,
            width: w,
            height: h,
            colour,
            resize,
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }

    #[test]
    fn letterbox_maps_boxes_back_to_the_frame() {
        // 768x576 into 512x512: scale 2/3, 384 rows high, 64 px bars top and bottom.
        let (t, rw, rh) = Transform::new(Resize::Letterbox { pad: 114 }, 768, 576, 512, 512);
        assert_eq!((rw, rh), (512, 384));
        assert_eq!((t.offset_x, t.offset_y), (0.0, 64.0));
        let b = t.to_frame(BBox::new(0.0, 64.0, 512.0, 448.0));
        assert!((b.x1).abs() < 1e-3 && (b.y1).abs() < 1e-3, "{b:?}");
        assert!((b.x2 - 768.0).abs() < 1e-3 && (b.y2 - 576.0).abs() < 1e-3, "{b:?}");
        let b = t.to_frame(BBox::new(100.0, 164.0, 200.0, 264.0));
        assert!((b.x1 - 150.0).abs() < 1e-3 && (b.y1 - 150.0).abs() < 1e-3 && (b.x2 - 300.0).abs() < 1e-3);
    }

    #[test]
    fn stretch_maps_axes_independently() {
        let (t, _, _) = Transform::new(Resize::Stretch, 768, 576, 512, 512);
        let b = t.to_frame(BBox::new(256.0, 256.0, 512.0, 512.0));
        assert_eq!(b, BBox::new(384.0, 288.0, 768.0, 576.0));
    }

    #[test]
    fn letterbox_pads_and_swaps_channels_in_nchw() {
        // A 4x2 frame, pixel (x,y) = (10x, 20y, 7), stride with 2 junk bytes per row.
        let (w, h, stride) = (4u32, 2u32, 14usize);
        let mut data = vec![255u8; stride * h as usize];
        for y in 0..h as usize {
            for x in 0..w as usize {
                data[y * stride + x * 3..y * stride + x * 3 + 3].copy_from_slice(&[10 * x as u8, 20 * y as u8, 7]);
            }
        }
        let frame = FrameView::new(w, h, stride, &data).unwrap();
        let mut s = spec(Layout::Nchw, ColourOrder::Bgr, Resize::Letterbox { pad: 100 }, 4, 4);
        s.mean = [1.0, 2.0, 3.0];
        let mut pre = Preprocessor::new(&s);
        let mut out = Vec::new();
        let t = pre.run(frame, &mut out);
        assert_eq!(t.offset_y, 1.0);
        assert_eq!(out.len(), 3 * 16);
        // Row 0 is padding: (100 - mean) in every plane.
        assert_eq!(&out[0..4], &[99.0; 4]);
        assert_eq!(&out[32..36], &[97.0; 4]);
        // Row 1 = frame row 0: plane 0 is blue (7 - 1), plane 2 is red (10x - 3).
        assert_eq!(&out[4..8], &[6.0; 4]);
        assert_eq!(&out[32 + 4..32 + 8], &[-3.0, 7.0, 17.0, 27.0]);
        // Same size: identity resize, a second run gives the same tensor.
        let again = out.clone();
        pre.run(frame, &mut out);
        assert_eq!(out, again);
    }

    #[test]
    fn downscale_by_two_averages_pixel_pairs() {
        let (w, h) = (4u32, 2u32);
        let data: Vec<u8> = (0..w * h).flat_map(|i| [i as u8 * 10, 0, 0]).collect();
        let frame = FrameView::new(w, h, w as usize * 3, &data).unwrap();
        let mut pre = Preprocessor::new(&spec(Layout::Nhwc, ColourOrder::Rgb, Resize::Stretch, 2, 1));
        let mut out = Vec::new();
        pre.run(frame, &mut out);
        // x taps at 0.5 and 2.5, y tap at 0.5: mean of the 2x2 blocks (0,10,40,50) and (20,30,60,70).
        assert_eq!(out, vec![25.0, 0.0, 0.0, 45.0, 0.0, 0.0]);
    }
}
