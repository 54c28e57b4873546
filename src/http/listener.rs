//! The accept loop of both listeners (plain HTTP and tresor's own TLS
//! listener): the bounds that keep one client from taking the server away
//! from everyone else.
//!
//! - at most `max_connections` open connections per listener (further ones
//!   wait in the kernel's backlog) and `max_connections_per_address` per
//!   client address (further ones are closed at once; trusted proxies are
//!   exempt, since every citizen behind them shares their address);
//! - the TLS handshake and every HTTP/1 request head must arrive within the
//!   header-read timeout (hyper's timer; also bounds HTTP/1 keep-alive idling);
//! - a connection with no request in flight and no byte moving either way for
//!   `idle_timeout` is shut down gracefully (HTTP/2 sends GOAWAY), and dropped
//!   if it has not closed `CLOSE_GRACE` later (a client that stops reading);
//! - at the cap, connections with nothing in flight that have been quiet for
//!   `RECLAIM_AFTER` are closed to make room (as nginx reuses idle keep-alive
//!   connections when it runs out), so idle sockets cannot lock others out
//!   for a whole timeout;
//! - on shutdown: stop accepting, shut every connection down gracefully, wait
//!   up to `DRAIN_TIMEOUT` for them.
//!
//! Per connection, requests carry the peer as `ConnectInfo<SocketAddr>` and,
//! over TLS, [`ServedOverTls`] and the presented chain as
//! [`TlsPeerCertificates`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use ipnet::IpNet;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::dept_auth::TlsPeerCertificates;
use super::tls::ServedOverTls;
use crate::config::{Config, parse_ip_net};

/// After the shutdown signal, connections still open this long are dropped.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);
/// A connection told to close (idle, or shutting down) that is still open
/// this much later is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(30);
/// At the connection cap, a connection with nothing in flight that moved no
/// byte for this long is closed to make room for a new one.
const RECLAIM_AFTER: Duration = Duration::from_secs(1);
/// File descriptors kept for everything that is not a client connection:
/// database connections, upload blob files, key files, logs.
const RESERVED_DESCRIPTORS: u64 = 256;
/// Never fewer connections per listener than this, whatever the limit says.
const MIN_CONNECTIONS: usize = 16;

/// The connection bounds of one listener (from `[limits]`).
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    /// For the TLS handshake and each HTTP/1 request head.
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    /// Addresses exempt from the per-address cap: `[proxy] trusted` and
    /// `[departments] trusted_proxies`.
    pub exempt: Vec<IpNet>,
}

impl ConnectionLimits {
    pub fn from_config(config: &Config) -> Self {
        let limits = &config.limits;
        let department_proxies = config.departments.iter().flat_map(|section| section.trusted_proxies.iter());
        let exempt =
            config.proxy.trusted.iter().chain(department_proxies).filter_map(|text| parse_ip_net(text)).collect();
        Self {
            max_connections: limits.max_connections,
            max_connections_per_address: limits.max_connections_per_address,
            header_read_timeout: Duration::from_secs(limits.header_read_timeout_seconds),
            idle_timeout: Duration::from_secs(limits.idle_timeout_seconds),
            exempt,
        }
    }

    /// Lower `max_connections` so that `listeners` listeners at their cap
    /// stay within `descriptor_limit` open files (with room for the rest of
    /// the process). Returns the lowered value when it had to be lowered.
    pub fn fit_descriptors(&mut self, descriptor_limit: u64, listeners: usize) -> Option<usize> {
        let listeners = u64::try_from(listeners.max(1)).unwrap_or(u64::MAX);
        let room = descriptor_limit.saturating_sub(RESERVED_DESCRIPTORS) / listeners;
        let fitting = usize::try_from(room).unwrap_or(usize::MAX).max(MIN_CONNECTIONS);
        if fitting < self.max_connections {
            self.max_connections = fitting;
            self.max_connections_per_address = self.max_connections_per_address.min(fitting);
            Some(fitting)
        } else {
            None
        }
    }
}

/// Raise the soft open-file limit to the hard limit where the system allows
/// it; returns the soft limit now in force (None where it cannot be read).
/// Logs what it did, and says so when the limit could not be raised.
pub fn raise_descriptor_limit() -> Option<u64> {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            match before {
                Some((soft, _)) if now > soft => {
                    tracing::info!(from = soft, to = now, "raised the open-file limit")
                }
                _ => tracing::info!(limit = now, "open-file limit"),
            }
            Some(now)
        }
        Err(error) => {
            tracing::warn!(%error, soft = ?before.map(|(soft, _)| soft), "cannot raise the open-file limit; keeping it");
            before.map(|(soft, _)| soft)
        }
    }
}

/// Serve `router` on `listener` (over TLS with `tls`) within `limits` until
/// `shutdown` completes; then stop accepting, close every connection
/// gracefully and return once they are closed (at most `DRAIN_TIMEOUT`).
pub async fn serve<F>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: ConnectionLimits,
    shutdown: F,
) where
    F: Future<Output = ()> + Send,
{
    let limits = Arc::new(limits);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let addresses = Arc::new(AddressCounts::default());
    let (stop, stopped) = watch::channel(false);
    let (pressure, under_pressure) = watch::channel(0u64);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: at the cap, new connections wait in the backlog
        // while quiet connections are asked to make room.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = free_slot(&slots, &pressure) => slot,
        };
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off, go on.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let exempt = limits.exempt.iter().any(|net| net.contains(&peer.ip().to_canonical()));
        let Some(address_slot) = addresses.admit(peer.ip(), limits.max_connections_per_address, exempt) else {
            tracing::debug!(%peer, "too many connections from this address; closed");
            continue;
        };
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, %peer, "cannot set TCP_NODELAY");
        }
        let connection = Connection {
            peer,
            router: router.clone(),
            limits: limits.clone(),
            stopped: stopped.clone(),
            under_pressure: under_pressure.clone(),
            _slot: slot,
            _address_slot: address_slot,
        };
        let tls = tls.clone();
        let handshake_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            match tls {
                None => connection.serve(tcp, None).await,
                Some(acceptor) => {
                    let stream = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(error)) => {
                            tracing::debug!(%error, peer = %connection.peer, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(peer = %connection.peer, "TLS handshake timed out");
                            return;
                        }
                    };
                    let certificates = stream.get_ref().1.peer_certificates().map(|chain| {
                        TlsPeerCertificates(Arc::new(chain.iter().map(|der| der.as_ref().to_vec()).collect()))
                    });
                    connection.serve(stream, Some(certificates)).await;
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("connections still open after the drain timeout were dropped");
    }
}

/// A connection slot; while there is none, tell the connections every
/// `RECLAIM_AFTER` that room is needed.
async fn free_slot(slots: &Arc<Semaphore>, pressure: &watch::Sender<u64>) -> tokio::sync::OwnedSemaphorePermit {
    loop {
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            return slot;
        }
        pressure.send_modify(|generation| *generation = generation.wrapping_add(1));
        tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => return slot,
                // The semaphore is never closed.
                Err(_) => std::future::pending::<()>().await,
            },
            () = tokio::time::sleep(RECLAIM_AFTER) => {}
        }
    }
}

/// One accepted connection and what it holds until it closes.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: Arc<ConnectionLimits>,
    stopped: watch::Receiver<bool>,
    /// Changes whenever the listener is at its cap and needs room.
    under_pressure: watch::Receiver<u64>,
    _slot: tokio::sync::OwnedSemaphorePermit,
    _address_slot: Option<AddressSlot>,
}

impl Connection {
    /// `tls`: None for the plain listener; Some(chain or None) over TLS.
    async fn serve<S>(self, stream: S, tls: Option<Option<TlsPeerCertificates>>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // The slots are held (bound, not dropped) until the connection ends.
        let Connection { peer, router, limits, mut stopped, mut under_pressure, _slot, _address_slot } = self;
        let activity = Arc::new(Activity::new());
        let request_activity = activity.clone();
        let service = router
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                // hyper hands over requests with no extensions: these come
                // from the connection only.
                request.extensions_mut().insert(ConnectInfo(peer));
                if let Some(certificates) = &tls {
                    request.extensions_mut().insert(ServedOverTls);
                    if let Some(certificates) = certificates {
                        request.extensions_mut().insert(certificates.clone());
                    }
                }
                request
            })
            .map_future(move |response| {
                let in_flight = request_activity.begin();
                async move {
                    let response = response.await;
                    drop(in_flight);
                    response
                }
            });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let io = TokioIo::new(Tracked { inner: stream, activity: activity.clone() });
        let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        let mut connection = std::pin::pin!(connection);
        let check_every = (limits.idle_timeout.min(limits.header_read_timeout) / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(1));
        let mut ticker = tokio::time::interval(check_every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closing: Option<Pin<Box<tokio::time::Sleep>>> = None;
        let mut quiet = Quiet::new();
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, %peer, "connection ended with an error");
                    }
                    return;
                }
                changed = stopped.changed(), if closing.is_none() => {
                    if changed.is_err() || *stopped.borrow() {
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Box::pin(tokio::time::sleep(CLOSE_GRACE)));
                    }
                }
                _ = under_pressure.changed(), if closing.is_none() => {
                    if quiet.observe(&activity) >= RECLAIM_AFTER {
                        tracing::debug!(%peer, "quiet connection closed to make room");
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Box::pin(tokio::time::sleep(CLOSE_GRACE)));
                    }
                }
                _ = ticker.tick(), if closing.is_none() => {
                    // Before its first request a connection gets the header
                    // timeout from its start (hyper's own header timer only
                    // runs once the protocol is known, i.e. after some bytes).
                    let idle_for = quiet.observe(&activity);
                    let idle = if activity.served() {
                        idle_for >= limits.idle_timeout
                    } else {
                        quiet.started.elapsed() >= limits.header_read_timeout
                    };
                    if idle {
                        tracing::debug!(%peer, "idle connection closed");
                        connection.as_mut().graceful_shutdown();
                        closing = Some(Box::pin(tokio::time::sleep(CLOSE_GRACE)));
                    }
                }
                () = async { if let Some(grace) = closing.as_mut() { grace.await } else { std::future::pending().await } } => {
                    tracing::debug!(%peer, "connection did not close in time; dropped");
                    return;
                }
            }
        }
    }
}

/// What a connection does, counted without a clock (the byte path only
/// bumps a counter): events (reads and writes that moved bytes, requests
/// that ended) and requests in flight.
struct Activity {
    events: AtomicU64,
    in_flight: AtomicUsize,
    /// Whether any request has begun on this connection.
    served: std::sync::atomic::AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Self {
            events: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            served: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn touch(&self) {
        self.events.fetch_add(1, Ordering::Relaxed);
    }

    fn served(&self) -> bool {
        self.served.load(Ordering::Relaxed)
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.served.store(true, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// The watchdog's view of a connection's [`Activity`]: since when it has
/// seen nothing happen (to the resolution of its checks).
struct Quiet {
    started: Instant,
    seen_events: u64,
    since: Instant,
}

impl Quiet {
    fn new() -> Self {
        let now = Instant::now();
        Self { started: now, seen_events: 0, since: now }
    }

    /// How long the connection has been idle: no event since the last look
    /// and nothing in flight.
    fn observe(&mut self, activity: &Activity) -> Duration {
        let now = Instant::now();
        let events = activity.events.load(Ordering::Relaxed);
        if events != self.seen_events || activity.in_flight.load(Ordering::Relaxed) > 0 {
            self.seen_events = events;
            self.since = now;
        }
        now.saturating_duration_since(self.since)
    }
}

/// A request being handled; dropped when its response is ready or the
/// request is abandoned.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's byte stream, noting every byte read or written.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write_vectored(cx, buffers);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Open connections per client address (IPv6 by /64: one host has many).
#[derive(Default)]
struct AddressCounts(Mutex<HashMap<IpAddr, usize>>);

impl AddressCounts {
    /// A slot for one more connection from `address`, or None at the cap.
    /// Exempt addresses are not counted.
    fn admit(self: &Arc<Self>, address: IpAddr, cap: usize, exempt: bool) -> Option<Option<AddressSlot>> {
        if exempt {
            return Some(None);
        }
        let key = address_key(address);
        let mut counts = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = counts.entry(key).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(Some(AddressSlot { counts: self.clone(), key }))
    }
}

/// One connection's place in its address's count; given back on drop.
struct AddressSlot {
    counts: Arc<AddressCounts>,
    key: IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// The key a client address is counted under: IPv4 as is, IPv6 by its /64
/// (one subscriber line gets a whole /64 and can pick any address in it).
pub fn address_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_address: usize) -> ConnectionLimits {
        ConnectionLimits {
            max_connections: max,
            max_connections_per_address: per_address,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            exempt: Vec::new(),
        }
    }

    #[test]
    fn connection_cap_fits_the_descriptor_limit() {
        let mut fitted = limits(4096, 256);
        assert_eq!(fitted.fit_descriptors(1024, 2), Some(384));
        assert_eq!((fitted.max_connections, fitted.max_connections_per_address), (384, 256));
        let mut small = limits(4096, 256);
        assert_eq!(small.fit_descriptors(100, 2), Some(MIN_CONNECTIONS));
        assert_eq!(small.max_connections_per_address, MIN_CONNECTIONS);
        let mut roomy = limits(4096, 256);
        assert_eq!(roomy.fit_descriptors(1 << 20, 2), None);
        assert_eq!(roomy.max_connections, 4096);
    }

    #[test]
    fn per_address_slots_are_counted_and_given_back() {
        let counts = Arc::new(AddressCounts::default());
        let address: IpAddr = "192.0.2.7".parse().expect("address");
        let first = counts.admit(address, 2, false).expect("first");
        let second = counts.admit(address, 2, false).expect("second");
        assert!(counts.admit(address, 2, false).is_none(), "third is over the cap");
        assert!(counts.admit("192.0.2.8".parse().expect("other"), 2, false).is_some(), "others are not affected");
        assert!(counts.admit(address, 2, true).is_some(), "exempt addresses are not capped");
        drop(first);
        assert!(counts.admit(address, 2, false).is_some(), "a closed connection frees its slot");
        drop(second);
    }

    #[test]
    fn ipv6_addresses_count_by_their_64_prefix() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("address");
        let other: IpAddr = "2001:db8:1:2:bbbb::9".parse().expect("address");
        assert_eq!(address_key(one), address_key(other));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().expect("mapped");
        assert_eq!(address_key(mapped), "192.0.2.1".parse::<IpAddr>().expect("v4"));
    }
}
