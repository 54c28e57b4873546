//! Evidence end to end, continued: half-finished uploads never become
//! visible and are swept; account erasure removes everything.

use super::*;

// --- 5. half-stored uploads ------------------------------------------------------------

/// The start of a multipart upload whose file part never ends.
fn multipart_head(boundary: &str) -> Vec<u8> {
    let mut head = Vec::new();
    head.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nincome_statement\r\n").as_bytes(),
    );
    for (name, value) in INCOME_FIELDS {
        head.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"field.{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    head.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .as_bytes(),
    );
    head.extend_from_slice(&pdf(300 * 1024));
    head
}

/// Wait (a few seconds at most) until the server has given up on the
/// aborted request and the sweep leaves no file behind.
async fn sweep_until_no_files(app: &TestApp) {
    let far_future = Utc::now() + chrono::Duration::days(3650);
    for _ in 0..100 {
        app.state.vault.store().delete_stale_uploads(far_future).await.expect("sweep");
        if app.count_rows("files").await == 0 && app.count_rows("file_chunks").await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("pending upload rows remain after the sweep: {:?}", app.data_row_counts().await);
}

pub(super) async fn aborted_upload_leaves_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let boundary = "tresor-test-boundary-7f3a";
    let head = multipart_head(boundary);

    // 1) The client's body fails after 300 KiB of file.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = head
        .chunks(16 * 1024)
        .map(|chunk| Ok(chunk.to_vec()))
        .chain(std::iter::once(Err(std::io::Error::other("client gave up"))))
        .collect();
    let result = anna
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("X-CSRF-Token", &anna.csrf)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await;
    if let Ok(response) = result {
        assert!(!response.status().is_success(), "an aborted upload must not succeed: {}", response.status());
    }
    assert!(listed_ids(&app, &anna).await.is_empty());
    sweep_until_no_files(&app).await;

    // 2) The client sends 300 KiB, then goes silent and drops the connection.
    let sent: Vec<Result<Vec<u8>, std::io::Error>> = head.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    let stalling = futures_util::stream::iter(sent).chain(futures_util::stream::pending());
    let result = anna
        .browser
        .post(app.url("/api/v1/evidence"))
        .timeout(Duration::from_millis(1500))
        .header("X-CSRF-Token", &anna.csrf)
        .header(CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(stalling))
        .send()
        .await;
    assert!(result.is_err(), "the stalled request times out on the client");
    sweep_until_no_files(&app).await;
    assert!(listed_ids(&app, &anna).await.is_empty());
    assert_nothing_stored(&app, "after aborted uploads").await;

    // The sweep leaves completed files alone.
    let file = pdf(100_000);
    let id = upload_income_statement(&app, &anna, Some(attachment("kept.pdf", file.clone()))).await;
    let far_future = Utc::now() + chrono::Duration::days(3650);
    assert_eq!(app.state.vault.store().delete_stale_uploads(far_future).await.expect("sweep"), 0);
    assert!(download(&app, &anna, &id, "application/pdf").await == file);
    app.stop().await;
}

pub(super) async fn pending_file_chunks_are_never_visible(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let owner = citizen_id(&app, &anna).await;
    let vault = &app.state.vault;

    // Written in full, but never attached to evidence: still pending.
    let mut upload = vault.begin_file(&owner, "pending.pdf", 1024 * 1024).await.expect("begin");
    upload.write(vault, &pdf(200_000)).await.expect("write");
    let finished = upload.finish(vault).await.expect("finish");
    let file_id = finished.file_id().clone();
    assert_eq!(app.count_rows("file_chunks").await, 4, "the chunks are written");
    for index in 0..4 {
        assert!(app.store.file_chunk(&file_id, index).await.expect("store").is_none(), "pending chunk {index}");
    }
    // Half written: the first batch is flushed, nothing is finished.
    let mut half = vault.begin_file(&owner, "half.pdf", 100 * 1024 * 1024).await.expect("begin");
    half.write(vault, &pdf(65 * 64 * 1024)).await.expect("write");
    let half_id = half.file_id().clone();
    assert!(app.count_rows("file_chunks").await > 4, "a batch of the half upload is written");
    assert!(app.store.file_chunk(&half_id, 0).await.expect("store").is_none());

    // Neither shows up through the API.
    assert!(listed_ids(&app, &anna).await.is_empty());

    // A sweep for uploads older than an hour ago leaves them; a later one removes them.
    let earlier = Utc::now() - chrono::Duration::hours(1);
    assert_eq!(vault.store().delete_stale_uploads(earlier).await.expect("sweep"), 0);
    assert_eq!(app.count_rows("files").await, 2);
    let far_future = Utc::now() + chrono::Duration::days(3650);
    assert_eq!(vault.store().delete_stale_uploads(far_future).await.expect("sweep"), 2);
    assert_nothing_stored(&app, "after the sweep").await;

    // The swept file can no longer become evidence.
    let fields: std::collections::BTreeMap<String, String> = income_fields().into_iter().collect();
    let level = tresor::policy::LoginLevel::High;
    let refused = vault.create_evidence(&owner, level, "income_statement", &fields, Some(finished)).await;
    assert!(refused.is_err(), "a swept upload cannot be attached");
    assert_nothing_stored(&app, "after the refused attach").await;
    app.stop().await;
}

// --- 6. account erasure ------------------------------------------------------------------

pub(super) async fn erasing_the_account_removes_everything(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let ben = log_in(&app, "ben", "substantial").await;
    upload_income_statement(&app, &anna, Some(attachment("a.pdf", pdf(140_000)))).await;
    upload_ok(&app, &anna, upload_form("severe_disability_certificate", &disability_fields(), None)).await;
    let bens = upload_income_statement(&app, &ben, Some(attachment("b.png", png(70_000)))).await;
    let annas_cookie = app.cookies_for(&anna.jar).expect("Anna's session cookie");
    let before = app.data_row_counts().await;

    let response = delete(&anna, &app, "/api/v1/account", Some(&anna.csrf)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let cleared: Vec<&str> = response.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(cleared.iter().any(|c| c.starts_with("tresor=;") && c.contains("Max-Age=0")), "{cleared:?}");

    let after = app.data_row_counts().await;
    let expected = [
        ("citizens", 1),
        ("sessions", 1),
        ("evidence", 1),
        ("evidence_fields", INCOME_FIELDS.len() as i64),
        ("files", 1),
        ("file_chunks", 2),
    ];
    assert_eq!(after, expected, "only Ben's data is left (before: {before:?})");

    // The session is gone on the server, not just the cookie in the browser.
    expect_error(get(&anna, &app, "/api/v1/session").await, StatusCode::UNAUTHORIZED, "not_logged_in").await;
    let replay = TestApp::browser().get(app.url("/api/v1/evidence")).header("Cookie", annas_cookie).send().await;
    expect_error(replay.expect("replay"), StatusCode::UNAUTHORIZED, "not_logged_in").await;

    assert_eq!(listed_ids(&app, &ben).await, vec![bens.clone()]);
    assert_eq!(download(&app, &ben, &bens, "image/png").await.len(), 70_000);

    let anna_again = log_in(&app, "anna", "high").await;
    assert!(listed_ids(&app, &anna_again).await.is_empty(), "a new, empty account");
    assert_eq!(app.count_rows("citizens").await, 2);
    app.stop().await;
}
