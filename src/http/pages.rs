//! The HTML pages citizens see: pure functions from plain data to
//! `maud::Markup`, all sharing one layout. No I/O, no extractors, and no
//! JavaScript: every page works as plain HTML forms and links on old devices.
//!
//! All user-supplied text goes through maud's escaping; nothing here uses
//! `PreEscaped`.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, html};

use crate::http::i18n::{self, ALL_LANGS, Msg, lang_code, t};
use crate::policy::Lang;

/// The stylesheet served at `/static/style.css`.
pub const STYLESHEET: &str = include_str!("style.css");

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
            .finish()
    }
}

/// One identity provider on the start page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerChoice {
    /// Sent as `?issuer=NAME` to `/login`.
    pub name: String,
    pub label: String,
}

/// A test login in development mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersonaChoice {
    pub id: String,
    pub display_name: String,
    pub level_label: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceListItem {
    pub id: String,
    pub type_name: String,
    pub created_at: DateTime<Utc>,
    pub has_file: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeChoice {
    pub id: String,
    pub name: String,
    /// Shows a note that this type needs login level "high".
    pub needs_higher_level: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadForm {
    pub type_id: String,
    pub type_name: String,
    pub file_allowed: bool,
    pub max_upload_bytes: u64,
    pub fields: Vec<FormField>,
    pub file_error: Option<String>,
    /// Where to go after the upload (a consent page that asked for it).
    pub return_to: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormField {
    /// The field's name in the evidence type. The input is named
    /// `field.<name>`, the multipart part the upload parser expects.
    pub name: String,
    pub label: String,
    pub kind: FormFieldKind,
    pub required: bool,
    /// What the citizen entered last time (shown again after an error).
    pub value: String,
    pub error: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FormFieldKind {
    Text {
        max_length: usize,
    },
    Date,
    Money,
    Integer {
        min: i64,
        max: i64,
    },
    /// `(value, label)` pairs.
    Enum {
        options: Vec<(String, String)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceDetail {
    pub id: String,
    pub type_name: String,
    pub created_at: DateTime<Utc>,
    /// `(label, value)` pairs, already formatted for display.
    pub fields: Vec<(String, String)>,
    pub file: Option<FileInfo>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileInfo {
    pub name: String,
    pub media_type: String,
    pub size: u64,
}

/// What tresor is, and one login button per identity provider.
pub fn start_page(ctx: &PageContext, issuers: &[IssuerChoice]) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::StartTitle)) }
        p { (t(lang, Msg::StartIntroWhat)) }
        p { (t(lang, Msg::StartIntroEncrypted)) }
        @if ctx.logged_in {
            p { (t(lang, Msg::LoggedInStatus)) }
            ul.button-list {
                li { a.button href="/evidence" { (t(lang, Msg::GoToMyEvidence)) } }
                li { a href="/grants" { (t(lang, Msg::GoToMyGrants)) } }
            }
        } @else {
            p { (t(lang, Msg::StartIntroLogin)) }
            h2 { (t(lang, Msg::LoginHeading)) }
            @if issuers.is_empty() {
                p { (t(lang, Msg::LoginUnavailable)) }
            } @else {
                ul.button-list {
                    @for issuer in issuers {
                        li {
                            a.button href=(login_href(&issuer.name)) {
                                (t(lang, Msg::LoginWithOnlineId))
                                " (" (issuer.label) ")"
                            }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, t(lang, Msg::StartTitle), body)
}

/// The citizen's stored evidence as a table, or a short empty-state text.
pub fn evidence_list_page(ctx: &PageContext, items: &[EvidenceListItem], notice: Option<&str>) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::EvidenceListTitle)) }
        @if let Some(notice) = notice {
            div.notice role="status" { p { (notice) } }
        }
        p { a.button href="/evidence/new" { (t(lang, Msg::AddEvidence)) } }
        @if items.is_empty() {
            p.empty-state { (t(lang, Msg::EvidenceListEmpty)) }
        } @else {
            table.evidence-table {
                caption { (t(lang, Msg::EvidenceTableCaption)) }
                thead {
                    tr {
                        th scope="col" { (t(lang, Msg::ColumnType)) }
                        th scope="col" { (t(lang, Msg::ColumnStoredOn)) }
                        th scope="col" { (t(lang, Msg::ColumnFile)) }
                    }
                }
                tbody {
                    @for item in items {
                        tr {
                            th scope="row" {
                                a href=(evidence_href(&item.id, "")) { (item.type_name) }
                            }
                            td { (date_element(lang, item.created_at)) }
                            td {
                                @if item.has_file {
                                    (t(lang, Msg::HasFileYes))
                                } @else {
                                    (t(lang, Msg::HasFileNo))
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, t(lang, Msg::EvidenceListTitle), body)
}

/// Step 1 of adding evidence: a GET form with one radio button per type.
pub fn choose_type_page(ctx: &PageContext, types: &[TypeChoice]) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::ChooseTypeTitle)) }
        @if types.is_empty() {
            p { (t(lang, Msg::NoTypesAvailable)) }
            p { a href="/evidence" { (t(lang, Msg::BackToList)) } }
        } @else {
            form method="get" action="/evidence/new" {
                fieldset {
                    legend { (t(lang, Msg::ChooseTypeLegend)) }
                    // Index-based ids: type ids may contain characters that
                    // are not valid in an HTML id.
                    @for (index, choice) in types.iter().enumerate() {
                        @let input_id = format!("type-{index}");
                        @let note_id = format!("type-{index}-note");
                        div.choice {
                            input type="radio" id=(input_id) name="type" value=(choice.id) required
                                aria-describedby=[choice.needs_higher_level.then_some(&note_id)];
                            label for=(input_id) { (choice.name) }
                            @if choice.needs_higher_level {
                                p.hint id=(note_id) { (t(lang, Msg::NeedsHigherLevel)) }
                            }
                        }
                    }
                }
                div.form-actions {
                    button type="submit" { (t(lang, Msg::Continue)) }
                    a href="/evidence" { (t(lang, Msg::Cancel)) }
                }
            }
        }
    };
    layout(ctx, t(lang, Msg::ChooseTypeTitle), body)
}

/// Step 2 of adding evidence: the fields of one type and the optional file.
/// After a failed submission the same form comes back with an error summary
/// at the top and each error next to its field.
pub fn upload_form_page(ctx: &PageContext, form: &UploadForm) -> Markup {
    let lang = ctx.lang;
    let mut errors: Vec<ErrorSummaryEntry<'_>> = form
        .fields
        .iter()
        .filter_map(|field| {
            field.error.as_deref().map(|message| ErrorSummaryEntry {
                target: Some(format!("#{}", field_id(&field.name))),
                label: &field.label,
                message,
            })
        })
        .collect();
    if let Some(message) = form.file_error.as_deref() {
        errors.push(ErrorSummaryEntry {
            target: form.file_allowed.then(|| format!("#{FILE_INPUT_ID}")),
            label: t(lang, Msg::FileLabel),
            message,
        });
    }
    let heading = format!("{}: {}", t(lang, Msg::AddEvidence), form.type_name);
    let title = if errors.is_empty() {
        heading.clone()
    } else {
        // Without JavaScript focus cannot move to the summary; the title is
        // the first thing a screen reader announces.
        format!("{}: {heading}", t(lang, Msg::ErrorTitlePrefix))
    };
    let any_required = form.fields.iter().any(|field| field.required);
    let body = html! {
        @if !errors.is_empty() {
            (error_summary(lang, &errors))
        }
        h1 { (heading) }
        p {
            (t(lang, Msg::UploadIntro))
            @if any_required {
                " " (t(lang, Msg::RequiredExplanation))
            }
        }
        form method="post" action="/evidence" enctype="multipart/form-data" {
            (csrf_input(ctx))
            input type="hidden" name="type" value=(form.type_id);
            @if let Some(return_to) = &form.return_to {
                input type="hidden" name="return_to" value=(return_to);
            }
            @for field in &form.fields {
                (form_field(lang, field))
            }
            @if form.file_allowed {
                (file_field(lang, form))
            }
            div.form-actions {
                button type="submit" { (t(lang, Msg::SaveEvidence)) }
                a href="/evidence" { (t(lang, Msg::Cancel)) }
            }
        }
    };
    layout(ctx, &title, body)
}

/// One stored evidence: its fields, its file, and the way to delete it.
pub fn evidence_detail_page(ctx: &PageContext, detail: &EvidenceDetail) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (detail.type_name) }
        p { (t(lang, Msg::StoredOn)) " " (date_element(lang, detail.created_at)) }
        h2 { (t(lang, Msg::DetailsHeading)) }
        @if detail.fields.is_empty() {
            p { (t(lang, Msg::NoDetails)) }
        } @else {
            dl.details {
                @for (label, value) in &detail.fields {
                    div {
                        dt { (label) }
                        dd { (value) }
                    }
                }
            }
        }
        h2 { (t(lang, Msg::FileHeading)) }
        @match &detail.file {
            Some(file) => {
                p {
                    a href=(evidence_href(&detail.id, "/file")) {
                        (t(lang, Msg::DownloadFile)) ": " (file.name)
                        " (" (media_type_label(&file.media_type)) ", "
                        (i18n::format_bytes(lang, file.size)) ")"
                    }
                }
            }
            None => {
                p { (t(lang, Msg::NoFile)) }
            }
        }
        div.page-actions {
            a.button.button-warning href=(evidence_href(&detail.id, "/delete")) {
                (t(lang, Msg::DeleteEvidence))
            }
            a href="/evidence" { (t(lang, Msg::BackToList)) }
        }
    };
    layout(ctx, &detail.type_name, body)
}

/// Asks once more before deleting one evidence for good.
pub fn delete_confirm_page(ctx: &PageContext, id: &str, type_name: &str) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::DeleteConfirmTitle)) }
        p { (t(lang, Msg::DeleteConfirmWhich)) " " strong { (type_name) } }
        div.warning-text {
            p { strong { (t(lang, Msg::CannotBeUndone)) } }
            p { (t(lang, Msg::DeleteGoneForGood)) }
        }
        form method="post" action=(evidence_href(id, "/delete")) {
            (csrf_input(ctx))
            div.form-actions {
                button.button-warning type="submit" { (t(lang, Msg::DeleteForGood)) }
                a href=(evidence_href(id, "")) { (t(lang, Msg::KeepIt)) }
            }
        }
    };
    layout(ctx, t(lang, Msg::DeleteConfirmTitle), body)
}

/// Explains crypto-shredding in plain words and asks for an explicit
/// confirmation before erasing the whole account.
pub fn erase_account_page(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::EraseTitle)) }
        p { (t(lang, Msg::EraseKeyExplanation)) }
        p { (t(lang, Msg::EraseShredExplanation)) }
        div.warning-text {
            p { strong { (t(lang, Msg::CannotBeUndone)) } }
            p { (t(lang, Msg::EraseAfterwards)) }
        }
        form method="post" action="/account/erase" {
            (csrf_input(ctx))
            div.field.choice {
                input type="checkbox" id="confirm" name="confirm" value="yes" required;
                label for="confirm" {
                    (t(lang, Msg::EraseConfirmLabel))
                    " " span.required-marker { (t(lang, Msg::RequiredMarker)) }
                }
            }
            div.form-actions {
                button.button-warning type="submit" { (t(lang, Msg::EraseForGood)) }
                a href="/evidence" { (t(lang, Msg::Cancel)) }
            }
        }
    };
    layout(ctx, t(lang, Msg::EraseTitle), body)
}

/// Any error the handlers turn into a page; `title` and `message` are
/// already translated and plain-language.
pub fn error_page(ctx: &PageContext, status: u16, title: &str, message: &str) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (title) }
        p { (message) }
        p.error-code { (t(lang, Msg::ErrorCodeLabel)) " " (status) }
        ul.link-list {
            @if status == 401 && !ctx.logged_in {
                li { a.button href=(login_return_href(&ctx.current_path)) { (t(lang, Msg::LoginAgain)) } }
            }
            @if ctx.logged_in {
                li { a href="/evidence" { (t(lang, Msg::GoToMyEvidence)) } }
            }
            li { a href="/" { (t(lang, Msg::BackToStart)) } }
        }
    };
    layout(ctx, title, body)
}

/// Login link that comes back to `path` (a local path) afterwards.
fn login_return_href(path: &str) -> String {
    let local = if path.starts_with('/') && !path.starts_with("//") { path } else { "/evidence" };
    let encoded: String = url::form_urlencoded::byte_serialize(local.as_bytes()).collect();
    format!("/login?return_to={encoded}")
}

/// One row of the citizen's access log, already in words.
pub struct AccessLogItem {
    pub sequence: u64,
    pub time: DateTime<Utc>,
    pub who: String,
    pub what: String,
    pub result: String,
    /// Some(true): the inclusion proof verified against the checkpoint;
    /// Some(false): it did not; None: newer than the latest checkpoint.
    pub proof_ok: Option<bool>,
}

/// The citizen's access log, newest first; `older`: the link to the next
/// page of older entries, if there are any.
pub fn access_log_page(
    ctx: &PageContext,
    items: &[AccessLogItem],
    checkpoint_size: u64,
    older: Option<&str>,
) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::AccessLogTitle)) }
        p { (t(lang, Msg::AccessLogIntro)) }
        @if items.is_empty() {
            p { (t(lang, Msg::AccessLogEmpty)) }
        } @else {
            p { (t(lang, Msg::AccessLogCheckpoint)) " " (checkpoint_size) }
            div.table-wrap {
                table {
                    caption { (t(lang, Msg::AccessLogCaption)) }
                    thead {
                        tr {
                            th scope="col" { "#" }
                            th scope="col" { (t(lang, Msg::AccessLogWhen)) }
                            th scope="col" { (t(lang, Msg::AccessLogWho)) }
                            th scope="col" { (t(lang, Msg::AccessLogWhat)) }
                            th scope="col" { (t(lang, Msg::AccessLogResult)) }
                            th scope="col" { (t(lang, Msg::AccessLogProof)) }
                        }
                    }
                    tbody {
                        @for item in items {
                            tr {
                                td { (item.sequence) }
                                td { (i18n::format_date(lang, item.time)) " " (item.time.format("%H:%M")) " UTC" }
                                td { (item.who) }
                                td { (item.what) }
                                td { (item.result) }
                                td {
                                    @match item.proof_ok {
                                        Some(true) => { (t(lang, Msg::AccessLogProofOk)) }
                                        Some(false) => { strong { (t(lang, Msg::AccessLogProofFailed)) } }
                                        None => { (t(lang, Msg::AccessLogProofPending)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(older) = older {
                p { a href=(older) { (t(lang, Msg::AccessLogOlder)) } }
            }
        }
        p { (t(lang, Msg::AccessLogHowToCheck)) " " a href="/api/v1/audit/mine" { (t(lang, Msg::AccessLogJsonLink)) } }
    };
    layout(ctx, t(lang, Msg::AccessLogTitle), body)
}

pub fn logged_out_page(ctx: &PageContext) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::LoggedOutTitle)) }
        p { (t(lang, Msg::LoggedOutText)) }
        p { a.button href="/" { (t(lang, Msg::LoginAgain)) } }
    };
    layout(ctx, t(lang, Msg::LoggedOutTitle), body)
}

// --- consent to a department's request, and grants ---------------------------

/// Everything the consent page shows; texts already translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentView {
    pub request_id: String,
    pub department_name: String,
    pub service_name: String,
    pub purpose: String,
    pub legal_basis: String,
    pub reference: String,
    /// Until when the request can be answered.
    pub answer_until: DateTime<Utc>,
    /// Whether the service also releases the documents' files.
    pub releases_files: bool,
    pub documents: Vec<ConsentDocument>,
    pub max_duration_days: u32,
    /// Today plus the longest duration: the latest possible end.
    pub latest_end: DateTime<Utc>,
    pub duration_options: Vec<u32>,
    pub selected_duration: u32,
    pub uses_options: Vec<u32>,
    pub max_uses: u32,
    pub selected_uses: u32,
    /// A problem with the last submission, already in words.
    pub error: Option<ConsentError>,
}

/// A refused approval form: the message and where to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentError {
    pub message: String,
    /// `#id` of the control to fix, if there is one.
    pub target: Option<String>,
}

/// One evidence type the service reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentDocument {
    pub type_id: String,
    pub type_name: String,
    /// The fields of this type the service reads, as checkboxes.
    pub fields: Vec<ConsentField>,
    /// The citizen's documents of this type, newest first.
    pub candidates: Vec<ConsentCandidate>,
    /// "Do not share this document" is chosen.
    pub none_selected: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentField {
    /// `type.field`, the checkbox value.
    pub reference: String,
    pub label: String,
    pub checked: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentCandidate {
    pub evidence_id: String,
    pub created_at: DateTime<Utc>,
    /// `(label, value)` for each field of the type the service reads; None
    /// when the document does not have it.
    pub values: Vec<(String, Option<String>)>,
    /// The file that would go to the office too.
    pub file: Option<FileInfo>,
    pub selected: bool,
}

/// Why the citizen must log in again before seeing a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepUpView {
    pub department_name: String,
    pub service_name: String,
    pub required: crate::policy::LoginLevel,
    pub current: crate::policy::LoginLevel,
    /// `/login?level=...&return_to=/requests/...`
    pub login_href: String,
}

/// Why a request cannot be answered (any more).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestClosed {
    Expired,
    Answered,
    NotFound,
}

impl RequestClosed {
    pub fn status(self) -> u16 {
        match self {
            RequestClosed::Expired => 410,
            RequestClosed::Answered => 409,
            RequestClosed::NotFound => 404,
        }
    }
}

/// One grant on the grants page; texts already translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantItem {
    pub id: String,
    pub department_name: String,
    pub service_name: String,
    /// `(evidence type name, field labels)`.
    pub fields: Vec<(String, Vec<String>)>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub uses: u32,
    pub max_uses: u32,
    pub status: GrantStatusView,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantStatusView {
    Active,
    Expired,
    Revoked,
    UsedUp,
}

/// Which confirmation the grants page shows after a redirect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantsNotice {
    Approved,
    Denied,
    Revoked,
}

/// `/requests/{id}` with the id percent-encoded as a path segment.
pub fn request_href(id: &str) -> String {
    format!("/requests/{}", path_segment(id))
}

/// The consent page: who asks, why, on which legal basis; then one fieldset
/// per evidence type with the citizen's documents (and the very values that
/// would be released) as radio buttons and the fields as checkboxes; then
/// how long and how often; then approve or deny.
pub fn consent_page(ctx: &PageContext, view: &ConsentView) -> Markup {
    let lang = ctx.lang;
    let heading = i18n::consent_heading(lang, &view.department_name);
    let title = match &view.error {
        None => heading.clone(),
        Some(_) => format!("{}: {heading}", t(lang, Msg::ErrorTitlePrefix)),
    };
    let body = html! {
        @if let Some(error) = &view.error {
            (error_summary(lang, &[ErrorSummaryEntry {
                target: error.target.clone(),
                label: t(lang, Msg::ConsentChooseHeading),
                message: &error.message,
            }]))
        }
        h1 { (heading) }
        h2 { (t(lang, Msg::ConsentWhoHeading)) }
        dl.details {
            div { dt { (t(lang, Msg::ConsentDepartment)) } dd { (view.department_name) } }
            div { dt { (t(lang, Msg::ConsentService)) } dd { (view.service_name) } }
            div { dt { (t(lang, Msg::ConsentPurpose)) } dd { (view.purpose) } }
            div { dt { (t(lang, Msg::ConsentLegalBasis)) } dd { (view.legal_basis) } }
            div { dt { (t(lang, Msg::ConsentReference)) } dd { (view.reference) } }
            div { dt { (t(lang, Msg::ConsentAnswerUntil)) } dd { (date_time_element(lang, view.answer_until)) } }
        }
        p { strong { (t(lang, Msg::ConsentYouDecide)) } }
        form method="post" action=(request_href(&view.request_id)) {
            (csrf_input(ctx))
            h2 #consent-documents { (t(lang, Msg::ConsentChooseHeading)) }
            p { (t(lang, Msg::ConsentChooseIntro)) }
            @if view.releases_files {
                p { (t(lang, Msg::ConsentFilesShared)) }
            }
            @for (type_index, document) in view.documents.iter().enumerate() {
                (consent_document(lang, &view.request_id, type_index, document))
            }
            fieldset.consent-limits {
                legend { (t(lang, Msg::ConsentLimitsLegend)) }
                div.field {
                    label for="duration" { (t(lang, Msg::ConsentDurationLabel)) }
                    p.hint #duration-hint { (i18n::duration_hint(lang, view.max_duration_days, view.latest_end)) }
                    select #duration name="duration_days" aria-describedby="duration-hint" {
                        @for days in &view.duration_options {
                            option value=(days) selected[*days == view.selected_duration] { (i18n::days(lang, *days)) }
                        }
                    }
                }
                div.field {
                    label for="max-uses" { (t(lang, Msg::ConsentUsesLabel)) }
                    p.hint #max-uses-hint { (i18n::uses_hint(lang, view.max_uses)) }
                    select #max-uses name="max_uses" aria-describedby="max-uses-hint" {
                        @for uses in &view.uses_options {
                            option value=(uses) selected[*uses == view.selected_uses] { (i18n::times(lang, *uses)) }
                        }
                    }
                }
            }
            p { (t(lang, Msg::ConsentRevokeLater)) }
            div.form-actions {
                button type="submit" name="decision" value="approve" { (t(lang, Msg::ConsentApprove)) }
                button.button-secondary type="submit" name="decision" value="deny" { (t(lang, Msg::ConsentDeny)) }
            }
        }
    };
    layout(ctx, &title, body)
}

/// One evidence type on the consent page. Ids are index-based: type ids and
/// evidence ids are safe, but indexes keep the ids short and predictable.
fn consent_document(lang: Lang, request_id: &str, type_index: usize, document: &ConsentDocument) -> Markup {
    let radio_name = format!("doc.{}", document.type_id);
    html! {
        fieldset.consent-document {
            legend { (document.type_name) }
            @if document.candidates.is_empty() {
                p { (t(lang, Msg::ConsentNoDocument)) " " (t(lang, Msg::ConsentNoDocumentNothingShared)) }
                p {
                    a href=(format!(
                        "/evidence/new?type={}&return_to={}",
                        query_value(&document.type_id),
                        query_value(&request_href(request_id))
                    )) {
                        (t(lang, Msg::AddEvidence)) ": " (document.type_name)
                    }
                }
                p.hint { (t(lang, Msg::ConsentComeBack)) }
            } @else {
                fieldset.consent-choice {
                    legend { (t(lang, Msg::ConsentWhichDocument)) }
                    @for (candidate_index, candidate) in document.candidates.iter().enumerate() {
                        @let input_id = format!("doc-{type_index}-{candidate_index}");
                        @let values_id = format!("{input_id}-values");
                        div.choice {
                            input type="radio" id=(input_id) name=(radio_name) value=(candidate.evidence_id)
                                checked[candidate.selected] aria-describedby=(values_id);
                            label for=(input_id) { (i18n::document_from(lang, candidate.created_at)) }
                            div.consent-values id=(values_id) {
                                dl.details {
                                    @for (label, value) in &candidate.values {
                                        div {
                                            dt { (label) }
                                            dd {
                                                @match value {
                                                    Some(value) => { (value) }
                                                    None => { (t(lang, Msg::ConsentNotGiven)) }
                                                }
                                            }
                                        }
                                    }
                                }
                                @if let Some(file) = &candidate.file {
                                    p { (i18n::file_shared(lang, &file.name, media_type_label(&file.media_type), file.size)) }
                                }
                            }
                        }
                    }
                    @let none_id = format!("doc-{type_index}-none");
                    div.choice {
                        input type="radio" id=(none_id) name=(radio_name) value="none" checked[document.none_selected];
                        label for=(none_id) { (t(lang, Msg::ConsentDoNotShare)) }
                    }
                }
                fieldset.consent-choice {
                    legend { (t(lang, Msg::ConsentWhichDetails)) }
                    @for (field_index, field) in document.fields.iter().enumerate() {
                        @let input_id = format!("field-{type_index}-{field_index}");
                        div.choice {
                            input type="checkbox" id=(input_id) name="field" value=(field.reference)
                                checked[field.checked];
                            label for=(input_id) { (field.label) }
                        }
                    }
                }
            }
        }
    }
}

/// The service needs a higher login level than the session has: say so in
/// plain words and offer the login that reaches it. Shows no values.
pub fn step_up_page(ctx: &PageContext, view: &StepUpView) -> Markup {
    let lang = ctx.lang;
    let how = if view.required == crate::policy::LoginLevel::High { Msg::StepUpHowHigh } else { Msg::StepUpHowOther };
    let body = html! {
        h1 { (t(lang, Msg::StepUpTitle)) }
        p { (i18n::step_up_who(lang, &view.department_name, &view.service_name)) }
        p { (i18n::step_up_levels(lang, view.required, view.current)) }
        p { (t(lang, how)) }
        p { (t(lang, Msg::StepUpNoDataYet)) }
        p { a.button href=(view.login_href) { (t(lang, Msg::StepUpButton)) } }
    };
    layout(ctx, t(lang, Msg::StepUpTitle), body)
}

/// A request that is expired, already answered or unknown.
pub fn request_closed_page(ctx: &PageContext, closed: RequestClosed) -> Markup {
    let lang = ctx.lang;
    let (title, text) = match closed {
        RequestClosed::Expired => (Msg::RequestExpiredTitle, Msg::RequestExpiredText),
        RequestClosed::Answered => (Msg::RequestAnsweredTitle, Msg::RequestAnsweredText),
        RequestClosed::NotFound => (Msg::RequestNotFoundTitle, Msg::RequestNotFoundText),
    };
    let body = html! {
        h1 { (t(lang, title)) }
        p { (t(lang, text)) }
        p.error-code { (t(lang, Msg::ErrorCodeLabel)) " " (closed.status()) }
        ul.link-list {
            @if ctx.logged_in {
                li { a href="/grants" { (t(lang, Msg::GoToMyGrants)) } }
            }
            li { a href="/" { (t(lang, Msg::BackToStart)) } }
        }
    };
    layout(ctx, t(lang, title), body)
}

/// The citizen's grants, newest first, each with a "revoke now" button
/// while it is active.
pub fn grants_page(ctx: &PageContext, items: &[GrantItem], notice: Option<GrantsNotice>) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::GrantsTitle)) }
        @if let Some(notice) = notice {
            div.notice role="status" {
                p {
                    (t(lang, match notice {
                        GrantsNotice::Approved => Msg::GrantsNoticeApproved,
                        GrantsNotice::Denied => Msg::GrantsNoticeDenied,
                        GrantsNotice::Revoked => Msg::GrantsNoticeRevoked,
                    }))
                }
            }
        }
        p { (t(lang, Msg::GrantsIntro)) }
        @if items.is_empty() {
            p.empty-state { (t(lang, Msg::GrantsEmpty)) }
        } @else {
            ul.grant-list {
                @for (index, item) in items.iter().enumerate() {
                    @let heading_id = format!("grant-{index}");
                    li.grant {
                        h2 id=(heading_id) { (item.department_name) ": " (item.service_name) }
                        dl.details {
                            div {
                                dt { (t(lang, Msg::GrantsFields)) }
                                dd {
                                    ul.plain-list {
                                        @for (type_name, labels) in &item.fields {
                                            li { (type_name) ": " (labels.join(", ")) }
                                        }
                                    }
                                }
                            }
                            div { dt { (t(lang, Msg::GrantsGivenOn)) } dd { (date_element(lang, item.created_at)) } }
                            div { dt { (t(lang, Msg::GrantsValidUntil)) } dd { (date_element(lang, item.expires_at)) } }
                            div { dt { (t(lang, Msg::GrantsUses)) } dd { (i18n::uses_of(lang, item.uses, item.max_uses)) } }
                            div {
                                dt { (t(lang, Msg::GrantsStatus)) }
                                dd {
                                    strong {
                                        (t(lang, match item.status {
                                            GrantStatusView::Active => Msg::GrantStatusActive,
                                            GrantStatusView::Expired => Msg::GrantStatusExpired,
                                            GrantStatusView::Revoked => Msg::GrantStatusRevoked,
                                            GrantStatusView::UsedUp => Msg::GrantStatusUsedUp,
                                        }))
                                    }
                                }
                            }
                        }
                        @if item.status == GrantStatusView::Active {
                            form method="post" action=(format!("/grants/{}/revoke", path_segment(&item.id))) {
                                (csrf_input(ctx))
                                button.button-warning type="submit" aria-describedby=(heading_id) {
                                    (t(lang, Msg::GrantsRevokeNow))
                                }
                            }
                        }
                    }
                }
            }
        }
        // Every release shows up in the access log.
        p { a href="/access-log" { (t(lang, Msg::NavAccessLog)) } }
    };
    layout(ctx, t(lang, Msg::GrantsTitle), body)
}

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

// --- data-protection officers -------------------------------------------------

/// The filter values as the DPO typed them (shown again in the form).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DpoFilterValues {
    pub from: String,
    pub to: String,
    pub action: String,
    pub outcome: String,
    pub department: String,
    pub service: String,
    pub citizen: String,
}

/// One audit entry in the DPO's results table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoEntryRow {
    pub sequence: i64,
    pub time: DateTime<Utc>,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub action: String,
    pub outcome: String,
    pub subject: Option<String>,
    pub department: Option<String>,
    pub service: Option<String>,
    pub reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoQueryView {
    pub filter: DpoFilterValues,
    /// Every action name, for the select.
    pub actions: Vec<&'static str>,
    /// (parameter name, translated message) of a refused filter value.
    pub filter_error: Option<(String, String)>,
    pub rows: Vec<DpoEntryRow>,
    /// Link to the next page of results, if there is more.
    pub next_href: Option<String>,
    /// The filter as a query string (`action=...&...`), for the export links.
    pub export_query: String,
}

/// One bar of the statistics: accesses of one department in one month.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoStatsRow {
    /// Department id, or None for entries without one.
    pub department: Option<String>,
    /// `YYYY-MM` in German civil time.
    pub month: String,
    pub granted: u64,
    pub refused: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpoVerifyView {
    pub ok: bool,
    /// Plain sentences on what was checked (already translated).
    pub checked: Vec<String>,
    /// Plain sentences on what failed (already translated).
    pub problems: Vec<String>,
}

/// The DPO's query form and the matching entries.
pub fn dpo_query_page(ctx: &PageContext, view: &DpoQueryView) -> Markup {
    let lang = ctx.lang;
    let filter = &view.filter;
    let error_for = |name: &str| view.filter_error.as_ref().filter(|(param, _)| param == name).map(|(_, m)| m.clone());
    let body = html! {
        h1 { (t(lang, Msg::DpoQueryTitle)) }
        p { (t(lang, Msg::DpoQueryIntro)) }
        @if let Some((param, message)) = &view.filter_error {
            (error_summary(lang, &[ErrorSummaryEntry {
                target: Some(format!("#{}", dpo_filter_id(param))),
                label: t(lang, Msg::DpoFilterLegend),
                message,
            }]))
        }
        form.dpo-filter method="get" action="/dpo" {
            fieldset {
                legend { (t(lang, Msg::DpoFilterLegend)) }
                (dpo_text_filter(lang, "from", Msg::DpoFieldFrom, "date", &filter.from, error_for("from")))
                (dpo_text_filter(lang, "to", Msg::DpoFieldTo, "date", &filter.to, error_for("to")))
                (dpo_select_filter(lang, "action", Msg::DpoFieldAction,
                    &view.actions.iter().map(|a| ((*a).to_owned(), (*a).to_owned())).collect::<Vec<_>>(),
                    &filter.action, error_for("action")))
                (dpo_select_filter(lang, "outcome", Msg::DpoFieldOutcome, &[
                    ("success".to_owned(), t(lang, Msg::DpoOutcomeSuccess).to_owned()),
                    ("refused".to_owned(), t(lang, Msg::DpoOutcomeRefused).to_owned()),
                    ("failed".to_owned(), t(lang, Msg::DpoOutcomeFailed).to_owned()),
                ], &filter.outcome, error_for("outcome")))
                (dpo_text_filter(lang, "department", Msg::DpoFieldDepartment, "text", &filter.department, error_for("department")))
                (dpo_text_filter(lang, "service", Msg::DpoFieldService, "text", &filter.service, error_for("service")))
                (dpo_text_filter(lang, "citizen", Msg::DpoFieldCitizen, "text", &filter.citizen, error_for("citizen")))
            }
            input type="hidden" name="lang" value=(lang_code(lang));
            button.button type="submit" { (t(lang, Msg::DpoSearch)) }
        }
        @if view.filter_error.is_none() {
            @if view.rows.is_empty() {
                p.empty-state { (t(lang, Msg::DpoNoResults)) }
            } @else {
                div.table-scroll {
                    table.dpo-table {
                        caption { (t(lang, Msg::DpoResultsCaption)) }
                        thead {
                            tr {
                                th scope="col" { (t(lang, Msg::DpoColumnSequence)) }
                                th scope="col" { (t(lang, Msg::DpoColumnTime)) }
                                th scope="col" { (t(lang, Msg::DpoColumnActor)) }
                                th scope="col" { (t(lang, Msg::DpoFieldAction)) }
                                th scope="col" { (t(lang, Msg::DpoFieldOutcome)) }
                                th scope="col" { (t(lang, Msg::DpoColumnSubject)) }
                                th scope="col" { (t(lang, Msg::DpoFieldDepartment)) }
                                th scope="col" { (t(lang, Msg::DpoFieldService)) }
                                th scope="col" { (t(lang, Msg::DpoColumnReason)) }
                            }
                        }
                        tbody {
                            @for row in &view.rows {
                                tr {
                                    th scope="row" { (row.sequence) }
                                    td { (utc_time_element(row.time)) }
                                    td { (row.actor_kind) @if let Some(id) = &row.actor_id { " " code { (id) } } }
                                    td { (row.action) }
                                    td { (outcome_label(lang, &row.outcome)) }
                                    td { @if let Some(subject) = &row.subject { code { (subject) } } }
                                    td { (row.department.as_deref().unwrap_or_default()) }
                                    td { (row.service.as_deref().unwrap_or_default()) }
                                    td { (row.reason.as_deref().unwrap_or_default()) }
                                }
                            }
                        }
                    }
                }
                @if let Some(next) = &view.next_href {
                    p { a href=(next) { (t(lang, Msg::DpoNextPage)) } }
                }
            }
            h2 { (t(lang, Msg::DpoExportHeading)) }
            ul.link-list {
                li { a href=(format!("/dpo/export.csv?{}", view.export_query)) download { (t(lang, Msg::DpoExportCsv)) } }
                li { a href=(format!("/dpo/export.jsonl?{}", view.export_query)) download { (t(lang, Msg::DpoExportJsonl)) } }
            }
        }
    };
    layout(ctx, t(lang, Msg::DpoQueryTitle), dpo_frame(ctx, body))
}

/// Accesses per department and month: a bar chart (inline SVG, no script)
/// and the same numbers as a table.
pub fn dpo_stats_page(ctx: &PageContext, rows: &[DpoStatsRow]) -> Markup {
    let lang = ctx.lang;
    let department_label =
        |row: &DpoStatsRow| row.department.clone().unwrap_or_else(|| t(lang, Msg::DpoUnknownDepartment).to_owned());
    let body = html! {
        h1 { (t(lang, Msg::DpoStatsTitle)) }
        p { (t(lang, Msg::DpoStatsIntro)) }
        @if rows.is_empty() {
            p.empty-state { (t(lang, Msg::DpoStatsEmpty)) }
        } @else {
            (stats_chart(lang, rows, &department_label))
            div.table-scroll {
                table.dpo-stats-table {
                    caption { (t(lang, Msg::DpoStatsTableCaption)) }
                    thead {
                        tr {
                            th scope="col" { (t(lang, Msg::DpoFieldDepartment)) }
                            th scope="col" { (t(lang, Msg::DpoStatsColumnMonth)) }
                            th scope="col" { (t(lang, Msg::DpoStatsColumnGranted)) }
                            th scope="col" { (t(lang, Msg::DpoStatsColumnRefused)) }
                        }
                    }
                    tbody {
                        @for row in rows {
                            tr {
                                th scope="row" { (department_label(row)) }
                                td { (row.month) }
                                td.number { (row.granted) }
                                td.number { (row.refused) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(ctx, t(lang, Msg::DpoStatsTitle), dpo_frame(ctx, body))
}

/// What the verification recomputed, in plain words.
pub fn dpo_verify_page(ctx: &PageContext, view: &DpoVerifyView) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::DpoNavVerify)) }
        @if view.ok {
            div.notice role="status" { p { strong { (t(lang, Msg::DpoVerifyOk)) } } }
        } @else {
            div.error-summary role="alert" aria-labelledby="verify-problems" {
                h2 #verify-problems { (t(lang, Msg::DpoVerifyFailed)) }
                ul { @for problem in &view.problems { li { (problem) } } }
            }
        }
        h2 { (t(lang, Msg::DpoVerifyWhat)) }
        ul { @for sentence in &view.checked { li { (sentence) } } }
    };
    layout(ctx, t(lang, Msg::DpoNavVerify), dpo_frame(ctx, body))
}

/// An error on a staff page: like `error_page`, but the way back in is the
/// staff login, never the citizens' one.
pub fn dpo_error_page(ctx: &PageContext, status: u16, title: &str, message: &str, logged_in: bool) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (title) }
        p { (message) }
        p.error-code { (t(lang, Msg::ErrorCodeLabel)) " " (status) }
        ul.link-list {
            @if status == 401 {
                li { a.button href=(staff_login_href(&ctx.current_path)) { (t(lang, Msg::DpoStaffLogin)) } }
            }
            @if logged_in {
                li { a href="/dpo" { (t(lang, Msg::DpoNavQuery)) } }
            }
            li { a href="/" { (t(lang, Msg::BackToStart)) } }
        }
    };
    layout(ctx, title, body)
}

/// The staff navigation and status above a DPO page's content.
fn dpo_frame(ctx: &PageContext, content: Markup) -> Markup {
    let lang = ctx.lang;
    let current = path_without_query(&ctx.current_path);
    let links = [("/dpo", Msg::DpoNavQuery), ("/dpo/stats", Msg::DpoNavStats), ("/dpo/verify", Msg::DpoNavVerify)];
    html! {
        nav.main-nav aria-label=(t(lang, Msg::DpoNavLabel)) {
            ul {
                @for (href, msg) in links {
                    li { a href=(href) aria-current=[(current == href).then_some("page")] { (t(lang, msg)) } }
                }
                li {
                    form.inline-form method="post" action="/staff/logout" {
                        (csrf_input(ctx))
                        button.link-button type="submit" { (t(lang, Msg::DpoLogout)) }
                    }
                }
            }
        }
        p.login-status { (t(lang, Msg::DpoStaffStatus)) }
        (content)
    }
}

fn dpo_filter_id(name: &str) -> String {
    format!("dpo-filter-{}", field_id(name).trim_start_matches("field-"))
}

fn dpo_text_filter(lang: Lang, name: &str, label: Msg, kind: &str, value: &str, error: Option<String>) -> Markup {
    let id = dpo_filter_id(name);
    let error_id = format!("{id}-error");
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (t(lang, label)) }
            @if let Some(error) = &error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            input type=(kind) id=(id) name=(name) value=(value) maxlength="200"
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=[error.is_some().then_some(&error_id)];
        }
    }
}

fn dpo_select_filter(
    lang: Lang,
    name: &str,
    label: Msg,
    options: &[(String, String)],
    selected: &str,
    error: Option<String>,
) -> Markup {
    let id = dpo_filter_id(name);
    let error_id = format!("{id}-error");
    html! {
        div.field.field-has-error[error.is_some()] {
            label for=(id) { (t(lang, label)) }
            @if let Some(error) = &error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
            select id=(id) name=(name)
                aria-invalid=[error.is_some().then_some("true")]
                aria-describedby=[error.is_some().then_some(&error_id)] {
                option value="" { (t(lang, Msg::DpoAnyOption)) }
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
        }
    }
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

const CHART_WIDTH: usize = 720;
const CHART_LABEL_WIDTH: usize = 280;
const CHART_BAR_AREA: usize = 380;
const CHART_ROW_HEIGHT: usize = 28;

/// A horizontal bar chart of granted accesses. `role="img"` with a title and
/// a description makes it one image to screen readers; the table below
/// carries the same numbers for everyone.
fn stats_chart(lang: Lang, rows: &[DpoStatsRow], department_label: &dyn Fn(&DpoStatsRow) -> String) -> Markup {
    let max = rows.iter().map(|row| row.granted).max().unwrap_or(0).max(1);
    let height = rows.len() * CHART_ROW_HEIGHT + 8;
    let total: u64 = rows.iter().map(|row| row.granted).sum();
    html! {
        figure.dpo-chart {
            svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="stats-chart-title stats-chart-desc"
                viewBox=(format!("0 0 {CHART_WIDTH} {height}")) width="100%" {
                title #stats-chart-title { (t(lang, Msg::DpoStatsChartTitle)) }
                desc #stats-chart-desc { (i18n::stats_chart_summary(lang, rows.len(), total, max)) }
                @for (index, row) in rows.iter().enumerate() {
                    @let top = index * CHART_ROW_HEIGHT + 4;
                    // Bars scale to the largest month; a count of 0 has no bar.
                    @let width = usize::try_from(row.granted.saturating_mul(CHART_BAR_AREA as u64) / max).unwrap_or(CHART_BAR_AREA);
                    g.bar {
                        text x="0" y=(top + 18) fill="#1a1a1a" font-size="14" {
                            (department_label(row)) " · " (row.month)
                        }
                        rect x=(CHART_LABEL_WIDTH) y=(top + 4) width=(width) height="20" fill="#1f5fa8" {}
                        text.bar-value x=(CHART_LABEL_WIDTH + width + 6) y=(top + 18) fill="#1a1a1a" font-size="14" {
                            (row.granted)
                        }
                    }
                }
            }
        }
    }
}

fn staff_login_href(path: &str) -> String {
    let local = if path.starts_with("/dpo") && !path.starts_with("//") { path } else { "/dpo" };
    let encoded: String = url::form_urlencoded::byte_serialize(local.as_bytes()).collect();
    format!("/staff/login?return_to={encoded}")
}

const FILE_INPUT_ID: &str = "upload-file";
const ACCEPTED_FILE_TYPES: &str = ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg";

struct ErrorSummaryEntry<'a> {
    /// `#id` of the control to fix, if there is one on the page.
    target: Option<String>,
    label: &'a str,
    message: &'a str,
}

/// The one shared page frame: head, skip link, header with language switch
/// and navigation, `<main id=main>`, footer.
fn layout(ctx: &PageContext, title: &str, main_content: Markup) -> Markup {
    let lang = ctx.lang;
    html! {
        (DOCTYPE)
        html lang=(lang_code(lang)) {
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
                        (language_switch(ctx))
                    }
                    @if ctx.logged_in {
                        (main_navigation(ctx))
                    }
                }
                main #main tabindex="-1" {
                    (main_content)
                }
                footer.site-footer {
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
                FormFieldKind::Date => {
                    input type="date" id=(input_id) name=(input_name) value=(field.value)
                        required[field.required]
                        aria-invalid=[invalid] aria-describedby=[described_by.as_deref()];
                }
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
    let described_by = described_by(Some(&hint_id), form.file_error.is_some().then_some(&error_id));
    html! {
        div.field.field-has-error[form.file_error.is_some()] {
            label for=(FILE_INPUT_ID) { (t(lang, Msg::FileLabel)) }
            p.hint id=(hint_id) { (i18n::file_hint(lang, form.max_upload_bytes)) }
            @if let Some(error) = &form.file_error {
                p.field-error id=(error_id) { strong { (t(lang, Msg::ErrorLabel)) } " " (error) }
            }
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
    let without_fragment = current_path.split('#').next().unwrap_or_default();
    let (path, query) = without_fragment.split_once('?').unwrap_or((without_fragment, ""));
    let path = if super::session::is_local_path(path) { path } else { "/" };
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if key != "lang" {
            serializer.append_pair(&key, &value);
        }
    }
    serializer.append_pair("lang", lang_code(lang));
    format!("{path}?{}", serializer.finish())
}

fn path_without_query(current_path: &str) -> &str {
    current_path.split(['?', '#']).next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const TOKEN: &str = "csrf-token-4711";
    const EVIL: &str = "<script>alert(1)</script>";

    fn context(lang: Lang, dev_mode: bool, logged_in: bool) -> PageContext {
        PageContext {
            lang,
            dev_mode,
            logged_in,
            login_level_label: logged_in.then(|| "hoch".to_owned()),
            csrf_token: logged_in.then(|| TOKEN.to_owned()),
            current_path: "/evidence".to_owned(),
        }
    }

    fn date() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).single().expect("valid test date")
    }

    fn field(name: &str, kind: FormFieldKind, required: bool) -> FormField {
        FormField {
            name: name.to_owned(),
            label: format!("Label {name}"),
            kind,
            required,
            value: String::new(),
            error: None,
        }
    }

    fn upload_form() -> UploadForm {
        UploadForm {
            type_id: "income".to_owned(),
            type_name: "Einkommensnachweis".to_owned(),
            file_allowed: true,
            max_upload_bytes: 10_000_000,
            fields: vec![
                field("employer", FormFieldKind::Text { max_length: 120 }, true),
                field("valid_from", FormFieldKind::Date, true),
                field("net_income", FormFieldKind::Money, true),
                field("children", FormFieldKind::Integer { min: 0, max: 20 }, false),
                field(
                    "period",
                    FormFieldKind::Enum {
                        options: vec![
                            ("monthly".to_owned(), "Monatlich".to_owned()),
                            ("yearly".to_owned(), "Jährlich".to_owned()),
                        ],
                    },
                    false,
                ),
            ],
            file_error: None,
            return_to: None,
        }
    }

    fn upload_form_with_errors() -> UploadForm {
        let mut form = upload_form();
        form.fields[2].value = "abc".to_owned();
        form.fields[2].error = Some("Bitte einen Betrag eingeben.".to_owned());
        form.file_error = Some("Die Datei ist zu groß.".to_owned());
        form
    }

    fn detail() -> EvidenceDetail {
        EvidenceDetail {
            id: "ev-1".to_owned(),
            type_name: "Meldebescheinigung".to_owned(),
            created_at: date(),
            fields: vec![("Straße".to_owned(), "Hauptstraße 1".to_owned())],
            file: Some(FileInfo {
                name: "meldung.pdf".to_owned(),
                media_type: "application/pdf".to_owned(),
                size: 1_500_000,
            }),
        }
    }

    fn consent_view() -> ConsentView {
        ConsentView {
            request_id: "0123456789abcdef0123456789abcdef".to_owned(),
            department_name: "Wohngeldstelle".to_owned(),
            service_name: "Wohngeld".to_owned(),
            purpose: "Prüfung Ihres Antrags".to_owned(),
            legal_basis: "§ 23 WoGG".to_owned(),
            reference: "WG-2026-0815".to_owned(),
            answer_until: date(),
            releases_files: true,
            documents: vec![
                ConsentDocument {
                    type_id: "income_statement".to_owned(),
                    type_name: "Einkommensnachweis".to_owned(),
                    fields: vec![
                        ConsentField {
                            reference: "income_statement.net_monthly_income".to_owned(),
                            label: "Nettoeinkommen".to_owned(),
                            checked: true,
                        },
                        ConsentField {
                            reference: "income_statement.household_members".to_owned(),
                            label: "Personen im Haushalt".to_owned(),
                            checked: false,
                        },
                    ],
                    candidates: vec![
                        ConsentCandidate {
                            evidence_id: "aaaa0000aaaa0000aaaa0000aaaa0000".to_owned(),
                            created_at: date(),
                            values: vec![
                                ("Nettoeinkommen".to_owned(), Some("2100.50".to_owned())),
                                ("Personen im Haushalt".to_owned(), None),
                            ],
                            file: Some(FileInfo {
                                name: "lohn.pdf".to_owned(),
                                media_type: "application/pdf".to_owned(),
                                size: 70_000,
                            }),
                            selected: true,
                        },
                        ConsentCandidate {
                            evidence_id: "bbbb0000bbbb0000bbbb0000bbbb0000".to_owned(),
                            created_at: date() - chrono::Duration::days(40),
                            values: vec![("Nettoeinkommen".to_owned(), Some("1900.00".to_owned()))],
                            file: None,
                            selected: false,
                        },
                    ],
                    none_selected: false,
                },
                ConsentDocument {
                    type_id: "rent_certificate".to_owned(),
                    type_name: "Mietbescheinigung".to_owned(),
                    fields: vec![ConsentField {
                        reference: "rent_certificate.monthly_rent".to_owned(),
                        label: "Miete".to_owned(),
                        checked: true,
                    }],
                    candidates: Vec::new(),
                    none_selected: true,
                },
            ],
            max_duration_days: 90,
            latest_end: date() + chrono::Duration::days(90),
            duration_options: vec![7, 30, 60, 90],
            selected_duration: 90,
            uses_options: vec![1, 2, 3],
            max_uses: 3,
            selected_uses: 3,
            error: None,
        }
    }

    fn consent_view_with_error() -> ConsentView {
        let mut view = consent_view();
        view.error = Some(ConsentError {
            message: "Bitte wählen Sie eine Dauer.".to_owned(),
            target: Some("#duration".to_owned()),
        });
        view
    }

    fn step_up_view() -> StepUpView {
        StepUpView {
            department_name: "Straßenverkehrsbehörde".to_owned(),
            service_name: "Parkausweis".to_owned(),
            required: crate::policy::LoginLevel::High,
            current: crate::policy::LoginLevel::Substantial,
            login_href: "/login?level=high&return_to=%2Frequests%2Fabc".to_owned(),
        }
    }

    fn grant_items() -> Vec<GrantItem> {
        let active = GrantItem {
            id: "cccc0000cccc0000cccc0000cccc0000".to_owned(),
            department_name: "Wohngeldstelle".to_owned(),
            service_name: "Wohngeld".to_owned(),
            fields: vec![("Einkommensnachweis".to_owned(), vec!["Nettoeinkommen".to_owned(), "Zeitraum".to_owned()])],
            created_at: date(),
            expires_at: date() + chrono::Duration::days(90),
            uses: 1,
            max_uses: 3,
            status: GrantStatusView::Active,
        };
        let revoked = GrantItem {
            id: "dddd0000dddd0000dddd0000dddd0000".to_owned(),
            status: GrantStatusView::Revoked,
            ..active.clone()
        };
        vec![active, revoked]
    }

    /// Every page in a typical state, rendered with `ctx`.
    fn all_pages(ctx: &PageContext) -> Vec<(&'static str, String)> {
        let issuers = [IssuerChoice { name: "bund".to_owned(), label: "BundID".to_owned() }];
        let items = [EvidenceListItem {
            id: "ev-1".to_owned(),
            type_name: "Meldebescheinigung".to_owned(),
            created_at: date(),
            has_file: true,
        }];
        let types = [
            TypeChoice { id: "income".to_owned(), name: "Einkommen".to_owned(), needs_higher_level: false },
            TypeChoice { id: "residence".to_owned(), name: "Wohnsitz".to_owned(), needs_higher_level: true },
        ];
        vec![
            ("start", start_page(ctx, &issuers).into_string()),
            ("list", evidence_list_page(ctx, &items, Some("Gespeichert.")).into_string()),
            ("list-empty", evidence_list_page(ctx, &[], None).into_string()),
            ("choose-type", choose_type_page(ctx, &types).into_string()),
            ("upload", upload_form_page(ctx, &upload_form()).into_string()),
            ("upload-errors", upload_form_page(ctx, &upload_form_with_errors()).into_string()),
            ("detail", evidence_detail_page(ctx, &detail()).into_string()),
            ("delete", delete_confirm_page(ctx, "ev-1", "Meldebescheinigung").into_string()),
            ("erase", erase_account_page(ctx).into_string()),
            ("error", error_page(ctx, 404, "Nicht gefunden", "Diese Seite gibt es nicht.").into_string()),
            ("logged-out", logged_out_page(ctx).into_string()),
            ("consent", consent_page(ctx, &consent_view()).into_string()),
            ("consent-error", consent_page(ctx, &consent_view_with_error()).into_string()),
            ("step-up", step_up_page(ctx, &step_up_view()).into_string()),
            ("request-expired", request_closed_page(ctx, RequestClosed::Expired).into_string()),
            ("request-answered", request_closed_page(ctx, RequestClosed::Answered).into_string()),
            ("request-not-found", request_closed_page(ctx, RequestClosed::NotFound).into_string()),
            ("grants", grants_page(ctx, &grant_items(), Some(GrantsNotice::Approved)).into_string()),
            ("grants-empty", grants_page(ctx, &[], None).into_string()),
        ]
    }

    /// Every combination of language, dev mode and login state.
    fn all_contexts() -> Vec<PageContext> {
        let mut contexts = Vec::new();
        for lang in ALL_LANGS {
            for dev_mode in [false, true] {
                for logged_in in [false, true] {
                    contexts.push(context(lang, dev_mode, logged_in));
                }
            }
        }
        contexts
    }

    /// Start tags `<name ...>` in rendered HTML. Attribute values come out of
    /// maud escaped, so they never contain a raw `>` or `"`.
    fn start_tags<'a>(html: &'a str, name: &str) -> Vec<&'a str> {
        let open = format!("<{name}");
        let mut tags = Vec::new();
        let mut rest = html;
        while let Some(position) = rest.find(&open) {
            let candidate = &rest[position..];
            let end = candidate.find('>').expect("tag is closed");
            if matches!(candidate.as_bytes().get(open.len()), Some(b' ' | b'>' | b'/')) {
                tags.push(&candidate[..=end]);
            }
            rest = &candidate[end + 1..];
        }
        tags
    }

    fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
        let key = format!(" {name}=\"");
        let start = tag.find(&key)? + key.len();
        let length = tag[start..].find('"')?;
        Some(&tag[start..start + length])
    }

    fn has_flag(tag: &str, name: &str) -> bool {
        let key = format!(" {name}");
        tag.match_indices(&key)
            .any(|(index, _)| matches!(tag.as_bytes().get(index + key.len()), Some(b' ' | b'>' | b'/' | b'=')))
    }

    /// The HTML of each `<form ...>...</form>`.
    fn forms(html: &str) -> Vec<&str> {
        html.match_indices("<form")
            .map(|(start, _)| {
                let end = html[start..].find("</form>").expect("form is closed");
                &html[start..start + end]
            })
            .collect()
    }

    fn title(html: &str) -> &str {
        let start = html.find("<title>").expect("has a title") + "<title>".len();
        let end = html.find("</title>").expect("title is closed");
        &html[start..end]
    }

    #[test]
    fn every_page_declares_its_language() {
        for ctx in all_contexts() {
            let expected = format!("<html lang=\"{}\">", lang_code(ctx.lang));
            for (page, html) in all_pages(&ctx) {
                assert!(html.starts_with("<!DOCTYPE html>"), "{page}");
                assert!(html.contains(&expected), "{page} lacks {expected}");
            }
        }
    }

    #[test]
    fn every_page_has_skip_link_main_landmark_one_h1_and_a_specific_title() {
        for ctx in all_contexts() {
            for (page, html) in all_pages(&ctx) {
                assert!(html.contains("<meta charset=\"utf-8\">"), "{page}");
                assert!(html.contains("name=\"viewport\""), "{page}");
                assert!(html.contains("<link rel=\"stylesheet\" href=\"/static/style.css\">"), "{page}");
                assert!(html.contains("<a class=\"skip-link\" href=\"#main\">"), "{page}");
                assert_eq!(start_tags(&html, "main").len(), 1, "{page}");
                assert_eq!(attribute(start_tags(&html, "main")[0], "id"), Some("main"), "{page}");
                assert_eq!(start_tags(&html, "h1").len(), 1, "{page} needs exactly one h1");
                let page_title = title(&html);
                assert!(page_title.ends_with(" – tresor") && page_title.len() > " – tresor".len(), "{page}");
            }
        }
        let ctx = context(Lang::De, false, true);
        assert_eq!(title(&evidence_list_page(&ctx, &[], None).into_string()), "Meine Nachweise – tresor");
    }

    #[test]
    fn every_input_and_select_has_a_matching_label() {
        for ctx in all_contexts() {
            for (page, html) in all_pages(&ctx) {
                let labelled_ids: Vec<&str> =
                    start_tags(&html, "label").iter().filter_map(|tag| attribute(tag, "for")).collect();
                let mut control_ids = Vec::new();
                let controls = start_tags(&html, "input").into_iter().chain(start_tags(&html, "select"));
                for tag in controls {
                    if matches!(attribute(tag, "type"), Some("hidden" | "submit")) {
                        continue;
                    }
                    let id = attribute(tag, "id").unwrap_or_else(|| panic!("{page}: control without id: {tag}"));
                    assert!(labelled_ids.contains(&id), "{page}: no <label for=\"{id}\">");
                    assert!(!control_ids.contains(&id), "{page}: duplicate id {id}");
                    control_ids.push(id);
                }
                for id in labelled_ids {
                    assert!(control_ids.contains(&id), "{page}: label for missing control {id}");
                }
            }
        }
    }

    #[test]
    fn dev_banner_is_on_every_page_in_both_languages_iff_dev_mode() {
        for ctx in all_contexts() {
            for (page, html) in all_pages(&ctx) {
                let banners = html.matches("class=\"dev-banner\" role=\"note\"").count();
                assert_eq!(banners, usize::from(ctx.dev_mode), "{page}");
                assert_eq!(html.contains("Development mode – test logins"), ctx.dev_mode, "{page}");
                assert_eq!(html.contains("Entwicklungsmodus"), ctx.dev_mode, "{page}");
            }
        }
    }

    #[test]
    fn every_post_form_carries_the_csrf_token() {
        let mut post_forms = 0;
        for ctx in all_contexts() {
            for (page, html) in all_pages(&ctx) {
                for form in forms(&html) {
                    let form_tag = start_tags(form, "form")[0];
                    if attribute(form_tag, "method") != Some("post") {
                        continue;
                    }
                    post_forms += 1;
                    let csrf_inputs: Vec<&str> = start_tags(form, "input")
                        .into_iter()
                        .filter(|tag| attribute(tag, "name") == Some("csrf"))
                        .collect();
                    assert_eq!(csrf_inputs.len(), 1, "{page}: {form_tag}");
                    assert_eq!(attribute(csrf_inputs[0], "type"), Some("hidden"), "{page}");
                    let expected = ctx.csrf_token.as_deref().unwrap_or_default();
                    assert_eq!(attribute(csrf_inputs[0], "value"), Some(expected), "{page}");
                }
            }
        }
        assert!(post_forms > 0);
    }

    #[test]
    fn logout_is_a_post_button_shown_only_when_logged_in() {
        for ctx in all_contexts() {
            let html = start_page(&ctx, &[]).into_string();
            let logout_form = forms(&html).into_iter().find(|form| form.contains("action=\"/logout\""));
            assert_eq!(logout_form.is_some(), ctx.logged_in);
            if let Some(form) = logout_form {
                assert_eq!(attribute(start_tags(form, "form")[0], "method"), Some("post"));
                assert!(form.contains("<button"));
                assert!(html.contains("aria-label=\"Hauptmenü\"") || html.contains("aria-label=\"Main menu\""));
            }
        }
    }

    #[test]
    fn navigation_marks_the_current_page() {
        let html = evidence_list_page(&context(Lang::En, false, true), &[], None).into_string();
        assert!(html.contains("<a href=\"/evidence\" aria-current=\"page\">My evidence</a>"));
        assert!(html.contains("<a href=\"/evidence/new\">Add evidence</a>"));
        assert!(html.contains("Security level: hoch"));
    }

    #[test]
    fn upload_form_with_errors_shows_a_linked_summary_and_marks_fields_invalid() {
        let html = upload_form_page(&context(Lang::De, false, true), &upload_form_with_errors()).into_string();
        assert!(title(&html).starts_with("Fehler: "));
        let summary_start = html.find("class=\"error-summary\" role=\"alert\"").expect("error summary");
        assert!(summary_start < html.find("<h1").expect("h1"), "summary comes first");
        assert!(html.contains("<h2 id=\"error-summary-title\">Bitte prüfen Sie Ihre Angaben</h2>"));
        assert!(html.contains("<a href=\"#field-net_income\">Label net_income: Bitte einen Betrag eingeben.</a>"));
        assert!(html.contains("<a href=\"#upload-file\">Datei: Die Datei ist zu groß.</a>"));

        let inputs = start_tags(&html, "input");
        let money = inputs.iter().find(|tag| attribute(tag, "id") == Some("field-net_income")).expect("money input");
        assert_eq!(attribute(money, "aria-invalid"), Some("true"));
        assert_eq!(attribute(money, "value"), Some("abc"), "entered value is kept");
        let described_by = attribute(money, "aria-describedby").expect("described");
        assert!(described_by.split(' ').any(|id| id == "field-net_income-error"));
        assert!(html.contains("id=\"field-net_income-error\"><strong>Fehler:</strong> Bitte einen Betrag eingeben."));

        let file = inputs.iter().find(|tag| attribute(tag, "type") == Some("file")).expect("file input");
        assert_eq!(attribute(file, "aria-invalid"), Some("true"));
        assert!(attribute(file, "aria-describedby").expect("described").contains("upload-file-error"));

        let valid = inputs.iter().find(|tag| attribute(tag, "id") == Some("field-employer")).expect("text input");
        assert_eq!(attribute(valid, "aria-invalid"), None, "only fields with errors are invalid");
    }

    #[test]
    fn upload_form_without_errors_has_no_summary_and_nothing_invalid() {
        let html = upload_form_page(&context(Lang::En, false, true), &upload_form()).into_string();
        assert!(!html.contains("error-summary"));
        assert!(!html.contains("aria-invalid"));
        assert!(!title(&html).starts_with("Error"));
    }

    #[test]
    fn file_error_without_file_input_is_listed_as_plain_text() {
        let mut form = upload_form_with_errors();
        form.file_allowed = false;
        let html = upload_form_page(&context(Lang::En, false, true), &form).into_string();
        assert!(!html.contains("type=\"file\""));
        assert!(!html.contains("href=\"#upload-file\""));
        assert!(html.contains("<li>File: Die Datei ist zu groß.</li>"));
    }

    #[test]
    fn upload_form_renders_the_right_control_for_each_field_kind() {
        let html = upload_form_page(&context(Lang::De, false, true), &upload_form()).into_string();
        let form_tag = start_tags(&html, "form").into_iter().find(|tag| tag.contains("/evidence\"")).expect("form");
        assert_eq!(attribute(form_tag, "method"), Some("post"));
        assert_eq!(attribute(form_tag, "action"), Some("/evidence"));
        assert_eq!(attribute(form_tag, "enctype"), Some("multipart/form-data"));
        let inputs = start_tags(&html, "input");
        let by_name = |name: &str| {
            *inputs.iter().find(|tag| attribute(tag, "name") == Some(name)).unwrap_or_else(|| panic!("no input {name}"))
        };

        assert_eq!(attribute(by_name("type"), "type"), Some("hidden"));
        assert_eq!(attribute(by_name("type"), "value"), Some("income"));

        let text = by_name("field.employer");
        assert_eq!(attribute(text, "maxlength"), Some("120"));
        assert!(has_flag(text, "required"));

        assert_eq!(attribute(by_name("field.valid_from"), "type"), Some("date"));
        assert!(html.contains("TT.MM.JJJJ oder JJJJ-MM-TT"));

        assert_eq!(attribute(by_name("field.net_income"), "inputmode"), Some("decimal"));
        assert!(html.contains("Betrag in Euro (EUR)"));

        let integer = by_name("field.children");
        assert_eq!(attribute(integer, "type"), Some("number"));
        assert_eq!(attribute(integer, "min"), Some("0"));
        assert_eq!(attribute(integer, "max"), Some("20"));
        assert!(!has_flag(integer, "required"));

        let select = start_tags(&html, "select")[0];
        assert_eq!(attribute(select, "name"), Some("field.period"));
        assert!(html.contains("<option value=\"monthly\">Monatlich</option>"));

        let file = by_name("file");
        assert_eq!(attribute(file, "type"), Some("file"));
        assert_eq!(attribute(file, "accept"), Some(ACCEPTED_FILE_TYPES));
        assert!(html.contains("Erlaubt sind PDF, PNG und JPEG. Die Datei darf höchstens 10 MB groß sein."));

        // Required is said in words, not only by colour or an asterisk.
        assert_eq!(html.matches("<span class=\"required-marker\">(Pflichtfeld)</span>").count(), 3);
        assert!(html.contains("<button type=\"submit\">Nachweis speichern</button>"));
    }

    #[test]
    fn enum_field_keeps_the_previous_choice() {
        let mut form = upload_form();
        form.fields[4].value = "yearly".to_owned();
        let html = upload_form_page(&context(Lang::De, false, true), &form).into_string();
        assert!(html.contains("<option value=\"yearly\" selected>Jährlich</option>"));
        assert!(html.contains("<option value=\"monthly\">Monatlich</option>"));
    }

    #[test]
    fn user_supplied_strings_are_escaped_everywhere() {
        let mut ctx = context(Lang::De, true, true);
        ctx.login_level_label = Some(EVIL.to_owned());
        ctx.current_path = format!("/evidence?x={EVIL}");
        let issuers = [IssuerChoice { name: EVIL.to_owned(), label: EVIL.to_owned() }];
        let items =
            [EvidenceListItem { id: EVIL.to_owned(), type_name: EVIL.to_owned(), created_at: date(), has_file: false }];
        let types = [TypeChoice { id: EVIL.to_owned(), name: EVIL.to_owned(), needs_higher_level: true }];
        let mut form = upload_form_with_errors();
        form.type_id = EVIL.to_owned();
        form.type_name = EVIL.to_owned();
        form.file_error = Some(EVIL.to_owned());
        for field in &mut form.fields {
            field.label = EVIL.to_owned();
            field.value = EVIL.to_owned();
            field.error = Some(EVIL.to_owned());
        }
        form.fields[4].kind = FormFieldKind::Enum { options: vec![(EVIL.to_owned(), EVIL.to_owned())] };
        let mut evil_detail = detail();
        evil_detail.id = EVIL.to_owned();
        evil_detail.type_name = EVIL.to_owned();
        evil_detail.fields = vec![(EVIL.to_owned(), EVIL.to_owned())];
        evil_detail.file = Some(FileInfo { name: EVIL.to_owned(), media_type: EVIL.to_owned(), size: 1 });
        let mut logged_out = ctx.clone();
        logged_out.logged_in = false;
        let pages = [
            start_page(&logged_out, &issuers),
            evidence_list_page(&ctx, &items, Some(EVIL)),
            choose_type_page(&ctx, &types),
            upload_form_page(&ctx, &form),
            evidence_detail_page(&ctx, &evil_detail),
            delete_confirm_page(&ctx, EVIL, EVIL),
            error_page(&ctx, 400, EVIL, EVIL),
        ];
        for html in pages.map(maud::Markup::into_string) {
            assert!(!html.contains("<script"), "unescaped script in {html}");
            assert!(html.contains("&lt;script&gt;"), "user text missing from {html}");
        }
    }

    #[test]
    fn ids_in_urls_are_percent_encoded() {
        let ctx = context(Lang::De, false, true);
        let html = delete_confirm_page(&ctx, "a/b c?", "Typ").into_string();
        assert!(html.contains("action=\"/evidence/a%2Fb%20c%3F/delete\""));
        let html = start_page(
            &context(Lang::De, false, false),
            &[IssuerChoice { name: "a&b c".to_owned(), label: "X".to_owned() }],
        )
        .into_string();
        assert!(html.contains("href=\"/login?issuer=a%26b+c\""));
    }

    #[test]
    fn german_and_english_render_different_text() {
        let german = all_pages(&context(Lang::De, false, true));
        let english = all_pages(&context(Lang::En, false, true));
        for ((page, de), (_, en)) in german.iter().zip(&english) {
            assert_ne!(de, en, "{page}");
        }
        let (de, en) = (&german[1].1, &english[1].1);
        assert!(de.contains("Meine Nachweise") && !de.contains("My evidence"));
        assert!(en.contains("My evidence") && !en.contains("Meine Nachweise"));
        assert!(de.contains("23.11.2026") && en.contains("23 November 2026"));
    }

    #[test]
    fn language_switch_links_to_the_same_page_and_marks_the_current_language() {
        let mut ctx = context(Lang::En, false, true);
        ctx.current_path = "/evidence/new?type=income&lang=de".to_owned();
        let html = choose_type_page(&ctx, &[]).into_string();
        assert!(
            html.contains("<a href=\"/evidence/new?type=income&amp;lang=de\" hreflang=\"de\" lang=\"de\">Deutsch</a>")
        );
        assert!(html.contains(
            "<a href=\"/evidence/new?type=income&amp;lang=en\" hreflang=\"en\" lang=\"en\" aria-current=\"true\">English</a>"
        ));
    }

    #[test]
    fn language_switch_never_points_to_another_site() {
        for hostile in ["//evil.example/x", "https://evil.example/", "javascript:alert(1)", "/\\evil.example", ""] {
            assert_eq!(language_switch_href(hostile, Lang::De), "/?lang=de", "{hostile}");
        }
        assert_eq!(language_switch_href("/evidence#top", Lang::En), "/evidence?lang=en");
    }

    #[test]
    fn no_javascript_on_any_page() {
        for ctx in all_contexts() {
            for (page, html) in all_pages(&ctx) {
                let lower = html.to_ascii_lowercase();
                assert!(!lower.contains("<script"), "{page}");
                assert!(!lower.contains("javascript:"), "{page}");
                assert!(
                    !lower.contains(" onclick") && !lower.contains(" onsubmit") && !lower.contains(" onload"),
                    "{page}"
                );
            }
        }
    }

    #[test]
    fn start_page_offers_one_login_link_per_issuer_or_a_link_to_the_evidence() {
        let issuers = [
            IssuerChoice { name: "bund".to_owned(), label: "BundID".to_owned() },
            IssuerChoice { name: "test".to_owned(), label: "Test-Ausweis".to_owned() },
        ];
        let html = start_page(&context(Lang::En, false, false), &issuers).into_string();
        assert!(
            html.contains("<a class=\"button\" href=\"/login?issuer=bund\">Log in with your online ID (BundID)</a>")
        );
        assert!(html.contains("href=\"/login?issuer=test\""));
        assert!(!html.contains("href=\"/evidence\""));

        let html = start_page(&context(Lang::En, false, true), &issuers).into_string();
        assert!(!html.contains("/login?issuer="));
        assert!(html.contains("<a class=\"button\" href=\"/evidence\">Go to my evidence</a>"));

        let html = start_page(&context(Lang::De, false, false), &[]).into_string();
        assert!(html.contains(t(Lang::De, Msg::LoginUnavailable)));
    }

    #[test]
    fn consent_page_shows_who_why_the_values_and_a_choice_per_document() {
        let html = consent_page(&context(Lang::De, false, true), &consent_view()).into_string();
        for text in
            ["Wohngeldstelle bittet um Ihre Daten", "Wohngeld", "Prüfung Ihres Antrags", "§ 23 WoGG", "WG-2026-0815"]
        {
            assert!(html.contains(text), "{text} missing");
        }
        // The very values, per document, and the file that goes along.
        assert!(html.contains("<dd>2100.50</dd>") && html.contains("<dd>1900.00</dd>"));
        assert!(html.contains("(nicht angegeben)"));
        assert!(html.contains("Die Datei „lohn.pdf“ (PDF, 70 kB) bekommt das Amt auch."));
        let form = forms(&html).into_iter().find(|form| form.contains("action=\"/requests/")).expect("consent form");
        assert_eq!(attribute(start_tags(form, "form")[0], "method"), Some("post"));
        let inputs = start_tags(form, "input");
        let radios: Vec<&&str> = inputs.iter().filter(|tag| attribute(tag, "type") == Some("radio")).collect();
        assert_eq!(radios.len(), 3, "two documents and \"do not share\"");
        assert!(radios.iter().all(|tag| attribute(tag, "name") == Some("doc.income_statement")));
        assert!(has_flag(radios[0], "checked") && !has_flag(radios[1], "checked") && !has_flag(radios[2], "checked"));
        assert_eq!(attribute(radios[2], "value"), Some("none"));
        assert_eq!(attribute(radios[0], "aria-describedby"), Some("doc-0-0-values"));
        assert!(html.contains("id=\"doc-0-0-values\""));
        let boxes: Vec<&&str> = inputs.iter().filter(|tag| attribute(tag, "type") == Some("checkbox")).collect();
        assert_eq!(boxes.len(), 2, "no checkbox for a type without a document");
        assert_eq!(attribute(boxes[0], "name"), Some("field"));
        assert_eq!(attribute(boxes[0], "value"), Some("income_statement.net_monthly_income"));
        assert!(has_flag(boxes[0], "checked") && !has_flag(boxes[1], "checked"));
        // A type without a document: said plainly, with a link to add one.
        assert!(html.contains("Sie haben noch kein Dokument dieser Art gespeichert."));
        assert!(html.contains(
            "href=\"/evidence/new?type=rent_certificate&amp;return_to=%2Frequests%2F0123456789abcdef0123456789abcdef\""
        ));
        // Limits: the maximum is preselected.
        assert!(html.contains("<option value=\"90\" selected>90 Tage</option>"));
        assert!(html.contains("<option value=\"3\" selected>3 Mal</option>"));
        assert!(html.contains("<button type=\"submit\" name=\"decision\" value=\"approve\">Freigeben</button>"));
        assert!(html.contains("name=\"decision\" value=\"deny\">Ablehnen</button>"));
        assert!(!html.contains("error-summary"));
    }

    #[test]
    fn consent_page_with_an_error_puts_a_linked_summary_first() {
        let html = consent_page(&context(Lang::En, false, true), &consent_view_with_error()).into_string();
        assert!(title(&html).starts_with("Error: "));
        let summary = html.find("class=\"error-summary\" role=\"alert\"").expect("summary");
        assert!(summary < html.find("<h1").expect("h1"));
        assert!(
            html.contains("<a href=\"#duration\">Which data do you want to share?: Bitte wählen Sie eine Dauer.</a>")
        );
    }

    #[test]
    fn step_up_page_links_to_the_higher_login_and_shows_no_values() {
        let html = step_up_page(&context(Lang::De, false, true), &step_up_view()).into_string();
        assert!(html.contains("href=\"/login?level=high&amp;return_to=%2Frequests%2Fabc\""));
        assert!(html.contains("Sicherheitsniveau „hoch (Online-Ausweis)“"));
        assert!(html.contains("mit „substanziell“ angemeldet"));
        assert!(html.contains("Online-Ausweis"));
        assert!(forms(&html).iter().all(|form| !form.contains("/requests/")));
    }

    #[test]
    fn grants_page_offers_revoke_only_for_active_grants() {
        let html =
            grants_page(&context(Lang::En, false, true), &grant_items(), Some(GrantsNotice::Revoked)).into_string();
        assert!(html.contains("You took back your approval."));
        assert!(html.contains("Wohngeldstelle: Wohngeld"));
        assert!(html.contains("Einkommensnachweis: Nettoeinkommen, Zeitraum"));
        assert!(html.contains("1 of 3"));
        assert!(html.contains("<strong>active</strong>") && html.contains("<strong>revoked</strong>"));
        let revoke_forms: Vec<&str> = forms(&html).into_iter().filter(|form| form.contains("/revoke")).collect();
        assert_eq!(revoke_forms.len(), 1);
        assert!(revoke_forms[0].contains("action=\"/grants/cccc0000cccc0000cccc0000cccc0000/revoke\""));
        assert!(revoke_forms[0].contains("aria-describedby=\"grant-0\">Revoke now</button>"));
        let empty = grants_page(&context(Lang::De, false, true), &[], None).into_string();
        assert!(empty.contains("Sie haben noch keine Daten freigegeben.") && !empty.contains("role=\"status\""));
    }

    #[test]
    fn request_closed_pages_say_why_in_words() {
        let ctx = context(Lang::De, false, false);
        let expired = request_closed_page(&ctx, RequestClosed::Expired).into_string();
        assert!(expired.contains("Diese Anfrage ist abgelaufen") && expired.contains("410"));
        let answered = request_closed_page(&ctx, RequestClosed::Answered).into_string();
        assert!(answered.contains("schon beantwortet") && answered.contains("409"));
        let unknown = request_closed_page(&ctx, RequestClosed::NotFound).into_string();
        assert!(unknown.contains("Diese Anfrage gibt es nicht") && unknown.contains("404"));
    }

    #[test]
    fn consent_and_grants_escape_stored_values() {
        let ctx = context(Lang::De, false, true);
        let mut view = consent_view_with_error();
        view.department_name = EVIL.to_owned();
        view.reference = EVIL.to_owned();
        view.documents[0].candidates[0].values[0].1 = Some(EVIL.to_owned());
        view.documents[0].candidates[0].file.as_mut().expect("file").name = EVIL.to_owned();
        view.error.as_mut().expect("error").message = EVIL.to_owned();
        let mut items = grant_items();
        items[0].service_name = EVIL.to_owned();
        items[0].fields[0].1[0] = EVIL.to_owned();
        for html in [consent_page(&ctx, &view), grants_page(&ctx, &items, None)].map(maud::Markup::into_string) {
            assert!(!html.contains("<script"), "unescaped script in {html}");
            assert!(html.contains("&lt;script&gt;"));
        }
    }

    #[test]
    fn evidence_list_is_a_captioned_table_or_an_empty_state() {
        let ctx = context(Lang::De, false, true);
        let items = [EvidenceListItem {
            id: "ev-1".to_owned(),
            type_name: "Melde".to_owned(),
            created_at: date(),
            has_file: true,
        }];
        let html = evidence_list_page(&ctx, &items, Some("Nachweis gespeichert.")).into_string();
        assert!(html.contains("<caption>Ihre gespeicherten Nachweise</caption>"));
        assert_eq!(html.matches("<th scope=\"col\">").count(), 3);
        assert!(html.contains("<th scope=\"row\"><a href=\"/evidence/ev-1\">Melde</a></th>"));
        assert!(html.contains("<div class=\"notice\" role=\"status\"><p>Nachweis gespeichert.</p></div>"));
        assert!(html.contains("href=\"/evidence/new\""));

        let html = evidence_list_page(&ctx, &[], None).into_string();
        assert!(!html.contains("<table"));
        assert!(!html.contains("role=\"status\""));
        assert!(html.contains("Sie haben noch keine Nachweise gespeichert."));
    }

    #[test]
    fn choose_type_page_is_a_get_form_with_a_radio_group() {
        let types = [
            TypeChoice { id: "income".to_owned(), name: "Einkommen".to_owned(), needs_higher_level: false },
            TypeChoice { id: "residence".to_owned(), name: "Wohnsitz".to_owned(), needs_higher_level: true },
        ];
        let html = choose_type_page(&context(Lang::En, false, true), &types).into_string();
        let form_tag = start_tags(&html, "form").into_iter().find(|tag| tag.contains("get")).expect("get form");
        assert_eq!(attribute(form_tag, "action"), Some("/evidence/new"));
        assert!(html.contains("<fieldset><legend>Type of evidence</legend>"));
        let radios: Vec<&str> =
            start_tags(&html, "input").into_iter().filter(|tag| attribute(tag, "type") == Some("radio")).collect();
        assert_eq!(radios.len(), 2);
        assert!(radios.iter().all(|tag| attribute(tag, "name") == Some("type")));
        assert_eq!(attribute(radios[0], "aria-describedby"), None);
        let note_id = attribute(radios[1], "aria-describedby").expect("note linked");
        assert!(html.contains(&format!("id=\"{note_id}\">For this you must log in with security level “high”.")));
    }

    #[test]
    fn detail_page_lists_fields_and_links_download_and_delete() {
        let html = evidence_detail_page(&context(Lang::En, false, true), &detail()).into_string();
        assert!(html.contains("<dl class=\"details\"><div><dt>Straße</dt><dd>Hauptstraße 1</dd></div></dl>"));
        assert!(html.contains("<a href=\"/evidence/ev-1/file\">Download file: meldung.pdf (PDF, 1.5 MB)</a>"));
        assert!(html.contains("href=\"/evidence/ev-1/delete\""));

        let mut without_file = detail();
        without_file.file = None;
        without_file.fields.clear();
        let html = evidence_detail_page(&context(Lang::De, false, true), &without_file).into_string();
        assert!(!html.contains("/file\""));
        assert!(html.contains("Zu diesem Nachweis gibt es keine Datei."));
        assert!(html.contains("Es gibt keine weiteren Angaben."));
    }

    #[test]
    fn delete_confirmation_posts_to_the_evidence_and_warns_in_words() {
        let html = delete_confirm_page(&context(Lang::De, false, true), "ev-1", "Melde").into_string();
        let form = forms(&html).into_iter().find(|form| form.contains("/evidence/ev-1/delete")).expect("delete form");
        assert_eq!(attribute(start_tags(form, "form")[0], "method"), Some("post"));
        assert!(html.contains("Das können Sie nicht rückgängig machen."));
        assert!(html.contains("<a href=\"/evidence/ev-1\">Nein, behalten</a>"));
    }

    #[test]
    fn erase_account_needs_a_required_confirmation_checkbox() {
        let html = erase_account_page(&context(Lang::En, false, true)).into_string();
        let form =
            forms(&html).into_iter().find(|form| form.contains("action=\"/account/erase\"")).expect("erase form");
        let checkbox = start_tags(form, "input")
            .into_iter()
            .find(|tag| attribute(tag, "name") == Some("confirm"))
            .expect("confirm checkbox");
        assert_eq!(attribute(checkbox, "type"), Some("checkbox"));
        assert!(has_flag(checkbox, "required"));
        assert!(html.contains("we destroy this key"));
    }

    #[test]
    fn error_page_shows_title_message_and_status() {
        let html =
            error_page(&context(Lang::En, false, false), 404, "Not found", "This page does not exist.").into_string();
        assert_eq!(title(&html), "Not found – tresor");
        assert!(html.contains("<h1>Not found</h1>"));
        assert!(html.contains("Error number: 404"));
        assert!(html.contains("<a href=\"/\">Go to the start page</a>"));
    }

    #[test]
    fn page_context_debug_hides_the_csrf_token() {
        let debug = format!("{:?}", context(Lang::De, false, true));
        assert!(!debug.contains(TOKEN));
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn stylesheet_keeps_focus_visible_and_respects_reduced_motion() {
        assert!(STYLESHEET.contains(":focus-visible"));
        assert!(STYLESHEET.contains("prefers-reduced-motion"));
        assert!(!STYLESHEET.contains("outline: none") && !STYLESHEET.contains("outline:none"));
    }

    #[test]
    fn dpo_pages_escape_stored_values_and_label_the_chart() {
        let ctx = context(Lang::En, false, false);
        let rows =
            [DpoStatsRow { department: Some(EVIL.to_owned()), month: "2026-05".to_owned(), granted: 4, refused: 1 }];
        let html = dpo_stats_page(&ctx, &rows).into_string();
        assert!(!html.contains(EVIL), "{html}");
        assert!(
            html.contains("role=\"img\"") && html.contains("aria-labelledby=\"stats-chart-title stats-chart-desc\"")
        );
        assert!(html.contains("<td class=\"number\">4</td><td class=\"number\">1</td>"), "{html}");
        assert!(html.contains("</rect>"), "SVG shapes are closed explicitly inside HTML");
        let view = DpoQueryView {
            filter: DpoFilterValues { department: EVIL.to_owned(), ..DpoFilterValues::default() },
            actions: vec!["login"],
            filter_error: None,
            rows: vec![DpoEntryRow {
                sequence: 1,
                time: date(),
                actor_kind: "department".to_owned(),
                actor_id: Some(EVIL.to_owned()),
                action: "release".to_owned(),
                outcome: "success".to_owned(),
                subject: None,
                department: Some(EVIL.to_owned()),
                service: None,
                reason: Some(EVIL.to_owned()),
            }],
            next_href: None,
            export_query: "a=1&b=2".to_owned(),
        };
        let html = dpo_query_page(&ctx, &view).into_string();
        assert!(!html.contains(EVIL), "{html}");
        assert!(html.contains("href=\"/dpo/export.csv?a=1&amp;b=2\""), "{html}");
        // The citizens' navigation is not on staff pages; the staff logout is.
        assert!(!html.contains("/account/erase") && html.contains("action=\"/staff/logout\""), "{html}");
    }
}
