//! Rate limits (issue 12, point 3), each against the real app: login starts
//! and the public API per client address (a forwarded address only from a
//! trusted proxy), department calls and refusals per certificate, live
//! sessions per citizen. A limited request is 429 with `Retry-After` and a
//! stable code, and writes nothing.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tresor::config::Config;

use crate::support::app::{Backend, TestApp, TestAppOptions};

/// 429, a `Retry-After` of at least one second, the JSON error shape.
async fn assert_limited(response: reqwest::Response, code: &str) {
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap_or_default().is_empty());
}

fn trust_loopback_proxy(config: &mut Config) {
    config.proxy.trusted = vec!["127.0.0.1".to_owned()];
}

async fn start_login(app: &TestApp, forwarded_for: Option<&str>, accept_html: bool) -> reqwest::Response {
    let client = TestApp::no_redirect_browser();
    let mut request = client.get(app.url("/login"));
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    if accept_html {
        request = request.header("accept", "text/html");
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn login_starts_are_limited_per_client_address() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.limits.login_starts_per_minute = 3;
    let app = TestApp::start_with(options).await;
    for _ in 0..3 {
        assert_eq!(start_login(&app, None, false).await.status(), StatusCode::SEE_OTHER);
    }
    assert_limited(start_login(&app, None, false).await, "rate_limited").await;
    // A browser gets the page, with the same status and Retry-After.
    let page = start_login(&app, None, true).await;
    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    assert!(page.text().await.unwrap().contains("<h1>"));
    // Nothing was written for the limited ones.
    assert_eq!(app.count_rows("pending_logins").await, 3);
    // No proxy is trusted: a forwarded address changes nothing.
    assert_limited(start_login(&app, Some("198.51.100.1"), false).await, "rate_limited").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.limits.login_starts_per_minute = 2;
    options.adjust_config = Some(trust_loopback_proxy);
    let app = TestApp::start_with(options).await;
    for _ in 0..2 {
        assert_eq!(start_login(&app, Some("198.51.100.1"), false).await.status(), StatusCode::SEE_OTHER);
    }
    assert_limited(start_login(&app, Some("198.51.100.1"), false).await, "rate_limited").await;
    // A client cannot escape by prepending addresses: the right-most one
    // (what the proxy appended) counts.
    assert_limited(start_login(&app, Some("203.0.113.50, 198.51.100.1"), false).await, "rate_limited").await;
    // Another client behind the same proxy is not affected.
    assert_eq!(start_login(&app, Some("198.51.100.2"), false).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn the_public_api_is_limited_per_client_address() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.limits.public_calls_per_minute = 2;
    let app = TestApp::start_with(options).await;
    let client = reqwest::Client::new();
    for path in ["/api/v1/keys", "/api/v1/audit/checkpoint"] {
        assert_eq!(client.get(app.url(path)).send().await.unwrap().status(), StatusCode::OK, "{path}");
    }
    for path in ["/api/v1/keys", "/api/v1/audit/consistency?first=1&second=2", "/api/v1/evidence-types"] {
        assert_limited(client.get(app.url(path)).send().await.unwrap(), "rate_limited").await;
    }
    // Pages and a citizen's own API are not part of this limit.
    assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn department_calls_are_limited_per_certificate() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.limits.department_calls_per_second = 2;
    let app = TestApp::start_with(options).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(app.as_department("wohngeldstelle", Method::GET, "/api/v1/dept/whoami").send().await.unwrap());
    }
    let mut limited = 0;
    for response in statuses {
        match response.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                limited += 1;
                assert_limited(response, "rate_limited").await;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert!(limited >= 3, "a burst of 6 at 2/s: at least 3 limited, got {limited}");
    // Another department's certificate has its own budget.
    let other = app.as_department("kita_amt", Method::GET, "/api/v1/dept/whoami").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn refusals_over_budget_stop_a_certificate_and_the_audit_log_stays_small() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.limits.department_refusals_per_minute = 3;
    let app = TestApp::start_with(options).await;
    let unknown_grant = "/api/v1/dept/grants/00000000000000000000000000000000/release";
    for _ in 0..4 {
        let response = app.as_department("wohngeldstelle", Method::GET, unknown_grant).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    let entries_when_blocked = app.count_rows("audit_entries").await;
    // Now blocked, for good calls too, with the refusal code.
    let whoami = app.as_department("wohngeldstelle", Method::GET, "/api/v1/dept/whoami").send().await.unwrap();
    assert_limited(whoami, "too_many_refusals").await;
    for _ in 0..20 {
        let response = app.as_department("wohngeldstelle", Method::GET, unknown_grant).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    assert_eq!(app.count_rows("audit_entries").await, entries_when_blocked, "blocked calls write no audit entries");
    // Others are not affected.
    let other = app.as_department("kita_amt", Method::GET, "/api/v1/dept/whoami").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::OK);
}

async fn sessions_per_citizen_are_capped(backend: Backend) {
    let mut options = TestAppOptions::new(backend);
    options.limits.sessions_per_citizen = 2;
    let app = TestApp::start_with(options).await;
    let browsers: Vec<reqwest::Client> = (0..3).map(|_| TestApp::browser()).collect();
    for browser in &browsers {
        let response = app.login(browser, "anna", None).await;
        assert_eq!(response.status(), StatusCode::OK);
        // Distinct creation times, so "oldest" is well defined.
        app.clock.advance(chrono::Duration::seconds(1));
    }
    assert_eq!(app.count_rows("sessions").await, 2);
    let status = |browser: &reqwest::Client| {
        let request = browser.get(app.url("/api/v1/session"));
        async move { request.send().await.unwrap().status() }
    };
    assert_eq!(status(&browsers[0]).await, StatusCode::UNAUTHORIZED, "the oldest session was ended");
    assert_eq!(status(&browsers[1]).await, StatusCode::OK);
    assert_eq!(status(&browsers[2]).await, StatusCode::OK);
    // Another citizen's sessions are not touched.
    let ben = TestApp::browser();
    assert_eq!(app.login(&ben, "ben", None).await.status(), StatusCode::OK);
    assert_eq!(status(&browsers[2]).await, StatusCode::OK);
    assert_eq!(app.count_rows("sessions").await, 3);
    app.stop().await;
}

on_both_backends!(sessions_per_citizen_are_capped);
