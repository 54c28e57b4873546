//! The audit log in front of its audiences: every citizen action is in the
//! log before it takes effect (fail closed), and a citizen sees every entry
//! about them with an inclusion proof that verifies against the signed
//! checkpoint.

use serde_json::Value;
use tresor::audit::checkpoint::{open_signed, parse_verifier_key};
use tresor::audit::merkle::{Hash, leaf_hash, verify_inclusion};
use tresor::clock::Clock;

use crate::support::app::{Backend, TestApp};

fn pdf(bytes: usize) -> Vec<u8> {
    let mut file = b"%PDF-1.4\n".to_vec();
    file.resize(bytes, b'x');
    file
}

pub(crate) async fn upload_income(app: &TestApp, browser: &reqwest::Client, csrf: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("type", "income_statement")
        .text("field.employer", "Audit GmbH")
        .text("field.gross_monthly_income", "3000")
        .text("field.net_monthly_income", "2000")
        .text("field.period_from", "2026-01-01")
        .text("field.period_to", "2026-12-31")
        .part("file", reqwest::multipart::Part::bytes(pdf(70_000)).file_name("lohn.pdf"));
    browser.post(app.url("/api/v1/evidence")).header("x-csrf-token", csrf).multipart(form).send().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["error"]["code"].as_str().unwrap_or_default().to_owned()
}

fn hash_from_hex(text: &str) -> Hash {
    hex::decode(text).unwrap().try_into().unwrap()
}

/// Anna logged in at level high with one income statement: (her browser,
/// its CSRF token, the evidence id).
async fn anna_with_evidence(app: &TestApp) -> (reqwest::Client, String, String) {
    let browser = TestApp::browser();
    app.login(&browser, "anna", Some("high")).await;
    let csrf = app.csrf(&browser).await;
    let created: Value = upload_income(app, &browser, &csrf).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    (browser, csrf, id)
}

async fn fail_closed(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (browser, csrf, id) = anna_with_evidence(&app).await;

    app.audit_fault.set_failing(true);
    // Viewing: no plaintext leaves when the access cannot be recorded.
    let view = browser.get(app.url(&format!("/api/v1/evidence/{id}"))).send().await.unwrap();
    assert_eq!(view.status(), 503);
    let body = view.text().await.unwrap();
    assert!(body.contains("audit_unavailable"), "{body}");
    assert!(!body.contains("Audit GmbH"), "a field value leaked: {body}");
    let download = browser.get(app.url(&format!("/api/v1/evidence/{id}/file"))).send().await.unwrap();
    assert_eq!(download.status(), 503);
    // Uploading: nothing is stored.
    let evidence_before = app.count_rows("evidence").await;
    let upload = upload_income(&app, &browser, &csrf).await;
    assert_eq!(upload.status(), 503);
    assert_eq!(error_code(upload).await, "audit_unavailable");
    assert_eq!(app.count_rows("evidence").await, evidence_before, "nothing half-stored");
    // Deleting: the evidence stays.
    let delete =
        browser.delete(app.url(&format!("/api/v1/evidence/{id}"))).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(delete.status(), 503);
    // Erasing the account: the account, its evidence and its session stay.
    let citizens_before = app.count_rows("citizens").await;
    let erase = browser.delete(app.url("/api/v1/account")).header("x-csrf-token", &csrf).send().await.unwrap();
    assert_eq!(erase.status(), 503);
    assert_eq!(error_code(erase).await, "audit_unavailable");
    assert_eq!(app.count_rows("citizens").await, citizens_before, "no erasure without its entry");
    assert_eq!(browser.get(app.url("/api/v1/session")).send().await.unwrap().status(), 200);
    // Logging in: no session is created.
    let other = TestApp::browser();
    let login = app.login(&other, "ben", None).await;
    assert_eq!(login.status(), 503);
    assert_eq!(other.get(app.url("/api/v1/session")).send().await.unwrap().status(), 401);

    app.audit_fault.set_failing(false);
    let view = browser.get(app.url(&format!("/api/v1/evidence/{id}"))).send().await.unwrap();
    assert_eq!(view.status(), 200, "works again once the log is back");
    app.stop().await;
}

async fn citizen_sees_every_access_with_a_proof(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = TestApp::browser();
    app.login(&anna, "anna", Some("high")).await;
    let csrf = app.csrf(&anna).await;
    let created: Value = upload_income(&app, &anna, &csrf).await.json().await.unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(anna.get(app.url(&format!("/api/v1/evidence/{id}"))).send().await.unwrap().status(), 200);
    assert_eq!(anna.get(app.url(&format!("/api/v1/evidence/{id}/file"))).send().await.unwrap().status(), 200);
    // Ben probes anna's evidence: refused, and recorded without naming anna.
    let ben = TestApp::browser();
    app.login(&ben, "ben", None).await;
    assert_eq!(ben.get(app.url(&format!("/api/v1/evidence/{id}"))).send().await.unwrap().status(), 404);

    app.state.vault.audit().checkpoint().await.unwrap().expect("a new checkpoint");
    let served = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().text().await.unwrap();
    readme_check_passes_and_catches_a_changed_entry(&served);
    let log: Value = serde_json::from_str(&served).unwrap();
    let (name, public_key) = parse_verifier_key(log["verifier_key"].as_str().unwrap()).unwrap();
    let checkpoint = open_signed(log["checkpoint"].as_str().unwrap(), &name, &public_key).unwrap();
    assert_eq!(checkpoint.size, log["checkpoint_size"].as_u64().unwrap());

    let entries = log["entries"].as_array().unwrap();
    let actions: Vec<&str> = entries.iter().map(|e| e["entry"]["action"].as_str().unwrap()).collect();
    for expected in ["login", "evidence_upload", "evidence_view", "evidence_download"] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    // Newest first.
    let sequences: Vec<u64> = entries.iter().map(|e| e["sequence"].as_u64().unwrap()).collect();
    assert!(sequences.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {sequences:?}");
    for entry in entries {
        let me = entry["entry"]["targets"]["subject"].as_str().unwrap();
        assert_eq!(entry["entry"]["actor"]["kind"], "citizen");
        // Serve what you hash: SHA-256(0x00 ‖ the served bytes) is the leaf,
        // computed here without any of tresor's code.
        let body = entry["body"].as_str().expect("the exact stored bytes");
        let mut hashed = vec![0u8];
        hashed.extend_from_slice(body.as_bytes());
        let leaf = hash_from_hex(entry["leaf_hash"].as_str().unwrap());
        assert_eq!(ring::digest::digest(&ring::digest::SHA256, &hashed).as_ref(), leaf.as_slice());
        assert_eq!(leaf_hash(body.as_bytes()), leaf);
        // The parsed copy is the same entry.
        assert_eq!(serde_json::from_str::<Value>(body).unwrap(), entry["entry"]);
        assert!(!me.is_empty());
        let proof: Vec<Hash> =
            entry["inclusion_proof"].as_array().unwrap().iter().map(|h| hash_from_hex(h.as_str().unwrap())).collect();
        let sequence = entry["sequence"].as_u64().unwrap();
        verify_inclusion(&leaf, sequence, checkpoint.size, &proof, &checkpoint.root).unwrap();
        // A proof for another leaf does not verify.
        let mut other = leaf;
        other[0] ^= 1;
        assert!(verify_inclusion(&other, sequence, checkpoint.size, &proof, &checkpoint.root).is_err());
    }
    // Ben's view of the log has none of anna's entries.
    let ben_log: Value = ben.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    let anna_id = entries[0]["entry"]["targets"]["subject"].as_str().unwrap();
    for entry in ben_log["entries"].as_array().unwrap() {
        assert_ne!(entry["entry"]["targets"]["subject"].as_str(), Some(anna_id));
    }
    // ... but his refused probe, recorded before the refusal was answered.
    let probes = ben_log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["entry"]["action"] == "evidence_view" && entry["entry"]["outcome"] == "refused")
        .count();
    assert_eq!(probes, 1, "{ben_log}");
    // The same log as a page, in plain words, every proof checked.
    let page = anna.get(app.url("/access-log")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Nachweis angesehen") && page.contains("Datei heruntergeladen"), "{page}");
    assert!(page.contains("geprüft"), "proofs are shown as checked");
    assert!(!page.contains("Fehler! Bitte melden Sie das."), "no proof failed");
    let english = anna.get(app.url("/access-log?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(english.contains("Evidence viewed"), "{english}");
    // A page at a time: `before` walks every entry exactly once, newest first.
    let mut walked = Vec::new();
    let mut next = app.url("/api/v1/audit/mine?limit=2");
    loop {
        let page: Value = anna.get(&next).send().await.unwrap().json().await.unwrap();
        let shown = page["entries"].as_array().unwrap();
        assert!(shown.len() <= 2);
        walked.extend(shown.iter().map(|e| e["sequence"].as_u64().unwrap()));
        match page["next_before"].as_u64() {
            Some(before) => next = app.url(&format!("/api/v1/audit/mine?limit=2&before={before}")),
            None => break,
        }
    }
    assert_eq!(walked, sequences, "the pages together are the whole log, newest first");
    let first_page = anna.get(app.url("/access-log?limit=2&lang=de")).send().await.unwrap().text().await.unwrap();
    assert!(first_page.contains(&format!("/access-log?before={}&amp;limit=2", sequences[1])), "{first_page}");
    assert!(first_page.contains("Ältere Einträge"), "{first_page}");
    assert!(first_page.contains("die neuesten zuerst"), "{first_page}");
    // Bad paging values: 400 with a stable code.
    for (query, code) in [
        ("before=abc", "invalid_cursor"),
        ("before=-1", "invalid_cursor"),
        ("limit=0", "invalid_limit"),
        ("limit=1001", "invalid_limit"),
    ] {
        let refused = anna.get(app.url(&format!("/api/v1/audit/mine?{query}"))).send().await.unwrap();
        assert_eq!(refused.status(), 400, "{query}");
        assert_eq!(error_code(refused).await, code, "{query}");
    }
    // Without a session: 401.
    let anonymous = TestApp::browser();
    assert_eq!(anonymous.get(app.url("/api/v1/audit/mine")).send().await.unwrap().status(), 401);
    app.stop().await;
}

/// Without waiting for the periodic checkpoint: asking for the log signs a
/// checkpoint that covers every entry shown, at most once a second; in
/// between, entries without a proof come with `retry_after_seconds`.
async fn proofs_are_signed_on_demand_at_most_once_a_second(backend: Backend) {
    let app = TestApp::start(backend).await;
    let (anna, _csrf, id) = anna_with_evidence(&app).await;
    let all_proven = |log: &Value| log["entries"].as_array().unwrap().iter().all(|e| e["inclusion_proof"].is_array());

    let log: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    assert!(all_proven(&log), "signed on demand: {log}");
    assert!(log["retry_after_seconds"].is_null());
    // New activity within the second: no second checkpoint yet.
    assert_eq!(anna.get(app.url(&format!("/api/v1/evidence/{id}"))).send().await.unwrap().status(), 200);
    let log: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    let newest = &log["entries"][0];
    assert!(newest["inclusion_proof"].is_null(), "{log}");
    assert_eq!(log["retry_after_seconds"], 1, "{log}");
    // After it: a checkpoint covering it, and a proof that verifies.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let log: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    assert!(all_proven(&log), "{log}");
    let (name, public_key) = parse_verifier_key(log["verifier_key"].as_str().unwrap()).unwrap();
    let checkpoint = open_signed(log["checkpoint"].as_str().unwrap(), &name, &public_key).unwrap();
    let newest = &log["entries"][0];
    let proof: Vec<Hash> =
        newest["inclusion_proof"].as_array().unwrap().iter().map(|h| hash_from_hex(h.as_str().unwrap())).collect();
    let leaf = hash_from_hex(newest["leaf_hash"].as_str().unwrap());
    verify_inclusion(&leaf, newest["sequence"].as_u64().unwrap(), checkpoint.size, &proof, &checkpoint.root).unwrap();
    app.stop().await;
}

/// Run `tests/go/tlogcheck` (Go's sumdb/note and sumdb/tlog from Debian's
/// golang-golang-x-mod-dev; `bash .ci/run` installs them) on a served
/// citizen's log; what it printed, on stdout or stderr.
async fn go_tlogcheck(prefix: &str, verifier_key: &str, served: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mine.json");
    std::fs::write(&file, served).unwrap();
    let cache = concat!(env!("CARGO_MANIFEST_DIR"), "/target/go-cache");
    // Async: the vault under test serves Go's tile requests on this runtime.
    let output = tokio::process::Command::new("go")
        .args(["run", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/go/tlogcheck/main.go"), prefix, verifier_key])
        .arg(&file)
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOCACHE", cache)
        .env("GOFLAGS", "")
        .output()
        .await
        .expect("Go is needed for this test: apt-get install golang-go golang-golang-x-mod-dev (bash .ci/run does)");
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// RFC 6962 MTH, written here from the RFC (recursive split at the largest
/// power of two below n), not with tresor's code.
fn independent_root(leaves: &[Hash]) -> Hash {
    let sha = |parts: &[&[u8]]| {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        for part in parts {
            context.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    };
    match leaves.len() {
        0 => sha(&[]),
        1 => leaves[0],
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            sha(&[&[1u8], &independent_root(&leaves[..k]), &independent_root(&leaves[k..])])
        }
    }
}

/// The public tlog-tiles view: the checkpoint file and hash tiles at the
/// C2SP paths; the level-0 tiles are the leaf hashes, the level-1 tile the
/// roots of each 256 leaves, and the leaves rebuild the signed root.
/// Partial tiles of older trees (what a client holding an older checkpoint
/// asks for) are served as the prefix they were. Non-canonical paths, tiles
/// the tree does not have and entry bundles are 404.
async fn tiles_follow_the_c2sp_paths_and_rebuild_the_signed_root(backend: Backend) {
    use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};
    let app = TestApp::start(backend).await;
    let public = TestApp::browser();
    assert_eq!(public.get(app.url("/api/v1/audit/log/tile/0/000.p/1")).send().await.unwrap().status(), 404);
    let (anna, _csrf, evidence) = anna_with_evidence(&app).await;
    let audit = app.state.vault.audit();
    let existing = app.store.audit_size().await.unwrap();
    for n in existing..690 {
        let event = AuditEvent {
            actor: Actor::System,
            action: Action::PolicyLoad,
            targets: Targets { service: Some(format!("s{n}")), ..Targets::default() },
            outcome: Outcome::Success,
            reason: None,
        };
        audit.record(event).await.unwrap();
    }
    // Anna looks again: her newest entries lie beyond the first 512 leaves.
    while app.store.audit_size().await.unwrap() < 700 {
        let view = anna.get(app.url(&format!("/api/v1/evidence/{evidence}"))).send().await.unwrap();
        assert_eq!(view.status(), 200);
    }
    let signed = audit.checkpoint().await.unwrap().expect("a checkpoint");
    assert_eq!(signed.size, 700);

    let note = public.get(app.url("/api/v1/audit/log/checkpoint")).send().await.unwrap();
    assert_eq!(note.status(), 200);
    assert!(note.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let note = note.text().await.unwrap();
    let (name, public_key) = parse_verifier_key(&audit.verifier_key()).unwrap();
    let checkpoint = open_signed(&note, &name, &public_key).unwrap();
    assert_eq!(checkpoint.size, 700);

    let tile = |path: &str| {
        let public = public.clone();
        let url = app.url(&format!("/api/v1/audit/log/tile/{path}"));
        async move {
            let response = public.get(url).send().await.unwrap();
            let status = response.status().as_u16();
            let cache = response.headers().get("cache-control").map(|v| v.to_str().unwrap().to_owned());
            (status, cache, response.bytes().await.unwrap().to_vec())
        }
    };
    // 700 leaves: tiles 0/000 and 0/001 full, 0/002.p/188; level 1: 1/000.p/2.
    let mut leaves: Vec<Hash> = Vec::new();
    for path in ["0/000", "0/001", "0/002.p/188"] {
        let (status, cache, bytes) = tile(path).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(cache.as_deref(), Some("public, max-age=31536000, immutable"));
        leaves.extend(bytes.chunks(32).map(|chunk| <Hash>::try_from(chunk).unwrap()));
    }
    assert_eq!(leaves.len(), 700);
    assert_eq!(leaves, app.store.audit_leaf_hashes(0, 700).await.unwrap(), "level 0 holds the leaf hashes");
    assert_eq!(independent_root(&leaves), checkpoint.root, "the tiles rebuild the signed root");
    let (status, _, level_one) = tile("1/000.p/2").await;
    assert_eq!(status, 200);
    assert_eq!(&level_one[..32], &independent_root(&leaves[..256]));
    assert_eq!(&level_one[32..], &independent_root(&leaves[256..512]));
    // Go's reference code (sumdb/note, sumdb/tlog) reads the same tiles as
    // a tlog-tiles client and checks anna's served log against them.
    let served = anna.get(app.url("/api/v1/audit/mine?limit=1000")).send().await.unwrap().text().await.unwrap();
    let mine: Value = serde_json::from_str(&served).unwrap();
    assert_eq!(mine["checkpoint_size"], 700);
    let said = go_tlogcheck(&app.url("/api/v1/audit/log/"), &audit.verifier_key(), &served).await;
    assert!(said.starts_with(&format!("OK {} entries, tree 700", mine["entries"].as_array().unwrap().len())), "{said}");
    let mut changed: Value = mine.clone();
    let first = &mut changed["entries"][0];
    let body = first["body"].as_str().unwrap().replacen("\"outcome\":\"success\"", "\"outcome\":\"failed\"", 1);
    first["body"] = Value::String(body);
    let said = go_tlogcheck(&app.url("/api/v1/audit/log/"), &audit.verifier_key(), &changed.to_string()).await;
    assert!(said.contains("is not its leaf hash"), "Go's check refuses a changed entry: {said}");
    // Older trees' partial tiles: a prefix of the tile still filling and of
    // a full one, byte for byte what they were.
    for (older, full, width) in
        [("0/002.p/187", "0/002.p/188", 187), ("0/001.p/5", "0/001", 5), ("1/000.p/1", "1/000.p/2", 1)]
    {
        let (status, cache, bytes) = tile(older).await;
        assert_eq!(status, 200, "{older}");
        assert_eq!(cache.as_deref(), Some("public, max-age=31536000, immutable"));
        assert_eq!(bytes, tile(full).await.2[..32 * width], "{older} is the prefix of {full}");
    }
    for missing in [
        "0/002",
        "0/002.p/189",
        "0/003.p/1",
        "1/000",
        "2/000.p/1",
        "0/2",
        "0/x000/000",
        "0/000.p/0",
        "0/000.p/256",
        "entries/000",
        "entries/000.p/5",
        "0/000.p/01",
    ] {
        assert_eq!(tile(missing).await.0, 404, "{missing}");
    }
    app.stop().await;
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await; })*
        }
    };
}

/// After the retention period the entry bodies are gone, but the citizen's
/// entries are still listed and every proof still verifies.
async fn retention_keeps_the_tree_verifiable(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = TestApp::browser();
    app.login(&anna, "anna", Some("high")).await;
    let csrf = app.csrf(&anna).await;
    assert_eq!(upload_income(&app, &anna, &csrf).await.status(), 201);
    app.state.vault.audit().checkpoint().await.unwrap().expect("checkpoint");
    let before: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();

    let now = app.clock.now();
    app.clock.advance(chrono::Duration::days(731));
    tresor::server::sweep_once(&app.state).await;
    // Back to the present (the provider's tokens and the session use real
    // time); new activity makes new entries with bodies.
    app.clock.set(now + chrono::Duration::minutes(1));
    assert_eq!(upload_income(&app, &anna, &csrf).await.status(), 201);
    app.state.vault.audit().checkpoint().await.unwrap().expect("checkpoint after the upload");
    let after: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    let (name, public_key) = parse_verifier_key(after["verifier_key"].as_str().unwrap()).unwrap();
    let checkpoint = open_signed(after["checkpoint"].as_str().unwrap(), &name, &public_key).unwrap();
    let old_count = before["entries"].as_array().unwrap().len();
    let entries = after["entries"].as_array().unwrap();
    assert!(entries.len() > old_count, "old entries are still listed, plus the new upload");
    // Newest first: the new entries, then the old ones.
    let new_count = entries.len() - old_count;
    for (index, entry) in entries.iter().enumerate() {
        if index >= new_count {
            assert!(entry["entry"].is_null(), "the body of an old entry is pruned: {entry}");
            assert!(entry["body"].is_null(), "the body of an old entry is pruned: {entry}");
        } else {
            assert!(!entry["entry"].is_null(), "a new entry keeps its body");
            assert!(entry["body"].is_string(), "a new entry keeps its body");
        }
        let leaf = hash_from_hex(entry["leaf_hash"].as_str().unwrap());
        let proof: Vec<Hash> =
            entry["inclusion_proof"].as_array().unwrap().iter().map(|h| hash_from_hex(h.as_str().unwrap())).collect();
        verify_inclusion(&leaf, entry["sequence"].as_u64().unwrap(), checkpoint.size, &proof, &checkpoint.root)
            .unwrap();
    }
    app.stop().await;
}

/// A checkpoint saved earlier is proven to be a prefix of a later one over
/// HTTP; bad sizes get a clear 400.
async fn consistency_proofs_link_checkpoints(backend: Backend) {
    let app = TestApp::start(backend).await;
    let anna = TestApp::browser();
    app.login(&anna, "anna", Some("high")).await;
    let old = app.state.vault.audit().checkpoint().await.unwrap().expect("first checkpoint");
    let csrf = app.csrf(&anna).await;
    assert_eq!(upload_income(&app, &anna, &csrf).await.status(), 201);
    let new = app.state.vault.audit().checkpoint().await.unwrap().expect("second checkpoint");
    assert!(new.size > old.size);
    let verifier: Value = reqwest::get(app.url("/api/v1/audit/checkpoint")).await.unwrap().json().await.unwrap();
    let (name, key) = parse_verifier_key(verifier["verifier_key"].as_str().unwrap()).unwrap();
    let old_cp = open_signed(&old.note, &name, &key).unwrap();
    let new_cp = open_signed(&new.note, &name, &key).unwrap();

    let body: Value = reqwest::get(app.url(&format!("/api/v1/audit/consistency?old={}", old.size)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["new_size"].as_u64(), Some(new.size));
    let proof: Vec<Hash> =
        body["proof"].as_array().unwrap().iter().map(|h| hash_from_hex(h.as_str().unwrap())).collect();
    tresor::audit::merkle::verify_consistency(old_cp.size, new_cp.size, &old_cp.root, &new_cp.root, &proof).unwrap();
    let mut forged = old_cp.root;
    forged[5] ^= 1;
    assert!(
        tresor::audit::merkle::verify_consistency(old_cp.size, new_cp.size, &forged, &new_cp.root, &proof).is_err()
    );

    for bad in ["old=abc", "old=5&new=2", "old=1&new=999999", "new=3"] {
        let response = reqwest::get(app.url(&format!("/api/v1/audit/consistency?{bad}"))).await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        assert_eq!(error_code(response).await, "invalid_tree_size", "{bad}");
    }
    app.stop().await;
}

/// No request reads the whole log: with 4,000 other entries in the log, a
/// citizen's access log (with a proof for each entry) and a public
/// consistency proof read no leaf hashes and a few tree nodes per proof,
/// counted where the app reads its store.
async fn requests_read_logarithmically_many_hashes(backend: Backend) {
    use std::sync::atomic::Ordering;
    let app = TestApp::start(backend).await;
    let other: Vec<_> = (0..4000)
        .map(|number| {
            let event = tresor::audit::AuditEvent {
                actor: tresor::audit::Actor::System,
                action: tresor::audit::Action::PolicyLoad,
                targets: tresor::audit::Targets { service: Some(format!("s{number}")), ..Default::default() },
                outcome: tresor::audit::Outcome::Success,
                reason: None,
            };
            (app.clock.now(), event)
        })
        .collect();
    tresor::audit::append::append_events(app.store.as_ref(), &other).await.unwrap();
    let (anna, _, _) = anna_with_evidence(&app).await;
    let old = app.state.vault.audit().checkpoint().await.unwrap().expect("a checkpoint");
    // The checkpointer stored the tree once; requests read from it.
    app.audit_fault.leaves_read.store(0, Ordering::SeqCst);
    app.audit_fault.nodes_read.store(0, Ordering::SeqCst);
    let log: Value = anna.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    let shown = log["entries"].as_array().unwrap().len() as u64;
    assert!(shown >= 2, "{log}");
    let size = app.state.vault.audit_size().await.unwrap();
    let depth = u64::from(64 - size.leading_zeros());
    let (leaves, nodes) =
        (app.audit_fault.leaves_read.load(Ordering::SeqCst), app.audit_fault.nodes_read.load(Ordering::SeqCst));
    assert_eq!(leaves, 0, "the citizen's log read leaf hashes");
    assert!(nodes <= shown * 2 * depth, "{nodes} nodes for {shown} proofs in a log of {size}");
    let consistency =
        reqwest::get(app.url(&format!("/api/v1/audit/consistency?old=100&new={}", old.size))).await.unwrap();
    assert_eq!(consistency.status(), 200);
    let (leaves, nodes) =
        (app.audit_fault.leaves_read.load(Ordering::SeqCst), app.audit_fault.nodes_read.load(Ordering::SeqCst));
    assert_eq!(leaves, 0, "a consistency proof read leaf hashes");
    assert!(nodes <= shown * 2 * depth + 2 * depth, "{nodes} nodes in all");
    app.stop().await;
}

on_both_backends!(
    tiles_follow_the_c2sp_paths_and_rebuild_the_signed_root,
    fail_closed,
    citizen_sees_every_access_with_a_proof,
    proofs_are_signed_on_demand_at_most_once_a_second,
    retention_keeps_the_tree_verifiable,
    consistency_proofs_link_checkpoints,
    requests_read_logarithmically_many_hashes
);

/// The README's independent check (Python 3 and OpenSSL, nothing of
/// tresor's), run exactly as written on the served log; then on a copy
/// with one entry's text changed, which it must refuse.
fn readme_check_passes_and_catches_a_changed_entry(served: &str) {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = readme.split("### Checking an audit proof yourself").nth(1).expect("the README section");
    let section = section.split("\n## ").next().unwrap();
    let blocks: Vec<&str> = section.split("```sh\n").skip(1).map(|rest| rest.split("```").next().unwrap()).collect();
    assert_eq!(blocks.len(), 2, "the check is two shell blocks");
    let run = |dir: &std::path::Path, block: &str| {
        std::process::Command::new("bash")
            .arg("-euo")
            .arg("pipefail")
            .arg("-c")
            .arg(block)
            .current_dir(dir)
            .output()
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.json"), served).unwrap();
    let hashes = run(dir.path(), blocks[0]);
    let said = String::from_utf8_lossy(&hashes.stdout);
    assert!(hashes.status.success(), "{said} {}", String::from_utf8_lossy(&hashes.stderr));
    assert!(said.contains("entries match their leaf hashes"), "{said}");
    let signature = run(dir.path(), blocks[1]);
    let said = String::from_utf8_lossy(&signature.stdout);
    assert!(signature.status.success(), "{said} {}", String::from_utf8_lossy(&signature.stderr));
    assert!(said.contains("Signature Verified Successfully"), "{said}");

    // One character of one entry changed: refused, naming the entry.
    let mut log: Value = serde_json::from_str(served).unwrap();
    let first = &mut log["entries"][0];
    let changed = first["body"].as_str().unwrap().replacen("\"outcome\":\"success\"", "\"outcome\":\"refused\"", 1);
    assert_ne!(changed, first["body"].as_str().unwrap());
    first["body"] = Value::String(changed);
    let sequence = first["sequence"].as_u64().unwrap();
    let tampered = tempfile::tempdir().unwrap();
    std::fs::write(tampered.path().join("mine.json"), log.to_string()).unwrap();
    let refused = run(tampered.path(), blocks[0]);
    assert!(!refused.status.success(), "a changed entry must not pass");
    assert!(String::from_utf8_lossy(&refused.stderr).contains(&format!("AssertionError: {sequence}")));
    // A note signed by another key does not verify.
    std::fs::write(dir.path().join("note.txt"), b"other.example/log\n1\nAAAA\n").unwrap();
    assert!(!run(dir.path(), blocks[1]).status.success(), "another text must not verify");
}
