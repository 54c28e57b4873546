//! Store conformance: every case is written once against `Arc<dyn Store>` and
//! run on a fresh SQLite file and a fresh PostgreSQL database.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use sqlx::Connection;
use tresor::audit::AuditAppend;
use tresor::audit::append::append;
use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use tresor::ids::{CitizenId, EvidenceId, FileId, GrantId};
use tresor::store::{AccessRequestRecord, GrantClaim, GrantRecord, RequestState};
use tresor::store::{
    CitizenRecord, Conflict, EvidenceRecord, FileRecord, PendingLogin, SealedField, SessionRecord, Store, StoreError,
};

use crate::support::postgres::{postgres_store, sqlite_path, sqlite_store};

/// Generates `sqlite::<case>` and `postgres::<case>` for each conformance case.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (_directory, store) = crate::support::postgres::sqlite_store().await;
                    super::$case(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (database, store) = crate::support::postgres::postgres_store().await;
                    super::$case(store).await;
                    database.drop_database().await;
                }
            )*
        }
    };
}

conformance!(
    migrate_is_idempotent,
    citizen_round_trip_and_duplicate_subject,
    pending_login_is_taken_once,
    concurrent_takes_of_a_pending_login_have_one_winner,
    old_pending_logins_are_swept,
    session_lifecycle,
    back_channel_logout_deletes_matching_sessions,
    replayed_logout_token_is_detected,
    evidence_round_trips_with_fields_and_file,
    evidence_without_file_round_trips,
    evidence_is_listed_newest_first_per_citizen,
    evidence_of_another_citizen_is_invisible,
    chunks_of_a_pending_file_are_not_readable,
    aborted_upload_removes_chunks,
    stale_uploads_are_swept,
    completed_files_accept_no_more_chunks,
    duplicate_chunk_index_is_a_conflict,
    evidence_with_another_citizens_file_stores_nothing,
    evidence_with_missing_chunks_stores_nothing,
    evidence_with_a_completed_file_cannot_reuse_it,
    duplicate_evidence_id_stores_nothing,
    delete_evidence_removes_file_and_chunks,
    delete_citizen_removes_everything,
    timestamps_round_trip_exactly,
    upload_sized_batches_round_trip,
    access_request_is_answered_once_and_not_after_expiry,
    grants_are_listed_per_citizen_and_revoked_by_their_owner_only,
    grant_claims_count_uses_with_the_audit_entry,
    erasing_a_citizen_removes_their_grants,
    a_grant_keeps_whether_its_files_are_left_out,
);

// --- fixtures ---------------------------------------------------------------

fn at(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("test timestamp in range")
}

/// 2024-05-01T12:00:00.123456Z, with a microsecond part that must survive.
const T0: i64 = 1_714_564_800_123_456;
const SECOND: i64 = 1_000_000;

fn citizen_id() -> CitizenId {
    CitizenId::generate(&SystemRandom::new())
}

fn evidence_id() -> EvidenceId {
    EvidenceId::generate(&SystemRandom::new())
}

fn file_id() -> FileId {
    FileId::generate(&SystemRandom::new())
}

fn citizen(subject: u8) -> CitizenRecord {
    CitizenRecord {
        id: citizen_id(),
        subject_hash: vec![subject; 32],
        wrapped_dek: vec![0xd0, subject, 0x0d],
        kek_version: 7,
        created_at: at(T0),
    }
}

async fn stored_citizen(store: &Arc<dyn Store>, subject: u8) -> CitizenRecord {
    let citizen = citizen(subject);
    store.insert_citizen(&citizen).await.expect("insert citizen");
    citizen
}

fn pending_login(state: u8) -> PendingLogin {
    PendingLogin {
        state_hash: vec![state; 32],
        issuer: "bund-id".to_owned(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}"),
        requested_level: 2,
        return_to: "/evidence".to_owned(),
        created_at: at(T0),
    }
}

fn session(citizen_id: &CitizenId, id: u8, idp_session_id: Option<&str>) -> SessionRecord {
    SessionRecord {
        id_hash: vec![id; 32],
        citizen_id: citizen_id.clone(),
        issuer: "bund-id".to_owned(),
        login_level: 2,
        idp_session_id: idp_session_id.map(str::to_owned),
        csrf_token: format!("csrf-{id}"),
        created_at: at(T0),
        last_seen_at: at(T0),
    }
}

fn evidence(citizen_id: &CitizenId, created_at: i64, file: Option<FileRecord>) -> EvidenceRecord {
    EvidenceRecord {
        id: evidence_id(),
        citizen_id: citizen_id.clone(),
        type_id: "meldebescheinigung".to_owned(),
        type_version: 3,
        created_at: at(created_at),
        // Deliberately not in name order: the order given is the order returned.
        fields: vec![
            SealedField { name: "vorname".to_owned(), ciphertext: vec![1, 2, 3] },
            SealedField { name: "anschrift".to_owned(), ciphertext: vec![4, 5] },
            SealedField { name: "geburtsdatum".to_owned(), ciphertext: vec![] },
        ],
        file,
    }
}

fn chunk(file_index: u8, index: i64) -> Vec<u8> {
    let mut bytes = vec![file_index; 40];
    bytes.extend_from_slice(&index.to_be_bytes());
    bytes
}

/// Begin a file for `citizen_id` and upload `chunk_count` chunks; returns the
/// record that completes it.
async fn uploaded_file(store: &Arc<dyn Store>, citizen_id: &CitizenId, chunk_count: i64) -> FileRecord {
    let id = file_id();
    store.begin_file(&id, citizen_id, at(T0)).await.expect("begin file");
    let chunks: Vec<(i64, Vec<u8>)> = (0..chunk_count).map(|index| (index, chunk(9, index))).collect();
    store.append_file_chunks(&id, &chunks).await.expect("append chunks");
    FileRecord {
        id,
        media_type: "application/pdf".to_owned(),
        plaintext_size: chunk_count * 1000,
        chunk_count,
        sealed_name: vec![0x5e, 0xa1],
    }
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, expected: Conflict) {
    match result {
        Err(StoreError::Conflict(conflict)) => assert_eq!(conflict, expected),
        other => panic!("expected Conflict({expected:?}), got {other:?}"),
    }
}

fn duplicate(constraint: &str) -> Conflict {
    Conflict::Duplicate(constraint.to_owned())
}

// --- cases ------------------------------------------------------------------

async fn migrate_is_idempotent(store: Arc<dyn Store>) {
    store.migrate().await.expect("second migrate is a no-op");
}

async fn citizen_round_trip_and_duplicate_subject(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    assert!(store.citizen(&alice.id).await.expect("by id") == Some(alice.clone()));
    assert!(store.citizen_by_subject(&alice.subject_hash).await.expect("by subject") == Some(alice.clone()));
    assert!(store.citizen(&citizen_id()).await.expect("unknown id").is_none());
    assert!(store.citizen_by_subject(&[0xee; 32]).await.expect("unknown subject").is_none());

    let mut same_subject = citizen(1);
    same_subject.wrapped_dek = vec![9];
    assert_conflict(store.insert_citizen(&same_subject).await, duplicate("citizens_subject_hash_key"));
    let mut same_id = citizen(2);
    same_id.id = alice.id.clone();
    assert_conflict(store.insert_citizen(&same_id).await, duplicate("citizens_pkey"));

    let max_version = CitizenRecord { kek_version: u32::MAX, ..citizen(3) };
    store.insert_citizen(&max_version).await.expect("u32::MAX kek version");
    let loaded = store.citizen(&max_version.id).await.expect("load").expect("exists");
    assert_eq!(loaded.kek_version, u32::MAX);
}

async fn pending_login_is_taken_once(store: Arc<dyn Store>) {
    let pending = pending_login(1);
    store.insert_pending_login(&pending).await.expect("insert");
    assert_conflict(store.insert_pending_login(&pending).await, duplicate("pending_logins_pkey"));
    assert!(store.take_pending_login(&pending.state_hash).await.expect("take") == Some(pending.clone()));
    assert!(store.take_pending_login(&pending.state_hash).await.expect("second take").is_none());
    assert!(store.take_pending_login(&[0xaa; 32]).await.expect("unknown").is_none());
}

async fn concurrent_takes_of_a_pending_login_have_one_winner(store: Arc<dyn Store>) {
    for state in 0..5u8 {
        let pending = pending_login(state);
        store.insert_pending_login(&pending).await.expect("insert");
        let takers: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                let state_hash = pending.state_hash.clone();
                tokio::spawn(async move { store.take_pending_login(&state_hash).await })
            })
            .collect();
        let mut winners = 0;
        for taker in takers {
            if taker.await.expect("task").expect("take").is_some() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "state {state} must be usable exactly once");
    }
}

async fn old_pending_logins_are_swept(store: Arc<dyn Store>) {
    let old = PendingLogin { created_at: at(T0 - 600 * SECOND), ..pending_login(1) };
    let fresh = pending_login(2);
    store.insert_pending_login(&old).await.expect("insert old");
    store.insert_pending_login(&fresh).await.expect("insert fresh");
    assert_eq!(store.delete_pending_logins_before(at(T0 - 300 * SECOND)).await.expect("sweep"), 1);
    assert!(store.take_pending_login(&old.state_hash).await.expect("take old").is_none());
    assert!(store.take_pending_login(&fresh.state_hash).await.expect("take fresh").is_some());
}

async fn session_lifecycle(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let session = session(&alice.id, 1, Some("sid-1"));
    store.insert_session(&session).await.expect("insert");
    assert_conflict(store.insert_session(&session).await, duplicate("sessions_pkey"));
    assert_eq!(store.session(&session.id_hash).await.expect("get"), Some(session.clone()));

    let later = at(T0 + 90 * SECOND + 7);
    store.touch_session(&session.id_hash, later).await.expect("touch");
    let touched = store.session(&session.id_hash).await.expect("get").expect("exists");
    assert_eq!(touched.last_seen_at, later);
    assert_eq!(touched.created_at, session.created_at);

    store.delete_session(&session.id_hash).await.expect("delete");
    assert_eq!(store.session(&session.id_hash).await.expect("get"), None);
    store.delete_session(&session.id_hash).await.expect("deleting twice is fine");

    let orphan = self::session(&citizen_id(), 2, None);
    assert!(matches!(store.insert_session(&orphan).await, Err(StoreError::Conflict(_))));
}

async fn back_channel_logout_deletes_matching_sessions(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let bob = stored_citizen(&store, 2).await;
    let alice_phone = session(&alice.id, 1, Some("sid-a"));
    let alice_laptop = session(&alice.id, 2, Some("sid-a"));
    let alice_no_sid = session(&alice.id, 3, None);
    let alice_elsewhere = SessionRecord { issuer: "elster".to_owned(), ..session(&alice.id, 4, Some("sid-a")) };
    let bob_session = session(&bob.id, 5, Some("sid-b"));
    for session in [&alice_phone, &alice_laptop, &alice_no_sid, &alice_elsewhere, &bob_session] {
        store.insert_session(session).await.expect("insert");
    }

    assert_eq!(store.delete_sessions_by_idp_session("bund-id", "sid-a").await.expect("by sid"), 2);
    assert_eq!(store.session(&alice_phone.id_hash).await.expect("get"), None);
    assert_eq!(store.session(&alice_laptop.id_hash).await.expect("get"), None);
    assert!(store.session(&alice_elsewhere.id_hash).await.expect("get").is_some(), "other issuer untouched");
    assert_eq!(store.delete_sessions_by_idp_session("bund-id", "sid-unknown").await.expect("none"), 0);

    assert_eq!(store.delete_sessions_of_citizen("bund-id", &alice.id).await.expect("by citizen"), 1);
    assert_eq!(store.session(&alice_no_sid.id_hash).await.expect("get"), None);
    assert!(store.session(&alice_elsewhere.id_hash).await.expect("get").is_some(), "other issuer untouched");
    assert!(store.session(&bob_session.id_hash).await.expect("get").is_some(), "other citizen untouched");
}

async fn replayed_logout_token_is_detected(store: Arc<dyn Store>) {
    let expires = at(T0 + 120 * SECOND);
    assert!(store.remember_logout_token("bund-id", "jti-1", expires).await.expect("first"));
    assert!(!store.remember_logout_token("bund-id", "jti-1", expires).await.expect("replay"));
    assert!(store.remember_logout_token("elster", "jti-1", expires).await.expect("other issuer"));
    assert!(store.remember_logout_token("bund-id", "jti-2", expires).await.expect("other jti"));
}

async fn evidence_round_trips_with_fields_and_file(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 3).await;
    let record = evidence(&alice.id, T0, Some(file.clone()));
    store.insert_evidence(&record).await.expect("insert");

    assert_eq!(store.evidence(&alice.id, &record.id).await.expect("get"), Some(record.clone()));
    for index in 0..3 {
        assert_eq!(store.file_chunk(&file.id, index).await.expect("chunk"), Some(chunk(9, index)));
    }
    assert_eq!(store.file_chunk(&file.id, 3).await.expect("past the end"), None);
    assert_eq!(store.file_chunk(&file_id(), 0).await.expect("unknown file"), None);
}

async fn evidence_without_file_round_trips(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let mut record = evidence(&alice.id, T0, None);
    store.insert_evidence(&record).await.expect("insert");
    assert_eq!(store.evidence(&alice.id, &record.id).await.expect("get"), Some(record.clone()));

    record.id = evidence_id();
    record.fields.clear();
    store.insert_evidence(&record).await.expect("insert without fields");
    assert_eq!(store.evidence(&alice.id, &record.id).await.expect("get"), Some(record));
}

async fn evidence_is_listed_newest_first_per_citizen(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let bob = stored_citizen(&store, 2).await;
    let older = evidence(&alice.id, T0, None);
    let file = uploaded_file(&store, &alice.id, 1).await;
    let newer = evidence(&alice.id, T0 + SECOND, Some(file));
    let bobs = evidence(&bob.id, T0, None);
    for record in [&older, &newer, &bobs] {
        store.insert_evidence(record).await.expect("insert");
    }

    let listed = store.list_evidence(&alice.id).await.expect("list");
    let summary: Vec<_> = listed.iter().map(|item| (item.id.clone(), item.created_at, item.has_file)).collect();
    assert_eq!(summary, vec![(newer.id.clone(), newer.created_at, true), (older.id.clone(), older.created_at, false)]);
    assert!(listed.iter().all(|item| item.type_id == "meldebescheinigung"));
    assert!(store.list_evidence(&citizen_id()).await.expect("list unknown").is_empty());
}

async fn evidence_of_another_citizen_is_invisible(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let mallory = stored_citizen(&store, 2).await;
    let record = evidence(&alice.id, T0, None);
    store.insert_evidence(&record).await.expect("insert");

    assert_eq!(store.evidence(&mallory.id, &record.id).await.expect("get as mallory"), None);
    assert!(!store.delete_evidence(&mallory.id, &record.id).await.expect("delete as mallory"));
    assert!(store.list_evidence(&mallory.id).await.expect("list as mallory").is_empty());
    assert_eq!(store.evidence(&alice.id, &record.id).await.expect("still there"), Some(record));
}

async fn chunks_of_a_pending_file_are_not_readable(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 2).await;
    assert_eq!(store.file_chunk(&file.id, 0).await.expect("pending chunk"), None);
    assert_eq!(store.file_chunk(&file.id, 1).await.expect("pending chunk"), None);
}

async fn aborted_upload_removes_chunks(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 2).await;
    store.abort_file(&file.id).await.expect("abort");
    store.abort_file(&file.id).await.expect("aborting twice is fine");
    assert_conflict(store.append_file_chunks(&file.id, &[(2, chunk(9, 2))]).await, Conflict::FileNotPending);
    // The chunks are gone, not merely hidden: the id can be started afresh.
    store.begin_file(&file.id, &alice.id, at(T0)).await.expect("restart");
    store.append_file_chunks(&file.id, &[(0, chunk(9, 0))]).await.expect("no leftover chunk 0");
    let record = evidence(&alice.id, T0, Some(FileRecord { chunk_count: 1, ..file.clone() }));
    store.insert_evidence(&record).await.expect("exactly one chunk left");

    // Aborting a completed file does nothing.
    store.abort_file(&file.id).await.expect("abort completed");
    assert_eq!(store.file_chunk(&file.id, 0).await.expect("chunk"), Some(chunk(9, 0)));
}

async fn stale_uploads_are_swept(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let stale = file_id();
    store.begin_file(&stale, &alice.id, at(T0 - 3600 * SECOND)).await.expect("begin stale");
    store.append_file_chunks(&stale, &[(0, chunk(1, 0))]).await.expect("append");
    let recent = file_id();
    store.begin_file(&recent, &alice.id, at(T0)).await.expect("begin recent");
    // A completed file is never stale, however old.
    let old_complete = file_id();
    store.begin_file(&old_complete, &alice.id, at(T0 - 7200 * SECOND)).await.expect("begin old");
    store.append_file_chunks(&old_complete, &[(0, chunk(2, 0))]).await.expect("append");
    let file = FileRecord {
        id: old_complete.clone(),
        media_type: "image/png".to_owned(),
        plaintext_size: 10,
        chunk_count: 1,
        sealed_name: vec![1],
    };
    store.insert_evidence(&evidence(&alice.id, T0, Some(file))).await.expect("complete old file");

    assert_eq!(store.delete_stale_uploads(at(T0 - 60 * SECOND)).await.expect("sweep"), 1);
    assert_conflict(store.append_file_chunks(&stale, &[(1, chunk(1, 1))]).await, Conflict::FileNotPending);
    store.append_file_chunks(&recent, &[(0, chunk(3, 0))]).await.expect("recent upload still open");
    assert_eq!(store.file_chunk(&old_complete, 0).await.expect("chunk"), Some(chunk(2, 0)));
}

async fn completed_files_accept_no_more_chunks(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 1).await;
    store.insert_evidence(&evidence(&alice.id, T0, Some(file.clone()))).await.expect("insert");
    assert_conflict(store.append_file_chunks(&file.id, &[(1, chunk(9, 1))]).await, Conflict::FileNotPending);
    assert_conflict(store.append_file_chunks(&file_id(), &[(0, chunk(9, 0))]).await, Conflict::FileNotPending);
    assert_eq!(store.file_chunk(&file.id, 1).await.expect("chunk"), None);
}

async fn duplicate_chunk_index_is_a_conflict(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 2).await;
    // The batch fails as a whole: chunk 2 must not be stored either.
    let batch = vec![(2, chunk(9, 2)), (1, chunk(7, 1))];
    assert_conflict(store.append_file_chunks(&file.id, &batch).await, duplicate("file_chunks_pkey"));
    let record = evidence(&alice.id, T0, Some(file.clone()));
    store.insert_evidence(&record).await.expect("still exactly chunks 0 and 1");
    assert_eq!(store.file_chunk(&file.id, 1).await.expect("chunk"), Some(chunk(9, 1)));
}

async fn evidence_with_another_citizens_file_stores_nothing(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let mallory = stored_citizen(&store, 2).await;
    let alices_file = uploaded_file(&store, &alice.id, 1).await;
    let theft = evidence(&mallory.id, T0, Some(alices_file.clone()));
    assert_conflict(store.insert_evidence(&theft).await, Conflict::FileNotPending);
    assert_eq!(store.evidence(&mallory.id, &theft.id).await.expect("get"), None);
    assert!(store.list_evidence(&mallory.id).await.expect("list").is_empty());
    assert_eq!(store.file_chunk(&alices_file.id, 0).await.expect("still pending"), None);

    // Alice's upload is untouched and can still be completed by her.
    store.insert_evidence(&evidence(&alice.id, T0, Some(alices_file.clone()))).await.expect("alice completes");
    assert_eq!(store.file_chunk(&alices_file.id, 0).await.expect("chunk"), Some(chunk(9, 0)));
}

async fn evidence_with_missing_chunks_stores_nothing(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 2).await;
    let claims_more = evidence(&alice.id, T0, Some(FileRecord { chunk_count: 3, ..file.clone() }));
    assert_conflict(store.insert_evidence(&claims_more).await, Conflict::FileChunksIncomplete);
    let claims_fewer = evidence(&alice.id, T0, Some(FileRecord { chunk_count: 1, ..file.clone() }));
    assert_conflict(store.insert_evidence(&claims_fewer).await, Conflict::FileChunksIncomplete);
    assert!(store.list_evidence(&alice.id).await.expect("list").is_empty());

    // A gap (0, 2 but no 1) is caught too.
    let gappy = file_id();
    store.begin_file(&gappy, &alice.id, at(T0)).await.expect("begin");
    store.append_file_chunks(&gappy, &[(0, chunk(1, 0)), (2, chunk(1, 2))]).await.expect("append");
    let gap = evidence(&alice.id, T0, Some(FileRecord { id: gappy, chunk_count: 2, ..file.clone() }));
    assert_conflict(store.insert_evidence(&gap).await, Conflict::FileChunksIncomplete);

    store.insert_evidence(&evidence(&alice.id, T0, Some(file))).await.expect("the true count works");
}

async fn evidence_with_a_completed_file_cannot_reuse_it(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 1).await;
    store.insert_evidence(&evidence(&alice.id, T0, Some(file.clone()))).await.expect("first");
    let second = evidence(&alice.id, T0, Some(file));
    assert_conflict(store.insert_evidence(&second).await, Conflict::FileNotPending);
    assert_eq!(store.list_evidence(&alice.id).await.expect("list").len(), 1);
}

async fn duplicate_evidence_id_stores_nothing(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let first = evidence(&alice.id, T0, None);
    store.insert_evidence(&first).await.expect("first");
    let file = uploaded_file(&store, &alice.id, 1).await;
    let same_id = EvidenceRecord { type_id: "other".to_owned(), ..evidence(&alice.id, T0, Some(file.clone())) };
    let same_id = EvidenceRecord { id: first.id.clone(), ..same_id };
    assert_conflict(store.insert_evidence(&same_id).await, duplicate("evidence_pkey"));
    // The transaction rolled back: the file is still pending, the original intact.
    assert_eq!(store.file_chunk(&file.id, 0).await.expect("chunk"), None);
    assert_eq!(store.evidence(&alice.id, &first.id).await.expect("get"), Some(first));
}

async fn delete_evidence_removes_file_and_chunks(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let file = uploaded_file(&store, &alice.id, 2).await;
    let record = evidence(&alice.id, T0, Some(file.clone()));
    store.insert_evidence(&record).await.expect("insert");
    let other = evidence(&alice.id, T0, None);
    store.insert_evidence(&other).await.expect("insert other");

    assert!(store.delete_evidence(&alice.id, &record.id).await.expect("delete"));
    assert!(!store.delete_evidence(&alice.id, &record.id).await.expect("delete again"));
    assert_eq!(store.evidence(&alice.id, &record.id).await.expect("get"), None);
    assert_eq!(store.file_chunk(&file.id, 0).await.expect("chunk"), None);
    // The file row is gone: the id is free again and has no chunks left.
    store.begin_file(&file.id, &alice.id, at(T0)).await.expect("file id reusable");
    let empty = evidence(&alice.id, T0, Some(FileRecord { chunk_count: 0, ..file }));
    store.insert_evidence(&empty).await.expect("no chunks survived");
    assert_eq!(store.evidence(&alice.id, &other.id).await.expect("other"), Some(other));
}

async fn delete_citizen_removes_everything(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let bob = stored_citizen(&store, 2).await;
    let file = uploaded_file(&store, &alice.id, 2).await;
    let record = evidence(&alice.id, T0, Some(file.clone()));
    store.insert_evidence(&record).await.expect("insert");
    let pending_upload = uploaded_file(&store, &alice.id, 1).await;
    let alice_session = session(&alice.id, 1, Some("sid"));
    store.insert_session(&alice_session).await.expect("session");
    let bob_record = evidence(&bob.id, T0, None);
    store.insert_evidence(&bob_record).await.expect("bob's");
    let bob_session = session(&bob.id, 2, Some("sid"));
    store.insert_session(&bob_session).await.expect("bob's session");

    assert!(store.delete_citizen(&alice.id).await.expect("delete"));
    assert!(!store.delete_citizen(&alice.id).await.expect("delete again"));
    assert!(store.citizen(&alice.id).await.expect("get").is_none());
    assert!(store.citizen_by_subject(&alice.subject_hash).await.expect("get").is_none());
    assert_eq!(store.evidence(&alice.id, &record.id).await.expect("evidence"), None);
    assert!(store.list_evidence(&alice.id).await.expect("list").is_empty());
    assert_eq!(store.session(&alice_session.id_hash).await.expect("session"), None);
    assert_eq!(store.file_chunk(&file.id, 0).await.expect("chunk"), None);
    assert_conflict(store.append_file_chunks(&pending_upload.id, &[(1, chunk(9, 1))]).await, Conflict::FileNotPending);

    // The subject can register again (a new account, nothing inherited).
    let again = CitizenRecord { id: citizen_id(), ..alice.clone() };
    store.insert_citizen(&again).await.expect("subject free again");
    assert!(store.list_evidence(&again.id).await.expect("list").is_empty());

    assert!(store.citizen(&bob.id).await.expect("bob").is_some());
    assert_eq!(store.evidence(&bob.id, &bob_record.id).await.expect("bob's evidence"), Some(bob_record));
    assert!(store.session(&bob_session.id_hash).await.expect("bob's session").is_some());
}

async fn timestamps_round_trip_exactly(store: Arc<dyn Store>) {
    let instants = [
        T0,
        0,
        1,
        -1,
        -2_208_988_800_000_001,  // 1899-12-31T23:59:59.999999Z
        253_402_300_799_999_999, // 9999-12-31T23:59:59.999999Z
        1_700_000_000_000_000 + 999_999,
    ];
    for (index, micros) in instants.into_iter().enumerate() {
        let index = u8::try_from(index).expect("few instants") + 10;
        let time = at(micros);
        let citizen = CitizenRecord { created_at: time, ..citizen(index) };
        store.insert_citizen(&citizen).await.expect("citizen");
        assert_eq!(store.citizen(&citizen.id).await.expect("get").expect("exists").created_at, time);

        let session = SessionRecord { created_at: time, last_seen_at: time, ..session(&citizen.id, index, None) };
        store.insert_session(&session).await.expect("session");
        assert_eq!(store.session(&session.id_hash).await.expect("get"), Some(session));

        let pending = PendingLogin { created_at: time, ..pending_login(index) };
        store.insert_pending_login(&pending).await.expect("pending");
        assert!(store.take_pending_login(&pending.state_hash).await.expect("take") == Some(pending));

        let record = evidence(&citizen.id, micros, None);
        store.insert_evidence(&record).await.expect("evidence");
        assert_eq!(store.evidence(&citizen.id, &record.id).await.expect("get"), Some(record.clone()));
        let listed = store.list_evidence(&citizen.id).await.expect("list");
        assert_eq!(listed.first().map(|item| item.created_at), Some(time));
    }
}

async fn upload_sized_batches_round_trip(store: Arc<dyn Store>) {
    // Two batches of 64 chunks of 64 KiB (plus the AEAD tag), as an upload sends them.
    let alice = stored_citizen(&store, 1).await;
    let id = file_id();
    store.begin_file(&id, &alice.id, at(T0)).await.expect("begin");
    let sealed_chunk = |index: i64| {
        let mut bytes = vec![u8::try_from(index % 251).expect("small"); 64 * 1024 + 16];
        bytes[..8].copy_from_slice(&index.to_be_bytes());
        bytes
    };
    for batch in 0..2 {
        let chunks: Vec<(i64, Vec<u8>)> =
            (batch * 64..(batch + 1) * 64).map(|index| (index, sealed_chunk(index))).collect();
        store.append_file_chunks(&id, &chunks).await.expect("append batch");
    }
    let file = FileRecord {
        id: id.clone(),
        media_type: "video/mp4".to_owned(),
        plaintext_size: 128 * 64 * 1024,
        chunk_count: 128,
        sealed_name: vec![7; 40],
    };
    store.insert_evidence(&evidence(&alice.id, T0, Some(file))).await.expect("complete");
    for index in [0, 1, 63, 64, 127] {
        assert_eq!(store.file_chunk(&id, index).await.expect("chunk"), Some(sealed_chunk(index)));
    }
}

// --- backend-specific checks -------------------------------------------------

/// Both migration folders must hold the same version-numbered files, so the
/// two schemas move in lockstep.
#[test]
fn migration_folders_have_the_same_file_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(root.join(backend))
            .expect("migration folder exists")
            .map(|entry| entry.expect("directory entry").file_name().to_string_lossy().into_owned())
            .collect()
    };
    let sqlite = names("sqlite");
    let postgres = names("postgres");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    for name in &sqlite {
        let (version, rest) = name.split_once('_').unwrap_or_else(|| panic!("{name}: expected NNNN_name.sql"));
        assert!(version.len() == 4 && version.bytes().all(|b| b.is_ascii_digit()), "{name}: version is 4 digits");
        assert!(rest.ends_with(".sql"), "{name}: expected .sql");
    }
}

/// Released migrations are append-only: every file's SHA-256 is in
/// `migrations/released.sha256` and must stay what it was (sqlx refuses a
/// database whose applied migration changed; 0001 was once edited in place).
#[test]
fn released_migrations_never_change() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let lock = std::fs::read_to_string(root.join("released.sha256")).expect("migrations/released.sha256");
    let mut locked = std::collections::BTreeMap::new();
    for line in lock.lines().filter(|line| !line.starts_with('#') && !line.trim().is_empty()) {
        let (hash, path) = line.split_once("  ").unwrap_or_else(|| panic!("bad line {line:?}: `<sha256>  <path>`"));
        assert!(locked.insert(path.to_owned(), hash.to_owned()).is_none(), "{path} listed twice");
    }
    let mut problems = Vec::new();
    for backend in ["sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join(backend)).expect("migration folder") {
            let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
            let path = format!("{backend}/{name}");
            let bytes = std::fs::read(root.join(&path)).expect("read migration");
            let hash = hex::encode(ring::digest::digest(&ring::digest::SHA256, &bytes));
            match locked.remove(&path) {
                Some(expected) if expected == hash => {}
                Some(_) => problems.push(format!("{path} changed after release: add a new migration instead")),
                None => problems.push(format!("{path} is not in migrations/released.sha256; add: {hash}  {path}")),
            }
        }
    }
    problems.extend(locked.keys().map(|path| format!("{path} was released and is gone")));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn open_dispatches_on_the_url_scheme() {
    assert!(matches!(tresor::store::open("mysql://localhost/tresor").await, Err(StoreError::UnsupportedUrl)));
    let memory = tresor::store::open("sqlite::memory:").await.expect("in-memory SQLite");
    memory.migrate().await.expect("migrate");
    let alice = stored_citizen(&memory, 1).await;
    assert!(memory.citizen(&alice.id).await.expect("get").is_some());

    let (directory, _store) = sqlite_store().await;
    let file_url = format!("sqlite://{}", sqlite_path(&directory).display());
    assert!(tresor::store::open(&file_url).await.is_ok());
    let (database, _store) = postgres_store().await;
    assert!(tresor::store::open(&database.url).await.is_ok());
    database.drop_database().await;
}

#[tokio::test]
async fn sqlite_file_is_in_wal_mode() {
    let (directory, _store) = sqlite_store().await;
    let url = format!("sqlite://{}", sqlite_path(&directory).display());
    let store = tresor::store::sqlite::SqliteStore::connect(&url).await.expect("connect");
    drop(store);
    let mut connection = sqlx::SqliteConnection::connect(&url).await.expect("raw connection");
    let journal_mode: String =
        sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut connection).await.expect("journal_mode");
    assert_eq!(journal_mode, "wal", "WAL is persistent in the file");
}

/// Malformed rows (written behind the store's back) must come out as
/// `Corrupt`, never as a panic.
#[tokio::test]
async fn sqlite_malformed_rows_are_corrupt() {
    let (directory, store) = sqlite_store().await;
    let url = format!("sqlite://{}", sqlite_path(&directory).display());
    let mut raw = sqlx::SqliteConnection::connect(&url).await.expect("raw connection");
    insert_malformed_rows_sqlite(&mut raw).await;
    assert_malformed_rows_are_corrupt(&store).await;
}

#[tokio::test]
async fn postgres_malformed_rows_are_corrupt() {
    let (database, store) = postgres_store().await;
    let mut raw = sqlx::PgConnection::connect(&database.url).await.expect("raw connection");
    for statement in [
        "INSERT INTO citizens VALUES ('not-an-id', '\\x01', '\\x02', 1, 0)",
        "INSERT INTO citizens VALUES ('0123456789abcdef0123456789abcdef', '\\x03', '\\x04', 1, 9223372036854775807)",
    ] {
        sqlx::query(statement).execute(&mut raw).await.expect("insert malformed row");
    }
    raw.close().await.ok();
    assert_malformed_rows_are_corrupt(&store).await;
    drop(store);
    database.drop_database().await;
}

async fn insert_malformed_rows_sqlite(raw: &mut sqlx::SqliteConnection) {
    for statement in [
        "INSERT INTO citizens VALUES ('not-an-id', x'01', x'02', 1, 0)",
        "INSERT INTO citizens VALUES ('0123456789abcdef0123456789abcdef', x'03', x'04', 1, 9223372036854775807)",
    ] {
        sqlx::query(statement).execute(&mut *raw).await.expect("insert malformed row");
    }
}

async fn assert_malformed_rows_are_corrupt(store: &Arc<dyn Store>) {
    assert!(matches!(store.citizen_by_subject(&[1]).await, Err(StoreError::Corrupt(_))), "bad id");
    assert!(matches!(store.citizen_by_subject(&[3]).await, Err(StoreError::Corrupt(_))), "bad timestamp");
}

// --- access requests and grants ------------------------------------------------

fn access_request(id: u8, expires_at: i64) -> AccessRequestRecord {
    AccessRequestRecord {
        id: format!("{id:032x}").parse().unwrap(),
        department: "strassenverkehrsbehoerde".to_owned(),
        service: "resident_parking_permit".to_owned(),
        reference: "AZ 1".to_owned(),
        created_at: at(T0),
        expires_at: at(expires_at),
        state: RequestState::Pending,
        citizen_id: None,
        answered_at: None,
        grant_id: None,
    }
}

fn grant(id: u8, request: &AccessRequestRecord, citizen: &CitizenId, max_uses: u32) -> GrantRecord {
    GrantRecord {
        id: format!("{:032x}", 0x1000 + u32::from(id)).parse().unwrap(),
        request_id: request.id.clone(),
        citizen_id: citizen.clone(),
        department: request.department.clone(),
        service: request.service.clone(),
        approved_fields: vec!["residence_certificate.street".to_owned()],
        evidence_ids: vec![evidence_id()],
        created_at: at(T0 + 10),
        not_before: at(T0 + 10),
        expires_at: at(T0 + 1_000_000),
        max_uses,
        uses: 0,
        revoked_at: None,
        without_files: false,
    }
}

/// A stored, approved grant of `citizen`.
async fn stored_grant(store: &Arc<dyn Store>, id: u8, citizen: &CitizenId, max_uses: u32) -> GrantRecord {
    let request = access_request(id, T0 + 1_000);
    store.insert_access_request(&request).await.expect("insert request");
    let grant = grant(id, &request, citizen, max_uses);
    assert!(store.answer_access_request(&request.id, citizen, at(T0 + 10), Some(&grant)).await.expect("approve"));
    grant
}

async fn access_request_is_answered_once_and_not_after_expiry(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let request = access_request(1, T0 + 1_000);
    store.insert_access_request(&request).await.expect("insert");
    assert_eq!(store.access_request(&request.id).await.expect("get"), Some(request.clone()));
    let grant = grant(1, &request, &alice.id, 3);
    assert!(store.answer_access_request(&request.id, &alice.id, at(T0 + 10), Some(&grant)).await.expect("approve"));
    let answered = store.access_request(&request.id).await.expect("get").expect("exists");
    assert_eq!(answered.state, RequestState::Approved);
    assert_eq!(answered.citizen_id.as_ref(), Some(&alice.id));
    assert_eq!(answered.grant_id.as_ref(), Some(&grant.id));
    assert_eq!(store.grant(&grant.id).await.expect("grant"), Some(grant.clone()));
    // Second answer (approve or deny): nothing changes, no second grant.
    let mut other = grant.clone();
    other.id = format!("{:032x}", 0xbeef).parse().unwrap();
    assert!(!store.answer_access_request(&request.id, &alice.id, at(T0 + 20), Some(&other)).await.expect("again"));
    assert!(!store.answer_access_request(&request.id, &alice.id, at(T0 + 20), None).await.expect("deny after"));
    assert_eq!(store.grant(&other.id).await.expect("get"), None);

    // Expired (at expires_at): cannot be answered; it is swept later.
    let late = access_request(2, T0 + 1_000);
    store.insert_access_request(&late).await.expect("insert");
    assert!(!store.answer_access_request(&late.id, &alice.id, at(T0 + 1_000), None).await.expect("too late"));
    assert_eq!(store.access_request(&late.id).await.expect("get").expect("exists").state, RequestState::Pending);
    assert_eq!(store.delete_expired_access_requests(at(T0 + 1_000)).await.expect("sweep"), 0, "not before expiry");
    assert_eq!(store.delete_expired_access_requests(at(T0 + 1_001)).await.expect("sweep"), 1, "only the pending one");
    assert_eq!(store.access_request(&late.id).await.expect("get"), None);
    assert!(store.access_request(&request.id).await.expect("get").is_some(), "answered requests stay");

    // Denied.
    let denied = access_request(3, T0 + 1_000);
    store.insert_access_request(&denied).await.expect("insert");
    assert!(store.answer_access_request(&denied.id, &alice.id, at(T0 + 10), None).await.expect("deny"));
    let stored = store.access_request(&denied.id).await.expect("get").expect("exists");
    assert_eq!((stored.state, stored.grant_id), (RequestState::Denied, None));
}

async fn grants_are_listed_per_citizen_and_revoked_by_their_owner_only(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let mallory = stored_citizen(&store, 2).await;
    let first = stored_grant(&store, 1, &alice.id, 3).await;
    let second = stored_grant(&store, 2, &alice.id, 3).await;
    let theirs = stored_grant(&store, 3, &mallory.id, 3).await;
    let ids: BTreeSet<GrantId> =
        store.grants_of_citizen(&alice.id).await.expect("list").into_iter().map(|grant| grant.id).collect();
    assert_eq!(ids, BTreeSet::from([first.id.clone(), second.id.clone()]));
    assert!(!store.revoke_grant(&mallory.id, &first.id, at(T0 + 50)).await.expect("not theirs"));
    assert_eq!(store.grant(&first.id).await.expect("get").expect("exists").revoked_at, None);
    assert!(store.revoke_grant(&alice.id, &first.id, at(T0 + 50)).await.expect("revoke"));
    assert!(!store.revoke_grant(&alice.id, &first.id, at(T0 + 60)).await.expect("twice"));
    assert_eq!(store.grant(&first.id).await.expect("get").expect("exists").revoked_at, Some(at(T0 + 50)));
    assert_eq!(store.grant(&theirs.id).await.expect("get").expect("exists").revoked_at, None);
}

async fn a_grant_keeps_whether_its_files_are_left_out(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let with_files = stored_grant(&store, 1, &alice.id, 3).await;
    let request = access_request(2, T0 + 1_000);
    store.insert_access_request(&request).await.expect("insert request");
    let without_files = GrantRecord { without_files: true, ..grant(2, &request, &alice.id, 3) };
    assert!(store.answer_access_request(&request.id, &alice.id, at(T0 + 10), Some(&without_files)).await.expect("ok"));
    assert_eq!(store.grant(&with_files.id).await.expect("get"), Some(with_files.clone()));
    assert_eq!(store.grant(&without_files.id).await.expect("get"), Some(without_files.clone()));
    let listed = store.grants_of_citizen(&alice.id).await.expect("list");
    assert!(listed.contains(&with_files) && listed.contains(&without_files));
    let release = store.grant_for_release(&without_files.id).await.expect("get").expect("exists");
    assert!(release.grant.without_files);
    assert!(!store.grant_for_release(&with_files.id).await.expect("get").expect("exists").grant.without_files);
}

fn release_event(grant: &GrantRecord) -> AuditEvent {
    AuditEvent {
        actor: Actor::Department(grant.department.clone()),
        action: Action::Release,
        targets: Targets {
            subject: Some(grant.citizen_id.to_string()),
            fields: grant.approved_fields.clone(),
            evidence: grant.evidence_ids.iter().map(ToString::to_string).collect(),
            grant: Some(grant.id.to_string()),
            ..Targets::default()
        },
        outcome: Outcome::Success,
        reason: None,
    }
}

async fn grant_claims_count_uses_with_the_audit_entry(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let mallory = stored_citizen(&store, 2).await;
    let document = evidence(&alice.id, T0, None);
    store.insert_evidence(&document).await.expect("evidence");
    let someone_elses = evidence(&mallory.id, T0, None);
    store.insert_evidence(&someone_elses).await.expect("evidence");
    let grant = stored_grant(&store, 1, &alice.id, 5).await;
    // The claim names alice's document, mallory's and one that does not exist.
    let claim = |max_uses| {
        Some(GrantClaim {
            grant_id: grant.id.clone(),
            max_uses,
            citizen_id: alice.id.clone(),
            evidence: vec![document.id.clone(), someone_elses.id.clone(), evidence_id()],
        })
    };
    let release = |claim| AuditAppend { time: at(T0 + 100), event: release_event(&grant), claim };
    // One batch: three claims against an effective limit of 2 (the policy's), plus a plain entry.
    let plain = AuditAppend { time: at(T0 + 100), event: release_event(&grant), claim: None };
    let appended = append(store.as_ref(), &[release(claim(2)), plain, release(claim(2)), release(claim(2))])
        .await
        .expect("append");
    let summary: Vec<(Outcome, Option<u32>, Option<String>, usize)> = appended
        .iter()
        .map(|a| {
            let event = &a.entry.event;
            (event.outcome, event.targets.grant_use, event.reason.clone(), event.targets.fields.len())
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (Outcome::Success, Some(1), None, 1),
            (Outcome::Success, None, None, 1),
            (Outcome::Success, Some(2), None, 1),
            (Outcome::Refused, None, Some("grant_exhausted".to_owned()), 0),
        ]
    );
    // A successful claim names exactly the claiming citizen's evidence that exists at the commit.
    assert_eq!(appended[0].evidence, vec![document.id.clone()]);
    assert_eq!(appended[2].evidence, vec![document.id.clone()]);
    assert!(appended[1].evidence.is_empty() && appended[3].evidence.is_empty());
    assert_eq!(store.grant(&grant.id).await.expect("get").expect("exists").uses, 2);
    // The stored bodies are the returned entries (a refusal is stored as a refusal).
    let hashes: Vec<[u8; 32]> = appended.iter().map(|a| a.entry.leaf_hash()).collect();
    assert_eq!(store.audit_leaf_hashes(0, 4).await.expect("leaves"), hashes);
    // Revoked, and a grant that does not exist: refusals, nothing counted, nothing read.
    store.revoke_grant(&alice.id, &grant.id, at(T0 + 200)).await.expect("revoke");
    let mut missing = claim(5).expect("claim");
    missing.grant_id = format!("{:032x}", 0xdead).parse().unwrap();
    let appended = append(store.as_ref(), &[release(claim(5)), release(Some(missing))]).await.expect("append");
    for appended in &appended {
        let event = &appended.entry.event;
        assert_eq!((event.outcome, event.reason.as_deref()), (Outcome::Refused, Some("grant_revoked")));
        assert!(appended.evidence.is_empty());
    }
    assert_eq!(store.grant(&grant.id).await.expect("get").expect("exists").uses, 2);
    assert_eq!(store.audit_size().await.expect("size"), 6);
    // The release read joins the citizen's wrapped key.
    let release = store.grant_for_release(&grant.id).await.expect("read").expect("exists");
    assert_eq!((release.wrapped_dek, release.kek_version), (alice.wrapped_dek.clone(), alice.kek_version));
    assert_eq!(store.grant_for_release(&format!("{:032x}", 0xdead).parse().unwrap()).await.expect("read"), None);
}

async fn erasing_a_citizen_removes_their_grants(store: Arc<dyn Store>) {
    let alice = stored_citizen(&store, 1).await;
    let grant = stored_grant(&store, 1, &alice.id, 3).await;
    assert!(store.delete_citizen(&alice.id).await.expect("erase"));
    assert_eq!(store.grant(&grant.id).await.expect("get"), None);
    let request = store.access_request(&grant.request_id).await.expect("get").expect("request stays");
    assert_eq!(request.citizen_id, None, "the request no longer names the erased citizen");
}
