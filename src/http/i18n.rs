//! Language choice and every user-visible text of the web pages, in German
//! and English. Texts follow the spirit of "Einfache Sprache": short
//! sentences, everyday words, no technical jargon.
//!
//! Every message is matched exhaustively, so a missing translation (or a new
//! language) fails to compile instead of showing an empty string.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Offset, Utc, Weekday};

use crate::policy::{Lang, LoginLevel};

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
    ($($(#[$meta:meta])* $variant:ident),+ $(,)?) => {
        /// One user-visible text. Translate with [`t`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Msg {
            $($(#[$meta])* $variant),+
        }

        impl Msg {
            /// Every message; generated from the same list as the enum, so it
            /// cannot fall out of date.
            pub const ALL: &'static [Msg] = &[$(Msg::$variant),+];
        }
    };
}

messages! {
    // Layout
    SkipToContent,
    LanguageNavLabel,
    MainNavLabel,
    NavMyEvidence,
    NavAddEvidence,
    NavEraseAccount,
    NavLogout,
    NavAccessLog,
    AccessLogTitle,
    AccessLogIntro,
    AccessLogEmpty,
    AccessLogCaption,
    AccessLogWhen,
    AccessLogWho,
    AccessLogWhat,
    AccessLogResult,
    AccessLogProof,
    AccessLogProofOk,
    AccessLogProofPending,
    AccessLogProofFailed,
    AccessLogCheckpoint,
    AccessLogHowToCheck,
    AccessLogJsonLink,
    AccessLogOlder,
    ActorYou,
    ActorSystem,
    ActorStaff,
    OutcomeSuccess,
    OutcomeRefused,
    OutcomeFailed,
    ActionLogin,
    ActionLogout,
    ActionUpload,
    ActionView,
    ActionDownload,
    ActionDelete,
    ActionErase,
    ActionRelease,
    ActionRequestCreate,
    ActionRequestApprove,
    ActionRequestDeny,
    ActionGrantRevoke,
    ActionOther,
    LoggedInStatus,
    LoginLevelPrefix,
    /// Shown in both languages at once on every page in development mode.
    DevModeBanner,
    FooterText,
    /// Put in front of the page title when a form has errors.
    ErrorTitlePrefix,
    // Start page
    StartTitle,
    StartIntroWhat,
    StartIntroEncrypted,
    StartIntroLogin,
    LoginHeading,
    LoginWithOnlineId,
    LoginUnavailable,
    GoToMyEvidence,
    // Evidence list
    EvidenceListTitle,
    EvidenceTableCaption,
    ColumnType,
    ColumnStoredOn,
    ColumnFile,
    HasFileYes,
    HasFileNo,
    EvidenceListEmpty,
    AddEvidence,
    // Choose a type
    ChooseTypeTitle,
    ChooseTypeLegend,
    NeedsHigherLevel,
    Continue,
    NoTypesAvailable,
    // Upload form
    UploadIntro,
    RequiredExplanation,
    RequiredMarker,
    ErrorSummaryTitle,
    ErrorLabel,
    DateHint,
    MoneyHint,
    SelectPlaceholder,
    FileLabel,
    SaveEvidence,
    Cancel,
    // Evidence detail
    StoredOn,
    DetailsHeading,
    NoDetails,
    FileHeading,
    DownloadFile,
    NoFile,
    DeleteEvidence,
    BackToList,
    // Delete confirmation
    DeleteConfirmTitle,
    DeleteConfirmWhich,
    CannotBeUndone,
    DeleteGoneForGood,
    DeleteForGood,
    KeepIt,
    // Erase account
    EraseTitle,
    EraseKeyExplanation,
    EraseShredExplanation,
    EraseAfterwards,
    EraseConfirmLabel,
    EraseForGood,
    // Error page
    ErrorCodeLabel,
    BackToStart,
    // Logged out
    LoggedOutTitle,
    LoggedOutText,
    LoginAgain,
    // Data-protection officers
    DpoNavLabel,
    DpoNavQuery,
    DpoNavStats,
    DpoNavVerify,
    DpoLogout,
    DpoStaffStatus,
    DpoStaffLogin,
    DpoQueryTitle,
    DpoQueryIntro,
    DpoFilterLegend,
    DpoFieldFrom,
    DpoFieldTo,
    DpoFieldAction,
    DpoFieldOutcome,
    DpoFieldDepartment,
    DpoFieldService,
    DpoFieldCitizen,
    DpoAnyOption,
    DpoOutcomeSuccess,
    DpoOutcomeRefused,
    DpoOutcomeFailed,
    DpoSearch,
    DpoResultsCaption,
    DpoNoResults,
    DpoColumnSequence,
    DpoColumnTime,
    DpoColumnActor,
    DpoColumnSubject,
    DpoColumnReason,
    DpoNextPage,
    DpoExportHeading,
    DpoExportCsv,
    DpoExportJsonl,
    DpoStatsTitle,
    DpoStatsIntro,
    DpoStatsEmpty,
    DpoStatsTableCaption,
    DpoStatsChartTitle,
    DpoStatsColumnMonth,
    DpoStatsColumnGranted,
    DpoStatsColumnRefused,
    DpoUnknownDepartment,
    DpoVerifyOk,
    DpoVerifyFailed,
    DpoVerifyWhat,
    // Consent (a department's access request) and grants
    NavGrants,
    GoToMyGrants,
    ConsentWhoHeading,
    ConsentDepartment,
    ConsentService,
    ConsentPurpose,
    ConsentLegalBasis,
    ConsentReference,
    ConsentAnswerUntil,
    ConsentYouDecide,
    ConsentChooseHeading,
    ConsentChooseIntro,
    ConsentFilesShared,
    ConsentWhichDocument,
    ConsentDoNotShare,
    ConsentWhichDetails,
    ConsentNotGiven,
    ConsentNoDocument,
    ConsentNoDocumentNothingShared,
    ConsentComeBack,
    ConsentLimitsLegend,
    ConsentDurationLabel,
    ConsentUsesLabel,
    ConsentRevokeLater,
    ConsentApprove,
    ConsentDeny,
    StepUpTitle,
    StepUpHowHigh,
    StepUpHowOther,
    StepUpNoDataYet,
    StepUpButton,
    RequestExpiredTitle,
    RequestExpiredText,
    RequestAnsweredTitle,
    RequestAnsweredText,
    RequestNotFoundTitle,
    RequestNotFoundText,
    GrantsTitle,
    GrantsIntro,
    GrantsEmpty,
    GrantsFields,
    GrantsGivenOn,
    GrantsValidUntil,
    GrantsUses,
    GrantsStatus,
    GrantStatusActive,
    GrantStatusExpired,
    GrantStatusRevoked,
    GrantStatusUsedUp,
    GrantsRevokeNow,
    GrantsNoticeApproved,
    GrantsNoticeDenied,
    GrantsNoticeRevoked,
}

/// The text of `msg` in `lang`.
pub fn t(lang: Lang, msg: Msg) -> &'static str {
    let (de, en) = match msg {
        Msg::SkipToContent => ("Zum Inhalt springen", "Skip to main content"),
        Msg::LanguageNavLabel => ("Sprache", "Language"),
        Msg::MainNavLabel => ("Hauptmenü", "Main menu"),
        Msg::NavMyEvidence => ("Meine Nachweise", "My evidence"),
        Msg::NavAddEvidence => ("Nachweis hinzufügen", "Add evidence"),
        Msg::NavEraseAccount => ("Konto löschen", "Delete account"),
        Msg::NavLogout => ("Abmelden", "Log out"),
        Msg::NavAccessLog => ("Wer hat meine Daten gesehen?", "Who saw my data?"),
        Msg::AccessLogTitle => ("Zugriffe auf meine Daten", "Access to my data"),
        Msg::AccessLogIntro => (
            "Hier steht jeder Zugriff auf Ihre Daten. Niemand kann einen Eintrag heimlich löschen.",
            "Every access to your data is listed here. Nobody can secretly remove an entry.",
        ),
        Msg::AccessLogEmpty => ("Es gibt noch keine Einträge.", "There are no entries yet."),
        Msg::AccessLogCaption => ("Alle Zugriffe, die neuesten zuerst", "All accesses, newest first"),
        Msg::AccessLogWhen => ("Wann", "When"),
        Msg::AccessLogWho => ("Wer", "Who"),
        Msg::AccessLogWhat => ("Was", "What"),
        Msg::AccessLogResult => ("Ergebnis", "Result"),
        Msg::AccessLogProof => ("Nachweis im Protokoll", "Proof in the log"),
        Msg::AccessLogProofOk => ("geprüft", "checked"),
        Msg::AccessLogProofPending => ("folgt bald", "follows soon"),
        Msg::AccessLogProofFailed => ("Fehler! Bitte melden Sie das.", "Error! Please report this."),
        Msg::AccessLogCheckpoint => {
            ("Geprüft gegen den signierten Stand mit Einträgen:", "Checked against the signed state with entries:")
        }
        Msg::AccessLogHowToCheck => (
            "Sie können jeden Nachweis auch selbst prüfen. Die Daten dafür gibt es hier:",
            "You can also check every proof yourself. The data for this is here:",
        ),
        Msg::AccessLogJsonLink => ("Protokoll mit Nachweisen (JSON)", "Log with proofs (JSON)"),
        Msg::AccessLogOlder => ("Ältere Einträge", "Older entries"),
        Msg::ActorYou => ("Sie", "You"),
        Msg::ActorSystem => ("tresor (automatisch)", "tresor (automatic)"),
        Msg::ActorStaff => ("Datenschutz der Stadt", "City data protection"),
        Msg::OutcomeSuccess => ("erfolgt", "done"),
        Msg::OutcomeRefused => ("abgelehnt", "refused"),
        Msg::OutcomeFailed => ("fehlgeschlagen", "failed"),
        Msg::ActionLogin => ("Anmeldung", "Login"),
        Msg::ActionLogout => ("Abmeldung", "Logout"),
        Msg::ActionUpload => ("Nachweis hochgeladen", "Evidence uploaded"),
        Msg::ActionView => ("Nachweis angesehen", "Evidence viewed"),
        Msg::ActionDownload => ("Datei heruntergeladen", "File downloaded"),
        Msg::ActionDelete => ("Nachweis gelöscht", "Evidence deleted"),
        Msg::ActionErase => ("Konto gelöscht", "Account deleted"),
        Msg::ActionRelease => ("Daten an ein Amt gegeben", "Data given to an office"),
        Msg::ActionRequestCreate => ("Anfrage eines Amts gestellt", "An office asked for data"),
        Msg::ActionRequestApprove => ("Freigabe erteilt", "Approval given"),
        Msg::ActionRequestDeny => ("Anfrage abgelehnt", "Request denied"),
        Msg::ActionGrantRevoke => ("Freigabe widerrufen", "Approval revoked"),
        Msg::ActionOther => ("Sonstiger Zugriff", "Other access"),
        Msg::LoggedInStatus => ("Sie sind angemeldet.", "You are logged in."),
        Msg::LoginLevelPrefix => ("Sicherheitsniveau:", "Security level:"),
        Msg::DevModeBanner => (
            "Entwicklungsmodus – Test-Anmeldungen, Wegwerf-Schlüssel, keine echten Daten",
            "Development mode – test logins, throwaway keys, no real data",
        ),
        Msg::FooterText => (
            "tresor – der sichere Ort für Ihre Nachweise bei der Stadt.",
            "tresor – the safe place for your evidence at the city.",
        ),
        Msg::ErrorTitlePrefix => ("Fehler", "Error"),
        Msg::StartTitle => ("Willkommen bei tresor", "Welcome to tresor"),
        Msg::StartIntroWhat => (
            "Hier können Sie Nachweise für die Stadt sicher aufbewahren. \
             Zum Beispiel eine Einkommens-Bescheinigung oder eine Melde-Bescheinigung.",
            "Here you can keep evidence for the city in a safe place. \
             For example proof of income or proof of address.",
        ),
        Msg::StartIntroEncrypted => (
            "Ihre Nachweise werden verschlüsselt gespeichert. Nur mit Ihrer Erlaubnis kann die Stadt sie sehen.",
            "Your evidence is stored encrypted. The city can only see it with your permission.",
        ),
        Msg::StartIntroLogin => ("Sie melden sich mit Ihrem Online-Ausweis an.", "You log in with your online ID."),
        Msg::LoginHeading => ("Anmelden", "Log in"),
        Msg::LoginWithOnlineId => ("Mit Online-Ausweis anmelden", "Log in with your online ID"),
        Msg::LoginUnavailable => (
            "Die Anmeldung ist gerade nicht möglich. Bitte versuchen Sie es später noch einmal.",
            "You cannot log in right now. Please try again later.",
        ),
        Msg::GoToMyEvidence => ("Zu meinen Nachweisen", "Go to my evidence"),
        Msg::EvidenceListTitle => ("Meine Nachweise", "My evidence"),
        Msg::EvidenceTableCaption => ("Ihre gespeicherten Nachweise", "Your stored evidence"),
        Msg::ColumnType => ("Art des Nachweises", "Type of evidence"),
        Msg::ColumnStoredOn => ("Gespeichert am", "Stored on"),
        Msg::ColumnFile => ("Datei", "File"),
        Msg::HasFileYes => ("Ja", "Yes"),
        Msg::HasFileNo => ("Nein", "No"),
        Msg::EvidenceListEmpty => {
            ("Sie haben noch keine Nachweise gespeichert.", "You have not stored any evidence yet.")
        }
        Msg::AddEvidence => ("Nachweis hinzufügen", "Add evidence"),
        Msg::ChooseTypeTitle => ("Welchen Nachweis möchten Sie hinzufügen?", "Which evidence do you want to add?"),
        Msg::ChooseTypeLegend => ("Art des Nachweises", "Type of evidence"),
        Msg::NeedsHigherLevel => (
            "Dafür brauchen Sie eine Anmeldung mit Sicherheitsniveau „hoch“.",
            "For this you must log in with security level “high”.",
        ),
        Msg::Continue => ("Weiter", "Continue"),
        Msg::NoTypesAvailable => {
            ("Sie können gerade keine Nachweise hinzufügen.", "You cannot add evidence right now.")
        }
        Msg::UploadIntro => ("Bitte füllen Sie das Formular aus.", "Please fill in the form."),
        Msg::RequiredExplanation => {
            ("Felder mit „(Pflichtfeld)“ müssen Sie ausfüllen.", "You must fill in fields marked “(required)”.")
        }
        Msg::RequiredMarker => ("(Pflichtfeld)", "(required)"),
        Msg::ErrorSummaryTitle => ("Bitte prüfen Sie Ihre Angaben", "Please check your answers"),
        Msg::ErrorLabel => ("Fehler:", "Error:"),
        Msg::DateHint => (
            "Format: TT.MM.JJJJ oder JJJJ-MM-TT. Zum Beispiel 23.11.2026.",
            "Format: YYYY-MM-DD or DD.MM.YYYY. For example 2026-11-23.",
        ),
        Msg::MoneyHint => {
            ("Betrag in Euro (EUR). Zum Beispiel 1250,50.", "Amount in euros (EUR). For example 1250.50.")
        }
        Msg::SelectPlaceholder => ("Bitte wählen", "Please choose"),
        Msg::FileLabel => ("Datei", "File"),
        Msg::SaveEvidence => ("Nachweis speichern", "Save evidence"),
        Msg::Cancel => ("Abbrechen", "Cancel"),
        Msg::StoredOn => ("Gespeichert am", "Stored on"),
        Msg::DetailsHeading => ("Angaben", "Details"),
        Msg::NoDetails => ("Es gibt keine weiteren Angaben.", "There are no other details."),
        Msg::FileHeading => ("Datei", "File"),
        Msg::DownloadFile => ("Datei herunterladen", "Download file"),
        Msg::NoFile => ("Zu diesem Nachweis gibt es keine Datei.", "There is no file for this evidence."),
        Msg::DeleteEvidence => ("Nachweis löschen", "Delete evidence"),
        Msg::BackToList => ("Zurück zu meinen Nachweisen", "Back to my evidence"),
        Msg::DeleteConfirmTitle => ("Nachweis wirklich löschen?", "Really delete this evidence?"),
        Msg::DeleteConfirmWhich => ("Sie möchten diesen Nachweis löschen:", "You want to delete this evidence:"),
        Msg::CannotBeUndone => ("Das können Sie nicht rückgängig machen.", "You cannot undo this."),
        Msg::DeleteGoneForGood => (
            "Der Nachweis und seine Datei sind danach für immer weg.",
            "The evidence and its file will be gone for good.",
        ),
        Msg::DeleteForGood => ("Ja, für immer löschen", "Yes, delete for good"),
        Msg::KeepIt => ("Nein, behalten", "No, keep it"),
        Msg::EraseTitle => ("Konto und alle Nachweise löschen", "Delete your account and all evidence"),
        Msg::EraseKeyExplanation => (
            "Ihre Nachweise sind mit einem Schlüssel verschlüsselt. Diesen Schlüssel gibt es nur für Sie.",
            "Your evidence is locked with a key. This key exists only for you.",
        ),
        Msg::EraseShredExplanation => (
            "Wenn Sie Ihr Konto löschen, vernichten wir diesen Schlüssel. \
             Dann kann niemand Ihre Nachweise mehr lesen. Auch wir nicht. \
             Auch nicht aus Sicherungs-Kopien.",
            "If you delete your account, we destroy this key. \
             Then nobody can read your evidence any more. Not even us. \
             Not even from backup copies.",
        ),
        Msg::EraseAfterwards => (
            "Sie können sich später wieder anmelden. Ihre alten Nachweise sind dann aber weg.",
            "You can log in again later. But your old evidence will be gone.",
        ),
        Msg::EraseConfirmLabel => (
            "Ich habe verstanden: Alle meine Nachweise sind dann für immer weg.",
            "I understand: all my evidence will be gone for good.",
        ),
        Msg::EraseForGood => ("Konto für immer löschen", "Delete account for good"),
        Msg::ErrorCodeLabel => ("Fehler-Nummer:", "Error number:"),
        Msg::BackToStart => ("Zur Startseite", "Go to the start page"),
        Msg::LoggedOutTitle => ("Sie sind abgemeldet", "You are logged out"),
        Msg::LoggedOutText => (
            "Danke für Ihren Besuch. Sie können das Fenster jetzt schließen.",
            "Thank you for your visit. You can close this window now.",
        ),
        Msg::LoginAgain => ("Wieder anmelden", "Log in again"),
        Msg::DpoNavLabel => ("Menü Datenschutz", "Data protection menu"),
        Msg::DpoNavQuery => ("Protokoll abfragen", "Query the log"),
        Msg::DpoNavStats => ("Statistik", "Statistics"),
        Msg::DpoNavVerify => ("Protokoll prüfen", "Verify the log"),
        Msg::DpoLogout => ("Abmelden", "Log out"),
        Msg::DpoStaffStatus => (
            "Sie sind als Datenschutz-Beauftragte oder Datenschutz-Beauftragter angemeldet.",
            "You are logged in as data-protection officer.",
        ),
        Msg::DpoStaffLogin => ("Als Mitarbeiterin oder Mitarbeiter anmelden", "Log in as staff"),
        Msg::DpoQueryTitle => ("Zugriffs-Protokoll abfragen", "Query the access log"),
        Msg::DpoQueryIntro => {
            ("Jede Abfrage wird selbst im Protokoll vermerkt.", "Every query is itself recorded in the log.")
        }
        Msg::DpoFilterLegend => ("Filter", "Filters"),
        Msg::DpoFieldFrom => ("Von (Datum, UTC)", "From (date, UTC)"),
        Msg::DpoFieldTo => ("Bis einschließlich (Datum, UTC)", "Up to and including (date, UTC)"),
        Msg::DpoFieldAction => ("Aktion", "Action"),
        Msg::DpoFieldOutcome => ("Ergebnis", "Outcome"),
        Msg::DpoFieldDepartment => ("Amt", "Department"),
        Msg::DpoFieldService => ("Verfahren", "Service"),
        Msg::DpoFieldCitizen => ("Kennung der Bürgerin oder des Bürgers", "Citizen id"),
        Msg::DpoAnyOption => ("Alle", "All"),
        Msg::DpoOutcomeSuccess => ("erfolgreich", "successful"),
        Msg::DpoOutcomeRefused => ("abgelehnt", "refused"),
        Msg::DpoOutcomeFailed => ("fehlgeschlagen", "failed"),
        Msg::DpoSearch => ("Suchen", "Search"),
        Msg::DpoResultsCaption => ("Gefundene Einträge, älteste zuerst", "Matching entries, oldest first"),
        Msg::DpoNoResults => ("Keine Einträge passen zu diesen Filtern.", "No entries match these filters."),
        Msg::DpoColumnSequence => ("Nr.", "No."),
        Msg::DpoColumnTime => ("Zeit (UTC)", "Time (UTC)"),
        Msg::DpoColumnActor => ("Wer", "Who"),
        Msg::DpoColumnSubject => ("Betrifft", "Concerns"),
        Msg::DpoColumnReason => ("Grund", "Reason"),
        Msg::DpoNextPage => ("Weitere Einträge", "More entries"),
        Msg::DpoExportHeading => ("Exportieren", "Export"),
        Msg::DpoExportCsv => ("Als CSV-Datei herunterladen", "Download as a CSV file"),
        Msg::DpoExportJsonl => ("Als JSON-Lines-Datei herunterladen", "Download as a JSON Lines file"),
        Msg::DpoStatsTitle => ("Zugriffe je Amt und Monat", "Accesses per department and month"),
        Msg::DpoStatsIntro => (
            "Gezählt werden Freigaben an Ämter. Die Monate gelten nach deutscher Zeit.",
            "We count releases to departments. Months are in German time.",
        ),
        Msg::DpoStatsEmpty => ("In diesem Zeitraum gab es keine Zugriffe.", "There were no accesses in this period."),
        Msg::DpoStatsTableCaption => {
            ("Zugriffe je Amt und Monat als Tabelle", "Accesses per department and month as a table")
        }
        Msg::DpoStatsChartTitle => {
            ("Balkendiagramm: Zugriffe je Amt und Monat", "Bar chart: accesses per department and month")
        }
        Msg::DpoStatsColumnMonth => ("Monat", "Month"),
        Msg::DpoStatsColumnGranted => ("Zugriffe", "Accesses"),
        Msg::DpoStatsColumnRefused => ("Abgelehnte Versuche", "Refused attempts"),
        Msg::DpoUnknownDepartment => ("ohne Amt", "no department"),
        Msg::DpoVerifyOk => (
            "Das Protokoll ist unverändert. Alle Prüfungen waren erfolgreich.",
            "The log is unchanged. Every check passed.",
        ),
        Msg::DpoVerifyFailed => ("Die Prüfung hat Fehler gefunden", "The check found problems"),
        Msg::DpoVerifyWhat => ("Was geprüft wurde", "What was checked"),
        Msg::NavGrants => ("Meine Freigaben", "My approvals"),
        Msg::GoToMyGrants => ("Zu meinen Freigaben", "Go to my approvals"),
        Msg::ConsentWhoHeading => ("Wer fragt und warum?", "Who is asking and why?"),
        Msg::ConsentDepartment => ("Amt", "Office"),
        Msg::ConsentService => ("Ihr Anliegen", "Service"),
        Msg::ConsentPurpose => ("Wozu das Amt die Daten braucht", "Why the office needs the data"),
        Msg::ConsentLegalBasis => ("Rechtsgrundlage", "Legal basis"),
        Msg::ConsentReference => ("Aktenzeichen des Amts", "The office's case reference"),
        Msg::ConsentAnswerUntil => ("Sie können antworten bis", "You can answer until"),
        Msg::ConsentYouDecide => (
            "Sie entscheiden. Das Amt bekommt nur, was Sie hier auswählen.",
            "You decide. The office only gets what you choose here.",
        ),
        Msg::ConsentChooseHeading => ("Welche Daten möchten Sie teilen?", "Which data do you want to share?"),
        Msg::ConsentChooseIntro => (
            "Wählen Sie für jede Art von Nachweis ein Dokument. Sie können einzelne Angaben abwählen.",
            "Choose one document for each type of evidence. You can leave out single details.",
        ),
        Msg::ConsentFilesShared => (
            "Das Amt bekommt auch die Datei des Dokuments, zum Beispiel das PDF.",
            "The office also gets the file of the document, for example the PDF.",
        ),
        Msg::ConsentWhichDocument => ("Welches Dokument?", "Which document?"),
        Msg::ConsentDoNotShare => ("Dieses Dokument nicht teilen", "Do not share this document"),
        Msg::ConsentWhichDetails => ("Welche Angaben?", "Which details?"),
        Msg::ConsentNotGiven => ("(nicht angegeben)", "(not given)"),
        Msg::ConsentNoDocument => {
            ("Sie haben noch kein Dokument dieser Art gespeichert.", "You have not stored a document of this type yet.")
        }
        Msg::ConsentNoDocumentNothingShared => {
            ("Deshalb bekommt das Amt dazu nichts.", "So the office gets nothing of this type.")
        }
        Msg::ConsentComeBack => {
            ("Nach dem Hochladen kommen Sie auf diese Seite zurück.", "After the upload you come back to this page.")
        }
        Msg::ConsentLimitsLegend => ("Wie lange und wie oft?", "How long and how often?"),
        Msg::ConsentDurationLabel => {
            ("Wie lange darf das Amt die Daten abrufen?", "For how long may the office get the data?")
        }
        Msg::ConsentUsesLabel => ("Wie oft darf das Amt die Daten abrufen?", "How often may the office get the data?"),
        Msg::ConsentRevokeLater => (
            "Sie können die Freigabe jederzeit zurücknehmen. Das geht unter „Meine Freigaben“.",
            "You can take back your approval at any time. Go to “My approvals”.",
        ),
        Msg::ConsentApprove => ("Freigeben", "Approve"),
        Msg::ConsentDeny => ("Ablehnen", "Deny"),
        Msg::StepUpTitle => ("Sicherere Anmeldung nötig", "A more secure login is needed"),
        Msg::StepUpHowHigh => (
            "Das geht mit Ihrem Online-Ausweis. Zum Beispiel mit dem Personalausweis und Ihrer PIN.",
            "You can do this with your online ID. For example with your ID card and your PIN.",
        ),
        Msg::StepUpHowOther => {
            ("Das geht zum Beispiel mit Ihrem Online-Ausweis.", "You can do this with your online ID, for example.")
        }
        Msg::StepUpNoDataYet => {
            ("Ihre Daten zeigen wir erst nach der neuen Anmeldung.", "We show your data only after the new login.")
        }
        Msg::StepUpButton => ("Neu anmelden", "Log in again"),
        Msg::RequestExpiredTitle => ("Diese Anfrage ist abgelaufen", "This request has expired"),
        Msg::RequestExpiredText => (
            "Sie können nicht mehr antworten. Das Amt hat keine Daten bekommen. \
             Das Amt kann Ihnen eine neue Anfrage schicken.",
            "You cannot answer any more. The office got no data. \
             The office can send you a new request.",
        ),
        Msg::RequestAnsweredTitle => ("Diese Anfrage ist schon beantwortet", "This request has already been answered"),
        Msg::RequestAnsweredText => {
            ("Man kann jede Anfrage nur einmal beantworten.", "Each request can only be answered once.")
        }
        Msg::RequestNotFoundTitle => ("Diese Anfrage gibt es nicht", "This request does not exist"),
        Msg::RequestNotFoundText => (
            "Bitte prüfen Sie den Link. Oder bitten Sie das Amt um einen neuen Link.",
            "Please check the link. Or ask the office for a new link.",
        ),
        Msg::GrantsTitle => ("Meine Freigaben", "My approvals"),
        Msg::GrantsIntro => (
            "Hier sehen Sie, welche Ämter Ihre Daten abrufen dürfen. Sie können jede Freigabe sofort zurücknehmen.",
            "Here you see which offices may get your data. You can take back every approval at once.",
        ),
        Msg::GrantsEmpty => ("Sie haben noch keine Daten freigegeben.", "You have not shared any data yet."),
        Msg::GrantsFields => ("Geteilte Angaben", "Details shared"),
        Msg::GrantsGivenOn => ("Freigegeben am", "Given on"),
        Msg::GrantsValidUntil => ("Gültig bis", "Valid until"),
        Msg::GrantsUses => ("Abrufe", "Uses"),
        Msg::GrantsStatus => ("Stand", "Status"),
        Msg::GrantStatusActive => ("aktiv", "active"),
        Msg::GrantStatusExpired => ("abgelaufen", "expired"),
        Msg::GrantStatusRevoked => ("zurückgenommen", "revoked"),
        Msg::GrantStatusUsedUp => ("aufgebraucht", "used up"),
        Msg::GrantsRevokeNow => ("Jetzt zurücknehmen", "Revoke now"),
        Msg::GrantsNoticeApproved => (
            "Sie haben die Daten freigegeben. Das Amt kann sie jetzt abrufen.",
            "You shared the data. The office can get it now.",
        ),
        Msg::GrantsNoticeDenied => (
            "Sie haben die Anfrage abgelehnt. Das Amt bekommt keine Daten.",
            "You denied the request. The office gets no data.",
        ),
        Msg::GrantsNoticeRevoked => (
            "Sie haben die Freigabe zurückgenommen. Das Amt kann die Daten ab jetzt nicht mehr abrufen.",
            "You took back your approval. From now on the office cannot get the data.",
        ),
    };
    match lang {
        Lang::De => de,
        Lang::En => en,
    }
}

/// Hint for a text field: "Höchstens 200 Zeichen." / "At most 200 characters."
pub fn text_length_hint(lang: Lang, max_length: usize) -> String {
    match lang {
        Lang::De => format!("Höchstens {max_length} Zeichen."),
        Lang::En => format!("At most {max_length} characters."),
    }
}

/// Hint for a whole-number field: "Eine ganze Zahl von 0 bis 99."
pub fn integer_range_hint(lang: Lang, min: i64, max: i64) -> String {
    match lang {
        Lang::De => format!("Eine ganze Zahl von {min} bis {max}."),
        Lang::En => format!("A whole number from {min} to {max}."),
    }
}

/// Hint for the file input: allowed types and the size limit.
pub fn file_hint(lang: Lang, max_upload_bytes: u64) -> String {
    let size = format_bytes(lang, max_upload_bytes);
    match lang {
        Lang::De => {
            format!("Erlaubt sind PDF, PNG und JPEG. Die Datei darf höchstens {size} groß sein.")
        }
        Lang::En => format!("You can upload PDF, PNG or JPEG. The file can be at most {size}."),
    }
}

/// The month of `at` in German civil time, as `YYYY-MM` (for statistics).
pub fn german_month(at: DateTime<Utc>) -> String {
    to_german_time(at).format("%Y-%m").to_string()
}

/// The description of the statistics chart, for screen readers.
pub fn stats_chart_summary(lang: Lang, bars: usize, total: u64, largest: u64) -> String {
    match lang {
        Lang::De => format!("{bars} Balken mit zusammen {total} Zugriffen. Der größte Balken zeigt {largest}."),
        Lang::En => format!("{bars} bars with {total} accesses in all. The largest bar shows {largest}."),
    }
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
    match (lang, finding) {
        (Lang::De, F::TreeRecomputed { entries, bodies, pruned }) => format!(
            "Der Hash-Baum wurde aus allen {entries} Einträgen neu berechnet. \
             {bodies} Eintrags-Texte passen zu ihrem Hash und zu den Suchspalten. {pruned} Texte sind nach Ablauf der Aufbewahrung gelöscht."
        ),
        (Lang::En, F::TreeRecomputed { entries, bodies, pruned }) => format!(
            "The hash tree was recomputed from all {entries} entries. \
             {bodies} entry texts match their hash and the search columns. {pruned} texts were deleted after the retention period."
        ),
        (Lang::De, F::CheckpointsMatched { count }) => {
            format!("{count} signierte Prüfpunkte passen zum neu berechneten Baum.")
        }
        (Lang::En, F::CheckpointsMatched { count }) => {
            format!("{count} signed checkpoints match the recomputed tree.")
        }
        (Lang::De, F::LatestCheckpoint { size, root }) => {
            format!("Neuester Prüfpunkt: {size} Einträge, Wurzel-Hash {root}. Die Signatur ist gültig.")
        }
        (Lang::En, F::LatestCheckpoint { size, root }) => {
            format!("Latest checkpoint: {size} entries, root hash {root}. The signature is valid.")
        }
        (Lang::De, F::NoCheckpointYet) => "Es gibt noch keinen signierten Prüfpunkt.".to_owned(),
        (Lang::En, F::NoCheckpointYet) => "There is no signed checkpoint yet.".to_owned(),
        (Lang::De, F::SequenceGap { expected }) => {
            format!("Eintrag {expected} fehlt. Einträge wurden gelöscht oder umnummeriert.")
        }
        (Lang::En, F::SequenceGap { expected }) => {
            format!("Entry {expected} is missing. Entries were deleted or renumbered.")
        }
        (Lang::De, F::TailMissing { log_size, head_size }) => format!(
            "Das Protokoll zählt {head_size} Einträge, gespeichert sind nur {log_size}. Die letzten Einträge fehlen."
        ),
        (Lang::En, F::TailMissing { log_size, head_size }) => {
            format!("The log counts {head_size} entries, but only {log_size} are stored. The last entries are missing.")
        }
        (Lang::De, F::BodyMismatch { index }) => {
            format!("Eintrag {index}: Der Text passt nicht zu seinem Hash oder seiner Nummer. Er wurde verändert.")
        }
        (Lang::En, F::BodyMismatch { index }) => {
            format!("Entry {index}: the text does not match its hash or its number. It was changed.")
        }
        (Lang::De, F::ColumnMismatch { index, column }) => format!(
            "Eintrag {index}: Die Suchspalte „{column}“ passt nicht zum signierten Text. \
             Der Eintrag wurde in Abfragen versteckt oder verschoben."
        ),
        (Lang::En, F::ColumnMismatch { index, column }) => format!(
            "Entry {index}: the search column “{column}” does not match the signed text. \
             The entry was hidden from or moved between queries."
        ),
        (Lang::De, F::SignatureInvalid { size }) => {
            format!("Prüfpunkt über {size} Einträge: Die Signatur ist nicht gültig.")
        }
        (Lang::En, F::SignatureInvalid { size }) => {
            format!("Checkpoint over {size} entries: the signature is not valid.")
        }
        (Lang::De, F::CheckpointBeyondLog { size, entries }) => {
            format!("Ein Prüfpunkt nennt {size} Einträge, gespeichert sind nur {entries}. Es fehlen Einträge.")
        }
        (Lang::En, F::CheckpointBeyondLog { size, entries }) => {
            format!("A checkpoint names {size} entries, but only {entries} are stored. Entries are missing.")
        }
        (Lang::De, F::RootMismatch { size }) => {
            format!("Prüfpunkt über {size} Einträge: Der Wurzel-Hash passt nicht. Das Protokoll wurde verändert.")
        }
        (Lang::En, F::RootMismatch { size }) => {
            format!("Checkpoint over {size} entries: the root hash does not match. The log was changed.")
        }
        (Lang::De, F::StoreUnreadable) => "Die gespeicherten Einträge sind beschädigt oder lückenhaft.".to_owned(),
        (Lang::En, F::StoreUnreadable) => "The stored entries are damaged or have gaps.".to_owned(),
        (Lang::De, F::NoWitnesses) => "Es sind keine unabhängigen Zeugen eingerichtet: Niemand außerhalb der Stadt \
             bestätigt, dass das Protokoll nur wächst."
            .to_owned(),
        (Lang::En, F::NoWitnesses) => "No independent witnesses are configured: nobody outside the city confirms \
             that the log only grows."
            .to_owned(),
        (Lang::De, F::WitnessCosigned { name, size }) => {
            format!("Zeuge {name} hat den Prüfpunkt über {size} Einträge gegengezeichnet.")
        }
        (Lang::En, F::WitnessCosigned { name, size }) => {
            format!("Witness {name} cosigned the checkpoint over {size} entries.")
        }
        (Lang::De, F::WitnessNotYet { name }) => {
            format!("Zeuge {name} hat seit dem Start noch keinen Prüfpunkt gegengezeichnet.")
        }
        (Lang::En, F::WitnessNotYet { name }) => format!("Witness {name} has not cosigned a checkpoint since start."),
        (Lang::De, F::WitnessTrouble { name, problem }) => {
            format!("Zeuge {name} ist gerade nicht erreichbar oder lehnt ab ({problem}).")
        }
        (Lang::En, F::WitnessTrouble { name, problem }) => {
            format!("Witness {name} cannot be reached or refuses right now ({problem}).")
        }
        (Lang::De, F::WitnessRollback { name, witness_size, log_size }) => format!(
            "Zeuge {name} kennt schon {witness_size} Einträge, das Protokoll hat nur {log_size}. \
             Es wurde zurückgesetzt oder gekürzt."
        ),
        (Lang::En, F::WitnessRollback { name, witness_size, log_size }) => format!(
            "Witness {name} has already seen {witness_size} entries, but the log has only {log_size}. \
             It was rolled back or cut short."
        ),
        (Lang::De, F::WitnessFork { name, old_size, size }) => format!(
            "Zeuge {name} lehnt ab: Die {size} Einträge setzen die {old_size} nicht fort, die er bestätigt hat. \
             Die Vergangenheit des Protokolls wurde verändert."
        ),
        (Lang::En, F::WitnessFork { name, old_size, size }) => format!(
            "Witness {name} refuses: the {size} entries do not extend the {old_size} it confirmed. \
             The log's history was changed."
        ),
    }
}

/// The consent page's heading: "Wohngeldstelle bittet um Ihre Daten".
pub fn consent_heading(lang: Lang, department: &str) -> String {
    match lang {
        Lang::De => format!("{department} bittet um Ihre Daten"),
        Lang::En => format!("{department} asks for your data"),
    }
}

/// A login level in words, as the citizen knows it.
pub fn login_level_name(lang: Lang, level: LoginLevel) -> &'static str {
    match (lang, level) {
        (Lang::De, LoginLevel::Low) => "niedrig",
        (Lang::De, LoginLevel::Substantial) => "substanziell",
        (Lang::De, LoginLevel::High) => "hoch (Online-Ausweis)",
        (Lang::En, LoginLevel::Low) => "low",
        (Lang::En, LoginLevel::Substantial) => "substantial",
        (Lang::En, LoginLevel::High) => "high (online ID card)",
    }
}

/// Step-up page: who asks for what.
pub fn step_up_who(lang: Lang, department: &str, service: &str) -> String {
    match lang {
        Lang::De => format!("{department} fragt nach Daten für: {service}."),
        Lang::En => format!("{department} asks for data for: {service}."),
    }
}

/// Step-up page: the level this needs and the level of the current login.
pub fn step_up_levels(lang: Lang, required: LoginLevel, current: LoginLevel) -> String {
    let (required, current) = (login_level_name(lang, required), login_level_name(lang, current));
    match lang {
        Lang::De => format!(
            "Dafür brauchen Sie eine Anmeldung mit dem Sicherheitsniveau „{required}“. \
             Jetzt sind Sie mit „{current}“ angemeldet."
        ),
        Lang::En => format!(
            "For this you must log in with security level “{required}”. You are logged in with “{current}” now."
        ),
    }
}

/// "30 Tage" / "30 days".
pub fn days(lang: Lang, days: u32) -> String {
    match (lang, days) {
        (Lang::De, 1) => "1 Tag".to_owned(),
        (Lang::De, n) => format!("{n} Tage"),
        (Lang::En, 1) => "1 day".to_owned(),
        (Lang::En, n) => format!("{n} days"),
    }
}

/// "3 Mal" / "3 times".
pub fn times(lang: Lang, count: u32) -> String {
    match (lang, count) {
        (Lang::De, n) => format!("{n} Mal"),
        (Lang::En, 1) => "once".to_owned(),
        (Lang::En, 2) => "twice".to_owned(),
        (Lang::En, n) => format!("{n} times"),
    }
}

/// Hint under the duration choice: the longest duration and its end date.
pub fn duration_hint(lang: Lang, max_days: u32, latest_end: DateTime<Utc>) -> String {
    let date = format_date(lang, latest_end);
    match lang {
        Lang::De => format!("Höchstens {}. Das ist bis {date}.", days(lang, max_days)),
        Lang::En => format!("At most {}. That is until {date}.", days(lang, max_days)),
    }
}

/// Hint under the uses choice.
pub fn uses_hint(lang: Lang, max_uses: u32) -> String {
    match lang {
        Lang::De => format!("Höchstens {}.", times(lang, max_uses)),
        Lang::En => format!("At most {}.", times(lang, max_uses)),
    }
}

/// The label of one document to choose: "Dokument vom 23.11.2026".
pub fn document_from(lang: Lang, stored: DateTime<Utc>) -> String {
    let date = format_date(lang, stored);
    match lang {
        Lang::De => format!("Dokument vom {date}"),
        Lang::En => format!("Document from {date}"),
    }
}

/// Under a document: its file goes to the office too.
pub fn file_shared(lang: Lang, name: &str, kind: &str, size: u64) -> String {
    let size = format_bytes(lang, size);
    match lang {
        Lang::De => format!("Die Datei „{name}“ ({kind}, {size}) bekommt das Amt auch."),
        Lang::En => format!("The office also gets the file “{name}” ({kind}, {size})."),
    }
}

/// "1 von 3" / "1 of 3".
pub fn uses_of(lang: Lang, uses: u32, max_uses: u32) -> String {
    match lang {
        Lang::De => format!("{uses} von {max_uses}"),
        Lang::En => format!("{uses} of {max_uses}"),
    }
}

/// Plain words for the problems of an approval form, by their stable code;
/// `None` for other codes.
pub fn approval_problem(lang: Lang, code: &str) -> Option<&'static str> {
    let (de, en) = match code {
        "no_fields_approved" => (
            "Bitte wählen Sie mindestens eine Angabe. Oder lehnen Sie die Anfrage ab.",
            "Please choose at least one detail. Or deny the request.",
        ),
        "field_not_in_policy" => {
            ("Eine gewählte Angabe gehört nicht zu diesem Anliegen.", "A chosen detail is not part of this service.")
        }
        "evidence_not_found" => ("Ein gewähltes Dokument gibt es nicht mehr.", "A chosen document no longer exists."),
        "evidence_type_not_requested" => {
            ("Ein gewähltes Dokument braucht das Amt nicht.", "The office does not need a chosen document.")
        }
        "one_document_per_type" => {
            ("Bitte wählen Sie nur ein Dokument je Art.", "Please choose only one document of each type.")
        }
        "field_without_document" => {
            ("Bitte wählen Sie für jede Angabe ein Dokument.", "Please choose a document for each detail.")
        }
        "document_without_field" => (
            "Bitte geben Sie aus jedem gewählten Dokument mindestens eine Angabe frei.",
            "Please share at least one detail from each document you choose.",
        ),
        "duration_out_of_range" => {
            ("Bitte wählen Sie eine Dauer aus der Liste.", "Please choose a duration from the list.")
        }
        "uses_out_of_range" => ("Bitte wählen Sie eine Anzahl aus der Liste.", "Please choose a number from the list."),
        "invalid_decision" => ("Bitte wählen Sie „Freigeben“ oder „Ablehnen“.", "Please choose “Approve” or “Deny”."),
        _ => return None,
    };
    Some(match lang {
        Lang::De => de,
        Lang::En => en,
    })
}

/// Plain words for the errors a citizen can meet on the consent and grants
/// pages that the shared error page has no German text for.
pub fn consent_error_message(lang: Lang, code: &str) -> Option<&'static str> {
    if let Some(text) = approval_problem(lang, code) {
        return Some(text);
    }
    let (de, en) = match code {
        "audit_unavailable" => (
            "Wir konnten das nicht im Protokoll vermerken. Deshalb ist nichts passiert. \
             Bitte versuchen Sie es später noch einmal.",
            "We could not record this in the log. So nothing happened. Please try again later.",
        ),
        "unknown_service" => (
            "Dieses Anliegen gibt es nicht mehr. Bitte fragen Sie das Amt.",
            "This service no longer exists. Please ask the office.",
        ),
        _ => return None,
    };
    Some(match lang {
        Lang::De => de,
        Lang::En => en,
    })
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
    let local = to_german_time(at);
    match lang {
        Lang::De => local.format("%d.%m.%Y, %H:%M Uhr").to_string(),
        Lang::En => local.format("%-d %B %Y, %H:%M (German time)").to_string(),
    }
}

/// A file size in decimal units (1 kB = 1000 bytes), rounded down to one
/// decimal place so a size limit is never overstated: de "1,5 MB", en "1.5 MB".
pub fn format_bytes(lang: Lang, bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] =
        [(1_000_000_000_000, "TB"), (1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB")];
    let Some(&(unit_size, unit)) = UNITS.iter().find(|(size, _)| bytes >= *size) else {
        return match (lang, bytes) {
            (Lang::De, 1) => "1 Byte".to_owned(),
            (Lang::De, n) => format!("{n} Bytes"),
            (Lang::En, 1) => "1 byte".to_owned(),
            (Lang::En, n) => format!("{n} bytes"),
        };
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, hour, minute, 0).single().expect("valid test date")
    }

    #[test]
    fn explicit_query_switch_wins_over_cookie_and_header() {
        assert_eq!(negotiate(Some("en"), Some("de"), Some("de-DE")), Lang::En);
        assert_eq!(negotiate(Some("de"), Some("en"), Some("en-GB")), Lang::De);
    }

    #[test]
    fn cookie_wins_over_accept_language() {
        assert_eq!(negotiate(None, Some("en"), Some("de-DE,de;q=0.9")), Lang::En);
    }

    #[test]
    fn unknown_query_and_cookie_values_fall_through() {
        assert_eq!(negotiate(Some("fr"), Some("xx"), Some("en-GB")), Lang::En);
        assert_eq!(negotiate(Some(""), Some("<script>"), None), Lang::De);
    }

    #[test]
    fn codes_are_case_insensitive_and_trimmed() {
        assert_eq!(negotiate(Some(" EN "), None, None), Lang::En);
        assert_eq!(negotiate(None, Some("De"), Some("en")), Lang::De);
    }

    #[test]
    fn accept_language_respects_q_values() {
        assert_eq!(negotiate(None, None, Some("de-DE,en-GB;q=0.8")), Lang::De);
        assert_eq!(negotiate(None, None, Some("de;q=0.5, en-GB;q=0.8")), Lang::En);
        assert_eq!(negotiate(None, None, Some("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7")), Lang::En);
    }

    #[test]
    fn accept_language_ties_keep_header_order() {
        assert_eq!(negotiate(None, None, Some("en-US, de-DE")), Lang::En);
        assert_eq!(negotiate(None, None, Some("de;q=0.7, en;q=0.7")), Lang::De);
    }

    #[test]
    fn accept_language_q_zero_means_not_acceptable() {
        assert_eq!(negotiate(None, None, Some("en;q=0, de;q=0.1")), Lang::De);
        assert_eq!(negotiate(None, None, Some("de;q=0, en;q=0.1")), Lang::En);
    }

    #[test]
    fn malformed_accept_language_is_ignored_and_german_is_the_default() {
        assert_eq!(negotiate(None, None, None), Lang::De);
        assert_eq!(negotiate(None, None, Some("")), Lang::De);
        assert_eq!(negotiate(None, None, Some("*")), Lang::De);
        assert_eq!(negotiate(None, None, Some("fr-FR, es")), Lang::De);
        assert_eq!(negotiate(None, None, Some("en;q=2, en;q=abc, en;q=0.1234")), Lang::De);
        assert_eq!(negotiate(None, None, Some(";;;,,,=;q=")), Lang::De);
    }

    #[test]
    fn english_primary_subtag_does_not_match_similar_codes() {
        assert_eq!(negotiate(None, None, Some("eng, enx-US, den")), Lang::De);
    }

    #[test]
    fn catalogue_has_no_empty_strings() {
        for &msg in Msg::ALL {
            for lang in ALL_LANGS {
                assert!(!t(lang, msg).trim().is_empty(), "{msg:?} is empty in {lang:?}");
            }
        }
    }

    #[test]
    fn catalogue_sentences_are_short() {
        // Plain language: no sentence longer than 16 words.
        for &msg in Msg::ALL {
            for lang in ALL_LANGS {
                for sentence in t(lang, msg).split(['.', ':', '?']) {
                    let words = sentence.split_whitespace().count();
                    assert!(words <= 16, "{msg:?} in {lang:?} has a {words}-word sentence");
                }
            }
        }
    }

    #[test]
    fn german_and_english_catalogues_differ() {
        let differing = Msg::ALL.iter().filter(|&&msg| t(Lang::De, msg) != t(Lang::En, msg)).count();
        assert_eq!(differing, Msg::ALL.len(), "some message is not translated");
    }

    #[test]
    fn dates_use_each_languages_format() {
        let date = utc(2026, 11, 23, 12, 0);
        assert_eq!(format_date(Lang::De, date), "23.11.2026");
        assert_eq!(format_date(Lang::En, date), "23 November 2026");
        assert_eq!(format_date(Lang::De, utc(2026, 3, 5, 12, 0)), "05.03.2026");
        assert_eq!(format_date(Lang::En, utc(2026, 3, 5, 12, 0)), "5 March 2026");
    }

    #[test]
    fn dates_are_calendar_days_in_german_time() {
        // 23:30 UTC on New Year's Eve is already 00:30 on 1 January in Berlin.
        assert_eq!(format_date(Lang::De, utc(2026, 12, 31, 23, 30)), "01.01.2027");
        // Summer time: 22:30 UTC on 30 June is 00:30 on 1 July.
        assert_eq!(format_date(Lang::De, utc(2026, 6, 30, 22, 30)), "01.07.2026");
        assert_eq!(format_date(Lang::De, utc(2026, 6, 30, 21, 30)), "30.06.2026");
        // Winter time: 22:30 UTC on 30 January is still 23:30 in Berlin.
        assert_eq!(format_date(Lang::De, utc(2026, 1, 30, 22, 30)), "30.01.2026");
    }

    #[test]
    fn summer_time_switches_on_the_last_sundays_of_march_and_october() {
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(to_german_time(utc(2026, 3, 29, 0, 59)).offset().local_minus_utc(), 3600);
        assert_eq!(to_german_time(utc(2026, 3, 29, 1, 0)).offset().local_minus_utc(), 7200);
        assert_eq!(to_german_time(utc(2026, 10, 25, 0, 59)).offset().local_minus_utc(), 7200);
        assert_eq!(to_german_time(utc(2026, 10, 25, 1, 0)).offset().local_minus_utc(), 3600);
    }

    #[test]
    fn bytes_use_decimal_comma_in_german() {
        assert_eq!(format_bytes(Lang::De, 1_500_000), "1,5 MB");
        assert_eq!(format_bytes(Lang::En, 1_500_000), "1.5 MB");
        assert_eq!(format_bytes(Lang::De, 10_000_000), "10 MB");
        assert_eq!(format_bytes(Lang::En, 2_345), "2.3 kB");
        assert_eq!(format_bytes(Lang::De, 999), "999 Bytes");
        assert_eq!(format_bytes(Lang::En, 1), "1 byte");
        assert_eq!(format_bytes(Lang::En, 0), "0 bytes");
    }

    #[test]
    fn byte_sizes_round_down_so_limits_are_not_overstated() {
        assert_eq!(format_bytes(Lang::En, 10 * 1024 * 1024), "10.4 MB");
        assert_eq!(format_bytes(Lang::De, 1_999_999), "1,9 MB");
        assert_eq!(format_bytes(Lang::En, u64::MAX), "18446744 TB");
    }

    #[test]
    fn hints_are_translated_and_carry_their_numbers() {
        assert_eq!(integer_range_hint(Lang::De, 0, 12), "Eine ganze Zahl von 0 bis 12.");
        assert!(text_length_hint(Lang::En, 80).contains("80"));
        assert!(file_hint(Lang::De, 5_000_000).contains("5 MB"));
        assert!(file_hint(Lang::En, 5_000_000).contains("PDF"));
    }
}
