//! The SQLite layer: schema, pragmas and the handful of statements the outbox needs.
//!
//! The `records` row duplicates priority, age and size next to the encoded record so that ordering,
//! eviction, expiry and stats run on a covering index without reading record bodies; the body
//! (with its CRC) stays the source of truth and is cross-checked against the row on delivery.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::outbox::record::Priority;

/// Bump when the schema changes incompatibly; older builds refuse newer stores.
pub(crate) const SCHEMA_VERSION: i64 = 1;
/// Quarantined rows kept for inspection; older ones are discarded.
const QUARANTINE_KEEP: i64 = 100;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: ids are never reused, even after the max is deleted
    priority INTEGER NOT NULL,
    enqueued_at_ms INTEGER NOT NULL,
    size INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_delivery ON records(priority, id, size, enqueued_at_ms);
CREATE INDEX IF NOT EXISTS records_age ON records(enqueued_at_ms);
CREATE TABLE IF NOT EXISTS quarantine (
    qid INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id INTEGER,
    reason TEXT NOT NULL,
    body BLOB
);
-- Small durable facts kept in step with the records: `last_seq` is the event sequence number of the
-- newest record pushed with one, written in the same transaction as that record.
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
";

/// A stored row without its body.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RowMeta {
    pub id: u64,
    /// Raw column value: may be out of range if the row was tampered with.
    pub priority_code: i64,
    pub size: u64,
    pub enqueued_at_ms: u64,
}

pub(crate) struct Row {
    pub meta: RowMeta,
    pub body: Vec<u8>,
}

pub(crate) struct Store {
    conn: Connection,
    /// Current `PRAGMA synchronous` (true = FULL); switched per statement kind, see `set_full_sync`.
    full_sync: Option<bool>,
}

fn to_u64(v: i64) -> u64 {
    v.max(0) as u64
}

fn meta_from(row: &rusqlite::Row<'_>) -> rusqlite::Result<RowMeta> {
    Ok(RowMeta {
        id: to_u64(row.get(0)?),
        priority_code: row.get(1)?,
        size: to_u64(row.get(2)?),
        enqueued_at_ms: to_u64(row.get(3)?),
    })
}

/// Whether an error means the file is not a usable database (as opposed to I/O or permissions).
pub(crate) fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt) | Some(rusqlite::ErrorCode::NotADatabase)
    )
}

impl Store {
    /// `autocheckpoint_pages`: WAL size at which a commit checkpoints inline (fsyncs on the push
    /// path). Under `Batch` the sync thread checkpoints, so this is only a safety net.
    pub fn open(path: &Path, autocheckpoint_pages: u32) -> rusqlite::Result<Store> {
        let conn = Connection::open(path)?;
        // WAL: a commit is one sequential append (one fsync under FULL), readers never block, and
        // a commit written to the WAL survives a process kill even before any fsync.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "outbox store could not switch to WAL journaling");
        }
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISMATCH),
                Some(format!("outbox schema version {version} is newer than this build's {SCHEMA_VERSION}")),
            ));
        }
        conn.execute_batch(SCHEMA)?;
        conn.query_row(&format!("PRAGMA wal_autocheckpoint = {autocheckpoint_pages}"), [], |_| Ok(()))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(Store { conn, full_sync: None })
    }

    /// FULL fsyncs the WAL on every commit (durable pushes under `FsyncPolicy::Always`); NORMAL
    /// only writes it (kill -9 safe, not power-loss safe). Acks and drops always use NORMAL: losing
    /// one only means a redelivery, and the next FULL commit or checkpoint makes it durable anyway.
    pub fn set_full_sync(&mut self, full: bool) -> rusqlite::Result<()> {
        if self.full_sync != Some(full) {
            self.conn.pragma_update(None, "synchronous", if full { "FULL" } else { "NORMAL" })?;
            self.full_sync = Some(full);
        }
        Ok(())
    }

    /// fsyncs the WAL and copies it into the main file: everything committed so far is durable.
    pub fn checkpoint(&mut self) -> rusqlite::Result<()> {
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
    }

    /// First id never used: above both the stored rows and the AUTOINCREMENT high-water mark.
    pub fn next_id(&self) -> rusqlite::Result<i64> {
        let max_row: Option<i64> = self.conn.query_row("SELECT MAX(id) FROM records", [], |r| r.get(0))?;
        let seq: Option<i64> = self
            .conn
            .query_row("SELECT seq FROM sqlite_sequence WHERE name = 'records'", [], |r| r.get(0))
            .optional()?
            .flatten();
        Ok(max_row.unwrap_or(0).max(seq.unwrap_or(0)).saturating_add(1))
    }

    /// (count, bytes) for one priority class.
    pub fn totals(&self, p: Priority) -> rusqlite::Result<(u64, u64)> {
        self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(MAX(size, 0)), 0) FROM records WHERE priority = ?1",
            [p.code()],
            |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))),
        )
    }

    /// The oldest row of a class: (id, enqueued_at_ms).
    pub fn oldest(&self, p: Priority) -> rusqlite::Result<Option<(u64, u64)>> {
        self.conn
            .prepare_cached("SELECT id, enqueued_at_ms FROM records WHERE priority = ?1 ORDER BY id LIMIT 1")?
            .query_row([p.code()], |r| Ok((to_u64(r.get(0)?), to_u64(r.get(1)?))))
            .optional()
    }

    /// Rows whose priority column is not a known class (they would never be delivered).
    pub fn rows_with_unknown_priority(&self) -> rusqlite::Result<Vec<RowMeta>> {
        let mut st = self.conn.prepare(
            "SELECT id, priority, size, enqueued_at_ms FROM records WHERE priority NOT IN (0, 1, 2)",
        )?;
        let rows = st.query_map([], meta_from)?.collect();
        rows
    }

    /// Oldest-first rows of classes up to `max_priority`, lowest class first, until their sizes
    /// add up to `needed` bytes (or the candidates run out).
    pub fn eviction_candidates(&self, max_priority: Priority, needed: u64) -> rusqlite::Result<Vec<RowMeta>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, priority, size, enqueued_at_ms FROM records WHERE priority <= ?1 ORDER BY priority, id",
        )?;
        let mut rows = st.query([max_priority.code()])?;
        let (mut out, mut freed) = (Vec::new(), 0u64);
        while freed < needed {
            let Some(row) = rows.next()? else { break };
            let meta = meta_from(row)?;
            freed += meta.size;
            out.push(meta);
        }
        Ok(out)
    }

    /// Inserts one record and deletes `evict` in the same transaction; with `seq`, records it as the
    /// last event sequence number stored, in that transaction too.
    pub fn insert(&mut self, meta: RowMeta, body: &[u8], evict: &[RowMeta], seq: Option<u64>) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut del = tx.prepare_cached("DELETE FROM records WHERE id = ?1")?;
            for e in evict {
                del.execute([e.id as i64])?;
            }
            tx.prepare_cached(
                "INSERT INTO records (id, priority, enqueued_at_ms, size, body) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                meta.id as i64,
                meta.priority_code,
                meta.enqueued_at_ms.min(i64::MAX as u64) as i64,
                meta.size as i64,
                body
            ])?;
            if let Some(seq) = seq {
                tx.prepare_cached(
                    "INSERT INTO meta (key, value) VALUES ('last_seq', ?1) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                )?
                .execute([seq.min(i64::MAX as u64) as i64])?;
            }
        }
        tx.commit()
    }

    /// The event sequence number of the newest record pushed with one (see `insert`).
    pub fn last_seq(&self) -> rusqlite::Result<Option<u64>> {
        let v: Option<i64> =
            self.conn.query_row("SELECT value FROM meta WHERE key = 'last_seq'", [], |r| r.get(0)).optional()?;
        Ok(v.map(to_u64))
    }

    /// Deletes one record; returns its row if it existed.
    pub fn delete(&mut self, id: u64) -> rusqlite::Result<Option<RowMeta>> {
        self.conn
            .prepare_cached("DELETE FROM records WHERE id = ?1 RETURNING id, priority, size, enqueued_at_ms")?
            .query_row([id as i64], meta_from)
            .optional()
    }

    /// Deletes several records in one transaction; returns the rows that existed.
    pub fn delete_many(&mut self, ids: &[u64]) -> rusqlite::Result<Vec<RowMeta>> {
        let tx = self.conn.transaction()?;
        let mut out = Vec::with_capacity(ids.len());
        {
            let mut st =
                tx.prepare_cached("DELETE FROM records WHERE id = ?1 RETURNING id, priority, size, enqueued_at_ms")?;
            for &id in ids {
                if let Some(m) = st.query_row([id as i64], meta_from).optional()? {
                    out.push(m);
                }
            }
        }
        tx.commit()?;
        Ok(out)
    }

    /// Deletes every record enqueued strictly before `cutoff_ms`.
    pub fn delete_enqueued_before(&mut self, cutoff_ms: u64) -> rusqlite::Result<Vec<RowMeta>> {
        let mut st = self.conn.prepare_cached(
            "DELETE FROM records WHERE enqueued_at_ms < ?1 RETURNING id, priority, size, enqueued_at_ms",
        )?;
        let rows = st.query_map([cutoff_ms.min(i64::MAX as u64) as i64], meta_from)?.collect();
        rows
    }

    /// Up to `limit` rows of class `p` with id > `after`, in id order.
    pub fn page(&self, p: Priority, after: u64, limit: usize) -> rusqlite::Result<Vec<Row>> {
        let mut st = self.conn.prepare_cached(
            "SELECT id, priority, size, enqueued_at_ms, body FROM records
             WHERE priority = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )?;
        let rows = st
            .query_map(params![p.code(), after.min(i64::MAX as u64) as i64, limit.min(i64::MAX as usize) as i64], |r| {
                // A body stored as another type (tampering) reads as its bytes or as empty: the
                // record decoder then reports it, rather than the query failing for every row.
                let body = match r.get_ref(4)? {
                    rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => b.to_vec(),
                    _ => Vec::new(),
                };
                Ok(Row { meta: meta_from(r)?, body })
            })?
            .collect();
        rows
    }

    /// Moves a record to the quarantine table (kept for inspection, bounded).
    pub fn quarantine(&mut self, id: u64, reason: &str) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO quarantine (record_id, reason, body) SELECT id, ?2, body FROM records WHERE id = ?1",
            params![id as i64, reason],
        )?;
        tx.execute("DELETE FROM records WHERE id = ?1", [id as i64])?;
        tx.execute(
            "DELETE FROM quarantine WHERE qid <= (SELECT MAX(qid) FROM quarantine) - ?1",
            [QUARANTINE_KEEP],
        )?;
        tx.commit()
    }

    #[cfg(test)]
    pub fn conn(&self) -> &Connection {
        &self.conn
    }
}
