//! Crew marks on road-damage records: `POST /api/dash/road-damage/{id}/mark`. A mark updates the
//! record in the feed and goes to the daemon through the [`MarkSink`], which publishes it over MQTT.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::dashboard::auth::{check_post, ApiUser};
use crate::dashboard::error::ApiError;
use crate::dashboard::state::DashState;

/// Called once per accepted mark. Keep it quick (hand the mark to a channel): it runs on the HTTP task.
pub type MarkSink = Arc<dyn Fn(DamageMark) + Send + Sync>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MarkStatus {
    Verified,
    FalsePositive,
    Repaired,
}

impl MarkStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MarkStatus::Verified => "verified",
            MarkStatus::FalsePositive => "false_positive",
            MarkStatus::Repaired => "repaired",
        }
    }
}

/// A crew member's verdict on a record. Serialises to the `data` of a `damage_mark` event:
/// `{"record_id", "status", "user", "note", "at"}` with `at` in RFC 3339.
#[derive(Debug, Clone, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct DamageMark {
    pub record_id: String,
    pub status: MarkStatus,
    pub user: String,
    pub note: Option<String>,
    #[serde(serialize_with = "rfc3339")]
    #[schemars(with = "crate::events::schema::DateTime")]
    pub at: OffsetDateTime,
}

fn rfc3339<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
    let txt = t.format(&time::format_description::well_known::Rfc3339).map_err(serde::ser::Error::custom)?;
    s.serialize_str(&txt)
}

impl DamageMark {
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({"record_id": self.record_id}))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MarkBody {
    status: MarkStatus,
    #[serde(default)]
    note: Option<String>,
}

const MAX_NOTE_CHARS: usize = 500;
const MAX_ID_LEN: usize = 128;
/// Bodies larger than this are refused before parsing.
pub const MAX_BODY: usize = 4096;

pub async fn mark(
    State(st): State<Arc<DashState>>,
    ApiUser(session): ApiUser,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    check_post(&headers, &session)?;
    let Path(id) = id.map_err(|e| ApiError::bad_request(format!("bad record id: {e}")))?;
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(ApiError::bad_request(format!("a record id has 1 to {MAX_ID_LEN} bytes")));
    }
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "send Content-Type: application/json",
        ));
    }
    let body = body.map_err(|e| ApiError::new(e.status(), "body", format!("cannot read the body: {e}")))?;
    let b: MarkBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_mark",
            format!("expected {{\"status\": \"verified\"|\"false_positive\"|\"repaired\", \"note\"?: string}}: {e}"),
        )
    })?;
    let note = match b.note.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > MAX_NOTE_CHARS => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_mark",
                format!("a note has at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        Some(n) if n.chars().any(|c| c.is_control() && c != '\n') => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_mark",
                "a note cannot contain control characters",
            ));
        }
        n => n,
    };
    let m =
        DamageMark { record_id: id, status: b.status, user: session.user.clone(), note, at: OffsetDateTime::now_utc() };
    let Some(record) = st.feed.apply_mark(&m) else {
        return Err(ApiError::not_found(format!("no road-damage record `{}`", m.record_id)));
    };
    tracing::info!(record = %m.record_id, status = m.status.as_str(), user = %m.user, "dashboard: road-damage mark");
    (st.marks)(m.clone());
    Ok(Json(json!({"record": record, "mark": m.to_json()})))
}
