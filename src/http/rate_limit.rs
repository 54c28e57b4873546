//! Rate limits (governor's GCRA, one bucket per key): login starts and the
//! unauthenticated public API per client address, department calls and
//! refused department calls per client certificate. A limited request is
//! answered 429 with `Retry-After` and a stable code before it reaches the
//! domain, so it writes nothing (no session row, no audit entry).
//!
//! The client address is the TCP peer, or — only when the peer is one of
//! `[proxy] trusted` — the right-most address in `client_address_header`
//! that is not itself a trusted proxy (what nginx's
//! `$proxy_add_x_forwarded_for` appends). IPv6 addresses count by their /64.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use super::AppState;
use super::error::{ApiError, ErrorCode};
use super::listener::address_key;
use crate::config::{Config, parse_ip_net};

/// A department certificate chain, by its SHA-256 (see `dept_auth`).
pub type CertificateKey = [u8; 32];

/// The limiters keyed by certificate: their keys are SHA-256 digests of
/// chains that passed verification (not chosen by an anonymous caller), so a
/// cheap mix of their bytes spreads them as well as SipHash would.
type CertificateLimiter = governor::DefaultKeyedRateLimiter<
    CertificateKey,
    governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>,
    DigestHash,
>;

/// Hashes keys that are digests already (see [`CertificateLimiter`]).
#[derive(Clone, Copy, Default)]
pub struct DigestHash;

impl std::hash::BuildHasher for DigestHash {
    type Hasher = DigestHasher;
    fn build_hasher(&self) -> DigestHasher {
        DigestHasher(0)
    }
}

pub struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(23) ^ u64::from_le_bytes(word)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
}

pub struct RateLimits {
    login_starts: DefaultKeyedRateLimiter<IpAddr>,
    public_calls: DefaultKeyedRateLimiter<IpAddr>,
    /// Accessibility feedback messages stored, per client address and hour.
    feedback_messages: DefaultKeyedRateLimiter<IpAddr>,
    department_calls: CertificateLimiter,
    department_refusals: CertificateLimiter,
    /// Certificates over their refusal budget, until when.
    refusals_blocked: Mutex<HashMap<CertificateKey, Instant>>,
    /// Whether `refusals_blocked` may hold anything: the common case (no
    /// certificate blocked) takes no lock.
    any_blocked: AtomicBool,
    proxies: Vec<IpNet>,
    client_address_header: HeaderName,
}

/// Why a request was limited and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub code: ErrorCode,
    pub retry_after: Duration,
}

impl From<Limited> for ApiError {
    fn from(limited: Limited) -> Self {
        // Round up: a client that waits the whole seconds always gets in.
        let seconds = limited.retry_after.as_secs() + u64::from(limited.retry_after.subsec_nanos() > 0);
        let seconds = u32::try_from(seconds.max(1)).unwrap_or(u32::MAX);
        ApiError::new(limited.code).with_retry_after(seconds)
    }
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

fn quota_per_minute(count: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn from_config(config: &Config) -> Self {
        let limits = &config.limits;
        let per_second = NonZeroU32::new(limits.department_calls_per_second).unwrap_or(NonZeroU32::MIN);
        Self {
            login_starts: RateLimiter::keyed(quota_per_minute(limits.login_starts_per_minute)),
            public_calls: RateLimiter::keyed(quota_per_minute(limits.public_calls_per_minute)),
            feedback_messages: RateLimiter::keyed(Quota::per_hour(
                NonZeroU32::new(limits.feedback_messages_per_hour).unwrap_or(NonZeroU32::MIN),
            )),
            department_calls: RateLimiter::dashmap_with_hasher(Quota::per_second(per_second), DigestHash),
            department_refusals: RateLimiter::dashmap_with_hasher(
                quota_per_minute(limits.department_refusals_per_minute),
                DigestHash,
            ),
            refusals_blocked: Mutex::new(HashMap::new()),
            any_blocked: AtomicBool::new(false),
            proxies: config.proxy.trusted.iter().filter_map(|text| parse_ip_net(text)).collect(),
            // Checked at load (`Config::check`); the default is valid.
            client_address_header: HeaderName::from_bytes(config.proxy.client_address_header.as_bytes())
                .unwrap_or(HeaderName::from_static("x-forwarded-for")),
        }
    }

    /// The address a request counts under (see the module docs).
    pub fn client_address(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer else {
            // No connection information (an in-process call): one shared key.
            return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        };
        let peer = peer.ip().to_canonical();
        if !self.is_proxy(peer) {
            return address_key(peer);
        }
        // Several headers count as one comma-separated list, in order.
        let forwarded = headers
            .get_all(&self.client_address_header)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        for entry in forwarded.iter().rev() {
            let Some(address) = parse_forwarded_address(entry) else {
                // Garbage where an address should be: stop trusting the
                // list here and count the request under the proxy.
                break;
            };
            if !self.is_proxy(address) {
                return address_key(address);
            }
        }
        address_key(peer)
    }

    /// Whether the connection comes from one of `[proxy] trusted`.
    pub fn is_trusted_proxy(&self, peer: Option<SocketAddr>) -> bool {
        peer.is_some_and(|peer| self.is_proxy(peer.ip()))
    }

    fn is_proxy(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.proxies.iter().any(|net| net.contains(&address))
    }

    pub fn login_start(&self, address: IpAddr) -> Result<(), Limited> {
        check(&self.login_starts, &address, ErrorCode::RateLimited)
    }

    pub fn public_call(&self, address: IpAddr) -> Result<(), Limited> {
        check(&self.public_calls, &address, ErrorCode::RateLimited)
    }

    /// An accessibility feedback message about to be stored (anonymous:
    /// counted per client address, so one sender cannot fill the table).
    pub fn feedback_message(&self, address: IpAddr) -> Result<(), Limited> {
        check(&self.feedback_messages, &address, ErrorCode::RateLimited)
    }

    /// A department call: refused while the certificate is over its refusal
    /// budget, and beyond its call rate.
    pub fn department_call(&self, certificate: &CertificateKey) -> Result<(), Limited> {
        if self.any_blocked.load(Ordering::Acquire) {
            let mut blocked = self.refusals_blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(until) = blocked.get(certificate).copied() {
                let now = Instant::now();
                if now < until {
                    return Err(Limited { code: ErrorCode::TooManyRefusals, retry_after: until - now });
                }
                blocked.remove(certificate);
            }
        }
        check(&self.department_calls, certificate, ErrorCode::RateLimited)
    }

    /// Count a refused department call; over budget, the certificate is
    /// refused (429) until the budget allows one more.
    pub fn department_refused(&self, certificate: &CertificateKey) {
        if let Err(limited) = check(&self.department_refusals, certificate, ErrorCode::TooManyRefusals) {
            tracing::warn!(retry_after = ?limited.retry_after, "a department certificate is over its refusal budget");
            let mut blocked = self.refusals_blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            blocked.insert(*certificate, Instant::now() + limited.retry_after);
            self.any_blocked.store(true, Ordering::Release);
        }
    }

    /// Forget keys whose buckets are full again (memory stays bounded by the
    /// clients of the last minutes). Called by the sweeper.
    pub fn forget_idle(&self) {
        self.login_starts.retain_recent();
        self.login_starts.shrink_to_fit();
        self.public_calls.retain_recent();
        self.public_calls.shrink_to_fit();
        self.feedback_messages.retain_recent();
        self.feedback_messages.shrink_to_fit();
        self.department_calls.retain_recent();
        self.department_calls.shrink_to_fit();
        self.department_refusals.retain_recent();
        self.department_refusals.shrink_to_fit();
        let now = Instant::now();
        let mut blocked = self.refusals_blocked.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        blocked.retain(|_, until| *until > now);
        self.any_blocked.store(!blocked.is_empty(), Ordering::Release);
    }
}

fn check<K: Hash + Eq + Clone, S: std::hash::BuildHasher + Clone>(
    limiter: &DefaultKeyedRateLimiter<K, governor::middleware::NoOpMiddleware<<DefaultClock as Clock>::Instant>, S>,
    key: &K,
    code: ErrorCode,
) -> Result<(), Limited> {
    limiter
        .check_key(key)
        .map_err(|not_until| Limited { code, retry_after: not_until.wait_time_from(DefaultClock::default().now()) })
}

/// One entry of X-Forwarded-For: an address, possibly with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`).
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(address) = entry.parse::<IpAddr>() {
        return Some(address.to_canonical());
    }
    entry.parse::<SocketAddr>().ok().map(|socket| socket.ip().to_canonical())
}

/// The client address of a request (never fails; see
/// [`RateLimits::client_address`]).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        Ok(Self(app.rate_limits.client_address(peer, &parts.headers)))
    }
}

/// Middleware for the unauthenticated public API: per client address.
pub async fn public_calls(
    State(app): State<AppState>,
    client: ClientAddress,
    request: Request,
    next: Next,
) -> Response {
    match app.rate_limits.public_call(client.0) {
        Ok(()) => next.run(request).await,
        Err(limited) => limited.into_response(),
    }
}

/// Where `DepartmentCaller` leaves the authenticated certificate for
/// `http::edge` to see after the handler ran.
#[derive(Clone, Default)]
pub struct CallerSlot(Arc<OnceLock<CertificateKey>>);

impl CallerSlot {
    pub fn set(&self, certificate: CertificateKey) {
        let _ = self.0.set(certificate);
    }
}

impl RateLimits {
    /// After a department call: one that ended in a refusal (4xx other than
    /// 401 and 429) by an authenticated certificate counts against that
    /// certificate's refusal budget.
    pub fn after_department_call(&self, slot: &CallerSlot, status: StatusCode) {
        if status.is_client_error()
            && status != StatusCode::UNAUTHORIZED
            && status != StatusCode::TOO_MANY_REQUESTS
            && let Some(certificate) = slot.0.get()
        {
            self.department_refused(certificate);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits_with(configure: impl FnOnce(&mut Config)) -> RateLimits {
        let mut config = Config::load(None).expect("defaults");
        configure(&mut config);
        RateLimits::from_config(&config)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    fn peer(text: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(text.parse().expect("address"), 4711))
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("header"));
        headers
    }

    #[test]
    fn the_forwarded_address_is_believed_only_from_a_trusted_proxy() {
        let limits = limits_with(|config| config.proxy.trusted = vec!["10.0.0.0/24".into()]);
        let header = forwarded("198.51.100.7, 203.0.113.9");
        // From the proxy: the right-most address that is not a proxy.
        assert_eq!(limits.client_address(peer("10.0.0.5"), &header), ip("203.0.113.9"));
        // From anyone else: the peer, whatever the header says.
        assert_eq!(limits.client_address(peer("192.0.2.1"), &header), ip("192.0.2.1"));
        // A chain of proxies is skipped; a client cannot pick its key by
        // prepending addresses (only the right-most untrusted one counts).
        let chained = forwarded("1.1.1.1, 203.0.113.9, 10.0.0.7");
        assert_eq!(limits.client_address(peer("10.0.0.5"), &chained), ip("203.0.113.9"));
        // Garbage or no header: the proxy's own address.
        assert_eq!(limits.client_address(peer("10.0.0.5"), &forwarded("nonsense")), ip("10.0.0.5"));
        assert_eq!(limits.client_address(peer("10.0.0.5"), &HeaderMap::new()), ip("10.0.0.5"));
        // Ports and IPv6 (by /64).
        assert_eq!(
            limits.client_address(peer("10.0.0.5"), &forwarded("[2001:db8:1:2::77]:4711")),
            ip("2001:db8:1:2::")
        );
    }

    #[test]
    fn a_limit_refuses_with_a_retry_time_and_keys_are_separate() {
        let limits = limits_with(|config| config.limits.login_starts_per_minute = 2);
        let one: IpAddr = "192.0.2.1".parse().expect("address");
        let other: IpAddr = "192.0.2.2".parse().expect("address");
        assert!(limits.login_start(one).is_ok());
        assert!(limits.login_start(one).is_ok());
        let limited = limits.login_start(one).expect_err("third in a minute");
        assert_eq!(limited.code, ErrorCode::RateLimited);
        assert!(limited.retry_after > Duration::from_secs(20) && limited.retry_after <= Duration::from_secs(30));
        assert!(limits.login_start(other).is_ok(), "another address has its own budget");
        let error = ApiError::from(limited);
        assert_eq!(error.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(error.retry_after.is_some_and(|seconds| (20..=30).contains(&seconds)));
    }

    #[test]
    fn refusals_over_budget_block_the_certificate_for_every_call() {
        let limits = limits_with(|config| config.limits.department_refusals_per_minute = 2);
        let certificate = [7u8; 32];
        let other = [8u8; 32];
        for _ in 0..2 {
            limits.department_refused(&certificate);
            assert!(limits.department_call(&certificate).is_ok(), "within the refusal budget");
        }
        limits.department_refused(&certificate);
        let limited = limits.department_call(&certificate).expect_err("over the refusal budget");
        assert_eq!(limited.code, ErrorCode::TooManyRefusals);
        assert!(limited.retry_after <= Duration::from_secs(30));
        assert!(limits.department_call(&other).is_ok(), "other certificates are not affected");
    }
}
