//! Server-rendered pages for citizens. Every page works without JavaScript;
//! forms post with the session's CSRF token. Errors render as pages here and
//! as JSON in `api`.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::{FromRequestParts, Multipart, Path, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;
use serde::Deserialize;

use super::AppState;
use super::api::{file_response, parse_evidence_id};
use super::error::{ApiError, ErrorCode, field_message};
use super::i18n;
use super::pages::{self, PageContext};
use super::session::{self, CitizenSession};
use super::upload::{ParsedUpload, Reader, read_upload};
use crate::policy::{DATE_PARTS, EvidenceType, FieldError, FieldKind, FieldProblem, Lang, Policies, date_part_key};
use crate::vault::VaultError;

/// Language and session of one page request.
pub struct Page {
    pub ctx: PageContext,
    pub session: Option<CitizenSession>,
    /// Set when `?lang=` switched the language: remember it in a cookie.
    remember_lang: Option<Lang>,
}

impl Page {
    pub async fn load(
        app: &AppState,
        headers: &HeaderMap,
        query_lang: Option<&str>,
        path: &str,
    ) -> Result<Self, ApiError> {
        let session = session::load_session(app, headers).await?;
        Ok(Self::with_session(app, headers, query_lang, path, session))
    }

    /// The page without looking up the session: for showing an error when
    /// the session itself cannot be read (the database is away).
    pub fn without_session(app: &AppState, headers: &HeaderMap, query_lang: Option<&str>, path: &str) -> Self {
        Self::with_session(app, headers, query_lang, path, None)
    }

    fn with_session(
        app: &AppState,
        headers: &HeaderMap,
        query_lang: Option<&str>,
        path: &str,
        session: Option<CitizenSession>,
    ) -> Self {
        let lang = i18n::negotiate(
            query_lang,
            session::cookie_value(headers, "lang"),
            headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()),
        );
        let remember_lang = query_lang.filter(|l| matches!(*l, "de" | "en")).map(|_| lang);
        Self {
            ctx: PageContext {
                lang,
                dev_mode: app.dev_mode,
                logged_in: session.is_some(),
                login_level_label: session.as_ref().map(|s| super::i18n::login_level_name(lang, s.level()).to_owned()),
                csrf_token: session.as_ref().map(|s| s.csrf_token().to_owned()),
                current_path: path.to_owned(),
                display: super::display::Display::of_request(path, headers),
            },
            session,
            remember_lang,
        }
    }

    pub fn lang(&self) -> Lang {
        self.ctx.lang
    }

    /// The page, with the language cookie when the visitor switched.
    pub fn respond(&self, app: &AppState, status: StatusCode, markup: Markup) -> Response {
        let mut response = (status, markup).into_response();
        if let Some(lang) = self.remember_lang {
            let value = if lang == Lang::De { "de" } else { "en" };
            session::set_cookie_header(response.headers_mut(), app.cookies.set("lang", value, Some(365 * 24 * 3600)));
        }
        super::display::remember(app, &self.ctx.current_path, response.headers_mut());
        response
    }

    /// A page-rendered error (same codes as the API, in the page's language).
    pub fn error(&self, app: &AppState, error: ApiError) -> Response {
        let title = i18n::error_title(self.lang(), error.status.as_u16());
        let markup = pages::error_page(&self.ctx, error.status.as_u16(), &title, &error.message(self.lang()));
        let mut response = self.respond(app, error.status, markup);
        error.add_headers(response.headers_mut());
        response
    }

    pub(super) fn require_session(&self) -> Result<&CitizenSession, ApiError> {
        self.session.as_ref().ok_or_else(ApiError::not_logged_in)
    }
}

/// An error for a browser endpoint that also serves scripts: an HTML page
/// when the client asks for HTML, the JSON error otherwise.
pub async fn negotiated_error(app: &AppState, headers: &HeaderMap, error: ApiError) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if !wants_html {
        return error.into_response();
    }
    // The database is away: do not wait for it a second time for the session.
    if error.status == StatusCode::SERVICE_UNAVAILABLE {
        return Page::without_session(app, headers, None, "/").error(app, error);
    }
    match Page::load(app, headers, None, "/").await {
        Ok(page) => page.error(app, error),
        Err(_) => Page::without_session(app, headers, None, "/").error(app, error),
    }
}

/// Every page handler starts with its `Page`: the language (`?lang=`, the
/// `lang` cookie, Accept-Language), the session if any, and the request's
/// own path and query (for the language switch). A failure to load the
/// session (the database is away) answers with the error page, as if
/// logged out but never as "not logged in".
impl FromRequestParts<AppState> for Page {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Response> {
        let query_lang = parts.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "lang")
                .map(|(_, value)| value.into_owned())
        });
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let path = if path.len() <= 512 { path } else { parts.uri.path() };
        Page::load(app, &parts.headers, query_lang.as_deref(), path)
            .await
            .map_err(|error| Page::without_session(app, &parts.headers, query_lang.as_deref(), path).error(app, error))
    }
}

/// Run a page handler body; any error renders as an error page.
macro_rules! page_result {
    ($app:expr, $page:expr, $body:expr) => {
        match $body {
            Ok(response) => response,
            Err(error) => $page.error(&$app, error),
        }
    };
}

pub async fn start(State(app): State<AppState>, page: Page) -> Response {
    let issuers: Vec<pages::IssuerChoice> =
        app.issuers.choices().into_iter().map(|(name, label)| pages::IssuerChoice { name, label }).collect();
    page.respond(&app, StatusCode::OK, pages::start_page(&page.ctx, &issuers))
}

/// The value of `key` in a page's query, if any (a confirmation after a
/// redirect: `?notice=...`). Anything else in the query is ignored.
pub(super) fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query.and_then(|query| {
        url::form_urlencoded::parse(query.as_bytes()).find(|(name, _)| name == key).map(|(_, value)| value.into_owned())
    })
}

/// `GET /logged-out[?notice=erased]`: after a logout, or after the account
/// was erased (then the page says so).
pub async fn logged_out(State(app): State<AppState>, page: Page, RawQuery(query): RawQuery) -> Response {
    let erased = query_param(query.as_deref(), "notice").as_deref() == Some("erased");
    page.respond(&app, StatusCode::OK, pages::logged_out_page(&page.ctx, erased))
}

pub async fn not_found(State(app): State<AppState>, page: Page) -> Response {
    page.error(&app, ApiError::not_found())
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        pages::STYLESHEET,
    )
        .into_response()
}

fn type_name(app: &AppState, lang: Lang, type_id: &str) -> String {
    app.vault.policies().evidence_type_name(type_id, lang)
}

/// An evidence's stored fields as a person reads them: each by its label,
/// its value formatted for `lang` (`i18n::field_value`); a field the policy
/// no longer has by its name and stored value.
pub(super) fn displayed_fields(
    policies: &Policies,
    lang: Lang,
    type_id: &str,
    fields: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let evidence_type = policies.evidence_types.get(type_id);
    fields
        .into_iter()
        .map(|(name, value)| match evidence_type.and_then(|t| t.field(&name)) {
            Some(field) => (field.label.get(lang).to_owned(), i18n::field_value(lang, &field.kind, &value)),
            None => (name, value),
        })
        .collect()
}

/// `GET /evidence[?notice=deleted]`: the citizen's evidence, with the
/// confirmation of a deletion just made.
pub async fn list_evidence(State(app): State<AppState>, page: Page, RawQuery(query): RawQuery) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            let items: Vec<pages::EvidenceListItem> = app
                .vault
                .list_evidence(session.citizen())
                .await?
                .into_iter()
                .map(|e| pages::EvidenceListItem {
                    type_name: type_name(&app, page.lang(), &e.type_id),
                    id: e.id.to_string(),
                    created_at: e.created_at,
                    has_file: e.has_file,
                })
                .collect();
            let notice = match query_param(query.as_deref(), "notice").as_deref() {
                Some("deleted") => Some(pages::CitizenNotice::Deleted),
                _ => None,
            };
            Ok::<_, ApiError>(page.respond(&app, StatusCode::OK, pages::evidence_list_page(&page.ctx, &items, notice)))
        }
        .await
    )
}

#[derive(Deserialize)]
pub struct NewQuery {
    #[serde(rename = "type")]
    type_id: Option<String>,
    /// A consent page that asked for this document (`/requests/{id}`).
    return_to: Option<String>,
    /// Back after a new login: restore the browser's form draft, if any.
    draft: Option<String>,
}

/// What the upload form is filled with: the values as typed (date parts
/// under `<field>.day|month|year`), the problems, and what else to say.
#[derive(Default)]
pub(super) struct FormState<'a> {
    pub values: Option<&'a BTreeMap<String, String>>,
    pub errors: &'a [FieldError],
    pub file_error: Option<String>,
    pub general_error: Option<String>,
    pub file_dropped: bool,
    pub restored: bool,
    pub return_to: Option<String>,
}

/// The session's idle timeout in whole minutes (at least one), as forms say it.
pub(super) fn session_minutes(app: &AppState) -> i64 {
    (app.config.session_idle_timeout_seconds / 60).max(1)
}

pub(super) fn upload_form(
    app: &AppState,
    lang: Lang,
    evidence_type: &EvidenceType,
    state: FormState<'_>,
) -> pages::UploadForm {
    let empty = BTreeMap::new();
    let values = state.values.unwrap_or(&empty);
    let errors = state.errors;
    let fields = evidence_type
        .fields
        .iter()
        .map(|field| {
            let problem = errors.iter().find(|e| e.field == field.name).map(|e| e.problem);
            pages::FormField {
                name: field.name.clone(),
                label: field.label.get(lang).to_owned(),
                kind: match &field.kind {
                    FieldKind::Text { max_length } => pages::FormFieldKind::Text { max_length: *max_length },
                    FieldKind::Date => pages::FormFieldKind::Date,
                    FieldKind::Money => pages::FormFieldKind::Money,
                    FieldKind::Integer { min, max } => pages::FormFieldKind::Integer { min: *min, max: *max },
                    FieldKind::Enum { values } => pages::FormFieldKind::Enum {
                        options: values.iter().map(|v| (v.value.clone(), v.label.get(lang).to_owned())).collect(),
                    },
                },
                required: field.required,
                value: values.get(&field.name).cloned().unwrap_or_default(),
                error: problem.map(|problem| field_message(lang, problem)),
                date: match field.kind {
                    FieldKind::Date => date_value(values, &field.name, problem),
                    _ => pages::DateValue::default(),
                },
            }
        })
        .collect();
    pages::UploadForm {
        type_id: evidence_type.id.clone(),
        type_name: evidence_type.name.get(lang).to_owned(),
        file_allowed: evidence_type.file_allowed,
        max_upload_bytes: app.config.upload_limit_bytes,
        fields,
        file_error: state.file_error,
        return_to: state.return_to,
        general_error: state.general_error,
        file_dropped: state.file_dropped && evidence_type.file_allowed,
        session_minutes: session_minutes(app),
        restored: state.restored,
    }
}

/// A date field's three parts as typed (or split from a stored
/// `YYYY-MM-DD`), and which part a problem names.
fn date_value(values: &BTreeMap<String, String>, name: &str, problem: Option<FieldProblem>) -> pages::DateValue {
    let typed = DATE_PARTS.map(|part| values.get(&date_part_key(name, part)).cloned());
    let parts = if typed.iter().any(Option::is_some) {
        typed.map(Option::unwrap_or_default)
    } else {
        match values.get(name).and_then(|iso| chrono::NaiveDate::parse_from_str(iso, "%Y-%m-%d").ok()) {
            Some(date) => {
                use chrono::Datelike;
                [date.day().to_string(), date.month().to_string(), date.year().to_string()]
            }
            None => Default::default(),
        }
    };
    let invalid = match problem {
        Some(FieldProblem::DateIncomplete { day, month, year }) => [day, month, year],
        Some(FieldProblem::InvalidDay) => [true, false, false],
        Some(FieldProblem::InvalidMonth) => [false, true, false],
        Some(FieldProblem::InvalidYear | FieldProblem::YearOutOfRange { .. }) => [false, false, true],
        Some(FieldProblem::NoSuchDate) => [true, true, false],
        _ => [false; 3],
    };
    pages::DateValue { parts, invalid }
}

pub async fn new_evidence(
    State(app): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(q): Query<NewQuery>,
) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            let lang = page.lang();
            let types = &app.vault.policies().evidence_types;
            let asked = q.type_id.as_deref().and_then(|id| types.get(id));
            if let Some(evidence_type) = asked
                && session.level() < evidence_type.min_login_level
            {
                // Before a draft is taken: it stays for a login at the level.
                return Err(VaultError::LevelTooLow { required: evidence_type.min_login_level }.into());
            }
            // Back from a new login after the session ended: the form as it was.
            if q.draft.is_some()
                && let Some(response) = super::drafts::restore(&app, &page, session, &headers).await?
            {
                return Ok(response);
            }
            match asked {
                Some(evidence_type) => {
                    let state = FormState {
                        return_to: q.return_to.as_deref().and_then(super::upload::consent_return),
                        ..FormState::default()
                    };
                    let form = upload_form(&app, lang, evidence_type, state);
                    Ok(page.respond(&app, StatusCode::OK, pages::upload_form_page(&page.ctx, &form)))
                }
                None => {
                    let choices: Vec<pages::TypeChoice> = types
                        .iter()
                        .map(|t| pages::TypeChoice {
                            id: t.id.clone(),
                            name: t.name.get(lang).to_owned(),
                            needs_higher_level: session.level() < t.min_login_level,
                        })
                        .collect();
                    Ok(page.respond(&app, StatusCode::OK, pages::choose_type_page(&page.ctx, &choices)))
                }
            }
        }
        .await
    )
}

/// `POST /evidence` from the upload form. Whatever goes wrong, the form
/// comes back with what was typed (status as the error's): field errors,
/// a file too large (413, the text parts before the file are kept) or of
/// the wrong type (415), a form token that no longer matches, time-outs.
/// Without a live session the typed values are kept as a sealed draft
/// (`drafts`) and the page asks to log in again.
pub async fn upload_evidence(
    State(app): State<AppState>,
    client: super::rate_limit::ClientAddress,
    page: Page,
    headers: HeaderMap,
    multipart: Multipart,
) -> Response {
    let Some(session) = page.session.as_ref() else {
        return super::drafts::keep_after_expiry(&app, client, &page, &headers, multipart).await;
    };
    // Admitted before a byte of the body is read; released when this returns.
    let permit = match app.uploads.admit(session.citizen()).await {
        Ok(permit) => permit,
        Err(refused) => return form_after_refusal(&app, &page, &headers, refused, multipart).await,
    };
    let upload = match read_upload(&app, Reader::Citizen(session), &permit, multipart, None).await {
        Ok(upload) => upload,
        Err(failed) => return form_after_error(&app, &page, &failed.partial, failed.error),
    };
    let type_id = upload.type_id.clone().unwrap_or_default();
    if app.vault.policies().evidence_types.get(&type_id).is_none() {
        if let Some(file) = upload.file {
            app.vault.abort_file(file.file_id()).await;
        }
        return page.error(&app, VaultError::UnknownType.into());
    }
    let chosen = ParsedUpload {
        type_id: upload.type_id.clone(),
        return_to: upload.return_to.clone(),
        fields: upload.fields.clone(),
        file: None,
        file_chosen: upload.file_chosen,
    };
    match app.vault.create_evidence(session.citizen(), session.level(), &type_id, &upload.fields, upload.file).await {
        Ok(id) => {
            let next = upload.return_to.clone().unwrap_or_else(|| format!("/evidence/{id}?notice=stored"));
            Redirect::to(&next).into_response()
        }
        Err(error) => form_after_error(&app, &page, &chosen, error.into()),
    }
}

/// Not admitted (the citizen's other uploads, or the budget stays full):
/// the text parts are read within the text-only reserve, and the form comes
/// back with them, the refusal in its summary, the request to choose the
/// file again and `Retry-After`. Only a form posted from this site is shown
/// back (nothing is checked or stored on this path); otherwise, or when the
/// reserve is full too, the error page.
async fn form_after_refusal(
    app: &AppState,
    page: &Page,
    headers: &HeaderMap,
    refused: super::upload::UploadRefused,
    multipart: Multipart,
) -> Response {
    let error = refused.error();
    if !super::drafts::posted_from_this_site(headers) {
        return super::upload::with_retry_after(page.error(app, error));
    }
    match super::upload::read_text_parts(app, multipart).await {
        Some(upload) => super::upload::with_retry_after(form_after_error(app, page, &upload, error)),
        None => super::upload::with_retry_after(page.error(app, error)),
    }
}

/// The upload form again after `error`, with what had been read of the
/// upload: the typed values, the error in the summary (at its field, at the
/// file input, or for the whole form) and, if a file had been chosen, the
/// request to choose it again. A form that cannot be shown (unknown type,
/// too low a login level) is the error page.
fn form_after_error(app: &AppState, page: &Page, upload: &ParsedUpload, error: ApiError) -> Response {
    let evidence_type = upload.type_id.as_deref().and_then(|id| app.vault.policies().evidence_types.get(id));
    let Some(evidence_type) = evidence_type else {
        return page.error(app, error);
    };
    let lang = page.lang();
    let level_ok = page.session.as_ref().is_some_and(|session| session.level() >= evidence_type.min_login_level);
    if !level_ok || error.code == ErrorCode::LoginLevelTooLow {
        return page.error(app, error);
    }
    let is_file_error = matches!(
        error.code,
        ErrorCode::FileTooLarge
            | ErrorCode::UnsupportedFileType
            | ErrorCode::InvalidFileName
            | ErrorCode::FileNotAllowed
            | ErrorCode::TooManyFiles
    );
    let message = error.message(lang);
    let state = FormState {
        values: Some(&upload.fields),
        errors: &error.fields,
        file_error: is_file_error.then(|| message.clone()),
        general_error: (!is_file_error && error.fields.is_empty()).then_some(message),
        file_dropped: upload.file_chosen,
        restored: false,
        return_to: upload.return_to.clone(),
    };
    let form = upload_form(app, lang, evidence_type, state);
    let mut response = page.respond(app, error.status, pages::upload_form_page(&page.ctx, &form));
    error.add_headers(response.headers_mut());
    response
}

/// `GET /evidence/{id}[?notice=stored]`: one evidence, with the
/// confirmation of an upload just made.
pub async fn show_evidence(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            let id = parse_evidence_id(&id)?;
            let view = app.vault.evidence(session.citizen(), session.level(), &id).await?;
            let lang = page.lang();
            let detail = pages::EvidenceDetail {
                id: view.id.to_string(),
                type_name: type_name(&app, lang, &view.type_id),
                created_at: view.created_at,
                fields: displayed_fields(app.vault.policies(), lang, &view.type_id, view.fields),
                file: view.file.map(|f| pages::FileInfo { name: f.name, media_type: f.media_type, size: f.size }),
            };
            let notice = match query_param(query.as_deref(), "notice").as_deref() {
                Some("stored") => Some(pages::CitizenNotice::Stored),
                _ => None,
            };
            Ok(page.respond(&app, StatusCode::OK, pages::evidence_detail_page(&page.ctx, &detail, notice)))
        }
        .await
    )
}

pub async fn download_file(State(app): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            let id = parse_evidence_id(&id)?;
            let (view, reader) = app.vault.open_file(session.citizen(), session.level(), &id).await?;
            Ok::<_, ApiError>(file_response(view, reader))
        }
        .await
    )
}

pub async fn confirm_delete(State(app): State<AppState>, page: Page, Path(id): Path<String>) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            let id = parse_evidence_id(&id)?;
            let view = app.vault.evidence(session.citizen(), session.level(), &id).await?;
            let name = type_name(&app, page.lang(), &view.type_id);
            Ok(page.respond(&app, StatusCode::OK, pages::delete_confirm_page(&page.ctx, id.as_str(), &name)))
        }
        .await
    )
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    csrf: Option<String>,
    confirm: Option<String>,
}

pub async fn delete_evidence(
    State(app): State<AppState>,
    page: Page,
    Path(id): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            session.check_csrf(form.csrf.as_deref())?;
            let id = parse_evidence_id(&id)?;
            app.vault.delete_evidence(session.citizen(), &id).await?;
            Ok::<_, ApiError>(Redirect::to("/evidence?notice=deleted").into_response())
        }
        .await
    )
}

pub async fn confirm_erase(State(app): State<AppState>, page: Page) -> Response {
    page_result!(
        app,
        page,
        async {
            page.require_session()?;
            Ok::<_, ApiError>(page.respond(&app, StatusCode::OK, pages::erase_account_page(&page.ctx)))
        }
        .await
    )
}

pub async fn erase_account(State(app): State<AppState>, page: Page, Form(form): Form<ConfirmForm>) -> Response {
    page_result!(
        app,
        page,
        async {
            let session = page.require_session()?;
            session.check_csrf(form.csrf.as_deref())?;
            if form.confirm.is_none() {
                return Err(ErrorCode::ConfirmationRequired.into());
            }
            app.vault.erase_account(session.citizen()).await?;
            let mut response = Redirect::to("/logged-out?notice=erased").into_response();
            session::set_cookie_header(response.headers_mut(), app.cookies.clear(app.cookies.session_name));
            Ok(response)
        }
        .await
    )
}
