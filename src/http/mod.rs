//! HTTP edge: axum routers for pages, the citizen JSON API and login, error
//! responses, sessions and security headers. Wire types live here; the
//! domain (`vault`) knows nothing of axum or serde.

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::config::Config;
use crate::identity::registry::IssuerRegistry;
use crate::vault::Vault;

pub mod api;
pub mod audit;
pub mod auth;
pub mod consent;
pub mod dept;
pub mod dept_auth;
pub mod dept_whoami;
pub mod dpo;
pub mod error;
pub mod i18n;
pub mod listener;
pub mod pages;
pub mod rate_limit;
pub mod rejection;
pub mod session;
pub mod tls;
pub mod upload;
pub mod web;

/// Extra room over the file limit for multipart framing and text fields.
const MULTIPART_OVERHEAD: u64 = 1024 * 1024;

/// Everything a handler needs, behind one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<AppInner>);

pub struct AppInner {
    pub vault: Vault,
    pub issuers: IssuerRegistry,
    pub config: Arc<Config>,
    pub cookies: session::CookieSettings,
    pub dev_mode: bool,
    /// Department client-certificate authentication; None when not configured.
    pub department_auth: Option<Arc<dept_auth::DepartmentAuth>>,
    /// Login starts, public API, department calls and refusals.
    pub rate_limits: rate_limit::RateLimits,
    /// Uploads in flight: the memory budget and the per-citizen cap.
    pub uploads: upload::UploadGate,
}

impl Deref for AppState {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        vault: Vault,
        issuers: IssuerRegistry,
        config: Arc<Config>,
        dev_mode: bool,
        department_auth: Option<Arc<dept_auth::DepartmentAuth>>,
    ) -> Self {
        let cookies = session::CookieSettings::for_public_url(&config.public_base_url());
        let rate_limits = rate_limit::RateLimits::from_config(&config);
        let uploads = upload::UploadGate::new(&config.limits, upload::UPLOAD_MEMORY_BYTES);
        Self(Arc::new(AppInner { vault, issuers, config, cookies, dev_mode, department_auth, rate_limits, uploads }))
    }
}

/// The whole application router (without the dev identity provider, which
/// `server::build` nests under `/dev-idp` in dev mode, and without the
/// security headers, which `server::build` puts over both with
/// [`with_security_headers`]).
pub fn router(state: AppState) -> Router {
    let upload_limit = usize::try_from(state.config.upload_limit_bytes + MULTIPART_OVERHEAD).unwrap_or(usize::MAX);
    // Uploads keep their own time bounds (body idle and whole-upload
    // timeouts, in `upload`; see `has_own_time_bounds`).
    let uploads = Router::new()
        .route("/api/v1/evidence", post(api::upload_evidence).get(api::list_evidence))
        .route("/evidence", post(web::upload_evidence).get(web::list_evidence))
        .layer(DefaultBodyLimit::max(upload_limit));
    // Unauthenticated public API: rate-limited per client address.
    let public = Router::new()
        .route("/api/v1/evidence-types", get(api::evidence_types))
        .route("/api/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/api/v1/audit/consistency", get(audit::consistency))
        .route("/api/v1/keys", get(dept::keys))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::public_calls));
    Router::new()
        .merge(public)
        // Department API: rate-limited per certificate (in
        // `DepartmentCaller`), refusals counted per certificate by `edge`.
        .route("/api/v1/dept/requests", post(dept::create_request))
        .route("/api/v1/dept/requests/{id}", get(dept::request_status))
        .route("/api/v1/dept/grants/{id}/release", get(dept::release))
        .route("/api/v1/dept/grants/{id}/releases/{index}/files/{evidence}", get(dept::released_file))
        .route("/api/v1/dept/whoami", get(dept_whoami::whoami))
        .route("/", get(web::start))
        .route("/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/logout", post(auth::logout_form))
        .route("/logged-out", get(web::logged_out))
        .route("/auth/backchannel-logout/{issuer}", post(auth::backchannel_logout))
        .route("/evidence/new", get(web::new_evidence))
        .route("/evidence/{id}", get(web::show_evidence))
        .route("/evidence/{id}/file", get(web::download_file))
        .route("/evidence/{id}/delete", get(web::confirm_delete).post(web::delete_evidence))
        .route("/account/erase", get(web::confirm_erase).post(web::erase_account))
        .route("/static/style.css", get(web::stylesheet))
        .route("/api/v1/session", get(api::session_info))
        .route("/api/v1/logout", post(auth::logout_api))
        .route("/api/v1/evidence/{id}", get(api::show_evidence).delete(api::delete_evidence))
        .route("/api/v1/evidence/{id}/file", get(api::download_file))
        .route("/api/v1/account", axum::routing::delete(api::erase_account))
        .route("/api/v1/audit/mine", get(audit::my_access_log))
        .route("/access-log", get(audit::access_log_page))
        .merge(consent::routes())
        .route("/staff/login", get(dpo::staff_login))
        .route("/staff/callback", get(dpo::staff_callback))
        .route("/staff/logout", post(dpo::staff_logout))
        .route("/dpo", get(dpo::query_page))
        .route("/dpo/stats", get(dpo::stats_page))
        // Long by nature (see `has_own_time_bounds`).
        .route("/dpo/verify", get(dpo::verify_page))
        .route("/dpo/export.csv", get(dpo::export_csv))
        .route("/dpo/export.jsonl", get(dpo::export_jsonl))
        .route("/api/v1/dpo/entries", get(dpo::entries_json))
        .merge(uploads)
        .fallback(rejection::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), edge))
        .with_state(state)
}

/// Paths that keep their own time bounds instead of the request timeout:
/// uploads (body idle and whole-upload timeouts) and the DPO's verification
/// and exports (a verification of the whole log and exports of long ranges
/// may take longer than a request may; only staff reach them, and their
/// client waits for them).
fn has_own_time_bounds(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::POST && matches!(path, "/api/v1/evidence" | "/evidence"))
        || matches!(path, "/dpo/verify" | "/dpo/export.csv" | "/dpo/export.jsonl")
}

/// The one middleware every request passes (one layer rather than three:
/// each axum middleware layer costs a boxed service clone and a boxed
/// future per request, measured at several per cent of a bare call):
/// - department calls get a slot where `DepartmentCaller` leaves the
///   certificate, so a refusal counts against its budget afterwards;
/// - the whole-request timeout (503 `request_timeout`), except where
///   [`has_own_time_bounds`];
/// - the error contract (`rejection`).
async fn edge(State(app): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let timed = !has_own_time_bounds(request.method(), path);
    let caller = path.starts_with("/api/v1/dept/").then(|| {
        let slot = rate_limit::CallerSlot::default();
        request.extensions_mut().insert(slot.clone());
        slot
    });
    let audience = rejection::audience(&request);
    let response = if timed {
        let limit = std::time::Duration::from_secs(app.config.limits.request_timeout_seconds);
        whole_request_timeout(limit, next.run(request)).await
    } else {
        next.run(request).await
    };
    if let Some(slot) = caller {
        app.rate_limits.after_department_call(&slot, response.status());
    }
    rejection::enforce(&app, audience, response).await
}

/// A request (uploads excepted) that is not answered within the timeout is
/// answered 503 `request_timeout`; its handler is dropped (a transaction in
/// it rolls back; an audit entry already appended stays, so nothing happens
/// unrecorded).
async fn whole_request_timeout(limit: std::time::Duration, handler: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(limit, handler).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(?limit, "request timed out");
            error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                "This took too long and was stopped. Please try again in a moment.",
            )
            .with_retry_after(5)
            .into_response()
        }
    }
}

/// `router` with the security headers on every response (see
/// `security_headers`); `server::build` applies it last, so that it covers
/// every route, the fallback and the nested dev identity providers.
pub fn with_security_headers(router: Router, config: &Config) -> Router {
    router.layer(middleware::from_fn_with_state(Arc::new(SecurityHeaders::new(config)), security_headers))
}

/// The configuration's part of the security headers, worked out once.
struct SecurityHeaders {
    /// `max-age=N`; None when `hsts_max_age_seconds` is 0.
    hsts: Option<HeaderValue>,
    /// `public_url` is https: tresor is behind a TLS proxy, so every
    /// response reaches the browser over HTTPS.
    always_https: bool,
}

impl SecurityHeaders {
    fn new(config: &Config) -> Self {
        let hsts = (config.hsts_max_age_seconds > 0)
            .then(|| HeaderValue::from_str(&format!("max-age={}", config.hsts_max_age_seconds)).ok())
            .flatten();
        let always_https = config
            .public_url
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .is_some_and(|url| url.scheme() == "https");
        Self { hsts, always_https }
    }
}

/// Headers every response carries: no caching of personal data, no framing,
/// no sniffing, no referrer leaks, and a CSP that allows no script at all;
/// and `Strict-Transport-Security` on every response served over HTTPS (by
/// tresor's TLS listener, or by the TLS proxy an https `public_url` names),
/// never on plain HTTP otherwise (browsers ignore it there, and a dev setup
/// on http://localhost must not pin HTTPS).
async fn security_headers(State(settings): State<Arc<SecurityHeaders>>, request: Request, next: Next) -> Response {
    let over_https = settings.always_https || request.extensions().get::<tls::ServedOverTls>().is_some();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if over_https && let Some(hsts) = &settings.hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
