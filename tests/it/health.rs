//! `/healthz` and `/readyz` as a load balancer sees them: liveness without
//! the store, readiness with a stable code for each failed check, never
//! rate-limited away. Outages are real where they can be (PostgreSQL behind
//! a stopped `TcpGate`, a stopped audit writer, a clock past the allowed
//! wait, a witness that does not answer).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};

use crate::support::app::{Backend, TestApp, TestAppOptions};

on_both_backends!(
    healthz_and_readyz_answer_without_personal_data_and_are_never_rate_limited,
    readyz_is_503_store_unreachable_while_the_store_does_not_answer,
    readyz_names_entries_that_waited_too_long_for_a_checkpoint,
    readyz_names_a_checkpoint_that_waited_too_long_for_its_witnesses,
    readyz_is_503_when_the_audit_writer_stopped,
);

/// `/readyz` now (the remembered result forgotten first): (status, body).
async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    app.state.readiness.forget().await;
    let response = reqwest::get(app.url("/readyz")).await.unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    (status, body)
}

/// An audit entry of the system (what start-up records).
async fn record_system_entry(app: &TestApp) {
    let event = AuditEvent {
        actor: Actor::System,
        action: Action::PolicyLoad,
        targets: Targets::default(),
        outcome: Outcome::Success,
        reason: Some("health_test".to_owned()),
    };
    app.state.vault.audit().record(event).await.unwrap();
}

async fn healthz_and_readyz_answer_without_personal_data_and_are_never_rate_limited(backend: Backend) {
    let mut options = TestAppOptions::new(backend);
    options.limits.public_calls_per_minute = 1;
    options.limits.login_starts_per_minute = 1;
    let app = TestApp::start_with(options).await;

    let response = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(response.text().await.unwrap(), "ok\n");

    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["failed"], serde_json::json!([]));
    for check in ["store", "keys", "audit_writer", "checkpoint"] {
        assert_eq!(body["checks"][check], "ok", "{check}: {body}");
    }
    assert_eq!(body["checks"]["witnessed_checkpoint"], "not_configured");
    assert_eq!(body["unsigned_entries"], 0);

    // A load balancer polls often, from few addresses: far more often than
    // the public API's limit (1 a minute here) allows.
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..30 {
        for path in ["/healthz", "/readyz"] {
            let response = reqwest::get(app.url(path)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path} is not rate-limited");
            ids.insert(response.headers()["x-request-id"].to_str().unwrap().to_owned());
        }
    }
    assert_eq!(ids.len(), 60, "every response carries a request id of its own");
    // The limit is real: the public API refuses the second call of the minute.
    let first = reqwest::get(app.url("/api/v1/evidence-types")).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = reqwest::get(app.url("/api/v1/evidence-types")).await.unwrap();
    assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

async fn readyz_is_503_store_unreachable_while_the_store_does_not_answer(backend: Backend) {
    let mut options = TestAppOptions::new(backend);
    options.postgres_gate = backend == Backend::Postgres;
    options.limits.store_timeout_seconds = 1;
    let app = TestApp::start_with(options).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);

    // PostgreSQL: the server is gone (a real outage: the port closes).
    // SQLite (a file: nothing to take away while it is open): the store's
    // read of the log's size fails as an unreachable database's would.
    match &app.postgres_gate {
        Some(gate) => gate.stop().await,
        None => app.audit_fault.size_unreadable.store(true, Ordering::SeqCst),
    }
    let started = Instant::now();
    let (status, body) = readyz(&app).await;
    assert!(started.elapsed() < Duration::from_secs(4), "answered within the store's bounds");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "not_ready");
    let failed = body["failed"].as_array().unwrap();
    assert!(
        failed == &vec![Value::from("store_unreachable")] || failed == &vec![Value::from("store_timeout")],
        "only the store is named: {body}"
    );
    assert_eq!(body["checks"]["keys"], "ok");
    assert_eq!(body["checks"]["audit_writer"], "ok");
    assert_eq!(body["checks"]["checkpoint"], "unknown", "not checked without the store: {body}");
    // Liveness does not depend on the store.
    let live = reqwest::get(app.url("/healthz")).await.unwrap();
    assert_eq!(live.status(), StatusCode::OK);

    match &app.postgres_gate {
        Some(gate) => gate.start().await,
        None => app.audit_fault.size_unreadable.store(false, Ordering::SeqCst),
    }
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "ready again without a restart: {body}");
    app.stop().await;
}

async fn readyz_names_entries_that_waited_too_long_for_a_checkpoint(backend: Backend) {
    let app = TestApp::start(backend).await;
    let max = app.state.config.health.max_checkpoint_age_seconds as i64;
    record_system_entry(&app).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "a fresh entry may wait: {body}");
    assert_eq!(body["unsigned_entries"], 1);

    app.clock.advance(chrono::Duration::seconds(max + 1));
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failed"], serde_json::json!(["checkpoint_too_old"]));
    assert_eq!(body["checkpoint_wait_seconds"], max + 1);

    // A checkpoint covers it: ready again. A log that does not grow needs
    // no new checkpoint, however old the last one is.
    app.state.vault.audit().checkpoint().await.unwrap();
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    app.clock.advance(chrono::Duration::seconds(10 * max));
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["unsigned_entries"], 0);
    app.stop().await;
}

async fn readyz_names_a_checkpoint_that_waited_too_long_for_its_witnesses(backend: Backend) {
    // A witness that never answers (nothing listens on its port).
    let directory = tempfile::tempdir().unwrap();
    let key =
        tresor::witness::WitnessKey::write_new("witness.test/down", &directory.path().join("witness.key")).unwrap();
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut options = TestAppOptions::new(backend);
    options.witnesses = vec![tresor::config::WitnessConfig {
        url: format!("http://{closed_port}"),
        key: key.cosigner().verifier_key(),
    }];
    options.witness_quorum = Some(1);
    let app = TestApp::start_with(options).await;
    let max = app.state.config.health.max_witnessed_checkpoint_age_seconds as i64;

    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["witnessed_checkpoint"], "ok");

    record_system_entry(&app).await;
    app.state.vault.audit().checkpoint().await.unwrap();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "a new checkpoint may wait for its witnesses a while: {body}");

    app.clock.advance(chrono::Duration::seconds(max + 1));
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failed"], serde_json::json!(["witnessed_checkpoint_too_old"]));
    assert_eq!(body["checks"]["checkpoint"], "ok", "the checkpoint itself is signed: {body}");
    assert_eq!(body["witness_wait_seconds"], max + 1);
    app.stop().await;
}

async fn readyz_is_503_when_the_audit_writer_stopped(backend: Backend) {
    let app = TestApp::start(backend).await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);
    app.state.vault.audit().shutdown().await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["failed"], serde_json::json!(["audit_writer_stopped"]));
    assert_eq!(body["checks"]["store"], "ok");
    app.stop().await;
}
