//! Readiness: whether this process should be given traffic. Each check is
//! cheap (a few primary-key reads, one key round trip, channel state) and
//! bounded in time; `http::health` serves the result at `/readyz` and the
//! metrics read the same figures.
//!
//! What is checked: the store answers (within `health.store_timeout_milliseconds`),
//! the keys work (a DEK wrapped and unwrapped with the KEK, a probe signed
//! with the signing key), the audit writer takes appends, no audit entry has
//! waited longer than `health.max_checkpoint_age_seconds` for a checkpoint,
//! and, with witnesses, no checkpoint longer than
//! `health.max_witnessed_checkpoint_age_seconds` for its cosignatures. A log
//! that does not grow needs no new checkpoint: the age is that of the oldest
//! entry (or checkpoint) still waiting, never of the newest checkpoint.
//!
//! Nothing here reads personal data or writes anything (no audit entry).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::HealthConfig;
use crate::crypto::DataKey;
use crate::ids::CitizenId;
use crate::vault::Vault;

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// The check failed; the stable code says why.
    Failed(Problem),
    /// Not checked because a check it depends on failed (the store).
    Unknown,
    /// Nothing to check (no witnesses configured).
    NotConfigured,
}

/// Why the process is not ready: stable codes for load balancers, alerts
/// and runbooks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The database answered with an error (down, refused, pool closed).
    StoreUnreachable,
    /// The database did not answer within `health.store_timeout_milliseconds`.
    StoreTimeout,
    /// Wrapping a key with the KEK or signing failed (key provider lost).
    KeysUnavailable,
    /// The audit log's writer has stopped: every audited action would fail.
    AuditWriterStopped,
    /// An audit entry has waited longer than allowed for a signed checkpoint.
    CheckpointTooOld,
    /// A signed checkpoint has waited longer than allowed for its witnesses.
    WitnessedCheckpointTooOld,
}

impl Problem {
    pub fn code(self) -> &'static str {
        match self {
            Problem::StoreUnreachable => "store_unreachable",
            Problem::StoreTimeout => "store_timeout",
            Problem::KeysUnavailable => "keys_unavailable",
            Problem::AuditWriterStopped => "audit_writer_stopped",
            Problem::CheckpointTooOld => "checkpoint_too_old",
            Problem::WitnessedCheckpointTooOld => "witnessed_checkpoint_too_old",
        }
    }
}

impl Outcome {
    /// `ok`, `unknown`, `not_configured` or the problem's code.
    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Failed(problem) => problem.code(),
            Outcome::Unknown => "unknown",
            Outcome::NotConfigured => "not_configured",
        }
    }
}

/// The result of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    pub store: Outcome,
    pub keys: Outcome,
    pub audit_writer: Outcome,
    pub checkpoint: Outcome,
    pub witnessed_checkpoint: Outcome,
    /// Entries in the log no signed checkpoint covers yet (None: unknown).
    pub unsigned_entries: Option<u64>,
    /// How long the oldest of them has waited (zero when there are none).
    pub checkpoint_wait: Option<Duration>,
    /// How long the oldest signed checkpoint past the newest witnessed one
    /// has waited for cosignatures (zero when all are witnessed; None:
    /// unknown or no witnesses).
    pub witness_wait: Option<Duration>,
}

impl Readiness {
    /// The checks by name, in a fixed order.
    pub fn checks(&self) -> [(&'static str, Outcome); 5] {
        [
            ("store", self.store),
            ("keys", self.keys),
            ("audit_writer", self.audit_writer),
            ("checkpoint", self.checkpoint),
            ("witnessed_checkpoint", self.witnessed_checkpoint),
        ]
    }

    /// The failed checks' codes.
    pub fn problems(&self) -> Vec<&'static str> {
        self.checks()
            .iter()
            .filter_map(|(_, outcome)| match outcome {
                Outcome::Failed(problem) => Some(problem.code()),
                _ => None,
            })
            .collect()
    }

    /// Ready: nothing failed and nothing unknown.
    pub fn is_ready(&self) -> bool {
        self.checks().iter().all(|(_, outcome)| matches!(outcome, Outcome::Ok | Outcome::NotConfigured))
    }
}

/// Run every check once (see the module documentation).
pub async fn check(vault: &Vault, settings: &HealthConfig) -> Readiness {
    let audit = vault.audit();
    let keys = if keys_work(vault) { Outcome::Ok } else { Outcome::Failed(Problem::KeysUnavailable) };
    let audit_writer = if audit.writer_alive() { Outcome::Ok } else { Outcome::Failed(Problem::AuditWriterStopped) };
    let witnessed = audit.witness_quorum() > 0;
    let timeout = Duration::from_millis(settings.store_timeout_milliseconds);
    let now = vault.clock().now();
    let ages = tokio::time::timeout(timeout, waiting_times(vault, witnessed, now)).await;
    let mut readiness = Readiness {
        store: Outcome::Ok,
        keys,
        audit_writer,
        checkpoint: Outcome::Unknown,
        witnessed_checkpoint: if witnessed { Outcome::Unknown } else { Outcome::NotConfigured },
        unsigned_entries: None,
        checkpoint_wait: None,
        witness_wait: None,
    };
    match ages {
        Err(_elapsed) => readiness.store = Outcome::Failed(Problem::StoreTimeout),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness: the store did not answer");
            readiness.store = Outcome::Failed(Problem::StoreUnreachable);
        }
        Ok(Ok(waiting)) => {
            readiness.unsigned_entries = Some(waiting.unsigned_entries);
            readiness.checkpoint_wait = Some(waiting.checkpoint_wait);
            readiness.checkpoint = if waiting.checkpoint_wait > Duration::from_secs(settings.max_checkpoint_age_seconds)
            {
                Outcome::Failed(Problem::CheckpointTooOld)
            } else {
                Outcome::Ok
            };
            if let Some(wait) = waiting.witness_wait {
                readiness.witness_wait = Some(wait);
                readiness.witnessed_checkpoint =
                    if wait > Duration::from_secs(settings.max_witnessed_checkpoint_age_seconds) {
                        Outcome::Failed(Problem::WitnessedCheckpointTooOld)
                    } else {
                        Outcome::Ok
                    };
            }
        }
    }
    readiness
}

struct Waiting {
    unsigned_entries: u64,
    checkpoint_wait: Duration,
    witness_wait: Option<Duration>,
}

/// At most five primary-key reads: the log's size, the newest checkpoint,
/// the time of the first entry past it, and with witnesses the newest
/// witnessed checkpoint (kept in memory after the first read) and the first
/// checkpoint past it.
async fn waiting_times(
    vault: &Vault,
    witnessed: bool,
    now: DateTime<Utc>,
) -> Result<Waiting, crate::store::StoreError> {
    let store = vault.store();
    let size = store.audit_size().await?;
    let signed = store.latest_checkpoint().await?.map_or(0, |(size, _)| size);
    let unsigned_entries = size.saturating_sub(signed);
    let checkpoint_wait = if unsigned_entries == 0 {
        Duration::ZERO
    } else {
        // The first entry no checkpoint covers is `signed` (0-based).
        match store.audit_entry_time(signed).await? {
            Some(time) => age(now, time),
            None => Duration::ZERO,
        }
    };
    let witness_wait = if witnessed {
        let trusted = vault.audit().trusted_checkpoint().await?.map_or(0, |checkpoint| checkpoint.size);
        Some(match store.checkpoint_after(trusted).await? {
            Some((_, signed_at)) => age(now, signed_at),
            None => Duration::ZERO,
        })
    } else {
        None
    };
    Ok(Waiting { unsigned_entries, checkpoint_wait, witness_wait })
}

fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

/// A throwaway DEK wrapped and unwrapped with the current KEK, and a probe
/// signed with the signing key and verified: what every upload, login and
/// checkpoint needs of the key provider.
fn keys_work(vault: &Vault) -> bool {
    let keys = vault.keys();
    let probe_citizen = CitizenId::generate(vault.rng());
    let Ok(dek) = DataKey::generate(vault.rng()) else {
        return false;
    };
    let unwrapped = keys
        .wrap_dek(&probe_citizen, &dek)
        .and_then(|(version, wrapped)| keys.unwrap_dek(&probe_citizen, version, &wrapped));
    if unwrapped.is_err() {
        return false;
    }
    const PROBE: &[u8] = b"tresor readiness probe";
    let Ok(signature) = keys.signing_key().sign(PROBE) else {
        return false;
    };
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, keys.signing_key().public_key())
        .verify(PROBE, &signature)
        .is_ok()
}
