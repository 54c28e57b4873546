//! "My data" (GDPR Art. 15 and 20): the page that offers the download, and
//! the readable summary inside the archive.

use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, html};

use super::{PageContext, csrf_input, layout};
use crate::http::i18n::{self, Msg, lang_code, t};
use crate::policy::Lang;

/// What the download holds, and the button that starts it.
pub fn my_data_page(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::MyDataTitle)) }
        p { (t(lang, Msg::MyDataIntro)) }
        ul {
            li { (t(lang, Msg::MyDataEvidence)) }
            li { (t(lang, Msg::MyDataGrants)) }
            li { (t(lang, Msg::MyDataLog)) }
        }
        p { (t(lang, Msg::MyDataFormats)) }
        p { (t(lang, Msg::MyDataAudited)) }
        form method="post" action="/account/data" {
            (csrf_input(ctx))
            div.form-actions {
                button type="submit" { (t(lang, Msg::MyDataButton)) }
                a href="/evidence" { (t(lang, Msg::BackToList)) }
            }
        }
    };
    layout(ctx, t(lang, Msg::MyDataTitle), body)
}

/// One evidence in the summary: its type, when it was stored, its values
/// (label and value, formatted) and its file's path in the archive.
pub struct SummaryEvidence {
    pub type_name: String,
    pub created_at: DateTime<Utc>,
    pub fields: Vec<(String, String)>,
    /// (name shown, path in the archive).
    pub file: Option<(String, String)>,
}

/// One grant in the summary.
pub struct SummaryGrant {
    pub department_name: String,
    pub service_name: String,
    pub fields: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub uses: u32,
    pub max_uses: u32,
    pub revoked: bool,
}

/// `summary.html` in the archive: a standalone page (no stylesheet, no
/// links out) that a person can open on any device.
pub fn my_data_summary(
    lang: Lang,
    exported_at: DateTime<Utc>,
    evidence: &[SummaryEvidence],
    not_included: &[(String, DateTime<Utc>)],
    grants: &[SummaryGrant],
) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang_code(lang)) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (t(lang, Msg::SummaryTitle)) }
            }
            body {
                main {
                    h1 { (t(lang, Msg::SummaryTitle)) }
                    p { (t(lang, Msg::SummaryExportedAt)) " " (i18n::format_date_time(lang, exported_at)) }
                    h2 { (t(lang, Msg::NavMyEvidence)) }
                    @if evidence.is_empty() {
                        p { (t(lang, Msg::EvidenceListEmpty)) }
                    }
                    @for item in evidence {
                        section {
                            h3 { (item.type_name) ", " (i18n::format_date(lang, item.created_at)) }
                            dl {
                                @for (label, value) in &item.fields {
                                    dt { (label) }
                                    dd { (value) }
                                }
                            }
                            @if let Some((name, path)) = &item.file {
                                p { (t(lang, Msg::FileHeading)) ": " a href=(path) { (name) } }
                            }
                        }
                    }
                    @if !not_included.is_empty() {
                        p { (t(lang, Msg::SummaryNotIncluded)) }
                        ul {
                            @for (type_name, created_at) in not_included {
                                li { (type_name) ", " (i18n::format_date(lang, *created_at)) }
                            }
                        }
                    }
                    h2 { (t(lang, Msg::GrantsTitle)) }
                    @if grants.is_empty() {
                        p { (t(lang, Msg::GrantsEmpty)) }
                    }
                    @for grant in grants {
                        section {
                            h3 { (grant.department_name) ": " (grant.service_name) }
                            p { (t(lang, Msg::GrantsFields)) ": " (grant.fields.join(", ")) }
                            p {
                                (t(lang, Msg::GrantsGivenOn)) " " (i18n::format_date(lang, grant.created_at)) ". "
                                (t(lang, Msg::GrantsValidUntil)) " " (i18n::format_date(lang, grant.expires_at)) ". "
                                (t(lang, Msg::GrantsUses)) ": " (i18n::uses_of(lang, grant.uses, grant.max_uses)) "."
                                @if grant.revoked { " " (t(lang, Msg::GrantStatusRevoked)) "." }
                            }
                        }
                    }
                    h2 { (t(lang, Msg::AccessLogTitle)) }
                    p { (t(lang, Msg::SummaryLog)) }
                }
            }
        }
    }
}
