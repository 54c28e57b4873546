//! Departments and the services they offer: who may ask (`departments.toml`)
//! and for exactly which fields, why, how long and how often
//! (`services/*.toml`). Parsed from text and checked against the evidence
//! type catalogue here; reading the files is left to [`super::Policies::load`].

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::evidence::{EvidenceTypes, Sensitivity};
use super::{Localized, LoginLevel, PolicyError};

/// The longest grant a service may allow, in days.
pub const MAX_GRANT_DURATION_DAYS: u32 = 365;

/// The highest use limit a service may allow for one grant.
pub const MAX_USES_PER_GRANT: u32 = 1000;

/// Longest identifier (department id, service id) in characters.
const MAX_ID_CHARS: usize = 64;

/// Longest certificate subject in characters.
const MAX_SUBJECT_CHARS: usize = 1024;

// ---------------------------------------------------------------------------
// Field references

/// One field of one evidence type, written `type.field` in policy files.
/// Built only from two identifiers, so it always has that shape; whether
/// the type and field exist is checked where services are loaded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldRef {
    evidence_type: String,
    field: String,
}

impl FieldRef {
    /// `None` unless both parts are identifiers (`[a-z][a-z0-9_]*`, at
    /// most 64 characters).
    pub fn new(evidence_type: &str, field: &str) -> Option<FieldRef> {
        (is_identifier(evidence_type) && is_identifier(field))
            .then(|| FieldRef { evidence_type: evidence_type.to_owned(), field: field.to_owned() })
    }

    /// Parses `type.field`; anything else (no dot, two dots, spaces) is `None`.
    pub fn parse(text: &str) -> Option<FieldRef> {
        let (evidence_type, field) = text.split_once('.')?;
        FieldRef::new(evidence_type, field)
    }

    pub fn evidence_type(&self) -> &str {
        &self.evidence_type
    }

    pub fn field(&self) -> &str {
        &self.field
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.evidence_type, self.field)
    }
}

// ---------------------------------------------------------------------------
// Departments

/// A department that may request evidence, and how its client certificate
/// is recognised. At least one of `certificate_subject` and `spki_sha256`
/// is present (checked at load).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub id: String,
    pub name: Localized,
    /// The certificate subject as written in the policy, e.g.
    /// `CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE`.
    pub certificate_subject: Option<String>,
    /// SHA-256 digests of accepted SubjectPublicKeyInfo structures.
    pub spki_sha256: Vec<[u8; 32]>,
    /// How citizens reach the office (phone, address, e-mail), shown on the
    /// consent page; optional.
    pub contact: Option<Localized>,
}

/// The checked department list, in file order. Empty when the policy
/// directory has no `departments.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Departments {
    departments: Vec<Department>,
}

impl Departments {
    pub fn get(&self, id: &str) -> Option<&Department> {
        self.departments.iter().find(|department| department.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Department> {
        self.departments.iter()
    }

    pub fn len(&self) -> usize {
        self.departments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.departments.is_empty()
    }

    /// A copy with every SPKI pin dropped, for `tresor serve --dev`, whose
    /// throwaway certificates have keys of their own. A department known by
    /// pins alone is left out: without them nothing could recognise it.
    pub fn without_pins(&self) -> Departments {
        let departments = self
            .departments
            .iter()
            .filter(|department| department.certificate_subject.is_some())
            .map(|department| Department { spki_sha256: Vec::new(), ..department.clone() })
            .collect();
        Departments { departments }
    }

    /// Parses and checks the text of `departments.toml`. `path` only names
    /// the file in errors.
    pub fn from_toml(source: &str, path: &Path) -> Result<Departments, PolicyError> {
        let checker = Checker::new(source, path);
        let raw: RawDepartmentsFile = checker.parse_toml()?;
        let mut first_line_of_id: BTreeMap<String, usize> = BTreeMap::new();
        let mut first_line_of_subject: BTreeMap<String, usize> = BTreeMap::new();
        let mut first_line_of_pin: BTreeMap<[u8; 32], usize> = BTreeMap::new();
        let mut departments = Vec::with_capacity(raw.department.len());
        for raw_department in raw.department {
            let id = raw_department.id.get_ref();
            let line = checker.line_of(raw_department.id.span().start);
            if !is_identifier(id) {
                return Err(checker.error_at_line(line, format!("department id `{id}` {IDENTIFIER_RULE}")));
            }
            if let Some(first) = first_line_of_id.get(id) {
                return Err(checker
                    .error_at_line(line, format!("duplicate department id `{id}` (first defined on line {first})")));
            }
            first_line_of_id.insert(id.clone(), line);
            let name = checker.localized(raw_department.name, &format!("department `{id}`: `name`"))?;

            let certificate_subject = match raw_department.certificate_subject {
                None => None,
                Some(subject) => {
                    let text = subject.get_ref();
                    if text.trim().is_empty()
                        || text.trim() != text
                        || text.chars().count() > MAX_SUBJECT_CHARS
                        || text.chars().any(char::is_control)
                    {
                        return Err(checker.error(
                            subject.span(),
                            format!(
                                "department `{id}` has an invalid `certificate_subject`; it must be 1 to \
                                 {MAX_SUBJECT_CHARS} characters without surrounding spaces or control characters"
                            ),
                        ));
                    }
                    if let Some(first) = first_line_of_subject.get(text) {
                        return Err(checker.error(
                            subject.span(),
                            format!(
                                "department `{id}` has the same `certificate_subject` as the department on \
                                 line {first}; a certificate must map to one department"
                            ),
                        ));
                    }
                    first_line_of_subject.insert(text.clone(), checker.line_of(subject.span().start));
                    Some(subject.into_inner())
                }
            };

            let mut spki_sha256 = Vec::new();
            for pin in raw_department.spki_sha256.unwrap_or_default() {
                let digest = decode_sha256_hex(pin.get_ref()).ok_or_else(|| {
                    checker.error(
                        pin.span(),
                        format!(
                            "department `{id}` has an invalid `spki_sha256` pin; expected 64 hexadecimal \
                             characters (a SHA-256 digest)"
                        ),
                    )
                })?;
                if let Some(first) = first_line_of_pin.get(&digest) {
                    return Err(checker.error(
                        pin.span(),
                        format!("department `{id}` repeats the `spki_sha256` pin already given on line {first}"),
                    ));
                }
                first_line_of_pin.insert(digest, checker.line_of(pin.span().start));
                spki_sha256.push(digest);
            }
            if certificate_subject.is_none() && spki_sha256.is_empty() {
                return Err(checker.error_at_line(
                    line,
                    format!(
                        "department `{id}` needs a `certificate_subject` or at least one `spki_sha256` pin, \
                         or its certificate could never be recognised"
                    ),
                ));
            }
            let contact = raw_department
                .contact
                .map(|contact| checker.localized(contact, &format!("department `{id}`: `contact`")))
                .transpose()?;
            departments.push(Department { id: id.clone(), name, certificate_subject, spki_sha256, contact });
        }
        Ok(Departments { departments })
    }
}

// ---------------------------------------------------------------------------
// Services

/// One administrative service: the fields a department may receive for it,
/// why, and within which limits a citizen's grant must stay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    /// Id of the department that offers it; it exists (checked at load).
    pub department: String,
    pub name: Localized,
    pub purpose: Localized,
    pub legal_basis: Localized,
    /// The legal basis in one plain sentence, shown before the citation.
    pub legal_basis_plain: Option<Localized>,
    /// Other ways to apply without tresor (in person, on paper), shown with
    /// what denying means.
    pub other_ways: Option<Localized>,
    /// The policy fields, in file order, without repeats; each exists in
    /// the evidence type catalogue.
    pub fields: Vec<FieldRef>,
    /// Whether the document files of the named evidence types are released.
    pub file: bool,
    /// Whether a citizen may leave the files out of a grant (`file_optional`;
    /// only with `file = true`; default false: the service needs them).
    pub file_optional: bool,
    /// At most [`MAX_GRANT_DURATION_DAYS`], at least 1.
    pub max_grant_duration_days: u32,
    /// From 1 to [`MAX_USES_PER_GRANT`].
    pub max_uses: u32,
    /// The duration the consent page offers first: from 1 to the maximum
    /// (`default_duration_days`, else 30 days or the maximum if shorter).
    pub default_duration_days: u32,
    /// The number of uses the consent page offers first: from 1 to the
    /// maximum (`default_uses`, else 1).
    pub default_uses: u32,
    /// The login level a citizen needs to approve a grant; never below the
    /// level of any evidence type named, and `high` for special-category data.
    pub min_login_level: LoginLevel,
}

impl Service {
    /// The evidence types the service reads, in order of first mention.
    pub fn evidence_types(&self) -> Vec<&str> {
        let mut types: Vec<&str> = Vec::new();
        for field in &self.fields {
            if !types.contains(&field.evidence_type()) {
                types.push(field.evidence_type());
            }
        }
        types
    }

    /// The longest grant this service allows.
    pub fn max_grant_duration(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.max_grant_duration_days))
    }
}

/// All checked services, ordered by file name. Empty when the policy
/// directory has no `services/` folder.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Services {
    services: Vec<Service>,
}

impl Services {
    pub fn get(&self, id: &str) -> Option<&Service> {
        self.services.iter().find(|service| service.id == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.services.iter()
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The services a department offers, in order.
    pub fn of_department<'services>(&'services self, department: &str) -> impl Iterator<Item = &'services Service> {
        self.services.iter().filter(move |service| service.department == department)
    }

    /// Parses and checks service files given as `(path, text)`, one service
    /// per file, against the departments and the evidence type catalogue.
    /// Service ids must be unique across all files.
    pub fn from_sources(
        sources: &[(PathBuf, String)],
        departments: &Departments,
        evidence_types: &EvidenceTypes,
    ) -> Result<Services, PolicyError> {
        let mut first_definition: BTreeMap<String, (PathBuf, usize)> = BTreeMap::new();
        let mut services = Vec::with_capacity(sources.len());
        for (path, source) in sources {
            let checker = Checker::new(source, path);
            let raw: RawService = checker.parse_toml()?;
            let id_line = checker.line_of(raw.id.span().start);
            if let Some((first_path, first_line)) = first_definition.get(raw.id.get_ref()) {
                return Err(checker.error_at_line(
                    id_line,
                    format!(
                        "duplicate service id `{}` (first defined in {}:{first_line})",
                        raw.id.get_ref(),
                        first_path.display()
                    ),
                ));
            }
            first_definition.insert(raw.id.get_ref().clone(), (path.clone(), id_line));
            services.push(checker.check_service(raw, departments, evidence_types)?);
        }
        Ok(Services { services })
    }
}

// ---------------------------------------------------------------------------
// Raw file shapes

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartmentsFile {
    #[serde(default)]
    department: Vec<RawDepartment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDepartment {
    id: Spanned<String>,
    name: RawLocalized,
    certificate_subject: Option<Spanned<String>>,
    spki_sha256: Option<Vec<Spanned<String>>>,
    contact: Option<RawLocalized>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Spanned<String>,
    department: Spanned<String>,
    name: RawLocalized,
    purpose: RawLocalized,
    legal_basis: RawLocalized,
    legal_basis_plain: Option<RawLocalized>,
    other_ways: Option<RawLocalized>,
    fields: Spanned<Vec<Spanned<String>>>,
    file: Spanned<bool>,
    file_optional: Option<Spanned<bool>>,
    max_grant_duration_days: Spanned<i64>,
    max_uses: Spanned<i64>,
    default_duration_days: Option<Spanned<i64>>,
    default_uses: Option<Spanned<i64>>,
    min_login_level: Spanned<LoginLevel>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLocalized {
    de: Spanned<String>,
    en: Spanned<String>,
}

// ---------------------------------------------------------------------------
// Checking

const IDENTIFIER_RULE: &str = "must start with a lowercase letter and contain only lowercase letters, digits \
                               and `_` (at most 64 characters)";

struct Checker<'source> {
    source: &'source str,
    path: PathBuf,
}

impl<'source> Checker<'source> {
    fn new(source: &'source str, path: &Path) -> Checker<'source> {
        Checker { source, path: path.to_path_buf() }
    }

    fn parse_toml<T: serde::de::DeserializeOwned>(&self) -> Result<T, PolicyError> {
        toml::from_str(self.source).map_err(|error| {
            let line = error.span().map_or(1, |span| self.line_of(span.start));
            self.error_at_line(line, error.message().trim_end().to_owned())
        })
    }

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

    fn localized(&self, raw: RawLocalized, context: &str) -> Result<Localized, PolicyError> {
        for (language, text) in [("de", &raw.de), ("en", &raw.en)] {
            if text.get_ref().trim().is_empty() {
                return Err(self.error(text.span(), format!("{context} has an empty `{language}` text")));
            }
        }
        Ok(Localized { de: raw.de.into_inner(), en: raw.en.into_inner() })
    }

    fn check_service(
        &self,
        raw: RawService,
        departments: &Departments,
        evidence_types: &EvidenceTypes,
    ) -> Result<Service, PolicyError> {
        let id = raw.id.get_ref().clone();
        if !is_identifier(&id) {
            return Err(self.error(raw.id.span(), format!("service id `{id}` {IDENTIFIER_RULE}")));
        }
        let department = raw.department.get_ref();
        if departments.get(department).is_none() {
            return Err(self.error(
                raw.department.span(),
                format!("service `{id}` names unknown department `{department}` (not in departments.toml)"),
            ));
        }
        let name = self.localized(raw.name, &format!("service `{id}`: `name`"))?;
        let purpose = self.localized(raw.purpose, &format!("service `{id}`: `purpose`"))?;
        let legal_basis = self.localized(raw.legal_basis, &format!("service `{id}`: `legal_basis`"))?;
        let legal_basis_plain = raw
            .legal_basis_plain
            .map(|plain| self.localized(plain, &format!("service `{id}`: `legal_basis_plain`")))
            .transpose()?;
        let other_ways =
            raw.other_ways.map(|ways| self.localized(ways, &format!("service `{id}`: `other_ways`"))).transpose()?;

        let fields_span = raw.fields.span();
        let raw_fields = raw.fields.into_inner();
        if raw_fields.is_empty() {
            return Err(self.error(fields_span, format!("service `{id}` has no `fields`")));
        }
        let min_login_level = *raw.min_login_level.get_ref();
        let mut fields: Vec<FieldRef> = Vec::with_capacity(raw_fields.len());
        for raw_field in &raw_fields {
            let text = raw_field.get_ref();
            let Some(field_ref) = FieldRef::parse(text) else {
                return Err(self.error(
                    raw_field.span(),
                    format!("service `{id}`: field `{text}` must be written `evidence_type.field`"),
                ));
            };
            let Some(evidence_type) = evidence_types.get(field_ref.evidence_type()) else {
                return Err(self.error(
                    raw_field.span(),
                    format!("service `{id}`: unknown evidence type `{}` in `{text}`", field_ref.evidence_type()),
                ));
            };
            let Some(field_def) = evidence_type.field(field_ref.field()) else {
                return Err(self.error(
                    raw_field.span(),
                    format!(
                        "service `{id}`: evidence type `{}` has no field `{}`",
                        field_ref.evidence_type(),
                        field_ref.field()
                    ),
                ));
            };
            if fields.contains(&field_ref) {
                return Err(self.error(raw_field.span(), format!("service `{id}` lists field `{text}` twice")));
            }
            if field_def.sensitivity == Sensitivity::SpecialCategory && min_login_level < LoginLevel::High {
                return Err(self.error(
                    raw.min_login_level.span(),
                    format!(
                        "service `{id}` reads special-category field `{text}` (GDPR Art. 9) and so needs \
                         min_login_level `high`, not `{}`",
                        min_login_level.as_str()
                    ),
                ));
            }
            if min_login_level < evidence_type.min_login_level {
                return Err(self.error(
                    raw.min_login_level.span(),
                    format!(
                        "service `{id}` has min_login_level `{}`, below the level `{}` that evidence type \
                         `{}` needs",
                        min_login_level.as_str(),
                        evidence_type.min_login_level.as_str(),
                        evidence_type.id
                    ),
                ));
            }
            fields.push(field_ref);
        }

        let file = *raw.file.get_ref();
        if file {
            for field in &fields {
                // Existence checked in the loop above.
                if let Some(evidence_type) = evidence_types.get(field.evidence_type())
                    && !evidence_type.file_allowed
                {
                    return Err(self.error(
                        raw.file.span(),
                        format!(
                            "service `{id}` releases files, but evidence type `{}` does not allow files",
                            evidence_type.id
                        ),
                    ));
                }
            }
        }

        let file_optional = match raw.file_optional {
            Some(optional) if *optional.get_ref() && !file => {
                return Err(self.error(
                    optional.span(),
                    format!(
                        "service `{id}` has file_optional = true but releases no files (file = false); \
                         remove file_optional or set file = true"
                    ),
                ));
            }
            Some(optional) => *optional.get_ref(),
            None => false,
        };

        let duration = raw.max_grant_duration_days.get_ref();
        let max_grant_duration_days = u32::try_from(*duration)
            .ok()
            .filter(|days| (1..=MAX_GRANT_DURATION_DAYS).contains(days))
            .ok_or_else(|| {
                self.error(
                    raw.max_grant_duration_days.span(),
                    format!(
                        "service `{id}` has max_grant_duration_days {duration}; it must be from 1 to \
                         {MAX_GRANT_DURATION_DAYS}"
                    ),
                )
            })?;
        let uses = raw.max_uses.get_ref();
        let max_uses =
            u32::try_from(*uses).ok().filter(|uses| (1..=MAX_USES_PER_GRANT).contains(uses)).ok_or_else(|| {
                self.error(
                    raw.max_uses.span(),
                    format!("service `{id}` has max_uses {uses}; it must be from 1 to {MAX_USES_PER_GRANT}"),
                )
            })?;

        let default_duration_days = self.default_within(
            raw.default_duration_days.as_ref(),
            max_grant_duration_days,
            DEFAULT_GRANT_DURATION_DAYS.min(max_grant_duration_days),
            &format!("service `{id}` has default_duration_days"),
            "max_grant_duration_days",
        )?;
        let default_uses = self.default_within(
            raw.default_uses.as_ref(),
            max_uses,
            1,
            &format!("service `{id}` has default_uses"),
            "max_uses",
        )?;

        Ok(Service {
            id,
            department: department.clone(),
            name,
            purpose,
            legal_basis,
            legal_basis_plain,
            other_ways,
            fields,
            file,
            file_optional,
            max_grant_duration_days,
            max_uses,
            default_duration_days,
            default_uses,
            min_login_level,
        })
    }

    /// A default from 1 to `max` (`fallback` when the policy gives none).
    fn default_within(
        &self,
        raw: Option<&Spanned<i64>>,
        max: u32,
        fallback: u32,
        what: &str,
        max_key: &str,
    ) -> Result<u32, PolicyError> {
        let Some(raw) = raw else { return Ok(fallback) };
        let value = raw.get_ref();
        u32::try_from(*value).ok().filter(|value| (1..=max).contains(value)).ok_or_else(|| {
            self.error(raw.span(), format!("{what} {value}; it must be from 1 to its {max_key} ({max})"))
        })
    }
}

/// The duration a consent page offers first when the service names none.
const DEFAULT_GRANT_DURATION_DAYS: u32 = 30;

/// `[a-z][a-z0-9_]{0,63}`.
fn is_identifier(text: &str) -> bool {
    let mut bytes = text.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && text.len() <= MAX_ID_CHARS
        && bytes.all(|byte| matches!(byte, b'a'..=b'z' | b'0'..=b'9' | b'_'))
}

/// 64 hex digits (either case; `:` separators allowed, as tools print them).
fn decode_sha256_hex(text: &str) -> Option<[u8; 32]> {
    let compact: String = text.chars().filter(|character| *character != ':').collect();
    let bytes = hex::decode(compact).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests;
