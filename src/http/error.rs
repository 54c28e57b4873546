//! One error type for every HTTP response that is not a success: a status, a
//! stable machine code and a plain message, as
//! `{"error": {"code": "...", "message": "..."}}`. 5xx bodies are generic; the
//! detail is logged once, here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::identity::oidc::LoginError;
use crate::policy::{FieldError, Lang, Refusal};
use crate::store::StoreError;
use crate::vault::{ApprovalProblem, VaultError};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<FieldError>,
    /// Seconds for a `Retry-After` header (on the JSON answer and on the
    /// error page alike); see [`ApiError::with_retry_after`].
    pub retry_after: Option<u32>,
}

/// `Retry-After` on 503 `store_unavailable` and `audit_unavailable`: longer
/// than the store's patience, short enough for a person to wait.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u32 = 5;

pub type ApiResult<T> = Result<T, ApiError>;

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldBody<'a>>,
}

#[derive(Serialize)]
struct FieldBody<'a> {
    field: &'a str,
    code: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), fields: Vec::new(), retry_after: None }
    }

    /// Tell the client when to try again (`Retry-After: seconds`), for
    /// refusals that pass (503 while the database is away, 429 rate limits).
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Put this error's headers (`Retry-After`) on a response that shows it,
    /// JSON or page.
    pub fn add_headers(&self, headers: &mut axum::http::HeaderMap) {
        if let Some(seconds) = self.retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
    }

    /// The database cannot be reached or did not answer in time (see
    /// `StoreError::is_unavailable`): 503 with `Retry-After`.
    pub fn store_unavailable(detail: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %detail, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "The vault cannot reach its database right now. Nothing was changed. Please try again in a moment.",
        )
        .with_retry_after(UNAVAILABLE_RETRY_AFTER_SECONDS)
    }

    pub fn not_logged_in() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "not_logged_in", "Please log in first.")
    }

    pub fn csrf() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "csrf_token_invalid",
            "The form has expired or did not come from this site. Please reload the page and try again.",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "This does not exist or you may not see it.")
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A server-side failure: log the detail once, answer generically.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Something went wrong on our side. Nothing was changed. Please try again later.",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: self
                    .fields
                    .iter()
                    .map(|f| FieldBody { field: &f.field, code: f.code, message: &f.message_en })
                    .collect(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        self.add_headers(response.headers_mut());
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() { Self::store_unavailable(&error) } else { Self::internal(&error) }
    }
}

impl From<VaultError> for ApiError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::UnknownType => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_evidence_type",
                "This type of evidence does not exist.",
            ),
            VaultError::InvalidFields(fields) => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                let mut error = Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_fields",
                    format!("Some fields are not valid: {}.", names.join(", ")),
                );
                error.fields = fields;
                error
            }
            VaultError::NotFound => Self::not_found(),
            VaultError::FileNotAllowed => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "file_not_allowed",
                "This type of evidence does not take a file.",
            ),
            VaultError::UnsupportedFileType => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_file_type",
                "Only PDF, PNG and JPEG files can be uploaded.",
            ),
            VaultError::InvalidFileName => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_file_name",
                "The file name contains control characters or invisible formatting characters (such as \
                 text-direction marks or zero-width spaces). Please rename the file and choose it again.",
            ),
            VaultError::TooLarge { limit } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "file_too_large",
                // Same units as the upload form's hint (decimal, never overstated).
                format!("The file is too large. The limit is {}.", super::i18n::format_bytes(Lang::En, limit)),
            ),
            VaultError::LevelTooLow { required } => Self::new(
                StatusCode::FORBIDDEN,
                "login_level_too_low",
                format!(
                    "This needs a login with security level {required:?}. Please log in again with your online ID."
                ),
            ),
            VaultError::NoAccount => Self::not_logged_in(),
            VaultError::UnknownService => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_service",
                "There is no such service. The services are listed in the vault's policy.",
            ),
            VaultError::Refused(refusal) => Self::new(StatusCode::FORBIDDEN, refusal.code(), refusal_message(refusal)),
            VaultError::RequestExpired => Self::new(
                StatusCode::GONE,
                "request_expired",
                "This request has expired. The department can send a new one.",
            ),
            VaultError::RequestAnswered => {
                Self::new(StatusCode::CONFLICT, "request_answered", "This request has already been answered.")
            }
            VaultError::InvalidReference => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_reference",
                format!(
                    "The reference must be 1 to {} characters, without line breaks, control characters or \
                     invisible formatting characters (such as text-direction marks or zero-width spaces).",
                    crate::vault::MAX_REFERENCE_CHARS
                ),
            ),
            VaultError::InvalidApproval(problem) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, problem.code(), approval_message(problem))
            }
            VaultError::Audit(error) => {
                tracing::error!(%error, "audit append failed; failing closed");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit_unavailable",
                    "This could not be recorded in the audit log, so nothing was done. Please try again later.",
                )
                .with_retry_after(UNAVAILABLE_RETRY_AFTER_SECONDS)
            }
            VaultError::Store(error) => error.into(),
            VaultError::Crypto(error) => Self::internal(&error),
        }
    }
}

/// A JSON body: `application/json`, well-formed, no unknown members.
pub fn json_body<T: for<'de> serde::Deserialize<'de>>(headers: &axum::http::HeaderMap, body: &[u8]) -> ApiResult<T> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the request body as JSON (Content-Type: application/json).",
        ));
    }
    serde_json::from_slice(body).map_err(|error| {
        ApiError::bad_request("invalid_json", format!("The request body is not valid for this call: {error}."))
    })
}

/// Plain English for a release refusal (the code carries the meaning).
pub fn refusal_message(refusal: Refusal) -> &'static str {
    match refusal {
        Refusal::WrongDepartment => "This grant or service belongs to another department.",
        Refusal::WrongService => "This grant was given for another service.",
        Refusal::NotYetValid => "This grant is not valid yet.",
        Refusal::Expired => "This grant has expired. Ask the citizen for a new one.",
        Refusal::Revoked => "The citizen has revoked this grant.",
        Refusal::Exhausted => "This grant has been used as often as the citizen allowed.",
    }
}

pub fn approval_message(problem: ApprovalProblem) -> &'static str {
    match problem {
        ApprovalProblem::NoFields => "Choose at least one piece of information to share, or deny the request.",
        ApprovalProblem::FieldNotInPolicy => "A chosen piece of information is not part of this service.",
        ApprovalProblem::EvidenceNotFound => "A chosen document does not exist.",
        ApprovalProblem::EvidenceNotRequested => "A chosen document is not needed for this service.",
        ApprovalProblem::TwoDocumentsOfOneType => "Choose only one document of each kind.",
        ApprovalProblem::FieldWithoutDocument => "Choose a document for every piece of information you share.",
        ApprovalProblem::DocumentWithoutField => {
            "Share at least one piece of information from every document you choose."
        }
        ApprovalProblem::DurationOutOfRange => "The duration is longer than this service allows.",
        ApprovalProblem::UsesOutOfRange => "The number of uses is higher than this service allows.",
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        let code = error.code();
        match error {
            LoginError::LevelTooLow { .. } => Self::new(
                StatusCode::FORBIDDEN,
                code,
                "Your login did not reach the security level this needs. Please use your online ID card.",
            ),
            LoginError::Discovery(_) => {
                tracing::error!(error = %error, "identity provider not reachable");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    code,
                    "The login service cannot be reached right now. Please try again later.",
                )
            }
            other => {
                tracing::warn!(error = %other, "login refused");
                Self::new(StatusCode::BAD_REQUEST, code, "The login could not be completed. Please log in again.")
            }
        }
    }
}
