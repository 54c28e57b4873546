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

use super::AppState;
use super::error::{ApiError, ErrorCode, Shown};
use super::i18n;
use super::pages::{self, PageContext};
use super::session;
use super::web::{self, Page};
use crate::policy::Lang;

/// axum's rejection texts are one line; anything longer is not one of them.
const MAX_PLAIN_ERROR_BYTES: usize = 16 * 1024;

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
            let error = refusal(status, &plain_text(kind, body).await);
            with_body(parts, "application/json", error.into_response().into_body())
        }
        (Audience::Browser(visitor), BodyKind::Json) if visitor.wants_html => {
            // The handler's error itself (see `error::Shown`); JSON made
            // otherwise passes as it is.
            let Some(Shown(error)) = response.extensions().get::<Shown>().cloned() else {
                return response;
            };
            let (parts, _json) = response.into_parts();
            let markup = visitor.error_page(app, status, &error.message(visitor.lang())).await;
            with_body(parts, "text/html; charset=utf-8", Body::from(markup.into_string()))
        }
        (Audience::Browser(_), BodyKind::Json) => response,
        (Audience::Browser(visitor), kind) => {
            let (parts, body) = response.into_parts();
            let error = refusal(status, &plain_text(kind, body).await);
            let markup = visitor.error_page(app, status, &error.message(visitor.lang())).await;
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
        let title = i18n::error_title(lang, status.as_u16());
        if is_staff_path(self.uri.path()) {
            let ctx = self.anonymous_context(app, lang);
            return pages::dpo_error_page(&ctx, status.as_u16(), &title, message, false);
        }
        let query_lang = self.query_lang();
        let ctx = match Page::load(app, &self.headers, query_lang.as_deref(), self.current_path()).await {
            Ok(page) => page.ctx,
            Err(_) => self.anonymous_context(app, lang),
        };
        pages::error_page(&ctx, status.as_u16(), &title, message)
    }

    fn anonymous_context(&self, app: &AppState, lang: Lang) -> PageContext {
        PageContext {
            lang,
            dev_mode: app.dev_mode,
            logged_in: false,
            login_level_label: None,
            csrf_token: None,
            current_path: self.current_path().to_owned(),
            display: super::display::Display::of_request(self.current_path(), &self.headers),
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

/// The same status and headers (`Allow`, `Retry-After`, cookies, ...) with
/// a new body.
fn with_body(mut parts: axum::http::response::Parts, content_type: &'static str, body: Body) -> Response {
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Response::from_parts(parts, body)
}

/// A refusal no handler described, with the status it was answered with.
fn refusal(status: StatusCode, text: &str) -> ApiError {
    let mut error = ApiError::new(refusal_code(status, text));
    error.status = status;
    error
}

/// The stable code of a refusal no handler described: by status, refined by
/// axum's rejection text where one status covers several extractors (the
/// texts are axum 0.8's; the integration test `errors` pins each of them).
fn refusal_code(status: StatusCode, text: &str) -> ErrorCode {
    match status {
        StatusCode::BAD_REQUEST => {
            if text.starts_with("Invalid URL") || text.starts_with("Invalid UTF-8 in `") {
                ErrorCode::InvalidPath
            } else if text.starts_with("Failed to deserialize query string") {
                ErrorCode::InvalidQuery
            } else if text.starts_with("Failed to deserialize form") {
                ErrorCode::InvalidForm
            } else if text.starts_with("Failed to parse the request body as JSON") {
                ErrorCode::InvalidJson
            } else if text.starts_with("Invalid `boundary`") {
                ErrorCode::InvalidMultipart
            } else if text.starts_with("Request body didn't contain valid UTF-8") {
                ErrorCode::InvalidEncoding
            } else {
                ErrorCode::BadRequest
            }
        }
        StatusCode::UNPROCESSABLE_ENTITY => {
            if text.starts_with("Failed to deserialize form") {
                ErrorCode::InvalidForm
            } else if text.starts_with("Failed to deserialize the JSON body") {
                ErrorCode::InvalidJson
            } else {
                ErrorCode::InvalidRequest
            }
        }
        StatusCode::UNAUTHORIZED => ErrorCode::Unauthorized,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::REQUEST_TIMEOUT => ErrorCode::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        StatusCode::SERVICE_UNAVAILABLE => ErrorCode::ServiceUnavailable,
        status if status.is_server_error() => {
            tracing::error!(%status, detail = text, "a server error answered without a handler's error");
            ErrorCode::InternalError
        }
        _ => ErrorCode::BadRequest,
    }
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
    fn every_refusal_keeps_its_status_and_has_a_message_in_both_languages() {
        let statuses = [400, 401, 403, 404, 405, 408, 409, 413, 415, 422, 429, 500, 502, 503, 504];
        for status in statuses {
            let status = StatusCode::from_u16(status).expect("a valid status");
            let error = refusal(status, "");
            assert_eq!(error.status, status);
            for lang in crate::http::i18n::ALL_LANGS {
                let message = error.message(lang);
                assert!(!message.is_empty() && !message.starts_with("error-"), "{status} {lang:?}: {message}");
            }
        }
        let path = refusal_code(StatusCode::BAD_REQUEST, "Invalid URL: Invalid UTF-8 in `id`");
        assert_eq!(path, ErrorCode::InvalidPath);
        let form = refusal_code(StatusCode::UNPROCESSABLE_ENTITY, "Failed to deserialize form body: x");
        assert_eq!(form, ErrorCode::InvalidForm);
        assert_eq!(refusal_code(StatusCode::BAD_GATEWAY, "upstream"), ErrorCode::InternalError);
    }
}
