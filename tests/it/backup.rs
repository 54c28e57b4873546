//! Backup and restore against a real SQLite vault with file keys on disk:
//! a backup taken while uploads run restores every evidence with the same
//! keys and a log that verifies against a checkpoint saved before it; keys
//! are never in the archive; an erased citizen stays erased across an older
//! backup; corrupt, truncated and tampered archives, a non-empty target and
//! a PostgreSQL database are refused with clear messages and leave nothing
//! behind; and the binary does the same from the command line.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ring::rand::SystemRandom;
use tresor::audit::service::Audit;
use tresor::backup::{BackupError, ErasureList, RestoreTarget};
use tresor::clock::SystemClock;
use tresor::crypto::{FileKeyProvider, KdfParams, KeyProvider, Passphrase};
use tresor::ids::{CitizenId, EvidenceId};
use tresor::policy::{LoginLevel, Policies};
use tresor::store::Store;
use tresor::vault::{Vault, VaultError};

use crate::support::app::Backend;

const PASSPHRASE: &str = "backup test passphrase";
const ORIGIN: &str = "backup.test/audit";

/// A vault as `tresor serve` runs it: data directory with the SQLite file,
/// the key directory (with the erasure list) inside it.
struct VaultDir {
    _root: tempfile::TempDir,
    data_dir: PathBuf,
    key_dir: PathBuf,
}

impl VaultDir {
    /// A fresh data directory with keys (fast KDF) and nothing else.
    fn with_keys() -> Self {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data");
        let key_dir = data_dir.join("keys");
        std::fs::create_dir_all(&data_dir).unwrap();
        FileKeyProvider::init(&key_dir, &passphrase(), KdfParams::fast_for_tests(), &SystemRandom::new()).unwrap();
        Self { _root: root, data_dir, key_dir }
    }

    /// A second, empty data directory holding a copy of `other`'s key
    /// directory (what an operator restores from the key backup).
    fn with_keys_of(other: &VaultDir) -> Self {
        let root = tempfile::tempdir().unwrap();
        let data_dir = root.path().join("data");
        let key_dir = data_dir.join("keys");
        std::fs::create_dir_all(&key_dir).unwrap();
        for entry in std::fs::read_dir(&other.key_dir).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), key_dir.join(entry.file_name())).unwrap();
        }
        Self { _root: root, data_dir, key_dir }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.data_dir.join("tresor.sqlite").display())
    }

    fn erasure_list(&self) -> ErasureList {
        ErasureList::new(self.key_dir.join("erased-citizens"))
    }

    fn keys(&self) -> Arc<FileKeyProvider> {
        Arc::new(FileKeyProvider::open(&self.key_dir, &passphrase()).unwrap())
    }

    fn target<'a>(&'a self, url: &'a str, list: &'a ErasureList) -> RestoreTarget<'a> {
        RestoreTarget { database_url: url, allowed: vec![self.key_dir.clone()], erasure_list: list }
    }

    /// Everything in the data directory but the key directory.
    fn entries_besides_keys(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.data_dir)
            .map(|entries| entries.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.retain(|name| name != "keys");
        names.sort();
        names
    }
}

fn passphrase() -> Passphrase {
    Passphrase::new(PASSPHRASE.to_owned())
}

async fn open_vault(store: Arc<dyn Store>, keys: Arc<FileKeyProvider>, list: ErasureList) -> Vault {
    let policies = Arc::new(Policies::load(&crate::support::app::shipped_policies()).unwrap());
    let keys: Arc<dyn KeyProvider> = keys;
    let audit = Audit::start(store.clone(), keys.clone(), Arc::new(SystemClock), ORIGIN.to_owned(), 1_000_000);
    Vault::new(store, keys, policies, Arc::new(SystemClock), Arc::new(SystemRandom::new()), audit)
        .with_erasure_list(Arc::new(list))
}

async fn vault_at(dir: &VaultDir) -> Vault {
    let store = tresor::store::open(&dir.database_url()).await.unwrap();
    store.migrate().await.unwrap();
    open_vault(store, dir.keys(), dir.erasure_list()).await
}

/// A PDF of `length` bytes that names `marker`.
fn pdf(marker: &str, length: usize) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.4\n% {marker}\n").into_bytes();
    let mut counter = 0u32;
    while bytes.len() < length {
        bytes.extend_from_slice(&counter.to_le_bytes());
        counter = counter.wrapping_add(1);
    }
    bytes.truncate(length);
    bytes
}

fn residence_fields(family_name: &str) -> BTreeMap<String, String> {
    [
        ("family_name", family_name),
        ("given_names", "Erika"),
        ("street", "Lindenallee"),
        ("house_number", "12a"),
        ("postal_code", "12345"),
        ("city", "Musterstadt"),
        ("registered_since", "01.04.2019"),
        ("residence_type", "main"),
    ]
    .iter()
    .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
    .collect()
}

/// A citizen with one residence certificate and its PDF.
async fn citizen_with_document(vault: &Vault, name: &str, file_length: usize) -> (CitizenId, EvidenceId) {
    let citizen = vault.log_in_citizen("https://idp.backup.test", name).await.unwrap();
    let evidence = upload(vault, &citizen, name, file_length).await;
    (citizen, evidence)
}

async fn upload(vault: &Vault, citizen: &CitizenId, name: &str, file_length: usize) -> EvidenceId {
    let mut file = vault.begin_file(citizen, &format!("{name}.pdf"), 50 * 1024 * 1024).await.unwrap();
    file.write(vault, &pdf(name, file_length)).await.unwrap();
    let file = file.finish(vault).await.unwrap();
    vault
        .create_evidence(citizen, LoginLevel::High, "residence_certificate", &residence_fields(name), Some(file))
        .await
        .unwrap()
}

/// The evidence's fields and its file's bytes, opened with the vault's keys.
/// A document's fields and file bytes.
type Document = (Vec<(String, String)>, Vec<u8>);

async fn read_document(vault: &Vault, citizen: &CitizenId, id: &EvidenceId) -> Result<Document, VaultError> {
    let view = vault.evidence(citizen, LoginLevel::High, id).await?;
    let (_, mut reader) = vault.open_file(citizen, LoginLevel::High, id).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = reader.next_chunk().await? {
        bytes.extend_from_slice(&chunk);
    }
    Ok((view.fields, bytes))
}

fn public_key(dir: &VaultDir) -> [u8; 32] {
    use base64::Engine;
    let text = std::fs::read_to_string(dir.key_dir.join("signing-key.pub")).unwrap();
    base64::engine::general_purpose::STANDARD.decode(text.trim()).unwrap().try_into().unwrap()
}

fn member_names(archive: &Path) -> Vec<String> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    tar.entries().unwrap().map(|entry| entry.unwrap().path().unwrap().to_string_lossy().into_owned()).collect()
}

/// A backup of a seeded vault: the vault's directory, the archive, a
/// checkpoint signed before the backup, and the seeded documents.
struct Seeded {
    source: VaultDir,
    vault: Vault,
    _out_dir: tempfile::TempDir,
    archive: PathBuf,
    checkpoint: String,
    documents: Vec<(CitizenId, EvidenceId, Document)>,
}

async fn seeded_backup(citizens: &[&str]) -> Seeded {
    let source = VaultDir::with_keys();
    let vault = vault_at(&source).await;
    let mut documents = Vec::new();
    for (index, name) in citizens.iter().enumerate() {
        // Several chunks each (64 KiB), different lengths.
        let (citizen, evidence) = citizen_with_document(&vault, name, 150_000 + index * 70_001).await;
        let content = read_document(&vault, &citizen, &evidence).await.unwrap();
        documents.push((citizen, evidence, content));
    }
    let checkpoint = vault.audit().checkpoint().await.unwrap().expect("a checkpoint").note;
    let out_dir = tempfile::tempdir().unwrap();
    let archive = out_dir.path().join("tresor-backup.tar");
    tresor::backup::create(&source.database_url(), &archive, tresor::backup::no_progress()).await.unwrap();
    Seeded { source, vault, _out_dir: out_dir, archive, checkpoint, documents }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_uploads_run_restores_every_evidence_with_the_same_keys() {
    let source = VaultDir::with_keys();
    let vault = vault_at(&source).await;
    let mut documents = Vec::new();
    for name in ["anna", "ben", "clara"] {
        let (citizen, evidence) = citizen_with_document(&vault, name, 300_000).await;
        documents.push((citizen.clone(), evidence.clone(), read_document(&vault, &citizen, &evidence).await.unwrap()));
    }
    let saved_checkpoint = vault.audit().checkpoint().await.unwrap().expect("a checkpoint").note;
    // An upload left unfinished across the backup: its pending file must
    // neither break the backup nor appear in it.
    let unfinished = vault.begin_file(&documents[0].0, "unfinished.pdf", 50 * 1024 * 1024).await;
    let mut unfinished = unfinished.unwrap();
    unfinished.write(&vault, &pdf("unfinished", 200_000)).await.unwrap();
    // The vault keeps serving: uploads run while the backup is taken.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let uploads = tokio::spawn({
        let vault = vault.clone();
        let stop = stop.clone();
        let citizen = documents[1].0.clone();
        async move {
            let mut count = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                upload(&vault, &citizen, &format!("during{count}"), 100_000).await;
                count += 1;
            }
            count
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let out_dir = tempfile::tempdir().unwrap();
    let archive = out_dir.path().join("backup.tar");
    let summary =
        tresor::backup::create(&source.database_url(), &archive, tresor::backup::no_progress()).await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let uploaded_during = uploads.await.unwrap();
    assert!(uploaded_during > 0, "uploads ran during the backup");
    assert!(summary.manifest.files >= 3, "{:?}", summary.manifest);
    assert!(summary.manifest.audit.checkpoint.is_some());
    assert!(
        !member_names(&archive).iter().any(|name| name.ends_with(unfinished.file_id().as_str())),
        "the unfinished upload is not in the backup"
    );
    // Only the temporary files' absence is left to check beside the archive.
    let beside: Vec<_> = std::fs::read_dir(out_dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("backup.tar")]);

    let key = public_key(&source);
    let verified =
        tresor::backup::verify(&archive, &key, Some(&saved_checkpoint), tresor::backup::no_progress()).await.unwrap();
    assert_eq!(verified.audit.entries, summary.manifest.audit.tree_size);

    let restored = VaultDir::with_keys_of(&source);
    let url = restored.database_url();
    let list = restored.erasure_list();
    list.ensure_exists().unwrap();
    let result = tresor::backup::restore(
        &archive,
        restored.target(&url, &list),
        &key,
        Some(&saved_checkpoint),
        tresor::backup::no_progress(),
    )
    .await
    .unwrap();
    assert_eq!(result.erased, 0);
    assert_eq!(restored.entries_besides_keys(), vec!["tresor.sqlite", "tresor.sqlite.blobs"]);
    let restored_vault = vault_at(&restored).await;
    for (citizen, evidence, content) in &documents {
        assert_eq!(&read_document(&restored_vault, citizen, evidence).await.unwrap(), content);
    }
    // The restored log verifies against the checkpoint saved before the backup.
    tresor::audit::verify::verify_log(restored_vault.store().as_ref(), &key, Some(&saved_checkpoint), &mut |_, _| {})
        .await
        .unwrap();
    // Every file of the restored vault opens, those uploaded during the backup included.
    for (citizen, _, _) in &documents {
        for summary in restored_vault.list_evidence(citizen).await.unwrap() {
            read_document(&restored_vault, citizen, &summary.id).await.unwrap();
        }
    }
    unfinished.abort(&vault).await;
    vault.audit().shutdown().await;
    restored_vault.audit().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_never_in_the_backup() {
    let seeded = seeded_backup(&["anna", "ben"]).await;
    let mut archive = Vec::new();
    std::fs::File::open(&seeded.archive).unwrap().read_to_end(&mut archive).unwrap();
    let mut key_files = 0;
    for entry in std::fs::read_dir(&seeded.source.key_dir).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read(&path).unwrap();
        if content.len() < 16 {
            continue;
        }
        key_files += 1;
        // The sealed key files, and any 32-byte window of them.
        for window in content.chunks(32).filter(|window| window.len() == 32) {
            assert!(
                !archive.windows(32).any(|candidate| candidate == window),
                "bytes of {} are in the backup",
                path.display()
            );
        }
    }
    assert!(key_files >= 3, "the key directory holds the KEK, signing key and pepper files");
    let names = member_names(&seeded.archive);
    assert_eq!(names.first().map(String::as_str), Some("tresor.sqlite"));
    assert_eq!(names.last().map(String::as_str), Some("manifest.json"));
    assert!(
        names[1..names.len() - 1].iter().all(|name| name.strip_prefix("blobs/").is_some_and(|id| id.len() == 32)),
        "only the database, blobs and the manifest: {names:?}"
    );
    assert_eq!(names.len(), 2 + seeded.documents.len());
    seeded.vault.audit().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_citizen_stays_erased_when_an_older_backup_is_restored() {
    let seeded = seeded_backup(&["anna", "ben"]).await;
    let (erased, erased_evidence, _) = seeded.documents[0].clone();
    let (kept, kept_evidence, kept_content) = seeded.documents[1].clone();
    // After the backup, anna erases her account: she goes on the list first.
    seeded.vault.erase_account(&erased).await.unwrap();
    assert_eq!(seeded.source.erasure_list().read().unwrap(), vec![erased.clone()]);
    let key = public_key(&seeded.source);

    // Without the erasure list (keys restored from a backup that lacks it), no restore.
    let without_list = VaultDir::with_keys_of(&seeded.source);
    std::fs::remove_file(without_list.key_dir.join("erased-citizens")).unwrap();
    let url = without_list.database_url();
    let list = without_list.erasure_list();
    let error = tresor::backup::restore(
        &seeded.archive,
        without_list.target(&url, &list),
        &key,
        None,
        tresor::backup::no_progress(),
    )
    .await
    .expect_err("no erasure list, no restore");
    assert!(matches!(error, BackupError::ErasureList(_)), "{error}");
    assert!(error.to_string().contains("erasure list"), "{error}");
    assert!(without_list.entries_besides_keys().is_empty());

    // With it, the old backup comes back without anna.
    let restored = VaultDir::with_keys_of(&seeded.source);
    let url = restored.database_url();
    let list = restored.erasure_list();
    let result = tresor::backup::restore(
        &seeded.archive,
        restored.target(&url, &list),
        &key,
        None,
        tresor::backup::no_progress(),
    )
    .await
    .unwrap();
    assert_eq!(result.erased, 1);
    let restored_vault = vault_at(&restored).await;
    assert!(restored_vault.store().citizen(&erased).await.unwrap().is_none(), "no wrapped DEK for anna");
    assert!(matches!(
        read_document(&restored_vault, &erased, &erased_evidence).await,
        Err(VaultError::NoAccount | VaultError::NotFound)
    ));
    // Her sealed bytes are not in the restored blob directory either.
    let blobs: Vec<String> = std::fs::read_dir(restored.data_dir.join("tresor.sqlite.blobs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(blobs.len(), 1, "only ben's file: {blobs:?}");
    assert_eq!(read_document(&restored_vault, &kept, &kept_evidence).await.unwrap(), kept_content);
    // Start-up finds nothing more to erase.
    assert_eq!(restored_vault.apply_erasure_list().await.unwrap(), 0);
    seeded.vault.audit().shutdown().await;
    restored_vault.audit().shutdown().await;
}

/// A database restored by other means (pg_restore, a copied file) still
/// holds a citizen on the list: start-up deletes them, recorded first.
async fn start_up_applies_the_erasure_list(backend: Backend) {
    let keys_dir = VaultDir::with_keys();
    let (_sqlite, _postgres, store) = match backend {
        Backend::Sqlite => {
            let (dir, store) = crate::support::postgres::sqlite_store().await;
            (Some(dir), None, store)
        }
        Backend::Postgres => {
            let (database, store) = crate::support::postgres::postgres_store().await;
            (None, Some(database), store)
        }
    };
    let vault = open_vault(store.clone(), keys_dir.keys(), keys_dir.erasure_list()).await;
    let (erased, _) = citizen_with_document(&vault, "anna", 70_000).await;
    let (kept, kept_evidence) = citizen_with_document(&vault, "ben", 70_000).await;
    // As if anna had erased her account after the backup this database came from.
    keys_dir.erasure_list().append(&erased, chrono::Utc::now()).unwrap();
    let before = store.audit_size().await.unwrap();
    assert_eq!(vault.apply_erasure_list().await.unwrap(), 1);
    assert!(store.citizen(&erased).await.unwrap().is_none());
    read_document(&vault, &kept, &kept_evidence).await.unwrap();
    let entries = store.audit_entries(&tresor::store::AuditFilter::default(), 10, Some(before - 1)).await.unwrap();
    let body = String::from_utf8(entries[0].body.clone().unwrap()).unwrap();
    assert!(
        body.contains("\"account_erase\"") && body.contains("erasure_list") && body.contains(erased.as_str()),
        "{body}"
    );
    assert_eq!(vault.apply_erasure_list().await.unwrap(), 0, "applied once");
    vault.audit().shutdown().await;
}

on_both_backends!(start_up_applies_the_erasure_list);

/// Whether `error`'s message contains every one of `words`.
fn says(error: &BackupError, words: &[&str]) -> bool {
    let message = error.to_string();
    words.iter().all(|word| message.contains(word))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_truncated_and_tampered_archives_are_refused_and_nothing_is_restored() {
    let seeded = seeded_backup(&["anna"]).await;
    let key = public_key(&seeded.source);
    let bytes = std::fs::read(&seeded.archive).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    // The first member's data starts after its 512-byte header.
    let mut flipped = bytes.clone();
    flipped[512 + 100] ^= 0x01;
    let cases = [
        (write("truncated.tar", &bytes[..bytes.len() / 2]), vec!["not a complete tresor backup", "truncated"]),
        (write("no-manifest.tar", &bytes[..bytes.len() - 3 * 1024]), vec!["not a complete tresor backup"]),
        (
            write("garbage.tar", b"this is not an archive at all, just text that is long enough"),
            vec!["not a complete tresor backup"],
        ),
        (write("flipped.tar", &flipped), vec!["tresor.sqlite", "SHA-256 differs"]),
        (write("empty.tar", b""), vec!["not a complete tresor backup"]),
    ];
    for (path, words) in &cases {
        let error = tresor::backup::verify(path, &key, None, tresor::backup::no_progress())
            .await
            .expect_err(&path.display().to_string());
        assert!(says(&error, words), "{}: {error}", path.display());
        let target = VaultDir::with_keys_of(&seeded.source);
        let url = target.database_url();
        let list = target.erasure_list();
        list.ensure_exists().unwrap();
        let error =
            tresor::backup::restore(path, target.target(&url, &list), &key, None, tresor::backup::no_progress())
                .await
                .expect_err(&path.display().to_string());
        assert!(says(&error, words), "restore of {}: {error}", path.display());
        assert!(target.entries_besides_keys().is_empty(), "nothing half-restored from {}", path.display());
    }
    // The wrong signing key: the audit log does not verify.
    let other = VaultDir::with_keys();
    let error = tresor::backup::verify(&seeded.archive, &public_key(&other), None, tresor::backup::no_progress())
        .await
        .expect_err("a foreign key");
    assert!(says(&error, &["audit log", "does not verify"]), "{error}");

    // A non-empty data directory is refused and left as it was.
    let occupied = VaultDir::with_keys_of(&seeded.source);
    std::fs::write(occupied.data_dir.join("tresor.sqlite"), b"someone's database").unwrap();
    let url = occupied.database_url();
    let list = occupied.erasure_list();
    list.ensure_exists().unwrap();
    let error = tresor::backup::restore(
        &seeded.archive,
        occupied.target(&url, &list),
        &key,
        None,
        tresor::backup::no_progress(),
    )
    .await
    .expect_err("not empty");
    assert!(
        matches!(error, BackupError::TargetNotEmpty { .. }) && says(&error, &["not empty", "tresor.sqlite"]),
        "{error}"
    );
    assert_eq!(std::fs::read(occupied.data_dir.join("tresor.sqlite")).unwrap(), b"someone's database");
    assert_eq!(occupied.entries_besides_keys(), vec!["tresor.sqlite"]);

    // An existing output is never overwritten; PostgreSQL is refused with the way to go.
    let error = tresor::backup::create(&seeded.source.database_url(), &seeded.archive, tresor::backup::no_progress())
        .await
        .expect_err("exists");
    assert!(matches!(error, BackupError::OutputExists(_)), "{error}");
    assert_eq!(std::fs::read(&seeded.archive).unwrap(), bytes);
    let error = tresor::backup::create(
        "postgres://tresor@db/tresor",
        &dir.path().join("pg.tar"),
        tresor::backup::no_progress(),
    )
    .await
    .expect_err("postgres");
    assert!(says(&error, &["PostgreSQL", "pg_dump", "README"]), "{error}");
    assert!(!dir.path().join("pg.tar").exists());
    seeded.vault.audit().shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_backs_up_verifies_and_restores_with_clear_messages() {
    let seeded = seeded_backup(&["anna"]).await;
    let run = |data_dir: &Path, args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_tresor"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TRESOR_DATA_DIR", data_dir)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let out = seeded._out_dir.path().join("cli.tar");
    let out_text = out.to_str().unwrap();
    let (ok, stdout, stderr) = run(&seeded.source.data_dir, &["backup", "--out", out_text]);
    assert!(ok && stdout.contains("Backup written to") && stdout.contains("keys are not in it"), "{stdout}{stderr}");
    let saved = seeded._out_dir.path().join("checkpoint.txt");
    std::fs::write(&saved, &seeded.checkpoint).unwrap();
    let (ok, stdout, stderr) =
        run(&seeded.source.data_dir, &["backup", "verify", out_text, "--checkpoint", saved.to_str().unwrap()]);
    assert!(ok && stdout.starts_with("OK:") && stdout.contains("saved checkpoint is a prefix"), "{stdout}{stderr}");
    let (ok, _, stderr) = run(&seeded.source.data_dir, &["backup", "--out", out_text]);
    assert!(!ok && stderr.contains("never overwrites"), "{stderr}");
    let (ok, _, stderr) = run(&seeded.source.data_dir, &["backup"]);
    assert!(!ok && stderr.contains("--out FILE"), "{stderr}");

    let bytes = std::fs::read(&out).unwrap();
    let truncated = seeded._out_dir.path().join("truncated.tar");
    std::fs::write(&truncated, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (ok, _, stderr) = run(&seeded.source.data_dir, &["backup", "verify", truncated.to_str().unwrap()]);
    assert!(
        !ok && stderr.contains("backup verification FAILED") && stderr.contains("not a complete tresor backup"),
        "{stderr}"
    );

    let restored = VaultDir::with_keys_of(&seeded.source);
    restored.erasure_list().ensure_exists().unwrap();
    let (ok, _, stderr) = run(&restored.data_dir, &["restore", truncated.to_str().unwrap()]);
    assert!(!ok && stderr.contains("restore FAILED, nothing was restored"), "{stderr}");
    assert!(restored.entries_besides_keys().is_empty());
    let (ok, stdout, stderr) = run(&restored.data_dir, &["restore", out_text]);
    assert!(ok && stdout.contains("Restored"), "{stdout}{stderr}");
    let (ok, _, stderr) = run(&restored.data_dir, &["restore", out_text]);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_tresor"))
        .args(["backup", "--out", seeded._out_dir.path().join("pg.tar").to_str().unwrap()])
        .env("TRESOR_DATABASE_URL", "postgres://tresor@127.0.0.1:1/tresor")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("pg_dump"), "{stderr}");
    seeded.vault.audit().shutdown().await;
}
