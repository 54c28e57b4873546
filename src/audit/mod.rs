//! The tamper-evident audit log: every access to a citizen's data is an
//! entry; entries are leaves of an RFC 6962 Merkle tree whose signed
//! checkpoints (C2SP tlog-checkpoint) citizens and data-protection officers
//! can verify with inclusion and consistency proofs.
//!
//! Architecture invariant: an entry never holds a field value, a file name,
//! a token or an eID subject: only ids, field names, codes and outcomes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod append;
pub mod checkpoint;
pub mod cosignature;
pub mod log;
pub mod merkle;
pub mod service;
pub mod tiles;
pub mod verify;
pub mod witnessing;

pub use append::{AppendedAudit, AuditAppend};

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Actor {
    Citizen(String),
    Department(String),
    Staff(String),
    System,
}

/// What happened (stable names; the citizen page translates them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Login,
    Logout,
    EvidenceUpload,
    EvidenceView,
    EvidenceDownload,
    EvidenceDelete,
    AccountErase,
    AccessRequestCreate,
    AccessRequestApprove,
    AccessRequestDeny,
    AccessRequestExpire,
    GrantRevoke,
    Release,
    PolicyLoad,
    KeyOperation,
    AuditQuery,
}

// A new action fails to compile here until it is added to `Action::ALL` too.
const _: fn(Action) = |action| match action {
    Action::Login
    | Action::Logout
    | Action::EvidenceUpload
    | Action::EvidenceView
    | Action::EvidenceDownload
    | Action::EvidenceDelete
    | Action::AccountErase
    | Action::AccessRequestCreate
    | Action::AccessRequestApprove
    | Action::AccessRequestDeny
    | Action::AccessRequestExpire
    | Action::GrantRevoke
    | Action::Release
    | Action::PolicyLoad
    | Action::KeyOperation
    | Action::AuditQuery => {}
};

impl Action {
    /// Every action, in declaration order (DPO filters, the words for each).
    pub const ALL: [Action; 16] = [
        Action::Login,
        Action::Logout,
        Action::EvidenceUpload,
        Action::EvidenceView,
        Action::EvidenceDownload,
        Action::EvidenceDelete,
        Action::AccountErase,
        Action::AccessRequestCreate,
        Action::AccessRequestApprove,
        Action::AccessRequestDeny,
        Action::AccessRequestExpire,
        Action::GrantRevoke,
        Action::Release,
        Action::PolicyLoad,
        Action::KeyOperation,
        Action::AuditQuery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Login => "login",
            Action::Logout => "logout",
            Action::EvidenceUpload => "evidence_upload",
            Action::EvidenceView => "evidence_view",
            Action::EvidenceDownload => "evidence_download",
            Action::EvidenceDelete => "evidence_delete",
            Action::AccountErase => "account_erase",
            Action::AccessRequestCreate => "access_request_create",
            Action::AccessRequestApprove => "access_request_approve",
            Action::AccessRequestDeny => "access_request_deny",
            Action::AccessRequestExpire => "access_request_expire",
            Action::GrantRevoke => "grant_revoke",
            Action::Release => "release",
            Action::PolicyLoad => "policy_load",
            Action::KeyOperation => "key_operation",
            Action::AuditQuery => "audit_query",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    Refused,
    Failed,
}

/// What it was about. Ids and names only, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    /// The citizen whose data this concerns (the data subject).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub evidence: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub fields: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grant: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub department: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    /// For a release: which use of the grant this was (1 = first).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grant_use: Option<u32>,
}

/// An event to append; the log assigns sequence number and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub actor: Actor,
    pub action: Action,
    pub targets: Targets,
    pub outcome: Outcome,
    /// A stable reason code (e.g. `login_level_too_low`), never free text.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

/// A stored entry: the leaf of the Merkle tree is SHA-256(0x00 || body)
/// where body is `canonical_body()`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub sequence: u64,
    pub time: DateTime<Utc>,
    #[serde(flatten)]
    pub event: AuditEvent,
}

impl AuditEntry {
    /// The exact bytes that are hashed into the leaf: compact JSON with a
    /// fixed field order (struct order; serde_json keeps it).
    pub fn canonical_body(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn leaf_hash(&self) -> [u8; 32] {
        merkle::leaf_hash(&self.canonical_body())
    }
}
