//! Splits a byte stream into lines with a hard bound on buffering.
//!
//! A serial port at the wrong baud rate, a binary protocol (UBX) on the same port or a hostile TCP
//! peer can send megabytes without a newline; such a "line" is dropped (reported once as
//! [`Framed::Oversized`]) and everything up to the next newline is discarded without being stored.

/// One item out of the framer.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed<'a> {
    /// A complete line without its `\n` (a trailing `\r` is left for the parser to trim).
    Line(&'a [u8]),
    /// A line exceeded the limit and was discarded.
    Oversized,
}

/// Incremental line splitter; holds at most `max_len` bytes.
#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    max_len: usize,
    discarding: bool,
}

impl LineFramer {
    pub fn new(max_len: usize) -> Self {
        Self { buf: Vec::with_capacity(max_len.min(4096)), max_len, discarding: false }
    }

    /// Feeds a chunk; `f` is called for every line completed or dropped in it.
    pub fn push(&mut self, mut chunk: &[u8], mut f: impl FnMut(Framed<'_>)) {
        while let Some(pos) = chunk.iter().position(|&b| b == b'\n') {
            let part = &chunk[..pos];
            if self.discarding {
                self.discarding = false;
            } else if self.buf.len() + part.len() > self.max_len {
                f(Framed::Oversized);
            } else if self.buf.is_empty() {
                f(Framed::Line(part));
            } else {
                self.buf.extend_from_slice(part);
                f(Framed::Line(&self.buf));
            }
            self.buf.clear();
            chunk = &chunk[pos + 1..];
        }
        if self.discarding {
            return;
        }
        if self.buf.len() + chunk.len() > self.max_len {
            self.buf.clear();
            self.discarding = true;
            f(Framed::Oversized);
        } else {
            self.buf.extend_from_slice(chunk);
        }
    }

    /// End of stream: a final line without a newline is still a line.
    pub fn finish(&mut self, mut f: impl FnMut(Framed<'_>)) {
        if !self.discarding && !self.buf.is_empty() {
            f(Framed::Line(&self.buf));
        }
        self.buf.clear();
        self.discarding = false;
    }

    /// Forgets a partial line (after a reconnect the stream restarts mid-sentence).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.discarding = false;
    }
}
