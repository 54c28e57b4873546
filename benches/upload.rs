//! Upload benchmark: one large file through the real server (`tresor serve
//! --dev`, release build, embedded SQLite), measuring the server's resident
//! memory growth and the throughput beside `dd ... conv=fdatasync` writing the
//! same size to the same disk in the same run.
//!
//! Run: `cargo bench --bench upload` (default 1 GiB; `TRESOR_BENCH_UPLOAD_MIB`
//! changes the size). Figures go into the README.

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
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_tresor"))
        .args(["serve", "--dev", "--listen", &format!("127.0.0.1:{port}")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
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

/// Stream a PDF-looking body of `mib` MiB as multipart without holding it in memory.
async fn upload(browser: &reqwest::Client, base: &str, csrf: &str, mib: u64) {
    let total = mib * MIB;
    let mut block = vec![0u8; MIB as usize];
    // A cheap, incompressible-enough pattern; the head makes it sniff as PDF.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    for byte in block.iter_mut() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = state as u8;
    }
    block[..9].copy_from_slice(b"%PDF-1.7\n");
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
