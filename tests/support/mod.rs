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
        let bin = which("mosquitto").unwrap_or_else(|| panic!("mosquitto is not installed: run scripts/setup-system.sh test"));
        let conf = dir.join(format!("mosquitto-{port}.conf"));
        std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).unwrap();
        let mut cmd = Command::new(bin);
        cmd.arg("-c").arg(&conf);
        let proc = spawn_logged(cmd, dir.join(format!("mosquitto-{port}.log")));
        assert!(wait_for_port(port, Duration::from_secs(10)), "mosquitto did not start: {}", proc.log_text());
        Broker { port, proc }
    }
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
            let _ = client.subscribe(filter, rumqttc::QoS::AtLeastOnce);
            for ev in conn.iter() {
                match ev {
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
