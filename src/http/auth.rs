//! Login with the online ID (OIDC authorization code + PKCE), logout
//! (RP-initiated and back-channel).

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AppState;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::login_flow::{self, LoginKind, LoginStartRequest};
use super::session::{self, CitizenSession};
use super::web;
use crate::policy::LoginLevel;
use crate::vault::BackChannelLogout;

#[derive(Deserialize)]
pub struct LoginQuery {
    issuer: Option<String>,
    login_hint: Option<String>,
    /// low, substantial or high: ask for at least this level (step-up).
    level: Option<String>,
    return_to: Option<String>,
}

pub async fn login(
    State(app): State<AppState>,
    client: super::rate_limit::ClientAddress,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Response {
    // Each start writes a pending-login row: limited per client address.
    let started = async {
        app.rate_limits.login_start(client.0)?;
        start_login(&app, query).await
    };
    match started.await {
        Ok(response) => response,
        Err(error) => web::negotiated_error(&app, &headers, error).await,
    }
}

async fn start_login(app: &AppState, query: LoginQuery) -> ApiResult<Response> {
    let issuer_name = match query.issuer.as_deref() {
        Some(name) => name.to_owned(),
        None => app.issuers.default_name().ok_or_else(|| ApiError::from(ErrorCode::NoIssuer))?.to_owned(),
    };
    let relying_party =
        app.issuers.get(&issuer_name).await.ok_or_else(|| ApiError::from(ErrorCode::UnknownIssuer))??;
    let asked = match query.level.as_deref() {
        Some(level) => LoginLevel::from_acr(level).ok_or_else(|| ApiError::from(ErrorCode::InvalidLevel))?,
        None => relying_party.min_level(),
    };
    let requested = asked.max(relying_party.min_level());
    let request = LoginStartRequest {
        issuer_name,
        level: requested,
        login_hint: query.login_hint.as_deref(),
        // A local path, never another site (open redirect).
        return_to: session::return_path(query.return_to.as_deref(), "/", "/evidence"),
    };
    login_flow::redirect_to_provider(app, LoginKind::Citizen, &relying_party, request).await
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

pub async fn callback(State(app): State<AppState>, headers: HeaderMap, Query(query): Query<CallbackQuery>) -> Response {
    match finish_login(&app, &headers, query).await {
        Ok(response) => response,
        Err(error) => web::negotiated_error(&app, &headers, error).await,
    }
}

async fn finish_login(app: &AppState, headers: &HeaderMap, query: CallbackQuery) -> ApiResult<Response> {
    let (pending, login, relying_party) =
        login_flow::verified_login(app, LoginKind::Citizen, headers, query, None, |issuer| async move {
            app.issuers.get(&issuer).await.ok_or_else(login_flow::invalid_state)?.map_err(ApiError::from)
        })
        .await?;
    // The login entry is durable before the account (first login) and the
    // session exist (fail closed).
    let citizen = app.vault.log_in_citizen(relying_party.issuer(), &login.subject).await?;
    let previous = session::cookie_value(headers, app.cookies.session_name);
    let cookie =
        session::start_session(app, previous, citizen, &pending.issuer, login.level, login.idp_session_id).await?;
    Ok(login_flow::logged_in_response(app, LoginKind::Citizen, &pending.return_to, cookie))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: Option<String>,
}

/// Logout from a page: end the session here, then at the provider if it
/// supports RP-initiated logout.
pub async fn logout_form(
    State(app): State<AppState>,
    citizen: CitizenSession,
    Form(form): Form<CsrfForm>,
) -> ApiResult<Response> {
    citizen.check_csrf(form.csrf.as_deref())?;
    end_session(&app, &citizen).await?;
    let target = match app.issuers.get(&citizen.record.issuer).await {
        Some(Ok(relying_party)) => relying_party.end_session_url().map(|url| url.to_string()),
        _ => None,
    };
    let mut response = Redirect::to(target.as_deref().unwrap_or("/logged-out")).into_response();
    session::set_cookie_header(response.headers_mut(), app.cookies.clear(app.cookies.session_name));
    Ok(response)
}

/// Logout over the JSON API (header `X-CSRF-Token`).
#[utoipa::path(post, path = "/api/v1/logout", tag = super::openapi::tags::CITIZEN,
    security(("session_cookie" = [], "csrf_token" = [])),
    responses((status = 204, description = "Logged out; the session cookie is cleared.")))]
pub async fn logout_api(
    State(app): State<AppState>,
    citizen: CitizenSession,
    headers: HeaderMap,
) -> ApiResult<Response> {
    citizen.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    end_session(&app, &citizen).await?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    session::set_cookie_header(response.headers_mut(), app.cookies.clear(app.cookies.session_name));
    Ok(response)
}

/// The logout entry is durable before the session ends; if it cannot be
/// written the logout fails (503 `audit_unavailable`) and the session stays.
async fn end_session(app: &AppState, citizen: &CitizenSession) -> ApiResult<()> {
    app.vault.log_out_citizen(citizen.citizen(), &citizen.record.id_hash).await?;
    Ok(())
}

#[derive(Deserialize)]
pub struct LogoutTokenForm {
    logout_token: Option<String>,
}

/// OIDC Back-Channel Logout 1.0: the provider tells us a session ended.
pub async fn backchannel_logout(
    State(app): State<AppState>,
    Path(issuer): Path<String>,
    Form(form): Form<LogoutTokenForm>,
) -> Response {
    let result = backchannel_logout_inner(&app, &issuer, form.logout_token.as_deref()).await;
    let mut response = match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    };
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response
}

async fn backchannel_logout_inner(app: &AppState, issuer: &str, token: Option<&str>) -> ApiResult<()> {
    let token =
        token.ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest).with_detail("logout_token is missing."))?;
    let relying_party = app
        .issuers
        .get(issuer)
        .await
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidRequest).with_detail("Unknown issuer."))??;
    let now = app.vault.clock().now();
    let claims = relying_party.verify_logout_token(token, now).await.map_err(|error| {
        tracing::warn!(error = %error, "logout token refused");
        ApiError::new(ErrorCode::InvalidRequest).with_detail("The logout token is not valid.")
    })?;
    let which = match (&claims.idp_session_id, &claims.subject) {
        (Some(sid), _) => Some(BackChannelLogout::IdpSession(sid)),
        (None, Some(subject)) => Some(BackChannelLogout::Subject { issuer_url: relying_party.issuer(), subject }),
        (None, None) => None,
    };
    // Recorded for each citizen before their sessions end (fail closed).
    let Some(ended) = app.vault.back_channel_logout(issuer, &claims.jti, claims.expires_at, which).await? else {
        return Err(ApiError::new(ErrorCode::InvalidRequest).with_detail("This logout token was already used."));
    };
    tracing::info!(ended, "back-channel logout");
    Ok(())
}
