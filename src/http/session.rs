//! Server-side sessions. The cookie carries a random 256-bit id; the store
//! keeps only its SHA-256, so a database dump does not yield live sessions.
//! Sessions end after an idle and an absolute timeout (injected clock).

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use chrono::Duration;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::ids::CitizenId;
use crate::policy::LoginLevel;
use crate::store::{SessionRecord, StaffSessionRecord};
use crate::vault::{NewSession, SessionKind, SessionLimits};

/// Name of the short-lived cookie that binds an OIDC `state` to the browser
/// that started the login (prevents login CSRF).
pub const LOGIN_BINDING_COOKIE: &str = "tresor_login";

/// How the session cookie is named and flagged for this deployment.
#[derive(Debug, Clone)]
pub struct CookieSettings {
    /// `__Host-tresor` over HTTPS, `tresor` on plain-HTTP loopback (dev).
    pub session_name: &'static str,
    pub secure: bool,
}

impl CookieSettings {
    pub fn for_public_url(public_url: &str) -> Self {
        if public_url.starts_with("https://") {
            Self { session_name: "__Host-tresor", secure: true }
        } else {
            Self { session_name: "tresor", secure: false }
        }
    }

    pub fn set(&self, name: &str, value: &str, max_age_seconds: Option<i64>) -> HeaderValue {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if self.secure {
            cookie.push_str("; Secure");
        }
        if let Some(max_age) = max_age_seconds {
            cookie.push_str(&format!("; Max-Age={max_age}"));
        }
        // Only base64url, fixed names and digits go in: always a valid header.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
    }

    pub fn clear(&self, name: &str) -> HeaderValue {
        self.set(name, "", Some(0))
    }

    /// The staff session cookie: `__Host-tresor-staff` over HTTPS,
    /// `tresor_staff` on plain-HTTP loopback. Never the citizens' cookie.
    pub fn staff_session_name(&self) -> &'static str {
        if self.secure { "__Host-tresor-staff" } else { "tresor_staff" }
    }
}

/// Read one cookie's value from the request headers.
/// The one open-redirect guard: a path on this site. It starts with one
/// `/` (not `//`, another host), has no `\` (browsers read it as `/`), no
/// control or invisible format characters (`crate::text`; browsers drop tabs
/// and newlines, so `/\t/evil.example` would become `//evil.example`, and
/// they are not valid in a `Location` header anyway) and is shorter than 512
/// bytes.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !crate::text::has_refused_char(path)
        && path.len() < 512
}

/// Where a login returns to: `candidate` if it is a local path inside
/// `area` (the area itself, a page below it or its query; `/` is the whole
/// site), else `fallback`.
pub fn return_path(candidate: Option<&str>, area: &str, fallback: &str) -> String {
    let in_area = |path: &str| {
        area == "/"
            || path == area
            || path.strip_prefix(area).is_some_and(|rest| rest.starts_with('/') || rest.starts_with('?'))
    };
    match candidate {
        Some(path) if is_local_path(path) && in_area(path) => path.to_owned(),
        _ => fallback.to_owned(),
    }
}

pub fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// 32 random bytes, base64url (see `vault::random_token`).
pub fn random_token(rng: &dyn ring::rand::SecureRandom) -> Result<String, ApiError> {
    Ok(crate::vault::random_token(rng)?)
}

pub use crate::vault::hash_token;

/// The configured session lifetimes, for the vault's one session flow.
fn limits(state: &AppState) -> SessionLimits {
    SessionLimits {
        idle: Duration::seconds(state.config.session_idle_timeout_seconds),
        absolute: Duration::seconds(state.config.session_absolute_timeout_seconds),
        per_citizen: state.config.limits.sessions_per_citizen,
    }
}

/// Constant-time comparison of a presented CSRF token with the session's.
fn check_csrf(expected: &str, presented: Option<&str>) -> Result<(), ApiError> {
    match presented {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => Ok(()),
        _ => Err(ApiError::csrf()),
    }
}

/// The live session of kind `R` named by the cookie `cookie` (expired ones
/// are ended by the vault and count as none).
async fn live_session<R: SessionKind>(
    state: &AppState,
    headers: &HeaderMap,
    cookie: &str,
) -> Result<Option<R>, ApiError> {
    let Some(token) = cookie_value(headers, cookie) else {
        return Ok(None);
    };
    Ok(state.vault.live_session::<R>(&hash_token(token), limits(state)).await?)
}

/// A valid, unexpired citizen session.
#[derive(Debug, Clone)]
pub struct CitizenSession {
    pub record: SessionRecord,
}

impl CitizenSession {
    pub fn citizen(&self) -> &CitizenId {
        &self.record.citizen_id
    }

    pub fn level(&self) -> LoginLevel {
        LoginLevel::from_ordinal(self.record.login_level).unwrap_or(LoginLevel::Low)
    }

    pub fn csrf_token(&self) -> &str {
        &self.record.csrf_token
    }

    /// Constant-time comparison with the token a form or header presented.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), ApiError> {
        check_csrf(&self.record.csrf_token, presented)
    }
}

/// Look up the session named by the request's cookie; expired sessions are
/// deleted and count as none.
pub async fn load_session(state: &AppState, headers: &HeaderMap) -> Result<Option<CitizenSession>, ApiError> {
    let record = live_session::<SessionRecord>(state, headers, state.cookies.session_name).await?;
    Ok(record.map(|record| CitizenSession { record }))
}

impl FromRequestParts<AppState> for CitizenSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        load_session(state, &parts.headers).await?.ok_or_else(ApiError::not_logged_in)
    }
}

/// Start a fresh session (a new id at every login: no fixation) and return
/// the Set-Cookie header for it.
pub async fn start_session(
    state: &AppState,
    previous: Option<&str>,
    citizen_id: CitizenId,
    issuer: &str,
    level: LoginLevel,
    idp_session_id: Option<String>,
) -> Result<HeaderValue, ApiError> {
    let token = state
        .vault
        .start_session(previous, limits(state), |new: NewSession| SessionRecord {
            id_hash: new.id_hash,
            citizen_id,
            issuer: issuer.to_owned(),
            login_level: level.ordinal(),
            idp_session_id,
            csrf_token: new.csrf_token,
            created_at: new.now,
            last_seen_at: new.now,
        })
        .await?;
    Ok(state.cookies.set(state.cookies.session_name, &token, None))
}

pub fn set_cookie_header(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(SET_COOKIE, value);
}

/// Binds a staff login's OIDC `state` to the browser that started it (its own
/// cookie, so a citizen login in the same browser does not overwrite it).
pub const STAFF_LOGIN_BINDING_COOKIE: &str = "tresor_staff_login";

/// A valid, unexpired staff session (from the `staff_sessions` table; a
/// citizen session id never finds one). Whether the staff member may audit
/// is decided per request by the staff policy, not here.
#[derive(Debug, Clone)]
pub struct StaffSession {
    pub record: StaffSessionRecord,
}

impl StaffSession {
    pub fn staff_id(&self) -> &str {
        &self.record.staff_id
    }

    pub fn csrf_token(&self) -> &str {
        &self.record.csrf_token
    }

    /// Constant-time comparison with the token a form presented.
    pub fn check_csrf(&self, presented: Option<&str>) -> Result<(), ApiError> {
        check_csrf(&self.record.csrf_token, presented)
    }
}

/// Look up the staff session named by the staff cookie; expired sessions are
/// deleted and count as none. Same flow and timeouts as citizen sessions.
pub async fn load_staff_session(state: &AppState, headers: &HeaderMap) -> Result<Option<StaffSession>, ApiError> {
    let record = live_session::<StaffSessionRecord>(state, headers, state.cookies.staff_session_name()).await?;
    Ok(record.map(|record| StaffSession { record }))
}

/// The staff session named by the staff cookie and, if the staff policy
/// makes its holder a DPO, the vault's `Dpo` capability (one read).
pub async fn load_dpo_session(
    state: &AppState,
    headers: &HeaderMap,
    staff: &crate::identity::staff::StaffLogin,
) -> Result<Option<(StaffSession, Option<crate::vault::Dpo>)>, ApiError> {
    let Some(token) = cookie_value(headers, state.cookies.staff_session_name()) else {
        return Ok(None);
    };
    let found = state.vault.dpo_session(&hash_token(token), limits(state), staff).await?;
    Ok(found.map(|(record, dpo)| (StaffSession { record }, dpo)))
}

/// Start a fresh staff session (new id at every login) and return the
/// Set-Cookie header for it.
pub async fn start_staff_session(
    state: &AppState,
    previous: Option<&str>,
    staff_id: String,
    issuer: &str,
    idp_session_id: Option<String>,
) -> Result<HeaderValue, ApiError> {
    let token = state
        .vault
        .start_session(previous, limits(state), |new: NewSession| StaffSessionRecord {
            id_hash: new.id_hash,
            staff_id,
            issuer: issuer.to_owned(),
            idp_session_id,
            csrf_token: new.csrf_token,
            created_at: new.now,
            last_seen_at: new.now,
        })
        .await?;
    Ok(state.cookies.set(state.cookies.staff_session_name(), &token, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_guard_keeps_every_return_on_this_site_and_in_its_area() {
        for good in ["/evidence", "/requests/abc?x=1", "/dpo"] {
            assert_eq!(return_path(Some(good), "/", "/evidence"), good);
        }
        assert_eq!(return_path(Some("/dpo/stats"), "/dpo", "/dpo"), "/dpo/stats");
        assert_eq!(return_path(Some("/dpo?action=login"), "/dpo", "/dpo"), "/dpo?action=login");
        let long = format!("/{}", "a".repeat(600));
        for bad in [
            "//evil.example",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/evil.example",
            "/x\u{200B}y",
            "evidence",
            "",
            long.as_str(),
        ] {
            assert_eq!(return_path(Some(bad), "/", "/evidence"), "/evidence", "{bad:?}");
            assert!(!is_local_path(bad), "{bad:?}");
        }
        for outside in ["/evidence", "/dpoevil", "//dpo", "/dpo\\x"] {
            assert_eq!(return_path(Some(outside), "/dpo", "/dpo"), "/dpo", "{outside:?}");
        }
        assert_eq!(return_path(None, "/", "/evidence"), "/evidence");
    }
}
