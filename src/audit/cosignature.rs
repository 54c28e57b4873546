//! Witness cosignatures (C2SP tlog-cosignature, Ed25519 `cosignature/v1`)
//! and the request body of the C2SP tlog-witness `add-checkpoint` call.
//! Pure code, no I/O: the witness server (`crate::witness`) and the vault's
//! witness client (`audit::witnessing`) both build on it, so the two sides
//! cannot disagree about the format.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::checkpoint::{
    CheckpointError, SIGNATURE_LINE_PREFIX, is_valid_key_name, parse_typed_verifier_key, split_note, typed_key_id,
    typed_verifier_key,
};
use super::merkle::Hash;
use crate::crypto::{SigningKey, verify_signature};

/// Signature type byte of Ed25519 cosignatures (C2SP tlog-cosignature).
pub const COSIGNATURE_TYPE: u8 = 0x04;
/// A client must not send more consistency proof lines than this.
pub const MAX_PROOF_LINES: usize = 63;
/// Key id (4) + timestamp (8) + Ed25519 signature (64).
const COSIGNATURE_BLOB_LEN: usize = 76;

/// A witness's public identity: its name and Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CosignerKey {
    pub name: String,
    pub public_key: [u8; 32],
}

impl CosignerKey {
    /// Parse a cosigner verifier key `<name>+<hex id>+<base64(0x04 || key)>`.
    pub fn parse(verifier_key: &str) -> Result<Self, CheckpointError> {
        let (name, public_key) = parse_typed_verifier_key(verifier_key, COSIGNATURE_TYPE)?;
        Ok(Self { name, public_key })
    }

    /// The verifier key string (see [`CosignerKey::parse`]).
    pub fn verifier_key(&self) -> String {
        typed_verifier_key(&self.name, COSIGNATURE_TYPE, &self.public_key)
    }

    pub fn key_id(&self) -> [u8; 4] {
        typed_key_id(&self.name, COSIGNATURE_TYPE, &self.public_key)
    }
}

/// The message an Ed25519 cosignature signs: "cosignature/v1", the time
/// line, then the checkpoint's note text (without signature lines).
pub fn cosigned_message(note_text: &str, timestamp: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {timestamp}\n{note_text}").into_bytes()
}

/// One cosignature line "— <name> base64(key id || timestamp || signature)\n"
/// over `note_text` (the checkpoint text, ending in its newline).
/// Fails only when the key is in a token that cannot be reached.
pub fn cosign(
    note_text: &str,
    name: &str,
    key: &SigningKey,
    timestamp: u64,
) -> Result<String, crate::crypto::CryptoError> {
    let cosigner = CosignerKey { name: name.to_owned(), public_key: key.public_key() };
    let mut blob = Vec::with_capacity(COSIGNATURE_BLOB_LEN);
    blob.extend_from_slice(&cosigner.key_id());
    blob.extend_from_slice(&timestamp.to_be_bytes());
    blob.extend_from_slice(&key.sign(&cosigned_message(note_text, timestamp))?);
    Ok(format!("{SIGNATURE_LINE_PREFIX}{name} {}\n", BASE64.encode(blob)))
}

/// Why a cosignature was not accepted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CosignatureError {
    #[error(transparent)]
    Note(#[from] CheckpointError),
    /// No signature line carries the cosigner's name and key id.
    #[error("no cosignature by {0}")]
    Missing(String),
    /// A line with the cosigner's name and key id does not verify.
    #[error("the cosignature by {0} is invalid")]
    Invalid(String),
}

/// Verify the cosignature of `cosigner` on a signed note (the checkpoint
/// with its signature lines, cosignatures among them) and return its
/// timestamp. Lines of other keys are ignored; every line of this cosigner
/// must verify (as for the log's own key).
pub fn verify_cosignature(note: &str, cosigner: &CosignerKey) -> Result<u64, CosignatureError> {
    let (text, lines) = split_note(note)?;
    let key_id = cosigner.key_id();
    let mut newest = None;
    for line in lines.iter().filter(|line| line.key_name == cosigner.name && line.key_id == key_id) {
        // `signature` is what follows the key id: timestamp || signature.
        let Ok::<&[u8; 72], _>(rest) = line.signature.as_slice().try_into() else {
            return Err(CosignatureError::Invalid(cosigner.name.clone()));
        };
        let (timestamp, signature) = rest.split_at(8);
        let timestamp = u64::from_be_bytes(timestamp.try_into().unwrap_or_default());
        if timestamp > i64::MAX as u64
            || !verify_signature(&cosigner.public_key, &cosigned_message(text, timestamp), signature)
        {
            return Err(CosignatureError::Invalid(cosigner.name.clone()));
        }
        newest = newest.max(Some(timestamp));
    }
    newest.ok_or_else(|| CosignatureError::Missing(cosigner.name.clone()))
}

/// The signature lines of a witness's `add-checkpoint` answer (or any block
/// of note signature lines): each starts with "— " and ends in a newline.
/// Returns the lines (with their newline) of key `name`.
pub fn signature_lines_of<'a>(block: &'a str, name: &str) -> Result<Vec<&'a str>, CheckpointError> {
    if block.is_empty() || !block.ends_with('\n') {
        return Err(CheckpointError::MalformedNote("signature lines must end with a newline"));
    }
    let mut found = Vec::new();
    for line in block.split_inclusive('\n') {
        let Some(rest) = line.strip_prefix(SIGNATURE_LINE_PREFIX) else {
            return Err(CheckpointError::MalformedNote("a line is not a signature line"));
        };
        let Some((key_name, _)) = rest.trim_end_matches('\n').rsplit_once(' ') else {
            return Err(CheckpointError::MalformedNote("signature line without key name"));
        };
        if !is_valid_key_name(key_name) {
            return Err(CheckpointError::MalformedNote("invalid key name in a signature line"));
        }
        if key_name == name {
            found.push(line);
        }
    }
    Ok(found)
}

/// An `add-checkpoint` request: the size of the checkpoint the client
/// believes the witness has, a consistency proof from it, and the new
/// checkpoint (a signed note).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Hash>,
    pub checkpoint: String,
}

/// Why an `add-checkpoint` body is malformed (the witness answers 400).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed add-checkpoint request: {0}")]
pub struct MalformedRequest(pub &'static str);

impl AddCheckpoint {
    /// The request body: "old <size>\n", one base64 hash per line, a blank
    /// line, the checkpoint.
    pub fn body(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            body.push_str(&BASE64.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// Parse a request body (C2SP tlog-witness). Only the syntax is checked
    /// here; the checkpoint's signature and the proof are the witness's job.
    pub fn parse(body: &str) -> Result<Self, MalformedRequest> {
        let Some((old_line, rest)) = body.split_once('\n') else {
            return Err(MalformedRequest("no old size line"));
        };
        let old_size = old_line
            .strip_prefix("old ")
            .and_then(parse_decimal)
            .ok_or(MalformedRequest("the first line must be \"old <size>\" in decimal without leading zeros"))?;
        let mut proof = Vec::new();
        let mut rest = rest;
        loop {
            let Some((line, after)) = rest.split_once('\n') else {
                return Err(MalformedRequest("no blank line before the checkpoint"));
            };
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(MalformedRequest("more than 63 consistency proof lines"));
            }
            let hash = BASE64
                .decode(line)
                .ok()
                .and_then(|bytes| Hash::try_from(bytes).ok())
                .ok_or(MalformedRequest("a proof line is not the base64 encoding of a 32-byte hash"))?;
            proof.push(hash);
        }
        if rest.is_empty() {
            return Err(MalformedRequest("no checkpoint after the blank line"));
        }
        Ok(Self { old_size, proof, checkpoint: rest.to_owned() })
    }
}

/// ASCII decimal without sign or leading zeros ("0" itself allowed).
pub fn parse_decimal(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) || (text.len() > 1 && text.starts_with('0')) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::checkpoint::Checkpoint;
    use crate::audit::merkle::empty_root;

    fn witness_key() -> SigningKey {
        SigningKey::from_seed_for_tests(&[4u8; 32])
    }

    fn signed_checkpoint() -> (String, String) {
        let log_key = SigningKey::from_seed_for_tests(&[1u8; 32]);
        let checkpoint = Checkpoint { origin: "example.org/audit".to_owned(), size: 3, root: [7u8; 32] };
        (checkpoint.body(), checkpoint.sign("example.org/audit", &log_key).expect("sign"))
    }

    #[test]
    fn a_cosignature_verifies_and_names_its_time() {
        let (text, note) = signed_checkpoint();
        let line = cosign(&text, "witness.example/w1", &witness_key(), 1_679_315_147).expect("cosign");
        let cosigner = CosignerKey { name: "witness.example/w1".to_owned(), public_key: witness_key().public_key() };
        assert_eq!(verify_cosignature(&format!("{note}{line}"), &cosigner), Ok(1_679_315_147));
        // The signed message is the documented one.
        assert!(cosigned_message(&text, 5).starts_with(b"cosignature/v1\ntime 5\nexample.org/audit\n3\n"));
    }

    #[test]
    fn a_cosignature_over_other_text_or_by_another_key_is_refused() {
        let (_, note) = signed_checkpoint();
        let cosigner = CosignerKey { name: "witness.example/w1".to_owned(), public_key: witness_key().public_key() };
        let other_text = Checkpoint { origin: "example.org/audit".to_owned(), size: 4, root: [7u8; 32] }.body();
        let wrong = cosign(&other_text, "witness.example/w1", &witness_key(), 10).expect("cosign");
        assert_eq!(
            verify_cosignature(&format!("{note}{wrong}"), &cosigner),
            Err(CosignatureError::Invalid("witness.example/w1".to_owned()))
        );
        let other_key = SigningKey::from_seed_for_tests(&[5u8; 32]);
        let foreign = cosign(&other_text, "witness.example/w1", &other_key, 10).expect("cosign");
        assert_eq!(
            verify_cosignature(&format!("{note}{foreign}"), &cosigner),
            Err(CosignatureError::Missing("witness.example/w1".to_owned())),
            "another key has another key id: its line is ignored"
        );
    }

    #[test]
    fn cosigner_keys_round_trip_and_are_not_note_keys() {
        let cosigner = CosignerKey { name: "witness.example/w1".to_owned(), public_key: witness_key().public_key() };
        let vkey = cosigner.verifier_key();
        assert_eq!(CosignerKey::parse(&vkey), Ok(cosigner.clone()));
        let note_key = crate::audit::checkpoint::verifier_key("witness.example/w1", &cosigner.public_key);
        assert!(CosignerKey::parse(&note_key).is_err(), "a 0x01 key is not a cosigner key");
    }

    #[test]
    fn add_checkpoint_bodies_round_trip() {
        let (_, note) = signed_checkpoint();
        let request = AddCheckpoint { old_size: 2, proof: vec![[1u8; 32], [2u8; 32]], checkpoint: note };
        assert_eq!(AddCheckpoint::parse(&request.body()), Ok(request.clone()));
        let empty = AddCheckpoint { old_size: 0, proof: vec![], checkpoint: request.checkpoint.clone() };
        assert!(empty.body().starts_with("old 0\n\n"));
        assert_eq!(AddCheckpoint::parse(&empty.body()), Ok(empty));
    }

    #[test]
    fn malformed_add_checkpoint_bodies_are_refused() {
        let (_, note) = signed_checkpoint();
        let hash = BASE64.encode([1u8; 32]);
        for body in [
            String::new(),
            format!("old 01\n\n{note}"),
            format!("old -1\n\n{note}"),
            format!("old  1\n\n{note}"),
            format!("new 1\n\n{note}"),
            format!("old 1\n{hash}\n{note}"),
            format!("old 1\nnot base64!\n\n{note}"),
            format!("old 1\n{}\n\n{note}", BASE64.encode([1u8; 31])),
            "old 1\n\n".to_owned(),
            format!("old 1\n{}\n{note}", format!("{hash}\n").repeat(64)),
        ] {
            assert!(AddCheckpoint::parse(&body).is_err(), "{body:?} must be refused");
        }
        assert_eq!(BASE64.encode(empty_root()).len(), 44);
    }

    #[test]
    fn signature_lines_are_picked_by_name() {
        let block = "\u{2014} a.example/w k1\n\u{2014} b.example/w k2\n";
        assert_eq!(signature_lines_of(block, "b.example/w"), Ok(vec!["\u{2014} b.example/w k2\n"]));
        assert!(signature_lines_of("garbage\n", "b.example/w").is_err());
        assert!(signature_lines_of("\u{2014} a.example/w k1", "a.example/w").is_err());
    }
}
