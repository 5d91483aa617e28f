//! `GET /api/dash/events`: server-sent events. Each message is one JSON line from the feed,
//! `{"type": "event"|"overview"|"damage"|"crowd_now"|"log"|"resync"|"session_ended", "data": …}`.
//! The stream ends when the session ends (logout or expiry), checked every few seconds.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use crate::dashboard::auth::ApiUser;
use crate::dashboard::session::{cookie, SESSION_COOKIE};
use crate::dashboard::state::DashState;

const SESSION_CHECK: Duration = Duration::from_secs(5);

struct Conn {
    rx: tokio::sync::broadcast::Receiver<String>,
    st: Arc<DashState>,
    token: String,
    tick: tokio::time::Interval,
}

pub async fn events(
    State(st): State<Arc<DashState>>,
    _u: ApiUser,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let token = cookie(&headers, SESSION_COOKIE).unwrap_or_default().to_string();
    let mut tick = tokio::time::interval(SESSION_CHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let conn = Conn { rx: st.feed.subscribe(), st, token, tick };
    let s = stream::unfold(Some(conn), |conn| async move {
        let mut c = conn?;
        loop {
            tokio::select! {
                msg = c.rx.recv() => match msg {
                    Ok(line) => return Some((Ok(Event::default().data(line)), Some(c))),
                    // A slow client missed messages: tell the page to refetch.
                    Err(RecvError::Lagged(n)) => {
                        let line = format!(r#"{{"type":"resync","data":{n}}}"#);
                        return Some((Ok(Event::default().data(line)), Some(c)));
                    }
                    Err(RecvError::Closed) => return None,
                },
                _ = c.tick.tick() => {
                    if c.st.sessions.get(&c.token).is_none() {
                        let ev = Event::default().data(r#"{"type":"session_ended"}"#);
                        return Some((Ok(ev), None));
                    }
                }
            }
        }
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}
