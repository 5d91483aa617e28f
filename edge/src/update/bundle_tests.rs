//! Tests of `bundle.rs`: pack/sign/verify, and `unpack` against hand-crafted hostile tars.

use super::*;
use crate::update::keys::{generate, TrustStore, TrustedKey};
use tempfile::TempDir;

/// A model folder with a manifest, a fake ONNX file and a self-test set.
pub(crate) fn fixture() -> (TempDir, PackInput) {
    let tmp = tempfile::tempdir().unwrap();
    let models = tmp.path().join("models");
    fs::create_dir_all(&models).unwrap();
    let onnx = b"not really onnx, but bytes";
    let sha = hex::encode(Sha256::digest(onnx));
    fs::write(models.join("people.onnx"), onnx).unwrap();
    fs::write(
        models.join("people.toml"),
        format!("name = \"people\"\nfile = \"people.onnx\"\nsha256 = \"{sha}\"\n\n[input]\nwidth = 512\n"),
    )
    .unwrap();
    let st = tmp.path().join("selftest");
    fs::create_dir_all(&st).unwrap();
    fs::write(st.join("frame0.png"), b"\x89PNG fake").unwrap();
    fs::write(st.join("unrelated.txt"), b"not packed").unwrap();
    fs::write(
        st.join(EXPECTED_FILE),
        r#"{"format":"kaiteki-selftest-v1","iou":0.5,"frames":[{"image":"frame0.png","detections":[{"label":"person","box":[1,2,30,40],"min_score":0.3}],"allow_extra":true}]}"#,
    )
    .unwrap();
    let input = PackInput {
        model_slot: "people".into(),
        version: Version::parse("2.0.0").unwrap(),
        manifest_path: models.join("people.toml"),
        selftest_dir: Some(st),
        notes: Some("winter retrain".into()),
        created: Some(time::macros::datetime!(2025-01-02 03:04:05 UTC)),
    };
    (tmp, input)
}

fn trust_of(keys: &[&SigningKey]) -> TrustStore {
    let entries: Vec<TrustedKey> = keys
        .iter()
        .map(|k| TrustedKey { id: Some(KeyId::of(&k.verifying_key()).to_string()), key: B64.encode(k.verifying_key().as_bytes()) })
        .collect();
    TrustStore::try_from(entries).unwrap()
}

#[test]
fn pack_sign_verify_unpack() {
    let (tmp, input) = fixture();
    let out = tmp.path().join("people-2.0.0.ktb");
    let info = pack(&input, &out).unwrap();
    assert_eq!(info.size, fs::metadata(&out).unwrap().len());
    assert_eq!(info.digest, digest_file(&out).unwrap());
    let paths: Vec<&str> = info.meta.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["model/people.onnx", "model/people.toml", "selftest/expected.json", "selftest/frame0.png"]);
    assert_eq!(read_meta(&out).unwrap(), info.meta);

    // Deterministic: the same input gives the same bytes.
    let again = pack(&input, &tmp.path().join("again.ktb")).unwrap();
    assert_eq!(again.digest, info.digest);

    let key = generate().unwrap();
    let sig = sign(&out, &key).unwrap();
    let sig_path = SignatureFile::path_for(&out);
    assert!(sig_path.to_string_lossy().ends_with("people-2.0.0.ktb.sig"));
    sig.write(&sig_path).unwrap();
    let sig = SignatureFile::read(&sig_path).unwrap();
    let meta = verify_file(&out, &sig, &trust_of(&[&key])).unwrap();
    assert_eq!(meta.model, "people");
    assert_eq!(meta.version, Version::new(2, 0, 0));
    assert_eq!(meta.notes.as_deref(), Some("winter retrain"));

    let dest = tmp.path().join("staged");
    let unpacked = unpack(&out, &dest, &UnpackLimits::default()).unwrap();
    assert_eq!(unpacked.manifest_path, dest.join("model/people.toml"));
    assert_eq!(fs::read(&unpacked.model_path).unwrap(), b"not really onnx, but bytes");
    let st = unpacked.selftest.unwrap();
    assert_eq!(st.expected.frames[0].image, "frame0.png");
    assert!(!dest.join("selftest/unrelated.txt").exists());
    // The destination must be fresh.
    assert!(unpack(&out, &dest, &UnpackLimits::default()).is_err());
}

#[test]
fn verify_rejections() {
    let (tmp, input) = fixture();
    let out = tmp.path().join("b.ktb");
    pack(&input, &out).unwrap();
    let old = generate().unwrap();
    let new = generate().unwrap();
    let sig_old = sign(&out, &old).unwrap();
    let sig_new = sign(&out, &new).unwrap();

    // Key rotation: a store with both keys accepts either signature.
    let both = trust_of(&[&old, &new]);
    verify_file(&out, &sig_old, &both).unwrap();
    verify_file(&out, &sig_new, &both).unwrap();

    // Another key's trust store: unknown key.
    let e = verify_file(&out, &sig_old, &trust_of(&[&new])).unwrap_err();
    assert_eq!(e.to_string(), format!("signature by unknown key {}", KeyId::of(&old.verifying_key())));

    // A flipped signature byte: bad signature.
    let mut bytes = sig_old.signature.to_bytes();
    bytes[10] ^= 1;
    let flipped = SignatureFile { signature: Signature::from_bytes(&bytes), ..sig_old };
    let e = verify_file(&out, &flipped, &both).unwrap_err();
    assert!(matches!(e, UpdateError::BadSignature(_)), "{e}");
    assert!(e.to_string().starts_with("bad signature by key "), "{e}");

    // A flipped byte in the bundle: digest mismatch.
    let mut data = fs::read(&out).unwrap();
    let n = data.len() / 2;
    data[n] ^= 0x40;
    fs::write(&out, &data).unwrap();
    let e = verify_file(&out, &sig_old, &both).unwrap_err();
    assert!(e.to_string().starts_with("digest mismatch: signature says "), "{e}");

    // A trusted key whose configured id is wrong is a config error.
    let e = TrustStore::from_config(&[TrustedKey { id: Some("ffffffffffffffff".into()), key: B64.encode(old.verifying_key().as_bytes()) }])
        .unwrap_err();
    assert!(matches!(e, UpdateError::TrustedKeyIdMismatch { .. }), "{e}");
}

#[test]
fn signature_file_parse_errors() {
    let key = generate().unwrap();
    let sig = SignatureFile { key_id: KeyId::of(&key.verifying_key()), digest: [3; 32], signature: sign_digest(&key, &[3; 32]) };
    let json = sig.to_json();
    assert!(json.starts_with("{\"format\":\"kaiteki-bundle-sig-v1\",\"key_id\":\""), "{json}");
    assert_eq!(SignatureFile::parse(json.as_bytes()).unwrap(), sig);
    for (from, to, needle) in [
        ("kaiteki-bundle-sig-v1", "v2", "format"),
        ("\"digest\":\"03", "\"digest\":\"0X", "digest"),
        ("\"key_id\":\"", "\"key_id\":\"z", "key_id"),
        ("\"signature\":\"", "\"signature\":\"AAAA", "signature"),
        ("{", "{\"extra\":1,", "unknown field `extra`"),
    ] {
        let e = SignatureFile::parse(json.replacen(from, to, 1).as_bytes()).unwrap_err().to_string();
        assert!(e.starts_with("signature file: ") && e.contains(needle), "{needle}: {e}");
    }
}

#[test]
fn pack_rejections() {
    let (tmp, input) = fixture();
    let out = tmp.path().join("b.ktb");
    // Manifest sha256 that does not match the ONNX file.
    let manifest = fs::read_to_string(&input.manifest_path).unwrap();
    let bad = format!("file = \"people.onnx\"\nsha256 = \"{}\"\n", "0".repeat(64));
    fs::write(&input.manifest_path, &bad).unwrap();
    let e = pack(&input, &out).unwrap_err().to_string();
    assert!(e.contains("`sha256` is 0000") && e.contains("people.onnx is"), "{e}");
    // `file` escaping the manifest's folder.
    fs::write(&input.manifest_path, "file = \"../secret.onnx\"\n").unwrap();
    let e = pack(&input, &out).unwrap_err().to_string();
    assert!(e.contains("`file`") && e.contains("relative path"), "{e}");
    fs::write(&input.manifest_path, "name = \"x\"\n").unwrap();
    assert!(pack(&input, &out).unwrap_err().to_string().contains("`file` (the ONNX file) is missing"));
    // Bad slot name.
    fs::write(&input.manifest_path, manifest).unwrap();
    let bad_slot = PackInput { model_slot: "a/b".into(), ..input.clone() };
    assert!(pack(&bad_slot, &out).unwrap_err().to_string().contains("model slot"));
    assert!(!out.exists());
    pack(&input, &out).unwrap();
}

// ---- unpack against hand-made tars ----

const ONNX: &[u8] = b"onnx-bytes";
const MANIFEST: &[u8] = b"file = \"m.onnx\"\n";

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// bundle.toml text listing `files` (path, size, sha256).
fn meta_text(files: &[(&str, u64, String)]) -> String {
    let mut s = format!(
        "format = \"{BUNDLE_FORMAT}\"\nmodel = \"people\"\nversion = \"1.0.0\"\ncreated = \"2025-01-01T00:00:00Z\"\n"
    );
    for (path, size, sha) in files {
        s.push_str(&format!("\n[[files]]\npath = \"{path}\"\nsize = {size}\nsha256 = \"{sha}\"\n"));
    }
    s
}

fn standard_listing() -> Vec<(&'static str, u64, String)> {
    vec![("model/m.onnx", ONNX.len() as u64, sha(ONNX)), ("model/m.toml", MANIFEST.len() as u64, sha(MANIFEST))]
}

/// A raw tar entry: name bytes written straight into the header (bypassing the tar crate's own path
/// checks), entry type, data, optional link target.
struct Raw<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    data: &'a [u8],
    link: Option<&'a [u8]>,
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Raw<'a> {
    Raw { name: name.as_bytes(), kind: tar::EntryType::Regular, data, link: None }
}

fn raw_tar(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..e.name.len()].copy_from_slice(e.name);
        if let Some(link) = e.link {
            h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        }
        h.set_entry_type(e.kind);
        h.set_size(e.data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append(&h, e.data).unwrap();
    }
    builder.into_inner().unwrap()
}

fn unpack_bytes(tar: &[u8], limits: &UnpackLimits) -> Result<Unpacked, UpdateError> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("b.ktb");
    fs::write(&path, tar).unwrap();
    let dest = tmp.path().join("out");
    let result = unpack(&path, &dest, limits);
    if result.is_err() {
        assert!(!dest.exists(), "partial extraction left behind");
    }
    result
}

fn expect_err(entries: &[Raw<'_>], needle: &str) -> UpdateError {
    let e = unpack_bytes(&raw_tar(entries), &UnpackLimits::default()).unwrap_err();
    assert!(e.to_string().contains(needle), "expected {needle:?} in {e}");
    e
}

#[test]
fn unpack_handmade_ok() {
    let meta = meta_text(&standard_listing());
    let tar = raw_tar(&[file("bundle.toml", meta.as_bytes()), file("model/m.toml", MANIFEST), file("model/m.onnx", ONNX)]);
    let u = unpack_bytes(&tar, &UnpackLimits::default()).unwrap();
    assert!(u.selftest.is_none());
    assert!(u.model_path.ends_with("model/m.onnx"));
}

#[test]
fn unpack_rejects_path_traversal_and_absolute() {
    let meta = meta_text(&standard_listing());
    let e = expect_err(
        &[file("bundle.toml", meta.as_bytes()), file("model/../../evil", b"x"), file("model/m.toml", MANIFEST)],
        "unsafe path in bundle: \"model/../../evil\" (`..` component)",
    );
    assert!(matches!(e, UpdateError::UnsafePath(_)));
    expect_err(&[file("bundle.toml", meta.as_bytes()), file("/etc/passwd", b"x")], "(absolute path)");
    expect_err(&[file("bundle.toml", meta.as_bytes()), file("etc/passwd", b"x")], "outside model/ and selftest/");
    // The listing itself may not name such paths either.
    let mut listing = standard_listing();
    listing.push(("model/../x", 1, sha(b"x")));
    expect_err(&[file("bundle.toml", meta_text(&listing).as_bytes())], "`..` component");
}

#[test]
fn unpack_rejects_links_and_devices() {
    let meta = meta_text(&standard_listing());
    let e = expect_err(
        &[
            file("bundle.toml", meta.as_bytes()),
            Raw { name: b"model/m.onnx", kind: tar::EntryType::Symlink, data: b"", link: Some(b"/etc/shadow") },
        ],
        "model/m.onnx is a symbolic link",
    );
    assert!(matches!(e, UpdateError::UnsupportedEntry { .. }));
    expect_err(
        &[
            file("bundle.toml", meta.as_bytes()),
            Raw { name: b"model/m.onnx", kind: tar::EntryType::Link, data: b"", link: Some(b"model/m.toml") },
        ],
        "is a hard link",
    );
    expect_err(
        &[file("bundle.toml", meta.as_bytes()), Raw { name: b"model/dev", kind: tar::EntryType::Char, data: b"", link: None }],
        "is a character device",
    );
    expect_err(
        &[file("bundle.toml", meta.as_bytes()), Raw { name: b"model/sub", kind: tar::EntryType::Directory, data: b"", link: None }],
        "is a directory",
    );
}

#[test]
fn unpack_rejects_listing_mismatches() {
    let meta = meta_text(&standard_listing());
    let m = meta.as_bytes();
    expect_err(
        &[file("bundle.toml", m), file("model/m.toml", MANIFEST), file("model/m.onnx", ONNX), file("model/extra.bin", b"x")],
        "not listed in bundle.toml: model/extra.bin",
    );
    expect_err(&[file("bundle.toml", m), file("model/m.toml", MANIFEST)], "missing from the bundle: model/m.onnx");
    expect_err(
        &[file("bundle.toml", m), file("model/m.toml", MANIFEST), file("model/m.onnx", b"onnx-BYTES")],
        "sha256 mismatch for model/m.onnx",
    );
    expect_err(
        &[file("bundle.toml", m), file("model/m.toml", MANIFEST), file("model/m.onnx", b"short")],
        "size mismatch for model/m.onnx: bundle.toml says 10 bytes, file is 5",
    );
    expect_err(
        &[file("bundle.toml", m), file("model/m.toml", MANIFEST), file("model/m.toml", MANIFEST)],
        "duplicate file in bundle: model/m.toml",
    );
    expect_err(&[file("model/m.toml", MANIFEST), file("bundle.toml", m)], "bundle.toml: must be the first entry");
    expect_err(&[], "bundle.toml: missing");
    let wrong_format = meta.replace(BUNDLE_FORMAT, "kaiteki-bundle-v9");
    expect_err(&[file("bundle.toml", wrong_format.as_bytes())], "bundle.toml: format: expected kaiteki-bundle-v1");
    let bad_version = meta.replace("1.0.0", "one");
    expect_err(&[file("bundle.toml", bad_version.as_bytes())], "bundle.toml: version: \"one\" is not a semver");
    let unknown = format!("extra = 1\n{meta}");
    expect_err(&[file("bundle.toml", unknown.as_bytes())], "extra");
    // The manifest must name a bundled file.
    let other = b"file = \"other.onnx\"\n";
    let listing = vec![("model/m.onnx", ONNX.len() as u64, sha(ONNX)), ("model/m.toml", other.len() as u64, sha(other))];
    expect_err(
        &[file("bundle.toml", meta_text(&listing).as_bytes()), file("model/m.toml", other), file("model/m.onnx", ONNX)],
        "`file` \"other.onnx\" is not in the bundle",
    );
}

#[test]
fn unpack_rejects_oversize() {
    let meta = meta_text(&standard_listing());
    let tar = raw_tar(&[file("bundle.toml", meta.as_bytes()), file("model/m.toml", MANIFEST), file("model/m.onnx", ONNX)]);
    let per_file = UnpackLimits { max_file_bytes: 12, ..UnpackLimits::default() };
    let e = unpack_bytes(&tar, &per_file).unwrap_err();
    assert_eq!(e.to_string(), "bundle too large: model/m.toml is 16 bytes, limit 12");
    let total = UnpackLimits { max_total_bytes: 20, ..UnpackLimits::default() };
    let e = unpack_bytes(&tar, &total).unwrap_err().to_string();
    assert!(e.contains("all files together is 26 bytes, limit 20"), "{e}");
    let count = UnpackLimits { max_files: 1, ..UnpackLimits::default() };
    assert!(matches!(unpack_bytes(&tar, &count), Err(UpdateError::TooManyFiles { count: 2, limit: 1 })));
    // An entry whose header is larger than the listing says (the listing is what limits are checked on).
    let big = vec![0u8; 4096];
    let e = expect_err(
        &[file("bundle.toml", meta.as_bytes()), file("model/m.toml", MANIFEST), file("model/m.onnx", &big)],
        "size mismatch for model/m.onnx",
    );
    assert!(matches!(e, UpdateError::FileSizeMismatch { .. }));
    // An oversized bundle.toml is refused before it is read.
    let huge = vec![b'#'; (MAX_META_BYTES + 1) as usize];
    expect_err(&[file("bundle.toml", &huge)], "bundle too large: bundle.toml");
}

#[test]
fn bundle_paths() {
    for ok in ["model/a.onnx", "selftest/frame0.png", "model/sub/x+y-1_2.bin"] {
        check_bundle_path(ok).unwrap();
    }
    for bad in ["", "/model/a", "model", "model/", "model//a", "model/./a", "model/../a", "model/.hidden", "x/a", "model/a b", "model\\..\\a"] {
        assert!(check_bundle_path(bad).is_err(), "{bad}");
    }
    assert!(check_bundle_path(&format!("model/{}", "a".repeat(100))).is_err());
}
