//! Audit append benchmark: durable appends per second through `AuditLog`
//! (group commit) with 1, 16 and 64 concurrent writers, on SQLite (a file
//! under target/, WAL, synchronous = FULL as the store sets it) and on
//! PostgreSQL (a fresh database on the server named by
//! `TRESOR_TEST_POSTGRES_URL`, dropped afterwards). Beside each, in the same
//! database and right before it, the raw baseline: one row per transaction
//! into a plain table from a single writer.
//!
//! Run: `cargo bench --bench audit_append`. `TRESOR_BENCH_SECONDS` changes the
//! time per measurement (default 3), `TRESOR_BENCH_AUDIT_MAX_BATCH` the batch
//! limit (default 256). Figures go into the README.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ring::rand::{SecureRandom, SystemRandom};
use sqlx::{AssertSqlSafe, Connection, Executor};
use tresor::audit::log::AuditLog;
use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use tresor::clock::{Clock, SystemClock};
use tresor::store::Store;
use tresor::store::postgres::PostgresStore;
use tresor::store::sqlite::SqliteStore;

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const WRITER_COUNTS: [usize; 3] = [1, 16, 64];

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(run());
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

async fn run() {
    let seconds: f64 = env_or("TRESOR_BENCH_SECONDS", 3.0);
    let max_batch: usize = env_or("TRESOR_BENCH_AUDIT_MAX_BATCH", 256);
    let duration = Duration::from_secs_f64(seconds);
    println!("audit append benchmark: {seconds} s per measurement, max_batch {max_batch}");

    // --- SQLite ---------------------------------------------------------------
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-audit");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("bench directory");
    let sqlite_url = format!("sqlite://{}", work.join("audit.db").display());
    let store = SqliteStore::connect(&sqlite_url).await.expect("open SQLite");
    store.migrate().await.expect("migrate SQLite");
    report("SQLite", Arc::new(store), Raw::Sqlite(sqlite_url.clone()), max_batch, duration).await;
    let _ = std::fs::remove_dir_all(&work);

    // --- PostgreSQL -------------------------------------------------------------
    let admin_url = std::env::var("TRESOR_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    let mut random = [0u8; 8];
    SystemRandom::new().fill(&mut random).expect("random");
    let database_name = format!("tresor_bench_{}", hex::encode(random));
    let mut admin = sqlx::PgConnection::connect(&admin_url).await.expect("PostgreSQL admin connection");
    admin.execute(AssertSqlSafe(format!("CREATE DATABASE \"{database_name}\""))).await.expect("create database");
    let mut url = url::Url::parse(&admin_url).expect("TRESOR_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{database_name}"));
    let postgres_url = url.to_string();
    {
        let store = PostgresStore::connect(&postgres_url).await.expect("open PostgreSQL");
        store.migrate().await.expect("migrate PostgreSQL");
        report("PostgreSQL", Arc::new(store), Raw::Postgres(postgres_url.clone()), max_batch, duration).await;
    }
    admin
        .execute(AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)")))
        .await
        .expect("drop database");
    admin.close().await.ok();
}

/// Where the raw baseline runs: the same database as the store.
enum Raw {
    Sqlite(String),
    Postgres(String),
}

impl Raw {
    async fn rows_per_second(&self, duration: Duration) -> f64 {
        match self {
            Raw::Sqlite(url) => sqlite_raw_baseline(url, duration).await,
            Raw::Postgres(url) => postgres_raw_baseline(url, duration).await,
        }
    }
}

/// For each writer count: the raw baseline, then the audit log, back to back,
/// so that each ratio compares two measurements under the same disk load
/// (fsync latency on a shared machine drifts by a factor of ten over minutes).
async fn report(backend: &str, store: Arc<dyn Store>, raw: Raw, max_batch: usize, duration: Duration) {
    println!();
    println!("{backend}");
    for writers in WRITER_COUNTS {
        let raw_per_second = raw.rows_per_second(duration).await;
        let (per_second, batches, appends) = audit_appends(store.clone(), writers, max_batch, duration).await;
        println!(
            "  AuditLog, {writers:>2} writers: {per_second:>8.0} appends/s = {:>5.1} x raw ({raw_per_second:>6.0} rows/s, \
             1 writer, 1 row per transaction); {:.1} appends per transaction",
            per_second / raw_per_second,
            appends as f64 / batches.max(1) as f64,
        );
    }
}

/// `writers` tasks, each appending in a loop (waiting for its durable
/// acknowledgement each time) until the time is up.
async fn audit_appends(store: Arc<dyn Store>, writers: usize, max_batch: usize, duration: Duration) -> (f64, u64, u64) {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let log = AuditLog::start(store, clock, max_batch);
    let appended = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let log = log.clone();
            let appended = appended.clone();
            tokio::spawn(async move {
                let event = release_event(writer);
                while Instant::now() < deadline {
                    log.append(event.clone()).await.expect("durable append");
                    appended.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let batches = log.batches_committed();
    let appends = appended.load(Ordering::Relaxed);
    log.shutdown().await;
    (appends as f64 / elapsed, batches, appends)
}

/// A typical entry: a department's release of two fields.
fn release_event(writer: usize) -> AuditEvent {
    AuditEvent {
        actor: Actor::Department("wohngeldstelle".to_owned()),
        action: Action::Release,
        targets: Targets {
            subject: Some(format!("{writer:032x}")),
            evidence: vec!["0123456789abcdef0123456789abcdef".to_owned()],
            fields: vec!["einkommen".to_owned(), "miete".to_owned()],
            grant: Some("fedcba9876543210fedcba9876543210".to_owned()),
            department: None,
            grant_use: None,
            service: Some("wohngeld".to_owned()),
        },
        outcome: Outcome::Success,
        reason: None,
    }
}

/// A row of about the size of an audit row (body + leaf hash).
fn raw_payload() -> Vec<u8> {
    vec![0x5a; 320]
}

/// One row per transaction, single writer, same file and durability settings.
async fn sqlite_raw_baseline(url: &str, duration: Duration) -> f64 {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    let options = SqliteConnectOptions::from_str(url)
        .expect("SQLite URL")
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    let mut connection = sqlx::SqliteConnection::connect_with(&options).await.expect("raw SQLite connection");
    connection
        .execute("CREATE TABLE IF NOT EXISTS bench_raw (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        .await
        .expect("create raw table");
    let payload = raw_payload();
    let start = Instant::now();
    let mut rows = 0u64;
    while start.elapsed() < duration {
        // Autocommit: every statement is its own durable transaction.
        sqlx::query("INSERT INTO bench_raw (payload) VALUES (?)")
            .bind(payload.as_slice())
            .execute(&mut connection)
            .await
            .expect("raw insert");
        rows += 1;
    }
    let per_second = rows as f64 / start.elapsed().as_secs_f64();
    connection.close().await.ok();
    per_second
}

async fn postgres_raw_baseline(url: &str, duration: Duration) -> f64 {
    let mut connection = sqlx::PgConnection::connect(url).await.expect("raw PostgreSQL connection");
    connection
        .execute("CREATE TABLE IF NOT EXISTS bench_raw (id BIGSERIAL PRIMARY KEY, payload BYTEA NOT NULL)")
        .await
        .expect("create raw table");
    let payload = raw_payload();
    let start = Instant::now();
    let mut rows = 0u64;
    while start.elapsed() < duration {
        sqlx::query("INSERT INTO bench_raw (payload) VALUES ($1)")
            .bind(payload.as_slice())
            .execute(&mut connection)
            .await
            .expect("raw insert");
        rows += 1;
    }
    let per_second = rows as f64 / start.elapsed().as_secs_f64();
    connection.close().await.ok();
    per_second
}
