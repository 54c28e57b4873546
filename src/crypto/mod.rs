//! Cryptography for the vault: the key hierarchy (KEK -> per-citizen DEK ->
//! per-evidence field keys and per-file stream keys), the signing key and the
//! identifier pepper. See design.md, "Key hierarchy".
//!
//! Architecture Invariant: this module does no I/O, except
//! [`FileKeyProvider`] reading and writing its own sealed key files and
//! [`Pkcs11KeyProvider`] calling its token. Callers
//! pass randomness in (`&dyn SecureRandom`) so tests are deterministic where
//! they need to be.
//!
//! Architecture Invariant: every type holding secret bytes zeroizes them on
//! drop, has no `Serialize`, and either has no `Debug` or prints
//! `[redacted]`. Turning a secret into bytes is one named `pub(crate)` call
//! with a comment at its only use. Known limit: ring's expanded key schedules
//! (`LessSafeKey`, `hmac::Key`) are not zeroized on drop, ring offers no hook
//! for it; we never copy raw key bytes into them except through ring's own
//! HKDF or key constructors. The Ed25519 signing key lives in AWS-LC
//! (aws-lc-rs), whose `OPENSSL_free` clears every allocation it frees.
//!
//! Bulk AEAD (fields, file chunks) is ring's AES-256-GCM; the long-lived KEK
//! uses the `aes-gcm` crate with its round keys zeroized on drop; Ed25519
//! signatures are made by aws-lc-rs (twice ring's speed, same bytes) and
//! verified by ring.

pub mod jws;
mod keys;
mod pkcs11;
mod seal;
mod stream;

use std::path::PathBuf;

pub use keys::{FileKeyProvider, IdentifierPepper, KdfParams, KeyProvider, Passphrase, SigningKey, verify_signature};
pub use pkcs11::{
    DEFAULT_SESSIONS, KEK_LABEL_PREFIX, PEPPER_LABEL, Pin, Pkcs11KeyProvider, SIGNING_LABEL, SigningKeySource,
    TokenSettings,
};
pub use seal::{DataKey, DraftKey, FieldContext, FieldKey, FileKey, KEY_FORMAT_VERSION, TAG_LEN};
pub use stream::{CHUNK_SIZE, FileOpener, FileSealer, SEALED_CHUNK_SIZE, chunk_count};

/// Result type of this module.
pub type Result<T, E = CryptoError> = std::result::Result<T, E>;

/// Everything that can go wrong in the crypto layer. Messages never contain
/// key material, plaintext or passphrases.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// Authentication failure of any kind: wrong key, wrong context (AAD),
    /// tampered or truncated ciphertext. Deliberately carries no detail.
    #[error("decryption failed: ciphertext, key or context does not match")]
    Open,
    /// The random number generator failed; nothing was sealed.
    #[error("the random number generator failed")]
    Random,
    /// A key file is missing, unreadable or malformed.
    #[error("key file {}: {problem}", path.display())]
    KeyFile { path: PathBuf, problem: String },
    /// The KEK file did not open with the given passphrase.
    #[error("the passphrase does not open the key files")]
    WrongPassphrase,
    /// `keys init` found an existing key file and refuses to overwrite it.
    #[error("key file {} already exists; refusing to overwrite keys", .0.display())]
    AlreadyInitialised(PathBuf),
    /// A wrapped DEK names a KEK version this provider does not hold.
    #[error("no key-encryption key with version {0}")]
    UnknownKekVersion(u32),
    /// The PKCS#11 token cannot be used as configured (module, token, key
    /// objects): start-up and `keys init` stop with this message.
    #[error("PKCS#11: {0}")]
    Token(String),
    /// The token refused the PIN (`[keys] pin_env`).
    #[error("PKCS#11: the token {0:?} refused the PIN")]
    WrongPin(String),
    /// The token did not answer while serving (removed, failed, logged
    /// out). Nothing was done; the same call may work in a moment. HTTP
    /// answers 503 `keys_unavailable`.
    #[error("the key token is unavailable: {0}")]
    TokenUnavailable(String),
    /// Misuse of the file stream API, e.g. a chunk after the last one.
    #[error("file stream misuse: {0}")]
    StreamState(&'static str),
}

/// Unambiguous encoding of a sequence of byte strings for associated data
/// and MAC inputs: each part is preceded by its length as a 64-bit
/// big-endian integer, so no two different sequences encode the same bytes.
pub(crate) fn length_prefixed(parts: &[&[u8]]) -> Vec<u8> {
    let total: usize = parts.iter().map(|part| 8 + part.len()).sum();
    let mut encoded = Vec::with_capacity(total);
    for part in parts {
        encoded.extend_from_slice(&(part.len() as u64).to_be_bytes());
        encoded.extend_from_slice(part);
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixing_separates_parts() {
        assert_ne!(length_prefixed(&[b"ab", b"c"]), length_prefixed(&[b"a", b"bc"]));
        assert_ne!(length_prefixed(&[b"", b"x"]), length_prefixed(&[b"x", b""]));
        assert_eq!(length_prefixed(&[b"ab"]), [0, 0, 0, 0, 0, 0, 0, 2, b'a', b'b']);
    }

    #[test]
    fn open_error_message_is_generic() {
        assert_eq!(CryptoError::Open.to_string(), "decryption failed: ciphertext, key or context does not match");
    }
}
