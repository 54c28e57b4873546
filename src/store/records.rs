//! The records the store keeps (sealed bytes, wrapped keys and keyed hashes
//! only) and how their values are stored in columns both backends share.

use chrono::{DateTime, Utc};

use super::{Result, StoreError};
use crate::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};

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

    pub(super) fn parse(text: &str) -> Result<Self> {
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
    /// The citizen left the documents' files out (where the service's
    /// policy allows it): releases carry the approved fields only.
    pub without_files: bool,
}

/// A grant and its citizen's wrapped DEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseGrant {
    pub grant: GrantRecord,
    pub wrapped_dek: Vec<u8>,
    pub kek_version: u32,
}

/// A message from the accessibility statement's feedback form, as stored
/// (`feedback_messages`). Not evidence: anyone may write one, without
/// logging in; nothing links it to a citizen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackRecord {
    /// Given by the database, ascending in the order received.
    pub id: i64,
    pub received_at: DateTime<Utc>,
    /// The language of the page it was written on (`de`, `en`).
    pub lang: String,
    pub message: String,
    /// How the writer wants an answer, as they typed it; may be empty.
    pub contact: String,
}

// --- stored values -----------------------------------------------------------

/// Timestamps are stored as unix microseconds; finer precision is truncated.
pub(super) fn time_to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

pub(super) fn time_from_micros(column: &str, micros: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("{column}: timestamp out of range")))
}

pub(super) fn parse_stored_id<Id: std::str::FromStr>(column: &str, text: &str) -> Result<Id> {
    text.parse().map_err(|_| StoreError::Corrupt(format!("{column}: not a valid id")))
}

pub(super) fn json_list<T: serde::Serialize>(items: &[T]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}

pub(super) fn parse_json_list(column: &str, text: &str) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("{column}: not a JSON list of strings")))
}

pub(super) fn stored_count(column: &str, value: i64) -> Result<u32> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column}: out of range")))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

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
}

/// A form draft: what a citizen typed into a form whose session had ended
/// (`vault::drafts`). Found by the SHA-256 of a random cookie value; the
/// values are sealed with a key of the draft's own, wrapped by the KEK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormDraftRecord {
    pub id_hash: Vec<u8>,
    pub kek_version: u32,
    pub wrapped_key: Vec<u8>,
    pub sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Where a KEK-wrapped key is stored (`tresor keys rotate-kek` re-wraps both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappedKeyTable {
    /// A citizen's DEK (`citizens.wrapped_dek`, key = the citizen id).
    Citizens,
    /// A form draft's key (`form_drafts.wrapped_key`, key = the lookup hash).
    FormDrafts,
}

/// A wrapped key as read: its table, its row's key (a citizen id's bytes or a
/// draft's lookup hash), the KEK version and the wrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKeyRecord {
    pub table: WrappedKeyTable,
    pub key: Vec<u8>,
    pub kek_version: u32,
    pub wrapped: Vec<u8>,
}

/// Replace `old` (only if the row still holds exactly it) by `wrapped` under
/// KEK `kek_version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRewrap {
    pub old: WrappedKeyRecord,
    pub kek_version: u32,
    pub wrapped: Vec<u8>,
}
