//! The README's production start, run as written: its configuration example
//! and its "Before the first start" lines, with only the placeholders filled
//! in (paths in a temporary directory, ports, secrets, the test OpenID
//! provider as the eID bridge). The keys and the database must land where
//! the configuration says, not in the defaults.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::oidc_provider::{TestClient, TestOidcProvider};

const README: &str = include_str!("../../README.md");

/// The first fenced block of `language` after `heading` in the README.
fn block_after(heading: &str, language: &str) -> String {
    let start = README.find(heading).unwrap_or_else(|| panic!("README has no {heading:?}"));
    let fence = format!("```{language}\n");
    let open = start + README[start..].find(&fence).unwrap_or_else(|| panic!("no {language} block after {heading:?}"));
    let body = open + fence.len();
    let close = body + README[body..].find("```").unwrap();
    README[body..close].to_owned()
}

/// `text` with the value of each top-level or section `key = …` line set.
fn with_values(text: &str, values: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut used = vec![false; values.len()];
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or_default().trim();
        match values.iter().position(|(name, _)| *name == key && line.contains('=')) {
            Some(index) => {
                out.push_str(&format!("{key} = {}\n", values[index].1));
                used[index] = true;
            }
            None => out.push_str(&format!("{line}\n")),
        }
    }
    for ((name, _), used) in values.iter().zip(used) {
        assert!(used, "the README's example has no `{name}` line");
    }
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The shell running the README's lines, in a process group of its own.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_readme_production_start_works_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let secret = "bridge-client-secret-for-the-test";
    let mut client = TestClient::new("tresor", secret, &format!("{base}/auth/callback"));
    client.post_logout_redirect_uris = vec![format!("{base}/logged-out")];
    let provider = TestOidcProvider::start(vec![client]).await;

    let quoted = |path: &Path| format!("{:?}", path.display().to_string());
    // The operations section's example: its top-level keys first, its
    // `[health]` section after the production example's sections.
    let metrics_port = free_port();
    let operations = with_values(
        &block_after("### Operations: health, metrics, logs", "toml"),
        &[("metrics_listen", format!("\"127.0.0.1:{metrics_port}\""))],
    );
    let (operations_top, operations_health) = operations.split_at(operations.find("[health]").unwrap());
    let config = with_values(
        &block_after("## Configuration for production", "toml"),
        &[
            ("listen", format!("\"127.0.0.1:{port}\"")),
            ("public_url", format!("\"{base}\"")),
            ("database_url", format!("\"sqlite://{}\"", dir.path().join("db").join("tresor.sqlite").display())),
            ("key_dir", quoted(&dir.path().join("keys"))),
            ("policy_dir", quoted(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"))),
            ("issuer_url", format!("\"{}\"", provider.issuer)),
        ],
    );
    let config = format!("{operations_top}{config}{operations_health}");
    std::fs::create_dir_all(dir.path().join("db")).unwrap();
    let config_path = dir.path().join("tresor.toml");
    std::fs::write(&config_path, config).unwrap();

    let script = block_after("Before the first start", "sh")
        .replace("/etc/tresor/tresor.toml", &config_path.display().to_string())
        .replace("TRESOR_KEY_PASSPHRASE='…'", "TRESOR_KEY_PASSPHRASE='a passphrase for the test run'")
        .replace("TRESOR_EID_CLIENT_SECRET='…'", &format!("TRESOR_EID_CLIENT_SECRET='{secret}'"));
    assert!(!script.contains('…'), "a placeholder in the README's lines is not filled in:\n{script}");
    let binary_dir = Path::new(env!("CARGO_BIN_EXE_tresor")).parent().unwrap();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let log = std::fs::File::create(dir.path().join("out.log")).unwrap();
    let child = Command::new("bash")
        .args(["-euc", &script])
        .current_dir(&work)
        .env("PATH", path)
        .env_remove("TRESOR_DATABASE_URL")
        .env_remove("TRESOR_CONFIG")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .spawn()
        .unwrap();
    let _started = Started(child);

    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(response) = http.get(&base).send().await
            && response.status() == reqwest::StatusCode::OK
        {
            break;
        }
        let output = std::fs::read_to_string(dir.path().join("out.log")).unwrap_or_default();
        assert!(Instant::now() < deadline, "the README's start did not serve within 120 s:\n{output}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The keys and the database are where the configuration says.
    for file in ["keys", "db/tresor.sqlite"] {
        assert!(dir.path().join(file).exists(), "{file} missing: the configuration was not used");
    }
    assert!(!work.join("data").exists(), "a command used the default data directory instead of the configuration");
    // The login goes to the configured bridge.
    let login = http.get(format!("{base}/login")).send().await.unwrap();
    let location = login.headers().get("location").map(|value| value.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(login.status().is_redirection(), "{}", login.status());
    assert!(location.starts_with(&provider.issuer), "login goes to {location}");

    // The operations section: health on the public listener, metrics on their own.
    let live = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), reqwest::StatusCode::OK);
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), reqwest::StatusCode::OK, "{}", ready.text().await.unwrap());
    assert_eq!(http.get(format!("{base}/metrics")).send().await.unwrap().status(), reqwest::StatusCode::NOT_FOUND);
    let metrics = http.get(format!("http://127.0.0.1:{metrics_port}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), reqwest::StatusCode::OK);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains(r#"tresor_http_request_duration_seconds_count{route="/login",method="GET",status="303"} 1"#),
        "{text}"
    );
    assert!(text.contains("tresor_ready 1"), "{text}");
}
