//! Connection bounds of both listeners (issue 12, point 1): slow or idle
//! clients are dropped within the header/idle timeouts, one address cannot
//! hold more than its share of connections, and a low file-descriptor limit
//! does not let idle sockets lock everyone out. Every scenario also checks
//! that a fresh client is still served.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tresor::config::Limits;

use crate::support::app::{Backend, TestApp, TestAppOptions};

/// A TCP connection from a chosen loopback source address (127.0.0.x), as
/// another client on the network would be.
async fn connect_from(source: [u8; 4], server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    socket.connect(server).await.unwrap()
}

/// How long until the server closes `stream` (EOF, reset, or a final answer
/// such as a 408 followed by EOF); None if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    let mut buffer = [0u8; 4096];
    loop {
        let remaining = limit.checked_sub(start.elapsed())?;
        match tokio::time::timeout(remaining, stream.read(&mut buffer)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(start.elapsed()),
            Ok(Ok(_)) => continue, // an error answer before the close
        }
    }
}

fn address_of(app: &TestApp) -> SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

async fn fresh_client_is_served(app: &TestApp) {
    let response = tokio::time::timeout(Duration::from_secs(5), reqwest::get(app.url("/")))
        .await
        .expect("a fresh client is answered within 5 s")
        .unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
}

fn limits(header_read_timeout_seconds: u64, idle_timeout_seconds: u64, per_address: usize) -> Limits {
    Limits {
        header_read_timeout_seconds,
        idle_timeout_seconds,
        max_connections_per_address: per_address,
        ..TestAppOptions::new(Backend::Sqlite).limits
    }
}

#[tokio::test]
async fn slow_and_silent_clients_are_dropped_after_the_header_timeout() {
    let app =
        TestApp::start_with(TestAppOptions { limits: limits(1, 60, 256), ..TestAppOptions::new(Backend::Sqlite) })
            .await;
    let server = address_of(&app);
    // Silent: connects and sends nothing. Slowloris: a request line and then
    // one header line every 300 ms, never the end of the head.
    let mut silent = connect_from([127, 0, 0, 2], server).await;
    let mut slow = connect_from([127, 0, 0, 3], server).await;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let drip = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if slow.write_all(b"X-Slow: yes\r\n").await.is_err() {
                break;
            }
        }
    };
    let (silent_closed, ()) = tokio::join!(closed_within(&mut silent, Duration::from_secs(5)), drip);
    let silent_closed = silent_closed.expect("a silent connection is closed within 5 s (header timeout 1 s)");
    assert!(silent_closed >= Duration::from_millis(900), "not before the timeout: {silent_closed:?}");
    let slow_closed = closed_within(&mut slow, Duration::from_secs(1)).await;
    assert!(slow_closed.is_some(), "a slowloris head is cut off (the drip ran 6 s, the timeout is 1 s)");
    fresh_client_is_served(&app).await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app =
        TestApp::start_with(TestAppOptions { limits: limits(1, 2, 256), ..TestAppOptions::new(Backend::Sqlite) }).await;
    let mut stream = connect_from([127, 0, 0, 4], address_of(&app)).await;
    stream.write_all(b"GET /static/style.css HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // The response is read; the connection now sits idle in keep-alive.
    let closed = closed_within(&mut stream, Duration::from_secs(6)).await;
    assert!(closed.is_some(), "an idle keep-alive connection is closed within 6 s");
}

#[tokio::test]
async fn an_idle_tls_connection_that_never_handshakes_is_dropped() {
    let app =
        TestApp::start_with(TestAppOptions { limits: limits(1, 60, 256), ..TestAppOptions::new(Backend::Sqlite) })
            .await;
    let tls = app.start_tls().await;
    let server: SocketAddr = tls.base.trim_start_matches("https://").parse().unwrap();
    let mut silent = connect_from([127, 0, 0, 5], server).await;
    let closed = closed_within(&mut silent, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "no TLS handshake within the header timeout: closed");
    let response = tls.client(None).get(tls.url("/")).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK, "a real TLS client is still served");
    tls.shutdown().await;
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let app =
        TestApp::start_with(TestAppOptions { limits: limits(30, 60, 5), ..TestAppOptions::new(Backend::Sqlite) }).await;
    let server = address_of(&app);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from([127, 0, 0, 6], server).await);
    }
    // Give the server time to accept and count the five.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut sixth = connect_from([127, 0, 0, 6], server).await;
    assert!(
        closed_within(&mut sixth, Duration::from_secs(2)).await.is_some(),
        "the sixth connection from one address is closed at once"
    );
    for stream in &mut held {
        assert!(closed_within(stream, Duration::from_millis(100)).await.is_none(), "the first five stay open");
    }
    fresh_client_is_served(&app).await;
    // A connection that closes gives its place back.
    held.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from([127, 0, 0, 6], server).await;
    again.write_all(b"GET /static/style.css HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut head = [0u8; 12];
    again.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
}

/// `tresor serve --dev` (the real binary) under a hard limit of 256 open
/// files, with a config file lowering the header timeout to 2 s.
struct LimitedServer {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for LimitedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start_limited_server(descriptors: u32) -> LimitedServer {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tresor.toml");
    std::fs::write(&config, "[limits]\nheader_read_timeout_seconds = 2\n").unwrap();
    let (port, tls_port) = (free_port(), free_port());
    let script = format!(
        "ulimit -n {descriptors} && exec \"$0\" --config \"$1\" serve --dev --listen 127.0.0.1:{port} --tls-listen 127.0.0.1:{tls_port}"
    );
    let child = Command::new("bash")
        .args(["-c", &script, env!("CARGO_BIN_EXE_tresor"), config.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TMPDIR", dir.path())
        .env_remove("TRESOR_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = LimitedServer { child, base: format!("http://127.0.0.1:{port}"), _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = reqwest::get(&server.base).await
            && response.status() == reqwest::StatusCode::OK
        {
            break;
        }
        assert!(Instant::now() < deadline, "tresor serve --dev did not answer within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    server
}

/// `count` idle connections spread over `sources` loopback addresses.
async fn open_idle(address: SocketAddr, count: usize, sources: u8) -> Vec<TcpStream> {
    let mut idle = Vec::new();
    for index in 0..count {
        let socket = TcpSocket::new_v4().unwrap();
        let source = 2 + u8::try_from(index % usize::from(sources)).unwrap();
        socket.bind(SocketAddr::from(([127, 0, 1, source], 0))).unwrap();
        if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(2), socket.connect(address)).await {
            idle.push(stream);
        }
    }
    idle
}

async fn served_within(base: &str, limit: Duration) -> reqwest::StatusCode {
    tokio::time::timeout(limit, reqwest::get(base))
        .await
        .unwrap_or_else(|_| panic!("a fresh client is answered within {limit:?}"))
        .unwrap()
        .status()
}

/// The scenario: the systemd default of 1,024 file descriptors and
/// 1,100 idle sockets, first from one anonymous client, then from eight.
#[tokio::test]
async fn idle_sockets_at_a_low_descriptor_limit_do_not_lock_others_out() {
    // This test's own process holds 1,100 sockets.
    tresor::http::listener::raise_descriptor_limit();
    let server = start_limited_server(1024).await;
    let address: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();

    // One address: it gets its share (256 by default), the rest are closed
    // at once; nobody else notices.
    let mut idle = open_idle(address, 1100, 1).await;
    assert!(idle.len() >= 1000, "the connections were made: {}", idle.len());
    assert_eq!(served_within(&server.base, Duration::from_secs(2)).await, reqwest::StatusCode::OK);
    let mut closed_at_once = 0;
    for stream in &mut idle {
        if closed_within(stream, Duration::from_millis(20)).await.is_some() {
            closed_at_once += 1;
        }
    }
    assert!(closed_at_once >= 800, "connections over the address's share are closed at once: {closed_at_once}");
    drop(idle);

    // Eight addresses, 1,100 sockets: more than fit in the descriptors left
    // for connections. Quiet ones make room, so a fresh client gets in
    // within seconds, not after a whole timeout per queue position.
    let mut idle = open_idle(address, 1100, 8).await;
    assert!(idle.len() >= 1000, "the connections were made (the rest of the cap waits in the backlog): {}", idle.len());
    assert_eq!(served_within(&server.base, Duration::from_secs(5)).await, reqwest::StatusCode::OK);
    // And every idle socket is closed by the server (header timeout 2 s).
    let deadline = Instant::now() + Duration::from_secs(20);
    for stream in &mut idle {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(closed_within(stream, left).await.is_some(), "every idle socket is closed within 20 s");
    }
}

#[tokio::test]
async fn a_request_that_takes_too_long_is_answered_503_request_timeout() {
    let mut options = TestAppOptions::new(Backend::Sqlite);
    options.limits.request_timeout_seconds = 1;
    options.limits.store_timeout_seconds = 10;
    let app = TestApp::start_with(options).await;
    let (_, grant) = crate::dept_api::parking_grant(&app, "erika", 2).await;
    let release_path = format!("/api/v1/dept/grants/{}/release", grant.id);
    // Another process holds the write lock longer than a request may take
    // (but shorter than the store would wait).
    let lock = app.hold_sqlite_write_lock().await;
    let started = Instant::now();
    let response =
        app.as_department("strassenverkehrsbehoerde", reqwest::Method::GET, &release_path).send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < Duration::from_secs(5), "answered at the request timeout, not the store's: {took:?}");
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_timeout");
    lock.release().await;
    // Served again once the lock is gone.
    let response =
        app.as_department("strassenverkehrsbehoerde", reqwest::Method::GET, &release_path).send().await.unwrap();
    assert_eq!(response.status(), reqwest::StatusCode::OK);
}
