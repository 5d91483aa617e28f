//! The model bundle (`.ktb`): a plain, uncompressed tar with `bundle.toml` first, the model manifest and
//! its ONNX file under `model/`, and an optional self-test set under `selftest/`; plus its detached
//! signature file (`<bundle>.sig`).
//!
//! ```toml
//! format = "kaiteki-bundle-v1"
//! model = "people"                 # the model slot in the daemon config
//! version = "2.0.0"                # semver
//! created = "2025-01-01T00:00:00Z" # RFC 3339
//! notes = "retrained on winter footage"  # optional
//!
//! [[files]]
//! path = "model/people.onnx"
//! size = 123
//! sha256 = "<64 hex>"
//! ```
//!
//! Order of trust on the device: [`verify_file`] (digest, then signature) first, and only then [`unpack`].
//! `unpack` is careful (safe paths, regular files only, size limits, every file's sha256 against
//! `bundle.toml`), but the listing it checks against is only authentic once the signature over the whole
//! file has been verified.
//!
//! [`pack`] is deterministic: sorted entries, mtime 0, mode 0644, uid/gid 0, so the same inputs (and
//! `created`) give the same bytes and the same digest.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signature, SigningKey};
use semver::Version;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::update::error::{io_at, UpdateError};
use crate::update::keys::{sign_digest, KeyId, TrustStore};
use crate::update::names::{clip, is_lower_hex, is_valid_name, parse_digest};
use crate::update::offer::parse_signature;
use crate::update::selftest::{self, SelfTest, EXPECTED_FILE};

/// Value of `bundle.toml`'s `format`.
pub const BUNDLE_FORMAT: &str = "kaiteki-bundle-v1";
/// Value of the signature file's `format`.
pub const SIG_FORMAT: &str = "kaiteki-bundle-sig-v1";
/// Name of the metadata entry, always the first in the tar.
pub const META_FILE: &str = "bundle.toml";
/// Upper bound on `bundle.toml` (it lists a handful of files).
pub const MAX_META_BYTES: u64 = 64 * 1024;
/// Upper bound on a model manifest (read into memory to find its ONNX file).
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Upper bound on a signature file.
pub const MAX_SIG_BYTES: u64 = 4096;
/// Longest path in a bundle: fits the plain ustar name field, so no tar extension headers are needed.
pub const MAX_PATH_LEN: usize = 100;
/// Longest `notes`.
pub const MAX_NOTES_LEN: usize = 4096;

// ------------------------------------------------------------------------------------------------------
// bundle.toml
// ------------------------------------------------------------------------------------------------------

/// One file listed in `bundle.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the bundle, e.g. `model/people.onnx`.
    pub path: String,
    pub size: u64,
    /// Lowercase hex sha256.
    pub sha256: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMeta {
    format: String,
    model: String,
    version: String,
    created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notes: Option<String>,
    #[serde(default)]
    files: Vec<FileEntry>,
}

/// Validated contents of `bundle.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleMeta {
    /// The model slot in the daemon config this bundle replaces.
    pub model: String,
    pub version: Version,
    pub created: OffsetDateTime,
    pub notes: Option<String>,
    /// Every entry except `bundle.toml`, sorted by path.
    pub files: Vec<FileEntry>,
}

impl BundleMeta {
    /// Parses and validates `bundle.toml`: format, model slot name, semver version, RFC 3339 time, safe
    /// and unique paths, hex digests, and the layout (exactly one `model/*.toml` manifest; a `selftest/`
    /// folder holds `expected.json` and image files only).
    pub fn parse(text: &str) -> Result<BundleMeta, UpdateError> {
        let meta_err = |m: String| UpdateError::BundleMeta(m);
        let wire: WireMeta = toml::from_str(text).map_err(|e| meta_err(e.to_string().trim_end().to_string()))?;
        if wire.format != BUNDLE_FORMAT {
            return Err(meta_err(format!("format: expected {BUNDLE_FORMAT}, found {}", clip(&wire.format))));
        }
        if !is_valid_name(&wire.model) {
            return Err(meta_err(format!("model: {} is not 1-64 letters, digits, `-` or `_`", clip(&wire.model))));
        }
        let version = Version::parse(&wire.version)
            .map_err(|e| meta_err(format!("version: {} is not a semver version: {e}", clip(&wire.version))))?;
        let created = OffsetDateTime::parse(&wire.created, &Rfc3339)
            .map_err(|e| meta_err(format!("created: {} is not an RFC 3339 time: {e}", clip(&wire.created))))?;
        if wire.notes.as_ref().is_some_and(|n| n.len() > MAX_NOTES_LEN) {
            return Err(meta_err(format!("notes: longer than {MAX_NOTES_LEN} bytes")));
        }
        let mut files = wire.files;
        let mut seen = BTreeSet::new();
        for f in &files {
            check_bundle_path(&f.path)?;
            if !is_lower_hex(&f.sha256, 64) {
                return Err(meta_err(format!("files: sha256 of {} is not 64 lowercase hex characters", f.path)));
            }
            if !seen.insert(f.path.as_str()) {
                return Err(UpdateError::DuplicateFile(f.path.clone()));
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let meta = BundleMeta { model: wire.model, version, created, notes: wire.notes, files };
        meta.check_layout()?;
        Ok(meta)
    }

    fn check_layout(&self) -> Result<(), UpdateError> {
        let manifests = self.files.iter().filter(|f| is_manifest_path(&f.path)).count();
        if manifests != 1 {
            return Err(UpdateError::BundleMeta(format!(
                "files: expected exactly one model manifest model/<name>.toml, found {manifests}"
            )));
        }
        let selftest: Vec<&str> = self.files.iter().filter_map(|f| f.path.strip_prefix("selftest/")).collect();
        if !selftest.is_empty() && !selftest.contains(&EXPECTED_FILE) {
            return Err(UpdateError::BundleMeta(format!("files: selftest/ has frames but no selftest/{EXPECTED_FILE}")));
        }
        for name in selftest {
            if name != EXPECTED_FILE && !selftest::is_valid_image_name(name) {
                return Err(UpdateError::BundleMeta(format!(
                    "files: selftest/{name} is not {EXPECTED_FILE} or a .png/.jpg/.jpeg frame"
                )));
            }
        }
        Ok(())
    }

    /// The model manifest entry (`model/<name>.toml`); present in every validated meta.
    pub fn manifest(&self) -> Option<&FileEntry> {
        self.files.iter().find(|f| is_manifest_path(&f.path))
    }

    /// The listed entry for `path`.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Sum of the listed file sizes.
    pub fn total_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).fold(0u64, u64::saturating_add)
    }

    /// The `bundle.toml` text.
    pub fn to_toml(&self) -> Result<String, UpdateError> {
        let created = self
            .created
            .format(&Rfc3339)
            .map_err(|e| UpdateError::BundleMeta(format!("created: cannot format {}: {e}", self.created)))?;
        let wire = WireMeta {
            format: BUNDLE_FORMAT.to_string(),
            model: self.model.clone(),
            version: self.version.to_string(),
            created,
            notes: self.notes.clone(),
            files: self.files.clone(),
        };
        toml::to_string(&wire).map_err(|e| UpdateError::BundleMeta(format!("cannot serialise: {e}")))
    }
}

fn is_manifest_path(path: &str) -> bool {
    path.strip_prefix("model/").is_some_and(|name| !name.contains('/') && name.ends_with(".toml"))
}

/// Checks a path inside a bundle: relative, `/`-separated, 1-100 bytes, every component a plain name of
/// `[A-Za-z0-9._+-]` that does not start with `.` (so no `.`, `..` or hidden files), under `model/` or
/// `selftest/`.
pub fn check_bundle_path(path: &str) -> Result<(), UpdateError> {
    let unsafe_path = |why: &str| Err(UpdateError::UnsafePath(format!("{} ({why})", clip(path))));
    if path.is_empty() || path.len() > MAX_PATH_LEN {
        return unsafe_path(&format!("length must be 1-{MAX_PATH_LEN} bytes"));
    }
    if path.starts_with('/') {
        return unsafe_path("absolute path");
    }
    let components: Vec<&str> = path.split('/').collect();
    for c in &components {
        if c.is_empty() {
            return unsafe_path("empty path component");
        }
        if *c == ".." || *c == "." {
            return unsafe_path(&format!("`{c}` component"));
        }
        if c.starts_with('.') {
            return unsafe_path("hidden file name");
        }
        if !c.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+')) {
            return unsafe_path("only letters, digits, `.`, `_`, `-` and `+` are allowed in names");
        }
    }
    if components.len() < 2 || !matches!(components[0], "model" | "selftest") {
        return unsafe_path("outside model/ and selftest/");
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------
// Digests and signatures
// ------------------------------------------------------------------------------------------------------

/// sha256 and length of everything `reader` yields, streaming.
pub fn digest_reader<R: Read>(mut reader: R) -> io::Result<([u8; 32], u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut len = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hasher.finalize().into(), len))
}

/// sha256 of a whole file, streaming (bundles can be hundreds of MiB).
pub fn digest_file(path: &Path) -> Result<[u8; 32], UpdateError> {
    let file = File::open(path).map_err(io_at("opening", path))?;
    digest_reader(file).map(|(d, _)| d).map_err(io_at("reading", path))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSig {
    format: String,
    key_id: String,
    digest: String,
    signature: String,
}

/// The detached signature of a bundle (`<bundle>.sig`, JSON):
/// `{"format":"kaiteki-bundle-sig-v1","key_id":"…","digest":"<hex sha256>","signature":"<base64>"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureFile {
    pub key_id: KeyId,
    /// sha256 of the whole bundle file.
    pub digest: [u8; 32],
    /// Ed25519 signature over `SIGNING_DOMAIN ++ digest`.
    pub signature: Signature,
}

impl SignatureFile {
    /// `<bundle path>.sig`.
    pub fn path_for(bundle_path: &Path) -> PathBuf {
        let mut name = bundle_path.as_os_str().to_os_string();
        name.push(".sig");
        PathBuf::from(name)
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        let wire = WireSig {
            format: SIG_FORMAT.to_string(),
            key_id: self.key_id.to_string(),
            digest: hex::encode(self.digest),
            signature: B64.encode(self.signature.to_bytes()),
        };
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Parses the JSON text strictly.
    pub fn parse(bytes: &[u8]) -> Result<SignatureFile, UpdateError> {
        let err = |m: String| UpdateError::SignatureFile(m);
        if bytes.len() as u64 > MAX_SIG_BYTES {
            return Err(err(format!("{} bytes, limit {MAX_SIG_BYTES}", bytes.len())));
        }
        let wire: WireSig = serde_json::from_slice(bytes).map_err(|e| err(e.to_string()))?;
        if wire.format != SIG_FORMAT {
            return Err(err(format!("format: expected {SIG_FORMAT}, found {}", clip(&wire.format))));
        }
        let key_id: KeyId = wire.key_id.parse().map_err(|e| err(format!("key_id: {e}")))?;
        let digest = parse_digest(&wire.digest)
            .ok_or_else(|| err(format!("digest: {} is not 64 lowercase hex characters", clip(&wire.digest))))?;
        let signature = parse_signature(&wire.signature).map_err(|e| err(format!("signature: {e}")))?;
        Ok(SignatureFile { key_id, digest, signature })
    }

    /// Reads a signature file.
    pub fn read(path: &Path) -> Result<SignatureFile, UpdateError> {
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|f| f.take(MAX_SIG_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io_at("reading signature file", path))?;
        SignatureFile::parse(&bytes)
    }

    /// Writes the signature file (replacing an old one).
    pub fn write(&self, path: &Path) -> Result<(), UpdateError> {
        fs::write(path, format!("{}\n", self.to_json())).map_err(io_at("writing signature file", path))
    }
}

/// Signs a bundle file: sha256 of the whole file, signed with the domain prefix.
pub fn sign(bundle_path: &Path, key: &SigningKey) -> Result<SignatureFile, UpdateError> {
    let digest = digest_file(bundle_path)?;
    Ok(SignatureFile { key_id: KeyId::of(&key.verifying_key()), digest, signature: sign_digest(key, &digest) })
}

/// Verifies a bundle file against its signature: recomputes the sha256 and compares it with the signed
/// digest, checks the signature with the trust store, then reads `bundle.toml` (bounded) from the same
/// open file and returns it. Run it on a file only the daemon can write (its state folder), since the
/// file is read twice.
pub fn verify_file(bundle_path: &Path, sig: &SignatureFile, trust: &TrustStore) -> Result<BundleMeta, UpdateError> {
    let mut file = File::open(bundle_path).map_err(io_at("opening bundle", bundle_path))?;
    let (digest, _) = digest_reader(&mut file).map_err(io_at("reading bundle", bundle_path))?;
    if digest != sig.digest {
        return Err(UpdateError::DigestMismatch {
            claimed_by: "signature",
            expected: hex::encode(sig.digest),
            actual: hex::encode(digest),
        });
    }
    trust.verify(&sig.key_id, &digest, &sig.signature)?;
    file.seek(SeekFrom::Start(0)).map_err(io_at("reading bundle", bundle_path))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    let mut entries = archive.entries().map_err(io_at("reading bundle", bundle_path))?;
    read_meta_entry(entries.next(), bundle_path)
}

/// Reads `bundle.toml` from a bundle without any verification (for tools that list bundles).
pub fn read_meta(bundle_path: &Path) -> Result<BundleMeta, UpdateError> {
    let file = File::open(bundle_path).map_err(io_at("opening bundle", bundle_path))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    let mut entries = archive.entries().map_err(io_at("reading bundle", bundle_path))?;
    read_meta_entry(entries.next(), bundle_path)
}

/// Reads and parses the first tar entry, which must be a regular `bundle.toml` of bounded size.
fn read_meta_entry<R: Read>(
    first: Option<io::Result<tar::Entry<'_, R>>>,
    bundle_path: &Path,
) -> Result<BundleMeta, UpdateError> {
    let mut entry = match first {
        None => return Err(UpdateError::BundleMeta("missing: the bundle is empty".into())),
        Some(entry) => entry.map_err(io_at("reading bundle", bundle_path))?,
    };
    let path = entry_path(&entry)?;
    if path != META_FILE {
        return Err(UpdateError::BundleMeta(format!("must be the first entry, found {}", clip(&path))));
    }
    if !entry.header().entry_type().is_file() {
        return Err(UpdateError::UnsupportedEntry { path, kind: entry_kind(entry.header().entry_type()) });
    }
    if entry.size() > MAX_META_BYTES {
        return Err(UpdateError::BundleTooLarge { what: META_FILE.into(), size: entry.size(), limit: MAX_META_BYTES });
    }
    let mut bytes = Vec::new();
    (&mut entry).take(MAX_META_BYTES).read_to_end(&mut bytes).map_err(io_at("reading bundle", bundle_path))?;
    let text = String::from_utf8(bytes).map_err(|_| UpdateError::BundleMeta("not UTF-8".into()))?;
    BundleMeta::parse(&text)
}

/// A tar entry's path as UTF-8 (anything else is refused).
fn entry_path<R: Read>(entry: &tar::Entry<'_, R>) -> Result<String, UpdateError> {
    let bytes = entry.path_bytes();
    std::str::from_utf8(&bytes)
        .map(str::to_string)
        .map_err(|_| UpdateError::UnsafePath(format!("{} (not UTF-8)", clip(&String::from_utf8_lossy(&bytes)))))
}

fn entry_kind(t: tar::EntryType) -> String {
    use tar::EntryType as T;
    match t {
        T::Symlink => "symbolic link".into(),
        T::Link => "hard link".into(),
        T::Char => "character device".into(),
        T::Block => "block device".into(),
        T::Directory => "directory".into(),
        T::Fifo => "FIFO".into(),
        T::GNUSparse => "sparse file".into(),
        other => format!("entry of type {:?}", other.as_byte() as char),
    }
}

// ------------------------------------------------------------------------------------------------------
// pack
// ------------------------------------------------------------------------------------------------------

/// What to put in a bundle.
#[derive(Debug, Clone)]
pub struct PackInput {
    /// Model slot in the daemon config (e.g. `people`).
    pub model_slot: String,
    pub version: Version,
    /// The model manifest (TOML); its `file` key names the ONNX file relative to the manifest.
    pub manifest_path: PathBuf,
    /// A folder with `expected.json` and the frames it names.
    pub selftest_dir: Option<PathBuf>,
    pub notes: Option<String>,
    /// `created` in bundle.toml; `None` = now (whole seconds). Set it for reproducible bundles.
    pub created: Option<OffsetDateTime>,
}

/// What [`pack`] wrote.
#[derive(Debug, Clone)]
pub struct BundleInfo {
    pub path: PathBuf,
    pub meta: BundleMeta,
    /// sha256 of the whole bundle file (what gets signed).
    pub digest: [u8; 32],
    /// Size of the bundle file in bytes.
    pub size: u64,
}

impl BundleInfo {
    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest)
    }
}

/// Reads a manifest's ONNX reference: `file` (a relative path inside the manifest's folder) and the
/// optional `sha256` (lowercased).
fn manifest_model_ref(text: &str, shown: &str) -> Result<(String, Option<String>), UpdateError> {
    let err = |reason: String| UpdateError::Manifest { path: shown.to_string(), reason };
    let table: toml::Table = toml::from_str(text).map_err(|e| err(e.to_string().trim_end().to_string()))?;
    let file = match table.get("file") {
        Some(toml::Value::String(s)) => s.clone(),
        Some(_) => return Err(err("`file` must be a string".into())),
        None => return Err(err("`file` (the ONNX file) is missing".into())),
    };
    if check_bundle_path(&format!("model/{file}")).is_err() || is_manifest_path(&format!("model/{file}")) {
        return Err(err(format!(
            "`file` {} must be a relative path inside the manifest's folder (plain names, no `..`)",
            clip(&file)
        )));
    }
    let sha256 = match table.get("sha256") {
        None => None,
        Some(toml::Value::String(s)) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Some(s.to_ascii_lowercase())
        }
        Some(_) => return Err(err("`sha256` must be 64 hex characters".into())),
    };
    Ok((file, sha256))
}

fn read_bounded_text(path: &Path, limit: u64, what: &str) -> Result<String, UpdateError> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(io_at("reading", path))?;
    if bytes.len() as u64 > limit {
        return Err(UpdateError::BundleTooLarge { what: format!("{what} {}", path.display()), size: bytes.len() as u64, limit });
    }
    String::from_utf8(bytes).map_err(|_| UpdateError::Manifest { path: path.display().to_string(), reason: "not UTF-8".into() })
}

/// One file to pack: where it goes in the bundle and where it comes from.
struct Source {
    entry: FileEntry,
    from: PathBuf,
}

fn source(bundle_path: String, from: PathBuf) -> Result<Source, UpdateError> {
    check_bundle_path(&bundle_path)?;
    // Follows symlinks: on the packing workstation a linked model file is fine; what goes in the tar is
    // always a regular file.
    let meta = fs::metadata(&from).map_err(io_at("reading", &from))?;
    if !meta.is_file() {
        return Err(UpdateError::Invalid(format!("{} is not a regular file", from.display())));
    }
    let file = File::open(&from).map_err(io_at("opening", &from))?;
    let (digest, size) = digest_reader(file).map_err(io_at("reading", &from))?;
    Ok(Source { entry: FileEntry { path: bundle_path, size, sha256: hex::encode(digest) }, from })
}

/// Builds a bundle at `out_path` (written to a temporary file next to it, then renamed).
pub fn pack(input: &PackInput, out_path: &Path) -> Result<BundleInfo, UpdateError> {
    if !is_valid_name(&input.model_slot) {
        return Err(UpdateError::Invalid(format!(
            "model slot {} must be 1-64 letters, digits, `-` or `_`",
            clip(&input.model_slot)
        )));
    }
    if input.notes.as_ref().is_some_and(|n| n.len() > MAX_NOTES_LEN) {
        return Err(UpdateError::Invalid(format!("notes are longer than {MAX_NOTES_LEN} bytes")));
    }

    // The manifest and the ONNX file it names.
    let manifest_path = &input.manifest_path;
    let shown = manifest_path.display().to_string();
    let manifest_name = manifest_path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.ends_with(".toml"))
        .ok_or_else(|| UpdateError::Manifest { path: shown.clone(), reason: "file name must end in .toml".into() })?;
    let text = read_bounded_text(manifest_path, MAX_MANIFEST_BYTES, "model manifest")?;
    let (model_file, manifest_sha) = manifest_model_ref(&text, &shown)?;
    let manifest_dir = manifest_path.parent().unwrap_or(Path::new("."));
    let mut sources = vec![
        source(format!("model/{manifest_name}"), manifest_path.clone())?,
        source(format!("model/{model_file}"), manifest_dir.join(&model_file))?,
    ];
    if let Some(expected) = manifest_sha {
        if sources[1].entry.sha256 != expected {
            return Err(UpdateError::Manifest {
                path: shown,
                reason: format!("`sha256` is {expected} but {model_file} is {}", sources[1].entry.sha256),
            });
        }
    }

    // The self-test set: expected.json and exactly the frames it names.
    if let Some(dir) = &input.selftest_dir {
        let set = selftest::load(dir)?;
        sources.push(source(format!("selftest/{EXPECTED_FILE}"), dir.join(EXPECTED_FILE))?);
        let images: BTreeSet<&str> = set.expected.frames.iter().map(|f| f.image.as_str()).collect();
        for image in images {
            sources.push(source(format!("selftest/{image}"), dir.join(image))?);
        }
    }
    sources.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
    if let Some(w) = sources.windows(2).find(|w| w[0].entry.path == w[1].entry.path) {
        return Err(UpdateError::DuplicateFile(w[0].entry.path.clone()));
    }

    let created = match input.created {
        Some(t) => t,
        None => OffsetDateTime::now_utc().replace_nanosecond(0).unwrap_or_else(|_| OffsetDateTime::now_utc()),
    };
    let meta = BundleMeta {
        model: input.model_slot.clone(),
        version: input.version.clone(),
        created,
        notes: input.notes.clone(),
        files: sources.iter().map(|s| s.entry.clone()).collect(),
    };
    let meta_text = meta.to_toml()?;
    // What we write must be what the device accepts.
    let meta = BundleMeta::parse(&meta_text)?;

    let mut tmp_name = out_path.as_os_str().to_os_string();
    tmp_name.push(".partial");
    let tmp = PathBuf::from(tmp_name);
    let result = write_tar(&tmp, &meta_text, &sources).and_then(|()| {
        fs::rename(&tmp, out_path).map_err(io_at("renaming", &tmp))
    });
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    let file = File::open(out_path).map_err(io_at("opening", out_path))?;
    let (digest, size) = digest_reader(file).map_err(io_at("reading", out_path))?;
    Ok(BundleInfo { path: out_path.to_path_buf(), meta, digest, size })
}

fn tar_header(path: &str, size: u64) -> Result<tar::Header, UpdateError> {
    let mut header = tar::Header::new_ustar();
    header
        .set_path(path)
        .map_err(|e| UpdateError::UnsafePath(format!("{} ({e})", clip(path))))?;
    header.set_size(size);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    Ok(header)
}

/// Hashes and counts what passes through, so a file that changes while it is packed is caught.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    len: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
}

fn write_tar(tmp: &Path, meta_text: &str, sources: &[Source]) -> Result<(), UpdateError> {
    let file = File::create(tmp).map_err(io_at("creating", tmp))?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    let header = tar_header(META_FILE, meta_text.len() as u64)?;
    builder.append(&header, meta_text.as_bytes()).map_err(io_at("writing", tmp))?;
    for s in sources {
        let header = tar_header(&s.entry.path, s.entry.size)?;
        let file = File::open(&s.from).map_err(io_at("opening", &s.from))?;
        let mut reader = HashingReader { inner: file.take(s.entry.size), hasher: Sha256::new(), len: 0 };
        builder.append(&header, &mut reader).map_err(io_at("writing", tmp))?;
        let HashingReader { hasher, len, .. } = reader;
        if len != s.entry.size || hex::encode(hasher.finalize()) != s.entry.sha256 {
            return Err(UpdateError::Invalid(format!("{} changed while it was being packed", s.from.display())));
        }
    }
    let writer = builder.into_inner().map_err(io_at("writing", tmp))?;
    let file = writer.into_inner().map_err(|e| UpdateError::io("writing", tmp, e.into_error()))?;
    file.sync_all().map_err(io_at("syncing", tmp))
}

// ------------------------------------------------------------------------------------------------------
// unpack
// ------------------------------------------------------------------------------------------------------

/// Size limits for [`unpack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Largest sum of all files.
    pub max_total_bytes: u64,
    /// Most files (besides bundle.toml).
    pub max_files: usize,
}

impl Default for UnpackLimits {
    /// 512 MiB per file and in total (the default offer limit), 256 files.
    fn default() -> Self {
        UnpackLimits { max_file_bytes: 512 << 20, max_total_bytes: 512 << 20, max_files: 256 }
    }
}

/// An extracted bundle.
#[derive(Debug, Clone)]
pub struct Unpacked {
    /// The extraction folder.
    pub dir: PathBuf,
    pub meta: BundleMeta,
    /// `<dir>/model/<name>.toml`.
    pub manifest_path: PathBuf,
    /// The ONNX file the manifest names.
    pub model_path: PathBuf,
    pub selftest: Option<SelfTest>,
}

/// Extracts a bundle into `dest_dir`, which must not exist yet (it is created, and removed again on any
/// error). **Call only after [`verify_file`] succeeded on the same file**: the checks here are against
/// `bundle.toml`, which is only authentic once the signature is verified.
///
/// Refuses: anything but regular files (symlinks, hard links, devices, directories), absolute paths, `..`,
/// names outside `model/` and `selftest/`, files not listed in `bundle.toml`, listed files that are
/// missing, duplicates, size or sha256 different from the listing, and anything over `limits`.
pub fn unpack(bundle_path: &Path, dest_dir: &Path, limits: &UnpackLimits) -> Result<Unpacked, UpdateError> {
    if fs::symlink_metadata(dest_dir).is_ok() {
        return Err(UpdateError::Invalid(format!("extraction folder {} already exists", dest_dir.display())));
    }
    if let Some(parent) = dest_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_at("creating", parent))?;
    }
    fs::create_dir(dest_dir).map_err(io_at("creating", dest_dir))?;
    let result = unpack_into(bundle_path, dest_dir, limits);
    if result.is_err() {
        if let Err(e) = fs::remove_dir_all(dest_dir) {
            tracing::warn!(dir = %dest_dir.display(), error = %e, "could not remove partial extraction");
        }
    }
    result
}

fn check_limits(meta: &BundleMeta, limits: &UnpackLimits) -> Result<(), UpdateError> {
    if meta.files.len() > limits.max_files {
        return Err(UpdateError::TooManyFiles { count: meta.files.len(), limit: limits.max_files });
    }
    for f in &meta.files {
        if f.size > limits.max_file_bytes {
            return Err(UpdateError::BundleTooLarge { what: f.path.clone(), size: f.size, limit: limits.max_file_bytes });
        }
    }
    let total = meta.total_size();
    if total > limits.max_total_bytes {
        return Err(UpdateError::BundleTooLarge { what: "all files together".into(), size: total, limit: limits.max_total_bytes });
    }
    Ok(())
}

fn unpack_into(bundle_path: &Path, dest: &Path, limits: &UnpackLimits) -> Result<Unpacked, UpdateError> {
    let file = File::open(bundle_path).map_err(io_at("opening bundle", bundle_path))?;
    let mut archive = tar::Archive::new(BufReader::new(file));
    let mut entries = archive.entries().map_err(io_at("reading bundle", bundle_path))?;
    let meta = read_meta_entry(entries.next(), bundle_path)?;
    check_limits(&meta, limits)?;

    let listed: BTreeMap<&str, &FileEntry> = meta.files.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut seen = BTreeSet::new();
    for entry in entries {
        let mut entry = entry.map_err(io_at("reading bundle", bundle_path))?;
        let path = entry_path(&entry)?;
        if path == META_FILE {
            return Err(UpdateError::DuplicateFile(path));
        }
        check_bundle_path(&path)?;
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(UpdateError::UnsupportedEntry { path, kind: entry_kind(kind) });
        }
        let Some(listing) = listed.get(path.as_str()) else {
            return Err(UpdateError::UnlistedFile(path));
        };
        if !seen.insert(path.clone()) {
            return Err(UpdateError::DuplicateFile(path));
        }
        let size = entry.size();
        if size > limits.max_file_bytes {
            return Err(UpdateError::BundleTooLarge { what: path, size, limit: limits.max_file_bytes });
        }
        if size != listing.size {
            return Err(UpdateError::FileSizeMismatch { path, listed: listing.size, actual: size });
        }
        let target = dest.join(&path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_at("creating", parent))?;
        }
        let out = fs::OpenOptions::new().write(true).create_new(true).open(&target).map_err(io_at("creating", &target))?;
        let mut out = BufWriter::new(out);
        let mut reader = HashingReader { inner: (&mut entry).take(size), hasher: Sha256::new(), len: 0 };
        io::copy(&mut reader, &mut out).map_err(io_at("extracting", &target))?;
        out.flush().map_err(io_at("writing", &target))?;
        let HashingReader { hasher, len, .. } = reader;
        if len != size {
            return Err(UpdateError::FileSizeMismatch { path, listed: listing.size, actual: len });
        }
        let actual = hex::encode(hasher.finalize());
        if actual != listing.sha256 {
            return Err(UpdateError::FileDigestMismatch { path, listed: listing.sha256.clone(), actual });
        }
    }
    if let Some(missing) = meta.files.iter().find(|f| !seen.contains(&f.path)) {
        return Err(UpdateError::MissingFile(missing.path.clone()));
    }

    // The manifest must name a bundled ONNX file, with a matching sha256 when it carries one.
    let manifest = meta
        .manifest()
        .ok_or_else(|| UpdateError::BundleMeta("files: no model manifest".into()))?;
    let manifest_path = dest.join(&manifest.path);
    let text = read_bounded_text(&manifest_path, MAX_MANIFEST_BYTES, "model manifest")?;
    let (model_file, manifest_sha) = manifest_model_ref(&text, &manifest.path)?;
    let model_entry = format!("model/{model_file}");
    let Some(model_listing) = meta.file(&model_entry) else {
        return Err(UpdateError::Manifest {
            path: manifest.path.clone(),
            reason: format!("`file` {} is not in the bundle", clip(&model_file)),
        });
    };
    if let Some(expected) = manifest_sha {
        if expected != model_listing.sha256 {
            return Err(UpdateError::Manifest {
                path: manifest.path.clone(),
                reason: format!("`sha256` is {expected} but {model_entry} is {}", model_listing.sha256),
            });
        }
    }
    let selftest = if meta.file(&format!("selftest/{EXPECTED_FILE}")).is_some() {
        Some(selftest::load(&dest.join("selftest"))?)
    } else {
        None
    };
    Ok(Unpacked {
        dir: dest.to_path_buf(),
        model_path: dest.join(&model_entry),
        manifest_path,
        meta,
        selftest,
    })
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
pub(crate) mod tests;
