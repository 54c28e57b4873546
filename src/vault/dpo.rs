//! Data-protection officers' access to the audit log, as capabilities:
//!
//! - a [`Dpo`] is only yielded by [`Vault::dpo_session`], for a live staff session
//!   whose staff member the staff policy lists as a DPO (asked on every
//!   request, so removing someone from `staff.toml` ends their access);
//! - a [`DpoQuery`] is only yielded by [`Vault::record_dpo_query`], which
//!   needs a `Dpo` and makes the query's own audit entry durable first;
//! - reading entries for a DPO is only possible through a `DpoQuery`, and
//!   only with the filter its entry names.
//!
//! So a DPO view cannot forget to check the session or to record itself.

use std::sync::Arc;

use super::{Result, SessionLimits, Vault};
use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::identity::staff::StaffLogin;
use crate::store::{AuditFilter, StaffSessionRecord, Store, StoredAuditEntry};

/// A verified data-protection officer (see the module doc).
#[derive(Debug, Clone)]
pub struct Dpo {
    staff_id: String,
}

impl Dpo {
    /// The keyed staff id (the actor of the DPO's audit entries).
    pub fn staff_id(&self) -> &str {
        &self.staff_id
    }
}

/// A recorded DPO query: reads the entries its audit entry names.
#[derive(Clone)]
pub struct DpoQuery {
    store: Arc<dyn Store>,
    filter: AuditFilter,
}

impl DpoQuery {
    pub fn filter(&self) -> &AuditFilter {
        &self.filter
    }

    /// Entries ascending by sequence after `after` (keyset pagination).
    pub async fn oldest_first(&self, limit: u32, after: Option<u64>) -> Result<Vec<StoredAuditEntry>> {
        Ok(self.store.audit_entries(&self.filter, limit, after).await?)
    }

    /// Entries newest first, older than `before` (keyset pagination).
    pub async fn newest_first(&self, limit: u32, before: Option<u64>) -> Result<Vec<StoredAuditEntry>> {
        Ok(self.store.audit_entries_newest_first(&self.filter, limit, before).await?)
    }
}

impl Vault {
    /// The live staff session `session_hash` (the one session flow:
    /// expired ones are ended and count as none) and, if `staff` lists its
    /// staff member as a DPO, the `Dpo` capability. One read of the session.
    pub async fn dpo_session(
        &self,
        session_hash: &[u8],
        limits: SessionLimits,
        staff: &StaffLogin,
    ) -> Result<Option<(StaffSessionRecord, Option<Dpo>)>> {
        let Some(session) = self.live_session::<StaffSessionRecord>(session_hash, limits).await? else {
            return Ok(None);
        };
        let dpo = staff.is_dpo(&session.staff_id).then(|| Dpo { staff_id: session.staff_id.clone() });
        Ok(Some((session, dpo)))
    }

    /// Record a DPO query (`reason`: which view, e.g. `dpo_page`) durably,
    /// then hand out the reads it allows (fail closed).
    pub async fn record_dpo_query(&self, dpo: &Dpo, filter: AuditFilter, reason: &'static str) -> Result<DpoQuery> {
        let event = AuditEvent {
            actor: Actor::Staff(dpo.staff_id.clone()),
            action: Action::AuditQuery,
            targets: Targets { subject: filter.subject.clone(), ..Targets::default() },
            outcome: Outcome::Success,
            reason: Some(reason.to_owned()),
        };
        self.audit.record(event).await?;
        Ok(DpoQuery { store: self.store.clone(), filter })
    }
}
