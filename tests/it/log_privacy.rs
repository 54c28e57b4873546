//! The logs hold no personal data. A whole flow runs while every log line of
//! the app is captured in-process, as `log_json = true` writes them (JSON
//! lines, the request span with its id), at the most verbose level for
//! tresor and axum: a login through the real OpenID provider, uploads of
//! evidence through the API, a department's request, the citizen's approval,
//! a release, a refused release, the citizen's views, a logout. Then the
//! captured text is searched for every value the citizen typed, the session
//! cookie and CSRF token, the OIDC subject and the names the provider holds,
//! the citizen id and the pseudonym the department got.
//!
//! The app runs on the test's thread (a current-thread runtime), so a
//! thread-local subscriber sees every task; the SQLite audit writer thread
//! logs to the subscriber of the code that started it.

use std::io::Write;
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::app::{Backend, Citizen, TestApp};

on_both_backends!(a_whole_flow_logs_no_personal_data_and_every_request_has_an_id);

/// Log output, captured.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

const TRAFFIC: &str = "strassenverkehrsbehoerde";
/// What the citizen types: distinctive, so that a hit is never chance.
const RESIDENCE: &[(&str, &str)] = &[
    ("family_name", "Quastenflosser"),
    ("given_names", "Philippa-Ottilie"),
    ("street", "Zypressenwinkel"),
    ("house_number", "97q"),
    ("postal_code", "98765"),
    ("city", "Schnabelsdorf"),
    ("registered_since", "03.07.2018"),
    ("residence_type", "main"),
];
const VEHICLE: &[(&str, &str)] = &[
    ("license_plate", "QZ-XY 8642"),
    ("vehicle_class", "M1"),
    ("holder_family_name", "Quastenflosser"),
    ("holder_street", "Zypressenwinkel 97q"),
    ("holder_postal_code", "98765"),
    ("holder_city", "Schnabelsdorf"),
    ("first_registration", "11.09.2021"),
];
/// anna at the test provider (tests/oidc-provider/server.js).
const OIDC_SUBJECT: &str = "eid-pseudonym-anna-7f3a9c";
const PROVIDER_NAMES: &[&str] = &["Anna", "Schmidt"];

async fn upload(app: &TestApp, citizen: &Citizen, type_id: &str, fields: &[(&str, &str)]) -> String {
    let mut form = reqwest::multipart::Form::new().text("type", type_id.to_owned());
    for (name, value) in fields {
        form = form.text(format!("field.{name}"), (*value).to_owned());
    }
    let response = citizen
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("x-csrf-token", &citizen.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "upload of {type_id}");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

async fn a_whole_flow_logs_no_personal_data_and_every_request_has_an_id(backend: Backend) {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info,tresor=trace,axum=trace"))
        .with_writer(captured.clone())
        .finish();
    let _capturing = tracing::subscriber::set_default(subscriber);

    let app = TestApp::start(backend).await;
    let anna = app.log_in_citizen("anna", "high").await;
    let session: Value = anna.browser.get(app.url("/api/v1/session")).send().await.unwrap().json().await.unwrap();
    let citizen_id = session["citizen_id"].as_str().unwrap().to_owned();
    let residence = upload(&app, &anna, "residence_certificate", RESIDENCE).await;
    let vehicle = upload(&app, &anna, "vehicle_registration", VEHICLE).await;
    // A refused upload (a bad date) shows the typed values back to the citizen only.
    let mut bad = RESIDENCE.to_vec();
    bad[6] = ("registered_since", "31.02.2019");
    let form =
        bad.iter().fold(reqwest::multipart::Form::new().text("type", "residence_certificate"), |form, (k, v)| {
            form.text(format!("field.{k}"), (*v).to_owned())
        });
    let refused = anna
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("x-csrf-token", &anna.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error(), "a bad date is refused: {}", refused.status());

    let opened = app
        .as_department(TRAFFIC, Method::POST, "/api/v1/dept/requests")
        .json(&json!({"service": "resident_parking_permit", "reference": "AZ 77-2026-4711"}))
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::CREATED);
    let request: Value = opened.json().await.unwrap();
    let request_id = request["id"].as_str().unwrap().to_owned();
    let page = anna.browser.get(app.url(&format!("/requests/{request_id}"))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the consent page with the values");
    let approved = anna
        .browser
        .post(app.url(&format!("/api/v1/requests/{request_id}/approve")))
        .header("x-csrf-token", &anna.csrf)
        .json(&json!({
            "evidence": [residence, vehicle],
            "fields": ["residence_certificate.street", "residence_certificate.house_number",
                       "residence_certificate.postal_code", "residence_certificate.city",
                       "vehicle_registration.license_plate"],
            "duration_days": 30,
            "max_uses": 1,
        }))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success(), "approval: {}", approved.status());
    let status: Value = app
        .as_department(TRAFFIC, Method::GET, &format!("/api/v1/dept/requests/{request_id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grant = status["grant_id"].as_str().unwrap().to_owned();
    let release =
        app.as_department(TRAFFIC, Method::GET, &format!("/api/v1/dept/grants/{grant}/release")).send().await.unwrap();
    assert_eq!(release.status(), StatusCode::OK);
    let release_request_id = release.headers()["x-request-id"].to_str().unwrap().to_owned();
    let released: Value = release.json().await.unwrap();
    let pseudonym = released["subject"].as_str().unwrap().to_owned();
    assert!(released.to_string().contains("Zypressenwinkel"), "the release carried the values");
    let again =
        app.as_department(TRAFFIC, Method::GET, &format!("/api/v1/dept/grants/{grant}/release")).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::FORBIDDEN, "used up");
    for path in ["/evidence", &format!("/evidence/{residence}"), "/access-log", "/api/v1/audit/mine"] {
        assert_eq!(anna.browser.get(app.url(path)).send().await.unwrap().status(), StatusCode::OK, "{path}");
    }
    let cookies = app.cookies_for(&anna.jar).expect("session cookies");
    let logout = anna.browser.post(app.url("/api/v1/logout")).header("x-csrf-token", &anna.csrf).send().await.unwrap();
    assert!(logout.status().is_success(), "logout: {}", logout.status());
    app.stop().await;

    let logs = captured.text();
    // The capture works: every request left its span, with its id.
    assert!(logs.contains(&release_request_id), "the release's request id is in its log lines");
    let request_spans = logs.lines().filter(|line| line.contains(r#""name":"request""#)).count();
    assert!(request_spans >= 15, "one request span per request, got {request_spans}:\n{logs}");
    assert!(logs.contains(r#""route":"/api/v1/dept/grants/{id}/release""#), "route patterns, not paths");

    let mut secrets: Vec<(String, String)> = Vec::new();
    for (field, value) in RESIDENCE.iter().chain(VEHICLE) {
        if *value != "main" && *value != "M1" {
            secrets.push((format!("evidence value {field}"), (*value).to_owned()));
        }
    }
    secrets.push(("the OIDC subject".into(), OIDC_SUBJECT.into()));
    for name in PROVIDER_NAMES {
        secrets.push(("a name from the provider".into(), (*name).into()));
    }
    secrets.push(("the citizen id".into(), citizen_id.clone()));
    secrets.push(("the department's pseudonym".into(), pseudonym));
    secrets.push(("the CSRF token".into(), anna.csrf.clone()));
    for cookie in cookies.split("; ") {
        let (name, value) = cookie.split_once('=').unwrap();
        if value.len() >= 16 {
            secrets.push((format!("the cookie {name}"), value.to_owned()));
        }
    }
    assert!(secrets.iter().any(|(what, _)| what.starts_with("the cookie")), "the session cookie is searched for");
    let found: Vec<String> = secrets
        .iter()
        .filter(|(_, secret)| logs.contains(secret.as_str()))
        .map(|(what, secret)| {
            let line = logs.lines().find(|line| line.contains(secret.as_str())).unwrap_or_default();
            format!("{what} ({secret}) in: {line}")
        })
        .collect();
    assert!(found.is_empty(), "personal data in the logs:\n{}", found.join("\n"));
}
