//! Policies: the reviewed TOML files under `policies/` that say which kinds
//! of evidence exist and which fields they have. Loaded and fully checked at
//! start; an invalid policy is an error naming file, line and problem.
//! Only [`Policies::load`] touches the file system; everything else is pure.

mod decision;
mod evidence;
mod level;
mod parse;
mod services;
mod value;

use std::fmt;
use std::path::{Path, PathBuf};

pub use decision::{GrantState, Refusal, decide};
pub use evidence::{
    DATE_PARTS, EnumValue, EvidenceType, EvidenceTypes, FieldDef, FieldError, FieldKind, FieldProblem, MAX_VALUE_CHARS,
    Sensitivity, date_part_key,
};
pub use level::LoginLevel;
pub use services::{Department, Departments, FieldRef, MAX_GRANT_DURATION_DAYS, MAX_USES_PER_GRANT, Service, Services};

/// File name of the evidence type catalogue inside the policy directory.
pub const EVIDENCE_TYPES_FILE: &str = "evidence-types.toml";

/// File name of the department list inside the policy directory.
pub const DEPARTMENTS_FILE: &str = "departments.toml";

/// Folder of service files (`*.toml`, one service each) inside the policy directory.
pub const SERVICES_DIR: &str = "services";

/// All loaded policies.
#[derive(Debug, Clone)]
pub struct Policies {
    pub evidence_types: EvidenceTypes,
    pub departments: Departments,
    pub services: Services,
}

impl Policies {
    /// A department's name in `lang`; its id if the policy no longer has it.
    pub fn department_name(&self, id: &str, lang: Lang) -> String {
        self.departments.get(id).map_or_else(|| id.to_owned(), |department| department.name.get(lang).to_owned())
    }

    /// An evidence type's name in `lang`; its id if the policy no longer has it.
    pub fn evidence_type_name(&self, id: &str, lang: Lang) -> String {
        self.evidence_types.get(id).map_or_else(|| id.to_owned(), |t| t.name.get(lang).to_owned())
    }

    /// A field named as `type.field` by its label in `lang`; as written when
    /// the policy no longer has it.
    pub fn field_label(&self, field: &str, lang: Lang) -> String {
        FieldRef::parse(field)
            .and_then(|field| {
                self.evidence_types
                    .get(field.evidence_type())?
                    .field(field.field())
                    .map(|f| f.label.get(lang).to_owned())
            })
            .unwrap_or_else(|| field.to_owned())
    }

    /// A service's name in `lang`; its id if the policy no longer has it.
    pub fn service_name(&self, id: &str, lang: Lang) -> String {
        self.services.get(id).map_or_else(|| id.to_owned(), |service| service.name.get(lang).to_owned())
    }

    /// Reads and checks `dir/evidence-types.toml`, `dir/departments.toml`
    /// and `dir/services/*.toml` (in file name order). The evidence types
    /// are required; a missing department file or services folder means
    /// none (the shipped policy directory has both).
    pub fn load(dir: &Path) -> Result<Policies, PolicyError> {
        let path = dir.join(EVIDENCE_TYPES_FILE);
        let source =
            std::fs::read_to_string(&path).map_err(|source| PolicyError::Io { path: path.clone(), reason: source })?;
        let evidence_types = EvidenceTypes::from_toml(&source, &path)?;

        let path = dir.join(DEPARTMENTS_FILE);
        let departments = match std::fs::read_to_string(&path) {
            Ok(source) => Departments::from_toml(&source, &path)?,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Departments::default(),
            Err(source) => return Err(PolicyError::Io { path, reason: source }),
        };

        let services_dir = dir.join(SERVICES_DIR);
        let mut sources: Vec<(PathBuf, String)> = Vec::new();
        match std::fs::read_dir(&services_dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry =
                        entry.map_err(|source| PolicyError::Io { path: services_dir.clone(), reason: source })?;
                    let path = entry.path();
                    if path.extension().is_some_and(|extension| extension == "toml") {
                        let source = std::fs::read_to_string(&path)
                            .map_err(|source| PolicyError::Io { path: path.clone(), reason: source })?;
                        sources.push((path, source));
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(PolicyError::Io { path: services_dir, reason: source }),
        }
        // Directory order is not stable across file systems; file names are.
        sources.sort_by(|left, right| left.0.cmp(&right.0));
        let services = Services::from_sources(&sources, &departments, &evidence_types)?;

        Ok(Policies { evidence_types, departments, services })
    }
}

/// A policy that cannot be used. The `Display` form always names the file,
/// and for content problems the 1-based line:
/// `policies/evidence-types.toml:12: field `x` has unknown kind `foo``.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    // The reason is part of the message, and not also a `source`: error
    // chains (`{:#}`) would print it twice.
    #[error("{}: cannot read: {reason}", path.display())]
    Io { path: PathBuf, reason: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Invalid {
        path: PathBuf,
        /// 1-based line in `path`.
        line: usize,
        message: String,
    },
}

impl PolicyError {
    /// The 1-based line of a content problem; `None` for I/O errors.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::Io { .. } => None,
            PolicyError::Invalid { line, .. } => Some(*line),
        }
    }
}

/// Language of user-facing text. German is the administration's language;
/// English is offered alongside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    De,
    En,
}

impl Lang {
    /// `de` or `en` (exact, lowercase); anything else is `None`.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }
}

/// A text in both languages; both are checked non-empty at load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Localized {
    pub de: String,
    pub en: String,
}

impl Localized {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::De => &self.de,
            Lang::En => &self.en,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policies_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policies = Policies::load(&dir).expect("shipped policies load");
        let types = &policies.evidence_types;
        for id in [
            "income_statement",
            "residence_certificate",
            "birth_certificate",
            "vehicle_registration",
            "severe_disability_certificate",
            "rent_certificate",
        ] {
            assert!(types.get(id).is_some(), "missing {id}");
        }
        let disability = types.get("severe_disability_certificate").expect("checked above");
        assert_eq!(disability.min_login_level, LoginLevel::High);
        assert!(disability.fields.iter().all(|field| field.sensitivity == Sensitivity::SpecialCategory));
        let residence = types.get("residence_certificate").expect("checked above");
        assert_eq!(residence.field("postal_code").map(|field| &field.kind), Some(&FieldKind::Text { max_length: 5 }));
    }

    #[test]
    fn shipped_services_load_with_departments() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policies = Policies::load(&dir).expect("shipped policies load");
        for id in ["housing_benefit", "resident_parking_permit", "daycare_fee_reduction", "disabled_parking_permit"] {
            let service = policies.services.get(id).unwrap_or_else(|| panic!("missing service {id}"));
            assert!(policies.departments.get(&service.department).is_some(), "{id}: department");
            assert!(!service.legal_basis.de.is_empty() && !service.legal_basis.en.is_empty(), "{id}");
            assert!(!service.purpose.de.is_empty() && !service.purpose.en.is_empty(), "{id}");
        }
        for id in ["wohngeldstelle", "strassenverkehrsbehoerde", "kita_amt"] {
            assert!(policies.departments.get(id).is_some(), "missing department {id}");
        }
        let housing = policies.services.get("housing_benefit").expect("checked above");
        assert_eq!(housing.evidence_types(), vec!["income_statement", "rent_certificate", "residence_certificate"]);
        let daycare = policies.services.get("daycare_fee_reduction").expect("checked above");
        assert!(daycare.fields.contains(&field("income_statement.number_of_children")));
        let disabled = policies.services.get("disabled_parking_permit").expect("checked above");
        assert_eq!(disabled.min_login_level, LoginLevel::High);
        assert_eq!(disabled.evidence_types(), vec!["severe_disability_certificate"]);
    }

    #[test]
    fn resident_parking_permit_gets_address_and_plate_only() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        let policies = Policies::load(&dir).expect("shipped policies load");
        let parking = policies.services.get("resident_parking_permit").expect("shipped");
        let fields: Vec<String> = parking.fields.iter().map(ToString::to_string).collect();
        assert_eq!(
            fields,
            [
                "residence_certificate.street",
                "residence_certificate.house_number",
                "residence_certificate.postal_code",
                "residence_certificate.city",
                "vehicle_registration.license_plate",
            ]
        );
        assert!(parking.fields.iter().all(|field| field.evidence_type() != "income_statement"), "no income");
        assert!(parking.fields.iter().all(|field| field.field() != "date_of_birth"), "no birth date");
        assert!(parking.fields.iter().all(|field| field.evidence_type() != "birth_certificate"), "no birth data");
        assert!(!parking.file, "no documents");
    }

    #[test]
    fn directory_without_departments_or_services_loads_with_none() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("policies").join(EVIDENCE_TYPES_FILE),
            dir.path().join(EVIDENCE_TYPES_FILE),
        )
        .expect("copy");
        let policies = Policies::load(dir.path()).expect("loads");
        assert!(policies.departments.is_empty());
        assert!(policies.services.is_empty());
    }

    #[test]
    fn service_error_from_a_directory_names_the_service_file_and_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        for file in [EVIDENCE_TYPES_FILE, DEPARTMENTS_FILE] {
            std::fs::copy(shipped.join(file), dir.path().join(file)).expect("copy");
        }
        let services = dir.path().join(SERVICES_DIR);
        std::fs::create_dir(&services).expect("mkdir");
        std::fs::write(services.join("README.md"), "not a policy").expect("write");
        let good = std::fs::read_to_string(shipped.join(SERVICES_DIR).join("resident_parking_permit.toml"))
            .expect("read shipped service");
        std::fs::write(services.join("a.toml"), &good).expect("write");
        let policies = Policies::load(dir.path()).expect("one good service and a README load");
        assert_eq!(policies.services.len(), 1);

        let bad = good.replace("max_grant_duration_days = 30", "max_grant_duration_days = 400");
        let line = bad.lines().position(|line| line.starts_with("max_grant_duration_days")).expect("present") + 1;
        std::fs::write(services.join("b.toml"), bad.replace("resident_parking_permit\"", "other_permit\""))
            .expect("write");
        let error = Policies::load(dir.path()).expect_err("too long");
        let text = error.to_string();
        let prefix = format!("{}:{line}: ", services.join("b.toml").display());
        assert!(text.starts_with(&prefix), "{text}");
        assert!(text.contains("max_grant_duration_days 400"), "{text}");

        std::fs::write(services.join("b.toml"), &good).expect("write");
        let error = Policies::load(dir.path()).expect_err("duplicate");
        assert!(error.to_string().contains("duplicate service id `resident_parking_permit`"), "{error}");
    }

    #[test]
    fn service_naming_an_unknown_department_fails_without_departments_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        std::fs::copy(shipped.join(EVIDENCE_TYPES_FILE), dir.path().join(EVIDENCE_TYPES_FILE)).expect("copy");
        std::fs::create_dir(dir.path().join(SERVICES_DIR)).expect("mkdir");
        std::fs::copy(
            shipped.join(SERVICES_DIR).join("housing_benefit.toml"),
            dir.path().join(SERVICES_DIR).join("housing_benefit.toml"),
        )
        .expect("copy");
        let error = Policies::load(dir.path()).expect_err("unknown department");
        assert!(error.to_string().contains("unknown department `wohngeldstelle`"), "{error}");
    }

    fn field(text: &str) -> FieldRef {
        FieldRef::parse(text).expect("valid field reference in test")
    }

    #[test]
    fn missing_directory_is_an_io_error_naming_the_file() {
        let error = Policies::load(Path::new("/nonexistent/tresor-policies")).expect_err("missing");
        assert!(matches!(error, PolicyError::Io { .. }));
        assert_eq!(error.line(), None);
        let text = error.to_string();
        assert!(text.starts_with("/nonexistent/tresor-policies/evidence-types.toml: cannot read:"), "{text}");
        // The reason is in the message once, not again as a source (an
        // error chain printed it twice).
        assert!(std::error::Error::source(&error).is_none());
        assert_eq!(text.matches("os error").count(), 1, "{text}");
    }

    #[test]
    fn invalid_error_display_names_file_and_line() {
        let error = PolicyError::Invalid {
            path: PathBuf::from("policies/evidence-types.toml"),
            line: 12,
            message: "field `x` has unknown kind `foo`".to_owned(),
        };
        assert_eq!(error.to_string(), "policies/evidence-types.toml:12: field `x` has unknown kind `foo`");
        assert_eq!(error.line(), Some(12));
    }

    #[test]
    fn localized_and_lang() {
        let text = Localized { de: "Einkommensnachweis".to_owned(), en: "Income statement".to_owned() };
        assert_eq!(text.get(Lang::De), "Einkommensnachweis");
        assert_eq!(text.get(Lang::En), "Income statement");
        assert_eq!(Lang::from_code("de"), Some(Lang::De));
        assert_eq!(Lang::from_code("en"), Some(Lang::En));
        assert_eq!(Lang::from_code("fr"), None);
        assert_eq!(Lang::De.to_string(), "de");
    }
}
