//! The citizen's consent end to end, on SQLite and PostgreSQL: a department
//! opens a request (client certificate through the trusted proxy), the
//! citizen logs in through the real OpenID provider, sees the very values a
//! release would carry on the consent page, approves or denies (HTML form
//! and JSON), lists and revokes grants; the department polls and releases,
//! and the signed receipt is checked with an independent JOSE library
//! (node's `jose`). Every refusal (no login, too low a level, CSRF, limits,
//! expiry, answering twice, someone else's grant) is tested and stores
//! nothing.

use std::process::Stdio;

use reqwest::header::LOCATION;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tresor::audit::checkpoint::{open_signed, parse_verifier_key};
use tresor::audit::merkle::{Hash, verify_inclusion};
use tresor::clock::Clock;

use crate::support::app::{Backend, Citizen, ISSUER_NAME, TestApp};

mod summary;

// --- helpers -------------------------------------------------------------------

async fn log_in(app: &TestApp, persona: &str, level: &str) -> Citizen {
    app.log_in_citizen(persona, level).await
}

/// What the housing benefit office needs, as stored after validation.
const INCOME: &[(&str, &str)] = &[
    ("employer", "Zebrafink Maschinenbau GmbH"),
    ("gross_monthly_income", "3250.00"),
    ("net_monthly_income", "2100.50"),
    ("period_from", "2026-01-01"),
    ("period_to", "2026-06-30"),
    ("household_members", "3"),
];
const RENT: &[(&str, &str)] =
    &[("landlord", "Wohnbau Musterstadt eG"), ("monthly_rent", "845.30"), ("living_space_sqm", "72")];
const RESIDENCE: &[(&str, &str)] = &[
    ("family_name", "Schmidt"),
    ("given_names", "Anna Maria"),
    ("street", "Lindenallee"),
    ("house_number", "17b"),
    ("postal_code", "12345"),
    ("city", "Musterstadt"),
    ("registered_since", "2019-04-01"),
    ("residence_type", "main"),
];
/// Ben's income statement: none of it may show up on anna's pages.
const BEN_INCOME: &[(&str, &str)] = &[
    ("employer", "Bens Baumschule"),
    ("gross_monthly_income", "4711.11"),
    ("net_monthly_income", "3333.33"),
    ("period_from", "2026-02-01"),
    ("period_to", "2026-02-28"),
];

fn pdf(bytes: usize) -> Vec<u8> {
    let mut file = b"%PDF-1.4\n".to_vec();
    file.resize(bytes, b'x');
    file
}

/// Upload evidence through the JSON API; returns its id.
async fn upload(app: &TestApp, citizen: &Citizen, type_id: &str, fields: &[(&str, &str)], file: bool) -> String {
    let mut form = reqwest::multipart::Form::new().text("type", type_id.to_owned());
    for (name, value) in fields {
        form = form.text(format!("field.{name}"), (*value).to_owned());
    }
    if file {
        form = form.part("file", reqwest::multipart::Part::bytes(pdf(5_000)).file_name("nachweis.pdf"));
    }
    let response = citizen
        .browser
        .post(app.url("/api/v1/evidence"))
        .header("x-csrf-token", &citizen.csrf)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "upload of {type_id}");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

/// A department opens a request; returns (id, approve_url).
async fn open_request(app: &TestApp, department: &str, service: &str) -> (String, String) {
    let response = app
        .as_department(department, Method::POST, "/api/v1/dept/requests")
        .json(&json!({ "service": service, "reference": "AZ 4711/2026" }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "request for {service}: {body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let approve_url = body["approve_url"].as_str().unwrap().to_owned();
    assert_eq!(approve_url, app.url(&format!("/requests/{id}")));
    (id, approve_url)
}

/// `GET /api/v1/dept/requests/{id}` as the department.
async fn department_view(app: &TestApp, department: &str, id: &str) -> Value {
    let response =
        app.as_department(department, Method::GET, &format!("/api/v1/dept/requests/{id}")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap_or_default().to_owned()
}

/// `POST /api/v1/requests/{id}/approve` with the citizen's CSRF token.
async fn approve_json(app: &TestApp, citizen: &Citizen, id: &str, body: Value) -> reqwest::Response {
    citizen
        .browser
        .post(app.url(&format!("/api/v1/requests/{id}/approve")))
        .header("x-csrf-token", &citizen.csrf)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn grants_json(app: &TestApp, citizen: &Citizen) -> Vec<Value> {
    let body: Value = citizen.browser.get(app.url("/api/v1/grants")).send().await.unwrap().json().await.unwrap();
    body["grants"].as_array().unwrap().clone()
}

/// The start tags `<input ...>` / `<select ...>` / `<option ...>` of a page.
fn tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
    let open = format!("<{name} ");
    html.match_indices(&open).map(|(start, _)| &html[start..start + html[start..].find('>').unwrap() + 1]).collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')?;
    Some(tag[start..start + end].replace("&quot;", "\"").replace("&amp;", "&"))
}

fn has_flag(tag: &str, name: &str) -> bool {
    tag.contains(&format!(" {name}>")) || tag.contains(&format!(" {name} ")) || tag.contains(&format!(" {name}/"))
}

/// The consent form as a browser would submit it with its defaults, minus
/// the fields in `uncheck`, plus `decision`.
fn consent_form(html: &str, uncheck: &[&str], decision: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for input in tags(html, "input") {
        let (Some(name), value) = (attribute(input, "name"), attribute(input, "value").unwrap_or_default()) else {
            continue;
        };
        match attribute(input, "type").as_deref() {
            Some("hidden") if name == "csrf" => pairs.push((name, value)),
            Some("radio") if has_flag(input, "checked") => pairs.push((name, value)),
            Some("checkbox") if has_flag(input, "checked") && !uncheck.contains(&value.as_str()) => {
                pairs.push((name, value))
            }
            _ => {}
        }
    }
    for select in ["duration_days", "max_uses"] {
        let start = html.find(&format!("name=\"{select}\"")).unwrap_or_else(|| panic!("select {select}"));
        let end = start + html[start..].find("</select>").unwrap();
        let chosen = tags(&html[start..end], "option").into_iter().find(|option| has_flag(option, "selected"));
        pairs.push((select.to_owned(), attribute(chosen.expect("a preselected option"), "value").unwrap()));
    }
    pairs.push(("decision".to_owned(), decision.to_owned()));
    pairs
}

fn hash_from_hex(text: &str) -> Hash {
    hex::decode(text).unwrap().try_into().unwrap()
}

// --- scenarios -----------------------------------------------------------------

/// THE end-to-end test: request, login, upload, approve through the HTML
/// form, poll, release with a receipt verified by node's `jose`, and the
/// release in the citizen's own log with an inclusion proof.
async fn end_to_end_housing_benefit(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    assert_eq!(department_view(&app, "wohngeldstelle", &request_id).await["status"], "pending");

    let anna = log_in(&app, "anna", "substantial").await;
    let income = upload(&app, &anna, "income_statement", INCOME, true).await;
    let rent = upload(&app, &anna, "rent_certificate", RENT, true).await;
    let residence = upload(&app, &anna, "residence_certificate", RESIDENCE, false).await;

    let page = anna.browser.get(&approve_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    for value in ["Wohngeldstelle", "AZ 4711/2026", "3.250,00 €", "845,30 €", "Lindenallee", "Hauptwohnung"] {
        assert!(html.contains(value), "{value} missing from the consent page");
    }
    // Leave out the household size and the given names.
    let form =
        consent_form(&html, &["income_statement.household_members", "residence_certificate.given_names"], "approve");
    assert!(form.iter().any(|(name, value)| name == "doc.income_statement" && *value == income));
    // The service's defaults are preselected, not its maxima (90 days, 3 uses).
    let chosen = |select: &str| form.iter().find(|(name, _)| name == select).map(|(_, value)| value.clone());
    assert_eq!((chosen("duration_days").as_deref(), chosen("max_uses").as_deref()), (Some("30"), Some("1")));
    // Anna allows three uses.
    let form: Vec<(String, String)> = form
        .into_iter()
        .map(|(name, value)| if name == "max_uses" { (name, "3".to_owned()) } else { (name, value) })
        .collect();
    let answer = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(answer.headers()[LOCATION], "/grants?notice=approved");

    let status = department_view(&app, "wohngeldstelle", &request_id).await;
    assert_eq!(status["status"], "approved");
    let grant_id = status["grant_id"].as_str().expect("grant id").to_owned();

    let release = app
        .as_department("wohngeldstelle", Method::GET, &format!("/api/v1/dept/grants/{grant_id}/release"))
        .send()
        .await
        .unwrap();
    assert_eq!(release.status(), StatusCode::OK);
    let receipt = release.headers()["tresor-receipt"].to_str().unwrap().to_owned();
    let body_bytes = release.bytes().await.unwrap().to_vec();
    let body: Value = serde_json::from_slice(&body_bytes).unwrap();
    assert_eq!(body["grant_id"], grant_id.as_str());
    let me: Value = anna.browser.get(app.url("/api/v1/session")).send().await.unwrap().json().await.unwrap();
    let citizen_id = me["citizen_id"].as_str().unwrap();
    let subject = body["subject"].as_str().unwrap();
    assert!(!subject.is_empty() && subject != citizen_id, "the department gets a pseudonym, not the citizen id");
    assert!(!String::from_utf8_lossy(&body_bytes).contains(citizen_id));
    let mut released: Vec<(String, String, String)> = Vec::new();
    for evidence in body["evidence"].as_array().unwrap() {
        let type_id = evidence["type"].as_str().unwrap();
        for (field, value) in evidence["fields"].as_object().unwrap() {
            released.push((type_id.to_owned(), field.clone(), value.as_str().unwrap().to_owned()));
        }
    }
    released.sort();
    let mut expected: Vec<(String, String, String)> = [
        ("income_statement", "gross_monthly_income", "3250.00"),
        ("income_statement", "net_monthly_income", "2100.50"),
        ("income_statement", "period_from", "2026-01-01"),
        ("income_statement", "period_to", "2026-06-30"),
        ("rent_certificate", "monthly_rent", "845.30"),
        ("rent_certificate", "living_space_sqm", "72"),
        ("residence_certificate", "family_name", "Schmidt"),
        ("residence_certificate", "street", "Lindenallee"),
        ("residence_certificate", "house_number", "17b"),
        ("residence_certificate", "postal_code", "12345"),
        ("residence_certificate", "city", "Musterstadt"),
        ("residence_certificate", "residence_type", "main"),
    ]
    .iter()
    .map(|(t, f, v)| ((*t).to_owned(), (*f).to_owned(), (*v).to_owned()))
    .collect();
    expected.sort();
    assert_eq!(released, expected, "exactly the approved fields with their values");
    let text = String::from_utf8_lossy(&body_bytes);
    for never in ["Zebrafink", "Anna Maria", "Wohnbau Musterstadt", "2019-04-01"] {
        assert!(!text.contains(never), "{never} was released without approval or policy");
    }
    // Files of the chosen documents come along (the service releases files).
    let files: Vec<&Value> = body["evidence"].as_array().unwrap().iter().filter(|e| e["file"].is_object()).collect();
    assert_eq!(files.len(), 2, "income statement and rent certificate have files");

    // The receipt verifies with node's `jose` against the published keys.
    let jwks = reqwest::get(app.url("/api/v1/keys")).await.unwrap().text().await.unwrap();
    let (ok, output) = verify_receipt_with_jose(&jwks, &receipt, &body_bytes).await;
    assert!(ok, "jose did not verify the receipt: {output}");
    assert!(output.contains("\"alg\":\"EdDSA\""), "{output}");
    let mut tampered = body_bytes.clone();
    let position = tampered.iter().position(|b| *b == b'7').unwrap();
    tampered[position] = b'8';
    let (ok, output) = verify_receipt_with_jose(&jwks, &receipt, &tampered).await;
    assert!(!ok, "a changed body must not verify: {output}");

    // The citizen sees the release in their own log, with a proof.
    app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");
    let log: Value = anna.browser.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    let (name, public_key) = parse_verifier_key(log["verifier_key"].as_str().unwrap()).unwrap();
    let checkpoint = open_signed(log["checkpoint"].as_str().unwrap(), &name, &public_key).unwrap();
    let entries = log["entries"].as_array().unwrap();
    let release_entry = entries
        .iter()
        .find(|entry| entry["entry"]["action"] == "release" && entry["entry"]["outcome"] == "success")
        .expect("the release is in the citizen's log");
    assert_eq!(release_entry["sequence"].as_u64(), body["audit"]["index"].as_u64());
    assert_eq!(release_entry["entry"]["targets"]["grant"], grant_id.as_str());
    assert_eq!(release_entry["entry"]["actor"]["kind"], "department");
    let stored: tresor::audit::AuditEntry = serde_json::from_value(release_entry["entry"].clone()).unwrap();
    let leaf = hash_from_hex(release_entry["leaf_hash"].as_str().unwrap());
    assert_eq!(stored.leaf_hash(), leaf);
    let proof: Vec<Hash> = release_entry["inclusion_proof"]
        .as_array()
        .expect("a proof")
        .iter()
        .map(|h| hash_from_hex(h.as_str().unwrap()))
        .collect();
    verify_inclusion(&leaf, release_entry["sequence"].as_u64().unwrap(), checkpoint.size, &proof, &checkpoint.root)
        .unwrap();
    assert!(!release_entry["entry"].to_string().contains("2100.50"), "no values in the log");

    // The grant on the grants page: one use made.
    let grants = grants_json(&app, &anna).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["uses"], 1);
    let mut evidence: Vec<&str> =
        grants[0]["evidence"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    evidence.sort_unstable();
    let mut chosen = vec![income.as_str(), rent.as_str(), residence.as_str()];
    chosen.sort_unstable();
    assert_eq!(evidence, chosen);
    let page = anna.browser.get(app.url("/grants")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("1 von 3") && page.contains("Wohngeld (Mietzuschuss)"), "{page}");
    // The access log page names the approval and the release in words, and the office by name.
    let log_page = anna.browser.get(app.url("/access-log")).send().await.unwrap().text().await.unwrap();
    for words in ["Freigabe erteilt", "Daten an ein Amt gegeben", "Wohngeldstelle"] {
        assert!(log_page.contains(words), "{words} missing from the access log");
    }
    // The office's release first, apart from anna's own actions, saying for
    // which service, which details, under which use of which approval.
    let (others, own) = log_page.split_once("Was Sie selbst getan haben").expect("anna's own actions apart");
    let others = others.split_once("Zugriffe von Ämtern und der Stadt").expect("the offices' section first").1;
    for words in [
        "Daten an ein Amt gegeben",
        "Für: Wohngeld (Mietzuschuss)",
        "Bruttoeinkommen im Monat",
        "Aktenzeichen des Amts: AZ 4711/2026",
        "<a href=\"/grants\">1. Nutzung Ihrer Freigabe</a>",
    ] {
        assert!(others.contains(words), "{words} missing from the offices' accesses: {others}");
    }
    assert!(!others.contains("Freigabe erteilt"), "anna's approval is her own action: {others}");
    assert!(own.contains("Freigabe erteilt"), "{own}");
    assert!(log_page.contains(" Uhr</td>") && !log_page.contains(" UTC<"), "local time: {log_page}");
    app.stop().await;
}

/// Run `tests/oidc-provider/verify-receipt.mjs`; (verified, its output).
async fn verify_receipt_with_jose(jwks: &str, receipt: &str, body: &[u8]) -> (bool, String) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-provider/verify-receipt.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .arg(jwks)
        .arg(receipt)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("run node (is Node.js installed and `npm ci --prefix tests/oidc-provider` done?)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(body).await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

/// Without a session the consent page sends the citizen to log in (at the
/// service's level) and back; after it, the page shows the citizen's own
/// values, never those of another citizen, and nothing the service does
/// not read.
async fn consent_page_needs_login_and_shows_only_own_values(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ben = log_in(&app, "ben", "substantial").await;
    upload(&app, &ben, "income_statement", BEN_INCOME, false).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;

    let (browser, _jar) = TestApp::browser_with_jar();
    let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let redirect = anonymous.get(&approve_url).send().await.unwrap();
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    let location = redirect.headers()[LOCATION].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/login?level=substantial&return_to=%2Frequests%2F{request_id}"));
    let body = redirect.text().await.unwrap();
    assert!(!body.contains("Wohngeld"), "nothing about the request before login");

    // Log in through that link (the test provider needs the persona hint)
    // and land back on the consent page.
    let anna_login =
        browser.get(app.url(&format!("{location}&issuer={ISSUER_NAME}&login_hint=anna"))).send().await.unwrap();
    assert_eq!(anna_login.url().path(), format!("/requests/{request_id}"));
    assert_eq!(anna_login.status(), StatusCode::OK);
    let html = anna_login.text().await.unwrap();
    assert!(html.contains("Sie haben noch kein Dokument dieser Art gespeichert."), "anna has no documents yet");
    assert!(
        html.contains(&format!(
            "href=\"/evidence/new?type=income_statement&amp;return_to=%2Frequests%2F{request_id}\""
        ))
    );
    for bens in ["4711.11", "4.711,11", "3333.33", "3.333,33", "Bens Baumschule"] {
        assert!(!html.contains(bens), "ben's {bens} on anna's consent page");
    }

    let csrf = app.csrf(&browser).await;
    let anna = Citizen { browser, csrf, jar: _jar };
    upload(&app, &anna, "income_statement", INCOME, false).await;
    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("<dd>3.250,00 €</dd>") && html.contains("<dd>2.100,50 €</dd>"), "anna's values are shown");
    assert!(html.contains("Personen im Haushalt (mit Ihnen)") && html.contains("<dd>3</dd>"));
    assert!(!html.contains("Zebrafink"), "the employer is not read by this service, so it is not shown");
    for bens in ["4711.11", "4.711,11", "3333.33", "3.333,33", "Bens Baumschule"] {
        assert!(!html.contains(bens), "ben's {bens} on anna's consent page");
    }
    let english = anna.browser.get(format!("{approve_url}?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(english.contains("Housing Benefit Office asks for your data"), "{english}");
    assert!(english.contains("Do not share this document"));

    // The JSON twin: the same values, both languages.
    let preview: Value = anna
        .browser
        .get(app.url(&format!("/api/v1/requests/{request_id}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["department"]["name"]["de"], "Wohngeldstelle");
    assert_eq!(preview["service"]["max_uses"], 3);
    assert_eq!(preview["service"]["max_duration_days"], 90);
    assert_eq!(preview["service"]["releases_files"], true);
    assert_eq!(preview["reference"], "AZ 4711/2026");
    let income = &preview["documents"][0];
    assert_eq!(income["type"], "income_statement");
    let candidates = income["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "only anna's own document");
    assert_eq!(candidates[0]["values"]["net_monthly_income"], "2100.50");
    assert!(candidates[0]["values"].get("employer").is_none());
    assert!(!preview.to_string().contains("4711.11"));
    // Without a session the JSON says so.
    let response = reqwest::get(app.url(&format!("/api/v1/requests/{request_id}"))).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // An unknown request: a plain 404 page (also without a session).
    let unknown = anonymous.get(app.url("/requests/00000000000000000000000000000000")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(unknown.text().await.unwrap().contains("Diese Anfrage gibt es nicht"));
    let malformed = anna.browser.get(app.url("/requests/not-an-id")).send().await.unwrap();
    assert_eq!(malformed.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// Health data needs the online ID card: below level high the page explains
/// the step-up (no values), every way to approve is refused, and the step-up
/// login leads back to the consent page.
async fn step_up_for_a_service_that_needs_level_high(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "strassenverkehrsbehoerde", "disabled_parking_permit").await;
    for (persona, level, level_word) in [("ben", "substantial", "substanziell"), ("clara", "low", "niedrig")] {
        let citizen = log_in(&app, persona, level).await;
        let page = citizen.browser.get(&approve_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::FORBIDDEN, "{persona}");
        let html = page.text().await.unwrap();
        assert!(html.contains("Sicherere Anmeldung nötig"), "{html}");
        assert!(html.contains("Sicherheitsniveau „hoch (Online-Ausweis)“") && html.contains(level_word), "{html}");
        assert!(html.contains(&format!(
            "href=\"/login?issuer={ISSUER_NAME}&amp;level=high&amp;return_to=%2Frequests%2F{request_id}\""
        )));
        assert!(!html.contains("name=\"decision\""), "no consent form below the level");

        let json = citizen.browser.get(app.url(&format!("/api/v1/requests/{request_id}"))).send().await.unwrap();
        assert_eq!(json.status(), StatusCode::FORBIDDEN);
        assert_eq!(error_code(json).await, "login_level_too_low");
        let approve = approve_json(
            &app,
            &citizen,
            &request_id,
            json!({ "evidence": [], "fields": ["severe_disability_certificate.degree_of_disability"],
                    "duration_days": 30, "max_uses": 1 }),
        )
        .await;
        assert_eq!(approve.status(), StatusCode::FORBIDDEN);
        assert_eq!(error_code(approve).await, "login_level_too_low");
        let form = [
            ("csrf", citizen.csrf.as_str()),
            ("decision", "approve"),
            ("field", "severe_disability_certificate.degree_of_disability"),
            ("duration_days", "30"),
            ("max_uses", "1"),
        ];
        let post = citizen.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
        assert_eq!(post.status(), StatusCode::FORBIDDEN, "{persona}: the HTML form is refused too");
    }
    assert_eq!(app.count_rows("grants").await, 0);
    assert_eq!(department_view(&app, "strassenverkehrsbehoerde", &request_id).await["status"], "pending");

    // Anna logged in at "substantial" follows the step-up link and is back.
    let anna = log_in(&app, "anna", "substantial").await;
    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    let start = html.find("href=\"/login?").unwrap() + "href=\"".len();
    let href = html[start..start + html[start..].find('"').unwrap()].replace("&amp;", "&");
    let back = anna.browser.get(app.url(&format!("{href}&login_hint=anna"))).send().await.unwrap();
    assert_eq!(back.url().path(), format!("/requests/{request_id}"));
    assert_eq!(back.status(), StatusCode::OK);
    let html = back.text().await.unwrap();
    assert!(html.contains("name=\"decision\" value=\"review\""), "now the consent form");
    assert!(html.contains("Schwerbehindertenausweis"));
    app.stop().await;
}

/// A POST without the session's CSRF token changes nothing.
async fn csrf_is_required_and_nothing_is_stored(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let anna = log_in(&app, "anna", "substantial").await;
    let income = upload(&app, &anna, "income_statement", INCOME, false).await;
    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    let mut form = consent_form(&html, &[], "approve");
    for token in [None, Some("wrong-token")] {
        form.retain(|(name, _)| name != "csrf");
        if let Some(token) = token {
            form.push(("csrf".to_owned(), token.to_owned()));
        }
        let response = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{token:?}");
        assert!(response.text().await.unwrap().contains("Das Formular ist abgelaufen"));
        let deny = [("csrf", token.unwrap_or_default()), ("decision", "deny")];
        let response = anna.no_redirects().post(&approve_url).form(&deny).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);

        let body = json!({ "evidence": [income], "fields": ["income_statement.net_monthly_income"],
                           "duration_days": 30, "max_uses": 1 });
        let mut request = anna.browser.post(app.url(&format!("/api/v1/requests/{request_id}/approve"))).json(&body);
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(error_code(response).await, "csrf_token_invalid");
        let mut request = anna.browser.post(app.url(&format!("/api/v1/requests/{request_id}/deny")));
        if let Some(token) = token {
            request = request.header("x-csrf-token", token);
        }
        assert_eq!(request.send().await.unwrap().status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(app.count_rows("grants").await, 0);
    assert!(grants_json(&app, &anna).await.is_empty());
    assert_eq!(department_view(&app, "wohngeldstelle", &request_id).await["status"], "pending");
    app.stop().await;
}

/// Approving stays within the service's limits and records exactly the
/// chosen document and fields; a refused form comes back with the reason;
/// a request is answered once.
async fn approve_within_limits_with_exactly_the_chosen_fields(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let anna = log_in(&app, "anna", "substantial").await;
    let older = upload(&app, &anna, "income_statement", INCOME, false).await;
    app.clock.advance(chrono::Duration::seconds(5));
    let newer_fields: Vec<(&str, &str)> =
        INCOME.iter().map(|&(name, value)| if name == "employer" { (name, "Neu AG") } else { (name, value) }).collect();
    let newer = upload(&app, &anna, "income_statement", &newer_fields, false).await;
    let rent = upload(&app, &anna, "rent_certificate", RENT, false).await;
    let ben = log_in(&app, "ben", "substantial").await;
    let bens = upload(&app, &ben, "income_statement", BEN_INCOME, false).await;

    let valid = |duration: u32, uses: u32| {
        json!({ "evidence": [older], "fields": ["income_statement.net_monthly_income", "income_statement.period_to"],
                "duration_days": duration, "max_uses": uses })
    };
    for (body, status, code) in [
        (valid(91, 3), 422, "duration_out_of_range"),
        (valid(0, 3), 422, "duration_out_of_range"),
        (valid(90, 4), 422, "uses_out_of_range"),
        (valid(90, 0), 422, "uses_out_of_range"),
        (
            json!({ "evidence": [older], "fields": ["income_statement.employer"], "duration_days": 30, "max_uses": 1 }),
            422,
            "field_not_in_policy",
        ),
        (
            json!({ "evidence": [bens], "fields": ["income_statement.net_monthly_income"], "duration_days": 30, "max_uses": 1 }),
            422,
            "evidence_not_found",
        ),
        (
            json!({ "evidence": [older], "fields": ["rent_certificate.monthly_rent"], "duration_days": 30, "max_uses": 1 }),
            422,
            "field_without_document",
        ),
        (
            // A document of which nothing is approved never enters a grant.
            json!({ "evidence": [older, rent], "fields": ["income_statement.net_monthly_income"], "duration_days": 30, "max_uses": 1 }),
            422,
            "document_without_field",
        ),
        (
            json!({ "evidence": [older, newer], "fields": ["income_statement.net_monthly_income"], "duration_days": 30, "max_uses": 1 }),
            422,
            "one_document_per_type",
        ),
        (json!({ "evidence": [older], "fields": [], "duration_days": 30, "max_uses": 1 }), 422, "no_fields_approved"),
        (
            json!({ "evidence": [older], "fields": ["x"], "duration_days": 30, "max_uses": 1, "extra": 1 }),
            400,
            "invalid_json",
        ),
        (json!({ "evidence": [older], "fields": [], "duration_days": -1, "max_uses": 1 }), 400, "invalid_json"),
    ] {
        let response = approve_json(&app, &anna, &request_id, body.clone()).await;
        assert_eq!(response.status().as_u16(), status, "{body}");
        assert_eq!(error_code(response).await, code, "{body}");
    }
    let broken = anna
        .browser
        .post(app.url(&format!("/api/v1/requests/{request_id}/approve")))
        .header("x-csrf-token", &anna.csrf)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(broken).await, "invalid_json");

    // The HTML form: the newest document is preselected; choosing "none"
    // everywhere is refused with a plain message, the choices kept.
    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    let newest = tags(&html, "input")
        .into_iter()
        .find(|tag| attribute(tag, "name").as_deref() == Some("doc.income_statement") && has_flag(tag, "checked"))
        .and_then(|tag| attribute(tag, "value"));
    assert_eq!(newest.as_deref(), Some(newer.as_str()), "the newest document is preselected");
    let mut form = consent_form(&html, &["income_statement.period_from"], "approve");
    for (name, value) in &mut form {
        if name.starts_with("doc.") {
            *value = "none".to_owned();
        }
        if name == "max_uses" {
            *value = "2".to_owned();
        }
    }
    let refused = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text().await.unwrap();
    assert!(html.contains("Bitte wählen Sie mindestens eine Angabe."), "{html}");
    assert!(html.contains("<title>Fehler: "));
    assert!(html.contains("value=\"none\" checked"), "the choice is kept");
    assert!(html.contains("<option value=\"2\" selected>"), "the number of uses is kept");
    let period_from = tags(&html, "input")
        .into_iter()
        .find(|tag| attribute(tag, "value").as_deref() == Some("income_statement.period_from"))
        .unwrap();
    assert!(!has_flag(period_from, "checked"), "the unchecked field stays unchecked");
    // A manipulated duration is refused the same way.
    let mut form = consent_form(&html, &[], "approve");
    form.retain(|(name, _)| name != "doc.income_statement");
    form.push(("doc.income_statement".to_owned(), older.clone()));
    for (name, value) in &mut form {
        if name == "duration_days" {
            *value = "365".to_owned();
        }
    }
    let refused = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("Bitte wählen Sie eine Dauer aus der Liste."));
    assert_eq!(app.count_rows("grants").await, 0, "nothing stored by refused forms");

    // A valid approval: the older document, two fields, 30 days, 2 uses.
    let now = app.clock.now();
    let response = approve_json(&app, &anna, &request_id, valid(30, 2)).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let grant_id = created["grant_id"].as_str().unwrap().to_owned();
    assert_eq!(created["max_uses"], 2);
    let expires_at: chrono::DateTime<chrono::Utc> = serde_json::from_value(created["expires_at"].clone()).unwrap();
    assert_eq!(expires_at, now + chrono::Duration::days(30));
    let grants = grants_json(&app, &anna).await;
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0]["id"], grant_id.as_str());
    assert_eq!(grants[0]["fields"], json!(["income_statement.net_monthly_income", "income_statement.period_to"]));
    assert_eq!(grants[0]["evidence"], json!([older]));
    assert_eq!(grants[0]["status"], "active");
    assert_eq!(grants[0]["department"]["name"]["de"], "Wohngeldstelle");
    assert_eq!((grants[0]["uses"].as_u64(), grants[0]["max_uses"].as_u64()), (Some(0), Some(2)));
    let status = department_view(&app, "wohngeldstelle", &request_id).await;
    assert_eq!(status["status"], "approved");
    assert_eq!(status["grant_id"], grant_id.as_str());
    assert!(grants_json(&app, &ben).await.is_empty(), "ben has no grants");

    // Answered once: the page, the form and the JSON say so.
    let response = approve_json(&app, &anna, &request_id, valid(30, 2)).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(error_code(response).await, "request_answered");
    let deny = anna
        .browser
        .post(app.url(&format!("/api/v1/requests/{request_id}/deny")))
        .header("x-csrf-token", &anna.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(deny.status(), StatusCode::CONFLICT);
    let page = anna.browser.get(&approve_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::CONFLICT);
    assert!(page.text().await.unwrap().contains("Diese Anfrage ist schon beantwortet"));
    let form = [("csrf", anna.csrf.as_str()), ("decision", "deny")];
    let post = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::CONFLICT);
    assert_eq!(app.count_rows("grants").await, 1);
    app.stop().await;
}

/// Denying through the page: the department sees "denied", no grant.
async fn deny_is_seen_by_the_department(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let anna = log_in(&app, "anna", "substantial").await;
    upload(&app, &anna, "income_statement", INCOME, false).await;
    let html = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    let form = consent_form(&html, &[], "deny");
    let response = anna.no_redirects().post(&approve_url).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/grants?notice=denied");
    let page = anna.browser.get(app.url("/grants?notice=denied")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sie haben die Anfrage abgelehnt."));
    let status = department_view(&app, "wohngeldstelle", &request_id).await;
    assert_eq!(status["status"], "denied");
    assert!(status.get("grant_id").is_none());
    assert_eq!(app.count_rows("grants").await, 0);

    // The JSON deny on a second request: 204.
    let (second, _) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let deny = anna
        .browser
        .post(app.url(&format!("/api/v1/requests/{second}/deny")))
        .header("x-csrf-token", &anna.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(deny.status(), StatusCode::NO_CONTENT);
    assert_eq!(department_view(&app, "wohngeldstelle", &second).await["status"], "denied");
    app.stop().await;
}

/// A request nobody answered in time: a 410 page, "expired" for the
/// department, and no approval afterwards.
async fn expired_request_cannot_be_answered(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, approve_url) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let anna = log_in(&app, "anna", "substantial").await;
    let income = upload(&app, &anna, "income_statement", INCOME, false).await;

    // A request that expired while the citizen's session is still fresh
    // (the session itself would time out over 25 hours).
    let now = app.clock.now();
    let expired = tresor::store::AccessRequestRecord {
        id: "e".repeat(32).parse().unwrap(),
        department: "wohngeldstelle".to_owned(),
        service: "housing_benefit".to_owned(),
        reference: "AZ alt".to_owned(),
        created_at: now - chrono::Duration::hours(25),
        expires_at: now - chrono::Duration::hours(1),
        state: tresor::store::RequestState::Pending,
        citizen_id: None,
        answered_at: None,
        grant_id: None,
    };
    app.store.insert_access_request(&expired).await.unwrap();
    let page = anna.browser.get(app.url(&format!("/requests/{}", expired.id))).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    assert!(page.text().await.unwrap().contains("Diese Anfrage ist abgelaufen"));
    let body = json!({ "evidence": [income], "fields": ["income_statement.net_monthly_income"],
                       "duration_days": 30, "max_uses": 1 });
    let response = approve_json(&app, &anna, expired.id.as_str(), body).await;
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(error_code(response).await, "request_expired");
    let html_form = [("csrf", anna.csrf.as_str()), ("decision", "deny")];
    let url = app.url(&format!("/requests/{}", expired.id));
    let post = anna.no_redirects().post(&url).form(&html_form).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::GONE);
    assert_eq!(department_view(&app, "wohngeldstelle", expired.id.as_str()).await["status"], "expired");

    // The real thing: 25 hours later the request is gone for everyone.
    app.clock.advance(chrono::Duration::hours(25));
    let page = anna.browser.get(&approve_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::GONE);
    let html = page.text().await.unwrap();
    assert!(html.contains("Diese Anfrage ist abgelaufen") && !html.contains("2100.50"));
    assert_eq!(department_view(&app, "wohngeldstelle", &request_id).await["status"], "expired");
    assert_eq!(app.count_rows("grants").await, 0);
    app.stop().await;
}

/// Revoking stops the next release; only the owner can revoke.
async fn revoke_stops_releases_and_only_the_owner_can_revoke(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (request_id, _) = open_request(&app, "wohngeldstelle", "housing_benefit").await;
    let anna = log_in(&app, "anna", "substantial").await;
    let income = upload(&app, &anna, "income_statement", INCOME, false).await;
    let body = json!({ "evidence": [income], "fields": ["income_statement.net_monthly_income"],
                       "duration_days": 30, "max_uses": 3 });
    let created: Value = approve_json(&app, &anna, &request_id, body).await.json().await.unwrap();
    let grant_id = created["grant_id"].as_str().unwrap().to_owned();
    let release_path = format!("/api/v1/dept/grants/{grant_id}/release");
    let release = app.as_department("wohngeldstelle", Method::GET, &release_path).send().await.unwrap();
    assert_eq!(release.status(), StatusCode::OK);

    // The grants page lists it with a link to revoke, which asks first.
    let page = anna.browser.get(app.url("/grants")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&format!("href=\"/grants/{grant_id}/revoke\"")), "{page}");
    let confirm = anna.browser.get(app.url(&format!("/grants/{grant_id}/revoke"))).send().await.unwrap();
    assert_eq!(confirm.status(), StatusCode::OK);
    let confirm = confirm.text().await.unwrap();
    assert!(confirm.contains("Was das Amt schon abgerufen hat, bleibt beim Amt."), "{confirm}");
    assert!(confirm.contains(&format!("action=\"/grants/{grant_id}/revoke\"")), "{confirm}");
    assert!(page.contains("Jetzt zurücknehmen") && page.contains("1 von 3") && page.contains("aktiv"));
    assert!(page.contains("Einkommensnachweis: Nettoeinkommen im Monat"));

    // Ben cannot revoke anna's grant (JSON or form): not found, still active.
    let ben = log_in(&app, "ben", "substantial").await;
    let response = ben
        .browser
        .post(app.url(&format!("/api/v1/grants/{grant_id}/revoke")))
        .header("x-csrf-token", &ben.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_code(response).await, "not_found");
    let form = [("csrf", ben.csrf.as_str())];
    let url = app.url(&format!("/grants/{grant_id}/revoke"));
    assert_eq!(ben.browser.get(&url).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    assert_eq!(ben.no_redirects().post(&url).form(&form).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    // Without the CSRF token: refused.
    let no_csrf = [("csrf", "wrong")];
    assert_eq!(anna.no_redirects().post(&url).form(&no_csrf).send().await.unwrap().status(), StatusCode::FORBIDDEN);
    let response = anna.browser.post(app.url(&format!("/api/v1/grants/{grant_id}/revoke"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(grants_json(&app, &anna).await[0]["status"], "active");

    // Anna revokes through the page.
    let form = [("csrf", anna.csrf.as_str())];
    let response = anna.no_redirects().post(&url).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/grants?notice=revoked");
    let page = anna.browser.get(app.url("/grants?notice=revoked")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Sie haben die Freigabe zurückgenommen.") && page.contains("zurückgenommen</strong>"));
    assert!(!page.contains("/revoke\""), "no revoke button for a revoked grant");
    let release = app.as_department("wohngeldstelle", Method::GET, &release_path).send().await.unwrap();
    assert_eq!(release.status(), StatusCode::FORBIDDEN);
    assert_eq!(error_code(release).await, "grant_revoked");
    let grants = grants_json(&app, &anna).await;
    assert_eq!(grants[0]["status"], "revoked");
    assert!(grants[0]["revoked_at"].is_string());
    // Revoking again is fine (204); an unknown grant is not found.
    let again = anna
        .browser
        .post(app.url(&format!("/api/v1/grants/{grant_id}/revoke")))
        .header("x-csrf-token", &anna.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let unknown = anna
        .browser
        .post(app.url("/api/v1/grants/0123456789abcdef0123456789abcdef/revoke"))
        .header("x-csrf-token", &anna.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A missing document is added from the consent page and the upload leads
/// back to the request; a foreign `return_to` is ignored.
async fn missing_document_upload_returns_to_the_request(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (id, approve_url) = open_request(&app, "kita_amt", "daycare_fee_reduction").await;
    let anna = log_in(&app, "anna", "high").await;
    let page = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    let link = format!("/evidence/new?type=income_statement&amp;return_to=%2Frequests%2F{id}");
    assert!(page.contains(&link), "{page}");
    let form = anna
        .browser
        .get(app.url(&format!("/evidence/new?type=income_statement&return_to=%2Frequests%2F{id}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(form.contains(&format!("name=\"return_to\" value=\"/requests/{id}\"")), "{form}");
    let upload = |return_to: &str| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", anna.csrf.clone())
            .text("type", "income_statement")
            .text("return_to", return_to.to_owned());
        for (name, value) in INCOME {
            form = form.text(format!("field.{name}"), (*value).to_owned());
        }
        form = form.text("field.number_of_children", "2");
        anna.no_redirects().post(app.url("/evidence")).multipart(form).send()
    };
    let response = upload(&format!("/requests/{id}")).await.unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], format!("/requests/{id}").as_str());
    for foreign in ["https://evil.example/", "//evil.example", "/evidence/../admin", "/requests/not-an-id"] {
        let response = upload(foreign).await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{foreign}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with("/evidence/"), "{foreign} led to {location}");
    }
    let page = anna.browser.get(&approve_url).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("2100.50") || page.contains("2.100,50"), "the new document is offered: {page}");
    app.stop().await;
}

on_both_backends_and_pkcs11!(
    end_to_end_housing_benefit,
    missing_document_upload_returns_to_the_request,
    consent_page_needs_login_and_shows_only_own_values,
    step_up_for_a_service_that_needs_level_high,
    csrf_is_required_and_nothing_is_stored,
    approve_within_limits_with_exactly_the_chosen_fields,
    deny_is_seen_by_the_department,
    expired_request_cannot_be_answered,
    revoke_stops_releases_and_only_the_owner_can_revoke,
);
