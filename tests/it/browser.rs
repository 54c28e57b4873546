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

use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};

use crate::support::app::{Backend, TestApp, TestAppOptions};

const JOURNEY_TIMEOUT: Duration = Duration::from_secs(300);

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

    // A staff login with clara as the DPO, for the DPO pages at the end.
    let policies = crate::dpo::policy_dir();
    let app = TestApp::start_with(TestAppOptions {
        staff_issuer: true,
        policy_dir: Some(policies.path().to_owned()),
        // The city's pages with the example details `serve --dev` shows.
        adjust_config: Some(example_city),
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;
    record_releases_for_the_statistics(&app).await;
    // The journey takes longer than the ID tokens' leeway: the app's clock
    // follows the real one, as in production.
    let clock = app.clock.clone();
    let ticking = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            clock.set(chrono::Utc::now());
        }
    });
    // The approve links a department sends: housing benefit (consent page,
    // grants page) and the disabled parking permit (step-up page).
    let consent_url = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let step_up_url = open_request(&app, "strassenverkehrsbehoerde", "disabled_parking_permit").await;
    let started = Instant::now();
    let journey = Command::new("node")
        .arg(manifest_dir.join("tests/browser/journey.mjs"))
        .arg(&app.base)
        .env("CHROMIUM", &chromium)
        .env("JOURNEY_CONSENT_URL", &consent_url)
        .env("JOURNEY_STEP_UP_URL", &step_up_url)
        .env("JOURNEY_STAFF_LOGIN_URL", app.url(&format!("/staff/login?login_hint={}", crate::dpo::DPO)))
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
    ticking.abort();
    app.stop().await;
}

fn example_city(config: &mut tresor::config::Config) {
    config.city = tresor::config::CityConfig::dev_example();
}

/// Releases by two offices (as the department API records them), so the
/// DPO's statistics page has a chart to check.
async fn record_releases_for_the_statistics(app: &TestApp) {
    let audit = app.state.vault.audit();
    for (department, service, count) in
        [("wohngeldstelle", "housing_benefit", 7), ("kita_amt", "daycare_fee_reduction", 2)]
    {
        for _ in 0..count {
            let event = AuditEvent {
                actor: Actor::Department(department.to_owned()),
                action: Action::Release,
                targets: Targets {
                    subject: Some("0123456789abcdef0123456789abcdef".to_owned()),
                    department: Some(department.to_owned()),
                    service: Some(service.to_owned()),
                    ..Targets::default()
                },
                outcome: Outcome::Success,
                reason: None,
            };
            audit.record(event).await.unwrap();
        }
    }
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
