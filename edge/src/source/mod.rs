//! Camera sources: GStreamer pipelines built from definitions in `pipelines/`, ending in an appsink that
//! delivers RGB frames; reconnect with capped exponential backoff; per-camera state and counters.

pub mod backoff;
pub mod camera;
pub mod frame;
pub mod pipeline_def;
pub mod status;

pub use frame::{Frame, FrameView};

/// GStreamer must be initialised once per process before any pipeline is parsed.
pub fn init_gstreamer() -> Result<(), gstreamer::glib::Error> {
    gstreamer::init()
}
