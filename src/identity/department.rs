//! Department authentication by X.509 client certificate: chain, validity,
//! clientAuth usage and CRL checks (through rustls' webpki verifier, the same
//! one the TLS listener uses), then mapping to a department by subject DN
//! and/or SHA-256 SPKI pin. Pure: DER bytes and a time in, no I/O.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use percent_encoding::percent_decode_str;
use ring::digest::{SHA256, digest};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::{CertificateError, RootCertStore};
use x509_parser::certificate::X509Certificate;
use x509_parser::objects::{oid_registry, oid2abbrev};
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

/// Upper bound on a forwarded certificate header; a client chain is a few KiB.
const MAX_FORWARDED_HEADER_BYTES: usize = 64 * 1024;

/// A department authenticated by a verified client certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentIdentity {
    pub department: String,
    pub spki_sha256: [u8; 32],
    pub subject: String,
    pub not_after: DateTime<Utc>,
}

/// One department's certificate binding, as read from `policies/departments.toml`.
/// Every criterion a binding states must hold: a subject must match exactly,
/// and if pins are listed the certificate's SPKI SHA-256 must be one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentBinding {
    pub department: String,
    pub subject: Option<String>,
    pub spki_sha256: Vec<[u8; 32]>,
}

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate does not chain to a configured CA")]
    UnknownCa,
    #[error("certificate has expired")]
    Expired,
    #[error("certificate is not yet valid")]
    NotYetValid,
    #[error("certificate lacks the clientAuth extended key usage")]
    NoClientAuthUsage,
    #[error("certificate is revoked")]
    Revoked,
    #[error("certificate belongs to no configured department")]
    UnknownDepartment,
    #[error("certificate matches more than one department")]
    AmbiguousDepartment,
    #[error("certificate public key does not match the department's pin")]
    PinMismatch,
    #[error("malformed certificate: {0}")]
    Malformed(String),
    #[error("certificate configuration: {0}")]
    Config(String),
}

impl CertError {
    /// Stable machine code for API responses and audit entries.
    pub fn code(&self) -> &'static str {
        match self {
            CertError::UnknownCa => "certificate_unknown_ca",
            CertError::Expired => "certificate_expired",
            CertError::NotYetValid => "certificate_not_yet_valid",
            CertError::NoClientAuthUsage => "certificate_no_client_auth",
            CertError::Revoked => "certificate_revoked",
            CertError::UnknownDepartment => "certificate_unknown_department",
            CertError::AmbiguousDepartment => "certificate_ambiguous_department",
            CertError::PinMismatch => "certificate_pin_mismatch",
            CertError::Malformed(_) => "certificate_malformed",
            CertError::Config(_) => "certificate_config",
        }
    }
}

pub type Result<T, E = CertError> = std::result::Result<T, E>;

/// Verifies department client certificates against a CA bundle and CRLs.
pub struct CertificateVerifier {
    client_verifier: Arc<dyn ClientCertVerifier>,
    bindings: Vec<DepartmentBinding>,
}

impl std::fmt::Debug for CertificateVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateVerifier").field("bindings", &self.bindings.len()).finish_non_exhaustive()
    }
}

impl CertificateVerifier {
    /// CA bundle (PEM, one or more CA certs), optional CRLs (each PEM or DER),
    /// and the department bindings.
    ///
    /// Revocation: every configured CRL is checked across the whole chain;
    /// a CA for which no CRL is configured is not revocation-checked
    /// (webpki's "unknown revocation status" is allowed), so a bundle may mix
    /// CAs with and without CRLs. An outdated CRL (past nextUpdate) still
    /// counts: refreshing CRLs is the operator's job, not a reason to lock
    /// every department out.
    pub fn new(ca_pem: &[u8], crls: &[Vec<u8>], bindings: Vec<DepartmentBinding>) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        let mut ca_count = 0usize;
        for ca in CertificateDer::pem_slice_iter(ca_pem) {
            let ca = ca.map_err(|e| CertError::Config(format!("CA bundle: {e}")))?;
            roots.add(ca).map_err(|e| CertError::Config(format!("CA bundle: {e}")))?;
            ca_count += 1;
        }
        if ca_count == 0 {
            return Err(CertError::Config("CA bundle holds no certificate".into()));
        }

        let mut crl_ders = Vec::with_capacity(crls.len());
        for (index, crl) in crls.iter().enumerate() {
            let der = if looks_like_pem(crl) {
                CertificateRevocationListDer::from_pem_slice(crl)
                    .map_err(|e| CertError::Config(format!("CRL #{index}: {e}")))?
            } else {
                CertificateRevocationListDer::from(crl.clone())
            };
            crl_ders.push(der);
        }

        let bindings: Vec<DepartmentBinding> = bindings
            .into_iter()
            .map(|binding| {
                let subject = match binding.subject.as_deref().map(canonical_subject).transpose() {
                    Ok(subject) => subject,
                    Err(problem) => {
                        return Err(CertError::Config(format!(
                            "department {}: certificate subject: {problem}",
                            binding.department
                        )));
                    }
                };
                Ok(DepartmentBinding { subject, ..binding })
            })
            .collect::<Result<_>>()?;
        validate_bindings(&bindings)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client_verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .with_crls(crl_ders)
            .allow_unknown_revocation_status()
            .build()
            .map_err(|e| CertError::Config(format!("client verifier: {e}")))?;

        Ok(Self { client_verifier, bindings })
    }

    /// Verify a client certificate chain (leaf first, DER) at `now` and map
    /// it to a department.
    pub fn verify(&self, chain: &[Vec<u8>], now: DateTime<Utc>) -> Result<DepartmentIdentity> {
        let (leaf_der, intermediate_ders) =
            chain.split_first().ok_or_else(|| CertError::Malformed("empty certificate chain".into()))?;
        let leaf = parse_certificate(leaf_der)?;
        for intermediate in intermediate_ders {
            parse_certificate(intermediate)?;
        }

        let unix_now = u64::try_from(now.timestamp())
            .map(|secs| UnixTime::since_unix_epoch(Duration::from_secs(secs)))
            .map_err(|_| CertError::NotYetValid)?;
        let end_entity = CertificateDer::from(leaf_der.as_slice());
        let intermediates: Vec<CertificateDer<'_>> =
            intermediate_ders.iter().map(|der| CertificateDer::from(der.as_slice())).collect();
        self.client_verifier.verify_client_cert(&end_entity, &intermediates, unix_now).map_err(map_rustls_error)?;

        // webpki accepts a leaf without any EKU extension; departments must
        // hold certificates issued explicitly for client authentication.
        let has_client_auth = leaf
            .extended_key_usage()
            .map_err(|e| CertError::Malformed(format!("extended key usage: {e}")))?
            .is_some_and(|eku| eku.value.client_auth);
        if !has_client_auth {
            return Err(CertError::NoClientAuthUsage);
        }

        let subject = subject_to_string(leaf.subject())?;
        let spki_sha256 = spki_sha256(leaf.public_key().raw);
        let not_after = DateTime::<Utc>::from_timestamp(leaf.validity().not_after.timestamp(), 0)
            .ok_or_else(|| CertError::Malformed("notAfter out of range".into()))?;

        let department = self.map_department(&subject, &spki_sha256)?;
        Ok(DepartmentIdentity { department, spki_sha256, subject, not_after })
    }

    /// A rustls `ClientCertVerifier` for the TLS listener (same CA + CRLs), so
    /// the TLS layer rejects bad chains early. Department mapping and the
    /// explicit clientAuth check still happen in [`Self::verify`].
    pub fn rustls_client_verifier(&self) -> Result<Arc<dyn ClientCertVerifier>> {
        Ok(Arc::clone(&self.client_verifier))
    }

    fn map_department(&self, subject: &str, spki: &[u8; 32]) -> Result<String> {
        let mut matched: Vec<&str> = Vec::new();
        let mut subject_matched_but_pin_failed = false;
        for binding in &self.bindings {
            let subject_ok = binding.subject.as_deref().is_none_or(|s| s == subject);
            let pin_ok = binding.spki_sha256.is_empty() || binding.spki_sha256.contains(spki);
            match (subject_ok, pin_ok) {
                (true, true) => matched.push(&binding.department),
                (true, false) if binding.subject.is_some() => subject_matched_but_pin_failed = true,
                _ => {}
            }
        }
        matched.sort_unstable();
        matched.dedup();
        match matched.as_slice() {
            [department] => Ok((*department).to_owned()),
            [] if subject_matched_but_pin_failed => Err(CertError::PinMismatch),
            [] => Err(CertError::UnknownDepartment),
            _ => Err(CertError::AmbiguousDepartment),
        }
    }
}

/// Parse the URL-encoded PEM chain a reverse proxy forwards (nginx
/// `$ssl_client_escaped_cert`). Only the caller knows whether the peer is an
/// allow-listed proxy; this only decodes.
pub fn chain_from_forwarded_header(value: &str) -> Result<Vec<Vec<u8>>> {
    if value.len() > MAX_FORWARDED_HEADER_BYTES {
        return Err(CertError::Malformed("forwarded certificate header too long".into()));
    }
    let pem = percent_decode_str(value.trim()).collect::<Vec<u8>>();
    if !looks_like_pem(&pem) {
        return Err(CertError::Malformed("forwarded certificate is not PEM".into()));
    }
    let chain = CertificateDer::pem_slice_iter(&pem)
        .map(|cert| {
            cert.map(|der| der.to_vec()).map_err(|e| CertError::Malformed(format!("forwarded certificate: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    if chain.is_empty() {
        return Err(CertError::Malformed("forwarded header holds no certificate".into()));
    }
    Ok(chain)
}

fn looks_like_pem(bytes: &[u8]) -> bool {
    bytes.trim_ascii_start().starts_with(b"-----BEGIN ")
}

fn parse_certificate(der: &[u8]) -> Result<X509Certificate<'_>> {
    let (rest, cert) = X509Certificate::from_der(der).map_err(|e| CertError::Malformed(format!("certificate: {e}")))?;
    if !rest.is_empty() {
        return Err(CertError::Malformed("trailing bytes after certificate".into()));
    }
    Ok(cert)
}

/// The subject DN as bindings spell it: RDNs in certificate order joined by
/// ", ", multi-valued RDNs by " + ", `ABBREV=value` (x509-parser's display
/// format). Unlike x509-parser's `Display`, values are escaped as in RFC 4514
/// (`\,` `\+` `\=` ... and `\XX` for control bytes), so a CN of
/// "Amt, O=Stadt" cannot impersonate the two-RDN subject "CN=Amt, O=Stadt".
/// The subject as an RFC 4514 string: RDNs in reverse order of the DER
/// sequence (most specific first, as `openssl x509 -nameopt RFC2253`
/// prints it), separated by `,`, multi-valued RDNs joined by `+`.
fn subject_to_string(name: &X509Name<'_>) -> Result<String> {
    let mut rdn_strings = Vec::new();
    for rdn in name.iter_rdn() {
        let mut attribute_strings = Vec::new();
        for attribute in rdn.iter() {
            let value = attribute.as_str().map_err(|e| CertError::Malformed(format!("subject attribute: {e}")))?;
            let attribute_type = match oid2abbrev(attribute.attr_type(), oid_registry()) {
                Ok(abbrev) => abbrev.to_owned(),
                Err(_) => attribute.attr_type().to_id_string(),
            };
            attribute_strings.push(format!("{attribute_type}={}", escape_dn_value(value)));
        }
        rdn_strings.push(attribute_strings.join("+"));
    }
    rdn_strings.reverse();
    Ok(rdn_strings.join(","))
}

/// A subject as written in a policy, in the form `subject_to_string` gives
/// (RFC 4514): each attribute value is read with its escapes (`\,` and the
/// other specials, and `\XX` hex pairs of UTF-8 bytes, as `openssl x509
/// -nameopt RFC2253` prints non-ASCII letters) and written again the one way
/// `subject_to_string` writes it; blanks around the unescaped `,`, `+` and
/// `=` separators are dropped. So `CN=Pr\C3\BCfstelle, O=Stadt` and
/// `CN=Prüfstelle,O=Stadt` are the same subject. An error names what cannot
/// be read (a value without `=`, an unfinished escape, bytes that are not
/// UTF-8, a `#`-encoded value).
pub fn canonical_subject(text: &str) -> std::result::Result<String, String> {
    let mut rdns = Vec::new();
    for rdn in split_unescaped(text, ',') {
        let mut attributes = Vec::new();
        for attribute in split_unescaped(rdn, '+') {
            let (kind, value) =
                attribute.split_once('=').ok_or_else(|| format!("`{}` is not TYPE=value", attribute.trim()))?;
            let kind = kind.trim();
            if kind.is_empty() || !kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-') {
                return Err(format!("`{kind}` is not an attribute type"));
            }
            let value = unescape_dn_value(value)?;
            if value.is_empty() {
                return Err(format!("{kind} has an empty value"));
            }
            attributes.push(format!("{kind}={}", escape_dn_value(&value)));
        }
        rdns.push(attributes.join("+"));
    }
    Ok(rdns.join(","))
}

/// `text` split at every `separator` that is not escaped by a backslash.
fn split_unescaped(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        match character {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == separator => {
                parts.push(&text[start..index]);
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// An RFC 4514 attribute value as text: blanks around it dropped unless
/// escaped, `\c` for a special character, `\XX` for one byte.
fn unescape_dn_value(value: &str) -> std::result::Result<String, String> {
    let trimmed = value.trim_start();
    if trimmed.starts_with('#') {
        return Err("a #-encoded (BER) attribute value is not supported; write the text".to_owned());
    }
    let mut bytes = Vec::with_capacity(trimmed.len());
    // Length of `bytes` after the last escaped or non-blank character: what
    // is kept when trailing unescaped blanks are dropped.
    let mut keep = 0;
    let mut characters = trimmed.chars();
    while let Some(character) = characters.next() {
        if character != '\\' {
            let mut buffer = [0u8; 4];
            bytes.extend_from_slice(character.encode_utf8(&mut buffer).as_bytes());
            if character != ' ' {
                keep = bytes.len();
            }
            continue;
        }
        match characters.next() {
            Some(special @ (',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' | ' ' | '#')) => bytes.push(special as u8),
            Some(high) if high.is_ascii_hexdigit() => {
                let low = characters.next().filter(char::is_ascii_hexdigit).ok_or("`\\` needs two hex digits")?;
                let pair = [high as u8, low as u8];
                let byte = std::str::from_utf8(&pair)
                    .ok()
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or("`\\` needs two hex digits")?;
                bytes.push(byte);
            }
            Some(other) => return Err(format!("`\\{other}` is not an escape")),
            None => return Err("the value ends in a lone `\\`".to_owned()),
        }
        keep = bytes.len();
    }
    bytes.truncate(keep);
    String::from_utf8(bytes).map_err(|_| "escaped bytes are not UTF-8".to_owned())
}

/// The subject of a presented chain's leaf as `subject_to_string` writes
/// it, read without verifying anything: for the log line of a refusal.
pub fn presented_subject(chain: &[Vec<u8>]) -> Option<String> {
    let leaf = parse_certificate(chain.first()?).ok()?;
    subject_to_string(leaf.subject()).ok()
}

fn escape_dn_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (index, character) in value.chars().enumerate() {
        match character {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=' => {
                escaped.push('\\');
                escaped.push(character);
            }
            '#' | ' ' if index == 0 => {
                escaped.push('\\');
                escaped.push(character);
            }
            ' ' if index == last => escaped.push_str("\\ "),
            c if c.is_control() => {
                let mut buffer = [0u8; 4];
                for byte in c.encode_utf8(&mut buffer).bytes() {
                    escaped.push_str(&format!("\\{byte:02X}"));
                }
            }
            c => escaped.push(c),
        }
    }
    escaped
}

fn spki_sha256(spki_der: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, spki_der).as_ref());
    out
}

fn validate_bindings(bindings: &[DepartmentBinding]) -> Result<()> {
    let mut subjects = HashSet::new();
    let mut pins = HashSet::new();
    for binding in bindings {
        if binding.department.is_empty() {
            return Err(CertError::Config("binding without department id".into()));
        }
        if binding.subject.as_deref().is_some_and(str::is_empty) {
            return Err(CertError::Config(format!("department {}: empty certificate subject", binding.department)));
        }
        if binding.subject.is_none() && binding.spki_sha256.is_empty() {
            return Err(CertError::Config(format!(
                "department {}: needs a certificate subject or an SPKI pin",
                binding.department
            )));
        }
        if let Some(subject) = &binding.subject
            && !subjects.insert(subject.as_str())
        {
            return Err(CertError::Config(format!("department {}: subject {subject} bound twice", binding.department)));
        }
        for pin in &binding.spki_sha256 {
            if !pins.insert(*pin) {
                return Err(CertError::Config(format!(
                    "department {}: SPKI pin {} bound twice",
                    binding.department,
                    hex::encode(pin)
                )));
            }
        }
    }
    Ok(())
}

fn map_rustls_error(error: rustls::Error) -> CertError {
    match error {
        rustls::Error::InvalidCertificate(cert_error) => match cert_error {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => CertError::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => CertError::NotYetValid,
            CertificateError::Revoked => CertError::Revoked,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                CertError::NoClientAuthUsage
            }
            CertificateError::UnknownIssuer | CertificateError::BadSignature => CertError::UnknownCa,
            CertificateError::BadEncoding => CertError::Malformed("bad encoding".into()),
            other => CertError::Malformed(format!("{other:?}")),
        },
        other => CertError::Malformed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType,
        ExtendedKeyUsagePurpose, IsCa, KeyIdMethod, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams,
        SerialNumber, date_time_ymd,
    };

    use super::*;

    const WOHNGELD_SUBJECT: &str = "CN=Wohngeldstelle, O=Stadt Musterstadt";

    struct TestCa {
        issuer: CertifiedIssuer<'static, KeyPair>,
    }

    impl TestCa {
        fn new(common_name: &str) -> Self {
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
            // rcgen starts with a placeholder CN; start from an empty name.
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.distinguished_name.push(DnType::CommonName, common_name);
            params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages =
                vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2040, 1, 1);
            let key = KeyPair::generate().expect("ca key");
            Self { issuer: CertifiedIssuer::self_signed(params, key).expect("self-signed ca") }
        }

        fn pem(&self) -> String {
            self.issuer.pem()
        }

        fn crl_revoking(&self, serials: &[u64]) -> rcgen::CertificateRevocationList {
            CertificateRevocationListParams {
                this_update: date_time_ymd(2026, 1, 1),
                next_update: date_time_ymd(2027, 1, 1),
                crl_number: SerialNumber::from(1u64),
                issuing_distribution_point: None,
                revoked_certs: serials
                    .iter()
                    .map(|serial| RevokedCertParams {
                        serial_number: SerialNumber::from(*serial),
                        revocation_time: date_time_ymd(2026, 1, 1),
                        reason_code: Some(RevocationReason::KeyCompromise),
                        invalidity_date: None,
                    })
                    .collect(),
                key_identifier_method: KeyIdMethod::Sha256,
            }
            .signed_by(&self.issuer)
            .expect("crl")
        }
    }

    struct LeafSpec {
        common_name: &'static str,
        serial: u64,
        ekus: Vec<ExtendedKeyUsagePurpose>,
        not_before: (i32, u8, u8),
        not_after: (i32, u8, u8),
    }

    impl LeafSpec {
        fn client(common_name: &'static str, serial: u64) -> Self {
            Self {
                common_name,
                serial,
                ekus: vec![ExtendedKeyUsagePurpose::ClientAuth],
                not_before: (2025, 1, 1),
                not_after: (2027, 1, 1),
            }
        }
    }

    struct Leaf {
        der: Vec<u8>,
        pem: String,
        spki_sha256: [u8; 32],
    }

    fn issue(ca: &TestCa, spec: LeafSpec) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        // rcgen starts with a placeholder CN; start from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        // DER order O, CN: RFC 4514 (most specific first) reads CN=..., O=...
        params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
        params.distinguished_name.push(DnType::CommonName, spec.common_name);
        params.serial_number = Some(SerialNumber::from(spec.serial));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = spec.ekus;
        params.not_before = date_time_ymd(spec.not_before.0, spec.not_before.1, spec.not_before.2);
        params.not_after = date_time_ymd(spec.not_after.0, spec.not_after.1, spec.not_after.2);
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &ca.issuer).expect("leaf cert");
        let (_, parsed) = X509Certificate::from_der(cert.der()).expect("parse leaf");
        Leaf { der: cert.der().to_vec(), pem: cert.pem(), spki_sha256: spki_sha256(parsed.public_key().raw) }
    }

    fn at(year: i32, month: u32, day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(year, month, day, 12, 0, 0).single().expect("valid test date")
    }

    fn now() -> DateTime<Utc> {
        at(2026, 6, 1)
    }

    fn by_subject(department: &str, subject: &str) -> DepartmentBinding {
        DepartmentBinding { department: department.into(), subject: Some(subject.into()), spki_sha256: Vec::new() }
    }

    fn verifier(ca: &TestCa, crls: &[Vec<u8>], bindings: Vec<DepartmentBinding>) -> CertificateVerifier {
        CertificateVerifier::new(ca.pem().as_bytes(), crls, bindings).expect("verifier")
    }

    fn refusal(verifier: &CertificateVerifier, chain: &[Vec<u8>], now: DateTime<Utc>) -> &'static str {
        match verifier.verify(chain, now) {
            Ok(identity) => panic!("accepted {identity:?}"),
            Err(error) => error.code(),
        }
    }

    #[test]
    fn department_accepts_client_leaf_by_subject() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 10));
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);

        let identity = verifier.verify(&[leaf.der], now()).expect("accepted");
        assert_eq!(identity.department, "wohngeld");
        assert_eq!(identity.subject, "CN=Wohngeldstelle,O=Stadt Musterstadt");
        assert_eq!(identity.spki_sha256, leaf.spki_sha256);
        assert_eq!(identity.not_after, Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single().expect("date"));
    }

    #[test]
    fn department_accepts_client_leaf_by_spki_pin() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Strassenverkehrsbehoerde", 11));
        let other = issue(&ca, LeafSpec::client("Strassenverkehrsbehoerde", 12));
        let verifier = verifier(
            &ca,
            &[],
            vec![DepartmentBinding {
                department: "parking".into(),
                subject: None,
                spki_sha256: vec![leaf.spki_sha256],
            }],
        );

        let identity = verifier.verify(&[leaf.der], now()).expect("accepted");
        assert_eq!(identity.department, "parking");
        // Same subject, different key: a pin-only binding does not know it.
        assert_eq!(refusal(&verifier, &[other.der], now()), "certificate_unknown_department");
    }

    #[test]
    fn department_accepts_subject_and_pin_together() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 13));
        let verifier = verifier(
            &ca,
            &[],
            vec![DepartmentBinding {
                department: "wohngeld".into(),
                subject: Some(WOHNGELD_SUBJECT.into()),
                spki_sha256: vec![[7u8; 32], leaf.spki_sha256],
            }],
        );
        assert_eq!(verifier.verify(&[leaf.der], now()).expect("accepted").department, "wohngeld");
    }

    #[test]
    fn department_refuses_expired() {
        let ca = TestCa::new("Test Stadt CA");
        let mut spec = LeafSpec::client("Wohngeldstelle", 20);
        spec.not_before = (2021, 1, 1);
        spec.not_after = (2022, 1, 1);
        let leaf = issue(&ca, spec);
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_expired");
    }

    #[test]
    fn department_refuses_not_yet_valid() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 21));
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[leaf.der], at(2024, 6, 1)), "certificate_not_yet_valid");
    }

    #[test]
    fn department_refuses_server_auth_only() {
        let ca = TestCa::new("Test Stadt CA");
        let mut spec = LeafSpec::client("Wohngeldstelle", 22);
        spec.ekus = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let leaf = issue(&ca, spec);
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_no_client_auth");
    }

    #[test]
    fn department_refuses_leaf_without_any_eku() {
        let ca = TestCa::new("Test Stadt CA");
        let mut spec = LeafSpec::client("Wohngeldstelle", 23);
        spec.ekus = Vec::new();
        let leaf = issue(&ca, spec);
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_no_client_auth");
    }

    #[test]
    fn department_refuses_unknown_ca() {
        let trusted = TestCa::new("Test Stadt CA");
        let unrelated = TestCa::new("Unrelated CA");
        // Same name as the trusted CA, different key: a forgery by name.
        let impostor = TestCa::new("Test Stadt CA");
        let verifier = verifier(&trusted, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);

        let from_unrelated = issue(&unrelated, LeafSpec::client("Wohngeldstelle", 30));
        assert_eq!(refusal(&verifier, &[from_unrelated.der], now()), "certificate_unknown_ca");
        let from_impostor = issue(&impostor, LeafSpec::client("Wohngeldstelle", 31));
        assert_eq!(refusal(&verifier, &[from_impostor.der], now()), "certificate_unknown_ca");
    }

    #[test]
    fn department_refuses_revoked_by_crl() {
        let ca = TestCa::new("Test Stadt CA");
        let revoked = issue(&ca, LeafSpec::client("Wohngeldstelle", 40));
        let still_good = issue(&ca, LeafSpec::client("Wohngeldstelle", 41));
        let crl = ca.crl_revoking(&[40]);
        let bindings = vec![by_subject("wohngeld", WOHNGELD_SUBJECT)];

        let with_der_crl = verifier(&ca, &[crl.der().to_vec()], bindings.clone());
        assert_eq!(refusal(&with_der_crl, std::slice::from_ref(&revoked.der), now()), "certificate_revoked");
        assert_eq!(
            with_der_crl.verify(std::slice::from_ref(&still_good.der), now()).expect("not revoked").department,
            "wohngeld"
        );

        let with_pem_crl = verifier(&ca, &[crl.pem().expect("crl pem").into_bytes()], bindings);
        assert_eq!(refusal(&with_pem_crl, &[revoked.der], now()), "certificate_revoked");
        assert!(with_pem_crl.verify(&[still_good.der], now()).is_ok());
    }

    #[test]
    fn department_subject_cannot_be_spoofed_by_commas_in_cn() {
        let ca = TestCa::new("Test Stadt CA");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        // rcgen starts with a placeholder CN; start from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "Wohngeldstelle, O=Stadt Musterstadt");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2025, 1, 1);
        params.not_after = date_time_ymd(2027, 1, 1);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca.issuer).expect("cert");
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[cert.der().to_vec()], now()), "certificate_unknown_department");
        let escaped = r"CN=Wohngeldstelle\, O\=Stadt Musterstadt";
        let verifier = self::verifier(&ca, &[], vec![by_subject("escaped", escaped)]);
        assert_eq!(verifier.verify(&[cert.der().to_vec()], now()).expect("escaped subject").subject, escaped);
    }

    #[test]
    fn policy_subjects_are_read_with_their_escapes_and_written_one_way() {
        let canonical = |text| canonical_subject(text).expect(text);
        assert_eq!(canonical("CN=A, O=Stadt Musterstadt , C=DE"), "CN=A,O=Stadt Musterstadt,C=DE");
        assert_eq!(canonical("CN=A + SERIALNUMBER=1,O=B"), "CN=A+SERIALNUMBER=1,O=B");
        assert_eq!(canonical(r"CN=A\, B,O=C"), r"CN=A\, B,O=C");
        assert_eq!(canonical(r"CN=A\ ,O=C"), r"CN=A\ ,O=C");
        // As `openssl x509 -nameopt RFC2253` prints a UTF-8 name.
        assert_eq!(
            canonical(r"CN=Pr\C3\BCfstelle Test,OU=Ordnungsamt,O=Stadt Musterstadt,C=DE"),
            "CN=Prüfstelle Test,OU=Ordnungsamt,O=Stadt Musterstadt,C=DE"
        );
        assert_eq!(canonical(r"CN=Pr\c3\bcfstelle"), "CN=Prüfstelle");
        // Needless escapes come out as the certificate side writes them.
        assert_eq!(canonical(r"CN=\41mt\2C Stadt"), r"CN=Amt\, Stadt");
        for bad in ["CN", "CN=", "=x", r"CN=a\", r"CN=a\4", r"CN=a\zz", r"CN=\FF", "CN=#0403", "C N=x"] {
            assert!(canonical_subject(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_subject_written_with_hex_escapes_matches_its_certificate() {
        let ca = TestCa::new("Test Stadt CA");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "DE");
        params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
        params.distinguished_name.push(DnType::OrganizationalUnitName, "Ordnungsamt");
        params.distinguished_name.push(DnType::CommonName, "Prüfstelle Test");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2025, 1, 1);
        params.not_after = date_time_ymd(2027, 1, 1);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca.issuer).expect("cert");
        let written = r"CN=Pr\C3\BCfstelle Test,OU=Ordnungsamt,O=Stadt Musterstadt,C=DE";
        let verifier = verifier(&ca, &[], vec![by_subject("pruefstelle", written)]);
        let identity = verifier.verify(&[cert.der().to_vec()], now()).expect("maps");
        assert_eq!(identity.department, "pruefstelle");
        assert_eq!(presented_subject(&[cert.der().to_vec()]).as_deref(), Some(identity.subject.as_str()));
        // A binding that cannot be read stops start-up with its department named.
        let bad = CertificateVerifier::new(ca.pem().as_bytes(), &[], vec![by_subject("broken", r"CN=a\zz")]);
        assert!(matches!(bad, Err(CertError::Config(message)) if message.contains("broken")));
    }

    #[test]
    fn subject_reads_most_specific_first_as_rfc_4514() {
        let ca = TestCa::new("Test Stadt CA");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        // rcgen starts with a placeholder CN; start from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CountryName, "DE");
        params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
        params.distinguished_name.push(DnType::CommonName, "Kita-Amt");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = date_time_ymd(2025, 1, 1);
        params.not_after = date_time_ymd(2027, 1, 1);
        let key = KeyPair::generate().expect("key");
        let cert = params.signed_by(&key, &ca.issuer).expect("cert");
        // As written in the shipped departments.toml.
        let verifier = verifier(&ca, &[], vec![by_subject("kita_amt", "CN=Kita-Amt,O=Stadt Musterstadt,C=DE")]);
        let identity = verifier.verify(&[cert.der().to_vec()], now()).expect("maps");
        assert_eq!(identity.department, "kita_amt");
        assert_eq!(identity.subject, "CN=Kita-Amt,O=Stadt Musterstadt,C=DE");
        // The DER order written as a string is another subject.
        let reversed = verifier_for(&ca, "C=DE,O=Stadt Musterstadt,CN=Kita-Amt");
        assert_eq!(refusal(&reversed, &[cert.der().to_vec()], now()), "certificate_unknown_department");
    }

    fn verifier_for(ca: &TestCa, subject: &str) -> CertificateVerifier {
        verifier(ca, &[], vec![by_subject("kita_amt", subject)])
    }

    #[test]
    fn department_refuses_ambiguous_bindings() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 51));
        let verifier = verifier(
            &ca,
            &[],
            vec![
                by_subject("wohngeld", WOHNGELD_SUBJECT),
                DepartmentBinding { department: "kita".into(), subject: None, spki_sha256: vec![leaf.spki_sha256] },
            ],
        );
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_ambiguous_department");
    }

    #[test]
    fn department_accepts_chain_through_intermediate() {
        let root = TestCa::new("Test Stadt Root CA");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        // rcgen starts with a placeholder CN; start from an empty name.
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "Test Stadt Issuing CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2040, 1, 1);
        let key = KeyPair::generate().expect("key");
        let intermediate =
            TestCa { issuer: CertifiedIssuer::signed_by(params, key, &root.issuer).expect("intermediate") };
        let leaf = issue(&intermediate, LeafSpec::client("Wohngeldstelle", 52));
        let verifier = verifier(&root, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);

        let chain = vec![leaf.der.clone(), intermediate.issuer.der().to_vec()];
        assert_eq!(verifier.verify(&chain, now()).expect("accepted").department, "wohngeld");
        // Without the intermediate the chain does not reach the root.
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_unknown_ca");
        // An intermediate revoked by the root's CRL takes its leaves with it.
        let intermediate_serial = {
            let (_, parsed) = X509Certificate::from_der(intermediate.issuer.der()).expect("parse");
            parsed.raw_serial().to_vec()
        };
        let crl = CertificateRevocationListParams {
            this_update: date_time_ymd(2026, 1, 1),
            next_update: date_time_ymd(2027, 1, 1),
            crl_number: SerialNumber::from(2u64),
            issuing_distribution_point: None,
            revoked_certs: vec![RevokedCertParams {
                serial_number: SerialNumber::from_slice(&intermediate_serial),
                revocation_time: date_time_ymd(2026, 1, 1),
                reason_code: Some(RevocationReason::CaCompromise),
                invalidity_date: None,
            }],
            key_identifier_method: KeyIdMethod::Sha256,
        }
        .signed_by(&root.issuer)
        .expect("crl");
        let verifier = self::verifier(&root, &[crl.der().to_vec()], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &chain, now()), "certificate_revoked");
    }

    #[test]
    fn department_refuses_pin_mismatch() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 50));
        let verifier = verifier(
            &ca,
            &[],
            vec![DepartmentBinding {
                department: "wohngeld".into(),
                subject: Some(WOHNGELD_SUBJECT.into()),
                spki_sha256: vec![[9u8; 32]],
            }],
        );
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_pin_mismatch");
    }

    #[test]
    fn department_refuses_unknown_subject() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Kita-Gebuehrenstelle", 60));
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[leaf.der], now()), "certificate_unknown_department");
    }

    #[test]
    fn department_refuses_garbage_der_and_empty_chain() {
        let ca = TestCa::new("Test Stadt CA");
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        assert_eq!(refusal(&verifier, &[b"not a certificate".to_vec()], now()), "certificate_malformed");
        assert_eq!(refusal(&verifier, &[], now()), "certificate_malformed");

        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 70));
        let mut trailing = leaf.der.clone();
        trailing.push(0);
        assert_eq!(refusal(&verifier, &[trailing], now()), "certificate_malformed");
        let truncated = leaf.der[..leaf.der.len() / 2].to_vec();
        assert_eq!(refusal(&verifier, &[truncated], now()), "certificate_malformed");
    }

    #[test]
    fn department_forwarded_header_round_trip() {
        let ca = TestCa::new("Test Stadt CA");
        let leaf = issue(&ca, LeafSpec::client("Wohngeldstelle", 80));
        let verifier = verifier(&ca, &[], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);

        // nginx `$ssl_client_escaped_cert`: the PEM, URL-encoded.
        let header = utf8_percent_encode(&leaf.pem, NON_ALPHANUMERIC).to_string();
        assert!(!header.contains('\n'));
        let chain = chain_from_forwarded_header(&header).expect("decoded");
        assert_eq!(chain, vec![leaf.der.clone()]);
        assert_eq!(verifier.verify(&chain, now()).expect("accepted").department, "wohngeld");

        // A proxy that escapes only spaces and line breaks leaves base64's
        // '+' and '/' literal; '+' must stay '+', not become a space.
        let lightly_escaped = leaf.pem.replace(' ', "%20").replace('\n', "%0A");
        assert_eq!(chain_from_forwarded_header(&lightly_escaped).expect("decoded"), vec![leaf.der.clone()]);
        // Leaf followed by its issuer, as a proxy forwarding the whole chain would.
        let two = format!("{}{}", leaf.pem, ca.pem());
        let header = utf8_percent_encode(&two, NON_ALPHANUMERIC).to_string();
        assert_eq!(chain_from_forwarded_header(&header).expect("decoded").len(), 2);
    }

    #[test]
    fn department_forwarded_header_refuses_garbage() {
        for header in [
            "",
            "garbage",
            "%ZZ%00not-pem",
            "-----BEGIN%20CERTIFICATE-----%0A%21%21%21%0A-----END%20CERTIFICATE-----%0A",
            "-----BEGIN%20CERTIFICATE-----%0AAAAA",
            "-----BEGIN%20PRIVATE%20KEY-----%0AAAAA%0A-----END%20PRIVATE%20KEY-----%0A",
        ] {
            match chain_from_forwarded_header(header) {
                Ok(chain) => panic!("accepted {header:?} as {chain:?}"),
                Err(error) => assert_eq!(error.code(), "certificate_malformed", "{header:?}"),
            }
        }
        let too_long = "A".repeat(MAX_FORWARDED_HEADER_BYTES + 1);
        assert!(chain_from_forwarded_header(&too_long).is_err());
    }

    #[test]
    fn department_rustls_verifier_shares_ca_and_crls() {
        let ca = TestCa::new("Test Stadt CA");
        let unrelated = TestCa::new("Unrelated CA");
        let good = issue(&ca, LeafSpec::client("Wohngeldstelle", 90));
        let revoked = issue(&ca, LeafSpec::client("Wohngeldstelle", 91));
        let foreign = issue(&unrelated, LeafSpec::client("Wohngeldstelle", 92));
        let crl = ca.crl_revoking(&[91]);
        let verifier = verifier(&ca, &[crl.der().to_vec()], vec![by_subject("wohngeld", WOHNGELD_SUBJECT)]);
        let tls = verifier.rustls_client_verifier().expect("tls verifier");
        assert!(tls.client_auth_mandatory());

        let unix_now =
            UnixTime::since_unix_epoch(Duration::from_secs(u64::try_from(now().timestamp()).expect("positive")));
        let check = |der: &[u8]| tls.verify_client_cert(&CertificateDer::from(der), &[], unix_now);
        assert!(check(&good.der).is_ok());
        assert!(check(&revoked.der).is_err());
        assert!(check(&foreign.der).is_err());
    }

    #[test]
    fn department_config_errors() {
        let ca = TestCa::new("Test Stadt CA");
        let config = |ca_pem: &[u8], crls: &[Vec<u8>], bindings: Vec<DepartmentBinding>| match CertificateVerifier::new(
            ca_pem, crls, bindings,
        ) {
            Ok(_) => panic!("accepted bad configuration"),
            Err(error) => error.code(),
        };
        let good = || vec![by_subject("wohngeld", WOHNGELD_SUBJECT)];
        assert_eq!(config(b"", &[], good()), "certificate_config");
        assert_eq!(config(b"not pem", &[], good()), "certificate_config");
        assert_eq!(config(ca.pem().as_bytes(), &[b"garbage crl".to_vec()], good()), "certificate_config");
        let neither = DepartmentBinding { department: "x".into(), subject: None, spki_sha256: Vec::new() };
        assert_eq!(config(ca.pem().as_bytes(), &[], vec![neither]), "certificate_config");
        let twice = vec![by_subject("wohngeld", WOHNGELD_SUBJECT), by_subject("kita", WOHNGELD_SUBJECT)];
        assert_eq!(config(ca.pem().as_bytes(), &[], twice), "certificate_config");
    }
}
