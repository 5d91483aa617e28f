//! `GET /login` (the form, with a double-submit CSRF token), `POST /login`, `POST /logout`.

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Json;
use serde::Deserialize;

use crate::dashboard::auth::{check_post, same_origin, ApiUser, ClientIp};
use crate::dashboard::config::MAX_NAME_LEN;
use crate::dashboard::error::ApiError;
use crate::dashboard::pages::{escape, LOGIN_HTML};
use crate::dashboard::password::{valid_name, verify_password, MAX_PASSWORD_LEN};
use crate::dashboard::session::{cookie, ct_eq, random_token, set_cookie, LOGIN_CSRF_COOKIE, SESSION_COOKIE};
use crate::dashboard::state::{DashState, DUMMY_HASH};

/// Where a successful login lands.
pub const HOME: &str = "/dashboard/overview";
/// Login form bodies are tiny; refuse anything bigger before parsing.
pub const MAX_LOGIN_BODY: usize = 8192;
const LOGIN_CSRF_TTL_S: u64 = 3600;

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// Why the form is shown again (an i18n key, plus a number for the rate limit).
enum Problem {
    None,
    Invalid,
    Expired,
    RateLimited(u64),
    Unavailable,
}

pub async fn page(State(st): State<Arc<DashState>>, headers: HeaderMap) -> Response {
    if st.sessions.session_of(&headers).is_some() {
        return Redirect::to(HOME).into_response();
    }
    render(&st, StatusCode::OK, Problem::None, "")
}

/// The form with a fresh login CSRF token, set both as a cookie and as a hidden field.
fn render(st: &DashState, status: StatusCode, problem: Problem, username: &str) -> Response {
    let Ok(token) = random_token() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "no randomness available").into_response();
    };
    let (key, n) = match problem {
        Problem::None => ("", 0),
        Problem::Invalid => ("login.error.invalid", 0),
        Problem::Expired => ("login.error.expired", 0),
        Problem::RateLimited(s) => ("login.error.rate", s),
        Problem::Unavailable => ("login.error.unavailable", 0),
    };
    let error = if key.is_empty() {
        String::new()
    } else {
        format!(
            r#"<p id="login-error" class="error" role="alert" data-i18n="{key}" data-n="{n}">{}</p>"#,
            english(key, n)
        )
    };
    let html =
        LOGIN_HTML.replace("{{csrf}}", &token).replace("{{error}}", &error).replace("{{username}}", &escape(username));
    let mut r = (status, Html(html)).into_response();
    let c = set_cookie(LOGIN_CSRF_COOKIE, &token, LOGIN_CSRF_TTL_S, st.cfg.secure_cookies.unwrap_or(false));
    if let Ok(v) = HeaderValue::from_str(&c) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    if let Problem::RateLimited(s) = problem {
        if let Ok(v) = HeaderValue::from_str(&s.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    r
}

/// Server-side English text, shown until (or without) the page script translating it.
fn english(key: &str, n: u64) -> String {
    match key {
        "login.error.invalid" => "Wrong user name or password.".into(),
        "login.error.expired" => "The form expired. Please try again.".into(),
        "login.error.rate" => format!("Too many failed attempts. Try again in {n} s."),
        _ => "Login is unavailable. Try again later.".into(),
    }
}

pub async fn submit(
    State(st): State<Arc<DashState>>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return render(&st, StatusCode::BAD_REQUEST, Problem::Expired, "");
    };
    // Double-submit: the hidden field must equal the cookie set with the form, and the form must be ours.
    let cookie_token = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if !same_origin(&headers) || cookie_token.is_empty() || !ct_eq(cookie_token.as_bytes(), form.csrf.as_bytes()) {
        return render(&st, StatusCode::FORBIDDEN, Problem::Expired, "");
    }
    let name = form.username.trim().to_string();
    let shown = if valid_name(&name).is_ok() { name.as_str() } else { "" };
    // Rate-limit by the name as typed (bounded), so probing many spellings still counts per address.
    let limit_key: String = name.chars().take(MAX_NAME_LEN).collect();
    if let Err(secs) = st.limiter.check(ip, &limit_key) {
        tracing::warn!(%ip, user = shown, "dashboard: login rate-limited");
        return render(&st, StatusCode::TOO_MANY_REQUESTS, Problem::RateLimited(secs), shown);
    }
    let user = st.users.get(&name).cloned();
    let hash = user.as_ref().map(|u| u.password_hash.clone()).unwrap_or_else(|| DUMMY_HASH.to_string());
    let password = form.password;
    let too_long = password.len() > MAX_PASSWORD_LEN;
    // Argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    let ok = match tokio::task::spawn_blocking(move || verify_password(&password, &hash)).await {
        Ok(ok) => ok && !too_long && user.is_some(),
        Err(_) => return render(&st, StatusCode::INTERNAL_SERVER_ERROR, Problem::Unavailable, shown),
    };
    let Some(user) = user.filter(|_| ok) else {
        st.limiter.failed(ip, &limit_key);
        tracing::warn!(%ip, user = shown, "dashboard: failed login");
        return render(&st, StatusCode::UNAUTHORIZED, Problem::Invalid, shown);
    };
    st.limiter.succeeded(&limit_key);
    // A fresh session every login (no fixation); the old one, if any, ends.
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        st.sessions.remove(old);
    }
    let Ok((token, _)) = st.sessions.create(&user.name, user.role) else {
        return render(&st, StatusCode::INTERNAL_SERVER_ERROR, Problem::Unavailable, shown);
    };
    tracing::info!(%ip, user = %user.name, role = user.role.as_str(), "dashboard: login");
    let mut r = Redirect::to(HOME).into_response();
    let secure = st.cfg.secure_cookies.unwrap_or(false);
    for c in [
        set_cookie(SESSION_COOKIE, &token, st.sessions.ttl().as_secs(), secure),
        set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

pub async fn logout(
    State(st): State<Arc<DashState>>,
    ApiUser(s): ApiUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_post(&headers, &s)?;
    if let Some(t) = cookie(&headers, SESSION_COOKIE) {
        st.sessions.remove(t);
    }
    tracing::info!(user = %s.user, "dashboard: logout");
    let mut r = Json(serde_json::json!({"ok": true, "location": "/login"})).into_response();
    if let Ok(v) = HeaderValue::from_str(&set_cookie(SESSION_COOKIE, "", 0, st.cfg.secure_cookies.unwrap_or(false))) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(r)
}
