//! Witnesses end to end: two `tresor witness serve` processes (the real
//! binary, over HTTP) cosign the vault's checkpoints; a second vault with the
//! same key and a different history (a restored old backup, then a
//! rewritten one) is refused by the witness and reports a rollback and a
//! fork; `tresor audit verify --witness-key --witness-url` tells the honest
//! log from the rolled-back one. Run on SQLite and PostgreSQL.

use std::process::Stdio;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, BufReader};
use tresor::audit::checkpoint::{open_signed, verifier_key};
use tresor::audit::cosignature::{CosignerKey, verify_cosignature};
use tresor::audit::service::Audit;
use tresor::audit::witnessing::{WitnessProblem, Witnesses};
use tresor::audit::{Action, Actor, AuditEvent, Outcome, Targets};
use tresor::clock::SystemClock;
use tresor::config::WitnessConfig;
use tresor::crypto::{FileKeyProvider, KeyProvider};
use tresor::store::Store;

const ORIGIN: &str = "vault.witness-test.example/audit";

/// A `tresor witness serve` child process on a free port.
pub struct WitnessProcess {
    pub url: String,
    pub key: CosignerKey,
    _child: tokio::process::Child,
    _directory: tempfile::TempDir,
}

impl WitnessProcess {
    /// Generate a key named `name` and serve for the logs `log_keys`.
    pub async fn start(name: &str, log_keys: &[String]) -> Self {
        let directory = tempfile::tempdir().unwrap();
        let key_file = directory.path().join("witness.key");
        let keygen = tokio::process::Command::new(env!("CARGO_BIN_EXE_tresor"))
            .args(["witness", "keygen", "--name", name, "--key", key_file.to_str().unwrap()])
            .current_dir(directory.path())
            .env_clear()
            .output()
            .await
            .unwrap();
        let printed = String::from_utf8_lossy(&keygen.stdout).to_string();
        assert!(keygen.status.success(), "keygen: {printed} {}", String::from_utf8_lossy(&keygen.stderr));
        let key = CosignerKey::parse(printed.lines().last().unwrap()).expect("keygen prints the verifier key last");
        let mut serve = tokio::process::Command::new(env!("CARGO_BIN_EXE_tresor"));
        serve
            .args(["witness", "serve", "--listen", "127.0.0.1:0", "--key", key_file.to_str().unwrap()])
            .args(["--state", directory.path().join("state.sqlite").to_str().unwrap()])
            .current_dir(directory.path())
            .env_clear()
            .env("TRESOR_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for log_key in log_keys {
            serve.args(["--log", log_key]);
        }
        let mut child = serve.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next_line().await.unwrap().expect("the witness prints its address");
            if let Some(address) = line.strip_prefix("tresor witness listening on ") {
                break address.to_owned();
            }
        };
        WitnessProcess { url, key, _child: child, _directory: directory }
    }

    pub fn config(&self) -> WitnessConfig {
        WitnessConfig { url: self.url.clone(), key: self.key.verifier_key() }
    }

    /// `GET /<origin hash>/checkpoint`: (status, body).
    pub async fn latest(&self, origin: &str) -> (u16, String) {
        let url = format!("{}/{}/checkpoint", self.url, tresor::witness::origin_hash_hex(origin));
        let response = reqwest::get(url).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

fn event(reason: &str) -> AuditEvent {
    AuditEvent {
        actor: Actor::System,
        action: Action::PolicyLoad,
        targets: Targets::default(),
        outcome: Outcome::Success,
        reason: Some(reason.to_owned()),
    }
}

fn vault_audit(
    store: Arc<dyn Store>,
    keys: Arc<FileKeyProvider>,
    witnesses: &[&WitnessProcess],
    quorum: usize,
) -> Arc<Audit> {
    let configs: Vec<WitnessConfig> = witnesses.iter().map(|witness| witness.config()).collect();
    Audit::start_witnessed(
        store,
        keys,
        Arc::new(SystemClock),
        ORIGIN.to_owned(),
        u64::MAX,
        Witnesses::new(&configs, quorum).unwrap(),
    )
}

async fn append(audit: &Arc<Audit>, count: usize, reason: &str) {
    for _ in 0..count {
        audit.record(event(reason)).await.unwrap();
    }
}

fn problem_of(audit: &Audit, witness: &WitnessProcess) -> Option<WitnessProblem> {
    audit.witness_status().into_iter().find(|status| status.name == witness.key.name).unwrap().problem
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (first_dir, first) = crate::support::postgres::sqlite_store().await;
                    let (second_dir, second) = crate::support::postgres::sqlite_store().await;
                    let urls = [&first_dir, &second_dir]
                        .map(|dir| format!("sqlite://{}", crate::support::postgres::sqlite_path(dir).display()));
                    super::$case([first, second], urls).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (first_db, first) = crate::support::postgres::postgres_store().await;
                    let (second_db, second) = crate::support::postgres::postgres_store().await;
                    let urls = [first_db.url.clone(), second_db.url.clone()];
                    super::$case([first, second], urls).await;
                    first_db.drop_database().await;
                    second_db.drop_database().await;
                }
            )*
        }
    };
}

on_both_backends!(two_witnesses_cosign_and_refuse_a_rollback_and_a_fork);

async fn two_witnesses_cosign_and_refuse_a_rollback_and_a_fork(stores: [Arc<dyn Store>; 2], urls: [String; 2]) {
    let [honest_store, restored_store] = stores;
    let keys = Arc::new(FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).unwrap());
    let log_key = verifier_key(ORIGIN, &keys.signing_key().public_key());
    let first = WitnessProcess::start("witness-one.example/w", std::slice::from_ref(&log_key)).await;
    let second = WitnessProcess::start("witness-two.example/w", std::slice::from_ref(&log_key)).await;
    let (_, public_key) = tresor::audit::checkpoint::parse_verifier_key(&log_key).unwrap();

    // The honest log: both witnesses cosign every checkpoint (quorum 2).
    let honest = vault_audit(honest_store.clone(), keys.clone(), &[&first, &second], 2);
    assert_eq!(honest.trusted_checkpoint().await.unwrap(), None, "nothing witnessed yet");
    append(&honest, 5, "honest").await;
    honest.checkpoint().await.unwrap();
    append(&honest, 4, "honest").await;
    honest.checkpoint().await.unwrap();
    for status in honest.witness_status() {
        assert_eq!((status.cosigned_size, status.problem), (Some(9), None), "{}", status.name);
    }
    let witnessed = honest.trusted_checkpoint().await.unwrap().expect("witnessed");
    assert_eq!(witnessed.size, 9);
    assert_eq!(open_signed(&witnessed.note, ORIGIN, &public_key).unwrap().size, 9);
    for witness in [&first, &second] {
        assert!(verify_cosignature(&witnessed.note, &witness.key).is_ok(), "{} cosigned", witness.key.name);
        let (status, latest) = witness.latest(ORIGIN).await;
        assert_eq!(status, 200);
        assert!(latest.starts_with(&format!("{ORIGIN}\n9\n")), "{latest}");
        assert!(verify_cosignature(&latest, &witness.key).is_ok());
    }
    // The cosignatures were stored: a new process finds the witnessed checkpoint.
    let restarted = vault_audit(honest_store.clone(), keys.clone(), &[&first, &second], 2);
    assert_eq!(restarted.trusted_checkpoint().await.unwrap(), Some(witnessed.clone()));

    // An old backup restored (same key, a shorter history): the witness has
    // seen 9 entries, this log has 3.
    let restored = vault_audit(restored_store.clone(), keys.clone(), &[&first], 1);
    append(&restored, 3, "restored").await;
    restored.checkpoint().await.unwrap();
    assert_eq!(problem_of(&restored, &first), Some(WitnessProblem::Rollback { witness_size: 9, log_size: 3 }));
    assert_eq!(restored.trusted_checkpoint().await.unwrap(), None, "a refused checkpoint is not trusted");
    // It grows past the witnessed size with another history: a fork.
    append(&restored, 10, "restored").await;
    restored.checkpoint().await.unwrap();
    assert_eq!(problem_of(&restored, &first), Some(WitnessProblem::Fork { old_size: 9, size: 13 }));
    let status = restored.witness_status().into_iter().next().unwrap();
    assert_eq!(status.security_refusals, 2);
    assert_eq!(status.cosigned_size, Some(9), "what the witness said it has");
    assert_eq!(restored_store.cosignatures(13).await.unwrap(), vec![], "nothing cosigned");

    // The witness kept the honest history and goes on with it.
    append(&honest, 2, "honest").await;
    honest.checkpoint().await.unwrap();
    assert_eq!(honest.trusted_checkpoint().await.unwrap().unwrap().size, 11);
    assert!(first.latest(ORIGIN).await.1.starts_with(&format!("{ORIGIN}\n11\n")));

    // `tresor audit verify` with the witness: the honest log passes, the
    // restored one fails (the witness's checkpoint is not in it).
    let directory = tempfile::tempdir().unwrap();
    let key_file = directory.path().join("log-key.txt");
    std::fs::write(&key_file, &log_key).unwrap();
    let verify = |database_url: &str, witness: &WitnessProcess, with_url: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tresor"));
        command
            .args(["audit", "verify", "--public-key", key_file.to_str().unwrap()])
            .args(["--witness-key", &witness.key.verifier_key()])
            .env_clear()
            .env("TRESOR_DATABASE_URL", database_url)
            .current_dir(directory.path());
        if with_url {
            command.args(["--witness-url", &witness.url]);
        }
        command.output().unwrap()
    };
    // The witness is another process: blocking on the CLI here stalls nothing it needs.
    let output = verify(&urls[0], &first, true);
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("OK: the log contains the newest checkpoint the witness cosigned"), "{stdout}");
    assert!(stdout.contains("OK: witness witness-one.example/w cosigned the checkpoint at size 11"), "{stdout}");
    let output = verify(&urls[1], &first, true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the saved checkpoint at size 11 is not a prefix of this log"), "{stderr}");
    // Without asking the witness: the restored log has no cosignature by it.
    let output = verify(&urls[1], &second, false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no stored checkpoint is cosigned by witness witness-two.example/w"), "{stderr}");
}

// --- the vault over HTTP -------------------------------------------------------------------

async fn witnessed_app(
    backend: crate::support::app::Backend,
    keys: Arc<FileKeyProvider>,
    witness: &WitnessProcess,
    policies: &tempfile::TempDir,
) -> crate::support::app::TestApp {
    crate::support::app::TestApp::start_with(crate::support::app::TestAppOptions {
        staff_issuer: true,
        policy_dir: Some(policies.path().to_owned()),
        keys: Some(keys),
        audit_origin: Some(ORIGIN.to_owned()),
        witnesses: vec![witness.config()],
        witness_quorum: Some(1),
        ..crate::support::app::TestAppOptions::new(backend)
    })
    .await
}

/// A citizen's proofs go to a checkpoint the witness cosigned; a vault
/// whose log was rolled back gives none and shows the DPO why.
async fn citizens_get_witnessed_proofs_and_dpos_see_a_rollback(backend: fn() -> crate::support::app::Backend) {
    let keys = Arc::new(FileKeyProvider::ephemeral(&ring::rand::SystemRandom::new()).unwrap());
    let log_key = verifier_key(ORIGIN, &keys.signing_key().public_key());
    let witness = WitnessProcess::start("witness.lfd.example/tresor", std::slice::from_ref(&log_key)).await;
    let policies = crate::dpo::policy_dir();
    let (_, public_key) = tresor::audit::checkpoint::parse_verifier_key(&log_key).unwrap();

    let app = witnessed_app(backend(), keys.clone(), &witness, &policies).await;
    let anna = app.log_in_citizen("anna", "substantial").await;
    let log: serde_json::Value =
        anna.browser.get(app.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    let note = log["checkpoint"].as_str().expect("a witnessed checkpoint, signed on demand");
    let checkpoint = open_signed(note, ORIGIN, &public_key).unwrap();
    assert!(verify_cosignature(note, &witness.key).is_ok(), "the checkpoint carries the witness's cosignature");
    assert!(log["retry_after_seconds"].is_null(), "{log}");
    for entry in log["entries"].as_array().unwrap() {
        let proof: Vec<[u8; 32]> = entry["inclusion_proof"]
            .as_array()
            .expect("every entry has a proof")
            .iter()
            .map(|hash| hex::decode(hash.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        let leaf: [u8; 32] = hex::decode(entry["leaf_hash"].as_str().unwrap()).unwrap().try_into().unwrap();
        let index = entry["sequence"].as_u64().unwrap();
        tresor::audit::merkle::verify_inclusion(&leaf, index, checkpoint.size, &proof, &checkpoint.root).unwrap();
    }
    // The public checkpoint carries the cosignature too.
    let public = reqwest::get(app.url("/api/v1/audit/log/checkpoint")).await.unwrap().text().await.unwrap();
    assert!(verify_cosignature(&public, &witness.key).is_ok(), "{public}");
    let dpo = crate::support::app::TestApp::browser();
    app.staff_login(&dpo, crate::dpo::DPO).await;
    let witnesses: serde_json::Value =
        dpo.get(app.url("/api/v1/dpo/witnesses")).send().await.unwrap().json().await.unwrap();
    assert_eq!(witnesses["quorum"], 1);
    assert!(witnesses["witnesses"][0]["cosigned_size"].as_u64().unwrap() >= checkpoint.size, "{witnesses}");
    assert!(witnesses["witnesses"][0]["problem"].is_null(), "{witnesses}");
    let page = dpo.get(app.url("/dpo/verify?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Witness witness.lfd.example/tresor cosigned the checkpoint over"), "{page}");
    // The DPO's views were logged: the witness cosigns a larger log.
    app.state.vault.audit().checkpoint().await.unwrap();
    let witnessed_size = app.state.vault.audit().witness_status()[0].cosigned_size.unwrap();
    assert!(witnessed_size > checkpoint.size + 1, "{witnessed_size}");
    app.stop().await;

    // The same vault from an empty database (a lost log, an old backup):
    // the witness refuses, nothing is proven against the refused checkpoint.
    let restored = witnessed_app(backend(), keys, &witness, &policies).await;
    let anna = restored.log_in_citizen("anna", "substantial").await;
    let log: serde_json::Value =
        anna.browser.get(restored.url("/api/v1/audit/mine")).send().await.unwrap().json().await.unwrap();
    assert!(log["checkpoint"].is_null(), "{log}");
    assert!(log["retry_after_seconds"].is_u64(), "{log}");
    assert!(log["entries"].as_array().unwrap().iter().all(|entry| entry["inclusion_proof"].is_null()), "{log}");
    let dpo = crate::support::app::TestApp::browser();
    restored.staff_login(&dpo, crate::dpo::DPO).await;
    let witnesses: serde_json::Value =
        dpo.get(restored.url("/api/v1/dpo/witnesses")).send().await.unwrap().json().await.unwrap();
    let problem = &witnesses["witnesses"][0]["problem"];
    assert_eq!(problem["kind"], "rollback", "{witnesses}");
    assert_eq!(problem["witness_size"].as_u64(), Some(witnessed_size), "{witnesses}");
    let page = dpo.get(restored.url("/dpo/verify?lang=en")).send().await.unwrap().text().await.unwrap();
    assert!(
        page.contains(&format!("Witness witness.lfd.example/tresor has already seen {witnessed_size} entries")),
        "{page}"
    );
    assert!(page.contains("role=\"alert\""), "the rollback is a problem on the page");
    restored.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_citizens_get_witnessed_proofs_and_dpos_see_a_rollback() {
    citizens_get_witnessed_proofs_and_dpos_see_a_rollback(|| crate::support::app::Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_citizens_get_witnessed_proofs_and_dpos_see_a_rollback() {
    citizens_get_witnessed_proofs_and_dpos_see_a_rollback(|| crate::support::app::Backend::Postgres).await;
}

// --- the witness's answers to bad input ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_witness_answers_bad_input_with_the_protocols_statuses_and_stores_nothing() {
    let log = tresor::crypto::SigningKey::from_seed(&[3u8; 32]).unwrap();
    let log_key = verifier_key(ORIGIN, &log.public_key());
    let witness = WitnessProcess::start("witness.example/bad-input", std::slice::from_ref(&log_key)).await;
    let http = reqwest::Client::new();
    let post = |body: Vec<u8>| {
        let request = http.post(format!("{}/add-checkpoint", witness.url)).body(body);
        async move {
            let response = request.send().await.unwrap();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (response.status().as_u16(), content_type, response.text().await.unwrap())
        }
    };
    let leaves: Vec<[u8; 32]> = (0..4u8).map(|index| tresor::audit::merkle::leaf_hash(&[index])).collect();
    let checkpoint = |size: usize, key: &tresor::crypto::SigningKey, origin: &str| {
        tresor::audit::checkpoint::Checkpoint {
            origin: origin.to_owned(),
            size: size as u64,
            root: tresor::audit::merkle::root(&leaves[..size]),
        }
        .sign(origin, key)
        .expect("sign")
    };
    let good = checkpoint(3, &log, ORIGIN);
    let other_key = tresor::crypto::SigningKey::from_seed(&[4u8; 32]).unwrap();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("not UTF-8", vec![0xff, 0xfe, b'\n'], 400),
        ("no old line", good.clone().into_bytes(), 400),
        ("old with a leading zero", format!("old 00\n\n{good}").into_bytes(), 400),
        ("a proof line that is no hash", format!("old 0\nAAAA\n\n{good}").into_bytes(), 400),
        ("a malformed note", "old 0\n\nno signature here\n".as_bytes().to_vec(), 400),
        ("old larger than the size", format!("old 4\n\n{good}").into_bytes(), 400),
        ("an unknown origin", format!("old 0\n\n{}", checkpoint(3, &log, "other.example/log")).into_bytes(), 404),
        ("another key", format!("old 0\n\n{}", checkpoint(3, &other_key, ORIGIN)).into_bytes(), 403),
        ("a changed size", format!("old 0\n\n{}", good.replacen("\n3\n", "\n2\n", 1)).into_bytes(), 403),
        ("a proof from size 0", format!("old 0\n{}\n\n{good}", base64_hash(&leaves[0])).into_bytes(), 422),
        ("too large", format!("old 0\n\n{good}{}", "x".repeat(70 * 1024)).into_bytes(), 413),
    ];
    for (what, body, status) in cases {
        let (got, _, text) = post(body).await;
        assert_eq!(got, status, "{what}: {text}");
    }
    assert_eq!(witness.latest(ORIGIN).await.0, 404, "nothing was stored");

    // A good first checkpoint, then a wrong old size (409 with the size)
    // and a bad consistency proof (422).
    let (status, _, cosignature) = post(format!("old 0\n\n{good}").into_bytes()).await;
    assert_eq!(status, 200, "{cosignature}");
    assert!(verify_cosignature(&format!("{good}{cosignature}"), &witness.key).is_ok());
    let newer = checkpoint(4, &log, ORIGIN);
    let (status, content_type, body) = post(format!("old 2\n\n{newer}").into_bytes()).await;
    assert_eq!((status, content_type.as_str(), body.as_str()), (409, "text/x.tlog.size", "3\n"));
    let wrong_proof = format!("old 3\n{}\n\n{newer}", base64_hash(&leaves[0]));
    assert_eq!(post(wrong_proof.into_bytes()).await.0, 422);
    assert!(witness.latest(ORIGIN).await.1.starts_with(&format!("{ORIGIN}\n3\n")), "still the first checkpoint");
}

fn base64_hash(hash: &[u8; 32]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(hash)
}
