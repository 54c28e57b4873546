//! The citizen's side of department access: the consent page of a request
//! (`/requests/{id}`: the very values that would be released, approve or
//! deny), the grants page (`/grants`: list, revoke) and their JSON twins
//! under `/api/v1/`. The vault decides; this module turns forms and JSON
//! into an `Approval` and a preview into a page.
//!
//! JSON texts from the policy (names, purpose, legal basis, field labels)
//! come in both languages, `{"de": ..., "en": ...}`, so a client can show
//! either without asking twice.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::api::csrf_header;
use super::error::{ApiError, ApiResult, ErrorCode, json_body};
use super::i18n;
use super::openapi::{LoginLevelSchema, tags};
use super::pages::{self, GrantStatusView, GrantsNotice, RequestClosed};
use super::session::CitizenSession;
use super::web::Page;
use crate::ids::{EvidenceId, GrantId, RequestId};
use crate::policy::{FieldRef, Lang, Localized, LoginLevel, Policies};
use crate::store::GrantRecord;
use crate::vault::{Approval, ApprovalProblem, ConsentPreview, RequestStatus, VaultError};

/// Durations offered on the consent page (days), besides the service's maximum.
const DURATION_CHOICES: [u32; 4] = [7, 30, 60, 90];
/// Use counts offered one by one up to this; above it only the maximum.
const USES_CHOICES: u32 = 10;

mod summary;

/// The consent and grant routes, pages and JSON (merged into `http::router`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/requests/{id}", get(request_page).post(answer_request))
        .route("/grants", get(grants_page))
        .route("/grants/{id}/revoke", get(confirm_revoke).post(revoke_grant_form))
        .route("/api/v1/requests/{id}", get(request_json))
        .route("/api/v1/requests/{id}/approve", post(approve_json))
        .route("/api/v1/requests/{id}/deny", post(deny_json))
        .route("/api/v1/grants", get(grants_json))
        .route("/api/v1/grants/{id}/revoke", post(revoke_json))
}

// --- pages ------------------------------------------------------------------------

/// `GET /requests/{id}`: the consent page. Without a session, a request that
/// can still be answered sends the citizen to log in (at the service's
/// level) and back; one that cannot is explained without a login, as it
/// shows nothing personal.
pub async fn request_page(State(app): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    let Ok(request_id) = id.parse::<RequestId>() else {
        return closed_page(&app, &page, RequestClosed::NotFound);
    };
    let Some(session) = page.session.as_ref() else {
        return match app.vault.access_request(&request_id).await {
            Ok((request, RequestStatus::Pending)) => {
                let level =
                    app.vault.policies().services.get(&request.service).map_or(LoginLevel::Low, |s| s.min_login_level);
                Redirect::to(&login_href(None, level, &pages::request_href(request.id.as_str()))).into_response()
            }
            Ok((_, RequestStatus::Expired)) => closed_page(&app, &page, RequestClosed::Expired),
            Ok((_, RequestStatus::Approved | RequestStatus::Denied)) => {
                closed_page(&app, &page, RequestClosed::Answered)
            }
            Err(error) => vault_error_page(&app, &page, None, &request_id, error).await,
        };
    };
    match app.vault.consent_preview(session.citizen(), session.level(), &request_id).await {
        Ok(preview) => {
            let view = consent_view(&app, page.lang(), &preview, &Selection::default(), None);
            page.respond(&app, StatusCode::OK, pages::consent_page(&page.ctx, &view))
        }
        Err(error) => vault_error_page(&app, &page, Some(session), &request_id, error).await,
    }
}

/// `POST /requests/{id}`: the consent form and its summary (`csrf`,
/// `decision=review|change|approve|deny`, `doc.<type>=<evidence id>|none`,
/// `field=<type>.<field>` repeated, `duration_days`, `max_uses`,
/// `without_files=yes`). `review` ("Weiter") shows the summary and `change`
/// the form again with the choices kept: neither stores anything. `approve`
/// (the summary's "Freigeben") creates the grant, `deny` refuses; both then
/// 303 to `/grants`. Choices the vault refuses bring the form back with the
/// reason (422), at the summary step and at the final one alike.
pub async fn answer_request(State(app): State<AppState>, page: Page, Path(id): Path<String>, body: Bytes) -> Response {
    let Some(session) = page.session.as_ref() else {
        return page.error(&app, ApiError::not_logged_in());
    };
    let form = ConsentForm::parse(&body);
    if let Err(error) = session.check_csrf(form.csrf.as_deref()) {
        return page.error(&app, error);
    }
    let Ok(request_id) = id.parse::<RequestId>() else {
        return closed_page(&app, &page, RequestClosed::NotFound);
    };
    let result = match form.decision.as_deref() {
        Some("deny") => match app.vault.deny_access_request(session.citizen(), &request_id).await {
            Ok(()) => return Redirect::to("/grants?notice=denied").into_response(),
            Err(error) => Err(error),
        },
        Some("review") => return summary::review(&app, &page, session, &request_id, &form).await,
        Some("change") => return summary::change(&app, &page, session, &request_id, &form).await,
        Some("approve") => {
            // The final step: the whole approval is checked again by the
            // vault, whatever the summary's hidden fields say.
            let approved = match form.approval() {
                Ok(approval) => {
                    app.vault.approve_access_request(session.citizen(), session.level(), &request_id, &approval).await
                }
                Err(problem) => Err(VaultError::InvalidApproval(problem)),
            };
            match approved {
                Ok(_) => return Redirect::to("/grants?notice=approved").into_response(),
                Err(VaultError::InvalidApproval(problem)) => Ok(ErrorCode::from(problem)),
                Err(error) => Err(error),
            }
        }
        _ => Ok(ErrorCode::InvalidDecision),
    };
    match result {
        Ok(code) => match app.vault.consent_preview(session.citizen(), session.level(), &request_id).await {
            Ok(preview) => form_with_error(&app, &page, &preview, &form, code),
            Err(error) => vault_error_page(&app, &page, Some(session), &request_id, error).await,
        },
        Err(error) => vault_error_page(&app, &page, Some(session), &request_id, error).await,
    }
}

/// The form again (422), with the citizen's choices and what to fix.
fn form_with_error(
    app: &AppState,
    page: &Page,
    preview: &ConsentPreview,
    form: &ConsentForm,
    code: ErrorCode,
) -> Response {
    let lang = page.lang();
    let error =
        pages::ConsentError { message: ApiError::new(code).message(lang), target: Some(error_target(code).to_owned()) };
    let view = consent_view(app, lang, preview, &Selection::from_form(form), Some(error));
    page.respond(app, StatusCode::UNPROCESSABLE_ENTITY, pages::consent_page(&page.ctx, &view))
}

/// `GET /grants[?notice=approved|denied|revoked]`: the citizen's grants
/// with a revoke button each while active, and the confirmation of what
/// was just done (anything else in the query is ignored, never an error).
pub async fn grants_page(State(app): State<AppState>, page: Page, RawQuery(query): RawQuery) -> Response {
    let Some(session) = page.session.as_ref() else {
        return page.error(&app, ApiError::not_logged_in());
    };
    let grants = match app.vault.grants(session.citizen()).await {
        Ok(grants) => grants,
        Err(error) => return page.error(&app, error.into()),
    };
    let lang = page.lang();
    let now = app.vault.clock().now();
    let policies = app.vault.policies();
    let items: Vec<pages::GrantItem> = grants.iter().map(|grant| grant_item(policies, lang, grant, now)).collect();
    let notice = match super::web::query_param(query.as_deref(), "notice").as_deref() {
        Some("approved") => Some(GrantsNotice::Approved),
        Some("denied") => Some(GrantsNotice::Denied),
        Some("revoked") => Some(GrantsNotice::Revoked),
        _ => None,
    };
    page.respond(&app, StatusCode::OK, pages::grants_page(&page.ctx, &items, notice))
}

/// `GET /grants/{id}/revoke`: asks before revoking, and says what happens
/// to data the office already fetched. Someone else's grant is not found.
pub async fn confirm_revoke(State(app): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    let Some(session) = page.session.as_ref() else {
        return page.error(&app, ApiError::not_logged_in());
    };
    let Ok(grant_id) = id.parse::<GrantId>() else {
        return page.error(&app, ApiError::not_found());
    };
    let grants = match app.vault.grants(session.citizen()).await {
        Ok(grants) => grants,
        Err(error) => return page.error(&app, error.into()),
    };
    let Some(grant) = grants.iter().find(|grant| grant.id == grant_id) else {
        return page.error(&app, ApiError::not_found());
    };
    let item = grant_item(app.vault.policies(), page.lang(), grant, app.vault.clock().now());
    page.respond(&app, StatusCode::OK, pages::revoke_confirm_page(&page.ctx, &item))
}

/// `POST /grants/{id}/revoke` (form with `csrf`): revoke, then 303 to `/grants`.
pub async fn revoke_grant_form(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(session) = page.session.as_ref() else {
        return page.error(&app, ApiError::not_logged_in());
    };
    let csrf = url::form_urlencoded::parse(&body).find(|(key, _)| key == "csrf").map(|(_, value)| value.into_owned());
    if let Err(error) = session.check_csrf(csrf.as_deref()) {
        return page.error(&app, error);
    }
    let Ok(grant_id) = id.parse::<GrantId>() else {
        return page.error(&app, ApiError::not_found());
    };
    match app.vault.revoke_grant(session.citizen(), &grant_id).await {
        Ok(()) => Redirect::to("/grants?notice=revoked").into_response(),
        Err(error) => page.error(&app, error.into()),
    }
}

// --- JSON ---------------------------------------------------------------------------

/// `GET /api/v1/requests/{id}`: the consent preview.
#[utoipa::path(get, path = "/api/v1/requests/{id}", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    params(("id" = String, Path, description = "The request id (from the department's `approve_url`).")),
    responses((status = 200, description = "Who asks, why, and the very values that would be released.",
        body = PreviewBody)))]
pub async fn request_json(
    State(app): State<AppState>,
    citizen: CitizenSession,
    Path(id): Path<String>,
) -> ApiResult<Json<PreviewBody>> {
    let id = parse_request_id(&id)?;
    let preview = app.vault.consent_preview(citizen.citizen(), citizen.level(), &id).await?;
    Ok(Json(preview_body(app.vault.policies(), &preview)))
}

/// `POST /api/v1/requests/{id}/approve` `{evidence, fields, duration_days,
/// max_uses}` -> 201 `{grant_id, expires_at, max_uses}`.
#[utoipa::path(post, path = "/api/v1/requests/{id}/approve", tag = tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The request id.")),
    request_body(content = ApprovalBody, content_type = "application/json"),
    responses((status = 201, description = "The grant.", body = ApprovedBody)))]
pub async fn approve_json(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    citizen.check_csrf(csrf_header(&headers))?;
    let id = parse_request_id(&id)?;
    let input: ApprovalBody = json_body(&headers, &body)?;
    let approval = input.approval().map_err(VaultError::InvalidApproval)?;
    let grant = app.vault.approve_access_request(citizen.citizen(), citizen.level(), &id, &approval).await?;
    let created =
        ApprovedBody { grant_id: grant.id.to_string(), expires_at: grant.expires_at, max_uses: grant.max_uses };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /api/v1/requests/{id}/deny` -> 204.
#[utoipa::path(post, path = "/api/v1/requests/{id}/deny", tag = tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The request id.")),
    responses((status = 204, description = "Denied.")))]
pub async fn deny_json(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    citizen.check_csrf(csrf_header(&headers))?;
    let id = parse_request_id(&id)?;
    app.vault.deny_access_request(citizen.citizen(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/grants`: the citizen's grants, newest first.
#[utoipa::path(get, path = "/api/v1/grants", tag = tags::CITIZEN,
    security(("session_cookie" = [])),
    responses((status = 200, description = "The citizen's grants, newest first.", body = GrantsBody)))]
pub async fn grants_json(State(app): State<AppState>, citizen: CitizenSession) -> ApiResult<Json<GrantsBody>> {
    let grants = app.vault.grants(citizen.citizen()).await?;
    let now = app.vault.clock().now();
    let policies = app.vault.policies();
    let grants = grants.into_iter().map(|grant| grant_body(policies, grant, now)).collect();
    Ok(Json(GrantsBody { grants }))
}

/// `POST /api/v1/grants/{id}/revoke` -> 204 (also when already revoked).
#[utoipa::path(post, path = "/api/v1/grants/{id}/revoke", tag = tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    params(("id" = String, Path, description = "The grant id.")),
    responses((status = 204, description = "Revoked.")))]
pub async fn revoke_json(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    citizen.check_csrf(csrf_header(&headers))?;
    let id: GrantId = id.parse().map_err(|_| ApiError::not_found())?;
    app.vault.revoke_grant(citizen.citizen(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A policy text in both languages.
#[derive(Serialize, ToSchema)]
pub struct Texts {
    de: String,
    en: String,
}

impl From<&Localized> for Texts {
    fn from(text: &Localized) -> Self {
        Texts { de: text.de.clone(), en: text.en.clone() }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PreviewBody {
    id: String,
    department: NamedBody,
    service: ServiceBody,
    /// The department's case reference.
    reference: String,
    /// Until when the request can be answered.
    expires_at: DateTime<Utc>,
    documents: Vec<DocumentBody>,
}

#[derive(Serialize, ToSchema)]
pub struct NamedBody {
    id: String,
    /// Absent when the policy no longer names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<Texts>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceBody {
    id: String,
    name: Texts,
    purpose: Texts,
    legal_basis: Texts,
    /// The legal basis in one plain sentence, if the policy gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_basis_plain: Option<Texts>,
    /// Other ways to apply without tresor, if the policy names them.
    #[serde(skip_serializing_if = "Option::is_none")]
    other_ways: Option<Texts>,
    /// Whether the chosen documents' files are released too.
    releases_files: bool,
    /// Whether the citizen may leave the files out (`without_files`).
    file_optional: bool,
    max_duration_days: u32,
    max_uses: u32,
    /// What a form should offer first (never above the maxima).
    default_duration_days: u32,
    default_uses: u32,
    #[schema(value_type = LoginLevelSchema)]
    min_login_level: LoginLevel,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentBody {
    #[serde(rename = "type")]
    type_id: String,
    name: Texts,
    /// The fields of this type the service reads (`type.field`).
    fields: Vec<FieldBody>,
    /// The citizen's documents of this type, newest first.
    candidates: Vec<CandidateBody>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldBody {
    field: String,
    label: Texts,
}

#[derive(Serialize, ToSchema)]
pub struct CandidateBody {
    evidence_id: String,
    created_at: DateTime<Utc>,
    /// Field name (within the type) to the value that would be released.
    values: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<FileBody>,
}

#[derive(Serialize, ToSchema)]
pub struct FileBody {
    name: String,
    media_type: String,
    size: u64,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalBody {
    /// Evidence ids, at most one per evidence type.
    evidence: Vec<String>,
    /// `type.field` references.
    fields: Vec<String>,
    duration_days: u32,
    max_uses: u32,
    /// Leave the files out (only where the service allows it).
    #[serde(default)]
    without_files: bool,
}

impl ApprovalBody {
    fn approval(self) -> Result<Approval, ApprovalProblem> {
        let evidence = self
            .evidence
            .iter()
            .map(|id| id.parse::<EvidenceId>().map_err(|_| ApprovalProblem::EvidenceNotFound))
            .collect::<Result<Vec<_>, _>>()?;
        let fields = self
            .fields
            .iter()
            .map(|field| FieldRef::parse(field).ok_or(ApprovalProblem::FieldNotInPolicy))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Approval {
            evidence,
            fields,
            duration_days: self.duration_days,
            max_uses: self.max_uses,
            without_files: self.without_files,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ApprovedBody {
    grant_id: String,
    expires_at: DateTime<Utc>,
    max_uses: u32,
}

#[derive(Serialize, ToSchema)]
pub struct GrantsBody {
    grants: Vec<GrantBody>,
}

#[derive(Serialize, ToSchema)]
pub struct GrantBody {
    id: String,
    request_id: String,
    department: NamedBody,
    service: NamedBody,
    /// The approved fields, `type.field`.
    fields: Vec<String>,
    /// The chosen evidence ids.
    evidence: Vec<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    max_uses: u32,
    uses: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<DateTime<Utc>>,
    /// The citizen left the documents' files out.
    without_files: bool,
    /// `active`, `expired`, `revoked` or `used_up`.
    #[schema(value_type = GrantStatusName)]
    status: &'static str,
}

/// Where a grant stands.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only: `grant_body` writes these names
pub enum GrantStatusName {
    Active,
    Expired,
    Revoked,
    UsedUp,
}

fn preview_body(policies: &Policies, preview: &ConsentPreview) -> PreviewBody {
    let service = &preview.service;
    let documents = preview
        .documents
        .iter()
        .map(|document| {
            let evidence_type = policies.evidence_types.get(&document.type_id);
            let type_name = evidence_type
                .map(|t| Texts::from(&t.name))
                .unwrap_or_else(|| Texts { de: document.type_id.clone(), en: document.type_id.clone() });
            DocumentBody {
                type_id: document.type_id.clone(),
                name: type_name,
                fields: document
                    .fields
                    .iter()
                    .map(|field| FieldBody {
                        field: field.to_string(),
                        label: evidence_type.and_then(|t| t.field(field.field())).map_or_else(
                            || Texts { de: field.field().to_owned(), en: field.field().to_owned() },
                            |definition| Texts::from(&definition.label),
                        ),
                    })
                    .collect(),
                candidates: document
                    .candidates
                    .iter()
                    .map(|candidate| CandidateBody {
                        evidence_id: candidate.evidence_id.to_string(),
                        created_at: candidate.created_at,
                        values: candidate.values.iter().cloned().collect(),
                        file: candidate.file.as_ref().map(|file| FileBody {
                            name: file.name.clone(),
                            media_type: file.media_type.clone(),
                            size: file.size,
                        }),
                    })
                    .collect(),
            }
        })
        .collect();
    PreviewBody {
        id: preview.request.id.to_string(),
        department: NamedBody { id: preview.department.id.clone(), name: Some(Texts::from(&preview.department.name)) },
        service: ServiceBody {
            id: service.id.clone(),
            name: Texts::from(&service.name),
            purpose: Texts::from(&service.purpose),
            legal_basis: Texts::from(&service.legal_basis),
            legal_basis_plain: service.legal_basis_plain.as_ref().map(Texts::from),
            other_ways: service.other_ways.as_ref().map(Texts::from),
            releases_files: service.file,
            file_optional: service.file && service.file_optional,
            max_duration_days: service.max_grant_duration_days,
            max_uses: service.max_uses,
            default_duration_days: service.default_duration_days,
            default_uses: service.default_uses,
            min_login_level: service.min_login_level,
        },
        reference: preview.request.reference.clone(),
        expires_at: preview.request.expires_at,
        documents,
    }
}

fn grant_body(policies: &Policies, grant: GrantRecord, now: DateTime<Utc>) -> GrantBody {
    let status = match grant_status(policies, &grant, now) {
        GrantStatusView::Active => "active",
        GrantStatusView::Expired => "expired",
        GrantStatusView::Revoked => "revoked",
        GrantStatusView::UsedUp => "used_up",
    };
    GrantBody {
        department: NamedBody {
            name: policies.departments.get(&grant.department).map(|d| Texts::from(&d.name)),
            id: grant.department,
        },
        service: NamedBody {
            name: policies.services.get(&grant.service).map(|s| Texts::from(&s.name)),
            id: grant.service,
        },
        id: grant.id.to_string(),
        request_id: grant.request_id.to_string(),
        fields: grant.approved_fields,
        evidence: grant.evidence_ids.iter().map(ToString::to_string).collect(),
        created_at: grant.created_at,
        expires_at: grant.expires_at,
        max_uses: grant.max_uses,
        uses: grant.uses,
        revoked_at: grant.revoked_at,
        without_files: grant.without_files,
        status,
    }
}

/// A malformed request id is simply not found.
fn parse_request_id(raw: &str) -> ApiResult<RequestId> {
    raw.parse().map_err(|_| ApiError::not_found())
}

// --- forms and views ----------------------------------------------------------------

/// The consent form as submitted. `Debug` leaves the CSRF token out.
#[derive(Default)]
struct ConsentForm {
    csrf: Option<String>,
    decision: Option<String>,
    /// `doc.<type>` -> evidence id or `none`.
    documents: BTreeMap<String, String>,
    /// Every `field` value (`type.field`), in order.
    fields: Vec<String>,
    duration_days: Option<String>,
    max_uses: Option<String>,
    /// `without_files=yes`: leave the documents' files out.
    without_files: bool,
}

impl std::fmt::Debug for ConsentForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ConsentForm")
            .field("csrf", &self.csrf.as_ref().map(|_| crate::store::REDACTED))
            .field("decision", &self.decision)
            .field("documents", &self.documents)
            .field("fields", &self.fields)
            .field("duration_days", &self.duration_days)
            .field("max_uses", &self.max_uses)
            .field("without_files", &self.without_files)
            .finish()
    }
}

impl ConsentForm {
    /// Parse the url-encoded body; repeated `field` entries are kept (serde's
    /// form decoder cannot), unknown names are ignored.
    fn parse(body: &[u8]) -> Self {
        let mut form = ConsentForm::default();
        for (key, value) in url::form_urlencoded::parse(body) {
            match key.as_ref() {
                "csrf" => form.csrf = Some(value.into_owned()),
                "decision" => form.decision = Some(value.into_owned()),
                "field" => form.fields.push(value.into_owned()),
                "duration_days" => form.duration_days = Some(value.into_owned()),
                "max_uses" => form.max_uses = Some(value.into_owned()),
                "without_files" => form.without_files = value == "yes",
                other => {
                    if let Some(type_id) = other.strip_prefix("doc.") {
                        form.documents.insert(type_id.to_owned(), value.into_owned());
                    }
                }
            }
        }
        form
    }

    /// What the citizen approves: the checked fields of the types for which
    /// a document is chosen, and only the documents of which at least one
    /// field is checked (a document with nothing to share is not named in
    /// the grant: least data).
    fn approval(&self) -> Result<Approval, ApprovalProblem> {
        let mut fields: Vec<FieldRef> = Vec::new();
        for raw in &self.fields {
            let field = FieldRef::parse(raw).ok_or(ApprovalProblem::FieldNotInPolicy)?;
            let has_document = self.documents.get(field.evidence_type()).is_some_and(|choice| choice != "none");
            if has_document && !fields.contains(&field) {
                fields.push(field);
            }
        }
        let mut evidence = Vec::new();
        for (type_id, choice) in &self.documents {
            if choice == "none" || !fields.iter().any(|field| field.evidence_type() == type_id) {
                continue;
            }
            evidence.push(choice.parse::<EvidenceId>().map_err(|_| ApprovalProblem::EvidenceNotFound)?);
        }
        let number = |raw: &Option<String>| raw.as_deref().and_then(|text| text.trim().parse::<u32>().ok());
        let duration_days = number(&self.duration_days).ok_or(ApprovalProblem::DurationOutOfRange)?;
        let max_uses = number(&self.max_uses).ok_or(ApprovalProblem::UsesOutOfRange)?;
        Ok(Approval { evidence, fields, duration_days, max_uses, without_files: self.without_files })
    }
}

/// The choices shown on the consent page: the defaults (newest document of
/// each type, every field, the longest duration, the most uses) or, after a
/// refused submission, what the citizen had chosen.
#[derive(Debug, Default)]
struct Selection {
    /// Type -> Some(evidence id) or None ("do not share"); absent: newest.
    documents: BTreeMap<String, Option<String>>,
    /// Checked `type.field`s; None: all.
    fields: Option<Vec<String>>,
    duration_days: Option<u32>,
    max_uses: Option<u32>,
    /// "Do not send the file" ticked.
    without_files: bool,
}

impl Selection {
    fn from_form(form: &ConsentForm) -> Self {
        let number = |raw: &Option<String>| raw.as_deref().and_then(|text| text.trim().parse::<u32>().ok());
        Selection {
            documents: form
                .documents
                .iter()
                .map(|(type_id, choice)| (type_id.clone(), (choice != "none").then(|| choice.clone())))
                .collect(),
            fields: Some(form.fields.clone()),
            duration_days: number(&form.duration_days),
            max_uses: number(&form.max_uses),
            without_files: form.without_files,
        }
    }
}

/// Where the error summary points for a problem code.
fn error_target(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::DurationOutOfRange => "#duration",
        ErrorCode::UsesOutOfRange => "#max-uses",
        ErrorCode::FileRequired => "#consent-files",
        _ => "#consent-documents",
    }
}

fn consent_view(
    app: &AppState,
    lang: Lang,
    preview: &ConsentPreview,
    selection: &Selection,
    error: Option<pages::ConsentError>,
) -> pages::ConsentView {
    let policies = app.vault.policies();
    let service = &preview.service;
    let documents = preview
        .documents
        .iter()
        .map(|document| {
            let evidence_type = policies.evidence_types.get(&document.type_id);
            let label = |field: &FieldRef| {
                evidence_type
                    .and_then(|t| t.field(field.field()))
                    .map_or_else(|| field.field().to_owned(), |definition| definition.label.get(lang).to_owned())
            };
            let chosen = selection.documents.get(&document.type_id);
            let candidates: Vec<pages::ConsentCandidate> = document
                .candidates
                .iter()
                .enumerate()
                .map(|(index, candidate)| pages::ConsentCandidate {
                    evidence_id: candidate.evidence_id.to_string(),
                    created_at: candidate.created_at,
                    values: document
                        .fields
                        .iter()
                        .map(|field| {
                            let value = candidate
                                .values
                                .iter()
                                .find(|(name, _)| name == field.field())
                                .map(|(_, value)| display_value(policies, lang, field, value));
                            (label(field), value)
                        })
                        .collect(),
                    file: candidate.file.as_ref().map(|file| pages::FileInfo {
                        name: file.name.clone(),
                        media_type: file.media_type.clone(),
                        size: file.size,
                    }),
                    selected: match chosen {
                        None => index == 0,
                        Some(Some(id)) => *id == candidate.evidence_id.as_str(),
                        Some(None) => false,
                    },
                })
                .collect();
            let none_selected = !candidates.iter().any(|candidate| candidate.selected);
            pages::ConsentDocument {
                type_id: document.type_id.clone(),
                type_name: evidence_type.map_or_else(|| document.type_id.clone(), |t| t.name.get(lang).to_owned()),
                fields: document
                    .fields
                    .iter()
                    .map(|field| {
                        let reference = field.to_string();
                        pages::ConsentField {
                            checked: selection.fields.as_ref().is_none_or(|checked| checked.contains(&reference)),
                            label: label(field),
                            reference,
                        }
                    })
                    .collect(),
                candidates,
                none_selected,
            }
        })
        .collect();
    let max_days = service.max_grant_duration_days;
    let mut duration_options: Vec<u32> = DURATION_CHOICES.into_iter().filter(|days| *days < max_days).collect();
    duration_options.push(max_days);
    if !duration_options.contains(&service.default_duration_days) {
        duration_options.push(service.default_duration_days);
        duration_options.sort_unstable();
    }
    let mut uses_options: Vec<u32> = (1..=service.max_uses.min(USES_CHOICES)).collect();
    if service.max_uses > USES_CHOICES {
        uses_options.push(service.max_uses);
    }
    // The service's defaults, not the maxima, unless the citizen chose.
    let selected_duration =
        selection.duration_days.filter(|days| duration_options.contains(days)).unwrap_or(service.default_duration_days);
    let selected_uses = selection.max_uses.filter(|uses| uses_options.contains(uses)).unwrap_or(service.default_uses);
    pages::ConsentView {
        session_minutes: super::web::session_minutes(app),
        request_id: preview.request.id.to_string(),
        department_name: preview.department.name.get(lang).to_owned(),
        service_name: service.name.get(lang).to_owned(),
        purpose: service.purpose.get(lang).to_owned(),
        legal_basis: service.legal_basis.get(lang).to_owned(),
        legal_basis_plain: service.legal_basis_plain.as_ref().map(|plain| plain.get(lang).to_owned()),
        other_ways: service.other_ways.as_ref().map(|ways| ways.get(lang).to_owned()),
        contact: preview.department.contact.as_ref().map(|contact| contact.get(lang).to_owned()),
        reference: preview.request.reference.clone(),
        answer_until: preview.request.expires_at,
        releases_files: service.file,
        file_optional: service.file && service.file_optional,
        without_files: selection.without_files,
        documents,
        max_duration_days: max_days,
        latest_end: app.vault.clock().now() + Duration::days(i64::from(max_days)),
        duration_options,
        selected_duration,
        uses_options,
        max_uses: service.max_uses,
        selected_uses,
        error,
    }
}

/// A value as the citizen reads it (`i18n::field_value`): the value that
/// would be released, formatted for the page's language.
fn display_value(policies: &Policies, lang: Lang, field: &FieldRef, value: &str) -> String {
    let definition = policies.evidence_types.get(field.evidence_type()).and_then(|t| t.field(field.field()));
    definition.map_or_else(|| value.to_owned(), |definition| i18n::field_value(lang, &definition.kind, value))
}

fn grant_item(policies: &Policies, lang: Lang, grant: &GrantRecord, now: DateTime<Utc>) -> pages::GrantItem {
    // Approved fields grouped by evidence type, in the order approved.
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    for raw in &grant.approved_fields {
        let Some(field) = FieldRef::parse(raw) else { continue };
        let evidence_type = policies.evidence_types.get(field.evidence_type());
        let type_name = evidence_type.map_or_else(|| field.evidence_type().to_owned(), |t| t.name.get(lang).to_owned());
        let label = evidence_type
            .and_then(|t| t.field(field.field()))
            .map_or_else(|| field.field().to_owned(), |definition| definition.label.get(lang).to_owned());
        match fields.iter_mut().find(|(name, _)| *name == type_name) {
            Some((_, labels)) => labels.push(label),
            None => fields.push((type_name, vec![label])),
        }
    }
    let releases_files = policies.services.get(&grant.service).is_some_and(|service| service.file);
    pages::GrantItem {
        id: grant.id.to_string(),
        department_name: policies.department_name(&grant.department, lang),
        service_name: policies.service_name(&grant.service, lang),
        fields,
        with_files: releases_files && !grant.without_files,
        files_left_out: releases_files && grant.without_files,
        created_at: grant.created_at,
        expires_at: grant.expires_at,
        uses: grant.uses,
        max_uses: grant.max_uses,
        status: grant_status(policies, grant, now),
    }
}

/// Revoked, expired, used up (the grant's or the policy's limit, whichever
/// is lower, as the release decision counts) or active.
fn grant_status(policies: &Policies, grant: &GrantRecord, now: DateTime<Utc>) -> GrantStatusView {
    let limit = policies.services.get(&grant.service).map_or(grant.max_uses, |s| s.max_uses.min(grant.max_uses));
    if grant.revoked_at.is_some() {
        GrantStatusView::Revoked
    } else if now >= grant.expires_at {
        GrantStatusView::Expired
    } else if grant.uses >= limit {
        GrantStatusView::UsedUp
    } else {
        GrantStatusView::Active
    }
}

/// `/login?[issuer=..&]level=..&return_to=..`
fn login_href(issuer: Option<&str>, level: LoginLevel, return_to: &str) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if let Some(issuer) = issuer {
        query.append_pair("issuer", issuer);
    }
    query.append_pair("level", level.as_str());
    query.append_pair("return_to", return_to);
    format!("/login?{}", query.finish())
}

fn closed_page(app: &AppState, page: &Page, closed: RequestClosed) -> Response {
    let status = StatusCode::from_u16(closed.status()).unwrap_or(StatusCode::NOT_FOUND);
    page.respond(app, status, pages::request_closed_page(&page.ctx, closed))
}

/// A vault error on the consent page as a page: the request's state in
/// plain words, the step-up page for too low a login level, otherwise the
/// error page.
async fn vault_error_page(
    app: &AppState,
    page: &Page,
    session: Option<&CitizenSession>,
    request_id: &RequestId,
    error: VaultError,
) -> Response {
    match error {
        VaultError::RequestExpired => closed_page(app, page, RequestClosed::Expired),
        VaultError::RequestAnswered => closed_page(app, page, RequestClosed::Answered),
        VaultError::NotFound => closed_page(app, page, RequestClosed::NotFound),
        VaultError::LevelTooLow { required } => {
            let Some(session) = session else { return page.error(app, VaultError::LevelTooLow { required }.into()) };
            let request = match app.vault.access_request(request_id).await {
                Ok((request, _)) => request,
                Err(error) => return page.error(app, error.into()),
            };
            let lang = page.lang();
            let policies = app.vault.policies();
            let view = pages::StepUpView {
                department_name: policies.department_name(&request.department, lang),
                service_name: policies.service_name(&request.service, lang),
                required,
                current: session.level(),
                login_href: login_href(
                    Some(&session.record.issuer),
                    required,
                    &pages::request_href(request.id.as_str()),
                ),
            };
            page.respond(app, StatusCode::FORBIDDEN, pages::step_up_page(&page.ctx, &view))
        }
        other => page.error(app, other.into()),
    }
}

#[cfg(test)]
mod tests;
