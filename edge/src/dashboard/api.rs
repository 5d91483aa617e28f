//! `/api/dash/*`: JSON for the pages. Every route needs a session; admin-only parts say so.

use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::dashboard::auth::{ApiAdmin, ApiUser};
use crate::dashboard::config::Role;
use crate::dashboard::error::ApiError;
use crate::dashboard::feed::EVENT_KINDS;
use crate::dashboard::marks;
use crate::dashboard::sse;
use crate::dashboard::state::DashState;

pub fn routes() -> Router<Arc<DashState>> {
    Router::new()
        .route("/api/dash/me", get(me))
        .route("/api/dash/overview", get(overview))
        .route("/api/dash/recent/{kind}", get(recent))
        .route("/api/dash/road-damage", get(damage_list))
        .route("/api/dash/road-damage/{id}", get(damage_detail))
        .route("/api/dash/road-damage/{id}/mark", post(marks::mark).layer(DefaultBodyLimit::max(marks::MAX_BODY)))
        .route("/api/dash/snapshots/{id}", get(snapshot))
        .route("/api/dash/crowding", get(crowding))
        .route("/api/dash/system", get(system))
        .route("/api/dash/calibration", get(calibration))
        .route("/api/dash/calibration/{camera}/still", get(still))
        .route("/api/dash/events", get(sse::events))
}

async fn me(ApiUser(s): ApiUser) -> Json<Value> {
    Json(json!({"user": s.user, "role": s.role, "csrf_token": s.csrf, "expires_at": s.expires_unix}))
}

async fn overview(State(st): State<Arc<DashState>>, _u: ApiUser) -> Json<Value> {
    Json(json!({"overview": st.feed.overview()}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecentQuery {
    limit: Option<usize>,
}

const MAX_RECENT: usize = 6000;

async fn recent(
    State(st): State<Arc<DashState>>,
    _u: ApiUser,
    kind: Result<Path<String>, PathRejection>,
    q: Result<Query<RecentQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(kind) = kind.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Query(q) = q.map_err(|e| ApiError::bad_request(format!("query: {e} (only `limit` is accepted)")))?;
    if !EVENT_KINDS.contains(&kind.as_str()) {
        return Err(ApiError::not_found(format!("unknown event kind; known: {}", EVENT_KINDS.join(", "))));
    }
    let limit = q.limit.unwrap_or(500).min(MAX_RECENT);
    Ok(Json(json!({"kind": kind, "events": st.feed.recent(&kind, limit)})))
}

async fn damage_list(State(st): State<Arc<DashState>>, _u: ApiUser) -> Json<Value> {
    Json(json!({"records": st.feed.damage_records()}))
}

/// A record with its observation history (its `road_damage` events, oldest first).
async fn damage_detail(
    State(st): State<Arc<DashState>>,
    _u: ApiUser,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.to_string()))?;
    let rec = st
        .feed
        .damage_record(&id)
        .ok_or_else(|| ApiError::not_found(format!("no road-damage record `{}`", clip(&id))))?;
    let history: Vec<Value> = st
        .feed
        .recent("road_damage", MAX_RECENT)
        .into_iter()
        .filter(|e| e["data"]["record_id"].as_str() == Some(id.as_str()))
        .collect();
    Ok(Json(json!({"record": rec, "history": history})))
}

fn clip(s: &str) -> String {
    s.chars().take(100).collect()
}

fn jpeg(bytes: Arc<Vec<u8>>) -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("image/jpeg"))], bytes.as_ref().clone()).into_response()
}

async fn snapshot(
    State(st): State<Arc<DashState>>,
    _u: ApiUser,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::bad_request(e.to_string()))?;
    st.feed.snapshot(&id).map(jpeg).ok_or_else(|| ApiError::not_found(format!("no snapshot `{}`", clip(&id))))
}

async fn crowding(State(st): State<Arc<DashState>>, _u: ApiUser) -> Json<Value> {
    Json(json!({
        "now": st.feed.crowd_now(),
        "levels": st.feed.recent("crowd_level", 500),
        "minutes": st.feed.recent("crowd_minute", MAX_RECENT),
    }))
}

async fn system(State(st): State<Arc<DashState>>, ApiUser(s): ApiUser) -> Json<Value> {
    let check = if s.role == Role::Admin {
        json!({"available": st.feed.check_result().is_some(), "problems": st.feed.check_result().unwrap_or_default()})
    } else {
        json!({"admin_only": true})
    };
    Json(json!({"logs": st.feed.logs(), "check": check, "privacy": st.feed.privacy()}))
}

async fn calibration(State(st): State<Arc<DashState>>, _: ApiAdmin) -> Json<Value> {
    let overview = st.feed.overview();
    Json(json!({"stills": st.feed.still_cameras(), "overview": overview}))
}

async fn still(
    State(st): State<Arc<DashState>>,
    _: ApiAdmin,
    camera: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path(camera) = camera.map_err(|e| ApiError::bad_request(e.to_string()))?;
    st.feed
        .still(&camera)
        .map(jpeg)
        .ok_or_else(|| ApiError::not_found(format!("no still for camera `{}`", clip(&camera))))
}
