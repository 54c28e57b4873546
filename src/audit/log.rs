//! Group commit for audit appends: one writer task collects the events that
//! arrive while the previous transaction runs and commits them together in a
//! single `Store::append_audit_claiming` call (one transaction, one fsync). A caller
//! gets its entry only after that commit returned.
//!
//! Architecture invariant: nothing is acknowledged that is not durable. If a
//! batch fails, every caller in it gets `Err` (and must fail closed: release
//! nothing); no caller learns a sequence number that is not stored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::{AuditEntry, AuditEvent};
use crate::clock::Clock;
use crate::store::{AppendedAudit, AuditAppend, GrantClaim, Store, StoreError};

/// Why an append was not acknowledged. The entry may or may not be stored
/// (a commit can fail after the database applied it); it is never released.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The batch this event was part of failed; shared by all its callers.
    #[error("audit store failed: {0}")]
    Store(Arc<StoreError>),
    /// The log was shut down (or its writer ended) before the append.
    #[error("audit log is closed")]
    Closed,
}

/// Handle to the audit log's writer task; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    shared: Arc<Shared>,
}

struct Shared {
    requests: mpsc::Sender<AppendRequest>,
    counters: Arc<Counters>,
    /// Taken by the first `shutdown`.
    stop: Mutex<Option<(oneshot::Sender<()>, JoinHandle<()>)>>,
}

#[derive(Default)]
struct Counters {
    batches_committed: AtomicU64,
    entries_committed: AtomicU64,
    /// Wall time spent in committed `append_audit_claiming` calls.
    commit_micros: AtomicU64,
}

struct AppendRequest {
    event: AuditEvent,
    claim: Option<GrantClaim>,
    reply: oneshot::Sender<Result<AppendedAudit, AuditError>>,
}

impl AuditLog {
    /// Spawns the writer task (needs a tokio runtime). At most `max_batch`
    /// events go into one transaction (at least 1); more queue for the next.
    pub fn start(store: Arc<dyn Store>, clock: Arc<dyn Clock>, max_batch: usize) -> Self {
        let max_batch = max_batch.max(1);
        // Room for a full batch being committed plus the next one forming;
        // beyond that, appenders wait (backpressure instead of unbounded memory).
        let (requests, receiver) = mpsc::channel(max_batch.saturating_mul(2));
        let (stop_sender, stop_receiver) = oneshot::channel();
        let counters = Arc::new(Counters::default());
        let writer = if store.runs_without_io_driver() {
            writer_thread(write_batches(store, clock, max_batch, receiver, stop_receiver, counters.clone()))
        } else {
            tokio::spawn(write_batches(store, clock, max_batch, receiver, stop_receiver, counters.clone()))
        };
        AuditLog { shared: Arc::new(Shared { requests, counters, stop: Mutex::new(Some((stop_sender, writer))) }) }
    }

    /// Durable append: returns the stored entry once its transaction has
    /// committed. On `Err` the caller must fail closed (release nothing).
    /// Cancelling the future does not withdraw the event once it was queued.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditEntry, AuditError> {
        Ok(self.append_claiming(event, None).await?.entry)
    }

    /// `append`, claiming one use of a grant in the same transaction (see
    /// `Store::append_audit_claiming`): if the claim fails, the stored and
    /// returned entry is the refusal, not `event`.
    pub async fn append_claiming(
        &self,
        event: AuditEvent,
        claim: Option<GrantClaim>,
    ) -> Result<AppendedAudit, AuditError> {
        let (reply, response) = oneshot::channel();
        self.shared.requests.send(AppendRequest { event, claim, reply }).await.map_err(|_| AuditError::Closed)?;
        // A dropped reply means the writer ended without answering: not durable as far as we know.
        response.await.unwrap_or(Err(AuditError::Closed))
    }

    /// Stop accepting appends, commit everything already queued, and wait for
    /// the writer to finish. Appends on any clone fail with `Closed` afterwards.
    pub async fn shutdown(self) {
        let stop = self.shared.stop.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some((stop_sender, writer)) = stop {
            let _ = stop_sender.send(());
            let _ = writer.await;
        }
    }

    /// Transactions committed so far (each holds one or more entries).
    pub fn batches_committed(&self) -> u64 {
        self.shared.counters.batches_committed.load(Ordering::Relaxed)
    }

    /// Entries committed so far.
    pub fn entries_committed(&self) -> u64 {
        self.shared.counters.entries_committed.load(Ordering::Relaxed)
    }

    /// Wall time the committed transactions took so far (for benchmarks).
    pub fn commit_time(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.shared.counters.commit_micros.load(Ordering::Relaxed))
    }
}

/// Run the writer on its own OS thread (with a one-thread runtime), so that
/// each of its database round trips resumes at once instead of queueing
/// behind every request task on the shared runtime: the group commit is the
/// one serial step of every audited action. Only for stores whose
/// connections need no tokio IO driver (`Store::runs_without_io_driver`).
/// The returned handle finishes when the writer has.
fn writer_thread(writer: impl Future<Output = ()> + Send + 'static) -> JoinHandle<()> {
    let (done_sender, done) = oneshot::channel::<()>();
    let spawned = std::thread::Builder::new().name("tresor-audit-writer".into()).spawn(move || {
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(writer),
            // Without a runtime the receiver is dropped: appends fail with `Closed`.
            Err(error) => tracing::error!(%error, "could not start the audit writer's runtime"),
        }
        let _ = done_sender.send(());
    });
    if let Err(error) = spawned {
        tracing::error!(%error, "could not start the audit writer thread; appends fail with Closed");
    }
    tokio::spawn(async move {
        let _ = done.await;
    })
}

/// The writer: take what is queued (up to `max_batch`), commit it in one
/// `append_audit`, answer every caller, repeat. Requests that arrive during
/// the commit wait in the channel and form the next batch.
async fn write_batches(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    max_batch: usize,
    mut receiver: mpsc::Receiver<AppendRequest>,
    mut stop: oneshot::Receiver<()>,
    counters: Arc<Counters>,
) {
    let mut stopping = false;
    let mut batch = Vec::with_capacity(max_batch);
    loop {
        let first = tokio::select! {
            request = receiver.recv() => request,
            _ = &mut stop, if !stopping => {
                // No new sends; recv() still yields what is queued, then None.
                receiver.close();
                stopping = true;
                continue;
            }
        };
        let Some(first) = first else { break };
        batch.push(first);
        // The callers acknowledged by the previous commit are waking up right
        // now; one yield lets them queue their next append into this batch.
        tokio::task::yield_now().await;
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        commit_batch(store.as_ref(), clock.as_ref(), &mut batch, &counters).await;
    }
}

async fn commit_batch(store: &dyn Store, clock: &dyn Clock, batch: &mut Vec<AppendRequest>, counters: &Counters) {
    // One time per batch: entries in sequence order have non-decreasing times
    // (for a monotonic clock within this process).
    let time = clock.now();
    let (appends, replies): (Vec<_>, Vec<_>) = batch
        .drain(..)
        .map(|request| (AuditAppend { time, event: request.event, claim: request.claim }, request.reply))
        .unzip();
    let started = std::time::Instant::now();
    match store.append_audit_claiming(&appends).await {
        Ok(entries) if entries.len() == replies.len() => {
            let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            counters.commit_micros.fetch_add(micros, Ordering::Relaxed);
            counters.batches_committed.fetch_add(1, Ordering::Relaxed);
            counters.entries_committed.fetch_add(entries.len() as u64, Ordering::Relaxed);
            for (entry, reply) in entries.into_iter().zip(replies) {
                // The caller may have gone away; its entry is stored anyway.
                let _ = reply.send(Ok(entry));
            }
        }
        Ok(entries) => {
            let error = Arc::new(StoreError::Corrupt(format!(
                "append_audit returned {} entries for {} events",
                entries.len(),
                replies.len()
            )));
            tracing::error!(%error, "audit append failed");
            fail_all(replies, &error);
        }
        Err(error) => {
            let error = Arc::new(error);
            tracing::error!(%error, events = replies.len(), "audit append failed");
            fail_all(replies, &error);
        }
    }
}

fn fail_all(replies: Vec<oneshot::Sender<Result<AppendedAudit, AuditError>>>, error: &Arc<StoreError>) {
    for reply in replies {
        let _ = reply.send(Err(AuditError::Store(error.clone())));
    }
}
