//! The citizen's pages: start, evidence, upload, access log, account.

use super::*;

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
    /// A problem with the form as a whole (not one field): listed in the
    /// error summary without a link.
    pub general_error: Option<String>,
    /// A file was chosen but could not be kept (any error): the form asks
    /// for it again next to the file input.
    pub file_dropped: bool,
    /// The session's idle timeout, said on the form in minutes.
    pub session_minutes: i64,
    /// The values come back from before an expired session (a sealed draft).
    pub restored: bool,
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
    /// A date field's three parts as typed, and which of them the error is
    /// about (unused for other kinds).
    pub date: DateValue,
}

/// What was typed into the three parts of a date input (day, month, year)
/// and which part an error names (`invalid`, in the same order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DateValue {
    pub parts: [String; 3],
    pub invalid: [bool; 3],
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

/// The confirmation of what the citizen just did, shown at the top of the
/// page they land on (`role="status"`, so screen readers announce it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CitizenNotice {
    /// An upload was stored (on the evidence's page).
    Stored,
    /// An evidence was deleted (on the list).
    Deleted,
}

fn citizen_notice(lang: crate::policy::Lang, notice: Option<CitizenNotice>) -> Markup {
    html! {
        @if let Some(notice) = notice {
            div.notice role="status" {
                p { (t(lang, match notice {
                    CitizenNotice::Stored => Msg::NoticeStored,
                    CitizenNotice::Deleted => Msg::NoticeDeleted,
                })) }
            }
        }
    }
}

/// The citizen's stored evidence as a table, or a short empty-state text.
pub fn evidence_list_page(ctx: &PageContext, items: &[EvidenceListItem], notice: Option<CitizenNotice>) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (t(lang, Msg::EvidenceListTitle)) }
        (citizen_notice(lang, notice))
        p { a.button href="/evidence/new" { (t(lang, Msg::AddEvidence)) } }
        p { a href="/account/data" { (t(lang, Msg::MyDataLink)) } }
        @if items.is_empty() {
            p.empty-state { (t(lang, Msg::EvidenceListEmpty)) }
        } @else {
            table.evidence-table.stacked-table {
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
                            th scope="row" data-label=(t(lang, Msg::ColumnType)) {
                                a href=(evidence_href(&item.id, "")) { (item.type_name) }
                            }
                            td data-label=(t(lang, Msg::ColumnStoredOn)) { (date_element(lang, item.created_at)) }
                            td data-label=(t(lang, Msg::ColumnFile)) {
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
    let mut errors: Vec<ErrorSummaryEntry<'_>> = Vec::new();
    if let Some(message) = form.general_error.as_deref() {
        errors.push(ErrorSummaryEntry { target: None, label: t(lang, Msg::FormErrorLabel), message });
    }
    errors.extend(form.fields.iter().filter_map(|field| {
        field.error.as_deref().map(|message| ErrorSummaryEntry {
            target: Some(format!("#{}", forms::error_target(field))),
            label: &field.label,
            message,
        })
    }));
    if let Some(message) = form.file_error.as_deref() {
        errors.push(ErrorSummaryEntry {
            target: form.file_allowed.then(|| format!("#{FILE_INPUT_ID}")),
            label: t(lang, Msg::FileLabel),
            message,
        });
    } else if form.file_dropped && form.file_allowed && !errors.is_empty() {
        // The file itself was fine, but the browser cannot fill it in again.
        errors.push(ErrorSummaryEntry {
            target: Some(format!("#{FILE_INPUT_ID}")),
            label: t(lang, Msg::FileLabel),
            message: t(lang, Msg::FileChooseAgain),
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
        @if form.restored {
            div.notice role="status" { p { (t(lang, Msg::FormRestored)) } }
        }
        p {
            (t(lang, Msg::UploadIntro))
            @if any_required {
                " " (t(lang, Msg::RequiredExplanation))
            }
        }
        p.session-note { (i18n::session_timeout_note(lang, form.session_minutes)) }
        // `novalidate`: the server checks and answers in the page's words
        // (error summary), not the browser's own bubbles.
        form method="post" action="/evidence" enctype="multipart/form-data" novalidate {
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
pub fn evidence_detail_page(ctx: &PageContext, detail: &EvidenceDetail, notice: Option<CitizenNotice>) -> Markup {
    let lang = ctx.lang;
    let body = html! {
        h1 { (detail.type_name) }
        (citizen_notice(lang, notice))
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
    /// An access by someone else (an office, staff, the system), listed
    /// apart from the citizen's own actions.
    pub by_others: bool,
    /// For an office's access: the service it was for.
    pub service: Option<String>,
    /// The labels of the fields it concerned.
    pub fields: Vec<String>,
    /// Under a grant (an approval the citizen gave): which use of it.
    pub grant_use: Option<u32>,
    pub under_grant: bool,
    /// The office's case reference of the request the approval answered.
    pub reference: Option<String>,
    pub result: String,
    /// Some(true): the inclusion proof verified against the checkpoint;
    /// Some(false): it did not; None: newer than the latest checkpoint.
    pub proof_ok: Option<bool>,
}

/// One table of the access log, newest first.
fn access_log_table(lang: crate::policy::Lang, caption: &str, items: &[&AccessLogItem]) -> Markup {
    html! {
        div.table-wrap {
            table.stacked-table {
                caption { (caption) }
                thead {
                    tr {
                        th scope="col" { (t(lang, Msg::AccessLogWhen)) }
                        th scope="col" { (t(lang, Msg::AccessLogWho)) }
                        th scope="col" { (t(lang, Msg::AccessLogWhat)) }
                        th scope="col" { (t(lang, Msg::AccessLogResult)) }
                        th scope="col" { (t(lang, Msg::AccessLogProof)) }
                    }
                }
                tbody {
                    @for item in items {
                        tr id=(format!("entry-{}", item.sequence)) {
                            td data-label=(t(lang, Msg::AccessLogWhen)) { (i18n::format_date_time(lang, item.time)) }
                            td data-label=(t(lang, Msg::AccessLogWho)) { (item.who) }
                            td data-label=(t(lang, Msg::AccessLogWhat)) {
                                (item.what)
                                @if let Some(service) = &item.service {
                                    br; (i18n::access_for_service(lang, service))
                                }
                                @if let Some(reference) = &item.reference {
                                    br; (i18n::access_reference(lang, reference))
                                }
                                @if !item.fields.is_empty() {
                                    br; (i18n::access_fields(lang, &item.fields.join(", ")))
                                }
                                @if item.under_grant {
                                    br;
                                    a href="/grants" { (i18n::access_under_grant(lang, item.grant_use)) }
                                }
                            }
                            td data-label=(t(lang, Msg::AccessLogResult)) { (item.result) }
                            td data-label=(t(lang, Msg::AccessLogProof)) {
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
    }
}

/// The citizen's access log, newest first: what offices, staff and the
/// system did first, the citizen's own actions apart; `older`: the link to
/// the next page of older entries, if there are any.
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
            @let (others, own): (Vec<&AccessLogItem>, Vec<&AccessLogItem>) = items.iter().partition(|item| item.by_others);
            h2 { (t(lang, Msg::AccessLogOthersHeading)) }
            @if others.is_empty() {
                p { (t(lang, Msg::AccessLogOthersEmpty)) }
            } @else {
                (access_log_table(lang, t(lang, Msg::AccessLogOthersCaption), &others))
            }
            h2 { (t(lang, Msg::AccessLogOwnHeading)) }
            @if own.is_empty() {
                p { (t(lang, Msg::AccessLogEmpty)) }
            } @else {
                (access_log_table(lang, t(lang, Msg::AccessLogOwnCaption), &own))
            }
            @if let Some(older) = older {
                p { a href=(older) { (t(lang, Msg::AccessLogOlder)) } }
            }
            details.explanation {
                summary { (t(lang, Msg::AccessLogProofQuestion)) }
                p { (t(lang, Msg::AccessLogProofExplained)) }
                p { (i18n::access_log_checkpoint(lang, checkpoint_size)) }
            }
        }
        p { (t(lang, Msg::AccessLogHowToCheck)) " " a href="/api/v1/audit/mine" { (t(lang, Msg::AccessLogJsonLink)) } }
    };
    layout(ctx, t(lang, Msg::AccessLogTitle), body)
}

/// After a logout, or after the account was erased (`erased`: the page
/// confirms the erasure first).
pub fn logged_out_page(ctx: &PageContext, erased: bool) -> Markup {
    let lang = ctx.lang;
    let title = t(lang, if erased { Msg::ErasedTitle } else { Msg::LoggedOutTitle });
    let body = html! {
        h1 { (title) }
        @if erased {
            div.notice role="status" { p { (t(lang, Msg::ErasedText)) } }
        }
        p { (t(lang, Msg::LoggedOutText)) }
        p { a.button href="/" { (t(lang, Msg::LoginAgain)) } }
    };
    layout(ctx, title, body)
}
