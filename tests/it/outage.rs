//! The database goes away and comes back while the app runs. PostgreSQL:
//! the app reaches it through a `TcpGate` that is stopped (port closed,
//! every connection dropped: as when the server is down) and started again.
//! SQLite: another connection holds the write lock (`BEGIN EXCLUSIVE`), as
//! another process would. Every call answers 503 with its stable code, the
//! JSON error shape (or the error page) and `Retry-After`, well within a
//! bound set by `limits.store_timeout_seconds`; nothing is half-written; once
//! the database is back the same calls succeed without a restart and the
//! audit log verifies.

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, CONTENT_TYPE, RETRY_AFTER};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use tresor::ids::GrantId;

use crate::support::app::{Backend, Citizen, TestApp, TestAppOptions};

/// `limits.store_timeout_seconds` in these tests.
const STORE_TIMEOUT_SECONDS: u64 = 1;
/// Every refusal must come within this (the store waits 1 s; before the
/// limits existed, PostgreSQL answered after 10 s, SQLite after 5 s).
const ANSWER_BOUND: Duration = Duration::from_secs(4);

const TRAFFIC: &str = "strassenverkehrsbehoerde";

#[tokio::test]
async fn postgres_down_answers_503_fast_and_the_same_calls_work_when_it_is_back() {
    let mut options = TestAppOptions::new(Backend::Postgres);
    options.postgres_gate = true;
    options.limits.store_timeout_seconds = STORE_TIMEOUT_SECONDS;
    let app = TestApp::start_with(options).await;
    let gate = app.postgres_gate.as_ref().expect("the app reaches PostgreSQL through the gate");

    let anna = app.log_in_citizen("anna", "high").await;
    upload_evidence(&app, &anna, true).await;
    let used_grant = parking_grant(&app, "erika").await;
    let unused_grant = parking_grant(&app, "max").await;
    // Released once: the grant is remembered, so its next release goes
    // straight to the audit append.
    assert_eq!(release(&app, &used_grant).await.status(), StatusCode::OK);
    let rows_before = app.data_row_counts().await;
    let audit_before = app.count_rows("audit_entries").await;

    gate.stop().await;

    let started = Instant::now();
    let response = anna.browser.get(app.url("/api/v1/evidence")).send().await.unwrap();
    expect_unavailable_json(response, started, "store_unavailable", "a citizen API call").await;

    let started = Instant::now();
    let response = upload(&app, &anna, true).await;
    expect_unavailable_json(response, started, "store_unavailable", "an upload").await;

    let started = Instant::now();
    let response = page(&anna, &app, "/evidence").await;
    expect_unavailable_page(response, started, "a page").await;

    let started = Instant::now();
    let response = TestApp::no_redirect_browser()
        .get(app.url("/login?issuer=eid"))
        .header(ACCEPT, "text/html")
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    expect_unavailable_page(response, started, "a login start").await;

    let started = Instant::now();
    let response = release(&app, &used_grant).await;
    expect_unavailable_json(response, started, "audit_unavailable", "a release (audit append fails)").await;

    let started = Instant::now();
    let response = release(&app, &unused_grant).await;
    expect_unavailable_json(response, started, "store_unavailable", "a release (grant read fails)").await;

    // Nothing half-written (read past the gate, straight from the server).
    assert_eq!(app.data_row_counts().await, rows_before, "no citizen data changed during the outage");
    assert_eq!(app.count_rows("audit_entries").await, audit_before, "no audit entry during the outage");

    gate.start().await;
    assert_eq!(grant_uses(&app, &used_grant).await, 1, "the failed release claimed no use");

    // The same calls, same app, no restart.
    let response = anna.browser.get(app.url("/api/v1/evidence")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the citizen API works again");
    let listed: Value = response.json().await.unwrap();
    assert_eq!(listed["evidence"].as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(upload(&app, &anna, true).await.status(), StatusCode::CREATED, "uploads work again");
    assert_eq!(page(&anna, &app, "/evidence").await.status(), StatusCode::OK, "pages work again");
    let login = TestApp::no_redirect_browser().get(app.url("/login?issuer=eid")).send().await.unwrap();
    assert_eq!(login.status(), StatusCode::SEE_OTHER, "logins start again");
    assert_eq!(release(&app, &used_grant).await.status(), StatusCode::OK, "releases work again");
    assert_eq!(release(&app, &unused_grant).await.status(), StatusCode::OK);
    assert_eq!(grant_uses(&app, &used_grant).await, 2);

    verify_audit_log(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn sqlite_writes_wait_for_a_held_lock_only_as_long_as_configured() {
    let (app, anna, grant) = bounded_app_with_a_release(Backend::Sqlite).await;
    let rows_before = app.data_row_counts().await;
    let audit_before = app.count_rows("audit_entries").await;

    let lock = app.hold_sqlite_write_lock().await;

    // The audit append cannot write (the audit connection's busy timeout).
    let started = Instant::now();
    let response = upload(&app, &anna, false).await;
    expect_unavailable_json(response, started, "audit_unavailable", "an upload without a file").await;

    // A file upload starts with a write on the pool (its busy timeout).
    let started = Instant::now();
    let response = upload(&app, &anna, true).await;
    expect_unavailable_json(response, started, "store_unavailable", "an upload with a file").await;

    let started = Instant::now();
    let response = release(&app, &grant).await;
    expect_unavailable_json(response, started, "audit_unavailable", "a release").await;

    // Reading does not need the write lock (WAL).
    assert_eq!(page(&anna, &app, "/evidence").await.status(), StatusCode::OK, "pages still show");

    lock.release().await;
    assert_eq!(app.data_row_counts().await, rows_before, "nothing was written while the lock was held");
    assert_eq!(app.count_rows("audit_entries").await, audit_before);
    assert_eq!(grant_uses(&app, &grant).await, 1, "the failed release claimed no use");

    assert_eq!(upload(&app, &anna, false).await.status(), StatusCode::CREATED, "writes work again");
    assert_eq!(upload(&app, &anna, true).await.status(), StatusCode::CREATED);
    assert_eq!(release(&app, &grant).await.status(), StatusCode::OK);
    assert_eq!(grant_uses(&app, &grant).await, 2);

    verify_audit_log(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn postgres_locks_held_by_another_session_are_waited_for_only_as_long_as_configured() {
    let (app, anna, grant) = bounded_app_with_a_release(Backend::Postgres).await;
    let rows_before = app.data_row_counts().await;

    // An administrator's forgotten transaction: the audit head row and the
    // evidence table locked, as long as it stays open.
    let mut admin = sqlx::PgConnection::connect(app.postgres_url().expect("PostgreSQL")).await.unwrap();
    sqlx::query("BEGIN").execute(&mut admin).await.unwrap();
    sqlx::query("SELECT last_sequence FROM audit_head FOR UPDATE").execute(&mut admin).await.unwrap();
    sqlx::query("LOCK TABLE evidence IN ACCESS EXCLUSIVE MODE").execute(&mut admin).await.unwrap();

    // Without a bound these would wait for the transaction to end (the
    // client gives up after 15 s so that the test fails instead of hanging).
    let patience = Duration::from_secs(15);
    let started = Instant::now();
    let response = anna.browser.get(app.url("/api/v1/evidence")).timeout(patience).send().await;
    expect_unavailable_json(response.expect("an answer"), started, "store_unavailable", "reading evidence").await;

    let started = Instant::now();
    let path = format!("/api/v1/dept/grants/{grant}/release");
    let response = app.as_department(TRAFFIC, Method::GET, &path).timeout(patience).send().await;
    expect_unavailable_json(response.expect("an answer"), started, "audit_unavailable", "a release").await;

    sqlx::query("ROLLBACK").execute(&mut admin).await.unwrap();
    admin.close().await.unwrap();
    assert_eq!(app.data_row_counts().await, rows_before, "nothing was written while the locks were held");
    assert_eq!(grant_uses(&app, &grant).await, 1, "the failed release claimed no use");

    let response = anna.browser.get(app.url("/api/v1/evidence")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(release(&app, &grant).await.status(), StatusCode::OK);
    verify_audit_log(&app).await;
    app.stop().await;
}

// --- helpers -------------------------------------------------------------------

/// An app whose store waits at most `STORE_TIMEOUT_SECONDS`, with anna
/// logged in holding evidence and a parking grant already released once.
async fn bounded_app_with_a_release(backend: Backend) -> (TestApp, Citizen, GrantId) {
    let mut options = TestAppOptions::new(backend);
    options.limits.store_timeout_seconds = STORE_TIMEOUT_SECONDS;
    let app = TestApp::start_with(options).await;
    let anna = app.log_in_citizen("anna", "high").await;
    upload_evidence(&app, &anna, false).await;
    let grant = parking_grant(&app, "erika").await;
    assert_eq!(release(&app, &grant).await.status(), StatusCode::OK);
    (app, anna, grant)
}

/// 503 with `code` in the JSON error shape, `Retry-After`, within the bound.
async fn expect_unavailable_json(response: reqwest::Response, started: Instant, code: &str, what: &str) {
    let elapsed = started.elapsed();
    eprintln!("{what}: {} after {elapsed:?}", response.status());
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(elapsed < ANSWER_BOUND, "{what}: answered after {elapsed:?}");
    assert_eq!(retry_after(&response), Some(5), "{what}: Retry-After");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Nothing was") || message.contains("nothing was"), "{what}: {body}");
}

/// 503 as the HTML error page (English), `Retry-After`, within the bound.
async fn expect_unavailable_page(response: reqwest::Response, started: Instant, what: &str) {
    let elapsed = started.elapsed();
    eprintln!("{what}: {} after {elapsed:?}", response.status());
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    assert!(elapsed < ANSWER_BOUND, "{what}: answered after {elapsed:?}");
    assert_eq!(retry_after(&response), Some(5), "{what}: Retry-After");
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(content_type.starts_with("text/html"), "{what}: {content_type}");
    let html = response.text().await.unwrap();
    assert!(html.contains("Temporarily unavailable"), "{what}: {html}");
    assert!(html.contains("cannot reach its database right now"), "{what}: {html}");
    assert!(!html.contains("Please log in"), "{what}: an outage is not a logout");
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response.headers().get(RETRY_AFTER)?.to_str().ok()?.parse().ok()
}

fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..100_000u32).map(|i| (i % 251) as u8));
    bytes
}

/// POST /api/v1/evidence: an income statement, with a PDF if `file`.
async fn upload(app: &TestApp, citizen: &Citizen, file: bool) -> reqwest::Response {
    let mut form = Form::new().text("type", "income_statement");
    for (name, value) in crate::upload_limits::INCOME_FIELDS {
        form = form.text(format!("field.{name}"), *value);
    }
    if file {
        form = form.part("file", Part::bytes(pdf()).file_name("lohn.pdf"));
    }
    citizen
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("X-CSRF-Token", &citizen.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn upload_evidence(app: &TestApp, citizen: &Citizen, file: bool) {
    let response = upload(app, citizen, file).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap_or_default());
}

/// A page as a browser asks for it (English).
async fn page(citizen: &Citizen, app: &TestApp, path: &str) -> reqwest::Response {
    citizen.browser.get(app.url(path)).header(ACCEPT, "text/html").header(ACCEPT_LANGUAGE, "en").send().await.unwrap()
}

async fn release(app: &TestApp, grant: &GrantId) -> reqwest::Response {
    app.as_department(TRAFFIC, Method::GET, &format!("/api/v1/dept/grants/{grant}/release")).send().await.unwrap()
}

async fn grant_uses(app: &TestApp, grant: &GrantId) -> u32 {
    app.store.grant(grant).await.unwrap().expect("the grant exists").uses
}

/// A citizen (`subject`) with a residence certificate and a vehicle
/// registration, who approved the traffic office's parking request.
async fn parking_grant(app: &TestApp, subject: &str) -> GrantId {
    let (_, grant) = crate::dept_api::parking_grant(app, subject, 2).await;
    grant.id
}

/// What `tresor audit verify` checks, over the app's store: every entry
/// hashes to its leaf, the tree matches every signed checkpoint.
async fn verify_audit_log(app: &TestApp) {
    let public_key = app.state.vault.keys().signing_key().public_key();
    let report = tresor::audit::verify::verify_log(app.store.as_ref(), &public_key, None, &mut |_, _| {})
        .await
        .expect("the audit log verifies after the outage");
    assert_eq!(report.entries, app.store.audit_size().await.unwrap());
}
