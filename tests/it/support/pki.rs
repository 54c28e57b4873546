//! A department PKI made at test time (rcgen): a CA, client certificates for
//! the shipped departments, and a copy of `policies/` whose SPKI pins are the
//! test certificates' own (the shipped pins are examples).

use std::path::{Path, PathBuf};

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
    SerialNumber, date_time_ymd,
};
use ring::digest::{SHA256, digest};
use x509_parser::prelude::{FromDer, X509Certificate};

pub struct TestPki {
    issuer: CertifiedIssuer<'static, KeyPair>,
    next_serial: std::sync::atomic::AtomicU64,
}

/// A client certificate with its private key (PEM).
#[derive(Clone)]
pub struct ClientCert {
    pub pem: String,
    pub der: Vec<u8>,
    pub key_pem: String,
    pub spki_sha256_hex: String,
    pub serial: u64,
}

impl ClientCert {
    /// The value a trusted proxy forwards (nginx `$ssl_client_escaped_cert`).
    pub fn forwarded_header(&self) -> String {
        utf8_percent_encode(&self.pem, NON_ALPHANUMERIC).to_string()
    }
}

/// What kind of certificate to issue (for negative tests).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CertKind {
    Valid,
    Expired,
    NotYetValid,
    ServerAuthOnly,
}

impl TestPki {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        // rcgen starts with a placeholder CN; start from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, name);
        params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2045, 1, 1);
        let key = KeyPair::generate().expect("ca key");
        Self {
            issuer: CertifiedIssuer::self_signed(params, key).expect("self-signed ca"),
            next_serial: std::sync::atomic::AtomicU64::new(100),
        }
    }

    pub fn ca_pem(&self) -> String {
        self.issuer.pem()
    }

    /// A client certificate `CN=<common_name>,O=Stadt Musterstadt,C=DE`.
    pub fn issue(&self, common_name: &str, kind: CertKind) -> ClientCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        // rcgen starts with a placeholder CN; start from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "DE");
        params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
        params.distinguished_name.push(DnType::CommonName, common_name);
        let serial = self.next_serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.serial_number = Some(SerialNumber::from(serial));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = if kind == CertKind::ServerAuthOnly {
            vec![ExtendedKeyUsagePurpose::ServerAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        let (not_before, not_after) = match kind {
            CertKind::Expired => (date_time_ymd(2020, 1, 1), date_time_ymd(2021, 1, 1)),
            CertKind::NotYetValid => (date_time_ymd(2040, 1, 1), date_time_ymd(2041, 1, 1)),
            _ => (date_time_ymd(2021, 1, 1), date_time_ymd(2044, 1, 1)),
        };
        params.not_before = not_before;
        params.not_after = not_after;
        self.sign(params, serial)
    }

    /// Sign `params` with a fresh key under this CA.
    fn sign(&self, params: CertificateParams, serial: u64) -> ClientCert {
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        let (_, parsed) = X509Certificate::from_der(cert.der()).expect("parse certificate");
        ClientCert {
            pem: cert.pem(),
            der: cert.der().to_vec(),
            key_pem: key.serialize_pem(),
            spki_sha256_hex: hex::encode(digest(&SHA256, parsed.public_key().raw)),
            serial,
        }
    }

    /// A server certificate for `localhost` and 127.0.0.1 (serverAuth only).
    pub fn issue_server(&self) -> ClientCert {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).expect("server params");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let serial = self.next_serial.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        params.serial_number = Some(SerialNumber::from(serial));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = date_time_ymd(2021, 1, 1);
        params.not_after = date_time_ymd(2044, 1, 1);
        self.sign(params, serial)
    }

    /// A CRL (PEM) of this CA revoking `revoked`.
    pub fn crl_revoking(&self, revoked: &[&ClientCert]) -> String {
        CertificateRevocationListParams {
            this_update: date_time_ymd(2024, 1, 1),
            next_update: date_time_ymd(2044, 1, 1),
            crl_number: SerialNumber::from(1u64),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|cert| RevokedCertParams {
                    serial_number: SerialNumber::from(cert.serial),
                    revocation_time: date_time_ymd(2024, 1, 1),
                    reason_code: Some(RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&self.issuer)
        .expect("crl")
        .pem()
        .expect("crl pem")
    }
}

/// The shipped departments and their certificate common names.
pub const DEPARTMENT_CNS: [(&str, &str); 3] = [
    ("wohngeldstelle", "Wohngeldstelle"),
    ("strassenverkehrsbehoerde", "Strassenverkehrsbehoerde"),
    ("kita_amt", "Kita-Amt"),
];

/// Copy `source` (a policy folder) to `target`, replacing every department's
/// `spki_sha256` line with the pin of `pins[department]` where given.
pub fn policy_copy_with_pins(source: &Path, target: &Path, pins: &[(&str, &str)]) -> PathBuf {
    copy_dir(source, target);
    let path = target.join("departments.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return target.to_owned();
    };
    let mut out = String::new();
    let mut current = None;
    for line in text.lines() {
        if let Some(id) = line.strip_prefix("id = ") {
            current = Some(id.trim_matches('"').to_owned());
        }
        if line.starts_with("spki_sha256") {
            let pin = pins.iter().find(|(department, _)| Some(*department) == current.as_deref());
            if let Some((_, pin)) = pin {
                out.push_str(&format!("spki_sha256 = [\"{pin}\"]\n"));
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    std::fs::write(&path, out).expect("write departments.toml");
    target.to_owned()
}

fn copy_dir(source: &Path, target: &Path) {
    std::fs::create_dir_all(target).expect("create policy copy");
    for entry in std::fs::read_dir(source).expect("read policy dir") {
        let entry = entry.expect("dir entry");
        let to = target.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), to).expect("copy policy file");
        }
    }
}
