//! Evidence end to end, continued: "my data" (GDPR Art. 15 and 20), one
//! archive with everything, recorded in the log, checkable from its own
//! bytes.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine;
use tresor::audit::merkle::{leaf_hash, verify_inclusion};

use super::*;

/// The archive's entries by name.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a ZIP archive");
    let mut entries = BTreeMap::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).expect("entry");
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("entry bytes");
        entries.insert(entry.name().expect("entry name").into_owned(), content);
    }
    entries
}

pub(super) async fn my_data_is_one_archive_with_everything_and_is_recorded(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let ben = log_in(&app, "ben", "substantial").await;
    let file = pdf(150_000);
    let id = upload_ok(
        &app,
        &anna,
        upload_form("income_statement", &income_fields(), Some(attachment("Lohn.pdf", file.clone()))),
    )
    .await;
    upload_ok(
        &app,
        &ben,
        upload_form("income_statement", &income_fields_with_owned("employer", "Bens Baumschule"), None),
    )
    .await;

    let (status, offer) = {
        let response = anna.browser.get(app.url("/account/data")).send().await.expect("page");
        (response.status(), response.text().await.expect("html"))
    };
    assert_eq!(status, StatusCode::OK);
    assert!(offer.contains("action=\"/account/data\"") && offer.contains(&anna.csrf), "{offer}");

    // Without the session's CSRF token: refused, nothing recorded.
    let refused = anna.browser.post(app.url("/account/data")).form(&[("csrf", "wrong")]).send().await.expect("post");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Without a session: refused.
    let stranger = TestApp::browser().post(app.url("/account/data")).form(&[("csrf", "x")]).send().await.expect("post");
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED);

    let response = anna.browser.post(app.url("/account/data")).form(&[("csrf", anna.csrf.as_str())]).send().await;
    let response = response.expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], "application/zip");
    assert!(
        response.headers()[CONTENT_DISPOSITION].to_str().expect("ascii").starts_with("attachment; filename=\"tresor-")
    );
    let entries = unzip(&response.bytes().await.expect("archive"));

    // data.json: anna's evidence with its values and the file's path; not ben's.
    let data: Value = serde_json::from_slice(&entries["data.json"]).expect("data.json");
    let evidence = data["evidence"].as_array().expect("evidence");
    assert_eq!(evidence.len(), 1, "{data}");
    assert_eq!(evidence[0]["id"], id.as_str());
    assert_eq!(evidence[0]["fields"]["gross_monthly_income"], "1234.50");
    let path = evidence[0]["file"]["path"].as_str().expect("file path");
    assert_eq!(entries[path], file, "the file is in the archive, byte for byte");
    let text = String::from_utf8_lossy(&entries["data.json"]).into_owned();
    assert!(!text.contains("Bens Baumschule"), "nothing of ben's");

    // summary.html: the same for people.
    let summary = String::from_utf8(entries["summary.html"].clone()).expect("utf-8");
    assert!(summary.contains("<html lang=\"de\"") && summary.contains("1.234,50 €"), "{summary}");
    assert!(summary.contains(&format!("href=\"{path}\"")), "{summary}");

    // access-log.json: every entry with proofs that check from the bytes alone.
    let log: Value = serde_json::from_slice(&entries["access-log.json"]).expect("access-log.json");
    let mut checked = 0;
    for page in log.as_array().expect("pages") {
        let Some(note) = page["checkpoint"].as_str() else { continue };
        let mut lines = note.lines();
        let (_origin, size, root) = (lines.next(), lines.next().expect("size"), lines.next().expect("root"));
        let size: u64 = size.parse().expect("tree size");
        let root: [u8; 32] =
            base64::engine::general_purpose::STANDARD.decode(root).expect("base64 root").try_into().expect("32 bytes");
        for entry in page["entries"].as_array().expect("entries") {
            let body = entry["body"].as_str().expect("the stored bytes");
            let leaf = leaf_hash(body.as_bytes());
            assert_eq!(hex::encode(leaf), entry["leaf_hash"].as_str().expect("leaf hash"));
            let Some(proof) = entry["inclusion_proof"].as_array() else { continue };
            let proof: Vec<[u8; 32]> = proof
                .iter()
                .map(|hash| hex::decode(hash.as_str().expect("hex")).expect("hex").try_into().expect("32 bytes"))
                .collect();
            let index = entry["sequence"].as_u64().expect("sequence");
            verify_inclusion(&leaf, index, size, &proof, &root).expect("the proof checks");
            checked += 1;
        }
    }
    assert!(checked > 0, "{log}");

    // The export itself is in anna's log, naming the evidence it opened.
    let mine: Value =
        anna.browser.get(app.url("/api/v1/audit/mine")).send().await.expect("log").json().await.expect("json");
    let export = mine["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|entry| entry["entry"]["reason"] == "data_export")
        .unwrap_or_else(|| panic!("no data_export entry: {mine}"));
    assert_eq!(export["entry"]["action"], "evidence_download");
    assert_eq!(export["entry"]["targets"]["evidence"][0], id.as_str());

    // Special-category evidence needs the online ID: with a weaker login it is
    // listed as not included, never opened.
    let certificate =
        upload_ok(&app, &anna, upload_form("severe_disability_certificate", &disability_fields(), None)).await;
    let weaker = log_in(&app, "anna", "substantial").await;
    let response = weaker.browser.post(app.url("/account/data")).form(&[("csrf", weaker.csrf.as_str())]).send().await;
    let entries = unzip(&response.expect("download").bytes().await.expect("archive"));
    let data: Value = serde_json::from_slice(&entries["data.json"]).expect("data.json");
    assert_eq!(data["evidence"].as_array().expect("evidence").len(), 1, "{data}");
    assert_eq!(data["not_included"][0]["id"], certificate.as_str(), "{data}");
    assert_eq!(data["not_included"][0]["needs_login_level"], "high");
    let text = String::from_utf8_lossy(&entries["data.json"]).into_owned();
    assert!(!text.contains("Schmidt") && !text.contains("degree_of_disability"), "{text}");
    app.stop().await;
}
