//! Releases at scale, as a city has them: many grants, each used a few
//! times, releases spread at random over a large set of them, and what the
//! disk has to write for each.
//!
//! The vault is built in this process as `tresor serve` builds it (see
//! `support/rig.rs`, shared with `benches/release.rs`), on SQLite. Citizens
//! (`TRESOR_BENCH_CITIZENS`, default 10,000) are created through the vault,
//! each with a residence certificate, a vehicle registration and one
//! approved parking grant; the grant table is then grown by plain SQL to
//! each size in `TRESOR_BENCH_GRANT_SIZES` (default `1000,100000`; the issue's
//! figure is `1000,100000,10000000`), copying those grants with fresh random
//! ids, so that every grant is a real one of a real citizen. At each size:
//!
//! - the bare authenticated endpoint (`GET /api/v1/dept/whoami`), the
//!   baseline of the same run;
//! - releases over 64 keep-alive TLS connections, each picking a grant at
//!   random from every tenth grant (10^6 of 10^7 at the largest size);
//! - bytes the process made the kernel write to disk (`/proc/self/io`
//!   `write_bytes`) from the start of the release run until the WAL has
//!   been checkpointed into the database file afterwards, against what the
//!   releases stored: the database file's growth, and the bytes of the audit
//!   rows themselves;
//! - where the writes go: the WAL as the run left it is a sample of the
//!   last commits; each frame's page is named by the B-tree (table or
//!   index) it belongs to (SQLite's `dbstat`).
//!
//! `TRESOR_BENCH_SECONDS` (default 10), `TRESOR_BENCH_CONNECTIONS` (64),
//! `TRESOR_BENCH_DIR` (keep the database there instead of a temporary
//! directory).

#[path = "support/rig.rs"]
mod rig;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::Connection;

/// Grants never run out in a run: the point is many grants, not
/// used-up ones (a used-up grant's refusal is cheaper than a release).
const USES_PER_GRANT: u32 = 1000;
/// Releases go to every `ACTIVE_EVERY`-th grant (rowid order), spread over the whole table.
const ACTIVE_EVERY: i64 = 10;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let seconds = rig::env_number("TRESOR_BENCH_SECONDS", 10);
        let connections = rig::env_number("TRESOR_BENCH_CONNECTIONS", 64) as usize;
        let citizens = rig::env_number("TRESOR_BENCH_CITIZENS", 10_000) as usize;
        let sizes: Vec<u64> = std::env::var("TRESOR_BENCH_GRANT_SIZES")
            .unwrap_or_else(|_| "1000,100000".to_owned())
            .split(',')
            .map(|size| size.trim().parse().expect("TRESOR_BENCH_GRANT_SIZES: comma-separated numbers"))
            .collect();
        let temporary = tempfile::tempdir().expect("temp dir");
        let work = std::env::var("TRESOR_BENCH_DIR").map(PathBuf::from).unwrap_or_else(|_| temporary.path().into());
        std::fs::create_dir_all(&work).expect("work dir");
        let database = work.join("tresor.sqlite");
        let _ = std::fs::remove_file(&database);
        let rig = rig::Rig::start(&format!("sqlite://{}", database.display()), &work.join("rig"), USES_PER_GRANT).await;

        // No more citizens than the smallest size has grants (each has one).
        let citizens = citizens.min(sizes.iter().copied().min().unwrap_or(1) as usize).max(1);
        let started = Instant::now();
        seed_citizens(&rig.state, citizens).await;
        println!("{citizens} citizens with evidence and a grant each in {:.1} s", started.elapsed().as_secs_f64());

        let mut bulk = Connection::open(&database).expect("bench connection");
        bulk.busy_timeout(std::time::Duration::from_secs(30)).expect("busy timeout");
        bulk.execute_batch("PRAGMA cache_size = -1048576;").expect("cache size");
        for size in sizes {
            let started = Instant::now();
            grow(&mut bulk, size);
            println!("\n== {size} grants (grown in {:.1} s) ==", started.elapsed().as_secs_f64());
            measure(&rig, &bulk, &database, seconds, connections).await;
        }
        drop(bulk);
        rig.stop().await;
    });
}

/// Citizens are made this many at a time. With 16, some evidence inserts
/// waited longer than the store's 3 s busy timeout for SQLite's write lock
/// on this loaded host and failed with `store_unavailable` (SQLite's busy
/// handler polls; it does not queue waiters fairly).
const SEEDERS: usize = 4;

/// `count` citizens through the vault (`SEEDERS` at a time, so the audit
/// group commit batches them), each with evidence and one approved grant.
async fn seed_citizens(state: &tresor::http::AppState, count: usize) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..SEEDERS {
        let state = state.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let number = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if number >= count {
                    break;
                }
                let (citizen, evidence) = rig::seed_citizen(&state, &format!("citizen-{number}")).await;
                rig::approve_grants(&state, &citizen, &evidence, 1, USES_PER_GRANT).await;
            }
        }));
    }
    for task in tasks {
        task.await.expect("seed task");
    }
}

/// Grow the grants to `size` by copying the citizens' real grants (request
/// and grant, fresh random ids, a template picked at random per row), a
/// million rows per transaction.
fn grow(bulk: &mut Connection, size: u64) {
    let have: i64 = bulk.query_row("SELECT count(*) FROM grants", [], |row| row.get(0)).expect("count");
    let mut missing = (size as i64 - have).max(0);
    bulk.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS templates (k INTEGER PRIMARY KEY, grant_id TEXT NOT NULL);
         INSERT OR IGNORE INTO templates (k, grant_id)
             SELECT row_number() OVER (ORDER BY g.rowid) - 1, g.id FROM grants g
             JOIN access_requests r ON r.id = g.request_id WHERE r.reference <> 'bulk';
         CREATE TEMP TABLE IF NOT EXISTS batch (i INTEGER PRIMARY KEY, request_id TEXT, grant_id TEXT, template TEXT);",
    )
    .expect("templates");
    let templates: i64 = bulk.query_row("SELECT count(*) FROM templates", [], |row| row.get(0)).expect("templates");
    while missing > 0 {
        let batch = missing.min(1_000_000);
        let transaction = bulk.transaction().expect("begin");
        transaction
            .execute_batch("DELETE FROM batch")
            .and_then(|()| {
                transaction.execute(
                    "INSERT INTO batch (i, request_id, grant_id, template)
                     WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
                     SELECT n.i, lower(hex(randomblob(16))), lower(hex(randomblob(16))),
                         (SELECT grant_id FROM templates WHERE k = abs(random()) % ?2) FROM n",
                    rusqlite::params![batch, templates],
                )
            })
            .and_then(|_| {
                transaction.execute(
                    "INSERT INTO access_requests (id, department, service, reference, created_at, expires_at, \
                     status, citizen_id, answered_at, grant_id)
                     SELECT b.request_id, r.department, r.service, 'bulk', r.created_at, r.expires_at, r.status, \
                     r.citizen_id, r.answered_at, b.grant_id
                     FROM batch b JOIN grants g ON g.id = b.template JOIN access_requests r ON r.id = g.request_id \
                     ORDER BY b.i",
                    [],
                )
            })
            .and_then(|_| {
                transaction.execute(
                    "INSERT INTO grants (id, request_id, citizen_id, department, service, approved_fields, \
                     evidence_ids, created_at, not_before, expires_at, max_uses, uses, revoked_at)
                     SELECT b.grant_id, b.request_id, g.citizen_id, g.department, g.service, g.approved_fields, \
                     g.evidence_ids, g.created_at, g.not_before, g.expires_at, g.max_uses, 0, NULL
                     FROM batch b JOIN grants g ON g.id = b.template ORDER BY b.i",
                    [],
                )
            })
            .expect("bulk grants");
        transaction.commit().expect("commit");
        missing -= batch;
        if missing > 0 {
            eprintln!("  grants: {missing} to go");
        }
    }
    checkpoint(bulk);
}

/// Move the whole WAL into the database file and truncate it, waiting for
/// readers that still hold an older snapshot (a checkpoint that could not
/// finish would leave earlier frames in the WAL, in the next sample).
fn checkpoint(bulk: &Connection) {
    for _ in 0..600 {
        let (busy, log, done): (i64, i64, i64) = bulk
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .expect("checkpoint");
        if busy == 0 && log <= 0 && done <= 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the WAL could not be checkpointed within a minute");
}

/// Bytes this process has caused to be written to storage so far.
fn written_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines().find_map(|line| line.strip_prefix("write_bytes: ").and_then(|value| value.trim().parse().ok()))
        })
        .unwrap_or(0)
}

fn database_bytes(bulk: &Connection) -> i64 {
    bulk.query_row("SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()", [], |row| row.get(0))
        .expect("page count")
}

async fn measure(rig: &rig::Rig, bulk: &Connection, database: &Path, seconds: u64, connections: usize) {
    let active: Arc<Vec<String>> = Arc::new(
        bulk.prepare("SELECT id FROM grants WHERE rowid % ?1 = 0")
            .and_then(|mut statement| {
                statement.query_map([ACTIVE_EVERY], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()
            })
            .expect("active grants"),
    );
    let bare = rig::load(rig.address, &rig.client, connections, seconds, |_, _| "/api/v1/dept/whoami".to_owned()).await;
    bare.print("bare authenticated endpoint (GET /api/v1/dept/whoami)");

    checkpoint(bulk);
    let last_before: i64 =
        bulk.query_row("SELECT last_sequence FROM audit_head", [], |row| row.get(0)).expect("audit head");
    let file_before = database_bytes(bulk);
    let written_before = written_bytes();
    let (batches_before, entries_before) = rig.state.vault.audit().commit_counts();
    let count = active.len();
    let picks = active.clone();
    let release = rig::load(rig.address, &rig.client, connections, seconds, move |connection, sent| {
        // A cheap, well-spread pick per request (splitmix64 of connection and count).
        let mut x = ((connection as u64) << 40 ^ sent as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        format!("/api/v1/dept/grants/{}/release", picks[(x % count as u64) as usize])
    })
    .await;
    release.print(&format!("release at random over {count} grants"));
    let (batches, entries) = rig.state.vault.audit().commit_counts();
    let per_commit = (entries - entries_before) as f64 / (batches - batches_before).max(1) as f64;
    let wal_sample = WalSample::read(&database.with_extension("sqlite-wal"));
    checkpoint(bulk);
    let written = written_bytes() - written_before;
    let file_growth = database_bytes(bulk) - file_before;
    let (releases, row_bytes): (i64, i64) = bulk
        .query_row(
            "SELECT count(*), coalesce(sum(length(body) + length(leaf_hash) + length(subject) + length(actor_kind) \
             + length(coalesce(actor_id, '')) + length(action) + length(outcome) + length(coalesce(department, '')) \
             + length(coalesce(service, '')) + 16), 0) FROM audit_entries WHERE sequence > ?1",
            [last_before],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .expect("stored rows");
    let releases = releases.max(1) as f64;
    println!(
        "release / bare: {:.2}x throughput; CPU per release {:.0} µs (bare {:.0} µs); {:.1} entries per commit",
        release.per_second() / bare.per_second(),
        release.cpu_per_request_us(),
        bare.cpu_per_request_us(),
        per_commit
    );
    println!(
        "disk: {:.0} bytes written per release (warm-up and checkpoint included, {} entries); stored per release: \
         file growth {:.0} bytes, audit row bytes {:.0}; written / file growth {:.1}x, written / row bytes {:.1}x",
        written as f64 / releases,
        releases,
        file_growth as f64 / releases,
        row_bytes as f64 / releases,
        written as f64 / (file_growth as f64).max(1.0),
        written as f64 / (row_bytes as f64).max(1.0),
    );
    if let Some(sample) = wal_sample {
        sample.print(bulk, per_commit);
    }
}

/// The frames of a WAL file as the run left it: the commits since the
/// writer's last checkpoint restarted the log.
struct WalSample {
    page_size: u64,
    /// Page number of each valid frame, in order.
    pages: Vec<u32>,
    commits: usize,
}

impl WalSample {
    fn read(path: &Path) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let word = |at: usize| -> Option<u32> { Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?)) };
        let page_size = u64::from(word(8)?);
        let (salt1, salt2) = (word(16)?, word(20)?);
        let frame = 24 + page_size as usize;
        let mut pages = Vec::new();
        let mut commits = 0;
        let mut valid = 0;
        let mut at = 32;
        while at + frame <= bytes.len() && word(at + 8)? == salt1 && word(at + 12)? == salt2 {
            pages.push(word(at)?);
            if word(at + 4)? != 0 {
                commits += 1;
                valid = pages.len();
            }
            at += frame;
        }
        pages.truncate(valid);
        (commits > 0).then_some(Self { page_size, pages, commits })
    }

    /// Pages per commit by B-tree, and how many distinct pages a checkpoint
    /// of these frames writes back.
    fn print(&self, bulk: &Connection, entries_per_commit: f64) {
        let wanted: std::collections::HashSet<u32> = self.pages.iter().copied().collect();
        let mut names: HashMap<u32, String> = HashMap::new();
        let mut statement = bulk.prepare("SELECT name, pageno FROM dbstat").expect("dbstat");
        let rows =
            statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?))).expect("dbstat");
        for row in rows {
            let (name, page) = row.expect("dbstat row");
            if wanted.contains(&page) {
                names.insert(page, name);
            }
        }
        let mut by_tree: HashMap<&str, (usize, std::collections::HashSet<u32>)> = HashMap::new();
        for page in &self.pages {
            let name = names.get(page).map_or("(free or new)", String::as_str);
            let slot = by_tree.entry(name).or_default();
            slot.0 += 1;
            slot.1.insert(*page);
        }
        let mut rows: Vec<_> = by_tree.into_iter().collect();
        rows.sort_by_key(|row| std::cmp::Reverse(row.1.0));
        let frames = self.pages.len() as f64;
        println!(
            "WAL sample: {} commits ({:.1} audit entries per commit over the run), {} frames of {} bytes, {} \
             distinct pages; share of the frames by B-tree:",
            self.commits,
            entries_per_commit,
            self.pages.len(),
            self.page_size,
            wanted.len()
        );
        for (name, (count, distinct)) in rows {
            println!(
                "  {name:<40} {:>5.1} % of frames, {:>6.2} pages per commit, {} distinct",
                count as f64 * 100.0 / frames,
                count as f64 / self.commits as f64,
                distinct.len()
            );
        }
    }
}
