//! Evidence types: the catalogue of what citizens can store, field by
//! field, and the validation of submitted values against it. Values are
//! checked and normalised here so that everything stored has one spelling.

use std::collections::BTreeMap;

use super::value::{self, DatePartsProblem, IntegerProblem};
use super::{Localized, LoginLevel};

/// No submitted value may be longer than this many characters, whatever
/// its kind; checked before any parsing.
pub const MAX_VALUE_CHARS: usize = 10_000;

/// A date field may also be given as three parts, as the date input of the
/// upload form sends it: `<name>.day`, `<name>.month`, `<name>.year`.
pub const DATE_PARTS: [&str; 3] = ["day", "month", "year"];

/// The input name of one part of a date field (`born.day`).
pub fn date_part_key(field: &str, part: &str) -> String {
    format!("{field}.{part}")
}

/// The checked evidence type catalogue, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EvidenceTypes {
    types: Vec<EvidenceType>,
}

impl EvidenceTypes {
    pub fn get(&self, id: &str) -> Option<&EvidenceType> {
        self.types.iter().find(|evidence_type| evidence_type.id == id)
    }

    /// All types in the order of the policy file.
    pub fn iter(&self) -> impl Iterator<Item = &EvidenceType> {
        self.types.iter()
    }

    pub fn len(&self) -> usize {
        self.types.len()
    }

    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
    }

    /// Built only by the parser, after all load-time checks passed.
    pub(super) fn from_checked(types: Vec<EvidenceType>) -> EvidenceTypes {
        EvidenceTypes { types }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceType {
    pub id: String,
    pub version: i32,
    pub name: Localized,
    /// Whether a document file (PDF, image) may be attached.
    pub file_allowed: bool,
    /// The lowest login level with which a citizen may store or release it.
    pub min_login_level: LoginLevel,
    pub fields: Vec<FieldDef>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    pub name: String,
    pub label: Localized,
    pub kind: FieldKind,
    pub required: bool,
    pub sensitivity: Sensitivity,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldKind {
    /// A single line of at most `max_length` characters (Unicode scalar values).
    Text { max_length: usize },
    /// A calendar date, stored as `YYYY-MM-DD`.
    Date,
    /// A non-negative amount in euros with cents, stored as `1234.50`.
    Money,
    /// An integer in `min..=max`.
    Integer { min: i64, max: i64 },
    /// Exactly one of the listed values.
    Enum { values: Vec<EnumValue> },
}

impl FieldKind {
    /// The name used for `kind` in the policy file.
    pub fn as_str(&self) -> &'static str {
        match self {
            FieldKind::Text { .. } => "text",
            FieldKind::Date => "date",
            FieldKind::Money => "money",
            FieldKind::Integer { .. } => "integer",
            FieldKind::Enum { .. } => "enum",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue {
    pub value: String,
    pub label: Localized,
}

/// Data-protection class of a field. `SpecialCategory` marks GDPR Art. 9
/// data (health, for example) that needs stricter handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sensitivity {
    Normal,
    SpecialCategory,
}

impl Sensitivity {
    /// The name used in the policy file: `normal` or `special_category`.
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Normal => "normal",
            Sensitivity::SpecialCategory => "special_category",
        }
    }
}

/// One problem with one submitted field. It never carries the submitted
/// value (so it is safe to log); the words for it are the interface's
/// (`field-<code>` in `locales/*/errors.ftl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub problem: FieldProblem,
}

/// What is wrong with a submitted field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldProblem {
    Required,
    UnknownField,
    TooLong {
        max: usize,
    },
    InvalidCharacters,
    InvalidDate,
    InvalidMoney,
    InvalidInteger,
    OutOfRange {
        min: i64,
        max: i64,
    },
    InvalidChoice,
    /// A date in three parts with some of them empty: which ones.
    DateIncomplete {
        day: bool,
        month: bool,
        year: bool,
    },
    /// The day is not a number from 1 to 31.
    InvalidDay,
    /// The month is not a number from 1 to 12.
    InvalidMonth,
    /// The year is not four digits.
    InvalidYear,
    YearOutOfRange {
        min: i32,
        max: i32,
    },
    /// Day, month and year are each fine, but there is no such day (31.02.).
    NoSuchDate,
    /// An amount with two readings (`1,234`): refused, not guessed.
    AmbiguousMoney,
}

impl FieldProblem {
    /// The stable code API clients see.
    pub fn code(self) -> &'static str {
        match self {
            FieldProblem::Required => "required",
            FieldProblem::UnknownField => "unknown_field",
            FieldProblem::TooLong { .. } => "too_long",
            FieldProblem::InvalidCharacters => "invalid_characters",
            FieldProblem::InvalidDate => "invalid_date",
            FieldProblem::InvalidMoney => "invalid_money",
            FieldProblem::InvalidInteger => "invalid_integer",
            FieldProblem::OutOfRange { .. } => "out_of_range",
            FieldProblem::InvalidChoice => "invalid_choice",
            FieldProblem::DateIncomplete { .. } => "date_incomplete",
            FieldProblem::InvalidDay => "invalid_day",
            FieldProblem::InvalidMonth => "invalid_month",
            FieldProblem::InvalidYear => "invalid_year",
            FieldProblem::YearOutOfRange { .. } => "year_out_of_range",
            FieldProblem::NoSuchDate => "no_such_date",
            FieldProblem::AmbiguousMoney => "ambiguous_money",
        }
    }
}

impl FieldError {
    fn new(field: &str, problem: FieldProblem) -> FieldError {
        FieldError { field: field.to_owned(), problem }
    }

    pub fn code(&self) -> &'static str {
        self.problem.code()
    }
}

impl EvidenceType {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|field| field.name == name)
    }

    /// Whether `name` is one part of a date field (`born.day`).
    fn is_date_part(&self, name: &str) -> bool {
        name.rsplit_once('.').is_some_and(|(field, part)| {
            DATE_PARTS.contains(&part) && self.field(field).is_some_and(|field| field.kind == FieldKind::Date)
        })
    }

    /// Validates raw form or JSON input (field name to string).
    ///
    /// Surrounding whitespace is trimmed; a value that is then empty counts
    /// as absent. Unknown field names, missing required fields and bad
    /// values are errors, all of them reported at once (fields in policy
    /// order, then unknown names). On success returns the normalised values
    /// in field order: dates `YYYY-MM-DD`, money `1234.50`, integers without
    /// leading zeros, enum values exactly as listed. Absent optional fields
    /// are left out. A date field may come as its three parts instead
    /// ([`DATE_PARTS`]); then each part is checked and a problem names the
    /// part (a missing month, a day beyond 31, a year not of four digits
    /// or outside 1900 to 2100, a day the month does not have).
    pub fn validate(&self, input: &BTreeMap<String, String>) -> Result<Vec<(String, String)>, Vec<FieldError>> {
        let mut values = Vec::with_capacity(self.fields.len());
        let mut errors = Vec::new();
        for field in &self.fields {
            if field.kind == FieldKind::Date
                && let Some(parts) = date_parts(input, &field.name)
            {
                let plain = input.get(&field.name).map(|raw| raw.trim()).unwrap_or("");
                if !plain.is_empty() {
                    // Both spellings at once: which one is meant is unclear.
                    errors.push(FieldError::new(&field.name, FieldProblem::InvalidDate));
                    continue;
                }
                if parts.iter().all(|part| part.trim().is_empty()) {
                    if field.required {
                        errors.push(FieldError::new(&field.name, FieldProblem::Required));
                    }
                    continue;
                }
                match value::date_from_parts(parts[0], parts[1], parts[2]) {
                    Ok(date) => values.push((field.name.clone(), date)),
                    Err(problem) => errors.push(FieldError::new(&field.name, date_problem(problem))),
                }
                continue;
            }
            let raw = input.get(&field.name).map(|raw| raw.trim()).unwrap_or("");
            if raw.is_empty() {
                if field.required {
                    errors.push(FieldError::new(&field.name, FieldProblem::Required));
                }
                continue;
            }
            match field.normalise(raw) {
                Ok(value) => values.push((field.name.clone(), value)),
                Err(error) => errors.push(error),
            }
        }
        for name in input.keys() {
            if self.field(name).is_none() && !self.is_date_part(name) {
                errors.push(FieldError::new(name, FieldProblem::UnknownField));
            }
        }
        if errors.is_empty() { Ok(values) } else { Err(errors) }
    }
}

/// The three parts of date field `name` when any of them was given.
fn date_parts<'a>(input: &'a BTreeMap<String, String>, name: &str) -> Option<[&'a str; 3]> {
    let [day, month, year] = DATE_PARTS.map(|part| input.get(&date_part_key(name, part)).map(String::as_str));
    if day.is_none() && month.is_none() && year.is_none() {
        return None;
    }
    Some([day.unwrap_or(""), month.unwrap_or(""), year.unwrap_or("")])
}

fn date_problem(problem: DatePartsProblem) -> FieldProblem {
    match problem {
        DatePartsProblem::Missing { day, month, year } => FieldProblem::DateIncomplete { day, month, year },
        DatePartsProblem::Day => FieldProblem::InvalidDay,
        DatePartsProblem::Month => FieldProblem::InvalidMonth,
        DatePartsProblem::Year => FieldProblem::InvalidYear,
        DatePartsProblem::YearOutOfRange => FieldProblem::YearOutOfRange { min: value::MIN_YEAR, max: value::MAX_YEAR },
        DatePartsProblem::NoSuchDay => FieldProblem::NoSuchDate,
    }
}

impl FieldDef {
    /// Checks one non-empty, trimmed value against this field's kind.
    fn normalise(&self, raw: &str) -> Result<String, FieldError> {
        let error = |problem| FieldError::new(&self.name, problem);
        // Length first, so nothing below ever parses a huge value.
        let length = raw.chars().count();
        if length > MAX_VALUE_CHARS {
            return Err(error(FieldProblem::TooLong { max: MAX_VALUE_CHARS }));
        }
        if crate::text::has_refused_char(raw) {
            return Err(error(FieldProblem::InvalidCharacters));
        }
        match &self.kind {
            FieldKind::Text { max_length } => {
                if length > *max_length {
                    return Err(error(FieldProblem::TooLong { max: *max_length }));
                }
                Ok(raw.to_owned())
            }
            FieldKind::Date => value::normalise_date(raw).ok_or_else(|| error(FieldProblem::InvalidDate)),
            FieldKind::Money => value::normalise_money(raw).ok_or_else(|| {
                error(if value::is_ambiguous_money(raw) {
                    FieldProblem::AmbiguousMoney
                } else {
                    FieldProblem::InvalidMoney
                })
            }),
            FieldKind::Integer { min, max } => match value::parse_integer(raw) {
                Ok(number) if (*min..=*max).contains(&number) => Ok(number.to_string()),
                Ok(_) | Err(IntegerProblem::TooLarge) => Err(error(FieldProblem::OutOfRange { min: *min, max: *max })),
                Err(IntegerProblem::NotAnInteger) => Err(error(FieldProblem::InvalidInteger)),
            },
            FieldKind::Enum { values } => values
                .iter()
                .find(|choice| choice.value == raw)
                .map(|choice| choice.value.clone())
                .ok_or_else(|| error(FieldProblem::InvalidChoice)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn localized(de: &str, en: &str) -> Localized {
        Localized { de: de.to_owned(), en: en.to_owned() }
    }

    fn field(name: &str, kind: FieldKind, required: bool) -> FieldDef {
        FieldDef {
            name: name.to_owned(),
            label: localized(name, name),
            kind,
            required,
            sensitivity: Sensitivity::Normal,
        }
    }

    /// One field of every kind; only `name` is optional.
    fn sample_type() -> EvidenceType {
        EvidenceType {
            id: "sample".to_owned(),
            version: 1,
            name: localized("Beispiel", "Sample"),
            file_allowed: false,
            min_login_level: LoginLevel::Low,
            fields: vec![
                field("name", FieldKind::Text { max_length: 5 }, false),
                field("born", FieldKind::Date, true),
                field("income", FieldKind::Money, true),
                field("children", FieldKind::Integer { min: 0, max: 20 }, true),
                field(
                    "residence",
                    FieldKind::Enum {
                        values: vec![
                            EnumValue { value: "main".to_owned(), label: localized("Hauptwohnung", "Main residence") },
                            EnumValue {
                                value: "secondary".to_owned(),
                                label: localized("Nebenwohnung", "Secondary residence"),
                            },
                        ],
                    },
                    true,
                ),
            ],
        }
    }

    fn input(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    fn good_input() -> BTreeMap<String, String> {
        input(&[
            ("name", " Anna "),
            ("born", "01.02.1990"),
            ("income", "1.234,5"),
            ("children", "02"),
            ("residence", "main"),
        ])
    }

    /// Replaces one value in the good input and returns the single error.
    fn single_error(name: &str, value: &str) -> FieldError {
        let mut values = good_input();
        values.insert(name.to_owned(), value.to_owned());
        let mut errors = sample_type().validate(&values).expect_err("value should be rejected");
        assert_eq!(errors.len(), 1, "{errors:?}");
        errors.remove(0)
    }

    #[test]
    fn good_values_are_normalised_in_field_order() {
        let values = sample_type().validate(&good_input()).expect("valid");
        assert_eq!(
            values,
            vec![
                ("name".to_owned(), "Anna".to_owned()),
                ("born".to_owned(), "1990-02-01".to_owned()),
                ("income".to_owned(), "1234.50".to_owned()),
                ("children".to_owned(), "2".to_owned()),
                ("residence".to_owned(), "main".to_owned()),
            ]
        );
    }

    #[test]
    fn money_spellings_are_accepted() {
        for (spelling, expected) in
            [("1234,50", "1234.50"), ("1.234,50", "1234.50"), ("1234.5", "1234.50"), ("1234", "1234.00")]
        {
            let mut values = good_input();
            values.insert("income".to_owned(), spelling.to_owned());
            let normalised = sample_type().validate(&values).expect("valid");
            assert_eq!(normalised[2], ("income".to_owned(), expected.to_owned()));
        }
    }

    #[test]
    fn empty_optional_fields_are_dropped() {
        for empty in ["", "   "] {
            let mut values = good_input();
            values.insert("name".to_owned(), empty.to_owned());
            let normalised = sample_type().validate(&values).expect("valid");
            assert!(normalised.iter().all(|(name, _)| name != "name"));
            assert_eq!(normalised.len(), 4);
        }
        let mut values = good_input();
        values.remove("name");
        assert_eq!(sample_type().validate(&values).expect("valid").len(), 4);
    }

    #[test]
    fn missing_or_blank_required_field_is_required() {
        let mut values = good_input();
        values.remove("born");
        let errors = sample_type().validate(&values).expect_err("missing");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "born");
        assert_eq!(errors[0].code(), "required");
        assert_eq!(single_error("born", " \u{20} ").code(), "required");
    }

    #[test]
    fn unknown_field_is_rejected() {
        let error = single_error("is_admin", "true");
        assert_eq!(error.field, "is_admin");
        assert_eq!(error.code(), "unknown_field");
    }

    #[test]
    fn empty_unknown_field_is_still_rejected() {
        assert_eq!(single_error("extra", "").code(), "unknown_field");
    }

    #[test]
    fn each_bad_kind_has_its_code() {
        for (name, value, code) in [
            ("name", "Annabelle", "too_long"),
            ("born", "30.02.2024", "invalid_date"),
            ("born", "yesterday", "invalid_date"),
            ("income", "12,345", "ambiguous_money"),
            ("income", "12,34,5", "invalid_money"),
            ("income", "-5", "invalid_money"),
            ("children", "two", "invalid_integer"),
            ("children", "2.5", "invalid_integer"),
            ("children", "21", "out_of_range"),
            ("children", "-1", "out_of_range"),
            ("children", "99999999999999999999", "out_of_range"),
            ("residence", "Main", "invalid_choice"),
            ("residence", "Hauptwohnung", "invalid_choice"),
        ] {
            let error = single_error(name, value);
            assert_eq!((error.field.as_str(), error.code()), (name, code), "{value:?}");
            // The error carries the problem, never the value (safe to log).
            assert!(!format!("{error:?}").contains(value), "{error:?} repeats the value {value:?}");
        }
    }

    #[test]
    fn text_length_counts_characters_not_bytes() {
        let mut values = good_input();
        values.insert("name".to_owned(), "Jürgö".to_owned());
        assert!(sample_type().validate(&values).is_ok());
    }

    #[test]
    fn control_characters_are_rejected() {
        for value in ["An\nna", "An\tna", "A\0", "A\u{1b}[31m", "A\u{7f}", "A\u{202E}b"] {
            let error = single_error("name", value);
            assert_eq!(error.code(), "invalid_characters", "{value:?}");
        }
        // Also in kinds that would reject them anyway, with the clearer code.
        assert_eq!(single_error("residence", "ma\nin").code(), "invalid_characters");
    }

    /// The shared rule (`crate::text`): zero-width, soft-hyphen, byte-order,
    /// word-joiner and tag characters were let through before.
    #[test]
    fn invisible_format_characters_are_rejected() {
        for value in ["An\u{200B}na", "An\u{00AD}na", "\u{FEFF}Anna", "An\u{2060}na", "Anna\u{E0041}", "An\u{200D}na"] {
            let error = single_error("name", value);
            assert_eq!(error.code(), "invalid_characters", "{value:?}");
        }
    }

    #[test]
    fn values_over_ten_thousand_characters_are_too_long_for_every_kind() {
        let mut wide = sample_type();
        wide.fields[0].kind = FieldKind::Text { max_length: MAX_VALUE_CHARS };
        let mut values = good_input();
        values.insert("name".to_owned(), "a".repeat(MAX_VALUE_CHARS));
        assert!(wide.validate(&values).is_ok());

        for name in ["name", "born", "income", "children", "residence"] {
            let mut values = good_input();
            values.insert(name.to_owned(), "1".repeat(MAX_VALUE_CHARS + 1));
            let errors = wide.validate(&values).expect_err("too long");
            assert_eq!(errors.len(), 1);
            assert_eq!((errors[0].field.as_str(), errors[0].code()), (name, "too_long"));
        }
    }

    #[test]
    fn all_errors_are_reported_at_once() {
        let values = input(&[("name", "far too long"), ("children", "x"), ("zzz", "1")]);
        let errors = sample_type().validate(&values).expect_err("invalid");
        let found: Vec<(&str, &str)> = errors.iter().map(|error| (error.field.as_str(), error.code())).collect();
        assert_eq!(
            found,
            vec![
                ("name", "too_long"),
                ("born", "required"),
                ("income", "required"),
                ("children", "invalid_integer"),
                ("residence", "required"),
                ("zzz", "unknown_field"),
            ]
        );
    }

    #[test]
    fn a_date_in_three_parts_is_checked_part_by_part() {
        let with_born = |day: &str, month: &str, year: &str| {
            let mut values = good_input();
            values.remove("born");
            for (part, value) in DATE_PARTS.iter().zip([day, month, year]) {
                values.insert(date_part_key("born", part), value.to_owned());
            }
            sample_type().validate(&values)
        };
        let values = with_born("1", "10", "2026").expect("valid");
        assert!(values.contains(&("born".to_owned(), "2026-10-01".to_owned())), "{values:?}");
        for ((day, month, year), expected) in [
            (("31", "02", "2026"), FieldProblem::NoSuchDate),
            (("", "", ""), FieldProblem::Required),
            (("", "3", ""), FieldProblem::DateIncomplete { day: true, month: false, year: true }),
            (("32", "3", "2007"), FieldProblem::InvalidDay),
            (("3", "13", "2007"), FieldProblem::InvalidMonth),
            (("3", "12", "07"), FieldProblem::InvalidYear),
            (("3", "12", "1850"), FieldProblem::YearOutOfRange { min: 1900, max: 2100 }),
        ] {
            let errors = with_born(day, month, year).expect_err("refused");
            assert_eq!(errors, vec![FieldError::new("born", expected)], "{day}.{month}.{year}");
        }
        // Both spellings at once are refused rather than one guessed.
        let mut both = good_input();
        both.insert(date_part_key("born", "day"), "1".to_owned());
        let errors = sample_type().validate(&both).expect_err("refused");
        assert_eq!(errors, vec![FieldError::new("born", FieldProblem::InvalidDate)]);
        // Parts of a field that is no date are unknown fields.
        let mut not_a_date = good_input();
        not_a_date.insert("name.day".to_owned(), "1".to_owned());
        let errors = sample_type().validate(&not_a_date).expect_err("refused");
        assert_eq!(errors, vec![FieldError::new("name.day", FieldProblem::UnknownField)]);
    }

    #[test]
    fn field_lookup() {
        let evidence_type = sample_type();
        assert_eq!(evidence_type.field("born").map(|field| &field.kind), Some(&FieldKind::Date));
        assert!(evidence_type.field("Born").is_none());
    }
}
