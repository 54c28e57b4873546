//! The audit log for its audiences: the latest signed checkpoint (public)
//! and, for a logged-in citizen, every entry about them with an inclusion
//! proof against that checkpoint.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::i18n::{Msg, t};
use super::pages;
use super::session::CitizenSession;
use super::web::Page;
use crate::audit::checkpoint::open_signed;
use crate::audit::merkle::{Hash, consistency_proof, verify_inclusion};
use crate::audit::service::SignedCheckpoint;
use crate::audit::{Action, Actor, Outcome};
use crate::policy::{Lang, Policies};
use crate::store::{AuditFilter, StoredAuditEntry};

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

#[derive(serde::Deserialize)]
pub struct ConsistencyQuery {
    old: Option<String>,
    new: Option<String>,
}

#[derive(Serialize)]
pub struct ConsistencyBody {
    old_size: u64,
    new_size: u64,
    /// RFC 9162 §2.1.4 consistency proof (hex), from `old_size` to `new_size`.
    proof: Vec<String>,
}

/// `GET /api/v1/audit/consistency?old=M[&new=N]`: proof that the tree of
/// size N (default: the latest checkpoint) extends the tree of size M, so a
/// checkpoint saved earlier can be checked against a newer one.
pub async fn consistency(
    State(app): State<AppState>,
    Query(query): Query<ConsistencyQuery>,
) -> ApiResult<Json<ConsistencyBody>> {
    let parse = |name: &str, value: &str| {
        value.parse::<u64>().map_err(|_| {
            ApiError::bad_request("invalid_tree_size", format!("`{name}` must be a whole number of entries."))
        })
    };
    let old_size = match query.old.as_deref() {
        Some(value) => parse("old", value)?,
        None => return Err(ApiError::bad_request("invalid_tree_size", "`old` (a tree size) is missing.")),
    };
    let new_size = match query.new.as_deref() {
        Some(value) => parse("new", value)?,
        None => app.vault.audit().latest_checkpoint().await?.map_or(0, |c| c.size),
    };
    let log_size = app.vault.store().audit_size().await?;
    if old_size > new_size || new_size > log_size {
        return Err(ApiError::bad_request(
            "invalid_tree_size",
            format!("Sizes must satisfy old <= new <= {log_size} (the log's size)."),
        ));
    }
    let leaves = app.vault.store().audit_leaf_hashes(0, new_size).await?;
    let proof = consistency_proof(&leaves, old_size)
        .map_err(|_| ApiError::bad_request("invalid_tree_size", "No proof exists for these sizes."))?;
    Ok(Json(ConsistencyBody { old_size, new_size, proof: proof.iter().map(hex::encode).collect() }))
}

/// The entries about one citizen with their inclusion proofs against the
/// latest checkpoint.
struct CitizenLog {
    checkpoint: Option<SignedCheckpoint>,
    entries: Vec<(StoredAuditEntry, Option<Vec<Hash>>)>,
}

async fn load_citizen_log(app: &AppState, citizen: &CitizenSession) -> ApiResult<CitizenLog> {
    let audit = app.vault.audit();
    let filter = AuditFilter { subject: Some(citizen.citizen().to_string()), ..AuditFilter::default() };
    let stored = app.vault.store().audit_entries(&filter, CITIZEN_VIEW_LIMIT, None).await?;
    let checkpoint = audit.latest_checkpoint().await?;
    let size = checkpoint.as_ref().map_or(0, |c| c.size);
    let sequences: Vec<u64> = stored.iter().map(|e| u64::try_from(e.sequence).unwrap_or(u64::MAX)).collect();
    let proofs = if size > 0 { audit.inclusion_proofs(size, &sequences).await? } else { vec![None; sequences.len()] };
    Ok(CitizenLog { checkpoint, entries: stored.into_iter().zip(proofs).collect() })
}

/// Every entry about the logged-in citizen, with inclusion proofs.
pub async fn my_access_log(State(app): State<AppState>, citizen: CitizenSession) -> ApiResult<Json<MyAccessLog>> {
    let audit = app.vault.audit();
    let CitizenLog { checkpoint: latest, entries } = load_citizen_log(&app, &citizen).await?;
    let size = latest.as_ref().map_or(0, |c| c.size);
    let entries = entries
        .into_iter()
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

/// The citizen's access log as a page: every entry in plain words, each
/// proof checked against the signed checkpoint (the JSON lets anyone check
/// the same independently).
pub async fn access_log_page(State(app): State<AppState>, page: Page) -> Response {
    let result = async {
        let citizen = page.session.as_ref().ok_or_else(ApiError::not_logged_in)?;
        let log = load_citizen_log(&app, citizen).await?;
        let lang = page.lang();
        let me = citizen.citizen().to_string();
        let public_key = app.vault.keys().signing_key().public_key();
        let opened =
            log.checkpoint.as_ref().and_then(|c| open_signed(&c.note, app.vault.audit().origin(), &public_key).ok());
        let items: Vec<pages::AccessLogItem> = log
            .entries
            .iter()
            .filter_map(|(stored, proof)| {
                let entry = stored.entry()?.ok()?;
                let proof_ok = match (proof, &opened) {
                    (Some(proof), Some(checkpoint)) => Some(
                        verify_inclusion(&entry.leaf_hash(), entry.sequence, checkpoint.size, proof, &checkpoint.root)
                            .is_ok(),
                    ),
                    _ => None,
                };
                Some(pages::AccessLogItem {
                    sequence: entry.sequence,
                    time: entry.time,
                    who: actor_label(app.vault.policies(), lang, &entry.event.actor, &me),
                    what: t(lang, action_message(entry.event.action)).to_owned(),
                    result: t(
                        lang,
                        match entry.event.outcome {
                            Outcome::Success => Msg::OutcomeSuccess,
                            Outcome::Refused => Msg::OutcomeRefused,
                            Outcome::Failed => Msg::OutcomeFailed,
                        },
                    )
                    .to_owned(),
                    proof_ok,
                })
            })
            .collect();
        let size = opened.map_or(0, |c| c.size);
        Ok::<_, ApiError>(page.respond(&app, StatusCode::OK, pages::access_log_page(&page.ctx, &items, size)))
    }
    .await;
    result.unwrap_or_else(|error| page.error(&app, error))
}

/// Who acted, in words: departments by their name from the policy.
fn actor_label(policies: &Policies, lang: Lang, actor: &Actor, me: &str) -> String {
    match actor {
        Actor::Citizen(id) if id == me => t(lang, Msg::ActorYou).to_owned(),
        Actor::Citizen(_) => t(lang, Msg::ActionOther).to_owned(),
        Actor::Department(department) => policies.department_name(department, lang),
        Actor::Staff(_) => t(lang, Msg::ActorStaff).to_owned(),
        Actor::System => t(lang, Msg::ActorSystem).to_owned(),
    }
}

fn action_message(action: Action) -> Msg {
    match action {
        Action::Login => Msg::ActionLogin,
        Action::Logout => Msg::ActionLogout,
        Action::EvidenceUpload => Msg::ActionUpload,
        Action::EvidenceView => Msg::ActionView,
        Action::EvidenceDownload => Msg::ActionDownload,
        Action::EvidenceDelete => Msg::ActionDelete,
        Action::AccountErase => Msg::ActionErase,
        Action::Release => Msg::ActionRelease,
        Action::AccessRequestCreate => Msg::ActionRequestCreate,
        Action::AccessRequestApprove => Msg::ActionRequestApprove,
        Action::AccessRequestDeny => Msg::ActionRequestDeny,
        Action::GrantRevoke => Msg::ActionGrantRevoke,
        _ => Msg::ActionOther,
    }
}
