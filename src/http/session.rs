//! Server-side sessions. The cookie carries a random 256-bit id; the store
//! keeps only its SHA-256, so a database dump does not yield live sessions.
//! Sessions end after an idle and an absolute timeout (injected clock).

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use subtle::ConstantTimeEq;

use super::AppState;
use super::error::ApiError;
use crate::ids::CitizenId;
use crate::policy::LoginLevel;
use crate::store::{SessionRecord, StaffSessionRecord};

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

/// 32 random bytes, base64url.
pub fn random_token(rng: &dyn ring::rand::SecureRandom) -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes).map_err(|_| ApiError::internal(&"random source failed"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

pub fn hash_token(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref().to_vec()
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
        match presented {
            Some(token) if bool::from(token.as_bytes().ct_eq(self.record.csrf_token.as_bytes())) => Ok(()),
            _ => Err(ApiError::csrf()),
        }
    }
}

/// Look up the session named by the request's cookie; expired sessions are
/// deleted and count as none.
pub async fn load_session(state: &AppState, headers: &HeaderMap) -> Result<Option<CitizenSession>, ApiError> {
    let Some(token) = cookie_value(headers, state.cookies.session_name) else {
        return Ok(None);
    };
    let id_hash = hash_token(token);
    let Some(record) = state.vault.store().session(&id_hash).await? else {
        return Ok(None);
    };
    let now = state.vault.clock().now();
    let idle = Duration::seconds(state.config.session_idle_timeout_seconds);
    let absolute = Duration::seconds(state.config.session_absolute_timeout_seconds);
    if now - record.last_seen_at > idle || now - record.created_at > absolute {
        state.vault.store().delete_session(&id_hash).await?;
        return Ok(None);
    }
    // Touch at most once a minute: fewer writes, same idle semantics.
    if now - record.last_seen_at > Duration::seconds(60) {
        state.vault.store().touch_session(&id_hash, now).await?;
    }
    Ok(Some(CitizenSession { record }))
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
    if let Some(previous) = previous {
        state.vault.store().delete_session(&hash_token(previous)).await?;
    }
    let token = random_token(state.vault.rng())?;
    let now = state.vault.clock().now();
    let record = SessionRecord {
        id_hash: hash_token(&token),
        citizen_id,
        issuer: issuer.to_owned(),
        login_level: level.ordinal(),
        idp_session_id,
        csrf_token: random_token(state.vault.rng())?,
        created_at: now,
        last_seen_at: now,
    };
    state.vault.store().insert_session(&record).await?;
    // A citizen has at most `sessions_per_citizen` live sessions: a new
    // login ends the oldest beyond that (rather than refusing the login).
    let ended = state
        .vault
        .store()
        .keep_newest_sessions(&record.citizen_id, &record.id_hash, state.config.limits.sessions_per_citizen)
        .await?;
    if ended > 0 {
        tracing::info!(ended, "ended a citizen's oldest sessions beyond the per-citizen limit");
    }
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
        match presented {
            Some(token) if bool::from(token.as_bytes().ct_eq(self.record.csrf_token.as_bytes())) => Ok(()),
            _ => Err(ApiError::csrf()),
        }
    }
}

/// Look up the staff session named by the staff cookie; expired sessions are
/// deleted and count as none. Same timeouts as citizen sessions.
pub async fn load_staff_session(state: &AppState, headers: &HeaderMap) -> Result<Option<StaffSession>, ApiError> {
    let Some(token) = cookie_value(headers, state.cookies.staff_session_name()) else {
        return Ok(None);
    };
    let id_hash = hash_token(token);
    let store = state.vault.store();
    let Some(record) = store.staff_session(&id_hash).await? else {
        return Ok(None);
    };
    let now = state.vault.clock().now();
    let idle = Duration::seconds(state.config.session_idle_timeout_seconds);
    let absolute = Duration::seconds(state.config.session_absolute_timeout_seconds);
    if now - record.last_seen_at > idle || now - record.created_at > absolute {
        store.delete_staff_session(&id_hash).await?;
        return Ok(None);
    }
    if now - record.last_seen_at > Duration::seconds(60) {
        store.touch_staff_session(&id_hash, now).await?;
    }
    Ok(Some(StaffSession { record }))
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
    let store = state.vault.store();
    if let Some(previous) = previous {
        store.delete_staff_session(&hash_token(previous)).await?;
    }
    let token = random_token(state.vault.rng())?;
    let now = state.vault.clock().now();
    let record = StaffSessionRecord {
        id_hash: hash_token(&token),
        staff_id,
        issuer: issuer.to_owned(),
        idp_session_id,
        csrf_token: random_token(state.vault.rng())?,
        created_at: now,
        last_seen_at: now,
    };
    store.insert_staff_session(&record).await?;
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
