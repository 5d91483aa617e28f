//! Who is asking: session extractors for API routes (401 JSON) and pages (redirect to /login),
//! the admin check, CSRF and origin checks for POSTs, the client address for rate limiting.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};

use crate::dashboard::config::Role;
use crate::dashboard::error::ApiError;
use crate::dashboard::session::{ct_eq, Session};
use crate::dashboard::state::DashState;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// A logged-in user on an API route.
pub struct ApiUser(pub Session);

/// A logged-in admin on an API route (403 for crew).
pub struct ApiAdmin;

/// A logged-in user on a page; without a session the browser is sent to the login page.
pub struct PageUser(pub Session);

impl FromRequestParts<Arc<DashState>> for ApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &Arc<DashState>) -> Result<Self, ApiError> {
        st.sessions.session_of(&parts.headers).map(ApiUser).ok_or_else(ApiError::unauthorized)
    }
}

impl FromRequestParts<Arc<DashState>> for ApiAdmin {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, st: &Arc<DashState>) -> Result<Self, ApiError> {
        let s = st.sessions.session_of(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        if s.role != Role::Admin {
            return Err(ApiError::forbidden("this needs the admin role"));
        }
        Ok(ApiAdmin)
    }
}

pub struct ToLogin;

impl IntoResponse for ToLogin {
    fn into_response(self) -> Response {
        Redirect::to("/login").into_response()
    }
}

impl FromRequestParts<Arc<DashState>> for PageUser {
    type Rejection = ToLogin;
    async fn from_request_parts(parts: &mut Parts, st: &Arc<DashState>) -> Result<Self, ToLogin> {
        st.sessions.session_of(&parts.headers).map(PageUser).ok_or(ToLogin)
    }
}

/// Every state-changing request: same origin (when the browser says where it comes from) and the
/// session's CSRF token in `X-CSRF-Token`, compared in constant time.
pub fn check_post(headers: &HeaderMap, s: &Session) -> Result<(), ApiError> {
    if !same_origin(headers) {
        return Err(ApiError::forbidden("cross-origin request refused"));
    }
    let sent = headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
    if !ct_eq(sent, s.csrf.as_bytes()) {
        return Err(ApiError::csrf());
    }
    Ok(())
}

/// False when the browser says the request comes from another site or origin: `Sec-Fetch-Site` (sent by
/// current browsers whatever the referrer policy) must be `same-origin`, and an `Origin` must name the
/// `Host`. With `Referrer-Policy: no-referrer` browsers send `Origin: null` on form posts, so `null`
/// (like an absent header from non-browser clients) leaves the decision to the CSRF tokens.
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    let origin = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None | Some("null") => return true,
        Some(o) => o,
    };
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else { return false };
    let authority = origin.split_once("://").map(|(_, a)| a).unwrap_or("");
    authority.eq_ignore_ascii_case(host)
}

/// The TCP peer address when the server was started with connect info
/// (`into_make_service_with_connect_info::<SocketAddr>()`); otherwise all clients share one bucket
/// (still limited, just coarser). Proxy headers are not trusted: the appliance has no proxy.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ci| ci.0.ip())
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        ))
    }
}
