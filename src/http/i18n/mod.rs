//! Language choice and every user-visible text of the web pages, in German
//! and English. Texts follow the spirit of "Einfache Sprache": short
//! sentences, everyday words, no technical jargon.
//!
//! The texts themselves are Project Fluent messages in `locales/<lang>/*.ftl`
//! (see `catalogue`); this module names them ([`Msg`] for plain texts, one
//! function per text with placeholders) and formats dates, times and sizes.
//! `tests` checks that every message exists in every language with the same
//! placeholders, so a missing translation fails the build's tests instead
//! of showing an empty string.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Offset, Utc, Weekday};

use crate::audit::Action;
use crate::policy::{FieldKind, Lang, LoginLevel};

mod catalogue;
mod info;
mod reasons;
#[cfg(test)]
mod tests;

pub use catalogue::{Arg, format};
pub use info::{INFO_PLACEHOLDERS, InfoText, info, info_lines, privacy_retention_session};
pub use reasons::{KNOWN_REASONS, reason_label, reason_message_id};

/// Picks the page language.
///
/// Order: an explicit switch (`?lang=de|en`) wins, then the `lang` cookie,
/// then the browser's `Accept-Language` header (respecting q-values), and
/// German when nothing matches. Unknown values are ignored, never an error.
pub fn negotiate(query_lang: Option<&str>, cookie_lang: Option<&str>, accept_language: Option<&str>) -> Lang {
    query_lang
        .and_then(parse_lang_code)
        .or_else(|| cookie_lang.and_then(parse_lang_code))
        .or_else(|| accept_language.and_then(best_from_accept_language))
        .unwrap_or(Lang::De)
}

/// The two-letter code used in `lang`/`hreflang` attributes, the query
/// parameter and the cookie.
pub fn lang_code(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "de",
        Lang::En => "en",
    }
}

/// Every supported language, in the order the language switch shows them.
pub const ALL_LANGS: [Lang; 2] = [Lang::De, Lang::En];

/// The name of a language in that language itself ("Deutsch", "English"),
/// as a language switch should show it.
pub fn lang_name_in_itself(lang: Lang) -> &'static str {
    match lang {
        Lang::De => "Deutsch",
        Lang::En => "English",
    }
}

macro_rules! messages {
    ($($(#[$meta:meta])* $variant:ident = $id:literal),+ $(,)?) => {
        /// One user-visible text without placeholders. Translate with [`t`];
        /// the text is the Fluent message named by [`Msg::id`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Msg {
            $($(#[$meta])* $variant),+
        }

        impl Msg {
            /// Every message; generated from the same list as the enum, so it
            /// cannot fall out of date.
            pub const ALL: &'static [Msg] = &[$(Msg::$variant),+];

            /// The message's id in the `locales/*/*.ftl` files.
            pub fn id(self) -> &'static str {
                match self {
                    $(Msg::$variant => $id),+
                }
            }
        }
    };
}

messages! {
    // Layout
    SkipToContent = "skip-to-content",
    LanguageNavLabel = "language-nav-label",
    /// The display switch (`http::display`): its label and its four links.
    DisplayNavLabel = "display-nav-label",
    DisplayTextNormal = "display-text-normal",
    DisplayTextLarge = "display-text-large",
    DisplayContrastNormal = "display-contrast-normal",
    DisplayContrastHigh = "display-contrast-high",
    MainNavLabel = "main-nav-label",
    NavMyEvidence = "nav-my-evidence",
    NavAddEvidence = "nav-add-evidence",
    NavEraseAccount = "nav-erase-account",
    NavLogout = "nav-logout",
    NavAccessLog = "nav-access-log",
    AccessLogTitle = "access-log-title",
    AccessLogIntro = "access-log-intro",
    AccessLogEmpty = "access-log-empty",
    AccessLogWhen = "access-log-when",
    AccessLogWho = "access-log-who",
    AccessLogWhat = "access-log-what",
    AccessLogResult = "access-log-result",
    AccessLogProof = "access-log-proof",
    AccessLogProofOk = "access-log-proof-ok",
    AccessLogProofPending = "access-log-proof-pending",
    AccessLogProofFailed = "access-log-proof-failed",
    AccessLogHowToCheck = "access-log-how-to-check",
    AccessLogJsonLink = "access-log-json-link",
    AccessLogOlder = "access-log-older",
    ActorYou = "actor-you",
    ActorSystem = "actor-system",
    ActorStaff = "actor-staff",
    OutcomeSuccess = "outcome-success",
    OutcomeRefused = "outcome-refused",
    OutcomeFailed = "outcome-failed",
    ActionLogin = "action-login",
    ActionLogout = "action-logout",
    ActionUpload = "action-upload",
    ActionView = "action-view",
    ActionDownload = "action-download",
    ActionDelete = "action-delete",
    ActionErase = "action-erase",
    ActionRelease = "action-release",
    ActionRequestCreate = "action-request-create",
    ActionRequestApprove = "action-request-approve",
    ActionRequestDeny = "action-request-deny",
    ActionGrantRevoke = "action-grant-revoke",
    ActionOther = "action-other",
    LoggedInStatus = "logged-in-status",
    LoginLevelPrefix = "login-level-prefix",
    /// Shown in both languages at once on every page in development mode.
    DevModeBanner = "dev-mode-banner",
    FooterText = "footer-text",
    /// Put in front of the page title when a form has errors.
    ErrorTitlePrefix = "error-title-prefix",
    // Start page
    StartTitle = "start-title",
    StartIntroWhat = "start-intro-what",
    StartIntroEncrypted = "start-intro-encrypted",
    StartIntroLogin = "start-intro-login",
    LoginHeading = "login-heading",
    LoginWithOnlineId = "login-with-online-id",
    LoginUnavailable = "login-unavailable",
    GoToMyEvidence = "go-to-my-evidence",
    // Evidence list
    EvidenceListTitle = "evidence-list-title",
    EvidenceTableCaption = "evidence-table-caption",
    ColumnType = "column-type",
    ColumnStoredOn = "column-stored-on",
    ColumnFile = "column-file",
    HasFileYes = "has-file-yes",
    HasFileNo = "has-file-no",
    EvidenceListEmpty = "evidence-list-empty",
    AddEvidence = "add-evidence",
    // Choose a type
    ChooseTypeTitle = "choose-type-title",
    ChooseTypeLegend = "choose-type-legend",
    NeedsHigherLevel = "needs-higher-level",
    Continue = "continue",
    NoTypesAvailable = "no-types-available",
    // Upload form
    UploadIntro = "upload-intro",
    RequiredExplanation = "required-explanation",
    RequiredMarker = "required-marker",
    ErrorSummaryTitle = "error-summary-title",
    ErrorLabel = "error-label",
    DateHint = "date-hint",
    MoneyHint = "money-hint",
    SelectPlaceholder = "select-placeholder",
    FileLabel = "file-label",
    SaveEvidence = "save-evidence",
    Cancel = "cancel",
    // Evidence detail
    StoredOn = "stored-on",
    DetailsHeading = "details-heading",
    NoDetails = "no-details",
    FileHeading = "file-heading",
    DownloadFile = "download-file",
    NoFile = "no-file",
    DeleteEvidence = "delete-evidence",
    BackToList = "back-to-list",
    // Delete confirmation
    DeleteConfirmTitle = "delete-confirm-title",
    DeleteConfirmWhich = "delete-confirm-which",
    CannotBeUndone = "cannot-be-undone",
    DeleteGoneForGood = "delete-gone-for-good",
    DeleteForGood = "delete-for-good",
    KeepIt = "keep-it",
    // Erase account
    EraseTitle = "erase-title",
    EraseKeyExplanation = "erase-key-explanation",
    EraseShredExplanation = "erase-shred-explanation",
    EraseAfterwards = "erase-afterwards",
    EraseConfirmLabel = "erase-confirm-label",
    EraseForGood = "erase-for-good",
    // Error page
    ErrorCodeLabel = "error-code-label",
    BackToStart = "back-to-start",
    // Logged out
    LoggedOutTitle = "logged-out-title",
    // The access log, by whom
    AccessLogOthersHeading = "access-log-others-heading",
    AccessLogOthersCaption = "access-log-others-caption",
    AccessLogOthersEmpty = "access-log-others-empty",
    AccessLogOwnHeading = "access-log-own-heading",
    AccessLogOwnCaption = "access-log-own-caption",
    AccessLogProofQuestion = "access-log-proof-question",
    AccessLogProofExplained = "access-log-proof-explained",
    // Consent: contact and what denying means
    ConsentContact = "consent-contact",
    ConsentDenyHeading = "consent-deny-heading",
    ConsentDenyMeans = "consent-deny-means",
    // Consent: the summary before sending, and the file (issue 15 item 4)
    ConsentContinue = "consent-continue",
    ConsentFileLegend = "consent-file-legend",
    ConsentFileShowsMore = "consent-file-shows-more",
    ConsentFileNeeded = "consent-file-needed",
    ConsentFileLeaveOut = "consent-file-leave-out",
    ConsentFileLeaveOutHint = "consent-file-leave-out-hint",
    ConsentSummaryTitle = "consent-summary-title",
    ConsentSummaryNothingYet = "consent-summary-nothing-yet",
    ConsentSummaryToWhom = "consent-summary-to-whom",
    ConsentSummaryWhichData = "consent-summary-which-data",
    ConsentSummaryFile = "consent-summary-file",
    ConsentSummaryFileNone = "consent-summary-file-none",
    ConsentSummaryFileLeftOut = "consent-summary-file-left-out",
    ConsentSummaryFileShowsMore = "consent-summary-file-shows-more",
    ConsentSummaryHowLong = "consent-summary-how-long",
    ConsentSummaryHowOften = "consent-summary-how-often",
    ConsentSummaryChange = "consent-summary-change",
    ConsentSummaryShareHint = "consent-summary-share-hint",
    GrantsFilesLeftOut = "grants-files-left-out",
    // Revoking a grant
    GrantsWithFiles = "grants-with-files",
    RevokeConfirmTitle = "revoke-confirm-title",
    RevokeFetchedStays = "revoke-fetched-stays",
    RevokeConfirmButton = "revoke-confirm-button",
    RevokeKeep = "revoke-keep",
    // My data (GDPR Art. 15 and 20)
    MyDataLink = "my-data-link",
    MyDataTitle = "my-data-title",
    MyDataIntro = "my-data-intro",
    MyDataEvidence = "my-data-evidence",
    MyDataGrants = "my-data-grants",
    MyDataLog = "my-data-log",
    MyDataFormats = "my-data-formats",
    MyDataAudited = "my-data-audited",
    MyDataButton = "my-data-button",
    SummaryTitle = "summary-title",
    SummaryExportedAt = "summary-exported-at",
    SummaryNotIncluded = "summary-not-included",
    SummaryLog = "summary-log",
    // Confirmations
    NoticeStored = "notice-stored",
    NoticeDeleted = "notice-deleted",
    ErasedTitle = "erased-title",
    ErasedText = "erased-text",
    LoggedOutText = "logged-out-text",
    LoginAgain = "login-again",
    // Data-protection officers
    DpoNavLabel = "dpo-nav-label",
    DpoNavQuery = "dpo-nav-query",
    DpoNavStats = "dpo-nav-stats",
    DpoNavVerify = "dpo-nav-verify",
    DpoLogout = "dpo-logout",
    DpoStaffStatus = "dpo-staff-status",
    DpoStaffLogin = "dpo-staff-login",
    DpoQueryTitle = "dpo-query-title",
    DpoQueryIntro = "dpo-query-intro",
    DpoFilterLegend = "dpo-filter-legend",
    DpoFieldFrom = "dpo-field-from",
    DpoFieldTo = "dpo-field-to",
    DpoFieldAction = "dpo-field-action",
    DpoFieldOutcome = "dpo-field-outcome",
    DpoFieldDepartment = "dpo-field-department",
    DpoFieldService = "dpo-field-service",
    DpoFieldCitizen = "dpo-field-citizen",
    DpoAnyOption = "dpo-any-option",
    DpoOutcomeSuccess = "dpo-outcome-success",
    DpoOutcomeRefused = "dpo-outcome-refused",
    DpoOutcomeFailed = "dpo-outcome-failed",
    DpoSearch = "dpo-search",
    DpoResultsCaption = "dpo-results-caption",
    DpoNoResults = "dpo-no-results",
    DpoColumnSequence = "dpo-column-sequence",
    DpoColumnTime = "dpo-column-time",
    DpoColumnActor = "dpo-column-actor",
    DpoColumnSubject = "dpo-column-subject",
    DpoColumnReason = "dpo-column-reason",
    DpoNextPage = "dpo-next-page",
    DpoExportHeading = "dpo-export-heading",
    DpoExportCsv = "dpo-export-csv",
    DpoExportJsonl = "dpo-export-jsonl",
    DpoStatsTitle = "dpo-stats-title",
    DpoStatsIntro = "dpo-stats-intro",
    DpoStatsEmpty = "dpo-stats-empty",
    DpoStatsTableCaption = "dpo-stats-table-caption",
    DpoStatsChartTitle = "dpo-stats-chart-title",
    DpoStatsColumnMonth = "dpo-stats-column-month",
    DpoStatsColumnGranted = "dpo-stats-column-granted",
    DpoStatsColumnRefused = "dpo-stats-column-refused",
    DpoUnknownDepartment = "dpo-unknown-department",
    DpoVerifyOk = "dpo-verify-ok",
    DpoVerifyFailed = "dpo-verify-failed",
    DpoVerifyWhat = "dpo-verify-what",
    ActionRequestExpire = "action-request-expire",
    ActionPolicyLoad = "action-policy-load",
    ActionKeyOperation = "action-key-operation",
    ActionAuditQuery = "action-audit-query",
    DpoActorCitizen = "dpo-actor-citizen",
    DpoCitizenHint = "dpo-citizen-hint",
    DpoShortIdHint = "dpo-short-id-hint",
    DpoPeriodLabel = "dpo-period-label",
    DpoPeriodAll = "dpo-period-all",
    DpoPeriodShow = "dpo-period-show",
    DpoResultsCaptionOldestFirst = "dpo-results-caption-oldest-first",
    // Consent (a department's access request) and grants
    NavGrants = "nav-grants",
    GoToMyGrants = "go-to-my-grants",
    ConsentWhoHeading = "consent-who-heading",
    ConsentDepartment = "consent-department",
    ConsentService = "consent-service",
    ConsentPurpose = "consent-purpose",
    ConsentLegalBasis = "consent-legal-basis",
    ConsentReference = "consent-reference",
    ConsentAnswerUntil = "consent-answer-until",
    ConsentYouDecide = "consent-you-decide",
    ConsentChooseHeading = "consent-choose-heading",
    ConsentChooseIntro = "consent-choose-intro",
    ConsentFilesShared = "consent-files-shared",
    ConsentWhichDocument = "consent-which-document",
    ConsentDoNotShare = "consent-do-not-share",
    ConsentWhichDetails = "consent-which-details",
    ConsentNotGiven = "consent-not-given",
    ConsentNoDocument = "consent-no-document",
    ConsentNoDocumentNothingShared = "consent-no-document-nothing-shared",
    ConsentComeBack = "consent-come-back",
    ConsentLimitsLegend = "consent-limits-legend",
    ConsentDurationLabel = "consent-duration-label",
    ConsentUsesLabel = "consent-uses-label",
    ConsentRevokeLater = "consent-revoke-later",
    ConsentApprove = "consent-approve",
    ConsentDeny = "consent-deny",
    StepUpTitle = "step-up-title",
    StepUpHowHigh = "step-up-how-high",
    StepUpHowOther = "step-up-how-other",
    StepUpNoDataYet = "step-up-no-data-yet",
    StepUpButton = "step-up-button",
    RequestExpiredTitle = "request-expired-title",
    RequestExpiredText = "request-expired-text",
    RequestAnsweredTitle = "request-answered-title",
    RequestAnsweredText = "request-answered-text",
    RequestNotFoundTitle = "request-not-found-title",
    RequestNotFoundText = "request-not-found-text",
    GrantsTitle = "grants-title",
    GrantsIntro = "grants-intro",
    GrantsEmpty = "grants-empty",
    GrantsFields = "grants-fields",
    GrantsGivenOn = "grants-given-on",
    GrantsValidUntil = "grants-valid-until",
    GrantsUses = "grants-uses",
    GrantsStatus = "grants-status",
    GrantStatusActive = "grant-status-active",
    GrantStatusExpired = "grant-status-expired",
    GrantStatusRevoked = "grant-status-revoked",
    GrantStatusUsedUp = "grant-status-used-up",
    GrantsRevokeNow = "grants-revoke-now",
    GrantsNoticeApproved = "grants-notice-approved",
    GrantsNoticeDenied = "grants-notice-denied",
    GrantsNoticeRevoked = "grants-notice-revoked",
    // Forms that forgive mistakes (issue 15 item 1 and 2): date input parts,
    // a file to choose again, a form error, a restored draft, the page after
    // an expired session.
    DateDay = "date-day",
    DateMonth = "date-month",
    DateYear = "date-year",
    FileChooseAgain = "file-choose-again",
    FormErrorLabel = "form-error-label",
    FormRestored = "form-restored",
    SessionExpiredTitle = "session-expired-title",
    SessionExpiredNothingSaved = "session-expired-nothing-saved",
    SessionExpiredLogin = "session-expired-login",
}

/// The text of `msg` in `lang`, formatted once per process.
pub fn t(lang: Lang, msg: Msg) -> &'static str {
    static PLAIN: LazyLock<[Vec<String>; 2]> = LazyLock::new(|| {
        let all = |lang| Msg::ALL.iter().map(|msg| format(lang, msg.id(), &[])).collect();
        [all(Lang::De), all(Lang::En)]
    });
    let texts = match lang {
        Lang::De => &PLAIN[0],
        Lang::En => &PLAIN[1],
    };
    // `Msg::ALL` lists the variants in declaration order.
    texts.get(msg as usize).map_or_else(|| msg.id(), String::as_str)
}

/// Hint for a text field: "Höchstens 200 Zeichen." / "At most 200 characters."
pub fn text_length_hint(lang: Lang, max_length: usize) -> String {
    format(lang, "text-length-hint", &[("max", max_length.to_string().into())])
}

/// Hint for a whole-number field: "Eine ganze Zahl von 0 bis 99." (The
/// bounds go in as text: they may be negative.)
pub fn integer_range_hint(lang: Lang, min: i64, max: i64) -> String {
    format(lang, "integer-range-hint", &[("min", min.to_string().into()), ("max", max.to_string().into())])
}

/// On every form: how long the session lasts without activity, and that
/// what was typed is kept when it ends.
pub fn session_timeout_note(lang: Lang, minutes: i64) -> String {
    format(lang, "session-timeout-note", &[("minutes", minutes.to_string().into())])
}

/// After an expired session: the typed values are kept, sealed, this long.
pub fn session_expired_kept(lang: Lang, minutes: i64) -> String {
    format(lang, "session-expired-kept", &[("minutes", minutes.to_string().into())])
}

/// Hint for the file input: allowed types and the size limit.
pub fn file_hint(lang: Lang, max_upload_bytes: u64) -> String {
    format(lang, "file-hint", &[("size", Arg::Bytes(max_upload_bytes))])
}

/// The heading of an error page, by status: one list for citizen pages,
/// staff pages and the refusals no handler writes (`rejection`).
pub fn error_title(lang: Lang, status: u16) -> String {
    let id = match status {
        401 | 403 | 404 | 413 | 429 | 503 => format!("error-title-{status}"),
        500.. => "error-title-server".to_owned(),
        _ => "error-title-other".to_owned(),
    };
    format(lang, &id, &[])
}

/// The month of `at` in German civil time, as `YYYY-MM` (for statistics).
pub fn german_month(at: DateTime<Utc>) -> String {
    to_german_time(at).format("%Y-%m").to_string()
}

/// The first instant of a month of German civil time (`YYYY-MM`), in UTC;
/// None for anything else. Daylight saving never switches on the 1st.
pub fn german_month_start(month: &str) -> Option<DateTime<Utc>> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0)?;
    [1, 2]
        .into_iter()
        .map(|hours| (first - Duration::hours(hours)).and_utc())
        .find(|at| to_german_time(*at).naive_local() == first)
}

/// `YYYY-MM` of the month `back` months before the one given (same format).
pub fn months_back(month: &str, back: u32) -> Option<String> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d").ok()?;
    Some(first.checked_sub_months(chrono::Months::new(back))?.format("%Y-%m").to_string())
}

/// A month (`YYYY-MM`) in words: "Mai 2026", "May 2026"; as given when it
/// is not one.
pub fn month_label(lang: Lang, month: &str) -> String {
    match NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d") {
        Ok(first) => {
            format(lang, "month-year", &[("month", first.month().into()), ("year", first.year().to_string().into())])
        }
        Err(_) => month.to_owned(),
    }
}

/// An option of the statistics' period control: the last `months` months.
pub fn period_last_months(lang: Lang, months: u32) -> String {
    format(lang, "dpo-period-last", &[("count", months.into())])
}

/// Which months the statistics count: from the first to the last (both
/// included, in words), or every month up to the last when `first` is None.
pub fn period_shown(lang: Lang, first: Option<&str>, last: &str) -> String {
    let last = month_label(lang, last);
    match first {
        Some(first) => {
            format(lang, "dpo-period-shown", &[("first", month_label(lang, first).into()), ("last", last.into())])
        }
        None => format(lang, "dpo-period-shown-all", &[("last", last.into())]),
    }
}

/// An audit action in words: one wording for the citizen's access log and
/// the DPO's pages alike.
pub fn action_message(action: Action) -> Msg {
    match action {
        Action::Login => Msg::ActionLogin,
        Action::Logout => Msg::ActionLogout,
        Action::EvidenceUpload => Msg::ActionUpload,
        Action::EvidenceView => Msg::ActionView,
        Action::EvidenceDownload => Msg::ActionDownload,
        Action::EvidenceDelete => Msg::ActionDelete,
        Action::AccountErase => Msg::ActionErase,
        Action::Release => Msg::ActionRelease,
        Action::AccessRequestCreate => Msg::ActionRequestCreate,
        Action::AccessRequestApprove => Msg::ActionRequestApprove,
        Action::AccessRequestDeny => Msg::ActionRequestDeny,
        Action::AccessRequestExpire => Msg::ActionRequestExpire,
        Action::GrantRevoke => Msg::ActionGrantRevoke,
        Action::PolicyLoad => Msg::ActionPolicyLoad,
        Action::KeyOperation => Msg::ActionKeyOperation,
        Action::AuditQuery => Msg::ActionAuditQuery,
    }
}

/// The description of the statistics chart, for screen readers.
pub fn stats_chart_summary(lang: Lang, bars: usize, total: u64, largest: u64) -> String {
    format(lang, "stats-chart-summary", &[("bars", bars.into()), ("total", total.into()), ("largest", largest.into())])
}

/// What the verification of the audit log found, one sentence each. The
/// problems are those of `audit::verify::VerifyError` that a log can have
/// (see [`VerifyFinding::problem`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyFinding {
    /// The tree over `entries` leaves was recomputed; `bodies` entry texts
    /// matched their leaf hash, `pruned` had no text any more (retention).
    TreeRecomputed {
        entries: u64,
        bodies: u64,
        pruned: u64,
    },
    /// `count` signed checkpoints matched the recomputed tree.
    CheckpointsMatched {
        count: u64,
    },
    /// The latest checkpoint: its size, root (base64) and a valid signature.
    LatestCheckpoint {
        size: u64,
        root: String,
    },
    NoCheckpointYet,
    // Problems:
    SequenceGap {
        expected: u64,
    },
    TailMissing {
        log_size: u64,
        head_size: u64,
    },
    BodyMismatch {
        index: u64,
    },
    ColumnMismatch {
        index: u64,
        column: &'static str,
    },
    SignatureInvalid {
        size: u64,
    },
    RootMismatch {
        size: u64,
    },
    CheckpointBeyondLog {
        size: u64,
        entries: u64,
    },
    StoreUnreadable,
    // Witnesses (see `witness_findings` in http/dpo.rs):
    NoWitnesses,
    WitnessCosigned {
        name: String,
        size: u64,
    },
    WitnessNotYet {
        name: String,
    },
    /// Not a sign of tampering: the witness is unreachable or misconfigured.
    WitnessTrouble {
        name: String,
        problem: String,
    },
    WitnessRollback {
        name: String,
        witness_size: u64,
        log_size: u64,
    },
    WitnessFork {
        name: String,
        old_size: u64,
        size: u64,
    },
}

impl VerifyFinding {
    /// The finding for a verification error about the log itself; None for
    /// errors that are not about the log (I/O, cancellation, an outage).
    pub fn problem(error: &crate::audit::verify::VerifyError) -> Option<Self> {
        use crate::audit::verify::VerifyError as E;
        Some(match error {
            E::SequenceGap { expected, .. } => Self::SequenceGap { expected: *expected },
            E::TailMissing { log_size, head_size } => Self::TailMissing { log_size: *log_size, head_size: *head_size },
            E::BodyMismatch { index } => Self::BodyMismatch { index: *index },
            E::ColumnMismatch { index, column } => Self::ColumnMismatch { index: *index, column },
            E::CheckpointSignature { size, .. } => Self::SignatureInvalid { size: *size },
            E::CheckpointRootMismatch { size } => Self::RootMismatch { size: *size },
            E::CheckpointBeyondLog { size, log_size } => Self::CheckpointBeyondLog { size: *size, entries: *log_size },
            E::Store(crate::store::StoreError::Corrupt(_)) => Self::StoreUnreadable,
            E::SavedCheckpointSignature { .. }
            | E::SavedCheckpointInconsistent { .. }
            | E::Write(_)
            | E::Cancelled
            | E::Store(_) => return None,
        })
    }
}

pub fn verify_finding(lang: Lang, finding: &VerifyFinding) -> String {
    use VerifyFinding as F;
    let n = |value: &u64| Arg::Number(*value);
    let text = |value: &str| Arg::Text(value.to_owned());
    let (id, args): (&str, Vec<(&str, Arg)>) = match finding {
        F::TreeRecomputed { entries, bodies, pruned } => {
            ("verify-tree-recomputed", vec![("entries", n(entries)), ("bodies", n(bodies)), ("pruned", n(pruned))])
        }
        F::CheckpointsMatched { count } => ("verify-checkpoints-matched", vec![("count", n(count))]),
        F::LatestCheckpoint { size, root } => {
            ("verify-latest-checkpoint", vec![("size", n(size)), ("root", text(root))])
        }
        F::NoCheckpointYet => ("verify-no-checkpoint-yet", vec![]),
        F::SequenceGap { expected } => ("verify-sequence-gap", vec![("expected", n(expected))]),
        F::TailMissing { log_size, head_size } => {
            ("verify-tail-missing", vec![("log_size", n(log_size)), ("head_size", n(head_size))])
        }
        F::BodyMismatch { index } => ("verify-body-mismatch", vec![("index", n(index))]),
        F::ColumnMismatch { index, column } => {
            ("verify-column-mismatch", vec![("index", n(index)), ("column", text(column))])
        }
        F::SignatureInvalid { size } => ("verify-signature-invalid", vec![("size", n(size))]),
        F::RootMismatch { size } => ("verify-root-mismatch", vec![("size", n(size))]),
        F::CheckpointBeyondLog { size, entries } => {
            ("verify-checkpoint-beyond-log", vec![("size", n(size)), ("entries", n(entries))])
        }
        F::StoreUnreadable => ("verify-store-unreadable", vec![]),
        F::NoWitnesses => ("verify-no-witnesses", vec![]),
        F::WitnessCosigned { name, size } => ("verify-witness-cosigned", vec![("name", text(name)), ("size", n(size))]),
        F::WitnessNotYet { name } => ("verify-witness-not-yet", vec![("name", text(name))]),
        F::WitnessTrouble { name, problem } => {
            ("verify-witness-trouble", vec![("name", text(name)), ("problem", text(problem))])
        }
        F::WitnessRollback { name, witness_size, log_size } => (
            "verify-witness-rollback",
            vec![("name", text(name)), ("witness_size", n(witness_size)), ("log_size", n(log_size))],
        ),
        F::WitnessFork { name, old_size, size } => {
            ("verify-witness-fork", vec![("name", text(name)), ("old_size", n(old_size)), ("size", n(size))])
        }
    };
    format(lang, id, &args)
}

/// The consent page's heading: "Wohngeldstelle bittet um Ihre Daten".
pub fn consent_heading(lang: Lang, department: &str) -> String {
    format(lang, "consent-heading", &[("department", department.into())])
}

/// A login level in words, as the citizen knows it.
pub fn login_level_name(lang: Lang, level: LoginLevel) -> String {
    let level = match level {
        LoginLevel::Low => "low",
        LoginLevel::Substantial => "substantial",
        LoginLevel::High => "high",
    };
    format(lang, "login-level", &[("level", level.into())])
}

/// Step-up page: who asks for what.
pub fn step_up_who(lang: Lang, department: &str, service: &str) -> String {
    format(lang, "step-up-who", &[("department", department.into()), ("service", service.into())])
}

/// Step-up page: the level this needs and the level of the current login.
pub fn step_up_levels(lang: Lang, required: LoginLevel, current: LoginLevel) -> String {
    let (required, current) = (login_level_name(lang, required), login_level_name(lang, current));
    format(lang, "step-up-levels", &[("required", required.into()), ("current", current.into())])
}

/// Access log: the service an office's access was for.
pub fn access_for_service(lang: Lang, service: &str) -> String {
    format(lang, "access-for-service", &[("service", service.into())])
}

/// Access log: the office's case reference.
pub fn access_reference(lang: Lang, reference: &str) -> String {
    format(lang, "access-reference", &[("reference", reference.into())])
}

/// Access log: the fields an access concerned (labels, joined).
pub fn access_fields(lang: Lang, fields: &str) -> String {
    format(lang, "access-fields", &[("fields", fields.into())])
}

/// Access log: the link to the approval an access was made under, with the
/// use of it when known ("2. Nutzung Ihrer Freigabe").
pub fn access_under_grant(lang: Lang, grant_use: Option<u32>) -> String {
    match grant_use {
        Some(count) => format(lang, "access-under-grant-use", &[("count", count.into())]),
        None => format(lang, "access-under-grant", &[]),
    }
}

/// Access log: how many entries the signed state the proofs were checked
/// against has.
pub fn access_log_checkpoint(lang: Lang, size: u64) -> String {
    format(lang, "access-log-checkpoint", &[("count", size.into())])
}

/// Revoke confirmation: what revoking stops.
pub fn revoke_stops(lang: Lang, department: &str) -> String {
    format(lang, "revoke-stops", &[("department", department.into())])
}

/// "30 Tage" / "30 days".
pub fn days(lang: Lang, days: u32) -> String {
    format(lang, "days", &[("count", days.into())])
}

/// "3 Mal" / "3 times".
pub fn times(lang: Lang, count: u32) -> String {
    format(lang, "times", &[("count", count.into())])
}

/// Hint under the duration choice: the longest duration and its end date.
pub fn duration_hint(lang: Lang, max_days: u32, latest_end: DateTime<Utc>) -> String {
    let args = [("days", days(lang, max_days).into()), ("date", format_date(lang, latest_end).into())];
    format(lang, "duration-hint", &args)
}

/// Hint under the uses choice.
pub fn uses_hint(lang: Lang, max_uses: u32) -> String {
    format(lang, "uses-hint", &[("times", times(lang, max_uses).into())])
}

/// The label of one document to choose: "Dokument vom 23.11.2026".
pub fn document_from(lang: Lang, stored: DateTime<Utc>) -> String {
    format(lang, "document-from", &[("date", format_date(lang, stored).into())])
}

/// Under a document: its file goes to the office too.
pub fn file_shared(lang: Lang, name: &str, kind: &str, size: u64) -> String {
    let args = [("name", name.into()), ("kind", kind.into()), ("size", Arg::Bytes(size))];
    format(lang, "file-shared", &args)
}

/// Summary before sending: until when and for how long ("bis zum
/// 06.01.2027 (30 Tage)").
pub fn consent_summary_until(lang: Lang, end: DateTime<Utc>, duration_days: u32) -> String {
    let args = [("date", format_date(lang, end).into()), ("days", days(lang, duration_days).into())];
    format(lang, "consent-summary-until", &args)
}

/// "1 von 3" / "1 of 3".
pub fn uses_of(lang: Lang, uses: u32, max_uses: u32) -> String {
    format(lang, "uses-of", &[("uses", uses.into()), ("max", max_uses.into())])
}

/// A date as people in Germany read it: de "23.11.2026", en "23 November 2026".
///
/// The calendar day is taken in German civil time (CET/CEST), not UTC, so an
/// upload at 00:30 in Berlin does not show yesterday's date.
pub fn format_date(lang: Lang, at: DateTime<Utc>) -> String {
    let local = to_german_time(at);
    match lang {
        Lang::De => local.format("%d.%m.%Y").to_string(),
        Lang::En => local.format("%-d %B %Y").to_string(),
    }
}

/// A date and time of day in German civil time: de "23.11.2026, 14:30 Uhr",
/// en "23 November 2026, 14:30 (German time)".
pub fn format_date_time(lang: Lang, at: DateTime<Utc>) -> String {
    let time = to_german_time(at).format("%H:%M").to_string();
    format(lang, "date-time", &[("date", format_date(lang, at).into()), ("time", time.into())])
}

/// A stored field value as a person reads it in `lang`: dates as dates
/// ("01.12.2026" / "1 December 2026"), amounts with their currency and the
/// language's separators ("1.234,50 €" / "€1,234.50"), the label of a
/// choice; anything else (and a value that does not parse) as stored.
pub fn field_value(lang: Lang, kind: &FieldKind, stored: &str) -> String {
    match kind {
        FieldKind::Date => NaiveDate::parse_from_str(stored, "%Y-%m-%d").map_or_else(
            |_| stored.to_owned(),
            |date| match lang {
                Lang::De => date.format("%d.%m.%Y").to_string(),
                Lang::En => date.format("%-d %B %Y").to_string(),
            },
        ),
        FieldKind::Money => format_money(lang, stored).unwrap_or_else(|| stored.to_owned()),
        FieldKind::Enum { values } => values
            .iter()
            .find(|choice| choice.value == stored)
            .map_or_else(|| stored.to_owned(), |choice| choice.label.get(lang).to_owned()),
        FieldKind::Text { .. } | FieldKind::Integer { .. } => stored.to_owned(),
    }
}

/// `1234.50` (as stored) as "1.234,50 €" (de) or "€1,234.50" (en).
fn format_money(lang: Lang, stored: &str) -> Option<String> {
    let (euros, cents) = stored.split_once('.')?;
    if euros.is_empty() || cents.len() != 2 || !euros.bytes().chain(cents.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (group, decimal) = match lang {
        Lang::De => ('.', ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::with_capacity(euros.len() + euros.len() / 3);
    for (index, digit) in euros.chars().enumerate() {
        if index > 0 && (euros.len() - index) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(digit);
    }
    Some(match lang {
        Lang::De => format!("{grouped}{decimal}{cents} €"),
        Lang::En => format!("€{grouped}{decimal}{cents}"),
    })
}

/// A file size in decimal units (1 kB = 1000 bytes), rounded down to one
/// decimal place so a size limit is never overstated: de "1,5 MB", en "1.5 MB".
pub fn format_bytes(lang: Lang, bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] =
        [(1_000_000_000_000, "TB"), (1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB")];
    let Some(&(unit_size, unit)) = UNITS.iter().find(|(size, _)| bytes >= *size) else {
        return format(lang, "bytes", &[("count", bytes.into())]);
    };
    let tenths = u128::from(bytes) * 10 / u128::from(unit_size);
    let (whole, fraction) = (tenths / 10, tenths % 10);
    let separator = match lang {
        Lang::De => ",",
        Lang::En => ".",
    };
    if fraction == 0 { format!("{whole} {unit}") } else { format!("{whole}{separator}{fraction} {unit}") }
}

fn parse_lang_code(code: &str) -> Option<Lang> {
    let code = code.trim();
    if code.eq_ignore_ascii_case("de") {
        Some(Lang::De)
    } else if code.eq_ignore_ascii_case("en") {
        Some(Lang::En)
    } else {
        None
    }
}

/// Best supported language from an Accept-Language header, e.g.
/// `fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7`. Ties keep header order; `q=0`
/// means "not acceptable"; malformed entries are skipped.
fn best_from_accept_language(header: &str) -> Option<Lang> {
    // Headers are attacker-controlled; a real browser sends a handful.
    const MAX_ENTRIES: usize = 32;
    let mut best: Option<(Lang, u16)> = None;
    for entry in header.split(',').take(MAX_ENTRIES) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let primary = tag.split('-').next().unwrap_or_default();
        let Some(lang) = parse_lang_code(primary) else {
            continue;
        };
        let mut quality = Some(1000);
        for parameter in parts {
            if let Some((name, value)) = parameter.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                quality = parse_quality(value.trim());
            }
        }
        let Some(quality) = quality else { continue };
        if quality == 0 {
            continue;
        }
        if best.is_none_or(|(_, best_quality)| quality > best_quality) {
            best = Some((lang, quality));
        }
    }
    best.map(|(lang, _)| lang)
}

/// RFC 9110 qvalue ("0", "0.8", "1.000") as thousandths; None if malformed.
fn parse_quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// German civil time: CET (UTC+1), and CEST (UTC+2) from 01:00 UTC on the
/// last Sunday of March to 01:00 UTC on the last Sunday of October (EU rule).
fn to_german_time(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    const HOUR: i32 = 3600;
    let year = at.year();
    let summer_starts = last_sunday_0100_utc(year, 3);
    let summer_ends = last_sunday_0100_utc(year, 10);
    let offset_seconds = match (summer_starts, summer_ends) {
        (Some(start), Some(end)) if at >= start && at < end => 2 * HOUR,
        _ => HOUR,
    };
    // Both offsets are far inside the ±24 h range FixedOffset accepts.
    let offset = FixedOffset::east_opt(offset_seconds).unwrap_or_else(|| Utc.fix());
    at.with_timezone(&offset)
}

fn last_sunday_0100_utc(year: i32, month: u32) -> Option<DateTime<Utc>> {
    let last_day = NaiveDate::from_ymd_opt(year, month, 31)?;
    let days_back = last_day.weekday().days_since(Weekday::Sun);
    let sunday = last_day - Duration::days(i64::from(days_back));
    Some(sunday.and_hms_opt(1, 0, 0)?.and_utc())
}
