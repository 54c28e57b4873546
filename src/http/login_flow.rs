//! The one OpenID Connect login flow, for citizens and staff alike
//! (parametrised by [`LoginKind`]): the start (login hint check, the
//! authorisation request, a pending login bound to this browser by a cookie
//! of the kind's own) and the callback (the pending login taken once, its
//! kind, issuer and age checked, the provider's error, the code exchange,
//! a refusal recorded). What a verified login then does (an account, a DPO
//! check, a session) is the caller's and the vault's.

use std::future::Future;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;

use super::AppState;
use super::auth::CallbackQuery;
use super::error::{ApiError, ApiResult, ErrorCode};
use super::session::{self, LOGIN_BINDING_COOKIE, STAFF_LOGIN_BINDING_COOKIE};
use crate::audit::Actor;
use crate::identity::oidc::{PendingAuth, RelyingParty, VerifiedLogin};
use crate::policy::LoginLevel;
use crate::store::PendingLogin;

/// A login must come back within this time.
pub const LOGIN_TIMEOUT_MINUTES: i64 = 10;

/// Whose login this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    Citizen,
    Staff,
}

impl LoginKind {
    /// The cookie binding the login's `state` to the browser that started it
    /// (one per kind, so a citizen login in the same browser does not
    /// overwrite a staff login's).
    pub fn binding_cookie(self) -> &'static str {
        match self {
            LoginKind::Citizen => LOGIN_BINDING_COOKIE,
            LoginKind::Staff => STAFF_LOGIN_BINDING_COOKIE,
        }
    }

    /// The stored key of a pending login: SHA-256 over kind, state and the
    /// browser binding, so a callback only completes in the browser that
    /// started it, and only as the kind that started it.
    fn pending_key(self, state: &str, binding: &str) -> Vec<u8> {
        match self {
            LoginKind::Citizen => session::hash_token(&format!("{state}\u{0}{binding}")),
            LoginKind::Staff => session::hash_token(&format!("staff\u{0}{state}\u{0}{binding}")),
        }
    }
}

pub fn invalid_state() -> ApiError {
    ErrorCode::InvalidState.into()
}

/// A login hint (passed on to the provider) is short and plain text.
pub fn check_login_hint(hint: Option<&str>) -> ApiResult<()> {
    match hint {
        Some(hint) if hint.len() > 256 || crate::text::has_refused_char(hint) => {
            Err(ErrorCode::InvalidLoginHint.into())
        }
        _ => Ok(()),
    }
}

/// What a login start needs besides the relying party.
pub struct LoginStartRequest<'a> {
    /// The configured issuer name, stored with the pending login.
    pub issuer_name: String,
    pub level: LoginLevel,
    pub login_hint: Option<&'a str>,
    /// Where to go after the login (already through `session::return_path`).
    pub return_to: String,
}

/// Send the browser to the provider: a pending login is stored, bound to
/// this browser by the kind's cookie.
pub async fn redirect_to_provider(
    app: &AppState,
    kind: LoginKind,
    relying_party: &RelyingParty,
    request: LoginStartRequest<'_>,
) -> ApiResult<Response> {
    check_login_hint(request.login_hint)?;
    let start = relying_party.begin_login(app.vault.rng(), request.level, request.login_hint)?;
    let binding = session::random_token(app.vault.rng())?;
    app.vault
        .remember_pending_login(&PendingLogin {
            state_hash: kind.pending_key(&start.state, &binding),
            issuer: request.issuer_name,
            nonce: start.nonce,
            pkce_verifier: start.pkce_verifier,
            requested_level: request.level.ordinal(),
            return_to: request.return_to,
            created_at: app.vault.clock().now(),
        })
        .await?;
    let mut response = Redirect::to(start.authorize_url.as_str()).into_response();
    session::set_cookie_header(
        response.headers_mut(),
        app.cookies.set(kind.binding_cookie(), &binding, Some(LOGIN_TIMEOUT_MINUTES * 60)),
    );
    Ok(response)
}

/// The provider's answer: the pending login it completes (taken, so a
/// replayed callback fails), the verified login and its provider. A login the provider
/// or the token checks refuse is recorded (nobody is identified, so no
/// subject is named) and answered with the refusal. `issuer` must be the
/// pending login's issuer when given; `relying_party` gives the provider of
/// a pending login.
pub async fn verified_login<F, Fut>(
    app: &AppState,
    kind: LoginKind,
    headers: &HeaderMap,
    query: CallbackQuery,
    issuer: Option<&str>,
    relying_party: F,
) -> ApiResult<(PendingLogin, VerifiedLogin, Arc<RelyingParty>)>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = ApiResult<Arc<RelyingParty>>>,
{
    let state = query.state.as_deref().ok_or_else(invalid_state)?;
    let binding = session::cookie_value(headers, kind.binding_cookie()).ok_or_else(invalid_state)?;
    let pending = app.vault.take_pending_login(&kind.pending_key(state, binding)).await?.ok_or_else(invalid_state)?;
    let now = app.vault.clock().now();
    if issuer.is_some_and(|issuer| issuer != pending.issuer)
        || now - pending.created_at > Duration::minutes(LOGIN_TIMEOUT_MINUTES)
    {
        return Err(invalid_state());
    }
    if let Some(error) = query.error {
        tracing::info!(error = %error.chars().take(64).collect::<String>(), ?kind, "identity provider refused the login");
        return Err(ErrorCode::LoginCancelled.into());
    }
    let code = query.code.as_deref().ok_or_else(|| ApiError::from(ErrorCode::MissingCode))?;
    let relying_party = relying_party(pending.issuer.clone()).await?;
    let requested = LoginLevel::from_ordinal(pending.requested_level).unwrap_or(LoginLevel::High);
    let auth = PendingAuth { nonce: pending.nonce.clone(), pkce_verifier: pending.pkce_verifier.clone() };
    match relying_party.finish_login(code, &auth, requested, now).await {
        Ok(login) => Ok((pending, login, relying_party)),
        Err(error) => {
            if let Err(audit_error) = app.vault.record_refused_login(Actor::System, error.code()).await {
                tracing::warn!(%audit_error, ?kind, "could not record a refused login");
            }
            Err(error.into())
        }
    }
}

/// After a completed login: to `return_to` with the new session cookie,
/// the kind's binding cookie cleared.
pub fn logged_in_response(app: &AppState, kind: LoginKind, return_to: &str, session_cookie: HeaderValue) -> Response {
    let mut response = Redirect::to(return_to).into_response();
    session::set_cookie_header(response.headers_mut(), session_cookie);
    session::set_cookie_header(response.headers_mut(), app.cookies.clear(kind.binding_cookie()));
    response
}
