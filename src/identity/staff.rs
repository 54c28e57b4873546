//! Staff of the city (data-protection officers) and who among them may audit:
//! the allow-list in `policies/staff.toml`, and the staff id that stands for
//! a staff member in sessions and audit entries.
//!
//! Architecture invariant: a staff member's raw OIDC subject is never stored
//! or logged; the staff id is a keyed hash of (issuer, subject).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::oidc::{IssuerSettings, LoginError, RelyingParty};
use super::registry::IssuerRegistry;
use crate::crypto::{CryptoError, IdentifierPepper};

/// File name of the staff policy inside the policy directory.
pub const STAFF_POLICY_FILE: &str = "staff.toml";

/// Longest subject accepted in the allow-list (OIDC says at most 255 ASCII characters).
const MAX_SUBJECT_LENGTH: usize = 255;

/// The staff login as the server runs it: the staff issuer (kept apart from
/// the citizens' issuers, so `/login?issuer=...` can never reach it) and the
/// staff ids the policy makes DPOs.
pub struct StaffLogin {
    issuer_name: String,
    issuer_url: String,
    registry: IssuerRegistry,
    dpo_ids: HashSet<String>,
}

impl StaffLogin {
    pub fn new(
        settings: IssuerSettings,
        policy: &StaffPolicy,
        pepper: &IdentifierPepper,
        http: reqwest::Client,
    ) -> Result<Self, CryptoError> {
        let issuer_name = settings.name.clone();
        let issuer_url = settings.issuer_url.clone();
        let dpo_ids = policy.dpo_staff_ids(pepper, &issuer_name, &issuer_url)?;
        let registry = IssuerRegistry::new(vec![(settings, issuer_name.clone())], http);
        Ok(Self { issuer_name, issuer_url, registry, dpo_ids })
    }

    /// The configured name; pending logins carry it.
    pub fn issuer_name(&self) -> &str {
        &self.issuer_name
    }

    /// The relying party, discovering the provider on first use.
    pub async fn relying_party(&self) -> Result<Arc<RelyingParty>, LoginError> {
        self.registry
            .get(&self.issuer_name)
            .await
            .unwrap_or_else(|| Err(LoginError::Configuration("staff issuer is not registered".into())))
    }

    /// The staff id for a verified subject of this issuer.
    pub fn staff_id(&self, pepper: &IdentifierPepper, subject: &str) -> Result<String, CryptoError> {
        staff_id(pepper, &self.issuer_url, subject)
    }

    /// Whether the policy makes this staff member a DPO. Asked at login and
    /// on every request, so removing someone from `staff.toml` (and
    /// restarting) ends their existing sessions' access too.
    pub fn is_dpo(&self, staff_id: &str) -> bool {
        self.dpo_ids.contains(staff_id)
    }

    pub fn dpo_count(&self) -> usize {
        self.dpo_ids.len()
    }
}

/// Who may use the DPO pages. Only a subject allow-list for now: the test
/// provider (and so the integration tests) cannot issue role claims, and an
/// unverified role path would be a way in nobody tested. A `role_claim` key
/// is refused as an unknown key rather than silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffPolicy {
    dpos: Vec<DpoEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct DpoEntry {
    /// The staff issuer's configured name (`staff_issuer.name`).
    issuer: String,
    /// The `sub` claim the staff identity provider issues for this person.
    subject: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffPolicyFile {
    #[serde(default)]
    dpo: Vec<DpoEntryFile>,
}

/// A `[[dpo]]` table as written, with positions for error messages.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DpoEntryFile {
    issuer: toml::Spanned<String>,
    subject: toml::Spanned<String>,
}

/// A staff policy that cannot be used; names the file and, for content
/// problems, the 1-based line (like `PolicyError`).
#[derive(Debug, thiserror::Error)]
pub enum StaffPolicyError {
    // The reason is part of the message, and not also a `source`: error
    // chains (`{:#}`) would print it twice.
    #[error("{}: cannot read: {reason}", path.display())]
    Io { path: PathBuf, reason: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Invalid { path: PathBuf, line: usize, message: String },
}

impl StaffPolicy {
    /// Load `staff.toml` from the policy directory. A missing file is an
    /// empty allow-list (nobody may audit), not an error.
    pub fn load(policy_dir: &Path) -> Result<Self, StaffPolicyError> {
        let path = policy_dir.join(STAFF_POLICY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(source) => Self::from_toml(&source, &path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(StaffPolicyError::Io { path, reason: source }),
        }
    }

    pub fn from_toml(source: &str, path: &Path) -> Result<Self, StaffPolicyError> {
        let invalid = |offset: Option<usize>, message: String| StaffPolicyError::Invalid {
            path: path.to_owned(),
            line: offset.map_or(1, |offset| line_of(source, offset)),
            message,
        };
        let file: StaffPolicyFile = toml::from_str(source)
            .map_err(|error| invalid(error.span().map(|span| span.start), error.message().to_owned()))?;
        let mut dpos = Vec::with_capacity(file.dpo.len());
        for entry in file.dpo {
            if entry.issuer.get_ref().trim().is_empty() {
                return Err(invalid(Some(entry.issuer.span().start), "dpo entry: issuer must not be empty".to_owned()));
            }
            let subject = entry.subject.get_ref();
            if subject.is_empty() || subject.len() > MAX_SUBJECT_LENGTH || subject.chars().any(char::is_control) {
                return Err(invalid(
                    Some(entry.subject.span().start),
                    format!(
                        "dpo entry: subject must be 1 to {MAX_SUBJECT_LENGTH} characters without control characters"
                    ),
                ));
            }
            dpos.push(DpoEntry { issuer: entry.issuer.into_inner(), subject: entry.subject.into_inner() });
        }
        Ok(Self { dpos })
    }

    /// How many DPO entries there are, for any issuer.
    pub fn len(&self) -> usize {
        self.dpos.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dpos.is_empty()
    }

    /// How many DPO entries name `issuer_name`.
    pub fn dpo_count(&self, issuer_name: &str) -> usize {
        self.dpos.iter().filter(|entry| entry.issuer == issuer_name).count()
    }

    /// The staff ids of every DPO of the issuer configured as `issuer_name`
    /// at `issuer_url` (the same inputs `staff_id` gets at login).
    pub fn dpo_staff_ids(
        &self,
        pepper: &IdentifierPepper,
        issuer_name: &str,
        issuer_url: &str,
    ) -> Result<HashSet<String>, CryptoError> {
        self.dpos
            .iter()
            .filter(|entry| entry.issuer == issuer_name)
            .map(|entry| staff_id(pepper, issuer_url, &entry.subject))
            .collect()
    }
}

/// The id of a staff member: hex of the first 16 bytes of
/// HMAC(pepper, issuer || sub), the same keyed hash citizens' subjects get.
/// 128 bits keep ids collision-free; the pepper keeps them unlinkable to the
/// subject without the key.
pub fn staff_id(pepper: &IdentifierPepper, issuer_url: &str, subject: &str) -> Result<String, CryptoError> {
    let hash = pepper.subject_hash(issuer_url, subject)?;
    Ok(hex::encode(&hash[..16]))
}

fn line_of(source: &str, offset: usize) -> usize {
    source.get(..offset).map_or(1, |before| before.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;
    use crate::crypto::{FileKeyProvider, KeyProvider};

    fn keys() -> FileKeyProvider {
        FileKeyProvider::ephemeral(&SystemRandom::new()).expect("ephemeral keys")
    }

    fn parse(text: &str) -> Result<StaffPolicy, StaffPolicyError> {
        StaffPolicy::from_toml(text, Path::new("policies/staff.toml"))
    }

    #[test]
    fn allow_list_yields_staff_ids_of_its_issuer_only() {
        let policy = parse(
            "[[dpo]]\nissuer = \"staff\"\nsubject = \"dpo-1\"\n\n[[dpo]]\nissuer = \"other\"\nsubject = \"dpo-2\"\n",
        )
        .expect("valid");
        let keys = keys();
        let pepper = keys.pepper();
        let ids = policy.dpo_staff_ids(pepper, "staff", "https://login.stadt.example").expect("ids");
        assert_eq!(ids.len(), 1);
        assert!(ids.contains(&staff_id(pepper, "https://login.stadt.example", "dpo-1").expect("staff id")));
        assert!(!ids.contains(&staff_id(pepper, "https://login.stadt.example", "dpo-2").expect("staff id")));
        assert_eq!(policy.dpo_count("staff"), 1);
    }

    #[test]
    fn staff_id_is_a_keyed_hash_not_the_subject() {
        let keys = keys();
        let pepper = keys.pepper();
        let id = staff_id(pepper, "https://login.stadt.example", "dpo-1").expect("staff id");
        assert_eq!(id.len(), 32);
        assert!(!id.contains("dpo-1"));
        let other_keys = self::keys();
        assert_ne!(id, staff_id(other_keys.pepper(), "https://login.stadt.example", "dpo-1").expect("staff id"));
        assert_ne!(id, staff_id(pepper, "https://other.example", "dpo-1").expect("staff id"));
    }

    #[test]
    fn empty_and_missing_policies_allow_nobody() {
        assert_eq!(parse("dpo = []\n").expect("valid").dpo_count("staff"), 0);
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(StaffPolicy::load(dir.path()).expect("missing is empty").dpo_count("staff"), 0);
    }

    #[test]
    fn shipped_policy_loads_and_names_nobody() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies");
        assert_eq!(StaffPolicy::load(&dir).expect("shipped staff.toml is valid"), StaffPolicy::default());
    }

    #[test]
    fn errors_name_file_and_line() {
        let error = parse("# staff\n[[dpo]]\nissuer = \"staff\"\nsubject = \"x\"\nrole_claim = \"roles\"\n")
            .expect_err("unknown key")
            .to_string();
        assert!(error.starts_with("policies/staff.toml:"), "{error}");
        assert!(error.contains("role_claim"), "{error}");
        let error = parse("[[dpo]]\nissuer = \"staff\"\nsubject = \"\"\n").expect_err("empty subject").to_string();
        assert!(error.contains("subject"), "{error}");
        let error = parse("[[dpo]]\nissuer = \"\"\nsubject = \"s\"\n").expect_err("empty issuer").to_string();
        assert!(error.contains("policies/staff.toml:2:"), "{error}");
    }
}
