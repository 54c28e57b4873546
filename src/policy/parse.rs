//! Turning the text of `evidence-types.toml` into checked [`EvidenceTypes`].
//! The raw serde structs keep byte spans so that every problem, from a TOML
//! syntax error to a duplicate id, is reported with its line.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::evidence::{
    EnumValue, EvidenceType, EvidenceTypes, FieldDef, FieldKind, MAX_VALUE_CHARS, Sensitivity,
};
use super::{Localized, LoginLevel, PolicyError, value};

/// Longest identifier (type id, field name) in characters.
const MAX_NAME_CHARS: usize = 64;

impl EvidenceTypes {
    /// Parses and checks the text of an evidence type catalogue. `path` is
    /// only used to name the file in errors; nothing is read from it.
    pub fn from_toml(source: &str, path: &Path) -> Result<EvidenceTypes, PolicyError> {
        let checker = Checker {
            source,
            path: path.to_path_buf(),
        };
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
        PolicyError::Invalid {
            path: self.path.clone(),
            line,
            message,
        }
    }

    fn error(&self, span: Range<usize>, message: String) -> PolicyError {
        self.error_at_line(self.line_of(span.start), message)
    }

    fn check_file(&self, raw: RawFile) -> Result<EvidenceTypes, PolicyError> {
        if raw.evidence_type.is_empty() {
            return Err(self.error_at_line(
                1,
                "no evidence types defined (expected at least one [[evidence_type]])".to_owned(),
            ));
        }
        let mut first_line_of_id: BTreeMap<String, usize> = BTreeMap::new();
        let mut types = Vec::with_capacity(raw.evidence_type.len());
        for raw_type in raw.evidence_type {
            let line = self.line_of(raw_type.id.span().start);
            if let Some(first) = first_line_of_id.get(raw_type.id.get_ref()) {
                return Err(self.error_at_line(
                    line,
                    format!(
                        "duplicate evidence type id `{}` (first defined on line {first})",
                        raw_type.id.get_ref()
                    ),
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
        let version = i32::try_from(*raw.version.get_ref())
            .ok()
            .filter(|version| *version >= 1)
            .ok_or_else(|| {
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
            return Err(self.error(
                raw.kind.span(),
                format!("field `{name}` has unknown kind `{kind_name}`"),
            ));
        }
        // Options that do not belong to the kind are mistakes, not noise.
        let options: [(&str, Option<Range<usize>>, &str); 5] = [
            (
                "max_length",
                raw.max_length.as_ref().map(Spanned::span),
                "text",
            ),
            ("min", raw.min.as_ref().map(Spanned::span), "integer"),
            ("max", raw.max.as_ref().map(Spanned::span), "integer"),
            ("values", raw.values.as_ref().map(Spanned::span), "enum"),
            (
                "currency",
                raw.currency.as_ref().map(Spanned::span),
                "money",
            ),
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
                let max_length = raw.max_length.ok_or_else(|| {
                    self.error(
                        raw.kind.span(),
                        format!("text field `{name}` needs `max_length`"),
                    )
                })?;
                let valid = usize::try_from(*max_length.get_ref())
                    .ok()
                    .filter(|length| (1..=MAX_VALUE_CHARS).contains(length));
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
                        format!(
                            "field `{name}` has currency `{}`; only `EUR` is supported",
                            currency.get_ref()
                        ),
                    ));
                }
                FieldKind::Money
            }
            "integer" => {
                let (Some(min), Some(max)) = (&raw.min, &raw.max) else {
                    return Err(self.error(
                        raw.kind.span(),
                        format!("integer field `{name}` needs both `min` and `max`"),
                    ));
                };
                if min.get_ref() > max.get_ref() {
                    return Err(self.error(
                        max.span(),
                        format!(
                            "field `{name}` has min {} greater than max {}",
                            min.get_ref(),
                            max.get_ref()
                        ),
                    ));
                }
                FieldKind::Integer {
                    min: *min.get_ref(),
                    max: *max.get_ref(),
                }
            }
            _ => {
                // "enum", the only kind left after the check above.
                let raw_values = raw.values.ok_or_else(|| {
                    self.error(
                        raw.kind.span(),
                        format!("enum field `{name}` needs `values`"),
                    )
                })?;
                let values_span = raw_values.span();
                let raw_values = raw_values.into_inner();
                if raw_values.is_empty() {
                    return Err(
                        self.error(values_span, format!("enum field `{name}` has no values"))
                    );
                }
                let mut values: Vec<EnumValue> = Vec::with_capacity(raw_values.len());
                for raw_value in raw_values {
                    values.push(self.check_enum_value(&name, raw_value, &values)?);
                }
                FieldKind::Enum { values }
            }
        };
        Ok(FieldDef {
            name,
            label,
            kind,
            required: raw.required,
            sensitivity,
        })
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
            || value.chars().any(value::is_forbidden_char)
        {
            return Err(self.error(
                raw.value.span(),
                format!(
                    "enum field `{field}` has value {value:?}; values must be 1 to \
                     {MAX_NAME_CHARS} characters without surrounding spaces or control characters"
                ),
            ));
        }
        if earlier.iter().any(|other| &other.value == value) {
            return Err(self.error(
                raw.value.span(),
                format!("enum field `{field}` lists value `{value}` twice"),
            ));
        }
        let label = self.localized(
            raw.label,
            &format!("enum field `{field}`, value `{value}`: `label`"),
        )?;
        Ok(EnumValue {
            value: value.clone(),
            label,
        })
    }

    fn localized(&self, raw: RawLocalized, context: &str) -> Result<Localized, PolicyError> {
        for (language, text) in [("de", &raw.de), ("en", &raw.en)] {
            if text.get_ref().trim().is_empty() {
                return Err(self.error(
                    text.span(),
                    format!("{context} has an empty `{language}` text"),
                ));
            }
        }
        Ok(Localized {
            de: raw.de.into_inner(),
            en: raw.en.into_inner(),
        })
    }
}

/// `[a-z][a-z0-9_]{0,63}`.
fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= MAX_NAME_CHARS
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}
