//! The edge: the one layer every request passes, outermost (over every
//! route, the fallback and the nested dev identity providers; see
//! `server::build`). It is a hand-written tower layer rather than an axum
//! `from_fn` middleware: that costs a service clone and two boxes per
//! request, and four separate layers cost several per cent of a bare call.
//!
//! For each request, in order:
//! - a request id ([`RequestIds`]): generated, or a sane `X-Request-Id`
//!   from a `[proxy] trusted` address; every log line of the request
//!   carries it (a `request` span with the id, the method and the route
//!   pattern, never the raw path), and the response echoes it;
//! - department calls get a [`CallerSlot`] where `DepartmentCaller` leaves
//!   the certificate, so a refusal counts against its budget afterwards;
//! - the whole-request timeout (503 `request_timeout`), except where
//!   [`has_own_time_bounds`];
//! - the error contract (`rejection`);
//! - the security headers ([`SecurityHeaders::apply`]);
//! - with metrics on, the request's route pattern (axum's `MatchedPath`:
//!   this layer wraps each route, so routing has happened), method, status
//!   and latency up to the response head, and a release's outcome.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use super::AppState;
use super::error::{ApiError, ErrorCode, Shown};
use super::listener::Served;
use super::rate_limit::CallerSlot;
use super::rejection::{self, Audience};
use crate::config::Config;
use crate::metrics::{UNMATCHED_ROUTE, method_label};

/// The request id header, read from trusted proxies and echoed.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The route whose outcomes the release metric counts.
const RELEASE_ROUTE: &str = "/api/v1/dept/grants/{id}/release";

/// `router` under the edge layer; `server::build` applies it last.
pub fn with_edge(router: Router, state: &AppState) -> Router {
    router.layer(EdgeLayer(state.clone()))
}

/// Paths that keep their own time bounds instead of the request timeout:
/// uploads (body idle and whole-upload timeouts) and the DPO's verification
/// and exports (a verification of the whole log and exports of long ranges
/// may take longer than a request may; only staff reach them, and their
/// client waits for them).
fn has_own_time_bounds(method: &Method, path: &str) -> bool {
    (method == Method::POST && matches!(path, "/api/v1/evidence" | "/evidence"))
        || matches!(path, "/dpo/verify" | "/dpo/export.csv" | "/dpo/export.jsonl")
}

#[derive(Clone)]
struct EdgeLayer(AppState);

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;
    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner, app: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    app: AppState,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> EdgeFuture<S::Future> {
        let route = request.extensions().get::<MatchedPath>().map(MatchedPath::as_str);
        let metered = self.app.metrics.enabled().then(|| {
            let route = self.app.metrics.route_label(route);
            Metered { route, method: method_label(request.method()), started: Instant::now() }
        });
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let request_id = self.app.request_ids.for_request(&request, peer, &self.app.rate_limits);
        let span = tracing::info_span!(
            "request",
            request_id = request_id.to_str().unwrap_or_default(),
            method = %request.method(),
            route = route.unwrap_or(UNMATCHED_ROUTE),
        );
        let served = request.extensions().get::<Served>();
        let over_https = self.app.security_headers.always_https || served.is_some_and(|served| served.over_tls);
        let watched = served.is_some_and(|served| served.watched);
        let path = request.uri().path();
        let deadline = if has_own_time_bounds(request.method(), path) {
            Deadline::None
        } else {
            let limit = Duration::from_secs(self.app.config.limits.request_timeout_seconds);
            if watched {
                // The listener's watchdog wakes the request while it is in
                // flight: a deadline checked when polled needs no timer.
                Deadline::Polled(Instant::now() + limit)
            } else {
                Deadline::Timer(Box::pin(tokio::time::sleep(limit)))
            }
        };
        let caller = path.starts_with("/api/v1/dept/").then(|| {
            let slot = CallerSlot::default();
            request.extensions_mut().insert(slot.clone());
            slot
        });
        let audience = Some(rejection::audience(&request));
        let inner = span.in_scope(|| self.inner.call(request));
        EdgeFuture {
            inner: Some(inner),
            deadline,
            app: self.app.clone(),
            caller,
            audience,
            over_https,
            enforcing: None,
            span,
            request_id,
            metered,
        }
    }
}

enum Deadline {
    None,
    /// Checked whenever the request is polled.
    Polled(Instant),
    Timer(Pin<Box<tokio::time::Sleep>>),
}

impl Deadline {
    fn passed(&mut self, cx: &mut Context<'_>) -> bool {
        match self {
            Deadline::None => false,
            Deadline::Polled(at) => Instant::now() >= *at,
            Deadline::Timer(sleep) => sleep.as_mut().poll(cx).is_ready(),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct EdgeFuture<F> {
        #[pin]
        inner: Option<F>,
        deadline: Deadline,
        app: AppState,
        caller: Option<CallerSlot>,
        audience: Option<Audience>,
        over_https: bool,
        // A refusal in the error contract's shape (the rare case, boxed).
        enforcing: Option<Pin<Box<dyn Future<Output = Response> + Send>>>,
        span: tracing::Span,
        request_id: HeaderValue,
        metered: Option<Metered>,
    }
}

/// What the metrics need of a request (with metrics on).
struct Metered {
    route: &'static str,
    method: &'static str,
    started: Instant,
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        if let Some(enforcing) = this.enforcing.as_mut() {
            let response = ready!(enforcing.as_mut().poll(cx));
            return Poll::Ready(Ok(finish(this.app, *this.over_https, this.request_id, this.metered.take(), response)));
        }
        let response = match this.inner.as_mut().as_pin_mut().map(|inner| inner.poll(cx)) {
            Some(Poll::Ready(Ok(response))) => response,
            Some(Poll::Pending) if !this.deadline.passed(cx) => return Poll::Pending,
            // Timed out (or polled again after the end, which a server does
            // not do): the handler is dropped now, so a transaction in it
            // rolls back; an audit entry already appended stays, so nothing
            // happens unrecorded.
            Some(Poll::Pending) | None => {
                this.inner.set(None);
                timed_out()
            }
        };
        this.inner.set(None);
        let status = response.status();
        if let Some(slot) = this.caller.take() {
            this.app.rate_limits.after_department_call(&slot, status);
        }
        if !(status.is_client_error() || status.is_server_error()) {
            return Poll::Ready(Ok(finish(this.app, *this.over_https, this.request_id, this.metered.take(), response)));
        }
        let (app, audience) = (this.app.clone(), this.audience.take());
        let mut enforcing: Pin<Box<dyn Future<Output = Response> + Send>> = Box::pin(async move {
            match audience {
                Some(audience) => rejection::enforce(&app, audience, response).await,
                None => response,
            }
        });
        match enforcing.as_mut().poll(cx) {
            Poll::Ready(response) => {
                Poll::Ready(Ok(finish(this.app, *this.over_https, this.request_id, this.metered.take(), response)))
            }
            Poll::Pending => {
                *this.enforcing = Some(enforcing);
                Poll::Pending
            }
        }
    }
}

/// The last touches of every response: the security headers, the request
/// id, and the metrics.
fn finish(
    app: &AppState,
    over_https: bool,
    request_id: &HeaderValue,
    metered: Option<Metered>,
    response: Response,
) -> Response {
    let mut response = app.security_headers.apply(over_https, response);
    if let Some(metered) = metered {
        let status = response.status();
        app.metrics.request(metered.route, metered.method, status.as_u16(), metered.started.elapsed());
        if metered.route == RELEASE_ROUTE {
            let outcome = if status.is_success() {
                "released"
            } else {
                response.extensions().get::<Shown>().map_or("other_error", |shown| shown.0.code.as_str())
            };
            app.metrics.release(outcome);
        }
    }
    response.headers_mut().insert(X_REQUEST_ID.clone(), request_id.clone());
    response
}

/// Request ids: a random prefix per process and a counter, or a sane id a
/// trusted proxy sent (so one id follows a request through nginx and
/// tresor). An id from anyone else is ignored: it could be made to look
/// like another request's.
pub struct RequestIds {
    prefix: u64,
    next: AtomicU64,
}

/// The longest incoming id that is taken as it is.
const MAX_INCOMING_ID: usize = 64;

impl RequestIds {
    pub fn new(rng: &dyn ring::rand::SecureRandom, _config: &Config) -> Self {
        let mut prefix = [0u8; 8];
        // A failed RNG leaves a zero prefix: ids stay unique in the process.
        let _ = rng.fill(&mut prefix);
        Self { prefix: u64::from_be_bytes(prefix), next: AtomicU64::new(0) }
    }

    /// The id of this request (see the type's documentation).
    pub fn for_request(
        &self,
        request: &Request,
        peer: Option<SocketAddr>,
        rate_limits: &super::rate_limit::RateLimits,
    ) -> HeaderValue {
        if let Some(incoming) = request.headers().get(&X_REQUEST_ID)
            && is_sane_request_id(incoming.as_bytes())
            && rate_limits.is_trusted_proxy(peer)
        {
            return incoming.clone();
        }
        let number = self.next.fetch_add(1, Ordering::Relaxed);
        let mut text = [0u8; 33];
        hex_into(&mut text[..16], self.prefix);
        text[16] = b'-';
        hex_into(&mut text[17..], number);
        // Hex digits and a dash: always a valid header value.
        HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
    }
}

/// 1 to 64 characters of letters, digits, `-`, `_`, `.`, `:`.
fn is_sane_request_id(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INCOMING_ID
        && id.iter().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':'))
}

fn hex_into(out: &mut [u8], value: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (index, byte) in out.iter_mut().enumerate() {
        let shift = 4 * (15 - index);
        *byte = DIGITS[((value >> shift) & 0xf) as usize];
    }
}

/// The answer to a request that took longer than the request timeout.
fn timed_out() -> Response {
    tracing::warn!("request timed out");
    ApiError::new(ErrorCode::RequestTimeout).with_retry_after(5).into_response()
}

/// The configuration's part of the security headers, worked out once.
pub struct SecurityHeaders {
    /// `max-age=N`; None when `hsts_max_age_seconds` is 0.
    hsts: Option<HeaderValue>,
    /// `public_url` is https: tresor is behind a TLS proxy, so every
    /// response reaches the browser over HTTPS.
    always_https: bool,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> Self {
        // A static value where it is the default: cloning a shared one per
        // response makes the cores contend for its reference count.
        let hsts = match config.hsts_max_age_seconds {
            0 => None,
            31_536_000 => Some(HeaderValue::from_static("max-age=31536000")),
            seconds => HeaderValue::from_str(&format!("max-age={seconds}")).ok(),
        };
        let always_https = config
            .public_url
            .as_deref()
            .and_then(|url| url::Url::parse(url).ok())
            .is_some_and(|url| url.scheme() == "https");
        Self { hsts, always_https }
    }

    /// Headers every response carries: no caching of personal data, no
    /// framing, no sniffing, no referrer leaks, and a CSP that allows no
    /// script at all; and `Strict-Transport-Security` on every response
    /// served over HTTPS (by tresor's TLS listener, or by the TLS proxy an
    /// https `public_url` names), never on plain HTTP otherwise (browsers
    /// ignore it there, and a dev setup on http://localhost must not pin
    /// HTTPS).
    fn apply(&self, over_https: bool, mut response: Response) -> Response {
        let headers = response.headers_mut();
        if over_https && let Some(hsts) = &self.hsts {
            headers.insert(header::STRICT_TRANSPORT_SECURITY, hsts.clone());
        }
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        response
    }
}
