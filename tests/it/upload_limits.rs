//! Uploads under load (issue 12, point 2): the global memory budget for
//! uploads in flight (503 `uploads_busy` with `Retry-After` once it stays
//! full), the per-citizen cap (429 `too_many_uploads`), stalled and slow
//! bodies (408 `upload_timed_out`, pending rows removed, memory freed), and
//! every path giving its room back: success, error, timeout, and a client
//! that goes away. Uploads are held open mid-body by a body the test feeds
//! through a channel.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tresor::config::Limits;
use tresor::http::upload::UPLOAD_MEMORY_BYTES;

use crate::support::app::{Backend, Citizen, TestApp, TestAppOptions};

const BOUNDARY: &str = "tresor-upload-limits-5c1e";

/// A valid income statement's fields (also used by `outage`).
pub(crate) const INCOME_FIELDS: &[(&str, &str)] = &[
    ("employer", "Zebrafink Maschinenbau GmbH"),
    ("gross_monthly_income", "1.234,50"),
    ("net_monthly_income", "987,6"),
    ("period_from", "01.12.2026"),
    ("period_to", "31.12.2026"),
    ("household_members", "3"),
];

on_both_backends!(
    a_full_memory_budget_answers_503_until_room_is_free,
    each_citizen_has_a_cap_on_concurrent_uploads,
    a_stalled_body_times_out_and_frees_everything,
    a_slow_body_ends_at_the_whole_upload_limit,
    a_client_that_goes_away_frees_its_room_and_its_file,
    text_parts_have_a_bound_altogether,
);

/// Limits with room for exactly one upload in flight and a short wait.
fn room_for_one_upload() -> Limits {
    Limits {
        upload_memory_bytes: UPLOAD_MEMORY_BYTES,
        upload_wait_milliseconds: 300,
        ..TestAppOptions::new(Backend::Sqlite).limits
    }
}

async fn start(backend: Backend, limits: Limits) -> TestApp {
    let mut options = TestAppOptions::new(backend);
    options.limits = limits;
    TestApp::start_with(options).await
}

fn pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((bytes.len()..len).map(|i| (i % 251) as u8));
    bytes
}

/// The multipart body up to `file_bytes` bytes into the file part.
fn multipart_head(file_bytes: usize) -> Vec<u8> {
    let mut head = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nincome_statement\r\n")
        .into_bytes();
    for (name, value) in INCOME_FIELDS {
        head.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"field.{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    head.extend_from_slice(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    head.extend_from_slice(&pdf(file_bytes));
    head
}

/// More file bytes (not a PDF header: the middle of the file).
fn more_file_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 241) as u8).collect()
}

fn multipart_tail() -> Vec<u8> {
    format!("\r\n--{BOUNDARY}--\r\n").into_bytes()
}

/// An upload whose body the test sends piece by piece; it stays open (the
/// server waits for more) until `finish` or until the sender is dropped.
struct HeldUpload {
    body: Option<mpsc::Sender<Result<Vec<u8>, std::io::Error>>>,
    response: JoinHandle<reqwest::Result<reqwest::Response>>,
}

impl HeldUpload {
    /// POST `first` to `/api/v1/evidence` with `client`, and keep the body open.
    fn start(client: &reqwest::Client, base: &str, csrf: &str, first: Vec<u8>) -> Self {
        let (sender, receiver) = mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        sender.try_send(Ok(first)).expect("room for the first piece");
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            receiver.recv().await.map(|piece| (piece, receiver))
        });
        let request = client
            .post(format!("{base}/api/v1/evidence"))
            .header("X-CSRF-Token", csrf)
            .header(CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
            .timeout(Duration::from_secs(30))
            .body(reqwest::Body::wrap_stream(stream));
        Self { body: Some(sender), response: tokio::spawn(request.send()) }
    }

    async fn send(&self, bytes: Vec<u8>) {
        self.body.as_ref().expect("body open").send(Ok(bytes)).await.expect("the request still reads its body");
    }

    /// Send the rest of the file and the closing boundary; the response.
    async fn finish(mut self) -> reqwest::Response {
        self.send(more_file_bytes(200 * 1024)).await;
        self.send(multipart_tail()).await;
        self.body = None;
        self.response.await.expect("request task").expect("response")
    }

    /// The response, whatever the body is doing (bounded by the client timeout).
    async fn response(self) -> reqwest::Result<reqwest::Response> {
        self.response.await.expect("request task")
    }
}

fn start_held(app: &TestApp, citizen: &Citizen) -> HeldUpload {
    HeldUpload::start(&citizen.browser, &app.base, &citizen.csrf, multipart_head(300 * 1024))
}

/// Wait (a few seconds at most) until the server has admitted the held
/// upload and begun its file: `files` has `count` rows.
async fn wait_for_pending_files(app: &TestApp, count: i64) {
    for _ in 0..200 {
        if app.count_rows("files").await == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("expected {count} file rows: {:?}", app.data_row_counts().await);
}

/// A complete, small upload through the API.
async fn upload(app: &TestApp, citizen: &Citizen) -> reqwest::Response {
    let mut body = multipart_head(100 * 1024);
    body.extend_from_slice(&multipart_tail());
    citizen
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("X-CSRF-Token", &citizen.csrf)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .expect("upload request")
}

/// The same upload as the page form sends it (CSRF as a part, no JavaScript).
async fn upload_form(app: &TestApp, citizen: &Citizen) -> reqwest::Response {
    upload_form_with(app, citizen, None).await
}

/// The form upload as a browser sends it from the vault's own page (with
/// its `Origin`).
async fn upload_form_from_site(app: &TestApp, citizen: &Citizen) -> reqwest::Response {
    upload_form_with(app, citizen, Some(app.base.trim_end_matches('/').to_owned())).await
}

async fn upload_form_with(app: &TestApp, citizen: &Citizen, origin: Option<String>) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().text("csrf", citizen.csrf.clone()).text("type", "income_statement");
    for (name, value) in INCOME_FIELDS {
        form = form.text(format!("field.{name}"), *value);
    }
    let file = reqwest::multipart::Part::bytes(pdf(50_000)).file_name("a.pdf");
    let mut request = citizen.no_redirects().post(app.url("/evidence")).header("Accept-Language", "en");
    if let Some(origin) = origin {
        request = request.header("Origin", origin);
    }
    request.multipart(form.part("file", file)).send().await.expect("form upload")
}

/// A refused form upload from the vault's own page: the form comes back
/// with the refusal in its summary, the typed values, the request to choose
/// the file again, the status and `Retry-After`.
async fn expect_form_kept(response: reqwest::Response, status: StatusCode, message: &str) {
    assert_eq!(response.status(), status);
    assert!(response.headers().contains_key(RETRY_AFTER), "Retry-After on the form");
    let html = response.text().await.expect("page");
    assert!(html.contains(message), "the refusal is in the summary: {html}");
    assert!(html.contains("value=\"Zebrafink Maschinenbau GmbH\""), "the typed employer is kept: {html}");
    assert!(html.contains("Please choose the file again."), "the file is asked for again: {html}");
}

async fn expect_created(response: reqwest::Response, context: &str) {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, StatusCode::CREATED, "{context}: {body}");
}

/// An API refusal: status, code, a message and `Retry-After` in seconds.
async fn expect_refusal(response: reqwest::Response, status: StatusCode, code: &str) {
    let actual = response.status();
    let retry_after = response.headers().get(RETRY_AFTER).map(|v| v.to_str().expect("ascii").to_owned());
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{actual}: error body is not JSON: {e}"));
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    let seconds: u64 = retry_after.expect("Retry-After").parse().expect("Retry-After in seconds");
    assert!(seconds > 0);
}

/// A page refusal: the HTML error page with the status and `Retry-After`.
async fn expect_page_refusal(response: reqwest::Response, status: StatusCode, message: &str) {
    assert_eq!(response.status(), status);
    assert!(response.headers().contains_key(RETRY_AFTER), "Retry-After on the page");
    let content_type = response.headers()[CONTENT_TYPE].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let html = response.text().await.expect("page");
    assert!(html.contains(message), "{html}");
    assert!(html.contains(&format!("{}", status.as_u16())), "the page names the status");
}

// --- (a) the memory budget -------------------------------------------------------

async fn a_full_memory_budget_answers_503_until_room_is_free(backend: Backend) {
    let app = start(backend, room_for_one_upload()).await;
    let anna = app.log_in_citizen("anna", "substantial").await;
    let ben = app.log_in_citizen("ben", "substantial").await;

    // Anna's upload takes the whole budget and stalls mid-file.
    let held = start_held(&app, &anna);
    wait_for_pending_files(&app, 1).await;

    // Ben waits briefly for room, then is told to come back later; nothing
    // of his upload is read or stored.
    expect_refusal(upload(&app, &ben).await, StatusCode::SERVICE_UNAVAILABLE, "uploads_busy").await;
    expect_page_refusal(upload_form(&app, &ben).await, StatusCode::SERVICE_UNAVAILABLE, "Too many uploads").await;
    // From the vault's own page, the form comes back with what ben typed:
    // its text parts are read within a reserve of their own.
    expect_form_kept(upload_form_from_site(&app, &ben).await, StatusCode::SERVICE_UNAVAILABLE, "Too many uploads")
        .await;
    assert_eq!(app.count_rows("files").await, 1, "only anna's pending file");

    // Once anna's upload is through, the room is free again.
    expect_created(held.finish().await, "anna's held upload").await;
    expect_created(upload(&app, &ben).await, "ben's upload after anna's").await;
    let form = upload_form(&app, &ben).await;
    assert_eq!(form.status(), StatusCode::SEE_OTHER, "the form upload goes through too");
    assert_eq!(app.count_rows("evidence").await, 3);
    app.stop().await;
}

// --- (b) the per-citizen cap -----------------------------------------------------

async fn each_citizen_has_a_cap_on_concurrent_uploads(backend: Backend) {
    let app = start(backend, Limits { uploads_per_citizen: 1, ..TestAppOptions::new(backend).limits }).await;
    let anna = app.log_in_citizen("anna", "substantial").await;
    let ben = app.log_in_citizen("ben", "substantial").await;

    let held = start_held(&app, &anna);
    wait_for_pending_files(&app, 1).await;

    // Anna's second upload is refused at once, by API and by form.
    expect_refusal(upload(&app, &anna).await, StatusCode::TOO_MANY_REQUESTS, "too_many_uploads").await;
    expect_page_refusal(upload_form(&app, &anna).await, StatusCode::TOO_MANY_REQUESTS, "other uploads in progress")
        .await;
    expect_form_kept(
        upload_form_from_site(&app, &anna).await,
        StatusCode::TOO_MANY_REQUESTS,
        "other uploads in progress",
    )
    .await;
    // Ben is not affected.
    expect_created(upload(&app, &ben).await, "ben's upload").await;

    // Anna's held upload ends badly (the body stops short): her slot is free again.
    let HeldUpload { body, response } = held;
    drop(body);
    let failed = response.await.expect("request task");
    if let Ok(response) = failed {
        assert!(!response.status().is_success(), "a body that stops short is no upload: {}", response.status());
    }
    expect_created(upload(&app, &anna).await, "anna's upload after the failed one").await;
    // And after a success too.
    expect_created(upload(&app, &anna).await, "anna's next upload").await;
    app.stop().await;
}

// --- (c) stalled and slow bodies -------------------------------------------------

/// 300 KiB of the file, then silence (the client keeps the connection open):
/// the server answers 408 after `body_idle_timeout_seconds` while the body
/// is still open, with the pending file removed and the budget free.
async fn a_stalled_body_times_out_and_frees_everything(backend: Backend) {
    let app = start(backend, Limits { body_idle_timeout_seconds: 1, ..room_for_one_upload() }).await;
    let anna = app.log_in_citizen("anna", "substantial").await;

    let held = start_held(&app, &anna);
    wait_for_pending_files(&app, 1).await;
    let (body, response) = (held.body, held.response);
    let response = tokio::time::timeout(Duration::from_secs(20), response)
        .await
        .expect("the server gives up on the stalled body within 20 s")
        .expect("request task")
        .expect("the client gets an answer while its body is still open");
    drop(body);
    let status = response.status();
    let error: Value = response.json().await.expect("JSON error");
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{error}");
    assert_eq!(error["error"]["code"], "upload_timed_out", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("No data arrived")), "{error}");
    // Its pending rows are gone before the answer (no sweep), and its room
    // in the budget is free: the next upload is admitted at once.
    for table in ["files", "file_chunks", "evidence"] {
        assert_eq!(app.count_rows(table).await, 0, "rows left in {table}");
    }
    expect_created(upload(&app, &anna).await, "the upload after the stalled one").await;
    app.stop().await;
}

/// A body that trickles (never silent for long) still ends at the whole
/// upload's limit, with the same cleanup.
async fn a_slow_body_ends_at_the_whole_upload_limit(backend: Backend) {
    let limits = Limits { body_idle_timeout_seconds: 10, upload_timeout_seconds: 2, ..room_for_one_upload() };
    let app = start(backend, limits).await;
    let anna = app.log_in_citizen("anna", "substantial").await;
    let trickle = start_held(&app, &anna);
    let sender = trickle.body.clone().expect("body open");
    let feeder = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if sender.send(Ok(more_file_bytes(1024))).await.is_err() {
                break;
            }
        }
    });
    let response = tokio::time::timeout(Duration::from_secs(20), trickle.response())
        .await
        .expect("the server ends the slow upload within 20 s")
        .expect("an answer");
    feeder.abort();
    let status = response.status();
    let error: Value = response.json().await.expect("JSON error");
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{error}");
    assert_eq!(error["error"]["code"], "upload_timed_out", "{error}");
    assert!(error["error"]["message"].as_str().is_some_and(|m| m.contains("took too long")), "{error}");
    for table in ["files", "file_chunks", "evidence"] {
        assert_eq!(app.count_rows(table).await, 0, "rows left in {table}");
    }
    expect_created(upload(&app, &anna).await, "the upload after the slow one").await;
    app.stop().await;
}

// --- dropped requests --------------------------------------------------------------

/// Over HTTP/2 a client that cancels its request resets the stream and the
/// server drops the handler mid-body: its budget, its slot and its pending
/// file must go with it (not wait for the sweep).
async fn a_client_that_goes_away_frees_its_room_and_its_file(backend: Backend) {
    let app = start(backend, Limits { uploads_per_citizen: 1, ..room_for_one_upload() }).await;
    let anna = app.log_in_citizen("anna", "substantial").await;
    let tls = app.start_tls().await;
    let h2 =
        tls.client_builder(None).cookie_provider(anna.jar.clone()).http2_prior_knowledge().build().expect("client");

    let held = HeldUpload::start(&h2, &tls.base, &anna.csrf, multipart_head(300 * 1024));
    wait_for_pending_files(&app, 1).await;
    held.response.abort();
    drop(held.body);

    let mut removed = false;
    for _ in 0..100 {
        if app.count_rows("files").await == 0 && app.count_rows("file_chunks").await == 0 {
            removed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(removed, "the cancelled upload's pending file is removed: {:?}", app.data_row_counts().await);
    expect_created(upload(&app, &anna).await, "the upload after the cancelled one").await;
    tls.shutdown().await;
    app.stop().await;
}

// --- text parts ------------------------------------------------------------------

/// Each text part is bounded (16 KiB) and so are all of them together, so the
/// memory budget covers them: many long parts are refused, nothing stored.
async fn text_parts_have_a_bound_altogether(backend: Backend) {
    let app = start(backend, TestAppOptions::new(backend).limits).await;
    let anna = app.log_in_citizen("anna", "substantial").await;
    let mut form = reqwest::multipart::Form::new().text("type", "income_statement");
    for (name, value) in INCOME_FIELDS {
        form = form.text(format!("field.{name}"), *value);
    }
    for index in 0..20 {
        form = form.text(format!("field.note_{index}"), "x".repeat(15 * 1024));
    }
    let response = anna
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("X-CSRF-Token", &anna.csrf)
        .multipart(form)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    let body: Value = response.json().await.expect("JSON error");
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["error"]["code"], "fields_too_large", "{body}");
    assert_eq!(app.count_rows("evidence").await, 0);
    app.stop().await;
}
