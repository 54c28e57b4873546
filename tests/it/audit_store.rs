//! Audit log store and group commit: every case is written once against a
//! `Backend` (the store plus its database URL, for a second "process" and for
//! raw SQL behind the store's back) and run on a fresh SQLite file and a
//! fresh PostgreSQL database.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection;
use tresor::audit::append::append_events;
use tresor::audit::log::{AuditError, AuditLog};
use tresor::audit::{Action, Actor, AuditEntry, AuditEvent, Outcome, Targets};
use tresor::clock::{Clock, ManualClock};
use tresor::store::{ActorKind, AuditFilter, Store, StoreError, StoredAuditEntry};

use crate::support::failing_store::FailingAuditStore;

/// Generates `sqlite::<case>` and `postgres::<case>` for each case.
macro_rules! audit_conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (directory, store) = crate::support::postgres::sqlite_store().await;
                    let url = format!("sqlite://{}", crate::support::postgres::sqlite_path(&directory).display());
                    super::$case(super::Backend { store, url }).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (database, store) = crate::support::postgres::postgres_store().await;
                    super::$case(super::Backend { store, url: database.url.clone() }).await;
                    database.drop_database().await;
                }
            )*
        }
    };
}

audit_conformance!(
    sequences_are_gapless_across_batches,
    stored_entries_match_the_returned_entries,
    times_are_truncated_to_stored_precision,
    empty_batch_changes_nothing,
    leaf_hash_ranges,
    a_failed_transaction_stores_nothing,
    concurrent_appends_share_transactions,
    a_failed_batch_fails_every_caller,
    a_broken_log_fails_closed,
    shutdown_commits_what_was_queued,
    two_processes_form_one_sequence,
    filters_select_matching_entries,
    pages_follow_after_sequence,
    pruning_keeps_leaf_hashes_and_size,
    checkpoints_round_trip,
    raw_updates_of_entries_are_refused,
    raw_deletes_are_refused,
    the_stored_tree_gives_proofs_across_restarts,
    times_never_decrease_and_time_ranges_are_sequence_ranges,
);

// --- fixtures ---------------------------------------------------------------

/// A store plus the URL of its database.
pub struct Backend {
    pub store: Arc<dyn Store>,
    pub url: String,
}

impl Backend {
    /// Another store on the same database: what a second tresor process sees.
    async fn second_store(&self) -> Arc<dyn Store> {
        tresor::store::open(&self.url).await.expect("open a second store on the same database")
    }

    /// Run one statement on a connection of its own, behind the store's back.
    async fn raw_execute(&self, statement: &str) -> Result<u64, sqlx::Error> {
        let statement = sqlx::AssertSqlSafe(statement.to_owned());
        if self.url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.url).await?;
            let result = sqlx::query(statement).execute(&mut connection).await;
            connection.close().await.ok();
            Ok(result?.rows_affected())
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.url).await?;
            let result = sqlx::query(statement).execute(&mut connection).await;
            connection.close().await.ok();
            Ok(result?.rows_affected())
        }
    }

    async fn assert_refused(&self, statement: &str) {
        match self.raw_execute(statement).await {
            Err(error) => assert!(
                error.to_string().contains("append-only") || error.to_string().contains("only moves forward"),
                "{statement}: refused for the wrong reason: {error}"
            ),
            Ok(rows) => panic!("{statement}: accepted ({rows} rows)"),
        }
    }
}

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("test timestamp in range")
}

/// 2024-05-01T12:00:00.123456Z.
const T0: i64 = 1_714_564_800_123_456;
const SECOND: i64 = 1_000_000;

/// A release of citizen `subject`'s fields to department `department`.
fn release(subject: &str, department: &str, service: &str) -> AuditEvent {
    AuditEvent {
        actor: Actor::Department(department.to_owned()),
        action: Action::Release,
        targets: Targets {
            subject: Some(subject.to_owned()),
            evidence: vec!["0123456789abcdef0123456789abcdef".to_owned()],
            fields: vec!["einkommen".to_owned(), "miete".to_owned()],
            grant: Some("fedcba9876543210fedcba9876543210".to_owned()),
            department: None,
            grant_use: None,
            service: Some(service.to_owned()),
        },
        outcome: Outcome::Success,
        reason: None,
    }
}

fn login(citizen: &str, outcome: Outcome) -> AuditEvent {
    AuditEvent {
        actor: Actor::Citizen(citizen.to_owned()),
        action: Action::Login,
        targets: Targets { subject: Some(citizen.to_owned()), ..Targets::default() },
        outcome,
        reason: (outcome != Outcome::Success).then(|| "login_level_too_low".to_owned()),
    }
}

fn numbered(tag: &str, n: usize) -> AuditEvent {
    AuditEvent {
        actor: Actor::Staff(format!("{tag}-{n}")),
        action: Action::AuditQuery,
        targets: Targets::default(),
        outcome: Outcome::Success,
        reason: None,
    }
}

fn system_event() -> AuditEvent {
    AuditEvent {
        actor: Actor::System,
        action: Action::PolicyLoad,
        targets: Targets::default(),
        outcome: Outcome::Success,
        reason: Some("startup".to_owned()),
    }
}

fn clock() -> Arc<dyn Clock> {
    Arc::new(ManualClock::new(at(T0)))
}

fn sequences(entries: &[AuditEntry]) -> Vec<u64> {
    entries.iter().map(|entry| entry.sequence).collect()
}

async fn all_entries(store: &Arc<dyn Store>) -> Vec<StoredAuditEntry> {
    store.audit_entries(&AuditFilter::default(), u32::MAX, None).await.expect("list entries")
}

async fn append_at(store: &Arc<dyn Store>, micros: i64, events: Vec<AuditEvent>) -> Vec<AuditEntry> {
    let batch: Vec<_> = events.into_iter().map(|event| (at(micros), event)).collect();
    append_events(store.as_ref(), &batch).await.expect("append")
}

// --- store cases ----------------------------------------------------------------

async fn sequences_are_gapless_across_batches(backend: Backend) {
    let store = &backend.store;
    assert_eq!(store.audit_size().await.expect("size"), 0);
    let first = append_at(store, T0, vec![numbered("a", 0)]).await;
    let second = append_at(store, T0, (0..5).map(|n| numbered("b", n)).collect()).await;
    let third = append_at(store, T0, (0..3).map(|n| numbered("c", n)).collect()).await;
    assert_eq!(sequences(&first), vec![0]);
    assert_eq!(sequences(&second), vec![1, 2, 3, 4, 5]);
    assert_eq!(sequences(&third), vec![6, 7, 8]);
    // The entries come back in the order the events were given.
    for (n, entry) in second.iter().enumerate() {
        assert_eq!(entry.event, numbered("b", n));
    }
    assert_eq!(store.audit_size().await.expect("size"), 9);
    let stored: Vec<i64> = all_entries(store).await.iter().map(|entry| entry.sequence).collect();
    assert_eq!(stored, (0..9).collect::<Vec<i64>>());
}

async fn stored_entries_match_the_returned_entries(backend: Backend) {
    let store = &backend.store;
    let events = vec![
        release("citizen-1", "wohngeldstelle", "wohngeld"),
        login("citizen-2", Outcome::Refused),
        system_event(),
        AuditEvent {
            targets: Targets { department: Some("kita-amt".to_owned()), ..Targets::default() },
            ..numbered("staff", 1)
        },
    ];
    let returned = append_at(store, T0, events.clone()).await;
    let stored = all_entries(store).await;
    assert_eq!(stored.len(), returned.len());
    for ((entry, row), event) in returned.iter().zip(&stored).zip(&events) {
        assert_eq!(&entry.event, event);
        assert_eq!(entry.time, at(T0));
        assert_eq!(row.sequence as u64, entry.sequence);
        assert_eq!(row.time, entry.time);
        assert_eq!(row.leaf_hash, entry.leaf_hash().to_vec(), "leaf hash of the returned entry");
        assert_eq!(row.leaf_hash, tresor::audit::merkle::leaf_hash(&entry.canonical_body()).to_vec());
        assert_eq!(row.body.as_deref(), Some(entry.canonical_body().as_slice()), "body is the canonical body");
        let parsed = AuditEntry::from_stored(row).expect("body present").expect("body parses");
        assert_eq!(&parsed, entry, "body round-trips to the returned entry");
    }
    // The indexed columns are copies of the body's fields.
    assert_eq!(stored[0].subject.as_deref(), Some("citizen-1"));
    assert_eq!(stored[0].actor_kind, "department");
    assert_eq!(stored[0].actor_id.as_deref(), Some("wohngeldstelle"));
    assert_eq!(stored[0].action, "release");
    assert_eq!(stored[0].outcome, "success");
    assert_eq!(stored[0].department.as_deref(), Some("wohngeldstelle"), "the acting department");
    assert_eq!(stored[0].service.as_deref(), Some("wohngeld"));
    assert_eq!(stored[1].actor_kind, "citizen");
    assert_eq!(stored[1].action, "login");
    assert_eq!(stored[1].outcome, "refused");
    assert_eq!(stored[1].department, None);
    assert_eq!(stored[2].actor_kind, "system");
    assert_eq!(stored[2].actor_id, None);
    assert_eq!(stored[2].subject, None);
    assert_eq!(stored[3].actor_kind, "staff");
    assert_eq!(stored[3].department.as_deref(), Some("kita-amt"), "the target department");
    let leaves = store.audit_leaf_hashes(0, 4).await.expect("leaves");
    assert_eq!(leaves, returned.iter().map(AuditEntry::leaf_hash).collect::<Vec<_>>());
}

async fn times_are_truncated_to_stored_precision(backend: Backend) {
    let store = &backend.store;
    let precise = at(T0) + chrono::Duration::nanoseconds(789);
    let returned = append_events(store.as_ref(), &[(precise, system_event())]).await.expect("append");
    assert_eq!(returned[0].time, at(T0), "the entry carries the time as stored");
    let stored = all_entries(store).await;
    assert_eq!(stored[0].time, at(T0));
    assert_eq!(AuditEntry::from_stored(&stored[0]).expect("body").expect("parses"), returned[0]);
    assert_eq!(stored[0].leaf_hash, returned[0].leaf_hash().to_vec());
}

/// A clock that goes back (another node's, or after a correction) never
/// makes an entry older than the one before it; so a time range is exactly
/// a range of sequences, and queries by time find every entry in it.
async fn times_never_decrease_and_time_ranges_are_sequence_ranges(backend: Backend) {
    let store = &backend.store;
    append_at(store, T0 + 10 * SECOND, vec![numbered("t", 0)]).await; // 0
    let behind = append_at(store, T0, vec![numbered("t", 1), numbered("t", 2)]).await; // 1, 2
    assert_eq!(behind.iter().map(|entry| entry.time).collect::<Vec<_>>(), vec![at(T0 + 10 * SECOND); 2]);
    let second = backend.second_store().await;
    append_at(&second, T0 + 5 * SECOND, vec![numbered("t", 3)]).await; // 3, another process's clock
    append_at(store, T0 + 20 * SECOND, vec![numbered("t", 4)]).await; // 4
    append_at(store, T0 + 30 * SECOND, vec![numbered("t", 5)]).await; // 5
    let stored = all_entries(store).await;
    let times: Vec<DateTime<Utc>> = stored.iter().map(|entry| entry.time).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{times:?}");
    for entry in &stored {
        assert_eq!(
            AuditEntry::from_stored(entry).expect("body").expect("parses").time,
            entry.time,
            "the hashed time is the stored one"
        );
    }
    let in_range = async |from: i64, until: i64| -> (Vec<i64>, Vec<i64>) {
        let filter = AuditFilter { from: Some(at(from)), until: Some(at(until)), ..AuditFilter::default() };
        let oldest = store.audit_entries(&filter, 100, None).await.expect("query");
        let newest = store.audit_entries_newest_first(&filter, 100, None).await.expect("query");
        (oldest.iter().map(|e| e.sequence).collect(), newest.iter().map(|e| e.sequence).collect())
    };
    assert_eq!(in_range(T0 + 10 * SECOND, T0 + 11 * SECOND).await, (vec![0, 1, 2, 3], vec![3, 2, 1, 0]));
    assert_eq!(in_range(T0, T0 + 20 * SECOND).await, (vec![0, 1, 2, 3], vec![3, 2, 1, 0]));
    assert_eq!(in_range(T0 + 15 * SECOND, T0 + 40 * SECOND).await, (vec![4, 5], vec![5, 4]));
    assert_eq!(in_range(T0 + 20 * SECOND, T0 + 30 * SECOND).await, (vec![4], vec![4]));
    assert_eq!(in_range(T0 + 31 * SECOND, T0 + 40 * SECOND).await, (vec![], vec![]), "after the newest");
    assert_eq!(in_range(T0 - 10 * SECOND, T0).await, (vec![], vec![]), "before the oldest");
    // With a page boundary inside the range.
    let filter =
        AuditFilter { from: Some(at(T0 + 10 * SECOND)), until: Some(at(T0 + 25 * SECOND)), ..AuditFilter::default() };
    let page = store.audit_entries_newest_first(&filter, 2, Some(3)).await.expect("page");
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![2, 1]);
}

async fn empty_batch_changes_nothing(backend: Backend) {
    let store = &backend.store;
    assert!(append_events(store.as_ref(), &[]).await.expect("empty append").is_empty());
    assert_eq!(store.audit_size().await.expect("size"), 0);
    append_at(store, T0, vec![system_event()]).await;
    assert!(append_events(store.as_ref(), &[]).await.expect("empty append").is_empty());
    assert_eq!(store.audit_size().await.expect("size"), 1);
    assert_eq!(sequences(&append_at(store, T0, vec![system_event()]).await), vec![1]);
}

async fn leaf_hash_ranges(backend: Backend) {
    let store = &backend.store;
    assert!(store.audit_leaf_hashes(0, 10).await.expect("empty log").is_empty());
    let entries = append_at(store, T0, (0..6).map(|n| numbered("leaf", n)).collect()).await;
    let hashes: Vec<[u8; 32]> = entries.iter().map(AuditEntry::leaf_hash).collect();
    assert_eq!(store.audit_leaf_hashes(0, 6).await.expect("all"), hashes);
    assert_eq!(store.audit_leaf_hashes(2, 5).await.expect("middle"), hashes[2..5]);
    assert!(store.audit_leaf_hashes(3, 3).await.expect("empty range").is_empty());
    assert_eq!(store.audit_leaf_hashes(4, 100).await.expect("cut at size"), hashes[4..]);
    assert!(store.audit_leaf_hashes(9, 12).await.expect("beyond size").is_empty());
    assert!(store.audit_leaf_hashes(u64::MAX - 1, u64::MAX).await.expect("far beyond").is_empty());
}

/// A real database fault in the middle of a batch (a row planted behind the
/// store's back collides with the third sequence number): the whole
/// transaction rolls back, the head does not move.
async fn a_failed_transaction_stores_nothing(backend: Backend) {
    let store = &backend.store;
    append_at(store, T0, vec![numbered("ok", 0), numbered("ok", 1)]).await;
    let planted = backend
        .raw_execute(
            "INSERT INTO audit_entries (sequence, time, leaf_hash, actor_kind, action, outcome) \
             SELECT 4, time, leaf_hash, actor_kind, action, outcome FROM audit_entries WHERE sequence = 0",
        )
        .await
        .expect("plant a row at sequence 4");
    assert_eq!(planted, 1);
    let batch: Vec<_> = (0..3).map(|n| (at(T0), numbered("doomed", n))).collect();
    assert!(matches!(append_events(store.as_ref(), &batch).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.audit_size().await.expect("size"), 2, "head unchanged");
    let stored: Vec<i64> = all_entries(store).await.iter().map(|entry| entry.sequence).collect();
    assert_eq!(stored, vec![0, 1, 4], "nothing of the failed batch is stored");
    // A smaller batch that ends before the planted row still fits.
    assert_eq!(sequences(&append_at(store, T0, vec![numbered("fits", 0)]).await), vec![2]);
}

// --- group commit cases -----------------------------------------------------------

async fn concurrent_appends_share_transactions(backend: Backend) {
    const TASKS: usize = 64;
    const PER_TASK: usize = 4;
    let log = AuditLog::start(backend.store.clone(), clock(), 256);
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut entries = Vec::new();
            for n in 0..PER_TASK {
                let event = numbered(&format!("task{task}"), n);
                let entry = log.append(event.clone()).await.expect("durable append");
                assert_eq!(entry.event, event, "each caller gets its own entry");
                entries.push(entry);
            }
            entries
        }));
    }
    let mut seen = BTreeSet::new();
    for task in tasks {
        for entry in task.await.expect("task") {
            assert!(seen.insert(entry.sequence), "sequence {} handed out twice", entry.sequence);
        }
    }
    let total = (TASKS * PER_TASK) as u64;
    assert_eq!(seen, (0..total).collect::<BTreeSet<u64>>(), "distinct, consecutive sequence numbers");
    assert_eq!(log.entries_committed(), total);
    let batches = log.batches_committed();
    assert!(batches >= 1 && batches < total, "{batches} transactions for {total} appends: no group commit");
    assert_eq!(backend.store.audit_size().await.expect("size"), total);
    // Every acknowledged entry is stored exactly as acknowledged.
    for stored in all_entries(&backend.store).await {
        let entry = AuditEntry::from_stored(&stored).expect("body").expect("parses");
        assert_eq!(stored.leaf_hash, entry.leaf_hash().to_vec());
    }
    log.shutdown().await;
}

async fn a_failed_batch_fails_every_caller(backend: Backend) {
    let faulty = FailingAuditStore::new(backend.store.clone());
    let log = AuditLog::start(faulty.clone(), clock(), 256);
    for n in 0..3 {
        log.append(numbered("before", n)).await.expect("append before the fault");
    }
    faulty.failing.store(true, Ordering::SeqCst);
    let mut waiting = Vec::new();
    for n in 0..20 {
        let log = log.clone();
        waiting.push(tokio::spawn(async move { log.append(numbered("during", n)).await }));
    }
    for task in waiting {
        let result = task.await.expect("task");
        assert!(matches!(result, Err(AuditError::Store(_))), "acknowledged during a fault: {result:?}");
    }
    let failed_batches = faulty.failed_batches.lock().unwrap().clone();
    assert_eq!(failed_batches.iter().sum::<usize>(), 20, "every event was tried");
    assert!(failed_batches.iter().any(|&events| events > 1), "a multi-event batch failed: {failed_batches:?}");
    assert_eq!(backend.store.audit_size().await.expect("size"), 3, "the size did not change");
    assert_eq!(log.entries_committed(), 3);

    faulty.failing.store(false, Ordering::SeqCst);
    let after = log.append(numbered("after", 0)).await.expect("append after recovery");
    assert_eq!(after.sequence, 3, "no gap after a failed batch");
    log.shutdown().await;
}

/// A real fault this time: a row planted behind the store's back makes every
/// transaction fail; the log acknowledges nothing until it is fixed (never).
async fn a_broken_log_fails_closed(backend: Backend) {
    let log = AuditLog::start(backend.store.clone(), clock(), 64);
    log.append(numbered("ok", 0)).await.expect("first append");
    backend
        .raw_execute(
            "INSERT INTO audit_entries (sequence, time, leaf_hash, actor_kind, action, outcome) \
             SELECT 1, time, leaf_hash, actor_kind, action, outcome FROM audit_entries WHERE sequence = 0",
        )
        .await
        .expect("plant a row at the next sequence number");
    let mut waiting = Vec::new();
    for n in 0..16 {
        let log = log.clone();
        waiting.push(tokio::spawn(async move { log.append(numbered("blocked", n)).await }));
    }
    for task in waiting {
        assert!(matches!(task.await.expect("task"), Err(AuditError::Store(_))));
    }
    assert_eq!(backend.store.audit_size().await.expect("size"), 1);
    log.shutdown().await;
}

async fn shutdown_commits_what_was_queued(backend: Backend) {
    let log = AuditLog::start(backend.store.clone(), clock(), 8);
    let mut waiting = Vec::new();
    for n in 0..50 {
        let log = log.clone();
        waiting.push(tokio::spawn(async move { log.append(numbered("queued", n)).await }));
    }
    let late = log.clone();
    // Let the tasks queue up (the channel holds 16; the rest wait to send).
    tokio::time::sleep(Duration::from_millis(20)).await;
    log.shutdown().await;
    let mut acknowledged = BTreeSet::new();
    for task in waiting {
        match task.await.expect("task") {
            Ok(entry) => assert!(acknowledged.insert(entry.sequence)),
            Err(AuditError::Closed) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(!acknowledged.is_empty());
    let size = backend.store.audit_size().await.expect("size");
    assert_eq!(acknowledged, (0..size).collect::<BTreeSet<u64>>(), "acknowledged == stored");
    assert!(matches!(late.append(system_event()).await, Err(AuditError::Closed)), "closed for every clone");
    assert_eq!(backend.store.audit_size().await.expect("size"), size);
}

/// Two stores on one database (two tresor processes), each with its own
/// group-commit log, appending at the same time: one gapless sequence.
async fn two_processes_form_one_sequence(backend: Backend) {
    const TASKS_PER_PROCESS: usize = 16;
    const PER_TASK: usize = 10;
    let other = backend.second_store().await;
    let logs = [AuditLog::start(backend.store.clone(), clock(), 256), AuditLog::start(other.clone(), clock(), 256)];
    let mut tasks = Vec::new();
    for (process, log) in logs.iter().enumerate() {
        for task in 0..TASKS_PER_PROCESS {
            let log = log.clone();
            tasks.push(tokio::spawn(async move {
                let mut sequences = Vec::new();
                for n in 0..PER_TASK {
                    sequences
                        .push(log.append(numbered(&format!("p{process}t{task}"), n)).await.expect("append").sequence);
                }
                sequences
            }));
        }
    }
    // Direct batches through both stores at the same time, too.
    let direct = [backend.store.clone(), other.clone()].map(|store| {
        tokio::spawn(async move {
            let mut sequences = Vec::new();
            for round in 0..10 {
                let batch: Vec<_> = (0..3).map(|n| (at(T0), numbered(&format!("direct{round}"), n))).collect();
                let entries = append_events(store.as_ref(), &batch).await.expect("direct append");
                assert_eq!(entries[2].sequence, entries[0].sequence + 2, "a batch is consecutive");
                sequences.extend(entries.iter().map(|entry| entry.sequence));
            }
            sequences
        })
    });
    let mut all = Vec::new();
    for task in tasks.into_iter().chain(direct) {
        all.extend(task.await.expect("task"));
    }
    let total = (2 * TASKS_PER_PROCESS * PER_TASK + 2 * 10 * 3) as u64;
    all.sort_unstable();
    assert_eq!(all, (0..total).collect::<Vec<u64>>(), "one gapless sequence");
    assert_eq!(backend.store.audit_size().await.expect("size"), total);
    assert_eq!(other.audit_size().await.expect("size seen by the other process"), total);
    assert_eq!(backend.store.audit_leaf_hashes(0, total).await.expect("leaves").len() as u64, total);
    for log in logs {
        log.shutdown().await;
    }
}

// --- queries ------------------------------------------------------------------

async fn filters_select_matching_entries(backend: Backend) {
    let store = &backend.store;
    append_at(store, T0, vec![release("anna", "wohngeldstelle", "wohngeld")]).await; // 0
    append_at(store, T0 + SECOND, vec![release("bernd", "kita-amt", "kita-platz")]).await; // 1
    append_at(store, T0 + 2 * SECOND, vec![login("anna", Outcome::Success)]).await; // 2
    append_at(store, T0 + 3 * SECOND, vec![login("bernd", Outcome::Refused)]).await; // 3
    append_at(store, T0 + 4 * SECOND, vec![system_event()]).await; // 4
    append_at(store, T0 + 5 * SECOND, vec![release("anna", "kita-amt", "kita-platz")]).await; // 5

    let matching = async |filter: AuditFilter| -> Vec<i64> {
        store.audit_entries(&filter, 100, None).await.expect("query").iter().map(|entry| entry.sequence).collect()
    };
    assert_eq!(matching(AuditFilter::default()).await, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(matching(AuditFilter { subject: Some("anna".into()), ..Default::default() }).await, vec![0, 2, 5]);
    assert_eq!(matching(AuditFilter { department: Some("kita-amt".into()), ..Default::default() }).await, vec![1, 5]);
    assert_eq!(matching(AuditFilter { service: Some("wohngeld".into()), ..Default::default() }).await, vec![0]);
    assert_eq!(matching(AuditFilter { action: Some(Action::Login.as_str()), ..Default::default() }).await, vec![2, 3]);
    assert_eq!(matching(AuditFilter { outcome: Some(Outcome::Refused.as_str()), ..Default::default() }).await, vec![3]);
    assert_eq!(matching(AuditFilter { actor_kind: Some(ActorKind::System), ..Default::default() }).await, vec![4]);
    assert_eq!(
        matching(AuditFilter {
            actor_kind: Some(ActorKind::Citizen),
            actor_id: Some("bernd".into()),
            ..Default::default()
        })
        .await,
        vec![3]
    );
    assert_eq!(
        matching(AuditFilter { from: Some(at(T0 + SECOND)), until: Some(at(T0 + 4 * SECOND)), ..Default::default() })
            .await,
        vec![1, 2, 3],
        "time range is [from, until)"
    );
    assert_eq!(
        matching(AuditFilter {
            subject: Some("anna".into()),
            action: Some(Action::Release.as_str()),
            from: Some(at(T0 + SECOND)),
            ..Default::default()
        })
        .await,
        vec![5],
        "conditions combine"
    );
    assert!(matching(AuditFilter { subject: Some("nobody".into()), ..Default::default() }).await.is_empty());
    // Values are bound, never spliced into the SQL.
    assert!(matching(AuditFilter { subject: Some("' OR 1=1 --".into()), ..Default::default() }).await.is_empty());
}

async fn pages_follow_after_sequence(backend: Backend) {
    let store = &backend.store;
    for n in 0..10 {
        let event = if n % 2 == 0 { login("anna", Outcome::Success) } else { login("bernd", Outcome::Success) };
        append_at(store, T0, vec![event]).await;
    }
    let anna = AuditFilter { subject: Some("anna".into()), ..Default::default() };
    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = store.audit_entries(&anna, 2, after).await.expect("page");
        if page.is_empty() {
            break;
        }
        after = page.last().map(|entry| entry.sequence as u64);
        pages.push(page.iter().map(|entry| entry.sequence).collect::<Vec<_>>());
    }
    assert_eq!(pages, vec![vec![0, 2], vec![4, 6], vec![8]]);
    assert!(store.audit_entries(&AuditFilter::default(), 0, None).await.expect("limit 0").is_empty());
}

async fn pruning_keeps_leaf_hashes_and_size(backend: Backend) {
    let store = &backend.store;
    append_at(store, T0, vec![release("anna", "wohngeldstelle", "wohngeld")]).await;
    append_at(store, T0 + SECOND, vec![login("anna", Outcome::Success)]).await;
    append_at(store, T0 + 2 * SECOND, vec![login("anna", Outcome::Success)]).await;
    let leaves_before = store.audit_leaf_hashes(0, 3).await.expect("leaves");

    assert_eq!(store.prune_audit_bodies(at(T0 + 2 * SECOND)).await.expect("prune"), 2);
    assert_eq!(store.prune_audit_bodies(at(T0 + 2 * SECOND)).await.expect("prune again"), 0, "idempotent");
    assert_eq!(store.audit_size().await.expect("size"), 3);
    assert_eq!(store.audit_leaf_hashes(0, 3).await.expect("leaves"), leaves_before);
    let stored = all_entries(store).await;
    assert_eq!(stored[0].body, None);
    assert_eq!(stored[1].body, None);
    assert!(AuditEntry::from_stored(&stored[0]).is_none());
    assert!(stored[2].body.is_some(), "newer bodies stay");
    // The indexed columns survive, so the citizen still sees that something happened.
    let anna = store
        .audit_entries(&AuditFilter { subject: Some("anna".into()), ..Default::default() }, 10, None)
        .await
        .expect("query");
    assert_eq!(anna.len(), 3);
    assert_eq!(anna[0].action, "release");
    assert_eq!(anna[0].leaf_hash, leaves_before[0].to_vec());
    // Appending continues after pruning.
    assert_eq!(sequences(&append_at(store, T0 + 3 * SECOND, vec![system_event()]).await), vec![3]);
}

async fn checkpoints_round_trip(backend: Backend) {
    let store = &backend.store;
    assert_eq!(store.latest_checkpoint().await.expect("latest"), None);
    assert!(store.checkpoints().await.expect("list").is_empty());
    let note_7 = "tresor.example/audit\n7\nAAAA\n\n— tresor.example/audit sig7\n";
    let note_3 = "tresor.example/audit\n3\nBBBB\n\n— tresor.example/audit sig3\n";
    store.insert_checkpoint(7, &[7u8; 32], note_7, at(T0 + SECOND)).await.expect("insert 7");
    store.insert_checkpoint(3, &[3u8; 32], note_3, at(T0)).await.expect("insert 3");
    assert_eq!(store.latest_checkpoint().await.expect("latest"), Some((7, note_7.to_owned())));
    assert_eq!(store.checkpoints().await.expect("list"), vec![(3, note_3.to_owned()), (7, note_7.to_owned())]);
    match store.insert_checkpoint(7, &[0u8; 32], "other", at(T0)).await {
        Err(StoreError::Conflict(conflict)) => {
            assert_eq!(conflict, tresor::store::Conflict::Duplicate("audit_checkpoints_pkey".to_owned()))
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        store.insert_checkpoint(u64::MAX, &[0u8; 32], "huge", at(T0)).await,
        Err(StoreError::Conflict(tresor::store::Conflict::CheckpointSize))
    ));
    assert_eq!(store.latest_checkpoint().await.expect("latest"), Some((7, note_7.to_owned())), "unchanged");
}

// --- database-level protection --------------------------------------------------

async fn raw_updates_of_entries_are_refused(backend: Backend) {
    let store = &backend.store;
    append_at(store, T0, vec![login("anna", Outcome::Refused), system_event()]).await;
    let before = all_entries(store).await;
    for statement in [
        "UPDATE audit_entries SET action = 'logout' WHERE sequence = 0",
        "UPDATE audit_entries SET outcome = 'success' WHERE sequence = 0",
        "UPDATE audit_entries SET subject = NULL WHERE sequence = 0",
        "UPDATE audit_entries SET leaf_hash = (SELECT leaf_hash FROM audit_entries WHERE sequence = 1) WHERE sequence = 0",
        "UPDATE audit_entries SET body = (SELECT body FROM audit_entries WHERE sequence = 1) WHERE sequence = 0",
        "UPDATE audit_entries SET sequence = sequence + 10",
        "UPDATE audit_entries SET time = time + 1",
        "UPDATE audit_head SET last_sequence = 0",
    ] {
        backend.assert_refused(statement).await;
    }
    assert_eq!(all_entries(store).await, before, "nothing changed");
    assert_eq!(store.audit_size().await.expect("size"), 2);
    // Pruning is the one permitted change, also by hand.
    assert_eq!(backend.raw_execute("UPDATE audit_entries SET body = NULL WHERE sequence = 0").await.expect("prune"), 1);
    assert_eq!(all_entries(store).await[0].body, None);
    backend
        .assert_refused(
            "UPDATE audit_entries SET body = (SELECT body FROM audit_entries WHERE sequence = 1) WHERE sequence = 0",
        )
        .await;
}

async fn raw_deletes_are_refused(backend: Backend) {
    let store = &backend.store;
    append_at(store, T0, vec![login("anna", Outcome::Success), system_event()]).await;
    store.insert_checkpoint(2, &[2u8; 32], "note", at(T0)).await.expect("checkpoint");
    for statement in [
        "DELETE FROM audit_entries WHERE sequence = 1",
        "DELETE FROM audit_entries",
        "DELETE FROM audit_head",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_checkpoints SET signed_note = 'forged'",
    ] {
        backend.assert_refused(statement).await;
    }
    if !backend.url.starts_with("sqlite:") {
        for statement in ["TRUNCATE audit_entries", "TRUNCATE audit_checkpoints", "TRUNCATE audit_head"] {
            backend.assert_refused(statement).await;
        }
    }
    assert_eq!(store.audit_size().await.expect("size"), 2);
    assert_eq!(all_entries(store).await.len(), 2);
    assert_eq!(store.checkpoints().await.expect("checkpoints"), vec![(2, "note".to_owned())]);
}

// --- the stored tree ----------------------------------------------------------------

/// The tree's nodes are written when a checkpoint is signed: an older log
/// (entries, no nodes) gets them at its first checkpoint; after a restart,
/// a new `Audit` continues from the stored frontier; every checkpoint root
/// equals the root recomputed from all leaves; inclusion and consistency
/// proofs from the stored nodes verify; the nodes cannot be rewritten.
async fn the_stored_tree_gives_proofs_across_restarts(backend: Backend) {
    use tresor::audit::merkle::{root, verify_consistency, verify_inclusion};
    use tresor::audit::service::Audit;
    use tresor::crypto::FileKeyProvider;
    let keys: Arc<dyn tresor::crypto::KeyProvider> =
        Arc::new(FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).unwrap());
    let origin = "tresor.test/tree".to_owned();
    // An older log: 1,000 entries and no nodes.
    let log = AuditLog::start(backend.store.clone(), clock(), 256);
    for n in 0..1000 {
        log.append(numbered("old", n)).await.unwrap();
    }
    log.shutdown().await;
    assert_eq!(backend.store.audit_tree_size().await.unwrap(), 0);

    let first = Audit::start(backend.store.clone(), keys.clone(), clock(), origin.clone(), 1_000_000);
    let signed = first.checkpoint().await.unwrap().expect("a checkpoint over the old log");
    assert_eq!(signed.size, 1000);
    assert_eq!(backend.store.audit_tree_size().await.unwrap(), 1000, "its nodes were written first");
    let public_key = keys.signing_key().public_key();
    let old = tresor::audit::checkpoint::open_signed(&signed.note, &origin, &public_key).unwrap();
    let leaves = backend.store.audit_leaf_hashes(0, 1000).await.unwrap();
    assert_eq!(old.root, root(&leaves));
    first.shutdown().await;

    // A restart: a new Audit over the same store, 37 more entries.
    let second = Audit::start(backend.store.clone(), keys.clone(), clock(), origin.clone(), 1_000_000);
    for n in 0..37 {
        second.record(numbered("new", n)).await.unwrap();
    }
    let signed = second.checkpoint().await.unwrap().expect("a checkpoint after the restart");
    let new = tresor::audit::checkpoint::open_signed(&signed.note, &origin, &public_key).unwrap();
    let leaves = backend.store.audit_leaf_hashes(0, new.size).await.unwrap();
    assert_eq!(new.root, root(&leaves), "the root from the stored frontier is the root of all leaves");
    let sequences: Vec<u64> = vec![0, 1, 511, 512, 999, 1000, new.size - 1, new.size];
    let proofs = second.inclusion_proofs(new.size, &sequences).await.unwrap();
    for (sequence, proof) in sequences.iter().zip(&proofs) {
        match proof {
            Some(proof) => verify_inclusion(&leaves[*sequence as usize], *sequence, new.size, proof, &new.root)
                .unwrap_or_else(|error| panic!("proof for {sequence}: {error}")),
            None => assert_eq!(*sequence, new.size, "only the entry beyond the checkpoint has no proof"),
        }
    }
    for old_size in [1, 999, 1000] {
        let old_root = root(&leaves[..old_size as usize]);
        let proof = second.consistency_proof(old_size, new.size).await.unwrap().unwrap();
        verify_consistency(old_size, new.size, &old_root, &new.root, &proof).unwrap();
    }
    assert!(second.consistency_proof(new.size + 1, new.size).await.unwrap().is_err());
    second.shutdown().await;

    // The nodes only grow.
    backend.assert_refused("UPDATE audit_nodes SET idx = idx + 1000000").await;
    backend.assert_refused("DELETE FROM audit_nodes").await;
    backend.assert_refused("UPDATE audit_tree SET size = 0").await;
}
