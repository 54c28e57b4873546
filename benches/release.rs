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
//! (default 64) change the run.

#[path = "support/postgres.rs"]
mod postgres;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use ring::rand::SystemRandom;
use tresor::clock::SystemClock;
use tresor::config::Config;
use tresor::crypto::FileKeyProvider;
use tresor::identity::dev_pki;
use tresor::ids::RequestId;
use tresor::policy::{FieldRef, LoginLevel, Policies};
use tresor::server::{self, Parts};
use tresor::vault::Approval;

/// The bench's own copy of the policies lets a grant be used 1000 times.
const USES_PER_GRANT: u32 = 1000;
const SERVICE: &str = "resident_parking_permit";
const DEPARTMENT: &str = "strassenverkehrsbehoerde";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(async {
        let seconds = env_number("TRESOR_BENCH_SECONDS", 10);
        let connections = env_number("TRESOR_BENCH_CONNECTIONS", 64) as usize;
        let work = tempfile::tempdir().expect("temp dir");
        let sqlite = format!("sqlite://{}", work.path().join("tresor.sqlite").display());
        run("SQLite", &sqlite, work.path(), seconds, connections).await;
        if let Ok(admin) = std::env::var("TRESOR_BENCH_POSTGRES_URL") {
            let name = format!("tresor_bench_{}", std::process::id());
            let (url, connection) = postgres::create_database(&admin, &name).await;
            run("PostgreSQL", &url, work.path(), seconds, connections).await;
            postgres::drop_database(connection, &name).await;
        }
    });
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

async fn run(label: &str, database_url: &str, work: &std::path::Path, seconds: u64, connections: usize) {
    let dir = work.join(label.to_lowercase());
    std::fs::create_dir_all(&dir).expect("work dir");
    // Policies: shipped, with the parking service allowing 1000 uses per grant.
    let policy_dir = dir.join("policies");
    copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"), &policy_dir);
    let service_file = policy_dir.join("services/resident_parking_permit.toml");
    let text = std::fs::read_to_string(&service_file).expect("service file");
    std::fs::write(&service_file, text.replace("max_uses = 2", &format!("max_uses = {USES_PER_GRANT}")))
        .expect("write service");
    let policies = Policies::load(&policy_dir).expect("policies");
    // The dev PKI: server certificate, department CA and client certificates (pins dropped).
    let departments = policies.departments.without_pins();
    let pki =
        dev_pki::generate(&dir.join("pki"), &departments, &["127.0.0.1".to_owned()], Utc::now()).expect("dev PKI");
    let mut policies = policies;
    policies.departments = departments;

    let mut config = Config::load(None).expect("default config");
    config.policy_dir = policy_dir;
    // One department certificate makes every call: its rate limit is checked
    // on every call as in production, but set above what the run can reach
    // (the shipped 50/s is for a real department's system, not this load).
    config.limits.department_calls_per_second = 1_000_000;
    config.departments = Some(pki.department_config());
    let config = Arc::new(config);
    let store = tresor::store::open(database_url).await.expect("open store");
    store.migrate().await.expect("migrate");
    let rng = Arc::new(SystemRandom::new());
    let policies = Arc::new(policies);
    let department_auth = server::department_auth(&config, &policies).expect("department auth");
    let (router, state) = server::build(Parts {
        config: config.clone(),
        store,
        keys: Arc::new(FileKeyProvider::ephemeral(rng.as_ref()).expect("keys")),
        policies,
        clock: Arc::new(SystemClock),
        rng,
        issuers: Vec::new(),
        dev_idp: None,
        dev_staff_idp: None,
        http_client: reqwest::Client::new(),
        department_auth: department_auth.clone(),
    });

    // Enough grants for the whole run at up to 60,000 releases/s, warm-up
    // included (each good for 1000 releases): a used-up grant would turn the
    // rest of the run into cheap refusals.
    let grants = seed(&state, (seconds as usize + 2) * 60_000 / USES_PER_GRANT as usize + connections).await;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let acceptor = tresor::http::tls::acceptor(&pki.tls_config(address), department_auth.as_deref()).expect("TLS");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let connection_limits = tresor::http::listener::ConnectionLimits::from_config(&state.config);
    let server =
        tokio::spawn(tresor::http::listener::serve(listener, Some(acceptor), router, connection_limits, async {
            let _ = stopped.await;
        }));

    let department = pki.departments.iter().find(|cert| cert.department == DEPARTMENT).expect("department cert");
    let client = Arc::new(ClientTls::new(
        &std::fs::read(&pki.server_ca_file).expect("server CA"),
        &std::fs::read(&department.certificate_file).expect("client certificate"),
        &std::fs::read(&department.key_file).expect("client key"),
    ));

    println!("\n== {label}: {connections} keep-alive TLS connections, {seconds} s each ==");
    let only = std::env::var("TRESOR_BENCH_ONLY").unwrap_or_default();
    let bare = if only == "release" {
        None
    } else {
        let bare = load(address, &client, connections, seconds, |_, _| "/api/v1/dept/whoami".to_owned()).await;
        bare.print("bare authenticated endpoint (GET /api/v1/dept/whoami)");
        Some(bare)
    };
    let grants = Arc::new(grants);
    let (batches_before, entries_before) = state.vault.audit().commit_counts();
    let commit_time_before = state.vault.audit().commit_time();
    let run_started = Instant::now();
    let release = load(address, &client, connections, seconds, move |connection, sent| {
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
        let tiles = load(address, &client, connections, seconds, move |connection, sent| {
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
    let _ = stop.send(());
    let _ = server.await;
    state.vault.audit().shutdown().await;
}

/// A citizen with a residence certificate and a vehicle registration, and
/// `count` approved parking grants.
async fn seed(state: &tresor::http::AppState, count: usize) -> Vec<String> {
    let vault = &state.vault;
    let citizen = vault.log_in_citizen("bench", "citizen").await.expect("citizen");
    let fields = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    };
    let residence = vault
        .create_evidence(
            &citizen,
            LoginLevel::High,
            "residence_certificate",
            &fields(&[
                ("family_name", "Mustermann"),
                ("given_names", "Erika"),
                ("street", "Lindenallee"),
                ("house_number", "12a"),
                ("postal_code", "12345"),
                ("city", "Musterstadt"),
                ("registered_since", "01.04.2019"),
                ("residence_type", "main"),
            ]),
            None,
        )
        .await
        .expect("residence");
    let vehicle = vault
        .create_evidence(
            &citizen,
            LoginLevel::High,
            "vehicle_registration",
            &fields(&[
                ("license_plate", "M-ST 1234"),
                ("vehicle_class", "M1"),
                ("holder_family_name", "Mustermann"),
                ("holder_street", "Lindenallee 12a"),
                ("holder_postal_code", "12345"),
                ("holder_city", "Musterstadt"),
                ("first_registration", "15.05.2020"),
            ]),
            None,
        )
        .await
        .expect("vehicle");
    let approved: Vec<FieldRef> = [
        "residence_certificate.street",
        "residence_certificate.house_number",
        "residence_certificate.postal_code",
        "residence_certificate.city",
        "vehicle_registration.license_plate",
    ]
    .iter()
    .map(|field| FieldRef::parse(field).expect("field"))
    .collect();
    let mut grants = Vec::with_capacity(count);
    for _ in 0..count {
        let request = vault.create_access_request(DEPARTMENT, SERVICE, "AZ bench").await.expect("request");
        let id: RequestId = request.id;
        let approval = Approval {
            evidence: vec![residence.clone(), vehicle.clone()],
            fields: approved.clone(),
            duration_days: 30,
            max_uses: USES_PER_GRANT,
            without_files: false,
        };
        let grant = vault.approve_access_request(&citizen, LoginLevel::High, &id, &approval).await.expect("grant");
        grants.push(grant.id.to_string());
    }
    grants
}

struct LoadResult {
    completed: usize,
    errors: usize,
    elapsed: Duration,
    latencies_ms: Vec<f64>,
    /// CPU time (user + system) of this process during the measured window.
    cpu: Duration,
}

/// CPU time (user + system) this process has used so far, from /proc.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after ')'; 100 ticks per second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

impl LoadResult {
    fn per_second(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(&self, quantile: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_ms.len() - 1) as f64 * quantile).round() as usize;
        self.latencies_ms[index]
    }

    /// CPU microseconds (server and client, both cores) per completed request.
    fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.completed.max(1) as f64
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: {:.0} requests/s ({} in {:.1} s), latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, errors {}, \
             CPU {:.0} µs per request",
            self.per_second(),
            self.completed,
            self.elapsed.as_secs_f64(),
            self.percentile(0.50),
            self.percentile(0.99),
            self.latencies_ms.last().copied().unwrap_or(f64::NAN),
            self.errors,
            self.cpu_per_request_us()
        );
    }
}

/// The load generator's TLS side: trusts the dev server CA and presents the
/// department's client certificate. Requests go over bare hyper HTTP/1.1
/// connections (no pool, redirects, cookies or URL parsing), so that the
/// client, which shares the two cores with the server, costs as little as a
/// load generator should.
struct ClientTls {
    connector: tokio_rustls::TlsConnector,
}

impl ClientTls {
    fn new(server_ca_pem: &[u8], certificate_pem: &[u8], key_pem: &[u8]) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(server_ca_pem) {
            roots.add(certificate.expect("server CA PEM")).expect("server CA");
        }
        let chain = CertificateDer::pem_slice_iter(certificate_pem)
            .collect::<Result<Vec<_>, _>>()
            .expect("client certificate PEM");
        let key = PrivateKeyDer::from_pem_slice(key_pem).expect("client key PEM");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("client certificate");
        Self { connector: tokio_rustls::TlsConnector::from(Arc::new(config)) }
    }

    /// One keep-alive HTTP/1.1 connection over TLS.
    async fn connect(&self, address: SocketAddr) -> SendRequest<Empty<Bytes>> {
        let tcp = tokio::net::TcpStream::connect(address).await.expect("connect");
        tcp.set_nodelay(true).expect("nodelay");
        let name = rustls::pki_types::ServerName::IpAddress(address.ip().into());
        let tls = self.connector.connect(name, tcp).await.expect("TLS handshake");
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls)).await.expect("HTTP handshake");
        tokio::spawn(connection);
        sender
    }
}

/// `connections` tasks, each with its own keep-alive TLS connection
/// (HTTP/1.1), sending `path(connection, sent)` back to back for `seconds`
/// after a one-second warm-up.
async fn load<P>(address: SocketAddr, client: &Arc<ClientTls>, connections: usize, seconds: u64, path: P) -> LoadResult
where
    P: Fn(usize, usize) -> String + Send + Sync + 'static,
{
    let path = Arc::new(path);
    let measuring = Arc::new(AtomicBool::new(false));
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::with_capacity(connections);
    for connection in 0..connections {
        let client = client.clone();
        let path = path.clone();
        let measuring = measuring.clone();
        let running = running.clone();
        tasks.push(tokio::spawn(async move {
            let mut sender = client.connect(address).await;
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            let mut sent = 0usize;
            while running.load(Ordering::Relaxed) {
                let request = http::Request::get(path(connection, sent))
                    .header(http::header::HOST, address.to_string())
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let start = Instant::now();
                let ok = match sender.send_request(request).await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        response.into_body().collect().await.is_ok() && ok
                    }
                    Err(_) => false,
                };
                sent += 1;
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        latencies.push(start.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        errors += 1;
                    }
                }
                if sender.ready().await.is_err() {
                    sender = client.connect(address).await;
                }
            }
            (latencies, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    let cpu_start = process_cpu();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    measuring.store(false, Ordering::Relaxed);
    let elapsed = start.elapsed();
    let cpu = process_cpu().saturating_sub(cpu_start);
    running.store(false, Ordering::Relaxed);
    let mut latencies_ms = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, task_errors) = task.await.expect("load task");
        latencies_ms.extend(latencies);
        errors += task_errors;
    }
    latencies_ms.sort_by(f64::total_cmp);
    LoadResult { completed: latencies_ms.len(), errors, elapsed, latencies_ms, cpu }
}

fn copy_dir(source: &std::path::Path, target: &std::path::Path) {
    std::fs::create_dir_all(target).expect("create dir");
    for entry in std::fs::read_dir(source).expect("read dir") {
        let entry = entry.expect("entry");
        let to = target.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy");
        }
    }
}
