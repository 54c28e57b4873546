//! The first README command as a newcomer runs it: `tresor serve --dev`, the
//! real binary. A citizen logs in through the built-in provider, the dev
//! data-protection officer reaches the DPO pages (and nobody else does), a
//! department reaches the department API over the dev TLS listener with the
//! printed dev certificate, and stopping the server throws everything away.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct DevServer {
    child: Child,
    base: String,
    tls_base: String,
    dir: PathBuf,
}

impl DevServer {
    async fn start(tmp: &Path) -> DevServer {
        let (port, tls_port) = (free_port(), free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_tresor"))
            .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--tls-listen", &format!("127.0.0.1:{tls_port}")])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TMPDIR", tmp)
            .env_remove("TRESOR_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let dir = tmp.join(format!("tresor-dev-{}", child.id()));
        let server = DevServer {
            child,
            base: format!("http://127.0.0.1:{port}"),
            tls_base: format!("https://127.0.0.1:{tls_port}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(response) = reqwest::get(&server.base).await
                && response.status() == StatusCode::OK
            {
                break;
            }
            assert!(Instant::now() < deadline, "tresor serve --dev did not answer within 60 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stop it as Ctrl-C would (SIGTERM) and wait (asynchronously, so the
    /// clients' connection tasks can answer the server's goodbye).
    async fn stop(mut self) {
        let status = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "tresor did not stop within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn serve_dev_works_for_citizens_dpos_and_departments() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path()).await;

    // A citizen: the dev provider's login_hint skips its page.
    let citizen = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let response = citizen.get(server.url("/login?login_hint=anna")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.url().path(), "/evidence");

    // The dev DPO (anna at the dev staff provider) reaches the DPO pages ...
    let dpo = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let response = dpo.get(server.url("/staff/login?login_hint=anna")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.url());
    assert_eq!(response.url().path(), "/dpo");
    let stats = dpo.get(server.url("/dpo/stats")).send().await.unwrap();
    assert_eq!(stats.status(), StatusCode::OK);
    // ... ben does not.
    let other = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let response = other.get(server.url("/staff/login?login_hint=ben")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(other.get(server.url("/dpo")).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);

    // A department, over TLS with the dev certificate the banner names.
    let tls = server.dir.join("tls");
    let mut identity = std::fs::read(tls.join("wohngeldstelle.pem")).unwrap();
    identity.extend(std::fs::read(tls.join("wohngeldstelle.key")).unwrap());
    let department = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(tls.join("server-ca.pem")).unwrap()).unwrap(),
        )
        .identity(reqwest::Identity::from_pem(&identity).unwrap())
        .build()
        .unwrap();
    let whoami: serde_json::Value =
        department.get(format!("{}/api/v1/dept/whoami", server.tls_base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(whoami["department"], "wohngeldstelle");

    // The real staff.toml is untouched; the dev DPO lives in the throwaway copy.
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/staff.toml")).unwrap_or_default();
    assert!(!shipped.contains("dev-staff"));

    let dir = server.dir.clone();
    assert!(dir.exists());
    let started = Instant::now();
    server.stop().await;
    assert!(started.elapsed() < Duration::from_secs(10), "stopping took {:?}", started.elapsed());
    assert!(!dir.exists(), "dev data and keys are thrown away on exit");
}
