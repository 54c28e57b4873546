//! The pages a public body must offer, for everyone, logged in or not:
//! accessibility statement (`/accessibility`) with its feedback form
//! (`POST /accessibility/feedback`), `/easy-read`, `/sign-language`,
//! `/privacy`, `/imprint`, `/contact`. The city's details come from
//! `[city]` in the configuration.
//!
//! The feedback form is anonymous, so it has no session CSRF token; a
//! browser's cross-site POST is refused by `Sec-Fetch-Site` / `Origin`
//! instead (a forged message is all a cross-site form could send). Each
//! address may store `limits.feedback_messages_per_hour` messages; the body
//! is bounded by [`FEEDBACK_BODY_LIMIT`] and the message by
//! `vault::FEEDBACK_MESSAGE_MAX_CHARS`.

use axum::Form;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::i18n::{self, InfoText};
use super::pages::{self, FeedbackForm, RetentionFacts};
use super::rate_limit::ClientAddress;
use super::web::{Page, query_param};
use crate::policy::Lang;
use crate::vault::{Feedback, FeedbackProblem};

/// The largest feedback form body: the longest message in any script,
/// percent-encoded, with room to spare.
pub const FEEDBACK_BODY_LIMIT: usize = 64 * 1024;

/// `GET /accessibility[?sent=1]`
pub async fn accessibility(State(app): State<AppState>, page: Page, RawQuery(query): RawQuery) -> Response {
    let sent = query_param(query.as_deref(), "sent").as_deref() == Some("1");
    let form = FeedbackForm { sent, ..FeedbackForm::default() };
    page.respond(&app, StatusCode::OK, pages::accessibility_page(&page.ctx, &app.config.city, &form))
}

#[derive(Deserialize)]
pub struct FeedbackBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    contact: String,
    #[serde(default)]
    lang: Option<String>,
}

/// `POST /accessibility/feedback`: store the message and go back to the
/// statement with a thank-you (303), or show the form again with what was
/// typed and what to fix (422), or say when to try again (429).
pub async fn submit_feedback(
    State(app): State<AppState>,
    client: ClientAddress,
    headers: HeaderMap,
    Form(body): Form<FeedbackBody>,
) -> Response {
    let page = match Page::load(&app, &headers, body.lang.as_deref(), "/accessibility").await {
        Ok(page) => page,
        Err(error) => return Page::without_session(&app, &headers, None, "/accessibility").error(&app, error),
    };
    if !same_origin(&app, &headers) {
        return page.error(&app, ApiError::csrf());
    }
    let lang = page.lang();
    let again = |errors: Vec<(&'static str, String)>| FeedbackForm {
        message: body.message.clone(),
        contact: body.contact.clone(),
        errors,
        sent: false,
    };
    let feedback = match Feedback::parse(&body.message, &body.contact) {
        Ok(feedback) => feedback,
        Err(problems) => {
            let errors = problems.iter().map(|problem| (problem.field(), problem_message(lang, *problem))).collect();
            let markup = pages::accessibility_page(&page.ctx, &app.config.city, &again(errors));
            return page.respond(&app, StatusCode::UNPROCESSABLE_ENTITY, markup);
        }
    };
    // Counted only for messages about to be stored: a typo costs nothing.
    if let Err(limited) = app.rate_limits.feedback_message(client.0) {
        let error = ApiError::from(limited);
        let markup =
            pages::accessibility_page(&page.ctx, &app.config.city, &again(vec![("message", error.message(lang))]));
        let mut response = page.respond(&app, error.status, markup);
        error.add_headers(response.headers_mut());
        return response;
    }
    match app.vault.receive_feedback(&feedback, i18n::lang_code(lang)).await {
        Ok(_) => Redirect::to(&format!("/accessibility?sent=1&lang={}", i18n::lang_code(lang))).into_response(),
        Err(error) => page.error(&app, error.into()),
    }
}

/// A browser's POST from another site is refused: `Sec-Fetch-Site` (sent by
/// every current browser) must be `same-origin` (or `none`: typed by the
/// user); without it, an `Origin` must be this server's public origin.
/// Clients that send neither (scripts, old browsers) are not a browser
/// tricked by another site.
fn same_origin(app: &AppState, headers: &HeaderMap) -> bool {
    let value = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(site) = value("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match value(header::ORIGIN.as_str()) {
        None => true,
        Some(origin) => url::Url::parse(&app.config.public_base_url())
            .is_ok_and(|public| public.origin().ascii_serialization() == origin.trim_end_matches('/')),
    }
}

fn problem_message(lang: Lang, problem: FeedbackProblem) -> String {
    let text = match problem {
        FeedbackProblem::MessageEmpty => InfoText::AccessibilityFeedbackMessageEmpty,
        FeedbackProblem::MessageTooLong => InfoText::AccessibilityFeedbackMessageTooLong,
        FeedbackProblem::MessageInvalidCharacters | FeedbackProblem::ContactInvalidCharacters => {
            InfoText::AccessibilityFeedbackInvalidCharacters
        }
        FeedbackProblem::ContactTooLong => InfoText::AccessibilityFeedbackContactTooLong,
    };
    i18n::info(lang, text).to_owned()
}

/// `GET /easy-read`
pub async fn easy_read(State(app): State<AppState>, page: Page) -> Response {
    page.respond(&app, StatusCode::OK, pages::easy_read_page(&page.ctx))
}

/// `GET /sign-language`
pub async fn sign_language(State(app): State<AppState>, page: Page) -> Response {
    page.respond(&app, StatusCode::OK, pages::sign_language_page(&page.ctx, &app.config.city))
}

/// `GET /privacy`
pub async fn privacy(State(app): State<AppState>, page: Page) -> Response {
    let retention = RetentionFacts {
        audit_retention_days: app.config.audit_retention_days,
        session_idle_seconds: app.config.session_idle_timeout_seconds,
        session_absolute_seconds: app.config.session_absolute_timeout_seconds,
    };
    page.respond(&app, StatusCode::OK, pages::privacy_page(&page.ctx, &app.config.city, retention))
}

/// `GET /imprint`
pub async fn imprint(State(app): State<AppState>, page: Page) -> Response {
    page.respond(&app, StatusCode::OK, pages::imprint_page(&page.ctx, &app.config.city))
}

/// `GET /contact`
pub async fn contact(State(app): State<AppState>, page: Page) -> Response {
    page.respond(&app, StatusCode::OK, pages::contact_page(&page.ctx, &app.config.city))
}
