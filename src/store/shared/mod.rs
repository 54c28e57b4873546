//! The SQL both engines run alike, written once and compiled for each
//! backend: `sqlite.rs` and `postgres.rs` each declare this file as their
//! module `shared` (`#[path = "shared/mod.rs"]`), so `super` is the backend
//! and every query here is built for its concrete sqlx database, as sqlx's
//! own per-database code is. Placeholders are numbered (`$1`), which both
//! drivers bind by number (sqlx-sqlite reads the number from a `$NNN` name);
//! `ON CONFLICT ... DO NOTHING` and `RETURNING` are the same in both.
//!
//! From its backend this module takes `Backend` (the store type, with a
//! `pool` field), `Db` (its sqlx database), `db_error` (its mapping of sqlx
//! errors, constraint violations to typed conflicts) and an implementation
//! of [`Engine`]: what the engines do differently.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Database, QueryBuilder, Row, Transaction};

use super::{Backend, Db, db_error};
use crate::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};
use crate::store::audit_log::{EntryOrder, NODES_PER_QUERY, checked_leaves, sequence_bound, stored_size};
use crate::store::blobs::BlobDir;
use crate::store::error::driver_error;
use crate::store::records::{json_list, parse_stored_id, time_from_micros, time_to_micros};
use crate::store::{
    AccessRequestRecord, AppendedRow, AuditBatch, AuditFilter, BlockingAudit, CitizenRecord, Conflict, EvidenceRecord,
    EvidenceSummary, FeedbackRecord, FormDraftRecord, GrantRecord, PendingLogin, ReleaseGrant, RequestState, Result,
    SessionRecord, StaffSessionRecord, Store, StoreError, StoredAuditEntry, TreeNode,
};

mod feedback;
mod key_versions;
mod queries;
mod rows;

use queries::complete_file;
pub(super) use queries::ensure_pending_file;

type DbConnection = <Db as Database>::Connection;

/// What each engine does its own way; the `Store` methods of the same name
/// call these.
#[async_trait]
pub(super) trait Engine: Sync {
    /// `SELECT file_id FROM evidence WHERE id = $1 AND citizen_id = $2`,
    /// locking the row until the deleting transaction ends where the engine
    /// locks rows (PostgreSQL: `FOR UPDATE`; SQLite's write transaction holds
    /// the database's write lock already).
    const EVIDENCE_TO_DELETE: &'static str;

    /// A transaction that writes, holding what it needs from the start.
    async fn begin_write(&self) -> Result<Transaction<'static, Db>>;
    /// A transaction whose reads all see one snapshot.
    async fn begin_read(&self) -> Result<Transaction<'static, Db>>;
    /// A pool connection for work that may rightly take long.
    async fn unhurried_connection(&self) -> Result<PoolConnection<Db>>;
    /// Where sealed file chunks live outside the database (SQLite), if they do:
    /// a file's blob goes when its rows go.
    fn blobs(&self) -> Option<&BlobDir>;

    async fn migrate(&self) -> Result<()>;
    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>>;
    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()>;
    async fn file_chunk(&self, file_id: &FileId, index: i64) -> Result<Option<Vec<u8>>>;
    async fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>>;
    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>>;
}

#[async_trait]
impl Store for Backend {
    async fn migrate(&self) -> Result<()> {
        Engine::migrate(self).await
    }

    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>> {
        Engine::blocking_audit(self)
    }

    fn pool_status(&self) -> Option<crate::store::PoolStatus> {
        Some(crate::store::PoolStatus {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        })
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
        .map_err(db_error)?;
        Ok(())
    }

    async fn citizen_by_subject(&self, subject_hash: &[u8]) -> Result<Option<CitizenRecord>> {
        sqlx::query(
            "SELECT id, subject_hash, wrapped_dek, kek_version, created_at FROM citizens WHERE subject_hash = $1",
        )
        .bind(subject_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| rows::citizen(&row))
        .transpose()
    }

    async fn citizen(&self, id: &CitizenId) -> Result<Option<CitizenRecord>> {
        sqlx::query("SELECT id, subject_hash, wrapped_dek, kek_version, created_at FROM citizens WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?
            .map(|row| rows::citizen(&row))
            .transpose()
    }

    async fn delete_citizen(&self, id: &CitizenId) -> Result<bool> {
        // The foreign keys cascade, but the explicit deletes make the order of
        // erasure obvious and keep it complete even on a SQLite connection
        // where foreign_keys were off.
        let mut tx = self.begin_write().await?;
        let files = match self.blobs() {
            Some(_) => sqlx::query_scalar("SELECT id FROM files WHERE citizen_id = $1")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?,
            None => Vec::new(),
        };
        for statement in [
            "DELETE FROM evidence_fields WHERE evidence_id IN (SELECT id FROM evidence WHERE citizen_id = $1)",
            "DELETE FROM evidence WHERE citizen_id = $1",
            "DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE citizen_id = $1)",
            "DELETE FROM files WHERE citizen_id = $1",
            "DELETE FROM sessions WHERE citizen_id = $1",
            "DELETE FROM grants WHERE citizen_id = $1",
            "UPDATE access_requests SET citizen_id = NULL WHERE citizen_id = $1",
        ] {
            sqlx::query(statement).bind(id.as_str()).execute(&mut *tx).await.map_err(db_error)?;
        }
        let deleted = sqlx::query("DELETE FROM citizens WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        tx.commit().await.map_err(db_error)?;
        if let Some(blobs) = self.blobs() {
            blobs.remove(files).await;
        }
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
        .map_err(db_error)?;
        Ok(())
    }

    async fn take_pending_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>> {
        // One statement: a concurrent take waits for the row lock (PostgreSQL)
        // or the write lock (SQLite) and then finds it gone, so exactly one
        // take gets the row.
        sqlx::query(
            "DELETE FROM pending_logins WHERE state_hash = $1 \
             RETURNING state_hash, issuer, nonce, pkce_verifier, requested_level, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| rows::pending_login(&row))
        .transpose()
    }

    async fn delete_pending_logins_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = sqlx::query("DELETE FROM pending_logins WHERE created_at < $1")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    // --- form drafts --------------------------------------------------------

    async fn put_form_draft(&self, draft: &FormDraftRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO form_drafts (id_hash, kek_version, wrapped_key, sealed, created_at) \
             VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id_hash) DO UPDATE SET kek_version = excluded.kek_version, \
             wrapped_key = excluded.wrapped_key, sealed = excluded.sealed, created_at = excluded.created_at",
        )
        .bind(draft.id_hash.as_slice())
        .bind(i64::from(draft.kek_version))
        .bind(draft.wrapped_key.as_slice())
        .bind(draft.sealed.as_slice())
        .bind(time_to_micros(draft.created_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn take_form_draft(&self, id_hash: &[u8]) -> Result<Option<FormDraftRecord>> {
        // One statement, as for pending logins: exactly one take gets it.
        sqlx::query(
            "DELETE FROM form_drafts WHERE id_hash = $1 \
             RETURNING id_hash, kek_version, wrapped_key, sealed, created_at",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| rows::form_draft(&row))
        .transpose()
    }

    async fn delete_form_drafts_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = sqlx::query("DELETE FROM form_drafts WHERE created_at < $1")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
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
        .map_err(db_error)?;
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
        .map_err(db_error)?
        .map(|row| rows::session(&row))
        .transpose()
    }

    async fn touch_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(time_to_micros(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
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
        .map_err(db_error)?;
        ids.iter().map(|id| parse_stored_id("sessions.citizen_id", id)).collect()
    }

    async fn delete_sessions_by_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE issuer = $1 AND idp_session_id = $2")
            .bind(issuer)
            .bind(idp_session_id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    async fn delete_sessions_of_citizen(&self, issuer: &str, citizen_id: &CitizenId) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE issuer = $1 AND citizen_id = $2")
            .bind(issuer)
            .bind(citizen_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
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
        .map_err(db_error)?;
        Ok(result.rows_affected())
    }

    async fn logout_token_seen(&self, issuer: &str, jti: &str) -> Result<bool> {
        let seen = sqlx::query("SELECT 1 FROM logout_tokens WHERE issuer = $1 AND jti = $2")
            .bind(issuer)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
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
        .map_err(db_error)?;
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
            .map_err(db_error)?;
        Ok(())
    }

    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()> {
        Engine::append_file_chunks(self, file_id, chunks).await
    }

    async fn file_chunk(&self, file_id: &FileId, index: i64) -> Result<Option<Vec<u8>>> {
        Engine::file_chunk(self, file_id, index).await
    }

    async fn abort_file(&self, file_id: &FileId) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE id = $1 AND status = 'pending')",
        )
        .bind(file_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        sqlx::query("DELETE FROM files WHERE id = $1 AND status = 'pending'")
            .bind(file_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        if let Some(blobs) = self.blobs()
            && self.file_status(file_id).await?.is_none()
        {
            blobs.remove(vec![file_id.as_str().to_owned()]).await;
        }
        Ok(())
    }

    async fn delete_stale_uploads(&self, before: DateTime<Utc>) -> Result<u64> {
        let cutoff = time_to_micros(before);
        let mut tx = self.begin_write().await?;
        let stale = match self.blobs() {
            Some(_) => sqlx::query_scalar("SELECT id FROM files WHERE status = 'pending' AND started_at < $1")
                .bind(cutoff)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?,
            None => Vec::new(),
        };
        sqlx::query(
            "DELETE FROM file_chunks WHERE file_id IN \
             (SELECT id FROM files WHERE status = 'pending' AND started_at < $1)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        let deleted = sqlx::query("DELETE FROM files WHERE status = 'pending' AND started_at < $1")
            .bind(cutoff)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        tx.commit().await.map_err(db_error)?;
        if let Some(blobs) = self.blobs() {
            blobs.remove(stale).await;
            // Blobs whose rows are gone (a crash between commit and unlink).
            let mut orphans = Vec::new();
            for name in blobs.names_older_than(before.into()).await? {
                if let Ok(id) = name.parse::<FileId>()
                    && self.file_status(&id).await?.is_none()
                {
                    orphans.push(name);
                }
            }
            blobs.remove(orphans).await;
        }
        Ok(deleted)
    }

    // --- evidence -----------------------------------------------------------

    async fn insert_evidence(&self, evidence: &EvidenceRecord) -> Result<()> {
        if let (Some(blobs), Some(file)) = (self.blobs(), &evidence.file) {
            // The sealed bytes must be on disk before the row says "complete".
            blobs.sync(&file.id).await?;
        }
        let mut tx = self.begin_write().await?;
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
        .map_err(db_error)?;
        if !evidence.fields.is_empty() {
            let mut insert =
                QueryBuilder::<Db>::new("INSERT INTO evidence_fields (evidence_id, name, position, ciphertext) ");
            let mut position: i64 = 0;
            insert.push_values(&evidence.fields, |mut row, field| {
                row.push_bind(evidence.id.as_str())
                    .push_bind(field.name.as_str())
                    .push_bind(position)
                    .push_bind(field.ciphertext.as_slice());
                position += 1;
            });
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
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
        .map_err(db_error)?;
        rows.iter().map(rows::evidence_summary).collect()
    }

    async fn evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> Result<Option<EvidenceRecord>> {
        // One read transaction: both queries read the same snapshot.
        let mut tx = self.begin_read().await?;
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
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let field_rows =
            sqlx::query("SELECT name, ciphertext FROM evidence_fields WHERE evidence_id = $1 ORDER BY position, name")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        let fields = field_rows.iter().map(rows::sealed_field).collect::<Result<Vec<_>>>()?;
        rows::evidence(&row, fields).map(Some)
    }

    async fn delete_evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(Self::EVIDENCE_TO_DELETE)
            .bind(id.as_str())
            .bind(citizen_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let file_id: Option<String> = row.try_get("file_id").map_err(driver_error)?;
        sqlx::query("DELETE FROM evidence_fields WHERE evidence_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query("DELETE FROM evidence WHERE id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if let Some(file_id) = &file_id {
            sqlx::query("DELETE FROM file_chunks WHERE file_id = $1")
                .bind(file_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            sqlx::query("DELETE FROM files WHERE id = $1")
                .bind(file_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        if let (Some(blobs), Some(file_id)) = (self.blobs(), file_id) {
            blobs.remove(vec![file_id]).await;
        }
        Ok(true)
    }

    // --- audit log ----------------------------------------------------------

    async fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>> {
        Engine::append_audit(self, batch).await
    }

    async fn audit_size(&self) -> Result<u64> {
        let last_sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        stored_size("audit_head.last_sequence", last_sequence.saturating_add(1))
    }

    async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>> {
        // One snapshot for the size and the leaves.
        let mut tx = self.begin_read().await?;
        let last_sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let size = stored_size("audit_head.last_sequence", last_sequence.saturating_add(1))?;
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT sequence, leaf_hash FROM audit_entries WHERE sequence >= $1 AND sequence < $2 ORDER BY sequence",
        )
        .bind(sequence_bound(from))
        .bind(sequence_bound(to.min(size)))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        checked_leaves(from, to, size, rows)
    }

    async fn audit_tree_size(&self) -> Result<u64> {
        let size: i64 = sqlx::query_scalar("SELECT size FROM audit_tree WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        stored_size("audit_tree.size", size)
    }

    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>> {
        Engine::audit_nodes(self, nodes).await
    }

    async fn extend_audit_tree(&self, from: u64, to: u64, nodes: &[(TreeNode, [u8; 32])]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let moved = sqlx::query("UPDATE audit_tree SET size = $1 WHERE id = 1 AND size = $2")
            .bind(sequence_bound(to))
            .bind(sequence_bound(from))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AuditTreeMoved));
        }
        for chunk in nodes.chunks(NODES_PER_QUERY) {
            let mut insert = QueryBuilder::<Db>::new("INSERT INTO audit_nodes (level, idx, hash) ");
            insert.push_values(chunk, |mut row, ((level, index), hash)| {
                row.push_bind(i16::from(*level)).push_bind(sequence_bound(*index)).push_bind(hash.to_vec());
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().execute(&mut *tx).await.map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)
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
            .map_err(db_error)?;
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
            .map_err(db_error)?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT size, signed_note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        row.map(|(size, note)| Ok((stored_size("audit_checkpoints.size", size)?, note))).transpose()
    }

    async fn checkpoint_after(&self, size: u64) -> Result<Option<(u64, DateTime<Utc>)>> {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT size, created_at FROM audit_checkpoints WHERE size > $1 ORDER BY size LIMIT 1")
                .bind(size)
                .fetch_optional(&self.pool)
                .await
                .map_err(db_error)?;
        row.map(|(size, created_at)| {
            Ok((
                stored_size("audit_checkpoints.size", size)?,
                time_from_micros("audit_checkpoints.created_at", created_at)?,
            ))
        })
        .transpose()
    }

    async fn audit_entry_time(&self, sequence: u64) -> Result<Option<DateTime<Utc>>> {
        let Ok(sequence) = i64::try_from(sequence) else {
            return Ok(None);
        };
        let time: Option<i64> = sqlx::query_scalar("SELECT time FROM audit_entries WHERE sequence = $1")
            .bind(sequence)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)?;
        time.map(|time| time_from_micros("audit_entries.time", time)).transpose()
    }

    async fn checkpoints(&self) -> Result<Vec<(u64, String)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT size, signed_note FROM audit_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter().map(|(size, note)| Ok((stored_size("audit_checkpoints.size", size)?, note))).collect()
    }

    async fn checkpoint_note(&self, size: u64) -> Result<Option<String>> {
        let size = i64::try_from(size).map_err(|_| StoreError::Conflict(Conflict::CheckpointSize))?;
        sqlx::query_scalar("SELECT signed_note FROM audit_checkpoints WHERE size = $1")
            .bind(size)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    async fn insert_cosignature(&self, size: u64, witness: &str, lines: &str, created_at: DateTime<Utc>) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_cosignatures (size, witness, lines, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (size, witness) DO NOTHING",
        )
        .bind(sequence_bound(size))
        .bind(witness)
        .bind(lines)
        .bind(time_to_micros(created_at))
        .execute(&self.pool)
        .await
        .map_err(db_error)?;
        Ok(())
    }

    async fn recent_cosignatures(&self, limit: u32) -> Result<Vec<(u64, String, String)>> {
        let rows: Vec<(i64, String, String)> =
            sqlx::query_as("SELECT size, witness, lines FROM audit_cosignatures ORDER BY size DESC, witness LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        rows.into_iter()
            .map(|(size, witness, lines)| Ok((stored_size("audit_cosignatures.size", size)?, witness, lines)))
            .collect()
    }

    async fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>> {
        sqlx::query_as("SELECT witness, lines FROM audit_cosignatures WHERE size = $1 ORDER BY witness")
            .bind(sequence_bound(size))
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
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
        .map_err(db_error)?;
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
        .map_err(db_error)?
        .map(|row| rows::access_request(&row))
        .transpose()
    }

    async fn answer_access_request(
        &self,
        id: &RequestId,
        citizen_id: &CitizenId,
        at: DateTime<Utc>,
        grant: Option<&GrantRecord>,
    ) -> Result<bool> {
        let mut tx = self.begin_write().await?;
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
        .map_err(db_error)?
        .rows_affected();
        if answered == 0 {
            return Ok(false);
        }
        if let Some(grant) = grant {
            sqlx::query(
                "INSERT INTO grants (id, request_id, citizen_id, department, service, approved_fields, evidence_ids, \
                 created_at, not_before, expires_at, max_uses, uses, revoked_at, without_files) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
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
            .bind(grant.without_files)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(true)
    }

    async fn delete_expired_access_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM access_requests WHERE status = 'pending' AND expires_at < $1")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(db_error)?
            .rows_affected())
    }

    async fn grant_for_release(&self, id: &GrantId) -> Result<Option<ReleaseGrant>> {
        let id = id.as_str();
        let row = sqlx::query(
            "SELECT g.id, g.request_id, g.citizen_id, g.department, g.service, g.approved_fields, g.evidence_ids, \
             g.created_at, g.not_before, g.expires_at, g.max_uses, g.uses, g.revoked_at, g.without_files, \
             c.wrapped_dek, c.kek_version FROM grants g JOIN citizens c ON c.id = g.citizen_id WHERE g.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| rows::release_grant(&row)).transpose()
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>> {
        let id = id.as_str();
        sqlx::query(
            "SELECT id, request_id, citizen_id, department, service, approved_fields, evidence_ids, created_at, \
             not_before, expires_at, max_uses, uses, revoked_at, without_files FROM grants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?
        .map(|row| rows::grant(&row))
        .transpose()
    }

    async fn grants_of_citizen(&self, citizen_id: &CitizenId) -> Result<Vec<GrantRecord>> {
        sqlx::query(
            "SELECT id, request_id, citizen_id, department, service, approved_fields, evidence_ids, created_at, \
             not_before, expires_at, max_uses, uses, revoked_at, without_files FROM grants WHERE citizen_id = $1 \
             ORDER BY created_at DESC, id",
        )
        .bind(citizen_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?
        .iter()
        .map(rows::grant)
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
            .map_err(db_error)?
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
        .map_err(db_error)?;
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
        .map_err(db_error)?
        .map(|row| rows::staff_session(&row))
        .transpose()
    }

    async fn touch_staff_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE staff_sessions SET last_seen_at = $1 WHERE id_hash = $2")
            .bind(time_to_micros(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn delete_staff_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    // --- accessibility feedback ---------------------------------------------

    async fn insert_feedback(&self, record: &FeedbackRecord) -> Result<i64> {
        feedback::insert(&self.pool, record).await
    }

    async fn feedback_newest_first(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<FeedbackRecord>> {
        feedback::newest_first(&self.pool, limit, before_id).await
    }

    // --- KEK rotation -------------------------------------------------------

    async fn kek_versions_in_use(&self) -> Result<std::collections::BTreeMap<u32, u64>> {
        key_versions::versions_in_use(&self.pool).await
    }

    async fn wrapped_keys_not_under(
        &self,
        table: crate::store::WrappedKeyTable,
        version: u32,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Vec<crate::store::WrappedKeyRecord>> {
        key_versions::not_under(&self.pool, table, version, after, limit).await
    }

    async fn rewrap_keys(&self, rewraps: &[crate::store::KeyRewrap]) -> Result<u64> {
        if rewraps.is_empty() {
            return Ok(0);
        }
        key_versions::rewrap(self.begin_write().await?, rewraps).await
    }
}
