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
use super::error::{ApiError, ApiResult, ErrorCode};
use super::i18n::{self, VerifyFinding};
use super::login_flow::{self, LoginKind, LoginStartRequest};
use super::pages::{self, PageContext};
use super::session::{self, StaffSession};
use crate::audit::checkpoint::parse_verifier_key;
use crate::audit::verify::VerifyError;
use crate::audit::verify::{CSV_HEADER, csv_row};
use crate::audit::witnessing::{WitnessProblem, WitnessStatus};
use crate::audit::{Action, Actor, AuditEntry, Outcome};
use crate::identity::staff::StaffLogin;
use crate::ids::CitizenId;
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
        self.0.as_ref().ok_or_else(|| ErrorCode::StaffLoginNotConfigured.into())
    }
}

/// A logged-in data-protection officer: the staff session (for the page's
/// CSRF token) and the domain's capability (`vault::Dpo`).
struct Dpo {
    session: StaffSession,
    access: crate::vault::Dpo,
}

fn staff_not_logged_in() -> ApiError {
    ErrorCode::StaffNotLoggedIn.into()
}

fn not_a_dpo() -> ApiError {
    ErrorCode::NotADpo.into()
}

/// The staff session of the request, and whether the staff policy makes
/// its holder a DPO (asked on every request).
/// A DPO page: its own address (with its query, for the language and
/// display switches), the DPO capability first, then `body`; any refusal or
/// error becomes the error page in the visitor's language.
async fn dpo_page(
    app: &AppState,
    staff: &StaffSetup,
    headers: &HeaderMap,
    page: &str,
    raw: &str,
    body: impl AsyncFnOnce(Dpo, PageContext) -> ApiResult<Response>,
) -> Response {
    let lang_hint = lang_param(raw);
    let path = if raw.is_empty() { page.to_owned() } else { format!("{page}?{raw}") };
    let result = async {
        let dpo = require_dpo(app, headers, staff).await?;
        let ctx = page_context(app, headers, lang_hint.as_deref(), &path, Some(&dpo.session));
        body(dpo, ctx).await
    }
    .await;
    result.unwrap_or_else(|error| {
        let logged_in = error.status != StatusCode::UNAUTHORIZED;
        error_page(app, headers, lang_hint.as_deref(), &path, error, logged_in)
    })
}

async fn require_dpo(app: &AppState, headers: &HeaderMap, staff: &StaffSetup) -> ApiResult<Dpo> {
    let staff = staff.require()?;
    let (session, access) = session::load_dpo_session(app, headers, staff).await?.ok_or_else(staff_not_logged_in)?;
    Ok(Dpo { session, access: access.ok_or_else(not_a_dpo)? })
}

mod feedback;
mod queries;
mod staff_login;
mod verification;

pub use feedback::*;
pub use queries::*;
pub use staff_login::*;
pub use verification::*;

/// Record the DPO's query before anything is read (fail closed). A citizen
/// asked about is the entry's subject, so they see in their own access log
/// that a DPO looked. Department and service are deliberately not targets:
/// they would count the DPO's own queries as that department's activity in
/// filters and statistics.
/// Returns the reads the recorded query allows (`vault::DpoQuery`).
async fn record_query(app: &AppState, dpo: &Dpo, filter: &AuditFilter, reason: &'static str) -> ApiResult<DpoQuery> {
    Ok(app.vault.record_dpo_query(&dpo.access, filter.clone(), reason).await?)
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
        display: super::display::Display::of_request(path, headers),
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
    super::display::remember(app, &ctx.current_path, response.headers_mut());
    response
}

/// An error as a staff page, in the page's language.
/// The staff error page. `path` is the address asked for (with its query),
/// so that its display switches apply and the page's own switch links lead
/// back to it.
fn error_page(
    app: &AppState,
    headers: &HeaderMap,
    lang: Option<&str>,
    path: &str,
    error: ApiError,
    logged_in: bool,
) -> Response {
    let ctx = page_context(app, headers, lang, path, None);
    let title = i18n::error_title(ctx.lang, error.status.as_u16());
    let markup = pages::dpo_error_page(&ctx, error.status.as_u16(), &title, &error.message(ctx.lang), logged_in);
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
    if wants_html { error_page(app, headers, None, "/dpo", error, false) } else { error.into_response() }
}
