//! KEK rotation (`tresor keys rotate-kek`): a new KEK version, every wrapped
//! key (citizens' DEKs, form drafts' keys) re-wrapped under it, the old
//! version retired once nothing uses it. No evidence is re-encrypted: only
//! the 60-byte wrappings change.
//!
//! Safe while the vault serves and after a crash at any point:
//! - a wrapping is replaced only where the row still holds the wrapping that
//!   was read (`Store::rewrap_keys`), in batches of one transaction each, so
//!   every row is always either the old wrapping under the old version or the
//!   new one under the new version, both of which the vault can open (it
//!   picks up the new KEK file when it meets the new version);
//! - a run that finds keys under a version older than the newest resumes that
//!   rotation instead of starting another;
//! - the serving vault picks up a new KEK version before it wraps a new key
//!   (`KeyProvider::refresh`), so after the version file exists no new key
//!   is wrapped under an older one except by a wrap already under way; the
//!   old version is retired only after a pass finds none and, after a
//!   settling pause, a second count still finds none.

use std::time::Duration;

use chrono::Utc;

use crate::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use crate::crypto::CryptoError;
use crate::crypto::KeyProvider;
use crate::ids::CitizenId;
use crate::store::{KeyRewrap, Store, StoreError, WrappedKeyRecord, WrappedKeyTable};

/// How a rotation runs.
#[derive(Debug, Clone)]
pub struct RotationSettings {
    /// Keys re-wrapped per transaction.
    pub batch: u32,
    /// Passes over the keys before giving up on stragglers (keys a vault
    /// that had not yet seen the new KEK wrapped meanwhile).
    pub passes: u32,
    /// Pause before the count that allows an old version to be retired.
    pub settle: Duration,
}

impl Default for RotationSettings {
    fn default() -> Self {
        Self { batch: 1_000, passes: 5, settle: Duration::from_secs(5) }
    }
}

/// What the command shows while it works.
pub trait RotationProgress: Sync {
    /// A pass starts over `total` keys.
    fn pass(&self, number: u32, total: u64);
    /// `done` more keys were handled.
    fn advance(&self, done: u64);
    fn finish_pass(&self);
}

/// No output (tests, library use).
pub struct Quiet;

impl RotationProgress for Quiet {
    fn pass(&self, _: u32, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish_pass(&self) {}
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(
        "{count} wrapped key(s) use KEK version {version}, which is not in the key directory \
         (neither current nor retired); nothing was changed"
    )]
    MissingKek { version: u32, count: u64 },
    #[error("{count} wrapped key(s) do not open under their KEK version (damaged rows), for example {example}")]
    Damaged { count: u64, example: String },
    #[error(
        "{remaining} key(s) are still wrapped under an older KEK version after every pass: a serving vault \
         wraps new keys with the new KEK v{version} from its next new key on; run the command again"
    )]
    Incomplete { version: u32, remaining: u64 },
}

/// The outcome of [`rewrap_until_done`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrapped {
    /// Keys re-wrapped in all passes.
    pub rewrapped: u64,
    /// Keys still under an older version after the last pass.
    pub remaining: u64,
}

/// Versions older than `target` that still wrap keys, with their counts.
pub async fn older_in_use(store: &dyn Store, target: u32) -> Result<Vec<(u32, u64)>, StoreError> {
    Ok(store
        .kek_versions_in_use()
        .await?
        .into_iter()
        .filter(|(version, count)| *version != target && *count > 0)
        .collect())
}

/// Refuse to start when a stored key names a KEK version `keys` does not hold.
pub async fn check_versions_known(store: &dyn Store, known: &[u32]) -> Result<(), RotationError> {
    for (version, count) in store.kek_versions_in_use().await? {
        if count > 0 && !known.contains(&version) {
            return Err(RotationError::MissingKek { version, count });
        }
    }
    Ok(())
}

/// Re-wrap every key not under `keys`' current version, pass after pass,
/// until a pass leaves none or `settings.passes` passes are done.
pub async fn rewrap_until_done(
    store: &dyn Store,
    keys: &dyn KeyProvider,
    settings: &RotationSettings,
    progress: &dyn RotationProgress,
) -> Result<Rewrapped, RotationError> {
    let target = keys.current_kek_version();
    let mut rewrapped = 0;
    for number in 1..=settings.passes.max(1) {
        let total: u64 = older_in_use(store, target).await?.iter().map(|(_, count)| count).sum();
        if total == 0 {
            return Ok(Rewrapped { rewrapped, remaining: 0 });
        }
        progress.pass(number, total);
        for table in [WrappedKeyTable::Citizens, WrappedKeyTable::FormDrafts] {
            rewrapped += rewrap_table(store, keys, table, target, settings.batch.max(1), progress).await?;
        }
        progress.finish_pass();
    }
    let remaining = older_in_use(store, target).await?.iter().map(|(_, count)| count).sum();
    Ok(Rewrapped { rewrapped, remaining })
}

async fn rewrap_table(
    store: &dyn Store,
    keys: &dyn KeyProvider,
    table: WrappedKeyTable,
    target: u32,
    batch: u32,
    progress: &dyn RotationProgress,
) -> Result<u64, RotationError> {
    let mut after: Option<Vec<u8>> = None;
    let mut rewrapped = 0;
    loop {
        let found = store.wrapped_keys_not_under(table, target, after.as_deref(), batch).await?;
        let Some(last) = found.last() else {
            return Ok(rewrapped);
        };
        after = Some(last.key.clone());
        let rewraps = found.iter().map(|old| rewrap_one(keys, old, target)).collect::<Result<Vec<_>, _>>()?;
        rewrapped += store.rewrap_keys(&rewraps).await?;
        progress.advance(u64::try_from(found.len()).unwrap_or(u64::MAX));
    }
}

fn rewrap_one(keys: &dyn KeyProvider, old: &WrappedKeyRecord, target: u32) -> Result<KeyRewrap, RotationError> {
    let damaged = |example: String| RotationError::Damaged { count: 1, example };
    let (kek_version, wrapped) = match old.table {
        WrappedKeyTable::Citizens => {
            let citizen =
                std::str::from_utf8(&old.key).ok().and_then(|text| text.parse::<CitizenId>().ok()).ok_or_else(
                    || damaged(format!("a citizen row with the malformed id {:?}", String::from_utf8_lossy(&old.key))),
                )?;
            let dek = keys.unwrap_dek(&citizen, old.kek_version, &old.wrapped).map_err(|error| match error {
                CryptoError::Open => damaged(format!("citizen {citizen}")),
                other => other.into(),
            })?;
            keys.wrap_dek(&citizen, &dek)?
        }
        WrappedKeyTable::FormDrafts => {
            let key = keys.unwrap_draft_key(&old.key, old.kek_version, &old.wrapped).map_err(|error| match error {
                CryptoError::Open => damaged("a form draft".to_owned()),
                other => other.into(),
            })?;
            keys.wrap_draft_key(&old.key, &key)?
        }
    };
    if kek_version != target {
        // The provider's current version moved during the run: never write a
        // wrapping under a version the caller did not mean.
        return Err(RotationError::Crypto(CryptoError::UnknownKekVersion(kek_version)));
    }
    Ok(KeyRewrap { old: old.clone(), kek_version, wrapped })
}

/// The entry a rotation step leaves in the audit log (`kek_rotation_started_v2`, ...).
pub fn rotation_event(step: RotationStep, version: u32) -> AuditEvent {
    let (code, outcome) = match step {
        RotationStep::Started => ("started", Outcome::Success),
        RotationStep::Resumed => ("resumed", Outcome::Success),
        RotationStep::Finished => ("finished", Outcome::Success),
        RotationStep::Incomplete => ("incomplete", Outcome::Failed),
    };
    AuditEvent {
        actor: Actor::System,
        action: Action::KeyOperation,
        targets: Targets::default(),
        outcome,
        reason: Some(format!("kek_rotation_{code}_v{version}")),
    }
}

/// The steps of a rotation the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationStep {
    Started,
    Resumed,
    Finished,
    Incomplete,
}

/// Record a rotation step (the command runs beside the vault; appends from
/// several processes are ordered by the store's append transaction).
pub async fn record(store: &dyn Store, step: RotationStep, version: u32) -> Result<(), StoreError> {
    crate::audit::append::append_events(store, &[(Utc::now(), rotation_event(step, version))]).await?;
    Ok(())
}

/// What [`rotate_file_keks`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationReport {
    /// The KEK version every key is wrapped under now.
    pub version: u32,
    /// True when this run created `version`; false when it resumed a
    /// rotation to it that had not finished.
    pub created: bool,
    pub rewrapped: u64,
    /// Versions moved to `retired/` by this run, with their new paths.
    pub retired: Vec<(u32, std::path::PathBuf)>,
}

/// `tresor keys rotate-kek` for the file key provider: resume an unfinished
/// rotation or create a new KEK version, re-wrap every key, retire the
/// versions nothing uses any more; each step in the audit log. A wrong
/// passphrase or an unknown stored version changes nothing.
pub async fn rotate_file_keks(
    store: &dyn Store,
    dir: &std::path::Path,
    passphrase: &crate::crypto::Passphrase,
    kdf: crate::crypto::KdfParams,
    rng: &dyn ring::rand::SecureRandom,
    settings: &RotationSettings,
    progress: &dyn RotationProgress,
) -> Result<RotationReport, RotationError> {
    use crate::crypto::FileKeyProvider;

    let keys = FileKeyProvider::open_with_retired(dir, passphrase)?;
    check_versions_known(store, &keys.kek_versions()).await?;
    let unfinished = !older_in_use(store, keys.current_kek_version()).await?.is_empty();
    let (keys, created) = if unfinished {
        (keys, false)
    } else {
        FileKeyProvider::rotate_kek(dir, passphrase, kdf, rng)?;
        (FileKeyProvider::open_with_retired(dir, passphrase)?, true)
    };
    let version = keys.current_kek_version();
    record(store, if created { RotationStep::Started } else { RotationStep::Resumed }, version).await?;

    let mut done = rewrap_until_done(store, &keys, settings, progress).await?;
    if done.remaining == 0 {
        // A wrap already under way when the new version appeared may still
        // land: wait, then count again before anything is retired.
        tokio::time::sleep(settings.settle).await;
        let again = rewrap_until_done(store, &keys, settings, progress).await?;
        done = Rewrapped { rewrapped: done.rewrapped + again.rewrapped, remaining: again.remaining };
    }
    if done.remaining > 0 {
        record(store, RotationStep::Incomplete, version).await?;
        return Err(RotationError::Incomplete { version, remaining: done.remaining });
    }
    let in_use = store.kek_versions_in_use().await?;
    let mut retired = Vec::new();
    for old in FileKeyProvider::open(dir, passphrase)?.kek_versions() {
        if old < version && in_use.get(&old).copied().unwrap_or(0) == 0 {
            retired.push((old, FileKeyProvider::retire_kek(dir, old)?));
        }
    }
    record(store, RotationStep::Finished, version).await?;
    Ok(RotationReport { version, created, rewrapped: done.rewrapped, retired })
}
