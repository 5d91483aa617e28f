//! Turning a received bundle into a detector that is ready to swap in: verify (digest and signature on
//! the file itself), unpack into the slot's folder, load with the slot's backend, check the classes the
//! cameras need, run the self-test. Blocking (model loading takes seconds): run it off the async
//! runtime. Nothing here touches the running pipelines.

use std::path::{Path, PathBuf};

use super::bundle::{self, UnpackLimits};
use super::installed::{slot_dir, InstalledModel};
use super::offer::Offer;
use super::requirements::Requirements;
use super::selftest::{self, Got};
use super::keys::TrustStore;
use crate::infer::{load_detector, BackendConfig, DetectParams, Detector};
use crate::source::FrameView;

/// A checked detector, not yet serving.
pub struct Staged {
    pub detector: Box<dyn Detector>,
    pub installed: InstalledModel,
    /// Frames the self-test ran (0: the bundle has none).
    pub selftest_frames: usize,
}

/// Every step of the installation, in order; the error is the status `reason`.
pub fn stage(
    bundle_path: &Path,
    offer: &Offer,
    trust: &TrustStore,
    state_dir: &Path,
    backend: &BackendConfig,
    needs: &Requirements,
) -> Result<Staged, String> {
    let meta = bundle::verify_file(bundle_path, &offer.signature_file(), trust).map_err(|e| e.to_string())?;
    if meta.model != offer.model || meta.version != offer.version {
        return Err(format!(
            "the signed bundle is {} {}, the offer says {} {}",
            meta.model, meta.version, offer.model, offer.version
        ));
    }
    let dest: PathBuf = slot_dir(state_dir, &offer.model).join(format!("{}-{}", offer.version, &offer.digest_hex()[..12]));
    if dest.exists() {
        // A previous attempt (killed mid-install, or a reinstall): unpack afresh.
        std::fs::remove_dir_all(&dest).map_err(|e| format!("cannot clear {}: {e}", dest.display()))?;
    }
    let limits = UnpackLimits { max_file_bytes: offer.size, max_total_bytes: offer.size, ..UnpackLimits::default() };
    let unpacked = bundle::unpack(bundle_path, &dest, &limits).map_err(|e| e.to_string())?;
    let mut detector = load_detector(&unpacked.manifest_path, backend).map_err(|e| format!("the model does not load: {e}"))?;
    needs.check(detector.manifest())?;
    let mut frames = 0;
    if let Some(test) = &unpacked.selftest {
        for (path, expected) in test.frames() {
            let img = image::open(&path).map_err(|e| format!("self-test frame {}: {e}", expected.image))?.to_rgb8();
            let (w, h) = img.dimensions();
            let view = FrameView::new(w, h, w as usize * 3, img.as_raw()).ok_or_else(|| format!("self-test frame {} is empty", expected.image))?;
            let (dets, _) = detector
                .detect(view, DetectParams::default())
                .map_err(|e| format!("self-test frame {}: inference failed: {e}", expected.image))?;
            let got: Vec<Got> = dets
                .iter()
                .map(|d| Got { label: d.label.to_string(), bbox: [d.bbox.x1, d.bbox.y1, d.bbox.x2 - d.bbox.x1, d.bbox.y2 - d.bbox.y1], score: d.score })
                .collect();
            selftest::check_frame(expected, &got, test.expected.iou).map_err(|e| format!("self-test failed on {}: {e}", expected.image))?;
            frames += 1;
        }
    }
    Ok(Staged {
        detector,
        installed: InstalledModel { version: offer.version.to_string(), digest: offer.digest_hex(), manifest: unpacked.manifest_path },
        selftest_frames: frames,
    })
}
