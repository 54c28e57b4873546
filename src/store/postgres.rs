//! PostgreSQL implementation of `Store`, for several vault nodes sharing one
//! database. Schema in `migrations/postgres`; keep it equivalent to the SQLite
//! one (same version numbers, same constraint names). The SQL both engines
//! run alike is in `shared`; here is what PostgreSQL does its own way:
//! connecting with statement and lock timeouts, row locks, file chunks as
//! `BYTEA` rows, the audit append with arrays (one statement per batch) and
//! constraint names from the server.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, Row, Transaction};

use super::audit_log::{
    appended_rows, claimed_evidence_ids, claimed_grant_ids, first_sequence, nodes_by_level, nodes_in_order,
    sequence_bound, settle_claims,
};
use super::blobs::BlobDir;
use super::error::driver_error;
use super::{AppendedRow, AuditBatch, BlockingAudit, Conflict, Result, StoreError, StoreOptions, TreeNode};
use crate::ids::FileId;

// Deliberately loaded twice (here and in `sqlite.rs`): one text, compiled for
// each engine's concrete sqlx types (see `shared`'s documentation).
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

/// The names `shared` is compiled with.
type Backend = PostgresStore;
type Db = Postgres;

pub struct PostgresStore {
    pool: PgPool,
}

/// A backstop on every statement (PostgreSQL's `statement_timeout`): a query
/// the server works on for longer ends with an error, freeing its pool
/// connection, instead of holding it for as long as it runs. Far above any
/// request's own query; migrations and pruning run without it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

impl PostgresStore {
    /// Connect to `postgres://...` with the default [`StoreOptions`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// Connect to `postgres://...`. Durability is the server's business
    /// (`synchronous_commit`, replication); the store relies on its defaults.
    ///
    /// Patience: a pool connection (connecting included; sqlx retries a
    /// refused connection until then) and a lock held by another transaction
    /// (`lock_timeout`) are each waited for at most `options.timeout`, a
    /// statement at most [`STATEMENT_TIMEOUT`]; a `statement_timeout` or
    /// `lock_timeout` in the URL's `options` parameter is kept.
    pub async fn connect_with(url: &str, options: StoreOptions) -> Result<Self> {
        let mut connect = PgConnectOptions::from_str(url).map_err(driver_error)?;
        let configured = connect.get_options().unwrap_or_default().to_owned();
        for (setting, value) in [("statement_timeout", STATEMENT_TIMEOUT), ("lock_timeout", options.timeout)] {
            if !configured.contains(setting) {
                connect = connect.options([(setting, value.as_millis())]);
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(options.timeout)
            .connect_with(connect)
            .await
            .map_err(db_error)?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl shared::Engine for PostgresStore {
    const EVIDENCE_TO_DELETE: &'static str =
        "SELECT file_id FROM evidence WHERE id = $1 AND citizen_id = $2 FOR UPDATE";

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin().await.map_err(db_error)
    }

    async fn begin_read(&self) -> Result<Transaction<'static, Postgres>> {
        self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(db_error)
    }

    /// A pool connection with no statement or lock timeout, for work that may
    /// rightly take long (migrations that rewrite tables or wait for another
    /// node's migration, the first pruning of a large log). It is closed
    /// when dropped, so the setting never goes back into the pool.
    async fn unhurried_connection(&self) -> Result<PoolConnection<Postgres>> {
        let mut connection = self.pool.acquire().await.map_err(db_error)?;
        connection.close_on_drop();
        sqlx::query("SET statement_timeout = 0").execute(&mut *connection).await.map_err(db_error)?;
        sqlx::query("SET lock_timeout = 0").execute(&mut *connection).await.map_err(db_error)?;
        Ok(connection)
    }

    /// Chunks are rows (`file_chunks.ciphertext`).
    fn blobs(&self) -> Option<&BlobDir> {
        None
    }

    async fn migrate(&self) -> Result<()> {
        let mut connection = self.unhurried_connection().await?;
        // `run_direct` is `run` on a connection: `run(&mut *connection)` trips
        // the "Acquire is not general enough" error inside async_trait.
        sqlx::migrate!("migrations/postgres").run_direct(None, &mut *connection, false).await?;
        Ok(())
    }

    /// The audit writer awaits `append_audit` on the runtime.
    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>> {
        None
    }

    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // FOR SHARE: the file stays pending (and present) until the chunks are in.
        shared::ensure_pending_file(
            &mut tx,
            "SELECT 1 FROM files WHERE id = $1 AND status = 'pending' FOR SHARE",
            file_id,
        )
        .await?;
        if !chunks.is_empty() {
            // One statement for the whole batch: two arrays unnested into rows.
            let indexes: Vec<i64> = chunks.iter().map(|(index, _)| *index).collect();
            let ciphertexts: Vec<&[u8]> = chunks.iter().map(|(_, ciphertext)| ciphertext.as_slice()).collect();
            sqlx::query(
                "INSERT INTO file_chunks (file_id, chunk_index, ciphertext) \
                 SELECT $1, chunk.chunk_index, chunk.ciphertext \
                 FROM UNNEST($2::BIGINT[], $3::BYTEA[]) AS chunk (chunk_index, ciphertext)",
            )
            .bind(file_id.as_str())
            .bind(indexes)
            .bind(ciphertexts)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(())
    }

    async fn file_chunk(&self, file_id: &FileId, index: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT c.ciphertext FROM file_chunks c JOIN files f ON f.id = c.file_id \
             WHERE c.file_id = $1 AND c.chunk_index = $2 AND f.status = 'complete'",
        )
        .bind(file_id.as_str())
        .bind(index)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| row.try_get::<Vec<u8>, _>("ciphertext").map_err(driver_error)).transpose()
    }

    async fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // Reserve the sequence numbers first: the UPDATE locks the single head
        // row (as SELECT ... FOR UPDATE would) until commit, which serialises
        // appenders of all processes sharing this database; after waiting,
        // READ COMMITTED re-evaluates it on the newest committed head. One
        // round trip instead of a locking read plus an update at the end.
        // Grant rows are locked (FOR UPDATE) only while holding the head, so
        // appenders never wait for each other's grant locks in opposite orders.
        let (first, time_floor) = reserve_audit_sequences(&mut tx, batch).await?;
        let settled = settle_claims(batch, current_grant_uses(&mut tx, &claimed_grant_ids(batch)).await?)?;
        store_grant_uses(&mut tx, &settled.updates).await?;
        let existing = existing_evidence(&mut tx, &claimed_evidence_ids(batch)).await?;
        let rows = batch.rows(first, time_floor, &settled.outcomes)?;
        // One statement for the whole batch, whatever its size: columns as arrays.
        let mut sequences = Vec::with_capacity(rows.len());
        let mut times = Vec::with_capacity(rows.len());
        let mut bodies = Vec::with_capacity(rows.len());
        let mut leaf_hashes = Vec::with_capacity(rows.len());
        let mut subjects = Vec::with_capacity(rows.len());
        let mut actor_kinds = Vec::with_capacity(rows.len());
        let mut actor_ids = Vec::with_capacity(rows.len());
        let mut actions = Vec::with_capacity(rows.len());
        let mut outcomes = Vec::with_capacity(rows.len());
        let mut departments = Vec::with_capacity(rows.len());
        let mut services = Vec::with_capacity(rows.len());
        for row in &rows {
            sequences.push(row.sequence);
            times.push(row.time);
            bodies.push(row.body.as_slice());
            leaf_hashes.push(row.leaf_hash.as_slice());
            subjects.push(row.subject.as_deref());
            actor_kinds.push(row.actor_kind);
            actor_ids.push(row.actor_id.as_deref());
            actions.push(row.action);
            outcomes.push(row.outcome);
            departments.push(row.department.as_deref());
            services.push(row.service.as_deref());
        }
        sqlx::query(
            "INSERT INTO audit_entries (sequence, time, body, leaf_hash, subject, actor_kind, actor_id, action, \
             outcome, department, service) \
             SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BYTEA[], $4::BYTEA[], $5::TEXT[], $6::TEXT[], \
             $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[], $11::TEXT[])",
        )
        .bind(sequences)
        .bind(times)
        .bind(bodies)
        .bind(leaf_hashes)
        .bind(subjects)
        .bind(actor_kinds)
        .bind(actor_ids)
        .bind(actions)
        .bind(outcomes)
        .bind(departments)
        .bind(services)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        appended_rows(batch, first, rows, &settled.outcomes, &existing)
    }

    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>> {
        let mut found = HashMap::new();
        // One snapshot for all of them.
        let mut tx = self.pool.begin().await.map_err(db_error)?;
        // One query per level with the indexes as one array parameter
        // (thousands of separate parameters cost more to bind and plan than
        // the index lookups themselves).
        for (level, indexes) in nodes_by_level(nodes) {
            let indexes: Vec<i64> = indexes.into_iter().map(sequence_bound).collect();
            let rows: Vec<(i64, Vec<u8>)> = if level == 0 {
                sqlx::query_as("SELECT sequence, leaf_hash FROM audit_entries WHERE sequence = ANY($1)")
                    .bind(&indexes)
                    .fetch_all(&mut *tx)
                    .await
            } else {
                sqlx::query_as("SELECT idx, hash FROM audit_nodes WHERE level = $1 AND idx = ANY($2)")
                    .bind(i16::from(level))
                    .bind(&indexes)
                    .fetch_all(&mut *tx)
                    .await
            }
            .map_err(db_error)?;
            for (index, hash) in rows {
                if let Ok(index) = u64::try_from(index) {
                    found.insert((level, index), hash);
                }
            }
        }
        tx.commit().await.map_err(db_error)?;
        nodes_in_order(nodes, &found)
    }
}

/// Map constraint violations to `Conflict` with the constraint's name (all
/// constraints are named in the migrations), everything else as in `driver_error`.
fn db_error(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(database_error) = &error {
        let name = || database_error.constraint().unwrap_or("unknown").to_owned();
        if database_error.is_unique_violation() {
            return StoreError::Conflict(Conflict::Duplicate(name()));
        }
        if database_error.is_foreign_key_violation() {
            return StoreError::Conflict(Conflict::MissingReference);
        }
        if database_error.is_check_violation() {
            return StoreError::Conflict(Conflict::Check(name()));
        }
    }
    driver_error(error)
}

// --- audit log helpers ----------------------------------------------------------

/// Move the audit head forward by the batch inside the append transaction:
/// the batch's first sequence number and the time floor of its entries (see
/// `AuditBatch::rows`).
async fn reserve_audit_sequences(connection: &mut PgConnection, batch: &dyn AuditBatch) -> Result<(i64, i64)> {
    let count = i64::try_from(batch.len()).map_err(|_| StoreError::Corrupt("audit batch too large".to_owned()))?;
    // The CTE locks the head and reads its time before this batch (after
    // waiting for another appender, the newest committed one): the time floor
    // of the batch's entries.
    let (new_last, time_floor): (i64, i64) = sqlx::query_as(
        "WITH head AS (SELECT last_time FROM audit_head WHERE id = 1 FOR UPDATE) \
         UPDATE audit_head SET last_sequence = last_sequence + $1, \
         last_time = GREATEST(audit_head.last_time, $2) FROM head WHERE audit_head.id = 1 \
         RETURNING audit_head.last_sequence, head.last_time",
    )
    .bind(count)
    .bind(batch.newest_time())
    .fetch_one(&mut *connection)
    .await
    .map_err(db_error)?;
    Ok((first_sequence(new_last, count)?, time_floor))
}

/// (uses, revoked) of the named grants, locked until the append commits.
async fn current_grant_uses(connection: &mut PgConnection, ids: &[String]) -> Result<HashMap<String, (i64, bool)>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64, bool)> =
        sqlx::query_as("SELECT id, uses, revoked_at IS NOT NULL FROM grants WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(ids)
            .fetch_all(&mut *connection)
            .await
            .map_err(db_error)?;
    Ok(rows.into_iter().map(|(id, uses, revoked)| (id, (uses, revoked))).collect())
}

/// Write the settled use counts in one statement.
async fn store_grant_uses(connection: &mut PgConnection, updates: &[(String, i64)]) -> Result<()> {
    if updates.is_empty() {
        return Ok(());
    }
    let (ids, uses): (Vec<&str>, Vec<i64>) = updates.iter().map(|(id, uses)| (id.as_str(), *uses)).unzip();
    sqlx::query(
        "UPDATE grants AS g SET uses = v.uses FROM UNNEST($1::TEXT[], $2::BIGINT[]) AS v(id, uses) WHERE g.id = v.id",
    )
    .bind(ids)
    .bind(uses)
    .execute(&mut *connection)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Which of the claimed evidence ids exist, with their owners.
async fn existing_evidence(connection: &mut PgConnection, ids: &[String]) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as("SELECT id, citizen_id FROM evidence WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(&mut *connection)
        .await
        .map_err(db_error)
}
