//! "My data" (GDPR Art. 15 and 20): `GET /account/data` explains what the
//! download holds; `POST /account/data` (CSRF) answers one ZIP archive with
//! `data.json` (evidence with its values, grants; machine-readable),
//! `access-log.json` (the citizen's whole log as `GET /api/v1/audit/mine`
//! serves it page by page, with checkpoints and proofs), `summary.html` (the
//! same for people, in the page's language) and `files/` (each evidence's
//! file). The export is in the audit log before anything is decrypted
//! (`Vault::my_data`). The archive is streamed as it is written: plaintext
//! never touches the disk and memory stays at a few chunks.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Form;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

use super::AppState;
use super::api::download_file_name;
use super::audit::whole_citizen_log;
use super::error::ApiError;
use super::pages;
use super::session::CitizenSession;
use super::web::{Page, displayed_fields};
use crate::policy::{Lang, Policies};
use crate::vault::MyData;

/// Bytes gathered before they are handed to the connection.
const SEND_AT_BYTES: usize = 64 * 1024;

/// `GET /account/data`: what the download holds, and its button.
pub async fn offer(State(app): State<AppState>, page: Page) -> Response {
    if page.session.is_none() {
        return page.error(&app, ApiError::not_logged_in());
    }
    page.respond(&app, StatusCode::OK, pages::my_data_page(&page.ctx))
}

#[derive(Deserialize)]
pub struct DownloadForm {
    csrf: Option<String>,
}

/// `POST /account/data`: the archive.
pub async fn download(State(app): State<AppState>, page: Page, Form(form): Form<DownloadForm>) -> Response {
    let Some(session) = page.session.as_ref() else {
        return page.error(&app, ApiError::not_logged_in());
    };
    if let Err(error) = session.check_csrf(form.csrf.as_deref()) {
        return page.error(&app, error);
    }
    match archive(&app, session, page.lang()).await {
        Ok(response) => response,
        Err(error) => page.error(&app, error),
    }
}

async fn archive(app: &AppState, session: &CitizenSession, lang: Lang) -> Result<Response, ApiError> {
    let exported_at = app.vault.clock().now();
    let data = app.vault.my_data(session.citizen(), session.level()).await?;
    let log = whole_citizen_log(app, session).await?;
    let policies = app.vault.policies();
    let document = ExportDocument::of(session, exported_at, &data);
    let summary = summary(policies, lang, exported_at, &data);
    let (sender, mut receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let Err(error) = write_archive(&sender, document, log, summary, data).await {
            tracing::error!(%error, "data export failed while streaming");
            // The client sees a broken download, never a complete-looking one.
            let _ = sender.send(Err(std::io::Error::other("data export failed"))).await;
        }
    });
    let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    let name = format!("attachment; filename=\"tresor-{}.zip\"", exported_at.format("%Y-%m-%d"));
    if let Ok(value) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// A `Write` into a buffer the streaming task drains.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Shared {
    /// Hand what was written so far to the connection (all of it when
    /// `all`, else only once there is enough to be worth a send).
    async fn send(&self, sender: &mpsc::Sender<Result<Bytes, std::io::Error>>, all: bool) -> anyhow::Result<()> {
        let bytes = {
            let mut buffer = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            if buffer.is_empty() || (!all && buffer.len() < SEND_AT_BYTES) {
                return Ok(());
            }
            std::mem::take(&mut *buffer)
        };
        sender.send(Ok(Bytes::from(bytes))).await.map_err(|_| anyhow::anyhow!("the client went away"))
    }
}

async fn write_archive(
    sender: &mpsc::Sender<Result<Bytes, std::io::Error>>,
    document: ExportDocument,
    log: Vec<super::audit::MyAccessLog>,
    summary: String,
    data: MyData,
) -> anyhow::Result<()> {
    let buffer = Shared::default();
    let mut zip = ZipWriter::new_stream(buffer.clone());
    let text = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    // Uploaded files are PDF, PNG and JPEG: compressed already.
    let stored = SimpleFileOptions::default().compression_method(CompressionMethod::Stored).large_file(true);
    zip.start_file("data.json", text)?;
    zip.write_all(&serde_json::to_vec_pretty(&document)?)?;
    zip.start_file("access-log.json", text)?;
    zip.write_all(&serde_json::to_vec_pretty(&log)?)?;
    zip.start_file("summary.html", text)?;
    zip.write_all(summary.as_bytes())?;
    buffer.send(sender, false).await?;
    for (view, reader) in data.evidence {
        let (Some(file), Some(mut reader)) = (view.file, reader) else { continue };
        zip.start_file(file_path(view.id.as_str(), &file.name, &file.media_type), stored)?;
        while let Some(chunk) = reader.next_chunk().await? {
            zip.write_all(&chunk)?;
            buffer.send(sender, false).await?;
        }
    }
    zip.finish()?;
    buffer.send(sender, true).await
}

/// Where an evidence's file is in the archive: `files/<evidence id>-<name>`
/// (the name as a download is saved under: safe characters, the stored
/// type's extension).
fn file_path(evidence_id: &str, name: &str, media_type: &str) -> String {
    format!("files/{evidence_id}-{}", download_file_name(name, media_type))
}

/// `data.json`.
#[derive(Serialize)]
struct ExportDocument {
    exported_at: String,
    citizen_id: String,
    evidence: Vec<ExportEvidence>,
    /// Evidence this login's level may not open (log in with a higher one).
    not_included: Vec<NotIncluded>,
    grants: Vec<ExportGrant>,
}

#[derive(Serialize)]
struct ExportEvidence {
    id: String,
    #[serde(rename = "type")]
    type_id: String,
    created_at: String,
    /// Field name to value, as stored (dates `YYYY-MM-DD`, amounts `1234.50`).
    fields: std::collections::BTreeMap<String, String>,
    file: Option<ExportFile>,
}

#[derive(Serialize)]
struct ExportFile {
    name: String,
    media_type: String,
    size: u64,
    /// Its path in this archive.
    path: String,
}

#[derive(Serialize)]
struct NotIncluded {
    id: String,
    #[serde(rename = "type")]
    type_id: String,
    created_at: String,
    needs_login_level: &'static str,
}

#[derive(Serialize)]
struct ExportGrant {
    id: String,
    department: String,
    service: String,
    fields: Vec<String>,
    evidence: Vec<String>,
    created_at: String,
    not_before: String,
    expires_at: String,
    max_uses: u32,
    uses: u32,
    revoked_at: Option<String>,
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl ExportDocument {
    fn of(session: &CitizenSession, exported_at: DateTime<Utc>, data: &MyData) -> Self {
        ExportDocument {
            exported_at: time(exported_at),
            citizen_id: session.citizen().to_string(),
            evidence: data
                .evidence
                .iter()
                .map(|(view, _)| ExportEvidence {
                    id: view.id.to_string(),
                    type_id: view.type_id.clone(),
                    created_at: time(view.created_at),
                    fields: view.fields.iter().cloned().collect(),
                    file: view.file.as_ref().map(|file| ExportFile {
                        name: file.name.clone(),
                        media_type: file.media_type.clone(),
                        size: file.size,
                        path: file_path(view.id.as_str(), &file.name, &file.media_type),
                    }),
                })
                .collect(),
            not_included: data
                .needs_higher_level
                .iter()
                .map(|(summary, level)| NotIncluded {
                    id: summary.id.to_string(),
                    type_id: summary.type_id.clone(),
                    created_at: time(summary.created_at),
                    needs_login_level: level.as_str(),
                })
                .collect(),
            grants: data
                .grants
                .iter()
                .map(|grant| ExportGrant {
                    id: grant.id.to_string(),
                    department: grant.department.clone(),
                    service: grant.service.clone(),
                    fields: grant.approved_fields.clone(),
                    evidence: grant.evidence_ids.iter().map(ToString::to_string).collect(),
                    created_at: time(grant.created_at),
                    not_before: time(grant.not_before),
                    expires_at: time(grant.expires_at),
                    max_uses: grant.max_uses,
                    uses: grant.uses,
                    revoked_at: grant.revoked_at.map(time),
                })
                .collect(),
        }
    }
}

/// `summary.html`: the same data for people, in `lang`.
fn summary(policies: &Policies, lang: Lang, exported_at: DateTime<Utc>, data: &MyData) -> String {
    let evidence: Vec<pages::SummaryEvidence> = data
        .evidence
        .iter()
        .map(|(view, _)| pages::SummaryEvidence {
            type_name: policies.evidence_type_name(&view.type_id, lang),
            created_at: view.created_at,
            fields: displayed_fields(policies, lang, &view.type_id, view.fields.iter().cloned()),
            file: view
                .file
                .as_ref()
                .map(|file| (file.name.clone(), file_path(view.id.as_str(), &file.name, &file.media_type))),
        })
        .collect();
    let not_included: Vec<(String, DateTime<Utc>)> = data
        .needs_higher_level
        .iter()
        .map(|(summary, _)| (policies.evidence_type_name(&summary.type_id, lang), summary.created_at))
        .collect();
    let grants: Vec<pages::SummaryGrant> = data
        .grants
        .iter()
        .map(|grant| pages::SummaryGrant {
            department_name: policies.department_name(&grant.department, lang),
            service_name: policies.service_name(&grant.service, lang),
            fields: grant.approved_fields.iter().map(|field| policies.field_label(field, lang)).collect(),
            created_at: grant.created_at,
            expires_at: grant.expires_at,
            uses: grant.uses,
            max_uses: grant.max_uses,
            revoked: grant.revoked_at.is_some(),
        })
        .collect();
    pages::my_data_summary(lang, exported_at, &evidence, &not_included, &grants).into_string()
}
