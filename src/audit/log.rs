//! Group commit for audit appends: one writer (an OS thread calling the
//! store's blocking append for SQLite, a task otherwise) collects the events
//! that arrive while the previous transaction runs and commits them together
//! in one `Store::append_audit` call (one transaction, one fsync). A caller
//! gets its entry only after that commit returned.
//!
//! Architecture invariant: nothing is acknowledged that is not durable. If a
//! batch fails, every caller in it gets `Err` (and must fail closed: release
//! nothing); no caller learns a sequence number that is not stored.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::append::{self, AppendedAudit, AuditAppend};
use super::{AuditEntry, AuditEvent};
use crate::clock::Clock;
use crate::store::{BlockingAudit, GrantClaim, Store, StoreError};

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

/// Which writer commits the batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// An OS thread of its own on the store's blocking connection (SQLite).
    Thread,
    /// A task on the runtime (stores with async connections: PostgreSQL).
    Task,
}

struct Shared {
    requests: mpsc::Sender<Message>,
    /// The channel's capacity (for the queue depth).
    capacity: usize,
    writer_kind: Writer,
    counters: Arc<Counters>,
    /// Taken by the first `shutdown`.
    writer: Mutex<Option<JoinHandle<()>>>,
}

#[derive(Default)]
struct Counters {
    batches_committed: AtomicU64,
    entries_committed: AtomicU64,
    /// Wall time spent in committed `append_audit` calls.
    commit_micros: AtomicU64,
    /// Told of every committed batch (metrics); set once, after start.
    observer: std::sync::OnceLock<Arc<dyn CommitObserver>>,
}

/// Hears of every committed batch: how many entries, how long the commit
/// took. Called on the writer (thread or task) after the callers were
/// answered, so it must be cheap and must not block.
pub trait CommitObserver: Send + Sync {
    fn committed(&self, entries: usize, took: std::time::Duration);
}

// A channel slot is as large as the largest variant either way; boxing the
// append would cost an allocation per audited action.
#[allow(clippy::large_enum_variant)]
enum Message {
    Append(AppendRequest),
    /// From `shutdown`: accept nothing more, commit what is queued, end.
    Stop,
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
        let counters = Arc::new(Counters::default());
        let capacity = requests.max_capacity();
        let (writer, writer_kind) = match store.blocking_audit() {
            Some(audit) => (writer_thread(audit, clock, max_batch, receiver, counters.clone()), Writer::Thread),
            None => (tokio::spawn(write_batches(store, clock, max_batch, receiver, counters.clone())), Writer::Task),
        };
        AuditLog {
            shared: Arc::new(Shared { requests, capacity, writer_kind, counters, writer: Mutex::new(Some(writer)) }),
        }
    }

    /// Which writer this log runs.
    pub fn writer(&self) -> Writer {
        self.shared.writer_kind
    }

    /// Whether the writer still takes appends: false once it ended (after
    /// `shutdown`, or if its thread or task stopped), when every append
    /// fails with `Closed`. A channel check, no I/O.
    pub fn writer_alive(&self) -> bool {
        !self.shared.requests.is_closed()
    }

    /// Appends queued for the writer right now (waiting for a commit).
    pub fn queued(&self) -> usize {
        self.shared.capacity.saturating_sub(self.shared.requests.capacity())
    }

    /// Tell `observer` of every batch committed from now on (once; a second
    /// observer is ignored and false returned).
    pub fn observe_commits(&self, observer: Arc<dyn CommitObserver>) -> bool {
        self.shared.counters.observer.set(observer).is_ok()
    }

    /// Durable append: returns the stored entry once its transaction has
    /// committed. On `Err` the caller must fail closed (release nothing).
    /// Cancelling the future does not withdraw the event once it was queued.
    pub async fn append(&self, event: AuditEvent) -> Result<AuditEntry, AuditError> {
        Ok(self.append_claiming(event, None).await?.entry)
    }

    /// `append`, claiming one use of a grant in the same transaction (see
    /// `Store::append_audit`): if the claim fails, the stored and
    /// returned entry is the refusal, not `event`.
    pub async fn append_claiming(
        &self,
        event: AuditEvent,
        claim: Option<GrantClaim>,
    ) -> Result<AppendedAudit, AuditError> {
        let (reply, response) = oneshot::channel();
        let request = Message::Append(AppendRequest { event, claim, reply });
        self.shared.requests.send(request).await.map_err(|_| AuditError::Closed)?;
        // A dropped reply means the writer ended without answering: not durable as far as we know.
        response.await.unwrap_or(Err(AuditError::Closed))
    }

    /// Stop accepting appends, commit everything already queued, and wait for
    /// the writer to finish. Appends on any clone fail with `Closed` afterwards.
    pub async fn shutdown(self) {
        let writer = self.shared.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(writer) = writer {
            // Queued behind every append sent before it; fails only if the writer already ended.
            let _ = self.shared.requests.send(Message::Stop).await;
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

/// Run the writer on its own OS thread with the store's blocking append
/// (`Store::blocking_audit`): each commit starts as soon as the previous one
/// ended, instead of queueing behind every request task on the shared
/// runtime, and no round trip to another thread is made inside it. The group
/// commit is the one serial step of every audited action. The returned
/// handle finishes when the writer has.
fn writer_thread(
    audit: Arc<dyn BlockingAudit>,
    clock: Arc<dyn Clock>,
    max_batch: usize,
    mut receiver: mpsc::Receiver<Message>,
    counters: Arc<Counters>,
) -> JoinHandle<()> {
    let (done_sender, done) = oneshot::channel::<()>();
    // The thread logs to whatever the starting code logs to (a test's
    // captured subscriber as much as the process's global one).
    let dispatch = tracing::dispatcher::get_default(Clone::clone);
    let spawned = std::thread::Builder::new().name("tresor-audit-writer".into()).spawn(move || {
        let _dispatch = tracing::dispatcher::set_default(&dispatch);
        let _ = raise_priority();
        let mut batch = Vec::with_capacity(max_batch);
        while let Some(first) = receiver.blocking_recv() {
            collect_batch(first, &mut receiver, &mut batch, max_batch);
            if let Some((appends, replies)) = take_batch(clock.as_ref(), &mut batch) {
                let started = Instant::now();
                let result = append::append_blocking(audit.as_ref(), &appends);
                answer_batch(result, replies, started, &counters);
            }
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

/// Nice value the writer thread asks for: the commit is the serial step of
/// every audited action, so when it becomes runnable (a request queued, an
/// fsync done) it should not wait for a request task's time slice. It
/// sleeps in fsync or on the channel most of the time and cannot starve the
/// request tasks: they are what feeds it. On 2 cores this raised releases/s
/// by 6 % on average over six A/B pairs (−5 to +13 % pair by pair; README,
/// "Department releases").
const WRITER_NICE: i32 = -10;

/// Raise this thread's scheduling priority to `WRITER_NICE` where allowed
/// (root, CAP_SYS_NICE, or an RLIMIT_NICE such as systemd's `LimitNICE=-10`);
/// otherwise keep the normal priority and say so. True if raised.
fn raise_priority() -> bool {
    use thread_priority::{ThreadPriority, ThreadPriorityValue, set_current_thread_priority};
    // The crate maps 0..=99 onto nice 19..=-20 for normal threads on Linux
    // (higher is more urgent): 72 is nice -10.
    const CROSS_PLATFORM_72: u8 = 72;
    let result = ThreadPriorityValue::try_from(CROSS_PLATFORM_72).map_err(|error| error.to_owned()).and_then(|value| {
        set_current_thread_priority(ThreadPriority::Crossplatform(value)).map_err(|error| format!("{error:?}"))
    });
    match result {
        Ok(()) => {
            tracing::debug!(nice = WRITER_NICE, "audit writer thread runs at raised priority");
            true
        }
        Err(error) => {
            tracing::info!(
                %error,
                "audit writer thread keeps the normal priority (raising it needs CAP_SYS_NICE or an RLIMIT_NICE, \
                 e.g. systemd LimitNICE=-10)"
            );
            false
        }
    }
}

/// The writer as a task, for stores with async connections: take what is
/// queued (up to `max_batch`), commit it in one `Store::append_audit`,
/// answer every caller, repeat. Requests that arrive during the commit wait
/// in the channel and form the next batch.
async fn write_batches(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    max_batch: usize,
    mut receiver: mpsc::Receiver<Message>,
    counters: Arc<Counters>,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = receiver.recv().await {
        // The callers acknowledged by the previous commit are waking up right
        // now; one yield lets them queue their next append into this batch.
        tokio::task::yield_now().await;
        collect_batch(first, &mut receiver, &mut batch, max_batch);
        if let Some((appends, replies)) = take_batch(clock.as_ref(), &mut batch) {
            let started = Instant::now();
            let result = append::append(store.as_ref(), &appends).await;
            answer_batch(result, replies, started, &counters);
        }
    }
}

/// `first` and whatever else is queued, up to `max_batch` appends. A `Stop`
/// closes the channel: nothing new is accepted, what is queued still comes.
fn collect_batch(
    first: Message,
    receiver: &mut mpsc::Receiver<Message>,
    batch: &mut Vec<AppendRequest>,
    max_batch: usize,
) {
    let mut next = Some(first);
    while let Some(message) = next {
        match message {
            Message::Append(request) => batch.push(request),
            Message::Stop => receiver.close(),
        }
        if batch.len() >= max_batch {
            break;
        }
        next = receiver.try_recv().ok();
    }
}

type Replies = Vec<oneshot::Sender<Result<AppendedAudit, AuditError>>>;

/// The batch's appends (one time for all of them) and where to answer; None
/// for an empty batch.
fn take_batch(clock: &dyn Clock, batch: &mut Vec<AppendRequest>) -> Option<(Vec<AuditAppend>, Replies)> {
    if batch.is_empty() {
        return None;
    }
    // One time per batch: entries in sequence order have non-decreasing times
    // (for a monotonic clock within this process).
    let time = clock.now();
    Some(
        batch
            .drain(..)
            .map(|request| (AuditAppend { time, event: request.event, claim: request.claim }, request.reply))
            .unzip(),
    )
}

fn answer_batch(
    result: Result<Vec<AppendedAudit>, StoreError>,
    replies: Replies,
    started: Instant,
    counters: &Counters,
) {
    match result {
        Ok(entries) if entries.len() == replies.len() => {
            let took = started.elapsed();
            let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
            let count = entries.len();
            counters.commit_micros.fetch_add(micros, Ordering::Relaxed);
            counters.batches_committed.fetch_add(1, Ordering::Relaxed);
            counters.entries_committed.fetch_add(count as u64, Ordering::Relaxed);
            for (entry, reply) in entries.into_iter().zip(replies) {
                // The caller may have gone away; its entry is stored anyway.
                let _ = reply.send(Ok(entry));
            }
            if let Some(observer) = counters.observer.get() {
                observer.committed(count, took);
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

fn fail_all(replies: Replies, error: &Arc<StoreError>) {
    for reply in replies {
        let _ = reply.send(Err(AuditError::Store(error.clone())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from /proc/thread-self/stat.
    #[cfg(target_os = "linux")]
    fn current_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("stat");
        // Fields after the command name (which may hold spaces) start after ')';
        // nice is field 19 (1-based), i.e. index 16 after ')'.
        let fields: Vec<&str> = stat.rsplit_once(')').expect("command name").1.split_whitespace().collect();
        fields[16].parse().expect("nice")
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn writer_priority_is_raised_to_the_documented_nice_or_left_alone() {
        let (before, raised, after) =
            std::thread::spawn(|| (current_nice(), raise_priority(), current_nice())).join().expect("thread");
        if raised {
            assert_eq!(after, WRITER_NICE);
        } else {
            assert_eq!(after, before, "a refused raise leaves the priority alone");
        }
    }
}
