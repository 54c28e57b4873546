//! HTTP edge: axum routers for pages, the citizen JSON API and login, error
//! responses, sessions and security headers. Wire types live here; the
//! domain (`vault`) knows nothing of axum or serde.

use std::ops::Deref;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::Response;
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
pub mod pages;
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
        let uploads = upload::UploadGate::new(&config.limits, upload::UPLOAD_MEMORY_BYTES);
        Self(Arc::new(AppInner { vault, issuers, config, cookies, dev_mode, department_auth, uploads }))
    }
}

/// The whole application router (without the dev identity provider, which
/// `main` nests under `/dev-idp` in dev mode).
pub fn router(state: AppState) -> Router {
    let upload_limit = usize::try_from(state.config.upload_limit_bytes + MULTIPART_OVERHEAD).unwrap_or(usize::MAX);
    let uploads = Router::new()
        .route("/api/v1/evidence", post(api::upload_evidence).get(api::list_evidence))
        .route("/evidence", post(web::upload_evidence).get(web::list_evidence))
        .layer(DefaultBodyLimit::max(upload_limit));
    Router::new()
        .merge(uploads)
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
        .route("/api/v1/evidence-types", get(api::evidence_types))
        .route("/api/v1/evidence/{id}", get(api::show_evidence).delete(api::delete_evidence))
        .route("/api/v1/evidence/{id}/file", get(api::download_file))
        .route("/api/v1/account", axum::routing::delete(api::erase_account))
        .route("/api/v1/audit/checkpoint", get(audit::checkpoint))
        .route("/api/v1/audit/mine", get(audit::my_access_log))
        .route("/api/v1/audit/consistency", get(audit::consistency))
        .route("/access-log", get(audit::access_log_page))
        .merge(consent::routes())
        .route("/staff/login", get(dpo::staff_login))
        .route("/staff/callback", get(dpo::staff_callback))
        .route("/staff/logout", post(dpo::staff_logout))
        .route("/dpo", get(dpo::query_page))
        .route("/dpo/stats", get(dpo::stats_page))
        .route("/dpo/verify", get(dpo::verify_page))
        .route("/dpo/export.csv", get(dpo::export_csv))
        .route("/dpo/export.jsonl", get(dpo::export_jsonl))
        .route("/api/v1/dpo/entries", get(dpo::entries_json))
        .route("/api/v1/dept/requests", post(dept::create_request))
        .route("/api/v1/dept/requests/{id}", get(dept::request_status))
        .route("/api/v1/dept/grants/{id}/release", get(dept::release))
        .route("/api/v1/dept/grants/{id}/releases/{index}/files/{evidence}", get(dept::released_file))
        .route("/api/v1/keys", get(dept::keys))
        .route("/api/v1/dept/whoami", get(dept_whoami::whoami))
        .fallback(web::not_found)
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Headers every response carries: no caching of personal data, no framing,
/// no sniffing, no referrer leaks, and a CSP that allows no script at all.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
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
