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
use utoipa::ToSchema;

use super::AppState;
use super::api::{file_response, parse_evidence_id};
use super::dept_auth::DepartmentCaller;
use super::error::{ApiError, ApiResult, json_body};
use super::openapi::tags;
use crate::crypto::jws::Jwk;
use crate::ids::{GrantId, RequestId};

/// Response header carrying the detached JWS over the response body.
pub const RECEIPT_HEADER: &str = "tresor-receipt";

/// A department's request for access to a citizen's evidence.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// A service of the calling department (`policies/services`).
    service: String,
    /// The department's case reference (shown to the citizen): 1 to 100
    /// characters after trimming, no control or invisible format characters.
    reference: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedRequest {
    id: String,
    /// Where the citizen answers the request (give it to the citizen).
    approve_url: String,
    /// Until when the citizen can answer.
    expires_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct RequestStatusBody {
    id: String,
    service: String,
    reference: String,
    #[schema(value_type = RequestStatusName)]
    status: &'static str,
    expires_at: DateTime<Utc>,
    /// Once approved: the grant to release.
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<String>,
}

/// Where a request stands.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: `RequestStatus::as_str` writes these names
pub enum RequestStatusName {
    Pending,
    Approved,
    Denied,
    Expired,
}

/// `POST /api/v1/dept/requests {service, reference}` -> 201.
#[utoipa::path(post, path = "/api/v1/dept/requests", tag = tags::DEPARTMENT,
    security(("department_certificate" = [])),
    request_body(content = NewRequest, content_type = "application/json"),
    responses((status = 201, description = "The request is open for the citizen.", body = CreatedRequest,
        headers(("Location" = String, description = "`/api/v1/dept/requests/{id}`")))))]
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
#[utoipa::path(get, path = "/api/v1/dept/requests/{id}", tag = tags::DEPARTMENT,
    security(("department_certificate" = [])),
    params(("id" = String, Path, description = "The request id.")),
    responses((status = 200, description = "The request's status.", body = RequestStatusBody)))]
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

/// The released fields of one use of a grant.
#[derive(Serialize, ToSchema)]
pub struct ReleaseBody {
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

#[derive(Serialize, ToSchema)]
pub struct ReleasedEvidenceBody {
    #[serde(rename = "type")]
    type_id: String,
    /// Field name to value: the approved fields the service reads.
    fields: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<ReleasedFileBody>,
}

#[derive(Serialize, ToSchema)]
pub struct ReleasedFileBody {
    /// Fetch it here, with the same certificate, before `available_until`.
    href: String,
    media_type: String,
    size: u64,
    available_until: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditRef {
    /// Sequence number of this release's audit entry.
    index: u64,
    /// The latest signed checkpoint (it may not include this entry yet;
    /// `GET /api/v1/audit/checkpoint` gives newer ones).
    checkpoint: Option<CheckpointRef>,
    /// Where the entry's inclusion proof is: a checkpoint covering it is
    /// signed on request (at most one such per second for the vault).
    proof: String,
}

#[derive(Serialize, ToSchema)]
pub struct CheckpointRef {
    size: u64,
    note: String,
}

/// `GET /api/v1/dept/grants/{id}/release`: the released fields, with a
/// detached JWS receipt over the exact body in the `Tresor-Receipt` header.
#[utoipa::path(get, path = "/api/v1/dept/grants/{id}/release", tag = tags::DEPARTMENT,
    security(("department_certificate" = [])),
    params(("id" = String, Path, description = "The grant id.")),
    responses((status = 200, description = "The released fields; one use of the grant.", body = ReleaseBody,
        headers(("Tresor-Receipt" = String,
            description = "Detached JWS (EdDSA, keys at `/api/v1/keys`) over the exact response body")))))]
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
#[utoipa::path(get, path = "/api/v1/dept/grants/{id}/releases/{index}/files/{evidence}", tag = tags::DEPARTMENT,
    security(("department_certificate" = [])),
    params(("id" = String, Path, description = "The grant id."),
        ("index" = u64, Path, description = "The release's audit index (`audit.index`)."),
        ("evidence" = String, Path, description = "The evidence id.")),
    responses((status = 200, description = "The file.",
        content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg")))))]
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

/// The JWK set that release receipts verify against.
#[derive(Serialize, ToSchema)]
pub struct KeysBody {
    keys: Vec<JwkBody>,
}

/// An Ed25519 public key as a JWK (RFC 8037).
#[derive(Serialize, ToSchema)]
pub struct JwkBody {
    #[schema(pattern = "^OKP$")]
    kty: &'static str,
    #[schema(pattern = "^Ed25519$")]
    crv: &'static str,
    /// The public key, base64url.
    x: String,
    /// The RFC 7638 thumbprint.
    kid: String,
    #[serde(rename = "use")]
    #[schema(pattern = "^sig$")]
    key_use: &'static str,
    #[schema(pattern = "^EdDSA$")]
    alg: &'static str,
}

impl From<Jwk> for JwkBody {
    fn from(jwk: Jwk) -> Self {
        JwkBody { kty: jwk.kty, crv: jwk.crv, x: jwk.x, kid: jwk.kid, key_use: jwk.key_use, alg: jwk.alg }
    }
}

/// `GET /api/v1/keys`: the JWK set that release receipts verify against.
#[utoipa::path(get, path = "/api/v1/keys", tag = tags::PUBLIC,
    responses((status = 200, description = "The receipt signing keys.", body = KeysBody)))]
pub async fn keys(State(app): State<AppState>) -> Response {
    let jwk = Jwk::ed25519(&app.vault.signing_public_key());
    let mut response = Json(KeysBody { keys: vec![jwk.into()] }).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// The proof that a release is in the audit log.
#[derive(Serialize, ToSchema)]
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
#[utoipa::path(get, path = "/api/v1/dept/grants/{id}/releases/{index}/proof", tag = tags::DEPARTMENT,
    security(("department_certificate" = [])),
    params(("id" = String, Path, description = "The grant id."),
        ("index" = u64, Path, description = "The release's audit index (`audit.index`).")),
    responses((status = 200, description = "The entry and its inclusion proof (or when to ask again).",
        body = ReleaseProofBody)))]
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
