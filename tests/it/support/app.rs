//! The whole vault on a loopback port, built by `tresor::server::build` with
//! the same code as `tresor serve`, against a real store (SQLite file or a
//! fresh PostgreSQL database) and the real test OpenID provider (npm
//! `oidc-provider`). Time is a `ManualClock` the test can move.

use std::sync::Arc;

use chrono::Utc;
use ring::rand::SystemRandom;
use sqlx::{AssertSqlSafe, Connection};
use tresor::clock::ManualClock;
use tresor::config::{Config, DepartmentAuthConfig, IssuerConfig, Limits, SecretString};
use tresor::crypto::{FileKeyProvider, KeyProvider, Pin, Pkcs11KeyProvider, SigningKeySource, TokenSettings};
use tresor::http::AppState;
use tresor::policy::{LoginLevel, Policies};
use tresor::server::{self, Parts};
use tresor::store::{Store, StoreOptions};

use super::failing_store::FailingAuditStore;
use super::oidc_provider::{TestClient, TestOidcProvider};
use super::pki::{CertKind, ClientCert, DEPARTMENT_CNS, TestPki, policy_copy_with_pins};
use super::postgres::{TestPostgres, postgres_store_at, sqlite_path, sqlite_store_with};
use super::tcp_gate::TcpGate;

tokio::task_local! {
    /// Set by `on_both_backends_and_pkcs11!`: apps started in this task get
    /// their keys from a fresh SoftHSM2 token (unless the options name
    /// keys); each such start counts one.
    pub static KEYS_IN_TOKEN: Arc<std::sync::atomic::AtomicUsize>;
}

/// Keys in a fresh SoftHSM2 token, created by the provider's own `init`.
pub fn token_keys() -> Arc<Pkcs11KeyProvider> {
    let label = super::softhsm::new_token("it");
    let pin = Pin::new(super::softhsm::PIN.to_owned());
    let settings = TokenSettings {
        module: std::path::Path::new(super::softhsm::MODULE),
        token_label: &label,
        pin: &pin,
        sessions: tresor::crypto::DEFAULT_SESSIONS,
    };
    Pkcs11KeyProvider::init(&settings, SigningKeySource::Token).expect("keys init in the token");
    Arc::new(Pkcs11KeyProvider::open(&settings, SigningKeySource::Token).expect("open the token"))
}

/// The app's keys when the options name none: ephemeral files, or a token
/// inside `on_both_backends_and_pkcs11!`'s `pkcs11` tests.
fn default_keys(rng: &SystemRandom) -> Arc<dyn KeyProvider> {
    match KEYS_IN_TOKEN.try_with(|started| started.fetch_add(1, std::sync::atomic::Ordering::SeqCst)) {
        Ok(_) => token_keys(),
        Err(_) => Arc::new(FileKeyProvider::ephemeral(rng).expect("ephemeral keys")),
    }
}

pub const CLIENT_ID: &str = "tresor";
pub const CLIENT_SECRET: &str = "tresor-test-secret-0123456789abcdef";
/// The issuer's configured name in tresor (used in URLs).
pub const ISSUER_NAME: &str = "eid";
/// The staff login: a second client at the same test provider.
pub const STAFF_CLIENT_ID: &str = "tresor-staff";
pub const STAFF_CLIENT_SECRET: &str = "tresor-staff-secret-0123456789abcdef";
pub const STAFF_ISSUER_NAME: &str = "staff";

/// The shipped `policies/` folder.
pub fn shipped_policies() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestAppOptions {
    pub backend: Backend,
    pub upload_limit_bytes: u64,
    pub min_level: LoginLevel,
    /// Folder with `evidence-types.toml`; None: the shipped `policies/`.
    pub policy_dir: Option<std::path::PathBuf>,
    /// Configure `staff_issuer` (client `tresor-staff` at the test provider).
    pub staff_issuer: bool,
    /// `[departments] trusted_proxies` (default: 127.0.0.1, the test client).
    pub trusted_proxies: Vec<String>,
    /// The department CA; None: a fresh one.
    pub pki: Option<Arc<TestPki>>,
    /// CRLs (PEM) for `[departments] crl_files`.
    pub crl_pems: Vec<String>,
    /// `[limits]`. The default raises the rate limits far above what any
    /// test sends (tests that check a limit set it low themselves); the
    /// timeouts and memory bounds are the shipped defaults.
    pub limits: Limits,
    /// Last changes to the configuration before the app is built (e.g. an
    /// https `public_url`, `hsts_max_age_seconds`).
    pub adjust_config: Option<fn(&mut Config)>,
    /// PostgreSQL: the app reaches its database through a `TcpGate`
    /// (`TestApp::postgres_gate`) that the test can stop and start.
    pub postgres_gate: bool,
    /// The vault's keys; None: fresh ephemeral ones.
    pub keys: Option<Arc<dyn KeyProvider>>,
    /// `audit_origin`; None: derived from the app's address.
    pub audit_origin: Option<String>,
    /// `[[witnesses]]` and `witness_quorum`.
    pub witnesses: Vec<tresor::config::WitnessConfig>,
    pub witness_quorum: Option<usize>,
}

impl TestAppOptions {
    pub fn new(backend: Backend) -> Self {
        Self {
            backend,
            upload_limit_bytes: 25 * 1024 * 1024,
            min_level: LoginLevel::Low,
            policy_dir: None,
            staff_issuer: false,
            trusted_proxies: vec!["127.0.0.1".to_owned()],
            pki: None,
            crl_pems: Vec::new(),
            limits: Limits {
                login_starts_per_minute: 100_000,
                sessions_per_citizen: 1_000,
                department_calls_per_second: 100_000,
                department_refusals_per_minute: 100_000,
                public_calls_per_minute: 100_000,
                feedback_messages_per_hour: 100_000,
                ..Limits::default()
            },
            adjust_config: None,
            postgres_gate: false,
            keys: None,
            audit_origin: None,
            witnesses: Vec::new(),
            witness_quorum: None,
        }
    }
}

pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub provider: TestOidcProvider,
    /// The app's store goes through this fault injector: `set_failing(true)`
    /// makes every audit append fail (to test fail-closed behaviour).
    pub audit_fault: Arc<FailingAuditStore>,
    /// The department CA and one valid client certificate per shipped
    /// department (`(department id, certificate)`).
    pub pki: Arc<TestPki>,
    pub department_certs: Vec<(String, ClientCert)>,
    /// With `TestAppOptions::postgres_gate`: the gate between the app and
    /// PostgreSQL (stop it for an outage).
    pub postgres_gate: Option<TcpGate>,
    /// The app's router (for `start_tls`).
    router: axum::Router,
    server: tokio::task::JoinHandle<()>,
    _config_dir: tempfile::TempDir,
    _sqlite_dir: Option<tempfile::TempDir>,
    postgres: Option<TestPostgres>,
}

impl TestApp {
    pub async fn start(backend: Backend) -> TestApp {
        Self::start_with(TestAppOptions::new(backend)).await
    }

    pub async fn start_with(options: TestAppOptions) -> TestApp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let mut client = TestClient::new(CLIENT_ID, CLIENT_SECRET, &format!("{base}/auth/callback"));
        client.post_logout_redirect_uris = vec![format!("{base}/logged-out")];
        client.backchannel_logout_uri = Some(format!("{base}/auth/backchannel-logout/{ISSUER_NAME}"));
        let mut staff_client = TestClient::new(STAFF_CLIENT_ID, STAFF_CLIENT_SECRET, &format!("{base}/staff/callback"));
        staff_client.post_logout_redirect_uris = vec![format!("{base}/logged-out")];
        let provider = TestOidcProvider::start(vec![client, staff_client]).await;

        // The store's patience as `tresor serve` sets it from `[limits]`.
        let store_options =
            StoreOptions { timeout: std::time::Duration::from_secs(options.limits.store_timeout_seconds) };
        let (store, sqlite_dir, postgres, postgres_gate) = match options.backend {
            Backend::Sqlite => {
                let (dir, store) = sqlite_store_with(store_options).await;
                (store, Some(dir), None, None)
            }
            Backend::Postgres => {
                let database = TestPostgres::create().await;
                let gate = match options.postgres_gate {
                    true => Some(TcpGate::open(database.server_address()).await),
                    false => None,
                };
                let url = gate.as_ref().map_or_else(|| database.url.clone(), |gate| database.url_via(gate.address));
                (postgres_store_at(&url, store_options).await, None, Some(database), gate)
            }
        };
        let audit_fault = FailingAuditStore::new(store.clone());
        let config_dir = tempfile::tempdir().expect("config dir");
        let pki = options.pki.clone().unwrap_or_else(|| Arc::new(TestPki::new("Test Department CA")));
        let department_certs: Vec<(String, ClientCert)> = DEPARTMENT_CNS
            .iter()
            .map(|(department, cn)| ((*department).to_owned(), pki.issue(cn, CertKind::Valid)))
            .collect();
        let ca_file = config_dir.path().join("department-ca.pem");
        std::fs::write(&ca_file, pki.ca_pem()).expect("write CA");
        let mut config = Config::load(None).expect("default configuration");
        config.public_url = Some(base.clone());
        config.erasure_list = Some(config_dir.path().join("erased-citizens"));
        config.upload_limit_bytes = options.upload_limit_bytes;
        config.limits = options.limits.clone();
        // The policies (shipped or the test's own) with the test certificates' pins.
        let pins: Vec<(&str, &str)> =
            department_certs.iter().map(|(id, cert)| (id.as_str(), cert.spki_sha256_hex.as_str())).collect();
        let source = options.policy_dir.clone().unwrap_or_else(shipped_policies);
        config.policy_dir = policy_copy_with_pins(&source, &config_dir.path().join("policies"), &pins);
        let crl_files = options
            .crl_pems
            .iter()
            .enumerate()
            .map(|(index, pem)| {
                let path = config_dir.path().join(format!("department-{index}.crl"));
                std::fs::write(&path, pem).expect("write CRL");
                path
            })
            .collect();
        config.departments = Some(DepartmentAuthConfig {
            ca_file,
            crl_files,
            trusted_proxies: options.trusted_proxies.clone(),
            certificate_header: "x-ssl-client-cert".to_owned(),
        });
        if options.staff_issuer {
            config.staff_issuer = Some(IssuerConfig {
                name: STAFF_ISSUER_NAME.to_owned(),
                label: None,
                issuer_url: provider.issuer.clone(),
                client_id: STAFF_CLIENT_ID.to_owned(),
                client_secret: Some(SecretString::new(STAFF_CLIENT_SECRET.to_owned())),
                client_secret_env: None,
                min_level: "low".to_owned(),
                scopes: Vec::new(),
            });
        }
        config.audit_origin = options.audit_origin.clone();
        config.witnesses = options.witnesses.clone();
        config.witness_quorum = options.witness_quorum;
        if let Some(adjust) = options.adjust_config {
            adjust(&mut config);
        }
        let config = Arc::new(config);
        let rng = Arc::new(SystemRandom::new());
        let clock = Arc::new(ManualClock::new(Utc::now()));
        let settings = server::issuer_settings(
            &config,
            ISSUER_NAME,
            &provider.issuer,
            CLIENT_ID,
            Some(CLIENT_SECRET.to_owned()),
            options.min_level,
            vec![],
        );
        let http_client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("http client");
        let policies = Arc::new(Policies::load(&config.policy_dir).expect("policies load"));
        let department_auth = server::department_auth(&config, &policies).expect("department auth");
        let (router, state) = server::build(Parts {
            config: config.clone(),
            store: audit_fault.clone(),
            keys: match &options.keys {
                Some(keys) => keys.clone(),
                None => default_keys(&SystemRandom::new()),
            },
            policies,
            clock: clock.clone(),
            rng,
            issuers: vec![(settings, "Online-Ausweis".to_owned())],
            dev_idp: None,
            dev_staff_idp: None,
            http_client,
            department_auth,
        });
        let app_router = router.clone();
        // The same accept loop and connection limits as `tresor serve`.
        let connection_limits = tresor::http::listener::ConnectionLimits::from_config(&config);
        let server = tokio::spawn(tresor::http::listener::serve(
            listener,
            None,
            router,
            connection_limits,
            std::future::pending(),
        ));
        TestApp {
            base,
            state,
            store,
            clock,
            provider,
            audit_fault,
            pki,
            department_certs,
            postgres_gate,
            router: app_router,
            server,
            _config_dir: config_dir,
            _sqlite_dir: sqlite_dir,
            postgres,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A browser-like client: keeps cookies, follows redirects.
    pub fn browser() -> reqwest::Client {
        reqwest::Client::builder().cookie_store(true).build().expect("client")
    }

    /// A client that does not follow redirects (to inspect each hop).
    pub fn no_redirect_browser() -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }

    /// Log `persona` in through the real provider, asking for `level`.
    /// Returns the final response (after all redirects).
    pub async fn login(&self, browser: &reqwest::Client, persona: &str, level: Option<&str>) -> reqwest::Response {
        let mut url = format!("{}/login?issuer={ISSUER_NAME}&login_hint={persona}", self.base);
        if let Some(level) = level {
            url.push_str(&format!("&level={level}"));
        }
        browser.get(url).send().await.expect("login request")
    }

    /// Log `persona` in as staff (`/staff/login`) through the real provider.
    /// Returns the final response (after all redirects).
    pub async fn staff_login(&self, browser: &reqwest::Client, persona: &str) -> reqwest::Response {
        let url = format!("{}/staff/login?login_hint={persona}", self.base);
        browser.get(url).send().await.expect("staff login request")
    }

    /// The CSRF token of the browser's session (`GET /api/v1/session`).
    pub async fn csrf(&self, browser: &reqwest::Client) -> String {
        let info: serde_json::Value = browser
            .get(self.url("/api/v1/session"))
            .send()
            .await
            .expect("session request")
            .json()
            .await
            .expect("session json");
        info["csrf_token"].as_str().expect("csrf token").to_owned()
    }

    /// The valid client certificate of a shipped department.
    pub fn department_cert(&self, department: &str) -> &ClientCert {
        &self.department_certs.iter().find(|(id, _)| id == department).expect("a shipped department").1
    }

    /// A request as `department` (its certificate forwarded as by a trusted
    /// proxy; the test client connects from 127.0.0.1, which is allow-listed).
    pub fn as_department(&self, department: &str, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.with_certificate(self.department_cert(department), method, path)
    }

    /// A request presenting `cert` through the trusted-proxy header.
    pub fn with_certificate(&self, cert: &ClientCert, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(method, self.url(path)).header("x-ssl-client-cert", cert.forwarded_header())
    }

    /// The same app on a TLS listener of its own (127.0.0.1, port 0), as
    /// `tresor serve` runs it for `[tls]`: server certificate from the test
    /// CA, client certificates optional and verified against it.
    pub async fn start_tls(&self) -> TlsEndpoint {
        let server_cert = self.pki.issue_server();
        let auth = self.state.department_auth.as_deref();
        let config = tresor::http::tls::server_config(server_cert.pem.as_bytes(), server_cert.key_pem.as_bytes(), auth)
            .expect("TLS server configuration");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let address = listener.local_addr().expect("local address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = self.router.clone();
        let connection_limits = tresor::http::listener::ConnectionLimits::from_config(&self.state.config);
        let task = tokio::spawn(async move {
            tresor::http::listener::serve(listener, Some(acceptor), router, connection_limits, async {
                let _ = stopped.await;
            })
            .await;
        });
        TlsEndpoint {
            base: format!("https://{address}"),
            ca_pem: self.pki.ca_pem(),
            task: Some(task),
            stop: Some(stop),
        }
    }

    pub async fn stop(mut self) {
        self.server.abort();
        if let Some(database) = self.postgres.take() {
            database.drop_database().await;
        }
    }
}

/// A connection of its own to a TestApp's database.
enum OwnConnection {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

/// Looking at the database behind the app directly (row counts, raw bytes).
impl TestApp {
    /// The SQLite database file and its `-wal`/`-shm` companions that exist
    /// right now; empty on PostgreSQL.
    pub fn sqlite_files(&self) -> Vec<std::path::PathBuf> {
        let Some(directory) = &self._sqlite_dir else {
            return Vec::new();
        };
        let database = super::postgres::sqlite_path(directory);
        ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|suffix| std::path::PathBuf::from(format!("{}{suffix}", database.display())))
            .filter(|path| path.exists())
            .collect()
    }

    /// Another process's view of an outage: a connection of its own that
    /// holds the SQLite write lock (`BEGIN EXCLUSIVE`) until `release`.
    pub async fn hold_sqlite_write_lock(&self) -> SqliteWriteLock {
        let database = self.sqlite_files().first().cloned().expect("the SQLite database file");
        let connection = tokio::task::spawn_blocking(move || {
            let connection = rusqlite::Connection::open(database).expect("open the database from outside");
            connection.execute_batch("BEGIN EXCLUSIVE").expect("take the write lock");
            connection
        })
        .await
        .expect("lock holder");
        SqliteWriteLock(connection)
    }

    /// The URL of the app's PostgreSQL database (straight to the server,
    /// never through a gate); None on SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres.as_ref().map(|database| database.url.as_str())
    }

    /// `SELECT count(*) FROM {table}` on the app's database, over a
    /// connection of its own. `table` must be a plain identifier.
    pub async fn count_rows(&self, table: &str) -> i64 {
        assert!(table.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "not a table name: {table:?}");
        let statement = format!("SELECT count(*) FROM {table}");
        match self.own_connection().await {
            OwnConnection::Sqlite(mut connection) => {
                let count = sqlx::query_scalar(AssertSqlSafe(statement)).fetch_one(&mut connection).await;
                connection.close().await.ok();
                count.unwrap_or_else(|e| panic!("count {table}: {e}"))
            }
            OwnConnection::Postgres(mut connection) => {
                let count = sqlx::query_scalar(AssertSqlSafe(statement)).fetch_one(&mut connection).await;
                connection.close().await.ok();
                count.unwrap_or_else(|e| panic!("count {table}: {e}"))
            }
        }
    }

    /// Run one statement on the app's database over a connection of its
    /// own, as an insider with database access would (tampering tests).
    /// Returns the rows it changed.
    pub async fn execute_as_insider(&self, statement: &str) -> u64 {
        let query = AssertSqlSafe(statement.to_owned());
        let done = match self.own_connection().await {
            OwnConnection::Sqlite(mut connection) => {
                let done = sqlx::query(query).execute(&mut connection).await.map(|done| done.rows_affected());
                connection.close().await.ok();
                done
            }
            OwnConnection::Postgres(mut connection) => {
                let done = sqlx::query(query).execute(&mut connection).await.map(|done| done.rows_affected());
                connection.close().await.ok();
                done
            }
        };
        done.unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    /// A connection of its own to the app's database.
    async fn own_connection(&self) -> OwnConnection {
        match (&self._sqlite_dir, &self.postgres) {
            (Some(dir), _) => {
                let url = format!("sqlite://{}", sqlite_path(dir).display());
                OwnConnection::Sqlite(sqlx::SqliteConnection::connect(&url).await.expect("open the SQLite file"))
            }
            (None, Some(database)) => OwnConnection::Postgres(
                sqlx::PgConnection::connect(&database.url).await.expect("connect to PostgreSQL"),
            ),
            (None, None) => unreachable!("a TestApp always has a database"),
        }
    }

    /// Row counts of the tables that hold citizen data, by table name.
    pub async fn data_row_counts(&self) -> Vec<(&'static str, i64)> {
        let mut counts = Vec::new();
        for table in ["citizens", "sessions", "evidence", "evidence_fields", "files", "file_chunks"] {
            counts.push((table, self.count_rows(table).await));
        }
        counts
    }

    /// The raw bytes of the SQLite database file and its write-ahead log
    /// (what a stolen disk or backup would show). Panics for PostgreSQL.
    /// Every byte the SQLite backend has on disk: the database, its log and
    /// the blob files of sealed chunks.
    pub fn sqlite_raw_bytes(&self) -> Vec<u8> {
        let dir = self._sqlite_dir.as_ref().expect("sqlite_raw_bytes needs the SQLite backend");
        let db = sqlite_path(dir);
        let mut bytes = std::fs::read(&db).expect("read the SQLite file");
        for suffix in ["-wal", "-journal"] {
            let mut path = db.clone().into_os_string();
            path.push(suffix);
            if let Ok(more) = std::fs::read(&path) {
                bytes.extend_from_slice(&more);
            }
        }
        // The sealed file chunks live in blob files beside the database.
        let mut blobs = db.clone().into_os_string();
        blobs.push(".blobs");
        for entry in std::fs::read_dir(&blobs).expect("the blob directory exists").flatten() {
            bytes.extend_from_slice(&std::fs::read(entry.path()).expect("read a blob file"));
        }
        bytes
    }

    /// A browser (cookies, follows redirects) whose cookie jar the test can
    /// read, e.g. to replay a session cookie after logout.
    pub fn browser_with_jar() -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder().cookie_provider(jar.clone()).build().expect("client");
        (client, jar)
    }

    /// The `Cookie` header the jar would send to this app.
    pub fn cookies_for(&self, jar: &reqwest::cookie::Jar) -> Option<String> {
        use reqwest::cookie::CookieStore;
        let url = reqwest::Url::parse(&self.base).expect("base url");
        jar.cookies(&url).and_then(|value| value.to_str().ok().map(str::to_owned))
    }
}

/// The app on its TLS listener (see [`TestApp::start_tls`]).
pub struct TlsEndpoint {
    /// `https://127.0.0.1:PORT`
    pub base: String,
    ca_pem: String,
    task: Option<tokio::task::JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TlsEndpoint {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A client trusting only the test CA, presenting `identity` if given.
    pub fn client(&self, identity: Option<&ClientCert>) -> reqwest::Client {
        self.client_builder(identity).build().expect("TLS client")
    }

    pub fn client_builder(&self, identity: Option<&ClientCert>) -> reqwest::ClientBuilder {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).expect("CA certificate"))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(cert) = identity {
            let pem = format!("{}{}", cert.pem, cert.key_pem);
            builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).expect("client identity"));
        }
        builder
    }

    /// Send the shutdown signal and wait until the TLS listener has returned.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("the TLS listener ends cleanly");
        }
    }
}

impl Drop for TlsEndpoint {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A logged-in citizen: a browser with the session cookie and its CSRF token.
pub struct Citizen {
    pub browser: reqwest::Client,
    pub csrf: String,
    pub jar: Arc<reqwest::cookie::Jar>,
}

impl Citizen {
    /// The same cookies, but redirects are not followed (to see 303s).
    pub fn no_redirects(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_provider(self.jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
    }
}

impl TestApp {
    /// Log `persona` in at `level` through the real provider; the login must
    /// succeed and land on the evidence list.
    pub async fn log_in_citizen(&self, persona: &str, level: &str) -> Citizen {
        let (browser, jar) = TestApp::browser_with_jar();
        let response = self.login(&browser, persona, Some(level)).await;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "login of {persona} at {level}");
        assert_eq!(response.url().path(), "/evidence", "login of {persona} lands on the list");
        let csrf = self.csrf(&browser).await;
        Citizen { browser, csrf, jar }
    }
}

/// See [`TestApp::hold_sqlite_write_lock`].
pub struct SqliteWriteLock(rusqlite::Connection);

impl SqliteWriteLock {
    pub async fn release(self) {
        tokio::task::spawn_blocking(move || self.0.execute_batch("ROLLBACK").expect("release the lock"))
            .await
            .expect("lock holder");
    }
}
