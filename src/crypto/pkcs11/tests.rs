//! The PKCS#11 provider against SoftHSM2 (each test makes its own token):
//! wrap/unwrap with the citizen and KEK version bound, keys that cannot
//! leave the token, Ed25519 signatures that ring verifies, a stable pepper,
//! start-up refusals, and recovery after the token logged out.

use std::path::Path;

use cryptoki::session::UserType;

use super::*;
use crate::crypto::jws::{sign_detached, verify_detached};
use crate::crypto::verify_signature;

#[path = "../../../tests/it/support/softhsm.rs"]
#[allow(dead_code)]
mod softhsm;

fn pin() -> Pin {
    Pin::new(softhsm::PIN.into())
}

fn settings<'a>(label: &'a str, pin: &'a Pin) -> TokenSettings<'a> {
    TokenSettings { module: Path::new(softhsm::MODULE), token_label: label, pin, sessions: 2 }
}

/// A token with tresor's keys created by `init`; returns its label.
fn initialised_token() -> String {
    let label = softhsm::new_token("u");
    let pin = pin();
    Pkcs11KeyProvider::init(&settings(&label, &pin), SigningKeySource::Token).expect("init");
    label
}

fn open(label: &str) -> Pkcs11KeyProvider {
    let pin = pin();
    Pkcs11KeyProvider::open(&settings(label, &pin), SigningKeySource::Token).expect("open")
}

fn open_error(label: &str, pin: &Pin) -> CryptoError {
    match Pkcs11KeyProvider::open(&settings(label, pin), SigningKeySource::Token) {
        Ok(provider) => panic!("opened {provider:?}"),
        Err(error) => error,
    }
}

/// A logged-in session of the test itself on the token `label`.
fn test_session(label: &str) -> Session {
    test_session_with_pin(label, softhsm::PIN)
}

fn test_session_with_pin(label: &str, pin: &str) -> Session {
    let context = load_module(Path::new(softhsm::MODULE)).expect("module");
    let slot = context
        .get_slots_with_token()
        .expect("slots")
        .into_iter()
        .find(|slot| context.get_token_info(*slot).is_ok_and(|info| info.label().trim_end() == label))
        .expect("the token's slot");
    let session = context.open_rw_session(slot).expect("session");
    match session.login(UserType::User, Some(&AuthPin::new(pin.into()))) {
        Ok(()) | Err(Pkcs11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(error) => panic!("login: {error}"),
    }
    session
}

#[test]
fn wrap_and_unwrap_round_trip_in_the_token() {
    let label = initialised_token();
    let provider = open(&label);
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    assert_eq!(provider.current_kek_version(), 1);
    let wrapped = provider.wrap_dek(&citizen, &dek).expect("wrap").1;
    assert_eq!(wrapped.len(), WRAPPED_LEN);
    assert!(!wrapped.windows(KEY_LEN).any(|window| window == dek.expose_secret_bytes()), "the DEK is not in the clear");
    let unwrapped = provider.unwrap_dek(&citizen, 1, &wrapped).expect("unwrap");
    assert_eq!(unwrapped.expose_secret_bytes(), dek.expose_secret_bytes());
    // Another provider on the same token (a restart) opens it too.
    drop(provider);
    let reopened = open(&label);
    let again = reopened.unwrap_dek(&citizen, 1, &wrapped).expect("unwrap after reopening");
    assert_eq!(again.expose_secret_bytes(), dek.expose_secret_bytes());
    // Two wraps of one DEK differ (random nonce).
    assert_ne!(reopened.wrap_dek(&citizen, &dek).expect("wrap").1, wrapped);
}

#[test]
fn a_wrapped_dek_opens_only_for_its_citizen_version_and_bytes() {
    let label = initialised_token();
    let provider = open(&label);
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let other = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped = provider.wrap_dek(&citizen, &dek).expect("wrap").1;

    assert!(matches!(provider.unwrap_dek(&other, 1, &wrapped), Err(CryptoError::Open)));
    assert!(matches!(provider.unwrap_dek(&citizen, 2, &wrapped), Err(CryptoError::UnknownKekVersion(2))));
    for index in [0, GCM_NONCE_LEN, WRAPPED_LEN - 1] {
        let mut tampered = wrapped.clone();
        tampered[index] ^= 1;
        assert!(matches!(provider.unwrap_dek(&citizen, 1, &tampered), Err(CryptoError::Open)), "byte {index}");
    }
    assert!(matches!(provider.unwrap_dek(&citizen, 1, &wrapped[..WRAPPED_LEN - 1]), Err(CryptoError::Open)));
    // A draft key is wrapped under another label: it never opens as a DEK,
    // nor a DEK as a draft key.
    let draft = b"draft lookup hash";
    let wrapped_draft = provider.wrap_draft_key(draft, &dek).expect("wrap draft key").1;
    assert!(provider.unwrap_draft_key(draft, 1, &wrapped_draft).is_ok());
    assert!(matches!(provider.unwrap_dek(&citizen, 1, &wrapped_draft), Err(CryptoError::Open)));
    assert!(matches!(provider.unwrap_draft_key(draft, 1, &wrapped), Err(CryptoError::Open)));
    // The token is still fine after all those refusals.
    assert!(provider.unwrap_dek(&citizen, 1, &wrapped).is_ok());
}

#[test]
fn a_dek_wrapped_by_another_token_does_not_open() {
    let first = open(&initialised_token());
    let second = open(&initialised_token());
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped = first.wrap_dek(&citizen, &dek).expect("wrap").1;
    assert!(matches!(second.unwrap_dek(&citizen, 1, &wrapped), Err(CryptoError::Open)));
}

#[test]
fn every_key_object_is_sensitive_and_not_extractable() {
    let label = initialised_token();
    let session = test_session(&label);
    for (class, object) in [
        (ObjectClass::SECRET_KEY, "tresor-kek-1"),
        (ObjectClass::SECRET_KEY, PEPPER_LABEL),
        (ObjectClass::PRIVATE_KEY, SIGNING_LABEL),
    ] {
        let handle = match find_key(&session, class, object) {
            Ok(Some(handle)) => handle,
            _ => panic!("{object} is in the token"),
        };
        let attributes = session
            .get_attributes(
                handle,
                &[AttributeType::Sensitive, AttributeType::Extractable, AttributeType::Token, AttributeType::Private],
            )
            .expect("attributes");
        for attribute in attributes {
            match attribute {
                Attribute::Sensitive(value) => assert!(value, "{object}: CKA_SENSITIVE"),
                Attribute::Extractable(value) => assert!(!value, "{object}: CKA_EXTRACTABLE"),
                Attribute::Token(value) => assert!(value, "{object}: CKA_TOKEN"),
                Attribute::Private(value) => assert!(value, "{object}: CKA_PRIVATE"),
                other => panic!("unexpected {other:?}"),
            }
        }
        // The token will not hand out the value.
        let value = session.get_attributes(handle, &[AttributeType::Value]).expect("attribute call");
        assert!(
            value.iter().all(|attribute| !matches!(attribute, Attribute::Value(_))),
            "{object}: CKA_VALUE readable"
        );
    }
}

#[test]
fn an_extractable_key_in_the_token_stops_start_up() {
    let label = initialised_token();
    let session = test_session(&label);
    // A KEK version 2 someone imported by hand, readable by anyone with the PIN.
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![7u8; 32]),
            Attribute::Label(b"tresor-kek-2".to_vec()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ])
        .expect("import");
    drop(session);
    let error = open_error(&label, &pin());
    let message = error.to_string();
    assert!(matches!(error, CryptoError::Token(_)), "{error:?}");
    assert!(message.contains("tresor-kek-2") && message.contains("CKA_EXTRACTABLE true"), "{message}");
}

#[test]
fn token_signatures_verify_with_ring_and_as_receipts() {
    let label = initialised_token();
    let provider = open(&label);
    let key = provider.signing_key();
    assert!(key.is_in_token());
    let public_key = key.public_key();
    let signature = key.sign(b"checkpoint body").expect("sign");
    assert!(verify_signature(&public_key, b"checkpoint body", &signature));
    assert!(!verify_signature(&public_key, b"checkpoint bodY", &signature));
    // Ed25519 is deterministic: the token gives the same signature again.
    assert_eq!(key.sign(b"checkpoint body").expect("sign"), signature);
    let receipt = sign_detached(key, b"{\"grant_id\":\"g\"}").expect("receipt");
    assert!(verify_detached(&public_key, &receipt, b"{\"grant_id\":\"g\"}"));
    // The same public key after a restart.
    drop(provider);
    assert_eq!(open(&label).signing_key().public_key(), public_key);
}

#[test]
fn the_pepper_is_stable_across_sessions_and_restarts_and_differs_per_token() {
    let label = initialised_token();
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let provider = open(&label);
    let pepper = provider.pepper();
    let hash = pepper.subject_hash("https://eid.example", "subject-1").expect("hash");
    // The pool has two sessions: several calls go through both.
    for _ in 0..4 {
        assert_eq!(pepper.subject_hash("https://eid.example", "subject-1").expect("hash"), hash);
    }
    assert!(pepper.subject_hash_matches("https://eid.example", "subject-1", &hash).expect("match"));
    assert!(!pepper.subject_hash_matches("https://eid.example", "subject-2", &hash).expect("match"));
    assert_ne!(pepper.subject_hash("https://eid.example", "subject-2").expect("hash"), hash);
    let pseudonym = pepper.pairwise_pseudonym(&citizen, "wohngeldstelle").expect("pseudonym");
    assert_eq!(pseudonym.len(), 64);
    assert_ne!(pepper.pairwise_pseudonym(&citizen, "buergeramt").expect("pseudonym"), pseudonym);
    drop(provider);
    let reopened = open(&label);
    assert_eq!(reopened.pepper().subject_hash("https://eid.example", "subject-1").expect("hash"), hash);
    assert_eq!(reopened.pepper().pairwise_pseudonym(&citizen, "wohngeldstelle").expect("pseudonym"), pseudonym);
    let other = open(&initialised_token());
    assert_ne!(other.pepper().subject_hash("https://eid.example", "subject-1").expect("hash"), hash);
}

#[test]
fn the_token_hmac_is_hmac_sha256() {
    // The same construction as the in-memory pepper: a key imported into a
    // token (sensitive, for this test only) gives ring's HMAC.
    let label = softhsm::new_token("h");
    let session = test_session(&label);
    let secret = [42u8; 32];
    let handle = session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(secret.to_vec()),
            Attribute::Token(false),
            Attribute::Sign(true),
        ])
        .expect("import");
    let mac = session.sign(&Mechanism::Sha256Hmac, handle, b"message").expect("hmac");
    let expected = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret), b"message");
    assert_eq!(mac.as_slice(), expected.as_ref());
}

#[test]
fn start_up_refuses_a_wrong_pin_a_missing_token_module_or_key() {
    let label = initialised_token();
    let wrong = Pin::new("not-the-pin".into());
    let error = open_error(&label, &wrong);
    assert!(matches!(&error, CryptoError::WrongPin(token) if token == &label), "{error:?}");
    assert!(error.to_string().contains("refused the PIN"), "{error}");
    // The right PIN still works afterwards.
    open(&label);

    let error = open_error("no-such-token", &pin());
    assert!(matches!(&error, CryptoError::Token(problem) if problem.contains("no token labelled \"no-such-token\"")));

    let missing_module =
        TokenSettings { module: Path::new("/nonexistent/libpkcs11.so"), token_label: &label, pin: &pin(), sessions: 1 };
    let error = Pkcs11KeyProvider::open(&missing_module, SigningKeySource::Token).expect_err("no module");
    assert!(error.to_string().contains("/nonexistent/libpkcs11.so does not exist"), "{error}");

    // A token without keys: the message says to run `keys init`.
    let empty = softhsm::new_token("e");
    let error = open_error(&empty, &pin());
    assert!(error.to_string().contains("tresor keys init"), "{error}");

    // A token with the KEK but no pepper.
    let session = test_session(&empty);
    generate_kek(&session, 1).expect("kek");
    drop(session);
    let error = open_error(&empty, &pin());
    assert!(error.to_string().contains(PEPPER_LABEL), "{error}");
}

#[test]
fn init_refuses_a_token_that_holds_keys() {
    let label = initialised_token();
    let pin = pin();
    let error = Pkcs11KeyProvider::init(&settings(&label, &pin), SigningKeySource::Token).expect_err("second init");
    assert!(error.to_string().contains("already holds"), "{error}");
    // Nothing was added: still exactly one KEK.
    assert_eq!(open(&label).kek_versions, vec![1]);
}

#[test]
fn a_new_kek_version_wraps_and_the_old_one_still_unwraps() {
    let label = initialised_token();
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let old = open(&label).wrap_dek(&citizen, &dek).expect("wrap v1").1;
    let pin = pin();
    assert_eq!(Pkcs11KeyProvider::create_next_kek(&settings(&label, &pin)).expect("v2"), 2);
    let provider = open(&label);
    assert_eq!(provider.current_kek_version(), 2);
    let new = provider.wrap_dek(&citizen, &dek).expect("wrap v2").1;
    assert_eq!(provider.unwrap_dek(&citizen, 1, &old).expect("v1").expose_secret_bytes(), dek.expose_secret_bytes());
    assert_eq!(provider.unwrap_dek(&citizen, 2, &new).expect("v2").expose_secret_bytes(), dek.expose_secret_bytes());
    // Version binding: a v2 wrapping presented as v1 does not open.
    assert!(matches!(provider.unwrap_dek(&citizen, 1, &new), Err(CryptoError::Open)));
}

#[test]
fn the_provider_logs_in_again_after_the_token_logged_it_out() {
    let label = initialised_token();
    let provider = open(&label);
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped = provider.wrap_dek(&citizen, &dek).expect("wrap").1;
    // Login state belongs to the application: logging out one session logs
    // out the provider's sessions too (as a token reset would).
    let session = test_session(&label);
    session.logout().expect("logout");
    drop(session);
    for _ in 0..3 {
        let unwrapped = provider.unwrap_dek(&citizen, 1, &wrapped).expect("unwrap after the logout");
        assert_eq!(unwrapped.expose_secret_bytes(), dek.expose_secret_bytes());
        provider.signing_key().sign(b"after logout").expect("sign after the logout");
        provider.pepper().subject_hash("i", "s").expect("pepper after the logout");
    }
}

#[test]
fn the_signing_key_can_stay_in_a_sealed_file() {
    let label = softhsm::new_token("f");
    let pin = pin();
    let temp = tempfile::tempdir().expect("tempdir");
    let passphrase = Passphrase::new("signing key passphrase".into());
    let source = || SigningKeySource::File { dir: temp.path(), passphrase: &passphrase };
    let public_key = Pkcs11KeyProvider::init(&settings(&label, &pin), source()).expect("init");
    assert!(temp.path().join("signing-key.sealed").is_file());
    let session = test_session(&label);
    assert!(find_by_label(&session, SIGNING_LABEL).expect("find").is_empty(), "no signing key in the token");
    drop(session);
    let provider = Pkcs11KeyProvider::open(&settings(&label, &pin), source()).expect("open");
    assert!(!provider.signing_key().is_in_token());
    assert_eq!(provider.signing_key().public_key(), public_key);
    let signature = provider.signing_key().sign(b"m").expect("sign");
    assert!(verify_signature(&public_key, b"m", &signature));
    // KEK and pepper are still the token's.
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped = provider.wrap_dek(&citizen, &dek).expect("wrap").1;
    assert!(provider.unwrap_dek(&citizen, 1, &wrapped).is_ok());
    // A wrong passphrase for the file is the file provider's refusal.
    let wrong = Passphrase::new("wrong".into());
    let error = Pkcs11KeyProvider::open(
        &settings(&label, &pin),
        SigningKeySource::File { dir: temp.path(), passphrase: &wrong },
    )
    .expect_err("wrong passphrase");
    assert!(matches!(error, CryptoError::WrongPassphrase), "{error:?}");
}

#[test]
fn debug_shows_no_secret() {
    let label = initialised_token();
    let provider = open(&label);
    let text = format!("{provider:?} {:?} {:?} {:?}", provider.signing_key(), provider.pepper(), pin());
    assert!(text.contains(&label) && text.contains("[redacted]"), "{text}");
    assert!(!text.contains(softhsm::PIN), "{text}");
}

#[test]
fn a_pin_the_token_refuses_while_serving_fails_unavailable_and_is_not_tried_again() {
    let label = initialised_token();
    let provider = open(&label);
    let hash = provider.pepper().subject_hash("i", "s").expect("pepper");
    // Someone changes the PIN and the token drops the login (a reset).
    let session = test_session(&label);
    let old = AuthPin::new(softhsm::PIN.into());
    let new = AuthPin::new("changed-pin-1234".into());
    session.set_pin(&old, &new).expect("C_SetPIN");
    session.logout().expect("logout");
    drop(session);
    let error = provider.pepper().subject_hash("i", "s").expect_err("PIN refused");
    assert!(
        matches!(&error, CryptoError::TokenUnavailable(problem) if problem.contains("refused the PIN")),
        "{error:?}"
    );
    // Never tried again (tokens lock a PIN after a few failures), even once
    // the PIN is what it was: the provider needs a restart.
    let session = test_session_with_pin(&label, "changed-pin-1234");
    session.set_pin(&new, &old).expect("C_SetPIN back");
    drop(session);
    for _ in 0..3 {
        let error = provider.signing_key().sign(b"m").expect_err("not retried");
        assert!(matches!(error, CryptoError::TokenUnavailable(_)), "{error:?}");
    }
    assert_eq!(open(&label).pepper().subject_hash("i", "s").expect("after a restart"), hash);
}
