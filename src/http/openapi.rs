//! The OpenAPI 3.1 description of the JSON API under `/api/v1/`, generated
//! from the handlers' `#[utoipa::path]` annotations and the wire types'
//! `ToSchema` derives, served at `/api/v1/openapi.json` and kept in the
//! repository as `openapi.json` (a test fails when the two differ;
//! `tresor openapi > openapi.json` regenerates it).
//!
//! What the annotations do not say is added here, from the code's own
//! tables: the security schemes, and every operation's error responses —
//! one per status, each the error JSON with its stable `code`s (from
//! [`ErrorCode`], with their status and English message), listed per
//! operation in [`OPERATION_ERRORS`].

use std::collections::BTreeMap;
use std::sync::LazyLock;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde_json::{Map, Value, json};
use utoipa::{OpenApi, ToSchema};

use super::error::ErrorCode;
use super::{api, audit, auth, consent, dept, dept_whoami, dpo};
use crate::policy::Lang;

/// The operations' tags.
pub mod tags {
    pub const PUBLIC: &str = "public";
    pub const CITIZEN: &str = "citizen";
    pub const DEPARTMENT: &str = "department";
    pub const DPO: &str = "dpo";
}

/// The path the description is served at.
pub const PATH: &str = "/api/v1/openapi.json";

/// eIDAS level of assurance of a login (the schema of `policy::LoginLevel`
/// as it serializes).
#[derive(ToSchema)]
#[schema(as = LoginLevel, rename_all = "lowercase")]
#[allow(dead_code)] // a schema only
pub enum LoginLevelSchema {
    Low,
    Substantial,
    High,
}

/// A witness as `GET /api/v1/dpo/witnesses` shows it (the schema of
/// `audit::witnessing::WitnessStatus` as it serializes).
#[derive(ToSchema)]
#[schema(as = WitnessStatus)]
#[allow(dead_code)] // a schema only
pub struct WitnessStatusSchema {
    name: String,
    url: String,
    verifier_key: String,
    cosigned_size: Option<u64>,
    last_cosigned_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What went wrong last (`kind`: `rollback`, `fork`, `refused`,
    /// `bad_cosignature`, `unreachable`), or null.
    #[schema(value_type = Option<Object>)]
    problem: Option<()>,
    security_refusals: u64,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "tresor",
        description = "The JSON API of tresor, the evidence vault: public audit-log proofs and keys, the \
citizens' API (session cookie; state-changing calls also need the session's CSRF token in `X-CSRF-Token`), \
the departments' API (mutual TLS: the department's client certificate) and the data-protection officers' \
queries (staff session cookie). Every error is `{\"error\": {\"code\", \"message\", \"detail\"?, \"fields\"?}}` \
with a stable `code`; each operation lists the codes it answers.",
        license(name = "EUPL-1.2", identifier = "EUPL-1.2"),
    ),
    paths(
        serve,
        api::evidence_types,
        super::catalogue::services_json,
        audit::checkpoint,
        audit::consistency,
        audit::tlog_checkpoint,
        audit::tlog_tile,
        dept::keys,
        api::session_info,
        auth::logout_api,
        api::list_evidence,
        api::upload_evidence,
        api::show_evidence,
        api::download_file,
        api::delete_evidence,
        api::erase_account,
        audit::my_access_log,
        consent::request_json,
        consent::approve_json,
        consent::deny_json,
        consent::grants_json,
        consent::revoke_json,
        dept::create_request,
        dept::request_status,
        dept::release,
        dept::release_proof,
        dept::released_file,
        dept_whoami::whoami,
        dpo::entries_json,
        dpo::witnesses_json,
    ),
    components(schemas(super::error::Body)),
    tags(
        (name = "public", description = "No authentication; rate-limited per client address (tiles and this \
description are not)."),
        (name = "citizen", description = "A citizen's session (`GET /login` through the eID bridge)."),
        (name = "department", description = "A department's client certificate, on tresor's TLS listener or \
forwarded by a trusted proxy; rate-limited per certificate."),
        (name = "dpo", description = "A data-protection officer's staff session (`GET /staff/login`); every \
query with personal data is itself audited."),
    )
)]
struct ApiDoc;

/// The codes every operation may answer: the server's own failures.
const SERVER: &[ErrorCode] = &[ErrorCode::InternalError, ErrorCode::RequestTimeout];
/// A citizen's session, read from the store.
const CITIZEN: &[ErrorCode] = &[ErrorCode::NotLoggedIn, ErrorCode::StoreUnavailable];
/// A state-changing citizen call.
const CSRF: &[ErrorCode] = &[ErrorCode::CsrfTokenInvalid];
/// An id in the path: malformed and unknown ids alike are not found.
const PATH_ID: &[ErrorCode] = &[ErrorCode::NotFound, ErrorCode::InvalidPath];
/// The public API's rate limit per client address.
const PUBLIC: &[ErrorCode] = &[ErrorCode::RateLimited];
/// A JSON request body.
const JSON_BODY: &[ErrorCode] = &[ErrorCode::UnsupportedMediaType, ErrorCode::InvalidJson, ErrorCode::BodyTooLarge];
/// An audit entry is written before the effect (fail closed).
const AUDITED: &[ErrorCode] = &[ErrorCode::AuditUnavailable, ErrorCode::StoreUnavailable];
/// A department's client certificate (`DepartmentCaller`) and its budgets.
const DEPARTMENT: &[ErrorCode] = &[
    ErrorCode::CertificateRequired,
    ErrorCode::UntrustedProxy,
    ErrorCode::CertificateUnknownCa,
    ErrorCode::CertificateExpired,
    ErrorCode::CertificateNotYetValid,
    ErrorCode::CertificateNoClientAuth,
    ErrorCode::CertificateRevoked,
    ErrorCode::CertificateUnknownDepartment,
    ErrorCode::CertificateAmbiguousDepartment,
    ErrorCode::CertificatePinMismatch,
    ErrorCode::CertificateMalformed,
    ErrorCode::CertificateConfig,
    ErrorCode::RateLimited,
    ErrorCode::TooManyRefusals,
];
/// A data-protection officer's staff session.
const STAFF: &[ErrorCode] =
    &[ErrorCode::StaffLoginNotConfigured, ErrorCode::StaffNotLoggedIn, ErrorCode::NotADpo, ErrorCode::StoreUnavailable];
/// The refusals of a release (`policy::Refusal`).
const REFUSALS: &[ErrorCode] = &[
    ErrorCode::WrongDepartment,
    ErrorCode::WrongService,
    ErrorCode::GrantNotYetValid,
    ErrorCode::GrantExpired,
    ErrorCode::GrantRevoked,
    ErrorCode::GrantExhausted,
];
/// A citizen's answer to a request that may no longer be open.
const REQUEST_STATE: &[ErrorCode] = &[ErrorCode::RequestExpired, ErrorCode::RequestAnswered];
/// An approval the vault refuses (`vault::ApprovalProblem`).
const APPROVAL: &[ErrorCode] = &[
    ErrorCode::NoFieldsApproved,
    ErrorCode::FieldNotInPolicy,
    ErrorCode::EvidenceNotFound,
    ErrorCode::EvidenceTypeNotRequested,
    ErrorCode::OneDocumentPerType,
    ErrorCode::FieldWithoutDocument,
    ErrorCode::DocumentWithoutField,
    ErrorCode::DurationOutOfRange,
    ErrorCode::UsesOutOfRange,
    ErrorCode::FileRequired,
];
/// An upload: the gate, the multipart body, and the vault's checks.
const UPLOAD: &[ErrorCode] = &[
    ErrorCode::TooManyUploads,
    ErrorCode::UploadsBusy,
    ErrorCode::InvalidMultipart,
    ErrorCode::InvalidEncoding,
    ErrorCode::TooManyParts,
    ErrorCode::TooManyFiles,
    ErrorCode::UnknownPart,
    ErrorCode::FieldsTooLarge,
    ErrorCode::ValueTooLong,
    ErrorCode::FileTooLarge,
    ErrorCode::BodyTooLarge,
    ErrorCode::UploadTimedOut,
    ErrorCode::MissingType,
    ErrorCode::UnknownEvidenceType,
    ErrorCode::InvalidFields,
    ErrorCode::FileNotAllowed,
    ErrorCode::UnsupportedFileType,
    ErrorCode::InvalidFileName,
    ErrorCode::LoginLevelTooLow,
];

/// Every operation's error codes besides [`SERVER`]: (method, path, groups).
pub const OPERATION_ERRORS: &[(&str, &str, &[&[ErrorCode]])] = &[
    ("get", PATH, &[]),
    ("get", "/api/v1/evidence-types", &[PUBLIC]),
    ("get", "/api/v1/services", &[PUBLIC]),
    ("get", "/api/v1/audit/checkpoint", &[PUBLIC, &[ErrorCode::StoreUnavailable]]),
    (
        "get",
        "/api/v1/audit/consistency",
        &[PUBLIC, &[ErrorCode::InvalidTreeSize, ErrorCode::InvalidQuery, ErrorCode::StoreUnavailable]],
    ),
    ("get", "/api/v1/audit/log/checkpoint", &[PUBLIC, &[ErrorCode::NoCheckpoint, ErrorCode::StoreUnavailable]]),
    ("get", "/api/v1/audit/log/tile/{path}", &[PATH_ID, &[ErrorCode::StoreUnavailable]]),
    ("get", "/api/v1/keys", &[PUBLIC]),
    ("get", "/api/v1/session", &[CITIZEN]),
    ("post", "/api/v1/logout", &[CITIZEN, CSRF, AUDITED]),
    ("get", "/api/v1/evidence", &[CITIZEN]),
    ("post", "/api/v1/evidence", &[CITIZEN, CSRF, UPLOAD, AUDITED]),
    ("get", "/api/v1/evidence/{id}", &[CITIZEN, PATH_ID, &[ErrorCode::LoginLevelTooLow], AUDITED]),
    ("get", "/api/v1/evidence/{id}/file", &[CITIZEN, PATH_ID, &[ErrorCode::LoginLevelTooLow], AUDITED]),
    ("delete", "/api/v1/evidence/{id}", &[CITIZEN, CSRF, PATH_ID, AUDITED]),
    ("delete", "/api/v1/account", &[CITIZEN, CSRF, AUDITED]),
    (
        "get",
        "/api/v1/audit/mine",
        &[CITIZEN, &[ErrorCode::InvalidCursor, ErrorCode::InvalidLimit, ErrorCode::InvalidQuery]],
    ),
    ("get", "/api/v1/requests/{id}", &[CITIZEN, PATH_ID, REQUEST_STATE, &[ErrorCode::LoginLevelTooLow]]),
    (
        "post",
        "/api/v1/requests/{id}/approve",
        &[CITIZEN, CSRF, PATH_ID, JSON_BODY, REQUEST_STATE, APPROVAL, &[ErrorCode::LoginLevelTooLow], AUDITED],
    ),
    ("post", "/api/v1/requests/{id}/deny", &[CITIZEN, CSRF, PATH_ID, REQUEST_STATE, AUDITED]),
    ("get", "/api/v1/grants", &[CITIZEN]),
    ("post", "/api/v1/grants/{id}/revoke", &[CITIZEN, CSRF, PATH_ID, AUDITED]),
    (
        "post",
        "/api/v1/dept/requests",
        &[DEPARTMENT, JSON_BODY, &[ErrorCode::UnknownService, ErrorCode::InvalidReference], AUDITED],
    ),
    ("get", "/api/v1/dept/requests/{id}", &[DEPARTMENT, PATH_ID, &[ErrorCode::StoreUnavailable]]),
    ("get", "/api/v1/dept/grants/{id}/release", &[DEPARTMENT, PATH_ID, REFUSALS, AUDITED]),
    ("get", "/api/v1/dept/grants/{id}/releases/{index}/proof", &[DEPARTMENT, PATH_ID, &[ErrorCode::StoreUnavailable]]),
    (
        "get",
        "/api/v1/dept/grants/{id}/releases/{index}/files/{evidence}",
        &[DEPARTMENT, PATH_ID, &[ErrorCode::WrongDepartment, ErrorCode::GrantRevoked], AUDITED],
    ),
    ("get", "/api/v1/dept/whoami", &[DEPARTMENT]),
    ("get", "/api/v1/dpo/entries", &[STAFF, &[ErrorCode::InvalidFilter], AUDITED]),
    ("get", "/api/v1/dpo/witnesses", &[STAFF]),
];

/// The description, as served and as committed (pretty JSON, one newline at
/// the end).
pub fn document() -> String {
    let mut text = serde_json::to_string_pretty(&document_value()).unwrap_or_default();
    text.push('\n');
    text
}

/// The description as JSON: the annotations' document with the security
/// schemes and the error responses added.
pub fn document_value() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    add_security_schemes(&mut doc);
    describe_upload_fields(&mut doc);
    add_error_responses(&mut doc);
    doc
}

static DOCUMENT: LazyLock<bytes::Bytes> = LazyLock::new(|| bytes::Bytes::from(document()));

/// `GET /api/v1/openapi.json`: this description. Public and cacheable.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = tags::PUBLIC,
    responses((status = 200, description = "This description (OpenAPI 3.1).", content_type = "application/json",
        body = Object)))]
pub async fn serve() -> Response {
    let mut response = Response::new(Body::from(DOCUMENT.clone()));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    response
}

fn add_security_schemes(doc: &mut Value) {
    let schemes = json!({
        "session_cookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "__Host-tresor",
            "description": "The citizen's session, set at login (`GET /login`). Named `tresor` when tresor is \
    served over plain HTTP on a loopback address (`serve --dev`)."
        },
        "csrf_token": {
            "type": "apiKey",
            "in": "header",
            "name": "X-CSRF-Token",
            "description": "The session's CSRF token (`csrf_token` of `GET /api/v1/session`), on every \
    state-changing citizen call."
        },
        "department_certificate": {
            "type": "mutualTLS",
            "description": "The department's X.509 client certificate, issued by the configured department CA \
    for the subject (or SPKI pin) `policies/departments.toml` names: presented at tresor's TLS listener, or \
    forwarded by a configured trusted proxy."
        },
        "staff_session_cookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": "__Host-tresor-staff",
            "description": "A data-protection officer's staff session (`GET /staff/login`). Named `tresor_staff` \
    over plain HTTP on a loopback address (`serve --dev`)."
        }
    });
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.insert("securitySchemes".into(), schemes);
    }
}

/// The upload's field parts are named by the evidence type (`field.<name>`):
/// any further text part.
fn describe_upload_fields(doc: &mut Value) {
    if let Some(form) = doc.pointer_mut("/components/schemas/UploadForm").and_then(Value::as_object_mut) {
        form.insert(
            "additionalProperties".into(),
            json!({"type": "string", "description": "A field's value, as the part `field.<name>`."}),
        );
        form.insert(
            "propertyNames".into(),
            json!({"anyOf": [{"enum": ["type", "file", "csrf"]}, {"pattern": "^field\\."}]}),
        );
    }
}

/// Each operation's error codes (its groups and [`SERVER`]), grouped by
/// status: one response per status, the error JSON with those codes.
fn add_error_responses(doc: &mut Value) {
    for (method, path, groups) in OPERATION_ERRORS {
        let Some(operation) = doc.pointer_mut(&format!("/paths/{}/{method}", pointer_escape(path))) else {
            continue;
        };
        let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
        for code in groups.iter().copied().flatten().chain(SERVER) {
            let codes = by_status.entry(code.status().as_u16()).or_default();
            if !codes.contains(code) {
                codes.push(*code);
            }
        }
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else {
            continue;
        };
        for (status, codes) in by_status {
            responses.insert(status.to_string(), error_response(status, &codes));
        }
    }
}

fn error_response(status: u16, codes: &[ErrorCode]) -> Value {
    let description: Vec<String> = codes
        .iter()
        .map(|code| format!("`{code}`: {}", super::error::ApiError::new(*code).message(Lang::En)))
        .collect();
    let names: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
    let mut response = Map::new();
    response.insert("description".into(), Value::String(description.join("\n\n")));
    if matches!(status, 429 | 503) {
        response.insert(
            "headers".into(),
            json!({"Retry-After": {"description": "Seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 0}}}),
        );
    }
    response.insert(
        "content".into(),
        json!({"application/json": {"schema": {"allOf": [
            {"$ref": "#/components/schemas/Error"},
            {"type": "object", "properties": {"error": {"type": "object", "properties": {"code": {"enum": names}}}}}
        ]}}}),
    );
    Value::Object(response)
}

/// A JSON pointer token (RFC 6901): `~` and `/` escaped.
fn pointer_escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_errors_and_every_entry_an_operation() {
        let doc = document_value();
        let paths = doc["paths"].as_object().expect("paths");
        let mut operations = Vec::new();
        for (path, item) in paths {
            for method in item.as_object().expect("a path item").keys() {
                operations.push((method.clone(), path.clone()));
            }
        }
        for (method, path) in &operations {
            assert!(
                OPERATION_ERRORS.iter().any(|(m, p, _)| m == method && p == path),
                "{method} {path} has no entry in OPERATION_ERRORS"
            );
            let responses = paths[path][method]["responses"].as_object().expect("responses");
            assert!(responses.contains_key("500"), "{method} {path}: no 500");
        }
        for (method, path, _) in OPERATION_ERRORS {
            assert!(
                operations.iter().any(|(m, p)| m == method && p == path),
                "OPERATION_ERRORS names {method} {path}, which the description does not have"
            );
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }

    #[test]
    fn an_error_response_names_its_codes_with_their_status() {
        let doc = document_value();
        let release = &doc["paths"]["/api/v1/dept/grants/{id}/release"]["get"]["responses"];
        let forbidden = &release["403"]["content"]["application/json"]["schema"]["allOf"][1];
        let codes = forbidden["properties"]["error"]["properties"]["code"]["enum"].as_array().expect("codes");
        assert!(codes.iter().any(|code| code == "grant_revoked"));
        assert!(codes.iter().all(|code| {
            ErrorCode::parse(code.as_str().unwrap_or_default()).is_some_and(|code| code.status().as_u16() == 403)
        }));
        assert!(release["503"]["headers"]["Retry-After"].is_object());
        assert_eq!(doc["paths"]["/api/v1/dept/whoami"]["get"]["security"][0]["department_certificate"], json!([]));
    }

    /// The repository's `openapi.json` is what the code describes. Run with
    /// `UPDATE_OPENAPI=1` (or `tresor openapi > openapi.json`) to update it.
    #[test]
    fn the_committed_description_is_the_generated_one() {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
        let generated = document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&file, &generated).expect("writing openapi.json");
            return;
        }
        let committed = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            committed == generated,
            "openapi.json differs from the description the code generates; regenerate it with \
             `UPDATE_OPENAPI=1 cargo test --lib openapi` (or `cargo run -- openapi > openapi.json`), \
             review the diff and commit it"
        );
    }
}
