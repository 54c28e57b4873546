//! The audit log as the application uses it: durable appends through group
//! commit (`log`), signed checkpoints every N entries or T seconds (and at
//! shutdown), and inclusion and consistency proofs.
//!
//! The tree's interior nodes are stored (`Store::audit_nodes`): before a
//! checkpoint is signed, the nodes its new leaves complete are written, so
//! a proof reads O(log n) nodes and never the leaves, and start-up reads
//! only the O(log n) roots of the tree's perfect subtrees. A log from before
//! the nodes existed gets them once, at its first checkpoint (logged).
//!
//! Architecture invariant: callers record *before* the effect or the
//! release; if `record` fails, the caller fails closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

use super::AppendedAudit;
use super::checkpoint::{Checkpoint, verifier_key};
use super::cosignature::{AddCheckpoint, verify_cosignature};
use super::log::{AuditError, AuditLog};
use super::merkle::{
    Hash, ProofError, TreeBuilder, consistency_ranges, hash_of_blocks, inclusion_ranges, perfect_blocks,
};
use super::witnessing::{Answer, Member, WitnessProblem, WitnessStatus, Witnesses};
use super::{AuditEntry, AuditEvent};
use crate::clock::Clock;
use crate::crypto::KeyProvider;
use crate::store::{GrantClaim, Store, StoreError, TreeNode};

/// Transactions of the group commit hold at most this many entries.
const MAX_BATCH: usize = 1024;
/// Leaves read (and their nodes written) per step when the stored tree
/// catches up with the log.
const TREE_STEP: u64 = 65_536;
/// Stored tree nodes at this level and above are kept in memory once read
/// or written: they never change, there is one per 256 leaves, and every
/// proof needs some of them.
const CACHED_FROM_LEVEL: u8 = 8;
/// At most this many cached nodes (~64 MiB; a log of 250 million entries).
const CACHED_NODES_MAX: usize = 1 << 20;
/// Full tiles kept in memory once served (8 KiB each: 32 MiB). Tiles never
/// change; beyond this, an arbitrary cached one makes room.
const CACHED_TILES_MAX: usize = 4096;
/// Checkpoints signed because a proof was asked for: at most one per this.
pub const ON_DEMAND_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Audit {
    log: AuditLog,
    store: Arc<dyn Store>,
    keys: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
    origin: String,
    checkpoint_every_entries: u64,
    /// The frontier of the stored tree (None until first needed); the lock
    /// also makes one checkpoint at a time per process.
    tree: Mutex<Option<TreeBuilder>>,
    last_checkpoint_size: AtomicU64,
    /// The newest checkpoint this process signed or read (for release bodies,
    /// which name one without a database round trip).
    newest_known: std::sync::RwLock<Option<SignedCheckpoint>>,
    /// When the last checkpoint asked for by a proof was signed.
    last_on_demand: std::sync::Mutex<Option<std::time::Instant>>,
    /// Upper tree nodes (see `CACHED_FROM_LEVEL`).
    upper_nodes: std::sync::RwLock<std::collections::HashMap<TreeNode, Hash>>,
    /// The witnesses every new checkpoint goes to.
    witnesses: Witnesses,
    /// The newest checkpoint with a quorum of valid cosignatures, with them
    /// (None until known); read from the store once, then kept current by
    /// the witness rounds.
    witnessed: std::sync::RwLock<Option<SignedCheckpoint>>,
    /// Whether the witnesses' cosigned sizes and `witnessed` were read from
    /// the store yet.
    witnessing_loaded: std::sync::atomic::AtomicBool,
    /// How many leaves the stored nodes cover, as far as this process knows
    /// (it only grows; the store is asked only when a size beyond it is needed).
    stored_tree_size: AtomicU64,
    /// The size of the newest checkpoint this process signed or read.
    newest_signed_size: AtomicU64,
    /// Full tiles served (immutable), at most `CACHED_TILES_MAX`.
    full_tiles: std::sync::RwLock<std::collections::HashMap<(u8, u64), bytes::Bytes>>,
}

/// A checkpoint that covers an entry, or when to ask again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Covering {
    /// The newest checkpoint; it covers the entry.
    Covered(SignedCheckpoint),
    /// No checkpoint covers the entry yet (the newest is given, if any);
    /// one will be signed on request after `retry_after`.
    Pending { newest: Option<SignedCheckpoint>, retry_after: std::time::Duration },
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
        Self::start_witnessed(store, keys, clock, origin, checkpoint_every_entries, Witnesses::none())
    }

    /// [`Audit::start`] with witnesses: every new checkpoint is sent to them,
    /// and with a quorum above 0, proofs and release references use only
    /// checkpoints that at least that many of them cosigned.
    pub fn start_witnessed(
        store: Arc<dyn Store>,
        keys: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        origin: String,
        checkpoint_every_entries: u64,
        witnesses: Witnesses,
    ) -> Arc<Self> {
        Arc::new(Self {
            log: AuditLog::start(store.clone(), clock.clone(), MAX_BATCH),
            store,
            keys,
            clock,
            origin,
            checkpoint_every_entries: checkpoint_every_entries.max(1),
            tree: Mutex::new(None),
            last_checkpoint_size: AtomicU64::new(0),
            newest_known: std::sync::RwLock::new(None),
            last_on_demand: std::sync::Mutex::new(None),
            upper_nodes: std::sync::RwLock::new(std::collections::HashMap::new()),
            witnesses,
            witnessed: std::sync::RwLock::new(None),
            witnessing_loaded: std::sync::atomic::AtomicBool::new(false),
            stored_tree_size: AtomicU64::new(0),
            newest_signed_size: AtomicU64::new(0),
            full_tiles: std::sync::RwLock::new(std::collections::HashMap::new()),
        })
    }

    /// (transactions, entries) committed by this process's group commit so
    /// far; their ratio is the mean batch size.
    pub fn commit_counts(&self) -> (u64, u64) {
        (self.log.batches_committed(), self.log.entries_committed())
    }

    /// Whether the group-commit writer still takes appends (see
    /// `AuditLog::writer_alive`); no I/O.
    pub fn writer_alive(&self) -> bool {
        self.log.writer_alive()
    }

    /// Appends waiting for the writer right now.
    pub fn queued_appends(&self) -> usize {
        self.log.queued()
    }

    /// Tell `observer` of every committed batch (metrics); once.
    pub fn observe_commits(&self, observer: Arc<dyn super::log::CommitObserver>) -> bool {
        self.log.observe_commits(observer)
    }

    /// Which writer commits the log's batches (see `log::Writer`).
    pub fn writer(&self) -> super::log::Writer {
        self.log.writer()
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

    /// Sign a checkpoint over the whole log if it grew since the last one,
    /// then send the newest checkpoint to the witnesses that have not
    /// cosigned it (see [`Audit::witness_round`]). Returns the new
    /// checkpoint (without cosignatures), or None when there was nothing new.
    pub async fn checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let signed = self.sign_checkpoint().await?;
        self.witness_round().await?;
        Ok(signed)
    }

    async fn sign_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let mut tree = self.tree.lock().await;
        let size = self.store.audit_size().await?;
        let last = self.last_checkpoint_size.load(Ordering::SeqCst);
        if size == 0 || size <= last {
            return Ok(None);
        }
        if let Some((stored, note)) = self.store.latest_checkpoint().await?
            && stored >= size
        {
            self.last_checkpoint_size.store(stored, Ordering::SeqCst);
            self.remember_signed(SignedCheckpoint { size: stored, note });
            return Ok(None);
        }
        let root = self.grow_tree(&mut tree, size).await?.root();
        // A signing key in a token that is away is an outage like the
        // database's: nothing is stored, the caller answers 503, and the next
        // checkpoint tries again.
        let note = Checkpoint { origin: self.origin.clone(), size, root }
            .sign(&self.origin, self.keys.signing_key())
            .map_err(|error| StoreError::Unavailable(format!("signing the checkpoint: {error}")))?;
        match self.store.insert_checkpoint(size, &root, &note, self.clock.now()).await {
            // Another vault process signed the same size first: same root.
            Ok(()) | Err(StoreError::Conflict(_)) => {}
            Err(error) => return Err(error),
        }
        self.last_checkpoint_size.store(size, Ordering::SeqCst);
        let signed = SignedCheckpoint { size, note };
        self.remember_signed(signed.clone());
        Ok(Some(signed))
    }

    /// The stored tree grown to exactly `size` leaves (its nodes written):
    /// from the frontier kept in memory when it still matches the store,
    /// else from the store's frontier (O(log n) nodes). Never past `size`.
    async fn grow_tree<'a>(&self, tree: &'a mut Option<TreeBuilder>, size: u64) -> Result<&'a TreeBuilder, StoreError> {
        loop {
            let stored_size = self.store.audit_tree_size().await?;
            if stored_size > size {
                // Another process grew it further; the caller wants `size`.
                let blocks = perfect_blocks(0, size);
                let hashes = self.store.audit_nodes(&blocks).await?;
                let builder = TreeBuilder::from_frontier(size, hashes)
                    .ok_or_else(|| StoreError::Corrupt("audit tree frontier".to_owned()))?;
                return Ok(tree.insert(builder));
            }
            let builder = match tree.take() {
                Some(builder) if builder.size() == stored_size => builder,
                _ => {
                    let hashes = self.store.audit_nodes(&perfect_blocks(0, stored_size)).await?;
                    TreeBuilder::from_frontier(stored_size, hashes)
                        .ok_or_else(|| StoreError::Corrupt("audit tree frontier".to_owned()))?
                }
            };
            if size - stored_size > TREE_STEP {
                tracing::info!(
                    from = stored_size,
                    to = size,
                    "writing the audit tree's nodes (once, for an older log)"
                );
            }
            match self.write_nodes(builder, size).await {
                Ok(builder) => {
                    self.stored_tree_size.fetch_max(builder.size(), Ordering::SeqCst);
                    return Ok(tree.insert(builder));
                }
                // Another process wrote the same nodes first: start over from its size.
                Err(StoreError::Conflict(_)) => continue,
                Err(error) => return Err(error),
            }
        }
    }

    /// Push the leaves from the builder's size to `size`, writing the nodes
    /// they complete a step at a time.
    async fn write_nodes(&self, mut builder: TreeBuilder, size: u64) -> Result<TreeBuilder, StoreError> {
        while builder.size() < size {
            let from = builder.size();
            let to = from.saturating_add(TREE_STEP).min(size);
            let mut nodes: Vec<(TreeNode, Hash)> = Vec::new();
            for leaf in self.store.audit_leaf_hashes(from, to).await? {
                builder.push_noting(leaf, &mut |node, hash| nodes.push((node, hash)));
            }
            if builder.size() != to {
                return Err(StoreError::Corrupt(format!("audit leaves [{from}, {to}) incomplete")));
            }
            self.store.extend_audit_tree(from, to, &nodes).await?;
            self.cache_upper(nodes.iter().copied());
            if size - from > TREE_STEP {
                tracing::info!(done = to, of = size, "audit tree nodes written");
            }
        }
        Ok(builder)
    }

    /// The tree hashes of `ranges` of leaves (as proofs are made of), from
    /// the stored nodes, with one read for all of them. The stored tree must
    /// cover them (it covers every signed checkpoint).
    async fn range_hashes(&self, ranges: &[(u64, u64)]) -> Result<Vec<Hash>, StoreError> {
        let blocks: Vec<Vec<TreeNode>> = ranges.iter().map(|&(start, end)| perfect_blocks(start, end)).collect();
        let mut wanted: Vec<TreeNode> = blocks.iter().flatten().copied().collect();
        wanted.sort_unstable();
        wanted.dedup();
        let found = self.fetch_nodes(wanted).await?;
        blocks.iter().map(|blocks| Ok(hash_of_blocks(&node_hashes(&found, blocks)?))).collect()
    }

    /// The hashes of `wanted` nodes: the upper ones from memory where known,
    /// the rest in one store read.
    async fn fetch_nodes(
        &self,
        mut wanted: Vec<TreeNode>,
    ) -> Result<std::collections::HashMap<TreeNode, Hash>, StoreError> {
        let mut found = std::collections::HashMap::new();
        {
            let cached = self.upper_nodes.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            wanted.retain(|node| match cached.get(node) {
                Some(hash) => {
                    found.insert(*node, *hash);
                    false
                }
                None => true,
            });
        }
        let hashes = self.store.audit_nodes(&wanted).await?;
        let read: Vec<(TreeNode, Hash)> = wanted.into_iter().zip(hashes).collect();
        self.cache_upper(read.iter().copied());
        found.extend(read);
        Ok(found)
    }

    /// The bytes of a C2SP tile of a tree of `size` leaves (see
    /// `audit::tiles`): its nodes' hashes in order. The caller checked that
    /// the tree has the tile. Full tiles never change and are kept in memory
    /// once read (up to `CACHED_TILES_MAX`).
    pub async fn tile(&self, tile: &super::tiles::Tile, size: u64) -> Result<bytes::Bytes, StoreError> {
        let full = tile.width == super::tiles::TILE_WIDTH;
        if full
            && let Some(cached) =
                self.full_tiles.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(&(tile.level, tile.index))
        {
            return Ok(cached.clone());
        }
        self.cover(size).await?;
        let nodes = tile.nodes();
        let found = self.fetch_nodes(nodes.clone()).await?;
        let bytes = bytes::Bytes::from(node_hashes(&found, &nodes)?.concat());
        if full {
            let mut cached = self.full_tiles.write().unwrap_or_else(|poisoned| poisoned.into_inner());
            if cached.len() >= CACHED_TILES_MAX
                && let Some(evicted) = cached.keys().next().copied()
            {
                cached.remove(&evicted);
            }
            cached.insert((tile.level, tile.index), bytes.clone());
        }
        Ok(bytes)
    }

    /// The size of the newest checkpoint this process knows of without
    /// asking the store (0 before it signed or read one).
    pub fn newest_signed_size(&self) -> u64 {
        self.newest_signed_size.load(Ordering::SeqCst)
    }

    /// Remember the upper ones of these nodes (see `CACHED_FROM_LEVEL`).
    fn cache_upper(&self, nodes: impl Iterator<Item = (TreeNode, Hash)>) {
        let mut upper = nodes.filter(|((level, _), _)| *level >= CACHED_FROM_LEVEL).peekable();
        if upper.peek().is_none() {
            return;
        }
        let mut cached = self.upper_nodes.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (node, hash) in upper {
            if cached.len() >= CACHED_NODES_MAX {
                break;
            }
            cached.insert(node, hash);
        }
    }

    /// Make sure the stored tree covers `size` leaves (it does for every
    /// checkpoint signed by this version; an older checkpoint may lie
    /// beyond it once).
    async fn cover(&self, size: u64) -> Result<(), StoreError> {
        if self.stored_tree_size.load(Ordering::SeqCst) >= size {
            return Ok(());
        }
        let stored = self.store.audit_tree_size().await?;
        self.stored_tree_size.fetch_max(stored, Ordering::SeqCst);
        if stored < size {
            let mut tree = self.tree.lock().await;
            if self.store.audit_tree_size().await? < size {
                self.grow_tree(&mut tree, size).await?;
            }
        }
        Ok(())
    }

    /// A checkpoint that covers the entry `sequence`, signed now if none does
    /// and none was signed on demand in the last [`ON_DEMAND_INTERVAL`]
    /// (so asking for proofs cannot make the vault sign more often than
    /// that); otherwise when to ask again.
    pub async fn checkpoint_covering(self: &Arc<Self>, sequence: u64) -> Result<Covering, StoreError> {
        let newest = self.trusted_checkpoint().await?;
        if let Some(newest) = newest.as_ref().filter(|newest| newest.size > sequence) {
            return Ok(Covering::Covered(newest.clone()));
        }
        let wait = {
            let mut last = self.last_on_demand.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let now = std::time::Instant::now();
            match *last {
                Some(at) if now.duration_since(at) < ON_DEMAND_INTERVAL => {
                    Some(ON_DEMAND_INTERVAL - now.duration_since(at))
                }
                _ => {
                    *last = Some(now);
                    None
                }
            }
        };
        if let Some(retry_after) = wait {
            return Ok(Covering::Pending { newest, retry_after });
        }
        if self.witnesses.quorum() == 0 {
            // Proofs do not wait for witnesses: they hear of it in the background.
            self.sign_checkpoint().await?;
            let audit = self.clone();
            tokio::spawn(async move {
                if let Err(error) = audit.witness_round().await {
                    tracing::warn!(%error, "witnessing a checkpoint failed; retried at the next checkpoint");
                }
            });
        } else {
            self.checkpoint().await?;
        }
        match self.trusted_checkpoint().await? {
            Some(latest) if latest.size > sequence => Ok(Covering::Covered(latest)),
            latest => Ok(Covering::Pending { newest: latest, retry_after: ON_DEMAND_INTERVAL }),
        }
    }

    /// The newest signed checkpoint in the store, with the valid
    /// cosignatures of the configured witnesses it has.
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let Some((size, note)) = self.store.latest_checkpoint().await? else {
            return Ok(None);
        };
        let (latest, _) = self.with_cosignatures(size, note).await?;
        self.remember_signed(latest.clone());
        Ok(Some(latest))
    }

    /// The newest checkpoint proofs are given against: the newest signed one
    /// without witnesses (quorum 0), else the newest one with a quorum of
    /// cosignatures (which it carries).
    pub async fn trusted_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        if self.witnesses.quorum() == 0 {
            return self.latest_checkpoint().await;
        }
        if !self.witnessing_loaded.load(Ordering::SeqCst) {
            let _round = self.witnesses.round.lock().await;
            self.load_witnessing().await?;
        }
        Ok(self.witnessed.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone())
    }

    /// The newest trusted checkpoint known to this process without asking
    /// the store (it may be a little older than the store's newest); reads
    /// the store only the first time.
    pub async fn recent_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError> {
        let known = self.newest_known.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        match known {
            Some(known) => Ok(Some(known)),
            None => self.trusted_checkpoint().await,
        }
    }

    /// A checkpoint signed (or read) here becomes the newest known one when
    /// no witnesses need to cosign it first.
    fn remember_signed(&self, checkpoint: SignedCheckpoint) {
        self.newest_signed_size.fetch_max(checkpoint.size, Ordering::SeqCst);
        if self.witnesses.quorum() == 0 {
            self.remember(checkpoint);
        }
    }

    fn remember(&self, checkpoint: SignedCheckpoint) {
        let mut known = self.newest_known.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if known.as_ref().is_none_or(|known| known.size < checkpoint.size) {
            *known = Some(checkpoint);
        }
    }

    /// The witnesses: who they are, what they cosigned, what went wrong.
    pub fn witness_status(&self) -> Vec<WitnessStatus> {
        self.witnesses.status()
    }

    /// How many witnesses must cosign a checkpoint before proofs use it.
    pub fn witness_quorum(&self) -> usize {
        self.witnesses.quorum()
    }

    /// Send the newest signed checkpoint, with a consistency proof from what
    /// each has cosigned, to every witness that has not cosigned it yet, and
    /// keep the verified cosignatures. Refusals are recorded per witness
    /// (rollbacks and forks logged as errors), never returned: the log keeps
    /// working while a witness is down. Err only when the store fails.
    pub async fn witness_round(&self) -> Result<(), StoreError> {
        if self.witnesses.is_empty() {
            return Ok(());
        }
        let _round = self.witnesses.round.lock().await;
        self.load_witnessing().await?;
        let Some((size, note)) = self.store.latest_checkpoint().await? else {
            return Ok(());
        };
        let behind: Vec<&Member> =
            self.witnesses.members().iter().filter(|member| member.cosigned_size() != Some(size)).collect();
        if behind.is_empty() {
            return Ok(());
        }
        let results =
            futures_util::future::join_all(behind.into_iter().map(|member| self.witness_one(member, size, &note)))
                .await;
        results.into_iter().collect::<Result<(), StoreError>>()?;
        self.refresh_witnessed().await
    }

    /// One witness, one checkpoint: `add-checkpoint` from the size we think
    /// it has; on 409 once more from the size it says it has.
    async fn witness_one(&self, member: &Member, size: u64, note: &str) -> Result<(), StoreError> {
        let mut old = member.cosigned_size().unwrap_or(0);
        for _attempt in 0..2 {
            if old > size {
                member.note_problem(WitnessProblem::Rollback { witness_size: old, log_size: size });
                return Ok(());
            }
            let proof = match old {
                0 => Vec::new(),
                old => match self.consistency_proof(old, size).await? {
                    Ok(proof) => proof,
                    Err(error) => {
                        return Err(StoreError::Corrupt(format!("consistency proof {old} -> {size}: {error}")));
                    }
                },
            };
            let request = AddCheckpoint { old_size: old, proof, checkpoint: note.to_owned() };
            match self.witnesses.call(member, &request).await {
                Answer::Cosigned(lines) => {
                    let now = self.clock.now();
                    self.store.insert_cosignature(size, &member.verifier_key, &lines, now).await?;
                    member.note_cosigned(size, Some(now));
                    tracing::debug!(witness = %member.key.name, size, "checkpoint cosigned");
                    return Ok(());
                }
                Answer::Conflict(witness_size) => {
                    member.note_witness_size(witness_size);
                    old = witness_size;
                }
                Answer::Inconsistent => {
                    member.note_problem(WitnessProblem::Fork { old_size: old, size });
                    return Ok(());
                }
                Answer::Problem(problem) => {
                    member.note_problem(problem);
                    return Ok(());
                }
            }
        }
        // Two conflicts in a row: another node is submitting at the same time.
        tracing::info!(witness = %member.key.name, size, "witness moved on meanwhile; next round retries");
        Ok(())
    }

    /// Once per process: what each witness cosigned last, from the store.
    /// The caller holds the round lock.
    async fn load_witnessing(&self) -> Result<(), StoreError> {
        if self.witnessing_loaded.load(Ordering::SeqCst) {
            return Ok(());
        }
        for (size, witness, _) in self.store.recent_cosignatures(self.recent_cosignature_rows()).await? {
            if let Some(member) = self.witnesses.members().iter().find(|member| member.verifier_key == witness) {
                member.note_cosigned(size, None);
            }
        }
        self.refresh_witnessed().await?;
        self.witnessing_loaded.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Rows of recent cosignatures read to find the newest witnessed
    /// checkpoint: enough for the last 64 checkpoints of every witness.
    fn recent_cosignature_rows(&self) -> u32 {
        u32::try_from(self.witnesses.members().len().saturating_mul(64)).unwrap_or(u32::MAX)
    }

    /// Find the newest checkpoint with a quorum of valid cosignatures among
    /// the recent ones and make it the trusted one.
    async fn refresh_witnessed(&self) -> Result<(), StoreError> {
        let quorum = self.witnesses.quorum();
        if quorum == 0 {
            return Ok(());
        }
        let rows = self.store.recent_cosignatures(self.recent_cosignature_rows()).await?;
        let mut sizes: Vec<u64> = rows.iter().map(|(size, _, _)| *size).collect();
        sizes.dedup();
        for size in sizes {
            let configured = rows
                .iter()
                .filter(|(row_size, witness, _)| {
                    *row_size == size && self.witnesses.members().iter().any(|member| &member.verifier_key == witness)
                })
                .count();
            if configured < quorum {
                continue;
            }
            let Some(note) = self.store.checkpoint_note(size).await? else {
                continue;
            };
            let (checkpoint, valid) = self.with_cosignatures(size, note).await?;
            if valid >= quorum {
                let mut witnessed = self.witnessed.write().unwrap_or_else(|poisoned| poisoned.into_inner());
                if witnessed.as_ref().is_none_or(|known| known.size <= size) {
                    *witnessed = Some(checkpoint.clone());
                }
                drop(witnessed);
                self.remember(checkpoint);
                return Ok(());
            }
        }
        Ok(())
    }

    /// The checkpoint note with the configured witnesses' stored
    /// cosignature lines appended (in configuration order), each verified
    /// again; and how many verified.
    async fn with_cosignatures(&self, size: u64, note: String) -> Result<(SignedCheckpoint, usize), StoreError> {
        if self.witnesses.is_empty() {
            return Ok((SignedCheckpoint { size, note }, 0));
        }
        let stored = self.store.cosignatures(size).await?;
        let mut full = note.clone();
        let mut valid = 0;
        for member in self.witnesses.members() {
            let Some((_, lines)) = stored.iter().find(|(witness, _)| *witness == member.verifier_key) else {
                continue;
            };
            if verify_cosignature(&format!("{note}{lines}"), &member.key).is_ok() {
                full.push_str(lines);
                valid += 1;
            } else {
                tracing::error!(witness = %member.key.name, size, "a stored cosignature does not verify");
            }
        }
        Ok((SignedCheckpoint { size, note: full }, valid))
    }

    /// Inclusion proofs for `sequences` in the tree of `size` leaves
    /// (sequences at or beyond `size` get None: not yet checkpointed). Reads
    /// O(log n) stored nodes per proof, in one query for all of them.
    pub async fn inclusion_proofs(&self, size: u64, sequences: &[u64]) -> Result<Vec<Option<Vec<Hash>>>, StoreError> {
        self.cover(size).await?;
        let plans: Vec<Option<Vec<(u64, u64)>>> =
            sequences.iter().map(|&sequence| inclusion_ranges(sequence, size).ok()).collect();
        let all: Vec<(u64, u64)> = plans.iter().flatten().flatten().copied().collect();
        let mut hashes = self.range_hashes(&all).await?.into_iter();
        Ok(plans.into_iter().map(|plan| plan.map(|ranges| hashes.by_ref().take(ranges.len()).collect())).collect())
    }

    /// The consistency proof from the tree of `old_size` leaves to the tree
    /// of `new_size` leaves (`new_size` at most the stored tree's size or a
    /// checkpoint's). O(log n) stored nodes.
    pub async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Result<Vec<Hash>, ProofError>, StoreError> {
        let ranges = match consistency_ranges(old_size, new_size) {
            Ok(ranges) => ranges,
            Err(error) => return Ok(Err(error)),
        };
        self.cover(new_size).await?;
        Ok(Ok(self.range_hashes(&ranges).await?))
    }

    /// Sign a final checkpoint and stop the writer (everything queued is committed first).
    pub async fn shutdown(&self) {
        self.log.clone().shutdown().await;
        if let Err(error) = self.checkpoint().await {
            tracing::warn!(%error, "final audit checkpoint failed");
        }
    }
}

/// The hashes of `nodes` from what was fetched; a missing one is `Corrupt`
/// (never skipped: a proof from fewer blocks would be a wrong proof).
fn node_hashes(found: &std::collections::HashMap<TreeNode, Hash>, nodes: &[TreeNode]) -> Result<Vec<Hash>, StoreError> {
    nodes
        .iter()
        .map(|node| found.get(node).copied().ok_or_else(|| StoreError::Corrupt(format!("tree node {node:?} missing"))))
        .collect()
}
