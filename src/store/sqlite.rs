//! SQLite implementation of `Store`: one database file in WAL mode, the
//! embedded default. Schema in `migrations/sqlite`; keep it equivalent to the
//! PostgreSQL one (same version numbers, same constraint names). The SQL
//! both engines run alike is in `shared`; here is what SQLite does its own
//! way: the database file and its pragmas, write transactions that take the
//! write lock up front, file chunks in blob files beside the database, the
//! blocking audit append and tree reads (`audit`), and constraint names
//! recovered from SQLite's messages.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::blobs::BlobDir;
use super::error::driver_error;
use super::{AppendedRow, AuditBatch, BlockingAudit, Conflict, Result, StoreError, StoreOptions, TreeNode};
use crate::ids::FileId;

// Deliberately loaded twice (here and in `postgres.rs`): one text, compiled for
// each engine's concrete sqlx types (see `shared`'s documentation).
#[allow(clippy::duplicate_mod)]
#[path = "shared/mod.rs"]
mod shared;

/// The names `shared` is compiled with.
type Backend = SqliteStore;
type Db = Sqlite;

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
            .map_err(db_error)?;
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

    /// Close the pool's connections and wait until they are closed (a
    /// restore moves the file afterwards). The audit and tree connections
    /// close when the store is dropped.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl shared::Engine for SqliteStore {
    /// The write transaction holds the database's write lock already.
    const EVIDENCE_TO_DELETE: &'static str = "SELECT file_id FROM evidence WHERE id = $1 AND citizen_id = $2";

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin_with(BEGIN_WRITE).await.map_err(db_error)
    }

    /// A deferred transaction: its first read fixes the snapshot.
    async fn begin_read(&self) -> Result<Transaction<'static, Sqlite>> {
        self.pool.begin().await.map_err(db_error)
    }

    /// SQLite has no statement timeout: any pool connection.
    async fn unhurried_connection(&self) -> Result<PoolConnection<Sqlite>> {
        self.pool.acquire().await.map_err(db_error)
    }

    fn blobs(&self) -> Option<&BlobDir> {
        Some(&self.blobs)
    }

    async fn migrate(&self) -> Result<()> {
        sqlx::migrate!("migrations/sqlite").run(&self.pool).await?;
        Ok(())
    }

    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>> {
        Some(self.audit.clone())
    }

    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()> {
        let mut tx = self.pool.begin_with(BEGIN_WRITE).await.map_err(db_error)?;
        shared::ensure_pending_file(&mut tx, "SELECT 1 FROM files WHERE id = $1 AND status = 'pending'", file_id)
            .await?;
        // Appends to one file are serialised by the write transaction, so the
        // end of the indexed bytes is where this batch goes.
        let end: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(blob_offset + sealed_length), 0) FROM file_chunks WHERE file_id = ?",
        )
        .bind(file_id.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
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
                insert.build().execute(&mut *tx).await.map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)
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
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let offset: i64 = row.try_get("blob_offset").map_err(driver_error)?;
        let length: i64 = row.try_get("sealed_length").map_err(driver_error)?;
        let offset = u64::try_from(offset).map_err(|_| StoreError::Corrupt("negative blob offset".into()))?;
        let length = usize::try_from(length).map_err(|_| StoreError::Corrupt("negative chunk length".into()))?;
        self.blobs.read_at(file_id, offset, length).await.map(Some)
    }

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

    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>> {
        let reader = self.tree.clone();
        let nodes = nodes.to_vec();
        tokio::task::spawn_blocking(move || reader.nodes(&nodes))
            .await
            .map_err(|error| StoreError::Corrupt(format!("tree read stopped: {error}")))?
    }
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
fn db_error(error: sqlx::Error) -> StoreError {
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
