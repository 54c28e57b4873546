//! Turning the text of `evidence-types.toml` into checked [`EvidenceTypes`].
//! The raw serde structs keep byte spans so that every problem, from a TOML
//! syntax error to a duplicate id, is reported with its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::evidence::{EnumValue, EvidenceType, EvidenceTypes, FieldDef, FieldKind, MAX_VALUE_CHARS, Sensitivity};
use super::{Localized, LoginLevel, PolicyError};

/// Longest identifier (type id, field name) in characters.
const MAX_NAME_CHARS: usize = 64;

impl EvidenceTypes {
    /// Parses and checks the text of an evidence type catalogue. `path` is
    /// only used to name the file in errors; nothing is read from it.
    pub fn from_toml(source: &str, path: &Path) -> Result<EvidenceTypes, PolicyError> {
        let checker = Checker { source, path: path.to_path_buf() };
        let raw: RawFile = toml::from_str(source).map_err(|error| {
            let line = error.span().map_or(1, |span| checker.line_of(span.start));
            checker.error_at_line(line, error.message().trim_end().to_owned())
        })?;
        checker.check_file(raw)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    evidence_type: Vec<RawType>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawType {
    id: Spanned<String>,
    version: Spanned<i64>,
    name: RawLocalized,
    file_allowed: bool,
    #[serde(default)]
    min_login_level: Option<LoginLevel>,
    #[serde(default)]
    field: Vec<RawField>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalized {
    de: Spanned<String>,
    en: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Spanned<String>,
    label: RawLocalized,
    kind: Spanned<String>,
    required: bool,
    sensitivity: Spanned<String>,
    // Kind options; each is allowed only with its kind.
    max_length: Option<Spanned<i64>>,
    min: Option<Spanned<i64>>,
    max: Option<Spanned<i64>>,
    values: Option<Spanned<Vec<RawEnumValue>>>,
    currency: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnumValue {
    value: Spanned<String>,
    label: RawLocalized,
}

struct Checker<'source> {
    source: &'source str,
    path: PathBuf,
}

impl Checker<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let before = &self.source.as_bytes()[..offset.min(self.source.len())];
        before.iter().filter(|&&byte| byte == b'\n').count() + 1
    }

    fn error_at_line(&self, line: usize, message: String) -> PolicyError {
        PolicyError::Invalid { path: self.path.clone(), line, message }
    }

    fn error(&self, span: Range<usize>, message: String) -> PolicyError {
        self.error_at_line(self.line_of(span.start), message)
    }

    fn check_file(&self, raw: RawFile) -> Result<EvidenceTypes, PolicyError> {
        if raw.evidence_type.is_empty() {
            return Err(
                self.error_at_line(1, "no evidence types defined (expected at least one [[evidence_type]])".to_owned())
            );
        }
        let mut first_line_of_id: BTreeMap<String, usize> = BTreeMap::new();
        let mut types = Vec::with_capacity(raw.evidence_type.len());
        for raw_type in raw.evidence_type {
            let line = self.line_of(raw_type.id.span().start);
            if let Some(first) = first_line_of_id.get(raw_type.id.get_ref()) {
                return Err(self.error_at_line(
                    line,
                    format!("duplicate evidence type id `{}` (first defined on line {first})", raw_type.id.get_ref()),
                ));
            }
            first_line_of_id.insert(raw_type.id.get_ref().clone(), line);
            types.push(self.check_type(raw_type)?);
        }
        Ok(EvidenceTypes::from_checked(types))
    }

    fn check_type(&self, raw: RawType) -> Result<EvidenceType, PolicyError> {
        let id = raw.id.get_ref();
        if !is_identifier(id) {
            return Err(self.error(
                raw.id.span(),
                format!(
                    "evidence type id `{id}` must start with a lowercase letter and contain only \
                     lowercase letters, digits and `_` (at most {MAX_NAME_CHARS} characters)"
                ),
            ));
        }
        let version = i32::try_from(*raw.version.get_ref()).ok().filter(|version| *version >= 1).ok_or_else(|| {
            self.error(
                raw.version.span(),
                format!(
                    "evidence type `{id}` has version {}; it must be a positive whole number",
                    raw.version.get_ref()
                ),
            )
        })?;
        let name = self.localized(raw.name, &format!("evidence type `{id}`: `name`"))?;
        if raw.field.is_empty() {
            return Err(self.error(raw.id.span(), format!("evidence type `{id}` has no fields")));
        }
        let mut first_line_of_field: BTreeMap<String, usize> = BTreeMap::new();
        let mut fields = Vec::with_capacity(raw.field.len());
        for raw_field in raw.field {
            let field_name = raw_field.name.get_ref();
            let line = self.line_of(raw_field.name.span().start);
            if let Some(first) = first_line_of_field.get(field_name) {
                return Err(self.error_at_line(
                    line,
                    format!(
                        "duplicate field `{field_name}` in evidence type `{id}` \
                         (first defined on line {first})"
                    ),
                ));
            }
            first_line_of_field.insert(field_name.clone(), line);
            fields.push(self.check_field(raw_field)?);
        }
        Ok(EvidenceType {
            id: id.clone(),
            version,
            name,
            file_allowed: raw.file_allowed,
            min_login_level: raw.min_login_level.unwrap_or(LoginLevel::Low),
            fields,
        })
    }

    fn check_field(&self, raw: RawField) -> Result<FieldDef, PolicyError> {
        let name = raw.name.get_ref().clone();
        if !is_identifier(&name) {
            return Err(self.error(
                raw.name.span(),
                format!(
                    "field name `{name}` must start with a lowercase letter and contain only \
                     lowercase letters, digits and `_` (at most {MAX_NAME_CHARS} characters)"
                ),
            ));
        }
        let label = self.localized(raw.label, &format!("field `{name}`: `label`"))?;
        let sensitivity = match raw.sensitivity.get_ref().as_str() {
            "normal" => Sensitivity::Normal,
            "special_category" => Sensitivity::SpecialCategory,
            other => {
                return Err(self.error(
                    raw.sensitivity.span(),
                    format!(
                        "field `{name}` has unknown sensitivity `{other}` \
                         (expected `normal` or `special_category`)"
                    ),
                ));
            }
        };
        let kind_name = raw.kind.get_ref().as_str();
        if !["text", "date", "money", "integer", "enum"].contains(&kind_name) {
            return Err(self.error(raw.kind.span(), format!("field `{name}` has unknown kind `{kind_name}`")));
        }
        // Options that do not belong to the kind are mistakes, not noise.
        let options: [(&str, Option<Range<usize>>, &str); 5] = [
            ("max_length", raw.max_length.as_ref().map(Spanned::span), "text"),
            ("min", raw.min.as_ref().map(Spanned::span), "integer"),
            ("max", raw.max.as_ref().map(Spanned::span), "integer"),
            ("values", raw.values.as_ref().map(Spanned::span), "enum"),
            ("currency", raw.currency.as_ref().map(Spanned::span), "money"),
        ];
        for (option, span, allowed_kind) in options {
            if let Some(span) = span
                && allowed_kind != kind_name
            {
                return Err(self.error(
                    span,
                    format!(
                        "field `{name}` of kind `{kind_name}` cannot have `{option}` \
                         (only {allowed_kind} fields can)"
                    ),
                ));
            }
        }
        let kind = match kind_name {
            "text" => {
                let max_length = raw
                    .max_length
                    .ok_or_else(|| self.error(raw.kind.span(), format!("text field `{name}` needs `max_length`")))?;
                let valid =
                    usize::try_from(*max_length.get_ref()).ok().filter(|length| (1..=MAX_VALUE_CHARS).contains(length));
                let max_length = valid.ok_or_else(|| {
                    self.error(
                        max_length.span(),
                        format!(
                            "field `{name}` has max_length {}; it must be from 1 to {MAX_VALUE_CHARS}",
                            max_length.get_ref()
                        ),
                    )
                })?;
                FieldKind::Text { max_length }
            }
            "date" => FieldKind::Date,
            "money" => {
                if let Some(currency) = &raw.currency
                    && currency.get_ref() != "EUR"
                {
                    return Err(self.error(
                        currency.span(),
                        format!("field `{name}` has currency `{}`; only `EUR` is supported", currency.get_ref()),
                    ));
                }
                FieldKind::Money
            }
            "integer" => {
                let (Some(min), Some(max)) = (&raw.min, &raw.max) else {
                    return Err(
                        self.error(raw.kind.span(), format!("integer field `{name}` needs both `min` and `max`"))
                    );
                };
                if min.get_ref() > max.get_ref() {
                    return Err(self.error(
                        max.span(),
                        format!("field `{name}` has min {} greater than max {}", min.get_ref(), max.get_ref()),
                    ));
                }
                FieldKind::Integer { min: *min.get_ref(), max: *max.get_ref() }
            }
            _ => {
                // "enum", the only kind left after the check above.
                let raw_values = raw
                    .values
                    .ok_or_else(|| self.error(raw.kind.span(), format!("enum field `{name}` needs `values`")))?;
                let values_span = raw_values.span();
                let raw_values = raw_values.into_inner();
                if raw_values.is_empty() {
                    return Err(self.error(values_span, format!("enum field `{name}` has no values")));
                }
                let mut values: Vec<EnumValue> = Vec::with_capacity(raw_values.len());
                for raw_value in raw_values {
                    values.push(self.check_enum_value(&name, raw_value, &values)?);
                }
                FieldKind::Enum { values }
            }
        };
        Ok(FieldDef { name, label, kind, required: raw.required, sensitivity })
    }

    fn check_enum_value(
        &self,
        field: &str,
        raw: RawEnumValue,
        earlier: &[EnumValue],
    ) -> Result<EnumValue, PolicyError> {
        let value = raw.value.get_ref();
        // Submitted values are trimmed before matching, so a value with
        // surrounding spaces could never be chosen.
        if value.is_empty()
            || value.trim() != value
            || value.chars().count() > MAX_NAME_CHARS
            || crate::text::has_refused_char(value)
        {
            return Err(self.error(
                raw.value.span(),
                format!(
                    "enum field `{field}` has value {value:?}; values must be 1 to \
                     {MAX_NAME_CHARS} characters without surrounding spaces, control characters or invisible \
                     formatting characters"
                ),
            ));
        }
        if earlier.iter().any(|other| &other.value == value) {
            return Err(self.error(raw.value.span(), format!("enum field `{field}` lists value `{value}` twice")));
        }
        let label = self.localized(raw.label, &format!("enum field `{field}`, value `{value}`: `label`"))?;
        Ok(EnumValue { value: value.clone(), label })
    }

    fn localized(&self, raw: RawLocalized, context: &str) -> Result<Localized, PolicyError> {
        for (language, text) in [("de", &raw.de), ("en", &raw.en)] {
            if text.get_ref().trim().is_empty() {
                return Err(self.error(text.span(), format!("{context} has an empty `{language}` text")));
            }
        }
        Ok(Localized { de: raw.de.into_inner(), en: raw.en.into_inner() })
    }
}

/// `[a-z][a-z0-9_]{0,63}`.
fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= MAX_NAME_CHARS
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "policies/evidence-types.toml";

    /// Marks the line a test expects an error on.
    const MARK: &str = "# <- error";

    /// A small valid type; tests append fields or edit it.
    const GOOD_TYPE: &str = r#"
[[evidence_type]]
id = "rent_certificate"
version = 1
name = { de = "Mietbescheinigung", en = "Rent certificate" }
file_allowed = true

[[evidence_type.field]]
name = "monthly_rent"
label = { de = "Miete im Monat", en = "Monthly rent" }
kind = "money"
required = true
sensitivity = "normal"
"#;

    fn parse(source: &str) -> Result<EvidenceTypes, PolicyError> {
        EvidenceTypes::from_toml(source, Path::new(PATH))
    }

    /// Parses `source`, expects an error on the line carrying [`MARK`]
    /// whose message contains `expected`, and returns the message.
    #[track_caller]
    fn assert_error_on_marked_line(source: &str, expected: &str) -> String {
        let marked: Vec<usize> =
            source.lines().enumerate().filter(|(_, line)| line.contains(MARK)).map(|(index, _)| index + 1).collect();
        assert_eq!(marked.len(), 1, "test source needs exactly one mark");
        let error = parse(source).expect_err("policy should be rejected");
        let PolicyError::Invalid { path, line, message } = &error else {
            panic!("expected Invalid, got {error:?}");
        };
        assert_eq!(path, Path::new(PATH));
        assert_eq!(*line, marked[0], "wrong line for: {message}");
        assert!(message.contains(expected), "message {message:?} does not contain {expected:?}");
        assert!(error.to_string().starts_with(&format!("{PATH}:{}: ", marked[0])), "{error}");
        message.clone()
    }

    /// `GOOD_TYPE` plus one field made of `lines`.
    fn with_field(lines: &str) -> String {
        format!("{GOOD_TYPE}\n[[evidence_type.field]]\n{lines}\n")
    }

    #[test]
    fn good_catalogue_parses_in_file_order_with_defaults() {
        let source = format!(
            "{GOOD_TYPE}{}",
            r#"
[[evidence_type.field]]
name = "living_space_sqm"
label = { de = "Wohnfläche", en = "Living space" }
kind = "integer"
min = 1
max = 1000
required = false
sensitivity = "normal"

[[evidence_type.field]]
name = "residence_type"
label = { de = "Art der Wohnung", en = "Type of residence" }
kind = "enum"
values = [{ value = "main", label = { de = "Hauptwohnung", en = "Main residence" } }]
required = true
sensitivity = "special_category"

[[evidence_type]]
id = "birth_certificate"
version = 3
name = { de = "Geburtsurkunde", en = "Birth certificate" }
file_allowed = false
min_login_level = "high"

[[evidence_type.field]]
name = "place_of_birth"
label = { de = "Geburtsort", en = "Place of birth" }
kind = "text"
max_length = 100
required = true
sensitivity = "normal"
"#
        );
        let types = parse(&source).expect("valid");
        let ids: Vec<&str> = types.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["rent_certificate", "birth_certificate"]);
        assert_eq!(types.len(), 2);

        let rent = types.get("rent_certificate").expect("present");
        assert_eq!(rent.version, 1);
        assert_eq!(rent.min_login_level, LoginLevel::Low, "default is low");
        assert!(rent.file_allowed);
        assert_eq!(rent.name.de, "Mietbescheinigung");
        let names: Vec<&str> = rent.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["monthly_rent", "living_space_sqm", "residence_type"]);
        assert_eq!(rent.fields[0].kind, FieldKind::Money);
        assert_eq!(rent.fields[1].kind, FieldKind::Integer { min: 1, max: 1000 });
        assert!(!rent.fields[1].required);
        assert_eq!(
            rent.fields[2].kind,
            FieldKind::Enum {
                values: vec![EnumValue {
                    value: "main".to_owned(),
                    label: Localized { de: "Hauptwohnung".to_owned(), en: "Main residence".to_owned() }
                }]
            }
        );
        assert_eq!(rent.fields[2].sensitivity, Sensitivity::SpecialCategory);

        let birth = types.get("birth_certificate").expect("present");
        assert_eq!(birth.version, 3);
        assert_eq!(birth.min_login_level, LoginLevel::High);
        assert!(!birth.file_allowed);
        assert_eq!(birth.fields[0].kind, FieldKind::Text { max_length: 100 });
        assert!(types.get("unknown").is_none());
    }

    #[test]
    fn toml_syntax_error_names_line() {
        let source = format!("{GOOD_TYPE}\n[[evidence_type]]\nid = \"broken # <- error\n");
        assert_error_on_marked_line(&source, "");
    }

    #[test]
    fn unknown_key_names_line() {
        let source = GOOD_TYPE.replace("file_allowed = true", "file_allowed = true\nfile_alowed = false # <- error");
        assert_error_on_marked_line(&source, "unknown field `file_alowed`");
    }

    #[test]
    fn wrong_value_type_names_line() {
        let source = GOOD_TYPE.replace("version = 1", "version = \"1\" # <- error");
        assert_error_on_marked_line(&source, "");
    }

    #[test]
    fn unknown_login_level_names_line() {
        let source =
            GOOD_TYPE.replace("file_allowed = true", "file_allowed = true\nmin_login_level = \"medium\" # <- error");
        assert_error_on_marked_line(&source, "medium");
    }

    #[test]
    fn empty_file_is_rejected_on_line_one() {
        let error = parse("# no types yet # <- error\n").expect_err("empty");
        assert_eq!(error.line(), Some(1));
        assert!(error.to_string().contains("no evidence types"), "{error}");
        assert_error_on_marked_line("# nothing here # <- error\n", "no evidence types");
    }

    #[test]
    fn duplicate_type_id_names_second_line_and_first() {
        let second = GOOD_TYPE.replace("id = \"rent_certificate\"", "id = \"rent_certificate\" # <- error");
        let source = format!("{GOOD_TYPE}{second}");
        let message = assert_error_on_marked_line(&source, "duplicate evidence type id `rent_certificate`");
        assert!(message.contains("first defined on line 3"), "{message}");
    }

    #[test]
    fn invalid_type_id_names_line() {
        for bad in ["Rent", "rent-certificate", "1rent", "", "rent certificate"] {
            let source = GOOD_TYPE.replace("id = \"rent_certificate\"", &format!("id = \"{bad}\" # <- error"));
            assert_error_on_marked_line(&source, "evidence type id");
        }
    }

    #[test]
    fn version_must_be_positive_i32() {
        for bad in ["0", "-1", "2147483648"] {
            let source = GOOD_TYPE.replace("version = 1", &format!("version = {bad} # <- error"));
            assert_error_on_marked_line(&source, "version");
        }
    }

    #[test]
    fn type_without_fields_names_id_line() {
        let source = r#"
[[evidence_type]]
id = "empty" # <- error
version = 1
name = { de = "Leer", en = "Empty" }
file_allowed = false
"#;
        assert_error_on_marked_line(source, "evidence type `empty` has no fields");
    }

    #[test]
    fn duplicate_field_name_names_second_line_and_first() {
        let source = with_field(
            r#"name = "monthly_rent" # <- error
label = { de = "Noch einmal", en = "Again" }
kind = "money"
required = false
sensitivity = "normal""#,
        );
        let message = assert_error_on_marked_line(&source, "duplicate field `monthly_rent`");
        assert!(message.contains("first defined on line 9"), "{message}");
    }

    #[test]
    fn same_field_name_in_different_types_is_fine() {
        let second = GOOD_TYPE.replace("rent_certificate", "other_certificate");
        assert!(parse(&format!("{GOOD_TYPE}{second}")).is_ok());
    }

    #[test]
    fn invalid_field_names_name_line() {
        let too_long = format!("a{}", "b".repeat(64));
        for bad in ["", "Name", "1st", "_private", "with-dash", "with space", "straße", too_long.as_str()] {
            let source = with_field(&format!(
                "name = \"{bad}\" # <- error\nlabel = {{ de = \"X\", en = \"X\" }}\nkind = \"date\"\nrequired = false\nsensitivity = \"normal\""
            ));
            assert_error_on_marked_line(&source, "field name");
        }
    }

    #[test]
    fn longest_field_name_is_accepted() {
        let longest = format!("a{}", "b_9".repeat(21));
        assert_eq!(longest.len(), 64);
        let source = with_field(&format!(
            "name = \"{longest}\"\nlabel = {{ de = \"X\", en = \"X\" }}\nkind = \"date\"\nrequired = false\nsensitivity = \"normal\""
        ));
        let types = parse(&source).expect("valid");
        let rent = types.get("rent_certificate").expect("present");
        assert!(rent.field(&longest).is_some());
    }

    #[test]
    fn unknown_kind_names_line_in_the_documented_form() {
        let source = with_field(
            r#"name = "x"
label = { de = "X", en = "X" }
kind = "foo" # <- error
required = false
sensitivity = "normal""#,
        );
        let message = assert_error_on_marked_line(&source, "");
        assert_eq!(message, "field `x` has unknown kind `foo`");
        let error = parse(&source).expect_err("invalid");
        assert_eq!(
            error.to_string(),
            format!("{PATH}:{}: field `x` has unknown kind `foo`", error.line().expect("has line"))
        );
    }

    #[test]
    fn unknown_sensitivity_names_line() {
        let source = with_field(
            r#"name = "x"
label = { de = "X", en = "X" }
kind = "date"
required = false
sensitivity = "secret" # <- error"#,
        );
        assert_error_on_marked_line(&source, "unknown sensitivity `secret`");
    }

    #[test]
    fn missing_key_in_field_names_the_field_header_line() {
        let source = format!(
            "{GOOD_TYPE}\n[[evidence_type.field]] {MARK}\nname = \"x\"\nlabel = {{ de = \"X\", en = \"X\" }}\nkind = \"date\"\nrequired = false\n"
        );
        assert_error_on_marked_line(&source, "missing field `sensitivity`");
    }

    #[test]
    fn enum_without_values_names_kind_line() {
        let source = with_field(
            r#"name = "choice"
label = { de = "Auswahl", en = "Choice" }
kind = "enum" # <- error
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "enum field `choice` needs `values`");
    }

    #[test]
    fn enum_with_empty_values_names_line() {
        let source = with_field(
            r#"name = "choice"
label = { de = "Auswahl", en = "Choice" }
kind = "enum"
values = [] # <- error
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "enum field `choice` has no values");
    }

    #[test]
    fn enum_with_duplicate_value_names_line() {
        let source = with_field(
            r#"name = "choice"
label = { de = "Auswahl", en = "Choice" }
kind = "enum"
values = [
  { value = "a", label = { de = "A", en = "A" } },
  { value = "a", label = { de = "A2", en = "A2" } }, # <- error
]
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "lists value `a` twice");
    }

    #[test]
    fn enum_value_that_could_never_be_chosen_names_line() {
        for bad in ["", " main", "main ", "ma\\nin"] {
            let source = with_field(&format!(
                "name = \"choice\"\nlabel = {{ de = \"A\", en = \"A\" }}\nkind = \"enum\"\nvalues = [\n  {{ value = \"{bad}\", label = {{ de = \"A\", en = \"A\" }} }}, {MARK}\n]\nrequired = true\nsensitivity = \"normal\""
            ));
            assert_error_on_marked_line(&source, "enum field `choice` has value");
        }
    }

    #[test]
    fn integer_min_greater_than_max_names_line() {
        let source = with_field(
            r#"name = "count"
label = { de = "Anzahl", en = "Count" }
kind = "integer"
min = 10
max = 5 # <- error
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "min 10 greater than max 5");
    }

    #[test]
    fn integer_min_equal_to_max_is_accepted() {
        let source = with_field(
            "name = \"count\"\nlabel = { de = \"A\", en = \"A\" }\nkind = \"integer\"\nmin = 5\nmax = 5\nrequired = true\nsensitivity = \"normal\"",
        );
        assert!(parse(&source).is_ok());
    }

    #[test]
    fn integer_without_bounds_names_kind_line() {
        let source = with_field(
            r#"name = "count"
label = { de = "Anzahl", en = "Count" }
kind = "integer" # <- error
min = 0
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "needs both `min` and `max`");
    }

    #[test]
    fn text_max_length_must_be_1_to_10000() {
        for bad in ["0", "-1", "10001"] {
            let source = with_field(&format!(
                "name = \"note\"\nlabel = {{ de = \"A\", en = \"A\" }}\nkind = \"text\"\nmax_length = {bad} {MARK}\nrequired = true\nsensitivity = \"normal\""
            ));
            assert_error_on_marked_line(&source, "must be from 1 to 10000");
        }
        for good in [1, 10_000] {
            let source = with_field(&format!(
                "name = \"note\"\nlabel = {{ de = \"A\", en = \"A\" }}\nkind = \"text\"\nmax_length = {good}\nrequired = true\nsensitivity = \"normal\""
            ));
            let types = parse(&source).expect("valid");
            let field = types.get("rent_certificate").and_then(|t| t.field("note")).expect("present");
            assert_eq!(field.kind, FieldKind::Text { max_length: good });
        }
    }

    #[test]
    fn text_without_max_length_names_kind_line() {
        let source = with_field(
            r#"name = "note"
label = { de = "Notiz", en = "Note" }
kind = "text" # <- error
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "text field `note` needs `max_length`");
    }

    #[test]
    fn option_of_another_kind_names_line() {
        for (kind_lines, option) in [
            ("kind = \"date\"", "max_length = 5"),
            ("kind = \"text\"\nmax_length = 5", "min = 0"),
            ("kind = \"money\"", "values = []"),
            ("kind = \"integer\"\nmin = 0\nmax = 1", "currency = \"EUR\""),
        ] {
            let source = with_field(&format!(
                "name = \"x\"\nlabel = {{ de = \"A\", en = \"A\" }}\n{kind_lines}\n{option} {MARK}\nrequired = true\nsensitivity = \"normal\""
            ));
            assert_error_on_marked_line(&source, "cannot have");
        }
    }

    #[test]
    fn money_currency_must_be_eur() {
        let source = with_field(
            r#"name = "deposit"
label = { de = "Kaution", en = "Deposit" }
kind = "money"
currency = "USD" # <- error
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "only `EUR` is supported");
    }

    #[test]
    fn empty_type_name_names_line() {
        let source = GOOD_TYPE.replace(
            "name = { de = \"Mietbescheinigung\", en = \"Rent certificate\" }",
            "name = { de = \"Mietbescheinigung\", en = \"\" } # <- error",
        );
        assert_error_on_marked_line(&source, "empty `en` text");
    }

    #[test]
    fn blank_field_label_names_line() {
        let source = with_field(
            r#"name = "x"
label = { de = "  ", en = "X" } # <- error
kind = "date"
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "field `x`: `label` has an empty `de` text");
    }

    #[test]
    fn empty_enum_value_label_names_line() {
        let source = with_field(
            r#"name = "choice"
label = { de = "Auswahl", en = "Choice" }
kind = "enum"
values = [
  { value = "a", label = { de = "A", en = "" } }, # <- error
]
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "value `a`: `label` has an empty `en` text");
    }

    #[test]
    fn missing_label_language_is_reported_with_a_line() {
        let source = with_field(
            r#"name = "x"
label = { de = "X" } # <- error
kind = "date"
required = true
sensitivity = "normal""#,
        );
        assert_error_on_marked_line(&source, "en");
    }

    #[test]
    fn line_numbers_count_lines_not_characters() {
        // Multi-byte text before the problem must not shift the line.
        let source = format!("# Überschrift: Größe, Straße, Ärger\n# ÄÖÜ äöü ß €€€€{GOOD_TYPE}")
            .replace("version = 1", "version = 0 # <- error");
        assert_error_on_marked_line(&source, "version");
    }
}
