//! The local HTTP server (axum): `/healthz`, `/metrics` (Prometheus) and `/api/status` (JSON).
//! It listens on loopback by default: the crew dashboard and its login come on top of this.

pub mod tls;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::runtime::AppState;
use crate::source::status::CameraState;

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Address to listen on. Default loopback only; expose deliberately.
    #[serde(default = "default_listen")]
    #[schemars(with = "String")]
    pub listen: toml::Spanned<String>,
    /// The crew dashboard: users, sessions, login rate limit (`[http.dashboard]`).
    #[serde(default)]
    pub dashboard: crate::dashboard::DashboardConfig,
    /// Serve HTTPS with this certificate (`[http.tls]`); plain HTTP when absent.
    #[serde(default)]
    pub tls: Option<tls::TlsConfig>,
}

fn yes() -> bool {
    true
}
fn default_listen() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, "127.0.0.1:8080".to_string())
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self { enabled: true, listen: default_listen(), dashboard: Default::default(), tls: None }
    }
}

impl HttpConfig {
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        self.listen
            .get_ref()
            .parse()
            .map_err(|e| format!("`{}` is not an address:port ({e})", self.listen.get_ref()))
    }
}

pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/status", get(status))
        .route("/api/privacy", get(privacy))
        .with_state(state.clone());
    let dashboard = crate::dashboard::router(state.dashboard.clone(), state.feed.clone(), state.marks.clone());
    api.merge(dashboard).fallback(not_found)
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, Json(serde_json::json!({"error": "no such route"}))).into_response()
}

/// 200 while every enabled camera streams (or finished its file); 503 otherwise, with the reasons.
async fn healthz(State(s): State<Arc<AppState>>) -> Response {
    let unhealthy: Vec<String> = s
        .cameras
        .iter()
        .filter(|c| matches!(c.state(), CameraState::Backoff | CameraState::Stopped))
        .map(|c| format!("camera {} is {}", c.id, c.state().as_str()))
        .collect();
    if unhealthy.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "degraded", "problems": unhealthy})))
            .into_response()
    }
}

async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        s.metrics.encode(),
    )
        .into_response()
}

/// Public on purpose: anyone near a camera may read what it does.
async fn privacy(State(s): State<Arc<AppState>>) -> Response {
    Json(&s.privacy).into_response()
}

async fn status(State(s): State<Arc<AppState>>) -> Response {
    Json(status_json(&s)).into_response()
}

/// The device's state as `/api/status` and the dashboard's overview show it.
pub fn status_json(s: &AppState) -> serde_json::Value {
    let cams: Vec<_> = s
        .cameras
        .iter()
        .map(|c| {
            let mut v = serde_json::to_value(c.snapshot()).unwrap_or_default();
            if let (Some(obj), Some(model)) = (v.as_object_mut(), s.camera_models.get(&c.id)) {
                let model = model.read();
                obj.insert("model".into(), model.model_id.clone().into());
                obj.insert("model_version".into(), model.model_id.split('@').nth(1).unwrap_or("").into());
            }
            v
        })
        .collect();
    let ob = s.outbox.stats();
    serde_json::json!({
        "device_id": s.device_id,
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": s.started.elapsed().as_secs_f64(),
        "cameras": cams,
        "models": s.models.iter().map(|m| m.read().clone()).collect::<Vec<_>>(),
        "outbox": {
            "depth": ob.records,
            "bytes": ob.bytes,
            "in_flight": ob.in_flight,
            "by_priority": ob.depth,
            "oldest_age_s": ob.oldest_age_ms(crate::runtime::delivery::now_ms()).map(|ms| ms as f64 / 1000.0),
            "dropped": ob.dropped,
            "corrupt": ob.corrupt,
            "disk_free_bytes": ob.disk_free_bytes,
            "disk_low": ob.disk_low,
        },
        "gnss": gnss_json(s),
        "mqtt": {
            "connected": s.mqtt.connected.load(Ordering::Relaxed),
            "published": s.mqtt.published.load(Ordering::Relaxed),
            "acked": s.mqtt.acked.load(Ordering::Relaxed),
            "refused": s.mqtt.refused.load(Ordering::Relaxed),
            "queued": s.mqtt.queued.load(Ordering::Relaxed),
            "last_error": s.mqtt.last_error.lock().clone(),
        },
    })
}

/// The overview's GNSS card: `fix` is none, 3d or rtk (the dashboard's vocabulary), plus the receiver's
/// own state and why there is no fix. `null` when no GNSS is configured.
fn gnss_json(s: &AppState) -> serde_json::Value {
    let Some(h) = &s.gnss else {
        return serde_json::Value::Null;
    };
    let now = std::time::SystemTime::now();
    let st = serde_json::to_value(h.status(now)).unwrap_or_default();
    let mut v = serde_json::json!({ "status": st });
    match h.current(now) {
        Ok(f) => {
            let q = serde_json::to_value(f.quality).unwrap_or_default();
            let rtk = q.as_str().is_some_and(|q| q.starts_with("rtk"));
            v["fix"] = if rtk { "rtk" } else { "3d" }.into();
            v["lat"] = f.lat.into();
            v["lon"] = f.lon.into();
            v["satellites"] = serde_json::to_value(f.satellites).unwrap_or_default();
            v["uncertainty_m"] = f.uncertainty_m.into();
        }
        Err(why) => {
            v["fix"] = "none".into();
            v["reason"] = why.to_string().into();
        }
    }
    v
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<AppState>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    if let Some(acceptor) = tls {
        tracing::info!(%addr, "HTTPS server listening");
        tls::serve(listener, acceptor, router(state), shutdown).await;
        return Ok(());
    }
    tracing::info!(%addr, "HTTP server listening");
    // Connect info: the dashboard rate-limits logins per client address.
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}
