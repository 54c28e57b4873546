//! PostgreSQL implementation of `Store`, for several vault nodes sharing one
//! database. Schema in `migrations/postgres`; keep it equivalent to the SQLite
//! one (same version numbers, same constraint names).

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{PgConnection, Postgres, QueryBuilder, Row};

use super::{
    AccessRequestRecord, AppendedRow, AuditBatch, GrantRecord, ReleaseGrant, RequestState, access_request_from_row,
    appended_rows, claimed_evidence_ids, claimed_grant_ids, evidence_from_row, first_sequence, grant_from_row,
    json_list, settle_claims, stored_count,
};
use super::{AuditFilter, Conflict, StoredAuditEntry, checked_leaves, sequence_bound, stored_size};
use super::{
    CitizenRecord, EvidenceRecord, EvidenceSummary, FileRecord, PendingLogin, Result, SealedField, SessionRecord,
    StaffSessionRecord, Store, StoreError, StoreOptions, driver_error, parse_stored_id, time_from_micros,
    time_to_micros,
};
use super::{EntryOrder, NODES_PER_QUERY, TreeNode, audit_entries_query, nodes_by_level, nodes_in_order};
use super::{
    citizen_from_row, pending_login_from_row, session_from_row, staff_session_from_row, stored_audit_entry_from_row,
};
use super::{cosignature_rows, cosignatures_query, insert_cosignature_query};
use crate::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};

pub struct PostgresStore {
    pool: PgPool,
}

/// A backstop on every statement (PostgreSQL's `statement_timeout`): a query
/// the server works on for longer ends with an error, freeing its pool
/// connection, instead of holding it for as long as it runs. Far above any
/// request's own query; migrations and pruning run without it.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

impl PostgresStore {
    /// The audit entries matching `filter` in the given order (see
    /// `Store::audit_entries` and `Store::audit_entries_newest_first`).
    async fn audit_entries_in_order(
        &self,
        filter: &AuditFilter,
        limit: u32,
        order: EntryOrder,
    ) -> Result<Vec<StoredAuditEntry>> {
        let mut query = audit_entries_query::<Postgres>(filter, limit, order);
        let rows = query.build().fetch_all(&self.pool).await.map_err(postgres_error)?;
        rows.iter().map(stored_audit_entry_from_row).collect()
    }

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
            .map_err(postgres_error)?;
        Ok(Self { pool })
    }

    /// A pool connection with no statement or lock timeout, for work that may
    /// rightly take long (migrations that rewrite tables or wait for another
    /// node's migration, the first pruning of a large log). It is closed
    /// when dropped, so the setting never goes back into the pool.
    async fn unhurried_connection(&self) -> Result<sqlx::pool::PoolConnection<Postgres>> {
        let mut connection = self.pool.acquire().await.map_err(postgres_error)?;
        connection.close_on_drop();
        sqlx::query("SET statement_timeout = 0").execute(&mut *connection).await.map_err(postgres_error)?;
        sqlx::query("SET lock_timeout = 0").execute(&mut *connection).await.map_err(postgres_error)?;
        Ok(connection)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn migrate(&self) -> Result<()> {
        let mut connection = self.unhurried_connection().await?;
        // `run_direct` is `run` on a connection: `run(&mut *connection)` trips
        // the "Acquire is not general enough" error inside async_trait.
        sqlx::migrate!("migrations/postgres").run_direct(None, &mut *connection, false).await?;
        Ok(())
    }

    // --- citizens -----------------------------------------------------------

    async fn insert_citizen(&self, citizen: &CitizenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO citizens (id, subject_hash, wrapped_dek, kek_version, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(citizen.id.as_str())
        .bind(citizen.subject_hash.as_slice())
        .bind(citizen.wrapped_dek.as_slice())
        .bind(i64::from(citizen.kek_version))
        .bind(time_to_micros(citizen.created_at))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(())
    }

    async fn citizen_by_subject(&self, subject_hash: &[u8]) -> Result<Option<CitizenRecord>> {
        sqlx::query(
            "SELECT id, subject_hash, wrapped_dek, kek_version, created_at FROM citizens WHERE subject_hash = $1",
        )
        .bind(subject_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?
        .map(|row| citizen_from_row(&row))
        .transpose()
    }

    async fn citizen(&self, id: &CitizenId) -> Result<Option<CitizenRecord>> {
        sqlx::query("SELECT id, subject_hash, wrapped_dek, kek_version, created_at FROM citizens WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(postgres_error)?
            .map(|row| citizen_from_row(&row))
            .transpose()
    }

    async fn delete_citizen(&self, id: &CitizenId) -> Result<bool> {
        // The foreign keys cascade; the explicit deletes keep this the same
        // as the SQLite store and make the order of erasure obvious.
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        for statement in [
            "DELETE FROM evidence_fields WHERE evidence_id IN (SELECT id FROM evidence WHERE citizen_id = $1)",
            "DELETE FROM evidence WHERE citizen_id = $1",
            "DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE citizen_id = $1)",
            "DELETE FROM files WHERE citizen_id = $1",
            "DELETE FROM sessions WHERE citizen_id = $1",
            "DELETE FROM grants WHERE citizen_id = $1",
            "UPDATE access_requests SET citizen_id = NULL WHERE citizen_id = $1",
        ] {
            sqlx::query(statement).bind(id.as_str()).execute(&mut *tx).await.map_err(postgres_error)?;
        }
        let deleted = sqlx::query("DELETE FROM citizens WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?
            .rows_affected();
        tx.commit().await.map_err(postgres_error)?;
        Ok(deleted > 0)
    }

    // --- login state --------------------------------------------------------

    async fn insert_pending_login(&self, pending: &PendingLogin) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_logins (state_hash, issuer, nonce, pkce_verifier, requested_level, return_to, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(pending.state_hash.as_slice())
        .bind(pending.issuer.as_str())
        .bind(pending.nonce.as_str())
        .bind(pending.pkce_verifier.as_str())
        .bind(pending.requested_level)
        .bind(pending.return_to.as_str())
        .bind(time_to_micros(pending.created_at))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(())
    }

    async fn take_pending_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>> {
        // One statement: a concurrent take blocks on the row lock and then
        // finds it gone, so exactly one take gets the row.
        sqlx::query(
            "DELETE FROM pending_logins WHERE state_hash = $1 \
             RETURNING state_hash, issuer, nonce, pkce_verifier, requested_level, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?
        .map(|row| pending_login_from_row(&row))
        .transpose()
    }

    async fn delete_pending_logins_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = sqlx::query("DELETE FROM pending_logins WHERE created_at < $1")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(result.rows_affected())
    }

    // --- sessions -----------------------------------------------------------

    async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions \
             (id_hash, citizen_id, issuer, login_level, idp_session_id, csrf_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session.id_hash.as_slice())
        .bind(session.citizen_id.as_str())
        .bind(session.issuer.as_str())
        .bind(session.login_level)
        .bind(session.idp_session_id.as_deref())
        .bind(session.csrf_token.as_str())
        .bind(time_to_micros(session.created_at))
        .bind(time_to_micros(session.last_seen_at))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(())
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>> {
        sqlx::query(
            "SELECT id_hash, citizen_id, issuer, login_level, idp_session_id, csrf_token, created_at, last_seen_at \
             FROM sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?
        .map(|row| session_from_row(&row))
        .transpose()
    }

    async fn touch_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(time_to_micros(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }

    async fn citizens_with_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<Vec<CitizenId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT citizen_id FROM sessions WHERE issuer = $1 AND idp_session_id = $2 ORDER BY citizen_id",
        )
        .bind(issuer)
        .bind(idp_session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(postgres_error)?;
        ids.iter().map(|id| parse_stored_id("sessions.citizen_id", id)).collect()
    }

    async fn delete_sessions_by_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE issuer = $1 AND idp_session_id = $2")
            .bind(issuer)
            .bind(idp_session_id)
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(result.rows_affected())
    }

    async fn delete_sessions_of_citizen(&self, issuer: &str, citizen_id: &CitizenId) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE issuer = $1 AND citizen_id = $2")
            .bind(issuer)
            .bind(citizen_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(result.rows_affected())
    }

    async fn keep_newest_sessions(&self, citizen_id: &CitizenId, newest: &[u8], keep: u32) -> Result<u64> {
        let result = sqlx::query(
            "DELETE FROM sessions WHERE citizen_id = $1 AND id_hash <> $2 AND id_hash NOT IN \
             (SELECT id_hash FROM sessions WHERE citizen_id = $1 AND id_hash <> $2 \
              ORDER BY created_at DESC, last_seen_at DESC, id_hash LIMIT $3)",
        )
        .bind(citizen_id.as_str())
        .bind(newest)
        .bind(i64::from(keep.saturating_sub(1)))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(result.rows_affected())
    }

    async fn logout_token_seen(&self, issuer: &str, jti: &str) -> Result<bool> {
        let seen: Option<i32> = sqlx::query_scalar("SELECT 1 FROM logout_tokens WHERE issuer = $1 AND jti = $2")
            .bind(issuer)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(seen.is_some())
    }

    async fn remember_logout_token(&self, issuer: &str, jti: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO logout_tokens (issuer, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(time_to_micros(expires_at))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(result.rows_affected() == 1)
    }

    // --- files --------------------------------------------------------------

    async fn begin_file(&self, file_id: &FileId, citizen_id: &CitizenId, started_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO files (id, citizen_id, status, started_at) VALUES ($1, $2, 'pending', $3)")
            .bind(file_id.as_str())
            .bind(citizen_id.as_str())
            .bind(time_to_micros(started_at))
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }

    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        let pending = sqlx::query("SELECT 1 FROM files WHERE id = $1 AND status = 'pending' FOR SHARE")
            .bind(file_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(postgres_error)?;
        if pending.is_none() {
            return Err(StoreError::Conflict(Conflict::FileNotPending));
        }
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
            .map_err(postgres_error)?;
        }
        tx.commit().await.map_err(postgres_error)?;
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
        .map_err(postgres_error)?;
        row.map(|row| row.try_get::<Vec<u8>, _>("ciphertext").map_err(driver_error)).transpose()
    }

    async fn abort_file(&self, file_id: &FileId) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        sqlx::query(
            "DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE id = $1 AND status = 'pending')",
        )
        .bind(file_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(postgres_error)?;
        sqlx::query("DELETE FROM files WHERE id = $1 AND status = 'pending'")
            .bind(file_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        Ok(())
    }

    async fn delete_stale_uploads(&self, before: DateTime<Utc>) -> Result<u64> {
        let before = time_to_micros(before);
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        sqlx::query(
            "DELETE FROM file_chunks WHERE file_id IN \
             (SELECT id FROM files WHERE status = 'pending' AND started_at < $1)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await
        .map_err(postgres_error)?;
        let deleted = sqlx::query("DELETE FROM files WHERE status = 'pending' AND started_at < $1")
            .bind(before)
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?
            .rows_affected();
        tx.commit().await.map_err(postgres_error)?;
        Ok(deleted)
    }

    // --- evidence -----------------------------------------------------------

    async fn insert_evidence(&self, evidence: &EvidenceRecord) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        if let Some(file) = &evidence.file {
            complete_file(&mut tx, &evidence.citizen_id, file).await?;
        }
        sqlx::query(
            "INSERT INTO evidence (id, citizen_id, type_id, type_version, created_at, file_id) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(evidence.id.as_str())
        .bind(evidence.citizen_id.as_str())
        .bind(evidence.type_id.as_str())
        .bind(evidence.type_version)
        .bind(time_to_micros(evidence.created_at))
        .bind(evidence.file.as_ref().map(|file| file.id.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(postgres_error)?;
        if !evidence.fields.is_empty() {
            let mut insert =
                QueryBuilder::<Postgres>::new("INSERT INTO evidence_fields (evidence_id, name, position, ciphertext) ");
            let mut position: i64 = 0;
            insert.push_values(&evidence.fields, |mut row, field| {
                row.push_bind(evidence.id.as_str())
                    .push_bind(field.name.as_str())
                    .push_bind(position)
                    .push_bind(field.ciphertext.as_slice());
                position += 1;
            });
            insert.build().execute(&mut *tx).await.map_err(postgres_error)?;
        }
        tx.commit().await.map_err(postgres_error)?;
        Ok(())
    }

    async fn list_evidence(&self, citizen_id: &CitizenId) -> Result<Vec<EvidenceSummary>> {
        let rows = sqlx::query(
            "SELECT id, type_id, created_at, file_id IS NOT NULL AS has_file FROM evidence \
             WHERE citizen_id = $1 ORDER BY created_at DESC, id DESC",
        )
        .bind(citizen_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(postgres_error)?;
        rows.iter()
            .map(|row| {
                Ok(EvidenceSummary {
                    id: parse_stored_id("evidence.id", &row.try_get::<String, _>("id").map_err(driver_error)?)?,
                    type_id: row.try_get("type_id").map_err(driver_error)?,
                    created_at: time_from_micros(
                        "evidence.created_at",
                        row.try_get("created_at").map_err(driver_error)?,
                    )?,
                    has_file: row.try_get("has_file").map_err(driver_error)?,
                })
            })
            .collect()
    }

    async fn evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> Result<Option<EvidenceRecord>> {
        // Both queries read the same snapshot.
        let mut tx =
            self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(postgres_error)?;
        let row = sqlx::query(
            "SELECT e.id, e.citizen_id, e.type_id, e.type_version, e.created_at, e.file_id, \
                    f.status, f.media_type, f.plaintext_size, f.chunk_count, f.sealed_name \
             FROM evidence e LEFT JOIN files f ON f.id = e.file_id \
             WHERE e.id = $1 AND e.citizen_id = $2",
        )
        .bind(id.as_str())
        .bind(citizen_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(postgres_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let field_rows =
            sqlx::query("SELECT name, ciphertext FROM evidence_fields WHERE evidence_id = $1 ORDER BY position, name")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        let fields = field_rows
            .iter()
            .map(|field| {
                Ok(SealedField {
                    name: field.try_get("name").map_err(driver_error)?,
                    ciphertext: field.try_get("ciphertext").map_err(driver_error)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        evidence_from_row(&row, fields).map(Some)
    }

    async fn delete_evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        let row = sqlx::query("SELECT file_id FROM evidence WHERE id = $1 AND citizen_id = $2 FOR UPDATE")
            .bind(id.as_str())
            .bind(citizen_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(postgres_error)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let file_id: Option<String> = row.try_get("file_id").map_err(driver_error)?;
        sqlx::query("DELETE FROM evidence_fields WHERE evidence_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?;
        sqlx::query("DELETE FROM evidence WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?;
        if let Some(file_id) = file_id {
            sqlx::query("DELETE FROM file_chunks WHERE file_id = $1")
                .bind(file_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(postgres_error)?;
            sqlx::query("DELETE FROM files WHERE id = $1")
                .bind(file_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(postgres_error)?;
        }
        tx.commit().await.map_err(postgres_error)?;
        Ok(true)
    }

    // --- audit log ----------------------------------------------------------

    async fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
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
        .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        appended_rows(batch, first, rows, &settled.outcomes, &existing)
    }

    async fn audit_size(&self) -> Result<u64> {
        let last_sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(postgres_error)?;
        stored_size("audit_head.last_sequence", last_sequence.saturating_add(1))
    }

    async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>> {
        // One snapshot for the size and the leaves.
        let mut tx =
            self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await.map_err(postgres_error)?;
        let last_sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(postgres_error)?;
        let size = stored_size("audit_head.last_sequence", last_sequence.saturating_add(1))?;
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT sequence, leaf_hash FROM audit_entries WHERE sequence >= $1 AND sequence < $2 ORDER BY sequence",
        )
        .bind(sequence_bound(from))
        .bind(sequence_bound(to.min(size)))
        .fetch_all(&mut *tx)
        .await
        .map_err(postgres_error)?;
        tx.commit().await.map_err(postgres_error)?;
        checked_leaves(from, to, size, rows)
    }

    async fn audit_tree_size(&self) -> Result<u64> {
        let size: i64 = sqlx::query_scalar("SELECT size FROM audit_tree WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(postgres_error)?;
        stored_size("audit_tree.size", size)
    }

    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>> {
        let mut found = HashMap::new();
        // One snapshot for all of them.
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
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
            .map_err(postgres_error)?;
            for (index, hash) in rows {
                if let Ok(index) = u64::try_from(index) {
                    found.insert((level, index), hash);
                }
            }
        }
        tx.commit().await.map_err(postgres_error)?;
        nodes_in_order(nodes, &found)
    }

    async fn extend_audit_tree(&self, from: u64, to: u64, nodes: &[(TreeNode, [u8; 32])]) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        let moved = sqlx::query("UPDATE audit_tree SET size = $1 WHERE id = 1 AND size = $2")
            .bind(sequence_bound(to))
            .bind(sequence_bound(from))
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AuditTreeMoved));
        }
        for chunk in nodes.chunks(NODES_PER_QUERY) {
            let mut insert = QueryBuilder::<Postgres>::new("INSERT INTO audit_nodes (level, idx, hash) ");
            insert.push_values(chunk, |mut row, ((level, index), hash)| {
                row.push_bind(i16::from(*level)).push_bind(sequence_bound(*index)).push_bind(hash.to_vec());
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().execute(&mut *tx).await.map_err(postgres_error)?;
        }
        tx.commit().await.map_err(postgres_error)
    }

    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
        after_sequence: Option<u64>,
    ) -> Result<Vec<StoredAuditEntry>> {
        self.audit_entries_in_order(filter, limit, after_sequence.map_or(EntryOrder::Oldest, EntryOrder::After)).await
    }

    async fn audit_entries_newest_first(
        &self,
        filter: &AuditFilter,
        limit: u32,
        before_sequence: Option<u64>,
    ) -> Result<Vec<StoredAuditEntry>> {
        self.audit_entries_in_order(filter, limit, before_sequence.map_or(EntryOrder::Newest, EntryOrder::Before)).await
    }

    async fn prune_audit_bodies(&self, before: DateTime<Utc>) -> Result<u64> {
        // The first pruning of a large log may rightly take long.
        let mut connection = self.unhurried_connection().await?;
        let result = sqlx::query("UPDATE audit_entries SET body = NULL WHERE time < $1 AND body IS NOT NULL")
            .bind(time_to_micros(before))
            .execute(&mut *connection)
            .await
            .map_err(postgres_error)?;
        Ok(result.rows_affected())
    }

    async fn insert_checkpoint(
        &self,
        size: u64,
        root: &[u8],
        signed_note: &str,
        created_at: DateTime<Utc>,
    ) -> Result<()> {
        let size = i64::try_from(size).map_err(|_| StoreError::Conflict(Conflict::CheckpointSize))?;
        sqlx::query("INSERT INTO audit_checkpoints (size, root, signed_note, created_at) VALUES ($1, $2, $3, $4)")
            .bind(size)
            .bind(root)
            .bind(signed_note)
            .bind(time_to_micros(created_at))
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT size, signed_note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(postgres_error)?;
        row.map(|(size, note)| Ok((stored_size("audit_checkpoints.size", size)?, note))).transpose()
    }

    async fn checkpoints(&self) -> Result<Vec<(u64, String)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT size, signed_note FROM audit_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await
            .map_err(postgres_error)?;
        rows.into_iter().map(|(size, note)| Ok((stored_size("audit_checkpoints.size", size)?, note))).collect()
    }

    async fn checkpoint_note(&self, size: u64) -> Result<Option<String>> {
        let size = i64::try_from(size).map_err(|_| StoreError::Conflict(Conflict::CheckpointSize))?;
        sqlx::query_scalar("SELECT signed_note FROM audit_checkpoints WHERE size = $1")
            .bind(size)
            .fetch_optional(&self.pool)
            .await
            .map_err(postgres_error)
    }

    async fn insert_cosignature(&self, size: u64, witness: &str, lines: &str, created_at: DateTime<Utc>) -> Result<()> {
        insert_cosignature_query::<Postgres>(size, witness, lines, created_at)
            .build()
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }

    async fn recent_cosignatures(&self, limit: u32) -> Result<Vec<(u64, String, String)>> {
        let mut query = cosignatures_query::<Postgres>(None, Some(limit));
        cosignature_rows(query.build_query_as().fetch_all(&self.pool).await.map_err(postgres_error)?)
    }

    async fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>> {
        let mut query = cosignatures_query::<Postgres>(Some(size), None);
        let rows = cosignature_rows(query.build_query_as().fetch_all(&self.pool).await.map_err(postgres_error)?)?;
        Ok(rows.into_iter().map(|(_, witness, lines)| (witness, lines)).collect())
    }

    // --- access requests and grants -----------------------------------------

    async fn insert_access_request(&self, request: &AccessRequestRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_requests (id, department, service, reference, created_at, expires_at, status, \
             citizen_id, answered_at, grant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(request.id.as_str())
        .bind(&request.department)
        .bind(&request.service)
        .bind(&request.reference)
        .bind(time_to_micros(request.created_at))
        .bind(time_to_micros(request.expires_at))
        .bind(request.state.as_str())
        .bind(request.citizen_id.as_ref().map(CitizenId::as_str))
        .bind(request.answered_at.map(time_to_micros))
        .bind(request.grant_id.as_ref().map(GrantId::as_str))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(())
    }

    async fn access_request(&self, id: &RequestId) -> Result<Option<AccessRequestRecord>> {
        let id = id.as_str();
        sqlx::query(
            "SELECT id, department, service, reference, created_at, expires_at, status, citizen_id, answered_at, \
             grant_id FROM access_requests WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?
        .map(|row| access_request_from_row(&row))
        .transpose()
    }

    async fn answer_access_request(
        &self,
        id: &RequestId,
        citizen_id: &CitizenId,
        at: DateTime<Utc>,
        grant: Option<&GrantRecord>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(postgres_error)?;
        let state = if grant.is_some() { RequestState::Approved } else { RequestState::Denied };
        let answered = sqlx::query(
            "UPDATE access_requests SET status = $1, citizen_id = $2, answered_at = $3, grant_id = $4 \
             WHERE id = $5 AND status = 'pending' AND expires_at > $6",
        )
        .bind(state.as_str())
        .bind(citizen_id.as_str())
        .bind(time_to_micros(at))
        .bind(grant.map(|grant| grant.id.as_str()))
        .bind(id.as_str())
        .bind(time_to_micros(at))
        .execute(&mut *tx)
        .await
        .map_err(postgres_error)?
        .rows_affected();
        if answered == 0 {
            return Ok(false);
        }
        if let Some(grant) = grant {
            sqlx::query(
                "INSERT INTO grants (id, request_id, citizen_id, department, service, approved_fields, evidence_ids, \
                 created_at, not_before, expires_at, max_uses, uses, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(grant.id.as_str())
            .bind(grant.request_id.as_str())
            .bind(grant.citizen_id.as_str())
            .bind(&grant.department)
            .bind(&grant.service)
            .bind(json_list(&grant.approved_fields))
            .bind(json_list(&grant.evidence_ids.iter().map(EvidenceId::as_str).collect::<Vec<_>>()))
            .bind(time_to_micros(grant.created_at))
            .bind(time_to_micros(grant.not_before))
            .bind(time_to_micros(grant.expires_at))
            .bind(i64::from(grant.max_uses))
            .bind(i64::from(grant.uses))
            .bind(grant.revoked_at.map(time_to_micros))
            .execute(&mut *tx)
            .await
            .map_err(postgres_error)?;
        }
        tx.commit().await.map_err(postgres_error)?;
        Ok(true)
    }

    async fn delete_expired_access_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM access_requests WHERE status = 'pending' AND expires_at < $1")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?
            .rows_affected())
    }

    async fn grant_for_release(&self, id: &GrantId) -> Result<Option<ReleaseGrant>> {
        let id = id.as_str();
        let row = sqlx::query(
            "SELECT g.id, g.request_id, g.citizen_id, g.department, g.service, g.approved_fields, g.evidence_ids, \
             g.created_at, g.not_before, g.expires_at, g.max_uses, g.uses, g.revoked_at, \
             c.wrapped_dek, c.kek_version FROM grants g JOIN citizens c ON c.id = g.citizen_id WHERE g.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?;
        row.map(|row| {
            Ok(ReleaseGrant {
                grant: grant_from_row(&row)?,
                wrapped_dek: row.try_get("wrapped_dek").map_err(driver_error)?,
                kek_version: stored_count("citizens.kek_version", row.try_get("kek_version").map_err(driver_error)?)?,
            })
        })
        .transpose()
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>> {
        let id = id.as_str();
        sqlx::query(
            "SELECT id, request_id, citizen_id, department, service, approved_fields, evidence_ids, created_at, \
             not_before, expires_at, max_uses, uses, revoked_at FROM grants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?
        .map(|row| grant_from_row(&row))
        .transpose()
    }

    async fn grants_of_citizen(&self, citizen_id: &CitizenId) -> Result<Vec<GrantRecord>> {
        sqlx::query(
            "SELECT id, request_id, citizen_id, department, service, approved_fields, evidence_ids, created_at, \
             not_before, expires_at, max_uses, uses, revoked_at FROM grants WHERE citizen_id = $1 \
             ORDER BY created_at DESC, id",
        )
        .bind(citizen_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(postgres_error)?
        .iter()
        .map(grant_from_row)
        .collect()
    }

    async fn revoke_grant(&self, citizen_id: &CitizenId, id: &GrantId, at: DateTime<Utc>) -> Result<bool> {
        let id = id.as_str();
        Ok(sqlx::query("UPDATE grants SET revoked_at = $1 WHERE id = $2 AND citizen_id = $3 AND revoked_at IS NULL")
            .bind(time_to_micros(at))
            .bind(id)
            .bind(citizen_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?
            .rows_affected()
            > 0)
    }

    async fn insert_staff_session(&self, session: &StaffSessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff_sessions \
             (id_hash, staff_id, issuer, idp_session_id, csrf_token, created_at, last_seen_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(session.id_hash.as_slice())
        .bind(session.staff_id.as_str())
        .bind(session.issuer.as_str())
        .bind(session.idp_session_id.as_deref())
        .bind(session.csrf_token.as_str())
        .bind(time_to_micros(session.created_at))
        .bind(time_to_micros(session.last_seen_at))
        .execute(&self.pool)
        .await
        .map_err(postgres_error)?;
        Ok(())
    }

    async fn staff_session(&self, id_hash: &[u8]) -> Result<Option<StaffSessionRecord>> {
        sqlx::query(
            "SELECT id_hash, staff_id, issuer, idp_session_id, csrf_token, created_at, last_seen_at \
             FROM staff_sessions WHERE id_hash = $1",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(postgres_error)?
        .map(|row| staff_session_from_row(&row))
        .transpose()
    }

    async fn touch_staff_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(time_to_micros(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }

    async fn delete_staff_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(postgres_error)?;
        Ok(())
    }
}

/// Mark a pending file of `citizen_id` complete, after checking that its
/// chunks are exactly `0..chunk_count`. Runs inside the evidence transaction.
async fn complete_file(connection: &mut PgConnection, citizen_id: &CitizenId, file: &FileRecord) -> Result<()> {
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
    .map_err(postgres_error)?;
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
    .map_err(postgres_error)?;
    let stored: i64 = row.try_get("stored").map_err(driver_error)?;
    let lowest: i64 = row.try_get("lowest").map_err(driver_error)?;
    let highest: i64 = row.try_get("highest").map_err(driver_error)?;
    // Indexes are unique per file, so count + bounds pin down 0..chunk_count.
    if stored != file.chunk_count || lowest != 0 || highest != file.chunk_count - 1 {
        return Err(StoreError::Conflict(Conflict::FileChunksIncomplete));
    }
    Ok(())
}

/// Map constraint violations to `Conflict` with the constraint's name (all
/// constraints are named in the migrations), everything else as in `driver_error`.
fn postgres_error(error: sqlx::Error) -> StoreError {
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
    .map_err(postgres_error)?;
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
            .map_err(postgres_error)?;
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
    .map_err(postgres_error)?;
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
        .map_err(postgres_error)
}
