//! The HTML pages: pure functions from plain data to `maud::Markup`, all
//! sharing one layout (this file), by audience: `citizen.rs` (start,
//! evidence, upload, access log, account), `consent.rs` (a department's
//! request and the citizen's grants), `dpo.rs` (data-protection officers).
//! No I/O, no extractors, and no JavaScript: every page works as plain HTML
//! forms and links on old devices.
//!
//! All user-supplied text goes through maud's escaping; nothing here uses
//! `PreEscaped`.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::http::display::{Contrast, Display, Setting, TextSize};
use crate::http::i18n::{self, ALL_LANGS, Msg, lang_code, t};
use crate::policy::Lang;

/// The stylesheet served at `/static/style.css`.
pub const STYLESHEET: &str = concat!(include_str!("../style.css"), "\n", include_str!("../style-reflow.css"));

/// What every page needs to know about the request.
#[derive(Clone)]
pub struct PageContext {
    pub lang: Lang,
    pub dev_mode: bool,
    pub logged_in: bool,
    /// Already translated, e.g. "hoch" / "high".
    pub login_level_label: Option<String>,
    /// Put into every POST form as the hidden input `csrf`.
    pub csrf_token: Option<String>,
    /// Path (and query) of the current page, used for the language switch
    /// links: the same page with `?lang=xx`.
    pub current_path: String,
    /// Larger text and high contrast (`http::display`), as classes on `<html>`.
    pub display: Display,
}

impl fmt::Debug for PageContext {
    // The CSRF token is a secret; keep it out of logs.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("PageContext")
            .field("lang", &self.lang)
            .field("dev_mode", &self.dev_mode)
            .field("logged_in", &self.logged_in)
            .field("login_level_label", &self.login_level_label)
            .field("csrf_token", &self.csrf_token.as_ref().map(|_| "[redacted]"))
            .field("current_path", &self.current_path)
            .field("display", &self.display)
            .finish()
    }
}

mod catalogue;
mod citizen;
mod consent;
mod dpo;
mod forms;
mod info;
mod my_data;
#[cfg(test)]
mod tests;

pub use catalogue::services_page;
pub use citizen::*;
pub use consent::*;
pub use dpo::*;
pub use forms::session_expired_page;
pub use info::*;
pub use my_data::*;

// --- shared by the pages -------------------------------------------------------

fn date_time_element(lang: Lang, at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (i18n::format_date_time(lang, at)) }
    }
}

/// A string as one URL path segment (unreserved characters kept).
fn path_segment(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

fn query_value(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn outcome_label(lang: Lang, outcome: &str) -> String {
    match outcome {
        "success" => t(lang, Msg::DpoOutcomeSuccess).to_owned(),
        "refused" => t(lang, Msg::DpoOutcomeRefused).to_owned(),
        "failed" => t(lang, Msg::DpoOutcomeFailed).to_owned(),
        other => other.to_owned(),
    }
}

/// Audit times are shown exactly, in UTC (the log's own clock), to the second.
fn utc_time_element(at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Micros, true)) { (at.format("%Y-%m-%d %H:%M:%S")) }
    }
}

const FILE_INPUT_ID: &str = "upload-file";
const ACCEPTED_FILE_TYPES: &str = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg";

struct ErrorSummaryEntry<'a> {
    /// `#id` of the control to fix, if there is one on the page.
    target: Option<String>,
    label: &'a str,
    message: &'a str,
}

/// The one shared page frame: head, skip link, header with language and
/// display switches and navigation, `<main id=main>`, footer.
fn layout(ctx: &PageContext, title: &str, main_content: Markup) -> Markup {
    let lang = ctx.lang;
    html! {
        (DOCTYPE)
        html lang=(lang_code(lang)) class=[ctx.display.html_class()] {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " – tresor" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                a.skip-link href="#main" { (t(lang, Msg::SkipToContent)) }
                header.site-header {
                    @if ctx.dev_mode {
                        (dev_mode_banner(lang))
                    }
                    div.header-bar {
                        a.site-name href="/" { "tresor" }
                        div.header-switches {
                            (language_switch(ctx))
                            (display_switch(ctx))
                        }
                    }
                    @if ctx.logged_in {
                        (main_navigation(ctx))
                    }
                }
                main #main tabindex="-1" {
                    (main_content)
                }
                footer.site-footer {
                    (info::footer_navigation(ctx))
                    p { (t(lang, Msg::FooterText)) }
                }
            }
        }
    }
}

/// Shown in both languages, page language first, so nobody mistakes a test
/// installation for the real service.
fn dev_mode_banner(lang: Lang) -> Markup {
    let languages = std::iter::once(lang).chain(ALL_LANGS.into_iter().filter(|&other| other != lang));
    html! {
        div.dev-banner role="note" {
            @for banner_lang in languages {
                p lang=(lang_code(banner_lang)) { (t(banner_lang, Msg::DevModeBanner)) }
            }
        }
    }
}

fn language_switch(ctx: &PageContext) -> Markup {
    html! {
        nav.language-switch aria-label=(t(ctx.lang, Msg::LanguageNavLabel)) {
            ul {
                @for lang in ALL_LANGS {
                    li {
                        a href=(language_switch_href(&ctx.current_path, lang))
                            hreflang=(lang_code(lang))
                            lang=(lang_code(lang))
                            aria-current=[(lang == ctx.lang).then_some("true")] {
                            (i18n::lang_name_in_itself(lang))
                        }
                    }
                }
            }
        }
    }
}

/// Text size and contrast, each a pair of links to the current page with
/// `text=` / `contrast=` (see `http::display`); the current choice of each
/// pair is marked like the current language.
fn display_switch(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let text_sizes = [(TextSize::Normal, Msg::DisplayTextNormal), (TextSize::Large, Msg::DisplayTextLarge)];
    let contrasts = [(Contrast::Normal, Msg::DisplayContrastNormal), (Contrast::High, Msg::DisplayContrastHigh)];
    html! {
        nav.display-switch aria-label=(t(lang, Msg::DisplayNavLabel)) {
            ul {
                @for (size, msg) in text_sizes {
                    li { (display_link(ctx, size, ctx.display.text, msg)) }
                }
            }
            ul {
                @for (contrast, msg) in contrasts {
                    li { (display_link(ctx, contrast, ctx.display.contrast, msg)) }
                }
            }
        }
    }
}

fn display_link<S: Setting>(ctx: &PageContext, value: S, current: S, msg: Msg) -> Markup {
    html! {
        a href=(switch_href(&ctx.current_path, S::NAME, value.code()))
            aria-current=[(value == current).then_some("true")] {
            (t(ctx.lang, msg))
        }
    }
}

fn main_navigation(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let current = path_without_query(&ctx.current_path);
    let links = [
        ("/evidence", Msg::NavMyEvidence),
        ("/evidence/new", Msg::NavAddEvidence),
        ("/grants", Msg::NavGrants),
        ("/access-log", Msg::NavAccessLog),
        ("/account/erase", Msg::NavEraseAccount),
    ];
    html! {
        nav.main-nav aria-label=(t(lang, Msg::MainNavLabel)) {
            ul {
                @for (href, msg) in links {
                    li {
                        a href=(href) aria-current=[(current == href).then_some("page")] {
                            (t(lang, msg))
                        }
                    }
                }
                li {
                    form.inline-form method="post" action="/logout" {
                        (csrf_input(ctx))
                        button.link-button type="submit" { (t(lang, Msg::NavLogout)) }
                    }
                }
            }
        }
        p.login-status {
            (t(lang, Msg::LoggedInStatus))
            @if let Some(level) = &ctx.login_level_label {
                " " (t(lang, Msg::LoginLevelPrefix)) " " (level)
            }
        }
    }
}

fn csrf_input(ctx: &PageContext) -> Markup {
    // A missing token still renders the input; the server then rejects the
    // POST instead of the form silently losing its protection.
    html! {
        input type="hidden" name="csrf" value=(ctx.csrf_token.as_deref().unwrap_or_default());
    }
}

fn error_summary(lang: Lang, errors: &[ErrorSummaryEntry<'_>]) -> Markup {
    html! {
        div.error-summary role="alert" aria-labelledby="error-summary-title" {
            h2 #error-summary-title { (t(lang, Msg::ErrorSummaryTitle)) }
            ul {
                @for error in errors {
                    li {
                        @match &error.target {
                            Some(target) => a href=(target) { (error.label) ": " (error.message) },
                            None => { (error.label) ": " (error.message) }
                        }
                    }
                }
            }
        }
    }
}

fn form_field(lang: Lang, field: &FormField) -> Markup {
    if field.kind == FormFieldKind::Date {
        // Three text fields in a fieldset (`forms`), not one input.
        return forms::date_input(lang, field);
    }
    let input_id = field_id(&field.name);
    // The upload reader takes field values from parts named `field.<name>`.
    let input_name = format!("field.{}", field.name);
    let hint = field_hint(lang, &field.kind);
    let hint_id = format!("{input_id}-hint");
    let error_id = format!("{input_id}-error");
    let described_by = described_by(hint.is_some().then_some(&hint_id), field.error.is_some().then_some(&error_id));
    let invalid = field.error.is_some().then_some("true");
    html! {
        div.field.field-has-error[field.error.is_some()] {
            label for=(input_id) {
                (field.label)
                @if field.required {
                    " " span.required-marker { (t(lang, Msg::RequiredMarker)) }
                }
            }
            @if let Some(hint) = &hint {
                p.hint id=(hint_id) { (hint) }
            }
            @if let Some(error) = &field.error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            @match &field.kind {
                FormFieldKind::Text { max_length } => {
                    input type="text" id=(input_id) name=(input_name) value=(field.value)
                        maxlength=(max_length) required[field.required]
                        aria-invalid=[invalid] aria-describedby=[described_by.as_deref()];
                }
                FormFieldKind::Date => {}
                FormFieldKind::Money => {
                    div.input-with-suffix {
                        input type="text" inputmode="decimal" id=(input_id) name=(input_name)
                            value=(field.value) required[field.required]
                            aria-invalid=[invalid] aria-describedby=[described_by.as_deref()];
                        // The hint already says "EUR" to screen readers.
                        span.input-suffix aria-hidden="true" { "EUR" }
                    }
                }
                FormFieldKind::Integer { min, max } => {
                    input type="number" inputmode="numeric" step="1" min=(min) max=(max)
                        id=(input_id) name=(input_name) value=(field.value)
                        required[field.required]
                        aria-invalid=[invalid] aria-describedby=[described_by.as_deref()];
                }
                FormFieldKind::Enum { options } => {
                    select id=(input_id) name=(input_name) required[field.required]
                        aria-invalid=[invalid] aria-describedby=[described_by.as_deref()] {
                        option value="" { (t(lang, Msg::SelectPlaceholder)) }
                        @for (value, label) in options {
                            option value=(value) selected[*value == field.value] { (label) }
                        }
                    }
                }
            }
        }
    }
}

fn file_field(lang: Lang, form: &UploadForm) -> Markup {
    let hint_id = format!("{FILE_INPUT_ID}-hint");
    let error_id = format!("{FILE_INPUT_ID}-error");
    let again_id = forms::FILE_AGAIN_ID.to_owned();
    let described_by = described_by(Some(&hint_id), form.file_error.is_some().then_some(&error_id));
    let described_by = match (described_by, form.file_dropped) {
        (Some(ids), true) => Some(format!("{ids} {again_id}")),
        (ids, _) => ids,
    };
    html! {
        div.field.field-has-error[form.file_error.is_some()] {
            label for=(FILE_INPUT_ID) { (t(lang, Msg::FileLabel)) }
            p.hint id=(hint_id) { (i18n::file_hint(lang, form.max_upload_bytes)) }
            @if let Some(error) = &form.file_error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            (forms::choose_file_again(lang, form))
            input type="file" id=(FILE_INPUT_ID) name="file" accept=(ACCEPTED_FILE_TYPES)
                aria-invalid=[form.file_error.is_some().then_some("true")]
                aria-describedby=[described_by.as_deref()];
        }
    }
}

fn field_hint(lang: Lang, kind: &FormFieldKind) -> Option<String> {
    match kind {
        FormFieldKind::Text { max_length } => Some(i18n::text_length_hint(lang, *max_length)),
        FormFieldKind::Date => Some(t(lang, Msg::DateHint).to_owned()),
        FormFieldKind::Money => Some(t(lang, Msg::MoneyHint).to_owned()),
        FormFieldKind::Integer { min, max } => Some(i18n::integer_range_hint(lang, *min, *max)),
        FormFieldKind::Enum { .. } => None,
    }
}

fn described_by(hint_id: Option<&String>, error_id: Option<&String>) -> Option<String> {
    let ids: Vec<&str> = [hint_id, error_id].into_iter().flatten().map(String::as_str).collect();
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// HTML id for a form field: `field-` plus the name, with anything outside
/// `[A-Za-z0-9_-]` replaced, so the error summary can link to it.
fn field_id(name: &str) -> String {
    let safe: String =
        name.chars()
            .map(|character| {
                if character.is_ascii_alphanumeric() || character == '_' || character == '-' { character } else { '-' }
            })
            .collect();
    format!("field-{safe}")
}

fn date_element(lang: Lang, at: DateTime<Utc>) -> Markup {
    html! {
        time datetime=(at.to_rfc3339_opts(SecondsFormat::Secs, true)) { (i18n::format_date(lang, at)) }
    }
}

fn media_type_label(media_type: &str) -> &str {
    match media_type {
        "application/pdf" => "PDF",
        "image/png" => "PNG",
        "image/jpeg" => "JPEG",
        other => other,
    }
}

fn login_href(issuer_name: &str) -> String {
    let issuer: String = url::form_urlencoded::byte_serialize(issuer_name.as_bytes()).collect();
    format!("/login?issuer={issuer}")
}

/// `/evidence/{id}{suffix}` with the id percent-encoded as a path segment.
fn evidence_href(id: &str, suffix: &str) -> String {
    format!("/evidence/{}{suffix}", path_segment(id))
}

/// The current page with `lang=xx` set (replacing any earlier `lang`).
/// Anything that is not a local absolute path falls back to `/`, so the
/// switch can never point to another site.
fn language_switch_href(current_path: &str, lang: Lang) -> String {
    switch_href(current_path, "lang", lang_code(lang))
}

/// The current page with `key=value` set (replacing any earlier `key`), the
/// page's other query parameters kept; `/` for anything but a local path.
fn switch_href(current_path: &str, switch: &str, code: &str) -> String {
    let without_fragment = current_path.split('#').next().unwrap_or_default();
    let (path, query) = without_fragment.split_once('?').unwrap_or((without_fragment, ""));
    let path = if super::session::is_local_path(path) { path } else { "/" };
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != switch {
            serializer.append_pair(&key, &value);
        }
    }
    serializer.append_pair(switch, code);
    format!("{path}?{}", serializer.finish())
}

fn path_without_query(current_path: &str) -> &str {
    current_path.split(['?', '#']).next().unwrap_or_default()
}
