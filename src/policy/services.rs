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
            departments.push(Department { id: id.clone(), name, certificate_subject, spki_sha256 });
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
    /// The policy fields, in file order, without repeats; each exists in
    /// the evidence type catalogue.
    pub fields: Vec<FieldRef>,
    /// Whether the document files of the named evidence types are released.
    pub file: bool,
    /// At most [`MAX_GRANT_DURATION_DAYS`], at least 1.
    pub max_grant_duration_days: u32,
    /// From 1 to [`MAX_USES_PER_GRANT`].
    pub max_uses: u32,
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    id: Spanned<String>,
    department: Spanned<String>,
    name: RawLocalized,
    purpose: RawLocalized,
    legal_basis: RawLocalized,
    fields: Spanned<Vec<Spanned<String>>>,
    file: Spanned<bool>,
    max_grant_duration_days: Spanned<i64>,
    max_uses: Spanned<i64>,
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

        Ok(Service {
            id,
            department: department.clone(),
            name,
            purpose,
            legal_basis,
            fields,
            file,
            max_grant_duration_days,
            max_uses,
            min_login_level,
        })
    }
}

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
mod tests {
    use super::*;

    const DEPARTMENTS_PATH: &str = "policies/departments.toml";
    const SERVICE_PATH: &str = "policies/services/test_service.toml";

    /// Marks the line a test expects an error on.
    const MARK: &str = "# <- error";

    const TYPES: &str = r#"
[[evidence_type]]
id = "income_statement"
version = 1
name = { de = "Einkommensnachweis", en = "Income statement" }
file_allowed = true
min_login_level = "substantial"

[[evidence_type.field]]
name = "net_monthly_income"
label = { de = "Netto", en = "Net" }
kind = "money"
required = true
sensitivity = "normal"

[[evidence_type]]
id = "paper_note"
version = 1
name = { de = "Notiz", en = "Note" }
file_allowed = false

[[evidence_type.field]]
name = "text"
label = { de = "Text", en = "Text" }
kind = "text"
max_length = 10
required = true
sensitivity = "normal"

[[evidence_type]]
id = "health_pass"
version = 1
name = { de = "Gesundheitspass", en = "Health pass" }
file_allowed = true
min_login_level = "high"

[[evidence_type.field]]
name = "degree"
label = { de = "Grad", en = "Degree" }
kind = "integer"
min = 20
max = 100
required = true
sensitivity = "special_category"

[[evidence_type]]
id = "low_special"
version = 1
name = { de = "Test", en = "Test" }
file_allowed = true

[[evidence_type.field]]
name = "diagnosis"
label = { de = "Diagnose", en = "Diagnosis" }
kind = "text"
max_length = 100
required = true
sensitivity = "special_category"
"#;

    const DEPARTMENTS: &str = r#"
[[department]]
id = "wohngeldstelle"
name = { de = "Wohngeldstelle", en = "Housing Benefit Office" }
certificate_subject = "CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE"

[[department]]
id = "kita_amt"
name = { de = "Kita-Amt", en = "Day-care Office" }
spki_sha256 = ["00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"]
"#;

    /// A valid service; tests replace one line with [`with_line`].
    const GOOD_SERVICE: &str = r#"id = "housing_benefit"
department = "wohngeldstelle"
name = { de = "Wohngeld", en = "Housing benefit" }
purpose = { de = "Prüfung des Antrags", en = "Assessing the application" }
legal_basis = { de = "§ 23 WoGG", en = "Section 23 WoGG" }
fields = ["income_statement.net_monthly_income"]
file = true
max_grant_duration_days = 90
max_uses = 3
min_login_level = "substantial"
"#;

    fn types() -> EvidenceTypes {
        EvidenceTypes::from_toml(TYPES, Path::new("policies/evidence-types.toml")).expect("test types parse")
    }

    fn departments() -> Departments {
        Departments::from_toml(DEPARTMENTS, Path::new(DEPARTMENTS_PATH)).expect("test departments parse")
    }

    fn parse_service(source: &str) -> Result<Services, PolicyError> {
        Services::from_sources(&[(PathBuf::from(SERVICE_PATH), source.to_owned())], &departments(), &types())
    }

    /// `GOOD_SERVICE` with the line starting with `key =` replaced by
    /// `replacement`, marked as the expected error line.
    fn with_line(key: &str, replacement: &str) -> String {
        let prefix = format!("{key} =");
        let mut replaced = false;
        let lines: Vec<String> = GOOD_SERVICE
            .lines()
            .map(|line| {
                if line.starts_with(&prefix) {
                    replaced = true;
                    format!("{replacement} {MARK}")
                } else {
                    line.to_owned()
                }
            })
            .collect();
        assert!(replaced, "no line for {key}");
        lines.join("\n") + "\n"
    }

    #[track_caller]
    fn assert_error_on_marked_line(error: PolicyError, source: &str, path: &str, expected: &str) {
        let marked: Vec<usize> =
            source.lines().enumerate().filter(|(_, line)| line.contains(MARK)).map(|(index, _)| index + 1).collect();
        assert_eq!(marked.len(), 1, "test source needs exactly one mark");
        let PolicyError::Invalid { path: error_path, line, message } = &error else {
            panic!("expected Invalid, got {error:?}");
        };
        assert_eq!(error_path, Path::new(path));
        assert_eq!(*line, marked[0], "wrong line for: {message}");
        assert!(message.contains(expected), "message {message:?} does not contain {expected:?}");
        assert!(error.to_string().starts_with(&format!("{path}:{}: ", marked[0])), "{error}");
    }

    #[track_caller]
    fn assert_service_error(source: &str, expected: &str) {
        let error = parse_service(source).expect_err("service should be rejected");
        assert_error_on_marked_line(error, source, SERVICE_PATH, expected);
    }

    #[track_caller]
    fn assert_departments_error(source: &str, expected: &str) {
        let error = Departments::from_toml(source, Path::new(DEPARTMENTS_PATH)).expect_err("should be rejected");
        assert_error_on_marked_line(error, source, DEPARTMENTS_PATH, expected);
    }

    #[test]
    fn field_ref_parses_only_type_dot_field() {
        let field = FieldRef::parse("income_statement.net_monthly_income").expect("valid");
        assert_eq!(field.evidence_type(), "income_statement");
        assert_eq!(field.field(), "net_monthly_income");
        assert_eq!(field.to_string(), "income_statement.net_monthly_income");
        for bad in ["income_statement", "a.b.c", ".b", "a.", " a.b", "A.b", "a.b ", "a-b.c", ""] {
            assert_eq!(FieldRef::parse(bad), None, "{bad:?}");
        }
        assert_eq!(FieldRef::new("a", "b"), FieldRef::parse("a.b"));
    }

    #[test]
    fn good_departments_parse() {
        let departments = departments();
        assert_eq!(departments.len(), 2);
        let wohngeld = departments.get("wohngeldstelle").expect("present");
        assert_eq!(wohngeld.certificate_subject.as_deref(), Some("CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE"));
        assert!(wohngeld.spki_sha256.is_empty());
        let kita = departments.get("kita_amt").expect("present");
        assert_eq!(kita.certificate_subject, None);
        assert_eq!(kita.spki_sha256.len(), 1);
        assert_eq!(kita.spki_sha256[0][0], 0x00);
        assert_eq!(kita.spki_sha256[0][31], 0xff);
    }

    #[test]
    fn without_pins_drops_pins_and_pin_only_departments() {
        let source = format!(
            "{DEPARTMENTS}\n[[department]]\nid = \"both\"\nname = {{ de = \"B\", en = \"B\" }}\n\
             certificate_subject = \"CN=B\"\nspki_sha256 = [\"{}\"]\n",
            "ab".repeat(32)
        );
        let departments = Departments::from_toml(&source, Path::new(DEPARTMENTS_PATH)).expect("parse");
        let unpinned = departments.without_pins();
        let ids: Vec<&str> = unpinned.iter().map(|department| department.id.as_str()).collect();
        assert_eq!(ids, ["wohngeldstelle", "both"]);
        assert!(unpinned.iter().all(|department| department.spki_sha256.is_empty()));
        assert_eq!(unpinned.get("both").and_then(|d| d.certificate_subject.as_deref()), Some("CN=B"));
        assert_eq!(departments.get("both").map(|d| d.spki_sha256.len()), Some(1));
    }

    #[test]
    fn colon_separated_pins_are_accepted() {
        let pin = ["ab"; 32].join(":");
        let source =
            format!("[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\nspki_sha256 = [\"{pin}\"]\n");
        let departments = Departments::from_toml(&source, Path::new(DEPARTMENTS_PATH)).expect("parses");
        assert_eq!(departments.get("a").map(|department| department.spki_sha256.clone()), Some(vec![[0xab; 32]]));
    }

    #[test]
    fn department_without_subject_or_pin_is_rejected() {
        let source = format!(
            "{DEPARTMENTS}\n[[department]]\nid = \"buergeramt\" {MARK}\nname = {{ de = \"Bürgeramt\", en = \"Citizens' Office\" }}\n"
        );
        assert_departments_error(&source, "needs a `certificate_subject` or at least one `spki_sha256` pin");
    }

    #[test]
    fn duplicate_department_id_is_rejected() {
        let source = format!(
            "{DEPARTMENTS}\n[[department]]\nid = \"kita_amt\" {MARK}\nname = {{ de = \"X\", en = \"X\" }}\ncertificate_subject = \"CN=X\"\n"
        );
        assert_departments_error(&source, "duplicate department id `kita_amt` (first defined on line");
    }

    #[test]
    fn invalid_department_id_is_rejected() {
        let source = format!(
            "[[department]]\nid = \"Kita-Amt\" {MARK}\nname = {{ de = \"X\", en = \"X\" }}\ncertificate_subject = \"CN=X\"\n"
        );
        assert_departments_error(&source, "department id `Kita-Amt` must start with a lowercase letter");
    }

    #[test]
    fn bad_pin_is_rejected() {
        let source = format!(
            "[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\nspki_sha256 = [\"abcd\"] {MARK}\n"
        );
        assert_departments_error(&source, "invalid `spki_sha256` pin; expected 64 hexadecimal characters");
    }

    #[test]
    fn shared_subject_or_pin_is_rejected() {
        let source = format!(
            "{DEPARTMENTS}\n[[department]]\nid = \"x\"\nname = {{ de = \"X\", en = \"X\" }}\ncertificate_subject = \"CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE\" {MARK}\n"
        );
        assert_departments_error(&source, "same `certificate_subject` as the department on line 5");
        let source = format!(
            "{DEPARTMENTS}\n[[department]]\nid = \"x\"\nname = {{ de = \"X\", en = \"X\" }}\nspki_sha256 = [\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"] {MARK}\n"
        );
        assert_departments_error(&source, "repeats the `spki_sha256` pin already given on line 10");
    }

    #[test]
    fn empty_subject_and_department_name_are_rejected() {
        let source = format!(
            "[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\ncertificate_subject = \" \" {MARK}\n"
        );
        assert_departments_error(&source, "invalid `certificate_subject`");
        let source = format!(
            "[[department]]\nid = \"a\"\nname = {{ de = \"\", en = \"A\" }} {MARK}\ncertificate_subject = \"CN=A\"\n"
        );
        assert_departments_error(&source, "department `a`: `name` has an empty `de` text");
    }

    #[test]
    fn unknown_department_key_and_toml_syntax_errors_name_the_line() {
        let source = format!(
            "[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = \"A\" }}\ncertificate_subject = \"CN=A\"\nsubject = \"CN=A\" {MARK}\n"
        );
        assert_departments_error(&source, "unknown field `subject`");
        let source = format!("[[department]]\nid = \"a\"\nname = {{ de = \"A\", en = {MARK}\n");
        assert_departments_error(&source, "");
    }

    #[test]
    fn good_service_parses() {
        let services = parse_service(GOOD_SERVICE).expect("parses");
        let service = services.get("housing_benefit").expect("present");
        assert_eq!(service.department, "wohngeldstelle");
        assert_eq!(service.fields, vec![FieldRef::parse("income_statement.net_monthly_income").expect("valid")]);
        assert_eq!(service.evidence_types(), vec!["income_statement"]);
        assert!(service.file);
        assert_eq!(service.max_grant_duration_days, 90);
        assert_eq!(service.max_grant_duration(), chrono::Duration::days(90));
        assert_eq!(service.max_uses, 3);
        assert_eq!(service.min_login_level, LoginLevel::Substantial);
        assert_eq!(service.legal_basis.de, "§ 23 WoGG");
        assert_eq!(services.of_department("wohngeldstelle").count(), 1);
        assert_eq!(services.of_department("kita_amt").count(), 0);
    }

    #[test]
    fn unknown_department_is_rejected() {
        let source = with_line("department", "department = \"bauamt\"");
        assert_service_error(&source, "unknown department `bauamt`");
    }

    #[test]
    fn unknown_evidence_type_is_rejected() {
        let source = with_line("fields", "fields = [\"tax_return.income\"]");
        assert_service_error(&source, "unknown evidence type `tax_return` in `tax_return.income`");
    }

    #[test]
    fn unknown_field_is_rejected_on_its_own_line() {
        let source = GOOD_SERVICE.replace(
            "fields = [\"income_statement.net_monthly_income\"]",
            &format!("fields = [\n  \"income_statement.net_monthly_income\",\n  \"income_statement.bonus\", {MARK}\n]"),
        );
        assert_service_error(&source, "evidence type `income_statement` has no field `bonus`");
    }

    #[test]
    fn malformed_repeated_and_empty_fields_are_rejected() {
        let source = with_line("fields", "fields = [\"income_statement\"]");
        assert_service_error(&source, "must be written `evidence_type.field`");
        let source = with_line(
            "fields",
            "fields = [\"income_statement.net_monthly_income\", \"income_statement.net_monthly_income\"]",
        );
        assert_service_error(&source, "lists field `income_statement.net_monthly_income` twice");
        let source = with_line("fields", "fields = []");
        assert_service_error(&source, "has no `fields`");
    }

    #[test]
    fn duplicate_service_ids_across_files_are_rejected() {
        let other_path = "policies/services/z_copy.toml";
        let error = Services::from_sources(
            &[
                (PathBuf::from(SERVICE_PATH), GOOD_SERVICE.to_owned()),
                (PathBuf::from(other_path), format!("\n{GOOD_SERVICE}")),
            ],
            &departments(),
            &types(),
        )
        .expect_err("duplicate");
        assert_eq!(
            error.to_string(),
            format!("{other_path}:2: duplicate service id `housing_benefit` (first defined in {SERVICE_PATH}:1)")
        );
    }

    #[test]
    fn duration_above_maximum_or_not_positive_is_rejected() {
        let source = with_line("max_grant_duration_days", "max_grant_duration_days = 366");
        assert_service_error(&source, "max_grant_duration_days 366; it must be from 1 to 365");
        let source = with_line("max_grant_duration_days", "max_grant_duration_days = 0");
        assert_service_error(&source, "max_grant_duration_days 0");
        let source = with_line("max_grant_duration_days", "max_grant_duration_days = -5");
        assert_service_error(&source, "max_grant_duration_days -5");
        let source = with_line("max_grant_duration_days", "max_grant_duration_days = 365");
        assert!(parse_service(&source).is_ok(), "365 days is allowed");
    }

    #[test]
    fn max_uses_zero_or_above_limit_is_rejected() {
        let source = with_line("max_uses", "max_uses = 0");
        assert_service_error(&source, "max_uses 0; it must be from 1 to 1000");
        let source = with_line("max_uses", "max_uses = 1001");
        assert_service_error(&source, "max_uses 1001; it must be from 1 to 1000");
        let source = with_line("max_uses", "max_uses = 1000");
        assert!(parse_service(&source).is_ok(), "1000 uses is allowed");
    }

    #[test]
    fn special_category_fields_need_login_level_high() {
        let source = GOOD_SERVICE
            .replace("income_statement.net_monthly_income", "low_special.diagnosis")
            .replace("min_login_level = \"substantial\"", &format!("min_login_level = \"substantial\" {MARK}"));
        assert_service_error(&source, "special-category field `low_special.diagnosis` (GDPR Art. 9)");
        let source = source.replace(&format!("\"substantial\" {MARK}"), "\"high\"");
        assert!(parse_service(&source).is_ok(), "high is enough");
    }

    #[test]
    fn login_level_below_the_evidence_type_level_is_rejected() {
        let source = with_line("min_login_level", "min_login_level = \"low\"");
        assert_service_error(&source, "below the level `substantial` that evidence type `income_statement` needs");
    }

    #[test]
    fn unknown_login_level_is_rejected() {
        let source = with_line("min_login_level", "min_login_level = \"medium\"");
        assert_service_error(&source, "unknown variant `medium`");
    }

    #[test]
    fn empty_purpose_or_legal_basis_is_rejected() {
        let source = with_line("purpose", "purpose = { de = \"\", en = \"Assessing\" }");
        assert_service_error(&source, "service `housing_benefit`: `purpose` has an empty `de` text");
        let source = with_line("legal_basis", "legal_basis = { de = \"§ 23 WoGG\", en = \"  \" }");
        assert_service_error(&source, "service `housing_benefit`: `legal_basis` has an empty `en` text");
    }

    #[test]
    fn missing_legal_basis_is_rejected() {
        let source = GOOD_SERVICE
            .lines()
            .filter(|line| !line.starts_with("legal_basis"))
            .map(|line| if line.starts_with("id =") { format!("{line} {MARK}") } else { line.to_owned() })
            .collect::<Vec<_>>()
            .join("\n");
        assert_service_error(&source, "missing field `legal_basis`");
    }

    #[test]
    fn file_release_for_a_type_without_files_is_rejected() {
        let source = GOOD_SERVICE
            .replace("income_statement.net_monthly_income", "paper_note.text")
            .replace("file = true", &format!("file = true {MARK}"))
            .replace("\"substantial\"", "\"low\"");
        assert_service_error(&source, "evidence type `paper_note` does not allow files");
        let source = source.replace(&format!("file = true {MARK}"), "file = false");
        assert!(parse_service(&source).is_ok(), "without files it is fine");
    }

    #[test]
    fn invalid_service_id_and_unknown_keys_are_rejected() {
        let source = with_line("id", "id = \"Housing Benefit\"");
        assert_service_error(&source, "service id `Housing Benefit` must start with a lowercase letter");
        let source = format!("{GOOD_SERVICE}retention_days = 3 {MARK}\n");
        assert_service_error(&source, "unknown field `retention_days`");
    }
}
