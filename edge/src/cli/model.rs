//! `kaiteki model keygen | pack | sign | verify | push`: the operator's side of signed model updates.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use kaiteki::update::bundle::{self, PackInput, SignatureFile};
use kaiteki::update::chunk;
use kaiteki::update::keys::{self, TrustStore, TrustedKey};
use kaiteki::update::offer::{Offer, OfferLimits, Target};

#[derive(Subcommand)]
pub enum ModelCommand {
    /// Make an Ed25519 key pair: <NAME>.key (private, mode 0600) and <NAME>.pub (give it to devices).
    Keygen {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
    },
    /// Pack a model manifest, its ONNX file and an optional self-test folder into a bundle (.ktb).
    Pack {
        /// The model slot it replaces on devices (the id under [models] in their config).
        #[arg(long)]
        slot: String,
        /// Semantic version; devices refuse anything older than what they run.
        #[arg(long)]
        version: String,
        #[arg(long)]
        manifest: PathBuf,
        /// Folder with expected.json and the frames it names.
        #[arg(long)]
        selftest: Option<PathBuf>,
        #[arg(long)]
        notes: Option<String>,
        #[arg(short, long)]
        out: PathBuf,
    },
    /// Sign a bundle: writes <BUNDLE>.sig.
    Sign {
        #[arg(long)]
        key: PathBuf,
        bundle: PathBuf,
    },
    /// Check a bundle's signature against public keys, as a device would.
    Verify {
        /// A .pub file (repeatable).
        #[arg(long = "trust", required = true)]
        trust: Vec<PathBuf>,
        bundle: PathBuf,
    },
    /// Publish a signed bundle to a broker: retained chunks, then the retained offer.
    Push {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        #[arg(long, default_value = "kaiteki/v1")]
        topic_prefix: String,
        /// Address one device...
        #[arg(long, conflicts_with = "group", required_unless_present = "group")]
        device: Option<String>,
        /// ...or a fleet group.
        #[arg(long)]
        group: Option<String>,
        #[arg(long, default_value_t = 256 * 1024)]
        chunk_size: u32,
        /// Let devices install this even though it is older than what they run.
        #[arg(long)]
        allow_downgrade: bool,
        /// Publish only these chunks, e.g. `0-9` (resend part of a transfer); the offer is published too.
        #[arg(long)]
        chunks: Option<String>,
        /// Do not publish the offer (chunks only).
        #[arg(long)]
        no_offer: bool,
        /// Remove the bundle's retained chunks and offer from the broker instead of publishing them.
        #[arg(long)]
        clear: bool,
        bundle: PathBuf,
    },
}

pub fn run(cmd: ModelCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ModelCommand::Keygen { name, out_dir } => {
            let files = keys::write_keypair(&out_dir, &name)?;
            println!("private key: {} (keep it off devices)", files.private.display());
            println!("public key:  {} (key id {})", files.public.display(), files.key_id);
            println!("device config:\n[[updates.trusted_keys]]\nid = \"{}\"\nkey = \"{}\"", files.key_id, public_line(&files.public)?);
        }
        ModelCommand::Pack { slot, version, manifest, selftest, notes, out } => {
            let version = semver::Version::parse(&version).with_context(|| format!("--version {version} is not a semantic version"))?;
            let info = bundle::pack(
                &PackInput { model_slot: slot, version, manifest_path: manifest, selftest_dir: selftest, notes, created: None },
                &out,
            )?;
            println!("{} ({} bytes, sha256 {}): {} {}", out.display(), info.size, info.digest_hex(), info.meta.model, info.meta.version);
        }
        ModelCommand::Sign { key, bundle: path } => {
            let key = keys::read_signing_key(&key)?;
            let sig = bundle::sign(&path, &key)?;
            let sig_path = SignatureFile::path_for(&path);
            sig.write(&sig_path)?;
            println!("{} (key {})", sig_path.display(), sig.key_id);
        }
        ModelCommand::Verify { trust, bundle: path } => {
            let store = trust_store(&trust)?;
            let sig = SignatureFile::read(&SignatureFile::path_for(&path))?;
            let meta = bundle::verify_file(&path, &sig, &store)?;
            println!("OK: {} {} signed by {}", meta.model, meta.version, sig.key_id);
        }
        ModelCommand::Push { host, port, topic_prefix, device, group, chunk_size, allow_downgrade, chunks, no_offer, clear, bundle: path } => {
            let target = match (device, group) {
                (Some(d), _) => Target::Device(d),
                (None, Some(g)) => Target::Group(g),
                (None, None) => bail!("give --device or --group"),
            };
            push(&host, port, &topic_prefix, target, chunk_size, allow_downgrade, chunks.as_deref(), no_offer, clear, &path)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn public_line(path: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.lines().nth(1).unwrap_or_default().trim().to_string())
}

fn trust_store(paths: &[PathBuf]) -> anyhow::Result<TrustStore> {
    let mut entries = Vec::new();
    for p in paths {
        let key = std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?;
        entries.push(TrustedKey { id: None, key });
    }
    Ok(TrustStore::from_config(&entries)?)
}

/// `a-b` or `a` (inclusive).
fn parse_range(s: &str) -> anyhow::Result<(u32, u32)> {
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let (a, b): (u32, u32) = (a.trim().parse()?, b.trim().parse()?);
    if a > b {
        bail!("--chunks {s}: the range is empty");
    }
    Ok((a, b))
}

#[allow(clippy::too_many_arguments)]
fn push(
    host: &str,
    port: u16,
    prefix: &str,
    target: Target,
    chunk_size: u32,
    allow_downgrade: bool,
    range: Option<&str>,
    no_offer: bool,
    clear: bool,
    path: &Path,
) -> anyhow::Result<()> {
    let sig = SignatureFile::read(&SignatureFile::path_for(path)).context("the bundle is not signed (run `kaiteki model sign`)")?;
    let meta = bundle::read_meta(path)?;
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let limits = OfferLimits::default();
    let offer = Offer::for_bundle(&meta, &sig, bytes.len() as u64, chunk_size, target, allow_downgrade, &limits)?;
    let parts = chunk::split(&bytes[..], chunk_size)?;
    let (lo, hi) = match range {
        Some(r) => parse_range(r)?,
        None => (0, offer.chunks.saturating_sub(1)),
    };
    let mut messages: Vec<(String, Vec<u8>)> = parts
        .iter()
        .filter(|c| (lo..=hi).contains(&c.index))
        .map(|c| (offer.chunk_topic(prefix, c.index), if clear { Vec::new() } else { c.encode() }))
        .collect();
    if !no_offer {
        // The offer last: a device that sees it finds every chunk already retained.
        messages.push((offer.topic(prefix), if clear { Vec::new() } else { offer.to_json().into_bytes() }));
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let n = messages.len();
    rt.block_on(publish_all(host, port, chunk_size, messages))?;
    let what = if clear { "cleared" } else { "published" };
    println!("{what} {} {} for {}: {n} retained message(s) on {}:{port}", meta.model, meta.version, offer.topic(prefix), host);
    Ok(())
}

async fn publish_all(host: &str, port: u16, chunk_size: u32, messages: Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    use rumqttc::{AsyncClient, Event, Incoming, MqttOptions, Outgoing, QoS};
    let id = format!("kaiteki-push-{}", std::process::id());
    let mut opts = MqttOptions::new(id, host, port);
    opts.set_keep_alive(Duration::from_secs(30));
    let max = chunk_size as usize + 4096;
    opts.set_max_packet_size(max.max(64 << 10), max.max(64 << 10));
    let (client, mut events) = AsyncClient::new(opts, 16);
    let total = messages.len();
    let sender = tokio::spawn(async move {
        for (topic, payload) in messages {
            client.publish(topic, QoS::AtLeastOnce, true, payload).await?;
        }
        Ok::<_, rumqttc::ClientError>(client)
    });
    let mut acked = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while acked < total {
        let ev = tokio::time::timeout_at(deadline, events.poll()).await.context("the broker did not acknowledge within 120 s")?;
        match ev.with_context(|| format!("cannot reach the broker at {host}:{port}"))? {
            Event::Incoming(Incoming::PubAck(_)) => acked += 1,
            Event::Outgoing(Outgoing::Disconnect) => break,
            _ => {}
        }
    }
    let client = sender.await.context("publisher task")??;
    client.disconnect().await.ok();
    Ok(())
}
