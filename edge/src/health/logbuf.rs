//! The last log lines, kept in memory for the dashboard's system page (crews have no shell on the box).
//! A `tracing` layer formats INFO and above into a bounded ring; readers take what is new since their
//! last look.

use std::collections::VecDeque;
use std::fmt::Write as _;

use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

const CAPACITY: usize = 500;

struct Ring {
    lines: VecDeque<(u64, String)>,
    next: u64,
}

static RING: Mutex<Ring> = Mutex::new(Ring { lines: VecDeque::new(), next: 0 });

/// Layer that copies INFO, WARN and ERROR events into the ring.
pub struct RingLayer;

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::INFO {
            return;
        }
        let mut f = Fields(String::new());
        event.record(&mut f);
        let ts = time::OffsetDateTime::now_utc();
        let line = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z {:5} {}: {}",
            ts.year(),
            u8::from(ts.month()),
            ts.day(),
            ts.hour(),
            ts.minute(),
            ts.second(),
            meta.level(),
            meta.target(),
            f.0
        );
        let mut r = RING.lock();
        let n = r.next;
        r.next += 1;
        r.lines.push_back((n, line));
        while r.lines.len() > CAPACITY {
            r.lines.pop_front();
        }
    }
}

/// Lines logged since `cursor` (advanced past them).
pub fn take_new(cursor: &mut u64) -> Vec<String> {
    let r = RING.lock();
    let out: Vec<String> = r.lines.iter().filter(|(n, _)| *n >= *cursor).map(|(_, l)| l.clone()).collect();
    *cursor = r.next;
    out
}
