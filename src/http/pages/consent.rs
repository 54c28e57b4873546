//! Consent to a department's request, and the citizen's grants.

use super::*;

/// Everything the consent page shows; texts already translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentView {
    pub request_id: String,
    pub department_name: String,
    pub service_name: String,
    pub purpose: String,
    pub legal_basis: String,
    /// The legal basis in one plain sentence, if the service gives one.
    pub legal_basis_plain: Option<String>,
    /// Other ways to apply (in person, on paper), if the service names them.
    pub other_ways: Option<String>,
    /// How to reach the office, if its policy says.
    pub contact: Option<String>,
    pub reference: String,
    /// Until when the request can be answered.
    pub answer_until: DateTime<Utc>,
    /// Whether the service also releases the documents' files.
    pub releases_files: bool,
    /// Whether the service's policy lets the citizen leave the files out.
    pub file_optional: bool,
    /// "Do not send the file" is ticked.
    pub without_files: bool,
    pub documents: Vec<ConsentDocument>,
    pub max_duration_days: u32,
    /// Today plus the longest duration: the latest possible end.
    pub latest_end: DateTime<Utc>,
    pub duration_options: Vec<u32>,
    pub selected_duration: u32,
    pub uses_options: Vec<u32>,
    pub max_uses: u32,
    pub selected_uses: u32,
    /// Minutes without activity after which the session ends (said on the form).
    pub session_minutes: i64,
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
    /// The service also receives the file of each chosen document.
    pub with_files: bool,
    /// The service would receive files, but the citizen left them out.
    pub files_left_out: bool,
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
            div {
                dt { (t(lang, Msg::ConsentLegalBasis)) }
                dd {
                    @if let Some(plain) = &view.legal_basis_plain { p { (plain) } }
                    p.citation { (view.legal_basis) }
                }
            }
            div { dt { (t(lang, Msg::ConsentReference)) } dd { (view.reference) } }
            div { dt { (t(lang, Msg::ConsentAnswerUntil)) } dd { (date_time_element(lang, view.answer_until)) } }
            @if let Some(contact) = &view.contact {
                div { dt { (t(lang, Msg::ConsentContact)) } dd { (contact) } }
            }
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
            @if view.releases_files {
                (consent_file_choice(lang, view))
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
            h2 #if-you-deny { (t(lang, Msg::ConsentDenyHeading)) }
            p { (t(lang, Msg::ConsentDenyMeans)) }
            @if let Some(ways) = &view.other_ways {
                p { (ways) }
            }
            p.session-note { (i18n::session_timeout_note(lang, view.session_minutes)) }
            div.form-actions {
                // The next step is the summary; only its button shares anything.
                button type="submit" name="decision" value="review" { (t(lang, Msg::ConsentContinue)) }
                button.button-secondary type="submit" name="decision" value="deny" { (t(lang, Msg::ConsentDeny)) }
            }
        }
    };
    layout(ctx, &title, body)
}

/// A document's values as the form and the summary show them: label and
/// formatted value, "not given" where the citizen left one empty.
fn document_values(lang: Lang, values: &[(String, Option<String>)]) -> Markup {
    html! {
        dl.details {
            @for (label, value) in values {
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
    }
}

/// One evidence type on the consent page. Ids are index-based: type ids and
/// evidence ids are safe, but indexes keep the ids short and predictable.
fn consent_document(lang: Lang, request_id: &str, type_index: usize, document: &ConsentDocument) -> Markup {
    let radio_name = format!("doc.{}", document.type_id);
    html! {
        fieldset.consent-document id=(document_anchor(type_index)) {
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
                                (document_values(lang, &candidate.values))
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
/// Asks before revoking a grant: which one, what revoking stops, and that
/// what the office already fetched stays with it.
pub fn revoke_confirm_page(ctx: &PageContext, item: &GrantItem) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::RevokeConfirmTitle)) }
        p { strong { (item.department_name) ": " (item.service_name) } }
        p { (i18n::revoke_stops(lang, &item.department_name)) }
        div.warning-text {
            p { (t(lang, Msg::RevokeFetchedStays)) }
        }
        form method="post" action=(format!("/grants/{}/revoke", path_segment(&item.id))) {
            (csrf_input(ctx))
            div.form-actions {
                button.button-warning type="submit" { (t(lang, Msg::RevokeConfirmButton)) }
                a href="/grants" { (t(lang, Msg::RevokeKeep)) }
            }
        }
    };
    layout(ctx, t(lang, Msg::RevokeConfirmTitle), body)
}

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
                                    @if item.with_files {
                                        p { (t(lang, Msg::GrantsWithFiles)) }
                                    }
                                    @if item.files_left_out {
                                        p { (t(lang, Msg::GrantsFilesLeftOut)) }
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
                            p {
                                a.button.button-warning
                                    href=(format!("/grants/{}/revoke", path_segment(&item.id)))
                                    aria-describedby=(heading_id) {
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

// --- the file, and the summary before sending (issue 15 item 4) -----------------

/// `id` of a document's fieldset on the consent page (the summary's change
/// links point there).
fn document_anchor(type_index: usize) -> String {
    format!("consent-doc-{type_index}")
}

/// `id` of the file choice on the consent page.
const FILE_ANCHOR: &str = "consent-files";

/// The file says more than the ticked details: said plainly, and where the
/// service's policy allows it a checkbox to leave the file out; otherwise
/// that the office needs it and that denying is the way out.
fn consent_file_choice(lang: Lang, view: &ConsentView) -> Markup {
    html! {
        fieldset.consent-document #consent-files {
            legend { (t(lang, Msg::ConsentFileLegend)) }
            p { (t(lang, Msg::ConsentFileShowsMore)) }
            @if view.file_optional {
                div.choice {
                    input type="checkbox" id="without-files" name="without_files" value="yes"
                        checked[view.without_files] aria-describedby="without-files-hint";
                    label for="without-files" { (t(lang, Msg::ConsentFileLeaveOut)) }
                    p.hint #without-files-hint { (t(lang, Msg::ConsentFileLeaveOutHint)) }
                }
            } @else {
                p { (t(lang, Msg::ConsentFileNeeded)) }
            }
        }
    }
}

/// Everything the summary before sending shows; texts already translated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentSummaryView {
    /// Minutes without activity after which the session ends (said on the page).
    pub session_minutes: i64,
    pub request_id: String,
    pub department_name: String,
    pub contact: Option<String>,
    pub service_name: String,
    pub reference: String,
    /// The chosen documents with exactly the values that would be shared.
    pub documents: Vec<SummaryDocument>,
    pub files: SummaryFiles,
    pub duration_days: u32,
    /// Now plus the chosen duration: the last day the office can fetch.
    pub ends_at: DateTime<Utc>,
    pub max_uses: u32,
    /// `(name, value)` of the hidden inputs that carry the choices to the
    /// next step (CSRF token apart); the vault checks them all again there.
    pub hidden: Vec<(String, String)>,
}

/// One chosen document on the summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SummaryDocument {
    /// Position of its type on the consent page (for the change link).
    pub type_index: usize,
    pub type_name: String,
    pub created_at: DateTime<Utc>,
    /// `(label, formatted value)` of each approved field; None when the
    /// document does not have it.
    pub values: Vec<(String, Option<String>)>,
}

/// What the summary says about files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SummaryFiles {
    /// The service receives no files: no row at all.
    NotReleased,
    /// The files of the chosen documents go along (empty: none has one).
    Shared(Vec<FileInfo>),
    /// The citizen leaves the files out.
    LeftOut,
}

/// The summary before sending ("check your answers"): to whom, which values,
/// which file, until when, how often, each with a change button that brings
/// the form back with the choices kept; then "share". Every button posts
/// the same hidden choices with the CSRF token: nothing is shared by a GET,
/// and the final step is checked by the vault as a whole again.
pub fn consent_summary_page(ctx: &PageContext, view: &ConsentSummaryView) -> Markup {
    let lang = ctx.lang;
    let action = request_href(&view.request_id);
    let change = |anchor: &str, what: &str| -> Markup {
        html! {
            button.link-button type="submit" name="decision" value="change"
                formaction=(format!("{action}#{anchor}")) {
                (t(lang, Msg::ConsentSummaryChange))
                span.visually-hidden { ": " (what) }
            }
        }
    };
    let body = html! {
        h1 { (t(lang, Msg::ConsentSummaryTitle)) }
        p { strong { (t(lang, Msg::ConsentSummaryNothingYet)) } }
        form method="post" action=(action) {
            (csrf_input(ctx))
            @for (name, value) in &view.hidden {
                input type="hidden" name=(name) value=(value);
            }
            h2 { (t(lang, Msg::ConsentSummaryToWhom)) }
            dl.details {
                div { dt { (t(lang, Msg::ConsentDepartment)) } dd { (view.department_name) } }
                @if let Some(contact) = &view.contact {
                    div { dt { (t(lang, Msg::ConsentContact)) } dd { (contact) } }
                }
                div { dt { (t(lang, Msg::ConsentService)) } dd { (view.service_name) } }
                div { dt { (t(lang, Msg::ConsentReference)) } dd { (view.reference) } }
            }
            h2 { (t(lang, Msg::ConsentSummaryWhichData)) }
            @for document in &view.documents {
                section.summary-document {
                    h3 { (document.type_name) }
                    p { (i18n::document_from(lang, document.created_at)) }
                    (document_values(lang, &document.values))
                    p { (change(&document_anchor(document.type_index), &document.type_name)) }
                }
            }
            dl.details {
                @match &view.files {
                    SummaryFiles::NotReleased => {}
                    SummaryFiles::Shared(files) => {
                        div {
                            dt { (t(lang, Msg::ConsentSummaryFile)) }
                            dd {
                                @if files.is_empty() {
                                    p { (t(lang, Msg::ConsentSummaryFileNone)) }
                                } @else {
                                    @for file in files {
                                        p { (i18n::file_shared(lang, &file.name, media_type_label(&file.media_type), file.size)) }
                                    }
                                    p { strong { (t(lang, Msg::ConsentSummaryFileShowsMore)) } }
                                }
                                p { (change(FILE_ANCHOR, t(lang, Msg::ConsentSummaryFile))) }
                            }
                        }
                    }
                    SummaryFiles::LeftOut => {
                        div {
                            dt { (t(lang, Msg::ConsentSummaryFile)) }
                            dd {
                                p { (t(lang, Msg::ConsentSummaryFileLeftOut)) }
                                p { (change(FILE_ANCHOR, t(lang, Msg::ConsentSummaryFile))) }
                            }
                        }
                    }
                }
                div {
                    dt { (t(lang, Msg::ConsentSummaryHowLong)) }
                    dd {
                        p { (i18n::consent_summary_until(lang, view.ends_at, view.duration_days)) }
                        p { (change("duration", t(lang, Msg::ConsentSummaryHowLong))) }
                    }
                }
                div {
                    dt { (t(lang, Msg::ConsentSummaryHowOften)) }
                    dd {
                        p { (i18n::times(lang, view.max_uses)) }
                        p { (change("max-uses", t(lang, Msg::ConsentSummaryHowOften))) }
                    }
                }
            }
            p { (t(lang, Msg::ConsentSummaryShareHint)) }
            p.session-note { (i18n::session_timeout_note(lang, view.session_minutes)) }
            div.form-actions {
                button type="submit" name="decision" value="approve" { (t(lang, Msg::ConsentApprove)) }
            }
        }
    };
    layout(ctx, t(lang, Msg::ConsentSummaryTitle), body)
}
