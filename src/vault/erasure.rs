//! Erasure across backups: an erased citizen goes on the erasure list
//! (`backup::ErasureList`, kept with the keys) durably before the erasure is
//! acknowledged, and the list is applied at start: a database restored by
//! any means (`tresor restore`, `pg_restore`, a copied file) loses every
//! citizen on it again, each with an `account_erase` entry by the system
//! (reason `erasure_list`) recorded before the deletion.

use std::sync::Arc;

use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::backup::{ErasureList, ErasureListError};
use crate::ids::CitizenId;
use crate::store::StoreError;

use super::{Result, Vault, VaultError};

/// The reason code of an erasure applied from the erasure list.
pub const ERASURE_LIST_REASON: &str = "erasure_list";

#[derive(Debug, thiserror::Error)]
pub enum ErasureApplyError {
    #[error(transparent)]
    List(#[from] ErasureListError),
    #[error("applying the erasure list: {0}")]
    Vault(#[from] VaultError),
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::result::Result<T, ErasureListError> + Send + 'static,
) -> std::result::Result<T, ErasureListError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(error) => Err(ErasureListError::Io {
            path: std::path::PathBuf::new(),
            context: "the erasure list's worker stopped",
            source: std::io::Error::other(error),
        }),
    }
}

impl Vault {
    /// Put `citizen` on the erasure list, durably. A list that cannot be
    /// written fails the erasure as an outage (503, nothing deleted).
    pub(super) async fn remember_erasure(&self, citizen: &CitizenId) -> Result<()> {
        let Some(list) = self.erasure_list.clone() else {
            return Ok(());
        };
        let citizen = citizen.clone();
        let now = self.clock.now();
        blocking(move || list.append(&citizen, now)).await.map_err(|error| {
            tracing::error!(%error, "could not write the erasure list; the erasure was refused");
            VaultError::Store(StoreError::Unavailable("the erasure list cannot be written".into()))
        })
    }

    /// Create the erasure list if it is missing, then delete every citizen on
    /// it that the database still holds (after an `account_erase` entry of
    /// the system, reason `erasure_list`). Returns how many were deleted.
    pub async fn apply_erasure_list(&self) -> std::result::Result<u64, ErasureApplyError> {
        let Some(list) = self.erasure_list.clone() else {
            return Ok(0);
        };
        let citizens = {
            let list: Arc<ErasureList> = list.clone();
            blocking(move || {
                list.ensure_exists()?;
                list.read()
            })
            .await?
        };
        let mut seen = std::collections::HashSet::new();
        let mut erased = 0;
        for citizen in citizens {
            if !seen.insert(citizen.clone()) || self.store.citizen(&citizen).await.map_err(VaultError::from)?.is_none()
            {
                continue;
            }
            let event = AuditEvent {
                actor: Actor::System,
                action: Action::AccountErase,
                targets: Targets { subject: Some(citizen.to_string()), ..Targets::default() },
                outcome: Outcome::Success,
                reason: Some(ERASURE_LIST_REASON.to_owned()),
            };
            self.audit.record(event).await.map_err(VaultError::from)?;
            if self.store.delete_citizen(&citizen).await.map_err(VaultError::from)? {
                erased += 1;
            }
            self.release_grants.forget_where(|grant| grant.grant.citizen_id == citizen);
            self.sealed_evidence.forget_where(|evidence| evidence.citizen_id == citizen);
        }
        Ok(erased)
    }
}
