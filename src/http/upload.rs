//! Reading an evidence upload (multipart/form-data) for both the page form
//! and the JSON API: parts `csrf`, `type`, `field.<name>` and `file`. The file
//! is streamed into the vault while it arrives, so memory stays flat.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;

use super::AppState;
use super::error::ApiError;
use super::session::CitizenSession;
use crate::vault::{FileUpload, FinishedFile, VaultError};

/// Text parts are small: field values are at most 10,000 characters.
const MAX_TEXT_PART_BYTES: usize = 16 * 1024;
const MAX_PARTS: usize = 100;

pub struct ParsedUpload {
    pub type_id: Option<String>,
    /// A consent page to return to after the upload (`/requests/{id}` only).
    pub return_to: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub file: Option<FinishedFile>,
}

fn multipart_error(error: MultipartError) -> ApiError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "file_too_large", "The upload is larger than the limit.")
    } else {
        ApiError::bad_request("invalid_multipart", "The upload could not be read. Please try again.")
    }
}

async fn read_text(mut field: Field<'_>, name: &str) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_TEXT_PART_BYTES {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "value_too_long",
                format!("The value of `{name}` is too long."),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("invalid_encoding", format!("`{name}` is not UTF-8 text.")))
}

/// Read the whole upload. The CSRF token (header or a `csrf` part before the
/// file) is checked before any byte is stored. On error, nothing written
/// stays behind.
pub async fn read_upload(
    app: &AppState,
    citizen: &CitizenSession,
    mut multipart: Multipart,
    header_csrf: Option<&str>,
) -> Result<ParsedUpload, ApiError> {
    let mut csrf_ok = citizen.check_csrf(header_csrf).is_ok();
    let mut parsed = ParsedUpload { type_id: None, fields: BTreeMap::new(), file: None, return_to: None };
    let mut parts = 0;
    let result = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(ApiError::bad_request("too_many_parts", "The upload has too many parts."));
            }
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "csrf" => {
                    let token = read_text(field, "csrf").await?;
                    citizen.check_csrf(Some(&token))?;
                    csrf_ok = true;
                }
                "type" => parsed.type_id = Some(read_text(field, "type").await?),
                "return_to" => parsed.return_to = consent_return(&read_text(field, "return_to").await?),
                "file" => {
                    if !csrf_ok {
                        return Err(ApiError::csrf());
                    }
                    if parsed.file.is_some() {
                        return Err(ApiError::bad_request("too_many_files", "Only one file per evidence."));
                    }
                    parsed.file = read_file(app, citizen, field).await?;
                }
                other => match other.strip_prefix("field.") {
                    Some(field_name) if !field_name.is_empty() => {
                        let field_name = field_name.to_owned();
                        let value = read_text(field, &field_name).await?;
                        parsed.fields.insert(field_name, value);
                    }
                    _ => {
                        return Err(ApiError::bad_request(
                            "unknown_part",
                            format!("Unexpected part `{}` in the upload.", other.chars().take(64).collect::<String>()),
                        ));
                    }
                },
            }
        }
        if csrf_ok { Ok(()) } else { Err(ApiError::csrf()) }
    }
    .await;
    match result {
        Ok(()) => Ok(parsed),
        Err(error) => {
            if let Some(file) = parsed.file.take() {
                app.vault.abort_file(file.file_id()).await;
            }
            Err(error)
        }
    }
}

/// Stream one file part into the vault. An empty part without a file name is
/// a form submitted without a file.
async fn read_file(
    app: &AppState,
    citizen: &CitizenSession,
    mut field: Field<'_>,
) -> Result<Option<FinishedFile>, ApiError> {
    let file_name = field.file_name().unwrap_or_default().to_owned();
    // Browsers send an empty part (no name, no bytes) when no file was
    // chosen; some transports deliver empty chunks first.
    let mut first = None;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if !chunk.is_empty() {
            first = Some(chunk);
            break;
        }
    }
    let Some(first) = first else {
        return if file_name.is_empty() { Ok(None) } else { Err(ApiError::from(VaultError::UnsupportedFileType)) };
    };
    let mut upload = app.vault.begin_file(citizen.citizen(), &file_name, app.config.upload_limit_bytes).await?;
    match stream_into(app, &mut upload, first, &mut field).await {
        Ok(()) => {
            let file_id = upload.file_id().clone();
            match upload.finish(&app.vault).await {
                Ok(finished) => Ok(Some(finished)),
                Err(error) => {
                    app.vault.abort_file(&file_id).await;
                    Err(error.into())
                }
            }
        }
        Err(error) => {
            upload.abort(&app.vault).await;
            Err(error)
        }
    }
}

async fn stream_into(
    app: &AppState,
    upload: &mut FileUpload,
    first: bytes::Bytes,
    field: &mut Field<'_>,
) -> Result<(), ApiError> {
    upload.write(&app.vault, &first).await?;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        upload.write(&app.vault, &chunk).await?;
    }
    Ok(())
}

/// `/requests/{id}` with a well-formed request id, else None: the only place
/// an upload form may send the citizen back to.
pub fn consent_return(candidate: &str) -> Option<String> {
    let id = candidate.strip_prefix("/requests/")?;
    id.parse::<crate::ids::RequestId>().ok().map(|id| format!("/requests/{id}"))
}
