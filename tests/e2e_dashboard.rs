//! The crew dashboard end to end: mosquitto + the daemon on vtest.avi with dashboard users created by
//! `kaiteki user add`, then the browser test (tests/dashboard/dashboard.test.mjs: Debian's chromium via
//! playwright-core) against it: login, wrong password, rate limit, every page, language switch, keyboard
//! and contrast checks, screenshots. A "repaired" mark must come out on MQTT as a `damage_mark` event.
//!
//! Needs: chromium + fonts-ipafont-gothic (scripts/setup-system.sh test), node 20 + npm (playwright-core
//! is installed from tests/dashboard/package-lock.json on first run).
//! Screenshots: $KAITEKI_SCREENSHOT_DIR or target/dashboard-screenshots/.
//! A second camera plays a generated bus drive (tests/support/drive.rs) through the fixture road-damage
//! model with its NMEA log, so the road-damage page shows real records and the mark round trip is required.
//! A third camera plays a generated intersection (tests/support/crossing.rs) with one near-miss, so the
//! intersections page must show it too: every page renders data from this real run.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const DEVICE: &str = "e2e-dash";
const CREW: (&str, &str) = ("crew1", "crew-e2e-password");
const ADMIN: (&str, &str) = ("admin1", "admin-e2e-password");

/// `kaiteki user add --name … --role … --password-stdin` prints a TOML snippet for the config.
fn user_snippet(name: &str, role: &str, password: &str) -> String {
    let mut child = Command::new(kaiteki_bin())
        .args(["user", "add", "--name", name, "--role", role, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run kaiteki user add");
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kaiteki user add failed: {}", String::from_utf8_lossy(&out.stderr));
    let snippet = String::from_utf8(out.stdout).unwrap();
    assert!(snippet.contains("$argon2id$"), "no argon2id hash in:\n{snippet}");
    assert!(!snippet.contains(password), "the password itself must not be printed");
    snippet
}

fn config(dir: &Path, broker_port: u16, http_port: u16) -> PathBuf {
    use support::drive;
    let drive_video = drive::render_video(dir, "drive", &drive::street());
    let junction_video = support::crossing::render_video(dir, "junction");
    let nmea = drive::nmea_log(dir);
    let users = format!("{}\n{}", user_snippet(CREW.0, "crew", CREW.1), user_snippet(ADMIN.0, "admin", ADMIN.1));
    let cfg = format!(
        r#"
device_id = "{DEVICE}"
pipelines_dir = "{pipelines}"
[storage]
state_dir = "{state}"
[models.people]
manifest = "{manifest}"
backend = "ort"
threads = 2
[cameras.campus]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "people"
realtime = false
[cameras.campus.detect]
classes = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
[cameras.campus.summary]
interval_s = 10
{analytics}
[models.rdd]
manifest = "{rdd}"
backend = "tract"
threads = 1
[cameras.bus]
pipeline = "file"
params = {{ uri = "file://{drive_video}" }}
model = "rdd"
realtime = false
[cameras.bus.detect]
gate = {{ mode = "every_frame" }}
[cameras.bus.road_damage.calibration]
points = {points}
[models.traffic]
manifest = "{traffic}"
backend = "tract"
threads = 1
[cameras.junction]
pipeline = "file"
params = {{ uri = "file://{junction_video}" }}
model = "traffic"
realtime = false
[cameras.junction.detect]
gate = {{ mode = "every_frame" }}
[cameras.junction.analytics.calibration]
points = {junction_points}
[snapshots]
enabled = true
object_model = "{objects}"
face_model = "{faces}"
[gnss]
source = {{ kind = "replay", path = "{nmea}" }}
[mqtt]
port = {broker_port}
[http]
listen = "127.0.0.1:{http_port}"
[http.dashboard]
session_ttl_s = 3600
login_rate_limit = {{ max_attempts = 5, window_s = 300 }}
{users}
"#,
        pipelines = repo_path("pipelines"),
        state = dir.join("state").display(),
        manifest = repo_path("models/centernet_human_512.toml"),
        video = media("vtest.avi").display(),
        analytics = vtest_analytics("campus"),
        rdd = repo_path("models/fixtures/rdd_fixture_yolov8.toml"),
        drive_video = drive_video.display(),
        nmea = nmea.display(),
        points = drive::calibration_points(),
        objects = repo_path("models/centernet_human_512.toml"),
        traffic = repo_path("models/fixtures/traffic_fixture_yolov8.toml"),
        junction_video = junction_video.display(),
        junction_points = support::crossing::calibration_points(),
        faces = repo_path("models/blazeface_full_range_192.toml"),
    );
    let path = dir.join("kaiteki-dashboard.toml");
    std::fs::write(&path, cfg).unwrap();
    path
}

/// playwright-core from the lockfile, once (node_modules is not committed).
fn ensure_playwright(test_dir: &Path) {
    if test_dir.join("node_modules/playwright-core/package.json").is_file() {
        return;
    }
    let npm = which("npm").unwrap_or_else(|| panic!("npm is not installed (Node 20 + npm are needed for the browser test)"));
    let st = Command::new(npm).args(["ci", "--no-audit", "--no-fund"]).current_dir(test_dir).status().expect("npm ci");
    assert!(st.success(), "npm ci failed in {}", test_dir.display());
}

#[test]
fn dashboard_in_a_real_browser() {
    let chromium = which("chromium").unwrap_or_else(|| panic!("chromium is not installed: run scripts/setup-system.sh test"));
    let node = which("node").unwrap_or_else(|| panic!("node is not installed (Node 20 is needed for the browser test)"));
    let js_dir = repo_root().join("tests/dashboard");
    ensure_playwright(&js_dir);

    let dir = test_dir();
    let broker = Broker::start(dir.path());
    let sub = Subscriber::start(broker.port, "kaiteki/v1/#");
    let http = free_port();
    let cfg = config(dir.path(), broker.port, http);
    let daemon = start_daemon(dir.path(), &cfg, &[]);

    // Wait for data from the real run: a scene summary on MQTT, and the camera in the status.
    wait_until(Duration::from_secs(120), || (!sub.on_topic("/events/scene_summary").is_empty()).then_some(()))
        .unwrap_or_else(|| panic!("no scene summary from the daemon: {}", daemon.log_text()));
    wait_until(Duration::from_secs(30), || {
        let (code, body) = http_get(http, "/api/status")?;
        (code == 200 && body.contains("campus")).then_some(())
    })
    .unwrap_or_else(|| panic!("no status: {}", daemon.log_text()));
    // The drive's three road-damage records.
    wait_until(Duration::from_secs(180), || (sub.on_topic("/events/road_damage").len() >= 3).then_some(()))
        .unwrap_or_else(|| panic!("no road-damage records from the drive: {}", daemon.log_text()));
    // The junction's near-miss (tests/e2e_intersection.rs checks its numbers).
    wait_until(Duration::from_secs(120), || (!sub.on_topic("/events/near_miss").is_empty()).then_some(()))
        .unwrap_or_else(|| panic!("no near-miss from the junction: {}", daemon.log_text()));
    // Data routes need a session.
    let (code, body) = http_get(http, "/api/dash/overview").unwrap();
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("unauthenticated"), "{body}");
    let (code, _) = http_get(http, "/dashboard/overview").unwrap();
    assert_eq!(code, 303, "pages redirect to the login");

    let shots = std::env::var_os("KAITEKI_SCREENSHOT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/dashboard-screenshots"));
    let mark_file = dir.path().join("mark.json");
    let out = Command::new(node)
        .arg("dashboard.test.mjs")
        .current_dir(&js_dir)
        .env("BASE_URL", format!("http://127.0.0.1:{http}"))
        .env("DASH_USER", CREW.0)
        .env("DASH_PASSWORD", CREW.1)
        .env("DASH_ADMIN_USER", ADMIN.0)
        .env("DASH_ADMIN_PASSWORD", ADMIN.1)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .env("RATE_LIMIT_MAX", "5")
        .env("EXPECT_CAMERA", "campus")
        .env("REQUIRE_DATA", "overview,road-damage,intersections,crowding,system,calibration")
        .env("REQUIRE_MARK", "1")
        .env("MARK_RESULT_FILE", &mark_file)
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}\n{stderr}");
    assert!(out.status.success(), "browser test failed:\n{stdout}\n{stderr}\ndaemon log:\n{}", daemon.log_text());
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");

    // The repaired mark, published by the daemon as an event.
    {
        {
            let txt = std::fs::read_to_string(&mark_file).expect("the browser test marked no road-damage record");
            let m: serde_json::Value = serde_json::from_str(&txt).unwrap();
            let id = m["record_id"].as_str().unwrap().to_string();
            let topic = format!("{DEVICE}/events/damage_mark");
            let ev = wait_until(Duration::from_secs(10), || {
                sub.on_topic(&topic).into_iter().find(|e| e["data"]["record_id"] == id.as_str())
            })
            .unwrap_or_else(|| panic!("no damage_mark for {id} on kaiteki/v1/{topic}: {:?}", sub.on_topic("/events/damage_mark")));
            assert_eq!(ev["kind"], "damage_mark", "{ev}");
            assert_eq!(ev["data"]["status"], "repaired", "{ev}");
            assert_eq!(ev["data"]["user"], CREW.0, "{ev}");
            assert!(ev["data"]["at"].is_string(), "{ev}");
            assert_valid_event(&ev);
        }
    }
    // Every event of the run (all three cameras and the mark) matches the committed schema of its kind,
    // and nothing but a snapshot carries image bytes.
    let validated = sub.assert_events_valid();
    assert_validated(&validated, &["scene_summary", "road_damage", "near_miss", "damage_mark"]);
    let log = daemon.log_text();
    assert!(!log.contains("panicked"), "{log}");
}

/// `[http.tls]`: the dashboard over HTTPS with a configured certificate (made here with openssl), checked
/// with curl against that certificate; plain HTTP on the same port gets no answer; a missing key stops
/// the start with a clear message instead of falling back to HTTP.
#[test]
fn dashboard_over_https_with_a_configured_certificate() {
    let curl = which("curl").unwrap_or_else(|| panic!("curl is not installed: run scripts/setup-system.sh test"));
    let openssl = which("openssl").unwrap_or_else(|| panic!("openssl is not installed: run scripts/setup-system.sh test"));
    let dir = test_dir();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let st = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=kaiteki-test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "openssl could not make a test certificate");
    let http = free_port();
    let video = support::drive::render_video(dir.path(), "drive", &support::drive::street());
    let write_cfg = |key: &Path| {
        let text = format!(
            "device_id = \"e2e-tls\"\npipelines_dir = \"{}\"\n[models.rdd]\nmanifest = \"{}\"\nbackend = \"tract\"\n[cameras.bus]\npipeline = \"file\"\nparams = {{ uri = \"file://{}\" }}\nmodel = \"rdd\"\nloop = true\n[storage]\nstate_dir = \"{}\"\n[mqtt]\nenabled = false\n[http]\nlisten = \"127.0.0.1:{http}\"\n[http.tls]\ncert = \"{}\"\nkey = \"{}\"\n[http.dashboard]\n{}",
            repo_path("pipelines"),
            repo_path("models/fixtures/rdd_fixture_yolov8.toml"),
            video.display(),
            dir.path().join("state").display(),
            cert.display(),
            key.display(),
            user_snippet(CREW.0, "crew", CREW.1),
        );
        let p = dir.path().join("tls.toml");
        std::fs::write(&p, text).unwrap();
        p
    };
    let mut daemon = start_daemon(dir.path(), &write_cfg(&key), &[]);
    assert!(wait_for_port(http, Duration::from_secs(30)), "no listener: {}", daemon.log_text());
    let get = |extra: &[&str], url: &str| {
        let out = Command::new(&curl).args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5"]).args(extra).arg(url).output().unwrap();
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let cacert = cert.display().to_string();
    let https = format!("https://127.0.0.1:{http}");
    assert_eq!(get(&["--cacert", &cacert], &format!("{https}/login")), "200", "{}", daemon.log_text());
    assert_eq!(get(&["--cacert", &cacert], &format!("{https}/dashboard/overview")), "303");
    assert_eq!(get(&["--cacert", &cacert], &format!("{https}/api/dash/overview")), "401");
    // With TLS, cookies are Secure by default (never sent back over plain HTTP).
    let headers = Command::new(&curl).args(["-s", "-D", "-", "-o", "/dev/null", "--max-time", "5", "--cacert", &cacert]).arg(format!("{https}/login")).output().unwrap();
    let headers = String::from_utf8_lossy(&headers.stdout).to_ascii_lowercase();
    let cookie = headers.lines().find(|l| l.starts_with("set-cookie:")).unwrap_or_else(|| panic!("no cookie set by the login page: {headers}"));
    assert!(cookie.contains("; secure") && cookie.contains("httponly"), "{cookie}");
    // A client that does not trust the certificate is refused by curl; plain HTTP gets no HTTP answer.
    assert_eq!(get(&[], &format!("{https}/login")), "000");
    assert_eq!(get(&[], &format!("http://127.0.0.1:{http}/login")), "000");
    daemon.terminate();

    let missing = dir.path().join("no-such-key.pem");
    let mut bad = start_daemon(dir.path(), &write_cfg(&missing), &[]);
    let exit = bad.wait_exit(Duration::from_secs(30)).expect("the daemon must refuse to start");
    assert!(!exit.success());
    let log = bad.log_text();
    assert!(log.contains("http.tls") && log.contains("no-such-key.pem"), "{log}");
}
