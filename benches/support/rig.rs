//! What the release benchmarks share: the whole vault built in the bench
//! process as `tresor serve` builds it (policies with more uses per grant,
//! the dev PKI, its TLS listener), a department's seeded citizen and
//! grants, and the load generator (bare hyper over keep-alive TLS
//! connections with a client certificate).

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
use tresor::crypto::{FileKeyProvider, KeyProvider};
use tresor::identity::dev_pki;
use tresor::ids::{CitizenId, EvidenceId, RequestId};
use tresor::policy::{FieldRef, LoginLevel, Policies};
use tresor::server::{self, Parts};
use tresor::vault::Approval;

/// A number from the environment, or `default` when unset or not a number.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

pub const SERVICE: &str = "resident_parking_permit";
pub const DEPARTMENT: &str = "strassenverkehrsbehoerde";

/// The vault serving on a TLS listener, and a client with the department's certificate.
pub struct Rig {
    pub state: tresor::http::AppState,
    pub address: SocketAddr,
    pub client: Arc<ClientTls>,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Rig {
    /// Build the vault on `database_url` with the shipped policies, the
    /// parking service allowing `uses_per_grant` uses, and serve it.
    #[allow(dead_code)] // release_scale uses it, release does not
    pub async fn start(database_url: &str, dir: &std::path::Path, uses_per_grant: u32) -> Self {
        let keys = Arc::new(FileKeyProvider::ephemeral(&SystemRandom::new()).expect("keys"));
        Self::start_with_keys(database_url, dir, uses_per_grant, keys).await
    }

    /// [`Rig::start`] with the given key provider (e.g. keys in a token).
    pub async fn start_with_keys(
        database_url: &str,
        dir: &std::path::Path,
        uses_per_grant: u32,
        keys: Arc<dyn KeyProvider>,
    ) -> Self {
        std::fs::create_dir_all(dir).expect("work dir");
        let policy_dir = dir.join("policies");
        copy_dir(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"), &policy_dir);
        let service_file = policy_dir.join("services/resident_parking_permit.toml");
        let text = std::fs::read_to_string(&service_file).expect("service file");
        std::fs::write(&service_file, text.replace("max_uses = 2", &format!("max_uses = {uses_per_grant}")))
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
        config.erasure_list = Some(dir.join("erased-citizens"));
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
            keys,
            policies,
            clock: Arc::new(SystemClock),
            rng,
            issuers: Vec::new(),
            dev_idp: None,
            dev_staff_idp: None,
            http_client: reqwest::Client::new(),
            department_auth: department_auth.clone(),
        });

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
        Self { state, address, client, stop, server }
    }

    /// Stop serving and let the audit writer finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
        self.state.vault.audit().shutdown().await;
    }
}

/// A citizen (`name` is their eID subject) with a residence certificate and
/// a vehicle registration.
pub async fn seed_citizen(state: &tresor::http::AppState, name: &str) -> (CitizenId, Vec<EvidenceId>) {
    let vault = &state.vault;
    let citizen = vault.log_in_citizen("bench", name).await.expect("citizen");
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
    (citizen, vec![residence, vehicle])
}

/// `count` approved parking grants of `citizen` (each good for `uses` releases).
pub async fn approve_grants(
    state: &tresor::http::AppState,
    citizen: &CitizenId,
    evidence: &[EvidenceId],
    count: usize,
    uses: u32,
) -> Vec<String> {
    let vault = &state.vault;
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
            evidence: evidence.to_vec(),
            fields: approved.clone(),
            duration_days: 30,
            max_uses: uses,
            without_files: false,
        };
        let grant = vault.approve_access_request(citizen, LoginLevel::High, &id, &approval).await.expect("grant");
        grants.push(grant.id.to_string());
    }
    grants
}

pub struct LoadResult {
    pub completed: usize,
    pub errors: usize,
    pub elapsed: Duration,
    pub latencies_ms: Vec<f64>,
    /// CPU time (user + system) of this process during the measured window.
    pub cpu: Duration,
}

/// CPU time (user + system) this process has used so far, from /proc.
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after ')'; 100 ticks per second on Linux.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

impl LoadResult {
    pub fn per_second(&self) -> f64 {
        self.completed as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile(&self, quantile: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies_ms.len() - 1) as f64 * quantile).round() as usize;
        self.latencies_ms[index]
    }

    /// CPU microseconds (server and client, both cores) per completed request.
    pub fn cpu_per_request_us(&self) -> f64 {
        self.cpu.as_secs_f64() * 1e6 / self.completed.max(1) as f64
    }

    pub fn print(&self, what: &str) {
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
pub struct ClientTls {
    connector: tokio_rustls::TlsConnector,
}

impl ClientTls {
    pub fn new(server_ca_pem: &[u8], certificate_pem: &[u8], key_pem: &[u8]) -> Self {
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
    pub async fn connect(&self, address: SocketAddr) -> SendRequest<Empty<Bytes>> {
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
pub async fn load<P>(
    address: SocketAddr,
    client: &Arc<ClientTls>,
    connections: usize,
    seconds: u64,
    path: P,
) -> LoadResult
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

pub fn copy_dir(source: &std::path::Path, target: &std::path::Path) {
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
