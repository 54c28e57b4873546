//! `tresor witness serve`: a small, independent witness for tresor audit
//! logs (and any C2SP tlog-checkpoint log with an Ed25519 key), speaking the
//! C2SP tlog-witness protocol and answering with Ed25519 cosignatures (C2SP
//! tlog-cosignature `cosignature/v1`). Meant to be run by someone other
//! than the city: the state data-protection authority or a neighbouring
//! city. It keeps, per known log, the latest checkpoint it cosigned in a
//! SQLite file, and refuses to cosign anything that is not an append-only
//! extension of it, so a log that is rolled back or shows different
//! versions to different people is caught.
//!
//! Invariant: the check of the old size against the stored checkpoint and
//! the update of the stored checkpoint happen in one transaction under one
//! lock, and the new checkpoint is durable before its cosignature is
//! returned (C2SP tlog-witness, "MUST persist ... atomically").

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use zeroize::Zeroizing;

use crate::audit::checkpoint::{
    CheckpointError, key_id, parse_body, parse_verifier_key, split_note, verified_note_text,
};
use crate::audit::cosignature::{AddCheckpoint, COSIGNATURE_TYPE, CosignerKey, cosign};
use crate::audit::merkle::{Hash, empty_root, verify_consistency};
use crate::crypto::SigningKey;

/// Request bodies above this are refused with 413: 63 proof lines and a
/// checkpoint with a hundred signatures fit many times over.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Prefix of a private key file (the note ecosystem's format).
const PRIVATE_KEY_PREFIX: &str = "PRIVATE+KEY+";

/// The witness's signing identity.
pub struct WitnessKey {
    name: String,
    key: SigningKey,
}

impl WitnessKey {
    /// The private key file's text:
    /// `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || seed)>`.
    fn private_text(&self, seed: &[u8; 32]) -> Zeroizing<String> {
        let mut typed = Zeroizing::new(Vec::with_capacity(33));
        typed.push(COSIGNATURE_TYPE);
        typed.extend_from_slice(seed);
        Zeroizing::new(format!(
            "{PRIVATE_KEY_PREFIX}{}+{}+{}\n",
            self.name,
            hex::encode(self.cosigner().key_id()),
            BASE64.encode(typed.as_slice())
        ))
    }

    /// Read a key file written by [`WitnessKey::write_new`].
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|error| anyhow::anyhow!("reading the witness key {}: {error}", path.display()))?,
        );
        let malformed =
            || anyhow::anyhow!("{} is not a witness key file (PRIVATE+KEY+<name>+<id>+<key>)", path.display());
        let rest = text.trim_end().strip_prefix(PRIVATE_KEY_PREFIX).ok_or_else(malformed)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_base64)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed());
        };
        let typed = Zeroizing::new(BASE64.decode(key_base64).map_err(|_| malformed())?);
        let Some((&COSIGNATURE_TYPE, seed)) = typed.split_first() else {
            return Err(malformed());
        };
        let seed: Zeroizing<[u8; 32]> = Zeroizing::new(seed.try_into().map_err(|_| malformed())?);
        let key = Self { name: name.to_owned(), key: SigningKey::from_seed(&seed)? };
        anyhow::ensure!(
            id_hex.eq_ignore_ascii_case(&hex::encode(key.cosigner().key_id())),
            "{}: the key id does not match the key",
            path.display()
        );
        Ok(key)
    }

    /// Generate a key and write it to `path` (mode 0600; refuses to
    /// overwrite an existing file).
    pub fn write_new(name: &str, path: &Path) -> anyhow::Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut seed = Zeroizing::new([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), seed.as_mut())
            .map_err(|_| anyhow::anyhow!("no randomness from the operating system"))?;
        anyhow::ensure!(
            crate::audit::checkpoint::is_valid_key_name(name),
            "the witness name must be non-empty, without spaces or '+'"
        );
        let key = Self { name: name.to_owned(), key: SigningKey::from_seed(&seed)? };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|error| anyhow::anyhow!("creating {}: {error}", path.display()))?;
        file.write_all(key.private_text(&seed).as_bytes())?;
        file.sync_all()?;
        Ok(key)
    }

    pub fn cosigner(&self) -> CosignerKey {
        CosignerKey { name: self.name.clone(), public_key: self.key.public_key() }
    }
}

/// Why a submission was refused, with the protocol's status for each.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the body or the checkpoint is malformed, or old size > size.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no log with this origin is known to the witness.
    #[error("unknown log origin")]
    UnknownOrigin,
    /// 403: no valid signature by a trusted key of the log.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the old size is not the size of the latest cosigned checkpoint.
    #[error("the old size does not match the latest cosigned checkpoint, of size {0}")]
    Conflict(u64),
    /// 422: the checkpoint is not consistent with the latest cosigned one.
    #[error("{0}")]
    Inconsistent(String),
    /// 500: the witness's own storage failed; nothing was cosigned.
    #[error("the witness could not store the checkpoint")]
    Storage,
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::UnknownOrigin => StatusCode::NOT_FOUND,
            Refusal::Forbidden(_) => StatusCode::FORBIDDEN,
            Refusal::Conflict(_) => StatusCode::CONFLICT,
            Refusal::Inconsistent(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::Storage => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            // The protocol's machine-readable answer: the size, in decimal.
            Refusal::Conflict(size) => {
                (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{size}\n"))
                    .into_response()
            }
            other => (other.status(), [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{other}\n"))
                .into_response(),
        }
    }
}

/// A witness: its key, the logs it knows, and its durable state.
pub struct Witness {
    key: WitnessKey,
    /// Origin → the log's trusted Ed25519 keys (key name, public key).
    logs: HashMap<String, Vec<(String, [u8; 32])>>,
    db: Mutex<rusqlite::Connection>,
}

impl Witness {
    /// Open (or create) the state file and know the logs given by their
    /// verifier keys (`<origin>+<id>+<key>`; the key name is the origin, as
    /// for tresor's logs).
    pub fn open(key: WitnessKey, log_keys: &[String], db_path: &Path) -> anyhow::Result<Self> {
        let mut logs: HashMap<String, Vec<(String, [u8; 32])>> = HashMap::new();
        for verifier_key in log_keys {
            let (name, public_key) = parse_verifier_key(verifier_key)
                .map_err(|error| anyhow::anyhow!("log key {verifier_key:?}: {error}"))?;
            logs.entry(name.clone()).or_default().push((name, public_key));
        }
        anyhow::ensure!(!logs.is_empty(), "give at least one log key (--log <origin>+<id>+<key>)");
        let db = rusqlite::Connection::open(db_path)
            .map_err(|error| anyhow::anyhow!("opening the witness state {}: {error}", db_path.display()))?;
        db.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA busy_timeout = 5000;
             CREATE TABLE IF NOT EXISTS witnessed (
                 origin TEXT PRIMARY KEY,
                 size INTEGER NOT NULL CHECK (size >= 0),
                 root BLOB NOT NULL CHECK (length(root) = 32),
                 note TEXT NOT NULL
             );",
        )?;
        Ok(Self { key, logs, db: Mutex::new(db) })
    }

    pub fn cosigner(&self) -> CosignerKey {
        self.key.cosigner()
    }

    /// Handle an `add-checkpoint` body; on success, the cosignature line(s).
    pub fn add_checkpoint(&self, body: &[u8], now_unix: u64) -> Result<String, Refusal> {
        let body = std::str::from_utf8(body).map_err(|_| Refusal::BadRequest("the body is not UTF-8".to_owned()))?;
        let request = AddCheckpoint::parse(body).map_err(|error| Refusal::BadRequest(error.to_string()))?;
        // Signed-note syntax first: a malformed note is 400 whatever its first line.
        split_note(&request.checkpoint).map_err(|error| Refusal::BadRequest(error.to_string()))?;
        let origin = request.checkpoint.split('\n').next().unwrap_or_default();
        let trusted = self.logs.get(origin).ok_or(Refusal::UnknownOrigin)?;
        let (text, kept_lines) = verify_by_any(&request.checkpoint, trusted)?;
        let checkpoint = parse_body(text).map_err(|error| Refusal::BadRequest(error.to_string()))?;
        if checkpoint.origin != origin {
            return Err(Refusal::BadRequest("malformed checkpoint origin".to_owned()));
        }
        if request.old_size > checkpoint.size {
            return Err(Refusal::BadRequest("the old size is larger than the checkpoint's size".to_owned()));
        }
        if checkpoint.size == 0 && checkpoint.root != empty_root() {
            return Err(Refusal::Inconsistent("a checkpoint of size 0 must have the empty tree's root".to_owned()));
        }
        let mut db = self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let transaction = db
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|error| storage_failed(&error))?;
        let stored: Option<(u64, Vec<u8>)> = transaction
            .query_row("SELECT size, root FROM witnessed WHERE origin = ?1", [origin], |row| {
                Ok((row.get::<_, i64>(0)? as u64, row.get(1)?))
            })
            .map(Some)
            .or_else(|error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                error => Err(error),
            })
            .map_err(|error| storage_failed(&error))?;
        let (stored_size, stored_root) = match stored {
            Some((size, root)) => (size, Hash::try_from(root).map_err(|_| Refusal::Storage)?),
            None => (0, empty_root()),
        };
        if request.old_size != stored_size {
            return Err(Refusal::Conflict(stored_size));
        }
        if request.old_size == 0 && !request.proof.is_empty() {
            return Err(Refusal::Inconsistent("a proof from size 0 must be empty".to_owned()));
        }
        if request.old_size == checkpoint.size && stored_root != checkpoint.root {
            tracing::warn!(origin, size = checkpoint.size, "two different roots for one size: the log forked");
            return Err(Refusal::Inconsistent(
                "the root differs from the cosigned checkpoint of the same size".to_owned(),
            ));
        }
        if verify_consistency(request.old_size, checkpoint.size, &stored_root, &checkpoint.root, &request.proof)
            .is_err()
        {
            tracing::warn!(
                origin,
                old = request.old_size,
                new = checkpoint.size,
                "a signed checkpoint is not consistent with the one cosigned before: the log forked or was rewritten"
            );
            return Err(Refusal::Inconsistent("the consistency proof does not verify".to_owned()));
        }
        let cosignature = cosign(text, &self.key.name, &self.key.key, now_unix).map_err(|error| {
            tracing::error!(%error, "witness signing key");
            Refusal::Storage
        })?;
        let note = format!("{text}\n{kept_lines}{cosignature}");
        transaction
            .execute(
                "INSERT INTO witnessed (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, note = excluded.note",
                rusqlite::params![origin, checkpoint.size as i64, checkpoint.root.as_slice(), note],
            )
            .map_err(|error| storage_failed(&error))?;
        transaction.commit().map_err(|error| storage_failed(&error))?;
        tracing::info!(origin, size = checkpoint.size, "cosigned");
        Ok(cosignature)
    }

    /// The latest cosigned checkpoint of the log whose origin hashes (SHA-256,
    /// lowercase hex) to `origin_hash`, with the log's and this witness's
    /// signatures.
    pub fn latest(&self, origin_hash: &str) -> Result<Option<String>, Refusal> {
        let Some(origin) = self.logs.keys().find(|origin| origin_hash_hex(origin) == origin_hash) else {
            return Ok(None);
        };
        let db = self.db.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        db.query_row("SELECT note FROM witnessed WHERE origin = ?1", [origin], |row| row.get(0)).map(Some).or_else(
            |error| match error {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                error => Err(storage_failed(&error)),
            },
        )
    }
}

/// Lowercase hex SHA-256 of an origin line (the monitoring path's key).
pub fn origin_hash_hex(origin: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, origin.as_bytes()))
}

fn storage_failed(error: &rusqlite::Error) -> Refusal {
    tracing::error!(%error, "witness state");
    Refusal::Storage
}

/// Verify the note with any of the log's trusted keys; the note text and the
/// signature lines of the key that verified (to keep beside the cosignature).
fn verify_by_any<'a>(note: &'a str, trusted: &[(String, [u8; 32])]) -> Result<(&'a str, String), Refusal> {
    let mut refusal = Refusal::Forbidden("no signature by a trusted key of this log".to_owned());
    for (name, public_key) in trusted {
        match verified_note_text(note, name, public_key) {
            Ok(text) => {
                let prefix = format!("\u{2014} {name} ");
                let id = key_id(name, public_key);
                let kept: String = note[text.len() + 1..]
                    .split_inclusive('\n')
                    .filter(|line| {
                        line.strip_prefix(&prefix)
                            .and_then(|blob| BASE64.decode(blob.trim_end()).ok())
                            .is_some_and(|blob| blob.starts_with(&id))
                    })
                    .collect();
                return Ok((text, kept));
            }
            Err(CheckpointError::NoSignatureByKey(_)) => {}
            Err(CheckpointError::SignatureInvalid(name)) => {
                refusal = Refusal::Forbidden(format!("the signature by {name} does not verify"));
                return Err(refusal);
            }
            Err(error) => return Err(Refusal::BadRequest(error.to_string())),
        }
    }
    Err(refusal)
}

/// The witness's HTTP interface: `POST /add-checkpoint` and
/// `GET /<origin hash>/checkpoint` (submission and monitoring prefix are
/// the root).
pub fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(latest_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(witness)
}

async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    // SQLite with synchronous=FULL waits for the disk: off the runtime.
    let result =
        tokio::task::spawn_blocking(move || witness.add_checkpoint(&body, now)).await.unwrap_or(Err(Refusal::Storage));
    match result {
        Ok(cosignature) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], cosignature).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

async fn latest_checkpoint(State(witness): State<Arc<Witness>>, UrlPath(origin_hash): UrlPath<String>) -> Response {
    let result =
        tokio::task::spawn_blocking(move || witness.latest(&origin_hash)).await.unwrap_or(Err(Refusal::Storage));
    match result {
        Ok(Some(note)) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note).into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "no checkpoint of this log was cosigned\n").into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// Serve until `shutdown` resolves, with the vault's accept loop and its
/// connection limits (header-read and idle timeouts, connection caps).
/// Prints the address it listens on (with the port chosen when `listen`
/// asks for port 0) and the verifier key.
pub async fn serve(
    witness: Arc<Witness>,
    listen: SocketAddr,
    limits: crate::http::listener::ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("listening on {listen}: {error}"))?;
    let address = listener.local_addr()?;
    println!("witness key: {}", witness.cosigner().verifier_key());
    println!("tresor witness listening on http://{address}");
    crate::http::listener::serve(listener, None, router(witness), limits, shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::checkpoint::{Checkpoint, verifier_key};
    use crate::audit::cosignature::verify_cosignature;
    use crate::audit::merkle::{TreeBuilder, consistency_proof, leaf_hash};

    const ORIGIN: &str = "vault.example/audit";

    fn log_key() -> SigningKey {
        SigningKey::from_seed_for_tests(&[1u8; 32])
    }

    fn witness(dir: &Path) -> Witness {
        let key = WitnessKey { name: "witness.example/w".to_owned(), key: SigningKey::from_seed_for_tests(&[9u8; 32]) };
        let log = verifier_key(ORIGIN, &log_key().public_key());
        Witness::open(key, &[log], &dir.join("witness.sqlite")).expect("open")
    }

    fn leaves(tag: u8, count: u64) -> Vec<Hash> {
        (0..count).map(|index| leaf_hash(&[tag, index as u8])).collect()
    }

    fn signed(leaves: &[Hash]) -> (String, Checkpoint) {
        let mut tree = TreeBuilder::new();
        leaves.iter().for_each(|leaf| tree.push(*leaf));
        let checkpoint = Checkpoint { origin: ORIGIN.to_owned(), size: leaves.len() as u64, root: tree.root() };
        (checkpoint.sign(ORIGIN, &log_key()).expect("sign"), checkpoint)
    }

    fn submit(witness: &Witness, old: u64, proof: Vec<Hash>, note: &str) -> Result<String, Refusal> {
        let body = AddCheckpoint { old_size: old, proof, checkpoint: note.to_owned() }.body();
        witness.add_checkpoint(body.as_bytes(), 1_700_000_000)
    }

    #[test]
    fn cosigns_an_append_only_log_and_serves_its_latest_checkpoint() {
        let dir = tempfile::tempdir().expect("dir");
        let witness = witness(dir.path());
        let log = leaves(0, 10);
        let (first, _) = signed(&log[..4]);
        let line = submit(&witness, 0, vec![], &first).expect("first");
        assert_eq!(verify_cosignature(&format!("{first}{line}"), &witness.cosigner()), Ok(1_700_000_000));
        let (second, _) = signed(&log);
        let proof = consistency_proof(&log, 4).expect("proof");
        submit(&witness, 4, proof, &second).expect("second");
        let served = witness.latest(&origin_hash_hex(ORIGIN)).expect("read").expect("some");
        assert!(served.starts_with(&second), "the log's signature is kept: {served}");
        assert!(verify_cosignature(&served, &witness.cosigner()).is_ok());
        assert_eq!(witness.latest(&origin_hash_hex("other.example/log")), Ok(None));
    }

    #[test]
    fn a_wrong_old_size_gets_the_stored_size_and_nothing_changes() {
        let dir = tempfile::tempdir().expect("dir");
        let witness = witness(dir.path());
        let log = leaves(0, 10);
        submit(&witness, 0, vec![], &signed(&log[..6]).0).expect("first");
        let (note, _) = signed(&log);
        assert_eq!(submit(&witness, 0, vec![], &note), Err(Refusal::Conflict(6)));
        assert_eq!(submit(&witness, 4, consistency_proof(&log, 4).expect("proof"), &note), Err(Refusal::Conflict(6)));
        // A rollback: a smaller checkpoint than the stored one.
        assert_eq!(
            submit(&witness, 6, vec![], &signed(&log[..3]).0),
            Err(Refusal::BadRequest("the old size is larger than the checkpoint's size".to_owned()))
        );
        let served = witness.latest(&origin_hash_hex(ORIGIN)).expect("read").expect("some");
        assert!(served.starts_with(&signed(&log[..6]).0));
    }

    #[test]
    fn a_fork_is_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let witness = witness(dir.path());
        let log = leaves(0, 8);
        submit(&witness, 0, vec![], &signed(&log[..5]).0).expect("first");
        // Another history of the same size, and one extending it.
        let fork = leaves(1, 8);
        assert!(matches!(submit(&witness, 5, vec![], &signed(&fork[..5]).0), Err(Refusal::Inconsistent(_))));
        let proof = consistency_proof(&fork, 5).expect("proof");
        assert!(matches!(submit(&witness, 5, proof, &signed(&fork).0), Err(Refusal::Inconsistent(_))));
        // The honest extension still works.
        submit(&witness, 5, consistency_proof(&log, 5).expect("proof"), &signed(&log).0).expect("honest");
    }

    #[test]
    fn bad_signatures_unknown_logs_and_malformed_bodies_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let witness = witness(dir.path());
        let log = leaves(0, 3);
        let (note, checkpoint) = signed(&log);
        let other_key = SigningKey::from_seed_for_tests(&[2u8; 32]);
        let foreign = checkpoint.sign(ORIGIN, &other_key).expect("sign");
        assert!(matches!(submit(&witness, 0, vec![], &foreign), Err(Refusal::Forbidden(_))));
        let tampered = note.replacen("\n3\n", "\n4\n", 1);
        assert!(matches!(submit(&witness, 0, vec![], &tampered), Err(Refusal::Forbidden(_))));
        let unknown = Checkpoint { origin: "other.example/log".to_owned(), ..checkpoint.clone() }
            .sign("other.example/log", &log_key())
            .expect("sign");
        assert_eq!(submit(&witness, 0, vec![], &unknown), Err(Refusal::UnknownOrigin));
        assert!(matches!(witness.add_checkpoint(b"old 0\n", 1), Err(Refusal::BadRequest(_))));
        assert!(matches!(witness.add_checkpoint(&[0xff, 0xfe], 1), Err(Refusal::BadRequest(_))));
        assert!(matches!(submit(&witness, 0, vec![[1u8; 32]], &note), Err(Refusal::Inconsistent(_))));
        let empty =
            Checkpoint { origin: ORIGIN.to_owned(), size: 0, root: [1u8; 32] }.sign(ORIGIN, &log_key()).expect("sign");
        assert!(matches!(submit(&witness, 0, vec![], &empty), Err(Refusal::Inconsistent(_))));
        assert_eq!(witness.latest(&origin_hash_hex(ORIGIN)), Ok(None), "nothing was stored");
    }

    #[test]
    fn key_files_round_trip_and_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("witness.key");
        let written = WitnessKey::write_new("witness.example/w", &path).expect("write");
        assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        let loaded = WitnessKey::load(&path).expect("load");
        assert_eq!(loaded.cosigner(), written.cosigner());
        assert!(WitnessKey::write_new("witness.example/w", &path).is_err(), "never overwrites");
        std::fs::write(&path, "PRIVATE+KEY+w+00000000+AAAA\n").expect("write");
        assert!(WitnessKey::load(&path).is_err());
    }
}
