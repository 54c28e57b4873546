//! Language choice, formats, and the catalogue: every message in every
//! language, with the same placeholders.

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

// --- the catalogue (locales/*/*.ftl) ------------------------------------------

use std::collections::{BTreeMap, BTreeSet};

use fluent_syntax::ast;

use super::catalogue::{files, format_checked};
use crate::http::error::ErrorCode;

/// The messages that functions of `i18n` and `error` format, with the
/// placeholders the code fills in. Every other message has none.
const PLACEHOLDERS: &[(&str, &[&str])] = &[
    ("verify-no-checkpoint-yet", &[]),
    ("access-for-service", &["service"]),
    ("revoke-stops", &["department"]),
    ("access-fields", &["fields"]),
    ("access-reference", &["reference"]),
    ("access-under-grant", &[]),
    ("access-under-grant-use", &["count"]),
    ("access-log-checkpoint", &["count"]),
    ("verify-store-unreadable", &[]),
    ("verify-no-witnesses", &[]),
    ("bytes", &["count"]),
    ("days", &["count"]),
    ("times", &["count"]),
    ("date-time", &["date", "time"]),
    ("login-level", &["level"]),
    ("text-length-hint", &["max"]),
    ("integer-range-hint", &["min", "max"]),
    ("file-hint", &["size"]),
    ("consent-heading", &["department"]),
    ("step-up-who", &["department", "service"]),
    ("step-up-levels", &["required", "current"]),
    ("duration-hint", &["days", "date"]),
    ("uses-hint", &["times"]),
    ("document-from", &["date"]),
    ("file-shared", &["name", "kind", "size"]),
    ("uses-of", &["uses", "max"]),
    ("consent-summary-until", &["date", "days"]),
    ("stats-chart-summary", &["bars", "total", "largest"]),
    ("month-year", &["month", "year"]),
    ("dpo-period-last", &["count"]),
    ("dpo-period-shown", &["first", "last"]),
    ("dpo-period-shown-all", &["last"]),
    ("verify-tree-recomputed", &["entries", "bodies", "pruned"]),
    ("verify-checkpoints-matched", &["count"]),
    ("verify-latest-checkpoint", &["size", "root"]),
    ("verify-sequence-gap", &["expected"]),
    ("verify-tail-missing", &["head_size", "log_size"]),
    ("verify-body-mismatch", &["index"]),
    ("verify-column-mismatch", &["index", "column"]),
    ("verify-signature-invalid", &["size"]),
    ("verify-checkpoint-beyond-log", &["size", "entries"]),
    ("verify-root-mismatch", &["size"]),
    ("verify-witness-cosigned", &["name", "size"]),
    ("verify-witness-not-yet", &["name"]),
    ("verify-witness-trouble", &["name", "problem"]),
    ("verify-witness-rollback", &["name", "witness_size", "log_size"]),
    ("verify-witness-fork", &["name", "old_size", "size"]),
    ("error-invalid-fields", &["fields"]),
    ("error-file-too-large", &["limit"]),
    ("error-value-too-long", &["name"]),
    ("error-upload-timed-out", &["reason", "seconds"]),
    ("error-invalid-reference", &["max"]),
    ("error-invalid-limit", &["max"]),
    ("error-invalid-tree-size", &["problem", "size"]),
    ("error-invalid-filter", &["problem"]),
    ("field-required", &[]),
    ("field-unknown-field", &[]),
    ("field-too-long", &["max"]),
    ("field-invalid-characters", &[]),
    ("field-invalid-date", &[]),
    ("field-invalid-money", &[]),
    ("field-invalid-integer", &[]),
    ("field-out-of-range", &["min", "max"]),
    ("field-invalid-choice", &[]),
    // Dates in three fields (issue 15, forms)
    ("field-date-incomplete", &["parts"]),
    ("field-date-part-day", &[]),
    ("field-date-part-month", &[]),
    ("field-date-part-year", &[]),
    ("field-date-and", &[]),
    ("field-invalid-day", &[]),
    ("field-invalid-month", &[]),
    ("field-invalid-year", &[]),
    ("field-year-out-of-range", &["min", "max"]),
    ("field-no-such-date", &[]),
    ("field-ambiguous-money", &[]),
    ("session-timeout-note", &["minutes"]),
    ("session-expired-kept", &["minutes"]),
];

/// Plain messages that no `Msg` names: the error pages' headings.
const TITLES: &[&str] = &[
    "error-title-401",
    "error-title-403",
    "error-title-404",
    "error-title-413",
    "error-title-429",
    "error-title-503",
    "error-title-server",
    "error-title-other",
];

/// Every message of a locale with the variables it refers to, by file.
fn parsed(lang: Lang) -> BTreeMap<&'static str, BTreeMap<String, BTreeSet<String>>> {
    files(lang)
        .iter()
        .map(|(name, text)| {
            let resource = fluent_syntax::parser::parse(*text)
                .unwrap_or_else(|(_, errors)| panic!("{lang:?}/{name} does not parse: {errors:?}"));
            let mut messages = BTreeMap::new();
            for entry in resource.body {
                match entry {
                    ast::Entry::Message(message) => {
                        let mut variables = BTreeSet::new();
                        let value = message.value.unwrap_or_else(|| panic!("{} has no value", message.id.name));
                        pattern_variables(&value, &mut variables);
                        let earlier = messages.insert(message.id.name.to_owned(), variables);
                        assert!(earlier.is_none(), "{lang:?}/{name}: {} twice", message.id.name);
                    }
                    ast::Entry::Comment(_) | ast::Entry::GroupComment(_) | ast::Entry::ResourceComment(_) => {}
                    other => panic!("{lang:?}/{name}: unexpected entry {other:?}"),
                }
            }
            (*name, messages)
        })
        .collect()
}

fn pattern_variables(pattern: &ast::Pattern<&str>, out: &mut BTreeSet<String>) {
    for element in &pattern.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            expression_variables(expression, out);
        }
    }
}

fn expression_variables(expression: &ast::Expression<&str>, out: &mut BTreeSet<String>) {
    match expression {
        ast::Expression::Inline(inline) => inline_variables(inline, out),
        ast::Expression::Select { selector, variants } => {
            inline_variables(selector, out);
            for variant in variants {
                pattern_variables(&variant.value, out);
            }
        }
    }
}

fn inline_variables(inline: &ast::InlineExpression<&str>, out: &mut BTreeSet<String>) {
    match inline {
        ast::InlineExpression::VariableReference { id } => {
            out.insert(id.name.to_owned());
        }
        ast::InlineExpression::Placeable { expression } => expression_variables(expression, out),
        other => panic!("only variables and literals in placeables, found {other:?}"),
    }
}

fn all_messages(lang: Lang) -> BTreeMap<String, BTreeSet<String>> {
    parsed(lang).into_values().flatten().collect()
}

#[test]
fn every_locale_has_the_same_files_messages_and_placeholders() {
    let de = parsed(Lang::De);
    let en = parsed(Lang::En);
    assert_eq!(de.keys().collect::<Vec<_>>(), en.keys().collect::<Vec<_>>());
    for (file, messages) in &de {
        let other = &en[file];
        assert_eq!(messages.keys().collect::<Vec<_>>(), other.keys().collect::<Vec<_>>(), "messages of {file}");
        for (id, variables) in messages {
            assert_eq!(variables, &other[id], "placeholders of {id} in {file}");
        }
    }
}

#[test]
fn every_message_the_code_names_exists_and_every_message_is_named() {
    let placeholders: BTreeMap<&str, BTreeSet<String>> =
        PLACEHOLDERS.iter().map(|(id, names)| (*id, names.iter().map(|name| (*name).to_owned()).collect())).collect();
    let mut named: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for msg in Msg::ALL {
        named.insert(msg.id().to_owned(), BTreeSet::new());
    }
    for code in ErrorCode::ALL {
        named.insert(code.message_id(), BTreeSet::new());
    }
    for title in TITLES {
        named.insert((*title).to_owned(), BTreeSet::new());
    }
    for (id, names) in &placeholders {
        named.insert((*id).to_owned(), names.clone());
    }
    // The info pages' texts (`i18n/info.rs`, `locales/*/info.ftl`).
    for text in InfoText::ALL {
        named.insert(text.id().to_owned(), BTreeSet::new());
    }
    for (id, names) in INFO_PLACEHOLDERS {
        named.insert((*id).to_owned(), names.iter().map(|name| (*name).to_owned()).collect());
    }
    // The reasons of audit entries in words (`i18n/reasons.rs`).
    for code in KNOWN_REASONS {
        named.insert(reason_message_id(code), BTreeSet::new());
    }
    for (_, id) in super::reasons::VERSIONED_REASONS {
        named.insert((*id).to_owned(), BTreeSet::from(["version".to_owned()]));
    }
    for lang in ALL_LANGS {
        let messages = all_messages(lang);
        let missing: Vec<&String> = named.keys().filter(|id| !messages.contains_key(*id)).collect();
        let unused: Vec<&String> = messages.keys().filter(|id| !named.contains_key(*id)).collect();
        assert!(missing.is_empty(), "{lang:?}: missing {missing:?}");
        assert!(unused.is_empty(), "{lang:?}: no code uses {unused:?}");
        for (id, variables) in &messages {
            assert_eq!(variables, &named[id], "{lang:?}: the placeholders of {id} are not the ones the code fills in");
        }
    }
}

#[test]
fn every_message_formats_without_errors_or_isolation_marks() {
    for lang in ALL_LANGS {
        for (id, variables) in all_messages(lang) {
            let args: Vec<(&str, Arg)> = variables
                .iter()
                .map(|name| (name.as_str(), if name == "count" { Arg::Number(2) } else { Arg::Text("x".into()) }))
                .collect();
            let text =
                format_checked(lang, &id, &args).unwrap_or_else(|(_, problem)| panic!("{lang:?} {id}: {problem}"));
            assert!(!text.trim().is_empty(), "{lang:?} {id} is empty");
            assert!(!text.contains(['\u{2068}', '\u{2069}']), "{lang:?} {id} has isolation marks");
        }
    }
}

#[test]
fn a_missing_message_or_placeholder_shows_itself() {
    assert_eq!(format(Lang::De, "no-such-message", &[]), "no-such-message");
    let (text, problem) = format_checked(Lang::En, "consent-heading", &[]).expect_err("the department is missing");
    assert!(text.contains("$department") || text.contains("department"), "{text}");
    assert!(!problem.is_empty());
}

#[test]
fn plurals_and_exact_numbers_select_their_variant() {
    assert_eq!(days(Lang::De, 1), "1 Tag");
    assert_eq!(days(Lang::De, 30), "30 Tage");
    assert_eq!(days(Lang::En, 1), "1 day");
    assert_eq!(times(Lang::En, 1), "once");
    assert_eq!(times(Lang::En, 2), "twice");
    assert_eq!(times(Lang::En, 3), "3 times");
    assert_eq!(times(Lang::De, 1), "1 Mal");
    assert_eq!(format_bytes(Lang::De, 1), "1 Byte");
    assert_eq!(format_bytes(Lang::En, 999), "999 bytes");
}

#[test]
fn every_error_code_has_a_title_and_a_message_in_both_languages() {
    for &code in ErrorCode::ALL {
        for lang in ALL_LANGS {
            let title = error_title(lang, code.status().as_u16());
            assert!(!title.starts_with("error-"), "{code}: {title}");
        }
        let error = crate::http::error::ApiError::new(code);
        let (de, en) = (error.message(Lang::De), error.message(Lang::En));
        assert!(!de.is_empty() && !en.is_empty(), "{code}");
    }
}

#[test]
fn stored_values_read_as_people_write_them() {
    use crate::policy::{EnumValue, Localized};
    assert_eq!(field_value(Lang::De, &FieldKind::Money, "1234.50"), "1.234,50 €");
    assert_eq!(field_value(Lang::En, &FieldKind::Money, "1234.50"), "€1,234.50");
    assert_eq!(field_value(Lang::De, &FieldKind::Money, "1234567.05"), "1.234.567,05 €");
    assert_eq!(field_value(Lang::De, &FieldKind::Money, "0.99"), "0,99 €");
    assert_eq!(field_value(Lang::En, &FieldKind::Money, "999.00"), "€999.00");
    assert_eq!(field_value(Lang::De, &FieldKind::Date, "2026-10-01"), "01.10.2026");
    assert_eq!(field_value(Lang::En, &FieldKind::Date, "2026-10-01"), "1 October 2026");
    let choice = FieldKind::Enum {
        values: vec![EnumValue {
            value: "main".to_owned(),
            label: Localized { de: "Hauptwohnung".to_owned(), en: "Main residence".to_owned() },
        }],
    };
    assert_eq!(field_value(Lang::De, &choice, "main"), "Hauptwohnung");
    assert_eq!(field_value(Lang::En, &choice, "main"), "Main residence");
    // What does not parse is shown as stored, never dropped.
    assert_eq!(field_value(Lang::De, &FieldKind::Money, "12,5"), "12,5");
    assert_eq!(field_value(Lang::De, &FieldKind::Date, "gestern"), "gestern");
    assert_eq!(field_value(Lang::De, &choice, "other"), "other");
    assert_eq!(field_value(Lang::De, &FieldKind::Integer { min: 0, max: 9 }, "3"), "3");
}

#[test]
fn statistics_months_read_as_words_and_start_at_german_midnight() {
    assert_eq!(month_label(Lang::De, "2026-05"), "Mai 2026");
    assert_eq!(month_label(Lang::En, "2026-12"), "December 2026");
    assert_eq!(month_label(Lang::De, "2026-13"), "2026-13", "not a month: as given");
    assert_eq!(months_back("2026-02", 2).as_deref(), Some("2025-12"));
    assert_eq!(months_back("2026-02", 0).as_deref(), Some("2026-02"));
    // Winter: 00:00 in Berlin is 23:00 UTC the day before; summer: 22:00.
    assert_eq!(german_month_start("2026-01"), Some(utc(2025, 12, 31, 23, 0)));
    assert_eq!(german_month_start("2026-06"), Some(utc(2026, 5, 31, 22, 0)));
    assert_eq!(german_month_start("Mai"), None);
    assert_eq!(period_last_months(Lang::De, 6), "Letzte 6 Monate");
    assert_eq!(period_shown(Lang::En, Some("2026-03"), "2026-05"), "Shown: March 2026 to May 2026.");
    assert_eq!(period_shown(Lang::De, None, "2026-05"), "Gezeigt: alle Monate bis Mai 2026.");
}

#[test]
fn every_action_has_its_own_words() {
    use crate::audit::Action;
    let actions = Action::ALL;
    let words: BTreeSet<&str> = actions.iter().map(|action| t(Lang::De, action_message(*action))).collect();
    assert_eq!(words.len(), actions.len(), "two actions share their words: {words:?}");
    assert_eq!(t(Lang::En, action_message(Action::AuditQuery)), "Log queried by data protection");
}
