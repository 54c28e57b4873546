//! The vault's domain logic: citizen accounts, evidence upload (fields plus a
//! streamed file), viewing, download, deletion and account erasure. It joins
//! policy (what a type allows), crypto (sealing) and the store (sealed bytes).
//!
//! Architecture invariant: plaintext exists only inside these functions and
//! the response that carries it; what goes to the store is sealed first.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ring::rand::SecureRandom;

use crate::audit::log::AuditError;
use crate::audit::service::Audit;
use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::clock::Clock;
use crate::crypto::{
    CHUNK_SIZE, CryptoError, DataKey, FieldContext, FieldKey, FileOpener, FileSealer, KeyProvider, SEALED_CHUNK_SIZE,
};
use crate::ids::{CitizenId, EvidenceId, FileId};
use crate::policy::{EvidenceType, FieldError, LoginLevel, Policies, Refusal};
use crate::store::{EvidenceRecord, EvidenceSummary, FileRecord, SealedField, Store, StoreError};

/// Media types a file may have; detected from the content, never trusted
/// from the client.
pub const ALLOWED_MEDIA_TYPES: [&str; 3] = ["application/pdf", "image/png", "image/jpeg"];

/// The file name extension (without the dot) of a stored media type: what a
/// download is named by, never the extension of the name it was uploaded
/// under. `bin` for anything else (nothing else is ever stored).
pub fn file_extension(media_type: &str) -> &'static str {
    match media_type {
        "application/pdf" => "pdf",
        "image/png" => "png",
        "image/jpeg" => "jpg",
        _ => "bin",
    }
}

/// Sealed chunks are written to the store in batches of this many (2 MiB).
/// Measured with `cargo bench --bench upload` (1 GiB, eight interleaved
/// rounds): 32 was the fastest (255 MiB/s mean against 199 for 64, 177 for 16
/// and 98 for 8) and holds half the memory of 64.
const CHUNKS_PER_BATCH: usize = 32;

/// The most memory one [`FileUpload`] holds at once: the chunk being filled,
/// a full batch of sealed chunks, and the store's copy of that batch while it
/// is written (SQLite joins the batch into one blob write, PostgreSQL encodes
/// it into one statement). The HTTP layer budgets uploads with this.
pub const FILE_UPLOAD_PEAK_BYTES: usize = SEALED_CHUNK_SIZE * (1 + 2 * CHUNKS_PER_BATCH);

/// Name of the sealing context for a file's original name.
const FILE_NAME_CONTEXT: &str = "tresor:file_name";

mod access;
mod cache;
mod dpo;
mod drafts;
mod erasure;
mod feedback;
pub mod key_rotation;
mod my_data;
mod sessions;

pub use dpo::{Dpo, DpoQuery};
pub use drafts::{FORM_DRAFT_MINUTES, FormDraft};
pub use erasure::{ERASURE_LIST_REASON, ErasureApplyError};
pub use feedback::{
    FEEDBACK_CONTACT_MAX_CHARS, FEEDBACK_MESSAGE_MAX_CHARS, FEEDBACK_READ_REASON, Feedback, FeedbackProblem,
};
pub use my_data::{DATA_EXPORT_REASON, MyData};
pub use sessions::{
    BackChannelLogout, NewSession, SessionKind, SessionLimits, hash_token, random_token, session_event,
};

pub use access::{
    Approval, ApprovalProblem, Candidate, ConsentPreview, ConsentReview, DocumentChoice, MAX_REFERENCE_CHARS,
    RELEASE_FILE_WINDOW_MINUTES, REQUEST_LIFETIME_HOURS, Release, ReleasedEvidence, RequestStatus,
};

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("unknown evidence type")]
    UnknownType,
    #[error("some fields are not valid")]
    InvalidFields(Vec<FieldError>),
    #[error("evidence not found")]
    NotFound,
    #[error("this evidence type does not take a file")]
    FileNotAllowed,
    #[error("file type not allowed (PDF, PNG or JPEG only)")]
    UnsupportedFileType,
    #[error("file larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("this needs a higher login level")]
    LevelTooLow { required: LoginLevel },
    #[error("account not found")]
    NoAccount,
    /// No such service in the policy (or its department is unknown).
    #[error("unknown service")]
    UnknownService,
    /// The release decision (or a request rule) said no; the code is stable.
    #[error("refused: {}", .0.code())]
    Refused(Refusal),
    #[error("the access request has expired")]
    RequestExpired,
    #[error("the access request has been answered already")]
    RequestAnswered,
    #[error("the case reference is empty, too long or has control or invisible formatting characters")]
    InvalidReference,
    /// The uploaded file's name has control or invisible formatting characters.
    #[error("the file name has control or invisible formatting characters")]
    InvalidFileName,
    #[error("the approval is not valid: {}", .0.code())]
    InvalidApproval(ApprovalProblem),
    /// The audit entry could not be made durable, so nothing was done or released.
    #[error("audit log unavailable: {0}")]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
}

#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    policies: Arc<Policies>,
    clock: Arc<dyn Clock>,
    rng: Arc<dyn SecureRandom + Send + Sync>,
    audit: Arc<Audit>,
    /// Release-time reads (see `cache` for why this is safe).
    release_grants: Arc<cache::TtlCache<crate::store::ReleaseGrant>>,
    sealed_evidence: Arc<cache::TtlCache<EvidenceRecord>>,
    /// Where erasures are written before they are acknowledged (see
    /// `erasure`); None only in vaults built without one (benchmarks).
    erasure_list: Option<Arc<crate::backup::ErasureList>>,
}

/// Decrypted evidence for its owner.
pub struct EvidenceView {
    pub id: EvidenceId,
    pub type_id: String,
    pub created_at: DateTime<Utc>,
    /// (field name, value) in the order the type defines.
    pub fields: Vec<(String, String)>,
    pub file: Option<FileView>,
}

pub struct FileView {
    pub id: FileId,
    pub name: String,
    pub media_type: String,
    pub size: u64,
    pub chunk_count: u64,
}

/// A file upload in progress: bytes are sealed in 64 KiB chunks and written
/// in batches to a pending file row, invisible until the evidence is stored.
pub struct FileUpload {
    file_id: FileId,
    citizen: CitizenId,
    name: String,
    sealer: FileSealer,
    buffer: Vec<u8>,
    batch: Vec<(i64, Vec<u8>)>,
    next_index: i64,
    size: u64,
    limit: u64,
    media_type: Option<&'static str>,
}

/// A completely written (still pending) file, ready to attach to evidence.
pub struct FinishedFile {
    file_id: FileId,
    citizen: CitizenId,
    name: String,
    media_type: &'static str,
    size: u64,
    chunk_count: i64,
}

/// Reads and opens a stored file chunk by chunk (for streamed download).
pub struct FileReader {
    store: Arc<dyn Store>,
    opener: FileOpener,
    file_id: FileId,
    next_index: u64,
    chunk_count: u64,
}

impl Vault {
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyProvider>,
        policies: Arc<Policies>,
        clock: Arc<dyn Clock>,
        rng: Arc<dyn SecureRandom + Send + Sync>,
        audit: Arc<Audit>,
    ) -> Self {
        Self {
            release_grants: Arc::new(cache::TtlCache::new(clock.clone())),
            sealed_evidence: Arc::new(cache::TtlCache::new(clock.clone())),
            store,
            keys,
            policies,
            clock,
            rng,
            audit,
            erasure_list: None,
        }
    }

    /// Write every erasure to `list` before it is acknowledged.
    pub fn with_erasure_list(mut self, list: Arc<crate::backup::ErasureList>) -> Self {
        self.erasure_list = Some(list);
        self
    }

    pub fn audit(&self) -> &Arc<Audit> {
        &self.audit
    }

    /// Record what a citizen does with their own data, durably, before it
    /// takes effect.
    async fn record_citizen(
        &self,
        citizen: &CitizenId,
        action: Action,
        evidence: Option<&EvidenceId>,
        fields: Vec<String>,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<()> {
        let targets = Targets {
            subject: Some(citizen.to_string()),
            evidence: evidence.map(|id| vec![id.to_string()]).unwrap_or_default(),
            fields,
            ..Targets::default()
        };
        self.record_as_citizen(citizen, action, targets, outcome, reason).await
    }

    /// Record, durably, an event whose actor is the citizen.
    async fn record_as_citizen(
        &self,
        citizen: &CitizenId,
        action: Action,
        targets: Targets,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<()> {
        let event = AuditEvent {
            actor: Actor::Citizen(citizen.to_string()),
            action,
            targets,
            outcome,
            reason: reason.map(str::to_owned),
        };
        self.audit.record(event).await?;
        Ok(())
    }

    /// Record a refusal; a failure to record is logged (the request fails anyway).
    async fn record_refusal(
        &self,
        citizen: &CitizenId,
        action: Action,
        evidence: Option<&EvidenceId>,
        error: &VaultError,
    ) {
        let reason = match error {
            VaultError::NotFound => "not_found",
            VaultError::LevelTooLow { .. } => "login_level_too_low",
            VaultError::InvalidFields(_) => "invalid_fields",
            VaultError::UnknownType => "unknown_evidence_type",
            VaultError::FileNotAllowed => "file_not_allowed",
            _ => return,
        };
        // Someone else's evidence: the subject is not named (it is not theirs).
        if let Err(error) =
            self.record_citizen(citizen, action, evidence, Vec::new(), Outcome::Refused, Some(reason)).await
        {
            tracing::warn!(%error, "could not record a refusal in the audit log");
        }
    }

    pub fn policies(&self) -> &Policies {
        &self.policies
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn keys(&self) -> &Arc<dyn KeyProvider> {
        &self.keys
    }

    /// The vault's Ed25519 public key: checkpoints, release receipts, the JWK set.
    pub fn signing_public_key(&self) -> [u8; 32] {
        self.keys.signing_key().public_key()
    }

    /// A release receipt: a detached JWS over `payload` with the signing key.
    pub fn sign_receipt(&self, payload: &[u8]) -> Result<String> {
        Ok(crate::crypto::jws::sign_detached(self.keys.signing_key(), payload)?)
    }

    /// The keyed staff id of a verified staff login (never the raw subject).
    pub fn staff_id(&self, staff: &crate::identity::staff::StaffLogin, subject: &str) -> Result<String> {
        Ok(staff.staff_id(self.keys.pepper(), subject)?)
    }

    /// Entries in the audit log (the next sequence number).
    pub async fn audit_size(&self) -> Result<u64> {
        Ok(self.store.audit_size().await?)
    }

    /// The whole log checked as `tresor audit verify` checks it (one
    /// verifier: bodies against leaves, columns against bodies, the tree
    /// against every checkpoint signed by `public_key`).
    pub async fn verify_audit_log(
        &self,
        public_key: &[u8; 32],
    ) -> std::result::Result<crate::audit::verify::VerifyReport, crate::audit::verify::VerifyError> {
        crate::audit::verify::verify_log(self.store.as_ref(), public_key, None, &mut |_, _| {}).await
    }

    /// A citizen's own access log: the entries about them, newest first,
    /// older than `before` (keyset pagination). Reading one's own log is not
    /// itself recorded.
    pub async fn citizen_log(
        &self,
        citizen: &CitizenId,
        limit: u32,
        before: Option<u64>,
    ) -> Result<Vec<crate::store::StoredAuditEntry>> {
        let filter =
            crate::store::AuditFilter { subject: Some(citizen.to_string()), ..crate::store::AuditFilter::default() };
        Ok(self.store.audit_entries_newest_first(&filter, limit, before).await?)
    }

    async fn data_key(&self, citizen: &CitizenId) -> Result<DataKey> {
        let record = self.store.citizen(citizen).await?.ok_or(VaultError::NoAccount)?;
        Ok(self.with_current_keys(|keys| keys.unwrap_dek(citizen, record.kek_version, &record.wrapped_dek))?)
    }

    /// Before a new key is wrapped: pick up a KEK version that `tresor keys
    /// rotate-kek` added while the vault serves, so that no key is wrapped
    /// with a KEK the rotation is about to retire. A new key file that does
    /// not open is logged; the known current KEK is used meanwhile (the
    /// rotation counts such keys and re-wraps them).
    fn refresh_keys(&self) {
        if let Err(error) = self.keys.refresh() {
            tracing::error!(%error, "a new KEK version in the key directory does not open");
        }
    }

    /// An unwrap that meets a KEK version not known here (a rotation added it
    /// and re-wrapped this key since start): pick up new versions once and
    /// try again.
    fn with_current_keys<T>(
        &self,
        unwrap: impl Fn(&dyn KeyProvider) -> Result<T, CryptoError>,
    ) -> Result<T, CryptoError> {
        match unwrap(self.keys.as_ref()) {
            Err(CryptoError::UnknownKekVersion(version)) => {
                if self.keys.refresh()? {
                    unwrap(self.keys.as_ref())
                } else {
                    Err(CryptoError::UnknownKekVersion(version))
                }
            }
            other => other,
        }
    }

    fn evidence_type(&self, type_id: &str, level: LoginLevel) -> Result<&EvidenceType> {
        let evidence_type = self.policies.evidence_types.get(type_id).ok_or(VaultError::UnknownType)?;
        if level < evidence_type.min_login_level {
            return Err(VaultError::LevelTooLow { required: evidence_type.min_login_level });
        }
        Ok(evidence_type)
    }

    /// Start a file upload for `citizen`. `limit` is the maximum plaintext
    /// size. `name` is the name the client sent (see `display_file_name`);
    /// one with control or invisible formatting characters is refused before
    /// anything is stored.
    pub async fn begin_file(&self, citizen: &CitizenId, name: &str, limit: u64) -> Result<FileUpload> {
        let name = display_file_name(name)?;
        let dek = self.data_key(citizen).await?;
        let file_id = FileId::generate(self.rng.as_ref());
        self.store.begin_file(&file_id, citizen, self.clock.now()).await?;
        Ok(FileUpload {
            sealer: FileSealer::new(dek.file_key(&file_id), citizen, &file_id),
            file_id,
            citizen: citizen.clone(),
            name,
            buffer: Vec::with_capacity(SEALED_CHUNK_SIZE),
            batch: Vec::with_capacity(CHUNKS_PER_BATCH),
            next_index: 0,
            size: 0,
            limit,
            media_type: None,
        })
    }

    /// Store validated, sealed evidence (and attach a finished file). On any
    /// error the file is removed, so nothing is half-stored.
    #[tracing::instrument(skip_all, fields(type_id = %type_id))]
    pub async fn create_evidence(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        type_id: &str,
        input: &BTreeMap<String, String>,
        file: Option<FinishedFile>,
    ) -> Result<EvidenceId> {
        let result = self.create_evidence_inner(citizen, level, type_id, input, file.as_ref()).await;
        if let Err(error) = &result {
            self.record_refusal(citizen, Action::EvidenceUpload, None, error).await;
            if let Some(file) = file {
                self.abort_file(&file.file_id).await;
            }
        }
        result
    }

    async fn create_evidence_inner(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        type_id: &str,
        input: &BTreeMap<String, String>,
        file: Option<&FinishedFile>,
    ) -> Result<EvidenceId> {
        let evidence_type = self.evidence_type(type_id, level)?;
        let values = evidence_type.validate(input).map_err(VaultError::InvalidFields)?;
        if file.is_some() && !evidence_type.file_allowed {
            return Err(VaultError::FileNotAllowed);
        }
        let dek = self.data_key(citizen).await?;
        let id = EvidenceId::generate(self.rng.as_ref());
        let field_key = dek.field_key(&id);
        let mut fields = Vec::with_capacity(values.len());
        for (name, value) in &values {
            let context = FieldContext { citizen, evidence: &id, field: name };
            fields.push(SealedField {
                name: name.clone(),
                ciphertext: field_key.seal(self.rng.as_ref(), &context, value.as_bytes())?,
            });
        }
        let file_record = match file {
            Some(file) if &file.citizen == citizen => {
                let context = FieldContext { citizen, evidence: &id, field: FILE_NAME_CONTEXT };
                Some(FileRecord {
                    id: file.file_id.clone(),
                    media_type: file.media_type.to_owned(),
                    plaintext_size: i64::try_from(file.size).unwrap_or(i64::MAX),
                    chunk_count: file.chunk_count,
                    sealed_name: field_key.seal(self.rng.as_ref(), &context, file.name.as_bytes())?,
                })
            }
            Some(_) => return Err(VaultError::NotFound),
            None => None,
        };
        let field_names: Vec<String> = values.iter().map(|(name, _)| name.clone()).collect();
        self.record_citizen(citizen, Action::EvidenceUpload, Some(&id), field_names, Outcome::Success, None).await?;
        let record = EvidenceRecord {
            id: id.clone(),
            citizen_id: citizen.clone(),
            type_id: evidence_type.id.clone(),
            type_version: evidence_type.version,
            created_at: self.clock.now(),
            fields,
            file: file_record,
        };
        if let Err(error) = self.store.insert_evidence(&record).await {
            let _ = self
                .record_citizen(
                    citizen,
                    Action::EvidenceUpload,
                    Some(&id),
                    Vec::new(),
                    Outcome::Failed,
                    Some("store_failed"),
                )
                .await;
            return Err(error.into());
        }
        Ok(id)
    }

    /// Remove a pending file after a failed upload. Errors are logged: the
    /// stale-upload sweep removes what this could not.
    pub async fn abort_file(&self, file_id: &FileId) {
        if let Err(error) = self.store.abort_file(file_id).await {
            tracing::warn!(%error, "could not remove an aborted upload; the sweep will");
        }
    }

    pub async fn list_evidence(&self, citizen: &CitizenId) -> Result<Vec<EvidenceSummary>> {
        Ok(self.store.list_evidence(citizen).await?)
    }

    /// Decrypt one piece of evidence for its owner. Someone else's evidence
    /// is `NotFound`, exactly like evidence that does not exist.
    pub async fn evidence(&self, citizen: &CitizenId, level: LoginLevel, id: &EvidenceId) -> Result<EvidenceView> {
        Ok(self.evidence_and_key(citizen, level, id, Action::EvidenceView).await?.0)
    }

    /// The decrypted evidence and the citizen's DEK (unwrapped once). The
    /// access is in the audit log before anything is decrypted.
    async fn evidence_and_key(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        id: &EvidenceId,
        action: Action,
    ) -> Result<(EvidenceView, DataKey)> {
        let found = match self.store.evidence(citizen, id).await? {
            Some(record) => self.evidence_type(&record.type_id, level).map(|t| (record, t)),
            None => Err(VaultError::NotFound),
        };
        let (record, evidence_type) = match found {
            Ok(found) => found,
            Err(error) => {
                self.record_refusal(citizen, action, Some(id), &error).await;
                return Err(error);
            }
        };
        let field_names = record.fields.iter().map(|f| f.name.clone()).collect();
        self.record_citizen(citizen, action, Some(id), field_names, Outcome::Success, None).await?;
        let dek = self.data_key(citizen).await?;
        Ok((open_evidence(citizen, record, evidence_type, &dek)?, dek))
    }

    /// A reader of an opened evidence's file (see [`Vault::open_file`]).
    fn file_reader(&self, citizen: &CitizenId, dek: &DataKey, file: &FileView) -> FileReader {
        FileReader {
            store: self.store.clone(),
            opener: FileOpener::new(dek.file_key(&file.id), citizen, &file.id),
            file_id: file.id.clone(),
            next_index: 0,
            chunk_count: file.chunk_count,
        }
    }

    /// The evidence's file, opened chunk by chunk as the caller reads it.
    pub async fn open_file(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        id: &EvidenceId,
    ) -> Result<(FileView, FileReader)> {
        let (view, dek) = self.evidence_and_key(citizen, level, id, Action::EvidenceDownload).await?;
        let file = view.file.ok_or(VaultError::NotFound)?;
        let reader = self.file_reader(citizen, &dek, &file);
        Ok((file, reader))
    }

    pub async fn delete_evidence(&self, citizen: &CitizenId, id: &EvidenceId) -> Result<()> {
        if self.store.evidence(citizen, id).await?.is_none() {
            self.record_refusal(citizen, Action::EvidenceDelete, Some(id), &VaultError::NotFound).await;
            return Err(VaultError::NotFound);
        }
        self.record_citizen(citizen, Action::EvidenceDelete, Some(id), Vec::new(), Outcome::Success, None).await?;
        let deleted = self.store.delete_evidence(citizen, id).await?;
        self.sealed_evidence.forget(id.as_str());
        if deleted { Ok(()) } else { Err(VaultError::NotFound) }
    }

    /// Erase the account: the wrapped DEK and every row go. The citizen is
    /// put on the erasure list (durably) first, so that no restore of an
    /// older backup brings them back (see `erasure`).
    pub async fn erase_account(&self, citizen: &CitizenId) -> Result<()> {
        self.record_citizen(citizen, Action::AccountErase, None, Vec::new(), Outcome::Success, None).await?;
        self.remember_erasure(citizen).await?;
        let deleted = self.store.delete_citizen(citizen).await?;
        self.release_grants.forget_where(|grant| &grant.grant.citizen_id == citizen);
        self.sealed_evidence.forget_where(|evidence| &evidence.citizen_id == citizen);
        if deleted { Ok(()) } else { Err(VaultError::NoAccount) }
    }

    pub fn rng(&self) -> &(dyn SecureRandom + Send + Sync) {
        self.rng.as_ref()
    }

    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }
}

fn open_text(key: &FieldKey, citizen: &CitizenId, evidence: &EvidenceId, field: &str, sealed: &[u8]) -> Result<String> {
    let plaintext = key.open(&FieldContext { citizen, evidence, field }, sealed)?;
    String::from_utf8(plaintext).map_err(|_| VaultError::Store(StoreError::Corrupt("field is not UTF-8".into())))
}

/// A stored file's metadata with its name opened (`field_key` is the
/// evidence's).
fn open_file_view(
    field_key: &FieldKey,
    citizen: &CitizenId,
    evidence: &EvidenceId,
    file: FileRecord,
) -> Result<FileView> {
    Ok(FileView {
        name: open_text(field_key, citizen, evidence, FILE_NAME_CONTEXT, &file.sealed_name)?,
        id: file.id,
        media_type: file.media_type,
        size: u64::try_from(file.plaintext_size).map_err(|_| StoreError::Corrupt("negative file size".into()))?,
        chunk_count: u64::try_from(file.chunk_count).map_err(|_| StoreError::Corrupt("negative chunk count".into()))?,
    })
}

/// The name a file is sealed and shown under: the last path segment of what
/// the client sent (old browsers sent whole paths), at most 200 characters,
/// `file` if nothing is left. A name with characters `crate::text` refuses is
/// refused, not cleaned: a right-to-left override turns `Lohn<RLO>fdp.html`
/// into what reads as `Lohnlmth.pdf`, and a silently cleaned name would no
/// longer be the one the citizen sees in their file manager.
fn display_file_name(name: &str) -> Result<String> {
    if crate::text::has_refused_char(name) {
        return Err(VaultError::InvalidFileName);
    }
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let shortened: String = base.chars().take(200).collect();
    Ok(if shortened.trim().is_empty() { "file".to_owned() } else { shortened })
}

impl FileUpload {
    pub fn file_id(&self) -> &FileId {
        &self.file_id
    }

    /// Add bytes. Detects the media type from the first bytes and refuses
    /// anything but PDF, PNG and JPEG; refuses more than the limit.
    ///
    /// Bytes are copied once, into the chunk being filled; a full chunk is
    /// sealed in place only when more bytes follow (the last chunk is sealed
    /// by `finish`), so each sealed chunk is one allocation of exactly
    /// [`SEALED_CHUNK_SIZE`] and the upload never holds more than
    /// [`FILE_UPLOAD_PEAK_BYTES`], however large the pieces it is given.
    pub async fn write(&mut self, vault: &Vault, mut bytes: &[u8]) -> Result<()> {
        self.size += bytes.len() as u64;
        if self.size > self.limit {
            return Err(VaultError::TooLarge { limit: self.limit });
        }
        while !bytes.is_empty() {
            if self.buffer.len() == CHUNK_SIZE {
                let mut chunk = std::mem::replace(&mut self.buffer, Vec::with_capacity(SEALED_CHUNK_SIZE));
                self.sealer.seal_next_in_place(&mut chunk, false)?;
                self.push(vault, chunk).await?;
            }
            let take = (CHUNK_SIZE - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            // The first chunk holds the first bytes: sniff once it has enough.
            if self.media_type.is_none() && self.buffer.len() >= 16 {
                self.media_type = Some(sniff(&self.buffer)?);
            }
        }
        Ok(())
    }

    async fn push(&mut self, vault: &Vault, sealed: Vec<u8>) -> Result<()> {
        self.batch.push((self.next_index, sealed));
        self.next_index += 1;
        if self.batch.len() >= CHUNKS_PER_BATCH {
            self.flush(vault).await?;
        }
        Ok(())
    }

    async fn flush(&mut self, vault: &Vault) -> Result<()> {
        if !self.batch.is_empty() {
            vault.store.append_file_chunks(&self.file_id, &self.batch).await?;
            self.batch.clear();
        }
        Ok(())
    }

    /// Seal the last chunk and write everything out. The file stays pending
    /// until `Vault::create_evidence` attaches it.
    pub async fn finish(mut self, vault: &Vault) -> Result<FinishedFile> {
        let media_type = match self.media_type {
            Some(media_type) => media_type,
            None => sniff(&self.buffer)?,
        };
        let mut last = std::mem::take(&mut self.buffer);
        self.sealer.seal_next_in_place(&mut last, true)?;
        self.batch.push((self.next_index, last));
        self.next_index += 1;
        self.flush(vault).await?;
        Ok(FinishedFile {
            file_id: self.file_id,
            citizen: self.citizen,
            name: self.name,
            media_type,
            size: self.size,
            chunk_count: self.next_index,
        })
    }

    /// Give up: remove what was written.
    pub async fn abort(self, vault: &Vault) {
        vault.abort_file(&self.file_id).await;
    }
}

impl FinishedFile {
    pub fn file_id(&self) -> &FileId {
        &self.file_id
    }
}

/// Decrypt a stored evidence's fields (in the order its type defines) and
/// its file's description.
fn open_evidence(
    citizen: &CitizenId,
    record: EvidenceRecord,
    evidence_type: &EvidenceType,
    dek: &DataKey,
) -> Result<EvidenceView> {
    let id = &record.id;
    let field_key = dek.field_key(id);
    let mut fields = Vec::with_capacity(record.fields.len());
    for definition in &evidence_type.fields {
        if let Some(sealed) = record.fields.iter().find(|f| f.name == definition.name) {
            fields.push((sealed.name.clone(), open_text(&field_key, citizen, id, &sealed.name, &sealed.ciphertext)?));
        }
    }
    let file = record.file.map(|file| open_file_view(&field_key, citizen, id, file)).transpose()?;
    Ok(EvidenceView { id: record.id, type_id: record.type_id, created_at: record.created_at, fields, file })
}

fn sniff(head: &[u8]) -> Result<&'static str> {
    let detected = infer::get(head).map(|kind| kind.mime_type());
    ALLOWED_MEDIA_TYPES.into_iter().find(|allowed| Some(*allowed) == detected).ok_or(VaultError::UnsupportedFileType)
}

impl FileReader {
    /// The next plaintext chunk, or None at the end. A missing, reordered or
    /// truncated chunk fails to open.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<u8>>> {
        if self.next_index >= self.chunk_count {
            return Ok(None);
        }
        let index = self.next_index;
        let stored_index = i64::try_from(index).map_err(|_| StoreError::Corrupt("chunk index".into()))?;
        let sealed = self
            .store
            .file_chunk(&self.file_id, stored_index)
            .await?
            .ok_or_else(|| StoreError::Corrupt("file chunk missing".into()))?;
        let plaintext = self.opener.open_chunk(index, &sealed, index + 1 == self.chunk_count)?;
        self.next_index += 1;
        Ok(Some(plaintext))
    }
}
