//! The audit log checked by code nobody here wrote: Cloudflare's
//! `signed_note` and `tlog_tiles` crates (Rust ports of Go's sumdb/note and
//! sumdb/tlog, from cloudflare/azul) verify the served checkpoint, read the
//! tree from the served hash tiles as a tlog-tiles client, and check the
//! inclusion and consistency proofs tresor serves. No tresor::audit code
//! takes part in any check; tresor only makes the entries and signs the
//! checkpoints.
//!
//! Witness cosignatures (C2SP tlog-cosignature `cosignature/v1`, signature
//! type 0x04) are only partly checkable this way: the published crates
//! signed_note 0.2.0 and tlog_tiles 0.2.0 have no verifier for them (their
//! only verifier, `StandardVerifier`, knows Ed25519 note signatures, type
//! 0x01). What they can check is: the cosigned notes parse as signed notes,
//! the log's signature on them verifies, the cosignature lines carry the key
//! id `signed_note::key_id` derives for the witness's key, and the witness
//! cosigns (and accepts the consistency proofs of) a log that Cloudflare's
//! code signs and proves.

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use signed_note::{
    Note, NoteError, Signature, StandardSigner, StandardVerifier, Verifier, VerifierError, VerifierList, key_id,
};
use tlog_tiles::{
    Checkpoint, Hash, HashReader, Tile, TileHashReader, TileReader, check_record, check_tree, prove_record, prove_tree,
    record_hash, stored_hash_index, stored_hashes_for_record_hash, tree_hash,
};

use tresor::crypto::{FileKeyProvider, KeyProvider};

use crate::support::app::{Backend, TestApp, TestAppOptions};
use crate::witness::WitnessProcess;

/// Height of tlog-tiles hash tiles (C2SP: 256 hashes a tile).
const TILE_HEIGHT: u8 = 8;
/// Enough leaves for one full level-0 tile plus a partial one.
const LOG_SIZE: u64 = 300;

/// The served checkpoint is a signed note that verifies with the
/// published `name+id+base64` verifier key and parses as a strict C2SP
/// checkpoint; changing one byte of its root breaks the signature.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_checkpoint_verifies_with_the_published_key() {
    let app = TestApp::start(Backend::Sqlite).await;
    let anna = TestApp::browser();
    assert_eq!(app.login(&anna, "anna", Some("high")).await.status(), 200);
    app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");

    let public = TestApp::browser();
    let published = fetch_json(&public, &app.url("/api/v1/audit/checkpoint")).await;
    let verifier_key = published["verifier_key"].as_str().unwrap();
    // `StandardVerifier::new` also recomputes the key id from the name and
    // the key (SHA-256(name ‖ \n ‖ 0x01 ‖ key)[:4]) and refuses a mismatch.
    let verifier = StandardVerifier::new(verifier_key).expect("a valid Ed25519 note verifier key");
    let note = fetch_text(&public, &app.url("/api/v1/audit/log/checkpoint")).await;
    assert_eq!(Some(note.as_str()), published["checkpoint"].as_str(), "both routes serve the same note");

    let checkpoint = open_checkpoint(note.as_bytes(), &verifier).expect("the served checkpoint verifies");
    assert_eq!(checkpoint.origin(), verifier.name(), "the key is named after the log's origin");
    assert_eq!(checkpoint.size(), published["size"].as_u64().unwrap());
    assert!(checkpoint.size() >= 1, "the login is in the log");
    assert!(checkpoint.extension().is_empty(), "tresor's checkpoints have no extension lines");
    let parsed = Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = parsed.verify(&VerifierList::new(vec![Box::new(verifier.clone())])).unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 0), "exactly one signature, by the published key");
    assert_eq!(parsed.to_bytes(), note.as_bytes(), "the note is in canonical signed-note form");

    // One byte of the root changed (still a well-formed checkpoint): the
    // signature no longer verifies.
    let mut root = checkpoint.hash().0;
    root[7] ^= 0x01;
    let forged = note.replacen(&BASE64.encode(checkpoint.hash().0), &BASE64.encode(root), 1);
    assert_ne!(forged, note);
    let forged_note = Note::from_bytes(forged.as_bytes()).expect("still a well-formed note");
    assert!(Checkpoint::from_bytes(forged_note.text()).is_ok(), "still a well-formed checkpoint");
    let refused = forged_note.verify(&VerifierList::new(vec![Box::new(verifier.clone())]));
    assert!(matches!(refused, Err(NoteError::InvalidSignature { .. })), "{refused:?}");
    assert!(open_checkpoint(forged.as_bytes(), &verifier).is_err());
    // So does a changed tree size; a note without its signature is refused.
    let grown = note.replacen(&format!("\n{}\n", checkpoint.size()), &format!("\n{}\n", checkpoint.size() + 1), 1);
    assert!(matches!(open_checkpoint(grown.as_bytes(), &verifier), Err(NoteError::InvalidSignature { .. })));
    let (text, _signature) = note.split_once("\n\n").unwrap();
    assert!(matches!(open_checkpoint(format!("{text}\n").as_bytes(), &verifier), Err(NoteError::MalformedNote)));
    app.stop().await;
}

/// A tlog-tiles client reads the tree from the served hash tiles (one full
/// level-0 tile and a partial one): the tree hash it computes is the signed
/// root, the tiles authenticate against it, and the leaf hashes it reads are
/// SHA-256(0x00 ‖ body) of the served entries. A changed tile byte or root
/// byte is detected.
async fn tiles_rebuild_the_signed_root(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = anna_with_log_of(&app, LOG_SIZE).await;
    let (_, checkpoint) = latest_checkpoint(&app).await;
    let size = checkpoint.size();
    let root = *checkpoint.hash();
    assert!((LOG_SIZE..2 * 256).contains(&size), "one full tile and a partial one: {size}");

    // The tree hash from the tiles alone, trusting nothing: each hash taken
    // from the widest served tile holding it, without authenticating the
    // tiles (for 300 leaves: the level-1 tile's first hash and the partial
    // level-0 tile).
    let tiles = ServedTiles::new(&app, size);
    let from_tiles = tree_hash(size, &tiles.unauthenticated()).unwrap();
    assert_eq!(from_tiles, root, "the served tiles give the signed root");
    let partial = format!("0/001.p/{}", size - 256);
    assert_eq!(distinct(tiles.fetched()), distinct(vec!["1/000.p/1".to_owned(), partial.clone()]));

    // Every tile this tree publishes (tlog_tiles' own list), and the tree
    // rebuilt from the leaf hashes of level 0 alone, as a log writer would
    // build it: the same root, and the same level-1 hash as served.
    let published = Tile::new_tiles(TILE_HEIGHT, 0, size);
    let paths: Vec<String> = published.iter().map(c2sp_path).collect();
    assert_eq!(paths, ["0/000".to_owned(), partial.clone(), "1/000.p/1".to_owned()]);
    let data = tiles.read_tiles(&published).unwrap();
    let leaves = hashes_of(&data[..2].concat());
    assert_eq!(leaves.len() as u64, size, "level 0 holds one hash per leaf");
    let rebuilt = StoredHashes::from_leaves(&leaves);
    assert_eq!(tree_hash(size, &rebuilt).unwrap(), root, "the leaves rebuild the signed root");
    // Tree level 8 is tile level 1.
    let level_one = rebuilt.read_hashes(&[stored_hash_index(TILE_HEIGHT, 0)]).unwrap();
    assert_eq!(data[2].as_slice(), level_one[0].0.as_slice(), "the level-1 tile");
    assert_eq!(Tile::subtree_hash(&data[0]).0.as_slice(), data[2].as_slice());

    // The same through the authenticating reader (tiles checked against the
    // signed root before any hash is used).
    let authenticated = TileHashReader::new(size, root, &tiles);
    assert_eq!(tree_hash(size, &authenticated).unwrap(), root);

    // The leaf hashes in the tiles are the served entries' leaf hashes and
    // the record hashes of their served bodies.
    let mine = fetch_json(&anna, &app.url("/api/v1/audit/mine?limit=1000")).await;
    assert_eq!(mine["checkpoint_size"].as_u64(), Some(size));
    let entries = mine["entries"].as_array().unwrap();
    let sequences: Vec<u64> = entries.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    assert!(sequences.iter().any(|&n| n < 256) && sequences.iter().any(|&n| n >= 256), "{sequences:?}");
    for (entry, &sequence) in entries.iter().zip(&sequences) {
        let in_tile = leaves[usize::try_from(sequence).unwrap()];
        assert_eq!(hash_from_hex(&entry["leaf_hash"]), in_tile, "leaf {sequence}");
        assert_eq!(record_hash(entry["body"].as_str().unwrap().as_bytes()), in_tile, "body of {sequence}");
    }
    // Read through the authenticating reader: the same hashes, and the
    // proofs tlog_tiles computes from the tiles are the served ones.
    let mut chosen: Vec<&Value> = entries.iter().step_by(37).collect();
    chosen.push(entries.last().unwrap());
    let indexes: Vec<u64> = chosen.iter().map(|e| stored_hash_index(0, e["sequence"].as_u64().unwrap())).collect();
    let chosen_leaves = authenticated.read_hashes(&indexes).unwrap();
    for (entry, leaf) in chosen.iter().zip(&chosen_leaves) {
        let sequence = entry["sequence"].as_u64().unwrap();
        assert_eq!(hash_from_hex(&entry["leaf_hash"]), *leaf, "leaf {sequence}");
        let proof = prove_record(size, sequence, &authenticated).unwrap();
        assert_eq!(proof, proof_from_json(&entry["inclusion_proof"]), "proof of {sequence}");
        check_record(&proof, size, root, sequence, *leaf).unwrap();
    }

    // A wrong root: the tiles do not authenticate against it.
    let mut wrong_root = root;
    wrong_root.0[0] ^= 0x80;
    let refused = tree_hash(size, &TileHashReader::new(size, wrong_root, &tiles));
    assert!(matches!(refused, Err(tlog_tiles::Error::InconsistentTile)), "{refused:?}");
    // A changed byte in a served tile. In the level-1 tile: the tree hash
    // from the tiles is no longer the signed root, and the authenticating
    // reader refuses the tiles. In the full level-0 tile: the leaves no
    // longer rebuild the root, and the changed leaf fails its proof.
    let tampered = ServedTiles { tamper: Some(("1/000.p/1".to_owned(), 5)), ..ServedTiles::new(&app, size) };
    assert_ne!(tree_hash(size, &tampered.unauthenticated()).unwrap(), root);
    let refused = tree_hash(size, &TileHashReader::new(size, root, &tampered));
    assert!(matches!(refused, Err(tlog_tiles::Error::InconsistentTile)), "{refused:?}");
    let tampered = ServedTiles { tamper: Some(("0/000".to_owned(), 32 * 17 + 3)), ..ServedTiles::new(&app, size) };
    let changed_leaves = hashes_of(&tampered.read_tiles(&published[..2]).unwrap().concat());
    assert_ne!(changed_leaves[17], leaves[17]);
    assert_ne!(tree_hash(size, &StoredHashes::from_leaves(&changed_leaves)).unwrap(), root);
    // tlog_tiles 0.2.0's TileHashReader does not refuse this tile: it checks
    // the tiles fetched for requested hashes against their parents only from
    // position `stx.len()` (the number of subtree hashes behind the tree
    // hash, here 4) instead of from the number of tiles fetched for them
    // (here 2), so 0/000, third in its fetch list, is never checked (the same
    // loop is in Go's sumdb/tlog, which it ports). Hashes read through it are
    // therefore only trusted once a proof checks them against the root.
    let reader = TileHashReader::new(size, root, &tampered);
    let leaf = reader.read_hashes(&[stored_hash_index(0, 17)]).unwrap()[0];
    let proof = prove_record(size, 17, &reader).unwrap();
    let refused = check_record(&proof, size, root, 17, leaf);
    assert!(matches!(refused, Err(tlog_tiles::Error::InvalidProof)), "{refused:?}");
    app.stop().await;
}

/// The citizen's inclusion proofs (`/api/v1/audit/mine`) and the
/// consistency proofs between checkpoints (`/api/v1/audit/consistency`)
/// pass tlog_tiles' checks against the signed roots; a changed proof hash,
/// body or old root fails them.
async fn served_proofs_pass_tlog_tiles_checks(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = anna_with_log_of(&app, 150).await;
    let (verifier, old) = latest_checkpoint(&app).await;
    add_views(&app, &anna, LOG_SIZE).await;
    app.state.vault.audit().checkpoint().await.unwrap().expect("a newer checkpoint");

    // Inclusion: every entry anna is shown, against the checkpoint served
    // with them.
    let mine = fetch_json(&anna, &app.url("/api/v1/audit/mine?limit=1000")).await;
    let new = open_checkpoint(mine["checkpoint"].as_str().unwrap().as_bytes(), &verifier).unwrap();
    assert_eq!(new.size(), mine["checkpoint_size"].as_u64().unwrap());
    assert!(new.size() > old.size() && new.size() >= LOG_SIZE);
    let entries = mine["entries"].as_array().unwrap();
    assert!(entries.len() as u64 >= LOG_SIZE - 10, "nearly every entry is anna's: {}", entries.len());
    for entry in entries {
        let sequence = entry["sequence"].as_u64().unwrap();
        let leaf = record_hash(entry["body"].as_str().unwrap().as_bytes());
        assert_eq!(leaf, hash_from_hex(&entry["leaf_hash"]), "leaf {sequence}");
        let proof = proof_from_json(&entry["inclusion_proof"]);
        check_record(&proof, new.size(), *new.hash(), sequence, leaf)
            .unwrap_or_else(|error| panic!("inclusion of {sequence} in {}: {error}", new.size()));
    }
    // Negative: a changed proof hash, a changed body, another position.
    let entry = &entries[entries.len() / 2];
    let sequence = entry["sequence"].as_u64().unwrap();
    let leaf = hash_from_hex(&entry["leaf_hash"]);
    let proof = proof_from_json(&entry["inclusion_proof"]);
    for position in 0..proof.len() {
        let mut tampered = proof.clone();
        tampered[position].0[31] ^= 0x01;
        assert!(check_record(&tampered, new.size(), *new.hash(), sequence, leaf).is_err(), "hash {position}");
    }
    let changed = entry["body"].as_str().unwrap().replacen("\"outcome\":\"success\"", "\"outcome\":\"failed\"", 1);
    assert_ne!(changed, entry["body"].as_str().unwrap());
    assert!(check_record(&proof, new.size(), *new.hash(), sequence, record_hash(changed.as_bytes())).is_err());
    assert!(check_record(&proof, new.size(), *new.hash(), sequence ^ 1, leaf).is_err());

    // Consistency between the two signed checkpoints, as a monitor that kept
    // the older one would check it.
    let url = format!("/api/v1/audit/consistency?old={}&new={}", old.size(), new.size());
    let served = fetch_json(&anna, &app.url(&url)).await;
    assert_eq!((served["old_size"].as_u64(), served["new_size"].as_u64()), (Some(old.size()), Some(new.size())));
    let proof = proof_from_json(&served["proof"]);
    check_tree(&proof, new.size(), *new.hash(), old.size(), *old.hash()).unwrap();
    // Without `new`: to the latest checkpoint, the same proof.
    let latest = fetch_json(&anna, &app.url(&format!("/api/v1/audit/consistency?old={}", old.size()))).await;
    assert_eq!(latest["new_size"].as_u64(), Some(new.size()));
    assert_eq!(proof_from_json(&latest["proof"]), proof);
    for position in 0..proof.len() {
        let mut tampered = proof.clone();
        tampered[position].0[0] ^= 0x01;
        let refused = check_tree(&tampered, new.size(), *new.hash(), old.size(), *old.hash());
        assert!(matches!(refused, Err(tlog_tiles::Error::InvalidProof)), "hash {position}: {refused:?}");
    }
    let mut forged_old = *old.hash();
    forged_old.0[9] ^= 0x01;
    assert!(check_tree(&proof, new.size(), *new.hash(), old.size(), forged_old).is_err());
    assert!(check_tree(&proof[..proof.len() - 1].to_vec(), new.size(), *new.hash(), old.size(), *old.hash()).is_err());

    // Any older size: the proof tlog_tiles derives from the served tiles is
    // the served proof, and it links the older tree's hash (read from the
    // same tiles) to the signed root.
    let tiles = ServedTiles::new(&app, new.size());
    let reader = TileHashReader::new(new.size(), *new.hash(), &tiles);
    for old_size in [1, 2, 3, 7, 8, 100, old.size(), 255, 256, 257, 299, new.size() - 1, new.size()] {
        let served = fetch_json(&anna, &app.url(&format!("/api/v1/audit/consistency?old={old_size}"))).await;
        let proof = proof_from_json(&served["proof"]);
        assert_eq!(proof, prove_tree(new.size(), old_size, &reader).unwrap(), "proof {old_size} -> {}", new.size());
        let old_root = tree_hash(old_size, &reader).unwrap();
        check_tree(&proof, new.size(), *new.hash(), old_size, old_root)
            .unwrap_or_else(|error| panic!("consistency {old_size} -> {}: {error}", new.size()));
    }
    app.stop().await;
}

/// The vault's origin in the witnessed tests.
const WITNESSED_ORIGIN: &str = "vault.independent-tlog.example/audit";
/// Signature type byte of Ed25519 `cosignature/v1` keys (C2SP signed-note).
const COSIGNATURE_V1: u8 = 0x04;

/// A vault with a `tresor witness serve` witness (quorum 1): the checkpoint
/// the vault serves and the one the witness serves on its monitoring path
/// are the same signed note, which signed_note parses and verifies with the
/// log's published key; the witness's line in it carries the witness's key
/// id as `signed_note::key_id` computes it, and a timestamped Ed25519
/// signature's length. signed_note 0.2.0 cannot verify that line itself: it
/// refuses the witness's key as an unknown algorithm, and a changed
/// timestamp or signature in the line goes unnoticed by it. A changed
/// checkpoint text is refused (by the log's signature).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn witnessed_checkpoints_are_signed_notes_with_the_witness_key_id() {
    let keys = Arc::new(FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).unwrap());
    let log_key = tresor::audit::checkpoint::verifier_key(WITNESSED_ORIGIN, &keys.signing_key().public_key());
    let witness = WitnessProcess::start("witness.independent-tlog.example/w", std::slice::from_ref(&log_key)).await;
    let app = TestApp::start_with(TestAppOptions {
        keys: Some(keys),
        audit_origin: Some(WITNESSED_ORIGIN.to_owned()),
        witnesses: vec![witness.config()],
        witness_quorum: Some(1),
        ..TestAppOptions::new(Backend::Sqlite)
    })
    .await;
    let anna = TestApp::browser();
    assert_eq!(app.login(&anna, "anna", Some("high")).await.status(), 200);
    let signed = app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");
    assert_eq!(app.state.vault.audit().witness_status()[0].cosigned_size, Some(signed.size), "the witness cosigned");

    // The witness's key, as keygen printed it: `<name>+<id>+base64(0x04 ‖ key)`.
    let witness_key = witness.key.verifier_key();
    let (witness_name, witness_id, typed_key) = split_verifier_key(&witness_key);
    assert_eq!(witness_name, witness.key.name);
    assert_eq!((typed_key.len(), typed_key[0]), (33, COSIGNATURE_V1), "an Ed25519 cosignature/v1 key");
    assert_eq!(key_id(witness_name, &typed_key), witness_id, "SHA-256(name ‖ \\n ‖ 0x04 ‖ key)[:4]");
    // signed_note 0.2.0 has no cosignature/v1 verifier. Its StandardVerifier
    // checks the key id first (a wrong one is `Id`), then refuses type 0x04.
    assert!(matches!(StandardVerifier::new(&witness_key), Err(VerifierError::Alg)));

    let public = TestApp::browser();
    let published = fetch_json(&public, &app.url("/api/v1/audit/checkpoint")).await;
    assert_eq!(published["verifier_key"].as_str(), Some(log_key.as_str()));
    let log_verifier = StandardVerifier::new(&log_key).unwrap();
    let served = fetch_text(&public, &app.url("/api/v1/audit/log/checkpoint")).await;
    let (status, monitored) = witness.latest(WITNESSED_ORIGIN).await;
    assert_eq!(status, 200, "{monitored}");
    assert_eq!(served, monitored, "the vault serves the note the witness keeps, cosignature and all");
    for (what, note) in [("the vault's checkpoint", &served), ("the witness's checkpoint", &monitored)] {
        let parsed = Note::from_bytes(note.as_bytes()).unwrap_or_else(|error| panic!("{what}: {error}"));
        assert_eq!(parsed.to_bytes(), note.as_bytes(), "{what} is in canonical signed-note form");
        let (verified, unverified) = parsed.verify(&VerifierList::new(vec![Box::new(log_verifier.clone())])).unwrap();
        assert_eq!(verified.len(), 1, "{what}: the log's signature");
        assert_eq!((verified[0].name(), verified[0].id()), (log_verifier.name(), log_verifier.key_id()));
        assert_eq!(unverified.len(), 1, "{what}: one line, the witness's");
        let cosignature = &unverified[0];
        assert_eq!((cosignature.name(), cosignature.id()), (witness_name, witness_id), "{what}");
        assert_eq!(cosignature.signature().len(), 8 + 64, "{what}: timestamp and Ed25519 signature");
        let checkpoint = Checkpoint::from_bytes(parsed.text()).expect("a C2SP checkpoint");
        assert_eq!((checkpoint.origin(), checkpoint.size()), (WITNESSED_ORIGIN, signed.size), "{what}");
    }

    // The cosignature line with a changed timestamp byte, a changed signature
    // byte: signed_note 0.2.0 has nothing to check them with, so the note
    // still verifies (by the log's key) and the changed line is returned as
    // unverified, as the genuine one is. A client of these crates must not
    // take unverified lines for cosignatures.
    let parsed = Note::from_bytes(served.as_bytes()).unwrap();
    let genuine = parsed.verify(&VerifierList::new(vec![Box::new(log_verifier.clone())])).unwrap().1.remove(0);
    for (what, byte) in [("timestamp", 7), ("signature", 8 + 20)] {
        let mut blob = genuine.signature().to_vec();
        blob[byte] ^= 0x01;
        let changed = Signature::new(witness_name.to_owned(), witness_id, blob).unwrap();
        let text = std::str::from_utf8(parsed.text()).unwrap();
        let line = String::from_utf8(changed.to_bytes()).unwrap();
        let forged = served.replacen(&String::from_utf8(genuine.to_bytes()).unwrap(), &line, 1);
        assert_ne!(forged, served, "{what}");
        assert!(forged.starts_with(text));
        let (_, unverified) = Note::from_bytes(forged.as_bytes())
            .unwrap()
            .verify(&VerifierList::new(vec![Box::new(log_verifier.clone())]))
            .unwrap();
        assert_eq!(unverified, vec![changed], "{what}: not checked");
    }
    // The checkpoint text changed after cosigning: refused, by the log's key.
    let grown = served.replacen(&format!("\n{}\n", signed.size), &format!("\n{}\n", signed.size + 1), 1);
    assert_ne!(grown, served);
    let refused = Note::from_bytes(grown.as_bytes()).unwrap().verify(&VerifierList::new(vec![Box::new(log_verifier)]));
    assert!(
        matches!(&refused, Err(NoteError::InvalidSignature { name, .. }) if name == WITNESSED_ORIGIN),
        "{refused:?}"
    );
    app.stop().await;
}

/// The witness cosigns a log that only Cloudflare's code writes: checkpoints
/// built by tlog_tiles and signed by signed_note's `StandardSigner`, grown
/// with tlog_tiles' consistency proofs. Its answers are signature lines
/// that signed_note parses, with the witness's key id, and its monitoring
/// path serves the note with the log's signature and the cosignature. A
/// changed proof hash and a note altered after signing are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_cosigns_a_log_written_by_cloudflare_code() {
    const ORIGIN: &str = "log.cloudflare-code.example/test";
    let seed = [0x5au8; 32];
    let public_key = ring::signature::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
    let public_key = ring::signature::KeyPair::public_key(&public_key).as_ref().to_vec();
    let typed_public = [&[0x01], public_key.as_slice()].concat();
    let id = key_id(ORIGIN, &typed_public);
    // StandardSigner derives the public key from the seed and refuses a key
    // id that does not match it.
    let signer = StandardSigner::new(&format!(
        "PRIVATE+KEY+{ORIGIN}+{id:08x}+{}",
        BASE64.encode([&[0x01], seed.as_slice()].concat())
    ))
    .unwrap();
    let log_key = format!("{ORIGIN}+{id:08x}+{}", BASE64.encode(&typed_public));
    let log_verifier = StandardVerifier::new(&log_key).unwrap();
    let witness = WitnessProcess::start("witness.cloudflare-code.example/w", std::slice::from_ref(&log_key)).await;
    let witness_key = witness.key.verifier_key();
    let (witness_name, witness_id, _) = split_verifier_key(&witness_key);

    let leaves: Vec<Hash> = (0..9u8).map(|index| record_hash(&[b'e', index])).collect();
    let tree = StoredHashes::from_leaves(&leaves);
    let note = |size: u64| {
        let checkpoint = Checkpoint::new(ORIGIN, size, tree_hash(size, &tree).unwrap(), "").unwrap();
        let mut note = Note::new(&checkpoint.to_bytes(), &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        String::from_utf8(note.to_bytes()).unwrap()
    };
    let http = reqwest::Client::new();
    let add_checkpoint = |old: u64, proof: &[Hash], note: &str| {
        let mut body = format!("old {old}\n");
        for hash in proof {
            body.push_str(&BASE64.encode(hash.0));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        let request = http.post(format!("{}/add-checkpoint", witness.url)).body(body);
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    // The answer is signature lines; appended to the note, signed_note reads
    // the witness's line beside the log's verified signature.
    let cosigned = |note: &str, answer: &str| {
        let lines: Vec<Signature> = answer
            .strip_suffix('\n')
            .expect("lines end in a newline")
            .split('\n')
            .map(|line| Signature::from_bytes(line.as_bytes()).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{answer}");
        assert_eq!((lines[0].name(), lines[0].id(), lines[0].signature().len()), (witness_name, witness_id, 72));
        let full = format!("{note}{answer}");
        let (verified, unverified) = Note::from_bytes(full.as_bytes())
            .unwrap()
            .verify(&VerifierList::new(vec![Box::new(log_verifier.clone())]))
            .unwrap();
        assert_eq!((verified.len(), unverified), (1, lines));
        full
    };

    let first = note(3);
    let (status, answer) = add_checkpoint(0, &[], &first).await;
    assert_eq!(status, 200, "{answer}");
    cosigned(&first, &answer);
    // Grown to 9 leaves with tlog_tiles' consistency proof.
    let second = note(9);
    let proof = prove_tree(9, 3, &tree).unwrap();
    assert!(!proof.is_empty());
    let mut wrong = proof.clone();
    wrong[0].0[5] ^= 0x01;
    assert_eq!(add_checkpoint(3, &wrong, &second).await.0, 422, "a changed proof hash");
    let altered = second.replacen("\n9\n", "\n8\n", 1);
    assert_eq!(add_checkpoint(3, &proof, &altered).await.0, 403, "a note altered after signing");
    let (status, answer) = add_checkpoint(3, &proof, &second).await;
    assert_eq!(status, 200, "{answer}");
    let full = cosigned(&second, &answer);
    let (status, monitored) = witness.latest(ORIGIN).await;
    assert_eq!(status, 200, "{monitored}");
    assert_eq!(monitored, full, "the note with the log's signature and the cosignature");
}

/// Anna, logged in at level high with one income statement, viewed until
/// the log has at least `size` entries, and a checkpoint covering them.
async fn anna_with_log_of(app: &TestApp, size: u64) -> reqwest::Client {
    let anna = TestApp::browser();
    assert_eq!(app.login(&anna, "anna", Some("high")).await.status(), 200);
    add_views(app, &anna, size).await;
    app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");
    anna
}

/// Anna views her evidence (uploaded first if she has none) until the log
/// has at least `size` entries: one `evidence_view` entry a view, sent a
/// few at a time so that the group commit takes them together.
async fn add_views(app: &TestApp, anna: &reqwest::Client, size: u64) {
    let listed = fetch_json(anna, &app.url("/api/v1/evidence")).await;
    let id = match listed["evidence"].as_array().and_then(|items| items.first()) {
        Some(item) => item["id"].as_str().unwrap().to_owned(),
        None => upload_income(app, anna).await,
    };
    let url = app.url(&format!("/api/v1/evidence/{id}"));
    loop {
        let missing = size.saturating_sub(app.store.audit_size().await.unwrap());
        if missing == 0 {
            return;
        }
        let views = (0..missing.min(16)).map(|_| anna.get(&url).send());
        for view in futures_util::future::join_all(views).await {
            assert_eq!(view.unwrap().status(), 200);
        }
    }
}

async fn upload_income(app: &TestApp, browser: &reqwest::Client) -> String {
    let csrf = app.csrf(browser).await;
    let created = crate::audit_flow::upload_income(app, browser, &csrf).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

/// The published verifier and the served checkpoint, verified with it.
async fn latest_checkpoint(app: &TestApp) -> (StandardVerifier, Checkpoint) {
    let public = TestApp::browser();
    let published = fetch_json(&public, &app.url("/api/v1/audit/checkpoint")).await;
    let verifier = StandardVerifier::new(published["verifier_key"].as_str().unwrap()).unwrap();
    let note = fetch_text(&public, &app.url("/api/v1/audit/log/checkpoint")).await;
    let checkpoint = open_checkpoint(note.as_bytes(), &verifier).unwrap();
    (verifier, checkpoint)
}

/// signed_note's verification, then tlog_tiles' strict checkpoint parse of
/// the verified text (as the C2SP specs order it: no body parsing before the
/// signature checks out).
fn open_checkpoint(note: &[u8], verifier: &StandardVerifier) -> Result<Checkpoint, NoteError> {
    let note = Note::from_bytes(note)?;
    note.verify(&VerifierList::new(vec![Box::new(verifier.clone())]))?;
    Ok(Checkpoint::from_bytes(note.text()).expect("a verified note is a C2SP checkpoint"))
}

/// The hash tiles of one tree size as a tlog-tiles client fetches them from
/// the vault (`/api/v1/audit/log/tile/<L>/<N>[.p/<W>]`), on demand.
/// `tamper` flips one byte of one tile's served bytes.
struct ServedTiles {
    base: String,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    tree_size: u64,
    tamper: Option<(String, usize)>,
    fetched: Mutex<Vec<String>>,
}

impl ServedTiles {
    fn new(app: &TestApp, tree_size: u64) -> Self {
        Self {
            base: app.url("/api/v1/audit/log/"),
            client: TestApp::browser(),
            runtime: tokio::runtime::Handle::current(),
            tree_size,
            tamper: None,
            fetched: Mutex::new(Vec::new()),
        }
    }

    /// The C2SP paths read so far (without the `tile/` prefix).
    fn fetched(&self) -> Vec<String> {
        self.fetched.lock().unwrap().clone()
    }

    /// A `HashReader` that takes each hash from the widest served tile
    /// holding it for this tree size, as served, with no check against a
    /// root: what the tiles alone say.
    fn unauthenticated(&self) -> UnauthenticatedTiles<'_> {
        UnauthenticatedTiles(self)
    }

    fn fetch(&self, tile: &Tile) -> Result<Vec<u8>, tlog_tiles::Error> {
        if tile.height() != TILE_HEIGHT || tile.is_data() {
            return Err(tlog_tiles::Error::InvalidInput(format!("not a hash tile of height 8: {}", tile.path())));
        }
        let path = c2sp_path(tile);
        let url = format!("{}tile/{path}", self.base);
        let response = tokio::task::block_in_place(|| {
            self.runtime.block_on(async {
                let response = self.client.get(&url).send().await.map_err(|e| e.to_string())?;
                let status = response.status();
                let bytes = response.bytes().await.map_err(|e| e.to_string())?;
                Ok::<_, String>((status, bytes.to_vec()))
            })
        });
        let (status, mut bytes) =
            response.map_err(|error| tlog_tiles::Error::InvalidInput(format!("{url}: {error}")))?;
        if status != 200 {
            return Err(tlog_tiles::Error::InvalidInput(format!("{url}: {status}")));
        }
        if let Some((tampered, offset)) = &self.tamper
            && *tampered == path
        {
            bytes[*offset] ^= 0x01;
        }
        self.fetched.lock().unwrap().push(path);
        Ok(bytes)
    }
}

impl TileReader for ServedTiles {
    fn height(&self) -> u8 {
        TILE_HEIGHT
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::Error> {
        tiles.iter().map(|tile| self.fetch(tile)).collect()
    }

    fn save_tiles(&self, _tiles: &[Tile], _data: &[Vec<u8>]) {}
}

/// The tile's path below `tile/` as C2SP tlog-tiles writes it: tlog_tiles
/// names tiles `tile/<H>/<L>/<N>[.p/<W>]` (Go's sumdb layout); C2SP fixes H
/// at 8 and leaves it out.
fn c2sp_path(tile: &Tile) -> String {
    let path = tile.path();
    path.strip_prefix(&format!("tile/{TILE_HEIGHT}/")).expect("a tile of height 8").to_owned()
}

/// Stored hashes in tlog_tiles' storage order (`stored_hash_index`), kept
/// in memory.
struct StoredHashes(Vec<Hash>);

impl StoredHashes {
    /// The whole tree over `leaves`, built as tlog_tiles' log writer builds
    /// it: each record's new stored hashes appended in turn.
    fn from_leaves(leaves: &[Hash]) -> Self {
        let mut stored = StoredHashes(Vec::new());
        for (n, leaf) in (0..).zip(leaves) {
            assert_eq!(stored.0.len() as u64, stored_hash_index(0, n));
            let new_hashes = stored_hashes_for_record_hash(n, *leaf, &stored).unwrap();
            stored.0.extend(new_hashes);
        }
        stored
    }
}

impl HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                let index = usize::try_from(index).map_err(|_| tlog_tiles::Error::IndexesNotInTree)?;
                self.0.get(index).copied().ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

struct UnauthenticatedTiles<'a>(&'a ServedTiles);

impl HashReader for UnauthenticatedTiles<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                let tile = Tile::from_index(TILE_HEIGHT, index)
                    .parent(0, self.0.tree_size)
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)?;
                tile.hash_at_index(&self.0.fetch(&tile)?, index)
            })
            .collect()
    }
}

/// A verifier key `<name>+<hex id>+<base64 key>` split into its name, id
/// and decoded (typed) key, without checking them.
fn split_verifier_key(verifier_key: &str) -> (&str, u32, Vec<u8>) {
    let mut parts = verifier_key.splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("not a verifier key: {verifier_key}");
    };
    (name, u32::from_str_radix(id, 16).unwrap(), BASE64.decode(key).unwrap())
}

async fn fetch_text(client: &reqwest::Client, url: &str) -> String {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.unwrap()
}

async fn fetch_json(client: &reqwest::Client, url: &str) -> Value {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.json().await.unwrap()
}

fn distinct(mut paths: Vec<String>) -> Vec<String> {
    paths.sort();
    paths.dedup();
    paths
}

/// Tile bytes as the hashes they hold.
fn hashes_of(tile_data: &[u8]) -> Vec<Hash> {
    assert_eq!(tile_data.len() % 32, 0, "whole hashes");
    tile_data.chunks(32).map(|chunk| Hash(chunk.try_into().expect("32 bytes"))).collect()
}

fn hash_from_hex(value: &Value) -> Hash {
    Hash(hex::decode(value.as_str().expect("a hex hash")).unwrap().try_into().expect("32 bytes"))
}

fn proof_from_json(value: &Value) -> Vec<Hash> {
    value.as_array().expect("a proof").iter().map(hash_from_hex).collect()
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Backend::Postgres).await; })*
        }
    };
}

// The tiles and proofs come from each store's own tree nodes.
on_both_backends!(tiles_rebuild_the_signed_root, served_proofs_pass_tlog_tiles_checks);
