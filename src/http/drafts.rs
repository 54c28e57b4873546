//! The upload form across an expired session: what was typed is kept as a
//! sealed form draft (`vault::drafts`) bound to this browser by a cookie,
//! and after the new login `GET /evidence/new?draft=1` shows the form with
//! it again. Kept only for a form posted from this site (the browser says
//! `Sec-Fetch-Site: same-origin`, or its `Origin` is this host), at most
//! as often as logins may start per address, and only the text parts: the
//! file part ends the reading unread.

use axum::extract::Multipart;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
use super::pages;
use super::rate_limit::ClientAddress;
use super::session::{self, CitizenSession};
use super::upload::{ParsedUpload, read_text_parts};
use super::web::{FormState, Page, upload_form};
use crate::vault::{FORM_DRAFT_MINUTES, FormDraft, VaultError};

/// The cookie with the browser's draft token: `__Host-tresor-draft` over
/// HTTPS, `tresor_draft` on plain-HTTP loopback.
pub fn cookie_name(app: &AppState) -> &'static str {
    if app.cookies.secure { "__Host-tresor-draft" } else { "tresor_draft" }
}

/// Where the new login returns to: the form of `type_id`, with the draft.
fn return_path(type_id: &str) -> String {
    let type_id: String = url::form_urlencoded::byte_serialize(type_id.as_bytes()).collect();
    format!("/evidence/new?type={type_id}&draft=1")
}

/// Whether the browser says the form was posted from this site.
pub(super) fn posted_from_this_site(headers: &HeaderMap) -> bool {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    match (header(header::ORIGIN.as_str()), header(header::HOST.as_str())) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, authority)| authority == host),
        _ => false,
    }
}

/// `POST /evidence` without a live session: keep the typed values sealed
/// and answer 401 with the way back (log in again, then the form with
/// them). When nothing can be kept, the plain "not logged in" page.
pub async fn keep_after_expiry(
    app: &AppState,
    client: ClientAddress,
    page: &Page,
    headers: &HeaderMap,
    multipart: Multipart,
) -> Response {
    let not_logged_in = || page.error(app, ApiError::not_logged_in());
    if !posted_from_this_site(headers) || app.rate_limits.login_start(client.0).is_err() {
        return not_logged_in();
    }
    let Some(upload) = read_text_parts(app, multipart).await else {
        return not_logged_in();
    };
    let Some(type_id) = upload.type_id.filter(|id| app.vault.policies().evidence_types.get(id).is_some()) else {
        return not_logged_in();
    };
    let draft = FormDraft {
        type_id: type_id.clone(),
        return_to: upload.return_to,
        fields: upload.fields,
        file_dropped: upload.file_chosen,
    };
    let previous = session::cookie_value(headers, cookie_name(app));
    let token = match app.vault.keep_form_draft(previous, &draft).await {
        Ok(token) => token,
        Err(error) => {
            tracing::warn!(%error, "keeping a form draft failed");
            return not_logged_in();
        }
    };
    let login = login_href(&return_path(&type_id));
    let markup = pages::session_expired_page(&page.ctx, FORM_DRAFT_MINUTES, &login);
    let mut response = page.respond(app, StatusCode::UNAUTHORIZED, markup);
    session::set_cookie_header(
        response.headers_mut(),
        app.cookies.set(cookie_name(app), &token, Some(FORM_DRAFT_MINUTES * 60)),
    );
    response
}

fn login_href(return_to: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    format!("/login?return_to={encoded}")
}

/// `GET /evidence/new?draft=1` after the new login: the form with the
/// browser's draft (taken, so shown once; the cookie is cleared). None when
/// the browser has no draft or it is gone (expired, used, another browser's).
pub async fn restore(
    app: &AppState,
    page: &Page,
    session: &CitizenSession,
    headers: &HeaderMap,
) -> Result<Option<Response>, ApiError> {
    let Some(token) = session::cookie_value(headers, cookie_name(app)) else {
        return Ok(None);
    };
    let draft = app.vault.take_form_draft(token).await?;
    let Some(draft) = draft else {
        // Gone (expired, used, or never this browser's): the empty form.
        return Ok(None);
    };
    let Some(evidence_type) = app.vault.policies().evidence_types.get(&draft.type_id) else {
        return Ok(None);
    };
    if session.level() < evidence_type.min_login_level {
        return Err(VaultError::LevelTooLow { required: evidence_type.min_login_level }.into());
    }
    let upload = ParsedUpload {
        type_id: Some(draft.type_id.clone()),
        return_to: draft.return_to.as_deref().and_then(super::upload::consent_return),
        fields: draft.fields,
        file: None,
        file_chosen: draft.file_dropped,
    };
    let state = FormState {
        values: Some(&upload.fields),
        file_dropped: upload.file_chosen,
        restored: true,
        return_to: upload.return_to.clone(),
        ..FormState::default()
    };
    let form = upload_form(app, page.lang(), evidence_type, state);
    let mut response = page.respond(app, StatusCode::OK, pages::upload_form_page(&page.ctx, &form));
    session::set_cookie_header(response.headers_mut(), app.cookies.clear(cookie_name(app)));
    Ok(Some(response))
}
