//! Long-lived keys: the key-encryption keys (KEKs) that wrap citizens' DEKs,
//! the Ed25519 signing key and the identifier pepper, behind the
//! [`KeyProvider`] seam. [`FileKeyProvider`] keeps them in passphrase-sealed
//! files; this is the only place in `crypto` that does I/O.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use argon2::{Algorithm, Argon2, Version};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{ED25519, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::seal::DataKey;
use super::{CryptoError, Result, length_prefixed};
use crate::ids::CitizenId;

/// Passphrase that seals the key files. Zeroized on drop; `Debug` prints
/// `[redacted]`.
#[derive(zeroize::ZeroizeOnDrop)]
pub struct Passphrase(Zeroizing<String>);

impl Passphrase {
    pub fn new(passphrase: String) -> Self {
        Self(Zeroizing::new(passphrase))
    }

    /// A second zeroizing copy (the provider keeps one to open KEK versions
    /// added while it serves).
    fn duplicate(&self) -> Self {
        Self(Zeroizing::new(self.0.as_str().to_owned()))
    }

    /// The passphrase bytes; only the Argon2id key derivation reads them.
    fn expose_secret_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

/// Argon2id cost parameters for sealing key files. They are stored in each
/// key file, so [`FileKeyProvider::open`] reads them from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for KdfParams {
    /// m = 64 MiB, t = 3, p = 1.
    fn default() -> Self {
        Self { memory_kib: 64 * 1024, iterations: 3, parallelism: 1 }
    }
}

impl KdfParams {
    /// m = 8 MiB, t = 1, p = 1: cheap enough for tests, still within bounds.
    pub fn fast_for_tests() -> Self {
        Self { memory_kib: 8 * 1024, iterations: 1, parallelism: 1 }
    }

    /// Bounds that keep a weakened or hostile key file from either making the
    /// passphrase cheap to guess or exhausting memory on open.
    fn check(&self) -> std::result::Result<(), String> {
        let memory_ok = (8 * 1024..=4 * 1024 * 1024).contains(&self.memory_kib);
        let iterations_ok = (1..=100).contains(&self.iterations);
        let parallelism_ok = (1..=64).contains(&self.parallelism);
        if memory_ok && iterations_ok && parallelism_ok {
            Ok(())
        } else {
            Err(format!(
                "Argon2id parameters out of range (memory 8 MiB..4 GiB, iterations 1..100, parallelism 1..64): {self:?}"
            ))
        }
    }
}

/// Where the vault's long-lived keys live: files sealed by a passphrase, or
/// (later) an HSM. Send + Sync so one provider serves all requests.
pub trait KeyProvider: Send + Sync {
    /// Version of the KEK that [`KeyProvider::wrap_dek`] uses; store it next
    /// to every wrapped DEK.
    fn current_kek_version(&self) -> u32;
    /// Wrap a citizen's DEK with the current KEK: the KEK version used (store
    /// it beside the wrapping) and the wrapping. AAD binds citizen id + KEK
    /// version. One call, so a KEK picked up meanwhile cannot split the two.
    fn wrap_dek(&self, citizen: &CitizenId, dek: &DataKey) -> Result<(u32, Vec<u8>)>;
    /// Unwrap a DEK wrapped for `citizen` under KEK `kek_version`.
    fn unwrap_dek(&self, citizen: &CitizenId, kek_version: u32, wrapped: &[u8]) -> Result<DataKey>;
    /// Wrap the random key of a form draft (what a citizen typed, kept
    /// sealed for a short while after their session ended) with the current
    /// KEK. AAD binds the draft's lookup hash + KEK version, and a label of
    /// its own, so neither a DEK nor another draft's key opens in its place.
    fn wrap_draft_key(&self, draft: &[u8], key: &DataKey) -> Result<(u32, Vec<u8>)>;
    /// Unwrap a draft key wrapped for `draft` under KEK `kek_version`.
    fn unwrap_draft_key(&self, draft: &[u8], kek_version: u32, wrapped: &[u8]) -> Result<DataKey>;
    fn signing_key(&self) -> &SigningKey;
    fn pepper(&self) -> &IdentifierPepper;
    /// Pick up KEK versions added since the keys were opened (`tresor keys
    /// rotate-kek` adds one while the vault serves) and make the newest the
    /// current one. True when one was added. The vault calls this before it
    /// wraps a new key and when it meets an unknown KEK version.
    fn refresh(&self) -> Result<bool> {
        Ok(false)
    }
}

/// Ed25519 key that signs audit checkpoints and release receipts: either
/// held in this process (key files, dev mode, witnesses) or a private key
/// inside a PKCS#11 token that never leaves it. Both sign the same bytes the
/// same way (Ed25519 is deterministic); verification is one path for both,
/// [`verify_signature`] with the public key. `Debug` prints `[redacted]`.
///
/// In memory it signs with aws-lc-rs, not ring: one signature per release
/// makes this the hottest piece of the release path, and AWS-LC's
/// base-point multiplication is about twice as fast. The signatures are
/// byte-for-byte those ring makes (unit test below); verification stays ring.
pub struct SigningKey(SigningKeyHolder);

enum SigningKeyHolder {
    Memory(Ed25519KeyPair),
    Token(super::pkcs11::TokenSigningKey),
}

impl SigningKey {
    /// The Ed25519 signature of `msg`. A token key fails with
    /// [`CryptoError::TokenUnavailable`] while the token cannot be reached;
    /// a key in memory never fails.
    pub fn sign(&self, msg: &[u8]) -> Result<[u8; 64]> {
        match &self.0 {
            SigningKeyHolder::Memory(key_pair) => {
                let mut signature = [0u8; 64];
                signature.copy_from_slice(key_pair.sign(msg).as_ref());
                Ok(signature)
            }
            SigningKeyHolder::Token(key) => key.sign(msg),
        }
    }

    pub fn public_key(&self) -> [u8; 32] {
        match &self.0 {
            SigningKeyHolder::Memory(key_pair) => {
                let mut public_key = [0u8; 32];
                public_key.copy_from_slice(key_pair.public_key().as_ref());
                public_key
            }
            SigningKeyHolder::Token(key) => key.public_key(),
        }
    }

    #[cfg(test)]
    pub(crate) fn from_seed_for_tests(seed: &[u8; 32]) -> Self {
        match Self::from_seed(seed) {
            Ok(key) => key,
            Err(_) => unreachable!("every 32-byte seed is valid"),
        }
    }

    pub fn from_seed(seed: &[u8; 32]) -> Result<Self> {
        // Every 32-byte string is a valid Ed25519 seed; "unchecked" only
        // refers to not comparing against a stored public key.
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|key_pair| Self(SigningKeyHolder::Memory(key_pair)))
            .map_err(|_| CryptoError::Random)
    }

    pub(crate) fn in_token(key: super::pkcs11::TokenSigningKey) -> Self {
        Self(SigningKeyHolder::Token(key))
    }

    /// Whether the private key is inside a token (for start-up messages).
    pub fn is_in_token(&self) -> bool {
        matches!(self.0, SigningKeyHolder::Token(_))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

/// Verify an Ed25519 signature made by [`SigningKey::sign`].
pub fn verify_signature(public_key: &[u8; 32], message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key).verify(message, signature).is_ok()
}

/// HMAC-SHA256 key for identifiers: in this process (key files, dev mode)
/// or a non-extractable secret key inside a PKCS#11 token, which computes
/// the MAC. One message format for both. `Debug` prints `[redacted]`.
pub struct IdentifierPepper(PepperHolder);

enum PepperHolder {
    Memory(hmac::Key),
    Token(super::pkcs11::TokenPepper),
}

const PAIRWISE_LABEL: &[u8] = b"pairwise";

impl IdentifierPepper {
    /// HMAC(pepper, len-prefixed issuer || sub) — the only form in which an
    /// eID subject is stored. The message starts with a 64-bit length, so it
    /// can never equal a pairwise-pseudonym message (that would need an
    /// issuer of about 8 EB, the value of the bytes "pairwise").
    pub fn subject_hash(&self, issuer: &str, subject: &str) -> Result<[u8; 32]> {
        self.mac(&subject_message(issuer, subject))
    }

    /// Constant-time check of a stored subject hash.
    pub fn subject_hash_matches(&self, issuer: &str, subject: &str, expected: &[u8]) -> Result<bool> {
        let actual = self.subject_hash(issuer, subject)?;
        Ok(bool::from(subtle::ConstantTimeEq::ct_eq(&actual[..], expected)))
    }

    /// Pairwise department pseudonym = hex(HMAC(pepper, "pairwise" || citizen
    /// id || department id)). Citizen ids have a fixed length of 32, so the
    /// concatenation is unambiguous.
    pub fn pairwise_pseudonym(&self, citizen: &CitizenId, department: &str) -> Result<String> {
        let mut message = Vec::with_capacity(PAIRWISE_LABEL.len() + 32 + department.len());
        message.extend_from_slice(PAIRWISE_LABEL);
        message.extend_from_slice(citizen.as_str().as_bytes());
        message.extend_from_slice(department.as_bytes());
        Ok(hex::encode(self.mac(&message)?))
    }

    fn mac(&self, message: &[u8]) -> Result<[u8; 32]> {
        match &self.0 {
            PepperHolder::Memory(key) => {
                let mut mac = [0u8; 32];
                mac.copy_from_slice(hmac::sign(key, message).as_ref());
                Ok(mac)
            }
            PepperHolder::Token(key) => key.mac(message),
        }
    }

    fn from_secret(bytes: &[u8; 32]) -> Self {
        Self(PepperHolder::Memory(hmac::Key::new(hmac::HMAC_SHA256, bytes)))
    }

    pub(crate) fn in_token(key: super::pkcs11::TokenPepper) -> Self {
        Self(PepperHolder::Token(key))
    }
}

fn subject_message(issuer: &str, subject: &str) -> Vec<u8> {
    length_prefixed(&[issuer.as_bytes(), subject.as_bytes()])
}

impl fmt::Debug for IdentifierPepper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentifierPepper([redacted])")
    }
}

const KEY_LEN: usize = 32;
const GCM_NONCE_LEN: usize = 12;
const GCM_TAG_LEN: usize = 16;
const WRAPPED_DEK_LEN: usize = GCM_NONCE_LEN + KEY_LEN + GCM_TAG_LEN;
const DEK_WRAP_LABEL: &[u8] = b"tresor/v1/dek-wrap";
const DRAFT_KEY_WRAP_LABEL: &[u8] = b"tresor/v1/draft-key-wrap";

const KEY_FILE_FORMAT: u32 = 1;
const KEY_FILE_SALT_LEN: usize = 16;
const KEY_FILE_MAX_BYTES: u64 = 64 * 1024;
const KEK_FILE_PREFIX: &str = "kek-v";
const SEALED_SUFFIX: &str = ".sealed";
const SIGNING_KEY_FILE: &str = "signing-key.sealed";
const PUBLIC_KEY_FILE: &str = "signing-key.pub";
const PEPPER_FILE: &str = "pepper.sealed";
const SIGNING_KEY_PURPOSE: &str = "tresor/v1/keyfile/signing-key";
const PEPPER_PURPOSE: &str = "tresor/v1/keyfile/pepper";

fn kek_file_name(version: u32) -> String {
    format!("{KEK_FILE_PREFIX}{version}{SEALED_SUFFIX}")
}

fn kek_purpose(version: u32) -> String {
    format!("tresor/v1/keyfile/kek-v{version}")
}

/// Keys held in memory after opening the passphrase-sealed files in a
/// directory (`keys init` writes them). KEKs are `aes-gcm` ciphers whose
/// round keys are zeroized on drop. `Debug` shows only KEK versions.
pub struct FileKeyProvider {
    keks: RwLock<Keks>,
    signing_key: SigningKey,
    pepper: IdentifierPepper,
    /// Nonces for DEK wrapping; the trait has no RNG parameter.
    nonce_rng: SystemRandom,
    /// The key directory and the passphrase that opened it, to open KEK
    /// versions added while the vault serves; None for ephemeral keys.
    source: Option<(PathBuf, Passphrase)>,
    /// One refresh at a time: opening a key file costs an Argon2id run.
    refreshing: Mutex<()>,
}

/// The KEKs opened, by version, and the version that wraps new keys.
struct Keks {
    ciphers: BTreeMap<u32, Arc<Aes256Gcm>>,
    current: u32,
}

/// Where retired KEK files go (inside the key directory): no DEK uses them,
/// the vault no longer opens them, `keys rotate-kek` still reads them to
/// re-wrap a straggler, and a backup older than the rotation needs them.
pub const RETIRED_DIR: &str = "retired";

impl FileKeyProvider {
    /// `tresor keys init`: generate KEK v1 (random 256 bit), Ed25519 signing
    /// key, identifier pepper (256 bit); write each into `dir` sealed with
    /// AES-256-GCM under a key derived by Argon2id from the passphrase
    /// (random salt per file). Refuses if any key file exists. Creates `dir`
    /// if missing; on unix files get mode 0600 (the directory 0700 when created).
    pub fn init(dir: &Path, passphrase: &Passphrase, params: KdfParams, rng: &dyn SecureRandom) -> Result<()> {
        params.check().map_err(|problem| key_file_error(dir, problem))?;
        let planned = [kek_file_name(1), SIGNING_KEY_FILE.into(), PUBLIC_KEY_FILE.into(), PEPPER_FILE.into()];
        for name in &planned {
            let path = dir.join(name);
            if fs::symlink_metadata(&path).is_ok() {
                return Err(CryptoError::AlreadyInitialised(path));
            }
        }
        if dir.exists()
            && let Some(&version) = list_kek_versions(dir)?.first()
        {
            return Err(CryptoError::AlreadyInitialised(dir.join(kek_file_name(version))));
        }
        create_key_dir(dir)?;

        let kek = random_secret(rng)?;
        let seed = random_secret(rng)?;
        let pepper = random_secret(rng)?;
        let public_key = SigningKey::from_seed(&seed)?.public_key();

        let sealer = KeyFileSealer { passphrase, params, rng };
        sealer.write(&dir.join(kek_file_name(1)), &kek_purpose(1), &kek[..])?;
        sealer.write(&dir.join(SIGNING_KEY_FILE), SIGNING_KEY_PURPOSE, &seed[..])?;
        sealer.write(&dir.join(PEPPER_FILE), PEPPER_PURPOSE, &pepper[..])?;
        let public_text = format!("{}\n", BASE64.encode(public_key));
        write_new_file(&dir.join(PUBLIC_KEY_FILE), public_text.as_bytes())?;
        sync_dir(dir);
        Ok(())
    }

    /// Open all key files (every `kek-v*.sealed`; current = highest version).
    /// A passphrase that does not open the first KEK file is
    /// [`CryptoError::WrongPassphrase`]; a file that fails to authenticate
    /// after that is [`CryptoError::KeyFile`] (damaged or foreign).
    pub fn open(dir: &Path, passphrase: &Passphrase) -> Result<Self> {
        Self::open_from(dir, passphrase, false)
    }

    /// [`FileKeyProvider::open`], and also the retired KEKs in
    /// `dir/retired` (for `keys rotate-kek`, which re-wraps what they wrap).
    pub fn open_with_retired(dir: &Path, passphrase: &Passphrase) -> Result<Self> {
        Self::open_from(dir, passphrase, true)
    }

    fn open_from(dir: &Path, passphrase: &Passphrase, with_retired: bool) -> Result<Self> {
        let versions = list_kek_versions(dir)?;
        let Some(&current_kek_version) = versions.last() else {
            return Err(key_file_error(
                &dir.join(kek_file_name(1)),
                "missing: no kek-v*.sealed file in the key directory".into(),
            ));
        };
        let mut opener = KeyFileOpener { passphrase, passphrase_confirmed: false };
        let mut keks = BTreeMap::new();
        // Highest version first: it is the one in daily use.
        for &version in versions.iter().rev() {
            let kek = opener.open(&dir.join(kek_file_name(version)), &kek_purpose(version))?;
            keks.insert(version, Arc::new(kek_cipher(&kek)));
        }
        let retired = dir.join(RETIRED_DIR);
        if with_retired && retired.is_dir() {
            for version in list_kek_versions(&retired)? {
                if version < current_kek_version && !keks.contains_key(&version) {
                    let kek = opener.open(&retired.join(kek_file_name(version)), &kek_purpose(version))?;
                    keks.insert(version, Arc::new(kek_cipher(&kek)));
                }
            }
        }
        let seed = opener.open(&dir.join(SIGNING_KEY_FILE), SIGNING_KEY_PURPOSE)?;
        let signing_key = SigningKey::from_seed(&seed)?;
        check_public_key_file(&dir.join(PUBLIC_KEY_FILE), &signing_key)?;
        let pepper = opener.open(&dir.join(PEPPER_FILE), PEPPER_PURPOSE)?;
        Ok(Self {
            keks: RwLock::new(Keks { ciphers: keks, current: current_kek_version }),
            signing_key,
            pepper: IdentifierPepper::from_secret(&pepper),
            nonce_rng: SystemRandom::new(),
            source: Some((dir.to_path_buf(), passphrase.duplicate())),
            refreshing: Mutex::new(()),
        })
    }

    /// Throwaway in-memory keys for `--dev` and tests.
    pub fn ephemeral(rng: &dyn SecureRandom) -> Result<Self> {
        let kek = random_secret(rng)?;
        let seed = random_secret(rng)?;
        let pepper = random_secret(rng)?;
        Ok(Self {
            keks: RwLock::new(Keks { ciphers: BTreeMap::from([(1, Arc::new(kek_cipher(&kek)))]), current: 1 }),
            signing_key: SigningKey::from_seed(&seed)?,
            pepper: IdentifierPepper::from_secret(&pepper),
            nonce_rng: SystemRandom::new(),
            source: None,
            refreshing: Mutex::new(()),
        })
    }

    /// `tresor keys rotate`: checks the passphrase opens the existing files,
    /// then writes `kek-v{n+1}.sealed` and returns n+1. Old KEK files stay
    /// until every DEK has been re-wrapped (unwrap with the old version, wrap
    /// again), which can resume at any point.
    pub fn rotate_kek(dir: &Path, passphrase: &Passphrase, params: KdfParams, rng: &dyn SecureRandom) -> Result<u32> {
        params.check().map_err(|problem| key_file_error(dir, problem))?;
        let existing = Self::open_with_retired(dir, passphrase)?;
        let newest = existing.kek_versions().last().copied().unwrap_or(0);
        let version = newest.checked_add(1).ok_or(CryptoError::UnknownKekVersion(u32::MAX))?;
        let kek = random_secret(rng)?;
        let sealer = KeyFileSealer { passphrase, params, rng };
        sealer.write(&dir.join(kek_file_name(version)), &kek_purpose(version), &kek[..])?;
        sync_dir(dir);
        Ok(version)
    }

    /// The signing key alone, sealed in `dir` (`signing-key.sealed` and
    /// `signing-key.pub`): the fallback of a PKCS#11 installation whose token
    /// cannot sign Ed25519. Refuses if either file exists.
    pub fn init_signing_key(
        dir: &Path,
        passphrase: &Passphrase,
        params: KdfParams,
        rng: &dyn SecureRandom,
    ) -> Result<[u8; 32]> {
        params.check().map_err(|problem| key_file_error(dir, problem))?;
        for name in [SIGNING_KEY_FILE, PUBLIC_KEY_FILE] {
            let path = dir.join(name);
            if fs::symlink_metadata(&path).is_ok() {
                return Err(CryptoError::AlreadyInitialised(path));
            }
        }
        create_key_dir(dir)?;
        let seed = random_secret(rng)?;
        let public_key = SigningKey::from_seed(&seed)?.public_key();
        let sealer = KeyFileSealer { passphrase, params, rng };
        sealer.write(&dir.join(SIGNING_KEY_FILE), SIGNING_KEY_PURPOSE, &seed[..])?;
        write_new_file(&dir.join(PUBLIC_KEY_FILE), format!("{}\n", BASE64.encode(public_key)).as_bytes())?;
        sync_dir(dir);
        Ok(public_key)
    }

    /// Open the signing key written by [`FileKeyProvider::init_signing_key`]
    /// (or by `init`), checked against `signing-key.pub`.
    pub fn open_signing_key(dir: &Path, passphrase: &Passphrase) -> Result<SigningKey> {
        let mut opener = KeyFileOpener { passphrase, passphrase_confirmed: false };
        let seed = opener.open(&dir.join(SIGNING_KEY_FILE), SIGNING_KEY_PURPOSE)?;
        let signing_key = SigningKey::from_seed(&seed)?;
        check_public_key_file(&dir.join(PUBLIC_KEY_FILE), &signing_key)?;
        Ok(signing_key)
    }

    /// `nonce (12) || encrypted key (32) || tag (16)`, AES-256-GCM under KEK
    /// `version` with a random nonce; `aad` says whose key it is.
    fn wrap_key(&self, version: u32, aad: &[u8], dek: &DataKey) -> Result<Vec<u8>> {
        let kek = self.kek(version)?;
        let mut nonce = [0u8; GCM_NONCE_LEN];
        self.nonce_rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        // Exact capacity: the DEK is encrypted in place and the buffer never
        // reallocates, so no plaintext copy of the DEK is left in freed memory.
        let mut wrapped = Vec::with_capacity(WRAPPED_DEK_LEN);
        wrapped.extend_from_slice(&nonce);
        // The DEK's bytes leave their zeroizing type only to be encrypted here.
        wrapped.extend_from_slice(dek.expose_secret_bytes());
        let sealed =
            kek.encrypt_in_place_detached(GenericArray::from_slice(&nonce), aad, &mut wrapped[GCM_NONCE_LEN..]);
        match sealed {
            Ok(tag) => {
                wrapped.extend_from_slice(&tag);
                Ok(wrapped)
            }
            Err(_) => {
                wrapped.zeroize();
                Err(CryptoError::Open)
            }
        }
    }

    fn unwrap_key(&self, kek_version: u32, aad: &[u8], wrapped: &[u8]) -> Result<DataKey> {
        let kek = self.kek(kek_version)?;
        if wrapped.len() != WRAPPED_DEK_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, rest) = wrapped.split_at(GCM_NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(KEY_LEN);
        let mut dek = Zeroizing::new([0u8; KEY_LEN]);
        dek.copy_from_slice(ciphertext);
        kek.decrypt_in_place_detached(
            GenericArray::from_slice(nonce),
            aad,
            &mut dek[..],
            GenericArray::from_slice(tag),
        )
        .map_err(|_| CryptoError::Open)?;
        Ok(DataKey::from_unwrapped(dek))
    }

    fn kek(&self, version: u32) -> Result<Arc<Aes256Gcm>> {
        self.read_keks().ciphers.get(&version).cloned().ok_or(CryptoError::UnknownKekVersion(version))
    }

    fn read_keks(&self) -> std::sync::RwLockReadGuard<'_, Keks> {
        // The map is only ever replaced whole, so a poisoned lock holds a whole map.
        self.keks.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The KEK versions opened, ascending.
    pub fn kek_versions(&self) -> Vec<u32> {
        self.read_keks().ciphers.keys().copied().collect()
    }

    /// `keys rotate-kek`, once no wrapped key uses `version`: move its file
    /// to `dir/retired` (the vault stops opening it at its next start; the
    /// running vault keeps it in memory until then). The current version
    /// is never retired.
    pub fn retire_kek(dir: &Path, version: u32) -> Result<PathBuf> {
        let versions = list_kek_versions(dir)?;
        if versions.last() == Some(&version) {
            return Err(key_file_error(&dir.join(kek_file_name(version)), "the current KEK cannot be retired".into()));
        }
        if !versions.contains(&version) {
            return Err(CryptoError::UnknownKekVersion(version));
        }
        let retired = dir.join(RETIRED_DIR);
        create_key_dir(&retired)?;
        let from = dir.join(kek_file_name(version));
        let to = retired.join(kek_file_name(version));
        if fs::symlink_metadata(&to).is_ok() {
            return Err(CryptoError::AlreadyInitialised(to));
        }
        fs::rename(&from, &to)
            .map_err(|error| key_file_error(&from, format!("cannot move to {RETIRED_DIR}/: {error}")))?;
        sync_dir(&retired);
        sync_dir(dir);
        Ok(to)
    }
}

impl KeyProvider for FileKeyProvider {
    fn current_kek_version(&self) -> u32 {
        self.read_keks().current
    }

    /// `nonce (12) || encrypted DEK (32) || tag (16)`, AES-256-GCM under the
    /// current KEK with a random nonce.
    fn wrap_dek(&self, citizen: &CitizenId, dek: &DataKey) -> Result<(u32, Vec<u8>)> {
        let version = self.current_kek_version();
        Ok((version, self.wrap_key(version, &dek_wrap_aad(citizen, version), dek)?))
    }

    fn unwrap_dek(&self, citizen: &CitizenId, kek_version: u32, wrapped: &[u8]) -> Result<DataKey> {
        self.unwrap_key(kek_version, &dek_wrap_aad(citizen, kek_version), wrapped)
    }

    fn wrap_draft_key(&self, draft: &[u8], key: &DataKey) -> Result<(u32, Vec<u8>)> {
        let version = self.current_kek_version();
        Ok((version, self.wrap_key(version, &draft_key_wrap_aad(draft, version), key)?))
    }

    fn unwrap_draft_key(&self, draft: &[u8], kek_version: u32, wrapped: &[u8]) -> Result<DataKey> {
        self.unwrap_key(kek_version, &draft_key_wrap_aad(draft, kek_version), wrapped)
    }

    fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    fn pepper(&self) -> &IdentifierPepper {
        &self.pepper
    }

    fn refresh(&self) -> Result<bool> {
        let Some((dir, passphrase)) = &self.source else {
            return Ok(false);
        };
        let _one_at_a_time = self.refreshing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let known = self.kek_versions();
        let added: Vec<u32> = list_kek_versions(dir)?.into_iter().filter(|version| !known.contains(version)).collect();
        if added.is_empty() {
            return Ok(false);
        }
        // The passphrase opened the key files at start: a file that does not
        // open now is damaged or foreign, never a mistyped passphrase.
        let mut opener = KeyFileOpener { passphrase, passphrase_confirmed: true };
        let mut opened = Vec::with_capacity(added.len());
        for version in added {
            let kek = opener.open(&dir.join(kek_file_name(version)), &kek_purpose(version))?;
            opened.push((version, Arc::new(kek_cipher(&kek))));
        }
        let mut keks = self.keks.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (version, cipher) in opened {
            keks.current = keks.current.max(version);
            keks.ciphers.insert(version, cipher);
        }
        Ok(true)
    }
}

impl fmt::Debug for FileKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileKeyProvider")
            .field("kek_versions", &self.kek_versions())
            .field("current_kek_version", &self.current_kek_version())
            .finish_non_exhaustive()
    }
}

pub(super) fn dek_wrap_aad(citizen: &CitizenId, kek_version: u32) -> Vec<u8> {
    length_prefixed(&[DEK_WRAP_LABEL, citizen.as_str().as_bytes(), &kek_version.to_be_bytes()])
}

pub(super) fn draft_key_wrap_aad(draft: &[u8], kek_version: u32) -> Vec<u8> {
    length_prefixed(&[DRAFT_KEY_WRAP_LABEL, draft, &kek_version.to_be_bytes()])
}

fn kek_cipher(kek: &[u8; KEY_LEN]) -> Aes256Gcm {
    Aes256Gcm::new(GenericArray::from_slice(kek))
}

fn random_secret(rng: &dyn SecureRandom) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    let mut secret = Zeroizing::new([0u8; KEY_LEN]);
    rng.fill(&mut secret[..]).map_err(|_| CryptoError::Random)?;
    Ok(secret)
}

fn key_file_error(path: &Path, problem: String) -> CryptoError {
    CryptoError::KeyFile { path: path.to_path_buf(), problem }
}

/// On-disk form of one sealed key. Holds only ciphertext and public
/// parameters; the purpose string is the AES-GCM associated data.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedKeyFile {
    format: u32,
    purpose: String,
    kdf: KdfRecord,
    salt: String,
    nonce: String,
    ciphertext: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KdfRecord {
    algorithm: String,
    version: u32,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

const KDF_ALGORITHM: &str = "argon2id";
const KDF_VERSION: u32 = 0x13;

fn passphrase_key(
    passphrase: &Passphrase,
    params: &KdfParams,
    salt: &[u8],
) -> std::result::Result<Zeroizing<[u8; KEY_LEN]>, String> {
    let argon_params = argon2::Params::new(params.memory_kib, params.iterations, params.parallelism, Some(KEY_LEN))
        .map_err(|error| format!("Argon2id parameters rejected: {error}"))?;
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon_params)
        .hash_password_into(passphrase.expose_secret_bytes(), salt, &mut key[..])
        .map_err(|error| format!("Argon2id failed: {error}"))?;
    Ok(key)
}

struct KeyFileSealer<'a> {
    passphrase: &'a Passphrase,
    params: KdfParams,
    rng: &'a dyn SecureRandom,
}

impl KeyFileSealer<'_> {
    fn write(&self, path: &Path, purpose: &str, secret: &[u8]) -> Result<()> {
        let mut salt = [0u8; KEY_FILE_SALT_LEN];
        let mut nonce = [0u8; GCM_NONCE_LEN];
        self.rng.fill(&mut salt).map_err(|_| CryptoError::Random)?;
        self.rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let key =
            passphrase_key(self.passphrase, &self.params, &salt).map_err(|problem| key_file_error(path, problem))?;
        // Exact capacity so encrypting in place never leaves a plaintext copy.
        let mut buffer = Zeroizing::new(Vec::with_capacity(secret.len() + GCM_TAG_LEN));
        buffer.extend_from_slice(secret);
        kek_cipher(&key)
            .encrypt_in_place(GenericArray::from_slice(&nonce), purpose.as_bytes(), &mut *buffer)
            .map_err(|_| key_file_error(path, "sealing failed".into()))?;
        let file = SealedKeyFile {
            format: KEY_FILE_FORMAT,
            purpose: purpose.into(),
            kdf: KdfRecord {
                algorithm: KDF_ALGORITHM.into(),
                version: KDF_VERSION,
                memory_kib: self.params.memory_kib,
                iterations: self.params.iterations,
                parallelism: self.params.parallelism,
            },
            salt: BASE64.encode(salt),
            nonce: BASE64.encode(nonce),
            ciphertext: BASE64.encode(&buffer[..]),
        };
        let json = serde_json::to_string_pretty(&file)
            .map_err(|error| key_file_error(path, format!("cannot encode: {error}")))?;
        write_new_file(path, format!("{json}\n").as_bytes())
    }
}

struct KeyFileOpener<'a> {
    passphrase: &'a Passphrase,
    /// Set once one file opened: later authentication failures then mean a
    /// damaged or foreign file, not a mistyped passphrase.
    passphrase_confirmed: bool,
}

impl KeyFileOpener<'_> {
    fn open(&mut self, path: &Path, purpose: &str) -> Result<Zeroizing<[u8; KEY_LEN]>> {
        let file = read_key_file(path)?;
        let bad = |problem: &str| key_file_error(path, problem.into());
        if file.format != KEY_FILE_FORMAT {
            return Err(key_file_error(path, format!("unsupported format version {}", file.format)));
        }
        if file.purpose != purpose {
            return Err(key_file_error(path, format!("holds a key for {:?}, expected {purpose:?}", file.purpose)));
        }
        if file.kdf.algorithm != KDF_ALGORITHM || file.kdf.version != KDF_VERSION {
            return Err(bad("unsupported key derivation (expected argon2id version 19)"));
        }
        let params = KdfParams {
            memory_kib: file.kdf.memory_kib,
            iterations: file.kdf.iterations,
            parallelism: file.kdf.parallelism,
        };
        params.check().map_err(|problem| key_file_error(path, problem))?;
        let salt = decode_exact(&file.salt, KEY_FILE_SALT_LEN).ok_or_else(|| bad("salt is not 16 bytes of base64"))?;
        let nonce = decode_exact(&file.nonce, GCM_NONCE_LEN).ok_or_else(|| bad("nonce is not 12 bytes of base64"))?;
        let ciphertext = decode_exact(&file.ciphertext, KEY_LEN + GCM_TAG_LEN)
            .ok_or_else(|| bad("ciphertext is not 48 bytes of base64"))?;

        let key = passphrase_key(self.passphrase, &params, &salt).map_err(|problem| key_file_error(path, problem))?;
        let mut buffer = Zeroizing::new(ciphertext);
        let opened =
            kek_cipher(&key).decrypt_in_place(GenericArray::from_slice(&nonce), purpose.as_bytes(), &mut *buffer);
        if opened.is_err() {
            return Err(if self.passphrase_confirmed {
                bad(
                    "does not open with the passphrase that opened the other key files (damaged or sealed with another passphrase)",
                )
            } else {
                CryptoError::WrongPassphrase
            });
        }
        self.passphrase_confirmed = true;
        let mut secret = Zeroizing::new([0u8; KEY_LEN]);
        // Length was checked above: 48 bytes of ciphertext minus the 16-byte tag.
        secret.copy_from_slice(&buffer[..KEY_LEN]);
        Ok(secret)
    }
}

fn decode_exact(text: &str, len: usize) -> Option<Vec<u8>> {
    BASE64.decode(text).ok().filter(|bytes| bytes.len() == len)
}

fn read_key_file(path: &Path) -> Result<SealedKeyFile> {
    let text = read_small_file(path)?;
    serde_json::from_str(&text).map_err(|error| key_file_error(path, format!("malformed: {error}")))
}

fn read_small_file(path: &Path) -> Result<String> {
    let metadata = fs::metadata(path).map_err(|error| io_problem(path, &error))?;
    if metadata.len() > KEY_FILE_MAX_BYTES {
        return Err(key_file_error(path, "too large to be a key file".into()));
    }
    fs::read_to_string(path).map_err(|error| io_problem(path, &error))
}

fn io_problem(path: &Path, error: &std::io::Error) -> CryptoError {
    if error.kind() == std::io::ErrorKind::NotFound {
        key_file_error(path, "missing".into())
    } else {
        key_file_error(path, format!("cannot read: {error}"))
    }
}

fn check_public_key_file(path: &Path, signing_key: &SigningKey) -> Result<()> {
    let text = read_small_file(path)?;
    let stored = BASE64.decode(text.trim()).map_err(|_| key_file_error(path, "not base64".into()))?;
    if stored.as_slice() != signing_key.public_key().as_slice() {
        return Err(key_file_error(path, format!("does not match the key in {SIGNING_KEY_FILE}")));
    }
    Ok(())
}

/// KEK versions present in `dir`, ascending.
fn list_kek_versions(dir: &Path) -> Result<Vec<u32>> {
    let entries = fs::read_dir(dir).map_err(|error| io_problem(dir, &error))?;
    let mut versions = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| io_problem(dir, &error))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(digits) = name.strip_prefix(KEK_FILE_PREFIX).and_then(|rest| rest.strip_suffix(SEALED_SUFFIX)) else {
            continue;
        };
        match digits.parse::<u32>() {
            // Canonical numbers only, so "kek-v01" cannot shadow "kek-v1".
            Ok(version) if version >= 1 && version.to_string() == digits => versions.push(version),
            _ => {
                return Err(key_file_error(&entry.path(), "name is not kek-v<version>.sealed".into()));
            }
        }
    }
    versions.sort_unstable();
    Ok(versions)
}

fn create_key_dir(dir: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|error| key_file_error(dir, format!("cannot create directory: {error}")))
}

/// Creates `path` (never overwrites) with mode 0600 on unix and syncs it.
fn write_new_file(path: &Path, contents: &[u8]) -> Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            CryptoError::AlreadyInitialised(path.to_path_buf())
        } else {
            key_file_error(path, format!("cannot create: {error}"))
        }
    })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|error| key_file_error(path, format!("cannot write: {error}")))
}

/// Best effort: make the new directory entries durable. Failure to sync a
/// directory is not fatal on filesystems that do not support it.
fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

#[cfg(test)]
impl FileKeyProvider {
    /// Provider with given KEK bytes per version, for AAD-binding tests.
    fn with_test_keks(keks: &[(u32, [u8; KEY_LEN])]) -> Self {
        let rng = SystemRandom::new();
        let mut provider = Self::ephemeral(&rng).expect("ephemeral keys");
        provider.keks = RwLock::new(Keks {
            ciphers: keks.iter().map(|(version, kek)| (*version, Arc::new(kek_cipher(kek)))).collect(),
            current: keks.iter().map(|(version, _)| *version).max().expect("at least one KEK"),
        });
        provider
    }
}

#[cfg(test)]
mod tests;
