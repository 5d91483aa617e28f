//! Real components for end-to-end tests: a mosquitto broker on a free loopback port, an MQTT subscriber,
//! the `kaiteki` binary, an RTSP server, plain HTTP requests. Nothing is mocked; anything missing fails
//! the test with a message that says how to get it.
#![allow(dead_code)]

pub mod crossing;
pub mod drive;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `../shared/data` (or `KAITEKI_SHARED_DATA`): the shared models and media tests use.
pub fn shared_data() -> PathBuf {
    let p = std::env::var_os("KAITEKI_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("../shared/data"));
    assert!(p.join("media/vtest.avi").is_file(), "test data missing: {} (set KAITEKI_SHARED_DATA)", p.display());
    p
}

pub fn media(name: &str) -> PathBuf {
    shared_data().join("media").join(name)
}

/// ONNX Runtime's library, as `make test` fetches it.
pub fn ort_lib() -> PathBuf {
    let p = std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from).unwrap_or_else(|| {
        repo_root().join(".deps/onnxruntime").join(std::env::consts::ARCH).join("libonnxruntime.so")
    });
    assert!(p.exists(), "ONNX Runtime library missing at {}: run scripts/fetch-onnxruntime.sh", p.display());
    p
}

pub fn kaiteki_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kaiteki"))
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("no free port")
}

pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Polls `f` until it returns `Some` or the timeout passes.
pub fn wait_until<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private folder that other users (mosquitto drops root to its own user) can read.
pub fn test_dir() -> tempfile::TempDir {
    let d = tempfile::Builder::new().prefix("kaiteki-e2e-").tempdir().expect("tempdir");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755));
    }
    d
}

/// A child process killed when dropped.
pub struct Proc {
    pub child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> Option<u64> {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        s.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        wait_until(timeout, || self.child.try_wait().ok().flatten())
    }

    pub fn terminate(&mut self) {
        unsafe_kill(self.child.id(), 15);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status();
}

pub fn spawn_logged(mut cmd: Command, log: PathBuf) -> Proc {
    let f = std::fs::File::create(&log).expect("log file");
    let f2 = f.try_clone().expect("log file");
    let child = cmd.stdout(Stdio::from(f)).stderr(Stdio::from(f2)).stdin(Stdio::null()).spawn().unwrap_or_else(|e| {
        panic!("cannot start {:?}: {e}", cmd.get_program())
    });
    Proc { child, log }
}

/// A real mosquitto broker on a free loopback port.
pub struct Broker {
    pub port: u16,
    pub proc: Proc,
}

impl Broker {
    pub fn start(dir: &Path) -> Broker {
        Self::start_on(dir, free_port())
    }

    pub fn start_on(dir: &Path, port: u16) -> Broker {
        Self::start_configured(dir, port, "")
    }

    /// A broker on a free port with `extra` lines of mosquitto configuration (an ACL file, log types).
    pub fn start_with(dir: &Path, extra: &str) -> Broker {
        Self::start_configured(dir, free_port(), extra)
    }

    fn start_configured(dir: &Path, port: u16, extra: &str) -> Broker {
        let bin = which("mosquitto").unwrap_or_else(|| panic!("mosquitto is not installed: run scripts/setup-system.sh test"));
        let conf = dir.join(format!("mosquitto-{port}.conf"));
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n{extra}")).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&conf);
        let proc = spawn_logged(cmd, dir.join(format!("mosquitto-{port}.log")));
        assert!(wait_for_port(port, Duration::from_secs(10)), "mosquitto did not start: {}", proc.log_text());
        Broker { port, proc }
    }
}

impl Broker {
    /// A broker that keeps sessions and queued messages across a clean restart (SIGTERM writes its
    /// database, the next start on the same `dir` and port reads it), with no limit on the messages
    /// queued for a disconnected subscriber.
    pub fn start_persistent(dir: &Path, port: u16) -> Broker {
        let bin = which("mosquitto").unwrap_or_else(|| panic!("mosquitto is not installed: run scripts/setup-system.sh test"));
        let conf = dir.join(format!("mosquitto-persistent-{port}.conf"));
        let db = dir.join(format!("mosquitto-{port}-db/"));
        std::fs::create_dir_all(&db).unwrap();
        std::fs::write(
            &conf,
            format!(
                // `user root`: started as root, mosquitto would otherwise switch to its own user, which
                // cannot write the test's folder (ignored when not started as root).
                "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\npersistence_location {}\n\
                 max_queued_messages 0\nmax_queued_bytes 0\n",
                db.display()
            ),
        )
        .unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&conf);
        let proc = spawn_logged(cmd, dir.join(format!("mosquitto-{port}-{}.log", free_port())));
        assert!(wait_for_port(port, Duration::from_secs(10)), "mosquitto did not start: {}", proc.log_text());
        Broker { port, proc }
    }

    /// Stops the broker cleanly (SIGTERM, so a persistent one saves its sessions) and waits for it.
    pub fn stop(mut self) {
        self.proc.terminate();
        assert!(self.proc.wait_exit(Duration::from_secs(10)).is_some(), "mosquitto did not stop: {}", self.proc.log_text());
    }
}

/// A generated test-pattern video: `frames` MJPEG frames at `fps`, `width`×`height`, in an AVI file.
pub fn test_pattern_video(dir: &Path, name: &str, frames: u32, fps: u32, width: u32, height: u32) -> PathBuf {
    let out = dir.join(format!("{name}.avi"));
    let status = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", &format!("num-buffers={frames}"), "pattern=ball", "!"])
        .arg(format!("video/x-raw,width={width},height={height},framerate={fps}/1"))
        .args(["!", "jpegenc", "!", "avimux", "!", "filesink"])
        .arg(format!("location={}", out.display()))
        .status()
        .expect("gst-launch-1.0 (gstreamer1.0-tools) is not installed: run scripts/setup-system.sh test");
    assert!(status.success(), "cannot encode {}", out.display());
    out
}

pub fn which(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

/// Every message received on a topic filter, collected by a real MQTT client.
#[derive(Clone)]
pub struct Subscriber {
    pub messages: Arc<Mutex<Vec<(String, Vec<u8>, bool)>>>,
}

impl Subscriber {
    pub fn start(port: u16, filter: &str) -> Subscriber {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = messages.clone();
        let filter = filter.to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut opts = rumqttc::MqttOptions::new(format!("test-sub-{}", free_port()), "127.0.0.1", port);
            opts.set_keep_alive(Duration::from_secs(5));
            opts.set_max_packet_size(16 << 20, 16 << 20);
            let (client, mut conn) = rumqttc::Client::new(opts, 100);
            let _ = client.subscribe(filter.clone(), rumqttc::QoS::AtLeastOnce);
            for ev in conn.iter() {
                match ev {
                    // A clean session loses the subscription when the broker restarts: subscribe again.
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::ConnAck(_))) => {
                        let _ = client.try_subscribe(filter.clone(), rumqttc::QoS::AtLeastOnce);
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::Publish(p))) => {
                        m.lock().unwrap().push((p.topic.clone(), p.payload.to_vec(), p.retain));
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("subscriber did not get SUBACK");
        Subscriber { messages }
    }

    /// Checks every message received so far: each event (`…/{device}/events/{kind}`) must be valid against
    /// the committed schema of its kind (see [`assert_valid_event`]) and match its topic, and no payload but a
    /// snapshot may carry image bytes ([`assert_no_image_bytes`]). Returns how many events of each kind were
    /// validated, for [`assert_validated`].
    pub fn assert_events_valid(&self) -> std::collections::BTreeMap<String, usize> {
        let messages = self.messages.lock().unwrap().clone();
        let mut schemas = EventSchemas::default();
        let mut validated = std::collections::BTreeMap::new();
        for (topic, payload, _) in &messages {
            assert_no_image_bytes(topic, payload);
            let levels: Vec<&str> = topic.split('/').collect();
            let [.., device, "events", kind] = levels.as_slice() else { continue };
            let ev: serde_json::Value = serde_json::from_slice(payload)
                .unwrap_or_else(|e| panic!("{topic}: payload is not JSON ({e}): {}", String::from_utf8_lossy(payload)));
            assert_eq!(ev["kind"], *kind, "{topic}: event of another kind on this topic: {ev}");
            assert_eq!(ev["device_id"], *device, "{topic}: event of another device on this topic: {ev}");
            schemas.assert_valid(&ev);
            // The consumer-side decoder accepts what the daemon publishes.
            let decoded = kaiteki::events::decode_event(topic, payload).unwrap_or_else(|e| panic!("{topic}: decode_event: {e}"));
            assert_eq!(decoded.seq, ev["seq"].as_u64().unwrap_or(u64::MAX), "{topic}");
            *validated.entry(kind.to_string()).or_insert(0) += 1;
        }
        validated
    }

    /// Like [`start`](Self::start), with a persistent session (`client_id`, clean session off): a broker
    /// that keeps sessions (see [`Broker::start_persistent`]) queues what is published while this client
    /// is away, so nothing is missed across a broker restart.
    pub fn start_persistent(port: u16, filter: &str, client_id: &str) -> Subscriber {
        let messages = Arc::new(Mutex::new(Vec::new()));
        let m = messages.clone();
        let filter = filter.to_string();
        let client_id = client_id.to_string();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut opts = rumqttc::MqttOptions::new(client_id, "127.0.0.1", port);
            opts.set_keep_alive(Duration::from_secs(5));
            opts.set_clean_session(false);
            opts.set_max_packet_size(16 << 20, 16 << 20);
            let (client, mut conn) = rumqttc::Client::new(opts, 100);
            let _ = client.subscribe(filter.clone(), rumqttc::QoS::AtLeastOnce);
            for ev in conn.iter() {
                match ev {
                    // A broker that lost the session (it should not): subscribe again, at least.
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::ConnAck(ack))) if !ack.session_present => {
                        let _ = client.try_subscribe(filter.clone(), rumqttc::QoS::AtLeastOnce);
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::SubAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(rumqttc::Event::Incoming(rumqttc::Incoming::Publish(p))) => {
                        m.lock().unwrap().push((p.topic.clone(), p.payload.to_vec(), p.retain));
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(200)),
                }
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("subscriber did not get SUBACK");
        Subscriber { messages }
    }

    pub fn on_topic(&self, suffix: &str) -> Vec<serde_json::Value> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t.ends_with(suffix))
            .filter_map(|(_, p, _)| serde_json::from_slice(p).ok())
            .collect()
    }

    /// Every event received, of any kind (`…/events/{kind}`), in arrival order.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.messages
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _, _)| t.rsplit('/').nth(1) == Some("events"))
            .filter_map(|(_, p, _)| serde_json::from_slice(p).ok())
            .collect()
    }
}

/// Compiled event schemas from `schemas/events/`, loaded on first use per kind.
#[derive(Default)]
struct EventSchemas {
    by_kind: std::collections::HashMap<String, jsonschema::Validator>,
}

impl EventSchemas {
    fn assert_valid(&mut self, ev: &serde_json::Value) {
        let kind = ev["kind"].as_str().unwrap_or_else(|| panic!("event without a kind: {ev}")).to_string();
        let validator = self.by_kind.entry(kind.clone()).or_insert_with(|| {
            let path = repo_root().join("schemas/events").join(format!("{kind}.schema.json"));
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("no schema for event kind {kind:?} at {}: {e}", path.display()));
            let schema: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            jsonschema::options()
                .should_validate_formats(true)
                .build(&schema)
                .unwrap_or_else(|e| panic!("{}: not a valid JSON Schema: {e}", path.display()))
        });
        let errors: Vec<String> = validator.iter_errors(ev).map(|e| format!("  at {:?}: {e}", e.instance_path().as_str())).collect();
        assert!(
            errors.is_empty(),
            "{kind} event does not match schemas/events/{kind}.schema.json ({} errors):\n{}\nevent: {ev:#}",
            errors.len(),
            errors.join("\n")
        );
    }
}

/// Validates one event (an envelope as published) against the committed schema of its kind,
/// `schemas/events/<kind>.schema.json`; panics listing every error with its JSON pointer.
pub fn assert_valid_event(ev: &serde_json::Value) {
    EventSchemas::default().assert_valid(ev);
}

/// Fails unless at least one event of each of `kinds` was validated (no vacuous pass).
pub fn assert_validated(validated: &std::collections::BTreeMap<String, usize>, kinds: &[&str]) {
    for kind in kinds {
        assert!(validated.get(*kind).copied().unwrap_or(0) > 0, "no {kind} event was validated; validated: {validated:?}");
    }
}

/// Image signatures that must not appear in any payload but a snapshot: JPEG and PNG, raw or base64.
const IMAGE_SIGNATURES: [(&str, &[u8]); 4] =
    [("JPEG", &[0xFF, 0xD8, 0xFF]), ("PNG", &[0x89, b'P', b'N', b'G']), ("base64 JPEG", b"/9j/"), ("base64 PNG", b"iVBORw0KGgo")];

/// Events, status and the rest carry no pixels: fails if a payload outside `…/snapshots/…` holds a JPEG
/// or PNG signature, raw or base64-encoded.
pub fn assert_no_image_bytes(topic: &str, payload: &[u8]) {
    if topic.split('/').any(|level| level == "snapshots") {
        return;
    }
    for (what, sig) in IMAGE_SIGNATURES {
        if let Some(at) = payload.windows(sig.len()).position(|w| w == sig) {
            panic!("{topic}: payload holds a {what} signature at byte {at}: {}", String::from_utf8_lossy(&payload[..payload.len().min(300)]));
        }
    }
}

/// A minimal HTTP/1.1 GET, enough for tests: (status, body).
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    let status = buf.split_whitespace().nth(1)?.parse().ok()?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    // Chunked bodies: good enough to strip the chunk sizes for JSON parsing of small answers.
    let body = if buf.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(&body) } else { body };
    Some((status, body))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else { break };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// The daemon, started on a config file.
pub fn start_daemon(dir: &Path, config: &Path, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(kaiteki_bin());
    cmd.arg("run").arg("-c").arg(config).args(extra);
    cmd.env("ORT_DYLIB_PATH", ort_lib()).env("KAITEKI_LOG", "info,kaiteki=debug");
    spawn_logged(cmd, dir.join(format!("kaiteki-{}.log", free_port())))
}

pub fn repo_path(rel: &str) -> String {
    repo_root().join(rel).canonicalize().unwrap_or_else(|e| panic!("{rel}: {e}")).display().to_string()
}

/// `[cameras.<camera>.analytics]` for vtest.avi: the approximate ground plane documented in the README
/// ("Calibrating the sample video") and a crowd zone over the road.
pub fn vtest_analytics(camera: &str) -> String {
    format!(
        r#"[cameras.{camera}.analytics.calibration]
points = [
  {{ image = [0, 576], ground = [0, 0] }},
  {{ image = [768, 576], ground = [10, 0] }},
  {{ image = [768, 100], ground = [16, 18] }},
  {{ image = [0, 100], ground = [-6, 18] }},
]
[[cameras.{camera}.analytics.zones]]
id = "road"
kind = "crowd"
space = "image"
polygon = [[0, 185], [768, 95], [768, 480], [0, 250]]
"#
    )
}

/// Validates an NGSI-LD entity against the committed `schemas/ngsi-ld/<type>.schema.json` (written from the
/// FIWARE Smart Data Models specifications), listing every error with its JSON pointer.
pub fn assert_valid_ngsi(entity: &serde_json::Value) {
    let ty = entity["type"].as_str().unwrap_or_else(|| panic!("entity without a type: {entity}"));
    let path = repo_root().join(format!("schemas/ngsi-ld/{ty}.schema.json"));
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap();
    let v = jsonschema::options().should_validate_formats(true).build(&schema).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let errors: Vec<String> = v.iter_errors(entity).map(|e| format!("  at {:?}: {e}", e.instance_path().as_str())).collect();
    assert!(errors.is_empty(), "{ty} entity does not match {}:\n{}\n{entity}", path.display(), errors.join("\n"));
}
