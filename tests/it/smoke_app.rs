//! The assembled app answers and logs a citizen in through the real provider.

use crate::support::app::{Backend, TestApp};

#[tokio::test]
async fn login_through_the_real_provider_reaches_my_evidence() {
    let app = TestApp::start(Backend::Sqlite).await;
    let browser = TestApp::browser();
    let response = app.login(&browser, "anna", Some("high")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().path(), "/evidence");
    let session: serde_json::Value =
        browser.get(app.url("/api/v1/session")).send().await.expect("session").json().await.expect("session json");
    assert_eq!(session["login_level"], "high");
    app.stop().await;
}
