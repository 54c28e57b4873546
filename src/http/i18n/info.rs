//! The texts of the pages a public body must offer (`pages/info.rs`) and of
//! the DPO's feedback page, in `locales/<lang>/info.ftl`: kept apart from
//! [`super::Msg`] so that these long texts have their own list. Texts whose
//! lines are separate ideas (Leichte Sprache, lists) are one message with
//! one line per idea; [`info_lines`] splits them.

use std::sync::LazyLock;

use super::{Arg, format};
use crate::policy::Lang;

macro_rules! info_texts {
    ($($variant:ident = $id:literal),+ $(,)?) => {
        /// One text of the info pages, without placeholders.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum InfoText {
            $($variant),+
        }

        impl InfoText {
            /// Every text, in declaration order.
            pub const ALL: &'static [InfoText] = &[$(InfoText::$variant),+];

            /// The message's id in `locales/*/info.ftl`.
            pub fn id(self) -> &'static str {
                match self {
                    $(InfoText::$variant => $id),+
                }
            }
        }
    };
}

info_texts! {
    InfoFooterNavLabel = "info-footer-nav-label",
    InfoNavAccessibility = "info-nav-accessibility",
    InfoNavEasyRead = "info-nav-easy-read",
    InfoNavSignLanguage = "info-nav-sign-language",
    InfoNavPrivacy = "info-nav-privacy",
    InfoNavImprint = "info-nav-imprint",
    InfoNavContact = "info-nav-contact",
    InfoNavServices = "info-nav-services",
    ServicesTitle = "services-title",
    ServicesIntro = "services-intro",
    ServicesListLabel = "services-list-label",
    ServicesDepartment = "services-department",
    ServicesPurpose = "services-purpose",
    ServicesLegalBasis = "services-legal-basis",
    ServicesFields = "services-fields",
    ServicesFiles = "services-files",
    ServicesFilesNone = "services-files-none",
    ServicesFilesRequired = "services-files-required",
    ServicesFilesOptional = "services-files-optional",
    ServicesDuration = "services-duration",
    ServicesDays = "services-days",
    ServicesUses = "services-uses",
    ServicesLevel = "services-level",
    ServicesOtherWays = "services-other-ways",
    ServicesJsonLink = "services-json-link",
    InfoExampleNotice = "info-example-notice",
    InfoNotConfigured = "info-not-configured",
    InfoLabelName = "info-label-name",
    InfoLabelOffice = "info-label-office",
    InfoLabelAddress = "info-label-address",
    InfoLabelPhone = "info-label-phone",
    InfoLabelEmail = "info-label-email",
    InfoLabelHours = "info-label-hours",
    InfoLabelWebsite = "info-label-website",
    AccessibilityTitle = "accessibility-title",
    AccessibilityIntro = "accessibility-intro",
    AccessibilityProvider = "accessibility-provider",
    AccessibilityStatusHeading = "accessibility-status-heading",
    AccessibilityStatusFull = "accessibility-status-full",
    AccessibilityStatusPartial = "accessibility-status-partial",
    AccessibilityStatusNone = "accessibility-status-none",
    AccessibilityStatusUnknown = "accessibility-status-unknown",
    AccessibilityLimitsHeading = "accessibility-limits-heading",
    AccessibilityLimitsList = "accessibility-limits-list",
    AccessibilityMethodHeading = "accessibility-method-heading",
    AccessibilityMethod = "accessibility-method",
    AccessibilityDateLabel = "accessibility-date-label",
    AccessibilityFeedbackHeading = "accessibility-feedback-heading",
    AccessibilityFeedbackIntro = "accessibility-feedback-intro",
    AccessibilityFeedbackMessage = "accessibility-feedback-message",
    AccessibilityFeedbackMessageHint = "accessibility-feedback-message-hint",
    AccessibilityFeedbackContact = "accessibility-feedback-contact",
    AccessibilityFeedbackContactHint = "accessibility-feedback-contact-hint",
    AccessibilityFeedbackSend = "accessibility-feedback-send",
    AccessibilityFeedbackSent = "accessibility-feedback-sent",
    AccessibilityFeedbackOtherWays = "accessibility-feedback-other-ways",
    AccessibilityFeedbackMessageEmpty = "accessibility-feedback-message-empty",
    AccessibilityFeedbackMessageTooLong = "accessibility-feedback-message-too-long",
    AccessibilityFeedbackInvalidCharacters = "accessibility-feedback-invalid-characters",
    AccessibilityFeedbackContactTooLong = "accessibility-feedback-contact-too-long",
    AccessibilityEnforcementHeading = "accessibility-enforcement-heading",
    AccessibilityEnforcementText = "accessibility-enforcement-text",
    EasyReadTitle = "easy-read-title",
    EasyReadIntro = "easy-read-intro",
    EasyReadWhatHeading = "easy-read-what-heading",
    EasyReadWhat = "easy-read-what",
    EasyReadUseHeading = "easy-read-use-heading",
    EasyReadUse = "easy-read-use",
    EasyReadWhoHeading = "easy-read-who-heading",
    EasyReadWho = "easy-read-who",
    EasyReadLoginHeading = "easy-read-login-heading",
    EasyReadLogin = "easy-read-login",
    EasyReadDeleteHeading = "easy-read-delete-heading",
    EasyReadDelete = "easy-read-delete",
    EasyReadHelpHeading = "easy-read-help-heading",
    EasyReadHelp = "easy-read-help",
    EasyReadContactLink = "easy-read-contact-link",
    SignLanguageTitle = "sign-language-title",
    SignLanguageIntro = "sign-language-intro",
    SignLanguageVideoLink = "sign-language-video-link",
    SignLanguageVideoNote = "sign-language-video-note",
    SignLanguageNoVideo = "sign-language-no-video",
    PrivacyTitle = "privacy-title",
    PrivacyIntro = "privacy-intro",
    PrivacyControllerHeading = "privacy-controller-heading",
    PrivacyDpoHeading = "privacy-dpo-heading",
    PrivacyDpoIntro = "privacy-dpo-intro",
    PrivacyPurposesHeading = "privacy-purposes-heading",
    PrivacyPurposesList = "privacy-purposes-list",
    PrivacyLegalHeading = "privacy-legal-heading",
    PrivacyLegalList = "privacy-legal-list",
    PrivacyRecipientsHeading = "privacy-recipients-heading",
    PrivacyRecipientsList = "privacy-recipients-list",
    PrivacyProcessorLabel = "privacy-processor-label",
    PrivacyRetentionHeading = "privacy-retention-heading",
    PrivacyRetentionEvidence = "privacy-retention-evidence",
    PrivacyRetentionLog = "privacy-retention-log",
    PrivacyRightsHeading = "privacy-rights-heading",
    PrivacyRightsList = "privacy-rights-list",
    PrivacyMyDataLink = "privacy-my-data-link",
    PrivacyComplaintHeading = "privacy-complaint-heading",
    PrivacyComplaintText = "privacy-complaint-text",
    PrivacyVoluntaryHeading = "privacy-voluntary-heading",
    PrivacyVoluntaryText = "privacy-voluntary-text",
    PrivacyCookiesHeading = "privacy-cookies-heading",
    PrivacyCookiesText = "privacy-cookies-text",
    ImprintTitle = "imprint-title",
    ImprintProviderHeading = "imprint-provider-heading",
    ImprintRepresentative = "imprint-representative",
    ImprintVatId = "imprint-vat-id",
    ImprintContentResponsible = "imprint-content-responsible",
    ImprintContactHeading = "imprint-contact-heading",
    ContactTitle = "contact-title",
    ContactIntro = "contact-intro",
    ContactDpoHeading = "contact-dpo-heading",
    ContactAccessibilityHeading = "contact-accessibility-heading",
    ContactAccessibilityLink = "contact-accessibility-link",
    DpoNavFeedback = "dpo-nav-feedback",
    DpoFeedbackTitle = "dpo-feedback-title",
    DpoFeedbackIntro = "dpo-feedback-intro",
    DpoFeedbackEmpty = "dpo-feedback-empty",
    DpoFeedbackReceived = "dpo-feedback-received",
    DpoFeedbackLanguage = "dpo-feedback-language",
    DpoFeedbackContact = "dpo-feedback-contact",
    DpoFeedbackNoContact = "dpo-feedback-no-contact",
    DpoFeedbackOlder = "dpo-feedback-older",
}

/// The messages of `info.ftl` with placeholders, and their names (for the
/// catalogue test).
pub const INFO_PLACEHOLDERS: &[(&str, &[&str])] = &[("privacy-retention-session", &["idle", "absolute"])];

/// The text in `lang`.
pub fn info(lang: Lang, text: InfoText) -> &'static str {
    static TEXTS: LazyLock<[Vec<String>; 2]> = LazyLock::new(|| {
        let all = |lang| InfoText::ALL.iter().map(|text| format(lang, text.id(), &[])).collect();
        [all(Lang::De), all(Lang::En)]
    });
    let texts = match lang {
        Lang::De => &TEXTS[0],
        Lang::En => &TEXTS[1],
    };
    // `InfoText::ALL` lists the variants in declaration order.
    texts.get(text as usize).map_or_else(|| text.id(), String::as_str)
}

/// A text whose lines are separate ideas, one entry per non-empty line.
pub fn info_lines(lang: Lang, text: InfoText) -> Vec<&'static str> {
    info(lang, text).lines().map(str::trim).filter(|line| !line.is_empty()).collect()
}

/// "Your login ends after 30 minutes without use. ..." from the configured
/// session lifetimes (whole minutes and hours, rounded up).
pub fn privacy_retention_session(lang: Lang, idle_seconds: i64, absolute_seconds: i64) -> String {
    let minutes = u64::try_from(idle_seconds.max(0)).unwrap_or(0).div_ceil(60);
    let hours = u64::try_from(absolute_seconds.max(0)).unwrap_or(0).div_ceil(3600);
    format(lang, "privacy-retention-session", &[("idle", Arg::Number(minutes)), ("absolute", Arg::Number(hours))])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::i18n::ALL_LANGS;

    #[test]
    fn info_texts_exist_differ_by_language_and_keep_sentences_short() {
        for &text in InfoText::ALL {
            assert_ne!(info(Lang::De, text), info(Lang::En, text), "{text:?} is not translated");
            for lang in ALL_LANGS {
                assert_ne!(info(lang, text), text.id(), "{text:?} is missing in {lang:?}");
                // Plain language: no sentence longer than 20 words (legal
                // citations count as words); a line of Leichte Sprache
                // holds one short sentence.
                for sentence in info(lang, text).split(['.', ':', '?', '\n']) {
                    let words = sentence.split_whitespace().count();
                    assert!(words <= 20, "{text:?} in {lang:?} has a {words}-word sentence: {sentence}");
                }
            }
        }
        for lang in ALL_LANGS {
            for line in info_lines(lang, InfoText::EasyReadWhat)
                .into_iter()
                .chain(info_lines(lang, InfoText::EasyReadUse))
                .chain(info_lines(lang, InfoText::EasyReadWho))
            {
                assert!(line.split_whitespace().count() <= 10, "easy read: {line}");
            }
        }
    }

    #[test]
    fn lists_split_into_one_line_per_idea_and_session_times_round_up() {
        assert_eq!(info_lines(Lang::De, InfoText::EasyReadWhat)[0], "tresor ist eine Internet·seite von der Stadt.");
        assert_eq!(info_lines(Lang::En, InfoText::PrivacyRightsList).len(), 7);
        assert_eq!(
            privacy_retention_session(Lang::En, 1800, 43_200),
            "Your login ends after 30 minutes without use. It always ends after 12 hours at the latest."
        );
        assert!(privacy_retention_session(Lang::De, 61, 3601).contains("nach 2 Minuten"));
    }
}
