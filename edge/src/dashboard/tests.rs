//! The dashboard's HTTP surface on a real socket: login, sessions, CSRF, rate limit, marks, hostile
//! input (always a 4xx JSON answer, never a panic), assets, headers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};

use crate::dashboard::{
    hash_password, router, DamageMark, DashboardConfig, Feed, LoginRateLimit, MarkSink, Role, UserConfig,
};

struct Resp {
    status: u16,
    head: String,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Vec<String> {
        self.head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_string())
            .collect()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

fn req(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    r.push_str(body);
    s.write_all(r.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    Resp { status, head: head.to_string(), body: body.to_string() }
}

fn hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| hash_password("right-password").unwrap())
}

/// A server on a free port; returns its address, the feed and the marks it received.
fn serve(max_attempts: u32) -> (SocketAddr, Arc<Feed>, Arc<Mutex<Vec<DamageMark>>>) {
    let cfg = DashboardConfig {
        users: vec![
            UserConfig { name: "ann".into(), role: Role::Crew, password_hash: hash().to_string() },
            UserConfig { name: "root".into(), role: Role::Admin, password_hash: hash().to_string() },
        ],
        login_rate_limit: LoginRateLimit { max_attempts, window_s: 60 },
        ..DashboardConfig::default()
    };
    let feed = Arc::new(Feed::new());
    let marks = Arc::new(Mutex::new(Vec::new()));
    let m2 = marks.clone();
    let sink: MarkSink = Arc::new(move |m| m2.lock().unwrap().push(m));
    let app = router(cfg, feed.clone(), sink);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app.into_make_service_with_connect_info::<SocketAddr>()).await.unwrap();
        });
    });
    (rx.recv().unwrap(), feed, marks)
}

fn login_form(addr: SocketAddr) -> (String, String) {
    let r = req(addr, "GET", "/login", &[], "");
    assert_eq!(r.status, 200);
    let cookie = r.header("set-cookie").into_iter().find(|c| c.starts_with("kaiteki_login_csrf=")).unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let token = r.body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_string();
    (cookie, token)
}

fn login(addr: SocketAddr, user: &str, pw: &str) -> Resp {
    let (cookie, token) = login_form(addr);
    let body = format!("username={user}&password={pw}&csrf={token}");
    req(addr, "POST", "/login", &[("Cookie", &cookie), ("Content-Type", "application/x-www-form-urlencoded")], &body)
}

/// (session cookie "kaiteki_session=…", csrf token)
fn session(addr: SocketAddr, user: &str) -> (String, String) {
    let r = login(addr, user, "right-password");
    assert_eq!(r.status, 303, "{}", r.body);
    let c = r.header("set-cookie").into_iter().find(|c| c.starts_with("kaiteki_session=")).unwrap();
    assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict"), "{c}");
    let cookie = c.split(';').next().unwrap().to_string();
    let me = req(addr, "GET", "/api/dash/me", &[("Cookie", &cookie)], "").json();
    (cookie, me["csrf_token"].as_str().unwrap().to_string())
}

#[test]
fn login_sessions_csrf_and_marks() {
    let (addr, feed, marks) = serve(5);
    // Nothing without a session.
    assert_eq!(req(addr, "GET", "/api/dash/overview", &[], "").status, 401);
    assert_eq!(req(addr, "GET", "/dashboard/overview", &[], "").status, 303);
    let bad = req(addr, "GET", "/api/dash/overview", &[("Cookie", "kaiteki_session=zz; x")], "");
    assert_eq!(bad.status, 401);
    assert_eq!(bad.json()["error"], "unauthenticated");
    // Headers.
    let r = req(addr, "GET", "/login", &[], "");
    assert!(r.header("content-security-policy")[0].contains("default-src 'self'"));
    assert_eq!(r.header("x-frame-options"), ["DENY"]);
    // Login form without the double-submit cookie.
    let (_, token) = login_form(addr);
    let r = req(
        addr,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("username=ann&password=right-password&csrf={token}"),
    );
    assert_eq!(r.status, 403);
    // Wrong password, then right.
    assert_eq!(login(addr, "ann", "wrong").status, 401);
    assert_eq!(login(addr, "nobody", "wrong").status, 401);
    let (cookie, csrf) = session(addr, "ann");
    assert_eq!(req(addr, "GET", "/dashboard/overview", &[("Cookie", &cookie)], "").status, 200);
    assert_eq!(req(addr, "GET", "/dashboard/calibration", &[("Cookie", &cookie)], "").status, 403);
    assert_eq!(req(addr, "GET", "/api/dash/calibration", &[("Cookie", &cookie)], "").status, 403);
    assert_eq!(req(addr, "GET", "/api/dash/system", &[("Cookie", &cookie)], "").json()["check"]["admin_only"], true);

    feed.upsert_damage_record(json!({"record_id": "r1", "class": "D40", "status": "open"}));
    let path = "/api/dash/road-damage/r1/mark";
    let json_ct = ("Content-Type", "application/json");
    // CSRF required.
    let r = req(addr, "POST", path, &[("Cookie", &cookie), json_ct], r#"{"status":"repaired"}"#);
    assert_eq!((r.status, r.json()["error"].as_str()), (403, Some("csrf")));
    // Cross-site fetch refused even with the token.
    let r = req(
        addr,
        "POST",
        path,
        &[("Cookie", &cookie), json_ct, ("X-CSRF-Token", &csrf), ("Sec-Fetch-Site", "cross-site")],
        r#"{"status":"repaired"}"#,
    );
    assert_eq!(r.status, 403);
    // Hostile bodies: clear 4xx JSON.
    for (body, code) in [
        ("nope", 422),
        (r#"{"status":"open"}"#, 422),
        (r#"{"status":"repaired","x":1}"#, 422),
        (r#"{"status":"repaired","note":"a\u0000b"}"#, 422),
    ] {
        let r = req(addr, "POST", path, &[("Cookie", &cookie), json_ct, ("X-CSRF-Token", &csrf)], body);
        assert_eq!(r.status, code, "{body}: {}", r.body);
        assert!(r.json()["message"].is_string());
    }
    let big = format!(r#"{{"status":"repaired","note":"{}"}}"#, "x".repeat(10_000));
    assert_eq!(req(addr, "POST", path, &[("Cookie", &cookie), json_ct, ("X-CSRF-Token", &csrf)], &big).status, 413);
    assert_eq!(
        req(addr, "POST", path, &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)], r#"{"status":"repaired"}"#).status,
        415
    );
    let r = req(
        addr,
        "POST",
        "/api/dash/road-damage/missing/mark",
        &[("Cookie", &cookie), json_ct, ("X-CSRF-Token", &csrf)],
        r#"{"status":"repaired"}"#,
    );
    assert_eq!(r.status, 404);
    // A good mark: stored, handed to the sink.
    let r = req(
        addr,
        "POST",
        path,
        &[("Cookie", &cookie), json_ct, ("X-CSRF-Token", &csrf)],
        r#"{"status":"repaired","note":"filled"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["record"]["status"], "repaired");
    let m = marks.lock().unwrap().pop().unwrap();
    assert_eq!((m.record_id.as_str(), m.user.as_str(), m.note.as_deref()), ("r1", "ann", Some("filled")));
    let ev = m.to_json();
    assert_eq!(ev["status"], "repaired");
    assert!(ev["at"].as_str().unwrap().ends_with('Z'));
    let list = req(addr, "GET", "/api/dash/road-damage", &[("Cookie", &cookie)], "").json();
    assert_eq!(list["records"][0]["marks"][0]["user"], "ann");
    // Other hostile queries.
    assert_eq!(req(addr, "GET", "/api/dash/recent/nope", &[("Cookie", &cookie)], "").status, 404);
    assert_eq!(req(addr, "GET", "/api/dash/recent/near_miss?limit=-1", &[("Cookie", &cookie)], "").status, 400);
    assert_eq!(req(addr, "GET", "/api/dash/recent/near_miss?limit=5", &[("Cookie", &cookie)], "").status, 200);
    // Logout needs the token, then ends the session.
    assert_eq!(req(addr, "POST", "/logout", &[("Cookie", &cookie)], "").status, 403);
    assert_eq!(req(addr, "POST", "/logout", &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)], "").status, 200);
    assert_eq!(req(addr, "GET", "/api/dash/me", &[("Cookie", &cookie)], "").status, 401);
    // Admin sees the calibration view.
    let (admin, _) = session(addr, "root");
    assert_eq!(req(addr, "GET", "/dashboard/calibration", &[("Cookie", &admin)], "").status, 200);
}

#[test]
fn login_rate_limit_answers_429() {
    let (addr, _, _) = serve(3);
    for _ in 0..3 {
        assert_eq!(login(addr, "ann", "wrong").status, 401);
    }
    let r = login(addr, "ann", "right-password");
    assert_eq!(r.status, 429);
    let secs: u64 = r.header("retry-after")[0].parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
}

#[test]
fn assets_are_embedded_small_and_cached() {
    let (addr, _, _) = serve(5);
    let r = req(addr, "GET", "/assets/js/common.js", &[], "");
    assert_eq!(r.status, 200);
    let etag = r.header("etag")[0].clone();
    assert_eq!(req(addr, "GET", "/assets/js/common.js", &[("If-None-Match", &etag)], "").status, 304);
    assert_eq!(req(addr, "GET", "/assets/../Cargo.toml", &[], "").status, 404);
    assert_eq!(req(addr, "GET", "/assets/nope.js", &[], "").status, 404);
    // Everything a page can load, together, stays far under the 500 KB budget.
    assert!(crate::dashboard::assets::total_bytes() < 300 * 1024);
}

#[test]
fn sse_needs_a_session() {
    let (addr, _, _) = serve(5);
    assert_eq!(req(addr, "GET", "/api/dash/events", &[], "").status, 401);
}
