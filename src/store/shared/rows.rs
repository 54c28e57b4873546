//! Rows of the tables both backends share, decoded into records: the
//! same columns and types on both engines (times as microseconds, ids as
//! text, lists as JSON text).

use sqlx::{Database, Row};

use super::Db;
use crate::store::error::driver_error;
use crate::store::records::{parse_json_list, parse_stored_id, stored_count, time_from_micros};
use crate::store::{
    AccessRequestRecord, CitizenRecord, EvidenceRecord, EvidenceSummary, FileRecord, FormDraftRecord, GrantRecord,
    PendingLogin, ReleaseGrant, RequestState, Result, SealedField, SessionRecord, StaffSessionRecord, StoreError,
    StoredAuditEntry,
};

type DbRow = <Db as Database>::Row;

/// An `access_requests` row.
pub(super) fn access_request(row: &DbRow) -> Result<AccessRequestRecord> {
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

/// A `grants` row.
pub(super) fn grant(row: &DbRow) -> Result<GrantRecord> {
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
        without_files: row.try_get("without_files").map_err(driver_error)?,
    })
}

/// A `citizens` row.
pub(super) fn citizen(row: &DbRow) -> Result<CitizenRecord> {
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

/// A `pending_logins` row.
pub(super) fn pending_login(row: &DbRow) -> Result<PendingLogin> {
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

/// A `form_drafts` row.
pub(super) fn form_draft(row: &DbRow) -> Result<FormDraftRecord> {
    let kek_version: i64 = row.try_get("kek_version").map_err(driver_error)?;
    Ok(FormDraftRecord {
        id_hash: row.try_get("id_hash").map_err(driver_error)?,
        kek_version: u32::try_from(kek_version)
            .map_err(|_| StoreError::Corrupt("form_drafts.kek_version out of range".to_owned()))?,
        wrapped_key: row.try_get("wrapped_key").map_err(driver_error)?,
        sealed: row.try_get("sealed").map_err(driver_error)?,
        created_at: time_from_micros("form_drafts.created_at", row.try_get("created_at").map_err(driver_error)?)?,
    })
}

/// A `sessions` row.
pub(super) fn session(row: &DbRow) -> Result<SessionRecord> {
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

/// An `audit_entries` row.
pub(super) fn stored_audit_entry(row: &DbRow) -> Result<StoredAuditEntry> {
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

/// A `staff_sessions` row.
pub(super) fn staff_session(row: &DbRow) -> Result<StaffSessionRecord> {
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

/// An evidence row (joined with its file).
pub(super) fn evidence(row: &DbRow, fields: Vec<SealedField>) -> Result<EvidenceRecord> {
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

/// An `evidence` row of a listing (`has_file`: whether it has a file).
pub(super) fn evidence_summary(row: &DbRow) -> Result<EvidenceSummary> {
    Ok(EvidenceSummary {
        id: parse_stored_id("evidence.id", &row.try_get::<String, _>("id").map_err(driver_error)?)?,
        type_id: row.try_get("type_id").map_err(driver_error)?,
        created_at: time_from_micros("evidence.created_at", row.try_get("created_at").map_err(driver_error)?)?,
        has_file: row.try_get("has_file").map_err(driver_error)?,
    })
}

/// An `evidence_fields` row (name, ciphertext).
pub(super) fn sealed_field(row: &DbRow) -> Result<SealedField> {
    Ok(SealedField {
        name: row.try_get("name").map_err(driver_error)?,
        ciphertext: row.try_get("ciphertext").map_err(driver_error)?,
    })
}

/// A `grants` row joined with its citizen's wrapped DEK and KEK version.
pub(super) fn release_grant(row: &DbRow) -> Result<ReleaseGrant> {
    Ok(ReleaseGrant {
        grant: grant(row)?,
        wrapped_dek: row.try_get("wrapped_dek").map_err(driver_error)?,
        kek_version: stored_count("citizens.kek_version", row.try_get("kek_version").map_err(driver_error)?)?,
    })
}
