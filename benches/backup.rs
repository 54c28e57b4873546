//! `tresor backup` benchmark: a SQLite vault with many audit entries (appended
//! with `append_events` in batches of 10,000, a signed checkpoint every
//! 100,000) and many files (uploaded through the vault, so sealed and indexed
//! as in production), then, in alternating rounds in the same run, `cp -r`
//! of the database and its blob directory (the baseline: an inconsistent
//! copy of the same bytes) and `tresor::backup::create`, and once
//! `tresor::backup::verify` of the archive.
//!
//! Run (reduced size, the default): `cargo bench --bench backup`.
//! Full size: `TRESOR_BENCH_BACKUP_ENTRIES=1000000 TRESOR_BENCH_BACKUP_FILES=10000 cargo bench --bench backup`.
//! `TRESOR_BENCH_BACKUP_FILE_BYTES` sets each file's size (default 256 KiB),
//! `TRESOR_BENCH_BACKUP_ROUNDS` the rounds (default 2).

#[path = "support/events.rs"]
mod events;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use tresor::audit::checkpoint::Checkpoint;
use tresor::audit::merkle::TreeBuilder;
use tresor::audit::service::Audit;
use tresor::clock::SystemClock;
use tresor::crypto::{FileKeyProvider, KeyProvider};
use tresor::policy::{LoginLevel, Policies};
use tresor::vault::Vault;

const ORIGIN: &str = "tresor.example-stadt.de/audit";
const BATCH: u64 = 10_000;
const CHECKPOINT_EVERY: u64 = 100_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(run());
}

fn directory_bytes(path: &Path) -> u64 {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::read_dir(path)
            .map(|entries| entries.filter_map(Result::ok).map(|entry| directory_bytes(&entry.path())).sum())
            .unwrap_or(0),
        Ok(meta) => meta.len(),
        Err(_) => 0,
    }
}

fn residence_fields(number: u64) -> BTreeMap<String, String> {
    let family_name = format!("Muster{number}");
    [
        ("family_name", family_name.as_str()),
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

async fn run() {
    let entries = env_number("TRESOR_BENCH_BACKUP_ENTRIES", 100_000);
    let files = env_number("TRESOR_BENCH_BACKUP_FILES", 500);
    let file_bytes = env_number("TRESOR_BENCH_BACKUP_FILE_BYTES", 256 * 1024) as usize;
    let rounds = env_number("TRESOR_BENCH_BACKUP_ROUNDS", 2).max(1);
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-backup");
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("data");
    std::fs::create_dir_all(&data).expect("bench directory");
    let database = data.join("tresor.sqlite");
    let url = format!("sqlite://{}", database.display());
    let store = tresor::store::open(&url).await.expect("open SQLite");
    store.migrate().await.expect("migrate");
    let rng = Arc::new(SystemRandom::new());
    let keys: Arc<dyn KeyProvider> = Arc::new(FileKeyProvider::ephemeral(rng.as_ref()).expect("keys"));

    // The audit log: releases about 50,000 citizens, signed checkpoints.
    let start = Instant::now();
    let t0 = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).expect("time");
    let mut tree = TreeBuilder::new();
    let mut appended = 0;
    while appended < entries {
        let count = BATCH.min(entries - appended);
        let events: Vec<_> = (appended..appended + count)
            .map(|number| {
                let event = events::release(number, format!("{:032x}", number % 50_000));
                (t0 + chrono::Duration::milliseconds(number as i64), event)
            })
            .collect();
        for entry in tresor::audit::append::append_events(store.as_ref(), &events).await.expect("append") {
            tree.push(entry.leaf_hash());
        }
        appended += count;
        if appended % CHECKPOINT_EVERY == 0 || appended == entries {
            let checkpoint = Checkpoint { origin: ORIGIN.to_owned(), size: appended, root: tree.root() };
            let note = checkpoint.sign(ORIGIN, keys.signing_key()).expect("sign");
            store.insert_checkpoint(appended, &checkpoint.root, &note, t0).await.expect("checkpoint");
        }
    }
    let seeded_entries = start.elapsed();

    // The files: uploaded through the vault, one citizen per 10 files.
    let start = Instant::now();
    let policies = Arc::new(Policies::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).expect("policies"));
    let audit = Audit::start(store.clone(), keys.clone(), Arc::new(SystemClock), ORIGIN.to_owned(), 1_000_000);
    let vault = Vault::new(store.clone(), keys.clone(), policies, Arc::new(SystemClock), rng, audit);
    let mut content = b"%PDF-1.4\n".to_vec();
    content.resize(file_bytes.max(16), 0x5a);
    let mut citizen = None;
    for number in 0..files {
        if number % 10 == 0 {
            citizen =
                Some(vault.log_in_citizen("https://bench.idp", &format!("citizen{number}")).await.expect("citizen"));
        }
        let Some(citizen) = &citizen else { unreachable!("set at number 0") };
        let mut upload = vault.begin_file(citizen, "document.pdf", u64::MAX).await.expect("begin");
        upload.write(&vault, &content).await.expect("write");
        let file = upload.finish(&vault).await.expect("finish");
        vault
            .create_evidence(citizen, LoginLevel::High, "residence_certificate", &residence_fields(number), Some(file))
            .await
            .expect("evidence");
    }
    vault.audit().checkpoint().await.expect("checkpoint");
    vault.audit().shutdown().await;
    let seeded_files = start.elapsed();
    let total_entries = store.audit_size().await.expect("size");
    let source_bytes = directory_bytes(&data);
    println!(
        "vault: {total_entries} audit entries (seeded in {:.1} s), {files} files of {file_bytes} bytes (uploaded in \
         {:.1} s); database + blobs {:.0} MiB",
        seeded_entries.as_secs_f64(),
        seeded_files.as_secs_f64(),
        source_bytes as f64 / (1024.0 * 1024.0)
    );

    let mut copy_seconds = Vec::new();
    let mut backup_seconds = Vec::new();
    let mut archive_bytes = 0;
    for round in 1..=rounds {
        // Baseline: cp of the same files (database, its WAL, the blob directory).
        let target = work.join(format!("cp-{round}"));
        std::fs::create_dir_all(&target).expect("cp target");
        let mut sources: Vec<String> = ["tresor.sqlite", "tresor.sqlite-wal", "tresor.sqlite.blobs"]
            .iter()
            .map(|name| data.join(name))
            .filter(|path| path.exists())
            .map(|path| path.display().to_string())
            .collect();
        sources.push(target.display().to_string());
        let start = Instant::now();
        let status = std::process::Command::new("cp").arg("-r").args(&sources).status().expect("cp");
        assert!(status.success(), "cp failed");
        std::process::Command::new("sync").status().expect("sync");
        copy_seconds.push(start.elapsed().as_secs_f64());
        let copied = directory_bytes(&target);
        let _ = std::fs::remove_dir_all(&target);

        let archive = work.join(format!("backup-{round}.tar"));
        let start = Instant::now();
        let summary = tresor::backup::create(&url, &archive, tresor::backup::no_progress()).await.expect("backup");
        backup_seconds.push(start.elapsed().as_secs_f64());
        assert_eq!(summary.manifest.audit.tree_size, total_entries);
        archive_bytes = summary.archive_bytes;
        println!(
            "round {round}: cp -r {:.0} MiB in {:.2} s ({:.0} MiB/s); tresor backup {:.0} MiB in {:.2} s ({:.0} MiB/s, \
             {:.0} entries/s); backup/cp = {:.2}",
            copied as f64 / (1024.0 * 1024.0),
            copy_seconds[copy_seconds.len() - 1],
            copied as f64 / (1024.0 * 1024.0) / copy_seconds[copy_seconds.len() - 1],
            archive_bytes as f64 / (1024.0 * 1024.0),
            backup_seconds[backup_seconds.len() - 1],
            archive_bytes as f64 / (1024.0 * 1024.0) / backup_seconds[backup_seconds.len() - 1],
            total_entries as f64 / backup_seconds[backup_seconds.len() - 1],
            backup_seconds[backup_seconds.len() - 1] / copy_seconds[copy_seconds.len() - 1],
        );
        if round < rounds {
            let _ = std::fs::remove_file(&archive);
        }
    }
    let mean = |values: &[f64]| values.iter().sum::<f64>() / values.len() as f64;
    println!(
        "mean over {rounds} rounds: cp {:.2} s, tresor backup {:.2} s ({:.0} MiB archive): backup takes {:.2} x cp",
        mean(&copy_seconds),
        mean(&backup_seconds),
        archive_bytes as f64 / (1024.0 * 1024.0),
        mean(&backup_seconds) / mean(&copy_seconds)
    );

    let archive = work.join(format!("backup-{rounds}.tar"));
    let start = Instant::now();
    let verified =
        tresor::backup::verify(&archive, &keys.signing_key().public_key(), None, tresor::backup::no_progress())
            .await
            .expect("the backup verifies");
    println!(
        "tresor backup verify: {} members, {} entries in {:.2} s (beside cp: {:.2} x)",
        verified.manifest.members.len(),
        verified.audit.entries,
        start.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64() / mean(&copy_seconds)
    );
    let _ = std::fs::remove_dir_all(&work);
}
