//! Department authentication at the HTTP edge: the `DepartmentCaller`
//! extractor takes the client certificate chain either from tresor's own TLS
//! listener (`listener::Served::certificates`, set per connection)
//! or, only when the TCP peer is an allow-listed reverse proxy, from the
//! configured forwarded-certificate header; then `identity::department`
//! verifies it and maps it to a department.
//!
//! Architecture invariant: a forwarded certificate header from any other
//! address is refused, never believed; a chain from the TLS handshake wins
//! over any header.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use chrono::{DateTime, Utc};
use ipnet::IpNet;

use super::AppState;
use super::error::{ApiError, ErrorCode};
use crate::config::{DepartmentAuthConfig, parse_ip_net};
use crate::identity::department::{
    CertError, CertificateVerifier, DepartmentBinding, DepartmentIdentity, chain_from_forwarded_header,
    presented_subject,
};
use crate::policy::Departments;

/// The client certificate chain (leaf first, DER) of a TLS connection that
/// presented one; the TLS listener inserts it into every request of that
/// connection.
#[derive(Debug, Clone)]
pub struct TlsPeerCertificates(pub Arc<Vec<Vec<u8>>>);

/// Why department authentication could not be set up (start-up error).
#[derive(Debug, thiserror::Error)]
pub enum DepartmentAuthError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("department certificates: {0}")]
    Certificate(#[from] CertError),
    #[error("departments.trusted_proxies: `{0}` is not an IP address or CIDR range")]
    Proxy(String),
    #[error("departments.certificate_header: `{0}` is not a valid header name")]
    Header(String),
}

/// A verified chain is trusted again without re-verification for this long
/// (and never past its certificate's notAfter).
const VERIFIED_CACHE_SECONDS: i64 = 60;
/// At most this many verified chains are remembered; beyond, the cache starts over.
const VERIFIED_CACHE_ENTRIES: usize = 1024;

/// A chain's identity and when it was verified.
type Verified = (DepartmentIdentity, DateTime<Utc>);

/// Verifier plus the trusted-proxy rule; built once at start.
#[derive(Debug)]
pub struct DepartmentAuth {
    verifier: CertificateVerifier,
    trusted_proxies: Vec<IpNet>,
    header: HeaderName,
    /// SHA-256 of a chain -> (identity, when it was verified). Saves the
    /// chain verification on every request of a keep-alive department client.
    verified: Mutex<HashMap<[u8; 32], Verified>>,
}

impl DepartmentAuth {
    /// From the `[departments]` configuration and the department policy
    /// (subjects and SPKI pins).
    pub fn from_config(config: &DepartmentAuthConfig, departments: &Departments) -> Result<Self, DepartmentAuthError> {
        let ca_pem = read(&config.ca_file)?;
        let crls = config.crl_files.iter().map(|path| read(path)).collect::<Result<Vec<_>, _>>()?;
        let trusted_proxies = config
            .trusted_proxies
            .iter()
            .map(|proxy| parse_ip_net(proxy).ok_or_else(|| DepartmentAuthError::Proxy(proxy.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let header = HeaderName::from_bytes(config.certificate_header.as_bytes())
            .map_err(|_| DepartmentAuthError::Header(config.certificate_header.clone()))?;
        Self::new(&ca_pem, &crls, departments, trusted_proxies, header)
    }

    pub fn new(
        ca_pem: &[u8],
        crls: &[Vec<u8>],
        departments: &Departments,
        trusted_proxies: Vec<IpNet>,
        header: HeaderName,
    ) -> Result<Self, DepartmentAuthError> {
        let bindings = departments
            .iter()
            .map(|department| DepartmentBinding {
                department: department.id.clone(),
                subject: department.certificate_subject.clone(),
                spki_sha256: department.spki_sha256.clone(),
            })
            .collect();
        let verifier = CertificateVerifier::new(ca_pem, crls, bindings)?;
        Ok(Self { verifier, trusted_proxies, header, verified: Mutex::new(HashMap::new()) })
    }

    /// The verifier (the TLS listener builds its rustls client verifier from it).
    pub fn verifier(&self) -> &CertificateVerifier {
        &self.verifier
    }

    fn is_trusted_proxy(&self, peer: Option<SocketAddr>) -> bool {
        peer.is_some_and(|peer| {
            let ip = peer.ip().to_canonical();
            self.trusted_proxies.iter().any(|net| net.contains(&ip))
        })
    }

    /// Who is calling: the TLS chain if the connection presented one, else
    /// the forwarded header if (and only if) the peer is a trusted proxy.
    /// Returns the department and the chain's SHA-256 (the key its rate
    /// limits count under).
    pub fn authenticate(
        &self,
        tls_chain: Option<&[Vec<u8>]>,
        peer: Option<SocketAddr>,
        headers: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<(DepartmentIdentity, [u8; 32]), ApiError> {
        let forwarded = headers.get(&self.header);
        let chain = match (tls_chain, forwarded) {
            (Some(chain), _) => chain.to_vec(),
            (None, Some(value)) => {
                if !self.is_trusted_proxy(peer) {
                    tracing::warn!(?peer, "forwarded client certificate from an address that is not a trusted proxy");
                    return Err(ErrorCode::UntrustedProxy.into());
                }
                let value = value.to_str().map_err(|_| cert_error(&CertError::Malformed("header".into())))?;
                chain_from_forwarded_header(value).map_err(|error| cert_error(&error))?
            }
            (None, None) => return Err(certificate_required()),
        };
        let key = chain_digest(&chain);
        self.verify_cached(&chain, key, now).map(|identity| (identity, key))
    }

    /// `CertificateVerifier::verify`, remembering successes for a short time
    /// under `key` (the chain's digest).
    fn verify_cached(
        &self,
        chain: &[Vec<u8>],
        key: [u8; 32],
        now: DateTime<Utc>,
    ) -> Result<DepartmentIdentity, ApiError> {
        {
            let verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some((identity, at)) = verified.get(&key)
                && *at <= now
                && now < *at + chrono::Duration::seconds(VERIFIED_CACHE_SECONDS)
                && now < identity.not_after
            {
                return Ok(identity.clone());
            }
        }
        let identity = self.verifier.verify(chain, now).map_err(|error| {
            log_refusal(&error, chain);
            cert_error(&error)
        })?;
        let mut verified = self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if verified.len() >= VERIFIED_CACHE_ENTRIES {
            verified.clear();
        }
        verified.insert(key, (identity.clone(), now));
        Ok(identity)
    }
}

/// SHA-256 over the chain, each certificate length-prefixed.
fn chain_digest(chain: &[Vec<u8>]) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for certificate in chain {
        context.update(&(certificate.len() as u64).to_be_bytes());
        context.update(certificate);
    }
    let mut digest = [0u8; 32];
    digest.copy_from_slice(context.finish().as_ref());
    digest
}

fn read(path: &Path) -> Result<Vec<u8>, DepartmentAuthError> {
    std::fs::read(path).map_err(|source| DepartmentAuthError::Read { path: path.display().to_string(), source })
}

fn certificate_required() -> ApiError {
    ErrorCode::CertificateRequired.into()
}

/// The log line of a refused certificate: the code, the reason and the
/// subject it presented (as `subject_to_string` writes it, so an operator
/// can compare it with the binding in `departments.toml`).
fn log_refusal(error: &CertError, chain: &[Vec<u8>]) {
    let subject = presented_subject(chain);
    tracing::info!(
        code = error.code(),
        %error,
        subject = subject.as_deref().unwrap_or("(unreadable)"),
        "department certificate refused"
    );
}

/// A refused certificate: 401 with the stable code, a plain message.
fn cert_error(error: &CertError) -> ApiError {
    ErrorCode::from(error).into()
}

/// The authenticated department of a request.
#[derive(Debug, Clone)]
pub struct DepartmentCaller(pub DepartmentIdentity);

impl DepartmentCaller {
    pub fn department(&self) -> &str {
        &self.0.department
    }
}

impl FromRequestParts<AppState> for DepartmentCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(auth) = state.department_auth.as_deref() else {
            state.metrics.certificate_refused(ErrorCode::CertificateRequired.as_str());
            return Err(certificate_required());
        };
        let tls = parts
            .extensions
            .get::<super::listener::Served>()
            .and_then(|served| served.certificates.as_ref())
            .map(|certs| certs.0.as_slice());
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let now = state.vault.clock().now();
        let (identity, certificate) = auth.authenticate(tls, peer, &parts.headers, now).inspect_err(|refusal| {
            state.metrics.certificate_refused(refusal.code.as_str());
        })?;
        // Per certificate: its call rate, and its refusal budget (counted by
        // `http::edge` once the handler has answered).
        state.rate_limits.department_call(&certificate)?;
        if let Some(slot) = parts.extensions.get::<super::rate_limit::CallerSlot>() {
            slot.set(certificate);
        }
        Ok(DepartmentCaller(identity))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

    use super::*;

    /// Log output, captured.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    fn logged(error: &CertError, chain: &[Vec<u8>]) -> String {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt().with_writer(captured.clone()).with_ansi(false).finish();
        tracing::subscriber::with_default(subscriber, || log_refusal(error, chain));
        String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8")
    }

    #[test]
    fn a_refused_certificate_is_logged_with_the_subject_it_presented() {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::OrganizationName, "Stadt Musterstadt");
        params.distinguished_name.push(DnType::CommonName, "Prüfstelle Test");
        let cert = params.self_signed(&KeyPair::generate().expect("key")).expect("certificate");
        let line = logged(&CertError::UnknownDepartment, &[cert.der().to_vec()]);
        assert!(line.contains("department certificate refused"), "{line}");
        assert!(line.contains("certificate_unknown_department"), "{line}");
        assert!(line.contains("CN=Prüfstelle Test,O=Stadt Musterstadt"), "{line}");
        let line = logged(&CertError::Malformed("certificate: bad".into()), &[b"not a certificate".to_vec()]);
        assert!(line.contains("subject=\"(unreadable)\"") || line.contains("subject=(unreadable)"), "{line}");
    }
}
