//! The PKCS#11 key provider from outside: `tresor keys init` and `tresor
//! serve` with `[keys] provider = "pkcs11"` against SoftHSM2 (start-up
//! refuses a wrong PIN, a missing token, module, PIN or key with a clear
//! message and a non-zero exit), and a token that refuses the vault while
//! serving answers 503 `keys_unavailable` instead of an error page or a panic.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::Value;
use tresor::policy::LoginLevel;

use crate::support::app::{Backend, TestApp, TestAppOptions, token_keys};
use crate::support::softhsm;

/// A configuration with `[keys]` for `token_label`, in `dir`.
fn config(dir: &Path, token_label: &str, module: &str) -> std::path::PathBuf {
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{data}\"\npolicy_dir = \"{policies}\"\n\n[keys]\nprovider = \"pkcs11\"\nmodule = \"{module}\"\ntoken_label = \"{token_label}\"\npin_env = \"TEST_TOKEN_PIN\"\n",
        data = dir.join("data").display(),
        policies = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies").display(),
    );
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let path = dir.join("tresor.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// Run the binary; (success, stdout + stderr).
fn tresor(config: &Path, pin: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tresor"));
    command.arg("--config").arg(config).args(args).env_remove("TEST_TOKEN_PIN");
    if let Some(pin) = pin {
        command.env("TEST_TOKEN_PIN", pin);
    }
    let output = command.output().expect("run tresor");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

#[test]
fn keys_init_and_start_up_refusals_through_the_binary() {
    let temp = tempfile::tempdir().expect("tempdir");
    let label = softhsm::new_token("bin");
    let config = config(temp.path(), &label, softhsm::MODULE);

    // No keys yet: serve says to run keys init.
    let (ok, text) = tresor(&config, Some(softhsm::PIN), &["serve"]);
    assert!(!ok && text.contains("tresor keys init"), "{text}");

    let (ok, text) = tresor(&config, Some(softhsm::PIN), &["keys", "init"]);
    assert!(ok, "{text}");
    assert!(text.contains("Ed25519 signing key created in the token"), "{text}");
    // Never twice.
    let (ok, text) = tresor(&config, Some(softhsm::PIN), &["keys", "init"]);
    assert!(!ok && text.contains("already holds"), "{text}");

    // With the right PIN the keys open; serve stops later, at the missing
    // identity provider, which this configuration does not name.
    let (ok, text) = tresor(&config, Some(softhsm::PIN), &["serve"]);
    assert!(!ok && text.contains("no identity provider configured"), "{text}");
    assert!(text.contains("keys in the PKCS#11 token") && !text.contains("error: PKCS#11"), "{text}");

    let (ok, text) = tresor(&config, Some("wrong-pin"), &["serve"]);
    assert!(!ok && text.contains("refused the PIN"), "{text}");
    assert!(!text.contains("wrong-pin"), "the PIN is never printed: {text}");

    let (ok, text) = tresor(&config, None, &["serve"]);
    assert!(!ok && text.contains("TEST_TOKEN_PIN is not set"), "{text}");

    let other = config_in(&temp, "missing-token", "no-such-token", softhsm::MODULE);
    let (ok, text) = tresor(&other, Some(softhsm::PIN), &["serve"]);
    assert!(!ok && text.contains("no token labelled \"no-such-token\""), "{text}");

    let other = config_in(&temp, "missing-module", &label, "/nonexistent/libpkcs11.so");
    let (ok, text) = tresor(&other, Some(softhsm::PIN), &["serve"]);
    assert!(!ok && text.contains("/nonexistent/libpkcs11.so does not exist"), "{text}");
}

fn config_in(temp: &tempfile::TempDir, name: &str, label: &str, module: &str) -> std::path::PathBuf {
    let dir = temp.path().join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    config(&dir, label, module)
}

#[test]
fn a_half_configured_token_is_refused_at_load() {
    let temp = tempfile::tempdir().expect("tempdir");
    let path = temp.path().join("tresor.toml");
    std::fs::write(
        &path,
        "listen = \"127.0.0.1:0\"\ndata_dir = \"d\"\npolicy_dir = \"p\"\n[keys]\nprovider = \"pkcs11\"\n",
    )
    .expect("config");
    let (ok, text) = tresor(&path, Some(softhsm::PIN), &["serve"]);
    assert!(!ok && text.contains("keys.module"), "{text}");
}

/// The token drops the app's login and no longer takes its PIN.
fn token_refuses_the_app(label: &str) {
    use cryptoki::context::Pkcs11;
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let context = Pkcs11::new(softhsm::MODULE).expect("module");
    let slot = context
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|slot| context.get_token_info(*slot).is_ok_and(|info| info.label().trim_end() == label))
        .expect("slot");
    let session = context.open_rw_session(slot).expect("session");
    let old = AuthPin::new(softhsm::PIN.into());
    match session.login(UserType::User, Some(&old)) {
        Ok(()) | Err(cryptoki::error::Error::Pkcs11(cryptoki::error::RvError::UserAlreadyLoggedIn, _)) => {}
        Err(error) => panic!("login: {error}"),
    }
    session.set_pin(&old, &AuthPin::new("changed-pin-1234".into())).expect("C_SetPIN");
    session.logout().expect("logout");
}

#[tokio::test]
async fn a_token_that_refuses_the_vault_answers_503_keys_unavailable() {
    let keys = token_keys();
    let label = keys.token_label().to_owned();
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.keys = Some(keys);
    let app = TestApp::start_with(options).await;
    let anna = app.log_in_citizen("anna", "high").await;
    let session: Value =
        anna.browser.get(app.url("/api/v1/session")).send().await.expect("session").json().await.expect("json");
    let citizen: tresor::ids::CitizenId =
        session["citizen_id"].as_str().expect("citizen id").parse().expect("valid citizen id");
    let fields: BTreeMap<String, String> = [
        ("family_name", "Mustermann"),
        ("given_names", "Anna"),
        ("street", "Lindenallee"),
        ("house_number", "12a"),
        ("postal_code", "12345"),
        ("city", "Musterstadt"),
        ("registered_since", "01.04.2019"),
        ("residence_type", "main"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let id = app
        .state
        .vault
        .create_evidence(&citizen, LoginLevel::High, "residence_certificate", &fields, None)
        .await
        .expect("evidence");
    let url = app.url(&format!("/api/v1/evidence/{id}"));
    let shown = anna.browser.get(&url).send().await.expect("get");
    assert_eq!(shown.status(), StatusCode::OK);

    token_refuses_the_app(&label);
    let response = anna.browser.get(&url).send().await.expect("get");
    let status = response.status();
    let retry_after = response.headers().get("retry-after").cloned();
    let body: Value = response.json().await.expect("json");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "keys_unavailable", "{body}");
    assert!(retry_after.is_some());
}
