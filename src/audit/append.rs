//! How events become stored entries. The store reserves the sequence
//! numbers and settles grant claims inside its append transaction
//! (`Store::append_audit`); everything an entry says is decided here: the
//! claim's outcome applied to the event, the time (never before the entry
//! ahead of it), the exact bytes hashed into the leaf, the leaf hash and the
//! index columns copied out of the body.
//!
//! Architecture invariant: `store` does not import `audit`. It persists the
//! rows this module builds ([`AuditBatch`]) and reports typed outcomes
//! ([`ClaimOutcome`]); the entries returned to callers are rebuilt from
//! those outcomes by the same function that built the stored bodies.

use chrono::{DateTime, Utc};

use super::{Actor, AuditEntry, AuditEvent, Outcome, merkle};
use crate::ids::EvidenceId;
use crate::store::{
    ActorKind, AppendedRow, AuditBatch, AuditRow, BlockingAudit, ClaimFailure, ClaimOutcome, GrantClaim, Store,
    StoreError, StoredAuditEntry,
};

/// An event to append, with its time and the grant use it claims, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAppend {
    pub time: DateTime<Utc>,
    pub event: AuditEvent,
    pub claim: Option<GrantClaim>,
}

/// A stored entry and, for a successful claim, the sealed evidence it names
/// (in the claim's order; evidence deleted meanwhile is missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedAudit {
    pub entry: AuditEntry,
    /// For an append with a claim: why the claim failed (the entry is then
    /// the refusal that was logged instead); None when it succeeded or
    /// there was no claim.
    pub claim_refused: Option<ClaimFailure>,
    /// For a successful claim: the claimed evidence that still exists at the
    /// commit and belongs to the claim's citizen (in the claim's order).
    pub evidence: Vec<EvidenceId>,
}

/// Append in one transaction through the store's async path (see
/// `Store::append_audit`). The audit log's writer batches through
/// [`append_blocking`] or this; tools and tests call it directly.
pub async fn append(store: &dyn Store, appends: &[AuditAppend]) -> Result<Vec<AppendedAudit>, StoreError> {
    let rows = store.append_audit(&Batch { appends }).await?;
    appended(appends, rows)
}

/// [`append`] on the store's blocking audit connection.
pub fn append_blocking(audit: &dyn BlockingAudit, appends: &[AuditAppend]) -> Result<Vec<AppendedAudit>, StoreError> {
    let rows = audit.append_audit(&Batch { appends })?;
    appended(appends, rows)
}

/// Append events that claim nothing; the stored entries, in order.
pub async fn append_events(
    store: &dyn Store,
    events: &[(DateTime<Utc>, AuditEvent)],
) -> Result<Vec<AuditEntry>, StoreError> {
    let appends: Vec<AuditAppend> =
        events.iter().map(|(time, event)| AuditAppend { time: *time, event: event.clone(), claim: None }).collect();
    Ok(append(store, &appends).await?.into_iter().map(|appended| appended.entry).collect())
}

impl AuditEntry {
    /// The entry parsed back from a stored row's body; None once pruned.
    pub fn from_stored(stored: &StoredAuditEntry) -> Option<Result<AuditEntry, StoreError>> {
        let body = stored.body.as_deref()?;
        Some(serde_json::from_slice(body).map_err(|error| StoreError::Corrupt(format!("audit_entries.body: {error}"))))
    }
}

/// The `department` column of an entry: its target department, else the
/// acting department. Written by `row_of`, checked by `verify`.
pub fn indexed_department<'a>(actor: &'a Actor, target: Option<&'a str>) -> Option<&'a str> {
    target.or(match actor {
        Actor::Department(id) => Some(id.as_str()),
        _ => None,
    })
}

impl Actor {
    /// The `actor_id` column of an entry by this actor.
    pub fn id(&self) -> Option<&str> {
        match self {
            Actor::Citizen(id) | Actor::Department(id) | Actor::Staff(id) => Some(id),
            Actor::System => None,
        }
    }

    /// The `actor_kind` column of an entry by this actor.
    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Citizen(_) => ActorKind::Citizen,
            Actor::Department(_) => ActorKind::Department,
            Actor::Staff(_) => ActorKind::Staff,
            Actor::System => ActorKind::System,
        }
    }
}

impl Outcome {
    /// The stored name, as in the entry's JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// Turn a release event whose claim failed into the refusal that is logged
/// instead: outcome refused, the reason code, and no fields or evidence
/// (nothing was released).
pub fn refuse_claimed_event(event: &mut AuditEvent, failure: ClaimFailure) {
    event.outcome = Outcome::Refused;
    event.reason = Some(
        match failure {
            ClaimFailure::Revoked => "grant_revoked",
            ClaimFailure::Exhausted => "grant_exhausted",
        }
        .to_owned(),
    );
    event.targets.fields.clear();
    event.targets.evidence.clear();
    event.targets.grant_use = None;
}

/// The event as it is stored once its claim was settled: the use count of a
/// successful claim, the refusal of a failed one.
fn settled_event(append: &AuditAppend, claim: ClaimOutcome) -> AuditEvent {
    let mut event = append.event.clone();
    match claim {
        ClaimOutcome::NoClaim => {}
        ClaimOutcome::Claimed { uses } => event.targets.grant_use = Some(uses),
        ClaimOutcome::Refused(failure) => refuse_claimed_event(&mut event, failure),
    }
    event
}

fn audit_time(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt("audit time: timestamp out of range".to_owned()))
}

/// The appends of one transaction, as the store sees them.
struct Batch<'a> {
    appends: &'a [AuditAppend],
}

impl AuditBatch for Batch<'_> {
    fn len(&self) -> usize {
        self.appends.len()
    }

    fn newest_time(&self) -> i64 {
        self.appends.iter().map(|append| append.time.timestamp_micros()).max().unwrap_or(i64::MIN)
    }

    fn claim(&self, index: usize) -> Option<&GrantClaim> {
        self.appends.get(index)?.claim.as_ref()
    }

    /// Times are truncated to microseconds (the stored precision) and kept
    /// at or after the floor and the entry ahead, so audit times never
    /// decrease along the sequence, whatever the clocks of the processes
    /// appending.
    fn rows(&self, first_sequence: i64, time_floor: i64, claims: &[ClaimOutcome]) -> Result<Vec<AuditRow>, StoreError> {
        if claims.len() != self.appends.len() {
            return Err(StoreError::Corrupt(format!(
                "{} claim outcomes for {} appends",
                claims.len(),
                self.appends.len()
            )));
        }
        let mut rows = Vec::with_capacity(self.appends.len());
        let mut floor = time_floor;
        for (offset, (append, claim)) in self.appends.iter().zip(claims).enumerate() {
            let sequence = i64::try_from(offset)
                .ok()
                .and_then(|offset| first_sequence.checked_add(offset))
                .filter(|sequence| *sequence >= 0)
                .ok_or_else(|| StoreError::Corrupt("audit sequence out of range".to_owned()))?;
            let micros = append.time.timestamp_micros().max(floor);
            floor = micros;
            let entry = AuditEntry {
                // Non-negative, checked above.
                sequence: sequence.unsigned_abs(),
                time: audit_time(micros)?,
                event: settled_event(append, *claim),
            };
            rows.push(row_of(&entry, sequence, micros));
        }
        Ok(rows)
    }
}

/// The stored row of an entry: its exact body, leaf hash and the columns
/// the citizen and DPO views filter on.
fn row_of(entry: &AuditEntry, sequence: i64, micros: i64) -> AuditRow {
    let body = entry.canonical_body();
    let leaf_hash = merkle::leaf_hash(&body);
    let event = &entry.event;
    AuditRow {
        sequence,
        time: micros,
        body,
        leaf_hash,
        subject: event.targets.subject.clone(),
        actor_kind: event.actor.kind().as_str(),
        actor_id: event.actor.id().map(str::to_owned),
        action: event.action.as_str(),
        outcome: event.outcome.as_str(),
        department: indexed_department(&event.actor, event.targets.department.as_deref()).map(str::to_owned),
        service: event.targets.service.clone(),
    }
}

/// The entries the store stored, rebuilt from the settled claims by the same
/// function that built their bodies.
fn appended(appends: &[AuditAppend], rows: Vec<AppendedRow>) -> Result<Vec<AppendedAudit>, StoreError> {
    if rows.len() != appends.len() {
        return Err(StoreError::Corrupt(format!(
            "append_audit returned {} rows for {} events",
            rows.len(),
            appends.len()
        )));
    }
    appends
        .iter()
        .zip(rows)
        .map(|(append, AppendedRow { row, claim, evidence })| {
            let entry = AuditEntry {
                sequence: u64::try_from(row.sequence)
                    .map_err(|_| StoreError::Corrupt("audit sequence out of range".to_owned()))?,
                time: audit_time(row.time)?,
                event: settled_event(append, claim),
            };
            let claim_refused = match claim {
                ClaimOutcome::Refused(failure) => Some(failure),
                ClaimOutcome::NoClaim | ClaimOutcome::Claimed { .. } => None,
            };
            Ok(AppendedAudit { entry, claim_refused, evidence })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Action, Targets};
    use crate::ids::CitizenId;

    fn event(action: Action) -> AuditEvent {
        AuditEvent {
            actor: Actor::Department("housing".into()),
            action,
            targets: Targets {
                subject: Some("anna".into()),
                fields: vec!["income.net".into()],
                evidence: vec!["ev1".into()],
                ..Targets::default()
            },
            outcome: Outcome::Success,
            reason: None,
        }
    }

    fn at(micros: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(micros).expect("time")
    }

    fn claim() -> GrantClaim {
        GrantClaim {
            grant_id: "0123456789abcdef0123456789abcd01".parse().expect("grant id"),
            max_uses: 2,
            citizen_id: "0123456789abcdef0123456789abcdef".parse::<CitizenId>().expect("id"),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn rows_hash_exactly_their_bodies_number_from_first_and_never_go_back_in_time() {
        let appends = [
            AuditAppend { time: at(5_000), event: event(Action::Login), claim: None },
            AuditAppend { time: at(1_000), event: event(Action::Release), claim: Some(claim()) },
            AuditAppend { time: at(9_000), event: event(Action::Release), claim: Some(claim()) },
        ];
        let batch = Batch { appends: &appends };
        assert_eq!(batch.newest_time(), 9_000);
        let claims =
            [ClaimOutcome::NoClaim, ClaimOutcome::Claimed { uses: 2 }, ClaimOutcome::Refused(ClaimFailure::Exhausted)];
        let rows = batch.rows(41, 7_000, &claims).expect("rows");
        assert_eq!(rows.iter().map(|row| row.sequence).collect::<Vec<_>>(), [41, 42, 43]);
        assert_eq!(rows.iter().map(|row| row.time).collect::<Vec<_>>(), [7_000, 7_000, 9_000]);
        for row in &rows {
            assert_eq!(row.leaf_hash, merkle::leaf_hash(&row.body));
            let parsed: AuditEntry = serde_json::from_slice(&row.body).expect("body parses");
            assert_eq!(parsed.canonical_body(), row.body, "canonical");
            assert_eq!(row.outcome, parsed.event.outcome.as_str());
            assert_eq!(row.department.as_deref(), Some("housing"), "the acting department is indexed");
        }
        let claimed: AuditEntry = serde_json::from_slice(&rows[1].body).expect("body");
        assert_eq!(claimed.event.targets.grant_use, Some(2));
        let refused: AuditEntry = serde_json::from_slice(&rows[2].body).expect("body");
        assert_eq!(refused.event.outcome, Outcome::Refused);
        assert_eq!(refused.event.reason.as_deref(), Some("grant_exhausted"));
        assert!(refused.event.targets.fields.is_empty() && refused.event.targets.evidence.is_empty());
        assert_eq!(rows[2].outcome, "refused");

        // What callers get back is what was stored.
        let returned = appended(
            &appends,
            rows.iter()
                .zip(claims)
                .map(|(row, claim)| AppendedRow { row: row.clone(), claim, evidence: Vec::new() })
                .collect(),
        )
        .expect("appended");
        for (entry, row) in returned.iter().zip(&rows) {
            assert_eq!(entry.entry.canonical_body(), row.body);
        }
        assert_eq!(returned[2].claim_refused, Some(ClaimFailure::Exhausted));
        assert_eq!(returned[1].claim_refused, None);
    }

    #[test]
    fn bad_numbering_inputs_are_errors_not_panics() {
        let appends = [AuditAppend { time: at(1), event: event(Action::Login), claim: None }];
        let batch = Batch { appends: &appends };
        assert!(matches!(
            batch.rows(i64::MAX, 0, &[ClaimOutcome::NoClaim, ClaimOutcome::NoClaim]),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(batch.rows(-5, 0, &[ClaimOutcome::NoClaim]), Err(StoreError::Corrupt(_))));
        assert!(matches!(appended(&appends, Vec::new()), Err(StoreError::Corrupt(_))));
    }
}
