//! Health for load balancers and orchestrators, and the metrics endpoint.
//!
//! `GET /healthz`: the process lives and serves HTTP (200 `ok`, touches
//! nothing else). `GET /readyz`: `crate::health::check` — 200 when ready,
//! else 503 naming the failed checks by stable code; both with a small JSON
//! body and never personal data. Neither is rate-limited (a load balancer
//! polls from few addresses); a check's result is reused for
//! [`READINESS_FRESH`], and concurrent callers share one check, so polling
//! costs the store at most a few primary-key reads per second whoever asks.
//!
//! `GET /metrics` is on a listener of its own (`metrics_listen`), never on
//! the public one: [`metrics_router`], served by `main` (and the tests).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use super::AppState;
use crate::health::Readiness;

/// How long a readiness result is reused.
pub const READINESS_FRESH: Duration = Duration::from_secs(1);

/// The last readiness check and when it ran.
#[derive(Default)]
pub struct ReadinessCache {
    last: tokio::sync::Mutex<Option<(Instant, Arc<Readiness>)>>,
}

impl ReadinessCache {
    /// A result at most [`READINESS_FRESH`] old; one check at a time (the
    /// others wait for it and take its result). Updates the metrics' figures.
    pub async fn get(&self, state: &AppState) -> Arc<Readiness> {
        let mut last = self.last.lock().await;
        if let Some((at, readiness)) = last.as_ref()
            && at.elapsed() < READINESS_FRESH
        {
            return readiness.clone();
        }
        let readiness = Arc::new(crate::health::check(&state.vault, &state.config.health).await);
        state.metrics.readiness(&readiness);
        *last = Some((Instant::now(), readiness.clone()));
        readiness
    }

    /// Forget the last result: the next call checks again.
    pub async fn forget(&self) {
        *self.last.lock().await = None;
    }
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> Response {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], "ok\n").into_response()
}

/// `GET /readyz`: see the module documentation.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let readiness = state.readiness.get(&state).await;
    let checks: serde_json::Map<String, serde_json::Value> =
        readiness.checks().iter().map(|(name, outcome)| ((*name).to_owned(), outcome.code().into())).collect();
    let ready = readiness.is_ready();
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "failed": readiness.problems(),
        "checks": checks,
        "unsigned_entries": readiness.unsigned_entries,
        "checkpoint_wait_seconds": readiness.checkpoint_wait.map(|wait| wait.as_secs()),
        "witness_wait_seconds": readiness.witness_wait.map(|wait| wait.as_secs()),
    });
    if ready {
        (StatusCode::OK, axum::Json(body)).into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, HeaderValue::from_static("5"))], axum::Json(body))
            .into_response()
    }
}

/// The metrics listener's router: `GET /metrics` only.
pub fn metrics_router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

/// Serve [`metrics_router`] on `listener` until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, metrics_router(state)).with_graceful_shutdown(shutdown).await
}

/// `GET /metrics`: every metric in the OpenMetrics text format (the
/// readiness figures at most [`READINESS_FRESH`] old).
async fn metrics(State(state): State<AppState>) -> Response {
    state.readiness.get(&state).await;
    match state.metrics.encode() {
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding the metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
