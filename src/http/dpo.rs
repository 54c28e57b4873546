//! The data-protection officers' side of the audit log: staff login through
//! the city's staff identity provider, the query page and its JSON twin,
//! CSV and JSON Lines exports, per-department statistics, and a
//! verification that recomputes the whole Merkle tree from the store.
//!
//! Architecture invariant: every DPO read of the log is itself an audit
//! entry (`audit_query`, actor `Staff(staff id)`, never the raw subject),
//! recorded durably before the answer leaves; if that fails, nothing is
//! shown (503 `audit_unavailable`). Staff sessions live in their own table
//! and cookie: a citizen session never opens a staff page, and a staff
//! session never opens a citizen page.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Form;
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Query, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use maud::Markup;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::{CallbackQuery, CsrfForm};
use super::error::{ApiError, ApiResult};
use super::i18n::{self, VerifyFinding};
use super::login_flow::{self, LoginKind, LoginStartRequest};
use super::pages::{self, PageContext};
use super::session::{self, StaffSession};
use crate::audit::checkpoint::parse_verifier_key;
use crate::audit::verify::VerifyError;
use crate::audit::verify::{CSV_HEADER, csv_cell};
use crate::audit::witnessing::{WitnessProblem, WitnessStatus};
use crate::audit::{Action, Actor, AuditEntry, Outcome};
use crate::identity::staff::StaffLogin;
use crate::ids::CitizenId;
use crate::policy::Lang;
use crate::store::{AuditFilter, StoredAuditEntry};
use crate::vault::DpoQuery;

/// The staff login, if configured; put into the router as an extension by
/// `server::build` (None: every staff route answers 404).
#[derive(Clone, Default)]
pub struct StaffLoginHandle(pub Option<Arc<StaffLogin>>);

/// Rows on one results page.
const PAGE_LIMIT: u32 = 100;
/// Rows per JSON page when `limit` is not given, and the most one may ask for.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Rows read from the store per step of an export or of the statistics.
const SCAN_PAGE: u32 = 1000;
/// Longest accepted filter value (ids are far shorter).
const MAX_FILTER_VALUE: usize = 200;

/// Every action, for the select on the query page.
const ALL_ACTIONS: [Action; 16] = [
    Action::Login,
    Action::Logout,
    Action::EvidenceUpload,
    Action::EvidenceView,
    Action::EvidenceDownload,
    Action::EvidenceDelete,
    Action::AccountErase,
    Action::AccessRequestCreate,
    Action::AccessRequestApprove,
    Action::AccessRequestDeny,
    Action::AccessRequestExpire,
    Action::GrantRevoke,
    Action::Release,
    Action::PolicyLoad,
    Action::KeyOperation,
    Action::AuditQuery,
];

// A new action fails to compile here until it is added to ALL_ACTIONS too.
const _: fn(Action) = |action| match action {
    Action::Login
    | Action::Logout
    | Action::EvidenceUpload
    | Action::EvidenceView
    | Action::EvidenceDownload
    | Action::EvidenceDelete
    | Action::AccountErase
    | Action::AccessRequestCreate
    | Action::AccessRequestApprove
    | Action::AccessRequestDeny
    | Action::AccessRequestExpire
    | Action::GrantRevoke
    | Action::Release
    | Action::PolicyLoad
    | Action::KeyOperation
    | Action::AuditQuery => {}
};

// --- extractors --------------------------------------------------------------

/// The staff login of this server, or None. Never rejects.
pub struct StaffSetup(Option<Arc<StaffLogin>>);

impl<S: Send + Sync> FromRequestParts<S> for StaffSetup {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Infallible> {
        Ok(Self(parts.extensions.get::<StaffLoginHandle>().and_then(|handle| handle.0.clone())))
    }
}

impl StaffSetup {
    fn require(&self) -> ApiResult<&Arc<StaffLogin>> {
        self.0.as_ref().ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "staff_login_not_configured", "There is no staff login here.")
        })
    }
}

/// A logged-in data-protection officer: the staff session (for the page's
/// CSRF token) and the domain's capability (`vault::Dpo`).
struct Dpo {
    session: StaffSession,
    access: crate::vault::Dpo,
}

fn staff_not_logged_in() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "staff_not_logged_in", "Please log in with your staff account first.")
}

fn not_a_dpo() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "not_a_dpo", "Only data-protection officers may see the audit log.")
}

/// The staff session of the request, and whether the staff policy makes
/// its holder a DPO (asked on every request).
async fn require_dpo(app: &AppState, headers: &HeaderMap, staff: &StaffSetup) -> ApiResult<Dpo> {
    let staff = staff.require()?;
    let session = session::load_staff_session(app, headers).await?.ok_or_else(staff_not_logged_in)?;
    let access = app.vault.dpo(&session.record.id_hash, staff).await?.ok_or_else(not_a_dpo)?;
    Ok(Dpo { session, access })
}

// --- staff login ---------------------------------------------------------------

#[derive(Deserialize)]
pub struct StaffLoginQuery {
    login_hint: Option<String>,
    return_to: Option<String>,
}

/// Only pages of the DPO area are a place to come back to after login.
fn dpo_return_path(candidate: Option<&str>) -> String {
    session::return_path(candidate, "/dpo", "/dpo")
}

/// `GET /staff/login`: to the staff identity provider.
pub async fn staff_login(
    State(app): State<AppState>,
    client: super::rate_limit::ClientAddress,
    staff: StaffSetup,
    headers: HeaderMap,
    Query(query): Query<StaffLoginQuery>,
) -> Response {
    let started = async {
        app.rate_limits.login_start(client.0)?;
        start_staff_login(&app, &staff, query).await
    };
    match started.await {
        Ok(response) => response,
        Err(error) => error_page(&app, &headers, None, error, false),
    }
}

async fn start_staff_login(app: &AppState, staff: &StaffSetup, query: StaffLoginQuery) -> ApiResult<Response> {
    let staff = staff.require()?;
    let relying_party = staff.relying_party().await?;
    let request = LoginStartRequest {
        issuer_name: staff.issuer_name().to_owned(),
        level: relying_party.min_level(),
        login_hint: query.login_hint.as_deref(),
        return_to: dpo_return_path(query.return_to.as_deref()),
    };
    login_flow::redirect_to_provider(app, LoginKind::Staff, &relying_party, request).await
}

/// `GET /staff/callback`: the staff provider's answer. A verified staff
/// member who is not a DPO gets 403 and no session.
pub async fn staff_callback(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match finish_staff_login(&app, &staff, &headers, query).await {
        Ok(response) => response,
        Err(error) => error_page(&app, &headers, None, error, false),
    }
}

async fn finish_staff_login(
    app: &AppState,
    staff: &StaffSetup,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> ApiResult<Response> {
    let staff = staff.require()?;
    // A citizen's pending login can never complete here: another key, and
    // the issuer must be the staff provider.
    let (pending, login, _) =
        login_flow::verified_login(app, LoginKind::Staff, headers, query, Some(staff.issuer_name()), |_| async {
            Ok(staff.relying_party().await?)
        })
        .await?;
    let staff_id = app.vault.staff_id(staff, &login.subject);
    if !staff.is_dpo(&staff_id) {
        app.vault.record_refused_login(Actor::Staff(staff_id), "not_a_dpo").await?;
        return Err(not_a_dpo());
    }
    // Durable before the session exists (fail closed).
    app.vault.log_in_staff(&staff_id).await?;
    let previous = session::cookie_value(headers, app.cookies.staff_session_name());
    let cookie =
        session::start_staff_session(app, previous, staff_id, staff.issuer_name(), login.idp_session_id).await?;
    Ok(login_flow::logged_in_response(app, LoginKind::Staff, &pending.return_to, cookie))
}

/// `POST /staff/logout`: end the staff session here (and at the provider,
/// if it supports RP-initiated logout).
pub async fn staff_logout(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    let result = async {
        let staff_login = staff.require()?;
        let session = session::load_staff_session(&app, &headers).await?.ok_or_else(staff_not_logged_in)?;
        session.check_csrf(form.csrf.as_deref())?;
        // Durable before the session ends (fail closed).
        app.vault.log_out_staff(session.staff_id(), &session.record.id_hash).await?;
        let target = match staff_login.relying_party().await {
            Ok(relying_party) => relying_party.end_session_url().map(|url| url.to_string()),
            Err(_) => None,
        };
        let mut response = Redirect::to(target.as_deref().unwrap_or("/logged-out")).into_response();
        session::set_cookie_header(response.headers_mut(), app.cookies.clear(app.cookies.staff_session_name()));
        Ok::<_, ApiError>(response)
    }
    .await;
    result.unwrap_or_else(|error| error_page(&app, &headers, None, error, false))
}

// --- filters ---------------------------------------------------------------------

/// A parsed DPO request: the store filter, paging, and the raw values for
/// showing the form again.
#[derive(Debug, Default)]
struct DpoRequest {
    filter: AuditFilter,
    /// Oldest first from here (`after`), when asked for; newest first
    /// otherwise (older than `before`, if given).
    after: Option<u64>,
    before: Option<u64>,
    limit: Option<u32>,
    lang: Option<String>,
    values: pages::DpoFilterValues,
}

/// A filter value that was refused: which parameter, and why (English; the
/// page translates by parameter).
#[derive(Debug)]
struct FilterError {
    parameter: &'static str,
    message: &'static str,
}

impl From<FilterError> for ApiError {
    fn from(error: FilterError) -> Self {
        ApiError::bad_request("invalid_filter", format!("{}: {}", error.parameter, error.message))
    }
}

const FILTER_PARAMETERS: [&str; 11] =
    ["from", "to", "action", "outcome", "department", "service", "citizen", "after", "before", "limit", "lang"];

/// Parse the query string strictly: unknown or repeated parameters and bad
/// values are refused with the parameter's name; empty values mean "any".
fn parse_dpo_request(raw: Option<&str>) -> Result<DpoRequest, FilterError> {
    let mut request = DpoRequest::default();
    let mut seen = Vec::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let Some(&parameter) = FILTER_PARAMETERS.iter().find(|name| **name == key) else {
            return Err(FilterError { parameter: "query", message: "unknown parameter" });
        };
        if seen.contains(&parameter) {
            return Err(FilterError { parameter, message: "given more than once" });
        }
        seen.push(parameter);
        let value = value.trim();
        if value.len() > MAX_FILTER_VALUE || crate::text::has_refused_char(value) {
            return Err(FilterError {
                parameter,
                message: "too long, or contains control characters or invisible formatting characters",
            });
        }
        if value.is_empty() {
            continue;
        }
        let text = value.to_owned();
        match parameter {
            "from" => {
                request.filter.from =
                    Some(parse_time(value, false).ok_or(FilterError {
                        parameter,
                        message: "expected a date (YYYY-MM-DD) or an RFC 3339 time",
                    })?);
                request.values.from = text;
            }
            "to" => {
                request.filter.until =
                    Some(parse_time(value, true).ok_or(FilterError {
                        parameter,
                        message: "expected a date (YYYY-MM-DD) or an RFC 3339 time",
                    })?);
                request.values.to = text;
            }
            "action" => {
                let action = ALL_ACTIONS.into_iter().find(|action| action.as_str() == value);
                request.filter.action =
                    Some(action.ok_or(FilterError { parameter, message: "unknown action" })?.as_str());
                request.values.action = text;
            }
            "outcome" => {
                let outcome = match value {
                    "success" => Outcome::Success,
                    "refused" => Outcome::Refused,
                    "failed" => Outcome::Failed,
                    _ => return Err(FilterError { parameter, message: "expected success, refused or failed" }),
                };
                request.filter.outcome = Some(outcome.as_str());
                request.values.outcome = text;
            }
            "department" | "service" => {
                if value.len() > 128
                    || !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
                {
                    return Err(FilterError { parameter, message: "use letters, digits, - _ . : only" });
                }
                if parameter == "department" {
                    request.filter.department = Some(text.clone());
                    request.values.department = text;
                } else {
                    request.filter.service = Some(text.clone());
                    request.values.service = text;
                }
            }
            "citizen" => {
                let citizen: CitizenId =
                    value.parse().map_err(|_| FilterError { parameter, message: "not a citizen id" })?;
                request.filter.subject = Some(citizen.to_string());
                request.values.citizen = text;
            }
            "after" => {
                request.after =
                    Some(value.parse().map_err(|_| FilterError { parameter, message: "expected a sequence number" })?);
            }
            "before" => {
                request.before =
                    Some(value.parse().map_err(|_| FilterError { parameter, message: "expected a sequence number" })?);
            }
            "limit" => {
                let limit: u32 = value.parse().map_err(|_| FilterError { parameter, message: "expected 1 to 1000" })?;
                if !(1..=MAX_LIMIT).contains(&limit) {
                    return Err(FilterError { parameter, message: "expected 1 to 1000" });
                }
                request.limit = Some(limit);
            }
            // Only "lang" is left (the list above is exhaustive).
            _ => request.lang = Some(text),
        }
    }
    if let (Some(from), Some(until)) = (request.filter.from, request.filter.until)
        && from >= until
    {
        return Err(FilterError { parameter: "to", message: "must be after from" });
    }
    if request.after.is_some() && request.before.is_some() {
        return Err(FilterError {
            parameter: "before",
            message: "give either after (oldest first) or before (newest first)",
        });
    }
    Ok(request)
}

/// A date is a whole UTC day: `from` its start, `to` its end (the store's
/// bound is exclusive, so the next day's start). An RFC 3339 time is exact.
fn parse_time(value: &str, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Some(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let date = if end_of_day { date.succ_opt()? } else { date };
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

/// The filter as a query string (for export and next-page links).
fn filter_query(values: &pages::DpoFilterValues) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("from", &values.from),
        ("to", &values.to),
        ("action", &values.action),
        ("outcome", &values.outcome),
        ("department", &values.department),
        ("service", &values.service),
        ("citizen", &values.citizen),
    ] {
        if !value.is_empty() {
            serializer.append_pair(key, value);
        }
    }
    serializer.finish()
}

/// Record the DPO's query before anything is read (fail closed). A citizen
/// asked about is the entry's subject, so they see in their own access log
/// that a DPO looked. Department and service are deliberately not targets:
/// they would count the DPO's own queries as that department's activity in
/// filters and statistics.
/// Record the DPO's query durably (fail closed) and get the reads it allows.
async fn record_query(app: &AppState, dpo: &Dpo, filter: &AuditFilter, reason: &'static str) -> ApiResult<DpoQuery> {
    Ok(app.vault.record_dpo_query(&dpo.access, filter.clone(), reason).await?)
}

/// A page of entries, at most `limit`, and whether there are more: oldest
/// first after `after` when the request gives it, else newest first (older
/// than `before`, if given), each from the right place of the filter's index.
async fn fetch_page(query: &DpoQuery, limit: u32, request: &DpoRequest) -> ApiResult<(Vec<StoredAuditEntry>, bool)> {
    let mut rows = match request.after {
        Some(after) => query.oldest_first(limit + 1, Some(after)).await?,
        None => query.newest_first(limit + 1, request.before).await?,
    };
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Ok((rows, more))
}

fn reason_of(row: &StoredAuditEntry) -> Option<String> {
    AuditEntry::from_stored(row).and_then(Result::ok).and_then(|entry| entry.event.reason)
}

fn sequence_u64(sequence: i64) -> u64 {
    u64::try_from(sequence).unwrap_or(0)
}

// --- the query page and JSON ------------------------------------------------------

/// `GET /dpo`: the filter form and the matching entries.
pub async fn query_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let lang_hint = lang_param(&raw);
    let path = if raw.is_empty() { "/dpo".to_owned() } else { format!("/dpo?{raw}") };
    let dpo = match require_dpo(&app, &headers, &staff).await {
        Ok(dpo) => dpo,
        Err(error) => return error_page(&app, &headers, lang_hint.as_deref(), error, false),
    };
    let ctx = page_context(&app, &headers, lang_hint.as_deref(), &path, Some(&dpo.session));
    let actions: Vec<&'static str> = ALL_ACTIONS.iter().map(|action| action.as_str()).collect();
    let request = match parse_dpo_request(Some(&raw)) {
        Ok(request) => request,
        Err(error) => {
            let view = pages::DpoQueryView {
                filter: raw_values(&raw),
                actions,
                filter_error: Some((error.parameter.to_owned(), filter_message(ctx.lang, &error))),
                rows: Vec::new(),
                next_href: None,
                export_query: String::new(),
            };
            return respond(&app, &ctx, StatusCode::BAD_REQUEST, pages::dpo_query_page(&ctx, &view));
        }
    };
    let result = async {
        let query = record_query(&app, &dpo, &request.filter, "dpo_page").await?;
        let limit = request.limit.unwrap_or(PAGE_LIMIT);
        let (rows, more) = fetch_page(&query, limit, &request).await?;
        let export_query = filter_query(&request.values);
        let cursor = if request.after.is_some() { "after" } else { "before" };
        let next_href = more.then(|| rows.last()).flatten().map(|last| {
            let separator = if export_query.is_empty() { "" } else { "&" };
            format!("/dpo?{export_query}{separator}{cursor}={}&lang={}", last.sequence, i18n::lang_code(ctx.lang))
        });
        let rows = rows
            .iter()
            .map(|row| pages::DpoEntryRow {
                sequence: row.sequence,
                time: row.time,
                actor_kind: row.actor_kind.clone(),
                actor_id: row.actor_id.clone(),
                action: row.action.clone(),
                outcome: row.outcome.clone(),
                subject: row.subject.clone(),
                department: row.department.clone(),
                service: row.service.clone(),
                reason: reason_of(row),
            })
            .collect();
        let view = pages::DpoQueryView {
            filter: request.values.clone(),
            actions,
            filter_error: None,
            rows,
            next_href,
            export_query,
        };
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_query_page(&ctx, &view)))
    }
    .await;
    result.unwrap_or_else(|error| error_page(&app, &headers, lang_hint.as_deref(), error, true))
}

/// One entry as the JSON API and the JSON Lines export give it.
#[derive(Serialize)]
pub struct EntryBody {
    sequence: i64,
    time: String,
    actor_kind: String,
    actor_id: Option<String>,
    action: String,
    outcome: String,
    subject: Option<String>,
    department: Option<String>,
    service: Option<String>,
    reason: Option<String>,
    /// Hex; SHA-256(0x00 || body).
    leaf_hash: String,
    /// The exact bytes stored and hashed (UTF-8 JSON); null once pruned.
    body: Option<String>,
    /// The same entry parsed, for reading; null once pruned.
    entry: Option<serde_json::Value>,
}

impl EntryBody {
    fn from_stored(row: &StoredAuditEntry) -> Self {
        Self {
            sequence: row.sequence,
            time: row.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            actor_kind: row.actor_kind.clone(),
            actor_id: row.actor_id.clone(),
            action: row.action.clone(),
            outcome: row.outcome.clone(),
            subject: row.subject.clone(),
            department: row.department.clone(),
            service: row.service.clone(),
            reason: reason_of(row),
            leaf_hash: hex::encode(&row.leaf_hash),
            body: row.body.as_deref().and_then(|body| std::str::from_utf8(body).ok()).map(str::to_owned),
            entry: row.body.as_deref().and_then(|body| serde_json::from_slice(body).ok()),
        }
    }
}

#[derive(Serialize)]
pub struct EntriesBody {
    /// Newest first, or oldest first when `after` was given.
    entries: Vec<EntryBody>,
    /// Oldest first: pass as `after` for the next page; null on the last
    /// page and when newest first.
    next_after: Option<i64>,
    /// Newest first: pass as `before` for the next (older) page; null on the
    /// last page and when oldest first.
    next_before: Option<i64>,
}

/// `GET /api/v1/dpo/entries`: the same query as JSON, keyset-paged.
pub async fn entries_json(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<EntriesBody>> {
    let dpo = require_dpo(&app, &headers, &staff).await?;
    let request = parse_dpo_request(raw.as_deref())?;
    let query = record_query(&app, &dpo, &request.filter, "dpo_entries").await?;
    let limit = request.limit.unwrap_or(DEFAULT_LIMIT);
    let (rows, more) = fetch_page(&query, limit, &request).await?;
    let next = if more { rows.last().map(|row| row.sequence) } else { None };
    let (next_after, next_before) = if request.after.is_some() { (next, None) } else { (None, next) };
    Ok(Json(EntriesBody { entries: rows.iter().map(EntryBody::from_stored).collect(), next_after, next_before }))
}

// --- exports -------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExportFormat {
    Csv,
    JsonLines,
}

/// `GET /dpo/export.csv`
pub async fn export_csv(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    export(&app, &staff, &headers, raw.as_deref(), ExportFormat::Csv).await
}

/// `GET /dpo/export.jsonl`
pub async fn export_jsonl(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    export(&app, &staff, &headers, raw.as_deref(), ExportFormat::JsonLines).await
}

async fn export(
    app: &AppState,
    staff: &StaffSetup,
    headers: &HeaderMap,
    raw: Option<&str>,
    format: ExportFormat,
) -> Response {
    let result = async {
        let dpo = require_dpo(app, headers, staff).await?;
        let request = parse_dpo_request(raw)?;
        let reason = if format == ExportFormat::Csv { "dpo_export_csv" } else { "dpo_export_jsonl" };
        let query = record_query(app, &dpo, &request.filter, reason).await?;
        Ok::<_, ApiError>(export_response(query, request, format))
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => negotiated_error(app, headers, error),
    }
}

/// The export body, streamed a store page at a time (memory stays flat for
/// any log size). A store failure mid-way aborts the response, so a
/// truncated file never looks complete.
fn export_response(query: DpoQuery, request: DpoRequest, format: ExportFormat) -> Response {
    struct Cursor {
        after: Option<u64>,
        first: bool,
        remaining: Option<u64>,
    }
    let start = Some(Cursor { after: request.after, first: true, remaining: request.limit.map(u64::from) });
    let stream = futures_util::stream::unfold(start, move |cursor| {
        let query = query.clone();
        async move {
            let cursor = cursor?;
            let page = match cursor.remaining {
                Some(remaining) => u32::try_from(remaining.min(u64::from(SCAN_PAGE))).unwrap_or(SCAN_PAGE),
                None => SCAN_PAGE,
            };
            let rows = if page == 0 {
                Vec::new()
            } else {
                match query.oldest_first(page, cursor.after).await {
                    Ok(rows) => rows,
                    Err(error) => {
                        tracing::error!(%error, "audit export failed mid-way");
                        return Some((Err(std::io::Error::other("audit export failed")), None));
                    }
                }
            };
            let mut chunk = String::new();
            if cursor.first && format == ExportFormat::Csv {
                chunk.push_str(CSV_HEADER);
                chunk.push('\n');
            }
            if rows.is_empty() && !cursor.first {
                return None;
            }
            for row in &rows {
                match format {
                    ExportFormat::Csv => csv_line(&mut chunk, row),
                    ExportFormat::JsonLines => {
                        // Serialising plain data with string keys cannot fail.
                        chunk.push_str(&serde_json::to_string(&EntryBody::from_stored(row)).unwrap_or_default());
                        chunk.push('\n');
                    }
                }
            }
            let remaining = cursor.remaining.map(|remaining| remaining.saturating_sub(rows.len() as u64));
            let next = (rows.len() == page as usize && page > 0 && remaining != Some(0)).then(|| Cursor {
                after: rows.last().map(|row| sequence_u64(row.sequence)),
                first: false,
                remaining,
            });
            Some((Ok::<_, std::io::Error>(Bytes::from(chunk)), next))
        }
    });
    let (content_type, file_name) = match format {
        ExportFormat::Csv => ("text/csv; charset=utf-8", "tresor-audit.csv"),
        ExportFormat::JsonLines => ("application/x-ndjson", "tresor-audit.jsonl"),
    };
    let mut response = Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{file_name}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn csv_line(out: &mut String, row: &StoredAuditEntry) {
    let cells = [
        row.sequence.to_string(),
        row.time.to_rfc3339_opts(SecondsFormat::Micros, true),
        row.actor_kind.clone(),
        row.actor_id.clone().unwrap_or_default(),
        row.action.clone(),
        row.outcome.clone(),
        row.subject.clone().unwrap_or_default(),
        row.department.clone().unwrap_or_default(),
        row.service.clone().unwrap_or_default(),
        reason_of(row).unwrap_or_default(),
        hex::encode(&row.leaf_hash),
    ];
    let line: Vec<String> = cells.iter().map(|cell| csv_cell(cell)).collect();
    out.push_str(&line.join(","));
    out.push('\n');
}

// --- statistics --------------------------------------------------------------------------

/// `GET /dpo/stats`: successful and refused releases per department and
/// month (German time), as a chart and a table. Takes the same time,
/// department and service filters as the query page.
pub async fn stats_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let lang_hint = lang_param(&raw);
    let path = if raw.is_empty() { "/dpo/stats".to_owned() } else { format!("/dpo/stats?{raw}") };
    let result = async {
        let dpo = require_dpo(&app, &headers, &staff).await?;
        let ctx = page_context(&app, &headers, lang_hint.as_deref(), &path, Some(&dpo.session));
        let request = parse_dpo_request(Some(&raw))?;
        let filter = AuditFilter { action: Some(Action::Release.as_str()), outcome: None, ..request.filter };
        let query = record_query(&app, &dpo, &filter, "dpo_stats").await?;
        let rows = department_stats(&query).await?;
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_stats_page(&ctx, &rows)))
    }
    .await;
    result.unwrap_or_else(|error| {
        let logged_in = error.status != StatusCode::UNAUTHORIZED;
        error_page(&app, &headers, lang_hint.as_deref(), error, logged_in)
    })
}

/// Count matching entries by (month, department), scanning the log a page
/// at a time.
async fn department_stats(query: &DpoQuery) -> ApiResult<Vec<pages::DpoStatsRow>> {
    let mut counts: BTreeMap<(String, Option<String>), (u64, u64)> = BTreeMap::new();
    let mut after = None;
    loop {
        let rows = query.oldest_first(SCAN_PAGE, after).await?;
        for row in &rows {
            let count = counts.entry((i18n::german_month(row.time), row.department.clone())).or_default();
            if row.outcome == "success" {
                count.0 += 1;
            } else {
                count.1 += 1;
            }
        }
        if rows.len() < SCAN_PAGE as usize {
            break;
        }
        after = rows.last().map(|row| sequence_u64(row.sequence));
    }
    Ok(counts
        .into_iter()
        .map(|((month, department), (granted, refused))| pages::DpoStatsRow { department, month, granted, refused })
        .collect())
}

// --- verification --------------------------------------------------------------------------

/// `GET /dpo/verify`: recompute the Merkle tree from every stored leaf,
/// check every stored entry text against its leaf, and check every signed
/// checkpoint (signature with the vault's key, root against the tree).
pub async fn verify_page(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let lang_hint = lang_param(&raw);
    let result = async {
        let dpo = require_dpo(&app, &headers, &staff).await?;
        let ctx = page_context(&app, &headers, lang_hint.as_deref(), "/dpo/verify", Some(&dpo.session));
        record_query(&app, &dpo, &AuditFilter::default(), "dpo_verify").await?;
        let (mut checked, mut problems) = verify_log(&app).await?;
        let (witnessed, witness_problems) = witness_findings(&app);
        checked.extend(witnessed);
        problems.extend(witness_problems);
        let view = pages::DpoVerifyView {
            ok: problems.is_empty(),
            checked: checked.iter().map(|finding| i18n::verify_finding(ctx.lang, finding)).collect(),
            problems: problems.iter().map(|finding| i18n::verify_finding(ctx.lang, finding)).collect(),
        };
        Ok::<_, ApiError>(respond(&app, &ctx, StatusCode::OK, pages::dpo_verify_page(&ctx, &view)))
    }
    .await;
    result.unwrap_or_else(|error| {
        let logged_in = error.status != StatusCode::UNAUTHORIZED;
        error_page(&app, &headers, lang_hint.as_deref(), error, logged_in)
    })
}

/// (what was verified, what failed), by the same verification as
/// `tresor audit verify` (`audit::verify::verify_log`: bodies against leaf
/// hashes and positions, indexed columns against bodies, the tree against
/// every signed checkpoint). It names the first problem it meets. Store
/// errors that mean corrupt data are findings; other store errors are errors.
async fn verify_log(app: &AppState) -> ApiResult<(Vec<VerifyFinding>, Vec<VerifyFinding>)> {
    let (_, public_key) =
        parse_verifier_key(&app.vault.audit().verifier_key()).map_err(|error| ApiError::internal(&error))?;
    let report = app.vault.verify_audit_log(&public_key).await;
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            return VerifyFinding::problem(&error).map(|problem| (Vec::new(), vec![problem])).ok_or_else(
                || match error {
                    VerifyError::Store(error) => ApiError::from(error),
                    other => ApiError::internal(&other),
                },
            );
        }
    };
    let mut checked = vec![VerifyFinding::TreeRecomputed {
        entries: report.entries,
        bodies: report.entries - report.pruned_bodies,
        pruned: report.pruned_bodies,
    }];
    match (report.latest_checkpoint_size, report.latest_checkpoint_root) {
        (Some(size), Some(root)) => {
            checked.push(VerifyFinding::CheckpointsMatched { count: report.checkpoints_verified });
            checked.push(VerifyFinding::LatestCheckpoint { size, root: BASE64.encode(root) });
        }
        _ => checked.push(VerifyFinding::NoCheckpointYet),
    }
    Ok((checked, Vec::new()))
}

/// (what the witnesses confirmed, what they refused): rollbacks and forks
/// are problems; a witness that cannot be reached is reported, not a problem.
fn witness_findings(app: &AppState) -> (Vec<VerifyFinding>, Vec<VerifyFinding>) {
    let statuses = app.vault.audit().witness_status();
    if statuses.is_empty() {
        return (vec![VerifyFinding::NoWitnesses], Vec::new());
    }
    let mut checked = Vec::new();
    let mut problems = Vec::new();
    for status in statuses {
        let name = status.name.clone();
        match (status.problem, status.cosigned_size) {
            (Some(WitnessProblem::Rollback { witness_size, log_size }), _) => {
                problems.push(VerifyFinding::WitnessRollback { name, witness_size, log_size });
            }
            (Some(WitnessProblem::Fork { old_size, size }), _) => {
                problems.push(VerifyFinding::WitnessFork { name, old_size, size });
            }
            (Some(problem), _) => checked.push(VerifyFinding::WitnessTrouble { name, problem: problem.describe() }),
            (None, Some(size)) => checked.push(VerifyFinding::WitnessCosigned { name, size }),
            (None, None) => checked.push(VerifyFinding::WitnessNotYet { name }),
        }
    }
    (checked, problems)
}

#[derive(Serialize)]
pub struct WitnessesBody {
    /// How many witnesses must cosign a checkpoint before proofs use it.
    quorum: usize,
    witnesses: Vec<WitnessStatus>,
}

/// `GET /api/v1/dpo/witnesses`: each witness, what it cosigned last and
/// what went wrong (rollbacks and forks are `problem.kind` `rollback` and
/// `fork`). Holds no personal data, so it is not an audited query.
pub async fn witnesses_json(
    State(app): State<AppState>,
    staff: StaffSetup,
    headers: HeaderMap,
) -> ApiResult<Json<WitnessesBody>> {
    // No personal data: not an audited query.
    require_dpo(&app, &headers, &staff).await?;
    let audit = app.vault.audit();
    Ok(Json(WitnessesBody { quorum: audit.witness_quorum(), witnesses: audit.witness_status() }))
}

// --- page plumbing -------------------------------------------------------------------------

/// `lang` from a raw query string, if given (even when other values are bad).
fn lang_param(raw: &str) -> Option<String> {
    url::form_urlencoded::parse(raw.as_bytes()).find(|(key, _)| key == "lang").map(|(_, value)| value.into_owned())
}

/// The filter values as typed, for showing a refused form again.
fn raw_values(raw: &str) -> pages::DpoFilterValues {
    let mut values = pages::DpoFilterValues::default();
    for (key, value) in url::form_urlencoded::parse(raw.as_bytes()) {
        let value: String =
            value.chars().filter(|c| !crate::text::is_refused_char(*c)).take(MAX_FILTER_VALUE).collect();
        match key.as_ref() {
            "from" => values.from = value,
            "to" => values.to = value,
            "action" => values.action = value,
            "outcome" => values.outcome = value,
            "department" => values.department = value,
            "service" => values.service = value,
            "citizen" => values.citizen = value,
            _ => {}
        }
    }
    values
}

fn filter_message(lang: Lang, error: &FilterError) -> String {
    match lang {
        Lang::En => format!("{}: {}.", error.parameter, error.message),
        Lang::De => match error.parameter {
            "from" | "to" => "Bitte ein Datum wie 2026-05-31 angeben.".to_owned(),
            "action" => "Diese Aktion gibt es nicht.".to_owned(),
            "outcome" => "Dieses Ergebnis gibt es nicht.".to_owned(),
            "department" | "service" => "Bitte nur Buchstaben, Ziffern und - _ . : verwenden.".to_owned(),
            "citizen" => "Das ist keine gültige Kennung.".to_owned(),
            _ => "Diese Angabe ist nicht gültig.".to_owned(),
        },
    }
}

fn page_context(
    app: &AppState,
    headers: &HeaderMap,
    query_lang: Option<&str>,
    path: &str,
    session: Option<&StaffSession>,
) -> PageContext {
    let lang = i18n::negotiate(
        query_lang,
        session::cookie_value(headers, "lang"),
        headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()),
    );
    PageContext {
        lang,
        dev_mode: app.dev_mode,
        // The citizens' navigation is not for staff; DPO pages bring their own.
        logged_in: false,
        login_level_label: None,
        csrf_token: session.map(|session| session.csrf_token().to_owned()),
        current_path: path.to_owned(),
    }
}

fn respond(app: &AppState, ctx: &PageContext, status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup).into_response();
    let switched = ctx.current_path.contains("lang=");
    if switched {
        session::set_cookie_header(
            response.headers_mut(),
            app.cookies.set("lang", i18n::lang_code(ctx.lang), Some(365 * 24 * 3600)),
        );
    }
    response
}

/// An error as a staff page, in the page's language.
fn error_page(app: &AppState, headers: &HeaderMap, lang: Option<&str>, error: ApiError, logged_in: bool) -> Response {
    let ctx = page_context(app, headers, lang, "/dpo", None);
    let title = super::web::error_title(ctx.lang, error.status.as_u16());
    let message = match ctx.lang {
        Lang::De => german_message(error.code).map(str::to_owned).unwrap_or_else(|| error.message.clone()),
        Lang::En => error.message.clone(),
    };
    let markup = pages::dpo_error_page(&ctx, error.status.as_u16(), title, &message, logged_in);
    let mut response = (error.status, markup).into_response();
    error.add_headers(response.headers_mut());
    response
}

/// JSON for scripts, a page for browsers (exports are opened from a page).
fn negotiated_error(app: &AppState, headers: &HeaderMap, error: ApiError) -> Response {
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html { error_page(app, headers, None, error, false) } else { error.into_response() }
}

fn german_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "staff_not_logged_in" => "Bitte melden Sie sich zuerst mit Ihrem Konto der Stadtverwaltung an.",
        "not_a_dpo" => "Nur Datenschutz-Beauftragte dürfen das Protokoll sehen.",
        "staff_login_not_configured" => "Hier gibt es keine Anmeldung für Mitarbeitende.",
        "invalid_filter" => "Ein Filter-Wert ist nicht gültig.",
        "csrf_token_invalid" => "Das Formular ist abgelaufen. Bitte laden Sie die Seite neu.",
        "invalid_state" => "Dieser Anmelde-Link ist abgelaufen oder schon benutzt. Bitte melden Sie sich neu an.",
        "login_cancelled" => "Die Anmeldung wurde abgebrochen oder abgelehnt.",
        "audit_unavailable" => "Die Abfrage konnte nicht protokolliert werden. Deshalb wird nichts angezeigt.",
        "store_unavailable" => {
            "Der Tresor erreicht seine Datenbank gerade nicht. Es wurde nichts geändert. Bitte versuchen Sie es in einem Moment noch einmal."
        }
        "internal_error" => "Bei uns ist etwas schiefgegangen. Bitte versuchen Sie es später noch einmal.",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_strictly() {
        let request = parse_dpo_request(Some(
            "from=2026-05-01&to=2026-05-31&action=release&outcome=refused&department=wohngeld&citizen=0123456789abcdef0123456789abcdef&limit=5&after=7",
        ))
        .expect("valid");
        assert_eq!(request.filter.action, Some(Action::Release.as_str()));
        assert_eq!(request.filter.outcome, Some(Outcome::Refused.as_str()));
        assert_eq!(request.filter.department.as_deref(), Some("wohngeld"));
        assert_eq!(request.filter.until.map(|t| t.to_rfc3339()), Some("2026-06-01T00:00:00+00:00".to_owned()));
        assert_eq!((request.limit, request.after), (Some(5), Some(7)));
        assert!(parse_dpo_request(Some("action=&outcome=")).expect("empty is any").filter == AuditFilter::default());
        for bad in [
            "action=drop_table",
            "outcome=maybe",
            "from=yesterday",
            "from=2026-05-02&to=2026-05-01",
            "citizen=anna",
            "department=a%20b",
            "limit=0",
            "limit=1001",
            "after=-1",
            "action=login&action=logout",
            "colour=red",
            "department=%00",
        ] {
            let error = parse_dpo_request(Some(bad)).expect_err(bad);
            let api: ApiError = error.into();
            assert_eq!((api.status, api.code), (StatusCode::BAD_REQUEST, "invalid_filter"), "{bad}");
        }
    }

    #[test]
    fn return_paths_stay_in_the_dpo_area() {
        assert_eq!(dpo_return_path(Some("/dpo/stats")), "/dpo/stats");
        assert_eq!(dpo_return_path(Some("/dpo?action=login")), "/dpo?action=login");
        for bad in ["//evil.example", "/evidence", "https://evil.example/dpo", "/dpo\\x", "/dpoevil"] {
            assert_eq!(dpo_return_path(Some(bad)), "/dpo", "{bad}");
        }
    }
}
