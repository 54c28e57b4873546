//! `tresor audit verify` benchmark: 1,000,000 entries in a SQLite file
//! (appended with `append_audit` in batches of 10,000, a signed checkpoint
//! every 100,000), then `verify_log` over all of it. Target: under 10 s.
//!
//! Run: `cargo bench --bench audit_verify` (`TRESOR_BENCH_AUDIT_ENTRIES`
//! changes the size). Figures go into the README.

#[path = "support/events.rs"]
mod events;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use ring::rand::SystemRandom;
use tresor::audit::AuditEvent;
use tresor::audit::checkpoint::Checkpoint;
use tresor::audit::merkle::TreeBuilder;
use tresor::audit::verify::verify_log;
use tresor::crypto::{FileKeyProvider, KeyProvider};
use tresor::store::Store;
use tresor::store::sqlite::SqliteStore;

const ORIGIN: &str = "tresor.example-stadt.de/audit";
const BATCH: u64 = 10_000;
const CHECKPOINT_EVERY: u64 = 100_000;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(run());
}

/// A release like the vault writes them, about one of 50,000 citizens.
fn release(number: u64) -> AuditEvent {
    events::release(number, format!("{:032x}", number % 50_000))
}

/// User plus system CPU time of this process (all threads), from
/// /proc/self/stat; 0 where that does not exist. The machine may be shared:
/// CPU time next to wall time shows how much of the latter was waiting.
fn process_cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line, in clock ticks (100 per second
    // on Linux).
    let Some(rest) = stat.rfind(')').map(|end| &stat[end + 2..]) else { return 0.0 };
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks = |index: usize| fields.get(index).and_then(|field| field.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

async fn run() {
    let entries: u64 =
        std::env::var("TRESOR_BENCH_AUDIT_ENTRIES").ok().and_then(|value| value.parse().ok()).unwrap_or(1_000_000);
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-audit-verify");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("bench directory");
    let url = format!("sqlite://{}", work.join("tresor.sqlite").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::connect(&url).await.expect("open SQLite"));
    store.migrate().await.expect("migrate");
    let keys = FileKeyProvider::ephemeral(&SystemRandom::new()).expect("keys");

    let start = Instant::now();
    let t0 = DateTime::<Utc>::from_timestamp(1_714_564_800, 0).expect("time");
    let mut tree = TreeBuilder::new();
    let mut appended = 0;
    while appended < entries {
        let count = BATCH.min(entries - appended);
        let events: Vec<_> = (appended..appended + count)
            .map(|number| (t0 + chrono::Duration::milliseconds(number as i64), release(number)))
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
    let database_bytes = std::fs::metadata(work.join("tresor.sqlite")).map(|meta| meta.len()).unwrap_or(0);
    println!(
        "built {entries} entries in {:.1} s ({:.0} MiB database)",
        start.elapsed().as_secs_f64(),
        database_bytes as f64 / (1024.0 * 1024.0)
    );

    let public_key = keys.signing_key().public_key();
    for run in 1..=3 {
        let start = Instant::now();
        let cpu_start = process_cpu_seconds();
        let report = verify_log(store.as_ref(), &public_key, None, &mut |_, _| {}).await.expect("the log verifies");
        let seconds = start.elapsed().as_secs_f64();
        assert_eq!(report.entries, entries);
        assert_eq!(report.root, tree.root());
        let cpu_seconds = process_cpu_seconds() - cpu_start;
        println!(
            "verify run {run}: {} entries, {} checkpoints in {seconds:.2} s ({:.0} entries/s; {cpu_seconds:.2} s CPU)",
            report.entries,
            report.checkpoints_verified,
            entries as f64 / seconds
        );
    }
    let _ = std::fs::remove_dir_all(&work);
}
