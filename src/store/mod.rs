//! Persistence seam. `Store` is the only way the rest of tresor touches the
//! database; `sqlite.rs` and `postgres.rs` implement it over sqlx with their
//! own migration folders (same version numbers in both). The SQL both
//! engines run alike is written once, in `shared/` (compiled for each
//! backend); a backend file keeps what its engine does differently.
//!
//! Architecture invariant: the store never sees plaintext evidence or raw key
//! material. It stores sealed bytes, wrapped keys and keyed hashes only.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};

mod audit_log;
mod blobs;
mod error;
pub mod postgres;
mod records;
pub mod sqlite;

pub use audit_log::{
    ActorKind, AppendedRow, AuditBatch, AuditFilter, AuditRow, BlockingAudit, ClaimFailure, ClaimOutcome, GrantClaim,
    StoredAuditEntry, TreeNode,
};
pub use error::{Conflict, StoreError};
pub use records::{
    AccessRequestRecord, CitizenRecord, EvidenceRecord, EvidenceSummary, FeedbackRecord, FileRecord, FormDraftRecord,
    GrantRecord, KeyRewrap, PendingLogin, REDACTED, ReleaseGrant, RequestState, SealedField, SessionRecord,
    StaffSessionRecord, WrappedKeyRecord, WrappedKeyTable,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Apply pending migrations.
    async fn migrate(&self) -> Result<()>;

    /// For a store whose audit append is blocking work (SQLite): that
    /// append, for the audit writer to call on a thread of its own. None:
    /// the writer awaits `append_audit_claiming` on the runtime.
    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>> {
        None
    }

    /// How the connection pool is used right now (for metrics); None for a
    /// store without one. Reads counters only, no database call.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    // --- citizens -----------------------------------------------------------
    /// Insert a new citizen. Conflict if the subject hash exists already.
    async fn insert_citizen(&self, citizen: &CitizenRecord) -> Result<()>;
    async fn citizen_by_subject(&self, subject_hash: &[u8]) -> Result<Option<CitizenRecord>>;
    async fn citizen(&self, id: &CitizenId) -> Result<Option<CitizenRecord>>;
    /// Erase a citizen: the wrapped DEK, their evidence, files, chunks and
    /// sessions go in one transaction. Returns false if there was none.
    async fn delete_citizen(&self, id: &CitizenId) -> Result<bool>;

    // --- login state --------------------------------------------------------
    async fn insert_pending_login(&self, pending: &PendingLogin) -> Result<()>;
    /// Read and delete in one step, so a state can be used once only.
    async fn take_pending_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>>;
    /// Delete pending logins created before `before`. Returns how many.
    async fn delete_pending_logins_before(&self, before: DateTime<Utc>) -> Result<u64>;

    // --- form drafts --------------------------------------------------------
    /// Keep a form draft; one with the same `id_hash` is replaced.
    async fn put_form_draft(&self, draft: &FormDraftRecord) -> Result<()>;
    /// Read and delete in one step, so a draft is used once only.
    async fn take_form_draft(&self, id_hash: &[u8]) -> Result<Option<FormDraftRecord>>;
    /// Delete form drafts created before `before`. Returns how many.
    async fn delete_form_drafts_before(&self, before: DateTime<Utc>) -> Result<u64>;

    // --- sessions -----------------------------------------------------------
    async fn insert_session(&self, session: &SessionRecord) -> Result<()>;
    async fn session(&self, id_hash: &[u8]) -> Result<Option<SessionRecord>>;
    async fn touch_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()>;
    async fn delete_session(&self, id_hash: &[u8]) -> Result<()>;
    /// The citizens with a session of (issuer, IdP sid), each once.
    async fn citizens_with_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<Vec<CitizenId>>;
    /// Back-channel logout: end every session of (issuer, IdP sid).
    async fn delete_sessions_by_idp_session(&self, issuer: &str, idp_session_id: &str) -> Result<u64>;
    /// Back-channel logout without `sid`: end every session of the citizen at that issuer.
    async fn delete_sessions_of_citizen(&self, issuer: &str, citizen_id: &CitizenId) -> Result<u64>;
    /// End all sessions of a citizen (at any issuer) but `newest` and the
    /// `keep - 1` most recent others. Returns how many were ended.
    async fn keep_newest_sessions(&self, citizen_id: &CitizenId, newest: &[u8], keep: u32) -> Result<u64>;
    /// Whether a logout token's `jti` was remembered already (a replay).
    async fn logout_token_seen(&self, issuer: &str, jti: &str) -> Result<bool>;
    /// Remember a logout token's `jti` until `expires_at`. Returns false if it
    /// was seen before (a replay).
    async fn remember_logout_token(&self, issuer: &str, jti: &str, expires_at: DateTime<Utc>) -> Result<bool>;

    // --- files --------------------------------------------------------------
    /// Start an upload: the file exists as `pending` and is invisible until
    /// `insert_evidence` completes it. A crash leaves only pending rows, which
    /// `delete_stale_uploads` removes.
    async fn begin_file(&self, file_id: &FileId, citizen_id: &CitizenId, started_at: DateTime<Utc>) -> Result<()>;
    /// Append sealed chunks `(index, ciphertext)` of a pending file, in one transaction.
    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> Result<()>;
    /// One sealed chunk of a completed file.
    async fn file_chunk(&self, file_id: &FileId, index: i64) -> Result<Option<Vec<u8>>>;
    /// Remove a pending file and its chunks (after a failed upload).
    async fn abort_file(&self, file_id: &FileId) -> Result<()>;
    /// Remove pending files started before `before`. Returns how many.
    async fn delete_stale_uploads(&self, before: DateTime<Utc>) -> Result<u64>;

    // --- evidence -----------------------------------------------------------
    /// Insert evidence and its sealed fields; if it has a file, mark that
    /// pending file complete. All in one transaction.
    async fn insert_evidence(&self, evidence: &EvidenceRecord) -> Result<()>;
    async fn list_evidence(&self, citizen_id: &CitizenId) -> Result<Vec<EvidenceSummary>>;
    /// Evidence of this citizen; None if it does not exist or belongs to someone else.
    async fn evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> Result<Option<EvidenceRecord>>;
    /// Delete evidence with its fields, file and chunks. False if not found for this citizen.
    async fn delete_evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> Result<bool>;

    // --- audit log ----------------------------------------------------------
    /// Append a batch of audit entries in ONE transaction. The store reserves
    /// the sequence numbers inside the transaction (last + 1, consecutive, no
    /// gaps, also across processes sharing the database) and settles the
    /// batch's grant claims in batch order: a claim succeeds if the grant
    /// exists, is not revoked and `uses < claim.max_uses`, and then `uses`
    /// goes up by one. With both known it asks the batch for its rows
    /// ([`AuditBatch::rows`]: `audit` decides the bytes, the leaf hashes and
    /// the index columns) and stores exactly those. For a claim that
    /// succeeded, which of the evidence it names still exists and belongs to
    /// the claim's citizen is read in the same transaction and returned (ids):
    /// what is released is what existed when the release was recorded.
    /// Durable when it returns Ok; on Err nothing of the batch is stored. An
    /// empty batch touches nothing.
    async fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>>;
    /// Number of entries (the Merkle tree size); the next sequence number.
    async fn audit_size(&self) -> Result<u64>;
    /// Leaf hashes of the entries with `from <= sequence < to`, in order.
    /// `to` beyond the size is cut at the size; a missing leaf below the size
    /// is `Corrupt`.
    async fn audit_leaf_hashes(&self, from: u64, to: u64) -> Result<Vec<[u8; 32]>>;
    /// How many leaves the stored tree nodes (`audit_nodes`) cover.
    async fn audit_tree_size(&self) -> Result<u64>;
    /// The hashes of the perfect subtrees `(level, index)` (level 0: leaf
    /// hashes), in the order asked; a missing one is `Corrupt`.
    async fn audit_nodes(&self, nodes: &[TreeNode]) -> Result<Vec<[u8; 32]>>;
    /// Store the nodes completed by the leaves `[from, to)` and move the
    /// tree size from `from` to `to`, in one transaction. `Conflict` when the
    /// stored size is not `from` (another process extended it first).
    async fn extend_audit_tree(&self, from: u64, to: u64, nodes: &[(TreeNode, [u8; 32])]) -> Result<()>;
    /// Entries matching `filter`, ascending by sequence, at most `limit`,
    /// starting after `after_sequence` (keyset pagination: pass the last
    /// sequence of the previous page).
    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
        after_sequence: Option<u64>,
    ) -> Result<Vec<StoredAuditEntry>>;
    /// Entries matching `filter`, newest first, at most `limit`, older than
    /// `before_sequence` when given (keyset pagination: pass the last
    /// sequence of the previous page). Reads from the right place of the
    /// filter's index, whatever the log's size.
    async fn audit_entries_newest_first(
        &self,
        filter: &AuditFilter,
        limit: u32,
        before_sequence: Option<u64>,
    ) -> Result<Vec<StoredAuditEntry>>;
    /// Retention: drop the bodies of entries older than `before`. Leaf hashes,
    /// the indexed columns and the size stay, so the tree and old checkpoints
    /// still verify. Returns how many bodies were dropped.
    async fn prune_audit_bodies(&self, before: DateTime<Utc>) -> Result<u64>;
    /// Store a signed checkpoint. Conflict `audit_checkpoints_pkey` if one of
    /// that size exists already.
    async fn insert_checkpoint(
        &self,
        size: u64,
        root: &[u8],
        signed_note: &str,
        created_at: DateTime<Utc>,
    ) -> Result<()>;
    /// The checkpoint with the largest size: (size, signed note).
    async fn latest_checkpoint(&self) -> Result<Option<(u64, String)>>;
    /// The smallest checkpoint larger than `size`, with when it was stored
    /// (one primary-key lookup; for readiness: how long the oldest checkpoint
    /// past a witnessed one has waited for its witnesses).
    async fn checkpoint_after(&self, size: u64) -> Result<Option<(u64, DateTime<Utc>)>>;
    /// The time of the audit entry `sequence` (one primary-key lookup; for
    /// readiness: how long the oldest entry no checkpoint covers has waited).
    async fn audit_entry_time(&self, sequence: u64) -> Result<Option<DateTime<Utc>>>;
    /// All checkpoints, ascending by size.
    async fn checkpoints(&self) -> Result<Vec<(u64, String)>>;
    /// The signed note of the checkpoint of `size`, if one is stored.
    async fn checkpoint_note(&self, size: u64) -> Result<Option<String>>;
    /// Keep a witness's verified cosignature of the stored checkpoint of
    /// `size` (`lines`: its note signature line(s)). A second one for the
    /// same checkpoint and witness is ignored: the first stays.
    async fn insert_cosignature(&self, size: u64, witness: &str, lines: &str, created_at: DateTime<Utc>) -> Result<()>;
    /// Stored cosignatures of the newest checkpoints first, at most `limit`
    /// rows: (size, witness, lines).
    async fn recent_cosignatures(&self, limit: u32) -> Result<Vec<(u64, String, String)>>;
    /// The cosignatures of the checkpoint of `size`: (witness, lines).
    async fn cosignatures(&self, size: u64) -> Result<Vec<(String, String)>>;

    // --- access requests and grants -----------------------------------------
    async fn insert_access_request(&self, request: &AccessRequestRecord) -> Result<()>;
    async fn access_request(&self, id: &RequestId) -> Result<Option<AccessRequestRecord>>;
    /// Answer a pending request that has not expired at `at`, in one
    /// transaction: with `Some(grant)` it becomes approved and the grant is
    /// inserted, with None it becomes denied; either way it is bound to
    /// `citizen_id`. False (and nothing changed) if it is not pending any more
    /// or has expired.
    async fn answer_access_request(
        &self,
        id: &RequestId,
        citizen_id: &CitizenId,
        at: DateTime<Utc>,
        grant: Option<&GrantRecord>,
    ) -> Result<bool>;
    /// Delete requests still pending that expired before `before`. Returns how many.
    async fn delete_expired_access_requests(&self, before: DateTime<Utc>) -> Result<u64>;
    async fn grant(&self, id: &GrantId) -> Result<Option<GrantRecord>>;
    /// A grant with its citizen's wrapped DEK, in one read (the release path).
    async fn grant_for_release(&self, id: &GrantId) -> Result<Option<ReleaseGrant>>;
    /// The citizen's grants, newest first.
    async fn grants_of_citizen(&self, citizen_id: &CitizenId) -> Result<Vec<GrantRecord>>;
    /// Revoke one of the citizen's grants at `at`. False if it is not theirs
    /// or was revoked already.
    async fn revoke_grant(&self, citizen_id: &CitizenId, id: &GrantId, at: DateTime<Utc>) -> Result<bool>;

    // --- staff sessions -----------------------------------------------------
    /// Staff (DPO) sessions live in their own table: a citizen session id is
    /// never a staff session id and vice versa.
    async fn insert_staff_session(&self, session: &StaffSessionRecord) -> Result<()>;
    async fn staff_session(&self, id_hash: &[u8]) -> Result<Option<StaffSessionRecord>>;
    async fn touch_staff_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> Result<()>;
    async fn delete_staff_session(&self, id_hash: &[u8]) -> Result<()>;

    // --- accessibility feedback ---------------------------------------------
    /// Store a feedback message (its `id` is ignored: the database gives
    /// the next one). Returns the id given.
    async fn insert_feedback(&self, feedback: &FeedbackRecord) -> Result<i64>;
    /// Feedback messages newest first, at most `limit`, with ids below
    /// `before_id` when given (keyset pagination).
    async fn feedback_newest_first(&self, limit: u32, before_id: Option<i64>) -> Result<Vec<FeedbackRecord>>;

    // --- KEK rotation -------------------------------------------------------
    /// How many wrapped keys (citizens' DEKs and form drafts' keys together)
    /// each KEK version wraps.
    async fn kek_versions_in_use(&self) -> Result<std::collections::BTreeMap<u32, u64>>;
    /// Up to `limit` keys of `table` wrapped under a KEK version other than
    /// `version`, in key order after `after` (keyset pagination).
    async fn wrapped_keys_not_under(
        &self,
        table: WrappedKeyTable,
        version: u32,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Vec<WrappedKeyRecord>>;
    /// Replace wrappings in one transaction, each only where the row still
    /// holds the wrapping that was read; how many were replaced.
    async fn rewrap_keys(&self, rewraps: &[KeyRewrap]) -> Result<u64>;
}

/// Open the store named by a database URL (`sqlite://path`, `sqlite::memory:`
/// or `postgres://...`) with the default [`StoreOptions`]. Connects only; call
/// `migrate()` before use.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>> {
    open_with(database_url, StoreOptions::default()).await
}

/// [`open`] with the store's patience from configuration
/// (`limits.store_timeout_seconds`).
pub async fn open_with(database_url: &str, options: StoreOptions) -> Result<Arc<dyn Store>> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect_with(database_url, options).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::connect_with(database_url, options).await?))
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// A connection pool's use at one moment (see [`Store::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now (idle or in use).
    pub size: u32,
    /// Open connections no call is using.
    pub idle: u32,
    /// The most connections the pool opens.
    pub max: u32,
}

/// How the store behaves when the database does not answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long one call waits for the database: for a pool connection
    /// (PostgreSQL: including connecting, which sqlx retries while the server
    /// refuses), for a lock (SQLite's busy timeout on the pool and the audit
    /// connection, PostgreSQL's `lock_timeout`). Past it the call fails with
    /// an error for which [`StoreError::is_unavailable`] holds.
    pub timeout: Duration,
}

impl StoreOptions {
    /// `limits.store_timeout_seconds`' default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self { timeout: Self::DEFAULT_TIMEOUT }
    }
}
