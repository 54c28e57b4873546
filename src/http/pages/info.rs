//! The pages a public body must offer (BITV 2.0, GDPR Art. 13, DDG § 5):
//! the accessibility statement with its feedback form, tresor in Leichte
//! Sprache / easy read, the sign-language video link, the privacy notice,
//! the imprint and the contact page. The words are in `locales/*/info.ftl`;
//! the city's names, addresses and links come from `[city]`
//! (`config::CityConfig`), shown as written; a detail the city has not
//! entered is left out, a section without any says so.

use chrono::NaiveDate;

use super::*;
use crate::config::CityConfig;
use crate::http::i18n::{InfoText, info, info_lines};

/// The footer's links: (path, words), in the order shown.
pub const INFO_PAGES: [(&str, InfoText); 7] = [
    ("/services", InfoText::InfoNavServices),
    ("/accessibility", InfoText::InfoNavAccessibility),
    ("/easy-read", InfoText::InfoNavEasyRead),
    ("/sign-language", InfoText::InfoNavSignLanguage),
    ("/privacy", InfoText::InfoNavPrivacy),
    ("/imprint", InfoText::InfoNavImprint),
    ("/contact", InfoText::InfoNavContact),
];

/// The HTML ids of the feedback form's fields (the error summary links
/// to them).
pub const FEEDBACK_MESSAGE_ID: &str = "feedback-message";
pub const FEEDBACK_CONTACT_ID: &str = "feedback-contact";

/// The feedback form as typed, with its problems (field name `message` or
/// `contact`, translated message), or sent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedbackForm {
    pub message: String,
    pub contact: String,
    pub errors: Vec<(&'static str, String)>,
    /// The message was stored (after the redirect): say thank you.
    pub sent: bool,
}

/// What the privacy notice says about how long things are kept, from the
/// configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionFacts {
    pub audit_retention_days: i64,
    pub session_idle_seconds: i64,
    pub session_absolute_seconds: i64,
}

/// The footer's navigation to the info pages (in `layout`).
pub(super) fn footer_navigation(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let current = path_without_query(&ctx.current_path);
    html! {
        nav.footer-nav aria-label=(info(lang, InfoText::InfoFooterNavLabel)) {
            ul {
                @for (href, text) in INFO_PAGES {
                    li { a href=(href) aria-current=[(current == href).then_some("page")] { (info(lang, text)) } }
                }
            }
        }
    }
}

/// `GET /accessibility`: the accessibility statement and the feedback form.
pub fn accessibility_page(ctx: &PageContext, city: &CityConfig, form: &FeedbackForm) -> Markup {
    let lang = ctx.lang;
    let status = match city.accessibility_conformance.as_str() {
        "full" => InfoText::AccessibilityStatusFull,
        "partial" => InfoText::AccessibilityStatusPartial,
        "none" => InfoText::AccessibilityStatusNone,
        _ => InfoText::AccessibilityStatusUnknown,
    };
    let statement_date = NaiveDate::parse_from_str(&city.accessibility_statement_date, "%Y-%m-%d").ok();
    let title = info(lang, InfoText::AccessibilityTitle);
    let body = html! {
        h1 { (title) }
        // After sending: the thanks first thing on the page.
        @if form.sent {
            div.notice role="status" { p { (info(lang, InfoText::AccessibilityFeedbackSent)) } }
        }
        (example_notice(lang, city))
        p { (info(lang, InfoText::AccessibilityIntro)) }
        h2 { (info(lang, InfoText::AccessibilityProvider)) }
        (city_details(lang, &[
            (InfoText::InfoLabelName, &city.name),
            (InfoText::InfoLabelOffice, &city.office),
        ], &city.address))
        h2 { (info(lang, InfoText::AccessibilityStatusHeading)) }
        p { (info(lang, status)) }
        h2 { (info(lang, InfoText::AccessibilityLimitsHeading)) }
        (line_list(lang, InfoText::AccessibilityLimitsList))
        h2 { (info(lang, InfoText::AccessibilityMethodHeading)) }
        p { (info(lang, InfoText::AccessibilityMethod)) }
        @if let Some(date) = statement_date {
            p {
                (info(lang, InfoText::AccessibilityDateLabel)) ": "
                time datetime=(date.format("%Y-%m-%d")) { (calendar_date(lang, date)) }
            }
        }
        h2 #feedback { (info(lang, InfoText::AccessibilityFeedbackHeading)) }
        (feedback_form(ctx, form))
        @if !(city.email.is_empty() && city.phone.is_empty()) {
            p { (info(lang, InfoText::AccessibilityFeedbackOtherWays)) }
            (city_details(lang, &[(InfoText::InfoLabelEmail, &city.email), (InfoText::InfoLabelPhone, &city.phone)], &[]))
        }
        h2 { (info(lang, InfoText::AccessibilityEnforcementHeading)) }
        p { (info(lang, InfoText::AccessibilityEnforcementText)) }
        @if city.enforcement_url.is_empty() && city.enforcement_body.is_empty() {
            p { (info(lang, InfoText::InfoNotConfigured)) }
        } @else {
            p { (external_link(&city.enforcement_url, &city.enforcement_body)) }
        }
    };
    let title =
        if form.errors.is_empty() { title.to_owned() } else { format!("{}: {title}", t(lang, Msg::ErrorTitlePrefix)) };
    layout(ctx, &title, body)
}

fn feedback_form(ctx: &PageContext, form: &FeedbackForm) -> Markup {
    let lang = ctx.lang;
    let error_of =
        |field: &str| form.errors.iter().find(|(name, _)| *name == field).map(|(_, message)| message.as_str());
    let summary: Vec<ErrorSummaryEntry<'_>> = form
        .errors
        .iter()
        .map(|(field, message)| {
            let (id, label) = match *field {
                "contact" => (FEEDBACK_CONTACT_ID, InfoText::AccessibilityFeedbackContact),
                _ => (FEEDBACK_MESSAGE_ID, InfoText::AccessibilityFeedbackMessage),
            };
            ErrorSummaryEntry { target: Some(format!("#{id}")), label: info(lang, label), message }
        })
        .collect();
    html! {
        p { (info(lang, InfoText::AccessibilityFeedbackIntro)) }
        @if !summary.is_empty() {
            (error_summary(lang, &summary))
        }
        form.feedback-form method="post" action="/accessibility/feedback" novalidate {
            (feedback_field(lang, FEEDBACK_MESSAGE_ID, "message", InfoText::AccessibilityFeedbackMessage,
                InfoText::AccessibilityFeedbackMessageHint, &form.message, error_of("message"), true))
            (feedback_field(lang, FEEDBACK_CONTACT_ID, "contact", InfoText::AccessibilityFeedbackContact,
                InfoText::AccessibilityFeedbackContactHint, &form.contact, error_of("contact"), false))
            input type="hidden" name="lang" value=(lang_code(lang));
            div.form-actions {
                button.button type="submit" { (info(lang, InfoText::AccessibilityFeedbackSend)) }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn feedback_field(
    lang: Lang,
    id: &str,
    name: &str,
    label: InfoText,
    hint: InfoText,
    value: &str,
    error: Option<&str>,
    multi_line: bool,
) -> Markup {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let described_by = described_by(Some(&hint_id), error.is_some().then_some(&error_id));
    let invalid = error.is_some().then_some("true");
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (info(lang, label)) }
            p.hint id=(hint_id) { (info(lang, hint)) }
            @if let Some(error) = error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            @if multi_line {
                textarea id=(id) name=(name) rows="8" aria-invalid=[invalid] aria-describedby=[described_by.as_deref()] {
                    (value)
                }
            } @else {
                input type="text" id=(id) name=(name) value=(value) autocomplete="email"
                    aria-invalid=[invalid] aria-describedby=[described_by.as_deref()];
            }
        }
    }
}

/// `GET /easy-read`: tresor in Leichte Sprache (German) or easy read
/// (English): one idea per line.
pub fn easy_read_page(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let sections = [
        (InfoText::EasyReadWhatHeading, InfoText::EasyReadWhat),
        (InfoText::EasyReadUseHeading, InfoText::EasyReadUse),
        (InfoText::EasyReadWhoHeading, InfoText::EasyReadWho),
        (InfoText::EasyReadLoginHeading, InfoText::EasyReadLogin),
        (InfoText::EasyReadDeleteHeading, InfoText::EasyReadDelete),
        (InfoText::EasyReadHelpHeading, InfoText::EasyReadHelp),
    ];
    let body = html! {
        div.easy-read {
            h1 { (info(lang, InfoText::EasyReadTitle)) }
            p { (info(lang, InfoText::EasyReadIntro)) }
            @for (heading, lines) in sections {
                h2 { (info(lang, heading)) }
                @for line in info_lines(lang, lines) {
                    p { (line) }
                }
            }
            p { a href="/contact" { (info(lang, InfoText::EasyReadContactLink)) } }
        }
    };
    layout(ctx, info(lang, InfoText::EasyReadTitle), body)
}

/// `GET /sign-language`: the city's video in German Sign Language (a link;
/// tresor hosts no video).
pub fn sign_language_page(ctx: &PageContext, city: &CityConfig) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (info(lang, InfoText::SignLanguageTitle)) }
        (example_notice(lang, city))
        p { (info(lang, InfoText::SignLanguageIntro)) }
        @if city.sign_language_video_url.is_empty() {
            p { (info(lang, InfoText::SignLanguageNoVideo)) }
        } @else {
            p {
                a.button href=(city.sign_language_video_url) { (info(lang, InfoText::SignLanguageVideoLink)) }
            }
            p.hint { (info(lang, InfoText::SignLanguageVideoNote)) }
        }
    };
    layout(ctx, info(lang, InfoText::SignLanguageTitle), body)
}

/// `GET /privacy`: the privacy notice (GDPR Art. 13).
pub fn privacy_page(ctx: &PageContext, city: &CityConfig, retention: RetentionFacts) -> Markup {
    let lang = ctx.lang;
    let dpo_address = if city.dpo_address.is_empty() { &city.address } else { &city.dpo_address };
    let retention_days = u32::try_from(retention.audit_retention_days).unwrap_or(u32::MAX);
    let body = html! {
        h1 { (info(lang, InfoText::PrivacyTitle)) }
        (example_notice(lang, city))
        p { (info(lang, InfoText::PrivacyIntro)) }
        h2 { (info(lang, InfoText::PrivacyControllerHeading)) }
        (city_details(lang, &[
            (InfoText::InfoLabelName, &city.name),
            (InfoText::InfoLabelOffice, &city.office),
            (InfoText::InfoLabelEmail, &city.email),
            (InfoText::InfoLabelPhone, &city.phone),
        ], &city.address))
        h2 { (info(lang, InfoText::PrivacyDpoHeading)) }
        p { (info(lang, InfoText::PrivacyDpoIntro)) }
        (city_details(lang, &[
            (InfoText::PrivacyDpoHeading, &city.dpo_name),
            (InfoText::InfoLabelEmail, &city.dpo_email),
        ], if city.dpo_name.is_empty() && city.dpo_email.is_empty() { &[] } else { dpo_address }))
        h2 { (info(lang, InfoText::PrivacyPurposesHeading)) }
        (line_list(lang, InfoText::PrivacyPurposesList))
        h2 { (info(lang, InfoText::PrivacyLegalHeading)) }
        (line_list(lang, InfoText::PrivacyLegalList))
        h2 { (info(lang, InfoText::PrivacyRecipientsHeading)) }
        (line_list(lang, InfoText::PrivacyRecipientsList))
        @if !city.processor.is_empty() {
            p { (info(lang, InfoText::PrivacyProcessorLabel)) ": " (city.processor) }
        }
        h2 { (info(lang, InfoText::PrivacyRetentionHeading)) }
        ul {
            li { (info(lang, InfoText::PrivacyRetentionEvidence)) }
            li { (info(lang, InfoText::PrivacyRetentionLog)) ": " (i18n::days(lang, retention_days)) }
            li { (i18n::privacy_retention_session(lang, retention.session_idle_seconds, retention.session_absolute_seconds)) }
        }
        h2 { (info(lang, InfoText::PrivacyRightsHeading)) }
        (line_list(lang, InfoText::PrivacyRightsList))
        p { a href="/account/data" { (info(lang, InfoText::PrivacyMyDataLink)) } }
        h2 { (info(lang, InfoText::PrivacyComplaintHeading)) }
        p { (info(lang, InfoText::PrivacyComplaintText)) }
        @if city.supervisory_authority.is_empty() && city.supervisory_authority_url.is_empty() {
            p { (info(lang, InfoText::InfoNotConfigured)) }
        } @else {
            p { (external_link(&city.supervisory_authority_url, &city.supervisory_authority)) }
        }
        h2 { (info(lang, InfoText::PrivacyVoluntaryHeading)) }
        p { (info(lang, InfoText::PrivacyVoluntaryText)) }
        h2 { (info(lang, InfoText::PrivacyCookiesHeading)) }
        p { (info(lang, InfoText::PrivacyCookiesText)) }
    };
    layout(ctx, info(lang, InfoText::PrivacyTitle), body)
}

/// `GET /imprint`: the Impressum (DDG § 5, MStV § 18).
pub fn imprint_page(ctx: &PageContext, city: &CityConfig) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (info(lang, InfoText::ImprintTitle)) }
        (example_notice(lang, city))
        h2 { (info(lang, InfoText::ImprintProviderHeading)) }
        (city_details(lang, &[
            (InfoText::InfoLabelName, &city.name),
            (InfoText::InfoLabelOffice, &city.office),
            (InfoText::ImprintRepresentative, &city.representative),
            (InfoText::ImprintVatId, &city.vat_id),
            (InfoText::ImprintContentResponsible, &city.content_responsible),
        ], &city.address))
        h2 { (info(lang, InfoText::ImprintContactHeading)) }
        (city_details(lang, &[(InfoText::InfoLabelPhone, &city.phone), (InfoText::InfoLabelEmail, &city.email)], &[]))
    };
    layout(ctx, info(lang, InfoText::ImprintTitle), body)
}

/// `GET /contact`: how to reach the city, its DPO, and the barrier form.
pub fn contact_page(ctx: &PageContext, city: &CityConfig) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (info(lang, InfoText::ContactTitle)) }
        (example_notice(lang, city))
        p { (info(lang, InfoText::ContactIntro)) }
        (city_details(lang, &[
            (InfoText::InfoLabelName, &city.name),
            (InfoText::InfoLabelOffice, &city.office),
            (InfoText::InfoLabelPhone, &city.phone),
            (InfoText::InfoLabelEmail, &city.email),
            (InfoText::InfoLabelHours, &city.hours),
        ], &city.address))
        h2 { (info(lang, InfoText::ContactDpoHeading)) }
        (city_details(lang, &[
            (InfoText::PrivacyDpoHeading, &city.dpo_name),
            (InfoText::InfoLabelEmail, &city.dpo_email),
        ], &[]))
        h2 { (info(lang, InfoText::ContactAccessibilityHeading)) }
        p { a href="/accessibility#feedback" { (info(lang, InfoText::ContactAccessibilityLink)) } }
    };
    layout(ctx, info(lang, InfoText::ContactTitle), body)
}

/// Marks every detail as an example (dev mode's `[city]`).
fn example_notice(lang: Lang, city: &CityConfig) -> Markup {
    html! {
        @if city.example {
            p.example-notice role="note" { strong { (info(lang, InfoText::InfoExampleNotice)) } }
        }
    }
}

/// The details the city entered as a list of (label, value), the address
/// lines last; empty values are left out; nothing at all says so. E-mail
/// addresses become `mailto:` links, telephone numbers `tel:` links.
fn city_details(lang: Lang, items: &[(InfoText, &String)], address: &[String]) -> Markup {
    let items: Vec<&(InfoText, &String)> = items.iter().filter(|(_, value)| !value.trim().is_empty()).collect();
    let address: Vec<&String> = address.iter().filter(|line| !line.trim().is_empty()).collect();
    html! {
        @if items.is_empty() && address.is_empty() {
            p { (info(lang, InfoText::InfoNotConfigured)) }
        } @else {
            dl.details {
                @for (label, value) in items {
                    div {
                        dt { (info(lang, *label)) }
                        dd {
                            @match label {
                                InfoText::InfoLabelEmail => a href=(format!("mailto:{value}")) { (value) },
                                InfoText::InfoLabelPhone => a href=(format!("tel:{}", phone_href(value))) { (value) },
                                _ => (value),
                            }
                        }
                    }
                }
                @if !address.is_empty() {
                    div {
                        dt { (info(lang, InfoText::InfoLabelAddress)) }
                        dd { @for (index, line) in address.iter().enumerate() { @if index > 0 { br; } (line) } }
                    }
                }
            }
        }
    }
}

/// A calendar day in the language's format (noon UTC is that day in Germany).
fn calendar_date(lang: Lang, date: NaiveDate) -> String {
    date.and_hms_opt(12, 0, 0).map_or_else(|| date.to_string(), |noon| i18n::format_date(lang, noon.and_utc()))
}

/// `+49 1234 56789-0` as `+491234567890`.
fn phone_href(number: &str) -> String {
    number.chars().filter(|c| c.is_ascii_digit() || *c == '+').collect()
}

/// A text whose lines are separate ideas, as a list.
fn line_list(lang: Lang, text: InfoText) -> Markup {
    html! { ul { @for line in info_lines(lang, text) { li { (line) } } } }
}

/// A configured link (`url`, checked as http(s) at load) named by `name`,
/// or the name alone, or the address alone.
fn external_link(url: &str, name: &str) -> Markup {
    let words = if name.is_empty() { url } else { name };
    html! {
        @if url.is_empty() { (words) } @else { a href=(url) { (words) } }
    }
}
