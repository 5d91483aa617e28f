//! HTML pages: the login form and the dashboard pages (a shared shell around one fragment each).
//! Pages are static markup; page scripts fetch `/api/dash/*` and listen to the SSE stream.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::dashboard::auth::PageUser;
use crate::dashboard::config::Role;
use crate::dashboard::login::HOME;
use crate::dashboard::state::DashState;

pub const LOGIN_HTML: &str = include_str!("../../../dashboard/login.html");
const SHELL_HTML: &str = include_str!("../../../dashboard/shell.html");

struct PageDef {
    slug: &'static str,
    /// i18n key of the title, and its English text for the first paint.
    title_key: &'static str,
    title_en: &'static str,
    admin_only: bool,
    body: &'static str,
}

const PAGES: &[PageDef] = &[
    PageDef {
        slug: "overview",
        title_key: "nav.overview",
        title_en: "Overview",
        admin_only: false,
        body: include_str!("../../../dashboard/pages/overview.html"),
    },
    PageDef {
        slug: "road-damage",
        title_key: "nav.road_damage",
        title_en: "Road damage",
        admin_only: false,
        body: include_str!("../../../dashboard/pages/road-damage.html"),
    },
    PageDef {
        slug: "intersections",
        title_key: "nav.intersections",
        title_en: "Intersections",
        admin_only: false,
        body: include_str!("../../../dashboard/pages/intersections.html"),
    },
    PageDef {
        slug: "crowding",
        title_key: "nav.crowding",
        title_en: "Crowding",
        admin_only: false,
        body: include_str!("../../../dashboard/pages/crowding.html"),
    },
    PageDef {
        slug: "system",
        title_key: "nav.system",
        title_en: "System",
        admin_only: false,
        body: include_str!("../../../dashboard/pages/system.html"),
    },
    PageDef {
        slug: "calibration",
        title_key: "nav.calibration",
        title_en: "Calibration",
        admin_only: true,
        body: include_str!("../../../dashboard/pages/calibration.html"),
    },
];

/// Escapes text for HTML element content and quoted attributes.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub async fn root(State(st): State<Arc<DashState>>, headers: HeaderMap) -> Redirect {
    if st.sessions.session_of(&headers).is_some() {
        Redirect::to(HOME)
    } else {
        Redirect::to("/login")
    }
}

pub async fn page(PageUser(s): PageUser, Path(slug): Path<String>) -> Response {
    let Some(def) = PAGES.iter().find(|p| p.slug == slug) else {
        return (StatusCode::NOT_FOUND, Html(render(&s.user, s.role, &s.csrf, None))).into_response();
    };
    if def.admin_only && s.role != Role::Admin {
        let body = r#"<h1 data-i18n="forbidden.title">Admins only</h1><p data-i18n="forbidden.text">This view needs the admin role.</p>"#;
        let def = PageDef {
            slug: "forbidden",
            title_key: "forbidden.title",
            title_en: "Admins only",
            admin_only: true,
            body,
        };
        return (StatusCode::FORBIDDEN, Html(render(&s.user, s.role, &s.csrf, Some(&def)))).into_response();
    }
    Html(render(&s.user, s.role, &s.csrf, Some(def))).into_response()
}

fn nav(current: &str, role: Role) -> String {
    let mut o = String::new();
    for p in PAGES.iter().filter(|p| !p.admin_only || role == Role::Admin) {
        let cur = if p.slug == current { r#" aria-current="page""# } else { "" };
        o.push_str(&format!(
            r#"<li><a href="/dashboard/{}"{cur} data-i18n="{}">{}</a></li>"#,
            p.slug, p.title_key, p.title_en
        ));
    }
    o
}

fn page_script(slug: &str) -> String {
    if PAGES.iter().any(|p| p.slug == slug) {
        format!(r#"<script src="/assets/js/{slug}.js" defer></script>"#)
    } else {
        String::new()
    }
}

fn render(user: &str, role: Role, csrf: &str, def: Option<&PageDef>) -> String {
    let not_found = PageDef {
        slug: "not-found",
        title_key: "notfound.title",
        title_en: "Not found",
        admin_only: false,
        body: r#"<h1 data-i18n="notfound.title">Not found</h1><p><a href="/dashboard/overview" data-i18n="notfound.back">Back to the overview</a></p>"#,
    };
    let def = def.unwrap_or(&not_found);
    SHELL_HTML
        .replace("{{nav}}", &nav(def.slug, role))
        .replace("{{page_script}}", &page_script(def.slug))
        .replace("{{page}}", def.slug)
        .replace("{{title_key}}", def.title_key)
        .replace("{{title}}", def.title_en)
        .replace("{{user}}", &escape(user))
        .replace("{{role}}", role.as_str())
        .replace("{{csrf}}", csrf)
        .replace("{{content}}", def.body)
}
