//! Evidence end to end: the real vault on a loopback port, logged in through
//! the real OpenID provider, on SQLite and on PostgreSQL. Upload, list, view,
//! download and delete through the JSON API and the pages without JavaScript;
//! every refusal (size, type, fields, level, CSRF, someone else's evidence)
//! leaves nothing behind; files are sealed at rest; half-finished uploads
//! never become visible and are swept; account erasure removes everything.
//!
//! Each scenario is one `async fn(Backend)`; `on_both_backends!` runs it as a
//! `#[tokio::test]` per backend (`evidence::sqlite::…`, `evidence::postgres::…`).

use std::time::Duration;

use chrono::Utc;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tresor::ids::{CitizenId, FileId};

use crate::support::app::{Backend, Citizen, TestApp, TestAppOptions};

mod cleanup;
mod forms;
mod key_rotation;
mod my_data;
mod pages;

use cleanup::{
    aborted_upload_leaves_nothing, erasing_the_account_removes_everything, pending_file_chunks_are_never_visible,
};
use forms::{
    a_form_draft_expires_after_thirty_minutes_and_is_swept,
    an_ended_session_keeps_the_form_as_a_sealed_draft_for_this_browser,
    every_upload_error_shows_the_form_again_with_what_was_typed,
};
use my_data::my_data_is_one_archive_with_everything_and_is_recorded;
use pages::{pages_speak_german_or_english, pages_work_without_javascript};

// --- helpers -------------------------------------------------------------------

async fn log_in(app: &TestApp, persona: &str, level: &str) -> Citizen {
    app.log_in_citizen(persona, level).await
}

/// Valid fields of an `income_statement`, as a citizen would type them.
const INCOME_FIELDS: &[(&str, &str)] = &[
    ("employer", "Zebrafink Maschinenbau GmbH"),
    ("gross_monthly_income", "1.234,50"),
    ("net_monthly_income", "987,6"),
    ("period_from", "01.12.2026"),
    ("period_to", "31.12.2026"),
    ("household_members", "3"),
];

/// `INCOME_FIELDS` with one field replaced (`Some`) or left out (`None`).
fn income_fields_with(name: &str, value: Option<&'static str>) -> Vec<(String, String)> {
    let mut fields: Vec<(String, String)> = INCOME_FIELDS
        .iter()
        .filter(|(field, _)| *field != name)
        .map(|(field, value)| ((*field).to_owned(), (*value).to_owned()))
        .collect();
    if let Some(value) = value {
        fields.push((name.to_owned(), value.to_owned()));
    }
    fields
}

/// `INCOME_FIELDS` with `name` set to `value`.
fn income_fields_with_owned(name: &str, value: &str) -> Vec<(String, String)> {
    let mut fields = income_fields_with(name, None);
    fields.push((name.to_owned(), value.to_owned()));
    fields
}

fn income_fields() -> Vec<(String, String)> {
    income_fields_with("", None)
}

/// Deterministic filler that does not repeat with the 64 KiB chunk size.
fn filler(len: usize, seed: u8) -> impl Iterator<Item = u8> {
    (0..len).map(move |i| (i % 251) as u8 ^ seed)
}

/// A file of exactly `len` bytes that starts with `magic` and contains
/// `marker` right after it.
fn file_with(magic: &[u8], marker: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len);
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(marker);
    assert!(bytes.len() <= len, "file too short for its header");
    bytes.extend(filler(len - bytes.len(), magic[0]));
    bytes
}

fn pdf(len: usize) -> Vec<u8> {
    file_with(b"%PDF-1.4\n", b"", len)
}

fn png(len: usize) -> Vec<u8> {
    file_with(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", b"", len)
}

fn jpeg(len: usize) -> Vec<u8> {
    file_with(b"\xff\xd8\xff\xe0\0\x10JFIF\0", b"", len)
}

/// A file attached to an upload: name, bytes and the media type the client
/// claims (the server must not trust it).
struct Attachment {
    name: &'static str,
    bytes: Vec<u8>,
    claimed_type: &'static str,
}

fn attachment(name: &'static str, bytes: Vec<u8>) -> Attachment {
    Attachment { name, bytes, claimed_type: "application/octet-stream" }
}

/// The multipart body of an upload: `type`, `field.<name>` parts, `file`.
fn upload_form(type_id: &str, fields: &[(String, String)], file: Option<Attachment>) -> Form {
    let mut form = Form::new().text("type", type_id.to_owned());
    for (name, value) in fields {
        form = form.text(format!("field.{name}"), value.clone());
    }
    if let Some(file) = file {
        let part = Part::bytes(file.bytes).file_name(file.name).mime_str(file.claimed_type).expect("mime");
        form = form.part("file", part);
    }
    form
}

/// POST /api/v1/evidence with the citizen's CSRF token.
async fn upload(app: &TestApp, citizen: &Citizen, form: Form) -> reqwest::Response {
    citizen
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("X-CSRF-Token", &citizen.csrf)
        .multipart(form)
        .send()
        .await
        .expect("upload request")
}

/// Upload that must succeed; returns the new evidence id.
async fn upload_ok(app: &TestApp, citizen: &Citizen, form: Form) -> String {
    let response = upload(app, citizen, form).await;
    let status = response.status();
    let location = response.headers().get(LOCATION).map(|v| v.to_str().expect("ascii").to_owned());
    let body: Value = response.json().await.expect("upload json");
    assert_eq!(status, StatusCode::CREATED, "upload: {body}");
    let id = body["id"].as_str().expect("id").to_owned();
    assert_eq!(location.as_deref(), Some(format!("/api/v1/evidence/{id}").as_str()));
    id
}

async fn upload_income_statement(app: &TestApp, citizen: &Citizen, file: Option<Attachment>) -> String {
    upload_ok(app, citizen, upload_form("income_statement", &income_fields(), file)).await
}

/// Assert an API error response: status, `error.code`; returns the body.
async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let actual = response.status();
    let body: Value = response.json().await.unwrap_or_else(|e| panic!("{actual}: error body is not JSON: {e}"));
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    body
}

async fn get(citizen: &Citizen, app: &TestApp, path: &str) -> reqwest::Response {
    citizen.browser.get(app.url(path)).send().await.expect("GET")
}

async fn get_json(citizen: &Citizen, app: &TestApp, path: &str) -> Value {
    let response = get(citizen, app, path).await;
    assert_eq!(response.status(), StatusCode::OK, "GET {path}");
    response.json().await.expect("json")
}

async fn delete(citizen: &Citizen, app: &TestApp, path: &str, csrf: Option<&str>) -> reqwest::Response {
    let mut request = citizen.browser.delete(app.url(path));
    if let Some(token) = csrf {
        request = request.header("X-CSRF-Token", token);
    }
    request.send().await.expect("DELETE")
}

/// The ids in the citizen's list, in list order.
async fn listed_ids(app: &TestApp, citizen: &Citizen) -> Vec<String> {
    let list = get_json(citizen, app, "/api/v1/evidence").await;
    list["evidence"]
        .as_array()
        .expect("evidence array")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

/// Download through the API; asserts the headers and returns the bytes.
async fn download(app: &TestApp, citizen: &Citizen, id: &str, media_type: &str) -> Vec<u8> {
    let response = get(citizen, app, &format!("/api/v1/evidence/{id}/file")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CONTENT_TYPE], media_type);
    let disposition = response.headers()[CONTENT_DISPOSITION].to_str().expect("ascii").to_owned();
    assert!(disposition.starts_with("attachment; filename="), "{disposition}");
    response.bytes().await.expect("file bytes").to_vec()
}

/// The stored file id of an evidence (from the store: the API does not show it).
async fn stored_file_id(app: &TestApp, citizen_id: &CitizenId, evidence_id: &str) -> FileId {
    let record = app
        .store
        .evidence(citizen_id, &evidence_id.parse().expect("evidence id"))
        .await
        .expect("store")
        .expect("evidence is stored");
    record.file.expect("evidence has a file").id
}

async fn citizen_id(app: &TestApp, citizen: &Citizen) -> CitizenId {
    let session = get_json(citizen, app, "/api/v1/session").await;
    session["citizen_id"].as_str().expect("citizen id").parse().expect("valid citizen id")
}

/// Nothing of any upload is stored: no evidence, fields, files or chunks.
async fn assert_nothing_stored(app: &TestApp, context: &str) {
    for table in ["evidence", "evidence_fields", "files", "file_chunks"] {
        assert_eq!(app.count_rows(table).await, 0, "{context}: rows left in {table}");
    }
}

on_both_backends_and_pkcs11!(
    every_upload_error_shows_the_form_again_with_what_was_typed,
    an_ended_session_keeps_the_form_as_a_sealed_draft_for_this_browser,
    a_form_draft_expires_after_thirty_minutes_and_is_swept,
    upload_view_download_and_delete_a_pdf,
    files_round_trip_at_chunk_boundaries,
    evidence_without_a_file,
    file_over_the_limit_is_refused_and_nothing_is_stored,
    file_type_is_sniffed_from_the_content,
    invalid_fields_are_named,
    unknown_or_missing_type_is_refused,
    malformed_uploads_store_nothing,
    file_names_are_kept_as_display_names_only,
    invisible_characters_are_refused_in_file_names_and_values,
    downloads_are_named_from_the_stored_type,
    type_without_files_refuses_a_file,
    other_citizens_evidence_is_not_found,
    every_api_route_needs_a_session,
    state_changes_need_the_csrf_token,
    special_category_needs_login_level_high,
    aborted_upload_leaves_nothing,
    pending_file_chunks_are_never_visible,
    erasing_the_account_removes_everything,
    pages_work_without_javascript,
    pages_speak_german_or_english,
    my_data_is_one_archive_with_everything_and_is_recorded,
);

// --- 1. upload, view, download, delete -------------------------------------------

async fn upload_view_download_and_delete_a_pdf(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    assert!(listed_ids(&app, &anna).await.is_empty());

    let file = pdf(200_000);
    let id = upload_income_statement(&app, &anna, Some(attachment("Lohnabrechnung Dezember.pdf", file.clone()))).await;

    let list = get_json(&anna, &app, "/api/v1/evidence").await;
    let items = list["evidence"].as_array().expect("array");
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(items[0]["type"], "income_statement");
    assert_eq!(items[0]["has_file"], true);

    let shown = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
    assert_eq!(shown["id"], id.as_str());
    assert_eq!(shown["type"], "income_statement");
    let fields = &shown["fields"];
    assert_eq!(fields["employer"], "Zebrafink Maschinenbau GmbH");
    assert_eq!(fields["gross_monthly_income"], "1234.50", "German money is normalised");
    assert_eq!(fields["net_monthly_income"], "987.60");
    assert_eq!(fields["period_from"], "2026-12-01", "German dates are normalised");
    assert_eq!(fields["period_to"], "2026-12-31");
    assert_eq!(fields["household_members"], "3");
    assert!(fields.get("number_of_children").is_none(), "an optional field left empty is not stored: {shown}");
    assert_eq!(shown["file"]["name"], "Lohnabrechnung Dezember.pdf");
    assert_eq!(shown["file"]["media_type"], "application/pdf");
    assert_eq!(shown["file"]["size"], 200_000);

    let response = get(&anna, &app, &format!("/api/v1/evidence/{id}/file")).await;
    assert_eq!(response.headers()[CONTENT_DISPOSITION], "attachment; filename=\"Lohnabrechnung_Dezember.pdf\"");
    assert_eq!(download(&app, &anna, &id, "application/pdf").await, file);

    let owner = citizen_id(&app, &anna).await;
    let file_id = stored_file_id(&app, &owner, &id).await;
    assert!(app.store.file_chunk(&file_id, 0).await.expect("store").is_some());
    assert_eq!(app.count_rows("file_chunks").await, 4, "200,000 bytes are four 64 KiB chunks");

    let response = delete(&anna, &app, &format!("/api/v1/evidence/{id}"), Some(&anna.csrf)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    expect_error(get(&anna, &app, &format!("/api/v1/evidence/{id}")).await, StatusCode::NOT_FOUND, "not_found").await;
    expect_error(get(&anna, &app, &format!("/api/v1/evidence/{id}/file")).await, StatusCode::NOT_FOUND, "not_found")
        .await;
    assert!(listed_ids(&app, &anna).await.is_empty());
    for index in 0..4 {
        assert!(app.store.file_chunk(&file_id, index).await.expect("store").is_none(), "chunk {index} is gone");
    }
    assert_nothing_stored(&app, "after delete").await;
    let again = delete(&anna, &app, &format!("/api/v1/evidence/{id}"), Some(&anna.csrf)).await;
    expect_error(again, StatusCode::NOT_FOUND, "not_found").await;
    app.stop().await;
}

async fn files_round_trip_at_chunk_boundaries(backend: Backend) {
    const CHUNK: usize = 64 * 1024;
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("tiny.pdf", pdf(9), "application/pdf"),
        ("one-chunk.pdf", pdf(CHUNK), "application/pdf"),
        ("two-chunks.pdf", pdf(2 * CHUNK), "application/pdf"),
        ("two-chunks-and-a-byte.pdf", pdf(2 * CHUNK + 1), "application/pdf"),
        ("odd.pdf", pdf(200_000), "application/pdf"),
        ("scan.png", png(CHUNK + 17), "image/png"),
        ("small.png", png(16), "image/png"),
        ("photo.jpg", jpeg(3 * CHUNK - 1), "image/jpeg"),
        ("small.jpg", jpeg(12), "image/jpeg"),
    ];
    for (name, bytes, media_type) in cases {
        let id = upload_income_statement(&app, &anna, Some(attachment(name, bytes.clone()))).await;
        let shown = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
        assert_eq!(shown["file"]["media_type"], media_type, "{name}");
        assert_eq!(shown["file"]["size"], bytes.len(), "{name}");
        let downloaded = download(&app, &anna, &id, media_type).await;
        assert_eq!(downloaded.len(), bytes.len(), "{name}");
        assert!(downloaded == bytes, "{name}: downloaded bytes differ");
    }
    app.stop().await;
}

async fn evidence_without_a_file(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let id = upload_income_statement(&app, &anna, None).await;

    let list = get_json(&anna, &app, "/api/v1/evidence").await;
    assert_eq!(list["evidence"][0]["has_file"], false, "{list}");
    let shown = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
    assert!(shown["file"].is_null(), "{shown}");
    assert_eq!(shown["fields"]["employer"], "Zebrafink Maschinenbau GmbH");
    let response = get(&anna, &app, &format!("/api/v1/evidence/{id}/file")).await;
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.count_rows("files").await, 0);

    let response = delete(&anna, &app, &format!("/api/v1/evidence/{id}"), Some(&anna.csrf)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_nothing_stored(&app, "after delete").await;
    app.stop().await;
}

// --- 2. refusals -------------------------------------------------------------------

async fn file_over_the_limit_is_refused_and_nothing_is_stored(backend: Backend) {
    const LIMIT: usize = 256 * 1024;
    let app =
        TestApp::start_with(TestAppOptions { upload_limit_bytes: LIMIT as u64, ..TestAppOptions::new(backend) }).await;
    let anna = log_in(&app, "anna", "high").await;

    // One byte over the file limit (the vault counts), and far over the body
    // limit (the multipart reader stops).
    for len in [LIMIT + 1, 300 * 1024, LIMIT + 1024 * 1024 + 1] {
        let form = upload_form("income_statement", &income_fields(), Some(attachment("big.pdf", pdf(len))));
        let body = expect_error(upload(&app, &anna, form).await, StatusCode::PAYLOAD_TOO_LARGE, "file_too_large").await;
        if len < LIMIT + 1024 * 1024 {
            // The limit as the upload form states it (262,144 bytes), not "0 MiB".
            assert_eq!(body["error"]["message"], "The file is too large. The limit is 262.1 kB.", "{body}");
        }
        assert_nothing_stored(&app, &format!("{len} bytes: {body}")).await;
    }
    assert!(listed_ids(&app, &anna).await.is_empty());

    // Exactly the limit is fine.
    let file = pdf(LIMIT);
    let id = upload_income_statement(&app, &anna, Some(attachment("exact.pdf", file.clone()))).await;
    assert!(download(&app, &anna, &id, "application/pdf").await == file);
    app.stop().await;
}

async fn file_type_is_sniffed_from_the_content(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let mut exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
    exe.extend(filler(100_000, 7));
    let cases = [
        Attachment { name: "notes.txt", bytes: b"Hello, this is plain text.\n".repeat(50), claimed_type: "text/plain" },
        Attachment {
            name: "letter.pdf",
            bytes: b"Dear office, plain text.\n".repeat(50),
            claimed_type: "application/pdf",
        },
        Attachment { name: "invoice.pdf", bytes: exe, claimed_type: "application/pdf" },
        Attachment { name: "page.html", bytes: b"<!DOCTYPE html><html></html>".to_vec(), claimed_type: "text/html" },
        Attachment { name: "empty.pdf", bytes: Vec::new(), claimed_type: "application/pdf" },
    ];
    for file in cases {
        let name = file.name;
        let form = upload_form("income_statement", &income_fields(), Some(file));
        let response = upload(&app, &anna, form).await;
        expect_error(response, StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_file_type").await;
        assert_nothing_stored(&app, name).await;
    }
    app.stop().await;
}

/// (evidence type, the fields sent, the field the error names, its code)
type FieldCase = (&'static str, Vec<(String, String)>, &'static str, &'static str);

async fn invalid_fields_are_named(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let residence = |residence_type: &'static str| -> Vec<(String, String)> {
        [
            ("family_name", "Schmidt"),
            ("given_names", "Anna"),
            ("street", "Hauptstraße"),
            ("house_number", "1a"),
            ("postal_code", "10115"),
            ("city", "Berlin"),
            ("registered_since", "2020-01-01"),
            ("residence_type", residence_type),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    };
    let cases: Vec<FieldCase> = vec![
        (
            "income_statement",
            income_fields_with("gross_monthly_income", Some("viel")),
            "gross_monthly_income",
            "invalid_money",
        ),
        (
            "income_statement",
            income_fields_with("net_monthly_income", Some("12.3.4")),
            "net_monthly_income",
            "invalid_money",
        ),
        ("income_statement", income_fields_with("period_to", Some("31.02.2026")), "period_to", "invalid_date"),
        ("income_statement", income_fields_with("period_from", Some("gestern")), "period_from", "invalid_date"),
        (
            "income_statement",
            income_fields_with("household_members", Some("drei")),
            "household_members",
            "invalid_integer",
        ),
        ("income_statement", income_fields_with("household_members", Some("0")), "household_members", "out_of_range"),
        ("income_statement", income_fields_with("employer", None), "employer", "required"),
        ("income_statement", income_fields_with("employer", Some("   ")), "employer", "required"),
        ("income_statement", income_fields_with("salary", Some("5000")), "salary", "unknown_field"),
        ("residence_certificate", residence("castle"), "residence_type", "invalid_choice"),
    ];
    for (type_id, fields, field, code) in cases {
        let form = upload_form(type_id, &fields, Some(attachment("proof.pdf", pdf(70_000))));
        let body =
            expect_error(upload(&app, &anna, form).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields").await;
        let named = &body["error"]["fields"];
        assert_eq!(named.as_array().map(Vec::len), Some(1), "{field}: exactly one field named: {body}");
        assert_eq!(named[0]["field"], field, "{body}");
        assert_eq!(named[0]["code"], code, "{body}");
        assert!(named[0]["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
        assert_nothing_stored(&app, field).await;
    }
    // The valid residence certificate is accepted (the cases above differ in one field only).
    upload_ok(&app, &anna, upload_form("residence_certificate", &residence("main"), None)).await;
    app.stop().await;
}

async fn unknown_or_missing_type_is_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    for type_id in ["tax_return", "", "INCOME_STATEMENT"] {
        let form = upload_form(type_id, &income_fields(), Some(attachment("a.pdf", pdf(100_000))));
        expect_error(upload(&app, &anna, form).await, StatusCode::UNPROCESSABLE_ENTITY, "unknown_evidence_type").await;
        assert_nothing_stored(&app, type_id).await;
    }
    let part = Part::bytes(pdf(100_000)).file_name("a.pdf");
    let form = Form::new().text("field.employer", "Zebrafink").part("file", part);
    expect_error(upload(&app, &anna, form).await, StatusCode::UNPROCESSABLE_ENTITY, "missing_type").await;
    assert_nothing_stored(&app, "missing type").await;
    app.stop().await;
}

async fn malformed_uploads_store_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let file = || Part::bytes(pdf(100_000)).file_name("a.pdf");
    let valid = || upload_form("income_statement", &income_fields(), None);
    let mut too_many_parts = valid().part("file", file());
    for index in 0..100 {
        too_many_parts = too_many_parts.text(format!("field.extra_{index}"), "x");
    }
    let cases = [
        ("two files", valid().part("file", file()).part("file", file()), StatusCode::BAD_REQUEST, "too_many_files"),
        (
            "an unknown part after the file",
            valid().part("file", file()).text("note", "hi"),
            StatusCode::BAD_REQUEST,
            "unknown_part",
        ),
        (
            "a huge text part after the file",
            valid().part("file", file()).text("field.marks", "x".repeat(20_000)),
            StatusCode::UNPROCESSABLE_ENTITY,
            "value_too_long",
        ),
        ("too many parts", too_many_parts, StatusCode::BAD_REQUEST, "too_many_parts"),
    ];
    for (what, form, status, code) in cases {
        expect_error(upload(&app, &anna, form).await, status, code).await;
        assert_nothing_stored(&app, what).await;
    }
    app.stop().await;
}

async fn file_names_are_kept_as_display_names_only(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let cases = [
        ("../../etc/passwd.pdf", "passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\anna\\Lohn Dezember.pdf", "Lohn Dezember.pdf", "Lohn_Dezember.pdf"),
        ("/", "file", "file.pdf"),
    ];
    for (sent, shown, header_name) in cases {
        let id = upload_income_statement(&app, &anna, Some(attachment(sent, pdf(100)))).await;
        let evidence = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
        assert_eq!(evidence["file"]["name"], shown, "{sent}");
        let response = get(&anna, &app, &format!("/api/v1/evidence/{id}/file")).await;
        let expected = format!("attachment; filename=\"{header_name}\"");
        assert_eq!(response.headers()[CONTENT_DISPOSITION], expected.as_str(), "{sent}");
    }
    app.stop().await;
}

/// A right-to-left override makes `Lohn<RLO>fdp.html` read `Lohnlmth.pdf`:
/// such a name (sealed and shown back later) is refused, not cleaned, and so
/// are field values with invisible format characters. Nothing is stored.
async fn invisible_characters_are_refused_in_file_names_and_values(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    for name in [
        "Lohn\u{202E}fdp.html",
        "Lohn\u{2066}Dezember\u{2069}.pdf",
        "\u{200B}.pdf",
        "Lohn\u{FEFF}.pdf",
        "Lohn\u{00AD}abrechnung.pdf",
        "Lohn\u{E0041}.pdf",
        "Lohn\tDezember.pdf",
    ] {
        let form = upload_form("income_statement", &income_fields(), Some(attachment(name, pdf(100_000))));
        let body =
            expect_error(upload(&app, &anna, form).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_file_name").await;
        let message = body["error"]["message"].as_str().expect("message");
        assert!(message.contains("invisible formatting characters"), "{name:?}: {message}");
        assert_nothing_stored(&app, name).await;
    }
    // The page form: the error page says it in German.
    let form = Form::new()
        .text("csrf", anna.csrf.clone())
        .text("type", "income_statement")
        .text("field.employer", "Zebrafink")
        .part(
            "file",
            Part::bytes(pdf(100_000)).file_name("Lohn\u{202E}fdp.html").mime_str("application/pdf").expect("mime"),
        );
    let response = anna.no_redirects().post(app.url("/evidence")).multipart(form).send().await.expect("post");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.expect("html");
    assert!(html.contains("Dateiname") && html.contains("unsichtbare"), "{html}");
    assert!(!html.contains('\u{202E}'), "{html}");
    assert_nothing_stored(&app, "page upload").await;

    for value in [
        "Zebrafink\u{200B} GmbH",
        "Zebrafink \u{202E}HbmG",
        "Zebra\u{00AD}fink",
        "\u{FEFF}Zebrafink",
        "Zebra\u{2060}fink",
    ] {
        let form = upload_form("income_statement", &income_fields_with_owned("employer", value), None);
        let body =
            expect_error(upload(&app, &anna, form).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_fields").await;
        let named = &body["error"]["fields"];
        assert_eq!(named[0]["field"], "employer", "{value:?}: {body}");
        assert_eq!(named[0]["code"], "invalid_characters", "{value:?}: {body}");
        assert_nothing_stored(&app, value).await;
    }
    // German text with umlauts, ß, € and an emoji is fine, in a name and in a value.
    let fields = income_fields_with_owned("employer", "Bäckerei Müller & Söhne – Straße 1 (€) 🥨");
    let form = upload_form("income_statement", &fields, Some(attachment("Lohnabrechnung März 🥨.pdf", pdf(1000))));
    let id = upload_ok(&app, &anna, form).await;
    let evidence = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
    assert_eq!(evidence["fields"]["employer"], "Bäckerei Müller & Söhne – Straße 1 (€) 🥨");
    assert_eq!(evidence["file"]["name"], "Lohnabrechnung März 🥨.pdf");
    app.stop().await;
}

/// The saved name's extension comes from the type sniffed from the bytes,
/// never from the name the upload had; the uploaded base name is kept.
async fn downloads_are_named_from_the_stored_type(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let cases: Vec<(&'static str, Vec<u8>, &str, &str)> = vec![
        ("x.html", pdf(1000), "application/pdf", "x.pdf"),
        ("report.PDF", pdf(1000), "application/pdf", "report.pdf"),
        ("Lohnabrechnung", pdf(1000), "application/pdf", "Lohnabrechnung.pdf"),
        ("scan.jpg", png(1000), "image/png", "scan.png"),
        ("Foto vom 3.5.2026", jpeg(1000), "image/jpeg", "Foto_vom_3.5.2026.jpg"),
        ("Ausweis.svg", jpeg(1000), "image/jpeg", "Ausweis.jpg"),
        (".html", pdf(1000), "application/pdf", "file.pdf"),
        ("x.html.", pdf(1000), "application/pdf", "x.pdf"),
    ];
    for (sent, bytes, media_type, saved_as) in cases {
        let id = upload_income_statement(&app, &anna, Some(attachment(sent, bytes))).await;
        let evidence = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
        assert_eq!(evidence["file"]["name"], sent, "the display name stays as uploaded");
        assert_eq!(evidence["file"]["media_type"], media_type, "{sent}");
        let expected = format!("attachment; filename=\"{saved_as}\"");
        for path in [format!("/api/v1/evidence/{id}/file"), format!("/evidence/{id}/file")] {
            let response = get(&anna, &app, &path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[CONTENT_TYPE], media_type, "{sent} via {path}");
            assert_eq!(response.headers()[CONTENT_DISPOSITION], expected.as_str(), "{sent} via {path}");
        }
    }
    app.stop().await;
}

/// The shipped policy has no type without files; this test adds one.
const TYPE_WITHOUT_FILES: &str = r#"
[[evidence_type]]
id = "library_card"
version = 1
name = { de = "Bibliotheksausweis", en = "Library card" }
file_allowed = false
min_login_level = "low"

[[evidence_type.field]]
name = "card_number"
label = { de = "Ausweisnummer", en = "Card number" }
kind = "text"
max_length = 20
required = true
sensitivity = "normal"
"#;

async fn type_without_files_refuses_a_file(backend: Backend) {
    let policies = tempfile::tempdir().expect("temporary directory");
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/evidence-types.toml"))
        .expect("shipped policy");
    std::fs::write(policies.path().join("evidence-types.toml"), format!("{shipped}\n{TYPE_WITHOUT_FILES}"))
        .expect("write test policy");
    let app = TestApp::start_with(TestAppOptions {
        policy_dir: Some(policies.path().into()),
        ..TestAppOptions::new(backend)
    })
    .await;
    let anna = log_in(&app, "anna", "high").await;
    let card = vec![("card_number".to_owned(), "B-123456".to_owned())];

    let form = upload_form("library_card", &card, Some(attachment("card.png", png(80_000))));
    expect_error(upload(&app, &anna, form).await, StatusCode::UNPROCESSABLE_ENTITY, "file_not_allowed").await;
    assert_nothing_stored(&app, "file_not_allowed").await;

    let id = upload_ok(&app, &anna, upload_form("library_card", &card, None)).await;
    let shown = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
    assert_eq!(shown["fields"]["card_number"], "B-123456");
    app.stop().await;
}

async fn other_citizens_evidence_is_not_found(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let ben = log_in(&app, "ben", "substantial").await;
    let file = pdf(100_000);
    let annas = upload_income_statement(&app, &anna, Some(attachment("anna.pdf", file.clone()))).await;
    let nonexistent = "0123456789abcdef0123456789abcdef";
    assert_ne!(annas, nonexistent);

    let reference = expect_error(
        get(&ben, &app, &format!("/api/v1/evidence/{nonexistent}")).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for id in [
        annas.as_str(),
        nonexistent,
        "..%2Fetc",
        "..%2F..%2Fetc%2Fpasswd",
        "not-an-id",
        "0123456789ABCDEF0123456789ABCDEF",
    ] {
        for path in [format!("/api/v1/evidence/{id}"), format!("/api/v1/evidence/{id}/file")] {
            let body = expect_error(get(&ben, &app, &path).await, StatusCode::NOT_FOUND, "not_found").await;
            assert_eq!(body, reference, "GET {path}: same answer as for nothing at all");
        }
        let path = format!("/api/v1/evidence/{id}");
        let body =
            expect_error(delete(&ben, &app, &path, Some(&ben.csrf)).await, StatusCode::NOT_FOUND, "not_found").await;
        assert_eq!(body, reference, "DELETE {path}");
    }
    // Ben's page for Anna's evidence is the same not-found page as for nothing.
    let page = get(&ben, &app, &format!("/evidence/{annas}")).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let annas_page = page.text().await.expect("page").replace(&annas, "ID");
    let page = get(&ben, &app, &format!("/evidence/{nonexistent}")).await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    // The pages differ only in the id (in the language switch links).
    assert_eq!(annas_page, page.text().await.expect("page").replace(nonexistent, "ID"));
    for path in [format!("/evidence/{annas}/file"), format!("/evidence/{annas}/delete")] {
        assert_eq!(get(&ben, &app, &path).await.status(), StatusCode::NOT_FOUND, "{path}");
    }
    let response =
        ben.browser.post(app.url(&format!("/evidence/{annas}/delete"))).form(&[("csrf", &ben.csrf)]).send().await;
    assert_eq!(response.expect("POST").status(), StatusCode::NOT_FOUND);

    assert!(listed_ids(&app, &ben).await.is_empty());
    assert_eq!(listed_ids(&app, &anna).await, vec![annas.clone()]);
    assert!(download(&app, &anna, &annas, "application/pdf").await == file, "Anna's file is untouched");
    app.stop().await;
}

async fn every_api_route_needs_a_session(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let id = upload_income_statement(&app, &anna, Some(attachment("a.pdf", pdf(1000)))).await;
    let stranger = TestApp::browser();
    let requests = [
        stranger.get(app.url("/api/v1/session")),
        stranger.get(app.url("/api/v1/evidence")),
        stranger.post(app.url("/api/v1/evidence")).header("X-CSRF-Token", &anna.csrf).multipart(upload_form(
            "income_statement",
            &income_fields(),
            Some(attachment("b.pdf", pdf(1000))),
        )),
        stranger.get(app.url(&format!("/api/v1/evidence/{id}"))),
        stranger.get(app.url(&format!("/api/v1/evidence/{id}/file"))),
        stranger.delete(app.url(&format!("/api/v1/evidence/{id}"))).header("X-CSRF-Token", &anna.csrf),
        stranger.delete(app.url("/api/v1/account")).header("X-CSRF-Token", &anna.csrf),
        stranger.post(app.url("/api/v1/logout")).header("X-CSRF-Token", &anna.csrf),
        // A session cookie that was never issued is no session either.
        stranger.get(app.url("/api/v1/evidence")).header("Cookie", "tresor=forged-session-id"),
    ];
    for request in requests {
        let request = request.build().expect("request");
        let what = format!("{} {}", request.method(), request.url().path());
        let response = stranger.execute(request).await.expect("send");
        let body = expect_error(response, StatusCode::UNAUTHORIZED, "not_logged_in").await;
        assert!(!body.to_string().contains(&id), "{what}: {body}");
    }
    assert_eq!(listed_ids(&app, &anna).await, vec![id]);
    assert_eq!(app.count_rows("files").await, 1);
    app.stop().await;
}

async fn state_changes_need_the_csrf_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = log_in(&app, "anna", "high").await;
    let ben = log_in(&app, "ben", "substantial").await;
    let with_file = || upload_form("income_statement", &income_fields(), Some(attachment("a.pdf", pdf(150_000))));
    let without_file = || upload_form("income_statement", &income_fields(), None);

    // Upload: no token, a wrong one, someone else's, a wrong `csrf` part.
    let wrong = "A".repeat(anna.csrf.len());
    let attempts = [
        (None, with_file()),
        (None, without_file()),
        (Some(wrong.as_str()), with_file()),
        (Some(ben.csrf.as_str()), with_file()),
        (Some(""), without_file()),
        (
            None,
            Form::new()
                .text("csrf", wrong.clone())
                .text("type", "income_statement")
                .part("file", Part::bytes(pdf(150_000)).file_name("a.pdf")),
        ),
    ];
    for (index, (token, form)) in attempts.into_iter().enumerate() {
        let mut request = anna.browser.post(app.url("/api/v1/evidence")).multipart(form);
        if let Some(token) = token {
            request = request.header("X-CSRF-Token", token);
        }
        let response = request.send().await.expect("upload");
        expect_error(response, StatusCode::FORBIDDEN, "csrf_token_invalid").await;
        assert_nothing_stored(&app, &format!("upload attempt {index}")).await;
    }

    let id = upload_income_statement(&app, &anna, Some(attachment("a.pdf", pdf(150_000)))).await;
    let path = format!("/api/v1/evidence/{id}");
    for token in [None, Some(wrong.as_str()), Some(ben.csrf.as_str())] {
        expect_error(delete(&anna, &app, &path, token).await, StatusCode::FORBIDDEN, "csrf_token_invalid").await;
        expect_error(delete(&anna, &app, "/api/v1/account", token).await, StatusCode::FORBIDDEN, "csrf_token_invalid")
            .await;
        let response =
            anna.browser.post(app.url(&format!("/evidence/{id}/delete"))).form(&[("csrf", token.unwrap_or(""))]);
        assert_eq!(response.send().await.expect("form post").status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(listed_ids(&app, &anna).await, vec![id]);
    assert_eq!(app.count_rows("citizens").await, 2);
    assert_eq!(app.count_rows("file_chunks").await, 3);
    app.stop().await;
}

// --- 3. special category ------------------------------------------------------------

fn disability_fields() -> Vec<(String, String)> {
    [("family_name", "Schmidt"), ("given_names", "Anna"), ("degree_of_disability", "50"), ("marks", "G")]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

async fn special_category_needs_login_level_high(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ben = log_in(&app, "ben", "substantial").await;
    let form =
        upload_form("severe_disability_certificate", &disability_fields(), Some(attachment("pass.jpg", jpeg(90_000))));
    expect_error(upload(&app, &ben, form).await, StatusCode::FORBIDDEN, "login_level_too_low").await;
    assert_nothing_stored(&app, "ben at substantial").await;

    // Clara logs in at "low": not even an income statement.
    let clara = log_in(&app, "clara", "low").await;
    expect_error(
        upload(&app, &clara, upload_form("income_statement", &income_fields(), None)).await,
        StatusCode::FORBIDDEN,
        "login_level_too_low",
    )
    .await;
    assert_nothing_stored(&app, "clara at low").await;

    let anna = log_in(&app, "anna", "high").await;
    let file = jpeg(90_000);
    let form =
        upload_form("severe_disability_certificate", &disability_fields(), Some(attachment("pass.jpg", file.clone())));
    let id = upload_ok(&app, &anna, form).await;
    let shown = get_json(&anna, &app, &format!("/api/v1/evidence/{id}")).await;
    assert_eq!(shown["fields"]["degree_of_disability"], "50");
    assert!(download(&app, &anna, &id, "image/jpeg").await == file);

    // Anna again, but logged in at "substantial" only: her health data stays closed.
    let anna_substantial = log_in(&app, "anna", "substantial").await;
    assert_eq!(listed_ids(&app, &anna_substantial).await, vec![id.clone()]);
    for path in [format!("/api/v1/evidence/{id}"), format!("/api/v1/evidence/{id}/file")] {
        expect_error(get(&anna_substantial, &app, &path).await, StatusCode::FORBIDDEN, "login_level_too_low").await;
    }
    app.stop().await;
}

// --- 4. encryption at rest -----------------------------------------------------------

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

#[tokio::test]
async fn sqlite_file_holds_no_plaintext() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = log_in(&app, "anna", "high").await;
    let marker = b"QUOKKA-FILE-MARKER-5e1d7a";
    let mut file = file_with(b"%PDF-1.4\n", marker, 150_000);
    // The marker in every chunk, not just the first.
    for offset in [70_000, 140_000] {
        file[offset..offset + marker.len()].copy_from_slice(marker);
    }
    let file_name = "Gehaltsnachweis-Okapi-Dezember.pdf";
    let fields = income_fields_with("employer", Some("Zebrafink Maschinenbau GmbH"));
    upload_ok(&app, &anna, upload_form("income_statement", &fields, Some(attachment(file_name, file)))).await;
    let disability = upload_form("severe_disability_certificate", &disability_fields(), None);
    upload_ok(&app, &anna, disability.text("field.valid_until", "24.08.2031")).await;

    let raw = app.sqlite_raw_bytes();
    assert!(contains(&raw, b"income_statement"), "sanity: the type id is stored in clear, so this is the right file");
    for secret in [
        &b"Zebrafink Maschinenbau GmbH"[..],
        b"Zebrafink",
        marker,
        file_name.as_bytes(),
        b"Okapi",
        b"2031-08-24",
        b"eid-pseudonym-anna-7f3a9c",
        b"Anna Schmidt",
    ] {
        assert!(!contains(&raw, secret), "{:?} is readable in the database file", String::from_utf8_lossy(secret));
    }
    app.stop().await;
}
