//! KEK rotation (`tresor keys rotate-kek`) against a serving vault: every
//! citizen's DEK and every form draft's key re-wrapped under a new KEK
//! version, no evidence re-encrypted, the vault reading everything
//! throughout; an interrupted run (kill -9 of the real binary) resumes; a
//! wrong passphrase changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::rand::SystemRandom;
use tresor::crypto::{DataKey, FileKeyProvider, KdfParams, KeyProvider, Passphrase};
use tresor::store::{AuditFilter, CitizenRecord, FormDraftRecord};
use tresor::vault::key_rotation::{Quiet, RotationError, RotationSettings, rotate_file_keks};

use super::*;

const PASSPHRASE: &str = "rotation test passphrase";

fn passphrase() -> Passphrase {
    Passphrase::new(PASSPHRASE.to_owned())
}

/// A key directory with KEK v1, and the vault's provider opened from it.
fn key_dir() -> (tempfile::TempDir, PathBuf, Arc<FileKeyProvider>) {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("keys");
    FileKeyProvider::init(&dir, &passphrase(), KdfParams::fast_for_tests(), &SystemRandom::new()).unwrap();
    let keys = Arc::new(FileKeyProvider::open(&dir, &passphrase()).unwrap());
    (temp, dir, keys)
}

async fn start(backend: Backend, keys: &Arc<FileKeyProvider>) -> TestApp {
    let mut options = TestAppOptions::new(backend);
    options.keys = Some(keys.clone() as Arc<dyn KeyProvider>);
    TestApp::start_with(options).await
}

/// `count` citizens straight into the store, each with a DEK wrapped under
/// the current KEK (as a first login does); their ids.
async fn add_citizens(app: &TestApp, keys: &dyn KeyProvider, count: usize) -> Vec<CitizenId> {
    let rng = SystemRandom::new();
    let mut ids = Vec::with_capacity(count);
    for n in 0..count {
        let id = CitizenId::generate(&rng);
        let dek = DataKey::generate(&rng).unwrap();
        let (kek_version, wrapped_dek) = keys.wrap_dek(&id, &dek).unwrap();
        let record = CitizenRecord {
            id: id.clone(),
            subject_hash: format!("synthetic subject {n}").into_bytes(),
            wrapped_dek,
            kek_version,
            created_at: Utc::now(),
        };
        app.store.insert_citizen(&record).await.unwrap();
        ids.push(id);
    }
    ids
}

fn key_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        walk(dir).into_iter().map(|path| path.strip_prefix(dir).unwrap().display().to_string()).collect();
    names.sort();
    names
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The reason codes of the key-operation entries, oldest first.
async fn key_operations(app: &TestApp) -> Vec<String> {
    let filter = AuditFilter { action: Some("key_operation"), ..AuditFilter::default() };
    app.store
        .audit_entries(&filter, 1_000, None)
        .await
        .unwrap()
        .iter()
        .filter_map(|entry| {
            let body: Value = serde_json::from_slice(entry.body.as_deref()?).ok()?;
            Some(body["reason"].as_str()?.to_owned())
        })
        .collect()
}

async fn a_kek_rotation_rewraps_every_key_while_the_vault_serves(backend: Backend) {
    let (_temp, dir, keys) = key_dir();
    let app = start(backend, &keys).await;
    let anna = log_in(&app, "anna", "high").await;
    let file = pdf(70_000);
    let evidence = upload_income_statement(
        &app,
        &anna,
        Some(Attachment { name: "lohn.pdf", bytes: file.clone(), claimed_type: "application/pdf" }),
    )
    .await;
    let synthetic = add_citizens(&app, keys.as_ref(), 150).await;
    // A form draft whose key is wrapped under v1 too.
    let draft_hash = vec![7u8; 32];
    let draft_key = DataKey::generate(&SystemRandom::new()).unwrap();
    let (draft_version, wrapped_key) = keys.wrap_draft_key(&draft_hash, &draft_key).unwrap();
    app.store
        .put_form_draft(&FormDraftRecord {
            id_hash: draft_hash.clone(),
            kek_version: draft_version,
            wrapped_key,
            sealed: vec![1, 2, 3],
            created_at: Utc::now(),
        })
        .await
        .unwrap();
    assert_eq!(app.store.kek_versions_in_use().await.unwrap(), BTreeMap::from([(1, 152)]));

    let settings = RotationSettings { batch: 40, passes: 3, settle: Duration::ZERO };
    let rng = SystemRandom::new();
    let report =
        rotate_file_keks(app.store.as_ref(), &dir, &passphrase(), KdfParams::fast_for_tests(), &rng, &settings, &Quiet)
            .await
            .unwrap();
    assert_eq!(report.version, 2);
    assert!(report.created);
    assert_eq!(report.rewrapped, 152, "every citizen's DEK and the draft's key");
    assert_eq!(report.retired, vec![(1, dir.join("retired").join("kek-v1.sealed"))]);
    assert_eq!(app.store.kek_versions_in_use().await.unwrap(), BTreeMap::from([(2, 152)]));
    assert_eq!(
        key_files(&dir),
        ["kek-v2.sealed", "pepper.sealed", "retired/kek-v1.sealed", "signing-key.pub", "signing-key.sealed"]
    );

    // The serving vault opened only v1 at start: it picks up v2 when it
    // meets it, and reads the evidence and the file as before.
    assert_eq!(keys.current_kek_version(), 1);
    let shown = get_json(&anna, &app, &format!("/api/v1/evidence/{evidence}")).await;
    assert_eq!(shown["fields"]["employer"], "Zebrafink Maschinenbau GmbH", "{shown}");
    assert_eq!(download(&app, &anna, &evidence, "application/pdf").await, file);
    assert_eq!(keys.current_kek_version(), 2, "the vault now wraps new keys under v2");
    let ben = log_in(&app, "ben", "substantial").await;
    let ben_id = citizen_id(&app, &ben).await;
    assert_eq!(app.store.citizen(&ben_id).await.unwrap().unwrap().kek_version, 2);

    // Every re-wrapped key opens with the keys as a restarted vault opens
    // them (without the retired v1), under v2 and for its own citizen only.
    let restarted = FileKeyProvider::open(&dir, &passphrase()).unwrap();
    assert_eq!(restarted.kek_versions(), vec![2]);
    for id in &synthetic {
        let record = app.store.citizen(id).await.unwrap().unwrap();
        assert_eq!(record.kek_version, 2);
        restarted.unwrap_dek(id, 2, &record.wrapped_dek).unwrap();
        assert!(restarted.unwrap_dek(&ben_id, 2, &record.wrapped_dek).is_err(), "bound to its citizen");
    }
    let draft = app.store.take_form_draft(&draft_hash).await.unwrap().unwrap();
    assert_eq!((draft.kek_version, draft.sealed), (2, vec![1, 2, 3]), "only the wrapping changed");
    restarted.unwrap_draft_key(&draft_hash, 2, &draft.wrapped_key).unwrap();
    assert_eq!(key_operations(&app).await, ["kek_rotation_started_v2", "kek_rotation_finished_v2"]);
}

async fn a_wrong_passphrase_or_an_unknown_version_changes_nothing(backend: Backend) {
    let (_temp, dir, keys) = key_dir();
    let app = start(backend, &keys).await;
    add_citizens(&app, keys.as_ref(), 5).await;
    let before = key_files(&dir);
    let rng = SystemRandom::new();
    let settings = RotationSettings { settle: Duration::ZERO, ..RotationSettings::default() };
    let wrong = Passphrase::new("not the passphrase at all".to_owned());
    let refused =
        rotate_file_keks(app.store.as_ref(), &dir, &wrong, KdfParams::fast_for_tests(), &rng, &settings, &Quiet).await;
    assert!(matches!(refused, Err(RotationError::Crypto(tresor::crypto::CryptoError::WrongPassphrase))), "{refused:?}");
    assert_eq!(key_files(&dir), before);
    assert_eq!(app.store.kek_versions_in_use().await.unwrap(), BTreeMap::from([(1, 5)]));

    // A stored key under a version the key directory lacks: refused before anything changes.
    app.execute_as_insider(
        "UPDATE citizens SET kek_version = 9 WHERE kek_version = 1 AND id = (SELECT MIN(id) FROM citizens)",
    )
    .await;
    let refused =
        rotate_file_keks(app.store.as_ref(), &dir, &passphrase(), KdfParams::fast_for_tests(), &rng, &settings, &Quiet)
            .await;
    match refused {
        Err(error @ RotationError::MissingKek { version: 9, count: 1 }) => {
            assert!(error.to_string().contains("not in the key directory"), "{error}")
        }
        other => panic!("expected MissingKek, got {other:?}"),
    }
    assert_eq!(key_files(&dir), before);
    assert_eq!(app.store.kek_versions_in_use().await.unwrap(), BTreeMap::from([(1, 4), (9, 1)]));
    assert!(key_operations(&app).await.iter().all(|reason| !reason.starts_with("kek_rotation")));
}

/// The real binary, killed with SIGKILL in the middle of its work, then run
/// again: it resumes the same rotation and finishes; no key is unreadable at
/// any point.
async fn a_rotation_killed_midway_resumes_and_finishes(backend: Backend) {
    let (temp, dir, keys) = key_dir();
    let app = start(backend, &keys).await;
    let ids = add_citizens(&app, keys.as_ref(), 3_000).await;
    let database_url = match app.postgres_url() {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}", app.sqlite_files()[0].display()),
    };
    let config = temp.path().join("tresor.toml");
    std::fs::write(&config, format!("key_dir = {:?}\ndatabase_url = {database_url:?}\n", dir.display().to_string()))
        .unwrap();
    let rotate = || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tresor"));
        command
            .args(["--config", config.to_str().unwrap(), "keys", "rotate-kek", "--batch", "5", "--settle-seconds", "0"])
            .env("TRESOR_KEY_PASSPHRASE", PASSPHRASE)
            .env_remove("TRESOR_DATABASE_URL")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    let mut child = rotate().spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let partial = loop {
        let in_use = app.store.kek_versions_in_use().await.unwrap();
        if in_use.get(&2).copied().unwrap_or(0) >= 50 {
            break in_use;
        }
        assert!(child.try_wait().unwrap().is_none(), "the rotation ended before it could be interrupted");
        assert!(std::time::Instant::now() < deadline, "no progress within 120 s: {in_use:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let after_kill = app.store.kek_versions_in_use().await.unwrap();
    assert!(after_kill.get(&1).copied().unwrap_or(0) > 0, "killed midway: {partial:?} then {after_kill:?}");
    assert_eq!(after_kill.values().sum::<u64>(), 3_000);
    // Midway, every citizen is readable: v1 rows by the old KEK, v2 rows by the new.
    let midway = FileKeyProvider::open(&dir, &passphrase()).unwrap();
    for id in &ids {
        let record = app.store.citizen(id).await.unwrap().unwrap();
        midway.unwrap_dek(id, record.kek_version, &record.wrapped_dek).unwrap();
    }

    let output = rotate().output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("KEK v2 resumed"), "{stdout}");
    assert!(stdout.contains("KEK v1 retired"), "{stdout}");
    assert_eq!(app.store.kek_versions_in_use().await.unwrap(), BTreeMap::from([(2, 3_000)]));
    let restarted = FileKeyProvider::open(&dir, &passphrase()).unwrap();
    for id in &ids {
        let record = app.store.citizen(id).await.unwrap().unwrap();
        restarted.unwrap_dek(id, 2, &record.wrapped_dek).unwrap();
    }
    let operations = key_operations(&app).await;
    assert!(
        operations.ends_with(&[
            "kek_rotation_started_v2".to_owned(),
            "kek_rotation_resumed_v2".to_owned(),
            "kek_rotation_finished_v2".to_owned()
        ]),
        "{operations:?}"
    );
}

// Their own key directory with the file provider: not in the PKCS#11 runs.
on_both_backends!(
    a_kek_rotation_rewraps_every_key_while_the_vault_serves,
    a_wrong_passphrase_or_an_unknown_version_changes_nothing,
    a_rotation_killed_midway_resumes_and_finishes,
);
