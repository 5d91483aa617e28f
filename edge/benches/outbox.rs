//! `make bench` (outbox part): how fast events get onto the disk and off to the broker.
//!
//! * Write rate: `Outbox::push` of real scene-summary events, sustained, under each fsync policy, against
//!   the same SQLite (WAL) doing bare one-row transactions with the same durability, measured in this run.
//!   The ratio is the outbox's own cost (record framing, CRC, limits, bookkeeping).
//! * Publish rate: a filled outbox drained by the daemon's real MQTT sink (QoS 1, delete on PUBACK) into a
//!   local mosquitto, against a bare rumqttc client publishing the same payloads at QoS 1 with the same
//!   window, to the same broker. Skipped with a note when mosquitto is not installed.
//!
//! Nothing here asserts; it prints numbers. `KAITEKI_BENCH_OUTBOX_EVENTS` sets the publish-run size.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use kaiteki::events::summary::{ClassCount, SceneSummary};
use kaiteki::events::{Emitter, EventBody, Topics};
use kaiteki::outbox::{FsyncPolicy, Outbox, OutboxConfig, Priority};

/// The JSON of real scene summaries, as the daemon would store them, numbered 0.. .
fn payloads(n: usize) -> Vec<Vec<u8>> {
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let emitter = Emitter::new(Arc::from("bench-pole-01"), tx);
    (0..n)
        .map(|i| {
            let body = EventBody::SceneSummary(SceneSummary {
                camera: "campus".into(),
                window_start_s: i as f64 * 10.0,
                window_end_s: i as f64 * 10.0 + 10.0,
                frames_processed: 100,
                frames_inferred: 41,
                frames_dropped_total: 0,
                model_id: "centernet-coco@1.0.0".into(),
                counts: BTreeMap::from([
                    ("person".into(), ClassCount { mean: 4.6, min: 3, max: 6 }),
                    ("car".into(), ClassCount { mean: 1.2, min: 0, max: 3 }),
                ]),
            });
            emitter.draft(SystemTime::now(), body).numbered(i as u64).to_json()
        })
        .collect()
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Events per second of `n` pushes into a fresh outbox.
fn outbox_rate(dir: &Path, fsync: FsyncPolicy, events: &[Vec<u8>]) -> f64 {
    let ob = Outbox::open(dir, OutboxConfig { fsync, ..OutboxConfig::default() }).expect("open outbox");
    let topic = "kaiteki/v1/bench-pole-01/events/scene_summary";
    let t = Instant::now();
    for (i, p) in events.iter().enumerate() {
        ob.push_event(Priority::Low, topic, p, now_ms(), i as u64).expect("push");
    }
    let rate = events.len() as f64 / t.elapsed().as_secs_f64();
    drop(ob);
    rate
}

/// The same inserts with bare SQLite: one autocommit INSERT per event, WAL, `synchronous` as given.
fn sqlite_rate(dir: &Path, synchronous: &str, events: &[Vec<u8>]) -> f64 {
    let conn = rusqlite::Connection::open(dir.join("raw.sqlite")).expect("open sqlite");
    let _: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)).expect("wal");
    conn.pragma_update(None, "synchronous", synchronous).expect("synchronous");
    conn.execute_batch("CREATE TABLE IF NOT EXISTS r (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").expect("table");
    let mut stmt = conn.prepare("INSERT INTO r (body) VALUES (?1)").expect("prepare");
    let t = Instant::now();
    for p in events {
        stmt.execute([p]).expect("insert");
    }
    events.len() as f64 / t.elapsed().as_secs_f64()
}

struct Mosquitto {
    child: Child,
    port: u16,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_mosquitto(dir: &Path) -> Option<Mosquitto> {
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| Path::new(p).exists())?;
    let port = TcpListener::bind("127.0.0.1:0").ok()?.local_addr().ok()?.port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).ok()?;
    let child = Command::new(bin).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok()?;
    let up = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if up.elapsed() > Duration::from_secs(10) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Mosquitto { child, port })
}

/// Events per second drained from a filled outbox by the daemon's MQTT sink.
async fn sink_rate(dir: &Path, port: u16, events: &[Vec<u8>]) -> f64 {
    let outbox = Arc::new(Outbox::open(dir, OutboxConfig::default()).expect("open outbox"));
    let topics = Topics::new("kaiteki/v1", "bench-pole-01");
    let topic = topics.event(kaiteki::events::EventKind::SceneSummary);
    for (i, p) in events.iter().enumerate() {
        outbox.push_event(Priority::Low, &topic, p, now_ms(), i as u64).expect("push");
    }
    let cfg: kaiteki::mqtt::MqttConfig = toml::from_str(&format!("port = {port}\nclient_id = \"bench-sink\"")).expect("mqtt config");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sink = kaiteki::mqtt::Sink {
        cfg,
        device_id: "bench-pole-01".into(),
        topics,
        outbox: outbox.clone(),
        wake: Arc::new(tokio::sync::Notify::new()),
        metrics: kaiteki::health::Metrics::new(),
        status: Arc::new(kaiteki::mqtt::MqttStatus::default()),
        privacy: b"{}".to_vec(),
        stop: stop_rx,
    };
    let t = Instant::now();
    let task = tokio::spawn(sink.run());
    while outbox.stats().records > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let rate = events.len() as f64 / t.elapsed().as_secs_f64();
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
    rate
}

/// Events per second published by a bare rumqttc client at QoS 1, at most `window` unacknowledged.
async fn bare_client_rate(port: u16, events: &[Vec<u8>], window: usize) -> f64 {
    let mut opts = rumqttc::MqttOptions::new("bench-bare", "127.0.0.1", port);
    opts.set_max_packet_size(2 << 20, 2 << 20);
    opts.set_inflight(window as u16);
    let (client, mut el) = rumqttc::AsyncClient::new(opts, window * 2 + 8);
    let topic = "kaiteki/v1/bench-pole-01/events/scene_summary";
    let t = Instant::now();
    let total = events.len();
    let publisher = {
        let events = events.to_vec();
        tokio::spawn(async move {
            for p in events {
                if client.publish(topic, rumqttc::QoS::AtLeastOnce, false, p).await.is_err() {
                    break;
                }
            }
            client
        })
    };
    let mut acked = 0;
    while acked < total {
        match el.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Incoming::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => {
                eprintln!("bare client: {e}");
                break;
            }
        }
    }
    let rate = acked as f64 / t.elapsed().as_secs_f64();
    if let Ok(client) = publisher.await {
        let _ = client.disconnect().await;
    }
    rate
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fresh = |name: &str| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).expect("mkdir");
        d
    };
    let events = payloads(20_000);
    let size = events.iter().map(Vec::len).sum::<usize>() / events.len();
    println!("outbox: scene-summary events of ~{size} bytes, SQLite WAL, one transaction per event");

    let n = 5_000;
    let batch = outbox_rate(&fresh("batch"), FsyncPolicy::Batch { interval_ms: 1000 }, &events[..n]);
    let raw_normal = sqlite_rate(&fresh("raw-normal"), "NORMAL", &events[..n]);
    println!(
        "outbox write, fsync = batch (default, kill -9 safe, fsync every 1 s): {batch:.0} events/s; \
         bare SQLite synchronous=NORMAL {raw_normal:.0}/s; ratio {:.2}",
        batch / raw_normal
    );
    let n = 400;
    let always = outbox_rate(&fresh("always"), FsyncPolicy::Always, &events[..n]);
    let raw_full = sqlite_rate(&fresh("raw-full"), "FULL", &events[..n]);
    println!(
        "outbox write, fsync = always (power-loss safe per event): {always:.0} events/s; \
         bare SQLite synchronous=FULL {raw_full:.0}/s; ratio {:.2}",
        always / raw_full
    );

    let Some(broker) = start_mosquitto(dir.path()) else {
        println!("publish rate: skipped (mosquitto is not installed; run scripts/setup-system.sh)");
        return;
    };
    let n: usize = std::env::var("KAITEKI_BENCH_OUTBOX_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let n = n.min(events.len());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let sink = rt.block_on(sink_rate(&fresh("sink"), broker.port, &events[..n]));
    let bare = rt.block_on(bare_client_rate(broker.port, &events[..n], 64));
    println!(
        "publish to a local mosquitto, QoS 1, 64 in flight, {n} events: outbox -> sink {sink:.0} events/s \
         (each deleted on PUBACK); bare rumqttc client {bare:.0}/s; ratio {:.2}",
        sink / bare
    );
}
