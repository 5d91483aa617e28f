//! Static assets embedded in the binary (`/assets/*`): no CDN, no fonts or tiles from the internet.
//! Served with an ETag and `Cache-Control: no-cache`, so browsers revalidate cheaply and never run a
//! stale script after an upgrade.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::dashboard::error::ApiError;

struct Asset {
    path: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $mime:literal) => {
        Asset { path: $path, mime: $mime, body: include_bytes!(concat!("../../../dashboard/", $path)) }
    };
}

const ASSETS: &[Asset] = &[
    asset!("css/app.css", "text/css; charset=utf-8"),
    asset!("js/common.js", "text/javascript; charset=utf-8"),
    asset!("js/charts.js", "text/javascript; charset=utf-8"),
    asset!("js/login.js", "text/javascript; charset=utf-8"),
    asset!("js/overview.js", "text/javascript; charset=utf-8"),
    asset!("js/road-damage.js", "text/javascript; charset=utf-8"),
    asset!("js/intersections.js", "text/javascript; charset=utf-8"),
    asset!("js/crowding.js", "text/javascript; charset=utf-8"),
    asset!("js/system.js", "text/javascript; charset=utf-8"),
    asset!("js/calibration.js", "text/javascript; charset=utf-8"),
    asset!("i18n/en.json", "application/json"),
    asset!("i18n/ja.json", "application/json"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// FNV-1a of the content: enough to tell versions apart, computed once.
fn etags() -> &'static Vec<String> {
    static E: OnceLock<Vec<String>> = OnceLock::new();
    E.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let h = a
                    .body
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
                format!("\"{h:016x}\"")
            })
            .collect()
    })
}

pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return ApiError::not_found(format!("no asset `{}`", path.chars().take(100).collect::<String>()))
            .into_response();
    };
    let (a, etag) = (&ASSETS[i], &etags()[i]);
    let cache = [(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"))];
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let tag = HeaderValue::from_str(etag).unwrap_or(HeaderValue::from_static("\"0\""));
    if fresh {
        return (StatusCode::NOT_MODIFIED, cache, [(header::ETAG, tag)]).into_response();
    }
    (cache, [(header::ETAG, tag), (header::CONTENT_TYPE, HeaderValue::from_static(a.mime))], a.body).into_response()
}

/// Total embedded bytes (for a size test).
#[cfg(test)]
pub fn total_bytes() -> usize {
    ASSETS.iter().map(|a| a.body.len()).sum()
}
