//! MQTT over TLS against a real mosquitto that requires client certificates (certificates made here
//! with openssl): a daemon that trusts the wrong CA, and one without a client certificate, are refused
//! with a clear log line while their events wait in the outbox; the daemon with the right CA and its
//! client certificate then delivers everything they kept.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::*;

const DEVICE: &str = "e2e-tls-mqtt";

fn openssl(dir: &Path, args: &[&str]) {
    let st = Command::new("openssl").args(args).current_dir(dir).stdout(Stdio::null()).stderr(Stdio::null()).status().expect("openssl");
    assert!(st.success(), "openssl {args:?} failed");
}

/// A CA, and a certificate signed by it (`name`.pem / `name`.key), with an IP SAN for 127.0.0.1.
fn make_ca(dir: &Path, ca: &str) {
    openssl(dir, &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", &format!("/CN={ca}"), "-keyout", &format!("{ca}.key"), "-out", &format!("{ca}.pem")]);
}

fn make_cert(dir: &Path, ca: &str, name: &str) {
    openssl(dir, &["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", &format!("/CN={name}"), "-keyout", &format!("{name}.key"), "-out", &format!("{name}.csr")]);
    std::fs::write(dir.join(format!("{name}.ext")), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(dir, &["x509", "-req", "-in", &format!("{name}.csr"), "-CA", &format!("{ca}.pem"), "-CAkey", &format!("{ca}.key"), "-CAcreateserial", "-days", "2", "-extfile", &format!("{name}.ext"), "-out", &format!("{name}.pem")]);
}

fn config(dir: &Path, video: &Path, tls_port: u16, http: u16, tls: &str) -> PathBuf {
    let text = format!(
        r#"device_id = "{DEVICE}"
pipelines_dir = "{pipelines}"
[models.rdd]
manifest = "{manifest}"
backend = "tract"
[cameras.bus]
pipeline = "file"
params = {{ uri = "file://{video}" }}
model = "rdd"
loop = true
[cameras.bus.summary]
interval_s = 1
[storage]
state_dir = "{state}"
[http]
listen = "127.0.0.1:{http}"
[mqtt]
port = {tls_port}
reconnect_max_ms = 1000
[mqtt.tls]
{tls}
"#,
        pipelines = repo_path("pipelines"),
        manifest = repo_path("models/fixtures/rdd_fixture_yolov8.toml"),
        video = video.display(),
        state = dir.join("state").display(),
    );
    let p = dir.join("tls-mqtt.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn outbox_depth(http: u16) -> Option<u64> {
    let (_, body) = http_get(http, "/api/status")?;
    serde_json::from_str::<serde_json::Value>(&body).ok()?["outbox"]["depth"].as_u64()
}

#[test]
fn tls_with_client_certificates_refuses_wrong_ca_and_missing_cert_and_loses_nothing() {
    which("openssl").unwrap_or_else(|| panic!("openssl is not installed: run scripts/setup-system.sh test"));
    let mosquitto = which("mosquitto").unwrap_or_else(|| panic!("mosquitto is not installed: run scripts/setup-system.sh test"));
    let dir = test_dir();
    let d = dir.path();
    make_ca(d, "city-ca");
    make_ca(d, "other-ca");
    make_cert(d, "city-ca", "broker");
    make_cert(d, "city-ca", "pole");

    // One broker: plain listener for the test's subscriber, TLS listener requiring client certificates.
    // `user root`: as root, mosquitto would otherwise switch to its own user, which cannot read the
    // certificates in this private temporary folder (it ignores the option when not run as root).
    let (plain, tls_port) = (free_port(), free_port());
    let conf = d.join("mosquitto-tls.conf");
    std::fs::write(
        &conf,
        format!(
            "user root\nper_listener_settings false\nallow_anonymous true\npersistence false\nlistener {plain} 127.0.0.1\nlistener {tls_port} 127.0.0.1\ncafile {d}/city-ca.pem\ncertfile {d}/broker.pem\nkeyfile {d}/broker.key\nrequire_certificate true\n",
            d = d.display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(mosquitto);
    cmd.arg("-c").arg(&conf);
    let broker = spawn_logged(cmd, d.join("mosquitto-tls.log"));
    assert!(wait_for_port(tls_port, Duration::from_secs(10)), "mosquitto did not start: {}", broker.log_text());
    let sub = Subscriber::start(plain, &format!("kaiteki/v1/{DEVICE}/#"));
    let video = support::drive::render_video(d, "drive", &support::drive::street());
    let http = free_port();
    let ca = d.join("city-ca.pem");

    // 1. The broker's certificate does not chain to the CA the daemon trusts.
    let cfg = config(d, &video, tls_port, http, &format!("ca = \"{}\"", d.join("other-ca.pem").display()));
    let mut daemon = start_daemon(d, &cfg, &[]);
    wait_until(Duration::from_secs(60), || (outbox_depth(http)? >= 3).then_some(()))
        .unwrap_or_else(|| panic!("no events kept in the outbox: {}", daemon.log_text()));
    let log = daemon.log_text();
    assert!(log.contains("MQTT link down; events stay in the outbox") && log.contains("UnknownIssuer"), "{log}");
    daemon.terminate();
    daemon.wait_exit(Duration::from_secs(30)).expect("the daemon did not stop");

    // 2. The right CA, but no client certificate: the broker refuses the handshake.
    let http = free_port();
    let cfg = config(d, &video, tls_port, http, &format!("ca = \"{}\"", ca.display()));
    let mut daemon = start_daemon(d, &cfg, &[]);
    let before = outbox_depth_after_start(http, &daemon);
    wait_until(Duration::from_secs(60), || (outbox_depth(http)? >= before + 3).then_some(()))
        .unwrap_or_else(|| panic!("the outbox did not grow: {}", daemon.log_text()));
    let log = daemon.log_text();
    assert!(log.contains("MQTT link down; events stay in the outbox") && log.contains("CertificateRequired"), "{log}");
    assert!(sub.on_topic("/events/scene_summary").is_empty(), "nothing may get through without a client certificate");
    std::thread::sleep(Duration::from_secs(1));
    let kept = outbox_depth(http).unwrap();
    daemon.terminate();
    daemon.wait_exit(Duration::from_secs(30)).expect("the daemon did not stop");

    // 3. CA and client certificate: everything the refused runs kept is delivered, then live events.
    let http = free_port();
    let cfg = config(
        d,
        &video,
        tls_port,
        http,
        &format!("ca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"", ca.display(), d.join("pole.pem").display(), d.join("pole.key").display()),
    );
    let mut daemon = start_daemon(d, &cfg, &[]);
    let got = wait_until(Duration::from_secs(60), || {
        let v = sub.on_topic("/events/scene_summary");
        (v.len() as u64 >= kept + 2).then_some(v)
    })
    .unwrap_or_else(|| panic!("only {} of {kept}+ events arrived: {}", sub.on_topic("/events/scene_summary").len(), daemon.log_text()));
    let mut ids: Vec<&str> = got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert!(ids.len() as u64 >= kept, "{} distinct events, {kept} were kept", ids.len());
    wait_until(Duration::from_secs(30), || (outbox_depth(http)? <= 2).then_some(()))
        .unwrap_or_else(|| panic!("the outbox did not drain: {:?}", outbox_depth(http)));
    sub.assert_events_valid();
    daemon.terminate();
    assert!(!daemon.log_text().contains("panicked"));

    // `kaiteki check` names an unusable TLS file, and the daemon refuses to start (no plain-TCP fall-back).
    let cfg = config(d, &video, tls_port, free_port(), &format!("ca = \"{}\"", d.join("no-such-ca.pem").display()));
    let out = Command::new(kaiteki_bin()).arg("check").arg("-c").arg(&cfg).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("mqtt.tls.ca") && text.contains("no-such-ca.pem"), "{text}");
    let mut bad = start_daemon(d, &cfg, &[]);
    let exit = bad.wait_exit(Duration::from_secs(30)).expect("the daemon must refuse to start");
    assert!(!exit.success() && bad.log_text().contains("no-such-ca.pem"), "{}", bad.log_text());
}

/// The depth once the restarted daemon serves HTTP (what the earlier run left).
fn outbox_depth_after_start(http: u16, daemon: &Proc) -> u64 {
    wait_until(Duration::from_secs(30), || outbox_depth(http)).unwrap_or_else(|| panic!("no status: {}", daemon.log_text()))
}
