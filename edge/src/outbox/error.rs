//! Errors of the outbox API.

use std::path::PathBuf;

use crate::outbox::record::MAX_TOPIC_LEN;

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("invalid outbox configuration: {0}")]
    InvalidConfig(String),
    #[error("cannot create outbox directory {path}: {source}")]
    CreateDir { path: PathBuf, source: std::io::Error },
    #[error("cannot move the corrupt outbox store {path} aside: {source}")]
    QuarantineStore { path: PathBuf, source: std::io::Error },
    #[error("outbox store failed to {op}: {source}")]
    Store { op: &'static str, source: rusqlite::Error },
    #[error("record of {size} bytes exceeds the {max}-byte per-record limit")]
    RecordTooLarge { size: u64, max: u64 },
    #[error("topic of {len} bytes exceeds the {MAX_TOPIC_LEN}-byte MQTT limit")]
    TopicTooLong { len: usize },
    #[error("cannot start the outbox sync thread: {source}")]
    SpawnSyncer { source: std::io::Error },
    #[error("outbox store holds an id beyond the u64 range")]
    IdSpaceExhausted,
}

/// Wraps a store error with the operation it interrupted.
pub(crate) fn store(op: &'static str) -> impl FnOnce(rusqlite::Error) -> OutboxError {
    move |source| OutboxError::Store { op, source }
}
