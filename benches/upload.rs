//! Upload benchmark: one large file through the real server (`tresor serve
//! --dev`, release build, embedded SQLite), measuring the server's resident
//! memory growth and the throughput beside `dd ... conv=fdatasync` writing the
//! same size to the same disk in the same run.
//!
//! Run: `cargo bench --bench upload` (default 1 GiB; `TRESOR_BENCH_UPLOAD_MIB`
//! changes the size). Figures go into the README.
//!
//! Stalled mode: `TRESOR_BENCH_UPLOAD_STALLED=200 cargo bench --bench upload`
//! opens that many uploads at once, each sending the start of a file (just
//! under 4 MiB) and then pausing with the connection open, and reports the
//! server's resident memory before and while they pause, and how many were
//! held open or refused (503 `uploads_busy` once the memory budget is full).
//! One citizen sends them all (`uploads_per_citizen` is raised for this).
//!
//! `TRESOR_BENCH_BIN=/path/to/tresor` runs another build of the server (for
//! a before/after comparison with the same client).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

const MIB: u64 = 1024 * 1024;

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(run());
}

/// Resident set size and its high-water mark of a process, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dd_baseline(dir: &Path, mib: u64) -> f64 {
    let target = dir.join("dd.bin");
    let start = Instant::now();
    let status = std::process::Command::new("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", target.display()))
        .arg("bs=1M")
        .arg(format!("count={mib}"))
        .arg("conv=fdatasync")
        .stderr(Stdio::null())
        .status()
        .expect("run dd");
    assert!(status.success(), "dd failed");
    let seconds = start.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(target);
    (mib as f64) / seconds
}

async fn run() {
    let mib: u64 = std::env::var("TRESOR_BENCH_UPLOAD_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench-upload");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("bench directory");

    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        probe.local_addr().expect("address").port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let stalled: Option<usize> = std::env::var("TRESOR_BENCH_UPLOAD_STALLED").ok().and_then(|v| v.parse().ok());
    // One citizen sends every upload of the stalled mode.
    let config = work.join("bench.toml");
    std::fs::write(&config, "[limits]\nuploads_per_citizen = 100000\n").expect("bench configuration");
    let binary = std::env::var_os("TRESOR_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_tresor").into());
    let mut server = tokio::process::Command::new(binary)
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("TRESOR_CONFIG", &config)
        .env("TMPDIR", &work)
        .env("TRESOR_UPLOAD_LIMIT_BYTES", (mib * MIB + MIB).to_string())
        .env("TRESOR_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start tresor serve --dev");
    let pid = server.id().expect("server pid");

    let browser = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let mut ready = false;
    for _ in 0..100 {
        if browser.get(format!("{base}/")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "server did not start");
    let login = browser.get(format!("{base}/login?login_hint=anna")).send().await.expect("login");
    assert!(login.status().is_success(), "login failed: {}", login.status());
    let session: serde_json::Value =
        browser.get(format!("{base}/api/v1/session")).send().await.expect("session").json().await.expect("json");
    let csrf = session["csrf_token"].as_str().expect("csrf").to_owned();

    // Warm up: one small upload so pools, caches and code are paged in.
    upload(&browser, &base, &csrf, 4).await;
    let (rss_before, _) = memory_kib(pid);

    if let Some(count) = stalled {
        stalled_uploads(pid, &browser, &base, &csrf, count).await;
        let _ = server.kill().await;
        let _ = std::fs::remove_dir_all(&work);
        return;
    }

    let dd_mib_per_s = dd_baseline(&work, mib);

    let start = Instant::now();
    upload(&browser, &base, &csrf, mib).await;
    let seconds = start.elapsed().as_secs_f64();
    let (_, peak) = memory_kib(pid);
    let upload_mib_per_s = mib as f64 / seconds;

    println!("upload benchmark ({mib} MiB file, tresor serve --dev, SQLite WAL synchronous=FULL)");
    println!("  dd conv=fdatasync baseline   {dd_mib_per_s:8.1} MiB/s");
    println!(
        "  tresor upload (seal + store) {upload_mib_per_s:8.1} MiB/s  = {:.2} x dd   ({seconds:.1} s)",
        upload_mib_per_s / dd_mib_per_s
    );
    println!(
        "  server RSS before {:.1} MiB, peak {:.1} MiB, growth {:.1} MiB",
        rss_before as f64 / 1024.0,
        peak as f64 / 1024.0,
        (peak.saturating_sub(rss_before)) as f64 / 1024.0
    );
    let _ = server.kill().await;
    let _ = std::fs::remove_dir_all(&work);
}

/// `count` uploads that send the start of a file and pause; server memory
/// before and while they pause.
async fn stalled_uploads(pid: u32, browser: &reqwest::Client, base: &str, csrf: &str, count: usize) {
    const BOUNDARY: &str = "tresor-bench-stalled";
    // Just under 64 sealed chunks: where a batch of 64 is fullest.
    let file_bytes = 4 * MIB as usize - 100 * 1024;
    let mut head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nincome_statement\r\n");
    for (name, value) in [
        ("employer", "Benchmark GmbH"),
        ("gross_monthly_income", "3000"),
        ("net_monthly_income", "2000"),
        ("period_from", "2026-01-01"),
        ("period_to", "2026-12-31"),
    ] {
        head.push_str(&format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"field.{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    head.push_str(&format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.pdf\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    ));
    let block = pdf_block();
    let mut first = head.into_bytes();
    let end = first.len() + file_bytes;
    while first.len() < end {
        let take = (end - first.len()).min(block.len());
        first.extend_from_slice(&block[..take]);
    }
    let first = bytes::Bytes::from(first);

    let (rss_before, _) = memory_kib(pid);
    let started = Instant::now();
    let mut bodies = Vec::with_capacity(count);
    let mut responses = Vec::with_capacity(count);
    for _ in 0..count {
        let (sender, receiver) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(1);
        sender.try_send(Ok(first.clone())).expect("room for the first piece");
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|piece| (piece, receiver))
        });
        let request = browser
            .post(format!("{base}/api/v1/evidence"))
            .header("x-csrf-token", csrf)
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(reqwest::Body::wrap_stream(stream));
        responses.push(tokio::spawn(request.send()));
        bodies.push(sender);
    }
    // Long enough for the admitted uploads to read what was sent and for the
    // refused ones to be answered (upload_wait_milliseconds, 2 s), shorter
    // than body_idle_timeout_seconds (20 s).
    let mut samples = Vec::new();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        samples.push(memory_kib(pid).0);
    }
    let (rss_during, peak) = memory_kib(pid);
    let mut refused = 0;
    let mut other = Vec::new();
    // Each handle is awaited once: finished ones leave the list.
    let mut open = Vec::with_capacity(count);
    for response in responses {
        if !response.is_finished() {
            open.push(response);
        } else {
            match response.await {
                Ok(Ok(response)) if response.status() == 503 => refused += 1,
                Ok(Ok(response)) => other.push(response.status().to_string()),
                Ok(Err(error)) => other.push(error.to_string()),
                Err(error) => other.push(error.to_string()),
            }
        }
    }
    let answered = refused + other.len();
    println!(
        "stalled uploads: {count} uploads of a PDF, each pausing after {:.1} MiB (tresor serve --dev, SQLite)",
        file_bytes as f64 / MIB as f64
    );
    println!(
        "  answered while paused: {refused} x 503, {} other {:?}",
        other.len(),
        other.iter().take(3).collect::<Vec<_>>()
    );
    println!("  held open (paused): {}", count - answered);
    println!(
        "  server RSS before {:.1} MiB, while paused {:.1} MiB (samples each second: {:?} MiB), peak {:.1} MiB, {:.1} s",
        rss_before as f64 / 1024.0,
        rss_during as f64 / 1024.0,
        samples.iter().map(|kib| kib / 1024).collect::<Vec<_>>(),
        peak as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    );
    // Keep pausing past body_idle_timeout_seconds (20 s): the server should
    // answer 408 and free what the paused uploads held.
    let idle_deadline = started + Duration::from_secs(35);
    while Instant::now() < idle_deadline && open.iter().any(|response| !response.is_finished()) {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (finished, still_open): (Vec<_>, Vec<_>) = open.into_iter().partition(|response| response.is_finished());
    let mut timed_out = 0;
    for response in finished {
        if let Ok(Ok(response)) = response.await
            && response.status() == 408
        {
            timed_out += 1;
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    println!(
        "  after {:.0} s: {timed_out} x 408, {} still open; server RSS {:.1} MiB",
        started.elapsed().as_secs_f64(),
        still_open.len(),
        memory_kib(pid).0 as f64 / 1024.0
    );
    drop(bodies);
    for response in still_open {
        response.abort();
    }
}

/// One MiB that sniffs as PDF: a cheap, incompressible-enough pattern.
fn pdf_block() -> Vec<u8> {
    let mut block = vec![0u8; MIB as usize];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for byte in block.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    block[..9].copy_from_slice(b"%PDF-1.7\n");
    block
}

/// Stream a PDF-looking body of `mib` MiB as multipart without holding it in memory.
async fn upload(browser: &reqwest::Client, base: &str, csrf: &str, mib: u64) {
    let total = mib * MIB;
    let block = pdf_block();
    let blocks =
        futures_util::stream::iter(0..mib).map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::from(block.clone())));
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(blocks), total)
        .file_name("big.pdf")
        .mime_str("application/pdf")
        .expect("mime");
    let form = reqwest::multipart::Form::new()
        .text("type", "income_statement")
        .text("field.employer", "Benchmark GmbH")
        .text("field.gross_monthly_income", "3000")
        .text("field.net_monthly_income", "2000")
        .text("field.period_from", "2026-01-01")
        .text("field.period_to", "2026-12-31")
        .part("file", part);
    let response = browser
        .post(format!("{base}/api/v1/evidence"))
        .header("x-csrf-token", csrf)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 201, "upload failed: {}", response.text().await.unwrap_or_default());
}
