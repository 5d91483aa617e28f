//! The `health` event: the device's own state, as events, so that the fleet's history of it reaches the
//! city platform through the same outbox as everything else (the retained `…/status` message only says
//! online or offline, and `/metrics` is only reachable on the device's network).
//!
//! A report is stored every `[health] report_interval_s`, and at once when a camera goes down or comes
//! back: down from its first reconnect backoff (or a stop) until it streams again ([`CameraWatch`]). Reports
//! made while the broker is unreachable wait in the outbox, so an outage's history arrives afterwards.
//! Nothing in a report identifies a person; camera errors are left out because a source URL can carry
//! credentials.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{Emitter, EventBody};
use crate::runtime::AppState;
use crate::source::status::CameraState;

/// `[health]`: the periodic `health` event.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Seconds between two `health` events; 0 turns them off (the retained status, `/metrics` and
    /// `/api/status` stay).
    pub report_interval_s: u64,
    /// Also report at once when a camera becomes unhealthy or recovers.
    pub report_on_change: bool,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self { report_interval_s: 300, report_on_change: true }
    }
}

impl HealthConfig {
    /// Below this a report would mostly measure itself, and the outbox would fill with them.
    pub const MIN_INTERVAL_S: u64 = 10;

    pub fn problems(&self) -> Vec<String> {
        if self.report_interval_s != 0 && self.report_interval_s < Self::MIN_INTERVAL_S {
            vec![format!(
                "health.report_interval_s is {}: use 0 (off) or at least {} s",
                self.report_interval_s,
                Self::MIN_INTERVAL_S
            )]
        } else {
            Vec::new()
        }
    }
}

/// Why a report was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthTrigger {
    /// The periodic report.
    Interval,
    /// A camera became unhealthy or recovered.
    Change,
}

/// The body of a `health` event.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct HealthReport {
    pub trigger: HealthTrigger,
    /// The daemon's version.
    pub version: String,
    /// Seconds since the daemon started.
    pub uptime_s: f64,
    /// No camera is down.
    pub healthy: bool,
    /// What is wrong, one line each (e.g. "camera gate-3 is not streaming (reconnecting)").
    pub problems: Vec<String>,
    pub cameras: Vec<CameraHealth>,
    pub models: Vec<ModelHealth>,
    pub outbox: OutboxHealth,
    /// Connected to the broker when the report was made (a report stored while offline says false).
    pub mqtt_connected: bool,
    pub system: SystemHealth,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct CameraHealth {
    pub camera: String,
    /// connecting, streaming, backoff (reconnecting), finished (a file ended) or stopped.
    pub state: String,
    /// Frames analysed per second, recently.
    pub fps: f64,
    pub frames_processed: u64,
    /// Frames lost before analytics since the start (busy inference on a live source).
    pub frames_dropped: u64,
    /// Pipeline restarts since the start.
    pub reconnects: u64,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ModelHealth {
    /// The model slot (its key under `[models]`).
    pub name: String,
    /// `<model>@<version>` of what serves now.
    pub model_id: String,
    pub backend: String,
}

#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct OutboxHealth {
    /// Events waiting for the broker's acknowledgement.
    pub records: u64,
    pub bytes: u64,
    /// Age of the oldest waiting event, seconds.
    pub oldest_age_s: Option<f64>,
    /// Events dropped by the outbox's bounds since the start (full, expired, corrupt, low disk).
    pub dropped: u64,
    /// Free bytes on the outbox's filesystem.
    pub disk_free_bytes: Option<u64>,
}

/// What Linux says about the machine; a field is null where the file is missing or unreadable.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SystemHealth {
    /// 1-minute load average (`/proc/loadavg`).
    pub load_1m: Option<f64>,
    /// `MemAvailable` of `/proc/meminfo`.
    pub mem_available_bytes: Option<u64>,
    /// The daemon's resident memory (`VmRSS` of `/proc/self/status`).
    pub rss_bytes: Option<u64>,
    /// The hottest thermal zone (`/sys/class/thermal/thermal_zone*/temp`), °C: on a pole in summer the
    /// SoC throttles before anything else fails.
    pub temperature_c: Option<f64>,
}

impl SystemHealth {
    pub fn read() -> Self {
        Self {
            load_1m: std::fs::read_to_string("/proc/loadavg").ok().as_deref().and_then(parse_loadavg),
            mem_available_bytes: std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(|t| kib_field(t, "MemAvailable:")),
            rss_bytes: std::fs::read_to_string("/proc/self/status").ok().as_deref().and_then(|t| kib_field(t, "VmRSS:")),
            temperature_c: hottest_zone(std::path::Path::new("/sys/class/thermal")),
        }
    }
}

fn parse_loadavg(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok().filter(|v: &f64| v.is_finite())
}

/// `Name:   1234 kB` → bytes.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    let mut parts = line[name.len()..].split_whitespace();
    let value: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => value.checked_mul(1024),
        _ => None,
    }
}

/// The highest millidegree reading of the thermal zones, in °C (sensors that report nonsense are skipped).
fn hottest_zone(dir: &std::path::Path) -> Option<f64> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("thermal_zone"))
        .filter_map(|e| std::fs::read_to_string(e.path().join("temp")).ok())
        .filter_map(|t| t.trim().parse::<i64>().ok())
        .map(|milli| milli as f64 / 1000.0)
        .filter(|c| (-60.0..=200.0).contains(c))
        .reduce(f64::max)
}

/// Which cameras are down, with hysteresis: a camera goes down when it enters reconnect backoff or
/// stops, and is up again only once it streams (or its file ended). While a source is gone the camera
/// cycles between connecting and backoff; without the hysteresis every cycle would be a "change".
#[derive(Debug, Default)]
pub struct CameraWatch {
    down: BTreeSet<String>,
}

impl CameraWatch {
    /// Looks at the cameras' states now; true when the set of down cameras changed.
    pub fn update<'a>(&mut self, cameras: impl IntoIterator<Item = (&'a str, CameraState)>) -> bool {
        let before = self.down.clone();
        for (id, state) in cameras {
            match state {
                CameraState::Backoff | CameraState::Stopped => {
                    self.down.insert(id.to_string());
                }
                CameraState::Streaming | CameraState::Finished => {
                    self.down.remove(id);
                }
                CameraState::Connecting => {}
            }
        }
        self.down != before
    }

    /// One line per down camera.
    pub fn problems<'a>(&self, cameras: impl IntoIterator<Item = (&'a str, CameraState)>) -> Vec<String> {
        cameras
            .into_iter()
            .filter(|(id, _)| self.down.contains(*id))
            .map(|(id, state)| match state {
                CameraState::Stopped => format!("camera {id} stopped"),
                _ => format!("camera {id} is not streaming (reconnecting)"),
            })
            .collect()
    }
}

fn camera_states(state: &AppState) -> impl Iterator<Item = (&str, CameraState)> {
    state.cameras.iter().map(|c| (c.id.as_str(), c.state()))
}

/// A report of the device's state now.
pub fn report(state: &AppState, watch: &CameraWatch, trigger: HealthTrigger) -> HealthReport {
    let problems = watch.problems(camera_states(state));
    let ob = state.outbox.stats();
    let d = &ob.dropped;
    HealthReport {
        trigger,
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_s: (state.started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
        healthy: problems.is_empty(),
        problems,
        cameras: state
            .cameras
            .iter()
            .map(|c| {
                let s = c.snapshot();
                CameraHealth {
                    camera: s.id,
                    state: s.state.as_str().to_string(),
                    fps: (s.fps * 100.0).round() / 100.0,
                    frames_processed: s.frames_processed,
                    frames_dropped: s.frames_dropped,
                    reconnects: s.reconnects,
                }
            })
            .collect(),
        models: state
            .models
            .iter()
            .map(|m| {
                let m = m.read();
                ModelHealth { name: m.name.clone(), model_id: m.model_id.clone(), backend: m.backend.clone() }
            })
            .collect(),
        outbox: OutboxHealth {
            records: ob.records,
            bytes: ob.bytes,
            oldest_age_s: ob.oldest_age_ms(crate::runtime::delivery::now_ms()).map(|ms| ms as f64 / 1000.0),
            dropped: d.full.total() + d.expired.total() + d.corrupt.total() + d.disk_low.total(),
            disk_free_bytes: ob.disk_free_bytes,
        },
        mqtt_connected: state.mqtt.connected.load(Ordering::Relaxed),
        system: SystemHealth::read(),
    }
}

/// Stores a `health` event every interval and on changes, until aborted. The first periodic report
/// comes one interval after the start, when the cameras have had time to settle.
pub fn spawn(cfg: HealthConfig, state: Arc<AppState>, emitter: Emitter) -> Option<tokio::task::JoinHandle<()>> {
    if cfg.report_interval_s == 0 {
        return None;
    }
    let interval = Duration::from_secs(cfg.report_interval_s);
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut last_report = tokio::time::Instant::now();
        let mut watch = CameraWatch::default();
        loop {
            tick.tick().await;
            let changed = watch.update(camera_states(&state)) && cfg.report_on_change;
            let trigger = if changed {
                HealthTrigger::Change
            } else if last_report.elapsed() >= interval {
                HealthTrigger::Interval
            } else {
                continue;
            };
            last_report = tokio::time::Instant::now();
            let r = report(&state, &watch, trigger);
            if trigger == HealthTrigger::Change {
                tracing::info!(healthy = r.healthy, problems = ?r.problems, "health changed");
            }
            emitter.emit(SystemTime::now(), EventBody::Health(r));
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_camera_is_down_from_its_first_backoff_until_it_streams_again() {
        use CameraState::*;
        let mut w = CameraWatch::default();
        assert!(!w.update([("a", Connecting), ("b", Streaming)]), "starting up is not a problem");
        assert!(w.update([("a", Streaming), ("b", Backoff)]));
        assert_eq!(w.problems([("a", Streaming), ("b", Backoff)]), ["camera b is not streaming (reconnecting)"]);
        // The outage: connecting and backoff alternate; nothing changes until it streams.
        for state in [Connecting, Backoff, Connecting, Backoff, Connecting] {
            assert!(!w.update([("a", Streaming), ("b", state)]), "{state:?}");
        }
        assert!(w.update([("a", Streaming), ("b", Streaming)]));
        assert!(w.problems([("a", Streaming), ("b", Streaming)]).is_empty());
        assert!(!w.update([("a", Finished), ("b", Streaming)]), "a file that ended is not a problem");
        assert!(w.update([("a", Stopped), ("b", Streaming)]));
        assert_eq!(w.problems([("a", Stopped), ("b", Streaming)]), ["camera a stopped"]);
    }

    #[test]
    fn proc_files_parse_and_bad_ones_give_none() {
        assert_eq!(parse_loadavg("0.52 0.58 0.59 1/389 12345\n"), Some(0.52));
        assert_eq!(parse_loadavg(""), None);
        assert_eq!(parse_loadavg("nan 1 1"), None);
        let meminfo = "MemTotal:       24000000 kB\nMemAvailable:   12345 kB\n";
        assert_eq!(kib_field(meminfo, "MemAvailable:"), Some(12345 * 1024));
        assert_eq!(kib_field(meminfo, "VmRSS:"), None);
        assert_eq!(kib_field("VmRSS: 12 MB\n", "VmRSS:"), None, "only kB is a unit Linux uses");
        assert_eq!(kib_field("VmRSS: x kB\n", "VmRSS:"), None);
    }

    #[test]
    fn the_hottest_sane_thermal_zone_wins() {
        let dir = tempfile::tempdir().unwrap();
        for (zone, temp) in [("thermal_zone0", "41500\n"), ("thermal_zone1", "67250\n"), ("thermal_zone2", "-273000\n"), ("cooling_device0", "99000")] {
            std::fs::create_dir(dir.path().join(zone)).unwrap();
            std::fs::write(dir.path().join(zone).join("temp"), temp).unwrap();
        }
        assert_eq!(hottest_zone(dir.path()), Some(67.25));
        assert_eq!(hottest_zone(&dir.path().join("missing")), None);
    }

    #[test]
    fn an_interval_below_the_minimum_is_refused_but_zero_turns_reports_off() {
        assert!(HealthConfig::default().problems().is_empty());
        assert!(HealthConfig { report_interval_s: 0, ..Default::default() }.problems().is_empty());
        let p = HealthConfig { report_interval_s: 3, ..Default::default() }.problems();
        assert!(p[0].contains("report_interval_s is 3"), "{p:?}");
    }

    #[test]
    fn this_machine_reports_its_load_and_memory() {
        // The CI machines are Linux with /proc: these must be readable (a silent None would hide a bug).
        let s = SystemHealth::read();
        assert!(s.load_1m.is_some() && s.mem_available_bytes.is_some(), "{s:?}");
        assert!(s.rss_bytes.is_some_and(|b| b > 1 << 20), "{s:?}");
    }
}
