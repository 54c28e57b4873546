//! The audit log as the application uses it: durable appends through group
//! commit (`log`), signed checkpoints every N entries or T seconds (and at
//! shutdown), and inclusion proofs for citizens.
//!
//! Architecture invariant: callers record *before* the effect or the
//! release; if `record` fails, the caller fails closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::checkpoint::{Checkpoint, verifier_key};
use super::log::{AuditError, AuditLog};
use super::merkle::{Hash, TreeBuilder, inclusion_proof};
use super::{AuditEntry, AuditEvent};
use crate::clock::Clock;
use crate::crypto::KeyProvider;
use crate::store::{AppendedAudit, GrantClaim, Store, StoreError};

/// Transactions of the group commit hold at most this many entries.
const MAX_BATCH: usize = 1024;

pub struct Audit {
    log: AuditLog,
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
    origin: String,
    checkpoint_every_entries: u64,
    /// The tree over all leaves seen so far (grown from the store).
    tree: Mutex<TreeBuilder>,
    last_checkpoint_size: AtomicU64,
    /// The newest checkpoint this process signed or read (for release bodies,
    /// which name one without a database round trip).
    newest_known: std::sync::RwLock<Option<SignedCheckpoint>>,
}

/// A checkpoint as served: the signed note and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub size: u64,
    pub note: String,
}

impl Audit {
    /// Start the group-commit writer. `origin` names the log in checkpoints
    /// (and is the signing key's name in the note).
    pub fn start(
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        origin: String,
        checkpoint_every_entries: u64,
    ) -> Arc<Self> {
        Arc::new(Self {
            log: AuditLog::start(store.clone(), clock.clone(), MAX_BATCH),
            store,
            keys,
            clock,
            origin,
            checkpoint_every_entries: checkpoint_every_entries.max(1),
            tree: Mutex::new(TreeBuilder::new()),
            last_checkpoint_size: AtomicU64::new(0),
            newest_known: std::sync::RwLock::new(None),
        })
    }

    /// (transactions, entries) committed by this process's group commit so
    /// far; their ratio is the mean batch size.
    pub fn commit_counts(&self) -> (u64, u64) {
        (self.log.batches_committed(), self.log.entries_committed())
    }

    /// Wall time the committed audit transactions took so far (for benchmarks).
    pub fn commit_time(&self) -> std::time::Duration {
        self.log.commit_time()
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The verifier key in the signed-note format (`name+id+key`).
    pub fn verifier_key(&self) -> String {
        verifier_key(&self.origin, &self.keys.signing_key().public_key())
    }

    /// Append durably. Every `checkpoint_every_entries` entries a checkpoint
    /// is signed in the background.
    pub async fn record(self: &Arc<Self>, event: AuditEvent) -> Result<AuditEntry, AuditError> {
        Ok(self.record_claiming(event, None).await?.entry)
    }

    /// `record` that also claims one use of a grant in the same transaction;
    /// the returned entry is a refusal if the claim failed.
    pub async fn record_claiming(
        self: &Arc<Self>,
        event: AuditEvent,
        claim: Option<GrantClaim>,
    ) -> Result<AppendedAudit, AuditError> {
        let appended = self.log.append_claiming(event, claim).await?;
        let entry = &appended.entry;
        if (entry.sequence + 1).is_multiple_of(self.checkpoint_every_entries) {
            let audit = self.clone();
            tokio::spawn(async move {
                if let Err(error) = audit.checkpoint().await {
                    tracing::warn!(%error, "signing an audit checkpoint failed; retried on the next trigger");
                }
            });
        }
        Ok(appended)
    }

    /// Sign a checkpoint over the whole log if it grew since the last one.
    /// Returns the new checkpoint, or None when there was nothing new.
    pub async fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let mut tree = self.tree.lock().await;
        let size = self.store.audit_size().await?;
        if size > tree.size() {
            for leaf in self.store.audit_leaf_hashes(tree.size(), size).await? {
                tree.push(leaf);
            }
        }
        let last = self.last_checkpoint_size.load(Ordering::SeqCst);
        if size == 0 || size <= last {
            return Ok(None);
        }
        if let Some((stored, note)) = self.store.latest_checkpoint().await?
            && stored >= size
        {
            self.last_checkpoint_size.store(stored, Ordering::SeqCst);
            self.remember(SignedCheckpoint { size: stored, note });
            return Ok(None);
        }
        let root = tree.root();
        let note = Checkpoint { origin: self.origin.clone(), size, root }.sign(&self.origin, self.keys.signing_key());
        match self.store.insert_checkpoint(size, &root, &note, self.clock.now()).await {
            // Another vault process signed the same size first: same root.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
        self.last_checkpoint_size.store(size, Ordering::SeqCst);
        let signed = SignedCheckpoint { size, note };
        self.remember(signed.clone());
        Ok(Some(signed))
    }

    /// The newest signed checkpoint in the store.
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let latest = self.store.latest_checkpoint().await?.map(|(size, note)| SignedCheckpoint { size, note });
        if let Some(latest) = &latest {
            self.remember(latest.clone());
        }
        Ok(latest)
    }

    /// The newest checkpoint known to this process without asking the store
    /// (it may be a little older than the store's newest); reads the store
    /// only the first time.
    pub async fn recent_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let known = self.newest_known.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        match known {
            Some(known) => Ok(Some(known)),
            None => self.latest_checkpoint().await,
        }
    }

    fn remember(&self, checkpoint: SignedCheckpoint) {
        let mut known = self.newest_known.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.as_ref().is_none_or(|known| known.size < checkpoint.size) {
            *known = Some(checkpoint);
        }
    }

    /// Inclusion proofs for `sequences` in the tree of `size` leaves
    /// (sequences at or beyond `size` get None: not yet checkpointed).
    pub async fn inclusion_proofs(&self, size: u64, sequences: &[u64]) -> Result<Vec<Option<Vec<Hash>>>, StoreError> {
        let leaves = self.store.audit_leaf_hashes(0, size).await?;
        Ok(sequences.iter().map(|&sequence| inclusion_proof(&leaves, sequence).ok()).collect())
    }

    /// Sign a final checkpoint and stop the writer (everything queued is committed first).
    pub async fn shutdown(&self) {
        self.log.clone().shutdown().await;
        if let Err(error) = self.checkpoint().await {
            tracing::warn!(%error, "final audit checkpoint failed");
        }
    }
}
