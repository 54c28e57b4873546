//! The citizen JSON API under `/api/v1/` (session cookie; state-changing
//! calls carry the session's CSRF token in `X-CSRF-Token`).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::openapi::{LoginLevelSchema, tags};
use super::session::{self, CitizenSession};
use super::upload::{Reader, read_upload};
use crate::ids::EvidenceId;
use crate::policy::{FieldKind, Lang, LoginLevel};
use crate::vault::{FileReader, FileView};

pub fn csrf_header(headers: &HeaderMap) -> Option<&str> {
    headers.get("x-csrf-token").and_then(|value| value.to_str().ok())
}

/// Parse an evidence id from the path; a malformed id is simply not found.
pub fn parse_evidence_id(raw: &str) -> ApiResult<EvidenceId> {
    raw.parse().map_err(|_| ApiError::not_found())
}

/// The logged-in citizen's session.
#[derive(Serialize, ToSchema)]
pub struct SessionInfo {
    citizen_id: String,
    #[schema(value_type = LoginLevelSchema)]
    login_level: LoginLevel,
    /// Send it as `X-CSRF-Token` on every state-changing call.
    csrf_token: String,
}

/// `GET /api/v1/session`: who is logged in, at which level, and the CSRF
/// token of the session.
#[utoipa::path(get, path = "/api/v1/session", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    responses((status = 200, description = "The session.", body = SessionInfo)))]
pub async fn session_info(citizen: CitizenSession) -> Json<SessionInfo> {
    Json(SessionInfo {
        citizen_id: citizen.citizen().to_string(),
        login_level: citizen.level(),
        csrf_token: citizen.csrf_token().to_owned(),
    })
}

/// `GET /api/v1/evidence-types`.
#[derive(Serialize, ToSchema)]
pub struct EvidenceTypesBody<'a> {
    evidence_types: Vec<EvidenceTypeBody<'a>>,
}

/// An evidence type from the policy (texts in English).
#[derive(Serialize, ToSchema)]
pub struct EvidenceTypeBody<'a> {
    id: &'a str,
    version: i32,
    name: &'a str,
    file_allowed: bool,
    #[schema(value_type = LoginLevelSchema)]
    min_login_level: LoginLevel,
    fields: Vec<EvidenceFieldBody<'a>>,
}

/// A field of an evidence type; uploads send it as the part `field.<name>`.
#[derive(Serialize, ToSchema)]
pub struct EvidenceFieldBody<'a> {
    name: &'a str,
    label: &'a str,
    #[schema(value_type = FieldKindName)]
    kind: &'static str,
    required: bool,
}

/// The kind of a field's value.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)] // a schema only: `kind_name` writes these names
pub enum FieldKindName {
    Text,
    Date,
    Money,
    Integer,
    Enum,
}

pub fn kind_name(kind: &FieldKind) -> &'static str {
    match kind {
        FieldKind::Text { .. } => "text",
        FieldKind::Date => "date",
        FieldKind::Money => "money",
        FieldKind::Integer { .. } => "integer",
        FieldKind::Enum { .. } => "enum",
    }
}

/// `GET /api/v1/evidence-types`: the evidence types citizens can upload.
#[utoipa::path(get, path = "/api/v1/evidence-types", tag = tags::PUBLIC,
    responses((status = 200, description = "The evidence types of the policy.", body = EvidenceTypesBody)))]
pub async fn evidence_types(State(app): State<AppState>) -> Response {
    let evidence_types: Vec<EvidenceTypeBody> = app
        .vault
        .policies()
        .evidence_types
        .iter()
        .map(|t| EvidenceTypeBody {
            id: &t.id,
            version: t.version,
            name: t.name.get(Lang::En),
            file_allowed: t.file_allowed,
            min_login_level: t.min_login_level,
            fields: t
                .fields
                .iter()
                .map(|f| EvidenceFieldBody {
                    name: &f.name,
                    label: f.label.get(Lang::En),
                    kind: kind_name(&f.kind),
                    required: f.required,
                })
                .collect(),
        })
        .collect();
    Json(EvidenceTypesBody { evidence_types }).into_response()
}

/// `GET /api/v1/evidence`.
#[derive(Serialize, ToSchema)]
pub struct EvidenceListBody {
    evidence: Vec<EvidenceListItem>,
}

#[derive(Serialize, ToSchema)]
pub struct EvidenceListItem {
    id: String,
    #[serde(rename = "type")]
    type_id: String,
    created_at: DateTime<Utc>,
    has_file: bool,
}

/// `GET /api/v1/evidence`: the citizen's evidence, without values.
#[utoipa::path(get, path = "/api/v1/evidence", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    responses((status = 200, description = "The citizen's evidence.", body = EvidenceListBody)))]
pub async fn list_evidence(State(app): State<AppState>, citizen: CitizenSession) -> ApiResult<Response> {
    let evidence: Vec<EvidenceListItem> = app
        .vault
        .list_evidence(citizen.citizen())
        .await?
        .into_iter()
        .map(|e| EvidenceListItem {
            id: e.id.to_string(),
            type_id: e.type_id,
            created_at: e.created_at,
            has_file: e.has_file,
        })
        .collect();
    Ok(Json(EvidenceListBody { evidence }).into_response())
}

/// The parts of an upload (`multipart/form-data`).
#[derive(ToSchema)]
#[allow(dead_code)] // a schema only: `upload::read_upload` reads the parts
pub struct UploadForm {
    /// The evidence type's id (`GET /api/v1/evidence-types`).
    #[schema(rename = "type")]
    type_id: String,
    /// The file, if the type allows one (PDF, PNG or JPEG).
    #[schema(value_type = Option<String>, format = Binary)]
    file: Option<Vec<u8>>,
    /// The session's CSRF token, unless sent as `X-CSRF-Token`.
    csrf: Option<String>,
    // Each field's value is a part `field.<name>`: `openapi` describes them
    // as the form's additional properties.
}

/// `POST /api/v1/evidence` -> 201.
#[derive(Serialize, ToSchema)]
pub struct CreatedEvidence {
    id: String,
}

/// `POST /api/v1/evidence`: upload evidence (typed fields, optional file).
#[utoipa::path(post, path = "/api/v1/evidence", tag = tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "Stored.", body = CreatedEvidence,
        headers(("Location" = String, description = "`/api/v1/evidence/{id}`")))))]
pub async fn upload_evidence(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
    multipart: Multipart,
) -> ApiResult<Response> {
    // Admitted before a byte of the body is read; released when this returns.
    let permit = match app.uploads.admit(citizen.citizen()).await {
        Ok(permit) => permit,
        Err(refused) => return Ok(refused.into_response()),
    };
    let upload = read_upload(&app, Reader::Citizen(&citizen), &permit, multipart, csrf_header(&headers)).await?;
    let Some(type_id) = upload.type_id else {
        if let Some(file) = upload.file {
            app.vault.abort_file(file.file_id()).await;
        }
        return Err(ErrorCode::MissingType.into());
    };
    let id =
        app.vault.create_evidence(citizen.citizen(), citizen.level(), &type_id, &upload.fields, upload.file).await?;
    let location = format!("/api/v1/evidence/{id}");
    let mut response = (StatusCode::CREATED, Json(CreatedEvidence { id: id.to_string() })).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// One piece of the citizen's evidence with its values.
#[derive(Serialize, ToSchema)]
pub struct EvidenceBody {
    id: String,
    #[serde(rename = "type")]
    type_id: String,
    created_at: DateTime<Utc>,
    /// Field name to value.
    fields: BTreeMap<String, String>,
    file: Option<EvidenceFileBody>,
}

#[derive(Serialize, ToSchema)]
pub struct EvidenceFileBody {
    name: String,
    media_type: String,
    size: u64,
}

/// `GET /api/v1/evidence/{id}`: one piece of evidence with its values.
#[utoipa::path(get, path = "/api/v1/evidence/{id}", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "The evidence id.")),
    responses((status = 200, description = "The evidence.", body = EvidenceBody)))]
pub async fn show_evidence(
    State(app): State<AppState>,
    citizen: CitizenSession,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_evidence_id(&id)?;
    let view = app.vault.evidence(citizen.citizen(), citizen.level(), &id).await?;
    let fields: BTreeMap<String, String> = view.fields.into_iter().collect();
    let file = view.file.map(|f| EvidenceFileBody { name: f.name, media_type: f.media_type, size: f.size });
    Ok(Json(EvidenceBody { id: view.id.to_string(), type_id: view.type_id, created_at: view.created_at, fields, file })
        .into_response())
}

/// `GET /api/v1/evidence/{id}/file`: the evidence's file, streamed.
#[utoipa::path(get, path = "/api/v1/evidence/{id}/file", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "The evidence id.")),
    responses((status = 200, description = "The file, as the type it was stored as.",
        content((Vec<u8> = "application/pdf"), (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg")),
        headers(("Content-Disposition" = String, description = "`attachment` with a safe file name")))))]
pub async fn download_file(
    State(app): State<AppState>,
    citizen: CitizenSession,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = parse_evidence_id(&id)?;
    let (view, reader) = app.vault.open_file(citizen.citizen(), citizen.level(), &id).await?;
    Ok(file_response(view, reader))
}

/// Stream a file chunk by chunk; memory stays at one chunk. A chunk that
/// fails to open ends the body with an error (the client sees a broken
/// transfer, never wrong bytes).
pub fn file_response(view: FileView, reader: FileReader) -> Response {
    let stream = futures_util::stream::unfold(reader, |mut reader| async move {
        match reader.next_chunk().await {
            Ok(Some(chunk)) => Some((Ok::<_, std::io::Error>(bytes::Bytes::from(chunk)), reader)),
            Ok(None) => None,
            Err(error) => {
                tracing::error!(%error, "file chunk did not open");
                Some((Err(std::io::Error::other("file chunk did not open")), reader))
            }
        }
    });
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&view.media_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(view.size));
    let file_name = download_file_name(&view.name, &view.media_type);
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The name a download is saved under: the uploaded name's base with the
/// extension of the stored media type (sniffed from the bytes) in place of
/// the one it had, so `x.html` stored as PDF is saved as `x.pdf`. Only ASCII
/// letters, digits, `-`, `_` and `.` are kept (anything else becomes `_`),
/// so the name needs no quoting; leading dots are dropped (no hidden files).
pub fn download_file_name(uploaded_name: &str, media_type: &str) -> String {
    let name = uploaded_name.trim_end_matches(['.', ' ']);
    // An extension is what looks like one (`.html`, `.PDF`, `.jpeg`), not
    // the end of `Rechnung 12.2024`.
    let base = match name.rsplit_once('.') {
        Some((base, extension))
            if (1..=5).contains(&extension.len())
                && extension.bytes().all(|byte| byte.is_ascii_alphanumeric())
                && extension.bytes().any(|byte| byte.is_ascii_alphabetic()) =>
        {
            base
        }
        _ => name,
    };
    let ascii: String =
        base.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' }).collect();
    let ascii = ascii.trim_start_matches('.').trim_end_matches('.');
    let base = if ascii.is_empty() { "file" } else { ascii };
    format!("{base}.{}", crate::vault::file_extension(media_type))
}

/// `DELETE /api/v1/evidence/{id}`.
#[utoipa::path(delete, path = "/api/v1/evidence/{id}", tag = tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The evidence id.")),
    responses((status = 204, description = "Deleted.")))]
pub async fn delete_evidence(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    citizen.check_csrf(csrf_header(&headers))?;
    let id = parse_evidence_id(&id)?;
    app.vault.delete_evidence(citizen.citizen(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/account`: erase the account (crypto-shredding) and end
/// the session.
#[utoipa::path(delete, path = "/api/v1/account", tag = tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    responses((status = 204, description = "Erased; the session cookie is cleared.")))]
pub async fn erase_account(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
) -> ApiResult<Response> {
    citizen.check_csrf(csrf_header(&headers))?;
    app.vault.erase_account(citizen.citizen()).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    session::set_cookie_header(response.headers_mut(), app.cookies.clear(app.cookies.session_name));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::download_file_name;

    #[test]
    fn downloads_take_the_extension_of_the_stored_type() {
        for (uploaded, media_type, saved_as) in [
            ("x.html", "application/pdf", "x.pdf"),
            ("report.PDF", "application/pdf", "report.pdf"),
            ("Lohnabrechnung", "application/pdf", "Lohnabrechnung.pdf"),
            ("Lohnabrechnung Dezember.pdf", "application/pdf", "Lohnabrechnung_Dezember.pdf"),
            ("scan.jpg", "image/png", "scan.png"),
            ("photo.jpeg", "image/jpeg", "photo.jpg"),
            ("archive.tar.gz", "application/pdf", "archive.tar.pdf"),
            ("Rechnung 12.2024", "application/pdf", "Rechnung_12.2024.pdf"),
            ("Lohn März.pdf", "application/pdf", "Lohn_M_rz.pdf"),
            (".html", "application/pdf", "file.pdf"),
            ("..pdf", "application/pdf", "file.pdf"),
            ("x.html.", "application/pdf", "x.pdf"),
            ("file", "image/png", "file.png"),
            ("x.html", "text/html", "x.bin"),
        ] {
            assert_eq!(download_file_name(uploaded, media_type), saved_as, "{uploaded} as {media_type}");
        }
    }
}
