//! Fresh databases for store tests: a PostgreSQL database per test (created on
//! the server named by `TRESOR_TEST_POSTGRES_URL`, dropped afterwards) and a
//! SQLite file in a temporary directory. PostgreSQL is mandatory: when the
//! server is unreachable the test fails, it never skips.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ring::rand::{SecureRandom, SystemRandom};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tresor::store::postgres::PostgresStore;
use tresor::store::sqlite::SqliteStore;
use tresor::store::{Store, StoreOptions};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A database of its own on the test PostgreSQL server.
pub struct TestPostgres {
    /// Connection URL of the fresh database.
    pub url: String,
    admin_url: String,
    database_name: String,
    dropped: bool,
}

impl TestPostgres {
    /// Create `tresor_test_<random hex>`. Panics with a clear message when the
    /// server cannot be reached: PostgreSQL is part of the test environment.
    pub async fn create() -> TestPostgres {
        let admin_url = std::env::var("TRESOR_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        let mut random = [0u8; 8];
        SystemRandom::new().fill(&mut random).expect("operating system random source failed");
        let database_name = format!("tresor_test_{}", hex::encode(random));

        let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|error| {
            panic!(
                "PostgreSQL is required for the store tests but {} is unreachable: {error}. \
                 Start PostgreSQL or point TRESOR_TEST_POSTGRES_URL at an admin database.",
                redact_password(&admin_url)
            )
        });
        // The name is ours (hex digits only), so formatting it in is safe.
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE \"{database_name}\"")))
            .execute(&mut admin)
            .await
            .unwrap_or_else(|error| panic!("cannot create test database {database_name}: {error}"));
        admin.close().await.ok();

        let mut url = url::Url::parse(&admin_url).expect("TRESOR_TEST_POSTGRES_URL is not a URL");
        url.set_path(&format!("/{database_name}"));
        TestPostgres { url: url.to_string(), admin_url, database_name, dropped: false }
    }

    /// Drop the database now (preferred over relying on `Drop`).
    pub async fn drop_database(mut self) {
        drop_database(&self.admin_url, &self.database_name).await;
        self.dropped = true;
    }
}

impl Drop for TestPostgres {
    /// Fallback when a test panicked before `drop_database`: drop it from a
    /// thread with its own runtime (we may be inside the test's runtime here).
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let admin_url = self.admin_url.clone();
        let database_name = self.database_name.clone();
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            if let Ok(runtime) = runtime {
                runtime.block_on(drop_database(&admin_url, &database_name));
            }
        });
        let _ = cleanup.join();
    }
}

async fn drop_database(admin_url: &str, database_name: &str) {
    let Ok(mut admin) = PgConnection::connect(admin_url).await else {
        eprintln!("could not connect to drop test database {database_name}");
        return;
    };
    // FORCE ends the connections of pools that are still alive.
    let statement = format!("DROP DATABASE IF EXISTS \"{database_name}\" WITH (FORCE)");
    if let Err(error) = sqlx::query(AssertSqlSafe(statement)).execute(&mut admin).await {
        eprintln!("could not drop test database {database_name}: {error}");
    }
    admin.close().await.ok();
}

fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("redacted"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl TestPostgres {
    /// The PostgreSQL server's address (host and port of the URL).
    pub fn server_address(&self) -> SocketAddr {
        let url = url::Url::parse(&self.url).expect("database URL");
        let host = url.host_str().expect("database host");
        let port = url.port().unwrap_or(5432);
        (host, port).to_socket_addrs().expect("resolve the database host").next().expect("a database address")
    }

    /// This database's URL, but connecting to `address` (a `TcpGate`).
    pub fn url_via(&self, address: SocketAddr) -> String {
        let mut url = url::Url::parse(&self.url).expect("database URL");
        url.set_ip_host(address.ip()).expect("an IP host");
        url.set_port(Some(address.port())).expect("a port");
        url.to_string()
    }
}

/// A migrated PostgreSQL store in a fresh database.
pub async fn postgres_store() -> (TestPostgres, Arc<dyn Store>) {
    let database = TestPostgres::create().await;
    let store = postgres_store_at(&database.url, StoreOptions::default()).await;
    (database, store)
}

/// A migrated PostgreSQL store connecting to `url` (a test database's, maybe
/// through a `TcpGate`) with `options`.
pub async fn postgres_store_at(url: &str, options: StoreOptions) -> Arc<dyn Store> {
    let store = PostgresStore::connect_with(url, options).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    Arc::new(store)
}

/// A migrated SQLite store in a fresh file; keep the directory alive as long
/// as the store.
pub async fn sqlite_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    sqlite_store_with(StoreOptions::default()).await
}

/// [`sqlite_store`] with `options`.
pub async fn sqlite_store_with(options: StoreOptions) -> (tempfile::TempDir, Arc<dyn Store>) {
    let directory = tempfile::tempdir().expect("create a temporary directory");
    let url = format!("sqlite://{}", sqlite_path(&directory).display());
    let store = SqliteStore::connect_with(&url, options).await.expect("open the SQLite store");
    store.migrate().await.expect("migrate the SQLite store");
    (directory, Arc::new(store))
}

/// Where `sqlite_store` keeps its database file.
pub fn sqlite_path(directory: &tempfile::TempDir) -> std::path::PathBuf {
    directory.path().join("tresor.db")
}
