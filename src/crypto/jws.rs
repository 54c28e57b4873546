//! Release receipts: JSON Web Signatures (RFC 7515) with EdDSA (RFC 8037)
//! over the exact response body, in the detached compact form (RFC 7515
//! appendix F: `header..signature`, the payload travels as the body), and the
//! public key as a JWK set (`kid` = RFC 7638 thumbprint). No I/O.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest::{SHA256, digest};
use serde::Serialize;

use super::keys::{SigningKey, verify_signature};

/// `typ` of a receipt's protected header.
pub const RECEIPT_TYPE: &str = "tresor-release-receipt+jws";

/// A public Ed25519 key as a JWK (RFC 8037).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub x: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub key_use: &'static str,
    pub alg: &'static str,
}

impl Jwk {
    pub fn ed25519(public_key: &[u8; 32]) -> Self {
        let x = URL_SAFE_NO_PAD.encode(public_key);
        Jwk { kty: "OKP", crv: "Ed25519", kid: thumbprint(&x), x, key_use: "sig", alg: "EdDSA" }
    }
}

/// RFC 7638 thumbprint of an OKP key: SHA-256 over the required members in
/// lexicographic order, without whitespace, base64url.
fn thumbprint(x: &str) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(digest(&SHA256, canonical.as_bytes()))
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    typ: &'static str,
}

/// Sign `payload` and return the detached compact JWS `header..signature`.
/// Fails only when the key is in a token that cannot be reached.
pub fn sign_detached(key: &SigningKey, payload: &[u8]) -> super::Result<String> {
    let jwk = Jwk::ed25519(&key.public_key());
    let header = Header { alg: "EdDSA", kid: &jwk.kid, typ: RECEIPT_TYPE };
    // A struct of strings always serialises.
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    let signature = URL_SAFE_NO_PAD.encode(key.sign(signing_input.as_bytes())?);
    Ok(format!("{header}..{signature}"))
}

/// Check a detached compact JWS over `payload` with an Ed25519 public key:
/// the header must say EdDSA. For tests and for tools; departments use any
/// JOSE library.
pub fn verify_detached(public_key: &[u8; 32], jws: &str, payload: &[u8]) -> bool {
    let mut parts = jws.split('.');
    let (Some(header), Some(""), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(header_json) = URL_SAFE_NO_PAD.decode(header) else { return false };
    let Ok(header_value) = serde_json::from_slice::<serde_json::Value>(&header_json) else { return false };
    if header_value.get("alg").and_then(|alg| alg.as_str()) != Some("EdDSA") {
        return false;
    }
    let Ok(signature) = URL_SAFE_NO_PAD.decode(signature) else { return false };
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(payload));
    verify_signature(public_key, signing_input.as_bytes(), &signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8037 appendix A.1 (public key) and A.3 (thumbprint).
    #[test]
    fn thumbprint_matches_rfc_8037() {
        let x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        assert_eq!(thumbprint(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    /// RFC 8037 appendix A.4: the signature over "Example of Ed25519 signing"
    /// with the A.1 key; the same key reproduces it (Ed25519 is deterministic).
    #[test]
    fn signature_matches_rfc_8037_a4() {
        let seed = URL_SAFE_NO_PAD.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A").expect("seed");
        let key = SigningKey::from_seed_for_tests(seed.as_slice().try_into().expect("32 bytes"));
        let header = "eyJhbGciOiJFZERTQSJ9";
        let payload = "RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        let signature = URL_SAFE_NO_PAD.encode(key.sign(format!("{header}.{payload}").as_bytes()).expect("sign"));
        assert_eq!(signature, "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
        // And the detached verifier accepts exactly that.
        let jws = format!("{header}..{signature}");
        assert!(verify_detached(&key.public_key(), &jws, b"Example of Ed25519 signing"));
        assert!(!verify_detached(&key.public_key(), &jws, b"Example of Ed25519 signinG"));
    }

    #[test]
    fn detached_receipt_round_trips_and_rejects_changes() {
        let key = SigningKey::from_seed_for_tests(&[7u8; 32]);
        let body = br#"{"grant_id":"abc","evidence":[]}"#;
        let jws = sign_detached(&key, body).expect("sign");
        assert!(jws.contains(".."), "detached form: {jws}");
        assert!(verify_detached(&key.public_key(), &jws, body));
        assert!(!verify_detached(&key.public_key(), &jws, br#"{"grant_id":"abd","evidence":[]}"#));
        let other = SigningKey::from_seed_for_tests(&[8u8; 32]);
        assert!(!verify_detached(&other.public_key(), &jws, body));
        // alg none or a changed header is refused.
        let (_, signature) = jws.split_once("..").expect("detached");
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
        assert!(!verify_detached(&key.public_key(), &format!("{none}..{signature}"), body));
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jws.split('.').next().expect("header")).expect("b64"))
                .expect("json");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], Jwk::ed25519(&key.public_key()).kid);
    }
}
