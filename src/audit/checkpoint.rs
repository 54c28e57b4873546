//! Signed checkpoints of the audit log in the C2SP tlog-checkpoint format: a
//! C2SP signed note (Ed25519, signature type 0x01) whose text is origin, tree
//! size and base64 root hash. Notes made here verify with the note
//! ecosystem's tools given [`verifier_key`]; pure code, no I/O.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::audit::merkle::Hash;
use crate::crypto::{SigningKey, verify_signature};

/// Signature type byte of Ed25519 in C2SP signed-note.
const ED25519_SIGNATURE_TYPE: u8 = 0x01;
/// Every signature line starts with an em dash (U+2014) and a space.
pub(crate) const SIGNATURE_LINE_PREFIX: &str = "\u{2014} ";
/// The spec asks verifiers to accept at least 16; the Go reference accepts
/// up to 100. More than that is refused as malformed, to bound the work.
const MAX_SIGNATURES: usize = 100;

/// A tree head: the log `origin`, the number of leaves and the Merkle root.
///
/// `origin` must be one non-empty line without control characters
/// (`open_signed` refuses anything else); tresor uses a schema-less URL such
/// as `tresor.example-stadt.de/audit`, which also serves as the key name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

/// Why a signed checkpoint was refused. Messages name the problem, never
/// more of the note than key names.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckpointError {
    /// The text is not a signed note (C2SP signed-note syntax).
    #[error("malformed signed note: {0}")]
    MalformedNote(&'static str),
    /// The signed text is not a checkpoint body (C2SP tlog-checkpoint).
    #[error("malformed checkpoint body: {0}")]
    MalformedBody(&'static str),
    /// The second line is not a decimal tree size without leading zeros.
    #[error("checkpoint tree size is not a decimal number without leading zeros")]
    SizeNotANumber,
    /// The third line is not the standard base64 encoding of 32 bytes.
    #[error("checkpoint root hash is not the base64 encoding of a 32-byte hash")]
    BadRootHash,
    /// No signature line carries the expected key name and key id.
    #[error("the note has no signature by key {0}")]
    NoSignatureByKey(String),
    /// A signature line of the expected key does not verify.
    #[error("the signature by key {0} is invalid")]
    SignatureInvalid(String),
    /// A verifier key string is not `<name>+<hex key id>+<base64 key>`.
    #[error("malformed verifier key: {0}")]
    MalformedVerifierKey(&'static str),
}

impl Checkpoint {
    /// Note body: "<origin>\n<size>\n<base64 root>\n".
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, BASE64.encode(self.root))
    }

    /// The signed note: body, a blank line, and one signature line
    /// "— <key name> <base64(key id || Ed25519 signature)>". `key_name` must
    /// be a valid note key name (see [`is_valid_key_name`]); by convention
    /// it is the origin.
    /// Fails only when the key is in a token that cannot be reached.
    pub fn sign(&self, key_name: &str, key: &SigningKey) -> Result<String, crate::crypto::CryptoError> {
        sign_note(&self.body(), key_name, &key.public_key(), |text| key.sign(text))
    }
}

/// Parse a signed checkpoint and verify it against one trusted key.
///
/// Signature lines of other keys are ignored, as the spec demands (witness
/// cosignatures, rotated keys). Every line of the trusted key (same name
/// and key id) must verify, and at least one must be present. The body is
/// only parsed after its signature has been verified. Extension lines after
/// the root hash are allowed by the spec and ignored here; tresor never
/// writes them.
pub fn open_signed(note: &str, key_name: &str, public_key: &[u8; 32]) -> Result<Checkpoint, CheckpointError> {
    let text = verified_note_text(note, key_name, public_key)?;
    parse_body(text)
}

/// Key id per C2SP signed-note: the first four bytes of
/// SHA-256(key name || "\n" || 0x01 || public key).
pub fn key_id(key_name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    typed_key_id(key_name, ED25519_SIGNATURE_TYPE, public_key)
}

/// Key id of a key of signature type `key_type` (0x01 Ed25519 note
/// signatures, 0x04 Ed25519 cosignatures).
pub(crate) fn typed_key_id(key_name: &str, key_type: u8, public_key: &[u8; 32]) -> [u8; 4] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    context.update(key_name.as_bytes());
    context.update(b"\n");
    context.update(&[key_type]);
    context.update(public_key);
    let digest = context.finish();
    let mut id = [0u8; 4];
    id.copy_from_slice(&digest.as_ref()[..4]);
    id
}

/// The verifier key in the note ecosystem's format,
/// "<name>+<hex key id>+<base64(0x01 || public key)>", as accepted by
/// golang.org/x/mod/sumdb/note and the transparency-dev tools.
pub fn verifier_key(key_name: &str, public_key: &[u8; 32]) -> String {
    typed_verifier_key(key_name, ED25519_SIGNATURE_TYPE, public_key)
}

pub(crate) fn typed_verifier_key(key_name: &str, key_type: u8, public_key: &[u8; 32]) -> String {
    let mut typed_key = Vec::with_capacity(33);
    typed_key.push(key_type);
    typed_key.extend_from_slice(public_key);
    format!("{key_name}+{}+{}", hex::encode(typed_key_id(key_name, key_type, public_key)), BASE64.encode(typed_key))
}

/// Parse a verifier key made by [`verifier_key`] (or by another note
/// implementation) into key name and Ed25519 public key, checking that the
/// key id in it matches.
pub fn parse_verifier_key(verifier_key: &str) -> Result<(String, [u8; 32]), CheckpointError> {
    parse_typed_verifier_key(verifier_key, ED25519_SIGNATURE_TYPE)
}

/// [`parse_verifier_key`] for keys of signature type `key_type`.
pub(crate) fn parse_typed_verifier_key(
    verifier_key: &str,
    key_type: u8,
) -> Result<(String, [u8; 32]), CheckpointError> {
    let mut parts = verifier_key.splitn(3, '+');
    let (Some(name), Some(id_hex), Some(key_base64)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(CheckpointError::MalformedVerifierKey("expected <name>+<key id>+<key>"));
    };
    if !is_valid_key_name(name) {
        return Err(CheckpointError::MalformedVerifierKey("invalid key name"));
    }
    if id_hex.len() != 8 || !id_hex.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(CheckpointError::MalformedVerifierKey("key id is not 8 hex digits"));
    }
    let typed_key =
        BASE64.decode(key_base64).map_err(|_| CheckpointError::MalformedVerifierKey("key is not base64"))?;
    let Some((key_bytes_type, key_bytes)) = typed_key.split_first() else {
        return Err(CheckpointError::MalformedVerifierKey("empty key"));
    };
    if *key_bytes_type != key_type {
        return Err(CheckpointError::MalformedVerifierKey(match key_type {
            ED25519_SIGNATURE_TYPE => "not an Ed25519 note key (type 0x01)",
            _ => "not an Ed25519 cosignature key (type 0x04)",
        }));
    }
    let public_key: [u8; 32] =
        key_bytes.try_into().map_err(|_| CheckpointError::MalformedVerifierKey("Ed25519 key is not 32 bytes"))?;
    if !id_hex.eq_ignore_ascii_case(&hex::encode(typed_key_id(name, key_type, &public_key))) {
        return Err(CheckpointError::MalformedVerifierKey("key id does not match the key"));
    }
    Ok((name.to_owned(), public_key))
}

/// A note key name is non-empty and has no Unicode space and no '+'.
pub fn is_valid_key_name(key_name: &str) -> bool {
    !key_name.is_empty() && !key_name.contains(|c: char| c.is_whitespace() || c == '+')
}

/// One "— <name> <base64>" line of a note.
pub(crate) struct SignatureLine<'a> {
    pub(crate) key_name: &'a str,
    pub(crate) key_id: [u8; 4],
    pub(crate) signature: Vec<u8>,
}

/// Build a signed note over `text` (which ends in a newline). The signing
/// function is a parameter so the published reference vector can be
/// reproduced from its seed in tests.
fn sign_note<E>(
    text: &str,
    key_name: &str,
    public_key: &[u8; 32],
    sign: impl FnOnce(&[u8]) -> Result<[u8; 64], E>,
) -> Result<String, E> {
    let mut blob = Vec::with_capacity(68);
    blob.extend_from_slice(&key_id(key_name, public_key));
    blob.extend_from_slice(&sign(text.as_bytes())?);
    Ok(format!("{text}\n{SIGNATURE_LINE_PREFIX}{key_name} {}\n", BASE64.encode(blob)))
}

/// Split a signed note and verify it against the trusted key; returns the
/// note text (ending in its newline) only if it verified.
pub(crate) fn verified_note_text<'a>(
    note: &'a str,
    key_name: &str,
    public_key: &[u8; 32],
) -> Result<&'a str, CheckpointError> {
    let (text, signatures) = split_note(note)?;
    let expected_id = key_id(key_name, public_key);
    let mut verified = false;
    for line in signatures.iter().filter(|line| line.key_name == key_name && line.key_id == expected_id) {
        // A known key whose signature fails rejects the whole note (the
        // spec's SHOULD), rather than letting a second line outvote it.
        if !verify_signature(public_key, text.as_bytes(), &line.signature) {
            return Err(CheckpointError::SignatureInvalid(key_name.to_owned()));
        }
        verified = true;
    }
    if !verified {
        return Err(CheckpointError::NoSignatureByKey(key_name.to_owned()));
    }
    Ok(text)
}

/// C2SP signed-note syntax: text ending in a newline, a blank line, then
/// one or more signature lines, each ending in a newline.
pub(crate) fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), CheckpointError> {
    if note.chars().any(|c| c < ' ' && c != '\n') {
        return Err(CheckpointError::MalformedNote("contains control characters"));
    }
    if !note.ends_with('\n') {
        return Err(CheckpointError::MalformedNote("does not end with a newline"));
    }
    // The text may contain blank lines; the last one separates it from the
    // signatures.
    let Some(blank_line) = note.rfind("\n\n") else {
        return Err(CheckpointError::MalformedNote("no blank line before the signatures"));
    };
    let text = &note[..blank_line + 1];
    let signature_block = &note[blank_line + 2..];
    let Some(signature_block) = signature_block.strip_suffix('\n') else {
        return Err(CheckpointError::MalformedNote("no signature lines"));
    };
    let mut signatures = Vec::new();
    for line in signature_block.split('\n') {
        if signatures.len() == MAX_SIGNATURES {
            return Err(CheckpointError::MalformedNote("too many signature lines"));
        }
        signatures.push(parse_signature_line(line)?);
    }
    Ok((text, signatures))
}

fn parse_signature_line(line: &str) -> Result<SignatureLine<'_>, CheckpointError> {
    let Some(rest) = line.strip_prefix(SIGNATURE_LINE_PREFIX) else {
        return Err(CheckpointError::MalformedNote("a line after the blank line is not a signature line"));
    };
    let Some((key_name, signature_base64)) = rest.rsplit_once(' ') else {
        return Err(CheckpointError::MalformedNote("signature line without key name"));
    };
    if !is_valid_key_name(key_name) {
        return Err(CheckpointError::MalformedNote("invalid key name in a signature line"));
    }
    let blob =
        BASE64.decode(signature_base64).map_err(|_| CheckpointError::MalformedNote("signature is not base64"))?;
    if blob.len() < 5 {
        return Err(CheckpointError::MalformedNote("signature is too short"));
    }
    let (id, signature) = blob.split_at(4);
    let mut key_id = [0u8; 4];
    key_id.copy_from_slice(id);
    Ok(SignatureLine { key_name, key_id, signature: signature.to_vec() })
}

/// C2SP tlog-checkpoint note text: origin, size, root hash, then optional
/// non-empty extension lines.
pub(crate) fn parse_body(text: &str) -> Result<Checkpoint, CheckpointError> {
    // `split_note` guarantees the trailing newline.
    let lines: Vec<&str> = text.strip_suffix('\n').unwrap_or(text).split('\n').collect();
    if lines.len() < 3 {
        return Err(CheckpointError::MalformedBody("fewer than three lines (origin, size, root hash)"));
    }
    if lines[0].is_empty() {
        return Err(CheckpointError::MalformedBody("empty origin line"));
    }
    if lines[3..].iter().any(|line| line.is_empty()) {
        return Err(CheckpointError::MalformedBody("empty extension line"));
    }
    let size = parse_size(lines[1])?;
    let root_bytes = BASE64.decode(lines[2]).map_err(|_| CheckpointError::BadRootHash)?;
    let root: Hash = root_bytes.try_into().map_err(|_| CheckpointError::BadRootHash)?;
    Ok(Checkpoint { origin: lines[0].to_owned(), size, root })
}

/// ASCII decimal, no sign, no leading zeros except for "0" itself.
fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    if line.is_empty() || !line.bytes().all(|byte| byte.is_ascii_digit()) || (line.len() > 1 && line.starts_with('0')) {
        return Err(CheckpointError::SizeNotANumber);
    }
    line.parse().map_err(|_| CheckpointError::SizeNotANumber)
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;
    use ring::signature::{Ed25519KeyPair, KeyPair};

    use super::*;
    use crate::audit::merkle::{leaf_hash, root};
    use crate::crypto::{FileKeyProvider, KeyProvider};

    const ORIGIN: &str = "tresor.example-stadt.de/audit";

    // Published vectors from golang.org/x/mod, sumdb/note/note_test.go
    // (golang/mod): TestNewVerifier, TestSign, TestOpen.
    const PETER_VERIFIER_KEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SIGNER_KEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VERIFIER_KEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const NOTE_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const PETER_SIGNATURE_LINE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIGNATURE_LINE: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    // A real checkpoint of the Go checksum database, as published in
    // sigsum/sigsum-go, pkg/checkpoint/checkpoint_test.go
    // (TestGoSumDBCheckpoint, retrieved from sum.golang.org/latest), with
    // the sum.golang.org verifier key from the Go distribution.
    const GO_SUMDB_VERIFIER_KEY: &str = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";
    const GO_SUMDB_CHECKPOINT: &str = "go.sum database tree\n30055305\nmXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=\n\n\u{2014} sum.golang.org Az3grpgEild5qw7+5dtV13Kf1C2Xurm8q4fhdxvcsDHnqNTaxL2AFjBY+2TyGKevucFcAAlWFJJYle3EJlDCrQ+y3A8=\n";

    fn test_keys() -> FileKeyProvider {
        FileKeyProvider::ephemeral(&SystemRandom::new()).expect("ephemeral keys")
    }

    fn test_checkpoint() -> Checkpoint {
        let leaves: Vec<Hash> = (0..5).map(|n| leaf_hash(format!("entry {n}").as_bytes())).collect();
        Checkpoint { origin: ORIGIN.to_owned(), size: 5, root: root(&leaves) }
    }

    /// A note over arbitrary text, signed by `keys`' key under ORIGIN.
    fn sign_text(text: &str, keys: &FileKeyProvider) -> String {
        let key = keys.signing_key();
        sign_note(text, ORIGIN, &key.public_key(), |message| key.sign(message)).expect("sign")
    }

    fn open_text(note: &str, keys: &FileKeyProvider) -> Result<Checkpoint, CheckpointError> {
        open_signed(note, ORIGIN, &keys.signing_key().public_key())
    }

    #[test]
    fn body_has_the_checkpoint_layout() {
        let checkpoint = Checkpoint { origin: ORIGIN.to_owned(), size: 0, root: crate::audit::merkle::empty_root() };
        assert_eq!(checkpoint.body(), format!("{ORIGIN}\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"));
    }

    #[test]
    fn signed_note_round_trips() {
        let keys = test_keys();
        let checkpoint = test_checkpoint();
        let note = checkpoint.sign(ORIGIN, keys.signing_key()).expect("sign");
        assert!(note.starts_with(&format!("{}\n\u{2014} {ORIGIN} ", checkpoint.body())));
        assert!(note.ends_with('\n'));
        assert_eq!(open_text(&note, &keys), Ok(checkpoint));
    }

    #[test]
    fn signature_line_holds_key_id_and_64_byte_signature() {
        let keys = test_keys();
        let note = test_checkpoint().sign(ORIGIN, keys.signing_key()).expect("sign");
        let line = note.lines().last().expect("signature line");
        let blob = BASE64.decode(line.rsplit_once(' ').expect("space").1).expect("base64");
        assert_eq!(blob.len(), 4 + 64);
        assert_eq!(blob[..4], key_id(ORIGIN, &keys.signing_key().public_key()));
    }

    #[test]
    fn tampered_size_root_or_origin_is_an_invalid_signature() {
        let keys = test_keys();
        let checkpoint = test_checkpoint();
        let note = checkpoint.sign(ORIGIN, keys.signing_key()).expect("sign");
        let signature_part = &note[checkpoint.body().len()..];
        let invalid = Err(CheckpointError::SignatureInvalid(ORIGIN.to_owned()));

        let bigger = Checkpoint { size: 6, ..checkpoint.clone() };
        assert_eq!(open_text(&format!("{}{signature_part}", bigger.body()), &keys), invalid);
        let mut other_root = checkpoint.root;
        other_root[31] ^= 1;
        let rerooted = Checkpoint { root: other_root, ..checkpoint.clone() };
        assert_eq!(open_text(&format!("{}{signature_part}", rerooted.body()), &keys), invalid);
        let renamed = Checkpoint { origin: "tresor.example-stadt.de/other".to_owned(), ..checkpoint.clone() };
        assert_eq!(open_text(&format!("{}{signature_part}", renamed.body()), &keys), invalid);
        // A flipped signature byte, keeping the key id.
        let line = note.lines().last().expect("signature line");
        let mut blob = BASE64.decode(line.rsplit_once(' ').expect("space").1).expect("base64");
        blob[10] ^= 1;
        let forged = format!("{}\n\u{2014} {ORIGIN} {}\n", checkpoint.body(), BASE64.encode(&blob));
        assert_eq!(open_text(&forged, &keys), invalid);
    }

    #[test]
    fn wrong_key_or_key_name_finds_no_signature() {
        let keys = test_keys();
        let other_keys = test_keys();
        let note = test_checkpoint().sign(ORIGIN, keys.signing_key()).expect("sign");
        assert_eq!(open_text(&note, &other_keys), Err(CheckpointError::NoSignatureByKey(ORIGIN.to_owned())));
        let public_key = keys.signing_key().public_key();
        assert_eq!(
            open_signed(&note, "tresor.example/other", &public_key),
            Err(CheckpointError::NoSignatureByKey("tresor.example/other".to_owned()))
        );
    }

    #[test]
    fn foreign_signature_lines_are_ignored() {
        let keys = test_keys();
        let checkpoint = test_checkpoint();
        let note = checkpoint.sign(ORIGIN, keys.signing_key()).expect("sign");
        // A witness's line (the published EnochRoot line), before and after.
        assert_eq!(open_text(&format!("{note}{ENOCH_SIGNATURE_LINE}"), &keys), Ok(checkpoint.clone()));
        let body = checkpoint.body();
        let own_line = &note[body.len() + 1..];
        let reordered = format!("{body}\n{ENOCH_SIGNATURE_LINE}{own_line}");
        assert_eq!(open_text(&reordered, &keys), Ok(checkpoint.clone()));
        // Same name, other key id (e.g. a rotated key): not ours, ignored.
        let other_keys = test_keys();
        let other_note = checkpoint.sign(ORIGIN, other_keys.signing_key()).expect("sign");
        let other_line = &other_note[body.len() + 1..];
        assert_eq!(open_text(&format!("{note}{other_line}"), &keys), Ok(checkpoint));
    }

    #[test]
    fn malformed_notes_are_refused() {
        let keys = test_keys();
        let checkpoint = test_checkpoint();
        let note = checkpoint.sign(ORIGIN, keys.signing_key()).expect("sign");
        let body = checkpoint.body();
        let line = &note[body.len() + 1..];
        let malformed = |note: &str| match open_text(note, &keys) {
            Err(CheckpointError::MalformedNote(_)) => {}
            other => panic!("expected a malformed note for {note:?}, got {other:?}"),
        };
        malformed(&format!("{body}{line}")); // missing blank line
        malformed(&note[..note.len() - 1]); // missing final newline
        malformed(&body); // no signatures at all
        malformed(&format!("{body}\n")); // blank line, no signature lines
        malformed(&format!("{note}Unexpected line.\n"));
        malformed(&format!("{body}\n- {ORIGIN} AAAA\n")); // ASCII hyphen, not an em dash
        malformed(&note.replace(ORIGIN, "tresor+audit")); // '+' in key name
        malformed(&format!("{body}\n\u{2014} {ORIGIN} not*base64\n"));
        malformed(&format!("{body}\n\u{2014} {ORIGIN} AAAAAA==\n")); // key id without signature
        malformed(&format!("{body}\n\u{2014} {ORIGIN}\n")); // no signature
        malformed(&format!("\u{1}{note}")); // control character
        malformed(&note.replace('\n', "\r\n"));
        malformed(&format!("{note}{}", ENOCH_SIGNATURE_LINE.repeat(MAX_SIGNATURES)));
    }

    #[test]
    fn enough_signature_lines_are_accepted() {
        let keys = test_keys();
        let checkpoint = test_checkpoint();
        let note = checkpoint.sign(ORIGIN, keys.signing_key()).expect("sign");
        let crowded = format!("{note}{}", ENOCH_SIGNATURE_LINE.repeat(MAX_SIGNATURES - 1));
        assert_eq!(open_text(&crowded, &keys), Ok(checkpoint));
    }

    #[test]
    fn malformed_checkpoint_bodies_are_refused_after_verification() {
        let keys = test_keys();
        let root_b64 = BASE64.encode(test_checkpoint().root);
        let open_body = |body: &str| open_text(&sign_text(body, &keys), &keys);

        for size in ["12x", "0x10", "+5", "-1", "05", "00", " 5", "5 ", "18446744073709551616", "1e3", ""] {
            assert_eq!(open_body(&format!("{ORIGIN}\n{size}\n{root_b64}\n")), Err(CheckpointError::SizeNotANumber));
        }
        assert_eq!(open_body(&format!("{ORIGIN}\n0\n{root_b64}\n")).map(|c| c.size), Ok(0));
        assert_eq!(open_body(&format!("{ORIGIN}\n18446744073709551615\n{root_b64}\n")).map(|c| c.size), Ok(u64::MAX));

        let short_root = BASE64.encode([7u8; 31]);
        let unpadded_root = root_b64.trim_end_matches('=').to_owned();
        let url_safe_root = base64::engine::general_purpose::URL_SAFE.encode([0xfb; 32]);
        for bad_root in [short_root.as_str(), unpadded_root.as_str(), url_safe_root.as_str(), "not base64!", ""] {
            assert_eq!(open_body(&format!("{ORIGIN}\n5\n{bad_root}\n")), Err(CheckpointError::BadRootHash));
        }

        let malformed_body = |body: &str| match open_body(body) {
            Err(CheckpointError::MalformedBody(_)) => {}
            other => panic!("expected a malformed body for {body:?}, got {other:?}"),
        };
        malformed_body(&format!("{ORIGIN}\n5\n")); // two lines
        malformed_body(&format!("{ORIGIN}\n")); // one line
        malformed_body(&format!("\n5\n{root_b64}\n")); // empty origin
        // The text may contain blank lines as a note, but a checkpoint's
        // extension lines must be non-empty.
        malformed_body(&format!("{ORIGIN}\n5\n{root_b64}\n\nextension\n"));
    }

    #[test]
    fn non_empty_extension_lines_are_allowed_and_ignored() {
        let keys = test_keys();
        let checkpoint = test_checkpoint();
        let body = format!("{}extension one\nextension two\n", checkpoint.body());
        assert_eq!(open_text(&sign_text(&body, &keys), &keys), Ok(checkpoint));
    }

    #[test]
    fn key_id_and_verifier_key_match_the_published_go_vectors() {
        for published in [PETER_VERIFIER_KEY, ENOCH_VERIFIER_KEY, GO_SUMDB_VERIFIER_KEY] {
            let (name, public_key) = parse_verifier_key(published).expect("published key parses");
            assert_eq!(verifier_key(&name, &public_key), published);
            let id_hex = published.split('+').nth(1).expect("key id");
            assert_eq!(hex::encode(key_id(&name, &public_key)), id_hex);
        }
        let (name, _) = parse_verifier_key(PETER_VERIFIER_KEY).expect("parses");
        assert_eq!(name, "PeterNeumann");
    }

    #[test]
    fn mangled_verifier_keys_are_refused() {
        let mut candidates = vec![
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(), // wrong key id
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==".to_owned(),
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(), // not Ed25519
            "PeterNeumann+c74f20a3".to_owned(),
            "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW".to_owned(),
        ];
        // Every proper prefix, as in the Go reference's TestNewVerifier.
        candidates.extend((0..PETER_VERIFIER_KEY.len()).map(|end| PETER_VERIFIER_KEY[..end].to_owned()));
        for candidate in candidates {
            assert!(
                matches!(parse_verifier_key(&candidate), Err(CheckpointError::MalformedVerifierKey(_))),
                "accepted {candidate:?}"
            );
        }
    }

    #[test]
    fn published_go_note_verifies_with_its_published_key() {
        let (peter_name, peter_key) = parse_verifier_key(PETER_VERIFIER_KEY).expect("parses");
        let (enoch_name, enoch_key) = parse_verifier_key(ENOCH_VERIFIER_KEY).expect("parses");
        let note = format!("{NOTE_TEXT}\n{PETER_SIGNATURE_LINE}{ENOCH_SIGNATURE_LINE}");
        assert_eq!(verified_note_text(&note, &peter_name, &peter_key), Ok(NOTE_TEXT));
        assert_eq!(verified_note_text(&note, &enoch_name, &enoch_key), Ok(NOTE_TEXT));
        // Only Enoch signed this one.
        let enoch_only = format!("{NOTE_TEXT}\n{ENOCH_SIGNATURE_LINE}");
        assert_eq!(
            verified_note_text(&enoch_only, &peter_name, &peter_key),
            Err(CheckpointError::NoSignatureByKey(peter_name.clone()))
        );
        // TestOpen's "invalid signature": four characters inserted at byte 60.
        let mangled_line = format!("{}ABCD{}", &PETER_SIGNATURE_LINE[..60], &PETER_SIGNATURE_LINE[60..]);
        let mangled = format!("{NOTE_TEXT}\n{mangled_line}");
        assert_eq!(
            verified_note_text(&mangled, &peter_name, &peter_key),
            Err(CheckpointError::SignatureInvalid(peter_name.clone()))
        );
        // TestOpen's bad message syntax.
        let bad_name = PETER_SIGNATURE_LINE.replace("PeterNeumann", "Bad Name");
        for bad in [
            NOTE_TEXT.to_owned(),
            format!("{NOTE_TEXT}\n"),
            format!("{NOTE_TEXT}\n{}", PETER_SIGNATURE_LINE.trim_end_matches('\n')),
            format!("\u{1}{NOTE_TEXT}\n{PETER_SIGNATURE_LINE}"),
            format!("{NOTE_TEXT}\n{}", bad_name.trim_end_matches('\n')),
            format!("{NOTE_TEXT}\n{bad_name}"),
            format!("{NOTE_TEXT}\n{PETER_SIGNATURE_LINE}Unexpected line.\n"),
        ] {
            assert!(
                matches!(verified_note_text(&bad, &peter_name, &peter_key), Err(CheckpointError::MalformedNote(_))),
                "accepted {bad:?}"
            );
        }
    }

    #[test]
    fn signing_reproduces_the_published_go_note_byte_for_byte() {
        // The Go signer key is "PRIVATE+KEY+<name>+<id>+base64(0x01 || seed)".
        // The base64 part may itself contain '+'.
        let encoded_seed = PETER_SIGNER_KEY.splitn(5, '+').nth(4).expect("seed part");
        let typed_seed = BASE64.decode(encoded_seed).expect("base64");
        assert_eq!(typed_seed[0], ED25519_SIGNATURE_TYPE);
        let key_pair = Ed25519KeyPair::from_seed_unchecked(&typed_seed[1..]).expect("seed");
        let public_key: [u8; 32] = key_pair.public_key().as_ref().try_into().expect("32 bytes");
        assert_eq!(verifier_key("PeterNeumann", &public_key), PETER_VERIFIER_KEY);

        let note = sign_note(NOTE_TEXT, "PeterNeumann", &public_key, |message| {
            Ok::<[u8; 64], ()>(key_pair.sign(message).as_ref().try_into().expect("64 bytes"))
        })
        .expect("sign");
        assert_eq!(note, format!("{NOTE_TEXT}\n{PETER_SIGNATURE_LINE}"));
    }

    #[test]
    fn published_go_sumdb_checkpoint_opens() {
        let (key_name, public_key) = parse_verifier_key(GO_SUMDB_VERIFIER_KEY).expect("parses");
        let checkpoint = open_signed(GO_SUMDB_CHECKPOINT, &key_name, &public_key).expect("verifies");
        assert_eq!(checkpoint.origin, "go.sum database tree");
        assert_eq!(checkpoint.size, 30_055_305);
        assert_eq!(BASE64.encode(checkpoint.root), "mXfgRcJ0bG0j3CPdKwgGWtUzBUbX67saZGRmFuJGGsM=");
        // Our body formatting is byte-identical to the signed text.
        assert!(GO_SUMDB_CHECKPOINT.starts_with(&format!("{}\n\u{2014} ", checkpoint.body())));
        // And one changed digit breaks it.
        let tampered = GO_SUMDB_CHECKPOINT.replace("30055305", "30055306");
        assert_eq!(
            open_signed(&tampered, &key_name, &public_key),
            Err(CheckpointError::SignatureInvalid(key_name.clone()))
        );
    }

    #[test]
    fn key_names() {
        assert!(is_valid_key_name(ORIGIN));
        assert!(is_valid_key_name("sum.golang.org"));
        for bad in ["", "a b", "a+b", "a\u{a0}b", "tab\there"] {
            assert!(!is_valid_key_name(bad), "{bad:?}");
        }
    }
}
