//! Department access: access requests, the citizen's consent (preview,
//! approve, deny), grants (list, revoke) and the release of fields to a
//! department.
//!
//! Architecture invariants:
//! - the release decision is `policy::decide` (pure); this module loads its
//!   inputs and carries out its answer;
//! - a release is in the audit log, durably, before any field is decrypted;
//!   the grant's use is claimed in the same transaction as that entry, so a
//!   use is counted exactly when a success entry for it exists;
//! - a department gets the intersection of its service's policy fields and
//!   the approved fields, under a pairwise pseudonym, never the citizen id.

use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

use super::{FileReader, FileView, Result, Vault, VaultError, open_file_view, open_text};
use crate::audit::{Action, Actor, AppendedAudit, AuditEntry, AuditEvent, Outcome, Targets};
use crate::crypto::FileOpener;
use crate::ids::{CitizenId, EvidenceId, GrantId, RequestId};
use crate::policy::{Department, FieldRef, GrantState, LoginLevel, Refusal, Service, decide};
use crate::store::{
    AccessRequestRecord, ActorKind, AuditFilter, EvidenceRecord, GrantClaim, GrantRecord, ReleaseGrant, RequestState,
};
use crate::store::{ClaimFailure, StoreError};

/// Unanswered requests expire after this long.
pub const REQUEST_LIFETIME_HOURS: i64 = 24;
/// Longest case reference a department may attach to a request.
pub const MAX_REFERENCE_CHARS: usize = 100;
/// After a release, its files can be fetched for this long.
pub const RELEASE_FILE_WINDOW_MINUTES: i64 = 15;

/// A request's status as the department and the citizen see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Pending,
    Approved,
    Denied,
    Expired,
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Denied => "denied",
            RequestStatus::Expired => "expired",
        }
    }

    /// A pending request past its expiry is expired.
    pub fn of(request: &AccessRequestRecord, now: DateTime<Utc>) -> Self {
        match request.state {
            RequestState::Pending if now >= request.expires_at => RequestStatus::Expired,
            RequestState::Pending => RequestStatus::Pending,
            RequestState::Approved => RequestStatus::Approved,
            RequestState::Denied => RequestStatus::Denied,
        }
    }
}

/// What the citizen sees before deciding.
pub struct ConsentPreview {
    pub request: AccessRequestRecord,
    pub service: Service,
    pub department: Department,
    /// One entry per evidence type the service reads, in policy order.
    pub documents: Vec<DocumentChoice>,
}

pub struct DocumentChoice {
    pub type_id: String,
    /// The policy's fields of this type, in policy order.
    pub fields: Vec<FieldRef>,
    /// The citizen's evidence of this type, newest first, with the values
    /// of exactly those fields.
    pub candidates: Vec<Candidate>,
}

pub struct Candidate {
    pub evidence_id: EvidenceId,
    pub created_at: DateTime<Utc>,
    /// (field name, value) for the policy's fields this evidence has.
    pub values: Vec<(String, String)>,
    /// The file that would be released, if the service releases files.
    pub file: Option<FileView>,
}

/// The summary step: what the consent page showed, and what is wrong with
/// the citizen's choices, if anything (then the form comes back instead).
pub struct ConsentReview {
    pub preview: ConsentPreview,
    pub problem: Option<ApprovalProblem>,
}

/// The citizen's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The chosen evidence, at most one per evidence type.
    pub evidence: Vec<EvidenceId>,
    /// The approved fields (a subset of the service's policy fields).
    pub fields: Vec<FieldRef>,
    pub duration_days: u32,
    pub max_uses: u32,
    /// Leave the chosen documents' files out: only where the service's
    /// policy allows it (`file_optional`), refused otherwise.
    pub without_files: bool,
}

/// What a department receives.
pub struct Release {
    pub grant: GrantRecord,
    /// The citizen's pairwise pseudonym for this department.
    pub subject: String,
    pub evidence: Vec<ReleasedEvidence>,
    pub issued_at: DateTime<Utc>,
    pub uses_left: u32,
    /// Sequence number of the release's audit entry.
    pub audit_index: u64,
}

pub struct ReleasedEvidence {
    pub type_id: String,
    pub evidence_id: EvidenceId,
    /// (field name, value), in policy order.
    pub fields: Vec<(String, String)>,
    /// Present when the service's policy releases files.
    pub file: Option<FileView>,
}

/// Why an approval form was not accepted (stable codes for the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalProblem {
    NoFields,
    FieldNotInPolicy,
    EvidenceNotFound,
    EvidenceNotRequested,
    TwoDocumentsOfOneType,
    FieldWithoutDocument,
    /// A chosen document of which no field is approved: it would enter the
    /// grant (and a release's file) although nothing of it was consented to.
    DocumentWithoutField,
    DurationOutOfRange,
    UsesOutOfRange,
    /// The files were left out, but the service's policy needs them.
    FileRequired,
}

impl ApprovalProblem {
    pub fn code(self) -> &'static str {
        match self {
            ApprovalProblem::NoFields => "no_fields_approved",
            ApprovalProblem::FieldNotInPolicy => "field_not_in_policy",
            ApprovalProblem::EvidenceNotFound => "evidence_not_found",
            ApprovalProblem::EvidenceNotRequested => "evidence_type_not_requested",
            ApprovalProblem::TwoDocumentsOfOneType => "one_document_per_type",
            ApprovalProblem::FieldWithoutDocument => "field_without_document",
            ApprovalProblem::DocumentWithoutField => "document_without_field",
            ApprovalProblem::DurationOutOfRange => "duration_out_of_range",
            ApprovalProblem::UsesOutOfRange => "uses_out_of_range",
            ApprovalProblem::FileRequired => "file_required",
        }
    }
}

impl Vault {
    fn service(&self, id: &str) -> Result<&Service> {
        self.policies.services.get(id).ok_or(VaultError::UnknownService)
    }

    fn department(&self, id: &str) -> Result<&Department> {
        self.policies.departments.get(id).ok_or(VaultError::UnknownService)
    }

    async fn record_department(
        &self,
        department: &str,
        action: Action,
        targets: Targets,
        outcome: Outcome,
        reason: Option<&str>,
    ) -> Result<crate::audit::AuditEntry> {
        let event = AuditEvent {
            actor: Actor::Department(department.to_owned()),
            action,
            targets,
            outcome,
            reason: reason.map(str::to_owned),
        };
        Ok(self.audit.record(event).await?)
    }

    /// A refusal to a department; failing to record it is logged (the
    /// request fails anyway).
    async fn record_department_refusal(&self, department: &str, action: Action, targets: Targets, code: &str) {
        if let Err(error) = self.record_department(department, action, targets, Outcome::Refused, Some(code)).await {
            tracing::warn!(%error, "could not record a refusal in the audit log");
        }
    }

    /// A department opens a request for one of its services.
    pub async fn create_access_request(
        &self,
        department: &str,
        service_id: &str,
        reference: &str,
    ) -> Result<AccessRequestRecord> {
        let service = self.service(service_id)?;
        let targets = || Targets {
            department: Some(department.to_owned()),
            service: Some(service_id.to_owned()),
            ..Targets::default()
        };
        if service.department != department {
            self.record_department_refusal(
                department,
                Action::AccessRequestCreate,
                targets(),
                Refusal::WrongDepartment.code(),
            )
            .await;
            return Err(VaultError::Refused(Refusal::WrongDepartment));
        }
        let reference = reference.trim();
        if reference.is_empty()
            || reference.chars().count() > MAX_REFERENCE_CHARS
            || crate::text::has_refused_char(reference)
        {
            return Err(VaultError::InvalidReference);
        }
        let now = self.clock.now();
        let request = AccessRequestRecord {
            id: RequestId::generate(self.rng.as_ref()),
            department: department.to_owned(),
            service: service_id.to_owned(),
            reference: reference.to_owned(),
            created_at: now,
            expires_at: now + Duration::hours(REQUEST_LIFETIME_HOURS),
            state: RequestState::Pending,
            citizen_id: None,
            answered_at: None,
            grant_id: None,
        };
        self.record_department(department, Action::AccessRequestCreate, targets(), Outcome::Success, None).await?;
        self.store.insert_access_request(&request).await?;
        Ok(request)
    }

    /// A request as its department sees it; another department's request is
    /// not found (nothing leaks).
    pub async fn access_request_for_department(
        &self,
        department: &str,
        id: &RequestId,
    ) -> Result<(AccessRequestRecord, RequestStatus)> {
        let request = self.store.access_request(id).await?.filter(|r| r.department == department);
        let request = request.ok_or(VaultError::NotFound)?;
        let status = RequestStatus::of(&request, self.clock.now());
        Ok((request, status))
    }

    /// The office's case reference of each of `citizen`'s grants in `ids`
    /// (the reference of the request it answered); a grant that is not
    /// theirs, or whose request is gone, has none.
    pub async fn grant_references(
        &self,
        citizen: &CitizenId,
        ids: &[GrantId],
    ) -> Result<std::collections::HashMap<GrantId, String>> {
        let mut references = std::collections::HashMap::new();
        if ids.is_empty() {
            return Ok(references);
        }
        for grant in self.store.grants_of_citizen(citizen).await? {
            if ids.contains(&grant.id)
                && let Some(request) = self.store.access_request(&grant.request_id).await?
            {
                references.insert(grant.id, request.reference);
            }
        }
        Ok(references)
    }

    /// A request as anyone holding its approve URL sees it (no values).
    pub async fn access_request(&self, id: &RequestId) -> Result<(AccessRequestRecord, RequestStatus)> {
        let request = self.store.access_request(id).await?.ok_or(VaultError::NotFound)?;
        let status = RequestStatus::of(&request, self.clock.now());
        Ok((request, status))
    }

    /// A request that can still be answered: `RequestExpired` or
    /// `RequestAnswered` otherwise.
    async fn pending_request(&self, id: &RequestId) -> Result<AccessRequestRecord> {
        let (request, status) = self.access_request(id).await?;
        match status {
            RequestStatus::Pending => Ok(request),
            RequestStatus::Expired => Err(VaultError::RequestExpired),
            RequestStatus::Approved | RequestStatus::Denied => Err(VaultError::RequestAnswered),
        }
    }

    /// Everything the consent page shows, including the values that would
    /// be released (recorded as the citizen viewing their own evidence).
    /// Needs a session at the service's login level.
    pub async fn consent_preview(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        id: &RequestId,
    ) -> Result<ConsentPreview> {
        let request = self.pending_request(id).await?;
        let service = self.service(&request.service)?.clone();
        let department = self.department(&request.department)?.clone();
        if level < service.min_login_level {
            return Err(VaultError::LevelTooLow { required: service.min_login_level });
        }
        let summaries = self.store.list_evidence(citizen).await?;
        let types = service.evidence_types();
        let mut records = Vec::new();
        for summary in summaries.iter().filter(|summary| types.contains(&summary.type_id.as_str())) {
            if let Some(record) = self.store.evidence(citizen, &summary.id).await? {
                records.push(record);
            }
        }
        // The citizen looks at their own values: recorded before decryption.
        let targets = Targets {
            subject: Some(citizen.to_string()),
            evidence: records.iter().map(|record| record.id.to_string()).collect(),
            fields: service.fields.iter().map(ToString::to_string).collect(),
            department: Some(request.department.clone()),
            service: Some(request.service.clone()),
            ..Targets::default()
        };
        self.record_as_citizen(citizen, Action::EvidenceView, targets, Outcome::Success, Some("consent_preview"))
            .await?;
        let dek = if records.is_empty() { None } else { Some(self.data_key(citizen).await?) };
        let mut documents = Vec::new();
        for type_id in types {
            let fields: Vec<FieldRef> =
                service.fields.iter().filter(|field| field.evidence_type() == type_id).cloned().collect();
            let mut candidates = Vec::new();
            if let Some(dek) = &dek {
                for record in records.iter().filter(|record| record.type_id == type_id) {
                    let (values, file) = open_fields(dek, citizen, record, &fields, service.file)?;
                    candidates.push(Candidate {
                        evidence_id: record.id.clone(),
                        created_at: record.created_at,
                        values,
                        file,
                    });
                }
            }
            documents.push(DocumentChoice { type_id: type_id.to_owned(), fields, candidates });
        }
        Ok(ConsentPreview { request, service, department, documents })
    }

    /// The summary step before approving: the consent preview, and the
    /// approval checked against it exactly as `approve_access_request`
    /// checks it (same rules, same codes; documents must be among the
    /// citizen's own of the requested types). Stores nothing and creates no
    /// grant; the values are opened (and recorded) as for the consent page.
    pub async fn review_approval(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        id: &RequestId,
        approval: &Approval,
    ) -> Result<ConsentReview> {
        let preview = self.consent_preview(citizen, level, id).await?;
        let mut chosen_types = Vec::with_capacity(approval.evidence.len());
        for evidence_id in &approval.evidence {
            let document = preview
                .documents
                .iter()
                .find(|document| document.candidates.iter().any(|candidate| &candidate.evidence_id == evidence_id));
            match document {
                Some(document) => chosen_types.push(document.type_id.as_str()),
                None => {
                    return Ok(ConsentReview { preview, problem: Some(ApprovalProblem::EvidenceNotFound) });
                }
            }
        }
        let problem = match check_approval(&preview.service, approval, &chosen_types) {
            Ok(()) => None,
            Err(VaultError::InvalidApproval(problem)) => Some(problem),
            Err(other) => return Err(other),
        };
        Ok(ConsentReview { preview, problem })
    }

    /// The citizen approves: a grant within the service's limits, for the
    /// chosen documents and fields.
    pub async fn approve_access_request(
        &self,
        citizen: &CitizenId,
        level: LoginLevel,
        id: &RequestId,
        approval: &Approval,
    ) -> Result<GrantRecord> {
        let request = self.pending_request(id).await?;
        let service = self.service(&request.service)?;
        if level < service.min_login_level {
            return Err(VaultError::LevelTooLow { required: service.min_login_level });
        }
        let mut chosen: Vec<EvidenceRecord> = Vec::new();
        for evidence_id in &approval.evidence {
            let record = self
                .store
                .evidence(citizen, evidence_id)
                .await?
                .ok_or(VaultError::InvalidApproval(ApprovalProblem::EvidenceNotFound))?;
            chosen.push(record);
        }
        let chosen_types: Vec<&str> = chosen.iter().map(|record| record.type_id.as_str()).collect();
        check_approval(service, approval, &chosen_types)?;
        let now = self.clock.now();
        // In policy order; the policy lists each field once.
        let fields: Vec<FieldRef> =
            service.fields.iter().filter(|field| approval.fields.contains(field)).cloned().collect();
        let grant = GrantRecord {
            id: GrantId::generate(self.rng.as_ref()),
            request_id: request.id.clone(),
            citizen_id: citizen.clone(),
            department: request.department.clone(),
            service: request.service.clone(),
            approved_fields: fields.iter().map(ToString::to_string).collect(),
            evidence_ids: chosen.iter().map(|record| record.id.clone()).collect(),
            created_at: now,
            not_before: now,
            expires_at: now + Duration::days(i64::from(approval.duration_days)),
            max_uses: approval.max_uses,
            uses: 0,
            revoked_at: None,
            // Only a service that releases files has any to leave out.
            without_files: service.file && approval.without_files,
        };
        let targets = Targets {
            subject: Some(citizen.to_string()),
            evidence: grant.evidence_ids.iter().map(ToString::to_string).collect(),
            fields: grant.approved_fields.clone(),
            grant: Some(grant.id.to_string()),
            department: Some(grant.department.clone()),
            service: Some(grant.service.clone()),
            grant_use: None,
        };
        self.record_as_citizen(citizen, Action::AccessRequestApprove, targets.clone(), Outcome::Success, None).await?;
        if !self.store.answer_access_request(&request.id, citizen, now, Some(&grant)).await? {
            // Answered elsewhere (or expired) between the check and now.
            let _ = self
                .record_as_citizen(
                    citizen,
                    Action::AccessRequestApprove,
                    targets,
                    Outcome::Failed,
                    Some("request_not_pending"),
                )
                .await;
            return Err(VaultError::RequestAnswered);
        }
        Ok(grant)
    }

    /// The citizen denies the request.
    pub async fn deny_access_request(&self, citizen: &CitizenId, id: &RequestId) -> Result<()> {
        let request = self.pending_request(id).await?;
        let targets = Targets {
            subject: Some(citizen.to_string()),
            department: Some(request.department.clone()),
            service: Some(request.service.clone()),
            ..Targets::default()
        };
        self.record_as_citizen(citizen, Action::AccessRequestDeny, targets, Outcome::Success, None).await?;
        if !self.store.answer_access_request(&request.id, citizen, self.clock.now(), None).await? {
            return Err(VaultError::RequestAnswered);
        }
        Ok(())
    }

    /// The citizen's grants, newest first.
    pub async fn grants(&self, citizen: &CitizenId) -> Result<Vec<GrantRecord>> {
        Ok(self.store.grants_of_citizen(citizen).await?)
    }

    /// The citizen revokes a grant; effective for every release that has
    /// not claimed its use yet.
    pub async fn revoke_grant(&self, citizen: &CitizenId, id: &GrantId) -> Result<()> {
        let grant = self.store.grant(id).await?.filter(|grant| &grant.citizen_id == citizen);
        let Some(grant) = grant else { return Err(VaultError::NotFound) };
        if grant.revoked_at.is_some() {
            return Ok(());
        }
        let targets = Targets {
            subject: Some(citizen.to_string()),
            grant: Some(grant.id.to_string()),
            department: Some(grant.department.clone()),
            service: Some(grant.service.clone()),
            ..Targets::default()
        };
        self.record_as_citizen(citizen, Action::GrantRevoke, targets, Outcome::Success, None).await?;
        self.store.revoke_grant(citizen, id, self.clock.now()).await?;
        self.release_grants.forget(id.as_str());
        Ok(())
    }

    /// The audit entry of a release of grant `id` by `department` at
    /// `index`, for the department's proof of it; None (404) for any other
    /// entry, so a department learns nothing about entries not its own.
    pub async fn release_entry(
        &self,
        department: &str,
        id: &GrantId,
        index: u64,
    ) -> Result<Option<crate::store::StoredAuditEntry>> {
        let after = index.checked_sub(1);
        let mut rows = self.store.audit_entries(&crate::store::AuditFilter::default(), 1, after).await?;
        let Some(row) = rows.pop().filter(|row| u64::try_from(row.sequence).ok() == Some(index)) else {
            return Ok(None);
        };
        let Some(Ok(entry)) = AuditEntry::from_stored(&row) else { return Ok(None) };
        let own_release = entry.event.action == Action::Release
            && entry.event.outcome == Outcome::Success
            && entry.event.actor == crate::audit::Actor::Department(department.to_owned())
            && entry.event.targets.grant.as_deref() == Some(id.as_str());
        Ok(own_release.then_some(row))
    }

    /// Release a grant's fields to `department`: decide (pure), record the
    /// release and claim the use in one durable append, then decrypt.
    #[tracing::instrument(skip_all)]
    pub async fn release(&self, department: &str, id: &GrantId) -> Result<Release> {
        let Some(release_grant) = self.release_grant(id).await? else {
            let targets =
                Targets { grant: Some(id.to_string()), department: Some(department.to_owned()), ..Targets::default() };
            self.record_department_refusal(department, Action::Release, targets, "not_found").await;
            return Err(VaultError::NotFound);
        };
        let ReleaseGrant { grant, wrapped_dek, kek_version } = &*release_grant;
        let mut targets = Targets {
            subject: Some(grant.citizen_id.to_string()),
            grant: Some(grant.id.to_string()),
            department: Some(department.to_owned()),
            service: Some(grant.service.clone()),
            ..Targets::default()
        };
        let now = self.clock.now();
        let decision = match self.policies.services.get(&grant.service) {
            Some(service) => decide(service, &grant_state(grant), department, now).map(|fields| (service, fields)),
            // The policy no longer offers the service: nothing is released.
            None => Err(Refusal::WrongService),
        };
        let (service, fields) = match decision {
            Ok(decision) => decision,
            Err(refusal) => {
                self.record_department_refusal(department, Action::Release, targets, refusal.code()).await;
                return Err(VaultError::Refused(refusal));
            }
        };
        targets.fields = fields.iter().map(ToString::to_string).collect();
        targets.evidence = grant.evidence_ids.iter().map(ToString::to_string).collect();
        let limit = grant.max_uses.min(service.max_uses);
        let event = AuditEvent {
            actor: Actor::Department(department.to_owned()),
            action: Action::Release,
            targets,
            outcome: Outcome::Success,
            reason: None,
        };
        let claim = GrantClaim {
            grant_id: grant.id.clone(),
            max_uses: limit,
            citizen_id: grant.citizen_id.clone(),
            evidence: grant.evidence_ids.clone(),
        };
        // Durable (and the use counted) before anything is decrypted; the
        // same transaction says which of the evidence still exists.
        let AppendedAudit { entry, evidence: stored, claim_refused } =
            self.audit.record_claiming(event, Some(claim)).await?;
        let uses = match (claim_refused, entry.event.targets.grant_use) {
            (Some(ClaimFailure::Exhausted), _) => return Err(VaultError::Refused(Refusal::Exhausted)),
            (Some(ClaimFailure::Revoked), _) => return Err(VaultError::Refused(Refusal::Revoked)),
            (None, Some(uses)) => uses,
            // A claim that succeeded always counts its use.
            (None, None) => {
                return Err(VaultError::Store(StoreError::Corrupt(
                    "a claimed release without its use count".to_owned(),
                )));
            }
        };
        let mut records = Vec::with_capacity(stored.len());
        for id in &stored {
            // Evidence the citizen deleted since approving is simply gone.
            records.extend(self.released_evidence(&grant.citizen_id, id).await?);
        }
        let dek = self.with_current_keys(|keys| keys.unwrap_dek(&grant.citizen_id, *kek_version, wrapped_dek))?;
        let mut evidence = Vec::new();
        for type_id in service.evidence_types() {
            let type_fields: Vec<FieldRef> =
                fields.iter().filter(|field| field.evidence_type() == type_id).cloned().collect();
            if type_fields.is_empty() {
                continue;
            }
            for record in records.iter().filter(|record| record.type_id == type_id) {
                let with_file = service.file && !grant.without_files;
                let (values, file) = open_fields(&dek, &grant.citizen_id, record, &type_fields, with_file)?;
                evidence.push(ReleasedEvidence {
                    type_id: record.type_id.clone(),
                    evidence_id: record.id.clone(),
                    fields: values,
                    file,
                });
            }
        }
        let subject = self.keys.pepper().pairwise_pseudonym(&grant.citizen_id, department)?;
        let mut grant = grant.clone();
        grant.uses = uses;
        Ok(Release {
            uses_left: limit.saturating_sub(uses),
            grant,
            subject,
            evidence,
            issued_at: entry.time,
            audit_index: entry.sequence,
        })
    }

    /// The grant and wrapped DEK for a release: remembered for a short
    /// while (see `cache`; `uses` and `revoked_at` there may be stale and
    /// are settled by the claim in the audit transaction).
    async fn release_grant(&self, id: &GrantId) -> Result<Option<Arc<ReleaseGrant>>> {
        Ok(self.release_grants.get_or_read(id.as_str(), self.store.grant_for_release(id)).await?)
    }

    /// Sealed evidence that the audit transaction found stored for
    /// `citizen`: remembered (immutable once written), or read; None if it
    /// was deleted since that transaction.
    async fn released_evidence(&self, citizen: &CitizenId, id: &EvidenceId) -> Result<Option<Arc<EvidenceRecord>>> {
        let record = self.sealed_evidence.get_or_read(id.as_str(), self.store.evidence(citizen, id)).await?;
        Ok(record.filter(|record| &record.citizen_id == citizen))
    }

    /// The file of a released document, within `RELEASE_FILE_WINDOW_MINUTES`
    /// of the release (identified by its audit index) that named it.
    pub async fn open_released_file(
        &self,
        department: &str,
        id: &GrantId,
        release_index: u64,
        evidence_id: &EvidenceId,
    ) -> Result<(FileView, FileReader)> {
        let grant = self.store.grant(id).await?.ok_or(VaultError::NotFound)?;
        let targets = Targets {
            subject: Some(grant.citizen_id.to_string()),
            evidence: vec![evidence_id.to_string()],
            grant: Some(grant.id.to_string()),
            department: Some(department.to_owned()),
            service: Some(grant.service.clone()),
            ..Targets::default()
        };
        let now = self.clock.now();
        let refusal = if grant.department != department {
            Some(Refusal::WrongDepartment)
        } else if grant.revoked_at.is_some() {
            Some(Refusal::Revoked)
        } else {
            None
        };
        if let Some(refusal) = refusal {
            self.record_department_refusal(department, Action::EvidenceDownload, targets, refusal.code()).await;
            return Err(VaultError::Refused(refusal));
        }
        // A grant whose citizen left the files out never serves one.
        let service_releases_files =
            self.policies.services.get(&grant.service).is_some_and(|service| service.file) && !grant.without_files;
        let record = match service_releases_files && grant.evidence_ids.contains(evidence_id) {
            true => self.store.evidence(&grant.citizen_id, evidence_id).await?,
            false => None,
        };
        let released = match &record {
            Some(record) => self.release_names(department, grant.id.as_str(), release_index, record, now).await?,
            None => false,
        };
        let Some(record) = record.filter(|_| released) else {
            self.record_department_refusal(department, Action::EvidenceDownload, targets, "release_not_found").await;
            return Err(VaultError::NotFound);
        };
        let Some(file) = record.file.clone() else { return Err(VaultError::NotFound) };
        self.record_department(department, Action::EvidenceDownload, targets, Outcome::Success, Some("release_file"))
            .await?;
        let dek = self.data_key(&grant.citizen_id).await?;
        let view = open_file_view(&dek.field_key(&record.id), &grant.citizen_id, &record.id, file)?;
        let reader = FileReader {
            store: self.store.clone(),
            opener: FileOpener::new(dek.file_key(&view.id), &grant.citizen_id, &view.id),
            file_id: view.id.clone(),
            next_index: 0,
            chunk_count: view.chunk_count,
        };
        Ok((view, reader))
    }

    /// Whether audit entry `index` is a successful release of `grant` to
    /// `department`, made less than the file window ago, whose body held
    /// `record`: it names the document and released a field of its type
    /// (a document is in a release's body only with a released field).
    async fn release_names(
        &self,
        department: &str,
        grant: &str,
        index: u64,
        record: &EvidenceRecord,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        let filter = AuditFilter {
            actor_kind: Some(ActorKind::Department),
            actor_id: Some(department.to_owned()),
            action: Some(Action::Release.as_str()),
            outcome: Some(Outcome::Success.as_str()),
            ..AuditFilter::default()
        };
        let entries = self.store.audit_entries(&filter, 1, index.checked_sub(1)).await?;
        let Some(stored) = entries.first().filter(|stored| u64::try_from(stored.sequence).ok() == Some(index)) else {
            return Ok(false);
        };
        let Some(entry) = AuditEntry::from_stored(stored).transpose()? else { return Ok(false) };
        let targets = &entry.event.targets;
        Ok(targets.grant.as_deref() == Some(grant)
            && targets.evidence.iter().any(|id| id == record.id.as_str())
            && targets
                .fields
                .iter()
                .any(|field| FieldRef::parse(field).is_some_and(|field| field.evidence_type() == record.type_id))
            && now < entry.time + Duration::minutes(RELEASE_FILE_WINDOW_MINUTES))
    }
}

/// The decision's view of a stored grant.
fn grant_state(grant: &GrantRecord) -> GrantState {
    GrantState {
        service: grant.service.clone(),
        department: grant.department.clone(),
        approved_fields: grant.approved_fields.iter().filter_map(|field| FieldRef::parse(field)).collect(),
        not_before: grant.not_before,
        expires_at: grant.expires_at,
        max_uses: grant.max_uses,
        uses: grant.uses,
        revoked: grant.revoked_at.is_some(),
    }
}

/// Structural checks of an approval against the service policy; `chosen`
/// are the evidence types of the citizen's documents named in it, in order.
fn check_approval(service: &Service, approval: &Approval, chosen: &[&str]) -> Result<()> {
    let problem = |problem| Err(VaultError::InvalidApproval(problem));
    if approval.fields.is_empty() {
        return problem(ApprovalProblem::NoFields);
    }
    if approval.fields.iter().any(|field| !service.fields.contains(field)) {
        return problem(ApprovalProblem::FieldNotInPolicy);
    }
    let types = service.evidence_types();
    for (index, type_id) in chosen.iter().enumerate() {
        if !types.contains(type_id) {
            return problem(ApprovalProblem::EvidenceNotRequested);
        }
        if chosen[..index].contains(type_id) {
            return problem(ApprovalProblem::TwoDocumentsOfOneType);
        }
    }
    if approval.fields.iter().any(|field| !chosen.contains(&field.evidence_type())) {
        return problem(ApprovalProblem::FieldWithoutDocument);
    }
    // Only documents with an approved field enter a grant (whatever the
    // client: the consent page leaves them out, the JSON API is refused).
    if chosen.iter().any(|type_id| !approval.fields.iter().any(|field| field.evidence_type() == *type_id)) {
        return problem(ApprovalProblem::DocumentWithoutField);
    }
    if approval.duration_days == 0 || approval.duration_days > service.max_grant_duration_days {
        return problem(ApprovalProblem::DurationOutOfRange);
    }
    if approval.max_uses == 0 || approval.max_uses > service.max_uses {
        return problem(ApprovalProblem::UsesOutOfRange);
    }
    // A file shows more than the ticked fields; leaving it out is the
    // citizen's choice only where the service can do without it.
    if approval.without_files && service.file && !service.file_optional {
        return problem(ApprovalProblem::FileRequired);
    }
    Ok(())
}

/// Field values `(name, value)` and the file, if released.
type OpenedFields = (Vec<(String, String)>, Option<FileView>);

/// Open `fields` (of the record's type) and, if `with_file`, the file's
/// metadata.
fn open_fields(
    dek: &crate::crypto::DataKey,
    citizen: &CitizenId,
    record: &EvidenceRecord,
    fields: &[FieldRef],
    with_file: bool,
) -> Result<OpenedFields> {
    let key = dek.field_key(&record.id);
    let mut values = Vec::with_capacity(fields.len());
    for field in fields {
        if let Some(sealed) = record.fields.iter().find(|sealed| sealed.name == field.field()) {
            values.push((sealed.name.clone(), open_text(&key, citizen, &record.id, &sealed.name, &sealed.ciphertext)?));
        }
    }
    let file = match (&record.file, with_file) {
        (Some(file), true) => Some(open_file_view(&key, citizen, &record.id, file.clone())?),
        _ => None,
    };
    Ok((values, file))
}
