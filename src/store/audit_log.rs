//! The audit log as the store sees it: the rows `audit` builds
//! ([`AuditBatch`]), the entries and filters the views read, the Merkle
//! tree's nodes, and the settling of grant claims inside an append (the same
//! rules for the PostgreSQL append and SQLite's blocking one).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::records::stored_count;
use super::{Result, StoreError};
use crate::ids::{CitizenId, EvidenceId, GrantId};

// --- audit log --------------------------------------------------------------

/// A perfect subtree of the audit log's Merkle tree: (level, index) is the
/// subtree over the leaves `[index * 2^level, (index + 1) * 2^level)`.
pub type TreeNode = (u8, u64);

/// Tree nodes read or written per statement (well under SQLite's limit of
/// bound values).
pub(super) const NODES_PER_QUERY: usize = 500;

/// The nodes asked for, by level: (level, indexes in the order first asked).
pub(super) fn nodes_by_level(nodes: &[TreeNode]) -> BTreeMap<u8, Vec<u64>> {
    let mut levels: BTreeMap<u8, Vec<u64>> = BTreeMap::new();
    for &(level, index) in nodes {
        levels.entry(level).or_default().push(index);
    }
    levels
}

/// The hashes found, in the order of `nodes`; Corrupt if one is missing.
pub(super) fn nodes_in_order(nodes: &[TreeNode], found: &HashMap<TreeNode, Vec<u8>>) -> Result<Vec<[u8; 32]>> {
    nodes
        .iter()
        .map(|node| match found.get(node) {
            Some(hash) => leaf_hash_array(hash),
            None => Err(StoreError::Corrupt(format!("audit tree node {node:?} missing"))),
        })
        .collect()
}

/// Which audit entries a backend reads, in which order (keyset pagination).
#[derive(Debug, Clone, Copy)]
pub(super) enum EntryOrder {
    Oldest,
    After(u64),
    Newest,
    Before(u64),
}

/// One audit entry as stored: the hashed body plus the columns the citizen
/// and DPO views filter on (copied out of the body when it was appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAuditEntry {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    /// `AuditEntry::canonical_body()`; None once pruned.
    pub body: Option<Vec<u8>>,
    /// RFC 6962 leaf hash of the body (32 bytes); kept when the body is pruned.
    pub leaf_hash: Vec<u8>,
    /// `targets.subject`: the citizen the entry is about.
    pub subject: Option<String>,
    /// `citizen`, `department`, `staff` or `system`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    /// `Action::as_str()`.
    pub action: String,
    /// `success`, `refused` or `failed`.
    pub outcome: String,
    /// `targets.department`, or the acting department when that is not set.
    pub department: Option<String>,
    pub service: Option<String>,
}

/// Which audit entries `audit_entries` returns; every set field must match.
/// Time is `[from, until)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub actor_kind: Option<ActorKind>,
    pub actor_id: Option<String>,
    /// The stored action name (`audit::Action::as_str`).
    pub action: Option<&'static str>,
    /// The stored outcome name (`audit::Outcome::as_str`).
    pub outcome: Option<&'static str>,
    pub subject: Option<String>,
    pub department: Option<String>,
    pub service: Option<String>,
}

/// The kind of an actor (`audit::Actor::kind`), without its id: the
/// `actor_kind` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ActorKind {
    Citizen,
    Department,
    Staff,
    System,
}

impl ActorKind {
    /// The stored name, as in the entry's JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::Citizen => "citizen",
            ActorKind::Department => "department",
            ActorKind::Staff => "staff",
            ActorKind::System => "system",
        }
    }
}

/// One row of `audit_entries` as `audit` builds it ([`AuditBatch::rows`]):
/// the hashed body and the columns the views filter on, copied out of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    pub sequence: i64,
    /// Microseconds since the Unix epoch.
    pub time: i64,
    /// The exact bytes hashed into the leaf.
    pub body: Vec<u8>,
    /// RFC 6962 leaf hash of `body`.
    pub leaf_hash: [u8; 32],
    pub subject: Option<String>,
    pub actor_kind: &'static str,
    pub actor_id: Option<String>,
    pub action: &'static str,
    pub outcome: &'static str,
    pub department: Option<String>,
    pub service: Option<String>,
}

/// A batch of audit appends as the store sees it: when they happen, which
/// grant use each claims, and (once the transaction knows the sequence
/// numbers, the time floor and how the claims came out) the rows to store.
/// `audit` implements it; numbering, bodies and hashes are decided there.
pub trait AuditBatch: Sync {
    /// How many entries the batch appends.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The newest time of the batch (microseconds): with the head's
    /// `last_time` it gives the head's new `last_time`.
    fn newest_time(&self) -> i64;
    /// The grant use append `index` claims, if any.
    fn claim(&self, index: usize) -> Option<&GrantClaim>;
    /// The rows of the batch, in order: sequence numbers from
    /// `first_sequence`, no time before `time_floor` (microseconds: the
    /// head's `last_time` before this batch) or before the entry ahead of it,
    /// and each claimed event as `claims` settled it. Called inside the
    /// append transaction, at most once per attempt.
    fn rows(&self, first_sequence: i64, time_floor: i64, claims: &[ClaimOutcome]) -> Result<Vec<AuditRow>>;
}

/// How one append's claim came out in the append transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The append claimed nothing.
    NoClaim,
    /// One use was claimed; `uses` is the grant's count including it.
    Claimed {
        uses: u32,
    },
    Refused(ClaimFailure),
}

/// A stored row with its settled claim and, for a successful claim, the
/// claimed evidence that still exists at the commit and belongs to the
/// claim's citizen (in the claim's order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedRow {
    pub row: AuditRow,
    pub claim: ClaimOutcome,
    pub evidence: Vec<EvidenceId>,
}

/// The first sequence number of a batch of `count` entries whose last one
/// is `new_last`, checked.
pub(super) fn first_sequence(new_last: i64, count: i64) -> Result<i64> {
    new_last
        .checked_sub(count)
        .and_then(|last| last.checked_add(1))
        .filter(|first| *first >= 0)
        .ok_or_else(|| StoreError::Corrupt("audit_head.last_sequence out of range".to_owned()))
}

/// Check that the batch's rows are numbered as asked and pair them with
/// the claims and the evidence that exists (`existing`: (evidence id,
/// owner) as read in the append transaction).
pub(super) fn appended_rows(
    batch: &dyn AuditBatch,
    first: i64,
    rows: Vec<AuditRow>,
    claims: &[ClaimOutcome],
    existing: &[(String, String)],
) -> Result<Vec<AppendedRow>> {
    if rows.len() != batch.len() || claims.len() != batch.len() {
        return Err(StoreError::Corrupt(format!("audit batch of {} built {} rows", batch.len(), rows.len())));
    }
    rows.into_iter()
        .zip(claims)
        .enumerate()
        .map(|(index, (row, claim))| {
            if i64::try_from(index).ok().and_then(|index| first.checked_add(index)) != Some(row.sequence) {
                return Err(StoreError::Corrupt(format!("audit row numbered {} out of order", row.sequence)));
            }
            let evidence = match (batch.claim(index), claim) {
                (Some(claim), ClaimOutcome::Claimed { .. }) => claim
                    .evidence
                    .iter()
                    .filter(|id| {
                        existing
                            .iter()
                            .any(|(existing, owner)| existing == id.as_str() && owner == claim.citizen_id.as_str())
                    })
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            Ok(AppendedRow { row, claim: *claim, evidence })
        })
        .collect()
}

/// Query bounds: u64 positions beyond the BIGINT range mean "everything".
pub(super) fn sequence_bound(position: u64) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}

pub(super) fn stored_size(column: &str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt(format!("{column}: negative")))
}

pub(super) fn leaf_hash_array(value: &[u8]) -> Result<[u8; 32]> {
    value.try_into().map_err(|_| StoreError::Corrupt("audit_entries.leaf_hash: not 32 bytes".to_owned()))
}

/// Check that the leaves read for `[from, min(to, size))` are all there, in order.
pub(super) fn checked_leaves(from: u64, to: u64, size: u64, rows: Vec<(i64, Vec<u8>)>) -> Result<Vec<[u8; 32]>> {
    let end = to.min(size);
    let expected = end.saturating_sub(from);
    if u64::try_from(rows.len()).ok() != Some(expected) {
        return Err(StoreError::Corrupt(format!(
            "audit_entries: {} of {expected} leaves in [{from}, {end}) present",
            rows.len()
        )));
    }
    rows.iter()
        .zip(from..)
        .map(|((sequence, hash), expected_sequence)| {
            if u64::try_from(*sequence).ok() != Some(expected_sequence) {
                return Err(StoreError::Corrupt(format!("audit_entries: leaf {expected_sequence} missing")));
            }
            leaf_hash_array(hash)
        })
        .collect()
}

/// The equality conditions of a filter as (column, value); the column names
/// are constants, the values are bound.
pub(super) fn audit_text_conditions(filter: &AuditFilter) -> Vec<(&'static str, String)> {
    [
        ("actor_kind", filter.actor_kind.map(|kind| kind.as_str().to_owned())),
        ("actor_id", filter.actor_id.clone()),
        ("action", filter.action.map(str::to_owned)),
        ("outcome", filter.outcome.map(str::to_owned)),
        ("subject", filter.subject.clone()),
        ("department", filter.department.clone()),
        ("service", filter.service.clone()),
    ]
    .into_iter()
    .filter_map(|(column, value)| Some((column, value?)))
    .collect()
}

// --- grant claims --------------------------------------------------------------

/// One use of a grant to claim together with an audit append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantClaim {
    pub grant_id: GrantId,
    /// The limit to enforce (the smaller of the grant's and the policy's).
    pub max_uses: u32,
    /// Whose evidence, and which, to read if the claim succeeds.
    pub citizen_id: CitizenId,
    pub evidence: Vec<EvidenceId>,
}

/// The claims of one batch, settled in order against the grants' state read
/// in the append transaction (`current`: id -> (uses, revoked)). Returns how
/// each append's claim came out and the new use counts per grant.
pub(super) fn settle_claims(
    batch: &dyn AuditBatch,
    mut current: HashMap<String, (i64, bool)>,
) -> Result<SettledClaims> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed: Vec<String> = Vec::new();
    for index in 0..batch.len() {
        let outcome = match batch.claim(index) {
            None => ClaimOutcome::NoClaim,
            Some(claim) => match current.get_mut(claim.grant_id.as_str()) {
                Some((uses, false)) if *uses < i64::from(claim.max_uses) => {
                    *uses += 1;
                    if !changed.iter().any(|id| id == claim.grant_id.as_str()) {
                        changed.push(claim.grant_id.to_string());
                    }
                    ClaimOutcome::Claimed { uses: stored_count("grants.uses", *uses)? }
                }
                Some((_, false)) => ClaimOutcome::Refused(ClaimFailure::Exhausted),
                _ => ClaimOutcome::Refused(ClaimFailure::Revoked),
            },
        };
        outcomes.push(outcome);
    }
    let updates = changed
        .into_iter()
        .map(|id| {
            let uses = current.get(&id).map(|(uses, _)| *uses).unwrap_or_default();
            (id, uses)
        })
        .collect();
    Ok(SettledClaims { outcomes, updates })
}

pub(super) struct SettledClaims {
    pub(super) outcomes: Vec<ClaimOutcome>,
    /// (grant id, new use count)
    pub(super) updates: Vec<(String, i64)>,
}

/// The claims of a batch, in order.
pub(super) fn batch_claims(batch: &dyn AuditBatch) -> impl Iterator<Item = &GrantClaim> {
    (0..batch.len()).filter_map(|index| batch.claim(index))
}

/// The distinct grant ids claimed in a batch.
pub(super) fn claimed_grant_ids(batch: &dyn AuditBatch) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for claim in batch_claims(batch) {
        if !ids.iter().any(|id| id == claim.grant_id.as_str()) {
            ids.push(claim.grant_id.to_string());
        }
    }
    ids
}

/// The distinct evidence ids named by the claims of a batch.
pub(super) fn claimed_evidence_ids(batch: &dyn AuditBatch) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for id in batch_claims(batch).flat_map(|claim| &claim.evidence) {
        if !ids.iter().any(|known| known == id.as_str()) {
            ids.push(id.to_string());
        }
    }
    ids
}

/// `Store::append_audit` as a blocking call (see `Store::blocking_audit`).
pub trait BlockingAudit: Send + Sync {
    fn append_audit(&self, batch: &dyn AuditBatch) -> Result<Vec<AppendedRow>>;
}

/// Why a claim failed, read in the claiming transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimFailure {
    /// Revoked, or gone (the citizen erased their account).
    Revoked,
    Exhausted,
}
