//! The department API (contract in design.md): open an access request, poll
//! it, release a grant's fields with a signed receipt, fetch released files;
//! plus the public JWK set receipts verify against. Every call is
//! authenticated by the department's client certificate (`DepartmentCaller`).

use crate::audit::service::Covering;
use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::api::{file_response, parse_evidence_id};
use super::dept_auth::DepartmentCaller;
use super::error::{ApiError, ApiResult, json_body};
use crate::crypto::jws::Jwk;
use crate::ids::{GrantId, RequestId};

/// Response header carrying the detached JWS over the response body.
pub const RECEIPT_HEADER: &str = "tresor-receipt";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRequest {
    service: String,
    reference: String,
}

#[derive(Serialize)]
struct CreatedRequest {
    id: String,
    approve_url: String,
    expires_at: DateTime<Utc>,
}

#[derive(Serialize)]
pub struct RequestStatusBody {
    id: String,
    service: String,
    reference: String,
    status: &'static str,
    expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
}

/// `POST /api/v1/dept/requests {service, reference}` -> 201.
pub async fn create_request(
    State(app): State<AppState>,
    caller: DepartmentCaller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let input: NewRequest = json_body(&headers, &body)?;
    let request = app.vault.create_access_request(caller.department(), &input.service, &input.reference).await?;
    let approve_url = format!("{}/requests/{}", app.config.public_base_url(), request.id);
    let location = format!("/api/v1/dept/requests/{}", request.id);
    let mut response = (
        StatusCode::CREATED,
        Json(CreatedRequest { id: request.id.to_string(), approve_url, expires_at: request.expires_at }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// `GET /api/v1/dept/requests/{id}`: status and, once approved, the grant id.
pub async fn request_status(
    State(app): State<AppState>,
    caller: DepartmentCaller,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestStatusBody>> {
    let id: RequestId = id.parse().map_err(|_| ApiError::not_found())?;
    let (request, status) = app.vault.access_request_for_department(caller.department(), &id).await?;
    Ok(Json(RequestStatusBody {
        id: request.id.to_string(),
        service: request.service,
        reference: request.reference,
        status: status.as_str(),
        expires_at: request.expires_at,
        grant_id: request.grant_id.map(|id| id.to_string()),
    }))
}

#[derive(Serialize)]
struct ReleaseBody {
    grant_id: String,
    service: String,
    /// The citizen's pairwise pseudonym for this department.
    subject: String,
    evidence: Vec<ReleasedEvidenceBody>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    uses_left: u32,
    audit: AuditRef,
}

#[derive(Serialize)]
struct ReleasedEvidenceBody {
    #[serde(rename = "type")]
    type_id: String,
    fields: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<ReleasedFileBody>,
}

#[derive(Serialize)]
struct ReleasedFileBody {
    href: String,
    media_type: String,
    size: u64,
    available_until: DateTime<Utc>,
}

#[derive(Serialize)]
struct AuditRef {
    /// Sequence number of this release's audit entry.
    index: u64,
    /// The latest signed checkpoint (it may not include this entry yet;
    /// `GET /api/v1/audit/checkpoint` gives newer ones).
    checkpoint: Option<CheckpointRef>,
    /// Where the entry's inclusion proof is: a checkpoint covering it is
    /// signed on request (at most one such per second for the vault).
    proof: String,
}

#[derive(Serialize)]
struct CheckpointRef {
    size: u64,
    note: String,
}

/// `GET /api/v1/dept/grants/{id}/release`: the released fields, with a
/// detached JWS receipt over the exact body in the `Tresor-Receipt` header.
pub async fn release(
    State(app): State<AppState>,
    caller: DepartmentCaller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id: GrantId = id.parse().map_err(|_| ApiError::not_found())?;
    let release = app.vault.release(caller.department(), &id).await?;
    let checkpoint = app.vault.audit().recent_checkpoint().await?;
    let available_until = release.issued_at + chrono::Duration::minutes(crate::vault::RELEASE_FILE_WINDOW_MINUTES);
    let body = ReleaseBody {
        grant_id: release.grant.id.to_string(),
        service: release.grant.service.clone(),
        subject: release.subject,
        evidence: release
            .evidence
            .into_iter()
            .map(|evidence| ReleasedEvidenceBody {
                file: evidence.file.map(|file| ReleasedFileBody {
                    href: format!(
                        "/api/v1/dept/grants/{}/releases/{}/files/{}",
                        release.grant.id, release.audit_index, evidence.evidence_id
                    ),
                    media_type: file.media_type,
                    size: file.size,
                    available_until,
                }),
                type_id: evidence.type_id,
                fields: evidence.fields.into_iter().collect(),
            })
            .collect(),
        issued_at: release.issued_at,
        expires_at: release.grant.expires_at,
        uses_left: release.uses_left,
        audit: AuditRef {
            index: release.audit_index,
            checkpoint: checkpoint.map(|checkpoint| CheckpointRef { size: checkpoint.size, note: checkpoint.note }),
            proof: format!("/api/v1/dept/grants/{}/releases/{}/proof", release.grant.id, release.audit_index),
        },
    };
    let bytes = serde_json::to_vec(&body).map_err(|error| ApiError::internal(&error))?;
    let receipt = app.vault.sign_receipt(&bytes)?;
    let mut response = Response::new(axum::body::Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&receipt) {
        headers.insert(RECEIPT_HEADER, value);
    }
    Ok(response)
}

/// `GET /api/v1/dept/grants/{id}/releases/{index}/files/{evidence}`: a file a
/// release named, streamed, shortly after that release.
pub async fn released_file(
    State(app): State<AppState>,
    caller: DepartmentCaller,
    Path((id, index, evidence)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    let id: GrantId = id.parse().map_err(|_| ApiError::not_found())?;
    let index: u64 = index.parse().map_err(|_| ApiError::not_found())?;
    let evidence = parse_evidence_id(&evidence)?;
    let (mut view, reader) = app.vault.open_released_file(caller.department(), &id, index, &evidence).await?;
    // The citizen's own file name stays with the citizen: `document.pdf`
    // (`file_response` adds the stored type's extension).
    view.name = "document".to_owned();
    Ok(file_response(view, reader))
}

/// `GET /api/v1/keys`: the JWK set that release receipts verify against.
pub async fn keys(State(app): State<AppState>) -> Response {
    let jwk = Jwk::ed25519(&app.vault.signing_public_key());
    let mut response = Json(serde_json::json!({ "keys": [jwk] })).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// The proof that a release is in the audit log.
#[derive(Serialize)]
pub struct ReleaseProofBody {
    index: u64,
    /// The exact bytes of the entry; SHA-256(0x00 ‖ body) is `leaf_hash`.
    body: Option<String>,
    leaf_hash: String,
    /// A checkpoint covering the entry (C2SP signed note), or null while
    /// none does yet.
    checkpoint: Option<String>,
    /// RFC 9162 inclusion proof (hex) to `checkpoint`; null while pending.
    inclusion_proof: Option<Vec<String>>,
    /// Set while pending: ask again after this many seconds.
    retry_after_seconds: Option<u64>,
}

/// `GET /api/v1/dept/grants/{id}/releases/{index}/proof`: the inclusion
/// proof of the caller's own release at `index` against a checkpoint that
/// covers it (signed now if none does and none was signed on request in the
/// last second). Any other entry is 404.
pub async fn release_proof(
    State(app): State<AppState>,
    caller: DepartmentCaller,
    Path((id, index)): Path<(String, String)>,
) -> ApiResult<Json<ReleaseProofBody>> {
    let id: GrantId = id.parse().map_err(|_| ApiError::not_found())?;
    let index: u64 = index.parse().map_err(|_| ApiError::not_found())?;
    let row = app.vault.release_entry(caller.department(), &id, index).await?.ok_or_else(ApiError::not_found)?;
    let audit = app.vault.audit();
    let (checkpoint, inclusion_proof, retry_after_seconds) = match audit.checkpoint_covering(index).await? {
        Covering::Covered(checkpoint) => {
            let mut proofs = audit.inclusion_proofs(checkpoint.size, &[index]).await?;
            let proof = proofs.pop().flatten().map(|proof| proof.iter().map(hex::encode).collect());
            (Some(checkpoint.note), proof, None)
        }
        Covering::Pending { retry_after, .. } => {
            (None, None, Some(retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)))
        }
    };
    Ok(Json(ReleaseProofBody {
        index,
        body: row.body.as_deref().and_then(|body| std::str::from_utf8(body).ok()).map(str::to_owned),
        leaf_hash: hex::encode(&row.leaf_hash),
        checkpoint,
        inclusion_proof,
        retry_after_seconds,
    }))
}
