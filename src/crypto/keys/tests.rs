//! Key files: init and open, passphrase and tampering refusals, rotation, DEK
//! binding, signatures, the pepper, zeroizing and redacted Debug.

use std::path::PathBuf;

use super::*;

fn fast() -> KdfParams {
    KdfParams::fast_for_tests()
}

fn passphrase() -> Passphrase {
    Passphrase::new("correct horse battery staple".into())
}

fn initialised_dir() -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = temp.path().join("keys");
    FileKeyProvider::init(&dir, &passphrase(), fast(), &SystemRandom::new()).expect("init");
    (temp, dir)
}

fn expect_key_file_error(result: Result<FileKeyProvider>, expected_path: &Path) -> String {
    match result {
        Err(CryptoError::KeyFile { path, problem }) => {
            assert_eq!(path, expected_path, "{problem}");
            problem
        }
        other => panic!("expected KeyFile error for {}, got {other:?}", expected_path.display()),
    }
}

#[test]
fn init_then_open_round_trip() {
    let (_temp, dir) = initialised_dir();
    for name in ["kek-v1.sealed", "signing-key.sealed", "pepper.sealed", "signing-key.pub"] {
        let path = dir.join(name);
        assert!(path.is_file(), "{name}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).expect("metadata").permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }
    let sealed = fs::read_to_string(dir.join("pepper.sealed")).expect("read");
    let parsed: serde_json::Value = serde_json::from_str(&sealed).expect("json");
    assert_eq!(parsed["purpose"], PEPPER_PURPOSE);
    assert_eq!(parsed["kdf"]["memory_kib"], 8 * 1024);

    let first = FileKeyProvider::open(&dir, &passphrase()).expect("open");
    let second = FileKeyProvider::open(&dir, &passphrase()).expect("open again");
    assert_eq!(first.current_kek_version(), 1);
    assert_eq!(first.signing_key().public_key(), second.signing_key().public_key());
    let public_text = fs::read_to_string(dir.join("signing-key.pub")).expect("pub");
    assert_eq!(public_text.trim(), BASE64.encode(first.signing_key().public_key()));
    assert_eq!(
        first.pepper().subject_hash("iss", "sub").expect("key operation"),
        second.pepper().subject_hash("iss", "sub").expect("key operation")
    );
    let signature = first.signing_key().sign(b"checkpoint").expect("key operation");
    assert!(verify_signature(&second.signing_key().public_key(), b"checkpoint", &signature));
}

#[test]
fn dek_wrapped_before_reopening_unwraps_after() {
    let (_temp, dir) = initialised_dir();
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped = {
        let provider = FileKeyProvider::open(&dir, &passphrase()).expect("open");
        provider.wrap_dek(&citizen, &dek).expect("wrap").1
    };
    assert_eq!(wrapped.len(), WRAPPED_DEK_LEN);
    let reopened = FileKeyProvider::open(&dir, &passphrase()).expect("reopen");
    let unwrapped = reopened.unwrap_dek(&citizen, 1, &wrapped).expect("unwrap");
    assert_eq!(unwrapped.expose_secret_bytes(), dek.expose_secret_bytes());
}

#[test]
fn wrong_passphrase_is_reported() {
    let (_temp, dir) = initialised_dir();
    let result = FileKeyProvider::open(&dir, &Passphrase::new("Correct horse battery staple".into()));
    assert!(matches!(result, Err(CryptoError::WrongPassphrase)), "{result:?}");
}

#[test]
fn init_refuses_to_overwrite() {
    let (_temp, dir) = initialised_dir();
    let again = FileKeyProvider::init(&dir, &passphrase(), fast(), &SystemRandom::new());
    assert!(matches!(again, Err(CryptoError::AlreadyInitialised(path)) if path == dir.join("kek-v1.sealed")));

    // A single leftover file is enough to refuse, and nothing is written.
    let temp = tempfile::tempdir().expect("tempdir");
    fs::write(temp.path().join("pepper.sealed"), "{}").expect("write");
    let partial = FileKeyProvider::init(temp.path(), &passphrase(), fast(), &SystemRandom::new());
    assert!(matches!(partial, Err(CryptoError::AlreadyInitialised(path)) if path == temp.path().join("pepper.sealed")));
    assert!(!temp.path().join("kek-v1.sealed").exists());
    // So does a KEK of a later version.
    let temp = tempfile::tempdir().expect("tempdir");
    fs::write(temp.path().join("kek-v3.sealed"), "{}").expect("write");
    let later = FileKeyProvider::init(temp.path(), &passphrase(), fast(), &SystemRandom::new());
    assert!(matches!(later, Err(CryptoError::AlreadyInitialised(path)) if path == temp.path().join("kek-v3.sealed")));
}

#[test]
fn init_refuses_weak_kdf_params() {
    let temp = tempfile::tempdir().expect("tempdir");
    let weak = KdfParams { memory_kib: 1024, iterations: 1, parallelism: 1 };
    let result = FileKeyProvider::init(temp.path(), &passphrase(), weak, &SystemRandom::new());
    assert!(matches!(result, Err(CryptoError::KeyFile { .. })), "{result:?}");
}

#[test]
fn malformed_key_files_name_the_file() {
    let (_temp, dir) = initialised_dir();
    let signing = dir.join("signing-key.sealed");
    let original = fs::read_to_string(&signing).expect("read");

    fs::write(&signing, "not json").expect("write");
    let problem = expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &signing);
    assert!(problem.contains("malformed"), "{problem}");

    let mut value: serde_json::Value = serde_json::from_str(&original).expect("json");
    value["ciphertext"] = "AAAA".into();
    fs::write(&signing, value.to_string()).expect("write");
    expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &signing);

    // Weakened KDF parameters in the file are refused before deriving.
    let mut value: serde_json::Value = serde_json::from_str(&original).expect("json");
    value["kdf"]["memory_kib"] = 16.into();
    fs::write(&signing, value.to_string()).expect("write");
    expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &signing);

    fs::remove_file(&signing).expect("remove");
    let problem = expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &signing);
    assert_eq!(problem, "missing");
}

#[test]
fn tampered_key_file_after_good_kek_is_a_key_file_error() {
    let (_temp, dir) = initialised_dir();
    let pepper = dir.join("pepper.sealed");
    let mut value: serde_json::Value = serde_json::from_str(&fs::read_to_string(&pepper).expect("read")).expect("json");
    let mut ciphertext = BASE64.decode(value["ciphertext"].as_str().expect("str")).expect("b64");
    ciphertext[0] ^= 1;
    value["ciphertext"] = BASE64.encode(ciphertext).into();
    fs::write(&pepper, value.to_string()).expect("write");
    let problem = expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &pepper);
    assert!(problem.contains("does not open"), "{problem}");
}

#[test]
fn swapped_key_files_are_refused() {
    // The pepper file copied over the signing key file: its purpose (the
    // AAD) names the pepper, so it must not be accepted as a signing key.
    let (_temp, dir) = initialised_dir();
    let signing = dir.join("signing-key.sealed");
    fs::copy(dir.join("pepper.sealed"), &signing).expect("copy");
    expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &signing);

    // Same with the purpose field rewritten to match: the AAD check catches it.
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&signing).expect("read")).expect("json");
    value["purpose"] = SIGNING_KEY_PURPOSE.into();
    fs::write(&signing, value.to_string()).expect("write");
    let problem = expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &signing);
    assert!(problem.contains("does not open"), "{problem}");
}

#[test]
fn public_key_file_must_match() {
    let (_temp, dir) = initialised_dir();
    let public = dir.join("signing-key.pub");
    fs::write(&public, format!("{}\n", BASE64.encode([7u8; 32]))).expect("write");
    expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &public);
}

#[test]
fn oddly_named_kek_file_is_refused() {
    let (_temp, dir) = initialised_dir();
    let odd = dir.join("kek-v01.sealed");
    fs::copy(dir.join("kek-v1.sealed"), &odd).expect("copy");
    expect_key_file_error(FileKeyProvider::open(&dir, &passphrase()), &odd);
}

#[test]
fn rotation_keeps_old_deks_readable() {
    let (_temp, dir) = initialised_dir();
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped_v1 =
        FileKeyProvider::open(&dir, &passphrase()).expect("open").wrap_dek(&citizen, &dek).expect("wrap").1;

    let wrong = FileKeyProvider::rotate_kek(&dir, &Passphrase::new("nope".into()), fast(), &rng);
    assert!(matches!(wrong, Err(CryptoError::WrongPassphrase)));
    assert_eq!(FileKeyProvider::rotate_kek(&dir, &passphrase(), fast(), &rng).expect("rotate"), 2);

    let provider = FileKeyProvider::open(&dir, &passphrase()).expect("open");
    assert_eq!(provider.current_kek_version(), 2);
    let old = provider.unwrap_dek(&citizen, 1, &wrapped_v1).expect("unwrap v1");
    let wrapped_v2 = provider.wrap_dek(&citizen, &old).expect("re-wrap").1;
    let new = provider.unwrap_dek(&citizen, 2, &wrapped_v2).expect("unwrap v2");
    assert_eq!(new.expose_secret_bytes(), dek.expose_secret_bytes());
    // Under the wrong version label each fails.
    assert!(matches!(provider.unwrap_dek(&citizen, 2, &wrapped_v1), Err(CryptoError::Open)));
    assert!(matches!(provider.unwrap_dek(&citizen, 1, &wrapped_v2), Err(CryptoError::Open)));
}

#[test]
fn a_serving_provider_picks_up_a_kek_added_by_rotation() {
    let (_temp, dir) = initialised_dir();
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let serving = FileKeyProvider::open(&dir, &passphrase()).expect("open");
    assert!(!serving.refresh().expect("nothing new"), "no new version yet");

    // `keys rotate-kek` in another process adds v2 and re-wraps with it.
    FileKeyProvider::rotate_kek(&dir, &passphrase(), fast(), &rng).expect("rotate");
    let rotating = FileKeyProvider::open(&dir, &passphrase()).expect("open");
    let wrapped_v2 = rotating.wrap_dek(&citizen, &dek).expect("wrap v2").1;
    assert!(matches!(serving.unwrap_dek(&citizen, 2, &wrapped_v2), Err(CryptoError::UnknownKekVersion(2))));

    assert!(serving.refresh().expect("refresh"), "v2 picked up");
    assert_eq!(serving.current_kek_version(), 2, "new keys are wrapped with the newest KEK");
    let opened = serving.unwrap_dek(&citizen, 2, &wrapped_v2).expect("unwrap v2 after refresh");
    assert_eq!(opened.expose_secret_bytes(), dek.expose_secret_bytes());
    assert!(!serving.refresh().expect("again"), "nothing new the second time");
}

#[test]
fn a_retired_kek_is_opened_only_for_rotation() {
    let (_temp, dir) = initialised_dir();
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped_v1 =
        FileKeyProvider::open(&dir, &passphrase()).expect("open").wrap_dek(&citizen, &dek).expect("wrap").1;
    assert!(FileKeyProvider::retire_kek(&dir, 1).is_err(), "the current KEK is never retired");
    FileKeyProvider::rotate_kek(&dir, &passphrase(), fast(), &rng).expect("rotate");
    assert!(matches!(FileKeyProvider::retire_kek(&dir, 7), Err(CryptoError::UnknownKekVersion(7))));

    let moved = FileKeyProvider::retire_kek(&dir, 1).expect("retire v1");
    assert_eq!(moved, dir.join("retired").join("kek-v1.sealed"));
    assert!(!dir.join("kek-v1.sealed").exists());

    let serving = FileKeyProvider::open(&dir, &passphrase()).expect("open without v1");
    assert_eq!(serving.kek_versions(), vec![2]);
    assert!(matches!(serving.unwrap_dek(&citizen, 1, &wrapped_v1), Err(CryptoError::UnknownKekVersion(1))));
    let rotation = FileKeyProvider::open_with_retired(&dir, &passphrase()).expect("open with retired");
    assert_eq!(rotation.kek_versions(), vec![1, 2]);
    assert_eq!(rotation.current_kek_version(), 2);
    let opened = rotation.unwrap_dek(&citizen, 1, &wrapped_v1).expect("a straggler still opens for rotation");
    assert_eq!(opened.expose_secret_bytes(), dek.expose_secret_bytes());
    // The next rotation numbers past the retired version too.
    assert_eq!(FileKeyProvider::rotate_kek(&dir, &passphrase(), fast(), &rng).expect("rotate"), 3);
}

#[test]
fn unwrap_binds_citizen_and_kek_version() {
    // Same key bytes under versions 1 and 2, so only the AAD differs.
    let provider = FileKeyProvider::with_test_keks(&[(1, [5; 32]), (2, [5; 32])]);
    let rng = SystemRandom::new();
    let citizen = CitizenId::generate(&rng);
    let other_citizen = CitizenId::generate(&rng);
    let dek = DataKey::generate(&rng).expect("dek");
    let wrapped = provider.wrap_dek(&citizen, &dek).expect("wrap").1;
    assert!(provider.unwrap_dek(&citizen, 2, &wrapped).is_ok());

    assert!(matches!(provider.unwrap_dek(&other_citizen, 2, &wrapped), Err(CryptoError::Open)));
    assert!(matches!(provider.unwrap_dek(&citizen, 1, &wrapped), Err(CryptoError::Open)));
    assert!(matches!(provider.unwrap_dek(&citizen, 3, &wrapped), Err(CryptoError::UnknownKekVersion(3))));
    for byte in 0..wrapped.len() {
        let mut tampered = wrapped.clone();
        tampered[byte] ^= 0x10;
        assert!(matches!(provider.unwrap_dek(&citizen, 2, &tampered), Err(CryptoError::Open)), "byte {byte}");
    }
    assert!(matches!(provider.unwrap_dek(&citizen, 2, &wrapped[..59]), Err(CryptoError::Open)));
    assert!(matches!(provider.unwrap_dek(&citizen, 2, &[]), Err(CryptoError::Open)));
}

#[test]
fn a_draft_key_opens_only_for_its_draft_and_never_as_a_dek() {
    let provider = FileKeyProvider::with_test_keks(&[(1, [5; 32])]);
    let rng = SystemRandom::new();
    let (draft, other_draft) = ([1u8; 32], [2u8; 32]);
    let key = DataKey::generate(&rng).expect("key");
    let wrapped = provider.wrap_draft_key(&draft, &key).expect("wrap").1;
    let unwrapped = provider.unwrap_draft_key(&draft, 1, &wrapped).expect("unwrap");
    let sealed = key.draft_key(&draft).seal(&rng, &draft, b"born.day=31").expect("seal");
    assert_eq!(unwrapped.draft_key(&draft).open(&draft, &sealed).expect("open"), b"born.day=31");
    assert!(matches!(provider.unwrap_draft_key(&other_draft, 1, &wrapped), Err(CryptoError::Open)));
    // A draft key is not a DEK, and a DEK's wrapping is not a draft key's.
    let citizen = CitizenId::generate(&rng);
    assert!(matches!(provider.unwrap_dek(&citizen, 1, &wrapped), Err(CryptoError::Open)));
    let wrapped_dek = provider.wrap_dek(&citizen, &key).expect("wrap dek").1;
    assert!(matches!(provider.unwrap_draft_key(&draft, 1, &wrapped_dek), Err(CryptoError::Open)));
    // The sealed draft is bound to its draft hash.
    assert!(matches!(key.draft_key(&other_draft).open(&other_draft, &sealed), Err(CryptoError::Open)));
    assert!(matches!(key.draft_key(&draft).open(&other_draft, &sealed), Err(CryptoError::Open)));
}

#[test]
fn another_providers_kek_fails() {
    let rng = SystemRandom::new();
    let a = FileKeyProvider::ephemeral(&rng).expect("a");
    let b = FileKeyProvider::ephemeral(&rng).expect("b");
    let citizen = CitizenId::generate(&rng);
    let wrapped = a.wrap_dek(&citizen, &DataKey::generate(&rng).expect("dek")).expect("wrap").1;
    assert!(matches!(b.unwrap_dek(&citizen, 1, &wrapped), Err(CryptoError::Open)));
    assert_ne!(a.signing_key().public_key(), b.signing_key().public_key());
}

/// RFC 8032 section 7.1, TEST 1, through the seed path `open` uses.
#[test]
fn ed25519_known_answer_rfc8032_test_1() {
    let seed: [u8; 32] = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = SigningKey::from_seed(&seed).expect("key");
    assert_eq!(hex::encode(key.public_key()), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    let signature = key.sign(b"").expect("key operation");
    assert_eq!(
        hex::encode(signature),
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    );
    assert!(verify_signature(&key.public_key(), b"", &signature));
    assert!(!verify_signature(&key.public_key(), b"x", &signature));
    let mut bad = signature;
    bad[10] ^= 1;
    assert!(!verify_signature(&key.public_key(), b"", &bad));
    assert!(!verify_signature(&key.public_key(), b"", &signature[..63]));
}

/// The signer is aws-lc-rs, the verifier ring: both must agree with each
/// other (Ed25519 is deterministic, so signatures are byte-identical).
#[test]
fn signatures_equal_rings_and_verify_with_ring() {
    use ring::signature::KeyPair as _;
    let rng = SystemRandom::new();
    for length in [0usize, 1, 63, 64, 65, 1000, 4097] {
        let mut seed = [0u8; 32];
        rng.fill(&mut seed).expect("random");
        let ours = SigningKey::from_seed(&seed).expect("key");
        let rings = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).expect("ring key");
        let mut message = vec![0u8; length];
        rng.fill(&mut message).expect("random");
        assert_eq!(ours.public_key().as_slice(), rings.public_key().as_ref());
        let signature = ours.sign(&message).expect("key operation");
        assert_eq!(signature.as_slice(), rings.sign(&message).as_ref(), "message length {length}");
        assert!(verify_signature(&ours.public_key(), &message, &signature));
    }
}

#[test]
fn pepper_outputs_are_pinned_and_separated() {
    let pepper = IdentifierPepper::from_secret(&[1; 32]);
    let citizen: CitizenId = "c1".repeat(16).parse().expect("id");
    assert_eq!(
        hex::encode(pepper.subject_hash("https://eid.example", "subject-1").expect("key operation")),
        PINNED_SUBJECT_HASH
    );
    assert_eq!(pepper.pairwise_pseudonym(&citizen, "wohngeldstelle").expect("key operation"), PINNED_PAIRWISE);

    let hash = pepper.subject_hash("https://eid.example", "subject-1").expect("key operation");
    assert!(pepper.subject_hash_matches("https://eid.example", "subject-1", &hash).expect("key operation"));
    assert!(!pepper.subject_hash_matches("https://eid.example", "subject-2", &hash).expect("key operation"));
    assert!(!pepper.subject_hash_matches("https://eid.example", "subject-1", &hash[..31]).expect("key operation"));
    // Framing: moving bytes between issuer and subject changes the hash.
    assert_ne!(
        pepper.subject_hash("ab", "c").expect("key operation"),
        pepper.subject_hash("a", "bc").expect("key operation")
    );
    // Pseudonyms differ per department and per citizen, and per pepper.
    let other: CitizenId = "c2".repeat(16).parse().expect("id");
    assert_ne!(
        pepper.pairwise_pseudonym(&citizen, "a").expect("key operation"),
        pepper.pairwise_pseudonym(&citizen, "b").expect("key operation")
    );
    assert_ne!(
        pepper.pairwise_pseudonym(&citizen, "a").expect("key operation"),
        pepper.pairwise_pseudonym(&other, "a").expect("key operation")
    );
    let other_pepper = IdentifierPepper::from_secret(&[2; 32]);
    assert_ne!(
        pepper.pairwise_pseudonym(&citizen, "a").expect("key operation"),
        other_pepper.pairwise_pseudonym(&citizen, "a").expect("key operation")
    );
    assert_eq!(pepper.pairwise_pseudonym(&citizen, "a").expect("key operation").len(), 64);
}
// Computed once, cross-checked against an independent Python implementation.
const PINNED_SUBJECT_HASH: &str = "c48042c31d67d95fc2a25987f19346e6a7f277e53da61609f05ce2f931c72d49";
const PINNED_PAIRWISE: &str = "bc1e34cebbfa1d63b369c31bb224efac023b39bca0e6e7497b34031e46414dde";

#[test]
fn kek_round_keys_zeroize_on_drop() {
    // Compile-time check: if the `aes/zeroize` feature in Cargo.toml goes
    // away, the KEK's expanded key would linger in freed memory.
    fn assert_zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    assert_zeroize_on_drop::<aes::Aes256>();
    assert_zeroize_on_drop::<DataKey>();
    assert_zeroize_on_drop::<Passphrase>();
}

#[test]
fn debug_output_hides_secrets() {
    let rng = SystemRandom::new();
    let provider = FileKeyProvider::ephemeral(&rng).expect("keys");
    assert_eq!(format!("{:?}", Passphrase::new("hunter2".into())), "Passphrase([redacted])");
    assert_eq!(format!("{:?}", provider.signing_key()), "SigningKey([redacted])");
    assert_eq!(format!("{:?}", provider.pepper()), "IdentifierPepper([redacted])");
    assert_eq!(format!("{provider:?}"), "FileKeyProvider { kek_versions: [1], current_kek_version: 1, .. }");
}
