//! HTTP edge: axum routers for pages, the citizen JSON API and login, error
//! responses, sessions and security headers. Wire types live here; the
//! domain (`vault`) knows nothing of axum or serde.

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};

use crate::config::Config;
use crate::identity::registry::IssuerRegistry;
use crate::vault::Vault;

pub mod api;
pub mod audit;
pub mod auth;
pub mod catalogue;
pub mod consent;
pub mod dept;
pub mod dept_auth;
pub mod dept_whoami;
pub mod display;
pub mod dpo;
pub mod drafts;
pub mod edge;
pub mod error;
pub mod health;
pub mod i18n;
pub mod info;
pub mod listener;
pub mod login_flow;
pub mod my_data;
pub mod openapi;
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
    /// The configuration's part of the security headers.
    security_headers: edge::SecurityHeaders,
    /// Prometheus metrics (recorded only with `metrics_listen`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The last readiness check, shared by `/readyz` and the metrics.
    pub readiness: health::ReadinessCache,
    /// Request ids: generated, or taken from a trusted proxy.
    request_ids: edge::RequestIds,
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
        let security_headers = edge::SecurityHeaders::new(&config);
        let metrics = crate::metrics::Metrics::new(&vault, config.metrics_listen.is_some());
        let request_ids = edge::RequestIds::new(vault.rng(), &config);
        Self(Arc::new(AppInner {
            vault,
            issuers,
            config,
            cookies,
            dev_mode,
            department_auth,
            rate_limits,
            uploads,
            security_headers,
            metrics,
            readiness: health::ReadinessCache::default(),
            request_ids,
        }))
    }
}

/// The whole application router (without the dev identity providers, which
/// `server::build` nests under `/dev-idp` in dev mode, and without the
/// [`edge`] middleware, which `server::build` puts over both with
/// [`edge::with_edge`]).
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
        .route("/api/v1/services", get(catalogue::services_json))
        .route("/api/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/api/v1/audit/consistency", get(audit::consistency))
        .route("/api/v1/audit/log/checkpoint", get(audit::tlog_checkpoint))
        .route("/api/v1/keys", get(dept::keys))
        .route_layer(middleware::from_fn_with_state(state.clone(), rate_limit::public_calls));
    Router::new()
        .merge(public)
        // For load balancers: never rate-limited, no session, no personal data.
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        // Hash tiles: immutable, a bounded read each, meant to be cached and
        // followed by tlog clients: not rate-limited per address.
        .route("/api/v1/audit/log/tile/{*path}", get(audit::tlog_tile))
        // One static document, cacheable: not rate-limited either.
        .route(openapi::PATH, get(openapi::serve))
        // Department API: rate-limited per certificate (in
        // `DepartmentCaller`), refusals counted per certificate by `edge`.
        .route("/api/v1/dept/requests", post(dept::create_request))
        .route("/api/v1/dept/requests/{id}", get(dept::request_status))
        .route("/api/v1/dept/grants/{id}/release", get(dept::release))
        .route("/api/v1/dept/grants/{id}/releases/{index}/proof", get(dept::release_proof))
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
        .route("/account/data", get(my_data::offer).post(my_data::download))
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
        .route("/api/v1/dpo/witnesses", get(dpo::witnesses_json))
        .route("/dpo/feedback", get(dpo::feedback_page))
        .merge(info_routes())
        .merge(uploads)
        .fallback(rejection::not_found)
        .with_state(state)
}

/// The pages a public body must offer (`info`), for everyone; the feedback
/// form's body is small and bounded.
fn info_routes() -> Router<AppState> {
    Router::new()
        .route("/accessibility", get(info::accessibility))
        .route(
            "/accessibility/feedback",
            post(info::submit_feedback).layer(DefaultBodyLimit::max(info::FEEDBACK_BODY_LIMIT)),
        )
        .route("/easy-read", get(info::easy_read))
        .route("/sign-language", get(info::sign_language))
        .route("/privacy", get(info::privacy))
        .route("/imprint", get(info::imprint))
        .route("/contact", get(info::contact))
        .route("/services", get(catalogue::services_page))
}
