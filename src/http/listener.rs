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
//! Per connection, requests carry the peer as `ConnectInfo<SocketAddr>` and
//! how they came (over TLS, with which client certificates) as [`Served`].
//!
//! No timer of the runtime is set per request: the header-read timeout is a
//! deadline the watchdog looks at (see [`HeadTimer`]), and the watchdog
//! wakes every connection with a request in flight once per look, so that
//! the whole-request timeout (`http::edge`) can be a deadline checked when
//! the request is polled (see [`Served::watched`]). Timers of the runtime
//! cost a lock and a wheel insert and removal each, measured at ~2 % of a
//! bare call.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
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
use tokio::sync::{Notify, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::dept_auth::TlsPeerCertificates;
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
    let watched = Arc::new(Watched::new(limits.clone()));
    let watchdog = tokio::spawn(watchdog(watched.clone()));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A free slot first: at the cap, new connections wait in the backlog
        // while quiet connections are asked to make room.
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = free_slot(&slots, &watched) => slot,
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
        // Watched from the start: the watchdog drops a connection that sends
        // no request head (or no TLS handshake) within the header timeout.
        let connection = Connection {
            peer,
            router: router.clone(),
            limits: limits.clone(),
            watch: watched.register(peer),
            _slot: slot,
            _address_slot: address_slot,
        };
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => connection.serve(tcp, None).await,
                Some(acceptor) => {
                    let stream = match connection.until_dropped(acceptor.accept(tcp)).await {
                        Some(Ok(stream)) => stream,
                        Some(Err(error)) => {
                            tracing::debug!(%error, peer = %connection.peer, "TLS handshake failed");
                            return;
                        }
                        None => {
                            tracing::debug!(peer = %connection.peer, "TLS handshake not done in time");
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
    watched.stop();
    // Every connection holds a slot until it is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN_TIMEOUT, slots.acquire_many(all)).await.is_err() {
        tracing::warn!("connections still open after the drain timeout were dropped");
    }
    watchdog.abort();
}

/// A connection slot; while there is none, ask the watchdog every
/// `RECLAIM_AFTER` to make room.
async fn free_slot(slots: &Arc<Semaphore>, watched: &Watched) -> tokio::sync::OwnedSemaphorePermit {
    loop {
        if let Ok(slot) = slots.clone().try_acquire_owned() {
            return slot;
        }
        watched.pressure.notify_one();
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

/// The one watchdog of a listener: every `check_every` it looks at each
/// connection's activity counters and orders the idle ones closed (and those
/// that did not close within `CLOSE_GRACE` dropped); when the accept loop
/// needs room, it orders the quiet ones closed at once. Connections only
/// read their order (an atomic) when they are polled anyway, so the request
/// path pays no timer, channel or lock for these bounds.
async fn watchdog(watched: Arc<Watched>) {
    let limits = &watched.limits;
    let check_every = (limits.idle_timeout.min(limits.header_read_timeout) / 4)
        .clamp(Duration::from_millis(50), Duration::from_secs(1));
    let mut ticker = tokio::time::interval(check_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let make_room = tokio::select! {
            _ = ticker.tick() => false,
            () = watched.pressure.notified() => true,
        };
        watched.sweep(make_room);
    }
}

/// What the watchdog tells a connection (`Control::order`).
const SERVE: u8 = 0;
/// Shut down gracefully: finish the request in flight, then close (HTTP/2
/// sends GOAWAY).
const CLOSE: u8 = 1;
/// Drop the connection now.
const DROP: u8 = 2;

/// A connection's side of the watchdog: its activity, the deadline of the
/// request head being read, and the watchdog's order.
struct Control {
    activity: Activity,
    /// When the connection was accepted; deadlines count from here.
    epoch: Instant,
    /// The header-read deadline, in nanoseconds after `epoch` (0: none).
    head_deadline: AtomicU64,
    order: AtomicU8,
    /// The connection's task, for the watchdog to wake.
    waker: Mutex<Option<Waker>>,
}

impl Control {
    fn new() -> Self {
        Self {
            activity: Activity::new(),
            epoch: Instant::now(),
            head_deadline: AtomicU64::new(0),
            order: AtomicU8::new(SERVE),
            waker: Mutex::new(None),
        }
    }

    fn order(&self, order: u8) {
        self.order.store(order, Ordering::Release);
        self.wake();
    }

    fn wake(&self) {
        if let Some(waker) = self.waker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).as_ref() {
            waker.wake_by_ref();
        }
    }

    /// Remember the task polling the connection (a lock only when it
    /// changed: `seen` is the poller's copy of the last one registered).
    fn register(&self, seen: &mut Option<Waker>, current: &Waker) {
        if !seen.as_ref().is_some_and(|waker| waker.will_wake(current)) {
            *self.waker.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(current.clone());
            *seen = Some(current.clone());
        }
    }

    /// `deadline` as stored in `head_deadline` (never 0).
    fn offset(&self, deadline: Instant) -> u64 {
        let nanos = deadline.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX).max(1)
    }

    /// Whether a request head is being read past its deadline.
    fn head_overdue(&self, now: Instant) -> bool {
        let deadline = self.head_deadline.load(Ordering::Acquire);
        deadline != 0 && self.offset(now) >= deadline
    }
}

/// hyper's timer for the HTTP/1 header-read timeout, without a timer of the
/// runtime: the sleep is a deadline in the connection's [`Control`], which
/// the watchdog checks on each look and wakes the connection once it has
/// passed (so the timeout fires up to one look late). The deadline is
/// cleared when a request begins (its head has been read).
struct HeadTimer(Arc<Control>);

impl hyper::rt::Timer for HeadTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.0.head_deadline.store(self.0.offset(deadline), Ordering::Release);
        Box::pin(HeadDeadline(deadline))
    }
}

/// One armed header-read deadline (see [`HeadTimer`]).
struct HeadDeadline(Instant);

impl Future for HeadDeadline {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        // The connection's task is woken by the watchdog (`Control::waker`).
        if Instant::now() >= self.0 { Poll::Ready(()) } else { Poll::Pending }
    }
}

impl hyper::rt::Sleep for HeadDeadline {}

/// How a request reached tresor (a request extension set by the listener).
#[derive(Clone, Debug)]
pub struct Served {
    /// Over tresor's TLS listener (for `Strict-Transport-Security`).
    pub over_tls: bool,
    /// The client certificate chain presented in the TLS handshake.
    pub certificates: Option<TlsPeerCertificates>,
    /// The listener's watchdog wakes this request's task at least once per
    /// look while it is in flight (HTTP/1: the request runs in the
    /// connection's task), so a deadline checked whenever the request is
    /// polled is kept without a timer of its own.
    pub watched: bool,
}

/// The connections of one listener, as the watchdog sees them.
struct Watched {
    limits: Arc<ConnectionLimits>,
    /// Notified by the accept loop when it is at the cap and needs room.
    pressure: Notify,
    registry: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    next: u64,
    /// Shutting down: every connection is told to close, new ones at once.
    stopping: bool,
    connections: HashMap<u64, Entry>,
}

struct Entry {
    peer: SocketAddr,
    control: Arc<Control>,
    quiet: Quiet,
    /// When the connection was told to close.
    closing_since: Option<Instant>,
}

impl Watched {
    fn new(limits: Arc<ConnectionLimits>) -> Self {
        Self { limits, pressure: Notify::new(), registry: Mutex::new(Registry::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn register(self: &Arc<Self>, peer: SocketAddr) -> Watch {
        let control = Arc::new(Control::new());
        let mut registry = self.lock();
        let id = registry.next;
        registry.next += 1;
        let mut entry = Entry { peer, control: control.clone(), quiet: Quiet::new(), closing_since: None };
        if registry.stopping {
            entry.closing_since = Some(Instant::now());
            control.order(CLOSE);
        }
        registry.connections.insert(id, entry);
        Watch { watched: self.clone(), id, control }
    }

    /// Shutting down: tell every connection to close.
    fn stop(&self) {
        let mut registry = self.lock();
        registry.stopping = true;
        let now = Instant::now();
        for entry in registry.connections.values_mut() {
            if entry.closing_since.is_none() {
                entry.closing_since = Some(now);
                entry.control.order(CLOSE);
            }
        }
    }

    /// One look at every connection (see [`watchdog`]).
    fn sweep(&self, make_room: bool) {
        let limits = &self.limits;
        let now = Instant::now();
        let mut registry = self.lock();
        for entry in registry.connections.values_mut() {
            let activity = &entry.control.activity;
            if entry.control.head_overdue(now) || activity.in_flight.load(Ordering::Relaxed) > 0 {
                // hyper's header timer, or a request's deadline, may have
                // passed: the connection looks when polled.
                entry.control.wake();
            }
            if let Some(since) = entry.closing_since {
                if now.saturating_duration_since(since) >= CLOSE_GRACE
                    && entry.control.order.load(Ordering::Relaxed) != DROP
                {
                    tracing::debug!(peer = %entry.peer, "connection did not close in time; dropped");
                    entry.control.order(DROP);
                }
                continue;
            }
            let idle_for = entry.quiet.observe(activity, now);
            // Before its first request a connection gets the header timeout
            // from its start (hyper's own header timer only runs once the
            // protocol is known, i.e. after some bytes; the TLS handshake
            // comes before that).
            let idle = if activity.served() {
                idle_for >= limits.idle_timeout
            } else {
                now.saturating_duration_since(entry.quiet.started) >= limits.header_read_timeout
            };
            let reclaim = make_room && idle_for >= RECLAIM_AFTER;
            if idle || reclaim {
                if reclaim {
                    tracing::debug!(peer = %entry.peer, "quiet connection closed to make room");
                } else {
                    tracing::debug!(peer = %entry.peer, "idle connection closed");
                }
                entry.closing_since = Some(now);
                entry.control.order(CLOSE);
            }
        }
    }
}

/// A connection's registration with the watchdog; removed on drop.
struct Watch {
    watched: Arc<Watched>,
    id: u64,
    control: Arc<Control>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.watched.lock().connections.remove(&self.id);
    }
}

/// One accepted connection and what it holds until it closes.
struct Connection {
    peer: SocketAddr,
    router: Router,
    limits: Arc<ConnectionLimits>,
    watch: Watch,
    _slot: tokio::sync::OwnedSemaphorePermit,
    _address_slot: Option<AddressSlot>,
}

impl Connection {
    /// `work` until it completes, or None once the watchdog orders this
    /// connection closed or dropped (before any request, there is nothing
    /// to close gracefully).
    async fn until_dropped<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let control = &self.watch.control;
        let mut work = std::pin::pin!(work);
        let mut seen = None;
        std::future::poll_fn(|cx| {
            control.register(&mut seen, cx.waker());
            if control.order.load(Ordering::Acquire) != SERVE {
                return Poll::Ready(None);
            }
            work.as_mut().poll(cx).map(Some)
        })
        .await
    }

    /// `tls`: None for the plain listener; Some(chain or None) over TLS.
    async fn serve<S>(self, stream: S, tls: Option<Option<TlsPeerCertificates>>)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        // The slots and the registration are held until the connection ends.
        let Connection { peer, router, limits, watch, _slot, _address_slot } = self;
        let control = watch.control.clone();
        let request_control = control.clone();
        let service = router
            .map_request(move |mut request: axum::http::Request<Incoming>| {
                // hyper hands over requests with no extensions: these come
                // from the connection only. HTTP/2 requests run in tasks of
                // their own, which the watchdog does not wake.
                let watched = request.version() < axum::http::Version::HTTP_2;
                let extensions = request.extensions_mut();
                extensions.insert(ConnectInfo(peer));
                let certificates = tls.as_ref().and_then(Clone::clone);
                extensions.insert(Served { over_tls: tls.is_some(), certificates, watched });
                request
            })
            .map_future(move |response| {
                let in_flight = InFlight::begin(&request_control);
                async move {
                    let response = response.await;
                    drop(in_flight);
                    response
                }
            });
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(HeadTimer(control.clone())).header_read_timeout(limits.header_read_timeout);
        builder.http2().timer(TokioTimer::new());
        let io = TokioIo::new(Tracked { inner: stream, control: control.clone() });
        let connection = builder.serve_connection_with_upgrades(io, TowerToHyperService::new(service));
        let mut connection = std::pin::pin!(connection);
        let mut obeyed = SERVE;
        let mut seen = None;
        let ended = std::future::poll_fn(|cx| {
            control.register(&mut seen, cx.waker());
            let order = control.order.load(Ordering::Acquire);
            if order != obeyed {
                obeyed = order;
                match order {
                    DROP => return Poll::Ready(None),
                    CLOSE => connection.as_mut().graceful_shutdown(),
                    _ => {}
                }
            }
            connection.as_mut().poll(cx).map(Some)
        })
        .await;
        if let Some(Err(error)) = ended {
            tracing::debug!(%error, %peer, "connection ended with an error");
        }
        drop(watch);
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

    /// How long the connection has been idle at `now`: no event since the
    /// last look and nothing in flight.
    fn observe(&mut self, activity: &Activity, now: Instant) -> Duration {
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
struct InFlight(Arc<Control>);

impl InFlight {
    fn begin(control: &Arc<Control>) -> Self {
        // The request head has been read.
        control.head_deadline.store(0, Ordering::Release);
        let activity = &control.activity;
        activity.served.store(true, Ordering::Relaxed);
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        Self(control.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0.activity;
        activity.touch();
        activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The connection's byte stream, noting every byte read or written.
struct Tracked<S> {
    inner: S,
    control: Arc<Control>,
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.control.activity.touch();
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(written)) if written > 0) {
            this.control.activity.touch();
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
            this.control.activity.touch();
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
