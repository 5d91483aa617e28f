//! The systemd notification protocol (`sd_notify(3)`) and a progress-gated watchdog, on plain std sockets.
//!
//! systemd starts the daemon with `Type=notify` and passes `NOTIFY_SOCKET` (a datagram socket: a path, or
//! an abstract name written `@name`), and with `WatchdogSec=` also `WATCHDOG_USEC` and `WATCHDOG_PID`.
//! The daemon sends newline-separated `KEY=VALUE` lines in one datagram: `READY=1` once it serves,
//! `STOPPING=1` when it begins to shut down, `STATUS=...` for `systemctl status`, `WATCHDOG=1` as keep-alive,
//! `EXTEND_TIMEOUT_USEC=...` to ask for more time while starting or stopping.
//!
//! Outside systemd (tests, `make run`, a terminal) none of those variables is set and every call is a no-op
//! that returns `Ok`.
//!
//! # Wiring (in `cli/run.rs`)
//!
//! ```ignore
//! let notifier = kaiteki::health::notify::Notifier::from_env();
//! // ... config loaded, cameras and models started, HTTP bound ...
//! notifier.ready()?;                       // systemd's start timeout ends here; the watchdog starts now
//! let watchdog = Watchdog::new(notifier.clone(), move || progress(&state)).spawn();   // inside the runtime
//! // ... wait for SIGTERM ...
//! notifier.stopping()?;                    // first thing on shutdown; also stops the watchdog task
//! notifier.status("flushing the outbox")?;
//! ```
//!
//! # The progress check (the contract)
//!
//! [`Watchdog`] pings `WATCHDOG=1` every [`Notifier::watchdog_interval`] (half of `WatchdogSec=`), but only
//! when the closure it was given reports progress. When the closure reports a stall, the ping is
//! withheld, the reason is logged (warn) and shown as `STATUS=`; if the stall outlasts `WatchdogSec=`,
//! systemd kills the daemon (SIGABRT, so a core dump shows where it was stuck) and `Restart=on-failure`
//! starts it again. The closure:
//!
//! * is called on a tokio worker thread once per interval: it must be cheap and must not block (read
//!   atomics and short `parking_lot` locks; no I/O, no `.await`, no channel receive);
//! * returns [`Progress::Healthy`] (or `true`) when every *enabled* camera pipeline has, within the last
//!   N seconds, either processed a frame (its `frames_processed` counter moved: this covers capture *and*
//!   inference, so a wedged inference worker is caught even while GStreamer still delivers frames) or is
//!   legitimately not delivering: in `Backoff`/`Connecting` for no longer than its reconnect `max_ms`
//!   plus a margin, `Finished` (a non-looping file played to its end), or `Stopped` during shutdown;
//! * returns [`Progress::Stalled`] with a short human reason naming the camera otherwise
//!   (`"camera crossing-north: no frame processed for 47 s (state streaming)"`), or `false` (the reason is
//!   then "no progress");
//! * picks N at least as large as the interval and the camera's `stall_timeout_s` (the pipeline restarts
//!   itself after that; the watchdog is the last resort, for the cases where the restart logic is itself
//!   stuck), e.g. `N = max(2 × stall_timeout_s, 30 s)`. A stall is then detected after N seconds and the
//!   daemon killed at most `WatchdogSec` later;
//! * treats the first N seconds after start as healthy (pipelines are still connecting).
//!
//! The watchdog also catches a wedged async runtime: if every tokio worker is blocked, the task never
//! runs and no ping is sent.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long one send may block. systemd reads its notification socket promptly (and gives it a large
/// receive buffer); a send that takes longer means PID 1 is in trouble, and the daemon should not hang
/// with it.
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("NOTIFY_SOCKET={0:?}: not an absolute path or an @abstract name")]
    BadSocket(OsString),
    #[error("NOTIFY_SOCKET={0:?}: unsupported socket type (only unix datagram sockets are)")]
    Unsupported(OsString),
    #[error("{var}={value:?}: {why}")]
    BadVar { var: &'static str, value: OsString, why: &'static str },
    #[error("cannot send to the systemd notification socket: {0}")]
    Io(#[from] io::Error),
}

/// Sends state notifications to systemd. Cheap to clone (an `Arc`); a no-op when not started by systemd.
#[derive(Clone, Debug, Default)]
pub struct Notifier {
    inner: Option<Arc<Inner>>,
    /// Set by `stopping()`: tells the watchdog task to end. Shared by clones.
    stopping: Arc<AtomicBool>,
}

#[derive(Debug)]
struct Inner {
    socket: UnixDatagram,
    addr: SocketAddr,
    /// Human-readable target, for logs.
    target: OsString,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// A notifier that does nothing (not started by systemd).
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment. Absent variables
    /// give a no-op notifier (or no watchdog); invalid ones are logged and treated as absent, so a daemon
    /// started by hand never fails because of them. Under systemd a broken `NOTIFY_SOCKET` then shows as
    /// a start timeout, with the logged reason.
    ///
    /// The variables are left in the environment (child processes, of which the daemon has none that
    /// outlive start-up, could see them; `NotifyAccess=main` makes systemd ignore them anyway).
    pub fn from_env() -> Self {
        match Self::from_lookup(|k| std::env::var_os(k)) {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "systemd notifications disabled");
                Self::disabled()
            }
        }
    }

    /// Like [`from_env`](Self::from_env), with the variables from `get` (for tests and embedding), and
    /// invalid values reported as errors.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Result<Self, NotifyError> {
        let Some(raw) = get("NOTIFY_SOCKET").filter(|s| !s.is_empty()) else {
            return Ok(Self::disabled());
        };
        let addr = socket_addr(&raw)?;
        let watchdog = watchdog_from(get("WATCHDOG_USEC"), get("WATCHDOG_PID"), std::process::id())?;
        let socket = UnixDatagram::unbound()?;
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        Ok(Self { inner: Some(Arc::new(Inner { socket, addr, target: raw, watchdog })), stopping: Arc::default() })
    }

    /// Whether notifications go anywhere (started by systemd with `Type=notify`).
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Half of `WATCHDOG_USEC`: how often to ping. `None` when systemd runs no watchdog for this process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.inner.as_ref().and_then(|i| i.watchdog).map(|d| d / 2)
    }

    /// `WatchdogSec=` as systemd passed it, when it runs a watchdog for this process.
    pub fn watchdog_timeout(&self) -> Option<Duration> {
        self.inner.as_ref().and_then(|i| i.watchdog)
    }

    /// `READY=1`: start-up is complete (config valid, pipelines and models started, HTTP listening).
    /// systemd's `TimeoutStartSec=` ends and `WatchdogSec=` begins here; units ordered after this one
    /// start now.
    pub fn ready(&self) -> Result<(), NotifyError> {
        self.send("READY=1")
    }

    /// `STOPPING=1`: shutdown has begun. Also ends the [`Watchdog`] task (a daemon that flushes its outbox
    /// is legitimately making no frame progress).
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.stopping.store(true, Ordering::SeqCst);
        self.send("STOPPING=1")
    }

    /// Whether [`stopping`](Self::stopping) was called (on this notifier or a clone).
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// `STATUS=...`: one line for `systemctl status`. Newlines would end the field (and start a new,
    /// bogus assignment): they are replaced by spaces.
    pub fn status(&self, text: &str) -> Result<(), NotifyError> {
        self.send(&format!("STATUS={}", one_line(text)))
    }

    /// `WATCHDOG=1`: one keep-alive ping, unconditionally. Prefer [`Watchdog`], which pings only while
    /// the daemon makes progress.
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.send("WATCHDOG=1")
    }

    /// `EXTEND_TIMEOUT_USEC=...`: while starting (e.g. building a TensorRT engine) or stopping (flushing the
    /// outbox), asks systemd for `by` more time from now. Send it again before it runs out.
    pub fn extend_timeout(&self, by: Duration) -> Result<(), NotifyError> {
        self.send(&format!("EXTEND_TIMEOUT_USEC={}", by.as_micros()))
    }

    /// Sends one datagram of `KEY=VALUE` lines. A no-op when disabled.
    pub fn send(&self, message: &str) -> Result<(), NotifyError> {
        let Some(inner) = &self.inner else { return Ok(()) };
        let n = inner.socket.send_to_addr(message.as_bytes(), &inner.addr)?;
        if n != message.len() {
            return Err(NotifyError::Io(io::Error::new(io::ErrorKind::WriteZero, "short datagram")));
        }
        tracing::trace!(target: "kaiteki::notify", socket = ?inner.target, message, "sd_notify");
        Ok(())
    }
}

fn one_line(text: &str) -> String {
    text.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect()
}

/// `/path` is a filesystem socket, `@name` an abstract one (the `@` stands for the leading NUL byte).
fn socket_addr(raw: &OsStr) -> Result<SocketAddr, NotifyError> {
    let bytes = raw.as_bytes();
    match bytes.first() {
        Some(b'/') => Ok(SocketAddr::from_pathname(raw)?),
        Some(b'@') => abstract_addr(&bytes[1..]).map_err(NotifyError::Io),
        _ if bytes.starts_with(b"vsock:") => Err(NotifyError::Unsupported(raw.to_owned())),
        _ => Err(NotifyError::BadSocket(raw.to_owned())),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SocketAddr> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;
    SocketAddr::from_abstract_name(name)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SocketAddr> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract unix sockets exist only on Linux"))
}

/// The watchdog timeout for this process: `WATCHDOG_USEC` when set and non-zero, and `WATCHDOG_PID`
/// (when set) names this process. A watchdog meant for another process (a parent that exec'd us without
/// cleaning its environment) is not ours to feed.
fn watchdog_from(usec: Option<OsString>, pid: Option<OsString>, me: u32) -> Result<Option<Duration>, NotifyError> {
    let Some(usec) = usec.filter(|s| !s.is_empty()) else { return Ok(None) };
    let n: u64 = usec.to_str().and_then(|s| s.trim().parse().ok()).ok_or_else(|| NotifyError::BadVar {
        var: "WATCHDOG_USEC",
        value: usec.clone(),
        why: "not a number of microseconds",
    })?;
    if n == 0 {
        return Ok(None);
    }
    if let Some(pid) = pid.filter(|s| !s.is_empty()) {
        let p: u32 = pid.to_str().and_then(|s| s.trim().parse().ok()).ok_or_else(|| NotifyError::BadVar {
            var: "WATCHDOG_PID",
            value: pid.clone(),
            why: "not a process id",
        })?;
        if p != me {
            return Ok(None);
        }
    }
    Ok(Some(Duration::from_micros(n)))
}

/// What a progress check found. See the module documentation for the contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Every enabled pipeline made progress (or is legitimately waiting): ping.
    Healthy,
    /// Something is stuck: withhold the ping; the reason goes to the log and `STATUS=`.
    Stalled(String),
}

impl From<bool> for Progress {
    fn from(ok: bool) -> Self {
        if ok {
            Progress::Healthy
        } else {
            Progress::Stalled("no progress".to_string())
        }
    }
}

impl From<Result<(), String>> for Progress {
    fn from(r: Result<(), String>) -> Self {
        match r {
            Ok(()) => Progress::Healthy,
            Err(why) => Progress::Stalled(why),
        }
    }
}

/// Feeds systemd's watchdog while, and only while, the daemon makes progress.
pub struct Watchdog<F> {
    notifier: Notifier,
    check: F,
    healthy_status: String,
}

impl<F, P> Watchdog<F>
where
    F: FnMut() -> P + Send + 'static,
    P: Into<Progress> + 'static,
{
    pub fn new(notifier: Notifier, check: F) -> Self {
        Self { notifier, check, healthy_status: "running".to_string() }
    }

    /// The `STATUS=` sent when progress resumes after a stall (default "running"). The daemon may set
    /// richer status lines itself at any time; the watchdog only writes `STATUS=` on a change between
    /// healthy and stalled (or of the stall's reason).
    pub fn healthy_status(mut self, status: impl Into<String>) -> Self {
        self.healthy_status = status.into();
        self
    }

    /// Starts the watchdog task on the current tokio runtime. `None` (and nothing spawned) when systemd
    /// runs no watchdog for this process. The task ends after [`Notifier::stopping`]; abort the handle
    /// to end it earlier.
    pub fn spawn(self) -> Option<tokio::task::JoinHandle<()>> {
        self.notifier.watchdog_interval()?;
        Some(tokio::spawn(self.run()))
    }

    /// The watchdog loop: returns at once without a watchdog, otherwise after `stopping()`.
    pub async fn run(mut self) {
        let Some(interval) = self.notifier.watchdog_interval() else { return };
        tracing::info!(
            interval_ms = interval.as_millis() as u64,
            "systemd watchdog: pinging while pipelines make progress"
        );
        let mut tick = tokio::time::interval(interval);
        // After a stall of the runtime, ping once and carry on, rather than a burst of catch-up pings.
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stalled: Option<String> = None;
        loop {
            tick.tick().await;
            if self.notifier.is_stopping() {
                return;
            }
            match (self.check)().into() {
                Progress::Healthy => {
                    if let Some(was) = stalled.take() {
                        tracing::info!(after = %was, "systemd watchdog: progress resumed, pinging again");
                        log_send_error(self.notifier.status(&self.healthy_status));
                    }
                    log_send_error(self.notifier.watchdog());
                }
                Progress::Stalled(why) => {
                    tracing::warn!(
                        reason = %why,
                        timeout_s = self.notifier.watchdog_timeout().map(|d| d.as_secs_f64()).unwrap_or(0.0),
                        "systemd watchdog: withholding the ping; systemd restarts the daemon if this lasts"
                    );
                    if stalled.as_deref() != Some(why.as_str()) {
                        log_send_error(self.notifier.status(&format!("watchdog withheld: {why}")));
                        stalled = Some(why);
                    }
                }
            }
        }
    }
}

fn log_send_error(r: Result<(), NotifyError>) {
    if let Err(e) = r {
        tracing::warn!(error = %e, "systemd notification failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::path::PathBuf;
    use std::sync::atomic::AtomicUsize;
    use std::time::Instant;

    /// A private temporary folder, removed on drop (no dependency on `tempfile`).
    struct TestDir(PathBuf);
    impl TestDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "kaiteki-notify-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            Self(p)
        }
    }
    impl Drop for TestDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let m: HashMap<String, OsString> = pairs.iter().map(|(k, v)| (k.to_string(), OsString::from(v))).collect();
        move |k| m.get(k).cloned()
    }

    /// A receiving socket bound in a temp dir, as systemd's would be.
    fn listener() -> (TestDir, UnixDatagram, String) {
        let dir = TestDir::new();
        let path = dir.0.join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        (dir, sock, path.to_str().unwrap().to_string())
    }

    fn recv(sock: &UnixDatagram) -> Option<String> {
        let mut buf = [0u8; 4096];
        match sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => None,
            Err(e) => panic!("recv: {e}"),
        }
    }

    /// Everything received within `window`.
    fn recv_for(sock: &UnixDatagram, window: Duration) -> Vec<String> {
        let end = Instant::now() + window;
        let mut out = Vec::new();
        while Instant::now() < end {
            out.extend(recv(sock));
        }
        out
    }

    /// Receives until a message satisfies `f` (returned with everything before it), or panics.
    fn recv_until(sock: &UnixDatagram, timeout: Duration, f: impl Fn(&str) -> bool) -> Vec<String> {
        let end = Instant::now() + timeout;
        let mut out = Vec::new();
        while Instant::now() < end {
            if let Some(m) = recv(sock) {
                let hit = f(&m);
                out.push(m);
                if hit {
                    return out;
                }
            }
        }
        panic!("no matching message within {timeout:?}; got {out:?}");
    }

    /// Receives until `count` copies of `message` arrived (5 s at most); returns everything received.
    fn recv_until_count(sock: &UnixDatagram, message: &str, count: usize) -> Vec<String> {
        let end = Instant::now() + Duration::from_secs(5);
        let mut out: Vec<String> = Vec::new();
        while out.iter().filter(|m| *m == message).count() < count {
            assert!(Instant::now() < end, "fewer than {count} {message:?} within 5 s: {out:?}");
            out.extend(recv(sock));
        }
        out
    }

    #[test]
    fn ready_status_stopping_arrive() {
        let (_dir, sock, path) = listener();
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", &path)])).unwrap();
        assert!(n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready().unwrap();
        assert_eq!(recv(&sock).as_deref(), Some("READY=1"));
        n.status("3/3 cameras\nstreaming").unwrap();
        assert_eq!(recv(&sock).as_deref(), Some("STATUS=3/3 cameras streaming"));
        n.extend_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(recv(&sock).as_deref(), Some("EXTEND_TIMEOUT_USEC=20000000"));
        assert!(!n.is_stopping());
        n.clone().stopping().unwrap();
        assert!(n.is_stopping(), "clones share the stopping flag");
        assert_eq!(recv(&sock).as_deref(), Some("STOPPING=1"));
    }

    #[test]
    fn abstract_socket_name() {
        let name = format!("kaiteki-notify-test-{}-{:?}", std::process::id(), std::thread::current().id());
        let addr = abstract_addr(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", &format!("@{name}"))])).unwrap();
        n.ready().unwrap();
        assert_eq!(recv(&sock).as_deref(), Some("READY=1"));
        // The '@' is not part of the name: a socket literally named "@..." in the abstract namespace would
        // be a different one.
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            assert_eq!(addr.as_abstract_name(), Some(name.as_bytes()));
        }
    }

    #[test]
    fn absent_environment_is_a_no_op() {
        let n = Notifier::from_lookup(vars(&[])).unwrap();
        assert!(!n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready().unwrap();
        n.status("x").unwrap();
        n.watchdog().unwrap();
        n.stopping().unwrap();
        // An empty NOTIFY_SOCKET is the same as none; a watchdog without a socket is no watchdog.
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", ""), ("WATCHDOG_USEC", "1000000")])).unwrap();
        assert!(!n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            assert!(Watchdog::new(Notifier::disabled(), || true).spawn().is_none());
            // run() returns at once.
            tokio::time::timeout(Duration::from_secs(1), Watchdog::new(Notifier::disabled(), || true).run())
                .await
                .expect("run() without a watchdog returns at once");
        });
    }

    #[test]
    fn bad_variables_are_errors() {
        assert!(matches!(
            Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", "relative/notify")])),
            Err(NotifyError::BadSocket(_))
        ));
        assert!(matches!(
            Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", "vsock:2:1234")])),
            Err(NotifyError::Unsupported(_))
        ));
        assert!(matches!(
            Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", "/run/x"), ("WATCHDOG_USEC", "soon")])),
            Err(NotifyError::BadVar { var: "WATCHDOG_USEC", .. })
        ));
        assert!(matches!(
            Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", "/run/x"), ("WATCHDOG_USEC", "1"), ("WATCHDOG_PID", "me")])),
            Err(NotifyError::BadVar { var: "WATCHDOG_PID", .. })
        ));
    }

    #[test]
    fn watchdog_interval_is_half_and_only_for_this_pid() {
        let me = std::process::id();
        assert_eq!(watchdog_from(Some("30000000".into()), None, me).unwrap(), Some(Duration::from_secs(30)));
        assert_eq!(watchdog_from(Some("0".into()), None, me).unwrap(), None);
        assert_eq!(watchdog_from(None, Some(me.to_string().into()), me).unwrap(), None);
        assert_eq!(watchdog_from(Some("1000".into()), Some((me + 1).to_string().into()), me).unwrap(), None);
        let (_dir, _sock, path) = listener();
        let n = Notifier::from_lookup(vars(&[
            ("NOTIFY_SOCKET", &path),
            ("WATCHDOG_USEC", "30000000"),
            ("WATCHDOG_PID", &me.to_string()),
        ]))
        .unwrap();
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));
        assert_eq!(n.watchdog_timeout(), Some(Duration::from_secs(30)));
    }

    #[test]
    fn send_to_a_missing_socket_is_an_error_not_a_panic() {
        let dir = TestDir::new();
        let path = dir.0.join("gone.sock");
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", path.to_str().unwrap())])).unwrap();
        assert!(matches!(n.ready(), Err(NotifyError::Io(_))));
    }

    /// Pings flow while the check reports progress, stop (with a STATUS= reason) when it stops, and
    /// resume when it resumes; `stopping()` ends the task.
    #[test]
    fn watchdog_pings_only_while_progressing() {
        let (_dir, sock, path) = listener();
        // 100 ms watchdog: a ping every 50 ms.
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "100000")])).unwrap();
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(50)));
        let progressing = Arc::new(AtomicBool::new(true));
        let calls = Arc::new(AtomicUsize::new(0));
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let handle = {
            let _g = rt.enter();
            let (p, c) = (progressing.clone(), calls.clone());
            Watchdog::new(n.clone(), move || {
                c.fetch_add(1, Ordering::Relaxed);
                if p.load(Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err("camera campus: no frame for 31 s".to_string())
                }
            })
            .healthy_status("streaming")
            .spawn()
            .expect("a watchdog is configured")
        };

        // Healthy: pings (generous timeouts: a loaded 2-core CI machine may delay ticks).
        let got = recv_until_count(&sock, "WATCHDOG=1", 3);
        assert!(got.iter().all(|m| m == "WATCHDOG=1"), "only pings while healthy: {got:?}");

        // Stalled: the reason shows up as STATUS=, once; from then on no pings at all, although the check
        // keeps being asked.
        progressing.store(false, Ordering::SeqCst);
        recv_until(&sock, Duration::from_secs(5), |m| {
            m == "STATUS=watchdog withheld: camera campus: no frame for 31 s"
        });
        let before = calls.load(Ordering::SeqCst);
        let end = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        while calls.load(Ordering::SeqCst) < before + 4 && Instant::now() < end {
            got.extend(recv(&sock));
        }
        assert!(calls.load(Ordering::SeqCst) >= before + 4, "the check keeps being asked while stalled");
        got.extend(recv_for(&sock, Duration::from_millis(60)));
        assert!(got.is_empty(), "nothing while stalled (no pings, the status only once): {got:?}");

        // Progress again: the healthy status, then pings.
        progressing.store(true, Ordering::SeqCst);
        let got = recv_until(&sock, Duration::from_secs(5), |m| m == "WATCHDOG=1");
        assert_eq!(got, ["STATUS=streaming", "WATCHDOG=1"]);
        recv_until_count(&sock, "WATCHDOG=1", 2);

        // Shutdown: the task ends by itself.
        n.stopping().unwrap();
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), handle).await })
            .expect("the watchdog task ends after stopping()")
            .unwrap();
        let got = recv_for(&sock, Duration::from_millis(200));
        assert!(got.iter().all(|m| m != "WATCHDOG=1"), "no pings after STOPPING=1: {got:?}");
    }

    /// A plain `bool` check works too; its stall reason is generic.
    #[test]
    fn bool_checks() {
        assert_eq!(Progress::from(true), Progress::Healthy);
        assert_eq!(Progress::from(false), Progress::Stalled("no progress".into()));
        let (_dir, sock, path) = listener();
        let n = Notifier::from_lookup(vars(&[("NOTIFY_SOCKET", &path), ("WATCHDOG_USEC", "100000")])).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let h = rt.spawn(Watchdog::new(n.clone(), || false).run());
        recv_until(&sock, Duration::from_secs(2), |m| m == "STATUS=watchdog withheld: no progress");
        assert!(recv_for(&sock, Duration::from_millis(200)).is_empty());
        h.abort();
    }
}
