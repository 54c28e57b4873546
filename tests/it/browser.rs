//! The citizen journey in a real browser: headless Chromium with JavaScript
//! off drives `tests/browser/journey.mjs` against the whole app and the real
//! test OpenID provider, with axe-core (WCAG 2.1 A/AA) and keyboard checks on
//! every page, including the consent page of an access request, the grants
//! page and the step-up page. Needs the Debian package `chromium` and
//! `npm ci --prefix tests/browser` (CI installs both; this test never does).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::support::app::{Backend, TestApp};

const JOURNEY_TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn citizen_journey_without_javascript_passes_axe_and_keyboard_checks() {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = chromium_path();
    assert!(
        chromium.is_file(),
        "Chromium not found at {}: install it with `apt-get update && apt-get install -y chromium` \
         (or point CHROMIUM at a Chromium binary)",
        chromium.display()
    );
    for package in ["playwright-core", "axe-core"] {
        assert!(
            manifest_dir.join("tests/browser/node_modules").join(package).join("package.json").is_file(),
            "npm package {package} missing: run `npm ci --prefix tests/browser`"
        );
    }

    let app = TestApp::start(Backend::Sqlite).await;
    // The approve links a department sends: housing benefit (consent page,
    // grants page) and the disabled parking permit (step-up page).
    let consent_url = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let step_up_url = open_request(&app, "strassenverkehrsbehoerde", "disabled_parking_permit").await;
    let started = Instant::now();
    // The app's clock is a manual one; the provider's is real. Keep the app in
    // step with real time, or the ID tokens of logins late in a long journey
    // (on a busy machine, past the 60 s leeway) are "issued in the future".
    let clock = app.clock.clone();
    let follow_real_time = tokio::spawn(async move {
        loop {
            clock.set(chrono::Utc::now());
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let journey = Command::new("node")
        .arg(manifest_dir.join("tests/browser/journey.mjs"))
        .arg(&app.base)
        .env("CHROMIUM", &chromium)
        .env("JOURNEY_CONSENT_URL", &consent_url)
        .env("JOURNEY_STEP_UP_URL", &step_up_url)
        .current_dir(manifest_dir)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(JOURNEY_TIMEOUT, journey)
        .await
        .unwrap_or_else(|_| panic!("the browser journey took longer than {JOURNEY_TIMEOUT:?} and was killed"))
        .unwrap_or_else(|error| panic!("cannot run `node tests/browser/journey.mjs` (is Node.js installed?): {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "browser journey failed ({}) after {:.1?}:\n{stdout}\nstderr:\n{stderr}",
        output.status,
        started.elapsed()
    );
    assert!(stdout.trim_end().ends_with(" passed, 0 failed"), "unexpected journey output:\n{stdout}");
    println!("{stdout}browser journey took {:.1?}", started.elapsed());
    follow_real_time.abort();
    app.stop().await;
}

/// A department opens an access request; returns its approve URL.
async fn open_request(app: &TestApp, department: &str, service: &str) -> String {
    let response = app
        .as_department(department, reqwest::Method::POST, "/api/v1/dept/requests")
        .json(&serde_json::json!({ "service": service, "reference": "AZ 4711/2026" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::CREATED, "request for {service}");
    let body: serde_json::Value = response.json().await.unwrap();
    body["approve_url"].as_str().unwrap().to_owned()
}

/// `/usr/bin/chromium` (Debian), unless `CHROMIUM` names another binary.
fn chromium_path() -> PathBuf {
    std::env::var_os("CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}
