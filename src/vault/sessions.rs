//! Logins and logouts, citizens' and staff's. Each is durably in the audit
//! log before it takes effect (fail closed): a first login's account is
//! created after its login entry, a session ends after its logout entry, and
//! a back-channel logout names every citizen whose sessions it ends before
//! it ends them. On `Err` nothing took effect.
//!
//! Sessions themselves (cookies, CSRF tokens, expiry) are `http::session`'s;
//! this module owns the effects that the audit log must show.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use futures_util::future::BoxFuture;

use super::{Result, Vault, VaultError};
use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::crypto::DataKey;
use crate::ids::CitizenId;
use crate::store::{CitizenRecord, PendingLogin, SessionRecord, StaffSessionRecord, Store, StoreError};

/// A touch (`last_seen_at`) is written at most this often: fewer writes,
/// the same idle semantics to the minute.
const TOUCH_EVERY_SECONDS: i64 = 60;

/// How long sessions of either kind live (from the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// A session ends after this long without a request.
    pub idle: Duration,
    /// A session ends after this long, active or not.
    pub absolute: Duration,
    /// Live sessions per citizen; a new login ends the oldest beyond this.
    pub per_citizen: u32,
}

/// 32 random bytes, base64url: session ids, CSRF tokens, login bindings.
pub fn random_token(rng: &dyn ring::rand::SecureRandom) -> Result<String> {
    let mut bytes = [0u8; 32];
    rng.fill(&mut bytes).map_err(|_| crate::crypto::CryptoError::Random)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// What the store keeps of a token: its SHA-256 (a database dump yields no
/// live session).
pub fn hash_token(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref().to_vec()
}

type StoreResult<T> = std::result::Result<T, StoreError>;

/// A stored session of one kind (a citizen's or a staff member's): the one
/// session flow ([`Vault::live_session`], [`Vault::start_session`]) serves
/// both, with the same lifetimes and the same id and CSRF rules.
pub trait SessionKind: Clone + Send + Sync + 'static {
    fn id_hash(&self) -> &[u8];
    fn created_at(&self) -> DateTime<Utc>;
    fn last_seen_at(&self) -> DateTime<Utc>;
    fn csrf_token(&self) -> &str;
    fn read<'a>(store: &'a dyn Store, id_hash: &'a [u8]) -> BoxFuture<'a, StoreResult<Option<Self>>>;
    fn delete<'a>(store: &'a dyn Store, id_hash: &'a [u8]) -> BoxFuture<'a, StoreResult<()>>;
    fn touch<'a>(store: &'a dyn Store, id_hash: &'a [u8], at: DateTime<Utc>) -> BoxFuture<'a, StoreResult<()>>;
    fn insert<'a>(&'a self, store: &'a dyn Store) -> BoxFuture<'a, StoreResult<()>>;
    /// After a new session is stored: end sessions beyond a limit. Returns
    /// how many ended.
    fn after_start<'a>(&'a self, _store: &'a dyn Store, _limits: SessionLimits) -> BoxFuture<'a, StoreResult<u64>> {
        Box::pin(async { Ok(0) })
    }
}

impl SessionKind for SessionRecord {
    fn id_hash(&self) -> &[u8] {
        &self.id_hash
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn last_seen_at(&self) -> DateTime<Utc> {
        self.last_seen_at
    }
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
    fn read<'a>(store: &'a dyn Store, id_hash: &'a [u8]) -> BoxFuture<'a, StoreResult<Option<Self>>> {
        store.session(id_hash)
    }
    fn delete<'a>(store: &'a dyn Store, id_hash: &'a [u8]) -> BoxFuture<'a, StoreResult<()>> {
        store.delete_session(id_hash)
    }
    fn touch<'a>(store: &'a dyn Store, id_hash: &'a [u8], at: DateTime<Utc>) -> BoxFuture<'a, StoreResult<()>> {
        store.touch_session(id_hash, at)
    }
    fn insert<'a>(&'a self, store: &'a dyn Store) -> BoxFuture<'a, StoreResult<()>> {
        store.insert_session(self)
    }
    /// A citizen has at most `per_citizen` live sessions: a new login ends
    /// the oldest beyond that (rather than refusing the login).
    fn after_start<'a>(&'a self, store: &'a dyn Store, limits: SessionLimits) -> BoxFuture<'a, StoreResult<u64>> {
        store.keep_newest_sessions(&self.citizen_id, &self.id_hash, limits.per_citizen)
    }
}

impl SessionKind for StaffSessionRecord {
    fn id_hash(&self) -> &[u8] {
        &self.id_hash
    }
    fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    fn last_seen_at(&self) -> DateTime<Utc> {
        self.last_seen_at
    }
    fn csrf_token(&self) -> &str {
        &self.csrf_token
    }
    fn read<'a>(store: &'a dyn Store, id_hash: &'a [u8]) -> BoxFuture<'a, StoreResult<Option<Self>>> {
        store.staff_session(id_hash)
    }
    fn delete<'a>(store: &'a dyn Store, id_hash: &'a [u8]) -> BoxFuture<'a, StoreResult<()>> {
        store.delete_staff_session(id_hash)
    }
    fn touch<'a>(store: &'a dyn Store, id_hash: &'a [u8], at: DateTime<Utc>) -> BoxFuture<'a, StoreResult<()>> {
        store.touch_staff_session(id_hash, at)
    }
    fn insert<'a>(&'a self, store: &'a dyn Store) -> BoxFuture<'a, StoreResult<()>> {
        store.insert_staff_session(self)
    }
}

/// A new session's id hash, CSRF token and start time, for building its record.
pub struct NewSession {
    pub id_hash: Vec<u8>,
    pub csrf_token: String,
    pub now: DateTime<Utc>,
}

/// Which sessions a back-channel logout token ends.
#[derive(Debug, Clone, Copy)]
pub enum BackChannelLogout<'a> {
    /// Every session of this IdP session (`sid`).
    IdpSession(&'a str),
    /// Every session of this subject at the issuer (`sub`; no `sid` sent).
    /// `issuer_url` is the provider's issuer, as in the subject hash.
    Subject { issuer_url: &'a str, subject: &'a str },
}

/// A login or logout entry; `subject` names the citizen whose session it
/// is, None for staff and refused logins.
pub fn session_event(
    action: Action,
    actor: Actor,
    subject: Option<String>,
    outcome: Outcome,
    reason: Option<&str>,
) -> AuditEvent {
    AuditEvent {
        actor,
        action,
        targets: Targets { subject, ..Targets::default() },
        outcome,
        reason: reason.map(str::to_owned),
    }
}

fn citizen_event(action: Action, citizen: &CitizenId, reason: Option<&str>) -> AuditEvent {
    session_event(action, Actor::Citizen(citizen.to_string()), Some(citizen.to_string()), Outcome::Success, reason)
}

impl Vault {
    /// Keep a login's state between the redirect to the provider and its
    /// callback (keyed by a hash of state and browser binding).
    pub async fn remember_pending_login(&self, pending: &PendingLogin) -> Result<()> {
        Ok(self.store.insert_pending_login(pending).await?)
    }

    /// Take (read and delete) a pending login: a callback completes once.
    pub async fn take_pending_login(&self, key: &[u8]) -> Result<Option<PendingLogin>> {
        Ok(self.store.take_pending_login(key).await?)
    }

    /// The live session of kind `R` whose token hashes to `id_hash`:
    /// sessions past their idle or absolute lifetime are deleted and count as
    /// none; a live one is touched at most once a minute.
    pub async fn live_session<R: SessionKind>(&self, id_hash: &[u8], limits: SessionLimits) -> Result<Option<R>> {
        let store = self.store.as_ref();
        let Some(record) = R::read(store, id_hash).await? else { return Ok(None) };
        let now = self.clock.now();
        if now - record.last_seen_at() > limits.idle || now - record.created_at() > limits.absolute {
            R::delete(store, id_hash).await?;
            return Ok(None);
        }
        if now - record.last_seen_at() > Duration::seconds(TOUCH_EVERY_SECONDS) {
            R::touch(store, id_hash, now).await?;
        }
        Ok(Some(record))
    }

    /// Start a fresh session of kind `R` (a new id at every login: no
    /// fixation), ending the `previous` one (its token) if the browser held
    /// one. `build` makes the record from the new id hash, CSRF token and
    /// time. Returns the token for the cookie.
    pub async fn start_session<R: SessionKind>(
        &self,
        previous: Option<&str>,
        limits: SessionLimits,
        build: impl FnOnce(NewSession) -> R,
    ) -> Result<String> {
        let store = self.store.as_ref();
        if let Some(previous) = previous {
            R::delete(store, &hash_token(previous)).await?;
        }
        let token = random_token(self.rng.as_ref())?;
        let record = build(NewSession {
            id_hash: hash_token(&token),
            csrf_token: random_token(self.rng.as_ref())?,
            now: self.clock.now(),
        });
        record.insert(store).await?;
        let ended = record.after_start(store, limits).await?;
        if ended > 0 {
            tracing::info!(ended, "ended the oldest sessions beyond the per-citizen limit");
        }
        Ok(token)
    }

    /// A citizen identified by an identity provider (`issuer_url`,
    /// `subject`) logs in. The login entry is durable first; on a first
    /// login the account (a fresh DEK; only HMAC(pepper, issuer ‖ sub) is
    /// stored) is created after it. Two first logins racing: the loser's
    /// entry names an id that never became an account, and it records the
    /// login again under the winner's id.
    #[tracing::instrument(skip_all)]
    pub async fn log_in_citizen(&self, issuer_url: &str, subject: &str) -> Result<CitizenId> {
        let subject_hash = self.keys.pepper().subject_hash(issuer_url, subject)?.to_vec();
        if let Some(existing) = self.store.citizen_by_subject(&subject_hash).await? {
            self.audit.record(citizen_event(Action::Login, &existing.id, None)).await?;
            return Ok(existing.id);
        }
        let id = CitizenId::generate(self.rng.as_ref());
        let dek = DataKey::generate(self.rng.as_ref())?;
        self.refresh_keys();
        let (kek_version, wrapped_dek) = self.keys.wrap_dek(&id, &dek)?;
        let record = CitizenRecord {
            wrapped_dek,
            kek_version,
            id,
            subject_hash: subject_hash.clone(),
            created_at: self.clock.now(),
        };
        self.audit.record(citizen_event(Action::Login, &record.id, None)).await?;
        match self.store.insert_citizen(&record).await {
            Ok(()) => Ok(record.id),
            Err(StoreError::Conflict(_)) => {
                let existing = self.store.citizen_by_subject(&subject_hash).await?.ok_or(VaultError::NoAccount)?;
                self.audit.record(citizen_event(Action::Login, &existing.id, None)).await?;
                Ok(existing.id)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// A login that was refused (by the provider, or for staff who are not
    /// DPOs); `actor` is the system when nobody was identified. Nothing takes
    /// effect either way; the caller decides whether a failed record fails
    /// the request.
    pub async fn record_refused_login(&self, actor: Actor, reason: &str) -> Result<()> {
        let event = session_event(Action::Login, actor, None, Outcome::Refused, Some(reason));
        self.audit.record(event).await?;
        Ok(())
    }

    /// A staff member (by keyed id) logs in: durable before the session exists.
    pub async fn log_in_staff(&self, staff_id: &str) -> Result<()> {
        let event = session_event(Action::Login, Actor::Staff(staff_id.to_owned()), None, Outcome::Success, None);
        self.audit.record(event).await?;
        Ok(())
    }

    /// A citizen logs out of session `session_hash`: the entry is durable
    /// before the session ends.
    pub async fn log_out_citizen(&self, citizen: &CitizenId, session_hash: &[u8]) -> Result<()> {
        self.audit.record(citizen_event(Action::Logout, citizen, None)).await?;
        self.store.delete_session(session_hash).await?;
        Ok(())
    }

    /// A staff member logs out of session `session_hash`: the entry is
    /// durable before the session ends.
    pub async fn log_out_staff(&self, staff_id: &str, session_hash: &[u8]) -> Result<()> {
        let event = session_event(Action::Logout, Actor::Staff(staff_id.to_owned()), None, Outcome::Success, None);
        self.audit.record(event).await?;
        self.store.delete_staff_session(session_hash).await?;
        Ok(())
    }

    /// OIDC back-channel logout at `issuer` (the configured name) by a
    /// verified logout token (`jti`, valid until `expires_at`): one entry per
    /// citizen whose sessions end (actor: the system, reason
    /// `backchannel_logout`), durable before they end. The token's `jti` is
    /// remembered only after the sessions ended, so a provider retrying after
    /// a failure is not refused as a replay. None: the token was used before.
    /// Some: how many sessions ended.
    pub async fn back_channel_logout(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
        which: Option<BackChannelLogout<'_>>,
    ) -> Result<Option<u64>> {
        if self.store.logout_token_seen(issuer, jti).await? {
            return Ok(None);
        }
        let ended = match which {
            Some(which) => self.end_sessions(issuer, which).await?,
            None => 0,
        };
        // Two deliveries racing both end the sessions (twice recorded); at
        // most one is remembered, later ones are replays.
        self.store.remember_logout_token(issuer, jti, expires_at).await?;
        Ok(Some(ended))
    }

    async fn end_sessions(&self, issuer: &str, which: BackChannelLogout<'_>) -> Result<u64> {
        let citizens = match which {
            BackChannelLogout::IdpSession(sid) => self.store.citizens_with_idp_session(issuer, sid).await?,
            BackChannelLogout::Subject { issuer_url, subject } => {
                let subject_hash = self.keys.pepper().subject_hash(issuer_url, subject)?;
                self.store.citizen_by_subject(&subject_hash).await?.map(|citizen| citizen.id).into_iter().collect()
            }
        };
        for citizen in &citizens {
            let event = session_event(
                Action::Logout,
                Actor::System,
                Some(citizen.to_string()),
                Outcome::Success,
                Some("backchannel_logout"),
            );
            self.audit.record(event).await?;
        }
        let ended = match which {
            BackChannelLogout::IdpSession(sid) => self.store.delete_sessions_by_idp_session(issuer, sid).await?,
            BackChannelLogout::Subject { .. } => {
                let mut ended = 0;
                for citizen in &citizens {
                    ended += self.store.delete_sessions_of_citizen(issuer, citizen).await?;
                }
                ended
            }
        };
        Ok(ended)
    }
}
