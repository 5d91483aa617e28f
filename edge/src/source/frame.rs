//! Video frames as they travel inside the process.
//!
//! Privacy by construction: [`Frame`] holds raw pixels of people and vehicles, so it implements
//! neither `Serialize` nor `Clone`, its `Debug` prints geometry only, and no sink accepts it.
//! The only image type that can leave the process is `privacy::RedactedImage`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A borrowed, packed RGB8 image (3 bytes per pixel, rows `stride` bytes apart).
#[derive(Clone, Copy)]
pub struct FrameView<'a> {
    pub width: u32,
    pub height: u32,
    pub stride: usize,
    pub data: &'a [u8],
}

impl<'a> FrameView<'a> {
    /// Checks that `data` really holds `height` rows of `stride` bytes with `width` RGB pixels each.
    pub fn new(width: u32, height: u32, stride: usize, data: &'a [u8]) -> Option<Self> {
        let row = width as usize * 3;
        if width == 0 || height == 0 || stride < row {
            return None;
        }
        let needed = stride.checked_mul(height as usize - 1)?.checked_add(row)?;
        if data.len() < needed {
            return None;
        }
        Some(Self { width, height, stride, data })
    }

    /// The RGB bytes of row `y` (exactly `width * 3` of them).
    pub fn row(&self, y: u32) -> &'a [u8] {
        let start = y as usize * self.stride;
        &self.data[start..start + self.width as usize * 3]
    }

    /// The pixels as one tightly packed RGB buffer (row padding dropped).
    pub fn to_packed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for y in 0..self.height {
            out.extend_from_slice(self.row(y));
        }
        out
    }
}

impl fmt::Debug for FrameView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FrameView({}x{}, stride {})", self.width, self.height, self.stride)
    }
}

/// Where a frame's pixels live: a mapped GStreamer buffer (zero-copy from the pipeline) or owned memory
/// (images read from disk, tests).
enum Pixels {
    Gst(gstreamer::buffer::MappedBuffer<gstreamer::buffer::Readable>),
    Owned(Vec<u8>),
}

/// One decoded RGB frame of one camera.
pub struct Frame {
    pub camera: Arc<str>,
    /// Per-camera frame counter, from 0 at pipeline start.
    pub seq: u64,
    /// Presentation time within the stream.
    pub pts: Duration,
    /// Wall-clock capture time.
    pub captured_at: std::time::SystemTime,
    width: u32,
    height: u32,
    stride: usize,
    pixels: Pixels,
}

impl Frame {
    pub fn from_gst(
        camera: Arc<str>,
        seq: u64,
        pts: Duration,
        width: u32,
        height: u32,
        stride: usize,
        buffer: gstreamer::buffer::MappedBuffer<gstreamer::buffer::Readable>,
    ) -> Option<Self> {
        Self::checked(camera, seq, pts, width, height, stride, Pixels::Gst(buffer))
    }

    /// A frame from packed RGB8 pixels (`stride == width * 3`).
    pub fn from_rgb(camera: Arc<str>, seq: u64, pts: Duration, width: u32, height: u32, data: Vec<u8>) -> Option<Self> {
        Self::checked(camera, seq, pts, width, height, width as usize * 3, Pixels::Owned(data))
    }

    /// An owned copy of a view's pixels, e.g. to keep a still after the pipeline's buffer is gone.
    pub fn copy_of(camera: Arc<str>, view: FrameView<'_>) -> Option<Self> {
        Self::from_rgb(camera, 0, Duration::ZERO, view.width, view.height, view.to_packed())
    }

    /// Builds a frame only if its pixels really cover `height` rows of `stride` bytes.
    fn checked(camera: Arc<str>, seq: u64, pts: Duration, width: u32, height: u32, stride: usize, pixels: Pixels) -> Option<Self> {
        let data = match &pixels {
            Pixels::Gst(b) => b.as_slice(),
            Pixels::Owned(v) => v.as_slice(),
        };
        FrameView::new(width, height, stride, data)?;
        Some(Self { camera, seq, pts, captured_at: std::time::SystemTime::now(), width, height, stride, pixels })
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn view(&self) -> FrameView<'_> {
        let data = match &self.pixels {
            Pixels::Gst(b) => b.as_slice(),
            Pixels::Owned(v) => v.as_slice(),
        };
        FrameView { width: self.width, height: self.height, stride: self.stride, data }
    }
}

impl fmt::Debug for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the pixels: logs leave the box.
        f.debug_struct("Frame")
            .field("camera", &self.camera)
            .field("seq", &self.seq)
            .field("pts", &self.pts)
            .field("size", &format_args!("{}x{}", self.width, self.height))
            .finish()
    }
}
