//! The audit log for its audiences: the latest signed checkpoint (public)
//! and, for a logged-in citizen, every entry about them with an inclusion
//! proof against that checkpoint.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AppState;
use super::error::ApiResult;
use super::session::CitizenSession;
use crate::store::AuditFilter;

/// How many entries the citizen view returns (newest last).
const CITIZEN_VIEW_LIMIT: u32 = 1000;

#[derive(Serialize)]
pub struct CheckpointBody {
    /// The C2SP signed note (origin, size, base64 root, signature).
    checkpoint: Option<String>,
    size: u64,
    /// `name+keyid+base64(0x01||pubkey)`, for any signed-note verifier.
    verifier_key: String,
}

pub async fn checkpoint(State(app): State<AppState>) -> ApiResult<Json<CheckpointBody>> {
    let audit = app.vault.audit();
    let latest = audit.latest_checkpoint().await?;
    Ok(Json(CheckpointBody {
        size: latest.as_ref().map_or(0, |c| c.size),
        checkpoint: latest.map(|c| c.note),
        verifier_key: audit.verifier_key(),
    }))
}

#[derive(Serialize)]
pub struct MyAccessEntry {
    sequence: i64,
    /// The exact entry as stored (its SHA-256 with a 0x00 prefix is the leaf).
    entry: serde_json::Value,
    leaf_hash: String,
    /// Sibling hashes (hex, RFC 9162 order) from the leaf to the checkpoint
    /// root; null while the entry is newer than the latest checkpoint.
    inclusion_proof: Option<Vec<String>>,
}

#[derive(Serialize)]
pub struct MyAccessLog {
    checkpoint: Option<String>,
    checkpoint_size: u64,
    verifier_key: String,
    entries: Vec<MyAccessEntry>,
}

/// Every entry about the logged-in citizen, with inclusion proofs.
pub async fn my_access_log(State(app): State<AppState>, citizen: CitizenSession) -> ApiResult<Json<MyAccessLog>> {
    let audit = app.vault.audit();
    let filter = AuditFilter { subject: Some(citizen.citizen().to_string()), ..AuditFilter::default() };
    let stored = app.vault.store().audit_entries(&filter, CITIZEN_VIEW_LIMIT, None).await?;
    let latest = audit.latest_checkpoint().await?;
    let size = latest.as_ref().map_or(0, |c| c.size);
    let sequences: Vec<u64> = stored.iter().map(|e| u64::try_from(e.sequence).unwrap_or(u64::MAX)).collect();
    let proofs = if size > 0 { audit.inclusion_proofs(size, &sequences).await? } else { vec![None; sequences.len()] };
    let entries = stored
        .into_iter()
        .zip(proofs)
        .map(|(entry, proof)| MyAccessEntry {
            sequence: entry.sequence,
            entry: entry
                .body
                .as_deref()
                .and_then(|body| serde_json::from_slice(body).ok())
                .unwrap_or(serde_json::Value::Null),
            leaf_hash: hex::encode(&entry.leaf_hash),
            inclusion_proof: proof.map(|hashes| hashes.iter().map(hex::encode).collect()),
        })
        .collect();
    Ok(Json(MyAccessLog {
        checkpoint_size: size,
        checkpoint: latest.map(|c| c.note),
        verifier_key: audit.verifier_key(),
        entries,
    }))
}
