//! Departments authenticate with X.509 client certificates on tresor's own
//! TLS listener, or through the forwarded header of an allow-listed proxy on
//! the plain one. `GET /api/v1/dept/whoami` names the authenticated
//! department.
//!
//! Where a bad certificate is caught: on the TLS listener, rustls' webpki
//! verifier refuses expired, not-yet-valid, serverAuth-only, revoked and
//! foreign-CA certificates during the handshake (no HTTP response at all);
//! behind a trusted proxy the same certificates get a 401 with a stable code.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{StatusCode, Version};
use serde_json::Value;

use crate::support::app::{Backend, TestApp, TestAppOptions};
use crate::support::pki::{CertKind, ClientCert, TestPki};

const WHOAMI: &str = "/api/v1/dept/whoami";
const HEADER: &str = "x-ssl-client-cert";

/// The status and the stable error code of a refusal.
async fn refusal(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON error body");
    (status, body["error"]["code"].as_str().expect("error code").to_owned())
}

async fn department_of(response: reqwest::Response) -> String {
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("JSON body");
    body["department"].as_str().expect("department").to_owned()
}

#[tokio::test]
async fn tls_client_certificate_identifies_the_department_over_h2_and_http1() {
    let app = TestApp::start(Backend::Sqlite).await;
    let tls = app.start_tls().await;
    for (department, cert) in &app.department_certs {
        let client = tls.client(Some(cert));
        // Two requests on one keep-alive client: both authenticated.
        for _ in 0..2 {
            let response = client.get(tls.url(WHOAMI)).send().await.expect("request over TLS");
            assert_eq!(response.version(), Version::HTTP_2, "ALPN picks h2");
            assert_eq!(&department_of(response).await, department);
        }
        let http1 = tls.client_builder(Some(cert)).http1_only().build().expect("client");
        for _ in 0..2 {
            let response = http1.get(tls.url(WHOAMI)).send().await.expect("request over TLS");
            assert_eq!(response.version(), Version::HTTP_11);
            assert_eq!(&department_of(response).await, department);
        }
    }
    tls.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn tls_without_certificate_serves_citizens_and_the_department_api_asks_for_one() {
    let app = TestApp::start(Backend::Sqlite).await;
    let tls = app.start_tls().await;
    let anonymous = tls.client(None);
    let page = anonymous.get(tls.url("/")).send().await.expect("start page over TLS");
    assert_eq!(page.status(), StatusCode::OK);
    let response = anonymous.get(tls.url(WHOAMI)).send().await.expect("request over TLS");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "certificate_required".to_owned()));
    tls.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn tls_handshake_refuses_bad_certificates_and_the_listener_keeps_serving() {
    let app = TestApp::start(Backend::Sqlite).await;
    let tls = app.start_tls().await;
    let foreign = TestPki::new("Test Department CA");
    let bad = [
        ("expired", app.pki.issue("Wohngeldstelle", CertKind::Expired)),
        ("not yet valid", app.pki.issue("Wohngeldstelle", CertKind::NotYetValid)),
        ("serverAuth only", app.pki.issue("Wohngeldstelle", CertKind::ServerAuthOnly)),
        ("another CA of the same name", foreign.issue("Wohngeldstelle", CertKind::Valid)),
    ];
    for (what, cert) in &bad {
        for client in [tls.client(Some(cert)), tls.client_builder(Some(cert)).http1_only().build().expect("client")] {
            let result = client.get(tls.url(WHOAMI)).send().await;
            assert!(result.is_err(), "{what}: the handshake must fail, got {result:?}");
        }
    }
    // Failed handshakes end only their own connection.
    let good = tls.client(Some(app.department_cert("kita_amt")));
    assert_eq!(department_of(good.get(tls.url(WHOAMI)).send().await.expect("request")).await, "kita_amt");
    tls.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn tls_chain_wins_over_a_forwarded_header_even_from_a_trusted_proxy_address() {
    // The default test app trusts 127.0.0.1 as a proxy, and the TLS client
    // connects from there: the handshake's certificate still decides.
    let app = TestApp::start(Backend::Sqlite).await;
    let tls = app.start_tls().await;
    let client = tls.client(Some(app.department_cert("wohngeldstelle")));
    for header in [app.department_cert("kita_amt").forwarded_header(), "garbage".to_owned()] {
        let response = client.get(tls.url(WHOAMI)).header(HEADER, header).send().await.expect("request");
        assert_eq!(department_of(response).await, "wohngeldstelle");
    }
    // Without a chain of its own, a connection from the trusted proxy
    // address (a proxy that re-encrypts to tresor) has its header believed:
    // the TLS listener passes the peer address on like the plain one.
    let proxy = tls.client(None);
    let header = app.department_cert("kita_amt").forwarded_header();
    let response = proxy.get(tls.url(WHOAMI)).header(HEADER, header).send().await.expect("request");
    assert_eq!(department_of(response).await, "kita_amt");
    tls.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn forwarded_header_from_an_address_that_is_not_a_trusted_proxy_is_refused() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.trusted_proxies = vec!["10.0.0.1".to_owned()];
    let app = TestApp::start_with(options).await;
    let kita_header = app.department_cert("kita_amt").forwarded_header();

    let tls = app.start_tls().await;
    let anonymous = tls.client(None);
    let response = anonymous.get(tls.url(WHOAMI)).header(HEADER, &kita_header).send().await.expect("request");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "untrusted_proxy".to_owned()));
    let with_cert = tls.client(Some(app.department_cert("wohngeldstelle")));
    let response = with_cert.get(tls.url(WHOAMI)).header(HEADER, &kita_header).send().await.expect("request");
    assert_eq!(department_of(response).await, "wohngeldstelle", "the TLS chain, not the header");

    let plain = reqwest::Client::new();
    let response = plain.get(app.url(WHOAMI)).header(HEADER, &kita_header).send().await.expect("request");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "untrusted_proxy".to_owned()));
    let response = plain.get(app.url(WHOAMI)).send().await.expect("request");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "certificate_required".to_owned()));
    tls.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn forwarded_header_from_a_trusted_proxy_is_verified_like_a_tls_chain() {
    let app = TestApp::start(Backend::Sqlite).await;
    for (department, _) in &app.department_certs {
        let response = app.as_department(department, reqwest::Method::GET, WHOAMI).send().await.expect("request");
        assert_eq!(&department_of(response).await, department);
    }
    let foreign = TestPki::new("Test Department CA");
    let cases: [(ClientCert, &str); 4] = [
        (app.pki.issue("Wohngeldstelle", CertKind::Expired), "certificate_expired"),
        (app.pki.issue("Wohngeldstelle", CertKind::NotYetValid), "certificate_not_yet_valid"),
        (app.pki.issue("Wohngeldstelle", CertKind::ServerAuthOnly), "certificate_no_client_auth"),
        (foreign.issue("Wohngeldstelle", CertKind::Valid), "certificate_unknown_ca"),
    ];
    for (cert, code) in &cases {
        let response = app.with_certificate(cert, reqwest::Method::GET, WHOAMI).send().await.expect("request");
        assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, (*code).to_owned()));
    }
    // Same subject, new key: the policy copy pins the department's own key.
    let other_key = app.pki.issue("Wohngeldstelle", CertKind::Valid);
    let response = app.with_certificate(&other_key, reqwest::Method::GET, WHOAMI).send().await.expect("request");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "certificate_pin_mismatch".to_owned()));
    let response =
        reqwest::Client::new().get(app.url(WHOAMI)).header(HEADER, "not a certificate").send().await.expect("request");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "certificate_malformed".to_owned()));
    app.stop().await;
}

#[tokio::test]
async fn revoked_certificate_fails_the_handshake_and_is_refused_behind_a_proxy() {
    let pki = Arc::new(TestPki::new("Test Department CA"));
    let revoked = pki.issue("Wohngeldstelle", CertKind::Valid);
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.crl_pems = vec![pki.crl_revoking(&[&revoked])];
    options.pki = Some(pki);
    let app = TestApp::start_with(options).await;
    let tls = app.start_tls().await;

    let result = tls.client(Some(&revoked)).get(tls.url(WHOAMI)).send().await;
    assert!(result.is_err(), "a revoked certificate must fail the handshake, got {result:?}");
    let response = app.with_certificate(&revoked, reqwest::Method::GET, WHOAMI).send().await.expect("request");
    assert_eq!(refusal(response).await, (StatusCode::UNAUTHORIZED, "certificate_revoked".to_owned()));

    // The CRL names one serial; the department's current certificate works.
    let current = tls.client(Some(app.department_cert("wohngeldstelle")));
    assert_eq!(department_of(current.get(tls.url(WHOAMI)).send().await.expect("request")).await, "wohngeldstelle");
    tls.shutdown().await;
    app.stop().await;
}

#[tokio::test]
async fn tls_listener_stops_accepting_on_shutdown_and_closes_idle_keep_alive_connections() {
    let app = TestApp::start(Backend::Sqlite).await;
    let tls = app.start_tls().await;
    let address = tls.base.trim_start_matches("https://").to_owned();
    // Idle keep-alive connections, one h2 and one http/1.1, stay open...
    let cert = app.department_cert("kita_amt");
    let h2 = tls.client(Some(cert));
    let http1 = tls.client_builder(Some(cert)).http1_only().build().expect("client");
    for client in [&h2, &http1] {
        assert_eq!(department_of(client.get(tls.url(WHOAMI)).send().await.expect("request")).await, "kita_amt");
    }
    // ... and do not hold up the shutdown.
    tokio::time::timeout(Duration::from_secs(10), tls.shutdown())
        .await
        .expect("the TLS listener returns after the signal");
    assert!(tokio::net::TcpStream::connect(&address).await.is_err(), "the listener is closed");
    app.stop().await;
}
