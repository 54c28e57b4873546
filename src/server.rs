//! Assembles the running application from its parts: configuration, store,
//! key provider, policies, identity providers, clock and RNG. `main` uses it
//! for `tresor serve`; the integration tests use it with their own parts.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use axum::Router;
use chrono::Duration;
use ring::rand::SecureRandom;

use crate::audit::service::Audit;
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::crypto::{IdentifierPepper, KeyProvider};
use crate::http::dept_auth::{DepartmentAuth, DepartmentAuthError};
use crate::http::dpo::StaffLoginHandle;
use crate::http::{self, AppState};
use crate::identity::dev_idp::DevIdp;
use crate::identity::oidc::IssuerSettings;
use crate::identity::registry::IssuerRegistry;
use crate::identity::staff::{StaffLogin, StaffPolicy, StaffPolicyError};
use crate::policy::{LoginLevel, Policies};
use crate::store::Store;
use crate::vault::Vault;

/// Pending logins older than this are swept.
const PENDING_LOGIN_MAX_AGE_MINUTES: i64 = 15;
/// Expired, unanswered access requests are kept this long (departments can
/// still poll them as `expired`), then swept.
const EXPIRED_REQUEST_KEEP_DAYS: i64 = 30;
/// Uploads not completed within this time are swept (crash or abort).
const STALE_UPLOAD_MAX_AGE_HOURS: i64 = 6;

pub struct Parts {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub keys: Arc<dyn KeyProvider>,
    pub policies: Arc<Policies>,
    pub clock: Arc<dyn Clock>,
    pub rng: Arc<dyn SecureRandom + Send + Sync>,
    /// (settings, button label) per identity provider.
    pub issuers: Vec<(IssuerSettings, String)>,
    /// The built-in test provider, nested at `/dev-idp` (dev mode only).
    pub dev_idp: Option<Arc<DevIdp>>,
    /// A second instance for the staff login, nested at `/dev-idp-staff`
    /// (dev mode only).
    pub dev_staff_idp: Option<Arc<DevIdp>>,
    pub http_client: reqwest::Client,
    /// Department client-certificate authentication (see `department_auth`).
    pub department_auth: Option<Arc<DepartmentAuth>>,
}

/// Department authentication from the `[departments]` configuration and the
/// department policy; None when the section is absent.
pub fn department_auth(
    config: &Config,
    policies: &Policies,
) -> Result<Option<Arc<DepartmentAuth>>, DepartmentAuthError> {
    config
        .departments
        .as_ref()
        .map(|section| DepartmentAuth::from_config(section, &policies.departments).map(Arc::new))
        .transpose()
}

/// Relying-party settings for a configured issuer.
pub fn issuer_settings(
    config: &Config,
    name: &str,
    issuer_url: &str,
    client_id: &str,
    client_secret: Option<String>,
    min_level: LoginLevel,
    scopes: Vec<String>,
) -> IssuerSettings {
    let base = config.public_base_url();
    IssuerSettings {
        name: name.to_owned(),
        issuer_url: issuer_url.to_owned(),
        client_id: client_id.to_owned(),
        client_secret,
        redirect_url: format!("{base}/auth/callback"),
        post_logout_redirect_url: format!("{base}/logged-out"),
        min_level,
        scopes,
        allowed_algs: vec!["RS256".into(), "PS256".into(), "ES256".into(), "EdDSA".into()],
        leeway_seconds: 60,
        max_token_age_seconds: 300,
    }
}

/// Why the staff login could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StaffSetupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("staff policy: {0}")]
    Policy(#[from] StaffPolicyError),
    #[error("staff ids: {0}")]
    Keys(#[from] crate::crypto::CryptoError),
}

/// The staff (DPO) login from `staff_issuer` and `policies/staff.toml`;
/// None when no staff issuer is configured. Its callback is
/// `/staff/callback`, apart from the citizens' `/auth/callback`.
pub fn staff_login(
    config: &Config,
    pepper: &IdentifierPepper,
    http_client: reqwest::Client,
) -> Result<Option<StaffLogin>, StaffSetupError> {
    let Some(issuer) = &config.staff_issuer else {
        return Ok(None);
    };
    let secret = Config::client_secret(issuer)?.map(|secret| secret.expose().to_owned());
    let level = LoginLevel::from_acr(&issuer.min_level).unwrap_or(LoginLevel::High);
    let mut settings = issuer_settings(
        config,
        &issuer.name,
        &issuer.issuer_url,
        &issuer.client_id,
        secret,
        level,
        issuer.scopes.clone(),
    );
    settings.redirect_url = format!("{}/staff/callback", config.public_base_url());
    let policy = StaffPolicy::load(&config.policy_dir)?;
    let login = StaffLogin::new(settings, &policy, pepper, http_client)?;
    if login.dpo_count() == 0 {
        tracing::warn!("staff login is configured but staff.toml names no DPO of it: nobody can audit");
    }
    Ok(Some(login))
}

/// The application router plus its state.
///
/// A staff login that cannot be set up (missing secret, invalid
/// `staff.toml`) is logged and left out: the DPO pages then answer 404 and
/// nobody gets staff access (fail closed); citizens are not affected.
pub fn build(parts: Parts) -> (Router, AppState) {
    let staff = match staff_login(&parts.config, parts.keys.pepper(), parts.http_client.clone()) {
        Ok(staff) => staff.map(Arc::new),
        Err(error) => {
            tracing::error!(%error, "staff login disabled");
            None
        }
    };
    // `Config::load` checked every witness key; a failure here is a bug.
    let witnesses = tresor_witnesses(&parts.config);
    let audit = Audit::start_witnessed(
        parts.store.clone(),
        parts.keys.clone(),
        parts.clock.clone(),
        parts.config.audit_origin(),
        parts.config.audit_checkpoint_entries,
        witnesses,
    );
    let erasure_list = Arc::new(crate::backup::ErasureList::new(parts.config.erasure_list_path()));
    let vault = Vault::new(parts.store, parts.keys, parts.policies, parts.clock, parts.rng, audit)
        .with_erasure_list(erasure_list);
    let issuers = IssuerRegistry::new(parts.issuers, parts.http_client);
    let state = AppState::new(vault, issuers, parts.config, parts.dev_idp.is_some(), parts.department_auth);
    let mut router = http::router(state.clone()).layer(axum::Extension(StaffLoginHandle(staff)));
    if let Some(dev_idp) = parts.dev_idp {
        router = router.nest("/dev-idp", dev_idp.router());
    }
    if let Some(dev_staff_idp) = parts.dev_staff_idp {
        router = router.nest("/dev-idp-staff", dev_staff_idp.router());
    }
    // Last, so that the limits, the error contract and the security headers
    // cover the dev identity providers too.
    let router = http::edge::with_edge(router, &state);
    (router, state)
}

/// The configured witnesses; none (logged) if the configuration could not
/// be turned into clients, which `Config::load` rules out.
fn tresor_witnesses(config: &Config) -> crate::audit::witnessing::Witnesses {
    match crate::audit::witnessing::Witnesses::new(&config.witnesses, config.witness_quorum()) {
        Ok(witnesses) => witnesses,
        Err(error) => {
            tracing::error!(%error, "witnesses disabled");
            crate::audit::witnessing::Witnesses::none()
        }
    }
}

/// Sign an audit checkpoint every `audit_checkpoint_seconds` if the log
/// grew, and send it to the witnesses (retrying those that failed).
pub fn spawn_checkpointer(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(StdDuration::from_secs(state.config.audit_checkpoint_seconds));
        loop {
            interval.tick().await;
            if let Err(error) = state.vault.audit().checkpoint().await {
                tracing::warn!(%error, "signing an audit checkpoint failed; retried next round");
            }
        }
    })
}

/// Remove abandoned login attempts, uploads and long-expired access
/// requests, and prune audit entry bodies
/// past retention, at start and then every few minutes. Failures are logged
/// and retried next round.
pub fn spawn_sweeper(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(StdDuration::from_secs(300));
        loop {
            interval.tick().await;
            sweep_once(&state).await;
        }
    })
}

/// One round of the sweeper (see `spawn_sweeper`).
pub async fn sweep_once(state: &AppState) {
    state.rate_limits.forget_idle();
    let now = state.vault.clock().now();
    let store = state.vault.store();
    if let Err(error) = store.delete_pending_logins_before(now - Duration::minutes(PENDING_LOGIN_MAX_AGE_MINUTES)).await
    {
        tracing::warn!(%error, "sweeping pending logins failed");
    }
    // Retention: entry bodies go, the tree's leaf hashes stay.
    match store.prune_audit_bodies(now - Duration::days(state.config.audit_retention_days)).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "pruned audit entry bodies past retention"),
        Err(error) => tracing::warn!(%error, "pruning audit entries failed"),
    }
    match store.delete_expired_access_requests(now - Duration::days(EXPIRED_REQUEST_KEEP_DAYS)).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "removed expired access requests"),
        Err(error) => tracing::warn!(%error, "sweeping expired access requests failed"),
    }
    match state.vault.sweep_form_drafts().await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "removed expired form drafts"),
        Err(error) => tracing::warn!(%error, "sweeping form drafts failed"),
    }
    match store.delete_stale_uploads(now - Duration::hours(STALE_UPLOAD_MAX_AGE_HOURS)).await {
        Ok(0) => {}
        Ok(count) => tracing::info!(count, "removed unfinished uploads"),
        Err(error) => tracing::warn!(%error, "sweeping unfinished uploads failed"),
    }
}
