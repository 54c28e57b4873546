//! A real store with a fault injector on the audit append (and counters of
//! the log's hashes read), for fail-closed tests: while `failing` is set, audit appends fail (after a short delay, so
//! other appends queue up behind them); everything else is delegated. Both
//! append paths are wrapped: the async one and the blocking one the SQLite
//! audit writer thread uses in production (`Store::blocking_audit`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tresor::ids::{CitizenId, EvidenceId, FileId, GrantId, RequestId};
use tresor::store::{
    AccessRequestRecord, AppendedRow, AuditBatch, AuditFilter, BlockingAudit, CitizenRecord, EvidenceRecord,
    EvidenceSummary, GrantRecord, PendingLogin, ReleaseGrant, SessionRecord, StaffSessionRecord, Store, StoreError,
    StoredAuditEntry,
};

/// The switch and the record of failed batches, shared by both append paths.
#[derive(Default)]
pub struct Faults {
    pub failing: AtomicBool,
    /// While set, reading the audit log's size fails as a database that
    /// does not answer would (`Unavailable`): the read every readiness
    /// check starts with.
    pub size_unreadable: AtomicBool,
    /// Leaf hashes and tree nodes read through `audit_leaf_hashes` and
    /// `audit_nodes` (how much of the log a request reads).
    pub leaves_read: std::sync::atomic::AtomicU64,
    pub nodes_read: std::sync::atomic::AtomicU64,
    /// Events per append call that was made to fail.
    pub failed_batches: Mutex<Vec<usize>>,
}

impl Faults {
    /// The error a failing append gives, after recording the batch.
    fn fail(&self, events: usize) -> StoreError {
        self.failed_batches.lock().unwrap().push(events);
        StoreError::Unavailable("injected fault: pool timed out".to_owned())
    }
}

/// Wraps a real store; audit appends fail (after a delay, so that other
/// appends queue up behind them) while `failing` is set. Everything else is
/// delegated.
pub struct FailingAuditStore {
    inner: Arc<dyn Store>,
    faults: Arc<Faults>,
}

impl std::ops::Deref for FailingAuditStore {
    type Target = Faults;
    fn deref(&self) -> &Faults {
        &self.faults
    }
}

impl FailingAuditStore {
    pub fn set_failing(&self, failing: bool) {
        self.faults.failing.store(failing, Ordering::SeqCst);
    }

    pub fn new(inner: Arc<dyn Store>) -> Arc<Self> {
        Arc::new(FailingAuditStore { inner, faults: Arc::new(Faults::default()) })
    }
}

/// The blocking append path of the wrapped store, with the same faults.
struct FailingBlockingAudit {
    inner: Arc<dyn BlockingAudit>,
    faults: Arc<Faults>,
}

impl BlockingAudit for FailingBlockingAudit {
    fn append_audit(&self, batch: &dyn AuditBatch) -> tresor::store::Result<Vec<AppendedRow>> {
        if self.faults.failing.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(100));
            return Err(self.faults.fail(batch.len()));
        }
        self.inner.append_audit(batch)
    }
}

#[async_trait::async_trait]
impl Store for FailingAuditStore {
    fn blocking_audit(&self) -> Option<Arc<dyn BlockingAudit>> {
        let inner = self.inner.blocking_audit()?;
        Some(Arc::new(FailingBlockingAudit { inner, faults: self.faults.clone() }))
    }
    async fn append_audit(&self, batch: &dyn AuditBatch) -> tresor::store::Result<Vec<AppendedRow>> {
        if self.faults.failing.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            return Err(self.faults.fail(batch.len()));
        }
        self.inner.append_audit(batch).await
    }
    async fn insert_access_request(&self, request: &AccessRequestRecord) -> tresor::store::Result<()> {
        self.inner.insert_access_request(request).await
    }
    async fn access_request(&self, id: &RequestId) -> tresor::store::Result<Option<AccessRequestRecord>> {
        self.inner.access_request(id).await
    }
    async fn answer_access_request(
        &self,
        id: &RequestId,
        citizen_id: &CitizenId,
        at: DateTime<Utc>,
        grant: Option<&GrantRecord>,
    ) -> tresor::store::Result<bool> {
        self.inner.answer_access_request(id, citizen_id, at, grant).await
    }
    async fn delete_expired_access_requests(&self, before: DateTime<Utc>) -> tresor::store::Result<u64> {
        self.inner.delete_expired_access_requests(before).await
    }
    async fn grant_for_release(&self, id: &GrantId) -> tresor::store::Result<Option<ReleaseGrant>> {
        self.inner.grant_for_release(id).await
    }
    async fn grant(&self, id: &GrantId) -> tresor::store::Result<Option<GrantRecord>> {
        self.inner.grant(id).await
    }
    async fn grants_of_citizen(&self, citizen_id: &CitizenId) -> tresor::store::Result<Vec<GrantRecord>> {
        self.inner.grants_of_citizen(citizen_id).await
    }
    async fn revoke_grant(
        &self,
        citizen_id: &CitizenId,
        id: &GrantId,
        at: DateTime<Utc>,
    ) -> tresor::store::Result<bool> {
        self.inner.revoke_grant(citizen_id, id, at).await
    }
    async fn migrate(&self) -> tresor::store::Result<()> {
        self.inner.migrate().await
    }
    async fn insert_citizen(&self, citizen: &CitizenRecord) -> tresor::store::Result<()> {
        self.inner.insert_citizen(citizen).await
    }
    async fn citizen_by_subject(&self, subject_hash: &[u8]) -> tresor::store::Result<Option<CitizenRecord>> {
        self.inner.citizen_by_subject(subject_hash).await
    }
    async fn citizen(&self, id: &CitizenId) -> tresor::store::Result<Option<CitizenRecord>> {
        self.inner.citizen(id).await
    }
    async fn delete_citizen(&self, id: &CitizenId) -> tresor::store::Result<bool> {
        self.inner.delete_citizen(id).await
    }
    async fn insert_pending_login(&self, pending: &PendingLogin) -> tresor::store::Result<()> {
        self.inner.insert_pending_login(pending).await
    }
    async fn take_pending_login(&self, state_hash: &[u8]) -> tresor::store::Result<Option<PendingLogin>> {
        self.inner.take_pending_login(state_hash).await
    }
    async fn delete_pending_logins_before(&self, before: DateTime<Utc>) -> tresor::store::Result<u64> {
        self.inner.delete_pending_logins_before(before).await
    }
    async fn put_form_draft(&self, draft: &tresor::store::FormDraftRecord) -> tresor::store::Result<()> {
        self.inner.put_form_draft(draft).await
    }
    async fn take_form_draft(&self, id_hash: &[u8]) -> tresor::store::Result<Option<tresor::store::FormDraftRecord>> {
        self.inner.take_form_draft(id_hash).await
    }
    async fn delete_form_drafts_before(&self, before: DateTime<Utc>) -> tresor::store::Result<u64> {
        self.inner.delete_form_drafts_before(before).await
    }
    async fn insert_session(&self, session: &SessionRecord) -> tresor::store::Result<()> {
        self.inner.insert_session(session).await
    }
    async fn session(&self, id_hash: &[u8]) -> tresor::store::Result<Option<SessionRecord>> {
        self.inner.session(id_hash).await
    }
    async fn touch_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> tresor::store::Result<()> {
        self.inner.touch_session(id_hash, at).await
    }
    async fn delete_session(&self, id_hash: &[u8]) -> tresor::store::Result<()> {
        self.inner.delete_session(id_hash).await
    }
    async fn citizens_with_idp_session(&self, issuer: &str, sid: &str) -> tresor::store::Result<Vec<CitizenId>> {
        self.inner.citizens_with_idp_session(issuer, sid).await
    }
    async fn delete_sessions_by_idp_session(&self, issuer: &str, sid: &str) -> tresor::store::Result<u64> {
        self.inner.delete_sessions_by_idp_session(issuer, sid).await
    }
    async fn delete_sessions_of_citizen(&self, issuer: &str, citizen_id: &CitizenId) -> tresor::store::Result<u64> {
        self.inner.delete_sessions_of_citizen(issuer, citizen_id).await
    }
    async fn keep_newest_sessions(
        &self,
        citizen_id: &CitizenId,
        newest: &[u8],
        keep: u32,
    ) -> tresor::store::Result<u64> {
        self.inner.keep_newest_sessions(citizen_id, newest, keep).await
    }
    async fn logout_token_seen(&self, issuer: &str, jti: &str) -> tresor::store::Result<bool> {
        self.inner.logout_token_seen(issuer, jti).await
    }
    async fn remember_logout_token(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
    ) -> tresor::store::Result<bool> {
        self.inner.remember_logout_token(issuer, jti, expires_at).await
    }
    async fn begin_file(
        &self,
        file_id: &FileId,
        citizen_id: &CitizenId,
        started_at: DateTime<Utc>,
    ) -> tresor::store::Result<()> {
        self.inner.begin_file(file_id, citizen_id, started_at).await
    }
    async fn append_file_chunks(&self, file_id: &FileId, chunks: &[(i64, Vec<u8>)]) -> tresor::store::Result<()> {
        self.inner.append_file_chunks(file_id, chunks).await
    }
    async fn file_chunk(&self, file_id: &FileId, index: i64) -> tresor::store::Result<Option<Vec<u8>>> {
        self.inner.file_chunk(file_id, index).await
    }
    async fn abort_file(&self, file_id: &FileId) -> tresor::store::Result<()> {
        self.inner.abort_file(file_id).await
    }
    async fn delete_stale_uploads(&self, before: DateTime<Utc>) -> tresor::store::Result<u64> {
        self.inner.delete_stale_uploads(before).await
    }
    async fn insert_evidence(&self, evidence: &EvidenceRecord) -> tresor::store::Result<()> {
        self.inner.insert_evidence(evidence).await
    }
    async fn list_evidence(&self, citizen_id: &CitizenId) -> tresor::store::Result<Vec<EvidenceSummary>> {
        self.inner.list_evidence(citizen_id).await
    }
    async fn evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> tresor::store::Result<Option<EvidenceRecord>> {
        self.inner.evidence(citizen_id, id).await
    }
    async fn delete_evidence(&self, citizen_id: &CitizenId, id: &EvidenceId) -> tresor::store::Result<bool> {
        self.inner.delete_evidence(citizen_id, id).await
    }
    async fn audit_size(&self) -> tresor::store::Result<u64> {
        if self.faults.size_unreadable.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected fault: database unreachable".to_owned()));
        }
        self.inner.audit_size().await
    }
    async fn audit_leaf_hashes(&self, from: u64, to: u64) -> tresor::store::Result<Vec<[u8; 32]>> {
        let leaves = self.inner.audit_leaf_hashes(from, to).await?;
        self.faults.leaves_read.fetch_add(leaves.len() as u64, Ordering::SeqCst);
        Ok(leaves)
    }
    async fn audit_tree_size(&self) -> tresor::store::Result<u64> {
        self.inner.audit_tree_size().await
    }
    async fn audit_nodes(&self, nodes: &[tresor::store::TreeNode]) -> tresor::store::Result<Vec<[u8; 32]>> {
        self.faults.nodes_read.fetch_add(nodes.len() as u64, Ordering::SeqCst);
        self.inner.audit_nodes(nodes).await
    }
    async fn extend_audit_tree(
        &self,
        from: u64,
        to: u64,
        nodes: &[(tresor::store::TreeNode, [u8; 32])],
    ) -> tresor::store::Result<()> {
        self.inner.extend_audit_tree(from, to, nodes).await
    }
    async fn audit_entries(
        &self,
        filter: &AuditFilter,
        limit: u32,
        after_sequence: Option<u64>,
    ) -> tresor::store::Result<Vec<StoredAuditEntry>> {
        self.inner.audit_entries(filter, limit, after_sequence).await
    }
    async fn audit_entries_newest_first(
        &self,
        filter: &AuditFilter,
        limit: u32,
        before_sequence: Option<u64>,
    ) -> tresor::store::Result<Vec<StoredAuditEntry>> {
        self.inner.audit_entries_newest_first(filter, limit, before_sequence).await
    }
    async fn prune_audit_bodies(&self, before: DateTime<Utc>) -> tresor::store::Result<u64> {
        self.inner.prune_audit_bodies(before).await
    }
    async fn insert_checkpoint(
        &self,
        size: u64,
        root: &[u8],
        signed_note: &str,
        created_at: DateTime<Utc>,
    ) -> tresor::store::Result<()> {
        self.inner.insert_checkpoint(size, root, signed_note, created_at).await
    }
    async fn latest_checkpoint(&self) -> tresor::store::Result<Option<(u64, String)>> {
        self.inner.latest_checkpoint().await
    }
    async fn checkpoint_note(&self, size: u64) -> tresor::store::Result<Option<String>> {
        self.inner.checkpoint_note(size).await
    }
    async fn insert_cosignature(
        &self,
        size: u64,
        witness: &str,
        lines: &str,
        created_at: chrono::DateTime<chrono::Utc>,
    ) -> tresor::store::Result<()> {
        self.inner.insert_cosignature(size, witness, lines, created_at).await
    }
    async fn recent_cosignatures(&self, limit: u32) -> tresor::store::Result<Vec<(u64, String, String)>> {
        self.inner.recent_cosignatures(limit).await
    }
    async fn cosignatures(&self, size: u64) -> tresor::store::Result<Vec<(String, String)>> {
        self.inner.cosignatures(size).await
    }
    async fn checkpoints(&self) -> tresor::store::Result<Vec<(u64, String)>> {
        self.inner.checkpoints().await
    }
    async fn checkpoint_after(&self, size: u64) -> tresor::store::Result<Option<(u64, DateTime<Utc>)>> {
        self.inner.checkpoint_after(size).await
    }
    async fn audit_entry_time(&self, sequence: u64) -> tresor::store::Result<Option<DateTime<Utc>>> {
        self.inner.audit_entry_time(sequence).await
    }
    fn pool_status(&self) -> Option<tresor::store::PoolStatus> {
        self.inner.pool_status()
    }
    async fn insert_staff_session(&self, session: &StaffSessionRecord) -> tresor::store::Result<()> {
        self.inner.insert_staff_session(session).await
    }
    async fn staff_session(&self, id_hash: &[u8]) -> tresor::store::Result<Option<StaffSessionRecord>> {
        self.inner.staff_session(id_hash).await
    }
    async fn touch_staff_session(&self, id_hash: &[u8], at: DateTime<Utc>) -> tresor::store::Result<()> {
        self.inner.touch_staff_session(id_hash, at).await
    }
    async fn delete_staff_session(&self, id_hash: &[u8]) -> tresor::store::Result<()> {
        self.inner.delete_staff_session(id_hash).await
    }
    async fn insert_feedback(&self, feedback: &tresor::store::FeedbackRecord) -> tresor::store::Result<i64> {
        self.inner.insert_feedback(feedback).await
    }
    async fn feedback_newest_first(
        &self,
        limit: u32,
        before_id: Option<i64>,
    ) -> tresor::store::Result<Vec<tresor::store::FeedbackRecord>> {
        self.inner.feedback_newest_first(limit, before_id).await
    }
    async fn kek_versions_in_use(&self) -> tresor::store::Result<std::collections::BTreeMap<u32, u64>> {
        self.inner.kek_versions_in_use().await
    }
    async fn wrapped_keys_not_under(
        &self,
        table: tresor::store::WrappedKeyTable,
        version: u32,
        after: Option<&[u8]>,
        limit: u32,
    ) -> tresor::store::Result<Vec<tresor::store::WrappedKeyRecord>> {
        self.inner.wrapped_keys_not_under(table, version, after, limit).await
    }
    async fn rewrap_keys(&self, rewraps: &[tresor::store::KeyRewrap]) -> tresor::store::Result<u64> {
        self.inner.rewrap_keys(rewraps).await
    }
}
