//! Logins and logouts, citizens' and staff's. Each is durably in the audit
//! log before it takes effect (fail closed): a first login's account is
//! created after its login entry, a session ends after its logout entry, and
//! a back-channel logout names every citizen whose sessions it ends before
//! it ends them. On `Err` nothing took effect.
//!
//! Sessions themselves (cookies, CSRF tokens, expiry) are `http::session`'s;
//! this module owns the effects that the audit log must show.

use super::{Result, Vault, VaultError};
use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::crypto::DataKey;
use crate::ids::CitizenId;
use crate::store::{CitizenRecord, StoreError};

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
    /// A citizen identified by an identity provider (`issuer_url`,
    /// `subject`) logs in. The login entry is durable first; on a first
    /// login the account (a fresh DEK; only HMAC(pepper, issuer ‖ sub) is
    /// stored) is created after it. Two first logins racing: the loser's
    /// entry names an id that never became an account, and it records the
    /// login again under the winner's id.
    #[tracing::instrument(skip_all)]
    pub async fn log_in_citizen(&self, issuer_url: &str, subject: &str) -> Result<CitizenId> {
        let subject_hash = self.keys.pepper().subject_hash(issuer_url, subject).to_vec();
        if let Some(existing) = self.store.citizen_by_subject(&subject_hash).await? {
            self.audit.record(citizen_event(Action::Login, &existing.id, None)).await?;
            return Ok(existing.id);
        }
        let id = CitizenId::generate(self.rng.as_ref());
        let dek = DataKey::generate(self.rng.as_ref())?;
        let record = CitizenRecord {
            wrapped_dek: self.keys.wrap_dek(&id, &dek)?,
            kek_version: self.keys.current_kek_version(),
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
                let subject_hash = self.keys.pepper().subject_hash(issuer_url, subject);
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
