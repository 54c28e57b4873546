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

    // The city's pages show example details, marked as examples.
    let imprint = citizen.get(server.url("/imprint?lang=de")).send().await.unwrap().text().await.unwrap();
    assert!(
        imprint.contains("Beispiel: Diese Angaben sind Beispiele") && imprint.contains("Stadt Musterstadt (Beispiel)")
    );

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

/// The value of every `<input type="hidden">` of a maud-rendered form.
fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    let unescape = |value: &str| {
        value
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    };
    html.split("<input type=\"hidden\" ")
        .skip(1)
        .filter_map(|rest| {
            let name = rest.strip_prefix("name=\"")?.split('"').next()?;
            let value = rest.split("value=\"").nth(1)?.split('"').next()?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

/// Security headers on a response of the dev provider.
fn assert_security_headers(response: &reqwest::Response) {
    let headers = response.headers();
    let url = response.url().as_str();
    let csp = headers.get("content-security-policy").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(csp.contains("default-src 'none'") && csp.contains("style-src 'self'"), "CSP on {url}: {csp:?}");
    assert_eq!(headers.get("x-frame-options").map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{url}");
    assert_eq!(headers.get("x-content-type-options").map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{url}");
    assert_eq!(headers.get("referrer-policy").map(|v| v.as_bytes()), Some(&b"no-referrer"[..]), "{url}");
    // `serve --dev` runs on plain http://127.0.0.1 (and hsts_max_age_seconds = 0).
    assert!(!headers.contains_key("strict-transport-security"), "{url}");
}

#[tokio::test]
async fn dev_identity_provider_pages_carry_the_security_headers_and_work_under_the_csp() {
    let tmp = tempfile::tempdir().unwrap();
    let server = DevServer::start(tmp.path()).await;
    for (login, provider, lands_on) in [("/login", "/dev-idp", "/evidence"), ("/staff/login", "/dev-idp-staff", "/dpo")]
    {
        let browser =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        // Without a login_hint tresor sends the browser to the persona page.
        let start = browser.get(server.url(login)).send().await.unwrap();
        assert_eq!(start.status(), StatusCode::SEE_OTHER, "{login}");
        let authorize = start.headers()["location"].to_str().unwrap().to_owned();
        assert!(authorize.starts_with(&server.url(&format!("{provider}/authorize?"))), "{authorize}");
        let page = browser.get(&authorize).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_security_headers(&page);
        let html = page.text().await.unwrap();
        // Nothing the CSP would block: no inline style, no script.
        for blocked in ["<style", " style=", "<script", "javascript:"] {
            assert!(!html.contains(blocked), "{provider}: {blocked:?} in the page");
        }
        let stylesheet = format!("{provider}/style.css");
        assert!(html.contains(&format!("<link rel=\"stylesheet\" href=\"{stylesheet}\">")), "{html}");
        let css = browser.get(server.url(&stylesheet)).send().await.unwrap();
        assert_eq!(css.status(), StatusCode::OK);
        assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
        assert_security_headers(&css);
        assert!(css.text().await.unwrap().contains(".test-note"));
        // The provider's other answers too.
        let discovery = browser.get(server.url(&format!("{provider}/.well-known/openid-configuration"))).send().await;
        assert_security_headers(&discovery.unwrap());
        let refused = browser.get(server.url(&format!("{provider}/authorize?client_id=nobody"))).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert_security_headers(&refused);

        // The form still works: choose a persona, come back logged in.
        let action = server.url(&format!("{provider}/authorize/choose"));
        assert!(html.contains(&format!("action=\"{action}\"")), "{html}");
        let mut form = hidden_inputs(&html);
        assert!(form.iter().any(|(name, _)| name == "state"), "{html}");
        form.push(("persona".to_owned(), "anna".to_owned()));
        let chosen = browser.post(&action).form(&form).send().await.unwrap();
        assert_eq!(chosen.status(), StatusCode::FOUND, "{provider}");
        assert_security_headers(&chosen);
        let callback = chosen.headers()["location"].to_str().unwrap().to_owned();
        let back = browser.get(&callback).send().await.unwrap();
        assert_eq!(back.status(), StatusCode::SEE_OTHER, "{callback}");
        assert_eq!(back.headers()["location"].to_str().unwrap(), lands_on, "{provider}");
    }
    server.stop().await;
}
