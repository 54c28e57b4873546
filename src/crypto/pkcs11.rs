//! The PKCS#11 key provider: the KEKs and the identifier pepper are
//! non-extractable secret keys inside a token (an HSM, or SoftHSM2 in tests),
//! and so is the Ed25519 signing key where the token signs EdDSA. DEKs are
//! wrapped and unwrapped by the token (CKM_AES_GCM, the AAD binding citizen
//! id and KEK version exactly as in the file provider); only the unwrapped
//! DEK comes back into this process, straight into a zeroizing [`DataKey`].
//!
//! Objects in the token, found by label:
//! - `tresor-kek-<version>`: AES-256, CKA_SENSITIVE, not CKA_EXTRACTABLE,
//!   encrypt/decrypt; the highest version wraps new DEKs;
//! - `tresor-pepper`: generic secret (256 bit) for CKM_SHA256_HMAC;
//! - `tresor-signing`: Ed25519 private key (CKM_EDDSA) and its public key,
//!   unless the signing key is kept in a sealed file (the fallback).
//!
//! Sessions: a small pool of sessions, each behind a mutex (a PKCS#11 session
//! serves one call at a time). A call that fails because the token went away
//! (removed, logged out, handle invalid) drops that session and tries once
//! more on a fresh one, logging in again; while the token stays away calls
//! fail with [`CryptoError::TokenUnavailable`] (HTTP 503), and the next call
//! after it is back works. A PIN the token refuses while serving is never
//! tried again (tokens lock a PIN after a few failures): the provider then
//! stays unavailable until restarted with the right PIN.
//!
//! PKCS#11 is initialised once per process and module (`C_Initialize`), so
//! the loaded modules are kept for the life of the process.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::{Error as Pkcs11Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use ring::rand::{SecureRandom, SystemRandom};
use zeroize::Zeroizing;

use super::keys::{
    FileKeyProvider, IdentifierPepper, KdfParams, KeyProvider, Passphrase, SigningKey, dek_wrap_aad, draft_key_wrap_aad,
};
use super::seal::DataKey;
use super::{CryptoError, Result};
use crate::ids::CitizenId;

/// Label prefix of the KEK objects: `tresor-kek-1`, `tresor-kek-2`, ...
pub const KEK_LABEL_PREFIX: &str = "tresor-kek-";
/// Label of the identifier pepper (HMAC key).
pub const PEPPER_LABEL: &str = "tresor-pepper";
/// Label of the Ed25519 key pair (private and public object).
pub const SIGNING_LABEL: &str = "tresor-signing";
/// Sessions kept open by default.
pub const DEFAULT_SESSIONS: usize = 4;

const GCM_NONCE_LEN: usize = 12;
const GCM_TAG_BITS: u64 = 128;
const KEY_LEN: usize = 32;
const WRAPPED_LEN: usize = GCM_NONCE_LEN + KEY_LEN + 16;
/// DER of the Ed25519 curve OID 1.3.101.112 for CKA_EC_PARAMS.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// The PrintableString "edwards25519", which SoftHSM2 also accepts.
const ED25519_CURVE_NAME: &[u8] = b"\x13\x0cedwards25519";

/// The token's PIN. Zeroized on drop; `Debug` prints `[redacted]`.
pub struct Pin(Zeroizing<String>);

impl Pin {
    pub fn new(pin: String) -> Self {
        Self(Zeroizing::new(pin))
    }

    /// The PIN in cryptoki's zeroizing type, for one login.
    fn auth_pin(&self) -> AuthPin {
        AuthPin::new(self.0.as_str().into())
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([redacted])")
    }
}

/// Where the signing key lives in a PKCS#11 installation.
pub enum SigningKeySource<'a> {
    /// `tresor-signing` in the token (CKM_EDDSA).
    Token,
    /// The fallback for tokens without EdDSA: `signing-key.sealed` in a key
    /// directory, sealed with a passphrase like the file provider's keys.
    File { dir: &'a Path, passphrase: &'a Passphrase },
}

/// What `tresor serve` needs to open the token.
pub struct TokenSettings<'a> {
    /// The PKCS#11 module (shared library), e.g. `/usr/lib/softhsm/libsofthsm2.so`.
    pub module: &'a Path,
    /// The token's label (`softhsm2-util --init-token --label ...`).
    pub token_label: &'a str,
    pub pin: &'a Pin,
    /// Sessions kept open (at least 1).
    pub sessions: usize,
}

/// Keys in a PKCS#11 token. `Debug` shows the token label and KEK versions.
pub struct Pkcs11KeyProvider {
    token: Arc<Token>,
    kek_versions: Vec<u32>,
    current_kek_version: u32,
    signing_key: SigningKey,
    pepper: IdentifierPepper,
    /// GCM nonces for wrapping; the token's own RNG is not needed for them.
    nonce_rng: SystemRandom,
}

impl Pkcs11KeyProvider {
    /// Open the token and check every key object: start-up refuses a
    /// missing module or token, a refused PIN, a missing key, and a key
    /// that could leave the token (CKA_EXTRACTABLE true or CKA_SENSITIVE
    /// false), each with a message saying which.
    pub fn open(settings: &TokenSettings<'_>, signing: SigningKeySource<'_>) -> Result<Self> {
        let token = Arc::new(Token::open(settings)?);
        let (kek_versions, signing_public_key) = token.with_session(|session, handles| {
            let versions = kek_versions(session).map_err(Failure::Token)?;
            for &version in &versions {
                let handle = handles.kek(session, version)?;
                check_secret(session, handle, &kek_label(version))?;
            }
            let pepper = handles.pepper(session)?;
            check_secret(session, pepper, PEPPER_LABEL)?;
            let public_key = match signing {
                SigningKeySource::Token => {
                    let private = handles.signing(session)?;
                    check_secret(session, private, SIGNING_LABEL)?;
                    Some(read_public_key(session)?)
                }
                SigningKeySource::File { .. } => None,
            };
            Ok((versions, public_key))
        })?;
        let Some(&current_kek_version) = kek_versions.last() else {
            return Err(setup(format!(
                "token {:?} holds no key-encryption key (no object labelled {KEK_LABEL_PREFIX}<version>); run `tresor keys init`",
                settings.token_label
            )));
        };
        let signing_key = match (signing, signing_public_key) {
            (SigningKeySource::File { dir, passphrase }, _) => FileKeyProvider::open_signing_key(dir, passphrase)?,
            (SigningKeySource::Token, Some(public_key)) => {
                let key = TokenSigningKey { token: token.clone(), public_key };
                // A key pair whose halves do not belong together would sign
                // receipts nobody can verify: check once at start.
                let probe = key.sign(b"tresor start-up probe")?;
                if !super::verify_signature(&public_key, b"tresor start-up probe", &probe) {
                    return Err(setup(format!(
                        "the public key object {SIGNING_LABEL:?} does not match the private key of that label"
                    )));
                }
                SigningKey::in_token(key)
            }
            (SigningKeySource::Token, None) => return Err(setup("no signing key".into())),
        };
        token.serving.store(true, Ordering::SeqCst);
        Ok(Self {
            pepper: IdentifierPepper::in_token(TokenPepper { token: token.clone() }),
            token,
            kek_versions,
            current_kek_version,
            signing_key,
            nonce_rng: SystemRandom::new(),
        })
    }

    /// `tresor keys init` for a token: generate KEK version 1, the pepper
    /// and (with [`SigningKeySource::Token`]) the Ed25519 key pair inside the
    /// token, all non-extractable; with [`SigningKeySource::File`] the
    /// signing key is written sealed to that directory instead. Refuses if
    /// the token holds any tresor key already. Returns the signing key's
    /// public key.
    pub fn init(settings: &TokenSettings<'_>, signing: SigningKeySource<'_>) -> Result<[u8; 32]> {
        let token = Token::open(settings)?;
        token.with_session(|session, _| {
            for label in [kek_label(1), PEPPER_LABEL.to_owned(), SIGNING_LABEL.to_owned()] {
                if !find_by_label(session, &label).map_err(Failure::Token)?.is_empty() {
                    return Err(Failure::Crypto(setup(format!(
                        "token {:?} already holds an object labelled {label:?}; refusing to create keys",
                        settings.token_label
                    ))));
                }
            }
            if !kek_versions(session).map_err(Failure::Token)?.is_empty() {
                return Err(Failure::Crypto(setup(format!(
                    "token {:?} already holds a key-encryption key; refusing to create keys",
                    settings.token_label
                ))));
            }
            Ok(())
        })?;
        if matches!(signing, SigningKeySource::Token) && !token.supports(MechanismType::EDDSA)? {
            return Err(setup(format!(
                "token {:?} cannot sign Ed25519 (no CKM_EDDSA); set [keys] signing_key = \"file\" to keep the signing key sealed in the key directory",
                settings.token_label
            )));
        }
        token.with_session(|session, _| {
            generate_kek(session, 1).map_err(Failure::Token)?;
            session
                .generate_key(
                    &Mechanism::GenericSecretKeyGen,
                    &[
                        Attribute::Class(ObjectClass::SECRET_KEY),
                        Attribute::KeyType(KeyType::GENERIC_SECRET),
                        Attribute::ValueLen(32.into()),
                        Attribute::Label(PEPPER_LABEL.into()),
                        Attribute::Token(true),
                        Attribute::Private(true),
                        Attribute::Sensitive(true),
                        Attribute::Extractable(false),
                        Attribute::Sign(true),
                        Attribute::Verify(true),
                    ],
                )
                .map_err(Failure::Token)?;
            Ok(())
        })?;
        match signing {
            SigningKeySource::File { dir, passphrase } => {
                FileKeyProvider::init_signing_key(dir, passphrase, KdfParams::default(), &SystemRandom::new())
            }
            SigningKeySource::Token => token.with_session(|session, _| {
                generate_signing_key(session)?;
                read_public_key(session)
            }),
        }
    }

    /// Create KEK version n+1 in the token (n = the highest there) and
    /// return n+1. The provider opened afterwards wraps with it; the older
    /// versions stay for unwrapping until every DEK is re-wrapped.
    pub fn create_next_kek(settings: &TokenSettings<'_>) -> Result<u32> {
        let token = Token::open(settings)?;
        token.with_session(|session, _| {
            let versions = kek_versions(session).map_err(Failure::Token)?;
            let next = versions
                .last()
                .copied()
                .unwrap_or(0)
                .checked_add(1)
                .ok_or(Failure::Crypto(CryptoError::UnknownKekVersion(u32::MAX)))?;
            generate_kek(session, next).map_err(Failure::Token)?;
            Ok(next)
        })
    }

    /// The token's label, for messages.
    pub fn token_label(&self) -> &str {
        &self.token.label
    }

    /// `nonce (12) || encrypted key (32) || tag (16)` like the file
    /// provider, AES-256-GCM inside the token under KEK `version`.
    fn wrap_key(&self, version: u32, aad: &[u8], key: &DataKey) -> Result<Vec<u8>> {
        let mut nonce = [0u8; GCM_NONCE_LEN];
        self.nonce_rng.fill(&mut nonce).map_err(|_| CryptoError::Random)?;
        let sealed = self.token.with_session(|session, handles| {
            let kek = handles.kek(session, version)?;
            let mut iv = nonce;
            let params = GcmParams::new(&mut iv, aad, GCM_TAG_BITS.into()).map_err(Failure::Token)?;
            // The key's bytes leave their zeroizing type only to be encrypted by the token.
            session.encrypt(&Mechanism::AesGcm(params), kek, key.expose_secret_bytes()).map_err(Failure::Token)
        })?;
        if sealed.len() != KEY_LEN + 16 {
            return Err(CryptoError::TokenUnavailable(format!(
                "AES-GCM in the token returned {} bytes, expected 48",
                sealed.len()
            )));
        }
        let mut wrapped = Vec::with_capacity(WRAPPED_LEN);
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok(wrapped)
    }

    fn unwrap_key(&self, version: u32, aad: &[u8], wrapped: &[u8]) -> Result<DataKey> {
        if !self.kek_versions.contains(&version) {
            return Err(CryptoError::UnknownKekVersion(version));
        }
        if wrapped.len() != WRAPPED_LEN {
            return Err(CryptoError::Open);
        }
        let (nonce, sealed) = wrapped.split_at(GCM_NONCE_LEN);
        let opened = self.token.with_session(|session, handles| {
            let kek = handles.kek(session, version)?;
            let mut iv = [0u8; GCM_NONCE_LEN];
            iv.copy_from_slice(nonce);
            let params = GcmParams::new(&mut iv, aad, GCM_TAG_BITS.into()).map_err(Failure::Token)?;
            match session.decrypt(&Mechanism::AesGcm(params), kek, sealed) {
                Ok(plaintext) => Ok(Zeroizing::new(plaintext)),
                // A tag that does not match: wrong citizen, wrong version,
                // tampered bytes. SoftHSM2 reports it as a general error.
                Err(Pkcs11Error::Pkcs11(
                    RvError::EncryptedDataInvalid
                    | RvError::EncryptedDataLenRange
                    | RvError::DataInvalid
                    | RvError::GeneralError,
                    _,
                )) => Err(Failure::Crypto(CryptoError::Open)),
                Err(error) => Err(Failure::Token(error)),
            }
        })?;
        if opened.len() != KEY_LEN {
            return Err(CryptoError::Open);
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&opened);
        Ok(DataKey::from_unwrapped(key))
    }
}

impl KeyProvider for Pkcs11KeyProvider {
    fn current_kek_version(&self) -> u32 {
        self.current_kek_version
    }

    fn wrap_dek(&self, citizen: &CitizenId, dek: &DataKey) -> Result<(u32, Vec<u8>)> {
        let version = self.current_kek_version;
        Ok((version, self.wrap_key(version, &dek_wrap_aad(citizen, version), dek)?))
    }

    fn unwrap_dek(&self, citizen: &CitizenId, kek_version: u32, wrapped: &[u8]) -> Result<DataKey> {
        self.unwrap_key(kek_version, &dek_wrap_aad(citizen, kek_version), wrapped)
    }

    fn wrap_draft_key(&self, draft: &[u8], key: &DataKey) -> Result<(u32, Vec<u8>)> {
        let version = self.current_kek_version;
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
}

impl fmt::Debug for Pkcs11KeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkcs11KeyProvider")
            .field("token_label", &self.token.label)
            .field("kek_versions", &self.kek_versions)
            .field("current_kek_version", &self.current_kek_version)
            .finish_non_exhaustive()
    }
}

/// The Ed25519 private key `tresor-signing` in the token.
pub(crate) struct TokenSigningKey {
    token: Arc<Token>,
    public_key: [u8; 32],
}

impl TokenSigningKey {
    pub(crate) fn sign(&self, message: &[u8]) -> Result<[u8; 64]> {
        let signature = self.token.with_session(|session, handles| {
            let key = handles.signing(session)?;
            let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
            session.sign(&mechanism, key, message).map_err(Failure::Token)
        })?;
        signature.as_slice().try_into().map_err(|_| {
            CryptoError::TokenUnavailable(format!("EdDSA signature of {} bytes, expected 64", signature.len()))
        })
    }

    pub(crate) fn public_key(&self) -> [u8; 32] {
        self.public_key
    }
}

/// The HMAC key `tresor-pepper` in the token.
pub(crate) struct TokenPepper {
    token: Arc<Token>,
}

impl TokenPepper {
    pub(crate) fn mac(&self, message: &[u8]) -> Result<[u8; 32]> {
        let mac = self.token.with_session(|session, handles| {
            let key = handles.pepper(session)?;
            session.sign(&Mechanism::Sha256Hmac, key, message).map_err(Failure::Token)
        })?;
        mac.as_slice()
            .try_into()
            .map_err(|_| CryptoError::TokenUnavailable(format!("HMAC of {} bytes, expected 32", mac.len())))
    }
}

/// One token: the loaded module, its label, the PIN and the session pool.
struct Token {
    context: Pkcs11,
    label: String,
    pin: Pin,
    pool: Vec<Mutex<Option<Connection>>>,
    next: AtomicUsize,
    /// Set when the token refused the PIN while serving: never try it again.
    pin_refused: AtomicBool,
    /// Set once start-up checked every key: from then on a key the token no
    /// longer shows means the token is away, not a setup to fix.
    serving: AtomicBool,
}

/// An open, logged-in session and the handles found through it.
struct Connection {
    session: Session,
    handles: Handles,
}

/// Object handles by label, found once per session.
#[derive(Default)]
struct Handles {
    keks: BTreeMap<u32, ObjectHandle>,
    pepper: Option<ObjectHandle>,
    signing: Option<ObjectHandle>,
}

/// Why a token call failed: the token (retry on a fresh session), or a
/// refusal that is final (a wrapped key that does not open, a missing key).
enum Failure {
    Token(Pkcs11Error),
    /// The session is no longer logged in (the token was reset or another
    /// session logged out): private objects are invisible until a new login.
    LoggedOut,
    Crypto(CryptoError),
}

impl From<CryptoError> for Failure {
    fn from(error: CryptoError) -> Self {
        Failure::Crypto(error)
    }
}

impl Handles {
    fn kek(&mut self, session: &Session, version: u32) -> std::result::Result<ObjectHandle, Failure> {
        if let Some(&handle) = self.keks.get(&version) {
            return Ok(handle);
        }
        let handle = find_key(session, ObjectClass::SECRET_KEY, &kek_label(version))?
            .ok_or_else(|| not_found(session, Failure::Crypto(CryptoError::UnknownKekVersion(version))))?;
        self.keks.insert(version, handle);
        Ok(handle)
    }

    fn pepper(&mut self, session: &Session) -> std::result::Result<ObjectHandle, Failure> {
        if let Some(handle) = self.pepper {
            return Ok(handle);
        }
        let handle = find_key(session, ObjectClass::SECRET_KEY, PEPPER_LABEL)?
            .ok_or_else(|| not_found(session, missing(PEPPER_LABEL)))?;
        self.pepper = Some(handle);
        Ok(handle)
    }

    fn signing(&mut self, session: &Session) -> std::result::Result<ObjectHandle, Failure> {
        if let Some(handle) = self.signing {
            return Ok(handle);
        }
        let handle = find_key(session, ObjectClass::PRIVATE_KEY, SIGNING_LABEL)?
            .ok_or_else(|| not_found(session, missing(SIGNING_LABEL)))?;
        self.signing = Some(handle);
        Ok(handle)
    }
}

/// A key object that is not found: missing indeed, or invisible because the
/// session lost its login (then worth a retry after logging in again).
fn not_found(session: &Session, missing: Failure) -> Failure {
    match session.get_session_info().map(|info| info.session_state()) {
        Ok(SessionState::RoUser | SessionState::RwUser) => missing,
        Ok(_) => Failure::LoggedOut,
        Err(error) => Failure::Token(error),
    }
}

fn missing(label: &str) -> Failure {
    Failure::Crypto(setup(format!("the token holds no key object labelled {label:?}; run `tresor keys init`")))
}

impl Token {
    /// Load the module, find the token by label and log in once (so that a
    /// wrong PIN stops start-up here).
    fn open(settings: &TokenSettings<'_>) -> Result<Self> {
        let context = load_module(settings.module)?;
        let token = Self {
            context,
            label: settings.token_label.to_owned(),
            pin: Pin::new(settings.pin.0.as_str().to_owned()),
            pool: (0..settings.sessions.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            pin_refused: AtomicBool::new(false),
            serving: AtomicBool::new(false),
        };
        let connection = token.connect().map_err(|error| match error {
            CryptoError::TokenUnavailable(problem) => setup(problem),
            other => other,
        })?;
        *lock(&token.pool[0]) = Some(connection);
        Ok(token)
    }

    fn slot(&self) -> Result<Slot> {
        let slots = self.context.get_slots_with_token().map_err(|error| unavailable("listing slots", &error))?;
        let mut unreadable = None;
        for slot in slots {
            // One broken slot must not hide the others.
            match self.context.get_token_info(slot) {
                Ok(info) if info.label().trim_end() == self.label => return Ok(slot),
                Ok(_) => {}
                Err(error) => unreadable = Some(error),
            }
        }
        if let Some(error) = unreadable {
            return Err(CryptoError::TokenUnavailable(format!(
                "no token labelled {:?} is readable (a slot failed: {error})",
                self.label
            )));
        }
        Err(CryptoError::TokenUnavailable(format!("no token labelled {:?} is present", self.label)))
    }

    fn supports(&self, mechanism: MechanismType) -> Result<bool> {
        let slot = self.slot()?;
        let mechanisms =
            self.context.get_mechanism_list(slot).map_err(|error| unavailable("listing mechanisms", &error))?;
        Ok(mechanisms.contains(&mechanism))
    }

    fn connect(&self) -> Result<Connection> {
        if self.pin_refused.load(Ordering::SeqCst) {
            return Err(CryptoError::TokenUnavailable(
                "the token refused the PIN earlier; restart with the right PIN".into(),
            ));
        }
        let slot = self.slot()?;
        let session = self.context.open_rw_session(slot).map_err(|error| unavailable("opening a session", &error))?;
        match session.login(UserType::User, Some(&self.pin.auth_pin())) {
            // Login state is per application: another session logged in already.
            Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(Pkcs11Error::Pkcs11(RvError::PinIncorrect | RvError::PinInvalid | RvError::PinLenRange, _)) => {
                self.pin_refused.store(true, Ordering::SeqCst);
                return Err(CryptoError::WrongPin(self.label.clone()));
            }
            Err(Pkcs11Error::Pkcs11(RvError::PinLocked, _)) => {
                self.pin_refused.store(true, Ordering::SeqCst);
                return Err(setup(format!("the PIN of token {:?} is locked", self.label)));
            }
            Err(error) => return Err(unavailable("logging in", &error)),
        }
        Ok(Connection { session, handles: Handles::default() })
    }

    /// Run `operation` on a pooled session; on a token failure, once more on
    /// a fresh session (a token that was away and is back, a session the
    /// token closed).
    fn with_session<T>(
        &self,
        mut operation: impl FnMut(&Session, &mut Handles) -> std::result::Result<T, Failure>,
    ) -> Result<T> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.pool.len();
        let mut slot = lock(&self.pool[index]);
        let mut last_error = None;
        for _attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(self.connect().map_err(|error| match error {
                    // While serving, every failure to reach the keys is an
                    // outage (503), whatever its cause.
                    CryptoError::WrongPin(_) | CryptoError::Token(_) if self.serving.load(Ordering::SeqCst) => {
                        CryptoError::TokenUnavailable(error.to_string())
                    }
                    other => other,
                })?);
            }
            let Some(connection) = slot.as_mut() else { continue };
            match operation(&connection.session, &mut connection.handles) {
                Ok(value) => return Ok(value),
                Err(Failure::Crypto(error @ (CryptoError::Token(_) | CryptoError::UnknownKekVersion(_))))
                    if self.serving.load(Ordering::SeqCst) =>
                {
                    // Worth a fresh session: the key was there at start.
                    *slot = None;
                    last_error = Some(CryptoError::TokenUnavailable(format!("a key object is gone: {error}")));
                }
                Err(Failure::Crypto(error)) => return Err(error),
                Err(Failure::Token(error)) => {
                    // Drop the session (closing it) and its handles.
                    *slot = None;
                    last_error = Some(unavailable("calling the token", &error));
                }
                Err(Failure::LoggedOut) => {
                    *slot = None;
                    last_error = Some(CryptoError::TokenUnavailable("the session lost its login".into()));
                }
            }
        }
        Err(last_error.unwrap_or_else(|| CryptoError::TokenUnavailable("no session".into())))
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a session leaves at worst a session that fails
    // its next call, which then opens a fresh one.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn load_module(module: &Path) -> Result<Pkcs11> {
    static MODULES: OnceLock<Mutex<Vec<(PathBuf, Pkcs11)>>> = OnceLock::new();
    let mut modules = lock(MODULES.get_or_init(|| Mutex::new(Vec::new())));
    if let Some((_, context)) = modules.iter().find(|(path, _)| path == module) {
        return Ok(context.clone());
    }
    if !module.is_file() {
        return Err(setup(format!("PKCS#11 module {} does not exist", module.display())));
    }
    let context = Pkcs11::new(module)
        .map_err(|error| setup(format!("cannot load PKCS#11 module {}: {error}", module.display())))?;
    match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, Function::Initialize)) => {}
        Err(error) => {
            return Err(setup(format!("PKCS#11 module {} failed to initialise: {error}", module.display())));
        }
    }
    modules.push((module.to_path_buf(), context.clone()));
    Ok(context)
}

fn setup(problem: String) -> CryptoError {
    CryptoError::Token(problem)
}

fn unavailable(doing: &str, error: &Pkcs11Error) -> CryptoError {
    CryptoError::TokenUnavailable(format!("{doing}: {error}"))
}

fn kek_label(version: u32) -> String {
    format!("{KEK_LABEL_PREFIX}{version}")
}

fn find_by_label(session: &Session, label: &str) -> std::result::Result<Vec<ObjectHandle>, Pkcs11Error> {
    session.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
}

/// The one key object of `class` labelled `label`; two are a setup error
/// (which one would be used is not defined).
fn find_key(session: &Session, class: ObjectClass, label: &str) -> std::result::Result<Option<ObjectHandle>, Failure> {
    let found = session
        .find_objects(&[Attribute::Class(class), Attribute::Label(label.as_bytes().to_vec())])
        .map_err(Failure::Token)?;
    match found.as_slice() {
        [] => Ok(None),
        [handle] => Ok(Some(*handle)),
        _ => Err(Failure::Crypto(setup(format!("the token holds {} key objects labelled {label:?}", found.len())))),
    }
}

/// KEK versions in the token (objects labelled `tresor-kek-<n>`), ascending.
fn kek_versions(session: &Session) -> std::result::Result<Vec<u32>, Pkcs11Error> {
    let handles =
        session.find_objects(&[Attribute::Class(ObjectClass::SECRET_KEY), Attribute::KeyType(KeyType::AES)])?;
    let mut versions = Vec::new();
    for handle in handles {
        for attribute in session.get_attributes(handle, &[AttributeType::Label])? {
            if let Attribute::Label(label) = attribute
                && let Some(version) = std::str::from_utf8(&label)
                    .ok()
                    .and_then(|label| label.strip_prefix(KEK_LABEL_PREFIX))
                    .and_then(|digits| digits.parse::<u32>().ok().filter(|v| *v >= 1 && v.to_string() == digits))
            {
                versions.push(version);
            }
        }
    }
    versions.sort_unstable();
    versions.dedup();
    Ok(versions)
}

/// A key that could leave the token is refused: CKA_SENSITIVE must be true
/// and CKA_EXTRACTABLE false.
fn check_secret(session: &Session, handle: ObjectHandle, label: &str) -> std::result::Result<(), Failure> {
    let attributes = session
        .get_attributes(handle, &[AttributeType::Sensitive, AttributeType::Extractable])
        .map_err(Failure::Token)?;
    let mut sensitive = false;
    let mut extractable = true;
    for attribute in attributes {
        match attribute {
            Attribute::Sensitive(value) => sensitive = value,
            Attribute::Extractable(value) => extractable = value,
            _ => {}
        }
    }
    if !sensitive || extractable {
        return Err(Failure::Crypto(setup(format!(
            "key object {label:?} can leave the token (CKA_SENSITIVE {sensitive}, CKA_EXTRACTABLE {extractable}); \
             tresor needs it sensitive and not extractable"
        ))));
    }
    Ok(())
}

fn generate_kek(session: &Session, version: u32) -> std::result::Result<ObjectHandle, Pkcs11Error> {
    session.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Label(kek_label(version).into_bytes()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
        ],
    )
}

fn generate_signing_key(session: &Session) -> std::result::Result<(), Failure> {
    let private = [
        Attribute::Label(SIGNING_LABEL.into()),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
    ];
    let mut last = None;
    // The curve by OID (PKCS#11 3.0) first, then by name (what older
    // SoftHSM2 releases know).
    for params in [ED25519_OID, ED25519_CURVE_NAME] {
        let public = [
            Attribute::Label(SIGNING_LABEL.into()),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(params.to_vec()),
        ];
        match session.generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private) {
            Ok(_) => return Ok(()),
            Err(error) => last = Some(error),
        }
    }
    Err(match last {
        Some(error) => Failure::Token(error),
        None => Failure::Crypto(setup("cannot generate an Ed25519 key".into())),
    })
}

/// The 32-byte Ed25519 public key from `tresor-signing`'s CKA_EC_POINT: the
/// raw point, or the point as a DER OCTET STRING (what SoftHSM2 stores).
fn read_public_key(session: &Session) -> std::result::Result<[u8; 32], Failure> {
    let handle =
        find_key(session, ObjectClass::PUBLIC_KEY, SIGNING_LABEL)?.ok_or_else(|| missing("tresor-signing (public)"))?;
    let attributes = session.get_attributes(handle, &[AttributeType::EcPoint]).map_err(Failure::Token)?;
    for attribute in attributes {
        if let Attribute::EcPoint(point) = attribute {
            let raw = match point.as_slice() {
                [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
                raw if raw.len() == 32 => raw,
                _ => break,
            };
            let mut public_key = [0u8; 32];
            public_key.copy_from_slice(raw);
            return Ok(public_key);
        }
    }
    Err(Failure::Crypto(setup(format!("{SIGNING_LABEL:?} is not an Ed25519 public key"))))
}

#[cfg(test)]
mod tests;
