//! The systemd integration end to end: `scripts/install.sh` into a staging root, the installed units
//! checked by `systemd-analyze verify` and scored by `systemd-analyze security`, the sysusers and
//! tmpfiles snippets applied to the staging root, the installed default config accepted by
//! `kaiteki check`, and the daemon speaking the sd_notify protocol (READY=1, WATCHDOG=1 while frames flow,
//! STOPPING=1) to a notification socket, as systemd would see it.
//!
//! No systemd as PID 1 is needed (CI containers have none): `systemd-analyze verify --root=DIR` loads the
//! units from the staging root, checks that `ExecStart=` is executable *inside* it, reads drop-ins, and
//! with `--recursive-errors=no` does not insist on the rest of a booted system (sysinit.target and the
//! like are absent from a staging root). It does not check that `User=` exists (systemd 252 leaves that
//! to start time), so the missing kaiteki user on a build machine is no problem.

#[path = "support/mod.rs"]
mod support;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use support::*;

/// Exposure scores measured with systemd 252 (Debian 12): 1.6 for the unit, 1.8 with the Jetson drop-in
/// (it needs the host's /tmp for nvargus). A change that weakens the sandboxing shows up here.
const MAX_EXPOSURE: f64 = 2.0;

fn systemd_analyze() -> PathBuf {
    which("systemd-analyze").expect("systemd-analyze missing: apt-get install systemd")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap_or_else(|e| panic!("cannot run {:?}: {e}", cmd.get_program()))
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// `scripts/install.sh` into a fresh staging root, with the binary under test.
fn stage(dir: &Path, jetson: bool) -> PathBuf {
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let o = run(Command::new("bash")
        .arg(repo_root().join("scripts/install.sh"))
        .env("DESTDIR", &root)
        .env("PREFIX", "/usr")
        .env("BIN", kaiteki_bin())
        .env("ORT_LIB", ort_lib())
        .env("KAITEKI_JETSON", if jetson { "1" } else { "0" }));
    assert!(o.status.success(), "install.sh failed: {}", text(&o));
    root
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).permissions().mode() & 0o7777
}

#[test]
fn install_stages_every_file_with_its_mode() {
    let dir = test_dir();
    let root = stage(dir.path(), false);
    let expect = [
        ("usr/bin/kaiteki", 0o755),
        ("usr/lib/systemd/system/kaiteki.service", 0o644),
        ("usr/lib/sysusers.d/kaiteki.conf", 0o644),
        ("usr/lib/tmpfiles.d/kaiteki.conf", 0o644),
        ("usr/lib/kaiteki/libonnxruntime.so", 0o644),
        ("usr/share/kaiteki/systemd/jetson.conf", 0o644),
        ("usr/share/kaiteki/models/centernet_human_512.toml", 0o644),
        ("usr/share/kaiteki/models/centernet_human_512.onnx", 0o644),
        ("usr/share/kaiteki/pipelines/rtsp.toml", 0o644),
        ("usr/share/kaiteki/pipelines/v4l2.toml", 0o644),
        ("usr/share/kaiteki/pipelines/jetson-csi.toml", 0o644),
        ("usr/share/doc/kaiteki/README.md", 0o644),
        ("etc/kaiteki", 0o750),
        ("etc/kaiteki/config.toml", 0o640),
    ];
    for (rel, m) in expect {
        let p = root.join(rel);
        assert_eq!(mode(&p), m, "{rel}: mode {:o}, expected {m:o}", mode(&p));
    }
    // The library is a real file, not a link into the build tree.
    assert!(!std::fs::symlink_metadata(root.join("usr/lib/kaiteki/libonnxruntime.so")).unwrap().file_type().is_symlink());
    // Every pipeline definition; only models whose file is present.
    for p in std::fs::read_dir(repo_root().join("pipelines")).unwrap() {
        let name = p.unwrap().file_name();
        assert!(root.join("usr/share/kaiteki/pipelines").join(&name).is_file(), "{name:?} not installed");
    }
    for m in std::fs::read_dir(root.join("usr/share/kaiteki/models")).unwrap() {
        let p = m.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let manifest = std::fs::read_to_string(&p).unwrap();
            let file = manifest.lines().find_map(|l| l.strip_prefix("file = \"")).and_then(|l| l.split('"').next());
            assert!(root.join("usr/share/kaiteki/models").join(file.unwrap()).is_file(), "{} without its model", p.display());
        }
    }
    // No Jetson drop-in on an x86 install.
    assert!(!root.join("usr/lib/systemd/system/kaiteki.service.d").exists());

    // A second install keeps an edited config and puts the new default beside it.
    let cfg = root.join("etc/kaiteki/config.toml");
    std::fs::write(&cfg, "device_id = \"edited\"\n").unwrap();
    stage(dir.path(), false);
    assert_eq!(std::fs::read_to_string(&cfg).unwrap(), "device_id = \"edited\"\n");
    assert_eq!(mode(&root.join("etc/kaiteki/config.toml.default")), 0o640);
}

#[test]
fn install_with_another_prefix_rewrites_the_unit() {
    let dir = test_dir();
    let root = dir.path().join("root");
    let o = run(Command::new("bash")
        .arg(repo_root().join("scripts/install.sh"))
        .env("DESTDIR", &root)
        .env("PREFIX", "/usr/local")
        .env("BIN", kaiteki_bin())
        .env("ORT_LIB", ort_lib())
        .env("KAITEKI_JETSON", "0"));
    assert!(o.status.success(), "install.sh failed: {}", text(&o));
    let unit = std::fs::read_to_string(root.join("usr/local/lib/systemd/system/kaiteki.service")).unwrap();
    assert!(unit.contains("ExecStart=/usr/local/bin/kaiteki "), "{unit}");
    assert!(unit.contains("ORT_DYLIB_PATH=/usr/local/lib/kaiteki/libonnxruntime.so"), "{unit}");
    assert!(root.join("usr/local/bin/kaiteki").is_file());
    assert!(root.join("etc/kaiteki/config.toml").is_file(), "the config stays in /etc");
}

/// `systemd-analyze verify` of the installed unit (and drop-in): no output at all, exit 0.
fn verify(root: &Path) {
    let o = run(Command::new(systemd_analyze())
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .args(["--man=no", "--recursive-errors=no", "kaiteki.service"]));
    let out = text(&o);
    assert!(o.status.success() && out.trim().is_empty(), "systemd-analyze verify complained:\n{out}");
}

/// The overall exposure from `systemd-analyze security --offline=yes` (systemd 250 and later).
fn exposure(root: &Path) -> (f64, String) {
    let o = run(Command::new(systemd_analyze())
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(format!("--root={}", root.display()))
        .arg("kaiteki.service"));
    let out = text(&o);
    let score = out
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for kaiteki.service:"))
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{out}"));
    (score, out)
}

#[test]
fn units_verify_and_score_as_sandboxed() {
    let dir = test_dir();
    let root = stage(dir.path(), false);
    verify(&root);
    let (score, out) = exposure(&root);
    assert!(score <= MAX_EXPOSURE, "exposure {score} > {MAX_EXPOSURE}:\n{out}");

    // A unit that points at a missing binary must fail: verify really looks inside the staging root.
    std::fs::remove_file(root.join("usr/bin/kaiteki")).unwrap();
    let o = run(Command::new(systemd_analyze())
        .arg("verify")
        .arg(format!("--root={}", root.display()))
        .args(["--man=no", "--recursive-errors=no", "kaiteki.service"]));
    assert!(!o.status.success() && text(&o).contains("not executable"), "{}", text(&o));
}

#[test]
fn jetson_drop_in_verifies_and_stays_sandboxed() {
    let dir = test_dir();
    let root = stage(dir.path(), true);
    let drop_in = root.join("usr/lib/systemd/system/kaiteki.service.d/jetson.conf");
    assert_eq!(mode(&drop_in), 0o644);
    verify(&root);
    let (score, out) = exposure(&root);
    assert!(score <= MAX_EXPOSURE, "exposure {score} > {MAX_EXPOSURE}:\n{out}");
    // The drop-in is really read: its device groups show in the device ACL, its /tmp setting in the score.
    assert!(out.contains("char-nvhost-*") && out.contains("/dev/nvmap"), "{out}");
}

/// The settings the rest of the design relies on (the daemon's notify and shutdown code, the packaging).
#[test]
fn unit_has_the_settings_the_daemon_relies_on() {
    let unit = std::fs::read_to_string(repo_root().join("systemd/kaiteki.service")).unwrap();
    let settings: Vec<&str> = unit.lines().map(str::trim).filter(|l| !l.starts_with('#') && l.contains('=')).collect();
    for want in [
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=/usr/bin/kaiteki --log-json run -c /etc/kaiteki/config.toml",
        "WatchdogSec=30",
        "Restart=on-failure",
        "User=kaiteki",
        "StateDirectory=kaiteki",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "DevicePolicy=closed",
        "CapabilityBoundingSet=",
        "UMask=0077",
        "Environment=ORT_DYLIB_PATH=/usr/lib/kaiteki/libonnxruntime.so",
    ] {
        assert!(settings.contains(&want), "kaiteki.service lacks `{want}`");
    }
    // The daemon's shutdown (cameras, outbox, 15 s MQTT flush, 5 s HTTP) must fit in the stop timeout.
    let stop: u64 = settings.iter().find_map(|l| l.strip_prefix("TimeoutStopSec=")).unwrap().parse().unwrap();
    assert!(stop >= 45, "TimeoutStopSec={stop} leaves no time to flush the outbox");
    assert!(!settings.iter().any(|l| l.starts_with("MemoryDenyWriteExecute=")), "see the unit's comment before enabling");
}

/// The sysusers and tmpfiles snippets applied to a staging root make the user, the groups and the
/// directories with the right owners and modes. Needs root (chown); skipped otherwise.
#[test]
fn sysusers_and_tmpfiles_make_user_and_directories() {
    let uid = String::from_utf8(run(Command::new("id").arg("-u")).stdout).unwrap();
    if uid.trim() != "0" {
        eprintln!("skipped: applying tmpfiles to a staging root needs root (chown)");
        return;
    }
    let sysusers = which("systemd-sysusers").expect("systemd-sysusers missing: apt-get install systemd");
    let tmpfiles = which("systemd-tmpfiles").expect("systemd-tmpfiles missing: apt-get install systemd");
    let dir = test_dir();
    let root = stage(dir.path(), false);
    // The base system's users and groups (video, dialout) as on a real target.
    for f in ["passwd", "group"] {
        std::fs::copy(Path::new("/etc").join(f), root.join("etc").join(f)).unwrap();
    }
    let o = run(Command::new(&sysusers).arg(format!("--root={}", root.display())));
    assert!(o.status.success(), "systemd-sysusers: {}", text(&o));
    let o = run(Command::new(&tmpfiles).arg(format!("--root={}", root.display())).arg("--create"));
    assert!(o.status.success(), "systemd-tmpfiles: {}", text(&o));

    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let user: Vec<&str> = passwd.lines().find(|l| l.starts_with("kaiteki:")).expect("no kaiteki user").split(':').collect();
    let (uid, gid): (u32, u32) = (user[2].parse().unwrap(), user[3].parse().unwrap());
    assert!(uid > 0 && uid < 1000, "a system uid: {uid}");
    assert_eq!(user[5], "/var/lib/kaiteki");
    assert!(user[6].ends_with("nologin"), "no login shell: {}", user[6]);
    let group = std::fs::read_to_string(root.join("etc/group")).unwrap();
    for g in ["video", "dialout"] {
        let line = group.lines().find(|l| l.starts_with(&format!("{g}:"))).unwrap();
        assert!(line.rsplit(':').next().unwrap().split(',').any(|m| m == "kaiteki"), "kaiteki not in {g}: {line}");
    }
    for (rel, m, owner) in [("etc/kaiteki", 0o750, 0), ("var/lib/kaiteki", 0o750, uid), ("var/cache/kaiteki", 0o750, uid)] {
        let md = std::fs::metadata(root.join(rel)).unwrap();
        assert_eq!((md.permissions().mode() & 0o7777, md.uid(), md.gid()), (m, owner, gid), "{rel}");
    }
}

/// The installed default config, with its absolute paths moved into the staging root, passes
/// `kaiteki check` (models, pipelines and the ONNX Runtime library included).
#[test]
fn installed_default_config_checks() {
    let dir = test_dir();
    let root = stage(dir.path(), false);
    let cfg = std::fs::read_to_string(root.join("etc/kaiteki/config.toml")).unwrap();
    let staged = cfg
        .replace("/usr/share/kaiteki/", &format!("{}/usr/share/kaiteki/", root.display()))
        .replace("/var/lib/kaiteki", &dir.path().join("state").display().to_string());
    let path = dir.path().join("config.toml");
    std::fs::write(&path, staged).unwrap();
    let o = run(Command::new(kaiteki_bin())
        .args(["check", "-c"])
        .arg(&path)
        .env("ORT_DYLIB_PATH", root.join("usr/lib/kaiteki/libonnxruntime.so")));
    assert!(o.status.success(), "kaiteki check of the default config: {}", text(&o));
}

/// The daemon under a fake systemd: a notification socket, a 4 s watchdog. It must send READY=1 once
/// started, WATCHDOG=1 while frames flow (every 2 s), STOPPING=1 on SIGTERM, and exit cleanly.
#[test]
fn daemon_speaks_sd_notify() {
    use std::os::unix::net::UnixDatagram;
    let dir = test_dir();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let http_port = free_port();
    let cfg = format!(
        r#"
device_id = "e2e-systemd"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.people]
manifest = "{manifest}"
backend = "ort"
threads = 1
[cameras.campus]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "people"
loop = true
realtime = true
[mqtt]
enabled = false
[http]
listen = "127.0.0.1:{http_port}"
"#,
        pipelines = repo_path("pipelines"),
        state = dir.path().join("state").display(),
        manifest = repo_path("models/centernet_human_512.toml"),
        video = media("vtest.avi").display(),
    );
    let cfg_path = dir.path().join("kaiteki.toml");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mut cmd = Command::new(kaiteki_bin());
    cmd.args(["--log-json", "run", "-c"])
        .arg(&cfg_path)
        .env("ORT_DYLIB_PATH", ort_lib())
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "4000000")
        .env_remove("WATCHDOG_PID");
    let mut daemon = spawn_logged(cmd, dir.path().join("kaiteki.log"));

    let mut got: Vec<String> = Vec::new();
    recv_until(&sock, &daemon, "READY=1", Duration::from_secs(60), &mut got);
    // Frames flow: pings every 2 s.
    recv_until(&sock, &daemon, "WATCHDOG=1", Duration::from_secs(10), &mut got);
    recv_until(&sock, &daemon, "WATCHDOG=1", Duration::from_secs(10), &mut got);
    daemon.terminate();
    recv_until(&sock, &daemon, "STOPPING=1", Duration::from_secs(10), &mut got);
    let status = daemon.wait_exit(Duration::from_secs(60)).expect("the daemon did not exit after SIGTERM");
    assert!(status.success(), "exit {status:?}; log:\n{}", daemon.log_text());
    // Structured logs for journald: the daemon's own lines are JSON objects (GStreamer's C libraries may
    // still print plain warnings to stderr).
    let log = daemon.log_text();
    let daemon_lines: Vec<&str> = log.lines().filter(|l| l.starts_with('{')).collect();
    assert!(
        !daemon_lines.is_empty()
            && daemon_lines.iter().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok_and(|v| v["level"].is_string())),
        "with --log-json every daemon log line is a JSON object with a level:\n{log}"
    );
}

/// Receives notifications until one has the line `what`; everything received is kept in `got`.
fn recv_until(sock: &std::os::unix::net::UnixDatagram, daemon: &Proc, what: &str, timeout: Duration, got: &mut Vec<String>) {
    let found = wait_until(timeout, || {
        let mut buf = [0u8; 4096];
        let n = sock.recv(&mut buf).ok()?;
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        let hit = m.lines().any(|l| l == what);
        got.push(m);
        hit.then_some(())
    });
    assert!(found.is_some(), "no {what} within {timeout:?}; received {got:?}; log:\n{}", daemon.log_text());
}
