//! The audit log at any size (issue 13): how the citizen's log with proofs,
//! a consistency proof and the first checkpoint after a restart grow with
//! the log. For each size a SQLite log is built (releases spread over 50,000
//! citizens; one citizen has 1,000 entries spread over the whole log), its
//! tree nodes are written once (the first checkpoint of an older log), then:
//!
//! - start-up: a new `Audit` over the store (a restart), one more entry, and
//!   its first checkpoint;
//! - the citizen's log: their newest 1,000 entries and an inclusion proof
//!   for each (what `GET /api/v1/audit/mine?limit=1000` reads and computes);
//! - a consistency proof from a random older size to the log's size;
//! - a DPO page of an old period: the newest 100 entries of the second tenth
//!   of the log's time span, filtered by department too (the time filter is
//!   a sequence range, so where the period lies must not matter);
//! - baseline in the same run: reading one leaf hash (one indexed read).
//!
//! Run: `cargo bench --bench audit_scale`; `TRESOR_BENCH_AUDIT_SIZES`
//! (default `1000,100000,1000000`) picks the sizes. With
//! `TRESOR_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres`
//! each size is also run on a fresh PostgreSQL database (sizes in
//! `TRESOR_BENCH_AUDIT_POSTGRES_SIZES`, default the same).

#[path = "support/events.rs"]
mod events;
#[path = "support/postgres.rs"]
mod postgres;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use tresor::audit::AuditEvent;
use tresor::audit::service::Audit;
use tresor::clock::SystemClock;
use tresor::crypto::{FileKeyProvider, KeyProvider};
use tresor::store::sqlite::SqliteStore;
use tresor::store::{AuditFilter, Store};

const ORIGIN: &str = "tresor.example-stadt.de/audit";
const BATCH: u64 = 10_000;
/// The citizen whose log is read.
const ACTIVE: &str = "c0ffeec0ffeec0ffeec0ffeec0ffee00";
const ACTIVE_ENTRIES: u64 = 1000;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(async {
        let sizes = std::env::var("TRESOR_BENCH_AUDIT_SIZES").unwrap_or_else(|_| "1000,100000,1000000".to_owned());
        println!("| entries | build | nodes written once | start-up checkpoint | citizen log, 1,000 with proofs p50 / p99 | of which the entries p50 | consistency proof p50 / p99 | old-period DPO page (time + department, 100) p50 / p99 | one leaf read (baseline) p50 | log p50 / baseline |");
        println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for size in sizes.split(',').filter_map(|size| size.trim().parse::<u64>().ok()) {
            let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-audit-scale");
            let _ = std::fs::remove_dir_all(&work);
            std::fs::create_dir_all(&work).expect("bench directory");
            let url = format!("sqlite://{}", work.join("tresor.sqlite").display());
            let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("open SQLite"));
            run("SQLite", store, None, size).await;
            let _ = std::fs::remove_dir_all(&work);
        }
        if let Ok(admin) = std::env::var("TRESOR_BENCH_POSTGRES_URL") {
            let sizes = std::env::var("TRESOR_BENCH_AUDIT_POSTGRES_SIZES").unwrap_or(sizes);
            for size in sizes.split(',').filter_map(|size| size.trim().parse::<u64>().ok()) {
                let name = format!("tresor_bench_scale_{}_{size}", std::process::id());
                let (url, connection) = postgres::create_database(&admin, &name).await;
                let store = tresor::store::open(&url).await.expect("open PostgreSQL");
                run("PostgreSQL", store, Some(&url), size).await;
                postgres::drop_database(connection, &name).await;
            }
        }
    });
}

/// A release like the vault writes them; every `active_every`-th is about
/// the active citizen, the others about one of 50,000.
fn release(number: u64, active_every: u64) -> AuditEvent {
    let subject =
        if number.is_multiple_of(active_every) { ACTIVE.to_owned() } else { format!("{:032x}", number % 50_000) };
    events::release(number, subject)
}

fn percentile(samples: &mut [Duration], share: f64) -> f64 {
    samples.sort_unstable();
    let index = ((samples.len() as f64 * share).ceil() as usize).clamp(1, samples.len()) - 1;
    samples[index].as_secs_f64() * 1000.0
}

/// `postgres`: the database's URL, to ANALYZE it after the build (as
/// autovacuum does within a minute of such a load; without statistics the
/// planner reads a whole period for a DPO page).
async fn run(backend: &str, store: Arc<dyn Store>, postgres: Option<&str>, size: u64) {
    store.migrate().await.expect("migrate");
    let keys: Arc<dyn KeyProvider> = Arc::new(FileKeyProvider::ephemeral(&SystemRandom::new()).expect("keys"));

    let started = Instant::now();
    let t0 = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).expect("time");
    let active_every = (size / ACTIVE_ENTRIES).max(1);
    let mut appended = 0;
    while appended < size {
        let count = BATCH.min(size - appended);
        let events: Vec<_> = (appended..appended + count)
            .map(|number| (t0 + chrono::Duration::milliseconds(number as i64), release(number, active_every)))
            .collect();
        tresor::audit::append::append_events(store.as_ref(), &events).await.expect("append");
        appended += count;
        if appended.is_multiple_of(1_000_000) {
            eprintln!("  {appended} of {size} entries");
        }
    }
    let build = started.elapsed();
    if let Some(url) = postgres {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query("ANALYZE").execute(&mut connection).await.expect("analyze");
    }

    // The one-time node writing of a log from before the stored tree.
    let first = Audit::start(store.clone(), keys.clone(), Arc::new(SystemClock), ORIGIN.to_owned(), u64::MAX);
    let started = Instant::now();
    first.checkpoint().await.expect("checkpoint").expect("a checkpoint");
    let nodes_once = started.elapsed();
    first.shutdown().await;

    // A restart: a new Audit, one more entry, its first checkpoint.
    let audit = Audit::start(store.clone(), keys.clone(), Arc::new(SystemClock), ORIGIN.to_owned(), u64::MAX);
    audit.record(release(size, 1)).await.expect("append");
    let started = Instant::now();
    let checkpoint = audit.checkpoint().await.expect("checkpoint").expect("a checkpoint");
    let startup = started.elapsed();
    let tree_size = checkpoint.size;

    // The active citizen's newest 1,000 entries with proofs.
    let filter = AuditFilter { subject: Some(ACTIVE.to_owned()), ..AuditFilter::default() };
    let mut log_times = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let entries = store.audit_entries_newest_first(&filter, 1000, None).await.expect("entries");
        let sequences: Vec<u64> = entries.iter().map(|entry| entry.sequence as u64).collect();
        let proofs = audit.inclusion_proofs(tree_size, &sequences).await.expect("proofs");
        assert!(proofs.iter().all(Option::is_some));
        log_times.push(started.elapsed());
    }

    // The entries alone, without proofs.
    let mut entries_times = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        store.audit_entries_newest_first(&filter, 1000, None).await.expect("entries");
        entries_times.push(started.elapsed());
    }

    // Consistency proofs from pseudo-random older sizes.
    let mut consistency_times = Vec::new();
    let mut old = 7u64;
    for _ in 0..200 {
        old = (old.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) >> 11) % tree_size + 1;
        let started = Instant::now();
        audit.consistency_proof(old, tree_size).await.expect("store").expect("sizes fit");
        consistency_times.push(started.elapsed());
    }

    // A DPO page of an old period (entry n was stamped t0 + n ms).
    let period = AuditFilter {
        from: Some(t0 + chrono::Duration::milliseconds((size / 10) as i64)),
        until: Some(t0 + chrono::Duration::milliseconds((size / 5) as i64)),
        department: Some("wohngeldstelle".to_owned()),
        ..AuditFilter::default()
    };
    let mut period_times = Vec::new();
    for _ in 0..100 {
        let started = Instant::now();
        let page = store.audit_entries_newest_first(&period, 100, None).await.expect("entries");
        assert!(!page.is_empty() || size < 10);
        period_times.push(started.elapsed());
    }

    // Baseline: one indexed read of a leaf hash.
    let mut baseline = Vec::new();
    for index in 0..200u64 {
        let started = Instant::now();
        store.audit_leaf_hashes(index * 7 % size, index * 7 % size + 1).await.expect("leaf");
        baseline.push(started.elapsed());
    }
    audit.shutdown().await;

    let log_p50 = percentile(&mut log_times, 0.5);
    let base_p50 = percentile(&mut baseline, 0.5);
    println!(
        "| {backend} {size} | {:.1} s | {:.2} s | {:.1} ms | {log_p50:.1} / {:.1} ms | {:.1} ms | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {base_p50:.3} ms | {:.0} |",
        build.as_secs_f64(),
        nodes_once.as_secs_f64(),
        startup.as_secs_f64() * 1000.0,
        percentile(&mut log_times, 0.99),
        percentile(&mut entries_times, 0.5),
        percentile(&mut consistency_times, 0.5),
        percentile(&mut consistency_times, 0.99),
        percentile(&mut period_times, 0.5),
        percentile(&mut period_times, 0.99),
        log_p50 / base_p50
    );
}
