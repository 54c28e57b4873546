//! `Strict-Transport-Security: max-age=<hsts_max_age_seconds>` on every
//! response served over HTTPS: by tresor's own TLS listener, or by the TLS
//! proxy an https `public_url` names (then on every response). Never over
//! plain HTTP with an http `public_url`, and never when the max-age is 0.
//! The other security headers are on every response, refusals included.

use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, STRICT_TRANSPORT_SECURITY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
use tresor::config::Config;

use crate::support::app::{Backend, TestApp, TestAppOptions};

/// The shipped default: one year.
const DEFAULT_HSTS: &str = "max-age=31536000";

/// A page, a JSON call, unknown paths (page and API), a 405 (converted
/// from axum's empty answer) and a department refusal.
const PATHS: [&str; 6] =
    ["/", "/api/v1/evidence-types", "/nothing-here", "/api/v1/nothing-here", "/logout", "/api/v1/dept/whoami"];

async fn hsts_of(client: &reqwest::Client, url: &str) -> Option<String> {
    let response = client.get(url).send().await.unwrap_or_else(|error| panic!("GET {url}: {error}"));
    assert!(response.headers().contains_key(CONTENT_SECURITY_POLICY), "CSP on {url}");
    assert_eq!(response.headers().get(X_FRAME_OPTIONS).unwrap(), "DENY", "{url}");
    assert_eq!(response.headers().get(X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff", "{url}");
    response.headers().get(STRICT_TRANSPORT_SECURITY).map(|value| value.to_str().unwrap().to_owned())
}

fn hsts_off(config: &mut Config) {
    config.hsts_max_age_seconds = 0;
}

#[tokio::test]
async fn hsts_over_the_tls_listener_and_not_over_plain_http() {
    // The test app's public_url is its plain http://127.0.0.1:PORT.
    let app = TestApp::start(Backend::Sqlite).await;
    let tls = app.start_tls().await;
    let over_tls = tls.client(None);
    let department = tls.client(Some(app.department_cert("wohngeldstelle")));
    let plain = reqwest::Client::new();
    for path in PATHS {
        assert_eq!(hsts_of(&over_tls, &tls.url(path)).await.as_deref(), Some(DEFAULT_HSTS), "TLS {path}");
        assert_eq!(hsts_of(&plain, &app.url(path)).await, None, "plain {path}");
    }
    let whoami = department.get(tls.url("/api/v1/dept/whoami")).send().await.unwrap();
    assert_eq!(whoami.status(), StatusCode::OK);
    assert_eq!(whoami.headers().get(STRICT_TRANSPORT_SECURITY).unwrap(), DEFAULT_HSTS);
    tls.shutdown().await;
    app.stop().await;

    // max-age 0 turns it off, also over TLS.
    let app =
        TestApp::start_with(TestAppOptions { adjust_config: Some(hsts_off), ..TestAppOptions::new(Backend::Sqlite) })
            .await;
    let tls = app.start_tls().await;
    let over_tls = tls.client(None);
    for path in PATHS {
        assert_eq!(hsts_of(&over_tls, &tls.url(path)).await, None, "TLS with max-age 0 {path}");
    }
    tls.shutdown().await;
    app.stop().await;
}

fn behind_a_tls_proxy(config: &mut Config) {
    config.public_url = Some("https://tresor.example".to_owned());
    config.hsts_max_age_seconds = 600;
}

fn behind_a_tls_proxy_without_hsts(config: &mut Config) {
    config.public_url = Some("https://tresor.example".to_owned());
    config.hsts_max_age_seconds = 0;
}

#[tokio::test]
async fn hsts_on_every_response_with_an_https_public_url() {
    let app = TestApp::start_with(TestAppOptions {
        adjust_config: Some(behind_a_tls_proxy),
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;
    // Plain HTTP from the proxy to tresor: the browser still sees HTTPS.
    let plain = reqwest::Client::new();
    for path in PATHS {
        assert_eq!(hsts_of(&plain, &app.url(path)).await.as_deref(), Some("max-age=600"), "{path}");
    }
    app.stop().await;

    let app = TestApp::start_with(TestAppOptions {
        adjust_config: Some(behind_a_tls_proxy_without_hsts),
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;
    for path in PATHS {
        assert_eq!(hsts_of(&plain, &app.url(path)).await, None, "max-age 0 behind a proxy {path}");
    }
    app.stop().await;
}
