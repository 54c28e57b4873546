//! Persistence seam. `Store` is the only way the rest of tresor touches the
//! database; `sqlite.rs` and `postgres.rs` implement it over sqlx with their
//! own migration folders (same version numbers in both).
//!
//! Architecture invariant: the store never sees plaintext evidence or raw key
//! material. It stores sealed bytes, wrapped keys and keyed hashes only.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};

mod blobs;
pub mod postgres;
pub mod sqlite;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What the store reports. It carries no driver types: outages are told
/// apart from other database failures where the driver's error is mapped
/// (`From<sqlx::Error>`, `sqlite::audit`), and refused writes are typed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A write the schema or the store refused (see [`Conflict`]).
    #[error("conflict: {0}")]
    Conflict(Conflict),
    /// The database could not be reached or did not answer in time (an
    /// outage, a restart, a lock held too long): nothing was changed and the
    /// same call may succeed in a moment. The HTTP layer answers 503
    /// `store_unavailable`.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure (the driver's message).
    #[error("database error: {0}")]
    Database(String),
    /// A blocking database call ended without an answer (its thread panicked).
    #[error("database worker failed: {0}")]
    Worker(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("unsupported database url (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
}

/// A write that was refused, by a rule of the schema or of the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Conflict {
    /// A row with this key exists already; the constraint as PostgreSQL
    /// names it (`citizens_pkey`, `audit_checkpoints_pkey`, ...).
    #[error("already exists ({0})")]
    Duplicate(String),
    /// A row it refers to does not exist (foreign key).
    #[error("a referenced row is missing")]
    MissingReference,
    /// A CHECK constraint failed; its name.
    #[error("check {0} failed")]
    Check(String),
    /// The file is not a pending upload (gone, or completed already).
    #[error("the file is not a pending upload")]
    FileNotPending,
    /// The file's chunks are not all there.
    #[error("the file's chunks are incomplete")]
    FileChunksIncomplete,
    /// Another process extended the stored audit tree first.
    #[error("the stored audit tree moved")]
    AuditTreeMoved,
    /// A checkpoint size beyond what the store can hold.
    #[error("checkpoint size out of range")]
    CheckpointSize,
}

impl StoreError {
    /// Whether this is an outage ([`StoreError::Unavailable`]): pool
    /// timeouts and a closed pool; I/O and TLS errors (refused, reset,
    /// closed connections); PostgreSQL class 08 (connection exception),
    /// 57P01/57P02/57P03 (admin shutdown, crash shutdown, cannot connect
    /// now), 53300 (too many connections), 55P03 and 57014 (our
    /// `lock_timeout` and `statement_timeout` ran out), 25006 (a read-only
    /// server: a standby during a failover); SQLite BUSY and LOCKED (another
    /// connection holds the lock past the busy timeout), from sqlx and rusqlite.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StoreError {
    /// Decoding problems mean the stored data is malformed; outages are
    /// `Unavailable`; everything else is a database error. (Constraint
    /// violations are mapped to conflicts by each backend first.)
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt(format!("column {index}: {source}")),
            sqlx::Error::ColumnNotFound(column) => StoreError::Corrupt(format!("column {column} missing")),
            sqlx::Error::Decode(source) => StoreError::Corrupt(source.to_string()),
            other if sqlx_error_is_unavailable(&other) => StoreError::Unavailable(other.to_string()),
            other => StoreError::Database(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(error.to_string())
    }
}

/// PostgreSQL SQLSTATEs that mean "not now" rather than "not so" (see
/// [`StoreError::is_unavailable`]); class 08 is matched by its prefix.
const POSTGRES_UNAVAILABLE_CODES: [&str; 7] = ["57P01", "57P02", "57P03", "53300", "55P03", "57014", "25006"];

/// SQLite's primary result codes SQLITE_BUSY and SQLITE_LOCKED (sqlx reports
/// the extended code; its low byte is the primary one).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;

fn sqlx_error_is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(database_error) => {
            if let Some(postgres) = database_error.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                let code = postgres.code();
                code.starts_with("08") || POSTGRES_UNAVAILABLE_CODES.contains(&code)
            } else if database_error.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                database_error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .is_some_and(|code| matches!(code & 0xff, SQLITE_BUSY | SQLITE_LOCKED))
            } else {
                false
            }
        }
        _ => false,
    }
}

/// A citizen account: the keyed hash of the eID subject and the wrapped DEK.
#[derive(Clone, PartialEq, Eq)]
pub struct CitizenRecord {
    pub id: CitizenId,
    /// HMAC-SHA256(pepper, issuer || sub); 32 bytes.
    pub subject_hash: Vec<u8>,
    /// The citizen's DEK wrapped by the KEK (AAD = citizen id + KEK version).
    pub wrapped_dek: Vec<u8>,
    pub kek_version: u32,
    pub created_at: DateTime<Utc>,
}

/// A server-side login session. Only a hash of the session id is stored.
/// `Debug` leaves the CSRF token out.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 of the session id from the cookie.
    pub id_hash: Vec<u8>,
    pub citizen_id: CitizenId,
    /// The issuer (configured name) the citizen logged in with.
    pub issuer: String,
    /// Login level as an ordinal of `identity::LoginLevel`.
    pub login_level: i32,
    /// The IdP's `sid` claim, for back-channel logout; None if not sent.
    pub idp_session_id: Option<String>,
    /// Per-session CSRF token (random, compared in constant time).
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// What `Debug` prints instead of a secret.
pub const REDACTED: &str = "<redacted>";

impl std::fmt::Debug for SessionRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SessionRecord")
            .field("id_hash", &hex::encode(&self.id_hash))
            .field("citizen_id", &self.citizen_id)
            .field("issuer", &self.issuer)
            .field("login_level", &self.login_level)
            .field("idp_session_id", &self.idp_session_id)
            .field("csrf_token", &REDACTED)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish()
    }
}

/// State of an OIDC authorization request between `/login` and the callback.
/// Keyed by a hash of `state`; taken (read and deleted) exactly once.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingLogin {
    pub state_hash: Vec<u8>,
    pub issuer: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// The login level asked for (ordinal of `LoginLevel`); the ID token's
    /// `acr` must reach it.
    pub requested_level: i32,
    /// Where to go after login (a local path only).
    pub return_to: String,
    pub created_at: DateTime<Utc>,
}

/// One sealed field value of a piece of evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedField {
    pub name: String,
    pub ciphertext: Vec<u8>,
}

/// Metadata of a completed file. The bytes live in sealed 64 KiB chunks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRecord {
    pub id: FileId,
    pub media_type: String,
    pub plaintext_size: i64,
    pub chunk_count: i64,
    /// The original file name, sealed with the evidence's field key.
    pub sealed_name: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceRecord {
    pub id: EvidenceId,
    pub citizen_id: CitizenId,
    pub type_id: String,
    pub type_version: i32,
    pub created_at: DateTime<Utc>,
    pub fields: Vec<SealedField>,
    pub file: Option<FileRecord>,
}

/// Evidence without its sealed values, for listings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceSummary {
    pub id: EvidenceId,
    pub type_id: String,
    pub created_at: DateTime<Utc>,
    pub has_file: bool,
}

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

// --- helpers shared by both backends ------------------------------------------

/// Timestamps are stored as unix microseconds; finer precision is truncated.
fn time_to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

fn time_from_micros(column: &str, micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("{column}: timestamp out of range")))
}

fn parse_stored_id<Id: std::str::FromStr>(column: &str, text: &str) -> Result<Id> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("{column}: not a valid id")))
}

/// Maps a driver error that is not a constraint violation (see
/// `From<sqlx::Error>`).
fn driver_error(error: sqlx::Error) -> StoreError {
    error.into()
}

// --- audit log --------------------------------------------------------------

/// A perfect subtree of the audit log's Merkle tree: (level, index) is the
/// subtree over the leaves `[index * 2^level, (index + 1) * 2^level)`.
pub type TreeNode = (u8, u64);

/// Tree nodes read or written per statement (well under SQLite's limit of
/// bound values).
const NODES_PER_QUERY: usize = 500;

/// The nodes asked for, by level: (level, indexes in the order first asked).
fn nodes_by_level(nodes: &[TreeNode]) -> std::collections::BTreeMap<u8, Vec<u64>> {
    let mut levels: std::collections::BTreeMap<u8, Vec<u64>> = std::collections::BTreeMap::new();
    for &(level, index) in nodes {
        levels.entry(level).or_default().push(index);
    }
    levels
}

/// The hashes found, in the order of `nodes`; Corrupt if one is missing.
fn nodes_in_order(nodes: &[TreeNode], found: &std::collections::HashMap<TreeNode, Vec<u8>>) -> Result<Vec<[u8; 32]>> {
    nodes
        .iter()
        .map(|node| match found.get(node) {
            Some(hash) => leaf_hash_array(hash),
            None => Err(StoreError::Corrupt(format!("audit tree node {node:?} missing"))),
        })
        .collect()
}

/// The query for the audit entries matching `filter` in `order`, at most
/// `limit` (see `Store::audit_entries` and `Store::audit_entries_newest_first`),
/// for either backend (the builder writes each backend's placeholders).
fn audit_entries_query<DB>(filter: &AuditFilter, limit: u32, order: EntryOrder) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::QueryBuilder::<DB>::new(
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

/// `Store::insert_cosignature` for either backend.
fn insert_cosignature_query<DB>(
    size: u64,
    witness: &str,
    lines: &str,
    created_at: DateTime<Utc>,
) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut query =
        sqlx::QueryBuilder::<DB>::new("INSERT INTO audit_cosignatures (size, witness, lines, created_at) VALUES (");
    let mut values = query.separated(", ");
    values.push_bind(sequence_bound(size));
    values.push_bind(witness.to_owned());
    values.push_bind(lines.to_owned());
    values.push_bind(time_to_micros(created_at));
    query.push(") ON CONFLICT (size, witness) DO NOTHING");
    query
}

/// `Store::recent_cosignatures` (with `Some(limit)`) or `Store::cosignatures`
/// (with `Some(size)`) for either backend: rows (size, witness, lines).
fn cosignatures_query<DB>(size: Option<u64>, limit: Option<u32>) -> sqlx::QueryBuilder<DB>
where
    DB: sqlx::Database,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    let mut query = sqlx::QueryBuilder::<DB>::new("SELECT size, witness, lines FROM audit_cosignatures");
    if let Some(size) = size {
        query.push(" WHERE size = ").push_bind(sequence_bound(size));
    }
    query.push(" ORDER BY size DESC, witness");
    if let Some(limit) = limit {
        query.push(" LIMIT ").push_bind(i64::from(limit));
    }
    query
}

/// Rows of `cosignatures_query` with their sizes checked.
fn cosignature_rows(rows: Vec<(i64, String, String)>) -> Result<Vec<(u64, String, String)>> {
    rows.into_iter()
        .map(|(size, witness, lines)| Ok((stored_size("audit_cosignatures.size", size)?, witness, lines)))
        .collect()
}

/// Which audit entries a backend reads, in which order (keyset pagination).
#[derive(Debug, Clone, Copy)]
pub(crate) enum EntryOrder {
    Oldest,
    After(u64),
    Newest,
    Before(u64),
}

/// One audit entry as stored: the hashed body plus the columns the citizen
/// and DPO views filter on (copied out of the body when it was appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    /// `AuditEntry::canonical_body()`; None once pruned.
    pub body: Option<Vec<u8>>,
    /// RFC 6962 leaf hash of the body (32 bytes); kept when the body is pruned.
    pub leaf_hash: Vec<u8>,
    /// `targets.subject`: the citizen the entry is about.
    pub subject: Option<String>,
    /// `citizen`, `department`, `staff` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// `Action::as_str()`.
    pub action: String,
    /// `success`, `refused` or `failed`.
    pub outcome: String,
    /// `targets.department`, or the acting department when that is not set.
    pub department: Option<String>,
    pub service: Option<String>,
}

/// Which audit entries `audit_entries` returns; every set field must match.
/// Time is `[from, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<String>,
    /// The stored action name (`audit::Action::as_str`).
    pub action: Option<&'static str>,
    /// The stored outcome name (`audit::Outcome::as_str`).
    pub outcome: Option<&'static str>,
    pub subject: Option<String>,
    pub department: Option<String>,
    pub service: Option<String>,
}

/// The kind of an actor (`audit::Actor::kind`), without its id: the
/// `actor_kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Citizen,
    Department,
    Staff,
    System,
}

impl ActorKind {
    /// The stored name, as in the entry's JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Citizen => "citizen",
            ActorKind::Department => "department",
            ActorKind::Staff => "staff",
            ActorKind::System => "system",
        }
    }
}

/// One row of `audit_entries` as `audit` builds it ([`AuditBatch::rows`]):
/// the hashed body and the columns the views filter on, copied out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub sequence: i64,
    /// Microseconds since the Unix epoch.
    pub time: i64,
    /// The exact bytes hashed into the leaf.
    pub body: Vec<u8>,
    /// RFC 6962 leaf hash of `body`.
    pub leaf_hash: [u8; 32],
    pub subject: Option<String>,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub action: &'static str,
    pub outcome: &'static str,
    pub department: Option<String>,
    pub service: Option<String>,
}

/// A batch of audit appends as the store sees it: when they happen, which
/// grant use each claims, and (once the transaction knows the sequence
/// numbers, the time floor and how the claims came out) the rows to store.
/// `audit` implements it; numbering, bodies and hashes are decided there.
pub trait AuditBatch: Sync {
    /// How many entries the batch appends.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The newest time of the batch (microseconds): with the head's
    /// `last_time` it gives the head's new `last_time`.
    fn newest_time(&self) -> i64;
    /// The grant use append `index` claims, if any.
    fn claim(&self, index: usize) -> Option<&GrantClaim>;
    /// The rows of the batch, in order: sequence numbers from
    /// `first_sequence`, no time before `time_floor` (microseconds: the
    /// head's `last_time` before this batch) or before the entry ahead of it,
    /// and each claimed event as `claims` settled it. Called inside the
    /// append transaction, at most once per attempt.
    fn rows(&self, first_sequence: i64, time_floor: i64, claims: &[ClaimOutcome]) -> Result<Vec<AuditRow>>;
}

/// How one append's claim came out in the append transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The append claimed nothing.
    NoClaim,
    /// One use was claimed; `uses` is the grant's count including it.
    Claimed {
        uses: u32,
    },
    Refused(ClaimFailure),
}

/// A stored row with its settled claim and, for a successful claim, the
/// claimed evidence that still exists at the commit and belongs to the
/// claim's citizen (in the claim's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedRow {
    pub row: AuditRow,
    pub claim: ClaimOutcome,
    pub evidence: Vec<EvidenceId>,
}

/// The first sequence number of a batch of `count` entries whose last one
/// is `new_last`, checked.
fn first_sequence(new_last: i64, count: i64) -> Result<i64> {
    new_last
        .checked_sub(count)
        .and_then(|last| last.checked_add(1))
        .filter(|first| *first >= 0)
        .ok_or_else(|| StoreError::Corrupt("audit_head.last_sequence out of range".to_owned()))
}

/// Check that the batch's rows are numbered as asked and pair them with
/// the claims and the evidence that exists (`existing`: (evidence id,
/// owner) as read in the append transaction).
fn appended_rows(
    batch: &dyn AuditBatch,
    first: i64,
    rows: Vec<AuditRow>,
    claims: &[ClaimOutcome],
    existing: &[(String, String)],
) -> Result<Vec<AppendedRow>> {
    if rows.len() != batch.len() || claims.len() != batch.len() {
        return Err(StoreError::Corrupt(format!("audit batch of {} built {} rows", batch.len(), rows.len())));
    }
    rows.into_iter()
        .zip(claims)
        .enumerate()
        .map(|(index, (row, claim))| {
            if i64::try_from(index).ok().and_then(|index| first.checked_add(index)) != Some(row.sequence) {
                return Err(StoreError::Corrupt(format!("audit row numbered {} out of order", row.sequence)));
            }
            let evidence = match (batch.claim(index), claim) {
                (Some(claim), ClaimOutcome::Claimed { .. }) => claim
                    .evidence
                    .iter()
                    .filter(|id| {
                        existing
                            .iter()
                            .any(|(existing, owner)| existing == id.as_str() && owner == claim.citizen_id.as_str())
                    })
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            Ok(AppendedRow { row, claim: *claim, evidence })
        })
        .collect()
}

/// Query bounds: u64 positions beyond the BIGINT range mean "everything".
fn sequence_bound(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

fn stored_size(column: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column}: negative")))
}

fn leaf_hash_array(value: &[u8]) -> Result<[u8; 32]> {
    value.try_into().map_err(|_| StoreError::Corrupt("audit_entries.leaf_hash: not 32 bytes".to_owned()))
}

/// Check that the leaves read for `[from, min(to, size))` are all there, in order.
fn checked_leaves(from: u64, to: u64, size: u64, rows: Vec<(i64, Vec<u8>)>) -> Result<Vec<[u8; 32]>> {
    let end = to.min(size);
    let expected = end.saturating_sub(from);
    if u64::try_from(rows.len()).ok() != Some(expected) {
        return Err(StoreError::Corrupt(format!(
            "audit_entries: {} of {expected} leaves in [{from}, {end}) present",
            rows.len()
        )));
    }
    rows.iter()
        .zip(from..)
        .map(|((sequence, hash), expected_sequence)| {
            if u64::try_from(*sequence).ok() != Some(expected_sequence) {
                return Err(StoreError::Corrupt(format!("audit_entries: leaf {expected_sequence} missing")));
            }
            leaf_hash_array(hash)
        })
        .collect()
}

/// The equality conditions of a filter as (column, value); the column names
/// are constants, the values are bound.
fn audit_text_conditions(filter: &AuditFilter) -> Vec<(&'static str, String)> {
    [
        ("actor_kind", filter.actor_kind.map(|kind| kind.as_str().to_owned())),
        ("actor_id", filter.actor_id.clone()),
        ("action", filter.action.map(str::to_owned)),
        ("outcome", filter.outcome.map(str::to_owned)),
        ("subject", filter.subject.clone()),
        ("department", filter.department.clone()),
        ("service", filter.service.clone()),
    ]
    .into_iter()
    .filter_map(|(column, value)| Some((column, value?)))
    .collect()
}

// --- access requests and grants ---------------------------------------------

/// The stored state of an access request. "Expired" is not stored: a pending
/// request past `expires_at` is expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    Pending,
    Approved,
    Denied,
}

impl RequestState {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "pending" => Ok(RequestState::Pending),
            "approved" => Ok(RequestState::Approved),
            "denied" => Ok(RequestState::Denied),
            _ => Err(StoreError::Corrupt("access_requests.status: unknown value".to_owned())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequestRecord {
    /// Random: the approve URL carries it.
    pub id: RequestId,
    pub department: String,
    pub service: String,
    /// The department's own case reference, shown to the citizen.
    pub reference: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub state: RequestState,
    /// The citizen who answered it.
    pub citizen_id: Option<CitizenId>,
    pub answered_at: Option<DateTime<Utc>>,
    pub grant_id: Option<GrantId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: GrantId,
    pub request_id: RequestId,
    pub citizen_id: CitizenId,
    pub department: String,
    pub service: String,
    /// Approved fields as `type.field`.
    pub approved_fields: Vec<String>,
    /// The evidence the citizen chose, at most one per evidence type.
    pub evidence_ids: Vec<EvidenceId>,
    pub created_at: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub max_uses: u32,
    pub uses: u32,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One use of a grant to claim together with an audit append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantClaim {
    pub grant_id: GrantId,
    /// The limit to enforce (the smaller of the grant's and the policy's).
    pub max_uses: u32,
    /// Whose evidence, and which, to read if the claim succeeds.
    pub citizen_id: CitizenId,
    pub evidence: Vec<EvidenceId>,
}

/// A grant and its citizen's wrapped DEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseGrant {
    pub grant: GrantRecord,
    pub wrapped_dek: Vec<u8>,
    pub kek_version: u32,
}

/// The claims of one batch, settled in order against the grants' state read
/// in the append transaction (`current`: id -> (uses, revoked)). Returns how
/// each append's claim came out and the new use counts per grant.
fn settle_claims(
    batch: &dyn AuditBatch,
    mut current: std::collections::HashMap<String, (i64, bool)>,
) -> Result<SettledClaims> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed: Vec<String> = Vec::new();
    for index in 0..batch.len() {
        let outcome = match batch.claim(index) {
            None => ClaimOutcome::NoClaim,
            Some(claim) => match current.get_mut(claim.grant_id.as_str()) {
                Some((uses, false)) if *uses < i64::from(claim.max_uses) => {
                    *uses += 1;
                    if !changed.iter().any(|id| id == claim.grant_id.as_str()) {
                        changed.push(claim.grant_id.to_string());
                    }
                    ClaimOutcome::Claimed { uses: stored_count("grants.uses", *uses)? }
                }
                Some((_, false)) => ClaimOutcome::Refused(ClaimFailure::Exhausted),
                _ => ClaimOutcome::Refused(ClaimFailure::Revoked),
            },
        };
        outcomes.push(outcome);
    }
    let updates = changed
        .into_iter()
        .map(|id| {
            let uses = current.get(&id).map(|(uses, _)| *uses).unwrap_or_default();
            (id, uses)
        })
        .collect();
    Ok(SettledClaims { outcomes, updates })
}

struct SettledClaims {
    outcomes: Vec<ClaimOutcome>,
    /// (grant id, new use count)
    updates: Vec<(String, i64)>,
}

/// The claims of a batch, in order.
fn batch_claims(batch: &dyn AuditBatch) -> impl Iterator<Item = &GrantClaim> {
    (0..batch.len()).filter_map(|index| batch.claim(index))
}

/// The distinct grant ids claimed in a batch.
fn claimed_grant_ids(batch: &dyn AuditBatch) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for claim in batch_claims(batch) {
        if !ids.iter().any(|id| id == claim.grant_id.as_str()) {
            ids.push(claim.grant_id.to_string());
        }
    }
    ids
}

/// The distinct evidence ids named by the claims of a batch.
fn claimed_evidence_ids(batch: &dyn AuditBatch) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in batch_claims(batch).flat_map(|claim| &claim.evidence) {
        if !ids.iter().any(|known| known == id.as_str()) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// `Store::append_audit` as a blocking call (see `Store::blocking_audit`).
pub trait BlockingAudit: Send + Sync {
    fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>>;
}

/// Why a claim failed, read in the claiming transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimFailure {
    /// Revoked, or gone (the citizen erased their account).
    Revoked,
    Exhausted,
}

/// An `access_requests` row of either backend.
pub(crate) fn access_request_from_row<R: sqlx::Row>(row: &R) -> Result<AccessRequestRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let citizen_id: Option<String> = row.try_get("citizen_id").map_err(driver_error)?;
    let answered_at: Option<i64> = row.try_get("answered_at").map_err(driver_error)?;
    Ok(AccessRequestRecord {
        id: parse_stored_id("access_requests.id", &row.try_get::<String, _>("id").map_err(driver_error)?)?,
        department: row.try_get("department").map_err(driver_error)?,
        service: row.try_get("service").map_err(driver_error)?,
        reference: row.try_get("reference").map_err(driver_error)?,
        created_at: time_from_micros("access_requests.created_at", row.try_get("created_at").map_err(driver_error)?)?,
        expires_at: time_from_micros("access_requests.expires_at", row.try_get("expires_at").map_err(driver_error)?)?,
        state: RequestState::parse(&row.try_get::<String, _>("status").map_err(driver_error)?)?,
        citizen_id: citizen_id.map(|id| parse_stored_id("access_requests.citizen_id", &id)).transpose()?,
        answered_at: answered_at.map(|at| time_from_micros("access_requests.answered_at", at)).transpose()?,
        grant_id: row
            .try_get::<Option<String>, _>("grant_id")
            .map_err(driver_error)?
            .map(|id| parse_stored_id("access_requests.grant_id", &id))
            .transpose()?,
    })
}

/// A `grants` row of either backend.
pub(crate) fn grant_from_row<R: sqlx::Row>(row: &R) -> Result<GrantRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let revoked_at: Option<i64> = row.try_get("revoked_at").map_err(driver_error)?;
    let evidence_ids =
        parse_json_list("grants.evidence_ids", &row.try_get::<String, _>("evidence_ids").map_err(driver_error)?)?;
    Ok(GrantRecord {
        id: parse_stored_id("grants.id", &row.try_get::<String, _>("id").map_err(driver_error)?)?,
        request_id: parse_stored_id(
            "grants.request_id",
            &row.try_get::<String, _>("request_id").map_err(driver_error)?,
        )?,
        citizen_id: parse_stored_id(
            "grants.citizen_id",
            &row.try_get::<String, _>("citizen_id").map_err(driver_error)?,
        )?,
        department: row.try_get("department").map_err(driver_error)?,
        service: row.try_get("service").map_err(driver_error)?,
        approved_fields: parse_json_list(
            "grants.approved_fields",
            &row.try_get::<String, _>("approved_fields").map_err(driver_error)?,
        )?,
        evidence_ids: evidence_ids
            .iter()
            .map(|id| parse_stored_id("grants.evidence_ids", id))
            .collect::<Result<_>>()?,
        created_at: time_from_micros("grants.created_at", row.try_get("created_at").map_err(driver_error)?)?,
        not_before: time_from_micros("grants.not_before", row.try_get("not_before").map_err(driver_error)?)?,
        expires_at: time_from_micros("grants.expires_at", row.try_get("expires_at").map_err(driver_error)?)?,
        max_uses: stored_count("grants.max_uses", row.try_get("max_uses").map_err(driver_error)?)?,
        uses: stored_count("grants.uses", row.try_get("uses").map_err(driver_error)?)?,
        revoked_at: revoked_at.map(|at| time_from_micros("grants.revoked_at", at)).transpose()?,
    })
}

/// A `citizens` row of either backend.
pub(crate) fn citizen_from_row<R: sqlx::Row>(row: &R) -> Result<CitizenRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kek_version: i64 = row.try_get("kek_version").map_err(driver_error)?;
    Ok(CitizenRecord {
        id: parse_stored_id("citizens.id", &row.try_get::<String, _>("id").map_err(driver_error)?)?,
        subject_hash: row.try_get("subject_hash").map_err(driver_error)?,
        wrapped_dek: row.try_get("wrapped_dek").map_err(driver_error)?,
        kek_version: u32::try_from(kek_version)
            .map_err(|_| StoreError::Corrupt("citizens.kek_version out of range".to_owned()))?,
        created_at: time_from_micros("citizens.created_at", row.try_get("created_at").map_err(driver_error)?)?,
    })
}

/// A `pending_logins` row of either backend.
pub(crate) fn pending_login_from_row<R: sqlx::Row>(row: &R) -> Result<PendingLogin>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(PendingLogin {
        state_hash: row.try_get("state_hash").map_err(driver_error)?,
        issuer: row.try_get("issuer").map_err(driver_error)?,
        nonce: row.try_get("nonce").map_err(driver_error)?,
        pkce_verifier: row.try_get("pkce_verifier").map_err(driver_error)?,
        requested_level: row.try_get("requested_level").map_err(driver_error)?,
        return_to: row.try_get("return_to").map_err(driver_error)?,
        created_at: time_from_micros("pending_logins.created_at", row.try_get("created_at").map_err(driver_error)?)?,
    })
}

/// A `sessions` row of either backend.
pub(crate) fn session_from_row<R: sqlx::Row>(row: &R) -> Result<SessionRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SessionRecord {
        id_hash: row.try_get("id_hash").map_err(driver_error)?,
        citizen_id: parse_stored_id(
            "sessions.citizen_id",
            &row.try_get::<String, _>("citizen_id").map_err(driver_error)?,
        )?,
        issuer: row.try_get("issuer").map_err(driver_error)?,
        login_level: row.try_get("login_level").map_err(driver_error)?,
        idp_session_id: row.try_get("idp_session_id").map_err(driver_error)?,
        csrf_token: row.try_get("csrf_token").map_err(driver_error)?,
        created_at: time_from_micros("sessions.created_at", row.try_get("created_at").map_err(driver_error)?)?,
        last_seen_at: time_from_micros("sessions.last_seen_at", row.try_get("last_seen_at").map_err(driver_error)?)?,
    })
}

/// An `audit_entries` row of either backend.
pub(crate) fn stored_audit_entry_from_row<R: sqlx::Row>(row: &R) -> Result<StoredAuditEntry>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StoredAuditEntry {
        sequence: row.try_get("sequence").map_err(driver_error)?,
        time: time_from_micros("audit_entries.time", row.try_get("time").map_err(driver_error)?)?,
        body: row.try_get("body").map_err(driver_error)?,
        leaf_hash: row.try_get("leaf_hash").map_err(driver_error)?,
        subject: row.try_get("subject").map_err(driver_error)?,
        actor_kind: row.try_get("actor_kind").map_err(driver_error)?,
        actor_id: row.try_get("actor_id").map_err(driver_error)?,
        action: row.try_get("action").map_err(driver_error)?,
        outcome: row.try_get("outcome").map_err(driver_error)?,
        department: row.try_get("department").map_err(driver_error)?,
        service: row.try_get("service").map_err(driver_error)?,
    })
}

/// A `staff_sessions` row of either backend.
pub(crate) fn staff_session_from_row<R: sqlx::Row>(row: &R) -> Result<StaffSessionRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(StaffSessionRecord {
        id_hash: row.try_get("id_hash").map_err(driver_error)?,
        staff_id: row.try_get("staff_id").map_err(driver_error)?,
        issuer: row.try_get("issuer").map_err(driver_error)?,
        idp_session_id: row.try_get("idp_session_id").map_err(driver_error)?,
        csrf_token: row.try_get("csrf_token").map_err(driver_error)?,
        created_at: time_from_micros("staff_sessions.created_at", row.try_get("created_at").map_err(driver_error)?)?,
        last_seen_at: time_from_micros(
            "staff_sessions.last_seen_at",
            row.try_get("last_seen_at").map_err(driver_error)?,
        )?,
    })
}

/// An evidence row (joined with its file) of either backend.
pub(crate) fn evidence_from_row<R: sqlx::Row>(row: &R, fields: Vec<SealedField>) -> Result<EvidenceRecord>
where
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> i32: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Vec<u8>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let file_id: Option<String> = row.try_get("file_id").map_err(driver_error)?;
    let file = match file_id {
        None => None,
        Some(file_id) => {
            let status: Option<String> = row.try_get("status").map_err(driver_error)?;
            if status.as_deref() != Some("complete") {
                return Err(StoreError::Corrupt("evidence refers to a file that is not complete".to_owned()));
            }
            let media_type: Option<String> = row.try_get("media_type").map_err(driver_error)?;
            let sealed_name: Option<Vec<u8>> = row.try_get("sealed_name").map_err(driver_error)?;
            Some(FileRecord {
                id: parse_stored_id("evidence.file_id", &file_id)?,
                media_type: media_type.ok_or_else(|| StoreError::Corrupt("files.media_type missing".to_owned()))?,
                plaintext_size: row.try_get("plaintext_size").map_err(driver_error)?,
                chunk_count: row.try_get("chunk_count").map_err(driver_error)?,
                sealed_name: sealed_name.ok_or_else(|| StoreError::Corrupt("files.sealed_name missing".to_owned()))?,
            })
        }
    };
    Ok(EvidenceRecord {
        id: parse_stored_id("evidence.id", &row.try_get::<String, _>("id").map_err(driver_error)?)?,
        citizen_id: parse_stored_id(
            "evidence.citizen_id",
            &row.try_get::<String, _>("citizen_id").map_err(driver_error)?,
        )?,
        type_id: row.try_get("type_id").map_err(driver_error)?,
        type_version: row.try_get("type_version").map_err(driver_error)?,
        created_at: time_from_micros("evidence.created_at", row.try_get("created_at").map_err(driver_error)?)?,
        fields,
        file,
    })
}

fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

fn parse_json_list(column: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{column}: not a JSON list of strings")))
}

fn stored_count(column: &str, value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column}: out of range")))
}

// --- staff sessions -----------------------------------------------------------

/// A server-side staff session (data-protection officers). Only a hash of
/// the session id is stored, and the staff member only as a keyed hash.
/// `Debug` leaves the CSRF token out.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffSessionRecord {
    /// SHA-256 of the session id from the staff cookie.
    pub id_hash: Vec<u8>,
    /// Hex of the first 16 bytes of HMAC(pepper, issuer || sub): the actor id
    /// in audit entries. Never the raw subject.
    pub staff_id: String,
    /// The staff issuer's configured name.
    pub issuer: String,
    /// The IdP's `sid` claim; None if not sent.
    pub idp_session_id: Option<String>,
    /// Per-session CSRF token (random, compared in constant time).
    pub csrf_token: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

impl std::fmt::Debug for StaffSessionRecord {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StaffSessionRecord")
            .field("id_hash", &hex::encode(&self.id_hash))
            .field("staff_id", &self.staff_id)
            .field("issuer", &self.issuer)
            .field("idp_session_id", &self.idp_session_id)
            .field("csrf_token", &REDACTED)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    use super::*;

    #[test]
    fn session_records_keep_their_csrf_token_out_of_debug_output() {
        let at = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let token = "csrf-secret-4f1c9a".to_owned();
        let citizen = SessionRecord {
            id_hash: vec![1; 32],
            citizen_id: CitizenId::from_str("0123456789abcdef0123456789abcdef").expect("id"),
            issuer: "eid".into(),
            login_level: 2,
            idp_session_id: Some("sid".into()),
            csrf_token: token.clone(),
            created_at: at,
            last_seen_at: at,
        };
        let staff = StaffSessionRecord {
            id_hash: vec![2; 32],
            staff_id: "staff".into(),
            issuer: "staff".into(),
            idp_session_id: None,
            csrf_token: token.clone(),
            created_at: at,
            last_seen_at: at,
        };
        for printed in [format!("{citizen:?}"), format!("{staff:?}"), format!("{citizen:#?}")] {
            assert!(!printed.contains(&token), "{printed}");
            assert!(printed.contains(REDACTED) && printed.contains("issuer"), "{printed}");
        }
    }

    /// Real SQLite errors from sqlx: a write lock held by another connection
    /// (BUSY, extended code) is an outage; a constraint failure is not.
    #[tokio::test]
    async fn sqlite_busy_from_sqlx_is_unavailable_and_a_constraint_is_not() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", directory.path().join("t.db").display()))
            .expect("url")
            .create_if_missing(true)
            .busy_timeout(Duration::ZERO);
        let mut holder = SqliteConnection::connect_with(&options).await.expect("first connection");
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(&mut holder).await.expect("create");
        sqlx::query("INSERT INTO t VALUES (1)").execute(&mut holder).await.expect("insert");
        let duplicate = sqlx::query("INSERT INTO t VALUES (1)").execute(&mut holder).await.expect_err("duplicate");
        assert!(!StoreError::from(duplicate).is_unavailable(), "a constraint failure is no outage");

        sqlx::query("BEGIN IMMEDIATE").execute(&mut holder).await.expect("take the write lock");
        let mut waiter = SqliteConnection::connect_with(&options).await.expect("second connection");
        let busy = sqlx::query("BEGIN IMMEDIATE").execute(&mut waiter).await.expect_err("the lock is held");
        assert!(StoreError::from(busy).is_unavailable(), "SQLITE_BUSY is an outage");
    }

    #[test]
    fn connection_failures_are_unavailable_and_data_problems_are_not() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        let sqlite =
            |code| sqlite::audit::sqlite_error(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None));
        for unavailable in [
            StoreError::from(sqlx::Error::PoolTimedOut),
            StoreError::from(sqlx::Error::PoolClosed),
            StoreError::from(sqlx::Error::Io(refused)),
            StoreError::from(sqlx::Error::Io(reset)),
            sqlite(rusqlite::ffi::SQLITE_BUSY),
            sqlite(rusqlite::ffi::SQLITE_LOCKED),
        ] {
            assert!(unavailable.is_unavailable(), "{unavailable:?}");
        }
        for failure in [
            StoreError::from(sqlx::Error::RowNotFound),
            StoreError::Conflict(Conflict::Duplicate("citizens_pkey".to_owned())),
            StoreError::Corrupt("audit_head row is missing".to_owned()),
            StoreError::Worker("panicked".to_owned()),
            StoreError::UnsupportedUrl,
            sqlite(rusqlite::ffi::SQLITE_CONSTRAINT),
            sqlite(rusqlite::ffi::SQLITE_CORRUPT),
        ] {
            assert!(!failure.is_unavailable(), "{failure:?}");
        }
    }
}
