//! Release benchmark: `GET /api/v1/dept/grants/{id}/release` over 64
//! concurrent keep-alive TLS connections, each authenticated by a department
//! client certificate, against the whole vault built in this process exactly
//! as `tresor serve` builds it (same router, TLS listener, audit group
//! commit, durable store). Beside it, in the same run and the same way, the
//! bare authenticated endpoint `GET /api/v1/dept/whoami` (TLS + certificate,
//! no store, no audit): the ratio says what the release itself costs.
//! The client runs in the same process on the same two cores.
//!
//! Run: `cargo bench --bench release` (SQLite). With
//! `TRESOR_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres`
//! it also runs on a fresh PostgreSQL database (dropped afterwards).
//! `TRESOR_BENCH_SECONDS` (default 10) and `TRESOR_BENCH_CONNECTIONS`
//! (default 64) change the run. `TRESOR_BENCH_METRICS=compare` runs only
//! the cost of the Prometheus metrics: the bare endpoint and the release,
//! each with metrics off and on, interleaved (off, on, off, on), with the
//! production log subscriber (JSON lines at info, to stderr) installed.
//!
//! On SQLite it runs twice: with the file key provider (keys in process
//! memory) and with the PKCS#11 provider on a fresh SoftHSM2 token (DEK
//! unwrap, pairwise pseudonym and receipt signature in the token), and
//! prints the ratio. `TRESOR_BENCH_PKCS11=0` skips the token run.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/rig.rs"]
mod rig;
#[path = "../tests/it/support/softhsm.rs"]
#[allow(dead_code)]
mod softhsm;

use std::sync::Arc;
use std::time::Instant;

/// The bench's own copy of the policies lets a grant be used 1000 times.
const USES_PER_GRANT: u32 = 1000;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let seconds = rig::env_number("TRESOR_BENCH_SECONDS", 10);
        let connections = rig::env_number("TRESOR_BENCH_CONNECTIONS", 64) as usize;
        let work = tempfile::tempdir().expect("temp dir");
        let sqlite = format!("sqlite://{}", work.path().join("tresor.sqlite").display());
        let file_keys: Arc<dyn tresor::crypto::KeyProvider> =
            Arc::new(tresor::crypto::FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).expect("keys"));
        let with_files = run("SQLite", &sqlite, work.path(), seconds, connections, file_keys).await;
        if rig::env_number("TRESOR_BENCH_PKCS11", 1) != 0 {
            let sqlite = format!("sqlite://{}", work.path().join("tresor-pkcs11.sqlite").display());
            let with_token =
                run("SQLite, PKCS#11 (SoftHSM2)", &sqlite, work.path(), seconds, connections, token_keys()).await;
            println!(
                "\nreleases/s with keys in the token (SoftHSM2) / with keys in memory (file provider): {with_token:.0} / \
                 {with_files:.0} = {:.2}x",
                with_token / with_files
            );
        }
        if let Ok(admin) = std::env::var("TRESOR_BENCH_POSTGRES_URL") {
            let name = format!("tresor_bench_{}", std::process::id());
            let (url, connection) = postgres::create_database(&admin, &name).await;
            let keys: Arc<dyn tresor::crypto::KeyProvider> =
                Arc::new(tresor::crypto::FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).expect("keys"));
            run("PostgreSQL", &url, work.path(), seconds, connections, keys).await;
            postgres::drop_database(connection, &name).await;
        }
    });
}

/// Keys in a fresh SoftHSM2 token, made by the provider's own `init`.
fn token_keys() -> Arc<dyn tresor::crypto::KeyProvider> {
    use tresor::crypto::{Pin, Pkcs11KeyProvider, SigningKeySource, TokenSettings};
    let label = softhsm::new_token("bench");
    let pin = Pin::new(softhsm::PIN.to_owned());
    let settings = TokenSettings {
        module: std::path::Path::new(softhsm::MODULE),
        token_label: &label,
        pin: &pin,
        sessions: tresor::crypto::DEFAULT_SESSIONS,
    };
    Pkcs11KeyProvider::init(&settings, SigningKeySource::Token).expect("keys init in the token");
    Arc::new(Pkcs11KeyProvider::open(&settings, SigningKeySource::Token).expect("open the token"))
}

/// One run; returns the releases per second.
async fn run(
    label: &str,
    database_url: &str,
    work: &std::path::Path,
    seconds: u64,
    connections: usize,
    keys: Arc<dyn tresor::crypto::KeyProvider>,
) -> f64 {
    let directory: String = label.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let rig = rig::Rig::start_with_keys(database_url, &work.join(directory), USES_PER_GRANT, keys).await;
    let (state, address, client) = (&rig.state, rig.address, &rig.client);
    // Enough grants for the whole run at up to 60,000 releases/s, warm-up
    // included (each good for 1000 releases): a used-up grant would turn the
    // rest of the run into cheap refusals.
    let count = (seconds as usize + 2) * 60_000 / USES_PER_GRANT as usize + connections;
    let (citizen, evidence) = rig::seed_citizen(state, "citizen").await;
    let grants = rig::approve_grants(state, &citizen, &evidence, count, USES_PER_GRANT).await;

    println!("\n== {label}: {connections} keep-alive TLS connections, {seconds} s each ==");
    if std::env::var("TRESOR_BENCH_METRICS").is_ok_and(|mode| mode == "compare") {
        compare_metrics(&rig, &grants, seconds, connections).await;
        rig.stop().await;
        return f64::NAN;
    }
    let only = std::env::var("TRESOR_BENCH_ONLY").unwrap_or_default();
    let bare = if only == "release" {
        None
    } else {
        let bare = rig::load(address, client, connections, seconds, |_, _| "/api/v1/dept/whoami".to_owned()).await;
        bare.print("bare authenticated endpoint (GET /api/v1/dept/whoami)");
        Some(bare)
    };
    let grants = Arc::new(grants);
    let (batches_before, entries_before) = state.vault.audit().commit_counts();
    let commit_time_before = state.vault.audit().commit_time();
    let run_started = Instant::now();
    let release = rig::load(address, client, connections, seconds, move |connection, sent| {
        // Each connection walks through its own grants; a grant serves 1000 releases.
        let per_connection = grants.len() / connections.max(1);
        let index = connection * per_connection + (sent / USES_PER_GRANT as usize) % per_connection.max(1);
        format!("/api/v1/dept/grants/{}/release", grants[index])
    })
    .await;
    release.print("release (GET /api/v1/dept/grants/{id}/release)");
    let run_time = run_started.elapsed();
    let (batches, entries) = state.vault.audit().commit_counts();
    let (batches, entries) = (batches - batches_before, entries - entries_before);
    let commit_time = state.vault.audit().commit_time().saturating_sub(commit_time_before);
    println!(
        "audit group commit during the release run: {entries} entries in {batches} transactions ({:.1} per commit, \
         {:.2} ms per commit, writer busy {:.0} % of the run)",
        entries as f64 / batches.max(1) as f64,
        commit_time.as_secs_f64() * 1000.0 / batches.max(1) as f64,
        commit_time.as_secs_f64() * 100.0 / run_time.as_secs_f64(),
    );
    if let Some(bare) = &bare {
        println!(
            "release / bare throughput: {:.2}x; CPU per request {:.1}x; release p99 {:.2} ms vs bare p99 {:.2} ms; \
             refused or failed: {}",
            release.per_second() / bare.per_second(),
            release.cpu_per_request_us() / bare.cpu_per_request_us(),
            release.percentile(0.99),
            bare.percentile(0.99),
            release.errors
        );
    }
    if only != "release" {
        // Tile serving (C2SP tlog-tiles, public, immutable): level-0 and
        // level-1 tiles spread over the whole tree of the log the releases
        // just grew, after a checkpoint over all of it.
        state.vault.audit().checkpoint().await.expect("checkpoint");
        let size = state.vault.audit().latest_checkpoint().await.expect("checkpoint").map_or(0, |c| c.size);
        let full_tiles = (size / tresor::audit::tiles::TILE_WIDTH).max(1);
        let tiles = rig::load(address, client, connections, seconds, move |connection, sent| {
            // Mostly level 0 (what an inclusion proof walk reads), every
            // eighth request a level-1 tile; a different tile each time.
            let step = (connection * 7919 + sent * 104_729) as u64;
            let (level, index) = match sent % 8 {
                0 if full_tiles >= 256 => (1, step % (full_tiles / 256)),
                _ => (0, step % full_tiles),
            };
            let tile = tresor::audit::tiles::Tile { level, index, width: tresor::audit::tiles::TILE_WIDTH };
            format!("/api/v1/audit/log/tile/{}", tile.path())
        })
        .await;
        tiles.print(&format!("tile (GET /api/v1/audit/log/tile/..., tree of {size} entries)"));
        if let Some(bare) = &bare {
            println!(
                "tile / bare throughput: {:.2}x; tile p99 {:.2} ms",
                tiles.per_second() / bare.per_second(),
                tiles.percentile(0.99)
            );
        }
    }
    let releases_per_second = release.per_second();
    rig.stop().await;
    releases_per_second
}

/// The bare endpoint and the release with metrics off and on, interleaved;
/// prints each run and the on/off ratios of the sums.
async fn compare_metrics(rig: &rig::Rig, grants: &[String], seconds: u64, connections: usize) {
    let _ = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::stderr)
        .try_init();
    let (state, address, client) = (&rig.state, rig.address, &rig.client);
    let grants = Arc::new(grants.to_vec());
    // [bare off, bare on, release off, release on]: (requests/s, CPU us per request) summed over rounds.
    let mut sums = [(0.0f64, 0.0f64); 4];
    let mut offset = 0usize;
    for round in 0..2 {
        for enabled in [false, true] {
            state.metrics.set_enabled(enabled);
            let label = if enabled { "metrics on" } else { "metrics off" };
            let bare = rig::load(address, client, connections, seconds, |_, _| "/api/v1/dept/whoami".to_owned()).await;
            bare.print(&format!("round {round}, {label}: bare (GET /api/v1/dept/whoami)"));
            let run_grants = grants.clone();
            let start = offset;
            let release = rig::load(address, client, connections, seconds, move |connection, sent| {
                // Fresh grants each run (1000 uses each).
                let per_connection = (run_grants.len() / connections.max(1)).max(1);
                let index = (start + connection * per_connection + (sent / USES_PER_GRANT as usize) % per_connection)
                    % run_grants.len();
                format!("/api/v1/dept/grants/{}/release", run_grants[index])
            })
            .await;
            offset += grants.len() / 4;
            release.print(&format!("round {round}, {label}: release"));
            let slot = usize::from(enabled);
            sums[slot].0 += bare.per_second();
            sums[slot].1 += bare.cpu_per_request_us();
            sums[2 + slot].0 += release.per_second();
            sums[2 + slot].1 += release.cpu_per_request_us();
        }
    }
    println!(
        "metrics on / off: bare throughput {:.3}x, bare CPU per request {:.3}x; release throughput {:.3}x, \
         release CPU per request {:.3}x; release / bare throughput {:.2}x (off) {:.2}x (on)",
        sums[1].0 / sums[0].0,
        sums[1].1 / sums[0].1,
        sums[3].0 / sums[2].0,
        sums[3].1 / sums[2].1,
        sums[2].0 / sums[0].0,
        sums[3].0 / sums[1].0,
    );
    let text = state.metrics.encode().expect("metrics encode");
    println!("metrics exposition after the runs: {} bytes, {} lines", text.len(), text.lines().count());
}
