//! The crew dashboard (issue 7): an authenticated, fully offline web UI served by the daemon's axum
//! server. Every asset is embedded in the binary. The daemon feeds it through [`Feed`] and receives crew
//! marks on road-damage records through a [`MarkSink`].
//!
//! Shapes the pages read (all fields optional; missing ones show as "—" or an explained empty state):
//! - overview (`Feed::set_overview`, every second): the `/api/status` JSON plus
//!   `outbox: {depth}`, `gnss: null | {fix: "none"|"2d"|"3d"|"rtk", lat, lon, satellites}` and, per camera,
//!   `model` and `model_version`: `{device_id, version, uptime_s, cameras: [{id, state, fps, model,
//!   model_version, frames_processed, frames_dropped, since, last_error}], models: [{id, version, backend}],
//!   mqtt: {connected, acked, queued, last_error}, outbox, gnss}`.
//! - crowd now (`Feed::set_crowd_now`): `{zones: [{zone_id, scale: "los"|"alert", level, count, density_ppm2}]}`.
//! - road-damage records: as in issue 7; `snapshot` is a same-origin path, e.g. `/api/dash/snapshots/{id}`
//!   after `Feed::put_snapshot`. The observation history is the record's `road_damage` events.
//!
//! This module is self-contained (it only refers to `crate::dashboard::…`) so that it can be developed
//! and tested on its own.

mod api;
mod assets;
mod auth;
mod config;
mod error;
mod feed;
mod headers;
mod login;
mod marks;
mod pages;
mod password;
mod ratelimit;
mod session;
mod sse;
mod state;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

pub use config::{DashboardConfig, LoginRateLimit, Role, UserConfig};
pub use feed::{Feed, EVENT_KINDS};
pub use marks::{DamageMark, MarkSink, MarkStatus};
pub use password::{hash_password, user_add, verify_password, PasswordError};

use state::DashState;

/// Every dashboard route: pages, assets, login/logout, `/api/dash/*` and the SSE stream.
/// It has no fallback, so the daemon can merge it into a router that has one.
pub fn router(cfg: DashboardConfig, feed: Arc<Feed>, marks: MarkSink) -> Router {
    let state = Arc::new(DashState::new(cfg, feed, marks));
    Router::new()
        .route("/", get(pages::root))
        .route("/login", get(login::page).post(login::submit).layer(DefaultBodyLimit::max(login::MAX_LOGIN_BODY)))
        .route("/logout", post(login::logout))
        .route("/dashboard", get(pages::root))
        .route("/dashboard/{page}", get(pages::page))
        .route("/assets/{*path}", get(assets::serve))
        .merge(api::routes())
        .layer(axum::middleware::from_fn(headers::security_headers))
        .with_state(state)
}
