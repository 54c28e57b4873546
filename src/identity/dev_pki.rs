//! `tresor serve --dev`: a throwaway PKI for the TLS listener, made at start
//! in the dev data directory: a server CA and a server certificate for the
//! loopback names, a department CA and one client certificate per
//! department whose policy names a certificate subject (issued with exactly
//! that subject). Keys live only in that directory, which dev mode deletes
//! on exit. Never used outside dev mode.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Days, Utc};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SerialNumber,
};

use crate::config::{DepartmentAuthConfig, TlsConfig};
use crate::policy::Departments;

/// Dev certificates are valid from yesterday for this many days.
const VALIDITY_DAYS: u64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum DevPkiError {
    #[error("dev PKI: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("dev PKI: writing {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("dev PKI: the date is out of range")]
    Date,
}

/// A department's dev client certificate and key (PEM files).
#[derive(Debug, Clone)]
pub struct DevDepartmentCert {
    pub department: String,
    pub subject: String,
    pub certificate_file: PathBuf,
    pub key_file: PathBuf,
}

/// Where the dev PKI's files are.
#[derive(Debug, Clone)]
pub struct DevPki {
    pub dir: PathBuf,
    /// Trust anchor for clients (`curl --cacert`).
    pub server_ca_file: PathBuf,
    pub server_certificate_file: PathBuf,
    pub server_key_file: PathBuf,
    /// The `[departments] ca_file` of dev mode.
    pub department_ca_file: PathBuf,
    pub departments: Vec<DevDepartmentCert>,
    /// Departments without a dev certificate, and why.
    pub skipped: Vec<(String, String)>,
}

impl DevPki {
    /// `[tls]` for dev mode.
    pub fn tls_config(&self, listen: std::net::SocketAddr) -> TlsConfig {
        TlsConfig {
            listen,
            certificate_file: self.server_certificate_file.clone(),
            private_key_file: self.server_key_file.clone(),
        }
    }

    /// `[departments]` for dev mode: the dev department CA, no CRL, no
    /// trusted proxy.
    pub fn department_config(&self) -> DepartmentAuthConfig {
        DepartmentAuthConfig {
            ca_file: self.department_ca_file.clone(),
            crl_files: Vec::new(),
            trusted_proxies: Vec::new(),
            certificate_header: crate::config::default_certificate_header(),
        }
    }
}

/// Make the dev PKI in `dir` (created if needed). `server_names` are the
/// DNS names and IP addresses the server certificate is for.
pub fn generate(
    dir: &Path,
    departments: &Departments,
    server_names: &[String],
    now: DateTime<Utc>,
) -> Result<DevPki, DevPkiError> {
    std::fs::create_dir_all(dir).map_err(|source| write_error(dir, source))?;
    let validity = validity(now)?;
    let mut serial = 1u64;
    let mut next_serial = || {
        serial += 1;
        SerialNumber::from(serial)
    };

    let server_ca = certificate_authority("tresor dev server CA", validity)?;
    let mut params = CertificateParams::new(server_names.to_vec())?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, "tresor (dev)");
    params.distinguished_name.push(DnType::CommonName, "localhost");
    params.serial_number = Some(next_serial());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    validity.apply(&mut params);
    let server_key = KeyPair::generate()?;
    let server_cert = params.signed_by(&server_key, &server_ca)?;

    let server_ca_file = dir.join("server-ca.pem");
    let server_certificate_file = dir.join("server.pem");
    let server_key_file = dir.join("server.key");
    write(&server_ca_file, &server_ca.pem(), false)?;
    write(&server_certificate_file, &server_cert.pem(), false)?;
    write(&server_key_file, &server_key.serialize_pem(), true)?;

    let department_ca = certificate_authority("tresor dev department CA", validity)?;
    let department_ca_file = dir.join("department-ca.pem");
    write(&department_ca_file, &department_ca.pem(), false)?;

    let mut issued = Vec::new();
    let mut skipped = Vec::new();
    for department in departments.iter() {
        let Some(subject) = &department.certificate_subject else {
            skipped.push((department.id.clone(), "the policy names no certificate subject".to_owned()));
            continue;
        };
        let Some(distinguished_name) = parse_subject(subject) else {
            skipped.push((department.id.clone(), format!("dev mode cannot issue the subject {subject}")));
            continue;
        };
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = distinguished_name;
        params.serial_number = Some(next_serial());
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        validity.apply(&mut params);
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &department_ca)?;
        let certificate_file = dir.join(format!("{}.pem", department.id));
        let key_file = dir.join(format!("{}.key", department.id));
        write(&certificate_file, &cert.pem(), false)?;
        write(&key_file, &key.serialize_pem(), true)?;
        issued.push(DevDepartmentCert {
            department: department.id.clone(),
            subject: subject.clone(),
            certificate_file,
            key_file,
        });
    }

    Ok(DevPki {
        dir: dir.to_owned(),
        server_ca_file,
        server_certificate_file,
        server_key_file,
        department_ca_file,
        departments: issued,
        skipped,
    })
}

fn certificate_authority(
    common_name: &str,
    validity: Validity,
) -> Result<CertifiedIssuer<'static, KeyPair>, DevPkiError> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::OrganizationName, "tresor (dev)");
    params.distinguished_name.push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    validity.apply(&mut params);
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

/// From and until, as (year, month, day).
#[derive(Clone, Copy)]
struct Validity {
    from: (i32, u8, u8),
    until: (i32, u8, u8),
}

impl Validity {
    fn apply(self, params: &mut CertificateParams) {
        params.not_before = rcgen::date_time_ymd(self.from.0, self.from.1, self.from.2);
        params.not_after = rcgen::date_time_ymd(self.until.0, self.until.1, self.until.2);
    }
}

fn validity(now: DateTime<Utc>) -> Result<Validity, DevPkiError> {
    let today = now.date_naive();
    let from = today.checked_sub_days(Days::new(1)).ok_or(DevPkiError::Date)?;
    let until = today.checked_add_days(Days::new(VALIDITY_DAYS)).ok_or(DevPkiError::Date)?;
    let ymd = |date: chrono::NaiveDate| -> Result<(i32, u8, u8), DevPkiError> {
        let month = u8::try_from(date.month()).map_err(|_| DevPkiError::Date)?;
        let day = u8::try_from(date.day()).map_err(|_| DevPkiError::Date)?;
        Ok((date.year(), month, day))
    };
    Ok(Validity { from: ymd(from)?, until: ymd(until)? })
}

/// An RFC 4514 subject (`CN=Wohngeldstelle,O=Stadt Musterstadt,C=DE`, the
/// last RDN first) as an rcgen name in certificate order. None for what dev
/// mode does not issue: multi-valued RDNs, attribute types other than CN, O,
/// OU, C, L and ST, a type given twice, hex-encoded values.
fn parse_subject(subject: &str) -> Option<DistinguishedName> {
    let mut attributes = Vec::new();
    for component in split_unescaped(subject, ',')? {
        let (attribute_type, value) = component.split_once('=')?;
        let dn_type = match attribute_type.trim() {
            "CN" => DnType::CommonName,
            "O" => DnType::OrganizationName,
            "OU" => DnType::OrganizationalUnitName,
            "C" => DnType::CountryName,
            "L" => DnType::LocalityName,
            "ST" => DnType::StateOrProvinceName,
            _ => return None,
        };
        if attributes.iter().any(|(existing, _)| *existing == dn_type) {
            return None;
        }
        attributes.push((dn_type, unescape(value.trim_start_matches(' '))?));
    }
    let mut name = DistinguishedName::new();
    for (dn_type, value) in attributes.into_iter().rev() {
        name.push(dn_type, value);
    }
    Some(name)
}

/// Split at unescaped `separator`s, dropping unescaped trailing spaces of
/// each part; None if an unescaped `+` (multi-valued RDN) occurs.
fn split_unescaped(text: &str, separator: char) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut trailing_spaces = 0usize;
    let mut escaped = false;
    for character in text.chars() {
        if escaped {
            current.push(character);
            escaped = false;
            trailing_spaces = 0;
        } else if character == '\\' {
            current.push(character);
            escaped = true;
        } else if character == '+' {
            return None;
        } else if character == separator {
            current.truncate(current.len() - trailing_spaces);
            parts.push(std::mem::take(&mut current));
            trailing_spaces = 0;
        } else {
            trailing_spaces = if character == ' ' { trailing_spaces + 1 } else { 0 };
            current.push(character);
        }
    }
    current.truncate(current.len() - trailing_spaces);
    parts.push(current);
    Some(parts)
}

/// RFC 4514 value escapes `\,` `\+` `\\` ... resolved; hex escapes refused.
fn unescape(value: &str) -> Option<String> {
    let mut out = String::with_capacity(value.len());
    let mut characters = value.chars();
    while let Some(character) = characters.next() {
        if character == '\\' {
            let escaped = characters.next()?;
            if escaped.is_ascii_hexdigit() {
                return None;
            }
            out.push(escaped);
        } else {
            out.push(character);
        }
    }
    (!out.is_empty()).then_some(out)
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), DevPkiError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|source| write_error(path, source))?;
    file.write_all(contents.as_bytes()).map_err(|source| write_error(path, source))
}

fn write_error(path: &Path, source: std::io::Error) -> DevPkiError {
    DevPkiError::Write { path: path.display().to_string(), source }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    use super::*;
    use crate::identity::department::{CertificateVerifier, DepartmentBinding};

    fn shipped_departments() -> Departments {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("policies/departments.toml");
        let source = std::fs::read_to_string(&path).expect("read the shipped departments.toml");
        Departments::from_toml(&source, &path).expect("shipped departments parse")
    }

    fn bindings(departments: &Departments) -> Vec<DepartmentBinding> {
        departments
            .iter()
            .map(|department| DepartmentBinding {
                department: department.id.clone(),
                subject: department.certificate_subject.clone(),
                spki_sha256: department.spki_sha256.clone(),
            })
            .collect()
    }

    fn der_of(path: &Path) -> Vec<u8> {
        CertificateDer::from_pem_file(path).expect("a PEM certificate").to_vec()
    }

    #[test]
    fn dev_certificates_verify_and_map_to_their_departments() {
        let dir = tempfile::tempdir().expect("tempdir");
        let departments = shipped_departments().without_pins();
        let now = Utc::now();
        let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        let pki = generate(dir.path(), &departments, &names, now).expect("dev PKI");

        assert_eq!(pki.departments.len(), departments.len());
        assert!(pki.skipped.is_empty(), "{:?}", pki.skipped);
        let ca_pem = std::fs::read(&pki.department_ca_file).expect("department CA");
        let verifier = CertificateVerifier::new(&ca_pem, &[], bindings(&departments)).expect("verifier");
        for issued in &pki.departments {
            let identity = verifier.verify(&[der_of(&issued.certificate_file)], now).expect(&issued.department);
            assert_eq!(identity.department, issued.department);
            assert_eq!(
                Some(identity.subject.as_str()),
                departments.get(&issued.department).and_then(|d| d.certificate_subject.as_deref())
            );
        }

        // With the shipped pins kept, the pinned department's dev certificate
        // is refused: dev mode has to drop them.
        let pinned = shipped_departments();
        let strict = CertificateVerifier::new(&ca_pem, &[], bindings(&pinned)).expect("verifier");
        let pinned_id =
            pinned.iter().find(|d| !d.spki_sha256.is_empty()).map(|d| d.id.clone()).expect("a pinned department");
        let issued = pki.departments.iter().find(|d| d.department == pinned_id).expect("issued");
        assert!(strict.verify(&[der_of(&issued.certificate_file)], now).is_err());

        // The server certificate is not a department certificate...
        assert!(verifier.verify(&[der_of(&pki.server_certificate_file)], now).is_err());
        // ... and its files make a TLS server configuration.
        let chain = std::fs::read(&pki.server_certificate_file).expect("server chain");
        let key = std::fs::read(&pki.server_key_file).expect("server key");
        crate::http::tls::server_config(&chain, &key, None).expect("server config");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&pki.server_key_file).expect("key file").permissions().mode();
            assert_eq!(mode & 0o077, 0, "private keys are owner-only");
        }
    }

    #[test]
    fn subjects_parse_in_certificate_order() {
        let name = parse_subject(r"CN=Amt\, Stelle 2, OU=Sozialamt,O=Stadt Musterstadt,C=DE").expect("parses");
        let order: Vec<(DnType, String)> = name
            .iter()
            .map(|(dn_type, value)| {
                let rcgen::DnValue::Utf8String(text) = value else { panic!("utf-8 value") };
                (dn_type.clone(), text.clone())
            })
            .collect();
        assert_eq!(
            order,
            vec![
                (DnType::CountryName, "DE".to_owned()),
                (DnType::OrganizationName, "Stadt Musterstadt".to_owned()),
                (DnType::OrganizationalUnitName, "Sozialamt".to_owned()),
                (DnType::CommonName, "Amt, Stelle 2".to_owned()),
            ]
        );
        for unsupported in ["CN=A+OU=B", "CN=A,CN=B", "UID=a", "CN=\\41", "CN=", "no equals"] {
            assert!(parse_subject(unsupported).is_none(), "{unsupported}");
        }
    }
}
