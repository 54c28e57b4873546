//! `tresor audit verify` and `export` against real SQLite and PostgreSQL
//! databases: an untouched log verifies, and every way an attacker with
//! database access can change it (after dropping the append-only triggers,
//! as such an attacker would) is detected and named by index or size.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use sqlx::Connection;
use tresor::audit::append::append_events;
use tresor::audit::checkpoint::Checkpoint;
use tresor::audit::log::AuditLog;
use tresor::audit::merkle::{self, Hash};
use tresor::audit::verify::{self, CSV_HEADER, ExportFormat, PAGE_SIZE, VerifyError, VerifyReport};
use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use tresor::clock::ManualClock;
use tresor::crypto::{FileKeyProvider, KeyProvider};
use tresor::store::{AuditFilter, Store, StoredAuditEntry};

/// Generates `sqlite::<case>` and `postgres::<case>` for each case.
macro_rules! verify_cases {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (directory, store) = crate::support::postgres::sqlite_store().await;
                    let url = format!("sqlite://{}", crate::support::postgres::sqlite_path(&directory).display());
                    super::$case(super::Backend { store, url }).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (database, store) = crate::support::postgres::postgres_store().await;
                    super::$case(super::Backend { store, url: database.url.clone() }).await;
                    database.drop_database().await;
                }
            )*
        }
    };
}

verify_cases!(
    an_untouched_log_verifies,
    an_empty_log_verifies,
    an_edited_body_names_its_index,
    an_edit_with_a_recomputed_leaf_hash_breaks_the_next_checkpoint,
    an_edited_column_names_index_and_column,
    a_deleted_entry_names_its_index,
    swapped_entries_name_the_first_index,
    a_truncated_tail_leaves_a_checkpoint_beyond_the_log,
    a_truncated_tail_without_checkpoint_is_caught_by_head_or_saved_checkpoint,
    a_replaced_checkpoint_signature_names_its_size,
    pruned_bodies_still_verify,
    a_saved_checkpoint_verifies_against_the_grown_log,
    a_forged_saved_checkpoint_fails,
    tampering_is_found_across_page_boundaries,
    export_writes_csv_and_json_lines,
    export_refuses_an_edited_body,
);

const ORIGIN: &str = "tresor.example-stadt.de/audit";
/// Entries in the standard test log; checkpoints at 10, 20 and 30.
const LOG_SIZE: u64 = 30;
/// 2024-05-01T12:00:00.123456Z; entry i is at T0 + i seconds.
const T0: i64 = 1_714_564_800_123_456;
const SECOND: i64 = 1_000_000;

// --- fixtures ---------------------------------------------------------------

pub struct Backend {
    pub store: Arc<dyn Store>,
    pub url: String,
}

/// A value bound into a raw statement.
enum Value {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
}

impl Backend {
    fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }

    /// Run one statement on a connection of its own, behind the store's back:
    /// what an attacker with database access does. `?` placeholders.
    async fn raw(&self, statement: &str, values: Vec<Value>) -> u64 {
        if self.is_sqlite() {
            let mut connection = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            let mut query = sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()));
            for value in values {
                query = match value {
                    Value::Int(value) => query.bind(value),
                    Value::Bytes(value) => query.bind(value),
                    Value::Text(value) => query.bind(value),
                };
            }
            let result = query.execute(&mut connection).await;
            connection.close().await.ok();
            result.unwrap_or_else(|error| panic!("{statement}: {error}")).rows_affected()
        } else {
            let mut numbered = String::new();
            for (position, part) in statement.split('?').enumerate() {
                if position > 0 {
                    numbered.push_str(&format!("${position}"));
                }
                numbered.push_str(part);
            }
            let mut connection = sqlx::PgConnection::connect(&self.url).await.unwrap();
            let mut query = sqlx::query(sqlx::AssertSqlSafe(numbered));
            for value in values {
                query = match value {
                    Value::Int(value) => query.bind(value),
                    Value::Bytes(value) => query.bind(value),
                    Value::Text(value) => query.bind(value),
                };
            }
            let result = query.execute(&mut connection).await;
            connection.close().await.ok();
            result.unwrap_or_else(|error| panic!("{statement}: {error}")).rows_affected()
        }
    }

    /// Drop the append-only triggers, as an attacker with DDL rights would.
    async fn drop_guards(&self) {
        let statements: &[&str] = if self.is_sqlite() {
            &[
                "DROP TRIGGER audit_entries_append_only_update",
                "DROP TRIGGER audit_entries_append_only_delete",
                "DROP TRIGGER audit_checkpoints_append_only_update",
                "DROP TRIGGER audit_checkpoints_append_only_delete",
                "DROP TRIGGER audit_head_forward_only_update",
            ]
        } else {
            &[
                "DROP TRIGGER audit_entries_append_only ON audit_entries",
                "DROP TRIGGER audit_checkpoints_append_only ON audit_checkpoints",
                "DROP TRIGGER audit_head_forward_only ON audit_head",
            ]
        };
        for statement in statements {
            self.raw(statement, Vec::new()).await;
        }
    }

    async fn row(&self, sequence: u64) -> StoredAuditEntry {
        let after = sequence.checked_sub(1);
        let rows = self.store.audit_entries(&AuditFilter::default(), 1, after).await.unwrap();
        let row = rows.into_iter().next().unwrap();
        assert_eq!(row.sequence as u64, sequence);
        row
    }

    /// Overwrite body and leaf hash of one entry.
    async fn set_body(&self, sequence: u64, body: &[u8], leaf_hash: &[u8]) {
        let updated = self
            .raw(
                "UPDATE audit_entries SET body = ?, leaf_hash = ? WHERE sequence = ?",
                vec![Value::Bytes(body.to_vec()), Value::Bytes(leaf_hash.to_vec()), Value::Int(sequence as i64)],
            )
            .await;
        assert_eq!(updated, 1);
    }
}

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap()
}

fn keys() -> FileKeyProvider {
    FileKeyProvider::ephemeral(&SystemRandom::new()).unwrap()
}

/// A varied event: releases to a department, refused logins with a reason,
/// staff queries naming a target department.
fn event(number: u64) -> AuditEvent {
    let citizen = format!("citizen-{}", number % 7);
    match number % 3 {
        0 => AuditEvent {
            actor: Actor::Department("wohngeldstelle".to_owned()),
            action: Action::Release,
            targets: Targets {
                subject: Some(citizen),
                evidence: vec![format!("{number:032x}")],
                fields: vec!["einkommen".to_owned()],
                grant: Some(format!("{:032x}", number + 1000)),
                department: None,
                grant_use: None,
                service: Some("wohngeld".to_owned()),
            },
            outcome: Outcome::Success,
            reason: None,
        },
        1 => AuditEvent {
            actor: Actor::Citizen(citizen.clone()),
            action: Action::Login,
            targets: Targets { subject: Some(citizen), ..Targets::default() },
            outcome: Outcome::Refused,
            reason: Some("login_level_too_low".to_owned()),
        },
        _ => AuditEvent {
            actor: Actor::Staff(format!("dpo-{number}")),
            action: Action::AuditQuery,
            targets: Targets { department: Some("kita-amt".to_owned()), ..Targets::default() },
            outcome: Outcome::Success,
            reason: None,
        },
    }
}

/// Sign and store a checkpoint over the current log.
async fn checkpoint(store: &dyn Store, keys: &FileKeyProvider) -> (u64, String) {
    let size = store.audit_size().await.unwrap();
    let root = merkle::root(&store.audit_leaf_hashes(0, size).await.unwrap());
    let note = Checkpoint { origin: ORIGIN.to_owned(), size, root }.sign(ORIGIN, keys.signing_key()).expect("sign");
    store.insert_checkpoint(size, &root, &note, at(T0)).await.unwrap();
    (size, note)
}

/// Append entries `from..to` (entry i at T0 + i s) in one transaction.
async fn append_range(store: &dyn Store, from: u64, to: u64) {
    let events: Vec<_> = (from..to).map(|number| (at(T0 + number as i64 * SECOND), event(number))).collect();
    let entries = append_events(store, &events).await.unwrap();
    assert_eq!(entries.first().map(|entry| entry.sequence), Some(from));
}

/// The standard log: 30 entries, the first ten through the group-commit
/// writer, checkpoints at 10, 20 and 30. Returns the signed notes.
async fn build_log(backend: &Backend, keys: &FileKeyProvider) -> Vec<(u64, String)> {
    let clock = Arc::new(ManualClock::new(at(T0)));
    let log = AuditLog::start(backend.store.clone(), clock.clone(), 4);
    for number in 0..10 {
        clock.set(at(T0 + number * SECOND));
        let entry = log.append(event(number as u64)).await.unwrap();
        assert_eq!(entry.sequence, number as u64);
    }
    log.shutdown().await;
    let mut notes = vec![checkpoint(backend.store.as_ref(), keys).await];
    append_range(backend.store.as_ref(), 10, 20).await;
    notes.push(checkpoint(backend.store.as_ref(), keys).await);
    append_range(backend.store.as_ref(), 20, LOG_SIZE).await;
    notes.push(checkpoint(backend.store.as_ref(), keys).await);
    notes
}

async fn run_verify(
    backend: &Backend,
    keys: &FileKeyProvider,
    saved: Option<&str>,
) -> Result<VerifyReport, VerifyError> {
    let mut calls = Vec::new();
    let result =
        verify::verify_log(backend.store.as_ref(), &keys.signing_key().public_key(), saved, &mut |done, total| {
            calls.push((done, total))
        })
        .await;
    if let Ok(report) = &result {
        assert_eq!(calls.last(), Some(&(report.entries, report.entries)), "progress ends at the total");
        assert!(calls.windows(2).all(|pair| pair[0].0 <= pair[1].0), "progress only moves forward");
    }
    result
}

async fn expected_root(backend: &Backend, size: u64) -> Hash {
    merkle::root(&backend.store.audit_leaf_hashes(0, size).await.unwrap())
}

// --- cases ------------------------------------------------------------------

async fn an_untouched_log_verifies(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    let report = run_verify(&backend, &keys, None).await.unwrap();
    assert_eq!(
        report,
        VerifyReport {
            entries: LOG_SIZE,
            pruned_bodies: 0,
            checkpoints_verified: 3,
            root: expected_root(&backend, LOG_SIZE).await,
            latest_checkpoint_size: Some(LOG_SIZE),
            latest_checkpoint_root: Some(expected_root(&backend, LOG_SIZE).await),
        }
    );
    // Entries after the latest checkpoint are verified too.
    append_range(backend.store.as_ref(), LOG_SIZE, LOG_SIZE + 2).await;
    let report = run_verify(&backend, &keys, None).await.unwrap();
    assert_eq!((report.entries, report.checkpoints_verified), (LOG_SIZE + 2, 3));
    assert_eq!(report.latest_checkpoint_size, Some(LOG_SIZE));
    // Another key signed none of it.
    match run_verify(&backend, &self::keys(), None).await {
        Err(VerifyError::CheckpointSignature { size: 10, problem }) => assert!(problem.contains("no signature")),
        other => panic!("expected a signature error at 10, got {other:?}"),
    }
}

async fn an_empty_log_verifies(backend: Backend) {
    let keys = keys();
    let report = run_verify(&backend, &keys, None).await.unwrap();
    assert_eq!(report.entries, 0);
    assert_eq!(report.root, merkle::empty_root());
    assert_eq!(report.latest_checkpoint_size, None);
    // A checkpoint of the empty tree is checked before any entry.
    checkpoint(backend.store.as_ref(), &keys).await;
    assert_eq!(run_verify(&backend, &keys, None).await.unwrap().checkpoints_verified, 1);
}

async fn an_edited_body_names_its_index(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    let row = backend.row(13).await;
    let body = String::from_utf8(row.body.clone().unwrap()).unwrap();
    assert!(body.contains("\"refused\""));
    let edited = body.replace("\"refused\"", "\"success\"");
    backend.set_body(13, edited.as_bytes(), &row.leaf_hash).await;
    match run_verify(&backend, &keys, None).await {
        Err(error @ VerifyError::BodyMismatch { index: 13 }) => assert!(error.to_string().contains("entry 13")),
        other => panic!("expected a body mismatch at 13, got {other:?}"),
    }
}

async fn an_edit_with_a_recomputed_leaf_hash_breaks_the_next_checkpoint(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    // A careful attacker keeps body, leaf hash and columns consistent ...
    let row = backend.row(13).await;
    let edited = String::from_utf8(row.body.unwrap()).unwrap().replace("\"refused\"", "\"success\"");
    backend.set_body(13, edited.as_bytes(), &merkle::leaf_hash(edited.as_bytes())).await;
    backend.raw("UPDATE audit_entries SET outcome = 'success' WHERE sequence = 13", Vec::new()).await;
    // ... and the first signed root over index 13 gives it away.
    match run_verify(&backend, &keys, None).await {
        Err(error @ VerifyError::CheckpointRootMismatch { size: 20 }) => {
            assert!(error.to_string().contains("size 20"))
        }
        other => panic!("expected a root mismatch at checkpoint 20, got {other:?}"),
    }
}

async fn an_edited_column_names_index_and_column(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    // Hide a release from the department's DPO query: the body is untouched.
    backend.raw("UPDATE audit_entries SET department = 'other' WHERE sequence = 6", Vec::new()).await;
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::ColumnMismatch { index: 6, column: "department" }) => {}
        other => panic!("expected a column mismatch at 6, got {other:?}"),
    }
}

async fn a_deleted_entry_names_its_index(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    assert_eq!(backend.raw("DELETE FROM audit_entries WHERE sequence = 13", Vec::new()).await, 1);
    match run_verify(&backend, &keys, None).await {
        Err(error @ VerifyError::SequenceGap { expected: 13, found: 14 }) => {
            assert!(error.to_string().contains("entry 13"))
        }
        other => panic!("expected a gap at 13, got {other:?}"),
    }
}

async fn swapped_entries_name_the_first_index(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    let (row_13, row_17) = (backend.row(13).await, backend.row(17).await);
    backend.set_body(13, &row_17.body.clone().unwrap(), &row_17.leaf_hash).await;
    backend.set_body(17, &row_13.body.clone().unwrap(), &row_13.leaf_hash).await;
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::BodyMismatch { index: 13 }) => {}
        other => panic!("expected a body mismatch at 13, got {other:?}"),
    }
    // Renumbering instead (bodies keep their own sequence numbers): same.
    backend.set_body(13, &row_13.body.clone().unwrap(), &row_13.leaf_hash).await;
    backend.set_body(17, &row_17.body.clone().unwrap(), &row_17.leaf_hash).await;
    run_verify(&backend, &keys, None).await.unwrap();
    backend.raw("UPDATE audit_entries SET sequence = 1000 WHERE sequence = 13", Vec::new()).await;
    backend.raw("UPDATE audit_entries SET sequence = 13 WHERE sequence = 17", Vec::new()).await;
    backend.raw("UPDATE audit_entries SET sequence = 17 WHERE sequence = 1000", Vec::new()).await;
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::BodyMismatch { index: 13 }) => {}
        other => panic!("expected a body mismatch at 13, got {other:?}"),
    }
}

async fn a_truncated_tail_leaves_a_checkpoint_beyond_the_log(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    assert_eq!(backend.raw("DELETE FROM audit_entries WHERE sequence >= 25", Vec::new()).await, 5);
    match run_verify(&backend, &keys, None).await {
        Err(error @ VerifyError::CheckpointBeyondLog { size: 30, log_size: 25 }) => {
            assert!(error.to_string().contains("index 25"))
        }
        other => panic!("expected checkpoint 30 beyond a log of 25, got {other:?}"),
    }
    // Moving the head back as well changes nothing: the signed size stays.
    backend.raw("UPDATE audit_head SET last_sequence = 24", Vec::new()).await;
    assert!(matches!(
        run_verify(&backend, &keys, None).await,
        Err(VerifyError::CheckpointBeyondLog { size: 30, log_size: 25 })
    ));
}

async fn a_truncated_tail_without_checkpoint_is_caught_by_head_or_saved_checkpoint(backend: Backend) {
    let keys = keys();
    let notes = build_log(&backend, &keys).await;
    let (_, saved_30) = notes[2].clone();
    backend.drop_guards().await;
    backend.raw("DELETE FROM audit_entries WHERE sequence >= 25", Vec::new()).await;
    backend.raw("DELETE FROM audit_checkpoints WHERE size = 30", Vec::new()).await;
    // The head still counts 30.
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::TailMissing { log_size: 25, head_size: 30 }) => {}
        other => panic!("expected a missing tail from 25, got {other:?}"),
    }
    // The head moved back too: the database alone cannot tell any more ...
    backend.raw("UPDATE audit_head SET last_sequence = 24", Vec::new()).await;
    let report = run_verify(&backend, &keys, None).await.unwrap();
    assert_eq!((report.entries, report.latest_checkpoint_size), (25, Some(20)));
    // ... but the checkpoint a DPO saved earlier can.
    match run_verify(&backend, &keys, Some(&saved_30)).await {
        Err(VerifyError::SavedCheckpointInconsistent { saved_size: 30 }) => {}
        other => panic!("expected the saved checkpoint 30 to be inconsistent, got {other:?}"),
    }
}

async fn a_replaced_checkpoint_signature_names_its_size(backend: Backend) {
    let keys = keys();
    let notes = build_log(&backend, &keys).await;
    backend.drop_guards().await;
    let replace_note = |note: String| async {
        let updated =
            backend.raw("UPDATE audit_checkpoints SET signed_note = ? WHERE size = 20", vec![Value::Text(note)]).await;
        assert_eq!(updated, 1);
    };
    let (_, note_20) = &notes[1];
    let other_root = Checkpoint { origin: ORIGIN.to_owned(), size: 20, root: [7u8; 32] };

    // The signed text changed (another root), the signature kept.
    let signature_part = &note_20[note_20.find("\n\n").unwrap() + 1..];
    replace_note(format!("{}{signature_part}", other_root.body())).await;
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::CheckpointSignature { size: 20, problem }) => {
            assert!(problem.contains("invalid"), "{problem}")
        }
        other => panic!("expected an invalid signature at 20, got {other:?}"),
    }
    // Signed by the attacker's own key.
    replace_note(other_root.sign(ORIGIN, self::keys().signing_key()).expect("sign")).await;
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::CheckpointSignature { size: 20, problem }) => {
            assert!(problem.contains("no signature"), "{problem}")
        }
        other => panic!("expected no signature by the key at 20, got {other:?}"),
    }
    // A genuine note, stored under another size.
    replace_note(notes[0].1.clone()).await;
    match run_verify(&backend, &keys, None).await {
        Err(VerifyError::CheckpointSignature { size: 20, problem }) => {
            assert!(problem.contains("size 10"), "{problem}")
        }
        other => panic!("expected a size mismatch at 20, got {other:?}"),
    }
    // A well-formed signature line whose bytes were flipped.
    let mut flipped = note_20.clone().into_bytes();
    let position = flipped.len() - 10;
    flipped[position] = if flipped[position] == b'A' { b'B' } else { b'A' };
    replace_note(String::from_utf8(flipped).unwrap()).await;
    assert!(matches!(run_verify(&backend, &keys, None).await, Err(VerifyError::CheckpointSignature { size: 20, .. })));
    // Restored, it verifies again.
    replace_note(note_20.clone()).await;
    run_verify(&backend, &keys, None).await.unwrap();
}

async fn pruned_bodies_still_verify(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    let root = expected_root(&backend, LOG_SIZE).await;
    assert_eq!(backend.store.prune_audit_bodies(at(T0 + 15 * SECOND)).await.unwrap(), 15);
    let report = run_verify(&backend, &keys, None).await.unwrap();
    assert_eq!((report.entries, report.pruned_bodies, report.checkpoints_verified), (LOG_SIZE, 15, 3));
    assert_eq!(report.root, root);
    // A pruned entry's leaf hash is still bound by the checkpoints.
    backend.drop_guards().await;
    backend.raw("UPDATE audit_entries SET leaf_hash = ? WHERE sequence = 3", vec![Value::Bytes(vec![9u8; 32])]).await;
    assert!(matches!(run_verify(&backend, &keys, None).await, Err(VerifyError::CheckpointRootMismatch { size: 10 })));
}

async fn a_saved_checkpoint_verifies_against_the_grown_log(backend: Backend) {
    let keys = keys();
    let notes = build_log(&backend, &keys).await;
    let (_, saved_10) = &notes[0];
    append_range(backend.store.as_ref(), LOG_SIZE, LOG_SIZE + 7).await;
    let report = run_verify(&backend, &keys, Some(saved_10)).await.unwrap();
    assert_eq!(report.entries, LOG_SIZE + 7);
    // A checkpoint of a size that was never stored (kept from a receipt) works too.
    let size = 17;
    let root = expected_root(&backend, size).await;
    let receipt_note =
        Checkpoint { origin: ORIGIN.to_owned(), size, root }.sign(ORIGIN, keys.signing_key()).expect("sign");
    run_verify(&backend, &keys, Some(&receipt_note)).await.unwrap();
}

async fn a_forged_saved_checkpoint_fails(backend: Backend) {
    let keys = keys();
    let notes = build_log(&backend, &keys).await;
    let (_, saved_20) = &notes[1];
    // Edited after signing.
    let forged = saved_20.replacen("\n20\n", "\n21\n", 1);
    match run_verify(&backend, &keys, Some(&forged)).await {
        Err(VerifyError::SavedCheckpointSignature { problem }) => assert!(problem.contains("invalid"), "{problem}"),
        other => panic!("expected an invalid saved checkpoint, got {other:?}"),
    }
    // Signed by someone else.
    let root = expected_root(&backend, 20).await;
    let foreign = Checkpoint { origin: ORIGIN.to_owned(), size: 20, root }
        .sign(ORIGIN, self::keys().signing_key())
        .expect("sign");
    assert!(matches!(
        run_verify(&backend, &keys, Some(&foreign)).await,
        Err(VerifyError::SavedCheckpointSignature { .. })
    ));
    assert!(matches!(
        run_verify(&backend, &keys, Some("not a note")).await,
        Err(VerifyError::SavedCheckpointSignature { .. })
    ));
    // Signed with the right key over another history (a fork): not a prefix.
    let fork = Checkpoint { origin: ORIGIN.to_owned(), size: 20, root: [1u8; 32] }
        .sign(ORIGIN, keys.signing_key())
        .expect("sign");
    match run_verify(&backend, &keys, Some(&fork)).await {
        Err(VerifyError::SavedCheckpointInconsistent { saved_size: 20 }) => {}
        other => panic!("expected an inconsistent saved checkpoint, got {other:?}"),
    }
    // Larger than the log.
    let root_30 = expected_root(&backend, 30).await;
    let ahead = Checkpoint { origin: ORIGIN.to_owned(), size: 31, root: root_30 }
        .sign(ORIGIN, keys.signing_key())
        .expect("sign");
    assert!(matches!(
        run_verify(&backend, &keys, Some(&ahead)).await,
        Err(VerifyError::SavedCheckpointInconsistent { saved_size: 31 })
    ));
}

async fn tampering_is_found_across_page_boundaries(backend: Backend) {
    let keys = keys();
    let page = u64::from(PAGE_SIZE);
    append_range(backend.store.as_ref(), 0, page).await;
    checkpoint(backend.store.as_ref(), &keys).await;
    append_range(backend.store.as_ref(), page, 2 * page + 5).await;
    checkpoint(backend.store.as_ref(), &keys).await;
    let report = run_verify(&backend, &keys, None).await.unwrap();
    assert_eq!((report.entries, report.checkpoints_verified), (2 * page + 5, 2));

    backend.drop_guards().await;
    let row = backend.row(page + 3).await;
    let mut body = row.body.clone().unwrap();
    body[10] ^= 1;
    backend.set_body(page + 3, &body, &row.leaf_hash).await;
    assert!(matches!(
        run_verify(&backend, &keys, None).await,
        Err(VerifyError::BodyMismatch { index }) if index == page + 3
    ));
    backend.raw("DELETE FROM audit_entries WHERE sequence = ?", vec![Value::Int(page as i64)]).await;
    assert!(matches!(
        run_verify(&backend, &keys, None).await,
        Err(VerifyError::SequenceGap { expected, found }) if expected == page && found == page + 1
    ));
}

async fn export_writes_csv_and_json_lines(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.store.prune_audit_bodies(at(T0 + 5 * SECOND)).await.unwrap();
    // Entries 3..=7.
    let filter =
        AuditFilter { from: Some(at(T0 + 3 * SECOND)), until: Some(at(T0 + 8 * SECOND)), ..Default::default() };

    let mut csv = Vec::new();
    let written = verify::export(backend.store.as_ref(), &filter, ExportFormat::Csv, &mut csv).await.unwrap();
    assert_eq!(written, 5);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0], CSV_HEADER);
    let leaf_4 = hex::encode(backend.row(4).await.leaf_hash);
    // Entry 4 is a refused login, pruned: columns kept, reason empty.
    assert_eq!(
        lines[2],
        format!("4,2024-05-01T12:00:04.123456Z,citizen,citizen-4,login,refused,citizen-4,,,,{leaf_4}")
    );
    // Entry 7 (a refused login) still has its body, so its reason.
    assert!(
        lines[5].starts_with(
            "7,2024-05-01T12:00:07.123456Z,citizen,citizen-0,login,refused,citizen-0,,,login_level_too_low,"
        )
    );
    // Entry 6: a release by the acting department.
    assert!(lines[4].starts_with(
        "6,2024-05-01T12:00:06.123456Z,department,wohngeldstelle,release,success,citizen-6,wohngeldstelle,wohngeld,,"
    ));

    let mut jsonl = Vec::new();
    let written = verify::export(backend.store.as_ref(), &filter, ExportFormat::JsonLines, &mut jsonl).await.unwrap();
    assert_eq!(written, 5);
    let jsonl = String::from_utf8(jsonl).unwrap();
    let objects: Vec<serde_json::Value> = jsonl.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(objects.len(), 5);
    assert_eq!(objects[1]["sequence"], 4);
    assert_eq!(objects[1]["body_pruned"], true);
    assert_eq!(objects[1]["leaf_hash"], leaf_4);
    // A present body is exported byte for byte, so it can be re-hashed.
    let row_7 = backend.row(7).await;
    let line_7 = jsonl.lines().nth(4).unwrap();
    let leaf_suffix = format!(",\"leaf_hash\":\"{}\"}}", hex::encode(&row_7.leaf_hash));
    let body_7 = format!("{}}}", line_7.strip_suffix(&leaf_suffix).unwrap());
    assert_eq!(body_7.as_bytes(), row_7.body.as_deref().unwrap());
    assert_eq!(objects[4]["reason"], "login_level_too_low");

    // Nothing in range: only the header.
    let empty = AuditFilter { from: Some(at(T0 - 10 * SECOND)), until: Some(at(T0)), ..Default::default() };
    let mut csv = Vec::new();
    assert_eq!(verify::export(backend.store.as_ref(), &empty, ExportFormat::Csv, &mut csv).await.unwrap(), 0);
    assert_eq!(String::from_utf8(csv).unwrap(), format!("{CSV_HEADER}\n"));
}

async fn export_refuses_an_edited_body(backend: Backend) {
    let keys = keys();
    build_log(&backend, &keys).await;
    backend.drop_guards().await;
    let row = backend.row(4).await;
    let edited = String::from_utf8(row.body.clone().unwrap()).unwrap().replace("refused", "success");
    backend.set_body(4, edited.as_bytes(), &row.leaf_hash).await;
    let mut out = Vec::new();
    assert!(matches!(
        verify::export(backend.store.as_ref(), &AuditFilter::default(), ExportFormat::JsonLines, &mut out).await,
        Err(VerifyError::BodyMismatch { index: 4 })
    ));
}

// --- the command line ---------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_verifies_reports_and_exports() {
    let (directory, store) = crate::support::postgres::sqlite_store().await;
    let database_url = format!("sqlite://{}", crate::support::postgres::sqlite_path(&directory).display());
    let backend = Backend { store, url: database_url.clone() };
    let keys = keys();
    let notes = build_log(&backend, &keys).await;
    let key_file = directory.path().join("signing-key.pub");
    std::fs::write(&key_file, format!("{}\n", base64_key(&keys))).unwrap();
    let saved_file = directory.path().join("checkpoint-10.txt");
    std::fs::write(&saved_file, &notes[0].1).unwrap();

    let tresor = |arguments: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_tresor"))
            .args(arguments)
            .env_clear()
            .env("TRESOR_DATABASE_URL", &database_url)
            .current_dir(directory.path())
            .output()
            .unwrap()
    };
    let key_path = key_file.to_str().unwrap();

    let output = tresor(&["audit", "verify", "--public-key", key_path, "--checkpoint", saved_file.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    let root = hex::encode(expected_root(&backend, LOG_SIZE).await);
    assert_eq!(stdout.trim(), format!("OK: 30 entries, 3 checkpoints, root {root}"));
    assert!(stderr.contains("verified 30 / 30 entries"), "{stderr}");

    // The note ecosystem's verifier key format is accepted as well.
    let verifier_file = directory.path().join("verifier-key.txt");
    let verifier_key = tresor::audit::checkpoint::verifier_key(ORIGIN, &keys.signing_key().public_key());
    std::fs::write(&verifier_file, verifier_key).unwrap();
    let output = tresor(&["audit", "verify", "--public-key", verifier_file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));

    let export_file = directory.path().join("export.csv");
    let output = tresor(&[
        "audit",
        "export",
        "--from",
        "2024-05-01",
        "--to",
        "2024-05-01",
        "--format",
        "csv",
        "--out",
        export_file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(&export_file).unwrap().lines().count(), 31, "header and every entry of the day");
    // Never overwrites.
    let output = tresor(&[
        "audit",
        "export",
        "--from",
        "2024-05-01",
        "--to",
        "2024-05-02",
        "--format",
        "csv",
        "--out",
        export_file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let output = tresor(&[
        "audit",
        "export",
        "--from",
        "2024-05-01T12:00:03.123456+00:00",
        "--to",
        "2024-05-01T14:00:05.123456+02:00",
        "--format",
        "jsonl",
    ]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2, "entries 3 and 4");
    // Bad values are refused with a message naming them.
    let output = tresor(&["audit", "export", "--from", "01.05.2024", "--to", "2024-05-02", "--format", "csv"]);
    assert_ne!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("01.05.2024"));
    let output = tresor(&["audit", "export", "--from", "2024-05-02", "--to", "2024-05-01", "--format", "csv"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("must be before"));

    // Tampered: exit 1, the index in the message.
    backend.drop_guards().await;
    let row = backend.row(13).await;
    let edited = String::from_utf8(row.body.clone().unwrap()).unwrap().replace("refused", "success");
    backend.set_body(13, edited.as_bytes(), &row.leaf_hash).await;
    let output = tresor(&["audit", "verify", "--public-key", key_path]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("entry 13"), "{stderr}");
    assert!(output.stdout.is_empty());
}

fn base64_key(keys: &FileKeyProvider) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(keys.signing_key().public_key())
}
