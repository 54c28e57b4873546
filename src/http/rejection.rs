//! One error contract for the refusals no handler writes: axum's extractor
//! rejections (plain text: path, query, form, JSON, multipart, body limit),
//! 405 (empty, with `Allow`), unknown paths, and whatever a later layer
//! answers in plain text. Under `/api/` (and the identity provider's
//! back-channel logout) every error becomes `{"error": {"code", "message"}}`
//! with a stable code; on pages it becomes the HTML error page in the
//! visitor's language. Handler-made JSON errors keep their codes, pages keep
//! their own error pages, and successes pass untouched (nothing is buffered).

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::i18n;
use super::pages::{self, PageContext};
use super::session;
use super::web::{self, Page};
use crate::policy::Lang;

/// axum's rejection texts are one line; anything longer is not one of them.
const MAX_PLAIN_ERROR_BYTES: usize = 16 * 1024;
/// A handler's JSON error is small (field errors included).
const MAX_JSON_ERROR_BYTES: usize = 64 * 1024;

/// Whether `path` answers machines in JSON: the API, and the identity
/// provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0
/// §2.8: errors as JSON).
pub fn answers_json(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path.starts_with("/auth/backchannel-logout/")
}

/// The staff (DPO) area, whose error pages have their own navigation.
fn is_staff_path(path: &str) -> bool {
    path == "/dpo" || path.starts_with("/dpo/") || path.starts_with("/staff/")
}

/// The router's fallback: JSON `not_found` for API paths, the page otherwise.
pub async fn not_found(State(app): State<AppState>, request: Request) -> Response {
    if answers_json(request.uri().path()) {
        return ApiError::not_found().into_response();
    }
    let (mut parts, _body) = request.into_parts();
    match Page::from_request_parts(&mut parts, &app).await {
        Ok(page) => web::not_found(State(app), page).await,
        Err(response) => response,
    }
}

/// The request's side of the contract: who the answer will be for. Taken
/// before the request is handed on (see `http::edge`).
pub fn audience(request: &Request) -> Audience {
    Audience::of(request)
}

/// The response's side of the contract (see the module documentation).
pub async fn enforce(app: &AppState, audience: Audience, response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = BodyKind::of(&response);
    match (audience, kind) {
        (Audience::Machine, BodyKind::Json) | (Audience::Browser(_), BodyKind::Html) => response,
        (Audience::Machine, kind) => {
            let (parts, body) = response.into_parts();
            let refusal = Refusal::of(status, &plain_text(kind, body).await);
            let json = ApiError::new(status, refusal.code, refusal.message_en).into_response();
            with_body(parts, "application/json", json.into_body())
        }
        (Audience::Browser(visitor), BodyKind::Json) if visitor.wants_html => {
            let (parts, body) = response.into_parts();
            let error = match json_error(body).await {
                Ok(error) => error,
                Err(body) => return Response::from_parts(parts, body),
            };
            let message = match visitor.lang() {
                Lang::De => web::german_message(&error.code).map(str::to_owned).unwrap_or(error.message),
                Lang::En => error.message,
            };
            let markup = visitor.error_page(app, status, &message).await;
            with_body(parts, "text/html; charset=utf-8", Body::from(markup.into_string()))
        }
        (Audience::Browser(_), BodyKind::Json) => response,
        (Audience::Browser(visitor), kind) => {
            let (parts, body) = response.into_parts();
            let refusal = Refusal::of(status, &plain_text(kind, body).await);
            let message = match visitor.lang() {
                Lang::De => refusal.message_de,
                Lang::En => refusal.message_en,
            };
            let markup = visitor.error_page(app, status, message).await;
            with_body(parts, "text/html; charset=utf-8", Body::from(markup.into_string()))
        }
    }
}

/// Who the answer is for, taken from the request before it is handed on.
pub enum Audience {
    Machine,
    /// What a page needs to speak the visitor's language.
    Browser(Visitor),
}

pub struct Visitor {
    uri: Uri,
    /// Only `Cookie` and `Accept-Language` (cheap clones of shared bytes).
    headers: HeaderMap,
    wants_html: bool,
}

impl Audience {
    fn of(request: &Request) -> Self {
        if answers_json(request.uri().path()) {
            return Self::Machine;
        }
        let mut headers = HeaderMap::new();
        for name in [header::COOKIE, header::ACCEPT_LANGUAGE] {
            for value in request.headers().get_all(&name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let wants_html = request
            .headers()
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        Self::Browser(Visitor { uri: request.uri().clone(), headers, wants_html })
    }
}

impl Visitor {
    fn query_lang(&self) -> Option<String> {
        self.uri.query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "lang")
                .map(|(_, value)| value.into_owned())
        })
    }

    fn lang(&self) -> Lang {
        i18n::negotiate(
            self.query_lang().as_deref(),
            session::cookie_value(&self.headers, "lang"),
            self.headers.get(header::ACCEPT_LANGUAGE).and_then(|value| value.to_str().ok()),
        )
    }

    /// The path (and query, if short) the page's language switch links to.
    fn current_path(&self) -> &str {
        match self.uri.path_and_query() {
            Some(path) if path.as_str().len() <= 512 => path.as_str(),
            _ => self.uri.path(),
        }
    }

    /// The error page of the area the request went to: the staff page in the
    /// DPO area, else the citizen page (with the citizen's navigation when a
    /// session is there; without it when the session cannot be read).
    async fn error_page(&self, app: &AppState, status: StatusCode, message: &str) -> maud::Markup {
        let lang = self.lang();
        let title = title(lang, status);
        if is_staff_path(self.uri.path()) {
            let ctx = self.anonymous_context(app, lang);
            return pages::dpo_error_page(&ctx, status.as_u16(), title, message, false);
        }
        let query_lang = self.query_lang();
        let ctx = match Page::load(app, &self.headers, query_lang.as_deref(), self.current_path()).await {
            Ok(page) => page.ctx,
            Err(_) => self.anonymous_context(app, lang),
        };
        pages::error_page(&ctx, status.as_u16(), title, message)
    }

    fn anonymous_context(&self, app: &AppState, lang: Lang) -> PageContext {
        PageContext {
            lang,
            dev_mode: app.dev_mode,
            logged_in: false,
            login_level_label: None,
            csrf_token: None,
            current_path: self.current_path().to_owned(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    Json,
    Html,
    Plain,
    /// No body type, or one that is none of the above.
    Other,
}

impl BodyKind {
    fn of(response: &Response) -> Self {
        let media_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|value| value.trim().to_ascii_lowercase());
        match media_type.as_deref() {
            Some("application/json") => Self::Json,
            Some(other) if other.ends_with("+json") => Self::Json,
            Some("text/html") => Self::Html,
            Some("text/plain") => Self::Plain,
            _ => Self::Other,
        }
    }
}

/// The text of a plain-text error (axum's rejection message), else nothing.
async fn plain_text(kind: BodyKind, body: Body) -> String {
    if kind != BodyKind::Plain {
        return String::new();
    }
    match axum::body::to_bytes(body, MAX_PLAIN_ERROR_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(_) => String::new(),
    }
}

#[derive(Deserialize)]
struct JsonErrorBody {
    error: JsonError,
}

#[derive(Deserialize)]
struct JsonError {
    code: String,
    message: String,
}

/// A handler's `{"error": {"code", "message"}}`; any other JSON comes back
/// as it was.
async fn json_error(body: Body) -> Result<JsonError, Body> {
    let bytes = axum::body::to_bytes(body, MAX_JSON_ERROR_BYTES).await.map_err(|_| Body::empty())?;
    match serde_json::from_slice::<JsonErrorBody>(&bytes) {
        Ok(parsed) => Ok(parsed.error),
        Err(_) => Err(Body::from(bytes)),
    }
}

/// The same status and headers (`Allow`, `Retry-After`, cookies, ...) with
/// a new body.
fn with_body(mut parts: axum::http::response::Parts, content_type: &'static str, body: Body) -> Response {
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Response::from_parts(parts, body)
}

/// A stable code and plain messages for a refusal no handler described.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Refusal {
    code: &'static str,
    message_en: &'static str,
    message_de: &'static str,
}

const fn refusal(code: &'static str, message_en: &'static str, message_de: &'static str) -> Refusal {
    Refusal { code, message_en, message_de }
}

const INVALID_PATH: Refusal = refusal(
    "invalid_path",
    "The address contains a part that is not valid.",
    "Die Adresse enthält einen ungültigen Teil.",
);
const INVALID_QUERY: Refusal = refusal(
    "invalid_query",
    "The address contains a parameter that is not valid or appears more than once.",
    "Die Adresse enthält einen Parameter, der ungültig ist oder mehrfach vorkommt.",
);
const INVALID_FORM: Refusal = refusal(
    "invalid_form",
    "The form data could not be read. Please reload the page and try again.",
    "Die Formulardaten konnten nicht gelesen werden. Bitte laden Sie die Seite neu und versuchen Sie es noch einmal.",
);
const INVALID_JSON: Refusal = refusal(
    "invalid_json",
    "The request body is not valid JSON for this call.",
    "Die Anfrage enthält kein gültiges JSON für diesen Aufruf.",
);
const INVALID_MULTIPART: Refusal = refusal(
    "invalid_multipart",
    "The upload could not be read. Send it as multipart/form-data with a boundary.",
    "Das Hochgeladene konnte nicht gelesen werden. Bitte versuchen Sie es noch einmal.",
);
const INVALID_ENCODING: Refusal =
    refusal("invalid_encoding", "The request body is not UTF-8 text.", "Die Anfrage ist kein UTF-8-Text.");
const BAD_REQUEST: Refusal =
    refusal("bad_request", "The request could not be read.", "Die Anfrage konnte nicht gelesen werden.");
const INVALID_REQUEST: Refusal =
    refusal("invalid_request", "The request could not be processed.", "Die Anfrage konnte nicht verarbeitet werden.");
const UNAUTHORIZED: Refusal =
    refusal("unauthorized", "This needs a login or a client certificate.", "Dafür müssen Sie angemeldet sein.");
const FORBIDDEN: Refusal = refusal("forbidden", "This is not allowed.", "Das ist nicht erlaubt.");
const NOT_FOUND: Refusal = refusal(
    "not_found",
    "This does not exist or you may not see it.",
    "Das gibt es nicht, oder Sie dürfen es nicht sehen.",
);
const METHOD_NOT_ALLOWED: Refusal = refusal(
    "method_not_allowed",
    "This address does not take this kind of request (the Allow header lists the methods it takes).",
    "Diese Adresse nimmt diese Art von Anfrage nicht an.",
);
const REQUEST_TIMEOUT: Refusal = refusal(
    "request_timeout",
    "The request took too long to arrive. Please try again.",
    "Die Anfrage hat zu lange gedauert. Bitte versuchen Sie es noch einmal.",
);
const BODY_TOO_LARGE: Refusal = refusal(
    "body_too_large",
    "The request is larger than this address accepts.",
    "Die Anfrage ist größer, als diese Adresse annimmt.",
);
const UNSUPPORTED_MEDIA_TYPE: Refusal = refusal(
    "unsupported_media_type",
    "The request was sent in a format this address does not accept.",
    "Die Anfrage wurde in einem Format gesendet, das diese Adresse nicht annimmt.",
);
const RATE_LIMITED: Refusal = refusal(
    "rate_limited",
    "Too many requests. Please wait a moment and try again.",
    "Zu viele Anfragen. Bitte warten Sie einen Moment und versuchen Sie es dann noch einmal.",
);
const SERVICE_UNAVAILABLE: Refusal = refusal(
    "service_unavailable",
    "The service is busy or partly unavailable. Nothing was changed. Please try again later.",
    "Der Dienst ist gerade ausgelastet oder nicht vollständig erreichbar. Es wurde nichts geändert. Bitte versuchen Sie es später noch einmal.",
);
const INTERNAL_ERROR: Refusal = refusal(
    "internal_error",
    "Something went wrong on our side. Nothing was changed. Please try again later.",
    "Bei uns ist etwas schiefgegangen. Es wurde nichts geändert. Bitte versuchen Sie es später noch einmal.",
);

impl Refusal {
    /// By status, refined by axum's rejection text where one status covers
    /// several extractors (the texts are axum 0.8's; the integration test
    /// `errors` pins each of them).
    fn of(status: StatusCode, text: &str) -> Self {
        match status {
            StatusCode::BAD_REQUEST => {
                if text.starts_with("Invalid URL") || text.starts_with("Invalid UTF-8 in `") {
                    INVALID_PATH
                } else if text.starts_with("Failed to deserialize query string") {
                    INVALID_QUERY
                } else if text.starts_with("Failed to deserialize form") {
                    INVALID_FORM
                } else if text.starts_with("Failed to parse the request body as JSON") {
                    INVALID_JSON
                } else if text.starts_with("Invalid `boundary`") {
                    INVALID_MULTIPART
                } else if text.starts_with("Request body didn't contain valid UTF-8") {
                    INVALID_ENCODING
                } else {
                    BAD_REQUEST
                }
            }
            StatusCode::UNPROCESSABLE_ENTITY => {
                if text.starts_with("Failed to deserialize form") {
                    INVALID_FORM
                } else if text.starts_with("Failed to deserialize the JSON body") {
                    INVALID_JSON
                } else {
                    INVALID_REQUEST
                }
            }
            StatusCode::UNAUTHORIZED => UNAUTHORIZED,
            StatusCode::FORBIDDEN => FORBIDDEN,
            StatusCode::NOT_FOUND => NOT_FOUND,
            StatusCode::METHOD_NOT_ALLOWED => METHOD_NOT_ALLOWED,
            StatusCode::REQUEST_TIMEOUT => REQUEST_TIMEOUT,
            StatusCode::PAYLOAD_TOO_LARGE => BODY_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => UNSUPPORTED_MEDIA_TYPE,
            StatusCode::TOO_MANY_REQUESTS => RATE_LIMITED,
            StatusCode::SERVICE_UNAVAILABLE => SERVICE_UNAVAILABLE,
            status if status.is_server_error() => {
                tracing::error!(%status, detail = text, "a server error answered without a handler's error");
                INTERNAL_ERROR
            }
            _ => BAD_REQUEST,
        }
    }
}

/// The heading of an error page, by status (the one list in `web`).
fn title(lang: Lang, status: StatusCode) -> &'static str {
    web::error_title(lang, status.as_u16())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_told_apart_from_pages() {
        for path in ["/api", "/api/", "/api/v1/evidence", "/api/v2/x", "/auth/backchannel-logout/eid"] {
            assert!(answers_json(path), "{path}");
        }
        for path in ["/", "/apis", "/api-docs", "/evidence", "/auth/callback", "/logout", "/dpo"] {
            assert!(!answers_json(path), "{path}");
        }
        assert!(is_staff_path("/dpo") && is_staff_path("/dpo/stats") && is_staff_path("/staff/logout"));
        assert!(!is_staff_path("/dpoevil") && !is_staff_path("/evidence"));
    }

    #[test]
    fn every_refusal_has_a_code_and_both_messages() {
        let statuses = [400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504];
        for status in statuses {
            let status = StatusCode::from_u16(status).expect("a valid status");
            let refusal = Refusal::of(status, "");
            assert!(!refusal.code.is_empty() && refusal.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
            assert!(!refusal.message_en.is_empty() && !refusal.message_de.is_empty(), "{status}");
        }
        assert_eq!(Refusal::of(StatusCode::BAD_REQUEST, "Invalid URL: Invalid UTF-8 in `id`"), INVALID_PATH);
        assert_eq!(Refusal::of(StatusCode::UNPROCESSABLE_ENTITY, "Failed to deserialize form body: x"), INVALID_FORM);
        assert_eq!(Refusal::of(StatusCode::BAD_GATEWAY, "upstream").code, "internal_error");
    }
}
