//! Queries the shared `Store` methods compose: completing an uploaded
//! file, the audit entry pages, a file's status; and the check both
//! engines' `append_file_chunks` start with.

use sqlx::{QueryBuilder, Row};

use super::{Backend, Db, DbConnection, db_error, rows};
use crate::ids::{CitizenId, FileId};
use crate::store::audit_log::{EntryOrder, audit_text_conditions, sequence_bound};
use crate::store::error::driver_error;
use crate::store::records::time_to_micros;
use crate::store::{AuditFilter, Conflict, FileRecord, Result, StoreError, StoredAuditEntry};

impl Backend {
    /// The audit entries matching `filter` in the given order (see
    /// `Store::audit_entries` and `Store::audit_entries_newest_first`).
    pub(super) async fn audit_entries_in_order(
        &self,
        filter: &AuditFilter,
        limit: u32,
        order: EntryOrder,
    ) -> Result<Vec<StoredAuditEntry>> {
        let mut query = audit_entries_query(filter, limit, order);
        let found = query.build().fetch_all(&self.pool).await.map_err(db_error)?;
        found.iter().map(rows::stored_audit_entry).collect()
    }

    /// The status of a file row (`pending`/`complete`), None if there is none.
    pub(super) async fn file_status(&self, file_id: &FileId) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT status FROM files WHERE id = $1")
            .bind(file_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }
}

/// Mark a pending file of `citizen_id` complete, after checking that its
/// chunks are exactly `0..chunk_count`. Runs inside the evidence transaction.
pub(super) async fn complete_file(
    connection: &mut DbConnection,
    citizen_id: &CitizenId,
    file: &FileRecord,
) -> Result<()> {
    let completed = sqlx::query(
        "UPDATE files SET status = 'complete', media_type = $1, plaintext_size = $2, chunk_count = $3, sealed_name = $4 \
         WHERE id = $5 AND citizen_id = $6 AND status = 'pending'",
    )
    .bind(file.media_type.as_str())
    .bind(file.plaintext_size)
    .bind(file.chunk_count)
    .bind(file.sealed_name.as_slice())
    .bind(file.id.as_str())
    .bind(citizen_id.as_str())
    .execute(&mut *connection)
    .await
    .map_err(db_error)?;
    if completed.rows_affected() != 1 {
        return Err(StoreError::Conflict(Conflict::FileNotPending));
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS stored, COALESCE(MIN(chunk_index), 0) AS lowest, COALESCE(MAX(chunk_index), -1) AS highest \
         FROM file_chunks WHERE file_id = $1",
    )
    .bind(file.id.as_str())
    .fetch_one(&mut *connection)
    .await
    .map_err(db_error)?;
    let stored: i64 = row.try_get("stored").map_err(driver_error)?;
    let lowest: i64 = row.try_get("lowest").map_err(driver_error)?;
    let highest: i64 = row.try_get("highest").map_err(driver_error)?;
    // Indexes are unique per file, so count + bounds pin down 0..chunk_count.
    if stored != file.chunk_count || lowest != 0 || highest != file.chunk_count - 1 {
        return Err(StoreError::Conflict(Conflict::FileChunksIncomplete));
    }
    Ok(())
}

/// The query for the audit entries matching `filter` in `order`, at most
/// `limit` (see `Store::audit_entries` and `Store::audit_entries_newest_first`),
/// (the builder numbers the placeholders).
fn audit_entries_query(filter: &AuditFilter, limit: u32, order: EntryOrder) -> QueryBuilder<Db> {
    let mut query = QueryBuilder::<Db>::new(
        "SELECT sequence, time, body, leaf_hash, subject, actor_kind, actor_id, action, outcome, department, \
         service FROM audit_entries WHERE 1 = 1",
    );
    match order {
        EntryOrder::After(after) => {
            query.push(" AND sequence > ").push_bind(sequence_bound(after));
        }
        EntryOrder::Before(before) => {
            query.push(" AND sequence < ").push_bind(sequence_bound(before));
        }
        EntryOrder::Oldest | EntryOrder::Newest => {}
    }
    // Times never decrease along the sequence (see `number_audit_events`), so
    // a time range is the sequence range from the first entry at or after
    // `from` to the first at or after `until` (in (time, sequence) order,
    // which the time index gives: SQLite's holds the rowid, PostgreSQL's is
    // on (time, sequence)): two index lookups,
    // and the scan starts and stops at the right place. The time conditions
    // stay, for entries stamped before that rule existed, written as
    // `time + 0` so that no planner prefers scanning the whole period in the
    // time index and sorting it (PostgreSQL did: 13.6 ms for a page at 10^5
    // entries against 0.56 ms at 10^3).
    if let Some(from) = filter.from {
        query
            .push(" AND sequence >= (SELECT sequence FROM audit_entries WHERE time >= ")
            .push_bind(time_to_micros(from))
            .push(" ORDER BY time, sequence LIMIT 1)");
        query.push(" AND time + 0 >= ").push_bind(time_to_micros(from));
    }
    if let Some(until) = filter.until {
        query
            .push(" AND sequence < COALESCE((SELECT sequence FROM audit_entries WHERE time >= ")
            .push_bind(time_to_micros(until))
            .push(" ORDER BY time, sequence LIMIT 1), ")
            .push_bind(i64::MAX)
            .push(")");
        query.push(" AND time + 0 < ").push_bind(time_to_micros(until));
    }
    for (column, value) in audit_text_conditions(filter) {
        query.push(format_args!(" AND {column} = ")).push_bind(value);
    }
    let direction = match order {
        EntryOrder::After(_) | EntryOrder::Oldest => " ORDER BY sequence LIMIT ",
        EntryOrder::Before(_) | EntryOrder::Newest => " ORDER BY sequence DESC LIMIT ",
    };
    query.push(direction).push_bind(i64::from(limit));
    query
}

/// Conflict unless `file_id` is a pending upload, read inside the append
/// transaction with `sql`: the engine's `SELECT 1 FROM files WHERE id = $1
/// AND status = 'pending'` (with the lock it takes, if any).
pub(crate) async fn ensure_pending_file(
    connection: &mut DbConnection,
    sql: &'static str,
    file_id: &FileId,
) -> Result<()> {
    let pending = sqlx::query(sql).bind(file_id.as_str()).fetch_optional(&mut *connection).await.map_err(db_error)?;
    if pending.is_none() {
        return Err(StoreError::Conflict(Conflict::FileNotPending));
    }
    Ok(())
}
