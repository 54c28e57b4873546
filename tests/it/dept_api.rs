//! The department API end to end over HTTP, departments authenticated by
//! their client certificates (forwarded by the allow-listed test proxy
//! address): access requests, release with its receipt, and every refusal
//! (each audited, each with its stable code). The citizen side is driven
//! through the vault directly here (the consent pages have their own tests).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tresor::audit::{Action, AuditEntry, Outcome};
use tresor::clock::Clock;
use tresor::crypto::jws::verify_detached;
use tresor::ids::{CitizenId, EvidenceId, GrantId, RequestId};
use tresor::policy::{FieldRef, LoginLevel};
use tresor::store::{ActorKind, AuditFilter, GrantRecord};
use tresor::vault::Approval;

use crate::support::app::{Backend, TestApp, TestAppOptions, shipped_policies};
use crate::support::pki::CertKind;

// --- helpers -------------------------------------------------------------------

const PARKING: &str = "resident_parking_permit";
/// A residence certificate as the citizen typed it.
const RESIDENCE: &[(&str, &str)] = &[
    ("family_name", "Mustermann"),
    ("given_names", "Erika"),
    ("street", "Lindenallee"),
    ("house_number", "12a"),
    ("postal_code", "12345"),
    ("city", "Musterstadt"),
    ("registered_since", "01.04.2019"),
    ("residence_type", "main"),
];
const TRAFFIC: &str = "strassenverkehrsbehoerde";

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// A citizen with a residence certificate and a vehicle registration.
async fn citizen_with_documents(app: &TestApp, subject: &str) -> (CitizenId, EvidenceId, EvidenceId) {
    let vault = &app.state.vault;
    let citizen = vault.log_in_citizen("eid", subject).await.unwrap();
    let residence = vault
        .create_evidence(&citizen, LoginLevel::High, "residence_certificate", &map(RESIDENCE), None)
        .await
        .unwrap();
    let vehicle = vault
        .create_evidence(
            &citizen,
            LoginLevel::High,
            "vehicle_registration",
            &map(&[
                ("license_plate", "M-ST 1234"),
                ("vehicle_class", "M1"),
                ("holder_family_name", "Mustermann"),
                ("holder_street", "Lindenallee 12a"),
                ("holder_postal_code", "12345"),
                ("holder_city", "Musterstadt"),
                ("first_registration", "15.05.2020"),
            ]),
            None,
        )
        .await
        .unwrap();
    (citizen, residence, vehicle)
}

async fn open_request(app: &TestApp, department: &str, service: &str) -> reqwest::Response {
    app.as_department(department, Method::POST, "/api/v1/dept/requests")
        .json(&json!({"service": service, "reference": "AZ 32-2026-0815"}))
        .send()
        .await
        .unwrap()
}

async fn request_id(app: &TestApp, department: &str, service: &str) -> RequestId {
    let response = open_request(app, department, service).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().parse().unwrap()
}

fn fields(list: &[&str]) -> Vec<FieldRef> {
    list.iter().map(|field| FieldRef::parse(field).unwrap()).collect()
}

/// The citizen approves a parking request for `approved` fields.
async fn approve(
    app: &TestApp,
    citizen: &CitizenId,
    request: &RequestId,
    evidence: Vec<EvidenceId>,
    approved: &[&str],
    max_uses: u32,
) -> GrantRecord {
    let approval = Approval { evidence, fields: fields(approved), duration_days: 30, max_uses, without_files: false };
    app.state.vault.approve_access_request(citizen, LoginLevel::Substantial, request, &approval).await.unwrap()
}

/// A parking grant for all policy fields with `max_uses` (also used by
/// `outage`).
pub(crate) async fn parking_grant(app: &TestApp, subject: &str, max_uses: u32) -> (CitizenId, GrantRecord) {
    let (citizen, residence, vehicle) = citizen_with_documents(app, subject).await;
    let request = request_id(app, TRAFFIC, PARKING).await;
    let grant = approve(
        app,
        &citizen,
        &request,
        vec![residence, vehicle],
        &[
            "residence_certificate.street",
            "residence_certificate.house_number",
            "residence_certificate.postal_code",
            "residence_certificate.city",
            "vehicle_registration.license_plate",
        ],
        max_uses,
    )
    .await;
    (citizen, grant)
}

async fn release(app: &TestApp, department: &str, grant: impl std::fmt::Display) -> reqwest::Response {
    app.as_department(department, Method::GET, &format!("/api/v1/dept/grants/{grant}/release")).send().await.unwrap()
}

async fn expect_error(response: reqwest::Response, status: StatusCode, code: &str) {
    assert_eq!(response.status(), status, "expected {code}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(!body["error"]["message"].as_str().unwrap().is_empty());
}

/// Release entries for `grant` with `outcome`.
async fn release_entries(app: &TestApp, grant: &GrantId, outcome: Outcome) -> Vec<tresor::audit::AuditEntry> {
    let filter = AuditFilter {
        action: Some(Action::Release.as_str()),
        outcome: Some(outcome.as_str()),
        ..AuditFilter::default()
    };
    let stored = app.store.audit_entries(&filter, 10_000, None).await.unwrap();
    stored
        .iter()
        .map(|stored| AuditEntry::from_stored(stored).unwrap().unwrap())
        .filter(|entry| entry.event.targets.grant.as_deref() == Some(grant.as_str()))
        .collect()
}

// --- access requests -------------------------------------------------------------

async fn requests_are_opened_and_polled(backend: Backend) {
    let app = TestApp::start(backend).await;
    let response = open_request(&app, TRAFFIC, PARKING).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("/api/v1/dept/requests/{id}"));
    assert_eq!(body["approve_url"], format!("{}/requests/{id}", app.base));
    let expires: chrono::DateTime<chrono::Utc> = body["expires_at"].as_str().unwrap().parse().unwrap();
    let now = app.clock.now();
    assert!(expires > now + Duration::hours(23) && expires <= now + Duration::hours(24), "default 24 h");

    let status: Value = app.as_department(TRAFFIC, Method::GET, &location).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["status"], "pending");
    assert!(status.get("grant_id").is_none());

    // Another department does not see it at all.
    let other = app.as_department("kita_amt", Method::GET, &location).send().await.unwrap();
    expect_error(other, StatusCode::NOT_FOUND, "not_found").await;
    // Unknown and malformed ids.
    for path in ["/api/v1/dept/requests/0123456789abcdef0123456789abcdef", "/api/v1/dept/requests/x'--"] {
        expect_error(
            app.as_department(TRAFFIC, Method::GET, path).send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    // Unanswered, it expires after 24 hours.
    app.clock.advance(Duration::hours(24));
    let status: Value = app.as_department(TRAFFIC, Method::GET, &location).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["status"], "expired");

    // Opening is audited (actor: the department).
    let filter = AuditFilter { action: Some(Action::AccessRequestCreate.as_str()), ..AuditFilter::default() };
    let created = app.store.audit_entries(&filter, 10, None).await.unwrap();
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].actor_id.as_deref(), Some(TRAFFIC));
    app.stop().await;
}

async fn bad_requests_get_clear_errors(backend: Backend) {
    let app = TestApp::start(backend).await;
    // A service of another department: refused and audited.
    expect_error(open_request(&app, "kita_amt", PARKING).await, StatusCode::FORBIDDEN, "wrong_department").await;
    let filter = AuditFilter {
        action: Some(Action::AccessRequestCreate.as_str()),
        outcome: Some(Outcome::Refused.as_str()),
        ..AuditFilter::default()
    };
    assert_eq!(app.store.audit_entries(&filter, 10, None).await.unwrap().len(), 1);
    expect_error(
        open_request(&app, TRAFFIC, "no_such_service").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown_service",
    )
    .await;
    let post = |body: &str, content_type: &str| {
        app.as_department(TRAFFIC, Method::POST, "/api/v1/dept/requests")
            .header("content-type", content_type)
            .body(body.to_owned())
    };
    expect_error(post("{", "application/json").send().await.unwrap(), StatusCode::BAD_REQUEST, "invalid_json").await;
    expect_error(
        post(r#"{"service":"resident_parking_permit"}"#, "application/json").send().await.unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    expect_error(
        post(r#"{"service":"resident_parking_permit","reference":"x","extra":1}"#, "application/json")
            .send()
            .await
            .unwrap(),
        StatusCode::BAD_REQUEST,
        "invalid_json",
    )
    .await;
    expect_error(
        post(r#"{"service":"resident_parking_permit","reference":"x"}"#, "text/plain").send().await.unwrap(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    for reference in ["", "   ", &"x".repeat(101), "line\nbreak"] {
        let body = json!({"service": PARKING, "reference": reference}).to_string();
        expect_error(
            post(&body, "application/json").send().await.unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_reference",
        )
        .await;
    }
    assert_eq!(app.count_rows("access_requests").await, 0, "nothing stored");
    app.stop().await;
}

/// Text-direction controls and other invisible format characters would make
/// the reference on the citizen's consent page read differently from what
/// the department sent (`AZ 12<RLO>3-NIVAR` shows as `AZ 12RAVIN-3`).
async fn references_with_invisible_characters_are_refused(backend: Backend) {
    let app = TestApp::start(backend).await;
    let post = |reference: &str| {
        app.as_department(TRAFFIC, Method::POST, "/api/v1/dept/requests")
            .json(&json!({"service": PARKING, "reference": reference}))
            .send()
    };
    for reference in [
        "AZ 12\u{202E}3-NIVAR\u{202C}",
        "AZ 12\u{2067}3-NIVAR\u{2069}",
        "AZ 12\u{200F}3",
        "AZ\u{200B}123",
        "AZ 12\u{2060}3",
        "\u{FEFF}AZ 123",
        "AZ 12\u{00AD}3",
        "AZ 12\u{061C}3",
        "AZ 12\u{E0041}3",
        "AZ 12\u{FFF9}3\u{FFFB}",
    ] {
        let response = post(reference).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{reference:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_reference", "{reference:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("invisible formatting characters"), "the message says what is wrong: {message}");
        assert!(body.get("approve_url").is_none() && body.get("id").is_none(), "no consent page to open: {body}");
    }
    assert_eq!(app.count_rows("access_requests").await, 0, "nothing stored");
    // Ordinary German references pass unchanged.
    let reference = "AZ 32/2026 – Müller-Lüdenscheidt, Straße 5 (Gebühr 12,50 €)";
    let response = post(reference).await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let status: Value = app.as_department(TRAFFIC, Method::GET, &location).send().await.unwrap().json().await.unwrap();
    assert_eq!(status["reference"], reference);
    app.stop().await;
}

async fn department_calls_need_a_valid_certificate(backend: Backend) {
    let app = TestApp::start(backend).await;
    let url = app.url("/api/v1/dept/requests");
    let body = json!({"service": PARKING, "reference": "AZ 1"});
    // No certificate at all.
    let response = reqwest::Client::new().post(&url).json(&body).send().await.unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "certificate_required").await;
    // Certificates the verifier refuses, each with its code.
    let other_ca = crate::support::pki::TestPki::new("Some Other CA");
    let cases = [
        (app.pki.issue("Strassenverkehrsbehoerde", CertKind::Expired), "certificate_expired"),
        (app.pki.issue("Strassenverkehrsbehoerde", CertKind::NotYetValid), "certificate_not_yet_valid"),
        (app.pki.issue("Strassenverkehrsbehoerde", CertKind::ServerAuthOnly), "certificate_no_client_auth"),
        (other_ca.issue("Strassenverkehrsbehoerde", CertKind::Valid), "certificate_unknown_ca"),
        (app.pki.issue("Bauamt", CertKind::Valid), "certificate_unknown_department"),
        // Right subject, but wohngeldstelle is pinned to another key.
        (app.pki.issue("Wohngeldstelle", CertKind::Valid), "certificate_pin_mismatch"),
    ];
    for (cert, code) in cases {
        let response =
            app.with_certificate(&cert, Method::POST, "/api/v1/dept/requests").json(&body).send().await.unwrap();
        expect_error(response, StatusCode::UNAUTHORIZED, code).await;
    }
    // Garbage in the header.
    let response = reqwest::Client::new()
        .post(&url)
        .header("x-ssl-client-cert", "not a certificate")
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::UNAUTHORIZED, "certificate_malformed").await;
    assert_eq!(app.count_rows("access_requests").await, 0);
    app.stop().await;
}

async fn a_remembered_certificate_still_expires(backend: Backend) {
    let app = TestApp::start(backend).await;
    let status = |app: &TestApp| {
        app.as_department(TRAFFIC, Method::POST, "/api/v1/dept/requests")
            .json(&json!({"service": PARKING, "reference": "AZ 2"}))
            .send()
    };
    assert_eq!(status(&app).await.unwrap().status(), StatusCode::CREATED, "verified and remembered");
    // The test certificates end in 2044; twenty years on, the remembered
    // verification does not outlive the certificate.
    app.clock.advance(Duration::days(365 * 20));
    expect_error(status(&app).await.unwrap(), StatusCode::UNAUTHORIZED, "certificate_expired").await;
    app.stop().await;
}

// --- release ---------------------------------------------------------------------

async fn release_gives_exactly_the_approved_policy_fields(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (citizen, residence, vehicle) = citizen_with_documents(&app, "erika").await;
    let request = request_id(&app, TRAFFIC, PARKING).await;
    // The citizen leaves out the house number.
    let grant = approve(
        &app,
        &citizen,
        &request,
        vec![residence, vehicle],
        &[
            "residence_certificate.street",
            "residence_certificate.postal_code",
            "residence_certificate.city",
            "vehicle_registration.license_plate",
        ],
        2,
    )
    .await;
    let status: Value = app
        .as_department(TRAFFIC, Method::GET, &format!("/api/v1/dept/requests/{request}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "approved");
    assert_eq!(status["grant_id"], grant.id.as_str());

    let response = release(&app, TRAFFIC, &grant.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let receipt = response.headers()["tresor-receipt"].to_str().unwrap().to_owned();
    let bytes = response.bytes().await.unwrap();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["grant_id"], grant.id.as_str());
    assert_eq!(body["service"], PARKING);
    assert_eq!(body["uses_left"], 1);
    let evidence = body["evidence"].as_array().unwrap();
    assert_eq!(evidence.len(), 2);
    assert_eq!(evidence[0]["type"], "residence_certificate");
    assert_eq!(
        evidence[0]["fields"],
        json!({"street": "Lindenallee", "postal_code": "12345", "city": "Musterstadt"}),
        "no house number (not approved), no name or birth date (not in the policy)"
    );
    assert_eq!(evidence[1]["fields"], json!({"license_plate": "M-ST 1234"}));
    assert!(evidence.iter().all(|e| e.get("file").is_none()), "the parking policy releases no files");
    let text = String::from_utf8_lossy(&bytes);
    for secret in ["Mustermann", "Erika", "M1", "2019", citizen.as_str()] {
        assert!(!text.contains(secret), "{secret} must not be released");
    }
    // The subject is the pairwise pseudonym: stable for this department, not the citizen id.
    let subject = body["subject"].as_str().unwrap();
    assert_eq!(subject.len(), 64);
    assert_eq!(subject, app.state.vault.keys().pepper().pairwise_pseudonym(&citizen, TRAFFIC).unwrap());
    assert_ne!(subject, app.state.vault.keys().pepper().pairwise_pseudonym(&citizen, "wohngeldstelle").unwrap());

    // The receipt is a detached EdDSA JWS over exactly these bytes, with the key from the JWKS.
    let jwks: Value = reqwest::get(app.url("/api/v1/keys")).await.unwrap().json().await.unwrap();
    let jwk = &jwks["keys"][0];
    assert_eq!(
        (jwk["kty"].as_str(), jwk["crv"].as_str(), jwk["alg"].as_str()),
        (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
    );
    let public_key: [u8; 32] = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    assert!(verify_detached(&public_key, &receipt, &bytes));
    let mut tampered = bytes.to_vec();
    let position = text.find("12345").unwrap();
    tampered[position] = b'9';
    assert!(!verify_detached(&public_key, &receipt, &tampered), "a changed body does not verify");
    let header: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(receipt.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["kid"], jwk["kid"]);

    // The audit entry is there, says which fields (never values), and its index is in the body.
    let entries = release_entries(&app, &grant.id, Outcome::Success).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(body["audit"]["index"], entries[0].sequence);
    assert_eq!(entries[0].event.targets.grant_use, Some(1));
    assert_eq!(entries[0].event.targets.subject.as_deref(), Some(citizen.as_str()));
    assert_eq!(entries[0].event.targets.fields.len(), 4);
    app.stop().await;
}

async fn refusals_are_403_with_stable_codes_and_audited(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (citizen, grant) = parking_grant(&app, "erika", 2).await;

    // Another department's certificate.
    expect_error(release(&app, "wohngeldstelle", &grant.id).await, StatusCode::FORBIDDEN, "wrong_department").await;
    // Unknown and malformed grant ids: 404 (a well-formed unknown id is audited).
    expect_error(release(&app, TRAFFIC, "0123456789abcdef0123456789abcdef").await, StatusCode::NOT_FOUND, "not_found")
        .await;
    expect_error(release(&app, TRAFFIC, "nonsense").await, StatusCode::NOT_FOUND, "not_found").await;

    // Not yet valid: the clock before the approval.
    app.clock.set(grant.not_before - Duration::seconds(1));
    expect_error(release(&app, TRAFFIC, &grant.id).await, StatusCode::FORBIDDEN, "grant_not_yet_valid").await;
    app.clock.set(grant.not_before);

    // Two uses, then exhausted.
    assert_eq!(release(&app, TRAFFIC, &grant.id).await.status(), StatusCode::OK);
    assert_eq!(release(&app, TRAFFIC, &grant.id).await.status(), StatusCode::OK);
    expect_error(release(&app, TRAFFIC, &grant.id).await, StatusCode::FORBIDDEN, "grant_exhausted").await;

    // Expired: exactly at expires_at.
    let (_, second) = parking_grant(&app, "max", 2).await;
    app.clock.set(second.expires_at);
    expect_error(release(&app, TRAFFIC, &second.id).await, StatusCode::FORBIDDEN, "grant_expired").await;
    app.clock.set(second.expires_at - Duration::seconds(1));
    assert_eq!(release(&app, TRAFFIC, &second.id).await.status(), StatusCode::OK, "valid until just before");

    // Revoked by the citizen: refused at once.
    let (third_citizen, third) = parking_grant(&app, "jonas", 2).await;
    app.state.vault.revoke_grant(&third_citizen, &third.id).await.unwrap();
    expect_error(release(&app, TRAFFIC, &third.id).await, StatusCode::FORBIDDEN, "grant_revoked").await;
    // Revoking someone else's grant is not found.
    let error = app.state.vault.revoke_grant(&citizen, &third.id).await;
    assert!(matches!(error, Err(tresor::vault::VaultError::NotFound)));

    // Each refusal is an audit entry with its code; successes are 3.
    let filter = AuditFilter {
        action: Some(Action::Release.as_str()),
        actor_kind: Some(ActorKind::Department),
        outcome: Some(Outcome::Refused.as_str()),
        ..AuditFilter::default()
    };
    let refused = app.store.audit_entries(&filter, 100, None).await.unwrap();
    let mut codes: Vec<String> =
        refused.iter().map(|stored| AuditEntry::from_stored(stored).unwrap().unwrap().event.reason.unwrap()).collect();
    codes.sort();
    assert_eq!(
        codes,
        ["grant_exhausted", "grant_expired", "grant_not_yet_valid", "grant_revoked", "not_found", "wrong_department"]
    );
    for stored in &refused {
        let entry = AuditEntry::from_stored(stored).unwrap().unwrap();
        assert!(entry.event.targets.fields.is_empty(), "a refusal names no released fields");
    }
    assert_eq!(release_entries(&app, &grant.id, Outcome::Success).await.len(), 2);
    app.stop().await;
}

/// Releases remember the grant and the sealed evidence they read. Changes
/// made past this process (as another vault node would make them, straight in
/// the shared store) must still win: evidence deleted there is not released,
/// a grant revoked there is refused and audited as such.
async fn remembered_reads_never_outlive_the_store(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (citizen, residence, vehicle) = citizen_with_documents(&app, "erika").await;
    let request = request_id(&app, TRAFFIC, PARKING).await;
    let grant = approve(
        &app,
        &citizen,
        &request,
        vec![residence, vehicle.clone()],
        &["residence_certificate.city", "vehicle_registration.license_plate"],
        2,
    )
    .await;
    let types = |body: &Value| -> Vec<String> {
        body["evidence"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect()
    };
    let response = release(&app, TRAFFIC, &grant.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(types(&response.json().await.unwrap()), ["residence_certificate", "vehicle_registration"]);

    // Deleted elsewhere: the next release leaves it out.
    assert!(app.store.delete_evidence(&citizen, &vehicle).await.unwrap());
    let response = release(&app, TRAFFIC, &grant.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(types(&body), ["residence_certificate"]);
    assert!(!body.to_string().contains("M-ST 1234"));

    // Revoked elsewhere (revocation is checked before the use limit): refused, audited with the code and no fields.
    assert!(app.store.revoke_grant(&citizen, &grant.id, app.clock.now()).await.unwrap());
    expect_error(release(&app, TRAFFIC, &grant.id).await, StatusCode::FORBIDDEN, "grant_revoked").await;
    let refused = release_entries(&app, &grant.id, Outcome::Refused).await;
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].event.reason.as_deref(), Some("grant_revoked"));
    assert!(refused[0].event.targets.fields.is_empty() && refused[0].event.targets.evidence.is_empty());
    assert_eq!(release_entries(&app, &grant.id, Outcome::Success).await.len(), 2);
    app.stop().await;
}

/// A grant for a service the policy no longer offers (withdrawn after the
/// citizen approved): nothing is released, 403 `wrong_service`.
async fn a_withdrawn_service_releases_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (citizen, residence, _) = citizen_with_documents(&app, "erika").await;
    let now = app.clock.now();
    let request = tresor::store::AccessRequestRecord {
        id: "0123456789abcdef0123456789abcdef".parse().unwrap(),
        department: TRAFFIC.to_owned(),
        service: "retired_service".to_owned(),
        reference: "AZ alt".to_owned(),
        created_at: now,
        expires_at: now + Duration::hours(24),
        state: tresor::store::RequestState::Pending,
        citizen_id: None,
        answered_at: None,
        grant_id: None,
    };
    app.store.insert_access_request(&request).await.unwrap();
    let grant = GrantRecord {
        id: "fedcba9876543210fedcba9876543210".parse().unwrap(),
        request_id: request.id.clone(),
        citizen_id: citizen.clone(),
        department: TRAFFIC.to_owned(),
        service: "retired_service".to_owned(),
        approved_fields: vec!["residence_certificate.street".to_owned()],
        evidence_ids: vec![residence],
        created_at: now,
        not_before: now,
        expires_at: now + Duration::days(30),
        max_uses: 2,
        uses: 0,
        revoked_at: None,
        without_files: false,
    };
    assert!(app.store.answer_access_request(&request.id, &citizen, now, Some(&grant)).await.unwrap());
    expect_error(release(&app, TRAFFIC, &grant.id).await, StatusCode::FORBIDDEN, "wrong_service").await;
    assert_eq!(app.store.grant(&grant.id).await.unwrap().unwrap().uses, 0);
    assert_eq!(release_entries(&app, &grant.id, Outcome::Refused).await.len(), 1);
    app.stop().await;
}

async fn nothing_is_released_when_the_audit_log_fails(backend: Backend) {
    let production_writer = match backend {
        Backend::Sqlite => tresor::audit::log::Writer::Thread,
        Backend::Postgres => tresor::audit::log::Writer::Task,
    };
    let app = TestApp::start(backend).await;
    // The fault sits in front of the writer production runs on this backend.
    assert_eq!(app.state.vault.audit().writer(), production_writer);
    let (_, grant) = parking_grant(&app, "erika", 2).await;
    app.audit_fault.set_failing(true);
    let response = release(&app, TRAFFIC, &grant.id).await;
    assert!(!app.audit_fault.failed_batches.lock().unwrap().is_empty(), "the fault was met on that writer's path");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let text = response.text().await.unwrap();
    assert!(text.contains("audit_unavailable") && !text.contains("Lindenallee"), "{text}");
    app.audit_fault.set_failing(false);
    let stored = app.store.grant(&grant.id).await.unwrap().unwrap();
    assert_eq!(stored.uses, 0, "the use is not counted when its entry is not durable");
    assert_eq!(release(&app, TRAFFIC, &grant.id).await.status(), StatusCode::OK);
    app.stop().await;
}

/// 100 parallel releases of a grant allowed 10 uses: exactly 10 succeed, and
/// exactly 10 success entries exist; the other 90 are `grant_exhausted`.
async fn parallel_releases_respect_the_use_limit(backend: Backend) {
    // The shipped services allow at most 3 uses; this test's policy allows 10.
    let policies = tempfile::tempdir().unwrap();
    crate::support::pki::policy_copy_with_pins(&shipped_policies(), policies.path(), &[]);
    let service_file = policies.path().join("services/resident_parking_permit.toml");
    let text = std::fs::read_to_string(&service_file).unwrap().replace("max_uses = 2", "max_uses = 10");
    std::fs::write(&service_file, text).unwrap();
    let mut options = TestAppOptions::new(backend);
    options.policy_dir = Some(policies.path().to_owned());
    let app = TestApp::start_with(options).await;
    let (_, grant) = parking_grant(&app, "erika", 10).await;

    let client = reqwest::Client::new();
    let header = app.department_cert(TRAFFIC).forwarded_header();
    let url = app.url(&format!("/api/v1/dept/grants/{}/release", grant.id));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let request = client.get(&url).header("x-ssl-client-cert", header.clone());
        tasks.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }));
    }
    let mut ok = 0;
    let mut uses_left = Vec::new();
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::OK => {
                ok += 1;
                uses_left.push(body["uses_left"].as_u64().unwrap());
            }
            StatusCode::FORBIDDEN => assert_eq!(body["error"]["code"], "grant_exhausted"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 10);
    uses_left.sort_unstable();
    assert_eq!(uses_left, (0..10).collect::<Vec<u64>>(), "each use counted once");
    let successes = release_entries(&app, &grant.id, Outcome::Success).await;
    assert_eq!(successes.len(), 10);
    let mut numbers: Vec<u32> = successes.iter().map(|entry| entry.event.targets.grant_use.unwrap()).collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=10).collect::<Vec<u32>>());
    assert_eq!(release_entries(&app, &grant.id, Outcome::Refused).await.len(), 90);
    assert_eq!(app.store.grant(&grant.id).await.unwrap().unwrap().uses, 10);
    app.stop().await;
}

async fn released_files_are_streamed_only_where_the_policy_says(backend: Backend) {
    let app = TestApp::start(backend).await;
    let vault = &app.state.vault;
    let citizen = vault.log_in_citizen("eid", "erika").await.unwrap();
    // A residence certificate with a PDF, for housing benefit (file = true).
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..150_000u32).map(|i| (i % 251) as u8));
    let mut upload = vault.begin_file(&citizen, "meldebescheinigung.pdf", 1 << 20).await.unwrap();
    upload.write(vault, &pdf).await.unwrap();
    let file = upload.finish(vault).await.unwrap();
    let residence = vault
        .create_evidence(&citizen, LoginLevel::High, "residence_certificate", &map(RESIDENCE), Some(file))
        .await
        .unwrap();
    let request = request_id(&app, "wohngeldstelle", "housing_benefit").await;
    let grant = approve(&app, &citizen, &request, vec![residence.clone()], &["residence_certificate.city"], 3).await;
    let body: Value = release(&app, "wohngeldstelle", &grant.id).await.json().await.unwrap();
    let file = &body["evidence"][0]["file"];
    assert_eq!(file["media_type"], "application/pdf");
    assert_eq!(file["size"], pdf.len());
    let href = file["href"].as_str().unwrap();
    let response = app.as_department("wohngeldstelle", Method::GET, href).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(!disposition.contains("meldebescheinigung"), "the citizen's file name stays private: {disposition}");
    assert_eq!(disposition, "attachment; filename=\"document.pdf\"", "named from the stored type");
    assert_eq!(response.bytes().await.unwrap().as_ref(), pdf.as_slice());
    // Another department, a made-up release index, or too late: refused.
    let response = app.as_department(TRAFFIC, Method::GET, href).send().await.unwrap();
    expect_error(response, StatusCode::FORBIDDEN, "wrong_department").await;
    let index = body["audit"]["index"].as_u64().unwrap();
    let forged = href.replace(&format!("/releases/{index}/"), &format!("/releases/{}/", index.saturating_sub(1)));
    let response = app.as_department("wohngeldstelle", Method::GET, &forged).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    app.clock.advance(Duration::minutes(16));
    let response = app.as_department("wohngeldstelle", Method::GET, href).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    // Each download is audited before streaming.
    let filter = AuditFilter {
        action: Some(Action::EvidenceDownload.as_str()),
        actor_kind: Some(ActorKind::Department),
        ..AuditFilter::default()
    };
    let outcomes: Vec<String> =
        app.store.audit_entries(&filter, 10, None).await.unwrap().into_iter().map(|e| e.outcome).collect();
    assert_eq!(outcomes, ["success", "refused", "refused", "refused"]);
    app.stop().await;
}

/// Only documents with an approved field enter a grant, whatever the client
/// (the consent page leaves them out; the vault refuses them for the JSON API
/// too). A grant stored before that rule, holding such a document, releases
/// nothing of it: the body leaves it out and its file is not served, although
/// the release's audit entry names the grant's documents.
async fn a_document_without_an_approved_field_is_never_released(backend: Backend) {
    let app = TestApp::start(backend).await;
    let vault = &app.state.vault;
    let citizen = vault.log_in_citizen("eid", "erika").await.unwrap();
    let mut upload = vault.begin_file(&citizen, "meldebescheinigung.pdf", 1 << 20).await.unwrap();
    upload.write(vault, b"%PDF-1.7\nprivate").await.unwrap();
    let file = upload.finish(vault).await.unwrap();
    let residence = vault
        .create_evidence(&citizen, LoginLevel::High, "residence_certificate", &map(RESIDENCE), Some(file))
        .await
        .unwrap();
    let rent = vault
        .create_evidence(
            &citizen,
            LoginLevel::High,
            "rent_certificate",
            &map(&[("landlord", "Wohnbau Musterstadt eG"), ("monthly_rent", "845.30"), ("living_space_sqm", "72")]),
            None,
        )
        .await
        .unwrap();
    let request = request_id(&app, "wohngeldstelle", "housing_benefit").await;
    // The residence certificate is chosen, but only a rent field approved.
    let approval = Approval {
        evidence: vec![residence.clone(), rent.clone()],
        fields: fields(&["rent_certificate.monthly_rent"]),
        duration_days: 30,
        max_uses: 3,
        without_files: false,
    };
    let refused = vault.approve_access_request(&citizen, LoginLevel::Substantial, &request, &approval).await;
    match refused {
        Err(tresor::vault::VaultError::InvalidApproval(problem)) => {
            assert_eq!(problem.code(), "document_without_field")
        }
        Err(other) => panic!("expected document_without_field, got {other}"),
        Ok(_) => panic!("a document without an approved field entered a grant"),
    }
    assert_eq!(app.count_rows("grants").await, 0, "nothing stored");

    // A grant from before the rule: approved with a residence field, which an
    // older version could have left out while keeping the document.
    let grant = approve(
        &app,
        &citizen,
        &request,
        vec![residence.clone(), rent.clone()],
        &["rent_certificate.monthly_rent", "residence_certificate.city"],
        3,
    )
    .await;
    let changed = app
        .execute_as_insider(&format!(
            "UPDATE grants SET approved_fields = '[\"rent_certificate.monthly_rent\"]' WHERE id = '{}'",
            grant.id
        ))
        .await;
    assert_eq!(changed, 1);
    let body: Value = release(&app, "wohngeldstelle", &grant.id).await.json().await.unwrap();
    let released: Vec<&str> =
        body["evidence"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(released, ["rent_certificate"], "{body}");
    let index = body["audit"]["index"].as_u64().unwrap();
    let entry = release_entries(&app, &grant.id, Outcome::Success).await.pop().unwrap();
    assert!(entry.event.targets.evidence.contains(&residence.to_string()), "the entry names the grant's documents");
    let href = format!("/api/v1/dept/grants/{}/releases/{index}/files/{residence}", grant.id);
    let response = app.as_department("wohngeldstelle", Method::GET, &href).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;
    app.stop().await;
}

/// A citizen who left the files out (where the policy allows it) gets a
/// grant whose releases carry the approved fields and no file, and whose
/// file URLs answer 404 even for a document the release names. A grant
/// stored before the choice existed (the row written as the older code
/// wrote it, without the column) keeps releasing its file.
async fn a_grant_without_files_never_releases_a_file(backend: Backend) {
    let app = TestApp::start(backend).await;
    let vault = &app.state.vault;
    let citizen = vault.log_in_citizen("eid", "erika").await.unwrap();
    let mut upload = vault.begin_file(&citizen, "meldebescheinigung.pdf", 1 << 20).await.unwrap();
    upload.write(vault, b"%PDF-1.7\nErika Mustermann, geboren 1970").await.unwrap();
    let file = upload.finish(vault).await.unwrap();
    let residence = vault
        .create_evidence(&citizen, LoginLevel::High, "residence_certificate", &map(RESIDENCE), Some(file))
        .await
        .unwrap();
    let request = request_id(&app, "wohngeldstelle", "housing_benefit").await;
    let approval = Approval {
        evidence: vec![residence.clone()],
        fields: fields(&["residence_certificate.city"]),
        duration_days: 30,
        max_uses: 3,
        without_files: true,
    };
    let grant = vault.approve_access_request(&citizen, LoginLevel::Substantial, &request, &approval).await.unwrap();
    assert!(grant.without_files);
    assert!(app.store.grant(&grant.id).await.unwrap().unwrap().without_files, "stored as chosen");
    let response = release(&app, "wohngeldstelle", &grant.id).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["evidence"][0]["fields"], json!({ "city": "Musterstadt" }), "{body}");
    assert!(body["evidence"][0].get("file").is_none_or(Value::is_null), "no file: {body}");
    assert!(!text.contains("meldebescheinigung") && !text.contains("/files/"), "{text}");
    // The file URL the release would have named: not found.
    let index = body["audit"]["index"].as_u64().unwrap();
    let href = format!("/api/v1/dept/grants/{}/releases/{index}/files/{residence}", grant.id);
    let response = app.as_department("wohngeldstelle", Method::GET, &href).send().await.unwrap();
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    // A grant as stored before migration 0008: files go along as before.
    let older = request_id(&app, "wohngeldstelle", "housing_benefit").await;
    let now = app.clock.now();
    let old_grant: GrantId = "0123456789abcdef0123456789abcdef".parse().unwrap();
    let inserted = app
        .execute_as_insider(&format!(
            "INSERT INTO grants (id, request_id, citizen_id, department, service, approved_fields, evidence_ids, \
             created_at, not_before, expires_at, max_uses, uses, revoked_at) VALUES ('{old_grant}', '{older}', \
             '{citizen}', 'wohngeldstelle', 'housing_benefit', '[\"residence_certificate.city\"]', '[\"{residence}\"]', \
             {created}, {created}, {expires}, 3, 0, NULL)",
            created = now.timestamp_micros(),
            expires = (now + Duration::days(30)).timestamp_micros(),
        ))
        .await;
    assert_eq!(inserted, 1);
    assert!(!app.store.grant(&old_grant).await.unwrap().unwrap().without_files);
    let body: Value = release(&app, "wohngeldstelle", &old_grant).await.json().await.unwrap();
    let href = body["evidence"][0]["file"]["href"].as_str().expect("the older grant still releases its file");
    let response = app.as_department("wohngeldstelle", Method::GET, href).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.bytes().await.unwrap().starts_with(b"%PDF-1.7"));
    app.stop().await;
}

/// A department can prove its own release is in the log: the reference in
/// the release body leads to an inclusion proof against a checkpoint signed
/// on request, which verifies; another department, another entry or a bad
/// index get 404.
async fn a_release_comes_with_a_proof_of_its_audit_entry(backend: Backend) {
    use tresor::audit::checkpoint::{open_signed, parse_verifier_key};
    use tresor::audit::merkle::{leaf_hash, verify_inclusion};
    let app = TestApp::start(backend).await;
    let (_citizen, grant) = parking_grant(&app, "anna", 2).await;
    let response = release(&app, TRAFFIC, grant.id.as_str()).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let index = body["audit"]["index"].as_u64().unwrap();
    let proof_path = body["audit"]["proof"].as_str().unwrap().to_owned();
    assert_eq!(proof_path, format!("/api/v1/dept/grants/{}/releases/{index}/proof", grant.id));

    let proof = app.as_department(TRAFFIC, Method::GET, &proof_path).send().await.unwrap();
    assert_eq!(proof.status(), 200);
    let proof: Value = proof.json().await.unwrap();
    let entry = proof["body"].as_str().unwrap();
    let leaf = leaf_hash(entry.as_bytes());
    assert_eq!(hex::encode(leaf), proof["leaf_hash"].as_str().unwrap());
    let (name, key) = parse_verifier_key(&app.state.vault.audit().verifier_key()).unwrap();
    let checkpoint = open_signed(proof["checkpoint"].as_str().unwrap(), &name, &key).unwrap();
    assert!(checkpoint.size > index, "the checkpoint covers the release");
    let path: Vec<[u8; 32]> = proof["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| hex::decode(hash.as_str().unwrap()).unwrap().try_into().unwrap())
        .collect();
    verify_inclusion(&leaf, index, checkpoint.size, &path, &checkpoint.root).unwrap();

    // Not another department's, not another entry, not a bad index.
    let other = app.as_department("wohngeldstelle", Method::GET, &proof_path).send().await.unwrap();
    assert_eq!(other.status(), 404);
    for path in [
        format!("/api/v1/dept/grants/{}/releases/0/proof", grant.id),
        format!("/api/v1/dept/grants/{}/releases/{}/proof", grant.id, index + 1000),
        format!("/api/v1/dept/grants/{}/releases/abc/proof", grant.id),
        format!("/api/v1/dept/grants/{}/releases/-1/proof", grant.id),
    ] {
        let refused = app.as_department(TRAFFIC, Method::GET, &path).send().await.unwrap();
        assert_eq!(refused.status(), 404, "{path}");
    }
    app.stop().await;
}

on_both_backends_and_pkcs11!(
    a_release_comes_with_a_proof_of_its_audit_entry,
    requests_are_opened_and_polled,
    bad_requests_get_clear_errors,
    references_with_invisible_characters_are_refused,
    department_calls_need_a_valid_certificate,
    a_remembered_certificate_still_expires,
    release_gives_exactly_the_approved_policy_fields,
    refusals_are_403_with_stable_codes_and_audited,
    remembered_reads_never_outlive_the_store,
    a_withdrawn_service_releases_nothing,
    nothing_is_released_when_the_audit_log_fails,
    parallel_releases_respect_the_use_limit,
    released_files_are_streamed_only_where_the_policy_says,
    a_document_without_an_approved_field_is_never_released,
    a_grant_without_files_never_releases_a_file,
);
