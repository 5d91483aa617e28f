//! Where TensorRT engines are cached: one folder per model file and TensorRT version.
//!
//! Building an engine takes minutes on a Jetson, so ONNX Runtime's TensorRT provider can cache them.
//! It does not notice when the cache no longer fits, though: ONNX Runtime's documentation asks users to
//! delete the cache by hand when the model, the TensorRT version or the hardware changes, and a stale
//! engine either fails to deserialize or, worse, runs a different network. A model update or a JetPack
//! upgrade must not depend on an operator remembering that. So the configured `engine_cache` is only
//! a root: engines go to `<root>/<model sha256, 16 hex>-trt<TensorRT version code>-<fp16|fp32>/`
//! (ONNX Runtime adds the GPU's compute capability to the file names inside), and folders of the same
//! model name under other keys are removed when a new one is made.

use std::path::{Path, PathBuf};

/// The cache folder's marker: which model it belongs to, for pruning.
const MARKER: &str = "kaiteki-engine-cache.toml";

/// The folder for one model file, TensorRT version and precision.
pub fn folder(root: &Path, model_sha256: &str, trt_version: u32, fp16: bool) -> PathBuf {
    let hash: String = model_sha256.chars().filter(char::is_ascii_hexdigit).take(16).collect::<String>().to_lowercase();
    root.join(format!("{hash}-trt{trt_version}-{}", if fp16 { "fp16" } else { "fp32" }))
}

/// Creates the folder for `model_name`'s current key and removes the folders of its earlier keys.
/// Returns the folder to hand to ONNX Runtime.
pub fn prepare(root: &Path, model_name: &str, model_sha256: &str, trt_version: u32, fp16: bool) -> std::io::Result<PathBuf> {
    let dir = folder(root, model_sha256, trt_version, fp16);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join(MARKER), format!("model = {model_name:?}\nsha256 = {model_sha256:?}\ntensorrt = {trt_version}\n"))?;
    for entry in std::fs::read_dir(root)?.flatten() {
        let other = entry.path();
        if other == dir || !other.is_dir() {
            continue;
        }
        let owner = std::fs::read_to_string(other.join(MARKER)).ok();
        if owner.is_some_and(|m| m.lines().next() == Some(&format!("model = {model_name:?}"))) {
            tracing::info!(model = model_name, stale = %other.display(), "removing TensorRT engines built for another model file or TensorRT version");
            if let Err(e) = std::fs::remove_dir_all(&other) {
                tracing::warn!(folder = %other.display(), error = %e, "cannot remove stale TensorRT engines");
            }
        }
    }
    Ok(dir)
}

/// The TensorRT library's version code (`getInferLibVersion()`, e.g. 8602 for 8.6.2, 100300 for
/// 10.3.0): the library ONNX Runtime's TensorRT provider will load. None when no libnvinfer loads.
#[cfg(feature = "gpu")]
pub fn tensorrt_version() -> Option<u32> {
    for name in ["libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so"] {
        // SAFETY: loading libnvinfer runs its initialisers, which have no preconditions; the symbol is
        // TensorRT's documented C entry point `int32_t getInferLibVersion() noexcept`, with no arguments.
        let version = unsafe {
            let Ok(lib) = libloading::Library::new(name) else { continue };
            let Ok(f) = lib.get::<unsafe extern "C" fn() -> i32>(b"getInferLibVersion\0") else { continue };
            f()
        };
        return u32::try_from(version).ok();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "351b041585f7f4ca96eed37a71a19adc479aa143a8cace516cd9495d022b2eba";
    const B: &str = "0f0e0d0c0b0a09080706050403020100ffeeddccbbaa99887766554433221100";

    #[test]
    fn the_key_is_model_hash_tensorrt_version_and_precision() {
        let root = Path::new("/var/lib/kaiteki/trt");
        assert_eq!(folder(root, A, 8602, true), root.join("351b041585f7f4ca-trt8602-fp16"));
        assert_ne!(folder(root, A, 8602, true), folder(root, A, 100300, true));
        assert_ne!(folder(root, A, 8602, true), folder(root, B, 8602, true));
        assert_ne!(folder(root, A, 8602, true), folder(root, A, 8602, false));
        // Whatever a manifest holds, the folder name stays one plain path component.
        assert_eq!(folder(root, "../../etc/x", 1, false), root.join("ec-trt1-fp32"));
    }

    #[test]
    fn a_new_model_file_or_tensorrt_version_replaces_only_that_models_engines() {
        let root = tempfile::tempdir().unwrap();
        let old = prepare(root.path(), "centernet", A, 8602, true).unwrap();
        std::fs::write(old.join("TensorrtExecutionProvider_sm87.engine"), b"engine").unwrap();
        let other_model = prepare(root.path(), "nanodet", B, 8602, true).unwrap();
        std::fs::create_dir_all(root.path().join("not-ours")).unwrap();
        // JetPack upgrade: TensorRT 10.3.
        let new = prepare(root.path(), "centernet", A, 100300, true).unwrap();
        assert!(!old.exists(), "the engine for the old TensorRT is gone");
        assert!(new.is_dir() && other_model.is_dir() && root.path().join("not-ours").is_dir());
        // Unchanged key: the folder and its engines stay.
        std::fs::write(new.join("e.engine"), b"engine").unwrap();
        assert_eq!(prepare(root.path(), "centernet", A, 100300, true).unwrap(), new);
        assert!(new.join("e.engine").exists());
    }
}
