//! Prometheus metrics: off by default and never on the public listener;
//! with `metrics_listen`, on a listener of their own, with requests by
//! route pattern (never an id), releases by outcome, refused department
//! certificates by reason, audit commits, the pool and the witnesses.

use reqwest::{Method, StatusCode};

use crate::support::app::{Backend, TestApp, TestAppOptions};

on_both_backends!(
    metrics_are_off_by_default_and_never_on_the_public_listener,
    the_metrics_listener_counts_requests_by_route_releases_refusals_and_commits,
);

const TRAFFIC: &str = "strassenverkehrsbehoerde";

fn with_metrics(config: &mut tresor::config::Config) {
    config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
}

/// The metrics listener for `app`, as `tresor serve` runs it: its base URL.
async fn serve_metrics(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = app.state.clone();
    tokio::spawn(async move {
        tresor::http::health::serve_metrics(listener, state, std::future::pending()).await.unwrap();
    });
    base
}

async fn scrape(base: &str) -> String {
    let response = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "a complete exposition");
    text
}

/// The value of the sample `name{labels}` (labels as encoded, in order).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.split(' ').next()?.parse().ok())
}

async fn metrics_are_off_by_default_and_never_on_the_public_listener(backend: Backend) {
    let app = TestApp::start(backend).await;
    assert!(app.state.config.metrics_listen.is_none(), "off unless configured");
    assert!(!app.state.metrics.enabled());
    let response = reqwest::get(app.url("/metrics")).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "no metrics on the public listener");
    // Nothing is recorded while off.
    reqwest::get(app.url("/healthz")).await.unwrap();
    let text = app.state.metrics.encode().unwrap();
    assert!(!text.contains("tresor_http_request_duration_seconds_count"), "{text}");

    // Configured: the public listener still has none.
    let mut options = TestAppOptions::new(backend);
    options.adjust_config = Some(with_metrics);
    let with = TestApp::start_with(options).await;
    assert!(with.state.metrics.enabled());
    assert_eq!(reqwest::get(with.url("/metrics")).await.unwrap().status(), StatusCode::NOT_FOUND);
    with.stop().await;
    app.stop().await;
}

async fn the_metrics_listener_counts_requests_by_route_releases_refusals_and_commits(backend: Backend) {
    // A witness nobody runs: its problem shows in the metrics (quorum 0:
    // proofs and releases do not wait for it).
    let directory = tempfile::tempdir().unwrap();
    let key =
        tresor::witness::WitnessKey::write_new("witness.test/down", &directory.path().join("witness.key")).unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut options = TestAppOptions::new(backend);
    options.adjust_config = Some(with_metrics);
    options.witnesses = vec![tresor::config::WitnessConfig {
        url: format!("http://{closed_port}"),
        key: key.cosigner().verifier_key(),
    }];
    options.witness_quorum = Some(0);
    let app = TestApp::start_with(options).await;
    let metrics = serve_metrics(&app).await;

    let (_, grant) = crate::dept_api::parking_grant(&app, "metrics-citizen", 1).await;
    let release =
        |grant: String| app.as_department(TRAFFIC, Method::GET, &format!("/api/v1/dept/grants/{grant}/release")).send();
    assert_eq!(release(grant.id.to_string()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(release(grant.id.to_string()).await.unwrap().status(), StatusCode::FORBIDDEN, "used up");
    // No certificate at all, and an unknown path with an id-like segment.
    let refused = reqwest::Client::new().get(app.url("/api/v1/dept/whoami")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let unknown = reqwest::get(app.url("/no/such/page/5f2b9c0e77aa")).await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.state.vault.audit().checkpoint().await.unwrap();

    let text = scrape(&metrics).await;
    let release_route = r#"route="/api/v1/dept/grants/{id}/release",method="GET""#;
    assert_eq!(
        sample(&text, &format!("tresor_http_request_duration_seconds_count{{{release_route},status=\"200\"}}")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &format!("tresor_http_request_duration_seconds_count{{{release_route},status=\"403\"}}")),
        Some(1.0)
    );
    assert!(
        text.contains(&format!(
            "tresor_http_request_duration_seconds_bucket{{le=\"+Inf\",{release_route},status=\"200\"}} 1"
        )),
        "latency buckets per route: {text}"
    );
    assert_eq!(
        sample(&text, r#"tresor_http_request_duration_seconds_count{route="unmatched",method="GET",status="404"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&text, r#"tresor_releases_total{outcome="released"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"tresor_releases_total{outcome="grant_exhausted"}"#), Some(1.0));
    assert_eq!(
        sample(&text, r#"tresor_department_certificates_refused_total{reason="certificate_required"}"#),
        Some(1.0)
    );
    // Ids never become labels: not the grant's, not the unknown path's.
    assert!(!text.contains(grant.id.as_str()), "a grant id in the metrics");
    assert!(!text.contains("5f2b9c0e77aa"), "a raw path in the metrics");

    let entries = app.store.audit_size().await.unwrap() as f64;
    assert_eq!(sample(&text, "tresor_audit_entries_committed_total"), Some(entries), "{text}");
    let commits = sample(&text, "tresor_audit_commits_total").unwrap();
    assert!(commits >= 1.0);
    assert_eq!(sample(&text, "tresor_audit_commit_batch_entries_count"), Some(commits));
    assert_eq!(sample(&text, "tresor_audit_commit_batch_entries_sum"), Some(entries));
    assert_eq!(sample(&text, "tresor_audit_commit_duration_seconds_count"), Some(commits));
    assert_eq!(sample(&text, "tresor_audit_writer_alive"), Some(1.0));
    assert_eq!(sample(&text, "tresor_audit_unsigned_entries"), Some(0.0), "the checkpoint covers every entry");
    assert_eq!(sample(&text, "tresor_ready"), Some(1.0));
    let open = sample(&text, "tresor_db_pool_connections").expect("pool size");
    let idle = sample(&text, "tresor_db_pool_idle_connections").expect("idle connections");
    assert!(open >= 1.0 && idle <= open, "{open} open, {idle} idle");
    assert_eq!(
        sample(&text, r#"tresor_witness_problem{witness="witness.test/down",problem="unreachable"}"#),
        Some(1.0)
    );
    assert_eq!(sample(&text, r#"tresor_witness_security_refusals_total{witness="witness.test/down"}"#), Some(0.0));
    app.stop().await;
}
