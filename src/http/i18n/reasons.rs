//! The reasons of audit entries in words, for the DPO's results table
//! (`locales/<lang>/reasons.ftl`, message `reason-<code>` with `_` as `-`).
//! A code without words (a new one, or one from an older version) is shown
//! as stored; the exports and the JSON always keep the codes.

use super::{Arg, format};
use crate::policy::Lang;

/// Every reason code with its own words.
pub const KNOWN_REASONS: &[&str] = &[
    "erasure_list",
    "dpo_page",
    "dpo_entries",
    "dpo_stats",
    "dpo_verify",
    "dpo_export_csv",
    "dpo_export_jsonl",
    "feedback_read",
    "data_export",
    "not_a_dpo",
    "wrong_department",
    "wrong_service",
    "grant_not_yet_valid",
    "grant_expired",
    "grant_revoked",
    "grant_exhausted",
    "login_level_too_low",
    "invalid_id_token",
    "token_exchange_failed",
    "not_found",
    "release_not_found",
    "release_file",
    "backchannel_logout",
    "idp_configuration_invalid",
    "idp_discovery_failed",
    "invalid_logout_token",
    "random_failed",
    "certificate_unknown_ca",
    "certificate_expired",
    "certificate_not_yet_valid",
    "certificate_no_client_auth",
    "certificate_revoked",
    "certificate_unknown_department",
    "certificate_ambiguous_department",
    "certificate_pin_mismatch",
    "certificate_malformed",
    "certificate_config",
];

/// The message id of a known reason code.
pub fn reason_message_id(code: &str) -> String {
    format!("reason-{}", code.replace('_', "-"))
}

/// A stored reason code in words (`keys_opened_kek_v3`: "Keys opened
/// (version 3)"); an unknown code as it is.
pub fn reason_label(lang: Lang, code: &str) -> String {
    if KNOWN_REASONS.contains(&code) {
        return format(lang, &reason_message_id(code), &[]);
    }
    for (prefix, id) in VERSIONED_REASONS {
        if let Some(version) =
            code.strip_prefix(prefix).filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
        {
            return format(lang, id, &[("version", Arg::Text(version.to_owned()))]);
        }
    }
    code.to_owned()
}

/// Reason codes that end in a key version (`kek_rotation_started_v2`), by
/// prefix, with the message that takes the version as `$version`.
pub const VERSIONED_REASONS: &[(&str, &str)] = &[
    ("keys_opened_kek_v", "reason-keys-opened"),
    ("kek_rotation_started_v", "reason-kek-rotation-started"),
    ("kek_rotation_resumed_v", "reason-kek-rotation-resumed"),
    ("kek_rotation_finished_v", "reason-kek-rotation-finished"),
    ("kek_rotation_incomplete_v", "reason-kek-rotation-incomplete"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_as_words_and_unknown_codes_stay_as_stored() {
        assert_eq!(reason_label(Lang::De, "grant_expired"), "Freigabe abgelaufen");
        assert_eq!(reason_label(Lang::En, "feedback_read"), "Accessibility feedback read");
        assert_eq!(reason_label(Lang::En, "keys_opened_kek_v12"), "Keys opened (version 12)");
        assert_eq!(reason_label(Lang::De, "keys_opened_kek_vX"), "keys_opened_kek_vX");
        assert_eq!(
            reason_label(Lang::En, "kek_rotation_finished_v2"),
            "Key rotation finished: every key wrapped under version 2"
        );
        assert_eq!(reason_label(Lang::De, "kek_rotation_started_v"), "kek_rotation_started_v");
        assert_eq!(reason_label(Lang::De, "something_new"), "something_new");
        // Every refusal code of the domain has words.
        for refusal in [
            crate::policy::Refusal::WrongDepartment,
            crate::policy::Refusal::WrongService,
            crate::policy::Refusal::NotYetValid,
            crate::policy::Refusal::Expired,
            crate::policy::Refusal::Revoked,
            crate::policy::Refusal::Exhausted,
        ] {
            assert!(KNOWN_REASONS.contains(&refusal.code()), "{}", refusal.code());
        }
        for code in KNOWN_REASONS {
            assert_ne!(reason_label(Lang::De, code), *code);
            assert_ne!(reason_label(Lang::De, code), reason_label(Lang::En, code), "{code}");
        }
    }
}
