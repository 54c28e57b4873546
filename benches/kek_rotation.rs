//! KEK rotation benchmark: `keys rotate-kek`'s re-wrapping of N citizens'
//! DEKs (default 100,000; `TRESOR_BENCH_CITIZENS=1000000` for the issue's
//! figure) while the vault serves releases, beside releases/s without a
//! rotation in the same run. Vault, load client and rotation share this
//! process and the machine's cores, as the rotation command shares a
//! vault's host.
//!
//! Run: `cargo bench --bench kek_rotation` (SQLite); with
//! `TRESOR_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres`
//! also on a fresh PostgreSQL database. `TRESOR_BENCH_SECONDS` (default 8)
//! is the length of each release run.

#[path = "support/postgres.rs"]
mod postgres;
#[path = "support/rig.rs"]
mod rig;

use std::sync::Arc;
use std::time::Instant;

use ring::rand::SystemRandom;
use tresor::crypto::{DataKey, FileKeyProvider, KdfParams, KeyProvider, Passphrase};
use tresor::store::CitizenRecord;
use tresor::vault::key_rotation::{Quiet, RotationSettings, rewrap_until_done};

const USES_PER_GRANT: u32 = 1000;
const CONNECTIONS: usize = 32;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let citizens = rig::env_number("TRESOR_BENCH_CITIZENS", 100_000);
        let seconds = rig::env_number("TRESOR_BENCH_SECONDS", 8);
        let work = tempfile::tempdir().expect("temp dir");
        let sqlite = format!("sqlite://{}", work.path().join("tresor.sqlite").display());
        run("SQLite", &sqlite, work.path(), citizens, seconds).await;
        if let Ok(admin) = std::env::var("TRESOR_BENCH_POSTGRES_URL") {
            let name = format!("tresor_bench_{}", std::process::id());
            let (url, connection) = postgres::create_database(&admin, &name).await;
            run("PostgreSQL", &url, work.path(), citizens, seconds).await;
            postgres::drop_database(connection, &name).await;
        }
    });
}

async fn run(label: &str, database_url: &str, work: &std::path::Path, citizens: u64, seconds: u64) {
    let dir = work.join(label.to_lowercase());
    let key_dir = dir.join("keys");
    let passphrase = Passphrase::new("kek rotation bench passphrase".to_owned());
    let rng = SystemRandom::new();
    FileKeyProvider::init(&key_dir, &passphrase, KdfParams::fast_for_tests(), &rng).expect("keys init");
    let keys = Arc::new(FileKeyProvider::open(&key_dir, &passphrase).expect("keys"));
    let rig = rig::Rig::start_with_keys(database_url, &dir, USES_PER_GRANT, keys.clone()).await;
    let (state, address, client) = (&rig.state, rig.address, &rig.client);
    let store = state.vault.store().clone();

    println!("\n== {label}: {citizens} citizens, releases over {CONNECTIONS} TLS connections, {seconds} s runs ==");
    let started = Instant::now();
    let mut inserts = Vec::new();
    for n in 0..citizens {
        let store = store.clone();
        let keys = keys.clone();
        inserts.push(tokio::spawn(async move {
            let rng = SystemRandom::new();
            let id = tresor::ids::CitizenId::generate(&rng);
            let dek = DataKey::generate(&rng).expect("dek");
            let (kek_version, wrapped_dek) = keys.wrap_dek(&id, &dek).expect("wrap");
            let subject_hash = format!("bench subject {n}").into_bytes();
            let record = CitizenRecord { id, subject_hash, wrapped_dek, kek_version, created_at: chrono::Utc::now() };
            store.insert_citizen(&record).await.expect("insert citizen");
        }));
        if inserts.len() >= 256 {
            for insert in inserts.drain(..) {
                insert.await.expect("insert");
            }
        }
    }
    for insert in inserts {
        insert.await.expect("insert");
    }
    println!("seeded {citizens} citizens in {:.1} s", started.elapsed().as_secs_f64());

    let count = (seconds as usize * 2 + 4) * 30_000 / USES_PER_GRANT as usize + CONNECTIONS;
    let (citizen, evidence) = rig::seed_citizen(state, "citizen").await;
    let grants = Arc::new(rig::approve_grants(state, &citizen, &evidence, count, USES_PER_GRANT).await);
    let path = move |grants: Arc<Vec<String>>, offset: usize| {
        move |connection: usize, sent: usize| {
            let per_connection = grants.len() / 2 / CONNECTIONS;
            let index = offset + connection * per_connection + (sent / USES_PER_GRANT as usize) % per_connection.max(1);
            format!("/api/v1/dept/grants/{}/release", grants[index])
        }
    };
    let quiet = rig::load(address, client, CONNECTIONS, seconds, path(grants.clone(), 0)).await;
    quiet.print("releases, no rotation");

    FileKeyProvider::rotate_kek(&key_dir, &passphrase, KdfParams::fast_for_tests(), &rng).expect("new KEK");
    let rotating = Arc::new(FileKeyProvider::open(&key_dir, &passphrase).expect("keys with v2"));
    let rotation = {
        let store = store.clone();
        let rotating = rotating.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let settings = RotationSettings::default();
            let done = rewrap_until_done(store.as_ref(), rotating.as_ref(), &settings, &Quiet).await.expect("rotation");
            (done, started.elapsed())
        })
    };
    let half = grants.len() / 2;
    let during = rig::load(address, client, CONNECTIONS, seconds, path(grants.clone(), half)).await;
    during.print("releases during the rotation");
    let (done, took) = rotation.await.expect("rotation task");
    let overlap = (seconds as f64 / took.as_secs_f64()).min(1.0) * 100.0;
    println!(
        "rotation: {} keys re-wrapped in {:.1} s = {:.0} keys/s ({} left); the release run covered {overlap:.0} % of it",
        done.rewrapped,
        took.as_secs_f64(),
        done.rewrapped as f64 / took.as_secs_f64(),
        done.remaining
    );
    println!(
        "releases during / without rotation: {:.2}x ({:.0} vs {:.0}/s; p99 {:.1} vs {:.1} ms)",
        during.per_second() / quiet.per_second(),
        during.per_second(),
        quiet.per_second(),
        during.percentile(0.99),
        quiet.percentile(0.99)
    );
    rig.stop().await;
}
