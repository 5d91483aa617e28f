//! The resumable on-disk chunk store: a transfer survives MQTT disconnects and reboots.
//!
//! One folder per transfer (normally `<state>/updates/<digest>`, see [`Receiver::dir_for`]):
//!
//! - `offer.json`  — the offer being received; written last when a store is (re)initialised, so its
//!   presence means the other two files are complete and sized.
//! - `bundle.part` — the bundle being assembled, set to its full size up front (sparse; chunks are
//!   written at `index * chunk_size`).
//! - `have`        — one byte per chunk, 1 when that chunk's data is durably in `bundle.part`.
//! - `bundle.ktb`  — `bundle.part` renamed once its sha256 matches the offer.
//!
//! Durability order in [`Receiver::accept`]: the chunk's data is written and fsynced *before* its byte in
//! `have` is set and fsynced. A crash can therefore only lose a chunk (it is fetched again, since chunks
//! are retained), never mark a missing one as present. The final sha256 check catches anything else
//! (disk corruption, a tampered folder) and restarts the transfer.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::update::bundle::digest_file;
use crate::update::chunk::{Chunk, ChunkError};
use crate::update::error::{io_at, UpdateError};
use crate::update::names::is_lower_hex;
use crate::update::offer::{Offer, OfferLimits, MAX_OFFER_BYTES};

const OFFER_FILE: &str = "offer.json";
const OFFER_TMP: &str = "offer.json.tmp";
const PART_FILE: &str = "bundle.part";
const HAVE_FILE: &str = "have";
/// File name of the assembled, digest-checked bundle.
pub const BUNDLE_FILE: &str = "bundle.ktb";

/// How far a transfer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub have: u32,
    pub total: u32,
    pub complete: bool,
}

/// An open transfer store. Not shared between processes: the daemon owns `<state>/updates`.
#[derive(Debug)]
pub struct Receiver {
    dir: PathBuf,
    offer: Offer,
    /// `None` once the bundle has been assembled and renamed to `bundle.ktb`.
    part: Option<File>,
    have_file: File,
    have: Vec<u8>,
    count: u32,
}

impl Receiver {
    /// The conventional folder of a transfer: `<updates_dir>/<digest hex>`.
    pub fn dir_for(updates_dir: &Path, offer: &Offer) -> PathBuf {
        updates_dir.join(offer.digest_hex())
    }

    /// Opens the store in `dir`, resuming it when it holds the same transfer (same digest, size and
    /// chunking) and starting over otherwise (other offer, missing or inconsistent files).
    pub fn open(dir: &Path, offer: &Offer) -> Result<Receiver, UpdateError> {
        if !offer.is_consistent() {
            return Err(UpdateError::Invalid(format!(
                "offer with size {}, chunk_size {} and chunks {} is inconsistent",
                offer.size, offer.chunk_size, offer.chunks
            )));
        }
        fs::create_dir_all(dir).map_err(io_at("creating transfer folder", dir))?;
        match Self::resume(dir, offer) {
            Ok(Some(receiver)) => return Ok(receiver),
            Ok(None) => {}
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "transfer store unreadable; starting over"),
        }
        Self::init(dir, offer)
    }

    /// Reopens an existing store; `Ok(None)` when there is none or it belongs to another transfer.
    fn resume(dir: &Path, offer: &Offer) -> Result<Option<Receiver>, UpdateError> {
        let offer_path = dir.join(OFFER_FILE);
        let stored = match read_bounded(&offer_path, MAX_OFFER_BYTES as u64) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(UpdateError::io("reading", &offer_path, e)),
        };
        let unlimited = OfferLimits { max_bundle_bytes: u64::MAX, max_chunk_bytes: u32::MAX, max_chunks: u32::MAX };
        let Ok(stored) = Offer::parse(&stored, &unlimited) else {
            return Ok(None);
        };
        if !stored.same_transfer(offer) {
            tracing::info!(dir = %dir.display(), old = %stored.digest_hex(), new = %offer.digest_hex(),
                "transfer folder holds another offer; starting over");
            return Ok(None);
        }

        let have_path = dir.join(HAVE_FILE);
        let mut have_file = OpenOptions::new().read(true).write(true).open(&have_path).map_err(io_at("opening", &have_path))?;
        let mut have = Vec::new();
        (&mut have_file)
            .take(u64::from(offer.chunks) + 1)
            .read_to_end(&mut have)
            .map_err(io_at("reading", &have_path))?;
        if have.len() != offer.chunks as usize || have.iter().any(|&b| b > 1) {
            return Ok(None);
        }
        let count = have.iter().filter(|&&b| b == 1).count() as u32;

        let bundle_path = dir.join(BUNDLE_FILE);
        let part_path = dir.join(PART_FILE);
        let part = if count == offer.chunks && file_len(&bundle_path) == Some(offer.size) {
            None
        } else {
            let part = OpenOptions::new().read(true).write(true).open(&part_path).map_err(io_at("opening", &part_path))?;
            let len = part.metadata().map_err(io_at("reading size of", &part_path))?.len();
            if len != offer.size {
                return Ok(None);
            }
            Some(part)
        };
        if &stored != offer {
            // Same bytes, other metadata (re-signed, retargeted): keep the chunks, remember the new offer.
            write_atomic(dir, OFFER_FILE, OFFER_TMP, offer.to_json().as_bytes())?;
        }
        Ok(Some(Receiver { dir: dir.to_path_buf(), offer: offer.clone(), part, have_file, have, count }))
    }

    /// Starts a fresh store in `dir` for `offer`.
    fn init(dir: &Path, offer: &Offer) -> Result<Receiver, UpdateError> {
        // offer.json goes first and comes back last: without it the folder is never resumed.
        for name in [OFFER_FILE, OFFER_TMP, BUNDLE_FILE, PART_FILE, HAVE_FILE] {
            remove_if_exists(&dir.join(name))?;
        }
        let part_path = dir.join(PART_FILE);
        let part = create_rw(&part_path)?;
        part.set_len(offer.size).map_err(io_at("sizing", &part_path))?;
        part.sync_all().map_err(io_at("syncing", &part_path))?;

        let have_path = dir.join(HAVE_FILE);
        let mut have_file = create_rw(&have_path)?;
        let have = vec![0u8; offer.chunks as usize];
        have_file.write_all(&have).map_err(io_at("writing", &have_path))?;
        have_file.sync_all().map_err(io_at("syncing", &have_path))?;

        write_atomic(dir, OFFER_FILE, OFFER_TMP, offer.to_json().as_bytes())?;
        Ok(Receiver { dir: dir.to_path_buf(), offer: offer.clone(), part: Some(part), have_file, have, count: 0 })
    }

    /// The offer being received.
    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    /// The transfer folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How many chunks are stored.
    pub fn progress(&self) -> Progress {
        Progress { have: self.count, total: self.offer.chunks, complete: self.count == self.offer.chunks }
    }

    /// Indexes of the chunks still missing (for logging or re-requesting).
    pub fn missing(&self) -> Vec<u32> {
        self.have.iter().enumerate().filter(|(_, &b)| b == 0).map(|(i, _)| i as u32).collect()
    }

    /// Stores a chunk (decoded with [`Chunk::decode`] against this offer). Idempotent: a chunk already
    /// stored is ignored. The data is fsynced before the `have` byte (see the module docs).
    pub fn accept(&mut self, chunk: &Chunk) -> Result<Progress, UpdateError> {
        if chunk.total != self.offer.chunks {
            return Err(ChunkError::TotalMismatch { index: chunk.index, total: chunk.total, expected: self.offer.chunks }.into());
        }
        let expected = self
            .offer
            .chunk_len(chunk.index)
            .ok_or(ChunkError::IndexOutOfRange { index: chunk.index, total: self.offer.chunks })?;
        if chunk.data.len() != expected {
            return Err(ChunkError::WrongLength { index: chunk.index, len: chunk.data.len(), expected }.into());
        }
        let i = chunk.index as usize;
        if self.have.get(i).is_none_or(|&b| b == 1) {
            return Ok(self.progress());
        }
        let part_path = self.dir.join(PART_FILE);
        let Some(part) = self.part.as_mut() else {
            // Unreachable in practice: the part file is only gone when every chunk is present.
            return Ok(self.progress());
        };
        let offset = u64::from(chunk.index) * u64::from(self.offer.chunk_size);
        part.seek(SeekFrom::Start(offset)).map_err(io_at("seeking in", &part_path))?;
        part.write_all(&chunk.data).map_err(io_at("writing chunk to", &part_path))?;
        part.sync_data().map_err(io_at("syncing", &part_path))?;

        let have_path = self.dir.join(HAVE_FILE);
        self.have_file.seek(SeekFrom::Start(i as u64)).map_err(io_at("seeking in", &have_path))?;
        self.have_file.write_all(&[1]).map_err(io_at("writing", &have_path))?;
        self.have_file.sync_data().map_err(io_at("syncing", &have_path))?;
        if let Some(slot) = self.have.get_mut(i) {
            *slot = 1;
            self.count += 1;
        }
        Ok(self.progress())
    }

    /// Completes the transfer: checks the assembled file's sha256 against the offer digest and renames it to
    /// `bundle.ktb`. On a mismatch the store is reset (every chunk is fetched again) and
    /// [`UpdateError::AssembledDigestMismatch`] is returned. Calling it again after success re-checks and
    /// returns the same path (e.g. after a reboot between assembly and installation).
    pub fn finish(&mut self) -> Result<PathBuf, UpdateError> {
        let progress = self.progress();
        if !progress.complete {
            return Err(UpdateError::Incomplete { have: progress.have, total: progress.total });
        }
        let bundle_path = self.dir.join(BUNDLE_FILE);
        let source = if self.part.is_some() { self.dir.join(PART_FILE) } else { bundle_path.clone() };
        let actual = digest_file(&source)?;
        if actual != self.offer.digest {
            tracing::warn!(dir = %self.dir.display(), "assembled bundle digest mismatch; restarting transfer");
            let (dir, offer) = (self.dir.clone(), self.offer.clone());
            *self = Self::init(&dir, &offer)?;
            return Err(UpdateError::AssembledDigestMismatch {
                expected: self.offer.digest_hex(),
                actual: hex::encode(actual),
            });
        }
        if self.part.take().is_some() {
            fs::rename(&source, &bundle_path).map_err(io_at("renaming assembled bundle", &source))?;
            sync_dir(&self.dir)?;
        }
        Ok(bundle_path)
    }

    /// Removes a transfer folder and everything in it (after installation, or when an offer is withdrawn).
    pub fn discard(dir: &Path) -> Result<(), UpdateError> {
        match fs::remove_dir_all(dir) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(UpdateError::io("removing transfer folder", dir, e)),
            _ => Ok(()),
        }
    }
}

/// Removes every transfer folder in `updates_dir` except `keep_digest`'s. Only folders named like a
/// digest (64 lowercase hex) are touched, so nothing else that lives there is at risk. Returns what was
/// removed.
pub fn prune(updates_dir: &Path, keep_digest: Option<&str>) -> Result<Vec<PathBuf>, UpdateError> {
    let entries = match fs::read_dir(updates_dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(UpdateError::io("listing", updates_dir, e)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_at("listing", updates_dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_lower_hex(name, 64) || Some(name) == keep_digest {
            continue;
        }
        let path = entry.path();
        let is_dir = fs::symlink_metadata(&path).map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            Receiver::discard(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

fn file_len(path: &Path) -> Option<u64> {
    fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len())
}

fn read_bounded(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "file too large"));
    }
    Ok(bytes)
}

fn create_rw(path: &Path) -> Result<File, UpdateError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(io_at("creating", path))
}

fn remove_if_exists(path: &Path) -> Result<(), UpdateError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(UpdateError::io("removing", path, e)),
        _ => Ok(()),
    }
}

/// Writes `dir/name` via a synced temporary file and a rename, then syncs the folder.
pub(crate) fn write_atomic(dir: &Path, name: &str, tmp_name: &str, contents: &[u8]) -> Result<(), UpdateError> {
    let tmp = dir.join(tmp_name);
    let mut file = create_rw(&tmp)?;
    file.write_all(contents).map_err(io_at("writing", &tmp))?;
    file.sync_all().map_err(io_at("syncing", &tmp))?;
    let path = dir.join(name);
    fs::rename(&tmp, &path).map_err(io_at("renaming", &tmp))?;
    sync_dir(dir)
}

/// Makes renames and new files in `dir` durable (a no-op where folders cannot be opened).
fn sync_dir(dir: &Path) -> Result<(), UpdateError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_at("syncing folder", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::update::chunk::split;
    use crate::update::offer::test_offer as offer_for;

    fn bundle(seed: u32) -> Vec<u8> {
        (0..5000u32).map(|i| ((i * 31 + seed) % 253) as u8).collect()
    }

    #[test]
    fn out_of_order_duplicates_and_reboot() {
        let tmp = tempfile::tempdir().unwrap();
        let b = bundle(1);
        let offer = offer_for(&b, 512);
        let chunks = split(&b[..], 512).unwrap();
        assert_eq!(chunks.len(), 10);
        let dir = Receiver::dir_for(tmp.path(), &offer);

        let mut rx = Receiver::open(&dir, &offer).unwrap();
        assert_eq!(rx.progress(), Progress { have: 0, total: 10, complete: false });
        assert!(matches!(rx.finish(), Err(UpdateError::Incomplete { have: 0, total: 10 })));
        for i in [9, 3, 3, 0, 7, 9] {
            rx.accept(&chunks[i]).unwrap();
        }
        assert_eq!(rx.progress().have, 4);
        drop(rx); // simulated reboot

        let mut rx = Receiver::open(&dir, &offer).unwrap();
        assert_eq!(rx.progress().have, 4);
        assert_eq!(rx.missing(), vec![1, 2, 4, 5, 6, 8]);
        let mut last = None;
        for i in [8, 1, 2, 0, 6, 5, 4] {
            last = Some(rx.accept(&chunks[i]).unwrap());
        }
        assert_eq!(last.unwrap(), Progress { have: 10, total: 10, complete: true });
        let path = rx.finish().unwrap();
        assert_eq!(path, dir.join(BUNDLE_FILE));
        assert_eq!(fs::read(&path).unwrap(), b);
        assert!(!dir.join(PART_FILE).exists());
        // Finishing again (or after another reboot) returns the same checked file.
        assert_eq!(rx.finish().unwrap(), path);
        drop(rx);
        let mut rx = Receiver::open(&dir, &offer).unwrap();
        assert!(rx.progress().complete);
        assert_eq!(rx.finish().unwrap(), path);
        assert_eq!(rx.accept(&chunks[0]).unwrap().have, 10);
    }

    #[test]
    fn corrupted_part_restarts() {
        let tmp = tempfile::tempdir().unwrap();
        let b = bundle(2);
        let offer = offer_for(&b, 1000);
        let chunks = split(&b[..], 1000).unwrap();
        let dir = tmp.path().join("t");
        let mut rx = Receiver::open(&dir, &offer).unwrap();
        for c in &chunks {
            rx.accept(c).unwrap();
        }
        // Flip a byte behind the receiver's back (disk corruption, tampering).
        let part = dir.join(PART_FILE);
        let mut bytes = fs::read(&part).unwrap();
        bytes[1234] ^= 0xff;
        fs::write(&part, bytes).unwrap();
        let e = rx.finish().unwrap_err();
        assert!(e.to_string().starts_with("assembled bundle digest mismatch"), "{e}");
        assert_eq!(rx.progress().have, 0);
        assert_eq!(fs::read(dir.join(HAVE_FILE)).unwrap(), vec![0; 5]);
        for c in &chunks {
            rx.accept(c).unwrap();
        }
        assert_eq!(fs::read(rx.finish().unwrap()).unwrap(), b);
    }

    #[test]
    fn other_offer_starts_over_and_bad_chunks_rejected() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        let b1 = bundle(3);
        let o1 = offer_for(&b1, 1000);
        let mut rx = Receiver::open(&dir, &o1).unwrap();
        rx.accept(&split(&b1[..], 1000).unwrap()[0]).unwrap();
        drop(rx);
        // Same bytes, different signer: chunks kept.
        let o1b = offer_for(&b1, 1000);
        assert_eq!(Receiver::open(&dir, &o1b).unwrap().progress().have, 1);
        // Different bundle: start over.
        let b2 = bundle(4);
        let o2 = offer_for(&b2, 1000);
        let mut rx = Receiver::open(&dir, &o2).unwrap();
        assert_eq!(rx.progress().have, 0);
        // Chunk of another chunking is rejected.
        let wrong = split(&b2[..], 700).unwrap();
        assert!(matches!(rx.accept(&wrong[0]), Err(UpdateError::Chunk(ChunkError::TotalMismatch { .. }))));
        let short = Chunk { index: 0, total: 5, data: vec![0; 10] };
        assert!(matches!(rx.accept(&short), Err(UpdateError::Chunk(ChunkError::WrongLength { index: 0, .. }))));
        drop(rx);
        // A damaged bitmap starts over instead of failing.
        fs::write(dir.join(HAVE_FILE), [7u8; 5]).unwrap();
        assert_eq!(Receiver::open(&dir, &o2).unwrap().progress().have, 0);
        fs::write(dir.join(OFFER_FILE), b"garbage").unwrap();
        assert_eq!(Receiver::open(&dir, &o2).unwrap().progress().have, 0);
    }

    #[test]
    fn inconsistent_offer_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let mut offer = offer_for(&bundle(5), 1000);
        offer.chunks = 7;
        assert!(Receiver::open(tmp.path(), &offer).unwrap_err().to_string().contains("inconsistent"));
    }

    #[test]
    fn prune_and_discard() {
        let tmp = tempfile::tempdir().unwrap();
        let keep = "a".repeat(64);
        let other = "b".repeat(64);
        for name in [&keep, &other, &"unrelated".to_string()] {
            fs::create_dir_all(tmp.path().join(name)).unwrap();
            fs::write(tmp.path().join(name).join("x"), b"1").unwrap();
        }
        let removed = prune(tmp.path(), Some(&keep)).unwrap();
        assert_eq!(removed, vec![tmp.path().join(&other)]);
        assert!(tmp.path().join(&keep).exists() && tmp.path().join("unrelated").exists());
        Receiver::discard(&tmp.path().join(&keep)).unwrap();
        Receiver::discard(&tmp.path().join(&keep)).unwrap();
        assert!(!tmp.path().join(&keep).exists());
        assert!(prune(&tmp.path().join("missing"), None).unwrap().is_empty());
    }
}
