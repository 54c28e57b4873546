//! SQLite implementation of `Store`: one database file in WAL mode, the
//! embedded default. Schema in `migrations/sqlite`; keep it equivalent to the
//! PostgreSQL one (same version numbers, same constraint names).

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};

use super::blobs::BlobDir;
use super::{
    AccessRequestRecord, AppendedRow, AuditBatch, BlockingAudit, GrantRecord, ReleaseGrant, RequestState,
    access_request_from_row, evidence_from_row, grant_from_row, json_list, stored_count,
};
use super::{AuditFilter, Conflict, StoredAuditEntry, checked_leaves, sequence_bound, stored_size};
use super::{
    CitizenRecord, EvidenceRecord, EvidenceSummary, FileRecord, PendingLogin, Result, SealedField, SessionRecord,
    StaffSessionRecord, Store, StoreError, StoreOptions, driver_error, parse_stored_id, time_from_micros,
    time_to_micros,
};
use super::{EntryOrder, NODES_PER_QUERY, TreeNode, audit_entries_query};
use super::{
    citizen_from_row, pending_login_from_row, session_from_row, staff_session_from_row, stored_audit_entry_from_row,
};
use super::{cosignature_rows, cosignatures_query, insert_cosignature_query};
use crate::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};

/// Rows per multi-row chunk-index INSERT: 4 bind parameters each stays far
/// below SQLite's 32766-parameter limit.
const CHUNK_ROWS_PER_STATEMENT: usize = 1024;

/// Write transactions take the write lock up front. A deferred transaction
/// that reads first and writes later can fail with SQLITE_BUSY immediately
/// (the busy timeout does not apply to a lock upgrade in WAL mode).
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

pub(crate) mod audit;

pub use audit::{SqliteAudit, SqliteTreeReader};

pub struct SqliteStore {
    pool: SqlitePool,
    /// The audit group commit's own blocking connection (see `audit`).
    audit: Arc<SqliteAudit>,
    /// Tree node reads for proofs, on a blocking connection of their own.
    tree: Arc<SqliteTreeReader>,
    /// Sealed file chunks, one file per upload, beside the database.
    blobs: BlobDir,
    /// For `sqlite::memory:`: the throwaway directory holding the database
    /// and its blobs, removed when the store is dropped.
    _throwaway: Option<tempfile::TempDir>,
}

impl SqliteStore {
    /// The audit entries matching `filter` in the given order (see
    /// `Store::audit_entries` and `Store::audit_entries_newest_first`).
    async fn audit_entries_in_order(
        &self,
        filter: &AuditFilter,
        limit: u32,
        order: EntryOrder,
    ) -> Result<Vec<StoredAuditEntry>> {
        let mut query = audit_entries_query::<Sqlite>(filter, limit, order);
        let rows = query.build().fetch_all(&self.pool).await.map_err(sqlite_error)?;
        rows.iter().map(stored_audit_entry_from_row).collect()
    }

    /// Connect to `sqlite://path` (the file is created if missing) or
    /// `sqlite::memory:` (a private throwaway database for tests: a fresh
    /// file in a temporary directory, removed when the store is dropped; a
    /// file because the audit connection and the pool must share it).
    ///
    /// Durability: WAL with `synchronous = FULL`. NORMAL would be consistent
    /// after a crash but may lose the last commits on power loss; a vault
    /// that has told a citizen "stored" must not forget it, and the extra
    /// fsync per commit is cheap next to the Argon2 and upload work.
    ///
    /// With the default [`StoreOptions`]; see [`SqliteStore::connect_with`].
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, StoreOptions::default()).await
    }

    /// [`SqliteStore::connect`] with the store's patience: a write waits at
    /// most `options.timeout` for another connection's lock (the busy
    /// timeout, on the pool and the audit connection alike; another process
    /// may hold it) and a call at most as long for a pool connection; then it
    /// fails with SQLITE_BUSY or a pool timeout ([`StoreError::is_unavailable`]).
    pub async fn connect_with(url: &str, store_options: StoreOptions) -> Result<Self> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let (url, throwaway) = if in_memory {
            let directory = tempfile::Builder::new()
                .prefix("tresor-memory-")
                .tempdir()
                .map_err(|error| StoreError::Corrupt(format!("temporary database directory: {error}")))?;
            (format!("sqlite://{}", directory.path().join("tresor.sqlite").display()), Some(directory))
        } else {
            (url.to_owned(), None)
        };
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(driver_error)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(store_options.timeout)
            // Batched statements have one text per batch size; keep them
            // all prepared instead of re-preparing.
            .statement_cache_capacity(4096)
            // Erased citizens' wrapped keys and sealed data are overwritten
            // with zeros instead of lingering in free pages.
            .pragma("secure_delete", "ON");
        let mut blob_dir = options.get_filename().as_os_str().to_owned();
        blob_dir.push(".blobs");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(store_options.timeout)
            .connect_with(options.clone())
            .await
            .map_err(sqlite_error)?;
        let audit = SqliteAudit::open(options.get_filename(), store_options.timeout)?;
        let tree = SqliteTreeReader::open(options.get_filename(), store_options.timeout)?;
        Ok(Self {
            pool,
            audit: Arc::new(audit),
            tree: Arc::new(tree),
            blobs: BlobDir::open(std::path::PathBuf::from(blob_dir))?,
            _throwaway: throwaway,
        })
    }
}

impl SqliteStore {
    /// The status of a file row (`pending`/`complete`), None if there is none.
    async fn file_status(&self, file_id: &FileId) -> Result<Option<String>> {
        sqlx::query_scalar("SELECT status FROM files WHERE id = ?")
            .bind(file_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlite_error)
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>> {
        Some(self.audit.clone())
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    // --- citizens -----------------------------------------------------------

    async fn insert_citizen(&self, citizen: &CitizenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO citizens (id, subject_hash, wrapped_dek, kek_version, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(citizen.id.as_str())
        .bind(citizen.subject_hash.as_slice())
        .bind(citizen.wrapped_dek.as_slice())
        .bind(i64::from(citizen.kek_version))
        .bind(time_to_micros(citizen.created_at))
        .execute(&self.pool)
        .await
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn citizen_by_subject(&self, subject_hash: &[u8]) -> Result<Option<CitizenRecord>> {
        sqlx::query(
            "SELECT id, subject_hash, wrapped_dek, kek_version, created_at FROM citizens WHERE subject_hash = ?",
        )
        .bind(subject_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?
        .map(|row| citizen_from_row(&row))
        .transpose()
    }

    async fn citizen(&self, id: &CitizenId) -> Result<Option<CitizenRecord>> {
        sqlx::query("SELECT id, subject_hash, wrapped_dek, kek_version, created_at FROM citizens WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlite_error)?
            .map(|row| citizen_from_row(&row))
            .transpose()
    }

    async fn delete_citizen(&self, id: &CitizenId) -> Result<bool> {
        // The foreign keys cascade, but the explicit deletes keep erasure
        // complete even on a connection where foreign_keys were off.
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        let files: Vec<String> = sqlx::query_scalar("SELECT id FROM files WHERE citizen_id = ?")
            .bind(id.as_str())
            .fetch_all(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        for statement in [
            "DELETE FROM evidence_fields WHERE evidence_id IN (SELECT id FROM evidence WHERE citizen_id = ?)",
            "DELETE FROM evidence WHERE citizen_id = ?",
            "DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE citizen_id = ?)",
            "DELETE FROM files WHERE citizen_id = ?",
            "DELETE FROM sessions WHERE citizen_id = ?",
            "DELETE FROM grants WHERE citizen_id = ?",
            "UPDATE access_requests SET citizen_id = NULL WHERE citizen_id = ?",
        ] {
            sqlx::query(statement).bind(id.as_str()).execute(&mut *tx).await.map_err(sqlite_error)?;
        }
        let deleted = sqlx::query("DELETE FROM citizens WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?
            .rows_affected();
        tx.commit().await.map_err(sqlite_error)?;
        self.blobs.remove(files).await;
        Ok(deleted > 0)
    }

    // --- login state --------------------------------------------------------

    async fn insert_pending_login(&self, pending: &PendingLogin) -> Result<()> {
        sqlx::query(
            "INSERT INTO pending_logins (state_hash, issuer, nonce, pkce_verifier, requested_level, return_to, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn take_pending_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>> {
        // One statement: SQLite serialises writers, so of two concurrent
        // takes exactly one deletes (and gets) the row.
        sqlx::query(
            "DELETE FROM pending_logins WHERE state_hash = ? \
             RETURNING state_hash, issuer, nonce, pkce_verifier, requested_level, return_to, created_at",
        )
        .bind(state_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?
        .map(|row| pending_login_from_row(&row))
        .transpose()
    }

    async fn delete_pending_logins_before(&self, before: DateTime<Utc>) -> Result<u64> {
        let result = sqlx::query("DELETE FROM pending_logins WHERE created_at < ?")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(result.rows_affected())
    }

    // --- sessions -----------------------------------------------------------

    async fn insert_session(&self, session: &SessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions \
             (id_hash, citizen_id, issuer, login_level, idp_session_id, csrf_token, created_at, last_seen_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>> {
        sqlx::query(
            "SELECT id_hash, citizen_id, issuer, login_level, idp_session_id, csrf_token, created_at, last_seen_at \
             FROM sessions WHERE id_hash = ?",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?
        .map(|row| session_from_row(&row))
        .transpose()
    }

    async fn touch_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?")
            .bind(time_to_micros(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn citizens_with_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<Vec<CitizenId>> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT citizen_id FROM sessions WHERE issuer = ? AND idp_session_id = ? ORDER BY citizen_id",
        )
        .bind(issuer)
        .bind(idp_session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(sqlite_error)?;
        ids.iter().map(|id| parse_stored_id("sessions.citizen_id", id)).collect()
    }

    async fn delete_sessions_by_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE issuer = ? AND idp_session_id = ?")
            .bind(issuer)
            .bind(idp_session_id)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(result.rows_affected())
    }

    async fn delete_sessions_of_citizen(&self, issuer: &str, citizen_id: &CitizenId) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE issuer = ? AND citizen_id = ?")
            .bind(issuer)
            .bind(citizen_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(result.rows_affected())
    }

    async fn keep_newest_sessions(&self, citizen_id: &CitizenId, newest: &[u8], keep: u32) -> Result<u64> {
        let result = sqlx::query(
            "DELETE FROM sessions WHERE citizen_id = ? AND id_hash <> ? AND id_hash NOT IN \
             (SELECT id_hash FROM sessions WHERE citizen_id = ? AND id_hash <> ? \
              ORDER BY created_at DESC, last_seen_at DESC, id_hash LIMIT ?)",
        )
        .bind(citizen_id.as_str())
        .bind(newest)
        .bind(citizen_id.as_str())
        .bind(newest)
        .bind(i64::from(keep.saturating_sub(1)))
        .execute(&self.pool)
        .await
        .map_err(sqlite_error)?;
        Ok(result.rows_affected())
    }

    async fn logout_token_seen(&self, issuer: &str, jti: &str) -> Result<bool> {
        let seen: Option<i64> = sqlx::query_scalar("SELECT 1 FROM logout_tokens WHERE issuer = ? AND jti = ?")
            .bind(issuer)
            .bind(jti)
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(seen.is_some())
    }

    async fn remember_logout_token(&self, issuer: &str, jti: &str, expires_at: DateTime<Utc>) -> Result<bool> {
        let result = sqlx::query(
            "INSERT INTO logout_tokens (issuer, jti, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (issuer, jti) DO NOTHING",
        )
        .bind(issuer)
        .bind(jti)
        .bind(time_to_micros(expires_at))
        .execute(&self.pool)
        .await
        .map_err(sqlite_error)?;
        Ok(result.rows_affected() == 1)
    }

    // --- files --------------------------------------------------------------

    async fn begin_file(&self, file_id: &FileId, citizen_id: &CitizenId, started_at: DateTime<Utc>) -> Result<()> {
        sqlx::query("INSERT INTO files (id, citizen_id, status, started_at) VALUES (?, ?, 'pending', ?)")
            .bind(file_id.as_str())
            .bind(citizen_id.as_str())
            .bind(time_to_micros(started_at))
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        let pending = sqlx::query("SELECT 1 FROM files WHERE id = ? AND status = 'pending'")
            .bind(file_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        if pending.is_none() {
            return Err(StoreError::Conflict(Conflict::FileNotPending));
        }
        // Appends to one file are serialised by the write transaction, so the
        // end of the indexed bytes is where this batch goes.
        let end: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(blob_offset + sealed_length), 0) FROM file_chunks WHERE file_id = ?",
        )
        .bind(file_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        let mut offsets = Vec::with_capacity(chunks.len());
        let mut bytes = Vec::with_capacity(chunks.iter().map(|(_, c)| c.len()).sum());
        let mut offset = end;
        for (index, ciphertext) in chunks {
            let length = i64::try_from(ciphertext.len()).map_err(|_| StoreError::Corrupt("chunk too large".into()))?;
            offsets.push((*index, offset, length));
            bytes.extend_from_slice(ciphertext);
            offset += length;
        }
        let start = u64::try_from(end).map_err(|_| StoreError::Corrupt("negative blob offset".into()))?;
        self.blobs.write_at(file_id, start, bytes).await?;
        let indexed = async {
            for batch in offsets.chunks(CHUNK_ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<Sqlite>::new(
                    "INSERT INTO file_chunks (file_id, chunk_index, blob_offset, sealed_length) ",
                );
                insert.push_values(batch, |mut row, (index, offset, length)| {
                    row.push_bind(file_id.as_str()).push_bind(*index).push_bind(*offset).push_bind(*length);
                });
                insert.build().execute(&mut *tx).await.map_err(sqlite_error)?;
            }
            tx.commit().await.map_err(sqlite_error)
        }
        .await;
        if indexed.is_err() {
            // Unindexed bytes are unreachable anyway; cut them off so the
            // blob stays exactly what the index describes.
            let _ = self.blobs.truncate(file_id, start).await;
        }
        indexed
    }

    async fn file_chunk(&self, file_id: &FileId, index: i64) -> Result<Option<Vec<u8>>> {
        let row = sqlx::query(
            "SELECT c.blob_offset, c.sealed_length FROM file_chunks c JOIN files f ON f.id = c.file_id \
             WHERE c.file_id = ? AND c.chunk_index = ? AND f.status = 'complete'",
        )
        .bind(file_id.as_str())
        .bind(index)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let offset: i64 = row.try_get("blob_offset").map_err(driver_error)?;
        let length: i64 = row.try_get("sealed_length").map_err(driver_error)?;
        let offset = u64::try_from(offset).map_err(|_| StoreError::Corrupt("negative blob offset".into()))?;
        let length = usize::try_from(length).map_err(|_| StoreError::Corrupt("negative chunk length".into()))?;
        self.blobs.read_at(file_id, offset, length).await.map(Some)
    }

    async fn abort_file(&self, file_id: &FileId) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        sqlx::query(
            "DELETE FROM file_chunks WHERE file_id IN (SELECT id FROM files WHERE id = ? AND status = 'pending')",
        )
        .bind(file_id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        sqlx::query("DELETE FROM files WHERE id = ? AND status = 'pending'")
            .bind(file_id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        tx.commit().await.map_err(sqlite_error)?;
        if self.file_status(file_id).await?.is_none() {
            self.blobs.remove(vec![file_id.as_str().to_owned()]).await;
        }
        Ok(())
    }

    async fn delete_stale_uploads(&self, before: DateTime<Utc>) -> Result<u64> {
        let cutoff = time_to_micros(before);
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        let stale: Vec<String> = sqlx::query_scalar("SELECT id FROM files WHERE status = 'pending' AND started_at < ?")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        sqlx::query(
            "DELETE FROM file_chunks WHERE file_id IN \
             (SELECT id FROM files WHERE status = 'pending' AND started_at < ?)",
        )
        .bind(cutoff)
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        let deleted = sqlx::query("DELETE FROM files WHERE status = 'pending' AND started_at < ?")
            .bind(cutoff)
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?
            .rows_affected();
        tx.commit().await.map_err(sqlite_error)?;
        self.blobs.remove(stale).await;
        // Blobs whose rows are gone (a crash between commit and unlink).
        let mut orphans = Vec::new();
        for name in self.blobs.names_older_than(before.into()).await? {
            if let Ok(id) = name.parse::<FileId>()
                && self.file_status(&id).await?.is_none()
            {
                orphans.push(name);
            }
        }
        self.blobs.remove(orphans).await;
        Ok(deleted)
    }

    // --- evidence -----------------------------------------------------------

    async fn insert_evidence(&self, evidence: &EvidenceRecord) -> Result<()> {
        if let Some(file) = &evidence.file {
            // The sealed bytes must be on disk before the row says "complete".
            self.blobs.sync(&file.id).await?;
        }
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        if let Some(file) = &evidence.file {
            complete_file(&mut tx, &evidence.citizen_id, file).await?;
        }
        sqlx::query(
            "INSERT INTO evidence (id, citizen_id, type_id, type_version, created_at, file_id) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(evidence.id.as_str())
        .bind(evidence.citizen_id.as_str())
        .bind(evidence.type_id.as_str())
        .bind(evidence.type_version)
        .bind(time_to_micros(evidence.created_at))
        .bind(evidence.file.as_ref().map(|file| file.id.as_str()))
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        if !evidence.fields.is_empty() {
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT INTO evidence_fields (evidence_id, name, position, ciphertext) ");
            let mut position: i64 = 0;
            insert.push_values(&evidence.fields, |mut row, field| {
                row.push_bind(evidence.id.as_str())
                    .push_bind(field.name.as_str())
                    .push_bind(position)
                    .push_bind(field.ciphertext.as_slice());
                position += 1;
            });
            insert.build().execute(&mut *tx).await.map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(())
    }

    async fn list_evidence(&self, citizen_id: &CitizenId) -> Result<Vec<EvidenceSummary>> {
        let rows = sqlx::query(
            "SELECT id, type_id, created_at, file_id IS NOT NULL AS has_file FROM evidence \
             WHERE citizen_id = ? ORDER BY created_at DESC, id DESC",
        )
        .bind(citizen_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(sqlite_error)?;
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
        // A read transaction gives both queries the same snapshot.
        let mut tx = self.pool.begin().await.map_err(sqlite_error)?;
        let row = sqlx::query(
            "SELECT e.id, e.citizen_id, e.type_id, e.type_version, e.created_at, e.file_id, \
                    f.status, f.media_type, f.plaintext_size, f.chunk_count, f.sealed_name \
             FROM evidence e LEFT JOIN files f ON f.id = e.file_id \
             WHERE e.id = ? AND e.citizen_id = ?",
        )
        .bind(id.as_str())
        .bind(citizen_id.as_str())
        .fetch_optional(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let field_rows =
            sqlx::query("SELECT name, ciphertext FROM evidence_fields WHERE evidence_id = ? ORDER BY position, name")
                .bind(id.as_str())
                .fetch_all(&mut *tx)
                .await
                .map_err(sqlite_error)?;
        tx.commit().await.map_err(sqlite_error)?;
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        let row = sqlx::query("SELECT file_id FROM evidence WHERE id = ? AND citizen_id = ?")
            .bind(id.as_str())
            .bind(citizen_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let file_id: Option<String> = row.try_get("file_id").map_err(driver_error)?;
        sqlx::query("DELETE FROM evidence_fields WHERE evidence_id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        sqlx::query("DELETE FROM evidence WHERE id = ?")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        if let Some(file_id) = &file_id {
            sqlx::query("DELETE FROM file_chunks WHERE file_id = ?")
                .bind(file_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(sqlite_error)?;
            sqlx::query("DELETE FROM files WHERE id = ?")
                .bind(file_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        if let Some(file_id) = file_id {
            self.blobs.remove(vec![file_id]).await;
        }
        Ok(true)
    }

    // --- audit log ----------------------------------------------------------

    async fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>> {
        // Blocking work on a borrowed batch. The audit writer calls
        // `blocking_audit` on a thread of its own; this path serves direct
        // callers (tools, tests). On a multi-threaded runtime the worker
        // hands its other tasks over first.
        let append = || self.audit.append_audit(batch);
        match tokio::runtime::Handle::try_current().map(|handle| handle.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(append),
            _ => append(),
        }
    }

    async fn audit_size(&self) -> Result<u64> {
        let last_sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(sqlite_error)?;
        stored_size("audit_head.last_sequence", last_sequence.saturating_add(1))
    }

    async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>> {
        // One read transaction: the size and the leaves come from the same snapshot.
        let mut tx = self.pool.begin().await.map_err(sqlite_error)?;
        let last_sequence: i64 = sqlx::query_scalar("SELECT last_sequence FROM audit_head WHERE id = 1")
            .fetch_one(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        let size = stored_size("audit_head.last_sequence", last_sequence.saturating_add(1))?;
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT sequence, leaf_hash FROM audit_entries WHERE sequence >= ? AND sequence < ? ORDER BY sequence",
        )
        .bind(sequence_bound(from))
        .bind(sequence_bound(to.min(size)))
        .fetch_all(&mut *tx)
        .await
        .map_err(sqlite_error)?;
        tx.commit().await.map_err(sqlite_error)?;
        checked_leaves(from, to, size, rows)
    }

    async fn audit_tree_size(&self) -> Result<u64> {
        let size: i64 = sqlx::query_scalar("SELECT size FROM audit_tree WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(sqlite_error)?;
        stored_size("audit_tree.size", size)
    }

    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>> {
        let reader = self.tree.clone();
        let nodes = nodes.to_vec();
        tokio::task::spawn_blocking(move || reader.nodes(&nodes))
            .await
            .map_err(|error| StoreError::Corrupt(format!("tree read stopped: {error}")))?
    }

    async fn extend_audit_tree(&self, from: u64, to: u64, nodes: &[(TreeNode, [u8; 32])]) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        let moved = sqlx::query("UPDATE audit_tree SET size = ? WHERE id = 1 AND size = ?")
            .bind(sequence_bound(to))
            .bind(sequence_bound(from))
            .execute(&mut *tx)
            .await
            .map_err(sqlite_error)?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Conflict(Conflict::AuditTreeMoved));
        }
        for chunk in nodes.chunks(NODES_PER_QUERY) {
            let mut insert = QueryBuilder::<Sqlite>::new("INSERT INTO audit_nodes (level, idx, hash) ");
            insert.push_values(chunk, |mut row, ((level, index), hash)| {
                row.push_bind(i64::from(*level)).push_bind(sequence_bound(*index)).push_bind(hash.to_vec());
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().execute(&mut *tx).await.map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)
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
        let result = sqlx::query("UPDATE audit_entries SET body = NULL WHERE time < ? AND body IS NOT NULL")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
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
        sqlx::query("INSERT INTO audit_checkpoints (size, root, signed_note, created_at) VALUES (?, ?, ?, ?)")
            .bind(size)
            .bind(root)
            .bind(signed_note)
            .bind(time_to_micros(created_at))
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT size, signed_note FROM audit_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(sqlite_error)?;
        row.map(|(size, note)| Ok((stored_size("audit_checkpoints.size", size)?, note))).transpose()
    }

    async fn checkpoints(&self) -> Result<Vec<(u64, String)>> {
        let rows: Vec<(i64, String)> = sqlx::query_as("SELECT size, signed_note FROM audit_checkpoints ORDER BY size")
            .fetch_all(&self.pool)
            .await
            .map_err(sqlite_error)?;
        rows.into_iter().map(|(size, note)| Ok((stored_size("audit_checkpoints.size", size)?, note))).collect()
    }

    async fn checkpoint_note(&self, size: u64) -> Result<Option<String>> {
        let size = i64::try_from(size).map_err(|_| StoreError::Conflict(Conflict::CheckpointSize))?;
        sqlx::query_scalar("SELECT signed_note FROM audit_checkpoints WHERE size = ?")
            .bind(size)
            .fetch_optional(&self.pool)
            .await
            .map_err(sqlite_error)
    }

    async fn insert_cosignature(&self, size: u64, witness: &str, lines: &str, created_at: DateTime<Utc>) -> Result<()> {
        insert_cosignature_query::<Sqlite>(size, witness, lines, created_at)
            .build()
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn recent_cosignatures(&self, limit: u32) -> Result<Vec<(u64, String, String)>> {
        let mut query = cosignatures_query::<Sqlite>(None, Some(limit));
        cosignature_rows(query.build_query_as().fetch_all(&self.pool).await.map_err(sqlite_error)?)
    }

    async fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>> {
        let mut query = cosignatures_query::<Sqlite>(Some(size), None);
        let rows = cosignature_rows(query.build_query_as().fetch_all(&self.pool).await.map_err(sqlite_error)?)?;
        Ok(rows.into_iter().map(|(_, witness, lines)| (witness, lines)).collect())
    }

    // --- access requests and grants -----------------------------------------

    async fn insert_access_request(&self, request: &AccessRequestRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO access_requests (id, department, service, reference, created_at, expires_at, status, \
             citizen_id, answered_at, grant_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn access_request(&self, id: &RequestId) -> Result<Option<AccessRequestRecord>> {
        let id = id.as_str();
        sqlx::query(
            "SELECT id, department, service, reference, created_at, expires_at, status, citizen_id, answered_at, \
             grant_id FROM access_requests WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?
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
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(sqlite_error)?;
        let state = if grant.is_some() { RequestState::Approved } else { RequestState::Denied };
        let answered = sqlx::query(
            "UPDATE access_requests SET status = ?, citizen_id = ?, answered_at = ?, grant_id = ? \
             WHERE id = ? AND status = 'pending' AND expires_at > ?",
        )
        .bind(state.as_str())
        .bind(citizen_id.as_str())
        .bind(time_to_micros(at))
        .bind(grant.map(|grant| grant.id.as_str()))
        .bind(id.as_str())
        .bind(time_to_micros(at))
        .execute(&mut *tx)
        .await
        .map_err(sqlite_error)?
        .rows_affected();
        if answered == 0 {
            return Ok(false);
        }
        if let Some(grant) = grant {
            sqlx::query(
                "INSERT INTO grants (id, request_id, citizen_id, department, service, approved_fields, evidence_ids, \
                 created_at, not_before, expires_at, max_uses, uses, revoked_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            .map_err(sqlite_error)?;
        }
        tx.commit().await.map_err(sqlite_error)?;
        Ok(true)
    }

    async fn delete_expired_access_requests(&self, before: DateTime<Utc>) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM access_requests WHERE status = 'pending' AND expires_at < ?")
            .bind(time_to_micros(before))
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?
            .rows_affected())
    }

    async fn grant_for_release(&self, id: &GrantId) -> Result<Option<ReleaseGrant>> {
        let id = id.as_str();
        let row = sqlx::query(
            "SELECT g.id, g.request_id, g.citizen_id, g.department, g.service, g.approved_fields, g.evidence_ids, \
             g.created_at, g.not_before, g.expires_at, g.max_uses, g.uses, g.revoked_at, \
             c.wrapped_dek, c.kek_version FROM grants g JOIN citizens c ON c.id = g.citizen_id WHERE g.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?;
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
             not_before, expires_at, max_uses, uses, revoked_at FROM grants WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?
        .map(|row| grant_from_row(&row))
        .transpose()
    }

    async fn grants_of_citizen(&self, citizen_id: &CitizenId) -> Result<Vec<GrantRecord>> {
        sqlx::query(
            "SELECT id, request_id, citizen_id, department, service, approved_fields, evidence_ids, created_at, \
             not_before, expires_at, max_uses, uses, revoked_at FROM grants WHERE citizen_id = ? \
             ORDER BY created_at DESC, id",
        )
        .bind(citizen_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(sqlite_error)?
        .iter()
        .map(grant_from_row)
        .collect()
    }

    async fn revoke_grant(&self, citizen_id: &CitizenId, id: &GrantId, at: DateTime<Utc>) -> Result<bool> {
        let id = id.as_str();
        Ok(sqlx::query("UPDATE grants SET revoked_at = ? WHERE id = ? AND citizen_id = ? AND revoked_at IS NULL")
            .bind(time_to_micros(at))
            .bind(id)
            .bind(citizen_id.as_str())
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?
            .rows_affected()
            > 0)
    }

    async fn insert_staff_session(&self, session: &StaffSessionRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff_sessions \
             (id_hash, staff_id, issuer, idp_session_id, csrf_token, created_at, last_seen_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
        .map_err(sqlite_error)?;
        Ok(())
    }

    async fn staff_session(&self, id_hash: &[u8]) -> Result<Option<StaffSessionRecord>> {
        sqlx::query(
            "SELECT id_hash, staff_id, issuer, idp_session_id, csrf_token, created_at, last_seen_at \
             FROM staff_sessions WHERE id_hash = ?",
        )
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(sqlite_error)?
        .map(|row| staff_session_from_row(&row))
        .transpose()
    }

    async fn touch_staff_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE staff_sessions SET last_seen_at = ? WHERE id_hash = ?")
            .bind(time_to_micros(at))
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }

    async fn delete_staff_session(&self, id_hash: &[u8]) -> Result<()> {
        sqlx::query("DELETE FROM staff_sessions WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(sqlite_error)?;
        Ok(())
    }
}

/// Mark a pending file of `citizen_id` complete, after checking that its
/// chunks are exactly `0..chunk_count`. Runs inside the evidence transaction.
async fn complete_file(connection: &mut SqliteConnection, citizen_id: &CitizenId, file: &FileRecord) -> Result<()> {
    let completed = sqlx::query(
        "UPDATE files SET status = 'complete', media_type = ?, plaintext_size = ?, chunk_count = ?, sealed_name = ? \
         WHERE id = ? AND citizen_id = ? AND status = 'pending'",
    )
    .bind(file.media_type.as_str())
    .bind(file.plaintext_size)
    .bind(file.chunk_count)
    .bind(file.sealed_name.as_slice())
    .bind(file.id.as_str())
    .bind(citizen_id.as_str())
    .execute(&mut *connection)
    .await
    .map_err(sqlite_error)?;
    if completed.rows_affected() != 1 {
        return Err(StoreError::Conflict(Conflict::FileNotPending));
    }
    let row = sqlx::query(
        "SELECT COUNT(*) AS stored, COALESCE(MIN(chunk_index), 0) AS lowest, COALESCE(MAX(chunk_index), -1) AS highest \
         FROM file_chunks WHERE file_id = ?",
    )
    .bind(file.id.as_str())
    .fetch_one(&mut *connection)
    .await
    .map_err(sqlite_error)?;
    let stored: i64 = row.try_get("stored").map_err(driver_error)?;
    let lowest: i64 = row.try_get("lowest").map_err(driver_error)?;
    let highest: i64 = row.try_get("highest").map_err(driver_error)?;
    // Indexes are unique per file, so count + bounds pin down 0..chunk_count.
    if stored != file.chunk_count || lowest != 0 || highest != file.chunk_count - 1 {
        return Err(StoreError::Conflict(Conflict::FileChunksIncomplete));
    }
    Ok(())
}

/// SQLite reports a unique violation as "UNIQUE constraint failed:
/// table.column, ..." without the constraint's name; this maps the column
/// lists of our schema to the names PostgreSQL reports, so both backends
/// give the same `Conflict`.
fn unique_constraint_name(message: &str) -> Option<&'static str> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    Some(match columns {
        "citizens.id" => "citizens_pkey",
        "citizens.subject_hash" => "citizens_subject_hash_key",
        "pending_logins.state_hash" => "pending_logins_pkey",
        "sessions.id_hash" => "sessions_pkey",
        "logout_tokens.issuer, logout_tokens.jti" => "logout_tokens_pkey",
        "files.id" => "files_pkey",
        "file_chunks.file_id, file_chunks.chunk_index" => "file_chunks_pkey",
        "evidence.id" => "evidence_pkey",
        "evidence.file_id" => "evidence_file_id_key",
        "evidence_fields.evidence_id, evidence_fields.name" => "evidence_fields_pkey",
        "audit_checkpoints.size" => "audit_checkpoints_pkey",
        _ => return None,
    })
}

/// Map constraint violations to `Conflict` (SQLite names a CHECK constraint
/// but not a foreign key), everything else as in `driver_error`.
fn sqlite_error(error: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(database_error) = &error {
        let message = database_error.message();
        let constraint = if database_error.is_unique_violation() {
            Some(Constraint::Unique)
        } else if database_error.is_foreign_key_violation() {
            Some(Constraint::ForeignKey)
        } else if database_error.is_check_violation() {
            Some(Constraint::Check)
        } else {
            None
        };
        if let Some(constraint) = constraint {
            return constraint_conflict(constraint, message);
        }
    }
    driver_error(error)
}

/// The kinds of constraint failure that are a `Conflict`.
enum Constraint {
    Unique,
    ForeignKey,
    Check,
}

/// A constraint failure named the PostgreSQL way where it is known (the
/// tests and callers match on names like `citizens_pkey`), from SQLite's message.
fn constraint_conflict(constraint: Constraint, message: &str) -> StoreError {
    StoreError::Conflict(match constraint {
        Constraint::Unique => {
            Conflict::Duplicate(unique_constraint_name(message).map_or_else(|| message.to_owned(), str::to_owned))
        }
        Constraint::ForeignKey => Conflict::MissingReference,
        Constraint::Check => {
            Conflict::Check(message.strip_prefix("CHECK constraint failed: ").unwrap_or(message).to_owned())
        }
    })
}
