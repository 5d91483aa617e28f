//! End-to-end flow across the modules, as the daemon will drive it: pack and sign on the publishing side,
//! offer and chunks over (simulated) MQTT, resumable reception with a reboot, verification, version policy,
//! unpacking and the status report.

use std::fs;

use crate::update::bundle::{self, SignatureFile, UnpackLimits};
use crate::update::chunk::{split, Chunk};
use crate::update::keys::{generate, TrustStore};
use crate::update::offer::{Offer, OfferLimits, Target};
use crate::update::receive::Receiver;
use crate::update::status::{Status, UpdateState};
use crate::update::version::{check_version, VersionDecision};
use crate::update::UpdateError;

#[test]
fn publish_transfer_verify_install() {
    let (tmp, input) = bundle::tests::fixture();
    let key = generate().unwrap();
    let out = tmp.path().join("people.ktb");
    let info = bundle::pack(&input, &out).unwrap();
    let sig = bundle::sign(&out, &key).unwrap();

    // Push side: the offer and the chunk messages.
    let limits = OfferLimits { max_chunk_bytes: 4096, ..OfferLimits::default() };
    let offer = Offer::for_bundle(&info.meta, &sig, info.size, 1024, Target::Group("buses".into()), false, &limits).unwrap();
    let offer_bytes = offer.to_json().into_bytes();
    let wire: Vec<(String, Vec<u8>)> = split(fs::File::open(&out).unwrap(), offer.chunk_size)
        .unwrap()
        .iter()
        .map(|c| (offer.chunk_topic("kaiteki", c.index), c.encode()))
        .collect();
    assert_eq!(wire.len() as u32, offer.chunks);

    // Device side.
    let mut trust = TrustStore::new();
    trust.add(key.verifying_key());
    let offer = Offer::parse(&offer_bytes, &limits).unwrap();
    offer.verify_signature(&trust).unwrap();
    let updates = tmp.path().join("state/updates");
    let dir = Receiver::dir_for(&updates, &offer);
    let mut rx = Receiver::open(&dir, &offer).unwrap();
    let half = wire.len() / 2;
    for (topic, payload) in wire.iter().take(half) {
        let chunk = Chunk::decode(payload, &offer).unwrap();
        assert_eq!(offer.chunk_index_from_topic("kaiteki", topic), Some(chunk.index));
        rx.accept(&chunk).unwrap();
    }
    let status = Status::for_offer("pole-17", &offer, UpdateState::Receiving).with_progress(rx.progress().have, rx.progress().total);
    assert!(status.to_json().contains("\"state\":\"receiving\""));
    drop(rx); // reboot
    let mut rx = Receiver::open(&dir, &offer).unwrap();
    assert_eq!(rx.progress().have as usize, half);
    for (_, payload) in wire.iter().rev() {
        rx.accept(&Chunk::decode(payload, &offer).unwrap()).unwrap();
    }
    let assembled = rx.finish().unwrap();
    let meta = bundle::verify_file(&assembled, &offer.signature_file(), &trust).unwrap();
    assert_eq!(meta.version, offer.version);
    let current = semver::Version::new(1, 0, 0);
    assert_eq!(check_version(Some(&current), &meta.version, offer.allow_downgrade).unwrap(), VersionDecision::Upgrade);
    let staged = bundle::unpack(&assembled, &tmp.path().join("state/models/people-2.0.0"), &UnpackLimits::default()).unwrap();
    assert!(staged.selftest.is_some());
    fs::create_dir_all(updates.join("0".repeat(64))).unwrap();
    let removed = crate::update::receive::prune(&updates, Some(&offer.digest_hex())).unwrap();
    assert_eq!(removed, vec![updates.join("0".repeat(64))]);
    assert!(assembled.exists());

    // A reason shown verbatim: a refused downgrade.
    let e: UpdateError = check_version(Some(&semver::Version::new(3, 0, 0)), &meta.version, false).unwrap_err();
    let rejected = Status::for_offer("pole-17", &offer, UpdateState::Rejected).with_reason(e.to_string());
    assert!(rejected.to_json().contains("downgrade from 3.0.0 to 2.0.0 refused (allow_downgrade not set)"));
    assert_eq!(SignatureFile::parse(sig.to_json().as_bytes()).unwrap(), offer.signature_file());
}
