//! Reading an evidence upload (multipart/form-data) for both the page form
//! and the JSON API: parts `csrf`, `type`, `field.<name>` and `file`. The file
//! is streamed into the vault while it arrives, so memory stays flat. Only
//! an admitted upload (see `gate`) is read, and only as long as its body
//! keeps coming.

use std::collections::BTreeMap;

use axum::extract::Multipart;
use axum::extract::multipart::{Field, MultipartError};
use axum::http::StatusCode;

use super::AppState;
use super::error::{ApiError, ErrorCode, file_too_large};
use super::session::CitizenSession;
use crate::ids::FileId;
use crate::vault::{FILE_UPLOAD_PEAK_BYTES, FileUpload, FinishedFile, Vault, VaultError};

mod gate;

pub use gate::{RETRY_AFTER_SECONDS, UploadGate, UploadPermit, UploadRefused, with_retry_after};

/// Text parts are small: field values are at most 10,000 characters.
const MAX_TEXT_PART_BYTES: usize = 16 * 1024;
/// All text parts together (far above any evidence type's fields).
const MAX_TEXT_BYTES: usize = 256 * 1024;
const MAX_PARTS: usize = 100;

/// What the transport and the request hold for one upload besides the
/// vault's buffers: hyper's HTTP/1 read buffer (up to 408 KiB), multer's
/// buffer of what it read but has not handed on, the connection and the
/// task; over HTTP/2 the stream's flow-control window (1 MiB) bounds what is
/// buffered. Measured: 1.4 to 1.8 MiB per paused upload (`cargo bench
/// --bench upload` in stalled mode, at batch sizes 4 to 64).
const TRANSPORT_BUFFER_BYTES: usize = 2 * 1024 * 1024;

/// The most memory one upload holds at its peak, which is what it takes
/// from the `upload_memory_bytes` budget: transport buffers, the text parts,
/// and the vault's chunk being filled plus a batch of sealed chunks and the
/// store's copy of it.
pub const UPLOAD_MEMORY_BYTES: u64 = (TRANSPORT_BUFFER_BYTES + MAX_TEXT_BYTES + FILE_UPLOAD_PEAK_BYTES) as u64;

/// What reading only the text parts holds (an upload without a session).
pub const TEXT_ONLY_MEMORY_BYTES: u64 = (TRANSPORT_BUFFER_BYTES + MAX_TEXT_BYTES) as u64;

#[derive(Default)]
pub struct ParsedUpload {
    pub type_id: Option<String>,
    /// A consent page to return to after the upload (`/requests/{id}` only).
    pub return_to: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub file: Option<FinishedFile>,
    /// A file part with a name or bytes arrived: the citizen chose a file.
    /// After any error it is dropped and has to be chosen again.
    pub file_chosen: bool,
}

/// An upload that failed, with what had been read before the error (the
/// text parts before the file; never a file), so the form can come back
/// with them.
pub struct FailedUpload {
    pub error: ApiError,
    pub partial: ParsedUpload,
}

impl From<FailedUpload> for ApiError {
    fn from(failed: FailedUpload) -> Self {
        failed.error
    }
}

/// Who reads an upload: a citizen (everything, the file streamed into the
/// vault after the CSRF check), or nobody logged in (an expired session:
/// only the text parts before the file, to keep them as a draft; the file
/// part ends the reading unread).
#[derive(Clone, Copy)]
pub enum Reader<'a> {
    Citizen(&'a CitizenSession),
    TextOnly,
}

/// The multipart reader's refusal: over the body limit (`limit`, the
/// upload limit, as the form states it), or unreadable.
fn multipart_error(limit: u64) -> impl Fn(MultipartError) -> ApiError {
    move |error| {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            file_too_large(limit)
        } else {
            ErrorCode::InvalidMultipart.into()
        }
    }
}

/// Read a text part; `text_bytes` counts the bytes of all text parts so far.
async fn read_text(
    limit: u64,
    permit: &UploadPermit,
    mut field: Field<'_>,
    name: &str,
    text_bytes: &mut usize,
) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = permit.read(field.chunk()).await?.map_err(multipart_error(limit))? {
        if bytes.len() + chunk.len() > MAX_TEXT_PART_BYTES {
            return Err(ApiError::new(ErrorCode::ValueTooLong).with_arg("name", name));
        }
        *text_bytes += chunk.len();
        if *text_bytes > MAX_TEXT_BYTES {
            return Err(ErrorCode::FieldsTooLarge.into());
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| ApiError::new(ErrorCode::InvalidEncoding).with_detail(format!("`{name}` is not UTF-8 text.")))
}

/// Only the text parts of a form (a file part is noted as chosen, never
/// kept), within the text-only reserve (`UploadGate::admit_text_only`):
/// for a form shown again or kept as a draft without an upload being
/// admitted. What came before a problem is kept all the same; None when the
/// reserve stays full.
pub async fn read_text_parts(app: &AppState, multipart: Multipart) -> Option<ParsedUpload> {
    let permit = app.uploads.admit_text_only(TEXT_ONLY_MEMORY_BYTES).await.ok()?;
    Some(match read_upload(app, Reader::TextOnly, &permit, multipart, None).await {
        Ok(upload) => upload,
        Err(failed) => failed.partial,
    })
}

/// Read the whole upload (admitted by `permit`, so within the memory budget
/// and its time limits). The CSRF token (header or a `csrf` part before the
/// file) is checked before any byte is stored. On error, nothing written
/// stays behind; a pending file is removed also when the request is dropped
/// half-way (the client went away). The error comes with the text parts
/// read before it (`FailedUpload`), so a page can show them again.
pub async fn read_upload(
    app: &AppState,
    reader: Reader<'_>,
    permit: &UploadPermit,
    mut multipart: Multipart,
    header_csrf: Option<&str>,
) -> Result<ParsedUpload, FailedUpload> {
    let mut csrf_ok = match reader {
        Reader::Citizen(citizen) => citizen.check_csrf(header_csrf).is_ok(),
        Reader::TextOnly => false,
    };
    let mut parsed = ParsedUpload::default();
    let mut parts = 0;
    let mut text_bytes = 0;
    let mut pending = AbortOnDrop { vault: app.vault.clone(), file_id: None };
    let limit = app.config.upload_limit_bytes;
    let result = async {
        while let Some(field) = permit.read(multipart.next_field()).await?.map_err(multipart_error(limit))? {
            parts += 1;
            if parts > MAX_PARTS {
                return Err(ErrorCode::TooManyParts.into());
            }
            let name = field.name().unwrap_or_default().to_owned();
            match name.as_str() {
                "csrf" => {
                    let token = read_text(limit, permit, field, "csrf", &mut text_bytes).await?;
                    // A wrong token is refused at the file part or the end,
                    // after the text parts, so the form can show them again.
                    if let Reader::Citizen(citizen) = reader {
                        csrf_ok = citizen.check_csrf(Some(&token)).is_ok();
                    }
                }
                "type" => parsed.type_id = Some(read_text(limit, permit, field, "type", &mut text_bytes).await?),
                "return_to" => {
                    let value = read_text(limit, permit, field, "return_to", &mut text_bytes).await?;
                    parsed.return_to = consent_return(&value);
                }
                "file" => {
                    parsed.file_chosen |= field.file_name().is_some_and(|name| !name.is_empty());
                    let Reader::Citizen(citizen) = reader else {
                        // Nobody to store it for; the text parts came first.
                        return Ok(());
                    };
                    if !csrf_ok {
                        return Err(ApiError::csrf());
                    }
                    if parsed.file.is_some() {
                        return Err(ErrorCode::TooManyFiles.into());
                    }
                    parsed.file = read_file(app, citizen, permit, field, &mut pending, &mut parsed.file_chosen).await?;
                }
                other => match other.strip_prefix("field.") {
                    Some(field_name) if !field_name.is_empty() => {
                        let field_name = field_name.to_owned();
                        let value = read_text(limit, permit, field, &field_name, &mut text_bytes).await?;
                        parsed.fields.insert(field_name, value);
                    }
                    _ => {
                        let part: String = other.chars().take(64).collect();
                        return Err(ApiError::new(ErrorCode::UnknownPart)
                            .with_detail(format!("Unexpected part `{part}` in the upload.")));
                    }
                },
            }
        }
        if csrf_ok || matches!(reader, Reader::TextOnly) { Ok(()) } else { Err(ApiError::csrf()) }
    }
    .await;
    let outcome = match result {
        Ok(()) => Ok(parsed),
        Err(error) => {
            if let Some(file) = parsed.file.take() {
                app.vault.abort_file(file.file_id()).await;
            }
            Err(FailedUpload { error, partial: parsed })
        }
    };
    // Handed on (the caller attaches or aborts it) or removed above.
    pending.file_id = None;
    outcome
}

/// Removes a pending file if the request is dropped while it is being read
/// (the client went away, the connection was closed): the removal runs as a
/// task of its own, since a dropped future cannot await. Disarmed once the
/// upload is read or its file removed.
struct AbortOnDrop {
    vault: Vault,
    file_id: Option<FileId>,
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(file_id) = self.file_id.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let vault = self.vault.clone();
            runtime.spawn(async move { vault.abort_file(&file_id).await });
        }
    }
}

/// Stream one file part into the vault. An empty part without a file name is
/// a form submitted without a file.
async fn read_file(
    app: &AppState,
    citizen: &CitizenSession,
    permit: &UploadPermit,
    mut field: Field<'_>,
    pending: &mut AbortOnDrop,
    file_chosen: &mut bool,
) -> Result<Option<FinishedFile>, ApiError> {
    let file_name = field.file_name().unwrap_or_default().to_owned();
    // Browsers send an empty part (no name, no bytes) when no file was
    // chosen; some transports deliver empty chunks first.
    let mut first = None;
    while let Some(chunk) = permit.read(field.chunk()).await?.map_err(multipart_error(app.config.upload_limit_bytes))? {
        if !chunk.is_empty() {
            first = Some(chunk);
            break;
        }
    }
    let Some(first) = first else {
        return if file_name.is_empty() { Ok(None) } else { Err(ApiError::from(VaultError::UnsupportedFileType)) };
    };
    *file_chosen = true;
    let mut upload = app.vault.begin_file(citizen.citizen(), &file_name, app.config.upload_limit_bytes).await?;
    pending.file_id = Some(upload.file_id().clone());
    match stream_into(app, permit, &mut upload, first, &mut field).await {
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
    permit: &UploadPermit,
    upload: &mut FileUpload,
    first: bytes::Bytes,
    field: &mut Field<'_>,
) -> Result<(), ApiError> {
    upload.write(&app.vault, &first).await?;
    while let Some(chunk) = permit.read(field.chunk()).await?.map_err(multipart_error(app.config.upload_limit_bytes))? {
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
