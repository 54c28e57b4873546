//! The audit group commit on SQLite, on a plain blocking connection of its
//! own (rusqlite) that the audit writer's thread drives directly.
//!
//! Why not sqlx here: sqlx-sqlite runs each connection on a worker thread of
//! its own and hands every statement, row and result across channels to the
//! async caller. For the group commit, the one serial step of every release,
//! those hops (thread wake-ups, allocations per row, two round trips per
//! batch) cost more than SQLite's own work; measured in
//! `cargo bench --bench release` (README, "Department releases").
//! Everything else stays on sqlx; both open the same database file, and
//! SQLite's locking (BEGIN IMMEDIATE, busy timeout) orders them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::super::audit_log::{
    appended_rows, claimed_evidence_ids, claimed_grant_ids, first_sequence, leaf_hash_array, settle_claims,
};
use super::super::{AppendedRow, AuditBatch, BlockingAudit, Result, StoreError, TreeNode};
use super::{Constraint, constraint_conflict};

/// Statements kept prepared on the audit connection (all of them fit).
const STATEMENT_CACHE: usize = 16;

/// The audit connection, one caller at a time.
pub struct SqliteAudit {
    connection: Mutex<Connection>,
}

impl SqliteAudit {
    /// Open the database file (already created and migrated by the pool)
    /// with the same settings as the pool's connections; `busy_timeout` is
    /// the store's patience for another connection's write lock.
    pub(super) fn open(path: &Path, busy_timeout: Duration) -> Result<Self> {
        let connection = Connection::open(path).map_err(sqlite_error)?;
        connection.busy_timeout(busy_timeout).map_err(sqlite_error)?;
        connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let journal_mode: String =
            connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0)).map_err(sqlite_error)?;
        if !journal_mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Corrupt(format!("SQLite refused WAL mode (journal_mode is {journal_mode})")));
        }
        // synchronous = FULL: COMMIT returns after the WAL is fsynced.
        connection
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;")
            .map_err(sqlite_error)?;
        Ok(Self { connection: Mutex::new(connection) })
    }
}

/// Reads of the stored tree's nodes for proofs, on a blocking connection of
/// its own (see the module documentation): a page of a citizen's log reads
/// thousands of nodes, and sqlx-sqlite's hand-over of each row cost more
/// than SQLite's reads (README, "The audit log at any size").
pub struct SqliteTreeReader {
    connection: Mutex<Connection>,
}

impl SqliteTreeReader {
    pub(super) fn open(path: &Path, busy_timeout: Duration) -> Result<Self> {
        let connection = Connection::open(path).map_err(sqlite_error)?;
        connection.busy_timeout(busy_timeout).map_err(sqlite_error)?;
        connection.set_prepared_statement_cache_capacity(4);
        // Proofs read scattered nodes and leaf hashes of a large file: a
        // page cache of its own (64 MiB) and reads through mmap (up to
        // 1 GiB) keep them from going back to the file for every page.
        connection
            .execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -65536; PRAGMA mmap_size = 1073741824;")
            .map_err(sqlite_error)?;
        Ok(Self { connection: Mutex::new(connection) })
    }

    /// The hashes of `nodes` (level 0: leaf hashes), in order, from one
    /// read snapshot; a missing one is `Corrupt`.
    pub(super) fn nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>> {
        let mut connection = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let transaction = connection.transaction().map_err(sqlite_error)?;
        let mut hashes = Vec::with_capacity(nodes.len());
        {
            let mut leaf = transaction
                .prepare_cached("SELECT leaf_hash FROM audit_entries WHERE sequence = ?1")
                .map_err(sqlite_error)?;
            let mut node = transaction
                .prepare_cached("SELECT hash FROM audit_nodes WHERE level = ?1 AND idx = ?2")
                .map_err(sqlite_error)?;
            for &(level, index) in nodes {
                let position =
                    i64::try_from(index).map_err(|_| StoreError::Corrupt(format!("tree node index {index}")))?;
                let hash: Option<Vec<u8>> = if level == 0 {
                    leaf.query_row(params![position], |row| row.get(0)).optional().map_err(sqlite_error)?
                } else {
                    node.query_row(params![i64::from(level), position], |row| row.get(0))
                        .optional()
                        .map_err(sqlite_error)?
                };
                match hash {
                    Some(hash) => hashes.push(leaf_hash_array(&hash)?),
                    None => return Err(StoreError::Corrupt(format!("audit tree node {:?} missing", (level, index)))),
                }
            }
        }
        transaction.commit().map_err(sqlite_error)?;
        Ok(hashes)
    }
}

impl BlockingAudit for SqliteAudit {
    fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // A panic while the lock was held dropped its transaction (rolled back).
        let mut connection = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        append(&mut connection, batch)
    }
}

/// One transaction: reserve the sequence numbers, settle the claims against
/// the grants as stored, store the use counts and the entries, commit. Any
/// error drops the transaction, which rolls it back.
fn append(connection: &mut Connection, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>> {
    let count = i64::try_from(batch.len()).map_err(|_| StoreError::Corrupt("audit batch too large".to_owned()))?;
    // BEGIN IMMEDIATE takes the write lock first (appenders, also in other
    // processes, queue here), so the sequence reserved and the grants and
    // evidence read below cannot change before the commit.
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(sqlite_error)?;
    // The head's time before this batch is its entries' time floor.
    let time_floor: i64 = transaction
        .prepare_cached("SELECT last_time FROM audit_head WHERE id = 1")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)).optional())
        .map_err(sqlite_error)?
        .ok_or_else(|| StoreError::Corrupt("audit_head row is missing".to_owned()))?;
    let new_last: i64 = transaction
        .prepare_cached(
            "UPDATE audit_head SET last_sequence = last_sequence + ?1, last_time = max(last_time, ?2) WHERE id = 1 \
             RETURNING last_sequence",
        )
        .and_then(|mut statement| statement.query_row([count, batch.newest_time()], |row| row.get(0)).optional())
        .map_err(sqlite_error)?
        .ok_or_else(|| StoreError::Corrupt("audit_head row is missing".to_owned()))?;

    let mut current = HashMap::new();
    {
        let mut statement = transaction
            .prepare_cached("SELECT uses, revoked_at IS NOT NULL FROM grants WHERE id = ?1")
            .map_err(sqlite_error)?;
        for id in claimed_grant_ids(batch) {
            let state = statement
                .query_row([&id], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, bool>(1)?)))
                .optional()
                .map_err(sqlite_error)?;
            if let Some(state) = state {
                current.insert(id, state);
            }
        }
    }
    // Which claimed evidence still exists, and whose (a refused claim's is not used).
    let mut existing = Vec::new();
    {
        let mut statement =
            transaction.prepare_cached("SELECT citizen_id FROM evidence WHERE id = ?1").map_err(sqlite_error)?;
        for id in claimed_evidence_ids(batch) {
            let owner: Option<String> =
                statement.query_row([&id], |row| row.get(0)).optional().map_err(sqlite_error)?;
            if let Some(owner) = owner {
                existing.push((id, owner));
            }
        }
    }
    let settled = settle_claims(batch, current)?;
    let first = first_sequence(new_last, count)?;
    let rows = batch.rows(first, time_floor, &settled.outcomes)?;
    {
        let mut statement =
            transaction.prepare_cached("UPDATE grants SET uses = ?2 WHERE id = ?1").map_err(sqlite_error)?;
        for (id, uses) in &settled.updates {
            statement.execute(params![id, uses]).map_err(sqlite_error)?;
        }
    }
    {
        let mut statement = transaction
            .prepare_cached(
                "INSERT INTO audit_entries (sequence, time, body, leaf_hash, subject, actor_kind, actor_id, action, \
                 outcome, department, service) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .map_err(sqlite_error)?;
        for row in &rows {
            statement
                .execute(params![
                    row.sequence,
                    row.time,
                    row.body,
                    row.leaf_hash.as_slice(),
                    row.subject,
                    row.actor_kind,
                    row.actor_id,
                    row.action,
                    row.outcome,
                    row.department,
                    row.service,
                ])
                .map_err(sqlite_error)?;
        }
    }
    transaction.commit().map_err(sqlite_error)?;
    appended_rows(batch, first, rows, &settled.outcomes, &existing)
}

/// Constraint failures are conflicts (as on the pool's connections), column
/// values of the wrong type are malformed data, the rest database errors.
pub(crate) fn sqlite_error(error: rusqlite::Error) -> StoreError {
    match error {
        rusqlite::Error::SqliteFailure(failure, Some(message))
            if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            let constraint = match failure.extended_code {
                rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
                    Constraint::Unique
                }
                rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY => Constraint::ForeignKey,
                rusqlite::ffi::SQLITE_CONSTRAINT_CHECK => Constraint::Check,
                _ => return StoreError::Database(rusqlite::Error::SqliteFailure(failure, Some(message)).to_string()),
            };
            constraint_conflict(constraint, &message)
        }
        rusqlite::Error::FromSqlConversionFailure(index, _, source) => {
            StoreError::Corrupt(format!("column {index}: {source}"))
        }
        rusqlite::Error::InvalidColumnType(index, name, kind) => {
            StoreError::Corrupt(format!("column {index} ({name}): unexpected {kind}"))
        }
        rusqlite::Error::IntegralValueOutOfRange(index, value) => {
            StoreError::Corrupt(format!("column {index}: {value} out of range"))
        }
        rusqlite::Error::SqliteFailure(failure, message)
            if matches!(failure.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
        {
            StoreError::Unavailable(rusqlite::Error::SqliteFailure(failure, message).to_string())
        }
        other => StoreError::Database(other.to_string()),
    }
}
