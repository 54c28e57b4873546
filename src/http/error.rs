//! One error type for every HTTP response that is not a success: a stable
//! machine code from one enum ([`ErrorCode`]), its status, and its message
//! in German and English (the Fluent messages `error-<code>` in
//! `locales/*/errors.ftl`). The API answers
//! `{"error": {"code": "...", "message": "...", "detail": "..."}}` in English;
//! pages show the same message in the visitor's language. `detail` is for
//! developers (which part of a request was wrong), never needed by a person.
//! 5xx bodies are generic; the detail is logged once, here.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::i18n::{self, Arg};
use crate::identity::department::CertError;
use crate::identity::oidc::LoginError;
use crate::policy::{FieldError, FieldProblem, Lang, Refusal};
use crate::store::StoreError;
use crate::vault::{ApprovalProblem, VaultError};

macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident = $code:literal, $status:ident;)+) => {
        /// Every stable error code of the HTTP interface.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$meta])* $variant),+
        }

        impl ErrorCode {
            /// Every code; generated from the same list as the enum.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),+];

            /// The code as clients see it (`not_found`).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code),+
                }
            }

            /// The status a handler answers with this code. (Refusals that
            /// no handler wrote keep the status they were answered with; see
            /// `rejection`.)
            pub fn status(self) -> StatusCode {
                match self {
                    $(ErrorCode::$variant => StatusCode::$status),+
                }
            }

            pub fn parse(code: &str) -> Option<ErrorCode> {
                match code {
                    $($code => Some(ErrorCode::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    // Sessions, forms and the vault itself
    NotLoggedIn = "not_logged_in", UNAUTHORIZED;
    CsrfTokenInvalid = "csrf_token_invalid", FORBIDDEN;
    ConfirmationRequired = "confirmation_required", UNPROCESSABLE_ENTITY;
    NotFound = "not_found", NOT_FOUND;
    InternalError = "internal_error", INTERNAL_SERVER_ERROR;
    StoreUnavailable = "store_unavailable", SERVICE_UNAVAILABLE;
    AuditUnavailable = "audit_unavailable", SERVICE_UNAVAILABLE;
    /// The PKCS#11 token holding the keys does not answer.
    KeysUnavailable = "keys_unavailable", SERVICE_UNAVAILABLE;
    /// The whole-request timeout (`edge`).
    RequestTimeout = "request_timeout", SERVICE_UNAVAILABLE;
    ServiceUnavailable = "service_unavailable", SERVICE_UNAVAILABLE;
    RateLimited = "rate_limited", TOO_MANY_REQUESTS;
    TooManyRefusals = "too_many_refusals", TOO_MANY_REQUESTS;
    // Requests that could not be read
    BadRequest = "bad_request", BAD_REQUEST;
    InvalidRequest = "invalid_request", BAD_REQUEST;
    InvalidPath = "invalid_path", BAD_REQUEST;
    InvalidQuery = "invalid_query", BAD_REQUEST;
    InvalidForm = "invalid_form", UNPROCESSABLE_ENTITY;
    InvalidJson = "invalid_json", BAD_REQUEST;
    InvalidEncoding = "invalid_encoding", BAD_REQUEST;
    UnsupportedMediaType = "unsupported_media_type", UNSUPPORTED_MEDIA_TYPE;
    MethodNotAllowed = "method_not_allowed", METHOD_NOT_ALLOWED;
    BodyTooLarge = "body_too_large", PAYLOAD_TOO_LARGE;
    Unauthorized = "unauthorized", UNAUTHORIZED;
    Forbidden = "forbidden", FORBIDDEN;
    // Evidence and uploads
    UnknownEvidenceType = "unknown_evidence_type", UNPROCESSABLE_ENTITY;
    InvalidFields = "invalid_fields", UNPROCESSABLE_ENTITY;
    FileNotAllowed = "file_not_allowed", UNPROCESSABLE_ENTITY;
    UnsupportedFileType = "unsupported_file_type", UNSUPPORTED_MEDIA_TYPE;
    InvalidFileName = "invalid_file_name", UNPROCESSABLE_ENTITY;
    FileTooLarge = "file_too_large", PAYLOAD_TOO_LARGE;
    FieldsTooLarge = "fields_too_large", PAYLOAD_TOO_LARGE;
    ValueTooLong = "value_too_long", UNPROCESSABLE_ENTITY;
    InvalidMultipart = "invalid_multipart", BAD_REQUEST;
    TooManyParts = "too_many_parts", BAD_REQUEST;
    TooManyFiles = "too_many_files", BAD_REQUEST;
    UnknownPart = "unknown_part", BAD_REQUEST;
    MissingType = "missing_type", UNPROCESSABLE_ENTITY;
    UploadTimedOut = "upload_timed_out", REQUEST_TIMEOUT;
    TooManyUploads = "too_many_uploads", TOO_MANY_REQUESTS;
    UploadsBusy = "uploads_busy", SERVICE_UNAVAILABLE;
    // Logging in
    LoginLevelTooLow = "login_level_too_low", FORBIDDEN;
    InvalidState = "invalid_state", BAD_REQUEST;
    InvalidLoginHint = "invalid_login_hint", BAD_REQUEST;
    LoginCancelled = "login_cancelled", UNAUTHORIZED;
    MissingCode = "missing_code", BAD_REQUEST;
    NoIssuer = "no_issuer", BAD_REQUEST;
    UnknownIssuer = "unknown_issuer", BAD_REQUEST;
    InvalidLevel = "invalid_level", BAD_REQUEST;
    IdpDiscoveryFailed = "idp_discovery_failed", BAD_GATEWAY;
    IdpConfigurationInvalid = "idp_configuration_invalid", BAD_REQUEST;
    TokenExchangeFailed = "token_exchange_failed", BAD_REQUEST;
    InvalidIdToken = "invalid_id_token", BAD_REQUEST;
    InvalidLogoutToken = "invalid_logout_token", BAD_REQUEST;
    RandomFailed = "random_failed", BAD_REQUEST;
    // Departments: certificates, requests and releases
    CertificateRequired = "certificate_required", UNAUTHORIZED;
    UntrustedProxy = "untrusted_proxy", UNAUTHORIZED;
    CertificateUnknownCa = "certificate_unknown_ca", UNAUTHORIZED;
    CertificateExpired = "certificate_expired", UNAUTHORIZED;
    CertificateNotYetValid = "certificate_not_yet_valid", UNAUTHORIZED;
    CertificateNoClientAuth = "certificate_no_client_auth", UNAUTHORIZED;
    CertificateRevoked = "certificate_revoked", UNAUTHORIZED;
    CertificateUnknownDepartment = "certificate_unknown_department", UNAUTHORIZED;
    CertificateAmbiguousDepartment = "certificate_ambiguous_department", UNAUTHORIZED;
    CertificatePinMismatch = "certificate_pin_mismatch", UNAUTHORIZED;
    CertificateMalformed = "certificate_malformed", UNAUTHORIZED;
    CertificateConfig = "certificate_config", UNAUTHORIZED;
    UnknownService = "unknown_service", UNPROCESSABLE_ENTITY;
    InvalidReference = "invalid_reference", UNPROCESSABLE_ENTITY;
    WrongDepartment = "wrong_department", FORBIDDEN;
    WrongService = "wrong_service", FORBIDDEN;
    GrantNotYetValid = "grant_not_yet_valid", FORBIDDEN;
    GrantExpired = "grant_expired", FORBIDDEN;
    GrantRevoked = "grant_revoked", FORBIDDEN;
    GrantExhausted = "grant_exhausted", FORBIDDEN;
    // Consent: a citizen's answer to a request
    RequestExpired = "request_expired", GONE;
    RequestAnswered = "request_answered", CONFLICT;
    InvalidDecision = "invalid_decision", UNPROCESSABLE_ENTITY;
    NoFieldsApproved = "no_fields_approved", UNPROCESSABLE_ENTITY;
    FieldNotInPolicy = "field_not_in_policy", UNPROCESSABLE_ENTITY;
    EvidenceNotFound = "evidence_not_found", UNPROCESSABLE_ENTITY;
    EvidenceTypeNotRequested = "evidence_type_not_requested", UNPROCESSABLE_ENTITY;
    OneDocumentPerType = "one_document_per_type", UNPROCESSABLE_ENTITY;
    FieldWithoutDocument = "field_without_document", UNPROCESSABLE_ENTITY;
    DocumentWithoutField = "document_without_field", UNPROCESSABLE_ENTITY;
    DurationOutOfRange = "duration_out_of_range", UNPROCESSABLE_ENTITY;
    UsesOutOfRange = "uses_out_of_range", UNPROCESSABLE_ENTITY;
    FileRequired = "file_required", UNPROCESSABLE_ENTITY;
    // The audit log: citizens' pages and public proofs
    InvalidCursor = "invalid_cursor", BAD_REQUEST;
    InvalidLimit = "invalid_limit", BAD_REQUEST;
    NoCheckpoint = "no_checkpoint", NOT_FOUND;
    InvalidTreeSize = "invalid_tree_size", BAD_REQUEST;
    // Data-protection officers
    StaffLoginNotConfigured = "staff_login_not_configured", NOT_FOUND;
    StaffNotLoggedIn = "staff_not_logged_in", UNAUTHORIZED;
    NotADpo = "not_a_dpo", FORBIDDEN;
    InvalidFilter = "invalid_filter", BAD_REQUEST;
}

impl ErrorCode {
    /// The Fluent message of this code: `error-` and the code with hyphens.
    pub fn message_id(self) -> String {
        format!("error-{}", self.as_str().replace('_', "-"))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: ErrorCode,
    /// `code.status()`, except for refusals no handler wrote (`rejection`
    /// keeps the status they were answered with).
    pub status: StatusCode,
    /// Values for the placeholders of the code's message.
    args: Vec<(&'static str, Arg)>,
    /// For developers: which part of the request was wrong (English, in the
    /// JSON answer only).
    pub detail: Option<String>,
    pub fields: Vec<FieldError>,
    /// Seconds for a `Retry-After` header (on the JSON answer and on the
    /// error page alike); see [`ApiError::with_retry_after`].
    pub retry_after: Option<u32>,
}

/// `Retry-After` on 503 `store_unavailable` and `audit_unavailable`: longer
/// than the store's patience, short enough for a person to wait.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u32 = 5;

pub type ApiResult<T> = Result<T, ApiError>;

/// The JSON of every error response.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ErrorDetail)]
pub struct Inner<'a> {
    /// The stable machine code; each operation lists its codes.
    code: &'a str,
    /// What went wrong, in plain English.
    message: &'a str,
    /// For developers: which part of the request was wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<&'a str>,
    /// With `invalid_fields`: each field's problem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldBody<'a>>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = FieldProblem)]
pub struct FieldBody<'a> {
    field: &'a str,
    code: &'a str,
    message: String,
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, status: code.status(), args: Vec::new(), detail: None, fields: Vec::new(), retry_after: None }
    }

    /// A value for a placeholder of the code's message.
    pub fn with_arg(mut self, name: &'static str, value: impl Into<Arg>) -> Self {
        self.args.push((name, value.into()));
        self
    }

    /// Which part of the request was wrong, for developers (JSON only).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Tell the client when to try again (`Retry-After: seconds`), for
    /// refusals that pass (503 while the database is away, 429 rate limits).
    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The message in `lang` (the API answers in English).
    pub fn message(&self, lang: Lang) -> String {
        i18n::format(lang, &self.code.message_id(), &self.args)
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
        Self::new(ErrorCode::StoreUnavailable).with_retry_after(UNAVAILABLE_RETRY_AFTER_SECONDS)
    }

    pub fn not_logged_in() -> Self {
        Self::new(ErrorCode::NotLoggedIn)
    }

    pub fn csrf() -> Self {
        Self::new(ErrorCode::CsrfTokenInvalid)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound)
    }

    /// A server-side failure: log the detail once, answer generically.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::InternalError)
    }
}

/// The error a JSON answer was made from, kept on the response so that the
/// error contract (`rejection`) can show it as a page in the visitor's
/// language without parsing the JSON back.
#[derive(Clone)]
pub struct Shown(pub std::sync::Arc<ApiError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = self.message(Lang::En);
        let body = Body {
            error: Inner {
                code: self.code.as_str(),
                message: &message,
                detail: self.detail.as_deref(),
                fields: self
                    .fields
                    .iter()
                    .map(|f| FieldBody { field: &f.field, code: f.code(), message: field_message(Lang::En, f.problem) })
                    .collect(),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        self.add_headers(response.headers_mut());
        response.extensions_mut().insert(Shown(std::sync::Arc::new(self)));
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
            VaultError::UnknownType => ErrorCode::UnknownEvidenceType.into(),
            VaultError::InvalidFields(fields) => {
                let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
                let mut error = Self::new(ErrorCode::InvalidFields).with_arg("fields", names.join(", "));
                error.fields = fields;
                error
            }
            VaultError::NotFound => Self::not_found(),
            VaultError::FileNotAllowed => ErrorCode::FileNotAllowed.into(),
            VaultError::UnsupportedFileType => ErrorCode::UnsupportedFileType.into(),
            VaultError::InvalidFileName => ErrorCode::InvalidFileName.into(),
            // Same units as the upload form's hint (decimal, never overstated).
            VaultError::TooLarge { limit } => file_too_large(limit),
            VaultError::LevelTooLow { required } => {
                Self::new(ErrorCode::LoginLevelTooLow).with_detail(format!("This needs login level {required:?}."))
            }
            VaultError::NoAccount => Self::not_logged_in(),
            VaultError::UnknownService => ErrorCode::UnknownService.into(),
            VaultError::Refused(refusal) => ErrorCode::from(refusal).into(),
            VaultError::RequestExpired => ErrorCode::RequestExpired.into(),
            VaultError::RequestAnswered => ErrorCode::RequestAnswered.into(),
            VaultError::InvalidReference => {
                Self::new(ErrorCode::InvalidReference).with_arg("max", crate::vault::MAX_REFERENCE_CHARS)
            }
            VaultError::InvalidApproval(problem) => ErrorCode::from(problem).into(),
            VaultError::Audit(error) => {
                tracing::error!(%error, "audit append failed; failing closed");
                Self::new(ErrorCode::AuditUnavailable).with_retry_after(UNAVAILABLE_RETRY_AFTER_SECONDS)
            }
            VaultError::Store(error) => error.into(),
            VaultError::Crypto(error @ crate::crypto::CryptoError::TokenUnavailable(_)) => {
                tracing::warn!(%error, "key token unavailable");
                Self::new(ErrorCode::KeysUnavailable).with_retry_after(UNAVAILABLE_RETRY_AFTER_SECONDS)
            }
            VaultError::Crypto(error) => Self::internal(&error),
        }
    }
}

/// The words for a problem with one field of an evidence (`field-<code>`).
pub fn field_message(lang: Lang, problem: FieldProblem) -> String {
    let id = format!("field-{}", problem.code().replace('_', "-"));
    match problem {
        FieldProblem::TooLong { max } => i18n::format(lang, &id, &[("max", max.into())]),
        FieldProblem::OutOfRange { min, max } => {
            i18n::format(lang, &id, &[("min", min.to_string().into()), ("max", max.to_string().into())])
        }
        FieldProblem::YearOutOfRange { min, max } => {
            i18n::format(lang, &id, &[("min", min.to_string().into()), ("max", max.to_string().into())])
        }
        FieldProblem::DateIncomplete { day, month, year } => {
            // "den Tag und den Monat": the missing parts, in words.
            let missing: Vec<String> =
                [(day, "field-date-part-day"), (month, "field-date-part-month"), (year, "field-date-part-year")]
                    .into_iter()
                    .filter(|(missing, _)| *missing)
                    .map(|(_, part)| i18n::format(lang, part, &[]))
                    .collect();
            let and = format!(" {} ", i18n::format(lang, "field-date-and", &[]));
            i18n::format(lang, &id, &[("parts", missing.join(&and).into())])
        }
        _ => i18n::format(lang, &id, &[]),
    }
}

/// 413 `file_too_large`, naming the limit as the upload form's hint does.
pub fn file_too_large(limit: u64) -> ApiError {
    ApiError::new(ErrorCode::FileTooLarge).with_arg("limit", Arg::Bytes(limit))
}

/// A JSON body: `application/json`, well-formed, no unknown members.
pub fn json_body<T: for<'de> serde::Deserialize<'de>>(headers: &axum::http::HeaderMap, body: &[u8]) -> ApiResult<T> {
    let is_json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
    }
    serde_json::from_slice(body).map_err(|error| ApiError::new(ErrorCode::InvalidJson).with_detail(format!("{error}.")))
}

impl From<Refusal> for ErrorCode {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::WrongDepartment => ErrorCode::WrongDepartment,
            Refusal::WrongService => ErrorCode::WrongService,
            Refusal::NotYetValid => ErrorCode::GrantNotYetValid,
            Refusal::Expired => ErrorCode::GrantExpired,
            Refusal::Revoked => ErrorCode::GrantRevoked,
            Refusal::Exhausted => ErrorCode::GrantExhausted,
        }
    }
}

impl From<ApprovalProblem> for ErrorCode {
    fn from(problem: ApprovalProblem) -> Self {
        match problem {
            ApprovalProblem::NoFields => ErrorCode::NoFieldsApproved,
            ApprovalProblem::FieldNotInPolicy => ErrorCode::FieldNotInPolicy,
            ApprovalProblem::EvidenceNotFound => ErrorCode::EvidenceNotFound,
            ApprovalProblem::EvidenceNotRequested => ErrorCode::EvidenceTypeNotRequested,
            ApprovalProblem::TwoDocumentsOfOneType => ErrorCode::OneDocumentPerType,
            ApprovalProblem::FieldWithoutDocument => ErrorCode::FieldWithoutDocument,
            ApprovalProblem::DocumentWithoutField => ErrorCode::DocumentWithoutField,
            ApprovalProblem::DurationOutOfRange => ErrorCode::DurationOutOfRange,
            ApprovalProblem::UsesOutOfRange => ErrorCode::UsesOutOfRange,
            ApprovalProblem::FileRequired => ErrorCode::FileRequired,
        }
    }
}

impl From<&LoginError> for ErrorCode {
    fn from(error: &LoginError) -> Self {
        match error {
            LoginError::Configuration(_) => ErrorCode::IdpConfigurationInvalid,
            LoginError::Discovery(_) => ErrorCode::IdpDiscoveryFailed,
            LoginError::TokenExchange(_) => ErrorCode::TokenExchangeFailed,
            LoginError::InvalidIdToken(_) => ErrorCode::InvalidIdToken,
            LoginError::LevelTooLow { .. } => ErrorCode::LoginLevelTooLow,
            LoginError::InvalidLogoutToken(_) => ErrorCode::InvalidLogoutToken,
            LoginError::Random => ErrorCode::RandomFailed,
        }
    }
}

impl From<&CertError> for ErrorCode {
    fn from(error: &CertError) -> Self {
        match error {
            CertError::UnknownCa => ErrorCode::CertificateUnknownCa,
            CertError::Expired => ErrorCode::CertificateExpired,
            CertError::NotYetValid => ErrorCode::CertificateNotYetValid,
            CertError::NoClientAuthUsage => ErrorCode::CertificateNoClientAuth,
            CertError::Revoked => ErrorCode::CertificateRevoked,
            CertError::UnknownDepartment => ErrorCode::CertificateUnknownDepartment,
            CertError::AmbiguousDepartment => ErrorCode::CertificateAmbiguousDepartment,
            CertError::PinMismatch => ErrorCode::CertificatePinMismatch,
            CertError::Malformed(_) => ErrorCode::CertificateMalformed,
            CertError::Config(_) => ErrorCode::CertificateConfig,
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        let code = ErrorCode::from(&error);
        match error {
            LoginError::LevelTooLow { .. } => {}
            LoginError::Discovery(_) => tracing::error!(error = %error, "identity provider not reachable"),
            ref other => tracing::warn!(error = %other, "login refused"),
        }
        Self::new(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The domain's own codes (written into audit entries and logs) are the
    /// codes the HTTP interface answers with.
    #[test]
    fn domain_codes_are_the_interfaces_codes() {
        use crate::policy::Refusal as R;
        for refusal in [R::WrongDepartment, R::WrongService, R::NotYetValid, R::Expired, R::Revoked, R::Exhausted] {
            assert_eq!(ErrorCode::from(refusal).as_str(), refusal.code());
        }
        use ApprovalProblem as A;
        for problem in [
            A::NoFields,
            A::FieldNotInPolicy,
            A::EvidenceNotFound,
            A::EvidenceNotRequested,
            A::TwoDocumentsOfOneType,
            A::FieldWithoutDocument,
            A::DocumentWithoutField,
            A::DurationOutOfRange,
            A::UsesOutOfRange,
            A::FileRequired,
        ] {
            assert_eq!(ErrorCode::from(problem).as_str(), problem.code());
        }
        for error in [
            LoginError::Configuration("x".into()),
            LoginError::Discovery("x".into()),
            LoginError::TokenExchange("x".into()),
            LoginError::InvalidIdToken("x".into()),
            LoginError::LevelTooLow { required: crate::policy::LoginLevel::High, got: None },
            LoginError::InvalidLogoutToken("x".into()),
            LoginError::Random,
        ] {
            assert_eq!(ErrorCode::from(&error).as_str(), error.code());
        }
        for error in [
            CertError::UnknownCa,
            CertError::Expired,
            CertError::NotYetValid,
            CertError::NoClientAuthUsage,
            CertError::Revoked,
            CertError::UnknownDepartment,
            CertError::AmbiguousDepartment,
            CertError::PinMismatch,
            CertError::Malformed("x".into()),
            CertError::Config("x".into()),
        ] {
            assert_eq!(ErrorCode::from(&error).as_str(), error.code());
        }
    }

    #[test]
    fn every_field_problem_has_words_with_its_numbers() {
        use FieldProblem as P;
        for problem in [
            P::Required,
            P::UnknownField,
            P::TooLong { max: 7 },
            P::InvalidCharacters,
            P::InvalidDate,
            P::InvalidMoney,
            P::InvalidInteger,
            P::OutOfRange { min: -3, max: 9 },
            P::InvalidChoice,
            P::DateIncomplete { day: true, month: false, year: true },
            P::InvalidDay,
            P::InvalidMonth,
            P::InvalidYear,
            P::YearOutOfRange { min: 1900, max: 2100 },
            P::NoSuchDate,
            P::AmbiguousMoney,
        ] {
            for lang in [Lang::De, Lang::En] {
                let message = field_message(lang, problem);
                assert!(!message.starts_with("field-") && message.ends_with('.'), "{problem:?}: {message}");
            }
        }
        assert_eq!(field_message(Lang::De, P::TooLong { max: 7 }), "Bitte geben Sie höchstens 7 Zeichen ein.");
        assert_eq!(
            field_message(Lang::En, P::OutOfRange { min: -3, max: 9 }),
            "Please enter a whole number from -3 to 9."
        );
        let incomplete = P::DateIncomplete { day: true, month: true, year: false };
        assert_eq!(field_message(Lang::De, incomplete), "Bitte geben Sie auch den Tag und den Monat ein.");
        assert_eq!(field_message(Lang::En, incomplete), "Please also enter the day and the month.");
        assert_eq!(
            field_message(Lang::De, P::YearOutOfRange { min: 1900, max: 2100 }),
            "Bitte geben Sie ein Jahr von 1900 bis 2100 ein."
        );
    }

    #[test]
    fn codes_are_unique_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for &code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(code.status().is_client_error() || code.status().is_server_error(), "{code}");
        }
        assert_eq!(ErrorCode::parse("no_such_code"), None);
    }

    #[test]
    fn the_api_answers_in_english_with_code_detail_and_retry_after() {
        let error = file_too_large(262_144).with_detail("part file").with_retry_after(3);
        assert_eq!(error.message(Lang::En), "The file is too large. The limit is 262.1 kB.");
        assert_eq!(error.message(Lang::De), "Die Datei ist zu groß. Sie darf höchstens 262,1 kB groß sein.");
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(response.headers()[axum::http::header::RETRY_AFTER], "3");
        assert!(response.extensions().get::<Shown>().is_some_and(|shown| shown.0.code == ErrorCode::FileTooLarge));
    }
}
