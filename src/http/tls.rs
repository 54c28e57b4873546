//! tresor's own TLS listener: rustls (ring; TLS 1.2 and 1.3; ALPN h2 and
//! http/1.1) in front of the same router as the plain listener.
//!
//! Client certificates are requested but optional at the handshake, so
//! citizens' browsers can use the listener without one. A certificate that
//! is presented must chain to the `[departments]` CA bundle, be valid now,
//! carry clientAuth and not be revoked, or the handshake fails (rustls'
//! webpki verifier, built by `identity::department` from the same CA and
//! CRLs). The accept loop (`http::listener`, shared with the plain
//! listener) puts the presented chain into every request of the connection
//! (`listener::Served::certificates`); the `DepartmentCaller` extractor
//! re-verifies the chain and maps it to a department on every request, so
//! the API, not the handshake, decides who a department is.

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::TlsAcceptor;

use super::dept_auth::DepartmentAuth;
use crate::config::TlsConfig;
use crate::identity::department::CertError;

/// Why the TLS listener could not be set up (start-up error; names the key).
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("tls.{key}: cannot read {path}: {source}")]
    Read { key: &'static str, path: String, source: io::Error },
    #[error("tls.certificate_file: {0}")]
    Certificate(String),
    #[error("tls.private_key_file: {0}")]
    PrivateKey(String),
    #[error("tls: the certificate and private key do not fit together or are not usable: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("tls: client certificate verifier: {0}")]
    ClientVerifier(#[from] CertError),
}

/// Read `[tls]`'s files and build the acceptor. With `department_auth`,
/// client certificates are requested (optional) and verified against its CA
/// bundle and CRLs; without, none are requested.
pub fn acceptor(config: &TlsConfig, department_auth: Option<&DepartmentAuth>) -> Result<TlsAcceptor, TlsSetupError> {
    let chain_pem = read("certificate_file", &config.certificate_file)?;
    let key_pem = read("private_key_file", &config.private_key_file)?;
    let server_config = server_config(&chain_pem, &key_pem, department_auth)?;
    Ok(TlsAcceptor::from(Arc::new(server_config)))
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|source| TlsSetupError::Read { key, path: path.display().to_string(), source })
}

/// The rustls server configuration from PEM text (see [`acceptor`]).
pub fn server_config(
    chain_pem: &[u8],
    key_pem: &[u8],
    department_auth: Option<&DepartmentAuth>,
) -> Result<ServerConfig, TlsSetupError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| TlsSetupError::Certificate(format!("not a PEM certificate chain: {error}")))?;
    if chain.is_empty() {
        return Err(TlsSetupError::Certificate("holds no certificate".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|error| TlsSetupError::PrivateKey(format!("no usable PEM private key: {error}")))?;

    let client_verifier: Arc<dyn ClientCertVerifier> = match department_auth {
        Some(auth) => Arc::new(OptionalClientAuth(auth.verifier().rustls_client_verifier()?)),
        None => WebPkiClientVerifier::no_client_auth(),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// The department verifier (which demands a certificate) with client
/// authentication made optional: anonymous clients complete the handshake,
/// a presented certificate is still fully verified. Everything else is
/// delegated unchanged.
struct OptionalClientAuth(Arc<dyn ClientCertVerifier>);

impl fmt::Debug for OptionalClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OptionalClientAuth").field(&self.0).finish()
    }
}

impl ClientCertVerifier for OptionalClientAuth {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.0.requires_raw_public_keys()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderName;
    use chrono::Utc;

    use super::*;
    use crate::identity::dev_pki;
    use crate::policy::Departments;

    fn departments() -> Departments {
        Departments::from_toml(
            "[[department]]\nid = \"amt\"\nname = { de = \"Amt\", en = \"Office\" }\ncertificate_subject = \"CN=Amt,O=Stadt,C=DE\"\n",
            Path::new("departments.toml"),
        )
        .expect("departments")
    }

    #[test]
    fn client_certificates_are_requested_but_optional() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = dev_pki::generate(dir.path(), &departments(), &["localhost".to_owned()], Utc::now()).expect("pki");
        let ca = std::fs::read(&pki.department_ca_file).expect("ca");
        let auth = DepartmentAuth::new(&ca, &[], &departments(), Vec::new(), HeaderName::from_static("x-cert"))
            .expect("department auth");
        let inner = auth.verifier().rustls_client_verifier().expect("verifier");
        assert!(inner.client_auth_mandatory());
        let optional = OptionalClientAuth(inner);
        assert!(optional.offer_client_auth());
        assert!(!optional.client_auth_mandatory());
        assert_eq!(optional.root_hint_subjects().len(), 1, "the department CA is hinted to clients");

        let config = acceptor(&pki.tls_config("127.0.0.1:0".parse().expect("addr")), Some(&auth));
        assert!(config.is_ok());
    }

    #[test]
    fn setup_errors_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let pki = dev_pki::generate(dir.path(), &departments(), &["localhost".to_owned()], Utc::now()).expect("pki");
        let chain = std::fs::read(&pki.server_certificate_file).expect("chain");
        let key = std::fs::read(&pki.server_key_file).expect("key");
        let message = |result: Result<ServerConfig, TlsSetupError>| match result {
            Ok(_) => panic!("accepted a bad configuration"),
            Err(error) => error.to_string(),
        };
        assert!(message(server_config(b"", &key, None)).contains("tls.certificate_file"));
        assert!(message(server_config(&chain, b"garbage", None)).contains("tls.private_key_file"));
        // A key that is not the certificate's.
        let other = std::fs::read(&pki.departments[0].key_file).expect("other key");
        assert!(server_config(&chain, &other, None).is_err());

        let mut config = pki.tls_config("127.0.0.1:0".parse().expect("addr"));
        config.private_key_file = dir.path().join("missing.key");
        let error = acceptor(&config, None).map(|_| ()).expect_err("missing file").to_string();
        assert!(error.contains("tls.private_key_file") && error.contains("missing.key"), "{error}");
    }
}
