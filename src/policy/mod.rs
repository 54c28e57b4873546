//! Policies: the reviewed TOML files under `policies/` that say which kinds
//! of evidence exist and which fields they have. Loaded and fully checked at
//! start; an invalid policy is an error naming file, line and problem.
//! Only [`Policies::load`] touches the file system; everything else is pure.

mod evidence;
mod level;
mod parse;
mod value;

use std::fmt;
use std::path::{Path, PathBuf};

pub use evidence::{
    EnumValue, EvidenceType, EvidenceTypes, FieldDef, FieldError, FieldKind, MAX_VALUE_CHARS, Sensitivity,
};
pub use level::LoginLevel;

/// File name of the evidence type catalogue inside the policy directory.
pub const EVIDENCE_TYPES_FILE: &str = "evidence-types.toml";

/// All loaded policies. Departments and services follow in a later change.
#[derive(Debug, Clone)]
pub struct Policies {
    pub evidence_types: EvidenceTypes,
}

impl Policies {
    /// Reads and checks `dir/evidence-types.toml`.
    pub fn load(dir: &Path) -> Result<Policies, PolicyError> {
        let path = dir.join(EVIDENCE_TYPES_FILE);
        let source = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io { path: path.clone(), source })?;
        let evidence_types = EvidenceTypes::from_toml(&source, &path)?;
        Ok(Policies { evidence_types })
    }
}

/// A policy that cannot be used. The `Display` form always names the file,
/// and for content problems the 1-based line:
/// `policies/evidence-types.toml:12: field `x` has unknown kind `foo``.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
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
    fn missing_directory_is_an_io_error_naming_the_file() {
        let error = Policies::load(Path::new("/nonexistent/tresor-policies")).expect_err("missing");
        assert!(matches!(error, PolicyError::Io { .. }));
        assert_eq!(error.line(), None);
        let text = error.to_string();
        assert!(text.starts_with("/nonexistent/tresor-policies/evidence-types.toml: cannot read:"), "{text}");
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
